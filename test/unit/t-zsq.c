/* t-zsq.c - seekable zstd segments: round trips of generated segments,
 * frames cut at record boundaries and before snapshots, snapshot_at, and
 * clean errors for every truncation and many byte flips.
 * `t-zsq compress IN OUT` compresses the segment file IN (for test/zsq.bats). */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zstd.h>

#include "err.h"
#include "io.h"
#include "rec.h"
#include "zsq.h"
#include "unit.h"

static uint64_t rnd_state = 88172645463325252u;

static uint64_t rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return rnd_state;
}

struct gen {
	unsigned char *buf;
	size_t len, cap;
	uint64_t seq, count;
	int64_t ts, ts_min, ts_max;
};

static struct chr_rec *gen_rec(struct gen *g, uint16_t type, uint16_t flags, uint32_t len)
{
	size_t span = chr_rec_span(len);
	struct chr_rec *r;

	while (g->cap - g->len < span) {
		g->cap *= 2;
		g->buf = realloc(g->buf, g->cap);
	}
	r = (struct chr_rec *)(g->buf + g->len);
	memset(r, 0, span);
	r->len = len;
	r->type = type;
	r->flags = flags;
	r->seq = g->seq++;
	r->ts = g->ts;
	r->market = 7;
	r->venue = 1;
	if (g->count == 0 || g->ts < g->ts_min)
		g->ts_min = g->ts;
	if (g->count == 0 || g->ts > g->ts_max)
		g->ts_max = g->ts;
	g->count++;
	g->len += span;
	return r;
}

static void gen_book(struct gen *g, uint16_t type, uint16_t flags, uint32_t nl)
{
	struct chr_rec *r = gen_rec(g, type, flags,
				    CHR_HDR_SIZE + sizeof(struct chr_book) + nl * 16);
	struct chr_book *b = chr_rec_payload(r);

	b->n_bid = nl / 2;
	b->n_ask = nl - nl / 2;
	b->price_scale = 1;
	for (uint32_t i = 0; i < nl; i++) {
		b->levels[i].price = 600000 + (int64_t)(rnd() % 64);
		b->levels[i].size = 100 * (int64_t)(rnd() % 8);
	}
	chr_rec_seal(r);
}

/* A sealed segment of about n records: events of a few book records, a
 * snapshot now and then, DEFINEs and their repeats, and with big set some
 * records above 1 MiB. Returns its length; *out is malloc'd. */
static size_t make_seg(unsigned char **out, int n, int big)
{
	struct gen g = {malloc(1 << 16), CHR_HDR_SIZE, 1 << 16, 100, 0, 1000, 0, 0};
	struct chr_seg *h;

	if (n > 0) {
		struct chr_rec *r = gen_rec(&g, CHR_DEFINE, 0, CHR_HDR_SIZE + sizeof(struct chr_define));

		strcpy(((struct chr_define *)chr_rec_payload(r))->venue, "v");
		chr_rec_seal(r);
	}
	while ((int)g.count < n) {
		int ev = 1 + (int)(rnd() % 4);
		uint64_t k = rnd() % 40;

		g.ts += (int64_t)(rnd() % 3);	/* equal ts now and then */
		if (k == 0) {
			struct chr_rec *r = gen_rec(&g, CHR_DEFINE, CHR_F_REPEAT,
						    CHR_HDR_SIZE + sizeof(struct chr_define));
			chr_rec_seal(r);
		}
		if (big && k == 1) {
			uint32_t len = (1u << 20) + (uint32_t)(rnd() % (1u << 20));
			struct chr_rec *r = gen_rec(&g, 0x8001, CHR_F_LAST, len);

			for (uint32_t i = CHR_HDR_SIZE; i < len; i += 8)
				((unsigned char *)r)[i] = (unsigned char)rnd();
			chr_rec_seal(r);
			continue;
		}
		for (int i = 0; i < ev && (int)g.count < n; i++) {
			/* a snapshot that starts an event, or one inside it */
			uint16_t type = (k < 6 && i == 0) || (k == 7 && i == 1) ?
				CHR_BOOK_SNAPSHOT : CHR_BOOK_DIFF;
			uint32_t nl = type == CHR_BOOK_SNAPSHOT ? 20 + (uint32_t)(rnd() % 200)
				: 1 + (uint32_t)(rnd() % 8);

			gen_book(&g, type, i == ev - 1 || (int)g.count == n - 1 ? CHR_F_LAST : 0, nl);
		}
	}
	h = (struct chr_seg *)g.buf;
	memset(h, 0, sizeof *h);
	h->magic = CHR_SEG_MAGIC;
	h->version = CHR_VERSION;
	h->flags = CHR_SEG_SEALED;
	h->id = 3;
	h->base_seq = 100;
	h->end = g.len;
	h->count = g.count;
	h->ts_min = g.ts_min;
	h->ts_max = g.ts_max;
	h->crc = chr_seg_crc(h);
	*out = g.buf;
	return g.len;
}

static char tmp[64];
static size_t flagged, snap_cuts;	/* frames flagged SNAPSHOT; cut early for one */

static void write_zsq(const unsigned char *seg, size_t len, int level)
{
	char err[512];
	int st = 0, fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	CHECK(fd >= 0);
	CHECK(chr_zsq_write(fd, "seg", seg, len, level, err, sizeof err, &st) == 0);
	CHECK(close(fd) == 0);
}

static unsigned char *slurp(const char *path, size_t *n)
{
	struct stat st;
	int fd = open(path, O_RDONLY);
	unsigned char *b;

	if (fd < 0 || fstat(fd, &st) < 0)
		return NULL;
	b = malloc((size_t)st.st_size + 1);
	*n = (size_t)read(fd, b, (size_t)st.st_size);
	close(fd);
	return b;
}

/* Is the record at off of seg a snapshot that starts an event? (prev: the
 * offset of the record before it not flagged REPEAT, 0 when none) */
static int snap_start(const unsigned char *seg, size_t off, size_t prev)
{
	const struct chr_rec *r = (const struct chr_rec *)(seg + off);
	const struct chr_rec *p = (const struct chr_rec *)(seg + prev);

	return r->type == CHR_BOOK_SNAPSHOT && !(r->flags & CHR_F_REPEAT) && prev &&
		((p->flags & CHR_F_LAST) || p->type == CHR_DEFINE);
}

/* Compress seg and check everything about the result. */
static void round_trip(const unsigned char *seg, size_t len)
{
	char err[512];
	int st = 0;
	struct chr_zsq *z;
	const struct chr_zsq_frame *f;
	size_t n, fi = 0, prev = 0, zlen;
	unsigned char *back, *zf;
	struct chr_reader rd;
	const struct chr_rec *rec;
	size_t off;
	int k;

	write_zsq(seg, len, CHR_ZSQ_LEVEL);
	z = chr_zsq_open(tmp, err, sizeof err, &st);
	CHECK(z != NULL);
	if (!z) {
		fprintf(stderr, "%s\n", err);
		return;
	}
	CHECK(chr_zsq_size(z) == len);
	CHECK(memcmp(chr_zsq_seg(z), seg, CHR_HDR_SIZE) == 0);
	f = chr_zsq_frames(z, &n);
	CHECK(n >= 1);
	/* frames: contiguous, at record boundaries, flagged as they begin */
	for (size_t i = 0; i < n; i++) {
		CHECK(f[i].uoff == (i ? f[i - 1].uoff + f[i - 1].usize : 0));
		CHECK(f[i].coff == (i ? f[i - 1].coff + f[i - 1].csize : 0));
	}
	CHECK(f[n - 1].uoff + f[n - 1].usize == len);
	if (len == CHR_HDR_SIZE)
		CHECK(n == 1 && f[0].first_seq == 100 && f[0].flags == 0);
	for (off = CHR_HDR_SIZE; off < len;) {
		const struct chr_rec *r = (const struct chr_rec *)(seg + off);
		size_t span = chr_rec_span(r->len);

		if (fi < n && (off == f[fi].uoff || (fi == 0 && off == CHR_HDR_SIZE))) {
			CHECK(f[fi].first_seq == r->seq);
			CHECK(f[fi].first_ts == r->ts);
			CHECK(!!(f[fi].flags & CHR_ZSQ_SNAPSHOT) == snap_start(seg, off, prev));
			flagged += !!(f[fi].flags & CHR_ZSQ_SNAPSHOT);
			snap_cuts += fi > 0 && (f[fi].flags & CHR_ZSQ_SNAPSHOT) &&
				f[fi - 1].usize + span <= CHR_ZSQ_FRAME;
			/* frames stay below 1 MiB but for a big record alone */
			CHECK(f[fi].usize <= CHR_ZSQ_FRAME || f[fi].usize == span ||
			      (fi == 0 && f[fi].usize == span + CHR_HDR_SIZE));
			fi++;
		} else {
			/* no cut here: it would have passed 1 MiB, or the frame
			 * was too small for a snapshot cut */
			CHECK(fi > 0);
			if (fi < n)
				CHECK(off < f[fi].uoff);
			if (snap_start(seg, off, prev))
				CHECK(off - f[fi - 1].uoff < (128u << 10));
		}
		if (!(r->flags & CHR_F_REPEAT))
			prev = off;
		off += span;
	}
	CHECK(off == len);
	CHECK(fi == n || (len == CHR_HDR_SIZE && fi == 0));
	/* every frame, and the whole through the reader */
	back = malloc(len);
	for (size_t i = 0; i < n; i++)
		CHECK(chr_zsq_read(z, i, back + f[i].uoff, err, sizeof err, &st) == 0);
	CHECK(memcmp(back, seg, len) == 0);
	CHECK(chr_reader_init_zsq(&rd, z, 0, "seg") == 0);
	off = CHR_HDR_SIZE;
	while ((k = chr_reader_next(&rd, &rec)) == 1) {
		CHECK(memcmp(rec, seg + off, chr_rec_span(rec->len)) == 0);
		CHECK(rd.rec_off == off);
		off += chr_rec_span(rec->len);
	}
	CHECK(k == 0);
	CHECK(off == len);
	chr_reader_free(&rd);
	/* from the last frame on */
	CHECK(chr_reader_init_zsq(&rd, z, n - 1, "seg") == 0);
	off = n > 1 ? f[n - 1].uoff : CHR_HDR_SIZE;
	while ((k = chr_reader_next(&rd, &rec)) == 1) {
		CHECK(memcmp(rec, seg + off, chr_rec_span(rec->len)) == 0);
		off += chr_rec_span(rec->len);
	}
	CHECK(k == 0 && off == len);
	chr_reader_free(&rd);
	/* a frame's first bytes alone, and a reader that starts from a frame
	 * already decompressed: the rest of the segment after it, or only the
	 * records of a part of it */
	{
		size_t i = n / 2, part = f[i].usize / 2 & ~(size_t)63;
		size_t few = f[i].usize < 100 ? f[i].usize : 100;	/* a header alone: 64 */
		unsigned char *some = malloc(f[i].usize + 64);

		CHECK(chr_zsq_read_some(z, i, some, 100, err, sizeof err, &st) == 0);
		CHECK(memcmp(some, seg + f[i].uoff, few) == 0);
		CHECK(chr_zsq_read_some(z, i, some, f[i].usize + 64, err, sizeof err, &st) == 0);
		CHECK(memcmp(some, seg + f[i].uoff, f[i].usize) == 0);
		CHECK(chr_reader_init_zsq_data(&rd, z, i, some, f[i].usize, 0, "seg") == 0);
		off = f[i].uoff ? f[i].uoff : CHR_HDR_SIZE;
		while ((k = chr_reader_next(&rd, &rec)) == 1) {
			CHECK(memcmp(rec, seg + off, chr_rec_span(rec->len)) == 0);
			CHECK(rd.rec_off == off);
			off += chr_rec_span(rec->len);
		}
		CHECK(k == 0 && off == len);
		chr_reader_free(&rd);
		/* a part: whole records up to `part` (a record boundary or not:
		 * the reader stops at its end either way, no frame after) */
		for (off = f[i].uoff ? f[i].uoff : CHR_HDR_SIZE; off + 64 <= f[i].uoff + part;) {
			const struct chr_rec *h = (const void *)(seg + off);

			if (off + chr_rec_span(h->len) > f[i].uoff + part)
				break;
			off += chr_rec_span(h->len);
		}
		part = off - f[i].uoff;
		CHECK(chr_reader_init_zsq_data(&rd, z, i, some, part, 0, "seg") == 0);
		off = f[i].uoff ? f[i].uoff : CHR_HDR_SIZE;
		while ((k = chr_reader_next(&rd, &rec)) == 1)
			off += chr_rec_span(rec->len);
		CHECK(k == 0 && off == f[i].uoff + part);
		chr_reader_free(&rd);
		CHECK(chr_reader_init_zsq_data(&rd, z, i, some, 32, 0, "seg") < 0);
		free(some);
	}
	CHECK(chr_reader_init_zsq(&rd, z, n + 1, "seg") < 0);
	/* snapshot_at against a scan */
	for (int t = 0; t < 200; t++) {
		int64_t ts = 900 + (int64_t)(rnd() % (uint64_t)(len / 256 + 400));
		long want = -1;

		for (size_t i = 0; i < n; i++)
			if ((f[i].flags & CHR_ZSQ_SNAPSHOT) && f[i].first_ts <= ts)
				want = (long)i;
		CHECK(chr_zsq_snapshot_at(z, ts) == want);
	}
	chr_zsq_close(z);
	/* plain zstd decompression gives the segment back */
	zf = slurp(tmp, &zlen);
	CHECK(ZSTD_decompress(back, len, zf, zlen) == len);
	CHECK(memcmp(back, seg, len) == 0);
	free(zf);
	free(back);
}

/* Open and read everything: 0 when it all matches seg, -1 on a clean
 * error (the message names the file and a byte). */
static int try_read(const unsigned char *seg, size_t len)
{
	char err[512];
	int st = 0, rc = 0;
	struct chr_zsq *z = chr_zsq_open(tmp, err, sizeof err, &st);
	struct chr_reader rd;
	const struct chr_rec *rec;
	size_t off = CHR_HDR_SIZE;
	int k;

	if (!z) {
		CHECK(st == CHR_EX_DATA);
		CHECK(strncmp(err, tmp, strlen(tmp)) == 0 && strstr(err, ": byte ") != NULL);
		return -1;
	}
	if (chr_zsq_size(z) != len) {
		chr_zsq_close(z);
		return 1;
	}
	chr_reader_init_zsq(&rd, z, 0, tmp);
	while ((k = chr_reader_next(&rd, &rec)) == 1) {
		if (off + chr_rec_span(rec->len) > len ||
		    memcmp(rec, seg + off, chr_rec_span(rec->len)) != 0)
			rc = 1;
		off += chr_rec_span(rec->len);
	}
	if (k < 0) {
		CHECK(rd.e.status == CHR_EX_DATA);
		CHECK(strstr(rd.e.msg, ": byte ") != NULL);
		rc = -1;
	} else if (off != len) {
		rc = 1;
	}
	chr_reader_free(&rd);
	chr_zsq_close(z);
	return rc;
}

static void hostile(void)
{
	unsigned char *seg, *zf;
	size_t len = make_seg(&seg, 4500, 0), zlen;
	int fd, bad = 0, ok = 0;

	write_zsq(seg, len, 1);
	zf = slurp(tmp, &zlen);
	CHECK(zf != NULL);
	fd = open(tmp, O_RDWR);
	/* every truncation */
	for (size_t k = zlen; k-- > 0;) {
		CHECK(ftruncate(fd, (off_t)k) == 0);
		if (try_read(seg, len) != -1)
			bad++;
	}
	CHECK(bad == 0);
	CHECK(pwrite(fd, zf, zlen, 0) == (ssize_t)zlen);
	CHECK(try_read(seg, len) == 0);
	/* every byte of the tables, and random bytes anywhere */
	CHECK(len > CHR_ZSQ_FRAME);
	for (size_t i = 0; i < 1000; i++) {
		size_t at = i < 400 && i < zlen ? zlen - 1 - i : (size_t)(rnd() % zlen);
		unsigned char b = (unsigned char)(zf[at] ^ (1u << (rnd() % 8)));
		int k;

		CHECK(pwrite(fd, &b, 1, (off_t)at) == 1);
		k = try_read(seg, len);
		if (k == 1)
			fprintf(stderr, "t-zsq: a flip at byte %zu went unnoticed\n", at), bad++;
		ok += k == 0;
		CHECK(pwrite(fd, zf + at, 1, (off_t)at) == 1);
	}
	CHECK(bad == 0);
	/* the 2 unused bits of the seek table descriptor */
	CHECK(ok <= 60);
	close(fd);
	free(zf);
	free(seg);
}

/* A bad segment is refused with the byte offset of the bad record. */
static void bad_input(void)
{
	unsigned char *seg;
	size_t len = make_seg(&seg, 50, 0), off = CHR_HDR_SIZE;
	char err[512];
	int st = 0, fd = open("/dev/null", O_WRONLY);
	struct chr_seg *h = (struct chr_seg *)seg;
	char want[64];

	off += chr_rec_span(((struct chr_rec *)(seg + off))->len);
	seg[off + 70] ^= 1;	/* the second record's payload */
	CHECK(chr_zsq_write(fd, "s.q", seg, len, 3, err, sizeof err, &st) < 0);
	CHECK(st == CHR_EX_DATA);
	snprintf(want, sizeof want, "s.q: byte %zu: bad crc", off);
	CHECK_STR(err, want);
	seg[off + 70] ^= 1;
	CHECK(chr_zsq_write(fd, "s.q", seg, len - 64, 3, err, sizeof err, &st) < 0);
	snprintf(want, sizeof want, "s.q: byte 24: segment end %zu is not its length %zu", len,
		 len - 64);
	CHECK_STR(err, want);
	h->count++;
	h->crc = chr_seg_crc(h);
	CHECK(chr_zsq_write(fd, "s.q", seg, len, 3, err, sizeof err, &st) < 0);
	CHECK(st == CHR_EX_DATA && strstr(err, "s.q: byte 32: ") == err);
	h->flags = 0;
	CHECK(chr_zsq_write(fd, "s.q", seg, len, 3, err, sizeof err, &st) < 0);
	CHECK_STR(err, "s.q: byte 6: segment is not sealed");
	/* not a compressed segment */
	CHECK(chr_zsq_open("/dev/null/x", err, sizeof err, &st) == NULL && st == CHR_EX_SYS);
	close(fd);
	free(seg);
}

/* Decoding ahead: records in order, a corrupt frame past the first few
 * reported where and as a single thread reports it, a reader closed early. */
static void ahead(void)
{
	unsigned char *seg, *zf, *back;
	size_t len = make_seg(&seg, 700, 1), zlen, n, k, got;
	struct chr_zsq_frame *f;
	struct chr_reader rd;
	const struct chr_rec *rec;
	struct chr_zsq *z;
	char err[512], want[512];
	int st = 0, rc, seen;

	write_zsq(seg, len, 1);
	zf = slurp(tmp, &zlen);
	z = chr_zsq_open(tmp, err, sizeof err, &st);
	CHECK(z != NULL);
	/* the frames, kept past chr_zsq_close */
	{
		const struct chr_zsq_frame *zf0 = chr_zsq_frames(z, &n);

		f = malloc(sizeof *f * n);
		CHECK(f != NULL && n >= 8);
		memcpy(f, zf0, sizeof *f * n);
	}
	/* in order: every record, the thread at work after a few frames */
	CHECK(chr_reader_init_zsq(&rd, z, 0, "seg") == 0);
	got = CHR_HDR_SIZE;
	seen = 0;
	while ((rc = chr_reader_next(&rd, &rec)) == 1) {
		CHECK(got + chr_rec_span(rec->len) <= len &&
		      memcmp(rec, seg + got, chr_rec_span(rec->len)) == 0);
		got += chr_rec_span(rec->len);
		seen |= chr_zsq_reading_ahead(z);
	}
	CHECK(rc == 0 && got == len && seen);
	chr_reader_free(&rd);
	/* a look at two frames (the book at T) stays on one thread */
	CHECK(chr_reader_init_zsq(&rd, z, n - 3, "seg") == 0);
	CHECK(!chr_zsq_reading_ahead(z));
	while ((rc = chr_reader_next(&rd, &rec)) == 1 && rd.next_frame < n - 1)
		CHECK(!chr_zsq_reading_ahead(z));
	chr_reader_free(&rd);
	chr_zsq_close(z);
	/* a corrupt frame in the middle, for each of a few frames: the
	 * records before it, then the message chr_zsq_read gives */
	for (k = 3; k < n; k += 2) {
		int fd = open(tmp, O_RDWR);
		unsigned char b = (unsigned char)(zf[f[k].coff + f[k].csize / 2] ^ 0x10);

		CHECK(pwrite(fd, &b, 1, (off_t)(f[k].coff + f[k].csize / 2)) == 1);
		close(fd);
		z = chr_zsq_open(tmp, err, sizeof err, &st);
		CHECK(z != NULL);
		back = malloc(f[k].usize);
		CHECK(chr_zsq_read(z, k, back, want, sizeof want, &st) < 0 && st == CHR_EX_DATA);
		free(back);
		CHECK(chr_reader_init_zsq(&rd, z, 0, "seg") == 0);
		got = CHR_HDR_SIZE;
		while ((rc = chr_reader_next(&rd, &rec)) == 1)
			got += chr_rec_span(rec->len);
		CHECK(rc < 0 && rd.e.status == CHR_EX_DATA && strcmp(rd.e.msg, want) == 0);
		CHECK(got == f[k].uoff);
		chr_reader_free(&rd);
		chr_zsq_close(z);
		fd = open(tmp, O_WRONLY);
		CHECK(pwrite(fd, zf, zlen, 0) == (ssize_t)zlen);
		close(fd);
	}
	/* closed early, the thread at work: nothing left behind (make SAN=1) */
	z = chr_zsq_open(tmp, err, sizeof err, &st);
	CHECK(z != NULL);
	CHECK(chr_reader_init_zsq(&rd, z, 0, "seg") == 0);
	rd.own = 1;
	while ((rc = chr_reader_next(&rd, &rec)) == 1 && !chr_zsq_reading_ahead(z))
		;
	CHECK(rc == 1);
	chr_reader_free(&rd);	/* and z */
	/* many readers at once: decoding ahead in one less than the cores (at
	 * least one); the others alone, reading the same records; once those
	 * end, a reader going on takes their place */
	{
		long cores = sysconf(_SC_NPROCESSORS_ONLN);
		int most = cores > 2 ? (int)cores - 1 : 1, many = most + 2, busy = 0;
		struct chr_reader *rs = calloc((size_t)many, sizeof *rs);
		size_t *at = calloc((size_t)many, sizeof *at);

		CHECK(rs != NULL && at != NULL);
		for (int j = 0; j < many; j++) {
			z = chr_zsq_open(tmp, err, sizeof err, &st);
			CHECK(z != NULL && chr_reader_init_zsq(&rs[j], z, 0, "seg") == 0);
			rs[j].own = 1;
			at[j] = CHR_HDR_SIZE;
		}
		/* each through its first half, in turns of a record */
		for (int more = 1; more;) {
			more = 0;
			for (int j = 0; j < many; j++) {
				if (at[j] >= len / 2)
					continue;
				CHECK(chr_reader_next(&rs[j], &rec) == 1);
				CHECK(memcmp(rec, seg + at[j], chr_rec_span(rec->len)) == 0);
				at[j] += chr_rec_span(rec->len);
				more = 1;
			}
		}
		for (int j = 0; j < many; j++)
			busy += chr_zsq_reading_ahead(rs[j].in);
		CHECK(busy == most);
		/* those decoding ahead end; the last reader goes on to the end */
		for (int j = 0; j < many - 1; j++)
			if (chr_zsq_reading_ahead(rs[j].in))
				chr_reader_free(&rs[j]), rs[j].in = NULL;
		seen = 0;
		while ((rc = chr_reader_next(&rs[many - 1], &rec)) == 1) {
			CHECK(memcmp(rec, seg + at[many - 1], chr_rec_span(rec->len)) == 0);
			at[many - 1] += chr_rec_span(rec->len);
			seen |= chr_zsq_reading_ahead(rs[many - 1].in);
		}
		CHECK(rc == 0 && at[many - 1] == len && seen);
		for (int j = 0; j < many; j++)
			if (rs[j].in)
				chr_reader_free(&rs[j]);
		free(rs);
		free(at);
	}
	free(f);
	free(zf);
	free(seg);
}

static int compress_file(const char *in, const char *out)
{
	size_t len;
	unsigned char *seg = slurp(in, &len);
	char err[512];
	int st = 0, fd;

	if (!seg)
		chr_die(CHR_EX_SYS, "cannot open '%s': %s", in, strerror(errno));
	fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		chr_die(CHR_EX_SYS, "cannot open '%s': %s", out, strerror(errno));
	if (chr_zsq_write(fd, in, seg, len, CHR_ZSQ_LEVEL, err, sizeof err, &st) < 0)
		chr_die(st, "%s", err);
	if (close(fd) < 0)
		chr_die(CHR_EX_SYS, "%s: %s", out, strerror(errno));
	free(seg);
	return 0;
}

int main(int argc, char **argv)
{
	static const int sizes[] = {0, 1, 2, 10, 100, 1000, 5000, 20000, 60000};
	unsigned char *seg;
	size_t len;

	chr_setprog(argv[0]);
	if (argc == 4 && strcmp(argv[1], "compress") == 0)
		return compress_file(argv[2], argv[3]);
	snprintf(tmp, sizeof tmp, "/tmp/t-zsq.%d", (int)getpid());
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		len = make_seg(&seg, sizes[i], 0);
		round_trip(seg, len);
		free(seg);
	}
	for (int i = 0; i < 3; i++) {
		len = make_seg(&seg, 300 + 200 * i, 1);
		round_trip(seg, len);
		free(seg);
	}
	/* one record above 1 MiB alone */
	{
		struct gen g = {malloc(1 << 16), CHR_HDR_SIZE, 1 << 16, 5, 0, 1, 0, 0};
		struct chr_rec *r = gen_rec(&g, 0x8002, 0, 3u << 20);
		struct chr_seg *h;

		chr_rec_seal(r);
		h = (struct chr_seg *)g.buf;
		memset(h, 0, sizeof *h);
		*h = (struct chr_seg){CHR_SEG_MAGIC, CHR_VERSION, CHR_SEG_SEALED, 0, 5, g.len, 1,
				      1, 1, 0, 0};
		h->crc = chr_seg_crc(h);
		round_trip(g.buf, g.len);
		free(g.buf);
	}
	CHECK(flagged > 5 && snap_cuts > 5);
	bad_input();
	hostile();
	ahead();
	unlink(tmp);
	return unit_done("t-zsq");
}
