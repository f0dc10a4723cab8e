/* recs.c - test records built in memory: the buffer they go in, the test
 * stream of one instrument and the records of huge unsigned fields. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "recs.h"

struct chr_rec *gen_reserve(struct gen_out *o, uint32_t len)
{
	size_t span = chr_rec_span(len);
	struct chr_rec *r;

	if (o->cap - o->n < span) {
		size_t cap = o->cap ? o->cap : 1 << 16;
		void *p;

		while (cap - o->n < span)
			cap *= 2;
		/* realloc would not keep the 64-byte alignment records need */
		if (posix_memalign(&p, CHR_ALIGN, cap) != 0) {
			fprintf(stderr, "gen: out of memory\n");
			exit(3);
		}
		if (o->n)
			memcpy(p, o->buf, o->n);
		free(o->buf);
		o->buf = p;
		o->cap = cap;
	}
	r = (struct chr_rec *)(o->buf + o->n);
	memset(r, 0, span);
	r->len = len;
	return r;
}

void gen_commit(struct gen_out *o, struct chr_rec *r)
{
	chr_rec_seal(r);
	o->n += chr_rec_span(r->len);
}

void gen_stream_rec(struct gen_out *o, uint64_t i, int64_t ts)
{
	struct chr_rec *r;
	uint16_t type = i == 0 ? CHR_DEFINE : i == 1 ? CHR_BOOK_SNAPSHOT :
		i % 3 == 2 ? CHR_BOOK_DIFF : i % 3 == 0 ? CHR_TRADE : CHR_QUOTE;
	uint32_t nb = type == CHR_BOOK_SNAPSHOT ? 3 : 1, na = type == CHR_BOOK_SNAPSHOT ? 2 : 1;
	size_t plen = type == CHR_DEFINE ? sizeof(struct chr_define) :
		type == CHR_TRADE ? sizeof(struct chr_trade) :
		type == CHR_QUOTE ? sizeof(struct chr_quote) :
		sizeof(struct chr_book) + (nb + na) * sizeof(struct chr_level);

	r = gen_reserve(o, (uint32_t)(CHR_HDR_SIZE + plen));
	r->type = type;
	r->seq = r->src_seq = i;
	r->ts = ts;
	r->ts_event = ts - 1000;
	r->venue = GEN_VENUE;
	r->market = GEN_MARKET;
	if (type == CHR_DEFINE) {
		struct chr_define *d = chr_rec_payload(r);

		strcpy(d->venue, "testvenue");
		strcpy(d->symbol, "TESTSYM");
		d->price_scale_hint = 1;
		d->size_scale_hint = 3;
	} else if (type == CHR_TRADE) {
		struct chr_trade *t = chr_rec_payload(r);

		t->price = 618002 + (int64_t)i;
		t->price_scale = 1;
		t->size = 2909;
		t->size_scale = 3;
		t->side = i % 2 ? CHR_SIDE_BUY : CHR_SIDE_SELL;
		snprintf(t->id, sizeof t->id, "%llu", (unsigned long long)(1000 + i));
	} else if (type == CHR_QUOTE) {
		struct chr_quote *q = chr_rec_payload(r);

		q->bid_px = 618002;
		q->bid_sz = 1500;
		q->ask_px = 618003;
		q->ask_sz = CHR_NULL;
		q->price_scale = 1;
		q->size_scale = 3;
	} else {
		struct chr_book *b = chr_rec_payload(r);

		b->update_id_first = b->update_id_last = i;
		b->update_id_prev = i - 1;
		b->n_bid = nb;
		b->n_ask = na;
		b->price_scale = 1;
		b->size_scale = 3;
		for (uint32_t k = 0; k < nb; k++)
			b->levels[k] = (struct chr_level){618002 - (int64_t)k, 1000 * (k + 1)};
		for (uint32_t k = 0; k < na; k++)
			b->levels[nb + k] = (struct chr_level){618003 + (int64_t)k, 500};
		if (type == CHR_BOOK_DIFF) {
			b->levels[0].size = 0;
			r->flags = CHR_F_LAST;
		}
	}
	gen_commit(o, r);
}

/* A record of type with payload plen of the test instrument at GEN_TS0 */
static struct chr_rec *at_ts0(struct gen_out *o, uint16_t type, size_t plen, uint64_t seq)
{
	struct chr_rec *r = gen_reserve(o, (uint32_t)(CHR_HDR_SIZE + plen));

	r->type = type;
	r->ts = GEN_TS0;
	r->venue = GEN_VENUE;
	r->market = GEN_MARKET;
	r->seq = seq;
	return r;
}

void gen_huge(struct gen_out *o)
{
	struct chr_rec *r;
	struct chr_book *b;
	struct chr_gap *g;

	r = at_ts0(o, CHR_BOOK_DIFF, sizeof *b, UINT64_MAX);
	r->src_seq = (uint64_t)1 << 63;
	b = chr_rec_payload(r);
	b->update_id_first = UINT64_MAX;
	b->update_id_last = (uint64_t)1 << 63;
	b->update_id_prev = INT64_MAX;
	gen_commit(o, r);
	r = at_ts0(o, CHR_GAP, sizeof *g, INT64_MAX);
	g = chr_rec_payload(r);
	g->expected = ((uint64_t)1 << 63) + 1;
	g->got = UINT64_MAX - 1;
	g->reason = CHR_GAP_SEQ;
	gen_commit(o, r);
}
