#!/usr/bin/env bats
# The archive tier end to end: a raw queue of three days archived by
# chr-seal-copy (plain and compressed), its partitions moved by chr-tier to
# a warm tier on another file system and to a compressing cold tier, read
# back by chr-tail --archive as one stream equal to the queue's records;
# and the manifest rebuilt from the files equals the kept one.

load test_helper

V=binance-futures

# Q: a queue of 256 KiB segments holding three simulated days of S0 and S1
# (test/gen-day), merged by time; q.ev: its records, DEFINE repeats left out
setup() {
	cd "$BATS_TEST_TMPDIR" || return 1
	local d s
	for d in 2024-08-06 2024-08-07 2024-08-08; do
		for s in S0 S1; do
			"$TOP/test/gen-day" --every 30 --date $d $s | $T chr-csv2ev >$s-$d.ev || return 1
		done
	done
	$T chr-tail S0-*.ev S1-*.ev | $T chr-sink --queue Q --create -S 256K
	$T chr-tail Q >q.ev
}

teardown() {
	[ -z "${SHM:-}" ] || rm -rf "$SHM"
}

# the book records of a stream as JSON lines, every field; DEFINE records
# are left out: a reader that starts mid-stream gives each instrument's
# DEFINE first, and the archive has the queue segments' heads, where the
# queue writer repeats them (docs/format.md, "DEFINE repeats")
book() {
	$T chr-tail --type book --format json "$@" | grep -v '"type_name":"DEFINE"'
}

@test "a queue archived and tiered reads back whole, in order, across hot, warm and cold" {
	local warm=W n
	SHM=$(mktemp -d /dev/shm/chr-archive-tiers.XXXXXX)
	[ "$(stat -f -c %i "$SHM")" = "$(stat -f -c %i .)" ] || warm=$SHM/warm
	# the sealed segments: all but the queue's current one
	run -0 --separate-stderr $T chr-seal-copy --source Q --archive-root A --venue $V --once
	n=$(ls A/raw/v1/$V/*/raw/*.q | wc -l)
	[ "$n" -ge 10 ]
	[ "$(ls A/raw/v1/$V)" = "$(printf '2024-08-06\n2024-08-07\n2024-08-08')" ]
	# the first day goes cold (compressed), the second warm, the third stays
	run -0 --separate-stderr $T chr-tier --root A --warm "$warm" --warm-after 1d \
		--cold C --cold-after 2d --zstd --now 2024-08-09T12:00:00Z --once
	[ -d C/raw/v1/$V/2024-08-06/raw ] && [ -d "$warm"/raw/v1/$V/2024-08-07/raw ]
	[ -d A/raw/v1/$V/2024-08-08/raw ] && [ ! -e A/raw/v1/$V/2024-08-06 ]
	[ -z "$(find C -name '*.q')" ] && [ -n "$(find C -name '*.q.zst')" ]
	# one stream: the records of the sealed segments, in order
	book --archive A --venue $V --stream raw >all.json
	n=$(wc -l <all.json)
	[ "$n" -gt 5000 ]
	cmp all.json <(book q.ev | head -n "$n")
	# readers that start in the warm day: at its first record (held by the
	# cold day's last segment, which runs past midnight) and later
	first=$(book q.ev --from 2024-08-07 --limit 1 | grep -o '"ts":[0-9]*' | cut -d: -f2)
	for t in $first 2024-08-07T06:00:00Z; do
		book --archive A --venue $V --stream raw --from $t >from.json
		[ -s from.json ]
		cmp from.json <(book q.ev --from $t | head -n "$(wc -l <from.json)")
	done
	# and one bounded to the cold day
	cmp <(book --archive A --venue $V --stream raw --until 2024-08-07) \
		<(book q.ev --until 2024-08-07)
	# the manifest: every segment once, rebuilt from the files the same
	run -0 $T chr-tier --root A --dump-manifest
	[ "$(printf '%s\n' "$output" | grep -c '^segment	')" = "$(find A C "$warm" -name '*.q*' | wc -l)" ]
	$T chr-tier --root A --dump-manifest >kept
	$T chr-tier --root A --warm "$warm" --warm-after 1d --cold C --cold-after 2d --rebuild-manifest
	$T chr-tier --root A --dump-manifest >rebuilt
	cmp kept rebuilt
	# archiving more of the queue later goes on in the hot tier
	run -0 --separate-stderr $T chr-seal-copy --source Q --archive-root A --venue $V --once
	[[ $stderr =~ nothing\ to\ archive ]]
}
