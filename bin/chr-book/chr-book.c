/* chr-book - rebuild the L2 book of every market in a stream. Pass the
 * records on, with a GAP record where a book cannot be trusted; or print
 * the books as of a time, the top of book after every event, or the best
 * levels on a time grid. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bookview.h"
#include "chr.h"
#include "fmt.h"
#include "merge.h"
#include "num.h"
#include "out.h"
#include "prog.h"

static const char usage_text[] =
	"usage: chr-book [--snapshots d] [options] [file | dir | queue | -]...\n"
	"       chr-book --at when [--depth n] [--stale d] [options] [input...]\n"
	"       chr-book --at when --archive root --venue venue --symbol symbol...\n"
	"                [--depth n] [--stale d] [options]\n"
	"       chr-book --bbo [options] [input...]\n"
	"       chr-book --every duration [--depth n] [options] [input...]\n"
	"\n"
	"options: [--format binary|text|json|csv|parquet|arrow] [-q | --quiet]\n"
	"         [-h | --help] [-V | --version]\n"
	"\n"
	"  several inputs are merged by ts (ties in argument order); with no mode,\n"
	"  the records are passed on, with a GAP record before a diff that the book\n"
	"  cannot take (update id gap, no snapshot); --archive reads from each\n"
	"  book's last snapshot at or before the time, as chr-tail --from-snapshot\n"
	"\n";

enum {
	OPT_AT = CHR_O_OWN, OPT_BBO, OPT_EVERY, OPT_DEPTH, OPT_STALE, OPT_SNAPSHOTS, OPT_ARCHIVE,
	OPT_VENUE, OPT_SYMBOL
};

static const struct chr_opt opts[] = {
	{"at", required_argument, OPT_AT, "when",
	 "write every book as of that time (the records with\nts <= when) as a snapshot, and stop"},
	{"bbo", no_argument, OPT_BBO, NULL,
	 "write a QUOTE after every event that changed the\n"
	 "best bid or ask of a book (csv: Tardis quotes rows)"},
	{"every", required_argument, OPT_EVERY, "d",
	 "write the best n levels of every book at each\n"
	 "multiple of d (1s, 500ms, 1m, ...) as BOOK_TOPN\n(csv: Tardis book_snapshot_n rows)"},
	{"depth", required_argument, OPT_DEPTH, "n",
	 "levels a side for --at and --every (default 10;\n0: all, --at only)"},
	{"snapshots", required_argument, OPT_SNAPSHOTS, "d",
	 "passing records on: a full snapshot of a book before\n"
	 "its first record in each new interval of d of event\n"
	 "time and each UTC day, as chr-snapinject --interval d"},
	{"stale", required_argument, OPT_STALE, "d",
	 "--at: a book whose last record is more than d\n"
	 "before the time is stale: a warning, and marked in\n"
	 "text and JSON (default 1m)"},
	{"archive", required_argument, OPT_ARCHIVE, "root",
	 "--at: read the book stream of --venue and --symbol\n"
	 "in the archive, from the last snapshot at or before\n"
	 "the time (no input arguments)"},
	{"venue", required_argument, OPT_VENUE, "venue", "--archive: the venue"},
	{"symbol", required_argument, OPT_SYMBOL, "symbol",
	 "--archive: the symbol, or a glob (BTC*) of them;\nrepeatable"},
	CHR_OPT_FORMAT,
	CHR_OPT_QUIET("no warnings (GAP records are written all the same)"),
	CHR_OPT_END,
};


__attribute__((format(printf, 2, 3)))
static void mkt_warn(struct chr_mkt *m, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	int due;

	if (chr_quiet || !(due = chr_books_warn_due(m)))
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	chr_warn("%s: %s%s", m->name, msg,
		 due == 2 ? " (further warnings for this book are only counted)" : "");
}

/* What applying rec to the book of m found (chr_bookview_rec's bits). */
static void warn_book(struct chr_mkt *m, const struct chr_rec *rec, int bits)
{
	const struct chr_book *bk = chr_rec_payload(rec);

	if (bits & CHR_L2_GAP)
		mkt_warn(m, "seq %" PRIu64 ": update id gap: the book is at %" PRIu64
			 ", the diff follows %" PRIu64 " (ids %" PRIu64 "..%" PRIu64
			 "): unknown until the next snapshot", rec->seq, m->before,
			 bk->update_id_prev, bk->update_id_first, bk->update_id_last);
	if (bits & CHR_L2_NOSNAP)
		mkt_warn(m, "seq %" PRIu64 ": a diff before any snapshot: ignored until "
			 "the first snapshot", rec->seq);
	if (bits & CHR_L2_IGNORED)
		mkt_warn(m, "seq %" PRIu64 ": levels without a price or size, or with a negative "
			 "size, were left out", rec->seq);
	if (bits & CHR_L2_CROSSED)
		mkt_warn(m, "seq %" PRIu64 ": the book crossed; the levels this record crossed "
			 "were removed", rec->seq);
}

/* The end after a failure (k: -2 the output's, -1 e's): what came before
 * it is good, so it goes out first. */
static _Noreturn void fail(struct chr_out *out, long k, const struct chr_err *e)
{
	struct chr_err we;

	if (k == -2)
		chr_out_failed(out, e);
	if (chr_out_flush(out, &we) < 0)
		chr_out_failed(out, &we);
	chr_die_err(e);
}

/* --at: say which books are not known or stale at the time, and when there
 * is no book at all, why (next_ts: the first record after it, INT64_MAX
 * when the input ended first). What a book's warning says depends on the
 * records up to the time only, as the book does. */
static void warn_at(const struct chr_bookview *v, int64_t next_ts)
{
	char t[CHR_TIME_BUF], d[CHR_TIME_BUF];

	chr_time_format(t, v->at);
	if (v->books.tab.n == 0) {
		if (next_ts == INT64_MAX)
			chr_warn("no book at %s: the input holds no book record", t);
		else
			chr_warn("no book at %s: it is %s before the first record", t,
				 (chr_duration_format(d, next_ts - v->at), d));
	}
	for (size_t i = 0; i < v->books.tab.n; i++) {
		const struct chr_bv_mkt *m = (const struct chr_bv_mkt *)chr_books_at(&v->books, i);

		if (!chr_l2_known(m->m.b))
			chr_warn("%s: the book is not known at that time (no snapshot since the "
				 "start or the last gap)", m->m.name);
		else if (chr_bookview_stale(v, m))
			chr_warn("%s: the book at %s is stale: %s after its last record",
				 m->m.name, t, (chr_duration_format(d, v->at - m->last_ts), d));
	}
}

static const char *plural(uint64_t n)
{
	return n == 1 ? "" : "s";
}

int main(int argc, char **argv)
{
	enum chr_bv_mode mode = CHR_BV_PASS;
	enum chr_out_kind format = CHR_OUT_AUTO;
	struct chr_bookview v;
	struct chr_merge in;
	struct chr_select sel;
	const char *archive = NULL, *venue = NULL, **syms = calloc((size_t)argc, sizeof *syms);
	size_t nsym = 0;
	struct chr_out out;
	struct chr_err e;
	const struct chr_rec *rec;
	int64_t at = 0, every = 0, depth = -1, stale = -1, next_ts = INT64_MAX, snapshots = 0;
	uint64_t d;
	char sh[256];
	int c, k;
	long unknown;

	chr_prog_start(argv, usage_text, opts);
	if (!syms)
		chr_die(CHR_EX_SYS, "out of memory");
	while ((c = chr_getopt(argc, argv)) != -1) {
		switch (c) {
		case CHR_O_FORMAT:
			if (chr_out_parse(optarg, &format, &e) < 0)
				chr_usage_error("%s", e.msg);
			break;
		case OPT_AT:
		case OPT_BBO:
		case OPT_EVERY:
			if (mode != CHR_BV_PASS)
				chr_usage_error("--at, --bbo and --every exclude each other");
			if (c == OPT_AT) {
				mode = CHR_BV_AT;
				chr_opt_time("--at", optarg, &at, NULL);
			} else if (c == OPT_EVERY) {
				mode = CHR_BV_GRID;
				if (chr_duration_parse(optarg, &every) < 0 || every <= 0)
					chr_usage_error("--every '%s' is not a duration",
							CHR_SHOWN(sh, optarg));
			} else {
				mode = CHR_BV_BBO;
			}
			break;
		case OPT_ARCHIVE:
			archive = optarg;
			break;
		case OPT_VENUE:
			chr_opt_name("--venue", venue = optarg);
			break;
		case OPT_SYMBOL:
			chr_opt_name("--symbol", syms[nsym++] = optarg);
			break;
		case OPT_SNAPSHOTS:
			if (chr_duration_parse(optarg, &snapshots) < 0 || snapshots <= 0)
				chr_usage_error("--snapshots '%s' is not a duration above 0",
						CHR_SHOWN(sh, optarg));
			break;
		case OPT_STALE:
			if (chr_duration_parse(optarg, &stale) < 0)
				chr_usage_error("--stale '%s' is not a duration", CHR_SHOWN(sh, optarg));
			break;
		case OPT_DEPTH:
			if (chr_parse_range(optarg, 0, 100000, &d) < 0)
				chr_usage_error("--depth '%s' is not a count up to 100000",
						CHR_SHOWN(sh, optarg));
			depth = (int64_t)d;
			break;
		}
	}
	if (archive && (mode != CHR_BV_AT || !venue || !nsym))
		chr_usage_error("--archive needs --at, --venue and --symbol");
	if (archive && optind < argc)
		chr_usage_error("--archive reads no input arguments");
	if (!archive && (venue || nsym))
		chr_usage_error("--venue and --symbol need --archive");
	if (stale >= 0 && mode != CHR_BV_AT)
		chr_usage_error("--stale goes with --at");
	if (snapshots && mode != CHR_BV_PASS)
		chr_usage_error("--snapshots is for records passed on, not --at, --bbo or --every");
	if (depth >= 0 && mode != CHR_BV_AT && mode != CHR_BV_GRID)
		chr_usage_error("--depth goes with --at or --every");
	if (depth < 0)
		depth = 10;
	if (mode == CHR_BV_GRID && depth == 0)
		chr_usage_error("--every needs a --depth of at least 1");
	if (format == CHR_OUT_CSV && mode == CHR_BV_PASS)
		chr_usage_error("--format csv writes the views: --at, --bbo or --every");
	if (format == CHR_OUT_CSV && mode == CHR_BV_AT && depth == 0)
		chr_usage_error("--format csv writes book_snapshot_N rows: --at needs a --depth "
				"of at least 1");
	if (chr_out_open(&out, format, NULL, &e) < 0)
		chr_die_err(&e);
	out.fmt.levels = mode == CHR_BV_AT ? (unsigned)depth : CHR_FMT_LEVELS;
	chr_select_init(&sel);
	sel.ts_from = at;
	if ((archive ? chr_merge_open_snapshot(&in, archive, venue, syms, nsym, &sel, &e)
		     : chr_merge_open(&in, argv + optind, (size_t)(argc - optind), NULL, &e)) < 0)
		chr_die_err(&e);
	chr_bookview_init(&v, mode, at, every, (size_t)depth, &out);
	if (stale >= 0)
		v.stale_after = stale;
	v.snapshots = snapshots;

	for (;;) {
		if (chr_merge_may_block(&in) && chr_out_flush(&out, &e) < 0)
			chr_out_failed(&out, &e);
		k = chr_merge_next(&in, &rec);
		if (k == 2) {
			chr_merge_wait(&in);
			continue;
		}
		if (k < 0) {
			e = in.s[in.failed].e;
			fail(&out, -1, &e);
		}
		if (k == 0)
			break;
		if (mode == CHR_BV_AT && rec->ts > at) {
			next_ts = rec->ts;
			break;
		}
		if ((k = chr_bookview_rec(&v, rec, &e)) < 0)
			fail(&out, k, &e);
		if (k)
			warn_book(&v.m->m, rec, k);
	}
	if ((unknown = chr_bookview_end(&v, &e)) < 0)
		fail(&out, unknown, &e);
	if (mode == CHR_BV_AT && !chr_quiet)
		warn_at(&v, next_ts);
	if (!chr_quiet && (v.n_gap || v.n_nosnap || v.n_crossed || v.n_ignored))
		chr_warn("%" PRIu64 " update id gap%s, %" PRIu64 " diff%s without a snapshot, %"
			 PRIu64 " crossed book%s, %" PRIu64 " stale diff%s, %" PRIu64
			 " record%s with levels left out", v.n_gap, plural(v.n_gap), v.n_nosnap,
			 plural(v.n_nosnap), v.n_crossed, plural(v.n_crossed), v.n_stale,
			 plural(v.n_stale), v.n_ignored, plural(v.n_ignored));
	if (chr_out_close(&out, &e) < 0)
		chr_out_failed(&out, &e);
	chr_merge_free(&in);
	chr_bookview_free(&v);
	free(syms);
	return CHR_EX_OK;
}
