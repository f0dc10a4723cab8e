#!/usr/bin/env bats
# chr-sink --archive: layout, sealed segments, DEFINE first, seq per
# partition, meta.json, rolls, refusing/appending/replacing partitions,
# hostile names, bad input publishing nothing.

load test_helper

P=A/v1/binance/BTCUSDT/2024-05-01

# fields of a segment header: magic version flags id base_seq end count
seghdr() {
	od -An -t u4 -N 4 "$1" | tr -d ' '
	od -An -t u2 -j 4 -N 4 "$1" | xargs
	od -An -t u8 -j 8 -N 40 "$1" | xargs
}

@test "-h prints the usage on stdout, --version the version" {
	run -0 $T chr-sink -h
	assert_line --index 1 --partial "usage: chr-sink --queue DIR" || assert_line --index 0 --partial "usage: chr-sink --queue DIR"
	run -0 $T chr-sink --version
	assert_output --regexp '^chr-sink [0-9]'
}

@test "misuse exits 2" {
	run -2 --separate-stderr $T chr-sink
	assert_equal "${stderr_lines[0]}" "chr-sink: --archive ROOT, --queue DIR or --route TEMPLATE is required"
	run -2 $T chr-sink --archive A --bogus
	# misused long options are named as they were given
	run -2 --separate-stderr $T chr-sink --resume=1 --queue Q </dev/null
	assert_equal "${stderr_lines[0]}" "chr-sink: option '--resume' takes no value"
	run -2 --separate-stderr $T chr-sink --re Q </dev/null
	assert_equal "${stderr_lines[0]}" "chr-sink: option '--re' is ambiguous"
	run -2 --separate-stderr $T chr-sink --queue
	assert_equal "${stderr_lines[0]}" "chr-sink: option '--queue' needs a value"
	[ ! -e Q ]
	run -2 --separate-stderr $T chr-sink --archive A --segment-size 12x
	assert_equal "${stderr_lines[0]}" "chr-sink: segment size '12x' is not a size of at least 128 bytes"
	run -2 $T chr-sink --archive A --source ../x </dev/null
	[ ! -e A/v1 ]
	run -2 --separate-stderr $T chr-sink --archive A --stage </dev/null
	assert_equal "${stderr_lines[0]}" "chr-sink: --stage needs --source ID"
	run -2 --separate-stderr $T chr-sink --archive A --publish
	assert_equal "${stderr_lines[0]}" "chr-sink: --publish needs --source ID"
	run -2 --separate-stderr $T chr-sink --archive A --source s --stage --publish
	assert_equal "${stderr_lines[0]}" "chr-sink: --stage and --publish exclude each other"
	run -2 --separate-stderr $T chr-sink --archive A --source s --publish in
	assert_equal "${stderr_lines[0]}" "chr-sink: --publish reads no input, but FILE 'in' is given"
	run -2 --separate-stderr $T chr-sink --archive A --source s --stage --ledger v </dev/null
	assert_equal "${stderr_lines[0]}" "chr-sink: --ledger is written by --publish, not by --stage"
	run -2 --separate-stderr $T chr-sink --archive A --source s --publish --ledger-info x
	assert_equal "${stderr_lines[0]}" "chr-sink: --ledger-info needs --ledger VENDOR"
	run -2 --separate-stderr $T chr-sink --archive A --source s --publish --ledger ../v
	assert_equal "${stderr_lines[0]}" "chr-sink: ledger vendor '../v': name starts with '.'"
	# ids name files that are removed: no patterns
	run -2 --separate-stderr $T chr-sink --archive A --source 'S?' </dev/null
	assert_equal "${stderr_lines[0]}" "chr-sink: source id 'S?': name contains a glob character (*?[])"
	run -2 --separate-stderr $T chr-sink --archive A --source s --publish --ledger 'v[e]'
	assert_equal "${stderr_lines[0]}" "chr-sink: ledger vendor 'v[e]': name contains a glob character (*?[])"
	[ ! -e A ]
}

@test "empty input writes nothing and exits 0" {
	run -0 --separate-stderr $T chr-sink --archive A </dev/null
	assert_equal "$stderr" ""
	[ ! -e A ]
}

@test "one record: a sealed segment that begins with the DEFINE, and meta.json" {
	gen spec D 1 2 binance BTCUSDT T 1 2 2024-05-01T10:00:00 1 >in
	run -0 --separate-stderr $T chr-sink --archive A in
	assert_equal "$stderr" ""
	run -0 ls $P/trade
	assert_output $'000000000.q\nmeta.json'
	[ ! -e A/v1/binance/BTCUSDT/2024-05-01/book ]
	size=$(stat -c %s $P/trade/000000000.q)
	[ "$size" -eq $((64 + 192 + 128)) ]
	run -0 seghdr $P/trade/000000000.q
	assert_line --index 0 1364346947
	assert_line --index 1 "1 1"
	assert_line --index 2 "0 0 $size 2 1714557600000000000"
	run -0 $T chr-tail --format text $P/trade/000000000.q
	assert_line --index 0 --partial "DEFINE binance BTCUSDT seq=0 src_seq=0"
	assert_line --index 1 --partial "TRADE binance BTCUSDT seq=1 src_seq=1"
	assert_equal "${#lines[@]}" 2
	m=$P/trade/meta.json
	grep -q '"venue": "binance"' $m
	grep -q '"symbol": "BTCUSDT"' $m
	grep -q '"venue_id": 1,' $m
	grep -q '"market_id": 2,' $m
	grep -q '"date": "2024-05-01"' $m
	grep -q '"stream": "trade"' $m
	grep -q '"records": 2,' $m
	grep -q '"first_seq": 0,' $m
	grep -q '"last_seq": 1,' $m
	grep -q '"ts_min": 1714557600000000000,' $m
	grep -q '"TRADE": 1' $m
	grep -q '"sources": \[\]' $m
	grep -q '"file": "000000000.q"' $m
	grep -q "\"bytes\": $size," $m
	grep -q "\"checksum\": \"xxh3-128:$(xxhsum -H2 <$P/trade/000000000.q | cut -d' ' -f1)\"" $m
	# staging leaves nothing behind but its lock
	run -0 ls -A A/.staging
	assert_output lock
}

@test "many records roll segments at --segment-size; cat of them is the stream" {
	gen spec D 7 9 binance BTCUSDT T 7 9 2024-05-01T01:00 5000 Q 7 9 2024-05-01T02:00 300 \
		B 7 9 2024-05-01T03:00 200 S 7 9 2024-05-01T03:30 2 N 7 9 2024-05-01T04:00 50 >in
	run -0 $T chr-sink --archive A --segment-size 64K in
	run -0 ls $P
	assert_output $'book\nquote\ntopn\ntrade'
	n=$(ls $P/trade/*.q | wc -l)
	[ "$n" -ge 10 ]
	for f in $P/trade/*.q; do
		[ "$(stat -c %s $f)" -le 65536 ]
		[ "$(od -An -t u2 -j 6 -N 2 $f | tr -d ' ')" = 1 ]
	done
	run -0 bash -c "cat $P/trade/*.q | chr-tail --format text | wc -l"
	assert_output 5001
	run -0 bash -c "cat $P/trade/*.q | chr-tail --format text | grep -o 'seq=[0-9]*' | sort -u | wc -l"
	assert_output 5001
	run -0 bash -c "cat $P/book/*.q | chr-tail --format text"
	assert_line --index 0 --partial "DEFINE binance BTCUSDT seq=0"
	assert_line --index 201 --partial "seq=201"
	assert_equal "${#lines[@]}" 203
	grep -q '"records": 5001,' $P/trade/meta.json
	grep -q '"last_seq": 5000,' $P/trade/meta.json
	grep -q '"BOOK_SNAPSHOT": 2' $P/book/meta.json
	grep -q '"BOOK_DIFF": 200' $P/book/meta.json
	[ "$(grep -c '"file"' $P/trade/meta.json)" -eq "$n" ]
}

@test "seq restarts at 0 with a DEFINE in each partition; src_seq is kept" {
	gen spec D 1 2 binance BTCUSDT T 1 2 2024-05-01T23:59:59.998 4 D 1 3 binance ETHUSDT T 1 3 2024-05-01T12:00 2 >in
	run -0 --separate-stderr $T chr-sink --archive A -v in
	assert_equal "${stderr_lines[0]}" "chr-sink: v1/binance/BTCUSDT/2024-05-01/trade: 3 records, 1 segments (new)"
	assert_equal "${stderr_lines[3]}" "chr-sink: 6 input records archived into 3 partitions"
	run -0 chr-tail --format text A/v1/binance/BTCUSDT/2024-05-02/trade/000000000.q
	assert_line --index 0 --regexp '^2024-05-02T00:00:00.000000000Z DEFINE binance BTCUSDT seq=0 src_seq=0 '
	assert_line --index 1 --partial "TRADE binance BTCUSDT seq=1 src_seq=3"
	assert_line --index 2 --partial "seq=2 src_seq=4"
	run -0 chr-tail --format text A/v1/binance/ETHUSDT/2024-05-01/trade/000000000.q
	assert_line --index 0 --partial "DEFINE binance ETHUSDT seq=0 src_seq=5"
	assert_line --index 2 --partial "TRADE binance ETHUSDT seq=2 src_seq=7"
}

@test "concatenated streams and several files give the same archive" {
	gen spec D 1 2 binance BTCUSDT T 1 2 2024-05-01 300 >a
	gen spec D 4 5 bitmex XBTUSD Q 4 5 2024-05-01 300 >b
	cat a b | $T chr-sink --archive A1
	$T chr-sink --archive A2 a b
	$T chr-sink --archive A3 - b <a
	diff -r A1/v1 A2/v1
	diff -r A1/v1 A3/v1
	[ -e A1/v1/bitmex/XBTUSD/2024-05-01/quote/000000000.q ]
}

@test "a partition that holds data is refused, named, and left as it was" {
	gen spec D 1 2 binance BTCUSDT T 1 2 2024-05-01 10 >in
	$T chr-sink --archive A in
	cp -a A B
	run -1 --separate-stderr $T chr-sink --archive A in
	assert_equal "$stderr" "chr-sink: partition 'v1/binance/BTCUSDT/2024-05-01/trade' already holds data (source untagged); --append adds this input to it, only for records it does not hold (nothing is deduplicated)"
	diff -r A/v1 B/v1
	run -0 ls -A A/.staging
	assert_output lock
}

@test "--append adds segments after the existing ones, seq continuing" {
	gen spec D 1 2 binance BTCUSDT T 1 2 2024-05-01T01:00 10 >a
	gen spec D 1 2 binance BTCUSDT T 1 2 2024-05-01T02:00 5 >b
	$T chr-sink --archive A a
	cp $P/trade/000000000.q first.q
	run -0 $T chr-sink --archive A --append b
	run -0 ls $P/trade
	assert_output $'000000000.q\n000000001.q\nmeta.json'
	cmp first.q $P/trade/000000000.q
	run -0 bash -c "cat $P/trade/*.q | chr-tail --format text"
	assert_equal "${#lines[@]}" 16
	assert_line --index 11 --regexp "^2024-05-01T02:00:00.000000000Z TRADE binance BTCUSDT seq=11 src_seq=1 "
	assert_line --index 15 --partial "seq=15"
	grep -q '"records": 16,' $P/trade/meta.json
	grep -q '"last_seq": 15,' $P/trade/meta.json
	grep -q '"base_seq": 11,' $P/trade/meta.json
	grep -q '"ts_min": 1714525200000000000,' $P/trade/meta.json
}

@test "--source replaces a partition of the same source, refuses another" {
	gen spec D 1 2 binance BTCUSDT T 1 2 2024-05-01 1000 >in
	$T chr-sink --archive A --source abc --segment-size 32K in
	cp -a A B
	run -0 --separate-stderr $T chr-sink --archive A --source abc --segment-size 32K -v in
	assert_regex "$stderr" "\\(replaced\\)"
	diff -r A/v1 B/v1
	grep -q '"abc"' $P/trade/meta.json
	run -1 --separate-stderr $T chr-sink --archive A --source def in
	assert_equal "$stderr" "chr-sink: partition 'v1/binance/BTCUSDT/2024-05-01/trade' already holds data (source abc); --append adds this input to it, only for records it does not hold (nothing is deduplicated)"
	diff -r A/v1 B/v1
	# a smaller re-import of the same source replaces, never adds
	gen spec D 1 2 binance BTCUSDT T 1 2 2024-05-01 3 >small
	$T chr-sink --archive A --source abc small
	grep -q '"records": 4,' $P/trade/meta.json
	run -0 ls $P/trade
	assert_output $'000000000.q\nmeta.json'
}

@test "hostile DEFINE names are refused with their offset; nothing is written outside ROOT" {
	mkdir -p w && cd w
	for sym in '../../x' 'a/b' '..' '.hidden' 'a b' 'AB\x00CD' ''; do
		gen spec T 9 9 2024-05-01 0 D 1 2 binance "$sym" T 1 2 2024-05-01 1 >in
		run -1 --separate-stderr $T chr-sink --archive A in
		assert_equal "${#stderr_lines[@]}" 1
		assert_regex "$stderr" "^chr-sink: stdin: byte 0: DEFINE|^chr-sink: in: byte 0: DEFINE"
	done
	gen spec D 1 2 '../..' BTC T 1 2 2024-05-01 1 >in
	run -1 --separate-stderr $T chr-sink --archive A in
	assert_equal "$stderr" "chr-sink: in: byte 0: DEFINE venue '../..': name starts with '.'"
	gen spec D 1 2 binance 'AB\x00CD' >in
	run -1 --separate-stderr $T chr-sink --archive A <in
	assert_equal "$stderr" "chr-sink: stdin: byte 0: DEFINE of 'AB\\x00CD': name field has bytes after its NUL"
	gen spec T 1 1 2024-05-01 1 D 1 2 binance ../../x >in
	cat in in >in2
	run -1 --separate-stderr $T chr-sink --archive A <in2
	assert_equal "$stderr" "chr-sink: stdin: byte 0: TRADE of venue 1 market 1 before any DEFINE of it"
	gen spec D 1 2 binance ok D 1 2 binance ../../x >in
	run -1 --separate-stderr $T chr-sink --archive A <in
	assert_equal "$stderr" "chr-sink: stdin: byte 192: DEFINE symbol '../../x': name starts with '.'"
	cd ..
	run -0 find . -mindepth 1 -not -path './w*' -not -name 'separate-stderr-*'
	assert_output ""
	[ ! -e w/A/v1 ]
}

@test "a record with no DEFINE before it exits 1 naming its offset" {
	gen spec D 1 2 binance BTCUSDT T 1 2 2024-05-01 3 T 1 3 2024-05-01 1 >in
	run -1 --separate-stderr $T chr-sink --archive A in
	assert_equal "$stderr" "chr-sink: in: byte 576: TRADE of venue 1 market 3 before any DEFINE of it"
	[ ! -e A/v1 ]
}

@test "truncated and corrupt input exit 1 with the offset and publish nothing" {
	gen spec D 1 2 binance BTCUSDT T 1 2 2024-05-01 100 >in
	head -c -10 in >trunc
	run -1 --separate-stderr $T chr-sink --archive A trunc
	assert_equal "$stderr" "chr-sink: trunc: byte 12864: truncated record; nothing was archived"
	[ ! -e A/v1 ]
	run -0 ls -A A/.staging
	assert_output lock
	cp in bad
	printf 'X' | dd of=bad bs=1 seek=1000 conv=notrunc status=none
	run -1 --separate-stderr $T chr-sink --archive A <bad
	assert_equal "$stderr" "chr-sink: stdin: byte 960: bad crc; nothing was archived"
	[ ! -e A/v1 ]
	# good data before bad data in a second file is not published either
	run -1 $T chr-sink --archive A in trunc
	[ ! -e A/v1 ]
}

# sink_bad FILE OFFSET WHAT: chr-sink exits 1 on FILE naming byte OFFSET,
# on stdin and as a file after a good one, and publishes nothing
sink_bad() {
	run -1 --separate-stderr $T chr-sink --archive B <"$1"
	[ "$stderr" = "chr-sink: stdin: byte $2: $3; nothing was archived" ] || { echo "stdin: $stderr"; return 1; }
	[ ! -e B/v1 ] || { echo "stdin: $1 published"; return 1; }
	run -1 --separate-stderr $T chr-sink --archive B good "$1"
	[ "$stderr" = "chr-sink: $1: byte $2: $3; nothing was archived" ] || { echo "file: $stderr"; return 1; }
	[ ! -e B/v1 ] || { echo "file: $1 published"; return 1; }
}

# poke FILE OFFSET PRINTF-FORMAT: overwrite bytes of FILE
@test "bad input (as chr-tail's bad input test): exit 1 with the byte offset, nothing published" {
	# DEFINE bytes 0..191, trades of 128 bytes from 192
	gen spec D 1 2 binance BTCUSDT T 1 2 2024-05-01 5 >good
	# a sealed segment file: the one chr-sink writes for good
	$T chr-sink --archive S good
	cp S/v1/binance/BTCUSDT/2024-05-01/trade/000000000.q seg
	head -c 10 good >short
	sink_bad short 0 "truncated record header"
	head -c $((192 + 30)) good >trunchdr
	sink_bad trunchdr 192 "truncated record header"
	head -c 292 good >truncbody
	sink_bad truncbody 192 "truncated record"
	cp good crc
	poke crc 270 '\001'
	sink_bad crc 192 "bad crc"
	cp seg segver
	poke segver 4 '\002'
	sink_bad segver 0 "unknown segment version"
	cp seg segcrc
	poke segcrc 20 '\377'
	sink_bad segcrc 0 "bad segment header crc"
	cp seg segmagic
	poke segmagic 0 'X'
	sink_bad segmagic 0 "record length above 16 MiB"
	cp good big
	poke big 192 '\000\000\000\002'
	sink_bad big 192 "record length above 16 MiB"
	cp good zero
	poke zero 192 '\000\000\000\000'
	sink_bad zero 192 "record length 0 (unwritten space, or not a record stream)"
	{ printf '\377'; yes 'random garbage' | head -c 999; } >garbage
	sink_bad garbage 0 "record length above 16 MiB"
	# the segment itself is good input
	run -0 $T chr-sink --archive B seg
	[ -e B/v1/binance/BTCUSDT/2024-05-01/trade/000000000.q ]
}

@test "records of no stream are counted, not silently dropped" {
	gen spec D 1 2 binance BTCUSDT H 2024-05-01 T 1 2 2024-05-01 2 A 2024-05-01 H 2024-05-01 >in
	run -0 --separate-stderr $T chr-sink --archive A in
	assert_equal "$stderr" "chr-sink: 3 records of no archive stream (HEARTBEAT, application types) not archived"
	grep -q '"records": 3,' $P/trade/meta.json
}

@test "--report writes a JSON summary" {
	gen spec D 1 2 binance BTCUSDT T 1 2 2024-05-01 10 B 1 2 2024-05-01 4 >in
	run -0 $T chr-sink --archive A --report r.json --source s1 in
	grep -q '"venue": "binance",' r.json
	grep -q '"date": "2024-05-01",' r.json
	grep -q '"records": 14,' r.json
	grep -q '"records_written": 16,' r.json
	grep -q '"path": "v1/binance/BTCUSDT/2024-05-01/book",' r.json
	grep -q '"action": "new",' r.json
	run -0 $T chr-sink --archive A --report r.json --source s1 in
	grep -q '"action": "replaced",' r.json
}

@test "stale staging directories of dead runs are removed" {
	# a run lives while it holds flock on its directory, whatever its pid
	mkdir -p A/.staging/999999999-abc/p0 A/.staging/$$-unlocked A/.staging/1-live
	: >A/.staging/999999999-abc/p0/000000000.q.tmp
	exec 8<A/.staging/1-live
	flock -x 8
	gen spec D 1 2 binance BTCUSDT T 1 2 2024-05-01 1 >in
	run -0 $T chr-sink --archive A in
	exec 8<&-
	[ ! -e A/.staging/999999999-abc ]
	[ ! -e A/.staging/$$-unlocked ]
	[ -d A/.staging/1-live ]
}

@test "an unreadable archive root or input exits 3" {
	: >F
	gen spec D 1 2 binance BTCUSDT T 1 2 2024-05-01 1 >in
	run -3 --separate-stderr $T chr-sink --archive F in
	assert_equal "$stderr" "chr-sink: archive root 'F': Not a directory"
	run -3 --separate-stderr $T chr-sink --archive A nonexistent
	assert_equal "$stderr" "chr-sink: cannot open 'nonexistent': No such file or directory"
	[ ! -e A/v1 ]
	mkdir -p R/v1/binance && : >R/v1/binance/BTCUSDT
	run -3 --separate-stderr $T chr-sink --archive R in
	assert_regex "$stderr" "^chr-sink: .*Not a directory"
}

@test "a reader closing early: nothing is written to stdout" {
	gen spec D 1 2 binance BTCUSDT T 1 2 2024-05-01 100 >in
	run -0 bash -c "chr-sink --archive A in | head -c 100"
	assert_output ""
	[ -e $P/trade/meta.json ]
}

@test "--stage publishes nothing; --publish then publishes exactly what a one-phase run does" {
	gen spec D 1 2 binance BTCUSDT T 1 2 2024-05-01 1000 B 1 2 2024-05-02 20 >in
	run -0 --separate-stderr $T chr-sink --archive A --source s1 --segment-size 32K --stage -v in
	assert_equal "${stderr_lines[2]}" "chr-sink: 1020 input records staged into 2 partitions"
	[ ! -e A/v1 ]
	run -0 ls -A A/.staging
	assert_output $'lock\nstaged-s1'
	$T chr-sink --archive B --source s1 --segment-size 32K in
	run -0 --separate-stderr $T chr-sink --archive A --source s1 --publish -v
	assert_equal "${stderr_lines[2]}" "chr-sink: 1020 input records archived into 2 partitions"
	diff -r A/v1 B/v1
	run -0 ls -A A/.staging
	assert_output lock
	# the same source again: staged as a replacement, published as one
	$T chr-sink --archive A --source s1 --segment-size 32K --stage in
	run -0 --separate-stderr $T chr-sink --archive A --source s1 --publish -v
	assert_regex "${stderr_lines[0]}" "\\(replaced\\)$"
	diff -r A/v1 B/v1
}

@test "--stage replaces an older staged run of the same ID; other IDs are kept" {
	gen spec D 1 2 binance BTCUSDT T 1 2 2024-05-01 10 >a
	gen spec D 1 2 binance BTCUSDT T 1 2 2024-05-01 3 >b
	gen spec D 4 5 bitmex XBTUSD T 4 5 2024-05-01 3 >c
	$T chr-sink --archive A --source s1 --stage a
	$T chr-sink --archive A --source s2 --stage c
	$T chr-sink --archive A --source s1 --stage b
	run -0 ls -A A/.staging
	assert_output $'lock\nstaged-s1\nstaged-s2'
	$T chr-sink --archive A --source s1 --publish
	grep -q '"records": 4,' $P/trade/meta.json
	$T chr-sink --archive A --source s2 --publish
	[ -e A/v1/bitmex/XBTUSD/2024-05-01/trade/meta.json ]
}

@test "--publish without a staged run exits 1 and writes nothing" {
	run -1 --separate-stderr $T chr-sink --archive A --source s1 --publish
	assert_equal "$stderr" "chr-sink: no staged run of source 's1' in 'A/.staging' (chr-sink --stage makes one)"
	[ ! -e A ]
	gen spec D 1 2 binance BTCUSDT T 1 2 2024-05-01 1 >in
	$T chr-sink --archive A --source s1 --stage in
	$T chr-sink --archive A --source s1 --publish
	run -1 --separate-stderr $T chr-sink --archive A --source s1 --publish
	assert_equal "$stderr" "chr-sink: no staged run of source 's1' in 'A/.staging' (chr-sink --stage makes one)"
}

@test "a staged partition taken meanwhile is refused at --publish" {
	gen spec D 1 2 binance BTCUSDT T 1 2 2024-05-01 5 >in
	$T chr-sink --archive A --source s1 --stage in
	$T chr-sink --archive A --source s2 in
	cp -a A/v1 before
	run -1 --separate-stderr $T chr-sink --archive A --source s1 --publish
	assert_equal "$stderr" "chr-sink: partition 'v1/binance/BTCUSDT/2024-05-01/trade' changed while this run wrote it"
	diff -r before A/v1
	run -0 ls -A A/.staging
	assert_output lock
}

@test "a staged run whose plan was tampered with publishes nothing" {
	gen spec D 1 2 binance BTCUSDT T 1 2 2024-05-01 5 >in
	$T chr-sink --archive A --source s1 --stage in
	sed -i 's|"path": "v1/binance/BTCUSDT/2024-05-01/trade"|"path": "v1/../../../x"|' A/.staging/staged-s1/plan.json
	run -1 --separate-stderr $T chr-sink --archive A --source s1 --publish
	assert_regex "$stderr" "^chr-sink: '.*/plan.json': bad or missing partitions$"
	[ ! -e A/v1 ]
	[ ! -e x ]
	[ ! -e ../x ]
}

@test "--publish --ledger writes the ledger entry, with --ledger-info as input" {
	gen spec D 1 2 binance BTCUSDT T 1 2 2024-05-01 10 B 1 2 2024-05-02 4 >in
	echo '{"tool": "test", "rows": 14}' >info.json
	$T chr-sink --archive A --source s1 --stage in
	run -0 --separate-stderr $T chr-sink --archive A --source s1 --publish --ledger vend --ledger-info info.json
	assert_equal "$stderr" ""
	L=A/imports/v1/vend/binance/BTCUSDT/2024-05-01/s1.json
	python3 - $L <<'PY'
import json, re, sys
l = json.load(open(sys.argv[1]))
assert list(l)[:5] == ["format", "version", "vendor", "source", "import_time"], l
assert l["format"] == "chronicle-import-ledger" and l["version"] == 1 and l["vendor"] == "vend"
assert l["source"] == "s1" and re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", l["import_time"])
assert l["records"] == 14 and l["records_written"] == 16 and l["segments"] == 2 and l["skipped"] == 0
p = l["partitions"]
assert [x["path"] for x in p] == ["v1/binance/BTCUSDT/2024-05-01/trade", "v1/binance/BTCUSDT/2024-05-02/book"], p
assert [x["records"] for x in p] == [11, 5] and [x["action"] for x in p] == ["new", "new"], p
assert l["ts_min"] == p[0]["ts_min"] and l["ts_max"] == p[1]["ts_max"], l
assert l["input"] == {"tool": "test", "rows": 14}, l
PY
	# one-phase runs may write it too; a bad --ledger-info is refused before anything
	echo '[1]' >bad.json
	run -1 --separate-stderr $T chr-sink --archive A --source s1 --ledger vend --ledger-info bad.json in
	assert_equal "$stderr" "chr-sink: bad.json: not a JSON object"
	echo '{' >bad.json
	run -1 $T chr-sink --archive A --source s1 --ledger vend --ledger-info bad.json in
	run -3 --separate-stderr $T chr-sink --archive A --source s1 --ledger vend --ledger-info nosuch in
	assert_equal "$stderr" "chr-sink: cannot read 'nosuch': No such file or directory"
	run -0 $T chr-sink --archive A --source s1 --ledger vend in
	python3 -c "import json, sys; l = json.load(open(sys.argv[1])); assert 'input' not in l and l['partitions'][0]['action'] == 'replaced'" $L
	run -0 find A/imports -type f
	assert_output $L
	# no records: an entry of an import of nothing, under none/none/none
	$T chr-sink --archive E --source s9 --stage </dev/null
	run -0 --separate-stderr $T chr-sink --archive E --source s9 --publish --ledger vend
	assert_equal "$stderr" ""
	[ ! -e E/v1 ]
	run -0 find E/imports -type f
	assert_output E/imports/v1/vend/none/none/none/s9.json
	python3 -c "import json, sys; l = json.load(open(sys.argv[1])); assert l['source'] == 's9' and l['records'] == 0 and l['partitions'] == [] and 'ts_min' not in l, l" E/imports/v1/vend/none/none/none/s9.json
}

@test "staged runs not published within a day are removed; younger ones are kept" {
	gen spec D 1 2 binance BTCUSDT T 1 2 2024-05-01 1 >in
	gen spec D 4 5 bitmex XBTUSD T 4 5 2024-05-01 1 >c
	$T chr-sink --archive A --source old --stage in
	$T chr-sink --archive A --source young --stage in
	touch -d '25 hours ago' A/.staging/staged-old
	$T chr-sink --archive A c
	run -0 ls -A A/.staging
	assert_output $'lock\nstaged-young'
}

@test "a partition read back: a segment listed in meta.json but missing, or a directory in its place, is bad data" {
	gzip -cd "$DATA/binance-futures_trades_BTCUSDT_2024-08-08.csv.gz" | chr-csv2ev >in
	$T chr-sink --archive A --segment-size 64K in
	d=A/v1/binance-futures/BTCUSDT/2024-08-08/trade
	[ -f $d/000000002.q ]
	cp -a A B
	rm $d/000000001.q
	run -1 --separate-stderr $T chr-tail $d
	assert_equal "$stderr" "chr-tail: partition '$d': segment '000000001.q' is listed in meta.json but missing"
	run -1 --separate-stderr $T chr-tail --archive A --venue binance-futures --symbol BTCUSDT --stream trade
	assert_equal "$stderr" "chr-tail: partition '$d': segment '000000001.q' is listed in meta.json but missing"
	rm B/${d#A/}/000000001.q
	mkdir B/${d#A/}/000000001.q
	run -1 --separate-stderr $T chr-tail B/${d#A/}
	assert_equal "$stderr" "chr-tail: 'B/${d#A/}/000000001.q' is a directory, not a segment"
}

@test "a publish that fails half way says it committed; the next run completes it and advises no --append" {
	make_fail_publish
	{ echo "exchange,symbol,timestamp,local_timestamp,id,side,price,amount"
	  echo "x,S,1723161600000000,1723161600000001,1,buy,1,1"
	  echo "x,S,1723248000000000,1723248000000001,2,buy,1,1"; } | chr-csv2ev >in
	run -3 --separate-stderr env LD_PRELOAD=$PWD/fail_publish.so FAIL_PUBLISH=2024-08-10/trade \
		ASAN_OPTIONS="verify_asan_link_order=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}" \
		$T chr-sink --archive A in
	assert_equal "$stderr" "chr-sink: cannot publish 'A/v1/x/S/2024-08-10/trade': Permission denied; this run is committed (1 of 2 partitions published): the next chr-sink run on 'A' publishes the rest once that is fixed"
	[ -f A/v1/x/S/2024-08-09/trade/meta.json ] && [ ! -e A/v1/x/S/2024-08-10/trade ]
	# the same input again: the earlier run is completed, nothing added twice
	run -1 --separate-stderr $T chr-sink --archive A in
	assert_equal "${stderr_lines[0]}" "chr-sink: 'A/v1/x/S/2024-08-10/trade' published: completing a run that failed part way"
	assert_equal "${stderr_lines[1]}" "chr-sink: partition 'v1/x/S/2024-08-09/trade' already holds data, published by an earlier run that failed part way and that this run completed: if this input is that run's, it is archived already; nothing done"
	[[ "$stderr" != *--append* ]]
	run -0 $T chr-tail --format csv --archive A --venue x --symbol S --stream trade
	assert_equal "${#lines[@]}" 3
}
