#!/usr/bin/env bats
# chr-csv2ev: Tardis CSV -> records. Records are checked with the test tool
# test/unit/t-tardis (dump: one line per record; csv: back to Tardis CSV).

load test_helper

TT="$BUILD/test/unit/t-tardis"	# make check builds it before the suites
L2="$DATA/binance-futures_incremental_book_L2_BTCUSDT_2024-08-08.csv.gz"
TR="$DATA/binance-futures_trades_BTCUSDT_2024-08-08.csv.gz"
QU="$DATA/binance-futures_quotes_BTCUSDT_2024-08-08.csv.gz"
H_L2="exchange,symbol,timestamp,local_timestamp,is_snapshot,side,price,amount"
H_TR="exchange,symbol,timestamp,local_timestamp,id,side,price,amount"

need_tt() {
	[ -x "$TT" ] || fail "$TT is not built (make check builds it)"
}

# record types, with LAST when flagged
kinds() {
	"$TT" dump | awk '{ print ($2 == "LAST") ? $1 " LAST" : $1 }'
}
export TT
export -f kinds

# every real sample but the damaged one
samples() {
	ls "$DATA"/*.csv "$DATA"/*.csv.gz | grep -v corrupt_
}

# decimals in shortest form, so that "50000.0" equals "50000"
norm() {
	awk -F, -v OFS=, '{ for (i = 1; i <= NF; i++) if ($i ~ /^-?[0-9]+\.[0-9]+$/) { sub(/0+$/, "", $i); sub(/\.$/, "", $i) } print }'
}

@test "-h prints the usage on stdout, --version the version" {
	run -0 --separate-stderr $T chr-csv2ev -h
	[[ "$output" == "usage: chr-csv2ev [-t TYPE] [--venue NAME]"* ]]
	[ -z "$stderr" ]
	run -0 $T chr-csv2ev --help
	run -0 $T chr-csv2ev --version
	[[ "$output" == "chr-csv2ev "* ]]
}

@test "misuse exits 2" {
	run -2 --separate-stderr $T chr-csv2ev --bogus
	[ "${stderr_lines[0]}" = "chr-csv2ev: unknown option '--bogus'" ]
	run -2 --separate-stderr $T chr-csv2ev -t book_snapshot_x
	[ "${stderr_lines[0]}" = "chr-csv2ev: unknown dataset 'book_snapshot_x'" ]
	run -2 $T chr-csv2ev -t
	run -2 $T chr-csv2ev --venue ''
}

@test "--venue takes 1 to 31 bytes that can be a path component" {
	need_tt
	v31=$(printf 'v%.0s' {1..31})
	run -2 --separate-stderr $T chr-csv2ev --venue "${v31}v" "$TR"
	[ "${stderr_lines[0]}" = "chr-csv2ev: venue '${v31}v': name longer than 31 bytes" ]
	run -2 --separate-stderr $T chr-csv2ev --venue a/b "$TR"
	[ "${stderr_lines[0]}" = "chr-csv2ev: venue 'a/b': name contains a path separator" ]
	run -2 --separate-stderr $T chr-csv2ev --venue 'a b' "$TR"
	[ "${stderr_lines[0]}" = "chr-csv2ev: venue 'a b': name contains a space, control or non-ASCII byte" ]
	run -2 $T chr-csv2ev --venue .. "$TR"
	run -0 bash -c "set -o pipefail; $T chr-csv2ev --venue $v31 '$DATA/bitmex_trades_XBTUSD.csv' | $TT dump | head -1"
	[[ "$output" == "DEFINE "*" $v31 XBTUSD" ]]
	# the exchange column likewise: a DEFINE keeps the venue NUL-terminated
	printf '%s\n%s\n' "$H_TR" "${v31}v,S,1,2,a,buy,1,1" > t.csv
	run -1 --separate-stderr $T chr-csv2ev t.csv
	[ "$stderr" = "chr-csv2ev: t.csv:2: exchange '${v31}v' is longer than 31 bytes" ]
	printf '%s\n%s\n' "$H_TR" "$v31,S,1,2,a,buy,1,1" > t.csv
	run -0 bash -c "set -o pipefail; $T chr-csv2ev t.csv | $TT dump | head -1"
	[[ "$output" == "DEFINE "*" $v31 S" ]]
}

@test "an unreadable file exits 3, the other files are still converted" {
	need_tt
	run -3 --separate-stderr bash -c "set -o pipefail; $T chr-csv2ev nosuch.csv '$DATA/bitmex_trades_XBTUSD.csv' | $TT dump"
	[ "$stderr" = "chr-csv2ev: cannot open 'nosuch.csv': No such file or directory" ]
	[ "$(grep -c '^TRADE' <<<"$output")" -eq 10 ]
	mkdir d
	run -3 --separate-stderr $T chr-csv2ev d
	[ "$stderr" = "chr-csv2ev: d: read error: Is a directory" ]
}

@test "empty input: no records, exit 0; a header alone: no records" {
	run -0 --separate-stderr bash -c ": | $T chr-csv2ev | wc -c"
	[ "$output" = 0 ]
	[ -z "$stderr" ]
	: > empty.csv
	run -0 bash -c "$T chr-csv2ev empty.csv empty.csv | wc -c"
	[ "$output" = 0 ]
	echo "$H_TR" > h.csv
	run -0 bash -c "$T chr-csv2ev h.csv | wc -c"
	[ "$output" = 0 ]
	gzip -c < empty.csv > e.gz
	run -0 bash -c "$T chr-csv2ev e.gz | wc -c"
	[ "$output" = 0 ]
}

@test "incremental_book_L2: DEFINE first, records, events and LAST flags as the rules say" {
	need_tt
	$T chr-csv2ev "$L2" | $TT dump > d.txt
	head -1 d.txt | grep -q '^DEFINE seq=0 src=0 .* binance-futures BTCUSDT$'
	[ "$(grep -c '^DEFINE' d.txt)" -eq 1 ]
	[ "$(grep -c '^BOOK_SNAPSHOT' d.txt)" -eq 1 ]
	sed -n 2p d.txt | grep -q '^BOOK_SNAPSHOT LAST .* ps=1 ss=3 uid=1/1/0 nb=1000 na=1000 2909@618002'
	# an independent count of records and events from the rows
	zcat "$L2" | awk -F, 'NR > 1 {
		if ($4 != lts || $3 != ts || $5 != snap || ($5 == "false" && $6 == "bid" && ask)) { recs++; ask = 0 }
		if ($4 != lts) events++
		if ($6 == "ask") ask = 1
		lts = $4; ts = $3; snap = $5 }
		END { print recs, events }' > want
	echo "$(grep -c '^BOOK_' d.txt) $(grep -c ' LAST ' d.txt)" > got
	diff want got
	# the last record of the stream ends its event; seq counts every record
	tail -1 d.txt | grep -q '^BOOK_DIFF LAST '
	[ "$(awk '{ sub("seq=", "", $0); print }' d.txt | wc -l)" -eq "$(wc -l < d.txt)" ]
	n=$(wc -l < d.txt)
	tail -1 d.txt | grep -q " seq=$((n - 1)) src=$((n - 1)) "
}

@test "trades, quotes, book_snapshot_N: one record a row, LAST at the end of each event" {
	need_tt
	$T chr-csv2ev "$TR" | $TT dump > t.txt
	rows=$(zcat "$TR" | tail -n +2 | wc -l)
	events=$(zcat "$TR" | tail -n +2 | cut -d, -f4 | uniq | wc -l)
	[ "$(grep -c '^TRADE' t.txt)" -eq "$rows" ]
	[ "$(grep -c '^TRADE LAST' t.txt)" -eq "$events" ]
	sed -n 2p t.txt | grep -q '^TRADE .*ts=1723161255088176000 ev=1723161256322000000 .* ps=1 ss=3 px=618003 sz=6 side=1 id=5266583935$'
	$T chr-csv2ev "$QU" | $TT dump > q.txt
	[ "$(grep -c '^QUOTE' q.txt)" -eq "$(zcat "$QU" | tail -n +2 | wc -l)" ]
	sed -n 2p q.txt | grep -q 'ps=1 ss=3 bid=618002/2507 ask=618003/2510$'
	$T chr-csv2ev "$DATA/binance-futures_book_snapshot_25_BTCUSDT.csv" | $TT dump > b.txt
	[ "$(grep -c '^BOOK_TOPN LAST .* uid=0/0/0 nb=25 na=25 ' b.txt)" -eq 10 ]
	sed -n 2p b.txt | grep -q 'ps=2 ss=3 .* 10896@1165707 200@1165697'
	$T chr-csv2ev "$DATA/bitmex_trades_XBTUSD.csv" | $TT dump > x.txt
	sed -n 3p x.txt | grep -q '^TRADE .*side=2 id=b46c84da-6942-b404-ab94-18a9ad497fdd$'
	sed -n 3p x.txt | grep -qv LAST
	[ "$(grep -c '^TRADE LAST' x.txt)" -eq "$(tail -n +2 "$DATA/bitmex_trades_XBTUSD.csv" | cut -d, -f4 | uniq | wc -l)" ]
}

@test "a snapshot of asks only; the synthetic file with two snapshots" {
	need_tt
	$T chr-csv2ev "$DATA/deribit_incremental_book_L2_BTC-PERPETUAL.csv" | $TT dump > d.txt
	[ "$(wc -l < d.txt)" -eq 2 ]
	sed -n 2p d.txt | grep -q '^BOOK_SNAPSHOT LAST .* ps=1 ss=0 uid=1/1/0 nb=0 na=15 18640@64215'
	$T chr-csv2ev "$DATA/synthetic_incremental_book_L2_two_snapshots.csv" | kinds > s.txt
	printf '%s\n' DEFINE "BOOK_SNAPSHOT LAST" "BOOK_DIFF LAST" "BOOK_DIFF LAST" "BOOK_DIFF LAST" \
		"BOOK_SNAPSHOT LAST" "BOOK_DIFF LAST" "BOOK_DIFF LAST" > want
	diff want s.txt
	$T chr-csv2ev "$DATA/synthetic_incremental_book_L2_two_snapshots.csv" | $TT dump > s.txt
	sed -n 2p s.txt | grep -q 'ps=1 ss=1 uid=1/1/0 nb=1 na=1 10@500000 20@500010$'
	sed -n 5p s.txt | grep -q 'uid=4/4/3 nb=1 na=0 0@499980$'
}

@test "rows before the first snapshot are skipped and counted in a warning; a continued snapshot is a diff" {
	need_tt
	{ echo "$H_L2"
	  echo "x,S,1,10,false,bid,1,1"
	  echo "x,S,1,10,false,ask,2,1"
	  echo "x,S,2,20,true,bid,1.5,1"
	  echo "x,S,2,21,true,ask,2,1"
	  echo "x,S,3,30,false,bid,1.5,0"; } > in.csv
	run -0 --separate-stderr bash -c "set -o pipefail; $T chr-csv2ev in.csv | kinds"
	[ "$stderr" = "chr-csv2ev: in.csv: skipped 2 rows of x S before its first snapshot" ]
	[ "$output" = "$(printf '%s\n' DEFINE "BOOK_SNAPSHOT LAST" "BOOK_DIFF LAST" "BOOK_DIFF LAST")" ]
}

@test "an event mixing snapshot and diff rows: one record per run, in order, LAST on the last" {
	need_tt
	{ echo "$H_L2"
	  echo "x,S,1,10,true,bid,1,1"
	  echo "x,S,1,10,true,ask,2,1"
	  echo "x,S,2,20,false,bid,1,3"
	  echo "x,S,2,20,true,bid,1.5,1"
	  echo "x,S,2,20,true,ask,2.5,1"
	  echo "x,S,2,20,false,ask,2.5,4"; } > in.csv
	run -0 bash -c "set -o pipefail; $T chr-csv2ev in.csv | kinds"
	# the diff before the second snapshot is kept and then reset by it
	[ "$output" = "$(printf '%s
' DEFINE "BOOK_SNAPSHOT LAST" BOOK_DIFF BOOK_SNAPSHOT "BOOK_DIFF LAST")" ]
	# every row comes back, is_snapshot and order included
	run -0 bash -c "set -o pipefail; $T chr-csv2ev in.csv | chr-tail --format csv"
	[ "$output" = "$(cat in.csv)" ]
}

# bad rows: the row, then the message after "chr-csv2ev: in.csv:3: "
BAD_ROWS=(
	"x,S,1,2,true,bid,1|row has 7 columns, expected 8"
	"x,S,1,2,true,bid,1,1,1|row has 9 columns, expected 8"
	"x,S,1,2,true,bid,6O000.1,1|price '6O000.1' is not a decimal"
	"x,S,1,2,true,bid,1,abc|amount 'abc' is not a decimal"
	"x,S,1,2,true,bid,,1|price is empty"
	"x,S,1,2,true,buy,1,1|side 'buy' is not bid or ask"
	"x,S,1,2,maybe,bid,1,1|is_snapshot 'maybe' is not true or false"
	"x,S,1x,2,true,bid,1,1|timestamp '1x' is not an integer"
	"x,S,1,,true,bid,1,1|local_timestamp '' is not an integer"
	"x,S,1,2,true,bid,99999999999999999999,1|price '99999999999999999999' is out of range"
	"x,S,1,2,true,bid,\"1,1|malformed quotes"
	"|empty line"
)

@test "each kind of bad row: file:line, the reason, exit 1, records before it written" {
	need_tt
	for fast in "" --no-fast-path; do
		for c in "${BAD_ROWS[@]}"; do
			printf '%s\n%s\n%s\n%s\n' "$H_L2" "x,S,1,2,true,bid,1,1" "${c%%|*}" "x,S,1,2,true,bid,2,1" > in.csv
			run -1 --separate-stderr bash -c "set -o pipefail; $T chr-csv2ev $fast in.csv | kinds"
			[ "$stderr" = "chr-csv2ev: in.csv:3: ${c#*|}" ] || { echo "$fast $c: $stderr"; false; }
			[ "$output" = "$(printf '%s\n' DEFINE "BOOK_SNAPSHOT LAST")" ]
		done
	done
	# trades: side and id
	printf '%s\n%s\n' "$H_TR" "x,S,1,2,a,bid,1,1" > t.csv
	run -1 --separate-stderr $T chr-csv2ev t.csv
	[ "$stderr" = "chr-csv2ev: t.csv:2: side 'bid' is not buy, sell or unknown" ]
	printf '%s\n%s\n' "$H_TR" "x,S,1,2,$(printf 'a%.0s' {1..41}),buy,1,1" > t.csv
	run -1 --separate-stderr $T chr-csv2ev t.csv
	[[ "$stderr" == "chr-csv2ev: t.csv:2: trade id 'aaaa"*"' is longer than 40 bytes" ]]
	# on stdin
	run -1 --separate-stderr bash -c "$T chr-csv2ev < t.csv > /dev/null"
	[[ "$stderr" == "chr-csv2ev: stdin:2: trade id "* ]]
}

@test "a CR inside a row is a bad row on both paths; NUL bytes too, shown escaped" {
	need_tt
	for fast in "" --no-fast-path; do
		for row in $'\rx,S,1,2,a,buy,1,1' $'x,S,1,2,a,buy,1,1\r\r' $'x,S,1,2,"a\r",buy,1,1' \
			   $'x,S,1,2,a\r,buy,1,1' $'x,S,1,2,a,buy,1,1\rx,S,1,2,b,buy,1,1'; do
			printf '%s\n%s\n%s\n' "$H_TR" "x,S,1,2,z,buy,1,1" "$row" > t.csv
			run -1 --separate-stderr bash -c "set -o pipefail; $T chr-csv2ev $fast t.csv | kinds"
			[ "$stderr" = "chr-csv2ev: t.csv:3: stray carriage return in the row" ]
			[ "$output" = "$(printf '%s\n' DEFINE "TRADE LAST")" ]
		done
		# 16 NUL bytes are not timestamp 0
		{ echo "$H_TR"; printf 'x,S,'; head -c 16 /dev/zero; echo ',2,a,buy,1,1'; } > n.csv
		run -1 --separate-stderr $T chr-csv2ev $fast n.csv
		[ "$stderr" = "chr-csv2ev: n.csv:2: timestamp '$(printf '\\x00%.0s' {1..16})' is not an integer" ]
		printf '%s\nx,S,1,2,a,buy,1\0\0332,1\n' "$H_TR" > n.csv
		run -1 --separate-stderr $T chr-csv2ev $fast n.csv
		[ "$stderr" = "chr-csv2ev: n.csv:2: price '1\\x00\\x1b2' is not a decimal" ]
	done
}

@test "a line longer than 4 MiB is a bad row, read past with --skip-bad" {
	need_tt
	for fast in "" --no-fast-path; do
		{ echo "$H_TR"; echo "x,S,1,2,a,buy,1,1"
		  printf 'x,S,1,2,'; head -c 9000000 /dev/zero | tr '\0' b; echo ",buy,1,1"
		  echo "x,S,1,2,c,buy,z,1"
		  echo "x,S,1,3,d,buy,1,1"; } > long.csv
		run -1 --separate-stderr bash -c "set -o pipefail; $T chr-csv2ev $fast long.csv | kinds"
		[ "$stderr" = "chr-csv2ev: long.csv:3: line longer than 4194304 bytes" ]
		[ "$output" = "$(printf '%s\n' DEFINE "TRADE LAST")" ]
		run -0 --separate-stderr bash -c "set -o pipefail; $T chr-csv2ev $fast --skip-bad - < long.csv | kinds"
		[ "${stderr_lines[0]}" = "chr-csv2ev: stdin:3: line longer than 4194304 bytes (skipped)" ]
		[ "${stderr_lines[1]}" = "chr-csv2ev: stdin:4: price 'z' is not a decimal (skipped)" ]
		[ "${stderr_lines[2]}" = "chr-csv2ev: skipped 2 bad rows of 4" ]
		[ "$output" = "$(printf '%s\n' DEFINE "TRADE LAST" "TRADE LAST")" ]
	done
	# a row of exactly 4 MiB is read (a price with leading zeros)
	{ echo "$H_TR"; printf 'x,S,1,2,a,buy,'; head -c $((4194304 - 17)) /dev/zero | tr '\0' 0; echo "1,1"; } > max.csv
	[ "$(sed -n 2p max.csv | wc -c)" -eq 4194305 ]
	run -0 bash -c "set -o pipefail; $T chr-csv2ev max.csv | $TT dump | tail -1"
	[[ "$output" == "TRADE LAST "*" ps=0 ss=0 px=1 sz=1 side=1 id=a" ]]
}

@test "csvcmp: prices and amounts compare as decimals, other fields exactly" {
	printf '%s\n%s\n' "$H_TR" "x,S,1,2,7,buy,50000.0,1.50" > a.csv
	printf '%s\n%s\n' "$H_TR" "x,S,1,2,7,buy,50000,1.5" > b.csv
	run -0 "$TOP/test/csvcmp" a.csv b.csv
	printf '%s\n%s\n' "$H_TR" "x,S,1,2,007,buy,50000,1.5" > b.csv
	run -1 "$TOP/test/csvcmp" a.csv b.csv
	printf '%s\n%s\n' "$H_TR" "x,S,0001,2,7,buy,50000,1.5" > b.csv
	run -1 "$TOP/test/csvcmp" a.csv b.csv
	printf '%s\n%s\n' "$H_TR" "x,S,1,2,7,buy,5e4,1.5" > b.csv
	run -1 "$TOP/test/csvcmp" a.csv b.csv
	h="exchange,symbol,timestamp,local_timestamp,ask_amount,ask_price,bid_price,bid_amount"
	printf '%s\n%s\n' "$h" "x,S,1,2,1.0,2.0,,4" > a.csv
	printf '%s\n%s\n' "$h" "x,S,1,2,1,2,,4.00" > b.csv
	run -0 "$TOP/test/csvcmp" a.csv b.csv
	printf '%s\n%s\n' "$h" "x,S,1,2,1,2,0,4" > b.csv
	run -1 "$TOP/test/csvcmp" a.csv b.csv
	h="exchange,symbol,timestamp,local_timestamp,asks[0].price,asks[0].amount,bids[0].price,bids[0].amount"
	printf '%s\n%s\n' "$h" "x,S,1,2,1.0,2.0,3.0,4" > a.csv
	printf '%s\n%s\n' "$h" "x,S,1,2,1,2,3,4.00" > b.csv
	run -0 "$TOP/test/csvcmp" a.csv b.csv
	printf '%s\n%s\n' "$h" "x,S,01,2,1,2,3,4" > b.csv
	run -1 "$TOP/test/csvcmp" a.csv b.csv
}

@test "--skip-bad counts, reports and skips bad rows, exit 0" {
	need_tt
	{ echo "$H_L2"; echo "x,S,1,2,true,bid,1,1"
	  for c in "${BAD_ROWS[@]}"; do echo "${c%%|*}"; done
	  echo "x,S,1,2,true,bid,2,1"; } > in.csv
	run -0 --separate-stderr bash -c "set -o pipefail; $T chr-csv2ev --skip-bad in.csv | $TT dump"
	[ "${#stderr_lines[@]}" -eq 13 ]
	[ "${stderr_lines[0]}" = "chr-csv2ev: in.csv:3: row has 7 columns, expected 8 (skipped)" ]
	[ "${stderr_lines[12]}" = "chr-csv2ev: skipped 12 bad rows of 14" ]
	[ "${#lines[@]}" -eq 2 ]
	[[ "${lines[1]}" == *" nb=2 na=0 "* ]]
	# beyond the first 20 reports, only the summary
	{ echo "$H_L2"; for i in $(seq 30); do echo "x,S,1,2,true,bid,z,1"; done; } > many.csv
	run -0 --separate-stderr $T chr-csv2ev --skip-bad many.csv
	[ "${#stderr_lines[@]}" -eq 21 ]
	[ "${stderr_lines[20]}" = "chr-csv2ev: skipped 30 bad rows of 30 (only the first ones are shown)" ]
}

@test "an unknown header exits 1, even with --skip-bad; --type takes any header" {
	need_tt
	printf 'a,b,c\n1,2,3\n' > u.csv
	run -1 --separate-stderr $T chr-csv2ev --skip-bad u.csv
	[ "$stderr" = "chr-csv2ev: u.csv:1: unknown header 'a,b,c'" ]
	{ echo "ex,sym,ts,lts,id,side,price,amount"; tail -n +2 "$DATA/bitmex_trades_XBTUSD.csv"; } > o.csv
	run -0 bash -c "$T chr-csv2ev -t trades o.csv | $TT dump | grep -c ^TRADE"
	[ "$output" = 10 ]
	run -1 --separate-stderr $T chr-csv2ev -t quotes o.csv
	[ "$stderr" = "chr-csv2ev: o.csv:2: ask_amount 'ccc3c1fa-212c-e8b0-1706-9b9c4f3d5ecf' is not a decimal" ]
}

@test "gzip is found by its magic bytes, not the name; plain and gzip give the same records" {
	cp "$TR" x.csv
	zcat "$TR" > y.gz
	$T chr-csv2ev "$TR" > a.bin
	$T chr-csv2ev x.csv > b.bin
	$T chr-csv2ev y.gz > c.bin
	$T chr-csv2ev < x.csv > d.bin
	cmp a.bin b.bin && cmp a.bin c.bin && cmp a.bin d.bin
	# multi-member gzip
	head -n 3000 y.gz | gzip -c > m.gz
	tail -n +3001 y.gz | gzip -1 -c >> m.gz
	$T chr-csv2ev m.gz > e.bin
	cmp a.bin e.bin
}

@test "a truncated or corrupt gzip stream: byte offset, exit 1, the good rows before it once" {
	need_tt
	head -c 100000 "$TR" > t.gz
	run -1 --separate-stderr bash -c "set -o pipefail; $T chr-csv2ev t.gz | $TT dump > d.txt"
	[[ "$stderr" =~ ^chr-csv2ev:\ t.gz:\ byte\ [0-9]+\ of\ the\ compressed\ input:\ unexpected\ end\ of\ input ]]
	good=$(zcat t.gz 2>/dev/null | tail -n +2 | head -n -1 | wc -l)
	[ "$(grep -c ^TRADE d.txt)" -eq "$good" ]
	# the damaged sample: 200 good rows, then the damage
	run -1 --separate-stderr bash -c "set -o pipefail; $T chr-csv2ev '$DATA/corrupt_binance-futures_trades.csv.gz' | $TT dump > d.txt"
	[[ "$stderr" =~ ^chr-csv2ev:\ .*corrupt_binance-futures_trades.csv.gz(:\ byte\ [0-9]+\ of\ the\ compressed\ input|:202): ]]
	good=$(zcat "$DATA/corrupt_binance-futures_trades.csv.gz" 2>/dev/null |
		awk -F, 'NR > 1 { if (NF != 8 || $1 != "binance-futures" || $6 !~ /^(buy|sell)$/) exit; n++ } END { print n }')
	[ "$good" -eq 200 ]
	[ "$(grep -c ^TRADE d.txt)" -eq "$good" ]
	[ "$(sort -u d.txt | wc -l)" -eq "$(wc -l < d.txt)" ]
	# not gzip after a member
	{ gzip -c < "$DATA/bitmex_trades_XBTUSD.csv"; echo junk; } > j.gz
	run -1 --separate-stderr $T chr-csv2ev j.gz
	[[ "$stderr" =~ ^chr-csv2ev:\ j.gz:\ byte\ [0-9]+\ of\ the\ compressed\ input:\ trailing\ bytes ]]
	# a flipped byte in the middle of the deflate data
	gzip -c < "$DATA/binance-futures_trades_BTCUSDT_2020-02-22_excerpt.csv" > f.gz
	printf '\xff\xff\xff\xff' | dd of=f.gz bs=1 seek=5000 conv=notrunc 2>/dev/null
	run -1 --separate-stderr $T chr-csv2ev f.gz
	[[ "$stderr" =~ byte\ [0-9]+\ of\ the\ compressed\ input:\ (corrupt|gzip\ checksum)|f.gz:[0-9]+: ]]
	# reserved header flags (RFC 1952), in the first and in a later member
	gzip -c < "$DATA/bitmex_trades_XBTUSD.csv" > ok.gz
	{ head -c 3 ok.gz; printf '\x20'; tail -c +5 ok.gz; } > r1.gz
	run -1 --separate-stderr $T chr-csv2ev r1.gz
	assert_equal "$stderr" "chr-csv2ev: r1.gz: byte 0 of the compressed input: corrupt gzip header (reserved flags set)"
	{ cat ok.gz; head -c 3 ok.gz; printf '\x80'; tail -c +5 ok.gz; } > r2.gz
	run -1 --separate-stderr $T chr-csv2ev r2.gz
	assert_equal "$stderr" "chr-csv2ev: r2.gz: byte $(stat -c %s ok.gz) of the compressed input: corrupt gzip header (reserved flags set)"
}

@test "several files are one stream; headers of other datasets switch it" {
	need_tt
	a="$DATA/binance-futures_trades_BTCUSDT_2020-02-22_excerpt.csv"
	run -0 bash -c "$T chr-csv2ev '$a' '$TR' | $TT dump | cut -d' ' -f1 | sort | uniq -c | awk '{print \$2, \$1}'"
	[ "$output" = "$(printf 'DEFINE 1\nTRADE %d' $(( $(wc -l < "$a") - 1 + $(zcat "$TR" | wc -l) - 1 )))" ]
	q="$DATA/huobi-dm-swap_quotes_BTC-USD.csv"
	$T chr-csv2ev "$q" "$a" "$q" > a.bin
	cat "$q" "$a" "$q" | $T chr-csv2ev > b.bin
	cmp a.bin b.bin
	$TT dump < a.bin | cut -d' ' -f1 | uniq -c | awk '{print $2}' | tr '\n' ' ' > got
	[ "$(cat got)" = "DEFINE QUOTE DEFINE TRADE QUOTE " ]
}

@test "CRLF line ends are accepted and give the same records" {
	sed 's/$/\r/' "$DATA/bitmex_trades_XBTUSD.csv" > crlf.csv
	$T chr-csv2ev "$DATA/bitmex_trades_XBTUSD.csv" > a.bin
	$T chr-csv2ev crlf.csv > b.bin
	$T chr-csv2ev --no-fast-path crlf.csv > c.bin
	cmp a.bin b.bin && cmp a.bin c.bin
}

@test "fast path and libcsv agree byte for byte on every sample and on quoted inputs" {
	for f in $(samples); do
		$T chr-csv2ev "$f" > a.bin
		$T chr-csv2ev --no-fast-path "$f" > b.bin
		cmp a.bin b.bin || { echo "differ: $f"; false; }
	done
	# quoted fields go through libcsv and give the same records
	zcat "$L2" | head -n 20000 > l2.csv
	sed '2,$s/,BTCUSDT,/,"BTCUSDT",/; 3~7s/,\([0-9.]*\)$/,"\1"/' l2.csv > quoted.csv
	grep -q '"BTCUSDT"' quoted.csv
	$T chr-csv2ev l2.csv > a.bin
	$T chr-csv2ev quoted.csv > b.bin
	$T chr-csv2ev --no-fast-path quoted.csv > c.bin
	cmp a.bin b.bin && cmp a.bin c.bin
	# a generated mix: quotes, empty fields, negative and long decimals, CRLF
	{ echo "exchange,symbol,timestamp,local_timestamp,ask_amount,ask_price,bid_price,bid_amount"
	  for i in $(seq 500); do
		case $((i % 5)) in
		0) echo "v,A,$i,$((i / 3)),,,1.$i,-$i.000" ;;
		1) echo "\"v\",A,$i,$((i / 3)),$i,0.00000000000000$((i % 10)),$i,1" ;;
		2) printf 'v,"A,B",%d,%d,1,2,3,4\r\n' $i $((i / 3)) ;;
		3) echo "v,A,$i,$((i / 3)),123456789.123456789,1,1,1" ;;
		4) echo "v,B,$i,$((i / 3)),0,0,0,0" ;;
		esac
	  done; } > gen.csv
	$T chr-csv2ev gen.csv > a.bin
	$T chr-csv2ev --no-fast-path gen.csv > b.bin
	cmp a.bin b.bin
}

@test "fast path and libcsv agree on fields across 16- and 32-byte windows, long digit runs, NUL bytes, CRLF" {
	# trade ids of 0 to 45 bytes and symbols of 1 to 40 (the field ends fall
	# at every place of a 16- or 32-byte window), timestamps that share their
	# first 8 digits or not, 1 to 21-digit decimals with leading zeros and
	# signs, NUL bytes and other junk in place of a byte, CRLF; the last
	# line without its LF
	{ echo "$H_TR"
	  for i in $(seq 0 45); do
		id=$(printf '%*s' "$i" '' | tr ' ' 7)
		sym=$(printf '%*s' $((i % 40 + 1)) '' | tr ' ' S)
		printf 'binance-futures,%s,17231612%08d,17231612%08d,%s,buy,%s.%s,-%s%s\n' \
			"$sym" $((i * 7919)) $((i * 104729 % 99999999)) "$id" \
			"$(printf '%0*d' $((i % 21 + 1)) $((i * 37)))" "$(printf '%0*d' $((i % 19)) 5)" \
			"$(printf '%*s' $((i % 22)) '' | tr ' ' 0)" "$((i % 9 + 1))"
	  done
	  for i in $(seq 0 40); do
		printf 'x,%s,%016d,17231612%08d,a%d,sell,%s,1\r\n' \
			"$(printf '%*s' $((i % 33 + 1)) '' | tr ' ' y)" $((1723161200000000 + i)) $i $i \
			"$(printf '%0*d' $((i % 20 + 1)) 9 | sed 's/^0*//;s/^$/0/' | head -c 20)"
	  done
	  printf 'x,S,1723161255000000,1723161255000001,\0id,buy,1,1\n'
	  printf 'x,S,17231612\x0055000000,1723161255000001,id,buy,1,1\n'
	  printf 'x,S,1723161255000000,17231612550000\x00\x00,id,buy,1,1\n'
	  printf 'x,S,1723161255000000,1723161255000001,id,buy,1.\x00,1\n'
	  printf 'x,S,1723161255000000,1723161255000001,id,buy,1,1\x00\n'
	  printf 'x,S\x00,1723161255000000,1723161255000001,id,buy,1,1\n'
	  printf 'x,S,1723161255000000,1723161255000001,id,buy,999999999999999999,0.000000000000000001\n'
	  printf 'x,S,1723161255000000,1723161255000001,id,buy,9999999999999999999,1\n'
	  printf 'x,S,1723161255000000,1723161255000001,id,buy,00000000000000000000001.5,-0\n'
	  printf 'x,S,1723161255000000,1723161255000001,id,buy,1,1' ; } > edge.csv
	[ "$(tr -cd '\0' < edge.csv | wc -c)" -eq 7 ]
	for skip in "" --skip-bad; do
		run --separate-stderr bash -c "$T chr-csv2ev $skip edge.csv > a.bin"
		st=$status err=$stderr
		run --separate-stderr bash -c "$T chr-csv2ev --no-fast-path $skip edge.csv > b.bin"
		[ "$status" -eq "$st" ]
		[ "$stderr" = "$err" ]
		cmp a.bin b.bin
	done
	# with --skip-bad: the bad rows are the ones with junk, and the good
	# ones became records
	[ "$st" -eq 0 ]
	[[ "$err" == *"skipped"* ]]
	[ "$(wc -c < a.bin)" -gt 5000 ]
}

@test "records -> CSV reproduces every sample (t-tardis csv, and chr-tail --format csv when built)" {
	need_tt
	for f in $(samples); do
		zcat -f "$f" | tr -d '\r' | norm > want.csv
		$T chr-csv2ev "$f" | $TT csv | norm > got.csv
		cmp want.csv got.csv || { echo "differ: $f"; false; }
	done
	command -v chr-tail >/dev/null || skip "chr-tail is not built"
	for f in $(samples); do
		zcat -f "$f" | norm > want.csv
		$T chr-csv2ev "$f" | $T chr-tail --format csv | norm > got.csv
		cmp want.csv got.csv || { echo "chr-tail differs: $f"; false; }
	done
}

@test "--symbols and --venue set the ids and names" {
	need_tt
	echo "binance-futures BTCUSDT 7 42" > map
	run -0 bash -c "$T chr-csv2ev --symbols map '$DATA/bitmex_trades_XBTUSD.csv' '$TR' | $TT dump | grep ^DEFINE"
	[[ "${lines[1]}" == *" v=7 m=42 binance-futures BTCUSDT" ]]
	[[ "${lines[0]}" != *" v=7 "* ]]
	run -0 bash -c "$T chr-csv2ev --venue bn '$TR' | $TT dump | head -1"
	[[ "$output" == "DEFINE "*" bn BTCUSDT" ]]
	echo "bad line" > bad.map
	run -1 $T chr-csv2ev --symbols bad.map "$TR"
}

@test "--progress reports rows and percent on stderr" {
	run -0 --separate-stderr bash -c "$T chr-csv2ev --progress '$L2' > /dev/null"
	[[ "$stderr" == *"rows"*"%"* ]]
	run -0 --separate-stderr bash -c "$T chr-csv2ev '$L2' > /dev/null"
	[ -z "$stderr" ]
}

@test "the reader closing early ends it quietly" {
	run -0 --separate-stderr bash -c "$T chr-csv2ev '$L2' | head -c 100 | wc -c"
	[ "$output" = 100 ]
	[ -z "$stderr" ]
}

@test "--report writes what was done as JSON, only after success" {
	{ echo "$H_L2"
	  echo "x,S,1,10,false,bid,1,1"
	  echo "x,S,2,20,true,bid,1.5,1"
	  echo "x,S,2,20,true,ask,2,1"
	  echo "x,S,3,30,false,bid,1.5,0"
	  echo "x,S,3,31,bad,bid,1.5,0"; } > in.csv
	gzip -cd "$TR" | head -n 101 > tr.csv
	run -0 --separate-stderr bash -c "$T chr-csv2ev --skip-bad --report r.json in.csv - <tr.csv | wc -c"
	python3 - "$PWD/in.csv" <<'PY'
import json, os, sys
r = json.load(open("r.json"))
assert r["format"] == "chronicle-csv2ev-report" and r["version"] == 1, r
a, b = r["inputs"]
assert a["path"] == "in.csv" and a["bytes"] == os.path.getsize(sys.argv[1]), a
assert a["datasets"] == ["incremental_book_L2"] and a["rows"] == 5, a
assert a["records"] == 3 and a["events"] == 2, a
assert a["bad_rows_skipped"] == 1 and a["rows_before_first_snapshot"] == 1, a
assert b["path"] == "-" and b["bytes"] == os.path.getsize("tr.csv"), b
assert b["datasets"] == ["trades"] and b["rows"] == 100 and b["records"] == 101, b
assert r["datasets"] == ["incremental_book_L2", "trades"], r
assert r["rows"] == 105 and r["records"] == 104 and r["bad_rows_skipped"] == 1, r
assert r["rows_before_first_snapshot"] == 1 and r["events"] == 2 + b["events"], r
PY
	# the gzip input: bytes read are the compressed bytes
	run -0 bash -c "$T chr-csv2ev --report g.json '$TR' | wc -c"
	python3 -c "import json, os, sys; r = json.load(open('g.json')); assert r['inputs'][0]['bytes'] == os.path.getsize(sys.argv[1]) and r['rows'] == 21313" "$TR"
	# no report after a failure (a bad row, an unreadable file)
	run -1 bash -c "set -o pipefail; $T chr-csv2ev --report f.json in.csv | wc -c"
	[ ! -e f.json ]
	run -3 bash -c "set -o pipefail; $T chr-csv2ev --report f.json tr.csv nosuch.csv | wc -c"
	[ ! -e f.json ]
	run -2 $T chr-csv2ev --report
	run -0 ls -A
	refute_output --partial .tmp
}

@test "records are never written to a terminal" {
	command -v script >/dev/null || skip "script(1) is not installed"
	run -2 script -qec "chr-csv2ev '$DATA/bitmex_trades_XBTUSD.csv'" /dev/null
	[[ "$output" == *"chr-csv2ev: refusing to write binary records to a terminal"* ]]
}

@test "too many decimal places is said so on both paths, not out of range" {
	need_tt
	for fast in "" --no-fast-path; do
		printf '%s\n%s\n' "$H_L2" "x,S,1,2,true,bid,61800.300000000000000000000,1" > in.csv
		run -1 --separate-stderr $T chr-csv2ev $fast in.csv
		[ "$stderr" = "chr-csv2ev: in.csv:2: price '61800.300000000000000000000' has too many decimal places (at most 18)" ]
		printf '%s\n%s\n' "$H_L2" "x,S,1,2,true,bid,1,0.0000000000000000001" > in.csv
		run -1 --separate-stderr $T chr-csv2ev $fast in.csv
		[ "$stderr" = "chr-csv2ev: in.csv:2: amount '0.0000000000000000001' has too many decimal places (at most 18)" ]
		# a mantissa too large is still out of range
		printf '%s\n%s\n' "$H_L2" "x,S,1,2,true,bid,61800.300000000000000,1" > in.csv
		run -1 --separate-stderr $T chr-csv2ev $fast in.csv
		[ "$stderr" = "chr-csv2ev: in.csv:2: price '61800.300000000000000' is out of range" ]
	done
}

@test "a UTF-8 BOM before the header is skipped on both paths" {
	for fast in "" --no-fast-path; do
		# the same records as without it, from a file and from stdin
		printf '%s\n%s\n' "$H_L2" "x,S,1,2,true,bid,61800.3,1" > plain.csv
		{ printf '\357\273\277'; cat plain.csv; } > bom.csv
		$T chr-csv2ev $fast plain.csv > a.bin
		run -0 --separate-stderr bash -c "$T chr-csv2ev $fast bom.csv > b.bin"
		[ -z "$stderr" ]
		cmp a.bin b.bin
		$T chr-csv2ev $fast - < bom.csv > c.bin
		cmp a.bin c.bin
	done
	# each file of a run may start with one
	$T chr-csv2ev plain.csv plain.csv > a.bin
	$T chr-csv2ev bom.csv bom.csv > b.bin
	cmp a.bin b.bin
}

@test "trades and quotes: a queue (--out) gets the records of stdout; ids of 1 to 40 bytes whole, NUL-padded" {
	need_tt
	$T chr-csv2ev "$TR" "$QU" > s.bin
	$T chr-csv2ev --out Q "$TR" "$QU"
	$T chr-tail Q | cmp - s.bin
	id40=0123456789abcdefghijABCDEFGHIJ0123456789
	{ echo "$H_TR"
	  echo "x,Y,1000000,1000000,$id40,buy,1.5,2"
	  echo "x,Y,1000000,1000001,7,sell,1.25,3"
	  echo "x,Y,1000000,1000002,${id40}9,sell,1.25,3"; } > ids.csv
	run -1 --separate-stderr $T chr-csv2ev ids.csv
	[[ "$stderr" == *"ids.csv:4: "*"longer than 40 bytes"* ]]
	$T chr-csv2ev --skip-bad ids.csv 2>/dev/null | $TT dump > ids.txt
	sed -n 2p ids.txt | grep -q "^TRADE .*ps=1 ss=0 px=15 sz=2 side=1 id=$id40\$"
	sed -n 3p ids.txt | grep -q "^TRADE LAST .*ps=2 ss=0 px=125 sz=3 side=2 id=7\$"
	[ "$(wc -l < ids.txt)" -eq 3 ]
}
