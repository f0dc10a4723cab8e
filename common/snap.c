/* snap.c - the search for the last snapshot at or before a time in a
 * segment file, or for each instrument of a multi-instrument stream: the
 * records are walked in order, buffer by buffer (a plain segment's mapping,
 * or a compressed segment's frames). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "path.h"
#include "rec.h"
#include "s3.h"
#include "snap.h"
#include "zsq.h"

/* a plain segment's walk reads this much at a time */
#define WALK_BUF (256u << 10)

struct walk {
	int64_t ts;		/* at or before this */
	int starts;		/* the next record starts an event */
	int found;
	uint64_t off;		/* of the snapshot found (segment offset) */
	size_t frame;		/* the frame holding it (compressed) */
};

/* Walk the records whose headers lie in buf[at..n), buf[0] being segment
 * offset base; a record may go on to buf[room) (room >= n: the segment
 * goes on past the buffer). *next is left at the record after the last
 * one walked. Returns 1 when a record after w->ts (or a bad one) ends the
 * walk, else 0. */
static int walk(struct walk *w, const unsigned char *buf, size_t at, size_t n, uint64_t room,
		uint64_t base, size_t frame, uint64_t *next)
{
	int end = 0;

	while (at + CHR_HDR_SIZE <= n) {
		const struct chr_rec *r = (const void *)(buf + at);

		if (r->len < CHR_HDR_SIZE || r->len > room - at || r->ts > w->ts) {
			end = 1;
			break;
		}
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
	*next = base + at;
	return end;
}

/* A walk over buf[0..n) of a plain segment: the records whose headers
 * lie there, buf[0] being segment offset base, a record going on to
 * buf[room) at most (room >= n: the segment goes on past the buffer).
 * *next is left at the record after the last one walked. Returns 1 when
 * the walk is over, 0 at the end of the buffer, -1 when out of memory. */
typedef int walk_fn(void *ctx, const unsigned char *buf, size_t n, uint64_t room, uint64_t base,
		    uint64_t *next);

/* Walk the plain segment at fd (shown in messages) with step over its
 * records from the one at offset from (0: its first), read WALK_BUF at a
 * time (a record longer than what is left of the buffer is stepped over,
 * not read; a step that cannot go on in a buffer, such as a DEFINE longer
 * than it, ends the walk). Reading the bytes into one buffer that stays
 * in the cache costs less than mapping the segment: a header every few
 * KiB, each on a page of its own to fault in and unmap (docs/performance.md,
 * "The book at T"); mapped with MAP_POPULATE, a query of the hot bench day
 * took 7.2 ms of CPU against 6.0. Returns 1 when
 * walked, 0 when not (not a valid sealed segment, no record at or before
 * ts), -1 with e. */
static int plain_walk(int fd, const char *shown, int64_t ts, uint64_t from, walk_fn *step,
		      void *ctx, struct chr_err *e)
{
	struct chr_seg h;
	unsigned char *buf;
	uint64_t pos = from ? from : sizeof h;
	int k = 0;

	if (pread(fd, &h, sizeof h, 0) != (ssize_t)sizeof h || h.magic != CHR_SEG_MAGIC ||
	    chr_seg_check(&h) != NULL || !(h.flags & CHR_SEG_SEALED) || h.count == 0 ||
	    h.ts_min > ts)
		return 0;
	if (!(buf = malloc(WALK_BUF)))
		return chr_err_set(e, CHR_EX_SYS, "out of memory");
	while (k == 0 && pos + CHR_HDR_SIZE <= h.end) {
		size_t want = h.end - pos < WALK_BUF ? (size_t)(h.end - pos) : WALK_BUF;
		ssize_t got = pread(fd, buf, want, (off_t)pos);
		uint64_t was = pos;

		if (got < 0) {
			free(buf);
			return chr_err_sys(e, "cannot read '%s'", shown);
		}
		if (got < (ssize_t)CHR_HDR_SIZE)
			break;
		k = step(ctx, buf, (size_t)got, h.end - pos, pos, &pos);
		if (k == 0 && pos == was)
			break;
	}
	free(buf);
	return k < 0 ? chr_err_set(e, CHR_EX_SYS, "out of memory") : 1;
}

/* walk_fn of chr_snap_find */
static int find_step(void *ctx, const unsigned char *buf, size_t n, uint64_t room, uint64_t base,
		     uint64_t *next)
{
	return walk(ctx, buf, 0, n, room, base, 0, next);
}

/* upto: how much of frame i of f[0..n) to decompress first, in whole
 * 64-byte units: the part where the first record after ts should lie if
 * the frame's records were spread evenly over its time (from its first
 * record's ts to the next frame's), with room to spare; its whole size
 * when that is most of it. */
static size_t part_guess(const struct chr_zsq_frame *f, size_t n, size_t i, int64_t ts)
{
	double span, at;
	size_t want;

	if (i + 1 >= n || f[i + 1].first_ts <= f[i].first_ts)
		return f[i].usize;
	span = (double)(f[i + 1].first_ts - f[i].first_ts);
	at = (double)(ts - f[i].first_ts) / span;
	want = (size_t)(at * 1.25 * (double)f[i].usize) + (64u << 10);
	want = (want + 63) & ~(size_t)63;
	return want >= f[i].usize - f[i].usize / 8 ? f[i].usize : want;
}

/* upto: walk the first part (part_guess) of frame i, decompressed into buf.
 * Returns the bytes of it to hand over, up to and with the first record
 * after w->ts when that record lies in it whole (w then as after a walk
 * of the whole frame), or 0: w is left as it was, and the whole frame is
 * to be walked. */
static size_t walk_part(struct chr_zsq *z, const struct chr_zsq_frame *f, size_t n, size_t i,
			struct walk *w, unsigned char *buf, struct chr_err *e, int *failed)
{
	struct walk was = *w;
	size_t part = part_guess(f, n, i, w->ts), at;
	uint64_t next;
	const struct chr_rec *r;

	if (part >= f[i].usize)
		return 0;
	if (chr_zsq_read_some(z, i, buf, part, e->msg, sizeof e->msg, &e->status) < 0) {
		*failed = 1;
		return 0;
	}
	/* a record going on past the part is stepped over, not read: the walk
	 * ends at one after ts only when its header is in the part */
	if (walk(w, buf, f[i].uoff ? 0 : sizeof(struct chr_seg), part, f[i].usize, f[i].uoff, i,
		 &next) == 1) {
		at = (size_t)(next - f[i].uoff);
		r = (const void *)(buf + at);
		if (at + CHR_HDR_SIZE <= part && r->len >= CHR_HDR_SIZE && r->ts > w->ts &&
		    chr_rec_span(r->len) <= part - at)
			return at + chr_rec_span(r->len);
	}
	*w = was;
	return 0;
}

/* A compressed segment: from the last frame that its seek table flags as
 * starting with a snapshot at or before w->ts (else its first frame),
 * frames are decompressed and walked up to w->ts. The frames from the one
 * holding the snapshot found up to the last one walked are kept, one after
 * the other, for the reader: none is decompressed twice. upto: of the last
 * one, only as much as holds the first record after w->ts, when a part
 * does (walk_part). */
static int zsq_find(const char *path, struct walk *w, int upto, struct chr_snap *at,
		    struct chr_err *e)
{
	const struct chr_zsq_frame *f;
	unsigned char *keep = NULL;
	struct chr_zsq *z;
	size_t n, kept = 0, cap = 0, first = 0;
	uint64_t next;
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
		unsigned char *buf;
		int had = w->found, failed = 0;
		size_t used = 0;

		/* frame i goes after the frames kept */
		if (kept + f[i].usize > cap) {
			unsigned char *b = realloc(keep, kept + f[i].usize);

			if (!b) {
				rc = chr_err_set(e, CHR_EX_SYS, "out of memory");
				goto out;
			}
			keep = b;
			cap = kept + f[i].usize;
		}
		buf = keep + kept;
		/* the frame that holds ts is the last: a part of it may do */
		if (upto && ((size_t)i + 1 == n || f[i + 1].first_ts > w->ts))
			used = walk_part(z, f, n, (size_t)i, w, buf, e, &failed);
		if (failed) {
			rc = -1;
			goto out;
		}
		k = 1;
		if (!used) {
			if (chr_zsq_read(z, (size_t)i, buf, e->msg, sizeof e->msg, &e->status) < 0) {
				rc = -1;
				goto out;
			}
			k = walk(w, buf, f[i].uoff ? 0 : sizeof(struct chr_seg), f[i].usize,
				 f[i].usize, f[i].uoff, (size_t)i, &next);
			used = f[i].usize;
		}
		if (w->found && w->frame == (size_t)i) {
			/* the reader starts with this frame */
			if (kept)
				memmove(keep, buf, used);
			first = (size_t)i;
			kept = used;
		} else if (had) {
			kept += used;	/* and goes on into this one */
		}
		if (k)
			break;
	}
	if ((rc = w->found)) {
		at->frame = first;
		at->off = w->off;
		at->data = keep;
		at->len = kept;
		keep = NULL;
	}
out:
	free(keep);
	chr_zsq_close(z);
	return rc;
}

/* from, when a BOOK_SNAPSHOT at or before ts that is no repeat lies
 * there in the plain segment at fd, else 0: where meta.json says a walk
 * may start (struct chr_snapref), looked at before it is taken. */
static uint64_t starts_at(int fd, uint64_t from, int64_t ts)
{
	struct chr_rec r;

	if (from < sizeof(struct chr_seg) || from % CHR_ALIGN != 0 ||
	    pread(fd, &r, sizeof r, (off_t)from) != (ssize_t)sizeof r || r.len < CHR_HDR_SIZE ||
	    r.type != CHR_BOOK_SNAPSHOT || (r.flags & CHR_F_REPEAT) || r.ts > ts)
		return 0;
	return from;
}

int chr_snap_find(const char *path, const char *shown, int64_t ts, uint64_t from, int upto,
		  struct chr_snap *at, struct chr_err *e)
{
	struct walk w = { .ts = ts };
	int fd, k;

	if (chr_s3_is_url(path))	/* an object-storage tier's segments are compressed */
		return zsq_find(path, &w, upto, at, e);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return chr_err_sys(e, "cannot open '%s'", shown);
	if (chr_zsq_is_zstd(fd)) {
		k = zsq_find(path, &w, upto, at, e);
	} else {
		from = starts_at(fd, from, ts);
		w.starts = from != 0;	/* meta.json lists snapshots that begin an event */
		if ((k = plain_walk(fd, shown, ts, from, find_step, &w, e)) > 0 && (k = w.found) > 0) {
			at->off = w.off;
			at->frame = 0;
			at->data = NULL;
			at->len = 0;
		}
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
	int fd, zst = 1;

	if (!chr_s3_is_url(path)) {
		if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
			return chr_err_sys(e, "cannot open '%s'", shown);
		zst = chr_zsq_is_zstd(fd);
		close(fd);
	}
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

/* ---- every instrument of a multi-instrument stream ---- */

void chr_snap_each_init(struct chr_snap_each *x, int64_t ts,
			int (*want)(void *, uint16_t, uint32_t, const char *, const char *),
			void *ctx)
{
	chr_tab_init(&x->inst, sizeof(struct chr_snap_inst));
	x->ts = ts;
	x->want = want;
	x->ctx = ctx;
}

void chr_snap_each_free(struct chr_snap_each *x)
{
	chr_tab_free(&x->inst);
}

/* Walk the records whose headers lie in buf[at..n) (buf[0] being segment
 * offset base) up to x->ts; a record may go on to buf[room) (room >= n),
 * but a DEFINE, whose names are read, must lie in buf[..n) whole: the walk
 * stops before one that does not. *next is left at the record after the
 * last one walked. Returns 1 when a record after x->ts (or a bad one) ends
 * the walk, 0 at the end of the buffer, -1 when out of memory. */
static int each_walk(struct chr_snap_each *x, const unsigned char *buf, size_t at, size_t n,
		     uint64_t room, uint64_t base, size_t frame, uint64_t *next)
{
	int rc = 0;

	while (at + CHR_HDR_SIZE <= n) {
		const struct chr_rec *r = (const void *)(buf + at);
		struct chr_snap_inst *in;
		int fresh;

		if (r->len < CHR_HDR_SIZE || r->len > room - at || r->ts > x->ts) {
			rc = 1;
			break;
		}
		if (r->type == CHR_DEFINE && r->len > n - at)
			break;	/* read again from it */
		at += chr_rec_span(r->len);
		if (r->venue == 0 && r->market == 0)
			continue;	/* no instrument's */
		if (!(in = chr_tab_get(&x->inst, r->venue, r->market, &fresh))) {
			rc = -1;
			break;
		}
		if (fresh) {
			in->venue_id = r->venue;
			in->market = r->market;
			in->want = x->want == NULL;
		}
		in->seen = 1;
		if (r->type == CHR_DEFINE && r->len >= CHR_HDR_SIZE + sizeof(struct chr_define) &&
		    chr_define_names(chr_rec_payload(r), in->venue, in->symbol) == NULL && x->want &&
		    (in->want = x->want(x->ctx, r->venue, r->market, in->venue, in->symbol)) < 0) {
			rc = -1;
			break;
		}
		if (r->flags & CHR_F_REPEAT)
			continue;	/* a repeat says nothing of where its instrument is */
		if (r->type == CHR_BOOK_SNAPSHOT && in->state != 2) {
			in->l_found = 1;
			in->l_off = base + (uint64_t)((const unsigned char *)r - buf);
			in->l_frame = frame;
		}
		in->state = (r->flags & CHR_F_LAST) || r->type == CHR_DEFINE ? 1 : 2;
	}
	*next = base + at;
	return rc;
}

/* walk_fn of chr_snap_each_seg */
static int each_step(void *ctx, const unsigned char *buf, size_t n, uint64_t room, uint64_t base,
		     uint64_t *next)
{
	return each_walk(ctx, buf, 0, n, room, base, 0, next);
}

/* A compressed segment: its frames from the first, decompressed and walked
 * up to x->ts (instruments' snapshots are not in its seek table). Returns
 * as plain_walk. */
static int each_zsq(struct chr_snap_each *x, const char *path, struct chr_err *e)
{
	const struct chr_zsq_frame *f;
	unsigned char *buf = NULL;
	struct chr_zsq *z;
	size_t n, cap = 0;
	uint64_t next;
	int rc = 0, k = 0;

	if (!(z = chr_zsq_open(path, e->msg, sizeof e->msg, &e->status)))
		return -1;
	f = chr_zsq_frames(z, &n);
	if (chr_zsq_seg(z)->count == 0 || chr_zsq_seg(z)->ts_min > x->ts)
		n = 0;
	else
		rc = 1;
	for (size_t i = 0; i < n && f[i].first_ts <= x->ts && k == 0; i++) {
		if (f[i].usize > cap) {
			free(buf);
			cap = f[i].usize;
			if (!(buf = malloc(cap))) {
				rc = chr_err_set(e, CHR_EX_SYS, "out of memory");
				break;
			}
		}
		if (chr_zsq_read(z, i, buf, e->msg, sizeof e->msg, &e->status) < 0) {
			rc = -1;
			break;
		}
		k = each_walk(x, buf, f[i].uoff ? 0 : sizeof(struct chr_seg), f[i].usize,
			      f[i].usize, f[i].uoff, i, &next);
		if (k < 0) {
			rc = chr_err_set(e, CHR_EX_SYS, "out of memory");
			break;
		}
	}
	free(buf);
	chr_zsq_close(z);
	return rc;
}

long chr_snap_each_seg(struct chr_snap_each *x, const char *path, const char *shown, size_t seg,
		       struct chr_err *e)
{
	int fd = -1, k;
	long pending = 0;

	if (!chr_s3_is_url(path) && (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return chr_err_sys(e, "cannot open '%s'", shown);
	k = fd < 0 || chr_zsq_is_zstd(fd) ? each_zsq(x, path, e)
					   : plain_walk(fd, shown, x->ts, 0, each_step, x, e);
	if (fd >= 0)
		close(fd);
	if (k < 0)
		return -1;
	for (size_t i = 0; i < x->inst.n; i++) {
		struct chr_snap_inst *in = x->inst.v[i];

		if (in->want == 1 && in->done == 0) {
			if (in->l_found) {
				in->done = 1;
				in->seg = seg;
				in->off = in->l_off;
				in->frame = in->l_frame;
			} else if (!in->seen && k == 1) {
				in->done = -1;	/* it started after this segment */
			} else {
				pending++;
			}
		}
		in->seen = in->l_found = in->state = 0;
	}
	return pending;
}
