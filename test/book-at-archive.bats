#!/usr/bin/env bats
# The book at T in one process: chr-book --archive ROOT --venue V --symbol
# S --at T writes what `chr-tail --archive ... --from T --from-snapshot |
# chr-book --at T` writes, from plain and compressed partitions, and fails
# as the pipeline's chr-tail does.

load test_helper

V=binance-futures
D0=1723075200		# 2024-08-08T00:00:00Z

# One simulated day of two markets (test/gen-day), a snapshot every 60 s of
# event time: in "day" as one plain segment a partition; in "tiered" as
# 1 MiB segments moved by chr-tier to a cold tier, compressed.
setup_file() {
	local s
	cd "$BATS_FILE_TMPDIR" || return 1
	for s in S0 S1; do
		"$TOP/test/gen-day" --every 4 --seed 7 "$s" | $T chr-csv2ev |
			$T chr-snapinject --interval 60s >$s.ev || return 1
		$T chr-sink --archive day <$s.ev || return 1
		$T chr-sink --archive tiered --segment-size 1M <$s.ev || return 1
	done
	$T chr-tier --root tiered --cold cold --cold-after 1d --zstd --now 2024-08-20 --once
}

setup() {
	cd "$BATS_FILE_TMPDIR"
}

# pipe ROOT T ARGS...: the pipeline's book at T
pipe() {
	local root=$1 t=$2
	shift 2
	{ $T chr-tail --archive "$root" --venue $V --symbol S0 --symbol S1 --from "$t" \
		--from-snapshot || [[ $? == 141 ]]; } | $T chr-book --at "$t" "$@"
}

# one ROOT T ARGS...: the same in one process
one() {
	local root=$1 t=$2
	shift 2
	$T chr-book --archive "$root" --venue $V --symbol S0 --symbol 'S[1]' --at "$t" "$@"
}

# the book at T as text, and its messages, from one process as from the
# pipeline (kept in want.txt)
same_text_book() {
	local root=$1 t=$2
	pipe $root $t --depth 0 --format text >want.txt 2>want.err
	run -0 --separate-stderr one $root $t --depth 0 --format text
	assert_output "$(cat want.txt)"
	assert_equal "$stderr" "$(cat want.err)"
}

@test "the book at T in one process equals the pipeline's, plain and compressed" {
	local root t q
	[ -n "$(find cold -name '*.q.zst')" ]
	RANDOM=5
	for root in day tiered; do
		for ((q = 0; q < 4; q++)); do
			t=$(((D0 + RANDOM * 86400 / 32768) * 1000000000 + RANDOM * 30517))
			same_text_book $root $t
			[ -s want.txt ]
			pipe $root $t --depth 5 --format json >want.json
			one $root $t --depth 5 --format json | cmp - want.json
			pipe $root $t >want.ev
			one $root $t | cmp - want.ev
		done
		# the day's last moment, and a time after the day
		for t in $(((D0 + 86399) * 1000000000 + 999999999)) $(((D0 + 90000) * 1000000000)); do
			same_text_book $root $t
		done
	done
}

@test "the book at T in one process from compressed segments of many frames equals the pipeline's" {
	local root=many t q
	# 4 MiB segments of frames cut before snapshots: the search hands the
	# reader the frames from the snapshot's to T's, that one perhaps in
	# part (chr-book stops after T)
	for s in S0 S1; do
		$T chr-sink --archive $root --segment-size 4M <$s.ev
	done
	$T chr-tier --root $root --cold many-cold --cold-after 1d --zstd --now 2024-08-20 --once
	[ "$(find many-cold -name '*.q.zst' | wc -l)" -ge 2 ]
	RANDOM=11
	for ((q = 0; q < 16; q++)); do
		t=$(((D0 + RANDOM * 86400 / 32768) * 1000000000 + RANDOM * 30517))
		same_text_book $root $t
		[ -s want.txt ]
	done
}

# segts META I: segment I's ts_min in the partition's meta.json META
segts() {
	/usr/bin/python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["segments"][int(sys.argv[2])]["ts_min"])' "$@"
}

@test "the snapshot search opens no segment that meta.json says begins after T" {
	local root dir t meta
	# 1 MiB segments, plain (fast) and compressed (tiered, moved to cold);
	# T in the partition's first segment: only that one holds a snapshot
	# at or before T
	$T chr-sink --archive fast --segment-size 1M <S0.ev
	for root in fast tiered; do
		dir=$root
		[[ $root == tiered ]] && dir=cold
		meta=$(find $dir -path "*/S0/*/book/meta.json" | sort | head -1)
		segts "$meta" 2 >/dev/null	# it has 3 segments at least
		t=$(($(segts "$meta" 1) - 1))
		$T chr-tail -v --archive $root --venue $V --symbol S0 --from "$t" --from-snapshot \
			--until "$((t + 1))" 2>err >/dev/null
		assert_equal "$(grep -c 'the snapshot search opened 1 segment$' err)" 1
	done
	# a meta.json that says the segment holding the snapshot begins after
	# T: the snapshot found is an earlier one, and the book is the same
	cp -r fast wrong
	meta=$(find wrong -path "*/S0/*/book/meta.json" | sort | head -1)
	t=$(($(segts "$meta" 2) + 120000000000))
	sed -i "s/\"ts_min\": $(segts "$meta" 2),/\"ts_min\": $((t + 1)),/" "$meta"
	[ "$(segts "$meta" 2)" = $((t + 1)) ]
	for root in fast wrong; do
		$T chr-tail -v --archive $root --venue $V --symbol S0 --from "$t" --from-snapshot \
			--until "$((t + 1))" 2>$root.err >$root.ev
		$T chr-book --at "$t" --depth 0 --format text <$root.ev >$root.txt
	done
	# the wrong hint was taken: the search read from segment 1's last
	# snapshot, more records than from segment 2's
	grep -q 'opened 1 segment$' wrong.err
	[ "$(stat -c %s wrong.ev)" -gt "$(stat -c %s fast.ev)" ]
	[ -s fast.txt ]
	diff wrong.txt fast.txt
}

# snaps META I: segment I's "snapshots" in the partition's meta.json
# META, one "ts_upto off" a line
snaps() {
	/usr/bin/python3 -c 'import json, sys
for t, o in json.load(open(sys.argv[1]))["segments"][int(sys.argv[2])].get("snapshots", []): print(t, o)' "$@"
}

# unlisted META: META without the segments' "snapshots"
unlisted() {
	/usr/bin/python3 -c 'import json, sys
m = json.load(open(sys.argv[1]))
for s in m["segments"]: s.pop("snapshots", None)
json.dump(m, open(sys.argv[1], "w"), indent=2)' "$1"
}

# bookat ROOT T: the book of S0 at T from ROOT's snapshot, as text
bookat() {
	{ $T chr-tail --archive "$1" --venue $V --symbol S0 --from "$2" --from-snapshot ||
		[[ $? == 141 ]]; } | $T chr-book --at "$2" --depth 0 --format text
}

@test "a plain segment's walk starts at the last snapshot meta.json lists at or before T" {
	local meta seg t off
	$T chr-sink --archive listed --segment-size 1M <S0.ev
	meta=$(find listed -path "*/S0/*/book/meta.json" | sort | head -1)
	seg=$(dirname "$meta")/000000001.q
	# a sixteenth of 1 MiB apart: several listed, none twice, each a
	# BOOK_SNAPSHOT (0x0010) that begins an event
	snaps "$meta" 1 >list
	[ "$(wc -l <list)" -ge 4 ] && [ "$(wc -l <list)" -le 16 ]
	[ "$(cut -d' ' -f2 list | sort -un | wc -l)" = "$(wc -l <list)" ]
	while read -r t off; do
		[ "$(od -An -tx2 -j $((off + 4)) -N2 "$seg" | tr -d ' ')" = 0010 ]
	done <list
	# T a minute after the last one listed: the book equals the day's replay
	read -r t off < <(tail -1 list)
	t=$((t + 60000000000))
	$T chr-tail --archive listed --venue $V --symbol S0 | $T chr-book --at $t --depth 0 \
		--format text >replay.txt
	[ -s replay.txt ]
	bookat listed $t | diff - replay.txt
	# the walk starts there: a record header spoilt before it (the first
	# snapshot listed, its length 0) is not read, and the book is the same
	cp -r listed spoilt
	poke "spoilt/${seg#listed/}" "$(head -1 list | cut -d' ' -f2)" '\0\0\0\0'
	bookat spoilt $t | diff - replay.txt
	# without the list, the walk from the segment's start stops at the
	# spoilt header, and the read from an earlier snapshot meets it
	unlisted "spoilt/${meta#listed/}"
	run --separate-stderr bookat spoilt $t
	[[ $stderr == *"000000001.q: byte $(head -1 list | cut -d' ' -f2): record length 0"* ]]
	# a listed offset where no snapshot is (the record before it): looked
	# at and not taken, the walk starts at the segment's first record
	cp -r listed wrong
	read -r t off < <(tail -1 list)
	sed -i "s/^\( *\)$off\$/\1$((off - 64))/" "wrong/${meta#listed/}"
	[ "$(snaps "wrong/${meta#listed/}" 1 | tail -1 | cut -d' ' -f2)" = $((off - 64)) ]
	bookat wrong $((t + 60000000000)) | diff - replay.txt
	# compressed, the seek table flags the snapshots: chr-tier drops the list
	grep -q '"snapshots"' "$(find day -path "*/S0/*/book/meta.json" | head -1)"
	[ -n "$(find cold -name meta.json)" ]
	! grep -q '"snapshots"' $(find cold -name meta.json)
}

@test "chr-book --archive: no such instrument, a time before the data, usage" {
	# no such instrument: the message chr-tail gives, exit 1
	run -1 --separate-stderr $T chr-tail --archive day --venue $V --symbol NOPE \
		--from $((D0 + 600))s --from-snapshot
	want=${stderr#chr-tail: }
	run -1 --separate-stderr $T chr-book --archive day --venue $V --symbol NOPE --at $((D0 + 600))s
	assert_equal "$stderr" "chr-book: $want"
	assert_output ""
	run -1 --separate-stderr $T chr-book --archive day --venue nowhere --symbol S0 --at $((D0 + 600))s
	[[ "$stderr" =~ ^chr-book:\ .*nowhere ]]
	# a time before any data: no book, and the pipeline's warning
	t=$(((D0 - 3600) * 1000000000))
	pipe day $t --depth 0 --format text >want.txt 2>want.err
	[ ! -s want.txt ]
	run -0 --separate-stderr one day $t --depth 0 --format text
	assert_output ""
	assert_equal "$stderr" "$(cat want.err)"
	[[ "$stderr" =~ before\ the\ first\ record ]]
	# usage
	run -2 $T chr-book --archive day --venue $V --symbol S0
	run -2 $T chr-book --archive day --symbol S0 --at $((D0 + 600))s
	run -2 $T chr-book --archive day --venue $V --symbol S0 --at $((D0 + 600))s S0.ev
	run -2 $T chr-book --venue $V --at $((D0 + 600))s S0.ev
}

@test "a plain segment cut short at a page boundary: an error naming it, not a crash" {
	local f t sz
	cp -a day cut
	f=$(ls cut/v1/$V/S0/*/book/*.q | head -1)
	sz=$(stat -c %s "$f")
	truncate -s $(((sz / 2) & ~4095)) "$f"
	t=$(((D0 + 80000) * 1000000000))
	# the search for the snapshot walked the segment's mapping past its
	# end (SIGBUS); the records up to the cut are read, then the reader
	# reports it
	run -1 --separate-stderr $T chr-book --archive cut --venue $V --symbol S0 --at $t
	[[ "$stderr" == "chr-book: $f: byte "*": truncated record" ]]
	run -1 --separate-stderr $T chr-tail --archive cut --venue $V --symbol S0 --from $t \
		--from-snapshot
	[[ "$stderr" == "chr-tail: $f: byte "*": truncated record" ]]
}
