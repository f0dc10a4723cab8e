#!/usr/bin/env bats
# chr-seal-copy, the raw archiver: sealed queue segments copied (or
# compressed) to ROOT/raw/v1/<venue>/<date>/raw/ with meta.json; reruns,
# retention, kills at random moments, bad segments, bad names, misuse.

load test_helper

# t.ev: the trade excerpt as records: 10000 (a DEFINE, 9999 trades), all
# on 2020-02-22; Q: a queue of 64 KiB segments holding it (19 sealed)
queue() {
	$T chr-csv2ev "$DATA/binance-futures_trades_BTCUSDT_2020-02-22_excerpt.csv" >t.ev
	$T chr-sink --queue Q --create -S 64K t.ev
}

P=A/raw/v1/binance/2020-02-22/raw

# check ARCHIVE-PARTITION-DIR QUEUE [z]: every sealed segment of QUEUE is in
# the partition exactly once, byte for byte its first `end` bytes (for z,
# compressed: `zstd -d` gives them back), and meta.json lists each once
# with the right counts, checksums and time range; nothing else is there
check() {
	python3 - "$@" <<'PY'
import glob, json, os, struct, subprocess, sys
part, q = sys.argv[1], sys.argv[2]
z = len(sys.argv) > 3
meta = json.load(open(part + "/meta.json"))
ids = [s["id"] for s in meta["segments"]]
assert ids == sorted(set(ids)), ("ids", ids)
sealed = {}
for path in sorted(glob.glob(q + "/[0-9]*.q")):
    data = open(path, "rb").read()
    magic, ver, flags, sid, base, end, count, tmin, tmax = struct.unpack_from("<IHHQQQQqq", data)
    if flags & 1:
        sealed[sid] = (data[:end], base, count, tmin, tmax)
files = sorted(os.listdir(part))
want = sorted("%09d.q%s" % (i, ".zst" if z else "") for i in sealed) + ["meta.json"]
assert files == want, ("files", files, want)
assert ids == sorted(sealed), ("meta ids", ids, sorted(sealed))
recs, lo, hi = 0, None, None
for s in meta["segments"]:
    raw, base, count, tmin, tmax = sealed[s["id"]]
    f = part + "/" + s["file"]
    got = open(f, "rb").read()
    if z:
        got = subprocess.run(["zstd", "-dc", f], capture_output=True, check=True).stdout
        assert s["compressed"] is True and s["raw_bytes"] == len(raw), s
        assert s["bytes"] == os.path.getsize(f), s
    else:
        assert "compressed" not in s and s["bytes"] == len(raw), s
    assert got == raw, ("bytes differ", f)
    assert (s["base_seq"], s["count"], s["ts_min"], s["ts_max"]) == (base, count, tmin, tmax), s
    xx = subprocess.run(["xxhsum", "-H2", f], capture_output=True, text=True, check=True).stdout
    assert s["checksum"] == "xxh3-128:" + xx.split()[0].split("_")[-1], (s, xx)
    recs += count
    if count:
        lo = tmin if lo is None else min(lo, tmin)
        hi = tmax if hi is None else max(hi, tmax)
assert meta["records"] == recs and meta["ts_min"] == lo and meta["ts_max"] == hi, meta
assert meta["format"] == "chronicle-raw-partition" and meta["version"] == 1
assert meta["stream"] == "raw" and meta["completeness"] == "sealed"
PY
}

# no temp file anywhere under the archive root $1
clean() {
	[ "$(ls -A "$1/.staging")" = lock ]
	[ -z "$(find "$1" -name '*tmp*')" ]
}

@test "seed: --once copies each sealed segment, meta.json holds the event time range" {
	queue
	run -0 --separate-stderr $T chr-seal-copy --source Q --archive-root A --venue binance --once
	[ "${#stderr_lines[@]}" = 20 ]
	[ "${stderr_lines[0]}" = "chr-seal-copy: raw/v1/binance/2020-02-22/raw/000000000.q: 511 records, 65536 bytes" ]
	# the records of the segment being written wait for its seal, said once
	[[ "${stderr_lines[19]}" == "chr-seal-copy: Q/000000019.q, the segment being written, holds records from seq 9709 on: "* ]]
	[ -f $P/000000000.q ]
	[ -f $P/000000018.q ]
	[ ! -e $P/000000019.q ]	# the current segment is not sealed
	check $P Q
	clean A
	run -0 python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); print(m["time_min"], m["time_max"], m["records"], m["venue"], m["date"])' $P/meta.json
	[ "$output" = "2020-02-22T00:00:02.418379000Z 2020-02-22T02:02:48.414778000Z 9709 binance 2020-02-22" ]
	[[ "$(cat $P/meta.json)" == *'"ingest_time": "'2[0-9][0-9][0-9]-*Z'",'* ]]
	# the archived segments are a stream: the records of the sealed segments
	$T chr-tail --format json --defines $P/*.q >arch.json
	$T chr-tail --format json --defines Q/0000000{00..18}.q >want.json
	cmp arch.json want.json
	[ "$(grep -c '"type_name":"DEFINE"' arch.json)" = 19 ]	# one, and 18 repeats
	# a rerun is a no-op
	cp -a A A0
	run -0 --separate-stderr $T chr-seal-copy --source Q --archive-root A --venue binance --once
	[ "${stderr_lines[0]}" = "chr-seal-copy: nothing to archive: reader 'seal-copy' of 'Q' is at seq 9709, past every sealed segment" ]
	diff -r A A0
	# the writer rolls on: the next run takes what was sealed since
	$T chr-sink --queue Q t.ev
	run -0 --separate-stderr $T chr-seal-copy --source Q --archive-root A --venue binance --once
	[[ "${stderr_lines[0]}" == "chr-seal-copy: raw/v1/binance/2020-02-22/raw/000000019.q: "* ]]
	check $P Q
	clean A
}

@test "--zstd: .q.zst files that zstd -d turns back into the segments" {
	queue
	run -0 --separate-stderr $T chr-seal-copy --source Q --archive-root A --venue binance --once --zstd
	[[ "${stderr_lines[0]}" == "chr-seal-copy: raw/v1/binance/2020-02-22/raw/000000000.q.zst: 511 records, 65536 bytes, "[0-9]*" compressed" ]]
	check $P Q z
	clean A
	zstd -q -d -c $P/000000000.q.zst >seg0
	head -c 65536 Q/000000000.q | cmp - seg0
	# the same as a plain copy, and a rerun is a no-op
	$T chr-seal-copy --source Q --archive-root B --venue binance --once --reader plain 2>/dev/null
	for f in B/raw/v1/binance/2020-02-22/raw/*.q; do
		zstd -q -d -c $P/$(basename $f).zst | cmp - $f
	done
	cp -a A A0
	$T chr-seal-copy --source Q --archive-root A --venue binance --once --zstd=19 2>/dev/null
	diff -r A A0
	# raw_checksum of a .zst = checksum of the plain copy
	python3 - <<'PY'
import json
a = json.load(open("A/raw/v1/binance/2020-02-22/raw/meta.json"))["segments"]
b = json.load(open("B/raw/v1/binance/2020-02-22/raw/meta.json"))["segments"]
assert [s["raw_checksum"] for s in a] == [s["checksum"] for s in b]
PY
}

@test "retention: nothing goes before it is archived; --retain-q removes what is" {
	queue
	# the archive lock held: chr-seal-copy (live, at seq 0) waits to publish
	mkdir -p A/.staging
	exec 9>A/.staging/lock
	flock 9
	chr-seal-copy --source Q --archive-root A --venue binance --poll-ms 50 2>log 3>&- 9>&- &
	pid=$!
	sleep 0.5
	$T chr-sink --queue Q --retain 0 </dev/null
	[ -f Q/000000000.q ]
	[ ! -e $P ]
	flock -u 9
	exec 9>&-
	for _ in $(seq 100); do
		[ -f $P/000000018.q ] && break
		sleep 0.1
	done
	sleep 0.2
	kill -TERM $pid
	wait $pid
	[ "$(wc -l <log)" = 19 ]
	check $P Q
	clean A
	# registered and passed: the next retention may remove them
	[ -f Q/000000000.q ]
	$T chr-sink --queue Q t.ev
	run -0 --separate-stderr $T chr-seal-copy --source Q --archive-root A --venue binance --once --retain-q
	[ "$(ls Q/*.q | head -1)" = "Q/000000039.q" ]	# the current segment (and spares made ahead)
	[ -f $P/000000038.q ]
	[ "$(ls $P | wc -l)" = 40 ]
}

@test "killed at random moments while the writer appends and rolls: each segment once, whole" {
	$T chr-csv2ev "$DATA/binance-futures_trades_BTCUSDT_2020-02-22_excerpt.csv" >t.ev
	$T chr-tail --limit 300 t.ev >part.ev
	$T chr-sink --queue Q --create -S 64K part.ev
	# the writer appends until the kills are over (however fast it runs),
	# and every append must succeed
	(
		while [ ! -e stop ]; do
			chr-sink --queue Q part.ev || exit 1
			sleep 0.01
		done
	) 3>&- &
	writer=$!
	for i in $(seq 40); do
		chr-seal-copy --source Q --archive-root A --venue binance --poll-ms 5 2>>log 3>&- &
		pid=$!
		sleep "0.$((RANDOM % 30))"
		kill -KILL $pid
		wait $pid || true
	done
	touch stop
	wait $writer
	run -0 --separate-stderr $T chr-seal-copy --source Q --archive-root A --venue binance --once
	check $P Q
	clean A
	# what each run logged: every segment archived by exactly one run
	cat log <(printf '%s\n' "${stderr_lines[@]}") | grep -o '[0-9]*\.q:' | sort | uniq -d >dups
	[ ! -s dups ]
	[ "$(ls $P/*.q | wc -l)" -gt 20 ]
	run -1 grep -v -e ': [0-9]* records, [0-9]* bytes' -e 'nothing to archive' log
}

@test "a file in place that meta.json does not list is verified: adopted, or an error" {
	queue
	$T chr-seal-copy --source Q --archive-root A --venue binance --once 2>/dev/null
	cp $P/meta.json meta.full
	# as a run killed after the rename of segment 18, before meta.json
	unlist() {
		python3 - $P/meta.json <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
s = m["segments"].pop()
m["records"] -= s["count"]
m["ts_max"] = m["segments"][-1]["ts_max"]
json.dump(m, open(sys.argv[1], "w"), indent=2)
PY
	}
	unlist
	run -0 --separate-stderr $T chr-seal-copy --source Q --archive-root A --venue binance --once --reader again
	[ "${stderr_lines[0]}" = "chr-seal-copy: raw/v1/binance/2020-02-22/raw/000000018.q: 511 records, 65536 bytes (found in place, verified)" ]
	diff <(grep -v ingest_time meta.full) <(grep -v ingest_time $P/meta.json)
	check $P Q
	# a file that differs is an error, and stays unlisted
	unlist
	printf 'X' | dd of=$P/000000018.q bs=1 seek=1000 conv=notrunc status=none
	run -1 --separate-stderr $T chr-seal-copy --source Q --archive-root A --venue binance --once --reader third
	[[ "$stderr" == "chr-seal-copy: '$P/000000018.q' holds other bytes than the segment (65536 bytes, xxh3-128:"* ]]
	[ "$(grep -c '"id"' $P/meta.json)" = 18 ]
	# meta.json listing another segment under the id is an error too
	cp meta.full $P/meta.json
	sed -i 's/"base_seq": 9198/"base_seq": 9199/' $P/meta.json
	run -1 --separate-stderr $T chr-seal-copy --source Q --archive-root A --venue binance --once --reader fourth
	[[ "$stderr" == "chr-seal-copy: '$P/meta.json' lists another segment 000000018 (base_seq 9199, "* ]]
}

@test "a partition moved away by chr-tier is not started again" {
	queue
	$T chr-seal-copy --source Q --archive-root A --venue binance --once 2>/dev/null
	mkdir -p W/raw/v1/binance/2020-02-22
	mv $P W/raw/v1/binance/2020-02-22/
	printf '# tiers\nwarm %s/W 7d\ndelete 400d\n' "$PWD" >A/chr-tier.conf
	$T chr-sink --queue Q t.ev
	run -1 --separate-stderr $T chr-seal-copy --source Q --archive-root A --venue binance --once
	[ "$stderr" = "chr-seal-copy: partition 'raw/v1/binance/2020-02-22/raw' lives in tier warm ('$PWD/W/raw/v1/binance/2020-02-22/raw'), not in 'A': segment 000000019 is not archived; move the partition back into 'A' (docs/tiers.md, \"Writers and tiers\")" ]
	[ ! -e $P ]
	clean A
	# the service notices a move while it runs, also without a config
	rm A/chr-tier.conf
	mv W/raw/v1/binance/2020-02-22/raw $P
	chr-seal-copy --source Q --archive-root A --venue binance --poll-ms 20 2>log 3>&- &
	pid=$!
	for _ in $(seq 100); do
		[ -f $P/000000038.q ] && break
		sleep 0.1
	done
	sleep 0.2
	mv $P W/raw/v1/binance/2020-02-22/
	$T chr-sink --queue Q t.ev
	rc=0
	wait $pid || rc=$?
	[ $rc = 1 ]
	[ "$(tail -n 1 log)" = "chr-seal-copy: partition 'raw/v1/binance/2020-02-22/raw' is no longer in 'A' (moved to another tier?); segment 000000039 is not archived" ]
	[ ! -e $P ]
}

@test "a corrupt record in a sealed segment: exit 1 naming file and byte, nothing of it published" {
	queue
	printf 'X' | dd of=Q/000000001.q bs=1 seek=330 conv=notrunc status=none
	run -1 --separate-stderr $T chr-seal-copy --source Q --archive-root A --venue binance --once
	[ "${stderr_lines[0]}" = "chr-seal-copy: raw/v1/binance/2020-02-22/raw/000000000.q: 511 records, 65536 bytes" ]
	[ "${stderr_lines[1]}" = "chr-seal-copy: Q/000000001.q: byte 256: bad crc" ]
	[ "$(ls $P)" = "000000000.q
meta.json" ]
	clean A
	# the reader stays before it; a seq out of order is named too
	run -1 --separate-stderr $T chr-seal-copy --source Q --archive-root A --venue binance --once
	[ "$stderr" = "chr-seal-copy: Q/000000001.q: byte 256: bad crc" ]
	$T chr-sink --queue R --create -S 64K t.ev
	# give the 3rd record of the segment the seq of the 2nd, CRC made right
	pos=$(python3 - R/000000002.q <<'PY'
import struct, sys
f = open(sys.argv[1], "r+b")
data = bytearray(f.read())
pos = 64
for _ in range(2):
    pos += (struct.unpack_from("<I", data, pos)[0] + 63) // 64 * 64
seq = struct.unpack_from("<Q", data, pos + 8)[0]
f.seek(pos + 8)
f.write(struct.pack("<Q", seq - 1))
print(pos)
PY
)
	gen seal R/000000002.q $pos
	run -1 --separate-stderr $T chr-seal-copy --source R --archive-root B --venue binance --once
	[ "${stderr_lines[2]}" = "chr-seal-copy: R/000000002.q: byte 384: seq 1023 where 1024 was expected" ]
	[ "$(ls B/raw/v1/binance/2020-02-22/raw | wc -l)" = 3 ]
}

@test "an empty queue: nothing to archive, no partition" {
	$T chr-sink --queue Q --create -S 64K </dev/null
	run -0 --separate-stderr $T chr-seal-copy --source Q --archive-root A --venue binance --once
	[ "$stderr" = "chr-seal-copy: nothing to archive: reader 'seal-copy' of 'Q' is at seq 0, past every sealed segment" ]
	[ ! -e A/raw ]
	[ -f Q/readers/seal-copy ]
}

@test "hostile names are usage errors, nothing written" {
	queue
	for v in ../x a/b .hidden '' 'a b'; do
		run -2 --separate-stderr $T chr-seal-copy --source Q --archive-root A --venue "$v" --once
		[[ "$stderr" == "chr-seal-copy: --venue '"*"': "* ]]
		[ "${stderr_lines[1]}" = "Try 'chr-seal-copy --help' for more information." ]
	done
	run -2 --separate-stderr $T chr-seal-copy --source Q --archive-root A --venue x --reader ../r --once
	[[ "$stderr" == "chr-seal-copy: --reader '../r': "* ]]
	[ ! -e A ]
	[ ! -e x ]
	[ ! -e Q/readers ]
}

@test "misuse exits 2, a bad source or root 3, a reader in use 3; -h and --version" {
	run -0 $T chr-seal-copy -h
	[ "${lines[0]}" = "usage: chr-seal-copy --source QUEUE --archive-root ROOT --venue VENUE" ]
	run -0 $T chr-seal-copy --help
	[[ "$output" == *"--retain-q"* ]]
	run -0 $T chr-seal-copy --version
	[[ "$output" == "chr-seal-copy "[0-9]* ]]
	run -2 --separate-stderr $T chr-seal-copy --archive-root A --venue x
	[ "${stderr_lines[0]}" = "chr-seal-copy: --source is required" ]
	run -2 --separate-stderr $T chr-seal-copy --source Q --venue x
	[ "${stderr_lines[0]}" = "chr-seal-copy: --archive-root is required" ]
	run -2 --separate-stderr $T chr-seal-copy --source Q --archive-root A
	[ "${stderr_lines[0]}" = "chr-seal-copy: --venue is required" ]
	run -2 --separate-stderr $T chr-seal-copy --source Q --archive-root A --venue x --once --poll-ms 5
	[ "${stderr_lines[0]}" = "chr-seal-copy: --once and --poll-ms exclude each other" ]
	run -2 --separate-stderr $T chr-seal-copy --source Q --archive-root A --venue x --zstd=0
	[ "${stderr_lines[0]}" = "chr-seal-copy: --zstd '0' is not a number from 1 to 19" ]
	run -2 --separate-stderr $T chr-seal-copy --source Q --archive-root A --venue x --poll-ms 1s
	[ "${stderr_lines[0]}" = "chr-seal-copy: --poll-ms '1s' is not a number from 1 to 3600000" ]
	run -2 $T chr-seal-copy --source Q --archive-root A --venue x --bogus
	run -2 --separate-stderr $T chr-seal-copy --source Q --archive-root A --venue x extra
	[ "${stderr_lines[0]}" = "chr-seal-copy: unexpected argument 'extra'" ]
	run -3 --separate-stderr $T chr-seal-copy --source nope --archive-root A --venue x --once
	[ "$stderr" = "chr-seal-copy: 'nope' is not a queue" ]
	queue
	touch F
	run -3 --separate-stderr $T chr-seal-copy --source Q --archive-root F --venue x --once
	[[ "$stderr" == "chr-seal-copy: cannot create 'F': "* ]]
	chr-seal-copy --source Q --archive-root A --venue x --poll-ms 50 2>/dev/null 3>&- &
	pid=$!
	sleep 0.5
	run -3 --separate-stderr $T chr-seal-copy --source Q --archive-root A --venue x --once
	[ "$stderr" = "chr-seal-copy: Q/readers/seal-copy: reader 'seal-copy' is in use by pid $pid" ]
	kill -INT $pid
	wait $pid
}

@test "--zstd: a .q.zst in place is verified by its decompressed bytes; a plain one too" {
	queue
	$T chr-seal-copy --source Q --archive-root A --venue binance --once --zstd 2>/dev/null
	python3 - $P/meta.json <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
s = m["segments"].pop()
m["records"] -= s["count"]
json.dump(m, open(sys.argv[1], "w"), indent=2)
PY
	# a plain run finds the compressed file in place and adopts it
	run -0 --separate-stderr $T chr-seal-copy --source Q --archive-root A --venue binance --once --reader plain
	[[ "${stderr_lines[0]}" == "chr-seal-copy: raw/v1/binance/2020-02-22/raw/000000018.q.zst: 511 records, 65536 bytes, "[0-9]*" compressed (found in place, verified)" ]]
	check $P Q z
	# a damaged one is an error
	cp $P/000000018.q.zst keep
	python3 - $P/meta.json <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
m["segments"].pop()
json.dump(m, open(sys.argv[1], "w"), indent=2)
PY
	printf 'X' | dd of=$P/000000018.q.zst bs=1 seek=100 conv=notrunc status=none
	run -1 --separate-stderr $T chr-seal-copy --source Q --archive-root A --venue binance --once --zstd --reader z2
	[[ "$stderr" == "chr-seal-copy: "*"000000018.q.zst"* ]]
	# a .q and a .q.zst of one id
	cp keep $P/000000018.q.zst
	head -c 65536 Q/000000018.q >$P/000000018.q
	run -1 --separate-stderr $T chr-seal-copy --source Q --archive-root A --venue binance --once --zstd --reader z3
	[ "$stderr" = "chr-seal-copy: '$P/000000018.q.zst' and '$P/000000018.q' both hold segment 000000018" ]
}

@test "a finite feed with chr-sink --seal-at-end is archived whole by --once" {
	$T chr-csv2ev "$DATA/binance-futures_trades_BTCUSDT_2020-02-22_excerpt.csv" >t.ev
	first 4000 t.ev >part1.ev
	n1=$($T chr-tail --format text part1.ev | wc -l)
	run -0 $T chr-sink --queue Q --create -S 64K --seal-at-end part1.ev
	run -0 --separate-stderr $T chr-seal-copy --source Q --archive-root A --venue binance --once
	[[ "$stderr" != *"the segment being written"* ]]
	check $P Q
	# every record fed is in the raw archive, the last ones too (besides
	# the DEFINE repeats at the head of each segment)
	$T chr-tail --format text Q >q.txt
	[ "$(wc -l <q.txt)" = "$n1" ]
	$T chr-tail --format text $P | grep -v " DEFINE .*flags=REPEAT" | cmp - q.txt
	# a second feed continues the queue and is archived whole in turn;
	# sealing a segment of nothing but DEFINE repeats is a no-op
	run -0 $T chr-sink --queue Q --seal-at-end </dev/null
	run -0 $T chr-sink --queue Q --seal-at-end t.ev
	run -0 --separate-stderr $T chr-seal-copy --source Q --archive-root A --venue binance --once
	check $P Q
	$T chr-tail --format text Q >q.txt
	[ "$(wc -l <q.txt)" = "$((n1 + 10000))" ]
	$T chr-tail --format text $P | grep -v " DEFINE .*flags=REPEAT" | cmp - q.txt
	# an input that fails seals nothing: its good records wait in the
	# active segment, as without --seal-at-end
	head -c 1000 t.ev >bad.ev
	sealed=$(ls Q/*.q | wc -l)
	run -1 $T chr-sink --queue Q --seal-at-end bad.ev
	run -0 --separate-stderr $T chr-seal-copy --source Q --archive-root A --venue binance --once
	[[ "${stderr_lines[0]}" == "chr-seal-copy: nothing to archive: "* ]]
	# and --once says so, so that a finished capture is not taken for whole
	[[ "${stderr_lines[1]}" =~ ^"chr-seal-copy: Q/"[0-9]{9}".q, the segment being written, holds records from seq "[0-9]+" on: they are archived once it seals (a finished feed: chr-sink --queue --seal-at-end)"$ ]]
	$T chr-tail --format text $P | grep -v " DEFINE .*flags=REPEAT" | cmp - q.txt
	# for --queue only
	run -2 --separate-stderr $T chr-sink --archive X --seal-at-end t.ev
	[ "$stderr_lines" = "chr-sink: --seal-at-end is for --queue" ]
}

@test "a segment that lost its seal before a later one: exit 1 naming it, not 'nothing to archive'" {
	queue
	python3 - Q/000000002.q <<'PY'
import struct, sys
f = open(sys.argv[1], "r+b")
flags = struct.unpack_from("<H", f.read(8), 6)[0]
f.seek(6)
f.write(struct.pack("<H", flags & ~1))
PY
	for run in 1 2; do
		run -1 --separate-stderr $T chr-seal-copy --source Q --archive-root A --venue binance --once
		[ "${stderr_lines[-1]}" = "chr-seal-copy: Q/000000002.q: not sealed, but 000000003.q follows it" ]
	done
	[ "$(ls $P)" = "000000000.q
000000001.q
meta.json" ]
	# the writer's recovery seals it again: the archive goes on, whole
	$T chr-sink --queue Q </dev/null
	run -0 --separate-stderr $T chr-seal-copy --source Q --archive-root A --venue binance --once
	check $P Q
}

@test "a damaged segment header in the middle: exit 1 naming it, on every run" {
	queue
	poke Q/000000002.q 0 NOPE
	run -1 --separate-stderr $T chr-seal-copy --source Q --archive-root A --venue binance --once
	[ "${stderr_lines[2]}" = "chr-seal-copy: Q/000000002.q: byte 0: bad segment magic" ]
	[ "$(ls $P)" = "000000000.q
000000001.q
meta.json" ]
	# a rerun and the daemon stop there too, until someone acts
	run -1 --separate-stderr $T chr-seal-copy --source Q --archive-root A --venue binance --once
	[ "$stderr" = "chr-seal-copy: Q/000000002.q: byte 0: bad segment magic" ]
	run -1 --separate-stderr $T chr-seal-copy --source Q --archive-root A --venue binance --poll-ms 10
	[ "$stderr" = "chr-seal-copy: Q/000000002.q: byte 0: bad segment magic" ]
	# what docs/archive.md says to do: move the segment aside; the hole is
	# named with its seqs, until the reader is moved past them
	mkdir aside
	mv Q/000000002.q Q/000000002.idx aside/
	run -1 --separate-stderr $T chr-seal-copy --source Q --archive-root A --venue binance --once
	[ "$stderr" = "chr-seal-copy: Q/000000002.q: missing, but later segments follow it; seq 1022 to 1532 are not archived" ]
	$T chr-tail --reader seal-copy --from-seq 1533 --limit 1 Q >/dev/null
	run -0 --separate-stderr $T chr-seal-copy --source Q --archive-root A --venue binance --once
	[ "${stderr_lines[0]}" = "chr-seal-copy: raw/v1/binance/2020-02-22/raw/000000003.q: 511 records, 65536 bytes" ]
	[ "$(ls $P | wc -l)" = 19 ]
}

# The campaign of docs/tiers.md "Writers and tiers": chr-seal-copy killed at
# random CHR_KILLS times (12 here; `make kill-campaign` runs 100) while a
# writer rolls segments over six days, each run followed by a chr-tier pass
# that moves the finished days to warm, then to cold (compressed). The
# pass's now is the newest archived time: the clock of a live archiver,
# the tiers' ages standing for days. The writer appends each chunk to Q and
# to REF, which nothing reads or removes: the uninterrupted run is of REF.
@test "killed at random while a writer rolls segments over days, chr-tier passes between: each segment archived once, none lost, equal to an uninterrupted run" {
	kills=${CHR_KILLS:-12}
	chunks=$((3 * kills))
	gen_csv 6 $((200 * kills)) BTCUSDT >d.csv
	python3 - d.csv $chunks <<'PY'
import sys
rows = open(sys.argv[1]).read().splitlines()
n = int(sys.argv[2])
per = -(-(len(rows) - 1) // n)
for i in range(n):
    with open("c%d.csv" % i, "w") as f:
        f.write("\n".join([rows[0]] + rows[1 + i * per:1 + (i + 1) * per]) + "\n")
PY
	for i in $(seq 0 $((chunks - 1))); do $T chr-csv2ev c$i.csv >c$i.ev; done
	$T chr-sink --queue Q --create -S 64K </dev/null
	$T chr-sink --queue REF --create -S 64K </dev/null
	mkdir W C
	printf 'warm %s/W 1h\ncold %s/C 1d zstd=1\n' "$PWD" "$PWD" >A.conf
	# what the hot tier has archived up to: the tier pass's now
	newest() {
		python3 -c 'import glob, json, sys; print(max([json.load(open(f))["ts_max"] for f in glob.glob("A/raw/v1/binance/*/raw/meta.json")] or [0]))'
	}
	# every sealed segment of REF that Q no longer holds is archived
	cat >kept.py <<'PY'
import glob, json, os, struct
listed = set()
for m in glob.glob("*/raw/v1/binance/*/raw/meta.json"):
    listed |= {s["id"] for s in json.load(open(m))["segments"]}
for path in glob.glob("REF/[0-9]*.q"):
    sid = int(os.path.basename(path)[:-2])
    if struct.unpack_from("<H", open(path, "rb").read(8), 6)[0] & 1 and not os.path.exists("Q/%09d.q" % sid):
        assert sid in listed, ("removed from Q, not archived", sid)
PY
	echo 0 >kills
	# the writer appends chunk i once kill i/3 has begun, so rolls and
	# new days happen throughout the kills; every append must succeed
	(
		for i in $(seq 0 $((chunks - 1))); do
			while [ $(($(cat kills) * 3)) -lt $i ]; do sleep 0.01; done
			chr-sink --queue Q c$i.ev && chr-sink --queue REF c$i.ev || exit 1
			sleep 0.0$((RANDOM % 5))
		done
	) 3>&- &
	writer=$!
	for k in $(seq $kills); do
		echo $k >kills.new && mv kills.new kills
		chr-seal-copy --source Q --archive-root A --venue binance --poll-ms 5 --retain-q 2>>log 3>&- &
		pid=$!
		sleep "0.$((RANDOM % 30))"
		kill -KILL $pid
		wait $pid || true
		if [ -d A ]; then
			[ -e A/chr-tier.conf ] || cp A.conf A/chr-tier.conf
			$T chr-tier --root A --now "$(newest)ns" --once 2>>tierlog
		fi
		python3 kept.py
	done
	wait $writer
	$T chr-sink --queue Q --seal-at-end </dev/null
	$T chr-sink --queue REF --seal-at-end </dev/null
	run -0 --separate-stderr $T chr-seal-copy --source Q --archive-root A --venue binance --once --retain-q
	echo "$stderr" >>log
	$T chr-tier --root A --now "$(newest)ns" --once 2>>tierlog
	python3 kept.py
	[ "$(ls -A A/.staging | tr '\n' ' ')" = ".tier-lock lock " ]
	[ -z "$(find A W C -name '*tmp*')" ]
	# the days moved, some compressed in cold
	[ -n "$(ls W/raw/v1/binance)" ]
	[ -n "$(find C -name '*.q.zst')" ]
	# the uninterrupted run
	$T chr-seal-copy --source REF --archive-root B --venue binance --once 2>/dev/null
	[ "$(ls B/raw/v1/binance | wc -l)" = 6 ]
	python3 - <<'PY'
import glob, json, os, subprocess
def parts(root):
    return {os.path.basename(os.path.dirname(p)): p for p in glob.glob(root + "/raw/v1/binance/*/raw")}
ref = parts("B")
tiers = [parts(t) for t in ("A", "W", "C")]
for date in sorted(set().union(*tiers) | set(ref)):
    where = [t[date] for t in tiers if date in t]
    assert len(where) == 1, ("a date in one tier", date, where)
    got, want = where[0], ref[date]
    gm, wm = (json.load(open(p + "/meta.json")) for p in (got, want))
    for k in ("records", "ts_min", "ts_max", "venue", "date", "completeness"):
        assert gm[k] == wm[k], (date, k, gm[k], wm[k])
    assert len(gm["segments"]) == len(wm["segments"]), (date, "segments")
    for g, w in zip(gm["segments"], wm["segments"]):
        for k in ("id", "base_seq", "count", "ts_min", "ts_max"):
            assert g[k] == w[k], (date, k, g, w)
        data = open(got + "/" + g["file"], "rb").read()
        if g.get("compressed"):
            data = subprocess.run(["zstd", "-dc", got + "/" + g["file"]], capture_output=True, check=True).stdout
        assert data == open(want + "/" + w["file"], "rb").read(), (date, g["file"])
    assert sorted(os.listdir(got)) == sorted([s["file"] for s in gm["segments"]] + ["meta.json"]), (date, os.listdir(got))
PY
	# read back through the tiers: the records of the uninterrupted run
	cmp <($T chr-tail --archive A --venue binance --stream raw) <($T chr-tail --archive B --venue binance --stream raw)
	# each segment logged by one run at most; nothing but archiving said
	grep -o '[0-9]*\.q:' log | sort | uniq -d >dups
	[ ! -s dups ]
	run -1 grep -v -e ': [0-9]* records, [0-9]* bytes' -e 'nothing to archive' -e '^$' log
	run -1 grep -v "^chr-tier: moved 'raw/v1/binance/2024-01-0[1-6]/raw' from " tierlog
}
