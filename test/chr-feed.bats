#!/usr/bin/env bats
# chr-feed --capture: Binance messages normalised to records; books kept in
# sync by each venue's rules (docs/feed.md); the real USD-M capture against
# Binance's own bookTicker.

load test_helper

CAP="$DATA/binance-futures_BTCUSDT_2024-08-08_raw_capture.txt.gz"
MATCHES="$DATA/ref/binance-futures_bookticker_matches_2024-08-08.csv"
N_MATCHES=629	# the instants of $MATCHES (test/data/README.md)
SPOT="$DATA/feed/spot_BNBUSDT.txt"
COINM="$DATA/feed/coinm_BTCUSD_PERP.txt"

# instants QUOTES: at each instant of $MATCHES, the last row of QUOTES (a
# quotes CSV ordered by local_timestamp) at or before its local_timestamp
# must hold the bookTicker's bid and ask; prints the misses, then the count
# (as test/book-ref.bats does for the Tardis CSV of the same capture)
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

# text FILE: the records of FILE as chr-tail's text without the time
text() {
	chr-tail --format text "$1" | cut -d' ' -f2-
}

@test "the USD-M capture: chr-book --bbo has Binance's bookTicker at every instant" {
	set -o pipefail
	$T chr-feed --venue binance-futures --capture "$CAP" | $T chr-book --bbo --format csv >bbo.csv
	run -0 instants bbo.csv
	assert_output "$N_MATCHES of $N_MATCHES instants match"
	# the first top is the REST snapshot's, at its receive time, T its ts_event
	run -0 sed -n 2p bbo.csv
	assert_output "binance-futures,BTCUSDT,1723161256493000,1723161255319702,1.072,61800.3,61800.2,2.909"
}

@test "the USD-M capture: a wrong level or a lost diff is seen" {
	set -o pipefail
	# the best bid size of the depth message of the first instant changed
	zcat "$CAP" | sed '159s/\["61800.10","0.599"\]/["61800.10","0.5991"]/' >bad.txt
	[ "$(cmp bad.txt <(zcat "$CAP") | wc -l)" -eq 1 ]
	$T chr-feed --venue binance-futures --capture bad.txt | $T chr-book --bbo --format csv >bbo.csv
	run -0 instants bbo.csv
	assert_line -n 0 "at 1723161255608403 (u 5123107879150): book 61800.1,0.5991,61800.2,5.723, bookTicker 61800.1,0.599,61800.2,5.723"
	refute_line "$N_MATCHES of $N_MATCHES instants match"
	# a depth message lost after the snapshot: a GAP, a book unknown to the end
	zcat "$CAP" | sed '57d' >lost.txt
	run -0 --separate-stderr $T chr-feed -v --venue binance-futures --capture lost.txt
	[[ "$stderr" == *"1 GAPs"* ]]
	# chr-book takes every diff chr-feed wrote, and no other: its GAP only
	run -0 bash -c "$T chr-feed --venue binance-futures --capture '$CAP' | chr-book | chr-tail --type gap | wc -c"
	assert_output 0
	run -0 --separate-stderr bash -c "$T chr-feed --venue binance-futures --capture lost.txt | chr-book | chr-tail --type gap --format text | cut -d' ' -f2,7-"
	assert_output --regexp "^GAP flags=- expected=[0-9]+ got=[0-9]+ reason=update-id$"
}

@test "spot: held diffs, the bridging diff, U gap -> GAP, the next snapshot" {
	run -0 --separate-stderr bash -c "$T chr-feed --venue binance --capture '$SPOT' -v >out.ev"
	[[ "$stderr" == *"11 lines: 11 records (2 snapshots, 5 diffs, 1 trades, 1 quotes, 1 GAPs)"* ]]
	[[ "$stderr" == *"5 diffs held for a snapshot, 2 older than theirs dropped"* ]]
	run -0 text out.ev
	assert_line -n 0 --partial "DEFINE binance BNBUSDT seq=0"
	# u <= lastUpdateId dropped; U <= lastUpdateId + 1 <= u bridges; held ones in order
	assert_line -n 1 --partial "BOOK_SNAPSHOT binance BNBUSDT seq=1 src_seq=1 flags=LAST ids=100..100 prev=0 bid[1] 1 x 5; ask[1] 2 x 5"
	assert_line -n 2 --partial "BOOK_DIFF binance BNBUSDT seq=2 src_seq=2 flags=LAST ids=100..105 prev=99 bid[1] 1.1 x 2.5; ask[0]"
	assert_line -n 3 --partial "BOOK_DIFF binance BNBUSDT seq=3 src_seq=3 flags=LAST ids=106..107 prev=105 bid[0]; ask[2] 2 x 0, 2.1 x 1"
	assert_line -n 4 --partial "ids=108..110 prev=107"
	assert_line -n 5 --partial "QUOTE binance BNBUSDT seq=5 src_seq=5 flags=LAST bid 1.1 x 2.5 ask 2.1 x 1"
	assert_line -n 6 --partial "TRADE binance BNBUSDT seq=6 src_seq=6 flags=LAST sell 1.1 x 0.5 id=12345"
	# U 112 after u 110: a GAP; held until the next snapshot, which it does not reach
	assert_line -n 7 --partial "GAP binance BNBUSDT seq=7 src_seq=7 flags=- expected=111 got=112 reason=update-id"
	assert_line -n 8 --partial "BOOK_SNAPSHOT binance BNBUSDT seq=8 src_seq=8 flags=LAST ids=118..118"
	assert_line -n 9 --partial "BOOK_DIFF binance BNBUSDT seq=9 src_seq=9 flags=LAST ids=116..120 prev=115"
	assert_line -n 10 --partial "ids=121..121 prev=120"
	[ "${#lines[@]}" -eq 11 ]
	# chr-book takes every diff written: no GAP of its own
	run -0 bash -c "chr-book <out.ev | chr-tail --format text | grep -c GAP"
	assert_output 1
	run -0 bash -c "chr-book --bbo --format csv <out.ev | tail -1"
	assert_output "binance,BNBUSDT,1700000000010000,1,1,2.1,1.08,1"
}

@test "COIN-M: a diff before the snapshot bridges it, a pu break -> GAP, resync" {
	$T chr-feed --venue binance-delivery --capture "$COINM" >out.ev
	run -0 text out.ev
	assert_line -n 0 --partial "DEFINE binance-delivery BTCUSD_PERP seq=0"
	assert_line -n 1 --partial "BOOK_SNAPSHOT binance-delivery BTCUSD_PERP seq=1 src_seq=1 flags=LAST ids=60..60 prev=0"
	# u 49 < lastUpdateId 60: dropped; U 55 <= 60 <= u 70: the first
	assert_line -n 2 --partial "BOOK_DIFF binance-delivery BTCUSD_PERP seq=2 src_seq=2 flags=LAST ids=55..70 prev=49 bid[1] 35000.1 x 12"
	assert_line -n 3 --partial "ids=75..80 prev=70"
	assert_line -n 4 --partial "TRADE binance-delivery BTCUSD_PERP seq=4 src_seq=4 flags=LAST buy 35001.5 x 2 id=777"
	# pu 82 where u was 80
	assert_line -n 5 --partial "GAP binance-delivery BTCUSD_PERP seq=5 src_seq=5 flags=- expected=80 got=82 reason=update-id"
	assert_line -n 6 --partial "BOOK_SNAPSHOT binance-delivery BTCUSD_PERP seq=6 src_seq=6 flags=LAST ids=93..93"
	assert_line -n 7 --partial "ids=91..95 prev=90"
	[ "${#lines[@]}" -eq 8 ]
	run -0 bash -c "chr-book <out.ev | chr-tail --format text | grep -c GAP"
	assert_output 1
}

@test "USD-M: the diff whose u is lastUpdateId, then one by pu: in sync, and chr-book agrees" {
	d='{"stream":"x@depth","data":{"e":"depthUpdate","E":1,"T":1,"s":"X","U":%s,"u":%s,"pu":%s,"b":[["%s","1"]],"a":[]}}'
	{
		printf "1 $d\n" 5 10 4 1
		echo '2 {"lastUpdateId":10,"E":2,"T":2,"bids":[["1","1"]],"asks":[["9","1"]]}'
		printf "3 $d\n" 15 20 10 2
		printf "4 $d\n" 25 30 20 3
	} >c.txt
	$T chr-feed --venue binance-futures --capture c.txt >out.ev
	run -0 bash -c "chr-tail --format text out.ev | cut -d' ' -f2,8-9"
	assert_output "DEFINE venue=binance-futures symbol=X
BOOK_SNAPSHOT ids=10..10 prev=0
BOOK_DIFF ids=5..10 prev=4
BOOK_DIFF ids=15..20 prev=10
BOOK_DIFF ids=25..30 prev=20"
	run -0 bash -c "chr-book --bbo --format csv <out.ev | tail -1"
	assert_output "binance-futures,X,1000,0,1,9,3,1"
	# the first after the snapshot must straddle it: U > lastUpdateId is a break
	{
		echo '2 {"lastUpdateId":10,"E":2,"T":2,"bids":[["1","1"]],"asks":[["9","1"]]}'
		printf "3 $d\n" 15 20 12 2
	} >c.txt
	run -0 --separate-stderr bash -c "chr-feed --venue binance-futures --capture --symbol X c.txt | chr-tail --format text | cut -d' ' -f2,7-"
	assert_line -n 2 "GAP flags=- expected=10 got=15 reason=update-id"
	# the diff held for the next snapshot is not lost silently
	[ "$stderr" = "chr-feed: 1 diffs were not written: 1 still waiting for a snapshot at the end, 0 dropped from a full buffer or at a lost connection" ]
}

@test "records read back: exact decimals, ts, ts_event, update ids" {
	run -0 bash -c "chr-feed --venue binance-futures --capture '$CAP' | chr-tail --format json | sed -n '1p;2p;3p;56p'"
	# the first QUOTE: ts the receive time, ts_event T (ms)
	assert_line -n 0 --partial '"type_name":"QUOTE","flags":2,"seq":1,"ts":1723161255088169167,'
	assert_line -n 0 --partial '"ts_event":1723161256313000000,'
	assert_line -n 0 --partial '"bid_px":"61800.2","bid_sz":"2.507","ask_px":"61800.3","ask_sz":"2.51"'
	assert_line -n 1 --partial '"type_name":"TRADE","flags":2,"seq":2,"ts":1723161255088176367,'
	assert_line -n 1 --partial '"ts_event":1723161256322000000,'
	assert_line -n 1 --partial '"price":"61800.3","size":"0.006","side":"buy","id":"5266583935"'
	# the snapshot (line 55 of the capture): T 1723161256493
	run -0 bash -c "chr-feed --venue binance-futures --capture '$CAP' | chr-tail --format json --type snapshot,diff | head -3 | cut -c1-520"
	assert_line -n 0 --partial '"type_name":"BOOK_SNAPSHOT","flags":2,"seq":49,"ts":1723161255319702566,"time":"2024-08-08T23:54:15.319702566Z","ts_event":1723161256493000000,'
	assert_line -n 0 --partial '"update_id_first":5123107852948,"update_id_last":5123107852948,"update_id_prev":0,"price_scale":1,"size_scale":3,"bids":[["61800.2","2.909"],["61800.1","0.696"],'
	# the two diffs received before it: after it, at its ts, with their own T
	assert_line -n 1 --partial '"type_name":"BOOK_DIFF","flags":2,"seq":50,"ts":1723161255319702566,'
	assert_line -n 1 --partial '"ts_event":1723161256505000000,'
	assert_line -n 1 --partial '"update_id_first":5123107850310,"update_id_last":5123107853551,"update_id_prev":5123107850146,'
	assert_line -n 2 --partial '"update_id_prev":5123107853551,'
}

@test "a REST snapshot line: its symbol from --symbol or the messages before it, else refused" {
	echo '5 {"lastUpdateId":1,"bids":[["1","1"]],"asks":[]}' >s.txt
	run -1 --separate-stderr $T chr-feed --venue binance --capture s.txt
	[ "$stderr" = "chr-feed: s.txt:1: a REST snapshot names no symbol, and no message before it named one: give the symbol (chr-feed --symbol)" ]
	run -0 bash -c "chr-feed --venue binance --capture --symbol ETHBTC s.txt | chr-tail --format text | cut -d' ' -f2-4"
	assert_line -n 1 "BOOK_SNAPSHOT binance ETHBTC"
	# two symbols before it
	{
		echo '1 {"e":"trade","E":1,"s":"A","t":1,"p":"1","q":"1","T":1,"m":true}'
		echo '2 {"e":"trade","E":1,"s":"B","t":1,"p":"1","q":"1","T":1,"m":true}'
		cat s.txt
	} >two.txt
	run -1 --separate-stderr $T chr-feed --venue binance --capture two.txt
	[ "$stderr" = "chr-feed: two.txt:3: a REST snapshot names no symbol, and the messages before it name more than one: give the symbol (chr-feed --symbol)" ]
	# COIN-M's snapshot names its symbol
	echo '5 {"lastUpdateId":1,"symbol":"ETHUSD_PERP","pair":"ETHUSD","bids":[["1","1"]],"asks":[]}' >d.txt
	run -0 bash -c "chr-feed --venue binance-delivery --capture d.txt | chr-tail --format text | cut -d' ' -f2-4"
	assert_line -n 1 "BOOK_SNAPSHOT binance-delivery ETHUSD_PERP"
	# one symbol before it, another after: the guess could have been wrong
	{ head -1 two.txt; cat s.txt; sed -n 2p two.txt; } >after.txt
	run -1 --separate-stderr $T chr-feed --venue binance --capture after.txt
	[[ "$stderr" == "chr-feed: after.txt:3: a message of symbol 'B' after a REST snapshot was taken as 'A''s"* ]]
}

@test "unknown streams and events are counted and reported, never dropped silently" {
	{
		echo '1 {"stream":"btcusdt@kline_1m","data":{"e":"kline","E":1,"s":"BTCUSDT","k":{}}}'
		echo '2 {"stream":"btcusdt@depth5@100ms","data":{"e":"depthUpdate","E":1,"T":1,"s":"BTCUSDT","U":1,"u":2,"pu":0,"b":[],"a":[]}}'
		echo '3 {"result":null,"id":1}'
		echo '4 {"e":"trade","E":1,"s":"BTCUSDT","t":1,"p":"1","q":"1","T":1,"m":false}'
	} >u.txt
	run -0 --separate-stderr bash -c "$T chr-feed --venue binance-futures --capture u.txt >out.ev"
	[ "$stderr" = "chr-feed: 3 messages of streams or events it does not know were not normalised (the first: 'btcusdt@kline_1m')" ]
	run -0 bash -c "chr-tail --format text out.ev | cut -d' ' -f2"
	assert_output "DEFINE
TRADE"
}

@test "a bad line: exit 1 naming FILE:LINE; --skip-bad counts and skips it" {
	{
		echo '1 {"e":"trade","E":1,"s":"X","t":1,"p":"1","q":"1","T":1,"m":false}'
		echo '2 {"e":"trade","E":1,"s":"X","t":2,"p":"1.5","q":"1e3","T":1,"m":false}'
		echo '3 {"e":"trade"'
		echo 'x {}'
		echo '5 {"e":"trade","E":1,"s":"X","t":3,"p":"2","q":"1","T":1,"m":true}'
		echo '9223372036854775808 {}'
	} >b.txt
	run -1 --separate-stderr bash -c "$T chr-feed --venue binance --capture b.txt >out.ev"
	[ "$stderr" = "chr-feed: b.txt:2: trade: quantity '1e3' is not a decimal" ]
	# the lines before it went out
	run -0 bash -c "chr-tail --format text out.ev | cut -d' ' -f2"
	assert_output "DEFINE
TRADE"
	run -0 --separate-stderr bash -c "$T chr-feed --venue binance --capture --skip-bad b.txt >out.ev"
	[ "${stderr_lines[0]}" = "chr-feed: b.txt:2: trade: quantity '1e3' is not a decimal (skipped)" ]
	[ "${stderr_lines[1]}" = "chr-feed: b.txt:3: byte 12: unexpected end of text (skipped)" ]
	[ "${stderr_lines[2]}" = "chr-feed: b.txt:4: not a line '<receive time in ns> <JSON>' (skipped)" ]
	[ "${stderr_lines[3]}" = "chr-feed: b.txt:6: not a line '<receive time in ns> <JSON>' (skipped)" ]
	[ "${stderr_lines[4]}" = "chr-feed: skipped 4 bad lines of 6" ]
	run -0 bash -c "chr-tail --format text out.ev | awk '{ if (\$2 == \"TRADE\") print \$2, \$NF; else print \$2 }'"
	assert_output "DEFINE
TRADE id=1
TRADE id=3"
}

@test "gzip and plain captures, several files, stdin, --format json, --out QUEUE" {
	set -o pipefail
	gzip -c "$SPOT" >s.gz
	$T chr-feed --venue binance --capture "$SPOT" >plain.ev
	$T chr-feed --venue binance --capture s.gz | cmp plain.ev -
	$T chr-feed --venue binance --capture <s.gz | cmp plain.ev -
	$T chr-feed --venue binance --capture - <"$SPOT" | cmp plain.ev -
	# two files are one stream: the second adds its records after the first's
	run -0 bash -c "chr-feed --venue binance --capture '$SPOT' '$SPOT' | chr-tail --format text | wc -l"
	[ "$output" -ge 20 ]
	run -0 bash -c "chr-feed --venue binance --capture '$SPOT' --format json | head -1"
	assert_output --partial '"type_name":"BOOK_SNAPSHOT","flags":2,"seq":1,"ts":1003,'
	run -0 $T chr-feed --venue binance --capture "$SPOT" --out q
	run -0 bash -c "chr-tail q | cmp - plain.ev"
	run -2 --separate-stderr $T chr-feed --venue binance --capture "$SPOT" --out q2 --format json
	[[ "$stderr" == "chr-feed: --out takes binary records"* ]]
}

@test "-h, --version, misuse, an unreadable file, the reader closing early" {
	run -0 $T chr-feed --help
	assert_line -n 0 "usage: chr-feed --venue NAME --symbols S,S... [--ws-url URL] [--rest-url URL]"
	assert_line -n 4 "       chr-feed --venue NAME --capture [--symbol S] [--skip-bad]"
	run -0 $T chr-feed --version
	assert_output --regexp "^chr-feed [0-9]"
	run -2 --separate-stderr $T chr-feed --venue binance
	[ "${stderr_lines[0]}" = "chr-feed: no input: --symbols S,S... (live mode) or --capture [FILE...]" ]
	run -2 --separate-stderr $T chr-feed --capture "$SPOT"
	[[ "$stderr" == "chr-feed: --venue is required"* ]]
	run -2 --separate-stderr $T chr-feed --venue kraken --capture "$SPOT"
	[ "${stderr_lines[0]}" = "chr-feed: --venue: unknown venue 'kraken' (binance-futures, binance-delivery, binance)" ]
	run -2 $T chr-feed --venue binance --capture --bogus
	run -3 --separate-stderr $T chr-feed --venue binance --capture nonexistent.txt
	[[ "$stderr" == "chr-feed: cannot open 'nonexistent.txt'"* ]]
	run -0 --separate-stderr bash -c "chr-feed --venue binance-futures --capture '$CAP' | head -c 100 | wc -c"
	assert_output 100
	[ -z "$stderr" ]
}

@test "reading a pipe, the records of the lines so far go out before it waits" {
	mkfifo in
	$T chr-feed --venue binance --capture in >out.ev &
	exec 7>in
	head -6 "$SPOT" >&7
	until_ok test -s out.ev
	run -0 bash -c "chr-tail --format text out.ev | cut -d' ' -f2 | sort -u"
	assert_output "BOOK_DIFF
BOOK_SNAPSHOT
DEFINE
QUOTE"
	exec 7>&-
	wait
}

@test "empty captures and blank lines write nothing" {
	run -0 --separate-stderr $T chr-feed --venue binance --capture </dev/null
	assert_output ""
	printf '\n\n' >blank.txt
	run -0 --separate-stderr $T chr-feed --venue binance --capture blank.txt
	assert_output ""
	[ -z "$stderr" ]
}
