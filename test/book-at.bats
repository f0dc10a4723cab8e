#!/usr/bin/env bats
# "The book at T" from the archive: chr-tail --from-snapshot starts at the
# last snapshot at or before T, and chr-book --at T on that short stream
# equals a replay of the whole day, for many random T, in every tier.

load test_helper

V=binance-futures
SYMS="S0 S1 S2"
D0=1723075200		# 2024-08-08T00:00:00Z

# One simulated day of three markets (test/gen-day), a snapshot every 60 s
# of event time (chr-snapinject), archived by chr-sink: in "day" as one
# plain segment a partition; in "tiered" as 1 MiB segments that chr-tier
# then moved to a cold tier, compressed.
setup_file() {
	local s
	cd "$BATS_FILE_TMPDIR" || return 1
	for s in $SYMS; do
		"$TOP/test/gen-day" --every 4 --seed 7 "$s" | $T chr-csv2ev |
			$T chr-snapinject --interval 60s >$s.ev || return 1
		$T chr-sink --archive day <$s.ev || return 1
		$T chr-sink --archive tiered --segment-size 1M <$s.ev || return 1
	done
	$T chr-tier --root tiered --cold cold --cold-after 1d --zstd --now 2024-08-20 --once
}

# at ROOT SYMBOL T [--from-snapshot]: the book of SYMBOL at T (ns), as text
at() {
	local root=$1 sym=$2 t=$3
	shift 3
	$T chr-tail --archive "$root" --venue $V --symbol "$sym" --stream book \
		${1:+--from "$t"} "$@" | $T chr-book --at "$t" --depth 0 --format text
}

# check ROOT: the book at 15 random T of the day, from the nearest snapshot
# and from the start, for each market; and the stream from the snapshot
# starts with the partition's DEFINE, then the day's last snapshot at or
# before T
check() {
	local root=$1 sym t i got want
	RANDOM=11
	for ((i = 0; i < 15; i++)); do
		for sym in $SYMS; do
			t=$(((D0 + RANDOM * 86400 / 32768) * 1000000000 + RANDOM * 30517))
			at "$root" $sym $t --from-snapshot >snap.txt
			at "$root" $sym $t >full.txt
			[ -s full.txt ]
			diff full.txt snap.txt
			got=$($T chr-tail --archive "$root" --venue $V --symbol $sym --stream book \
				--from $t --from-snapshot --format json --defines | head -2 | cut -d, -f3,5)
			want=$($T chr-tail --archive "$root" --venue $V --symbol $sym --stream book \
				--until $((t + 1)) --format json --defines | grep -E '"(DEFINE|BOOK_SNAPSHOT)"' |
				sed -n '1p;$p' | cut -d, -f3,5)
			[ "$got" = "$want" ]
			[[ $got =~ DEFINE.*BOOK_SNAPSHOT ]]
		done
	done
}

@test "book at T from the last snapshot equals a whole-day replay (plain segments)" {
	check "$BATS_FILE_TMPDIR/day"
}

@test "book at T from the last snapshot equals a whole-day replay (compressed, cold tier)" {
	cd "$BATS_FILE_TMPDIR"
	# every segment left the hot tier and was compressed
	[ -z "$(find tiered/v1 -name '*.q*' 2>/dev/null)" ]
	[ "$(find cold/v1 -name '*.q.zst' | wc -l)" -ge 15 ]
	[ -z "$(find cold/v1 -name '*.q')" ]
	check "$BATS_FILE_TMPDIR/tiered"
	# the same records as the plain archive
	for sym in $SYMS; do
		cmp <($T chr-tail --archive day --venue $V --symbol $sym) \
			<($T chr-tail --archive tiered --venue $V --symbol $sym)
	done
}

@test "--from-snapshot goes back to the day before when the book had no snapshot since midnight" {
	local t i
	# one snapshot only, at noon; the book runs on past midnight
	"$TOP/test/gen-day" --every 20 --seed 3 --shift 43200 S9 | $T chr-csv2ev |
		$T chr-sink --archive A
	[ -d A/v1/$V/S9/2024-08-09/book ]
	RANDOM=5
	for ((i = 0; i < 8; i++)); do
		t=$((((D0 + 86400 + RANDOM * 43200 / 32768)) * 1000000000))
		$T chr-tail --archive A --venue $V --symbol S9 --stream book --from $t --from-snapshot |
			$T chr-book --at $t --depth 0 --format text >snap.txt
		$T chr-tail --archive A --venue $V --symbol S9 --stream book |
			$T chr-book --at $t --depth 0 --format text >full.txt
		[ "$(wc -l <full.txt)" = 1 ]
		diff full.txt snap.txt
	done
	# the stream starts at the snapshot of the day before
	run -0 $T chr-tail --archive A --venue $V --symbol S9 --stream book --from $t \
		--from-snapshot --format json --defines --limit 1
	[[ ${lines[1]} =~ \"type_name\":\"BOOK_SNAPSHOT\".*\"time\":\"2024-08-08T12:00:00.5 ]]
}

@test "--from-snapshot before the day's first snapshot starts at the first record" {
	run -0 --separate-stderr $T chr-tail --archive "$BATS_FILE_TMPDIR/day" --venue $V \
		--symbol S0 --stream book --from $((D0 * 1000000000)) --from-snapshot --format json --defines
	[[ ${lines[0]} =~ \"type_name\":\"DEFINE\" ]]
	[[ ${lines[1]} =~ \"type_name\":\"BOOK_SNAPSHOT\" ]]
}

@test "--from-snapshot needs --archive and --from" {
	run -2 --separate-stderr $T chr-tail --from-snapshot x.ev
	[[ $stderr =~ --from-snapshot ]]
	run -2 --separate-stderr $T chr-tail --archive "$BATS_FILE_TMPDIR/day" --venue $V \
		--symbol S0 --from-snapshot
	[[ $stderr =~ --from ]]
}

@test "--from-snapshot with a --symbol glob: each symbol from its own snapshot, merged by ts" {
	local t=$(((D0 + 40000) * 1000000000)) sym
	cd "$BATS_FILE_TMPDIR"
	$T chr-tail --archive day --venue $V --symbol 'S*' --stream book --from $t \
		--from-snapshot >all.ev
	# merged by ts
	$T chr-tail --format json all.ev | sed 's/.*"ts":\([0-9]*\).*/\1/' | sort -c -n
	for sym in $SYMS; do
		diff <(at day $sym $t --from-snapshot) \
			<($T chr-demux --symbol $sym <all.ev | $T chr-book --at $t --depth 0 --format text)
	done
}
