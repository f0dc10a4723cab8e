/* io.c - framed record stream reader and writer. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "io.h"
#include "queue.h"
#include "zsq.h"

#define CHR_IO_BUF (1u << 20)

static void *alloc64(size_t n)
{
	return aligned_alloc(CHR_ALIGN, (n + CHR_ALIGN - 1) & ~(size_t)(CHR_ALIGN - 1));
}

int chr_reader_init(struct chr_reader *r, int fd, const char *name)
{
	memset(r, 0, sizeof *r);
	r->fd = fd;
	r->name = name;
	r->cap = CHR_IO_BUF;
	r->buf = alloc64(r->cap);
	chr_pipe_grow(fd);
	return r->buf ? 0 : -1;
}

void chr_reader_init_queue(struct chr_reader *r, struct chr_queue_reader *q, const char *name,
			   int follow)
{
	memset(r, 0, sizeof *r);
	r->fd = -1;
	r->name = name;
	r->q = q;
	r->follow = follow;
}

int chr_reader_init_zsq(struct chr_reader *r, struct chr_zsq *z, size_t first_frame,
			const char *name)
{
	size_t n;
	const struct chr_zsq_frame *f = chr_zsq_frames(z, &n);

	memset(r, 0, sizeof *r);
	r->fd = -1;
	r->name = name;
	if (first_frame > n) {
		errno = EINVAL;
		return -1;
	}
	r->z = z;
	r->zframe = first_frame;
	r->off = first_frame < n ? f[first_frame].uoff : chr_zsq_size(z);
	r->cap = CHR_IO_BUF;
	r->buf = alloc64(r->cap);
	return r->buf ? 0 : -1;
}

int chr_reader_init_zsq_data(struct chr_reader *r, struct chr_zsq *z, size_t frame,
			     const void *data, size_t len, size_t skip, const char *name)
{
	size_t n;
	const struct chr_zsq_frame *f = chr_zsq_frames(z, &n);

	if (frame >= n || len > f[frame].usize || skip > len || skip % 64 || len % 64) {
		errno = EINVAL;
		return -1;
	}
	if (chr_reader_init_zsq(r, z, len == f[frame].usize ? frame + 1 : n, name) < 0)
		return -1;
	if (r->cap < len) {
		free(r->buf);
		r->cap = len;
		if (!(r->buf = alloc64(r->cap)))
			return -1;
	}
	memcpy(r->buf, data, len);
	r->lo = skip;
	r->hi = len;
	r->off = f[frame].uoff + skip;
	return 0;
}

void chr_reader_free(struct chr_reader *r)
{
	free(r->buf);
	r->buf = NULL;
}

static int fail(struct chr_reader *r, int status, uint64_t off, const char *what)
{
	r->status = status;
	snprintf(r->err, sizeof r->err, "%s: byte %" PRIu64 ": %s", r->name, off, what);
	return -1;
}

/* Decompress frames after buf[lo..hi) until need bytes are there (a frame
 * holds whole records: one is enough unless the data is corrupt). Returns
 * as fill, or -2 with r->err and r->status set by chr_zsq_read. */
static int fill_zsq(struct chr_reader *r, size_t need)
{
	size_t n;
	const struct chr_zsq_frame *f = chr_zsq_frames(r->z, &n);

	while (r->hi - r->lo < need) {
		size_t have = r->hi - r->lo, usize;

		if (r->zframe >= n) {
			r->eof = 1;
			return 0;
		}
		usize = (size_t)f[r->zframe].usize;
		if (r->cap - r->hi < usize) {
			/* lo stays a multiple of 64, so records stay aligned */
			if (r->cap < have + usize) {
				size_t cap = r->cap;
				unsigned char *nb;

				while (cap < have + usize)
					cap *= 2;
				nb = alloc64(cap);
				if (nb == NULL) {
					errno = ENOMEM;
					return -1;
				}
				memcpy(nb, r->buf + r->lo, have);
				free(r->buf);
				r->buf = nb;
				r->cap = cap;
			} else {
				memmove(r->buf, r->buf + r->lo, have);
			}
			r->hi = have;
			r->lo = 0;
		}
		if (chr_zsq_read(r->z, r->zframe, r->buf + r->hi, r->err, sizeof r->err,
				 &r->status) < 0)
			return -2;
		r->hi += usize;
		r->zframe++;
	}
	return 1;
}

/* Make at least need bytes available at buf[lo]. Returns 1 when they are,
 * 0 at EOF before them, -1 on a read error (errno), -2 on an error that
 * r->err says already. */
static int fill(struct chr_reader *r, size_t need)
{
	if (r->z)
		return fill_zsq(r, need);
	while (r->hi - r->lo < need) {
		ssize_t k;

		if (r->eof)
			return 0;
		if (r->cap - r->lo < need) {
			/* lo stays a multiple of 64, so records stay aligned */
			if (r->cap < need) {
				size_t cap = r->cap;
				unsigned char *nb;

				while (cap < need)
					cap *= 2;
				nb = alloc64(cap);
				if (nb == NULL) {
					errno = ENOMEM;
					return -1;
				}
				memcpy(nb, r->buf + r->lo, r->hi - r->lo);
				free(r->buf);
				r->buf = nb;
				r->cap = cap;
			} else {
				memmove(r->buf, r->buf + r->lo, r->hi - r->lo);
			}
			r->hi -= r->lo;
			r->lo = 0;
		}
		if (r->flush && chr_writer_flush(r->flush) < 0) {
			errno = r->flush->err;
			return -1;
		}
		k = chr_read(r->fd, r->buf + r->hi, r->cap - r->hi);
		if (k < 0)
			return -1;
		if (k == 0)
			r->eof = 1;
		r->hi += (size_t)k;
	}
	return 1;
}

static int queue_next(struct chr_reader *r, const struct chr_rec **rec)
{
	int k = chr_queue_next(r->q, rec);

	if (k > 0) {
		r->rec_off = r->q->pos - chr_rec_span((*rec)->len);
		return 1;
	}
	if (k < 0) {
		r->status = r->q->status;
		snprintf(r->err, sizeof r->err, "%s", r->q->err);
		return -1;
	}
	return r->follow ? 2 : 0;
}

int chr_reader_next(struct chr_reader *r, const struct chr_rec **rec)
{
	if (r->q)
		return queue_next(r, rec);
	for (;;) {
		const struct chr_rec *h;
		const char *bad;
		size_t span;
		int k;

		/* no byte at all is a clean EOF; part of a header is not */
		k = fill(r, 1);
		if (k == 0)
			return 0;
		if (k > 0)
			k = fill(r, CHR_HDR_SIZE);
		if (k == -2)
			return -1;
		if (k < 0)
			return fail(r, CHR_EX_SYS, r->off, strerror(errno));
		if (k == 0)
			return fail(r, CHR_EX_DATA, r->off, "truncated record header");
		h = (const struct chr_rec *)(r->buf + r->lo);
		if (h->len == CHR_SEG_MAGIC) {
			bad = chr_seg_check((const struct chr_seg *)h);
			if (bad)
				return fail(r, CHR_EX_DATA, r->off, bad);
			r->lo += CHR_HDR_SIZE;
			r->off += CHR_HDR_SIZE;
			continue;
		}
		if (h->len == 0xFD2FB528u)	/* a zstd frame's magic */
			return fail(r, CHR_EX_DATA, r->off, "zstd-compressed data (give a compressed "
				    "segment by its path, or decompress it with zstd -d)");
		if (h->len < CHR_HDR_SIZE)
			return fail(r, CHR_EX_DATA, r->off, h->len == 0 ?
				    "record length 0 (unwritten space, or not a record stream)" :
				    "record length below 64");
		if (h->len > CHR_REC_MAX)
			return fail(r, CHR_EX_DATA, r->off, "record length above 16 MiB");
		span = chr_rec_span(h->len);
		k = fill(r, span);
		if (k == -2)
			return -1;
		if (k < 0)
			return fail(r, CHR_EX_SYS, r->off, strerror(errno));
		if (k == 0)
			return fail(r, CHR_EX_DATA, r->off, "truncated record");
		h = (const struct chr_rec *)(r->buf + r->lo);
		bad = chr_rec_check(h);
		if (bad)
			return fail(r, CHR_EX_DATA, r->off, bad);
		r->rec_off = r->off;
		r->lo += span;
		r->off += span;
		*rec = h;
		return 1;
	}
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
		w->err = errno;
		return -1;
	}
	w->off += w->n;
	w->n = 0;
	return 0;
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
