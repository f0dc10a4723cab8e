/* chr-snapinject - pass a record stream on unchanged, keep the L2 book of
 * every market, and insert a synthetic full BOOK_SNAPSHOT of a book at each
 * interval boundary and UTC day of event time, so that a replay can start
 * at any of them. The output depends only on the input bytes. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "books.h"
#include "chr.h"
#include "fmt.h"
#include "merge.h"
#include "prog.h"
#include "tm.h"

static const char usage_text[] =
	"usage: chr-snapinject [--interval duration] [-q | --quiet] [-v | --stats]\n"
	"                      [-h | --help] [--version] [file | dir | queue | -]...\n"
	"\n"
	"  several inputs are merged by ts (ties in argument order)\n"
	"\n";

enum { OPT_INTERVAL = CHR_O_OWN };

static const struct chr_opt opts[] = {
	{"interval", required_argument, OPT_INTERVAL, "d",
	 "a snapshot of a book before its first record in each\n"
	 "new interval of d of event time (ts), counted from\n"
	 "the epoch (1s, 500ms, 60s, 1h, ...; default 60s), and\n"
	 "before its first record of each UTC day"},
	CHR_OPT_QUIET("no warnings"),
	CHR_OPT_STATS("at the end, the snapshots injected in each book"),
	CHR_OPT_VERBOSE(NULL),
	CHR_OPT_END,
};

/* what is kept of a book besides the book */
struct mkt {
	struct chr_mkt m;
	uint64_t injected, gaps;	/* snapshots made; update id gaps found */
};

static struct chr_writer w;

/* Bad input stops us: what came before it goes out first. */
static _Noreturn void die_input(int status, const char *msg)
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
	struct chr_rec *r;
	struct chr_err e;
	size_t n;

	if (chr_books_snap_size(&m->m, rec, &n, &e) < 0)
		die_input(e.status, e.msg);
	if (!(r = chr_writer_reserve(&w, (uint32_t)(CHR_HDR_SIZE + n))))
		chr_write_failed(&w);
	chr_books_snap_rec(&m->m, rec, r);
	chr_writer_commit(&w, r);
	m->injected++;
}


static void apply(struct mkt *m, const struct chr_rec *rec)
{
	const struct chr_book *bk;
	struct chr_err e;
	int k, due;

	if (rec->type == CHR_GAP) {
		chr_l2_reset(m->m.b);
		return;
	}
	if ((k = chr_books_apply(&m->m, rec, &e)) < 0) {
		if (e.status == CHR_EX_SYS)
			chr_die_err(&e);
		die_input(e.status, e.msg);
	}
	/* chr-book, upstream, marks a gap with a GAP record first, so the book
	 * is already unknown and the diff is not applied: this is a stream that
	 * was not checked */
	if (k & CHR_L2_GAP) {
		m->gaps++;
		bk = chr_rec_payload(rec);
		if (!chr_quiet && (due = chr_books_warn_due(&m->m)))
			chr_warn("%s: seq %" PRIu64 ": update id gap without a GAP record (the book "
				 "is at %" PRIu64 ", the diff follows %" PRIu64 "): no snapshot until "
				 "the next one in the input%s", m->m.name, rec->seq, m->m.before,
				 bk->update_id_prev, due == 2 ?
				 " (further warnings for this book are only counted)" : "");
	}
}

static const char *plural(uint64_t n)
{
	return n == 1 ? "" : "s";
}

int main(int argc, char **argv)
{
	struct chr_books books;
	struct chr_merge in;
	struct chr_err e;
	struct chr_mkt *d;
	const struct chr_rec *rec;
	int64_t interval = 60 * INT64_C(1000000000);
	uint64_t total = 0;
	int c, k;
	size_t n_books = 0;
	char sh[256];

	chr_prog_start(argv, usage_text, opts);
	while ((c = chr_getopt(argc, argv)) != -1) {
		switch (c) {
		case OPT_INTERVAL:
			if (chr_duration_parse(optarg, &interval) < 0 || interval <= 0)
				chr_usage_error("--interval '%s' is not a duration above 0",
						CHR_SHOWN(sh, optarg));
			break;
		}
	}
	chr_refuse_tty(STDOUT_FILENO);
	if (chr_writer_init(&w, STDOUT_FILENO, "stdout", 0) < 0)
		chr_die(CHR_EX_SYS, "out of memory");
	if (chr_merge_open(&in, argv + optind, (size_t)(argc - optind), NULL, &e) < 0)
		chr_die_err(&e);
	chr_books_init(&books, sizeof(struct mkt));

	chr_merge_set_flush(&in, chr_flush_or_exit, &w);
	for (;;) {
		struct mkt *m;

		k = chr_merge_next(&in, &rec);
		if (k == 2) {
			chr_merge_wait(&in);
			continue;
		}
		if (k < 0)
			die_input(in.s[in.failed].e.status, in.s[in.failed].e.msg);
		if (k == 0)
			break;
		if (rec->type == CHR_DEFINE) {
			if (chr_books_define(&books, rec, &d) < 0)
				chr_die(CHR_EX_SYS, "out of memory");
		} else if (rec->type == CHR_BOOK_SNAPSHOT || rec->type == CHR_BOOK_DIFF ||
			   rec->type == CHR_GAP) {
			if (!(m = (struct mkt *)chr_books_get(&books, rec)))
				chr_die(CHR_EX_SYS, "out of memory");
			if (chr_books_snap_due(&m->m, rec, interval))
				inject(m, rec);
			apply(m, rec);
		}
		if (chr_writer_put(&w, rec) < 0)
			chr_write_failed(&w);
	}
	if (chr_writer_close(&w) < 0)
		chr_write_failed(&w);
	for (size_t i = 0; chr_verbose && i < books.tab.n; i++) {
		struct mkt *m = (struct mkt *)chr_books_at(&books, i);

		if (!m->m.sched)
			continue;
		if (m->gaps)
			chr_warn("%s: %" PRIu64 " snapshot%s injected, %" PRIu64 " update id gap%s "
				 "without a GAP record", m->m.name, m->injected, plural(m->injected),
				 m->gaps, plural(m->gaps));
		else
			chr_warn("%s: %" PRIu64 " snapshot%s injected", m->m.name, m->injected,
				 plural(m->injected));
		n_books++;
		total += m->injected;
	}
	if (n_books > 1)
		chr_warn("%" PRIu64 " snapshot%s injected in %zu books", total, plural(total),
			 n_books);
	chr_merge_free(&in);
	chr_books_free(&books);
	return CHR_EX_OK;
}
