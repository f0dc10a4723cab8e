/* io.c - framed record stream reader and writer: the reader's core
 * (buffer, framing, checks, messages with byte offsets), its descriptor
 * backend, and the buffered writer. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "io.h"
#include "queue.h"	/* the writer may append to a queue */

#define CHR_IO_BUF (1u << 20)

static void *alloc64(size_t n)
{
	return aligned_alloc(CHR_ALIGN, (n + CHR_ALIGN - 1) & ~(size_t)(CHR_ALIGN - 1));
}

int chr_reader_setup(struct chr_reader *r, const struct chr_reader_ops *ops, size_t cap,
		     const char *name)
{
	memset(r, 0, sizeof *r);
	r->ops = ops;
	r->fd = -1;
	r->name = name;
	r->cap = cap;
	if (cap && !(r->buf = alloc64(cap)))
		return -1;
	return 0;
}

/* What the first bytes of a stream that is not one of records are, when
 * they say (text, gzip), else NULL. */
static const char *not_records(const unsigned char *b, size_t n)
{
	size_t i;
	int comma = 0;

	if (n > CHR_HDR_SIZE)
		n = CHR_HDR_SIZE;
	/* gzip's magic and method (deflate); as a record length it is a
	 * legal one, but the record then fails its checks */
	if (n >= 3 && b[0] == 0x1f && b[1] == 0x8b && b[2] == 8)
		return "this looks like gzip data, not chronicle records (a Tardis .csv.gz "
		       "converts with chr-csv2ev; gzip'ed records decompress with gzip -d)";
	/* text starts with ASCII, or a UTF-8 byte order mark; four bytes at
	 * least, as a record's fourth is 0 or 1 (its length is 16 MiB at most) */
	if (n < 4 || ((b[0] < 0x20 || b[0] >= 0x7f) && b[0] != '\t' && b[0] != '\n' &&
		       b[0] != '\r' && !(n >= 3 && memcmp(b, "\xef\xbb\xbf", 3) == 0)))
		return NULL;
	for (i = 0; i < n; i++) {
		if ((b[i] < 0x20 && b[i] != '\t' && b[i] != '\n' && b[i] != '\r') || b[i] == 0x7f)
			return NULL;
		comma |= b[i] == ',';
	}
	return comma ? "this looks like CSV text, not chronicle records; convert it with chr-csv2ev" :
		       "this looks like text, not chronicle records";
}

int chr_reader_fail(struct chr_reader *r, int status, uint64_t off, const char *what)
{
	const char *text;

	/* a stream that fails at its first byte may be no record stream at
	 * all: say what it is (only here, off the path of good records) */
	if (status == CHR_EX_DATA && off == 0 && r->off == 0 && r->buf &&
	    (text = not_records(r->buf + r->lo, r->hi - r->lo)) != NULL)
		return chr_err_set(&r->e, status, "%s: %s", r->name, text);
	return chr_err_set(&r->e, status, "%s: byte %" PRIu64 ": %s", r->name, off, what);
}

int chr_reader_room(struct chr_reader *r, size_t n)
{
	size_t have = r->hi - r->lo;

	if (r->cap - r->lo >= n)
		return 0;
	if (r->cap < n) {
		size_t cap = r->cap ? r->cap : CHR_IO_BUF;
		unsigned char *nb;

		while (cap < n)
			cap *= 2;
		nb = alloc64(cap);
		if (nb == NULL)
			return chr_reader_fail(r, CHR_EX_SYS, r->off, strerror(ENOMEM));
		if (have)
			memcpy(nb, r->buf + r->lo, have);
		free(r->buf);
		r->buf = nb;
		r->cap = cap;
	} else {
		memmove(r->buf, r->buf + r->lo, have);
	}
	r->hi = have;
	r->lo = 0;
	return 0;
}

/* The descriptor backend: read(2) into the buffer, as much as fits. */
static int fd_fill(struct chr_reader *r, size_t need)
{
	ssize_t k;

	if (chr_reader_room(r, need) < 0)
		return -1;
	k = chr_read(r->fd, r->buf + r->hi, r->cap - r->hi);
	if (k < 0)
		return chr_reader_fail(r, CHR_EX_SYS, r->off, strerror(errno));
	if (k == 0) {
		r->eof = 1;
		return 0;
	}
	r->hi += (size_t)k;
	return 1;
}

static void fd_close(struct chr_reader *r)
{
	close(r->fd);
}

static const struct chr_reader_ops fd_ops = {
	.fill = fd_fill,
	.close = fd_close,
	.blocks = 1,
};

int chr_reader_init(struct chr_reader *r, int fd, const char *name)
{
	int k = chr_reader_setup(r, &fd_ops, CHR_IO_BUF, name);

	r->fd = fd;	/* closed by chr_reader_free when owned, even then */
	if (k < 0)
		return -1;
	if (chr_pipe_grow(fd))
		chr_reader_batch(r, CHR_BATCH_NS);
	return 0;
}

void chr_reader_free(struct chr_reader *r)
{
	if (r->own && r->ops && r->ops->close)
		r->ops->close(r);
	r->own = 0;
	free(r->buf);
	r->buf = NULL;
}

void chr_reader_set_flush(struct chr_reader *r, int (*flush)(void *), void *arg)
{
	r->flush = flush;
	r->flush_arg = arg;
}

static int64_t mono_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

void chr_reader_batch(struct chr_reader *r, int64_t batch_ns)
{
	static int slack;

	r->batch_ns = batch_ns;
	/* the kernel's default timer slack (50 us) would double the sleep */
	if (batch_ns && !slack)
		slack = prctl(PR_SET_TIMERSLACK, 1000UL) == 0;
}

/* Is there input to take without waiting? (1 when it cannot tell) */
static int input_ready(const struct chr_reader *r)
{
	int avail;

	if (r->ops->ready)
		return r->ops->ready(r);
	return ioctl(r->fd, FIONREAD, &avail) < 0 || avail > 0;
}

/* Input would block (empty: it is known to). While batching, sleep until
 * batch_ns after the last wake-up; a sleep that brought nothing ends the
 * batching (the input comes in bursts further apart, each its own wake-up)
 * until wake-ups come closer than batch_ns again. */
static void batch_wait(struct chr_reader *r, int empty)
{
	int64_t until = r->woke + r->batch_ns;
	struct timespec t;

	if (!r->batching || mono_ns() >= until || (!empty && input_ready(r)))
		return;
	t.tv_sec = until / 1000000000;
	t.tv_nsec = until % 1000000000;
	/* a signal ends the sleep early, as it would the wait */
	clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &t, NULL);
	r->batching = input_ready(r);
}

/* Input came: batching starts when it came within batch_ns of the last. */
static void batch_woke(struct chr_reader *r)
{
	int64_t now = mono_ns();

	if (now - r->woke < r->batch_ns)
		r->batching = 1;
	r->woke = now;
}

/* Make at least need bytes available at buf[lo]. Returns 1 when they are,
 * 0 at EOF before them, -1 with r->e set. */
static int fill(struct chr_reader *r, size_t need)
{
	while (r->hi - r->lo < need) {
		int k;

		if (r->eof)
			return 0;
		if (r->flush && r->ops->blocks)
			r->flush(r->flush_arg);
		if (r->batch_ns)
			batch_wait(r, 0);
		if ((k = r->ops->fill(r, need)) <= 0)
			return k;
		if (r->batch_ns)
			batch_woke(r);
	}
	return 1;
}

/* fill(r, need) where the end of the stream is a record cut short (what):
 * 1, or -1 with r->e */
static inline int fill_all(struct chr_reader *r, size_t need, const char *what)
{
	int k = fill(r, need);

	if (k == 0)
		return chr_reader_fail(r, CHR_EX_DATA, r->off, what);
	return k < 0 ? -1 : 1;
}

/* chr_reader_next of a buffered backend (apart, so that a backend's own
 * next is reached without this one's stack frame). */
__attribute__((noinline))
static int next_buffered(struct chr_reader *r, const struct chr_rec **rec)
{
	for (;;) {
		const struct chr_rec *h;
		const char *bad;
		size_t span;
		int k;

		if (r->hi - r->lo < CHR_HDR_SIZE) {
			/* no byte at all is a clean EOF; part of a header is not */
			k = fill(r, 1);
			if (k == 0)
				return 0;
			if (k < 0 || fill_all(r, CHR_HDR_SIZE, "truncated record header") < 0)
				return -1;
		}
		h = (const struct chr_rec *)(r->buf + r->lo);
		if (h->len == CHR_SEG_MAGIC) {
			bad = chr_seg_check((const struct chr_seg *)h);
			if (bad)
				return chr_reader_fail(r, CHR_EX_DATA, r->off, bad);
			r->lo += CHR_HDR_SIZE;
			r->off += CHR_HDR_SIZE;
			continue;
		}
		if (h->len == 0xFD2FB528u)	/* a zstd frame's magic */
			return chr_reader_fail(r, CHR_EX_DATA, r->off, "zstd-compressed data (give a "
					       "compressed segment by its path, or decompress it "
					       "with zstd -d)");
		if (h->len < CHR_HDR_SIZE)
			return chr_reader_fail(r, CHR_EX_DATA, r->off, h->len == 0 ?
					       "record length 0 (unwritten space, or not a record "
					       "stream)" : "record length below 64");
		if (h->len > CHR_REC_MAX)
			return chr_reader_fail(r, CHR_EX_DATA, r->off, "record length above 16 MiB");
		span = chr_rec_span(h->len);
		if (r->hi - r->lo < span) {
			if (fill_all(r, span, "truncated record") < 0)
				return -1;
			h = (const struct chr_rec *)(r->buf + r->lo);
		}
		bad = chr_rec_check(h);
		if (bad)
			return chr_reader_fail(r, CHR_EX_DATA, r->off, bad);
		r->rec_off = r->off;
		r->lo += span;
		r->off += span;
		*rec = h;
		return 1;
	}
}

int chr_reader_next(struct chr_reader *r, const struct chr_rec **rec)
{
	if (r->ops->next)
		return r->ops->next(r, rec);
	return next_buffered(r, rec);
}

int chr_reader_wait(struct chr_reader *r, int timeout_ms)
{
	int k;

	if (!r->ops->wait)
		return 1;
	if (r->flush)
		r->flush(r->flush_arg);
	if (r->batch_ns && !input_ready(r))
		batch_wait(r, 1);
	k = r->ops->wait(r, timeout_ms);
	if (r->batch_ns)
		batch_woke(r);
	return k;
}

int chr_writer_init(struct chr_writer *w, int fd, const char *name, size_t cap)
{
	memset(w, 0, sizeof *w);
	w->fd = fd;
	w->name = name;
	w->cap = cap < CHR_IO_BUF ? CHR_IO_BUF : cap;
	w->buf = alloc64(w->cap);
	chr_pipe_grow(fd);
	return w->buf ? 0 : -1;
}

int chr_writer_init_queue(struct chr_writer *w, struct chr_queue_writer *q, const char *name)
{
	if (chr_writer_init(w, -1, name, 0) < 0)
		return -1;
	w->q = q;
	return 0;
}

int chr_writer_flush(struct chr_writer *w)
{
	if (w->err)
		return -1;
	if (w->n > 0 && chr_write_all(w->fd, w->buf, w->n) < 0) {
		/* the buffer counts as full from now on, so that the next put
		 * fails too (after a flush that a reader made before it read,
		 * say) without a check of its own on the way of every record */
		w->err = errno;
		w->n = w->cap;
		return -1;
	}
	w->off += w->n;
	w->n = 0;
	return 0;
}

int chr_writer_flush_fn(void *w)
{
	return chr_writer_flush(w);
}

int chr_writer_close(struct chr_writer *w)
{
	int rc = chr_writer_flush(w);

	free(w->buf);
	w->buf = NULL;
	return rc;
}

/* Room for span bytes at buf[n]: flush, or grow for a record larger
 * than the buffer. */
static int room(struct chr_writer *w, size_t span)
{
	if (w->cap - w->n >= span)
		return 0;
	if (chr_writer_flush(w) < 0)
		return -1;
	if (w->cap < span) {
		unsigned char *nb = alloc64(span);

		if (nb == NULL) {
			w->err = ENOMEM;
			return -1;
		}
		free(w->buf);
		w->buf = nb;
		w->cap = span;
	}
	return 0;
}

struct chr_rec *chr_writer_reserve(struct chr_writer *w, uint32_t len)
{
	size_t span;
	struct chr_rec *r;

	if (len < CHR_HDR_SIZE || len > CHR_REC_MAX) {
		errno = EINVAL;
		return NULL;
	}
	if (w->err) {
		errno = w->err;
		return NULL;
	}
	span = chr_rec_span(len);
	if (room(w, span) < 0)
		return NULL;
	r = (struct chr_rec *)(w->buf + w->n);
	memset(r, 0, span);
	r->len = len;
	return r;
}

void chr_writer_commit(struct chr_writer *w, struct chr_rec *rec)
{
	if (w->q) {
		/* built in our buffer, copied in: the callers may read len */
		if (!w->err && chr_queue_append(w->q, rec) < 0)
			w->err = errno;
		return;
	}
	chr_rec_seal(rec);
	w->n += chr_rec_span(rec->len);
}

int chr_writer_put(struct chr_writer *w, const struct chr_rec *rec)
{
	size_t span = chr_rec_span(rec->len);

	if (rec->len < CHR_HDR_SIZE || rec->len > CHR_REC_MAX) {
		errno = EINVAL;
		return -1;
	}
	if (w->q) {
		if (chr_queue_append(w->q, rec) < 0) {
			w->err = errno;
			return -1;
		}
		return 0;
	}
	if (room(w, span) < 0)
		return -1;
	memcpy(w->buf + w->n, rec, span);
	w->n += span;
	return 0;
}
