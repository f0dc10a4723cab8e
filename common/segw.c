/* segw.c - archive segment files: written buffered, sealed (final header,
 * fsync, rename), and their xxh3-128 checksums. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <xxhash.h>

#include "err.h"
#include "path.h"
#include "segw.h"
#include "zsq.h"

#define SEGW_BUF (256u << 10)

int chr_segw_open(struct chr_segw *w, const char *dir, uint64_t id, uint64_t base_seq,
		  uint64_t size)
{
	struct chr_seg *h;

	memset(w, 0, sizeof *w);
	w->fd = -1;
	if (snprintf(w->path, sizeof w->path, "%s/%09" PRIu64 ".q.tmp", dir, id) >=
	    (int)sizeof w->path) {
		errno = ENAMETOOLONG;
		return -1;
	}
	w->cap = SEGW_BUF;
	w->buf = aligned_alloc(CHR_ALIGN, w->cap);
	if (w->buf == NULL)
		return -1;
	h = (struct chr_seg *)w->buf;
	memset(h, 0, sizeof *h);
	h->magic = CHR_SEG_MAGIC;
	h->version = CHR_VERSION;
	h->id = id;
	h->base_seq = base_seq;
	w->n = sizeof *h;
	w->info.id = id;
	w->info.base_seq = base_seq;
	w->info.bytes = sizeof *h;
	w->snap_gap = size / CHR_SEG_SNAPS;
	return 0;
}

/* Note the record r just appended at byte off, for meta.json's snapshots */
static void note_snap(struct chr_segw *w, const struct chr_rec *r, uint64_t off)
{
	struct chr_seginfo *i = &w->info;

	if (r->flags & CHR_F_REPEAT)
		return;
	if (r->type == CHR_BOOK_SNAPSHOT && w->starts && i->nsnaps < CHR_SEG_SNAPS &&
	    (i->nsnaps == 0 || off - i->snaps[i->nsnaps - 1].off >= w->snap_gap)) {
		i->snaps[i->nsnaps].ts_upto = i->ts_max;
		i->snaps[i->nsnaps++].off = off;
	}
	w->starts = (r->flags & CHR_F_LAST) || r->type == CHR_DEFINE;
}

static int segw_flush(struct chr_segw *w)
{
	if (w->n == 0)
		return 0;
	if (w->fd < 0) {
		w->fd = open(w->path, O_WRONLY | O_CREAT | O_CLOEXEC, 0666);
		if (w->fd < 0)
			return -1;
	}
	if (chr_pwrite_all(w->fd, w->buf, w->n, w->info.bytes - w->n) < 0)
		return -1;
	w->n = 0;
	return 0;
}

int chr_segw_put(struct chr_segw *w, const struct chr_rec *rec)
{
	size_t span = chr_rec_span(rec->len);
	struct chr_rec *r;

	if (w->cap - w->n < span) {
		if (segw_flush(w) < 0)
			return -1;
		if (w->cap < span) {
			unsigned char *nb = aligned_alloc(CHR_ALIGN, span);

			if (nb == NULL)
				return -1;
			free(w->buf);
			w->buf = nb;
			w->cap = span;
		}
	}
	r = (struct chr_rec *)(w->buf + w->n);
	memcpy(r, rec, span);
	r->seq = w->info.base_seq + w->info.count;
	chr_rec_seal(r);
	if (w->info.count == 0 || r->ts < w->info.ts_min)
		w->info.ts_min = r->ts;
	if (w->info.count == 0 || r->ts > w->info.ts_max)
		w->info.ts_max = r->ts;
	w->info.count++;
	note_snap(w, r, w->info.bytes);
	w->n += span;
	w->info.bytes += span;
	return 0;
}

void chr_segw_close_fd(struct chr_segw *w)
{
	if (w->fd >= 0) {
		close(w->fd);
		w->fd = -1;
	}
}

/* "xxh3-128:<32 hex digits>" of h into out (48 bytes). */
static void xxh128_text(XXH128_hash_t h, char *out)
{
	XXH128_canonical_t c;

	XXH128_canonicalFromHash(&c, h);
	strcpy(out, "xxh3-128:");
	for (int i = 0; i < 16; i++)
		sprintf(out + 9 + 2 * i, "%02x", c.digest[i]);
}

int chr_file_xxh128(const char *path, char *out, uint64_t *size)
{
	XXH3_state_t *st = XXH3_createState();
	size_t cap = 1u << 20;
	char *buf = malloc(cap);
	uint64_t total = 0;
	int fd = -1, rc = -1, e = 0;
	ssize_t k;

	if (st == NULL || buf == NULL) {
		e = ENOMEM;
		goto out;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		e = errno;
		goto out;
	}
	XXH3_128bits_reset(st);
	while ((k = chr_read(fd, buf, cap)) > 0) {
		XXH3_128bits_update(st, buf, (size_t)k);
		total += (uint64_t)k;
	}
	if (k < 0) {
		e = errno;
		goto out;
	}
	xxh128_text(XXH3_128bits_digest(st), out);
	if (size)
		*size = total;
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	XXH3_freeState(st);
	if (rc < 0)
		errno = e;
	return rc;
}

void chr_mem_xxh128(const void *buf, size_t n, char *out)
{
	xxh128_text(XXH3_128bits(buf, n), out);
}

int chr_zsq_xxh128(const char *path, char *out, uint64_t *size, struct chr_err *e)
{
	XXH3_state_t *st = XXH3_createState();
	const struct chr_zsq_frame *f;
	struct chr_zsq *z = NULL;
	void *buf = NULL;
	size_t n, cap = 0;
	int rc = -1;

	*size = 0;
	if (st == NULL)
		return chr_err_set(e, CHR_EX_SYS, "%s", strerror(ENOMEM));
	if ((z = chr_zsq_open(path, e->msg, sizeof e->msg, &e->status)) == NULL)
		goto out;
	f = chr_zsq_frames(z, &n);
	XXH3_128bits_reset(st);
	for (size_t i = 0; i < n; i++) {
		if (f[i].usize > cap) {
			free(buf);
			cap = f[i].usize;
			if ((buf = malloc(cap)) == NULL) {
				chr_err_set(e, CHR_EX_SYS, "%s", strerror(ENOMEM));
				goto out;
			}
		}
		if (chr_zsq_read(z, i, buf, e->msg, sizeof e->msg, &e->status) < 0)
			goto out;
		XXH3_128bits_update(st, buf, f[i].usize);
		*size += f[i].usize;
	}
	xxh128_text(XXH3_128bits_digest(st), out);
	rc = 0;
out:
	chr_zsq_close(z);
	free(buf);
	XXH3_freeState(st);
	return rc;
}

int chr_segw_seal(struct chr_segw *w)
{
	char final[sizeof w->path];
	struct chr_seg h;
	size_t n = strlen(w->path) - 4;	/* without ".tmp" */

	if (segw_flush(w) < 0)
		return -1;
	memset(&h, 0, sizeof h);
	h.magic = CHR_SEG_MAGIC;
	h.version = CHR_VERSION;
	h.flags = CHR_SEG_SEALED;
	h.id = w->info.id;
	h.base_seq = w->info.base_seq;
	h.end = w->info.bytes;
	h.count = w->info.count;
	h.ts_min = w->info.ts_min;
	h.ts_max = w->info.ts_max;
	h.crc = chr_seg_crc(&h);
	if (w->fd < 0) {
		w->fd = open(w->path, O_WRONLY | O_CREAT | O_CLOEXEC, 0666);
		if (w->fd < 0)
			return -1;
	}
	if (chr_pwrite_all(w->fd, &h, sizeof h, 0) < 0 || ftruncate(w->fd, (off_t)h.end) < 0 ||
	    fsync(w->fd) < 0)
		return -1;
	if (close(w->fd) < 0) {
		w->fd = -1;
		return -1;
	}
	w->fd = -1;
	memcpy(final, w->path, n);
	final[n] = '\0';
	if (rename(w->path, final) < 0)
		return -1;
	memcpy(w->path, final, n + 1);
	free(w->buf);
	w->buf = NULL;
	return chr_file_xxh128(final, w->info.checksum, NULL);
}

void chr_segw_abort(struct chr_segw *w)
{
	chr_segw_close_fd(w);
	free(w->buf);
	w->buf = NULL;
	unlink(w->path);
}

