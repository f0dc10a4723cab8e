/* t-snap.c - the snapshot search of a multi-instrument stream
 * (chr_snap_each_seg): each instrument's own last snapshot at or before a
 * time, across segments walked last first, plain and compressed; an
 * instrument that starts later; a snapshot inside an event; a selection. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rec.h"
#include "snap.h"
#include "zsq.h"
#include "unit.h"

struct seg {
	unsigned char buf[1 << 16];
	size_t len;
	uint64_t count;
	int64_t ts_min, ts_max;
};

/* a record of market m (venue 1) at ts; returns its segment offset */
static uint64_t put(struct seg *s, uint16_t type, uint16_t flags, uint32_t m, int64_t ts)
{
	uint32_t len = CHR_HDR_SIZE + (type == CHR_DEFINE ? sizeof(struct chr_define)
					   : sizeof(struct chr_book) + 32);
	struct chr_rec *r = (struct chr_rec *)(s->buf + s->len);
	uint64_t off = s->len;

	if (!s->len) {
		s->len = off = CHR_HDR_SIZE;
		r = (struct chr_rec *)(s->buf + s->len);
	}
	memset(r, 0, chr_rec_span(len));
	r->len = len;
	r->type = type;
	r->flags = flags;
	r->seq = s->count;
	r->ts = ts;
	r->venue = 1;
	r->market = m;
	if (type == CHR_DEFINE) {
		struct chr_define *d = chr_rec_payload(r);

		strcpy(d->venue, "v");
		snprintf(d->symbol, sizeof d->symbol, "M%u", (unsigned)m);
	} else {
		struct chr_book *b = chr_rec_payload(r);

		b->n_bid = b->n_ask = 1;
		b->levels[0].price = 100;
		b->levels[0].size = 1;
		b->levels[1].price = 101;
		b->levels[1].size = 1;
	}
	chr_rec_seal(r);
	if (!s->count || ts < s->ts_min)
		s->ts_min = ts;
	if (!s->count || ts > s->ts_max)
		s->ts_max = ts;
	s->count++;
	s->len += chr_rec_span(len);
	return off;
}

/* write s as path, sealed, plain or compressed */
static void write_seg(struct seg *s, const char *path, uint64_t id, int zst)
{
	struct chr_seg *h = (struct chr_seg *)s->buf;
	char err[256];
	int st, fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	memset(h, 0, sizeof *h);
	h->magic = CHR_SEG_MAGIC;
	h->version = CHR_VERSION;
	h->flags = CHR_SEG_SEALED;
	h->id = id;
	h->end = s->len;
	h->count = s->count;
	h->ts_min = s->ts_min;
	h->ts_max = s->ts_max;
	h->crc = chr_seg_crc(h);
	CHECK(fd >= 0);
	if (zst)
		CHECK(chr_zsq_write(fd, path, s->buf, s->len, 3, err, sizeof err, &st) == 0);
	else
		CHECK(write(fd, s->buf, s->len) == (ssize_t)s->len);
	close(fd);
}

static struct chr_snap_inst *inst(struct chr_snap_each *x, uint32_t m)
{
	for (size_t i = 0; i < x->inst.n; i++) {
		struct chr_snap_inst *in = x->inst.v[i];

		if (in->market == m)
			return in;
	}
	return NULL;
}

static int only_m2(void *ctx, uint16_t v, uint32_t m, const char *venue, const char *symbol)
{
	(void)ctx, (void)v, (void)m, (void)venue;
	return strcmp(symbol, "M2") == 0;
}

int main(void)
{
	static struct seg s0, s1;
	char p0[64], p1[64];
	uint64_t a10, b11, a20, b22;
	struct chr_err e;

	/* segment 0: markets 1 and 2; segment 1 (its head repeats name
	 * both): market 1 snapshots again, market 2 only inside an event,
	 * market 3 starts */
	put(&s0, CHR_DEFINE, 0, 1, 5);
	put(&s0, CHR_DEFINE, 0, 2, 5);
	a10 = put(&s0, CHR_BOOK_SNAPSHOT, CHR_F_LAST, 1, 10);
	b11 = put(&s0, CHR_BOOK_SNAPSHOT, CHR_F_LAST, 2, 11);
	put(&s0, CHR_BOOK_DIFF, CHR_F_LAST, 1, 12);
	put(&s1, CHR_DEFINE, CHR_F_REPEAT, 1, 12);
	put(&s1, CHR_DEFINE, CHR_F_REPEAT, 2, 12);
	put(&s1, CHR_BOOK_DIFF, CHR_F_LAST, 2, 15);
	a20 = put(&s1, CHR_BOOK_SNAPSHOT, CHR_F_LAST, 1, 20);
	put(&s1, CHR_BOOK_DIFF, 0, 2, 21);	/* an event of market 2 begins */
	b22 = put(&s1, CHR_BOOK_SNAPSHOT, CHR_F_LAST, 2, 22);	/* inside it */
	put(&s1, CHR_DEFINE, 0, 3, 23);
	put(&s1, CHR_BOOK_DIFF, CHR_F_LAST, 3, 24);
	put(&s1, CHR_BOOK_SNAPSHOT, CHR_F_LAST, 1, 30);	/* after the time */
	(void)b22;

	for (int zst = 0; zst < 2; zst++) {
		struct chr_snap_each x;
		struct chr_snap_inst *a, *b, *c;

		snprintf(p0, sizeof p0, "/tmp/t-snap.%d.0%s", (int)getpid(), zst ? ".zst" : "");
		snprintf(p1, sizeof p1, "/tmp/t-snap.%d.1%s", (int)getpid(), zst ? ".zst" : "");
		write_seg(&s0, p0, 0, zst);
		write_seg(&s1, p1, 1, zst);

		/* at 25: market 1 in segment 1; 2 and 3 still looked for */
		chr_snap_each_init(&x, 25, NULL, NULL);
		CHECK(chr_snap_each_seg(&x, p1, p1, 1, &e) == 2);
		a = inst(&x, 1);
		CHECK(a && a->done == 1 && a->seg == 1 && a->off == a20);
		CHECK(a && strcmp(a->symbol, "M1") == 0);
		/* segment 0 settles market 2 (its snapshot inside an event in
		 * segment 1 does not count), and market 3, not in it, starts
		 * later */
		CHECK(chr_snap_each_seg(&x, p0, p0, 0, &e) == 0);
		b = inst(&x, 2);
		c = inst(&x, 3);
		CHECK(b && b->done == 1 && b->seg == 0 && b->off == b11);
		CHECK(c && c->done == -1);
		chr_snap_each_free(&x);

		/* at 10: only market 1's first snapshot; segment 1 is after it */
		chr_snap_each_init(&x, 10, NULL, NULL);
		CHECK(chr_snap_each_seg(&x, p1, p1, 1, &e) == 0 && x.inst.n == 0);
		CHECK(chr_snap_each_seg(&x, p0, p0, 0, &e) == 1);
		a = inst(&x, 1);
		b = inst(&x, 2);
		CHECK(a && a->done == 1 && a->off == a10);
		CHECK(b && b->done == 0);	/* no snapshot yet: the caller says */
		chr_snap_each_free(&x);

		/* a selection: market 2 only */
		chr_snap_each_init(&x, 25, only_m2, NULL);
		CHECK(chr_snap_each_seg(&x, p1, p1, 1, &e) == 1);
		a = inst(&x, 1);
		CHECK(a && a->want == 0 && a->done == 0);
		CHECK(chr_snap_each_seg(&x, p0, p0, 0, &e) == 0);
		CHECK(inst(&x, 2)->done == 1);
		chr_snap_each_free(&x);

		/* a missing file */
		chr_snap_each_init(&x, 25, NULL, NULL);
		CHECK(chr_snap_each_seg(&x, "/nonexistent/x.q", "x.q", 0, &e) == -1);
		CHECK(strstr(e.msg, "cannot open 'x.q'") != NULL);
		chr_snap_each_free(&x);
		unlink(p0);
		unlink(p1);
	}
	return unit_done("t-snap");
}
