/* mkseed.c - `mkseed FILE.csv DIR NAME`: the fuzz harnesses' seeds from a
 * CSV of test/data, in DIR/reader, DIR/zsq and DIR/queue (two: NAME, one
 * current segment, and NAME.2, a sealed and a current one). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "io.h"
#include "rec.h"
#include "tardis.h"
#include "zsq.h"

#define CSV_MAX 32768

_Noreturn static void die(const char *what)
{
	fprintf(stderr, "mkseed: %s\n", what);
	exit(1);
}

static void put(const char *dir, const char *sub, const char *name, const void *a, size_t na,
		const void *b, size_t nb)
{
	char p[4096];
	FILE *f;

	snprintf(p, sizeof p, "%s/%s/%s", dir, sub, name);
	if ((f = fopen(p, "wb")) == NULL || fwrite(a, 1, na, f) != na ||
	    (nb && fwrite(b, 1, nb, f) != nb) || fclose(f) != 0)
		die(p);
}

/* A segment image of records r[0..n) (whole records) as segment id. */
static unsigned char *segment(const unsigned char *r, size_t n, uint64_t id, int sealed,
			      size_t size)
{
	unsigned char *s = calloc(1, size);
	struct chr_seg h = {CHR_SEG_MAGIC, CHR_VERSION, sealed ? CHR_SEG_SEALED : 0, id, 0,
			    CHR_HDR_SIZE + n, 0, INT64_MAX, INT64_MIN, 0, 0};

	if (!s)
		die("out of memory");
	for (size_t off = 0; off < n;) {
		const struct chr_rec *c = (const struct chr_rec *)(const void *)(r + off);

		if (h.count++ == 0)
			h.base_seq = c->seq;
		h.ts_min = c->ts < h.ts_min ? c->ts : h.ts_min;
		h.ts_max = c->ts > h.ts_max ? c->ts : h.ts_max;
		off += chr_rec_span(c->len);
	}
	h.crc = chr_seg_crc(&h);
	memcpy(s, &h, sizeof h);
	memcpy(s + CHR_HDR_SIZE, r, n);
	return s;
}

int main(int argc, char **argv)
{
	static char buf[CSV_MAX + CHR_TARDIS_PAD];
	struct chr_writer w;
	struct chr_tardis_in t;
	unsigned char *recs, *seg, *s2;
	size_t n, half, off;
	char err[1024], p[4096];
	int fd, in, st;
	ssize_t k;
	off_t len;

	if (argc != 4)
		die("usage: mkseed FILE.csv DIR NAME");
	if ((in = open(argv[1], O_RDONLY)) < 0 || (k = read(in, buf, CSV_MAX)) < 0)
		die(argv[1]);
	close(in);
	if ((fd = memfd_create("seed", 0)) < 0 || chr_writer_init(&w, fd, "seed", 0) < 0 ||
	    chr_tardis_in_init(&t, &w) < 0)
		die("cannot start");
	chr_tardis_in_file(&t, argv[1]);
	if (chr_tardis_in_parse(&t, buf, (size_t)k, k < CSV_MAX) < 0 ||
	    chr_tardis_in_end(&t) < 0 || chr_writer_close(&w) < 0)
		die(t.err);
	chr_tardis_in_free(&t);
	if ((len = lseek(fd, 0, SEEK_END)) <= 0 || (recs = malloc((size_t)len)) == NULL ||
	    pread(fd, recs, (size_t)len, 0) != len)
		die("no records");
	n = (size_t)len;
	put(argv[2], "reader", argv[3], recs, n, NULL, 0);
	/* the compressed segment */
	seg = segment(recs, n, 0, 1, CHR_HDR_SIZE + n);
	snprintf(p, sizeof p, "%s/zsq/%s", argv[2], argv[3]);
	if ((in = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644)) < 0 ||
	    chr_zsq_write(in, p, seg, CHR_HDR_SIZE + n, CHR_ZSQ_LEVEL, err, sizeof err, &st) < 0 ||
	    close(in) < 0)
		die(err);
	free(seg);
	/* the queue: one current segment; a sealed one and a current one */
	seg = segment(recs, n, 0, 0, CHR_HDR_SIZE + n);
	put(argv[2], "queue", argv[3], "\0", 1, seg, CHR_HDR_SIZE + n);
	free(seg);
	for (off = 0; off < n / 2;)
		off += chr_rec_span(((struct chr_rec *)(void *)(recs + off))->len);
	half = off;
	seg = segment(recs, half, 0, 1, CHR_HDR_SIZE + n);
	s2 = segment(recs + half, n - half, 1, 0, CHR_HDR_SIZE + n);
	snprintf(p, sizeof p, "%s.2", argv[3]);
	{
		unsigned char *both = malloc(2 * (CHR_HDR_SIZE + n) + 1);

		if (!both)
			die("out of memory");
		both[0] = 1;
		memcpy(both + 1, seg, CHR_HDR_SIZE + n);
		memcpy(both + 1 + CHR_HDR_SIZE + n, s2, CHR_HDR_SIZE + n);
		put(argv[2], "queue", p, both, 2 * (CHR_HDR_SIZE + n) + 1, NULL, 0);
		free(both);
	}
	free(seg);
	free(s2);
	free(recs);
	close(fd);
	return 0;
}
