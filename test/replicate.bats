#!/usr/bin/env bats
# A queue replicated to another host (docs/scale-out.md): chr-sink
# --replica, chr-tail --acks, scripts/chr-replicate, and the replication
# between two network namespaces of this machine across cut links and
# kills of either end.

load test_helper

# raw N: the queue RAW (16K segments: it rolls, with DEFINE repeats)
# holding N generated records
raw() {
	gen stream "$1" | $T chr-sink --queue RAW --create -S 16K
}

# the seq after the last record of queue $1 (its records and repeats)
end_seq() {
	python3 - "$1" <<'EOF'
import glob, os, struct, sys
best = 0
for f in glob.glob(os.path.join(sys.argv[1], "[0-9]" * 9 + ".q")):
    d = open(f, "rb").read()
    base = struct.unpack_from("<Q", d, 16)[0]
    if base == 2**64 - 1:
        continue
    pos, n = 64, 0
    while pos + 64 <= len(d):
        ln = struct.unpack_from("<I", d, pos)[0]
        if ln == 0:
            break
        pos += (ln + 63) // 64 * 64
        n += 1
    best = max(best, base + n)
print(best)
EOF
}

# same_segments A B: the queues A and B have the same segments, byte for
# byte: records, seq, CRC, DEFINE repeats (spares aside)
same_segments() {
	python3 - "$1" "$2" <<'EOF'
import glob, os, struct, sys
def segs(q):
    out = {}
    for f in sorted(glob.glob(os.path.join(q, "[0-9]" * 9 + ".q"))):
        d = open(f, "rb").read()
        if struct.unpack_from("<Q", d, 16)[0] != 2**64 - 1:
            out[os.path.basename(f)] = d
    return out
a, b = segs(sys.argv[1]), segs(sys.argv[2])
if sorted(a) != sorted(b):
    sys.exit("segments differ: %s / %s" % (sorted(a), sorted(b)))
for n in a:
    if a[n] != b[n]:
        sys.exit("%s differs" % n)
EOF
}

# same_queue A B: chr-tail of both gives the same bytes (xxhsum)
same_queue() {
	[ "$($T chr-tail "$1" | xxhsum -H2 | cut -d' ' -f1)" = \
	  "$($T chr-tail "$2" | xxhsum -H2 | cut -d' ' -f1)" ]
}

# acked Q: the reader repl of Q has passed every record of Q
acked() {
	[ "$(readerpos "$1" repl)" = "$(end_seq "$1")" ]
}

@test "chr-sink --replica, chr-tail --acks, chr-replicate: misuse" {
	raw 10
	run -2 --separate-stderr chr-sink --replica
	[ "${stderr_lines[0]}" = "chr-sink: --replica is for --queue, without --tap, --ack and --seal-at-end" ]
	run -2 --separate-stderr chr-sink --queue R --replica --ack RAW --reader r
	[ "${stderr_lines[0]}" = "chr-sink: --replica is for --queue, without --tap, --ack and --seal-at-end" ]
	run -2 --separate-stderr chr-sink --queue R --link-timeout 5s
	[ "${stderr_lines[0]}" = "chr-sink: --link-timeout goes with --replica" ]
	run -2 --separate-stderr chr-sink --queue R --replica --link-timeout 1s
	[ "${stderr_lines[0]}" = "chr-sink: --link-timeout '1s' is not a duration of 2s to 1h" ]
	run -2 --separate-stderr chr-tail --acks - RAW
	[ "${stderr_lines[0]}" = "chr-tail: --acks needs --reader and --follow, and writes records to stdout" ]
	run -2 --separate-stderr chr-tail --follow --reader r --acks - --format json RAW
	[ "${stderr_lines[0]}" = "chr-tail: --acks needs --reader and --follow, and writes records to stdout" ]
	run -2 --separate-stderr chr-tail --follow --reader r --acks - --pace 1 RAW
	[ "${stderr_lines[0]}" = "chr-tail: --acks goes without --pace" ]
	run -2 --separate-stderr chr-tail --follow --reader r --link-timeout 5s RAW
	[ "${stderr_lines[0]}" = "chr-tail: --link-timeout goes with --acks" ]
	run -3 --separate-stderr chr-tail --follow --reader r --acks nope RAW
	[ "$stderr" = "chr-tail: --acks 'nope': No such file or directory" ]
	[ ! -e R ]
	run -0 chr-replicate -h
	[[ "${lines[0]}" == "usage: chr-replicate "* ]]
	run -2 chr-replicate RAW
	run -2 chr-replicate --bogus RAW ssh h
	run -2 chr-replicate --listen nope R
	run -2 chr-replicate --listen 7000 R extra
	run -2 chr-replicate --backoff-max 0 RAW ssh h
	run -3 --separate-stderr chr-replicate nope ssh h
	[ "$stderr" = "chr-replicate: 'nope' is not a queue" ]
}

@test "chr-sink --replica: the source's records once, same seq and bytes; heartbeats not appended; acknowledged" {
	raw 1000
	end=$(end_seq RAW)
	# what chr-tail --acks sends: the records, then an idle link's heartbeat
	$T chr-tail RAW >stream
	gen rec HEARTBEAT 0 0 2024-08-09 18446744073709551615 1 "" >>stream
	python3 -c 'import struct,sys; d=open(sys.argv[1],"rb").read(); struct.pack_into("<Q",d:=bytearray(d),len(d)-64+32,int(sys.argv[2])); open(sys.argv[1],"wb").write(d)' stream "$end"
	gen seal <stream >s && mv s stream
	run -0 --separate-stderr chr-sink --queue REP --create -S 16K --replica stream
	# one acknowledgement: the source seq below which REP holds everything
	[ "$output" = "$end" ]
	same_segments RAW REP
	same_queue RAW REP
	# sent again from the start (a sender that restarts where its reader
	# committed, before the last acknowledgement): nothing twice
	run -0 --separate-stderr chr-sink --queue REP --replica -v stream
	[ "$output" = "$end" ]
	[[ "$stderr" == *"0 records appended"*"skipped (--resume)" ]]
	same_segments RAW REP
	# from the middle: chr-tail sends the DEFINEs behind its start first
	gen stream 200 2024-08-08T02:00 1000 | $T chr-sink --queue RAW
	$T chr-tail --from-seq 500 RAW | chr-sink --queue REP --replica >acks
	[ "$(tail -1 acks)" = "$(end_seq RAW)" ]
	same_segments RAW REP
}

@test "chr-tail --acks: the reader commits what is acknowledged, never what went out; heartbeats when idle" {
	raw 300
	end=$(end_seq RAW)
	mkfifo acks
	# the replica's end acknowledges 100, then 7 (no going back), then
	# closes the link
	(echo 100; sleep 1; echo 7; sleep 2) >acks &
	run -3 --separate-stderr bash -c "$T chr-tail --follow --reader repl --acks acks RAW >/dev/null"
	[ "$stderr" = "chr-tail: acks: the replica's end closed the link" ]
	[ "$(readerpos RAW repl)" = 100 ]
	# every record went out, then heartbeats carrying the position (the
	# acknowledgements end 2.5 s later: the link is idle for 2 s first)
	run -3 --separate-stderr bash -c "$T chr-tail --follow --reader repl2 --acks <(echo $end; sleep 2.5) RAW >out"
	[ "$(readerpos RAW repl2)" = "$end" ]
	python3 - out "$end" <<'EOF'
import struct, sys
d, end = open(sys.argv[1], "rb").read(), int(sys.argv[2])
pos, n = 0, 0
while pos < len(d):
    ln, typ, fl, seq = struct.unpack_from("<IHHQ", d, pos)
    if typ == 3 and seq == 2**64 - 1:
        assert fl == 1 and struct.unpack_from("<Q", d, pos + 32)[0] == end, "heartbeat"
        n += 1
    else:
        assert n == 0, "a record after a heartbeat"
    pos += (ln + 63) // 64 * 64
assert n >= 1, "no heartbeat"
EOF
}

@test "chr-sink --replica, chr-tail --acks: a silent link ends with exit 3" {
	raw 10
	mkfifo in acks
	exec 7<>in 8<>acks	# held open: silent, never ended
	run -3 --separate-stderr $T chr-sink --queue REP --create --replica --link-timeout 2s <in
	[ "$stderr" = "chr-sink: no input for 2 s: the link is silent" ]
	run -3 --separate-stderr bash -c "$T chr-tail --follow --reader repl --acks acks --link-timeout 2s RAW >/dev/null"
	[ "$stderr" = "chr-tail: no acknowledgement on acks for 2 s: the link is silent" ]
	exec 7>&- 8>&-
	# nothing was acknowledged: the reader is where it started
	[ "$(readerpos RAW repl)" = 0 ]
}

@test "chr-replicate: a sender and a listener on loopback; stopped by SIGTERM, restarted, exactly once" {
	command -v socat >/dev/null || skip "no socat (scripts/install-deps; Debian: apt-get install socat)"
	raw 500
	port=$((20000 + RANDOM % 20000))
	setsid chr-replicate --listen 127.0.0.1:$port -S 16K --fsync never REP 2>lis.err &
	lis=$!
	TMPDIR=$PWD setsid chr-replicate --backoff-max 1 RAW socat - TCP:127.0.0.1:$port 2>snd.err &
	snd=$!
	until_ok same_queue RAW REP
	kill -TERM $snd
	wait $snd
	gen stream 300 2024-08-08T02:00 500 | $T chr-sink --queue RAW
	TMPDIR=$PWD setsid chr-replicate --backoff-max 1 RAW socat - TCP:127.0.0.1:$port 2>>snd.err &
	snd=$!
	until_ok same_queue RAW REP
	until_ok acked RAW
	kill -TERM $snd $lis
	wait $snd
	wait $lis
	same_segments RAW REP
}

# --- between two network namespaces ---------------------------------------

# netns_up: the namespaces $NA (the source) and $NB (the replica), joined by
# a veth pair $VA - $VB with 10.231.0.1 and 10.231.0.2 inside them only
# (created in place: no address ever exists outside them); skips without
# root, ip, socat or network namespaces
netns_up() {
	[ "$(id -u)" = 0 ] || skip "needs root (ip netns)"
	command -v ip >/dev/null || skip "no ip (iproute2)"
	command -v socat >/dev/null || skip "no socat (scripts/install-deps; Debian: apt-get install socat)"
	NA=chrA$$ NB=chrB$$ VA=chra$$ VB=chrb$$
	echo "$NA $NB" >"$BATS_TEST_TMPDIR/netns"
	ip netns add "$NA" 2>/dev/null || skip "cannot make a network namespace here"
	ip netns add "$NB"
	ip -n "$NA" link add "$VA" type veth peer name "$VB" netns "$NB"
	ip -n "$NA" addr add 10.231.0.1/24 dev "$VA"
	ip -n "$NB" addr add 10.231.0.2/24 dev "$VB"
	ip -n "$NA" link set lo up
	ip -n "$NB" link set lo up
	ip -n "$NA" link set "$VA" up
	ip -n "$NB" link set "$VB" up
}

# the processes and namespaces of a failed test go too
teardown() {
	local g
	for g in $(cat "$BATS_TEST_TMPDIR/groups" 2>/dev/null); do
		kill -KILL -- "-$g" 2>/dev/null
	done
	for p in $(jobs -p); do
		pkill -KILL -P "$p" 2>/dev/null
		kill -KILL "$p" 2>/dev/null
	done
	for n in $(cat "$BATS_TEST_TMPDIR/netns" 2>/dev/null); do
		ip netns del "$n" 2>/dev/null
	done
	return 0
}

# leads PID: PID leads its process group (setsid has run)
leads() {
	[ "$(ps -o pgid= -p "$1" | tr -d ' ')" = "$1" ]
}

# listener / sender: the replica's end in $NB, the source's in $NA, each a
# process group of its own (killed whole by kill -KILL -- -PID); the pid in
# $lis / $snd
listener() {
	setsid ip netns exec "$NB" chr-replicate --listen 10.231.0.2:7000 --link-timeout 2s \
		-S 16K --fsync never dst/RAW 2>>lis.err &
	lis=$!
	echo $lis >>groups
	until_ok leads $lis
}
sender() {
	TMPDIR=$BATS_TEST_TMPDIR setsid ip netns exec "$NA" chr-replicate --link-timeout 2s --backoff-max 1 src/RAW \
		socat - TCP:10.231.0.2:7000,connect-timeout=2 2>>snd.err &
	snd=$!
	echo $snd >>groups
	until_ok leads $snd
}

# reconnected_since N: the sender has said "connecting again" more than N
# times
reconnected_since() {
	[ "$(grep -c 'connecting again' snd.err)" -gt "$1" ]
}

# writer BURSTS: in $NA, BURSTS appends of 100 records to src/RAW, 0.1 s
# apart (src_seq rising, as a feed handler's); the same into ref/RAW, the
# reference, at once
writer() {
	local i
	$T chr-sink --queue src/RAW --create -S 16K </dev/null
	for i in $(seq 0 $(($1 - 1))); do
		gen stream 100 "$((1723075200 + i * 100))s" $((i * 100)) >burst.$i
		cat burst.$i | $T chr-sink --queue ref/RAW --create -S 16K
	done
	(for i in $(seq 0 $(($1 - 1))); do
		ip netns exec "$NA" $T chr-sink --queue src/RAW --create -S 16K <burst.$i || exit 1
		sleep 0.1
	done) &
	wrt=$!
}

@test "replication between two network namespaces: links cut, each end SIGKILLed, the replica equals the source" {
	netns_up
	mkdir src dst ref
	bursts=${CHR_REPL_BURSTS:-150} rounds=${CHR_REPL_ROUNDS:-3}
	writer "$bursts"
	listener
	sender
	# each of: the link cut (0.5 to 3.5 s: shorter or longer than the
	# link timeout), the sender SIGKILLed, the replica's end SIGKILLed;
	# in a random order, at random moments, while the writer appends
	acts=()
	for i in $(seq "$rounds"); do acts+=(cut ksnd klis); done
	for a in $(printf '%s\n' "${acts[@]}" | shuf); do
		sleep "0.$((RANDOM % 10))"
		case $a in
		cut)
			ip -n "$NA" link set "$VA" down
			sleep "$((RANDOM % 4)).5"
			ip -n "$NA" link set "$VA" up ;;
		ksnd)
			kill -KILL -- "-$snd"
			sleep "0.$((RANDOM % 10))"
			sender ;;
		klis)
			kill -KILL -- "-$lis"
			sleep "0.$((RANDOM % 10))"
			listener ;;
		esac
	done
	wait "$wrt"
	same_queue src/RAW ref/RAW
	# the campaign does what it says whatever order it drew: a last cut,
	# longer than the link timeout, is seen by the sender, which connects
	# again (the random rounds need not be: a cut shorter than the timeout
	# passes unseen, and a sender SIGKILLed says nothing)
	seen=$(grep -c 'connecting again' snd.err || true)
	ip -n "$NA" link set "$VA" down
	sleep 3.5
	ip -n "$NA" link set "$VA" up
	until_ok reconnected_since "$seen"
	# the replica catches up, and the source's reader passes what it holds
	until_ok same_queue src/RAW dst/RAW
	until_ok acked src/RAW
	same_segments src/RAW dst/RAW
	kill -TERM "$snd" "$lis"
	wait "$snd"
	wait "$lis"
	same_segments src/RAW dst/RAW
	# no end failed otherwise (a sanitizer build's reports go to stderr)
	! grep -E 'Sanitizer|runtime error' snd.err lis.err
}

@test "refinery shards over two replicas of one RAW: their clean queues together are one refinery's over RAW" {
	L2="$DATA/binance-futures_incremental_book_L2_BTCUSDT_2024-08-08.csv.gz"
	TRADES="$DATA/binance-futures_trades_BTCUSDT_2024-08-08.csv.gz"
	# two instruments and trades, as test/refine.bats; src_seq made RAW's
	# own seq, as a feed handler's queue has it
	gzip -cd "$L2" | head -n 20001 >b.csv
	$T chr-csv2ev b.csv >btc.ev
	sed 's/,BTCUSDT,/,ETHUSDT,/' b.csv | $T chr-csv2ev >eth.ev
	gzip -cd "$TRADES" | head -n 2001 | $T chr-csv2ev >tr.ev
	$T chr-tail btc.ev eth.ev tr.ev | $T chr-sink --queue RAW0 --create -S 1M
	$T chr-tail --restamp RAW0 | $T chr-sink --queue RAW --create -S 1M
	# its replicas on "hosts" b and c
	for h in b c; do
		$T chr-tail RAW | $T chr-sink --queue $h/raw --create -S 1M --replica >acks.$h
		same_segments RAW $h/raw
	done
	run -0 chr-refine --once --shard 0/2 b/raw b/clean
	run -0 chr-refine --once --shard 1/2 c/raw c/clean
	run -0 chr-refine --once RAW clean
	mkdir both
	cp -a b/clean/. c/clean/. both/
	# each shard wrote some of the queues, and together all of them
	[ -n "$(find b/clean -name control)" ] && [ -n "$(find c/clean -name control)" ]
	same_queues clean both
}
