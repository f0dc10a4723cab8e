/* segbuild.h - a sealed segment built in memory, for the tests of the
 * snapshot search: DEFINEs and books of one venue's instruments, written
 * plain or compressed. */
#ifndef CHR_TEST_SEGBUILD_H
#define CHR_TEST_SEGBUILD_H

#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rec.h"
#include "zsq.h"
#include "unit.h"

struct seg {
	unsigned char *buf;
	size_t size, len;
	uint32_t levels;	/* a book record's levels, bids and asks */
	uint64_t count;
	int64_t ts_min, ts_max;
};

static void seg_init(struct seg *s, size_t size, uint32_t levels)
{
	memset(s, 0, sizeof *s);
	s->buf = calloc(1, size);
	CHECK(s->buf != NULL);
	s->size = size;
	s->len = CHR_HDR_SIZE;
	s->levels = levels;
}

/* append a record of market m (venue 1) at ts; returns its segment offset */
static uint64_t put(struct seg *s, uint16_t type, uint16_t flags, uint32_t m, int64_t ts)
{
	uint32_t len = CHR_HDR_SIZE + (type == CHR_DEFINE ? sizeof(struct chr_define)
					   : sizeof(struct chr_book) +
					     s->levels * sizeof(struct chr_level));
	struct chr_rec *r = (struct chr_rec *)(s->buf + s->len);
	uint64_t off = s->len;

	CHECK(s->len + chr_rec_span(len) <= s->size);
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

		b->n_bid = b->n_ask = s->levels / 2;
		for (uint32_t i = 0; i < s->levels; i++) {
			b->levels[i].price = 1000 + (int64_t)(i * 7 + (uint64_t)ts % 13);
			b->levels[i].size = (int64_t)(s->count * 31 + i) % 97 + 1;
		}
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
		CHECK(chr_zsq_write(fd, path, s->buf, s->len, 1, err, sizeof err, &st) == 0);
	else
		CHECK(write(fd, s->buf, s->len) == (ssize_t)s->len);
	close(fd);
}

#endif
