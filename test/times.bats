#!/usr/bin/env bats
# Times in options (docs/programs.md, "Times"): ISO 8601 with Z or an
# offset, a date, integers since the epoch with a unit or 10/13/16/19
# digits; every other integer, and a sign, refused with exit 2. chr-tail
# --from/--until, chr-book --at and chr-tier --now read them alike.

load test_helper

# 2024-08-08T23:58:00Z, in the middle of the trades sample's 6 minutes
S=1723161480

setup() {
	cd "$BATS_TEST_TMPDIR" || return 1
	$T chr-csv2ev "$DATA/binance-futures_trades_BTCUSDT_2024-08-08.csv.gz" >t.ev
}

@test "--from: seconds, ms, us, ns (bare or with a unit) and ISO 8601 select the same records" {
	$T chr-tail --format json --from 2024-08-08T23:58:00Z t.ev >iso.json
	all=$($T chr-tail --format json t.ev | wc -l)
	n=$(wc -l <iso.json)
	[ "$n" -gt 1000 ] && [ "$n" -lt "$((all - 1000))" ]
	for w in $S ${S}000 ${S}000000 ${S}000000000 ${S}s ${S}000ms ${S}000000us \
		${S}000000000ns 2024-08-09T01:58:00+02:00 2024-08-08T20:28-03:30; do
		$T chr-tail --format json --from "$w" t.ev | cmp - iso.json
	done
}

@test "--until: the same rule, half-open" {
	$T chr-tail --format json --until 2024-08-08T23:58:00Z t.ev >iso.json
	[ "$(wc -l <iso.json)" -gt 1000 ]
	$T chr-tail --format json --until $S t.ev | cmp - iso.json
	$T chr-tail --format json --until ${S}000ms t.ev | cmp - iso.json
	$T chr-tail --format json --from ${S}000000 --until ${S}000000us t.ev >none.json
	[ "$(grep -vc '"DEFINE"' none.json)" = 0 ]
}

@test "a bare integer of another length, a sign or an unknown unit is exit 2 saying how to write it" {
	for w in 172316148012 17231614 0 1723161480000000000000; do
		run -2 --separate-stderr $T chr-tail --from "$w" t.ev
		[ -z "$output" ]
		[[ "${stderr_lines[0]}" == "chr-tail: --from '$w' is not a time: "* ]]
	done
	run -2 --separate-stderr $T chr-tail --until 172316148012 t.ev
	[[ "${stderr_lines[0]}" == *"10 s, 13 ms, 16 us, 19 ns"*"1723161450s"* ]]
	run -2 --separate-stderr $T chr-tail --from=-$S t.ev
	[[ "${stderr_lines[0]}" == "chr-tail: --from '-$S' is not a time: "*"signed"* ]]
	run -2 --separate-stderr $T chr-tail --from ${S}min t.ev
	[[ "${stderr_lines[0]}" == *"the unit of an integer is s, ms, us or ns" ]]
	run -2 --separate-stderr $T chr-tail --from 2024-08-08T23:58:00+0200 t.ev
	[ "${stderr_lines[0]}" = "chr-tail: --from '2024-08-08T23:58:00+0200' is not a time: an offset is +hh:mm or -hh:mm, with the colon" ]
	run -2 --separate-stderr $T chr-book --at 2024-08-08+02:00 t.ev
	[ "${stderr_lines[0]}" = "chr-book: --at '2024-08-08+02:00' is not a time: a date alone is a UTC midnight: it takes no offset" ]
	run -2 --separate-stderr $T chr-tail --from 2024-08-08T23:61 t.ev
	[[ "${stderr_lines[0]}" == "chr-tail: --from '2024-08-08T23:61' is not a time: an ISO 8601 time is YYYY-MM-DD"* ]]
	run -2 --separate-stderr $T chr-book --at 172316148012 t.ev
	[[ "${stderr_lines[0]}" == "chr-book: --at '172316148012' is not a time: a bare integer"* ]]
	run -2 --separate-stderr $T chr-tier --root . --now 172316148012 --once
	[[ "${stderr_lines[0]}" == "chr-tier: --now '172316148012' is not a time: a bare integer"* ]]
}

@test "chr-book --at: seconds and ms are the ISO time's book" {
	gzip -cd "$DATA/binance-futures_incremental_book_L2_BTCUSDT_2024-08-08.csv.gz" |
		$T chr-csv2ev >l2.ev
	$T chr-book --at 2024-08-08T23:58:00Z --depth 3 --format json l2.ev >iso.json
	grep -q '"BOOK_SNAPSHOT"' iso.json
	$T chr-book --at $S --depth 3 --format json l2.ev | cmp - iso.json
	$T chr-book --at ${S}000 --depth 3 --format json l2.ev | cmp - iso.json
}

@test "chr-tier --now: seconds since the epoch are the date's time" {
	$T chr-sink --archive R <t.ev
	# 2024-08-11: the sample's day is three days old
	$T chr-tier --root R --warm W --warm-after 2d --now 2024-08-11 --once -n 2>iso.txt
	grep -q "2024-08-08" iso.txt
	$T chr-tier --root R --warm W --warm-after 2d --now 1723334400 --once -n 2>&1 | cmp - iso.txt
	$T chr-tier --root R --warm W --warm-after 2d --now 1723334400000ms --once -n 2>&1 |
		cmp - iso.txt
}

@test "--date takes a date alone" {
	$T chr-sink --archive R <t.ev
	run -0 $T chr-tail --archive R --venue binance-futures --symbol BTCUSDT --stream trade \
		--date 2024-08-08 --format text --limit 1
	for d in 2024-08-08Z 1723075200 2024-08-08T00:00; do
		run -2 --separate-stderr $T chr-tail --archive R --venue binance-futures \
			--symbol BTCUSDT --stream trade --date "$d"
		[ "${stderr_lines[0]}" = "chr-tail: --date '$d' is not a date YYYY-MM-DD" ]
	done
}
