#!/usr/bin/env bats
# chr-book --at T where the data does not reach T: after the data ends, in
# a hole of the capture, before any record. The book as of its last record
# is written (exit 0), with a warning that says how long before T that
# record was, and the age in the text and JSON output.

load test_helper

setup() {
	cd "$BATS_TEST_TMPDIR" || return 1
	# the real L2 capture: 2024-08-08T23:54:15Z to 23:59:59.8Z
	gzip -cd "$DATA/binance-futures_incremental_book_L2_BTCUSDT_2024-08-08.csv.gz" |
		$T chr-csv2ev >l2.ev
}

# field NAME: the value of NAME in the JSON line $output
field() {
	printf '%s\n' "$output" | python3 -c 'import json, sys; print(json.loads(sys.stdin.read())[sys.argv[1]])' "$1"
}

@test "T after the data ends: the last book, stale by how long, on stderr and in JSON and text" {
	run -0 --separate-stderr $T chr-book --at 2024-08-09T02:00:00Z --depth 1 --format json l2.ev
	[ "$stderr" = "chr-book: binance-futures BTCUSDT: the book at 2024-08-09T02:00:00.000000000Z is stale: 2h after its last record" ]
	[ "$(field stale)" = True ]
	[ "$(field last_time)" = 2024-08-08T23:59:59.833492000Z ]
	[ "$(field stale_ns)" = $((1723168800000000000 - $(field last_ts))) ]
	run -0 --separate-stderr $T chr-book --at 2024-08-09T02:00:00Z --depth 1 --format text l2.ev
	[[ $output == *" flags=SYNTHETIC last=2024-08-08T23:59:59.833492000Z (2h before, stale) ids="* ]]
	# -q: no warning, the marks stay
	run -0 --separate-stderr $T chr-book -q --at 2024-08-09T02:00:00Z --depth 1 --format json l2.ev
	[ -z "$stderr" ]
	[ "$(field stale)" = True ]
}

@test "T inside the data: no warning, the book's age in the output" {
	run -0 --separate-stderr $T chr-book --at 2024-08-08T23:58:00Z --depth 1 --format json l2.ev
	[ -z "$stderr" ]
	[ "$(field stale)" = False ]
	[ "$(field last_time)" = 2024-08-08T23:57:59.969571000Z ]
	[ "$(field stale_ns)" = 30429000 ]
	run -0 --separate-stderr $T chr-book --at 2024-08-08T23:58:00Z --depth 1 --format text l2.ev
	[[ $output == *" last=2024-08-08T23:57:59.969571000Z (30ms 429us before) ids="* ]]
	# the stream ending right before T (chr-tail --until T) is no staleness
	run -0 --separate-stderr sh -c "chr-tail --until 2024-08-08T23:58:00Z l2.ev |
		chr-book --at 2024-08-08T23:58:00Z --depth 1 --format json"
	[ -z "$stderr" ]
}

@test "T in a hole of the capture: stale; --stale sets the limit" {
	{
		$T chr-tail --until 2024-08-08T23:56:00Z l2.ev
		$T chr-tail --from 2024-08-08T23:59:00Z --type book l2.ev
	} >hole.ev
	run -0 --separate-stderr $T chr-book --at 2024-08-08T23:58:00Z --depth 1 --format json hole.ev
	[ "$stderr" = "chr-book: binance-futures BTCUSDT: the book at 2024-08-08T23:58:00.000000000Z is stale: 2m after its last record" ]
	[ "$(field stale)" = True ]
	# --stale: the limit is the caller's
	run -0 --separate-stderr $T chr-book --at 2024-08-08T23:58:00Z --stale 5m --depth 1 --format json hole.ev
	[ -z "$stderr" ]
	[ "$(field stale)" = False ]
	run -0 --separate-stderr $T chr-book --at 2024-08-08T23:58:00Z --stale 1s --depth 1 --format json l2.ev
	[ -z "$stderr" ]
	run -0 --separate-stderr $T chr-book --at 2024-08-08T23:58:00Z --stale 10ms --depth 1 --format json l2.ev
	[[ $stderr == *"is stale: 30ms 429us after its last record" ]]
	run -2 --separate-stderr $T chr-book --bbo --stale 1s l2.ev
	[ "${stderr_lines[0]}" = "chr-book: --stale goes with --at" ]
	run -2 --separate-stderr $T chr-book --at 2024-08-08 --stale soon l2.ev
	[ "${stderr_lines[0]}" = "chr-book: --stale 'soon' is not a duration" ]
}

@test "T before any record, or no book record at all: no book, and why" {
	run -0 --separate-stderr $T chr-book --at 2024-08-08 --format json l2.ev
	[ -z "$output" ]
	[ "$stderr" = "chr-book: no book at 2024-08-08T00:00:00.000000000Z: it is 23h 54m before the first record" ]
	run -0 --separate-stderr $T chr-book --at 2024-08-08 --format json </dev/null
	[ "$stderr" = "chr-book: no book at 2024-08-08T00:00:00.000000000Z: the input holds no book record" ]
	# before the first snapshot: the book is not known
	drop l2.ev 0 0x10 >nosnap.ev
	run -0 --separate-stderr $T chr-book --at 2024-08-08T23:56:00Z --format json nosnap.ev
	[ -z "$output" ]
	[[ $stderr == *"chr-book: binance-futures BTCUSDT: the book is not known at that time"* ]]
}
