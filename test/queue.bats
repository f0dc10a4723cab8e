#!/usr/bin/env bats
# The hot queue through the programs: chr-sink --queue appends, chr-tail
# reads (from the start, the end, a seq, a time, a named reader's
# position), follows across rolls, merges queues, survives killed writers
# and readers; retention; bad queues are named with segment and byte.

load test_helper

# t.ev: the trade excerpt as records: 10000 (a DEFINE, 9999 trades)
trades() {
	$T chr-csv2ev "$DATA/binance-futures_trades_BTCUSDT_2020-02-22_excerpt.csv" >t.ev
}

# the seqs of a record stream, one a line
seqs() {
	$T chr-tail --format json --defines "$@" | python3 -c '
import json, sys
for l in sys.stdin: print(json.loads(l)["seq"])'
}

# the seq, flags and segment of every committed record of queue $1,
# repeats included, read from its segment files as docs/format.md describes
rawseqs() {
	python3 - "$1" <<'PY'
import glob, struct, sys
for path in sorted(glob.glob(sys.argv[1] + "/[0-9]*.q")):
    data = open(path, "rb").read()
    pos = 64
    while pos + 64 <= len(data):
        n, typ, flags, seq = struct.unpack_from("<IHHQ", data, pos)
        if n == 0:
            break
        print(seq, flags, path[-11:-2])
        pos += (n + 63) // 64 * 64
PY
}

# every line of $1 (numbers) greater than the one before
increasing() {
	awk 'NR > 1 && $1 <= prev { exit 1 } { prev = $1 }' "$1"
}

# $1 holds at least $2 records
has_count() {
	[ "$(chr-tail --format text "$1" 2>/dev/null | wc -l)" -ge "$2" ]
}

@test "chr-sink --queue: --create, seq assigned and continued, the records kept" {
	trades
	run -3 --separate-stderr $T chr-sink --queue Q t.ev
	[ "$stderr" = "chr-sink: Q: No such file or directory; --create makes it" ]
	[ ! -e Q ]
	$T chr-sink --queue Q --create -S 64K t.ev
	[ -f Q/control ]
	[ -f Q/lock ]
	[ -f Q/000000001.q ]
	$T chr-sink --queue Q t.ev
	# every record once, in order; the queue's seq runs without a gap over
	# them and the DEFINE repeated at each segment's head
	seqs Q >got
	[ "$(wc -l <got)" = 20000 ]
	increasing got
	rawseqs Q | cut -d' ' -f1 >raw
	[ "$(head -1 raw)" = 0 ]
	[ "$(tail -1 raw)" = $(($(wc -l <raw) - 1)) ]
	increasing raw
	[ "$(rawseqs Q | awk '$2 == 4' | wc -l)" = $(($(rawseqs Q | cut -d' ' -f3 | uniq | wc -l) - 1)) ]
	# the same records but for seq (src_seq kept; set to seq when it was 0)
	$T chr-tail --format csv Q >q.csv
	cat t.ev t.ev | $T chr-tail --format csv >t.csv
	cmp t.csv q.csv
	run -0 sh -c "chr-tail --format json --type define Q | cut -d, -f5,9"
	[ "${#lines[@]}" = 2 ]
	[ "${lines[0]}" = '"seq":0,"src_seq":0' ]
	s=${lines[1]#\"seq\":}
	s=${s%%,*}
	[ "${lines[1]}" = "\"seq\":$s,\"src_seq\":$s" ]
	run -0 sh -c "chr-tail --format json --defines --from-seq $((s + 1)) --limit 1 Q | cut -d, -f9"
	[ "${lines[-1]}" = '"src_seq":1' ]
	# every segment but the current one is sealed, with its index
	[ -f Q/000000000.idx ]
}

@test "chr-sink --queue from a queue: record for record, its DEFINE repeats too" {
	trades
	$T chr-sink --queue Q --create -S 64K t.ev
	run -0 --separate-stderr $T chr-sink --queue C --create -S 64K -v Q
	n=$(rawseqs Q | wc -l)
	[[ "$stderr" == "chr-sink: C: $n records appended, seq 0 to "* ]]
	# and the records of Q, in order
	$T chr-tail --format csv Q >q.csv
	$T chr-tail --format csv C >c.csv
	cmp q.csv c.csv
}

@test "chr-sink --queue: bad input is named, what came before it stays" {
	trades
	head -c 100000 t.ev >short.ev
	run -1 --separate-stderr $T chr-sink --queue Q --create short.ev
	[ "$stderr" = "chr-sink: short.ev: byte 99904: truncated record; the 780 records before it were appended" ]
	run -0 seqs Q
	[ "${#lines[@]}" = 780 ]
	run -2 $T chr-sink --queue Q --archive A
	run -2 $T chr-sink --queue Q --fsync sometimes
	run -2 $T chr-sink --queue Q -S 1000
	run -2 $T chr-sink --archive A --fsync seal
	$T chr-sink --queue Q --fsync seal short.ev 2>/dev/null || true
	$T chr-sink --queue Q --fsync 10ms </dev/null
}

@test "one writer at a time: a live one is named, a killed one is taken over" {
	trades
	$T chr-sink --queue Q --create t.ev
	mkfifo in
	chr-sink --queue Q in 3>&- & pid=$!
	exec 7>in
	sleep 0.3
	run -3 --separate-stderr $T chr-sink --queue Q t.ev
	[[ "$stderr" == "chr-sink: Q: queue is locked by another writer (pid "*")" ]]
	kill -KILL $pid
	exec 7>&-
	wait $pid || true
	$T chr-sink --queue Q t.ev
	run -0 seqs Q
	[ "${#lines[@]}" = 20000 ]
	[ "${lines[19999]}" = 19999 ]
}

@test "writers killed at random moments: nothing torn, seq contiguous, no manual step" {
	trades
	for i in $(seq 8); do cat t.ev; done >big.ev
	$T chr-sink --queue Q --create -S 64K </dev/null
	for i in $(seq 12); do
		chr-sink --queue Q -S 64K big.ev 3>&- & pid=$!
		sleep 0.0$((RANDOM % 9 + 1))
		kill -KILL $pid 2>/dev/null || true
		wait $pid || true
	done
	$T chr-sink --queue Q t.ev
	rawseqs Q | cut -d' ' -f1 >raw
	n=$(wc -l <raw)
	[ "$(head -1 raw)" = 0 ]
	[ "$(tail -1 raw)" = $((n - 1)) ]
	increasing raw
	# the last append is whole, after whatever the killed ones left
	$T chr-tail --format csv Q | tail -n 9999 >tail.csv
	$T chr-tail --format csv t.ev | tail -n 9999 >t.csv
	cmp t.csv tail.csv
}

@test "chr-tail: --from-end, --from TIME (by the index), --until, --type" {
	trades
	$T chr-sink --queue Q --create -S 64K t.ev
	# from the end: only the DEFINE repeated at the last segment's head
	run -0 $T chr-tail --format text --from-end Q
	[[ "$output" == *" DEFINE "*"binance-futures BTCUSDT"* ]]
	[ "${#lines[@]}" = 1 ]
	run -0 --separate-stderr $T chr-tail --format text --from 2020-02-22T00:01:07.841640Z --limit 1 Q
	[ "${#lines[@]}" = 2 ]
	[[ "${lines[0]}" == *" DEFINE "*" seq=0 "* ]]
	[[ "${lines[1]}" == "2020-02-22T00:01:07.841640000Z TRADE "*" seq=100 "* ]]
	run -0 --separate-stderr $T chr-tail --format text --from 2020-02-22T00:01:07.841640Z \
		--until 2020-02-22T00:01:07.844633Z Q
	[ "${#lines[@]}" = 3 ]
	total=$(rawseqs Q | wc -l)
	run -0 seqs --from seq:$((total - 11)) --type trade Q
	[ "${#lines[@]}" = 11 ]
	[ "${lines[0]}" = $((total - 11)) ]
	run -0 seqs --type trade --from-seq 999999 Q
	[ "$output" = "" ]
}

@test "chr-tail --follow: across rolls, until SIGTERM; several queues merged by ts" {
	trades
	$T chr-sink --queue Q --create -S 64K </dev/null
	chr-tail --follow Q >out.ev 3>&- & pid=$!
	sleep 0.2
	for i in 1 2 3; do $T chr-sink --queue Q t.ev; done
	until_ok has_count out.ev 30000
	kill -TERM $pid
	wait $pid
	seqs out.ev >got
	[ "$(wc -l <got)" = 30000 ]
	increasing got
	[ "$(tail -1 got)" = $(($(rawseqs Q | wc -l) - 1)) ]
	$T chr-tail --format csv out.ev >out.csv
	cat t.ev t.ev t.ev | $T chr-tail --format csv | cmp - out.csv
	# two queues, one stream in ts order
	$T chr-tail --format csv --type trade t.ev | head -5001 >a.csv
	{ head -1 a.csv; $T chr-tail --format csv --type trade t.ev | tail -n +5002; } >b.csv
	$T chr-csv2ev a.csv | $T chr-sink --queue A --create
	$T chr-csv2ev b.csv | $T chr-sink --queue B --create
	$T chr-tail --format csv --type trade B A >ab.csv
	$T chr-tail --format csv --type trade t.ev >t.csv
	cmp t.csv ab.csv
}

@test "chr-tail --follow --spin-us: spins before it sleeps, and gets every record appended" {
	trades
	$T chr-sink --queue Q --create -S 64K </dev/null
	run -2 $T chr-tail --spin-us 100 Q
	[[ $output == *"--spin-us goes with --follow"* ]]
	run -2 $T chr-tail --follow --spin-us 1000001 Q
	[[ $output == *"--spin-us '1000001' is not a number of us"* ]]
	run -2 $T chr-tail --follow --spin-us -1 Q
	chr-tail --follow --spin-us 2000 Q >out.ev 3>&- & pid=$!
	sleep 0.2
	for i in 1 2; do $T chr-sink --queue Q t.ev; sleep 0.1; done
	until_ok has_count out.ev 20000
	kill -TERM $pid
	wait $pid
	$T chr-tail --format csv out.ev >out.csv
	cat t.ev t.ev | $T chr-tail --format csv | cmp - out.csv
}

# ctl Q OFFSET: the 32-bit word at OFFSET of queue Q's control file
# (docs/format.md: 8 the futex word, 16 the low half of sleep_mask)
ctl() {
	od -An -tu4 -j "$2" -N4 "$1/control" | tr -d ' '
}
asleep() { [ "$(ctl Q 16)" != 0 ]; }

@test "a sleeping follower costs the writer one wake-up, not one a record; it gets every record" {
	trades
	$T chr-sink --queue Q --create -S 64K </dev/null
	chr-tail --follow Q >out.ev 3>&- & pid=$!
	until_ok asleep
	# stopped asleep, it cannot take its announcement back: the writer
	# takes it, with the one wake-up, and the 10000 records (20 rolls)
	# that follow wake no one
	kill -STOP $pid
	w0=$(ctl Q 8)
	$T chr-sink --queue Q t.ev
	[ $(($(ctl Q 8) - w0)) = 1 ]
	[ "$(ctl Q 16)" = 0 ]
	kill -CONT $pid
	until_ok has_count out.ev 10000
	# asleep again, it is woken again, by the first record of a burst
	until_ok asleep
	w0=$(ctl Q 8)
	$T chr-sink --queue Q t.ev
	until_ok has_count out.ev 20000
	[ $(($(ctl Q 8) - w0)) -ge 1 ]
	kill -TERM $pid
	wait $pid
	$T chr-tail --format csv out.ev >out.csv
	cat t.ev t.ev | $T chr-tail --format csv | cmp - out.csv
}

@test "chr-tail --reader: resumes at its committed position, also after SIGKILL" {
	trades
	$T chr-sink --queue Q --create -S 64K t.ev
	run -2 $T chr-tail --reader ../x Q
	run -2 $T chr-tail --reader r t.ev
	$T chr-tail --reader r --limit 100 Q >1.ev
	$T chr-tail --reader r --limit 100 Q >2.ev
	# 100 records besides the DEFINE; the second run starts with the
	# DEFINE of the segment it resumes in
	run -0 seqs 2.ev
	[ "${#lines[@]}" = 101 ]
	[ "${lines[0]}" = 0 ]
	[ "${lines[1]}" = 101 ]
	[ "${lines[100]}" = 200 ]
	[ -f Q/readers/r ]
	# read to the end, a second run has nothing but the DEFINE to give
	$T chr-tail --reader r2 Q >/dev/null
	run -0 seqs --reader r2 Q
	[ "${#lines[@]}" = 1 ]
	run -0 seqs --reader r2 Q
	[ "${#lines[@]}" = 1 ]
	# killed at random moments while following: the next run starts at
	# its last commit, never past what the killed one wrote out, never
	# before where that one started
	next=201
	for i in $(seq 6); do
		chr-tail --reader r --follow Q >k$i.ev 3>&- & pid=$!
		$T chr-sink --queue Q t.ev
		sleep 0.0$((RANDOM % 9 + 1))
		kill -KILL $pid
		wait $pid || true
		$T chr-tail --reader r Q >r$i.ev
		k=($(seqs --type trade k$i.ev)) r=($(seqs --type trade r$i.ev))
		total=$(rawseqs Q | wc -l)
		if [ ${#k[@]} -gt 0 ]; then
			first=$(seqs --type trade --from-seq $next --limit 1 Q)
			[ "${k[0]}" = $first ] || { echo "run $i: started at ${k[0]}, not $first"; false; }
			kend=$((${k[-1]} + 1))
		else
			kend=$next
		fi
		if [ ${#r[@]} -gt 0 ]; then
			[ "${r[0]}" -ge $next ] && [ "${r[0]}" -le $kend ] ||
				{ echo "run $i: started at $next, wrote to $kend, resumed at ${r[0]}"; false; }
			next=$((${r[-1]} + 1))
		else
			next=$kend
		fi
		[ $next = $total ]
	done
}

@test "--retain removes what registered readers passed, never what a live one, or one within its grace, has not" {
	# the segments of queue $1 that hold records (spares made ahead do not)
	datasegs() {
		python3 -c 'import glob, struct, sys
print(sum(struct.unpack_from("<Q", open(f, "rb").read(24), 16)[0] != 2**64 - 1
          for f in glob.glob(sys.argv[1] + "/[0-9]*.q")))' "$1"
	}
	trades
	$T chr-sink --queue Q --create -S 64K t.ev
	n=$(datasegs Q)
	# a live reader at seq 0: nothing goes
	chr-tail --reader slow --follow --from-end Q >/dev/null 3>&- &
	pid=$!
	sleep 0.3
	$T chr-sink --queue Q --retain 0 </dev/null
	[ "$(datasegs Q)" = "$n" ]
	[ "$(seqs --from-seq 0 --limit 1 Q | head -1)" = 0 ]
	kill -TERM $pid
	wait $pid || true
	# dead, and its position at 0: still nothing passed; it is not live,
	# but it committed less than the grace ago: nothing goes
	$T chr-sink --queue Q --retain 0 </dev/null
	[ "$(datasegs Q)" = "$n" ]
	# past the grace (none here), retention goes on
	$T chr-sink --queue Q --retain 0 --retain-grace 0 </dev/null
	[ "$(datasegs Q)" -le 2 ]
	# a young segment stays whatever the readers: records stamped now
	gen stream 3000 "$(date +%s)000000000" >now.ev
	$T chr-sink --queue R --create -S 64K --retain 1h now.ev
	[ "$(datasegs R)" -gt 2 ]
}

@test "--out and queue inputs: a stage hop can be a queue" {
	trades
	$T chr-tail --out Q t.ev
	$T chr-tail --out Q --type trade --limit 5 t.ev
	# the DEFINE that the five trades need, and them
	run -0 seqs Q
	[ "${#lines[@]}" = 10006 ]
	[ "${lines[10005]}" = 10005 ]
	run -2 $T chr-tail --out Q --format text t.ev
	# chr-csv2ev appends to a queue; chr-sink reads one (to its end)
	$T chr-csv2ev --out C "$DATA/binance-futures_trades_BTCUSDT_2020-02-22_excerpt.csv"
	$T chr-tail C | cmp - t.ev
	$T chr-sink --archive A C
	$T chr-sink --archive B t.ev
	diff -r A/v1 B/v1
	$T chr-sink --queue D --create C
	$T chr-tail D | cmp - t.ev
}

@test "a damaged queue is named by segment and byte; reading stops there" {
	trades
	$T chr-sink --queue Q --create -S 64K t.ev
	printf 'X' | dd of=Q/000000001.q bs=1 seek=330 conv=notrunc status=none
	run -1 --separate-stderr $T chr-tail Q
	[[ "$stderr" == "chr-tail: Q/000000001.q: byte 256: bad crc" ]]
	printf 'NOPE' | dd of=Q/000000000.q bs=1 seek=0 conv=notrunc status=none
	run -1 --separate-stderr $T chr-tail Q
	[[ "$stderr" == "chr-tail: Q/000000000.q: "* ]]
	run -3 --separate-stderr $T chr-tail nope/
	[[ "$stderr" == "chr-tail: cannot open 'nope/'"* ]]
}

# unseal Q ID: clear the SEALED bit of segment ID of queue Q (its CRC, now
# unchecked, left as it was)
unseal() {
	python3 - "$1/$(printf %09d "$2").q" <<'PY'
import struct, sys
f = open(sys.argv[1], "r+b")
flags = struct.unpack_from("<H", f.read(8), 6)[0]
f.seek(6)
f.write(struct.pack("<H", flags & ~1))
PY
}

@test "a segment not sealed before a later one: readers name it, the writer reseals it" {
	trades
	$T chr-sink --queue Q --create -S 64K t.ev
	$T chr-tail Q >clean.ev
	unseal Q 1
	cp -r Q R
	run -1 --separate-stderr $T chr-tail --format text Q
	[ "$stderr" = "chr-tail: Q/000000001.q: not sealed, but 000000002.q follows it" ]
	# --follow does not wait for a segment that will never be sealed
	run -1 --separate-stderr $T chr-tail --format text --follow Q
	[ "$stderr" = "chr-tail: Q/000000001.q: not sealed, but 000000002.q follows it" ]
	# a writer's recovery checks its records against the next segment's
	# base_seq and seals it again: every record back, in place
	$T chr-sink --queue R </dev/null
	$T chr-tail R | cmp - clean.ev
	rawseqs R | cut -d' ' -f1 >raw
	[ "$(wc -l <raw)" = "$(rawseqs Q | wc -l)" ]
	# records that do not prove it are left for someone to look at
	cp -r Q S
	poke S/000000001.q 330 X
	run -1 --separate-stderr $T chr-sink --queue S t.ev
	[ "$stderr" = "chr-sink: S/000000001.q: not sealed, but 000000002.q follows it; its records are damaged" ]
	run -1 --separate-stderr $T chr-tail --format text S
	[ "$stderr" = "chr-tail: S/000000001.q: byte 256: bad crc" ]
}

@test "a roll under way (the next segment given its base_seq, nothing sealed yet) is not damage" {
	trades
	# a writer's spare is made in the background, past half of its segment
	# (the last of t.ev's): the writer waits for input until it is there
	mkfifo in
	$T chr-sink --queue Q --create -S 64K <in 3>&- &
	exec {w}>in
	cat t.ev >&$w
	spare() {
		python3 -c 'import glob, struct, sys
f = sorted(glob.glob(sys.argv[1] + "/[0-9]*.q"))[-1]
sys.exit(struct.unpack_from("<Q", open(f, "rb").read(24), 16)[0] != 2**64 - 1)' Q
	}
	until_ok spare
	exec {w}>&-
	wait $!
	$T chr-tail Q >clean.ev
	# the spare after the current segment gets the base_seq that step 2 of
	# a roll gives it; the current one is not sealed yet
	python3 - Q <<'PY'
import glob, struct, sys
segs = sorted(glob.glob(sys.argv[1] + "/[0-9]*.q"))
cur, spare = segs[-2], segs[-1]
data = open(cur, "rb").read()
base = struct.unpack_from("<Q", data, 16)[0]
pos, n = 64, 0
while pos + 64 <= len(data) and struct.unpack_from("<I", data, pos)[0]:
    pos += (struct.unpack_from("<I", data, pos)[0] + 63) // 64 * 64
    n += 1
with open(spare, "r+b") as f:
    assert struct.unpack_from("<Q", f.read(24), 16)[0] == 2**64 - 1
    f.seek(16)
    f.write(struct.pack("<Q", base + n))
PY
	$T chr-tail Q | cmp - clean.ev
	# a writer takes it as a half roll, and goes on
	$T chr-sink --queue Q t.ev
	[ "$($T chr-tail --format text Q | wc -l)" = 20000 ]
}

@test "a missing segment between others is damage, not retention" {
	trades
	$T chr-sink --queue Q --create -S 64K t.ev
	rm Q/000000005.q
	run -1 --separate-stderr $T chr-tail --format text Q
	[ "$stderr" = "chr-tail: Q/000000005.q: missing, but later segments follow it" ]
	# read on from the segment after the hole (5 x 511 records before it)
	run -0 $T chr-tail --format text --from-seq 3066 Q
	[[ "${lines[0]}" == *" DEFINE "*" seq=3066 "* ]]
	[ "${#lines[@]}" = 6940 ]
	# retention removes from the front: what is left is read from there
	rm Q/00000000[0-4].q
	run -0 $T chr-tail --format text Q
}

@test "segments are made ahead: a new queue has its first spare, and so has each later segment" {
	# the base_seq of segment $2 of queue $1, "spare" for a spare
	base_seq() {
		python3 -c 'import struct, sys
b = struct.unpack_from("<Q", open(sys.argv[1], "rb").read(24), 16)[0]
print("spare" if b == 2**64 - 1 else b)' "$1/$(printf %09d "$2").q"
	}
	$T chr-sink --queue Q --create -S 64K </dev/null
	[ "$(base_seq Q 0)" = 0 ]
	[ "$(base_seq Q 1)" = spare ]
	# a roll: the next spare is made at once, not when the new segment
	# is half full (two records are far from it here)
	trades
	$T chr-tail --limit 600 t.ev >some.ev	# 77 KB: one roll
	mkfifo in
	$T chr-sink --queue Q <in 3>&- &
	exec {w}>in
	cat some.ev >&$w
	spare2() { [ -f Q/000000002.q ] && [ "$(base_seq Q 2)" = spare ]; }
	until_ok spare2
	[ "$(base_seq Q 1)" != spare ]
	exec {w}>&-
	wait $!
}
