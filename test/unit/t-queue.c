/* t-queue.c - the mapped queue: rolls, a reader beside a live writer,
 * SIGKILLed writers and torn tails repaired on open. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "queue.h"
#include "queue_int.h"
#include "rec.h"
#include "unit.h"

static uint32_t len_of(uint64_t seq)
{
	return 64 + (uint32_t)((seq * 37) % 257);
}

/* Every field but len, so that it serves reserve (len is the commit). */
static void fill(struct chr_rec *r, uint64_t seq)
{
	unsigned char *p = chr_rec_payload(r);

	r->type = 0x8000;
	r->ts = (int64_t)seq * 1000 + 1;
	r->market = 7;
	r->venue = 3;
	for (uint32_t i = 0; i < len_of(seq) - 64; i++)
		p[i] = (unsigned char)(seq * 131 + i);
}

static int verify(const struct chr_rec *r, uint64_t seq)
{
	const unsigned char *p = chr_rec_payload(r);

	if (r->len != len_of(seq) || r->seq != seq || r->src_seq != seq ||
	    r->ts != (int64_t)seq * 1000 + 1 || r->type != 0x8000 || chr_rec_check(r))
		return 0;
	for (uint32_t i = 0; i < r->len - 64; i++)
		if (p[i] != (unsigned char)(seq * 131 + i))
			return 0;
	return 1;
}

/* Append record seq, in place or by copy. Returns 0 or -1. */
static int put(struct chr_queue_writer *w, uint64_t seq, int copy)
{
	if (copy) {
		_Alignas(64) unsigned char buf[512] = { 0 };
		struct chr_rec *r = (struct chr_rec *)buf;

		fill(r, seq);
		r->len = len_of(seq);
		return chr_queue_append(w, r);
	}
	struct chr_rec *r = chr_queue_reserve(w, len_of(seq));

	if (!r)
		return -1;
	fill(r, seq);
	chr_queue_commit(w, r);
	return 0;
}

static void rmdir_r(const char *dir)
{
	char cmd[4200];

	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "t-queue: cannot remove %s\n", dir);
}

static const struct chr_queue_opts small = { .seg_size = 64 << 10, .flags = CHR_QUEUE_CREATE };

static void test_basic(void)
{
	char dir[] = "/tmp/t-queue.XXXXXX";
	struct chr_queue_writer w, w2;
	struct chr_queue_reader r;
	const struct chr_rec *rec;
	uint64_t n = 20000, i, seq, total = 0, segs = 0, bad = 0;

	CHECK(mkdtemp(dir) != NULL);
	CHECK(chr_queue_reader_open(&r, dir, 0) == -1 && errno == ENOENT);
	CHECK(chr_queue_writer_open(&w, dir, &small) == 0);
	CHECK(chr_queue_writer_open(&w2, dir, &small) == -1 && errno == EBUSY);
	CHECK(chr_queue_reserve(&w, 63) == NULL && errno == EINVAL);
	CHECK(chr_queue_reserve(&w, 64 << 10) == NULL && errno == EINVAL);
	CHECK(chr_queue_reader_open(&r, dir, 0) == 0);
	CHECK(chr_queue_next(&r, &rec) == 0);
	for (i = 0; i < n / 2; i++)
		if (put(&w, i, i & 1) < 0)
			bad++;
	/* an abandoned reservation leaves nothing behind */
	CHECK(chr_queue_reserve(&w, 300) != NULL);
	CHECK(chr_queue_writer_close(&w) == 0);
	CHECK(chr_queue_writer_open(&w, dir, NULL) == 0);
	CHECK(w.seq == n / 2);
	CHECK(w.seg_size == 64 << 10);
	for (; i < n; i++)
		if (put(&w, i, i & 1) < 0)
			bad++;
	CHECK(bad == 0);
	CHECK(w.id > 50);
	for (seq = 0; chr_queue_next(&r, &rec) == 1; seq++)
		if (!verify(rec, seq))
			bad++;
	CHECK(seq == n);
	CHECK(bad == 0);
	CHECK(chr_queue_next(&r, &rec) == 0);
	CHECK(put(&w, n, 0) == 0);
	CHECK(chr_queue_next(&r, &rec) == 1 && verify(rec, n));
	chr_queue_reader_close(&r);

	/* from the middle */
	CHECK(chr_queue_reader_open(&r, dir, 12345) == 0);
	CHECK(chr_queue_next(&r, &rec) == 1 && verify(rec, 12345));
	CHECK(r.id > 0);
	chr_queue_reader_close(&r);

	/* sealed headers: counts, chain of base_seq, ts range, end */
	for (uint64_t id = 0; id < w.id; id++) {
		char path[4200];
		struct chr_seg h;
		int fd;

		snprintf(path, sizeof path, "%s/%09" PRIu64 ".q", dir, id);
		fd = open(path, O_RDONLY);
		CHECK(fd >= 0 && pread(fd, &h, sizeof h, 0) == sizeof h);
		close(fd);
		if (chr_seg_check(&h) || !(h.flags & CHR_SEG_SEALED) || h.id != id ||
		    h.base_seq != total || h.ts_min != (int64_t)total * 1000 + 1 ||
		    h.ts_max != (int64_t)(total + h.count - 1) * 1000 + 1 || h.end <= 64 ||
		    h.end > (64 << 10))
			bad++;
		total += h.count;
		segs++;
	}
	CHECK(bad == 0);
	CHECK(total == w.seq - w.count);
	CHECK(segs == w.id);
	chr_queue_writer_close(&w);
	rmdir_r(dir);
}

/* Segment files in dir. */
static int count_segs(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	while (d && (de = readdir(d)))
		if (strlen(de->d_name) == 11 && strcmp(de->d_name + 9, ".q") == 0)
			n++;
	if (d)
		closedir(d);
	return n;
}

/* A reader process: registered as name, reads n records in order, each
 * checked, committing its position every 1000, sleeping on the futex
 * (spin_us 0) or spinning first. Exit 0 when all n were seen once. */
static int fan_reader(const char *dir, const char *name, uint64_t n, unsigned spin_us)
{
	struct chr_queue_pos p;
	struct chr_queue_reader r;
	const struct chr_rec *rec;
	uint64_t seq = 0;
	time_t t0 = time(NULL);
	int k;

	if (chr_queue_pos_open(&p, dir, name, 0) < 0 || chr_queue_reader_open(&r, dir, 0) < 0)
		return 3;
	while (seq < n) {
		if ((k = chr_queue_next(&r, &rec)) < 0) {
			fprintf(stderr, "t-queue: %s: %s\n", name, r.e.msg);
			return 1;
		}
		if (k == 0) {
			if (time(NULL) - t0 > 600 + (time_t)(n / 100000))
				return 2;
			chr_queue_wait(&r, spin_us, 1000);
			continue;
		}
		if (!verify(rec, seq)) {
			fprintf(stderr, "t-queue: %s: record %" PRIu64 " is wrong\n", name, seq);
			return 1;
		}
		if (++seq % 1000 == 0 && chr_queue_pos_commit(&p, seq) < 0)
			return 3;
	}
	chr_queue_pos_commit(&p, seq);
	k = chr_queue_next(&r, &rec);
	chr_queue_reader_close(&r);
	chr_queue_pos_close(&p);
	return k == 0 ? 0 : 1;
}

/* One writer, four reader processes (two sleeping on the futex, two
 * spinning first), many rolls, retention on: every reader sees every
 * record once, in order, and passed segments are removed. T_QUEUE_N sets
 * the number of records (the long run). */
static void test_fanout(void)
{
	char dir[64], name[16];
	const char *env = getenv("T_QUEUE_N");
	struct chr_queue_writer w;
	uint64_t n = env ? strtoull(env, NULL, 10) : 300000, i;
	struct chr_queue_opts o = { .seg_size = 1 << 20, .retain_ns = 0,
				    .flags = CHR_QUEUE_CREATE | CHR_QUEUE_RETAIN };
	pid_t pid[4];
	int st, ok = 0, left;
	struct chr_err err;

	snprintf(dir, sizeof dir, "%s/t-queue.XXXXXX",
		 access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
	CHECK(mkdtemp(dir) != NULL);
	CHECK(chr_queue_writer_open(&w, dir, &o) == 0);
	chr_queue_writer_close(&w);
	/* register the readers before the writer starts */
	for (int k = 0; k < 4; k++) {
		struct chr_queue_pos p;

		snprintf(name, sizeof name, "r%d", k);
		CHECK(chr_queue_pos_open(&p, dir, name, 0) == 0);
		chr_queue_pos_close(&p);
	}
	for (int k = 0; k < 4; k++) {
		snprintf(name, sizeof name, "r%d", k);
		if ((pid[k] = fork()) == 0)
			_exit(fan_reader(dir, name, n, k < 2 ? 0 : 20));
	}
	/* wait until the four hold their positions (live) */
	for (int t = 0; t < 5000; t++) {
		struct chr_queue_pos_info *in;
		ssize_t m = chr_queue_pos_list(dir, &in, &err);
		int live = 0;

		for (ssize_t j = 0; j < m; j++)
			live += in[j].live;
		if (m > 0)
			free(in);
		if (live == 4)
			break;
		usleep(1000);
	}
	CHECK(chr_queue_writer_open(&w, dir, &o) == 0);
	for (i = 0; i < n; i++)
		if (put(&w, i, (i % 3) == 0) < 0)
			break;
	CHECK(i == n);
	for (int k = 0; k < 4; k++)
		if (waitpid(pid[k], &st, 0) == pid[k] && WIFEXITED(st) && WEXITSTATUS(st) == 0)
			ok++;
	CHECK(ok == 4);
	/* all passed: a roll runs retention, which leaves the newest */
	if (chr_queue_retain(dir, 0, 0, &err) < 0) {
		fprintf(stderr, "t-queue: fanout: %s\n", err.msg);
		CHECK(0);
	}
	left = count_segs(dir);
	CHECK(w.id > 20);
	CHECK(left >= 1 && left <= 1 + CHR_Q_AHEAD_MAX);	/* the current, and maybe spares */
	if (getenv("T_QUEUE_VERBOSE"))
		fprintf(stderr, "t-queue: fanout: %" PRIu64 " records, %" PRIu64 " segments\n",
			n, w.id + 1);
	chr_queue_writer_close(&w);
	rmdir_r(dir);
}

/* Read what is committed; every record must be whole and next in seq. */
static int drain(struct chr_queue_reader *r, uint64_t *seq, uint32_t *crcs, uint64_t cap)
{
	const struct chr_rec *rec;
	int k;

	while ((k = chr_queue_next(r, &rec)) == 1) {
		if (!verify(rec, *seq))
			return -1;
		if (*seq < cap)
			crcs[*seq] = rec->crc;
		++*seq;
	}
	if (k < 0)
		fprintf(stderr, "t-queue: %s\n", r->e.msg);
	return k;
}

static void test_crash(void)
{
	char dir[] = "/tmp/t-queue.XXXXXX";
	struct chr_queue_writer w;
	struct chr_queue_reader r;
	const struct chr_rec *rec;
	uint64_t cap = 1 << 20, seen = 0, seq, bad = 0, lost = 0;
	uint32_t *crcs = calloc(cap, sizeof *crcs);
	int iters = 100, partial = 0;
	uint64_t before = 0;

	CHECK(crcs != NULL);
	CHECK(mkdtemp(dir) != NULL);
	srand((unsigned)getpid());
	CHECK(chr_queue_writer_open(&w, dir, &small) == 0);
	chr_queue_writer_close(&w);
	CHECK(chr_queue_reader_open(&r, dir, 0) == 0);
	for (int it = 0; it < iters; it++) {
		struct timespec t0, t;
		long wait_us = rand() % 30000;
		pid_t pid = fork();

		if (pid == 0) {
			if (chr_queue_writer_open(&w, dir, NULL) < 0)
				_exit(3);
			for (uint64_t i = 0; i < 4000; i++)
				if (put(&w, w.seq, rand() & 1) < 0)
					_exit(4);
			pause();
			_exit(0);
		}
		CHECK(pid > 0);
		clock_gettime(CLOCK_MONOTONIC, &t0);
		do {
			if (drain(&r, &seen, crcs, cap) < 0)
				bad++;
			clock_gettime(CLOCK_MONOTONIC, &t);
		} while ((t.tv_sec - t0.tv_sec) * 1000000 + (t.tv_nsec - t0.tv_nsec) / 1000 < wait_us);
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		if (drain(&r, &seen, crcs, cap) < 0)
			bad++;
		/* recover: nothing the reader saw is gone, seq continues */
		CHECK(chr_queue_writer_open(&w, dir, NULL) == 0);
		if (w.seq < seen)
			lost++;
		if (w.seq - before < 4000)
			partial++;	/* killed while appending */
		before = w.seq;
		chr_queue_writer_close(&w);
		if (drain(&r, &seen, crcs, cap) < 0)
			bad++;
	}
	CHECK(bad == 0);
	CHECK(lost == 0);
	CHECK(partial >= iters / 4);
	if (getenv("T_QUEUE_VERBOSE"))
		fprintf(stderr, "t-queue: crash: %d of %d kills while appending, %" PRIu64
			" records\n", partial, iters, seen);
	/* a last writer continues, then a fresh reader finds it all */
	CHECK(chr_queue_writer_open(&w, dir, NULL) == 0);
	CHECK(w.seq == seen);
	CHECK(put(&w, w.seq, 0) == 0);
	chr_queue_reader_close(&r);
	CHECK(chr_queue_reader_open(&r, dir, 0) == 0);
	for (seq = 0; chr_queue_next(&r, &rec) == 1; seq++)
		if (!verify(rec, seq) || (seq < seen && seq < cap && rec->crc != crcs[seq]))
			bad++;
	CHECK(seq == seen + 1);
	CHECK(bad == 0);
	chr_queue_reader_close(&r);
	chr_queue_writer_close(&w);
	free(crcs);
	rmdir_r(dir);
}

/* Map segment 0 of dir read-write (64 KiB). */
static unsigned char *map0(const char *dir)
{
	char path[4200];
	void *p;
	int fd;

	snprintf(path, sizeof path, "%s/000000000.q", dir);
	if ((fd = open(path, O_RDWR)) < 0)
		return NULL;
	p = mmap(NULL, 64 << 10, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	return p == MAP_FAILED ? NULL : p;
}

static void test_torn(void)
{
	char dir[] = "/tmp/t-queue.XXXXXX";
	struct chr_queue_writer w;
	struct chr_queue_reader r;
	const struct chr_rec *rec;
	uint64_t off = 64, off5 = 0, seq;
	unsigned char *m;
	struct chr_rec *t;
	char want[64];
	int k = 0, zero = 1;

	CHECK(mkdtemp(dir) != NULL);
	CHECK(chr_queue_writer_open(&w, dir, &small) == 0);
	for (seq = 0; seq < 10; seq++) {
		if (seq == 5)
			off5 = off;
		CHECK(put(&w, seq, 0) == 0);
		off += chr_rec_span(len_of(seq));
	}
	CHECK(w.pos == off);
	chr_queue_writer_close(&w);

	/* a committed len over a payload that never made it */
	CHECK((m = map0(dir)) != NULL);
	t = (struct chr_rec *)(m + off);
	fill(t, 10);
	t->len = 200;
	t->version = CHR_VERSION;
	t->crc = 0xdeadbeef;
	CHECK(chr_queue_reader_open(&r, dir, 0) == 0);
	for (seq = 0; (k = chr_queue_next(&r, &rec)) == 1; seq++)
		;
	CHECK(seq == 10 && k == -1);
	snprintf(want, sizeof want, "/000000000.q: byte %" PRIu64 ": bad crc", off);
	CHECK(strstr(r.e.msg, want) != NULL);
	if (!strstr(r.e.msg, want))
		fprintf(stderr, "%s\n", r.e.msg);
	chr_queue_reader_close(&r);

	CHECK(chr_queue_writer_open(&w, dir, NULL) == 0);
	CHECK(w.seq == 10 && w.pos == off);
	for (uint64_t i = off; i < off + 256; i++)
		if (m[i])
			zero = 0;
	CHECK(zero);
	CHECK(put(&w, 10, 1) == 0);
	chr_queue_writer_close(&w);
	CHECK(chr_queue_reader_open(&r, dir, 0) == 0);
	for (seq = 0; chr_queue_next(&r, &rec) == 1; seq++)
		CHECK(verify(rec, seq));
	CHECK(seq == 11);
	chr_queue_reader_close(&r);

	/* a bad record in the middle: it and all after it go */
	m[off5 + 100] ^= 1;
	CHECK(chr_queue_writer_open(&w, dir, NULL) == 0);
	CHECK(w.seq == 5 && w.pos == off5);
	for (uint64_t i = off5; i < (64 << 10); i++)
		if (m[i])
			zero = 0;
	CHECK(zero);
	chr_queue_writer_close(&w);
	CHECK(chr_queue_reader_open(&r, dir, 0) == 0);
	for (seq = 0; chr_queue_next(&r, &rec) == 1; seq++)
		CHECK(verify(rec, seq));
	CHECK(seq == 5);
	chr_queue_reader_close(&r);
	munmap(m, 64 << 10);
	rmdir_r(dir);
}

/* Killed mid-roll: the spare got its base_seq, the current was not sealed
 * yet. The writer undoes the half roll and continues the old segment. */
static void test_half_roll(void)
{
	char dir[] = "/tmp/t-queue.XXXXXX", path[4200];
	struct chr_queue_writer w;
	struct chr_queue_reader r;
	const struct chr_rec *rec;
	struct chr_seg h;
	uint64_t seq;
	int fd;

	CHECK(mkdtemp(dir) != NULL);
	CHECK(chr_queue_writer_open(&w, dir, &small) == 0);
	for (seq = 0; seq < 200; seq++)
		CHECK(put(&w, seq, 0) == 0);
	CHECK(w.id == 0);
	/* the background thread pre-creates segment 1 */
	snprintf(path, sizeof path, "%s/000000001.q", dir);
	for (int i = 0; i < 5000 && access(path, F_OK) < 0; i++)
		usleep(1000);
	chr_queue_writer_close(&w);
	fd = open(path, O_RDWR);
	CHECK(fd >= 0 && pread(fd, &h, sizeof h, 0) == sizeof h);
	CHECK(h.base_seq == CHR_QUEUE_NO_SEQ);
	h.base_seq = seq;
	CHECK(pwrite(fd, &h, sizeof h, 0) == sizeof h);
	close(fd);
	CHECK(chr_queue_writer_open(&w, dir, NULL) == 0);
	CHECK(w.id == 0 && w.seq == 200);
	fd = open(path, O_RDONLY);
	CHECK(fd >= 0 && pread(fd, &h, sizeof h, 0) == sizeof h);
	close(fd);
	CHECK(h.base_seq == CHR_QUEUE_NO_SEQ);
	for (; seq < 1000; seq++)
		CHECK(put(&w, seq, 1) == 0);
	CHECK(w.id > 1);
	chr_queue_writer_close(&w);
	CHECK(chr_queue_reader_open(&r, dir, 0) == 0);
	for (seq = 0; chr_queue_next(&r, &rec) == 1; seq++)
		CHECK(verify(rec, seq));
	CHECK(seq == 1000);
	chr_queue_reader_close(&r);
	rmdir_r(dir);
}

static int64_t ts_of(uint64_t seq)
{
	/* mostly rising, every seventh record late */
	return (int64_t)seq * 1000 + 1 - (seq % 7 == 3 ? 5000 : 0);
}

/* Records from r's position up to (not including) the first one that
 * chr_queue_next returns: what a seek made it scan. */
static int scanned(const struct chr_queue_reader *r, uint64_t seq)
{
	uint64_t pos = r->pos;
	int k = 0;

	while (pos + 64 <= r->size) {
		const struct chr_rec *rec = (const void *)(r->base + pos);

		if (!rec->len || rec->seq == seq)
			break;
		pos += chr_rec_span(rec->len);
		k++;
	}
	return k;
}

/* Seek by seq, time and to the end through the index: the right record,
 * after at most one stride of records. */
static void test_seek(void)
{
	char dir[] = "/tmp/t-queue.XXXXXX";
	struct chr_queue_opts o = { .seg_size = 64 << 10, .idx_stride = 8,
				    .flags = CHR_QUEUE_CREATE };
	struct chr_queue_writer w;
	struct chr_queue_reader r;
	const struct chr_rec *rec;
	uint64_t n = 5000, bad = 0, far = 0;

	CHECK(mkdtemp(dir) != NULL);
	CHECK(chr_queue_writer_open(&w, dir, &o) == 0);
	for (uint64_t i = 0; i < n; i++) {
		struct chr_rec *p = chr_queue_reserve(&w, len_of(i));

		CHECK(p != NULL);
		fill(p, i);
		p->ts = ts_of(i);
		chr_queue_commit(&w, p);
	}
	CHECK(w.id > 5);
	CHECK(chr_queue_reader_open(&r, dir, 0) == 0);
	for (uint64_t q = 0; q < n + 3; q += 7) {
		CHECK(chr_queue_seek_seq(&r, q) == 0);
		if (q < n && scanned(&r, q) >= 8)
			far++;
		if (q < n ? chr_queue_next(&r, &rec) != 1 || rec->seq != q :
			    chr_queue_next(&r, &rec) != 0)
			bad++;
	}
	CHECK(bad == 0);
	CHECK(far == 0);
	/* by time: the first record whose ts reaches t */
	for (int64_t t = -10000; t < (int64_t)n * 1000 + 2000; t += 777) {
		uint64_t want = 0;

		while (want < n && ts_of(want) < t)
			want++;
		CHECK(chr_queue_seek_ts(&r, t) == 0);
		if (want < n && scanned(&r, want) >= 8)
			far++;
		if (want < n ? chr_queue_next(&r, &rec) != 1 || rec->seq != want :
			       chr_queue_next(&r, &rec) != 0)
			bad++;
	}
	CHECK(bad == 0);
	CHECK(far == 0);
	CHECK(chr_queue_seek_end(&r) == 0);
	CHECK(chr_queue_next(&r, &rec) == 0);
	CHECK(put(&w, n, 0) == 0);
	CHECK(chr_queue_next(&r, &rec) == 1 && rec->seq == n);
	chr_queue_reader_close(&r);
	/* an index lost (or from another stride) is rebuilt by the writer */
	{
		char path[4200];

		chr_queue_writer_close(&w);
		snprintf(path, sizeof path, "%s/%09" PRIu64 ".idx", dir, w.id);
		CHECK(unlink(path) == 0);
		CHECK(chr_queue_writer_open(&w, dir, &o) == 0);
		CHECK(chr_queue_reader_open(&r, dir, n - 20) == 0);
		CHECK(scanned(&r, n - 20) < 8);
		CHECK(chr_queue_next(&r, &rec) == 1 && rec->seq == n - 20);
		chr_queue_reader_close(&r);
	}
	chr_queue_writer_close(&w);
	rmdir_r(dir);
}

/* The futex: a sleeping reader is woken by a commit, times out when
 * nothing comes, and a reader killed asleep does not keep the writer
 * waking it. A time roll seals a segment that is not full. */
static void test_wait(void)
{
	char dir[] = "/tmp/t-queue.XXXXXX";
	struct chr_queue_opts o = { .seg_size = 64 << 10, .roll_ns = 200000000,
				    .flags = CHR_QUEUE_CREATE };
	struct chr_queue_writer w;
	struct chr_queue_reader r;
	const struct chr_rec *rec;
	pid_t pid;
	int st, t;

	CHECK(mkdtemp(dir) != NULL);
	CHECK(chr_queue_writer_open(&w, dir, &o) == 0);
	CHECK(chr_queue_reader_open(&r, dir, 0) == 0);
	CHECK(chr_queue_wait(&r, 0, 50) == 0);
	CHECK(chr_queue_wait(&r, 100, 0) == 0);
	pid = fork();
	if (pid == 0) {
		/* woken, not timed out */
		chr_queue_writer_close(&w);	/* our copy of the mapping */
		_exit(chr_queue_wait(&r, 0, 20000) == 1 && chr_queue_next(&r, &rec) == 1 &&
		      rec->seq == 0 ? 0 : 1);
	}
	for (t = 0; t < 5000 && !__atomic_load_n(&w.ctl->sleep_mask, __ATOMIC_SEQ_CST); t++)
		usleep(1000);
	CHECK(w.ctl->sleep_mask != 0);
	CHECK(put(&w, 0, 0) == 0);
	CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0);
	CHECK(w.ctl->sleep_mask == 0);
	/* killed asleep: its slot is freed by the writer's thread */
	pid = fork();
	if (pid == 0) {
		chr_queue_writer_close(&w);
		chr_queue_seek_end(&r);
		chr_queue_wait(&r, 0, -1);
		_exit(0);
	}
	for (t = 0; t < 5000 && !__atomic_load_n(&w.ctl->sleep_mask, __ATOMIC_SEQ_CST); t++)
		usleep(1000);
	CHECK(w.ctl->sleep_mask != 0);
	kill(pid, SIGKILL);
	CHECK(waitpid(pid, &st, 0) == pid && WIFSIGNALED(st));
	for (t = 0; t < 5000 && __atomic_load_n(&w.ctl->sleep_mask, __ATOMIC_SEQ_CST); t++)
		usleep(1000);
	CHECK(w.ctl->sleep_mask == 0);
	/* the time roll: the next append after 200 ms starts a segment */
	CHECK(w.id == 0);
	usleep(450000);
	CHECK(put(&w, 1, 0) == 0);
	CHECK(w.id == 1);
	CHECK(chr_queue_next(&r, &rec) == 1 && rec->seq == 0 && r.id == 0);
	CHECK(chr_queue_next(&r, &rec) == 1 && rec->seq == 1 && r.id == 1);
	chr_queue_reader_close(&r);
	chr_queue_writer_close(&w);
	rmdir_r(dir);
}

static int64_t mono_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Many short bursts, pauses between them from none to a few hundred us:
 * a sleeping reader is woken for every one, never left to its one-second
 * re-check (a lost wake-up), and gets every record. The writer takes the
 * sleepers' bits back when it wakes them; a reader that finds every slot
 * held by dead processes (no longer woken, so no longer reaped by the
 * writer's thread) reaps them itself and still sleeps on the futex. */
static void test_wake_bursts(void)
{
	char dir[] = "/tmp/t-queue.XXXXXX";
	struct chr_queue_writer w;
	struct chr_queue_reader r;
	const struct chr_rec *rec;
	uint64_t n = 0, seq = 0;
	unsigned rnd = 12345;
	pid_t pid, dead;
	int st, t;

	CHECK(mkdtemp(dir) != NULL);
	CHECK(chr_queue_writer_open(&w, dir, &small) == 0);
	for (int b = 0; b < 3000; b++)
		n += 1 + (b * 7919u) % 5;
	pid = fork();
	if (pid == 0) {
		int slow = 0;

		chr_queue_writer_close(&w);
		if (chr_queue_reader_open(&r, dir, 0) < 0)
			_exit(4);
		while (seq < n) {
			int k = chr_queue_next(&r, &rec);
			int64_t t0;

			if (k < 0 || (k == 1 && !verify(rec, seq++)))
				_exit(5);
			if (k == 1)
				continue;
			t0 = mono_ms();
			chr_queue_wait(&r, 0, 5000);
			slow += mono_ms() - t0 >= 900;
		}
		_exit(slow ? 3 : 0);
	}
	for (int b = 0; b < 3000; b++) {
		struct timespec ts = { 0, 0 };

		for (unsigned i = 0; i < 1 + (b * 7919u) % 5; i++)
			CHECK(put(&w, seq++, 0) == 0);
		rnd = rnd * 1103515245 + 12345;
		ts.tv_nsec = (rnd >> 16) % 4 == 0 ? 0 : (long)((rnd >> 8) % 300) * 1000;
		if (ts.tv_nsec)
			nanosleep(&ts, NULL);
	}
	CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0);
	CHECK(seq == n);
	/* every slot held by a dead process, no bit set */
	if ((dead = fork()) == 0)
		_exit(0);
	CHECK(waitpid(dead, &st, 0) == dead);
	for (int i = 0; i < CHR_QUEUE_SLEEPERS; i++)
		w.ctl->sleeper[i].pid = (uint32_t)dead;
	CHECK(chr_queue_reader_open(&r, dir, 0) == 0);
	CHECK(chr_queue_seek_end(&r) == 0);
	pid = fork();
	if (pid == 0) {
		chr_queue_writer_close(&w);
		_exit(chr_queue_wait(&r, 0, 20000) == 1 && chr_queue_next(&r, &rec) == 1 &&
		      rec->seq == seq ? 0 : 1);
	}
	for (t = 0; t < 5000 && !__atomic_load_n(&w.ctl->sleep_mask, __ATOMIC_SEQ_CST); t++)
		usleep(1000);
	CHECK(w.ctl->sleep_mask != 0);
	CHECK(put(&w, seq, 0) == 0);
	CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0);
	chr_queue_reader_close(&r);
	chr_queue_writer_close(&w);
	rmdir_r(dir);
}

/* Retention keeps every segment a live registered reader has not passed,
 * whatever its age, and removes them once passed or once it is gone. A
 * reader left behind is told, not silently moved on. */
static void test_retain(void)
{
	char dir[] = "/tmp/t-queue.XXXXXX";
	struct chr_err err;
	struct chr_queue_writer w;
	struct chr_queue_reader r, behind;
	struct chr_queue_pos slow;
	const struct chr_rec *rec;
	uint64_t i, seq;
	int segs;

	CHECK(mkdtemp(dir) != NULL);
	CHECK(chr_queue_writer_open(&w, dir, &small) == 0);
	CHECK(chr_queue_pos_open(&slow, dir, "slow", 0) == 0);
	CHECK(chr_queue_reader_open(&behind, dir, 0) == 0);
	for (i = 0; i < 5000; i++)
		CHECK(put(&w, i, 0) == 0);
	segs = count_segs(dir);
	CHECK(segs > 10);
	CHECK(chr_queue_retain(dir, 0, 0, &err) == 0);
	CHECK(count_segs(dir) == segs);
	/* the reader passes 2000 records: the segments before are removed */
	CHECK(chr_queue_pos_commit(&slow, 2000) == 0);
	CHECK(chr_queue_retain(dir, 0, 0, &err) > 0);
	CHECK(chr_queue_reader_open(&r, dir, 0) == 0);
	CHECK(r.first_seq > 1000 && r.first_seq <= 2000);
	CHECK(chr_queue_next(&r, &rec) == 1 && rec->seq == r.first_seq);
	chr_queue_reader_close(&r);
	/* too young: nothing goes (these records are stamped 1970, so an
	 * age of 100 years keeps them) */
	CHECK(chr_queue_pos_commit(&slow, 5000) == 0);
	CHECK(chr_queue_retain(dir, (int64_t)100 * 365 * 86400 * 1000000000, 0, &err) == 0);
	/* the unregistered reader still at seq 0 is told what it missed */
	CHECK(chr_queue_next(&behind, &rec) == 1 && rec->seq == 0);
	CHECK(chr_queue_retain(dir, 0, 0, &err) > 0);
	for (seq = 1; chr_queue_next(&behind, &rec) == 1; seq++)
		;
	CHECK(behind.e.status == CHR_EX_SYS && strstr(behind.e.msg, "removed") != NULL);
	chr_queue_reader_close(&behind);
	/* a dead registered reader holds nothing back once its grace since
	 * its last commit is over */
	CHECK(chr_queue_pos_commit(&slow, 0) == 0);
	for (; i < 6000; i++)
		CHECK(put(&w, i, 0) == 0);
	CHECK(chr_queue_retain(dir, 0, 0, &err) == 0);
	chr_queue_pos_close(&slow);
	CHECK(chr_queue_retain(dir, 0, CHR_QUEUE_GRACE_NS, &err) == 0);
	CHECK(chr_queue_retain(dir, 0, 0, &err) > 0);
	CHECK(count_segs(dir) <= 1 + CHR_Q_AHEAD_MAX);	/* the current one, its spares */
	chr_queue_writer_close(&w);
	rmdir_r(dir);
}

/* A keep() that is another retention, which removed the segment first */
static int taken_meanwhile(void *ctx, int dirfd, uint64_t id)
{
	char name[32];

	(void)ctx;
	chr_q_seg_name(name, id);
	CHECK(unlinkat(dirfd, name, 0) == 0);
	return 0;
}

/* Two retentions at once (the writer's own and chr-tier's): a segment the
 * other removed between the listing and the removal is no error. */
static void test_retain_race(void)
{
	char dir[] = "/tmp/t-queue.XXXXXX";
	struct chr_err err;
	struct chr_queue_writer w;
	uint64_t i;

	CHECK(mkdtemp(dir) != NULL);
	CHECK(chr_queue_writer_open(&w, dir, &small) == 0);
	for (i = 0; i < 5000; i++)
		CHECK(put(&w, i, 0) == 0);
	CHECK(chr_q_retain(dir, 0, 0, &err, taken_meanwhile, NULL) > 0);
	CHECK(count_segs(dir) <= 1 + CHR_Q_AHEAD_MAX);
	chr_queue_writer_close(&w);
	rmdir_r(dir);
}

/* The writer's retention keeps removed segments to reuse: a later segment
 * is an earlier one's file, and a reader that keeps up reads it all,
 * through the mapping it kept of that file. */
static void test_recycle(void)
{
	char dir[] = "/tmp/t-queue.XXXXXX", path[4200];
	struct chr_queue_opts o = { .seg_size = 64 << 10, .retain_ns = 0,
				    .flags = CHR_QUEUE_CREATE | CHR_QUEUE_RETAIN };
	struct chr_queue_writer w;
	struct chr_queue_reader r;
	const struct chr_rec *rec;
	ino_t seen[4096];
	uint64_t i, seq = 0, bad = 0, last = UINT64_MAX;
	int n = 0, reused = 0, remapped = 0;

	CHECK(mkdtemp(dir) != NULL);
	CHECK(chr_queue_writer_open(&w, dir, &o) == 0);
	CHECK(chr_queue_reader_open(&r, dir, 0) == 0);
	for (i = 0; i < 20000; i++) {
		struct chr_queue_map kept[2];
		uint64_t at = r.id;

		memcpy(kept, r.kept, sizeof kept);
		CHECK(put(&w, i, 0) == 0);
		while (chr_queue_next(&r, &rec) == 1)
			if (!verify(rec, seq++))
				bad++;
		/* the reader moved to a file it had left: its mapping again */
		for (int k = 0; k < 2; k++)
			if (r.id != at && kept[k].base && kept[k].ino == r.ino) {
				CHECK(r.base == kept[k].base);
				remapped++;
			}
		if (w.id != last) {
			struct stat st;

			last = w.id;
			snprintf(path, sizeof path, "%s/%09" PRIu64 ".q", dir, w.id);
			CHECK(stat(path, &st) == 0);
			for (int k = 0; k < n; k++)
				if (seen[k] == st.st_ino)
					reused++;
			if (n < 4096)
				seen[n++] = st.st_ino;
			usleep(2000);	/* let the thread run retention */
		}
	}
	while (chr_queue_next(&r, &rec) == 1)
		if (!verify(rec, seq++))
			bad++;
	CHECK(bad == 0);
	CHECK(seq == i);
	CHECK(reused > 0 && remapped > 0);
	chr_queue_reader_close(&r);
	chr_queue_writer_close(&w);
	CHECK(count_segs(dir) <= 1 + CHR_Q_AHEAD_MAX);
	rmdir_r(dir);
}

/* A registered reader that committed the end of a segment and has not
 * moved on yet: retention's pool may reuse that segment under it, and
 * the later segment may even be written to its end and sealed (a reader
 * kept from running for that long finds its header, with the same end);
 * the reader goes on to the next segment, losing nothing. */
static void test_recycled_under_reader(int sealed)
{
	char dir[] = "/tmp/t-queue.XXXXXX";
	struct chr_queue_opts o = { .seg_size = 64 << 10, .retain_ns = 0,
				    .flags = CHR_QUEUE_CREATE | CHR_QUEUE_RETAIN };
	struct chr_queue_writer w;
	struct chr_queue_reader r;
	struct chr_queue_pos pos;
	const struct chr_rec *rec;
	struct chr_seg h;
	uint64_t i = 0, seq = 0, bad = 0;
	int changed = 0;

	CHECK(mkdtemp(dir) != NULL);
	CHECK(chr_queue_writer_open(&w, dir, &o) == 0);
	CHECK(chr_queue_reader_open(&r, dir, 0) == 0);
	CHECK(chr_queue_pos_open(&pos, dir, "t", 0) == 0);
	while (w.id == 0)
		CHECK(put(&w, i++, 0) == 0);
	CHECK(chr_q_seg_head(r.dirfd, 0, &h) == 0);
	for (uint64_t k = 0; k < h.count; k++)	/* all of segment 0, not one more */
		if (chr_queue_next(&r, &rec) != 1 || !verify(rec, seq++))
			bad++;
	CHECK(bad == 0 && r.id == 0);
	CHECK(chr_queue_pos_commit(&pos, seq) == 0);
	for (int t = 0; t < 200000 && !changed; t++) {
		CHECK(put(&w, i++, 0) == 0);
		const struct chr_seg *now = (const struct chr_seg *)(const void *)r.base;

		changed = now->id != 0 && (!sealed || (now->flags & CHR_SEG_SEALED));
		if (t % 100 == 99)
			usleep(200);	/* let the thread pool and reuse it */
	}
	CHECK(changed);
	while (chr_queue_next(&r, &rec) == 1)
		if (!verify(rec, seq++))
			bad++;
	CHECK(bad == 0);
	CHECK(seq == i);
	if (seq != i)
		fprintf(stderr, "t-queue: %s\n", r.e.msg);
	chr_queue_pos_close(&pos);
	chr_queue_reader_close(&r);
	chr_queue_writer_close(&w);
	rmdir_r(dir);
}

/* Append a DEFINE of market m named "S<m>"; returns its seq or -1. */
static int64_t put_define(struct chr_queue_writer *w, uint32_t m, int64_t ts)
{
	struct chr_rec *r = chr_queue_reserve(w, 64 + sizeof(struct chr_define));
	struct chr_define *d;

	if (!r)
		return -1;
	d = chr_rec_payload(r);
	r->type = CHR_DEFINE;
	r->venue = 3;
	r->market = m;
	r->ts = ts;
	strcpy(d->venue, "v");
	snprintf(d->symbol, sizeof d->symbol, "S%u", (unsigned)m);
	chr_queue_commit(w, r);
	return (int64_t)r->seq;
}

/* Each segment after the first begins with a repeat of every DEFINE before
 * it; a reader that seeks mid-segment gets them first; the writer learns
 * them again when it reopens. */
static void test_repeats(void)
{
	char dir[] = "/tmp/t-queue.XXXXXX";
	struct chr_queue_writer w;
	struct chr_queue_reader r;
	const struct chr_rec *rec;
	uint64_t i, seq = 0, origs = 0, reps = 0, bad = 0, segs_checked = 0, last_id = 0;
	uint32_t head = 0, known = 0;
	int in_head = 0;
	int64_t src[5];

	CHECK(mkdtemp(dir) != NULL);
	CHECK(chr_queue_writer_open(&w, dir, &small) == 0);
	for (i = 0; i < 3000; i++) {
		if (i % 1000 == 0) {
			src[i / 1000] = put_define(&w, (uint32_t)(i / 1000 + 1), (int64_t)w.seq * 1000 + 1);
			CHECK(src[i / 1000] >= 0);
		}
		if (i == 2000) {	/* a reopen in between: the table is scanned back */
			chr_queue_writer_close(&w);
			CHECK(chr_queue_writer_open(&w, dir, NULL) == 0);
		}
		struct chr_rec *x = chr_queue_reserve(&w, 200);

		CHECK(x != NULL);
		x->type = 0x8000;
		x->ts = (int64_t)w.seq * 1000 + 1;
		chr_queue_commit(&w, x);
	}
	CHECK(w.id >= 6);
	/* the raw log: every record once, in seq order; each segment after
	 * the first starts with repeats of exactly the DEFINEs before it */
	CHECK(chr_queue_reader_open(&r, dir, 0) == 0);
	while (chr_queue_next(&r, &rec) == 1) {
		int rep = rec->type == CHR_DEFINE && (rec->flags & CHR_F_REPEAT);

		if (rec->seq != seq++)
			bad++;
		if (r.id != last_id) {
			last_id = r.id;
			head = 0;
			in_head = 1;
			segs_checked++;
		}
		if (rep) {
			const struct chr_define *d = chr_rec_payload(rec);
			char want[16];

			snprintf(want, sizeof want, "S%u", (unsigned)rec->market);
			if (!in_head || strcmp(d->symbol, want) ||
			    rec->src_seq != (uint64_t)src[rec->market - 1])
				bad++;
			head |= 1u << rec->market;
			reps++;
		} else {
			if (in_head && r.id > 0 && head != known)
				bad++;
			in_head = 0;
			if (rec->type == CHR_DEFINE) {
				origs++;
				known |= 1u << rec->market;
			}
		}
	}
	CHECK(bad == 0);
	CHECK(origs == 3);
	CHECK(reps >= w.id);
	CHECK(segs_checked == w.id);
	chr_queue_reader_close(&r);

	/* from the middle of the last segment: its head repeats first, all
	 * three instruments, then the record asked for */
	CHECK(chr_queue_reader_open(&r, dir, 0) == 0);
	CHECK(chr_queue_seek_seq(&r, w.seq - 5) == 0);
	chr_queue_seek_defines(&r);
	for (i = 0; i < 3; i++) {
		CHECK(chr_queue_next(&r, &rec) == 1);
		CHECK(rec->type == CHR_DEFINE && (rec->flags & CHR_F_REPEAT) && rec->market == i + 1);
	}
	CHECK(chr_queue_next(&r, &rec) == 1 && rec->seq == w.seq - 5);
	chr_queue_reader_close(&r);
	/* just after a DEFINE in the middle of a segment: the head's repeats
	 * and that DEFINE come first */
	CHECK(chr_queue_reader_open(&r, dir, 0) == 0);
	CHECK(chr_queue_seek_seq(&r, (uint64_t)src[1] + 5) == 0);
	chr_queue_seek_defines(&r);
	{
		uint32_t markets = 0;

		while (chr_queue_next(&r, &rec) == 1 && rec->type == CHR_DEFINE)
			markets |= 1u << rec->market;
		CHECK(markets == ((1u << 1) | (1u << 2)));
		CHECK(rec->seq == (uint64_t)src[1] + 5);
	}
	chr_queue_reader_close(&r);
	/* and from the end */
	CHECK(chr_queue_reader_open(&r, dir, 0) == 0);
	CHECK(chr_queue_seek_end(&r) == 0);
	chr_queue_seek_defines(&r);
	for (i = 0; i < 3; i++)
		CHECK(chr_queue_next(&r, &rec) == 1 && rec->type == CHR_DEFINE);
	CHECK(chr_queue_next(&r, &rec) == 0);
	chr_queue_reader_close(&r);
	chr_queue_writer_close(&w);
	rmdir_r(dir);
}

/* chr_queue_flush beside the thread's own syncing: between appends that
 * roll, at once after open, and under the policy never. */
static void test_flush(void)
{
	char dir[] = "/tmp/t-queue.XXXXXX";
	struct chr_queue_opts o = small;
	struct chr_queue_writer w;
	struct chr_queue_reader r;
	const struct chr_rec *rec;
	uint64_t i, seq, bad = 0;

	CHECK(mkdtemp(dir) != NULL);
	o.sync = CHR_SYNC_SEAL;
	CHECK(chr_queue_writer_open(&w, dir, &o) == 0);
	CHECK(chr_queue_flush(&w) == 0);
	for (i = 0; i < 5000; i++) {
		if (put(&w, i, i & 1) < 0)
			bad++;
		if (i % 97 == 0 && chr_queue_flush(&w) < 0)
			bad++;
	}
	CHECK(bad == 0);
	CHECK(w.id > 5);
	CHECK(chr_queue_flush(&w) == 0);
	CHECK(chr_queue_writer_close(&w) == 0);
	o.sync = CHR_SYNC_NEVER;
	o.flags = 0;
	CHECK(chr_queue_writer_open(&w, dir, &o) == 0);
	CHECK(put(&w, i, 0) == 0 && chr_queue_flush(&w) == 0);
	CHECK(chr_queue_writer_close(&w) == 0);
	CHECK(chr_queue_reader_open(&r, dir, 0) == 0);
	for (seq = 0; chr_queue_next(&r, &rec) == 1; seq++)
		if (!verify(rec, seq))
			bad++;
	CHECK(seq == i + 1 && bad == 0);
	chr_queue_reader_close(&r);
	rmdir_r(dir);
}

/* Header of segment id in dir, or a zeroed one. */
static struct chr_seg seg_head(const char *dir, uint64_t id)
{
	char path[4200];
	struct chr_seg h = { 0 };
	int fd;

	snprintf(path, sizeof path, "%s/%09" PRIu64 ".q", dir, id);
	fd = open(path, O_RDONLY);
	if (fd >= 0 && pread(fd, &h, sizeof h, 0) != sizeof h)
		memset(&h, 0, sizeof h);
	if (fd >= 0)
		close(fd);
	return h;
}

/* chr_queue_seal: the current segment sealed with what it holds, the
 * next one current with the DEFINE repeats; nothing to seal in a segment
 * of repeats alone; a reader beside it and the next writer go on. */
static void test_seal(void)
{
	char dir[] = "/tmp/t-queue.XXXXXX";
	struct chr_queue_writer w;
	struct chr_queue_reader r;
	const struct chr_rec *rec;
	struct chr_seg h;
	uint64_t i, seq, bad = 0;

	CHECK(mkdtemp(dir) != NULL);
	CHECK(chr_queue_writer_open(&w, dir, &small) == 0);
	CHECK(chr_queue_seal(&w) == 0 && w.id == 0);	/* empty: nothing */
	CHECK(chr_queue_reader_open(&r, dir, 0) == 0);
	CHECK(put_define(&w, 1, 1) == 0);
	for (i = 1; i < 100; i++)
		if (put(&w, i, 0) < 0)
			bad++;
	CHECK(chr_queue_reserve(&w, 300) != NULL);	/* forgotten */
	CHECK(chr_queue_seal(&w) == 0 && w.id == 1);
	h = seg_head(dir, 0);
	CHECK(!chr_seg_check(&h) && (h.flags & CHR_SEG_SEALED) && h.count == 100 &&
	      h.base_seq == 0 && h.ts_max == 99 * 1000 + 1);
	/* the new current segment holds the DEFINE's repeat alone (seq 100):
	 * not sealed again */
	CHECK(w.count == 1 && w.seq == 101);
	CHECK(chr_queue_seal(&w) == 0 && w.id == 1);
	h = seg_head(dir, 1);
	CHECK(!(h.flags & CHR_SEG_SEALED) && h.base_seq == 100);
	for (seq = 0; chr_queue_next(&r, &rec) == 1; seq++)
		if (rec->seq != seq || (seq > 0 && seq < 100 && !verify(rec, seq)) ||
		    (seq == 100 && !(rec->flags & CHR_F_REPEAT)))
			bad++;
	CHECK(seq == 101);
	CHECK(chr_queue_writer_close(&w) == 0);
	CHECK(chr_queue_writer_open(&w, dir, NULL) == 0);
	CHECK(w.id == 1 && w.seq == 101);
	for (i = 101; i < 111; i++)
		if (put(&w, i, i & 1) < 0)
			bad++;
	CHECK(chr_queue_seal(&w) == 0 && w.id == 2);
	h = seg_head(dir, 1);
	CHECK((h.flags & CHR_SEG_SEALED) && h.count == 11 && h.base_seq == 100);
	for (; chr_queue_next(&r, &rec) == 1 && seq < 111; seq++)
		if (!verify(rec, seq))
			bad++;
	CHECK(seq == 111 && bad == 0);
	chr_queue_reader_close(&r);
	chr_queue_writer_close(&w);
	rmdir_r(dir);
}

/* Recovery reads the previous segment's DEFINEs up to its sealed end: a
 * truncated file whose header says more is read to its own end only (it
 * was scanned past its mapping, found by make fuzz). */
static void test_trunc(void)
{
	char dir[] = "/tmp/t-queue.XXXXXX", path[4200];
	struct chr_queue_writer w;
	struct chr_seg h;
	uint32_t len = 8u << 20;	/* the first record says 8 MiB */
	uint64_t i;
	int fd, k;

	CHECK(mkdtemp(dir) != NULL);
	CHECK(chr_queue_writer_open(&w, dir, &small) == 0);
	for (i = 0; i < 100; i++)
		put(&w, i, 0);
	CHECK(chr_queue_seal(&w) == 0);
	chr_queue_writer_close(&w);
	snprintf(path, sizeof path, "rm -f %s/*.idx %s/000000001.q", dir, dir);
	CHECK(system(path) == 0);
	snprintf(path, sizeof path, "%s/000000000.q", dir);
	CHECK((fd = open(path, O_RDWR)) >= 0);
	CHECK(pread(fd, &h, sizeof h, 0) == (ssize_t)sizeof h && (h.flags & CHR_SEG_SEALED));
	h.end = 1ull << 30;
	h.crc = chr_seg_crc(&h);
	CHECK(pwrite(fd, &h, sizeof h, 0) == (ssize_t)sizeof h);
	CHECK(pwrite(fd, &len, sizeof len, CHR_HDR_SIZE) == (ssize_t)sizeof len);
	CHECK(ftruncate(fd, 4096) == 0);
	close(fd);
	/* opened or refused, but read within the file */
	k = chr_queue_writer_open(&w, dir, &small);
	if (k == 0)
		chr_queue_writer_close(&w);
	CHECK(k == 0 || k == -1);
	rmdir_r(dir);
}

/* The append and read paths' inline CRC is chr_rec_crc, short and long
 * payloads, odd lengths; a reader names a bad CRC and nonzero padding of a
 * committed record as chr_rec_check does. */
static void test_crc(void)
{
	static _Alignas(64) unsigned char buf[4096];
	struct chr_rec *r = (struct chr_rec *)buf;
	char dir[] = "/tmp/t-queue.XXXXXX";
	struct chr_queue_writer w;
	struct chr_queue_reader rd;
	const struct chr_rec *got;
	unsigned char *at;

	for (uint32_t len = 64; len <= 2100; len += len < 700 ? 1 : 37) {
		for (uint32_t i = 4; i < len; i++)
			buf[i] = (unsigned char)(i * 29 + len);
		r->len = len;
		CHECK(chr_q_crc(r, len) == chr_rec_crc(r));
	}
	CHECK(mkdtemp(dir) != NULL);
	CHECK(chr_queue_writer_open(&w, dir, &small) == 0);
	CHECK(put(&w, 0, 0) == 0 && put(&w, 1, 0) == 0 && put(&w, 2, 0) == 0);
	CHECK(chr_queue_reader_open(&rd, dir, 0) == 0);
	CHECK(chr_queue_next(&rd, &got) == 1 && verify(got, 0));
	/* record 1: a padding byte set (len_of(1) = 101: 27 bytes of it) */
	at = w.base + CHR_HDR_SIZE + chr_rec_span(len_of(0));	/* the writer's mapping */
	at[len_of(1) + 20] = 1;
	CHECK(chr_queue_next(&rd, &got) == -1 && strstr(rd.e.msg, ": nonzero padding"));
	at[len_of(1) + 20] = 0;
	chr_queue_reader_close(&rd);
	CHECK(chr_queue_reader_open(&rd, dir, 0) == 0);
	at[CHR_HDR_SIZE + 3] ^= 1;
	CHECK(chr_queue_next(&rd, &got) == 1 && verify(got, 0));
	CHECK(chr_queue_next(&rd, &got) == -1 && strstr(rd.e.msg, ": bad crc"));
	chr_queue_reader_close(&rd);
	chr_queue_writer_close(&w);
	rmdir_r(dir);
}

/* The spares after segment id: files id + 1, id + 2 ... with a header
 * whose base_seq is CHR_QUEUE_NO_SEQ. */
static int spares_after(const char *dir, uint64_t id)
{
	char path[4200];
	struct chr_seg h;
	int n = 0;

	for (;; n++) {
		int fd;

		snprintf(path, sizeof path, "%s/%09" PRIu64 ".q", dir, id + 1 + (uint64_t)n);
		if ((fd = open(path, O_RDONLY)) < 0)
			break;
		if (pread(fd, &h, sizeof h, 0) != (ssize_t)sizeof h || h.base_seq != CHR_QUEUE_NO_SEQ) {
			close(fd);
			break;
		}
		close(fd);
	}
	return n;
}

/* Segments are made ahead: a new queue has its first spare when the open
 * returns; a writer that had to wait for a spare at a roll (appending
 * faster than segments are made) gets two kept ahead; a writer opened on
 * those goes on from them, and a reader reads every record. */
static void test_ahead(void)
{
	char dir[] = "/tmp/t-queue.XXXXXX";
	struct chr_queue_writer w;
	struct chr_queue_reader r;
	const struct chr_rec *rec;
	uint64_t i, seq = 0, bad = 0;
	int two = 0;

	CHECK(mkdtemp(dir) != NULL);
	CHECK(chr_queue_writer_open(&w, dir, &small) == 0);
	CHECK(spares_after(dir, 0) == 1);
	/* 64 KiB segments fill in microseconds: the writer waits at a roll */
	for (i = 0; i < 6000; i++)
		CHECK(put(&w, i, 0) == 0);
	CHECK(w.id > 10);
	for (int t = 0; t < 5000 && !two; t++) {
		two = spares_after(dir, w.id) == 2;
		if (!two)
			usleep(1000);
	}
	CHECK(two);
	chr_queue_writer_close(&w);
	CHECK(chr_queue_writer_open(&w, dir, &small) == 0);
	for (; i < 12000; i++)
		CHECK(put(&w, i, i % 2) == 0);
	chr_queue_writer_close(&w);
	CHECK(chr_queue_reader_open(&r, dir, 0) == 0);
	while (chr_queue_next(&r, &rec) == 1)
		if (!verify(rec, seq++))
			bad++;
	CHECK(bad == 0 && seq == i);
	chr_queue_reader_close(&r);
	rmdir_r(dir);
}

/* kB of the mapping at base that are mapped by huge pages (smaps) */
static long pmd_kb(const void *base)
{
	char line[256];
	unsigned long lo;
	long kb = -1, v;
	int in = 0;
	FILE *f = fopen("/proc/self/smaps", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof line, f)) {
		char *dash = strchr(line, '-'), *sp = strchr(line, ' ');

		if (dash && sp && dash < sp && sscanf(line, "%lx-", &lo) == 1) {	/* a mapping */
			in = lo == (unsigned long)base;
			continue;
		}
		if (in && (sscanf(line, "ShmemPmdMapped: %ld", &v) == 1 ||
			   sscanf(line, "FilePmdMapped: %ld", &v) == 1))
			kb = (kb < 0 ? 0 : kb) + v;
	}
	fclose(f);
	return kb;
}

/* A counter of /proc/vmstat, or -1 */
static long vmstat(const char *name)
{
	char key[64];
	long v, r = -1;
	FILE *f = fopen("/proc/vmstat", "r");

	while (f && fscanf(f, "%63s %ld", key, &v) == 2)
		if (strcmp(key, name) == 0)
			r = v;
	if (f)
		fclose(f);
	return r;
}

/* In a child with a mount namespace of its own: a queue on a tmpfs
 * mounted huge=within_size on dir, with 9 MiB segments (4 huge pages and
 * 1 MiB of small ones each). Exits 77 when it cannot have huge pages. */
static int huge_child(const char *dir)
{
	const struct chr_queue_opts o = { .seg_size = 9 << 20, .flags = CHR_QUEUE_CREATE };
	struct chr_queue_writer w;
	struct chr_queue_reader r;
	const struct chr_rec *rec;
	uint64_t i, seq = 0, bad = 0;
	int failed = unit_failed;	/* the parent's, before the fork */
	long fallback = vmstat("thp_file_fallback"), split;
	char probe[4200];
	int fd;

	if (unshare(CLONE_NEWNS) < 0 || mount("none", "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
	    mount("t-queue", dir, "tmpfs", 0, "huge=within_size,size=128m") < 0)
		return 77;
	snprintf(probe, sizeof probe, "%s/probe", dir);
	if ((fd = open(probe, O_RDWR | O_CREAT, 0600)) < 0 || ftruncate(fd, 4 << 20) < 0 ||
	    chr_q_step(fd) != 2 << 20)
		return 77;	/* huge pages off for tmpfs (shmem_enabled deny) */
	close(fd);
	unlink(probe);
	if (chr_queue_writer_open(&w, dir, &o) < 0) {
		fprintf(stderr, "t-queue: %s\n", w.e.msg);
		return 1;
	}
	if (vmstat("thp_file_fallback") != fallback)
		return 77;	/* no huge page to be had now */
	CHECK(w.step == 2 << 20);
	CHECK(pmd_kb(w.base) == 8 << 10);
	CHECK(chr_queue_reader_open(&r, dir, 0) == 0);
	split = vmstat("thp_split_pmd");
	for (i = 0; i < 180000; i++) {	/* 4 rolls or more: about 45 MiB */
		CHECK(put(&w, i, 0) == 0);
		while (chr_queue_next(&r, &rec) == 1)
			if (!verify(rec, seq++))
				bad++;
	}
	CHECK(bad == 0 && seq == i && w.id >= 4);
	CHECK(pmd_kb(w.base) == 8 << 10);	/* a spare made ahead */
	/* the segments the reader read whole and keeps mapped: huge pages */
	CHECK(r.step == 2 << 20 && r.kept[0].step == 2 << 20 && r.kept[1].step == 2 << 20);
	CHECK(pmd_kb(r.kept[0].base) == 8 << 10 && pmd_kb(r.kept[1].base) == 8 << 10);
	/* the reader, idle, unmapped those it left before the two it keeps
	 * a step at a time: the odd 1 MiB first, then whole huge pages, none
	 * split */
	while (r.old)
		CHECK(chr_queue_next(&r, &rec) == 0);
	CHECK(vmstat("thp_split_pmd") == split);
	chr_queue_reader_close(&r);
	chr_queue_writer_close(&w);
	umount2(dir, MNT_DETACH);
	return unit_failed > failed;
}

/* The writer's background thread is a batch thread: a roll that wakes it
 * is not preempted by it. */
static void test_bg_batch(void)
{
	char dir[] = "/tmp/t-queue.XXXXXX";
	struct chr_queue_writer w;
	struct dirent *de;
	DIR *d;
	int other = 0, batch = 0;

	CHECK(mkdtemp(dir) != NULL);
	CHECK(chr_queue_writer_open(&w, dir, &small) == 0);
	CHECK((d = opendir("/proc/self/task")) != NULL);
	while (d && (de = readdir(d)))
		if (de->d_name[0] != '.' && atoi(de->d_name) != getpid()) {
			other++;
			batch += sched_getscheduler(atoi(de->d_name)) == SCHED_BATCH;
		}
	if (d)
		closedir(d);
	CHECK(other == 1 && batch == 1);
	chr_queue_writer_close(&w);
	rmdir_r(dir);
}

/* On a tmpfs with huge pages, segments get them (made with their size
 * first) and mappings are unmapped in whole huge pages. */
static void test_huge(void)
{
	char dir[] = "/tmp/t-queue.XXXXXX", path[4200];
	int st, fd;
	pid_t pid;

	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof path, "%s/f", dir);
	CHECK((fd = open(path, O_RDWR | O_CREAT, 0600)) >= 0 && ftruncate(fd, 4 << 20) == 0);
	CHECK(chr_q_step(fd) == 256 << 10);	/* /tmp: no huge pages */
	close(fd);
	unlink(path);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0)
		_exit(huge_child(dir));
	CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st));
	if (WEXITSTATUS(st) == 77)
		fprintf(stderr, "t-queue: huge pages: skipped (no tmpfs with huge pages here: needs"
			" root, a kernel with transparent huge pages and a free huge page)\n");
	else
		CHECK(WEXITSTATUS(st) == 0);
	rmdir(dir);
}

int main(void)
{
	test_basic();
	test_torn();
	test_half_roll();
	test_seek();
	test_wait();
	test_wake_bursts();
	test_retain();
	test_retain_race();
	test_recycle();
	test_recycled_under_reader(0);
	test_recycled_under_reader(1);
	test_repeats();
	test_fanout();
	test_crash();
	test_flush();
	test_seal();
	test_trunc();
	test_crc();
	test_ahead();
	test_huge();
	test_bg_batch();
	return unit_done("t-queue");
}
