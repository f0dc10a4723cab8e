/* t-part.c - the partitioner: DEFINE binding and rebinding, names refused,
 * the stream of each type, the UTC-day split, and a DEFINE before an
 * instrument's first record in each partition. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "chr.h"
#include "part.h"
#include "recs.h"
#include "unit.h"

/* A record of type for (vid, mid) at ts; a DEFINE names venue and sym.
 * Valid until the next call. */
static struct chr_rec *mk(uint16_t type, uint16_t vid, uint32_t mid, int64_t ts, const char *venue,
			  const char *sym)
{
	static struct gen_out o;
	struct chr_rec *r;

	o.n = 0;
	r = gen_reserve(&o, CHR_HDR_SIZE + (type == CHR_DEFINE ? sizeof(struct chr_define) :
					    sizeof(struct chr_trade)));
	r->type = type;
	r->venue = vid;
	r->market = mid;
	r->ts = ts;
	if (type == CHR_DEFINE) {
		struct chr_define *d = chr_rec_payload(r);

		memcpy(d->venue, venue, strlen(venue));
		memcpy(d->symbol, sym, strlen(sym));
	}
	gen_commit(&o, r);
	return r;
}

static void test_streams(void)
{
	CHECK(chr_part_stream(CHR_BOOK_SNAPSHOT) == CHR_ST_BOOK);
	CHECK(chr_part_stream(CHR_BOOK_DIFF) == CHR_ST_BOOK);
	CHECK(chr_part_stream(CHR_GAP) == CHR_ST_BOOK);
	CHECK(chr_part_stream(CHR_TRADE) == CHR_ST_TRADE);
	CHECK(chr_part_stream(CHR_QUOTE) == CHR_ST_QUOTE);
	CHECK(chr_part_stream(CHR_BOOK_TOPN) == CHR_ST_TOPN);
	CHECK(chr_part_stream(CHR_APP_MIN) == CHR_ST_APP);
	CHECK(chr_part_stream(0xffff) == CHR_ST_APP);
	CHECK(chr_part_stream(CHR_DEFINE) == -1);
	CHECK(chr_part_stream(CHR_HEARTBEAT) == -1);
	/* the names agree with the archive's streams */
	for (unsigned t = 0; t < CHR_APP_MIN; t++) {
		int s = chr_part_stream((uint16_t)t);
		const char *n = chr_stream_of((uint16_t)t);

		CHECK(s < 0 ? n == NULL : n != NULL && strcmp(n, chr_stream_names[s]) == 0);
	}
}

static void test_strict(void)
{
	struct chr_part p;
	struct chr_inst *in = NULL;
	struct chr_err e;
	int s = -1;

	chr_part_init(&p, CHR_PART_VENUE | CHR_PART_SYMBOL | CHR_PART_DAYS);
	/* a record before its DEFINE */
	CHECK(chr_part_take(&p, mk(CHR_TRADE, 1, 2, 5, NULL, NULL), "in", 0, &in, &s, &e) < 0);
	CHECK(e.status == CHR_EX_DATA);
	CHECK_STR(e.msg, "in: byte 0: TRADE of venue 1 market 2 before any DEFINE of it");
	/* names that cannot be path components */
	CHECK(chr_part_define(&p, mk(CHR_DEFINE, 1, 2, 0, "v", "../x"), "in", 64, &e) < 0);
	CHECK(e.status == CHR_EX_DATA);
	CHECK_STR(e.msg, "in: byte 64: DEFINE symbol '../x': name starts with '.'");
	CHECK(chr_part_define(&p, mk(CHR_DEFINE, 1, 2, 0, "a/b", "X"), "in", 0, &e) < 0);
	CHECK(strstr(e.msg, "DEFINE venue 'a/b'") != NULL);
	CHECK(chr_part_define(&p, mk(CHR_DEFINE, 1, 2, 0, "v", ""), "in", 0, &e) < 0);
	CHECK(strstr(e.msg, "DEFINE of ''") != NULL || strstr(e.msg, "DEFINE symbol ''") != NULL);
	/* bind, repeat */
	CHECK(chr_part_define(&p, mk(CHR_DEFINE, 1, 2, 0, "v", "BTC"), "in", 0, &e) == 1);
	CHECK(chr_part_define(&p, mk(CHR_DEFINE, 1, 2, 9, "v", "BTC"), "in", 0, &e) == 0);
	/* no rebinding: other names for the instrument, or its names for another */
	CHECK(chr_part_define(&p, mk(CHR_DEFINE, 1, 2, 0, "v", "ETH"), "in", 128, &e) < 0);
	CHECK_STR(e.msg, "in: byte 128: DEFINE binds venue 1 market 2 to 'v/ETH', bound before "
		  "to 'v/BTC'");
	CHECK(chr_part_define(&p, mk(CHR_DEFINE, 1, 3, 0, "v", "BTC"), "in", 192, &e) < 0);
	CHECK_STR(e.msg, "in: byte 192: DEFINE binds 'v/BTC' to venue 1 market 3, bound before "
		  "to venue 1 market 2");
	CHECK(chr_part_take(&p, mk(CHR_TRADE, 1, 2, 5, NULL, NULL), "in", 0, &in, &s, &e) == 1);
	CHECK(in != NULL && s == CHR_ST_TRADE && in->gen == 1);
	CHECK(in && strcmp(in->venue, "v") == 0 && strcmp(in->symbol, "BTC") == 0);
	CHECK(in && in->def->ts == 0 && in->venue_id == 1 && in->market_id == 2);
	/* records of no stream are counted; application types without CHR_PART_APP */
	CHECK(chr_part_take(&p, mk(CHR_HEARTBEAT, 0, 0, 5, NULL, NULL), "in", 0, &in, &s, &e) == 0);
	CHECK(chr_part_take(&p, mk(CHR_APP_MIN, 1, 2, 5, NULL, NULL), "in", 0, &in, &s, &e) == 0);
	CHECK(chr_part_take(&p, mk(CHR_DEFINE, 1, 2, 5, "v", "BTC"), "in", 0, &in, &s, &e) == 0);
	CHECK(p.skipped == 2);
	CHECK(p.tab.n == 1);
	chr_part_free(&p);
}

static void test_rebind(void)
{
	struct chr_part p;
	struct chr_part_defs d = {0};
	struct chr_inst *in = NULL, *in2 = NULL;
	struct chr_err e;
	int s;

	/* routing without {venue} or {symbol} in its template: any names */
	chr_part_init(&p, CHR_PART_REBIND | CHR_PART_APP);
	CHECK(chr_part_define(&p, mk(CHR_DEFINE, 1, 2, 0, "v", "../x"), "in", 0, &e) == 1);
	/* the same DEFINE again (another time, a REPEAT) changes nothing */
	CHECK(chr_part_define(&p, mk(CHR_DEFINE, 1, 2, 3, "v", "../x"), "in", 0, &e) == 0);
	CHECK(chr_part_take(&p, mk(CHR_TRADE, 1, 2, 5, NULL, NULL), "in", 0, &in, &s, &e) == 1);
	CHECK(in && in->gen == 1 && in->def->ts == 0);
	/* a partition needs the DEFINE once per generation */
	CHECK(chr_part_needs_define(&d, in) == 1);
	CHECK(chr_part_defs_mark(&d, in) == 0);
	CHECK(chr_part_needs_define(&d, in) == 0);
	chr_part_keep(in, CHR_ST_TRADE, 0, &d);
	CHECK(chr_part_cached(in, CHR_ST_TRADE, 0) == &d);
	CHECK(chr_part_define(&p, mk(CHR_DEFINE, 1, 2, 3, "v", "ETH"), "in", 0, &e) == 1);
	CHECK(in->gen == 2 && strcmp(in->symbol, "ETH") == 0 && in->def->ts == 3);
	CHECK(chr_part_cached(in, CHR_ST_TRADE, 0) == NULL);
	CHECK(chr_part_needs_define(&d, in) == 1);
	CHECK(chr_part_defs_mark(&d, in) == 0);
	CHECK(chr_part_needs_define(&d, in) == 0);
	/* another instrument in the same partition */
	CHECK(chr_part_define(&p, mk(CHR_DEFINE, 1, 7, 0, "v", "SOL"), "in", 0, &e) == 1);
	CHECK(chr_part_take(&p, mk(CHR_QUOTE, 1, 7, 5, NULL, NULL), "in", 0, &in2, &s, &e) == 1);
	CHECK(s == CHR_ST_QUOTE && in2 != in);
	CHECK(chr_part_needs_define(&d, in2) == 1);
	CHECK(chr_part_defs_mark(&d, in2) == 0);
	CHECK(chr_part_needs_define(&d, in) == 0 && chr_part_needs_define(&d, in2) == 0);
	CHECK(d.n == 2);
	/* application types are a stream; those of no instrument are skipped */
	CHECK(chr_part_take(&p, mk(CHR_APP_MIN + 1, 1, 7, 5, NULL, NULL), "in", 0, &in2, &s, &e) == 1);
	CHECK(s == CHR_ST_APP);
	CHECK(chr_part_take(&p, mk(CHR_APP_MIN, 0, 0, 5, NULL, NULL), "in", 0, &in2, &s, &e) == 0);
	CHECK(chr_part_take(&p, mk(CHR_APP_MIN, 0, 1, 5, NULL, NULL), "in", 0, &in2, &s, &e) < 0);
	CHECK(p.skipped == 1);
	chr_part_defs_free(&d);
	chr_part_free(&p);
}

static void test_days(void)
{
	struct chr_part p, q;
	const int64_t day = CHR_DAY_NS;

	chr_part_init(&p, CHR_PART_DAYS);
	chr_part_init(&q, 0);
	CHECK(chr_part_day(&p, 0) == 0);
	CHECK(chr_part_day(&p, day - 1) == 0);
	CHECK(chr_part_day(&p, day) == day);
	CHECK(chr_part_day(&p, 2 * day - 1) == day);
	/* before 1970: the day that holds it, not the one after */
	CHECK(chr_part_day(&p, -1) == -day);
	CHECK(chr_part_day(&p, -day) == -day);
	CHECK(chr_part_day(&p, -day - 1) == -2 * day);
	/* the first day, cut by INT64_MIN, and the next */
	CHECK(chr_part_day(&p, INT64_MIN) == INT64_MIN);
	CHECK(chr_part_day(&p, INT64_MIN + day) == chr_day_start(INT64_MIN + day));
	CHECK(chr_part_day(&p, INT64_MIN + day) > INT64_MIN);
	CHECK(chr_part_day(&p, chr_day_start(INT64_MIN + day) - 1) == INT64_MIN);
	CHECK(chr_part_day(&p, INT64_MAX) == INT64_MAX - INT64_MAX % day);
	/* a midnight UTC: 2024-05-02T00:00:00Z */
	CHECK(chr_part_day(&p, INT64_C(1714608000000000000)) == INT64_C(1714608000000000000));
	CHECK(chr_part_day(&p, INT64_C(1714607999999999999)) == INT64_C(1714521600000000000));
	/* without the split, one day */
	CHECK(chr_part_day(&q, -day - 1) == chr_part_day(&q, 5 * day));
	chr_part_free(&p);
	chr_part_free(&q);
}

/* What a writer does with the partitioner: every partition of
 * (instrument, stream, day) begins with the DEFINE. */
static void test_first_define(void)
{
	struct slot {
		struct chr_part_defs defs;
		int64_t day;
		int stream, nrec, first_define;
	} parts[8];
	size_t np = 0;
	struct chr_part p;
	struct chr_err e;
	const int64_t day = CHR_DAY_NS;
	const struct {
		uint16_t type;
		uint32_t mid;
		int64_t ts;
	} in[] = {
		{CHR_DEFINE, 2, 0}, {CHR_TRADE, 2, day - 1}, {CHR_TRADE, 2, day},
		{CHR_QUOTE, 2, day + 1}, {CHR_DEFINE, 3, 0}, {CHR_TRADE, 3, day + 2},
		{CHR_TRADE, 2, day - 2}, {CHR_TRADE, 2, -1}, {CHR_TRADE, 2, day + 3},
	};

	memset(parts, 0, sizeof parts);
	chr_part_init(&p, CHR_PART_VENUE | CHR_PART_SYMBOL | CHR_PART_DAYS);
	for (size_t i = 0; i < sizeof in / sizeof *in; i++) {
		const struct chr_rec *r = mk(in[i].type, 1, in[i].mid, in[i].ts, "v",
					     in[i].mid == 2 ? "A" : "B");
		struct chr_inst *inst;
		struct slot *sl;
		int64_t d;
		int s, k = chr_part_take(&p, r, "in", i * 64, &inst, &s, &e);

		CHECK(k >= 0);
		if (k <= 0)
			continue;
		d = chr_part_day(&p, r->ts);
		if (!(sl = chr_part_cached(inst, s, d))) {
			for (size_t j = 0; j < np; j++)
				if (parts[j].day == d && parts[j].stream == s &&
				    parts[j].defs.n && parts[j].defs.v[0].in == inst)
					sl = &parts[j];
			if (!sl) {
				sl = &parts[np++];
				sl->day = d;
				sl->stream = s;
			}
			chr_part_keep(inst, s, d, sl);
		}
		if (chr_part_needs_define(&sl->defs, inst)) {
			CHECK(sl->nrec == 0);
			sl->first_define = 1;
			sl->nrec++;
			CHECK(chr_part_defs_mark(&sl->defs, inst) == 0);
		}
		sl->nrec++;
	}
	/* A trade: -1 (day -1), day 0 (2), day 1 (2); A quote day 1; B trade day 1 */
	CHECK(np == 5);
	for (size_t j = 0; j < np; j++) {
		CHECK(parts[j].first_define == 1);
		chr_part_defs_free(&parts[j].defs);
	}
	CHECK(parts[0].day == 0 && parts[0].nrec == 3);	/* DEFINE + 2 trades */
	CHECK(parts[1].day == day && parts[1].nrec == 3);
	CHECK(parts[4].day == -day && parts[4].nrec == 2);
	chr_part_free(&p);
}

int main(void)
{
	test_streams();
	test_strict();
	test_rebind();
	test_days();
	test_first_define();
	return unit_done("t-part");
}
