/* t-tardis.c - tests of common/tardis.c: headers, rows -> records, records
 * -> CSV (round trips of the real samples). Also a test tool for bats:
 * `t-tardis dump` prints records as text, `t-tardis csv` writes them as
 * Tardis CSV with chr_tardis_write. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zlib.h>

#include "chr.h"
#include "gzin.h"
#include "tardis.h"
#include "unit.h"

/* ---- tools for bats ---- */

static int dump(void)
{
	struct chr_reader rd;
	const struct chr_rec *r;
	int rc;

	if (chr_reader_init(&rd, 0, "stdin") < 0)
		return 3;
	while ((rc = chr_reader_next(&rd, &r)) == 1) {
		const char *tn = chr_type_name(r->type);

		printf("%s%s seq=%llu src=%llu ts=%lld ev=%lld v=%u m=%u", tn ? tn : "?",
		       (r->flags & CHR_F_LAST) ? " LAST" : "", (unsigned long long)r->seq,
		       (unsigned long long)r->src_seq, (long long)r->ts, (long long)r->ts_event,
		       r->venue, r->market);
		if (r->type == CHR_DEFINE) {
			const struct chr_define *d = chr_rec_payload(r);

			printf(" %.32s %.64s", d->venue, d->symbol);
		} else if (r->type == CHR_TRADE) {
			const struct chr_trade *t = chr_rec_payload(r);

			printf(" ps=%d ss=%d px=%lld sz=%lld side=%u id=%.40s", t->price_scale, t->size_scale,
			       (long long)t->price, (long long)t->size, t->side, t->id);
		} else if (r->type == CHR_QUOTE) {
			const struct chr_quote *q = chr_rec_payload(r);

			printf(" ps=%d ss=%d bid=%lld/%lld ask=%lld/%lld", q->price_scale, q->size_scale,
			       (long long)q->bid_px, (long long)q->bid_sz, (long long)q->ask_px,
			       (long long)q->ask_sz);
		} else if (r->type >= CHR_BOOK_SNAPSHOT && r->type <= CHR_BOOK_TOPN) {
			const struct chr_book *b = chr_rec_payload(r);
			uint32_t i;

			printf(" ps=%d ss=%d uid=%llu/%llu/%llu nb=%u na=%u", b->price_scale, b->size_scale,
			       (unsigned long long)b->update_id_first, (unsigned long long)b->update_id_last,
			       (unsigned long long)b->update_id_prev, b->n_bid, b->n_ask);
			for (i = 0; i < b->n_bid + b->n_ask && i < 4; i++)
				printf(" %lld@%lld", (long long)b->levels[i].size, (long long)b->levels[i].price);
		}
		putchar('\n');
	}
	if (rc < 0) {
		fprintf(stderr, "t-tardis: %s\n", rd.e.msg);
		return rd.e.status;
	}
	chr_reader_free(&rd);
	return 0;
}

static int to_csv(void)
{
	struct chr_reader rd;
	struct chr_tardis_out o;
	const struct chr_rec *r;
	unsigned long long skipped = 0;
	int rc;

	if (chr_reader_init(&rd, 0, "stdin") < 0)
		return 3;
	chr_tardis_out_init(&o);
	while ((rc = chr_reader_next(&rd, &r)) == 1) {
		int k = chr_tardis_write(&o, r, stdout);

		if (k == CHR_TARDIS_SKIPPED)
			skipped++;
		else if (k < 0)
			return 3;
	}
	if (rc < 0) {
		fprintf(stderr, "t-tardis: %s\n", rd.e.msg);
		return rd.e.status;
	}
	if (skipped)
		fprintf(stderr, "t-tardis: skipped %llu records\n", skipped);
	chr_tardis_out_free(&o);
	chr_reader_free(&rd);
	return fflush(stdout) == 0 ? 0 : 3;
}

/* ---- helpers ---- */

/* the most bytes convert() had to keep between two calls (an unfinished line) */
static size_t kept_max;

/* convert() flushes the writer after each call (a record in progress is
 * in the writer's buffer meanwhile) */
static int flush_between;

/* Convert CSV text to records, fed in chunks of step bytes (0: at once),
 * as chr-csv2ev does: the unused rest moved to the start of the buffer.
 * Returns the records in a malloc'd buffer (*n bytes); the parse result in
 * *rc (0, or the status of a failure). */
static unsigned char *convert(const char *csv, size_t len, size_t step, int fast, int skip_bad,
			      size_t *n, int *rc, char *err, size_t errlen)
{
	struct chr_writer w;
	struct chr_tardis_in t;
	char *mem = NULL, *buf;
	size_t memn = 0, have = 0, fed = 0;
	FILE *f = open_memstream(&mem, &memn);
	int fd = -1;
	char path[] = "/tmp/t-tardis-XXXXXX";
	long used;

	fd = mkstemp(path);
	unlink(path);
	chr_writer_init(&w, fd, "tmp", 0);
	chr_tardis_in_init(&t, &w);
	t.fast = fast;
	t.skip_bad = skip_bad;
	t.report_max = 0;
	chr_tardis_in_file(&t, "x.csv");
	buf = malloc(len + CHR_TARDIS_PAD + 1);
	*rc = 0;
	kept_max = 0;
	for (;;) {
		size_t k = step == 0 ? len - fed : (len - fed < step ? len - fed : step);

		memcpy(buf + have, csv + fed, k);
		fed += k;
		have += k;
		used = chr_tardis_in_parse(&t, buf, have, fed == len);
		if (used < 0) {
			*rc = t.status;
			memcpy(err, t.err, errlen < sizeof t.err ? errlen : sizeof t.err);
			err[errlen - 1] = '\0';
			chr_tardis_in_end(&t);
			break;
		}
		memmove(buf, buf + used, have - (size_t)used);
		have -= (size_t)used;
		if (flush_between)
			chr_writer_flush(&w);
		if (have > kept_max)
			kept_max = have;
		if (fed == len) {
			/* also after success: the last bad row skipped, or "" */
			memcpy(err, t.err, errlen < sizeof t.err ? errlen : sizeof t.err);
			err[errlen - 1] = '\0';
			chr_tardis_in_end(&t);
			break;
		}
	}
	chr_writer_close(&w);
	free(buf);
	chr_tardis_in_free(&t);
	fclose(f);
	free(mem);
	*n = (size_t)lseek(fd, 0, SEEK_END);
	mem = malloc(*n + 1);
	if (pread(fd, mem, *n, 0) != (ssize_t)*n)
		*n = 0;
	close(fd);
	return (unsigned char *)mem;
}

/* Records back to CSV text (malloc'd, NUL-terminated). */
static char *records_csv(const unsigned char *recs, size_t n, unsigned *skipped)
{
	struct chr_tardis_out o;
	char *out = NULL;
	size_t outn = 0, off = 0;
	FILE *f = open_memstream(&out, &outn);

	chr_tardis_out_init(&o);
	*skipped = 0;
	while (off < n) {
		const struct chr_rec *r = (const struct chr_rec *)(recs + off);
		int k = chr_tardis_write(&o, r, f);

		if (k == CHR_TARDIS_SKIPPED)
			(*skipped)++;
		off += chr_rec_span(r->len);
	}
	chr_tardis_out_free(&o);
	fclose(f);
	return out;
}

static const struct chr_rec *rec_at(const unsigned char *recs, size_t n, size_t idx)
{
	size_t off = 0;

	while (off < n) {
		const struct chr_rec *r = (const struct chr_rec *)(recs + off);

		if (idx-- == 0)
			return r;
		off += chr_rec_span(r->len);
	}
	return NULL;
}

static size_t rec_count(const unsigned char *recs, size_t n)
{
	size_t off = 0, k = 0;

	while (off < n) {
		off += chr_rec_span(((const struct chr_rec *)(recs + off))->len);
		k++;
	}
	return k;
}

/* Is column col of header line h (up to its '\n') a price or an amount?
 * (price, amount, ask_price, bid_amount, asks[i].price, bids[i].amount) */
static int dec_column(const char *h, unsigned col)
{
	size_t n;

	for (; col > 0 && *h && *h != '\n'; h++)
		if (*h == ',')
			col--;
	n = strcspn(h, ",\r\n");
	return (n >= 5 && memcmp(h + n - 5, "price", 5) == 0 &&
		(n == 5 || h[n - 6] == '_' || h[n - 6] == '.')) ||
	       (n >= 6 && memcmp(h + n - 6, "amount", 6) == 0 &&
		(n == 6 || h[n - 7] == '_' || h[n - 7] == '.'));
}

/* Do two CSV texts hold the same rows? Price and amount fields are
 * compared as decimals ("50000.0" equals "50000"), every other field (names,
 * timestamps, ids: "0001" is not "1") exactly. */
static int same_csv(const char *a, const char *b)
{
	const char *hdr = "";	/* the header line of a's rows */
	unsigned col = 0;

	while (*a && *b) {
		size_t na = strcspn(a, ",\n"), nb = strcspn(b, ",\n");
		int64_t ma, mb;
		int sa, sb;

		if (col == 0 && strncmp(a, "exchange,", 9) == 0)
			hdr = a;
		if (na == nb && memcmp(a, b, na) == 0) {
			/* equal text */
		} else if (hdr != a && dec_column(hdr, col) && chr_dec_parse(a, na, &ma, &sa) == 0 &&
			   chr_dec_parse(b, nb, &mb, &sb) == 0 && chr_dec_cmp(ma, sa, mb, sb) == 0) {
			/* equal decimals */
		} else {
			fprintf(stderr, "differ: '%.*s' '%.*s'\n", (int)na, a, (int)nb, b);
			return 0;
		}
		a += na;
		b += nb;
		if ((strcmp(a, "\n") == 0 && *b == '\0') || (strcmp(b, "\n") == 0 && *a == '\0'))
			return 1;	/* a last line without its line end */
		if (*a != *b)
			return 0;
		col = *a == ',' ? col + 1 : 0;
		if (*a) {
			a++;
			b++;
		}
	}
	return *a == *b;
}

static char *read_file(const char *path, size_t *n)
{
	struct chr_gzin g;
	char *buf = NULL;
	size_t cap = 0;
	ssize_t k;

	*n = 0;
	if (chr_gzin_open(&g, path) < 0)
		return NULL;
	do {
		if (cap - *n < 65536) {
			cap = cap ? 2 * cap : 1 << 20;
			buf = realloc(buf, cap + 1);
		}
		k = chr_gzin_read(&g, buf + *n, cap - *n);
		if (k > 0)
			*n += (size_t)k;
	} while (k > 0);
	chr_gzin_close(&g);
	if (k < 0) {
		free(buf);
		return NULL;
	}
	buf[*n] = '\0';
	return buf;
}

/* ---- tests ---- */

static void test_headers(void)
{
	int n, t, k;
	char *h;

	CHECK(chr_tardis_type_parse("incremental_book_L2", &n) == CHR_TARDIS_L2);
	CHECK(chr_tardis_type_parse("trades", &n) == CHR_TARDIS_TRADES);
	CHECK(chr_tardis_type_parse("quotes", &n) == CHR_TARDIS_QUOTES);
	CHECK(chr_tardis_type_parse("book_snapshot_25", &n) == CHR_TARDIS_TOPN && n == 25);
	CHECK(chr_tardis_type_parse("book_snapshot_0", &n) == CHR_TARDIS_NONE);
	CHECK(chr_tardis_type_parse("book_snapshot_", &n) == CHR_TARDIS_NONE);
	CHECK(chr_tardis_type_parse("book_snapshot_5x", &n) == CHR_TARDIS_NONE);
	CHECK(chr_tardis_type_parse("derivative_ticker", &n) == CHR_TARDIS_NONE);
	for (k = 1; k <= 30; k += 4) {
		h = chr_tardis_header_line(CHR_TARDIS_TOPN, k);
		t = chr_tardis_header(h, strlen(h) - 1, &n);
		CHECK(t == CHR_TARDIS_TOPN && n == k);
		/* one column short is not a header */
		CHECK(chr_tardis_header(h, strlen(h) - 2, &n) == CHR_TARDIS_NONE);
		free(h);
	}
	h = chr_tardis_header_line(CHR_TARDIS_L2, 0);
	CHECK_STR(h, "exchange,symbol,timestamp,local_timestamp,is_snapshot,side,price,amount\n");
	CHECK(chr_tardis_header(h, strlen(h) - 1, &n) == CHR_TARDIS_L2);
	free(h);
	CHECK(chr_tardis_header("exchange,symbol", 15, &n) == CHR_TARDIS_NONE);
}

#define L2H "exchange,symbol,timestamp,local_timestamp,is_snapshot,side,price,amount\n"

static void test_l2(void)
{
	static const char csv[] = L2H
		"x,S,1,10,false,bid,1,1\n"		/* before the snapshot: skipped */
		"x,S,2,20,true,bid,100.5,1\n"
		"x,S,2,20,true,ask,101,0.25\n"
		"x,S,3,30,false,ask,101,0\n"
		"x,S,3,30,false,bid,100.25,2\n"		/* bid after ask: new record */
		"x,S,4,30,false,bid,99,3\n"		/* timestamp changes: new record */
		"x,S,5,40,true,bid,1,1\n"		/* a new snapshot */
		"x,S,5,41,true,ask,2,1\n";		/* it continues: a diff */
	int rcs[2], fast, rc;
	size_t n, nn[2];
	unsigned char *recs[2];
	const struct chr_rec *r;
	const struct chr_book *b;
	char err[768];

	for (fast = 0; fast < 2; fast++) {
		recs[fast] = convert(csv, sizeof csv - 1, 0, fast, 0, &nn[fast], &rcs[fast], err, sizeof err);
		CHECK(rcs[fast] == 0);
	}
	CHECK(nn[0] == nn[1] && memcmp(recs[0], recs[1], nn[0]) == 0);
	n = nn[1];
	CHECK(rec_count(recs[1], n) == 7);
	r = rec_at(recs[1], n, 0);
	CHECK(r->type == CHR_DEFINE && r->seq == 0 && r->ts == 20000);
	r = rec_at(recs[1], n, 1);
	b = chr_rec_payload(r);
	CHECK(r->type == CHR_BOOK_SNAPSHOT && (r->flags & CHR_F_LAST) && r->seq == 1 && r->src_seq == 1);
	CHECK(r->ts == 20000 && r->ts_event == 2000);
	CHECK(b->n_bid == 1 && b->n_ask == 1 && b->price_scale == 1 && b->size_scale == 2);
	CHECK(b->levels[0].price == 1005 && b->levels[0].size == 100);
	CHECK(b->levels[1].price == 1010 && b->levels[1].size == 25);
	CHECK(b->update_id_first == 1 && b->update_id_last == 1 && b->update_id_prev == 0);
	r = rec_at(recs[1], n, 2);
	b = chr_rec_payload(r);
	CHECK(r->type == CHR_BOOK_DIFF && !(r->flags & CHR_F_LAST) && b->n_ask == 1 && b->n_bid == 0);
	CHECK(b->price_scale == 0 && b->size_scale == 0 && b->update_id_prev == 1);
	r = rec_at(recs[1], n, 3);
	b = chr_rec_payload(r);
	CHECK(r->type == CHR_BOOK_DIFF && !(r->flags & CHR_F_LAST) && b->n_bid == 1 && b->price_scale == 2);
	CHECK(b->levels[0].price == 10025);
	r = rec_at(recs[1], n, 4);
	CHECK(r->type == CHR_BOOK_DIFF && (r->flags & CHR_F_LAST) && r->ts_event == 4000);
	r = rec_at(recs[1], n, 5);
	CHECK(r->type == CHR_BOOK_SNAPSHOT && (r->flags & CHR_F_LAST));
	r = rec_at(recs[1], n, 6);
	b = chr_rec_payload(r);
	CHECK(r->type == CHR_BOOK_DIFF && (r->flags & CHR_F_LAST) && b->n_ask == 1 && b->update_id_last == 6);
	free(recs[0]);
	free(recs[1]);

	/* fed a byte at a time, by either parser: the same records as at once */
	recs[0] = convert(csv, sizeof csv - 1, 0, 1, 0, &nn[0], &rc, err, sizeof err);
	CHECK(rc == 0 && rec_count(recs[0], nn[0]) == 7);
	for (fast = 0; fast < 2; fast++) {
		recs[1] = convert(csv, sizeof csv - 1, 1, fast, 0, &nn[1], &rc, err, sizeof err);
		CHECK(rc == 0);
		CHECK(nn[0] == nn[1] && memcmp(recs[0], recs[1], nn[0]) == 0);
		free(recs[1]);
	}
	free(recs[0]);
}

static void test_bad(void)
{
	static const struct {
		const char *row, *msg;
	} cases[] = {
		{ "x,S,1,2,true,bid,1\n", "x.csv:2: row has 7 columns, expected 8" },
		{ "x,S,1,2,true,bid,6O000.1,1\n", "x.csv:2: price '6O000.1' is not a decimal" },
		{ "x,S,1,2,true,bid,1,\n", "x.csv:2: amount is empty" },
		{ "x,S,1,2,true,bid,1,1e5\n", "x.csv:2: amount '1e5' is not a decimal" },
		{ "x,S,1,2,true,buy,1,1\n", "x.csv:2: side 'buy' is not bid or ask" },
		{ "x,S,1.5,2,true,bid,1,1\n", "x.csv:2: timestamp '1.5' is not an integer" },
		{ "x,S,1,-2,true,bid,1,1\n", "x.csv:2: local_timestamp '-2' is not an integer" },
		{ "x,S,1,99999999999999999,true,bid,1,1\n", "x.csv:2: local_timestamp '99999999999999999' is out of range" },
		{ "x,S,1,2,yes,bid,1,1\n", "x.csv:2: is_snapshot 'yes' is not true or false" },
		{ "x,S,1,2,true,bid,0.0000000000000000001,1\n", "x.csv:2: price '0.0000000000000000001' has too many decimal places (at most 18)" },
		{ "\n", "x.csv:2: empty line" },
		{ "x,\"S,1,2,true,bid,1,1\n", "x.csv:2: malformed quotes" },
	};
	size_t i, n;
	int fast, rc;
	char csv[512], err[768];
	unsigned char *recs;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++)
		for (fast = 0; fast < 2; fast++) {
			snprintf(csv, sizeof csv, "%s%s", L2H, cases[i].row);
			err[0] = '\0';
			recs = convert(csv, strlen(csv), 0, fast, 0, &n, &rc, err, sizeof err);
			CHECK(rc == CHR_EX_DATA);
			CHECK_STR(err, cases[i].msg);
			CHECK(n == 0);
			free(recs);
			/* skipped instead */
			recs = convert(csv, strlen(csv), 0, fast, 1, &n, &rc, err, sizeof err);
			CHECK(rc == 0 && n == 0);
			free(recs);
		}
	/* a value that does not fit the scale of its record */
	snprintf(csv, sizeof csv, "%s%s", L2H,
		 "x,S,1,2,true,bid,12345678901234567,1\nx,S,1,2,true,bid,1.25,1\n");
	recs = convert(csv, strlen(csv), 0, 1, 0, &n, &rc, err, sizeof err);
	CHECK(rc == CHR_EX_DATA);
	CHECK_STR(err, "x.csv:3: price '1.25' does not fit the scale of its record");
	CHECK(rec_count(recs, n) == 2);	/* DEFINE and the first row's snapshot */
	free(recs);
	/* unknown header */
	recs = convert("a,b\n1,2\n", 8, 0, 1, 1, &n, &rc, err, sizeof err);
	CHECK(rc == CHR_EX_DATA);
	CHECK_STR(err, "x.csv:1: unknown header 'a,b'");
	free(recs);
}

/* Skipped rows and rows before a first snapshot go to the note callback
 * (the library prints nothing itself), and only while report_max allows. */
struct notes {
	int n;
	char msg[4][256];
};

static void note(void *ctx, const char *msg)
{
	struct notes *c = ctx;

	if (c->n < 4)
		snprintf(c->msg[c->n], sizeof c->msg[0], "%s", msg);
	c->n++;
}

static void test_note(void)
{
	static const char rows[] = "x,S,1,2,false,bid,1,1\n"	/* before a snapshot */
				   "x,S,1,2,true,bid,1,x\n"	/* bad */
				   "x,S,3,4,true,bid,1,1\n"
				   "x,S,5,6,false,bid,1,q\n";	/* bad, past report_max */
	char csv[512];
	struct chr_writer w;
	struct chr_tardis_in t;
	struct notes c = { 0 };
	char *buf;
	int fd;
	char path[] = "/tmp/t-tardis-XXXXXX";

	snprintf(csv, sizeof csv, "%s%s", L2H, rows);
	fd = mkstemp(path);
	unlink(path);
	chr_writer_init(&w, fd, "tmp", 0);
	CHECK(chr_tardis_in_init(&t, &w) == 0);
	CHECK(t.note == NULL);
	t.note = note;
	t.note_ctx = &c;
	t.skip_bad = 1;
	t.report_max = 1;
	chr_tardis_in_file(&t, "n.csv");
	buf = malloc(strlen(csv) + CHR_TARDIS_PAD);
	memcpy(buf, csv, strlen(csv));
	CHECK(chr_tardis_in_parse(&t, buf, strlen(csv), 1) == (long)strlen(csv));
	CHECK(chr_tardis_in_end(&t) == 0);
	CHECK(t.bad == 2 && t.presnap == 1);
	CHECK(c.n == 2);
	CHECK_STR(c.msg[0], "n.csv:3: amount 'x' is not a decimal (skipped)");
	CHECK_STR(c.msg[1], "n.csv: skipped 1 rows of x S before its first snapshot");
	/* without a callback (the default) they are only counted */
	chr_tardis_in_free(&t);
	CHECK(chr_tardis_in_init(&t, &w) == 0);
	t.skip_bad = 1;
	chr_tardis_in_file(&t, "n.csv");
	memcpy(buf, csv, strlen(csv));
	CHECK(chr_tardis_in_parse(&t, buf, strlen(csv), 1) == (long)strlen(csv));
	CHECK(chr_tardis_in_end(&t) == 0);
	CHECK(t.bad == 2 && t.presnap == 1);
	chr_tardis_in_free(&t);
	chr_writer_close(&w);
	close(fd);
	free(buf);
}

static void test_other(void)
{
	static const char trades[] = "exchange,symbol,timestamp,local_timestamp,id,side,price,amount\r\n"
		"b,X,1,5,\"a,1\",buy,10.5,2\r\n"
		"b,X,1,5,a2,unknown,10,0.125\r\n"
		"b,Y,1,5,a3,sell,10,1\r\n";
	static const char quotes[] = "exchange,symbol,timestamp,local_timestamp,ask_amount,ask_price,bid_price,bid_amount\n"
		"h,Q,1,2,5,8629.3,8629.25,806\n"
		"h,Q,1,3,,,8629.2,1.5";		/* no final line end */
	static const char topn[] = "exchange,symbol,timestamp,local_timestamp,asks[0].price,asks[0].amount,"
		"bids[0].price,bids[0].amount,asks[1].price,asks[1].amount,bids[1].price,bids[1].amount\n"
		"b,X,1,2,11,1.5,10,2,12.25,3,,\n";
	const struct chr_trade *tr;
	const struct chr_quote *q;
	const struct chr_book *b;
	const struct chr_rec *r;
	unsigned char *recs;
	unsigned skipped;
	char err[768], *out;
	size_t n;
	int rc;

	recs = convert(trades, sizeof trades - 1, 0, 1, 0, &n, &rc, err, sizeof err);
	CHECK(rc == 0 && rec_count(recs, n) == 5);
	r = rec_at(recs, n, 1);
	tr = chr_rec_payload(r);
	CHECK(r->type == CHR_TRADE && !(r->flags & CHR_F_LAST) && tr->side == CHR_SIDE_BUY);
	CHECK(tr->price == 105 && tr->price_scale == 1 && tr->size == 2 && strcmp(tr->id, "a,1") == 0);
	r = rec_at(recs, n, 2);
	tr = chr_rec_payload(r);
	CHECK((r->flags & CHR_F_LAST) && tr->side == CHR_SIDE_UNKNOWN && tr->size_scale == 3);
	CHECK(rec_at(recs, n, 3)->type == CHR_DEFINE);
	out = records_csv(recs, n, &skipped);
	CHECK_STR(out, "exchange,symbol,timestamp,local_timestamp,id,side,price,amount\n"
		  "b,X,1,5,\"a,1\",buy,10.5,2\nb,X,1,5,a2,unknown,10,0.125\nb,Y,1,5,a3,sell,10,1\n");
	free(out);
	free(recs);

	recs = convert(quotes, sizeof quotes - 1, 0, 1, 0, &n, &rc, err, sizeof err);
	CHECK(rc == 0 && rec_count(recs, n) == 3);
	q = chr_rec_payload(rec_at(recs, n, 1));
	CHECK(q->price_scale == 2 && q->ask_px == 862930 && q->bid_px == 862925 && q->ask_sz == 5);
	q = chr_rec_payload(rec_at(recs, n, 2));
	CHECK(q->ask_px == CHR_NULL && q->ask_sz == CHR_NULL && q->bid_sz == 15 && q->size_scale == 1);
	out = records_csv(recs, n, &skipped);
	CHECK(same_csv(out, quotes));
	free(out);
	free(recs);

	recs = convert(topn, sizeof topn - 1, 0, 1, 0, &n, &rc, err, sizeof err);
	CHECK(rc == 0 && rec_count(recs, n) == 2);
	r = rec_at(recs, n, 1);
	b = chr_rec_payload(r);
	CHECK(r->type == CHR_BOOK_TOPN && b->n_bid == 2 && b->n_ask == 2 && b->price_scale == 2);
	CHECK(b->levels[0].price == 1000 && b->levels[1].price == CHR_NULL && b->levels[3].price == 1225);
	CHECK(b->levels[2].size == 15 && b->size_scale == 1);
	out = records_csv(recs, n, &skipped);
	CHECK_STR(out, topn);
	free(out);
	free(recs);
}

/* The writer: every real sample, to records and back, equals the file. */
static void test_roundtrip(void)
{
	static const char *const files[] = {
		"binance-futures_book_snapshot_25_BTCUSDT.csv",
		"binance-futures_book_snapshot_5_BTCUSDT.csv",
		"binance-futures_incremental_book_L2_BTCUSDT_2024-08-08.csv.gz",
		"binance-futures_quotes_BTCUSDT_2020-02-22_excerpt.csv",
		"binance-futures_quotes_BTCUSDT_2024-08-08.csv.gz",
		"binance-futures_trades_BTCUSDT_2020-02-22_excerpt.csv",
		"binance-futures_trades_BTCUSDT_2024-08-08.csv.gz",
		"bitmex_trades_XBTUSD.csv",
		"deribit_incremental_book_L2_BTC-PERPETUAL.csv",
		"huobi-dm-swap_quotes_BTC-USD.csv",
		"synthetic_incremental_book_L2_two_snapshots.csv",
	};
	const char *dir = getenv("DATA") ? getenv("DATA") : "test/data";
	size_t i, n, rn, rn2;
	char path[1024], err[768], *csv, *out;
	unsigned char *recs, *recs2;
	unsigned skipped;
	int rc;

	for (i = 0; i < sizeof files / sizeof files[0]; i++) {
		snprintf(path, sizeof path, "%s/%s", dir, files[i]);
		csv = read_file(path, &n);
		CHECK(csv != NULL);
		if (csv == NULL) {
			fprintf(stderr, "cannot read %s\n", path);
			continue;
		}
		recs = convert(csv, n, 0, 1, 0, &rn, &rc, err, sizeof err);
		CHECK(rc == 0);
		recs2 = convert(csv, n, 0, 0, 0, &rn2, &rc, err, sizeof err);
		CHECK(rc == 0);
		CHECK(rn > 0 && rn == rn2 && memcmp(recs, recs2, rn) == 0);
		out = records_csv(recs, rn, &skipped);
		CHECK(skipped == 0);
		if (!same_csv(out, csv))
			fprintf(stderr, "round trip differs: %s\n", files[i]);
		CHECK(same_csv(out, csv));
		free(out);
		free(recs);
		free(recs2);
		free(csv);
	}
}

static void test_skip_types(void)
{
	unsigned char rec[128] = { 0 };
	struct chr_rec *r = (struct chr_rec *)rec;
	struct chr_tardis_out o;
	FILE *f = fopen("/dev/null", "w");

	chr_tardis_out_init(&o);
	r->len = 64;
	r->type = CHR_HEARTBEAT;
	CHECK(chr_tardis_write(&o, r, f) == CHR_TARDIS_SKIPPED);
	r->type = 0x8001;
	CHECK(chr_tardis_write(&o, r, f) == CHR_TARDIS_SKIPPED);
	r->len = 64 + 24;
	r->type = CHR_GAP;
	CHECK(chr_tardis_write(&o, r, f) == CHR_TARDIS_SKIPPED);
	chr_tardis_out_free(&o);
	fclose(f);
}

#define TRH "exchange,symbol,timestamp,local_timestamp,id,side,price,amount\n"

/* One CSV text converted four ways (fast path or libcsv, at once or fed 7
 * bytes at a time), which must all agree (status, message, records).
 * Returns the records of the first way, like convert(). */
static unsigned char *convert4(const char *csv, size_t len, int skip_bad, size_t *n, int *rc,
			       char *err, size_t errlen)
{
	unsigned char *first = NULL;
	size_t n1 = 0;
	int rc1 = 0, way;
	char err1[768];

	for (way = 0; way < 4; way++) {
		size_t nn;
		int r;
		unsigned char *recs = convert(csv, len, (way & 2) ? 7 : 0, !(way & 1), skip_bad, &nn, &r,
					      err, errlen);

		if (way == 0) {
			first = recs;
			n1 = nn;
			rc1 = r;
			snprintf(err1, sizeof err1, "%s", err);
			continue;
		}
		CHECK(r == rc1 && nn == n1 && memcmp(recs, first, nn) == 0);
		CHECK_STR(err, err1);
		free(recs);
	}
	*n = n1;
	*rc = rc1;
	snprintf(err, errlen, "%s", err1);
	return first;
}

/* NUL bytes are never a value (all-zero bytes once matched the fast
 * parser's empty timestamp cache as 0), and messages show them escaped */
static void test_nul(void)
{
	static const struct {
		const char *row;
		size_t len;
		const char *msg;
	} cases[] = {
#define R(s) s, sizeof s - 1
		{ R("x,S,\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0,2,a,buy,1,1\n"),
		  "x.csv:2: timestamp '\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00' is not an integer" },
		{ R("x,S,1,\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0,a,buy,1,1\n"),
		  "x.csv:2: local_timestamp '\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00' is not an integer" },
		{ R("x,S,1,2,a,buy,1\0" "2,1\n"), "x.csv:2: price '1\\x002' is not a decimal" },
		{ R("x,S\0z,1,2,a,buy,1,1\n"), "x.csv:2: symbol 'S\\x00z' is not a name" },
		{ R("x,S,1,2,a,b\0uy,1,1\n"), "x.csv:2: side 'b\\x00uy' is not buy, sell or unknown" },
		{ R("x,S,1,2,a\0b,buy,1,1\n"), "x.csv:2: trade id holds a NUL byte" },
		/* other bytes that are not printable, and the backslash */
		{ R("x,S,1,2,a,buy,\x1b[31m\\\xff,1\n"), "x.csv:2: price '\\x1b[31m\\\\\\xff' is not a decimal" },
#undef R
	};
	char csv[256], err[768];
	unsigned char *recs;
	size_t i, n, hl = strlen(TRH);
	int rc;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		memcpy(csv, TRH, hl);
		memcpy(csv + hl, cases[i].row, cases[i].len);
		recs = convert4(csv, hl + cases[i].len, 0, &n, &rc, err, sizeof err);
		CHECK(rc == CHR_EX_DATA && n == 0);
		CHECK_STR(err, cases[i].msg);
		free(recs);
		recs = convert4(csv, hl + cases[i].len, 1, &n, &rc, err, sizeof err);
		CHECK(rc == 0 && n == 0);
		CHECK_STR(err, cases[i].msg);
		free(recs);
	}
	/* 16 zero digits are timestamp 0 */
	snprintf(csv, sizeof csv, "%sx,S,0000000000000000,0000000000000000,a,buy,1,1\n", TRH);
	recs = convert4(csv, strlen(csv), 0, &n, &rc, err, sizeof err);
	CHECK(rc == 0 && rec_count(recs, n) == 2);
	CHECK(rec_count(recs, n) == 2 && rec_at(recs, n, 1)->ts == 0 && rec_at(recs, n, 1)->ts_event == 0);
	free(recs);
}

/* One trailing CR is dropped; any other CR is a bad row, on both paths
 * (libcsv alone ends a row at a lone CR, or keeps it in a quoted field) */
static void test_cr(void)
{
	static const char *const rows[] = {
		"\rx,S,1,2,a,buy,1,1\n",
		"x,S,1,2,a,buy,1,1\r\r\n",
		"x,S,1,2,\"a\r\",buy,1,1\n",
		"x,S,1,2,a\r,buy,1,1\n",
		"x,S\r,1,2,a,buy,1,1\n",
		"x,S,1,2,a,buy,1,1\rx,S,1,2,b,buy,1,1\n",
		"x,S,1,2,a,buy,1,1\r\r",	/* the last line, without its LF */
	};
	char csv[256], err[768];
	unsigned char *recs;
	size_t i, n;
	int rc;

	for (i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		snprintf(csv, sizeof csv, "%s%s", TRH, rows[i]);
		recs = convert4(csv, strlen(csv), 0, &n, &rc, err, sizeof err);
		CHECK(rc == CHR_EX_DATA && n == 0);
		CHECK_STR(err, "x.csv:2: stray carriage return in the row");
		free(recs);
		recs = convert4(csv, strlen(csv), 1, &n, &rc, err, sizeof err);
		CHECK(rc == 0 && n == 0);
		free(recs);
	}
	/* CRLF, and a last line ending in CR alone: accepted */
	snprintf(csv, sizeof csv, "%s", "exchange,symbol,timestamp,local_timestamp,id,side,price,amount\r\n"
		 "x,S,1,2,a,buy,1,1\r\nx,S,1,2,b,buy,1,1\r");
	recs = convert4(csv, strlen(csv), 0, &n, &rc, err, sizeof err);
	CHECK(rc == 0 && rec_count(recs, n) == 3);
	free(recs);
	snprintf(csv, sizeof csv, "%s\r\n", TRH);
	recs = convert4(csv, strlen(csv), 0, &n, &rc, err, sizeof err);
	CHECK(rc == CHR_EX_DATA);
	CHECK_STR(err, "x.csv:2: empty line");
	free(recs);
}

/* Scale 18: leading zeros of the integer part are not digits of the value */
static void test_scale18(void)
{
	static const char csv[] = TRH
		"x,S,1,2,a,buy,0.000000000000000001,000.000000000000000123\n"
		"x,S,1,2,b,sell,-0.999999999999999999,0000000000000000000000012.5\n"
		"x,S,1,2,c,buy,999999999999999999,1\n";
	const struct chr_trade *tr;
	unsigned char *recs;
	unsigned skipped;
	char err[768], *out, bad[256];
	size_t n;
	int rc;

	recs = convert4(csv, sizeof csv - 1, 0, &n, &rc, err, sizeof err);
	CHECK(rc == 0 && rec_count(recs, n) == 4);
	if (rec_count(recs, n) == 4) {
		tr = chr_rec_payload(rec_at(recs, n, 1));
		CHECK(tr->price == 1 && tr->price_scale == 18 && tr->size == 123 && tr->size_scale == 18);
		tr = chr_rec_payload(rec_at(recs, n, 2));
		CHECK(tr->price == -999999999999999999 && tr->price_scale == 18);
		CHECK(tr->size == 125 && tr->size_scale == 1);
	}
	out = records_csv(recs, n, &skipped);
	CHECK_STR(out, TRH "x,S,1,2,a,buy,0.000000000000000001,0.000000000000000123\n"
		  "x,S,1,2,b,sell,-0.999999999999999999,12.5\n"
		  "x,S,1,2,c,buy,999999999999999999,1\n");
	free(out);
	free(recs);
	/* 19 digits of value are still too many */
	snprintf(bad, sizeof bad, "%sx,S,1,2,a,buy,1.000000000000000001,1\n", TRH);
	recs = convert4(bad, strlen(bad), 0, &n, &rc, err, sizeof err);
	CHECK(rc == CHR_EX_DATA);
	CHECK_STR(err, "x.csv:2: price '1.000000000000000001' is out of range");
	free(recs);
	/* an L2 record: a scale-18 price and an integer digit do not fit together */
	snprintf(bad, sizeof bad, "%sx,S,1,2,true,bid,0.000000000000000001,1\nx,S,1,2,true,bid,1,1\n", L2H);
	recs = convert4(bad, strlen(bad), 0, &n, &rc, err, sizeof err);
	CHECK(rc == CHR_EX_DATA);
	CHECK_STR(err, "x.csv:3: price '1' does not fit the scale of its record");
	free(recs);
}

/* a line of len bytes (and its '\n') at p: a trade whose price is 1 with
 * leading zeros, so that any length from 20 on is a good row */
static size_t long_row(char *p, size_t len, const char *id)
{
	size_t k = (size_t)sprintf(p, "x,S,1,2,%s,buy,", id);

	memset(p + k, '0', len - k - 4);
	memcpy(p + len - 4, "1,1\n", 4);
	return len;
}

/* Lines longer than CHR_TARDIS_LINE_MAX are bad rows, dropped up to their
 * '\n' without being kept (or scanned again) whole */
static void test_long_line(void)
{
	const size_t max = CHR_TARDIS_LINE_MAX, step = 256 << 10;
	size_t hl = strlen(TRH), len = 0, n, steps[2] = { 0, step };
	char *csv = malloc(hl + 3 * max + 1000000), err[768], want[128];
	unsigned char *recs;
	int fast, k, rc;

	memcpy(csv, TRH, hl);
	len = hl;
	len += (size_t)sprintf(csv + len, "x,S,1,2,a,buy,1,1\n");	/* line 2 */
	len += long_row(csv + len, max + 1, "b");		/* 3: exactly max bytes */
	len += long_row(csv + len, max + 2, "c");		/* 4: one more */
	len += long_row(csv + len, max + 3 * step, "d");	/* 5: dropped over reads */
	len += (size_t)sprintf(csv + len, "x,S,1,2,e,buy,z,1\n");	/* 6: bad */
	len += (size_t)sprintf(csv + len, "x,S,1,3,f,buy,2,1\n");	/* 7 */
	snprintf(want, sizeof want, "x.csv:4: line longer than %zu bytes", max);
	for (fast = 0; fast < 2; fast++)
		for (k = 0; k < 2; k++) {
			recs = convert(csv, len, steps[k], fast, 0, &n, &rc, err, sizeof err);
			CHECK(rc == CHR_EX_DATA);
			CHECK_STR(err, want);
			CHECK(rec_count(recs, n) == 3);	/* DEFINE, a, b */
			CHECK(kept_max <= max);
			free(recs);
			recs = convert(csv, len, steps[k], fast, 1, &n, &rc, err, sizeof err);
			CHECK(rc == 0);
			CHECK_STR(err, "x.csv:6: price 'z' is not a decimal");	/* lines still counted */
			CHECK(rec_count(recs, n) == 4);	/* DEFINE, a, b, f */
			CHECK(kept_max <= max);
			free(recs);
		}
	/* the last line, without its '\n' */
	len = hl + long_row(csv + hl, max + 2, "c") - 1;
	for (k = 0; k < 2; k++) {
		recs = convert(csv, len, steps[k], 1, 0, &n, &rc, err, sizeof err);
		CHECK(rc == CHR_EX_DATA);
		CHECK_STR(err, "x.csv:2: line longer than 4194304 bytes");
		free(recs);
	}
	/* a first line that long is no header */
	memset(csv, 'e', max + 1);
	csv[max + 1] = '\n';
	for (k = 0; k < 2; k++) {
		recs = convert(csv, max + 2, steps[k], 1, 1, &n, &rc, err, sizeof err);
		CHECK(rc == CHR_EX_DATA && n == 0);
		CHECK(strncmp(err, "x.csv:1: unknown header 'eeee", 29) == 0);
		CHECK(strlen(err) == 25 + 100 + 4);
		free(recs);
	}
	free(csv);
}

/* ---- the fast path against libcsv on generated rows ---- */

static uint64_t lcg = 88172645463325252ULL;

static unsigned rnd(unsigned n)
{
	lcg ^= lcg << 13;
	lcg ^= lcg >> 7;
	lcg ^= lcg << 17;
	return (unsigned)(lcg % n);
}

/* 1: fields and rows spoiled at times; 0: nearly every row good */
static int rough;

/* bytes a field may be spoiled with */
static const char junk[] = { '\0', '"', '\r', 'x', ' ', '+', 'e', '\xff', ',', '.', '-', '\n' };

static size_t put_digits(char *p, unsigned n)
{
	unsigned i;

	for (i = 0; i < n; i++)
		p[i] = (char)('0' + rnd(10));
	return n;
}

/* a decimal: edge values, runs of 0 to 20 digits with leading zeros, a
 * sign, a fraction, or empty */
static size_t gen_dec(char *p)
{
	static const char *const edge[] = {
		"0", "-0", "0.0", "999999999999999999", "9999999999999999999", "9223372036854775807",
		"-999999999999999999", "0.000000000000000001", "1.000000000000000001", "000000000000000000001",
		"12345678.12345678", "123456789.1234567", "1234567.123456789", ".5", "5.", "-", "1e5",
		"00000000", "0000000000000000", "12345678", "1234567812345678",
	};
	size_t k = 0;
	unsigned i;

	switch (rough ? rnd(6) : 2) {
	case 0:
		return (size_t)sprintf(p, "%s", edge[rnd(sizeof edge / sizeof edge[0])]);
	case 1:
		return 0;
	default:
		if (rnd(4) == 0)
			p[k++] = '-';
		for (i = rnd(4) == 0 ? rnd(20) : 0; i > 0; i--)
			p[k++] = '0';
		k += put_digits(p + k, rnd(3) == 0 ? rough ? rnd(21) : 1 + rnd(10) : 1 + rnd(6));
		if (rnd(3) > 0) {
			p[k++] = '.';
			k += put_digits(p + k, rnd(3) == 0 ? rough ? rnd(21) : 1 + rnd(8) : 1 + rnd(5));
		}
		return k;
	}
}

/* a timestamp: mostly 16 digits sharing their first 8 (or not), else
 * shorter, longer, out of range or zero */
static size_t gen_ts(char *p)
{
	switch (rough ? rnd(8) : 2 + rnd(6)) {
	case 0:
		return put_digits(p, 1 + rnd(18));
	case 1:
		return (size_t)sprintf(p, "%s", rnd(2) ? "9999999999999999" : "0000000000000000");
	case 2:
		return (size_t)sprintf(p, "1723%04u%08u", rnd(10000), rnd(100000000));
	default:
		return (size_t)sprintf(p, "17231612%08u", rnd(3) ? 55000000 + rnd(1000) : rnd(100000000));
	}
}

/* a name of 1 to 40 bytes (past 16 and 32; at most max unless rough),
 * usually the one given */
static size_t gen_name(char *p, const char *usual, unsigned max)
{
	unsigned n, i;

	if (rnd(4) > 0)
		return (size_t)sprintf(p, "%s", usual);
	n = rnd(3) == 0 ? 25 + rnd(16) : 1 + rnd(20);
	if (!rough && n > max)
		n = max;
	for (i = 0; i < n; i++)
		p[i] = (char)('a' + rnd(26));
	return n;
}

/* one field of the dataset's column col (0-based) */
static size_t gen_field(char *p, int type, int col)
{
	static const char *const words[] = { "buy", "sell", "unknown", "bid", "ask", "true", "false", "", "BUY" };

	switch (col) {
	case 0: return gen_name(p, "binance-futures", CHR_VENUE_MAX - 1);
	case 1: return gen_name(p, rnd(2) ? "BTCUSDT" : "ETHUSDT-PERPETUAL-2024", CHR_SYMBOL_MAX);
	case 2:
	case 3: return gen_ts(p);
	}
	if (type == CHR_TARDIS_L2 && col == 4)
		return (size_t)sprintf(p, "%s", !rough || rnd(8) ? (rnd(3) ? "false" : "true") : words[rnd(9)]);
	if ((type == CHR_TARDIS_L2 || type == CHR_TARDIS_TRADES) && col == 5) {
		if (rough && rnd(8) == 0)
			return (size_t)sprintf(p, "%s", words[rnd(9)]);
		return (size_t)sprintf(p, "%s", type == CHR_TARDIS_L2 ? (rnd(2) ? "bid" : "ask") :
				       rnd(2) ? "buy" : "sell");
	}
	if (type == CHR_TARDIS_TRADES && col == 4) {
		unsigned n = rnd(4) == 0 ? rnd(rough ? 46 : CHR_TRADE_ID_MAX + 1) : 6 + rnd(6), i;

		for (i = 0; i < n; i++)
			p[i] = (char)(rnd(4) ? '0' + rnd(10) : 'a' + rnd(26));
		return n;
	}
	return gen_dec(p);
}

/* rows of a dataset: every field sometimes spoiled by a byte, a column
 * sometimes missing or extra, CRLF, and the last line end missing */
static size_t gen_csv(char *p, int type, int cols, unsigned rows)
{
	static const char *const hdr[] = {
		[CHR_TARDIS_L2] = L2H, [CHR_TARDIS_TRADES] = TRH,
		[CHR_TARDIS_QUOTES] = "exchange,symbol,timestamp,local_timestamp,ask_amount,ask_price,bid_price,bid_amount\n",
		[CHR_TARDIS_TOPN] = "exchange,symbol,timestamp,local_timestamp,asks[0].price,asks[0].amount,"
			"bids[0].price,bids[0].amount,asks[1].price,asks[1].amount,bids[1].price,bids[1].amount\n",
	};
	size_t k = (size_t)sprintf(p, "%s", hdr[type]);
	unsigned r;
	int c, n;

	for (r = 0; r < rows; r++) {
		n = rough && rnd(16) == 0 ? cols + (int)rnd(3) - 1 : cols;
		for (c = 0; c < n; c++) {
			size_t f = k + (c > 0);

			if (c > 0)
				p[k] = ',';
			k = f + gen_field(p + f, type, c);
			if (rough && rnd(30) == 0) {	/* a byte that does not belong, */
				size_t at = f + rnd((unsigned)(k - f) + 1);

				if (at == k || rnd(2)) {	/* put in */
					memmove(p + at + 1, p + at, k - at);
					k++;
				}		/* or in place of one */
				p[at] = junk[rnd(sizeof junk)];
			}
		}
		if (rnd(10) == 0)
			p[k++] = '\r';
		if (r + 1 < rows || rnd(3) > 0)
			p[k++] = '\n';
	}
	return k;
}

/* Every way (fast or not, fed in pieces of every size from 1 byte to
 * past a 32-byte window, skipping bad rows or not) gives what libcsv gives
 * for the whole text: 1, else 0 (and the first difference on stderr). */
static int agree(const char *csv, size_t len)
{
	static const size_t steps[] = { 0, 1, 2, 7, 15, 16, 17, 31, 32, 33, 64 };
	char err0[768], err[768];
	int skip, rc0, rc, fast, ok = 1;
	size_t i, n0, n;

	for (skip = 0; skip < 2; skip++) {
		unsigned char *ref = convert(csv, len, 0, 0, skip, &n0, &rc0, err0, sizeof err0);

		for (i = 0; i < sizeof steps / sizeof steps[0]; i++)
			for (fast = 1; fast >= (steps[i] == 0 ? 1 : 0); fast--) {
				unsigned char *recs;

				flush_between = (int)(i & 1);
				recs = convert(csv, len, steps[i], fast, skip, &n, &rc, err, sizeof err);
				flush_between = 0;

				if (ok && (rc != rc0 || n != n0 || memcmp(recs, ref, n) != 0 ||
					   strcmp(err, err0) != 0)) {
					fprintf(stderr, "fast %d step %zu skip %d: rc %d '%s' %zu bytes; "
						"libcsv: rc %d '%s' %zu bytes\n", fast, steps[i], skip, rc, err,
						n, rc0, err0, n0);
					ok = 0;
				}
				free(recs);
			}
		free(ref);
	}
	return ok;
}

static void test_diff(void)
{
	static const int types[][2] = {
		{ CHR_TARDIS_L2, 8 }, { CHR_TARDIS_TRADES, 8 }, { CHR_TARDIS_QUOTES, 8 }, { CHR_TARDIS_TOPN, 12 },
	};
	char *csv = malloc(1 << 16);
	unsigned it, bad = 0, ok = 0;
	size_t len;

	for (it = 0; it < 400; it++) {
		const int *ty = types[it % 4];

		rough = it % 8 >= 4;
		len = gen_csv(csv, ty[0], ty[1], 2 + rnd(30));
		if (agree(csv, len)) {
			ok++;
		} else if (bad++ < 3) {
			fprintf(stderr, "differs (%zu bytes):\n", len);
			fwrite(csv, 1, len, stderr);
			fputc('\n', stderr);
		}
	}
	CHECK(bad == 0 && ok == 400);
	free(csv);
}

/* amounts at the edges of the fast path's 8-digit decimals (a digit
 * more, a sign, dots misplaced or doubled, leading zeros, empty), in
 * trades and quotes: the fast path and libcsv agree on each */
static void test_dec8(void)
{
	static const char *const amt[] = {
		"0", "00.5", "000", "0.00000001", "12345678", "123456789", "99999999", "1234567.8",
		"12345678.9", "1.2345678", "0000000012", ".5", "5.", "1..2", "1.2.3", "-1.5", "",
		"7", "10.0", "00000000.1", "1e5", "1.5x",
	};
	char csv[512];
	size_t i, n = sizeof amt / sizeof amt[0];
	int bad = 0;

	for (i = 0; i < n; i++) {
		int len = snprintf(csv, sizeof csv,
				   "exchange,symbol,timestamp,local_timestamp,id,side,price,amount\n"
				   "x,Y,1000000,1000000,1,buy,%s,%s\n"
				   "x,Y,1000000,1000001,2,sell,1.5,%s\n"
				   "exchange,symbol,timestamp,local_timestamp,ask_amount,ask_price,bid_price,bid_amount\n"
				   "x,Y,1000000,1000002,%s,1.5,1.4,%s\n"
				   "x,Y,1000000,1000003,%s,1.5,1.4,2\n",
				   amt[i], amt[(i + 1) % n], amt[i], amt[i], amt[(i + 3) % n], amt[i]);

		if (!agree(csv, (size_t)len)) {
			fprintf(stderr, "amount '%s' differs\n", amt[i]);
			bad++;
		}
	}
	CHECK(bad == 0);
}

/* a record of type with a payload of plen bytes, in a buffer of exactly
 * its size (so that ASan sees a read past it) */
static struct chr_rec *new_rec(uint16_t type, uint16_t venue, uint32_t market, size_t plen)
{
	struct chr_rec *r = calloc(1, chr_rec_span((uint32_t)(CHR_HDR_SIZE + plen)));

	r->len = (uint32_t)(CHR_HDR_SIZE + plen);
	r->type = type;
	r->venue = venue;
	r->market = market;
	r->ts = r->ts_event = 5000;
	return r;
}

static struct chr_rec *new_define(uint16_t venue, uint32_t market, const char *v, size_t vn,
				  const char *sym)
{
	struct chr_rec *r = new_rec(CHR_DEFINE, venue, market, sizeof(struct chr_define));
	struct chr_define *d = chr_rec_payload(r);

	memcpy(d->venue, v, vn);
	memcpy(d->symbol, sym, strlen(sym));
	return r;
}

/* records -> CSV: a 40-byte id, empty books, names */
static void test_write(void)
{
	struct chr_tardis_out o;
	struct chr_rec *r, *d;
	struct chr_trade *tr;
	char *out = NULL, want[256];
	size_t outn = 0;
	FILE *f = open_memstream(&out, &outn);
	int i, ok;

	chr_tardis_out_init(&o);
	/* a trade id of 40 bytes has no NUL: only those 40 are read */
	r = new_rec(CHR_TRADE, 1, 2, sizeof *tr);
	tr = chr_rec_payload(r);
	memset(tr->id, 'a', sizeof tr->id);
	tr->price = tr->size = 1;
	CHECK(chr_tardis_write(&o, r, f) == 1);
	tr->id[39] = ',';
	CHECK(chr_tardis_write(&o, r, f) == 1);
	free(r);
	fflush(f);
	snprintf(want, sizeof want, "%s1,2,5,5,%.40s,unknown,1,1\n1,2,5,5,\"%.39s,\",unknown,1,1\n", TRH,
		 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
	CHECK_STR(out, want);

	/* an empty snapshot has no Tardis form; an empty diff changes nothing */
	r = new_rec(CHR_BOOK_SNAPSHOT, 1, 2, sizeof(struct chr_book));
	CHECK(chr_tardis_write(&o, r, f) == CHR_TARDIS_SKIPPED);
	r->type = CHR_BOOK_DIFF;
	CHECK(chr_tardis_write(&o, r, f) == 0);
	free(r);
	fflush(f);
	CHECK_STR(out, want);	/* nothing written, not even a header */

	/* names: a DEFINE that is not NUL-padded names nothing, nor does one
	 * with a control character; many markets */
	d = new_define(3, 4, "vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv", 32, "S");
	CHECK(chr_tardis_write(&o, d, f) == 0);
	free(d);
	d = new_define(3, 5, "v\x1b[31m", 6, "S");
	CHECK(chr_tardis_write(&o, d, f) == 0);
	free(d);
	d = new_define(3, 6, "v", 1, "S\nT");
	CHECK(chr_tardis_write(&o, d, f) == 0);
	free(d);
	d = new_define(3, 7, "v,w", 3, "S\"T");
	CHECK(chr_tardis_write(&o, d, f) == 0);
	free(d);
	for (i = 0; i < 4; i++) {
		r = new_rec(CHR_TRADE, 3, (uint32_t)(4 + i), sizeof *tr);
		CHECK(chr_tardis_write(&o, r, f) == 1);
		free(r);
	}
	fclose(f);
	CHECK(strstr(out, "\n3,4,5,5,,unknown,0,0\n3,5,5,5,,unknown,0,0\n3,6,5,5,,unknown,0,0\n"
			  "\"v,w\",\"S\"\"T\",5,5,,unknown,0,0\n") != NULL);
	free(out);

	out = NULL;
	f = open_memstream(&out, &outn);
	for (i = 1; i <= 3000; i++) {
		char sym[16];

		snprintf(sym, sizeof sym, "S%d", i);
		d = new_define(9, (uint32_t)i, "ven", 3, sym);
		CHECK(chr_tardis_write(&o, d, f) == 0);
		free(d);
	}
	/* (this needs chr_names to keep what it learnt when it grows) */
	ok = 1;
	for (i = 3000; i >= 1; i--) {
		r = new_rec(CHR_TRADE, 9, (uint32_t)i, sizeof *tr);
		fflush(f);
		outn = 0;
		rewind(f);
		ok &= chr_tardis_write(&o, r, f) == 1;
		fflush(f);
		snprintf(want, sizeof want, "ven,S%d,5,5,,unknown,0,0\n", i);
		ok &= strstr(out, want) != NULL;
		free(r);
	}
	CHECK(ok);
	fclose(f);
	free(out);
	chr_tardis_out_free(&o);
}

/* gzin: after a damage, every read reports it */
static void test_gzin_error(void)
{
	char path[] = "/tmp/t-tardis-gz-XXXXXX", buf[4096];
	int fd = mkstemp(path), i;
	gzFile gz = gzdopen(dup(fd), "wb");
	struct chr_gzin g;
	ssize_t k;
	unsigned x = 1;

	for (i = 0; i < 200000; i++) {
		x = x * 1103515245u + 12345u;
		gzprintf(gz, "%u\n", x >> 8);
	}
	gzclose(gz);
	CHECK(ftruncate(fd, lseek(fd, 0, SEEK_END) / 2) == 0);
	close(fd);
	CHECK(chr_gzin_open(&g, path) == 0);
	while ((k = chr_gzin_read(&g, buf, sizeof buf)) > 0)
		;
	CHECK(k == -1 && g.status == CHR_EX_DATA && strstr(g.err, "unexpected end of input") != NULL);
	g.status = 0;
	CHECK(chr_gzin_read(&g, buf, sizeof buf) == -1 && g.status == 0);
	CHECK(chr_gzin_read(&g, buf, sizeof buf) == -1);
	CHECK(strstr(g.err, "unexpected end of input") != NULL);
	chr_gzin_close(&g);
	unlink(path);
}

int main(int argc, char **argv)
{
	chr_setprog("t-tardis");
	if (argc > 1 && strcmp(argv[1], "dump") == 0)
		return dump();
	if (argc > 1 && strcmp(argv[1], "csv") == 0)
		return to_csv();
	test_headers();
	test_l2();
	test_bad();
	test_note();
	test_other();
	test_roundtrip();
	test_skip_types();
	test_nul();
	test_cr();
	test_scale18();
	test_long_line();
	test_diff();
	test_dec8();
	test_write();
	test_gzin_error();
	return unit_done("t-tardis");
}
