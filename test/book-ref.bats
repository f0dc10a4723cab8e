#!/usr/bin/env bats
# test/book-ref, the python reference for `chr-book --bbo --format csv`:
# proved against Binance's own bookTicker on the real capture and on
# hand-made books; then chr-book (when built) must print the same rows.

load test_helper

REF="$TOP/test/book-ref"
L2="$DATA/binance-futures_incremental_book_L2_BTCUSDT_2024-08-08.csv.gz"
MATCHES="$DATA/ref/binance-futures_bookticker_matches_2024-08-08.csv"
H_L2="exchange,symbol,timestamp,local_timestamp,is_snapshot,side,price,amount"
H_Q="exchange,symbol,timestamp,local_timestamp,ask_amount,ask_price,bid_price,bid_amount"
N_MATCHES=629	# the instants of $MATCHES (test/data/README.md)

# book-ref's output for $L2, made once per run of this file
ref_real() {
	local f="$BATS_FILE_TMPDIR/ref.csv"
	if [ ! -s "$f" ]; then
		$T "$REF" "$L2" >"$f.tmp" && mv "$f.tmp" "$f"
	fi
	echo "$f"
}

# instants QUOTES: at each instant of $MATCHES, the last row of QUOTES (a
# quotes CSV ordered by local_timestamp) at or before its local_timestamp
# must hold the bookTicker's bid and ask; prints the misses, then the count
instants() {
	awk -F, '
	NR == FNR { if (FNR > 1) { n++; lt[n] = $1; u[n] = $2; want[n] = $3 "," $4 "," $5 "," $6 }; next }
	function upto(t) {
		while (i < n && (t == "" || lt[i + 1] < t)) {
			i++
			if (top == want[i]) ok++
			else printf "at %s (u %s): book %s, bookTicker %s\n", lt[i], u[i], top, want[i]
		}
	}
	FNR == 1 { next }
	{ upto($4); top = $7 "," $8 "," $6 "," $5 }
	END { upto(""); printf "%d of %d instants match\n", ok, n }
	' "$MATCHES" "$1"
}

# hand-made cases: case_NAME prints the rows (no header) of an
# incremental_book_L2 file, want_NAME the rows (no header) book-ref prints
CASES="snapshot delete_unknown one_sided second_snapshot before_snapshot
	continued_snapshot two_markets"

# a snapshot: its top once, decimals in shortest form; an event prints once,
# after its last row (with that row's timestamps), and only when the top changed
case_snapshot() {
	cat <<-EOF
	ex,S,1,10,true,bid,100.50,1.0
	ex,S,1,10,true,bid,100.4,2
	ex,S,1,10,true,ask,101,3.000
	ex,S,1,10,true,ask,101.5,0.0100
	ex,S,3,30,false,bid,100.4,5
	ex,S,4,40,false,bid,100.5,0
	ex,S,5,40,false,bid,100.6,2
	ex,S,6,50,false,ask,101,0
	ex,S,6,50,false,ask,101,3
	ex,S,7,60,false,ask,101,7
	ex,S,8,70,false,ask,101,0
	EOF
}
want_snapshot() {
	cat <<-EOF
	ex,S,1,10,3,101,100.5,1
	ex,S,5,40,3,101,100.6,2
	ex,S,7,60,7,101,100.6,2
	ex,S,8,70,0.01,101.5,100.6,2
	EOF
}

# removing a level the book does not have changes nothing
case_delete_unknown() {
	cat <<-EOF
	ex,S,1,10,true,bid,100,1
	ex,S,1,10,true,ask,101,1
	ex,S,2,20,false,bid,99,0
	ex,S,3,30,false,ask,102,0
	ex,S,4,40,false,bid,100,0
	ex,S,4,40,false,bid,100,0
	EOF
}
want_delete_unknown() {
	cat <<-EOF
	ex,S,1,10,1,101,100,1
	ex,S,4,40,1,101,,
	EOF
}

# a one-sided snapshot; a side emptied; both sides empty
case_one_sided() {
	cat <<-EOF
	ex,S,1,10,true,bid,50,1
	ex,S,2,20,false,ask,51,2
	ex,S,3,30,false,bid,50,0
	ex,S,4,40,false,ask,51,0
	ex,S,5,50,false,ask,52,1
	EOF
}
want_one_sided() {
	cat <<-EOF
	ex,S,1,10,,,50,1
	ex,S,2,20,2,51,50,1
	ex,S,3,30,2,51,,
	ex,S,4,40,,,,
	ex,S,5,50,1,52,,
	EOF
}

# a later snapshot empties the book first (the old levels are gone); one
# with the same top as the last printed row prints nothing
case_second_snapshot() {
	cat <<-EOF
	ex,S,1,10,true,bid,100,1
	ex,S,1,10,true,ask,102,1
	ex,S,2,20,false,bid,101,1
	ex,S,3,30,true,bid,90,4
	ex,S,3,30,true,ask,95,1
	ex,S,4,40,false,bid,101,0
	ex,S,5,50,false,ask,96,2
	ex,S,6,60,true,bid,90,4
	ex,S,6,60,true,ask,95,1
	ex,S,7,70,false,ask,95,0
	EOF
}
want_second_snapshot() {
	cat <<-EOF
	ex,S,1,10,1,102,100,1
	ex,S,2,20,1,102,101,1
	ex,S,3,30,1,95,90,4
	ex,S,7,70,,,90,4
	EOF
}

# rows before the first snapshot are skipped, also those in its own event;
# diff rows after it in that event apply
case_before_snapshot() {
	cat <<-EOF
	ex,S,1,5,false,bid,200,1
	ex,S,1,5,false,ask,201,1
	ex,S,2,10,false,bid,300,1
	ex,S,3,10,true,bid,100,1
	ex,S,3,10,true,ask,101,1
	ex,S,4,10,false,ask,100.5,2
	EOF
}
want_before_snapshot() {
	cat <<-EOF
	ex,S,4,10,2,100.5,100,1
	EOF
}

# a snapshot run that goes on into the next event is the same snapshot
case_continued_snapshot() {
	cat <<-EOF
	ex,S,1,10,true,bid,100,1
	ex,S,1,11,true,ask,101,1
	ex,S,2,12,false,bid,100,3
	EOF
}
want_continued_snapshot() {
	cat <<-EOF
	ex,S,1,10,,,100,1
	ex,S,1,11,1,101,100,1
	ex,S,2,12,1,101,100,3
	EOF
}

# one book per (exchange, symbol); rows of another market end an event
case_two_markets() {
	cat <<-EOF
	ex,A,1,10,true,bid,1,1
	ex,B,1,10,true,bid,2,2
	ex,A,2,10,false,bid,1.5,1
	ex,B,3,20,false,bid,1,1
	ex,A,4,20,false,ask,3,1
	EOF
}
want_two_markets() {
	cat <<-EOF
	ex,A,1,10,,,1,1
	ex,B,1,10,,,2,2
	ex,A,2,10,,,1.5,1
	ex,A,4,20,1,3,1.5,1
	EOF
}

# write case NAME as NAME.csv and its expected output as NAME.want
make_case() {
	{ echo "$H_L2"; "case_$1"; } >"$1.csv"
	{ echo "$H_Q"; "want_$1"; } >"$1.want"
}

@test "the fixture: $N_MATCHES instants, each a local_timestamp of the L2 file" {
	run -0 wc -l <"$MATCHES"
	[ "$output" -eq $((N_MATCHES + 1)) ]
	run -0 head -1 "$MATCHES"
	assert_output "local_timestamp,u,bid_price,bid_amount,ask_price,ask_amount,ticker_local_timestamp"
	# 126 of them are the README's: the bookTicker arrived after the depth message
	run -0 awk -F, 'NR > 1 && $7 > $1' "$MATCHES"
	[ "${#lines[@]}" -eq 126 ]
	zcat "$L2" | cut -d, -f4 | sort -u >lts
	run -0 bash -c "tail -n +2 '$MATCHES' | cut -d, -f1 | sort -u | comm -23 - lts"
	assert_output ""
}

@test "book-ref: Binance's bookTicker at every instant it shares u with a depth message" {
	f=$(ref_real)
	run -0 head -2 "$f"
	assert_line -n 0 "$H_Q"
	assert_line -n 1 "binance-futures,BTCUSDT,1723161256501000,1723161255319702,1.072,61800.3,61800.2,2.909"
	run -0 instants "$f"
	assert_output "$N_MATCHES of $N_MATCHES instants match"
}

@test "instants sees a wrong book" {
	f=$(ref_real)
	# every bid amount wrong
	awk -F, -v OFS=, 'NR > 1 { $8 = $8 + 1 } 1' "$f" >bad.csv
	run -0 instants bad.csv
	[ "${#lines[@]}" -eq $((N_MATCHES + 1)) ]
	assert_line -n 0 --regexp "^at [0-9]+ \(u [0-9]+\): book .*, bookTicker "
	assert_line -n $N_MATCHES "0 of $N_MATCHES instants match"
	# the last row before the first instant left out
	t=$(sed -n 2p "$MATCHES" | cut -d, -f1)
	awk -F, -v t="$t" 'NR > 1 && $4 <= t { n = NR } END { print n }' "$f" >n
	sed "$(cat n)d" "$f" >bad.csv
	run -0 instants bad.csv
	assert_line -n 0 --partial "at $t (u "
}

@test "book-ref: hand-made books" {
	for c in $CASES; do
		make_case "$c"
		run -0 $T "$REF" "$c.csv"
		assert_output "$(cat "$c.want")"
	done
}

@test "book-ref: gzip and stdin read the same" {
	make_case snapshot
	gzip -c snapshot.csv >s.gz
	run -0 $T "$REF" s.gz
	assert_output "$(cat snapshot.want)"
	run -0 $T "$REF" <snapshot.csv
	assert_output "$(cat snapshot.want)"
	run -0 $T "$REF" - <s.gz
	assert_output "$(cat snapshot.want)"
}

@test "book-ref: empty input and a header alone print nothing" {
	run -0 $T "$REF" </dev/null
	assert_output ""
	echo "$H_L2" >h.csv
	run -0 $T "$REF" h.csv
	assert_output ""
}

@test "book-ref: a bad row exits 1 naming its line, an unreadable file 3, -h 0" {
	{ echo "$H_L2"; echo "ex,S,1,10,true,bid,100,1"; echo "ex,S,1,10,true,bid,1e5,1"; } >bad.csv
	run -1 --separate-stderr $T "$REF" bad.csv
	[ "$stderr" = "book-ref: bad.csv:3: not an incremental_book_L2 row: ex,S,1,10,true,bid,1e5,1" ]
	run -3 --separate-stderr $T "$REF" nonexistent.csv
	[[ "$stderr" == "book-ref: "*"nonexistent.csv"* ]]
	run -0 $T "$REF" -h
	assert_output "usage: book-ref [FILE...]"
}

@test "book-ref: the reader closing early ends it quietly" {
	run -0 --separate-stderr bash -c "$T '$REF' '$L2' | head -c 100 | wc -c"
	assert_output 100
	[ -z "$stderr" ]
}

@test "chr-book --bbo --format csv prints book-ref's rows on the real capture" {
	command -v chr-book >/dev/null || skip "chr-book not built"
	f=$(ref_real)
	set -o pipefail
	zcat "$L2" | $T chr-csv2ev | $T chr-book --bbo --format csv >book.csv
	diff -u "$f" book.csv >d || { head -40 d; false; }
	run -0 instants book.csv
	assert_output "$N_MATCHES of $N_MATCHES instants match"
}

@test "chr-book --bbo --format csv prints book-ref's rows on the hand-made books" {
	command -v chr-book >/dev/null || skip "chr-book not built"
	set -o pipefail
	for c in $CASES; do
		make_case "$c"
		$T chr-csv2ev "$c.csv" 2>/dev/null | $T chr-book --bbo --format csv >"$c.out"
		diff -u "$c.want" "$c.out" || { echo "case $c"; false; }
	done
}
