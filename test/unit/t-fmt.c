/* t-fmt.c - text and JSON views of records, the DEFINE name table and
 * record selection; "t-fmt gen N [TS0 [FIRST [SEGID]]]" writes a test
 * stream of N records (or one sealed segment) to stdout for the bats tests,
 * "t-fmt heartbeat" one HEARTBEAT record, "t-fmt huge" records whose
 * unsigned fields lie above INT64_MAX. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "chr.h"
#include "fmt.h"
#include "source.h"
#include "unit.h"

#define VENUE_ID 7
#define MARKET_ID 42
#define TS0 INT64_C(1723075200000000000)	/* 2024-08-08T00:00:00Z */
#define SEC INT64_C(1000000000)

/* Record i of the test stream, built in w: 0 DEFINE, 1 BOOK_SNAPSHOT,
 * then BOOK_DIFF, TRADE, QUOTE in turn. */
static void make_rec(struct chr_writer *w, uint64_t i, int64_t ts)
{
	struct chr_rec *r;
	uint16_t type = i == 0 ? CHR_DEFINE : i == 1 ? CHR_BOOK_SNAPSHOT :
		i % 3 == 2 ? CHR_BOOK_DIFF : i % 3 == 0 ? CHR_TRADE : CHR_QUOTE;
	uint32_t nb = type == CHR_BOOK_SNAPSHOT ? 3 : 1, na = type == CHR_BOOK_SNAPSHOT ? 2 : 1;
	size_t plen = type == CHR_DEFINE ? sizeof(struct chr_define) :
		type == CHR_TRADE ? sizeof(struct chr_trade) :
		type == CHR_QUOTE ? sizeof(struct chr_quote) :
		sizeof(struct chr_book) + (nb + na) * sizeof(struct chr_level);

	r = chr_writer_reserve(w, (uint32_t)(CHR_HDR_SIZE + plen));
	r->type = type;
	r->seq = r->src_seq = i;
	r->ts = ts;
	r->ts_event = ts - 1000;
	r->venue = VENUE_ID;
	r->market = MARKET_ID;
	if (type == CHR_DEFINE) {
		struct chr_define *d = chr_rec_payload(r);

		strcpy(d->venue, "testvenue");
		strcpy(d->symbol, "TESTSYM");
		d->price_scale_hint = 1;
		d->size_scale_hint = 3;
	} else if (type == CHR_TRADE) {
		struct chr_trade *t = chr_rec_payload(r);

		t->price = 618002 + (int64_t)i;
		t->price_scale = 1;
		t->size = 2909;
		t->size_scale = 3;
		t->side = i % 2 ? CHR_SIDE_BUY : CHR_SIDE_SELL;
		snprintf(t->id, sizeof t->id, "%llu", (unsigned long long)(1000 + i));
	} else if (type == CHR_QUOTE) {
		struct chr_quote *q = chr_rec_payload(r);

		q->bid_px = 618002;
		q->bid_sz = 1500;
		q->ask_px = 618003;
		q->ask_sz = CHR_NULL;
		q->price_scale = 1;
		q->size_scale = 3;
	} else {
		struct chr_book *b = chr_rec_payload(r);

		b->update_id_first = b->update_id_last = i;
		b->update_id_prev = i - 1;
		b->n_bid = nb;
		b->n_ask = na;
		b->price_scale = 1;
		b->size_scale = 3;
		for (uint32_t k = 0; k < nb; k++)
			b->levels[k] = (struct chr_level){618002 - (int64_t)k, 1000 * (k + 1)};
		for (uint32_t k = 0; k < na; k++)
			b->levels[nb + k] = (struct chr_level){618003 + (int64_t)k, 500};
		if (type == CHR_BOOK_DIFF) {
			b->levels[0].size = 0;
			r->flags = CHR_F_LAST;
		}
	}
	chr_writer_commit(w, r);
}

/* gen N [TS0 [FIRST [SEGID]]]: records FIRST..FIRST+N-1, one a second from
 * TS0; with SEGID, as one sealed segment file (header, then records). */
static int gen(int argc, char **argv)
{
	uint64_t n = strtoull(argv[2], NULL, 10);
	int64_t ts0 = argc > 3 ? strtoll(argv[3], NULL, 10) : TS0;
	uint64_t first = argc > 4 ? strtoull(argv[4], NULL, 10) : 0;
	struct chr_writer w;

	if (argc > 5) {
		/* build in memory to fill in the header */
		struct chr_writer mw;
		struct chr_seg s = {.magic = CHR_SEG_MAGIC, .version = 1, .flags = CHR_SEG_SEALED};
		int p[2];

		s.id = strtoull(argv[5], NULL, 10);
		s.base_seq = first;
		s.count = n;
		s.ts_min = ts0;
		s.ts_max = ts0 + (int64_t)(n ? n - 1 : 0) * SEC;
		if (pipe(p) < 0)
			return 3;
		chr_writer_init(&mw, p[1], "pipe", (size_t)n * 256 + 4096);
		for (uint64_t i = 0; i < n; i++)
			make_rec(&mw, first + i, ts0 + (int64_t)i * SEC);
		s.end = sizeof s + mw.n;
		s.crc = chr_seg_crc(&s);
		close(p[0]);
		close(p[1]);
		if (chr_write_all(STDOUT_FILENO, &s, sizeof s) < 0 ||
		    chr_write_all(STDOUT_FILENO, mw.buf, mw.n) < 0)
			return 3;
		mw.n = 0;
		chr_writer_close(&mw);
		return 0;
	}
	chr_writer_init(&w, STDOUT_FILENO, "stdout", 0);
	for (uint64_t i = 0; i < n; i++)
		make_rec(&w, first + i, ts0 + (int64_t)i * SEC);
	return chr_writer_close(&w) == 0 ? 0 : 3;
}

/* Build record i into a private buffer and return it (static storage). */
static const struct chr_rec *rec_at(uint64_t i)
{
	static struct chr_writer w;
	static int init;

	if (!init) {
		chr_writer_init(&w, -1, "mem", 0);
		init = 1;
	}
	w.n = 0;
	make_rec(&w, i, TS0 + (int64_t)i * SEC);
	return (const struct chr_rec *)w.buf;
}

/* Format one record; returns a malloc'ed string. */
static char *show(struct chr_fmt *f, const struct chr_rec *r)
{
	char *s = NULL;
	size_t n = 0;
	FILE *o = open_memstream(&s, &n);

	f->out = o;
	CHECK(chr_fmt_rec(f, r) == 0);
	fclose(o);
	return s;
}

static void test_text(void)
{
	struct chr_fmt f;
	char *s;

	chr_fmt_init(&f, NULL, CHR_FMT_TEXT);
	s = show(&f, rec_at(2));
	CHECK_STR(s, "2024-08-08T00:00:02.000000000Z BOOK_DIFF #7 #42 seq=2 src_seq=2 flags=LAST"
		  " ids=2..2 prev=1 bid[1] 61800.2 x 0; ask[1] 61800.3 x 0.5\n");
	free(s);
	CHECK(chr_fmt_learn(&f, rec_at(0)) == 0);
	s = show(&f, rec_at(0));
	CHECK_STR(s, "2024-08-08T00:00:00.000000000Z DEFINE testvenue TESTSYM seq=0 src_seq=0"
		  " flags=- venue=testvenue symbol=TESTSYM price_scale_hint=1 size_scale_hint=3\n");
	free(s);
	s = show(&f, rec_at(1));
	CHECK_STR(s, "2024-08-08T00:00:01.000000000Z BOOK_SNAPSHOT testvenue TESTSYM seq=1"
		  " src_seq=1 flags=- ids=1..1 prev=0 bid[3] 61800.2 x 1, 61800.1 x 2,"
		  " 61800 x 3; ask[2] 61800.3 x 0.5, 61800.4 x 0.5\n");
	free(s);
	f.levels = 1;
	s = show(&f, rec_at(1));
	CHECK(strstr(s, " bid[3] 61800.2 x 1, ... +2; ask[2] 61800.3 x 0.5, ... +1\n") != NULL);
	free(s);
	s = show(&f, rec_at(3));
	CHECK(strstr(s, " TRADE testvenue TESTSYM seq=3 src_seq=3 flags=- buy 61800.5 x 2.909"
		     " id=1003\n") != NULL);
	free(s);
	s = show(&f, rec_at(4));
	CHECK(strstr(s, " QUOTE testvenue TESTSYM seq=4 src_seq=4 flags=-"
		     " bid 61800.2 x 1.5 ask 61800.3 x -\n") != NULL);
	free(s);
	chr_fmt_free(&f);
}

static void test_json(void)
{
	struct chr_fmt f;
	json_error_t e;
	json_t *o;
	char *s;

	chr_fmt_init(&f, NULL, CHR_FMT_JSON);
	CHECK(chr_fmt_learn(&f, rec_at(0)) == 0);
	s = show(&f, rec_at(1));
	CHECK(s[strlen(s) - 1] == '\n' && strchr(s, '\n') == s + strlen(s) - 1);
	o = json_loads(s, 0, &e);
	CHECK(o != NULL);
	CHECK_STR(json_string_value(json_object_get(o, "type_name")), "BOOK_SNAPSHOT");
	CHECK_STR(json_string_value(json_object_get(o, "symbol")), "TESTSYM");
	CHECK_STR(json_string_value(json_object_get(o, "venue_name")), "testvenue");
	CHECK(json_integer_value(json_object_get(o, "ts")) == TS0 + SEC);
	CHECK(json_integer_value(json_object_get(o, "ts_event")) == TS0 + SEC - 1000);
	CHECK(json_integer_value(json_object_get(o, "market")) == MARKET_ID);
	CHECK(json_array_size(json_object_get(o, "bids")) == 3);
	CHECK_STR(json_string_value(json_array_get(json_array_get(json_object_get(o, "asks"), 1), 0)),
		  "61800.4");
	json_decref(o);
	free(s);
	s = show(&f, rec_at(4));
	o = json_loads(s, 0, &e);
	CHECK(o && json_is_null(json_object_get(o, "ask_sz")));
	CHECK_STR(json_string_value(json_object_get(o, "bid_sz")), "1.5");
	json_decref(o);
	free(s);
	chr_fmt_free(&f);
}

static void test_names(void)
{
	struct chr_names m = {0};
	char buf[CHR_DEC_BUF + 8];

	CHECK(chr_names_get(&m, VENUE_ID, MARKET_ID) == NULL);
	CHECK(chr_names_learn(&m, rec_at(0)) == 0);
	CHECK(chr_names_learn(&m, rec_at(3)) == 0);
	CHECK_STR(chr_names_get(&m, VENUE_ID, MARKET_ID)->symbol, "TESTSYM");
	CHECK(chr_names_get(&m, VENUE_ID, MARKET_ID + 1) == NULL);
	CHECK(m.tab.n == 1);
	chr_names_free(&m);
	CHECK_STR(chr_fmt_dec(buf, CHR_NULL, 3), "-");
	CHECK_STR(chr_fmt_dec(buf, 618000, 1), "61800");
	CHECK_STR(chr_fmt_dec(buf, -15, 1), "-1.5");
	CHECK_STR(chr_fmt_dec(buf, 15, 19), "15e-19");
}

static void make_huge(struct chr_writer *w);

static void test_select(void)
{
	static struct chr_select sel;
	const char *bad;

	chr_select_init(&sel);
	CHECK(chr_select_match(&sel, rec_at(3)));
	CHECK(chr_select_stream(&sel) == NULL);
	CHECK(chr_select_types(&sel, "trade", &bad) == 0);
	CHECK_STR(chr_select_stream(&sel), "trade");
	CHECK(chr_select_match(&sel, rec_at(3)));
	CHECK(!chr_select_match(&sel, rec_at(4)));
	CHECK(!chr_select_match(&sel, rec_at(0)));
	CHECK(chr_select_types(&sel, "define,quote", &bad) == 0);
	CHECK(chr_select_stream(&sel) == NULL);
	CHECK(chr_select_types(&sel, "quote,nonsense", &bad) < 0 && strcmp(bad, "nonsense") == 0);
	chr_select_init(&sel);
	CHECK(chr_select_types(&sel, "book", &bad) == 0);
	CHECK_STR(chr_select_stream(&sel), "book");
	chr_select_init(&sel);
	sel.ts_from = TS0 + 2 * SEC;
	sel.ts_until = TS0 + 4 * SEC;
	CHECK(chr_select_match(&sel, rec_at(0)));	/* DEFINE passes */
	CHECK(!chr_select_match(&sel, rec_at(1)));
	CHECK(chr_select_match(&sel, rec_at(2)));
	CHECK(chr_select_match(&sel, rec_at(3)));
	CHECK(!chr_select_match(&sel, rec_at(4)));
	chr_select_init(&sel);
	sel.seq_from = 3;
	CHECK(!chr_select_match(&sel, rec_at(2)));
	CHECK(chr_select_match(&sel, rec_at(5)));
	/* open ranges hold the largest seq and ts too */
	{
		struct chr_writer w;
		struct chr_rec *r;

		chr_select_init(&sel);
		chr_writer_init(&w, -1, "mem", 0);
		make_huge(&w);
		r = (struct chr_rec *)w.buf;
		CHECK(r->seq == UINT64_MAX && chr_select_match(&sel, r));
		r->ts = INT64_MAX;
		CHECK(chr_select_match(&sel, r));
		sel.seq_until = UINT64_MAX - 1;
		CHECK(!chr_select_match(&sel, r));
		w.n = 0;
		chr_writer_close(&w);
	}
}

/* A DEFINE of venue and symbol (raw bytes, NUL-padded) in w. */
static void make_define(struct chr_writer *w, const char *venue, const char *symbol)
{
	struct chr_rec *r = chr_writer_reserve(w, CHR_HDR_SIZE + sizeof(struct chr_define));
	struct chr_define *d = chr_rec_payload(r);

	r->type = CHR_DEFINE;
	r->ts = TS0;
	r->venue = VENUE_ID;
	r->market = MARKET_ID;
	strncpy(d->venue, venue, sizeof d->venue);
	strncpy(d->symbol, symbol, sizeof d->symbol);
	chr_writer_commit(w, r);
}

/* Records with unsigned fields above INT64_MAX in w: a BOOK_DIFF with seq
 * UINT64_MAX, src_seq 2^63 and update ids UINT64_MAX, 2^63, INT64_MAX; a
 * GAP expecting 2^63 + 1 and getting UINT64_MAX - 1 (seq INT64_MAX). */
static void make_huge(struct chr_writer *w)
{
	struct chr_rec *r;
	struct chr_book *b;
	struct chr_gap *g;

	r = chr_writer_reserve(w, CHR_HDR_SIZE + sizeof *b);
	r->type = CHR_BOOK_DIFF;
	r->ts = TS0;
	r->venue = VENUE_ID;
	r->market = MARKET_ID;
	r->seq = UINT64_MAX;
	r->src_seq = (uint64_t)1 << 63;
	b = chr_rec_payload(r);
	b->update_id_first = UINT64_MAX;
	b->update_id_last = (uint64_t)1 << 63;
	b->update_id_prev = INT64_MAX;
	chr_writer_commit(w, r);
	r = chr_writer_reserve(w, CHR_HDR_SIZE + sizeof *g);
	r->type = CHR_GAP;
	r->ts = TS0;
	r->venue = VENUE_ID;
	r->market = MARKET_ID;
	r->seq = INT64_MAX;
	g = chr_rec_payload(r);
	g->expected = ((uint64_t)1 << 63) + 1;
	g->got = UINT64_MAX - 1;
	g->reason = CHR_GAP_SEQ;
	chr_writer_commit(w, r);
}

/* Names and trade ids holding control, non-ASCII and space bytes stay on
 * one line of text, as \xNN escapes; JSON keeps them as JSON escapes. */
static void test_text_escapes(void)
{
	struct chr_writer w;
	const struct chr_rec *r;
	struct chr_trade *t;
	struct chr_rec *tr;
	struct chr_fmt f;
	char *s, buf[64];

	chr_writer_init(&w, -1, "mem", 0);
	make_define(&w, "ev\x1b[31mil\nX", "a b\\c\x7f\xc3\xa9");
	chr_fmt_init(&f, NULL, CHR_FMT_TEXT);
	r = (const struct chr_rec *)w.buf;
	CHECK(chr_fmt_learn(&f, r) == 0);
	s = show(&f, r);
	CHECK_STR(s, "2024-08-08T00:00:00.000000000Z DEFINE"
		  " ev\\x1b[31mil\\x0aX a\\x20b\\x5cc\\x7f\\xc3\\xa9 seq=0 src_seq=0 flags=-"
		  " venue=ev\\x1b[31mil\\x0aX symbol=a\\x20b\\x5cc\\x7f\\xc3\\xa9"
		  " price_scale_hint=0 size_scale_hint=0\n");
	free(s);
	w.n = 0;
	tr = chr_writer_reserve(&w, CHR_HDR_SIZE + sizeof *t);
	tr->type = CHR_TRADE;
	tr->venue = VENUE_ID;
	tr->market = MARKET_ID;
	t = chr_rec_payload(tr);
	t->price = 1;
	t->size = 2;
	strcpy(t->id, "x\ry\tz");
	chr_writer_commit(&w, tr);
	s = show(&f, (const struct chr_rec *)w.buf);
	CHECK(strstr(s, " unknown 1 x 2 id=x\\x0dy\\x09z\n") != NULL);
	CHECK(strchr(s, '\n') == s + strlen(s) - 1);
	free(s);
	chr_fmt_free(&f);
	w.n = 0;
	chr_writer_close(&w);
	/* messages: spaces are kept, the rest as in text */
	CHECK_STR(chr_fmt_shown(buf, sizeof buf, "a b\x1b\\.q"), "a b\\x1b\\x5c.q");
	CHECK_STR(chr_fmt_shown(buf, 8, "\x01\x02\x03"), "\\x01");
	CHECK_STR(chr_fmt_shown(buf, sizeof buf, ""), "");
}

/* Unsigned values above INT64_MAX are exact decimal strings in JSON;
 * values up to INT64_MAX stay numbers. */
static void test_json_huge(void)
{
	struct chr_writer w;
	const struct chr_rec *r;
	struct chr_fmt f;
	json_error_t e;
	json_t *o;
	char *s;

	chr_writer_init(&w, -1, "mem", 0);
	make_huge(&w);
	chr_fmt_init(&f, NULL, CHR_FMT_JSON);
	r = (const struct chr_rec *)w.buf;
	s = show(&f, r);
	o = json_loads(s, 0, &e);
	CHECK(o != NULL);
	CHECK_STR(json_string_value(json_object_get(o, "seq")), "18446744073709551615");
	CHECK_STR(json_string_value(json_object_get(o, "src_seq")), "9223372036854775808");
	CHECK_STR(json_string_value(json_object_get(o, "update_id_first")), "18446744073709551615");
	CHECK_STR(json_string_value(json_object_get(o, "update_id_last")), "9223372036854775808");
	CHECK(json_is_integer(json_object_get(o, "update_id_prev")) &&
	      json_integer_value(json_object_get(o, "update_id_prev")) == INT64_MAX);
	json_decref(o);
	free(s);
	r = (const struct chr_rec *)(w.buf + chr_rec_span(r->len));
	s = show(&f, r);
	o = json_loads(s, 0, &e);
	CHECK(o != NULL);
	CHECK(json_is_integer(json_object_get(o, "seq")) &&
	      json_integer_value(json_object_get(o, "seq")) == INT64_MAX);
	CHECK_STR(json_string_value(json_object_get(o, "expected")), "9223372036854775809");
	CHECK_STR(json_string_value(json_object_get(o, "got")), "18446744073709551614");
	json_decref(o);
	free(s);
	chr_fmt_free(&f);
	w.n = 0;
	chr_writer_close(&w);
}

/* huge: the records of make_huge */
static int huge(void)
{
	struct chr_writer w;

	chr_writer_init(&w, STDOUT_FILENO, "stdout", 0);
	make_huge(&w);
	return chr_writer_close(&w) == 0 ? 0 : 3;
}

/* heartbeat: one HEARTBEAT record at TS0 */
static int heartbeat(void)
{
	struct chr_writer w;
	struct chr_rec *r;

	chr_writer_init(&w, STDOUT_FILENO, "stdout", 0);
	r = chr_writer_reserve(&w, CHR_HDR_SIZE);
	r->type = CHR_HEARTBEAT;
	r->ts = TS0;
	chr_writer_commit(&w, r);
	return chr_writer_close(&w) == 0 ? 0 : 3;
}

int main(int argc, char **argv)
{
	if (argc > 2 && strcmp(argv[1], "gen") == 0)
		return gen(argc, argv);
	if (argc > 1 && strcmp(argv[1], "heartbeat") == 0)
		return heartbeat();
	if (argc > 1 && strcmp(argv[1], "huge") == 0)
		return huge();
	test_text();
	test_text_escapes();
	test_json();
	test_json_huge();
	test_names();
	test_select();
	return unit_done("t-fmt");
}
