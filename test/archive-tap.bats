#!/usr/bin/env bats
# The archive tap, chr-sink --tap and scripts/chr-archive-tap: a hot queue
# copied into an archive queue by a named reader that commits only what the
# archive holds, exactly once across kills, holding back retention.

load test_helper

CSV="$DATA/binance-futures_trades_BTCUSDT_2020-02-22_excerpt.csv"

# the committed seq of the named reader $2 of the queue $1 (docs/format.md,
# "Named readers": the valid slot with the larger generation)
pos() {
	python3 - "$1/readers/$2" <<'EOF'
import struct, sys
d = open(sys.argv[1], "rb").read()
assert len(d) == 192 and struct.unpack_from("<IH", d, 0) == (0x534F5051, 1)
best = None
for i in (0, 1):
    gen, seq = struct.unpack_from("<QQ", d, 64 + 64 * i)
    if gen and (gen - 1) % 2 == i and (best is None or gen > best[0]):
        best = (gen, seq)
print(best[1])
EOF
}

# the records of a queue as JSON without seq and crc, in order
records() {
	$T chr-tail --format json --defines "$1" | python3 -c '
import json, sys
for l in sys.stdin:
    r = json.loads(l)
    del r["seq"], r["crc"]
    print(json.dumps(r, sort_keys=True))'
}

# the seq after the last record of a queue (0 when empty)
end_seq() {
	$T chr-tail --format json "$1" | tail -1 | python3 -c '
import json, sys
l = sys.stdin.read()
print(json.loads(l)["seq"] + 1 if l else 0)'
}

@test "chr-archive-tap: -h, misuse" {
	run -0 chr-archive-tap -h
	[[ "${lines[0]}" == "usage: chr-archive-tap "* ]]
	run -2 chr-archive-tap
	run -2 chr-archive-tap HOT
	run -2 chr-archive-tap --bogus HOT ARCH
	run -2 chr-archive-tap --reader
	run -3 --separate-stderr chr-archive-tap nope ARCH
	[ "$stderr" = "chr-archive-tap: 'nope' is not a queue" ]
	$T chr-sink --queue HOT --create </dev/null
	run -2 --separate-stderr chr-archive-tap --fsync bogus HOT ARCH
	[[ "$stderr" == "chr-sink: --fsync 'bogus' is not never, seal or a period"* ]]
	[ ! -e ARCH ]
}

@test "chr-sink --tap: misuse" {
	$T chr-sink --queue HOT --create </dev/null
	run -2 --separate-stderr chr-sink --queue ARCH --tap HOT
	[ "${stderr_lines[0]}" = "chr-sink: --tap needs --reader NAME" ]
	run -2 --separate-stderr chr-sink --tap HOT --reader t
	[ "${stderr_lines[0]}" = "chr-sink: --tap needs --queue DIR, the archive queue" ]
	run -2 --separate-stderr chr-sink --queue ARCH --reader t
	[ "${stderr_lines[0]}" = "chr-sink: --reader is for --tap and --ack" ]
	run -2 --separate-stderr chr-sink --queue ARCH --follow
	[ "${stderr_lines[0]}" = "chr-sink: --follow is for --tap" ]
	run -2 --separate-stderr chr-sink --queue ARCH --archive R --tap HOT --reader t
	[ "${stderr_lines[0]}" = "chr-sink: --tap and --archive exclude each other" ]
	run -2 --separate-stderr chr-sink --route 'R/{venue}' --tap HOT --reader t
	[ "${stderr_lines[0]}" = "chr-sink: --tap needs --queue DIR, the archive queue" ]
	run -2 --separate-stderr chr-sink --queue ARCH --route 'R/{venue}' --tap HOT --reader t
	[ "${stderr_lines[0]}" = "chr-sink: --tap and --route exclude each other" ]
	run -2 --separate-stderr chr-sink --queue ARCH --tap HOT --reader t file.ev
	[ "${stderr_lines[0]}" = "chr-sink: --tap reads no FILE, but 'file.ev' is given" ]
	run -2 --separate-stderr chr-sink --queue ARCH --tap HOT --reader a/b
	[[ "${stderr_lines[0]}" == "chr-sink: reader name 'a/b': "* ]]
	run -2 --separate-stderr chr-sink --queue ./HOT --tap HOT --reader t
	[ "${stderr_lines[0]}" = "chr-sink: --tap 'HOT' is the queue --queue './HOT' writes" ]
	run -3 --separate-stderr chr-sink --queue ARCH --create --tap nope --reader t
	[ "$stderr" = "chr-sink: 'nope' is not a queue" ]
	[ ! -e ARCH ]
	run -3 --separate-stderr chr-sink --queue ARCH --tap HOT --reader t
	[[ "$stderr" == *"; --create makes it" ]]
}

@test "an empty hot queue taps to an empty archive queue" {
	$T chr-sink --queue HOT --create </dev/null
	run -0 --separate-stderr $T chr-archive-tap --once HOT ARCH
	[ "$stderr" = "" ]
	[ -f ARCH/control ]
	[ "$(pos HOT archive-tap)" = 0 ]
	[ "$(end_seq ARCH)" = 0 ]
}

@test "copy: the archive queue holds the hot queue's records, the reader is at the end" {
	$T chr-csv2ev "$CSV" >t.ev
	pieces t.ev 2
	$T chr-sink --queue HOT --create -S 64K piece.00
	run -0 --separate-stderr $T chr-archive-tap --once -S 64K HOT ARCH
	[ "$stderr" = "" ]
	records HOT >hot.json
	records ARCH >arch.json
	[ "$(wc -l <hot.json)" = 5000 ]
	cmp hot.json arch.json
	$T chr-tail --format csv HOT >hot.csv
	$T chr-tail --format csv ARCH | cmp - hot.csv
	[ "$(pos HOT archive-tap)" = "$(end_seq HOT)" ]
	# again: nothing new, nothing twice
	run -0 --separate-stderr $T chr-sink --queue ARCH --tap HOT --reader archive-tap -v
	[[ "$stderr" == "chr-sink: ARCH: 0 records appended, "* ]]
	records ARCH | cmp - hot.json
	# more records in HOT: only they are copied
	$T chr-sink --queue HOT piece.01
	$T chr-archive-tap --once HOT ARCH
	records t.ev >all.json
	records ARCH | cmp - all.json
	[ "$(pos HOT archive-tap)" = "$(end_seq HOT)" ]
	# a second reader name starts at 0; ARCH holds it all: nothing is appended
	run -0 --separate-stderr $T chr-sink --queue ARCH --tap HOT --reader other -v
	[[ "$stderr" == "chr-sink: ARCH: 0 records appended, "* ]]
	# a reader held by another process (the queue ARCH is, too)
	chr-archive-tap HOT ARCH 3>&- & tap=$!
	for _ in $(seq 100); do
		$T chr-sink --queue ARCH2 --create --tap HOT --reader archive-tap 2>err && sleep 0.1 ||
			break
	done
	[ "$(cat err)" = "chr-sink: HOT/readers/archive-tap: reader 'archive-tap' is in use by pid $tap" ]
	run -3 --separate-stderr $T chr-archive-tap --once --reader other HOT ARCH
	[ "$stderr" = "chr-sink: ARCH: queue is locked by another writer (pid $tap)" ]
	kill -TERM $tap
	wait $tap
}

@test "following: SIGTERM ends the tap cleanly, all copied and committed" {
	$T chr-csv2ev "$CSV" >t.ev
	pieces t.ev 4
	$T chr-sink --queue HOT --create -S 64K piece.00
	chr-archive-tap --fsync 100ms HOT ARCH 3>&- & tap=$!
	for f in piece.01 piece.02 piece.03; do $T chr-sink --queue HOT $f; done
	end=$(end_seq HOT)
	for _ in $(seq 300); do
		[ "$(pos HOT archive-tap)" = "$end" ] && break
		sleep 0.1
	done
	kill -TERM $tap
	wait $tap
	[ "$(pos HOT archive-tap)" = "$end" ]
	records HOT >hot.json
	records ARCH | cmp - hot.json
}

@test "killed tap: every hot record exactly once in order, the position never ahead of the archive" {
	$T chr-csv2ev "$CSV" >t.ev
	pieces t.ev 30
	$T chr-sink --queue HOT --create -S 16K </dev/null
	( for f in piece.*; do chr-sink --queue HOT $f; sleep 0.1; done ) 3>&- &
	feeder=$!
	for i in $(seq 15); do
		chr-sink --queue ARCH --create -S 8K --tap HOT --reader archive-tap --follow \
			--fsync $([ $((i % 2)) = 0 ] && echo seal || echo never) 3>&- 2>/dev/null & tap=$!
		sleep 0.$((RANDOM % 4))$((RANDOM % 10))
		kill -KILL $tap
		wait $tap 2>/dev/null || true
		# killed before it registered: nothing to check yet
		[ -e HOT/readers/archive-tap ] || continue
		# the committed position is at most one past the last HOT record
		# that ARCH holds (matched by src_seq)
		p=$(pos HOT archive-tap)
		$T chr-tail --format json HOT >hot.jl
		$T chr-tail --format json ARCH >arch.jl
		python3 - "$p" hot.jl arch.jl <<'EOF'
import json, sys
p = int(sys.argv[1])
hot = {}
for l in open(sys.argv[2]):
    r = json.loads(l)
    hot.setdefault(r["src_seq"], r["seq"])
last = -1
for l in open(sys.argv[3]):
    r = json.loads(l)
    last = max(last, hot[r["src_seq"]])
assert p <= last + 1, "position %d, but ARCH holds HOT seq %d last" % (p, last)
EOF
	done
	wait $feeder
	records t.ev >all.json
	records HOT | cmp - all.json
	run -0 $T chr-archive-tap --once HOT ARCH
	records ARCH | cmp - all.json
	[ "$(pos HOT archive-tap)" = "$(end_seq HOT)" ]
}

@test "retention: the hot queue keeps what the live tap has not archived yet" {
	$T chr-csv2ev "$CSV" >t.ev
	pieces t.ev 10
	$T chr-sink --queue HOT --create -S 4K piece.00
	chr-sink --queue ARCH --create --tap HOT --reader archive-tap --follow 3>&- & tap=$!
	end=$(end_seq HOT)
	for _ in $(seq 300); do
		[ "$(pos HOT archive-tap)" = "$end" ] && break
		sleep 0.1
	done
	[ "$(pos HOT archive-tap)" = "$end" ]
	# the tap is live but stops reading: what it passed may go, the rest stays
	kill -STOP $tap
	for f in piece.0[1-9]; do $T chr-sink --queue HOT --retain 0 $f; done
	[ ! -e HOT/000000000.q ]
	first=$($T chr-tail --format json --defines HOT | head -1 | python3 -c 'import json, sys; print(json.loads(sys.stdin.read())["seq"])')
	[ "$first" -le "$end" ]
	kill -CONT $tap
	end=$(end_seq HOT)
	for _ in $(seq 300); do
		[ "$(pos HOT archive-tap)" = "$end" ] && break
		sleep 0.1
	done
	kill -TERM $tap
	wait $tap
	$T chr-tail --format csv ARCH >arch.csv
	$T chr-tail --format csv t.ev | cmp - arch.csv
}
