/* thrift.h - the Thrift compact protocol, encoder only: enough to write the
 * metadata structures of a Parquet file (page headers, the footer). */
#ifndef CHR_THRIFT_H
#define CHR_THRIFT_H

#include <stddef.h>
#include <stdint.h>

/* compact protocol type ids */
#define CHR_TH_TRUE 1
#define CHR_TH_FALSE 2
#define CHR_TH_BYTE 3
#define CHR_TH_I16 4
#define CHR_TH_I32 5
#define CHR_TH_I64 6
#define CHR_TH_BINARY 8
#define CHR_TH_LIST 9
#define CHR_TH_STRUCT 12

#define CHR_TH_DEPTH 16	/* deepest struct nesting */

/* A growing buffer of encoded bytes. A zeroed struct is an empty one at
 * the top level, inside the outermost struct (whose STOP the caller ends
 * with chr_th_end). Running out of memory is sticky: oom is set, later
 * calls write nothing, and the caller checks once at the end. */
struct chr_th {
	uint8_t *p;
	size_t n, cap;
	int oom;
	int depth;
	int16_t last[CHR_TH_DEPTH];	/* last field id, per nesting level */
};

void chr_th_free(struct chr_th *t);

/* Forget the bytes (the buffer is kept) and go back to the top level. */
void chr_th_reset(struct chr_th *t);

/* Fields of the current struct, in increasing id order: an i16, an i32
 * (enums too), an i64, a bool, a binary or string of n bytes. */
void chr_th_i16(struct chr_th *t, int16_t id, int16_t v);
void chr_th_i32(struct chr_th *t, int16_t id, int32_t v);
void chr_th_i64(struct chr_th *t, int16_t id, int64_t v);
void chr_th_bool(struct chr_th *t, int16_t id, int v);
void chr_th_bin(struct chr_th *t, int16_t id, const void *s, size_t n);
void chr_th_str(struct chr_th *t, int16_t id, const char *s);

/* A struct field (or, with id 0, a struct that is an element of a list):
 * its fields follow, then chr_th_end. */
void chr_th_struct(struct chr_th *t, int16_t id);

/* The STOP that ends the current struct. */
void chr_th_end(struct chr_th *t);

/* A list field of n elements of type etype; the elements follow:
 * chr_th_elem_i32, chr_th_elem_str, or chr_th_struct(t, 0) ... chr_th_end
 * each. */
void chr_th_list(struct chr_th *t, int16_t id, int etype, size_t n);
void chr_th_elem_i32(struct chr_th *t, int32_t v);
void chr_th_elem_str(struct chr_th *t, const char *s);

#endif
