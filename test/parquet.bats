#!/usr/bin/env bats
# chr-tail --format parquet: every real sample read back by DuckDB's own
# library gives the vendor's rows value for value; decimals of mixed scales
# stay exact, absent values are NULL, types are what docs/parquet.md says;
# misuse and bad output paths are clear errors.

load test_helper

# DuckDB's library, installed by make test-deps (the duckdb target)
DUCK=
for d in "$BUILD/test/duckdb" "$TOP/test/duckdb"; do
	if [ -d "$d/node_modules/@duckdb/node-api" ]; then
		DUCK=$d
		break
	fi
done

need_duckdb() {
	[ -n "$DUCK" ] || skip "DuckDB's library is not installed (make test-deps installs the npm package @duckdb/node-api into the build's test/duckdb)"
}

# duck SQL...: the result of the last query as CSV (test/duckdb-query.mjs)
duck() {
	node "$TOP/test/duckdb-query.mjs" --modules "$DUCK" "$@"
}

# tardis FILE.parquet: its rows in the Tardis CSV layout, times as integer us
tardis() {
	duck "SELECT * REPLACE (epoch_us(\"timestamp\") AS \"timestamp\", epoch_us(local_timestamp) AS local_timestamp) FROM read_parquet('$1')"
}

# same SAMPLE [csvcmp options]: chr-csv2ev | chr-tail --format parquet,
# read back by DuckDB, equals the vendor's file
same() {
	local f="$DATA/$1"
	shift
	need_duckdb
	(set -o pipefail; $T chr-csv2ev "$f" | $T chr-tail --format parquet >out.parquet)
	tardis out.parquet >back.csv
	"$TOP/test/csvcmp" "$@" "$f" back.csv
}

@test "parquet: trades samples read back by DuckDB as the vendor's rows" {
	same binance-futures_trades_BTCUSDT_2020-02-22_excerpt.csv
	same binance-futures_trades_BTCUSDT_2024-08-08.csv.gz
	same bitmex_trades_XBTUSD.csv
}

@test "parquet: quotes samples read back by DuckDB as the vendor's rows" {
	same binance-futures_quotes_BTCUSDT_2020-02-22_excerpt.csv
	same binance-futures_quotes_BTCUSDT_2024-08-08.csv.gz
	same huobi-dm-swap_quotes_BTC-USD.csv
}

@test "parquet: book_snapshot_N samples read back by DuckDB as the vendor's rows" {
	same binance-futures_book_snapshot_5_BTCUSDT.csv
	same binance-futures_book_snapshot_25_BTCUSDT.csv
}

@test "parquet: incremental_book_L2 samples read back by DuckDB as the vendor's rows" {
	same binance-futures_incremental_book_L2_BTCUSDT_2024-08-08.csv.gz --skip-before-snapshot
	same deribit_incremental_book_L2_BTC-PERPETUAL.csv --skip-before-snapshot
	same synthetic_incremental_book_L2_two_snapshots.csv --skip-before-snapshot
}

@test "parquet: DuckDB sees ns UTC timestamps, DECIMAL(18, s), booleans and strings" {
	need_duckdb
	$T chr-csv2ev "$DATA/deribit_incremental_book_L2_BTC-PERPETUAL.csv" |
		$T chr-tail --format parquet -o l2.parquet
	run -0 duck "SELECT column_name AS c, replace(column_type, ',', ' ') AS t FROM (DESCRIBE SELECT * FROM 'l2.parquet')"
	assert_output "c,t
exchange,VARCHAR
symbol,VARCHAR
timestamp,TIMESTAMP WITH TIME ZONE
local_timestamp,TIMESTAMP WITH TIME ZONE
is_snapshot,BOOLEAN
side,VARCHAR
price,DECIMAL(18 1)
amount,DECIMAL(18 0)"
	# the file itself says ns, UTC: DuckDB reads TIMESTAMP(NANOS, UTC) as
	# TIMESTAMP WITH TIME ZONE
	run -0 duck "SELECT name, logical_type FROM parquet_schema('l2.parquet') WHERE name LIKE '%timestamp'"
	assert_line 'local_timestamp,"TimestampType(isAdjustedToUTC=1, unit=TimeUnit(MILLIS=<null>, MICROS=<null>, NANOS=NanoSeconds()))"'
	# DuckDB's TIMESTAMP WITH TIME ZONE holds us: the vendor's, exactly
	run -0 duck "SELECT min(epoch_us(local_timestamp)) FROM read_parquet('l2.parquet')"
	assert_line 1585699200355684
}

@test "parquet: prices of different scales are raised to one, never rounded" {
	need_duckdb
	printf '%s\n' exchange,symbol,timestamp,local_timestamp,id,side,price,amount \
		x,S,1000,2000,a,buy,1.5,3 x,S,1000,2001,b,sell,1.25,0.001 \
		x,S,1000,2002,c,buy,100,12345678.123456789 >mixed.csv
	$T chr-csv2ev mixed.csv | $T chr-tail --format parquet -o mixed.parquet
	run -0 duck "SELECT typeof(price), typeof(amount), price, amount FROM 'mixed.parquet'"
	assert_output "typeof(price),typeof(amount),price,amount
\"DECIMAL(18,2)\",\"DECIMAL(18,9)\",1.50,3.000000000
\"DECIMAL(18,2)\",\"DECIMAL(18,9)\",1.25,0.001000000
\"DECIMAL(18,2)\",\"DECIMAL(18,9)\",100.00,12345678.123456789"
}

@test "parquet: a value that does not fit 18 digits at its column's scale is refused" {
	printf '%s\n' exchange,symbol,timestamp,local_timestamp,id,side,price,amount \
		x,S,1000,2000,a,buy,0.000000000000000001,1 x,S,1000,2001,b,buy,10,1 >big.csv
	$T chr-csv2ev big.csv >big.ev
	run -1 $T chr-tail --format parquet -o big.parquet big.ev
	assert_output "chr-tail: 'big.parquet': column price: 10 does not fit DECIMAL(18, 18)"
	[ ! -e big.parquet ]
	run -0 ls
	refute_output --partial tmp
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

@test "parquet: a finer value after the first row group raises the rows written, exactly" {
	need_duckdb
	finer 100 >fine.csv
	$T chr-csv2ev fine.csv >fine.ev
	run -0 $T chr-tail --format parquet -o fine.parquet fine.ev
	run -0 duck "SELECT DISTINCT replace(typeof(price), ',', ' ') FROM 'fine.parquet'"
	assert_line "DECIMAL(18 1)"
	run -0 duck "SELECT count(*), sum(price), min(price), max(price) FROM 'fine.parquet'"
	assert_line "1048577,104857601.5,1.5,100.0"
	run -0 duck "SELECT count(*) FROM parquet_metadata('fine.parquet') WHERE path_in_schema = 'price'"
	assert_line 2
	# the raised row group is written again whole: its chunks one run, in
	# schema order, as readers that fetch a row group at once expect
	run -0 duck "SELECT count(*) FROM (SELECT coalesce(dictionary_page_offset, data_page_offset) + total_compressed_size AS chunk_end, lead(coalesce(dictionary_page_offset, data_page_offset)) OVER (PARTITION BY row_group_id ORDER BY column_id) AS next FROM parquet_metadata('fine.parquet')) WHERE next IS NOT NULL AND next <> chunk_end"
	assert_line 0
	# on a pipe the rows written cannot be read back: refused, never rounded
	run -1 --separate-stderr bash -c "set -o pipefail; $T chr-tail --format parquet fine.ev | cat >pipe.parquet"
	assert_equal "$stderr" "chr-tail: 'stdout': column price: a value of scale 1 after rows written at scale 0, which cannot be read back here to raise theirs (a Parquet column has one scale; chr-tail -o FILE can)"
	# rows written that the new scale would take past 18 digits
	finer 100000000000000000 >big.csv
	$T chr-csv2ev big.csv >big.ev
	run -1 $T chr-tail --format parquet -o big.parquet big.ev
	assert_output "chr-tail: 'big.parquet': column price: 100000000000000000 does not fit DECIMAL(18, 1)"
	[ ! -e big.parquet ]
}

@test "parquet: absent vendor values are NULL" {
	need_duckdb
	printf '%s\n' exchange,symbol,timestamp,local_timestamp,ask_amount,ask_price,bid_price,bid_amount \
		x,S,1000,2000,1.5,100.5,,  x,S,1000,2001,2,101,99,0.25 >q.csv
	$T chr-csv2ev q.csv | $T chr-tail --format parquet -o q.parquet
	run -0 duck "SELECT bid_price IS NULL, bid_amount IS NULL, ask_price FROM 'q.parquet'"
	assert_output "(bid_price IS NULL),(bid_amount IS NULL),ask_price
true,true,100.5
false,false,101.0"
}

@test "parquet: nulls and dictionary indexes in runs of every length read back exactly" {
	need_duckdb
	# runs of values and nulls of 1 to 17 rows and random ones (the
	# RLE / bit-packing hybrid), three symbols interleaved in parts
	python3 -c '
import random
r = random.Random(7)
print("exchange,symbol,timestamp,local_timestamp,ask_amount,ask_price,bid_price,bid_amount")
for i in range(300000):
    if i % 1000 < 500:
        null = (i // r.choice([1, 3, 7, 8, 9, 15, 16, 17])) % 2 == 0
    else:
        null = r.random() < 0.5
    bp = "" if null else "%d.%d" % (r.randint(1, 99999), r.randint(0, 9))
    sym = r.randint(0, 2) if i % 3000 > 1500 else 0
    print("x,S%d,%d,%d,%s,100,%s,%s" % (sym, 1000 + i, 2000 + i, r.choice(["", "1", "2.5"]), bp,
                                       "" if r.random() < 0.01 else "3"))' >runs.csv
	$T chr-csv2ev runs.csv | $T chr-tail --format parquet -o runs.parquet
	tardis runs.parquet >back.csv
	"$TOP/test/csvcmp" runs.csv back.csv
}

@test "parquet: row groups of about a million rows, time statistics, ZSTD, dictionaries, metadata" {
	need_duckdb
	f="$DATA/binance-futures_incremental_book_L2_BTCUSDT_2024-08-08.csv.gz"
	# three copies: 3 x 445,262 rows, two row groups
	$T chr-csv2ev "$f" "$f" "$f" | $T chr-tail --format parquet -o big.parquet
	run -0 duck "SELECT count(*), count(DISTINCT row_group_id) FROM parquet_metadata('big.parquet') WHERE path_in_schema = 'price'"
	assert_line "2,2"
	run -0 duck "SELECT sum(num_rows) FROM (SELECT DISTINCT row_group_id, row_group_num_rows AS num_rows FROM parquet_metadata('big.parquet'))"
	assert_line 1335786
	run -0 duck "SELECT DISTINCT compression FROM parquet_metadata('big.parquet')"
	assert_output "compression
ZSTD"
	run -0 duck "SELECT path_in_schema, encodings FROM parquet_metadata('big.parquet') WHERE row_group_id = 0 AND path_in_schema IN ('exchange', 'side', 'price') ORDER BY 1"
	assert_output "path_in_schema,encodings
exchange,\"PLAIN, RLE, RLE_DICTIONARY\"
price,\"PLAIN, RLE\"
side,\"PLAIN, RLE, RLE_DICTIONARY\""
	# min and max of the time columns in every row group, as the data has them
	run -0 duck "SELECT count(*) FROM parquet_metadata('big.parquet') WHERE path_in_schema LIKE '%timestamp' AND stats_min_value IS NOT NULL AND stats_max_value IS NOT NULL"
	assert_line 4
	run -0 duck "SELECT stats_min_value = (SELECT min(local_timestamp)::VARCHAR FROM 'big.parquet') FROM parquet_metadata('big.parquet') WHERE row_group_id = 0 AND path_in_schema = 'local_timestamp'"
	assert_line true
	run -0 duck "SELECT key, value FROM parquet_kv_metadata('big.parquet') ORDER BY 1"
	assert_line "chronicle.source,chr-tail --format parquet -o big.parquet"
	assert_line "chronicle.table,incremental_book_L2"
	run -0 duck "SELECT created_by FROM parquet_file_metadata('big.parquet')"
	assert_line "chronicle version 0.1.0"
}

@test "parquet: records of several types need --type, which names them" {
	gen stream 20 >mixed.ev
	run -2 $T chr-tail --format parquet -o m.parquet mixed.ev
	assert_output --partial "a TRADE record after incremental_book_L2 rows: a Parquet file holds the rows of one Tardis dataset; select one record type (chr-tail --type)"
	[ ! -e m.parquet ]
	run -0 $T chr-tail --format parquet --type trade -o m.parquet mixed.ev
	[ -s m.parquet ]
	[ "$(head -c 4 m.parquet)" = PAR1 ] && [ "$(tail -c 4 m.parquet)" = PAR1 ]
}

@test "parquet: no record with a layout, a terminal, a path that cannot be written" {
	gen heartbeat >hb.ev
	run -1 $T chr-tail --format parquet -o hb.parquet hb.ev
	assert_output "chr-tail: 'hb.parquet': no record with rows (trades, quotes, book, top-N) was selected: a Parquet file needs one to set its columns"
	[ ! -e hb.parquet ]
	gen stream 20 >s.ev
	run -3 $T chr-tail --format parquet --type trade -o no/such/dir/x.parquet s.ev
	assert_output --partial "chr-tail: cannot create 'no/such/dir/x.parquet': No such file or directory"
	: >file
	run -3 $T chr-tail --format parquet --type trade --out-dir file/tree s.ev
	assert_output --partial "chr-tail: cannot create 'file/tree/type=trades/venue=testvenue/symbol=TESTSYM/date=2024-08-08': Not a directory"
	run -2 $T chr-tail --format csv -o x.csv s.ev
	assert_output --partial "--out writes records (to a queue), Parquet or Arrow (to a file)"
	run -2 $T chr-tail --format bogus s.ev
	assert_output --partial "unknown format 'bogus' (binary, text, json, csv, parquet, arrow)"
	# a named reader would commit records not yet in the file
	$T chr-sink --queue q --create <s.ev
	run -2 $T chr-tail --reader r --format parquet -o r.parquet q
	assert_output --partial "--reader commits what is written: Parquet is written at the end"
	run -2 $T chr-tail --format parquet -o x.parquet --out-dir D s.ev
	assert_output --partial "--out-dir goes with --format parquet, without --out"
}

@test "parquet: -o onto a symbolic link or a FIFO writes through it, never replaces it" {
	need_duckdb
	gen stream 20 >s.ev
	: >target.parquet
	ln -s target.parquet link.parquet
	$T chr-tail --format parquet --type trade -o link.parquet s.ev
	[ -L link.parquet ]
	run -0 duck "SELECT count(*) FROM 'target.parquet'"
	assert_line 6
	# the file it links to is replaced whole, as -o FILE is: a finer
	# value after the first row group is raised there too, and a
	# failure leaves the old file
	cp target.parquet old.parquet
	finer 100 | $T chr-csv2ev >fine.ev
	$T chr-tail --format parquet -o link.parquet fine.ev
	[ -L link.parquet ]
	run -0 duck "SELECT count(*), min(price) FROM 'target.parquet'"
	assert_line "1048577,1.5"
	cp old.parquet target.parquet
	run -2 $T chr-tail --format parquet -o link.parquet s.ev
	cmp old.parquet target.parquet
	[ -z "$(ls | grep tmp)" ]
	mkfifo fifo
	cat fifo >from-fifo.parquet &
	$T chr-tail --format parquet --type trade -o fifo s.ev
	wait
	[ -p fifo ]
	run -0 duck "SELECT count(*) FROM 'from-fifo.parquet'"
	assert_line 6
}

@test "parquet: on stdout as -o FILE writes it; never on a terminal" {
	need_duckdb
	gen stream 20 >s.ev
	$T chr-tail --format parquet --type quote -o f.parquet s.ev
	$T chr-tail --format parquet --type quote s.ev >o.parquet
	run -0 duck "SELECT count(*) FROM 'o.parquet'"
	assert_line 6
	run -0 duck "SELECT count(*) FROM (SELECT * FROM 'o.parquet' EXCEPT ALL SELECT * FROM 'f.parquet')"
	assert_line 0
	command -v script >/dev/null || skip "script(1) is not installed"
	run -2 script -qec "chr-tail --format parquet s.ev" /dev/null
	assert_output --partial "refusing to write Parquet to a terminal"
}

# archive A: binance-futures BTCUSDT trades of 2020-02-22 and 2024-08-08,
# and ETHUSDT (the same rows renamed) of 2020-02-22
make_archive() {
	local f="$DATA/binance-futures_trades_BTCUSDT_2020-02-22_excerpt.csv"
	(set -o pipefail
	 $T chr-csv2ev "$f" | $T chr-sink --archive A
	 $T chr-csv2ev "$DATA/binance-futures_trades_BTCUSDT_2024-08-08.csv.gz" | $T chr-sink --archive A
	 sed 's/BTCUSDT/ETHUSDT/' "$f" | $T chr-csv2ev | $T chr-sink --archive A)
}

# stamps DIR: each file under DIR with its inode and mtime (ns)
stamps() {
	find "$1" -type f -printf '%p %i %T@\n' | sort
}

@test "parquet tree: a file per type, venue, symbol and date, each put in place whole" {
	make_archive
	run -0 $T chr-tail --archive A --venue binance-futures --symbol '*' --stream trade \
		--format parquet --out-dir OUT
	run -0 find OUT -type f
	assert_output --partial OUT/type=trades/venue=binance-futures/symbol=BTCUSDT/date=2020-02-22/part-0.parquet
	assert_output --partial OUT/type=trades/venue=binance-futures/symbol=BTCUSDT/date=2024-08-08/part-0.parquet
	assert_output --partial OUT/type=trades/venue=binance-futures/symbol=ETHUSDT/date=2020-02-22/part-0.parquet
	[ "${#lines[@]}" -eq 3 ]	# no temporary file left
	run -2 $T chr-tail --archive A --venue binance-futures --symbol '*' --format csv --out-dir O2
	assert_output --partial "--out-dir goes with --format parquet, without --out"
}

@test "parquet tree: DuckDB reads it as one table, prunes by symbol and date, rows as chr-tail --format csv" {
	need_duckdb
	make_archive
	$T chr-tail --archive A --venue binance-futures --symbol '*' --stream trade \
		--format parquet --out-dir OUT
	$T chr-tail --archive A --venue binance-futures --symbol BTCUSDT --stream trade \
		--from 2020-02-22T00:00:10Z --until 2020-02-22T00:30:00Z --format csv >want.csv
	[ "$(wc -l <want.csv)" -gt 100 ]
	where="symbol = 'BTCUSDT' AND date = '2020-02-22' AND local_timestamp >= '2020-02-22 00:00:10+00' AND local_timestamp < '2020-02-22 00:30:00+00'"
	duck "SELECT exchange, symbol, epoch_us(\"timestamp\") AS \"timestamp\", epoch_us(local_timestamp) AS local_timestamp, id, side, price, amount FROM read_parquet('OUT/**/*.parquet', hive_partitioning = true) WHERE $where" >got.csv
	"$TOP/test/csvcmp" want.csv got.csv
	# the symbol and date filters choose one file of three: only it is read
	run -0 duck "EXPLAIN ANALYZE SELECT count(*) FROM read_parquet('OUT/**/*.parquet', hive_partitioning = true) WHERE $where"
	assert_output --partial "Scanning Files: 1/3"
	assert_output --partial "Total Files Read: 1"
	# the whole tree is the whole archive
	run -0 duck "SELECT symbol, date, type, venue, count(*) AS n FROM read_parquet('OUT/**/*.parquet', hive_partitioning = true) GROUP BY ALL ORDER BY ALL"
	assert_output "symbol,date,type,venue,n
BTCUSDT,2020-02-22,trades,binance-futures,9999
BTCUSDT,2024-08-08,trades,binance-futures,21313
ETHUSDT,2020-02-22,trades,binance-futures,9999"
}

@test "parquet tree: 24 instruments, each file whole and naming its own partition" {
	local f="$DATA/binance-futures_trades_BTCUSDT_2020-02-22_excerpt.csv"
	for i in $(seq 24); do sed "s/BTCUSDT/S${i}USDT/" "$f" | $T chr-csv2ev >s$i.ev; done
	$T chr-tail s*.ev >all.ev
	$T chr-tail --format parquet --out-dir OUT all.ev
	[ "$(find OUT -type f | wc -l)" -eq 24 ]
	for i in $(seq 24); do
		g=OUT/type=trades/venue=binance-futures/symbol=S${i}USDT/date=2020-02-22/part-0.parquet
		[ "$(tail -c 4 "$g")" = PAR1 ]
		grep -aq "type=trades/venue=binance-futures/symbol=S${i}USDT/date=2020-02-22" "$g"
	done
	# a rerun finds every file the same
	stamps OUT >before
	$T chr-tail --format parquet --out-dir OUT all.ev
	stamps OUT >after
	diff before after
}

@test "parquet tree: a rerun leaves the files that did not change untouched" {
	make_archive
	$T chr-tail --archive A --venue binance-futures --symbol '*' --stream trade \
		--format parquet --out-dir OUT
	stamps OUT >before
	sleep 0.01
	$T chr-tail --archive A --venue binance-futures --symbol '*' --stream trade \
		--format parquet --out-dir OUT
	stamps OUT >after
	diff before after
	# a file that is not what the archive gives is replaced, alone
	f=OUT/type=trades/venue=binance-futures/symbol=ETHUSDT/date=2020-02-22/part-0.parquet
	cp "$f" good.parquet
	echo damaged >"$f"
	stamps OUT >before
	$T chr-tail --archive A --venue binance-futures --symbol '*' --stream trade \
		--format parquet --out-dir OUT
	stamps OUT >after
	cmp good.parquet "$f"
	run -1 diff before after
	[ "$(grep -c '^<' <<<"$output")" -eq 1 ]
	assert_output --partial "< $f"
}

@test "parquet: chr-book's views as Parquet hold the rows of their CSV; chr-feed keeps --out for queues" {
	need_duckdb
	$T chr-csv2ev "$DATA/binance-futures_incremental_book_L2_BTCUSDT_2024-08-08.csv.gz" >l2.ev
	$T chr-book --bbo --format csv l2.ev >want.csv
	$T chr-book --bbo --format parquet l2.ev >bbo.parquet
	tardis bbo.parquet >got.csv
	"$TOP/test/csvcmp" want.csv got.csv
	[ "$(wc -l <got.csv)" -gt 1000 ]
	run -2 $T chr-feed --venue binance-futures --capture --out q --format parquet /dev/null
	assert_output --partial "--out takes binary records: --format parquet is for standard output"
}
