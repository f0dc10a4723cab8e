/* chr-book - rebuild the L2 book of every market in a stream. Pass the
 * records on, with a GAP record where a book cannot be trusted; or print
 * the books as of a time, the top of book after every event, or the best
 * levels on a time grid. */
#include <errno.h>
#include <stdarg.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "book.h"
#include "chr.h"
#include "fmt.h"
#include "map.h"
#include "merge.h"
#include "tardis.h"

static const char usage_text[] =
	"usage: chr-book [options] [file | dir | queue | -]...\n"
	"       chr-book --at when [--depth n] [options] [input...]\n"
	"       chr-book --bbo [options] [input...]\n"
	"       chr-book --every duration [--depth n] [options] [input...]\n"
	"\n"
	"options: [--format binary|text|json|csv] [-q | --quiet]\n"
	"         [-h | --help] [--version]\n"
	"\n"
	"  several inputs are merged by ts (ties in argument order)\n"
	"  (no mode)        pass the records on, with a GAP record before a diff\n"
	"                   that the book cannot take (update id gap, no snapshot)\n"
	"  --at when        write every book as of that time (the records with\n"
	"                   ts <= when) as a snapshot, and stop\n"
	"  --bbo            write a QUOTE after every event that changed the\n"
	"                   best bid or ask of a book (csv: Tardis quotes rows)\n"
	"  --every d        write the best n levels of every book at each\n"
	"                   multiple of d (1s, 500ms, 1m, ...) as BOOK_TOPN\n"
	"                   (csv: Tardis book_snapshot_n rows)\n"
	"  --depth n        levels a side for --at and --every (default 10;\n"
	"                   0: all, --at only)\n"
	"  --format fmt     binary records (the default when stdout is not a\n"
	"                   terminal), text (on a terminal), json, csv\n"
	"  -q, --quiet      no warnings (GAP records are written all the same)\n";

enum fmt { FMT_AUTO, FMT_BINARY, FMT_TEXT, FMT_JSON, FMT_CSV };
enum mode { MODE_PASS, MODE_AT, MODE_BBO, MODE_GRID };

enum { OPT_VERSION = 256, OPT_FORMAT, OPT_AT, OPT_BBO, OPT_EVERY, OPT_DEPTH };

static const struct option longopts[] = {
	{"help", no_argument, NULL, 'h'},
	{"version", no_argument, NULL, OPT_VERSION},
	{"format", required_argument, NULL, OPT_FORMAT},
	{"at", required_argument, NULL, OPT_AT},
	{"bbo", no_argument, NULL, OPT_BBO},
	{"every", required_argument, NULL, OPT_EVERY},
	{"depth", required_argument, NULL, OPT_DEPTH},
	{"quiet", no_argument, NULL, 'q'},
	{NULL, 0, NULL, 0},
};

#define SHOWN(buf, s) chr_fmt_shown(buf, sizeof buf, s)
#define DEF_SPAN 192		/* span of a DEFINE record */
#define WARN_MAX 10		/* warnings per book before they are only counted */

/* ---- the markets ---------------------------------------------------------- */

struct mkt {
	_Alignas(64) unsigned char def[DEF_SPAN];	/* its DEFINE record */
	int have_def, def_out;	/* def holds one; it went out (binary) */
	struct chr_l2 *b;
	uint16_t venue;
	uint32_t market;
	char name[CHR_VENUE_MAX + CHR_SYMBOL_MAX + 24];	/* for messages */
	int gap_out;		/* a GAP went out for the book being unknown */
	int open;		/* --bbo: an event without its LAST record yet */
	const struct chr_rec *last;	/* --bbo: a copy of the event's last record */
	_Alignas(64) unsigned char last_buf[CHR_HDR_SIZE];
	int have_q;		/* --bbo: q went out */
	struct chr_quote q;
	int64_t ts_event;	/* of the last record applied */
	unsigned warned;
};

static struct chr_tab mkts;	/* of struct mkt */
#define MKT(i) ((struct mkt *)mkts.v[i])

static void name_set(struct mkt *m)
{
	char venue[CHR_VENUE_MAX + 1], symbol[CHR_SYMBOL_MAX + 1];

	if (m->have_def && !chr_define_names(chr_rec_payload((const struct chr_rec *)m->def),
					     venue, symbol))
		snprintf(m->name, sizeof m->name, "%s %s", venue, symbol);
	else
		snprintf(m->name, sizeof m->name, "venue %u market %" PRIu32, m->venue, m->market);
}

static struct mkt *mkt_of(const struct chr_rec *r)
{
	int fresh;
	struct mkt *m = chr_tab_get(&mkts, r->venue, r->market, &fresh);

	if (m && fresh) {
		m->venue = r->venue;
		m->market = r->market;
		name_set(m);
		m->b = chr_l2_new();
	}
	if (!m || !m->b)
		chr_die(CHR_EX_SYS, "out of memory");
	return m;
}

static int quiet;

__attribute__((format(printf, 2, 3)))
static void mkt_warn(struct mkt *m, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (quiet || ++m->warned > WARN_MAX)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	chr_warn("%s: %s%s", m->name, msg,
		 m->warned == WARN_MAX ? " (further warnings for this book are only counted)" : "");
}

/* ---- output --------------------------------------------------------------- */

static enum fmt format = FMT_AUTO;
static struct chr_writer w;
static struct chr_fmt text;
static struct chr_tardis_out csv;
static uint64_t out_seq;	/* seq of the next record we make (--at, --bbo, --every) */

static void write_failed(int err)
{
	if (err == EPIPE)
		exit(CHR_EX_OK);
	chr_die(CHR_EX_SYS, "cannot write to standard output: %s", strerror(err));
}

/* Write rec in the output format. */
static void out_rec(const struct chr_rec *rec)
{
	switch (format) {
	case FMT_BINARY:
		if (chr_writer_put(&w, rec) < 0)
			write_failed(w.err);
		break;
	case FMT_CSV:
		errno = 0;
		if (chr_tardis_write(&csv, rec, stdout) == -1)
			write_failed(errno ? errno : ENOMEM);
		break;
	default:
		if (chr_fmt_learn(&text, rec) < 0)
			chr_die(CHR_EX_SYS, "out of memory");
		errno = 0;
		if (chr_fmt_rec(&text, rec) < 0)
			write_failed(errno ? errno : ENOMEM);
	}
}

/* Write out what is buffered, before an error ends the program. */
static void out_flush(void)
{
	if (format == FMT_BINARY ? chr_writer_flush(&w) < 0 : fflush(stdout) != 0)
		write_failed(format == FMT_BINARY ? w.err : errno);
}

/* The views: text, JSON and CSV output learn the names of the instruments
 * from the DEFINE records read, without writing them. */
static void out_learn(const struct chr_rec *def)
{
	if (format == FMT_CSV) {
		errno = 0;
		if (chr_tardis_write(&csv, def, stdout) == -1)
			write_failed(errno ? errno : ENOMEM);
	} else if (format != FMT_BINARY && chr_fmt_learn(&text, def) < 0) {
		chr_die(CHR_EX_SYS, "out of memory");
	}
}

/* A record we made for m: its DEFINE goes first (binary output). The
 * caller set everything but seq, version and crc. */
static void out_made(struct mkt *m, struct chr_rec *rec)
{
	if (format == FMT_BINARY && m->have_def && !m->def_out) {
		out_rec((const struct chr_rec *)m->def);
		m->def_out = 1;
	}
	rec->seq = out_seq++;
	chr_rec_seal(rec);
	out_rec(rec);
}

/* ---- the book views ----------------------------------------------------- */

static unsigned char *made;	/* a record we make, 64-aligned */
static size_t made_cap;

static struct chr_rec *made_rec(size_t len)
{
	size_t span = chr_rec_span((uint32_t)len);

	if (span > made_cap) {
		free(made);
		if (!(made = aligned_alloc(64, span)))
			chr_die(CHR_EX_SYS, "out of memory");
		made_cap = span;
	}
	memset(made, 0, span);
	((struct chr_rec *)(void *)made)->len = (uint32_t)len;
	return (struct chr_rec *)(void *)made;
}

/* The book of m as a BOOK_SNAPSHOT of depth levels a side (0 all), or as a
 * BOOK_TOPN of exactly depth levels a side (empty ones CHR_NULL). */
static struct chr_rec *book_rec(struct mkt *m, uint16_t type, size_t depth, int64_t ts,
				uint64_t src_seq)
{
	size_t n = chr_l2_snapshot(m->b, depth, NULL, 0);
	size_t body = type == CHR_BOOK_TOPN ? sizeof(struct chr_book) +
		2 * depth * sizeof(struct chr_level) : n;
	struct chr_rec *r = made_rec(CHR_HDR_SIZE + (body > n ? body : n));
	struct chr_book *bk = chr_rec_payload(r);

	chr_l2_snapshot(m->b, depth, bk, n);
	if (type == CHR_BOOK_TOPN) {
		uint32_t nb = bk->n_bid, na = bk->n_ask;
		struct chr_level *lv = bk->levels;

		/* spread to depth a side: asks move up, the rest is empty */
		memmove(lv + depth, lv + nb, na * sizeof *lv);
		for (size_t i = nb; i < depth; i++)
			lv[i].price = lv[i].size = CHR_NULL;
		for (size_t i = depth + na; i < 2 * depth; i++)
			lv[i].price = lv[i].size = CHR_NULL;
		bk->n_bid = bk->n_ask = (uint32_t)depth;
		r->len = (uint32_t)(CHR_HDR_SIZE + body);
	}
	r->type = type;
	r->flags = CHR_F_SYNTHETIC;
	r->ts = ts;
	r->ts_event = m->ts_event;
	r->src_seq = src_seq;
	r->venue = m->venue;
	r->market = m->market;
	return r;
}

/* The top of m's book as a QUOTE payload. */
static void top(const struct mkt *m, struct chr_quote *q)
{
	struct chr_level l;

	memset(q, 0, sizeof *q);
	q->price_scale = (int8_t)chr_l2_price_scale(m->b);
	q->size_scale = (int8_t)chr_l2_size_scale(m->b);
	q->bid_px = q->bid_sz = q->ask_px = q->ask_sz = CHR_NULL;
	if (chr_l2_best(m->b, CHR_BID, &l) == 0) {
		q->bid_px = l.price;
		q->bid_sz = l.size;
	}
	if (chr_l2_best(m->b, CHR_ASK, &l) == 0) {
		q->ask_px = l.price;
		q->ask_sz = l.size;
	}
}

static int dec_eq(int64_t a, int as, int64_t b, int bs)
{
	if (a == CHR_NULL || b == CHR_NULL)
		return a == b;
	return chr_dec_cmp(a, as, b, bs) == 0;
}

static int quote_eq(const struct chr_quote *a, const struct chr_quote *b)
{
	return dec_eq(a->bid_px, a->price_scale, b->bid_px, b->price_scale) &&
		dec_eq(a->ask_px, a->price_scale, b->ask_px, b->price_scale) &&
		dec_eq(a->bid_sz, a->size_scale, b->bid_sz, b->size_scale) &&
		dec_eq(a->ask_sz, a->size_scale, b->ask_sz, b->size_scale);
}

/* --bbo: the event of m ended with its last record: a QUOTE when the top
 * differs from the last one written. */
static void event_end(struct mkt *m)
{
	const struct chr_rec *e = m->last;
	struct chr_quote q;
	struct chr_rec *r;

	m->open = 0;
	if (!chr_l2_known(m->b))
		return;
	top(m, &q);
	if (m->have_q && quote_eq(&q, &m->q))
		return;
	m->q = q;
	m->have_q = 1;
	r = made_rec(CHR_HDR_SIZE + sizeof q);
	memcpy(chr_rec_payload(r), &q, sizeof q);
	r->type = CHR_QUOTE;
	r->flags = CHR_F_SYNTHETIC | CHR_F_LAST;
	r->ts = e->ts;
	r->ts_event = e->ts_event;
	r->src_seq = e->src_seq;
	r->venue = m->venue;
	r->market = m->market;
	out_made(m, r);
}

/* ---- applying records ----------------------------------------------------- */

static uint64_t n_gap, n_nosnap, n_crossed, n_stale, n_ignored;

/* A GAP record before rec, the diff that the book of m could not take. */
static void gap_out(struct mkt *m, const struct chr_rec *rec, uint64_t expected)
{
	const struct chr_book *bk = chr_rec_payload(rec);
	struct chr_rec *r = made_rec(CHR_HDR_SIZE + sizeof(struct chr_gap));
	struct chr_gap *g = chr_rec_payload(r);

	g->expected = expected;
	g->got = bk->update_id_first;
	g->reason = CHR_GAP_UPDATE_ID;
	r->type = CHR_GAP;
	r->flags = CHR_F_SYNTHETIC;
	r->seq = rec->seq;
	r->ts = rec->ts;
	r->ts_event = rec->ts_event;
	r->src_seq = rec->src_seq;
	r->venue = m->venue;
	r->market = m->market;
	chr_rec_seal(r);
	out_rec(r);
}

/* Apply a book record to m; in pass mode, a GAP goes out first when the
 * book cannot take it. */
static void apply(struct mkt *m, const struct chr_rec *rec, int pass)
{
	const struct chr_book *bk = chr_rec_payload(rec);
	uint64_t before = chr_l2_update_id(m->b);
	int known = chr_l2_known(m->b);
	int k = chr_l2_apply(m->b, rec);

	if (k < 0) {
		if (errno == ENOMEM)
			chr_die(CHR_EX_SYS, "out of memory");
		out_flush();	/* what came before it is good */
		chr_die(CHR_EX_DATA, "%s: seq %" PRIu64 ": a level does not fit the book's scale "
			"(price scale %d, size scale %d)", m->name, rec->seq,
			chr_l2_price_scale(m->b), chr_l2_size_scale(m->b));
	}
	m->ts_event = rec->ts_event;
	if (k & CHR_L2_GAP) {
		n_gap++;
		mkt_warn(m, "seq %" PRIu64 ": update id gap: the book is at %" PRIu64
			 ", the diff follows %" PRIu64 " (ids %" PRIu64 "..%" PRIu64
			 "): unknown until the next snapshot", rec->seq, before,
			 bk->update_id_prev, bk->update_id_first, bk->update_id_last);
		if (pass)
			gap_out(m, rec, before + 1);
		m->gap_out = 1;
	}
	if (k & CHR_L2_NOSNAP) {
		n_nosnap++;
		if (!m->gap_out) {
			mkt_warn(m, "seq %" PRIu64 ": a diff before any snapshot: ignored until "
				 "the first snapshot", rec->seq);
			if (pass)
				gap_out(m, rec, 0);
			m->gap_out = 1;
		}
	}
	if (k & CHR_L2_STALE)
		n_stale++;
	if (k & CHR_L2_IGNORED) {
		n_ignored++;
		mkt_warn(m, "seq %" PRIu64 ": levels without a price or size, or with a negative "
			 "size, were left out", rec->seq);
	}
	if (k & CHR_L2_CROSSED) {
		n_crossed++;
		mkt_warn(m, "seq %" PRIu64 ": the book crossed; the levels this record crossed "
			 "were removed", rec->seq);
	}
	if (chr_l2_known(m->b) && !known)
		m->gap_out = 0;
}

/* ---- main ------------------------------------------------------------------ */

static int64_t parse_depth(const char *s)
{
	char *end, sh[256];
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (*s < '0' || *s > '9' || *end || errno || v > 100000)
		chr_usage_error("--depth '%s' is not a count up to 100000", SHOWN(sh, s));
	return (int64_t)v;
}

int main(int argc, char **argv)
{
	enum mode mode = MODE_PASS;
	struct chr_merge in;
	const struct chr_rec *rec;
	int64_t at = 0, every = 0, depth = -1, grid = INT64_MIN;
	char sh[256];
	int c, k;

	chr_setprog(argv[0]);
	chr_tab_init(&mkts, sizeof(struct mkt));
	while ((c = getopt_long(argc, argv, "hq", longopts, NULL)) != -1) {
		switch (c) {
		case 'h':
			fputs(usage_text, stdout);
			chr_close_stdout();
			return CHR_EX_OK;
		case OPT_VERSION:
			printf("chr-book %s\n", CHR_VERSION_STRING);
			chr_close_stdout();
			return CHR_EX_OK;
		case 'q':
			quiet = 1;
			break;
		case OPT_FORMAT:
			if (strcmp(optarg, "binary") == 0)
				format = FMT_BINARY;
			else if (strcmp(optarg, "text") == 0)
				format = FMT_TEXT;
			else if (strcmp(optarg, "json") == 0)
				format = FMT_JSON;
			else if (strcmp(optarg, "csv") == 0)
				format = FMT_CSV;
			else
				chr_usage_error("unknown format '%s' (binary, text, json, csv)",
						SHOWN(sh, optarg));
			break;
		case OPT_AT:
		case OPT_BBO:
		case OPT_EVERY:
			if (mode != MODE_PASS)
				chr_usage_error("--at, --bbo and --every exclude each other");
			if (c == OPT_AT) {
				mode = MODE_AT;
				if (chr_time_parse(optarg, &at) < 0)
					chr_usage_error("--at '%s' is not a time", SHOWN(sh, optarg));
			} else if (c == OPT_EVERY) {
				mode = MODE_GRID;
				if (chr_duration_parse(optarg, &every) < 0 || every <= 0)
					chr_usage_error("--every '%s' is not a duration",
							SHOWN(sh, optarg));
			} else {
				mode = MODE_BBO;
			}
			break;
		case OPT_DEPTH:
			depth = parse_depth(optarg);
			break;
		default:
			chr_usage_error("unknown option");
		}
	}
	if (depth >= 0 && mode != MODE_AT && mode != MODE_GRID)
		chr_usage_error("--depth goes with --at or --every");
	if (depth < 0)
		depth = 10;
	if (mode == MODE_GRID && depth == 0)
		chr_usage_error("--every needs a --depth of at least 1");
	if (format == FMT_CSV && mode == MODE_PASS)
		chr_usage_error("--format csv writes the views: --at, --bbo or --every");
	if (format == FMT_AUTO)
		format = isatty(STDOUT_FILENO) ? FMT_TEXT : FMT_BINARY;
	if (format == FMT_BINARY) {
		chr_refuse_tty(STDOUT_FILENO);
		if (chr_writer_init(&w, STDOUT_FILENO, "stdout", 0) < 0)
			chr_die(CHR_EX_SYS, "out of memory");
	} else if (format == FMT_CSV) {
		chr_tardis_out_init(&csv);
	} else {
		chr_fmt_init(&text, stdout, format == FMT_JSON ? CHR_FMT_JSON : CHR_FMT_TEXT);
		text.levels = mode == MODE_AT ? (unsigned)depth : CHR_FMT_LEVELS;
	}

	if (chr_merge_init(&in, optind < argc ? (size_t)(argc - optind) : 1, NULL) < 0)
		chr_die(CHR_EX_SYS, "out of memory");
	for (size_t i = 0; i < in.n; i++) {
		k = optind < argc ? chr_source_add_path(&in.s[i], argv[optind + (int)i])
			: chr_source_add_fd(&in.s[i], STDIN_FILENO, "stdin");
		if (k < 0)
			chr_die(in.s[i].status, "%s", in.s[i].err);
	}

	if (format == FMT_BINARY)
		chr_merge_set_flush(&in, chr_writer_flush_fn, &w);
	for (;;) {
		struct mkt *m;
		int book;

		if (format != FMT_BINARY && chr_merge_may_block(&in) && fflush(stdout) != 0)
			write_failed(errno);
		k = chr_merge_next(&in, &rec);
		if (k == 2) {
			chr_merge_wait(&in);
			continue;
		}
		if (k < 0) {
			out_flush();
			chr_die(in.s[in.failed].status, "%s", in.s[in.failed].err);
		}
		if (k == 0)
			break;
		if (mode == MODE_AT && rec->ts > at)
			break;
		book = rec->type == CHR_BOOK_SNAPSHOT || rec->type == CHR_BOOK_DIFF;
		m = NULL;
		if (rec->type == CHR_DEFINE || book) {
			m = mkt_of(rec);
			if (rec->type == CHR_DEFINE) {
				if (!m->have_def || memcmp(m->def + CHR_HDR_SIZE,
							   chr_rec_payload(rec), sizeof(struct chr_define))) {
					memcpy(m->def, rec, chr_rec_span(rec->len));
					m->have_def = 1;
					m->def_out = 0;
					name_set(m);
				}
				if (mode != MODE_PASS)
					out_learn(rec);
			}
		}
		if (mode == MODE_GRID && book) {
			if (grid == INT64_MIN)
				grid = rec->ts / every * every + (rec->ts % every > 0 ? every : 0);
			/* every grid time passed: the books as of then */
			while (rec->ts > grid) {
				for (size_t i = 0; i < mkts.n; i++)
					if (chr_l2_known(MKT(i)->b))
						out_made(MKT(i), book_rec(MKT(i), CHR_BOOK_TOPN,
									    (size_t)depth, grid,
									    rec->src_seq));
				grid += every;
			}
		}
		if (mode == MODE_BBO && book && m->open && rec->ts != m->last->ts)
			event_end(m);	/* an event without a LAST record */
		if (book)
			apply(m, rec, mode == MODE_PASS);
		if (mode == MODE_PASS)
			out_rec(rec);
		if (mode == MODE_BBO && book) {
			memcpy(m->last_buf, rec, CHR_HDR_SIZE);
			m->last = (const struct chr_rec *)m->last_buf;
			m->open = 1;
			if (rec->flags & CHR_F_LAST)
				event_end(m);
		}
	}
	for (size_t i = 0; i < mkts.n; i++) {
		struct mkt *m = MKT(i);

		if (mode == MODE_BBO && m->open)
			event_end(m);
		if (mode == MODE_AT) {
			if (chr_l2_known(m->b))
				out_made(m, book_rec(m, format == FMT_CSV ? CHR_BOOK_TOPN :
						     CHR_BOOK_SNAPSHOT, (size_t)depth, at, 0));
			else if (!quiet)
				chr_warn("%s: the book is not known at that time (no snapshot "
					 "since the start or the last gap)", m->name);
		}
	}
	if (!quiet && (n_gap || n_nosnap || n_crossed || n_ignored))
		chr_warn("%" PRIu64 " update id gap%s, %" PRIu64 " diff%s without a snapshot, %"
			 PRIu64 " crossed book%s, %" PRIu64 " stale diff%s, %" PRIu64
			 " record%s with levels left out",
			 n_gap, n_gap == 1 ? "" : "s", n_nosnap, n_nosnap == 1 ? "" : "s",
			 n_crossed, n_crossed == 1 ? "" : "s", n_stale, n_stale == 1 ? "" : "s",
			 n_ignored, n_ignored == 1 ? "" : "s");

	if (format == FMT_BINARY) {
		if (chr_writer_close(&w) < 0)
			write_failed(w.err);
	} else {
		if (format == FMT_CSV)
			chr_tardis_out_free(&csv);
		else
			chr_fmt_free(&text);
		if (fflush(stdout) != 0)
			write_failed(errno);
	}
	chr_merge_free(&in);
	for (size_t i = 0; i < mkts.n; i++)
		chr_l2_free(MKT(i)->b);
	free(made);
	chr_tab_free(&mkts);
	return CHR_EX_OK;
}
