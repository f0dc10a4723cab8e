#!/usr/bin/env bats
# scripts/chr-import-tardis: the ledger, idempotent re-runs, --force, a
# failing converter publishing nothing (two phases: stage, then publish),
# and imports killed at random moments repaired by running again.

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
	assert_line --index 0 "usage: chr-import-tardis [--archive ROOT] [--force] [-j N] [--progress] [-v] FILE..."
	run -0 $T chr-import-tardis --version
	# -V as in every program (docs/programs.md), the other scripts too
	for s in chr-import-tardis chr-refine chr-archive-tap chr-plot; do
		run -0 $T $s -V
		[ "$output" = "$s 0.1.0" ]
	done
	run -2 --separate-stderr $T chr-import-tardis
	assert_equal "${stderr_lines[0]}" "chr-import-tardis: no input FILE"
	run -2 $T chr-import-tardis --bogus x
	run -2 $T chr-import-tardis --archive
}

@test "an import writes the partitions, then one ledger entry" {
	run -0 --separate-stderr $T chr-import-tardis "$TRADES"
	assert_equal "$stderr" ""
	h=$(gzip -cd "$TRADES" | xxhsum -H2 | cut -d' ' -f1)
	[ -f $LEDGER/$h.json ]
	events=$(gzip -cd "$TRADES" | tail -n +2 | cut -d, -f4 | uniq | wc -l)
	python3 - $LEDGER/$h.json "$h" "$TRADES" "$events" <<'PY'
import json, os, re, sys
path, h, src, events = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
l = json.load(open(path))
assert l["format"] == "chronicle-import-ledger" and l["version"] == 1 and l["vendor"] == "tardis", l
assert l["source"] == h, l
assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", l["import_time"]), l
assert l["records"] == 21313 and l["records_written"] == 21314 and l["segments"] == 1, l
p = l["partitions"]
assert len(p) == 1 and p[0]["path"] == "v1/binance-futures/BTCUSDT/2024-08-08/trade", p
assert p[0]["action"] == "new" and p[0]["records"] == 21314 and p[0]["segments"] == 1, p
assert (l["ts_min"], l["ts_max"]) == (p[0]["ts_min"], p[0]["ts_max"]), l
i = l["input"]
assert i["format"] == "chronicle-csv2ev-report" and len(i["inputs"]) == 1, i
f = i["inputs"][0]
assert f["path"] == src and f["bytes"] == os.path.getsize(src), f
assert f["datasets"] == ["trades"] and f["rows"] == 21313 and f["records"] == 21314, f
assert f["events"] == events and i["bad_rows_skipped"] == 0, i
PY
	grep -q "\"$h\"" archive/v1/binance-futures/BTCUSDT/2024-08-08/trade/meta.json
	run -0 bash -c "cat archive/v1/binance-futures/BTCUSDT/2024-08-08/trade/*.q | chr-tail --format text | wc -l"
	assert_output 21314
	run -0 ls -A archive/.staging
	assert_output lock
}

@test "a second run is a no-op that says so; the archive is byte-identical" {
	$T chr-import-tardis --archive archive "$TRADES" "$L2"
	snapshot archive >before
	cp -a archive/imports imports.before
	run -0 --separate-stderr $T chr-import-tardis --archive archive "$TRADES"
	h=$(gzip -cd "$TRADES" | xxhsum -H2 | cut -d' ' -f1)
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
	run -0 find archive/imports -type f
	assert_equal "${#lines[@]}" 1
	python3 -c "import json, sys; l = json.load(open(sys.argv[1])); assert [p['action'] for p in l['partitions']] == ['replaced']" $LEDGER/*.json
}

@test "a failing converter or sink imports nothing and writes no ledger entry" {
	run -1 --separate-stderr $T chr-import-tardis "$DATA/corrupt_binance-futures_trades.csv.gz"
	assert_regex "$stderr" "chr-import-tardis: .*corrupt_binance-futures_trades.csv.gz: chr-csv2ev failed; nothing imported"
	[ ! -e archive/v1 ]
	[ ! -e archive/imports ]
	# a bad row at the end: chr-sink has seen every good record before it
	{ gzip -cd "$TRADES" | head -n 20001; echo "binance-futures,BTCUSDT,1,2,x,buy,6O000,1"; } >bad.csv
	run -1 --separate-stderr $T chr-import-tardis bad.csv
	assert_equal "${stderr_lines[0]}" "chr-csv2ev: bad.csv:20002: price '6O000' is not a decimal"
	assert_equal "${stderr_lines[1]}" "chr-import-tardis: bad.csv: chr-csv2ev failed; nothing imported"
	[ ! -e archive/v1 ]
	[ ! -e archive/imports ]
	# the good rows alone import, and the staged remains of the failure are not published
	head -n 20001 bad.csv >good.csv
	run -0 $T chr-import-tardis good.csv
	[ "$(find archive/imports -type f | wc -l)" = 1 ]
	# chr-sink refusing a partition that holds other data
	mkdir o && gzip -cd "$TRADES" | head -n 11 >o/t.csv
	chr-csv2ev o/t.csv | chr-sink --archive other
	run -1 --separate-stderr $T chr-import-tardis --archive other "$TRADES"
	# one line, and no advice to --append, which could duplicate rows
	assert_equal "$stderr" "chr-import-tardis: $TRADES: partition 'v1/binance-futures/BTCUSDT/2024-08-08/trade' already holds other data (source untagged); nothing imported. Adding this file to it could duplicate rows: to replace that data by this file, remove 'other/v1/binance-futures/BTCUSDT/2024-08-08/trade' (and the ledger entry of its import) and import again"
	[ ! -e other/imports ]
	# following the advice imports it
	rm -r other/v1/binance-futures/BTCUSDT/2024-08-08/trade
	run -0 --separate-stderr $T chr-import-tardis --archive other "$TRADES"
	assert_equal "$stderr" ""
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
	h=$(xxhsum -H2 <big.csv | cut -d' ' -f1)
	# killed between the two phases: staged, not published
	chr-csv2ev big.csv | $T chr-sink --archive archive --source $h --stage
	[ ! -e archive/v1 ]
	# killed after publishing, before the ledger entry
	$T chr-sink --archive archive --source $h --publish
	[ ! -e archive/imports ]
	run -0 $T chr-import-tardis --archive archive big.csv "$TRADES"
	snapshot archive >got.sum
	cmp ref.sum got.sum
	run -0 find archive/imports -type f
	assert_equal "${#lines[@]}" 2
	# killed at random moments; every other run re-imports (--force), so
	# that kills also land in the replacing of whole partitions
	n=0
	for delay in 0.01 0.03 0.05 0.08 0.1 0.12 0.14 0.16 0.18 0.2 0.3 0.5 \
		$((RANDOM % 30)) $((RANDOM % 30)) $((RANDOM % 30)) $((RANDOM % 30)); do
		[[ $delay == *.* ]] || delay=$(printf '%d.%02d' $((delay / 100)) $((delay % 100)))
		force=
		[ $((n++ % 2)) = 0 ] || force=--force
		TMPDIR=$BATS_TEST_TMPDIR setsid chr-import-tardis --archive archive $force big.csv "$TRADES" 2>/dev/null &
		pid=$!
		sleep $delay
		kill -KILL -- -$pid 2>/dev/null || true
		wait $pid || true
		# until the killed processes are gone (zombies aside)
		until_ok group_gone $pid || true
		# whatever is published is whole: every partition has its meta.json,
		# every segment is listed there, and every segment listed is there
		# with its size; a ledger entry means its data is in
		for d in archive/v1/*/*/*/*; do
			[ -e "$d" ] || continue
			[ -f "$d/meta.json" ]
			for q in "$d"/*.q; do grep -q "\"file\": \"${q##*/}\"" "$d/meta.json"; done
			python3 -c 'import json, os, sys
d = sys.argv[1]
for s in json.load(open(d + "/meta.json"))["segments"]:
    assert os.path.getsize(os.path.join(d, s["file"])) == s["bytes"], (d, s)' "$d"
		done
		# the ledger holds entries only, never a temp file
		if [ -d archive/imports ]; then
			run -0 find archive/imports -type f -not -name '*.json'
			assert_output ""
		fi
		for l in archive/imports/v1/tardis/*/*/*/*.json; do
			[ -e "$l" ] || continue
			grep -q "\"$(basename "$l" .json)\"" archive/v1/binance-futures/BTCUSDT/*/trade/meta.json
		done
	done
	run -0 $T chr-import-tardis --archive archive big.csv "$TRADES"
	snapshot archive >got.sum
	cmp ref.sum got.sum
	run -0 find archive/imports -type f
	assert_equal "${#lines[@]}" 2
	diff <(cd ref/imports && find . | sort) <(cd archive/imports && find . | sort)
	# runs that had nothing left to import did not start chr-sink; any run
	# of it removes what killed runs left in staging. A staged, unpublished
	# run of a forced re-import may stay: it is replaced by the next import
	# of that file, or removed once a day old.
	$T chr-sink --archive archive </dev/null
	run -0 ls -A archive/.staging
	h2=$(gzip -cd "$TRADES" | xxhsum -H2 | cut -d' ' -f1)
	for e in "${lines[@]}"; do
		case $e in lock | "staged-$h" | "staged-$h2") ;; *) fail "left in staging: $e" ;; esac
	done
}

@test "an empty or header-only file is an import of nothing: one line, a ledger entry, no rerun" {
	: >empty.csv
	gzip -cd "$TRADES" | head -n 1 >header.csv
	gzip -c header.csv >header.csv.gz
	none=archive/imports/v1/tardis/none/none/none
	for f in empty.csv header.csv; do
		h=$(xxhsum -H2 <$f | cut -d' ' -f1)
		run -0 --separate-stderr $T chr-import-tardis $f
		assert_equal "$stderr" "chr-import-tardis: $f: no data rows (an empty file, or a header alone): imported as nothing (./$none/$h.json)"
		python3 -c "import json, sys; l = json.load(open(sys.argv[1])); assert l['source'] == sys.argv[2] and l['records'] == 0 and l['partitions'] == [], l" $none/$h.json $h
		# not run again: no chr-sink, nothing staged
		run -0 --separate-stderr $T chr-import-tardis $f
		assert_equal "$stderr" "chr-import-tardis: $f: already imported (./$none/$h.json)"
	done
	# the header compressed is the same content
	run -0 --separate-stderr $T chr-import-tardis -v header.csv.gz
	assert_equal "$stderr" "chr-import-tardis: header.csv.gz: already imported (./$none/$(xxhsum -H2 <header.csv | cut -d' ' -f1).json)"
	[ ! -e archive/v1 ]
	run -0 find archive/imports -type f
	assert_equal "${#lines[@]}" 2
	run -0 ls -A archive/.staging
	assert_output lock
}

@test "the same content plain and gzip'ed is one import: the second is a no-op, said in one line" {
	gzip -cd "$TRADES" >trades.csv
	h=$(xxhsum -H2 <trades.csv | cut -d' ' -f1)
	run -0 --separate-stderr $T chr-import-tardis trades.csv
	assert_equal "$stderr" ""
	snapshot archive >before
	run -0 --separate-stderr $T chr-import-tardis "$TRADES"
	assert_equal "$stderr" "chr-import-tardis: $TRADES: already imported (./$LEDGER/$h.json)"
	snapshot archive >after
	cmp before after
	run -0 find archive/imports -type f
	assert_output "$LEDGER/$h.json"
	# the other way round, and --force of the other file replaces, never adds
	run -0 --separate-stderr $T chr-import-tardis --archive B "$TRADES"
	run -0 --separate-stderr $T chr-import-tardis --archive B trades.csv
	assert_equal "$stderr" "chr-import-tardis: trades.csv: already imported (B/imports/v1/tardis/binance-futures/BTCUSDT/2024-08-08/$h.json)"
	run -0 --separate-stderr $T chr-import-tardis --force --archive B trades.csv
	snapshot B >b
	cmp before b
	run -0 bash -c "cat B/v1/binance-futures/BTCUSDT/2024-08-08/trade/*.q | chr-tail --format text | wc -l"
	assert_output 21314
	# a gzip file imported when the ledger was keyed by the file's bytes
	# stands under that key: not imported again, --force replaces it
	old=$(xxhsum -H2 <"$TRADES" | cut -d' ' -f1)
	chr-csv2ev "$TRADES" | chr-sink --archive C --source $old --stage
	chr-sink --archive C --source $old --publish --ledger tardis
	run -0 --separate-stderr $T chr-import-tardis --archive C "$TRADES"
	assert_equal "$stderr" "chr-import-tardis: $TRADES: already imported (C/imports/v1/tardis/binance-futures/BTCUSDT/2024-08-08/$old.json)"
	run -0 --separate-stderr $T chr-import-tardis --force --archive C "$TRADES"
	assert_equal "$stderr" ""
	run -0 find C/imports -type f
	assert_output "C/imports/v1/tardis/binance-futures/BTCUSDT/2024-08-08/$old.json"
}

@test "run from another directory, through a symlink, or installed: the programs beside it are found" {
	# a source tree (programs in bin/chr-*/) and an installed bin/, with
	# the programs of the build under test, and no program on PATH
	script_layouts chr-import-tardis
	ln -s ../tree/scripts/chr-import-tardis links/imp
	ln -s ../inst/chr-import-tardis links/imp2
	cd cwd/deep
	for s in ../../tree/scripts/chr-import-tardis ../../links/imp ../../inst/chr-import-tardis ../../links/imp2; do
		rm -rf A
		run -0 --separate-stderr env PATH=/usr/bin:/bin $T $s --archive A "$TRADES"
		assert_equal "$stderr" ""
		snapshot A >got
		[ -s got ]
		[ -z "$prev" ] || cmp "$prev" got
		cp got ../prev
		prev=../prev
	done
}

@test "the scripts have man pages that match their --help, installed by make install with them" {
	for s in chr-import-tardis chr-refine chr-archive-tap chr-plot; do
		man=$TOP/scripts/$s.1
		[ -f "$man" ]
		run -0 --separate-stderr env MANWIDTH=80 man -l "$man"
		assert_equal "$stderr" ""
		$T $s --help >help
		# the same options, and the usage line's words in the synopsis
		python3 - help "$man" <<'PY'
import re, sys
help, man = open(sys.argv[1]).read(), open(sys.argv[2]).read()
def opts(text):
    return set(re.findall(r"(?<![\w-])(--?[a-zA-Z][\w-]*)", text))
h = opts("\n".join(l for l in help.splitlines() if re.match(r"\s+-", l)))
sect = man.split(".SH OPTIONS")[1].split(".SH ")[0].replace("\\-", "-")
m = opts("\n".join(l for l in sect.splitlines() if l.startswith((".B", ".I")) and "-" in l.split()[1]))
assert h == m, (sys.argv[2], sorted(h - m), sorted(m - h))
syn = man.split(".SH SYNOPSIS")[1].split(".SH ")[0].replace("\\-", "-")
usage = help.split("\n\n")[0]
assert opts(usage) == opts(syn), (sys.argv[2], sorted(opts(usage) ^ opts(syn)))
PY
	done
	[[ "$BUILD" != */build-san/ ]] || skip "installs the regular build only"
	run -0 $T make -s -C "$TOP" install DESTDIR="$PWD/inst" PREFIX=/usr
	for s in chr-import-tardis chr-refine chr-archive-tap chr-plot; do
		[ -x inst/usr/bin/$s ]
		[ -f inst/usr/share/man/man1/$s.1 ]
	done
	[ -z "$(find inst/usr/bin -name '*.1')" ]
	# installed, it finds its programs beside it
	mkdir elsewhere && cd elsewhere
	run -0 --separate-stderr env PATH=/usr/bin:/bin $T ../inst/usr/bin/chr-import-tardis --archive A "$TRADES"
	assert_equal "$stderr" ""
	[ "$(find A/imports -type f | wc -l)" = 1 ]
}

@test "an import killed after publishing, before its ledger entry, then run again, is recorded as new" {
	h=$(gzip -cd "$TRADES" | xxhsum -H2 | cut -d' ' -f1)
	gzip -cd "$TRADES" >tr.csv
	chr-csv2ev tr.csv | $T chr-sink --archive archive --source $h --stage
	$T chr-sink --archive archive --source $h --publish
	[ -d archive/v1 ] && [ ! -e archive/imports ]
	run -0 --separate-stderr $T chr-import-tardis "$TRADES"
	python3 -c "import json, sys; l = json.load(open(sys.argv[1])); assert [p['action'] for p in l['partitions']] == ['new'], l" $LEDGER/$h.json
	# a re-import of a recorded file replaces
	run -0 $T chr-import-tardis --force "$TRADES"
	python3 -c "import json, sys; l = json.load(open(sys.argv[1])); assert [p['action'] for p in l['partitions']] == ['replaced'], l" $LEDGER/$h.json
}

@test "an import whose publish fails half way says so; run again, it completes, recorded once, as new" {
	make_fail_publish
	{ echo "exchange,symbol,timestamp,local_timestamp,id,side,price,amount"
	  echo "x,S,1723161600000000,1723161600000001,1,buy,1,1"
	  echo "x,S,1723248000000000,1723248000000001,2,buy,1,1"; } >two.csv
	run -3 --separate-stderr env LD_PRELOAD=$PWD/fail_publish.so FAIL_PUBLISH=2024-08-10/trade \
		ASAN_OPTIONS="verify_asan_link_order=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}" \
		$T chr-import-tardis two.csv
	assert_equal "${stderr_lines[0]}" "chr-sink: cannot publish './archive/v1/x/S/2024-08-10/trade': Permission denied; this run is committed (1 of 2 partitions published): the next chr-sink run on './archive' publishes the rest once that is fixed"
	assert_equal "${stderr_lines[1]}" "chr-import-tardis: two.csv: chr-sink --publish failed; it is not in the ledger: run chr-import-tardis again (once the cause is fixed) to complete the import"
	[ ! -e archive/imports ]
	run -0 --separate-stderr $T chr-import-tardis two.csv
	[[ "$stderr" != *--append* ]]
	python3 -c "import json, sys; l = json.load(open(sys.argv[1])); assert [p['action'] for p in l['partitions']] == ['new', 'new'] and l['records'] == 2, l" archive/imports/v1/tardis/x/S/2024-08-09/*.json
	run -0 find archive/imports -type f
	assert_equal "${#lines[@]}" 1
	run -0 $T chr-import-tardis two.csv
	assert_output --partial "already imported"
}

@test "EIO syncing the ledger's directory after its entry is in place says the entry is in place; a rerun finds it" {
	make_fail_fsync
	run -3 --separate-stderr env LD_PRELOAD=$PWD/fail_fsync.so FAIL_FSYNC=imports/v1/tardis/binance-futures/BTCUSDT/2024-08-08 \
		ASAN_OPTIONS="verify_asan_link_order=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}" \
		$T chr-import-tardis "$TRADES"
	entry=$(find archive/imports -type f)
	[ -f "$entry" ]
	assert_equal "${#stderr_lines[@]}" 2
	assert_equal "${stderr_lines[0]}" "chr-sink: ledger entry './$entry' is in place, but syncing its directory failed: Input/output error; it may not survive a crash of the machine: sync the file system"
	assert_equal "${stderr_lines[1]}" "chr-import-tardis: $TRADES: imported and in the ledger (./$entry), but chr-sink --publish failed after writing its entry (above)"
	run -0 --separate-stderr $T chr-import-tardis "$TRADES"
	assert_equal "$stderr" "chr-import-tardis: $TRADES: already imported (./$entry)"
}

@test "two imports of one content at once: the second waits for the first, saying so, then finds it imported" {
	h=$(gzip -cd "$TRADES" | xxhsum -H2 | cut -d' ' -f1)
	# an import holding the lock of that source
	mkdir -p archive/.staging/sources
	exec 9>>archive/.staging/sources/$h.lock
	flock 9
	chr-import-tardis "$TRADES" 2>err 9>&- &
	pid=$!
	while kill -0 $pid 2>/dev/null && ! grep -q waiting err; do sleep 0.05; done
	run -0 cat err
	assert_output "chr-import-tardis: $TRADES: another import of this content ($h) is running; waiting for it"
	[ ! -e archive/v1 ] && [ ! -e archive/imports ]
	exec 9>&-
	wait $pid
	[ -f $LEDGER/$h.json ]
	# the lock file is removed, and its directory once empty
	[ ! -e archive/.staging/sources ]
	# two at once, also forced, end both with exit 0: one imports, the other
	# waits (and finds it imported, or imports again with --force)
	for force in "" "" --force --force; do
		rm -rf archive
		$T chr-import-tardis $force "$TRADES" "$L2" 2>e1 &
		pid=$!
		run -0 --separate-stderr $T chr-import-tardis $force "$L2" "$TRADES"
		wait $pid || { cat e1; false; }
		run -0 find archive/imports -type f
		assert_equal "${#lines[@]}" 2
	done
}
