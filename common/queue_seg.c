/* queue_seg.c - the files of a queue: segments and their indexes (mapped,
 * created by temp + fsync + rename), the control file with the readers'
 * futex, and the listing of the segments. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>

#include "err.h"
#include "queue_int.h"

ssize_t chr_q_list(int dirfd, const char *dir, int rm_tmp, struct chr_segdir_ent **ids)
{
	return chr_segdir_list(dirfd, dir, rm_tmp ? CHR_SEGDIR_RMTMP : 0, ids, NULL);
}

void chr_q_seg_name(char buf[32], uint64_t id)
{
	snprintf(buf, 32, "%09" PRIu64 ".q", id);
}

/* Open segment id, its size checked. Returns the descriptor, or -1 with
 * errno (EPROTO when the file cannot be a segment). */
int chr_q_seg_open(int dirfd, uint64_t id, int rw, struct stat *st)
{
	char name[32];
	int fd;

	chr_q_seg_name(name, id);
	fd = openat(dirfd, name, (rw ? O_RDWR : O_RDONLY) | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (fstat(fd, st) < 0)
		goto fail;
	if (st->st_size < (off_t)sizeof(struct chr_seg) || st->st_size % CHR_ALIGN != 0) {
		errno = EPROTO;
		goto fail;
	}
	return fd;
fail:
	{
		int e = errno;

		close(fd);
		errno = e;
	}
	return -1;
}

/* Map segment id: read-write or read-only, its whole file. */
int chr_q_seg_map(int dirfd, uint64_t id, int rw, unsigned char **map, uint64_t *size,
		  uint64_t *step)
{
	struct stat st;
	void *p;
	int fd = chr_q_seg_open(dirfd, id, rw, &st);

	if (fd < 0)
		return -1;
	p = mmap(NULL, (size_t)st.st_size, rw ? PROT_READ | PROT_WRITE : PROT_READ,
		 MAP_SHARED, fd, 0);
	if (step)
		*step = chr_q_step(fd);
	close(fd);
	if (p == MAP_FAILED)
		return -1;
	*map = p;
	*size = (uint64_t)st.st_size;
	return 0;
}

/* Why the header of segment id is not one, or NULL. */
const char *chr_q_seg_bad(const unsigned char *map, uint64_t id)
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
int chr_q_seg_head(int dirfd, uint64_t id, struct chr_seg *h)
{
	char name[32];
	int fd;
	ssize_t n;

	chr_q_seg_name(name, id);
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

void chr_q_idx_name(char buf[32], uint64_t id)
{
	snprintf(buf, 32, "%09" PRIu64 ".idx", id);
}

/* Bytes of the index of a segment of seg_size bytes: an entry for every
 * stride records it can hold, rounded up to a page. */
uint64_t chr_q_idx_bytes(uint64_t seg_size, uint32_t stride)
{
	uint64_t recs = (seg_size - CHR_HDR_SIZE) / CHR_ALIGN;
	uint64_t n = sizeof(struct chr_queue_idx) +
		     (recs / stride + 1) * sizeof(struct chr_queue_idx_entry);

	return (n + 4095) & ~(uint64_t)4095;
}

/* Map the index of segment id, read-write or read-only. Returns NULL (errno
 * set) when it is missing or not an index of that segment. */
struct chr_queue_idx *chr_q_idx_map(int dirfd, uint64_t id, int rw, uint64_t *size)
{
	char name[32];
	struct stat st;
	struct chr_queue_idx *x;
	int fd;

	chr_q_idx_name(name, id);
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

/* ---- segment files ---- */

/* Segments are allocated, populated and unmapped in steps of this many
 * bytes: each step is one short system call, so that the other processes
 * of a pipeline on a machine of few cores get a CPU between the steps,
 * instead of waiting out milliseconds of page zeroing (a 16 MiB segment
 * costs about 12 ms of it). */
#define STEP ((uint64_t)1 << 18)

static inline uint64_t step_len(uint64_t size, uint64_t off, uint64_t step)
{
	return size - off < step ? size - off : step;
}

uint64_t chr_q_step(int fd)
{
	struct stat st;
	struct statfs fs;

	/* tmpfs says 2 MiB in st_blksize where its mount gives huge pages */
	if (fstat(fd, &st) == 0 && st.st_blksize == 2L << 20 && fstatfs(fd, &fs) == 0 &&
	    fs.f_type == TMPFS_MAGIC)
		return (uint64_t)2 << 20;
	return STEP;
}

void chr_q_step_pause(const struct qpace *pace, int64_t *t)
{
	int64_t took = now_ns(CLOCK_MONOTONIC) - *t;
	struct timespec ts = { 0, 0 };

	if (pace && !__atomic_load_n(&pace->hurry, __ATOMIC_RELAXED) &&
	    now_ns(CLOCK_REALTIME) < pace->due) {
		/* three times as long as the step took, at most 1 ms: the
		 * work takes at most about a quarter of a CPU */
		ts.tv_nsec = took < 1000000 / 3 ? 3 * took : 1000000;
		nanosleep(&ts, NULL);
	}
	*t = now_ns(CLOCK_MONOTONIC);
}

void chr_q_unmap_paced(struct qseg *s, const struct qpace *pace)
{
	int64_t t = now_ns(CLOCK_MONOTONIC);
	uint64_t step = s->step ? s->step : STEP;

	if (s->base && !pace)
		munmap(s->base, s->size);
	for (uint64_t off = 0; s->base && pace && off < s->size; off += step) {
		if (off)
			chr_q_step_pause(pace, &t);
		munmap(s->base + off, step_len(s->size, off, step));
	}
	if (s->idx)
		munmap(s->idx, s->idx_size);
	memset(s, 0, sizeof *s);
}

void chr_q_unmap(struct qseg *s)
{
	chr_q_unmap_paced(s, NULL);
}

/* Does this kernel have MADV_POPULATE_READ (5.14)? 1 until it says no. */
static int populate_madv = 1;

/* Populate [off, off + n) of p, a mapping of fd: page cache pages read in
 * (never dirtied, so a segment on a disk file system is not written out
 * as zeros). Returns 0, or -1 with errno. */
static int populate(char *p, int fd, uint64_t off, uint64_t n)
{
	if (__atomic_load_n(&populate_madv, __ATOMIC_RELAXED)) {
		if (madvise(p + off, n, MADV_POPULATE_READ) == 0)
			return 0;
		if (errno != EINVAL)
			return -1;
		__atomic_store_n(&populate_madv, 0, __ATOMIC_RELAXED);
	}
	/* an older kernel: the same range mapped again, populated */
	return mmap(p + off, n, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED | MAP_POPULATE,
		    fd, (off_t)off) == MAP_FAILED ? -1 : 0;
}

void *chr_q_map_populated(int fd, uint64_t size, const struct qpace *pace, uint64_t *step)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	int64_t t = now_ns(CLOCK_MONOTONIC);
	int e;

	if (p == MAP_FAILED)
		return NULL;
	*step = chr_q_step(fd);
	for (uint64_t off = 0; off < size; off += *step) {
		if (off)
			chr_q_step_pause(pace, &t);
		if (populate(p, fd, off, step_len(size, off, *step)) < 0) {
			e = errno;
			munmap(p, size);
			errno = e;
			return NULL;
		}
	}
	return p;
}

int chr_q_publish(int dirfd, const char *name, uint64_t size, const void *head, size_t n,
		  const struct qpace *pace)
{
	char tmp[48];
	int64_t t = now_ns(CLOCK_MONOTONIC);
	int fd, e = 0;

	snprintf(tmp, sizeof tmp, "%s.tmp", name);
	if ((fd = openat(dirfd, tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0666)) < 0)
		return -1;
	/* the size first: tmpfs mounted huge=within_size gives a file huge
	 * pages only where its size already covers them */
	if (ftruncate(fd, (off_t)size) < 0)
		e = errno;
	for (uint64_t off = 0; off < size && !e; off += STEP) {
		if (off)
			chr_q_step_pause(pace, &t);
		if ((e = posix_fallocate(fd, (off_t)off, (off_t)step_len(size, off, STEP))) != 0)
			errno = e;
	}
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
int chr_q_idx_create(int dirfd, uint64_t id, uint64_t seg_size, uint32_t stride, struct qseg *s)
{
	struct chr_queue_idx x = { .magic = CHR_QUEUE_IDX_MAGIC, .version = CHR_VERSION,
				   .stride = stride, .id = id };
	char name[32];
	void *p;
	int fd;

	s->idx_size = chr_q_idx_bytes(seg_size, stride);
	chr_q_idx_name(name, id);
	if ((fd = chr_q_publish(dirfd, name, s->idx_size, &x, sizeof x, NULL)) < 0)
		return -1;
	p = mmap(NULL, s->idx_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0);
	close(fd);
	if (p == MAP_FAILED)
		return -1;
	s->idx = p;
	return 0;
}

/* Create segment id (its index first) and map both read-write, populated
 * so that first writes do not fault. Returns 0, or -1 with e (CHR_EX_SYS). */
int chr_q_seg_create(int dirfd, const char *dir, uint64_t seg_size, uint32_t stride,
		      uint64_t id, uint64_t base_seq, const struct qpace *pace, struct qseg *s,
		      struct chr_err *e)
{
	struct chr_seg h = { .magic = CHR_SEG_MAGIC, .version = CHR_VERSION,
			     .id = id, .base_seq = base_seq };
	char name[32];
	int fd;
	void *p;

	memset(s, 0, sizeof *s);
	chr_q_idx_name(name, id);
	if (chr_q_idx_create(dirfd, id, seg_size, stride, s) < 0)
		goto fail;
	chr_q_seg_name(name, id);
	if ((fd = chr_q_publish(dirfd, name, seg_size, &h, sizeof h, pace)) < 0)
		goto fail;
	p = chr_q_map_populated(fd, seg_size, pace, &s->step);
	close(fd);
	if (!p)
		goto fail;
	s->base = p;
	s->size = seg_size;
	return 0;
fail:
	chr_q_fail(e, CHR_EX_SYS, errno, "%s/%s: cannot create: %s", dir, name, strerror(errno));
	chr_q_unmap(s);
	errno = EIO;
	return -1;
}

/* ---- the control file ---- */
/* Map dir's control file; the writer (create) makes or repairs it. NULL
 * when missing or not one (errno). */
struct chr_queue_ctl *chr_q_ctl_map(int dirfd, int create)
{
	struct chr_queue_ctl *c;
	struct stat st;
	int fd = openat(dirfd, "control", O_RDWR | O_CLOEXEC);

	if (fd < 0 && create && errno == ENOENT) {
		struct chr_queue_ctl init = { .magic = CHR_QUEUE_CTL_MAGIC, .version = CHR_VERSION };

		fd = chr_q_publish(dirfd, "control", CTL_SIZE, &init, sizeof init, NULL);
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

/* Take back every sleeper's announcement and wake them all: one wake-up
 * a sleep (the sleepers announce again), not one a commit. */
void chr_q_wake(struct chr_queue_ctl *c)
{
	if (!__atomic_exchange_n(&c->sleep_mask, 0, __ATOMIC_SEQ_CST))
		return;
	__atomic_fetch_add(&c->wake, 1, __ATOMIC_SEQ_CST);
	futex(&c->wake, FUTEX_WAKE, INT32_MAX, NULL);
}

/* Free the sleeper slots of processes that died asleep, so that the writer
 * stops waking them. */
void chr_q_reap_sleepers(struct chr_queue_ctl *c)
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


/* ---- segments that should be sealed ---- */

/* A later segment shows that the unsealed segment id should have been
 * sealed: one past id + 1 with a base_seq, or id + 1 with a base_seq that
 * is sealed or holds a record (a roll seals before its first append).
 * id + 1 with a base_seq and nothing else is a roll under way. */
int chr_q_unsealed_check(int dirfd, const char *dir, uint64_t id, struct chr_err *e)
{
	struct chr_segdir_ent *ids = NULL;
	ssize_t n = chr_q_list(dirfd, dir, 0, &ids), i;
	char name[32], next[32];
	struct chr_seg h;
	uint64_t by = 0;
	int found = 0;

	if (n < 0)
		return chr_q_fail(e, CHR_EX_SYS, errno, "%s: %s", dir, strerror(errno));
	for (i = 0; i < n && !found; i++) {
		uint32_t len = 0;

		if (ids[i].id <= id || chr_q_seg_head(dirfd, ids[i].id, &h) < 0 ||
		    h.base_seq == CHR_QUEUE_NO_SEQ)
			continue;
		if (ids[i].id == id + 1 && !(h.flags & CHR_SEG_SEALED)) {
			int fd;

			chr_q_seg_name(name, ids[i].id);
			if ((fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC)) < 0)
				continue;
			if (pread(fd, &len, sizeof len, CHR_HDR_SIZE) != (ssize_t)sizeof len)
				len = 0;
			close(fd);
			if (!len)
				continue;
		}
		found = 1;
		by = ids[i].id;
	}
	free(ids);
	/* the writer may have sealed it since we looked */
	if (!found || (chr_q_seg_head(dirfd, id, &h) == 0 && (h.flags & CHR_SEG_SEALED)))
		return 0;
	chr_q_seg_name(name, id);
	chr_q_seg_name(next, by);
	chr_q_fail(e, CHR_EX_DATA, EPROTO, "%s/%s: not sealed, but %s follows it", dir, name,
		   next);
	return 1;
}

int chr_queue_unsealed_check(const char *dir, uint64_t id, struct chr_err *e)
{
	int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), k;

	if (dirfd < 0)
		return chr_q_fail(e, CHR_EX_SYS, errno, "%s: %s", dir, strerror(errno));
	k = chr_q_unsealed_check(dirfd, dir, id, e);
	close(dirfd);
	return k;
}
