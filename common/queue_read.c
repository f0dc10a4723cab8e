/* queue_read.c - the queue's lock-free readers: following the writer across
 * rolls, checking every record, seeks by seq, time and end through the
 * indexes, and waiting on the control file's futex. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "err.h"
#include "queue_int.h"

/* ---- readers ---- */

static int rsys(struct chr_queue_reader *r, uint64_t id, const char *what)
{
	char name[32];

	chr_q_seg_name(name, id);
	return chr_q_fail(&r->e, errno == EPROTO ? CHR_EX_DATA : CHR_EX_SYS, errno,
			  "%s/%s: %s", r->dir, name, errno == EPROTO ? "not a segment" : what);
}

static int rdata(struct chr_queue_reader *r, uint64_t off, const char *what)
{
	char name[32];

	/* retention gave the file we map to a later segment */
	if (((const struct chr_seg *)r->base)->id != r->id)
		what = "removed (retention) while it was read";
	chr_q_seg_name(name, r->id);
	return chr_q_fail(&r->e, CHR_EX_DATA, EPROTO, "%s/%s: byte %" PRIu64 ": %s",
			  r->dir, name, off, what);
}

static void unmap_old(struct chr_queue_reader *r)
{
	if (r->old)
		munmap((void *)r->old, r->old_size);
	r->old = NULL;
}

/* A piece of the old segment's mapping, from its end: a reader that
 * finds nothing new pays a few microseconds at a time (256 KiB of a
 * populated shared mapping of small pages take about 10 us here, 1 MiB
 * 25-70 us, the whole 64 MiB 2-5 ms: a record that comes meanwhile waits
 * that long; a 2 MiB huge page's mapping goes at once). */
static void unmap_step(struct chr_queue_reader *r)
{
	uint64_t step = r->old_step ? r->old_step : (uint64_t)256 << 10;

	if (r->old_size % step)	/* the odd tail first: the rest stays aligned */
		step = r->old_size % step;

	if (r->old_size <= step) {
		unmap_old(r);
		return;
	}
	r->old_size -= step;
	munmap((void *)(r->old + r->old_size), step);
}

/* The current segment's mapping to kept[0], the one there to kept[1]; one
 * kept longer goes to be unmapped. */
static void keep_current(struct chr_queue_reader *r)
{
	if (r->kept[0].base && r->kept[1].base) {
		unmap_old(r);
		r->old = r->kept[1].base;
		r->old_size = r->kept[1].size;
		r->old_step = r->kept[1].step;
		r->kept[1] = (struct chr_queue_map){ 0 };
	}
	if (r->kept[0].base)
		r->kept[1] = r->kept[0];
	r->kept[0] = (struct chr_queue_map){ r->base, r->size, r->step, r->dev, r->ino };
}

/* Make segment id current, at its first record. Its file may be one the
 * reader has mapped already, kept or current: retention's pool gave it
 * to this segment, and its mapping (pages faulted in, page tables made)
 * serves again. The segment left is kept mapped whole; the one kept
 * longest waits to be unmapped until the reader is idle (or the next
 * move). Returns 0, or -1 with errno (ENOENT: it is gone) and r->e. */
static int reader_goto(struct chr_queue_reader *r, uint64_t id)
{
	struct chr_queue_map m = { 0 }, *k = NULL;
	struct stat st;
	const char *why;
	char name[32];
	int fd = chr_q_seg_open(r->dirfd, id, 0, &st);

	if (fd < 0)
		return rsys(r, id, strerror(errno));
	m.size = (uint64_t)st.st_size;
	m.dev = (uint64_t)st.st_dev;
	m.ino = (uint64_t)st.st_ino;
	for (int i = 0; i < 2; i++)
		if (r->kept[i].base && r->kept[i].dev == m.dev && r->kept[i].ino == m.ino &&
		    r->kept[i].size == m.size)
			k = &r->kept[i];
	if (r->base && r->dev == m.dev && r->ino == m.ino && r->size == m.size) {
		m.base = r->base;	/* this very file, recycled under us */
		m.step = r->step;
	} else if (k) {
		m = *k;
	} else {
		void *p = mmap(NULL, m.size, PROT_READ, MAP_SHARED, fd, 0);

		if (p == MAP_FAILED) {
			close(fd);
			return rsys(r, id, strerror(errno));
		}
		m.base = p;
		m.step = chr_q_step(fd);
	}
	close(fd);
	if ((why = chr_q_seg_bad(m.base, id))) {
		if (m.base != r->base && !k)
			munmap((void *)m.base, m.size);
		chr_q_seg_name(name, id);
		return chr_q_fail(&r->e, CHR_EX_DATA, EPROTO, "%s/%s: %s", r->dir,
				  name, why);
	}
	if (k)
		*k = (struct chr_queue_map){ 0 };
	if (r->base && m.base != r->base)
		keep_current(r);
	r->base = m.base;
	r->size = m.size;
	r->step = m.step;
	r->dev = m.dev;
	r->ino = m.ino;
	r->id = id;
	r->pos = CHR_HDR_SIZE;
	return 0;
}


/* How to choose the segment to start in. */
enum pick { PICK_SEQ, PICK_TS, PICK_END };

/* Map the segment where a seek starts: the last one starting at or before
 * seq; the first whose records reach ts; the last one. Sets first_seq.
 * Retries when retention removes the segment under it. Returns 0 or -1
 * (the reader is closed). */
static int reader_pick(struct chr_queue_reader *r, enum pick how, uint64_t seq, int64_t ts)
{
	r->pre = 0;
	r->defs = 0;
	for (int attempt = 0;; attempt++) {
		struct chr_segdir_ent *ids = NULL;
		ssize_t n = chr_q_list(r->dirfd, r->dir, 0, &ids), i, pick = -1, first = -1, last = -1;
		struct chr_seg h;

		if (n < 0) {
			chr_q_fail(&r->e, CHR_EX_SYS, errno, "%s: %s", r->dir,
				   strerror(errno));
			break;
		}
		for (i = 0; i < n; i++) {
			if (chr_q_seg_head(r->dirfd, ids[i].id, &h) < 0) {
				char name[32];

				if (errno == ENOENT)
					continue;	/* retention, just now */
				chr_q_seg_name(name, ids[i].id);
				chr_q_fail(&r->e, CHR_EX_DATA, EPROTO, "%s/%s: %s", r->dir,
					   name, errno == EPROTO ? "not a segment (bad header)" :
					   strerror(errno));
				free(ids);
				goto fail;
			}
			if (h.base_seq == CHR_QUEUE_NO_SEQ)
				continue;
			if (first < 0) {
				first = i;
				r->first_seq = h.base_seq;
			}
			last = i;
			if (how == PICK_SEQ && h.base_seq <= seq)
				pick = i;
			if (how == PICK_TS && pick < 0 &&
			    !((h.flags & CHR_SEG_SEALED) && (!h.count || h.ts_max < ts)))
				pick = i;
		}
		if (pick < 0)
			pick = how == PICK_SEQ ? first : last;
		if (pick < 0) {
			free(ids);
			chr_q_fail(&r->e, CHR_EX_SYS, ENOENT, "%s: no queue segment",
				   r->dir);
			break;
		}
		i = reader_goto(r, ids[pick].id);
		free(ids);
		if (i == 0)
			return 0;
		if (errno != ENOENT || attempt == 3)
			break;
	}
fail:
	{
		int e = errno;

		chr_queue_reader_close(r);
		errno = e;
	}
	return -1;
}

/* The index of the current segment, mapped, with its entry count; NULL
 * when it has none usable. */
static const struct chr_queue_idx *reader_idx(struct chr_queue_reader *r, uint64_t *size,
					      uint64_t *count)
{
	struct chr_queue_idx *x = chr_q_idx_map(r->dirfd, r->id, 0, size);

	if (x && !(*count = chr_q_idx_count(x, *size))) {
		munmap(x, *size);
		x = NULL;
	}
	return x;
}

/* Entry k of x, when it points at a record of the current segment. */
static int entry_ok(const struct chr_queue_reader *r, const struct chr_queue_idx_entry *e)
{
	return e->offset >= CHR_HDR_SIZE && e->offset % CHR_ALIGN == 0 &&
	       e->offset + CHR_HDR_SIZE <= r->size;
}

int chr_queue_seek_seq(struct chr_queue_reader *r, uint64_t seq)
{
	const struct chr_queue_idx *x;
	uint64_t xsize, cnt, base;

	if (reader_pick(r, PICK_SEQ, seq, 0) < 0)
		return -1;
	base = ((const struct chr_seg *)r->base)->base_seq;
	if (seq > base && (x = reader_idx(r, &xsize, &cnt))) {
		uint64_t k = (seq - base) / x->stride;

		if (k >= cnt)
			k = cnt - 1;
		if (x->e[k].seq == base + k * x->stride && entry_ok(r, &x->e[k]))
			r->pos = x->e[k].offset;
		munmap((void *)x, xsize);
	}
	r->want = seq;
	r->want_ts = INT64_MIN;
	r->started = 0;
	return 0;
}

int chr_queue_seek_ts(struct chr_queue_reader *r, int64_t ts)
{
	const struct chr_queue_idx *x;
	uint64_t xsize, cnt;

	if (reader_pick(r, PICK_TS, 0, ts) < 0)
		return -1;
	r->ts_seen = INT64_MIN;
	if ((x = reader_idx(r, &xsize, &cnt))) {
		/* the last entry with every ts before it below ts */
		uint64_t lo = 0, hi = cnt;

		while (lo < hi) {
			uint64_t mid = lo + (hi - lo) / 2;

			if (x->e[mid].ts_before < ts)
				lo = mid + 1;
			else
				hi = mid;
		}
		if (lo > 0 && entry_ok(r, &x->e[lo - 1])) {
			r->pos = x->e[lo - 1].offset;
			r->ts_seen = x->e[lo - 1].ts_before;
		}
		munmap((void *)x, xsize);
	}
	r->want = 0;
	r->want_ts = ts;
	r->started = 0;
	return 0;
}

uint64_t chr_queue_end_seq(const struct chr_queue_reader *r)
{
	return r->started ? r->want : ((const struct chr_seg *)r->base)->base_seq;
}

int chr_queue_seek_end(struct chr_queue_reader *r)
{
	const struct chr_queue_idx *x;
	uint64_t xsize, cnt;

	if (reader_pick(r, PICK_END, 0, 0) < 0)
		return -1;
	if ((x = reader_idx(r, &xsize, &cnt))) {
		if (entry_ok(r, &x->e[cnt - 1]))
			r->pos = x->e[cnt - 1].offset;
		munmap((void *)x, xsize);
	}
	r->want = 0;
	r->want_ts = INT64_MIN;
	r->started = 0;
	/* Step over what is committed, without checking it: the next call of
	 * chr_queue_next checks what follows. */
	while (r->pos + CHR_HDR_SIZE <= r->size) {
		const struct chr_rec *rec = (const struct chr_rec *)(r->base + r->pos);
		uint32_t len = __atomic_load_n(&rec->len, __ATOMIC_ACQUIRE);

		if (len < CHR_HDR_SIZE || len > CHR_REC_MAX ||
		    r->pos + chr_rec_span(len) > r->size)
			break;
		r->pos += chr_rec_span(len);
		r->want = rec->seq + 1;
		r->started = 1;
	}
	return 0;
}

void chr_queue_seek_defines(struct chr_queue_reader *r)
{
	r->pre = CHR_HDR_SIZE;
	r->defs = 1;
}

/* The next DEFINE between the segment's head and where the seek's scan
 * starts (r->pos), while seek_defines asked for them: 1 and *out, 0 when
 * there are no more, -1 on a bad record. */
static int next_define(struct chr_queue_reader *r, const struct chr_rec **out)
{
	while (r->pre < r->pos) {
		const struct chr_rec *rec = (const struct chr_rec *)(r->base + r->pre);
		uint32_t len = __atomic_load_n(&rec->len, __ATOMIC_ACQUIRE);
		const char *why;

		if (len < CHR_HDR_SIZE || len > CHR_REC_MAX || r->pre + chr_rec_span(len) > r->pos)
			return rdata(r, r->pre, "bad record length");
		if ((why = chr_rec_check(rec)))
			return rdata(r, r->pre, why);
		r->pre += chr_rec_span(len);
		if (rec->type == CHR_DEFINE) {
			*out = rec;
			return 1;
		}
	}
	r->pre = 0;
	return 0;
}

int chr_queue_reader_open(struct chr_queue_reader *r, const char *dir, uint64_t from_seq)
{
	memset(r, 0, sizeof *r);
	r->dirfd = -1;
	if (snprintf(r->dir, sizeof r->dir, "%s", dir) >= (int)sizeof r->dir)
		return chr_q_fail(&r->e, CHR_EX_SYS, ENAMETOOLONG, "%s: name too long",
				  dir);
	if ((r->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return chr_q_fail(&r->e, CHR_EX_SYS, errno, "%s: %s", dir,
				  strerror(errno));
	r->ctl = chr_q_ctl_map(r->dirfd, 0);	/* none: chr_queue_wait polls */
	if (chr_proc_start(getpid(), &r->start) < 0)
		r->start = 0;
	return chr_queue_seek_seq(r, from_seq);
}

void chr_queue_reader_close(struct chr_queue_reader *r)
{
	unmap_old(r);
	for (int i = 0; i < 2; i++)
		if (r->kept[i].base)
			munmap((void *)r->kept[i].base, r->kept[i].size);
	memset(r->kept, 0, sizeof r->kept);
	if (r->base)
		munmap((void *)r->base, r->size);
	if (r->ctl)
		munmap(r->ctl, CTL_SIZE);
	r->base = NULL;
	r->ctl = NULL;
	if (r->dirfd >= 0)
		close(r->dirfd);
	r->dirfd = -1;
}

/* chr_rec_check of rec, of len (64..16 MiB) bytes, the frame inline: the
 * version, the CRC (chr_q_crc), the padding a word at a time; a record
 * that fails them goes to chr_rec_check for the words that say why. */
static inline const char *rec_check(const struct chr_rec *rec, uint32_t len)
{
	const unsigned char *p = (const unsigned char *)rec;
	size_t span = chr_rec_span(len), i = len & ~(size_t)7;
	uint64_t q, pad = 0;

	if (len & 7) {
		memcpy(&q, p + i, 8);
		pad = q >> (8 * (len & 7));
		i += 8;
	}
	for (; i < span; i += 8) {
		memcpy(&q, p + i, 8);
		pad |= q;
	}
	if (__builtin_expect(rec->version != CHR_VERSION || pad || chr_q_crc(rec, len) != rec->crc, 0))
		return chr_rec_check(rec);
	return chr_rec_check_payload(rec);
}

/* The current segment changed under the reader (what = why it cannot be
 * read on): retention's pool may reuse a segment once a registered reader
 * committed its end, and this reader may not have moved on yet. When the
 * next segment starts at the record the reader wants, nothing was lost:
 * move there and return 1; else the error, -1. */
static int recycled(struct chr_queue_reader *r, uint64_t off, const char *what)
{
	struct chr_seg nh;

	if (r->started && chr_q_seg_head(r->dirfd, r->id + 1, &nh) == 0 && nh.base_seq == r->want &&
	    reader_goto(r, r->id + 1) == 0)
		return 1;
	return rdata(r, off, what);
}

/* The current segment is sealed and read to its end: map the next one.
 * Returns 1 when moved, 0 when it is not there yet, -1 on error. */
static int advance(struct chr_queue_reader *r)
{
	const struct chr_seg *h = (const struct chr_seg *)r->base;
	uint64_t seq = h->base_seq + h->count, end = h->end, id = r->id;
	struct chr_seg nh;
	const char *why;

	/* Being zeroed for reuse, or given to a later segment already:
	 * retention may take it once a registered reader committed its end,
	 * and a reader kept from running meanwhile finds the later one's
	 * header here. The fields above were read before this check. */
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	if ((why = chr_seg_check(h)) || h->id != id)
		return recycled(r, 0, why ? why : "removed (retention) while it was read");
	if (r->pos != end)
		return rdata(r, r->pos, "unwritten space before the end of a sealed segment");
	if (chr_q_seg_head(r->dirfd, id + 1, &nh) < 0 && errno == ENOENT) {
		struct chr_segdir_ent *ids;
		ssize_t n = chr_q_list(r->dirfd, r->dir, 0, &ids);
		int gone = n > 0 && ids[n - 1].id > id + 1;

		if (n > 0)
			free(ids);
		if (!gone)
			return 0;
		/* Retention removes from the front, this segment first: while
		 * it is still there, the missing one is a hole. */
		if (chr_q_seg_head(r->dirfd, id, &nh) == 0) {
			char name[32];

			chr_q_seg_name(name, id + 1);
			return chr_q_fail(&r->e, CHR_EX_DATA, ENOENT,
					  "%s/%s: missing, but later segments follow it", r->dir,
					  name);
		}
		errno = ENOENT;
		return rsys(r, id + 1, "removed (retention) before it was read");
	}
	if (reader_goto(r, id + 1) < 0)
		return errno == ENOENT ? 0 : -1;
	/* h is still mapped (kept): when it was recycled after the check
	 * above, the records this reader wants decide */
	if (((const struct chr_seg *)r->base)->base_seq != seq &&
	    !(h->id != id && r->started && ((const struct chr_seg *)r->base)->base_seq == r->want)) {
		char name[32];

		chr_q_seg_name(name, r->id);
		return chr_q_fail(&r->e, CHR_EX_DATA, EPROTO,
				  "%s/%s: base_seq does not follow the previous segment", r->dir, name);
	}
	return 1;
}

int chr_queue_next(struct chr_queue_reader *r, const struct chr_rec **out)
{
	int k;

	if (r->pre && (k = next_define(r, out)) != 0)
		return k;
	for (;;) {
		const struct chr_seg *h = (const struct chr_seg *)r->base;
		const struct chr_rec *rec = NULL;
		uint32_t len = 0;
		const char *why;

		if (r->pos + CHR_HDR_SIZE <= r->size) {
			rec = (const struct chr_rec *)(r->base + r->pos);
			len = __atomic_load_n(&rec->len, __ATOMIC_ACQUIRE);
		}
		if (len == 0) {
			if (!(__atomic_load_n(&h->flags, __ATOMIC_ACQUIRE) & CHR_SEG_SEALED)) {
				if (h->id != r->id || h->magic != CHR_SEG_MAGIC) {
					if ((k = recycled(r, r->pos, "recycled")) < 0)
						return k;
					continue;
				}
				/* once a segment: is a later one in use? */
				if (r->probed != r->id + 1) {
					r->probed = r->id + 1;
					if (chr_q_unsealed_check(r->dirfd, r->dir, r->id, &r->e))
						return -1;
				}
				if (r->old)
					unmap_step(r);	/* idle: now is the time */
				return 0;
			}
			/* Sealed: a record committed just before the seal is
			 * visible now. */
			if (r->pos + CHR_HDR_SIZE <= r->size)
				len = __atomic_load_n(&rec->len, __ATOMIC_ACQUIRE);
			if (len == 0) {
				if ((k = advance(r)) <= 0)
					return k;
				continue;
			}
		}
		if (len < CHR_HDR_SIZE || len > CHR_REC_MAX)
			return rdata(r, r->pos, "bad record length");
		if (r->pos + chr_rec_span(len) > r->size)
			return rdata(r, r->pos, "record runs past the end of the segment");
		if ((why = rec_check(rec, len)))
			return rdata(r, r->pos, why);
		if (r->started && rec->seq != r->want) {
			if (h->id == r->id && h->magic == CHR_SEG_MAGIC)
				return rdata(r, r->pos, "seq out of order");
			if ((k = recycled(r, r->pos, "seq out of order")) < 0)
				return k;
			continue;
		}
		r->pos += chr_rec_span(len);
		if (!r->started) {
			int skip = rec->seq < r->want;

			if (!skip && r->want_ts != INT64_MIN) {
				if (rec->ts > r->ts_seen)
					r->ts_seen = rec->ts;
				skip = r->ts_seen < r->want_ts;
			}
			if (skip && r->defs && rec->type == CHR_DEFINE) {
				*out = rec;	/* seek_defines: passed, but named */
				return 1;
			}
			if (skip)
				continue;
		}
		r->started = 1;
		r->want = rec->seq + 1;
		*out = rec;
		return 1;
	}
}

int chr_queue_ready(const struct chr_queue_reader *r)
{
	const struct chr_seg *h = (const struct chr_seg *)r->base;

	if (r->pos + CHR_HDR_SIZE <= r->size &&
	    __atomic_load_n(&((const struct chr_rec *)(r->base + r->pos))->len, __ATOMIC_SEQ_CST))
		return 1;
	return (__atomic_load_n(&h->flags, __ATOMIC_SEQ_CST) & CHR_SEG_SEALED) != 0;
}

/* A spinning reader looks for the next record every POLL_PAUSES pause
 * instructions (about 180 ns on this project's machines, where one takes
 * 23 ns). The record it looks at is the one the writer is writing: each
 * look takes that cache line from the writer, who must take it back to
 * go on, so a reader that has caught up and looks at every pause slows a
 * fast writer to a third (docs/performance.md, "The queue reader:
 * mappings kept, looks spaced"). */
#define POLL_PAUSES 8

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	for (int i = 0; i < POLL_PAUSES; i++)
		__builtin_ia32_pause();
#endif
}

/* A free sleeper slot of c, taken for pid, or -1. */
static int take_slot(struct chr_queue_ctl *c, uint32_t pid)
{
	for (int i = 0; i < CHR_QUEUE_SLEEPERS; i++) {
		uint32_t zero = 0;

		if (__atomic_load_n(&c->sleeper[i].pid, __ATOMIC_RELAXED) == 0 &&
		    __atomic_compare_exchange_n(&c->sleeper[i].pid, &zero, pid, 0,
						__ATOMIC_SEQ_CST, __ATOMIC_RELAXED))
			return i;
	}
	return -1;
}

/* The sleep protocol (with the writer's chr_q_wake): the sleeper reads the
 * futex word, sets its bit in sleep_mask, then looks for a record; the
 * writer commits, then reads sleep_mask, both with full barriers, so one
 * of them sees the other. A writer that sees bits takes them all back and
 * wakes every sleeper once: one wake-up a sleep, not one a commit while
 * the sleeper is waking up. A sleeper woken with nothing to read sets its
 * bit again before it looks. */
int chr_queue_wait(struct chr_queue_reader *r, unsigned spin_us, int timeout_ms)
{
	struct chr_queue_ctl *c = r->ctl;
	int64_t t0, deadline, left;
	int slot = -1, rc = 0;
	uint32_t pid = (uint32_t)getpid(), v;
	struct timespec ts;

	/* spinning: a pause before each look (the caller just looked) */
	if (!spin_us && chr_queue_ready(r))
		return 1;
	t0 = 0;
	for (unsigned i = 1; spin_us; i++) {
		cpu_relax();
		if (chr_queue_ready(r))
			return 1;
		if (i % 8 == 0) {
			int64_t now = now_ns(CLOCK_MONOTONIC);

			if (!t0)
				t0 = now;
			else if (now - t0 >= (int64_t)spin_us * 1000)
				break;
		}
	}
	if (!t0)
		t0 = now_ns(CLOCK_MONOTONIC);
	deadline = timeout_ms < 0 ? INT64_MAX : t0 + (int64_t)timeout_ms * 1000000;
	/* every slot taken: a sleeper that died asleep may hold one (the
	 * writer stops waking it after once, and stops looking) */
	if (c && (slot = take_slot(c, pid)) < 0) {
		chr_q_reap_sleepers(c);
		slot = take_slot(c, pid);
	}
	if (slot < 0) {
		/* no control file, or every slot taken: poll */
		while (!chr_queue_ready(r)) {
			if ((left = deadline - now_ns(CLOCK_MONOTONIC)) <= 0)
				return 0;
			ts.tv_sec = 0;
			ts.tv_nsec = left < 1000000 ? left : 1000000;
			if (nanosleep(&ts, NULL) < 0)
				return 0;
		}
		return 1;
	}
	__atomic_store_n(&c->sleeper[slot].start, r->start, __ATOMIC_RELEASE);
	for (;;) {
		v = __atomic_load_n(&c->wake, __ATOMIC_SEQ_CST);
		__atomic_fetch_or(&c->sleep_mask, (uint64_t)1 << slot, __ATOMIC_SEQ_CST);
		if (chr_queue_ready(r))
			break;
		/* in steps of at most a second, should our slot be taken from
		 * us (a reaper that judged us dead) */
		left = deadline - now_ns(CLOCK_MONOTONIC);
		if (left <= 0) {
			rc = -1;
			break;
		}
		if (left > 1000000000)
			left = 1000000000;
		ts.tv_sec = left / 1000000000;
		ts.tv_nsec = left % 1000000000;
		if (futex(&c->wake, FUTEX_WAIT, v, &ts) < 0 && errno == EINTR) {
			rc = -1;
			break;
		}
	}
	if (__atomic_load_n(&c->sleep_mask, __ATOMIC_RELAXED) & ((uint64_t)1 << slot))
		__atomic_fetch_and(&c->sleep_mask, ~((uint64_t)1 << slot), __ATOMIC_SEQ_CST);
	/* still ours, unless a reaper took it */
	__atomic_compare_exchange_n(&c->sleeper[slot].pid, &pid, 0, 0, __ATOMIC_RELEASE,
				    __ATOMIC_RELAXED);
	return rc < 0 ? chr_queue_ready(r) : 1;
}

