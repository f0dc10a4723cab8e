/* t-merge.c - sources merged by ts: ties in the order of the sources, one
 * source in its own order, empty sources, a failing source reported with
 * its index, followed queues that have nothing yet, flush before waiting. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "err.h"
#include "io.h"
#include "merge.h"
#include "queue.h"
#include "unit.h"

static char dir[] = "/tmp/t-merge.XXXXXX";

/* Write a stream file dir/name of n records with the given ts; src_seq
 * says which file and which record (file << 16 | i). Returns its path. */
static char *write_file(const char *name, int file, const int64_t *ts, size_t n)
{
	static char paths[8][4200];
	char *path = paths[file];
	struct chr_writer w;
	int fd;

	snprintf(path, sizeof paths[0], "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	CHECK(fd >= 0);
	CHECK(chr_writer_init(&w, fd, path, 0) == 0);
	for (size_t i = 0; i < n; i++) {
		struct chr_rec *r = chr_writer_reserve(&w, CHR_HDR_SIZE + 8);

		r->type = 0x8001;
		r->ts = ts[i];
		r->seq = i;
		r->src_seq = (uint64_t)file << 16 | i;
		chr_writer_commit(&w, r);
	}
	CHECK(chr_writer_close(&w) == 0);
	close(fd);
	return path;
}

static int flushes;

static int count_flush(void *arg)
{
	(void)arg;
	flushes++;
	return 0;
}

/* Ties go to the earlier source; a source's own order is kept. */
static void test_ties(void)
{
	static const int64_t a[] = { 1, 2, 2, 5, 9 }, b[] = { 2, 2, 3, 9 }, c[] = { 0, 2, 9, 9 };
	/* by ts, then source, then the source's order */
	static const uint64_t want[] = {
		2 << 16 | 0, 0 << 16 | 0, 0 << 16 | 1, 0 << 16 | 2, 1 << 16 | 0, 1 << 16 | 1,
		2 << 16 | 1, 1 << 16 | 2, 0 << 16 | 3, 0 << 16 | 4, 1 << 16 | 3, 2 << 16 | 2,
		2 << 16 | 3,
	};
	char *paths[3];
	struct chr_merge m;
	struct chr_err e;
	const struct chr_rec *rec;
	size_t i = 0;
	int k;

	paths[0] = write_file("a", 0, a, 5);
	paths[1] = write_file("b", 1, b, 4);
	paths[2] = write_file("c", 2, c, 4);
	CHECK(chr_merge_open(&m, paths, 3, NULL, &e) == 0);
	while ((k = chr_merge_next(&m, &rec)) == 1) {
		CHECK(i < 13 && rec->src_seq == want[i]);
		CHECK(m.last == rec->src_seq >> 16);
		i++;
	}
	CHECK(k == 0 && i == 13);
	chr_merge_free(&m);
}

/* One source: its order, even when ts goes back. */
static void test_one(void)
{
	static const int64_t a[] = { 5, 3, 3, 8, 1 };
	char *paths[1];
	struct chr_merge m;
	struct chr_err e;
	const struct chr_rec *rec;
	uint64_t i = 0;
	int k;

	paths[0] = write_file("one", 0, a, 5);
	CHECK(chr_merge_open(&m, paths, 1, NULL, &e) == 0);
	while ((k = chr_merge_next(&m, &rec)) == 1) {
		CHECK(rec->seq == i && rec->ts == a[i] && m.last == 0);
		i++;
	}
	CHECK(k == 0 && i == 5);
	chr_merge_free(&m);
}

/* Empty sources are passed over; all empty is the end at once. */
static void test_empty(void)
{
	static const int64_t a[] = { 4, 6 };
	char *paths[3];
	struct chr_merge m;
	struct chr_err e;
	const struct chr_rec *rec;
	size_t i = 0;
	int k;

	paths[0] = write_file("e0", 0, NULL, 0);
	paths[1] = write_file("e1", 1, a, 2);
	paths[2] = write_file("e2", 2, NULL, 0);
	CHECK(chr_merge_open(&m, paths, 3, NULL, &e) == 0);
	while ((k = chr_merge_next(&m, &rec)) == 1) {
		CHECK(m.last == 1 && rec->ts == a[i]);
		i++;
	}
	CHECK(k == 0 && i == 2);
	CHECK(chr_merge_next(&m, &rec) == 0);
	chr_merge_free(&m);
	paths[1] = paths[2];
	CHECK(chr_merge_open(&m, paths, 2, NULL, &e) == 0);
	CHECK(chr_merge_next(&m, &rec) == 0);
	chr_merge_free(&m);
}

/* A source that fails is reported with its index and its message. */
static void test_fail(void)
{
	static const int64_t a[] = { 1, 2, 3 };
	char *paths[3], missing[4200], msg[4300];
	struct chr_merge m;
	struct chr_err e;
	const struct chr_rec *rec;
	int k, fd;

	paths[0] = write_file("f0", 0, a, 3);
	paths[1] = write_file("f1", 1, a, 3);
	paths[2] = write_file("f2", 2, a, 3);
	/* f1 cut inside its second record */
	CHECK((fd = open(paths[1], O_WRONLY)) >= 0);
	CHECK(ftruncate(fd, 128 + 72) == 0);
	close(fd);
	CHECK(chr_merge_open(&m, paths, 3, NULL, &e) == 0);
	while ((k = chr_merge_next(&m, &rec)) == 1)
		;
	snprintf(msg, sizeof msg, "%s: byte 128: truncated record", paths[1]);
	CHECK(k == -1 && m.failed == 1);
	CHECK(m.s[m.failed].e.status == CHR_EX_DATA);
	CHECK_STR(m.s[m.failed].e.msg, msg);
	chr_merge_free(&m);
	/* one that cannot be opened, when its turn comes */
	snprintf(missing, sizeof missing, "%s/none", dir);
	paths[1] = missing;
	CHECK(chr_merge_open(&m, paths, 3, NULL, &e) == 0);
	k = chr_merge_next(&m, &rec);
	snprintf(msg, sizeof msg, "cannot open '%s': No such file or directory", missing);
	CHECK(k == -1 && m.failed == 1 && m.s[1].e.status == CHR_EX_SYS);
	CHECK_STR(m.s[1].e.msg, msg);
	chr_merge_free(&m);
}

static void put(struct chr_queue_writer *w, int64_t ts)
{
	struct chr_rec *r = chr_queue_reserve(w, CHR_HDR_SIZE);

	r->type = 0x8001;
	r->ts = ts;
	chr_queue_commit(w, r);
}

/* Followed queues: 2 while nothing is there, a record as soon as it is the
 * earliest of those there are; the wait flushes first. */
static void test_follow(void)
{
	const struct chr_queue_opts o = { .seg_size = 64 << 10, .flags = CHR_QUEUE_CREATE };
	struct chr_queue_writer wa, wb;
	char qa[4200], qb[4200];
	char *paths[2] = { qa, qb };
	struct chr_merge m;
	struct chr_err e;
	const struct chr_rec *rec;

	snprintf(qa, sizeof qa, "%s/qa", dir);
	snprintf(qb, sizeof qb, "%s/qb", dir);
	CHECK(chr_queue_writer_open(&wa, qa, &o) == 0);
	CHECK(chr_queue_writer_open(&wb, qb, &o) == 0);
	CHECK(chr_merge_open(&m, paths, 2, NULL, &e) == 0);
	m.s[0].follow = m.s[1].follow = 1;
	flushes = 0;
	chr_merge_set_flush(&m, count_flush, NULL);
	CHECK(chr_merge_next(&m, &rec) == 2);
	CHECK(chr_merge_may_block(&m) == 1);
	chr_merge_wait(&m);
	CHECK(flushes == 1);
	put(&wb, 10);
	CHECK(chr_merge_next(&m, &rec) == 1 && m.last == 1 && rec->ts == 10);
	CHECK(chr_merge_next(&m, &rec) == 2);
	put(&wa, 5);
	put(&wa, 20);
	put(&wb, 20);
	CHECK(chr_merge_next(&m, &rec) == 1 && m.last == 0 && rec->ts == 5);
	CHECK(chr_merge_next(&m, &rec) == 1 && m.last == 0 && rec->ts == 20);
	CHECK(chr_merge_next(&m, &rec) == 1 && m.last == 1 && rec->ts == 20);
	CHECK(chr_merge_next(&m, &rec) == 2);
	chr_merge_free(&m);
	/* not followed, a queue's end is its end */
	CHECK(chr_merge_open(&m, paths, 2, NULL, &e) == 0);
	for (int i = 0; i < 4; i++)
		CHECK(chr_merge_next(&m, &rec) == 1);
	CHECK(chr_merge_next(&m, &rec) == 0);
	chr_merge_free(&m);
	chr_queue_writer_close(&wa);
	chr_queue_writer_close(&wb);
}

int main(void)
{
	char cmd[4200];

	CHECK(mkdtemp(dir) != NULL);
	test_ties();
	test_one();
	test_empty();
	test_fail();
	test_follow();
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	CHECK(system(cmd) == 0);
	return unit_done("t-merge");
}
