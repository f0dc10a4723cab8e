/* books.c - the books of a stream's instruments, bound to their DEFINEs. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "books.h"
#include "path.h"
#include "tm.h"

void chr_books_init(struct chr_books *t, size_t size)
{
	chr_tab_init(&t->tab, size);
}

void chr_books_free(struct chr_books *t)
{
	for (size_t i = 0; i < t->tab.n; i++)
		chr_l2_free(chr_books_at(t, i)->b);
	chr_tab_free(&t->tab);
}

static void name_set(struct chr_mkt *m)
{
	char venue[CHR_VENUE_MAX + 1], symbol[CHR_SYMBOL_MAX + 1];

	if (m->have_def && !chr_define_names(chr_rec_payload((const struct chr_rec *)m->def),
					     venue, symbol))
		snprintf(m->name, sizeof m->name, "%s %s", venue, symbol);
	else
		snprintf(m->name, sizeof m->name, "venue %u market %" PRIu32, m->venue, m->market);
}

struct chr_mkt *chr_books_fresh(struct chr_mkt *m, const struct chr_rec *r)
{
	m->venue = r->venue;
	m->market = r->market;
	name_set(m);
	if (!(m->b = chr_l2_new())) {
		errno = ENOMEM;
		return NULL;
	}
	return m;
}

int chr_books_define(struct chr_books *t, const struct chr_rec *def, struct chr_mkt **mp)
{
	struct chr_mkt *m = chr_books_get(t, def);

	if ((*mp = m) == NULL)
		return -1;
	if (m->have_def && memcmp(m->def + CHR_HDR_SIZE, chr_rec_payload(def),
				  sizeof(struct chr_define)) == 0)
		return 0;
	memcpy(m->def, def, chr_rec_span(def->len));
	m->have_def = 1;
	name_set(m);
	return 1;
}

int chr_books_apply_failed(const struct chr_mkt *m, const struct chr_rec *rec, struct chr_err *e)
{
	if (errno == ENOMEM)
		return chr_err_set(e, CHR_EX_SYS, "out of memory");
	return chr_err_set(e, CHR_EX_DATA, "%s: seq %" PRIu64 ": a level does not fit the book's "
			   "scale (price scale %d, size scale %d)", m->name, rec->seq,
			   chr_l2_price_scale(m->b), chr_l2_size_scale(m->b));
}

/* the payload of a BOOK_TOPN of depth levels a side */
static size_t topn_size(size_t depth)
{
	return sizeof(struct chr_book) + 2 * depth * sizeof(struct chr_level);
}

size_t chr_books_size(const struct chr_mkt *m, uint16_t type, size_t depth)
{
	size_t n = chr_l2_snapshot(m->b, depth, NULL, 0);

	/* a BOOK_TOPN is made from the snapshot in place */
	return type == CHR_BOOK_TOPN && topn_size(depth) > n ? topn_size(depth) : n;
}

void chr_books_rec(const struct chr_mkt *m, uint16_t type, size_t depth, struct chr_rec *r)
{
	size_t n = chr_l2_snapshot(m->b, depth, NULL, 0);
	struct chr_book *bk = chr_rec_payload(r);

	chr_l2_snapshot(m->b, depth, bk, n);
	r->len = (uint32_t)(CHR_HDR_SIZE + n);
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
		r->len = (uint32_t)(CHR_HDR_SIZE + topn_size(depth));
	}
	r->type = type;
	r->flags = CHR_F_SYNTHETIC;
	r->ts_event = m->ts_event;
	r->venue = m->venue;
	r->market = m->market;
}

static int64_t floor_div(int64_t a, int64_t b)
{
	return a / b - (a % b < 0);
}

int chr_books_snap_due(struct chr_mkt *m, const struct chr_rec *rec, int64_t interval)
{
	int64_t slot = floor_div(rec->ts, interval), day = chr_day_start(rec->ts);
	/* The records of an exchange event share ts, so a record in a new
	 * interval or day is the first of its event. */
	int due = m->sched && (slot != m->slot || day != m->day) &&
		rec->type != CHR_BOOK_SNAPSHOT && rec->type != CHR_GAP && chr_l2_known(m->b);

	m->sched = 1;
	m->slot = slot;
	m->day = day;
	return due;
}

int chr_books_snap_size(const struct chr_mkt *m, const struct chr_rec *rec, size_t *n,
			struct chr_err *e)
{
	if ((*n = chr_books_size(m, CHR_BOOK_SNAPSHOT, 0)) > CHR_REC_MAX - CHR_HDR_SIZE)
		return chr_err_set(e, CHR_EX_DATA, "%s: seq %" PRIu64 ": the book has %zu levels: too "
				   "many for one snapshot record", m->name, rec->seq,
				   chr_l2_levels(m->b, CHR_BID) + chr_l2_levels(m->b, CHR_ASK));
	return 0;
}

void chr_books_snap_rec(const struct chr_mkt *m, const struct chr_rec *rec, struct chr_rec *r)
{
	chr_books_rec(m, CHR_BOOK_SNAPSHOT, 0, r);
	r->flags |= CHR_F_LAST;
	r->seq = rec->seq;
	r->ts = rec->ts;
	r->src_seq = rec->src_seq;
	chr_rec_seal(r);
}
