/*
 * gen-l2: write a large Tardis incremental_book_L2 CSV to stdout by replaying
 * a real sample many times, each pass shifted later in time (benchmark input).
 *
 * usage: gen-l2 [-n ROWS] [FILE|-]
 *
 * FILE is a plain (not gzipped) incremental_book_L2 CSV; "-" or no FILE reads
 * stdin. The header is written once, then data rows until ROWS rows (default
 * 20000000) have been written. Pass k adds k*D microseconds to both timestamp
 * and local_timestamp, where D = (largest span of either timestamp column in
 * the sample) + 1 s, so local_timestamp stays non-decreasing across passes.
 * Every pass replays every row, snapshot rows included (Tardis writes a new
 * snapshot after each reconnect). All other bytes are copied verbatim.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct row {
	size_t start;	/* offset of the line */
	size_t pre;	/* length of "exchange,symbol," */
	size_t rest;	/* offset of ",is_snapshot,...\n" */
	size_t end;	/* offset just past the line's '\n' */
	uint64_t ts, lts;
};

static const char *prog = "gen-l2";

static void die(const char *msg)
{
	fprintf(stderr, "%s: %s\n", prog, msg);
	exit(1);
}

static char *read_all(FILE *f, size_t *len)
{
	size_t cap = 1 << 24, n = 0, r;
	char *buf = malloc(cap + 1);

	if (!buf)
		die("out of memory");
	while ((r = fread(buf + n, 1, cap - n, f)) > 0) {
		n += r;
		if (n == cap) {
			cap *= 2;
			if (!(buf = realloc(buf, cap + 1)))
				die("out of memory");
		}
	}
	if (ferror(f))
		die("read error");
	/* guarantee a final newline so every line ends in '\n' */
	if (n > 0 && buf[n - 1] != '\n')
		buf[n++] = '\n';
	*len = n;
	return buf;
}

/* Parse the unsigned decimal field at p (ending at ','); return the end. */
static const char *parse_u64(const char *p, const char *lim, uint64_t *v,
			     size_t lineno)
{
	const char *s = p;
	uint64_t x = 0;

	while (p < lim && *p >= '0' && *p <= '9')
		x = x * 10 + (uint64_t)(*p++ - '0');
	if (p == s || p >= lim || *p != ',') {
		fprintf(stderr, "%s: line %zu: bad timestamp field\n", prog,
			lineno);
		exit(1);
	}
	*v = x;
	return p;
}

static struct row *index_rows(const char *buf, size_t len, size_t *hdr_end,
			      size_t *nrows)
{
	size_t cap = 1 << 16, n = 0, lineno = 1;
	struct row *rows = malloc(cap * sizeof *rows);
	const char *p, *lim = buf + len, *nl;

	if (!rows)
		die("out of memory");
	nl = memchr(buf, '\n', len);
	if (!nl)
		die("empty input");
	*hdr_end = (size_t)(nl - buf) + 1;
	for (p = nl + 1; p < lim; p = nl + 1) {
		struct row *r;
		const char *q;
		int commas = 0;

		lineno++;
		nl = memchr(p, '\n', (size_t)(lim - p));
		if (nl == p || (nl == p + 1 && *p == '\r'))
			continue;	/* skip blank lines */
		if (n == cap) {
			cap *= 2;
			if (!(rows = realloc(rows, cap * sizeof *rows)))
				die("out of memory");
		}
		r = &rows[n++];
		r->start = (size_t)(p - buf);
		r->end = (size_t)(nl - buf) + 1;
		for (q = p; q < nl && commas < 2; q++)
			if (*q == ',')
				commas++;
		if (commas < 2) {
			fprintf(stderr, "%s: line %zu: too few fields\n", prog,
				lineno);
			exit(1);
		}
		r->pre = (size_t)(q - p);
		q = parse_u64(q, nl, &r->ts, lineno);
		q = parse_u64(q + 1, nl, &r->lts, lineno);
		r->rest = (size_t)(q - buf);
	}
	if (n == 0)
		die("no data rows");
	*nrows = n;
	return rows;
}

static char obuf[1 << 20];
static size_t olen;

static void flush_out(void)
{
	size_t off = 0;

	while (off < olen) {
		ssize_t w = write(1, obuf + off, olen - off);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			perror("gen-l2: write");
			exit(1);
		}
		off += (size_t)w;
	}
	olen = 0;
}

static void put(const char *s, size_t n)
{
	if (olen + n > sizeof obuf) {
		flush_out();
		if (n > sizeof obuf) {	/* huge line: write it through */
			while (n > 0) {
				size_t k = n < sizeof obuf ? n : sizeof obuf;
				memcpy(obuf, s, k);
				olen = k;
				flush_out();
				s += k;
				n -= k;
			}
			return;
		}
	}
	memcpy(obuf + olen, s, n);
	olen += n;
}

static void put_u64(uint64_t v)
{
	char tmp[24], *e = tmp + sizeof tmp, *p = e;

	do {
		*--p = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	put(p, (size_t)(e - p));
}

int main(int argc, char **argv)
{
	unsigned long long want = 20000000ULL, done = 0;
	uint64_t ts_min, ts_max, l_min, l_max, shift, off;
	size_t len, hdr_end, nrows, i;
	struct row *rows;
	char *buf, *end;
	FILE *in = stdin;
	int c;

	while ((c = getopt(argc, argv, "n:h")) != -1) {
		switch (c) {
		case 'n':
			errno = 0;
			want = strtoull(optarg, &end, 10);
			if (errno || end == optarg || *end)
				die("bad -n value");
			break;
		default:
			fprintf(stderr, "usage: %s [-n ROWS] [FILE|-]\n", prog);
			return c == 'h' ? 0 : 2;
		}
	}
	if (argc - optind > 1)
		die("too many arguments");
	if (optind < argc && strcmp(argv[optind], "-") != 0) {
		if (!(in = fopen(argv[optind], "rb"))) {
			perror(argv[optind]);
			return 1;
		}
	}
	buf = read_all(in, &len);
	if (in != stdin)
		fclose(in);
	rows = index_rows(buf, len, &hdr_end, &nrows);

	ts_min = ts_max = rows[0].ts;
	l_min = l_max = rows[0].lts;
	for (i = 1; i < nrows; i++) {
		if (rows[i].ts < ts_min) ts_min = rows[i].ts;
		if (rows[i].ts > ts_max) ts_max = rows[i].ts;
		if (rows[i].lts < l_min) l_min = rows[i].lts;
		if (rows[i].lts > l_max) l_max = rows[i].lts;
	}
	shift = (ts_max - ts_min > l_max - l_min ? ts_max - ts_min
						  : l_max - l_min) + 1000000;

	put(buf, hdr_end);
	for (off = 0; done < want; off += shift) {
		for (i = 0; i < nrows && done < want; i++, done++) {
			const struct row *r = &rows[i];
			put(buf + r->start, r->pre);
			put_u64(r->ts + off);
			put(",", 1);
			put_u64(r->lts + off);
			put(buf + r->rest, r->end - r->rest);
		}
	}
	flush_out();
	return 0;
}
