#!/usr/bin/env bats
# scripts/chr-import-tardis -j N: files imported N at a time end in the
# archive of a sequential import (the order given decides between two files
# of one partition), the same content given twice is imported once, one
# progress line, and runs killed at random moments then run again.

load test_helper

TRADES="$DATA/binance-futures_trades_BTCUSDT_2024-08-08.csv.gz"
QUOTES="$DATA/binance-futures_quotes_BTCUSDT_2024-08-08.csv.gz"

# the archive without the ledger's import times and the lock files
snapshot() {
	(cd "$1" && find . -type f -not -path './.staging/*' -not -path './imports/*' | sort |
		xargs -r xxhsum -H2)
}

# every partition's records as text
records() {
	for d in "$1"/v1/*/*/*/*; do
		echo "$d" | cut -d/ -f2-
		cat "$d"/*.q | chr-tail --format text
	done
}

# files: the trades of a few symbols (the real day renamed), a part of
# the BTCUSDT day (a file of a partition another file holds), the quotes
setup_files() {
	gzip -cd "$TRADES" >BTC.csv
	for s in ETHUSDT SOLUSDT XRPUSDT; do
		sed "s/,BTCUSDT,/,$s,/" BTC.csv >$s.csv
	done
	gzip -c SOLUSDT.csv >SOLUSDT.csv.gz
	head -n 5000 BTC.csv >part.csv
}

@test "-j: misuse" {
	for j in 0 x -1 1000 ""; do
		run -2 --separate-stderr $T chr-import-tardis -j "$j" "$TRADES"
		assert_equal "${stderr_lines[0]}" "chr-import-tardis: -j: '$j' is not a number of jobs from 1 to 999"
	done
	run -2 --separate-stderr $T chr-import-tardis -j
	assert_equal "${stderr_lines[0]}" "chr-import-tardis: option '-j' requires an argument"
	run -0 $T chr-import-tardis -h
	assert_line --partial "-j, --jobs N"
	assert_line --partial "-p, --progress"
}

@test "-j 2 over several files: the archive of a sequential import, the same content once, every failure named" {
	setup_files
	# part.csv comes after BTC.csv: refused; the same content twice
	# (SOLUSDT plain and gzip'ed, ETHUSDT twice) is one import
	set -- BTC.csv ETHUSDT.csv part.csv SOLUSDT.csv "$QUOTES" XRPUSDT.csv SOLUSDT.csv.gz ETHUSDT.csv
	run -1 --separate-stderr $T chr-import-tardis --archive seq "$@"
	seq_err=$stderr
	for j in 2 3 -j2 --jobs=2; do
		rm -rf par
		case $j in -*) opt=$j ;; *) opt="-j $j" ;; esac
		run -1 --separate-stderr $T chr-import-tardis --archive par $opt "$@"
		snapshot seq >a
		snapshot par >b
		cmp a b
		diff <(records seq) <(records par)
		run -0 find par/imports -type f
		assert_equal "${#lines[@]}" 5
		# each file's lines as one by one (in the order they end), and
		# one line naming every failure
		diff <(echo "${seq_err//seq\//par/}" | sort) <(echo "$stderr" | grep -v ' files not imported' | sort)
		assert_equal "$(echo "$stderr" | tail -n 1)" "chr-import-tardis: 1 of 8 files not imported (exit 1): part.csv"
	done
	# the other order: the part imported, the whole day refused (staged
	# at once beside the part, it is staged again once the part is in)
	for j in 1 2; do
		rm -rf o$j
		run -1 --separate-stderr $T chr-import-tardis --archive o$j -j $j part.csv BTC.csv ETHUSDT.csv
		sum="chr-import-tardis: 1 of 3 files not imported (exit 1): BTC.csv"
		[ $j = 2 ] || sum=
		assert_equal "$stderr" "chr-import-tardis: BTC.csv: partition 'v1/binance-futures/BTCUSDT/2024-08-08/trade' already holds other data (source $(xxhsum -H2 <part.csv | cut -d' ' -f1)); nothing imported. Adding this file to it could duplicate rows: to replace that data by this file, remove 'o$j/v1/binance-futures/BTCUSDT/2024-08-08/trade' (and the ledger entry of its import) and import again${sum:+
$sum}"
	done
	snapshot o1 >a
	snapshot o2 >b
	cmp a b
	# the worst status, and every failure named in the order given
	run -3 --separate-stderr $T chr-import-tardis --archive n -j 2 BTC.csv nonexistent.csv part.csv ETHUSDT.csv
	assert_equal "${stderr_lines[-1]}" "chr-import-tardis: 2 of 4 files not imported (exit 3): nonexistent.csv part.csv"
	[[ "$stderr" == *"chr-import-tardis: cannot read 'nonexistent.csv'"* ]]
	# a run of nothing left to do
	run -0 --separate-stderr $T chr-import-tardis --archive par -j 2 BTC.csv ETHUSDT.csv
	assert_equal "${#stderr_lines[@]}" 2
	[[ "${stderr_lines[*]}" == *"BTC.csv: already imported"* ]]
}

@test "-j 2: two runs of the same files at once, in crossed orders, import each content once" {
	setup_files
	for force in "" --force; do
		rm -rf archive
		$T chr-import-tardis -j 2 $force BTC.csv ETHUSDT.csv SOLUSDT.csv XRPUSDT.csv 2>e1 &
		pid=$!
		run -0 --separate-stderr $T chr-import-tardis -j 2 $force XRPUSDT.csv SOLUSDT.csv.gz ETHUSDT.csv BTC.csv
		wait $pid || { cat e1; false; }
		run -0 find archive/imports -type f
		assert_equal "${#lines[@]}" 4
	done
	$T chr-import-tardis --archive seq BTC.csv ETHUSDT.csv SOLUSDT.csv XRPUSDT.csv
	snapshot seq >a
	snapshot archive >b
	cmp a b
}

@test "--progress: one line for the whole run (files done of all, rows/s, ETA), the files' own lines above it" {
	setup_files
	run -1 --separate-stderr $T chr-import-tardis -j 2 --progress BTC.csv part.csv ETHUSDT.csv
	# not a terminal (a log): a plain line as each file ends, part.csv's
	# message whole on a line of its own before its line
	[[ "$stderr" != *$'\r'* && "$stderr" != *$'\e'* ]]
	assert_equal "$(echo "$stderr" | grep -c 'files,')" 3
	[[ "$stderr" =~ 1/3\ files,\ [0-9]+\ rows,\ [0-9]+\ rows/s,\ ETA\ [0-9]+:[0-9][0-9]:[0-9][0-9] ]]
	[[ "$(echo "$stderr" | grep 'files,' | tail -n 1)" =~ ^chr-import-tardis:\ 3/3\ files,\ 42626\ rows,\ [0-9]+\ rows/s$ ]]
	assert_equal "$(echo "$stderr" | tail -n 1)" "chr-import-tardis: 1 of 3 files not imported (exit 1): part.csv"
	echo "$stderr" | grep -qx "chr-import-tardis: part.csv: partition .* already holds other data .*"
	# on a terminal: one line, redrawn (CR), from 0 files on, ending with
	# a newline; its last state
	run -1 $T script -qec "chr-import-tardis --archive P -j 2 --progress BTC.csv part.csv ETHUSDT.csv" /dev/null
	last=$(printf '%s\n' "$output" | grep -a 'files,' | tail -n 1 | tr '\r' '\n' | grep -a . | tail -n 1)
	[[ "$last" =~ ^chr-import-tardis:\ 3/3\ files,\ 42626\ rows,\ [0-9]+\ rows/s ]] || fail "last: $last"
	[[ "$output" == *"files, 0 rows, 0 rows/s"* ]]
	echo "$output" | tr '\r' '\n' | sed 's/\x1b\[K//g' | grep -qx "chr-import-tardis: part.csv: partition .* already holds other data .*"
	# -j 1 with --progress too; without it, nothing but the files' lines
	run -0 --separate-stderr $T chr-import-tardis --archive B -p SOLUSDT.csv
	[[ "$stderr" == *"1/1 files, 21313 rows"* ]]
	run -0 --separate-stderr $T chr-import-tardis --archive C -j 2 SOLUSDT.csv XRPUSDT.csv
	assert_equal "$stderr" ""
	# the default when standard error is a terminal, with -j 2 only
	run -0 $T script -qec "chr-import-tardis --archive D -j 2 SOLUSDT.csv XRPUSDT.csv" /dev/null
	[[ "$output" == *"2/2 files, 42626 rows"* ]]
	# (-j 1 as before: chr-csv2ev's own progress, per file)
	run -0 $T script -qec "chr-import-tardis --archive E SOLUSDT.csv XRPUSDT.csv" /dev/null
	[[ "$output" != *files,* ]]
}

@test "-j 2 killed at random moments, then run again: one ledger entry per content, the archive of a sequential import" {
	setup_files
	set -- BTC.csv ETHUSDT.csv SOLUSDT.csv "$QUOTES" XRPUSDT.csv SOLUSDT.csv.gz
	$T chr-import-tardis --archive ref "$@"
	snapshot ref >ref.sum
	records ref >ref.txt
	kills=${CHR_KILLS:-8}
	for ((n = 0; n < kills; n++)); do
		# every third run re-imports (--force): kills land in replacing too
		force=
		[ $((n % 3)) != 2 ] || force=--force
		# and every other one draws the progress line
		prog=
		[ $((n % 2)) = 0 ] || prog=--progress
		delay=$(printf '0.%02d' $((RANDOM % 60)))
		TMPDIR=$BATS_TEST_TMPDIR setsid chr-import-tardis --archive archive -j 2 $force $prog "$@" 2>/dev/null &
		pid=$!
		sleep $delay
		kill -KILL -- -$pid 2>/dev/null || true
		wait $pid || true
		# until the killed processes are gone (zombies aside)
		until_ok group_gone $pid || true
		# a ledger entry means its data is in
		for l in archive/imports/v1/tardis/*/*/*/*.json; do
			[ -e "$l" ] || continue
			grep -q "\"$(basename "$l" .json)\"" archive/v1/binance-futures/*/2024-08-08/*/meta.json
		done
		# every few kills, run to the end: the archive of the sequential import
		if [ $((n % 4)) = 3 ]; then
			run -0 $T chr-import-tardis --archive archive -j 2 "$@"
			snapshot archive >got.sum
			cmp ref.sum got.sum
		fi
	done
	run -0 $T chr-import-tardis --archive archive -j 2 "$@"
	snapshot archive >got.sum
	cmp ref.sum got.sum
	records archive >got.txt
	cmp ref.txt got.txt
	# one ledger entry per content
	run -0 find archive/imports -type f
	assert_equal "${#lines[@]}" 5
	diff <(cd ref/imports && find . | sort) <(cd archive/imports && find . | sort)
}

# slow: chr-csv2ev first on PATH, sleeping 60 s before it converts (the
# run is stopped long before, however slow the machine)
slow() {
	mkdir -p slow
	printf '#!/bin/bash\nsleep 60\nexec %q "$@"\n' "$(command -v chr-csv2ev)" >slow/chr-csv2ev
	chmod +x slow/chr-csv2ev
}
# converting N: N chr-csv2ev of the slow ones run
converting() {
	[ "$(pgrep -fc "$BATS_TEST_TMPDIR/slow/chr-csv2ev")" -ge "$1" ]
}

@test "-j 2: SIGINT (Ctrl-C), SIGTERM or SIGHUP stops every job, leaves nothing behind, and a run again completes" {
	setup_files
	slow
	set -- BTC.csv ETHUSDT.csv SOLUSDT.csv
	$T chr-import-tardis --archive ref "$@"
	snapshot ref >ref.sum
	for sig in INT TERM HUP; do
		rm -rf archive tmp && mkdir tmp
		# as from a terminal: its own process group, the three signals at
		# their defaults (a shell cannot trap one ignored when it starts:
		# under nohup, SIGHUP); Ctrl-C signals the whole group
		PATH=$PWD/slow:$PATH TMPDIR=$PWD/tmp setsid env --default-signal=INT,TERM,HUP \
			chr-import-tardis -j 2 "$@" 2>err 3>&- &
		pid=$!
		until_ok converting 2
		if [ $sig = INT ]; then kill -INT -- -$pid; else kill -$sig $pid; fi
		rc=0
		wait $pid || rc=$?
		want=$((128 + $(kill -l $sig)))
		[ $rc = $want ] || { echo "SIG$sig: exit $rc, not $want; its stderr:"; cat err; false; }
		grep -qx "chr-import-tardis: stopped by SIG$sig; a file not imported is imported by running again" err
		# no job goes on, nothing is imported after, no temporary file
		until_ok group_gone $pid
		assert_equal "$(ls -A tmp)" ""
		[ ! -e archive/imports ] || [ -z "$(find archive/imports -type f)" ]
		# a run again is not kept waiting by a lock, and completes
		run -0 --separate-stderr $T chr-import-tardis -j 2 "$@"
		assert_equal "$stderr" ""
		snapshot archive >got.sum
		cmp ref.sum got.sum
	done
}

@test "-j 2: one content under two names in a run is imported by the first given, as one by one" {
	setup_files
	gzip -c BTC.csv >C.csv.gz
	head -n 5000 BTC.csv >F.csv
	cp BTC.csv D.csv
	set -- C.csv.gz F.csv D.csv
	run -1 --separate-stderr $T chr-import-tardis --archive seq "$@"
	seq_err=$stderr
	snapshot seq >seq.sum
	# D (plain: hashed first) must not take the import from C
	for n in 1 2 3 4; do
		rm -rf par
		run -1 --separate-stderr $T chr-import-tardis --archive par -j 3 "$@"
		snapshot par >par.sum
		cmp seq.sum par.sum
		diff <(echo "${seq_err//seq\//par/}" | sort) <(echo "$stderr" | grep -v ' files not imported' | sort)
		assert_equal "$(echo "$stderr" | tail -n 1)" "chr-import-tardis: 1 of 3 files not imported (exit 1): F.csv"
		[[ "$(cat par/imports/v1/tardis/*/*/*/*.json)" == *C.csv.gz* ]]
	done
}

@test "-j 2: a job killed before it writes its status fails its file; the run ends, naming it" {
	setup_files
	slow
	mkdir tmp
	PATH=$PWD/slow:$PATH TMPDIR=$PWD/tmp setsid chr-import-tardis -j 2 BTC.csv ETHUSDT.csv SOLUSDT.csv \
		2>err 3>&- &
	pid=$!
	until_ok converting 2
	# the first job (the main process's first child)
	kill -KILL "$(pgrep -P $pid | sort -n | head -n 1)"
	rc=0
	wait $pid || rc=$?
	[ $rc = 3 ]
	grep -qx "chr-import-tardis: BTC.csv: its import ended without a status (exit 137)" err
	assert_equal "$(tail -n 1 err)" "chr-import-tardis: 1 of 3 files not imported (exit 3): BTC.csv"
	[ -n "$(find archive/imports -name '*.json' -path '*ETHUSDT*')" ]
	# once the killed job's conversion ended, a run again imports it
	run -0 $T chr-import-tardis -j 2 BTC.csv ETHUSDT.csv SOLUSDT.csv
	$T chr-import-tardis --archive ref BTC.csv ETHUSDT.csv SOLUSDT.csv
	snapshot ref >ref.sum
	snapshot archive >got.sum
	cmp ref.sum got.sum
}
