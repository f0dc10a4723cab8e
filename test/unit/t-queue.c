/* t-queue.c - the mapped queue: rolls, a reader beside a live writer,
 * SIGKILLed writers and torn tails repaired on open. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "queue.h"
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

static void test_concurrent(void)
{
	char dir[] = "/tmp/t-queue.XXXXXX";
	struct chr_queue_writer w;
	struct chr_queue_reader r;
	const struct chr_rec *rec;
	uint64_t n = 200000, seq = 0, bad = 0;
	struct chr_queue_opts o = { .seg_size = 256 << 10, .flags = CHR_QUEUE_CREATE };
	time_t t0 = time(NULL);
	int st, k = 0;
	pid_t pid;

	CHECK(mkdtemp(dir) != NULL);
	CHECK(chr_queue_writer_open(&w, dir, &o) == 0);
	chr_queue_writer_close(&w);
	CHECK(chr_queue_reader_open(&r, dir, 0) == 0);
	pid = fork();
	if (pid == 0) {
		if (chr_queue_writer_open(&w, dir, NULL) < 0)
			_exit(3);
		for (uint64_t i = 0; i < n; i++)
			if (put(&w, i, (i % 3) == 0) < 0)
				_exit(4);
		_exit(0);
	}
	CHECK(pid > 0);
	while (seq < n && time(NULL) - t0 < 30) {
		k = chr_queue_next(&r, &rec);
		if (k < 0) {
			fprintf(stderr, "t-queue: %s\n", r.err);
			break;
		}
		if (k == 0) {
			sched_yield();
			continue;
		}
		if (!verify(rec, seq))
			bad++;
		seq++;
	}
	CHECK(k >= 0);
	CHECK(seq == n);
	CHECK(bad == 0);
	CHECK(chr_queue_next(&r, &rec) == 0);
	CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0);
	chr_queue_reader_close(&r);
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
		fprintf(stderr, "t-queue: %s\n", r->err);
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
	CHECK(strstr(r.err, want) != NULL);
	if (!strstr(r.err, want))
		fprintf(stderr, "%s\n", r.err);
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
	CHECK(w.id == 0 && w.next != NULL);
	((struct chr_seg *)w.next)->base_seq = w.seq;
	chr_queue_writer_close(&w);
	CHECK(chr_queue_writer_open(&w, dir, NULL) == 0);
	CHECK(w.id == 0 && w.seq == 200);
	snprintf(path, sizeof path, "%s/000000001.q", dir);
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

int main(void)
{
	test_basic();
	test_torn();
	test_half_roll();
	test_concurrent();
	test_crash();
	return unit_done("t-queue");
}
