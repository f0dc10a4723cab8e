/* chr-snapinject - pass a record stream on unchanged, keep the L2 book of
 * every market, and insert a synthetic full BOOK_SNAPSHOT of a book at each
 * interval boundary and UTC day of event time, so that a replay can start
 * at any of them. The output depends only on the input bytes. */
#include <errno.h>
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

static const char usage_text[] =
	"usage: chr-snapinject [--interval duration] [-q | --quiet] [-v | --stats]\n"
	"                      [-h | --help] [--version] [file | dir | queue | -]...\n"
	"\n"
	"  several inputs are merged by ts (ties in argument order)\n"
	"  --interval d     a snapshot of a book before its first record in each\n"
	"                   new interval of d of event time (ts), counted from\n"
	"                   the epoch (1s, 500ms, 60s, 1h, ...; default 60s), and\n"
	"                   before its first record of each UTC day\n"
	"  -q, --quiet      no warnings\n"
	"  -v, --stats      at the end, the snapshots injected in each book\n";

enum { OPT_VERSION = 256, OPT_INTERVAL };

static const struct option longopts[] = {
	{"help", no_argument, NULL, 'h'},
	{"version", no_argument, NULL, OPT_VERSION},
	{"interval", required_argument, NULL, OPT_INTERVAL},
	{"quiet", no_argument, NULL, 'q'},
	{"stats", no_argument, NULL, 'v'},
	{NULL, 0, NULL, 0},
};

#define SHOWN(buf, s) chr_fmt_shown(buf, sizeof buf, s)
#define DAY_NS (86400 * INT64_C(1000000000))
#define WARN_MAX 10		/* warnings per book before they are only counted */

static int quiet;

/* ---- the markets ---------------------------------------------------------- */

struct mkt {
	struct chr_l2 *b;
	uint16_t venue;
	uint32_t market;
	char name[CHR_VENUE_MAX + CHR_SYMBOL_MAX + 24];	/* for messages */
	int seen;		/* a book record came: slot and day are set */
	int64_t slot, day;	/* of the last book record: floor(ts / interval), UTC day */
	int64_t ts_event;	/* of the last snapshot or diff */
	uint64_t injected, gaps;	/* snapshots made; update id gaps found */
	unsigned warned;
};

static struct chr_tab mkts;	/* of struct mkt */
#define MKT(i) ((struct mkt *)mkts.v[i])

static void name_set(struct mkt *m, const struct chr_rec *def)
{
	char venue[CHR_VENUE_MAX + 1], symbol[CHR_SYMBOL_MAX + 1];

	if (def && !chr_define_names(chr_rec_payload(def), venue, symbol))
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
		name_set(m, NULL);
		m->b = chr_l2_new();
	}
	if (!m || !m->b)
		chr_die(CHR_EX_SYS, "out of memory");
	return m;
}

/* ---- output --------------------------------------------------------------- */

static struct chr_writer w;

static void write_failed(int err)
{
	if (err == EPIPE)
		exit(CHR_EX_OK);
	chr_die(CHR_EX_SYS, "cannot write to standard output: %s", strerror(err));
}

/* Bad input stops us: what came before it goes out first. */
static void die_input(int status, const char *msg)
{
	if (chr_writer_flush(&w) < 0 && w.err == EPIPE)
		exit(CHR_EX_OK);
	chr_die(status, "%s", msg);
}

/* Write the book of m as a synthetic snapshot just before rec, the first
 * record of an event: it takes rec's seq, src_seq and ts, so that it sorts
 * just before it (FORMAT, and the resume key of chr-sink --resume). */
static void inject(struct mkt *m, const struct chr_rec *rec)
{
	size_t n = chr_l2_snapshot(m->b, 0, NULL, 0);
	struct chr_rec *r;
	char msg[512];

	if (n > CHR_REC_MAX - CHR_HDR_SIZE) {
		snprintf(msg, sizeof msg, "%s: seq %" PRIu64 ": the book has %zu levels: too many "
			 "for one snapshot record", m->name, rec->seq,
			 chr_l2_levels(m->b, CHR_BID) + chr_l2_levels(m->b, CHR_ASK));
		die_input(CHR_EX_DATA, msg);
	}
	if (!(r = chr_writer_reserve(&w, (uint32_t)(CHR_HDR_SIZE + n))))
		write_failed(w.err);
	chr_l2_snapshot(m->b, 0, chr_rec_payload(r), n);
	r->type = CHR_BOOK_SNAPSHOT;
	r->flags = CHR_F_SYNTHETIC | CHR_F_LAST;
	r->seq = rec->seq;
	r->ts = rec->ts;
	r->ts_event = m->ts_event;
	r->src_seq = rec->src_seq;
	r->venue = m->venue;
	r->market = m->market;
	chr_writer_commit(&w, r);
	m->injected++;
}

/* ---- the books ------------------------------------------------------------ */

static void apply(struct mkt *m, const struct chr_rec *rec)
{
	const struct chr_book *bk;
	uint64_t before;
	char msg[512];
	int k;

	if (rec->type == CHR_GAP) {
		chr_l2_reset(m->b);
		return;
	}
	before = chr_l2_update_id(m->b);
	if ((k = chr_l2_apply(m->b, rec)) < 0) {
		if (errno == ENOMEM)
			chr_die(CHR_EX_SYS, "out of memory");
		snprintf(msg, sizeof msg, "%s: seq %" PRIu64 ": a level does not fit the book's "
			 "scale (price scale %d, size scale %d)", m->name, rec->seq,
			 chr_l2_price_scale(m->b), chr_l2_size_scale(m->b));
		die_input(CHR_EX_DATA, msg);
	}
	m->ts_event = rec->ts_event;
	/* chr-book, upstream, marks a gap with a GAP record first, so the book
	 * is already unknown and the diff is not applied: this is a stream that
	 * was not checked */
	if (k & CHR_L2_GAP) {
		m->gaps++;
		bk = chr_rec_payload(rec);
		if (!quiet && ++m->warned <= WARN_MAX)
			chr_warn("%s: seq %" PRIu64 ": update id gap without a GAP record (the book "
				 "is at %" PRIu64 ", the diff follows %" PRIu64 "): no snapshot until "
				 "the next one in the input%s", m->name, rec->seq, before,
				 bk->update_id_prev, m->warned == WARN_MAX ?
				 " (further warnings for this book are only counted)" : "");
	}
}

static int64_t floor_div(int64_t a, int64_t b)
{
	return a / b - (a % b < 0);
}

/* ---- main ------------------------------------------------------------------ */

int main(int argc, char **argv)
{
	struct chr_merge in;
	const struct chr_rec *rec;
	int64_t interval = 60 * INT64_C(1000000000);
	uint64_t total = 0;
	int c, k, stats = 0;
	size_t books = 0;
	char sh[256];

	chr_setprog(argv[0]);
	chr_tab_init(&mkts, sizeof(struct mkt));
	while ((c = getopt_long(argc, argv, "hqv", longopts, NULL)) != -1) {
		switch (c) {
		case 'h':
			fputs(usage_text, stdout);
			chr_close_stdout();
			return CHR_EX_OK;
		case OPT_VERSION:
			printf("chr-snapinject %s\n", CHR_VERSION_STRING);
			chr_close_stdout();
			return CHR_EX_OK;
		case 'q':
			quiet = 1;
			break;
		case 'v':
			stats = 1;
			break;
		case OPT_INTERVAL:
			if (chr_duration_parse(optarg, &interval) < 0 || interval <= 0)
				chr_usage_error("--interval '%s' is not a duration above 0",
						SHOWN(sh, optarg));
			break;
		default:
			chr_usage_error("unknown option");
		}
	}
	chr_refuse_tty(STDOUT_FILENO);
	if (chr_writer_init(&w, STDOUT_FILENO, "stdout", 0) < 0)
		chr_die(CHR_EX_SYS, "out of memory");
	if (chr_merge_init(&in, optind < argc ? (size_t)(argc - optind) : 1, NULL) < 0)
		chr_die(CHR_EX_SYS, "out of memory");
	for (size_t i = 0; i < in.n; i++) {
		k = optind < argc ? chr_source_add_path(&in.s[i], argv[optind + (int)i])
			: chr_source_add_fd(&in.s[i], STDIN_FILENO, "stdin");
		if (k < 0)
			chr_die(in.s[i].status, "%s", in.s[i].err);
	}

	chr_merge_set_flush(&in, chr_writer_flush_fn, &w);
	for (;;) {
		struct mkt *m;
		int64_t slot, day;

		k = chr_merge_next(&in, &rec);
		if (k == 2) {
			chr_merge_wait(&in);
			continue;
		}
		if (k < 0)
			die_input(in.s[in.failed].status, in.s[in.failed].err);
		if (k == 0)
			break;
		if (rec->type == CHR_DEFINE) {
			name_set(mkt_of(rec), rec);
		} else if (rec->type == CHR_BOOK_SNAPSHOT || rec->type == CHR_BOOK_DIFF ||
			   rec->type == CHR_GAP) {
			m = mkt_of(rec);
			slot = floor_div(rec->ts, interval);
			day = floor_div(rec->ts, DAY_NS);
			/* The records of an exchange event share ts, so a record
			 * in a new interval or day is the first of its event. A
			 * vendor snapshot there serves; an unknown book (no
			 * snapshot since the start or a gap) has none to give. */
			if (m->seen && (slot != m->slot || day != m->day) &&
			    rec->type != CHR_BOOK_SNAPSHOT && chr_l2_known(m->b))
				inject(m, rec);
			m->seen = 1;
			m->slot = slot;
			m->day = day;
			apply(m, rec);
		}
		if (chr_writer_put(&w, rec) < 0)
			write_failed(w.err);
	}
	if (chr_writer_close(&w) < 0)
		write_failed(w.err);
	for (size_t i = 0; stats && i < mkts.n; i++) {
		struct mkt *m = MKT(i);

		if (!m->seen)
			continue;
		if (m->gaps)
			chr_warn("%s: %" PRIu64 " snapshot%s injected, %" PRIu64 " update id gap%s "
				 "without a GAP record", m->name, m->injected,
				 m->injected == 1 ? "" : "s", m->gaps, m->gaps == 1 ? "" : "s");
		else
			chr_warn("%s: %" PRIu64 " snapshot%s injected", m->name, m->injected,
				 m->injected == 1 ? "" : "s");
		books++;
		total += m->injected;
	}
	if (books > 1)
		chr_warn("%" PRIu64 " snapshot%s injected in %zu books", total,
			 total == 1 ? "" : "s", books);
	chr_merge_free(&in);
	for (size_t i = 0; i < mkts.n; i++)
		chr_l2_free(MKT(i)->b);
	chr_tab_free(&mkts);
	return CHR_EX_OK;
}
