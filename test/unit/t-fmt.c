/* t-fmt.c - text and JSON views of records, the DEFINE name table and
 * record selection, over the test stream of test/gen/recs.h (the records
 * "gen stream" writes for the bats suites). */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "chr.h"
#include "fmt.h"
#include "recs.h"
#include "source.h"
#include "unit.h"

#define VENUE_ID GEN_VENUE
#define MARKET_ID GEN_MARKET
#define TS0 GEN_TS0	/* 2024-08-08T00:00:00Z */
#define SEC GEN_SEC

/* Build record i of the test stream into a private buffer and return it
 * (static storage). */
static const struct chr_rec *rec_at(uint64_t i)
{
	static struct gen_out o;

	o.n = 0;
	gen_stream_rec(&o, i, TS0 + (int64_t)i * SEC);
	return (const struct chr_rec *)o.buf;
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
		struct gen_out o = {0};
		struct chr_rec *r;

		chr_select_init(&sel);
		gen_huge(&o);
		r = (struct chr_rec *)o.buf;
		CHECK(r->seq == UINT64_MAX && chr_select_match(&sel, r));
		r->ts = INT64_MAX;
		CHECK(chr_select_match(&sel, r));
		sel.seq_until = UINT64_MAX - 1;
		CHECK(!chr_select_match(&sel, r));
		free(o.buf);
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
	struct gen_out w = {0};
	const struct chr_rec *r;
	struct chr_fmt f;
	json_error_t e;
	json_t *o;
	char *s;

	gen_huge(&w);
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
	free(w.buf);
}

/* a book's age (chr-book --at): after the flags in text, four fields in JSON */
static void test_age(void)
{
	struct chr_fmt f;
	struct chr_fmt_age age = { TS0 + SEC - 2500000, 0 };
	json_error_t e;
	json_t *o;
	char *s;

	chr_fmt_init(&f, NULL, CHR_FMT_TEXT);
	f.age = &age;
	s = show(&f, rec_at(1));
	CHECK(strstr(s, " flags=- last=2024-08-08T00:00:00.997500000Z (2ms 500us before) ids=1..1 ") != NULL);
	free(s);
	age.stale = 1;
	s = show(&f, rec_at(1));
	CHECK(strstr(s, " (2ms 500us before, stale) ids=") != NULL);
	free(s);
	f.age = NULL;
	s = show(&f, rec_at(1));
	CHECK(strstr(s, "last=") == NULL);
	free(s);
	chr_fmt_free(&f);

	chr_fmt_init(&f, NULL, CHR_FMT_JSON);
	f.age = &age;
	s = show(&f, rec_at(1));
	o = json_loads(s, 0, &e);
	CHECK(o != NULL);
	CHECK(json_integer_value(json_object_get(o, "last_ts")) == TS0 + SEC - 2500000);
	CHECK_STR(json_string_value(json_object_get(o, "last_time")), "2024-08-08T00:00:00.997500000Z");
	CHECK(json_integer_value(json_object_get(o, "stale_ns")) == 2500000);
	CHECK(json_is_true(json_object_get(o, "stale")));
	json_decref(o);
	free(s);
	f.age = NULL;
	s = show(&f, rec_at(1));
	CHECK(strstr(s, "stale") == NULL);
	free(s);
	chr_fmt_free(&f);
}

int main(void)
{
	test_text();
	test_age();
	test_text_escapes();
	test_json();
	test_json_huge();
	test_names();
	test_select();
	return unit_done("t-fmt");
}
