/* queue_write.c - the queue's single writer: open with crash recovery,
 * the append path (reserve, commit, roll), DEFINE repeats at the head of
 * each segment, flush. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "err.h"
#include "path.h"
#include "queue_int.h"
#include "tm.h"

/* ---- the writer ---- */

static int all_zero(const unsigned char *p, size_t n)
{
	const uint64_t *q = (const uint64_t *)(const void *)p;

	for (size_t i = 0; i < n / 8; i++)
		if (q[i])
			return 0;
	return 1;
}

/* A committed record as the recovery accepts it at pos, expecting seq:
 * the frame (length, version, CRC, seq), not the payload's layout, which
 * readers report. */
static int frame_ok(const unsigned char *base, uint64_t size, uint64_t pos, uint64_t seq)
{
	const struct chr_rec *r = (const struct chr_rec *)(base + pos);
	uint32_t len = r->len;

	return len >= CHR_HDR_SIZE && len <= CHR_REC_MAX && pos + chr_rec_span(len) <= size &&
	       r->version == CHR_VERSION && r->crc == chr_rec_crc(r) && r->seq == seq;
}

static void idx_add(struct chr_queue_writer *w, const struct chr_rec *r)
{
	uint64_t k = w->count / w->stride;
	struct chr_queue_idx_entry *e = &w->idx->e[k];

	e->seq = r->seq;
	e->offset = w->pos;
	e->ts = r->ts;
	e->ts_before = w->count ? w->ts_max : INT64_MIN;
	__atomic_store_n(&w->idx->count, k + 1, __ATOMIC_RELEASE);
}

/* Count r, committed at w->pos, into the segment: its sparse index, time
 * range and record count. On the append path: inline. */
static inline void tally(struct chr_queue_writer *w, const struct chr_rec *r)
{
	if ((w->count & (w->stride - 1)) == 0)	/* a power of two */
		idx_add(w, r);
	if (r->ts < w->ts_min)
		w->ts_min = r->ts;
	if (r->ts > w->ts_max)
		w->ts_max = r->ts;
	w->count++;
}

/* ---- DEFINE repeats ---- */

/* A DEFINE record as the writer keeps it, for the head of each segment. */
#define DEF_LEN (CHR_HDR_SIZE + sizeof(struct chr_define))
#define DEF_SPAN ((DEF_LEN + CHR_ALIGN - 1) & ~(size_t)(CHR_ALIGN - 1))

struct chr_queue_def {
	_Alignas(8) unsigned char rec[DEF_SPAN];
	int rep;		/* in the current segment already */
};

/* Remember the DEFINE r (replacing the one of its instrument); rep: it is
 * in the current segment. A DEFINE of another length is not kept. Out of
 * memory, it is not kept either: repeats are a help for readers that start
 * mid-queue, never needed for correctness of the log. */
static void def_note(struct chr_queue_writer *w, const struct chr_rec *r, int rep)
{
	struct chr_queue_def *d = NULL;

	if (r->len != DEF_LEN)
		return;
	for (size_t i = 0; i < w->ndefs; i++) {
		const struct chr_rec *o = (const struct chr_rec *)(const void *)w->defs[i].rec;

		if (o->venue == r->venue && o->market == r->market) {
			d = &w->defs[i];
			break;
		}
	}
	if (!d) {
		if (w->ndefs == w->defs_cap) {
			size_t cap = w->defs_cap ? 2 * w->defs_cap : 16;
			struct chr_queue_def *v = realloc(w->defs, cap * sizeof *v);

			if (!v)
				return;
			w->defs = v;
			w->defs_cap = cap;
		}
		d = &w->defs[w->ndefs++];
	}
	memcpy(d->rec, r, chr_rec_span(r->len));
	d->rep = rep;
}

const struct chr_rec *chr_queue_define_of(const struct chr_queue_writer *w, uint16_t venue,
					  uint32_t market)
{
	for (size_t i = 0; i < w->ndefs; i++) {
		const struct chr_rec *o = (const struct chr_rec *)(const void *)w->defs[i].rec;

		if (o->venue == venue && o->market == market)
			return o;
	}
	return NULL;
}

/* Note the DEFINEs of the segment at base, records up to end (cur: it is
 * the current segment). Returns 1 when it holds a record that is not a
 * repeat. */
static int def_scan(struct chr_queue_writer *w, const unsigned char *base, uint64_t end, int cur)
{
	int other = 0;

	for (uint64_t pos = CHR_HDR_SIZE; pos + CHR_HDR_SIZE <= end;) {
		const struct chr_rec *r = (const struct chr_rec *)(const void *)(base + pos);

		if (r->len < CHR_HDR_SIZE || r->len > CHR_REC_MAX || pos + chr_rec_span(r->len) > end)
			break;
		if (r->type == CHR_DEFINE)
			def_note(w, r, cur);
		if (!(r->flags & CHR_F_REPEAT))
			other = 1;
		pos += chr_rec_span(r->len);
	}
	return other;
}

static inline void commit(struct chr_queue_writer *w, struct chr_rec *rec);

/* Copy the DEFINEs the current segment lacks to its head, flagged REPEAT,
 * with the original src_seq and ts no earlier than the records before.
 * They take at most half the segment, and leave room for need bytes. */
static void def_repeat(struct chr_queue_writer *w, int64_t ts, size_t need)
{
	for (size_t i = 0; i < w->ndefs; i++) {
		struct chr_queue_def *d = &w->defs[i];
		const struct chr_rec *o = (const struct chr_rec *)(const void *)d->rec;
		struct chr_rec *r = (struct chr_rec *)(w->base + w->pos);

		if (d->rep)
			continue;
		if (w->pos + DEF_SPAN > w->size / 2 || w->pos + DEF_SPAN + need > w->size)
			break;
		memcpy((char *)r + 4, (const char *)o + 4, o->len - 4);
		r->flags |= CHR_F_REPEAT;
		if (r->ts < ts)
			r->ts = ts;
		w->res = r;
		w->res_len = o->len;
		commit(w, r);
		d->rep = 1;
	}
}

/* At open: learn the DEFINEs of the previous segment and of the current
 * one, and when the current one holds nothing but repeats yet (a roll cut
 * short), complete them. */
static void def_load(struct chr_queue_writer *w)
{
	unsigned char *map;
	uint64_t size;
	int64_t ts = w->count ? w->ts_max : INT64_MIN;

	if (w->id > 0 && chr_q_seg_map(w->dirfd, w->id - 1, 0, &map, &size, NULL) == 0) {
		const struct chr_seg *h = (const struct chr_seg *)(const void *)map;

		if (!chr_q_seg_bad(map, w->id - 1)) {
			/* a sealed header's end is trusted only within the file */
			def_scan(w, map, (h->flags & CHR_SEG_SEALED) && h->end < size ? h->end : size,
				 0);
			if ((h->flags & CHR_SEG_SEALED) && h->count && h->ts_max > ts)
				ts = h->ts_max;
		}
		munmap(map, size);
	}
	if (!def_scan(w, w->base, w->pos, 1))
		def_repeat(w, ts, 0);
}

/* Scan the current segment from its header: keep the good records, zero
 * everything after the last one (its commit word first), rebuild the
 * index, and set pos, seq, count and ts_min/ts_max. */
static void recover(struct chr_queue_writer *w)
{
	const struct chr_seg *h = (const struct chr_seg *)w->base;
	uint64_t pos = CHR_HDR_SIZE, seq = h->base_seq;

	w->count = 0;
	w->ts_min = INT64_MAX;
	w->ts_max = INT64_MIN;
	w->idx->count = 0;
	w->idx->stride = w->stride;
	while (pos + CHR_HDR_SIZE <= w->size) {
		struct chr_rec *r = (struct chr_rec *)(w->base + pos);
		uint32_t len = r->len;

		/* what was committed stays: the frame (length, version, CRC,
		 * seq), not the payload's layout, which readers report */
		if (!frame_ok(w->base, w->size, pos, seq))
			break;
		w->pos = pos;
		tally(w, r);
		pos += chr_rec_span(len);
		seq++;
	}
	if (pos + CHR_HDR_SIZE <= w->size)
		__atomic_store_n(&((struct chr_rec *)(w->base + pos))->len, 0, __ATOMIC_RELEASE);
	for (uint64_t off = pos; off < w->size; off += CHR_ALIGN)
		if (!all_zero(w->base + off, CHR_ALIGN))
			memset(w->base + off, 0, CHR_ALIGN);
	memset(&w->idx->e[w->idx->count], 0,
	       w->idx_size - sizeof *w->idx - w->idx->count * sizeof w->idx->e[0]);
	w->pos = pos;
	w->seq = seq;
}

/* Segment id, before the current one, is not sealed (its SEALED bit lost):
 * seal it again when its records are whole and reach the next segment's
 * base_seq exactly, with nothing after them; else refuse, naming it.
 * Returns 0, or -1 with w->e (CHR_EX_DATA, or CHR_EX_SYS). */
static int reseal(struct chr_queue_writer *w, uint64_t id)
{
	unsigned char *map;
	uint64_t size, pos = CHR_HDR_SIZE, seq, k = 0;
	int64_t lo = 0, hi = 0;
	struct chr_seg next, *h, tmp;
	char name[32], nname[32];
	const char *why = NULL;

	chr_q_seg_name(name, id);
	chr_q_seg_name(nname, id + 1);
	if (chr_q_seg_map(w->dirfd, id, 1, &map, &size, NULL) < 0)
		return chr_q_fail(&w->e, errno == EPROTO ? CHR_EX_DATA : CHR_EX_SYS, errno,
				  "%s/%s: %s", w->dir, name,
				  errno == EPROTO ? "not a segment" : strerror(errno));
	h = (struct chr_seg *)map;
	if (chr_q_seg_bad(map, id) || (h->flags & CHR_SEG_SEALED) ||
	    h->base_seq == CHR_QUEUE_NO_SEQ) {
		munmap(map, size);
		return 0;	/* changed since the caller looked */
	}
	for (seq = h->base_seq; pos + CHR_HDR_SIZE <= size && frame_ok(map, size, pos, seq); seq++, k++) {
		const struct chr_rec *r = (const struct chr_rec *)(map + pos);

		if (!k || r->ts < lo)
			lo = r->ts;
		if (!k || r->ts > hi)
			hi = r->ts;
		pos += chr_rec_span(r->len);
	}
	if (chr_q_seg_head(w->dirfd, id + 1, &next) < 0 || next.base_seq == CHR_QUEUE_NO_SEQ)
		why = "cannot be checked against the next segment";
	else if (pos + CHR_HDR_SIZE <= size && ((const struct chr_rec *)(map + pos))->len)
		why = "its records are damaged";
	else if (seq != next.base_seq)
		why = "its records do not reach the next segment's base_seq";
	if (why) {
		munmap(map, size);
		return chr_q_fail(&w->e, CHR_EX_DATA, EPROTO,
				  "%s/%s: not sealed, but %s follows it; %s", w->dir, name, nname,
				  why);
	}
	for (uint64_t off = pos; off < size; off += CHR_ALIGN)
		if (!all_zero(map + off, CHR_ALIGN))
			memset(map + off, 0, CHR_ALIGN);
	h->end = pos;
	h->count = k;
	h->ts_min = lo;
	h->ts_max = hi;
	tmp = *h;
	tmp.flags |= CHR_SEG_SEALED;
	h->crc = chr_seg_crc(&tmp);
	__atomic_store_n(&h->flags, tmp.flags, __ATOMIC_RELEASE);
	if (msync(map, size, MS_SYNC) < 0) {
		int e = errno;

		munmap(map, size);
		return chr_q_fail(&w->e, CHR_EX_SYS, e, "%s/%s: %s", w->dir, name, strerror(e));
	}
	munmap(map, size);
	return 0;
}

/* Map segment id read-write with its index (made anew when missing or
 * bad, or when its stride is not ours: the recovery rebuilds it). */
static int seg_open_rw(struct chr_queue_writer *w, uint64_t id, struct qseg *s)
{
	memset(s, 0, sizeof *s);
	if (chr_q_seg_map(w->dirfd, id, 1, &s->base, &s->size, &s->step) < 0)
		return -1;
	if (!(s->idx = chr_q_idx_map(w->dirfd, id, 1, &s->idx_size)) ||
	    s->idx_size < chr_q_idx_bytes(s->size, w->stride)) {
		if (s->idx)
			munmap(s->idx, s->idx_size);
		s->idx = NULL;
		if (chr_q_idx_create(w->dirfd, id, s->size, w->stride, s) < 0)
			goto fail;
	}
	return 0;
fail:
	{
		int e = errno;

		chr_q_unmap(s);
		errno = e;
	}
	return -1;
}

static void set_current(struct chr_queue_writer *w, struct qseg *s)
{
	w->base = s->base;
	w->size = s->size;
	w->step = s->step;
	w->idx = s->idx;
	w->idx_size = s->idx_size;
}

int chr_queue_writer_open(struct chr_queue_writer *w, const char *dir,
			  const struct chr_queue_opts *opts)
{
	struct chr_segdir_ent *ids = NULL;
	ssize_t n, a;
	struct chr_seg *h;
	const char *why;
	char name[32];
	struct qseg cur, spare = { 0 };
	uint64_t start;

	memset(w, 0, sizeof *w);
	w->dirfd = w->lockfd = -1;
	if (snprintf(w->dir, sizeof w->dir, "%s", dir) >= (int)sizeof w->dir)
		return chr_q_fail(&w->e, CHR_EX_SYS, ENAMETOOLONG, "%s: name too long",
				  dir);
	w->seg_size = opts ? opts->seg_size : 0;
	w->stride = opts && opts->idx_stride ? opts->idx_stride : CHR_QUEUE_IDX_STRIDE;
	if (w->seg_size && (w->seg_size < 4096 || w->seg_size % 4096 ||
			    w->seg_size > ((uint64_t)1 << 40)))
		return chr_q_fail(&w->e, CHR_EX_USAGE, EINVAL,
				  "%s: segment size %" PRIu64 " is not a multiple of 4096 of at least 4096",
				  dir, w->seg_size);
	if (w->stride & (w->stride - 1) || (opts && (opts->roll_ns < 0 ||
	    (opts->sync == CHR_SYNC_EVERY && !opts->sync_ms))))
		return chr_q_fail(&w->e, CHR_EX_USAGE, EINVAL, "%s: bad queue options",
				  dir);
	if (opts && (opts->flags & CHR_QUEUE_CREATE) && chr_mkdirs(dir) < 0)
		return chr_q_fail(&w->e, CHR_EX_SYS, errno, "%s: cannot create: %s",
				  dir, strerror(errno));
	if ((w->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		goto sys;
	if ((w->lockfd = openat(w->dirfd, "lock", O_RDWR | O_CREAT | O_CLOEXEC, 0666)) < 0)
		goto sys;
	if (flock(w->lockfd, LOCK_EX | LOCK_NB) < 0) {
		if (errno == EWOULDBLOCK) {
			struct chr_queue_ctl *c = chr_q_ctl_map(w->dirfd, 0);

			if (c) {
				chr_q_fail(&w->e, CHR_EX_SYS, EBUSY,
					   "%s: queue is locked by another writer (pid %" PRIu64 ")",
					   dir, c->writer_pid);
				munmap(c, CTL_SIZE);
			} else {
				chr_q_fail(&w->e, CHR_EX_SYS, EBUSY,
					   "%s: queue is locked by another writer", dir);
			}
			goto out;
		}
		goto sys;
	}
	if (!(w->ctl = chr_q_ctl_map(w->dirfd, 1))) {
		chr_q_fail(&w->e, CHR_EX_SYS, errno, "%s/control: %s", dir,
			   strerror(errno));
		goto out;
	}
	w->ctl->writer_pid = (uint64_t)getpid();
	w->ctl->writer_start = chr_proc_start(getpid(), &start) == 0 ? start : 0;
	if ((n = chr_q_list(w->dirfd, w->dir, 1, &ids)) < 0)
		goto sys;
	if (n == 0) {
		if (!w->seg_size)
			w->seg_size = CHR_QUEUE_SEG_DEFAULT;
		if (chr_q_seg_create(w->dirfd, dir, w->seg_size, w->stride, 0, 0, NULL, &cur,
				     &w->e) < 0)
			goto out;
		set_current(w, &cur);
		w->pos = CHR_HDR_SIZE;
		w->ts_min = INT64_MAX;
		w->ts_max = INT64_MIN;
		goto started;
	}
	/* The current segment is the last one with a base_seq; pre-created
	 * spares after it have none. */
	for (a = n - 1; a >= 0; a--) {
		struct chr_seg sh;

		if (chr_q_seg_head(w->dirfd, ids[a].id, &sh) == 0 && sh.base_seq != CHR_QUEUE_NO_SEQ)
			break;
	}
	if (a < 0) {
		chr_q_seg_name(name, ids[n - 1].id);
		chr_q_fail(&w->e, CHR_EX_DATA, EPROTO, "%s/%s: no segment has a valid header",
			   dir, name);
		goto out;
	}
	w->id = ids[a].id;
	if (seg_open_rw(w, w->id, &cur) < 0)
		goto sys_seg;
	set_current(w, &cur);
	if ((why = chr_q_seg_bad(w->base, w->id)))
		goto data;
	h = (struct chr_seg *)w->base;
	/* Killed in a roll after giving the next segment its base_seq but before
	 * sealing this one's predecessor: undo, the predecessor is current. */
	if (a > 0 && ids[a - 1].id == w->id - 1 && !(h->flags & CHR_SEG_SEALED) &&
	    w->size >= 2 * CHR_HDR_SIZE && ((struct chr_rec *)(w->base + CHR_HDR_SIZE))->len == 0) {
		struct qseg prev;

		if (seg_open_rw(w, w->id - 1, &prev) < 0) {
			w->id--;
			goto sys_seg;
		}
		if (!chr_q_seg_bad(prev.base, w->id - 1) &&
		    !(((struct chr_seg *)prev.base)->flags & CHR_SEG_SEALED)) {
			h->base_seq = CHR_QUEUE_NO_SEQ;
			spare = cur;
			cur = prev;
			set_current(w, &cur);
			w->id--;
			h = (struct chr_seg *)w->base;
		} else {
			chr_q_unmap(&prev);
		}
	}
	/* Every segment before the current one is sealed (a lost SEALED bit
	 * is restored when the records prove it) */
	for (ssize_t i = 0; i < a; i++) {
		struct chr_seg sh;

		if (ids[i].id < w->id && chr_q_seg_head(w->dirfd, ids[i].id, &sh) == 0 &&
		    !(sh.flags & CHR_SEG_SEALED) && reseal(w, ids[i].id) < 0)
			goto out;
	}
	if (!spare.base && a + 1 < n && ids[a + 1].id == w->id + 1 &&
	    (seg_open_rw(w, w->id + 1, &spare) < 0 ||
	     ((struct chr_seg *)spare.base)->base_seq != CHR_QUEUE_NO_SEQ))
		chr_q_unmap(&spare);	/* a bad spare: created again */
	if (!w->seg_size)
		w->seg_size = w->size;
	if (h->flags & CHR_SEG_SEALED) {
		/* Killed after sealing, before the first record of the next. */
		uint64_t seq = h->base_seq + h->count;

		if (!spare.base && chr_q_seg_create(w->dirfd, dir, w->seg_size, w->stride, w->id + 1,
						    seq, NULL, &spare, &w->e) < 0)
			goto out;
		((struct chr_seg *)spare.base)->base_seq = seq;
		chr_q_unmap(&cur);
		cur = spare;
		memset(&spare, 0, sizeof spare);
		set_current(w, &cur);
		w->id++;
	}
	recover(w);
started:
	free(ids);
	ids = NULL;
	/* The first roll finds its segment made, as every later one should:
	 * a new queue, or one whose spare is missing, gets it now. */
	if (!spare.base && chr_q_seg_create(w->dirfd, dir, w->seg_size, w->stride, w->id + 1,
					    CHR_QUEUE_NO_SEQ, NULL, &spare, &w->e) < 0)
		goto out;
	if (chr_q_bg_start(w, opts, &spare) < 0) {
		chr_q_unmap(&spare);
		goto sys;
	}
	if (opts && (opts->flags & CHR_QUEUE_RETAIN))
		chr_queue_retain(dir, opts->retain_ns, opts->grace_ns, NULL);	/* then every second */
	def_load(w);
	return 0;
data:
	chr_q_seg_name(name, w->id);
	chr_q_fail(&w->e, CHR_EX_DATA, EPROTO, "%s/%s: %s", dir, name, why);
	goto out;
sys_seg:
	chr_q_seg_name(name, w->id);
	chr_q_fail(&w->e, errno == EPROTO ? CHR_EX_DATA : CHR_EX_SYS, errno,
		   "%s/%s: %s", dir, name, errno == EPROTO ? "not a segment" : strerror(errno));
	goto out;
sys:
	chr_q_fail(&w->e, CHR_EX_SYS, errno, "%s: %s", dir, strerror(errno));
out:
	free(ids);
	chr_q_unmap(&spare);
	{
		int e = errno;

		chr_queue_writer_close(w);
		errno = e;
	}
	return -1;
}

int chr_queue_writer_close(struct chr_queue_writer *w)
{
	chr_q_bg_stop(w);
	if (w->base)
		munmap(w->base, w->size);
	if (w->idx)
		munmap(w->idx, w->idx_size);
	if (w->ctl)
		munmap(w->ctl, CTL_SIZE);
	w->base = NULL;
	w->idx = NULL;
	w->ctl = NULL;
	w->res = NULL;
	free(w->defs);
	w->defs = NULL;
	w->ndefs = w->defs_cap = 0;
	if (w->lockfd >= 0)
		close(w->lockfd);
	if (w->dirfd >= 0)
		close(w->dirfd);
	w->lockfd = w->dirfd = -1;
	return 0;
}

static void wake_check(struct chr_queue_writer *w)
{
	if (__atomic_load_n(&w->ctl->sleep_mask, __ATOMIC_SEQ_CST))
		chr_q_wake(w->ctl);
}

/* Seal the current segment and make the pre-created one current, with
 * the DEFINE repeats at its head, leaving need bytes for the record being
 * reserved. The old
 * mapping goes to the thread to unmap (munmap of a populated segment takes
 * longer than a roll may). */
static int roll(struct chr_queue_writer *w, size_t need)
{
	struct chr_seg *h = (struct chr_seg *)w->base, tmp;
	struct chr_queue_bg *b = w->bg;
	struct qseg next, old = { .base = w->base, .size = w->size, .step = w->step,
				  .idx = w->idx, .idx_size = w->idx_size };
	uint16_t flags;
	int64_t ts;

	if (chr_q_take_next(w, &next) < 0)
		return -1;
	/* The next segment's base_seq is final before SEALED is visible. */
	next.idx->stride = w->stride;
	((struct chr_seg *)next.base)->base_seq = w->seq;
	h->end = w->pos;
	h->count = w->count;
	h->ts_min = w->count ? w->ts_min : 0;
	h->ts_max = w->count ? w->ts_max : 0;
	ts = w->ts_max;
	tmp = *h;
	tmp.flags |= CHR_SEG_SEALED;
	h->crc = chr_seg_crc(&tmp);
	flags = tmp.flags;
	__atomic_exchange_n(&h->flags, flags, __ATOMIC_SEQ_CST);
	wake_check(w);
	set_current(w, &next);
	w->id++;
	w->pos = CHR_HDR_SIZE;
	w->count = 0;
	w->ts_min = INT64_MAX;
	w->ts_max = INT64_MIN;
	for (size_t i = 0; i < w->ndefs; i++)
		w->defs[i].rep = 0;
	def_repeat(w, ts, need);
	pthread_mutex_lock(&b->mu);
	for (int i = 0; i < 4; i++)
		if (!b->old[i].base) {
			b->old[i] = old;
			old.base = NULL;
			break;
		}
	/* the thread makes the next spare at once: in paced steps while one
	 * is ready, without pauses when none is */
	b->hurried = b->nready == 0;
	b->half = 0;
	w->mark = 0;		/* commit_mark: the next marks */
	__atomic_store_n(&b->pace.hurry, b->hurried, __ATOMIC_RELAXED);
	b->sealed = w->id;
	b->cur = w->id;
	b->seg_start = now_ns(CLOCK_REALTIME);
	b->retain_due = 1;
	__atomic_store_n(&b->roll_due, 0, __ATOMIC_RELAXED);
	pthread_cond_signal(&b->cv);
	pthread_mutex_unlock(&b->mu);
	if (old.base)
		chr_q_unmap(&old);
	return 0;
}

int chr_queue_seal(struct chr_queue_writer *w)
{
	const unsigned char *at;

	if (w->res) {
		memset(w->res, 0, chr_rec_span(w->res_len));
		w->res = NULL;
	}
	/* a segment of nothing but the repeats that a roll wrote at its head
	 * holds nothing to seal (a second seal, a run that appended nothing) */
	for (at = w->base + CHR_HDR_SIZE; at < w->base + w->pos;
	     at += chr_rec_span(((const struct chr_rec *)(const void *)at)->len))
		if (!(((const struct chr_rec *)(const void *)at)->flags & CHR_F_REPEAT))
			return roll(w, 0);
	return 0;
}

struct chr_rec *chr_queue_reserve(struct chr_queue_writer *w, uint32_t len)
{
	size_t span;

	if (len < CHR_HDR_SIZE || len > CHR_REC_MAX) {
		errno = EINVAL;
		return NULL;
	}
	span = chr_rec_span(len);
	if (span > w->seg_size - CHR_HDR_SIZE) {
		errno = EINVAL;
		return NULL;
	}
	if (w->res) {
		memset(w->res, 0, chr_rec_span(w->res_len));
		w->res = NULL;
	}
	if (__atomic_load_n(&w->bg->roll_due, __ATOMIC_RELAXED)) {
		if (w->count) {
			if (roll(w, span) < 0)
				return NULL;
		} else {
			/* due while empty: this segment starts the new period */
			pthread_mutex_lock(&w->bg->mu);
			w->bg->seg_start = now_ns(CLOCK_REALTIME);
			__atomic_store_n(&w->bg->roll_due, 0, __ATOMIC_RELAXED);
			pthread_mutex_unlock(&w->bg->mu);
		}
	}
	/* twice at most: a spare left by a run with smaller segments */
	while (w->pos + span > w->size)
		if (roll(w, span) < 0)
			return NULL;
	w->res = (struct chr_rec *)(w->base + w->pos);
	w->res_len = len;
	return w->res;
}

/* The once-a-segment steps of commit, when pos passes w->mark: half
 * through the segment the thread is told (retention may reuse the segment
 * sealed at the last roll); half and three quarters through, with no spare
 * made yet, it is hurried; then the next mark. */
static void __attribute__((noinline)) commit_mark(struct chr_queue_writer *w)
{
	struct chr_queue_bg *b = w->bg;

	if (w->pos > w->size / 2 && !b->half)
		chr_q_half(w);
	if (w->pos > w->size / 2 && !b->hurried && !__atomic_load_n(&b->nready, __ATOMIC_RELAXED))
		chr_q_hurry(w);
	w->mark = b->hurried && b->half ? UINT64_MAX : w->pos <= w->size / 2 ? w->size / 2 :
		  w->pos <= w->size / 4 * 3 ? w->size / 4 * 3 : UINT64_MAX;
}

/* Per record: the header's fields, the padding, the CRC (inline), the
 * commit word, the tallies; nothing else unless pos passes w->mark. */
static inline void commit(struct chr_queue_writer *w, struct chr_rec *rec)
{
	uint32_t len = w->res_len;
	size_t span = chr_rec_span(len);

	rec->seq = w->seq;
	if (rec->src_seq == 0 && !(rec->flags & CHR_F_REPEAT))
		rec->src_seq = w->seq;
	rec->version = CHR_VERSION;
	memset(rec->reserved, 0, sizeof rec->reserved);
	memset((char *)rec + len, 0, span - len);
	rec->crc = chr_q_crc(rec, len);
	/* The commit. A full barrier: a reader that announced its sleep
	 * before this sees the record, or we see its announcement. */
	__atomic_exchange_n(&rec->len, len, __ATOMIC_SEQ_CST);
	wake_check(w);
	tally(w, rec);
	w->seq++;
	w->pos += span;
	w->res = NULL;
	if (__builtin_expect(w->pos > w->mark, 0))
		commit_mark(w);
}

void chr_queue_commit(struct chr_queue_writer *w, struct chr_rec *rec)
{
	rec->flags &= ~CHR_F_REPEAT;	/* only the writer makes repeats */
	commit(w, rec);
	if (rec->type == CHR_DEFINE)
		def_note(w, rec, 1);
}

/* Runs in the writer's thread, so the current segment (w->base, w->pos)
 * cannot roll under it; the sealed ones are the thread's to sync, and the
 * range taken under b->mu is synced here too: syncing a file twice at once
 * is harmless (fdatasync waits for the writeback in flight), and b->synced
 * only moves up. */
int chr_queue_flush(struct chr_queue_writer *w)
{
	struct chr_queue_bg *b = w->bg;
	uint64_t from, to, id;
	enum chr_queue_sync sync;

	pthread_mutex_lock(&b->mu);
	sync = b->sync;
	from = b->synced;
	to = b->sealed;
	pthread_mutex_unlock(&b->mu);
	if (sync == CHR_SYNC_NEVER)
		return 0;
	for (id = from; id < to; id++)
		if (chr_q_sync_seg(w->dirfd, id) < 0)
			goto fail;
	id = w->id;
	pthread_mutex_lock(&b->mu);
	if (b->synced < to)
		b->synced = to;
	pthread_mutex_unlock(&b->mu);
	if (msync(w->base, w->pos, MS_SYNC) < 0 ||
	    (w->idx && msync(w->idx, w->idx_size, MS_SYNC) < 0))
		goto fail;
	return 0;
fail:
	{
		int e = errno;
		char name[32];

		chr_q_seg_name(name, id);
		return chr_q_fail(&w->e, CHR_EX_SYS, e, "%s/%s: cannot sync: %s", w->dir,
				  name, strerror(e));
	}
}

int chr_queue_append(struct chr_queue_writer *w, const struct chr_rec *rec)
{
	struct chr_rec *r = chr_queue_reserve(w, rec->len);

	if (!r)
		return -1;
	memcpy((char *)r + 4, (const char *)rec + 4, rec->len - 4);
	chr_queue_commit(w, r);
	return 0;
}

int chr_queue_sync_parse(const char *s, enum chr_queue_sync *sync, uint32_t *ms)
{
	int64_t ns;

	*ms = 0;
	if (strcmp(s, "never") == 0) {
		*sync = CHR_SYNC_NEVER;
		return 0;
	}
	if (strcmp(s, "seal") == 0) {
		*sync = CHR_SYNC_SEAL;
		return 0;
	}
	if (chr_duration_parse(s, &ns) < 0 || ns < 1000000 || ns > 3600 * (int64_t)1000000000)
		return -1;
	*sync = CHR_SYNC_EVERY;
	*ms = (uint32_t)(ns / 1000000);
	return 0;
}
