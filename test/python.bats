#!/usr/bin/env bats
# python/chronicle.py under Debian's /usr/bin/python3 (python3-numpy,
# python3-pandas, python3-zstandard): archive partitions of the real samples
# and a queue being appended read as chr-tail --format csv shows them, field
# for field; the decimals exact; bad records named by file and byte offset.
load test_helper

PY=/usr/bin/python3
L2="$DATA/binance-futures_incremental_book_L2_BTCUSDT_2024-08-08.csv.gz"
TRADES="$DATA/binance-futures_trades_BTCUSDT_2024-08-08.csv.gz"
QUOTES="$DATA/binance-futures_quotes_BTCUSDT_2024-08-08.csv.gz"
PART=A/v1/binance-futures/BTCUSDT/2024-08-08

# the module of the checkout under test (as test/readme.bats finds it): the
# build's own when it is a checkout, else this one's
pydir() {
	if [ -f "$BUILD/README.md" ]; then echo "$BUILD/python"; else echo "$TOP/python"; fi
}

setup() {
	cd "$BATS_TEST_TMPDIR" || return 1
	[ -x $PY ] || skip "no /usr/bin/python3 (scripts/install-deps installs it)"
	export PYTHONPATH
	PYTHONPATH=$(pydir)
}

# same PATH: the module's records of PATH as CSV equal chr-tail --format csv's
# (run turns errexit off: each step returns its failure)
same() {
	$T chr-tail --format csv "$1" >want.csv || return
	$T $PY "$TOP/test/python-csv" "$1" >got.csv || return
	"$TOP/test/csvcmp" want.csv got.csv || return
	[ "$(wc -l <want.csv)" -gt 1 ]
}

# the queue writer of a test, if it is still running
teardown() {
	[ -z "${pid-}" ] || kill "$pid" 2>/dev/null || true
}

# py CODE ARGS...: run python code with the module imported as c
py() {
	local code=$1
	shift
	$T $PY -c "import sys, numpy as np, chronicle as c
$code" "$@"
}

@test "archive partitions of every record type read as chr-tail --format csv shows them, field for field" {
	for f in "$TRADES" "$QUOTES" "$L2"; do gzip -cd "$f" | $T chr-csv2ev; done >a.ev
	for f in binance-futures_book_snapshot_25_BTCUSDT deribit_incremental_book_L2_BTC-PERPETUAL \
		bitmex_trades_XBTUSD huobi-dm-swap_quotes_BTC-USD; do
		$T chr-csv2ev "$DATA/$f.csv"
	done >>a.ev
	$T chr-sink --archive A <a.ev
	$T chr-csv2ev "$DATA/binance-futures_book_snapshot_5_BTCUSDT.csv" | $T chr-sink --archive A5
	n=0
	for p in $(find A/v1 A5/v1 -name meta.json | sort); do
		run -0 same "${p%/meta.json}"
		n=$((n + 1))
	done
	# trade, quote, book of 2024-08-08, topn 25 and 5, deribit's book,
	# bitmex's trades, huobi's quotes
	[ "$n" = 8 ]
	# each stream's types under their keys, the DEFINE's names
	run -0 py 'r = c.read(sys.argv[1]); print(sorted(r), len(r["book"]), r.names)' $PART/book
	[ "$output" = "['book', 'define'] 445262 {(64068, 546279444): ('binance-futures', 'BTCUSDT')}" ]
	# a plain segment's records are a view of the mapped file, not a copy
	run -0 py 'r = c.read(sys.argv[1]); t = r["trade"]
print(t.flags.owndata, t.flags.writeable, isinstance(t.base, np.memmap), len(t))' $PART/trade
	[ "$output" = "False False True 21313" ]
}

@test "compressed segments read through their seek tables, the same values; without zstandard a clear error" {
	gzip -cd "$L2" | $T chr-csv2ev | $T chr-sink --archive A -S 1M
	gzip -cd "$TRADES" | $T chr-csv2ev | $T chr-sink --archive A
	$T chr-tier --root A --cold C --cold-after 1d --zstd --now 2024-08-20 --once 2>/dev/null
	z=C/v1/binance-futures/BTCUSDT/2024-08-08
	[ "$(ls $z/book/*.q.zst | wc -l)" -gt 2 ]
	run -0 same $z/book
	run -0 same $z/trade
	# one compressed segment file given by path
	run -0 same $z/trade/000000000.q.zst
	mkdir nozstd
	echo 'raise ImportError("No module named zstandard")' >nozstd/zstandard.py
	PYTHONPATH=$PWD/nozstd:$PYTHONPATH run -1 py 'try:
    c.read(sys.argv[1])
except c.Error as e:
    print(e); sys.exit(1)' $z/trade
	[ "$output" = "$z/trade/000000000.q.zst: a compressed segment: reading it needs the Python module zstandard (Debian: python3-zstandard)" ]
}

@test "an archive root read across dates and tiers (the partitions chr-ls lists), as chr-tail --archive reads it" {
	{ $T chr-csv2ev "$DATA/binance-futures_trades_BTCUSDT_2020-02-22_excerpt.csv"
	  gzip -cd "$TRADES" | $T chr-csv2ev; } | $T chr-sink --archive A
	gzip -cd "$L2" | $T chr-csv2ev | $T chr-sink --archive A
	# the 2020 day to the cold tier, compressed; 2024 stays hot
	$T chr-tier --root A --cold C --cold-after 1000d --zstd --now 2024-08-20 --once 2>/dev/null
	[ -d C/v1/binance-futures/BTCUSDT/2020-02-22/trade ]
	[ -d A/v1/binance-futures/BTCUSDT/2024-08-08/trade ]
	$T chr-tail --archive A --venue binance-futures --symbol BTCUSDT --stream trade --format csv >want.csv
	$T $PY "$TOP/test/python-csv" --archive A binance-futures BTCUSDT trade >got.csv
	run -0 "$TOP/test/csvcmp" want.csv got.csv
	[ "$(wc -l <want.csv)" = $((9999 + 21313 + 1)) ]
	run -0 py 'r = c.read_archive("A", "binance-futures", "BTC*", date="2024-08-08")
print(sorted((k, len(v)) for k, v in r.items()))'
	[ "$output" = "[('book', 445262), ('define', 2), ('trade', 21313)]" ]
	run -1 py 'try:
    c.read_archive("A", "binance-futures", "ETHUSDT")
except c.Error as e:
    print(e); sys.exit(1)'
	[ "$output" = "chr-ls: no symbol 'ETHUSDT' for venue binance-futures in 'A'; symbols: BTCUSDT" ]
}

@test "a live queue, its writer running: the committed records, as chr-tail reads them at that moment" {
	gzip -cd "$TRADES" | $T chr-csv2ev >t.ev
	first 1500 t.ev >head.ev
	tail -c +$(($(stat -c %s head.ev) + 1)) t.ev >rest.ev
	mkfifo in
	$T chr-sink --queue Q --create -S 64K <in 3>&- &
	pid=$!
	# the writer's input held open (fd 7: bats keeps 3) until the end
	exec 7>in
	cat head.ev >&7
	# the writer has committed the first part, and waits for more
	for _ in $(seq 300); do
		[ "$(chr-tail --format csv Q 2>/dev/null | wc -l)" = 1500 ] && break
		sleep 0.1
	done
	kill -0 $pid
	[ "$(ls Q/*.q | wc -l)" -ge 3 ]
	run -0 same Q
	run -0 py 'print(len(c.read(sys.argv[1])["trade"]))' Q
	[ "$output" = 1499 ]
	# the rest appended in pieces while the module reads again and again:
	# every read is the records so far, in order, ending where the writer is
	pieces rest.ev 40
	( for f in piece.*; do cat "$f"; sleep 0.02; done >&7 ) 3>&- &
	feeder=$!
	run -0 py 'import time
want = c.read(sys.argv[2])["trade"]
fields = ["ts", "ts_event", "price", "size", "price_scale", "size_scale", "side", "id"]
seen = set()
for _ in range(2000):
    t = c.read(sys.argv[1])["trade"]
    n = len(t)
    assert all((t[f] == want[f][:n]).all() for f in fields), n
    assert (np.diff(t["seq"].astype(np.int64)) > 0).all()
    seen.add(n)
    if n == len(want):
        break
    time.sleep(0.005)
print(max(seen), len(want))' Q t.ev
	[ "$output" = "21313 21313" ]
	wait $feeder
	exec 7>&-
	wait $pid
	run -0 same Q
}

@test "a queue record whose len is not written yet ends the read there, without error" {
	gzip -cd "$TRADES" | $T chr-csv2ev >t.ev
	first 300 t.ev | $T chr-sink --queue Q --create -S 64K
	# the last record as a writer leaves it before its commit: all but len
	read -r seg off < <(py 'import glob, struct
for f in sorted(glob.glob("Q/*.q")):
    d, pos = open(f, "rb").read(), 64
    while pos + 64 <= len(d) and struct.unpack_from("<I", d, pos)[0]:
        last = (f, pos)
        pos += (struct.unpack_from("<I", d, pos)[0] + 63) // 64 * 64
print(*last)')
	poke "$seg" "$off" '\0\0\0\0'
	run -0 py 'r = c.read(sys.argv[1]); print(len(r["trade"]), r["trade"]["seq"][-1])' Q
	[ "${lines[0]%% *}" = 298 ]
	run -0 same Q
}

@test "a corrupt record: an error naming the file and the byte offset, as chr-tail names them" {
	gzip -cd "$TRADES" | $T chr-csv2ev | $T chr-sink --archive A
	seg=$PART/trade/000000000.q
	# a payload byte of the sixth trade: after the header (64), the DEFINE (192)
	poke "$seg" $((64 + 192 + 5 * 128 + 70)) '\x07'
	catch='try:
    c.read(sys.argv[1])
except c.Error as e:
    print(e); print(e.path, e.offset); sys.exit(1)'
	run -1 py "$catch" $PART/trade
	[ "${lines[0]}" = "$seg: byte 896: bad crc" ]
	[ "${lines[1]}" = "$seg 896" ]
	msg=${lines[0]}
	run -1 --separate-stderr $T chr-tail --format csv $PART/trade
	[ "${stderr_lines[0]}" = "chr-tail: $msg" ]
	# nonzero padding, a bad length, in a record file
	first 20 <(gzip -cd "$TRADES" | $T chr-csv2ev) >t.ev
	cp t.ev pad.ev
	poke pad.ev 180 '\x01'
	run -1 py "$catch" pad.ev
	[ "${lines[0]}" = "pad.ev: byte 0: nonzero padding" ]
	cp t.ev len.ev
	poke len.ev $((192 + 2 * 128)) '\x10\0\0\0'
	run -1 py "$catch" len.ev
	[ "${lines[0]}" = "len.ev: byte 448: record length below 64" ]
	# a queue: the record is committed, so it is damage, not the end
	$T chr-sink --queue Q --create <t.ev
	poke Q/000000000.q $((64 + 192 + 128 + 90)) '\x41'
	run -1 py "$catch" Q
	[ "${lines[0]}" = "Q/000000000.q: byte 384: bad crc" ]
	# a CSV given for records is named for what it is, as chr-tail names it
	for f in "$DATA/bitmex_trades_XBTUSD.csv" "$TRADES"; do
		run -1 py "$catch" "$f"
		msg=${lines[0]}
		run -1 --separate-stderr $T chr-tail --format csv "$f"
		[ "${stderr_lines[0]}" = "chr-tail: $msg" ]
	done
	[ "$msg" = "$TRADES: this looks like gzip data, not chronicle records (a Tardis .csv.gz converts with chr-csv2ev; gzip'ed records decompress with gzip -d)" ]
}

@test "mantissas and scales: each price and size with its own scale, exact as Decimal, nearest as float" {
	cat >t.csv <<'CSV'
exchange,symbol,timestamp,local_timestamp,id,side,price,amount
testex,TEST-1,1723111200000000,1723111200000123,a-1,sell,12345678.987654321,0.5
testex,TEST-1,1723111200001000,1723111200001000,a-2,buy,0.00000001,92233720.36854775
CSV
	cat >q.csv <<'CSV'
exchange,symbol,timestamp,local_timestamp,ask_amount,ask_price,bid_price,bid_amount
testex,TEST-1,1723111200000000,1723111200000123,1.5,101.25,100.125,2.75
testex,TEST-1,1723111200001000,1723111200001000,,101.25,100.125,
CSV
	{ $T chr-csv2ev t.csv; $T chr-csv2ev q.csv; } >tq.ev
	run -0 py 'r = c.read(sys.argv[1])
for k, fs in (("trade", ["price", "price_scale", "size", "size_scale", "side", "id", "ts", "ts_event"]),
              ("quote", ["bid_px", "bid_sz", "ask_px", "ask_sz", "price_scale", "size_scale"])):
    for x in r[k]:
        print(k, *[x[f] for f in fs])
for how in ("decimal", "float"):
    for k in ("trade", "quote"):
        d = r.to_pandas(k, decimals=how)
        cols = ["price", "size"] if k == "trade" else ["bid_px", "bid_sz", "ask_px", "ask_sz"]
        for row in d[["exchange", "symbol"] + cols].itertuples(index=False):
            print(how, *[repr(v) for v in row])
print(r.to_pandas("trade")["ts"].iloc[0], r.to_pandas("trade")["ts_event"].iloc[0])' tq.ev
	assert_equal "$output" "trade 12345678987654321 9 5 1 2 b'a-1' 1723111200000123000 1723111200000000000
trade 1 8 9223372036854775 8 1 b'a-2' 1723111200001000000 1723111200001000000
quote 100125 275 101250 150 3 2
quote 100125 -9223372036854775808 101250 -9223372036854775808 3 0
decimal 'testex' 'TEST-1' Decimal('12345678.987654321') Decimal('0.5')
decimal 'testex' 'TEST-1' Decimal('1E-8') Decimal('92233720.36854775')
decimal 'testex' 'TEST-1' Decimal('100.125') Decimal('2.75') Decimal('101.250') Decimal('1.50')
decimal 'testex' 'TEST-1' Decimal('100.125') None Decimal('101.250') None
float 'testex' 'TEST-1' 12345678.98765432 0.5
float 'testex' 'TEST-1' 1e-08 92233720.36854775
float 'testex' 'TEST-1' 100.125 2.75 101.25 1.5
float 'testex' 'TEST-1' 100.125 nan 101.25 nan
2024-08-08 10:00:00.000123+00:00 2024-08-08 10:00:00+00:00"
}

@test "type, venue and symbol select; a record file of concatenated segments; misuse" {
	gzip -cd "$TRADES" | $T chr-csv2ev >t.ev
	$T chr-csv2ev "$DATA/deribit_incremental_book_L2_BTC-PERPETUAL.csv" >d.ev
	cat t.ev d.ev | $T chr-sink --archive A
	# cat of segment files is a stream: headers checked and skipped
	cat $PART/trade/*.q A/v1/deribit/BTC-PERPETUAL/2020-04-01/book/*.q >cat.ev
	run -0 py 'r = c.read(sys.argv[1]); print(sorted((k, len(v)) for k, v in r.items()))' cat.ev
	[ "$output" = "[('book', 15), ('define', 2), ('trade', 21313)]" ]
	run -0 py 'r = c.read(sys.argv[1], type="trade"); print(sorted(r))' cat.ev
	[ "$output" = "['trade']" ]
	run -0 py 'r = c.read(sys.argv[1], type=["snapshot", "define"], symbol="BTC-PERPETUAL")
print(sorted((k, len(v)) for k, v in r.items()), set(r["book"]["is_snapshot"]))' cat.ev
	[ "$output" = "[('book', 15), ('define', 1)] {True}" ]
	run -0 py 'r = c.read(sys.argv[1], venue="binance-futures", type="book"); print(len(r["book"]))' cat.ev
	[ "$output" = 0 ]
	run -1 py 'c.read(sys.argv[1], type="trades")' cat.ev
	[[ "$output" == *"ValueError: unknown record type 'trades' (one of define, gap,"* ]]
	run -1 py 'c.read(sys.argv[1])' nothing
	[[ "$output" == *"chronicle.Error: nothing: No such file or directory" ]]
	mkdir empty
	run -1 py 'c.read(sys.argv[1])' empty
	[[ "$output" == *"chronicle.Error: empty: neither an archive partition (meta.json) nor a queue" ]]
	: >none.ev
	run -0 py 'print(dict(c.read(sys.argv[1])))' none.ev
	[ "$output" = "{}" ]
	run -1 py 'c.to_pandas(c.read(sys.argv[1])["trade"], decimals="exact")' cat.ev
	[[ "$output" == *"ValueError: decimals must be 'decimal' or 'float', not 'exact'" ]]
}
