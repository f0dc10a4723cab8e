/* parquet.c - the Parquet writer (parquet.h): a row group is buffered by
 * column, then written column chunk by column chunk as ZSTD pages; the
 * footer (Thrift compact, thrift.h) at the end describes them all. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zstd.h>

#include "dec.h"
#include "parquet.h"

/* Parquet enums (parquet.thrift) */
enum { T_BOOLEAN = 0, T_INT64 = 2, T_BYTE_ARRAY = 6 };
enum { E_PLAIN = 0, E_RLE = 3, E_RLE_DICTIONARY = 8 };
enum { PAGE_DATA = 0, PAGE_DICTIONARY = 2 };
enum { CT_UTF8 = 0, CT_DECIMAL = 5 };
#define CODEC_ZSTD 6
#define PRECISION 18

#define PAGE_ROWS (1u << 17)	/* rows of a data page, at most */
#define OBUF (1u << 20)

/* where a data page of a decimal column is, to raise its scale later */
struct page {
	int64_t off;		/* of its header */
	uint32_t hlen, csize, usize, nvals;
};

/* what the footer says of a column chunk */
struct chunk {
	int64_t dict_off, data_off, usize, csize, nulls, min, max;
	int has_minmax;
	int scale;		/* DEC: the scale its pages hold, -1 none */
	struct page *pages;	/* DEC: its data pages */
	size_t npages, pcap;
};

struct chr_pq_group {
	int64_t rows, off;
	struct chunk *ch;
};

static int oom(struct chr_err *e)
{
	return chr_err_set(e, CHR_EX_SYS, "out of memory");
}

int chr_pq_grow(void **p, size_t *cap, size_t need, size_t elem)
{
	size_t nc = *cap ? *cap : 64;
	void *q;

	if (need <= *cap)
		return 0;
	while (nc < need)
		nc *= 2;
	if ((q = realloc(*p, nc * elem)) == NULL)
		return -1;
	*p = q;
	*cap = nc;
	return 0;
}

/* ---- output ---- */

static int out_flush(struct chr_pq *pq, struct chr_err *e)
{
	if (pq->on && chr_write_all(pq->fd, pq->obuf, pq->on) < 0)
		return chr_err_sys(e, "cannot write to '%s'", pq->name);
	pq->on = 0;
	return 0;
}

static int out(struct chr_pq *pq, const void *p, size_t n, struct chr_err *e)
{
	pq->off += n;
	if (pq->on + n > OBUF) {
		if (out_flush(pq, e) < 0)
			return -1;
		if (n >= OBUF) {
			if (chr_write_all(pq->fd, p, n) < 0)
				return chr_err_sys(e, "cannot write to '%s'", pq->name);
			return 0;
		}
	}
	memcpy(pq->obuf + pq->on, p, n);
	pq->on += n;
	return 0;
}

/* ---- the columns of a row group ---- */

static int re(void *pp, size_t n, size_t elem)
{
	void **p = pp, *q = realloc(*p, n * elem);

	if (!q)
		return -1;
	*p = q;
	return 0;
}

/* room for cap rows in column c */
static int col_room(struct chr_pq_col *c, size_t cap)
{
	if (c->optional && re(&c->def, cap, 1) < 0)
		return -1;
	switch (c->kind) {
	case CHR_PQ_DEC:
		return re(&c->sc, cap, 1) < 0 || re(&c->v, cap, 8) < 0 ? -1 : 0;
	case CHR_PQ_TIME:
		return re(&c->v, cap, 8);
	case CHR_PQ_BOOL:
		return re(&c->b, cap, 1);
	case CHR_PQ_DICT:
		return re(&c->ix, cap, 4);
	case CHR_PQ_STR:	/* and the end of the last row */
		return re(&c->soff, cap + 1, sizeof *c->soff);
	}
	return 0;
}

static int dict_add(struct chr_pq_dict *d, const char *s, size_t n, uint32_t *ix)
{
	uint64_t h = 1469598103934665603ull;
	uint32_t i, k;

	if (d->n && d->last < d->n) {
		const uint8_t *p = d->plain + d->at[d->last];
		uint32_t ln;

		memcpy(&ln, p, 4);
		if (ln == n && memcmp(p + 4, s, n) == 0) {
			*ix = d->last;
			return 0;
		}
	}
	for (size_t j = 0; j < n; j++)
		h = (h ^ (uint8_t)s[j]) * 1099511628211ull;
	if (2 * (d->n + 1) > d->nslot) {
		uint32_t ns = d->nslot ? d->nslot * 2 : 64, *sl = calloc(ns, sizeof *sl);

		if (!sl)
			return -1;
		/* rehash by the stored strings */
		for (uint32_t q = 0; q < d->n; q++) {
			const uint8_t *p = d->plain + d->at[q];
			uint32_t ln;
			uint64_t hh = 1469598103934665603ull;

			memcpy(&ln, p, 4);
			for (uint32_t j = 0; j < ln; j++)
				hh = (hh ^ p[4 + j]) * 1099511628211ull;
			for (k = (uint32_t)hh & (ns - 1); sl[k]; k = (k + 1) & (ns - 1))
				;
			sl[k] = q + 1;
		}
		free(d->slot);
		d->slot = sl;
		d->nslot = ns;
	}
	for (k = (uint32_t)h & (d->nslot - 1); (i = d->slot[k]) != 0; k = (k + 1) & (d->nslot - 1)) {
		const uint8_t *p = d->plain + d->at[i - 1];
		uint32_t ln;

		memcpy(&ln, p, 4);
		if (ln == n && memcmp(p + 4, s, n) == 0) {
			*ix = d->last = i - 1;
			return 0;
		}
	}
	{
		size_t acap = d->acap;

		if (chr_pq_grow((void **)&d->at, &acap, d->n + 1, sizeof *d->at) < 0 ||
		    chr_pq_grow((void **)&d->plain, &d->pcap, d->plen + 4 + n, 1) < 0)
			return -1;
		d->acap = (uint32_t)acap;
	}
	uint32_t ln = (uint32_t)n;

	d->at[d->n] = d->plen;
	memcpy(d->plain + d->plen, &ln, 4);
	memcpy(d->plain + d->plen + 4, s, n);
	d->plen += 4 + n;
	d->slot[k] = d->n + 1;
	*ix = d->last = d->n++;
	return 0;
}

static void dict_clear(struct chr_pq_dict *d)
{
	d->plen = 0;
	d->n = 0;
	d->last = 0;
	if (d->slot)
		memset(d->slot, 0, d->nslot * sizeof *d->slot);
}

int chr_pq_str(struct chr_pq *pq, size_t c, const char *s, size_t n)
{
	struct chr_pq_col *col = &pq->col[c];
	uint32_t ln = (uint32_t)n;

	if (col->optional)
		col->def[pq->nrows] = 1;
	if (col->kind == CHR_PQ_DICT)
		return dict_add(&col->d, s, n, &col->ix[pq->nrows]);
	if (chr_pq_grow((void **)&col->s, &col->scap, col->slen + 4 + n, 1) < 0)
		return -1;
	col->soff[pq->nrows] = col->slen;
	memcpy(col->s + col->slen, &ln, 4);
	memcpy(col->s + col->slen + 4, s, n);
	col->slen += 4 + n;
	return 0;
}

void chr_pq_time(struct chr_pq *pq, size_t c, int64_t ns)
{
	struct chr_pq_col *col = &pq->col[c];

	if (col->optional)
		col->def[pq->nrows] = 1;
	col->v[pq->nrows] = ns;
}

void chr_pq_bool(struct chr_pq *pq, size_t c, int v)
{
	struct chr_pq_col *col = &pq->col[c];

	if (col->optional)
		col->def[pq->nrows] = 1;
	col->b[pq->nrows] = v != 0;
}

void chr_pq_dec(struct chr_pq *pq, size_t c, int64_t mant, int scale)
{
	struct chr_pq_col *col = &pq->col[c];

	if (col->optional)
		col->def[pq->nrows] = 1;
	col->v[pq->nrows] = mant;
	col->sc[pq->nrows] = (int8_t)scale;
}

void chr_pq_null(struct chr_pq *pq, size_t c)
{
	struct chr_pq_col *col = &pq->col[c];

	col->def[pq->nrows] = 0;
	if (col->kind == CHR_PQ_STR)
		col->soff[pq->nrows] = col->slen;
}

/* ---- encodings ---- */

static uint8_t *put_varint(uint8_t *p, uint64_t v)
{
	while (v >= 0x80) {
		*p++ = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	*p++ = (uint8_t)v;
	return p;
}

/* value i of an 8-bit or 32-bit array */
static inline uint32_t val(const void *a, int wide, size_t i)
{
	return wide ? ((const uint32_t *)a)[i] : ((const uint8_t *)a)[i];
}

/* The RLE / bit-packing hybrid of n values of bw bits (1..32) at p: a run
 * of 8 or more equal values is one RLE run, the rest bit-packed in groups
 * of 8 (the last group padded with zeros). p must hold
 * rle_bound(n, bw) bytes. Returns the end. */
static size_t rle_bound(size_t n, int bw)
{
	return (n / 8 + 1) * ((size_t)bw + 10) + 16;
}

static uint8_t *rle(uint8_t *p, const void *a, int wide, size_t n, int bw)
{
	size_t i = 0, j, vb = ((size_t)bw + 7) / 8;

	while (i < n) {
		uint32_t x = val(a, wide, i);

		for (j = i + 1; j < n && val(a, wide, j) == x; j++)
			;
		if (j - i >= 8) {
			p = put_varint(p, (uint64_t)(j - i) << 1);
			for (size_t k = 0; k < vb; k++)
				*p++ = (uint8_t)(x >> (8 * k));
			i = j;
			continue;
		}
		/* literal groups of 8 until a run of 8 begins at a group's end */
		size_t groups = 0;
		uint8_t *hdr = p;

		p += 5;		/* the header, moved down once known */
		do {
			uint64_t acc = 0;
			int nb = 0;

			for (size_t k = 0; k < 8; k++, i++) {
				acc |= (uint64_t)(i < n ? val(a, wide, i) : 0) << nb;
				nb += bw;
				while (nb >= 8) {
					*p++ = (uint8_t)acc;
					acc >>= 8;
					nb -= 8;
				}
			}
			groups++;
			if (i >= n)
				break;
			x = val(a, wide, i);
			for (j = i + 1; j < n && j < i + 8 && val(a, wide, j) == x; j++)
				;
		} while (j - i < 8);
		{
			uint8_t h[10], *he = put_varint(h, (uint64_t)groups << 1 | 1);
			size_t hl = (size_t)(he - h), body = (size_t)(p - hdr - 5);

			memmove(hdr + hl, hdr + 5, body);
			memcpy(hdr, h, hl);
			p = hdr + hl + body;
		}
	}
	return p;
}

static int bits_for(uint32_t maxv)
{
	int bw = 1;

	while (bw < 32 && (maxv >> bw) != 0)
		bw++;
	return bw;
}

static int page_room(struct chr_pq *pq, size_t n, struct chr_err *e)
{
	if (chr_pq_grow((void **)&pq->page, &pq->page_cap, n, 1) < 0)
		return oom(e);
	return 0;
}

/* Compress page[0..usize) and write its header (type, and the fields of
 * its data or dictionary header) and body. Adds the bytes to *u and *c. */
static int write_page(struct chr_pq *pq, int type, size_t usize, uint32_t nvals, int enc,
		      int64_t *u, int64_t *c, struct page *pg, struct chr_err *e)
{
	size_t bound = ZSTD_compressBound(usize), k;

	if (chr_pq_grow((void **)&pq->zpage, &pq->zpage_cap, bound, 1) < 0)
		return oom(e);
	k = ZSTD_compressCCtx(pq->zc, pq->zpage, bound, pq->page, usize, pq->level);
	if (ZSTD_isError(k))
		return chr_err_set(e, CHR_EX_SYS, "'%s': zstd: %s", pq->name, ZSTD_getErrorName(k));
	if (usize > INT32_MAX || k > INT32_MAX)
		return chr_err_set(e, CHR_EX_DATA, "'%s': a page of %zu bytes: too large",
				   pq->name, usize);
	chr_th_reset(&pq->th);
	chr_th_i32(&pq->th, 1, type);
	chr_th_i32(&pq->th, 2, (int32_t)usize);
	chr_th_i32(&pq->th, 3, (int32_t)k);
	if (type == PAGE_DATA) {
		chr_th_struct(&pq->th, 5);
		chr_th_i32(&pq->th, 1, (int32_t)nvals);
		chr_th_i32(&pq->th, 2, enc);
		chr_th_i32(&pq->th, 3, E_RLE);
		chr_th_i32(&pq->th, 4, E_RLE);
		chr_th_end(&pq->th);
	} else {
		chr_th_struct(&pq->th, 7);
		chr_th_i32(&pq->th, 1, (int32_t)nvals);
		chr_th_i32(&pq->th, 2, E_PLAIN);
		chr_th_end(&pq->th);
	}
	chr_th_end(&pq->th);
	if (pq->th.oom)
		return oom(e);
	*u += (int64_t)(pq->th.n + usize);
	*c += (int64_t)(pq->th.n + k);
	if (pg)
		*pg = (struct page){ (int64_t)pq->off, (uint32_t)pq->th.n, (uint32_t)k,
				     (uint32_t)usize, nvals };
	if (out(pq, pq->th.p, pq->th.n, e) < 0 || out(pq, pq->zpage, k, e) < 0)
		return -1;
	return 0;
}

int chr_pq_dec_scale(struct chr_pq *pq, size_t ci, struct chr_err *e)
{
	struct chr_pq_col *c = &pq->col[ci];
	int top = -1;

	for (size_t i = 0; i < pq->nrows; i++)
		if ((!c->optional || c->def[i]) && c->sc[i] > top)
			top = c->sc[i];
	if (top < 0)
		return 0;	/* no values: the scale waits */
	if (c->scale < 0)
		c->scale = top;
	/* a finer value than the rows written: raise the column's scale,
	 * and theirs at the end (raise_written), which reads them back */
	if (top > c->scale) {
		char magic[4];

		if (out_flush(pq, e) < 0)
			return -1;
		if (pread(pq->fd, magic, 4, 0) != 4)
			return chr_err_set(e, CHR_EX_DATA, "'%s': column %s: a value of scale %d "
					   "after rows written at scale %d, which cannot be read "
					   "back here to raise theirs (%s column has one "
					   "scale; chr-tail -o FILE can)", pq->name, c->name, top, c->scale,
					   pq->format);
		c->scale = top;
	}
	for (size_t i = 0; i < pq->nrows; i++) {
		int64_t m = c->v[i];

		if (c->optional && !c->def[i])
			continue;
		if (chr_dec_rescale(&m, c->sc[i], c->scale) < 0 ||
		    m >= chr_pow10[PRECISION] || m <= -chr_pow10[PRECISION]) {
			char d[CHR_DEC_BUF];

			chr_dec_format(d, c->v[i], c->sc[i]);
			return chr_err_set(e, CHR_EX_DATA, "'%s': column %s: %s does not fit "
					   "DECIMAL(18, %d)", pq->name, c->name, d, c->scale);
		}
		c->v[i] = m;
	}
	return 0;
}

/* Write column c of the row group as a chunk: a dictionary page for DICT,
 * then data pages of PAGE_ROWS rows. */
static int write_chunk(struct chr_pq *pq, struct chr_pq_col *c, struct chunk *ch,
		       struct chr_err *e)
{
	int enc = c->kind == CHR_PQ_DICT ? E_RLE_DICTIONARY : E_PLAIN;
	int bw = c->kind == CHR_PQ_DICT ? bits_for(c->d.n ? c->d.n - 1 : 0) : 0;

	memset(ch, 0, sizeof *ch);
	ch->dict_off = -1;
	if (c->kind == CHR_PQ_DEC && chr_pq_dec_scale(pq, (size_t)(c - pq->col), e) < 0)
		return -1;
	ch->scale = c->scale;
	if (c->kind == CHR_PQ_DICT) {
		ch->dict_off = (int64_t)pq->off;
		if (page_room(pq, c->d.plen + 1, e) < 0)
			return -1;
		memcpy(pq->page, c->d.plain, c->d.plen);
		if (write_page(pq, PAGE_DICTIONARY, c->d.plen, c->d.n, 0, &ch->usize, &ch->csize,
			       NULL, e) < 0)
			return -1;
	}
	ch->data_off = (int64_t)pq->off;
	for (size_t a = 0; a < pq->nrows; a += PAGE_ROWS) {
		size_t b = a + PAGE_ROWS < pq->nrows ? a + PAGE_ROWS : pq->nrows, n = b - a;
		size_t need = 8 + rle_bound(n, 1) + rle_bound(n, 32) + 8 * n + 1;
		uint8_t *p;

		if (c->kind == CHR_PQ_STR)
			need += c->soff[b] - c->soff[a];
		if (page_room(pq, need, e) < 0)
			return -1;
		p = pq->page;
		if (c->optional) {
			uint8_t *q = rle(p + 4, c->def + a, 0, n, 1);
			uint32_t ln = (uint32_t)(q - p - 4);

			memcpy(p, &ln, 4);
			p = q;
		}
		switch (c->kind) {
		case CHR_PQ_DICT:
			*p++ = (uint8_t)bw;
			p = rle(p, c->ix + a, 1, n, bw);
			break;
		case CHR_PQ_STR:
			memcpy(p, c->s + c->soff[a], c->soff[b] - c->soff[a]);
			p += c->soff[b] - c->soff[a];
			break;
		case CHR_PQ_BOOL:
			memset(p, 0, (n + 7) / 8);
			for (size_t i = 0; i < n; i++)
				p[i / 8] |= (uint8_t)(c->b[a + i] << (i % 8));
			p += (n + 7) / 8;
			break;
		case CHR_PQ_TIME:
		case CHR_PQ_DEC:
			for (size_t i = a; i < b; i++) {
				if (c->optional && !c->def[i]) {
					ch->nulls++;
					continue;
				}
				if (c->kind == CHR_PQ_TIME) {
					if (!ch->has_minmax || c->v[i] < ch->min)
						ch->min = c->v[i];
					if (!ch->has_minmax || c->v[i] > ch->max)
						ch->max = c->v[i];
					ch->has_minmax = 1;
				}
				memcpy(p, &c->v[i], 8);	/* little-endian hosts only (rec.h) */
				p += 8;
			}
			break;
		}
		if (c->optional && c->kind != CHR_PQ_TIME && c->kind != CHR_PQ_DEC)
			for (size_t i = a; i < b; i++)
				ch->nulls += !c->def[i];
		if (c->kind == CHR_PQ_DEC &&
		    chr_pq_grow((void **)&ch->pages, &ch->pcap, ch->npages + 1, sizeof *ch->pages) < 0)
			return oom(e);
		if (write_page(pq, PAGE_DATA, (size_t)(p - pq->page), (uint32_t)n, enc, &ch->usize,
			       &ch->csize, c->kind == CHR_PQ_DEC ? &ch->pages[ch->npages++] : NULL,
			       e) < 0)
			return -1;
	}
	return 0;
}

static int write_group(struct chr_pq *pq, struct chr_err *e)
{
	struct chr_pq_group *g;

	if (pq->nrows == 0)
		return 0;
	if (pq->group) {
		if (pq->group(pq->group_arg, pq, e) < 0)
			return -1;
		goto done;
	}
	if (chr_pq_grow((void **)&pq->groups, &pq->gcap, pq->ngroups + 1, sizeof *pq->groups) < 0)
		return oom(e);
	g = &pq->groups[pq->ngroups];
	if ((g->ch = calloc(pq->ncol, sizeof *g->ch)) == NULL)
		return oom(e);
	pq->ngroups++;
	g->rows = (int64_t)pq->nrows;
	g->off = (int64_t)pq->off;
	for (size_t i = 0; i < pq->ncol; i++)
		if (write_chunk(pq, &pq->col[i], &g->ch[i], e) < 0)
			return -1;
done:
	for (size_t i = 0; i < pq->ncol; i++) {
		dict_clear(&pq->col[i].d);
		pq->col[i].slen = 0;
	}
	pq->total_rows += pq->nrows;
	pq->nrows = 0;
	return 0;
}

int chr_pq_flush(struct chr_pq *pq, struct chr_err *e)
{
	return write_group(pq, e);
}

int chr_pq_row(struct chr_pq *pq, struct chr_err *e)
{
	pq->nrows++;
	for (size_t i = 0; i < pq->ncol; i++)
		if (pq->col[i].kind == CHR_PQ_STR)
			pq->col[i].soff[pq->nrows] = pq->col[i].slen;
	if (pq->nrows >= pq->group_rows)
		return write_group(pq, e);
	if (pq->nrows == pq->cap) {
		size_t nc = pq->cap * 2;

		for (size_t i = 0; i < pq->ncol; i++)
			if (col_room(&pq->col[i], nc) < 0)
				return oom(e);
		pq->cap = nc;
	}
	return 0;
}

/* ---- the file ---- */

int chr_pq_store(struct chr_pq *pq, int fd, const char *name, size_t ncol,
		 const char *const *names, const enum chr_pq_kind *kinds, const int *optional,
		 struct chr_err *e)
{
	memset(pq, 0, sizeof *pq);
	pq->fd = fd;
	pq->name = name;
	pq->format = "a Parquet";
	pq->group_rows = CHR_PQ_GROUP_ROWS;
	pq->level = 1;
	pq->cap = 4096;
	if ((pq->col = calloc(ncol, sizeof *pq->col)) == NULL)
		return oom(e);
	pq->ncol = ncol;
	for (size_t i = 0; i < ncol; i++) {
		struct chr_pq_col *c = &pq->col[i];

		c->kind = kinds[i];
		c->optional = optional[i];
		if (c->optional && (c->kind == CHR_PQ_DICT || c->kind == CHR_PQ_BOOL))
			return chr_err_set(e, CHR_EX_USAGE, "column %s: a dictionary or boolean "
					   "column cannot be optional here", names[i]);
		c->scale = -1;
		if ((c->name = strdup(names[i])) == NULL || col_room(c, pq->cap) < 0)
			return oom(e);
		if (c->kind == CHR_PQ_STR)
			c->soff[0] = 0;
	}
	return 0;
}

int chr_pq_open(struct chr_pq *pq, int fd, const char *name, size_t ncol,
		const char *const *names, const enum chr_pq_kind *kinds, const int *optional,
		struct chr_err *e)
{
	if (chr_pq_store(pq, fd, name, ncol, names, kinds, optional, e) < 0)
		return -1;
	if ((pq->zc = ZSTD_createCCtx()) == NULL || (pq->obuf = malloc(OBUF)) == NULL)
		return oom(e);
	return out(pq, "PAR1", 4, e);
}

void chr_pq_kv(struct chr_pq *pq, const char *key, const char *value)
{
	if (pq->nkv < CHR_PQ_KV_MAX) {
		pq->kv[pq->nkv][0] = key;
		pq->kv[pq->nkv][1] = value;
		pq->nkv++;
	}
}

static void schema_elem(struct chr_th *t, const struct chr_pq_col *c)
{
	static const int type[] = {
		[CHR_PQ_DICT] = T_BYTE_ARRAY, [CHR_PQ_STR] = T_BYTE_ARRAY,
		[CHR_PQ_TIME] = T_INT64, [CHR_PQ_BOOL] = T_BOOLEAN, [CHR_PQ_DEC] = T_INT64,
	};
	int scale = c->scale < 0 ? 0 : c->scale;

	chr_th_struct(t, 0);
	chr_th_i32(t, 1, type[c->kind]);
	chr_th_i32(t, 3, c->optional ? 1 : 0);
	chr_th_str(t, 4, c->name);
	switch (c->kind) {
	case CHR_PQ_DICT:
	case CHR_PQ_STR:
		chr_th_i32(t, 6, CT_UTF8);
		chr_th_struct(t, 10);
		chr_th_struct(t, 1);	/* STRING */
		chr_th_end(t);
		chr_th_end(t);
		break;
	case CHR_PQ_TIME:	/* no converted type for ns */
		chr_th_struct(t, 10);
		chr_th_struct(t, 8);	/* TIMESTAMP */
		chr_th_bool(t, 1, 1);	/* isAdjustedToUTC */
		chr_th_struct(t, 2);	/* unit */
		chr_th_struct(t, 3);	/* NANOS */
		chr_th_end(t);
		chr_th_end(t);
		chr_th_end(t);
		chr_th_end(t);
		break;
	case CHR_PQ_DEC:
		chr_th_i32(t, 6, CT_DECIMAL);
		chr_th_i32(t, 7, scale);
		chr_th_i32(t, 8, PRECISION);
		chr_th_struct(t, 10);
		chr_th_struct(t, 5);	/* DECIMAL */
		chr_th_i32(t, 1, scale);
		chr_th_i32(t, 2, PRECISION);
		chr_th_end(t);
		chr_th_end(t);
		break;
	case CHR_PQ_BOOL:
		break;
	}
	chr_th_end(t);
}

static void column_chunk(struct chr_th *t, const struct chr_pq_col *c, const struct chunk *ch,
			 uint64_t rows)
{
	static const int type[] = {
		[CHR_PQ_DICT] = T_BYTE_ARRAY, [CHR_PQ_STR] = T_BYTE_ARRAY,
		[CHR_PQ_TIME] = T_INT64, [CHR_PQ_BOOL] = T_BOOLEAN, [CHR_PQ_DEC] = T_INT64,
	};

	chr_th_struct(t, 0);
	chr_th_i64(t, 2, ch->dict_off >= 0 ? ch->dict_off : ch->data_off);
	chr_th_struct(t, 3);
	chr_th_i32(t, 1, type[c->kind]);
	if (c->kind == CHR_PQ_DICT) {
		chr_th_list(t, 2, CHR_TH_I32, 3);
		chr_th_elem_i32(t, E_PLAIN);
		chr_th_elem_i32(t, E_RLE);
		chr_th_elem_i32(t, E_RLE_DICTIONARY);
	} else {
		chr_th_list(t, 2, CHR_TH_I32, 2);
		chr_th_elem_i32(t, E_PLAIN);
		chr_th_elem_i32(t, E_RLE);
	}
	chr_th_list(t, 3, CHR_TH_BINARY, 1);
	chr_th_elem_str(t, c->name);
	chr_th_i32(t, 4, CODEC_ZSTD);
	chr_th_i64(t, 5, (int64_t)rows);
	chr_th_i64(t, 6, ch->usize);
	chr_th_i64(t, 7, ch->csize);
	chr_th_i64(t, 9, ch->data_off);
	if (ch->dict_off >= 0)
		chr_th_i64(t, 11, ch->dict_off);
	if (c->kind == CHR_PQ_TIME || c->optional) {
		chr_th_struct(t, 12);
		chr_th_i64(t, 3, ch->nulls);
		if (ch->has_minmax) {
			chr_th_bin(t, 5, &ch->max, 8);
			chr_th_bin(t, 6, &ch->min, 8);
		}
		chr_th_end(t);
	}
	chr_th_end(t);
	chr_th_end(t);
}

/* Raise the pages of chunk ch of decimal column c, written at a scale
 * below the column's: each is read back, raised and written again at the
 * end of the file (the old pages stay, unread). */
static int raise_chunk(struct chr_pq *pq, const struct chr_pq_col *c, struct chunk *ch,
		       struct chr_err *e)
{
	int64_t u = 0, z = 0, data_off = (int64_t)pq->off;

	for (size_t i = 0; i < ch->npages; i++) {
		struct page *pg = &ch->pages[i];
		size_t k, at = 0;

		if (page_room(pq, pg->usize + 8, e) < 0 ||
		    chr_pq_grow((void **)&pq->zpage, &pq->zpage_cap, pg->csize, 1) < 0)
			return oom(e);
		if (pread(pq->fd, pq->zpage, pg->csize, pg->off + pg->hlen) != (ssize_t)pg->csize)
			return chr_err_sys(e, "cannot read back '%s'", pq->name);
		k = ZSTD_decompress(pq->page, pg->usize, pq->zpage, pg->csize);
		if (ZSTD_isError(k) || k != pg->usize)
			return chr_err_set(e, CHR_EX_SYS, "'%s': a page read back does not "
					   "decompress", pq->name);
		if (c->optional) {
			uint32_t ln;

			memcpy(&ln, pq->page, 4);
			at = 4 + (size_t)ln;
		}
		for (; at + 8 <= pg->usize; at += 8) {
			int64_t m, was;

			memcpy(&m, pq->page + at, 8);
			was = m;
			if (chr_dec_rescale(&m, ch->scale, c->scale) < 0 ||
			    m >= chr_pow10[PRECISION] || m <= -chr_pow10[PRECISION]) {
				char d[CHR_DEC_BUF];

				chr_dec_format(d, was, ch->scale);
				return chr_err_set(e, CHR_EX_DATA, "'%s': column %s: %s does not fit "
						   "DECIMAL(18, %d)", pq->name, c->name, d, c->scale);
			}
			memcpy(pq->page + at, &m, 8);
		}
		if (write_page(pq, PAGE_DATA, pg->usize, pg->nvals, E_PLAIN, &u, &z, pg, e) < 0)
			return -1;
	}
	ch->data_off = data_off;
	ch->usize = u;
	ch->csize = z;
	ch->scale = c->scale;
	return 0;
}

/* Copy chunk ch, as written, to the end of the file. */
static int copy_chunk(struct chr_pq *pq, struct chunk *ch, struct chr_err *e)
{
	int64_t start = ch->dict_off >= 0 ? ch->dict_off : ch->data_off;
	int64_t delta = (int64_t)pq->off - start, at = start, end = start + ch->csize;

	if (chr_pq_grow((void **)&pq->zpage, &pq->zpage_cap, OBUF, 1) < 0)
		return oom(e);
	while (at < end) {
		size_t k = end - at < OBUF ? (size_t)(end - at) : OBUF;

		if (pread(pq->fd, pq->zpage, k, at) != (ssize_t)k)
			return chr_err_sys(e, "cannot read back '%s'", pq->name);
		if (out(pq, pq->zpage, k, e) < 0)
			return -1;
		at += (int64_t)k;
	}
	if (ch->dict_off >= 0)
		ch->dict_off += delta;
	ch->data_off += delta;
	return 0;
}

/* Write again, at the end of the file, each row group that holds decimal
 * pages of a smaller scale than their column's: those raised, the other
 * chunks copied, so that a row group stays one run of chunks in schema
 * order, as readers expect. The footer points at the copies. */
static int raise_written(struct chr_pq *pq, struct chr_err *e)
{
	for (size_t g = 0; g < pq->ngroups; g++) {
		struct chr_pq_group *gr = &pq->groups[g];
		size_t i;

		for (i = 0; i < pq->ncol; i++)
			if (pq->col[i].kind == CHR_PQ_DEC && gr->ch[i].scale >= 0 &&
			    gr->ch[i].scale < pq->col[i].scale)
				break;
		if (i == pq->ncol)
			continue;
		if (out_flush(pq, e) < 0)
			return -1;
		gr->off = (int64_t)pq->off;
		for (i = 0; i < pq->ncol; i++) {
			struct chunk *ch = &gr->ch[i];
			int stale = pq->col[i].kind == CHR_PQ_DEC && ch->scale >= 0 &&
				    ch->scale < pq->col[i].scale;

			if ((stale ? raise_chunk(pq, &pq->col[i], ch, e) : copy_chunk(pq, ch, e)) < 0 ||
			    out_flush(pq, e) < 0)
				return -1;
		}
	}
	return 0;
}

int chr_pq_close(struct chr_pq *pq, struct chr_err *e)
{
	struct chr_th *t = &pq->th;
	uint32_t len;

	if (write_group(pq, e) < 0 || raise_written(pq, e) < 0)
		return -1;
	chr_th_reset(t);
	chr_th_i32(t, 1, 1);
	chr_th_list(t, 2, CHR_TH_STRUCT, pq->ncol + 1);
	chr_th_struct(t, 0);
	chr_th_str(t, 4, "schema");
	chr_th_i32(t, 5, (int32_t)pq->ncol);
	chr_th_end(t);
	for (size_t i = 0; i < pq->ncol; i++)
		schema_elem(t, &pq->col[i]);
	chr_th_i64(t, 3, (int64_t)pq->total_rows);
	chr_th_list(t, 4, CHR_TH_STRUCT, pq->ngroups);
	for (size_t g = 0; g < pq->ngroups; g++) {
		const struct chr_pq_group *gr = &pq->groups[g];
		int64_t u = 0, c = 0;

		chr_th_struct(t, 0);
		chr_th_list(t, 1, CHR_TH_STRUCT, pq->ncol);
		for (size_t i = 0; i < pq->ncol; i++) {
			column_chunk(t, &pq->col[i], &gr->ch[i], (uint64_t)gr->rows);
			u += gr->ch[i].usize;
			c += gr->ch[i].csize;
		}
		chr_th_i64(t, 2, u);
		chr_th_i64(t, 3, gr->rows);
		chr_th_i64(t, 5, gr->off);
		chr_th_i64(t, 6, c);
		chr_th_i16(t, 7, (int16_t)g);
		chr_th_end(t);
	}
	if (pq->nkv) {
		chr_th_list(t, 5, CHR_TH_STRUCT, pq->nkv);
		for (size_t i = 0; i < pq->nkv; i++) {
			chr_th_struct(t, 0);
			chr_th_str(t, 1, pq->kv[i][0]);
			chr_th_str(t, 2, pq->kv[i][1]);
			chr_th_end(t);
		}
	}
	chr_th_str(t, 6, "chronicle version 0.1.0");
	/* every column ordered by its type: readers trust min_value/max_value */
	chr_th_list(t, 7, CHR_TH_STRUCT, pq->ncol);
	for (size_t i = 0; i < pq->ncol; i++) {
		chr_th_struct(t, 0);
		chr_th_struct(t, 1);
		chr_th_end(t);
		chr_th_end(t);
	}
	chr_th_end(t);
	if (t->oom)
		return oom(e);
	len = (uint32_t)t->n;
	if (out(pq, t->p, t->n, e) < 0 || out(pq, &len, 4, e) < 0 || out(pq, "PAR1", 4, e) < 0)
		return -1;
	return out_flush(pq, e);
}

void chr_pq_free(struct chr_pq *pq)
{
	for (size_t i = 0; pq->col && i < pq->ncol; i++) {
		struct chr_pq_col *c = &pq->col[i];

		free(c->name);
		free(c->def);
		free(c->v);
		free(c->sc);
		free(c->b);
		free(c->ix);
		free(c->s);
		free(c->soff);
		free(c->d.plain);
		free(c->d.at);
		free(c->d.slot);
	}
	free(pq->col);
	for (size_t g = 0; g < pq->ngroups; g++) {
		for (size_t i = 0; pq->groups[g].ch && i < pq->ncol; i++)
			free(pq->groups[g].ch[i].pages);
		free(pq->groups[g].ch);
	}
	free(pq->groups);
	ZSTD_freeCCtx(pq->zc);
	free(pq->page);
	free(pq->zpage);
	free(pq->obuf);
	chr_th_free(&pq->th);
	memset(pq, 0, sizeof *pq);
	pq->fd = -1;
}
