/* queue_bg.c - the queue writer's background thread (pre-created and
 * recycled segments, unmapping, fsync by policy, time rolls, dead
 * sleepers) and retention. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "err.h"
#include "queue_int.h"

/* fsync segment id and its index (they may be gone: retention). Returns
 * 0, or -1 with errno when one could not be opened or synced. */
int chr_q_sync_seg(int dirfd, uint64_t id)
{
	char name[32];
	int fd, rc = 0;

	for (int k = 0; k < 2; k++) {
		if (k)
			chr_q_idx_name(name, id);
		else
			chr_q_seg_name(name, id);
		if ((fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC)) >= 0) {
			if (fdatasync(fd) < 0)
				rc = -1;
			close(fd);
		} else if (errno != ENOENT) {
			rc = -1;
		}
	}
	return rc;
}

#define POOL_MAX 2

static void pool_name(char buf[40], uint64_t id)
{
	snprintf(buf, 40, ".recycle.%09" PRIu64, id);
}

/* chr_q_retain()'s keep: take a removed segment of the current size for reuse
 * (called without b->mu: the pool is the thread's own). */
static int pool_keep(void *ctx, int dirfd, uint64_t id)
{
	struct chr_queue_bg *b = ctx;
	char name[32], to[40];
	struct stat st;

	if (b->npool == POOL_MAX)
		return 0;
	chr_q_seg_name(name, id);
	pool_name(to, id);
	if (fstatat(dirfd, name, &st, 0) < 0 || (uint64_t)st.st_size != b->next_seg_size ||
	    renameat(dirfd, name, dirfd, to) < 0)
		return 0;
	chr_q_idx_name(name, id);
	unlinkat(dirfd, name, 0);
	b->pool[b->npool++] = id;
	return 1;
}

/* With retention, the mappings left by the last rolls are kept this long:
 * retention may pool their files, and a spare made of one then needs no
 * unmapping, mapping and populating of 64 MiB (page-table work that costs
 * more than zeroing it). */
#define HOLD 2

/* A segment left by a roll, to unmap now (with retention, the oldest, once
 * more than HOLD are held, or any when stopping), or -1. */
static int old_slot(const struct chr_queue_bg *b)
{
	int n = 0, k = -1;

	for (int i = 0; i < 4; i++)
		if (b->old[i].base) {
			n++;
			if (k < 0 || ((const struct chr_seg *)(const void *)b->old[i].base)->id <
				     ((const struct chr_seg *)(const void *)b->old[k].base)->id)
				k = i;
		}
	return b->retain && n <= HOLD ? -1 : k;
}

/* The mapping of pooled segment id, left by a roll and held, taken out of
 * b->old (index unmapped); 0, or -1 when there is none. */
static int old_take(struct chr_queue_bg *b, uint64_t id, struct qseg *s)
{
	int rc = -1;

	pthread_mutex_lock(&b->mu);
	for (int i = 0; i < 4 && rc < 0; i++)
		if (b->old[i].base && b->old[i].size == b->next_seg_size &&
		    ((const struct chr_seg *)(const void *)b->old[i].base)->id == id) {
			*s = b->old[i];
			memset(&b->old[i], 0, sizeof b->old[i]);
			rc = 0;
		}
	pthread_mutex_unlock(&b->mu);
	if (rc == 0 && s->idx) {
		munmap(s->idx, s->idx_size);
		s->idx = NULL;
		s->idx_size = 0;
	}
	return rc;
}

/* Make segment id out of a pooled one older than below: its used bytes
 * zeroed, a new header, published by rename (its index made new). The
 * segment sealed at the last roll is not taken yet: a reader that keeps up
 * without a registered position may still be at its end, and is given the
 * time of a segment to move on. Returns 0, or -1 (none: the caller
 * creates one afresh). */
static int pool_take(struct chr_queue_bg *b, uint64_t id, uint64_t below, struct qseg *s)
{
	struct chr_seg h = { .magic = CHR_SEG_MAGIC, .version = CHR_VERSION,
			     .id = id, .base_seq = CHR_QUEUE_NO_SEQ };
	const struct chr_seg *old;
	char from[40], name[32];
	uint64_t used;
	int64_t t;
	void *p;
	int fd, k = b->npool - 1;

	while (k >= 0 && b->pool[k] >= below)
		k--;
	if (k < 0) {
		errno = ENOENT;
		return -1;
	}
	pool_name(from, b->pool[k]);
	memset(s, 0, sizeof *s);
	if (old_take(b, b->pool[k], s) == 0) {
		b->pool[k] = b->pool[--b->npool];
	} else {
		b->pool[k] = b->pool[--b->npool];
		fd = openat(b->dirfd, from, O_RDWR | O_CLOEXEC);
		if (fd < 0)
			return -1;
		p = chr_q_map_populated(fd, b->next_seg_size, &b->pace, &s->step);
		close(fd);
		if (!p)
			goto fail;
		s->base = p;
		s->size = b->next_seg_size;
	}
	old = (const struct chr_seg *)(const void *)s->base;
	used = !chr_seg_check(old) && old->end <= s->size ? old->end : s->size;
	t = now_ns(CLOCK_MONOTONIC);
	for (uint64_t off = 0; off < used; off += 1u << 18) {
		if (off)
			chr_q_step_pause(&b->pace, &t);
		memset(s->base + off, 0, used - off < (1u << 18) ? used - off : 1u << 18);
	}
	memcpy(s->base, &h, sizeof h);
	if (chr_q_idx_create(b->dirfd, id, s->size, b->stride, s) < 0)
		goto fail;
	chr_q_seg_name(name, id);
	if (renameat(b->dirfd, from, b->dirfd, name) < 0 || fsync(b->dirfd) < 0)
		goto fail;
	return 0;
fail:
	chr_q_unmap(s);
	unlinkat(b->dirfd, from, 0);
	return -1;
}

/* The pooled segments older than this may be reused now: not the one
 * sealed at the last roll before the writer is half through the next. */
static uint64_t pool_below(const struct chr_queue_bg *b)
{
	return b->half ? b->cur : b->cur ? b->cur - 1 : 0;
}

static int pool_ok(const struct chr_queue_bg *b)
{
	for (int k = 0; k < b->npool; k++)
		if (b->pool[k] < pool_below(b))
			return 1;
	return 0;
}


static void *bg_main(void *arg)
{
	struct chr_queue_bg *b = arg;
	int64_t next_sync = 0, next_reap = 0, next_retain = 0;
	int i;

	pthread_mutex_lock(&b->mu);
	while (!b->stop) {
		int64_t now = now_ns(CLOCK_REALTIME), until = now + 1000000000;
		struct timespec ts;

		/* paced work ends its pauses when a sync falls due */
		b->pace.due = b->sync == CHR_SYNC_EVERY ? next_sync : INT64_MAX;
		/* the next spare first, one more ahead after the old mappings;
		 * with retention, a new one only past half of the segment: by
		 * then what the readers passed is free, and reused pages cost
		 * a tenth of fresh ones (docs/performance.md) */
		if (!b->failed && b->nready < b->depth && (b->nready == 0 || old_slot(b) < 0) &&
		    (!b->retain || pool_ok(b) || b->half)) {
			uint64_t id = b->next_id, size = b->next_seg_size, below = pool_below(b);
			struct qseg s;
			int rc;

			b->busy = 1;
			pthread_mutex_unlock(&b->mu);
			rc = -1;
			if (b->retain && b->npool < POOL_MAX) {
				/* what readers passed since the roll can be reused */
				chr_q_retain(b->dir, b->retain_ns, b->grace_ns, NULL, pool_keep, b);
			}
			while (rc < 0 && b->npool && (rc = pool_take(b, id, below, &s)) < 0 &&
			       errno != ENOENT)
				;
			if (rc < 0)
				rc = chr_q_seg_create(b->dirfd, b->dir, size, b->stride, id,
						      CHR_QUEUE_NO_SEQ, &b->pace, &s, NULL);
			pthread_mutex_lock(&b->mu);
			b->busy = 0;
			if (rc == 0) {
				b->ready[b->nready] = s;
				__atomic_store_n(&b->nready, b->nready + 1, __ATOMIC_RELAXED);
				b->next_id = id + 1;
			} else {
				b->failed = 1;
			}
			pthread_cond_broadcast(&b->cv);
			continue;
		}
		if (b->sync != CHR_SYNC_NEVER && b->synced < b->sealed) {
			uint64_t id = b->synced;

			pthread_mutex_unlock(&b->mu);
			chr_q_sync_seg(b->dirfd, id);
			pthread_mutex_lock(&b->mu);
			if (b->synced < id + 1)	/* chr_queue_flush may be ahead */
				b->synced = id + 1;
			continue;
		}
		if (b->sync == CHR_SYNC_EVERY) {
			if (now >= next_sync) {
				uint64_t id = b->cur;

				pthread_mutex_unlock(&b->mu);
				chr_q_sync_seg(b->dirfd, id);
				pthread_mutex_lock(&b->mu);
				next_sync = now + (int64_t)b->sync_ms * 1000000;
				continue;
			}
			if (next_sync < until)
				until = next_sync;
		}
		/* retention after a roll before the old mapping: what it frees
		 * is the next spare's reused pages */
		if (b->retain && (b->retain_due || now >= next_retain)) {
			b->retain_due = 0;
			pthread_mutex_unlock(&b->mu);
			chr_q_retain(b->dir, b->retain_ns, b->grace_ns, NULL, pool_keep, b);
			pthread_mutex_lock(&b->mu);
			next_retain = now + 1000000000;
			continue;
		}
		/* one old segment at a time, the next segment and syncs first */
		if ((i = old_slot(b)) >= 0) {
			struct qseg s = b->old[i];

			memset(&b->old[i], 0, sizeof s);
			pthread_mutex_unlock(&b->mu);
			chr_q_unmap_paced(&s, &b->pace);
			pthread_mutex_lock(&b->mu);
			continue;
		}
		if (b->roll_ns && !b->roll_due) {
			int64_t at = (b->seg_start / b->roll_ns + 1) * b->roll_ns;

			if (now >= at)
				__atomic_store_n(&b->roll_due, 1, __ATOMIC_RELAXED);
			else if (at < until)
				until = at;
		}
		if (b->retain && next_retain < until)
			until = next_retain;
		if (now >= next_reap) {
			if (__atomic_load_n(&b->ctl->sleep_mask, __ATOMIC_RELAXED))
				chr_q_reap_sleepers(b->ctl);
			next_reap = now + 1000000000;
		}
		ts.tv_sec = until / 1000000000;
		ts.tv_nsec = until % 1000000000;
		pthread_cond_timedwait(&b->cv, &b->mu, &ts);
	}
	pthread_mutex_unlock(&b->mu);
	return NULL;
}

int chr_q_bg_start(struct chr_queue_writer *w, const struct chr_queue_opts *o,
		   struct qseg *spare)
{
	struct chr_queue_bg *b = calloc(1, sizeof *b);
	const struct sched_param batch = { 0 };
	pthread_condattr_t ca;
	int e;

	if (!b)
		return -1;
	pthread_mutex_init(&b->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_REALTIME);
	pthread_cond_init(&b->cv, &ca);
	pthread_condattr_destroy(&ca);
	b->pid = getpid();
	b->dirfd = w->dirfd;
	b->dir = w->dir;
	b->ctl = w->ctl;
	b->stride = w->stride;
	b->next_seg_size = w->seg_size;
	b->cur = w->id;
	b->sealed = b->synced = w->id;
	b->seg_start = now_ns(CLOCK_REALTIME);
	if (o) {
		b->sync = o->sync;
		b->sync_ms = o->sync_ms;
		b->roll_ns = o->roll_ns;
		b->retain = (o->flags & CHR_QUEUE_RETAIN) != 0;
		b->retain_ns = o->retain_ns;
		b->grace_ns = o->grace_ns;
	}
	b->depth = 1;
	b->next_id = w->id + 1;
	if (spare->base) {
		b->ready[0] = *spare;
		b->nready = 1;
		b->next_id++;
	}
	/* Its work is never urgent at the moment it is woken (the writer has
	 * the rest of a segment's time): as a batch thread it does not
	 * preempt the writer it shares a core with when a roll wakes it, and
	 * takes its turn at the scheduler's tick instead. */
	if ((e = pthread_create(&b->thread, NULL, bg_main, b)) == 0)
		pthread_setschedparam(b->thread, SCHED_BATCH, &batch);	/* may be refused */
	if (e != 0) {
		pthread_cond_destroy(&b->cv);
		pthread_mutex_destroy(&b->mu);
		free(b);
		errno = e;
		return -1;
	}
	memset(spare, 0, sizeof *spare);
	w->bg = b;
	return 0;
}

void chr_q_bg_stop(struct chr_queue_writer *w)
{
	struct chr_queue_bg *b = w->bg;

	if (!b)
		return;
	w->bg = NULL;
	if (b->pid != getpid()) {
		/* a forked child's copy: the thread is not here */
		for (int i = 0; i < 4; i++)
			chr_q_unmap(&b->old[i]);
		for (int i = 0; i < b->nready; i++)
			chr_q_unmap(&b->ready[i]);
		free(b);
		return;
	}
	pthread_mutex_lock(&b->mu);
	b->stop = 1;
	__atomic_store_n(&b->pace.hurry, 1, __ATOMIC_RELAXED);	/* no pauses left */
	pthread_cond_signal(&b->cv);
	pthread_mutex_unlock(&b->mu);
	pthread_join(b->thread, NULL);
	for (int i = 0; i < 4; i++)
		chr_q_unmap(&b->old[i]);
	for (int i = 0; i < b->nready; i++)
		chr_q_unmap(&b->ready[i]);
	while (b->npool) {
		char name[40];

		pool_name(name, b->pool[--b->npool]);
		unlinkat(b->dirfd, name, 0);
	}
	if (b->sync != CHR_SYNC_NEVER) {
		for (uint64_t id = b->synced; id < b->sealed; id++)
			chr_q_sync_seg(b->dirfd, id);
		chr_q_sync_seg(b->dirfd, b->cur);
	}
	pthread_cond_destroy(&b->cv);
	pthread_mutex_destroy(&b->mu);
	free(b);
}

/* The next segment, made ahead: from the thread (waiting while it works on
 * it: the writer is fast, so from now on the thread keeps one more made
 * ahead), else made here. */
int chr_q_take_next(struct chr_queue_writer *w, struct qseg *s)
{
	struct chr_queue_bg *b = w->bg;

	pthread_mutex_lock(&b->mu);
	__atomic_store_n(&b->pace.hurry, 1, __ATOMIC_RELAXED);
	if (!b->nready && !b->failed) {
		if (b->depth < CHR_Q_AHEAD_MAX)
			b->depth++;
		pthread_cond_signal(&b->cv);
		while (!b->nready && !b->failed)
			pthread_cond_wait(&b->cv, &b->mu);
	}
	if (b->nready) {
		*s = b->ready[0];
		memmove(&b->ready[0], &b->ready[1], (size_t)(b->nready - 1) * sizeof b->ready[0]);
		__atomic_store_n(&b->nready, b->nready - 1, __ATOMIC_RELAXED);
		memset(&b->ready[b->nready], 0, sizeof b->ready[0]);
		pthread_mutex_unlock(&b->mu);
		return 0;
	}
	pthread_mutex_unlock(&b->mu);
	/* The thread failed: once more here, for a message of our own. */
	if (chr_q_seg_create(w->dirfd, w->dir, w->seg_size, w->stride, w->id + 1, CHR_QUEUE_NO_SEQ,
			     NULL, s, &w->e) < 0)
		return -1;
	pthread_mutex_lock(&b->mu);
	b->failed = 0;
	b->next_id = w->id + 2;
	pthread_mutex_unlock(&b->mu);
	return 0;
}

void chr_q_half(struct chr_queue_writer *w)
{
	struct chr_queue_bg *b = w->bg;

	pthread_mutex_lock(&b->mu);
	b->half = 1;
	pthread_cond_signal(&b->cv);
	pthread_mutex_unlock(&b->mu);
}

void chr_q_hurry(struct chr_queue_writer *w)
{
	w->bg->hurried = 1;
	__atomic_store_n(&w->bg->pace.hurry, 1, __ATOMIC_RELAXED);
}

/* ---- retention ---- */

/* Retention; a removed segment goes to keep() first, which may take it
 * (rename it for reuse) instead of it being unlinked. */
ssize_t chr_q_retain(const char *dir, int64_t age_ns, int64_t grace_ns, struct chr_err *e,
		      int (*keep)(void *ctx, int dirfd, uint64_t id), void *ctx)
{
	struct chr_queue_pos_info *rd = NULL;
	ssize_t nr = chr_queue_pos_list(dir, &rd, e), n, i, removed = 0;
	uint64_t min = UINT64_MAX;
	struct chr_segdir_ent *ids = NULL;
	int64_t now = now_ns(CLOCK_REALTIME), cutoff = now - age_ns;
	int dirfd;

	if (nr < 0)
		return -1;
	for (i = 0; i < nr; i++)
		if ((rd[i].live || rd[i].beat > now - grace_ns) && rd[i].seq < min)
			min = rd[i].seq;
	free(rd);
	if ((dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
	    (n = chr_q_list(dirfd, dir, 0, &ids)) < 0) {
		chr_q_fail(e, CHR_EX_SYS, errno, "%s: %s", dir, strerror(errno));
		if (dirfd >= 0)
			close(dirfd);
		return -1;
	}
	for (i = 0; i + 1 < n; i++) {
		struct chr_seg h;
		char name[32];

		if (chr_q_seg_head(dirfd, ids[i].id, &h) < 0 || !(h.flags & CHR_SEG_SEALED) ||
		    (h.count && h.ts_max >= cutoff) || h.base_seq + h.count > min)
			break;
		chr_q_seg_name(name, ids[i].id);
		/* ENOENT: another retention (the writer's own, chr-tier's) took
		 * it meanwhile */
		if (!(keep && keep(ctx, dirfd, ids[i].id)) && unlinkat(dirfd, name, 0) < 0 &&
		    errno != ENOENT) {
			chr_q_fail(e, CHR_EX_SYS, errno, "%s/%s: cannot remove: %s", dir, name,
				   strerror(errno));
			removed = -1;
			break;
		}
		chr_q_idx_name(name, ids[i].id);
		unlinkat(dirfd, name, 0);
		removed++;
	}
	free(ids);
	close(dirfd);
	return removed;
}

ssize_t chr_queue_retain(const char *dir, int64_t age_ns, int64_t grace_ns, struct chr_err *e)
{
	return chr_q_retain(dir, age_ns, grace_ns, e, NULL, NULL);
}

