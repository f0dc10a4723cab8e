/* t-bookview.c - chr-book's views over a few hand-made book records: the
 * pass-through with one GAP record each time a book becomes unknown and
 * the bits to warn about, and --at's books written at the end (unknown
 * ones counted). Output goes to a file in place of stdout. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bookview.h"
#include "unit.h"

static _Alignas(64) unsigned char buf[4096];

/* a book record of venue 1 market 7 with one bid and one ask */
static const struct chr_rec *book(uint16_t type, uint64_t id, uint64_t seq)
{
	struct chr_rec *r = (struct chr_rec *)buf;
	struct chr_book *b = chr_rec_payload(r);

	memset(buf, 0, sizeof buf);
	r->len = (uint32_t)(CHR_HDR_SIZE + sizeof *b + 2 * sizeof(struct chr_level));
	r->type = type;
	r->seq = seq;
	r->ts = (int64_t)seq * 1000;
	r->venue = 1;
	r->market = 7;
	b->update_id_first = b->update_id_last = id;
	b->update_id_prev = type == CHR_BOOK_DIFF ? id - 1 : 0;
	b->n_bid = b->n_ask = 1;
	b->price_scale = 1;
	b->levels[0] = (struct chr_level){1000, (int64_t)id};
	b->levels[1] = (struct chr_level){1001, 1};
	chr_rec_seal(r);
	return r;
}

/* the types of the records in file f, as a string of their numbers */
static void types(const char *path, char *out, size_t cap)
{
	FILE *f = fopen(path, "rb");
	_Alignas(64) unsigned char rec[4096];
	size_t n = 0;

	out[0] = '\0';
	while (f && fread(rec, 1, CHR_HDR_SIZE, f) == CHR_HDR_SIZE) {
		const struct chr_rec *r = (const struct chr_rec *)rec;
		size_t rest = chr_rec_span(r->len) - CHR_HDR_SIZE;

		if (rest > sizeof rec - CHR_HDR_SIZE || fread(rec + CHR_HDR_SIZE, 1, rest, f) != rest)
			break;
		n += (size_t)snprintf(out + n, cap - n, "%s%u", n ? " " : "", r->type);
		if (r->type == CHR_GAP) {
			const struct chr_gap *g = chr_rec_payload(r);

			n += (size_t)snprintf(out + n, cap - n, "(%llu,%llu)",
					      (unsigned long long)g->expected,
					      (unsigned long long)g->got);
		}
	}
	if (f)
		fclose(f);
}

int main(void)
{
	char path[] = "/tmp/t-bookview.XXXXXX", got[512], want[512];
	int fd = mkstemp(path), saved = dup(STDOUT_FILENO);
	struct chr_bookview v;
	struct chr_out out;
	struct chr_err e;

	CHECK(fd >= 0 && saved >= 0 && dup2(fd, STDOUT_FILENO) == STDOUT_FILENO);
	CHECK(chr_out_open(&out, CHR_OUT_BINARY, NULL, &e) == 0);
	chr_bookview_init(&v, CHR_BV_PASS, 0, 0, 10, &out);
	/* a diff before any snapshot: one GAP (expected 0), warned once */
	CHECK(chr_bookview_rec(&v, book(CHR_BOOK_DIFF, 3, 0), &e) == CHR_L2_NOSNAP);
	CHECK(chr_bookview_rec(&v, book(CHR_BOOK_DIFF, 4, 1), &e) == 0);
	CHECK(chr_bookview_rec(&v, book(CHR_BOOK_SNAPSHOT, 5, 2), &e) == 0);
	CHECK(chr_bookview_rec(&v, book(CHR_BOOK_DIFF, 6, 3), &e) == 0);
	/* a gap: the book is unknown, one GAP, then nothing more until a
	 * snapshot, after which the next gap has its GAP again */
	CHECK(chr_bookview_rec(&v, book(CHR_BOOK_DIFF, 9, 4), &e) == CHR_L2_GAP &&
	      v.m->m.before == 6);
	CHECK(chr_bookview_rec(&v, book(CHR_BOOK_DIFF, 10, 5), &e) == 0);
	CHECK(chr_bookview_rec(&v, book(CHR_BOOK_SNAPSHOT, 12, 6), &e) == 0);
	CHECK(chr_bookview_rec(&v, book(CHR_BOOK_DIFF, 20, 7), &e) == CHR_L2_GAP);
	CHECK(chr_bookview_end(&v, &e) == 0);
	CHECK(v.n_gap == 2 && v.n_nosnap == 3 && v.n_stale == 0);
	CHECK(chr_out_close(&out, &e) == 0);
	chr_bookview_free(&v);
	types(path, got, sizeof got);
	snprintf(want, sizeof want, "%u(0,3) %u %u %u %u %u(7,9) %u %u %u %u(13,20) %u",
		 CHR_GAP, CHR_BOOK_DIFF, CHR_BOOK_DIFF, CHR_BOOK_SNAPSHOT, CHR_BOOK_DIFF,
		 CHR_GAP, CHR_BOOK_DIFF, CHR_BOOK_DIFF, CHR_BOOK_SNAPSHOT, CHR_GAP,
		 CHR_BOOK_DIFF);
	CHECK_STR(got, want);

	/* --at: the known books at the end as snapshots, the unknown counted */
	CHECK(ftruncate(fd, 0) == 0 && lseek(fd, 0, SEEK_SET) == 0);
	CHECK(chr_out_open(&out, CHR_OUT_BINARY, NULL, &e) == 0);
	chr_bookview_init(&v, CHR_BV_AT, 100000, 0, 0, &out);
	CHECK(chr_bookview_rec(&v, book(CHR_BOOK_SNAPSHOT, 5, 0), &e) == 0);
	CHECK(chr_bookview_rec(&v, book(CHR_BOOK_DIFF, 6, 1), &e) == 0);
	buf[offsetof(struct chr_rec, market)] = 8;	/* another book, never known */
	chr_rec_seal((struct chr_rec *)buf);
	CHECK(chr_bookview_rec(&v, (const struct chr_rec *)buf, &e) == CHR_L2_NOSNAP);
	CHECK(chr_bookview_end(&v, &e) == 1);
	CHECK(chr_out_close(&out, &e) == 0);
	chr_bookview_free(&v);
	types(path, got, sizeof got);
	snprintf(want, sizeof want, "%u", CHR_BOOK_SNAPSHOT);
	CHECK_STR(got, want);

	dup2(saved, STDOUT_FILENO);
	unlink(path);
	return unit_done("t-bookview");
}
