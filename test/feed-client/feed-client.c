/* feed-client - the live transport (wsfeed.h, rest.h) alone, for the
 * tests: each message as a capture line "<receive ns> <message>", each
 * event as a line "# EVENT ...", on stdout; or one REST GET's body. */
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "num.h"
#include "rest.h"
#include "wsfeed.h"

static const char usage[] =
	"usage: feed-client [--silence ms] [--max-age ms] [--overlap ms]\n"
	"                   [--backoff ms,ms] [--max-attempts n] [--count n]\n"
	"                   [--ca file] ws://URL | wss://URL\n"
	"       feed-client --get [--timeout ms] [--ca file] http://URL | https://URL\n";

static volatile sig_atomic_t stop;
static uint64_t count = UINT64_MAX, got;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static int on_msg(void *ctx, int64_t ns, const char *data, size_t len)
{
	(void)ctx;
	printf("%" PRId64 " %.*s\n", ns, (int)len, data);
	return ++got >= count;	/* stop after --count */
}

static int on_event(void *ctx, const struct chr_ws_info *in)
{
	(void)ctx;
	switch (in->ev) {
	case CHR_WS_UP:
		printf("# UP conn %" PRIu64 "\n", in->conn);
		break;
	case CHR_WS_DOWN:
		printf("# DOWN conn %" PRIu64 ": %s\n", in->conn, in->why);
		break;
	case CHR_WS_RETRY:
		printf("# RETRY conn %" PRIu64 " attempt %u in %" PRId64 " ms: %s\n", in->conn,
		       in->attempt, in->retry_ns / 1000000, in->why);
		break;
	case CHR_WS_RENEWED:
		if (in->seamless)
			printf("# RENEWED conn %" PRIu64 " seamless\n", in->conn);
		else
			printf("# RENEWED conn %" PRIu64 " not seamless: %s\n", in->conn, in->why);
		break;
	}
	fflush(stdout);
	return 0;
}

static int64_t ms(const char *opt, const char *s)
{
	uint64_t v;

	if (chr_parse_u64(s, &v) < 0 || v > INT64_MAX / 1000000) {
		fprintf(stderr, "feed-client: %s '%s' is not a count of ms\n%s", opt, s, usage);
		exit(2);
	}
	return (int64_t)v * 1000000;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{"silence", 1, 0, 's'}, {"max-age", 1, 0, 'a'}, {"overlap", 1, 0, 'o'},
		{"backoff", 1, 0, 'b'}, {"max-attempts", 1, 0, 'n'}, {"count", 1, 0, 'c'},
		{"get", 0, 0, 'g'}, {"timeout", 1, 0, 't'}, {"ca", 1, 0, 'C'}, {"help", 0, 0, 'h'},
		{0, 0, 0, 0},
	};
	struct chr_ws_opts o = {0};
	struct chr_ws_cb cb = { .msg = on_msg, .event = on_event };
	struct chr_ws_stats st;
	struct chr_err e;
	struct sigaction sa = { .sa_handler = on_signal };
	int c, get = 0, k = 0;
	long timeout = 5000;
	char *comma;

	chr_setprog(argv[0]);
	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (c) {
		case 's': o.silence_ns = ms("--silence", optarg); break;
		case 'a': o.max_age_ns = ms("--max-age", optarg); break;
		case 'o': o.overlap_ns = ms("--overlap", optarg); break;
		case 'b':
			if (!(comma = strchr(optarg, ',')))
				goto misuse;
			*comma = 0;
			o.backoff_min_ns = ms("--backoff", optarg);
			o.backoff_max_ns = ms("--backoff", comma + 1);
			break;
		case 'n': o.max_attempts = (unsigned)(ms("--max-attempts", optarg) / 1000000); break;
		case 'c': count = (uint64_t)(ms("--count", optarg) / 1000000); break;
		case 'g': get = 1; break;
		case 'C': o.ca_file = optarg; break;
		case 't': timeout = (long)(ms("--timeout", optarg) / 1000000); break;
		case 'h': fputs(usage, stdout); return 0;
		default: goto misuse;
		}
	}
	if (optind != argc - 1)
		goto misuse;
	if (get) {
		struct chr_rest *r = chr_rest_open(o.ca_file, &e);
		struct chr_rest_reply rep;

		if (!r || chr_rest_get(r, argv[optind], timeout, &rep, &e) < 0)
			chr_die_err(&e);
		printf("%" PRId64 " %.*s\n", rep.recv_ns, (int)rep.len, rep.body);
		chr_rest_close(r);
		return 0;
	}
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	o.url = argv[optind];
	struct chr_ws *w = chr_ws_open(&o, &cb, &e);
	if (!w)
		chr_die_err(&e);
	while (!stop && (k = chr_ws_run(w, 1000, &e)) == 0)
		;
	chr_ws_stats(w, &st);
	chr_ws_close(w);
	fflush(stdout);
	fprintf(stderr, "feed-client: %" PRIu64 " messages, %" PRIu64 " connections, %" PRIu64
		" lost, %" PRIu64 " renewed (%" PRIu64 " seamless)\n", st.msgs, st.conns, st.downs,
		st.renewals, st.seamless);
	if (k < 0)
		chr_die_err(&e);
	return 0;
misuse:
	fputs(usage, stderr);
	return 2;
}
