/* t-feed.c - the normaliser's API as live mode calls it: books added before
 * their first message, the books that want a snapshot, a snapshot with its
 * symbol, a disconnect (GAP, resync), the held diffs' limit, a failing sink. */
#include <stdlib.h>
#include <string.h>

#include "feed.h"
#include "unit.h"

/* the sink: records kept in memory, in order */
static _Alignas(64) unsigned char mem[1 << 20];
static size_t used, nrec, fail_after = (size_t)-1;
static struct chr_rec *recs[1024];

static struct chr_rec *reserve(void *arg, uint32_t len, struct chr_err *e)
{
	struct chr_rec *r = (struct chr_rec *)(mem + used);

	(void)arg;
	if (nrec >= fail_after)
		return chr_err_set(e, CHR_EX_SYS, "the sink is full"), NULL;
	memset(r, 0, chr_rec_span(len));
	r->len = len;
	return r;
}

static int commit(void *arg, struct chr_rec *rec, struct chr_err *e)
{
	(void)arg;
	(void)e;
	chr_rec_seal(rec);
	recs[nrec++] = rec;
	used += chr_rec_span(rec->len);
	return 0;
}

static void reset(void)
{
	used = nrec = 0;
}

/* a futures depthUpdate of BTCUSDT */
static int diff(struct chr_feed *f, int64_t ns, unsigned U, unsigned u, unsigned pu,
		struct chr_err *e)
{
	char m[256];
	int n = snprintf(m, sizeof m, "{\"e\":\"depthUpdate\",\"E\":5,\"T\":4,\"s\":\"BTCUSDT\","
			 "\"U\":%u,\"u\":%u,\"pu\":%u,\"b\":[[\"100.0\",\"1\"]],\"a\":[]}", U, u, pu);

	return chr_feed_msg(f, ns, m, (size_t)n, e);
}

static const char snap[] = "{\"lastUpdateId\":10,\"E\":3,\"T\":2,\"bids\":[[\"99.5\",\"2.50\"]],"
			   "\"asks\":[[\"100.5\",\"1\"],[\"101\",\"0.001\"]]}";

int main(void)
{
	struct chr_feed_opts o = { .sink = { reserve, commit, NULL } };
	const struct chr_feed_stats *st;
	struct chr_feed *f;
	const struct chr_book *b;
	const struct chr_gap *g;
	const char *syms[4];
	struct chr_err e;

	CHECK(chr_feed_new("kraken", &o, &e) == NULL && e.status == CHR_EX_USAGE);
	f = chr_feed_new("binance-futures", &o, &e);
	CHECK(f != NULL && strcmp(chr_feed_venue(f), "binance-futures") == 0);
	st = chr_feed_stats(f);

	/* live mode subscribes first: the book wants a snapshot at once */
	CHECK(chr_feed_wanted(f, syms, 4) == 0);
	CHECK(chr_feed_add(f, "BTCUSDT", &e) == 0 && chr_feed_add(f, "ETHUSDT", &e) == 0);
	CHECK(chr_feed_add(f, "a/b", &e) == -1 && e.status == CHR_EX_DATA);
	CHECK(chr_feed_wanted(f, syms, 1) == 2 && strcmp(syms[0], "BTCUSDT") == 0);

	/* a diff before the snapshot is held; the snapshot writes it after itself */
	CHECK(diff(f, 100, 5, 12, 4, &e) == 0 && nrec == 0 && chr_feed_pending(f) == 1);
	CHECK(chr_feed_snapshot(f, 200, "BTCUSDT", snap, sizeof snap - 1, &e) == 0);
	CHECK(nrec == 3 && chr_feed_pending(f) == 0);
	CHECK(recs[0]->type == CHR_DEFINE && recs[1]->type == CHR_BOOK_SNAPSHOT &&
	      recs[2]->type == CHR_BOOK_DIFF);
	b = chr_rec_payload(recs[1]);
	CHECK(recs[1]->ts == 200 && recs[1]->ts_event == 2000000 && b->update_id_last == 10);
	CHECK(b->n_bid == 1 && b->n_ask == 2 && b->price_scale == 1 && b->size_scale == 3);
	CHECK(b->levels[0].price == 995 && b->levels[0].size == 2500);
	CHECK(b->levels[1].price == 1005 && b->levels[2].price == 1010 && b->levels[2].size == 1);
	CHECK(recs[2]->ts == 200 && recs[2]->ts_event == 4000000);	/* the snapshot's ts */
	CHECK(recs[1]->seq == 1 && recs[2]->seq == 2 && recs[2]->src_seq == 2);
	CHECK(chr_feed_wanted(f, syms, 4) == 1 && strcmp(syms[0], "ETHUSDT") == 0);
	/* a snapshot of a book in sync is not needed */
	CHECK(chr_feed_snapshot(f, 250, "BTCUSDT", snap, sizeof snap - 1, &e) == 0 &&
	      nrec == 3 && st->snap_ignored == 1);
	CHECK(diff(f, 300, 13, 15, 12, &e) == 0 && nrec == 4);

	/* the connection drops: a GAP for the book in sync, none for the other */
	CHECK(chr_feed_disconnect(f, 400, &e) == 0 && nrec == 5);
	g = chr_rec_payload(recs[4]);
	CHECK(recs[4]->type == CHR_GAP && recs[4]->ts == 400 && g->reason == CHR_GAP_RECONNECT &&
	      g->expected == 15);
	CHECK(chr_feed_wanted(f, syms, 4) == 2);
	/* diffs wait again; a disconnect drops them */
	CHECK(diff(f, 500, 16, 20, 15, &e) == 0 && chr_feed_pending(f) == 1);
	CHECK(chr_feed_disconnect(f, 600, &e) == 0 && nrec == 5 && chr_feed_pending(f) == 0 &&
	      st->dropped == 1);

	/* a bad message: an error without a place, nothing written */
	CHECK(chr_feed_msg(f, 700, "{\"e\":\"trade\"}", 13, &e) == -1 && e.status == CHR_EX_DATA);
	CHECK(strcmp(e.msg, "trade: no field 's'") == 0 && nrec == 5);
	CHECK(chr_feed_snapshot(f, 700, "BTCUSDT", "{\"bids\":[]}", 11, &e) == -1 &&
	      strcmp(e.msg, "snapshot: no field 'lastUpdateId'") == 0);
	chr_feed_free(f);

	/* the held diffs' limit: the oldest go */
	reset();
	o.buffer_max = 256;
	f = chr_feed_new("binance-futures", &o, &e);
	st = chr_feed_stats(f);
	for (unsigned k = 0; k < 5; k++)
		CHECK(diff(f, 10 + k, 1 + 10 * k, 10 + 10 * k, 10 * k, &e) == 0);
	CHECK(chr_feed_pending(f) == 2 && st->dropped == 3 && st->buffered == 5);
	chr_feed_free(f);

	/* skip_bad: 1, counted; a failing sink: -1 with its error */
	reset();
	o.buffer_max = 0;
	o.skip_bad = 1;
	f = chr_feed_new("binance", &o, &e);
	st = chr_feed_stats(f);
	CHECK(chr_feed_msg(f, 1, "[", 1, &e) == 1 && st->bad == 1);
	fail_after = 0;
	{
		static const char t[] = "{\"e\":\"trade\",\"s\":\"X\",\"t\":1,\"p\":\"1\",\"q\":\"1\"}";

		CHECK(chr_feed_msg(f, 2, t, sizeof t - 1, &e) == -1 && e.status == CHR_EX_SYS &&
		      strcmp(e.msg, "the sink is full") == 0);
	}
	chr_feed_free(f);
	return unit_done("t-feed");
}
