/* bookview.c - chr-book's views: pass with GAPs, --at, --bbo, --every. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bookview.h"
#include "dec.h"

void chr_bookview_init(struct chr_bookview *v, enum chr_bv_mode mode, int64_t at, int64_t every,
		       size_t depth, struct chr_out *out)
{
	memset(v, 0, sizeof *v);
	v->mode = mode;
	v->at = at;
	v->every = every;
	v->depth = depth;
	v->grid = INT64_MIN;
	v->first_ts = INT64_MIN;
	v->stale_after = CHR_BV_STALE;
	v->out = out;
	chr_books_init(&v->books, sizeof(struct chr_bv_mkt));
}

void chr_bookview_free(struct chr_bookview *v)
{
	chr_books_free(&v->books);
	free(v->made);
	v->made = NULL;
}

/* A zeroed record of len bytes (NULL when out of memory). */
static struct chr_rec *made_rec(struct chr_bookview *v, size_t len)
{
	size_t span = chr_rec_span((uint32_t)len);

	if (span > v->made_cap) {
		free(v->made);
		v->made_cap = 0;
		if (!(v->made = aligned_alloc(64, span)))
			return NULL;
		v->made_cap = span;
	}
	memset(v->made, 0, span);
	((struct chr_rec *)(void *)v->made)->len = (uint32_t)len;
	return (struct chr_rec *)(void *)v->made;
}

/* Write rec, passed on or made: binary records straight to the writer, as
 * chr-book always has (every DEFINE is passed on, or goes out before the
 * first record made for its book), views through chr_out_put. Returns 0,
 * or -2 with e. */
static int put(struct chr_bookview *v, const struct chr_rec *rec, struct chr_err *e)
{
	struct chr_out *o = v->out;

	if (o->kind != CHR_OUT_BINARY)
		return chr_out_put(o, rec, e) < 0 ? -2 : 0;
	if (chr_writer_put(&o->w, rec) == 0)
		return 0;
	if (chr_out_flush(o, e) == 0)	/* it says why, from the writer's error */
		chr_err_sys(e, "cannot write to standard output");
	return -2;
}

/* A record made for m: its DEFINE goes first (binary output). The caller
 * set everything but seq, version and crc. Returns 0, or -2. */
static int out_made(struct chr_bookview *v, struct chr_bv_mkt *m, struct chr_rec *rec,
		    struct chr_err *e)
{
	if (v->out->kind == CHR_OUT_BINARY && m->m.have_def && !m->def_out) {
		if (put(v, (const struct chr_rec *)m->m.def, e) < 0)
			return -2;
		m->def_out = 1;
	}
	rec->seq = v->seq++;
	chr_rec_seal(rec);
	return put(v, rec, e);
}

/* m's book as a BOOK_SNAPSHOT or BOOK_TOPN at ts, written. */
static int out_book(struct chr_bookview *v, struct chr_bv_mkt *m, uint16_t type, int64_t ts,
		    uint64_t src_seq, struct chr_err *e)
{
	struct chr_rec *r = made_rec(v, CHR_HDR_SIZE + chr_books_size(&m->m, type, v->depth));

	if (!r)
		return chr_err_set(e, CHR_EX_SYS, "out of memory");
	chr_books_rec(&m->m, type, v->depth, r);
	r->ts = ts;
	r->src_seq = src_seq;
	return out_made(v, m, r, e);
}

/* The top of m's book as a QUOTE payload (CHR_NULL for an empty side). */
static void top(const struct chr_mkt *m, struct chr_quote *q)
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

/* two QUOTE payloads show the same prices and sizes (scales aside) */
static int quote_eq(const struct chr_quote *a, const struct chr_quote *b)
{
	return dec_eq(a->bid_px, a->price_scale, b->bid_px, b->price_scale) &&
		dec_eq(a->ask_px, a->price_scale, b->ask_px, b->price_scale) &&
		dec_eq(a->bid_sz, a->size_scale, b->bid_sz, b->size_scale) &&
		dec_eq(a->ask_sz, a->size_scale, b->ask_sz, b->size_scale);
}

/* --bbo: the event of m ended with its last record: a QUOTE when the top
 * differs from the last one written. */
static int event_end(struct chr_bookview *v, struct chr_bv_mkt *m, struct chr_err *e)
{
	const struct chr_rec *last = (const struct chr_rec *)m->last;
	struct chr_quote q;
	struct chr_rec *r;

	m->open = 0;
	if (!chr_l2_known(m->m.b))
		return 0;
	top(&m->m, &q);
	if (m->have_q && quote_eq(&q, &m->q))
		return 0;
	m->q = q;
	m->have_q = 1;
	if (!(r = made_rec(v, CHR_HDR_SIZE + sizeof q)))
		return chr_err_set(e, CHR_EX_SYS, "out of memory");
	memcpy(chr_rec_payload(r), &q, sizeof q);
	r->type = CHR_QUOTE;
	r->flags = CHR_F_SYNTHETIC | CHR_F_LAST;
	r->ts = last->ts;
	r->ts_event = last->ts_event;
	r->src_seq = last->src_seq;
	r->venue = m->m.venue;
	r->market = m->m.market;
	return out_made(v, m, r, e);
}

/* A GAP record before rec, the diff that the book of m could not take. */
static int gap_out(struct chr_bookview *v, struct chr_bv_mkt *m, const struct chr_rec *rec,
		   uint64_t expected, struct chr_err *e)
{
	const struct chr_book *bk = chr_rec_payload(rec);
	struct chr_rec *r = made_rec(v, CHR_HDR_SIZE + sizeof(struct chr_gap));

	if (!r)
		return chr_err_set(e, CHR_EX_SYS, "out of memory");
	chr_gap_before(r, rec, rec->src_seq, m->m.venue, m->m.market, expected,
		       bk->update_id_first, CHR_GAP_UPDATE_ID);
	return put(v, r, e);
}

/* What chr_l2_apply found in rec, besides a new top: count it; in pass
 * mode, a GAP goes out first when the book cannot take rec. Returns the
 * bits to warn about, or -1 or -2. Kept out of the way of the common
 * record, which finds nothing. */
static __attribute__((noinline)) int found(struct chr_bookview *v, struct chr_bv_mkt *m,
					   const struct chr_rec *rec, int k, struct chr_err *e)
{
	int warn = k & (CHR_L2_GAP | CHR_L2_IGNORED | CHR_L2_CROSSED), r;
	int pass = v->mode == CHR_BV_PASS;

	if (k & CHR_L2_GAP) {
		v->n_gap++;
		if (pass && (r = gap_out(v, m, rec, m->m.before + 1, e)) < 0)
			return r;
		m->gap_out = 1;
		m->have_q = 0;	/* --bbo: the top went away */
	}
	if (k & CHR_L2_NOSNAP) {
		v->n_nosnap++;
		if (!m->gap_out) {
			warn |= CHR_L2_NOSNAP;
			if (pass && (r = gap_out(v, m, rec, 0, e)) < 0)
				return r;
			m->gap_out = 1;
		}
	}
	if (k & CHR_L2_STALE)
		v->n_stale++;
	if (k & CHR_L2_IGNORED)
		v->n_ignored++;
	if (k & CHR_L2_CROSSED)
		v->n_crossed++;
	return warn;
}

/* Apply a book record to m. Returns the bits to warn about, or -1 or -2. */
static inline int apply(struct chr_bookview *v, struct chr_bv_mkt *m, const struct chr_rec *rec,
			struct chr_err *e)
{
	int k = chr_books_apply(&m->m, rec, e), warn = 0;

	if (k < 0)
		return -1;
	if ((k & ~CHR_L2_TOP) && (warn = found(v, m, rec, k, e)) < 0)
		return warn;
	/* a GAP goes out once while the book is unknown: gap_out is only set
	 * while it is, so a known book now means a snapshot came */
	if (m->gap_out && chr_l2_known(m->m.b))
		m->gap_out = 0;
	return warn;
}

/* A GAP record of m's instrument in the input: the book is unknown from
 * here until the next snapshot, as after a gap found in a diff, and this
 * GAP is the one that marks it (none more before the next diff). The
 * views therefore read the same from a stream and from chr-book's own
 * output, which holds GAP records before the diffs that did not follow.
 * Returns 0: nothing to warn about, the gap is already marked. */
static int gap_in(struct chr_bv_mkt *m)
{
	chr_l2_reset(m->m.b);
	m->gap_out = 1;
	m->have_q = 0;
	return 0;
}

/* --every: every grid time that rec's ts passed, the books as of then */
static int grid_out(struct chr_bookview *v, const struct chr_rec *rec, struct chr_err *e)
{
	int k;

	if (v->grid == INT64_MIN)
		v->grid = rec->ts / v->every * v->every + (rec->ts % v->every > 0 ? v->every : 0);
	for (; rec->ts > v->grid; v->grid += v->every)
		for (size_t i = 0; i < v->books.tab.n; i++) {
			struct chr_bv_mkt *m = (struct chr_bv_mkt *)chr_books_at(&v->books, i);

			if (chr_l2_known(m->m.b) &&
			    (k = out_book(v, m, CHR_BOOK_TOPN, v->grid, rec->src_seq, e)) < 0)
				return k;
		}
	return 0;
}

/* Pass mode with snapshots: before rec, the snapshot chr_books_snap_due
 * asks for, unless rec is a diff that does not follow (a GAP goes before
 * it: the book there is not known). The same records as chr-snapinject
 * over chr-book's output, without applying every book record twice. */
static int snap_due(struct chr_bookview *v, struct chr_bv_mkt *m, const struct chr_rec *rec,
		    struct chr_err *e)
{
	size_t n;
	struct chr_rec *r;

	if (!chr_books_snap_due(&m->m, rec, v->snapshots) ||
	    (rec->type == CHR_BOOK_DIFF &&
	     chr_l2_follows(m->m.b, chr_rec_payload(rec)) == CHR_L2_GAP))
		return 0;
	if (chr_books_snap_size(&m->m, rec, &n, e) < 0)
		return -1;
	if (!(r = made_rec(v, CHR_HDR_SIZE + n)))
		return chr_err_set(e, CHR_EX_SYS, "out of memory");
	chr_books_snap_rec(&m->m, rec, r);
	v->n_snap++;
	return put(v, r, e);
}

int chr_bookview_rec(struct chr_bookview *v, const struct chr_rec *rec, struct chr_err *e)
{
	struct chr_bv_mkt *m;
	struct chr_mkt *d;
	int k, warn;

	if (v->first_ts == INT64_MIN)
		v->first_ts = rec->ts;
	if (rec->type == CHR_DEFINE) {
		if ((k = chr_books_define(&v->books, rec, &d)) < 0)
			return chr_err_set(e, CHR_EX_SYS, "out of memory");
		v->m = (struct chr_bv_mkt *)d;
		if (k == 1)
			v->m->def_out = 0;
		/* the views learn the names without showing the DEFINE */
		if (v->mode != CHR_BV_PASS)
			return v->out->kind == CHR_OUT_BINARY ||
				chr_out_skip(v->out, rec, e) == 0 ? 0 : -2;
		return put(v, rec, e);
	}
	/* a GAP of an instrument is a book record; one without (venue 0,
	 * market 0: records lost upstream, whose instruments are not known
	 * here) touches no book */
	if (rec->type == CHR_GAP ? rec->venue == 0 && rec->market == 0 :
	    rec->type != CHR_BOOK_SNAPSHOT && rec->type != CHR_BOOK_DIFF) {
		v->m = NULL;
		return v->mode == CHR_BV_PASS ? put(v, rec, e) : 0;
	}
	if (!(v->m = m = (struct chr_bv_mkt *)chr_books_get(&v->books, rec)))
		return chr_err_set(e, CHR_EX_SYS, "out of memory");
	m->last_ts = rec->ts;
	if (v->mode == CHR_BV_GRID && (k = grid_out(v, rec, e)) < 0)
		return k;
	if (v->mode == CHR_BV_BBO && m->open &&
	    rec->ts != ((const struct chr_rec *)m->last)->ts &&
	    (k = event_end(v, m, e)) < 0)
		return k;	/* an event without a LAST record */
	if (v->snapshots && (k = snap_due(v, m, rec, e)) < 0)
		return k;
	if (rec->type == CHR_GAP)
		warn = gap_in(m);
	else if ((warn = apply(v, m, rec, e)) < 0)
		return warn;
	if (v->mode == CHR_BV_PASS)
		return put(v, rec, e) < 0 ? -2 : warn;
	if (v->mode == CHR_BV_BBO) {
		memcpy(m->last, rec, CHR_HDR_SIZE);
		m->open = 1;
		if ((rec->flags & CHR_F_LAST) && (k = event_end(v, m, e)) < 0)
			return k;
	}
	return warn;
}

long chr_bookview_end(struct chr_bookview *v, struct chr_err *e)
{
	long unknown = 0;
	int k = 0;

	for (size_t i = 0; i < v->books.tab.n && k >= 0; i++) {
		struct chr_bv_mkt *m = (struct chr_bv_mkt *)chr_books_at(&v->books, i);

		if (v->mode == CHR_BV_BBO && m->open)
			k = event_end(v, m, e);
		if (v->mode != CHR_BV_AT)
			continue;
		if (!chr_l2_known(m->m.b)) {
			unknown++;
		} else {
			struct chr_fmt_age age = { m->last_ts, chr_bookview_stale(v, m) };

			v->out->fmt.age = &age;
			k = out_book(v, m, v->out->kind == CHR_OUT_CSV ? CHR_BOOK_TOPN :
				     CHR_BOOK_SNAPSHOT, v->at, 0, e);
			v->out->fmt.age = NULL;
		}
	}
	return k < 0 ? k : unknown;
}
