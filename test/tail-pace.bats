#!/usr/bin/env bats
# chr-tail --pace: records written when their ts is due (an absolute
# schedule from the first record's), the same bytes as unpaced, the speed
# checked, and lateness reported when the output is slower. Timing is only
# ever asserted as a lower bound that sleeping cannot break.

load test_helper

now_ns() {
	date +%s%N
}

@test "--pace: the output is the records read, unchanged" {
	gen stream 50 >s.q
	# 50 records a second apart at 1000x: 49 ms of schedule
	$T chr-tail --pace 1000 s.q >out.q
	cmp s.q out.q
	$T chr-tail --pace 1000 <s.q >out.q
	cmp s.q out.q
	run -0 --separate-stderr sh -c "chr-tail --pace 1000 --format text s.q | wc -l"
	[ "$output" = 50 ]
	[ -z "$stderr" ]
}

@test "--pace: a ts going backwards goes out at once, in input order" {
	gen stream 20 >a.q
	gen stream 20 >b.q
	cat a.q b.q >ab.q	# the second stream starts 19 s behind the first's end
	$T chr-tail --pace 100 <ab.q >out.q
	cmp ab.q out.q
}

@test "--pace 1: records spanning 0.3 s of ts take at least 0.3 s" {
	gen spec D 7 42 v S T 7 42 2024-08-08 301 >t.q	# 1 ms apart
	t0=$(now_ns)
	$T chr-tail --pace 1 t.q >out.q
	t1=$(now_ns)
	cmp t.q out.q
	[ $((t1 - t0)) -ge 300000000 ]
	# fractions: 0.3 s of ts at 0.5 take 0.6 s at least
	gen spec D 7 42 v S T 7 42 2024-08-08 31 >u.q	# 30 ms
	t0=$(now_ns)
	$T chr-tail --pace 0.5 u.q >out.q
	t1=$(now_ns)
	[ $((t1 - t0)) -ge 60000000 ]
}

@test "--pace: a bad speed is a usage error" {
	gen stream 3 >s.q
	for v in 0 0.0 -1 abc 1e3 inf nan '' 1000001 ' 1' 1x; do
		run -2 --separate-stderr $T chr-tail --pace "$v" s.q
		[ -z "$output" ]
		[[ "$stderr" == "chr-tail: --pace '$v' is not a speed"* ]]
	done
	run -2 --separate-stderr $T chr-tail --pace
	[[ "$stderr" == *"option '--pace' needs a value"* ]]
}

@test "--pace: a slower output is reported, while late and at the end" {
	# 40 s of ts at 100x is 0.4 s of schedule; the 5 MB of records fill
	# the pipe while the reader sleeps 3 s, so most go out late
	gen spec D 7 42 v S T 7 42 2024-08-08 40000 >big.q
	$T chr-tail --pace 100 big.q 2>err | (sleep 3; cat >out.q)
	cmp big.q out.q
	run -0 cat err
	[[ "${lines[0]}" =~ ^"chr-tail: --pace 100: "[0-9]+\.[0-9]{3}" s behind the records' schedule (the output or the input is slower)"$ ]]
	[[ "${lines[-1]}" =~ ^"chr-tail: --pace 100: "[0-9]+" of 40000 records sent late (more than 0.100 s behind the schedule), at worst "[0-9]+\.[0-9]{3}" s"$ ]]
}

@test "--pace with --follow: SIGTERM ends a sleep" {
	gen stream 2 >s.q
	gen stream 2 $((1723075200 + 3600))000000000 2 >late.q
	cat s.q late.q >two.q
	# the third record is due an hour after the first
	$T chr-tail --pace 1 --follow two.q >out.q &
	pid=$!
	until_ok test -s out.q	# written before the sleep
	kill -TERM $pid
	st=0
	wait $pid || st=$?
	[ $st = 0 ]
	run -0 sh -c "chr-tail --format text out.q | wc -l"
	[ "$output" = 2 ]
}

@test "--pace with --reader: the position is committed before each sleep, so a kill resumes where the output ends" {
	gen stream 40 >s.q	# a record a second
	$T chr-sink --queue Q --create s.q
	$T chr-tail --format text Q | grep -v ' DEFINE ' >all
	# at 10x, killed after 3 records are out: their position is committed
	chr-tail --reader R --pace 10 --format text Q >out 3>&- &
	pid=$!
	has3() { [ "$(grep -vc ' DEFINE ' out)" -ge 3 ]; }
	until_ok has3
	kill -9 $pid
	wait $pid || true
	[ "$(readerpos Q R)" -ge 3 ]
	# the restart goes on from there: every record out once
	$T chr-tail --reader R --pace 1000 --format text Q >>out
	grep -v ' DEFINE ' out | diff - all
}
