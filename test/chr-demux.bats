#!/usr/bin/env bats
# chr-demux: selection by venue, symbol, type and shard, names from DEFINE
# records and symbol maps, records passed byte for byte, bad input, exit codes.

load test_helper

TS0=1723075200000000000	# 2024-08-08T00:00:00Z

# "TYPE venue symbol seq=N" of each record of the files (or stdin)
show() {
	$T chr-tail --format text "$@" | awk '{ print $2, $3, $4, $5 }'
}

# four instruments of four venues from the Tardis samples, merged by ts
make_all() {
	$T chr-csv2ev "$DATA/bitmex_trades_XBTUSD.csv" >a.q
	$T chr-csv2ev "$DATA/binance-futures_trades_BTCUSDT_2020-02-22_excerpt.csv" >b.q
	$T chr-csv2ev "$DATA/huobi-dm-swap_quotes_BTC-USD.csv" >c.q
	$T chr-csv2ev "$DATA/deribit_incremental_book_L2_BTC-PERPETUAL.csv" >d.q
	$T chr-tail a.q b.q c.q d.q >all.q
}

# two instruments of binance with records of every kind, then a GAP, an
# application record of ETHUSDT, one of no instrument and a HEARTBEAT
make_kinds() {
	gen spec D 1 2 binance BTCUSDT D 1 3 binance ETHUSDT T 1 2 2024-05-01 2 \
		Q 1 3 2024-05-01T00:00:01 1 S 1 2 2024-05-01T00:00:02 1 \
		B 1 2 2024-05-01T00:00:03 1 N 1 3 2024-05-01T00:00:04 1 >kinds.q
	gen rec 2 1 2 2024-05-01T00:00:05 20 0 010000000000000005000000000000000100000000000000 >>kinds.q
	gen rec 0x8001 1 3 2024-05-01T00:00:06 21 0 0000000000000000 >>kinds.q
	gen rec 0x8001 0 0 2024-05-01T00:00:07 22 0 0000000000000000 >>kinds.q
	gen rec 3 0 0 2024-05-01T00:00:08 23 0 >>kinds.q
}

# kinds ARGS...: "TYPE symbol" of what chr-demux ARGS passes of kinds.q, on one line
kinds() {
	$T chr-demux "$@" kinds.q | $T chr-tail --format text | awk '{ print $2, $4 }' |
		paste -sd, -
}

@test "empty input: no output, exit 0" {
	run -0 --separate-stderr $T chr-demux </dev/null
	[ -z "$output" ]
	[ -z "$stderr" ]
	: >empty.q
	run -0 --separate-stderr $T chr-demux --venue x --type trade --shard 1/2 empty.q -
	[ -z "$output" ]
	[ -z "$stderr" ]
	run -0 --separate-stderr $T chr-demux --symbol x -v empty.q
	[ -z "$output" ]
	[ "${stderr_lines[0]}" = "chr-demux: 0 records read, 0 passed, 0 dropped: 0 by instrument, 0 by type, 0 with no name" ]
	[ "${stderr_lines[1]}" = "chr-demux: 0 of 0 instruments selected" ]
}

@test "one record and many records pass through byte for byte" {
	gen stream 1 >one.q
	$T chr-demux <one.q >out.q
	cmp one.q out.q
	gen stream 5000 >many.q
	$T chr-demux <many.q >out.q
	cmp many.q out.q
	$T chr-demux --venue testvenue --symbol 'TEST*' --shard 0/1 many.q >out.q
	cmp many.q out.q
	run -1 --separate-stderr $T chr-demux --venue nope many.q
	[ -z "$output" ]
	[ "$stderr" = "chr-demux: no instrument read matches --venue and --symbol (names are case-sensitive; 1 read: testvenue TESTSYM)" ]
}

@test "concatenated streams, segment files; several inputs merged by ts as chr-tail merges" {
	gen stream 10 >a.q
	gen stream 7 >b.q
	cat a.q b.q >ab.q
	cat a.q b.q | $T chr-demux >out.q
	cmp ab.q out.q
	$T chr-tail a.q - b.q <a.q >want.q
	$T chr-demux a.q - b.q <a.q >out.q
	cmp want.q out.q
	# segment headers are dropped
	gen stream 4 $TS0 0 0 >s0.q
	gen stream 4 $((TS0 + 4000000000)) 4 1 >s1.q
	gen stream 8 >plain.q
	cat s0.q s1.q | $T chr-demux --symbol TESTSYM >out.q
	cmp plain.q out.q
	mkdir part
	cp s0.q part/000000000.q
	cp s1.q part/000000001.q
	$T chr-demux part >out.q
	cmp plain.q out.q
	# the Tardis samples: chr-demux merges them as chr-tail does
	make_all
	$T chr-demux a.q b.q c.q d.q >out.q
	cmp all.q out.q
}

@test "--venue and --symbol select instruments by name, in input order, byte for byte" {
	make_all
	$T chr-demux --venue bitmex all.q >out.q
	cmp a.q out.q
	$T chr-demux --venue 'b*' all.q >out.q
	$T chr-tail a.q b.q >want.q
	cmp want.q out.q
	$T chr-demux --venue bitmex --venue huobi-dm-swap all.q >out.q
	$T chr-tail a.q c.q >want.q
	cmp want.q out.q
	$T chr-demux --symbol 'BTC*' all.q >out.q
	$T chr-tail b.q c.q d.q >want.q
	cmp want.q out.q
	$T chr-demux --symbol 'BTC-[PU]*' all.q >out.q
	$T chr-tail c.q d.q >want.q
	cmp want.q out.q
	# both: the instruments matching both
	$T chr-demux --venue 'b*' --symbol 'BTC*' all.q >out.q
	cmp b.q out.q
	# the whole name, case-sensitive; patterns that select nothing read
	# are refused, naming what was read
	run -1 --separate-stderr $T chr-demux --symbol BTC --symbol 'btc*' --venue 'bitme' all.q
	[ -z "$output" ]
	[[ "$stderr" == "chr-demux: no instrument read matches --venue and --symbol (names are case-sensitive; 4 read: "*"bitmex XBTUSD"*")" ]]
	run -0 --separate-stderr $T chr-demux -v --venue 'b*' --symbol 'X*' all.q
	[ "${stderr_lines[0]}" = "chr-demux: 10024 records read, 11 passed, 10013 dropped: 10013 by instrument, 0 by type, 0 with no name" ]
	[ "${stderr_lines[1]}" = "chr-demux: 1 of 4 instruments selected" ]
}

@test "--type: DEFINE of selected instruments and HEARTBEAT always pass, GAP with the book types" {
	make_kinds
	run -0 kinds
	[ "$output" = "DEFINE BTCUSDT,DEFINE ETHUSDT,TRADE BTCUSDT,TRADE BTCUSDT,QUOTE ETHUSDT,BOOK_SNAPSHOT BTCUSDT,BOOK_DIFF BTCUSDT,BOOK_TOPN ETHUSDT,GAP BTCUSDT,0x8001 ETHUSDT,0x8001 -,HEARTBEAT -" ]
	run -0 kinds --type trade
	[ "$output" = "DEFINE BTCUSDT,DEFINE ETHUSDT,TRADE BTCUSDT,TRADE BTCUSDT,HEARTBEAT -" ]
	run -0 kinds --type trade --symbol BTCUSDT
	[ "$output" = "DEFINE BTCUSDT,TRADE BTCUSDT,TRADE BTCUSDT,HEARTBEAT -" ]
	run -0 kinds --type snapshot
	[ "$output" = "DEFINE BTCUSDT,DEFINE ETHUSDT,BOOK_SNAPSHOT BTCUSDT,GAP BTCUSDT,HEARTBEAT -" ]
	run -0 kinds --type diff --symbol ETHUSDT
	[ "$output" = "DEFINE ETHUSDT,HEARTBEAT -" ]
	run -0 kinds --type book
	[ "$output" = "DEFINE BTCUSDT,DEFINE ETHUSDT,BOOK_SNAPSHOT BTCUSDT,BOOK_DIFF BTCUSDT,GAP BTCUSDT,HEARTBEAT -" ]
	run -0 kinds --type topn,quote
	[ "$output" = "DEFINE BTCUSDT,DEFINE ETHUSDT,QUOTE ETHUSDT,BOOK_TOPN ETHUSDT,HEARTBEAT -" ]
	run -0 kinds --type gap --type define
	[ "$output" = "DEFINE BTCUSDT,DEFINE ETHUSDT,GAP BTCUSDT,HEARTBEAT -" ]
	# application records are types like others; one of no instrument
	# passes every instrument selection
	run -0 kinds --type 0x8001
	[ "$output" = "DEFINE BTCUSDT,DEFINE ETHUSDT,0x8001 ETHUSDT,0x8001 -,HEARTBEAT -" ]
	run -0 kinds --type 32769 --symbol BTCUSDT
	[ "$output" = "DEFINE BTCUSDT,0x8001 -,HEARTBEAT -" ]
	# what passes is written, and a selection of no instrument read refused
	rc=0
	$T chr-demux --type heartbeat --venue nope kinds.q >hb.q 2>/dev/null || rc=$?
	[ $rc = 1 ]
	[ "$($T chr-tail --format text hb.q | awk '{ print $2, $4 }')" = "HEARTBEAT -" ]
	run -0 --separate-stderr $T chr-demux --stats --type trade --symbol ETHUSDT kinds.q
	[ "${stderr_lines[0]}" = "chr-demux: 12 records read, 2 passed, 10 dropped: 3 by instrument, 7 by type, 0 with no name" ]
	[ "${stderr_lines[1]}" = "chr-demux: 1 of 2 instruments selected" ]
	# what passes is byte for byte what came in
	$T chr-demux --type gap kinds.q >out.q
	{ head -c 384 kinds.q; gen rec 2 1 2 2024-05-01T00:00:05 20 0 010000000000000005000000000000000100000000000000
	  gen rec 3 0 0 2024-05-01T00:00:08 23 0; } >want.q
	cmp want.q out.q
}

@test "--shard i/n: the n shards partition the stream; the hash is the documented one" {
	local args=() n i v s want
	for i in $(seq 1 30); do
		args+=(D 1 $i venue$((i % 3)) SYM$i T 1 $i 2024-05-01T00:00:$((i + 10)) 2)
	done
	gen spec "${args[@]}" H 2024-05-01T00:01 A 2024-05-01T00:02 >x.q
	show x.q | grep -v ' - - ' | sort >inst.txt
	[ "$(wc -l <inst.txt)" = 90 ]
	for n in 1 2 3 5; do
		: >all.txt
		for ((i = 0; i < n; i++)); do
			$T chr-demux --shard $i/$n x.q >s$i.q
			show s$i.q >s$i.txt
			# records of no instrument go to every shard, in input order
			[ "$(grep -c ' - - ' s$i.txt)" = 2 ]
			[ "$(tail -2 s$i.txt | awk '{ print $1 }' | paste -sd, -)" = "HEARTBEAT,0x8001" ]
			# each shard in input order: seq rises
			awk '{ sub("seq=", "", $4); if (NR > 1 && $4 + 0 <= last) exit 1; last = $4 + 0 }' s$i.txt
			grep -v ' - - ' s$i.txt >>all.txt
		done
		# every record of an instrument in exactly one shard, its DEFINE with it
		sort all.txt | cmp - inst.txt
	done
	# shard of each instrument among 5: XXH3_64(venue \0 symbol) mod 5
	for i in $(seq 1 30); do
		v=venue$((i % 3)) s=SYM$i
		want=$(printf '%s\0%s' $v $s | xxhsum -H3 | awk '{ print $NF }')
		want=$(python3 -c "print(0x$want % 5)")
		grep -q "^DEFINE $v $s " s$want.txt || { echo "$v $s not in shard $want"; false; }
		[ "$(grep -c " $v $s " s$want.txt)" = 3 ]
	done
	# the man page's example; names, not ids: the same shard with other ids
	$T chr-csv2ev "$DATA/bitmex_trades_XBTUSD.csv" >a.q
	echo "bitmex XBTUSD 7 42" >map
	$T chr-csv2ev --symbols map "$DATA/bitmex_trades_XBTUSD.csv" >a7.q
	run -1 cmp -s a.q a7.q
	$T chr-demux --shard 3/4 a.q >out.q
	cmp a.q out.q
	$T chr-demux --shard 3/4 a7.q >out.q
	cmp a7.q out.q
	$T chr-demux --shard 2/4 a7.q >out.q
	[ ! -s out.q ]
}

@test "--symbols names ids that no DEFINE record named; a DEFINE's names win" {
	gen spec T 1 2 2024-05-01 3 Q 1 3 2024-05-01T00:01 2 T 9 9 2024-05-01T00:02 1 >nodef.q
	printf '# venue symbol ids\nbinance BTCUSDT 1 2\nbinance ETHUSDT 1 3\n\n' >map
	run -0 --separate-stderr $T bash -c "chr-demux --symbols map --symbol BTCUSDT nodef.q | chr-tail --format text"
	[ "${#lines[@]}" = 3 ]
	[[ "${lines[2]}" == *" TRADE #1 #2 seq=2 "* ]]
	[ "$stderr" = "chr-demux: 1 record of 1 instrument with no name dropped (no DEFINE record before them, not in the symbol map)" ]
	run -0 --separate-stderr $T bash -c "chr-demux --symbols map --venue binance nodef.q | chr-tail --format text"
	[ "${#lines[@]}" = 5 ]
	[[ "${lines[4]}" == *" QUOTE #1 #3 seq=4 "* ]]
	# a venue the map lists gives its name to its unlisted markets: enough
	# for --venue, not for --symbol or --shard
	echo "binance BTCUSDT 1 2" >map1
	run -0 --separate-stderr $T chr-demux --symbols map1 --venue binance --type quote nodef.q
	[ -z "$stderr" ]
	run -1 --separate-stderr $T chr-demux --symbols map1 --venue 'x*' nodef.q
	[ -z "$output" ]
	[ "${stderr_lines[0]}" = "chr-demux: 1 record of 1 instrument with no name dropped (no DEFINE record before them, not in the symbol map)" ]
	[ "${stderr_lines[1]}" = "chr-demux: no instrument read matches --venue and --symbol (names are case-sensitive; 3 read)" ]
	run -0 --separate-stderr $T chr-demux --symbols map1 --shard 0/1 nodef.q
	[ "$stderr" = "chr-demux: 3 records of 2 instruments with no name dropped (no DEFINE record before them, not in the symbol map)" ]
	# a DEFINE record's names win over the map's
	gen spec D 1 2 other XBT T 1 2 2024-05-01 2 >def.q
	run -1 --separate-stderr $T chr-demux --symbols map --symbol BTCUSDT def.q
	[ -z "$output" ]
	[ "$stderr" = "chr-demux: no instrument read matches --venue and --symbol (names are case-sensitive; 1 read: other XBT)" ]
	$T chr-demux --symbols map --symbol XBT def.q >out.q
	cmp def.q out.q
	# a bad map is bad data; one that cannot be read a system error
	echo "binance BTCUSDT 1" >bad.map
	run -1 --separate-stderr $T chr-demux --symbols bad.map nodef.q
	[ "$stderr" = "chr-demux: bad.map:1: expected 'venue symbol venue_id market_id'" ]
	run -3 --separate-stderr $T chr-demux --symbols nope.map nodef.q
	[ "$stderr" = "chr-demux: cannot open 'nope.map': No such file or directory" ]
}

@test "records of an instrument with no name yet are dropped, counted and reported once" {
	gen spec T 1 2 2024-05-01 3 T 1 3 2024-05-01 1 D 1 2 binance BTCUSDT \
		T 1 2 2024-05-01T00:01 2 T 1 3 2024-05-01T00:02 1 >late.q
	run -0 --separate-stderr $T bash -c "chr-demux --symbol BTCUSDT late.q | chr-tail --format text"
	[ "${#lines[@]}" = 3 ]
	[[ "${lines[0]}" == *" DEFINE binance BTCUSDT seq=4 "* ]]
	[[ "${lines[2]}" == *" TRADE binance BTCUSDT seq=6 "* ]]
	[ "$stderr" = "chr-demux: 5 records of 2 instruments with no name dropped (no DEFINE record before them)" ]
	run -0 --separate-stderr $T chr-demux --stats --venue binance late.q
	[ "${stderr_lines[0]}" = "chr-demux: 5 records of 2 instruments with no name dropped (no DEFINE record before them)" ]
	[ "${stderr_lines[1]}" = "chr-demux: 8 records read, 3 passed, 5 dropped: 0 by instrument, 0 by type, 5 with no name" ]
	[ "${stderr_lines[2]}" = "chr-demux: 1 of 2 instruments selected" ]
	# a record --type drops is not counted as unnamed
	run -0 --separate-stderr $T chr-demux --type quote --venue binance late.q
	[ "$stderr" = "" ]
	# without a selection by name no name is needed: everything passes
	run -0 --separate-stderr $T chr-demux --type trade late.q
	[ -z "$stderr" ]
	$T chr-demux --type trade late.q | cmp - late.q
}

@test "a DEFINE that binds the ids to other names decides again; repeats are DEFINEs" {
	gen spec D 1 2 binance BTCUSDT T 1 2 2024-05-01 2 D 1 2 binance XBTUSD \
		T 1 2 2024-05-01T00:01 3 >re.q
	run -0 $T bash -c "chr-demux --symbol BTCUSDT re.q | chr-tail --format text"
	[ "${#lines[@]}" = 3 ]
	run -0 $T bash -c "chr-demux --symbol XBTUSD re.q | chr-tail --format text"
	[ "${#lines[@]}" = 4 ]
	[[ "${lines[0]}" == *" DEFINE binance XBTUSD seq=3 "* ]]
	# a DEFINE flagged REPEAT passes (or not) like any DEFINE
	{ gen spec D 1 2 binance BTCUSDT T 1 2 2024-05-01 2; gen rec 1 1 2 2024-05-01T00:01 3 4 binance BTCUSDT
	  gen rec 1 1 3 2024-05-01T00:01 4 4 binance ETHUSDT; } >rep.q
	$T chr-demux --symbol BTCUSDT rep.q >out.q
	head -c $((192 + 2 * 128 + 192)) rep.q | cmp - out.q
	run -0 $T bash -c "chr-demux --symbol ETHUSDT rep.q | chr-tail --format text"
	[ "${#lines[@]}" = 1 ]
	[[ "${lines[0]}" == *" DEFINE binance ETHUSDT seq=4 src_seq=4 flags=REPEAT "* ]]
}

# check_bad FILE OFFSET WHAT: FILE is bad input at byte OFFSET, on stdin
# and as a file argument after a good file; what came before is written
check_bad() {
	run -1 --separate-stderr $T chr-demux --venue testvenue <"$1"
	[ "$stderr" = "chr-demux: stdin: byte $2: $3" ] || { echo "stdin: $stderr"; return 1; }
	run -1 --separate-stderr $T chr-demux good.q "$1"
	[ "$stderr" = "chr-demux: $1: byte $2: $3" ] || { echo "file: $stderr"; return 1; }
	cat good.q "$1" >goodbad.q
	$T chr-demux --symbol TESTSYM goodbad.q >out.q 2>/dev/null && return 1
	head -c $(($(stat -c %s good.q) + $2)) goodbad.q | cmp - out.q
}

@test "bad input: exit 1 with the byte offset, on stdin and on a file" {
	gen stream 5 >good.q
	gen stream 5 $TS0 0 3 >seg.q
	# DEFINE spans bytes 0..191, the snapshot 192..
	head -c 10 good.q >short.q
	check_bad short.q 0 "truncated record header"
	head -c 292 good.q >truncbody.q
	check_bad truncbody.q 192 "truncated record"
	cp good.q crc.q
	poke crc.q 270 '\001'
	check_bad crc.q 192 "bad crc"
	cp seg.q segcrc.q
	poke segcrc.q 20 '\377'
	check_bad segcrc.q 0 "bad segment header crc"
	cp good.q zero.q
	poke zero.q 192 '\000\000\000\000'
	check_bad zero.q 192 "record length 0 (unwritten space, or not a record stream)"
	{ printf '\377'; yes 'random garbage' | head -c 999; } >garbage.q
	check_bad garbage.q 0 "record length above 16 MiB"
	# the selection does not hide bad records: dropped ones are checked too
	run -1 --separate-stderr $T chr-demux --venue nope crc.q
	[ -z "$output" ]
	[ "$stderr" = "chr-demux: crc.q: byte 192: bad crc" ]
}

@test "a DEFINE without proper names is bad input when names are selected" {
	gen spec D 1 2 'bin\x00x' BTCUSDT T 1 2 2024-05-01 1 >baddef.q
	gen spec D 1 3 binance ETHUSDT T 1 3 2024-05-01 1 >good.q
	run -1 --separate-stderr $T chr-demux --venue binance good.q baddef.q
	[ "$stderr" = "chr-demux: baddef.q: byte 0: DEFINE name field has bytes after its NUL" ]
	run -1 --separate-stderr $T chr-demux --shard 0/2 <baddef.q
	[ "$stderr" = "chr-demux: stdin: byte 0: DEFINE name field has bytes after its NUL" ]
	# not looked at otherwise
	$T chr-demux --type trade baddef.q | cmp - baddef.q
}

@test "an unreadable file is exit 3" {
	gen stream 5 >good.q
	run -3 --separate-stderr $T chr-demux good.q nope.q
	[ -z "$output" ]
	[ "$stderr" = "chr-demux: cannot open 'nope.q': No such file or directory" ]
	if [ "$(id -u)" != 0 ]; then
		cp good.q locked.q
		chmod 000 locked.q
		run -3 --separate-stderr $T chr-demux locked.q
		[ "$stderr" = "chr-demux: cannot open 'locked.q': Permission denied" ]
	fi
}

@test "output is flushed before waiting for input" {
	gen stream 3 >three.q
	# the input stays open until the records came out
	run -0 timeout 20 bash -c '{ cat three.q; until [ -s out.q ]; do sleep 0.05; done; } |
		chr-demux --symbol TESTSYM >out.q'
	cmp three.q out.q
}

@test "-h, -V and --version: stdout, exit 0" {
	run -0 --separate-stderr $T chr-demux -h
	[ "${lines[0]}" = "usage: chr-demux [options] [file | dir | queue | -]..." ]
	[[ "$output" == *"--shard i/n"* ]]
	[ -z "$stderr" ]
	run -0 $T chr-demux --help
	[ "${lines[0]}" = "usage: chr-demux [options] [file | dir | queue | -]..." ]
	run -0 $T chr-demux --version
	[[ "$output" == "chr-demux "[0-9]* ]]
	run -0 $T chr-demux -V
	[[ "$output" == "chr-demux "[0-9]* ]]
}

@test "misuse is exit 2" {
	run -2 --separate-stderr $T chr-demux --bogus
	[[ "$stderr" == *"Try 'chr-demux --help' for more information." ]]
	run -2 --separate-stderr $T chr-demux --type trade,bogus
	[ "${stderr_lines[0]}" = "chr-demux: --type 'bogus' is not a record type" ]
	run -2 --separate-stderr $T chr-demux --shard 3/3
	[ "${stderr_lines[0]}" = "chr-demux: --shard '3/3' is not i/n with 0 <= i < n" ]
	for s in 1 0/0 a/2 -1/2 1/-2 0/4294967296 0/2x ' 0/2' 0/ /2; do
		run -2 $T chr-demux --shard "$s" </dev/null
	done
	run -0 $T chr-demux --shard 4294967294/4294967295 </dev/null
	run -2 $T chr-demux --venue
	run -2 $T chr-demux --sym x
	run -2 --separate-stderr $T chr-demux --type "$(printf 'x\033')"
	[ "${stderr_lines[0]}" = "chr-demux: --type 'x\\x1b' is not a record type" ]
	command -v script >/dev/null || skip "script(1) is not installed"
	gen stream 3 >a.q
	run -2 script -qec "chr-demux a.q" /dev/null
	[[ "$output" == *"chr-demux: refusing to write binary records to a terminal"* ]]
}

@test "the reader closing early ends quietly" {
	gen stream 200000 >big.q
	run -0 bash -c 'chr-demux big.q 2>err | head -c 100 >/dev/null; echo ${PIPESTATUS[0]}'
	[[ "$output" = 141 || "$output" = 0 ]]
	[ ! -s err ]
	run -0 bash -c 'chr-demux --venue testvenue <big.q 2>err | head -c 100 >/dev/null; echo ${PIPESTATUS[0]}'
	[[ "$output" = 141 || "$output" = 0 ]]
	[ ! -s err ]
	# with SIGPIPE ignored the write error ends it quietly too
	run -0 bash -c 'trap "" PIPE; chr-demux big.q 2>err | head -c 100 >/dev/null; echo ${PIPESTATUS[0]}'
	[ "$output" = 0 ]
	[ ! -s err ]
}

@test "an output that fails ends it before it waits for more input" {
	dead_output_ends chr-demux
}

# --warm: l2.ev, the BTCUSDT L2 sample as records (6548, src_seq = seq),
# refined (chr-demux ARGS | chr-book | chr-snapinject --interval 1s
# | chr-sink --route --resume) into the clean queues under $1
refine() {
	local root=$1
	shift
	$T chr-demux "$@" | $T chr-book | $T chr-snapinject --interval 1s |
		$T chr-sink --route "$root/{venue}/{symbol}/{stream}" --resume
}
make_l2() {
	$T chr-csv2ev "$DATA/binance-futures_incremental_book_L2_BTCUSDT_2024-08-08.csv.gz" |
		$T chr-tail --restamp >l2.ev
}
# the records of l2.ev from seq $1 on, after its DEFINE (as a queue reader
# that starts there gives them)
from_seq() {
	$T chr-tail --type define l2.ev
	$T chr-tail --from seq:$1 --type book l2.ev
}
BOOK=binance-futures/BTCUSDT/book

@test "--warm: a restart from any earlier record ends the clean queues as one uninterrupted run" {
	make_l2
	refine A l2.ev
	n=$($T chr-tail --format json l2.ev | wc -l)
	for cut in 2 100 1777 $((n / 2)); do
		for start in 0 1 $((cut / 2)) $cut; do
			rm -rf B
			first $cut l2.ev | refine B
			from_seq $start | refine B --warm B
			same_queues A B || { echo "cut $cut, restart at $start"; false; }
		done
	done
}

@test "--warm: each book's state first, as chr-book replays its queue to the end; held input dropped" {
	make_l2
	first 3000 l2.ev | refine B
	run -0 $T chr-demux --warm B </dev/null
	$T chr-demux --warm B </dev/null >state.ev
	$T chr-tail --format json --defines state.ev >state.json
	python3 - state.json <<'PY'
import json, sys
r = [json.loads(l) for l in open(sys.argv[1])]
assert [x["type_name"] for x in r] == ["DEFINE", "BOOK_SNAPSHOT"], r
assert r[1]["flags"] == 3, r[1]	# SYNTHETIC | LAST
PY
	# the state is the book at the queue's end, keyed at its last snapshot
	$T chr-book --at 2030-01-01 --depth 0 --format json B/$BOOK >want.json
	$T chr-book --at 2030-01-01 --depth 0 --format json state.ev | cmp - want.json
	last=$($T chr-tail --format json --type snapshot B/$BOOK | tail -1 |
		python3 -c 'import json, sys; r = json.load(sys.stdin); print(r["src_seq"], r["ts"])')
	end=$($T chr-tail --format json B/$BOOK | tail -1 | python3 -c 'import json, sys; print(json.load(sys.stdin)["ts"])')
	python3 -c 'import json, sys; r = json.loads(open("state.json").readlines()[1]); assert (r["src_seq"], r["ts"]) == (int(sys.argv[1]), int(sys.argv[3])), r' $last $end
	# what the queue holds is dropped, counted, and a HEARTBEAT says how far
	run -0 --separate-stderr $T chr-demux --warm B -v l2.ev
	held=$($T chr-tail --format json B/$BOOK | python3 -c 'import json, sys; print(sum(1 for l in sys.stdin if not json.loads(l)["flags"] & 1))')
	[[ "${stderr_lines[0]}" == *", $held held by the clean queues" ]]
	# nothing held, nothing state: an empty or missing root
	run -0 $T chr-demux --warm nowhere l2.ev
	$T chr-demux l2.ev | cmp - <($T chr-demux --warm nowhere l2.ev)
}

@test "--warm: a GAP with no instrument marks a hole in each book queue when the queues lacked its records" {
	make_l2
	first 3000 l2.ev | refine B
	cp -a B B0
	gap() { gen rec GAP 0 0 2024-08-08T23:59:00 $2 1 "$(python3 -c 'import struct, sys; print(struct.pack("<QQII", int(sys.argv[1]), int(sys.argv[2]), 1, 0).hex())' $1 $2)"; }
	# records 2000 to 2499 lost: the queues hold them, nothing to mark
	{ $T chr-tail --type define l2.ev; gap 2000 2500; $T chr-tail --from seq:2500 --type book l2.ev; } >in.ev
	run -0 --separate-stderr refine B --warm B <in.ev
	assert_equal "$stderr" ""
	refine A l2.ev
	same_queues A B
	# records 3500 to 4999 lost, and the queues end at 2999
	rm -rf B && cp -a B0 B
	{ $T chr-tail --type define l2.ev; gap 3000 5000; $T chr-tail --from seq:5000 --type book l2.ev; } >in.ev
	run -0 --separate-stderr refine B --warm B <in.ev
	assert_equal "${stderr_lines[0]}" "chr-demux: the input lost 2000 records (seq 3000 to 4999) that the clean queues lack: a GAP record marks the hole in 1 book; the other streams may lack records there too"
	# the book is unknown after it (the sample has no later snapshot)
	[[ "${stderr_lines[1]}" == "chr-book: 0 update id gaps, "*" diffs without a snapshot, "* ]]
	$T chr-tail --format json --from seq:$(($($T chr-tail --format json B0/$BOOK | tail -1 | python3 -c 'import json, sys; print(json.load(sys.stdin)["seq"])') + 1)) B/$BOOK >after.json
	python3 - after.json <<'PY'
import json, sys
r = [json.loads(l) for l in open(sys.argv[1])]
g = r[0]
assert g["type_name"] == "GAP" and g["flags"] == 1 and g["src_seq"] == 5000, g["type_name"]
assert (g["expected"], g["got"], g["reason"]) == (3000, 5000, 1), (g["expected"], g["got"])
# then every record from the hole on, and nothing synthetic (the book is unknown)
src = [x["src_seq"] for x in r[1:]]
assert src == list(range(5000, 5000 + len(src))) and not any(x["flags"] & 1 for x in r[1:]), "after the hole"
PY
}
