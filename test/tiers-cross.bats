#!/usr/bin/env bats
# Writes that meet a colder tier (docs/tiers.md, "Writers and tiers"): half
# a day written, that date moved to cold by chr-tier, the other half
# written. chr-sink --archive, chr-import-tardis and chr-seal-copy refuse
# (exit 1, naming the tier) rather than start a second copy of the date in
# hot; what was read before is read still, every record once; after the
# partition is moved back, the rest is written and every record is read
# back exactly once. A date that is in two tiers with different segments
# anyway is not read at all (exit 1, naming both).

load test_helper

V=binance-futures
P=v1/$V/S0/2024-08-08/book
TIER=(--cold C --cold-after 1d --now 2024-08-10T00:00:00Z --once)

# a day of S0 (test/gen-day) split at noon into h1.ev and h2.ev
setup() {
	cd "$BATS_TEST_TMPDIR" || return 1
	"$TOP/test/gen-day" --every 60 --date 2024-08-08 S0 | $T chr-csv2ev >all.ev || return 1
	$T chr-tail all.ev --until 2024-08-08T12:00:00Z >h1.ev
	$T chr-tail all.ev --from 2024-08-08T12:00:00Z >h2.ev
}

# the records of a stream as JSON lines, DEFINE left out (a reader gives
# each instrument's DEFINE where it starts)
recs() {
	$T chr-tail --format json "$@" | grep -v '"type_name":"DEFINE"'
}

@test "chr-sink --archive refuses a date that a colder tier holds; moved back, it appends" {
	[ "$(recs h1.ev | wc -l)" -gt 100 ] && [ "$(recs h2.ev | wc -l)" -gt 100 ]
	run -0 --separate-stderr $T chr-sink --archive A --source h1 h1.ev
	run -0 --separate-stderr $T chr-tier --root A "${TIER[@]}"
	[ -d C/$P ] && [ ! -e A/$P ]
	# tiers named by chr-tier's flags: the manifest says where they are
	run -1 --separate-stderr $T chr-sink --archive A --source h2 h2.ev
	[[ $stderr == *"partition '$P' lives in tier cold ("*"/C/$P'): writing it into 'A' would split its date between two tiers; move it back into 'A' first"* ]]
	[ ! -e A/$P ]
	# nothing half read: the first half, once
	cmp <(recs --archive A --venue $V --symbol S0) <(recs h1.ev)
	run -0 --separate-stderr $T chr-tier --root A "${TIER[@]}"
	# the same with the tier in chr-tier.conf, and with --append
	echo "cold $PWD/C 1d" >A/chr-tier.conf
	rm A/manifest.db
	run -1 --separate-stderr $T chr-sink --archive A --source h2 --append h2.ev
	[[ $stderr == *"partition '$P' lives in tier cold ('$PWD/C/$P')"* ]]
	# moved back, the other half is appended: every record once
	mkdir -p "$(dirname A/$P)" && mv C/$P A/$P
	run -0 --separate-stderr $T chr-sink --archive A --source h2 --append h2.ev
	cmp <(recs --archive A --venue $V --symbol S0) <(recs all.ev)
	run -0 --separate-stderr $T chr-tier --root A --now 2024-08-10T00:00:00Z --once
	[ -d C/$P ] && [ ! -e A/$P ]
	cmp <(recs --archive A --venue $V --symbol S0) <(recs all.ev)
}

@test "a date in two tiers with different segments is not read, naming both" {
	run -0 --separate-stderr $T chr-sink --archive A --source h1 h1.ev
	run -0 --separate-stderr $T chr-tier --root A "${TIER[@]}"
	# a second copy of the date in hot, as a writer that did not look made
	run -0 --separate-stderr $T chr-sink --archive B --source h2 h2.ev
	mkdir -p "$(dirname A/$P)" && mv B/$P A/$P
	run -1 --separate-stderr $T chr-tail --archive A --venue $V --symbol S0
	assert_equal "$output" ""
	[[ $stderr == *"partition '$P' is in tiers hot ('A/$P') and cold ("*"/C/$P') with different segments: either alone is part of its date, so neither is read"* ]]
	# the same segments in both (a move cut short) are one copy
	rm -r A/$P && cp -a C/$P A/$P
	cmp <(recs --archive A --venue $V --symbol S0) <(recs h1.ev)
}

@test "chr-import-tardis refuses a file whose date a colder tier holds, recording nothing" {
	local src=$DATA/binance-futures_trades_BTCUSDT_2024-08-08.csv.gz n
	gzip -cd "$src" | head -n 10001 >t1.csv
	gzip -cd "$src" | sed -n '1p;10002,$p' >t2.csv
	run -0 --separate-stderr $T chr-import-tardis --archive A t1.csv
	run -0 --separate-stderr $T chr-tier --root A "${TIER[@]}"
	q=v1/$V/BTCUSDT/2024-08-08/trade
	[ -d C/$q ] && [ ! -e A/$q ]
	run -1 --separate-stderr $T chr-import-tardis --archive A t2.csv
	[[ $stderr == *"partition '$q' lives in tier cold ("*"/C/$q')"* ]]
	[ ! -e A/$q ]
	# the ledger holds the first file alone, the reader its records once
	[ "$(ls A/imports/v1/tardis/$V/BTCUSDT/2024-08-08 | wc -l)" = 1 ]
	cmp <(recs --archive A --venue $V --symbol BTCUSDT --stream trade) \
		<($T chr-csv2ev t1.csv | recs)
	n=$(recs --archive A --venue $V --symbol BTCUSDT --stream trade | wc -l)
	[ "$n" -gt 1000 ]
}

@test "chr-seal-copy stops at a segment whose date a colder tier holds, every time" {
	$T chr-sink --queue Q --create -S 16K h1.ev
	run -0 --separate-stderr $T chr-seal-copy --source Q --archive-root A --venue $V --once
	n1=$(ls A/raw/v1/$V/2024-08-08/raw/*.q | wc -l)
	[ "$n1" -ge 2 ]
	run -0 --separate-stderr $T chr-tier --root A "${TIER[@]}"
	[ -d C/raw/v1/$V/2024-08-08/raw ] && [ ! -e A/raw/v1/$V/2024-08-08 ]
	recs --archive A --venue $V --stream raw >cold.json
	$T chr-sink --queue Q -S 16K h2.ev
	for i in 1 2; do
		run -1 --separate-stderr $T chr-seal-copy --source Q --archive-root A --venue $V --once
		[[ $stderr == *"partition 'raw/v1/$V/2024-08-08/raw' lives in tier cold ("*"/C/raw/v1/$V/2024-08-08/raw'), not in 'A': segment "*" is not archived; move the partition back into 'A'"* ]]
		[ ! -e A/raw/v1/$V/2024-08-08 ]
	done
	# what the reader gives is what was archived, once
	cmp <(recs --archive A --venue $V --stream raw) cold.json
	# moved back, the rest is archived: the sealed segments' records, once
	mkdir -p A/raw/v1/$V/2024-08-08
	mv C/raw/v1/$V/2024-08-08/raw A/raw/v1/$V/2024-08-08/raw
	run -0 --separate-stderr $T chr-seal-copy --source Q --archive-root A --venue $V --once
	recs --archive A --venue $V --stream raw >all.json
	[ "$(wc -l <all.json)" -gt "$(wc -l <cold.json)" ]
	cmp all.json <(recs Q | head -n "$(wc -l <all.json)")
	run -0 --separate-stderr $T chr-tier --root A "${TIER[@]}"
	cmp all.json <(recs --archive A --venue $V --stream raw)
}

@test "chr-seal-copy finds the segments it archived in the tier they were moved to" {
	$T chr-sink --queue Q --create -S 16K h1.ev
	run -0 --separate-stderr $T chr-seal-copy --source Q --archive-root A --venue $V --once
	recs --archive A --venue $V --stream raw >before.json
	run -0 --separate-stderr $T chr-tier --root A "${TIER[@]}"
	# another reader of the queue archives from its start: every segment
	# is in cold already, nothing is written in hot
	run -0 --separate-stderr $T chr-seal-copy --source Q --archive-root A --venue $V --once --reader again
	[ ! -e A/raw/v1/$V/2024-08-08 ]
	cmp before.json <(recs --archive A --venue $V --stream raw)
}
