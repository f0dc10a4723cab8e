/* chr-feed - exchange messages normalised to chronicle records: live from
 * the exchange, or from a capture (`<receive ns> <JSON>` lines). The
 * normaliser is common/feed.c, the live mode common/feedlive.c. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chr.h"
#include "feed.h"
#include "feedlive.h"
#include "gzin.h"
#include "out.h"
#include "prog.h"

#define READ_SIZE (256u << 10)
#define LINE_MAX_BYTES (64u << 20)
#define BAD_SHOWN 10		/* --skip-bad: lines named, the rest counted */

static const char usage_text[] =
	"usage: chr-feed --venue NAME --symbols S,S... [--ws-url URL] [--rest-url URL]\n"
	"                [--silence MS] [--max-age MS] [--rest-timeout MS]\n"
	"                [--latency [--latency-log FILE]] [--skip-bad]\n"
	"                [--out QUEUE | --format FMT] [-v]\n"
	"       chr-feed --venue NAME --capture [--symbol S] [--skip-bad]\n"
	"                [--out QUEUE | --format FMT] [-v] [FILE...]\n"
	"Normalise exchange messages into chronicle records on stdout, or\n"
	"appended to a queue: live from the exchange's websocket streams and\n"
	"REST snapshots until SIGINT or SIGTERM, or from captures of\n"
	"`<receive ns> <JSON>` lines (plain or gzip; stdin when no FILE or '-').\n"
	"\n";

enum { OPT_VENUE = CHR_O_OWN, OPT_CAPTURE, OPT_SYMBOL, OPT_SKIP_BAD, OPT_WS, OPT_REST,
	OPT_LATENCY, OPT_SILENCE, OPT_MAX_AGE, OPT_SYMBOLS, OPT_LATENCY_LOG, OPT_REST_TIMEOUT };

static const struct chr_opt opts[] = {
	{"venue", required_argument, OPT_VENUE, "NAME",
	 "binance-futures (USD-M), binance-delivery (COIN-M)\nor binance (spot)"},
	/* not the kit's --symbols (a symbol map): the symbols subscribed to */
	{"symbols", required_argument, OPT_SYMBOLS, "S,S...",
	 "live mode: the symbols to subscribe to (letters,\ndigits, '_')"},
	{"ws-url", required_argument, OPT_WS, "URL",
	 "the combined-stream endpoint, without ?streams=\n(default: the venue's)"},
	{"rest-url", required_argument, OPT_REST, "URL",
	 "the REST depth endpoint, without ?symbol=\n(default: the venue's)"},
	{"silence", required_argument, OPT_SILENCE, "MS",
	 "a connection silent this long is dead (default 10000)"},
	{"max-age", required_argument, OPT_MAX_AGE, "MS",
	 "renew a connection this old, overlapping the next\n(default 82800000: 23 h)"},
	{"rest-timeout", required_argument, OPT_REST_TIMEOUT, "MS",
	 "a REST snapshot GET gives up after MS (default 5000)"},
	{"latency", no_argument, OPT_LATENCY, NULL,
	 "live mode: print the frame-to-commit latency's\npercentiles on stderr at the end"},
	{"latency-log", required_argument, OPT_LATENCY_LOG, "FILE",
	 "with --latency: a line per frame to FILE, its number,\nreceive time and last commit (ns)"},
	{"capture", no_argument, OPT_CAPTURE, NULL, "read the FILEs as captures (capture mode)"},
	{"symbol", required_argument, OPT_SYMBOL, "S",
	 "the symbol of the REST snapshot lines (default: their\nown, else the one symbol of the messages before them)"},
	{"skip-bad", no_argument, OPT_SKIP_BAD, NULL,
	 "count, report and skip bad lines or frames instead\nof failing"},
	CHR_OPT_OUT("QUEUE", "append to the queue QUEUE (created if missing)"),
	CHR_OPT_FORMAT,
	CHR_OPT_VERBOSE("counts of messages and records on stderr at the end"),
	CHR_OPT_END,
};

static struct chr_out out;
static struct chr_feed *feed;

static struct chr_rec *sink_reserve(void *arg, uint32_t len, struct chr_err *e)
{
	return chr_out_reserve(arg, len, e);
}

static int sink_commit(void *arg, struct chr_rec *rec, struct chr_err *e)
{
	return chr_out_commit(arg, rec, e);
}

/* What the lines before a failure made goes out, then the message. */
static _Noreturn void fail(const struct chr_err *e)
{
	struct chr_err e2;

	if (out.err == 0 && chr_out_flush(&out, &e2) < 0)
		chr_out_failed(&out, &e2);
	chr_die_err(e);
}

static uint64_t lines, bad;	/* lines (frames) with a message; bad ones skipped */
static const char *what = "lines";

/* One line (without its '\n') of file name, line number ln. */
static void line(const char *name, uint64_t ln, char *p, size_t n)
{
	struct chr_err e;
	int rc = chr_feed_line(feed, p, n, &e);

	if (rc == 2)
		return;		/* a blank line holds no message */
	lines++;
	if (rc == 0)
		return;
	if (rc < 0 && e.status != CHR_EX_DATA)
		chr_out_failed(&out, &e);	/* the output's error, or memory */
	if (rc < 0) {
		struct chr_err e2;

		chr_err_set(&e2, CHR_EX_DATA, "%s:%llu: %s", name, (unsigned long long)ln, e.msg);
		fail(&e2);
	}
	if (++bad <= BAD_SHOWN)
		chr_warn("%s:%llu: %s (skipped)", name, (unsigned long long)ln, e.msg);
}

/* Every line of the capture at path; 0, or -1 when it cannot be opened. */
static int capture(const char *path, char **buf, size_t *cap)
{
	struct chr_gzin g;
	struct chr_err e;
	size_t have = 0, lo;
	uint64_t ln = 0;
	ssize_t k;
	char *nl;

	if (chr_gzin_open(&g, path) < 0) {
		chr_warn("%s", g.err);
		return -1;
	}
	for (;;) {
		if (*cap - have < READ_SIZE) {
			char *nb;

			if (*cap >= LINE_MAX_BYTES) {
				chr_err_set(&e, CHR_EX_DATA, "%s:%llu: a line longer than %u bytes",
					    g.name, (unsigned long long)ln + 1, LINE_MAX_BYTES);
				fail(&e);
			}
			if ((nb = realloc(*buf, *cap * 2)) == NULL)
				chr_die(CHR_EX_SYS, "out of memory");
			*buf = nb;
			*cap *= 2;
		}
		/* a pipe may keep us waiting: what is made goes out first */
		if (g.size == 0 && chr_out_flush(&out, &e) < 0)
			chr_out_failed(&out, &e);
		if ((k = chr_gzin_read(&g, *buf + have, READ_SIZE)) < 0) {
			chr_err_set(&e, g.status, "%s", g.err);
			fail(&e);
		}
		have += (size_t)k;
		for (lo = 0; (nl = memchr(*buf + lo, '\n', have - lo)) != NULL; lo = (size_t)(nl - *buf) + 1)
			line(g.name, ++ln, *buf + lo, (size_t)(nl - *buf) - lo);
		if (k == 0) {
			if (lo < have)
				line(g.name, ++ln, *buf + lo, have - lo);
			break;
		}
		memmove(*buf, *buf + lo, have - lo);
		have -= lo;
	}
	chr_gzin_close(&g);
	return 0;
}

static void note(void *ctx, const char *msg)
{
	(void)ctx;
	if (!chr_quiet)
		chr_warn("%s", msg);
}

static int flush(void *ctx, struct chr_err *e)
{
	return chr_out_flush(ctx, e);
}

/* Live mode until a signal; the counts of the transport with -v. */
static struct chr_feedlive *live(const char *venue, struct chr_feed_opts *fo,
				 struct chr_feedlive_opts *lo)
{
	struct chr_feedlive_stats st;
	struct chr_feedlive *l;
	struct chr_err e;
	static char msg[65536];	/* the URL names every stream */

	lo->note = note;
	lo->flush = flush;
	lo->flush_ctx = &out;
	if ((l = chr_feedlive_new(venue, fo, lo, &e)) == NULL) {
		if (e.status == CHR_EX_USAGE)
			chr_usage_error("%s", e.msg);
		chr_die_err(&e);
	}
	feed = chr_feedlive_feed(l);
	if (chr_verbose)
		chr_warn("streams '%s', snapshots '%s?symbol=S&limit=1000'", chr_feedlive_url(l),
			 chr_feedlive_rest_url(l));
	chr_stop_on_signals(0);
	if (chr_feedlive_run(l, &chr_stop, &e) < 0) {
		if (e.status != CHR_EX_DATA)
			chr_out_failed(&out, &e);
		fail(&e);
	}
	chr_feedlive_stats(l, &st);
	lines = st.frames;
	bad = st.bad;
	for (int i = 0; i < 4; i++)
		if (chr_feedlive_summary(l, i, chr_verbose, msg, sizeof msg))
			chr_warn("%s", msg);
	what = "frames";
	return l;
}

/* counts on stderr: with -v all, else what must not pass unseen */
static void report(void)
{
	const struct chr_feed_stats *st = chr_feed_stats(feed);
	uint64_t pend = chr_feed_pending(feed);

	if (chr_verbose)
		chr_warn("%llu %s: %llu records (%llu snapshots, %llu diffs, %llu trades, "
			 "%llu quotes, %llu GAPs); %llu diffs held for a snapshot, %llu older than "
			 "theirs dropped; %llu snapshots of a book in sync not needed; %llu unknown, "
			 "%llu bad",
			 (unsigned long long)lines, what, (unsigned long long)st->records,
			 (unsigned long long)st->snapshots, (unsigned long long)st->diffs,
			 (unsigned long long)st->trades, (unsigned long long)st->quotes,
			 (unsigned long long)st->gaps, (unsigned long long)st->buffered,
			 (unsigned long long)st->stale, (unsigned long long)st->snap_ignored,
			 (unsigned long long)st->unknown, (unsigned long long)bad);
	if (st->unknown > 0)
		chr_warn("%llu messages of streams or events it does not know were not "
			 "normalised (the first: '%s')", (unsigned long long)st->unknown,
			 st->unknown_first);
	if (pend + st->dropped > 0)
		chr_warn("%llu diffs were not written: %llu still waiting for a snapshot at the "
			 "end, %llu dropped from a full buffer or at a lost connection", (unsigned long long)(pend + st->dropped),
			 (unsigned long long)pend, (unsigned long long)st->dropped);
	if (bad > 0)
		chr_warn("skipped %llu bad %s of %llu%s", (unsigned long long)bad, what,
			 (unsigned long long)lines, bad > BAD_SHOWN ? " (only the first ones are shown)" : "");
}

int main(int argc, char **argv)
{
	const char *venue = NULL, *queue = NULL, *stdin_only[] = { "-" }, **files;
	struct chr_feed_opts fo = { 0 };
	struct chr_feedlive_opts lo = { 0 };
	struct chr_feedlive *l = NULL;
	const char *syms[256];
	char *list = NULL, *tok, *sp;
	enum chr_out_kind kind = CHR_OUT_AUTO;
	int c, nfiles, status = CHR_EX_OK, cap_mode = 0;
	size_t cap = 1u << 20;
	char *buf;
	struct chr_err e;

	chr_prog_start(argv, usage_text, opts);
	while ((c = chr_getopt(argc, argv)) != -1) {
		switch (c) {
		case OPT_VENUE:
			venue = optarg;
			break;
		case OPT_CAPTURE:
			cap_mode = 1;
			break;
		case OPT_SYMBOL:
			chr_opt_name("--symbol", optarg);
			fo.symbol = optarg;
			break;
		case OPT_SYMBOLS:
			list = optarg;
			break;
		case OPT_WS:
			lo.ws_url = optarg;
			break;
		case OPT_REST:
			lo.rest_url = optarg;
			break;
		case OPT_SILENCE:
			lo.silence_ns = (int64_t)chr_opt_count("--silence", optarg) * 1000000;
			break;
		case OPT_MAX_AGE:
			lo.max_age_ns = (int64_t)chr_opt_count("--max-age", optarg) * 1000000;
			break;
		case OPT_REST_TIMEOUT:
			lo.rest_timeout_ms = (long)chr_opt_count("--rest-timeout", optarg);
			break;
		case OPT_LATENCY:
			lo.latency = 1;
			break;
		case OPT_LATENCY_LOG:
			if ((lo.latency_log = fopen(optarg, "w")) == NULL)
				chr_die(CHR_EX_SYS, "%s: %s", optarg, strerror(errno));
			lo.latency = 1;
			break;
		case OPT_SKIP_BAD:
			fo.skip_bad = 1;
			break;
		case 'o':
			queue = optarg;
			break;
		case CHR_O_FORMAT:
			if (chr_out_parse(optarg, &kind, &e) < 0)
				chr_usage_error("%s", e.msg);
			break;
		}
	}
	if (venue == NULL)
		chr_usage_error("--venue is required (binance-futures, binance-delivery, binance)");
	if (cap_mode == (list != NULL))
		chr_usage_error(cap_mode ? "--symbols is for the live mode, --capture reads files"
				: "no input: --symbols S,S... (live mode) or --capture [FILE...]");
	if (!cap_mode && (optind < argc || fo.symbol))
		chr_usage_error("the live mode reads no FILE and takes --symbols, not --symbol");
	if (cap_mode && (lo.ws_url || lo.rest_url || lo.latency || lo.silence_ns || lo.max_age_ns ||
			 lo.rest_timeout_ms))
		chr_usage_error("--ws-url, --rest-url, --silence, --max-age, --rest-timeout, "
				"--latency: live mode only");
	for (sp = list; (tok = sp ? strsep(&sp, ",") : NULL) != NULL;) {
		if (chr_feedlive_symbol(tok, &e) < 0)
			chr_usage_error("--symbols: %s", e.msg);
		if (lo.nsym == sizeof syms / sizeof syms[0])
			chr_usage_error("--symbols: more than %zu symbols", lo.nsym);
		syms[lo.nsym++] = tok;
	}
	lo.symbols = syms;
	if (queue && kind != CHR_OUT_AUTO && kind != CHR_OUT_BINARY)
		chr_usage_error("--out takes binary records: --format %s is for standard output",
				kind == CHR_OUT_TEXT ? "text" : kind == CHR_OUT_JSON ? "json" :
				kind == CHR_OUT_CSV ? "csv" : kind == CHR_OUT_ARROW ? "arrow" :
				"parquet");
	fo.sink = (struct chr_feed_sink){ sink_reserve, sink_commit, &out };
	if (cap_mode && (feed = chr_feed_new(venue, &fo, &e)) == NULL) {
		if (e.status == CHR_EX_USAGE)
			chr_usage_error("--venue: %s", e.msg);
		chr_die_err(&e);
	}
	if (chr_out_check(&kind, queue, &e) < 0)
		chr_die_err(&e);
	if (chr_out_open(&out, kind, queue, &e) < 0)
		chr_die_err(&e);
	if (!cap_mode)
		l = live(venue, &fo, &lo);
	nfiles = cap_mode ? argc - optind : 0;
	files = (const char **)argv + optind;
	if (nfiles == 0 && cap_mode) {
		files = stdin_only;
		nfiles = 1;
	}
	if ((buf = malloc(cap)) == NULL)
		chr_die(CHR_EX_SYS, "out of memory");
	for (int i = 0; i < nfiles; i++)
		if (capture(files[i], &buf, &cap) < 0)
			status = CHR_EX_SYS;
	free(buf);
	if (chr_out_close(&out, &e) < 0)
		chr_out_failed(&out, &e);
	report();
	if (lo.latency_log && fclose(lo.latency_log) != 0)
		chr_die(CHR_EX_SYS, "--latency-log: %s", strerror(errno));
	if (l)
		chr_feedlive_free(l);
	else
		chr_feed_free(feed);
	return status;
}
