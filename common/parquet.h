/* parquet.h - a Parquet file writer (docs/parquet.md): a flat schema of
 * required or optional columns, strings (dictionary or plain), timestamps
 * in ns, booleans and exact decimals, ZSTD data pages (v1), row groups of
 * about a million rows, time statistics, key-value metadata. */
#ifndef CHR_PARQUET_H
#define CHR_PARQUET_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "thrift.h"

enum chr_pq_kind {
	CHR_PQ_DICT,		/* UTF-8 string, dictionary-encoded (few distinct values) */
	CHR_PQ_STR,		/* UTF-8 string, plain */
	CHR_PQ_TIME,		/* INT64 TIMESTAMP(NANOS, isAdjustedToUTC) */
	CHR_PQ_BOOL,		/* BOOLEAN */
	CHR_PQ_DEC,		/* INT64 DECIMAL(18, s), one s for the file's column */
};

#define CHR_PQ_GROUP_ROWS (1u << 20)	/* rows of a row group (about) */
#define CHR_PQ_KV_MAX 8			/* key-value metadata entries */

/* a dictionary: the distinct strings of a column chunk, PLAIN-encoded in
 * order of appearance, found by an open-addressing hash */
struct chr_pq_dict {
	uint8_t *plain;		/* 4-byte length + bytes, each */
	size_t plen, pcap;
	size_t *at;		/* start of entry i in plain */
	uint32_t n, acap;
	uint32_t *slot;		/* entry + 1, 0 empty */
	uint32_t nslot;		/* a power of 2 */
	uint32_t last;		/* the entry of the last row */
};

/* a column of the row group being filled: the column store, which the
 * Arrow writer (arrow.h) reads too */
struct chr_pq_col {
	char *name;
	enum chr_pq_kind kind;
	int optional;
	uint8_t *def;		/* optional: 1 value, 0 null, per row */
	int64_t *v;		/* TIME, DEC: per row */
	int8_t *sc;		/* DEC: the scale of each row */
	uint8_t *b;		/* BOOL: per row */
	uint32_t *ix;		/* DICT: entry per row */
	struct chr_pq_dict d;
	uint8_t *s;		/* STR: PLAIN bytes */
	size_t slen, scap;
	size_t *soff;		/* STR: start of row i in s, and one past the last */
	int scale;		/* DEC: the column's scale, -1 until set */
};

struct chr_pq_group;

struct chr_pq {
	int fd;
	const char *name;	/* the output, for messages */
	size_t ncol;
	struct chr_pq_col *col;
	size_t nrows;		/* rows of the row group being filled */
	size_t cap;		/* rows the columns hold */
	size_t group_rows;	/* flush a row group at this many rows */
	uint64_t total_rows;
	uint64_t off;		/* bytes written to fd */
	struct chr_pq_group *groups;
	size_t ngroups, gcap;
	const char *kv[CHR_PQ_KV_MAX][2];	/* kept, not copied */
	size_t nkv;
	int level;		/* zstd level */
	void *zc;		/* ZSTD_CCtx */
	uint8_t *page, *zpage;	/* page bodies, plain and compressed */
	size_t page_cap, zpage_cap;
	uint8_t *obuf;		/* output buffer */
	size_t on;
	struct chr_th th;
	/* another writer of the rows (arrow.h): NULL for Parquet, else each
	 * row group is given to it instead of written as Parquet */
	int (*group)(void *arg, struct chr_pq *pq, struct chr_err *e);
	void *group_arg;
	const char *format;	/* "a Parquet", or the other writer's ("an Arrow"): messages */
};

/* Start a Parquet file on fd (kept, not closed; name for messages) with
 * ncol columns, each named (copied) with its kind and whether it may hold
 * nulls (optional: STR, TIME and DEC columns only; the encodings of DICT
 * and BOOL pages hold a value for every row). Writes the magic. Returns 0, or -1 with e (a write
 * error: CHR_EX_SYS; out of memory); chr_pq_free frees it in every case. */
int chr_pq_open(struct chr_pq *pq, int fd, const char *name, size_t ncol,
		const char *const *names, const enum chr_pq_kind *kinds, const int *optional,
		struct chr_err *e);

/* chr_pq_open without the file: the column store alone, for another
 * writer of the rows, which sets pq->group (and pq->format) after it.
 * Writes nothing. Returns 0, or -1 with e (out of memory). */
int chr_pq_store(struct chr_pq *pq, int fd, const char *name, size_t ncol,
		 const char *const *names, const enum chr_pq_kind *kinds, const int *optional,
		 struct chr_err *e);

/* Make *p (of *cap elements of elem bytes) hold need: doubled from 64.
 * Returns 0, or -1 (out of memory; *p unchanged). */
int chr_pq_grow(void **p, size_t *cap, size_t need, size_t elem);

/* Add a key-value metadata entry (both strings kept until chr_pq_close).
 * At most CHR_PQ_KV_MAX; more are ignored. */
void chr_pq_kv(struct chr_pq *pq, const char *key, const char *value);

/* The values of the current row, column c of each kind (one call per
 * column, in any order): a string of n bytes (DICT, STR), a time in ns
 * (TIME), a boolean (BOOL), a decimal mant / 10^scale, scale 0..18 (DEC),
 * or null (optional columns). They cannot fail: the columns have room for
 * the row (chr_pq_row made it), except a string, which returns -1 when out
 * of memory. */
int chr_pq_str(struct chr_pq *pq, size_t c, const char *s, size_t n);
void chr_pq_time(struct chr_pq *pq, size_t c, int64_t ns);
void chr_pq_bool(struct chr_pq *pq, size_t c, int v);
void chr_pq_dec(struct chr_pq *pq, size_t c, int64_t mant, int scale);
void chr_pq_null(struct chr_pq *pq, size_t c);

/* End the current row (every column given a value) and make room for the
 * next; at pq->group_rows rows, write the row group. A decimal column has
 * one scale, the largest of its values: each row group's values are
 * raised to the largest scale so far, exactly; when a row group's is
 * larger than that of the row groups written, the column's scale rises
 * and chr_pq_close raises their pages (read back, raised, and written
 * again at the end of the file with the rest of their row groups, where
 * the footer points). That needs fd to be
 * readable and seekable (pread): on a pipe it is an error (CHR_EX_DATA),
 * as is a value that does not fit 18 digits at the column's scale.
 * Returns 0, or -1 with e (also a write error, CHR_EX_SYS, or out of
 * memory). */
int chr_pq_row(struct chr_pq *pq, struct chr_err *e);

/* Write the rows buffered as a row group (or give them to pq->group).
 * Returns 0, or -1 with e. */
int chr_pq_flush(struct chr_pq *pq, struct chr_err *e);

/* Raise the values of decimal column c of the rows buffered to one scale,
 * the largest of theirs and of the column's so far (the column's scale,
 * pq->col[c].scale, is then that; it stays -1 while the column has had
 * only nulls), as chr_pq_row says: CHR_EX_DATA when a value does not fit
 * 18 digits, or when the scale rises and fd cannot be read back. Returns
 * 0, or -1 with e. */
int chr_pq_dec_scale(struct chr_pq *pq, size_t c, struct chr_err *e);

/* Write the last row group, raise the decimal pages written at a smaller
 * scale than their column's (chr_pq_row; CHR_EX_DATA when a value would
 * pass 18 digits), and write the footer (schema, row groups, statistics,
 * key-value metadata). fd is not closed. Returns 0, or -1 with e. */
int chr_pq_close(struct chr_pq *pq, struct chr_err *e);

/* Free what pq holds (after chr_pq_close, or instead of it). */
void chr_pq_free(struct chr_pq *pq);

#endif
