/* bookview.h - the views of chr-book over the books of a stream: the
 * records passed on with a GAP record before a diff a book cannot take,
 * every book as of a time (--at), a QUOTE after every event that changed a
 * top of book (--bbo), the best levels on a time grid (--every). */
#ifndef CHR_BOOKVIEW_H
#define CHR_BOOKVIEW_H

#include <stddef.h>
#include <stdint.h>

#include "books.h"
#include "err.h"
#include "out.h"

enum chr_bv_mode { CHR_BV_PASS, CHR_BV_AT, CHR_BV_BBO, CHR_BV_GRID };

/* What a view keeps of one book. */
struct chr_bv_mkt {
	struct chr_mkt m;
	int def_out;		/* its DEFINE went out (binary output) */
	int gap_out;		/* a GAP went out for the book being unknown */
	int open;		/* --bbo: an event without its LAST record yet */
	int have_q;		/* --bbo: q went out (and no gap since) */
	int64_t last_ts;	/* ts of the last book record taken */
	struct chr_quote q;
	_Alignas(64) unsigned char last[CHR_HDR_SIZE];	/* --bbo: the event's last header */
};

struct chr_bookview {
	enum chr_bv_mode mode;
	int64_t at;		/* --at: the time */
	int64_t every;		/* --every: the grid step */
	size_t depth;		/* levels a side (--at: 0 all) */
	int64_t grid;		/* --every: the next grid time (INT64_MIN before a book) */
	struct chr_out *out;
	struct chr_books books;	/* of struct chr_bv_mkt */
	struct chr_bv_mkt *m;	/* the book of the last record taken, or NULL */
	uint64_t seq;		/* seq of the next record made */
	unsigned char *made;	/* a record made, 64-byte aligned */
	size_t made_cap;
	uint64_t n_gap, n_nosnap, n_crossed, n_stale, n_ignored;
	int64_t stale_after;	/* --at: a book whose last record is more than
				 * this before at is stale (CHR_BV_STALE) */
	int64_t first_ts;	/* ts of the first record taken (INT64_MIN: none) */
	int64_t snapshots;	/* pass mode: a snapshot of a book before its first
				 * record in each interval of this and UTC day
				 * (chr_books_snap_due); 0: none */
	uint64_t n_snap;	/* snapshots made so */
};

#define CHR_BV_STALE (60 * INT64_C(1000000000))	/* stale_after's default */

/* A view of mode writing to out (the caller's, open). Binary records go to
 * out's writer as they are: the view puts every DEFINE it needs itself. */
void chr_bookview_init(struct chr_bookview *v, enum chr_bv_mode mode, int64_t at, int64_t every,
		       size_t depth, struct chr_out *out);
void chr_bookview_free(struct chr_bookview *v);

/* Take the stream's next record (checked), v->m its book when it has one.
 * A GAP record with an instrument makes its book unknown until the next
 * snapshot (chr_l2_reset), and stands for the GAP that pass mode would
 * write before the next diff; one without (venue 0, market 0) touches no
 * book and is passed on in pass mode.
 * Returns what the caller may warn about, the CHR_L2_* bits of
 * chr_l2_apply less CHR_L2_STALE and CHR_L2_TOP, CHR_L2_NOSNAP only for
 * the first such diff while the book is unknown (m.before is the book's
 * update id before the record); or -1 with e set (a level that does not fit
 * a book's scale, out of memory), or -2 when the output failed (e and
 * out->err: chr_out_failed). What was written before a failure is good. */
int chr_bookview_rec(struct chr_bookview *v, const struct chr_rec *rec, struct chr_err *e);

/* The end of the stream (--at: of the records up to its time): --bbo ends
 * the events still open, --at writes every known book, each marked with
 * its age in text and JSON (struct chr_fmt_age). Returns the number of
 * books --at could not write (unknown at that time: see chr_l2_known), or
 * -1 with e set, or -2 when the output failed. */
long chr_bookview_end(struct chr_bookview *v, struct chr_err *e);

/* --at: m's book is stale: its last record is more than v->stale_after
 * before v->at. */
static inline int chr_bookview_stale(const struct chr_bookview *v, const struct chr_bv_mkt *m)
{
	return v->at - m->last_ts > v->stale_after;
}

#endif
