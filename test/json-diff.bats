#!/usr/bin/env bats
# common/json.c against jansson (test/unit/t-jsondiff.c): every line of
# every capture in test/data and hand-made hostile lines, accepted or
# refused alike, and the same tree when accepted.

load test_helper

DIFF="$BUILD/test/unit/t-jsondiff"

@test "json.c and jansson agree on every line of every capture" {
	zcat "$DATA/binance-futures_BTCUSDT_2024-08-08_raw_capture.txt.gz" >cap.txt
	run -0 $T "$DIFF" -c cap.txt "$DATA"/feed/*.txt
	assert_output "t-jsondiff: 93973 texts: 93973 accepted by both, 0 refused by both, 0 numbers past jansson's range, 0 differences"
}

@test "json.c and jansson agree on hostile lines: escapes, surrogates, UTF-8, numbers, nesting, truncation" {
	run -0 $T "$DIFF" "$DATA/json-hostile.txt"
	assert_output "t-jsondiff: 163 texts: 56 accepted by both, 95 refused by both, 12 numbers past jansson's range, 0 differences"
	# and the built-in ones: NUL bytes, every prefix of a message, 2047 to 2050 levels
	run -0 $T "$DIFF"
	assert_output --regexp "^t-jsondiff: [0-9]+ texts: .* 0 differences$"
}

@test "a number past jansson's range is counted apart, not as a difference" {
	# RFC 8259 sets no range; jansson refuses integers past 64 bits
	printf '[18446744073709551616]\n[1]\n' >n.txt
	run -0 $T "$DIFF" n.txt
	assert_output "t-jsondiff: 2 texts: 1 accepted by both, 0 refused by both, 1 numbers past jansson's range, 0 differences"
}
