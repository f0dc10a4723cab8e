#!/usr/bin/env bats
# What a program loads when it starts: libcurl and libcrypto only when an
# S3 or REST request needs them (common/netlib.c), so that the programs
# that read the archive do not pay for loading them at every start; without
# libcurl, the archive reads and an S3 request is a clear error.

load test_helper

# masked CMD...: CMD with libcurl.so.4 unloadable (/dev/null bound over it
# in a mount namespace of its own)
masked() {
	local lib
	lib=$(readlink -f "$(ldconfig -p | awk '$1 == "libcurl.so.4" { print $NF; exit }')")
	[ -f "$lib" ] || return 99
	unshare -m --propagation private sh -c 'mount --bind /dev/null "$1" && shift && exec "$@"' \
		sh "$lib" "$@"
}

@test "no program links libcurl; only chr-feed (libwebsockets) loads libcrypto" {
	local d n
	for d in "$BUILD"/bin/chr-*/; do
		n=$(basename "$d")
		run -0 ldd "$d$n"
		refute_output --partial libcurl
		[[ $n == chr-feed ]] || refute_output --regexp 'lib(crypto|ssl|gnutls)\.'
	done
}

@test "without libcurl: the archive reads, and an S3 tier says libcurl cannot be loaded" {
	[ "$(id -u)" = 0 ] && unshare -m true 2>/dev/null ||
		skip "needs root and unshare -m (a mount namespace of its own)"
	make_arch R
	masked $T chr-tail --archive R --venue binance --symbol BTCUSDT --stream trade >now.q
	cmp orig-BTCUSDT.q now.q
	run -0 masked $T chr-book --at 2024-01-01T12:00:00Z now.q
	# an S3 tier: no server is needed, the request stops before connecting
	printf 's3 s3://b/p 5d endpoint=http://127.0.0.1:9 region=us-east-1\n' >R/chr-tier.conf
	export AWS_ACCESS_KEY_ID=AKIATESTKEY AWS_SECRET_ACCESS_KEY=Sup3rSecretTestValue \
		AWS_SHARED_CREDENTIALS_FILE=/nonexistent AWS_CONFIG_FILE=/nonexistent
	unset AWS_PROFILE AWS_SESSION_TOKEN
	run -3 --separate-stderr masked $T chr-tier --root R --now 2024-01-08 --once
	[[ "$stderr" == *"chr-tier: cannot read tier s3 ('s3://b/p'): cannot load libcurl: "*libcurl.so.4* ]]
	# and with it, the same request gets as far as the network
	run -3 --separate-stderr $T chr-tier --root R --now 2024-01-08 --once
	[[ "$stderr" != *"cannot load"* ]]
}
