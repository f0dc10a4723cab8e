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

# like Q: a queue Q of segments of size S that got the pieces P... appended
# one by one (the same seqs as a queue that got them so: src_seq in the
# clean queues is the raw queue's seq, DEFINE repeats at each roll included)
like() {
	local q=$1 size=$2 f
	shift 2
	$T chr-sink --queue "$q" --create -S "$size" </dev/null
	for f in "$@"; do $T chr-sink --queue "$q" -S "$size" "$f"; done
}

# the records of the queues under $1 as JSON lines without seq and crc,
# the synthetic ones left out (or only them with "synthetic"), sorted;
# with RESTAMP set, src_seq made seq (a raw queue, as the refinery reads it)
records() {
	local dirs=() d
	for d in $(find "$1" -name control -printf '%h\n' | sort); do dirs+=("$d"); done
	$T chr-tail ${RESTAMP:+--restamp} --format json "${dirs[@]}" | python3 -c '
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

@test "chr-refine: -h, misuse" {
	run -0 chr-refine -h
	[[ "${lines[0]}" == "usage: chr-refine "* ]]
	run -2 chr-refine
	run -2 chr-refine --shard 3 RAW C
	run -2 chr-refine --shard 5/3 RAW C
	run -2 chr-refine --bogus RAW C
	run -3 --separate-stderr chr-refine nope C
	[ "$stderr" = "chr-refine: 'nope' is not a queue" ]
	# a CLEAN refined with one selection refuses another
	$T chr-sink --queue R1 --create </dev/null
	$T chr-refine --once --venue binance R1 C1
	run -2 --separate-stderr chr-refine --once R1 C1
	[ "${stderr_lines[0]}" = "chr-refine: 'C1' is refined with the selection '--venue binance'; a refinery of '(every instrument)' needs a CLEAN of its own" ]
	# an option a stage refuses is a usage error before anything is made
	$T chr-sink --queue RAW --create </dev/null
	run -2 --separate-stderr chr-refine --once --interval 0 RAW C
	[ "${stderr_lines[0]}" = "chr-refine: --interval '0' is not a duration above 0" ]
	[ ! -e C ]
}

@test "retention removed the segments where the refinery started: the restart goes on from the clean queues, equal to one run" {
	raw 20001
	$T chr-tail RAW >all.ev
	pieces all.ev 2
	like REF 256K piece.00 piece.01
	$T chr-refine --once --interval 5s -S 256K REF C1
	$T chr-sink --queue RAW2 --create -S 256K piece.00
	run -0 --separate-stderr $T chr-refine --once --interval 5s -S 256K RAW2 C2
	assert_equal "$stderr" ""
	# the refinery is stopped; retention removes what its reader passed
	$T chr-sink --queue RAW2 --retain 0 </dev/null
	[ ! -e RAW2/000000000.q ]
	$T chr-sink --queue RAW2 -S 256K piece.01
	run -0 --separate-stderr $T chr-refine --once --interval 5s -S 256K RAW2 C2
	assert_equal "$stderr" ""
	same_queues C1 C2
}

@test "retention passed a stopped refinery: a GAP in each book queue at the hole, then a snapshot, nothing after it lost" {
	# two books (BTCUSDT, ETHUSDT), twice: the second pass an hour later,
	# with the vendor's snapshot at its start
	gzip -cd "$L2" | head -n 20001 | python3 -c '
import sys
rows = sys.stdin.read().splitlines()
print("\n".join(rows))
for r in rows[1:]:
    f = r.split(",")
    f[2], f[3] = str(int(f[2]) + 3600000000), str(int(f[3]) + 3600000000)
    print(",".join(f))' >b.csv
	$T chr-csv2ev b.csv >btc.ev
	sed 's/,BTCUSDT,/,ETHUSDT,/' b.csv | $T chr-csv2ev >eth.ev
	$T chr-tail btc.ev eth.ev >all.ev
	half=$($T chr-tail --format json --until 2024-08-09T00:30:00Z all.ev | wc -l)
	split() { python3 -c '
import struct, sys
data, cuts, pos, n = open(sys.argv[1], "rb").read(), [int(c) for c in sys.argv[2:]], 0, 0
outs, k = [open("part%d.ev" % i, "wb") for i in range(len(cuts) + 1)], 0
while pos < len(data):
    span = (struct.unpack_from("<I", data, pos)[0] + 63) // 64 * 64
    while k < len(cuts) and n >= cuts[k]:
        k += 1
    outs[k].write(data[pos:pos + span])
    pos, n = pos + span, n + 1' "$@"; }
	# DEFINEs: 2 records more than the JSON lines count
	split all.ev 300 $((half + 2))
	$T chr-sink --queue RAW --create -S 64K part0.ev
	# the next seq of RAW (seqs count the DEFINE repeats at each roll)
	next() { echo $(($($T chr-tail --format json RAW | tail -1 | python3 -c 'import json, sys; print(json.load(sys.stdin)["seq"])') + 1)); }
	e0=$(next)
	$T chr-refine --once --interval 10s RAW C
	cp -a C C0
	# the rest of the first pass while the refinery is down for longer
	# than the grace: retention removes all but the newest segment; then
	# the second pass
	$T chr-sink --queue RAW -S 64K --retain 0 --retain-grace 0 part1.ev
	e1=$(next)
	$T chr-sink --queue RAW -S 64K part2.ev
	held=$(ls RAW/*.q | head -1 | xargs -I{} python3 -c 'import struct, sys; print(struct.unpack_from("<Q", open(sys.argv[1], "rb").read(24), 16)[0])' {})
	[ "$held" -gt "$e0" ]
	[ "$held" -lt "$e1" ]
	# the same restart of a copy whose reader of RAW is gone
	cp -a RAW RAW.noreader
	cp -a C C.noreader
	rm RAW.noreader/readers/refine-*
	run -0 --separate-stderr $T chr-refine --once --interval 10s RAW.noreader C.noreader
	run -0 --separate-stderr $T chr-refine --once --interval 10s RAW C
	same_queues C C.noreader
	[[ "$stderr" == *"chr-demux: the input lost $((held - e0)) records (seq $e0 to $((held - 1))) that the clean queues lack: a GAP record marks the hole in 2 books; the other streams may lack records there too"* ]]
	for s in BTCUSDT ETHUSDT; do
		end=$($T chr-tail --format json C0/binance-futures/$s/book | tail -1 | python3 -c 'import json, sys; print(json.load(sys.stdin)["seq"])')
		$T chr-tail --format json --from seq:$((end + 1)) C/binance-futures/$s/book >after.json
		python3 - after.json $held $e0 <<'PY'
import json, sys
r = [json.loads(l) for l in open(sys.argv[1])]
held, e0 = int(sys.argv[2]), int(sys.argv[3])
g = r[0]
assert g["type_name"] == "GAP" and g["src_seq"] == held and (g["expected"], g["got"]) == (e0, held), g["type_name"]
# the book unknown until the vendor's snapshot: diffs only, then it
snap = [i for i, x in enumerate(r) if x["type_name"] == "BOOK_SNAPSHOT"][0]
assert all(x["type_name"] == "BOOK_DIFF" for x in r[1:snap]), "before the snapshot"
assert not r[snap]["flags"] & 1, "the vendor's snapshot"
PY
	done
	# every raw record from the hole on is in the clean queues, once
	RESTAMP=1 records RAW >raw.json
	records C >clean.json
	python3 - raw.json clean.json $held <<'PY'
import collections, json, sys
held = int(sys.argv[3])
raw = [l for l in open(sys.argv[1]) if json.loads(l)["src_seq"] >= held]
clean = collections.Counter(l for l in open(sys.argv[2]) if json.loads(l)["src_seq"] >= held)
assert raw and collections.Counter(raw) == clean, "records after the hole"
PY
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
	RESTAMP=1 records RAW >raw.json
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
	id=$(cat S/.refine-id)
	[ -f RAW/readers/refine-$id-0-of-2 ]
	[ -f RAW/readers/refine-$id-1-of-2 ]
	same_queues CLEAN S
}

@test "SIGTERM to the process group (systemd, timeout): exit 0, one line; a restart continues exactly once" {
	raw 20001
	$T chr-tail RAW >all.ev
	pieces all.ev 8
	like REF 1M piece.0*
	$T chr-refine --once --interval 5s -S 256K REF C1
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
	# the same records reach RAW2 in 40 pieces while the refinery follows
	# it and one of its stages is killed at a random moment, 25 times
	$T chr-tail RAW >all.ev
	pieces all.ev 40
	like REF 256K piece.*
	$T chr-refine --once --interval 5s -S 256K REF C1
	# retention runs on RAW2 at each append: it removes what the refinery
	# passed, never what it still needs, also while a kill has it down
	$T chr-sink --queue RAW2 --create -S 256K </dev/null
	( for f in piece.*; do chr-sink --queue RAW2 -S 256K --retain 0 $f; sleep 0.1; done ) 3>&- &
	feeder=$!
	kills=0
	while [ $kills -lt 24 ]; do
		chr-refine --interval 5s -S 256K RAW2 C2 3>&- 2>/dev/null & pid=$!
		sleep 0.$((RANDOM % 3))$((RANDOM % 10))
		stages=(chr-tail chr-demux chr-book chr-sink)
		stage=${stages[kills % 4]}	# each stage six times
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
	# the last run reads to the end
	$T chr-refine --once --interval 5s -S 256K RAW2 C2
	same_queues C1 C2
	# retention did remove segments meanwhile
	[ ! -e RAW2/000000000.q ]
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
