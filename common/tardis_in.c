/* tardis_in.c - Tardis.dev CSV rows -> records (the importer behind
 * chr-csv2ev; docs/tardis.md): the dataset rules, records written in
 * place, and the hand-written parser of unquoted rows; tardis_csv.c takes
 * the rest, tardis.c keeps the state and the markets. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif
#ifdef __SSE4_1__
#include <smmintrin.h>
#endif

#include "dec.h"
#include "err.h"
#include "tardis_int.h"

/* the 8 bytes at p as a word (little-endian) */
static inline uint64_t load8(const char *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return v;
}

/* a write error: the message names the output; returns -1 */
static int wfail(struct chr_tardis_in *t)
{
	struct chr_writer *w = t->s->w;

	snprintf(t->err, sizeof t->err, "write error on '%s': %s", w->name ? w->name : "stdout",
		 strerror(w->err ? w->err : EIO));
	t->status = CHR_EX_SYS;
	return -1;
}

/* ---- records out ---- */

static struct chr_rec *reserve(struct chr_tardis_in *t, uint32_t len, uint16_t type, const struct cur *c)
{
	struct chr_tardis_state *s = t->s;
	struct chr_rec *r = chr_writer_reserve(s->w, len);

	if (r == NULL)
		return NULL;
	r->type = type;
	r->seq = r->src_seq = s->seq;
	r->ts = c->lts * 1000;
	r->ts_event = c->ts * 1000;
	r->market = c->m->mid;
	r->venue = c->m->vid;
	return r;
}

static void commit(struct chr_tardis_in *t, struct chr_rec *r)
{
	chr_writer_commit(t->s->w, r);
	t->s->seq++;
	t->records++;
}

static int define(struct chr_tardis_in *t, struct cur *c)
{
	struct chr_rec *r = reserve(t, CHR_HDR_SIZE + sizeof(struct chr_define), CHR_DEFINE, c);
	struct chr_define *d;

	if (r == NULL)
		return wfail(t);
	d = chr_rec_payload(r);
	memcpy(d->venue, c->m->venue, strlen(c->m->venue));
	memcpy(d->symbol, c->m->symbol, strlen(c->m->symbol));
	commit(t, r);
	c->m->defined = 1;
	return 0;
}

static inline int64_t up(int64_t v, int from, int to)
{
	return v == CHR_NULL ? CHR_NULL : v * chr_pow10[to - from];
}

static void put_levels(struct chr_level *out, const struct lvl *in, size_t n, int pmax, int smax)
{
	size_t i;

	for (i = 0; i < n; i++) {
		out[i].price = up(in[i].p, in[i].ps, pmax);
		out[i].size = up(in[i].s, in[i].ss, smax);
	}
}

/* A trade or quote of len bytes (header and payload) begun in the
 * writer's buffer, its DEFINE written first if its market has none: the
 * header filled but for flags and CRC, the payload left to the caller, who
 * must write every byte of the span. NULL after a write error. */
static inline struct chr_rec *begin(struct chr_tardis_in *t, struct cur *c, uint32_t len, uint16_t type)
{
	struct chr_tardis_state *s = t->s;
	struct chr_writer *w = s->w;
	struct chr_rec *r;

	if (UNLIKELY(!c->m->defined) && define(t, c) < 0) {
		c->active = 0;
		return NULL;
	}
	/* the writer's own reserve when it appends to a queue, has failed,
	 * or must flush first */
	if (LIKELY(w->q == NULL) && LIKELY(w->err == 0) && LIKELY(w->cap - w->n >= chr_rec_span(len)))
		r = (struct chr_rec *)(void *)(w->buf + w->n);
	else if ((r = chr_writer_reserve(w, len)) == NULL) {
		c->active = 0;
		return wfail(t), NULL;
	}
	r->len = len;
	r->type = type;
	r->flags = 0;
	r->seq = r->src_seq = s->seq;
	r->ts = c->lts * 1000;
	r->ts_event = c->ts * 1000;
	r->market = c->m->mid;
	r->venue = c->m->vid;
	r->version = CHR_VERSION;
	memset(r->reserved, 0, sizeof r->reserved);
	r->crc = 0;
	c->pend = r;
	return r;
}

/* The CRC of record r (chr_rec_crc) of payload length plen, but for
 * its flags (0 in r), which are these */
static inline __attribute__((always_inline)) uint32_t crc_rec(const struct chr_rec *r, uint16_t flags, size_t plen)
{
	const char *p = (const char *)r;
#ifdef __SSE4_2__
	uint64_t c = _mm_crc32_u64(0xFFFFFFFFu, load8(p + 4) | (uint64_t)flags << 16);

	_Static_assert(offsetof(struct chr_rec, flags) == 6, "flags");
#pragma GCC unroll 8
	for (size_t i = 12; i < CHR_HDR_SIZE - 4; i += 8)
		c = _mm_crc32_u64(c, load8(p + i));
#pragma GCC unroll 8
	for (size_t i = 0; i + 8 <= plen; i += 8)
		c = _mm_crc32_u64(c, load8(p + CHR_HDR_SIZE + i));
	_Static_assert(sizeof(struct chr_trade) % 8 == 0 && sizeof(struct chr_quote) % 8 == 0, "words");
	return ~(uint32_t)c;
#else
	struct chr_rec h;

	memcpy(&h, r, sizeof h);
	h.flags = flags;
	return chr_crc32c(chr_crc32c(0, (const char *)&h + 4, CHR_HDR_SIZE - 8), p + CHR_HDR_SIZE, plen);
#endif
}

/* The record begun by begin(), flagged LAST when last, sealed and made
 * part of the output: 0, or -1 after a write error. */
static inline int finish(struct chr_tardis_in *t, struct cur *c, int last)
{
	struct chr_tardis_state *s = t->s;
	struct chr_writer *w = s->w;
	struct chr_rec *r = c->pend;
	uint16_t flags = last ? CHR_F_LAST : 0;

	c->pend = NULL;
	t->events += (uint64_t)last;
	if (LIKELY(w->q == NULL)) {
		unsigned char *at = w->buf + w->n;
		size_t span = chr_rec_span(r->len);

		/* a flush by the caller between two rows moved the end */
		if (UNLIKELY((unsigned char *)r != at)) {
			if (w->err)
				return wfail(t);
			memmove(at, r, span);
			r = (struct chr_rec *)(void *)at;
		}
		/* chr_rec_seal's CRC, inline (every other byte is written), of
		 * a length the compiler knows for each type; the flags are
		 * stored after it, as a load of the word just stored in part
		 * would wait for the store */
		if (c->type == CHR_TRADE)
			r->crc = crc_rec(r, flags, sizeof(struct chr_trade));
		else
			r->crc = crc_rec(r, flags, sizeof(struct chr_quote));
		r->flags = flags;
		w->n += span;
	} else {
		r->flags = flags;
		chr_writer_commit(w, r);
	}
	s->seq++;
	t->records++;
	return 0;
}

/* Write the record in progress; last: it ends its event. */
static int emit(struct chr_tardis_in *t, int last)
{
	struct cur *c = &t->s->cur;
	struct chr_rec *r;
	size_t nl = c->nb + c->na;
	struct chr_book *b;

	if (!c->active)
		return 0;
	c->active = 0;
	if (c->pend != NULL)
		return finish(t, c, last);
	if (!c->m->defined && define(t, c) < 0)
		return -1;
	r = reserve(t, (uint32_t)(CHR_HDR_SIZE + sizeof *b + nl * sizeof(struct chr_level)), c->type, c);
	if (r == NULL)
		return wfail(t);
	b = chr_rec_payload(r);
	if (c->type != CHR_BOOK_TOPN) {
		b->update_id_first = b->update_id_last = ++c->m->uid;
		b->update_id_prev = c->m->uid - 1;
	}
	b->n_bid = (uint32_t)c->nb;
	b->n_ask = (uint32_t)c->na;
	b->price_scale = (int8_t)c->pmax;
	b->size_scale = (int8_t)c->smax;
	put_levels(b->levels, c->b, c->nb, c->pmax, c->smax);
	put_levels(b->levels + c->nb, c->a, c->na, c->pmax, c->smax);
	if (last) {
		r->flags |= CHR_F_LAST;
		t->events++;
	}
	commit(t, r);
	return 0;
}

static void start(struct cur *c, const struct row *r, uint16_t type)
{
	c->active = 1;
	c->type = type;
	c->m = r->m;
	c->lts = r->lts;
	c->ts = r->ts;
	c->snap = r->snap;
	c->has_ask = 0;
	c->nb = c->na = 0;
	c->pmax = c->smax = c->pdig = c->sdig = 0;
}

static int grow(struct lvl **v, size_t *cap, size_t need)
{
	size_t nc = *cap ? *cap * 2 : 1024;
	struct lvl *nv;

	while (nc < need)
		nc *= 2;
	if ((nv = realloc(*v, nc * sizeof *nv)) == NULL)
		return -1;
	*v = nv;
	*cap = nc;
	return 0;
}

static inline int max(int a, int b)
{
	return a > b ? a : b;
}

/* does value d fit a record whose largest scale and integer digits are
 * sc and dig? (every value then rescales without overflow) */
static inline int fits(const struct dv *d, int sc, int dig)
{
	return d->v == CHR_NULL || max(d->sc, sc) + max(d->dig, dig) <= CHR_DEC_MAX_SCALE;
}

static inline void track(const struct dv *d, int *sc, int *dig)
{
	if (d->v != CHR_NULL) {
		*sc = max(*sc, d->sc);
		*dig = max(*dig, d->dig);
	}
}

/* the largest scale and integer digits of the prices, or of the amounts,
 * of a one-row record so far */
struct scale {
	int sc, dig;
};

/* the check of each price or amount of a quote or snapshot row: 0 when
 * d does not fit k, the scale of its kind in its record so far, else 1
 * with k widened to take d */
static inline int fit_track(const struct dv *d, struct scale *k)
{
	if (!fits(d, k->sc, k->dig))
		return 0;
	track(d, &k->sc, &k->dig);
	return 1;
}

static int oom(struct chr_tardis_in *t)
{
	snprintf(t->err, sizeof t->err, "%s:%llu: out of memory", t->name, (unsigned long long)t->line);
	t->status = CHR_EX_SYS;
	return -1;
}

/* ---- rows -> records: the dataset rules ---- */

static inline int l2_row(struct chr_tardis_in *t, const struct row *r)
{
	struct chr_tardis_state *s = t->s;
	struct cur *c = &s->cur;
	struct market *m = r->m;
	int same, cont;
	uint16_t type = CHR_BOOK_DIFF;
	struct lvl *l;

	if (UNLIKELY(!m->have_snap) && !r->snap) {
		m->skipped++;
		t->presnap++;
		return 0;
	}
	same = c->active && c->m == m && c->lts == r->lts;
	if (r->snap) {
		if (!m->in_snap)
			type = CHR_BOOK_SNAPSHOT;
		cont = m->in_snap && same && c->snap && c->ts == r->ts;
	} else {
		cont = same && !c->snap && c->ts == r->ts && !(r->side == SIDE_BID && c->has_ask);
	}
	if (UNLIKELY(cont && c->nb + c->na >= LVL_MAX))
		cont = 0;
	if (cont) {
		if (UNLIKELY(!fits(&r->px, c->pmax, c->pdig)))
			return chr_td_bad(t, "price '%s' does not fit the scale of its record",
					  FLD(r->px.t, r->px.n));
		if (UNLIKELY(!fits(&r->sz, c->smax, c->sdig)))
			return chr_td_bad(t, "amount '%s' does not fit the scale of its record",
					  FLD(r->sz.t, r->sz.n));
	} else {
		if (c->active && emit(t, !same) < 0)
			return -1;
		start(c, r, type);
	}
	if (r->side == SIDE_BID) {
		if (UNLIKELY(c->nb == c->capb) && grow(&c->b, &c->capb, c->nb + 1) < 0)
			return oom(t);
		l = &c->b[c->nb++];
	} else {
		if (UNLIKELY(c->na == c->capa) && grow(&c->a, &c->capa, c->na + 1) < 0)
			return oom(t);
		l = &c->a[c->na++];
		c->has_ask = 1;
	}
	l->p = r->px.v;
	l->ps = (int8_t)r->px.sc;
	l->s = r->sz.v;
	l->ss = (int8_t)r->sz.sc;
	track(&r->px, &c->pmax, &c->pdig);
	track(&r->sz, &c->smax, &c->sdig);
	m->have_snap = 1;
	m->in_snap = r->snap;
	return 0;
}

/* Before a trade or quote: write the record in progress (the last one,
 * begun in the writer's buffer, else a book) */
static inline int next(struct chr_tardis_in *t, struct cur *c, int last)
{
	if (LIKELY(c->pend != NULL)) {
		c->active = 0;
		return finish(t, c, last);
	}
	return emit(t, last);
}

/* A trade id of n bytes (n <= CHR_TRADE_ID_MAX) at src, readable for
 * ID_READ bytes, into the NUL-padded field dst */
static inline void put_id(char *dst, const char *src, size_t n)
{
	_Static_assert(ID_READ >= CHR_TRADE_ID_MAX, "ID_READ");
#ifdef __SSE2__
	const __m128i nv = _mm_set1_epi8((char)n);
	const __m128i i0 = _mm_setr_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
	const __m128i i16 = _mm_set1_epi8(16);
	__m128i i1 = _mm_add_epi8(i0, i16), i2 = _mm_add_epi8(i1, i16);
	__m128i a = _mm_loadu_si128((const __m128i *)(const void *)src);
	__m128i b = _mm_loadu_si128((const __m128i *)(const void *)(src + 16));
	__m128i c = _mm_loadu_si128((const __m128i *)(const void *)(src + 32));

	/* the bytes from n on become NUL */
	a = _mm_and_si128(a, _mm_cmpgt_epi8(nv, i0));
	b = _mm_and_si128(b, _mm_cmpgt_epi8(nv, i1));
	c = _mm_and_si128(c, _mm_cmpgt_epi8(nv, i2));
	_mm_storeu_si128((__m128i *)(void *)dst, a);
	_mm_storeu_si128((__m128i *)(void *)(dst + 16), b);
	_mm_storel_epi64((__m128i *)(void *)(dst + 32), c);
#else
	memset(dst, 0, CHR_TRADE_ID_MAX);
	memcpy(dst, src, n);
#endif
}

/* one row, one record: trades, quotes, book_snapshot_N */
/* a row of trades, a record: 0, or -1 (a write error) */
static inline __attribute__((always_inline)) int trade_row(struct chr_tardis_in *t, const struct row *r)
{
	struct cur *c = &t->s->cur;
	int same = c->active && c->m == r->m && c->lts == r->lts;
	struct chr_rec *rec;
	struct chr_trade *tr;

	if (c->active && next(t, c, !same) < 0)
		return -1;
	start(c, r, CHR_TRADE);
	if ((rec = begin(t, c, CHR_HDR_SIZE + sizeof *tr, CHR_TRADE)) == NULL)
		return -1;
	tr = chr_rec_payload(rec);
	tr->price = r->px.v;
	tr->size = r->sz.v;
	tr->price_scale = (int8_t)r->px.sc;
	tr->size_scale = (int8_t)r->sz.sc;
	tr->side = (uint8_t)r->side;
	memset(tr->reserved, 0, sizeof tr->reserved);
	put_id(tr->id, r->id, r->idn);
	return 0;
}

/* a row of quotes, a record: 0, or -1 (a bad row not skipped, a write
 * error) */
static inline __attribute__((always_inline)) int quote_row(struct chr_tardis_in *t, const struct row *r)
{
	struct cur *c = &t->s->cur;
	int same = c->active && c->m == r->m && c->lts == r->lts;
	struct scale k[2];	/* [1] the prices, [0] the amounts */
	struct chr_rec *rec;
	struct chr_quote *q;
	int i;

	/* the largest scales and integer digits (an empty value has 0
	 * of both); when they do not fit together, the first value that
	 * does not fit those before it is the one reported */
	k[0].sc = max(r->q[0].sc, r->q[3].sc);
	k[0].dig = max(r->q[0].dig, r->q[3].dig);
	k[1].sc = max(r->q[1].sc, r->q[2].sc);
	k[1].dig = max(r->q[1].dig, r->q[2].dig);
	if (UNLIKELY(k[0].sc + k[0].dig > CHR_DEC_MAX_SCALE || k[1].sc + k[1].dig > CHR_DEC_MAX_SCALE)) {
		k[0] = k[1] = (struct scale){0, 0};
		for (i = 0; i < 4; i++)
			if (!fit_track(&r->q[i], &k[i == 1 || i == 2]))
				return chr_td_bad(t, "%s '%s' does not fit the scale of its record",
						  i == 0 ? "ask_amount" : i == 1 ? "ask_price" :
						  i == 2 ? "bid_price" : "bid_amount",
						  FLD(r->q[i].t, r->q[i].n));
	}
	if (c->active && next(t, c, !same) < 0)
		return -1;
	start(c, r, CHR_QUOTE);
	if ((rec = begin(t, c, CHR_HDR_SIZE + sizeof *q, CHR_QUOTE)) == NULL)
		return -1;
	q = chr_rec_payload(rec);
	q->ask_sz = up(r->q[0].v, r->q[0].sc, k[0].sc);
	q->ask_px = up(r->q[1].v, r->q[1].sc, k[1].sc);
	q->bid_px = up(r->q[2].v, r->q[2].sc, k[1].sc);
	q->bid_sz = up(r->q[3].v, r->q[3].sc, k[0].sc);
	q->price_scale = (int8_t)k[1].sc;
	q->size_scale = (int8_t)k[0].sc;
	memset(q->reserved, 0, sizeof q->reserved);
	/* the padding to the record's span */
	memset((char *)rec + rec->len, 0, chr_rec_span(rec->len) - rec->len);
	return 0;
}

static int one_row(struct chr_tardis_in *t, const struct row *r)
{
	struct chr_tardis_state *s = t->s;
	struct cur *c = &s->cur;
	int same = c->active && c->m == r->m && c->lts == r->lts;
	struct scale k[2];	/* [1] the prices, [0] the amounts */
	int i;

	switch (s->type) {
	case CHR_TARDIS_TRADES:
		return trade_row(t, r);
	case CHR_TARDIS_QUOTES:
		return quote_row(t, r);
	default:		/* book_snapshot_N */
		k[0] = k[1] = (struct scale){0, 0};
		for (i = 0; i < 4 * s->n; i++)
			if (!fit_track(&r->tv[i], &k[(i & 1) == 0]))
				return chr_td_bad(t, "%s[%d].%s '%s' does not fit the scale of its record",
						  (i & 2) ? "bids" : "asks", i / 4, (i & 1) == 0 ? "price" : "amount",
						  FLD(r->tv[i].t, r->tv[i].n));
		if (c->active && emit(t, !same) < 0)
			return -1;
		start(c, r, CHR_BOOK_TOPN);
		if ((c->capb < (size_t)s->n && grow(&c->b, &c->capb, (size_t)s->n) < 0) ||
		    (c->capa < (size_t)s->n && grow(&c->a, &c->capa, (size_t)s->n) < 0))
			return oom(t);
		for (i = 0; i < s->n; i++) {
			const struct dv *v = r->tv + 4 * i;

			c->a[i] = (struct lvl){ v[0].v, v[1].v, (int8_t)v[0].sc, (int8_t)v[1].sc };
			c->b[i] = (struct lvl){ v[2].v, v[3].v, (int8_t)v[2].sc, (int8_t)v[3].sc };
		}
		c->na = c->nb = (size_t)s->n;
		c->pmax = k[1].sc;
		c->smax = k[0].sc;
		return 0;
	}
}

static int set_dataset(struct chr_tardis_in *t, int type, int n)
{
	struct chr_tardis_state *s = t->s;

	if (type == CHR_TARDIS_TOPN && n != s->n) {
		struct dv *v = realloc(s->tv, 4 * (size_t)n * sizeof *v);

		if (v == NULL)
			return oom(t);
		s->tv = v;
	}
	s->type = type;
	s->n = n;
	if (s->nfiles > 0) {
		struct tfile *f = &s->files[s->nfiles - 1];
		unsigned i;

		for (i = 0; i < f->nseen && (f->seen[i].type != type || f->seen[i].n != n); i++)
			;
		if (i == f->nseen && i < SEEN_MAX) {
			f->seen[i].type = type;
			f->seen[i].n = n;
			f->nseen++;
		}
	}
	return 0;
}

/* ---- the fast path: unquoted rows, parsed in place ---- */

/* Each returns the position after the field's text, or NULL when the row
 * is not one the fast path takes (the general path then decides). */

static inline const char *f_ts(const char *p, int64_t *v)
{
	const char *s = p;
	uint64_t x = 0;

	while ((unsigned)(*p - '0') < 10)
		x = x * 10 + (uint64_t)(*p++ - '0');
	if (UNLIKELY(p == s || p - s > 16 || x > (uint64_t)US_MAX))
		return NULL;
	*v = (int64_t)x;
	return p;
}

/* are the 8 bytes of v all ASCII digits? */
static inline int digits8(uint64_t v)
{
	return ((v & 0xF0F0F0F0F0F0F0F0ULL) |
		(((v + 0x0606060606060606ULL) & 0xF0F0F0F0F0F0F0F0ULL) >> 4)) == 0x3333333333333333ULL;
}

/* the value of 8 ASCII digits, the first one most significant */
static inline uint64_t value8(uint64_t v)
{
	const uint64_t mask = 0x000000FF000000FFULL;
	const uint64_t mul1 = 0x000F424000000064ULL;	/* 100 + (1000000 << 32) */
	const uint64_t mul2 = 0x0000271000000001ULL;	/* 1 + (10000 << 32) */

	v -= 0x3030303030303030ULL;
	v = v * 10 + (v >> 8);
	return (((v & mask) * mul1) + (((v >> 16) & mask) * mul2)) >> 32;
}

static inline const char *f_dec(const char *p, struct dv *d)
{
	const char *s = p, *i0, *z;
	uint64_t x = 0;
	int neg = 0, ni, nz, nf = 0;

	d->t = p;
	if (*p == '-') {
		neg = 1;
		p++;
	}
	i0 = p;
	while (*p == '0')
		p++;
	z = p;			/* leading zeros are not digits of the value */
	while ((unsigned)(*p - '0') < 10)
		x = x * 10 + (uint64_t)(*p++ - '0');
	ni = (int)(p - i0);
	nz = (int)(p - z);
	if (*p == '.') {
		const char *f0 = ++p;

		while ((unsigned)(*p - '0') < 10)
			x = x * 10 + (uint64_t)(*p++ - '0');
		nf = (int)(p - f0);
		if (UNLIKELY(nf == 0))
			return NULL;
	}
	if (UNLIKELY(ni == 0 || nz + nf > CHR_DEC_MAX_SCALE))
		return NULL;
	d->v = neg ? -(int64_t)x : (int64_t)x;
	d->sc = nf;
	d->dig = nz;
	d->n = (size_t)(p - s);
	return p;
}

/* A timestamp field ended by ','. Tardis timestamps are 16 digits and
 * repeat from row to row: compare the text with the last one, else parse
 * 8 digits at a time. */
static inline __attribute__((always_inline)) const char *f_ts16(const char *p, int64_t *v, struct tsc *c)
{
	uint64_t a = load8(p), b = load8(p + 8), x;

	if (LIKELY(a == c->a) && LIKELY(p[16] == ',')) {
		if (LIKELY(b == c->b)) {
			*v = c->v;
			return p + 16;
		}
		/* the same first 8 digits (a second and more): their value kept */
		if (LIKELY(digits8(b))) {
			x = c->va * 100000000ULL + value8(b);
			if (x > (uint64_t)US_MAX)
				return NULL;
			c->b = b;
			c->v = *v = (int64_t)x;
			return p + 16;
		}
	}
	if (digits8(a) && digits8(b) && p[16] == ',') {
		uint64_t va = value8(a);

		x = va * 100000000ULL + value8(b);
		if (x > (uint64_t)US_MAX)
			return NULL;
		c->a = a;
		c->b = b;
		c->va = va;
		c->v = *v = (int64_t)x;
		return p + 16;
	}
	return f_ts(p, v);
}

/* The first ',', '\n', '"', '\r' or NUL from p on: the end of an unquoted
 * field (NUL ends it too, so that the field holds none). 16 bytes at a
 * time: the sentinel line end stops it within the buffer's padding. */
static inline const char *f_sep(const char *p)
{
#ifdef __SSE2__
	const __m128i comma = _mm_set1_epi8(','), lf = _mm_set1_epi8('\n'), quote = _mm_set1_epi8('"'),
		      cr = _mm_set1_epi8('\r'), nul = _mm_setzero_si128();

	for (;; p += 16) {
		__m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
		__m128i m = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, comma), _mm_cmpeq_epi8(v, lf)),
					 _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, cr)),
						      _mm_cmpeq_epi8(v, nul)));
		unsigned bits = (unsigned)_mm_movemask_epi8(m);

		if (bits != 0)
			return p + __builtin_ctz(bits);
	}
#else
	while (*p != ',' && *p != '\n' && *p != '"' && *p != '\r' && *p != '\0')
		p++;
	return p;
#endif
}

/* a decimal that may be empty (CHR_NULL) */
static inline const char *f_dec0(const char *p, struct dv *d)
{
	if (*p == ',' || *p == '\n' || *p == '\r') {
		d->v = CHR_NULL;
		d->sc = d->dig = 0;
		d->t = p;
		d->n = 0;
		return p;
	}
	return f_dec(p, d);
}

/* A decimal (empty allowed when empty is set, as f_dec0, else as f_dec)
 * without a branch on its digits: the position after it from 16 bytes
 * classed at once (digits, '.'), its value from its digits gathered into
 * 8 bytes (pshufb) and multiplied pairwise. Up to 8 digits and one '.';
 * anything else (a sign, more digits, a bad number, an empty field) goes
 * to f_dec0 or f_dec. Trade and quote amounts change length from row to
 * row, which the byte loop's exits mispredict; L2 rows are slower this
 * way (131 -> 207 ms for 4 M rows), the byte loop stays theirs. */
static inline __attribute__((always_inline)) const char *f_dec16(const char *p, struct dv *d, int empty)
{
#ifdef __SSE4_1__
	const __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
	const __m128i j = _mm_setr_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
	unsigned dm = (unsigned)_mm_movemask_epi8(_mm_and_si128(_mm_cmpgt_epi8(v, _mm_set1_epi8('0' - 1)),
								_mm_cmplt_epi8(v, _mm_set1_epi8('9' + 1))));
	unsigned pm = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8('.')));
	unsigned zm = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8('0')));
	unsigned len = (unsigned)__builtin_ctz(~(dm | pm)), k, cnt, lz;
	__m128i t, idx, dg;

	pm &= (1u << len) - 1;
	k = pm ? (unsigned)__builtin_ctz(pm) : len;	/* integer digits */
	cnt = len - (pm != 0);
	if (UNLIKELY(len == 0 || cnt > 8 || (pm & (pm - 1)) != 0 || k == 0 || k == len - 1))
		return empty ? f_dec0(p, d) : f_dec(p, d);	/* and ".5", "5.": not decimals */
	/* byte i of the 8 takes digit i - (8 - cnt), past the '.' from k on;
	 * the bytes before the first digit are 0 */
	t = _mm_sub_epi8(j, _mm_set1_epi8((char)(8 - cnt)));
	idx = _mm_sub_epi8(t, _mm_cmpgt_epi8(t, _mm_set1_epi8((char)(k - 1))));
	idx = _mm_or_si128(idx, _mm_cmplt_epi8(t, _mm_setzero_si128()));
	dg = _mm_subs_epu8(_mm_shuffle_epi8(v, idx), _mm_set1_epi8('0'));
	dg = _mm_maddubs_epi16(dg, _mm_setr_epi8(10, 1, 10, 1, 10, 1, 10, 1, 10, 1, 10, 1, 10, 1, 10, 1));
	dg = _mm_madd_epi16(dg, _mm_setr_epi16(100, 1, 100, 1, 100, 1, 100, 1));
	dg = _mm_packus_epi32(dg, dg);
	dg = _mm_madd_epi16(dg, _mm_setr_epi16(10000, 1, 10000, 1, 10000, 1, 10000, 1));
	lz = (unsigned)__builtin_ctz(~zm);	/* leading zeros are not digits of the value */
	d->v = (int64_t)(uint32_t)_mm_cvtsi128_si32(dg);
	d->sc = (int)(len - k - (pm != 0));
	d->dig = (int)(k - (lz < k ? lz : k));
	d->t = p;
	d->n = len;
	return p + len;
#else
	return empty ? f_dec0(p, d) : f_dec(p, d);
#endif
}

/* the row's line end: the position after it, or NULL */
static inline const char *f_eol(const char *p)
{
	if (LIKELY(*p == '\n'))
		return p + 1;
	if (*p == '\r' && p[1] == '\n')
		return p + 2;
	return NULL;
}

/* exchange and symbol: the cached prefix, else scanned and looked up */
static inline const char *f_prefix(struct chr_tardis_in *t, const char *p, struct row *r)
{
	struct chr_tardis_state *s = t->s;
	const char *ex = p, *sy;
	size_t n;

#ifdef __SSE2__
	/* up to 32 bytes (a venue and a symbol of most markets) in two
	 * compares: the buffer's padding covers the overread */
	if (LIKELY(s->pfx_len - 1 < 32)) {
		__m128i a = _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(const void *)p),
					   _mm_loadu_si128((const __m128i *)(const void *)s->pfx));
		__m128i b = _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(const void *)(p + 16)),
					   _mm_loadu_si128((const __m128i *)(const void *)(s->pfx + 16)));
		uint64_t eq = (uint64_t)(unsigned)_mm_movemask_epi8(a) |
			      (uint64_t)(unsigned)_mm_movemask_epi8(b) << 16;

		if (LIKELY((~eq & ((1ULL << s->pfx_len) - 1)) == 0)) {
			r->m = s->pfx_m;
			return p + s->pfx_len;
		}
		goto scan;
	}
#endif
	if (LIKELY(s->pfx_len > 0)) {
		size_t i = 0, k = s->pfx_len;

		/* word by word: the buffer's padding covers the overread */
		for (; i + 8 <= k; i += 8)
			if (load8(p + i) != load8(s->pfx + i))
				goto scan;
		if (i == k || ((load8(p + i) ^ load8(s->pfx + i)) & ((1ULL << (8 * (k - i))) - 1)) == 0) {
			r->m = s->pfx_m;
			return p + k;
		}
	}
scan:
	p = f_sep(p);
	if (*p != ',')
		return NULL;
	sy = ++p;
	p = f_sep(p);
	if (*p != ',')
		return NULL;
	n = (size_t)(p + 1 - ex);
	/* a header line in the stream, and names the general path reports */
	if (n > sizeof s->pfx - 16 || (p - sy == 6 && memcmp(ex, "exchange,symbol,", 16) == 0) ||
	    !chr_td_name_ok(ex, (size_t)(sy - 1 - ex)) || !chr_td_name_ok(sy, (size_t)(p - sy)) ||
	    (size_t)(sy - 1 - ex) > VENUE_LEN || (size_t)(p - sy) > CHR_SYMBOL_MAX)
		return NULL;
	if (chr_td_market(t, ex, (size_t)(sy - 1 - ex), sy, (size_t)(p - sy), &r->m) != 1)
		return NULL;	/* out of memory: the general path says so */
	memcpy(s->pfx, ex, n);
	s->pfx_len = n;
	s->pfx_m = r->m;
	return p + 1;
}

static inline const char *f_common(struct chr_tardis_in *t, const char *p, struct row *r)
{
	if ((p = f_prefix(t, p, r)) == NULL)
		return NULL;
	if ((p = f_ts16(p, &r->ts, &t->s->ts_c)) == NULL || *p != ',')
		return NULL;
	if ((p = f_ts16(p + 1, &r->lts, &t->s->lts_c)) == NULL || *p != ',')
		return NULL;
	return p + 1;
}

static inline const char *f_l2(struct chr_tardis_in *t, const char *p, struct row *r)
{
	if ((p = f_common(t, p, r)) == NULL)
		return NULL;
	if (memcmp(p, "false,", 6) == 0) {
		r->snap = 0;
		p += 6;
	} else if (memcmp(p, "true,", 5) == 0) {
		r->snap = 1;
		p += 5;
	} else {
		return NULL;
	}
	if (p[0] == 'b' && p[1] == 'i' && p[2] == 'd' && p[3] == ',')
		r->side = SIDE_BID;
	else if (p[0] == 'a' && p[1] == 's' && p[2] == 'k' && p[3] == ',')
		r->side = SIDE_ASK;
	else
		return NULL;
	if ((p = f_dec(p + 4, &r->px)) == NULL || *p != ',')
		return NULL;
	if ((p = f_dec(p + 1, &r->sz)) == NULL)
		return NULL;
	return f_eol(p);
}

static const char *f_trade(struct chr_tardis_in *t, const char *p, struct row *r)
{
	if ((p = f_common(t, p, r)) == NULL)
		return NULL;
	r->id = p;
	p = f_sep(p);
	r->idn = (size_t)(p - r->id);
	if (*p != ',' || r->idn > CHR_TRADE_ID_MAX)	/* a NUL stopped f_sep: not ',' */
		return NULL;
	p++;
	if (memcmp(p, "buy,", 4) == 0) {
		r->side = CHR_SIDE_BUY;
		p += 4;
	} else if (memcmp(p, "sell,", 5) == 0) {
		r->side = CHR_SIDE_SELL;
		p += 5;
	} else if (memcmp(p, "unknown,", 8) == 0) {
		r->side = CHR_SIDE_UNKNOWN;
		p += 8;
	} else {
		return NULL;
	}
	if ((p = f_dec16(p, &r->px, 0)) == NULL || *p != ',')
		return NULL;
	if ((p = f_dec16(p + 1, &r->sz, 0)) == NULL)
		return NULL;
	return f_eol(p);
}

/* n comma-separated decimals (the last with no comma after it) into v;
 * kept out of line, as inlined into the parse loop it made the loop
 * slower for every dataset */
__attribute__((noinline))
static const char *f_decs(const char *p, struct dv *v, int n)
{
	for (int i = 0; i < n; i++) {
		if (i > 0) {
			if (*p != ',')
				return NULL;
			p++;
		}
		if ((p = f_dec0(p, &v[i])) == NULL)
			return NULL;
	}
	return p;
}

/* A decimal that may be empty, through its column's cache c: quote
 * prices repeat from row to row (and amounts often), so a text that
 * matches the last one with the same byte after it (which ends the
 * number) takes the last value. */
static inline const char *f_decc(const char *p, struct dv *d, struct decc *c)
{
	uint64_t w = load8(p);
	const char *q;
	size_t n;

	if ((w & c->mask) == c->w) {
		*d = c->d;
		d->t = p;
		return p + d->n;
	}
	q = f_dec0(p, d);
	n = (size_t)(q != NULL ? q - p : 8);
	if (n < 8 && n > 0 && (*q == ',' || *q == '\n' || *q == '\r')) {
		c->mask = ~0ULL >> (8 * (7 - n));
		c->w = w & c->mask;
		c->d = *d;
	}
	return q;
}

static const char *f_quote(struct chr_tardis_in *t, const char *p, struct row *r)
{
	struct decc *c = t->s->qc;

	if ((p = f_common(t, p, r)) == NULL)
		return NULL;
#pragma GCC unroll 4
	for (int i = 0; i < 4; i++) {
		if (i > 0) {
			if (*p != ',')
				return NULL;
			p++;
		}
		/* prices repeat; an amount's cache would miss half the time,
		 * a dearer branch to mispredict than the byte loop's */
		if ((p = i == 1 || i == 2 ? f_decc(p, &r->q[i], &c[i]) : f_dec16(p, &r->q[i], 1)) == NULL)
			return NULL;
	}
	return f_eol(p);
}

static const char *f_topn(struct chr_tardis_in *t, const char *p, struct row *r)
{
	if ((p = f_common(t, p, r)) == NULL)
		return NULL;
	r->tv = t->s->tv;
	if ((p = f_decs(p, r->tv, 4 * t->s->n)) == NULL)
		return NULL;
	return f_eol(p);
}

/* Did the fast path take the row from p to q (q NULL: not)? Counts it. */
static inline int fast_ok(struct chr_tardis_in *t, const char *p, const char *q)
{
	/* q <= lim (or end + 1 for a last line without '\n') */
	if (LIKELY(q != NULL) && LIKELY((size_t)(q - p) <= CHR_TARDIS_LINE_MAX + 1)) {
		t->line++;
		t->rows++;
		return 1;
	}
	return 0;
}

long chr_tardis_in_parse(struct chr_tardis_in *t, char *buf, size_t n, int final)
{
	struct chr_tardis_state *s = t->s;
	char *p = buf, *end = buf + n, *lim, *from;
	const char *q;
	struct row r;
	int rc = 0, taken;

	/* a sentinel line end and readable scratch after the data */
	memset(end, 0, CHR_TARDIS_PAD);
	*end = '\n';
	if (UNLIKELY(s->at_start)) {
		/* a UTF-8 byte order mark (Excel writes one) is not data */
		static const char bom[3] = "\xef\xbb\xbf";

		if (n < sizeof bom && !final && memcmp(buf, bom, n) == 0)
			return 0;	/* too few bytes to tell yet */
		s->at_start = 0;
		if (n >= sizeof bom && memcmp(buf, bom, sizeof bom) == 0)
			p += sizeof bom;
	}
	if (UNLIKELY(s->discard)) {
		/* the rest of a line too long to keep: up to its '\n' */
		if ((p = memchr(buf, '\n', n)) == NULL) {
			s->discard = !final;
			return (long)n;
		}
		p++;
		s->discard = 0;
		s->scanned = 0;
	}
	/* [p, lim) are complete lines; a line from lim on has no '\n' yet (its
	 * first s->scanned bytes were searched by the call before) */
	if (final) {
		lim = end;
	} else {
		from = p == buf && s->scanned <= n ? buf + s->scanned : p;
		lim = memrchr(from, '\n', (size_t)(end - from));
		lim = lim != NULL ? lim + 1 : p;
	}
	s->scanned = 0;
	while (p < lim) {
		if (LIKELY(t->fast) && LIKELY(!s->need_header)) {
			/* each dataset its own parse and row step, inline */
			switch (s->type) {
			case CHR_TARDIS_L2:
				if ((taken = fast_ok(t, p, q = f_l2(t, p, &r))))
					rc = l2_row(t, &r);
				break;
			case CHR_TARDIS_TRADES:
				if ((taken = fast_ok(t, p, q = f_trade(t, p, &r))))
					rc = trade_row(t, &r);
				break;
			case CHR_TARDIS_QUOTES:
				if ((taken = fast_ok(t, p, q = f_quote(t, p, &r))))
					rc = quote_row(t, &r);
				break;
			default:
				if ((taken = fast_ok(t, p, q = f_topn(t, p, &r))))
					rc = one_row(t, &r);
				break;
			}
			if (LIKELY(taken)) {
				if (UNLIKELY(rc < 0))
					return -1;
				p = (char *)q;
				continue;
			}
		}
		if (chr_td_general(t, &p, end) < 0)
			return -1;
	}
	if (p >= end)
		return (long)n;
	/* the unfinished line: kept for the next call, or too long to keep */
	if ((size_t)(end - p) > CHR_TARDIS_LINE_MAX) {
		if (chr_td_too_long(t, p, (size_t)(end - p)) < 0)
			return -1;
		s->discard = 1;
		return (long)n;
	}
	s->scanned = (size_t)(end - p);
	return (long)(p - buf);
}

int chr_tardis_in_end(struct chr_tardis_in *t)
{
	struct chr_tardis_state *s = t->s;
	size_t i;

	if (emit(t, 1) < 0)
		return -1;
	for (i = 0; i < s->nall; i++) {
		struct market *m = s->all[i];

		if (m->skipped > 0 && t->note) {
			char msg[1024];

			snprintf(msg, sizeof msg, "%s: skipped %llu rows of %s %s before its first "
				 "snapshot", t->name, (unsigned long long)m->skipped, m->venue, m->symbol);
			t->note(t->note_ctx, msg);
		}
		m->skipped = 0;
	}
	return 0;
}

/* ---- for the general path (tardis_csv.c): the fast path above calls the
 * static functions, which the compiler keeps free to inline ---- */

int chr_td_oom(struct chr_tardis_in *t)
{
	return oom(t);
}

int chr_td_l2_row(struct chr_tardis_in *t, const struct row *r)
{
	return l2_row(t, r);
}

int chr_td_one_row(struct chr_tardis_in *t, const struct row *r)
{
	return one_row(t, r);
}

int chr_td_emit(struct chr_tardis_in *t, int last)
{
	return emit(t, last);
}

int chr_td_set_dataset(struct chr_tardis_in *t, int type, int n)
{
	return set_dataset(t, type, n);
}
