#!/usr/bin/env bats
# "The book at T" from the raw archive, where one partition holds many
# instruments: chr-tail --stream raw --from T --from-snapshot finds each
# instrument's own last snapshot at or before T (in an earlier segment, or
# on an earlier date), passes every DEFINE needed, and the book of each
# symbol at T equals that of a replay of the whole archive, for many random
# T, on plain and on compressed segments.

load test_helper

V=binance-futures
SYMS="S0 S1 S2 S3"
D0=1723075200		# 2024-08-08T00:00:00Z

# Four simulated markets and a trade-only one in one queue of 256 KiB
# segments, archived by chr-seal-copy as plain segments (A) and compressed
# (Z): S0 has a snapshot every 10 min of 2024-08-08; S1 runs from noon to
# noon with one snapshot only, at its start (so on 2024-08-09 its snapshot
# lies many segments back, on the day before); S2 starts on 2024-08-09,
# snapshots every 2 h; S3 starts at 06:00, snapshots every 3 h; X1 has a
# few trades and never a snapshot.
setup_file() {
	local s g="$BUILD/test/gen/gen"
	cd "$BATS_FILE_TMPDIR" || return 1
	"$TOP/test/gen-day" --every 20 --seed 1 S0 | $T chr-csv2ev |
		$T chr-snapinject --interval 600s >S0.ev || return 1
	"$TOP/test/gen-day" --every 20 --seed 2 --shift 43200 S1 | $T chr-csv2ev >S1.ev || return 1
	"$TOP/test/gen-day" --every 20 --seed 3 --date 2024-08-09 S2 | $T chr-csv2ev |
		$T chr-snapinject --interval 7200s >S2.ev || return 1
	"$TOP/test/gen-day" --every 30 --seed 4 --shift 21600 S3 | $T chr-csv2ev |
		$T chr-snapinject --interval 3h >S3.ev || return 1
	{ "$g" rec DEFINE 64068 77 2024-08-08T03:00 0 0 $V X1 &&
		"$g" spec T 64068 77 2024-08-08T03:00 5 T 64068 77 2024-08-08T15:00 5 \
			T 64068 77 2024-08-09T01:00 5; } >X1.ev || return 1
	$T chr-tail S0.ev S1.ev S2.ev S3.ev X1.ev | $T chr-sink --queue Q --create -S 256K || return 1
	$T chr-seal-copy --source Q --archive-root A --venue $V --once 2>/dev/null || return 1
	$T chr-seal-copy --source Q --archive-root Z --venue $V --once --zstd --reader z 2>/dev/null ||
		return 1
	# the full replay of each symbol
	for s in $SYMS X1; do
		$T chr-tail --archive A --venue $V --stream raw | $T chr-demux --symbol $s >full-$s.ev ||
			return 1
	done
}

# book ROOT SYM T: the book of SYM at T from the raw archive's snapshots
book() {
	$T chr-tail --archive "$1" --venue $V --stream raw --from "$3" --from-snapshot 2>/dev/null |
		$T chr-demux --symbol "$2" | $T chr-book --at "$3" --depth 0 --format text 2>&1
}

# check ROOT: the book of every symbol at 32 random T from 2024-08-08 to a
# minute past the archive's last record equals a full replay's; most of
# them are known books, not the same "not known" twice
check() {
	local root=$1 end t i s known=0
	end=$($T chr-tail --archive A --venue $V --stream raw --format json | tail -1 |
		sed 's/.*"ts":\([0-9]*\).*/\1/')
	RANDOM=17
	for ((i = 0; i < 32; i++)); do
		t=$((D0 * 1000000000 + (end / 1000000000 + 60 - D0) * RANDOM / 32768 * 1000000000 +
			RANDOM * 30517))
		for s in $SYMS; do
			$T chr-book --at $t --depth 0 --format text <full-$s.ev >want.txt 2>&1
			book "$root" $s $t >got.txt
			diff want.txt got.txt
			grep -q BOOK_SNAPSHOT want.txt && known=$((known + 1))
		done
	done
	echo "known books: $known"
	[ $known -ge 64 ]
}

@test "raw archive: one partition holds five instruments, in segments plain and compressed" {
	cd "$BATS_FILE_TMPDIR"
	[ "$(ls A/raw/v1/$V)" = "$(printf '2024-08-08\n2024-08-09')" ]
	[ "$(ls A/raw/v1/$V/2024-08-08/raw/*.q | wc -l)" -ge 5 ]
	[ "$(ls Z/raw/v1/$V/2024-08-09/raw/*.q.zst | wc -l)" -ge 3 ]
	[ -z "$(ls Z/raw/v1/$V/*/raw/*.q 2>/dev/null)" ]
	[ "$($T chr-tail --archive A --venue $V --stream raw --date 2024-08-08 --format json |
		grep -o '"symbol":"[^"]*"' | sort -u | wc -l)" = 5 ]
}

@test "raw book at T from the snapshots equals a full replay (plain segments)" {
	cd "$BATS_FILE_TMPDIR"
	check A
}

@test "raw book at T from the snapshots equals a full replay (compressed segments)" {
	cd "$BATS_FILE_TMPDIR"
	check Z
	# the same records from either
	local t=$(((D0 + 86400 + 3000) * 1000000000))
	cmp <($T chr-tail --archive A --venue $V --stream raw --from $t --from-snapshot 2>/dev/null) \
		<($T chr-tail --archive Z --venue $V --stream raw --from $t --from-snapshot 2>/dev/null)
}

@test "raw --from-snapshot: each instrument starts at its own last snapshot, DEFINE first" {
	cd "$BATS_FILE_TMPDIR"
	local t=$(((D0 + 86400 + 3000) * 1000000000)) root
	for root in A Z; do
		run -0 --separate-stderr $T chr-tail --archive $root --venue $V --stream raw \
			--from $t --from-snapshot --format json --defines
		# S1's only snapshot is the day before's, at noon
		[ "$(printf '%s\n' "${lines[@]}" | grep '"symbol":"S1"' | grep -v DEFINE | head -1 |
			grep -o '"type_name":"[A-Z_]*","flags":[0-9]*,"seq":[0-9]*,"ts":[0-9]*,"time":"[^"]*"' |
			sed 's/,"seq":[0-9]*//')" = \
			'"type_name":"BOOK_SNAPSHOT","flags":2,"ts":1723118400500000000,"time":"2024-08-08T12:00:00.500000000Z"' ]
		# every instrument's DEFINE comes before its first other record
		printf '%s\n' "${lines[@]}" | python3 -c '
import json, sys
seen = set()
for l in sys.stdin:
    r = json.loads(l)
    k = r["symbol"]
    if r["type_name"] == "DEFINE":
        seen.add(k)
    else:
        assert k in seen, l
assert seen == {"S0", "S1", "S2", "S3", "X1"}, seen
'
		# X1 had no snapshot: said, once
		[ "$stderr" = "chr-tail: no snapshot of 'X1' at or before 2024-08-09T00:50:00.000000000Z: its book is not known then" ]
	done
	# the first non-DEFINE record of S0 is its last snapshot at or before t
	[ "$($T chr-tail --archive A --venue $V --stream raw --symbol S0 --from $t --from-snapshot \
		--format json | grep -v DEFINE | head -1 | grep -o '"time":"[^"]*"')" = \
		"$($T chr-tail --until $((t + 1)) --format json full-S0.ev | grep BOOK_SNAPSHOT |
			tail -1 | grep -o '"time":"[^"]*"')" ]
}

@test "raw --symbol: only the selected instruments are searched and passed" {
	cd "$BATS_FILE_TMPDIR"
	local t=$(((D0 + 86400 + 3000) * 1000000000)) s
	# X1 is not selected: nothing said of it
	run -0 --separate-stderr $T chr-tail --archive Z --venue $V --stream raw --symbol 'S[01]' \
		--from $t --from-snapshot --format json
	[ -z "$stderr" ]
	[ "$(printf '%s\n' "${lines[@]}" | grep -o '"symbol":"[^"]*"' | sort -u | tr '\n' ' ')" = \
		'"symbol":"S0" "symbol":"S1" ' ]
	for s in S0 S1; do
		diff <($T chr-book --at $t --depth 0 --format text <full-$s.ev) \
			<($T chr-tail --archive Z --venue $V --stream raw --symbol $s --from $t \
				--from-snapshot | $T chr-book --at $t --depth 0 --format text)
	done
}

@test "raw --from-snapshot before any snapshot starts at the first record" {
	cd "$BATS_FILE_TMPDIR"
	# the same records but DEFINE repeats (each DEFINE passes once)
	cmp <($T chr-tail --archive A --venue $V --stream raw --format json | grep -v '"flags":4,')\
		<($T chr-tail --archive A --venue $V --stream raw --from $((D0 * 1000000000)) \
			--from-snapshot --format json)
}
