/* t-book.c - the L2 book: hand-made cases for every rule of chr_l2_apply,
 * snapshots out and back in, the table of books, and a long random run
 * checked after every record against a plain reference book. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "book.h"
#include "dec.h"
#include "rec.h"
#include "unit.h"

#define MAXLV 20000

static _Alignas(64) unsigned char recbuf[CHR_HDR_SIZE + sizeof(struct chr_book) +
					 MAXLV * sizeof(struct chr_level) + 64];

/* A sealed book record in recbuf: levels lv[0..nb) are bids, then na asks. */
static const struct chr_rec *mk(uint16_t type, uint64_t first, uint64_t last, uint64_t prev,
				int ps, int ss, size_t nb, size_t na, const struct chr_level *lv)
{
	struct chr_rec *r = (struct chr_rec *)recbuf;
	struct chr_book *b = chr_rec_payload(r);

	memset(recbuf, 0, CHR_HDR_SIZE + sizeof *b);
	r->len = (uint32_t)(CHR_HDR_SIZE + sizeof *b + (nb + na) * sizeof *lv);
	r->type = type;
	r->venue = 1;
	r->market = 7;
	b->update_id_first = first;
	b->update_id_last = last;
	b->update_id_prev = prev;
	b->n_bid = (uint32_t)nb;
	b->n_ask = (uint32_t)na;
	b->price_scale = (int8_t)ps;
	b->size_scale = (int8_t)ss;
	if (nb + na > 0)
		memcpy(b->levels, lv, (nb + na) * sizeof *lv);
	chr_rec_seal(r);
	return r;
}

#define LV(...) ((const struct chr_level[]){__VA_ARGS__})
#define N(...) (sizeof((const struct chr_level[]){__VA_ARGS__}) / sizeof(struct chr_level))

static const struct chr_rec *snap(uint64_t id, int ps, int ss, size_t nb, size_t na,
				  const struct chr_level *lv)
{
	return mk(CHR_BOOK_SNAPSHOT, id, id, 0, ps, ss, nb, na, lv);
}

static const struct chr_rec *diff(uint64_t id, int ps, int ss, size_t nb, size_t na,
				  const struct chr_level *lv)
{
	return mk(CHR_BOOK_DIFF, id, id, id - 1, ps, ss, nb, na, lv);
}

/* Is side exactly want[0..n), best first? */
static int side_is(const struct chr_l2 *b, int side, const struct chr_level *want, size_t n)
{
	static struct chr_level got[MAXLV];

	if (chr_l2_levels(b, side) != n || n > MAXLV)
		return 0;
	if (chr_l2_depth(b, side, MAXLV, got) != n)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (got[i].price != want[i].price || got[i].size != want[i].size)
			return 0;
	return 1;
}

#define BIDS(b, ...) side_is(b, CHR_BID, LV(__VA_ARGS__), N(__VA_ARGS__))
#define ASKS(b, ...) side_is(b, CHR_ASK, LV(__VA_ARGS__), N(__VA_ARGS__))

/* A book with bids 100.0, 99.9, 99.5 and asks 100.1, 100.2, 101.0 (price
 * scale 1, size scale 3), update id 10. */
static struct chr_l2 *base_book(void)
{
	struct chr_l2 *b = chr_l2_new();

	CHECK(b != NULL);
	CHECK(chr_l2_apply(b, snap(10, 1, 3, 3, 3,
				   LV({1000, 1000}, {999, 2000}, {995, 3000},
				      {1001, 500}, {1002, 600}, {1010, 700}))) == CHR_L2_TOP);
	return b;
}

static void test_snapshot_and_diffs(void)
{
	struct chr_l2 *b = chr_l2_new();
	struct chr_level l;

	CHECK(!chr_l2_known(b));
	CHECK(chr_l2_best(b, CHR_BID, &l) == -1);
	CHECK(chr_l2_levels(b, CHR_ASK) == 0);
	CHECK(chr_l2_apply(b, diff(5, 1, 3, 1, 0, LV({1000, 1}))) == CHR_L2_NOSNAP);
	CHECK(chr_l2_levels(b, CHR_BID) == 0);
	chr_l2_free(b);

	b = base_book();
	CHECK(chr_l2_known(b));
	CHECK(chr_l2_update_id(b) == 10);
	CHECK(chr_l2_price_scale(b) == 1 && chr_l2_size_scale(b) == 3);
	CHECK(BIDS(b, {1000, 1000}, {999, 2000}, {995, 3000}));
	CHECK(ASKS(b, {1001, 500}, {1002, 600}, {1010, 700}));
	CHECK(chr_l2_best(b, CHR_ASK, &l) == 0 && l.price == 1001 && l.size == 500);
	{
		struct chr_level two[2];

		CHECK(chr_l2_depth(b, CHR_BID, 2, two) == 2 && two[1].price == 999);
		CHECK(chr_l2_depth(b, CHR_BID, 0, two) == 0);
	}

	/* a size change below the top: no TOP */
	CHECK(chr_l2_apply(b, diff(11, 1, 3, 1, 0, LV({999, 2500}))) == 0);
	CHECK(BIDS(b, {1000, 1000}, {999, 2500}, {995, 3000}));
	CHECK(chr_l2_update_id(b) == 11);
	/* the top's size changes */
	CHECK(chr_l2_apply(b, diff(12, 1, 3, 0, 1, LV({1001, 501}))) == CHR_L2_TOP);
	/* a new level inside the book, the best bid removed, an ask removed */
	CHECK(chr_l2_apply(b, diff(13, 1, 3, 2, 1, LV({997, 10}, {1000, 0}, {1002, 0}))) ==
	      CHR_L2_TOP);
	CHECK(BIDS(b, {999, 2500}, {997, 10}, {995, 3000}));
	CHECK(ASKS(b, {1001, 501}, {1010, 700}));
	/* removing a level that is not there changes nothing and is no error */
	CHECK(chr_l2_apply(b, diff(14, 1, 3, 1, 1, LV({998, 0}, {1005, 0}))) == 0);
	CHECK(BIDS(b, {999, 2500}, {997, 10}, {995, 3000}));
	CHECK(ASKS(b, {1001, 501}, {1010, 700}));
	/* a new best bid */
	CHECK(chr_l2_apply(b, diff(15, 1, 3, 1, 0, LV({1000, 4}))) == CHR_L2_TOP);
	CHECK(BIDS(b, {1000, 4}, {999, 2500}, {997, 10}, {995, 3000}));
	/* emptying a side */
	CHECK(chr_l2_apply(b, diff(16, 1, 3, 0, 2, LV({1001, 0}, {1010, 0}))) == CHR_L2_TOP);
	CHECK(chr_l2_levels(b, CHR_ASK) == 0 && chr_l2_best(b, CHR_ASK, &l) == -1);
	CHECK(chr_l2_apply(b, diff(17, 1, 3, 0, 1, LV({1003, 9}))) == CHR_L2_TOP);
	CHECK(ASKS(b, {1003, 9}));
	/* an empty diff */
	CHECK(chr_l2_apply(b, diff(18, 1, 3, 0, 0, NULL)) == 0);
	CHECK(chr_l2_update_id(b) == 18);

	/* a new snapshot replaces everything, scales included */
	CHECK(chr_l2_apply(b, snap(3, 0, 0, 1, 1, LV({50, 1}, {60, 2}))) == CHR_L2_TOP);
	CHECK(BIDS(b, {50, 1}) && ASKS(b, {60, 2}));
	CHECK(chr_l2_price_scale(b) == 0 && chr_l2_size_scale(b) == 0);
	CHECK(chr_l2_update_id(b) == 3);
	/* the same snapshot again: the top did not change */
	CHECK(chr_l2_apply(b, snap(3, 0, 0, 1, 1, LV({50, 1}, {60, 2}))) == 0);
	/* the same top at other scales is the same top */
	CHECK(chr_l2_apply(b, snap(4, 2, 1, 1, 1, LV({5000, 10}, {6000, 20}))) == 0);
	/* an empty snapshot: known, empty */
	CHECK(chr_l2_apply(b, snap(5, 0, 0, 0, 0, NULL)) == CHR_L2_TOP);
	CHECK(chr_l2_known(b) && chr_l2_levels(b, CHR_BID) == 0);
	chr_l2_free(b);
}

static void test_odd_levels(void)
{
	struct chr_l2 *b = base_book();

	/* absent prices and sizes, negative sizes: ignored, the rest applied */
	CHECK(chr_l2_apply(b, diff(11, 1, 3, 3, 1,
				   LV({CHR_NULL, 5}, {999, CHR_NULL}, {998, 7}, {1005, -3}))) ==
	      CHR_L2_IGNORED);
	CHECK(BIDS(b, {1000, 1000}, {999, 2000}, {998, 7}, {995, 3000}));
	CHECK(ASKS(b, {1001, 500}, {1002, 600}, {1010, 700}));
	CHECK(chr_l2_update_id(b) == 11);

	/* a snapshot out of order, with a repeated price (the last wins), a
	 * zero size and an absent one */
	CHECK(chr_l2_apply(b, snap(20, 1, 3, 5, 4,
				   LV({990, 1}, {1000, 2}, {995, 3}, {990, 4}, {980, 0},
				      {1003, 5}, {1001, CHR_NULL}, {1002, 6}, {1003, 0}))) ==
	      (CHR_L2_TOP | CHR_L2_IGNORED));
	CHECK(BIDS(b, {1000, 2}, {995, 3}, {990, 4}));
	CHECK(ASKS(b, {1002, 6}));
	/* in order, but a repeated price still wins last */
	CHECK(chr_l2_apply(b, snap(21, 1, 3, 2, 0, LV({1000, 2}, {1000, 5}))) == CHR_L2_TOP);
	CHECK(BIDS(b, {1000, 5}) && chr_l2_levels(b, CHR_ASK) == 0);
	/* a repeated price in a diff: the last wins */
	CHECK(chr_l2_apply(b, diff(22, 1, 3, 3, 0, LV({999, 1}, {999, 0}, {998, 4}))) == 0);
	CHECK(BIDS(b, {1000, 5}, {998, 4}));

	/* not a book record */
	{
		const struct chr_rec *r = mk(CHR_BOOK_TOPN, 1, 1, 0, 1, 3, 0, 0, NULL);
		struct chr_rec *w = (struct chr_rec *)recbuf;

		errno = 0;
		CHECK(chr_l2_apply(b, r) == -1 && errno == EINVAL);
		w->type = CHR_TRADE;
		errno = 0;
		CHECK(chr_l2_apply(b, w) == -1 && errno == EINVAL);
		/* counts that disagree with the length */
		r = diff(23, 1, 3, 1, 0, LV({1000, 1}));
		((struct chr_book *)chr_rec_payload(r))->n_ask = 1;
		errno = 0;
		CHECK(chr_l2_apply(b, r) == -1 && errno == EINVAL);
		CHECK(BIDS(b, {1000, 5}, {998, 4}));
		CHECK(chr_l2_update_id(b) == 22);
	}
	chr_l2_free(b);
}

static void test_scales(void)
{
	struct chr_l2 *b = base_book();
	struct chr_level before_b[8], before_a[8];
	size_t nb, na;

	/* a diff with fewer fraction digits is raised to the book's: 1000 at
	 * price scale 0 and size scale 1 is 1000.0 x 0.5 */
	CHECK(chr_l2_apply(b, diff(11, 0, 1, 1, 0, LV({100, 5}))) == CHR_L2_TOP);
	CHECK(BIDS(b, {1000, 500}, {999, 2000}, {995, 3000}));
	CHECK(chr_l2_price_scale(b) == 1 && chr_l2_size_scale(b) == 3);

	/* more fraction digits raise the book: 99.95 x 0.00001 */
	CHECK(chr_l2_apply(b, diff(12, 2, 5, 1, 0, LV({9995, 1}))) == 0);
	CHECK(chr_l2_price_scale(b) == 2 && chr_l2_size_scale(b) == 5);
	CHECK(BIDS(b, {10000, 50000}, {9995, 1}, {9990, 200000}, {9950, 300000}));
	CHECK(ASKS(b, {10010, 50000}, {10020, 60000}, {10100, 70000}));
	/* and the same value at the old scale finds the raised level */
	CHECK(chr_l2_apply(b, diff(13, 1, 3, 1, 1, LV({999, 0}, {1001, 1}))) == CHR_L2_TOP);
	CHECK(BIDS(b, {10000, 50000}, {9995, 1}, {9950, 300000}));
	CHECK(ASKS(b, {10010, 100}, {10020, 60000}, {10100, 70000}));
	chr_l2_free(b);

	/* raising would overflow a stored size: -1, ERANGE, nothing changed */
	b = chr_l2_new();
	CHECK(chr_l2_apply(b, snap(1, 0, 0, 2, 1,
				   LV({100, INT64_MAX / 10}, {99, 1}, {101, 1}))) == CHR_L2_TOP);
	nb = chr_l2_depth(b, CHR_BID, 8, before_b);
	na = chr_l2_depth(b, CHR_ASK, 8, before_a);
	errno = 0;
	CHECK(chr_l2_apply(b, diff(2, 0, 2, 1, 0, LV({98, 5}))) == -1 && errno == ERANGE);
	CHECK(chr_l2_size_scale(b) == 0 && chr_l2_update_id(b) == 1);
	CHECK(side_is(b, CHR_BID, before_b, nb) && side_is(b, CHR_ASK, before_a, na));
	/* one digit more still fits: INT64_MAX / 10 * 10 */
	CHECK(chr_l2_apply(b, diff(2, 0, 1, 1, 0, LV({98, 5}))) == 0);
	CHECK(BIDS(b, {100, INT64_MAX / 10 * 10}, {99, 10}, {98, 5}));
	chr_l2_free(b);

	/* raising would overflow a stored price (the lowest bid, the highest ask) */
	b = chr_l2_new();
	CHECK(chr_l2_apply(b, snap(1, 0, 0, 2, 1, LV({5, 1}, {-(INT64_MAX / 5), 1}, {6, 1}))) ==
	      CHR_L2_TOP);
	CHECK(chr_l2_apply(b, diff(2, 1, 0, 0, 1, LV({70, 1}))) == -1 && errno == ERANGE);
	CHECK(BIDS(b, {5, 1}, {-(INT64_MAX / 5), 1}) && ASKS(b, {6, 1}));
	CHECK(chr_l2_price_scale(b) == 0);
	CHECK(chr_l2_apply(b, snap(1, 0, 0, 1, 2, LV({5, 1}, {6, 1}, {INT64_MAX / 5, 1}))) ==
	      0);
	CHECK(chr_l2_apply(b, diff(2, 1, 0, 0, 1, LV({70, 1}))) == -1 && errno == ERANGE);
	CHECK(BIDS(b, {5, 1}) && ASKS(b, {6, 1}, {INT64_MAX / 5, 1}));
	CHECK(chr_l2_apply(b, diff(2, 1, 0, 0, 1, LV({70, 0}))) == -1 && errno == ERANGE);
	CHECK(chr_l2_price_scale(b) == 0);
	chr_l2_free(b);

	/* a diff value that overflows when raised to the book's scale: 10^18
	 * x 10 at scale 18 does not fit; the book is unchanged, even though
	 * the diff's other levels were fine */
	b = chr_l2_new();
	CHECK(chr_l2_apply(b, snap(1, 18, 0, 1, 0, LV({1, 1}))) == CHR_L2_TOP);
	CHECK(chr_l2_apply(b, diff(2, 0, 0, 2, 0, LV({0, 3}, {10, 1}))) == -1 && errno == ERANGE);
	CHECK(BIDS(b, {1, 1}) && chr_l2_update_id(b) == 1);
	CHECK(chr_l2_apply(b, diff(2, 0, 0, 2, 0, LV({0, 3}, {9, 1}))) == CHR_L2_TOP);
	CHECK(BIDS(b, {9 * chr_pow10[18], 1}, {1, 1}, {0, 3}));
	/* -9.223372036854775808 (INT64_MIN at scale 18) is CHR_NULL: refused */
	CHECK(chr_l2_apply(b, diff(3, 0, 0, 1, 0, LV({-9, 1}))) == 0);
	CHECK(chr_l2_levels(b, CHR_BID) == 4);
	chr_l2_free(b);
}

static void test_ids(void)
{
	struct chr_l2 *b = base_book();

	/* stale: wholly at or before the book's id */
	CHECK(chr_l2_apply(b, mk(CHR_BOOK_DIFF, 9, 10, 8, 1, 3, 1, 0, LV({1000, 1}))) ==
	      CHR_L2_STALE);
	CHECK(chr_l2_apply(b, mk(CHR_BOOK_DIFF, 3, 4, 2, 1, 3, 1, 0, LV({1000, 1}))) ==
	      CHR_L2_STALE);
	CHECK(BIDS(b, {1000, 1000}, {999, 2000}, {995, 3000}));
	CHECK(chr_l2_update_id(b) == 10);
	/* the first diff after a snapshot may straddle it (Binance futures:
	 * U <= lastUpdateId + 1 <= u), whatever its prev */
	CHECK(chr_l2_apply(b, mk(CHR_BOOK_DIFF, 8, 15, 7, 1, 3, 1, 0, LV({999, 1}))) == 0);
	CHECK(chr_l2_update_id(b) == 15);
	/* later ones follow by prev */
	CHECK(chr_l2_apply(b, mk(CHR_BOOK_DIFF, 16, 20, 15, 1, 3, 1, 0, LV({999, 2}))) == 0);
	CHECK(chr_l2_apply(b, mk(CHR_BOOK_DIFF, 30, 31, 20, 1, 3, 1, 0, LV({999, 3}))) == 0);
	CHECK(chr_l2_update_id(b) == 31);
	/* or, with prev 0, by first <= last + 1 */
	CHECK(chr_l2_apply(b, mk(CHR_BOOK_DIFF, 32, 33, 0, 1, 3, 1, 0, LV({999, 4}))) == 0);
	CHECK(chr_l2_apply(b, mk(CHR_BOOK_DIFF, 30, 35, 0, 1, 3, 1, 0, LV({999, 5}))) == 0);
	CHECK(chr_l2_update_id(b) == 35);
	/* a diff with no ids is not tracked: applied, the id kept */
	CHECK(chr_l2_apply(b, mk(CHR_BOOK_DIFF, 0, 0, 0, 1, 3, 1, 0, LV({999, 6}))) == 0);
	CHECK(chr_l2_update_id(b) == 35);
	CHECK(BIDS(b, {1000, 1000}, {999, 6}, {995, 3000}));
	/* prev 0 and a hole: a gap; the book is cleared and unknown */
	CHECK(chr_l2_apply(b, mk(CHR_BOOK_DIFF, 37, 37, 0, 1, 3, 1, 0, LV({999, 7}))) ==
	      (CHR_L2_GAP | CHR_L2_TOP));
	CHECK(!chr_l2_known(b) && chr_l2_levels(b, CHR_BID) == 0 && chr_l2_levels(b, CHR_ASK) == 0);
	CHECK(chr_l2_update_id(b) == 35);	/* what was expected stays readable */
	/* unknown: diffs are ignored, even the one that would have followed */
	CHECK(chr_l2_apply(b, mk(CHR_BOOK_DIFF, 36, 36, 35, 1, 3, 1, 0, LV({999, 7}))) ==
	      CHR_L2_NOSNAP);
	CHECK(chr_l2_levels(b, CHR_BID) == 0);
	CHECK(chr_l2_apply(b, snap(40, 1, 3, 1, 1, LV({1000, 1}, {1001, 1}))) == CHR_L2_TOP);
	CHECK(chr_l2_known(b) && chr_l2_update_id(b) == 40);
	/* the first diff after a snapshot must reach it: first > last + 1 is a
	 * gap, unless its prev is the snapshot's id */
	CHECK(chr_l2_apply(b, mk(CHR_BOOK_DIFF, 42, 43, 41, 1, 3, 1, 0, LV({999, 1}))) ==
	      (CHR_L2_GAP | CHR_L2_TOP));
	CHECK(!chr_l2_known(b));
	CHECK(chr_l2_apply(b, snap(40, 1, 3, 1, 1, LV({1000, 1}, {1001, 1}))) == CHR_L2_TOP);
	/* Binance futures: the diff whose u is the snapshot's id is stale, the
	 * next follows it by pu */
	CHECK(chr_l2_apply(b, mk(CHR_BOOK_DIFF, 35, 40, 30, 1, 3, 1, 0, LV({999, 1}))) ==
	      CHR_L2_STALE);
	CHECK(chr_l2_apply(b, mk(CHR_BOOK_DIFF, 42, 43, 40, 1, 3, 1, 0, LV({999, 1}))) == 0);
	CHECK(chr_l2_known(b) && chr_l2_update_id(b) == 43);
	chr_l2_reset(b);
	/* a later diff with the wrong prev is a gap */
	CHECK(chr_l2_apply(b, snap(50, 1, 3, 1, 1, LV({1000, 1}, {1001, 1}))) == CHR_L2_TOP);
	CHECK(chr_l2_apply(b, mk(CHR_BOOK_DIFF, 51, 52, 50, 1, 3, 1, 0, LV({999, 1}))) == 0);
	CHECK(chr_l2_apply(b, mk(CHR_BOOK_DIFF, 53, 54, 51, 1, 3, 1, 0, LV({999, 1}))) ==
	      (CHR_L2_GAP | CHR_L2_TOP));
	/* a gap on an empty book: nothing on top changed */
	CHECK(chr_l2_apply(b, snap(60, 1, 3, 0, 0, NULL)) == 0);
	CHECK(chr_l2_apply(b, mk(CHR_BOOK_DIFF, 70, 70, 69, 1, 3, 0, 0, NULL)) == CHR_L2_GAP);
	/* reset: unknown until a snapshot */
	CHECK(chr_l2_apply(b, snap(80, 1, 3, 1, 0, LV({1000, 1}))) == CHR_L2_TOP);
	chr_l2_reset(b);
	CHECK(!chr_l2_known(b) && chr_l2_levels(b, CHR_BID) == 0);
	CHECK(chr_l2_apply(b, diff(81, 1, 3, 1, 0, LV({1000, 2}))) == CHR_L2_NOSNAP);
	chr_l2_free(b);

	/* a snapshot without ids: the first tracked diff starts them */
	b = chr_l2_new();
	CHECK(chr_l2_apply(b, snap(0, 1, 3, 1, 0, LV({1000, 1}))) == CHR_L2_TOP);
	CHECK(chr_l2_update_id(b) == 0);
	CHECK(chr_l2_apply(b, mk(CHR_BOOK_DIFF, 500, 501, 499, 1, 3, 1, 0, LV({999, 1}))) == 0);
	CHECK(chr_l2_update_id(b) == 501);
	CHECK(chr_l2_apply(b, mk(CHR_BOOK_DIFF, 0, 0, 0, 1, 3, 1, 0, LV({998, 1}))) == 0);
	CHECK(chr_l2_apply(b, mk(CHR_BOOK_DIFF, 501, 501, 500, 1, 3, 1, 0, LV({997, 1}))) ==
	      CHR_L2_STALE);
	CHECK(chr_l2_apply(b, mk(CHR_BOOK_DIFF, 502, 502, 501, 1, 3, 1, 0, LV({997, 1}))) == 0);
	CHECK(chr_l2_apply(b, mk(CHR_BOOK_DIFF, 504, 504, 503, 1, 3, 1, 0, LV({996, 1}))) ==
	      (CHR_L2_GAP | CHR_L2_TOP));
	chr_l2_free(b);
}

static void test_crossed(void)
{
	struct chr_l2 *b = base_book();

	/* a bid at 100.15 crosses the ask at 100.1: that ask goes */
	CHECK(chr_l2_apply(b, diff(11, 2, 3, 1, 0, LV({10015, 1}))) ==
	      (CHR_L2_TOP | CHR_L2_CROSSED));
	CHECK(BIDS(b, {10015, 1}, {10000, 1000}, {9990, 2000}, {9950, 3000}));
	CHECK(ASKS(b, {10020, 600}, {10100, 700}));
	/* a bid at an ask's price crosses it too */
	CHECK(chr_l2_apply(b, diff(12, 1, 3, 1, 0, LV({1002, 2}))) ==
	      (CHR_L2_TOP | CHR_L2_CROSSED));
	CHECK(ASKS(b, {10100, 700}));
	/* an ask at 99.9 removes every bid at or above it */
	CHECK(chr_l2_apply(b, diff(13, 1, 3, 0, 1, LV({999, 5}))) ==
	      (CHR_L2_TOP | CHR_L2_CROSSED));
	CHECK(BIDS(b, {9950, 3000}));
	CHECK(ASKS(b, {9990, 5}, {10100, 700}));
	chr_l2_free(b);

	/* a crossed snapshot is kept as it is, and reported */
	b = chr_l2_new();
	CHECK(chr_l2_apply(b, snap(1, 0, 0, 2, 2, LV({105, 1}, {100, 1}, {103, 1}, {106, 1}))) ==
	      (CHR_L2_TOP | CHR_L2_CROSSED));
	CHECK(BIDS(b, {105, 1}, {100, 1}) && ASKS(b, {103, 1}, {106, 1}));
	/* a diff that does not touch the crossing: still crossed, nothing removed */
	CHECK(chr_l2_apply(b, diff(2, 0, 0, 1, 0, LV({90, 1}))) == CHR_L2_CROSSED);
	CHECK(BIDS(b, {105, 1}, {100, 1}, {90, 1}) && ASKS(b, {103, 1}, {106, 1}));
	/* a diff that crosses itself: the older levels its levels cross go
	 * (asks at or below its bid 107, bids at or above its ask 104), its
	 * own stay, and the book stays crossed */
	CHECK(chr_l2_apply(b, diff(3, 0, 0, 1, 1, LV({107, 2}, {104, 2}))) ==
	      (CHR_L2_TOP | CHR_L2_CROSSED));
	CHECK(BIDS(b, {107, 2}, {100, 1}, {90, 1}));
	CHECK(ASKS(b, {104, 2}));
	/* a diff that sets a bid and an ask at one price: both stay */
	CHECK(chr_l2_apply(b, snap(4, 0, 0, 2, 2, LV({100, 1}, {99, 1}, {101, 1}, {103, 1}))) ==
	      CHR_L2_TOP);
	CHECK(chr_l2_apply(b, diff(5, 0, 0, 1, 1, LV({102, 4}, {102, 5}))) ==
	      (CHR_L2_TOP | CHR_L2_CROSSED));
	CHECK(BIDS(b, {102, 4}, {100, 1}, {99, 1}) && ASKS(b, {102, 5}, {103, 1}));
	/* an ask that crosses old bids: they go, down to it */
	CHECK(chr_l2_apply(b, snap(4, 0, 0, 3, 2,
				   LV({102, 1}, {101, 1}, {99, 1}, {103, 1}, {104, 1}))) ==
	      CHR_L2_TOP);
	CHECK(chr_l2_apply(b, diff(5, 0, 0, 0, 1, LV({101, 3}))) == (CHR_L2_TOP | CHR_L2_CROSSED));
	CHECK(BIDS(b, {99, 1}) && ASKS(b, {101, 3}, {103, 1}, {104, 1}));
	/* a bid set and removed in the same diff crosses nothing */
	CHECK(chr_l2_apply(b, diff(6, 0, 0, 2, 0, LV({105, 1}, {105, 0}))) == 0);
	CHECK(BIDS(b, {99, 1}) && ASKS(b, {101, 3}, {103, 1}, {104, 1}));
	chr_l2_free(b);
}

/* Apply a snapshot made by chr_l2_snapshot to a new book: the same book. */
static void roundtrip(const struct chr_l2 *b, size_t depth)
{
	static _Alignas(64) unsigned char out[CHR_HDR_SIZE + sizeof(struct chr_book) +
					      MAXLV * sizeof(struct chr_level) + 64];
	struct chr_rec *r = (struct chr_rec *)out;
	struct chr_book *bk = chr_rec_payload(r);
	size_t need = chr_l2_snapshot(b, depth, NULL, 0), nb, na;
	struct chr_l2 *c = chr_l2_new();
	struct chr_level *x = malloc(2 * MAXLV * sizeof *x), *y = x + MAXLV;
	int same = 1;

	nb = chr_l2_levels(b, CHR_BID);
	na = chr_l2_levels(b, CHR_ASK);
	if (depth > 0) {
		nb = nb < depth ? nb : depth;
		na = na < depth ? na : depth;
	}
	CHECK(need == sizeof *bk + (nb + na) * sizeof(struct chr_level));
	CHECK(need <= sizeof out - CHR_HDR_SIZE - 64);
	memset(out, 0xee, sizeof out);
	CHECK(chr_l2_snapshot(b, depth, bk, need - 1) == need);
	CHECK(out[CHR_HDR_SIZE] == 0xee);	/* too small: nothing written */
	CHECK(chr_l2_snapshot(b, depth, bk, need) == need);
	memset(r, 0, CHR_HDR_SIZE);
	r->len = (uint32_t)(CHR_HDR_SIZE + need);
	r->type = CHR_BOOK_SNAPSHOT;
	chr_rec_seal(r);
	CHECK(chr_rec_check(r) == NULL);	/* reserved bytes zero, layout right */
	CHECK(bk->update_id_first == chr_l2_update_id(b) && bk->update_id_last == bk->update_id_first);
	/* 0, or the id when the book is past its first diff (test_snapshot_fresh) */
	CHECK(bk->update_id_prev == 0 || bk->update_id_prev == bk->update_id_last);
	CHECK(bk->n_bid == nb && bk->n_ask == na);
	CHECK(bk->price_scale == chr_l2_price_scale(b) && bk->size_scale == chr_l2_size_scale(b));
	CHECK(chr_l2_apply(c, r) >= 0);
	CHECK(chr_l2_levels(c, CHR_BID) == nb && chr_l2_levels(c, CHR_ASK) == na);
	CHECK(chr_l2_price_scale(c) == chr_l2_price_scale(b));
	CHECK(chr_l2_size_scale(c) == chr_l2_size_scale(b));
	CHECK(chr_l2_update_id(c) == chr_l2_update_id(b));
	for (int side = 0; side < 2; side++) {
		size_t n = side == CHR_BID ? nb : na;

		CHECK(chr_l2_depth(b, side, n, x) == n && chr_l2_depth(c, side, MAXLV, y) == n);
		if (memcmp(x, y, n * sizeof *x) != 0)
			same = 0;
	}
	CHECK(same);
	free(x);
	chr_l2_free(c);
}

/* b's book as a BOOK_SNAPSHOT record (chr_l2_snapshot), applied to a new
 * book, which is returned. */
static struct chr_l2 *copy_of(const struct chr_l2 *b, uint64_t *prev)
{
	static _Alignas(64) unsigned char out[CHR_HDR_SIZE + sizeof(struct chr_book) + 1024];
	struct chr_rec *r = (struct chr_rec *)out;
	struct chr_book *bk = chr_rec_payload(r);
	size_t need = chr_l2_snapshot(b, 0, NULL, 0);
	struct chr_l2 *c = chr_l2_new();

	CHECK(c != NULL && need <= sizeof out - CHR_HDR_SIZE);
	memset(out, 0, sizeof out);
	CHECK(chr_l2_snapshot(b, 0, bk, need) == need);
	r->len = (uint32_t)(CHR_HDR_SIZE + need);
	r->type = CHR_BOOK_SNAPSHOT;
	chr_rec_seal(r);
	*prev = bk->update_id_prev;
	CHECK(chr_l2_apply(c, r) >= 0 && chr_l2_known(c));
	return c;
}

/* A snapshot made of a book says whether that book was past its first
 * diff, so that a book started from it takes the next diff as the book it
 * was made from does: by prev (Binance futures' pu chain, where first >
 * last + 1 is normal), or by the straddle rule right after a snapshot. */
static void test_snapshot_fresh(void)
{
	struct chr_l2 *b = chr_l2_new(), *c, *d;
	uint64_t prev;

	CHECK(chr_l2_apply(b, snap(100, 0, 0, 1, 1, LV({100, 1}, {101, 1}))) == CHR_L2_TOP);
	/* right after a snapshot: prev 0, and the copy takes a straddling diff */
	c = copy_of(b, &prev);
	CHECK(prev == 0);
	CHECK(chr_l2_apply(c, mk(CHR_BOOK_DIFF, 90, 105, 80, 0, 0, 1, 0, LV({99, 1}))) == 0);
	CHECK(chr_l2_known(c) && chr_l2_update_id(c) == 105);
	chr_l2_free(c);
	/* then the chain is pu, and U > id + 1 is normal: ids are global */
	CHECK(chr_l2_apply(b, mk(CHR_BOOK_DIFF, 90, 120, 80, 0, 0, 1, 0, LV({99, 1}))) == 0);
	CHECK(chr_l2_apply(b, mk(CHR_BOOK_DIFF, 150, 160, 120, 0, 0, 1, 0, LV({99, 2}))) == 0);
	c = copy_of(b, &prev);
	CHECK(prev == 160);
	CHECK(chr_l2_apply(b, mk(CHR_BOOK_DIFF, 170, 180, 160, 0, 0, 1, 0, LV({99, 3}))) == 0);
	CHECK(chr_l2_apply(c, mk(CHR_BOOK_DIFF, 170, 180, 160, 0, 0, 1, 0, LV({99, 3}))) == 0);
	CHECK(chr_l2_known(b) && chr_l2_known(c) && chr_l2_update_id(c) == 180);
	CHECK(BIDS(c, {100, 1}, {99, 3}) && ASKS(c, {101, 1}));
	/* and a copy of the copy: still by prev, a wrong pu is a gap in both */
	d = copy_of(c, &prev);
	CHECK(prev == 180);
	CHECK(chr_l2_apply(c, mk(CHR_BOOK_DIFF, 181, 185, 179, 0, 0, 1, 0, LV({99, 4}))) ==
	      (CHR_L2_GAP | CHR_L2_TOP));
	CHECK(chr_l2_apply(d, mk(CHR_BOOK_DIFF, 181, 185, 179, 0, 0, 1, 0, LV({99, 4}))) ==
	      (CHR_L2_GAP | CHR_L2_TOP));
	chr_l2_free(d);
	chr_l2_free(c);
	/* a snapshot without ids stays without: prev 0 */
	CHECK(chr_l2_apply(b, snap(0, 0, 0, 1, 0, LV({100, 1}))) == CHR_L2_TOP);
	CHECK(chr_l2_apply(b, diff(0, 0, 0, 1, 0, LV({99, 1}))) == 0);
	c = copy_of(b, &prev);
	CHECK(prev == 0);
	chr_l2_free(c);
	/* a vendor's snapshot never has prev == last (imports: prev = n - 1),
	 * so the diff after it may straddle it as before */
	CHECK(chr_l2_apply(b, mk(CHR_BOOK_SNAPSHOT, 200, 200, 199, 0, 0, 1, 0, LV({100, 1}))) ==
	      0);
	CHECK(chr_l2_apply(b, mk(CHR_BOOK_DIFF, 195, 210, 150, 0, 0, 1, 0, LV({99, 1}))) == 0);
	chr_l2_free(b);
}

static void test_snapshot_out(void)
{
	struct chr_l2 *b = base_book();
	struct chr_level lv[2 * 500];

	CHECK(chr_l2_apply(b, diff(11, 2, 4, 1, 0, LV({9993, 12345}))) == 0);
	roundtrip(b, 0);
	roundtrip(b, 2);
	roundtrip(b, 1000);
	chr_l2_free(b);

	/* a larger book, many chunks */
	b = chr_l2_new();
	for (int i = 0; i < 500; i++) {
		lv[i] = (struct chr_level){100000 - 3 * i, i + 1};
		lv[500 + i] = (struct chr_level){100001 + 7 * i, 1000 + i};
	}
	CHECK(chr_l2_apply(b, snap(77, 1, 0, 500, 500, lv)) == CHR_L2_TOP);
	CHECK(chr_l2_levels(b, CHR_BID) == 500 && chr_l2_levels(b, CHR_ASK) == 500);
	roundtrip(b, 0);
	roundtrip(b, 33);
	chr_l2_free(b);

	/* an unknown, empty book */
	b = chr_l2_new();
	roundtrip(b, 0);
	chr_l2_free(b);
}

/* ---- random records against a reference book --------------------------- */

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint64_t rnd(void)
{
	/* xorshift64* */
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 0x2545f4914f6cdd1dULL;
}

static int64_t rnd_in(int64_t lo, int64_t hi)
{
	return lo + (int64_t)(rnd() % (uint64_t)(hi - lo + 1));
}

/* The reference: unsorted arrays, linear scans, values at its own scales. */
struct ref {
	struct chr_level lv[2][MAXLV];
	size_t n[2];
	int ps, ss, known;
};

static long ref_find(const struct ref *r, int side, int64_t price)
{
	for (size_t i = 0; i < r->n[side]; i++)
		if (r->lv[side][i].price == price)
			return (long)i;
	return -1;
}

static void ref_set(struct ref *r, int side, int64_t price, int64_t size)
{
	long i = ref_find(r, side, price);

	if (i >= 0 && size == 0)
		r->lv[side][i] = r->lv[side][--r->n[side]];
	else if (i >= 0)
		r->lv[side][i].size = size;
	else if (size != 0)
		r->lv[side][r->n[side]++] = (struct chr_level){price, size};
}

static int bad(const struct chr_level *l)
{
	return l->price == CHR_NULL || l->size == CHR_NULL || l->size < 0;
}

/* The best level of a side: the highest bid, the lowest ask. */
static long ref_best(const struct ref *r, int side)
{
	long best = -1;

	for (size_t i = 0; i < r->n[side]; i++)
		if (best < 0 || (side == CHR_BID ? r->lv[side][i].price > r->lv[side][best].price
						 : r->lv[side][i].price < r->lv[side][best].price))
			best = (long)i;
	return best;
}

struct reftop {
	int has, ps, ss;
	struct chr_level l;
};

static struct reftop ref_top(const struct ref *r, int side)
{
	long i = ref_best(r, side);
	struct reftop t = {i >= 0, r->ps, r->ss, {0, 0}};

	if (i >= 0)
		t.l = r->lv[side][i];
	return t;
}

static int reftop_same(const struct reftop *a, const struct reftop *b)
{
	return a->has == b->has &&
	       (!a->has || (chr_dec_cmp(a->l.price, a->ps, b->l.price, b->ps) == 0 &&
			    chr_dec_cmp(a->l.size, a->ss, b->l.size, b->ss) == 0));
}

static int ref_crossed(const struct ref *r)
{
	long b = ref_best(r, CHR_BID), a = ref_best(r, CHR_ASK);

	return b >= 0 && a >= 0 && r->lv[CHR_BID][b].price >= r->lv[CHR_ASK][a].price;
}

/* Does the record set price (at the reference's scale) on side with a
 * non-zero size? */
static int rec_sets(const struct chr_book *bk, int side, int64_t price, const struct ref *r)
{
	const struct chr_level *lv = bk->levels + (side == CHR_ASK ? bk->n_bid : 0);
	size_t k = side == CHR_ASK ? bk->n_ask : bk->n_bid;

	for (size_t j = 0; j < k; j++) {
		int64_t p = lv[j].price;

		if (bad(&lv[j]) || lv[j].size == 0)
			continue;
		chr_dec_rescale(&p, bk->price_scale, r->ps);
		if (p == price)
			return 1;
	}
	return 0;
}

/* What chr_l2_apply should do to a known book with this record, or -1. */
static int ref_apply(struct ref *r, const struct chr_rec *rec)
{
	const struct chr_book *bk = chr_rec_payload(rec);
	struct reftop before[2], after[2];
	int ret = 0, ps, ss;

	before[0] = ref_top(r, 0);
	before[1] = ref_top(r, 1);
	if (rec->type == CHR_BOOK_SNAPSHOT) {
		r->n[0] = r->n[1] = 0;
		r->ps = bk->price_scale;
		r->ss = bk->size_scale;
		r->known = 1;
	} else {
		/* every value must fit at the new scales, stored ones included */
		ps = bk->price_scale > r->ps ? bk->price_scale : r->ps;
		ss = bk->size_scale > r->ss ? bk->size_scale : r->ss;
		for (uint32_t j = 0; j < bk->n_bid + bk->n_ask; j++) {
			int64_t p = bk->levels[j].price, s = bk->levels[j].size;

			if (bad(&bk->levels[j]))
				continue;
			if (chr_dec_rescale(&p, bk->price_scale, ps) < 0 ||
			    chr_dec_rescale(&s, bk->size_scale, ss) < 0)
				return -1;
		}
		for (int side = 0; side < 2; side++)
			for (size_t i = 0; i < r->n[side]; i++) {
				struct chr_level l = r->lv[side][i];

				/* an ask's key is -price: -price must fit too (it does
				 * whenever price does, INT64_MIN excluded) */
				if (chr_dec_rescale(&l.price, r->ps, ps) < 0 ||
				    chr_dec_rescale(&l.size, r->ss, ss) < 0)
					return -1;
			}
		for (int side = 0; side < 2; side++)
			for (size_t i = 0; i < r->n[side]; i++) {
				chr_dec_rescale(&r->lv[side][i].price, r->ps, ps);
				chr_dec_rescale(&r->lv[side][i].size, r->ss, ss);
			}
		r->ps = ps;
		r->ss = ss;
		before[0] = ref_top(r, 0);
		before[1] = ref_top(r, 1);
	}
	for (uint32_t j = 0; j < bk->n_bid + bk->n_ask; j++) {
		int64_t p = bk->levels[j].price, s = bk->levels[j].size;

		if (bad(&bk->levels[j])) {
			ret |= CHR_L2_IGNORED;
			continue;
		}
		chr_dec_rescale(&p, bk->price_scale, r->ps);
		chr_dec_rescale(&s, bk->size_scale, r->ss);
		ref_set(r, j >= bk->n_bid, p, s);
	}
	if (ref_crossed(r)) {
		ret |= CHR_L2_CROSSED;
		if (rec->type == CHR_BOOK_DIFF) {
			/* the highest bid and the lowest ask the record set */
			int hb_has = 0, la_has = 0;
			int64_t hb = 0, la = 0;

			for (size_t i = 0; i < r->n[CHR_BID]; i++) {
				int64_t p = r->lv[CHR_BID][i].price;

				if (rec_sets(bk, CHR_BID, p, r) && (!hb_has || p > hb)) {
					hb = p;
					hb_has = 1;
				}
			}
			for (size_t i = 0; i < r->n[CHR_ASK]; i++) {
				int64_t p = r->lv[CHR_ASK][i].price;

				if (rec_sets(bk, CHR_ASK, p, r) && (!la_has || p < la)) {
					la = p;
					la_has = 1;
				}
			}
			for (size_t i = 0; hb_has && i < r->n[CHR_ASK];) {
				int64_t p = r->lv[CHR_ASK][i].price;

				if (p <= hb && !rec_sets(bk, CHR_ASK, p, r))
					r->lv[CHR_ASK][i] = r->lv[CHR_ASK][--r->n[CHR_ASK]];
				else
					i++;
			}
			for (size_t i = 0; la_has && i < r->n[CHR_BID];) {
				int64_t p = r->lv[CHR_BID][i].price;

				if (p >= la && !rec_sets(bk, CHR_BID, p, r))
					r->lv[CHR_BID][i] = r->lv[CHR_BID][--r->n[CHR_BID]];
				else
					i++;
			}
		}
	}
	after[0] = ref_top(r, 0);
	after[1] = ref_top(r, 1);
	if (!reftop_same(&before[0], &after[0]) || !reftop_same(&before[1], &after[1]))
		ret |= CHR_L2_TOP;
	return ret;
}

static int cmp_bid(const void *a, const void *b)
{
	const struct chr_level *x = a, *y = b;

	return (x->price < y->price) - (x->price > y->price);
}

static int cmp_ask(const void *a, const void *b)
{
	const struct chr_level *x = a, *y = b;

	return (x->price > y->price) - (x->price < y->price);
}

/* Does the book equal the reference, every level of both sides? */
static int same_as_ref(const struct chr_l2 *b, const struct ref *r)
{
	static struct chr_level want[MAXLV], got[MAXLV];

	if (chr_l2_known(b) != r->known)
		return 0;
	if (r->known && (chr_l2_price_scale(b) != r->ps || chr_l2_size_scale(b) != r->ss))
		return 0;
	for (int side = 0; side < 2; side++) {
		size_t n = r->n[side];

		memcpy(want, r->lv[side], n * sizeof *want);
		qsort(want, n, sizeof *want, side == CHR_BID ? cmp_bid : cmp_ask);
		if (chr_l2_levels(b, side) != n || chr_l2_depth(b, side, MAXLV, got) != n ||
		    memcmp(want, got, n * sizeof *want) != 0)
			return 0;
	}
	return 1;
}

/* A value v (in units of 10^-3 of a nominal unit) as a mantissa at scale s
 * (0..6): below scale 3 it is rounded to what the scale holds. */
static int64_t at_scale(int64_t v, int s)
{
	if (s >= 3)
		return v * chr_pow10[s - 3];
	return v / chr_pow10[3 - s];
}

/* A random record over prices mid +- 3000 ticks of 0.1, so that many prices
 * repeat, at random scales. */
static const struct chr_rec *random_record(int is_snap, uint64_t first, uint64_t last,
					   uint64_t prev, int64_t mid, int pdel, int huge)
{
	static struct chr_level lv[MAXLV];
	int ps = (int)rnd_in(0, 5), ss = (int)rnd_in(0, 6);
	size_t nb, na, n;

	if (is_snap) {
		nb = (size_t)rnd_in(0, rnd() % 4 ? 400 : 2000);
		na = (size_t)rnd_in(0, rnd() % 4 ? 400 : 2000);
	} else {
		nb = (size_t)rnd_in(0, 12);
		na = (size_t)rnd_in(0, 12);
		if (rnd() % 50 == 0)	/* now and then a big one */
			nb += 200;
	}
	n = nb + na;
	for (size_t j = 0; j < n; j++) {
		int ask = j >= nb;
		/* mostly near the top, some deep; asks above mid, bids below,
		 * now and then across it so that books cross */
		int64_t off = rnd() % 4 ? rnd_in(is_snap || rnd() % 50 ? 0 : -3, 250)
					: rnd_in(0, 3000);
		int64_t ticks = ask ? mid + off : mid - 1 - off;
		int64_t size = rnd_in(1, 1000000);

		if (!is_snap && (int)(rnd() % 100) < pdel)
			size = 0;
		/* a tick is 0.1; at price scale 0, bids round down, asks up */
		lv[j].price = at_scale(ticks * 100, ps) + (ask && ps == 0 && ticks % 10 != 0);
		lv[j].size = at_scale(size, ss);
		if (huge && rnd() % 50 == 0)
			lv[j].size = INT64_MAX / chr_pow10[rnd_in(0, 4)];
		if (rnd() % 300 == 0)
			lv[j].price = CHR_NULL;
		if (rnd() % 300 == 0)
			lv[j].size = rnd() % 2 ? CHR_NULL : -lv[j].size - 1;
	}
	if (is_snap) {
		/* best first, as a snapshot should be, unless disorder is wanted */
		qsort(lv, nb, sizeof *lv, cmp_bid);
		qsort(lv + nb, na, sizeof *lv, cmp_ask);
		if (rnd() % 5 != 0) {
			/* one level a price, as a vendor's snapshot has */
			size_t o = 0, ob = 0;

			for (size_t j = 0; j < n; j++) {
				if (j != 0 && j != nb && lv[j].price == lv[j - 1].price)
					continue;
				lv[o++] = lv[j];
				ob += j < nb;
			}
			na = o - ob;
			nb = ob;
			n = o;
		} else {
			for (size_t j = 0; j + 1 < n; j++) {
				size_t x = j + (size_t)(rnd() % (n - j));
				int xs = x >= nb, js = j >= nb;

				if (xs == js) {
					struct chr_level t = lv[j];

					lv[j] = lv[x];
					lv[x] = t;
				}
			}
		}
	}
	return mk(is_snap ? CHR_BOOK_SNAPSHOT : CHR_BOOK_DIFF, first, last, prev, ps, ss, nb, na,
		  lv);
}

static void test_random(unsigned seed, int ops)
{
	static struct ref r;
	struct chr_l2 *b = chr_l2_new();
	uint64_t id = 0;
	int64_t mid = 600000;
	int fails = 0, crossed = 0, ranges = 0, gaps = 0, nosnap = 0, levels = 0;

	rng = 0x9e3779b97f4a7c15ULL ^ ((uint64_t)seed * 0x100000001b3ULL);
	memset(&r, 0, sizeof r);
	for (int op = 0; op < ops && fails < 5; op++) {
		/* phases: growing books, shrinking ones, values that overflow */
		int pdel = (op / 1500) % 2 ? 70 : 25;
		int huge = (op / 3000) % 4 == 3;
		enum { SNAP, STALE, GAP, UNTRACKED, RESET, NEXT } kind;
		uint64_t k = rnd() % 100, new_id = id;
		const struct chr_rec *rec = NULL;
		int want, got;

		kind = k < 2 || (!r.known && k < 50) ? SNAP : k < 4 ? STALE : k < 5 ? GAP :
		       k < 8 ? UNTRACKED : k < 9 ? RESET : NEXT;
		if (op % 4 == 0)
			mid += rnd_in(-2, 2);
		switch (kind) {
		case SNAP:
			new_id = id + (uint64_t)rnd_in(1, 3);
			rec = random_record(1, new_id, new_id, 0, mid, pdel, huge);
			break;
		case STALE:
			rec = random_record(0, id - 3, id - (uint64_t)rnd_in(0, 2), id - 4, mid,
					    pdel, huge);
			break;
		case GAP:
			rec = random_record(0, id + 2, id + 2, id + 1, mid, pdel, huge);
			break;
		case UNTRACKED:
			rec = random_record(0, 0, 0, 0, mid, pdel, huge);
			break;
		case RESET:
			chr_l2_reset(b);
			r.known = 0;
			r.n[0] = r.n[1] = 0;
			break;
		case NEXT:
			new_id = id + 1;
			rec = random_record(0, new_id, new_id, id, mid, pdel, huge);
			break;
		}
		if (rec == NULL)
			continue;
		if (kind != SNAP && !r.known) {
			want = CHR_L2_NOSNAP;
			new_id = id;
			nosnap++;
		} else if (kind == STALE) {
			want = CHR_L2_STALE;
		} else if (kind == GAP) {
			want = CHR_L2_GAP | (r.n[0] || r.n[1] ? CHR_L2_TOP : 0);
			r.known = 0;
			r.n[0] = r.n[1] = 0;
			gaps++;
		} else {
			struct ref save = r;

			want = ref_apply(&r, rec);
			if (want < 0) {
				r = save;
				new_id = id;
				ranges++;
			}
			crossed += want > 0 && (want & CHR_L2_CROSSED);
		}
		errno = 0;
		got = chr_l2_apply(b, rec);
		id = new_id;
		if (got != want || !same_as_ref(b, &r) || chr_l2_update_id(b) != id ||
		    (want < 0 && errno != ERANGE)) {
			fprintf(stderr, "t-book: seed %u op %d: type %u got %d want %d, id %" PRIu64
				" book id %" PRIu64 "\n", seed, op, rec->type, got, want, id,
				chr_l2_update_id(b));
			fails++;
		}
		levels += (int)(r.n[0] + r.n[1]);
		if (op % 97 == 0 && chr_l2_known(b))
			roundtrip(b, op % 2 ? 0 : (size_t)rnd_in(1, 50));
	}
	CHECK(fails == 0);
	/* the run went through what it is meant to */
	CHECK(crossed > 10 && ranges > 3 && gaps > 10 && nosnap > 10);
	CHECK(levels / ops > 100);
	chr_l2_free(b);
}

int main(void)
{
	test_snapshot_and_diffs();
	test_odd_levels();
	test_scales();
	test_ids();
	test_crossed();
	test_snapshot_out();
	test_snapshot_fresh();
	for (unsigned seed = 1; seed <= 3; seed++)
		test_random(seed, 12000);
	chr_l2_free(NULL);
	return unit_done("t-book");
}
