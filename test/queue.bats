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
	$T chr-tail --format json "$@" | python3 -c '
import json, sys
for l in sys.stdin: print(json.loads(l)["seq"])'
}

# wait until $1 holds at least $2 records (10 s at most)
wait_count() {
	for _ in $(seq 100); do
		[ "$(chr-tail --format text "$1" 2>/dev/null | wc -l)" -ge "$2" ] && return 0
		sleep 0.1
	done
	return 1
}

@test "chr-sink --queue: --create, seq assigned and continued, the records kept" {
	trades
	run -3 --separate-stderr $T chr-sink --queue Q t.ev
	[ "$stderr" = "chr-sink: Q: No such file or directory; --create makes it" ]
	[ ! -e Q ]
	$T chr-sink --queue Q --create -S 64K t.ev
	[ -f Q/control ] && [ -f Q/lock ] && [ -f Q/000000001.q ]
	$T chr-sink --queue Q t.ev
	run -0 seqs Q
	[ "${#lines[@]}" = 20000 ]
	[ "${lines[0]}" = 0 ] && [ "${lines[10000]}" = 10000 ] && [ "${lines[19999]}" = 19999 ]
	# the same records but for seq (src_seq kept; set to seq when it was 0)
	$T chr-tail --format csv Q >q.csv
	cat t.ev t.ev | $T chr-tail --format csv >t.csv
	cmp t.csv q.csv
	run -0 sh -c "chr-tail --format json --from-seq 10000 --limit 2 Q | cut -d, -f5,9"
	[ "${lines[0]}" = '"seq":10000,"src_seq":10000' ]
	[ "${lines[1]}" = '"seq":10001,"src_seq":1' ]
	# every segment but the current one is sealed, with its index
	[ -f Q/000000000.idx ]
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
	[ "${#lines[@]}" = 20000 ] && [ "${lines[19999]}" = 19999 ]
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
	run -0 seqs Q
	n=${#lines[@]}
	[ "${lines[0]}" = 0 ] && [ "${lines[$((n - 1))]}" = $((n - 1)) ]
	# the last append is whole, after whatever the killed ones left
	$T chr-tail --from-seq $((n - 10000)) --format csv Q >tail.csv
	$T chr-tail --format csv t.ev >t.csv
	cmp t.csv tail.csv
}

@test "chr-tail: --from-end, --from TIME (by the index), --until, --type" {
	trades
	$T chr-sink --queue Q --create -S 64K t.ev
	run -0 $T chr-tail --from-end Q
	[ "$output" = "" ]
	run -0 --separate-stderr $T chr-tail --format text --from 2020-02-22T00:01:07.841640Z --limit 1 Q
	[[ "$output" == "2020-02-22T00:01:07.841640000Z TRADE "*" seq=100 "* ]]
	run -0 --separate-stderr $T chr-tail --format text --from 2020-02-22T00:01:07.841640Z \
		--until 2020-02-22T00:01:07.844633Z Q
	[ "${#lines[@]}" = 2 ]
	run -0 seqs --from seq:9990 --type trade Q
	[ "${#lines[@]}" = 11 ] && [ "${lines[0]}" = 9990 ]
	run -0 seqs --from-seq 999999 Q
	[ "$output" = "" ]
}

@test "chr-tail --follow: across rolls, until SIGTERM; several queues merged by ts" {
	trades
	$T chr-sink --queue Q --create -S 64K </dev/null
	chr-tail --follow Q >out.ev 3>&- & pid=$!
	sleep 0.2
	for i in 1 2 3; do $T chr-sink --queue Q t.ev; done
	wait_count out.ev 30000
	kill -TERM $pid
	wait $pid
	run -0 seqs out.ev
	[ "${#lines[@]}" = 30000 ] && [ "${lines[29999]}" = 29999 ]
	# two queues, one stream in ts order
	$T chr-tail --format csv --type trade t.ev | head -5001 >a.csv
	{ head -1 a.csv; $T chr-tail --format csv --type trade t.ev | tail -n +5002; } >b.csv
	$T chr-csv2ev a.csv | $T chr-sink --queue A --create
	$T chr-csv2ev b.csv | $T chr-sink --queue B --create
	$T chr-tail --format csv --type trade B A >ab.csv
	$T chr-tail --format csv --type trade t.ev >t.csv
	cmp t.csv ab.csv
}

@test "chr-tail --reader: resumes at its committed position, also after SIGKILL" {
	trades
	$T chr-sink --queue Q --create -S 64K t.ev
	run -2 $T chr-tail --reader ../x Q
	run -2 $T chr-tail --reader r t.ev
	$T chr-tail --reader r --limit 100 Q >1.ev
	$T chr-tail --reader r --limit 100 Q >2.ev
	run -0 seqs 2.ev
	[ "${lines[0]}" = 100 ] && [ "${lines[99]}" = 199 ]
	[ -f Q/readers/r ]
	# killed at random moments while following: the next run starts at
	# its last commit, never past what the killed one wrote out, never
	# before where that one started
	next=200
	for i in $(seq 6); do
		chr-tail --reader r --follow Q >k$i.ev 3>&- & pid=$!
		$T chr-sink --queue Q t.ev
		sleep 0.0$((RANDOM % 9 + 1))
		kill -KILL $pid
		wait $pid || true
		$T chr-tail --reader r Q >r$i.ev
		k=($(seqs k$i.ev)) r=($(seqs r$i.ev))
		total=$(seqs Q | wc -l)
		if [ ${#k[@]} -gt 0 ]; then
			[ "${k[0]}" = $next ]
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

@test "--retain removes what registered readers passed, never what a live one has not" {
	trades
	$T chr-sink --queue Q --create -S 64K t.ev
	n=$(ls Q/*.q | wc -l)
	# a live reader at seq 0: nothing goes
	chr-tail --reader slow --follow --from-end Q >/dev/null 3>&- &
	pid=$!
	sleep 0.3
	$T chr-sink --queue Q --retain 0 </dev/null
	[ "$(ls Q/*.q | wc -l)" = "$n" ]
	[ "$(seqs --from-seq 0 --limit 1 Q)" = 0 ]
	kill -TERM $pid
	wait $pid || true
	# dead, and its position at 0: still nothing passed... but it is
	# not live, so retention may go on
	$T chr-sink --queue Q --retain 0 </dev/null
	[ "$(ls Q/*.q | wc -l)" -le 2 ]
	# a young segment stays whatever the readers: records stamped now
	"$BUILD/test/unit/t-fmt" gen 3000 "$(date +%s)000000000" >now.ev
	$T chr-sink --queue R --create -S 64K --retain 1h now.ev
	[ "$(ls R/*.q | wc -l)" -gt 2 ]
}

@test "--out and queue inputs: a stage hop can be a queue" {
	trades
	$T chr-tail --out Q t.ev
	$T chr-tail --out Q --type trade --limit 5 t.ev
	run -0 seqs Q
	[ "${#lines[@]}" = 10005 ] && [ "${lines[10004]}" = 10004 ]
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
	printf 'X' | dd of=Q/000000001.q bs=1 seek=200 conv=notrunc status=none
	run -1 --separate-stderr $T chr-tail Q
	[[ "$stderr" == "chr-tail: Q/000000001.q: byte 192: bad crc" ]]
	printf 'NOPE' | dd of=Q/000000000.q bs=1 seek=0 conv=notrunc status=none
	run -1 --separate-stderr $T chr-tail Q
	[[ "$stderr" == "chr-tail: Q/000000000.q: "* ]]
	run -3 --separate-stderr $T chr-tail nope/
	[[ "$stderr" == "chr-tail: cannot open 'nope/'"* ]]
}
