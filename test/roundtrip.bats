#!/usr/bin/env bats
# Tardis CSV -> records -> Tardis CSV reproduces every row's values, directly
# (chr-csv2ev | chr-tail --format csv) and through the archive
# (chr-csv2ev | chr-sink --archive, then chr-tail --archive --format csv).

load test_helper

# roundtrip FILE VENUE SYMBOL STREAM [csvcmp options]
roundtrip() {
	local f="$DATA/$1" venue=$2 symbol=$3 stream=$4
	shift 4
	command -v chr-csv2ev >/dev/null || skip "chr-csv2ev is not built yet"
	(set -o pipefail; $T chr-csv2ev "$f" | $T chr-tail --format csv >direct.csv)
	"$TOP/test/csvcmp" "$@" "$f" direct.csv
	command -v chr-sink >/dev/null || skip "chr-sink is not built yet"
	(set -o pipefail; $T chr-csv2ev "$f" | $T chr-sink --archive A)
	$T chr-tail --archive A --venue "$venue" --symbol "$symbol" --stream "$stream" \
		--format csv >archive.csv
	"$TOP/test/csvcmp" "$@" "$f" archive.csv
}

@test "roundtrip: binance-futures trades excerpt" {
	roundtrip binance-futures_trades_BTCUSDT_2020-02-22_excerpt.csv binance-futures BTCUSDT trade
}

@test "roundtrip: binance-futures trades (gzip)" {
	roundtrip binance-futures_trades_BTCUSDT_2024-08-08.csv.gz binance-futures BTCUSDT trade
}

@test "roundtrip: bitmex trades" {
	roundtrip bitmex_trades_XBTUSD.csv bitmex XBTUSD trade
}

@test "roundtrip: binance-futures quotes excerpt" {
	roundtrip binance-futures_quotes_BTCUSDT_2020-02-22_excerpt.csv binance-futures BTCUSDT quote
}

@test "roundtrip: binance-futures quotes (gzip)" {
	roundtrip binance-futures_quotes_BTCUSDT_2024-08-08.csv.gz binance-futures BTCUSDT quote
}

@test "roundtrip: huobi-dm-swap quotes" {
	roundtrip huobi-dm-swap_quotes_BTC-USD.csv huobi-dm-swap BTC-USD quote
}

@test "roundtrip: binance-futures book_snapshot_5" {
	roundtrip binance-futures_book_snapshot_5_BTCUSDT.csv binance-futures BTCUSDT topn
}

@test "roundtrip: binance-futures book_snapshot_25" {
	roundtrip binance-futures_book_snapshot_25_BTCUSDT.csv binance-futures BTCUSDT topn
}

@test "roundtrip: binance-futures incremental_book_L2 (gzip)" {
	roundtrip binance-futures_incremental_book_L2_BTCUSDT_2024-08-08.csv.gz binance-futures BTCUSDT book \
		--skip-before-snapshot
}

@test "roundtrip: deribit incremental_book_L2" {
	roundtrip deribit_incremental_book_L2_BTC-PERPETUAL.csv deribit BTC-PERPETUAL book \
		--skip-before-snapshot
}

@test "roundtrip: synthetic incremental_book_L2 with two snapshots" {
	roundtrip synthetic_incremental_book_L2_two_snapshots.csv binance-futures BTCUSDT book \
		--skip-before-snapshot
}
