/* t-snap.c - the snapshot search of a multi-instrument stream
 * (chr_snap_each_seg): each instrument's own last snapshot at or before a
 * time, across segments walked last first, plain and compressed; an
 * instrument that starts later; a snapshot inside an event; a selection. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "snap.h"
#include "segbuild.h"

static struct chr_snap_inst *inst(struct chr_snap_each *x, uint32_t m)
{
	for (size_t i = 0; i < x->inst.n; i++) {
		struct chr_snap_inst *in = x->inst.v[i];

		if (in->market == m)
			return in;
	}
	return NULL;
}

static int only_m2(void *ctx, uint16_t v, uint32_t m, const char *venue, const char *symbol)
{
	(void)ctx, (void)v, (void)m, (void)venue;
	return strcmp(symbol, "M2") == 0;
}

int main(void)
{
	static struct seg s0, s1;
	char p0[64], p1[64];
	uint64_t a10, b11, a20, b22;
	struct chr_err e;

	seg_init(&s0, 1u << 16, 2);
	seg_init(&s1, 1u << 16, 2);
	/* segment 0: markets 1 and 2; segment 1 (its head repeats name
	 * both): market 1 snapshots again, market 2 only inside an event,
	 * market 3 starts */
	put(&s0, CHR_DEFINE, 0, 1, 5);
	put(&s0, CHR_DEFINE, 0, 2, 5);
	a10 = put(&s0, CHR_BOOK_SNAPSHOT, CHR_F_LAST, 1, 10);
	b11 = put(&s0, CHR_BOOK_SNAPSHOT, CHR_F_LAST, 2, 11);
	put(&s0, CHR_BOOK_DIFF, CHR_F_LAST, 1, 12);
	put(&s1, CHR_DEFINE, CHR_F_REPEAT, 1, 12);
	put(&s1, CHR_DEFINE, CHR_F_REPEAT, 2, 12);
	put(&s1, CHR_BOOK_DIFF, CHR_F_LAST, 2, 15);
	a20 = put(&s1, CHR_BOOK_SNAPSHOT, CHR_F_LAST, 1, 20);
	put(&s1, CHR_BOOK_DIFF, 0, 2, 21);	/* an event of market 2 begins */
	b22 = put(&s1, CHR_BOOK_SNAPSHOT, CHR_F_LAST, 2, 22);	/* inside it */
	put(&s1, CHR_DEFINE, 0, 3, 23);
	put(&s1, CHR_BOOK_DIFF, CHR_F_LAST, 3, 24);
	put(&s1, CHR_BOOK_SNAPSHOT, CHR_F_LAST, 1, 30);	/* after the time */
	(void)b22;

	for (int zst = 0; zst < 2; zst++) {
		struct chr_snap_each x;
		struct chr_snap_inst *a, *b, *c;

		snprintf(p0, sizeof p0, "/tmp/t-snap.%d.0%s", (int)getpid(), zst ? ".zst" : "");
		snprintf(p1, sizeof p1, "/tmp/t-snap.%d.1%s", (int)getpid(), zst ? ".zst" : "");
		write_seg(&s0, p0, 0, zst);
		write_seg(&s1, p1, 1, zst);

		/* at 25: market 1 in segment 1; 2 and 3 still looked for */
		chr_snap_each_init(&x, 25, NULL, NULL);
		CHECK(chr_snap_each_seg(&x, p1, p1, 1, &e) == 2);
		a = inst(&x, 1);
		CHECK(a && a->done == 1 && a->seg == 1 && a->off == a20);
		CHECK(a && strcmp(a->symbol, "M1") == 0);
		/* segment 0 settles market 2 (its snapshot inside an event in
		 * segment 1 does not count), and market 3, not in it, starts
		 * later */
		CHECK(chr_snap_each_seg(&x, p0, p0, 0, &e) == 0);
		b = inst(&x, 2);
		c = inst(&x, 3);
		CHECK(b && b->done == 1 && b->seg == 0 && b->off == b11);
		CHECK(c && c->done == -1);
		chr_snap_each_free(&x);

		/* at 10: only market 1's first snapshot; segment 1 is after it */
		chr_snap_each_init(&x, 10, NULL, NULL);
		CHECK(chr_snap_each_seg(&x, p1, p1, 1, &e) == 0 && x.inst.n == 0);
		CHECK(chr_snap_each_seg(&x, p0, p0, 0, &e) == 1);
		a = inst(&x, 1);
		b = inst(&x, 2);
		CHECK(a && a->done == 1 && a->off == a10);
		CHECK(b && b->done == 0);	/* no snapshot yet: the caller says */
		chr_snap_each_free(&x);

		/* a selection: market 2 only */
		chr_snap_each_init(&x, 25, only_m2, NULL);
		CHECK(chr_snap_each_seg(&x, p1, p1, 1, &e) == 1);
		a = inst(&x, 1);
		CHECK(a && a->want == 0 && a->done == 0);
		CHECK(chr_snap_each_seg(&x, p0, p0, 0, &e) == 0);
		CHECK(inst(&x, 2)->done == 1);
		chr_snap_each_free(&x);

		/* a missing file */
		chr_snap_each_init(&x, 25, NULL, NULL);
		CHECK(chr_snap_each_seg(&x, "/nonexistent/x.q", "x.q", 0, &e) == -1);
		CHECK(strstr(e.msg, "cannot open 'x.q'") != NULL);
		chr_snap_each_free(&x);
		unlink(p0);
		unlink(p1);
	}
	free(s0.buf);
	free(s1.buf);
	return unit_done("t-snap");
}
