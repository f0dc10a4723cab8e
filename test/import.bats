#!/usr/bin/env bats
# scripts/chr-import-tardis: the ledger, idempotent re-runs, --force, and
# imports killed at random moments repaired by running again.

load test_helper

TRADES="$DATA/binance-futures_trades_BTCUSDT_2024-08-08.csv.gz"
L2="$DATA/binance-futures_incremental_book_L2_BTCUSDT_2024-08-08.csv.gz"
LEDGER=archive/imports/v1/tardis/binance-futures/BTCUSDT/2024-08-08

# the archive without the ledger's import times and the lock file
snapshot() {
	(cd "$1" && find . -type f -not -path './.staging/*' -not -path './imports/*' | sort |
		xargs -r xxhsum -H2)
}

@test "-h, --version and misuse" {
	run -0 $T chr-import-tardis -h
	assert_line --index 0 "usage: chr-import-tardis [--archive ROOT] [--force] [-v] FILE..."
	run -0 $T chr-import-tardis --version
	run -2 --separate-stderr $T chr-import-tardis
	assert_equal "${stderr_lines[0]}" "chr-import-tardis: no input FILE"
	run -2 $T chr-import-tardis --bogus x
	run -2 $T chr-import-tardis --archive
}

@test "an import writes the partitions, then one ledger entry" {
	run -0 --separate-stderr $T chr-import-tardis "$TRADES"
	assert_equal "$stderr" ""
	h=$(xxhsum -H2 <"$TRADES" | cut -d' ' -f1)
	[ -f $LEDGER/$h.json ]
	grep -q "\"hash\": \"xxh3-128:$h\"" $LEDGER/$h.json
	grep -q "\"source\": \"$TRADES\"" $LEDGER/$h.json
	grep -q '"rows": 21313,' $LEDGER/$h.json
	grep -q '"events": 21313,' $LEDGER/$h.json
	grep -q '"import_time": "' $LEDGER/$h.json
	grep -q "\"$h\"" archive/v1/binance-futures/BTCUSDT/2024-08-08/trade/meta.json
	run -0 bash -c "cat archive/v1/binance-futures/BTCUSDT/2024-08-08/trade/*.q | chr-tail --format text | wc -l"
	assert_output 21314
}

@test "a second run is a no-op that says so; the archive is byte-identical" {
	$T chr-import-tardis --archive archive "$TRADES" "$L2"
	snapshot archive >before
	cp -a archive/imports imports.before
	run -0 --separate-stderr $T chr-import-tardis --archive archive "$TRADES"
	h=$(xxhsum -H2 <"$TRADES" | cut -d' ' -f1)
	assert_equal "$stderr" "chr-import-tardis: $TRADES: already imported (archive/imports/v1/tardis/binance-futures/BTCUSDT/2024-08-08/$h.json)"
	snapshot archive >after
	cmp before after
	diff -r imports.before archive/imports
	run -0 ls $LEDGER
	assert_equal "${#lines[@]}" 2
}

@test "--force re-imports, replacing the partitions without duplicating" {
	$T chr-import-tardis "$TRADES"
	snapshot archive >before
	run -0 --separate-stderr $T chr-import-tardis --force "$TRADES"
	assert_equal "$stderr" ""
	snapshot archive >after
	cmp before after
	run -0 ls $LEDGER
	assert_equal "${#lines[@]}" 1
	grep -q '"action": "replaced"' $LEDGER/*.json
}

@test "a failing converter imports nothing and writes no ledger entry" {
	run -1 --separate-stderr $T chr-import-tardis "$DATA/corrupt_binance-futures_trades.csv.gz"
	assert_regex "$stderr" "chr-import-tardis: .*corrupt_binance-futures_trades.csv.gz: chr-csv2ev failed; nothing imported"
	[ ! -e archive/v1 ]
	[ ! -e archive/imports ]
	run -3 --separate-stderr $T chr-import-tardis nonexistent.csv
	assert_equal "$stderr" "chr-import-tardis: cannot read 'nonexistent.csv'"
}

@test "an import killed at random moments, then run again, equals an uninterrupted one" {
	# a larger day of trades, so that kills land while it runs
	{
		echo "exchange,symbol,timestamp,local_timestamp,id,side,price,amount"
		awk 'BEGIN { t = 1723161600000000; for (i = 0; i < 300000; i++) {
			printf "binance-futures,BTCUSDT,%.0f,%.0f,%d,%s,%d.%d,0.%03d\n",
				t + i * 100, t + i * 100 + 7, i, (i % 3 ? "buy" : "sell"),
				60000 + i % 500, i % 10, 1 + i % 999 } }'
	} >big.csv
	$T chr-import-tardis --archive ref big.csv "$TRADES"
	snapshot ref >ref.sum
	for delay in 0.05 0.15 0.3 0.5 0.8 0.02; do
		setsid chr-import-tardis --archive archive big.csv "$TRADES" 2>/dev/null &
		pid=$!
		sleep $delay
		kill -KILL -- -$pid 2>/dev/null || true
		wait $pid || true
		# until the killed processes are gone (zombies aside)
		for i in $(seq 200); do
			ps -eo pgid=,stat= | awk -v g=$pid '$1 == g && $2 !~ /^Z/ { f = 1 } END { exit !f }' || break
			sleep 0.05
		done
		# whatever is published is whole: every partition has its meta.json
		# and every segment listed there; a ledger entry means its data is in
		for d in archive/v1/*/*/*/*; do
			[ -e "$d" ] || continue
			[ -f "$d/meta.json" ]
			for q in "$d"/*.q; do grep -q "\"file\": \"${q##*/}\"" "$d/meta.json"; done
		done
		for l in archive/imports/v1/tardis/*/*/*/*.json; do
			[ -e "$l" ] || continue
			grep -q "\"$(basename "$l" .json)\"" archive/v1/binance-futures/BTCUSDT/*/trade/meta.json
		done
	done
	run -0 $T chr-import-tardis --archive archive big.csv "$TRADES"
	snapshot archive >got.sum
	cmp ref.sum got.sum
	diff <(cd ref/imports && find . | sort) <(cd archive/imports && find . | sort)
	# runs that had nothing left to import did not start chr-sink; any run
	# of it removes what killed runs left in staging
	$T chr-sink --archive archive </dev/null
	run -0 ls -A archive/.staging
	assert_output lock
}
