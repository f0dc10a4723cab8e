#!/usr/bin/env bats
# Reading a queue for an exactly-once consumer keyed by its positions (the
# refinery): chr-tail --restamp and --from-reader, chr-sink --ack; with
# retention removing what no live reader holds.

load test_helper

# t.ev: the trade excerpt as records: 10000 (a DEFINE, 9999 trades)
trades() {
	$T chr-csv2ev "$DATA/binance-futures_trades_BTCUSDT_2020-02-22_excerpt.csv" >t.ev
}

# the given fields (default seq) of each record of a read, one record a line
fields() {
	local f="${FIELDS:-seq}"
	$T chr-tail --format json --defines "$@" | python3 -c '
import json, sys
keys = sys.argv[1].split(",")
for l in sys.stdin:
    r = json.loads(l)
    print(" ".join(str(r.get(k)) for k in keys))' "$f"
}

# reader $2 of queue $1 last committed long ago (its beat at the epoch, the
# CRC made right): no grace after a commit keeps what it has not passed
age_reader() {
	python3 - "$1/readers/$2" <<'PY'
import struct, sys
def crc32c(b):
    c = 0xFFFFFFFF
    for x in b:
        c ^= x
        for _ in range(8):
            c = (c >> 1) ^ (0x82F63B78 & -(c & 1))
    return c ^ 0xFFFFFFFF
d = bytearray(open(sys.argv[1], "rb").read())
for o in (64, 128):
    if struct.unpack_from("<Q", d, o)[0]:
        struct.pack_into("<Q", d, o + 16, 1)
        struct.pack_into("<I", d, o + 60, crc32c(bytes(d[o:o + 60])))
open(sys.argv[1], "r+b").write(d)
PY
}

# wait until reader $2 of queue $1 is at $3 (10 s at most)
wait_pos() {
	for _ in $(seq 100); do
		[ -f "$1/readers/$2" ] && [ "$(readerpos "$1" "$2")" = "$3" ] && return 0
		sleep 0.1
	done
	echo "reader $2 of $1 at $(readerpos "$1" "$2"), not $3"
	return 1
}

# file $1 has $2 lines or more
has_lines() {
	[ "$(wc -l <"$1")" -ge "$2" ]
}

# a synthetic TRADE of testvenue TESTSYM with src_seq $1, all zero
synthetic_trade() {
	gen rec trade 7 42 2024-08-08T01:00 "$1" 1 "$(printf '0%.0s' $(seq 128))"
}

@test "chr-tail --restamp: src_seq is the record's seq in the queue read, the CRC made right" {
	trades
	# the writer's DEFINE repeats shift seq away from the input's src_seq
	$T chr-sink --queue Q --create -S 64K t.ev
	$T chr-sink --queue Q t.ev
	FIELDS=seq,src_seq fields Q >plain
	awk '$1 != $2' plain | grep -q .
	FIELDS=seq,src_seq fields --restamp Q >stamped
	[ "$(wc -l <stamped)" = "$(wc -l <plain)" ]
	! awk '$1 != $2' stamped | grep -q .
	# records that read back (the reader checks each CRC), equal but for
	# src_seq and crc
	$T chr-tail --restamp Q >r.ev
	$T chr-tail --format json --defines r.ev | sed 's/"src_seq":[0-9]*,//; s/"crc":[0-9]*,//' >a
	$T chr-tail --format json --defines Q | sed 's/"src_seq":[0-9]*,//; s/"crc":[0-9]*,//' >b
	cmp a b
	# a record whose src_seq is its seq already passes as it is
	$T chr-tail --restamp t.ev | cmp - t.ev
}

@test "chr-tail --from-reader: misuse" {
	trades
	$T chr-sink --queue Q --create t.ev
	run -2 --separate-stderr $T chr-tail --from-reader r t.ev
	[ "${stderr_lines[0]}" = "chr-tail: --from-reader needs a queue, not 't.ev'" ]
	run -2 --separate-stderr $T chr-tail --from-reader r Q Q
	[ "${stderr_lines[0]}" = "chr-tail: --from-reader reads exactly one queue" ]
	for o in "--reader s" "--from-seq 3" --from-end "--from seq:4" "--from 2020-02-22"; do
		run -2 --separate-stderr $T chr-tail --from-reader r $o Q
		[ "${stderr_lines[0]}" = "chr-tail: --from-reader excludes --reader, --from-seq, --from-end and --from" ]
	done
	run -2 $T chr-tail --from-reader ../r Q
	[ ! -e Q/readers ]
}

@test "chr-tail --from-reader: from the reader's committed position without taking it; no reader: from the first record" {
	trades
	$T chr-sink --queue Q --create -S 64K t.ev
	# no reader r yet: the first record on, and none is made
	run -0 fields --from-reader r --limit 2 Q
	[ "${lines[*]}" = "0 1 2" ]
	[ ! -e Q/readers/r ]
	$T chr-tail --reader r --limit 300 Q >/dev/null
	[ "$(readerpos Q r)" = 301 ]
	cp Q/readers/r before
	run -0 fields --from-reader r --type trade --limit 2 Q
	[ "${lines[*]}" = "301 302" ]
	cmp Q/readers/r before
	# the same while another process holds r live: both go on
	total=$(fields Q | tail -1)
	chr-tail --reader r --follow Q >held.ev 3>&- &
	pid=$!
	wait_pos Q r $((total + 1))
	run -0 fields --from-reader r --type trade Q
	[ "${#lines[@]}" = 0 ]
	$T chr-sink --queue Q t.ev
	total=$(fields Q | tail -1)
	wait_pos Q r $((total + 1))
	kill -TERM $pid
	wait $pid
	[ "$(fields --type trade held.ev | wc -l)" = $((2 * 9999 - 300)) ]
}

@test "chr-tail --from-reader: records retention removed before the reader read them are a GAP of no instrument, then the queue goes on" {
	trades
	$T chr-sink --queue Q --create -S 64K t.ev
	$T chr-tail --reader r --limit 300 Q >/dev/null
	# r is not live: retention passes it
	age_reader Q r
	$T chr-sink --queue Q --retain 0 </dev/null
	f=$(fields Q | head -1)
	[ "$f" -gt 301 ]
	cp Q/readers/r before
	run -0 --separate-stderr $T chr-tail --from-reader r --restamp --format json --defines Q
	[ "$stderr" = "chr-tail: Q: records from seq 301 to $((f - 1)) were removed (retention) before reader 'r' read them; a GAP record marks them" ]
	printf '%s\n' "${lines[@]}" >out.json
	python3 - "$f" out.json <<'PY'
import json, sys
f, recs = int(sys.argv[1]), [json.loads(l) for l in open(sys.argv[2])]
g, h = recs[0], recs[1]
want = {"type_name": "GAP", "venue": 0, "market": 0, "flags": 1, "seq": f, "src_seq": f,
        "expected": 301, "got": f, "reason": 1}
assert all(g[k] == v for k, v in want.items()), g
assert (g["ts"], g["ts_event"]) == (h["ts"], h["ts_event"]), (g, h)
assert h["seq"] == f, h
PY
	# then every record the queue holds, valid records
	[ "${#lines[@]}" = $(($(fields Q | wc -l) + 1)) ]
	$T chr-tail --from-reader r Q 2>/dev/null | $T chr-tail --format text >/dev/null
	cmp Q/readers/r before
	# with --follow: the GAP, then the records as they come
	chr-tail --from-reader r --follow --format json --defines Q >f.json 2>f.err 3>&- &
	pid=$!
	$T chr-sink --queue Q t.ev
	n=$(($(fields Q | wc -l) + 1))
	until_ok has_lines f.json $n
	kill -TERM $pid
	wait $pid
	[ "$(wc -l <f.json)" = $n ]
	head -1 f.json | grep -q '"type_name":"GAP"'
	[ "$(tail -1 f.json | python3 -c 'import json, sys; print(json.load(sys.stdin)["seq"])')" = "$(fields Q | tail -1)" ]
	grep -q "records from seq 301 to $((f - 1)) were removed" f.err
}

@test "chr-sink --ack: misuse" {
	$T chr-sink --queue Q --create </dev/null
	run -2 --separate-stderr $T chr-sink --route 'C/{symbol}' --ack Q --reader r </dev/null
	[ "${stderr_lines[0]}" = "chr-sink: --ack needs --resume" ]
	run -2 --separate-stderr $T chr-sink --route 'C/{symbol}' --resume --ack Q </dev/null
	[ "${stderr_lines[0]}" = "chr-sink: --ack needs --reader NAME" ]
	run -2 --separate-stderr $T chr-sink --archive A --ack Q --reader r </dev/null
	[ "${stderr_lines[0]}" = "chr-sink: --ack is for --queue and --route" ]
	run -2 --separate-stderr $T chr-sink --queue D --tap Q --ack Q --reader r
	[ "${stderr_lines[0]}" = "chr-sink: --ack and --tap exclude each other" ]
	run -2 --separate-stderr $T chr-sink --queue D --reader r </dev/null
	[ "${stderr_lines[0]}" = "chr-sink: --reader is for --tap and --ack" ]
	run -3 --separate-stderr $T chr-sink --queue D --create --resume --ack nope --reader r </dev/null
	[ "$stderr" = "chr-sink: --ack 'nope' is not a queue" ]
	[ ! -e D ]
}

@test "chr-sink --ack: the reader's position is how far the records' src_seq reached" {
	$T chr-sink --queue Q --create </dev/null
	gen stream 10 >a.ev
	route="C/{venue}/{symbol}/{stream}"
	$T chr-sink --route "$route" --resume --ack Q --reader r a.ev
	[ "$(readerpos Q r)" = 10 ]
	# a synthetic record last: it stands before the record of its
	# src_seq, which is still to come
	synthetic_trade 20 >s.ev
	$T chr-sink --route "$route" --resume --ack Q --reader r a.ev s.ev
	[ "$(readerpos Q r)" = 20 ]
	# a HEARTBEAT moves it (the route writes none)
	gen rec heartbeat 0 0 2024-08-08T02:00 30 0 >h.ev
	$T chr-sink --route "$route" --resume --ack Q --reader r h.ev
	[ "$(readerpos Q r)" = 31 ]
	# never back; --queue as --route
	$T chr-sink --route "$route" --resume --ack Q --reader r a.ev
	[ "$(readerpos Q r)" = 31 ]
	$T chr-sink --queue D --create --resume --ack Q --reader r2 a.ev s.ev
	[ "$(readerpos Q r2)" = 20 ]
	$T chr-sink --queue D --resume --ack Q --reader r2 a.ev s.ev h.ev
	[ "$(readerpos Q r2)" = 31 ]
	# the records themselves as without --ack
	$T chr-sink --route "E/{venue}/{symbol}/{stream}" --resume a.ev s.ev
	for s in book quote trade; do
		$T chr-tail C/testvenue/TESTSYM/$s >c.ev
		$T chr-tail E/testvenue/TESTSYM/$s | cmp - c.ev
	done
}

@test "chr-sink --ack: the reader is held while the run lasts: a second run fails, retention keeps what it has not passed" {
	trades
	$T chr-sink --queue Q --create -S 64K t.ev
	n=$(ls Q/*.q | wc -l)
	mkfifo in
	chr-sink --queue D --create --resume --ack Q --reader refine <in 3>&- &
	pid=$!
	exec 5>in
	$T chr-tail --restamp --limit 3000 Q >&5
	p=$(($(fields --limit 3000 Q | tail -1) + 1))
	# committed once its input would block
	wait_pos Q refine $p
	run -3 --separate-stderr $T chr-sink --queue E --create --resume --ack Q --reader refine </dev/null
	[[ "$stderr" == "chr-sink: Q/readers/refine: reader 'refine' is in use by pid $pid"* ]]
	# retention (the records are years old) stops where the live reader is
	$T chr-sink --queue Q --retain 0 </dev/null
	f=$(fields Q | head -1)
	[ "$f" -gt 0 ] && [ "$f" -le $p ]
	[ "$(ls Q/*.q | wc -l)" -lt "$n" ]
	exec 5>&-
	wait $pid
	[ "$(readerpos Q refine)" = $p ]
	[ "$(fields --type trade D | wc -l)" = 3000 ]
}

@test "a queue read with --restamp --from-reader into chr-sink --ack, run again after retention and appends, equals one run over it all" {
	trades
	route() {
		$T chr-tail --restamp --from-reader refine "$1" |
			$T chr-sink --route "$2/{venue}/{symbol}/{stream}" --resume --ack "$1" --reader refine
	}
	$T chr-sink --queue RAW --create -S 64K t.ev
	route RAW C
	[ "$(readerpos RAW refine)" = $(($(fields RAW | tail -1) + 1)) ]
	# the reader is not live: retention removes what it passed
	age_reader RAW refine
	$T chr-sink --queue RAW --retain 0 </dev/null
	[ "$(fields RAW | head -1)" -gt 0 ]
	$T chr-sink --queue RAW t.ev
	run -0 --separate-stderr route RAW C
	[ -z "$stderr" ]
	# the same queue, never retained, in one run
	$T chr-sink --queue ALL --create -S 64K t.ev
	$T chr-sink --queue ALL t.ev
	$T chr-tail --restamp ALL | $T chr-sink --route "E/{venue}/{symbol}/{stream}" --resume
	$T chr-tail E/binance-futures/BTCUSDT/trade >e.ev
	$T chr-tail C/binance-futures/BTCUSDT/trade | cmp - e.ev
	[ "$(fields --type trade e.ev | wc -l)" = $((2 * 9999)) ]
}
