/* queue.c - mapped segment queue: segment and index files, the single writer
 * with its background thread and crash recovery, lock-free readers that
 * follow it across rolls and sleep on a futex, seeks, retention. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "path.h"
#include "queue.h"
#include "tm.h"

/* Set err ("dir/what: message"), *status and errno; return -1. */
static int qfail(char *err, int *status, int st, int e, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
static int qfail(char *err, int *status, int st, int e, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, 512, fmt, ap);
	va_end(ap);
	*status = st;
	errno = e;
	return -1;
}

static void seg_name(char buf[32], uint64_t id)
{
	snprintf(buf, 32, "%09" PRIu64 ".q", id);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Sorted segment ids of the directory (malloc'd into *ids). With
 * rm_tmp, leftover "NNNNNNNNN.q.tmp", ".idx.tmp" and ".recycle.*" files
 * are removed. Returns the count,
 * or -1 with errno. */
static ssize_t list_ids(int dirfd, int rm_tmp, uint64_t **ids)
{
	int fd = dup(dirfd);
	DIR *d;
	struct dirent *de;
	size_t n = 0, cap = 0;
	uint64_t *v = NULL;

	if (fd < 0)
		return -1;
	if (!(d = fdopendir(fd))) {
		close(fd);
		return -1;
	}
	rewinddir(d);
	while ((errno = 0, de = readdir(d))) {
		const char *s = de->d_name;
		size_t len = strlen(s);
		int digits = 1;

		if (rm_tmp && strncmp(s, ".recycle.", 9) == 0) {
			unlinkat(dirfd, s, 0);	/* a crashed writer's pool */
			continue;
		}
		if (len < 11)
			continue;
		for (int i = 0; i < 9; i++)
			if (s[i] < '0' || s[i] > '9')
				digits = 0;
		if (!digits)
			continue;
		if ((len == 15 && strcmp(s + 9, ".q.tmp") == 0) ||
		    (len == 17 && strcmp(s + 9, ".idx.tmp") == 0)) {
			if (rm_tmp)
				unlinkat(dirfd, s, 0);
			continue;
		}
		if (len != 11 || strcmp(s + 9, ".q") != 0)
			continue;
		if (n == cap) {
			uint64_t *nv = realloc(v, (cap = cap ? 2 * cap : 64) * sizeof *v);

			if (!nv) {
				free(v);
				closedir(d);
				errno = ENOMEM;
				return -1;
			}
			v = nv;
		}
		v[n++] = strtoull(s, NULL, 10);
	}
	if (errno) {
		int e = errno;

		free(v);
		closedir(d);
		errno = e;
		return -1;
	}
	closedir(d);
	if (n)
		qsort(v, n, sizeof *v, cmp_u64);
	*ids = v;
	return (ssize_t)n;
}

/* Map segment id: read-write or read-only, its whole file. Returns 0, or
 * -1 with errno (EPROTO when the file cannot be a segment). */
static int seg_map(int dirfd, uint64_t id, int rw, unsigned char **map, uint64_t *size)
{
	char name[32];
	struct stat st;
	void *p;
	int fd;

	seg_name(name, id);
	fd = openat(dirfd, name, (rw ? O_RDWR : O_RDONLY) | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	if (st.st_size < (off_t)sizeof(struct chr_seg) || st.st_size % CHR_ALIGN != 0) {
		close(fd);
		errno = EPROTO;
		return -1;
	}
	p = mmap(NULL, (size_t)st.st_size, rw ? PROT_READ | PROT_WRITE : PROT_READ,
		 MAP_SHARED, fd, 0);
	close(fd);
	if (p == MAP_FAILED)
		return -1;
	*map = p;
	*size = (uint64_t)st.st_size;
	return 0;
}

/* Why the header of segment id is not one, or NULL. */
static const char *seg_bad(const unsigned char *map, uint64_t id)
{
	const struct chr_seg *h = (const struct chr_seg *)map;
	const char *why = chr_seg_check(h);

	if (why)
		return why;
	if (h->id != id)
		return "segment id does not match its file name";
	return NULL;
}

/* The header of segment id, when it is one; else -1. */
static int seg_head(int dirfd, uint64_t id, struct chr_seg *h)
{
	char name[32];
	int fd;
	ssize_t n;

	seg_name(name, id);
	if ((fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	n = pread(fd, h, sizeof *h, 0);
	close(fd);
	if (n == (ssize_t)sizeof *h && !chr_seg_check(h) && h->id == id)
		return 0;
	errno = n < 0 ? errno : EPROTO;
	return -1;
}

/* ---- indexes ---- */

static void idx_name(char buf[32], uint64_t id)
{
	snprintf(buf, 32, "%09" PRIu64 ".idx", id);
}

/* Bytes of the index of a segment of seg_size bytes: an entry for every
 * stride records it can hold, rounded up to a page. */
static uint64_t idx_bytes(uint64_t seg_size, uint32_t stride)
{
	uint64_t recs = (seg_size - CHR_HDR_SIZE) / CHR_ALIGN;
	uint64_t n = sizeof(struct chr_queue_idx) +
		     (recs / stride + 1) * sizeof(struct chr_queue_idx_entry);

	return (n + 4095) & ~(uint64_t)4095;
}

/* Map the index of segment id, read-write or read-only. Returns NULL (errno
 * set) when it is missing or not an index of that segment. */
static struct chr_queue_idx *idx_map(int dirfd, uint64_t id, int rw, uint64_t *size)
{
	char name[32];
	struct stat st;
	struct chr_queue_idx *x;
	int fd;

	idx_name(name, id);
	if ((fd = openat(dirfd, name, (rw ? O_RDWR : O_RDONLY) | O_CLOEXEC)) < 0)
		return NULL;
	if (fstat(fd, &st) < 0 || st.st_size < (off_t)sizeof *x) {
		close(fd);
		errno = EPROTO;
		return NULL;
	}
	x = mmap(NULL, (size_t)st.st_size, rw ? PROT_READ | PROT_WRITE : PROT_READ,
		 MAP_SHARED, fd, 0);
	close(fd);
	if (x == MAP_FAILED)
		return NULL;
	if (x->magic != CHR_QUEUE_IDX_MAGIC || x->version != CHR_VERSION || x->id != id ||
	    !x->stride || (x->stride & (x->stride - 1))) {
		munmap(x, (size_t)st.st_size);
		errno = EPROTO;
		return NULL;
	}
	*size = (uint64_t)st.st_size;
	return x;
}

/* Entries of x that fit its file, as far as written. */
static uint64_t idx_count(const struct chr_queue_idx *x, uint64_t size)
{
	uint64_t n = __atomic_load_n(&x->count, __ATOMIC_ACQUIRE);
	uint64_t cap = (size - sizeof *x) / sizeof x->e[0];

	return n < cap ? n : cap;
}

/* ---- segment files ---- */

/* A mapped segment with its index. */
struct qseg {
	unsigned char *base;
	uint64_t size;
	struct chr_queue_idx *idx;
	uint64_t idx_size;
};

static void qseg_unmap(struct qseg *s)
{
	if (s->base)
		munmap(s->base, s->size);
	if (s->idx)
		munmap(s->idx, s->idx_size);
	memset(s, 0, sizeof *s);
}

/* Write a new file name of size bytes, starting with the bytes of head,
 * preallocated: as name.tmp, fsynced, renamed into place, the directory
 * fsynced. Returns the open descriptor, or -1 with errno. */
static int publish(int dirfd, const char *name, uint64_t size, const void *head, size_t n)
{
	char tmp[48];
	int fd, e;

	snprintf(tmp, sizeof tmp, "%s.tmp", name);
	if ((fd = openat(dirfd, tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0666)) < 0)
		return -1;
	if ((e = posix_fallocate(fd, 0, (off_t)size)) != 0)
		errno = e;
	if (e || chr_pwrite_all(fd, head, n, 0) < 0 || fsync(fd) < 0 ||
	    renameat(dirfd, tmp, dirfd, name) < 0 || fsync(dirfd) < 0) {
		e = errno;
		close(fd);
		unlinkat(dirfd, tmp, 0);
		errno = e;
		return -1;
	}
	return fd;
}

/* Create the (empty) index of segment id, for segments of seg_size bytes,
 * and map it read-write into s. Returns 0, or -1 with errno. */
static int idx_create(int dirfd, uint64_t id, uint64_t seg_size, uint32_t stride, struct qseg *s)
{
	struct chr_queue_idx x = { .magic = CHR_QUEUE_IDX_MAGIC, .version = CHR_VERSION,
				   .stride = stride, .id = id };
	char name[32];
	void *p;
	int fd;

	s->idx_size = idx_bytes(seg_size, stride);
	idx_name(name, id);
	if ((fd = publish(dirfd, name, s->idx_size, &x, sizeof x)) < 0)
		return -1;
	p = mmap(NULL, s->idx_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0);
	close(fd);
	if (p == MAP_FAILED)
		return -1;
	s->idx = p;
	return 0;
}

/* Create segment id (its index first) and map both read-write, populated
 * so that first writes do not fault. Returns 0, or -1 with err set. */
static int seg_create(int dirfd, const char *dir, uint64_t seg_size, uint32_t stride,
		      uint64_t id, uint64_t base_seq, struct qseg *s, char *err)
{
	struct chr_seg h = { .magic = CHR_SEG_MAGIC, .version = CHR_VERSION,
			     .id = id, .base_seq = base_seq };
	char name[32];
	int fd, st;
	void *p;

	memset(s, 0, sizeof *s);
	idx_name(name, id);
	if (idx_create(dirfd, id, seg_size, stride, s) < 0)
		goto fail;
	seg_name(name, id);
	if ((fd = publish(dirfd, name, seg_size, &h, sizeof h)) < 0)
		goto fail;
	p = mmap(NULL, seg_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0);
	close(fd);
	if (p == MAP_FAILED)
		goto fail;
	s->base = p;
	s->size = seg_size;
	return 0;
fail:
	qfail(err, &st, CHR_EX_SYS, errno, "%s/%s: cannot create: %s", dir, name, strerror(errno));
	qseg_unmap(s);
	errno = EIO;
	return -1;
}

/* ---- the control file ---- */

#define CTL_SIZE 4096
_Static_assert(sizeof(struct chr_queue_ctl) <= CTL_SIZE, "control fits a page");

/* Map dir's control file; the writer (create) makes or repairs it. NULL
 * when missing or not one (errno). */
static struct chr_queue_ctl *ctl_map(int dirfd, int create)
{
	struct chr_queue_ctl *c;
	struct stat st;
	int fd = openat(dirfd, "control", O_RDWR | O_CLOEXEC);

	if (fd < 0 && create && errno == ENOENT) {
		struct chr_queue_ctl init = { .magic = CHR_QUEUE_CTL_MAGIC, .version = CHR_VERSION };

		fd = publish(dirfd, "control", CTL_SIZE, &init, sizeof init);
	}
	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) < 0 || st.st_size < CTL_SIZE) {
		close(fd);
		errno = EPROTO;
		return NULL;
	}
	c = mmap(NULL, CTL_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (c == MAP_FAILED)
		return NULL;
	if (c->magic != CHR_QUEUE_CTL_MAGIC || c->version != CHR_VERSION) {
		if (!create) {
			munmap(c, CTL_SIZE);
			errno = EPROTO;
			return NULL;
		}
		memset(c, 0, CTL_SIZE);
		c->version = CHR_VERSION;
		__atomic_store_n(&c->magic, CHR_QUEUE_CTL_MAGIC, __ATOMIC_RELEASE);
	}
	return c;
}

static long futex(uint32_t *addr, int op, uint32_t val, const struct timespec *ts)
{
	return syscall(SYS_futex, addr, op, val, ts, NULL, 0);
}

/* Wake every sleeping reader. */
static void wake(struct chr_queue_ctl *c)
{
	__atomic_fetch_add(&c->wake, 1, __ATOMIC_SEQ_CST);
	futex(&c->wake, FUTEX_WAKE, INT32_MAX, NULL);
}

/* Free the sleeper slots of processes that died asleep, so that the writer
 * stops waking them. */
static void reap_sleepers(struct chr_queue_ctl *c)
{
	for (int i = 0; i < CHR_QUEUE_SLEEPERS; i++) {
		uint32_t pid = __atomic_load_n(&c->sleeper[i].pid, __ATOMIC_ACQUIRE);
		uint64_t start;

		if (!pid)
			continue;
		if (chr_proc_start(pid, &start) == 0 &&
		    start == __atomic_load_n(&c->sleeper[i].start, __ATOMIC_ACQUIRE))
			continue;
		if (chr_proc_start(pid, &start) < 0 && errno != ENOENT)
			continue;
		if (__atomic_compare_exchange_n(&c->sleeper[i].pid, &pid, 0, 0,
						__ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
			__atomic_fetch_and(&c->sleep_mask, ~((uint64_t)1 << i), __ATOMIC_SEQ_CST);
	}
}

static ssize_t retain(const char *dir, int64_t age_ns, char *err,
		      int (*keep)(void *ctx, int dirfd, uint64_t id), void *ctx);

/* ---- the writer's background thread ----
 * It keeps syscalls off the append path: it pre-creates the next segment,
 * unmaps the old one after a roll, fsyncs by policy, marks a time roll due
 * and frees the slots of dead sleepers. */

struct chr_queue_bg {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int stop;
	int asked;		/* the writer's own: asked for this roll */
	int want;		/* the writer asks for segment next_id */
	int busy;		/* the thread is creating it */
	uint64_t next_id, next_seg_size;
	uint32_t stride;
	struct qseg next;	/* created, not yet current */
	int failed;		/* creating it failed: the roll tries itself */
	char err[512];
	struct qseg old[4];	/* left by rolls, to unmap */
	uint64_t sealed;	/* ids below are sealed ... */
	uint64_t synced;	/* ... and these fsynced (sync != never) */
	uint64_t cur;		/* id of the current segment */
	int64_t seg_start;	/* when it became current, ns (time rolls) */
	int roll_due;		/* read by the writer without the lock */
	enum chr_queue_sync sync;
	uint32_t sync_ms;
	int64_t roll_ns;
	int retain;		/* run retention ... */
	int64_t retain_ns;	/* with this age */
	int retain_due;		/* now: a segment was sealed */
	uint64_t pool[2];	/* segments removed by retention, kept as
				 * ".recycle.ID" to be the next ones: their
				 * pages need no fresh memory */
	int npool;
	int dirfd;
	const char *dir;
	struct chr_queue_ctl *ctl;
	pid_t pid;		/* the process the thread runs in */
};

static int64_t now_ns(clockid_t clk)
{
	struct timespec t;

	clock_gettime(clk, &t);
	return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

/* fsync segment id and its index (they may be gone: retention). Returns
 * 0, or -1 with errno when one could not be opened or synced. */
static int sync_seg(int dirfd, uint64_t id)
{
	char name[32];
	int fd, rc = 0;

	for (int k = 0; k < 2; k++) {
		if (k)
			idx_name(name, id);
		else
			seg_name(name, id);
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

/* retain()'s keep: take a removed segment of the current size for reuse
 * (called without b->mu: the pool is the thread's own). */
static int pool_keep(void *ctx, int dirfd, uint64_t id)
{
	struct chr_queue_bg *b = ctx;
	char name[32], to[40];
	struct stat st;

	if (b->npool == POOL_MAX)
		return 0;
	seg_name(name, id);
	pool_name(to, id);
	if (fstatat(dirfd, name, &st, 0) < 0 || (uint64_t)st.st_size != b->next_seg_size ||
	    renameat(dirfd, name, dirfd, to) < 0)
		return 0;
	idx_name(name, id);
	unlinkat(dirfd, name, 0);
	b->pool[b->npool++] = id;
	return 1;
}

/* Make segment id out of a pooled one: its used bytes zeroed, a new
 * header, published by rename (its index made new). Returns 0, or -1 (the
 * caller creates one afresh). */
static int pool_take(struct chr_queue_bg *b, uint64_t id, struct qseg *s)
{
	struct chr_seg h = { .magic = CHR_SEG_MAGIC, .version = CHR_VERSION,
			     .id = id, .base_seq = CHR_QUEUE_NO_SEQ };
	const struct chr_seg *old;
	char from[40], name[32];
	uint64_t used;
	void *p;
	int fd;

	pool_name(from, b->pool[--b->npool]);
	memset(s, 0, sizeof *s);
	fd = openat(b->dirfd, from, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -1;
	p = mmap(NULL, b->next_seg_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0);
	close(fd);
	if (p == MAP_FAILED)
		goto fail;
	s->base = p;
	s->size = b->next_seg_size;
	old = p;
	used = !chr_seg_check(old) && old->end <= s->size ? old->end : s->size;
	memset(s->base, 0, used);
	memcpy(s->base, &h, sizeof h);
	if (idx_create(b->dirfd, id, s->size, b->stride, s) < 0)
		goto fail;
	seg_name(name, id);
	if (renameat(b->dirfd, from, b->dirfd, name) < 0 || fsync(b->dirfd) < 0)
		goto fail;
	return 0;
fail:
	qseg_unmap(s);
	unlinkat(b->dirfd, from, 0);
	return -1;
}

static void *bg_main(void *arg)
{
	struct chr_queue_bg *b = arg;
	int64_t next_sync = 0, next_reap = 0, next_retain = 0;

	pthread_mutex_lock(&b->mu);
	while (!b->stop) {
		int64_t now = now_ns(CLOCK_REALTIME), until = now + 1000000000;
		struct timespec ts;

		for (int i = 0; i < 4; i++)
			if (b->old[i].base) {
				struct qseg s = b->old[i];

				memset(&b->old[i], 0, sizeof s);
				pthread_mutex_unlock(&b->mu);
				qseg_unmap(&s);
				pthread_mutex_lock(&b->mu);
			}
		if (b->want && !b->next.base && !b->failed) {
			uint64_t id = b->next_id, size = b->next_seg_size;
			struct qseg s;
			char err[512];
			int rc;

			b->busy = 1;
			pthread_mutex_unlock(&b->mu);
			rc = -1;
			if (b->retain && b->npool < POOL_MAX) {
				/* what readers passed since the roll can be reused */
				char rerr[512];

				retain(b->dir, b->retain_ns, rerr, pool_keep, b);
			}
			while (rc < 0 && b->npool)
				rc = pool_take(b, id, &s);
			if (rc < 0)
				rc = seg_create(b->dirfd, b->dir, size, b->stride, id,
						CHR_QUEUE_NO_SEQ, &s, err);
			pthread_mutex_lock(&b->mu);
			b->busy = 0;
			if (rc == 0) {
				b->next = s;
			} else {
				b->failed = 1;
				memcpy(b->err, err, sizeof err);
			}
			pthread_cond_broadcast(&b->cv);
			continue;
		}
		if (b->sync != CHR_SYNC_NEVER && b->synced < b->sealed) {
			uint64_t id = b->synced;

			pthread_mutex_unlock(&b->mu);
			sync_seg(b->dirfd, id);
			pthread_mutex_lock(&b->mu);
			if (b->synced < id + 1)	/* chr_queue_flush may be ahead */
				b->synced = id + 1;
			continue;
		}
		if (b->sync == CHR_SYNC_EVERY) {
			if (now >= next_sync) {
				uint64_t id = b->cur;

				pthread_mutex_unlock(&b->mu);
				sync_seg(b->dirfd, id);
				pthread_mutex_lock(&b->mu);
				next_sync = now + (int64_t)b->sync_ms * 1000000;
				continue;
			}
			if (next_sync < until)
				until = next_sync;
		}
		if (b->roll_ns && !b->roll_due) {
			int64_t at = (b->seg_start / b->roll_ns + 1) * b->roll_ns;

			if (now >= at)
				__atomic_store_n(&b->roll_due, 1, __ATOMIC_RELAXED);
			else if (at < until)
				until = at;
		}
		if (b->retain && (b->retain_due || now >= next_retain)) {
			char err[512];

			b->retain_due = 0;
			pthread_mutex_unlock(&b->mu);
			retain(b->dir, b->retain_ns, err, pool_keep, b);
			pthread_mutex_lock(&b->mu);
			next_retain = now + 1000000000;
			continue;
		}
		if (b->retain && next_retain < until)
			until = next_retain;
		if (now >= next_reap) {
			if (__atomic_load_n(&b->ctl->sleep_mask, __ATOMIC_RELAXED))
				reap_sleepers(b->ctl);
			next_reap = now + 1000000000;
		}
		ts.tv_sec = until / 1000000000;
		ts.tv_nsec = until % 1000000000;
		pthread_cond_timedwait(&b->cv, &b->mu, &ts);
	}
	pthread_mutex_unlock(&b->mu);
	return NULL;
}

static int bg_start(struct chr_queue_writer *w, const struct chr_queue_opts *o)
{
	struct chr_queue_bg *b = calloc(1, sizeof *b);
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
	}
	if ((e = pthread_create(&b->thread, NULL, bg_main, b)) != 0) {
		pthread_cond_destroy(&b->cv);
		pthread_mutex_destroy(&b->mu);
		free(b);
		errno = e;
		return -1;
	}
	w->bg = b;
	return 0;
}

static void bg_stop(struct chr_queue_writer *w)
{
	struct chr_queue_bg *b = w->bg;

	if (!b)
		return;
	w->bg = NULL;
	if (b->pid != getpid()) {
		/* a forked child's copy: the thread is not here */
		for (int i = 0; i < 4; i++)
			qseg_unmap(&b->old[i]);
		qseg_unmap(&b->next);
		free(b);
		return;
	}
	pthread_mutex_lock(&b->mu);
	b->stop = 1;
	pthread_cond_signal(&b->cv);
	pthread_mutex_unlock(&b->mu);
	pthread_join(b->thread, NULL);
	for (int i = 0; i < 4; i++)
		qseg_unmap(&b->old[i]);
	qseg_unmap(&b->next);
	while (b->npool) {
		char name[40];

		pool_name(name, b->pool[--b->npool]);
		unlinkat(b->dirfd, name, 0);
	}
	if (b->sync != CHR_SYNC_NEVER) {
		for (uint64_t id = b->synced; id < b->sealed; id++)
			sync_seg(b->dirfd, id);
		sync_seg(b->dirfd, b->cur);
	}
	pthread_cond_destroy(&b->cv);
	pthread_mutex_destroy(&b->mu);
	free(b);
}

/* Ask the thread for the next segment (once per segment: the one syscall
 * the append path makes, and only when the thread sleeps). */
static void ask_next(struct chr_queue_writer *w)
{
	struct chr_queue_bg *b = w->bg;

	b->asked = 1;
	pthread_mutex_lock(&b->mu);
	if (!b->want) {
		b->want = 1;
		b->failed = 0;
		b->next_id = w->id + 1;
		b->next_seg_size = w->seg_size;
		pthread_cond_signal(&b->cv);
	}
	pthread_mutex_unlock(&b->mu);
}

/* ---- the writer ---- */

static int all_zero(const unsigned char *p, size_t n)
{
	const uint64_t *q = (const uint64_t *)(const void *)p;

	for (size_t i = 0; i < n / 8; i++)
		if (q[i])
			return 0;
	return 1;
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

static void commit(struct chr_queue_writer *w, struct chr_rec *rec);

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

	if (w->id > 0 && seg_map(w->dirfd, w->id - 1, 0, &map, &size) == 0) {
		const struct chr_seg *h = (const struct chr_seg *)(const void *)map;

		if (!seg_bad(map, w->id - 1)) {
			def_scan(w, map, (h->flags & CHR_SEG_SEALED) ? h->end : size, 0);
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
		if (len < CHR_HDR_SIZE || len > CHR_REC_MAX || pos + chr_rec_span(len) > w->size ||
		    r->version != CHR_VERSION || r->crc != chr_rec_crc(r) || r->seq != seq)
			break;
		w->pos = pos;
		if (w->count % w->stride == 0)
			idx_add(w, r);
		if (r->ts < w->ts_min)
			w->ts_min = r->ts;
		if (r->ts > w->ts_max)
			w->ts_max = r->ts;
		pos += chr_rec_span(len);
		seq++;
		w->count++;
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

/* Map segment id read-write with its index (made anew when missing or
 * bad, or when its stride is not ours: the recovery rebuilds it). */
static int seg_open_rw(struct chr_queue_writer *w, uint64_t id, struct qseg *s)
{
	memset(s, 0, sizeof *s);
	if (seg_map(w->dirfd, id, 1, &s->base, &s->size) < 0)
		return -1;
	if (!(s->idx = idx_map(w->dirfd, id, 1, &s->idx_size)) ||
	    s->idx_size < idx_bytes(s->size, w->stride)) {
		if (s->idx)
			munmap(s->idx, s->idx_size);
		s->idx = NULL;
		if (idx_create(w->dirfd, id, s->size, w->stride, s) < 0)
			goto fail;
	}
	return 0;
fail:
	{
		int e = errno;

		qseg_unmap(s);
		errno = e;
	}
	return -1;
}

static void set_current(struct chr_queue_writer *w, struct qseg *s)
{
	w->base = s->base;
	w->size = s->size;
	w->idx = s->idx;
	w->idx_size = s->idx_size;
}

int chr_queue_writer_open(struct chr_queue_writer *w, const char *dir,
			  const struct chr_queue_opts *opts)
{
	uint64_t *ids = NULL;
	ssize_t n, a;
	struct chr_seg *h;
	const char *why;
	char name[32];
	struct qseg cur, spare = { 0 };
	uint64_t start;

	memset(w, 0, sizeof *w);
	w->dirfd = w->lockfd = -1;
	if (snprintf(w->dir, sizeof w->dir, "%s", dir) >= (int)sizeof w->dir)
		return qfail(w->err, &w->status, CHR_EX_SYS, ENAMETOOLONG, "%s: name too long", dir);
	w->seg_size = opts ? opts->seg_size : 0;
	w->stride = opts && opts->idx_stride ? opts->idx_stride : CHR_QUEUE_IDX_STRIDE;
	if (w->seg_size && (w->seg_size < 4096 || w->seg_size % 4096 ||
			    w->seg_size > ((uint64_t)1 << 40)))
		return qfail(w->err, &w->status, CHR_EX_USAGE, EINVAL,
			     "%s: segment size %" PRIu64 " is not a multiple of 4096 of at least 4096",
			     dir, w->seg_size);
	if (w->stride & (w->stride - 1) || (opts && (opts->roll_ns < 0 ||
	    (opts->sync == CHR_SYNC_EVERY && !opts->sync_ms))))
		return qfail(w->err, &w->status, CHR_EX_USAGE, EINVAL, "%s: bad queue options", dir);
	if (opts && (opts->flags & CHR_QUEUE_CREATE) && chr_mkdirs(dir) < 0)
		return qfail(w->err, &w->status, CHR_EX_SYS, errno, "%s: cannot create: %s",
			     dir, strerror(errno));
	if ((w->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		goto sys;
	if ((w->lockfd = openat(w->dirfd, "lock", O_RDWR | O_CREAT | O_CLOEXEC, 0666)) < 0)
		goto sys;
	if (flock(w->lockfd, LOCK_EX | LOCK_NB) < 0) {
		if (errno == EWOULDBLOCK) {
			struct chr_queue_ctl *c = ctl_map(w->dirfd, 0);

			if (c) {
				qfail(w->err, &w->status, CHR_EX_SYS, EBUSY,
				      "%s: queue is locked by another writer (pid %" PRIu64 ")",
				      dir, c->writer_pid);
				munmap(c, CTL_SIZE);
			} else {
				qfail(w->err, &w->status, CHR_EX_SYS, EBUSY,
				      "%s: queue is locked by another writer", dir);
			}
			goto out;
		}
		goto sys;
	}
	if (!(w->ctl = ctl_map(w->dirfd, 1))) {
		qfail(w->err, &w->status, CHR_EX_SYS, errno, "%s/control: %s", dir, strerror(errno));
		goto out;
	}
	w->ctl->writer_pid = (uint64_t)getpid();
	w->ctl->writer_start = chr_proc_start(getpid(), &start) == 0 ? start : 0;
	if ((n = list_ids(w->dirfd, 1, &ids)) < 0)
		goto sys;
	if (n == 0) {
		if (!w->seg_size)
			w->seg_size = CHR_QUEUE_SEG_DEFAULT;
		if (seg_create(w->dirfd, dir, w->seg_size, w->stride, 0, 0, &cur, w->err) < 0) {
			w->status = CHR_EX_SYS;
			goto out;
		}
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

		if (seg_head(w->dirfd, ids[a], &sh) == 0 && sh.base_seq != CHR_QUEUE_NO_SEQ)
			break;
	}
	if (a < 0) {
		seg_name(name, ids[n - 1]);
		qfail(w->err, &w->status, CHR_EX_DATA, EPROTO, "%s/%s: no segment has a valid header",
		      dir, name);
		goto out;
	}
	w->id = ids[a];
	if (seg_open_rw(w, w->id, &cur) < 0)
		goto sys_seg;
	set_current(w, &cur);
	if ((why = seg_bad(w->base, w->id)))
		goto data;
	h = (struct chr_seg *)w->base;
	/* Killed in a roll after giving the next segment its base_seq but before
	 * sealing this one's predecessor: undo, the predecessor is current. */
	if (a > 0 && ids[a - 1] == w->id - 1 && !(h->flags & CHR_SEG_SEALED) &&
	    w->size >= 2 * CHR_HDR_SIZE && ((struct chr_rec *)(w->base + CHR_HDR_SIZE))->len == 0) {
		struct qseg prev;

		if (seg_open_rw(w, w->id - 1, &prev) < 0) {
			w->id--;
			goto sys_seg;
		}
		if (!seg_bad(prev.base, w->id - 1) &&
		    !(((struct chr_seg *)prev.base)->flags & CHR_SEG_SEALED)) {
			h->base_seq = CHR_QUEUE_NO_SEQ;
			spare = cur;
			cur = prev;
			set_current(w, &cur);
			w->id--;
			h = (struct chr_seg *)w->base;
		} else {
			qseg_unmap(&prev);
		}
	}
	if (!spare.base && a + 1 < n && ids[a + 1] == w->id + 1 &&
	    (seg_open_rw(w, w->id + 1, &spare) < 0 ||
	     ((struct chr_seg *)spare.base)->base_seq != CHR_QUEUE_NO_SEQ))
		qseg_unmap(&spare);	/* a bad spare: created again */
	if (!w->seg_size)
		w->seg_size = w->size;
	if (h->flags & CHR_SEG_SEALED) {
		/* Killed after sealing, before the first record of the next. */
		uint64_t seq = h->base_seq + h->count;

		if (!spare.base && seg_create(w->dirfd, dir, w->seg_size, w->stride, w->id + 1,
					      seq, &spare, w->err) < 0) {
			w->status = CHR_EX_SYS;
			goto out;
		}
		((struct chr_seg *)spare.base)->base_seq = seq;
		qseg_unmap(&cur);
		cur = spare;
		memset(&spare, 0, sizeof spare);
		set_current(w, &cur);
		w->id++;
	}
	recover(w);
started:
	free(ids);
	ids = NULL;
	if (bg_start(w, opts) < 0) {
		qseg_unmap(&spare);
		goto sys;
	}
	if (opts && (opts->flags & CHR_QUEUE_RETAIN))
		chr_queue_retain(dir, opts->retain_ns, w->err);	/* then every second */
	if (spare.base) {
		w->bg->next = spare;
		w->bg->want = 1;
		w->bg->next_id = w->id + 1;
	}
	def_load(w);
	return 0;
data:
	seg_name(name, w->id);
	qfail(w->err, &w->status, CHR_EX_DATA, EPROTO, "%s/%s: %s", dir, name, why);
	goto out;
sys_seg:
	seg_name(name, w->id);
	qfail(w->err, &w->status, errno == EPROTO ? CHR_EX_DATA : CHR_EX_SYS, errno,
	      "%s/%s: %s", dir, name, errno == EPROTO ? "not a segment" : strerror(errno));
	goto out;
sys:
	qfail(w->err, &w->status, CHR_EX_SYS, errno, "%s: %s", dir, strerror(errno));
out:
	free(ids);
	qseg_unmap(&spare);
	{
		int e = errno;

		chr_queue_writer_close(w);
		errno = e;
	}
	return -1;
}

int chr_queue_writer_close(struct chr_queue_writer *w)
{
	bg_stop(w);
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

/* The pre-created segment: from the thread (waiting while it works on it),
 * else made here. */
static int take_next(struct chr_queue_writer *w, struct qseg *s)
{
	struct chr_queue_bg *b = w->bg;

	pthread_mutex_lock(&b->mu);
	if (!b->want) {
		b->want = 1;
		b->next_id = w->id + 1;
		b->next_seg_size = w->seg_size;
		pthread_cond_signal(&b->cv);
	}
	while (!b->next.base && !b->failed)
		pthread_cond_wait(&b->cv, &b->mu);
	*s = b->next;
	memset(&b->next, 0, sizeof b->next);
	b->want = 0;
	pthread_mutex_unlock(&b->mu);
	if (s->base)
		return 0;
	/* The thread failed: once more here, for a message of our own. */
	if (seg_create(w->dirfd, w->dir, w->seg_size, w->stride, w->id + 1, CHR_QUEUE_NO_SEQ,
		       s, w->err) < 0) {
		w->status = CHR_EX_SYS;
		return -1;
	}
	return 0;
}

static void wake_check(struct chr_queue_writer *w)
{
	if (__atomic_load_n(&w->ctl->sleep_mask, __ATOMIC_SEQ_CST))
		wake(w->ctl);
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
	struct qseg next, old = { w->base, w->size, w->idx, w->idx_size };
	uint16_t flags;
	int64_t ts;

	if (take_next(w, &next) < 0)
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
	b->asked = 0;
	b->sealed = w->id;
	b->cur = w->id;
	b->seg_start = now_ns(CLOCK_REALTIME);
	b->retain_due = 1;
	__atomic_store_n(&b->roll_due, 0, __ATOMIC_RELAXED);
	pthread_cond_signal(&b->cv);
	pthread_mutex_unlock(&b->mu);
	if (old.base)
		qseg_unmap(&old);
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

static void commit(struct chr_queue_writer *w, struct chr_rec *rec)
{
	uint32_t len = w->res_len;
	size_t span = chr_rec_span(len);
	uint32_t crc;

	rec->seq = w->seq;
	if (rec->src_seq == 0 && !(rec->flags & CHR_F_REPEAT))
		rec->src_seq = w->seq;
	rec->version = CHR_VERSION;
	memset(rec->reserved, 0, sizeof rec->reserved);
	memset((char *)rec + len, 0, span - len);
	crc = chr_crc32c(0, (const char *)rec + 4, 56);
	rec->crc = chr_crc32c(crc, (const char *)rec + CHR_HDR_SIZE, len - CHR_HDR_SIZE);
	/* The commit. A full barrier: a reader that announced its sleep
	 * before this sees the record, or we see its announcement. */
	__atomic_exchange_n(&rec->len, len, __ATOMIC_SEQ_CST);
	wake_check(w);
	if (w->count % w->stride == 0)
		idx_add(w, rec);
	if (rec->ts < w->ts_min)
		w->ts_min = rec->ts;
	if (rec->ts > w->ts_max)
		w->ts_max = rec->ts;
	w->count++;
	w->seq++;
	w->pos += span;
	w->res = NULL;
	if (w->pos > w->size / 2 && !w->bg->asked)
		ask_next(w);
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
		if (sync_seg(w->dirfd, id) < 0)
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

		seg_name(name, id);
		return qfail(w->err, &w->status, CHR_EX_SYS, e, "%s/%s: cannot sync: %s", w->dir,
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

/* ---- readers ---- */

static int rsys(struct chr_queue_reader *r, uint64_t id, const char *what)
{
	char name[32];

	seg_name(name, id);
	return qfail(r->err, &r->status, errno == EPROTO ? CHR_EX_DATA : CHR_EX_SYS, errno,
		     "%s/%s: %s", r->dir, name, errno == EPROTO ? "not a segment" : what);
}

static int rdata(struct chr_queue_reader *r, uint64_t off, const char *what)
{
	char name[32];

	/* retention gave the file we map to a later segment */
	if (((const struct chr_seg *)r->base)->id != r->id)
		what = "removed (retention) while it was read";
	seg_name(name, r->id);
	return qfail(r->err, &r->status, CHR_EX_DATA, EPROTO, "%s/%s: byte %" PRIu64 ": %s",
		     r->dir, name, off, what);
}

static void unmap_old(struct chr_queue_reader *r)
{
	if (r->old)
		munmap((void *)r->old, r->old_size);
	r->old = NULL;
}

/* A piece of the old segment's mapping, from its end: a reader that
 * finds nothing new pays for a fraction of a millisecond at a time. */
static void unmap_step(struct chr_queue_reader *r)
{
	uint64_t step = (uint64_t)1 << 20;

	if (r->old_size <= step) {
		unmap_old(r);
		return;
	}
	r->old_size -= step;
	munmap((void *)(r->old + r->old_size), step);
}

/* Make segment id current, at its first record. Returns 0, or -1 with
 * errno (ENOENT: it is gone) and r->err. */
static int reader_goto(struct chr_queue_reader *r, uint64_t id)
{
	unsigned char *map;
	uint64_t size;
	const char *why;
	char name[32];

	if (seg_map(r->dirfd, id, 0, &map, &size) < 0)
		return rsys(r, id, strerror(errno));
	if ((why = seg_bad(map, id))) {
		munmap(map, size);
		seg_name(name, id);
		return qfail(r->err, &r->status, CHR_EX_DATA, EPROTO, "%s/%s: %s", r->dir, name, why);
	}
	/* Unmapping a populated 64 MiB mapping takes milliseconds: the old
	 * segment waits until the reader is idle (or the next move). */
	unmap_old(r);
	r->old = r->base;
	r->old_size = r->size;
	r->base = map;
	r->size = size;
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
		uint64_t *ids = NULL;
		ssize_t n = list_ids(r->dirfd, 0, &ids), i, pick = -1, first = -1, last = -1;
		struct chr_seg h;

		if (n < 0) {
			qfail(r->err, &r->status, CHR_EX_SYS, errno, "%s: %s", r->dir, strerror(errno));
			break;
		}
		for (i = 0; i < n; i++) {
			if (seg_head(r->dirfd, ids[i], &h) < 0) {
				char name[32];

				if (errno == ENOENT)
					continue;	/* retention, just now */
				seg_name(name, ids[i]);
				qfail(r->err, &r->status, CHR_EX_DATA, EPROTO, "%s/%s: %s", r->dir,
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
			qfail(r->err, &r->status, CHR_EX_SYS, ENOENT, "%s: no queue segment", r->dir);
			break;
		}
		i = reader_goto(r, ids[pick]);
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
	struct chr_queue_idx *x = idx_map(r->dirfd, r->id, 0, size);

	if (x && !(*count = idx_count(x, *size))) {
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
		return qfail(r->err, &r->status, CHR_EX_SYS, ENAMETOOLONG, "%s: name too long", dir);
	if ((r->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return qfail(r->err, &r->status, CHR_EX_SYS, errno, "%s: %s", dir, strerror(errno));
	r->ctl = ctl_map(r->dirfd, 0);	/* none: chr_queue_wait polls */
	if (chr_proc_start(getpid(), &r->start) < 0)
		r->start = 0;
	return chr_queue_seek_seq(r, from_seq);
}

void chr_queue_reader_close(struct chr_queue_reader *r)
{
	unmap_old(r);
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

/* The current segment is sealed and read to its end: map the next one.
 * Returns 1 when moved, 0 when it is not there yet, -1 on error. */
static int advance(struct chr_queue_reader *r)
{
	const struct chr_seg *h = (const struct chr_seg *)r->base;
	uint64_t seq = h->base_seq + h->count, id = r->id;
	struct chr_seg nh;
	const char *why;

	if ((why = chr_seg_check(h)))
		return rdata(r, 0, why);
	if (r->pos != h->end)
		return rdata(r, r->pos, "unwritten space before the end of a sealed segment");
	if (seg_head(r->dirfd, id + 1, &nh) < 0 && errno == ENOENT) {
		uint64_t *ids;
		ssize_t n = list_ids(r->dirfd, 0, &ids);
		int gone = n > 0 && ids[n - 1] > id + 1;

		if (n > 0)
			free(ids);
		if (!gone)
			return 0;
		errno = ENOENT;
		return rsys(r, id + 1, "removed (retention) before it was read");
	}
	if (reader_goto(r, id + 1) < 0)
		return errno == ENOENT ? 0 : -1;
	if (((const struct chr_seg *)r->base)->base_seq != seq) {
		char name[32];

		seg_name(name, r->id);
		return qfail(r->err, &r->status, CHR_EX_DATA, EPROTO,
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
				if (h->id != r->id)
					return rdata(r, r->pos, "recycled");
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
		if ((why = chr_rec_check(rec)))
			return rdata(r, r->pos, why);
		if (r->started && rec->seq != r->want)
			return rdata(r, r->pos, "seq out of order");
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

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

int chr_queue_wait(struct chr_queue_reader *r, unsigned spin_us, int timeout_ms)
{
	struct chr_queue_ctl *c = r->ctl;
	int64_t t0, deadline, left;
	int slot = -1, rc = 0;
	uint32_t pid = (uint32_t)getpid(), v;
	struct timespec ts;

	if (chr_queue_ready(r))
		return 1;
	t0 = now_ns(CLOCK_MONOTONIC);
	for (unsigned i = 1; spin_us; i++) {
		cpu_relax();
		if (chr_queue_ready(r))
			return 1;
		if (!(i & 63) && now_ns(CLOCK_MONOTONIC) - t0 >= (int64_t)spin_us * 1000)
			break;
	}
	deadline = timeout_ms < 0 ? INT64_MAX : t0 + (int64_t)timeout_ms * 1000000;
	for (int i = 0; c && i < CHR_QUEUE_SLEEPERS && slot < 0; i++) {
		uint32_t zero = 0;

		if (__atomic_compare_exchange_n(&c->sleeper[i].pid, &zero, pid, 0,
						__ATOMIC_SEQ_CST, __ATOMIC_RELAXED))
			slot = i;
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
	v = __atomic_load_n(&c->wake, __ATOMIC_SEQ_CST);
	__atomic_fetch_or(&c->sleep_mask, (uint64_t)1 << slot, __ATOMIC_SEQ_CST);
	while (!chr_queue_ready(r)) {
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
		v = __atomic_load_n(&c->wake, __ATOMIC_SEQ_CST);
	}
	__atomic_fetch_and(&c->sleep_mask, ~((uint64_t)1 << slot), __ATOMIC_SEQ_CST);
	__atomic_store_n(&c->sleeper[slot].pid, 0, __ATOMIC_RELEASE);
	return rc < 0 ? chr_queue_ready(r) : 1;
}

/* ---- retention, options ---- */

/* Retention; a removed segment goes to keep() first, which may take it
 * (rename it for reuse) instead of it being unlinked. */
static ssize_t retain(const char *dir, int64_t age_ns, char *err,
		      int (*keep)(void *ctx, int dirfd, uint64_t id), void *ctx)
{
	struct chr_queue_pos_info *rd = NULL;
	ssize_t nr = chr_queue_pos_list(dir, &rd, err), n, i, removed = 0;
	uint64_t min = UINT64_MAX, *ids = NULL;
	int64_t cutoff = now_ns(CLOCK_REALTIME) - age_ns;
	int dirfd, st;

	if (nr < 0)
		return -1;
	for (i = 0; i < nr; i++)
		if (rd[i].live && rd[i].seq < min)
			min = rd[i].seq;
	free(rd);
	if ((dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
	    (n = list_ids(dirfd, 0, &ids)) < 0) {
		qfail(err, &st, CHR_EX_SYS, errno, "%s: %s", dir, strerror(errno));
		if (dirfd >= 0)
			close(dirfd);
		return -1;
	}
	for (i = 0; i + 1 < n; i++) {
		struct chr_seg h;
		char name[32];

		if (seg_head(dirfd, ids[i], &h) < 0 || !(h.flags & CHR_SEG_SEALED) ||
		    (h.count && h.ts_max >= cutoff) || h.base_seq + h.count > min)
			break;
		seg_name(name, ids[i]);
		if (!(keep && keep(ctx, dirfd, ids[i])) && unlinkat(dirfd, name, 0) < 0) {
			qfail(err, &st, CHR_EX_SYS, errno, "%s/%s: cannot remove: %s", dir, name,
			      strerror(errno));
			removed = -1;
			break;
		}
		idx_name(name, ids[i]);
		unlinkat(dirfd, name, 0);
		removed++;
	}
	free(ids);
	close(dirfd);
	return removed;
}

ssize_t chr_queue_retain(const char *dir, int64_t age_ns, char *err)
{
	return retain(dir, age_ns, err, NULL, NULL);
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
