#!/usr/bin/env bats
# chr-book: the filter (records passed on, GAP records where a book cannot
# be trusted), the views (--at, --bbo, --every) against the independent
# reference test/book-ref, bad input and exit codes.

load test_helper

L2="$DATA/binance-futures_incremental_book_L2_BTCUSDT_2024-08-08.csv.gz"
HDR=exchange,symbol,timestamp,local_timestamp,is_snapshot,side,price,amount

# l2.ev: the real Binance capture as records
l2() {
	gzip -cd "$L2" | $T chr-csv2ev >l2.ev
}

# "TYPE flags=..." of each record (and a GAP's fields), one a line
types() {
	$T chr-tail --format text "$@" |
		awk '{ s = $2 " " $7; if ($2 == "GAP") s = s " " $8 " " $9 " " $10; print s }'
}

# a small book: snapshot 100/101, then an event per line of $@ (rows
# "side,price,amount" separated by spaces), one second apart
small() {
	echo $HDR
	echo "x,S,1000000,1000000,true,bid,100,1"
	echo "x,S,1000000,1000000,true,ask,101,2"
	local t=2000000
	for ev in "$@"; do
		for row in $ev; do echo "x,S,$t,$t,false,$row"; done
		t=$((t + 1000000))
	done
}

@test "-h, --version and misuse" {
	run -0 $T chr-book -h
	[[ "${lines[0]}" == "usage: chr-book [--snapshots d] [options] [file | dir | queue | -]..." ]]
	run -0 $T chr-book --version
	[[ "$output" == "chr-book "* ]]
	run -2 --separate-stderr $T chr-book --at yesterday
	[ "${stderr_lines[0]}" = "chr-book: --at 'yesterday' is not a time" ]
	run -2 --separate-stderr $T chr-book --depth 5
	[ "${stderr_lines[0]}" = "chr-book: --depth goes with --at or --every" ]
	run -2 $T chr-book --bbo --at 2024-01-01
	run -2 $T chr-book --every 0s
	run -2 $T chr-book --every 1s --depth 0
	run -2 $T chr-book --format csv
	run -2 $T chr-book --format xml --bbo
	run -2 $T chr-book --nope
	run -3 --separate-stderr $T chr-book nope.ev
	[[ "$stderr" == "chr-book: cannot open 'nope.ev'"* ]]
}

@test "the filter passes a clean stream on byte for byte, and empty input" {
	l2
	$T chr-book l2.ev >out.ev
	cmp l2.ev out.ev
	run -0 --separate-stderr $T chr-book </dev/null
	[ "$output" = "" ]
	[ "$stderr" = "" ]
}

@test "an update id gap: a GAP before the diff, a warning, the book unknown until a snapshot" {
	small "bid,100,3" "ask,101,4" "bid,99,1" | $T chr-csv2ev >s.ev
	drop s.ev 1 0x11 >gap.ev	# the second diff: ids 1 (snapshot), 2, _, 4
	run -0 --separate-stderr $T chr-book gap.ev
	[[ "${stderr_lines[0]}" == "chr-book: x S: seq "*": update id gap: the book is at 2, the diff follows 3 (ids 4..4): unknown until the next snapshot" ]]
	[[ "${stderr_lines[-1]}" == "chr-book: 1 update id gap, 0 diffs without a snapshot, 0 crossed books, 0 stale diffs, 0 records with levels left out" ]]
	$T chr-book -q gap.ev >out.ev
	run -0 types out.ev
	[ "${lines[0]}" = "DEFINE flags=-" ]
	[ "${lines[1]}" = "BOOK_SNAPSHOT flags=LAST" ]
	[ "${lines[2]}" = "BOOK_DIFF flags=LAST" ]
	[ "${lines[3]}" = "GAP flags=SYNTHETIC expected=3 got=4 reason=update-id" ]
	[ "${lines[4]}" = "BOOK_DIFF flags=LAST" ]
	[ "${#lines[@]}" = 5 ]
	# the GAP takes the seq, ts and src_seq of the diff it precedes
	run -0 sh -c "chr-tail --format json --defines out.ev | sed -n '4p;5p' | cut -d, -f5-9"
	[ "${lines[0]}" = "${lines[1]}" ]
	# no book after the gap: --bbo stops, --at names it
	run -0 $T chr-book -q --bbo --format csv gap.ev
	[ "${#lines[@]}" = 3 ]
	run -0 --separate-stderr $T chr-book --at 1970-01-01T00:00:10Z --format text gap.ev
	[ "$output" = "" ]
	[[ "$stderr" == *"chr-book: x S: the book is not known at that time"* ]]
	# -q: no warnings
	run -0 --separate-stderr $T chr-book -q gap.ev
	[ "$stderr" = "" ]
}

# the payload of a book record, in hex: ids $1..$2 following $3, one bid
# at $4 and one ask at $5, of size 1
book_hex() {
	python3 -c 'import struct, sys
f, l, p, b, a = map(int, sys.argv[1:])
print((struct.pack("<QQQIIbb6x", f, l, p, 1, 1, 0, 0) + struct.pack("<qqqq", b, 1, a, 1)).hex())' "$@"
}

@test "a book started from chr-snapinject's snapshot takes the next diff as the book it was made from" {
	# Binance futures: the first diff straddles the snapshot, then each
	# follows by pu, its first id well past the last one (ids are global)
	{
		gen rec DEFINE 7 42 0s 0 0 v S
		gen rec BOOK_SNAPSHOT 7 42 0s 1 2 "$(book_hex 100 100 0 100 101)"
		gen rec BOOK_DIFF 7 42 500ms 2 2 "$(book_hex 90 120 80 99 102)"
		gen rec BOOK_DIFF 7 42 1500ms 3 2 "$(book_hex 150 160 120 98 103)"
		gen rec BOOK_DIFF 7 42 2500ms 4 2 "$(book_hex 170 180 160 97 104)"
	} >f.ev
	$T chr-snapinject --interval 1s f.ev >si.ev
	run -0 sh -c "chr-tail --format text si.ev | grep SYNTHETIC"
	[[ "${lines[1]}" == *" ids=160..160 prev=160 bid[3] 100 x 1, 99 x 1, 98 x 1; "* ]]
	# from the last synthetic snapshot on, as a warm start reads: no gap
	$T chr-tail --from 2s si.ev >from.ev
	run -0 --separate-stderr sh -c "chr-book from.ev >out.ev"
	[ "$stderr" = "" ]
	run -0 types out.ev
	[ "${lines[1]}" = "BOOK_SNAPSHOT flags=LAST,SYNTHETIC" ]
	[ "${lines[2]}" = "BOOK_DIFF flags=LAST" ]
	[ "${#lines[@]}" = 3 ]
	run -0 $T chr-book --at 10s --depth 1 --format csv from.ev
	[ "${lines[1]}" = "v,S,0,10000000,101,1,100,1" ]	# gen sets no ts_event
	# and the whole stream has no gap either
	run -0 --separate-stderr sh -c "chr-book si.ev >/dev/null"
	[ "$stderr" = "" ]
}

@test "after a snapshot, a diff that follows its id by prev is taken (Binance futures, u == lastUpdateId first)" {
	# the diff whose u is the snapshot's id is wholly in it (stale); the
	# next follows it by pu, its first id well past id + 1
	{
		gen rec DEFINE 7 42 0s 0 0 v S
		gen rec BOOK_SNAPSHOT 7 42 0s 1 2 "$(book_hex 100 100 0 100 101)"
		gen rec BOOK_DIFF 7 42 1s 2 2 "$(book_hex 90 100 80 99 102)"
		gen rec BOOK_DIFF 7 42 2s 3 2 "$(book_hex 150 160 100 98 103)"
	} >f.ev
	run -0 --separate-stderr sh -c "chr-book f.ev | chr-tail --format text | cut -d' ' -f2"
	[ "$stderr" = "" ]
	assert_output "DEFINE
BOOK_SNAPSHOT
BOOK_DIFF
BOOK_DIFF"
	run -0 $T chr-book --at 10s --depth 1 --format csv f.ev
	[ "${lines[1]}" = "v,S,0,10000000,101,1,100,1" ]
	# a prev that is not the snapshot's id is still a gap
	{
		gen rec DEFINE 7 42 0s 0 0 v S
		gen rec BOOK_SNAPSHOT 7 42 0s 1 2 "$(book_hex 100 100 0 100 101)"
		gen rec BOOK_DIFF 7 42 2s 2 2 "$(book_hex 150 160 99 98 103)"
	} >g.ev
	run -0 --separate-stderr sh -c "chr-book g.ev | chr-tail --format text | cut -d' ' -f2"
	assert_line -n 2 "GAP"
}

# g.ev: a GAP (reason seq, none of its ids from a diff) of the book of "x S"
# (its ids from the DEFINE of $1), or with no instrument (venue 0, market
# 0: $2 = none), at 2.5 s
gap_rec() {
	local vm="0 0"
	[ "${2:-}" = none ] ||
		vm=$($T chr-tail --format json --defines "$1" | head -1 | python3 -c '
import json, sys; r = json.loads(sys.stdin.read()); print(r["venue"], r["market"])')
	gen rec GAP $vm 2500ms 9 0 030000000000000000000000000000000100000000000000 >g.ev
}

@test "a GAP in the input: the book unknown until the next snapshot, in every view" {
	# snapshot (id 1), diff 2, GAP, diffs 3 and 4 that follow by their ids
	small "bid,100,3" "ask,101,4" "bid,99,1" | $T chr-csv2ev >s.ev
	gap_rec s.ev
	# passed on as it is, and no second GAP before the next diff: it marks
	# the unknown stretch already
	$T chr-book -q s.ev g.ev >out.ev
	run -0 types out.ev
	[ "${lines[3]}" = "GAP flags=- expected=3 got=0 reason=seq" ]
	[ "${lines[4]}" = "BOOK_DIFF flags=LAST" ]
	[ "${lines[5]}" = "BOOK_DIFF flags=LAST" ]
	[ "${#lines[@]}" = 6 ]
	# --at: the book is not known after it, though the diffs follow by ids
	run -0 --separate-stderr $T chr-book --at 10s --format text s.ev g.ev
	[ "$output" = "" ]
	[[ "$stderr" == *"chr-book: x S: the book is not known at that time"* ]]
	# --bbo: the tops before the GAP only (header, snapshot, diff 2)
	run -0 $T chr-book -q --bbo --format csv s.ev g.ev
	[ "${#lines[@]}" = 3 ]
	[ "${lines[2]}" = "x,S,2000000,2000000,2,101,100,3" ]
	# --every: the grid times before the GAP, none after
	run -0 $T chr-book -q --every 1s --depth 1 --format csv s.ev g.ev
	[ "${#lines[@]}" = 3 ]
	[ "${lines[1]}" = "x,S,1000000,1000000,101,2,100,1" ]
	[ "${lines[2]}" = "x,S,2000000,2000000,101,2,100,3" ]
	# a snapshot after it makes the book known again
	{ echo $HDR; echo "x,S,5000000,5000000,true,bid,98,1"; echo "x,S,5000000,5000000,true,ask,102,1"; } |
		$T chr-csv2ev >snap.ev
	run -0 --separate-stderr $T chr-book --at 10s --depth 1 --format csv s.ev g.ev snap.ev
	[ "${lines[1]}" = "x,S,5000000,10000000,102,1,98,1" ]
	[[ "$stderr" != *"not known"* ]]
	# --bbo: the top went away at the GAP, so the first top after the
	# snapshot is written even when it is the one before the GAP
	{ echo $HDR; echo "x,S,5000000,5000000,true,bid,100,3"; echo "x,S,5000000,5000000,true,ask,101,2"; } |
		$T chr-csv2ev >same.ev
	run -0 $T chr-book -q --bbo --format csv s.ev g.ev same.ev
	[ "${#lines[@]}" = 4 ]
	[ "${lines[3]}" = "x,S,5000000,5000000,2,101,100,3" ]
	# and so after a gap chr-book finds itself
	drop s.ev 1 0x11 >gap.ev
	run -0 $T chr-book -q --bbo --format csv gap.ev same.ev
	[ "${#lines[@]}" = 4 ]
	[ "${lines[3]}" = "x,S,5000000,5000000,2,101,100,3" ]
}

@test "a GAP with no instrument passes on and touches no book" {
	small "bid,100,3" "ask,101,4" | $T chr-csv2ev >s.ev
	gap_rec s.ev none
	$T chr-book -q s.ev g.ev >out.ev
	run -0 types out.ev
	[ "${lines[3]}" = "GAP flags=- expected=3 got=0 reason=seq" ]
	[ "${#lines[@]}" = 5 ]
	run -0 --separate-stderr $T chr-book --at 10s --depth 1 --format csv s.ev g.ev
	[ "${lines[1]}" = "x,S,3000000,10000000,101,4,100,3" ]
	[ "$stderr" = "" ]
}

@test "chr-book over its own output: the same records, no second GAP, the same views" {
	small "bid,100,3" "ask,101,4" "bid,99,1" | $T chr-csv2ev >s.ev
	drop s.ev 1 0x11 >gap.ev	# ids 1 (snapshot), 2, _, 4
	$T chr-book -q gap.ev >once.ev
	run -0 --separate-stderr sh -c "chr-book once.ev >/dev/null"
	[[ "$stderr" != *"update id gap:"* ]]
	$T chr-book -q once.ev >twice.ev
	cmp once.ev twice.ev
	for view in "--bbo" "--every 1s --depth 2" "--at 10s"; do
		$T chr-book -q $view --format csv gap.ev >a.csv
		$T chr-book -q $view --format csv once.ev >b.csv
		cmp a.csv b.csv
	done
}

@test "diffs before any snapshot: one GAP, the book taken up at the snapshot" {
	l2
	drop l2.ev 0 0x10 >nosnap.ev
	run -0 --separate-stderr $T chr-book nosnap.ev
	[[ "${stderr_lines[0]}" == "chr-book: binance-futures BTCUSDT: seq "*": a diff before any snapshot: ignored until the first snapshot" ]]
	$T chr-book -q nosnap.ev >out.ev
	[ "$(types out.ev | grep -c '^GAP flags=SYNTHETIC expected=0 ')" = 1 ]
	[ "$(types out.ev | grep -vc '^GAP')" = "$(types nosnap.ev | wc -l)" ]
	# a snapshot later on makes the book known again
	{ cat nosnap.ev; $T chr-tail --type snapshot l2.ev; } >late.ev
	run -0 --separate-stderr $T chr-book --at 2030-01-01 --depth 1 --format csv late.ev
	[ "${#lines[@]}" = 2 ]
}

@test "a crossed book: the crossed levels go, with a warning" {
	# a bid at 102 crosses the ask at 101; an ask at 99 then crosses the bids
	small "bid,102,5" "ask,99,1" | $T chr-csv2ev >x.ev
	run -0 --separate-stderr $T chr-book --bbo --format csv x.ev
	[ "${stderr_lines[0]}" = "chr-book: x S: seq 2: the book crossed; the levels this record crossed were removed" ]
	[ "${stderr_lines[1]}" = "chr-book: x S: seq 3: the book crossed; the levels this record crossed were removed" ]
	[ "${lines[1]}" = "x,S,1000000,1000000,2,101,100,1" ]
	[ "${lines[2]}" = "x,S,2000000,2000000,,,102,5" ]
	[ "${lines[3]}" = "x,S,3000000,3000000,1,99,," ]
}

@test "--bbo: Tardis quotes rows equal to the reference's; binary QUOTE records the same" {
	l2
	$T chr-book --bbo --format csv l2.ev >bbo.csv
	"$TOP/test/book-ref" "$L2" >ref.csv
	diff ref.csv bbo.csv
	$T chr-book --bbo l2.ev >bbo.ev
	run -0 types bbo.ev
	[ "${lines[0]}" = "DEFINE flags=-" ]
	[[ "${lines[1]}" == "QUOTE flags="*SYNTHETIC* ]]
	[[ "${lines[1]}" == "QUOTE flags="*LAST* ]]
	$T chr-tail --format csv bbo.ev | cmp - bbo.csv
	# seq 0, 1, 2, ... of their own (bbo.csv: a header, then a row each)
	[ "$($T chr-tail --format json bbo.ev | tail -1 | cut -d, -f5)" = "\"seq\":$(($(wc -l <bbo.csv) - 2))" ]
}

@test "--at: the books as of a time; csv is the book_snapshot row whose top the reference has" {
	l2
	at=1723161400000000000
	run -0 $T chr-book --at $at --depth 3 --format csv l2.ev
	[ "${#lines[@]}" = 2 ]
	[ "${lines[0]}" = "exchange,symbol,timestamp,local_timestamp,asks[0].price,asks[0].amount,bids[0].price,bids[0].amount,asks[1].price,asks[1].amount,bids[1].price,bids[1].amount,asks[2].price,asks[2].amount,bids[2].price,bids[2].amount" ]
	"$TOP/test/book-ref" "$L2" >ref.csv
	want=$(awk -F, -v t=$((at / 1000)) 'NR > 1 && $4 <= t { r = $6 "," $5 "," $7 "," $8 } END { print r }' ref.csv)
	[ "$(echo "${lines[1]}" | cut -d, -f5-8)" = "$want" ]
	[ "$(echo "${lines[1]}" | cut -d, -f4)" = $((at / 1000)) ]
	# text and JSON; depth 0 is the whole book
	run -0 $T chr-book --at $at --format text l2.ev
	[ "${#lines[@]}" = 1 ]
	[[ "$output" == *"BOOK_SNAPSHOT binance-futures BTCUSDT "* ]]
	n=$($T chr-book --at $at --depth 0 --format json l2.ev | python3 -c '
import json, sys; r = json.loads(sys.stdin.read()); print(len(r["bids"]) + len(r["asks"]))')
	[ "$n" -gt 1000 ]
	# it stops reading at the first record after the time
	gzip -cd "$L2" | $T chr-csv2ev | $T chr-book --at 2024-08-08T00:00:00Z >/dev/null
}

@test "--every: top-n rows on the time grid, each the reference's top as of its time" {
	l2
	$T chr-book --every 10s --depth 2 --format csv l2.ev >grid.csv
	"$TOP/test/book-ref" "$L2" >ref.csv
	python3 - grid.csv ref.csv <<'EOF'
import csv, sys
grid = list(csv.reader(open(sys.argv[1])))
ref = list(csv.reader(open(sys.argv[2])))[1:]
assert grid[0][4:] == ["asks[0].price", "asks[0].amount", "bids[0].price", "bids[0].amount",
                       "asks[1].price", "asks[1].amount", "bids[1].price", "bids[1].amount"], grid[0]
rows = grid[1:]
ts = [int(r[3]) for r in rows]
assert all(t % 10_000_000 == 0 for t in ts), ts[:3]
assert all(b - a == 10_000_000 for a, b in zip(ts, ts[1:])), "not a regular grid"
assert len(rows) >= 30, len(rows)
for r, t in zip(rows, ts):
    top = [q for q in ref if int(q[3]) <= t][-1]
    want = [top[5], top[4], top[6], top[7]]
    assert r[4:8] == want, (t, r[4:8], want)
print(len(rows), "rows checked")
EOF
}

@test "several markets: one book each, --at in order of appearance" {
	$T chr-csv2ev "$DATA/synthetic_incremental_book_L2_two_snapshots.csv" >a.ev
	$T chr-csv2ev "$DATA/deribit_incremental_book_L2_BTC-PERPETUAL.csv" >b.ev
	run -0 --separate-stderr $T chr-book --at 2030-01-01 --depth 1 --format text a.ev b.ev
	[ "${#lines[@]}" = 2 ]
	# years after the data: both books are stale, and say so
	[ "$(printf '%s\n' "$stderr" | grep -c 'is stale: .* after its last record$')" = 2 ]
	run -0 --separate-stderr $T chr-book --bbo --format csv b.ev a.ev
	[ "$stderr" = "" ]
}

@test "bad input: named by byte offset, exit 1, what came before written; early close is quiet" {
	l2
	head -c 100000 l2.ev >short.ev
	run -1 --separate-stderr sh -c "chr-book short.ev >out.ev"
	[[ "$stderr" == "chr-book: short.ev: byte "*": truncated record" ]]
	[ "$(stat -c %s out.ev)" -gt 90000 ]
	printf 'X' | dd of=l2.ev bs=1 seek=300 conv=notrunc status=none
	run -1 --separate-stderr $T chr-book --bbo l2.ev
	[[ "$stderr" == "chr-book: l2.ev: byte "*": bad crc" ]]
	gzip -cd "$L2" | $T chr-csv2ev >l2.ev
	run -0 bash -c "chr-book l2.ev | head -c 100 >/dev/null"
	run -0 bash -c "chr-book --bbo --format csv l2.ev | head -1 >/dev/null"
}

@test "binary output is refused on a terminal" {
	l2
	if ! command -v script >/dev/null; then skip "no script(1)"; fi
	run -2 script -qec "chr-book $PWD/l2.ev --format binary" /dev/null
	[[ "$output" == *"chr-book: refusing to write binary records to a terminal"* ]]
}

@test "--snapshots: the records of chr-book | chr-snapinject --interval, byte for byte, gaps and GAPs included" {
	$T chr-csv2ev "$DATA/binance-futures_incremental_book_L2_BTCUSDT_2024-08-08.csv.gz" >l2.ev
	# the first 3000 records, a GAP in the input, then the whole sample a
	# day later (a new day, the vendor's snapshot, the book known again)
	# but for a diff (chr-book writes a GAP before the next one)
	python3 - l2.ev <<'PY' | gen seal >g.ev
import struct, sys
data, recs, pos = open(sys.argv[1], "rb").read(), [], 0
while pos < len(data):
    span = (struct.unpack_from("<I", data, pos)[0] + 63) // 64 * 64
    recs.append(bytearray(data[pos:pos + span]))
    pos += span
out = b"".join(recs[:3000])
ts, market, venue = struct.unpack_from("<q", recs[3000], 16)[0], *struct.unpack_from("<IH", recs[3000], 40)
gap = bytearray(128)
struct.pack_into("<IHHQqqQIHB", gap, 0, 88, 2, 1, 0, ts, ts, 0, market, venue, 1)
struct.pack_into("<QQI", gap, 64, 0, 0, 1)
out += gap
for i, r in enumerate(recs):
    if i == 5000 or (i == 0 and r[4] == 1):
        continue
    for off in (16, 24):
        struct.pack_into("<q", r, off, struct.unpack_from("<q", r, off)[0] + 86400 * 10**9)
    out += r
sys.stdout.buffer.write(out)
PY
	for iv in 1s 7s 60s 1h; do
		$T chr-book -q g.ev | $T chr-snapinject -q --interval $iv >want.ev
		$T chr-book -q --snapshots $iv g.ev | cmp - want.ev
	done
	# not vacuous: snapshots injected before and after, GAPs
	$T chr-book -q --snapshots 1s g.ev | $T chr-tail --format text | awk '{ print $2, $7 }' >types
	[ "$(grep -c '^BOOK_SNAPSHOT flags=LAST,SYNTHETIC' types)" -gt 100 ]
	[ "$(grep -c '^GAP flags=SYNTHETIC' types)" = 2 ]
	[ "$(grep -c '^BOOK_SNAPSHOT flags=LAST$' types)" = 2 ]
	run -2 $T chr-book --snapshots 0 g.ev
	run -2 $T chr-book --snapshots 1s --at 2030-01-01 g.ev
}
