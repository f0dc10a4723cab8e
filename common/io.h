/* io.h - the framed record stream: a reader that checks records and hands
 * them out from a buffer that its backend fills (a descriptor here, a queue
 * in ioqueue.c, a compressed segment in zsq.c), and a buffered writer. */
#ifndef CHR_IO_H
#define CHR_IO_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "rec.h"

struct chr_writer;
struct chr_queue_reader;
struct chr_queue_writer;
struct chr_zsq;
struct chr_reader;

/* A reader's backend, as Redis's rio: how bytes or records come in. A
 * buffered backend has fill, and the reader frames and checks what it
 * brings; a backend that hands out checked records in place (a queue) has
 * next instead. Only a refill, or such a next, goes through the table.
 * A new backend is a static table and an init beside what it reads that
 * calls chr_reader_setup and sets r->in (ioqueue.c is the smallest). */
struct chr_reader_ops {
	/* Append bytes at buf[hi..): there are fewer than need at buf[lo..hi)
	 * (chr_reader_room makes space). Returns 1 when it added some, 0 at
	 * the end of the input (r->eof set), -1 with r->e set. */
	int (*fill)(struct chr_reader *r, size_t need);
	/* The next record: returns as chr_reader_next. */
	int (*next)(struct chr_reader *r, const struct chr_rec **rec);
	/* With next: 1 when next has something to do without waiting, else
	 * 0 (NULL: always 1). A buffered backend leaves it NULL: its buffer
	 * says. */
	int (*ready)(const struct chr_reader *r);
	/* Wait at most timeout_ms for more: returns 1 when there may be
	 * some, 0 on timeout (NULL: returns 1 at once). */
	int (*wait)(struct chr_reader *r, int timeout_ms);
	/* Close what the reader was given (r->in), when it owns it. */
	void (*close)(struct chr_reader *r);
	int blocks;		/* a fill may block (a pipe, a terminal) or take
				 * a while (a compressed frame decoded): what
				 * waits to be written goes first */
};

struct chr_reader {
	const struct chr_reader_ops *ops;
	void *in;		/* the backend's input: a queue reader, a chr_zsq */
	int fd;			/* the descriptor backend's, else -1 */
	int own;		/* chr_reader_free closes the input (fd or in) */
	size_t next_frame;	/* a compressed segment: its next frame */
	int follow;		/* a queue: its end is not EOF, next returns 2 */
	unsigned spin_us;	/* a queue: chr_reader_wait spins this long
				 * before it sleeps (0, the default: at once) */
	int64_t batch_ns;	/* a pipe, a followed queue: see chr_reader_batch */
	int64_t woke;		/* CLOCK_MONOTONIC ns when input last came */
	int batching;		/* wake-ups came closer than batch_ns */
	const char *name;	/* for messages: a path, or "stdin" */
	unsigned char *buf;	/* 64-byte aligned */
	size_t cap, lo, hi;	/* buf[lo..hi) is unread data */
	uint64_t off;		/* stream offset of buf[lo] */
	uint64_t rec_off;	/* stream offset of the last record returned */
	int eof;
	int (*flush)(void *);	/* chr_reader_set_flush */
	void *flush_arg;
	/* after -1: e.status is CHR_EX_DATA or CHR_EX_SYS, e.msg "name: byte
	 * N: what is wrong" */
	struct chr_err e;
};

/* Start reading records from fd; name is kept (not copied) for messages.
 * Returns 0, or -1 when out of memory. The fd stays the caller's (unless
 * it sets r->own). */
int chr_reader_init(struct chr_reader *r, int fd, const char *name);

/* Read the records of a queue reader q instead (positioned by the caller;
 * still the caller's to close unless it sets r->own: then
 * chr_reader_free closes and frees it). At the queue's end chr_reader_next
 * returns 0 (EOF), or with follow 2: nothing yet (chr_reader_wait, then
 * again). Records are handed out in place, in the queue's mapping. Defined
 * in ioqueue.c. */
void chr_reader_init_queue(struct chr_reader *r, struct chr_queue_reader *q, const char *name,
			   int follow);

/* Where chr_reader_open_queue starts, the first that is set. */
struct chr_queue_from {
	int end;		/* after the last record */
	uint64_t seq;		/* at this seq (UINT64_MAX: not set) */
	int exact;		/* seq must still be there (not removed by
				 * retention): else CHR_EX_DATA */
	int64_t ts;		/* at this ts (chr_queue_seek_ts; INT64_MIN:
				 * not set) */
	uint64_t seq_min;	/* else at this seq (0: the first record) */
};

/* Open the queue in path for reading from where `from` says, the DEFINE
 * records the seek passes first (chr_queue_seek_defines), as
 * chr_reader_init_queue with follow; shown names it in messages (kept, not
 * copied). r owns the queue reader (chr_reader_free closes it). Returns 0,
 * or -1 with e set (as chr_queue_reader_open and the seeks say; a removed
 * exact seq is CHR_EX_DATA); chr_reader_free may be called either way.
 * Defined in ioqueue.c. */
int chr_reader_open_queue(struct chr_reader *r, const char *path, const char *shown,
			  const struct chr_queue_from *from, int follow, struct chr_err *e);

/* Read the records of the compressed segment z (zsq.h; still the caller's
 * to close unless it sets r->own) from its frame first_frame on,
 * decompressing a frame at a time into the buffer: frame 0 begins with the
 * segment header (checked and skipped as in a stream), a later frame with
 * a record (chr_zsq_snapshot_at finds one to start a book at). Byte
 * offsets in messages are offsets in the segment (what `zstd -d` gives); a
 * frame that does not decompress is reported with its offset in the
 * compressed file. first_frame equal to the number of frames reads
 * nothing. Returns 0, or -1 when out of memory or first_frame is past the
 * last frame (errno EINVAL). Defined in zsq.c. */
int chr_reader_init_zsq(struct chr_reader *r, struct chr_zsq *z, size_t first_frame,
			const char *name);

/* As chr_reader_init_zsq at frame, whose first len bytes the caller has
 * decompressed already in data: they are copied, not decompressed again,
 * and reading starts at byte skip of the frame (a record's offset in it).
 * With len the whole frame, or whole frames from frame on (frame's and
 * the next ones' bytes, one after the other), the frames after them
 * follow; with less (whole records: a part of frame, or of the frame
 * after whole ones), the reader ends there. Returns 0, or -1 as
 * chr_reader_init_zsq (errno EINVAL: len past the segment's end). */
int chr_reader_init_zsq_data(struct chr_reader *r, struct chr_zsq *z, size_t frame,
			     const void *data, size_t len, size_t skip, const char *name);

/* Free the buffer, and close the input when the reader owns it. */
void chr_reader_free(struct chr_reader *r);

/* Next record, checked (length, version, CRC, payload layout). Segment
 * headers between records are validated and skipped. Returns 1 and sets
 * *rec to the record, valid until the next call; 0 at a clean EOF (at a
 * record boundary); 2 when following a queue that has nothing new yet;
 * -1 on error with r->e set: a truncated, oversized or corrupt record is
 * CHR_EX_DATA and names the byte offset of the record (a stream that
 * fails at byte 0 and begins as text or gzip does says that instead, and
 * what converts it); a read error is CHR_EX_SYS. */
int chr_reader_next(struct chr_reader *r, const struct chr_rec **rec);

/* The flush-before-block rule, kept here once: with flush set, the reader
 * calls flush(arg) before each read that may block (a descriptor's read
 * when the next record is not wholly buffered) and before each wait for a
 * followed queue, so that what a filter has written leaves before it waits
 * and a pipeline never stalls. flush's result is not looked at: an output
 * keeps its own error (a chr_writer's w->err) for the program to report at
 * its next write. For a chr_writer, pass chr_writer_flush_fn and it. */
void chr_reader_set_flush(struct chr_reader *r, int (*flush)(void *), void *arg);

/* 1 when the next chr_reader_next may block on input, or find nothing new
 * in a followed queue (the next record is not wholly buffered), else 0.
 * Inline: programs that flush by hand ask it at every record. */
static inline int chr_reader_may_block(const struct chr_reader *r)
{
	const struct chr_reader_ops *ops = r->ops;
	const struct chr_rec *h;
	size_t have = r->hi - r->lo;

	if (ops->ready)
		return !ops->ready(r);
	if (r->eof || !ops->blocks)
		return 0;
	if (have < CHR_HDR_SIZE)
		return 1;
	h = (const struct chr_rec *)(r->buf + r->lo);
	if (h->len == CHR_SEG_MAGIC)
		return have < 2 * CHR_HDR_SIZE;
	return h->len >= CHR_HDR_SIZE && h->len <= CHR_REC_MAX && have < chr_rec_span(h->len);
}

/* Following a queue after a 2: flush (chr_reader_set_flush), then wait
 * until it may have more, for at most timeout_ms. Returns 1 when there
 * may be more, 0 on timeout; 1 at once for a backend that never waits. */
int chr_reader_wait(struct chr_reader *r, int timeout_ms);

/* Batched wake-ups, on by default for a pipe (chr_reader_init) and a
 * followed queue (chr_reader_init_queue). Once input has come twice within
 * batch_ns, a reader whose input would block flushes, then sleeps until
 * batch_ns after the last wake-up and takes what came meanwhile in one go;
 * a sleep that brought nothing ends that until wake-ups come that close
 * again. A trickle of records then wakes the program about once per
 * batch_ns, at a cost of at most batch_ns of delay a stage, while bursts
 * further apart still wake it once each; input that is already there is
 * never waited for. 0 turns it off. The default, CHR_BATCH_NS, is
 * measured in docs/performance.md. */
#define CHR_BATCH_NS 50000
void chr_reader_batch(struct chr_reader *r, int64_t batch_ns);

/* For backends. Make room for n bytes from buf[lo] on, moving buf[lo..hi)
 * to the start or into a larger buffer (lo stays a multiple of 64, so
 * records stay aligned). Returns 0, or -1 with r->e set (out of memory). */
int chr_reader_room(struct chr_reader *r, size_t n);

/* For backends: fill r->e with "name: byte off: what" and status; a
 * CHR_EX_DATA failure at offset 0 whose bytes are text or gzip gets
 * "name: this looks like CSV text, not chronicle records; ..." instead.
 * Returns -1. */
int chr_reader_fail(struct chr_reader *r, int status, uint64_t off, const char *what);

/* A reader's buffer of cap bytes (64-byte aligned), its other fields
 * zeroed, fd -1: what a backend's init starts with. Returns 0, or -1 when
 * out of memory. */
int chr_reader_setup(struct chr_reader *r, const struct chr_reader_ops *ops, size_t cap,
		     const char *name);

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
 * seq, src_seq when 0, and the CRC). A failed append sets w->err (q->e
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
 * Returns 0, or -1 with w->err set (a write error, also an earlier one:
 * a flush that a reader made before blocking) or errno EINVAL (an illegal
 * len). */
int chr_writer_put(struct chr_writer *w, const struct chr_rec *rec);

/* Write out everything buffered. Returns 0, or -1 with w->err (errno). */
int chr_writer_flush(struct chr_writer *w);

/* chr_writer_flush(w) for chr_reader_set_flush and its likes. */
int chr_writer_flush_fn(void *w);

#endif
