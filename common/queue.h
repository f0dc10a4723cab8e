/* queue.h - the hot queue: a directory of preallocated, memory-mapped
 * segments (docs/format.md) with one writer that appends in place and any
 * number of readers that follow it through rolls without locks. */
#ifndef CHR_QUEUE_H
#define CHR_QUEUE_H

#include <stddef.h>
#include <stdint.h>

#include "rec.h"

#define CHR_QUEUE_SEG_DEFAULT (64u << 20)	/* segment file size: 64 MiB */
#define CHR_QUEUE_CREATE 0x1			/* create the directory if missing */

/* base_seq of a pre-created segment that has not become current yet */
#define CHR_QUEUE_NO_SEQ UINT64_MAX

struct chr_queue_opts {
	uint64_t seg_size;	/* bytes per new segment; 0 = default. A multiple
				 * of 4096, at least 4096 */
	unsigned flags;		/* CHR_QUEUE_CREATE */
};

/* The fields are read-only for callers. */
struct chr_queue_writer {
	int dirfd, lockfd;
	uint64_t seg_size;
	unsigned char *base;	/* current segment, mapped read-write */
	uint64_t size;		/* its size */
	uint64_t id;		/* its id */
	uint64_t pos;		/* offset of the next record in it */
	uint64_t count;		/* records in it */
	int64_t ts_min, ts_max;
	uint64_t seq;		/* seq the next record gets */
	unsigned char *next;	/* pre-created segment id + 1, or NULL */
	uint64_t next_size;
	int next_failed;	/* pre-creating failed: retry only at the roll */
	struct chr_rec *res;	/* reserved, not yet committed, or NULL */
	uint32_t res_len;
	int status;		/* after -1: CHR_EX_DATA or CHR_EX_SYS */
	char err[512];		/* after -1: "dir/000000003.q: what is wrong" */
	char dir[4096];
};

struct chr_queue_reader {
	int dirfd;
	const unsigned char *base;	/* current segment, mapped read-only */
	uint64_t size, id, pos;
	uint64_t want;		/* records below this seq are skipped */
	int started;		/* a record was returned: seq must be +1 each */
	int status;		/* after -1: CHR_EX_DATA or CHR_EX_SYS */
	char err[512];		/* after -1: "dir/000000003.q: byte 4096: bad crc" */
	char dir[4096];
};

/* Open the queue in dir for appending, as its only writer (flock on
 * dir/lock). Recovers after a crash: the records after the last good one of
 * the current segment (len 0, failing chr_rec_check, out of seq order or
 * running past the segment) are zeroed, and seq continues. opts may be NULL.
 * Returns 0, or -1 with errno, w->status and w->err: EBUSY when another
 * writer holds the lock, EINVAL for bad options, EPROTO (CHR_EX_DATA) for a
 * segment header that is not one. Undo with chr_queue_writer_close. */
int chr_queue_writer_open(struct chr_queue_writer *w, const char *dir,
			  const struct chr_queue_opts *opts);

/* Unmap, release the lock. The current segment stays unsealed: the next
 * writer continues it. Returns 0. */
int chr_queue_writer_close(struct chr_queue_writer *w);

/* Space for a record of len (64..16 MiB) header+payload bytes in the
 * mapped segment, zeroed, rolling to the next segment when it does not fit.
 * Fill every field but len (len is the commit word: chr_queue_commit writes
 * it), then chr_queue_commit; reserving again forgets an uncommitted
 * reservation. Returns NULL with errno EINVAL (len illegal or its span
 * larger than a segment can hold) or the errno of a failed roll (w->err). */
struct chr_rec *chr_queue_reserve(struct chr_queue_writer *w, uint32_t len);

/* Publish the record last reserved: set seq (and src_seq when 0), version,
 * the CRC, and store len last with release order. No syscall, except once
 * per segment, when it passes half full, to pre-create the next segment (a
 * failure there is retried at the roll). */
void chr_queue_commit(struct chr_queue_writer *w, struct chr_rec *rec);

/* Copy rec (rec->len bytes; its seq, src_seq and crc are replaced) into the
 * queue: reserve + copy + commit. Returns 0, or -1 with errno as
 * chr_queue_reserve. */
int chr_queue_append(struct chr_queue_writer *w, const struct chr_rec *rec);

/* Open the queue in dir for reading from the first record whose seq is at
 * least from_seq (records before it are skipped as they are read; 0 = from
 * the start). Returns 0, or -1 with errno and r->err: ENOENT when dir holds
 * no segment, EPROTO (r->status CHR_EX_DATA) for a bad segment header. */
int chr_queue_reader_open(struct chr_queue_reader *r, const char *dir, uint64_t from_seq);

/* Unmap and close. */
void chr_queue_reader_close(struct chr_queue_reader *r);

/* Next committed record, checked (chr_rec_check, seq +1 each). Returns 1
 * with *rec pointing into the shared mapping (valid until the next call),
 * 0 when nothing new is
 * committed yet (it never sleeps), -1 with r->err and r->status: a bad
 * record or segment is CHR_EX_DATA naming segment and byte offset, a
 * failure to open or map the next segment CHR_EX_SYS. */
int chr_queue_next(struct chr_queue_reader *r, const struct chr_rec **rec);

#endif
