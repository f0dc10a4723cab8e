#!/usr/bin/env bats
# scripts/chr-plot: a valid PNG of the size asked (signature, IHDR), a
# well-formed SVG with a point per trade, from an archive of the real
# sample; no data in the range is an error; bad arguments are refused.
load test_helper

L2="$DATA/binance-futures_incremental_book_L2_BTCUSDT_2024-08-08.csv.gz"
TRADES="$DATA/binance-futures_trades_BTCUSDT_2024-08-08.csv.gz"
QUOTES="$DATA/binance-futures_quotes_BTCUSDT_2024-08-08.csv.gz"
SEL=(--venue binance-futures --symbol BTCUSDT)
RANGE=(--from 2024-08-08T23:56:00Z --until 2024-08-08T23:56:30Z)

# the script of the checkout under test (as test/readme.bats finds it): the
# build's own when it is a checkout, else this one's
plot() {
	local s=$TOP/scripts/chr-plot
	[ ! -f "$BUILD/README.md" ] || s=$BUILD/scripts/chr-plot
	$T "$s" "$@"
}

setup_file() {
	cd "$BATS_FILE_TMPDIR" || return 1
	for f in "$L2" "$TRADES" "$QUOTES"; do
		gzip -cd "$f" | $T chr-csv2ev | $T chr-sink --archive A || return 1
	done
}

setup() {
	command -v gnuplot >/dev/null || skip "no gnuplot (scripts/install-deps installs gnuplot-nox)"
	# a directory of its own: bats keeps files of run in the test's
	mkdir "$BATS_TEST_TMPDIR/w" && cd "$BATS_TEST_TMPDIR/w" || return 1
	A=$BATS_FILE_TMPDIR/A
}

# png FILE: the PNG's width and height from its IHDR chunk, after checking
# the signature
png() {
	python3 - "$1" <<'PY'
import struct, sys, zlib
d = open(sys.argv[1], "rb").read()
assert d[:8] == b"\x89PNG\r\n\x1a\n", "no PNG signature"
n, kind = struct.unpack(">I4s", d[8:16])
assert kind == b"IHDR" and n == 13, "no IHDR first"
assert struct.unpack(">I", d[29:33])[0] == zlib.crc32(d[12:29]), "IHDR crc"
assert d[-12:] == b"\0\0\0\0IEND\xaeB`\x82", "no IEND at the end"
print("%dx%d" % struct.unpack(">II", d[16:24]))
PY
}

@test "a PNG of the size asked, and of the default size" {
	run -0 --separate-stderr plot --archive "$A" "${SEL[@]}" "${RANGE[@]}" --size 640x480 -o top.png
	[ -z "$stderr" ]
	[ -z "$output" ]
	run -0 png top.png
	[ "$output" = 640x480 ]
	run -0 plot --archive "$A" "${SEL[@]}" -o TOP.PNG
	run -0 png TOP.PNG
	[ "$output" = 1000x600 ]
	# nothing else left beside it
	[ "$(LC_ALL=C ls)" = "TOP.PNG
top.png" ]
}

@test "an SVG of the size asked, well formed, with a point per trade of the range" {
	run -0 plot --archive "$A" "${SEL[@]}" "${RANGE[@]}" --size 800x500 -o top.svg
	run -0 $T chr-tail --archive "$A" "${SEL[@]}" --stream trade "${RANGE[@]}" --format csv
	trades=$((${#lines[@]} - 1))
	[ "$trades" -gt 100 ]
	python3 - top.svg "$trades" <<'PY'
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
assert root.tag == "{http://www.w3.org/2000/svg}svg", root.tag
assert (root.get("width"), root.get("height")) == ("800", "500"), root.attrib
# a trade is a point (gnuplot's point type 7, #gpPt6), plus one in each
# of the two keys (buy, sell)
uses = [u for u in root.iter("{http://www.w3.org/2000/svg}use")
        if u.get("{http://www.w3.org/1999/xlink}href") == "#gpPt6" and u.get("transform")]
assert len(uses) == int(sys.argv[2]) + 2, (len(uses), sys.argv[2])
PY
	# the quote stream instead of the book
	run -0 plot --archive "$A" "${SEL[@]}" --stream quote "${RANGE[@]}" -o q.svg
	python3 -c 'import sys, xml.etree.ElementTree as ET; ET.parse(sys.argv[1])' q.svg
}

@test "an instrument without trades is drawn without them" {
	gzip -cd "$L2" | $T chr-csv2ev | $T chr-sink --archive B
	run -0 --separate-stderr plot --archive B "${SEL[@]}" "${RANGE[@]}" -o b.svg
	[ -z "$stderr" ]
	[ "$(grep -c "xlink:href='#gpPt6' transform" b.svg)" = 0 ]
}

@test "no data in the range is an error, not an empty plot; FILE is left as it was" {
	echo old >top.png
	run -1 --separate-stderr plot --archive "$A" "${SEL[@]}" --from 2024-08-09T00:00:00Z -o top.png
	[ "$stderr" = "chr-plot: no top of book for binance-futures BTCUSDT in '$A' in the range (stream book)" ]
	[ "$(cat top.png)" = old ]
	run -1 --separate-stderr plot --archive "$A" "${SEL[@]}" --until 2024-08-08T00:00:00Z -o x.png
	[ ! -e x.png ]
	# an instrument the archive does not hold: chr-tail names what it holds
	run -1 --separate-stderr plot --archive "$A" --venue binance-futures --symbol ETHUSDT -o x.png
	[[ "$stderr" == "chr-tail: no symbol 'ETHUSDT' for venue binance-futures in '$A'; symbols: BTCUSDT" ]]
	run -1 --separate-stderr plot --archive "$A" "${SEL[@]}" --date 2024-08-09 -o x.png
	[[ "$stderr" == "chr-tail: no date '2024-08-09' for binance-futures BTCUSDT book in '$A'; dates: 2024-08-08" ]]
	[ ! -e x.png ]
	[ "$(ls)" = top.png ]
}

@test "-h, -V, and bad arguments refused with exit 2, nothing written" {
	run -0 plot -h
	[ "${lines[0]}" = "usage: chr-plot --archive ROOT --venue VENUE --symbol SYMBOL [--stream book|quote]" ]
	run -0 plot --version
	[ "$output" = "chr-plot 0.1.0" ]
	ok=(--archive "$A" "${SEL[@]}")
	bad() {
		run -2 --separate-stderr plot "$@"
		[ "${stderr_lines[0]}" = "chr-plot: $want" ]
		[ "${stderr_lines[1]}" = "Try 'chr-plot --help' for more information." ]
	}
	want="-o FILE is needed" bad "${ok[@]}"
	want="--archive ROOT is needed" bad "${SEL[@]}" -o x.png
	want="--symbol is needed" bad --archive "$A" --venue binance-futures -o x.png
	want="-o 'x.jpg': the file name must end in .png or .svg" bad "${ok[@]}" -o x.jpg
	want="--size '640' is not WIDTHxHEIGHT in pixels (100 to 20000 each)" bad "${ok[@]}" --size 640 -o x.png
	want="--size '0x480' is not WIDTHxHEIGHT in pixels (100 to 20000 each)" bad "${ok[@]}" --size 0x480 -o x.png
	want="--size '99x480' is not WIDTHxHEIGHT in pixels (100 to 20000 each)" bad "${ok[@]}" --size 99x480 -o x.png
	want="--stream 'trade' is neither book nor quote" bad "${ok[@]}" --stream trade -o x.png
	want="--from 'soon' is neither a time nor seq:N" bad "${ok[@]}" --from soon -o x.png
	want="--date '2024-8-8' is not YYYY-MM-DD" bad "${ok[@]}" --date 2024-8-8 -o x.png
	want="unknown option '--depth'" bad "${ok[@]}" --depth 5 -o x.png
	want="unexpected argument 'extra'" bad "${ok[@]}" -o x.png extra
	want="option '-o' requires an argument" bad "${ok[@]}" -o
	[ -z "$(ls)" ]
}

@test "a FILE that cannot be written: exit 3" {
	run -3 --separate-stderr plot --archive "$A" "${SEL[@]}" "${RANGE[@]}" -o nodir/x.png
	[ "$stderr" = "chr-plot: cannot write 'nodir/x.png'" ]
}
