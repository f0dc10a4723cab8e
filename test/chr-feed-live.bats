#!/usr/bin/env bats
# chr-feed's live mode against test/feed-server on 127.0.0.1 (no other
# address is ever contacted): the records equal capture mode's on the same
# messages, a dropped connection (GAP, a new snapshot, the books right
# after it; the same after a server gone silent), a malformed frame, a
# server that never answers, a slow REST endpoint, a snapshot older than
# the diffs held, --out QUEUE, SIGINT, --latency, the default endpoints
# (in a network namespace where nothing can be reached).

load test_helper

CAP="$DATA/binance-futures_BTCUSDT_2024-08-08_raw_capture_head300.txt.gz"

# start_server OPTION...: test/feed-server replaying CAP on 127.0.0.1, its
# port in PORT, its events in the file log
start_server() {
	rm -f port
	"$TOP/test/feed-server" --port-file port --log log "$@" "$CAP" 3>&- &
	SERVER=$!
	until_ok test -s port
	PORT=$(cat port)
	LOOP=(--ws-url "ws://127.0.0.1:$PORT/stream" --rest-url "http://127.0.0.1:$PORT/fapi/v1/depth")
}

# start_feed OPTION...: chr-feed live on the server, its records in out.ev,
# its stderr in err
start_feed() {
	chr-feed --venue binance-futures --symbols btcusdt "${LOOP[@]}" "$@" >out.ev 2>err 3>&- &
	FEED=$!
}

# stop_feed: SIGTERM to chr-feed; its exit status in FEED_RC
stop_feed() {
	kill -TERM "$FEED"
	FEED_RC=0
	wait "$FEED" || FEED_RC=$?
}

# count FILE: the records of FILE (DEFINE aside)
count() {
	chr-tail --format json "$1" 2>/dev/null | wc -l
}

# fields FILE: the records of FILE as JSON lines without what the receive
# time decides (ts, time, crc) and the order the streams interleave in
# (seq, src_seq), one stream after the other in the order of their first
# record: the book's records (snapshots, diffs, GAPs), the quotes, the trades
fields() {
	chr-tail --format json "$1" | python3 -c '
import json, sys
groups = {}
for line in sys.stdin:
	r = json.loads(line)
	for k in ("ts", "time", "crc", "seq", "src_seq"):
		r.pop(k, None)
	g = r["type_name"] if r["type_name"] in ("QUOTE", "TRADE") else "BOOK"
	groups.setdefault(g, []).append(json.dumps(r, sort_keys=True))
for g in sorted(groups):
	print("\n".join(groups[g]))
'
}

# at_least N CMD...: CMD prints a number of at least N (run at each call:
# until_ok at_least N ... polls, where `until_ok test "$(CMD)" -ge N` would
# test one value 300 times)
at_least() {
	local n=$1
	shift
	[ "$("$@")" -ge "$n" ]
}

# snapshots FILE: the BOOK_SNAPSHOT records of FILE
snapshots() {
	chr-tail --format text --type BOOK_SNAPSHOT "$1" 2>/dev/null | wc -l
}

# gone PID: the process PID has ended
gone() {
	! kill -0 "$1" 2>/dev/null
}

# capture FILE: capture mode's records of CAP in FILE
capture() {
	$T chr-feed --venue binance-futures --capture "$CAP" >"$1"
}

teardown() {
	local p
	for p in ${FEED-} ${SERVER-}; do
		kill -KILL "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	for p in $(jobs -p); do
		kill -KILL "$p" 2>/dev/null
	done
	return 0
}

@test "live: the records equal capture mode's on the same messages, but for the receive times" {
	capture cap.ev
	n=$(count cap.ev)
	start_server
	start_feed -v
	until_ok grep -q '^end' log
	until_ok at_least "$n" count out.ev
	stop_feed
	[ "$FEED_RC" = 0 ]
	[ "$(count out.ev)" = "$n" ]
	fields cap.ev >cap.txt
	fields out.ev >live.txt
	diff cap.txt live.txt
	# one connection, one snapshot, the subscription Binance documents
	[ "$(grep -c '^rest /fapi/v1/depth?symbol=BTCUSDT&limit=1000$' log)" = 1 ]
	grep -qx 'connect 1 /stream?streams=btcusdt@depth@0ms/btcusdt@trade/btcusdt@bookTicker' log
	grep -q '299 frames: 297 records (1 snapshots, 15 diffs, 39 trades, 241 quotes, 0 GAPs)' err
	grep -q '1 connections (0 lost,' err
	grep -q '1 REST snapshots asked for (0 failed, 0 older than the diffs held; the longest GET took [0-9]*\.[0-9]\{3\} ms)' err
}

@test "live: a dropped connection writes a GAP, fetches a new snapshot, and the book is right after it" {
	capture cap.ev
	start_server --drop-after 30 --drop-after-snapshot
	start_feed -v
	until_ok grep -q '^end' log
	until_ok at_least 2 grep -c '^rest' log
	# the last frame's record (the quote of the capture's last line) and
	# the second snapshot, with the diffs held for it, are written
	last=$(chr-tail --format json cap.ev | tail -1 | python3 -c 'import json,sys; print(json.load(sys.stdin)["ts_event"])')
	until_ok bash -c "chr-tail --format json --type QUOTE out.ev | grep -q '\"ts_event\":$last,'"
	until_ok at_least 2 snapshots out.ev
	stop_feed
	[ "$FEED_RC" = 0 ]
	grep -q 'connection 1 lost' err
	[ "$(grep -c '^connect' log)" = 2 ]
	# the book: snapshot, GAP at the reconnect, a new snapshot, diffs
	run -0 bash -c "chr-tail --format text --type BOOK_SNAPSHOT,BOOK_DIFF,GAP out.ev | cut -d' ' -f2"
	[ "${lines[0]}" = BOOK_SNAPSHOT ]
	[ "${lines[1]}" = GAP ]
	[ "${lines[2]}" = BOOK_SNAPSHOT ]
	[ "$(printf '%s\n' "${lines[@]:3}" | sort -u)" = BOOK_DIFF ]
	run -0 chr-tail --format text --type GAP out.ev
	assert_output --partial 'reason=reconnect'
	# after the resync, every book equals capture mode's, diff by diff:
	# chr-book's best bid and ask at each record (the exchange's time
	# kept, the receive time cut); the one book before the drop is the
	# first snapshot's (the diffs before frame 30 are older than it)
	chr-book --bbo --format csv <cap.ev | cut -d, -f1-3,5- >cap.bbo
	chr-book --bbo --format csv <out.ev | cut -d, -f1-3,5- >live.bbo
	[ "$(wc -l <cap.bbo)" -gt 10 ]
	[ "$(wc -l <live.bbo)" = $(($(wc -l <cap.bbo) + 1)) ]
	diff <(tail -n +2 cap.bbo) <(tail -n +3 live.bbo)
	fields cap.ev | grep BOOK_DIFF >cap.diffs
	fields out.ev | grep BOOK_DIFF >live.diffs
	diff cap.diffs live.diffs
}

@test "live: a malformed frame is exit 1 naming the connection and the frame; --skip-bad goes on" {
	start_server --bad-at 100
	run -1 --separate-stderr $T chr-feed --venue binance-futures --symbols btcusdt "${LOOP[@]}" --format text
	stderr_lines=("${stderr_lines[@]}")
	output=$stderr
	assert_output --regexp "^chr-feed: 'ws://127\.0\.0\.1:$PORT/stream\?streams=btcusdt@depth@0ms/btcusdt@trade/btcusdt@bookTicker': connection 1, frame 101: "
	kill "$SERVER"
	wait "$SERVER" || true
	capture cap.ev
	n=$(count cap.ev)
	start_server --bad-at 100
	start_feed --skip-bad -v
	until_ok grep -q '^end' log
	until_ok at_least $((n - 1)) count out.ev
	stop_feed
	[ "$FEED_RC" = 0 ]
	grep -q "connection 1, frame 101: .*(skipped)" err
	grep -q 'skipped 1 bad frames of 299' err
	[ "$(count out.ev)" = $((n - 1)) ]
}

@test "live: a server that never answers is tried again with a backoff until SIGTERM, exit 0" {
	start_server --mute
	start_feed --silence 200
	until_ok at_least 3 grep -c '^mute' log
	stop_feed
	[ "$FEED_RC" = 0 ]
	# the time told is the one measured, 200 ms or a little more
	grep -qE "attempt 1 failed: no answer for 2[0-9]{2} ms \(next in 100 ms\)" err
	grep -qE "attempt 2 failed: no answer for 2[0-9]{2} ms \(next in 200 ms\)" err
	[ "$(count out.ev)" = 0 ]
}

@test "live: a snapshot older than the diffs held is followed by a GAP and fetched again" {
	capture cap.ev
	start_server --stale-snapshots 1
	start_feed -v
	until_ok grep -q '^end' log
	until_ok at_least 2 grep -c '^rest' log
	until_ok at_least 2 snapshots out.ev
	sleep 0.3
	stop_feed
	[ "$FEED_RC" = 0 ]
	grep -q "a snapshot older than the diffs held: refused (tried again later)" err
	run -0 bash -c "chr-tail --format text --type BOOK_SNAPSHOT,BOOK_DIFF,GAP out.ev | cut -d' ' -f2 | head -3"
	assert_output "$(printf 'BOOK_SNAPSHOT\nGAP\nBOOK_SNAPSHOT')"
	# no diff was applied to the stale snapshot; those after the good one
	# are capture mode's
	fields cap.ev | grep BOOK_DIFF >cap.diffs
	fields out.ev | grep BOOK_DIFF >live.diffs
	diff cap.diffs live.diffs
}

@test "live: --out QUEUE appends to the queue, closed at SIGTERM" {
	capture cap.ev
	n=$(count cap.ev)
	start_server
	start_feed --out q
	until_ok grep -q '^end' log
	until_ok at_least "$n" count q
	stop_feed
	[ "$FEED_RC" = 0 ]
	[ ! -s out.ev ]
	fields cap.ev >cap.txt
	fields q >live.txt
	diff cap.txt live.txt
}

@test "live: usage: symbols checked before any URL is made, modes not mixed" {
	# a mistake let through would meet nothing but a closed loopback port
	nowhere=(--ws-url ws://127.0.0.1:1/stream --rest-url http://127.0.0.1:1/depth)
	run -2 $T chr-feed --venue binance-futures --symbols 'btcusdt/x?y' "${nowhere[@]}"
	assert_output --partial "--symbols: 'btcusdt/x?y' is not a symbol"
	run -2 $T chr-feed --venue binance-futures --symbols btcusdt, "${nowhere[@]}"
	assert_output --partial "--symbols: '' is not a symbol"
	run -2 $T chr-feed --venue binance-futures --symbols btcusdt --capture x "${nowhere[@]}"
	run -2 $T chr-feed --venue binance-futures --capture --ws-url ws://127.0.0.1:1/ x
	run -2 $T chr-feed --venue nowhere --symbols btcusdt "${nowhere[@]}"
	assert_output --partial "'nowhere'"
	run -2 $T chr-feed --venue binance-futures --symbols btcusdt --ws-url http://127.0.0.1:1/
}

@test "live: the venue's own endpoints by default, tried in a network namespace of its own (nothing reachable, nothing contacted)" {
	unshare -rn true 2>/dev/null || skip "no network namespace (unshare -rn)"
	# each venue: the streams and the REST endpoint docs/feed.md lists
	run -0 unshare -rn timeout 30 bash -c '
		for v in binance-futures binance-delivery binance; do
			chr-feed --venue $v --symbols btcusdt,ethusdt -v >out.ev 2>err.$v &
			pid=$!
			until grep -q "attempt 2 failed" err.$v; do sleep 0.1; done
			kill -INT $pid
			wait $pid || exit
		done'
	[ ! -s out.ev ]
	f="btcusdt@depth@0ms/btcusdt@trade/btcusdt@bookTicker/ethusdt@depth@0ms/ethusdt@trade/ethusdt@bookTicker"
	grep -qxF "chr-feed: streams 'wss://fstream.binance.com/stream?streams=$f', snapshots 'https://fapi.binance.com/fapi/v1/depth?symbol=S&limit=1000'" err.binance-futures
	grep -qF "chr-feed: 'wss://fstream.binance.com/stream?streams=$f': attempt 1 failed: cannot connect (next in 100 ms)" err.binance-futures
	grep -qxF "chr-feed: streams 'wss://dstream.binance.com/stream?streams=$f', snapshots 'https://dapi.binance.com/dapi/v1/depth?symbol=S&limit=1000'" err.binance-delivery
	s=${f//@0ms/@100ms}
	grep -qxF "chr-feed: streams 'wss://stream.binance.com:9443/stream?streams=$s', snapshots 'https://api.binance.com/api/v3/depth?symbol=S&limit=1000'" err.binance
}

@test "live: SIGINT stops it cleanly too: exit 0, every record written" {
	capture cap.ev
	n=$(count cap.ev)
	start_server
	start_feed
	until_ok grep -q '^end' log
	until_ok at_least "$n" count out.ev
	# a background job of a script starts with SIGINT ignored: chr-feed
	# catches it all the same
	kill -INT "$FEED"
	until_ok gone "$FEED"
	FEED_RC=0
	wait "$FEED" || FEED_RC=$?
	[ "$FEED_RC" = 0 ]
	[ "$(count out.ev)" = "$n" ]
	[ ! -s err ]
}

@test "live: --latency reports p50, p99 and p99.9 of frame to commit over the records made in their frame's turn" {
	capture cap.ev
	n=$(count cap.ev)
	start_server
	start_feed --latency --out q
	until_ok grep -q '^end' log
	until_ok at_least "$n" count q
	stop_feed
	[ "$FEED_RC" = 0 ]
	run -0 grep -c '^chr-feed: latency ' err
	[ "$output" = 3 ]
	# the records written at the snapshot are not measured (their wait is
	# the snapshot's, not the path's): it, the diffs held for it after it,
	# and the DEFINE right before it when it came first, all with its ts
	chr-tail --format text q >q.txt
	at_snap=$(awk '
		/ BOOK_SNAPSHOT / && !s { s = $1; n = 1 + (pt == "DEFINE" && pts == s); next }
		s && !end && $1 == s && $2 == "BOOK_DIFF" { n++; next }
		s { end = 1 }
		{ pt = $2; pts = $1 }
		END { print n }' q.txt)
	m=$(($(wc -l <q.txt) - at_snap))
	v='[0-9]+\.[0-9]{2}'
	run -0 grep '^chr-feed: latency ' err
	[[ "${lines[0]}" =~ ^chr-feed:\ latency\ p50\ over\ $m\ records:\ frame\ to\ commit\ ($v)\ us,\ of\ which\ the\ transport\ ($v)\ us$ ]]
	p50=${BASH_REMATCH[1]}
	[[ "${lines[1]}" =~ ^chr-feed:\ latency\ p99\ over\ $m\ records:\ frame\ to\ commit\ ($v)\ us ]]
	p99=${BASH_REMATCH[1]}
	[[ "${lines[2]}" =~ ^chr-feed:\ latency\ p99.9\ over\ $m\ records:\ frame\ to\ commit\ ($v)\ us ]]
	p999=${BASH_REMATCH[1]}
	python3 -c "import sys; a, b, c = map(float, sys.argv[1:]); sys.exit(not 0 < a <= b <= c)" "$p50" "$p99" "$p999"
	# not asked, not measured
	run -0 $T chr-feed --venue binance-futures --capture "$CAP" --format text
	refute_output --partial latency
}

@test "live: frames are read while a snapshot is fetched: a slow REST endpoint stalls no stream" {
	capture cap.ev
	n=$(count cap.ev)
	# the snapshot is answered only after 100 more frames were sent
	start_server --rest-after-frames 100 --delay-ms 5
	start_feed
	until_ok grep -q '^end' log
	until_ok at_least "$n" count out.ev
	stop_feed
	[ "$FEED_RC" = 0 ]
	at=$(sed -n 's/^rest-at //p' log)
	# the quotes and trades of the frames before the request ...
	before=$(zcat "$CAP" | grep -v lastUpdateId | head -n "$at" | { grep -c -E '@(bookTicker|trade)"' || true; })
	# ... and those written before the snapshot: more, those of frames
	# that came while it was fetched (a GET that blocked the reading of
	# frames would leave them all after it)
	written=$(chr-tail --format text out.ev | awk '/ BOOK_SNAPSHOT /{exit} / (QUOTE|TRADE) /' | wc -l)
	echo "frames before the request: $at, their quotes and trades $before; written before the snapshot $written"
	[ "$written" -gt "$before" ]
	# the records are capture mode's all the same
	fields cap.ev >cap.txt
	fields out.ev >live.txt
	diff cap.txt live.txt
}

@test "live: a server gone silent mid-stream is dropped after --silence: GAP, reconnect, a new snapshot, the book right after it" {
	capture cap.ev
	# before frame 30 the server says nothing until the client gives up
	start_server --stall-at 30
	start_feed -v --silence 500
	until_ok grep -q '^end' log
	until_ok at_least 2 snapshots out.ev
	stop_feed
	[ "$FEED_RC" = 0 ]
	grep -qE "connection 1 lost: silent for [0-9]+ ms" err
	[ "$(grep -c '^connect' log)" = 2 ]
	run -0 bash -c "chr-tail --format text --type BOOK_SNAPSHOT,BOOK_DIFF,GAP out.ev | cut -d' ' -f2"
	[ "${lines[0]}" = BOOK_SNAPSHOT ]
	[ "${lines[1]}" = GAP ]
	[ "${lines[2]}" = BOOK_SNAPSHOT ]
	[ "$(printf '%s\n' "${lines[@]:3}" | sort -u)" = BOOK_DIFF ]
	# no frame was lost: the diffs are capture mode's, and so is every
	# best bid and ask from the resync on
	fields cap.ev | grep BOOK_DIFF >cap.diffs
	fields out.ev | grep BOOK_DIFF >live.diffs
	diff cap.diffs live.diffs
	chr-book --bbo --format csv <cap.ev | cut -d, -f1-3,5- >cap.bbo
	chr-book --bbo --format csv <out.ev | cut -d, -f1-3,5- >live.bbo
	[ "$(wc -l <live.bbo)" = $(($(wc -l <cap.bbo) + 1)) ]
	diff <(tail -n +2 cap.bbo) <(tail -n +3 live.bbo)
}

@test "live: a connection renewed at --max-age switches seamlessly: no GAP, the records are capture mode's" {
	capture cap.ev
	n=$(count cap.ev)
	# 299 frames 5 ms apart: renewed about every 0.4 s while they flow
	start_server --delay-ms 5
	start_feed -v --max-age 400
	until_ok grep -q '^end' log
	until_ok at_least "$n" count out.ev
	stop_feed
	[ "$FEED_RC" = 0 ]
	[[ "$(cat err)" =~ " connections (0 lost, "([1-9][0-9]*)" renewed, "([0-9]+)" of them seamlessly)" ]]
	[ "${BASH_REMATCH[1]}" = "${BASH_REMATCH[2]}" ]
	[ "$(grep -c '^connect' log)" -ge 2 ]
	[ "$(grep -c '^rest' log)" = 1 ]
	fields cap.ev >cap.txt
	fields out.ev >live.txt
	diff cap.txt live.txt
}

@test "live: a renewal that finds no seam is a loss: a GAP, and a new snapshot asked for" {
	# the old connection goes quiet when the new one comes: no message in common
	start_server --solo --delay-ms 5
	start_feed -v --max-age 400 --silence 500
	until_ok grep -q '^end' log
	until_ok at_least 2 grep -c '^rest' log
	stop_feed
	[ "$FEED_RC" = 0 ]
	grep -qE "renewed as connection 2 without a seam \(a loss\): (the old connection ended before the seam|no message of both connections within the overlap)" err
	run -0 chr-tail --format text --type GAP out.ev
	assert_line -n 0 --partial 'reason=reconnect'
}

# stopped PID: the process PID is stopped (SIGSTOP taken)
stopped() {
	[[ $(ps -o stat= -p "$1") == T* ]]
}

# nlines FILE: its lines
nlines() {
	wc -l <"$1"
}

@test "live: a record's ts is the kernel's receive time: frames that waited in the socket while chr-feed was stopped keep theirs" {
	start_server --delay-ms 10 --send-log sent
	start_feed
	until_ok at_least 20 nlines sent
	kill -STOP "$FEED"
	until_ok stopped "$FEED"
	t_stop=$(date +%s%N)
	k=$(nlines sent)
	until_ok at_least $((k + 20)) nlines sent
	t_cont=$(date +%s%N)
	kill -CONT "$FEED"
	until_ok grep -q '^end' log
	sleep 0.3
	stop_feed
	[ "$FEED_RC" = 0 ]
	# the frames sent while it was stopped came then: their records say so
	# (a receive time taken when the frames were read would be after t_cont)
	run -0 python3 -c '
import json, sys
a, b = int(sys.argv[1]), int(sys.argv[2])
n = sum(1 for l in sys.stdin if a < json.loads(l)["ts"] < b)
print(n)' "$t_stop" "$t_cont" < <(chr-tail --format json out.ev)
	echo "records received while stopped: $output"
	[ "$output" -gt 0 ]
}

@test "live: SIGTERM during a snapshot GET ends it at once, not at --rest-timeout: exit 0" {
	# the snapshot is answered only after the replay (15 s): never, here
	start_server --rest-after-frames 100000 --delay-ms 50
	start_feed --rest-timeout 30000
	until_ok grep -q '^rest-at' log
	kill -TERM "$FEED"
	# well before the GET's 30 s
	for _ in $(seq 100); do gone "$FEED" && break; sleep 0.1; done
	gone "$FEED"
	FEED_RC=0
	wait "$FEED" || FEED_RC=$?
	[ "$FEED_RC" = 0 ]
}

# most N SECONDS FIRST: the most events that a backoff from FIRST seconds,
# doubled per event, allows in SECONDS (the first at once): 1 + log2(S/F + 1)
most() {
	python3 -c 'import math, sys; s, f = map(float, sys.argv[1:]); print(int(1 + math.log2(s / f + 1)))' "$@"
}

@test "live: a flapping link reconnects with a backoff, and the snapshots keep theirs across the losses" {
	# a drop every 20 frames: each connection lives a few ms
	start_server $(for k in $(seq 20 20 280); do echo --drop-after "$k"; done)
	t0=$(date +%s%N)
	start_feed --silence 2000
	sleep 3
	stop_feed
	t1=$(date +%s%N)
	[ "$FEED_RC" = 0 ]
	s=$(python3 -c "print((${t1} - ${t0}) / 1e9)")
	conns=$(grep -c '^connect ' log)
	gets=$(grep -c '^rest ' log)
	echo "in $s s: $conns connections, $gets snapshot GETs"
	# each loss of a connection up for less than --silence waits as a
	# failed attempt: 100 ms, doubled per loss; each snapshot GET 500 ms
	# after the one before, doubled
	[ "$conns" -ge 2 ]
	[ "$conns" -le $(($(most "$s" 0.1) + 1)) ]
	[ "$gets" -le $(($(most "$s" 0.5) + 1)) ]
	grep -qE "connection 1 lost: connection closed \(next in 100 ms\)" err
	grep -qE "connection 2 lost: connection closed \(next in 200 ms\)" err
}

@test "live: a snapshot refused with HTTP 418 and Retry-After waits that long before any GET" {
	start_server --rest-status 418 --retry-after 60 --delay-ms 10
	start_feed
	until_ok grep -q '^rest ' log
	sleep 2.5
	stop_feed
	[ "$FEED_RC" = 0 ]
	# without it the backoff would have asked again at 0.5 and 1.5 s
	run -0 grep -c '^rest ' log
	[ "$output" = 1 ]
	grep -qF "HTTP 418" err
	grep -qF "(no GET for 60000 ms, its Retry-After)" err
}

@test "live: a connection whose streams are quiet but whose server answers pings is kept past --silence" {
	# the server sends no frame at all, and answers pings
	start_server --stall-at 0 --pong
	start_feed --silence 2000
	until_ok grep -q '^connect ' log
	sleep 4.5
	stop_feed
	[ "$FEED_RC" = 0 ]
	run -0 grep -c '^connect ' log
	[ "$output" = 1 ]
	grep -q '^client-ping 1' log
	! grep -E 'failed|lost' err
}
