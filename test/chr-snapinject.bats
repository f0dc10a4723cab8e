#!/usr/bin/env bats
# chr-snapinject: records passed byte for byte, a snapshot per interval and
# UTC day at the right records (checked against a model of the rules and
# against chr-book's books), replay from every snapshot, determinism over
# slow pipes, gaps, several markets, bad input and exit codes.

load test_helper

L2="$DATA/binance-futures_incremental_book_L2_BTCUSDT_2024-08-08.csv.gz"
HDR=exchange,symbol,timestamp,local_timestamp,is_snapshot,side,price,amount
D0=1723075200		# 2024-08-08T00:00:00Z

# l2.ev: the real Binance capture as records (23:54:15 to 23:59:59)
l2() {
	gzip -cd "$L2" | $T chr-csv2ev >l2.ev
}

# l2csv SYMBOL EVENT...: Tardis L2 rows of market "x SYMBOL", an event per
# argument "SECONDS true|false side,price,amount ...", at SECONDS after D0
l2csv() {
	local sym=$1 ev t snap rows row us
	shift
	echo $HDR
	for ev in "$@"; do
		read -r t snap rows <<<"$ev"
		us=$(((D0 + t) * 1000000))
		for row in $rows; do echo "x,$sym,$us,$us,$snap,$row"; done
	done
}

# "DDTHH:MM:SS SYMBOL TYPE flags=F" of each record
show() {
	$T chr-tail --format text "$@" | awk '{ print substr($1, 9, 11), $4, $2, $7 }'
}

# check OUT IN INTERVAL_NS [nobook]: OUT is chr-snapinject's output for IN. Checks
# that OUT without its injected snapshots is IN byte for byte; that the
# snapshots are where a model of the rules puts them (per market: the
# previous book record in another interval or UTC day, the book known
# since a snapshot and no GAP since, not before a snapshot), each just
# before the record it names, which starts an event; and that each is the
# book chr-book --at (its ts - 1 ns) makes of IN (not with nobook: IN is
# not in ts order). Prints the count.
check() {
	python3 - "$@" <<'EOF'
import json, struct, subprocess, sys

def records(path):
    data = open(path, "rb").read()
    out, pos = [], 0
    while pos < len(data):
        ln, typ, flags, seq, ts, tse, src, market, venue = \
            struct.unpack_from("<IHHQqqQIH", data, pos)
        span = (ln + 63) // 64 * 64
        out.append(dict(type=typ, flags=flags, seq=seq, ts=ts, src_seq=src,
                        key=(venue, market), raw=data[pos:pos + span]))
        pos += span
    return data, out

BOOK = (0x10, 0x11, 0x02)
DAY = 86400 * 10**9
_, out = records(sys.argv[1])
data, inp = records(sys.argv[2])
iv = int(sys.argv[3])
inj = [i for i, r in enumerate(out) if r["type"] == 0x10 and r["flags"] & 1]
assert not [r for r in inp if r["type"] == 0x10 and r["flags"] & 1], "input has synthetic snapshots"
assert b"".join(r["raw"] for i, r in enumerate(out) if i not in set(inj)) == data, \
    "the input records are not passed on unchanged"

# the model: index of each input record a snapshot should precede
want, prev, known, last = [], {}, set(), {}
for i, r in enumerate(inp):
    if r["type"] not in BOOK:
        continue
    k = r["key"]
    slot = (r["ts"] // iv, r["ts"] // DAY)
    if k in prev and prev[k] != slot and r["type"] not in (0x10, 0x02) and k in known:
        want.append(i)
        # an event's first record: the market's previous book record ended one
        assert inp[last[k]]["flags"] & 2, ("inside an event", r["seq"])
    # records of one event share ts
    if k in last and not inp[last[k]]["flags"] & 2:
        assert inp[last[k]]["ts"] == r["ts"], ("an event with two ts", r["seq"])
    prev[k], last[k] = slot, i
    if r["type"] == 0x10:
        known.add(k)
    elif r["type"] == 0x02:
        known.discard(k)
got = [i - n for n, i in enumerate(inj)]
assert got == want, ("snapshots before input records", got, "expected", want)

views = json.loads("[" + ",".join(subprocess.run(["chr-tail", "--format", "json",
    "--defines", sys.argv[1]], capture_output=True, check=True, text=True).stdout.splitlines()) + "]")
fields = ("len", "type", "ts_event", "venue", "market", "update_id_first",
          "update_id_last", "update_id_prev", "price_scale", "size_scale", "bids", "asks")
for i in inj:
    s, r = out[i], out[i + 1]
    assert s["flags"] == 3, s["flags"]
    assert (s["seq"], s["src_seq"], s["ts"], s["key"]) == (r["seq"], r["src_seq"], r["ts"], r["key"])
    if sys.argv[4:] == ["nobook"]:
        continue
    books = subprocess.run(["chr-book", "-q", "--at", str(s["ts"] - 1), "--depth", "0",
                            "--format", "json", sys.argv[2]],
                           capture_output=True, check=True, text=True).stdout.splitlines()
    b = [v for v in map(json.loads, books) if (v["venue"], v["market"]) == s["key"]]
    assert len(b) == 1, ("chr-book has no book", s["ts"])
    v = views[i]
    assert all(v[f] == b[0][f] for f in fields), ("not chr-book's book", s["ts"],
        [(f, v[f], b[0][f]) for f in fields if v[f] != b[0][f]][:3])
print(len(inj))
EOF
}

# replay OUT: for every snapshot of OUT (one market), OUT's first record
# (its DEFINE) and the records from that snapshot on give chr-book --at the
# end the same book as the whole of OUT. Prints the count.
replay() {
	python3 - "$@" <<'EOF'
import struct, subprocess, sys
data = open(sys.argv[1], "rb").read()
offs, pos = [], 0
while pos < len(data):
    ln, typ = struct.unpack_from("<IH", data, pos)
    if typ == 0x10:
        offs.append(pos)
    if pos == 0:
        first = data[:(ln + 63) // 64 * 64]
    pos += (ln + 63) // 64 * 64
def book(b):
    return subprocess.run(["chr-book", "-q", "--at", "2100-01-01", "--depth", "0",
                           "--format", "json"], input=b, capture_output=True,
                          check=True).stdout
whole = book(data)
assert whole.count(b"\n") == 1, whole[:200]
for o in offs:
    assert book(first + data[o:]) == whole, ("replay from byte", o)
print(len(offs))
EOF
}

# slow FILE: FILE in pieces of 1000 bytes, with pauses
slow() {
	python3 - "$@" <<'EOF'
import sys, time
data = open(sys.argv[1], "rb").read()
for i in range(0, len(data), 1000):
    sys.stdout.buffer.write(data[i:i + 1000])
    sys.stdout.buffer.flush()
    if i % 16000 == 0:
        time.sleep(0.001)
EOF
}

@test "-h, --version and misuse" {
	run -0 $T chr-snapinject -h
	[ "${lines[0]}" = "usage: chr-snapinject [--interval duration] [-q | --quiet] [-v | --stats]" ]
	[ "${lines[1]}" = "                      [-h | --help] [--version] [file | dir | queue | -]..." ]
	run -0 $T chr-snapinject --help
	run -0 $T chr-snapinject --version
	[[ "$output" == "chr-snapinject "* ]]
	run -2 --separate-stderr $T chr-snapinject --interval 0
	[ "${stderr_lines[0]}" = "chr-snapinject: --interval '0' is not a duration above 0" ]
	[ "${stderr_lines[1]}" = "Try 'chr-snapinject --help' for more information." ]
	run -2 --separate-stderr $T chr-snapinject --interval 1x
	[ "${stderr_lines[0]}" = "chr-snapinject: --interval '1x' is not a duration above 0" ]
	run -2 $T chr-snapinject --interval -5s
	run -2 $T chr-snapinject --interval
	run -2 $T chr-snapinject --nope
	run -3 --separate-stderr $T chr-snapinject nope.ev
	[[ "$stderr" == "chr-snapinject: cannot open 'nope.ev'"* ]]
}

@test "empty input, one record, and a stream without books pass through" {
	run -0 --separate-stderr $T chr-snapinject -v </dev/null
	[ "$output" = "" ]
	[ "$stderr" = "" ]
	l2csv S "0 true bid,100,1 ask,101,2" | $T chr-csv2ev >one.ev
	head -c 192 one.ev >def.ev	# the DEFINE alone
	$T chr-snapinject def.ev >out.ev
	cmp def.ev out.ev
	$T chr-snapinject <one.ev >out.ev
	cmp one.ev out.ev
	$T chr-csv2ev "$DATA/binance-futures_trades_BTCUSDT_2020-02-22_excerpt.csv" >tr.ev
	run -0 --separate-stderr sh -c "chr-snapinject -v --interval 1s tr.ev >out.ev"
	[ "$stderr" = "" ]
	cmp tr.ev out.ev
}

@test "real data, 60s: the input byte for byte, a snapshot per minute boundary, each chr-book's book" {
	l2
	$T chr-snapinject --interval 60s -v l2.ev >out.ev 2>err
	[ "$(cat err)" = "chr-snapinject: binance-futures BTCUSDT: 5 snapshots injected" ]
	# 23:55 to 23:59: five minute boundaries in the book records' ts
	n=$($T chr-tail --type book --format json l2.ev | python3 -c '
import json, sys
m = [json.loads(l)["ts"] // 60_000_000_000 for l in sys.stdin]
print(sum(a != b for a, b in zip(m, m[1:])))')
	[ "$n" = 5 ]
	run -0 check out.ev l2.ev 60000000000
	[ "$output" = 5 ]
	# the default interval is 60s
	$T chr-snapinject l2.ev | cmp - out.ev
	run -0 show out.ev
	[ "${lines[858]}" = "08T23:55:00 BTCUSDT BOOK_SNAPSHOT flags=LAST,SYNTHETIC" ]
	[ "${lines[859]}" = "08T23:55:00 BTCUSDT BOOK_DIFF flags=LAST" ]
	[ "$(grep -c SYNTHETIC <<<"$output")" = 5 ]
	# each snapshot is also the book of a simple model fed the CSV rows
	$T chr-tail --format json out.ev | grep '"flags":3,' >snaps.json
	python3 - "$L2" <<'EOF'
import csv, gzip, io, json, sys
from decimal import Decimal
snaps = [json.loads(l) for l in open("snaps.json")]
rows = csv.reader(io.TextIOWrapper(gzip.open(sys.argv[1]), newline=""))
next(rows)
book, prev_snap, done, last = None, False, 0, 0
for r in rows:
    t = int(r[3]) * 1000
    assert t >= last
    last = t
    while done < len(snaps) and t >= snaps[done]["ts"]:
        for side, rev in (("bid", True), ("ask", False)):
            got = [(Decimal(p), Decimal(q)) for p, q in snaps[done][side + "s"]]
            assert got == sorted(book[side].items(), reverse=rev), (snaps[done]["ts"], side)
        done += 1
    snap = r[4] == "true"
    if snap and not prev_snap:
        book = {"bid": {}, "ask": {}}
    prev_snap = snap
    p, q = Decimal(r[6]), Decimal(r[7])
    if q == 0:
        book[r[5]].pop(p, None)
    else:
        book[r[5]][p] = q
assert done == len(snaps) == 5, done
EOF
}

@test "replay from every snapshot gives the book of the whole stream" {
	l2
	$T chr-snapinject --interval 60s l2.ev >out.ev
	run -0 replay out.ev
	[ "$output" = 6 ]	# the vendor's and five injected
	$T chr-snapinject --interval 10s l2.ev >out10.ev
	run -0 check out10.ev l2.ev 10000000000
	[ "$output" -ge 30 ]
	run -0 replay out10.ev
	[ "$output" -ge 31 ]
}

@test "deterministic: two runs, slow pipes and merged pipes give the same bytes; idempotent" {
	l2
	$T chr-snapinject --interval 10s l2.ev >a.ev
	$T chr-snapinject --interval 10s l2.ev >b.ev
	cmp a.ev b.ev
	slow l2.ev | $T chr-snapinject --interval 10s >c.ev
	cmp a.ev c.ev
	cat l2.ev | $T chr-snapinject --interval 10s - >d.ev
	cmp a.ev d.ev
	# its own output has every snapshot it would inject, and a coarser
	# interval's boundaries are among the finer one's
	$T chr-snapinject --interval 10s a.ev | cmp - a.ev
	$T chr-snapinject --interval 60s a.ev | cmp - a.ev
	# two markets from two slow pipes, merged
	l2csv A "0 true bid,100,1 ask,101,2" "30 false bid,100,3" "70 false ask,101,4" \
		"130 false bid,99,1" | $T chr-csv2ev >a1.ev
	l2csv B "10 true bid,50,1 ask,51,2" "50 false bid,50,3" "110 false ask,51,4" \
		"125 false bid,49,1" | $T chr-csv2ev >b1.ev
	$T chr-snapinject a1.ev b1.ev >m1.ev
	$T chr-snapinject <(slow a1.ev) <(slow b1.ev) >m2.ev
	cmp m1.ev m2.ev
}

@test "a live pipe: what was read is written before more input comes" {
	l2
	$T chr-snapinject --interval 10s l2.ev >want.ev
	python3 - <<'EOF'
import struct, subprocess, time
data = open("l2.ev", "rb").read()
want = open("want.ev", "rb").read()
pos = n = 0
while n < 3000:			# the first 3000 records
    pos += (struct.unpack_from("<I", data, pos)[0] + 63) // 64 * 64
    n += 1
# the output made of them: up to the 3000th record that is not injected
opos = k = 0
while k < 3000:
    ln, typ, flags = struct.unpack_from("<IHH", want, opos)
    k += not (typ == 0x10 and flags & 1)
    opos += (ln + 63) // 64 * 64
p = subprocess.Popen(["chr-snapinject", "--interval", "10s"], stdin=subprocess.PIPE,
                     stdout=open("live.ev", "wb"))
p.stdin.write(data[:pos])
p.stdin.flush()
# it shows up while the pipe stays open
lim = time.time() + 50
while True:
    got = open("live.ev", "rb").read()
    assert got == want[:len(got)]
    if len(got) >= opos:
        break
    assert time.time() < lim, ("no output while the input is open", len(got), opos)
    time.sleep(0.01)
p.stdin.write(data[pos:])
p.stdin.close()
assert p.wait() == 0
assert open("live.ev", "rb").read() == want
EOF
}

@test "a day boundary with an interval that does not divide a day" {
	# 7h intervals from the epoch: 2024-08-08 21:00, then 2024-08-09 04:00;
	# midnight is inside the interval but starts a day
	l2csv S "72000 true bid,100,1 ask,101,2" "73800 false bid,100,3" \
		"77400 false ask,101,4" "86000 false bid,99,1" "86500 false bid,98,1" \
		"97200 false bid,97,1" "102600 false bid,96,1" | $T chr-csv2ev >day.ev
	$T chr-snapinject --interval 7h -v day.ev >out.ev 2>err
	[ "$(cat err)" = "chr-snapinject: x S: 3 snapshots injected" ]
	run -0 show out.ev
	[ "${lines[0]}" = "08T20:00:00 S DEFINE flags=-" ]
	[ "${lines[1]}" = "08T20:00:00 S BOOK_SNAPSHOT flags=LAST" ]
	[ "${lines[2]}" = "08T20:30:00 S BOOK_DIFF flags=LAST" ]
	[ "${lines[3]}" = "08T21:30:00 S BOOK_SNAPSHOT flags=LAST,SYNTHETIC" ]
	[ "${lines[4]}" = "08T21:30:00 S BOOK_DIFF flags=LAST" ]
	[ "${lines[5]}" = "08T23:53:20 S BOOK_DIFF flags=LAST" ]
	[ "${lines[6]}" = "09T00:01:40 S BOOK_SNAPSHOT flags=LAST,SYNTHETIC" ]
	[ "${lines[7]}" = "09T00:01:40 S BOOK_DIFF flags=LAST" ]
	[ "${lines[8]}" = "09T03:00:00 S BOOK_DIFF flags=LAST" ]
	[ "${lines[9]}" = "09T04:30:00 S BOOK_SNAPSHOT flags=LAST,SYNTHETIC" ]
	[ "${lines[10]}" = "09T04:30:00 S BOOK_DIFF flags=LAST" ]
	[ "${#lines[@]}" = 11 ]
	run -0 check out.ev day.ev $((7 * 3600 * 1000000000))
	[ "$output" = 3 ]
	# the book of the day's first snapshot: prev is its id, the book having
	# taken diffs since its last snapshot
	run -0 sh -c "chr-tail --format text out.ev | sed -n 7p"
	[[ "$output" == *" ids=4..4 prev=4 bid[2] 100 x 3, 99 x 1; ask[1] 101 x 4" ]]
	# a day interval: the day's snapshot only
	$T chr-snapinject --interval 1d day.ev >out1d.ev
	run -0 check out1d.ev day.ev $((86400 * 1000000000))
	[ "$output" = 1 ]
}

@test "a GAP: nothing until the vendor's snapshot, then the schedule resumes" {
	l2csv S "0 true bid,100,1 ask,101,2" "30 false bid,100,3" "70 false ask,101,4" \
		"130 false bid,99,1" "150 false bid,98,1" "185 false bid,97,1" \
		"200 false bid,96,1" "250 false ask,105,1" "270 true bid,100,5 ask,102,1" \
		"310 false bid,99,2" "370 true bid,100,6 ask,102,2" "380 false ask,104,1" \
		"430 false bid,99,3" | $T chr-csv2ev >s.ev
	drop s.ev 3 0x11 >d.ev		# the diff at 150
	$T chr-book -q d.ev >g.ev	# a GAP before the diff at 185
	run -0 --separate-stderr sh -c "chr-snapinject g.ev >out.ev"
	[ "$stderr" = "" ]
	run -0 show out.ev
	[ "${lines[3]}" = "08T00:01:10 S BOOK_SNAPSHOT flags=LAST,SYNTHETIC" ]
	[ "${lines[4]}" = "08T00:01:10 S BOOK_DIFF flags=LAST" ]
	[ "${lines[5]}" = "08T00:02:10 S BOOK_SNAPSHOT flags=LAST,SYNTHETIC" ]
	[ "${lines[6]}" = "08T00:02:10 S BOOK_DIFF flags=LAST" ]
	# the GAP starts a minute, but no snapshot: records were lost before
	# it, so the book there is not known (nor after it, until a snapshot)
	[ "${lines[7]}" = "08T00:03:05 S GAP flags=SYNTHETIC" ]
	[ "${lines[8]}" = "08T00:03:05 S BOOK_DIFF flags=LAST" ]
	[ "${lines[9]}" = "08T00:03:20 S BOOK_DIFF flags=LAST" ]
	# unknown at 00:04: nothing; the vendor's snapshot serves; then 00:05
	[ "${lines[10]}" = "08T00:04:10 S BOOK_DIFF flags=LAST" ]
	[ "${lines[11]}" = "08T00:04:30 S BOOK_SNAPSHOT flags=LAST" ]
	[ "${lines[12]}" = "08T00:05:10 S BOOK_SNAPSHOT flags=LAST,SYNTHETIC" ]
	[ "${lines[13]}" = "08T00:05:10 S BOOK_DIFF flags=LAST" ]
	# a vendor snapshot at a boundary: nothing injected
	[ "${lines[14]}" = "08T00:06:10 S BOOK_SNAPSHOT flags=LAST" ]
	[ "${lines[15]}" = "08T00:06:20 S BOOK_DIFF flags=LAST" ]
	[ "${lines[16]}" = "08T00:07:10 S BOOK_SNAPSHOT flags=LAST,SYNTHETIC" ]
	[ "${lines[17]}" = "08T00:07:10 S BOOK_DIFF flags=LAST" ]
	[ "${#lines[@]}" = 18 ]
	run -0 check out.ev g.ev 60000000000
	[ "$output" = 4 ]
	run -0 replay out.ev
	[ "$output" = 7 ]
	# the snapshot after the vendor's is the vendor's book
	run -0 sh -c "chr-tail --format text out.ev | sed -n 13p"
	[[ "$output" == *" bid[1] 100 x 5; ask[1] 102 x 1" ]]
}

@test "an update id gap without a GAP record: a warning, the book unknown until a snapshot" {
	l2csv S "0 true bid,100,1 ask,101,2" "30 false bid,100,3" "70 false ask,101,4" \
		"130 false bid,99,1" "150 false bid,98,1" "185 false bid,97,1" \
		"250 false ask,105,1" "270 true bid,100,5 ask,102,1" "310 false bid,99,2" \
		| $T chr-csv2ev >s.ev
	drop s.ev 3 0x11 >d.ev
	run -0 --separate-stderr sh -c "chr-snapinject d.ev >out.ev"
	[ "$stderr" = "chr-snapinject: x S: seq 6: update id gap without a GAP record (the book is at 4, the diff follows 5): no snapshot until the next one in the input" ]
	run -0 --separate-stderr sh -c "chr-snapinject -q -v d.ev >out2.ev"
	[ "$stderr" = "chr-snapinject: x S: 4 snapshots injected, 1 update id gap without a GAP record" ]
	cmp out.ev out2.ev
	run -0 show out.ev
	# 00:03:05: the book before the diff that turns out to be a gap
	[ "${lines[7]}" = "08T00:03:05 S BOOK_SNAPSHOT flags=LAST,SYNTHETIC" ]
	[ "${lines[8]}" = "08T00:03:05 S BOOK_DIFF flags=LAST" ]
	[ "${lines[9]}" = "08T00:04:10 S BOOK_DIFF flags=LAST" ]
	[ "${lines[10]}" = "08T00:04:30 S BOOK_SNAPSHOT flags=LAST" ]
	[ "${lines[11]}" = "08T00:05:10 S BOOK_SNAPSHOT flags=LAST,SYNTHETIC" ]
	[ "${#lines[@]}" = 13 ]
}

@test "several markets, each on its own schedule; concatenated streams" {
	l2csv A "0 true bid,100,1 ask,101,2" "30 false bid,100,3" "70 false ask,101,4" \
		"130 false bid,99,1" | $T chr-csv2ev >a.ev
	l2csv B "10 true bid,50,1 ask,51,2" "50 false bid,50,3" "110 false ask,51,4" \
		"115 false bid,49,2" "125 false bid,49,1" | $T chr-csv2ev >b.ev
	$T chr-snapinject -v a.ev b.ev >out.ev 2>err
	run -0 cat err
	[ "${lines[0]}" = "chr-snapinject: x A: 2 snapshots injected" ]
	[ "${lines[1]}" = "chr-snapinject: x B: 2 snapshots injected" ]
	[ "${lines[2]}" = "chr-snapinject: 4 snapshots injected in 2 books" ]
	run -0 show out.ev
	[ "${lines[0]}" = "08T00:00:00 A DEFINE flags=-" ]
	[ "${lines[1]}" = "08T00:00:00 A BOOK_SNAPSHOT flags=LAST" ]
	[ "${lines[2]}" = "08T00:00:10 B DEFINE flags=-" ]
	[ "${lines[3]}" = "08T00:00:10 B BOOK_SNAPSHOT flags=LAST" ]
	[ "${lines[4]}" = "08T00:00:30 A BOOK_DIFF flags=LAST" ]
	[ "${lines[5]}" = "08T00:00:50 B BOOK_DIFF flags=LAST" ]
	[ "${lines[6]}" = "08T00:01:10 A BOOK_SNAPSHOT flags=LAST,SYNTHETIC" ]
	[ "${lines[7]}" = "08T00:01:10 A BOOK_DIFF flags=LAST" ]
	[ "${lines[8]}" = "08T00:01:50 B BOOK_SNAPSHOT flags=LAST,SYNTHETIC" ]
	[ "${lines[9]}" = "08T00:01:50 B BOOK_DIFF flags=LAST" ]
	[ "${lines[10]}" = "08T00:01:55 B BOOK_DIFF flags=LAST" ]
	[ "${lines[11]}" = "08T00:02:05 B BOOK_SNAPSHOT flags=LAST,SYNTHETIC" ]
	[ "${lines[12]}" = "08T00:02:05 B BOOK_DIFF flags=LAST" ]
	[ "${lines[13]}" = "08T00:02:10 A BOOK_SNAPSHOT flags=LAST,SYNTHETIC" ]
	[ "${lines[14]}" = "08T00:02:10 A BOOK_DIFF flags=LAST" ]
	[ "${#lines[@]}" = 15 ]
	$T chr-tail a.ev b.ev >ab.ev
	run -0 check out.ev ab.ev 60000000000
	[ "$output" = 4 ]
	$T chr-snapinject <ab.ev | cmp - out.ev
	# concatenated: b after a, each market still on its own schedule
	cat a.ev b.ev >ab2.ev
	$T chr-snapinject <ab2.ev >cat.ev
	run -0 check cat.ev ab2.ev 60000000000 nobook
	[ "$output" = 4 ]
	# with the real capture
	l2
	$T chr-snapinject a.ev l2.ev b.ev >all.ev
	$T chr-tail a.ev l2.ev b.ev >in.ev
	run -0 check all.ev in.ev 60000000000
	[ "$output" = 9 ]
}

@test "bad input: named by byte offset, exit 1, what came before written; early close is quiet" {
	l2
	head -c 3000000 l2.ev >short.ev
	run -1 --separate-stderr sh -c "chr-snapinject short.ev >out.ev"
	[[ "$stderr" =~ ^chr-snapinject:\ short.ev:\ byte\ ([0-9]+):\ truncated\ record$ ]]
	off=${BASH_REMATCH[1]}
	head -c $off l2.ev >before.ev
	run -0 check out.ev before.ev 60000000000
	[ "$output" = 2 ]
	printf 'X' | dd of=l2.ev bs=1 seek=300 conv=notrunc status=none
	run -1 --separate-stderr $T chr-snapinject l2.ev
	[[ "$stderr" == "chr-snapinject: l2.ev: byte "*": bad crc" ]]
	gzip -cd "$L2" | $T chr-csv2ev >l2.ev
	run -0 --separate-stderr bash -c 'chr-snapinject --interval 1s l2.ev | head -c 100 >/dev/null
		s=${PIPESTATUS[0]}; [ $s = 0 ] || [ $s = 141 ]'
	[ "$stderr" = "" ]
}

@test "a level that does not fit the book's scale: exit 1 naming the market and seq" {
	printf '%s\n' $HDR x,S,1000000,1000000,true,bid,900000000000000000,1 \
		x,S,1000000,1000000,true,ask,900000000000000001,1 \
		x,S,2000000,2000000,false,bid,1.55,1 | $T chr-csv2ev >big.ev
	run -1 --separate-stderr sh -c "chr-snapinject big.ev >out.ev"
	[ "$stderr" = "chr-snapinject: x S: seq 2: a level does not fit the book's scale (price scale 0, size scale 0)" ]
	head -c 384 big.ev | cmp - out.ev
}

@test "binary output is refused on a terminal" {
	if ! command -v script >/dev/null; then skip "no script(1)"; fi
	run -2 script -qec "chr-snapinject /dev/null" /dev/null
	[[ "$output" == *"chr-snapinject: refusing to write binary records to a terminal"* ]]
}

@test "an output that fails ends it before it waits for more input" {
	dead_output_ends chr-snapinject
}
