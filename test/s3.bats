#!/usr/bin/env bats
# The object-storage tier (docs/tiers.md, "Object storage"): chr-tier moves
# partitions into a bucket of a local S3 server (moto_server, started here
# on 127.0.0.1; nothing else is contacted), readers read them back by ranged
# GETs, the book at T fetches a few frames, wrong credentials are exit 3,
# and a pass SIGKILLed during uploads loses nothing.

load test_helper

# the local S3 server for the whole file, on a free port
setup_file() {
	command -v moto_server >/dev/null || return 0
	cd "$BATS_FILE_TMPDIR" || return 1
	start_moto moto
}

teardown_file() {
	[ -f "$BATS_FILE_TMPDIR/moto.pid" ] && kill "$(cat "$BATS_FILE_TMPDIR/moto.pid")" 2>/dev/null
	return 0
}

# start_moto NAME [ENV=VALUE...]: moto_server on a free port of 127.0.0.1;
# its port in NAME.port, its pid in NAME.pid (in the working directory)
start_moto() {
	local name=$1 port i
	shift
	port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	env "$@" moto_server -H 127.0.0.1 -p "$port" >"$name.log" 2>&1 3>&- &
	echo $! >"$name.pid"
	echo "$port" >"$name.port"
	for ((i = 0; i < 300; i++)); do
		curl -s -o /dev/null "http://127.0.0.1:$port/" && return 0
		sleep 0.1
	done
	echo "moto_server did not start: $(cat "$name.log")" >&2
	return 1
}

setup() {
	command -v moto_server >/dev/null ||
		skip "moto_server is not installed (pip install 'moto[server]', see scripts/install-deps)"
	cd "$BATS_TEST_TMPDIR" || return 1
	PORT=$(cat "$BATS_FILE_TMPDIR/moto.port")
	EP="endpoint=http://127.0.0.1:$PORT region=us-east-1"
	# only the server started here: no proxy, no credentials of the machine
	unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY ALL_PROXY all_proxy AWS_PROFILE \
		AWS_ENDPOINT_URL AWS_ENDPOINT_URL_S3 AWS_SESSION_TOKEN
	export NO_PROXY=127.0.0.1 no_proxy=127.0.0.1
	export AWS_ACCESS_KEY_ID=AKIATESTKEY AWS_SECRET_ACCESS_KEY=Sup3rSecretTestValue
	export AWS_SHARED_CREDENTIALS_FILE=/nonexistent AWS_CONFIG_FILE=/nonexistent
}

teardown() {
	local p pids
	pids=$(jobs -p)
	disown -a 2>/dev/null	# no job notices
	for p in $pids; do kill -KILL "$p" 2>/dev/null; done
	[ -f moto-auth.pid ] && kill "$(cat moto-auth.pid)" 2>/dev/null
	return 0
}

# bucket NAME: create it on the local server
bucket() {
	curl -sf -o /dev/null -X PUT "http://127.0.0.1:$PORT/$1"
}

# keys BUCKET PREFIX: the keys below PREFIX/, relative to it, sorted
keys() {
	curl -sf "http://127.0.0.1:$PORT/$1?list-type=2&prefix=$2/" | python3 -c '
import re, sys
p = sys.argv[1] + "/"
for k in sorted(re.findall(r"<Key>([^<]*)</Key>", sys.stdin.read())):
    print(k[len(p):])' "$2"
}

# s3parts BUCKET PREFIX: the partitions (REL/meta.json) below PREFIX
s3parts() {
	keys "$1" "$2" | sed -n 's,/meta.json$,,p'
}

@test "hot -> warm -> S3: uploaded, read back equal, the manifest holds the keys and rebuilds equal" {
	make_arch R
	bucket arch
	printf 'warm W 3d\ns3 s3://arch/pre 5d %s\n' "$EP" >R/chr-tier.conf
	run -0 --separate-stderr $T chr-tier --root R --now 2024-01-08 --once
	[ "$(printf '%s\n' "$stderr" | grep -c 'from hot to warm (renamed)')" = 4 ]
	[ "$(printf '%s\n' "$stderr" | grep -c 'from hot to s3 (uploaded compressed, 4 segments')" = 4 ]
	[ "$(parts R)" = "$(printf 'v1/binance/%s/2024-01-0%s/trade\n' BTCUSDT 5 BTCUSDT 6 ETHUSDT 5 ETHUSDT 6)" ]
	[ "$(parts R/W)" = "$(printf 'v1/binance/%s/2024-01-0%s/trade\n' BTCUSDT 3 BTCUSDT 4 ETHUSDT 3 ETHUSDT 4)" ]
	[ "$(s3parts arch pre)" = "$(printf 'v1/binance/%s/2024-01-0%s/trade\n' BTCUSDT 1 BTCUSDT 2 ETHUSDT 1 ETHUSDT 2)" ]
	# the objects: compressed segments and meta.json, nothing else
	[ "$(keys arch pre | grep -c '/00000000[0-3].q.zst$')" = 16 ]
	[ "$(keys arch pre | wc -l)" = 20 ]
	[ -z "$(ls -A R/.staging | grep -v '^lock$' | grep -v '^.tier-lock$')" ]
	# the manifest: the tier's URL, the object keys below it
	run -0 $T chr-tier --root R --dump-manifest
	[[ "$output" == *"tier	s3	s3://arch/pre	2"* ]]
	[ "$(printf '%s\n' "$output" | grep -c '^segment	s3	v1/binance/[A-Z]*/2024-01-0[12]/trade/00000000[0-3].q.zst	')" = 16 ]
	# the reader spans hot, warm and S3, through the manifest and without it
	same_records R
	cp R/manifest.db kept.db
	mv R/manifest.db R/manifest.off
	same_records R
	mv R/manifest.off R/manifest.db
	run -0 --separate-stderr $T chr-ls R
	[ "$(printf '%s\n' "$output" | grep -c ' s3 .* zstd ')" = 4 ]
	# later: warm and hot move on into S3
	run -0 --separate-stderr $T chr-tier --root R --now 2024-01-12 --once
	[ "$(printf '%s\n' "$stderr" | grep -c 'from warm to s3 (uploaded compressed')" = 4 ]
	[ "$(printf '%s\n' "$stderr" | grep -c 'from hot to s3 (uploaded compressed')" = 4 ]
	[ -z "$(parts R)$(parts R/W)" ]
	[ "$(s3parts arch pre | wc -l)" = 12 ]
	same_records R
	# the manifest rebuilt from a listing of the bucket equals the kept one
	$T chr-tier --root R --dump-manifest >kept
	rm R/manifest.db
	run -0 $T chr-tier --root R --rebuild-manifest
	$T chr-tier --root R --dump-manifest >rebuilt
	cmp kept rebuilt
	# nothing left to do
	run -0 --separate-stderr $T chr-tier --root R --now 2024-01-12 --once
	[ -z "$stderr" ]
	# the partitions age out of S3 too: meta.json and segments deleted
	run -0 --separate-stderr $T chr-tier --root R --now 2024-03-01 --delete-after 30d --once
	[ "$(printf '%s\n' "$stderr" | grep -c 'removed .* from s3')" = 12 ]
	[ -z "$(keys arch pre)" ]
}

@test "the tier line: options and bad words named by file:line; an S3 tier must be the coldest" {
	mkdir R
	printf 's3 s3://b/p 5d endpoint=ftp://x\n' >R/chr-tier.conf
	run -2 --separate-stderr $T chr-tier --root R --once
	[[ "$stderr" == *"chr-tier.conf:1: expected endpoint=URL, region=R, addressing=path|virtual"* ]]
	printf 's3 s3://b/p/ 5d\n' >R/chr-tier.conf
	run -2 --separate-stderr $T chr-tier --root R --once
	[[ "$stderr" == *"chr-tier.conf:1: 's3://b/p/' is not s3://BUCKET[/PREFIX] (no '/' at the end)"* ]]
	printf 's3 s3://b/p 5d part-size=1m\n' >R/chr-tier.conf
	run -2 --separate-stderr $T chr-tier --root R --once
	[[ "$stderr" == *"chr-tier.conf:1: part-size is 5m to 4g"* ]]
	run -2 --separate-stderr $T chr-tier --root R --cold s3://b/p --cold-after 5d --once
	[[ "$stderr" == *"--cold: a tier in object storage is a line of chr-tier.conf (with its options)"* ]]
	printf 's3 s3://b/p 5d %s\ncold C 9d\n' "$EP" >R/chr-tier.conf
	run -2 --separate-stderr $T chr-tier --root R --once
	[[ "$stderr" == *"tier 's3' ('s3://b/p') is in object storage: it must be the coldest"* ]]
}

@test "the book at T from the S3 tier equals a replay, fetching a few frames, not the day" {
	local V=binance-futures D0=1723075200 t i n size got
	"$TOP/test/gen-day" --every 1 --seed 7 S0 | $T chr-csv2ev | $T chr-snapinject --interval 60s >S0.ev
	$T chr-sink --archive R <S0.ev
	$T chr-sink --archive day <S0.ev
	bucket books
	printf 'cold s3://books/a/b 1d %s\n' "$EP" >R/chr-tier.conf
	run -0 --separate-stderr $T chr-tier --root R --now 2024-08-20 --once
	[[ "$stderr" == *"moved 'v1/binance-futures/S0/2024-08-08/book' from hot to cold (uploaded compressed, 1 segment"* ]]
	[ -z "$(parts R)" ]
	size=$($T chr-ls R | awk '$5 == "cold" { print $8 }')
	[ "$size" -gt 1000000 ]
	RANDOM=5
	for ((i = 0; i < 6; i++)); do
		t=$(((D0 + RANDOM * 86400 / 32768) * 1000000000 + RANDOM * 30517))
		# from the nearest snapshot in S3 = a replay of the whole day kept locally
		$T chr-tail --archive R --venue $V --symbol S0 --stream book --from $t --from-snapshot |
			$T chr-book --at $t --depth 0 --format text >snap.txt
		$T chr-tail --archive day --venue $V --symbol S0 --stream book |
			$T chr-book --at $t --depth 0 --format text >full.txt
		[ -s full.txt ]
		cmp full.txt snap.txt
		# what the book at T reads: the snapshot's records up to T, fetched
		# through the seek table (its tail, the DEFINEs' frame, the frames to T)
		n=$($T chr-tail --archive R --venue $V --symbol S0 --stream book --from $t \
			--until $((t + 1)) --from-snapshot --format json | grep -vc '"DEFINE"')
		$T chr-tail -v --archive R --venue $V --symbol S0 --stream book --from $t --from-snapshot \
			--limit "$n" >s.ev 2>err
		[ "$(sed -n 1p err)" = "chr-tail: the snapshot search opened 1 segment" ]
		[[ "$(sed -n '2,$p' err)" =~ ^chr-tail:\ object\ storage:\ ([0-9]+)\ requests,\ ([0-9]+)\ bytes\ fetched$ ]]
		got=${BASH_REMATCH[2]}
		[ "${BASH_REMATCH[1]}" -le 20 ]
		[ "$((got * 10))" -lt "$size" ]
		$T chr-book --at $t --depth 0 --format text <s.ev | cmp - full.txt
	done
	# the whole day, for comparison: every byte of the object
	$T chr-tail -v --archive R --venue $V --symbol S0 --stream book >all.ev 2>err
	[[ "$(cat err)" =~ ([0-9]+)\ bytes\ fetched ]]
	[ "${BASH_REMATCH[1]}" -ge "$size" ]
	cmp all.ev <($T chr-tail --archive day --venue $V --symbol S0 --stream book)
}

@test "a segment of part-size or more goes up in parts, checked by the multipart ETag, read back equal" {
	local V=binance-futures
	"$TOP/test/gen-day" --every 0.5 --seed 3 S1 | $T chr-csv2ev >S1.ev
	$T chr-sink --archive R <S1.ev
	bucket big
	printf 'cold s3://big 1d zstd=1 part-size=5m %s\n' "$EP" >R/chr-tier.conf
	run -0 --separate-stderr $T chr-tier --root R --now 2024-08-20 --once
	[[ "$stderr" == *"moved 'v1/binance-futures/S1/2024-08-08/book' from hot to cold (uploaded compressed, 1 segment"* ]]
	# the object: more than one part (its ETag ends in -N)
	run -0 curl -sfI "http://127.0.0.1:$PORT/big/v1/$V/S1/2024-08-08/book/000000000.q.zst"
	[[ "$output" =~ [Ee][Tt]ag:\ \"[0-9a-f]{32}-([0-9]+)\" ]]
	[ "${BASH_REMATCH[1]}" -ge 2 ]
	cmp S1.ev <($T chr-tail --archive R --venue $V --symbol S1 --stream book)
}

@test "wrong or missing credentials: a clear message, exit 3, no secret in the output" {
	make_arch R
	# a server that checks credentials (moto's IAM knows no key here)
	start_moto moto-auth INITIAL_NO_AUTH_ACTION_COUNT=0
	printf 's3 s3://locked/p 5d endpoint=http://127.0.0.1:%s\n' "$(cat moto-auth.port)" >R/chr-tier.conf
	run -3 --separate-stderr $T chr-tier --root R --now 2024-01-08 --once -v
	[[ "$stderr" == *"chr-tier: cannot read tier s3 ('s3://locked/p'): LIST 's3://locked/p/': access denied (HTTP 403 InvalidAccessKeyId): check the credentials (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE in ~/.aws/credentials)"* ]]
	[[ "$stderr$output" != *"$AWS_SECRET_ACCESS_KEY"* ]]
	# nothing moved; a reader, which must know whether a date is also in
	# the S3 tier, says why it cannot
	[ "$(parts R | wc -l)" = 12 ]
	run -3 --separate-stderr $T chr-tail --archive R --venue binance --symbol BTCUSDT --stream trade
	[[ "$stderr" == "chr-tail: cannot look for 'v1/binance/BTCUSDT/2024-01-01/trade' in the tiers: HEAD 's3://locked/p/v1/binance/BTCUSDT/2024-01-01/trade/meta.json': access denied (HTTP 403"* ]]
	[[ "$stderr" != *"$AWS_SECRET_ACCESS_KEY"* ]]
	# no credentials at all (another tier: the manifest forgets the first)
	rm R/manifest.db
	printf 's3 s3://arch/p 5d %s\n' "$EP" >R/chr-tier.conf
	run -3 --separate-stderr env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY $T chr-tier --root R --now 2024-01-08 --once
	[[ "$stderr" == *"no credentials for 's3://arch': set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or a profile in ~/.aws/credentials (AWS_PROFILE)"* ]]
	# the shared credentials file, a profile of it: read, never shown
	bucket arch
	printf '[default]\naws_access_key_id = X\naws_secret_access_key = Y\n[other]\naws_access_key_id = AKIAOTHER\naws_secret_access_key = FileSecretValue9\n' >creds
	run -0 --separate-stderr env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY AWS_SHARED_CREDENTIALS_FILE=$PWD/creds \
		AWS_PROFILE=other $T chr-tier --root R --now 2024-01-08 --once -v
	[ "$(s3parts arch p | wc -l)" = 4 ]
	[[ "$stderr" != *FileSecretValue9* ]]
}

# flaky CODES...: a server on 127.0.0.1 that answers the first requests
# with CODES (5xx, 429 SlowDown), then every LIST with an empty bucket;
# its port in flaky.port, the requests it saw in flaky.log
flaky() {
	python3 -c '
import http.server, sys
codes = [int(c) for c in sys.argv[1:]]
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        with open("flaky.log", "a") as f:
            f.write(self.command + " " + self.path + "\n")
        if codes:
            c = codes.pop(0)
            body = b"<Error><Code>SlowDown</Code></Error>" if c in (429, 503) else b"<Error><Code>InternalError</Code></Error>"
        else:
            c, body = 200, b"<ListBucketResult><IsTruncated>false</IsTruncated></ListBucketResult>"
        self.send_response(c)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
s = http.server.HTTPServer(("127.0.0.1", 0), H)
open("flaky.port", "w").write(str(s.server_port))
s.serve_forever()' "$@" 3>&- &
	for ((i = 0; i < 100; i++)); do [ -s flaky.port ] && return 0; sleep 0.1; done
	return 1
}

@test "5xx and throttling are retried with backoff; past retries=N, the answer is named, exit 3" {
	make_arch R
	flaky 503 429 500
	printf 's3 s3://b/p 5d endpoint=http://127.0.0.1:%s\n' "$(cat flaky.port)" >R/chr-tier.conf
	# nothing old enough to move
	run -0 --separate-stderr $T chr-tier --root R --now 2024-01-02 --once
	[ -z "$stderr" ]
	# three lists (open uploads, leftovers, partitions), three of them answered 503, 429, 500 first
	[ "$(grep -c '^GET /b/?' flaky.log)" = 6 ]
	kill %1
	wait %1 2>/dev/null || true
	rm flaky.port flaky.log
	flaky 503 503 503
	printf 's3 s3://b/p 5d endpoint=http://127.0.0.1:%s retries=2\n' "$(cat flaky.port)" >R/chr-tier.conf
	rm R/manifest.db
	run -3 --separate-stderr $T chr-tier --root R --now 2024-01-02 --once
	[[ "$stderr" == *"LIST uploads 's3://b/p/': HTTP 503 SlowDown"* ]]
	[ "$(grep -c . flaky.log)" -ge 3 ]
	[ "$(parts R | wc -l)" = 12 ]
}

@test "SIGKILL during uploads, then a pass: each partition in one tier, nothing lost, no stray object, manifest rebuilds equal" {
	make_arch T0 20000
	local round k ms kills=${CHR_KILLS:-8}
	for ((round = 1; round <= (kills + 3) / 4; round++)); do
		rm -rf R
		cp -a T0 R
		bucket kill$round
		printf 'warm W 3d\ns3 s3://kill%s/x 5d %s\n' $round "$EP" >R/chr-tier.conf
		for k in 1 2 3 4; do
			chr-tier --root R --now 2024-01-08 --once 2>>log &
			ms=$((RANDOM % (50 * k * k)))
			sleep "$((ms / 1000)).$(printf %03d $((ms % 1000)))"
			kill -KILL $! 2>/dev/null || true
			wait $! || true
		done
		# as a kill during a multipart upload leaves it: open, not an object
		run -0 curl -s -w '%{http_code}' --aws-sigv4 aws:amz:us-east-1:s3 -u "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" \
			-X POST "http://127.0.0.1:$PORT/kill$round/x/v1/binance/BTCUSDT/2024-01-02/trade/000000000.q.zst?uploads="
		[[ "$output" == *"<UploadId>"*200 ]]
		run -0 --separate-stderr $T chr-tier --root R --now 2024-01-08 --once
		[[ "$stderr" == *"aborted 1 upload below 's3://kill$round/x/', left by a move that died"* ]]
		run -0 curl -sf --aws-sigv4 aws:amz:us-east-1:s3 -u "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" \
			"http://127.0.0.1:$PORT/kill$round?prefix=x%2F&uploads="
		[[ "$output" == *"<ListMultipartUploadsResult"* && "$output" != *"<Upload>"* ]]
		# each partition exactly once over hot, warm and S3
		[ "$(parts R | wc -l)" = 4 ]
		[ "$(parts R/W | wc -l)" = 4 ]
		[ "$(s3parts kill$round x | wc -l)" = 4 ]
		[ "$({ parts R; parts R/W; s3parts kill$round x; } | sort | uniq -d)" = "" ]
		# every object lies in a published partition
		[ "$(keys kill$round x | sed 's,/[^/]*$,,' | sort -u)" = "$(s3parts kill$round x)" ]
		same_records R
		$T chr-tier --root R --dump-manifest >kept
		rm R/manifest.db
		$T chr-tier --root R --rebuild-manifest
		$T chr-tier --root R --dump-manifest >rebuilt
		cmp kept rebuilt
	done
	# kills landed mid-work: some passes moved something before they died
	grep -q 'moved' log
}

# get BUCKET/KEY FILE: the object, signed as the tests' credentials
get() {
	curl -sf --aws-sigv4 aws:amz:us-east-1:s3 -u "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" \
		-o "$2" "http://127.0.0.1:$PORT/$1"
}

@test "Parquet export to a bucket: the tree of --out-dir as objects, the same bytes; a rerun puts nothing that did not change" {
	local f="$DATA/binance-futures_trades_BTCUSDT_2020-02-22_excerpt.csv"
	bucket pqx
	export AWS_ENDPOINT_URL=http://127.0.0.1:$PORT
	(set -o pipefail
	 $T chr-csv2ev "$f" | $T chr-sink --archive A
	 sed 's/BTCUSDT/ETHUSDT/' "$f" | $T chr-csv2ev | $T chr-sink --archive A)
	sel=(--archive A --venue binance-futures --symbol '*' --stream trade --format parquet)
	$T chr-tail "${sel[@]}" --out-dir local
	run -0 --separate-stderr $T chr-tail -v "${sel[@]}" --out-dir s3://pqx/export
	[ "$stderr" = "chr-tail: object storage: 4 requests, 0 bytes fetched" ]	# HEAD, PUT each
	run -0 keys pqx export
	assert_output "type=trades/venue=binance-futures/symbol=BTCUSDT/date=2020-02-22/part-0.parquet
type=trades/venue=binance-futures/symbol=ETHUSDT/date=2020-02-22/part-0.parquet"
	for k in "${lines[@]}"; do
		get "pqx/export/$k" got.parquet
		cmp got.parquet "local/$k"
	done
	[ -z "$(ls "${TMPDIR:-/tmp}" | grep chr-parquet)" ]
	# a rerun finds both the same: a HEAD each, no PUT
	run -0 --separate-stderr $T chr-tail -v "${sel[@]}" --out-dir s3://pqx/export
	[ "$stderr" = "chr-tail: object storage: 2 requests, 0 bytes fetched" ]
	# an object that is not what the archive gives is put again
	k=type=trades/venue=binance-futures/symbol=ETHUSDT/date=2020-02-22/part-0.parquet
	echo damaged >bad
	curl -sf --aws-sigv4 aws:amz:us-east-1:s3 -u "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" \
		-T bad "http://127.0.0.1:$PORT/pqx/export/$k"
	run -0 --separate-stderr $T chr-tail -v "${sel[@]}" --out-dir s3://pqx/export
	[ "$stderr" = "chr-tail: object storage: 3 requests, 0 bytes fetched" ]
	get "pqx/export/$k" got.parquet
	cmp got.parquet "local/$k"
	# no credentials: exit 3, saying so, nothing left behind
	run -3 env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY $T chr-tail "${sel[@]}" --out-dir s3://pqx/export
	assert_output --partial "no credentials for 's3://pqx'"
	[ -z "$(ls "${TMPDIR:-/tmp}" | grep chr-parquet)" ]
}
