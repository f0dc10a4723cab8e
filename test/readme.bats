# readme.bats - the README's examples run as a user types them: every
# ```sh block of README.md, in order, in one bash, from the checkout under
# test (the first block moves to a fresh directory), stopping at the first
# command that fails.
load test_helper

# the checkout under test: the build's own when it is one (in place, or
# CHR_BUILD=another checkout); for build-san/, this one with its programs
checkout() {
	if [ -f "$BUILD/README.md" ]; then
		cd "$BUILD" && pwd
		return
	fi
	mkdir -p "$BATS_TEST_TMPDIR/checkout"
	ln -s "$BUILD/bin" "$BATS_TEST_TMPDIR/checkout/bin"
	ln -s "$TOP/scripts" "$BATS_TEST_TMPDIR/checkout/scripts"
	ln -s "$TOP/test" "$BATS_TEST_TMPDIR/checkout/test"
	ln -s "$TOP/python" "$BATS_TEST_TMPDIR/checkout/python"
	cp "$TOP/README.md" "$BATS_TEST_TMPDIR/checkout/"
	echo "$BATS_TEST_TMPDIR/checkout"
}

# blocks README: the ```sh blocks as one bash script, each announced on
# stderr; a block right after the line <!-- readme.bats: not run ... -->
# is left out. With pipefail, a command fails when any stage of its
# pipeline does, except a stage ended by SIGPIPE (status 141) before
# the last, as in `chr-tail ... | head`.
blocks() {
	cat <<'SH'
set -E -o pipefail
trap 'ps=("${PIPESTATUS[@]}") rc=$?
	bad=${ps[-1]}
	for s in "${ps[@]:0:${#ps[@]}-1}"; do [ "$s" = 0 ] || [ "$s" = 141 ] || bad=$s; done
	if [ "$bad" != 0 ]; then echo "readme: exit $bad: $BASH_COMMAND" >&2; exit "$bad"; fi' ERR
SH
	awk '
	/^```sh[ \t]*$/ && !inside {
		inside = 1; n++; run = (prev !~ /^<!-- readme\.bats: not run/)
		if (run) printf "echo \"readme: block %d (line %d)\" >&2\n", n, NR
		next
	}
	/^```/ && inside { inside = 0; next }
	inside && run { print }
	{ prev = $0 }
	' "$1"
	# the last command may be one whose SIGPIPE the trap forgave
	echo 'exit 0'
}

@test "every code block of the README is a \`\`\`sh block that this test sees" {
	readme=$(checkout)/README.md
	# an indented code block or another fence would escape the test
	run -0 awk '/^```/ { inside = !inside; if (inside && $0 !~ /^```sh[ \t]*$/) print NR ": " $0; next }
		!inside && /^(    |\t)/ && prev == "" { print NR ": " $0 } { prev = $0 }' "$readme"
	[ -z "$output" ]
	run -0 blocks "$readme"
	[ "$(grep -c '^echo "readme: block' <<<"$output")" -ge 8 ]
}

@test "the README's examples run, in order, on the bundled data, from a fresh directory" {
	dir=$(checkout)
	blocks "$dir/README.md" >readme.sh
	mkdir tmp
	cd "$dir"
	run -0 --separate-stderr env TMPDIR="$BATS_TEST_TMPDIR/tmp" $T bash "$BATS_TEST_TMPDIR/readme.sh"
	# the examples worked in the fresh directory, not in the checkout
	[ -d "$BATS_TEST_TMPDIR"/tmp/*/cold/v1/binance-futures/BTCUSDT/2024-08-08/book ]
	[ ! -e "$dir/archive" ]
	# what the examples promise: the book at 23:57 from the clean queue and
	# from the raw archive and from the cold archive, and records of the raw archive
	[ "$(grep -c '^2024-08-08T23:57:00.000000000Z BOOK_SNAPSHOT binance-futures BTCUSDT .* bid\[5\] 61701.2 x 1.44,' <<<"$output")" -eq 3 ]
	[[ "$output" == *"TRADE binance-futures BTCUSDT"*"seq=1 "* ]]
	[[ "$stderr" == *"already imported"* ]]
	# the plot, and the first trade read in Python from the cold tier, exact
	[ -s "$BATS_TEST_TMPDIR"/tmp/*/top.png ]
	[[ "$output" == *"0  BTCUSDT 2024-08-08 23:54:15.088176+00:00  61800.3  0.006"* ]]
	# the live feed on the loopback exchange: its snapshot, then the diff
	# that bridges it (those before it are older, dropped)
	[[ "$output" == *" BOOK_SNAPSHOT binance-futures BTCUSDT seq="*" flags=LAST ids=5123107852948..5123107852948 "*$'\n'*" BOOK_DIFF binance-futures BTCUSDT seq="*" ids=5123107850310..5123107853551 "* ]]
	# the finished capture reached the raw archive whole, its last segment too
	cd "$BATS_TEST_TMPDIR"/tmp/*/
	run -0 $T chr-tail --format text raw
	queued=$output
	[ "${#lines[@]}" -gt 27000 ]
	run -0 $T chr-tail --archive ./archive --venue binance-futures --stream raw --format text
	[ "$output" = "$queued" ]
}
