#!/usr/bin/env bats
# docs/supervision.md: each unit's ExecStart run as systemd runs it, in a
# process group of its own, stopped by its KillSignal sent to the whole
# group (KillMode=control-group): the exit status systemd sees is 0, and
# the service started again goes on exactly once.

load test_helper

L2="$DATA/binance-futures_incremental_book_L2_BTCUSDT_2024-08-08.csv.gz"
TRADES="$DATA/binance-futures_trades_BTCUSDT_2024-08-08.csv.gz"

# unit NAME: the unit NAME.service of docs/supervision.md, written to
# NAME.service with this test's paths: /dev/shm/raw is ./raw, /data/ is
# ./data/, and the programs are those under test (on PATH)
unit() {
	python3 - "$TOP/docs/supervision.md" "$1" "$PWD" >"$1.service" <<'PY'
import re, sys
text, name, here = open(sys.argv[1]).read(), sys.argv[2], sys.argv[3]
for block in re.findall(r"```ini\n(.*?)```", text, re.S):
    if block.startswith("# /etc/systemd/system/%s.service\n" % name):
        print(block.replace("/dev/shm/raw", here + "/raw").replace("/data/", here + "/data/")
              .replace("/usr/bin/", ""), end="")
        break
else:
    sys.exit("docs/supervision.md has no unit " + name)
PY
	mkdir -p data
}

# key NAME KEY: the value of KEY= in NAME.service
key() {
	sed -n "s/^$2=//p" "$1.service"
}

# start NAME [PROG]: its ExecStart, in a process group of its own (as
# systemd gives a service a cgroup), stderr to NAME.err; its pid in $svc,
# once it catches SIGTERM (before, from exec to its first step, the signal
# kills it, which systemd counts as a clean stop too); a script that execs
# PROG catches it before the exec as well, so that is waited for first
start() {
	setsid bash -c "exec $(key "$1" ExecStart)" 2>>"$1.err" 3>&- &
	svc=$!
	[ -z "${2-}" ] || until_ok is_prog $svc "$2"
	until_ok catches_term $svc
}

# is_prog PID PROG: PID runs PROG
is_prog() {
	[ "$(cat /proc/"$1"/comm 2>/dev/null)" = "$2" ]
}

# catches_term PID: PID has a handler for SIGTERM (SigCgt, bit 15 - 1)
catches_term() {
	local m
	m=$(sed -n 's/^SigCgt:\t//p' /proc/"$1"/status 2>/dev/null) || return 1
	[ -n "$m" ] && (( (16#$m >> 14) & 1 ))
}

# stop NAME: its KillSignal to the whole group; the exit status systemd
# sees in $rc (a stop that outlasts TimeoutStopSec fails the test)
stop() {
	local sig
	sig=$(key "$1" KillSignal)
	[ "$(key "$1" KillMode)" = control-group ]
	kill -s "${sig#SIG}" -- -"$svc"
	timeout "$(key "$1" TimeoutStopSec)" tail --pid="$svc" -f /dev/null
	rc=0
	wait "$svc" || rc=$?
	[ $rc = 0 ] || echo "$1 exit status $rc" >&2
}

# two books and trades of BTCUSDT and ETHUSDT, as records, in 4 pieces
feed() {
	gzip -cd "$L2" | head -n 20001 >b.csv
	$T chr-csv2ev b.csv >btc.ev
	sed 's/,BTCUSDT,/,ETHUSDT,/' b.csv | $T chr-csv2ev >eth.ev
	gzip -cd "$TRADES" | head -n 2001 | $T chr-csv2ev >tr.ev
	$T chr-tail btc.ev eth.ev tr.ev >all.ev
	pieces all.ev 4
}

@test "the unit files are systemd units (systemd-analyze verify)" {
	command -v systemd-analyze >/dev/null || skip "no systemd-analyze"
	for u in chr-refine chr-archive-tap chr-seal-copy; do
		unit $u
		# verify wants the executable at an absolute path
		p=$(key $u ExecStart | cut -d' ' -f1)
		sed -i "s|^ExecStart=$p |ExecStart=$(command -v "$p") |" $u.service
		run -0 --separate-stderr systemd-analyze verify "$PWD/$u.service"
		assert_equal "$stderr" ""
	done
}

@test "chr-refine.service: stopped by its KillSignal while it follows, exit 0; started again, exactly once" {
	feed
	unit chr-refine
	# the reference: one run over a raw queue that got the same appends
	$T chr-sink --queue ref --create </dev/null
	for f in piece.*; do $T chr-sink --queue ref $f; done
	$T chr-refine --once --interval 60s ref data/ref
	$T chr-sink --queue raw --create </dev/null
	for f in piece.*; do
		$T chr-sink --queue raw $f
		start chr-refine
		until_ok pgrep -g $svc -x chr-sink >/dev/null
		sleep 0.$((RANDOM % 5))
		stop chr-refine
		[ $rc = 0 ]
	done
	# the last run catches up, then stops
	start chr-refine
	reader=refine-$(cat data/clean/.refine-id)
	caught_up() { [ -z "$($T chr-tail --from-reader $reader --limit 1 --format json raw)" ]; }
	until_ok caught_up
	stop chr-refine
	[ $rc = 0 ]
	run -0 sort -u chr-refine.err
	assert_output "chr-refine: stopped by SIGTERM: the clean queues hold every record read; run chr-refine again to continue"
	same_queues data/ref data/clean
}

@test "chr-archive-tap.service: stopped by its KillSignal while it copies, exit 0; started again, ARCH is the raw queue" {
	# a feed whose src_seq never goes back, as the tap needs
	$T chr-csv2ev "$TRADES" >t.ev
	pieces t.ev 4
	unit chr-archive-tap
	$T chr-sink --queue raw --create </dev/null
	for f in piece.*; do
		$T chr-sink --queue raw $f
		start chr-archive-tap chr-sink
		sleep 0.$((RANDOM % 5))
		stop chr-archive-tap
		[ $rc = 0 ]
	done
	start chr-archive-tap chr-sink
	same() { [ "$($T chr-tail data/arch | xxhsum -H2)" = "$($T chr-tail raw | xxhsum -H2)" ]; }
	until_ok same
	stop chr-archive-tap
	[ $rc = 0 ]
	run -0 cat chr-archive-tap.err
	assert_output ""
}

@test "chr-seal-copy.service: stopped by its KillSignal while it archives, exit 0; started again, each sealed segment once" {
	$T chr-csv2ev "$TRADES" >t.ev
	pieces t.ev 4
	unit chr-seal-copy
	# its source, data/arch, in small segments: many to archive
	$T chr-sink --queue data/arch --create -S 64K </dev/null
	for f in piece.*; do
		$T chr-sink --queue data/arch -S 64K $f
		start chr-seal-copy
		sleep 0.$((RANDOM % 5))
		stop chr-seal-copy
		[ $rc = 0 ]
	done
	$T chr-sink --queue data/arch -S 64K --seal-at-end </dev/null
	# the sealed segments (spares made ahead follow the current one)
	sealed=$(python3 -c 'import glob, struct, sys
print(sum(struct.unpack_from("<H", open(f, "rb").read(8), 6)[0] & 1
          for f in glob.glob(sys.argv[1] + "/[0-9]*.q")))' data/arch)
	start chr-seal-copy
	archived() { [ "$(find data/archive -name '*.q.zst' | wc -l)" = "$sealed" ]; }
	until_ok archived
	stop chr-seal-copy
	[ $rc = 0 ]
	run -1 grep -v -e ': [0-9]* records, [0-9]* bytes' -e 'nothing to archive' chr-seal-copy.err
	# every record of the sealed segments, once, read back from the archive
	$T chr-tail --archive data/archive --venue binance-futures --stream raw | cmp - <($T chr-tail data/arch)
}
