/* t-books.c - the books of a stream's instruments: made once per
 * instrument, named by their DEFINE (bound again only when it changes),
 * applied with errors in struct chr_err, and written back as BOOK_SNAPSHOT
 * and BOOK_TOPN records. */
#include <errno.h>
#include <string.h>

#include "books.h"
#include "unit.h"

static _Alignas(64) unsigned char buf[4096];
static _Alignas(64) unsigned char made[4096];

static const struct chr_rec *define(uint16_t venue, uint32_t market, const char *v, const char *s)
{
	struct chr_rec *r = (struct chr_rec *)buf;
	struct chr_define *d = chr_rec_payload(r);

	memset(buf, 0, CHR_DEFINE_SPAN);
	r->len = CHR_HDR_SIZE + sizeof *d;
	r->type = CHR_DEFINE;
	r->venue = venue;
	r->market = market;
	strcpy(d->venue, v);
	strcpy(d->symbol, s);
	chr_rec_seal(r);
	return r;
}

/* a book record of venue 1 market 7: bids lv[0..nb), then asks */
static const struct chr_rec *book(uint16_t type, uint64_t id, int ps, size_t nb, size_t na,
				  const struct chr_level *lv)
{
	struct chr_rec *r = (struct chr_rec *)buf;
	struct chr_book *b = chr_rec_payload(r);

	memset(buf, 0, sizeof buf);
	r->len = (uint32_t)(CHR_HDR_SIZE + sizeof *b + (nb + na) * sizeof *lv);
	r->type = type;
	r->seq = 42;
	r->ts_event = 1000 + (int64_t)id;
	r->venue = 1;
	r->market = 7;
	b->update_id_first = b->update_id_last = id;
	b->update_id_prev = type == CHR_BOOK_DIFF ? id - 1 : 0;
	b->n_bid = (uint32_t)nb;
	b->n_ask = (uint32_t)na;
	b->price_scale = (int8_t)ps;
	memcpy(b->levels, lv, (nb + na) * sizeof *lv);
	chr_rec_seal(r);
	return r;
}

#define LV(...) ((const struct chr_level[]){__VA_ARGS__})

struct own {
	struct chr_mkt m;
	int mine;
};

int main(void)
{
	struct chr_books t;
	struct chr_mkt *m, *d;
	struct chr_err e;
	struct chr_rec *r = (struct chr_rec *)made;
	const struct chr_book *bk = chr_rec_payload(r);
	int k;

	chr_books_init(&t, sizeof(struct own));
	/* a book before its DEFINE is named by ids, then by the DEFINE */
	m = chr_books_get(&t, book(CHR_BOOK_SNAPSHOT, 5, 1, 1, 1, LV({1000, 2}, {1001, 3})));
	CHECK(m && m->b && t.tab.n == 1 && ((struct own *)m)->mine == 0);
	CHECK_STR(m->name, "venue 1 market 7");
	CHECK(chr_books_define(&t, define(1, 7, "binance", "BTCUSDT"), &d) == 1 && d == m);
	CHECK_STR(m->name, "binance BTCUSDT");
	CHECK(chr_books_define(&t, define(1, 7, "binance", "BTCUSDT"), &d) == 0);
	CHECK(chr_books_define(&t, define(1, 7, "binance", "ETHUSDT"), &d) == 1);
	CHECK_STR(m->name, "binance ETHUSDT");
	CHECK(chr_books_define(&t, define(2, 7, "okx", "BTC-USD"), &d) == 1 && d != m);
	CHECK(t.tab.n == 2 && chr_books_at(&t, 0) == m && chr_books_at(&t, 1) == d);

	/* apply: bits, update ids before, ts_event */
	k = chr_books_apply(m, book(CHR_BOOK_SNAPSHOT, 5, 1, 1, 1, LV({1000, 2}, {1001, 3})), &e);
	CHECK(k >= 0 && chr_l2_known(m->b) && m->ts_event == 1005);
	k = chr_books_apply(m, book(CHR_BOOK_DIFF, 7, 1, 1, 0, LV({999, 1})), &e);
	CHECK(k >= 0 && (k & CHR_L2_GAP) && m->before == 5 && !chr_l2_known(m->b));
	k = chr_books_apply(m, book(CHR_BOOK_SNAPSHOT, 9, 1, 2, 1,
				  LV({1000, 2}, {999, 1}, {1001, 3})), &e);
	CHECK(k >= 0 && chr_l2_known(m->b));
	/* a level that cannot be held at the book's scale is bad data */
	k = chr_books_apply(m, book(CHR_BOOK_DIFF, 10, 19, 1, 0, LV({INT64_MAX, 1})), &e);
	CHECK(k == -1 && e.status == CHR_EX_DATA &&
	      strncmp(e.msg, "binance ETHUSDT: seq 42: a level does not fit", 45) == 0);

	/* the book written back: a snapshot of all, a TOPN spread to depth */
	memset(made, 0, sizeof made);
	CHECK(chr_books_size(m, CHR_BOOK_SNAPSHOT, 0) ==
	      sizeof(struct chr_book) + 3 * sizeof(struct chr_level));
	chr_books_rec(m, CHR_BOOK_SNAPSHOT, 0, r);
	CHECK(r->type == CHR_BOOK_SNAPSHOT && r->flags == CHR_F_SYNTHETIC && r->venue == 1 &&
	      r->market == 7 && r->ts_event == 1009 && bk->n_bid == 2 && bk->n_ask == 1 &&
	      r->len == CHR_HDR_SIZE + chr_books_size(m, CHR_BOOK_SNAPSHOT, 0));
	memset(made, 0, sizeof made);
	CHECK(chr_books_size(m, CHR_BOOK_TOPN, 3) ==
	      sizeof(struct chr_book) + 6 * sizeof(struct chr_level));
	chr_books_rec(m, CHR_BOOK_TOPN, 3, r);
	CHECK(r->type == CHR_BOOK_TOPN && bk->n_bid == 3 && bk->n_ask == 3 &&
	      r->len == CHR_HDR_SIZE + sizeof(struct chr_book) + 6 * sizeof(struct chr_level));
	CHECK(bk->levels[0].price == 1000 && bk->levels[1].price == 999 &&
	      bk->levels[2].price == CHR_NULL && bk->levels[3].price == 1001 &&
	      bk->levels[4].size == CHR_NULL && bk->levels[5].price == CHR_NULL);
	/* a TOPN of depth 0 is made from the whole snapshot in place */
	CHECK(chr_books_size(m, CHR_BOOK_TOPN, 0) == chr_books_size(m, CHR_BOOK_SNAPSHOT, 0));

	/* warnings: shown up to CHR_BOOKS_WARN_MAX, the last one said so */
	for (k = 1; k < CHR_BOOKS_WARN_MAX; k++)
		CHECK(chr_books_warn_due(d) == 1);
	CHECK(chr_books_warn_due(d) == 2 && chr_books_warn_due(d) == 0);
	chr_books_free(&t);

	return unit_done("t-books");
}
