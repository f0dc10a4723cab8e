#!/usr/bin/env bats
# chr-tail: inputs (stdin, files, partitions, the archive), selection,
# output formats, bad input by byte offset, exit codes, early close.

load test_helper

TS0=1723075200000000000	# 2024-08-08T00:00:00Z
SEC=1000000000

count() {
	$T chr-tail --format text "$@" | wc -l
}

# archive A with testvenue/TESTSYM: 2024-08-08 two segments of 5 records,
# 2024-08-09 one segment of 3
make_archive() {
	local d=A/v1/testvenue/TESTSYM
	mkdir -p $d/2024-08-08/book $d/2024-08-09/book A/.staging/junk
	gen stream 5 $TS0 0 0 >$d/2024-08-08/book/000000000.q
	gen stream 5 $((TS0 + 5 * SEC)) 5 1 >$d/2024-08-08/book/000000001.q
	gen stream 3 $((TS0 + 86400 * SEC)) 0 0 >$d/2024-08-09/book/000000000.q
	echo garbage >$d/2024-08-08/book/000000002.q.tmp
	echo garbage >A/.staging/junk/000000000.q
}

@test "empty input: no output, exit 0" {
	run -0 $T chr-tail </dev/null
	[ -z "$output" ]
	run -0 $T chr-tail --format text </dev/null
	[ -z "$output" ]
	: >empty.q
	run -0 $T chr-tail --format json empty.q
	[ -z "$output" ]
}

@test "one record and many records pass through unchanged" {
	gen stream 1 >one.q
	$T chr-tail <one.q >out.q
	cmp one.q out.q
	gen stream 5000 >many.q
	$T chr-tail <many.q >out.q
	cmp many.q out.q
	$T chr-tail many.q >out.q
	cmp many.q out.q
	run -0 count many.q
	[ "$output" = 5000 ]
}

@test "concatenated streams; several inputs merged by ts; segment files" {
	gen stream 10 >a.q
	gen stream 7 >b.q
	cat a.q b.q >ab.q
	cat a.q b.q | $T chr-tail >out.q
	cmp ab.q out.q
	# a and b overlap in time: merged by ts, ties in argument order
	$T chr-tail a.q - b.q <a.q >out.q
	run -0 count out.q
	[ "$output" = 27 ]
	run -0 --separate-stderr sh -c "chr-tail --format json --defines out.q | python3 -c '
import json, sys
rs = [json.loads(l) for l in sys.stdin]
assert all(x[\"ts\"] <= y[\"ts\"] for x, y in zip(rs, rs[1:])), \"not in ts order\"
print(rs[0][\"seq\"], rs[1][\"seq\"], rs[2][\"seq\"], rs[-1][\"seq\"])'"
	[ "$output" = "0 0 0 9" ]
	# segment headers are dropped: the output is records only
	gen stream 4 $TS0 0 0 >s0.q
	gen stream 4 $((TS0 + 4 * SEC)) 4 1 >s1.q
	gen stream 8 >plain.q
	cat s0.q s1.q | $T chr-tail >out.q
	cmp plain.q out.q
	$T chr-tail s0.q s1.q >out.q
	cmp plain.q out.q
}

@test "text format: one readable line per record, names from DEFINE" {
	gen stream 4 >a.q
	run -0 $T chr-tail --format text a.q
	[ "${lines[0]}" = "2024-08-08T00:00:00.000000000Z DEFINE testvenue TESTSYM seq=0 src_seq=0 flags=- venue=testvenue symbol=TESTSYM price_scale_hint=1 size_scale_hint=3" ]
	[ "${lines[1]}" = "2024-08-08T00:00:01.000000000Z BOOK_SNAPSHOT testvenue TESTSYM seq=1 src_seq=1 flags=- ids=1..1 prev=0 bid[3] 61800.2 x 1, 61800.1 x 2, 61800 x 3; ask[2] 61800.3 x 0.5, 61800.4 x 0.5" ]
	[ "${lines[2]}" = "2024-08-08T00:00:02.000000000Z BOOK_DIFF testvenue TESTSYM seq=2 src_seq=2 flags=LAST ids=2..2 prev=1 bid[1] 61800.2 x 0; ask[1] 61800.3 x 0.5" ]
	[ "${lines[3]}" = "2024-08-08T00:00:03.000000000Z TRADE testvenue TESTSYM seq=3 src_seq=3 flags=- buy 61800.5 x 2.909 id=1003" ]
	run -0 $T chr-tail --format text --levels 1 --type snapshot a.q
	[ "$output" = "2024-08-08T00:00:01.000000000Z BOOK_SNAPSHOT testvenue TESTSYM seq=1 src_seq=1 flags=- ids=1..1 prev=0 bid[3] 61800.2 x 1, ... +2; ask[2] 61800.3 x 0.5, ... +1" ]
	# without the DEFINE the ids are shown
	gen stream 3 $TS0 3 >b.q
	run -0 $T chr-tail --format text --type trade b.q
	[[ "$output" == *" TRADE #7 #42 seq=3 "* ]]
}

@test "json format: one valid object per line, exact decimals as strings" {
	gen stream 50 >a.q
	$T chr-tail --format json --defines a.q >out.json
	run -0 python3 -c '
import json, sys
n = 0
for line in open("out.json"):
    o = json.loads(line)
    n += 1
    for k in ("len", "type", "type_name", "flags", "seq", "ts", "time", "ts_event",
              "src_seq", "venue", "market", "version", "crc"):
        assert k in o, k
    if o["type_name"] == "TRADE":
        m = 618002 + o["seq"]
        want = "%d.%d" % (m // 10, m % 10) if m % 10 else "%d" % (m // 10)
        assert o["price"] == want, (o["seq"], o["price"], want)
        assert o["size"] == "2.909", o["size"]
        assert isinstance(o["price"], str) and isinstance(o["size"], str)
    if o["type_name"] == "QUOTE":
        assert o["ask_sz"] is None and o["bid_sz"] == "1.5"
    if o["type_name"] == "BOOK_SNAPSHOT":
        assert o["bids"][0] == ["61800.2", "1"], o["bids"]
print(n)'
	[ "$output" = 50 ]
}

@test "--from/--until by time and by seq, half-open" {
	gen stream 20 >a.q
	# DEFINE always passes; records 5..9
	run -0 count --from $((TS0 + 5 * SEC)) --until 2024-08-08T00:00:10Z a.q
	[ "$output" = 6 ]
	run -0 count --from seq:5 --until seq:10 a.q
	[ "$output" = 6 ]
	run -0 count --until seq:1 a.q
	[ "$output" = 1 ]
	run -0 count --from 2024-08-09 a.q
	[ "$output" = 1 ]
	run -0 count --from 2024-08-08T00:00:19.5Z a.q
	[ "$output" = 1 ]
	run -0 count --from 2024-08-08T00:00:19Z a.q
	[ "$output" = 2 ]
}

@test "--type (list and repeated) and --limit" {
	gen stream 20 >a.q
	# types: 0 DEFINE, 1 SNAPSHOT, then DIFF (2,5,..,17), TRADE (3,..,18), QUOTE (4,..,19)
	run -0 count --type trade a.q
	[ "$output" = 6 ]
	run -0 count --type trade,quote a.q
	[ "$output" = 12 ]
	run -0 count --type trade --type QUOTE --type define a.q
	[ "$output" = 13 ]
	run -0 count --type book a.q
	[ "$output" = 7 ]
	run -0 count --type 0x0011 a.q
	[ "$output" = 6 ]
	# DEFINE records do not count
	run -0 count --limit 3 a.q
	[ "$output" = 4 ]
	run -0 count --limit 0 a.q
	[ "$output" = 0 ]
	run -0 count --type trade --limit 2 --from seq:10 a.q
	[ "$output" = 2 ]
	$T chr-tail --limit 2 a.q >out.q
	run -0 count out.q
	[ "$output" = 3 ]
}

@test "a partition directory: its segments in id order, .tmp ignored" {
	mkdir p
	gen stream 5 $((TS0 + 5 * SEC)) 5 10 >p/000000010.q
	gen stream 5 $TS0 0 9 >p/000000009.q
	echo junk >p/000000011.q.tmp
	echo junk >p/notes
	gen stream 10 >plain.q
	$T chr-tail p >out.q
	cmp plain.q out.q
}

@test "--archive: all dates in order, one date, pruning by segment header" {
	make_archive
	run -0 count --archive A --venue testvenue --symbol TESTSYM
	[ "$output" = 13 ]
	run -0 count --archive A --venue testvenue --symbol TESTSYM --stream book --date 2024-08-09
	[ "$output" = 3 ]
	run -0 count --archive A --venue testvenue --symbol TESTSYM --stream book --type trade --date 2024-08-08
	[ "$output" = 3 ]
	# --type trade alone selects the trade stream, which this archive lacks
	run -1 --separate-stderr $T chr-tail --archive A --venue testvenue --symbol TESTSYM --type trade
	[ "$stderr" = "chr-tail: no stream 'trade' for testvenue TESTSYM in 'A'; streams: book" ]
	# corrupt a record in segment 1 of 2024-08-08 and the 2024-08-09 body:
	# a range outside them never reads those records
	poke A/v1/testvenue/TESTSYM/2024-08-08/book/000000001.q 100 'XX'
	poke A/v1/testvenue/TESTSYM/2024-08-09/book/000000000.q 100 'XX'
	run -0 --separate-stderr $T chr-tail --format text --archive A --venue testvenue --symbol TESTSYM --until 2024-08-08T00:00:05Z
	[ "${#lines[@]}" = 5 ]
	# from inside segment 1: segment 0 gives only its DEFINE
	run -1 --separate-stderr $T chr-tail --format text --archive A --venue testvenue --symbol TESTSYM --from 2024-08-08T00:00:05Z
	[[ "${lines[0]}" == *" DEFINE testvenue TESTSYM "* ]]
	[ "$stderr" = "chr-tail: A/v1/testvenue/TESTSYM/2024-08-08/book/000000001.q: byte 64: bad crc" ]
	rm A/v1/testvenue/TESTSYM/2024-08-08/book/000000001.q
	run -0 --separate-stderr $T chr-tail --format text --archive A --venue testvenue --symbol TESTSYM --from 2024-08-08T00:00:03Z --until 2024-08-09
	[ "${#lines[@]}" = 3 ]
	[[ "${lines[0]}" == *" DEFINE "* ]]
	[[ "${lines[1]}" == *" TRADE "* ]]
}

@test "--archive: a missing instrument or partition is exit 1, naming what exists" {
	make_archive
	run -1 --separate-stderr $T chr-tail --archive A --venue testvenue --symbol NOPE
	[ "$stderr" = "chr-tail: no symbol 'NOPE' for venue testvenue in 'A'; symbols: TESTSYM" ]
	run -1 --separate-stderr $T chr-tail --archive A --venue testvenue --symbol TESTSYM --date 2024-08-10
	[ "$stderr" = "chr-tail: no date '2024-08-10' for testvenue TESTSYM book in 'A'; dates: 2024-08-09, 2024-08-08" ]
}

# check_bad FILE OFFSET WHAT: FILE is bad input at byte OFFSET, on stdin
# and as a file argument after a good file
check_bad() {
	run -1 --separate-stderr $T chr-tail --format text <"$1"
	[ "$stderr" = "chr-tail: stdin: byte $2: $3" ] || { echo "stdin: $stderr"; return 1; }
	run -1 --separate-stderr $T chr-tail --format text good.q "$1"
	[ "$stderr" = "chr-tail: $1: byte $2: $3" ] || { echo "file: $stderr"; return 1; }
	# the good records before it in the same input are written out
	cat good.q "$1" >goodbad.q
	run -1 --separate-stderr $T chr-tail --format text goodbad.q
	[ "${#lines[@]}" -ge 5 ]
}

@test "bad input: exit 1 with the byte offset, on stdin and on a file" {
	gen stream 5 >good.q
	gen stream 5 $TS0 0 3 >seg.q
	# DEFINE spans bytes 0..191, the snapshot 192..
	head -c 10 good.q >short.q
	check_bad short.q 0 "truncated record header"
	head -c $((192 + 30)) good.q >trunchdr.q
	check_bad trunchdr.q 192 "truncated record header"
	head -c 292 good.q >truncbody.q
	check_bad truncbody.q 192 "truncated record"
	cp good.q crc.q
	poke crc.q 270 '\001'
	check_bad crc.q 192 "bad crc"
	cp seg.q segver.q
	poke segver.q 4 '\002'
	check_bad segver.q 0 "unknown segment version"
	cp seg.q segcrc.q
	poke segcrc.q 20 '\377'
	check_bad segcrc.q 0 "bad segment header crc"
	cp good.q big.q
	poke big.q 192 '\000\000\000\002'
	check_bad big.q 192 "record length above 16 MiB"
	cp good.q zero.q
	poke zero.q 192 '\000\000\000\000'
	check_bad zero.q 192 "record length 0 (unwritten space, or not a record stream)"
	{ printf '\377'; yes 'random garbage' | head -c 999; } >garbage.q
	check_bad garbage.q 0 "record length above 16 MiB"
}

@test "CSV, text or gzip given as records: said so at byte 0, with what converts it" {
	csv="this looks like CSV text, not chronicle records; convert it with chr-csv2ev"
	gz="this looks like gzip data, not chronicle records (a Tardis .csv.gz converts with chr-csv2ev; gzip'ed records decompress with gzip -d)"
	run -1 --separate-stderr $T chr-tail "$DATA/bitmex_trades_XBTUSD.csv"
	[ "$stderr" = "chr-tail: $DATA/bitmex_trades_XBTUSD.csv: $csv" ]
	run -1 --separate-stderr $T chr-tail --format text <"$DATA/bitmex_trades_XBTUSD.csv"
	[ "$stderr" = "chr-tail: stdin: $csv" ]
	# shorter than a record header, and a header line alone
	head -c 20 "$DATA/bitmex_trades_XBTUSD.csv" >short.csv
	run -1 --separate-stderr $T chr-tail short.csv
	[ "$stderr" = "chr-tail: short.csv: $csv" ]
	run -1 --separate-stderr $T chr-tail "$DATA/binance-futures_trades_BTCUSDT_2024-08-08.csv.gz"
	[ "$stderr" = "chr-tail: $DATA/binance-futures_trades_BTCUSDT_2024-08-08.csv.gz: $gz" ]
	gen stream 5 | gzip >recs.gz
	run -1 --separate-stderr $T chr-tail --format text <recs.gz
	[ "$stderr" = "chr-tail: stdin: $gz" ]
	echo hello >h.txt
	run -1 --separate-stderr $T chr-tail h.txt
	[ "$stderr" = "chr-tail: h.txt: this looks like text, not chronicle records" ]
	# only at byte 0: text after good records is a bad record there
	gen stream 5 >good.q
	cat good.q "$DATA/bitmex_trades_XBTUSD.csv" >mixed.q
	run -1 --separate-stderr $T chr-tail --format text mixed.q
	[ "$stderr" = "chr-tail: mixed.q: byte $(stat -c %s good.q): record length above 16 MiB" ]
	[ "${#lines[@]}" = 5 ]
}

@test "bad input stops the stream: later inputs are not read" {
	gen stream 5 >good.q
	head -c 10 good.q >short.q
	run -1 --separate-stderr $T chr-tail --format text short.q good.q
	[ "$output" = "" ]
	[ "$stderr" = "chr-tail: short.q: byte 0: truncated record header" ]
}

@test "binary output is refused on a terminal; text is the default there" {
	command -v script >/dev/null || skip "script(1) is not installed"
	gen stream 3 >a.q
	run -2 script -qec "chr-tail --format binary a.q" /dev/null
	[[ "$output" == *"chr-tail: refusing to write binary records to a terminal"* ]]
	run -0 script -qec "chr-tail a.q" /dev/null
	[[ "$output" == *" TRADE testvenue TESTSYM "* ]] || [[ "$output" == *" BOOK_DIFF testvenue "* ]]
}

@test "-h and --version: stdout, exit 0" {
	run -0 --separate-stderr $T chr-tail -h
	[[ "${lines[0]}" == "usage: chr-tail [options] [file | dir | queue | -]..." ]]
	[ -z "$stderr" ]
	run -0 $T chr-tail --help
	[[ "$output" == *"--archive root --venue venue --symbol symbol"* ]]
	run -0 $T chr-tail --version
	[[ "$output" == "chr-tail "* ]]
}

@test "misuse is exit 2" {
	run -2 --separate-stderr $T chr-tail --bogus
	[[ "$stderr" == *"Try 'chr-tail --help' for more information."* ]]
	run -2 --separate-stderr $T chr-tail --format xml
	[[ "$stderr" == "chr-tail: unknown format 'xml' (binary, text, json, csv, parquet, arrow)"* ]]
	run -2 --separate-stderr $T chr-tail --from yesterday
	[[ "$stderr" == "chr-tail: --from 'yesterday' is neither a time nor seq:N"* ]]
	run -2 --separate-stderr $T chr-tail --until seq:x
	# an inverted range is refused, not answered with nothing
	run -2 --separate-stderr $T chr-tail --from 2024-08-08T10:00:00Z --until 2024-08-08T09:00:00Z a.q
	[[ "$stderr" == "chr-tail: --from is after --until"* ]]
	run -2 $T chr-tail --from seq:10 --until seq:5 a.q
	run -2 --separate-stderr $T chr-tail --type trade,bogus
	[[ "$stderr" == "chr-tail: --type 'bogus' is not a record type"* ]]
	run -2 $T chr-tail --limit -1
	run -2 $T chr-tail --venue x
	run -2 $T chr-tail --archive A --venue x
	run -2 $T chr-tail --archive A --venue ../x --symbol y
	run -2 $T chr-tail --archive A --venue x --symbol y --stream bids
	run -2 $T chr-tail --archive A --venue x --symbol y --date 2024-13-01
	run -2 $T chr-tail --archive A --venue x --symbol y file.q
}

@test "an unreadable file is exit 3" {
	gen stream 5 >good.q
	# inputs are merged: each is opened before the first record goes out
	run -3 --separate-stderr $T chr-tail --format text good.q nope.q
	[ "$stderr" = "chr-tail: cannot open 'nope.q': No such file or directory" ]
	if [ "$(id -u)" != 0 ]; then
		cp good.q locked.q
		chmod 000 locked.q
		run -3 --separate-stderr $T chr-tail locked.q
		[ "$stderr" = "chr-tail: cannot open 'locked.q': Permission denied" ]
	fi
}

@test "the reader closing early ends quietly" {
	gen stream 200000 >big.q
	run -0 bash -c 'chr-tail --format text big.q 2>err | head -1 >/dev/null; echo ${PIPESTATUS[0]}'
	[[ "$output" = 141 || "$output" = 0 ]]
	[ ! -s err ]
	run -0 bash -c 'chr-tail big.q 2>err | head -c 100 >/dev/null; echo ${PIPESTATUS[0]}'
	[[ "$output" = 141 || "$output" = 0 ]]
	[ ! -s err ]
	run -0 bash -c 'chr-tail --format json <big.q 2>err | head -1 >/dev/null; echo ${PIPESTATUS[0]}'
	[[ "$output" = 141 || "$output" = 0 ]]
	[ ! -s err ]
	# with SIGPIPE ignored the write error ends it quietly too
	run -0 bash -c 'trap "" PIPE; chr-tail --format text big.q 2>err | head -1 >/dev/null; echo ${PIPESTATUS[0]}'
	[ "$output" = 0 ]
	[ ! -s err ]
}

@test "csv format: Tardis rows, names from DEFINE even when it is not selected" {
	command -v chr-csv2ev >/dev/null || skip "chr-csv2ev is not built yet"
	$T chr-csv2ev "$DATA/bitmex_trades_XBTUSD.csv" >t.q
	run -0 $T chr-tail --format csv --type trade --limit 2 t.q
	[ "${#lines[@]}" = 3 ]
	[ "${lines[0]}" = "exchange,symbol,timestamp,local_timestamp,id,side,price,amount" ]
	[ "${lines[1]}" = "bitmex,XBTUSD,1583020803145000,1583020803307160,ccc3c1fa-212c-e8b0-1706-9b9c4f3d5ecf,sell,8531.5,2152" ]
	# records with no Tardis form are counted, not silently dropped
	gen stream 3 >a.q
	head -c 192 a.q >def.q
	gen heartbeat >hb.q
	run -0 --separate-stderr $T chr-tail --format csv def.q hb.q hb.q
	[ -z "$output" ]
	[ "$stderr" = "chr-tail: 2 records with no Tardis CSV form (GAP, HEARTBEAT, ...) not written" ]
	run -0 --separate-stderr $T chr-tail --format text hb.q
	[ "$output" = "2024-08-08T00:00:00.000000000Z HEARTBEAT - - seq=0 src_seq=0 flags=-" ]
}

@test "text format: control and non-ASCII bytes in names are escaped, one line per record" {
	gen spec D 1 2 'ev\x1b[31mil\x0aX' 'S\x7fY\xc3\xa9' T 1 2 2024-05-01 1 >evil.q
	run -0 $T chr-tail --format text evil.q
	[ "${#lines[@]}" = 2 ]
	[ "${lines[0]}" = '1970-01-01T00:00:00.000000000Z DEFINE ev\x1b[31mil\x0aX S\x7fY\xc3\xa9 seq=0 src_seq=0 flags=- venue=ev\x1b[31mil\x0aX symbol=S\x7fY\xc3\xa9 price_scale_hint=0 size_scale_hint=0' ]
	[ "${lines[1]}" = '2024-05-01T00:00:00.000000000Z TRADE ev\x1b[31mil\x0aX S\x7fY\xc3\xa9 seq=1 src_seq=1 flags=- buy 600000 x 1 id=0' ]
	# no raw control byte reaches the terminal
	run -0 bash -c "chr-tail --format text evil.q | LC_ALL=C tr -d '\n[:print:]' | wc -c"
	[ "$output" = 0 ]
	# JSON keeps them, escaped by JSON
	run -0 $T chr-tail --format json --defines evil.q
	[ "${#lines[@]}" = 2 ]
	[[ "${lines[1]}" == *'"venue_name":"ev\u001B[31mil\nX"'* ]]
}

@test "messages escape control bytes of paths and option values" {
	gen stream 5 >good.q
	head -c 10 good.q >"$(printf 'b\033[2Jad.q')"
	run -1 --separate-stderr $T chr-tail --format text "$(printf 'b\033[2Jad.q')"
	[ "$stderr" = 'chr-tail: b\x1b[2Jad.q: byte 0: truncated record header' ]
	run -3 --separate-stderr $T chr-tail --format text "$(printf 'no\nsuch.q')"
	[ "$stderr" = "chr-tail: cannot open 'no\\x0asuch.q': No such file or directory" ]
	run -2 --separate-stderr $T chr-tail --format "$(printf 'x\033y')"
	[ "${stderr_lines[0]}" = "chr-tail: unknown format 'x\\x1by' (binary, text, json, csv, parquet, arrow)" ]
	run -2 --separate-stderr $T chr-tail --archive A --venue "$(printf 'v\033')" --symbol s
	[ "${stderr_lines[0]}" = "chr-tail: --venue 'v\\x1b': name contains a space, control or non-ASCII byte" ]
	run -3 --separate-stderr $T chr-tail --archive "$(printf 'r\033')" --venue v --symbol s
	[ "$stderr" = "chr-tail: cannot open 'r\\x1b': No such file or directory" ]
}

@test "--type with binary output keeps each instrument's DEFINE before its first record" {
	gen stream 20 >a.q
	$T chr-tail --type trade a.q >t.q
	run -0 $T chr-tail --format text t.q
	[ "${#lines[@]}" = 7 ]
	[[ "${lines[0]}" == *" DEFINE testvenue TESTSYM seq=0 "* ]]
	[[ "${lines[1]}" == *" TRADE testvenue TESTSYM seq=3 "* ]]
	# --limit counts the selected records, not the DEFINE that goes with them
	$T chr-tail --type trade --limit 2 --from seq:10 a.q >t.q
	run -0 $T chr-tail --format text t.q
	[ "${#lines[@]}" = 3 ]
	[[ "${lines[0]}" == *" DEFINE testvenue TESTSYM seq=0 "* ]]
	[[ "${lines[1]}" == *" TRADE testvenue TESTSYM seq=12 "* ]]
	[[ "${lines[2]}" == *" TRADE testvenue TESTSYM seq=15 "* ]]
	$T chr-tail --type trade --until seq:0 a.q >t.q
	[ ! -s t.q ]
	# two instruments: each DEFINE just before that instrument's first
	# selected record, once, also when the input repeats it
	gen spec D 1 2 binance BTCUSDT D 1 3 binance ETHUSDT Q 1 3 2024-05-01 2 T 1 2 2024-05-01 2 \
		T 1 3 2024-05-01T00:01 2 >two.q
	cat two.q two.q | $T chr-tail --type trade >t.q
	run -0 $T chr-tail --format text t.q
	[ "${#lines[@]}" = 10 ]
	[[ "${lines[0]}" == *" DEFINE binance BTCUSDT seq=0 "* ]]
	[[ "${lines[1]}" == *" TRADE binance BTCUSDT seq=4 "* ]]
	[[ "${lines[2]}" == *" TRADE binance BTCUSDT seq=5 "* ]]
	[[ "${lines[3]}" == *" DEFINE binance ETHUSDT seq=1 "* ]]
	[[ "${lines[4]}" == *" TRADE binance ETHUSDT seq=6 "* ]]
	[[ "${lines[6]}" == *" TRADE binance BTCUSDT seq=4 "* ]]
	[[ "${lines[9]}" == *" TRADE binance ETHUSDT seq=7 "* ]]
	# a DEFINE that renames the ids goes out again
	gen spec D 1 2 binance BTCUSDT T 1 2 2024-05-01 1 D 1 2 binance XBTUSD T 1 2 2024-05-01 1 >re.q
	$T chr-tail --type trade re.q >t.q
	run -0 $T chr-tail --format text t.q
	[ "${#lines[@]}" = 4 ]
	[[ "${lines[3]}" == *" TRADE binance XBTUSD seq=3 "* ]]
	# the archive: one DEFINE per partition read, passed on once
	make_archive
	$T chr-tail --archive A --venue testvenue --symbol TESTSYM --type snapshot >t.q
	run -0 $T chr-tail --format text t.q
	[ "${#lines[@]}" = 3 ]
	[[ "${lines[0]}" == *" DEFINE "* ]]
	[[ "${lines[2]}" == "2024-08-09T00:00:01.000000000Z BOOK_SNAPSHOT "* ]]
}

@test "--type trade piped into --format csv keeps the names" {
	command -v chr-csv2ev >/dev/null || skip "chr-csv2ev is not built yet"
	$T chr-csv2ev "$DATA/bitmex_trades_XBTUSD.csv" >t.q
	run -0 bash -c "chr-tail --type trade --limit 1 t.q | chr-tail --format csv"
	[ "${#lines[@]}" = 2 ]
	[ "${lines[1]}" = "bitmex,XBTUSD,1583020803145000,1583020803307160,ccc3c1fa-212c-e8b0-1706-9b9c4f3d5ecf,sell,8531.5,2152" ]
}

@test "json: unsigned values above INT64_MAX are exact decimal strings" {
	gen huge >huge.q
	run -0 $T chr-tail --format json huge.q
	[ "${#lines[@]}" = 2 ]
	[[ "${lines[0]}" == *'"seq":"18446744073709551615",'* ]]
	[[ "${lines[0]}" == *'"src_seq":"9223372036854775808",'* ]]
	[[ "${lines[0]}" == *'"update_id_first":"18446744073709551615","update_id_last":"9223372036854775808","update_id_prev":9223372036854775807,'* ]]
	[[ "${lines[1]}" == *'"seq":9223372036854775807,'* ]]
	[[ "${lines[1]}" == *'"expected":"9223372036854775809","got":"18446744073709551614",'* ]]
	run -0 $T chr-tail --format text huge.q
	[[ "${lines[0]}" == *" seq=18446744073709551615 src_seq=9223372036854775808 flags=- ids=18446744073709551615..9223372036854775808 prev=9223372036854775807 "* ]]
	[[ "${lines[1]}" == *" expected=9223372036854775809 got=18446744073709551614 reason=seq" ]]
}

@test "--archive: a stream that does not exist is an error even when --from/--until prune every date" {
	make_archive
	run -1 --separate-stderr $T chr-tail --archive A --venue testvenue --symbol TESTSYM --stream trade --from 2030-01-01
	[ "$stderr" = "chr-tail: no stream 'trade' for testvenue TESTSYM in 'A'; streams: book" ]
	run -1 --separate-stderr $T chr-tail --archive A --venue testvenue --symbol TESTSYM --type trade --until 2000-01-01
	[ "$stderr" = "chr-tail: no stream 'trade' for testvenue TESTSYM in 'A'; streams: book" ]
	# the stream exists, every date pruned: nothing, exit 0
	run -0 --separate-stderr $T chr-tail --format text --archive A --venue testvenue --symbol TESTSYM --from 2030-01-01
	[ -z "$output" ]
	[ -z "$stderr" ]
	# not a directory
	: >A/v1/testvenue/FILE
	run -1 --separate-stderr $T chr-tail --archive A --venue testvenue --symbol FILE
	[ "$stderr" = "chr-tail: no symbol 'FILE' for venue testvenue in 'A'; symbols: TESTSYM" ]
	# names that are not dates are passed over
	mkdir -p A/v1/testvenue/TESTSYM/notadate/book A/v1/testvenue/TESTSYM/2024-08-10
	cp A/v1/testvenue/TESTSYM/2024-08-09/book/000000000.q A/v1/testvenue/TESTSYM/notadate/book/
	run -0 count --archive A --venue testvenue --symbol TESTSYM
	[ "$output" = 13 ]
}

# archive B of testvenue: BTCUSDT, BTCUSDC and ETHUSDT, five trades each at
# 10:00, interleaved in time; ETHUSDT lies in the tier "cold"
make_symbols() {
	gen spec D 7 1 testvenue BTCUSDT T 7 1 2024-08-08T10:00:00.0001 5 >t1.ev
	gen spec D 7 2 testvenue BTCUSDC T 7 2 2024-08-08T10:00:00.0004 5 >t2.ev
	gen spec D 7 3 testvenue ETHUSDT T 7 3 2024-08-08T10:00:00.0007 5 >t3.ev
	cat t1.ev t2.ev t3.ev | $T chr-sink --archive B
	mkdir -p B/cold/v1/testvenue
	mv B/v1/testvenue/ETHUSDT B/cold/v1/testvenue/
	echo "cold cold 30d" >B/chr-tier.conf
}

# symbols SELECTION...: the symbol of each record chr-tail gives but DEFINEs
symbols() {
	$T chr-tail --format json --archive B --venue testvenue --stream trade "$@" |
		grep -v '"DEFINE"' | sed 's/.*"symbol":"\([^"]*\)".*/\1/' | tr '\n' ' '
}

@test "--archive: repeated --symbol reads each symbol, merged by ts" {
	make_symbols
	run -0 symbols --symbol BTCUSDT --symbol ETHUSDT
	[ "$output" = "BTCUSDT ETHUSDT BTCUSDT ETHUSDT BTCUSDT ETHUSDT BTCUSDT ETHUSDT BTCUSDT ETHUSDT " ]
	# the same records as the partitions merged, each DEFINE before its records
	cmp <($T chr-tail --archive B --venue testvenue --symbol BTCUSDT --symbol ETHUSDT --stream trade) \
		<($T chr-tail B/v1/testvenue/BTCUSDT/2024-08-08/trade B/cold/v1/testvenue/ETHUSDT/2024-08-08/trade)
	# a symbol named twice is read once
	run -0 symbols --symbol ETHUSDT --symbol ETHUSDT
	[ "$output" = "ETHUSDT ETHUSDT ETHUSDT ETHUSDT ETHUSDT " ]
	# one that does not exist is still the error of a name that does not
	run -1 --separate-stderr $T chr-tail --archive B --venue testvenue --symbol BTCUSDT \
		--symbol NOPE --stream trade
	[[ $stderr == "chr-tail: no symbol 'NOPE' for venue testvenue in 'B'; symbols: "* ]]
}

@test "--archive: a --symbol glob reads every symbol it matches, in every tier" {
	make_symbols
	run -0 symbols --symbol 'BTC*'
	[ "$output" = "BTCUSDT BTCUSDC BTCUSDT BTCUSDC BTCUSDT BTCUSDC BTCUSDT BTCUSDC BTCUSDT BTCUSDC " ]
	run -0 symbols --symbol '*USDT' --limit 4
	[ "$output" = "BTCUSDT ETHUSDT BTCUSDT ETHUSDT " ]
	run -0 symbols --symbol '?THUSD[A-Z]' --symbol BTCUSDC --limit 2
	[ "$output" = "BTCUSDC ETHUSDT " ]
	# a glob that matches nothing is refused, not answered with nothing
	run -1 --separate-stderr $T chr-tail --archive B --venue testvenue --symbol 'XRP*' --type trade
	[ "$stderr" = "chr-tail: no symbol matches 'XRP*' for venue 'testvenue' and stream 'trade'; symbols: BTCUSDC, BTCUSDT, ETHUSDT" ]
	[ -z "$output" ]
	run -1 --separate-stderr $T chr-tail --archive B --venue nosuch --symbol 'BTC*' --stream trade
	[ "$stderr" = "chr-tail: no symbol matches 'BTC*' for venue 'nosuch' and stream 'trade'; symbols: none" ]
	# a glob names the symbols that have the stream: none has a book
	run -1 --separate-stderr $T chr-tail --archive B --venue testvenue --symbol 'BTC*'
	[ "$stderr" = "chr-tail: no symbol matches 'BTC*' for venue 'testvenue' and stream 'book'; symbols: none" ]
	gen spec D 7 4 testvenue BTCBOOK B 7 4 2024-08-08T10:00 3 | $T chr-sink --archive B
	run -0 symbols --symbol 'BTC*'
	[ "$output" = "BTCUSDT BTCUSDC BTCUSDT BTCUSDC BTCUSDT BTCUSDC BTCUSDT BTCUSDC BTCUSDT BTCUSDC " ]
	# with --date, a glob names the symbols that have that date
	gen spec D 7 9 testvenue ETHUSDT T 7 9 2024-08-09T10:00 2 | $T chr-sink --archive B
	run -0 symbols --symbol '*USDT' --date 2024-08-09
	[ "$output" = "ETHUSDT ETHUSDT " ]
	run -1 --separate-stderr $T chr-tail --archive B --venue testvenue --symbol '*USDT' --type trade \
		--date 2024-08-10
	[ "$stderr" = "chr-tail: no symbol matches '*USDT' for venue 'testvenue' and stream 'trade' on 2024-08-10; symbols: none" ]
}

@test "--archive --stream raw takes --symbol: only those instruments' records" {
	make_symbols
	cat t1.ev t2.ev t3.ev | $T chr-sink --queue Q --create -S 4K
	gen stream 200 | $T chr-sink --queue Q	# rolls: the trades' segment is sealed
	$T chr-seal-copy --source Q --archive-root R --venue testvenue --once 2>/dev/null
	run -0 --separate-stderr $T chr-tail --archive R --venue testvenue --stream raw \
		--symbol 'BTC*' --format json --defines
	[ "$(printf '%s\n' "${lines[@]}" | sed 's/.*"symbol":"\([^"]*\)".*/\1/' | sort | uniq -c |
		awk '{printf "%s %s ", $1, $2}')" = "6 BTCUSDC 6 BTCUSDT " ]
	# a --symbol that names no instrument read is refused, not an empty answer
	run -1 --separate-stderr $T chr-tail --archive R --venue testvenue --stream raw \
		--symbol 'BTC*' --symbol 'XRP*' --format json --defines
	[[ "$stderr" == "chr-tail: no symbol matches 'XRP*' in the raw stream of venue 'testvenue' read (the range read decides); symbols read: "*BTCUSDC*ETHUSDT* ]]
	[ ${#lines[@]} = 12 ]
}

@test "a directory that is neither a partition nor a queue is refused, saying what it is" {
	$T chr-csv2ev "$DATA/binance-futures_trades_BTCUSDT_2020-02-22_excerpt.csv" >t.ev
	$T chr-sink --archive A t.ev
	mkdir E
	run -2 --separate-stderr $T chr-tail E
	[ "$stderr" = "chr-tail: 'E' is an empty directory: not a queue, a partition (NNNNNNNNN.q files) or a record file" ]
	run -2 --separate-stderr $T chr-tail A
	[ "$stderr" = "chr-tail: 'A' is an archive root, not a partition or a queue (chr-tail reads an archive with --archive)" ]
	run -2 --separate-stderr $T chr-tail A/v1/binance-futures/BTCUSDT/2020-02-22
	[ "$stderr" = "chr-tail: 'A/v1/binance-futures/BTCUSDT/2020-02-22' is a directory of partitions, such as 'A/v1/binance-futures/BTCUSDT/2020-02-22/trade': not a queue, a partition (NNNNNNNNN.q files) or a record file" ]
	run -2 --separate-stderr $T chr-tail A/v1/binance-futures
	[ "$stderr" = "chr-tail: 'A/v1/binance-futures' is a directory of directories: not a queue, a partition (NNNNNNNNN.q files) or a record file" ]
	# a partition whose segment files are gone is bad data
	mkdir P
	cp A/v1/binance-futures/BTCUSDT/2020-02-22/trade/meta.json P/
	run -1 --separate-stderr $T chr-tail P
	[ "$stderr" = "chr-tail: 'P': a partition without segment files (it holds meta.json)" ]
	# the partition itself is read
	run -0 $T chr-tail --format text A/v1/binance-futures/BTCUSDT/2020-02-22/trade
	[ "${#lines[@]}" = 10000 ]
}
