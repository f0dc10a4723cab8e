#!/usr/bin/env bats
# chr-ls: the partitions of an archive across hot, warm and cold tiers,
# plain and compressed, raw included, from the manifest or the files; its
# filters and formats; names that do not exist, in chr-ls and chr-tail.

load test_helper

# make_ls: archive R with BTCUSDT and ETHUSDT trades on 2024-01-01..03
# (several segments a partition), raw partitions of venue binance (plain)
# and rawz (compressed by chr-seal-copy), tiers warm (W, plain) and cold
# (C, zstd) in R/chr-tier.conf, and one pass at 2024-01-04T12:00: the
# first day in cold, the second in warm, the third in hot
make_ls() {
	local s
	for s in BTCUSDT ETHUSDT; do
		gen_csv 3 300 $s >$s.csv
		$T chr-csv2ev $s.csv | $T chr-sink --archive R --segment-size 8192
	done
	$T chr-csv2ev BTCUSDT.csv | $T chr-sink --queue Q --create --segment-size 16384
	$T chr-seal-copy --source Q --archive-root R --venue binance --once 2>/dev/null
	$T chr-csv2ev ETHUSDT.csv | $T chr-sink --queue QZ --create --segment-size 16384
	$T chr-seal-copy --source QZ --archive-root R --venue rawz --zstd --once 2>/dev/null
	printf 'warm %s/W 1d\ncold %s/C 2d zstd\n' "$PWD" "$PWD" >R/chr-tier.conf
	$T chr-tier --root R --now 2024-01-04T12:00 --once 2>/dev/null
}

# check_csv FILE: every row of chr-ls --format csv agrees with the files:
# bytes are the segment files' sizes, compression their names, records and
# the ts range what chr-tail reads from the partition, tier where it lies
check_csv() {
	python3 - "$1" <<'EOF'
import csv, json, os, subprocess, sys
rows = list(csv.DictReader(open(sys.argv[1])))
assert rows, "no rows"
for r in rows:
    p = r["path"]
    segs = sorted(f for f in os.listdir(p) if f.endswith(".q") or f.endswith(".q.zst"))
    assert int(r["segments"]) == len(segs), (p, r["segments"], segs)
    assert int(r["bytes"]) == sum(os.path.getsize(os.path.join(p, f)) for f in segs), p
    z = sum(f.endswith(".zst") for f in segs)
    assert r["compression"] == ("none" if z == 0 else "zstd" if z == len(segs) else "mixed"), p
    # the records stored, DEFINE repeats included: the segments as one
    # stream (a reader of the partition leaves the repeats out)
    cat = " ".join(("zstd -qdc " if f.endswith(".zst") else "cat ") + os.path.join(p, f) + ";" for f in segs)
    out = subprocess.run("{ %s } | chr-tail --format json --defines" % cat, shell=True, capture_output=True, check=True).stdout
    ts = [json.loads(l)["ts"] for l in out.decode().splitlines()]
    assert int(r["records"]) == len(ts), (p, r["records"], len(ts))
    assert int(r["ts_min"]) == min(ts) and int(r["ts_max"]) == max(ts), p
    tierdir = {"hot": "R/", "warm": os.getcwd() + "/W/", "cold": os.getcwd() + "/C/"}[r["tier"]]
    assert p.startswith(tierdir), (p, r["tier"])
    assert (r["symbol"] == "") == (r["stream"] == "raw"), p
print(len(rows))
EOF
}

@test "-h, --version and misuse" {
	run -0 $T chr-ls -h
	[[ "${lines[0]}" == "usage: chr-ls [--venue glob]... [--symbol glob]... [--format text|json|csv]" ]]
	[[ "$output" == *"--format fmt"* ]]
	run -0 $T chr-ls --version
	[[ "$output" == "chr-ls "* ]]
	run -2 --separate-stderr $T chr-ls
	[ "$stderr" = "chr-ls: no archive root given
Try 'chr-ls --help' for more information." ]
	run -2 --separate-stderr $T chr-ls R S
	[ "${stderr_lines[0]}" = "chr-ls: one archive root only ('S' is another)" ]
	run -2 --separate-stderr $T chr-ls --format binary R
	[ "${stderr_lines[0]}" = "chr-ls: unknown format 'binary' (text, json, csv)" ]
	run -2 --separate-stderr $T chr-ls --bogus R
	[ "${stderr_lines[0]}" = "chr-ls: unknown option '--bogus'" ]
	run -0 man -l "$TOP/bin/chr-ls/chr-ls.1"
	[[ "$output" == *"manifest.db"* ]]
}

@test "what is not an archive is refused; an empty archive lists nothing" {
	run -3 --separate-stderr $T chr-ls NOPE
	[ "$stderr" = "chr-ls: cannot open 'NOPE': No such file or directory" ]
	: >FILE
	run -1 --separate-stderr $T chr-ls FILE
	[ "$stderr" = "chr-ls: 'FILE' is not an archive: not a directory" ]
	mkdir D
	touch D/x.csv
	run -1 --separate-stderr $T chr-ls D
	[ "$stderr" = "chr-ls: 'D' is not an archive: it holds no v1/, raw/, manifest.db or chr-tier.conf" ]
	$T chr-tier --root E --create --once
	run -0 --separate-stderr $T chr-ls E
	[ "$output" = "VENUE  SYMBOL  DATE  STREAM  TIER  SEGS  RECORDS  BYTES  COMPRESSION  FIRST  LAST" ]
	[ -z "$stderr" ]
	run -0 $T chr-ls --format csv E
	[ "$output" = "venue,symbol,date,stream,tier,segments,records,bytes,raw_bytes,compression,ts_min,ts_max,first,last,path" ]
	run -0 $T chr-ls --format json E
	[ -z "$output" ]
}

@test "hot, warm and cold tiers, plain and compressed, raw included: every number agrees with the files" {
	make_ls
	$T chr-ls --format csv R >ls.csv
	run -0 check_csv ls.csv
	# 2 symbols x 3 days, and the raw partitions of two venues
	[ "$(grep -c ',trade,' ls.csv)" = 6 ]
	[ "$(grep -c ',,.*,raw,' ls.csv)" -ge 2 ]
	grep -q '^binance,BTCUSDT,2024-01-01,trade,cold,.*,zstd,' ls.csv
	grep -q '^binance,BTCUSDT,2024-01-02,trade,warm,.*,none,' ls.csv
	grep -q '^binance,BTCUSDT,2024-01-03,trade,hot,.*,none,' ls.csv
	grep -q '^rawz,,2024-01-03,raw,hot,.*,zstd,' ls.csv
	grep -q '^binance,,2024-01-03,raw,hot,.*,none,' ls.csv
	# the text view: the same partitions, aligned for people
	run -0 --separate-stderr $T chr-ls R
	[ "${#lines[@]}" = "$(wc -l <ls.csv)" ]
	[[ "${lines[0]}" == "VENUE    SYMBOL   DATE        STREAM  TIER  SEGS  RECORDS  BYTES  COMPRESSION  FIRST                           LAST" ]]
	[[ "${lines[1]}" =~ ^"binance  -        2024-01-01  raw     cold  "\ +[0-9]+\ +[0-9]+\ +[0-9]+"  zstd         2024-01-01T00:00:00.000100000Z  2024-01-0"[12]T ]]
	local l col
	col=$(awk 'NR == 1 { print index($0, "FIRST") }' <<<"$output")
	for l in "${lines[@]:1}"; do
		[ "${l:$((col - 1)):4}" = 2024 ] || { echo "not aligned: $l"; return 1; }
	done
	# json: one object per line, the same numbers as csv
	$T chr-ls --format json R >ls.json
	python3 - <<'EOF'
import csv, json
c = list(csv.DictReader(open("ls.csv")))
j = [json.loads(l) for l in open("ls.json")]
assert len(c) == len(j)
for a, b in zip(c, j):
    for k in ("venue", "date", "stream", "tier", "compression", "first", "last", "path"):
        assert a[k] == b[k], (k, a[k], b[k])
    # a raw partition's symbol: null in JSON, empty in CSV
    assert a["symbol"] == (b["symbol"] or "") and (b["symbol"] is None) == (b["stream"] == "raw")
    for k in ("segments", "records", "bytes", "raw_bytes", "ts_min", "ts_max"):
        assert int(a[k]) == b[k], (k, a[k], b[k])
EOF
}

@test "the tiers after hot come from manifest.db when it reads, else from the files: the same listing" {
	make_ls
	[ -f R/manifest.db ]
	run -0 --separate-stderr $T chr-ls -v R
	[ "$stderr" = "chr-ls: 12 partitions; the tiers after hot from manifest.db, the hot tier from its files" ]
	local with=$output
	# the manifest is what is read: a cold partition's meta.json hidden
	mv C/v1/binance/ETHUSDT/2024-01-01/trade/meta.json hidden.json
	run -0 $T chr-ls --format csv --symbol ETHUSDT R
	[[ "$output" == *"ETHUSDT,2024-01-01,trade,cold,"* ]]
	mv hidden.json C/v1/binance/ETHUSDT/2024-01-01/trade/meta.json
	# no manifest: the files of the tiers of chr-tier.conf
	mv R/manifest.db manifest.db
	run -0 --separate-stderr $T chr-ls -v R
	[ "$stderr" = "chr-ls: 12 partitions; from the files of every tier" ]
	[ "$output" = "$with" ]
	# a manifest that cannot be read: said, then the files
	echo garbage >R/manifest.db
	run -0 --separate-stderr $T chr-ls R
	[ "$output" = "$with" ]
	[[ "$stderr" == "chr-ls: cannot open manifest 'R/manifest.db': "*"; the files of every tier are read instead" ]]
	# a partition in hot the manifest does not know yet is listed
	mv manifest.db R/manifest.db
	gen_csv 1 10 SOLUSDT >s.csv
	$T chr-csv2ev s.csv | $T chr-sink --archive R
	run -0 $T chr-ls --format csv --symbol SOLUSDT R
	[[ "${lines[1]}" == "binance,SOLUSDT,2024-01-01,trade,hot,1,11,"* ]]
}

@test "a partition whose meta.json cannot be read is named, the others listed, exit 1" {
	make_ls
	echo '{' >R/v1/binance/BTCUSDT/2024-01-03/trade/meta.json
	run -1 --separate-stderr $T chr-ls --format csv R
	[ "${#lines[@]}" = 12 ]
	[ "${stderr_lines[0]}" = "chr-ls: 'R/v1/binance/BTCUSDT/2024-01-03/trade/meta.json': line 2: string or '}' expected near end of file" ]
	[ "${stderr_lines[1]}" = "chr-ls: 1 partition could not be read (above)" ]
	run -1 --separate-stderr $T chr-ls -q R
	[ "$stderr" = "chr-ls: 1 partition could not be read (--quiet hid why)" ]
}

@test "--venue and --symbol: globs, repeatable; a pattern that matches nothing names what exists" {
	make_ls
	run -0 $T chr-ls --format csv --venue rawz R
	[ "${#lines[@]}" -ge 2 ]
	[ -z "$(printf '%s\n' "${lines[@]:1}" | grep -v '^rawz,,')" ]
	run -0 $T chr-ls --format csv --venue binance --symbol 'ETH*' R
	[ "${#lines[@]}" = 4 ]
	[ -z "$(printf '%s\n' "${lines[@]:1}" | grep -v '^binance,ETHUSDT,')" ]
	run -0 $T chr-ls --format csv --symbol ETHUSDT --symbol BTCUSDT R
	[ "${#lines[@]}" = 7 ]
	run -1 --separate-stderr $T chr-ls --venue binanse R
	[ "$output" = "" ]
	[ "$stderr" = "chr-ls: no venue 'binanse' in 'R'; venues: binance, rawz" ]
	run -1 --separate-stderr $T chr-ls --venue binance --symbol btcusdt R
	[ "$stderr" = "chr-ls: no symbol 'btcusdt' for venue binance in 'R'; symbols: BTCUSDT, ETHUSDT" ]
	run -1 --separate-stderr $T chr-ls --symbol 'XRP*' R
	[ "$stderr" = "chr-ls: no symbol 'XRP*' in 'R'; symbols: BTCUSDT, ETHUSDT" ]
	# the raw venue has no symbols
	run -1 --separate-stderr $T chr-ls --venue rawz --symbol ETHUSDT R
	[ "$stderr" = "chr-ls: no symbol 'ETHUSDT' for venue rawz in 'R'; symbols: none" ]
}

@test "the reader closing early ends chr-ls quietly" {
	make_ls
	$T chr-ls R 2>err | head -1 >first
	[ "$(cut -c1-5 first)" = VENUE ]
	[ ! -s err ]
}

@test "chr-tail --archive: a name that does not exist is answered with those that do, closest first" {
	make_ls
	gen_csv 1 10 BTCUSDC >c.csv
	$T chr-csv2ev c.csv | $T chr-sink --archive R
	run -1 --separate-stderr $T chr-tail --archive R --venue binance --symbol btcusdt --stream trade
	[ "$stderr" = "chr-tail: no symbol 'btcusdt' for venue binance in 'R'; symbols: BTCUSDT, BTCUSDC, ETHUSDT" ]
	run -1 --separate-stderr $T chr-tail --archive R --venue binance --symbol ETHUSD --stream trade
	[ "$stderr" = "chr-tail: no symbol 'ETHUSD' for venue binance in 'R'; symbols: ETHUSDT, BTCUSDC, BTCUSDT" ]
	run -1 --separate-stderr $T chr-tail --archive R --venue Binance --symbol BTCUSDT --stream trade
	[ "$stderr" = "chr-tail: no venue 'Binance' in 'R'; venues: binance" ]
	run -1 --separate-stderr $T chr-tail --archive R --venue rawz --symbol BTCUSDT --stream trade
	[ "$stderr" = "chr-tail: no venue 'rawz' in 'R'; venues: binance ('rawz' has raw partitions only: --stream raw)" ]
	run -1 --separate-stderr $T chr-tail --archive R --venue binance --symbol BTCUSDT
	[ "$stderr" = "chr-tail: no stream 'book' for binance BTCUSDT in 'R'; streams: trade" ]
	# dates by distance in time, across the tiers (cold, warm, hot)
	run -1 --separate-stderr $T chr-tail --archive R --venue binance --symbol BTCUSDT --stream trade --date 2024-01-05
	[ "$stderr" = "chr-tail: no date '2024-01-05' for binance BTCUSDT trade in 'R'; dates: 2024-01-03, 2024-01-02, 2024-01-01" ]
	run -1 --separate-stderr $T chr-tail --archive R --venue binanse --stream raw
	[ "$stderr" = "chr-tail: no raw venue 'binanse' in 'R'; raw venues: binance, rawz" ]
	run -1 --separate-stderr $T chr-tail --archive R --venue rawz --stream raw --date 2023-12-31
	[[ "$stderr" == "chr-tail: no date '2023-12-31' for raw venue rawz in 'R'; dates: 2024-01-01, "* ]]
	# the names exist: read as before
	run -0 $T chr-tail --archive R --venue binance --symbol BTCUSDT --stream trade --date 2024-01-01 --format text
	[ "${#lines[@]}" = 301 ]
}
