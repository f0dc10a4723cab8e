/* thrift.c - the Thrift compact protocol encoder (thrift.h): varints,
 * zigzag integers, field headers by id delta. */
#include <stdlib.h>
#include <string.h>

#include "thrift.h"

void chr_th_free(struct chr_th *t)
{
	free(t->p);
	memset(t, 0, sizeof *t);
}

void chr_th_reset(struct chr_th *t)
{
	t->n = 0;
	t->oom = 0;
	t->depth = 0;
	t->last[0] = 0;
}

static int room(struct chr_th *t, size_t k)
{
	if (t->oom)
		return -1;
	if (t->n + k > t->cap) {
		size_t nc = t->cap ? t->cap : 256;
		uint8_t *p;

		while (nc < t->n + k)
			nc *= 2;
		if ((p = realloc(t->p, nc)) == NULL) {
			t->oom = 1;
			return -1;
		}
		t->p = p;
		t->cap = nc;
	}
	return 0;
}

static void put_byte(struct chr_th *t, uint8_t b)
{
	if (room(t, 1) == 0)
		t->p[t->n++] = b;
}

static void put_varint(struct chr_th *t, uint64_t v)
{
	if (room(t, 10) < 0)
		return;
	while (v >= 0x80) {
		t->p[t->n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	t->p[t->n++] = (uint8_t)v;
}

static uint64_t zigzag(int64_t v)
{
	return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

/* the header of field id of compact type type: the id as a delta from the
 * last one of this struct when it is 1..15, else in full */
static void field(struct chr_th *t, int16_t id, int type)
{
	int16_t d = (int16_t)(id - t->last[t->depth]);

	if (d > 0 && d <= 15) {
		put_byte(t, (uint8_t)(d << 4 | type));
	} else {
		put_byte(t, (uint8_t)type);
		put_varint(t, zigzag(id));
	}
	t->last[t->depth] = id;
}

void chr_th_i16(struct chr_th *t, int16_t id, int16_t v)
{
	field(t, id, CHR_TH_I16);
	put_varint(t, zigzag(v));
}

void chr_th_i32(struct chr_th *t, int16_t id, int32_t v)
{
	field(t, id, CHR_TH_I32);
	put_varint(t, zigzag(v));
}

void chr_th_i64(struct chr_th *t, int16_t id, int64_t v)
{
	field(t, id, CHR_TH_I64);
	put_varint(t, zigzag(v));
}

void chr_th_bool(struct chr_th *t, int16_t id, int v)
{
	field(t, id, v ? CHR_TH_TRUE : CHR_TH_FALSE);
}

void chr_th_bin(struct chr_th *t, int16_t id, const void *s, size_t n)
{
	field(t, id, CHR_TH_BINARY);
	put_varint(t, n);
	if (room(t, n) == 0) {
		memcpy(t->p + t->n, s, n);
		t->n += n;
	}
}

void chr_th_str(struct chr_th *t, int16_t id, const char *s)
{
	chr_th_bin(t, id, s, strlen(s));
}

void chr_th_struct(struct chr_th *t, int16_t id)
{
	if (id != 0)
		field(t, id, CHR_TH_STRUCT);
	if (t->depth + 1 >= CHR_TH_DEPTH) {
		t->oom = 1;	/* deeper than any Parquet structure: a bug */
		return;
	}
	t->last[++t->depth] = 0;
}

void chr_th_end(struct chr_th *t)
{
	put_byte(t, 0);
	if (t->depth > 0)
		t->depth--;
}

void chr_th_list(struct chr_th *t, int16_t id, int etype, size_t n)
{
	field(t, id, CHR_TH_LIST);
	if (n < 15) {
		put_byte(t, (uint8_t)(n << 4 | (size_t)etype));
	} else {
		put_byte(t, (uint8_t)(0xf0 | etype));
		put_varint(t, n);
	}
}

void chr_th_elem_i32(struct chr_th *t, int32_t v)
{
	put_varint(t, zigzag(v));
}

void chr_th_elem_str(struct chr_th *t, const char *s)
{
	size_t n = strlen(s);

	put_varint(t, n);
	if (room(t, n) == 0) {
		memcpy(t->p + t->n, s, n);
		t->n += n;
	}
}
