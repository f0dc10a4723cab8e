#!/usr/bin/env bats
# chr-sink --route: records into the queues a template names, each queue
# beginning with its DEFINE; hostile names; --resume (with --route and
# --queue): a rerun skips what the queues hold, ties of synthetic records.

load test_helper

R='R/{venue}/{symbol}/{stream}'
BN=R/binance-futures/BTCUSDT
BX=R/bitmex/XBTUSD

# ab.ev: two Tardis trade files as records, merged by ts (a.ev: bitmex, 11
# records; b.ev: binance-futures, 10000)
two() {
	$T chr-csv2ev "$DATA/bitmex_trades_XBTUSD.csv" >a.ev
	$T chr-csv2ev "$DATA/binance-futures_trades_BTCUSDT_2020-02-22_excerpt.csv" >b.ev
	$T chr-tail a.ev b.ev >ab.ev
}

# craft IN OUT OP...: rewrite a record stream (seq renumbered, CRCs sealed
# again). "syn K M": before record K, a synthetic BOOK_SNAPSHOT of record
# M's payload and market, with record K's ts and src_seq; "zero": src_seq 0
# everywhere.
craft() {
	local -
	set -o pipefail
	python3 - "$1" "${@:3}" <<'PY' | gen seal >"$2"
import struct, sys
data = open(sys.argv[1], "rb").read()
recs, off = [], 0
while off < len(data):
    n = struct.unpack_from("<I", data, off)[0]
    span = (n + 63) // 64 * 64
    recs.append(bytearray(data[off:off + span]))
    off += span
ops, ins, zero, i = sys.argv[2:], {}, False, 0
while i < len(ops):
    if ops[i] == "syn":
        k, m = int(ops[i + 1]), int(ops[i + 2])
        s = bytearray(recs[m])
        struct.pack_into("<HH", s, 4, 0x10, 1)
        s[16:24] = recs[k][16:24]
        s[32:40] = recs[k][32:40]
        ins.setdefault(k, []).append(s)
        i += 3
    elif ops[i] == "zero":
        zero, i = True, i + 1
    else:
        sys.exit("craft: bad op " + ops[i])
out = []
for k, r in enumerate(recs):
    out += ins.get(k, []) + [r]
for q, r in enumerate(out):
    struct.pack_into("<Q", r, 8, q)
    if zero:
        struct.pack_into("<Q", r, 32, 0)
    sys.stdout.buffer.write(r)
PY
}

# the queues under $1, one a line, sorted
queues() {
	find "$1" -name control | sed 's|/control$||' | sort
}

# same A B: every queue under A equals the one under B, record for record
# (seq, src_seq, ts, flags and CRC included), and they are the same queues
same() {
	[ "$(queues "$1" | sed "s|^$1/||")" = "$(queues "$2" | sed "s|^$2/||")" ] ||
		{ echo "queues differ: $(queues "$1") / $(queues "$2")"; return 1; }
	for q in $(queues "$1" | sed "s|^$1/||"); do
		$T chr-tail "$1/$q" >x.ev && $T chr-tail "$2/$q" >y.ev && cmp x.ev y.ev ||
			{ echo "queue $q differs"; return 1; }
	done
}

@test "-h shows --route; misuse exits 2" {
	run -0 $T chr-sink -h
	assert_line "       chr-sink --route TEMPLATE [--resume] [--max-open N]"
	run -2 --separate-stderr $T chr-sink --route 'R/{venue}/{sym}'
	assert_equal "${stderr_lines[0]}" "chr-sink: route template 'R/{venue}/{sym}': unknown placeholder '{sym}' (not {venue}, {symbol}, {stream} or {date})"
	run -2 --separate-stderr $T chr-sink --route 'R/{}'
	assert_equal "${stderr_lines[0]}" "chr-sink: route template 'R/{}': unknown placeholder '{}' (not {venue}, {symbol}, {stream} or {date})"
	run -2 --separate-stderr $T chr-sink --route 'R/{venue'
	assert_equal "${stderr_lines[0]}" "chr-sink: route template 'R/{venue': '{' without '}'"
	run -2 --separate-stderr $T chr-sink --route ''
	assert_equal "${stderr_lines[0]}" "chr-sink: route template '': empty template"
	run -2 --separate-stderr $T chr-sink --route "$R" --queue Q
	assert_equal "${stderr_lines[0]}" "chr-sink: --queue and --route exclude each other"
	run -2 --separate-stderr $T chr-sink --route "$R" --archive A
	assert_equal "${stderr_lines[0]}" "chr-sink: --route and --archive exclude each other"
	run -2 --separate-stderr $T chr-sink --route "$R" --source s
	assert_equal "${stderr_lines[0]}" "chr-sink: --route takes none of the archive options"
	run -2 --separate-stderr $T chr-sink --route "$R" -S 1000
	assert_equal "${stderr_lines[0]}" "chr-sink: a queue segment size is a multiple of 4K"
	run -2 --separate-stderr $T chr-sink --route "$R" --max-open 0
	assert_equal "${stderr_lines[0]}" "chr-sink: --max-open '0' is not a number of 1 to 1000000"
	run -2 --separate-stderr $T chr-sink --queue Q --max-open 3
	assert_equal "${stderr_lines[0]}" "chr-sink: --max-open is for --route"
	run -2 --separate-stderr $T chr-sink --archive A --resume
	assert_equal "${stderr_lines[0]}" "chr-sink: --create, --resume, --fsync, --roll and --retain are for --queue and --route"
	run -2 --separate-stderr $T chr-sink
	assert_equal "${stderr_lines[0]}" "chr-sink: --archive ROOT, --queue DIR or --route TEMPLATE is required"
	[ ! -e R ]
	[ ! -e Q ]
	[ ! -e A ]
}

@test "empty input creates nothing and exits 0" {
	run -0 --separate-stderr $T chr-sink --route "$R" </dev/null
	assert_equal "$stderr" ""
	[ ! -e R ]
	# DEFINEs alone route nothing either
	gen spec D 1 2 binance BTCUSDT >in
	run -0 --separate-stderr $T chr-sink --route "$R" -v in
	assert_equal "$stderr" "chr-sink: 0 records appended to 0 queues"
	[ ! -e R ]
}

@test "two venues merged: a queue each, beginning with its DEFINE, holding its records" {
	two
	run -0 --separate-stderr $T chr-sink --route "$R" -S 64K -v ab.ev
	# (seq: the queue adds the DEFINE repeats at each segment head)
	end=$(($($T chr-tail --format json $BN/trade | tail -1 | python3 -c 'import json, sys; print(json.load(sys.stdin)["seq"])') + 1))
	assert_equal "${stderr_lines[0]}" "chr-sink: R/binance-futures/BTCUSDT/trade: 10000 records appended, seq 0 to $end"
	assert_equal "${stderr_lines[1]}" "chr-sink: R/bitmex/XBTUSD/trade: 11 records appended, seq 0 to 11"
	assert_equal "${stderr_lines[2]}" "chr-sink: 10011 records appended to 2 queues"
	run -0 queues R
	assert_output $'R/binance-futures/BTCUSDT/trade\nR/bitmex/XBTUSD/trade'
	# the records of each, as the input had them (CSV: every vendor field)
	$T chr-tail --format csv $BN/trade >q.csv
	$T chr-tail --format csv b.ev >b.csv
	cmp q.csv b.csv
	$T chr-tail --format csv $BX/trade >q.csv
	$T chr-tail --format csv a.ev >a.csv
	cmp q.csv a.csv
	# the DEFINE first, then every record, src_seq kept, seq from 0
	run -0 $T chr-tail --format text $BX/trade
	assert_equal "${#lines[@]}" 11
	assert_line --index 0 --regexp '^2020-03-01T00:00:03.307160000Z DEFINE bitmex XBTUSD seq=0 src_seq=0 '
	assert_line --index 1 --regexp ' TRADE bitmex XBTUSD seq=1 src_seq=1 '
	assert_line --index 10 --regexp ' TRADE bitmex XBTUSD seq=10 src_seq=10 '
	run -0 $T chr-tail --format text --limit 2 $BN/trade
	assert_line --index 0 --regexp ' DEFINE binance-futures BTCUSDT seq=0 src_seq=0 '
	assert_line --index 1 --regexp ' TRADE binance-futures BTCUSDT seq=1 src_seq=1 '
	# the payloads are the input's: only seq (and the CRC) may differ
	$T chr-tail --format json $BX/trade | python3 -c '
import json, sys
for l in sys.stdin:
    j = json.loads(l); del j["seq"], j["crc"]; print(json.dumps(j, sort_keys=True))' >q.json
	$T chr-tail --format json a.ev | python3 -c '
import json, sys
for l in sys.stdin:
    j = json.loads(l); del j["seq"], j["crc"]; print(json.dumps(j, sort_keys=True))' >a.json
	cmp q.json a.json
}

@test "{stream} splits an instrument; a DEFINE seen twice is written once a queue" {
	$T chr-csv2ev "$DATA/binance-futures_trades_BTCUSDT_2020-02-22_excerpt.csv" >t.ev
	$T chr-csv2ev "$DATA/binance-futures_quotes_BTCUSDT_2020-02-22_excerpt.csv" >q.ev
	$T chr-tail t.ev q.ev >tq.ev
	[ "$($T chr-tail --format text --type define tq.ev | wc -l)" = 2 ]
	$T chr-sink --route 'R/{venue}-{symbol}.{stream}' -S 64K tq.ev
	run -0 queues R
	assert_output $'R/binance-futures-BTCUSDT.quote\nR/binance-futures-BTCUSDT.trade'
	for s in trade quote; do
		[ "$($T chr-tail --format text --type define R/binance-futures-BTCUSDT.$s | wc -l)" = 1 ]
		$T chr-tail --format text --limit 1 R/binance-futures-BTCUSDT.$s | grep -q ' DEFINE binance-futures BTCUSDT seq=0 '
	done
	$T chr-tail --format csv R/binance-futures-BTCUSDT.quote | cmp - <($T chr-tail --format csv q.ev)
	$T chr-tail --format csv R/binance-futures-BTCUSDT.trade | cmp - <($T chr-tail --format csv t.ev)
}

@test "{date}: a queue a UTC day, each beginning with the DEFINE (at its first record's ts)" {
	gen spec D 1 2 binance BTCUSDT T 1 2 2024-05-01T23:59:59.998 4 B 1 2 2024-05-02T10:00 3 >in
	run -0 --separate-stderr $T chr-sink --route 'R/{date}/{venue}/{symbol}/{stream}' -v in
	assert_equal "${stderr_lines[0]}" "chr-sink: R/2024-05-01/binance/BTCUSDT/trade: 3 records appended, seq 0 to 3"
	assert_equal "${stderr_lines[1]}" "chr-sink: R/2024-05-02/binance/BTCUSDT/trade: 3 records appended, seq 0 to 3"
	assert_equal "${stderr_lines[2]}" "chr-sink: R/2024-05-02/binance/BTCUSDT/book: 4 records appended, seq 0 to 4"
	assert_equal "${stderr_lines[3]}" "chr-sink: 10 records appended to 3 queues"
	run -0 $T chr-tail --format text R/2024-05-02/binance/BTCUSDT/trade
	assert_line --index 0 --regexp '^2024-05-02T00:00:00.000000000Z DEFINE binance BTCUSDT seq=0 src_seq=0 '
	assert_line --index 1 --regexp '^2024-05-02T00:00:00.000000000Z TRADE binance BTCUSDT seq=1 src_seq=3 '
	assert_line --index 2 --regexp '^2024-05-02T00:00:00.001000000Z TRADE binance BTCUSDT seq=2 src_seq=4 '
	run -0 $T chr-tail --format text R/2024-05-01/binance/BTCUSDT/trade
	assert_line --index 0 --regexp '^2024-05-01T23:59:59.998000000Z DEFINE binance BTCUSDT seq=0 src_seq=0 '
	assert_equal "${#lines[@]}" 3
}

@test "hostile names exit 1 naming input, offset and name; nothing outside the root" {
	mkdir -p w && cd w
	for sym in '../evil' '../../x' 'a/b' '..' '.hidden' 'a b' 'AB\x00CD' ''; do
		gen spec D 1 2 binance "$sym" T 1 2 2024-05-01 1 >in
		run -1 --separate-stderr $T chr-sink --route "$R" in
		assert_equal "${#stderr_lines[@]}" 1
		assert_regex "$stderr" "^chr-sink: in: byte 0: DEFINE (symbol|of) '"
	done
	gen spec D 1 2 binance '../evil' >in
	run -1 --separate-stderr $T chr-sink --route "$R" <in
	assert_equal "$stderr" "chr-sink: stdin: byte 0: DEFINE symbol '../evil': name starts with '.'"
	gen spec D 1 2 'a/b' BTC >in
	run -1 --separate-stderr $T chr-sink --route "$R" <in
	assert_equal "$stderr" "chr-sink: stdin: byte 0: DEFINE venue 'a/b': name contains a path separator"
	# a vendor file naming its symbol so, through chr-csv2ev
	printf 'exchange,symbol,timestamp,local_timestamp,id,side,price,amount\nbinance,../evil,1582329602111000,1582329602418379,1,buy,1.5,2\n' >evil.csv
	$T chr-csv2ev evil.csv >evil.ev
	run -1 --separate-stderr $T chr-sink --route "$R" evil.ev
	assert_equal "$stderr" "chr-sink: evil.ev: byte 0: DEFINE symbol '../evil': name starts with '.'"
	# the records before it stay written
	gen spec D 1 2 binance BTC T 1 2 2024-05-01 3 D 1 3 binance ../x T 1 3 2024-05-01 1 >in
	run -1 --separate-stderr $T chr-sink --route "$R" in
	assert_equal "$stderr" "chr-sink: in: byte 576: DEFINE symbol '../x': name starts with '.'"
	[ "$($T chr-tail --format text R/binance/BTC/trade | wc -l)" = 4 ]
	run -0 find R -mindepth 2 -maxdepth 2
	assert_output R/binance/BTC
	# only the names the template uses become paths
	gen spec D 1 2 '../v' BTC T 1 2 2024-05-01 1 >in
	$T chr-sink --route 'S/{symbol}' in
	[ "$($T chr-tail --format text S/BTC | wc -l)" = 2 ]
	cd ..
	run -0 find . -mindepth 1 -not -path './w*' -not -name 'separate-stderr-*'
	assert_output ""
}

@test "a record of no DEFINE exits 1 naming the input, offset and ids" {
	gen spec D 1 2 binance BTCUSDT T 1 2 2024-05-01 3 T 1 3 2024-05-01 1 >in
	run -1 --separate-stderr $T chr-sink --route "$R" <in
	assert_equal "$stderr" "chr-sink: stdin: byte 576: TRADE of venue 1 market 3 before any DEFINE of it"
	[ "$($T chr-tail --format text R/binance/BTCUSDT/trade | wc -l)" = 4 ]
}

@test "HEARTBEATs are skipped and counted; application records go to 'app'" {
	gen spec D 1 2 binance BTCUSDT H 2024-05-01 T 1 2 2024-05-01 2 H 2024-05-01 >in
	run -0 --separate-stderr $T chr-sink --route "$R" in
	assert_equal "$stderr" ""
	run -0 --separate-stderr $T chr-sink --route 'S/{symbol}' -v in
	assert_equal "${stderr_lines[2]}" "chr-sink: 2 HEARTBEAT records skipped"
	# an application record of no instrument is not routed, and said so
	gen spec D 1 2 binance BTCUSDT A 2024-05-01 T 1 2 2024-05-01 1 >in
	run -0 --separate-stderr $T chr-sink --route "$R" in
	assert_equal "$stderr" "chr-sink: 1 records of reserved types or of no instrument (application types, venue and market 0) not routed"
	# of an instrument (a DEFINE of ids 0 0 here), it has the stream 'app'
	gen spec D 0 0 app none A 2024-05-01 >in
	$T chr-sink --route "$R" in
	run -0 $T chr-tail --format json --defines R/app/none/app
	assert_equal "${#lines[@]}" 2
	assert_line --index 1 --partial '"type":32769,'
}

@test "truncated and corrupt input exit 1 with the offset; the records before it stay" {
	gen spec D 1 2 binance BTCUSDT T 1 2 2024-05-01 100 >in
	head -c -10 in >trunc
	run -1 --separate-stderr $T chr-sink --route "$R" trunc
	assert_equal "$stderr" "chr-sink: trunc: byte 12864: truncated record; the 100 records before it were routed"
	[ "$($T chr-tail --format text R/binance/BTCUSDT/trade | wc -l)" = 100 ]
	cp in bad
	printf 'X' | dd of=bad bs=1 seek=1000 conv=notrunc status=none
	run -1 --separate-stderr $T chr-sink --route 'S/{symbol}' <bad
	assert_equal "$stderr" "chr-sink: stdin: byte 960: bad crc; the 7 records before it were routed"
	[ "$($T chr-tail --format text S/BTCUSDT | wc -l)" = 7 ]
}

@test "concatenated streams, several files and stdin give the same queues" {
	gen spec D 1 2 binance BTCUSDT T 1 2 2024-05-01 300 >a
	gen spec D 4 5 bitmex XBTUSD Q 4 5 2024-05-01 300 >b
	cat a b | $T chr-sink --route 'R1/{venue}/{symbol}/{stream}'
	$T chr-sink --route 'R2/{venue}/{symbol}/{stream}' a b
	$T chr-sink --route 'R3/{venue}/{symbol}/{stream}' - b <a
	same R1 R2
	same R1 R3
	[ "$($T chr-tail --format text R1/bitmex/XBTUSD/quote | wc -l)" = 301 ]
}

@test "an unreadable input, an unusable queue path, a locked queue exit 3" {
	gen spec D 1 2 binance BTCUSDT T 1 2 2024-05-01 1 >in
	run -3 --separate-stderr $T chr-sink --route "$R" nonexistent
	assert_equal "$stderr" "chr-sink: cannot open 'nonexistent': No such file or directory"
	mkdir -p R/binance && : >R/binance/BTCUSDT
	run -3 --separate-stderr $T chr-sink --route "$R" in
	assert_equal "$stderr" "chr-sink: R/binance/BTCUSDT/trade: cannot create: Not a directory"
	$T chr-sink --route 'S/{symbol}' in
	exec 8<S/BTCUSDT/lock
	flock -x 8
	run -3 --separate-stderr $T chr-sink --route 'S/{symbol}' in
	exec 8<&-
	assert_regex "$stderr" "^chr-sink: S/BTCUSDT: queue is locked by another writer \\(pid [0-9]+\\)$"
}

@test "a reader closing early: nothing is written to stdout" {
	gen spec D 1 2 binance BTCUSDT T 1 2 2024-05-01 100 >in
	run -0 bash -c "chr-sink --route 'R/{symbol}' in | head -c 100"
	assert_output ""
	[ "$($T chr-tail --format text R/BTCUSDT | wc -l)" = 101 ]
}

@test "many queues; --max-open closes the least recently written, same result" {
	# 40 instruments interleaved by ts: 40 queues
	for i in $(seq 40); do
		gen spec D 1 $i binance S$i T 1 $i 2024-05-01T00:00:00.$(printf %03d $i) 4 >s$i.ev
	done
	$T chr-tail s*.ev >all.ev
	run -0 --separate-stderr $T chr-sink --route 'R/{symbol}' -S 4K -v all.ev
	assert_equal "${stderr_lines[40]}" "chr-sink: 200 records appended to 40 queues"
	$T chr-sink --route 'M/{symbol}' -S 4K --max-open 7 all.ev
	same R M
	for i in 1 17 40; do
		$T chr-tail --format csv R/S$i | cmp - <($T chr-tail --format csv s$i.ev)
	done
	# and resuming with few open
	first 100 all.ev >p.ev
	$T chr-sink --route 'P/{symbol}' -S 4K --max-open 3 p.ev
	$T chr-sink --route 'P/{symbol}' -S 4K --max-open 5 --resume all.ev
	same R P
}

@test "a DEFINE binding the ids to other names routes what follows there" {
	gen spec D 1 2 binance OLD T 1 2 2024-05-01 2 D 1 2 binance NEW T 1 2 2024-05-01T01:00 3 >in
	$T chr-sink --route 'R/{symbol}' in
	[ "$($T chr-tail --format text R/OLD | wc -l)" = 3 ]
	run -0 $T chr-tail --format text R/NEW
	assert_equal "${#lines[@]}" 4
	assert_line --index 0 --regexp '^2024-05-01T01:00:00.000000000Z DEFINE binance NEW seq=0 src_seq=3 '
	# in one queue: the new DEFINE before the next record
	$T chr-sink --route 'S/{venue}' in
	run -0 $T chr-tail --format text --type define S/binance
	assert_equal "${#lines[@]}" 2
}

@test "--resume: any prefix, then the whole stream, equals one uninterrupted run" {
	two
	$T chr-sink --route 'U/{venue}/{symbol}/{stream}' -S 64K ab.ev
	for n in 0 1 2 3 777 4096 9999 10000 10001 10002 10005 10012; do
		rm -rf R
		first $n ab.ev >p.ev
		$T chr-sink --route "$R" -S 64K p.ev
		run -0 --separate-stderr $T chr-sink --route "$R" -S 64K --resume -v ab.ev
		same U R || { echo "prefix $n"; false; }
	done
	# the last run skipped all, and said so
	end=$(($($T chr-tail --format json $BN/trade | tail -1 | python3 -c 'import json, sys; print(json.load(sys.stdin)["seq"])') + 1))
	assert_equal "${stderr_lines[0]}" "chr-sink: R/binance-futures/BTCUSDT/trade: 0 records appended, seq $end to $end, 9999 skipped (--resume)"
	assert_equal "${stderr_lines[3]}" "chr-sink: 10009 records skipped: the queues held them (--resume)"
	# {date} queues: a later day's queue has its DEFINE (src_seq 0) first
	gen spec D 1 2 binance BTCUSDT T 1 2 2024-05-01T23:59:59.990 20 >d.ev
	$T chr-sink --route 'DU/{date}/{symbol}' d.ev
	for n in 5 11 12 13 21; do
		rm -rf D
		first $n d.ev >p.ev
		$T chr-sink --route 'D/{date}/{symbol}' p.ev
		$T chr-sink --route 'D/{date}/{symbol}' --resume d.ev
		same DU D || { echo "prefix $n"; false; }
	done
}

@test "--resume of input that starts after what a queue holds writes no second DEFINE" {
	two
	$T chr-sink --route 'U/{venue}/{symbol}/{stream}' -S 64K b.ev
	# a prefix, then the rest alone (its DEFINE first, as a reader that
	# starts mid-stream gives it): nothing to skip
	first 5000 b.ev >p.ev
	{ $T chr-tail --type define b.ev; $T chr-tail --from seq:5000 --type trade b.ev; } >rest.ev
	$T chr-sink --route "$R" -S 64K p.ev
	$T chr-sink --route "$R" -S 64K --resume rest.ev
	same U R
}

@test "--resume after writers killed at random moments: the queues of one run" {
	two
	$T chr-sink --route 'U/{venue}/{symbol}/{stream}' -S 64K ab.ev
	for i in $(seq 8); do
		chr-sink --route "$R" -S 64K --resume ab.ev 3>&- & pid=$!
		sleep 0.0$((RANDOM % 9 + 1))
		kill -KILL $pid 2>/dev/null || true
		wait $pid || true
	done
	$T chr-sink --route "$R" -S 64K --resume ab.ev
	same U R
}

@test "--resume: a synthetic record and the one whose src_seq it carries are told apart" {
	# markets A and B in one queue; synthetic snapshots (SYNTHETIC, the
	# src_seq of the record they precede) of A before A's third record,
	# and of both A and B before B's third: two records of one key
	gen spec D 1 2 binance A B 1 2 2024-05-01 5 D 1 3 binance B B 1 3 2024-05-01T01:00 5 >m.ev
	craft m.ev s.ev syn 3 3 syn 9 1 syn 9 8
	run -0 $T chr-tail --format text s.ev
	assert_line --index 3 --regexp ' BOOK_SNAPSHOT binance A seq=3 src_seq=3 flags=SYNTHETIC '
	assert_line --index 4 --regexp ' BOOK_DIFF binance A seq=4 src_seq=3 flags=- '
	assert_line --index 11 --regexp ' BOOK_SNAPSHOT binance B seq=11 src_seq=9 flags=SYNTHETIC '
	n=${#lines[@]}
	$T chr-sink --route 'U/{venue}/{stream}' s.ev
	for k in $(seq 0 $n); do
		rm -rf P
		first $k s.ev >p.ev
		$T chr-sink --route 'P/{venue}/{stream}' p.ev
		$T chr-sink --route 'P/{venue}/{stream}' --resume s.ev
		same U P || { echo "prefix $k"; false; }
	done
	# the same with --queue (DEFINEs are records there)
	$T chr-sink --queue UQ --create s.ev
	for k in $(seq 0 $n); do
		rm -rf PQ
		first $k s.ev >p.ev
		$T chr-sink --queue PQ --create p.ev
		run -0 --separate-stderr $T chr-sink --queue PQ --resume -v s.ev
		$T chr-tail PQ | cmp - <($T chr-tail UQ) || { echo "--queue: prefix $k"; false; }
	done
	assert_equal "$stderr" "chr-sink: PQ: 0 records appended, seq $n to $n, $n skipped (--resume)"
}

@test "--queue --resume: a prefix, then the whole, equals one run" {
	two
	$T chr-sink --queue U --create -S 64K b.ev
	for n in 0 1 2 5000 9999 10000; do
		rm -rf Q
		first $n b.ev >p.ev
		$T chr-sink --queue Q --create -S 64K p.ev
		run -0 --separate-stderr $T chr-sink --queue Q -S 64K --resume -v b.ev
		assert_regex "$stderr" ", $n skipped \\(--resume\\)$"
		$T chr-tail Q | cmp - <($T chr-tail U) || { echo "prefix $n"; false; }
	done
	# once more changes nothing
	$T chr-sink --queue Q --resume b.ev
	$T chr-tail Q | cmp - <($T chr-tail U)
}

@test "--resume refuses input it cannot resume: src_seq going back, src_seq 0" {
	two
	cat b.ev b.ev >bb.ev
	run -1 --separate-stderr $T chr-sink --queue Q --create --resume bb.ev
	assert_equal "$stderr" "chr-sink: bb.ev: byte 1280064: src_seq 0 after 9999 in queue 'Q': --resume needs src_seq that never goes back in a queue"
	[ "$($T chr-tail --format text Q | wc -l)" = 10000 ]
	run -1 --separate-stderr $T chr-sink --route "$R" --resume b.ev b.ev
	assert_equal "$stderr" "chr-sink: b.ev: byte 192: src_seq 1 after 9999 in queue 'R/binance-futures/BTCUSDT/trade': --resume needs src_seq that never goes back in a queue"
	# two origins into one queue
	run -1 --separate-stderr $T chr-sink --route 'S/{stream}' --resume ab.ev
	assert_regex "$stderr" "^chr-sink: ab.ev: byte [0-9]+: src_seq 1 after 9999 in queue 'S/trade': --resume needs"
	# without --resume they are appended
	$T chr-sink --route 'S2/{stream}' ab.ev
	# src_seq 0: the queue would number them itself
	craft b.ev z.ev zero
	run -1 --separate-stderr $T chr-sink --queue Z --create --resume z.ev
	assert_equal "$stderr" "chr-sink: z.ev: byte 192: TRADE with src_seq 0 would be seq 1 of queue 'Z': --resume needs the src_seq of each record's origin"
	run -1 --separate-stderr $T chr-sink --route 'Z2/{symbol}' --resume z.ev
	assert_equal "$stderr" "chr-sink: z.ev: byte 192: TRADE with src_seq 0 would be seq 1 of queue 'Z2/BTCUSDT': --resume needs the src_seq of each record's origin"
}
