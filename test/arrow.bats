#!/usr/bin/env bats
# chr-tail --format arrow: every real sample read back by Arrow's own
# JavaScript library (the npm package apache-arrow) gives the vendor's rows
# value for value; the schema is the Parquet output's; decimals of mixed
# scales stay exact, absent values are null; misuse is a clear error.

load test_helper

# apache-arrow, installed by make test-deps (the arrowjs target)
ARROWJS=
for d in "$BUILD/test/arrowjs" "$TOP/test/arrowjs"; do
	if [ -d "$d/node_modules/apache-arrow" ]; then
		ARROWJS=$d
		break
	fi
done

need_arrowjs() {
	[ -n "$ARROWJS" ] || skip "apache-arrow is not installed (make test-deps installs the npm package into the build's test/arrowjs)"
}

# rows FILE: the stream's rows as Tardis CSV, times as integer us
# (test/arrow-read.mjs); schema FILE: its fields, metadata and batches
rows() {
	node "$TOP/test/arrow-read.mjs" --modules "$ARROWJS" "$1"
}
schema() {
	node "$TOP/test/arrow-read.mjs" --modules "$ARROWJS" --schema "$1"
}

# same SAMPLE [csvcmp options]: chr-csv2ev | chr-tail --format arrow, read
# back by apache-arrow, equals the vendor's file
same() {
	local f="$DATA/$1"
	shift
	need_arrowjs
	(set -o pipefail; $T chr-csv2ev "$f" | $T chr-tail --format arrow >out.arrow)
	rows out.arrow >back.csv
	"$TOP/test/csvcmp" "$@" "$f" back.csv
}

@test "arrow: trades samples read back by apache-arrow as the vendor's rows" {
	same binance-futures_trades_BTCUSDT_2020-02-22_excerpt.csv
	same binance-futures_trades_BTCUSDT_2024-08-08.csv.gz
	same bitmex_trades_XBTUSD.csv
}

@test "arrow: quotes samples read back by apache-arrow as the vendor's rows" {
	same binance-futures_quotes_BTCUSDT_2020-02-22_excerpt.csv
	same binance-futures_quotes_BTCUSDT_2024-08-08.csv.gz
	same huobi-dm-swap_quotes_BTC-USD.csv
}

@test "arrow: book_snapshot_N samples read back by apache-arrow as the vendor's rows" {
	same binance-futures_book_snapshot_5_BTCUSDT.csv
	same binance-futures_book_snapshot_25_BTCUSDT.csv
}

@test "arrow: incremental_book_L2 samples read back by apache-arrow as the vendor's rows" {
	same binance-futures_incremental_book_L2_BTCUSDT_2024-08-08.csv.gz --skip-before-snapshot
	same deribit_incremental_book_L2_BTC-PERPETUAL.csv --skip-before-snapshot
	same synthetic_incremental_book_L2_two_snapshots.csv --skip-before-snapshot
}

@test "arrow: the Parquet output's schema: Utf8, Timestamp(ns, UTC), Bool, Decimal128(18, s), nullability, metadata" {
	need_arrowjs
	$T chr-csv2ev "$DATA/deribit_incremental_book_L2_BTC-PERPETUAL.csv" |
		$T chr-tail --format arrow -o l2.arrow
	run -0 schema l2.arrow
	assert_output 'exchange,Utf8,false
symbol,Utf8,false
timestamp,"Timestamp<NANOSECOND, UTC>",true
local_timestamp,"Timestamp<NANOSECOND, UTC>",false
is_snapshot,Bool,false
side,Utf8,false
price,Decimal[18e+1],false
amount,Decimal[18e0],false
chronicle.table=incremental_book_L2
chronicle.source=chr-tail --format arrow -o l2.arrow
batches=1
rows=15'
	# quotes and top-N: every price and amount may be null
	$T chr-csv2ev "$DATA/binance-futures_book_snapshot_5_BTCUSDT.csv" |
		$T chr-tail --format arrow -o top.arrow
	run -0 schema top.arrow
	assert_line 'asks[0].price,Decimal[18e+2],true'
	assert_line 'bids[4].amount,Decimal[18e+3],true'
	assert_line chronicle.table=book_snapshot_5
}

@test "arrow: absent vendor values are null" {
	need_arrowjs
	# empty vendor fields, and a timestamp of 0 (unknown): null, where
	# arrow-read.mjs writes an empty field (a value is never empty)
	printf '%s\n' exchange,symbol,timestamp,local_timestamp,ask_amount,ask_price,bid_price,bid_amount \
		x,S,1000,2000,1.5,100.5,,  x,S,1000,2001,2,101,99,0.25 x,S,0,2002,,,, >q.csv
	$T chr-csv2ev q.csv | $T chr-tail --format arrow -o q.arrow
	run -0 rows q.arrow
	assert_output "exchange,symbol,timestamp,local_timestamp,ask_amount,ask_price,bid_price,bid_amount
x,S,1000,2000,1.50,100.5,,
x,S,1000,2001,2.00,101.0,99,0.25
x,S,,2002,,,,"
}

@test "arrow: prices of different scales are raised to one, never rounded; negative mantissas sign-extended" {
	need_arrowjs
	printf '%s\n' exchange,symbol,timestamp,local_timestamp,id,side,price,amount \
		x,S,1000,2000,a,buy,1.5,3 x,S,1000,2001,b,sell,-1.25,0.001 \
		x,S,1000,2002,c,buy,100,12345678.123456789 >mixed.csv
	$T chr-csv2ev mixed.csv | $T chr-tail --format arrow -o mixed.arrow
	run -0 rows mixed.arrow
	assert_output "exchange,symbol,timestamp,local_timestamp,id,side,price,amount
x,S,1000,2000,a,buy,1.50,3.000000000
x,S,1000,2001,b,sell,-1.25,0.001000000
x,S,1000,2002,c,buy,100.00,12345678.123456789"
	run -0 schema mixed.arrow
	assert_line 'price,Decimal[18e+2],false'
	assert_line 'amount,Decimal[18e+9],false'
}

# finer PRICE: 1,048,576 rows (one row group) of whole prices PRICE, then 1.5
finer() {
	python3 -c '
import sys
w = sys.stdout.write
w("exchange,symbol,timestamp,local_timestamp,id,side,price,amount\n")
for i in range(1 << 20):
    w("x,S,1000,%d,,buy,%s,1\n" % (2000 + i, sys.argv[1]))
w("x,S,1000,9000000,,buy,1.5,1\n")' "$1"
}

@test "arrow: a finer value after the first batch raises the Schema and the batches written, exactly" {
	need_arrowjs
	finer 100 >fine.csv
	$T chr-csv2ev fine.csv >fine.ev
	run -0 $T chr-tail --format arrow -o fine.arrow fine.ev
	run -0 schema fine.arrow
	assert_line 'price,Decimal[18e+1],false'
	assert_line batches=2
	assert_line rows=1048577
	rows fine.arrow >back.csv
	"$TOP/test/csvcmp" fine.csv back.csv
	run -0 cut -d, -f7 back.csv
	[ "$(sort -u <<<"$output" | tr '\n' ' ')" = "1.5 100.0 price " ]
	# on a pipe the rows written cannot be read back: refused, never rounded
	run -1 --separate-stderr bash -c "set -o pipefail; $T chr-tail --format arrow fine.ev | cat >pipe.arrow"
	assert_equal "$stderr" "chr-tail: 'stdout': column price: a value of scale 1 after rows written at scale 0, which cannot be read back here to raise theirs (an Arrow column has one scale; chr-tail -o FILE can)"
	# rows written that the new scale would take past 18 digits
	finer 100000000000000000 >big.csv
	$T chr-csv2ev big.csv >big.ev
	run -1 $T chr-tail --format arrow -o big.arrow big.ev
	assert_output "chr-tail: 'big.arrow': column price: 100000000000000000 does not fit DECIMAL(18, 1)"
	[ ! -e big.arrow ]
	run -0 ls
	refute_output --partial tmp
}

@test "arrow: a column of nulls in the first batch, values later: the Schema's scale 0 raised" {
	need_arrowjs
	python3 -c '
import sys
w = sys.stdout.write
w("exchange,symbol,timestamp,local_timestamp,ask_amount,ask_price,bid_price,bid_amount\n")
for i in range(1 << 20):
    w("x,S,1000,%d,1,100,,\n" % (2000 + i))
w("x,S,1000,9000000,1,100,99.5,0.25\n")' >nulls.csv
	$T chr-csv2ev nulls.csv >nulls.ev
	run -0 $T chr-tail --format arrow -o nulls.arrow nulls.ev
	run -0 schema nulls.arrow
	assert_line 'bid_price,Decimal[18e+1],true'
	assert_line 'bid_amount,Decimal[18e+2],true'
	assert_line batches=2
	rows nulls.arrow >back.csv
	"$TOP/test/csvcmp" nulls.csv back.csv
	run -0 tail -n 2 back.csv
	assert_output "x,S,1000,1050575,1.00,100.0,,
x,S,1000,9000000,1.00,100.0,99.5,0.25"
}

@test "arrow: a RecordBatch per row group; the stream's framing: 64-aligned messages, end-of-stream marker" {
	need_arrowjs
	f="$DATA/binance-futures_incremental_book_L2_BTCUSDT_2024-08-08.csv.gz"
	# three copies: 3 x 445,262 rows, two row groups
	$T chr-csv2ev "$f" "$f" "$f" | $T chr-tail --format arrow -o big.arrow
	run -0 schema big.arrow
	assert_line batches=2
	assert_line rows=1335786
	# continuation, metadata size, metadata, body, each message a multiple
	# of 64 bytes; bodies as the RecordBatch says; 0xFFFFFFFF 0 at the end
	run -0 python3 - big.arrow <<'EOF'
import struct, sys
d = open(sys.argv[1], "rb").read()
pos, kinds = 0, []
while True:
    cont, n = struct.unpack_from("<Ii", d, pos)
    assert cont == 0xFFFFFFFF, pos
    if n == 0:
        break
    assert (8 + n) % 64 == 0, n
    meta = d[pos + 8:pos + 8 + n]
    root = struct.unpack_from("<I", meta, 0)[0]
    vt = root - struct.unpack_from("<i", meta, root)[0]
    vsize = struct.unpack_from("<H", meta, vt)[0]
    field = lambda i: struct.unpack_from("<H", meta, vt + 4 + 2 * i)[0] if 4 + 2 * i < vsize else 0
    version = struct.unpack_from("<h", meta, root + field(0))[0]
    htype = meta[root + field(1)]
    body = struct.unpack_from("<q", meta, root + field(3))[0] if field(3) else 0
    assert version == 4 and body % 64 == 0, (version, body)
    kinds.append(htype)
    pos += 8 + n + body
assert pos + 8 == len(d), (pos, len(d))
print(kinds)
EOF
	assert_output "[1, 3, 3]"
}

@test "arrow: records of several types need --type; no record with rows; misuse" {
	gen stream 20 >mixed.ev
	run -2 $T chr-tail --format arrow -o m.arrow mixed.ev
	assert_output --partial "a TRADE record after incremental_book_L2 rows: an Arrow stream holds the rows of one Tardis dataset; select one record type (chr-tail --type)"
	[ ! -e m.arrow ]
	run -0 $T chr-tail --format arrow --type trade -o m.arrow mixed.ev
	[ "$(head -c 4 m.arrow | od -An -tx1 | tr -d ' ')" = ffffffff ]
	[ "$(tail -c 8 m.arrow | od -An -tx1 | tr -d ' ')" = ffffffff00000000 ]
	gen heartbeat >hb.ev
	run -1 $T chr-tail --format arrow -o hb.arrow hb.ev
	assert_output "chr-tail: 'hb.arrow': no record with rows (trades, quotes, book, top-N) was selected: an Arrow stream needs one to set its columns"
	[ ! -e hb.arrow ]
	run -3 $T chr-tail --format arrow --type trade -o no/such/dir/x.arrow mixed.ev
	assert_output --partial "chr-tail: cannot create 'no/such/dir/x.arrow': No such file or directory"
	run -2 $T chr-tail --format bogus mixed.ev
	assert_output --partial "unknown format 'bogus' (binary, text, json, csv, parquet, arrow)"
	run -2 $T chr-tail --format arrow -o x.arrow --out-dir D mixed.ev
	assert_output --partial "--out-dir goes with --format parquet, without --out"
	$T chr-sink --queue q --create <mixed.ev
	run -2 $T chr-tail --reader r --format arrow -o r.arrow q
	assert_output --partial "--reader commits what is written: Arrow is written at the end"
	run -2 $T chr-feed --venue binance-futures --capture --out q --format arrow /dev/null
	assert_output --partial "--out takes binary records: --format arrow is for standard output"
	command -v script >/dev/null || skip "script(1) is not installed"
	run -2 script -qec "chr-tail --format arrow mixed.ev" /dev/null
	assert_output --partial "refusing to write Arrow to a terminal"
}

@test "arrow: on stdout as -o FILE writes it; chr-book's views as Arrow hold the rows of their CSV" {
	need_arrowjs
	gen stream 20 >s.ev
	$T chr-tail --format arrow --type quote -o f.arrow s.ev
	$T chr-tail --format arrow --type quote s.ev >o.arrow
	rows f.arrow >f.csv
	rows o.arrow >o.csv
	[ "$(wc -l <o.csv)" -eq 7 ]
	cmp f.csv o.csv
	$T chr-csv2ev "$DATA/binance-futures_incremental_book_L2_BTCUSDT_2024-08-08.csv.gz" >l2.ev
	$T chr-book --bbo --format csv l2.ev >want.csv
	$T chr-book --bbo --format arrow l2.ev >bbo.arrow
	rows bbo.arrow >got.csv
	"$TOP/test/csvcmp" want.csv got.csv
	[ "$(wc -l <got.csv)" -gt 1000 ]
}
