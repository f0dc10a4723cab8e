#!/usr/bin/env bats
# The refinery, scripts/chr-refine: a multiplexed raw queue refined into one
# clean queue per instrument and stream, snapshots injected, and exactly
# once across stages killed at random moments.

load test_helper

L2="$DATA/binance-futures_incremental_book_L2_BTCUSDT_2024-08-08.csv.gz"
TRADES="$DATA/binance-futures_trades_BTCUSDT_2024-08-08.csv.gz"

# RAW: BTCUSDT's book and trades and a second instrument, ETHUSDT (the
# same book under another name), imported apart and merged by chr-tail
raw() {
	gzip -cd "$L2" | head -n "${1:-30001}" >b.csv
	$T chr-csv2ev b.csv >btc.ev
	sed 's/,BTCUSDT,/,ETHUSDT,/' b.csv | $T chr-csv2ev >eth.ev
	gzip -cd "$TRADES" | head -n 2001 | $T chr-csv2ev >tr.ev
	$T chr-tail btc.ev eth.ev tr.ev | $T chr-sink --queue RAW --create -S 1M
}

# the records of the queues under $1 as JSON lines without seq and crc,
# the synthetic ones left out (or only them with "synthetic"), sorted
records() {
	local dirs=() d
	for d in $(find "$1" -name control -printf '%h\n' | sort); do dirs+=("$d"); done
	$T chr-tail --format json "${dirs[@]}" | python3 -c '
import json, sys
want = sys.argv[1]
out = []
for l in sys.stdin:
    r = json.loads(l)
    synthetic = r["flags"] & 1
    if r["type_name"] == "DEFINE" or (want == "synthetic") != bool(synthetic):
        continue
    del r["seq"], r["crc"]
    out.append((r["ts"], r["venue"], r["market"], r["src_seq"], json.dumps(r, sort_keys=True)))
for o in sorted(out):
    print(o[4])' "${2:-raw}"
}

# every queue under $1 and $2 holds the same records, byte for byte
same_queues() {
	local a b
	a=$(cd "$1" && find . -name control -printf '%h\n' | sort)
	b=$(cd "$2" && find . -name control -printf '%h\n' | sort)
	[ "$a" = "$b" ] || { echo "queues differ: $a / $b"; return 1; }
	for q in $a; do
		$T chr-tail "$1/$q" >a.q
		$T chr-tail "$2/$q" >b.q
		cmp a.q b.q || { echo "$q differs"; return 1; }
	done
}

@test "chr-refine: -h, misuse" {
	run -0 chr-refine -h
	[[ "${lines[0]}" == "usage: chr-refine "* ]]
	run -2 chr-refine
	run -2 chr-refine --shard 3 RAW C
	run -2 chr-refine --shard 5/3 RAW C
	run -2 chr-refine --bogus RAW C
	run -3 --separate-stderr chr-refine nope C
	[ "$stderr" = "chr-refine: 'nope' is not a queue" ]
	# an option a stage refuses is a usage error before anything is made
	$T chr-sink --queue RAW --create </dev/null
	run -2 --separate-stderr chr-refine --once --interval 0 RAW C
	[ "${stderr_lines[0]}" = "chr-refine: chr-snapinject: --interval '0' is not a duration above 0" ]
	[ ! -e C ]
}

@test "a RAW that lost the records where the refinery started is refused, not refined anew" {
	raw
	rm -r RAW
	$T chr-tail btc.ev eth.ev tr.ev | $T chr-sink --queue RAW --create -S 64K
	run -0 --separate-stderr $T chr-refine --once RAW CLEAN
	[ "$(ls RAW/*.q | wc -l)" -ge 3 ]
	rm RAW/000000000.q RAW/000000000.idx	# what retention does
	cp -a CLEAN CLEAN.before
	run -3 --separate-stderr $T chr-refine --once RAW CLEAN
	[[ $stderr == "chr-refine: 'RAW' no longer holds seq 0 to "*" (retention): a run from seq 0, where this refinery started (CLEAN/.refine), cannot continue its clean queues exactly; keep RAW's records from there, or refine into a new CLEAN" ]]
	diff -r CLEAN.before CLEAN
}

@test "1000 raw diffs, 1s interval: the clean book has snapshots that raw had not, each followed by diffs" {
	gzip -cd "$L2" | $T chr-csv2ev | $T chr-tail --type book --limit 1001 >seed.ev
	[ "$($T chr-tail --format text --type diff seed.ev | wc -l)" = 1000 ]
	$T chr-sink --queue RAW --create <seed.ev
	run -0 --separate-stderr $T chr-refine --once --interval 1s RAW CLEAN
	[ "$stderr" = "" ]
	book=CLEAN/binance-futures/BTCUSDT/book
	[ -f $book/control ]
	$T chr-tail --format text $book | awk '{ print $2, $7 }' >types
	injected=$(grep -c '^BOOK_SNAPSHOT flags=.*SYNTHETIC' types)
	[ "$injected" -ge 3 ]
	# raw has one snapshot, the vendor's; the clean stream has it and more
	[ "$($T chr-tail --format text --type snapshot RAW | wc -l)" = 1 ]
	[ "$(grep -c '^BOOK_SNAPSHOT' types)" = $((injected + 1)) ]
	# a diff follows each snapshot, and every diff of raw is there
	awk '/^BOOK_SNAPSHOT/ { s = 1; next } s && !/^BOOK_DIFF/ { exit 1 } { s = 0 } END { exit s }' types
	[ "$(grep -c '^BOOK_DIFF' types)" = 1000 ]
}

@test "a multiplexed raw queue refines into a queue per instrument and stream, and merges back" {
	raw
	run -0 $T chr-refine --once --interval 5s RAW CLEAN
	run -0 sh -c "cd CLEAN && find . -name control | sort"
	[ "${lines[*]}" = "./binance-futures/BTCUSDT/book/control ./binance-futures/BTCUSDT/trade/control ./binance-futures/ETHUSDT/book/control" ]
	# each starts with its instrument's DEFINE
	for q in BTCUSDT/book BTCUSDT/trade ETHUSDT/book; do
		$T chr-tail --format text CLEAN/binance-futures/$q | head -1 | grep -q " DEFINE binance-futures ${q%/*} seq=0 "
	done
	# merged back: the raw records, but for seq and the injected snapshots
	records RAW >raw.json
	records CLEAN >clean.json
	[ "$(wc -l <raw.json)" -gt 1000 ]
	cmp raw.json clean.json
	[ "$(records CLEAN synthetic | wc -l)" -ge 8 ]
	# a clean book replays from any of its snapshots to the same book
	book=CLEAN/binance-futures/ETHUSDT/book
	$T chr-book --at 2030-01-01 --depth 0 --format json $book >whole.json
	snaps=$($T chr-tail --format json --type snapshot $book | python3 -c '
import json, sys
print(" ".join(str(json.loads(l)["seq"]) for l in sys.stdin))')
	[ $(echo $snaps | wc -w) -ge 4 ]
	for s in $snaps; do
		$T chr-tail --from-seq $s $book | $T chr-book --at 2030-01-01 --depth 0 --format json |
			cmp - whole.json
	done
	# shards split the instruments between refineries
	run -0 $T chr-refine --once --interval 5s --shard 0/2 RAW S
	run -0 $T chr-refine --once --interval 5s --shard 1/2 RAW S
	[ -f S/.refine-0-of-2 ]
	[ -f S/.refine-1-of-2 ]
	same_queues CLEAN S
}

@test "SIGTERM to the process group (systemd, timeout): exit 0, one line; a restart continues exactly once" {
	raw 20001
	$T chr-refine --once --interval 5s -S 256K RAW C1
	$T chr-tail RAW >all.ev
	pieces all.ev 8
	$T chr-sink --queue RAW2 --create -S 1M </dev/null
	for f in piece.0*; do
		$T chr-sink --queue RAW2 -S 1M $f
		setsid chr-refine --interval 5s -S 256K RAW2 C2 3>&- 2>err &
		pid=$!
		# stopped while its pipeline runs (a process killed before it
		# could set a handler dies of the signal, as any would)
		for _ in $(seq 300); do pgrep -g $pid -x chr-sink >/dev/null && break; sleep 0.05; done
		sleep 0.$((RANDOM % 5))
		kill -TERM -- -$pid
		rc=0
		wait $pid || rc=$?
		[ $rc = 0 ]
		run -0 cat err
		assert_output "chr-refine: stopped by SIGTERM: the clean queues hold every record read; run chr-refine again to continue"
		# nothing of the group is left
		# (a zombie is not left: its parent ended, and init reaps it)
		run -1 pgrep -r R,S,D,T,t -g $pid
	done
	run -0 --separate-stderr $T chr-refine --once --interval 5s -S 256K RAW2 C2
	[ "$stderr" = "" ]
	same_queues C1 C2
}

@test "exactly once: stages killed at random moments, the clean queues end byte-identical" {
	raw 20001
	$T chr-refine --once --interval 5s -S 256K RAW C1
	# the same records reach RAW2 in 40 pieces while the refinery follows
	# it and one of its stages is killed at a random moment, 25 times
	$T chr-tail RAW >all.ev
	pieces all.ev 40
	$T chr-sink --queue RAW2 --create -S 1M </dev/null
	( for f in piece.*; do chr-sink --queue RAW2 -S 1M $f; sleep 0.1; done ) 3>&- &
	feeder=$!
	kills=0
	while [ $kills -lt 25 ]; do
		chr-refine --interval 5s -S 256K RAW2 C2 3>&- 2>/dev/null & pid=$!
		sleep 0.$((RANDOM % 3))$((RANDOM % 10))
		stages=(chr-tail chr-demux chr-book chr-snapinject chr-sink)
		stage=${stages[kills % 5]}	# each stage five times
		kids=$(pgrep -d, -P $pid || true)
		victim=
		[ -n "$kids" ] && victim=$(pgrep -x -P "$kids" "$stage" || true)
		[ -n "$victim" ] && kill -KILL $victim 2>/dev/null && kills=$((kills + 1))
		# a killed stage stops the refinery (else it follows on: stop it)
		for _ in $(seq 100); do kill -0 $pid 2>/dev/null || break; sleep 0.1; done
		kill -TERM $pid 2>/dev/null || true
		wait $pid || true
	done
	wait $feeder
	$T chr-tail RAW2 | cmp - all.ev
	# the last run reads to the end
	$T chr-refine --once --interval 5s -S 256K RAW2 C2
	same_queues C1 C2
}

@test "chr-refine and chr-archive-tap from another directory, through a symlink, or installed" {
	raw 2001
	$T chr-refine --once --interval 5s RAW REF
	$T chr-sink --queue HOT --create tr.ev
	# a source tree (programs in bin/chr-*/) and an installed bin/, with
	# the programs of the build under test, and no program on PATH
	script_layouts chr-refine chr-archive-tap
	ln -s ../tree/scripts/chr-refine links/refine
	ln -s ../inst/chr-archive-tap links/tap
	cd cwd/deep
	n=0
	for s in ../../tree/scripts ../../links ../../inst; do
		n=$((n + 1))
		r=$s/chr-refine t=$s/chr-archive-tap
		[ $s = ../../links ] && r=$s/refine t=$s/tap
		run -0 --separate-stderr env PATH=/usr/bin:/bin $T $r --once --interval 5s ../../RAW C$n
		assert_equal "$stderr" ""
		(cd ../.. && same_queues REF cwd/deep/C$n)
		run -0 --separate-stderr env PATH=/usr/bin:/bin $T $t --once --reader r$n ../../HOT A$n
		assert_equal "$stderr" ""
		$T chr-tail A$n | cmp - <($T chr-tail ../../HOT)
	done
}
