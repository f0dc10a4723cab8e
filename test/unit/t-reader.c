/* t-reader.c - the reader over each backend fed as little as it can be: a
 * backend of its own a byte a fill, a pipe written a byte at a time, a
 * queue committed a record at a time while the reader follows, a
 * compressed segment read a frame at a time; the flush-before-block rule;
 * truncated and corrupt input reported with the right offset and status. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "err.h"
#include "io.h"
#include "queue.h"
#include "rec.h"
#include "zsq.h"
#include "unit.h"

/* A buffer of records (after a segment header when seg), seq from 0,
 * payloads of len_of bytes filled from the seq. */
struct gen {
	unsigned char *buf;
	size_t len, cap;
	uint64_t n;
};

static uint32_t len_of(uint64_t seq)
{
	return CHR_HDR_SIZE + (uint32_t)(seq * 37 % 700);
}

static struct chr_rec *gen_rec(struct gen *g, uint32_t len);

/* A book snapshot that starts an event: a compressed segment may cut a
 * frame before it. */
static void gen_snap(struct gen *g)
{
	const uint32_t nl = 20;
	struct chr_rec *r = gen_rec(g, CHR_HDR_SIZE + sizeof(struct chr_book) + nl * 16);
	struct chr_book *b = chr_rec_payload(r);

	r->type = CHR_BOOK_SNAPSHOT;
	memset(b, 0, sizeof *b + nl * 16);
	b->n_bid = nl / 2;
	b->n_ask = nl - nl / 2;
	b->price_scale = 1;
	for (uint32_t i = 0; i < nl; i++) {
		b->levels[i].price = 600000 + (int64_t)i;
		b->levels[i].size = 100;
	}
	chr_rec_seal(r);
}

static struct chr_rec *gen_rec(struct gen *g, uint32_t len)
{
	size_t span = chr_rec_span(len);
	struct chr_rec *r;

	while (g->cap - g->len < span) {
		g->cap = g->cap ? 2 * g->cap : 1 << 16;
		g->buf = realloc(g->buf, g->cap);
	}
	r = (struct chr_rec *)(g->buf + g->len);
	memset(r, 0, span);
	r->len = len;
	r->type = 0x8001;
	r->seq = g->n++;
	r->ts = 1000 + (int64_t)r->seq;
	r->venue = 1;
	r->market = 7;
	r->flags = CHR_F_LAST;
	for (uint32_t i = CHR_HDR_SIZE; i < len; i++)
		((unsigned char *)r)[i] = (unsigned char)(r->seq + i);
	chr_rec_seal(r);
	g->len += span;
	return r;
}

static void gen_stream(struct gen *g, uint64_t n)
{
	memset(g, 0, sizeof *g);
	for (uint64_t i = 0; i < n; i++)
		gen_rec(g, len_of(i));
}

/* A sealed segment of n records, a book snapshot every 100 (so that
 * frames are cut small, about every 128 KiB) and, with big, one record
 * above 1 MiB in the middle. */
static void gen_seg(struct gen *g, uint64_t n, int big)
{
	struct chr_seg *h;

	memset(g, 0, sizeof *g);
	g->cap = 1 << 16;
	g->buf = malloc(g->cap);
	g->len = CHR_HDR_SIZE;
	for (uint64_t i = 0; i < n; i++) {
		if (i % 100 == 99)
			gen_snap(g);
		else
			gen_rec(g, big && i == n / 2 ? (3u << 19) + 100 : len_of(i));
	}
	h = (struct chr_seg *)g->buf;
	memset(h, 0, sizeof *h);
	h->magic = CHR_SEG_MAGIC;
	h->version = CHR_VERSION;
	h->flags = CHR_SEG_SEALED;
	h->end = g->len;
	h->count = n;
	h->ts_min = 1000;
	h->ts_max = 1000 + (int64_t)n - 1;
	h->crc = chr_seg_crc(h);
}

static int flushes;

static int count_flush(void *arg)
{
	(void)arg;
	flushes++;
	return 0;
}

/* A backend of the test's own: memory handed over step bytes a fill, into
 * a buffer that starts at 64 bytes. What a new backend looks like. */
struct mem {
	const unsigned char *p;
	size_t n, at, step;
	int fills;
};

static int mem_fill(struct chr_reader *r, size_t need)
{
	struct mem *m = r->in;
	size_t k = m->n - m->at < m->step ? m->n - m->at : m->step;

	m->fills++;
	if (chr_reader_room(r, need) < 0)
		return -1;
	if (k > r->cap - r->hi)
		k = r->cap - r->hi;
	if (k == 0) {
		r->eof = 1;
		return 0;
	}
	memcpy(r->buf + r->hi, m->p + m->at, k);
	m->at += k;
	r->hi += k;
	return 1;
}

static const struct chr_reader_ops mem_ops = { .fill = mem_fill, .blocks = 1 };

/* Read p[0..n) through the memory backend, step bytes a fill. Returns the
 * records read; *last is the last result, r is left for the caller to
 * look at and free. */
static uint64_t mem_read(const unsigned char *p, size_t n, size_t step, int *last,
			 struct chr_reader *r, struct mem *m)
{
	const struct chr_rec *rec;
	uint64_t count = 0, off = 0;
	int k;

	*m = (struct mem){ p, n, 0, step, 0 };
	CHECK(chr_reader_setup(r, &mem_ops, 64, "mem") == 0);
	r->in = m;
	while ((k = chr_reader_next(r, &rec)) == 1) {
		CHECK(rec->seq == count);
		CHECK(((uintptr_t)rec & 63) == 0);
		CHECK(r->rec_off == off);
		CHECK(memcmp(rec, p + off, chr_rec_span(rec->len)) == 0);
		off += chr_rec_span(rec->len);
		count++;
	}
	*last = k;
	return count;
}

static void test_mem(void)
{
	struct gen g;
	struct chr_reader r;
	struct mem m;
	int last;
	size_t off = 0;
	uint64_t i = 0;

	gen_stream(&g, 40);
	/* a byte a fill, from a 64-byte buffer; flushed before every fill */
	flushes = 0;
	{
		const struct chr_rec *rec;
		int k;

		m = (struct mem){ g.buf, g.len, 0, 1, 0 };
		chr_reader_setup(&r, &mem_ops, 64, "mem");
		r.in = &m;
		chr_reader_set_flush(&r, count_flush, NULL);
		CHECK(chr_reader_may_block(&r) == 1);
		while ((k = chr_reader_next(&r, &rec)) == 1)
			CHECK(rec->seq == i++);
		CHECK(k == 0 && i == 40);
		CHECK(flushes == m.fills && m.fills >= (int)g.len);
		CHECK(chr_reader_may_block(&r) == 0);	/* at EOF */
		chr_reader_free(&r);
	}
	/* every cut: a clean EOF at a boundary, else the record's offset */
	for (size_t cut = 0; cut <= g.len; cut++) {
		uint64_t want = 0;
		size_t rec_at = 0;

		while (rec_at < cut) {
			size_t span = chr_rec_span(((struct chr_rec *)(g.buf + rec_at))->len);

			if (rec_at + span > cut)
				break;
			rec_at += span;
			want++;
		}
		CHECK(mem_read(g.buf, cut, cut % 7 + 1, &last, &r, &m) == want);
		if (rec_at == cut) {
			CHECK(last == 0);
		} else {
			char msg[128];

			snprintf(msg, sizeof msg, "mem: byte %zu: truncated record%s", rec_at,
				 cut - rec_at < CHR_HDR_SIZE ? " header" : "");
			CHECK(last == -1 && r.e.status == CHR_EX_DATA);
			CHECK_STR(r.e.msg, msg);
			/* the older names are the same bytes */
			CHECK(r.e.status == CHR_EX_DATA);
		}
		chr_reader_free(&r);
	}
	/* a corrupt payload byte: CHR_EX_DATA at that record */
	for (i = 0; i < 40; i += 13) {
		const struct chr_rec *h;
		char msg[64];

		off = 0;
		for (uint64_t j = 0; j < i; j++)
			off += chr_rec_span(((struct chr_rec *)(g.buf + off))->len);
		h = (const void *)(g.buf + off);
		g.buf[off + h->len - 1] ^= 0x40;
		CHECK(mem_read(g.buf, g.len, 1, &last, &r, &m) == i);
		snprintf(msg, sizeof msg, "mem: byte %zu: ", off);
		CHECK(last == -1 && r.e.status == CHR_EX_DATA && strstr(r.e.msg, msg) == r.e.msg);
		g.buf[off + h->len - 1] ^= 0x40;
		chr_reader_free(&r);
	}
	free(g.buf);
}

/* A writer flushed by the reader before it reads: what was put leaves
 * then; a failed flush is the writer's to report at its next put. */
static void test_flush_writer(void)
{
	struct gen g;
	struct chr_reader r;
	struct chr_writer w;
	struct mem m;
	const struct chr_rec *rec;
	unsigned char out[4096];
	int p[2];

	gen_stream(&g, 3);
	CHECK(pipe(p) == 0);
	CHECK(fcntl(p[0], F_SETFL, O_NONBLOCK) == 0);
	CHECK(chr_writer_init(&w, p[1], "out", 0) == 0);
	m = (struct mem){ g.buf, g.len, 0, 1, 0 };
	chr_reader_setup(&r, &mem_ops, 64, "mem");
	r.in = &m;
	chr_reader_set_flush(&r, chr_writer_flush_fn, &w);
	CHECK(chr_reader_next(&r, &rec) == 1);
	CHECK(chr_writer_put(&w, rec) == 0);
	CHECK(read(p[0], out, sizeof out) < 0 && errno == EAGAIN);	/* buffered */
	CHECK(chr_reader_next(&r, &rec) == 1);	/* read more: flushed first */
	CHECK(read(p[0], out, sizeof out) == (ssize_t)chr_rec_span(len_of(0)));
	/* the pipe closed: the flush fails, the next put says so */
	CHECK(chr_writer_put(&w, rec) == 0);
	close(p[0]);
	signal(SIGPIPE, SIG_IGN);
	CHECK(chr_reader_next(&r, &rec) == 1);
	CHECK(w.err == EPIPE);
	CHECK(chr_writer_put(&w, rec) < 0 && errno == EPIPE);
	signal(SIGPIPE, SIG_DFL);
	chr_reader_free(&r);
	free(w.buf);
	close(p[1]);
	free(g.buf);
}

/* A pipe written a byte at a time by a child. */
static void test_fd(void)
{
	struct gen g;
	struct chr_reader r;
	const struct chr_rec *rec;
	int p[2], k;
	uint64_t i = 0;

	gen_stream(&g, 200);
	CHECK(pipe(p) == 0);
	if (fork() == 0) {
		close(p[0]);
		for (size_t j = 0; j < g.len; j++)
			if (chr_write_all(p[1], g.buf + j, 1) < 0)
				_exit(1);
		_exit(0);
	}
	close(p[1]);
	flushes = 0;
	CHECK(chr_reader_init(&r, p[0], "pipe") == 0);
	chr_reader_set_flush(&r, count_flush, NULL);
	CHECK(chr_reader_may_block(&r) == 1);
	while ((k = chr_reader_next(&r, &rec)) == 1) {
		CHECK(rec->seq == i);
		CHECK(chr_rec_check(rec) == NULL);
		i++;
	}
	CHECK(k == 0 && i == 200);
	/* a flush before each read (there were some), none without one */
	CHECK(flushes > 0);
	chr_reader_free(&r);
	close(p[0]);
	wait(NULL);
	/* a pipe cut inside a record */
	CHECK(pipe(p) == 0);
	if (fork() == 0) {
		close(p[0]);
		chr_write_all(p[1], g.buf, 3 * 64 + 10);
		_exit(0);
	}
	close(p[1]);
	CHECK(chr_reader_init(&r, p[0], "pipe") == 0);
	i = 0;
	while ((k = chr_reader_next(&r, &rec)) == 1)
		i++;
	CHECK(k == -1 && r.e.status == CHR_EX_DATA);
	{
		size_t at = 0;
		char msg[64];

		for (uint64_t j = 0; j < i; j++)
			at += chr_rec_span(((struct chr_rec *)(g.buf + at))->len);
		snprintf(msg, sizeof msg, "pipe: byte %zu: truncated record", at);
		CHECK(strstr(r.e.msg, msg) == r.e.msg);
	}
	chr_reader_free(&r);
	close(p[0]);
	wait(NULL);
	free(g.buf);
}

static void rmdir_r(const char *dir)
{
	char cmd[4200];

	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	CHECK(system(cmd) == 0);
}

static int put(struct chr_queue_writer *w, uint64_t seq)
{
	struct chr_rec *r = chr_queue_reserve(w, len_of(seq));

	if (!r)
		return -1;
	r->type = 0x8001;
	r->ts = 1000 + (int64_t)seq;
	for (uint32_t i = CHR_HDR_SIZE; i < len_of(seq); i++)
		((unsigned char *)r)[i] = (unsigned char)(seq + i);
	chr_queue_commit(w, r);
	return 0;
}

/* A queue of 4 KiB segments committed a record at a time while the reader
 * follows it: each record as soon as it is committed, none before. */
static void test_queue(void)
{
	const struct chr_queue_opts o = { .seg_size = 4096, .flags = CHR_QUEUE_CREATE };
	struct chr_queue_writer w;
	struct chr_queue_reader *q = malloc(sizeof *q);
	struct chr_reader r;
	const struct chr_rec *rec;
	char dir[] = "/tmp/t-reader.XXXXXX";
	uint64_t i;
	int k, done = 0;
	pid_t child;

	CHECK(mkdtemp(dir) != NULL);
	CHECK(chr_queue_writer_open(&w, dir, &o) == 0);
	CHECK(chr_queue_reader_open(q, dir, 0) == 0);
	chr_reader_init_queue(&r, q, dir, 1);
	r.own = 1;
	flushes = 0;
	chr_reader_set_flush(&r, count_flush, NULL);
	CHECK(chr_reader_next(&r, &rec) == 2);
	CHECK(chr_reader_may_block(&r) == 1);
	CHECK(chr_reader_wait(&r, 0) == 0 && flushes == 1);
	for (i = 0; i < 300; i++) {
		struct chr_rec *res = chr_queue_reserve(&w, len_of(i));

		/* reserved, not committed: nothing yet */
		CHECK(res != NULL);
		CHECK(chr_reader_next(&r, &rec) == 2);
		res->type = 0x8001;
		res->ts = 1000 + (int64_t)i;
		for (uint32_t j = CHR_HDR_SIZE; j < len_of(i); j++)
			((unsigned char *)res)[j] = (unsigned char)(i + j);
		chr_queue_commit(&w, res);
		CHECK(chr_reader_may_block(&r) == 0);
		CHECK((k = chr_reader_next(&r, &rec)) == 1);
		if (k == 1) {
			CHECK(rec->seq == i && rec->len == len_of(i) && rec->ts == 1000 + (int64_t)i);
			CHECK(rec->len == CHR_HDR_SIZE || ((const unsigned char *)rec)[rec->len - 1] ==
			      (unsigned char)(i + rec->len - 1));
			CHECK(r.rec_off >= CHR_HDR_SIZE && r.rec_off < 4096);
		}
		CHECK(chr_reader_next(&r, &rec) == 2);
	}
	CHECK(flushes == 1);	/* no wait, no flush */
	chr_reader_free(&r);	/* owns q: closes and frees it */
	chr_queue_writer_close(&w);
	/* a writer in another process, the reader waiting for it */
	if ((child = fork()) == 0) {
		if (chr_queue_writer_open(&w, dir, &o) < 0)
			_exit(1);
		for (i = 300; i < 2300; i++)
			if (put(&w, i) < 0)
				_exit(1);
		chr_queue_writer_close(&w);
		_exit(0);
	}
	q = malloc(sizeof *q);
	CHECK(chr_queue_reader_open(q, dir, 300) == 0);
	chr_reader_init_queue(&r, q, dir, 1);
	r.own = 1;
	for (i = 300; i < 2300;) {
		k = chr_reader_next(&r, &rec);
		if (k == 2 && done) {
			break;	/* the writer is gone: no more will come */
		} else if (k == 2) {
			chr_reader_wait(&r, 100);
			done = waitpid(child, NULL, WNOHANG) == child;
			continue;
		}
		CHECK(k == 1);
		if (k != 1)
			break;
		CHECK(rec->seq == i);
		i++;
	}
	CHECK(i == 2300);
	chr_reader_free(&r);
	if (!done)
		waitpid(child, NULL, 0);
	/* not following, the end is EOF */
	q = malloc(sizeof *q);
	CHECK(chr_queue_reader_open(q, dir, 2290) == 0);
	chr_reader_init_queue(&r, q, dir, 0);
	r.own = 1;
	for (i = 0; (k = chr_reader_next(&r, &rec)) == 1; i++)
		;
	CHECK(k == 0 && i == 10);
	chr_reader_free(&r);
	rmdir_r(dir);
}

/* A corrupt record in a queue: CHR_EX_DATA naming segment and offset. */
static void test_queue_corrupt(void)
{
	const struct chr_queue_opts o = { .seg_size = 64 << 10, .flags = CHR_QUEUE_CREATE };
	struct chr_queue_writer w;
	struct chr_queue_reader *q = malloc(sizeof *q);
	struct chr_reader r;
	const struct chr_rec *rec;
	char dir[] = "/tmp/t-reader.XXXXXX", seg[64], msg[128];
	uint64_t off = 0, i;
	int k, fd;
	unsigned char b;

	CHECK(mkdtemp(dir) != NULL);
	CHECK(chr_queue_writer_open(&w, dir, &o) == 0);
	for (i = 0; i < 20; i++)
		CHECK(put(&w, i) == 0);
	chr_queue_writer_close(&w);
	CHECK(chr_queue_reader_open(q, dir, 0) == 0);
	chr_reader_init_queue(&r, q, dir, 0);
	r.own = 1;
	for (i = 0; (k = chr_reader_next(&r, &rec)) == 1; i++)
		if (i == 9)
			off = r.rec_off;
	CHECK(k == 0 && i == 20 && off > 0);
	chr_reader_free(&r);
	/* flip the last payload byte of record 9 */
	snprintf(seg, sizeof seg, "%s/%09d.q", dir, 0);
	CHECK((fd = open(seg, O_RDWR)) >= 0);
	CHECK(pread(fd, &b, 1, (off_t)(off + len_of(9) - 1)) == 1);
	b ^= 0x10;
	CHECK(pwrite(fd, &b, 1, (off_t)(off + len_of(9) - 1)) == 1);
	close(fd);
	q = malloc(sizeof *q);
	CHECK(chr_queue_reader_open(q, dir, 0) == 0);
	chr_reader_init_queue(&r, q, dir, 1);
	r.own = 1;
	for (i = 0; (k = chr_reader_next(&r, &rec)) == 1; i++)
		;
	snprintf(msg, sizeof msg, "000000000.q: byte %" PRIu64 ": ", off);
	CHECK(k == -1 && i == 9 && r.e.status == CHR_EX_DATA && strstr(r.e.msg, msg) != NULL);
	if (!strstr(r.e.msg, msg))
		fprintf(stderr, "t-reader: %s\n", r.e.msg);
	chr_reader_free(&r);
	rmdir_r(dir);
}

/* A compressed segment of small frames, read a frame at a time: the reader has
 * decompressed the frame of the record it returns and none after; a
 * record above 1 MiB grows its buffer. A corrupt frame is reported with
 * its offset in the file, after every record before it. */
static void test_zsq(void)
{
	char path[] = "/tmp/t-reader.XXXXXX", err[1024], msg[128];
	struct gen g;
	struct chr_zsq *z;
	const struct chr_zsq_frame *f;
	struct chr_reader r;
	const struct chr_rec *rec;
	size_t n, fi = 0, off = CHR_HDR_SIZE;
	int fd, st = 0, k;
	uint64_t i = 0, before = 0;
	unsigned char b;

	gen_seg(&g, 12000, 1);
	CHECK((fd = mkstemp(path)) >= 0);
	CHECK(chr_zsq_write(fd, "seg", g.buf, g.len, 1, err, sizeof err, &st) == 0);
	close(fd);
	CHECK((z = chr_zsq_open(path, err, sizeof err, &st)) != NULL);
	if (!z)
		return;
	f = chr_zsq_frames(z, &n);
	CHECK(n >= 20);	/* small frames, cut before snapshots */
	CHECK(chr_reader_init_zsq(&r, z, 0, "seg") == 0);
	r.own = 1;
	flushes = 0;
	chr_reader_set_flush(&r, count_flush, NULL);
	/* a frame to decode takes a while: output waiting goes first */
	CHECK(chr_reader_may_block(&r) == 1);
	while ((k = chr_reader_next(&r, &rec)) == 1) {
		while (fi + 1 < n && off >= f[fi + 1].uoff)
			fi++;
		CHECK(rec->seq == i && r.rec_off == off);
		CHECK(memcmp(rec, g.buf + off, chr_rec_span(rec->len)) == 0);
		CHECK(r.next_frame == fi + 1);
		off += chr_rec_span(rec->len);
		i++;
	}
	CHECK(k == 0 && i == 12000 && off == g.len);
	CHECK(r.cap > (1u << 20));	/* grew for the large record */
	CHECK(flushes == (int)n + 1);	/* before each frame, and before the end */
	chr_reader_free(&r);	/* owns z */
	/* a byte of frame 2's compressed data flipped */
	CHECK((z = chr_zsq_open(path, err, sizeof err, &st)) != NULL);
	f = chr_zsq_frames(z, &n);
	before = 0;
	for (off = CHR_HDR_SIZE; off < f[2].uoff; before++)
		off += chr_rec_span(((struct chr_rec *)(g.buf + off))->len);
	CHECK((fd = open(path, O_RDWR)) >= 0);
	CHECK(pread(fd, &b, 1, (off_t)(f[2].coff + f[2].csize / 2)) == 1);
	b ^= 0xff;
	CHECK(pwrite(fd, &b, 1, (off_t)(f[2].coff + f[2].csize / 2)) == 1);
	close(fd);
	CHECK(chr_reader_init_zsq(&r, z, 0, "seg") == 0);
	r.own = 1;
	for (i = 0; (k = chr_reader_next(&r, &rec)) == 1; i++)
		;
	snprintf(msg, sizeof msg, ": byte %" PRIu64 ": frame 2: ", f[2].coff);
	CHECK(k == -1 && i == before && r.e.status == CHR_EX_DATA && strstr(r.e.msg, msg));
	chr_reader_free(&r);
	unlink(path);
	free(g.buf);
}

/* Batched wake-ups on a pipe: two reads close together start batching;
 * then a reader whose input would block sleeps out the window and takes
 * two records written 10 ms apart in one read; a sleep that brings nothing
 * (the end of the input) ends the batching. */
static void test_batch(void)
{
	struct gen g;
	struct chr_reader r;
	const struct chr_rec *rec;
	size_t s0, s1, s2;
	int p[2], go[2];
	char c = 0;

	gen_stream(&g, 4);
	s0 = chr_rec_span(((struct chr_rec *)g.buf)->len);
	s1 = chr_rec_span(((struct chr_rec *)(g.buf + s0))->len);
	s2 = chr_rec_span(((struct chr_rec *)(g.buf + s0 + s1))->len);
	CHECK(pipe(p) == 0 && pipe(go) == 0);
	if (fork() == 0) {
		close(p[0]);
		close(go[1]);
		if (chr_write_all(p[1], g.buf, s0) < 0 || read(go[0], &c, 1) != 1 ||
		    chr_write_all(p[1], g.buf + s0, s1) < 0 || read(go[0], &c, 1) != 1)
			_exit(1);
		usleep(10000);
		if (chr_write_all(p[1], g.buf + s0 + s1, s2) < 0)
			_exit(1);
		usleep(10000);
		_exit(chr_write_all(p[1], g.buf + s0 + s1 + s2, g.len - s0 - s1 - s2) < 0);
	}
	close(p[1]);
	close(go[0]);
	CHECK(chr_reader_init(&r, p[0], "pipe") == 0);
	CHECK(r.batch_ns == CHR_BATCH_NS);	/* on for a pipe */
	chr_reader_batch(&r, 300000000);	/* a window no machine misses */
	CHECK(chr_reader_next(&r, &rec) == 1 && rec->seq == 0 && !r.batching);
	CHECK(write(go[1], &c, 1) == 1);
	CHECK(chr_reader_next(&r, &rec) == 1 && rec->seq == 1 && r.batching);
	CHECK(write(go[1], &c, 1) == 1);
	/* seq 2 and 3 come 10 ms apart: one read after the window takes both */
	CHECK(chr_reader_next(&r, &rec) == 1 && rec->seq == 2);
	CHECK(r.hi - r.lo == g.len - s0 - s1 - s2);
	CHECK(chr_reader_next(&r, &rec) == 1 && rec->seq == 3 && r.batching);
	/* the window brings nothing but the end: no more batching */
	CHECK(chr_reader_next(&r, &rec) == 0 && !r.batching);
	chr_reader_free(&r);
	close(p[0]);
	close(go[1]);
	wait(NULL);
	free(g.buf);
}

int main(void)
{
	test_mem();
	test_flush_writer();
	test_fd();
	test_batch();
	test_queue();
	test_queue_corrupt();
	test_zsq();
	return unit_done("t-reader");
}
