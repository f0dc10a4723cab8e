#!/usr/bin/env bats
# Compressed segments (common/zsq.c, docs/format.md "Compressed segments"):
# `zstd -d` gives the segment back, chr-tail reads .q.zst files and
# partitions mixing .q and .q.zst, and bad files are exit 1 with an offset.

load test_helper

TS0=1723075200000000000	# 2024-08-08T00:00:00Z
P=A/v1/binance-futures/BTCUSDT/2024-08-08/book

# zsq IN OUT: compress the segment file IN (test/unit/t-zsq.c)
zsq() {
	"$BUILD/test/unit/t-zsq" compress "$@"
}

# the BTCUSDT sample as an archive partition of three segments
make_part() {
	$T chr-csv2ev "$DATA/binance-futures_incremental_book_L2_BTCUSDT_2024-08-08.csv.gz" |
		$T chr-sink --archive A -S 3M
	[ -f $P/000000002.q ]
}

@test "zstd -d gives back the segment byte for byte" {
	make_part
	for f in $P/*.q; do
		run -0 zsq $f $f.zst
		run -0 zstd -q -d -c $f.zst
		zstd -q -d -c $f.zst | cmp - $f
		run -0 zstd -q -t $f.zst
	done
	# several frames, and the two skippable frames at the end
	run -0 zstd -l $P/000000000.q.zst
	[[ "${lines[1]}" =~ ^\ +[3-9]\ +2\  ]]
}

@test "chr-tail reads a .q.zst as it reads the .q" {
	make_part
	for f in $P/*.q; do
		zsq $f $f.zst
		$T chr-tail $f >want.q
		run -0 $T chr-tail $f.zst
		$T chr-tail $f.zst | cmp - want.q
		$T chr-tail --format csv $f >want.csv
		$T chr-tail --format csv $f.zst | cmp - want.csv
	done
	# a selection, and several inputs
	$T chr-tail --format text --from 2024-08-08T08:00 $P/000000001.q >want.txt
	run -0 $T chr-tail --format text --from 2024-08-08T08:00 $P/000000001.q.zst
	assert_output "$(cat want.txt)"
	$T chr-tail $P/000000000.q $P/000000001.q >want.q
	$T chr-tail $P/000000000.q.zst $P/000000001.q.zst | cmp - want.q
}

@test "a partition mixing .q and .q.zst reads in id order" {
	make_part
	$T chr-tail $P >want.q
	$T chr-tail --format csv $P >want.csv
	$T chr-tail --format text $P | tail -1 >last.txt
	zsq $P/000000000.q $P/000000000.q.zst
	zsq $P/000000002.q $P/000000002.q.zst
	rm $P/000000000.q $P/000000002.q
	$T chr-tail $P | cmp - want.q
	$T chr-tail --archive A --venue binance-futures --symbol BTCUSDT --format csv | cmp - want.csv
	# pruned by the header the table keeps: the first segment gives its DEFINE
	run -0 $T chr-tail --format text --archive A --venue binance-futures --symbol BTCUSDT \
		--from "$(awk '{print $1}' last.txt)"
	[ "${#lines[@]}" -ge 2 ]
	[[ "${lines[0]}" == *DEFINE* ]]
	assert_equal "${lines[-1]}" "$(cat last.txt)"
	# all compressed
	zsq $P/000000001.q $P/000000001.q.zst
	rm $P/000000001.q
	$T chr-tail $P | cmp - want.q
}

@test "a .q and a .q.zst of one id in a partition is exit 1" {
	make_part
	zsq $P/000000001.q $P/000000001.q.zst
	run -1 --separate-stderr $T chr-tail $P
	assert_equal "$stderr" "chr-tail: $P: segment 1 is there twice, as '000000001.q' and '000000001.q.zst'"
	assert_output ""
}

@test "empty and one-record segments" {
	gen stream 0 $TS0 0 0 >e.q
	zsq e.q e.q.zst
	zstd -q -d -c e.q.zst | cmp - e.q
	run -0 $T chr-tail e.q.zst
	assert_output ""
	gen stream 1 $TS0 0 4 >one.q
	zsq one.q one.q.zst
	zstd -q -d -c one.q.zst | cmp - one.q
	run -0 $T chr-tail --format text one.q.zst
	assert_output "$($T chr-tail --format text one.q)"
	# a directory of just these: read in order
	mkdir d && cp e.q.zst d/000000000.q.zst && cp one.q d/000000004.q
	run -0 $T chr-tail --format text d
	assert_output "$($T chr-tail --format text one.q)"
}

@test "a truncated compressed segment is exit 1 with the path and offset" {
	gen stream 50 $TS0 0 0 >s.q
	zsq s.q s.q.zst
	n=$(stat -c %s s.q.zst)
	for k in 1 4 9 20 $((n / 2)) $((n - 20)) $((n - 9)) $((n - 1)); do
		head -c $k s.q.zst >t.q.zst
		run -1 --separate-stderr $T chr-tail t.q.zst
		[[ "$stderr" =~ ^chr-tail:\ t.q.zst:\ byte\ [0-9]+:\  ]]
		assert_output ""
	done
	head -c $((n - 1)) s.q.zst >t.q.zst
	run -1 --separate-stderr $T chr-tail t.q.zst
	assert_equal "$stderr" "chr-tail: t.q.zst: byte $((n - 5)): no zstd seek table at the end (not a compressed segment)"
	# in a partition too
	mkdir p && cp s.q p/000000000.q && head -c 100 s.q.zst >p/000000001.q.zst
	run -1 --separate-stderr $T chr-tail --format text p
	[[ "$stderr" =~ ^chr-tail:\ p/000000001.q.zst:\ byte\ [0-9]+:\  ]]
	[ "${#lines[@]}" -eq 50 ]
}

@test "a corrupt compressed segment is exit 1 with the path and offset" {
	gen stream 50 $TS0 0 0 >s.q
	zsq s.q s.q.zst
	n=$(stat -c %s s.q.zst)
	# inside the frame: zstd's checksum or its decoder says so
	cp s.q.zst c.q.zst
	poke c.q.zst 200 '\x55\xaa\x55'
	run -1 --separate-stderr $T chr-tail c.q.zst
	[[ "$stderr" =~ ^chr-tail:\ c.q.zst:\ byte\ 0:\ frame\ 0:\  ]]
	# the chronicle table (its crc) and the seek table (sizes)
	cp s.q.zst c.q.zst
	poke c.q.zst $((n - 17 - 8 - 30)) '\x01'
	run -1 --separate-stderr $T chr-tail c.q.zst
	[[ "$stderr" =~ ^chr-tail:\ c.q.zst:\ byte\ [0-9]+:\ bad\ chronicle\ table\ crc$ ]]
	cp s.q.zst c.q.zst
	poke c.q.zst $((n - 17 - 8)) '\x07'
	run -1 --separate-stderr $T chr-tail c.q.zst
	[[ "$stderr" =~ ^chr-tail:\ c.q.zst:\ byte\ [0-9]+:\ frame\ sizes\ add\ up\ to ]]
	# a plain zstd file is not a compressed segment
	zstd -q -c s.q >plain.zst
	run -1 --separate-stderr $T chr-tail plain.zst
	assert_equal "$stderr" "chr-tail: plain.zst: byte $(($(stat -c %s plain.zst) - 4)): no zstd seek table at the end (not a compressed segment)"
	# nor is compressed data on stdin
	run -1 --separate-stderr $T chr-tail <s.q.zst
	assert_equal "$stderr" "chr-tail: stdin: byte 0: zstd-compressed data (give a compressed segment by its path, or decompress it with zstd -d)"
}

@test "a bad segment is not compressed" {
	gen stream 5 $TS0 0 0 >s.q
	poke s.q 100 '\x01'
	run -1 --separate-stderr zsq s.q s.q.zst
	assert_equal "$stderr" "t-zsq: s.q: byte 64: bad crc"
}

@test "a reader closing early ends chr-tail quietly" {
	make_part
	zsq $P/000000000.q 0.q.zst
	run -0 --separate-stderr bash -c "$T chr-tail 0.q.zst | head -c 100 | wc -c"
	assert_output 100
	assert_equal "$stderr" ""
}

@test "a segment of many frames reads as its .q, and a corrupt frame past the first few is reported at its offset" {
	# the day in one segment: ten frames, decoded ahead after the first few
	$T chr-csv2ev "$DATA/binance-futures_incremental_book_L2_BTCUSDT_2024-08-08.csv.gz" |
		$T chr-sink --archive A -S 64M
	zsq $P/000000000.q s.q.zst
	run -0 zstd -l s.q.zst
	[[ "${lines[1]}" =~ ^\ +([0-9]+)\ +2\  ]] && [ "${BASH_REMATCH[1]}" -ge 8 ]
	$T chr-tail $P/000000000.q >want.q
	$T chr-tail s.q.zst | cmp - want.q
	$T chr-tail --format csv $P/000000000.q >want.csv
	$T chr-tail --format csv s.q.zst | cmp - want.csv
	# a reader that stops early, the decoding thread at work
	run -0 --separate-stderr bash -c "$T chr-tail s.q.zst | head -c 5000000 | wc -c"
	assert_output 5000000
	assert_equal "$stderr" ""
	# a corrupt frame halfway: the records of the frames before it, then
	# the frame's offset and number
	n=$(stat -c %s s.q.zst)
	cp s.q.zst c.q.zst
	poke c.q.zst $((n / 2)) '\x55\xaa\x55\xaa'
	run -1 --separate-stderr bash -c "$T chr-tail c.q.zst >got.q"
	[[ "$stderr" =~ ^chr-tail:\ c.q.zst:\ byte\ [0-9]+:\ frame\ ([0-9]+):\  ]]
	[ "${BASH_REMATCH[1]}" -ge 3 ]
	[ "$(stat -c %s got.q)" -gt 0 ]
	[ "$(stat -c %s got.q)" -lt "$(stat -c %s want.q)" ]
	head -c "$(stat -c %s got.q)" want.q | cmp - got.q
}
