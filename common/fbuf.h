/* fbuf.h - a FlatBuffers builder, encoder only: tables and their vtables,
 * strings, vectors of offsets and of structs, built back to front as the
 * format's own builders do; enough for Arrow's IPC metadata (arrow.c). */
#ifndef CHR_FBUF_H
#define CHR_FBUF_H

#include <stddef.h>
#include <stdint.h>

#define CHR_FB_FIELDS 16	/* field ids of a table: 0..15 */

/* An object built (a table, string or vector), or a value added to a
 * table: its position counted in bytes from the end of the buffer, which
 * stays fixed while the buffer grows at the front. */
typedef uint32_t chr_fb_ref;

/* The bytes are at buf + cap - used .. buf + cap. A zeroed struct is an
 * empty builder. Running out of memory is sticky: oom is set, later calls
 * write nothing, and the caller checks once, after chr_fb_finish. */
struct chr_fb {
	uint8_t *buf;
	size_t cap, used;
	size_t minalign;	/* the largest alignment asked for */
	int oom;
	int ntab;		/* the table being built: 1 + its largest field id, or 0 */
	size_t tstart;		/* used when the table began */
	chr_fb_ref field[CHR_FB_FIELDS];	/* each field's value, 0 absent */
};

void chr_fb_free(struct chr_fb *b);

/* Forget the bytes (the buffer is kept) for a new buffer. */
void chr_fb_reset(struct chr_fb *b);

/* A string of n bytes (NUL-terminated in the buffer, as the format asks). */
chr_fb_ref chr_fb_string(struct chr_fb *b, const char *s, size_t n);

/* A vector of the n objects refs (tables, strings) in this order. */
chr_fb_ref chr_fb_refs(struct chr_fb *b, const chr_fb_ref *refs, size_t n);

/* A vector of n structs of size bytes each, aligned to align (a power of
 * 2; a struct of longs: 8) from the buffer's start, copied from p, which
 * holds them in order, little-endian. */
chr_fb_ref chr_fb_structs(struct chr_fb *b, const void *p, size_t n, size_t size, size_t align);

/* Begin a table. Its fields are added after the objects they refer to
 * (a table cannot be nested in another's building), each id once, in any
 * order; absent fields take the schema's default. The add calls return
 * the value's position: chr_fb_at tells where it is once finished. */
void chr_fb_table(struct chr_fb *b);
chr_fb_ref chr_fb_add_u8(struct chr_fb *b, int id, uint8_t v);
chr_fb_ref chr_fb_add_i16(struct chr_fb *b, int id, int16_t v);
chr_fb_ref chr_fb_add_i32(struct chr_fb *b, int id, int32_t v);
chr_fb_ref chr_fb_add_i64(struct chr_fb *b, int id, int64_t v);
chr_fb_ref chr_fb_add_ref(struct chr_fb *b, int id, chr_fb_ref obj);
/* A struct field of size bytes aligned to align, copied from p. */
chr_fb_ref chr_fb_add_struct(struct chr_fb *b, int id, const void *p, size_t size, size_t align);

/* End the table: its vtable is written just before it. */
chr_fb_ref chr_fb_table_end(struct chr_fb *b);

/* End the buffer with root (a table) as its root: the root offset first,
 * the size padded to the largest alignment used, so that alignments
 * counted from the end hold from the start. Returns the bytes (owned by b,
 * valid until the next call) and their count in *n; NULL when out of
 * memory. */
const uint8_t *chr_fb_finish(struct chr_fb *b, chr_fb_ref root, size_t *n);

/* The offset from the start of a finished buffer of a value or object. */
static inline size_t chr_fb_at(const struct chr_fb *b, chr_fb_ref r)
{
	return b->used - r;
}

#endif
