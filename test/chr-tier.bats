#!/usr/bin/env bats
# chr-tier: moves between tiers by age (rename, copy across file systems,
# compression), the manifest and its rebuild, the reader across tiers,
# crash safety under SIGKILL, delete, dry run, config, hostile meta.json.

load test_helper

# every partition exactly once over the tiers given
once_each() {
	local all
	all=$(for d in "$@"; do parts "$d"; done | sort)
	[ "$(printf '%s\n' "$all" | uniq -d)" = "" ]
	[ "$(printf '%s\n' "$all" | grep -c .)" = 12 ]
}

# 1 when /dev/shm is another file system than the test's directory
other_fs() {
	[ -d /dev/shm ] && [ -w /dev/shm ] && [ "$(stat -f -c %i /dev/shm)" != "$(stat -f -c %i .)" ]
}

# a fresh directory on the other file system, removed by teardown
shm_dir() {
	SHM=$(mktemp -d /dev/shm/chr-tier-test.XXXXXX)
	echo "$SHM" >>"$BATS_TEST_TMPDIR/.shm"
}

teardown() {
	local p d
	for p in $(jobs -p); do kill -KILL "$p" 2>/dev/null; done
	if [ -f "$BATS_TEST_TMPDIR/.shm" ]; then
		while read -r d; do rm -rf "$d"; done <"$BATS_TEST_TMPDIR/.shm"
	fi
	return 0
}

@test "-h, --version and misuse" {
	run -0 $T chr-tier -h
	[[ "$output" == "usage: chr-tier --root root [-c | --create] [--config file]"* ]]
	run -0 $T chr-tier --version
	[[ "$output" == "chr-tier "* ]]
	run -2 --separate-stderr $T chr-tier --once
	[ "$stderr" = "chr-tier: --root is required
Try 'chr-tier --help' for more information." ]
	run -2 --separate-stderr $T chr-tier --root R --warm W --once
	[[ "$stderr" == "chr-tier: --warm and --warm-after go together"* ]]
	run -2 --separate-stderr $T chr-tier --root R --warm W --warm-after 7x --once
	[[ "$stderr" == "chr-tier: --warm-after '7x' is not a duration (90s, 6h, 7d)"* ]]
	run -2 --separate-stderr $T chr-tier --root R --once --poll-ms 10
	[[ "$stderr" == "chr-tier: --once and --poll-ms exclude each other"* ]]
	run -2 --separate-stderr $T chr-tier --root R --zstd --once
	[[ "$stderr" == "chr-tier: --zstd needs a tier to compress into"* ]]
	run -2 --separate-stderr $T chr-tier --root R --cold C --cold-after 1d --zstd=25 --once
	[[ "$stderr" == "chr-tier: --zstd=25: the level is 1 to 19"* ]]
	run -2 --separate-stderr $T chr-tier --root R --now yesterday --once
	[[ "$stderr" == "chr-tier: --now 'yesterday' is not a time"* ]]
	run -2 --separate-stderr $T chr-tier --root R --warm W --warm-after 2d --cold C --cold-after 1d --delete-after 1d --once
	[[ "$stderr" == "chr-tier: the delete age is not above tier 'warm's age"* ]]
	run -2 --separate-stderr $T chr-tier --root R --once extra
	[[ "$stderr" == "chr-tier: no arguments are taken ('extra')"* ]]
	run -2 --separate-stderr $T chr-tier --root R --rebuild-manifest --once
	run -2 --separate-stderr $T chr-tier --root R --bogus
	# the man page reads
	run -0 man -l "$TOP/bin/chr-tier/chr-tier.1"
	[[ "$output" == *"--rebuild-manifest"* ]]
}

@test "an empty archive: a pass does nothing, the manifest is empty" {
	run -0 --separate-stderr $T chr-tier --root R --create --warm W --warm-after 1d --once
	[ -z "$stderr" ]
	[ -f R/manifest.db ]
	run -0 $T chr-tier --root R --dump-manifest
	[ "$output" = "tier	hot	$PWD/R	0
tier	warm	$PWD/W	1" ]
	run -3 --separate-stderr $T chr-tier --root nothere --dump-manifest
	[ "$stderr" = "chr-tier: cannot open 'nothere/manifest.db': No such file or directory" ]
}

@test "a root that does not exist is refused unless --create" {
	run -2 --separate-stderr $T chr-tier --root NOSUCH --warm W --warm-after 1d --once
	[ "$stderr" = "chr-tier: no archive at 'NOSUCH' (--create makes one)
Try 'chr-tier --help' for more information." ]
	[ ! -e NOSUCH ]
	[ ! -e W ]
	run -2 --separate-stderr $T chr-tier --root NOSUCH --rebuild-manifest
	[ "${stderr_lines[0]}" = "chr-tier: no archive at 'NOSUCH' (--create makes one)" ]
	[ ! -e NOSUCH ]
	run -2 --separate-stderr $T chr-tier --root NOSUCH --once -n
	[ "${stderr_lines[0]}" = "chr-tier: no archive at 'NOSUCH' (--create makes one)" ]
	run -2 --separate-stderr $T chr-tier --root NOSUCH --once -n --create
	[ "${stderr_lines[0]}" = "chr-tier: --create and --dry-run exclude each other" ]
	[ ! -e NOSUCH ]
	: >FILE
	run -2 --separate-stderr $T chr-tier --root FILE --once
	[ "${stderr_lines[0]}" = "chr-tier: --root 'FILE' is not a directory" ]
	# asked: created, parents too
	run -0 --separate-stderr $T chr-tier --root new/A -c --once
	[ -z "$stderr" ]
	[ -f new/A/manifest.db ]
	# an existing root needs no --create, and --create on it is no error
	run -0 --separate-stderr $T chr-tier --root new/A --once
	run -0 --separate-stderr $T chr-tier --root new/A --create --once
	# chr-sink --archive, which writes the data, creates its root
	gen stream 3 | $T chr-sink --archive S
	run -0 --separate-stderr $T chr-tier --root S --once
}

@test "moves by age on one file system: rename hot -> warm -> cold, manifest, reader" {
	make_arch R
	# --now 2024-01-08: ages 2 to 7 days
	run -0 --separate-stderr $T chr-tier --root R --warm W --warm-after 3d --cold C --cold-after 5d --now 2024-01-08 --once
	[ "${#lines[@]}" = 0 ]
	[ "$(printf '%s\n' "$stderr" | grep -c 'from hot to cold (renamed)')" = 4 ]
	[ "$(printf '%s\n' "$stderr" | grep -c 'from hot to warm (renamed)')" = 4 ]
	[[ "$stderr" == *"chr-tier: moved 'v1/binance/BTCUSDT/2024-01-01/trade' from hot to cold (renamed)"* ]]
	[ "$(parts R)" = "$(printf 'v1/binance/%s/2024-01-0%s/trade\n' BTCUSDT 5 BTCUSDT 6 ETHUSDT 5 ETHUSDT 6)" ]
	[ "$(parts W)" = "$(printf 'v1/binance/%s/2024-01-0%s/trade\n' BTCUSDT 3 BTCUSDT 4 ETHUSDT 3 ETHUSDT 4)" ]
	[ "$(parts C)" = "$(printf 'v1/binance/%s/2024-01-0%s/trade\n' BTCUSDT 1 BTCUSDT 2 ETHUSDT 1 ETHUSDT 2)" ]
	# empty parents in hot are gone, nothing is left in staging
	[ ! -e R/v1/binance/BTCUSDT/2024-01-01 ]
	[ -z "$(ls -A W/.staging 2>/dev/null)" ]
	# the manifest: one row per segment, in its tier, paths relative to it
	run -0 $T chr-tier --root R --dump-manifest
	[ "$(printf '%s\n' "$output" | grep -c '^segment	cold	')" = 16 ]
	[ "$(printf '%s\n' "$output" | grep -c '^segment	warm	')" = 16 ]
	[ "$(printf '%s\n' "$output" | grep -c '^segment	hot	')" = 16 ]
	[[ "$output" == *"segment	cold	v1/binance/BTCUSDT/2024-01-01/trade/000000000.q	binance	BTCUSDT	2024-01-01	trade	0	0	510	"*"	65536	65536	1	0	xxh3-128:"* ]]
	# the reader finds every partition through the manifest
	same_records R
	# a second pass later moves the warm ones on; nothing else
	run -0 --separate-stderr $T chr-tier --root R --warm W --warm-after 3d --cold C --cold-after 5d --now 2024-01-12 --once
	[ "$(printf '%s\n' "$stderr" | grep -c 'from warm to cold (renamed)')" = 4 ]
	[ "$(printf '%s\n' "$stderr" | grep -c 'from hot to cold (renamed)')" = 4 ]
	[ "$(parts C | wc -l)" = 12 ]
	same_records R
	run -0 --separate-stderr $T chr-tier --root R --warm W --warm-after 3d --cold C --cold-after 5d --now 2024-01-12 --once
	[ -z "$stderr" ]
}

@test "across file systems and compressing: a reader spanning hot, warm and cold" {
	other_fs || skip "/dev/shm is on the same file system as $PWD"
	shm_dir
	make_arch R
	local z=--zstd=3
	run -0 --separate-stderr $T chr-tier --root R --warm "$SHM/warm" --warm-after 3d --cold C --cold-after 5d $z --now 2024-01-08 --once
	[ "$(printf '%s\n' "$stderr" | grep -c 'from hot to warm (copied, 4 segments, ')" = 4 ]
	[ "$(parts "$SHM/warm" | wc -l)" = 4 ]
	[ "$(parts C | wc -l)" = 4 ]
	[ "$(parts R | wc -l)" = 4 ]
	same_records R
	# cold segments are compressed, their meta.json says so, zstd -d gives them back
	[ -z "$(find C -name '*.q')" ]
	[ "$(find C -name '*.q.zst' | wc -l)" = 16 ]
	local m=C/v1/binance/BTCUSDT/2024-01-01/trade/meta.json
	python3 - "$m" <<'EOF'
import json, sys
m = json.load(open(sys.argv[1]))
for s in m["segments"]:
    assert s["compressed"] is True and s["file"] == "%09d.q.zst" % s["id"], s
    assert s["raw_bytes"] > s["bytes"] and s["raw_checksum"].startswith("xxh3-128:"), s
EOF
	zstd -q -d -c C/v1/binance/BTCUSDT/2024-01-01/trade/000000000.q.zst >seg0.q
	[ "xxh3-128:$(xxhsum -H2 seg0.q | cut -d' ' -f1)" = "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["segments"][0]["raw_checksum"])' $m)" ]
	run -0 $T chr-tier --root R --dump-manifest
	[ "$(printf '%s\n' "$output" | grep -c '^segment	cold	.*\.q\.zst	.*	1	1	xxh3')" = 16 ]
	# warm to cold moves on: copy and compress
	run -0 --separate-stderr $T chr-tier --root R --warm "$SHM/warm" --warm-after 3d --cold C --cold-after 5d $z --now 2024-01-12 --once
	[ "$(printf '%s\n' "$stderr" | grep -c 'from warm to cold (copied and compressed')" = 4 ]
	[ "$(printf '%s\n' "$stderr" | grep -c 'from hot to cold (copied and compressed')" = 4 ]
	same_records R
	# the manifest rebuilt from the files equals the one kept by the passes
	$T chr-tier --root R --dump-manifest >kept
	run -0 $T chr-tier --root R --warm "$SHM/warm" --warm-after 3d --cold C --cold-after 5d --rebuild-manifest
	$T chr-tier --root R --dump-manifest >rebuilt
	cmp kept rebuilt
	# without the manifest the reader scans the tiers of ROOT/chr-tier.conf
	rm R/manifest.db*
	printf 'warm %s 3d\ncold %s/C 5d\n' "$SHM/warm" "$PWD" >R/chr-tier.conf
	same_records R
}

@test "--rebuild-manifest equals the kept manifest, with tiers from ROOT/chr-tier.conf" {
	make_arch R
	printf '# tiers\nwarm ../W 3d\ncold %s/C 5d   # far away\n' "$PWD" >R/chr-tier.conf
	run -0 --separate-stderr $T chr-tier --root R --now 2024-01-08 --once
	[ "$(printf '%s\n' "$stderr" | grep -c moved)" = 8 ]
	[ "$(parts W | wc -l)" = 4 ]
	$T chr-tier --root R --dump-manifest >kept
	$T chr-tier --root R --rebuild-manifest
	$T chr-tier --root R --dump-manifest >rebuilt
	cmp kept rebuilt
	# a manifest that lost rows (or a stale one) is put right by a pass
	python3 -c "import sqlite3; c=sqlite3.connect('R/manifest.db'); c.execute(\"DELETE FROM segment WHERE tier='warm'\"); c.execute(\"UPDATE partition SET meta_checksum='x'\"); c.commit()"
	$T chr-tier --root R --now 2024-01-08 --once
	$T chr-tier --root R --dump-manifest >again
	cmp kept again
	# a partition removed by hand leaves the manifest at the next pass
	rm -r W/v1/binance/ETHUSDT/2024-01-04
	$T chr-tier --root R --now 2024-01-08 --once
	run -0 $T chr-tier --root R --dump-manifest
	[[ "$output" != *ETHUSDT/2024-01-04* ]]
	[ "$(printf '%s\n' "$output" | grep -c '^partition')" = 11 ]
	# -v says it
	run -0 --separate-stderr $T chr-tier --root R --rebuild-manifest -v
	[ "$stderr" = "chr-tier: manifest rebuilt: 11 partitions" ]
	# a manifest left half made (its tables but no version: a creator
	# killed before the schema transaction) or damaged: readers scan the
	# tiers of chr-tier.conf, the next pass makes it anew
	local s
	for s in BTCUSDT ETHUSDT; do
		$T chr-tail --archive R --venue binance --symbol $s --stream trade >orig-$s.q
	done
	rm R/manifest.db*
	python3 -c "import sqlite3; c=sqlite3.connect('R/manifest.db'); c.execute('CREATE TABLE segment(x)'); c.commit()"
	same_records R
	printf 'not a database' >R/manifest.db
	same_records R
	run -3 --separate-stderr $T chr-tier --root R --now 2024-01-08 --once
	[[ $stderr == *"manifest.db"* ]]
	rm R/manifest.db
	$T chr-tier --root R --now 2024-01-08 --once
	$T chr-tier --root R --dump-manifest >again
	$T chr-tier --root R --rebuild-manifest
	$T chr-tier --root R --dump-manifest >rebuilt
	cmp again rebuilt
}

@test "--delete-after removes old partitions; --dry-run changes nothing" {
	make_arch R
	cp -a R R.before
	run -0 --separate-stderr $T chr-tier --root R --warm W --warm-after 2d --delete-after 5d --now 2024-01-08 --once -n
	[[ "$stderr" == *"chr-tier: would remove 'v1/binance/BTCUSDT/2024-01-01/trade' from hot (age "* ]]
	[[ "$stderr" == *"chr-tier: would move 'v1/binance/BTCUSDT/2024-01-05/trade' from hot to warm (age "* ]]
	[ "$(printf '%s\n' "$stderr" | grep -c 'would remove')" = 4 ]
	[ "$(printf '%s\n' "$stderr" | grep -c 'would move')" = 6 ]
	[ ! -e W ]
	[ ! -e R/manifest.db ]
	diff -r R.before R
	run -0 --separate-stderr $T chr-tier --root R --warm W --warm-after 2d --delete-after 5d --now 2024-01-08 --once
	[ "$(printf '%s\n' "$stderr" | grep -c 'removed .* from hot')" = 4 ]
	[ "$(parts R | wc -l)" = 2 ]
	[ "$(parts W | wc -l)" = 6 ]
	run -0 $T chr-tier --root R --dump-manifest
	[ "$(printf '%s\n' "$output" | grep -c '^partition')" = 8 ]
	[[ "$output" != *2024-01-01* ]]
	# later, from the last tier too
	run -0 --separate-stderr $T chr-tier --root R --warm W --warm-after 2d --delete-after 5d --now 2024-01-20 --once
	[ "$(printf '%s\n' "$stderr" | grep -c 'removed .* from warm')" = 6 ]
	[ "$(printf '%s\n' "$stderr" | grep -c 'removed .* from hot')" = 2 ]
	[ -z "$(parts R)$(parts W)" ]
	# the reader: nothing left
	run -1 --separate-stderr $T chr-tail --archive R --venue binance --symbol BTCUSDT --stream trade
	[ "$stderr" = "chr-tail: no venue 'binance' in 'R'; venues: none" ]
}

@test "bad config lines are named by file:line" {
	mkdir R
	printf 'warm W 3d\ncold C 5\n# ok\ncold C 5d zstd=0\n' >R/chr-tier.conf
	run -2 --separate-stderr $T chr-tier --root R --once
	[ "$stderr" = "chr-tier: $PWD/R/chr-tier.conf:4: 'zstd=0' is not zstd or zstd=LEVEL (1-19)
Try 'chr-tier --help' for more information." ]
	printf 'warm W\n' >bad.conf
	run -2 --separate-stderr $T chr-tier --root R --config bad.conf --once
	[[ "$stderr" == "chr-tier: bad.conf:1: expected 'NAME DIR AGE [zstd[=LEVEL]]'"* ]]
	printf 'warm W 3d\n.. X 4d\n' >bad.conf
	run -2 --separate-stderr $T chr-tier --root R --config bad.conf --once
	[[ "$stderr" == "chr-tier: bad.conf:2: tier name '..': name starts with '.'"* ]]
	printf 'delete forever\n' >bad.conf
	run -2 --separate-stderr $T chr-tier --root R --config bad.conf --once
	[[ "$stderr" == "chr-tier: bad.conf:1: 'forever' is not a duration"* ]]
	run -2 --separate-stderr $T chr-tier --root R --config missing.conf --once
	[[ "$stderr" == "chr-tier: cannot read 'missing.conf': No such file or directory"* ]]
	# flags override the config: --warm-after alone changes the age
	printf 'warm W 3d\n' >R/chr-tier.conf
	make_arch R
	run -0 --separate-stderr $T chr-tier --root R --warm-after 4d --now 2024-01-08 --once
	[ "$(printf '%s\n' "$stderr" | grep -c 'to warm')" = 6 ]
	[ "$(parts R/W | wc -l)" = 6 ]
}

@test "hostile or broken meta.json: left where it is, exit 1, nothing made from its names" {
	make_arch R
	local p=R/v1/binance/BTCUSDT/2024-01-01/trade
	sed -i 's/"symbol": "BTCUSDT"/"symbol": "..\/..\/..\/evil"/' $p/meta.json
	local q=R/v1/binance/ETHUSDT/2024-01-01/trade
	python3 - $q/meta.json <<'EOF'
import json, sys
m = json.load(open(sys.argv[1]))
m["segments"][0]["file"] = "../../../../../../etc/passwd"
open(sys.argv[1], "w").write(json.dumps(m))
EOF
	echo '{' >R/v1/binance/ETHUSDT/2024-01-02/trade/meta.json
	# a partition whose names say it is elsewhere
	sed -i 's/"date": "2024-01-03"/"date": "2024-01-04"/' R/v1/binance/BTCUSDT/2024-01-03/trade/meta.json
	run -1 --separate-stderr $T chr-tier --root R --warm W --warm-after 1d --now 2024-01-08 --once
	[[ "$stderr" == *"chr-tier: '$PWD/$p/meta.json': bad or missing symbol; left where it is"* ]]
	[[ "$stderr" == *"chr-tier: '$PWD/$q/meta.json': bad or missing segment file name; left where it is"* ]]
	[[ "$stderr" == *"chr-tier: '$PWD/R/v1/binance/ETHUSDT/2024-01-02/trade/meta.json': line 2: "* ]]
	[[ "$stderr" == *"names partition 'v1/binance/BTCUSDT/2024-01-04/trade', which is not where it lies; left where it is"* ]]
	[ -d $p ]
	[ -d $q ]
	[ "$(parts W | wc -l)" = 8 ]
	[ -z "$(find . /tmp -maxdepth 3 -name evil 2>/dev/null)" ]
	run -0 $T chr-tier --root R --dump-manifest
	[[ "$output" != *evil* ]]
	[ "$(printf '%s\n' "$output" | grep -c '^partition')" = 8 ]
	# a rebuild leaves them out too, and says so with exit 1
	run -1 --separate-stderr $T chr-tier --root R --warm W --warm-after 1d --rebuild-manifest
	[[ "$stderr" == *"bad or missing symbol; not in the manifest"* ]]
	[[ "$stderr" == *"manifest rebuilt without 4 partitions that could not be read (above)"* ]]
	run -0 $T chr-tier --root R --dump-manifest
	[ "$(printf '%s\n' "$output" | grep -c '^partition')" = 8 ]
	# a segment that does not match its checksum is not moved
	printf 'X' | dd of=W/v1/binance/ETHUSDT/2024-01-05/trade/000000000.q bs=1 seek=200 conv=notrunc status=none
	other_fs || skip "no second file system for a copy"
	shm_dir
	run -1 --separate-stderr $T chr-tier --root R --warm W --warm-after 1d --cold "$SHM" --cold-after 3d --now 2024-01-10 --once
	[[ "$stderr" == *"000000000.q' does not match meta.json ("*"); not moved"* ]]
	[ -d W/v1/binance/ETHUSDT/2024-01-05/trade ]
	[ ! -e "$SHM/v1/binance/ETHUSDT/2024-01-05" ]
	[ -d "$SHM/v1/binance/BTCUSDT/2024-01-05/trade" ]
	[ -z "$(ls -A "$SHM/.staging")" ]
}

@test "a partition in two tiers: identical copies resolved, different ones left with an error" {
	make_arch R
	$T chr-tier --root R --warm W --warm-after 3d --now 2024-01-08 --once 2>/dev/null
	# a move cut short after publication: the source still there
	mkdir -p R/v1/binance/BTCUSDT/2024-01-01
	cp -a W/v1/binance/BTCUSDT/2024-01-01/trade R/v1/binance/BTCUSDT/2024-01-01/
	# another partition of the same name, different data
	mkdir -p R/v1/binance/ETHUSDT/2024-01-02
	cp -a W/v1/binance/ETHUSDT/2024-01-02/trade R/v1/binance/ETHUSDT/2024-01-02/
	python3 - R/v1/binance/ETHUSDT/2024-01-02/trade/meta.json <<'EOF'
import json, sys
m = json.load(open(sys.argv[1]))
m["segments"][1]["checksum"] = "xxh3-128:00000000000000000000000000000000"
open(sys.argv[1], "w").write(json.dumps(m))
EOF
	run -1 --separate-stderr $T chr-tier --root R --warm W --warm-after 3d --now 2024-01-08 --once
	[[ "$stderr" == *"chr-tier: removed 'v1/binance/BTCUSDT/2024-01-01/trade' from hot (a copy of a finished move)"* ]]
	[[ "$stderr" == *"chr-tier: 'v1/binance/ETHUSDT/2024-01-02/trade' is in tiers hot and warm with different segments; both left"* ]]
	[ ! -e R/v1/binance/BTCUSDT/2024-01-01 ]
	[ -d R/v1/binance/ETHUSDT/2024-01-02/trade ]
	[ -d W/v1/binance/ETHUSDT/2024-01-02/trade ]
	# a reader returns neither copy of that date rather than part of it
	$T chr-tail --archive R --venue binance --symbol BTCUSDT --stream trade | cmp orig-BTCUSDT.q -
	run -1 --separate-stderr $T chr-tail --archive R --venue binance --symbol ETHUSDT --stream trade
	[[ "$stderr" == *"partition 'v1/binance/ETHUSDT/2024-01-02/trade' is in tiers hot ('R/v1/binance/ETHUSDT/2024-01-02/trade') and warm ("*") with different segments"* ]]
}

@test "leftovers of a dead pass are cleaned: staging copies and sources being removed" {
	make_arch R
	mkdir -p W/.staging/tier-dead1/p R/.staging/tier-dead2/p
	cp R/v1/binance/BTCUSDT/2024-01-01/trade/000000000.q W/.staging/tier-dead1/p/
	echo junk >W/.staging/stray
	run -0 --separate-stderr $T chr-tier --root R --warm W --warm-after 3d --now 2024-01-08 --once -v
	[[ "$stderr" == *"removing '$PWD/W/.staging/tier-dead1', left by a pass that died"* ]]
	[ -z "$(ls -A W/.staging)" ]
	[ ! -e R/.staging/tier-dead2 ]
	[ -e R/.staging/lock ]
	same_records R
}

@test "raw partitions (chronicle-raw-partition) move, are indexed and read by --stream raw" {
	make_arch R
	$T chr-csv2ev BTCUSDT.csv | $T chr-sink --queue Q --create --segment-size 65536
	local d=R/raw/v1/binance/2024-01-01/raw n=0 f
	mkdir -p $d
	# the sealed segments of the queue (all but the newest), as chr-seal-copy copies them
	local segs="" sep="" lo="" hi=""
	for f in $(ls Q/*.q | head -4); do
		cp "$f" $d/
		# base_seq, count, ts_min, ts_max: the segment header's (docs/format.md)
		set -- $(od -An -t d8 -j 16 -N 8 "$f") $(od -An -t d8 -j 32 -N 24 "$f")
		segs="$segs$sep{\"id\": $n, \"file\": \"$(basename "$f")\", \"first_seq\": $1, \"count\": $2, \"bytes\": $(stat -c %s "$f"), \"ts_min\": $3, \"ts_max\": $4, \"checksum\": \"xxh3-128:$(xxhsum -H2 "$f" | cut -d' ' -f1)\"}"
		[ -n "$lo" ] || lo=$3
		hi=$4
		sep=", "
		n=$((n + 1))
	done
	printf '{"format": "chronicle-raw-partition", "version": 1, "venue": "binance", "date": "2024-01-01", "completeness": "sealed", "ts_min": %s, "ts_max": %s, "segments": [%s]}\n' $lo $hi "$segs" >$d/meta.json
	# the sealed segments read as one stream, as a queue is read: each
	# DEFINE once, the repeats at the segments' heads left out
	mkdir S && cp $(ls Q/*.q | head -4) S/
	$T chr-tail S >orig-raw.q
	[ "$($T chr-tail --type define --format text S | wc -l)" -eq 1 ]
	$T chr-tail --archive R --venue binance --stream raw >now-raw.q
	cmp orig-raw.q now-raw.q
	run -0 --separate-stderr $T chr-tier --root R --warm W --warm-after 3d --now 2024-01-08 --once
	[[ "$stderr" == *"moved 'raw/v1/binance/2024-01-01/raw' from hot to warm (renamed)"* ]]
	[ -f W/raw/v1/binance/2024-01-01/raw/meta.json ]
	[ ! -e R/raw/v1/binance ]
	run -0 $T chr-tier --root R --dump-manifest
	[[ "$output" == *"segment	warm	raw/v1/binance/2024-01-01/raw/000000000.q	binance		2024-01-01	raw	0	"* ]]
	$T chr-tail --archive R --venue binance --stream raw >now-raw.q
	cmp orig-raw.q now-raw.q
	run -0 $T chr-tail --archive R --venue binance --stream raw --date 2024-01-01 --format text
	run -1 --separate-stderr $T chr-tail --archive R --venue binance --stream raw --date 2024-01-02
	[ "$stderr" = "chr-tail: no date '2024-01-02' for raw venue binance in 'R'; dates: 2024-01-01" ]
	# --symbol on a raw read selects by the DEFINEs' names, here all of it
	$T chr-tail --archive R --venue binance --symbol BTCUSDT --stream raw >now-raw.q
	cmp orig-raw.q now-raw.q
	run -1 $T chr-tail --archive R --venue binance --symbol ETHUSDT --stream raw
	same_records R
}

@test "queue retention lines, and the service: SIGTERM ends it" {
	gen_csv 1 3000 BTCUSDT >b.csv
	$T chr-csv2ev b.csv | $T chr-sink --queue Q --create --segment-size 65536
	local before
	before=$(ls Q/*.q | wc -l)
	printf 'queue %s/Q 6h\n' "$PWD" >c.conf
	run -0 --separate-stderr $T chr-tier --root R --create --config c.conf --once
	[[ "$stderr" =~ ^"chr-tier: removed "([0-9]+)" segments of queue '$PWD/Q'"$ ]]
	local n=${BASH_REMATCH[1]}
	[ "$n" -ge 1 ]
	[ "$(ls Q/*.q | wc -l)" = $((before - n)) ]
	# nothing more to remove: silent
	run -0 --separate-stderr $T chr-tier --root R --config c.conf --once
	[ -z "$stderr" ]
	chr-tier --root R --config c.conf --poll-ms 50 2>err &
	local pid=$! rc=0 i
	# it has begun once it holds the lock: seen in /proc/locks, since a
	# probe that took the lock itself could make it find the lock taken
	local ino
	ino=$(stat -c %i R/.staging/.tier-lock)
	for i in $(seq 100); do
		awk -v i=":$ino\$" '$6 ~ i { f = 1 } END { exit !f }' /proc/locks && break
		sleep 0.1
	done
	kill -TERM $pid
	wait $pid || rc=$?
	[ $rc = 0 ]
	[ ! -s err ]
	# one instance at a time
	flock R/.staging/.tier-lock sleep 2 &
	sleep 0.2
	run -3 --separate-stderr $T chr-tier --root R --once
	[[ "$stderr" == "chr-tier: another chr-tier works on '$PWD/R'"* ]]
	wait
}

@test "crash safety: SIGKILL during moves, 36 times; each partition once, nothing lost, manifest rebuilds equal" {
	make_arch T0 20000
	local cold=C z=--zstd=1
	if other_fs; then shm_dir; cold=$SHM/cold; fi
	local round k ms
	for round in 1 2 3 4 5 6; do
		rm -rf R W "$cold"
		cp -a T0 R
		for k in 1 2 3 4 5 6; do
			chr-tier --root R --warm W --warm-after 3d --cold "$cold" --cold-after 5d $z --now 2024-01-08 --once 2>>log &
			# later kills come later (up to 1.4 s), so that passes also
			# die after some moves, even in a slow (sanitizer) build
			ms=$((RANDOM % (40 * k * k)))
			sleep "$((ms / 1000)).$(printf %03d $((ms % 1000)))"
			kill -KILL $! 2>/dev/null || true
			wait $! || true
		done
		run -0 $T chr-tier --root R --warm W --warm-after 3d --cold "$cold" --cold-after 5d $z --now 2024-01-08 --once
		once_each R W "$cold"
		[ "$(parts R | wc -l)" = 4 ]
		[ "$(parts W | wc -l)" = 4 ]
		[ "$(parts "$cold" | wc -l)" = 4 ]
		[ -z "$(ls -A W/.staging "$cold/.staging" 2>/dev/null | grep -v ':$' | grep .)" ]
		same_records R
		$T chr-tier --root R --dump-manifest >kept
		$T chr-tier --root R --warm W --warm-after 3d --cold "$cold" --cold-after 5d --rebuild-manifest
		$T chr-tier --root R --dump-manifest >rebuilt
		cmp kept rebuilt
	done
	# kills landed mid-work: some passes moved something before they died
	grep -q moved log
}

@test "a segment file meta.json does not list: the partition is left where it is, named, exit 1" {
	make_arch R
	local p=v1/binance/BTCUSDT/2024-01-01/trade q=v1/binance/ETHUSDT/2024-01-02/trade
	# as a chr-seal-copy killed between the segment and meta.json leaves it
	cp R/$p/000000000.q R/$p/000000099.q
	cp R/$q/000000000.q R/$q/000000042.q.zst
	cp -r R R0
	# a copy (compressing) would take only the listed segments
	run -1 --separate-stderr $T chr-tier --root R --cold C --cold-after 3d --zstd --now 2024-01-08 --once
	[[ "$stderr" == *"chr-tier: '$PWD/R/$p/000000099.q' is not listed in its meta.json; '$p' left in hot"* ]]
	[[ "$stderr" == *"chr-tier: '$PWD/R/$q/000000042.q.zst' is not listed in its meta.json; '$q' left in hot"* ]]
	cmp R/$p/000000099.q R0/$p/000000099.q
	cmp R/$q/000000042.q.zst R0/$q/000000042.q.zst
	diff -r R/$p R0/$p
	[ ! -e C/$p ] && [ ! -e C/$q ]
	# the others moved
	[ -f C/v1/binance/BTCUSDT/2024-01-02/trade/meta.json ]
	# a rename would carry it along unlisted: refused the same way
	run -1 --separate-stderr $T chr-tier --root R0 --warm W --warm-after 3d --now 2024-01-08 --once
	[[ "$stderr" == *"'$PWD/R0/$p/000000099.q' is not listed in its meta.json; '$p' left in hot"* ]]
	[ -f R0/$p/000000099.q ] && [ ! -e W/$p ]
	# once it is gone (or adopted by chr-seal-copy) the partition moves
	rm R/$p/000000099.q R/$q/000000042.q.zst
	run -0 $T chr-tier --root R --cold C --cold-after 3d --zstd --now 2024-01-08 --once
	[ -f C/$p/meta.json ] && [ ! -e R/$p ]
	same_records R
	# a move cut short left two copies: the warmer one, holding a file
	# its meta.json does not list, is not removed
	mkdir -p R/$p && cp -a R0/$p/. R/$p/
	rm R/$p/000000099.q
	# (the colder copy must hold the same segments: plain, as in hot)
	run -0 $T chr-tier --root R --cold C --cold-after 3d --zstd --now 2024-01-08 --once
	[ ! -e R/$p ]
	cp -a R0 R2 && rm R2/$p/000000099.q R2/$q/000000042.q.zst R2/manifest.db*
	run -0 $T chr-tier --root R2 --warm W2 --warm-after 3d --now 2024-01-08 --once
	mkdir -p R2/$p && cp -a W2/$p/. R2/$p/ && cp R2/$p/000000000.q R2/$p/000000077.q
	run -1 --separate-stderr $T chr-tier --root R2 --warm W2 --warm-after 3d --now 2024-01-08 --once
	[[ "$stderr" == *"'$PWD/R2/$p/000000077.q' is not listed in its meta.json; '$p' left in hot"* ]]
	[[ "$stderr" != *"removed '$p'"* ]]
	[ -f R2/$p/000000077.q ] && [ -f W2/$p/meta.json ]
}

# edit_meta DIR PYTHON: run PYTHON on the JSON of DIR/meta.json (m), rewrite it
edit_meta() {
	python3 - "$1/meta.json" "$2" <<'EOF2'
import json, sys
m = json.load(open(sys.argv[1]))
exec(sys.argv[2])
open(sys.argv[1], "w").write(json.dumps(m, indent=2) + "\n")
EOF2
}

@test "a meta.json that disagrees with its segments' headers is not moved: the field and partition named, exit 1" {
	make_arch R
	local b=v1/binance/BTCUSDT e=v1/binance/ETHUSDT
	edit_meta R/$b/2024-01-01/trade 'm["ts_max"] += 10'
	edit_meta R/$b/2024-01-02/trade 'm["first_seq"] += 1'
	edit_meta R/$b/2024-01-03/trade 'm["time_min"] = m["time_min"].replace("2024-01-03", "2024-01-04")'
	edit_meta R/$e/2024-01-01/trade 'm["segments"][1]["ts_max"] -= 1'
	edit_meta R/$e/2024-01-02/trade 'm["segments"][0]["count"] += 1'
	edit_meta R/$e/2024-01-03/trade 'm["records"] -= 1'
	cp -r R R0
	run -1 --separate-stderr $T chr-tier --root R --cold C --cold-after 1d --zstd --now 2024-01-08 --once
	[[ "$stderr" == *"'$PWD/R/$b/2024-01-01/trade/meta.json': ts_max "*", but the segment headers say "*"; '$b/2024-01-01/trade' left in hot"* ]]
	[[ "$stderr" == *"'$PWD/R/$b/2024-01-02/trade/meta.json': first_seq "*", but the segment headers say "*"; '$b/2024-01-02/trade' left in hot"* ]]
	[[ "$stderr" == *"'$PWD/R/$b/2024-01-03/trade/meta.json': time_min '2024-01-04"*"', but the segment headers say '2024-01-03"* ]]
	[[ "$stderr" == *"'$PWD/R/$e/2024-01-01/trade/meta.json': segment 000000001.q: ts_max "*", but its header says "* ]]
	[[ "$stderr" == *"'$PWD/R/$e/2024-01-02/trade/meta.json': segment 000000000.q: count "* ]]
	[[ "$stderr" == *"'$PWD/R/$e/2024-01-03/trade/meta.json': records "* ]]
	local d
	for d in $b/2024-01-01 $b/2024-01-02 $b/2024-01-03 $e/2024-01-01 $e/2024-01-02 $e/2024-01-03; do
		diff -r R/$d R0/$d
		[ ! -e C/$d ]
	done
	# the sound ones moved, compressed
	[ -f C/$b/2024-01-04/trade/000000000.q.zst ]
	# a rename move checks the same
	run -1 --separate-stderr $T chr-tier --root R0 --warm W --warm-after 1d --now 2024-01-08 --once
	[[ "$stderr" == *"'$PWD/R0/$b/2024-01-01/trade/meta.json': ts_max "* ]]
	[ ! -e W/$b/2024-01-01 ] && [ -f W/$b/2024-01-04/trade/meta.json ]
	# and a move of compressed segments (their headers: the seek table's copy)
	edit_meta C/$b/2024-01-04/trade 'm["segments"][0]["base_seq"] += 1'
	printf 'cold %s 1d zstd\ndeep %s 2d\n' "$PWD/C" "$PWD/D" >R/chr-tier.conf
	run -1 --separate-stderr $T chr-tier --root R --now 2024-01-08 --once
	[[ "$stderr" == *"'$PWD/C/$b/2024-01-04/trade/meta.json': segment 000000000.q.zst: first_seq "*", but its header says "*"; '$b/2024-01-04/trade' left in cold"* ]]
	[ -f C/$b/2024-01-04/trade/000000000.q.zst ] && [ ! -e D/$b/2024-01-04 ]
	[ -f D/$b/2024-01-05/trade/000000000.q.zst ]
}

@test "--rebuild-manifest or a pass without a tier the manifest records, which holds data: refused, nothing forgotten" {
	make_arch R
	run -0 $T chr-tier --root R --cold C --cold-after 3d --now 2024-01-08 --once
	[ -f C/v1/binance/BTCUSDT/2024-01-01/trade/meta.json ]
	$T chr-tier --root R --dump-manifest >kept
	run -2 --separate-stderr $T chr-tier --root R --rebuild-manifest
	[[ "$stderr" == "chr-tier: manifest '$PWD/R/manifest.db' records tier 'cold' at '$PWD/C', which holds partitions or is not there: give it (--cold DIR --cold-after AGE, or a line of $PWD/R/chr-tier.conf)"* ]]
	$T chr-tier --root R --dump-manifest | diff kept -
	same_records R
	# a pass without it would drop it the same way
	run -2 --separate-stderr $T chr-tier --root R --now 2024-01-08 --once
	[[ "$stderr" == "chr-tier: manifest '$PWD/R/manifest.db' records tier 'cold' at '$PWD/C'"* ]]
	run -2 --separate-stderr $T chr-tier --root R --warm C2 --warm-after 1d --now 2024-01-08 --once
	[[ "$stderr" == "chr-tier: manifest '$PWD/R/manifest.db' records tier 'cold' at '$PWD/C'"* ]]
	# the same name at another directory
	run -2 --separate-stderr $T chr-tier --root R --cold C2 --cold-after 3d --rebuild-manifest
	[[ "$stderr" == "chr-tier: manifest '$PWD/R/manifest.db' records tier 'cold' at '$PWD/C', which holds partitions or is not there, but 'cold' is now '$PWD/C2' (move them first)"* ]]
	$T chr-tier --root R --dump-manifest | diff kept -
	same_records R
	# given by flags or by the config file, the rebuild equals the kept manifest
	run -0 $T chr-tier --root R --cold C --cold-after 3d --rebuild-manifest
	$T chr-tier --root R --dump-manifest | diff kept -
	echo "cold $PWD/C 3d" >R/chr-tier.conf
	run -0 $T chr-tier --root R --rebuild-manifest
	$T chr-tier --root R --dump-manifest | diff kept -
	same_records R
	# a recorded directory that is not there may be a disk not mounted
	rm R/chr-tier.conf
	[ ! -e C2 ] && mv C C2
	run -2 --separate-stderr $T chr-tier --root R --cold C2 --cold-after 3d --rebuild-manifest
	[[ "$stderr" == "chr-tier: manifest '$PWD/R/manifest.db' records tier 'cold' at '$PWD/C', which holds partitions or is not there, but 'cold' is now '$PWD/C2'"* ]]
	# one that holds nothing any more may go
	mkdir C
	run -0 $T chr-tier --root R --cold C2 --cold-after 3d --rebuild-manifest
	run -0 $T chr-tier --root R --dump-manifest
	[[ "$output" == *"tier	cold	$PWD/C2	1"* ]]
	same_records R
}
