/* books.h - the L2 book of every instrument in a stream, each bound to its
 * DEFINE record and named by it in messages: what the programs that keep
 * books (chr-book, chr-snapinject) share. */
#ifndef CHR_BOOKS_H
#define CHR_BOOKS_H

#include <stddef.h>
#include <stdint.h>

#include "book.h"
#include "err.h"
#include "map.h"
#include "rec.h"

#define CHR_DEFINE_SPAN 192	/* the span of a DEFINE record */
#define CHR_BOOKS_WARN_MAX 10	/* warnings shown per book before they are only counted */

/* One instrument's book. A program that keeps more per instrument puts a
 * struct chr_mkt first in its own object and gives that size to
 * chr_books_init. */
struct chr_mkt {
	_Alignas(64) unsigned char def[CHR_DEFINE_SPAN];	/* its DEFINE, when have_def */
	int have_def;
	struct chr_l2 *b;
	uint16_t venue;
	uint32_t market;
	char name[CHR_VENUE_MAX + CHR_SYMBOL_MAX + 24];	/* "venue symbol", or
							 * "venue N market M" */
	int64_t ts_event;	/* of the last record applied */
	uint64_t before;	/* the book's update id before the last record applied */
	unsigned warned;	/* warnings so far (chr_books_warn_due) */
	int sched;		/* chr_books_snap_due: a book record came ... */
	int64_t slot, day;	/* ... and these are its interval and UTC day */
};

struct chr_books {
	struct chr_tab tab;	/* of the objects, in order of first appearance */
};

/* An empty table of objects of size bytes (at least sizeof(struct
 * chr_mkt), beginning with one). */
void chr_books_init(struct chr_books *t, size_t size);

/* Free every book and the table. */
void chr_books_free(struct chr_books *t);

/* Make the book of a new instrument (called by chr_books_get). */
struct chr_mkt *chr_books_fresh(struct chr_mkt *m, const struct chr_rec *r);

/* The book of r's instrument, made (empty, zeroed object) when it first
 * comes. NULL when out of memory (errno ENOMEM). */
static inline struct chr_mkt *chr_books_get(struct chr_books *t, const struct chr_rec *r)
{
	int fresh;
	struct chr_mkt *m = chr_tab_get(&t->tab, r->venue, r->market, &fresh);

	return m && fresh ? chr_books_fresh(m, r) : m;
}

/* The i-th book of the table (0 <= i < t->tab.n), in order of first
 * appearance. */
static inline struct chr_mkt *chr_books_at(const struct chr_books *t, size_t i)
{
	return t->tab.v[i];
}

/* Bind the DEFINE record def (checked) to the book of its instrument, which
 * takes its names. Returns 1 when the DEFINE is new or differs from the one
 * bound before, 0 when the same, -1 when out of memory (errno ENOMEM). *mp
 * is set to the book. */
int chr_books_define(struct chr_books *t, const struct chr_rec *def, struct chr_mkt **mp);

/* chr_books_apply failed: fill e. Returns -1. */
int chr_books_apply_failed(const struct chr_mkt *m, const struct chr_rec *rec, struct chr_err *e);

/* Apply a checked BOOK_SNAPSHOT or BOOK_DIFF record to m's book
 * (chr_l2_apply), keeping m->before and m->ts_event. Returns the CHR_L2_*
 * bits, or -1 with e set: CHR_EX_SYS "out of memory", or CHR_EX_DATA
 * "NAME: seq N: a level does not fit the book's scale (...)". */
static inline int chr_books_apply(struct chr_mkt *m, const struct chr_rec *rec, struct chr_err *e)
{
	int k;

	m->before = chr_l2_update_id(m->b);
	if ((k = chr_l2_apply(m->b, rec)) < 0)
		return chr_books_apply_failed(m, rec, e);
	m->ts_event = rec->ts_event;
	return k;
}

/* One more warning for m: 0 when it is only counted (past
 * CHR_BOOKS_WARN_MAX), 1 to show it, 2 to show it as the last one shown. */
static inline int chr_books_warn_due(struct chr_mkt *m)
{
	return ++m->warned > CHR_BOOKS_WARN_MAX ? 0 : m->warned == CHR_BOOKS_WARN_MAX ? 2 : 1;
}

/* The schedule of injected snapshots (chr-snapinject --interval, chr-book
 * --snapshots; docs/refinery.md): whether a full snapshot of m's book is
 * due just before rec, a book record of m (BOOK_SNAPSHOT, BOOK_DIFF or
 * GAP), about to be applied: 1 when rec's interval of event time
 * (floor(ts / interval), from the epoch) or UTC day differs from that of
 * m's previous book record, the book is known, and rec is neither a
 * snapshot (the vendor's serves) nor a GAP (the book there is not known);
 * else 0. Notes rec's interval and day either way. The caller that
 * writes a GAP before a diff that does not follow injects nothing before
 * that diff either. */
int chr_books_snap_due(struct chr_mkt *m, const struct chr_rec *rec, int64_t interval);

/* The payload bytes of the snapshot due before rec (chr_books_size of a
 * whole BOOK_SNAPSHOT) in *n. Returns 0, or -1 with e (CHR_EX_DATA: "NAME:
 * seq N: the book has L levels: too many for one snapshot record"). */
int chr_books_snap_size(const struct chr_mkt *m, const struct chr_rec *rec, size_t *n,
			struct chr_err *e);

/* The snapshot due before rec (chr_books_snap_due), into r, which has
 * room for chr_books_size(m, CHR_BOOK_SNAPSHOT, 0) payload bytes: m's book,
 * SYNTHETIC and LAST, with rec's seq, ts and src_seq, so that it sorts
 * just before rec (the resume key of chr-sink --resume), sealed. */
void chr_books_snap_rec(const struct chr_mkt *m, const struct chr_rec *rec, struct chr_rec *r);

/* The room chr_books_rec needs for the payload of m's book as a
 * BOOK_SNAPSHOT of depth levels a side (0 all: its exact size), or as a
 * BOOK_TOPN (type) of exactly depth levels a side. */
size_t chr_books_size(const struct chr_mkt *m, uint16_t type, size_t depth);

/* Write m's book into r (zeroed, owning the span of a header and
 * chr_books_size bytes): the payload, len, type, flags CHR_F_SYNTHETIC,
 * venue, market and ts_event; a BOOK_TOPN's missing levels are CHR_NULL.
 * The caller sets the rest. */
void chr_books_rec(const struct chr_mkt *m, uint16_t type, size_t depth, struct chr_rec *r);

#endif
