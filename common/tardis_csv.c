/* tardis_csv.c - the importer's general path: a row the fast parser of
 * tardis_in.c does not take (quotes, a header, anything bad) is split by
 * libcsv and checked field by field, with a message for every bad one. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dec.h"
#include "err.h"
#include "tardis_int.h"

static int no_space(unsigned char c)
{
	(void)c;
	return 0;
}

int chr_td_csv_init(struct csv_parser *p)
{
	int rc = csv_init(p, CSV_STRICT | CSV_STRICT_FINI);

	if (rc == 0)
		csv_set_space_func(p, no_space);
	return rc;
}

static void cb_field(void *f, size_t n, void *data)
{
	struct chr_tardis_state *s = data;

	if (s->nf == s->capf) {
		size_t nc = s->capf ? 2 * s->capf : 64;
		size_t *fo = realloc(s->fo, nc * sizeof *fo), *fl;

		if (fo != NULL)
			s->fo = fo;
		fl = realloc(s->fl, nc * sizeof *fl);
		if (fl != NULL)
			s->fl = fl;
		if (fo == NULL || fl == NULL) {
			s->csv_nomem = 1;
			return;
		}
		s->capf = nc;
	}
	if (s->fbn + n + 1 > s->fbcap) {
		size_t nc = s->fbcap ? 2 * s->fbcap : 4096;
		char *nb;

		while (nc < s->fbn + n + 1)
			nc *= 2;
		if ((nb = realloc(s->fb, nc)) == NULL) {
			s->csv_nomem = 1;
			return;
		}
		s->fb = nb;
		s->fbcap = nc;
	}
	if (n > 0)
		memcpy(s->fb + s->fbn, f, n);
	s->fb[s->fbn + n] = '\0';
	s->fo[s->nf] = s->fbn;
	s->fl[s->nf] = n;
	s->fbn += n + 1;
	s->nf++;
}

static void cb_row(int c, void *data)
{
	struct chr_tardis_state *s = data;

	(void)c;
	s->csv_rows++;
}

#define F(i) (s->fb + s->fo[i])
#define FL(i) (s->fl[i])

static int g_ts(struct chr_tardis_in *t, const char *what, const char *p, size_t n, int64_t *v)
{
	uint64_t x = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		if ((unsigned)(p[i] - '0') >= 10)
			break;
		x = x * 10 + (uint64_t)(p[i] - '0');
		if (x > (uint64_t)US_MAX)
			return chr_td_bad(t, "%s '%s' is out of range", what, FLD(p, n)) < 0 ? -1 : 1;
	}
	if (n == 0 || i < n)
		return chr_td_bad(t, "%s '%s' is not an integer", what, FLD(p, n)) < 0 ? -1 : 1;
	*v = (int64_t)x;
	return 0;
}

/* 0 ok, 1 bad row skipped, -1 fail */
static int g_dec(struct chr_tardis_in *t, const char *what, int idx, const char *p, size_t n,
		 struct dv *d, int empty_ok)
{
	char name[48];
	int64_t v;
	int sc, rc;
	size_t i = 0, ni = 0;

	if (idx >= 0)
		snprintf(name, sizeof name, "%s[%d].%s", (idx & 2) ? "bids" : "asks", idx / 4,
			 (idx & 1) ? "amount" : "price");
	else
		snprintf(name, sizeof name, "%s", what);
	d->t = p;
	d->n = n;
	if (n == 0) {
		if (!empty_ok)
			return chr_td_bad(t, "%s is empty", name) < 0 ? -1 : 1;
		d->v = CHR_NULL;
		d->sc = d->dig = 0;
		return 0;
	}
	rc = chr_dec_parse(p, n, &v, &sc);
	if (rc == -1)
		return chr_td_bad(t, "%s '%s' is not a decimal", name, FLD(p, n)) < 0 ? -1 : 1;
	if (p[0] == '-')
		i = 1;
	while (i < n && p[i] == '0')
		i++;		/* leading zeros are not digits of the value */
	for (; i < n && p[i] != '.'; i++)
		ni++;
	if (rc == -3)
		return chr_td_bad(t, "%s '%s' has too many decimal places (at most %d)", name,
				  FLD(p, n), CHR_DEC_MAX_SCALE) < 0 ? -1 : 1;
	if (rc == -2 || (int)ni + sc > CHR_DEC_MAX_SCALE)
		return chr_td_bad(t, "%s '%s' is out of range", name, FLD(p, n)) < 0 ? -1 : 1;
	d->v = v;
	d->sc = sc;
	d->dig = (int)ni;
	return 0;
}

/* the price and amount that end an incremental_book_L2 or trades row
 * (fields 6 and 7): as g_dec */
static int g_px_sz(struct chr_tardis_in *t, struct row *r)
{
	struct chr_tardis_state *s = t->s;
	int rc;

	if ((rc = g_dec(t, "price", -1, F(6), FL(6), &r->px, 0)) != 0)
		return rc;
	return g_dec(t, "amount", -1, F(7), FL(7), &r->sz, 0);
}

/* is the field p[0..n) the word w? */
static int is(const char *p, size_t n, const char *w)
{
	return n == strlen(w) && memcmp(p, w, n) == 0;
}

static int expect_cols(struct chr_tardis_state *s)
{
	switch (s->type) {
	case CHR_TARDIS_TOPN: return 4 + 4 * s->n;
	default: return 8;
	}
}

/* A row split into fields: check and convert it, then apply it. */
static int g_row(struct chr_tardis_in *t)
{
	struct chr_tardis_state *s = t->s;
	struct row r;
	char idb[ID_READ];
	int rc, i;

	if ((int)s->nf != expect_cols(s))
		return chr_td_bad(t, "row has %zu columns, expected %d", s->nf, expect_cols(s));
	rc = chr_td_market(t, F(0), FL(0), F(1), FL(1), &r.m);
	if (rc == -1)
		return chr_td_oom(t);
	if (rc != 1)
		return rc == 0 ? 0 : -1;
	if ((rc = g_ts(t, "timestamp", F(2), FL(2), &r.ts)) != 0 ||
	    (rc = g_ts(t, "local_timestamp", F(3), FL(3), &r.lts)) != 0)
		return rc > 0 ? 0 : -1;
	switch (s->type) {
	case CHR_TARDIS_L2:
		if (is(F(4), FL(4), "true"))
			r.snap = 1;
		else if (is(F(4), FL(4), "false"))
			r.snap = 0;
		else
			return chr_td_bad(t, "is_snapshot '%s' is not true or false", FLD(F(4), FL(4)));
		if (is(F(5), FL(5), "bid"))
			r.side = SIDE_BID;
		else if (is(F(5), FL(5), "ask"))
			r.side = SIDE_ASK;
		else
			return chr_td_bad(t, "side '%s' is not bid or ask", FLD(F(5), FL(5)));
		if ((rc = g_px_sz(t, &r)) != 0)
			return rc > 0 ? 0 : -1;
		return chr_td_l2_row(t, &r);
	case CHR_TARDIS_TRADES:
		if (FL(4) > CHR_TRADE_ID_MAX)
			return chr_td_bad(t, "trade id '%s' is longer than %d bytes", FLD(F(4), FL(4)), CHR_TRADE_ID_MAX);
		if (memchr(F(4), '\0', FL(4)) != NULL)
			return chr_td_bad(t, "trade id holds a NUL byte");
		/* the id padded for one_row, which reads ID_READ bytes */
		memset(idb, 0, sizeof idb);
		memcpy(idb, F(4), FL(4));
		r.id = idb;
		r.idn = FL(4);
		if (is(F(5), FL(5), "buy"))
			r.side = CHR_SIDE_BUY;
		else if (is(F(5), FL(5), "sell"))
			r.side = CHR_SIDE_SELL;
		else if (is(F(5), FL(5), "unknown"))
			r.side = CHR_SIDE_UNKNOWN;
		else
			return chr_td_bad(t, "side '%s' is not buy, sell or unknown", FLD(F(5), FL(5)));
		if ((rc = g_px_sz(t, &r)) != 0)
			return rc > 0 ? 0 : -1;
		return chr_td_one_row(t, &r);
	case CHR_TARDIS_QUOTES: {
		static const char *const qn[4] = { "ask_amount", "ask_price", "bid_price", "bid_amount" };

		for (i = 0; i < 4; i++)
			if ((rc = g_dec(t, qn[i], -1, F(4 + i), FL(4 + i), &r.q[i], 1)) != 0)
				return rc > 0 ? 0 : -1;
		return chr_td_one_row(t, &r);
	}
	default:
		r.tv = s->tv;
		for (i = 0; i < 4 * s->n; i++)
			if ((rc = g_dec(t, NULL, i, F(4 + i), FL(4 + i), &r.tv[i], 1)) != 0)
				return rc > 0 ? 0 : -1;
		return chr_td_one_row(t, &r);
	}
}

/* Header lines: the first line of a file, or a header met in the stream
 * (concatenated files). */
static int header(struct chr_tardis_in *t, const char *p, size_t n, int first)
{
	struct chr_tardis_state *s = t->s;
	int type, hn;

	if (first && t->force_type != CHR_TARDIS_NONE) {
		type = t->force_type;
		hn = t->force_n;
	} else {
		type = chr_tardis_header(p, n, &hn);
	}
	if (type == CHR_TARDIS_NONE) {
		char e[4 * 100 + 1];

		snprintf(t->err, sizeof t->err, "%s:%llu: unknown header '%s%s'", t->name,
			 (unsigned long long)t->line, chr_td_esc(e, p, n, 100), n > 100 ? "..." : "");
		t->status = CHR_EX_DATA;
		return -1;
	}
	/* the record in progress ends with its dataset */
	if (chr_td_emit(t, 1) < 0)
		return -1;
	s->need_header = 0;
	return chr_td_set_dataset(t, type, hn);
}

/* A line longer than CHR_TARDIS_LINE_MAX at p[0..n) (n: the part at hand),
 * counted as the next line: a bad row, or the header of the file (with
 * --type; else an unknown header). 1 taken, -1 on failure. */
int chr_td_too_long(struct chr_tardis_in *t, const char *p, size_t n)
{
	t->line++;
	if (t->s->need_header)
		return header(t, p, n, 1) < 0 ? -1 : 1;
	t->rows++;
	return chr_td_bad(t, "line longer than %u bytes", CHR_TARDIS_LINE_MAX) < 0 ? -1 : 1;
}

/* The general path for the complete line at *pp (its '\n' is before end,
 * or it is the last line and ends at the sentinel end): 1 used (and *pp
 * moved), -1 on failure. A row is one line: a quoted field cannot hold a
 * line end (Tardis never writes one), so a quote left open spoils one row,
 * not the rest of the file. */
int chr_td_general(struct chr_tardis_in *t, char **pp, char *end)
{
	struct chr_tardis_state *s = t->s;
	char *ls = *pp, *nl;
	int rc;
	size_t tn;

	nl = memchr(ls, '\n', (size_t)(end + 1 - ls));
	*pp = nl + 1;
	tn = (size_t)(nl - ls);
	if (tn > CHR_TARDIS_LINE_MAX)
		return chr_td_too_long(t, ls, tn);
	if (tn > 0 && ls[tn - 1] == '\r')
		tn--;
	t->line++;
	if (s->need_header)
		return header(t, ls, tn, 1) < 0 ? -1 : 1;
	if (tn >= 9 && memcmp(ls, "exchange,", 9) == 0) {
		int hn;

		if (chr_tardis_header(ls, tn, &hn) != CHR_TARDIS_NONE)
			return header(t, ls, tn, 0) < 0 ? -1 : 1;
	}
	t->rows++;
	if (tn == 0)
		return chr_td_bad(t, "empty line") < 0 ? -1 : 1;
	/* libcsv would end a row at a lone CR (or keep it in a quoted field) */
	if (memchr(ls, '\r', tn) != NULL)
		return chr_td_bad(t, "stray carriage return in the row") < 0 ? -1 : 1;
	s->nf = s->fbn = 0;
	s->csv_rows = 0;
	s->csv_nomem = 0;
	if (csv_parse(&s->csv, ls, tn, cb_field, cb_row, s) != tn ||
	    csv_fini(&s->csv, cb_field, cb_row, s) != 0) {
		int e = csv_error(&s->csv);

		csv_free(&s->csv);
		chr_td_csv_init(&s->csv);
		rc = e == CSV_EPARSE ? chr_td_bad(t, "malformed quotes") : chr_td_oom(t);
	} else if (s->csv_nomem) {
		rc = chr_td_oom(t);
	} else {
		rc = g_row(t);
	}
	return rc < 0 ? -1 : 1;
}

