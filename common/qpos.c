/* qpos.c - named reader positions of a queue, QUEUE/readers/NAME: two
 * CRC'd slots written in turn, so a torn write leaves the other intact, and
 * liveness by an open file description lock the kernel drops at death. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "num.h"
#include "path.h"
#include "qpos.h"
#include "rec.h"

/* The file: a header, then slots 0 and 1 (docs/format.md). Generation g
 * lives in slot (g - 1) % 2, so a commit always overwrites the older one. */
#define QPOS_MAGIC 0x534f5051u	/* "QPOS" */
#define QPOS_VERSION 1
#define QPOS_SIZE 192

struct qpos_head {
	uint32_t magic;
	uint16_t version;
	unsigned char reserved[58];	/* zero */
};

struct qpos_slot {
	uint64_t gen;		/* 1, 2, ...; 0 = never written */
	uint64_t seq;		/* the next seq to read */
	int64_t beat;		/* ns since the epoch, CLOCK_REALTIME */
	uint64_t pid;		/* of the writer */
	uint64_t start;		/* its start time, /proc/PID/stat field 22 */
	unsigned char reserved[20];	/* zero */
	uint32_t crc;		/* CRC-32C of bytes 0..59 */
};

_Static_assert(sizeof(struct qpos_head) == 64, "qpos head size");
_Static_assert(sizeof(struct qpos_slot) == 64, "qpos slot size");
_Static_assert(offsetof(struct qpos_slot, seq) == 8, "qpos seq");
_Static_assert(offsetof(struct qpos_slot, beat) == 16, "qpos beat");
_Static_assert(offsetof(struct qpos_slot, pid) == 24, "qpos pid");
_Static_assert(offsetof(struct qpos_slot, start) == 32, "qpos start");
_Static_assert(offsetof(struct qpos_slot, crc) == 60, "qpos crc");

int chr_q_fail(struct chr_err *e, int st, int en, const char *fmt, ...)
{
	va_list ap;

	if (e != NULL) {
		va_start(ap, fmt);
		vsnprintf(e->msg, sizeof e->msg, fmt, ap);
		va_end(ap);
		e->status = st;
	}
	errno = en;
	return -1;
}

/* Temp names are hidden and reader names ending in ".tmp" are refused, so
 * that neither can be mistaken for a reader. */
static const char *name_why(const char *name)
{
	const char *why = chr_name_check(name);
	size_t n = strlen(name);

	if (why == NULL && n >= 4 && strcmp(name + n - 4, ".tmp") == 0)
		why = "name ends in '.tmp'";
	return why;
}

int chr_proc_start(long pid, uint64_t *start)
{
	char path[64], buf[4096], num[24], *p;
	size_t len;
	int fd, e;
	ssize_t n;

	if (pid <= 0) {
		errno = ENOENT;
		return -1;
	}
	snprintf(path, sizeof path, "/proc/%ld/stat", pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	n = chr_read(fd, buf, sizeof buf - 1);
	e = errno;
	close(fd);
	if (n < 0) {
		errno = e == ESRCH ? ENOENT : e;	/* it died after the open */
		return -1;
	}
	buf[n] = '\0';
	/* "pid (comm) state ppid ...": comm may hold spaces and parentheses,
	 * but nothing after it does */
	if (!(p = memrchr(buf, ')', (size_t)n)))
		goto bad;
	p++;
	for (int field = 3; field <= 22; field++) {
		if (*p != ' ')
			goto bad;
		p++;
		if (field < 22)
			p += strcspn(p, " ");
	}
	len = strspn(p, "0123456789");
	if (len == 0 || len >= sizeof num || (p[len] != ' ' && p[len] != '\n' && p[len] != '\0'))
		goto bad;
	memcpy(num, p, len);
	num[len] = '\0';
	if (chr_parse_u64(num, start) < 0)
		goto bad;
	return 0;
bad:
	errno = EPROTO;
	return -1;
}

/* This process's start time, looked up once per pid (a fork changes it). */
static _Atomic uint64_t self_pid, self_start;

static uint64_t start_of_self(uint64_t pid)
{
	uint64_t s;

	if (atomic_load_explicit(&self_pid, memory_order_acquire) == pid)
		return atomic_load_explicit(&self_start, memory_order_relaxed);
	if (chr_proc_start((long)pid, &s) < 0)
		s = 0;
	atomic_store_explicit(&self_start, s, memory_order_relaxed);
	atomic_store_explicit(&self_pid, pid, memory_order_release);
	return s;
}

static void slot_fill(struct qpos_slot *s, uint64_t gen, uint64_t seq)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	memset(s, 0, sizeof *s);
	s->gen = gen;
	s->seq = seq;
	s->beat = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
	s->pid = (uint64_t)getpid();
	s->start = start_of_self(s->pid);
	s->crc = chr_crc32c(0, s, 60);
}

static int slot_ok(const struct qpos_slot *s, int i)
{
	return s->gen != 0 && (int)((s->gen - 1) & 1) == i && s->crc == chr_crc32c(0, s, 60);
}

/* The newest valid slot of the file at fd into *out. Returns 0, or -1 with
 * errno: EPROTO and why (static) when the file is not a good one, else the
 * errno of the read. */
static int load(int fd, struct qpos_slot *out, const char **why)
{
	union {
		unsigned char b[QPOS_SIZE];
		struct {
			struct qpos_head h;
			struct qpos_slot s[2];
		} f;
	} u;
	ssize_t n;
	int ok0, ok1;

	do
		n = pread(fd, u.b, sizeof u.b, 0);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		*why = NULL;
		return -1;
	}
	if (n < QPOS_SIZE)
		*why = n == 0 ? "empty file" : "truncated file";
	else if (u.f.h.magic != QPOS_MAGIC)
		*why = "not a reader position file (bad magic)";
	else if (u.f.h.version != QPOS_VERSION)
		*why = "unsupported version";
	else {
		ok0 = slot_ok(&u.f.s[0], 0);
		ok1 = slot_ok(&u.f.s[1], 1);
		if (ok0 || ok1) {
			*out = u.f.s[ok1 && (!ok0 || u.f.s[1].gen > u.f.s[0].gen)];
			return 0;
		}
		*why = "both slots are bad";
	}
	errno = EPROTO;
	return -1;
}

/* Write readers/NAME whole under a hidden temp name, fsync, and link it
 * into place: unlike rename, link never replaces a file another process
 * registered meanwhile. Returns 0 (also when that happened), or -1. */
static int create(const char *rdir, const char *path, const char *name)
{
	char tmp[PATH_MAX];
	unsigned char buf[QPOS_SIZE] = { 0 };
	struct qpos_head h = { .magic = QPOS_MAGIC, .version = QPOS_VERSION };
	struct qpos_slot s;
	int fd = -1;

	slot_fill(&s, 1, 0);
	memcpy(buf, &h, sizeof h);
	memcpy(buf + 64, &s, sizeof s);
	for (unsigned i = 0; fd < 0; i++) {
		if (snprintf(tmp, sizeof tmp, "%s/.%s.%ld.%u", rdir, name, (long)getpid(), i) >=
		    (int)sizeof tmp) {
			errno = ENAMETOOLONG;
			return -1;
		}
		fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
		if (fd < 0 && (errno != EEXIST || i >= 100))	/* EEXIST: left by a crash */
			return -1;
	}
	return chr_publish_tmp(fd, tmp, path, buf, sizeof buf, CHR_PUBLISH_NOREPLACE);
}

/* Write seq (and a heartbeat) as generation p->gen + 1 into the slot not
 * holding p->gen. p is unchanged on failure. */
static int put(struct chr_queue_pos *p, uint64_t seq)
{
	struct qpos_slot s;
	uint64_t gen = p->gen + 1;

	if (p->fd < 0)
		return chr_q_fail(&p->e, CHR_EX_USAGE, EBADF, "reader '%s' is not open", p->name);
	slot_fill(&s, gen, seq);
	if (chr_pwrite_all(p->fd, &s, sizeof s, 64 + 64 * ((gen - 1) & 1)) < 0)
		return chr_q_fail(&p->e, CHR_EX_SYS, errno, "%s: cannot write: %s",
			     p->path, strerror(errno));
	if (p->sync && fdatasync(p->fd) < 0)
		return chr_q_fail(&p->e, CHR_EX_SYS, errno, "%s: cannot sync: %s",
			     p->path, strerror(errno));
	p->gen = gen;
	p->seq = seq;
	return 0;
}

int chr_queue_pos_open(struct chr_queue_pos *p, const char *dir, const char *name,
		       unsigned flags)
{
	char rdir[PATH_MAX], path[PATH_MAX];
	const char *why;
	struct stat st, st2;
	struct qpos_slot cur;
	int fd = -1, e;

	memset(p, 0, sizeof *p);
	p->fd = -1;
	p->sync = (flags & CHR_QUEUE_POS_SYNC) != 0;
	if ((why = name_why(name)) != NULL)
		return chr_q_fail(&p->e, CHR_EX_USAGE, EINVAL, "%s: bad reader name '%s': %s", dir, name, why);
	memcpy(p->name, name, strlen(name) + 1);
	if (snprintf(path, sizeof path, "%s/readers/%s", dir, name) >= (int)sizeof path ||
	    snprintf(p->path, sizeof p->path, "%s", path) >= (int)sizeof p->path)
		return chr_q_fail(&p->e, CHR_EX_SYS, ENAMETOOLONG, "%s: path too long", dir);
	snprintf(rdir, sizeof rdir, "%s/readers", dir);
	/* a typo must not create a queue directory */
	if (stat(dir, &st) < 0)
		return chr_q_fail(&p->e, CHR_EX_SYS, errno, "%s: cannot open queue: %s", dir, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return chr_q_fail(&p->e, CHR_EX_SYS, ENOTDIR, "%s: cannot open queue: %s", dir,
			     strerror(ENOTDIR));
	if (chr_mkdirs(rdir) < 0)
		return chr_q_fail(&p->e, CHR_EX_SYS, errno, "%s: cannot create: %s", rdir, strerror(errno));
	for (int tries = 0; ; tries++) {
		struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };

		if ((fd = open(path, O_RDWR | O_CLOEXEC | O_NOCTTY)) < 0) {
			if (errno != ENOENT || tries >= 100)
				return chr_q_fail(&p->e, CHR_EX_SYS, errno, "%s: cannot open: %s", path,
					     strerror(errno));
			if (create(rdir, path, name) < 0)
				return chr_q_fail(&p->e, CHR_EX_SYS, errno, "%s: cannot create: %s", path,
					     strerror(errno));
			continue;
		}
		if (fcntl(fd, F_OFD_SETLK, &fl) < 0) {
			e = errno;
			if (e == EAGAIN || e == EACCES) {
				if (load(fd, &cur, &why) == 0)
					chr_q_fail(&p->e, CHR_EX_SYS, EBUSY, "%s: reader '%s' is in use by pid %"
					      PRIu64, path, name, cur.pid);
				else
					chr_q_fail(&p->e, CHR_EX_SYS, EBUSY, "%s: reader '%s' is in use by "
					      "another process", path, name);
			} else {
				chr_q_fail(&p->e, CHR_EX_SYS, e, "%s: cannot lock: %s", path, strerror(e));
			}
			goto fail;
		}
		/* locked: but is it still the file of that name? */
		if (fstat(fd, &st) < 0) {
			chr_q_fail(&p->e, CHR_EX_SYS, errno, "%s: cannot stat: %s", path, strerror(errno));
			goto fail;
		}
		if (stat(path, &st2) == 0 && st2.st_dev == st.st_dev && st2.st_ino == st.st_ino)
			break;
		close(fd);
		fd = -1;
		if (tries >= 100)
			return chr_q_fail(&p->e, CHR_EX_SYS, EAGAIN, "%s: keeps being replaced", path);
	}
	if (!S_ISREG(st.st_mode)) {
		chr_q_fail(&p->e, CHR_EX_DATA, EPROTO, "%s: not a regular file", path);
		goto fail;
	}
	if (load(fd, &cur, &why) < 0) {
		if (why)
			chr_q_fail(&p->e, CHR_EX_DATA, EPROTO, "%s: %s", path, why);
		else
			chr_q_fail(&p->e, CHR_EX_SYS, errno, "%s: cannot read: %s", path, strerror(errno));
		goto fail;
	}
	p->fd = fd;
	p->seq = cur.seq;
	p->gen = cur.gen;
	/* the file names its holder from now on */
	if (put(p, cur.seq) < 0) {
		p->fd = -1;
		goto fail;
	}
	return 0;
fail:
	e = errno;
	close(fd);
	errno = e;
	return -1;
}

int chr_queue_pos_commit(struct chr_queue_pos *p, uint64_t seq)
{
	return put(p, seq);
}

int chr_queue_pos_beat(struct chr_queue_pos *p)
{
	return put(p, p->seq);
}

void chr_queue_pos_close(struct chr_queue_pos *p)
{
	if (p->fd >= 0)
		close(p->fd);	/* the last reference: the lock goes */
	p->fd = -1;
}

static int cmp_info(const void *a, const void *b)
{
	return strcmp(((const struct chr_queue_pos_info *)a)->name,
		      ((const struct chr_queue_pos_info *)b)->name);
}

ssize_t chr_queue_pos_list(const char *dir, struct chr_queue_pos_info **out, struct chr_err *e)
{
	char rdir[PATH_MAX];
	struct chr_queue_pos_info *v = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	struct stat st;
	DIR *d;
	int en;

	*out = NULL;
	if (snprintf(rdir, sizeof rdir, "%s/readers", dir) >= (int)sizeof rdir)
		return chr_q_fail(e, CHR_EX_SYS, ENAMETOOLONG, "%s: path too long", dir);
	if (!(d = opendir(rdir))) {
		en = errno;
		if (en == ENOENT && stat(dir, &st) == 0 && S_ISDIR(st.st_mode))
			return 0;
		if (en == ENOENT && stat(dir, &st) < 0)
			return chr_q_fail(e, CHR_EX_SYS, errno, "%s: cannot open queue: %s", dir, strerror(errno));
		return chr_q_fail(e, CHR_EX_SYS, en, "%s: cannot open: %s", rdir, strerror(en));
	}
	for (;;) {
		struct chr_queue_pos_info *x;
		struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
		struct qpos_slot s;
		const char *why;
		int fd;

		errno = 0;
		if (!(de = readdir(d))) {
			if (errno) {
				chr_q_fail(e, CHR_EX_SYS, errno, "%s: cannot read: %s", rdir, strerror(errno));
				goto fail;
			}
			break;
		}
		if (name_why(de->d_name))	/* ".", "..", temp files */
			continue;
		/* O_NONBLOCK: a fifo put there must not hang us */
		fd = openat(dirfd(d), de->d_name, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
		if (fd < 0) {
			if (errno == ENOENT)	/* removed meanwhile */
				continue;
			chr_q_fail(e, CHR_EX_SYS, errno, "%s/%s: cannot open: %s", rdir, de->d_name,
			      strerror(errno));
			goto fail;
		}
		/* only ask: taking the lock could make an opening reader fail */
		if (fstat(fd, &st) < 0 || fcntl(fd, F_OFD_GETLK, &fl) < 0) {
			chr_q_fail(e, CHR_EX_SYS, errno, "%s/%s: %s", rdir, de->d_name, strerror(errno));
		} else if (!S_ISREG(st.st_mode)) {
			chr_q_fail(e, CHR_EX_SYS, EPROTO, "%s/%s: not a regular file", rdir, de->d_name);
		} else if (load(fd, &s, &why) < 0) {
			if (why)
				chr_q_fail(e, CHR_EX_SYS, EPROTO, "%s/%s: %s", rdir, de->d_name, why);
			else
				chr_q_fail(e, CHR_EX_SYS, errno, "%s/%s: cannot read: %s", rdir, de->d_name,
				      strerror(errno));
		} else {
			close(fd);
			fd = -1;
		}
		if (fd >= 0) {
			en = errno;
			close(fd);
			errno = en;
			goto fail;
		}
		if (n == cap) {
			size_t c = cap ? 2 * cap : 8;
			void *nv = realloc(v, c * sizeof *v);

			if (!nv) {
				chr_q_fail(e, CHR_EX_SYS, ENOMEM, "%s: out of memory", rdir);
				goto fail;
			}
			v = nv;
			cap = c;
		}
		x = &v[n++];
		memset(x, 0, sizeof *x);
		memcpy(x->name, de->d_name, strlen(de->d_name) + 1);
		x->seq = s.seq;
		x->beat = s.beat;
		x->pid = s.pid;
		x->start = s.start;
		x->live = fl.l_type != F_UNLCK;
	}
	closedir(d);
	if (n > 1)
		qsort(v, n, sizeof *v, cmp_info);
	*out = v;
	return (ssize_t)n;
fail:
	en = errno;
	closedir(d);
	free(v);
	errno = en;
	return -1;
}

int chr_queue_pos_peek(const char *dir, const char *name, uint64_t *seq, struct chr_err *e)
{
	struct chr_queue_pos_info *v;
	ssize_t n = chr_queue_pos_list(dir, &v, e);
	int found = 0;

	for (ssize_t i = 0; i < n && !found; i++)
		if (strcmp(v[i].name, name) == 0) {
			*seq = v[i].seq;
			found = 1;
		}
	if (n < 0)
		return -1;
	free(v);
	return found;
}
