/* fbuf.c - the FlatBuffers builder (fbuf.h). The buffer grows towards its
 * front; an offset field holds the distance from itself forward to its
 * object, and a table starts with the signed distance back to its vtable. */
#include <stdlib.h>
#include <string.h>

#include "fbuf.h"

void chr_fb_free(struct chr_fb *b)
{
	free(b->buf);
	memset(b, 0, sizeof *b);
}

void chr_fb_reset(struct chr_fb *b)
{
	b->used = 0;
	b->minalign = 1;
	b->oom = 0;
	b->ntab = 0;
}

/* room for n more bytes at the front; the bytes held move to the new end */
static int room(struct chr_fb *b, size_t n)
{
	size_t nc;
	uint8_t *p;

	if (b->oom)
		return -1;
	if (b->used + n <= b->cap)
		return 0;
	for (nc = b->cap ? b->cap * 2 : 256; nc < b->used + n; nc *= 2)
		;
	if ((p = malloc(nc)) == NULL) {
		b->oom = 1;
		return -1;
	}
	if (b->used)
		memcpy(p + nc - b->used, b->buf + b->cap - b->used, b->used);
	free(b->buf);
	b->buf = p;
	b->cap = nc;
	return 0;
}

static void push(struct chr_fb *b, const void *p, size_t n)
{
	if (room(b, n) < 0)
		return;
	b->used += n;
	memcpy(b->buf + b->cap - b->used, p, n);
}

/* zero bytes so that, once extra more bytes are pushed, used is a multiple
 * of align (a power of 2): the object pushed then starts aligned */
static void prep(struct chr_fb *b, size_t align, size_t extra)
{
	size_t pad = (0 - (b->used + extra)) & (align - 1);

	if (align > b->minalign)
		b->minalign = align;
	if (room(b, pad + extra) < 0)
		return;
	memset(b->buf + b->cap - b->used - pad, 0, pad);
	b->used += pad;
}

/* little-endian hosts only, as the record format (rec.h) */
static void push_u32(struct chr_fb *b, uint32_t v)
{
	push(b, &v, 4);
}

/* an offset to obj, from where it is written forward to obj */
static void push_ref(struct chr_fb *b, chr_fb_ref obj)
{
	prep(b, 4, 0);
	push_u32(b, (uint32_t)(b->used + 4 - obj));
}

chr_fb_ref chr_fb_string(struct chr_fb *b, const char *s, size_t n)
{
	prep(b, 4, n + 1);
	push(b, "", 1);
	push(b, s, n);
	push_u32(b, (uint32_t)n);
	return (chr_fb_ref)b->used;
}

chr_fb_ref chr_fb_refs(struct chr_fb *b, const chr_fb_ref *refs, size_t n)
{
	prep(b, 4, 4 * n);
	for (size_t i = n; i-- > 0;)
		push_ref(b, refs[i]);
	push_u32(b, (uint32_t)n);
	return (chr_fb_ref)b->used;
}

chr_fb_ref chr_fb_structs(struct chr_fb *b, const void *p, size_t n, size_t size, size_t align)
{
	prep(b, 4, n * size);
	prep(b, align, n * size);
	push(b, p, n * size);
	push_u32(b, (uint32_t)n);
	return (chr_fb_ref)b->used;
}

void chr_fb_table(struct chr_fb *b)
{
	memset(b->field, 0, sizeof b->field);
	b->ntab = 0;
	b->tstart = b->used;
}

static chr_fb_ref field(struct chr_fb *b, int id)
{
	if (id < 0 || id >= CHR_FB_FIELDS) {	/* a caller's mistake: an invalid buffer */
		b->oom = 1;
		return 0;
	}
	if (id >= b->ntab)
		b->ntab = id + 1;
	return b->field[id] = (chr_fb_ref)b->used;
}

static chr_fb_ref scalar(struct chr_fb *b, int id, const void *p, size_t n)
{
	prep(b, n, 0);
	push(b, p, n);
	return field(b, id);
}

chr_fb_ref chr_fb_add_u8(struct chr_fb *b, int id, uint8_t v)
{
	return scalar(b, id, &v, 1);
}

chr_fb_ref chr_fb_add_i16(struct chr_fb *b, int id, int16_t v)
{
	return scalar(b, id, &v, 2);
}

chr_fb_ref chr_fb_add_i32(struct chr_fb *b, int id, int32_t v)
{
	return scalar(b, id, &v, 4);
}

chr_fb_ref chr_fb_add_i64(struct chr_fb *b, int id, int64_t v)
{
	return scalar(b, id, &v, 8);
}

chr_fb_ref chr_fb_add_ref(struct chr_fb *b, int id, chr_fb_ref obj)
{
	push_ref(b, obj);
	return field(b, id);
}

chr_fb_ref chr_fb_add_struct(struct chr_fb *b, int id, const void *p, size_t size, size_t align)
{
	prep(b, align, size);
	push(b, p, size);
	return field(b, id);
}

chr_fb_ref chr_fb_table_end(struct chr_fb *b)
{
	uint16_t vt[2 + CHR_FB_FIELDS];
	chr_fb_ref t;
	int32_t back;

	prep(b, 4, 4);
	push_u32(b, 0);		/* the distance to the vtable, set below */
	t = (chr_fb_ref)b->used;
	vt[0] = (uint16_t)(2 * (2 + b->ntab));
	vt[1] = (uint16_t)(t - b->tstart);
	for (int i = 0; i < b->ntab; i++)
		vt[2 + i] = b->field[i] ? (uint16_t)(t - b->field[i]) : 0;
	push(b, vt, vt[0]);
	if (b->oom)
		return t;
	/* the vtable is before the table: table - back */
	back = (int32_t)(b->used - t);
	memcpy(b->buf + b->cap - t, &back, 4);
	b->ntab = 0;
	return t;
}

const uint8_t *chr_fb_finish(struct chr_fb *b, chr_fb_ref root, size_t *n)
{
	prep(b, b->minalign > 4 ? b->minalign : 4, 4);
	push_ref(b, root);
	*n = b->used;
	return b->oom ? NULL : b->buf + b->cap - b->used;
}
