/* arrow.c - the Arrow IPC stream writer (arrow.h): encapsulated messages
 * (continuation, metadata size, FlatBuffers metadata, body) of the format's
 * Schema.fbs and Message.fbs, metadata version V5, little-endian. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arrow.h"
#include "dec.h"

/* Schema.fbs and Message.fbs */
enum { V5 = 4 };
enum { H_SCHEMA = 1, H_RECORD_BATCH = 3 };
enum { T_UTF8 = 5, T_BOOL = 6, T_DECIMAL = 7, T_TIMESTAMP = 10 };
enum { NANOSECOND = 3 };
#define PRECISION 18

/* Bodies, their buffers and the metadata are padded to 64 bytes (the
 * format asks 8 and recommends 64): each buffer lands 64-aligned for a
 * reader that maps or reads the stream into aligned memory. */
#define ALIGN 64

/* a decimal buffer written: where, of which column, at which scale */
struct chr_arrow_dec {
	uint64_t off;
	uint32_t rows;
	int col, scale;
};

static int oom(struct chr_err *e)
{
	return chr_err_set(e, CHR_EX_SYS, "out of memory");
}

static int put(struct chr_arrow *a, const void *p, size_t n, struct chr_err *e)
{
	if (chr_write_all(a->fd, p, n) < 0)
		return chr_err_sys(e, "cannot write to '%s'", a->name);
	a->off += n;
	return 0;
}

/* Write a message whose header (of type htype) is built in a->fb, with a
 * body of blen bytes at a->body: the metadata padded so that the body
 * starts 64-aligned. *meta_at: where the metadata starts in fd. */
static int message(struct chr_arrow *a, int htype, chr_fb_ref header, size_t blen,
		   uint64_t *meta_at, struct chr_err *e)
{
	struct chr_fb *b = &a->fb;
	const uint8_t *p;
	size_t n, len;
	chr_fb_ref m;
	uint32_t w[2];

	chr_fb_table(b);
	chr_fb_add_i64(b, 3, (int64_t)blen);
	chr_fb_add_ref(b, 2, header);
	chr_fb_add_i16(b, 0, V5);
	chr_fb_add_u8(b, 1, (uint8_t)htype);
	m = chr_fb_table_end(b);
	if ((p = chr_fb_finish(b, m, &n)) == NULL)
		return oom(e);
	len = (8 + n + ALIGN - 1) / ALIGN * ALIGN;
	if (chr_pq_grow((void **)&a->meta, &a->mcap, len, 1) < 0)
		return oom(e);
	w[0] = 0xffffffffu;	/* continuation */
	w[1] = (uint32_t)(len - 8);	/* the metadata's size, padding included */
	memcpy(a->meta, w, 8);
	memcpy(a->meta + 8, p, n);
	memset(a->meta + 8 + n, 0, len - 8 - n);
	*meta_at = a->off + 8;
	if (put(a, a->meta, len, e) < 0)
		return -1;
	return blen ? put(a, a->body, blen, e) : 0;
}

/* The Schema message: the columns as Fields; records where each decimal
 * column's scale is, to raise it at the end. */
static int schema(struct chr_arrow *a, struct chr_err *e)
{
	struct chr_pq *pq = a->pq;
	struct chr_fb *b = &a->fb;
	chr_fb_ref *fields, kv[CHR_PQ_KV_MAX], fv, kvv, h, at = 0;
	uint64_t meta;
	int rc = -1;

	if ((fields = calloc(pq->ncol, sizeof *fields)) == NULL)
		return oom(e);
	chr_fb_reset(b);
	for (size_t i = 0; i < pq->nkv; i++) {
		chr_fb_ref k = chr_fb_string(b, pq->kv[i][0], strlen(pq->kv[i][0]));
		chr_fb_ref v = chr_fb_string(b, pq->kv[i][1], strlen(pq->kv[i][1]));

		chr_fb_table(b);
		chr_fb_add_ref(b, 0, k);
		chr_fb_add_ref(b, 1, v);
		kv[i] = chr_fb_table_end(b);
	}
	kvv = chr_fb_refs(b, kv, pq->nkv);
	for (size_t i = 0; i < pq->ncol; i++) {
		const struct chr_pq_col *c = &pq->col[i];
		chr_fb_ref name = chr_fb_string(b, c->name, strlen(c->name)), type, kids, tz = 0;
		int tt;

		if (c->kind == CHR_PQ_TIME)
			tz = chr_fb_string(b, "UTC", 3);
		chr_fb_table(b);
		switch (c->kind) {
		case CHR_PQ_TIME:
			chr_fb_add_ref(b, 1, tz);
			chr_fb_add_i16(b, 0, NANOSECOND);
			tt = T_TIMESTAMP;
			break;
		case CHR_PQ_DEC:
			chr_fb_add_i32(b, 0, PRECISION);
			a->scale[i] = c->scale;
			at = chr_fb_add_i32(b, 1, c->scale);
			chr_fb_add_i32(b, 2, 128);
			tt = T_DECIMAL;
			break;
		case CHR_PQ_BOOL:
			tt = T_BOOL;
			break;
		default:
			tt = T_UTF8;
		}
		type = chr_fb_table_end(b);
		if (c->kind == CHR_PQ_DEC)
			a->scale_at[i] = at;	/* a position in b until finished */
		kids = chr_fb_refs(b, NULL, 0);
		chr_fb_table(b);
		chr_fb_add_ref(b, 0, name);
		chr_fb_add_ref(b, 3, type);
		chr_fb_add_ref(b, 5, kids);
		chr_fb_add_u8(b, 1, (uint8_t)c->optional);
		chr_fb_add_u8(b, 2, (uint8_t)tt);
		fields[i] = chr_fb_table_end(b);
	}
	fv = chr_fb_refs(b, fields, pq->ncol);
	chr_fb_table(b);
	chr_fb_add_ref(b, 1, fv);
	chr_fb_add_ref(b, 2, kvv);
	chr_fb_add_i16(b, 0, 0);	/* Little */
	h = chr_fb_table_end(b);
	if (message(a, H_SCHEMA, h, 0, &meta, e) < 0)
		goto out;
	for (size_t i = 0; i < pq->ncol; i++)
		if (pq->col[i].kind == CHR_PQ_DEC)
			a->scale_at[i] = meta + chr_fb_at(b, (chr_fb_ref)a->scale_at[i]);
	a->started = 1;
	rc = 0;
out:
	free(fields);
	return rc;
}

/* Room for a buffer of n bytes in the body, 64-aligned, listed in its
 * buffers. Returns its offset in a->body, or -1 (out of memory). */
static long long buffer(struct chr_arrow *a, size_t n)
{
	size_t at = (a->blen + ALIGN - 1) / ALIGN * ALIGN;

	if (chr_pq_grow((void **)&a->body, &a->bcap, at + n + ALIGN, 1) < 0 ||
	    chr_pq_grow((void **)&a->bufs, &a->bufcap, a->nbuf + 2, sizeof *a->bufs) < 0)
		return -1;
	memset(a->body + a->blen, 0, at - a->blen);
	a->bufs[a->nbuf++] = (int64_t)at;
	a->bufs[a->nbuf++] = (int64_t)n;
	a->blen = at + n;
	return (long long)at;
}

/* the validity bitmap of column c (none when it has no null) */
static int validity(struct chr_arrow *a, const struct chr_pq_col *c, size_t n, int64_t *nulls)
{
	long long at;

	*nulls = 0;
	for (size_t i = 0; c->optional && i < n; i++)
		*nulls += !c->def[i];
	if ((at = buffer(a, *nulls ? (n + 7) / 8 : 0)) < 0)
		return -1;
	if (*nulls) {
		uint8_t *p = a->body + at;

		memset(p, 0, (n + 7) / 8);
		for (size_t i = 0; i < n; i++)
			p[i / 8] |= (uint8_t)(c->def[i] << (i % 8));
	}
	return 0;
}

/* row i of a string column: its bytes and length */
static const uint8_t *str_at(const struct chr_pq_col *c, size_t i, uint32_t *len)
{
	const uint8_t *p;

	if (c->kind == CHR_PQ_DICT) {
		p = c->d.plain + c->d.at[c->ix[i]];
	} else if (c->soff[i + 1] == c->soff[i]) {	/* a null */
		*len = 0;
		return NULL;
	} else {
		p = c->s + c->soff[i];
	}
	memcpy(len, p, 4);
	return p + 4;
}

/* the buffers of column c: offsets and bytes (strings) or values */
static int column(struct chr_arrow *a, const struct chr_pq_col *c, size_t n, struct chr_err *e)
{
	long long at, dat;
	uint64_t total = 0;
	uint32_t len;

	switch (c->kind) {
	case CHR_PQ_DICT:
	case CHR_PQ_STR:
		if ((at = buffer(a, 4 * (n + 1))) < 0)
			return oom(e);
		for (size_t i = 0; i <= n; i++) {
			int32_t o = (int32_t)total;

			memcpy(a->body + at + 4 * i, &o, 4);
			if (i < n) {
				str_at(c, i, &len);
				total += len;
			}
			if (total > INT32_MAX)
				return chr_err_set(e, CHR_EX_DATA, "'%s': column %s: more than 2 GB "
						   "of strings in a batch", a->name, c->name);
		}
		if ((dat = buffer(a, total)) < 0)
			return oom(e);
		for (size_t i = 0, o = 0; i < n; i++) {
			const uint8_t *p = str_at(c, i, &len);

			if (len)
				memcpy(a->body + dat + o, p, len);
			o += len;
		}
		return 0;
	case CHR_PQ_TIME:
		if ((at = buffer(a, 8 * n)) < 0)
			return oom(e);
		for (size_t i = 0; i < n; i++) {
			int64_t v = !c->optional || c->def[i] ? c->v[i] : 0;

			memcpy(a->body + at + 8 * i, &v, 8);	/* little-endian hosts only */
		}
		return 0;
	case CHR_PQ_BOOL:
		if ((at = buffer(a, (n + 7) / 8)) < 0)
			return oom(e);
		memset(a->body + at, 0, (n + 7) / 8);
		for (size_t i = 0; i < n; i++)
			a->body[at + (long long)(i / 8)] |= (uint8_t)((c->b[i] != 0) << (i % 8));
		return 0;
	case CHR_PQ_DEC:
		/* the mantissa, sign-extended to 128 bits */
		if ((at = buffer(a, 16 * n)) < 0)
			return oom(e);
		for (size_t i = 0; i < n; i++) {
			int64_t w[2];

			w[0] = !c->optional || c->def[i] ? c->v[i] : 0;
			w[1] = w[0] < 0 ? -1 : 0;
			memcpy(a->body + at + 16 * i, w, 16);
		}
		return 0;
	}
	return 0;
}

/* pq->group: the row group as a RecordBatch message (the Schema first) */
static int batch(void *arg, struct chr_pq *pq, struct chr_err *e)
{
	struct chr_arrow *a = arg;
	struct chr_fb *b = &a->fb;
	size_t n = pq->nrows, first;
	chr_fb_ref nodes, bufs, h;
	uint64_t meta;

	for (size_t i = 0; i < pq->ncol; i++)
		if (pq->col[i].kind == CHR_PQ_DEC) {
			if (chr_pq_dec_scale(pq, i, e) < 0)
				return -1;
			/* a column of nulls so far: the Schema says 0 */
			if (!a->started && pq->col[i].scale < 0)
				pq->col[i].scale = 0;
		}
	if (!a->started && schema(a, e) < 0)
		return -1;
	a->blen = 0;
	a->nbuf = 0;
	first = a->ndec;
	for (size_t i = 0; i < pq->ncol; i++) {
		const struct chr_pq_col *c = &pq->col[i];

		if (validity(a, c, n, &a->nodes[2 * i + 1]) < 0)
			return oom(e);
		a->nodes[2 * i] = (int64_t)n;
		if (column(a, c, n, e) < 0)
			return -1;
		if (c->kind == CHR_PQ_DEC) {
			if (chr_pq_grow((void **)&a->dec, &a->dcap, a->ndec + 1, sizeof *a->dec) < 0)
				return oom(e);
			a->dec[a->ndec++] = (struct chr_arrow_dec){
				(uint64_t)a->bufs[a->nbuf - 2], (uint32_t)n, (int)i, c->scale };
		}
	}
	{
		size_t end = (a->blen + ALIGN - 1) / ALIGN * ALIGN;

		memset(a->body + a->blen, 0, end - a->blen);	/* buffer() left room */
		a->blen = end;
	}
	chr_fb_reset(b);
	nodes = chr_fb_structs(b, a->nodes, pq->ncol, 16, 8);
	bufs = chr_fb_structs(b, a->bufs, a->nbuf / 2, 16, 8);
	chr_fb_table(b);
	chr_fb_add_i64(b, 0, (int64_t)n);
	chr_fb_add_ref(b, 1, nodes);
	chr_fb_add_ref(b, 2, bufs);
	h = chr_fb_table_end(b);
	if (message(a, H_RECORD_BATCH, h, a->blen, &meta, e) < 0)
		return -1;
	/* the body follows the metadata, which is padded to ALIGN */
	for (size_t k = first; k < a->ndec; k++)
		a->dec[k].off += a->off - a->blen;
	return 0;
}

int chr_arrow_open(struct chr_arrow *a, struct chr_pq *pq, int fd, const char *name,
		   size_t ncol, const char *const *names, const enum chr_pq_kind *kinds,
		   const int *optional, struct chr_err *e)
{
	memset(a, 0, sizeof *a);
	a->pq = pq;
	a->fd = fd;
	a->name = name;
	if (chr_pq_store(pq, fd, name, ncol, names, kinds, optional, e) < 0)
		return -1;
	pq->group = batch;
	pq->group_arg = a;
	pq->format = "an Arrow";
	if ((a->scale = calloc(ncol, sizeof *a->scale)) == NULL ||
	    (a->scale_at = calloc(ncol, sizeof *a->scale_at)) == NULL ||
	    (a->nodes = calloc(2 * ncol, sizeof *a->nodes)) == NULL)
		return oom(e);
	return 0;
}

/* Raise the decimals of buffer d to its column's scale, in place. */
static int raise_dec(struct chr_arrow *a, const struct chr_arrow_dec *d, struct chr_err *e)
{
	enum { CHUNK = 4096 };
	const struct chr_pq_col *c = &a->pq->col[d->col];
	int64_t w[2 * CHUNK];

	for (uint32_t i = 0; i < d->rows; i += CHUNK) {
		uint32_t k = d->rows - i < CHUNK ? d->rows - i : CHUNK;
		off_t at = (off_t)(d->off + 16ull * i);

		if (pread(a->fd, w, 16ull * k, at) != (ssize_t)(16ull * k))
			return chr_err_sys(e, "cannot read back '%s'", a->name);
		for (uint32_t j = 0; j < k; j++) {
			int64_t m = w[2 * j];

			if (chr_dec_rescale(&m, d->scale, c->scale) < 0 ||
			    m >= chr_pow10[PRECISION] || m <= -chr_pow10[PRECISION]) {
				char s[CHR_DEC_BUF];

				chr_dec_format(s, w[2 * j], d->scale);
				return chr_err_set(e, CHR_EX_DATA, "'%s': column %s: %s does not fit "
						   "DECIMAL(18, %d)", a->name, c->name, s, c->scale);
			}
			w[2 * j] = m;
			w[2 * j + 1] = m < 0 ? -1 : 0;
		}
		if (pwrite(a->fd, w, 16ull * k, at) != (ssize_t)(16ull * k))
			return chr_err_sys(e, "cannot write to '%s'", a->name);
	}
	return 0;
}

int chr_arrow_close(struct chr_arrow *a, struct chr_err *e)
{
	static const uint32_t eos[2] = { 0xffffffffu, 0 };
	struct chr_pq *pq = a->pq;

	if (chr_pq_flush(pq, e) < 0)
		return -1;
	if (!a->started) {	/* no row: the Schema alone */
		for (size_t i = 0; i < pq->ncol; i++)
			if (pq->col[i].kind == CHR_PQ_DEC && pq->col[i].scale < 0)
				pq->col[i].scale = 0;
		if (schema(a, e) < 0)
			return -1;
	}
	if (put(a, eos, sizeof eos, e) < 0)
		return -1;
	for (size_t k = 0; k < a->ndec; k++)
		if (a->dec[k].scale < pq->col[a->dec[k].col].scale && raise_dec(a, &a->dec[k], e) < 0)
			return -1;
	for (size_t i = 0; i < pq->ncol; i++) {
		int32_t s = pq->col[i].scale;

		if (pq->col[i].kind == CHR_PQ_DEC && s > a->scale[i] &&
		    pwrite(a->fd, &s, 4, (off_t)a->scale_at[i]) != 4)
			return chr_err_sys(e, "cannot write to '%s'", a->name);
	}
	return 0;
}

void chr_arrow_free(struct chr_arrow *a)
{
	chr_fb_free(&a->fb);
	free(a->scale);
	free(a->scale_at);
	free(a->dec);
	free(a->body);
	free(a->bufs);
	free(a->nodes);
	free(a->meta);
	memset(a, 0, sizeof *a);
	a->fd = -1;
}
