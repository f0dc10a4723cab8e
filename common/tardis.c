/* tardis.c - Tardis.dev CSV datasets (docs/tardis.md): names and header
 * lines, escaped fields for messages, the importer's JSON report, state,
 * messages and markets. Its rows are tardis_in.c and tardis_csv.c, the
 * writer tardis_out.c. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "err.h"
#include "num.h"
#include "tardis_int.h"

/* ---- datasets and headers ---- */

static const char HDR_COMMON[] = "exchange,symbol,timestamp,local_timestamp";
static const char HDR_L2[] = "exchange,symbol,timestamp,local_timestamp,is_snapshot,side,price,amount";
static const char HDR_TRADES[] = "exchange,symbol,timestamp,local_timestamp,id,side,price,amount";
static const char HDR_QUOTES[] = "exchange,symbol,timestamp,local_timestamp,ask_amount,ask_price,bid_price,bid_amount";

int chr_tardis_type_parse(const char *name, int *n)
{
	const char *p;
	uint64_t v;

	*n = 0;
	if (strcmp(name, "incremental_book_L2") == 0)
		return CHR_TARDIS_L2;
	if (strcmp(name, "trades") == 0)
		return CHR_TARDIS_TRADES;
	if (strcmp(name, "quotes") == 0)
		return CHR_TARDIS_QUOTES;
	if (strncmp(name, "book_snapshot_", 14) != 0)
		return CHR_TARDIS_NONE;
	p = name + 14;
	/* no leading zero: "book_snapshot_05" is not a dataset */
	if (*p < '1' || *p > '9' || chr_parse_range(p, 1, CHR_TARDIS_TOPN_MAX, &v) < 0)
		return CHR_TARDIS_NONE;
	*n = (int)v;
	return CHR_TARDIS_TOPN;
}

int chr_tardis_header(const char *s, size_t len, int *n)
{
	size_t k = sizeof HDR_COMMON - 1;
	char grp[128];
	int i;

	*n = 0;
	if (len == sizeof HDR_L2 - 1 && memcmp(s, HDR_L2, len) == 0)
		return CHR_TARDIS_L2;
	if (len == sizeof HDR_TRADES - 1 && memcmp(s, HDR_TRADES, len) == 0)
		return CHR_TARDIS_TRADES;
	if (len == sizeof HDR_QUOTES - 1 && memcmp(s, HDR_QUOTES, len) == 0)
		return CHR_TARDIS_QUOTES;
	if (len <= k || memcmp(s, HDR_COMMON, k) != 0)
		return CHR_TARDIS_NONE;
	for (i = 0; k < len; i++) {
		int g = snprintf(grp, sizeof grp, ",asks[%d].price,asks[%d].amount,bids[%d].price,bids[%d].amount",
				 i, i, i, i);

		if (i >= CHR_TARDIS_TOPN_MAX || len - k < (size_t)g || memcmp(s + k, grp, (size_t)g) != 0)
			return CHR_TARDIS_NONE;
		k += (size_t)g;
	}
	*n = i;
	return CHR_TARDIS_TOPN;
}

char *chr_tardis_header_line(int dataset, int n)
{
	const char *fixed = dataset == CHR_TARDIS_L2 ? HDR_L2 :
			    dataset == CHR_TARDIS_TRADES ? HDR_TRADES :
			    dataset == CHR_TARDIS_QUOTES ? HDR_QUOTES : NULL;
	size_t cap, k;
	char *s;
	int i;

	if (fixed != NULL) {
		k = strlen(fixed);
		if ((s = malloc(k + 2)) == NULL)
			return NULL;
		memcpy(s, fixed, k);
		memcpy(s + k, "\n", 2);
		return s;
	}
	if (dataset != CHR_TARDIS_TOPN || n < 1 || n > CHR_TARDIS_TOPN_MAX)
		return NULL;
	cap = sizeof HDR_COMMON + (size_t)n * 80 + 2;
	if ((s = malloc(cap)) == NULL)
		return NULL;
	k = (size_t)snprintf(s, cap, "%s", HDR_COMMON);
	for (i = 0; i < n; i++)
		k += (size_t)snprintf(s + k, cap - k, ",asks[%d].price,asks[%d].amount,bids[%d].price,bids[%d].amount",
				      i, i, i, i);
	snprintf(s + k, cap - k, "\n");
	return s;
}

/* as its declaration in tardis_int.h says */
const char *chr_td_esc(char *buf, const char *p, size_t n, size_t max)
{
	static const char hex[] = "0123456789abcdef";
	size_t i, k = 0;

	for (i = 0; i < n && i < max; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c == '\\') {
			buf[k++] = '\\';
			buf[k++] = '\\';
		} else if (c >= 0x20 && c < 0x7f) {
			buf[k++] = (char)c;
		} else {
			buf[k++] = '\\';
			buf[k++] = 'x';
			buf[k++] = hex[c >> 4];
			buf[k++] = hex[c & 15];
		}
	}
	buf[k] = '\0';
	return buf;
}

/* ---- the report ---- */

char *chr_tardis_type_name(int dataset, int n, char *buf)
{
	switch (dataset) {
	case CHR_TARDIS_L2: strcpy(buf, "incremental_book_L2"); break;
	case CHR_TARDIS_TRADES: strcpy(buf, "trades"); break;
	case CHR_TARDIS_QUOTES: strcpy(buf, "quotes"); break;
	case CHR_TARDIS_TOPN: snprintf(buf, 32, "book_snapshot_%d", n); break;
	default: buf[0] = '\0';
	}
	return buf;
}

/* o[k] = v, taking v (also on failure). Returns 0, or 1 on failure. */
static int jset(json_t *o, const char *k, json_t *v)
{
	return v == NULL || json_object_set_new(o, k, v) < 0 ? 1 : 0;
}

/* the counters since c into o; 0, or 1 when out of memory */
static int jcounts(json_t *o, const struct tfile *c, const struct tfile *end)
{
	int bad = 0;

	bad |= jset(o, "rows", json_integer((json_int_t)(end->rows - c->rows)));
	bad |= jset(o, "records", json_integer((json_int_t)(end->records - c->records)));
	bad |= jset(o, "events", json_integer((json_int_t)(end->events - c->events)));
	bad |= jset(o, "bad_rows_skipped", json_integer((json_int_t)(end->bad - c->bad)));
	bad |= jset(o, "rows_before_first_snapshot", json_integer((json_int_t)(end->presnap - c->presnap)));
	return bad;
}

/* add the name of (type, n) to the array a unless it is there */
static int jdataset(json_t *a, int type, int n)
{
	char name[32];
	size_t i;
	json_t *v;

	chr_tardis_type_name(type, n, name);
	json_array_foreach(a, i, v)
		if (strcmp(json_string_value(v), name) == 0)
			return 0;
	return json_array_append_new(a, json_string(name)) < 0;
}

char *chr_tardis_in_report(const struct chr_tardis_in *t, const char *const *paths,
			   const uint64_t *bytes, size_t n)
{
	const struct chr_tardis_state *s = t->s;
	const struct tfile now = { t->rows, t->bad, t->presnap, t->records, t->events, { { 0, 0 } }, 0 };
	const struct tfile zero = { 0, 0, 0, 0, 0, { { 0, 0 } }, 0 };
	json_t *o = json_object(), *in = json_array(), *all = json_array();
	char *text = NULL, *out = NULL;
	int bad = o == NULL || in == NULL || all == NULL || s->files_nomem || n != s->nfiles;

	for (size_t i = 0; !bad && i < n; i++) {
		const struct tfile *f = &s->files[i];
		json_t *e = json_object(), *ds = json_array();

		bad |= e == NULL || ds == NULL || json_array_append_new(in, e) < 0;
		for (unsigned k = 0; !bad && k < f->nseen; k++)
			bad |= jdataset(ds, f->seen[k].type, f->seen[k].n) |
			       jdataset(all, f->seen[k].type, f->seen[k].n);
		bad |= bad || jset(e, "path", json_string(paths[i]));
		bad |= bad || jset(e, "bytes", json_integer((json_int_t)bytes[i]));
		if (!bad) {
			bad |= jset(e, "datasets", ds);	/* takes ds, also on failure */
			ds = NULL;
		}
		bad |= bad || jcounts(e, f, i + 1 < n ? &s->files[i + 1] : &now);
		json_decref(ds);
	}
	bad |= bad || jset(o, "format", json_string("chronicle-csv2ev-report"));
	bad |= bad || jset(o, "version", json_integer(1));
	bad |= jset(o, "inputs", in);	/* jset takes the value, also on failure */
	in = NULL;
	bad |= jset(o, "datasets", all);
	all = NULL;
	bad |= bad || jcounts(o, &zero, &now);
	if (!bad)
		text = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	if (text != NULL && (out = malloc(strlen(text) + 2)) != NULL)
		strcat(strcpy(out, text), "\n");
	free(text);
	json_decref(o);
	return out;
}

/* ---- the importer's state (its rows: tardis_in.c) ---- */

int chr_tardis_in_init(struct chr_tardis_in *t, struct chr_writer *w)
{
	struct chr_tardis_state *s;

	memset(t, 0, sizeof *t);
	t->fast = 1;
	t->report_max = 20;
	t->name = "stdin";
	s = calloc(1, sizeof *s);
	if (s == NULL)
		return -1;
	t->s = s;
	s->w = w;
	s->need_header = 1;
	s->at_start = 1;
	/* the timestamp caches start as a true pair, "0000000000000000" = 0,
	 * so that a match is always right (all-zero bytes would read as 0) */
	memset(&s->ts_c.a, '0', sizeof s->ts_c.a);
	memset(&s->ts_c.b, '0', sizeof s->ts_c.b);
	s->ts_c.v = 0;
	s->lts_c = s->ts_c;
	/* empty decimal caches: no text matches */
	for (size_t i = 0; i < sizeof s->qc / sizeof s->qc[0]; i++)
		s->qc[i].w = 1;
	if (chr_td_csv_init(&s->csv) != 0) {
		free(s);
		t->s = NULL;
		return -1;
	}
	return 0;
}

void chr_tardis_in_free(struct chr_tardis_in *t)
{
	struct chr_tardis_state *s = t->s;
	size_t i;

	if (s == NULL)
		return;
	for (i = 0; i < s->nall; i++) {
		free(s->all[i]->key);
		free(s->all[i]);
	}
	free(s->all);
	free(s->mk);
	free(s->cur.b);
	free(s->cur.a);
	free(s->tv);
	csv_free(&s->csv);
	free(s->fb);
	free(s->fo);
	free(s->fl);
	free(s->files);
	free(s);
	t->s = NULL;
}

void chr_tardis_in_file(struct chr_tardis_in *t, const char *name)
{
	struct chr_tardis_state *s = t->s;

	t->name = name;
	t->line = 0;
	s->need_header = 1;
	s->scanned = 0;
	s->discard = 0;
	s->at_start = 1;
	if (s->nfiles == s->capfiles) {
		size_t cap = s->capfiles ? 2 * s->capfiles : 16;
		struct tfile *nf = realloc(s->files, cap * sizeof *nf);

		if (nf == NULL) {
			s->files_nomem = 1;	/* only the report suffers */
			return;
		}
		s->files = nf;
		s->capfiles = cap;
	}
	s->files[s->nfiles++] = (struct tfile){ t->rows, t->bad, t->presnap, t->records, t->events,
						{ { 0, 0 } }, 0 };
}

/* ---- messages ---- */

static void set_err(struct chr_tardis_in *t, uint64_t line, const char *fmt, va_list ap)
{
	int k = snprintf(t->err, sizeof t->err, "%s:%llu: ", t->name, (unsigned long long)line);

	if (k > 0 && (size_t)k < sizeof t->err)
		vsnprintf(t->err + k, sizeof t->err - (size_t)k, fmt, ap);
}

/* A bad row at the current line: 0 to skip it (skip_bad), -1 to fail. */
static int vbad(struct chr_tardis_in *t, const char *fmt, va_list ap)
{
	set_err(t, t->line, fmt, ap);
	if (!t->skip_bad) {
		t->status = CHR_EX_DATA;
		return -1;
	}
	if (++t->bad <= t->report_max && t->note) {
		char msg[sizeof t->err + 16];

		snprintf(msg, sizeof msg, "%s (skipped)", t->err);
		t->note(t->note_ctx, msg);
	}
	return 0;
}

int chr_td_bad(struct chr_tardis_in *t, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = vbad(t, fmt, ap);
	va_end(ap);
	return rc;
}


/* ---- markets ---- */

static uint64_t hash(const char *p, size_t n)
{
	uint64_t h = 1469598103934665603ULL;

	while (n--)
		h = (h ^ (unsigned char)*p++) * 1099511628211ULL;
	return h;
}

static int mk_grow(struct chr_tardis_state *s)
{
	size_t cap = s->capmk ? s->capmk * 2 : 64, i;
	struct market **t = calloc(cap, sizeof *t), **all;

	if (t == NULL)
		return -1;
	all = realloc(s->all, cap * sizeof *all);
	if (all == NULL) {
		free(t);
		return -1;
	}
	s->all = all;
	for (i = 0; i < s->nall; i++) {
		size_t h = hash(all[i]->key, all[i]->keylen) & (cap - 1);

		while (t[h] != NULL)
			h = (h + 1) & (cap - 1);
		t[h] = all[i];
	}
	free(s->mk);
	s->mk = t;
	s->capmk = cap;
	return 0;
}

int chr_td_name_ok(const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if ((unsigned char)p[i] < 0x20 || p[i] == 0x7f)
			return 0;
	return n > 0;
}

/* The market of (exchange, symbol): 1 and *mp, 0 after a bad row (the
 * message is set), -1 when out of memory. */
int chr_td_market(struct chr_tardis_in *t, const char *ex, size_t exn, const char *sy, size_t syn,
		  struct market **mp)
{
	struct chr_tardis_state *s = t->s;
	size_t kn = exn + 1 + syn, h;
	struct market *m;
	const char *venue;

	if (s->capmk > 0) {
		h = 1469598103934665603ULL;
		{
			uint64_t x = hash(ex, exn);

			x = (x ^ ',') * 1099511628211ULL;
			for (size_t i = 0; i < syn; i++)
				x = (x ^ (unsigned char)sy[i]) * 1099511628211ULL;
			h = x & (s->capmk - 1);
		}
		for (; (m = s->mk[h]) != NULL; h = (h + 1) & (s->capmk - 1))
			if (m->keylen == kn && memcmp(m->key, ex, exn) == 0 && memcmp(m->key + exn + 1, sy, syn) == 0 &&
			    m->key[exn] == ',') {
				*mp = m;
				return 1;
			}
	}
	if (!chr_td_name_ok(ex, exn))
		return chr_td_bad(t, "exchange '%s' is not a name", FLD(ex, exn)) < 0 ? -2 : 0;
	if (exn > VENUE_LEN)
		return chr_td_bad(t, "exchange '%s' is longer than %d bytes", FLD(ex, exn),
				  VENUE_LEN) < 0 ? -2 : 0;
	if (!chr_td_name_ok(sy, syn))
		return chr_td_bad(t, "symbol '%s' is not a name", FLD(sy, syn)) < 0 ? -2 : 0;
	if (syn > CHR_SYMBOL_MAX)
		return chr_td_bad(t, "symbol '%s' is longer than %d bytes", FLD(sy, syn),
				  CHR_SYMBOL_MAX) < 0 ? -2 : 0;
	if (2 * (s->nall + 1) > s->capmk && mk_grow(s) < 0)
		return -1;
	if ((m = calloc(1, sizeof *m)) == NULL || (m->key = malloc(kn + 1)) == NULL) {
		free(m);
		return -1;
	}
	memcpy(m->key, ex, exn);
	m->key[exn] = ',';
	memcpy(m->key + exn + 1, sy, syn);
	m->key[kn] = '\0';
	m->keylen = kn;
	venue = t->venue;
	if (venue != NULL) {
		snprintf(m->venue, sizeof m->venue, "%s", venue);
	} else {
		memcpy(m->venue, ex, exn);
		m->venue[exn] = '\0';
	}
	memcpy(m->symbol, sy, syn);
	m->symbol[syn] = '\0';
	chr_sym_ids(t->map, m->venue, m->symbol, &m->vid, &m->mid);
	s->all[s->nall++] = m;
	for (h = hash(m->key, kn) & (s->capmk - 1); s->mk[h] != NULL; h = (h + 1) & (s->capmk - 1))
		;
	s->mk[h] = m;
	*mp = m;
	return 1;
}
