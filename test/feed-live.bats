#!/usr/bin/env bats
# The live transport (common/wsfeed.h, common/rest.h) alone, through
# test/feed-client, against test/feed-server on 127.0.0.1: every frame
# once and in order, drops and reconnects, a malformed frame, a server that
# never answers, pings, the renewal of a connection, the REST snapshot.

load test_helper

CAP="$DATA/binance-futures_BTCUSDT_2024-08-08_raw_capture_head300.txt.gz"
NFRAMES=299	# the capture's 300 lines less the REST snapshot

# the client: capture lines "<recv ns> <message>" and "# EVENT" lines
client() {
	$T "$BUILD/test/feed-client/feed-client" "$@"
}

# start_server OPTION...: test/feed-server replaying CAP on 127.0.0.1, its
# port in PORT, its events in the file log
start_server() {
	rm -f port
	"$TOP/test/feed-server" --port-file port --log log "$@" "$CAP" 3>&- &
	SERVER=$!
	until_ok test -s port
	PORT=$(cat port)
	URL="ws://127.0.0.1:$PORT/stream?streams=btcusdt@depth@0ms/btcusdt@trade/btcusdt@bookTicker"
}

# cert NAME SAN: a self-signed certificate NAME.pem (its key NAME.key) for SAN
cert() {
	openssl req -x509 -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.pem" -days 2 \
		-subj "/CN=chr-test" -addext "subjectAltName=$2" 2>/dev/null
}

# the frames the server sends, one a line
frames() {
	zcat "$CAP" | grep -v lastUpdateId | cut -d' ' -f2-
}

# the messages of the client's output, without receive times and events
messages() {
	grep -v '^#' "$1" | cut -d' ' -f2-
}

teardown() {
	if [ -n "${SERVER-}" ]; then
		kill "$SERVER" 2>/dev/null
		wait "$SERVER" 2>/dev/null
	fi
	local p
	for p in $(jobs -p); do
		kill -KILL "$p" 2>/dev/null
	done
	return 0
}

@test "every frame arrives once, in order, with a receive time" {
	start_server
	client --count $NFRAMES "$URL" >out
	[ "$(head -1 out)" = "# UP conn 1" ]
	[ "$(grep -c '^#' out)" = 1 ]
	frames >want
	messages out >got
	cmp want got
	# receive times: ns of the real clock, never going back
	grep -v '^#' out | cut -d' ' -f1 | python3 -c '
import sys, time
ts = [int(l) for l in sys.stdin]
assert all(a <= b for a, b in zip(ts, ts[1:])), "receive times go back"
assert abs(ts[0] - time.time_ns()) < 3600 * 10**9, ts[0]'
	run -0 cat log
	[ "${lines[0]}" = "connect 1 /stream?streams=btcusdt@depth@0ms/btcusdt@trade/btcusdt@bookTicker" ]
}

@test "a dropped connection is reported, then a reconnect goes on" {
	start_server --drop-after 100
	client --count $NFRAMES "$URL" >out
	run -0 grep '^#' out
	[ "${#lines[@]}" = 3 ]
	[ "${lines[0]}" = "# UP conn 1" ]
	[[ "${lines[1]}" == "# DOWN conn 1: "* ]]
	[ "${lines[2]}" = "# UP conn 2" ]
	# the events stand where they happened: 100 messages, then the drop
	[ "$(sed -n 102p out)" = "# DOWN conn 1: ${lines[1]#\# DOWN conn 1: }" ]
	# the server went on from the frame it had not sent
	frames >want
	messages out >got
	cmp want got
	run -0 grep -c '^connect' log
	[ "$output" = 2 ]
}

@test "frames lost while disconnected are missing, not made up" {
	start_server --drop-after 50 --drop-after 120 --skip 10
	client --count $((NFRAMES - 20)) "$URL" >out
	run -0 grep -c '^# DOWN' out
	[ "$output" = 2 ]
	frames | sed '51,60d; 131,140d' >want
	messages out >got
	cmp want got
}

@test "a close by the server is reported with its code, then a reconnect" {
	start_server --close-at-end
	# after the close, the next connection brings nothing: silent, twice
	run -3 --separate-stderr client --silence 300 --backoff 10,10 --max-attempts 2 "$URL"
	[ "${lines[0]}" = "# UP conn 1" ]
	[ "${lines[$((NFRAMES + 1))]}" = "# DOWN conn 1: closed by the server (1000)" ]
	[[ "${lines[$((NFRAMES + 2))]}" =~ ^"# RETRY conn 2 attempt 1 in 10 ms: silent for "[0-9]+" ms"$ ]]
	[[ "$stderr" =~ "(2 attempts): silent for "[0-9]+" ms"$ ]]
	frames >want
	printf '%s\n' "${lines[@]}" >out
	messages out >got
	cmp want got
}

@test "a server gone silent mid-stream: the connection is dropped, then a reconnect" {
	start_server --stall-at 40
	client --silence 500 --count $NFRAMES "$URL" >out
	run -0 grep '^#' out
	[ "${#lines[@]}" = 3 ]
	[ "${lines[0]}" = "# UP conn 1" ]
	[[ "${lines[1]}" =~ ^"# DOWN conn 1: silent for "[0-9]+" ms"$ ]]
	[ "${lines[2]}" = "# UP conn 2" ]
	[ "$(sed -n 42p out)" = "${lines[1]}" ]
	frames >want
	messages out >got
	cmp want got
}

@test "fragmented messages are put together" {
	start_server --fragment 100
	client --count $NFRAMES "$URL" >out
	frames >want
	messages out >got
	cmp want got
	# and messages of several MB in one frame, larger than any read
	zcat "$CAP" | python3 -c '
import sys
for i, l in enumerate(sys.stdin):
    ns, msg = l.rstrip("\n").split(" ", 1)
    print(ns, msg if i % 50 else "[" + ",".join([msg] * 100) + "]")' | gzip >big.gz
	kill "$SERVER"
	wait "$SERVER" || true
	CAP=big.gz start_server
	client --count $NFRAMES "$URL" >out
	zcat big.gz | grep -v '^[0-9]* {"lastUpdateId"' | cut -d' ' -f2- >want
	messages out >got
	cmp want got
}

@test "a malformed frame is delivered as it came" {
	start_server --bad-at 5
	client --count $NFRAMES "$URL" >out
	frames >want
	messages out >got
	[ "$(wc -l <got)" = $NFRAMES ]
	sed -n 6p want | python3 -c 'import sys; l = sys.stdin.read().rstrip("\n"); print(l[:len(l.encode()) // 2])' >half
	sed -n 6p got >got6
	cmp half got6
	diff <(sed 6d want) <(sed 6d got)
	run -0 grep -c '^#' out
	[ "$output" = 1 ]
}

@test "a server that never answers: silence, then attempts with a backoff, capped" {
	start_server --mute
	run -3 --separate-stderr client --silence 300 --backoff 100,400 --max-attempts 4 "$URL"
	[ "${#lines[@]}" = 4 ]
	[[ "${lines[0]}" =~ ^"# RETRY conn 1 attempt 1 in 100 ms: no answer for "[0-9]+" ms"$ ]]
	[[ "${lines[1]}" =~ ^"# RETRY conn 2 attempt 2 in 200 ms: no answer for "[0-9]+" ms"$ ]]
	[[ "${lines[2]}" =~ ^"# RETRY conn 3 attempt 3 in 400 ms: no answer for "[0-9]+" ms"$ ]]
	[[ "${lines[3]}" =~ ^"# RETRY conn 4 attempt 4 in 400 ms: no answer for "[0-9]+" ms"$ ]]
	[[ "$stderr" =~ "feed-client: cannot connect to '$URL' (4 attempts): no answer for "[0-9]+" ms"$ ]]
	# every attempt reached the server, which said nothing
	until_ok grep -q '^mute 4$' log
	run -1 grep '^connect' log
	# a REST GET that gets no answer ends at its timeout
	run -3 --separate-stderr client --get --timeout 300 "http://127.0.0.1:$PORT/fapi/v1/depth?symbol=BTCUSDT"
	[[ "$stderr" == "feed-client: GET 'http://127.0.0.1:$PORT/fapi/v1/depth?symbol=BTCUSDT': Timeout was reached"* ]]
}

@test "a slow server is no silent one" {
	start_server --delay-ms 100
	client --silence 2000 --count 5 "$URL" >out
	run -0 grep '^#' out
	[ "$output" = "# UP conn 1" ]
	frames | head -5 >want
	messages out >got
	cmp want got
}

@test "pings are answered" {
	start_server --ping-every 0.2 --delay-ms 10
	client --count $NFRAMES "$URL" >out
	run -0 grep '^pong 1 1$' log
	frames >want
	messages out >got
	cmp want got
}

@test "a connection renewed before its maximum age: overlap, then a seamless switch" {
	start_server --delay-ms 5
	client --max-age 400 --count $NFRAMES "$URL" >out
	run -0 grep '^#' out
	[ "${lines[0]}" = "# UP conn 1" ]
	[ "${lines[1]}" = "# RENEWED conn 2 seamless" ]
	run -1 grep -e 'not seamless' -e DOWN out
	# no message lost nor repeated across the switches
	frames >want
	messages out >got
	cmp want got
	run -0 grep -c '^connect' log
	[ "$output" -ge 2 ]
}

@test "a renewal with no message in common: switched all the same, and said so" {
	# the old connection goes quiet when the new one comes: no seam
	start_server --solo --delay-ms 5
	client --max-age 400 --silence 500 --overlap 200 --count $NFRAMES "$URL" >out
	run -0 grep '^#' out
	[ "${lines[0]}" = "# UP conn 1" ]
	# the old connection's silence or the overlap's end, whichever first
	[[ "${lines[1]}" =~ ^"# RENEWED conn 2 not seamless: "("the old connection ended before the seam"|"no message of both connections within the overlap")$ ]]
	run -1 grep -e ' seamless$' -e DOWN out
	# what the new connection brought while held is delivered after it
	frames >want
	messages out >got
	cmp want got
}

@test "the REST GET returns the snapshot body; an error status is an error" {
	start_server
	client --get "http://127.0.0.1:$PORT/fapi/v1/depth?symbol=BTCUSDT&limit=1000" >out
	zcat "$CAP" | grep lastUpdateId | cut -d' ' -f2- >want
	cut -d' ' -f2- out >got
	cmp want got
	[[ "$(cut -d' ' -f1 out)" =~ ^[0-9]{19}$ ]]
	run -0 grep '^rest /fapi/v1/depth?symbol=BTCUSDT&limit=1000$' log
	run -3 --separate-stderr client --get "http://127.0.0.1:$PORT/nowhere"
	[ "$stderr" = "feed-client: GET 'http://127.0.0.1:$PORT/nowhere': HTTP 404: {\"code\":-1,\"msg\":\"not found\"}" ]
}

@test "wss:// and https:// with a certificate trusted; refused when not, or not for the host" {
	cert ok IP:127.0.0.1
	cert other DNS:other.invalid
	start_server --tls ok.pem ok.key
	client --ca ok.pem --count $NFRAMES "wss://127.0.0.1:$PORT/ws" >out
	frames >want
	messages out >got
	cmp want got
	client --get --ca ok.pem "https://127.0.0.1:$PORT/fapi/v1/depth?symbol=BTCUSDT" >out
	zcat "$CAP" | grep lastUpdateId | cut -d' ' -f2- >want
	cut -d' ' -f2- out >got
	cmp want got
	# the system's CAs do not know it; another certificate is not for 127.0.0.1
	for ca in "" --ca=other.pem; do
		run -3 --separate-stderr client $ca --max-attempts 1 "wss://127.0.0.1:$PORT/ws"
		[[ "$stderr" == *"cannot connect to 'wss://127.0.0.1:$PORT/ws' (1 attempts): cannot connect: "*SSL* ]]
		run -3 --separate-stderr client --get $ca "https://127.0.0.1:$PORT/x"
		[ "$stderr" = "feed-client: GET 'https://127.0.0.1:$PORT/x': SSL peer certificate or SSH remote key was not OK" ]
	done
}

@test "an unreachable port is a clear error" {
	start_server
	kill "$SERVER"
	wait "$SERVER" || true
	SERVER=
	run -3 --separate-stderr client --backoff 10,20 --max-attempts 2 "ws://127.0.0.1:$PORT/ws"
	[[ "${lines[0]}" == "# RETRY conn 1 attempt 1 in 10 ms: cannot connect: "* ]]
	[[ "$stderr" == *"feed-client: cannot connect to 'ws://127.0.0.1:$PORT/ws' (2 attempts): cannot connect: "* ]]
	run -3 --separate-stderr client --get "http://127.0.0.1:$PORT/fapi/v1/depth?symbol=BTCUSDT"
	[ "$stderr" = "feed-client: GET 'http://127.0.0.1:$PORT/fapi/v1/depth?symbol=BTCUSDT': Couldn't connect to server" ]
	run -2 --separate-stderr client "http://127.0.0.1:$PORT/ws"
	[ "$stderr" = "feed-client: 'http://127.0.0.1:$PORT/ws' is not a ws:// or wss:// URL" ]
}

@test "SIGTERM ends the run cleanly" {
	start_server --delay-ms 50
	$T "$BUILD/test/feed-client/feed-client" "$URL" >out 2>err &
	pid=$!
	until_ok grep -q '^[0-9]' out
	kill -TERM $pid
	st=0
	wait $pid || st=$?
	[ $st = 0 ]
	[[ "$(cat err)" =~ ^"feed-client: "[0-9]+" messages, 1 connections, 0 lost, 0 renewed (0 seamless)"$ ]]
}
