/* snap.c - the search for the last snapshot at or before a time in a
 * segment file: the records are walked in order, buffer by buffer (a plain
 * segment's mapping, or a compressed segment's frames). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "rec.h"
#include "snap.h"
#include "zsq.h"

struct walk {
	int64_t ts;		/* at or before this */
	int starts;		/* the next record starts an event */
	int found;
	uint64_t off;		/* of the snapshot found (segment offset) */
	size_t frame;		/* the frame holding it (compressed) */
};

/* Walk the records of buf[at..n), buf[0] being segment offset base. Returns
 * 1 when a record after w->ts (or a bad one) ends the walk, else 0. */
static int walk(struct walk *w, const unsigned char *buf, size_t at, size_t n, uint64_t base,
		size_t frame)
{
	while (at + CHR_HDR_SIZE <= n) {
		const struct chr_rec *r = (const void *)(buf + at);

		if (r->len < CHR_HDR_SIZE || r->len > n - at || r->ts > w->ts)
			return 1;
		if (!(r->flags & CHR_F_REPEAT)) {
			if (r->type == CHR_BOOK_SNAPSHOT && w->starts) {
				w->found = 1;
				w->off = base + at;
				w->frame = frame;
			}
			w->starts = (r->flags & CHR_F_LAST) || r->type == CHR_DEFINE;
		}
		at += chr_rec_span(r->len);
	}
	return 0;
}

/* A plain segment: a walk over its mapping (the record headers only). */
static int plain_find(int fd, const char *shown, struct walk *w, struct chr_err *e)
{
	struct chr_seg h;
	unsigned char *m;

	if (pread(fd, &h, sizeof h, 0) != (ssize_t)sizeof h || h.magic != CHR_SEG_MAGIC ||
	    chr_seg_check(&h) != NULL || !(h.flags & CHR_SEG_SEALED) || h.count == 0 ||
	    h.ts_min > w->ts)
		return 0;
	m = mmap(NULL, h.end, PROT_READ, MAP_PRIVATE, fd, 0);
	if (m == MAP_FAILED)
		return chr_err_sys(e, "cannot map '%s'", shown);
	walk(w, m, sizeof h, h.end, 0, 0);
	munmap(m, h.end);
	return w->found;
}

/* A compressed segment: from the last frame that its seek table flags as
 * starting with a snapshot at or before w->ts (else its first frame),
 * frames are decompressed and walked up to w->ts; the frame holding the
 * snapshot found is kept for the reader. */
static int zsq_find(const char *path, struct walk *w, struct chr_snap *at, struct chr_err *e)
{
	const struct chr_zsq_frame *f;
	unsigned char *buf = NULL, *keep = NULL;
	struct chr_zsq *z;
	size_t n, cap = 0;
	long i;
	int rc = 0, k;

	if (!(z = chr_zsq_open(path, e->msg, sizeof e->msg, &e->status)))
		return -1;
	f = chr_zsq_frames(z, &n);
	if (chr_zsq_seg(z)->count == 0 || chr_zsq_seg(z)->ts_min > w->ts)
		goto out;
	i = chr_zsq_snapshot_at(z, w->ts);
	w->starts = i >= 0;
	for (i = i < 0 ? 0 : i; (size_t)i < n && f[i].first_ts <= w->ts; i++) {
		if (f[i].usize > cap) {
			free(buf);
			cap = f[i].usize;
			if (!(buf = malloc(cap))) {
				rc = chr_err_set(e, CHR_EX_SYS, "out of memory");
				goto out;
			}
		}
		if (chr_zsq_read(z, (size_t)i, buf, e->msg, sizeof e->msg, &e->status) < 0) {
			rc = -1;
			goto out;
		}
		k = walk(w, buf, f[i].uoff ? 0 : sizeof(struct chr_seg), f[i].usize, f[i].uoff,
			 (size_t)i);
		if (w->found && w->frame == (size_t)i) {
			/* the reader starts with this frame: keep it */
			free(keep);
			keep = buf;
			buf = NULL;
			cap = 0;
		}
		if (k)
			break;
	}
	if ((rc = w->found)) {
		at->frame = w->frame;
		at->off = w->off;
		at->data = keep;
		at->len = f[w->frame].usize;
		keep = NULL;
	}
out:
	free(keep);
	free(buf);
	chr_zsq_close(z);
	return rc;
}

int chr_snap_find(const char *path, const char *shown, int64_t ts, struct chr_snap *at,
		  struct chr_err *e)
{
	struct walk w = { .ts = ts };
	int fd = open(path, O_RDONLY | O_CLOEXEC), k;

	if (fd < 0)
		return chr_err_sys(e, "cannot open '%s'", shown);
	if (chr_zsq_is_zstd(fd)) {
		k = zsq_find(path, &w, at, e);
	} else if ((k = plain_find(fd, shown, &w, e)) > 0) {
		at->off = w.off;
		at->frame = 0;
		at->data = NULL;
		at->len = 0;
	}
	close(fd);
	return k;
}

int chr_snap_defs_prefix(const char *path, const char *shown, struct chr_snap *at,
			 struct chr_err *e)
{
	unsigned char *buf = NULL;
	struct chr_zsq *z;
	size_t off = sizeof(struct chr_seg), n = 64u << 10, nf;
	int fd = open(path, O_RDONLY | O_CLOEXEC), zst;

	if (fd < 0)
		return chr_err_sys(e, "cannot open '%s'", shown);
	zst = chr_zsq_is_zstd(fd);
	close(fd);
	if (!zst)
		return 0;
	if (!(z = chr_zsq_open(path, e->msg, sizeof e->msg, &e->status)))
		return -1;
	if (chr_zsq_frames(z, &nf)[0].usize < n)
		n = chr_zsq_frames(z, &nf)[0].usize;
	if (!(buf = malloc(n))) {
		chr_zsq_close(z);
		return chr_err_set(e, CHR_EX_SYS, "out of memory");
	}
	if (chr_zsq_read_some(z, 0, buf, n, e->msg, sizeof e->msg, &e->status) < 0) {
		free(buf);
		chr_zsq_close(z);
		return -1;
	}
	chr_zsq_close(z);
	/* up to and with the first record that is not a DEFINE */
	while (off + CHR_HDR_SIZE <= n) {
		const struct chr_rec *r = (const void *)(buf + off);

		if (r->len < CHR_HDR_SIZE || chr_rec_span(r->len) > n - off)
			break;
		off += chr_rec_span(r->len);
		if (r->type != CHR_DEFINE) {
			at->data = buf;
			at->len = off;
			at->frame = 0;
			at->off = 0;
			return 1;
		}
	}
	free(buf);
	return 0;
}
