# test_helper.bash - loaded by every suite: assertions, the freshly built
# programs first on PATH, the fixtures, a scratch directory per test, and
# the helpers that make and edit records.

bats_require_minimum_version 1.5.0
bats_load_library bats-support
bats_load_library bats-assert

TOP="$(cd "$BATS_TEST_DIRNAME/.." && pwd)"
DATA="$TOP/test/data"
# make check sets CHR_BUILD to the build it made (in place, or build-san/)
BUILD="${CHR_BUILD:-$TOP}"
for d in "$BUILD"/bin/chr-*/; do PATH="$d:$PATH"; done
PATH="$TOP/scripts:$PATH"
export PATH TOP DATA BUILD
# every program run by a test is bounded
T="timeout 60"

setup() {
	cd "$BATS_TEST_TMPDIR" || return 1
}

# gen stream|spec|rec|heartbeat|huge|seal ...: the test data generator,
# test/gen/gen.c (`gen -h` says what each writes); make check builds it
# before the suites run
gen() {
	"$BUILD/test/gen/gen" "$@"
}

# poke FILE OFFSET FORMAT: overwrite bytes of FILE at OFFSET with the
# printf FORMAT
poke() {
	printf "$3" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}

# drop FILE N TYPE: FILE without the N-th (0-based) record of TYPE
drop() {
	python3 - "$@" <<'EOF'
import struct, sys
data = open(sys.argv[1], "rb").read()
n, t = int(sys.argv[2]), int(sys.argv[3], 0)
out, pos, k = bytearray(), 0, 0
while pos < len(data):
    ln, typ = struct.unpack_from("<IH", data, pos)
    span = (ln + 63) // 64 * 64
    if typ == t:
        k += 1
        if k - 1 == n:
            pos += span
            continue
    out += data[pos:pos + span]
    pos += span
sys.stdout.buffer.write(out)
EOF
}

# first N FILE: the first N records of FILE
first() {
	python3 - "$@" <<'EOF'
import struct, sys
n, data, pos = int(sys.argv[1]), open(sys.argv[2], "rb").read(), 0
for _ in range(n):
    if pos >= len(data):
        break
    pos += (struct.unpack_from("<I", data, pos)[0] + 63) // 64 * 64
sys.stdout.buffer.write(data[:pos])
EOF
}

# pieces FILE K: FILE cut into K pieces at record boundaries, piece.00 on
pieces() {
	python3 - "$1" "$2" <<'EOF'
import struct, sys
data, pos, cuts = open(sys.argv[1], "rb").read(), 0, [0]
while pos < len(data):
    pos += (struct.unpack_from("<I", data, pos)[0] + 63) // 64 * 64
    cuts.append(pos)
n, k = len(cuts) - 1, int(sys.argv[2])
for i in range(k):
    a, b = cuts[n * i // k], cuts[n * (i + 1) // k]
    open("piece.%02d" % i, "wb").write(data[a:b])
EOF
}

# a test that failed while a process it started in the background ran
# leaves none behind (a follower would run on for ever)
teardown() {
	local p
	for p in $(jobs -p); do
		pkill -KILL -P "$p" 2>/dev/null
		kill -KILL "$p" 2>/dev/null
	done
	return 0
}

# dead_output_ends PROG: PROG, given records on an input that never ends
# and an output that fails (/dev/full), ends with exit 3 and says why
# instead of waiting for more input.
dead_output_ends() {
	gen stream 3 >few.q
	mkfifo in
	exec 7<>in	# held open: the input has no end
	cat few.q >&7
	run -3 --separate-stderr timeout 20 bash -c "$1 <in >/dev/full"
	exec 7>&-
	[[ "$stderr" == "$1: cannot write to standard output: No space left on device" ]]
}

# gen_csv DAYS PER_DAY SYMBOL: Tardis trades from 2024-01-01, PER_DAY a day
gen_csv() {
	python3 - "$@" <<'EOF'
import sys
days, per, sym = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
t0 = 1704067200000000
print("exchange,symbol,timestamp,local_timestamp,id,side,price,amount")
for d in range(days):
    for i in range(per):
        ts = t0 + d * 86400000000 + i * (86400000000 // per)
        print(f"binance,{sym},{ts},{ts+100},{d}-{i},{'buy' if i%2 else 'sell'},{40000+i%1000}.{i%10},{1+i%7}.25")
EOF
}

# every queue under $1 and $2 holds the same records, byte for byte
same_queues() {
	local a b
	a=$(cd "$1" && find . -name control -printf '%h\n' | sort)
	b=$(cd "$2" && find . -name control -printf '%h\n' | sort)
	[ "$a" = "$b" ] || { echo "queues differ: $a / $b"; return 1; }
	for q in $a; do
		$T chr-tail "$1/$q" >a.q
		$T chr-tail "$2/$q" >b.q
		cmp a.q b.q || { echo "$q differs"; return 1; }
	done
}

# until_ok CMD...: poll CMD every 0.1 s until it succeeds (30 s at most)
until_ok() {
	for _ in $(seq 300); do "$@" && return 0; sleep 0.1; done
	return 1
}

# group_gone PGID: no process of group PGID is left (zombies aside)
group_gone() {
	! ps -eo pgid=,stat= | awk -v g="$1" '$1 == g && $2 !~ /^Z/ { f = 1 } END { exit !f }'
}

# fail_publish.so: renameat2 onto a path holding $FAIL_PUBLISH fails with
# EACCES (a permission error on one partition directory, also as root)
# a sanitizer build is told that the shim comes before its runtime
make_fail_publish() {
	command -v cc >/dev/null || skip "no C compiler"
	cat >fail.c <<'C'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
int renameat2(int ofd, const char *o, int nfd, const char *n, unsigned flags)
{
	static int (*real)(int, const char *, int, const char *, unsigned);
	const char *f = getenv("FAIL_PUBLISH");

	if (f && *f && strstr(n, f)) {
		errno = EACCES;
		return -1;
	}
	if (!real)
		real = (int (*)(int, const char *, int, const char *, unsigned))dlsym(RTLD_NEXT, "renameat2");
	return real(ofd, o, nfd, n, flags);
}
C
	cc -shared -fPIC -o fail_publish.so fail.c -ldl
}

# make_fail_fsync: fail_fsync.so, which fails fsync of a directory whose
# path holds $FAIL_FSYNC with EIO (LD_PRELOAD it)
make_fail_fsync() {
	command -v cc >/dev/null || skip "no C compiler"
	cat >fail_fsync.c <<'C'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
int fsync(int fd)
{
	static int (*real)(int);
	const char *f = getenv("FAIL_FSYNC");
	char link[64], path[4096];
	struct stat st;
	ssize_t n;

	snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
	n = readlink(link, path, sizeof path - 1);
	if (f && *f && n > 0 && fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
		path[n] = '\0';
		if (strstr(path, f)) {
			errno = EIO;
			return -1;
		}
	}
	if (!real)
		real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
	return real(fd);
}
C
	cc -shared -fPIC -o fail_fsync.so fail_fsync.c -ldl
}

# script_layouts SCRIPT...: the scripts in a source tree (tree/scripts,
# the programs in tree/bin/chr-*/) and installed (inst/, the programs
# beside them), with the programs of the build under test; links/ and
# cwd/deep made for the caller's symlinks and working directory
script_layouts() {
	local d p s
	mkdir -p tree/scripts tree/bin inst links cwd/deep
	for s in "$@"; do
		cp "$TOP/scripts/$s" tree/scripts/
		cp "$TOP/scripts/$s" inst/
	done
	for d in "$BUILD"/bin/chr-*/; do
		p=$(basename "$d")
		mkdir tree/bin/$p
		ln -s "$d$p" tree/bin/$p/$p
		ln -s "$d$p" inst/$p
	done
}

# the committed position of named reader $2 of queue $1, read from its
# file as docs/format.md describes (the valid slot of the larger gen)
readerpos() {
	python3 - "$1/readers/$2" <<'PY'
import struct, sys
d, best = open(sys.argv[1], "rb").read(), None
for i in (0, 1):
    gen, seq = struct.unpack_from("<QQ", d, 64 + 64 * i)
    if gen and (gen - 1) % 2 == i and (best is None or gen > best[0]):
        best = (gen, seq)
print(best[1])
PY
}

# make_arch ROOT [PER_DAY]: BTCUSDT and ETHUSDT trades, 2024-01-01 to
# 2024-01-06, several segments a partition; the streams as they were in
# orig-BTCUSDT.q and orig-ETHUSDT.q
make_arch() {
	local s
	for s in BTCUSDT ETHUSDT; do
		gen_csv 6 "${2:-2000}" $s >$s.csv
		$T chr-csv2ev $s.csv | $T chr-sink --archive "$1" --segment-size 65536
		$T chr-tail --archive "$1" --venue binance --symbol $s --stream trade >orig-$s.q
	done
}

# the reader's streams equal the originals
same_records() {
	local s
	for s in BTCUSDT ETHUSDT; do
		$T chr-tail --archive "$1" --venue binance --symbol $s --stream trade >now-$s.q
		cmp orig-$s.q now-$s.q
	done
}

# parts DIR: the partitions (meta.json) below DIR, relative
parts() {
	(cd "$1" 2>/dev/null && find v1 raw -name meta.json 2>/dev/null | sed 's,/meta.json$,,' | sort)
}
