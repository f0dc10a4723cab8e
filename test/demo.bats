# demo.bats - `make demo` (scripts/demo) imports the bundled sample, reads
# it back and says what its output means.
load test_helper

@test "the demo runs in any directory and explains seq, src_seq, flags and the extra DEFINE record" {
	# the demo of the checkout under test (CHR_BUILD may be another one)
	demo=$BUILD/scripts/demo
	[ -x "$demo" ] || demo=$TOP/scripts/demo
	run -0 --separate-stderr $T "$demo"
	[ -d demo-archive/v1/binance-futures/BTCUSDT/2024-08-08/trade ]
	assert_line --regexp '^2024-08-08T23:54:15\.088176000Z DEFINE binance-futures BTCUSDT seq=0 src_seq=0 '
	assert_line --regexp ' TRADE binance-futures BTCUSDT seq=1 src_seq=1 flags=LAST '
	assert_line --partial "seq: the record's place in this stream, from 0; src_seq: its place"
	assert_line --partial "flags: LAST ends"
	assert_line --partial "SYNTHETIC marks a record chronicle made"
	# 21313 trade rows, 21314 records: the explanation follows the counts
	assert_line --regexp '^ +21314  v1/binance-futures/BTCUSDT/2024-08-08/trade/$'
	assert_line --partial "one record more than the file has rows"
	assert_line --partial "the DEFINE record at seq 0 that names the instrument"
	assert_line --regexp '^2024-08-08T23:57:00\.000000000Z BOOK_SNAPSHOT .* flags=SYNTHETIC '
}
