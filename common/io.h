/* io.h - the framed record stream over file descriptors: a block reader
 * that hands out records in place, and a buffered writer. */
#ifndef CHR_IO_H
#define CHR_IO_H

#include <stddef.h>
#include <stdint.h>

#include "rec.h"

struct chr_writer;
struct chr_queue_reader;
struct chr_queue_writer;
struct chr_zsq;

struct chr_reader {
	int fd;
	const char *name;	/* for messages: a path, or "stdin" */
	unsigned char *buf;	/* 64-byte aligned */
	size_t cap, lo, hi;	/* buf[lo..hi) is unread data */
	uint64_t off;		/* stream offset of buf[lo] */
	uint64_t rec_off;	/* stream offset of the last record returned */
	int eof;
	struct chr_writer *flush;	/* if set, flushed before each blocking read */
	struct chr_queue_reader *q;	/* reading a queue instead of fd */
	int follow;		/* a queue's end is not EOF: next returns 2 */
	struct chr_zsq *z;	/* reading a compressed segment instead of fd */
	size_t zframe;		/* its next frame to decompress */
	int status;		/* after -1: CHR_EX_DATA or CHR_EX_SYS */
	char err[512];		/* after -1: "name: byte N: what is wrong" */
};

/* Start reading records from fd; name is kept (not copied) for messages.
 * Returns 0, or -1 when out of memory. The fd stays the caller's. A filter
 * sets r->flush to its output writer, so that what it has written leaves
 * before it waits for more input and a pipeline never stalls. */
int chr_reader_init(struct chr_reader *r, int fd, const char *name);

/* Read the records of a queue reader q instead (positioned by the caller;
 * still the caller's to close). At the queue's end chr_reader_next returns
 * 0 (EOF), or with follow 2: nothing yet (chr_queue_wait, then again). */
void chr_reader_init_queue(struct chr_reader *r, struct chr_queue_reader *q, const char *name,
			   int follow);

/* Read the records of the compressed segment z (zsq.h; still the caller's
 * to close) from its frame first_frame on, decompressing a frame at a time
 * into the buffer: frame 0 begins with the segment header (checked and
 * skipped as in a stream), a later frame with a record (chr_zsq_snapshot_at
 * finds one to start a book at). Byte offsets in messages are offsets in
 * the segment (what `zstd -d` gives); a frame that does not decompress is
 * reported with its offset in the compressed file. first_frame equal to
 * the number of frames reads nothing. Returns 0, or -1 when out of memory
 * or first_frame is past the last frame (errno EINVAL). */
int chr_reader_init_zsq(struct chr_reader *r, struct chr_zsq *z, size_t first_frame,
			const char *name);

/* As chr_reader_init_zsq at frame, whose first len bytes the caller has
 * decompressed already in data: they are copied, not decompressed again,
 * and reading starts at byte skip of the frame (a record's offset in it).
 * With len the whole frame, the next frames follow; with less (whole
 * records), the reader ends there. Returns 0, or -1 as
 * chr_reader_init_zsq. */
int chr_reader_init_zsq_data(struct chr_reader *r, struct chr_zsq *z, size_t frame,
			     const void *data, size_t len, size_t skip, const char *name);
void chr_reader_free(struct chr_reader *r);

/* Next record, checked (length, version, CRC, payload layout). Segment
 * headers between records are validated and skipped. Returns 1 and sets
 * *rec to the record, valid until the next call; 0 at a clean EOF (at a
 * record boundary); -1 on error with r->err and r->status set: a
 * truncated, oversized or corrupt record is CHR_EX_DATA and names the
 * byte offset of the record; a read error is CHR_EX_SYS. */
int chr_reader_next(struct chr_reader *r, const struct chr_rec **rec);

struct chr_writer {
	int fd;
	const char *name;
	unsigned char *buf;	/* 64-byte aligned */
	size_t cap, n;
	uint64_t off;		/* bytes written to fd so far */
	int err;		/* errno of the first failed write, else 0 */
	struct chr_queue_writer *q;	/* appending to a queue instead of fd */
};

/* A writer of records to fd with a buffer of at least cap bytes (0 for the
 * default, 1 MiB). Returns 0, or -1 when out of memory. */
int chr_writer_init(struct chr_writer *w, int fd, const char *name, size_t cap);

/* Append to the queue writer q instead (opened by the caller, still its to
 * close): each committed or put record is appended at once (the queue sets
 * seq, src_seq when 0, and the CRC). A failed append sets w->err (q->err
 * says why); the next reserve, put or flush fails. Returns 0, or -1 when
 * out of memory. */
int chr_writer_init_queue(struct chr_writer *w, struct chr_queue_writer *q, const char *name);

/* Flush what is buffered and free the buffer. Returns chr_writer_flush's. */
int chr_writer_close(struct chr_writer *w);

/* Space for a record of len header+payload bytes, 64-byte aligned and
 * zeroed up to its span, inside the buffer (flushing first if needed).
 * Fill it, then chr_writer_commit. Returns NULL on a write error (w->err
 * set) or with errno EINVAL when len is not a legal record length. */
struct chr_rec *chr_writer_reserve(struct chr_writer *w, uint32_t len);

/* Seal (chr_rec_seal) the record last reserved and make it part of the
 * output. */
void chr_writer_commit(struct chr_writer *w, struct chr_rec *rec);

/* Copy a complete, already sealed record (its span) to the output.
 * Returns 0, or -1 with w->err set (a write error) or errno EINVAL (an
 * illegal len). */
int chr_writer_put(struct chr_writer *w, const struct chr_rec *rec);

/* Write out everything buffered. Returns 0, or -1 with w->err (errno). */
int chr_writer_flush(struct chr_writer *w);

#endif
