/* queue.c - mapped segment queue: segment files, the single writer with its
 * crash recovery, and lock-free readers that follow it across rolls. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "err.h"
#include "path.h"
#include "queue.h"

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
 * rm_tmp, leftover "NNNNNNNNN.q.tmp" files are removed. Returns the count,
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

		if (len < 11)
			continue;
		for (int i = 0; i < 9; i++)
			if (s[i] < '0' || s[i] > '9')
				digits = 0;
		if (!digits)
			continue;
		if (len == 15 && strcmp(s + 9, ".q.tmp") == 0) {
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

static uint64_t seg_base_seq(int dirfd, uint64_t id)
{
	char name[32];
	struct chr_seg h;
	int fd;
	ssize_t n;

	seg_name(name, id);
	if ((fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC)) < 0)
		return CHR_QUEUE_NO_SEQ;
	n = pread(fd, &h, sizeof h, 0);
	close(fd);
	if (n != (ssize_t)sizeof h || chr_seg_check(&h))
		return CHR_QUEUE_NO_SEQ;
	return h.base_seq;
}

/* Create segment id of w->seg_size bytes: a ".tmp" with its header,
 * preallocated, fsynced, renamed into place, directory fsynced; then map
 * it read-write (populated, so first writes do not fault). */
static int seg_create(struct chr_queue_writer *w, uint64_t id, uint64_t base_seq,
		      unsigned char **map, uint64_t *size)
{
	char name[32], tmp[40];
	struct chr_seg h = { .magic = CHR_SEG_MAGIC, .version = CHR_VERSION,
			     .id = id, .base_seq = base_seq };
	void *p;
	int fd, e;

	seg_name(name, id);
	snprintf(tmp, sizeof tmp, "%s.tmp", name);
	fd = openat(w->dirfd, tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
	if (fd < 0)
		goto fail;
	if ((e = posix_fallocate(fd, 0, (off_t)w->seg_size)) != 0) {
		errno = e;
		goto fail_fd;
	}
	if (chr_pwrite_all(fd, &h, sizeof h, 0) < 0 || fsync(fd) < 0 ||
	    renameat(w->dirfd, tmp, w->dirfd, name) < 0)
		goto fail_fd;
	if (fsync(w->dirfd) < 0)
		goto fail_fd;
	p = mmap(NULL, w->seg_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0);
	if (p == MAP_FAILED)
		goto fail_fd;
	close(fd);
	*map = p;
	*size = w->seg_size;
	return 0;
fail_fd:
	e = errno;
	close(fd);
	unlinkat(w->dirfd, tmp, 0);
	errno = e;
fail:
	return qfail(w->err, &w->status, CHR_EX_SYS, errno, "%s/%s: cannot create segment: %s",
		     w->dir, name, strerror(errno));
}

static int precreate(struct chr_queue_writer *w)
{
	if (seg_create(w, w->id + 1, CHR_QUEUE_NO_SEQ, &w->next, &w->next_size) < 0) {
		w->next = NULL;
		w->next_failed = 1;
		return -1;
	}
	return 0;
}

static int all_zero(const unsigned char *p, size_t n)
{
	const uint64_t *q = (const uint64_t *)(const void *)p;

	for (size_t i = 0; i < n / 8; i++)
		if (q[i])
			return 0;
	return 1;
}

/* Scan the current segment from its header: keep the good records, zero
 * everything after the last one (its commit word first), and set pos, seq,
 * count and ts_min/ts_max. */
static void recover(struct chr_queue_writer *w)
{
	const struct chr_seg *h = (const struct chr_seg *)w->base;
	uint64_t pos = CHR_HDR_SIZE, seq = h->base_seq;

	w->count = 0;
	w->ts_min = INT64_MAX;
	w->ts_max = INT64_MIN;
	while (pos + CHR_HDR_SIZE <= w->size) {
		struct chr_rec *r = (struct chr_rec *)(w->base + pos);
		uint32_t len = r->len;

		if (len < CHR_HDR_SIZE || len > CHR_REC_MAX ||
		    pos + chr_rec_span(len) > w->size || chr_rec_check(r) || r->seq != seq)
			break;
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
	w->pos = pos;
	w->seq = seq;
}

int chr_queue_writer_open(struct chr_queue_writer *w, const char *dir,
			  const struct chr_queue_opts *opts)
{
	uint64_t *ids = NULL;
	ssize_t n;
	ssize_t a;
	struct chr_seg *h;
	const char *why;
	char name[32];

	memset(w, 0, sizeof *w);
	w->dirfd = w->lockfd = -1;
	if (snprintf(w->dir, sizeof w->dir, "%s", dir) >= (int)sizeof w->dir)
		return qfail(w->err, &w->status, CHR_EX_SYS, ENAMETOOLONG, "%s: name too long", dir);
	w->seg_size = opts ? opts->seg_size : 0;
	if (w->seg_size && (w->seg_size < 4096 || w->seg_size % 4096 ||
			    w->seg_size > ((uint64_t)1 << 40)))
		return qfail(w->err, &w->status, CHR_EX_USAGE, EINVAL,
			     "%s: segment size %" PRIu64 " is not a multiple of 4096 of at least 4096",
			     dir, w->seg_size);
	if (opts && (opts->flags & CHR_QUEUE_CREATE) && chr_mkdirs(dir) < 0)
		return qfail(w->err, &w->status, CHR_EX_SYS, errno, "%s: cannot create: %s",
			     dir, strerror(errno));
	if ((w->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		goto sys;
	if ((w->lockfd = openat(w->dirfd, "lock", O_RDWR | O_CREAT | O_CLOEXEC, 0666)) < 0)
		goto sys;
	if (flock(w->lockfd, LOCK_EX | LOCK_NB) < 0) {
		if (errno == EWOULDBLOCK) {
			qfail(w->err, &w->status, CHR_EX_SYS, EBUSY,
			      "%s: queue is locked by another writer", dir);
			goto out;
		}
		goto sys;
	}
	if ((n = list_ids(w->dirfd, 1, &ids)) < 0)
		goto sys;
	if (n == 0) {
		if (!w->seg_size)
			w->seg_size = CHR_QUEUE_SEG_DEFAULT;
		if (seg_create(w, 0, 0, &w->base, &w->size) < 0)
			goto out;
		w->pos = CHR_HDR_SIZE;
		w->ts_min = INT64_MAX;
		w->ts_max = INT64_MIN;
		free(ids);
		return 0;
	}
	/* The current segment is the last one with a base_seq; pre-created
	 * spares after it have none. */
	for (a = n - 1; a >= 0 && seg_base_seq(w->dirfd, ids[a]) == CHR_QUEUE_NO_SEQ; a--)
		;
	if (a < 0) {
		seg_name(name, ids[n - 1]);
		qfail(w->err, &w->status, CHR_EX_DATA, EPROTO, "%s/%s: no segment has a valid header",
		      dir, name);
		goto out;
	}
	w->id = ids[a];
	if (seg_map(w->dirfd, w->id, 1, &w->base, &w->size) < 0)
		goto sys_seg;
	if ((why = seg_bad(w->base, w->id)))
		goto data;
	h = (struct chr_seg *)w->base;
	/* Killed in a roll after giving the next segment its base_seq but before
	 * sealing this one's predecessor: undo, the predecessor is current. */
	if (a > 0 && ids[a - 1] == w->id - 1 && !(h->flags & CHR_SEG_SEALED) &&
	    w->size >= 2 * CHR_HDR_SIZE && ((struct chr_rec *)(w->base + CHR_HDR_SIZE))->len == 0) {
		unsigned char *prev;
		uint64_t psize;

		if (seg_map(w->dirfd, w->id - 1, 1, &prev, &psize) < 0) {
			w->id--;
			goto sys_seg;
		}
		if (!seg_bad(prev, w->id - 1) &&
		    !(((struct chr_seg *)prev)->flags & CHR_SEG_SEALED)) {
			h->base_seq = CHR_QUEUE_NO_SEQ;
			w->next = w->base;
			w->next_size = w->size;
			w->base = prev;
			w->size = psize;
			w->id--;
			h = (struct chr_seg *)w->base;
		} else {
			munmap(prev, psize);
		}
	}
	if (!w->next && a + 1 < n && ids[a + 1] == w->id + 1 &&
	    seg_map(w->dirfd, w->id + 1, 1, &w->next, &w->next_size) < 0)
		w->next = NULL;	/* a bad spare: created again at the roll */
	if (!w->seg_size)
		w->seg_size = w->size;
	if (h->flags & CHR_SEG_SEALED) {
		/* Killed after sealing, before the first record of the next. */
		uint64_t seq = h->base_seq + h->count;

		if (!w->next && seg_create(w, w->id + 1, seq, &w->next, &w->next_size) < 0)
			goto out;
		((struct chr_seg *)w->next)->base_seq = seq;
		munmap(w->base, w->size);
		w->base = w->next;
		w->size = w->next_size;
		w->next = NULL;
		w->id++;
	}
	recover(w);
	free(ids);
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
	{
		int e = errno;

		chr_queue_writer_close(w);
		errno = e;
	}
	return -1;
}

int chr_queue_writer_close(struct chr_queue_writer *w)
{
	if (w->base)
		munmap(w->base, w->size);
	if (w->next)
		munmap(w->next, w->next_size);
	w->base = w->next = NULL;
	w->res = NULL;
	if (w->lockfd >= 0)
		close(w->lockfd);
	if (w->dirfd >= 0)
		close(w->dirfd);
	w->lockfd = w->dirfd = -1;
	return 0;
}

/* Seal the current segment and make the pre-created one current. */
static int roll(struct chr_queue_writer *w)
{
	struct chr_seg *h = (struct chr_seg *)w->base, tmp;

	if (!w->next && precreate(w) < 0)
		return -1;
	/* The next segment's base_seq is final before SEALED is visible. */
	((struct chr_seg *)w->next)->base_seq = w->seq;
	h->end = w->pos;
	h->count = w->count;
	h->ts_min = w->count ? w->ts_min : 0;
	h->ts_max = w->count ? w->ts_max : 0;
	tmp = *h;
	tmp.flags |= CHR_SEG_SEALED;
	h->crc = chr_seg_crc(&tmp);
	__atomic_store_n(&h->flags, tmp.flags, __ATOMIC_RELEASE);
	munmap(w->base, w->size);
	w->base = w->next;
	w->size = w->next_size;
	w->next = NULL;
	w->next_failed = 0;
	w->id++;
	w->pos = CHR_HDR_SIZE;
	w->count = 0;
	w->ts_min = INT64_MAX;
	w->ts_max = INT64_MIN;
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
	if (w->pos + span > w->size && roll(w) < 0)
		return NULL;
	w->res = (struct chr_rec *)(w->base + w->pos);
	w->res_len = len;
	return w->res;
}

void chr_queue_commit(struct chr_queue_writer *w, struct chr_rec *rec)
{
	uint32_t len = w->res_len;
	size_t span = chr_rec_span(len);
	uint32_t crc;

	rec->seq = w->seq;
	if (rec->src_seq == 0)
		rec->src_seq = w->seq;
	rec->version = CHR_VERSION;
	memset(rec->reserved, 0, sizeof rec->reserved);
	memset((char *)rec + len, 0, span - len);
	crc = chr_crc32c(0, (const char *)rec + 4, 56);
	rec->crc = chr_crc32c(crc, (const char *)rec + CHR_HDR_SIZE, len - CHR_HDR_SIZE);
	__atomic_store_n(&rec->len, len, __ATOMIC_RELEASE);	/* the commit */
	if (rec->ts < w->ts_min)
		w->ts_min = rec->ts;
	if (rec->ts > w->ts_max)
		w->ts_max = rec->ts;
	w->count++;
	w->seq++;
	w->pos += span;
	w->res = NULL;
	if (!w->next && !w->next_failed && w->pos > w->size / 2)
		precreate(w);
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

int chr_queue_reader_open(struct chr_queue_reader *r, const char *dir, uint64_t from_seq)
{
	uint64_t *ids = NULL;
	ssize_t n, i, pick = 0;
	const char *why;
	char name[32];

	memset(r, 0, sizeof *r);
	r->dirfd = -1;
	if (snprintf(r->dir, sizeof r->dir, "%s", dir) >= (int)sizeof r->dir)
		return qfail(r->err, &r->status, CHR_EX_SYS, ENAMETOOLONG, "%s: name too long", dir);
	if ((r->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
	    (n = list_ids(r->dirfd, 0, &ids)) < 0) {
		qfail(r->err, &r->status, CHR_EX_SYS, errno, "%s: %s", dir, strerror(errno));
		goto fail;
	}
	if (n == 0) {
		qfail(r->err, &r->status, CHR_EX_SYS, ENOENT, "%s: no queue segment", dir);
		goto fail;
	}
	/* The last segment that starts at or before from_seq (no index yet:
	 * the records before from_seq in it are skipped one by one). */
	for (i = n - 1; i >= 0; i--) {
		uint64_t b = seg_base_seq(r->dirfd, ids[i]);

		if (b != CHR_QUEUE_NO_SEQ && b <= from_seq) {
			pick = i;
			break;
		}
	}
	r->id = ids[pick];
	free(ids);
	ids = NULL;
	seg_name(name, r->id);
	if (seg_map(r->dirfd, r->id, 0, (unsigned char **)&r->base, &r->size) < 0) {
		qfail(r->err, &r->status, errno == EPROTO ? CHR_EX_DATA : CHR_EX_SYS, errno,
		      "%s/%s: %s", dir, name, errno == EPROTO ? "not a segment" : strerror(errno));
		goto fail;
	}
	if ((why = seg_bad(r->base, r->id))) {
		qfail(r->err, &r->status, CHR_EX_DATA, EPROTO, "%s/%s: %s", dir, name, why);
		goto fail;
	}
	r->pos = CHR_HDR_SIZE;
	r->want = from_seq;
	return 0;
fail:
	free(ids);
	{
		int e = errno;

		chr_queue_reader_close(r);
		errno = e;
	}
	return -1;
}

void chr_queue_reader_close(struct chr_queue_reader *r)
{
	if (r->base)
		munmap((void *)r->base, r->size);
	r->base = NULL;
	if (r->dirfd >= 0)
		close(r->dirfd);
	r->dirfd = -1;
}

static int rdata(struct chr_queue_reader *r, uint64_t off, const char *what)
{
	char name[32];

	seg_name(name, r->id);
	return qfail(r->err, &r->status, CHR_EX_DATA, EPROTO, "%s/%s: byte %" PRIu64 ": %s",
		     r->dir, name, off, what);
}

/* The current segment is sealed and read to its end: map the next one.
 * Returns 1 when moved, 0 when it is not there yet, -1 on error. */
static int advance(struct chr_queue_reader *r)
{
	const struct chr_seg *h = (const struct chr_seg *)r->base;
	unsigned char *map;
	uint64_t size, seq = h->base_seq + h->count;
	const char *why;
	char name[32];

	if (chr_seg_check(h))
		return rdata(r, 0, chr_seg_check(h));
	if (r->pos != h->end)
		return rdata(r, r->pos, "unwritten space before the end of a sealed segment");
	seg_name(name, r->id + 1);
	if (seg_map(r->dirfd, r->id + 1, 0, &map, &size) < 0) {
		if (errno == ENOENT)
			return 0;
		return qfail(r->err, &r->status, errno == EPROTO ? CHR_EX_DATA : CHR_EX_SYS, errno,
			     "%s/%s: %s", r->dir, name,
			     errno == EPROTO ? "not a segment" : strerror(errno));
	}
	why = seg_bad(map, r->id + 1);
	if (!why && ((const struct chr_seg *)map)->base_seq != seq)
		why = "base_seq does not follow the previous segment";
	if (why) {
		munmap(map, size);
		return qfail(r->err, &r->status, CHR_EX_DATA, EPROTO, "%s/%s: %s", r->dir, name, why);
	}
	munmap((void *)r->base, r->size);
	r->base = map;
	r->size = size;
	r->id++;
	r->pos = CHR_HDR_SIZE;
	return 1;
}

int chr_queue_next(struct chr_queue_reader *r, const struct chr_rec **out)
{
	for (;;) {
		const struct chr_seg *h = (const struct chr_seg *)r->base;
		const struct chr_rec *rec = NULL;
		uint32_t len = 0;
		const char *why;
		int k;

		if (r->pos + CHR_HDR_SIZE <= r->size) {
			rec = (const struct chr_rec *)(r->base + r->pos);
			len = __atomic_load_n(&rec->len, __ATOMIC_ACQUIRE);
		}
		if (len == 0) {
			if (!(__atomic_load_n(&h->flags, __ATOMIC_ACQUIRE) & CHR_SEG_SEALED))
				return 0;
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
		if (!r->started && rec->seq < r->want)
			continue;
		r->started = 1;
		r->want = rec->seq + 1;
		*out = rec;
		return 1;
	}
}
