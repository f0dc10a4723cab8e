/* fuzz-csvdiff.c - libFuzzer differential harness of the Tardis CSV importer:
 * the same file through the fast path and through libcsv alone must give
 * the same records, status, message (with its line) and counters. */
#include <stdio.h>
#include <stdlib.h>

#include "fuzz.h"
#include "io.h"
#include "tardis.h"

/* what one parse gave */
struct out {
	unsigned char *recs;
	size_t n;
	int rc;
	char err[768];
	uint64_t rows, bad, presnap, records, events, line;
};

/* Parse d[0..n) as chr-csv2ev does, fed step bytes at a time (0: all at
 * once), into o. */
static void run(const uint8_t *d, size_t n, int fast, int skip_bad, size_t step, struct out *o)
{
	struct chr_writer w;
	struct chr_tardis_in t;
	size_t have = 0, fed = 0;
	char *buf = malloc(n + CHR_TARDIS_PAD);
	int fd = memfd_create("csvdiff", MFD_CLOEXEC);
	off_t size;

	memset(o, 0, sizeof *o);
	if (buf == NULL || fd < 0 || chr_writer_init(&w, fd, "mem", 65536) < 0)
		abort();
	if (chr_tardis_in_init(&t, &w) < 0)
		abort();
	t.fast = fast;
	t.skip_bad = skip_bad;
	chr_tardis_in_file(&t, "fuzz.csv");
	for (;;) {
		size_t k = step == 0 || n - fed < step ? n - fed : step;
		long used;

		memcpy(buf + have, d + fed, k);
		fed += k;
		have += k;
		used = chr_tardis_in_parse(&t, buf, have, fed == n);
		if (used < 0) {
			o->rc = t.status;
			snprintf(o->err, sizeof o->err, "%s", t.err);
			break;
		}
		memmove(buf, buf + used, have - (size_t)used);
		have -= (size_t)used;
		if (fed == n)
			break;
	}
	if (chr_tardis_in_end(&t) < 0 && o->rc == 0) {
		o->rc = t.status;
		snprintf(o->err, sizeof o->err, "%s", t.err);
	}
	if (skip_bad && o->rc == 0)
		snprintf(o->err, sizeof o->err, "%s", t.err);	/* the last bad row skipped */
	o->rows = t.rows;
	o->bad = t.bad;
	o->presnap = t.presnap;
	o->records = t.records;
	o->events = t.events;
	o->line = t.line;
	chr_tardis_in_free(&t);
	if (chr_writer_close(&w) < 0)
		abort();
	size = lseek(fd, 0, SEEK_END);
	o->n = (size_t)size;
	o->recs = malloc(o->n + 1);
	if (size < 0 || o->recs == NULL || pread(fd, o->recs, o->n, 0) != (ssize_t)o->n)
		abort();
	close(fd);
	free(buf);
}

static void differ(const char *what, const struct out *a, const struct out *b)
{
	fprintf(stderr, "fuzz-csvdiff: fast path and libcsv differ in %s\n"
		"  fast:   rc %d, %zu bytes, rows %llu, bad %llu, line %llu: %s\n"
		"  libcsv: rc %d, %zu bytes, rows %llu, bad %llu, line %llu: %s\n", what,
		a->rc, a->n, (unsigned long long)a->rows, (unsigned long long)a->bad,
		(unsigned long long)a->line, a->err,
		b->rc, b->n, (unsigned long long)b->rows, (unsigned long long)b->bad,
		(unsigned long long)b->line, b->err);
	abort();
}

/* byte 0: bit 0 skip bad rows; bits 1-7: 0 the file at once, else fed
 * in pieces of that many bytes (rows cut at every place); the rest is
 * the file */
int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	struct out a, b;

	if (n < 1)
		return 0;
	run(d + 1, n - 1, 1, d[0] & 1, d[0] >> 1, &a);
	run(d + 1, n - 1, 0, d[0] & 1, d[0] >> 1, &b);
	if (a.rc != b.rc)
		differ("status", &a, &b);
	if (strcmp(a.err, b.err) != 0)
		differ("message", &a, &b);
	if (a.rows != b.rows || a.bad != b.bad || a.presnap != b.presnap || a.records != b.records ||
	    a.events != b.events || a.line != b.line)
		differ("counters", &a, &b);
	if (a.n != b.n || memcmp(a.recs, b.recs, a.n) != 0)
		differ("records", &a, &b);
	free(a.recs);
	free(b.recs);
	return 0;
}
