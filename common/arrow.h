/* arrow.h - an Arrow IPC stream writer (docs/parquet.md, "Arrow IPC
 * stream") over the Parquet writer's column store: the same columns and
 * rows, a Schema message, then a RecordBatch message per row group. */
#ifndef CHR_ARROW_H
#define CHR_ARROW_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "fbuf.h"
#include "parquet.h"

struct chr_arrow_dec;

struct chr_arrow {
	struct chr_pq *pq;	/* the column store, filled by chr_pq_str ... chr_pq_row */
	int fd;
	const char *name;	/* the output, for messages */
	uint64_t off;		/* bytes written to fd */
	int started;		/* the Schema message is written */
	int *scale;		/* per column: the scale the Schema gives (DEC) */
	uint64_t *scale_at;	/* per column: where in fd the Schema says it */
	struct chr_arrow_dec *dec;	/* the decimal buffers written */
	size_t ndec, dcap;
	struct chr_fb fb;
	uint8_t *body;		/* the body of a RecordBatch message */
	size_t blen, bcap;
	int64_t *bufs;		/* its buffers: offset, length each */
	size_t nbuf, bufcap;
	int64_t *nodes;		/* its field nodes: length, null count per column */
	uint8_t *meta;		/* a message's prefix and metadata */
	size_t mcap;
};

/* Start an Arrow IPC stream on fd (kept, not closed; name for messages)
 * with the columns of chr_pq_open, pq their store: rows are given to pq
 * as to a Parquet file (chr_pq_str ... chr_pq_row), and each row group
 * becomes a RecordBatch message. Strings are Utf8, times
 * Timestamp(NANOSECOND, "UTC"), booleans Bool, decimals Decimal128(18, s)
 * with the Parquet writer's scale rule (parquet.h): the Schema message,
 * written with the first row group, gives the scale of its values; a
 * later rise is written back into the Schema and the batches before by
 * chr_arrow_close, which needs fd readable and seekable (else
 * CHR_EX_DATA, as Parquet). pq's key-value metadata is the Schema's
 * custom_metadata. Writes nothing yet. Returns 0, or -1 with e (out of
 * memory); chr_arrow_free and chr_pq_free free them in every case. */
int chr_arrow_open(struct chr_arrow *a, struct chr_pq *pq, int fd, const char *name,
		   size_t ncol, const char *const *names, const enum chr_pq_kind *kinds,
		   const int *optional, struct chr_err *e);

/* Write the rows buffered as the last RecordBatch (the Schema first when
 * there was no row group), the end-of-stream marker, and raise the
 * decimals written at a smaller scale than their column's. fd is not
 * closed. Returns 0, or -1 with e (a write error, CHR_EX_SYS; a value
 * that does not fit 18 digits, CHR_EX_DATA). */
int chr_arrow_close(struct chr_arrow *a, struct chr_err *e);

/* Free what a holds (not pq). */
void chr_arrow_free(struct chr_arrow *a);

#endif
