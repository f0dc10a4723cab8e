#!/usr/bin/env bats
# chr-tail's views for tools: JSON lines that pandas reads as one table (no
# DEFINE lines unless --type asks for them), CSV of one dataset under one
# header (a second dataset is refused, not a header mid-file), and a man
# page that says no more than is true.

load test_helper

setup() {
	cd "$BATS_TEST_TMPDIR" || return 1
	$T chr-csv2ev "$DATA/binance-futures_trades_BTCUSDT_2024-08-08.csv.gz" >t.ev
	$T chr-csv2ev "$DATA/binance-futures_quotes_BTCUSDT_2024-08-08.csv.gz" >q.ev
}

# frame FILE: pandas.read_json(FILE, lines=True), its rows, type names and
# column dtypes, one a line (Debian's python3 with python3-pandas)
frame() {
	/usr/bin/python3 - "$1" <<'EOF'
import sys
import pandas as pd
d = pd.read_json(sys.argv[1], lines=True)
print("rows", len(d))
print("types", ",".join(sorted(set(d["type_name"]))))
for c in d.columns:
    print(c, d[c].dtype)
EOF
}

@test "json: pandas reads a real trade stream as one table with integer ids and seqs" {
	/usr/bin/python3 -c 'import pandas' || {
		echo "python3-pandas is missing: scripts/install-deps installs it" >&2
		return 1
	}
	$T chr-tail --format json t.ev >t.json
	run -0 frame t.json
	n=$($T chr-tail --format text --type trade t.ev | wc -l)
	[ "$n" -gt 20000 ]
	assert_line "rows $n"
	assert_line "types TRADE"
	for c in seq ts ts_event src_seq id venue market; do
		assert_line "$c int64"
	done
	assert_line "symbol object"
	assert_line "venue_name object"
	refute_line --partial define_
	refute_line --partial scale_hint
	# the same for quotes, and for both merged by ts
	$T chr-tail --format json q.ev t.ev >qt.json
	run -0 frame qt.json
	assert_line "types QUOTE,TRADE"
	assert_line "seq int64"
	refute_line --partial define_
}

@test "json: DEFINE lines when --type asks for them" {
	run -0 $T chr-tail --format json --limit 1 t.ev
	[ "${#lines[@]}" = 1 ]
	[[ ${lines[0]} == *'"type_name":"TRADE"'* ]]
	run -0 $T chr-tail --format json --type define t.ev
	[ "${#lines[@]}" = 1 ]
	[[ ${lines[0]} == *'"type_name":"DEFINE"'*'"define_symbol":"BTCUSDT"'* ]]
	run -0 $T chr-tail --format json --type define,trade --limit 1 t.ev
	[ "${#lines[@]}" = 2 ]
	[[ ${lines[0]} == *'"type_name":"DEFINE"'* ]]
	[[ ${lines[1]} == *'"type_name":"TRADE"'*'"symbol":"BTCUSDT"'* ]]
	# text still shows them
	run -0 $T chr-tail --format text --limit 1 t.ev
	[[ ${lines[0]} == *" DEFINE "* ]]
}

@test "csv: two datasets are refused where the second header line would be" {
	run -2 --separate-stderr $T chr-tail --format csv t.ev q.ev
	[ "$(printf '%s\n' "$output" | grep -c '^exchange,symbol,timestamp')" = 1 ]
	# the first record is a quote: quotes rows until the first trade
	[ "${lines[0]}" = "exchange,symbol,timestamp,local_timestamp,ask_amount,ask_price,bid_price,bid_amount" ]
	[ "${#lines[@]}" -gt 1 ]
	[[ $stderr == "chr-tail: 2024-08-08T23:54:15.088176000Z seq 1: a TRADE record after quotes rows: "*"one Tardis dataset"*"--type"* ]]
	[ "$(printf '%s\n' "$output" | awk -F, 'NF != 8' | wc -l)" = 0 ]
	# one type selected: the whole stream, one header
	run -0 $T chr-tail --format csv --type quote t.ev q.ev
	[ "$(printf '%s\n' "$output" | grep -c '^exchange,symbol,timestamp')" = 1 ]
	[ "${#lines[@]}" = "$(($(gzip -cd "$DATA/binance-futures_quotes_BTCUSDT_2024-08-08.csv.gz" | wc -l)))" ]
}

@test "csv: chr-book --at --depth 0 is refused (a book_snapshot_N has N levels), not empty" {
	gzip -cd "$DATA/binance-futures_incremental_book_L2_BTCUSDT_2024-08-08.csv.gz" |
		$T chr-csv2ev >l2.ev
	run -2 --separate-stderr $T chr-book --at 2024-08-08T23:58:00Z --depth 0 --format csv l2.ev
	[ -z "$output" ]
	[[ ${stderr_lines[0]} == "chr-book: --format csv writes book_snapshot_N rows: --at needs a --depth of at least 1" ]]
	run -0 $T chr-book --at 2024-08-08T23:58:00Z --depth 2 --format csv l2.ev
	[ "${#lines[@]}" = 2 ]
	[[ ${lines[0]} == exchange,symbol,timestamp,local_timestamp,asks\[0\].price* ]]
}

@test "the man page's BUGS section names nothing that works" {
	# the page beside the programs tested (an in-place build), else the source's
	local page="$BUILD/bin/chr-tail/chr-tail.1"
	[ -f "$page" ] || page="$TOP/bin/chr-tail/chr-tail.1"
	run -0 man -l "$page"
	[[ "$output" != *"not implemented"* ]]
	# compressed segments and --from-snapshot, both read
	$T chr-sink --archive A <t.ev
	$T chr-tier --root A --cold C --cold-after 1d --zstd --now 2024-08-20 --once 2>/dev/null
	ls C/v1/binance-futures/BTCUSDT/2024-08-08/trade/*.q.zst >/dev/null
	run -0 $T chr-tail --archive A --venue binance-futures --symbol BTCUSDT --stream trade \
		--from 2024-08-08T23:58:00Z --from-snapshot --format text --limit 1
	[ "${#lines[@]}" = 2 ]
}
