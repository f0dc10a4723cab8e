/* tardis.c - Tardis.dev CSV: rows -> records (a hand-written parser for
 * unquoted rows, libcsv for the rest) and records -> CSV rows. The rules
 * are in docs/tardis.md. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <csv.h>
#include <jansson.h>

#include "dec.h"
#include "err.h"
#include "tardis.h"

#define LIKELY(x) __builtin_expect(!!(x), 1)
#define UNLIKELY(x) __builtin_expect(!!(x), 0)

/* timestamps are microseconds; ts = us * 1000 must fit an int64 */
#define US_MAX (INT64_MAX / 1000)
/* levels of one book record, so that len stays <= CHR_REC_MAX */
#define LVL_MAX ((CHR_REC_MAX - CHR_HDR_SIZE - sizeof(struct chr_book)) / sizeof(struct chr_level))

/* the longest venue name: a DEFINE venue field holds it and its NUL */
#define VENUE_LEN (CHR_VENUE_MAX - 1)

#define SIDE_BID 1
#define SIDE_ASK 2

/* ---- datasets and headers ---- */

static const char HDR_COMMON[] = "exchange,symbol,timestamp,local_timestamp";
static const char HDR_L2[] = "exchange,symbol,timestamp,local_timestamp,is_snapshot,side,price,amount";
static const char HDR_TRADES[] = "exchange,symbol,timestamp,local_timestamp,id,side,price,amount";
static const char HDR_QUOTES[] = "exchange,symbol,timestamp,local_timestamp,ask_amount,ask_price,bid_price,bid_amount";

int chr_tardis_type_parse(const char *name, int *n)
{
	const char *p;
	long v = 0;

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
	if (*p < '1' || *p > '9')
		return CHR_TARDIS_NONE;
	for (; *p >= '0' && *p <= '9'; p++)
		if ((v = v * 10 + (*p - '0')) > CHR_TARDIS_TOPN_MAX)
			return CHR_TARDIS_NONE;
	if (*p != '\0')
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

/* ---- rows -> records: state ---- */

/* a parsed decimal: mantissa (CHR_NULL when empty), fraction digits,
 * integer digits (leading zeros not counted), and its text for messages */
struct dv {
	int64_t v;
	int sc, dig;
	const char *t;
	size_t n;
};

struct lvl {
	int64_t p, s;
	int8_t ps, ss;
};

struct market {
	char *key;		/* "exchange,symbol" as in the rows */
	size_t keylen;
	char venue[CHR_VENUE_MAX + 1], symbol[CHR_SYMBOL_MAX + 1];
	uint16_t vid;
	uint32_t mid;
	int defined, have_snap, in_snap;
	uint64_t uid, skipped;
};

/* one parsed row */
struct row {
	struct market *m;
	int64_t ts, lts;	/* microseconds */
	int snap, side;
	struct dv px, sz;	/* L2 and trades */
	const char *id;
	size_t idn;
	struct dv q[4];		/* quotes in column order */
	struct dv *tv;		/* book_snapshot_N: 4N values in column order */
};

/* the record being built: written when the next row shows whether it
 * ends its event (LAST) */
struct cur {
	int active;
	uint16_t type;
	struct market *m;
	int64_t lts, ts;
	int snap, has_ask;
	struct lvl *b, *a;
	size_t nb, na, capb, capa;
	int pmax, smax, pdig, sdig;	/* largest scale and integer digits */
	int side;
	char id[CHR_TRADE_ID_MAX];
	struct dv q[4];
};

/* one input file, for the report: the run's counters when it began, and
 * the datasets of its headers (the first SEEN_MAX distinct ones) */
#define SEEN_MAX 8
struct tfile {
	uint64_t rows, bad, presnap, records, events;
	struct {
		int type, n;
	} seen[SEEN_MAX];
	unsigned nseen;
};

/* a 16-digit timestamp's text (two words) and value */
struct tsc {
	uint64_t a, b;
	int64_t v;
};

struct chr_tardis_state {
	struct chr_writer *w;
	int type, n, need_header;
	struct market **mk;	/* open addressing on the key */
	size_t nmk, capmk;
	struct market **all;
	size_t nall;
	char pfx[CHR_TARDIS_PAD];	/* "exchange,symbol," of the last fast row */
	size_t pfx_len;
	struct market *pfx_m;
	struct tsc ts_c, lts_c;	/* the last 16-digit timestamps seen (always digits) */
	struct cur cur;
	struct dv *tv;		/* book_snapshot_N scratch */
	/* libcsv */
	struct csv_parser csv;
	char *fb;
	size_t fbn, fbcap;
	size_t *fo, *fl, nf, capf;
	int csv_rows;
	int csv_nomem;
	uint64_t seq;
	size_t scanned;		/* bytes of the unfinished line searched for its '\n' */
	int discard;		/* dropping the rest of a line longer than LINE_MAX */
	struct tfile *files;	/* the inputs begun, for the report */
	size_t nfiles, capfiles;
	int files_nomem;
};

static int no_space(unsigned char c)
{
	(void)c;
	return 0;
}

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
	/* the timestamp caches start as a true pair, "0000000000000000" = 0,
	 * so that a match is always right (all-zero bytes would read as 0) */
	memset(&s->ts_c.a, '0', sizeof s->ts_c.a);
	memset(&s->ts_c.b, '0', sizeof s->ts_c.b);
	s->ts_c.v = 0;
	s->lts_c = s->ts_c;
	if (csv_init(&s->csv, CSV_STRICT | CSV_STRICT_FINI) != 0) {
		free(s);
		t->s = NULL;
		return -1;
	}
	csv_set_space_func(&s->csv, no_space);
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
__attribute__((format(printf, 2, 3)))
static int bad(struct chr_tardis_in *t, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	set_err(t, t->line, fmt, ap);
	va_end(ap);
	if (!t->skip_bad) {
		t->status = CHR_EX_DATA;
		return -1;
	}
	if (++t->bad <= t->report_max)
		chr_warn("%s (skipped)", t->err);
	return 0;
}

/* At most max bytes of p[0..n) for a message, into buf (4 * max + 1
 * bytes): printable ASCII as is, '\\' and every other byte (NUL, control
 * characters, non-ASCII) escaped as \\ and \xHH. Returns buf. */
static const char *esc(char *buf, const char *p, size_t n, size_t max)
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

/* A field for a message ("%s"): at most 60 bytes of it, escaped */
#define FLD_MAX 60
#define FLD(p, n) esc((char[4 * FLD_MAX + 1]){ 0 }, (p), (n), FLD_MAX)

static int wfail(struct chr_tardis_in *t)
{
	struct chr_writer *w = t->s->w;

	snprintf(t->err, sizeof t->err, "write error on '%s': %s", w->name ? w->name : "stdout",
		 strerror(w->err ? w->err : EIO));
	t->status = CHR_EX_SYS;
	return -1;
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

static int name_ok(const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if ((unsigned char)p[i] < 0x20 || p[i] == 0x7f)
			return 0;
	return n > 0;
}

/* The market of (exchange, symbol): 1 and *mp, 0 after a bad row (the
 * message is set), -1 when out of memory. */
static int market(struct chr_tardis_in *t, const char *ex, size_t exn, const char *sy, size_t syn,
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
	if (!name_ok(ex, exn))
		return bad(t, "exchange '%s' is not a name", FLD(ex, exn)) < 0 ? -2 : 0;
	if (exn > VENUE_LEN)
		return bad(t, "exchange '%s' is longer than %d bytes", FLD(ex, exn), VENUE_LEN) < 0 ? -2 : 0;
	if (!name_ok(sy, syn))
		return bad(t, "symbol '%s' is not a name", FLD(sy, syn)) < 0 ? -2 : 0;
	if (syn > CHR_SYMBOL_MAX)
		return bad(t, "symbol '%s' is longer than %d bytes", FLD(sy, syn), CHR_SYMBOL_MAX) < 0 ? -2 : 0;
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

/* ---- records out ---- */

static struct chr_rec *reserve(struct chr_tardis_in *t, uint32_t len, uint16_t type, const struct cur *c)
{
	struct chr_tardis_state *s = t->s;
	struct chr_rec *r = chr_writer_reserve(s->w, len);

	if (r == NULL)
		return NULL;
	r->type = type;
	r->seq = r->src_seq = s->seq;
	r->ts = c->lts * 1000;
	r->ts_event = c->ts * 1000;
	r->market = c->m->mid;
	r->venue = c->m->vid;
	return r;
}

static void commit(struct chr_tardis_in *t, struct chr_rec *r)
{
	chr_writer_commit(t->s->w, r);
	t->s->seq++;
	t->records++;
}

static int define(struct chr_tardis_in *t, struct cur *c)
{
	struct chr_rec *r = reserve(t, CHR_HDR_SIZE + sizeof(struct chr_define), CHR_DEFINE, c);
	struct chr_define *d;

	if (r == NULL)
		return wfail(t);
	d = chr_rec_payload(r);
	memcpy(d->venue, c->m->venue, strlen(c->m->venue));
	memcpy(d->symbol, c->m->symbol, strlen(c->m->symbol));
	commit(t, r);
	c->m->defined = 1;
	return 0;
}

static inline int64_t up(int64_t v, int from, int to)
{
	return v == CHR_NULL ? CHR_NULL : v * chr_pow10[to - from];
}

static void put_levels(struct chr_level *out, const struct lvl *in, size_t n, int pmax, int smax)
{
	size_t i;

	for (i = 0; i < n; i++) {
		out[i].price = up(in[i].p, in[i].ps, pmax);
		out[i].size = up(in[i].s, in[i].ss, smax);
	}
}

/* Write the record in progress; last: it ends its event. */
static int emit(struct chr_tardis_in *t, int last)
{
	struct cur *c = &t->s->cur;
	struct chr_rec *r;

	if (!c->active)
		return 0;
	c->active = 0;
	if (!c->m->defined && define(t, c) < 0)
		return -1;
	if (c->type == CHR_TRADE) {
		struct chr_trade *tr;

		if ((r = reserve(t, CHR_HDR_SIZE + sizeof *tr, CHR_TRADE, c)) == NULL)
			return wfail(t);
		tr = chr_rec_payload(r);
		tr->price = c->b[0].p;
		tr->size = c->b[0].s;
		tr->price_scale = c->b[0].ps;
		tr->size_scale = c->b[0].ss;
		tr->side = (uint8_t)c->side;
		memcpy(tr->id, c->id, sizeof tr->id);
	} else if (c->type == CHR_QUOTE) {
		struct chr_quote *q;

		if ((r = reserve(t, CHR_HDR_SIZE + sizeof *q, CHR_QUOTE, c)) == NULL)
			return wfail(t);
		q = chr_rec_payload(r);
		q->ask_sz = up(c->q[0].v, c->q[0].sc, c->smax);
		q->ask_px = up(c->q[1].v, c->q[1].sc, c->pmax);
		q->bid_px = up(c->q[2].v, c->q[2].sc, c->pmax);
		q->bid_sz = up(c->q[3].v, c->q[3].sc, c->smax);
		q->price_scale = (int8_t)c->pmax;
		q->size_scale = (int8_t)c->smax;
	} else {
		size_t nl = c->nb + c->na;
		struct chr_book *b;

		r = reserve(t, (uint32_t)(CHR_HDR_SIZE + sizeof *b + nl * sizeof(struct chr_level)), c->type, c);
		if (r == NULL)
			return wfail(t);
		b = chr_rec_payload(r);
		if (c->type != CHR_BOOK_TOPN) {
			b->update_id_first = b->update_id_last = ++c->m->uid;
			b->update_id_prev = c->m->uid - 1;
		}
		b->n_bid = (uint32_t)c->nb;
		b->n_ask = (uint32_t)c->na;
		b->price_scale = (int8_t)c->pmax;
		b->size_scale = (int8_t)c->smax;
		put_levels(b->levels, c->b, c->nb, c->pmax, c->smax);
		put_levels(b->levels + c->nb, c->a, c->na, c->pmax, c->smax);
	}
	if (last) {
		r->flags |= CHR_F_LAST;
		t->events++;
	}
	commit(t, r);
	return 0;
}

static void start(struct cur *c, const struct row *r, uint16_t type)
{
	c->active = 1;
	c->type = type;
	c->m = r->m;
	c->lts = r->lts;
	c->ts = r->ts;
	c->snap = r->snap;
	c->has_ask = 0;
	c->nb = c->na = 0;
	c->pmax = c->smax = c->pdig = c->sdig = 0;
}

static int grow(struct lvl **v, size_t *cap, size_t need)
{
	size_t nc = *cap ? *cap * 2 : 1024;
	struct lvl *nv;

	while (nc < need)
		nc *= 2;
	if ((nv = realloc(*v, nc * sizeof *nv)) == NULL)
		return -1;
	*v = nv;
	*cap = nc;
	return 0;
}

static inline int max(int a, int b)
{
	return a > b ? a : b;
}

/* does value d fit a record whose largest scale and integer digits are
 * sc and dig? (every value then rescales without overflow) */
static inline int fits(const struct dv *d, int sc, int dig)
{
	return d->v == CHR_NULL || max(d->sc, sc) + max(d->dig, dig) <= CHR_DEC_MAX_SCALE;
}

static inline void track(const struct dv *d, int *sc, int *dig)
{
	if (d->v != CHR_NULL) {
		*sc = max(*sc, d->sc);
		*dig = max(*dig, d->dig);
	}
}

static int oom(struct chr_tardis_in *t)
{
	snprintf(t->err, sizeof t->err, "%s:%llu: out of memory", t->name, (unsigned long long)t->line);
	t->status = CHR_EX_SYS;
	return -1;
}

/* ---- rows -> records: the dataset rules ---- */

static inline int l2_row(struct chr_tardis_in *t, const struct row *r)
{
	struct chr_tardis_state *s = t->s;
	struct cur *c = &s->cur;
	struct market *m = r->m;
	int same, cont;
	uint16_t type = CHR_BOOK_DIFF;
	struct lvl *l;

	if (UNLIKELY(!m->have_snap) && !r->snap) {
		m->skipped++;
		t->presnap++;
		return 0;
	}
	same = c->active && c->m == m && c->lts == r->lts;
	if (r->snap) {
		if (!m->in_snap)
			type = CHR_BOOK_SNAPSHOT;
		cont = m->in_snap && same && c->snap && c->ts == r->ts;
	} else {
		cont = same && !c->snap && c->ts == r->ts && !(r->side == SIDE_BID && c->has_ask);
	}
	if (UNLIKELY(cont && c->nb + c->na >= LVL_MAX))
		cont = 0;
	if (cont) {
		if (UNLIKELY(!fits(&r->px, c->pmax, c->pdig)))
			return bad(t, "price '%s' does not fit the scale of its record", FLD(r->px.t, r->px.n));
		if (UNLIKELY(!fits(&r->sz, c->smax, c->sdig)))
			return bad(t, "amount '%s' does not fit the scale of its record", FLD(r->sz.t, r->sz.n));
	} else {
		if (c->active && emit(t, !same) < 0)
			return -1;
		start(c, r, type);
	}
	if (r->side == SIDE_BID) {
		if (UNLIKELY(c->nb == c->capb) && grow(&c->b, &c->capb, c->nb + 1) < 0)
			return oom(t);
		l = &c->b[c->nb++];
	} else {
		if (UNLIKELY(c->na == c->capa) && grow(&c->a, &c->capa, c->na + 1) < 0)
			return oom(t);
		l = &c->a[c->na++];
		c->has_ask = 1;
	}
	l->p = r->px.v;
	l->ps = (int8_t)r->px.sc;
	l->s = r->sz.v;
	l->ss = (int8_t)r->sz.sc;
	track(&r->px, &c->pmax, &c->pdig);
	track(&r->sz, &c->smax, &c->sdig);
	m->have_snap = 1;
	m->in_snap = r->snap;
	return 0;
}

/* one row, one record: trades, quotes, book_snapshot_N */
static int one_row(struct chr_tardis_in *t, const struct row *r)
{
	struct chr_tardis_state *s = t->s;
	struct cur *c = &s->cur;
	int same = c->active && c->m == r->m && c->lts == r->lts;
	int ps = 0, pd = 0, ss = 0, sd = 0, i;

	switch (s->type) {
	case CHR_TARDIS_TRADES:
		if (c->active && emit(t, !same) < 0)
			return -1;
		start(c, r, CHR_TRADE);
		if (c->capb == 0 && grow(&c->b, &c->capb, 1) < 0)
			return oom(t);
		c->b[0].p = r->px.v;
		c->b[0].ps = (int8_t)r->px.sc;
		c->b[0].s = r->sz.v;
		c->b[0].ss = (int8_t)r->sz.sc;
		c->side = r->side;
		memset(c->id, 0, sizeof c->id);
		memcpy(c->id, r->id, r->idn);
		return 0;
	case CHR_TARDIS_QUOTES:
		for (i = 0; i < 4; i++) {
			int isp = i == 1 || i == 2;

			if (!fits(&r->q[i], isp ? ps : ss, isp ? pd : sd))
				return bad(t, "%s '%s' does not fit the scale of its record",
					   i == 0 ? "ask_amount" : i == 1 ? "ask_price" : i == 2 ? "bid_price" : "bid_amount",
					   FLD(r->q[i].t, r->q[i].n));
			if (isp)
				track(&r->q[i], &ps, &pd);
			else
				track(&r->q[i], &ss, &sd);
		}
		if (c->active && emit(t, !same) < 0)
			return -1;
		start(c, r, CHR_QUOTE);
		memcpy(c->q, r->q, sizeof c->q);
		c->pmax = ps;
		c->smax = ss;
		return 0;
	default:		/* book_snapshot_N */
		for (i = 0; i < 4 * s->n; i++) {
			int isp = (i & 1) == 0;

			if (!fits(&r->tv[i], isp ? ps : ss, isp ? pd : sd))
				return bad(t, "%s[%d].%s '%s' does not fit the scale of its record",
					   (i & 2) ? "bids" : "asks", i / 4, isp ? "price" : "amount",
					   FLD(r->tv[i].t, r->tv[i].n));
			if (isp)
				track(&r->tv[i], &ps, &pd);
			else
				track(&r->tv[i], &ss, &sd);
		}
		if (c->active && emit(t, !same) < 0)
			return -1;
		start(c, r, CHR_BOOK_TOPN);
		if ((c->capb < (size_t)s->n && grow(&c->b, &c->capb, (size_t)s->n) < 0) ||
		    (c->capa < (size_t)s->n && grow(&c->a, &c->capa, (size_t)s->n) < 0))
			return oom(t);
		for (i = 0; i < s->n; i++) {
			const struct dv *v = r->tv + 4 * i;

			c->a[i] = (struct lvl){ v[0].v, v[1].v, (int8_t)v[0].sc, (int8_t)v[1].sc };
			c->b[i] = (struct lvl){ v[2].v, v[3].v, (int8_t)v[2].sc, (int8_t)v[3].sc };
		}
		c->na = c->nb = (size_t)s->n;
		c->pmax = ps;
		c->smax = ss;
		return 0;
	}
}

static int set_dataset(struct chr_tardis_in *t, int type, int n)
{
	struct chr_tardis_state *s = t->s;

	if (type == CHR_TARDIS_TOPN && n != s->n) {
		struct dv *v = realloc(s->tv, 4 * (size_t)n * sizeof *v);

		if (v == NULL)
			return oom(t);
		s->tv = v;
	}
	s->type = type;
	s->n = n;
	if (s->nfiles > 0) {
		struct tfile *f = &s->files[s->nfiles - 1];
		unsigned i;

		for (i = 0; i < f->nseen && (f->seen[i].type != type || f->seen[i].n != n); i++)
			;
		if (i == f->nseen && i < SEEN_MAX) {
			f->seen[i].type = type;
			f->seen[i].n = n;
			f->nseen++;
		}
	}
	return 0;
}

/* ---- the fast path: unquoted rows, parsed in place ---- */

/* Each returns the position after the field's text, or NULL when the row
 * is not one the fast path takes (the general path then decides). */

static inline const char *f_ts(const char *p, int64_t *v)
{
	const char *s = p;
	uint64_t x = 0;

	while ((unsigned)(*p - '0') < 10)
		x = x * 10 + (uint64_t)(*p++ - '0');
	if (UNLIKELY(p == s || p - s > 16 || x > (uint64_t)US_MAX))
		return NULL;
	*v = (int64_t)x;
	return p;
}

static inline const char *f_dec(const char *p, struct dv *d)
{
	const char *s = p, *i0, *z;
	uint64_t x = 0;
	int neg = 0, ni, nz, nf = 0;

	d->t = p;
	if (*p == '-') {
		neg = 1;
		p++;
	}
	i0 = p;
	while (*p == '0')
		p++;
	z = p;			/* leading zeros are not digits of the value */
	while ((unsigned)(*p - '0') < 10)
		x = x * 10 + (uint64_t)(*p++ - '0');
	ni = (int)(p - i0);
	nz = (int)(p - z);
	if (*p == '.') {
		const char *f0 = ++p;

		while ((unsigned)(*p - '0') < 10)
			x = x * 10 + (uint64_t)(*p++ - '0');
		nf = (int)(p - f0);
		if (UNLIKELY(nf == 0))
			return NULL;
	}
	if (UNLIKELY(ni == 0 || nz + nf > CHR_DEC_MAX_SCALE))
		return NULL;
	d->v = neg ? -(int64_t)x : (int64_t)x;
	d->sc = nf;
	d->dig = nz;
	d->n = (size_t)(p - s);
	return p;
}

static inline uint64_t load8(const char *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return v;
}

/* are the 8 bytes of v all ASCII digits? */
static inline int digits8(uint64_t v)
{
	return ((v & 0xF0F0F0F0F0F0F0F0ULL) |
		(((v + 0x0606060606060606ULL) & 0xF0F0F0F0F0F0F0F0ULL) >> 4)) == 0x3333333333333333ULL;
}

/* the value of 8 ASCII digits, the first one most significant */
static inline uint64_t value8(uint64_t v)
{
	const uint64_t mask = 0x000000FF000000FFULL;
	const uint64_t mul1 = 0x000F424000000064ULL;	/* 100 + (1000000 << 32) */
	const uint64_t mul2 = 0x0000271000000001ULL;	/* 1 + (10000 << 32) */

	v -= 0x3030303030303030ULL;
	v = v * 10 + (v >> 8);
	return (((v & mask) * mul1) + (((v >> 16) & mask) * mul2)) >> 32;
}

/* A timestamp field ended by ','. Tardis timestamps are 16 digits and
 * repeat from row to row: compare the text with the last one, else parse
 * 8 digits at a time. */
static inline const char *f_ts16(const char *p, int64_t *v, struct tsc *c)
{
	uint64_t a = load8(p), b = load8(p + 8);

	if (LIKELY(a == c->a && b == c->b && p[16] == ',')) {
		*v = c->v;
		return p + 16;
	}
	if (digits8(a) && digits8(b) && p[16] == ',') {
		uint64_t x = value8(a) * 100000000ULL + value8(b);

		if (x > (uint64_t)US_MAX)
			return NULL;
		c->a = a;
		c->b = b;
		c->v = *v = (int64_t)x;
		return p + 16;
	}
	return f_ts(p, v);
}

/* a decimal that may be empty (CHR_NULL) */
static inline const char *f_dec0(const char *p, struct dv *d)
{
	if (*p == ',' || *p == '\n' || *p == '\r') {
		d->v = CHR_NULL;
		d->sc = d->dig = 0;
		d->t = p;
		d->n = 0;
		return p;
	}
	return f_dec(p, d);
}

/* the row's line end: the position after it, or NULL */
static inline const char *f_eol(const char *p)
{
	if (LIKELY(*p == '\n'))
		return p + 1;
	if (*p == '\r' && p[1] == '\n')
		return p + 2;
	return NULL;
}

/* exchange and symbol: the cached prefix, else scanned and looked up */
static inline const char *f_prefix(struct chr_tardis_in *t, const char *p, struct row *r)
{
	struct chr_tardis_state *s = t->s;
	const char *ex = p, *sy;
	size_t n;

	if (LIKELY(s->pfx_len > 0)) {
		size_t i = 0, k = s->pfx_len;

		/* word by word: the buffer's padding covers the overread */
		for (; i + 8 <= k; i += 8)
			if (load8(p + i) != load8(s->pfx + i))
				goto scan;
		if (i == k || ((load8(p + i) ^ load8(s->pfx + i)) & ((1ULL << (8 * (k - i))) - 1)) == 0) {
			r->m = s->pfx_m;
			return p + k;
		}
	}
scan:
	while (*p != ',' && *p != '\n' && *p != '"' && *p != '\r')
		p++;
	if (*p != ',')
		return NULL;
	sy = ++p;
	while (*p != ',' && *p != '\n' && *p != '"' && *p != '\r')
		p++;
	if (*p != ',')
		return NULL;
	n = (size_t)(p + 1 - ex);
	/* a header line in the stream, and names the general path reports */
	if (n > sizeof s->pfx - 16 || (p - sy == 6 && memcmp(ex, "exchange,symbol,", 16) == 0) ||
	    !name_ok(ex, (size_t)(sy - 1 - ex)) || !name_ok(sy, (size_t)(p - sy)) ||
	    (size_t)(sy - 1 - ex) > VENUE_LEN || (size_t)(p - sy) > CHR_SYMBOL_MAX)
		return NULL;
	if (market(t, ex, (size_t)(sy - 1 - ex), sy, (size_t)(p - sy), &r->m) != 1)
		return NULL;	/* out of memory: the general path says so */
	memcpy(s->pfx, ex, n);
	s->pfx_len = n;
	s->pfx_m = r->m;
	return p + 1;
}

static inline const char *f_common(struct chr_tardis_in *t, const char *p, struct row *r)
{
	if ((p = f_prefix(t, p, r)) == NULL)
		return NULL;
	if ((p = f_ts16(p, &r->ts, &t->s->ts_c)) == NULL || *p != ',')
		return NULL;
	if ((p = f_ts16(p + 1, &r->lts, &t->s->lts_c)) == NULL || *p != ',')
		return NULL;
	return p + 1;
}

static inline const char *f_l2(struct chr_tardis_in *t, const char *p, struct row *r)
{
	if ((p = f_common(t, p, r)) == NULL)
		return NULL;
	if (memcmp(p, "false,", 6) == 0) {
		r->snap = 0;
		p += 6;
	} else if (memcmp(p, "true,", 5) == 0) {
		r->snap = 1;
		p += 5;
	} else {
		return NULL;
	}
	if (p[0] == 'b' && p[1] == 'i' && p[2] == 'd' && p[3] == ',')
		r->side = SIDE_BID;
	else if (p[0] == 'a' && p[1] == 's' && p[2] == 'k' && p[3] == ',')
		r->side = SIDE_ASK;
	else
		return NULL;
	if ((p = f_dec(p + 4, &r->px)) == NULL || *p != ',')
		return NULL;
	if ((p = f_dec(p + 1, &r->sz)) == NULL)
		return NULL;
	return f_eol(p);
}

static const char *f_trade(struct chr_tardis_in *t, const char *p, struct row *r)
{
	if ((p = f_common(t, p, r)) == NULL)
		return NULL;
	r->id = p;
	while (*p != ',' && *p != '\n' && *p != '"' && *p != '\r')
		p++;
	r->idn = (size_t)(p - r->id);
	if (*p != ',' || r->idn > CHR_TRADE_ID_MAX || memchr(r->id, '\0', r->idn) != NULL)
		return NULL;
	p++;
	if (memcmp(p, "buy,", 4) == 0) {
		r->side = CHR_SIDE_BUY;
		p += 4;
	} else if (memcmp(p, "sell,", 5) == 0) {
		r->side = CHR_SIDE_SELL;
		p += 5;
	} else if (memcmp(p, "unknown,", 8) == 0) {
		r->side = CHR_SIDE_UNKNOWN;
		p += 8;
	} else {
		return NULL;
	}
	if ((p = f_dec(p, &r->px)) == NULL || *p != ',')
		return NULL;
	if ((p = f_dec(p + 1, &r->sz)) == NULL)
		return NULL;
	return f_eol(p);
}

static const char *f_quote(struct chr_tardis_in *t, const char *p, struct row *r)
{
	int i;

	if ((p = f_common(t, p, r)) == NULL)
		return NULL;
	for (i = 0; i < 4; i++) {
		if (i > 0) {
			if (*p != ',')
				return NULL;
			p++;
		}
		if ((p = f_dec0(p, &r->q[i])) == NULL)
			return NULL;
	}
	return f_eol(p);
}

static const char *f_topn(struct chr_tardis_in *t, const char *p, struct row *r)
{
	int i, n = 4 * t->s->n;

	if ((p = f_common(t, p, r)) == NULL)
		return NULL;
	r->tv = t->s->tv;
	for (i = 0; i < n; i++) {
		if (i > 0) {
			if (*p != ',')
				return NULL;
			p++;
		}
		if ((p = f_dec0(p, &r->tv[i])) == NULL)
			return NULL;
	}
	return f_eol(p);
}

/* ---- the general path: libcsv, with a message for every bad field ---- */

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
			return bad(t, "%s '%s' is out of range", what, FLD(p, n)) < 0 ? -1 : 1;
	}
	if (n == 0 || i < n)
		return bad(t, "%s '%s' is not an integer", what, FLD(p, n)) < 0 ? -1 : 1;
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
			return bad(t, "%s is empty", name) < 0 ? -1 : 1;
		d->v = CHR_NULL;
		d->sc = d->dig = 0;
		return 0;
	}
	rc = chr_dec_parse(p, n, &v, &sc);
	if (rc == -1)
		return bad(t, "%s '%s' is not a decimal", name, FLD(p, n)) < 0 ? -1 : 1;
	if (p[0] == '-')
		i = 1;
	while (i < n && p[i] == '0')
		i++;		/* leading zeros are not digits of the value */
	for (; i < n && p[i] != '.'; i++)
		ni++;
	if (rc == -2 || (int)ni + sc > CHR_DEC_MAX_SCALE)
		return bad(t, "%s '%s' is out of range", name, FLD(p, n)) < 0 ? -1 : 1;
	d->v = v;
	d->sc = sc;
	d->dig = (int)ni;
	return 0;
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
	int rc, i;

	if ((int)s->nf != expect_cols(s))
		return bad(t, "row has %zu columns, expected %d", s->nf, expect_cols(s));
	rc = market(t, F(0), FL(0), F(1), FL(1), &r.m);
	if (rc == -1)
		return oom(t);
	if (rc != 1)
		return rc == 0 ? 0 : -1;
	if ((rc = g_ts(t, "timestamp", F(2), FL(2), &r.ts)) != 0 ||
	    (rc = g_ts(t, "local_timestamp", F(3), FL(3), &r.lts)) != 0)
		return rc > 0 ? 0 : -1;
	switch (s->type) {
	case CHR_TARDIS_L2:
		if (FL(4) == 4 && memcmp(F(4), "true", 4) == 0)
			r.snap = 1;
		else if (FL(4) == 5 && memcmp(F(4), "false", 5) == 0)
			r.snap = 0;
		else
			return bad(t, "is_snapshot '%s' is not true or false", FLD(F(4), FL(4)));
		if (FL(5) == 3 && memcmp(F(5), "bid", 3) == 0)
			r.side = SIDE_BID;
		else if (FL(5) == 3 && memcmp(F(5), "ask", 3) == 0)
			r.side = SIDE_ASK;
		else
			return bad(t, "side '%s' is not bid or ask", FLD(F(5), FL(5)));
		if ((rc = g_dec(t, "price", -1, F(6), FL(6), &r.px, 0)) != 0 ||
		    (rc = g_dec(t, "amount", -1, F(7), FL(7), &r.sz, 0)) != 0)
			return rc > 0 ? 0 : -1;
		return l2_row(t, &r);
	case CHR_TARDIS_TRADES:
		if (FL(4) > CHR_TRADE_ID_MAX)
			return bad(t, "trade id '%s' is longer than %d bytes", FLD(F(4), FL(4)), CHR_TRADE_ID_MAX);
		if (memchr(F(4), '\0', FL(4)) != NULL)
			return bad(t, "trade id holds a NUL byte");
		r.id = F(4);
		r.idn = FL(4);
		if (FL(5) == 3 && memcmp(F(5), "buy", 3) == 0)
			r.side = CHR_SIDE_BUY;
		else if (FL(5) == 4 && memcmp(F(5), "sell", 4) == 0)
			r.side = CHR_SIDE_SELL;
		else if (FL(5) == 7 && memcmp(F(5), "unknown", 7) == 0)
			r.side = CHR_SIDE_UNKNOWN;
		else
			return bad(t, "side '%s' is not buy, sell or unknown", FLD(F(5), FL(5)));
		if ((rc = g_dec(t, "price", -1, F(6), FL(6), &r.px, 0)) != 0 ||
		    (rc = g_dec(t, "amount", -1, F(7), FL(7), &r.sz, 0)) != 0)
			return rc > 0 ? 0 : -1;
		return one_row(t, &r);
	case CHR_TARDIS_QUOTES: {
		static const char *const qn[4] = { "ask_amount", "ask_price", "bid_price", "bid_amount" };

		for (i = 0; i < 4; i++)
			if ((rc = g_dec(t, qn[i], -1, F(4 + i), FL(4 + i), &r.q[i], 1)) != 0)
				return rc > 0 ? 0 : -1;
		return one_row(t, &r);
	}
	default:
		r.tv = s->tv;
		for (i = 0; i < 4 * s->n; i++)
			if ((rc = g_dec(t, NULL, i, F(4 + i), FL(4 + i), &r.tv[i], 1)) != 0)
				return rc > 0 ? 0 : -1;
		return one_row(t, &r);
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
			 (unsigned long long)t->line, esc(e, p, n, 100), n > 100 ? "..." : "");
		t->status = CHR_EX_DATA;
		return -1;
	}
	/* the record in progress ends with its dataset */
	if (emit(t, 1) < 0)
		return -1;
	s->need_header = 0;
	return set_dataset(t, type, hn);
}

/* A line longer than CHR_TARDIS_LINE_MAX at p[0..n) (n: the part at hand),
 * counted as the next line: a bad row, or the header of the file (with
 * --type; else an unknown header). 1 taken, -1 on failure. */
static int too_long(struct chr_tardis_in *t, const char *p, size_t n)
{
	t->line++;
	if (t->s->need_header)
		return header(t, p, n, 1) < 0 ? -1 : 1;
	t->rows++;
	return bad(t, "line longer than %u bytes", CHR_TARDIS_LINE_MAX) < 0 ? -1 : 1;
}

/* The general path for the complete line at *pp (its '\n' is before end,
 * or it is the last line and ends at the sentinel end): 1 used (and *pp
 * moved), -1 on failure. A row is one line: a quoted field cannot hold a
 * line end (Tardis never writes one), so a quote left open spoils one row,
 * not the rest of the file. */
static int general(struct chr_tardis_in *t, char **pp, char *end)
{
	struct chr_tardis_state *s = t->s;
	char *ls = *pp, *nl;
	int rc;
	size_t tn;

	nl = memchr(ls, '\n', (size_t)(end + 1 - ls));
	*pp = nl + 1;
	tn = (size_t)(nl - ls);
	if (tn > CHR_TARDIS_LINE_MAX)
		return too_long(t, ls, tn);
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
		return bad(t, "empty line") < 0 ? -1 : 1;
	/* libcsv would end a row at a lone CR (or keep it in a quoted field) */
	if (memchr(ls, '\r', tn) != NULL)
		return bad(t, "stray carriage return in the row") < 0 ? -1 : 1;
	s->nf = s->fbn = 0;
	s->csv_rows = 0;
	s->csv_nomem = 0;
	if (csv_parse(&s->csv, ls, tn, cb_field, cb_row, s) != tn ||
	    csv_fini(&s->csv, cb_field, cb_row, s) != 0) {
		int e = csv_error(&s->csv);

		csv_free(&s->csv);
		csv_init(&s->csv, CSV_STRICT | CSV_STRICT_FINI);
		csv_set_space_func(&s->csv, no_space);
		rc = e == CSV_EPARSE ? bad(t, "malformed quotes") : oom(t);
	} else if (s->csv_nomem) {
		rc = oom(t);
	} else {
		rc = g_row(t);
	}
	return rc < 0 ? -1 : 1;
}

long chr_tardis_in_parse(struct chr_tardis_in *t, char *buf, size_t n, int final)
{
	struct chr_tardis_state *s = t->s;
	char *p = buf, *end = buf + n, *lim, *from;
	const char *q;
	struct row r;
	int rc;

	/* a sentinel line end and readable scratch after the data */
	memset(end, 0, CHR_TARDIS_PAD);
	*end = '\n';
	if (UNLIKELY(s->discard)) {
		/* the rest of a line too long to keep: up to its '\n' */
		if ((p = memchr(buf, '\n', n)) == NULL) {
			s->discard = !final;
			return (long)n;
		}
		p++;
		s->discard = 0;
		s->scanned = 0;
	}
	/* [p, lim) are complete lines; a line from lim on has no '\n' yet (its
	 * first s->scanned bytes were searched by the call before) */
	if (final) {
		lim = end;
	} else {
		from = p == buf && s->scanned <= n ? buf + s->scanned : p;
		lim = memrchr(from, '\n', (size_t)(end - from));
		lim = lim != NULL ? lim + 1 : p;
	}
	s->scanned = 0;
	while (p < lim) {
		if (LIKELY(t->fast) && LIKELY(!s->need_header)) {
			switch (s->type) {
			case CHR_TARDIS_L2: q = f_l2(t, p, &r); break;
			case CHR_TARDIS_TRADES: q = f_trade(t, p, &r); break;
			case CHR_TARDIS_QUOTES: q = f_quote(t, p, &r); break;
			default: q = f_topn(t, p, &r); break;
			}
			/* q <= lim (or end + 1 for a last line without '\n') */
			if (LIKELY(q != NULL) && LIKELY((size_t)(q - p) <= CHR_TARDIS_LINE_MAX + 1)) {
				t->line++;
				t->rows++;
				rc = s->type == CHR_TARDIS_L2 ? l2_row(t, &r) : one_row(t, &r);
				if (UNLIKELY(rc < 0))
					return -1;
				p = (char *)q;
				continue;
			}
		}
		if (general(t, &p, end) < 0)
			return -1;
	}
	if (p >= end)
		return (long)n;
	/* the unfinished line: kept for the next call, or too long to keep */
	if ((size_t)(end - p) > CHR_TARDIS_LINE_MAX) {
		if (too_long(t, p, (size_t)(end - p)) < 0)
			return -1;
		s->discard = 1;
		return (long)n;
	}
	s->scanned = (size_t)(end - p);
	return (long)(p - buf);
}

int chr_tardis_in_end(struct chr_tardis_in *t)
{
	struct chr_tardis_state *s = t->s;
	size_t i;

	if (emit(t, 1) < 0)
		return -1;
	for (i = 0; i < s->nall; i++) {
		struct market *m = s->all[i];

		if (m->skipped > 0)
			chr_warn("%s: skipped %llu rows of %s %s before its first snapshot", t->name,
				 (unsigned long long)m->skipped, m->venue, m->symbol);
		m->skipped = 0;
	}
	return 0;
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

/* ---- records -> CSV ---- */

void chr_tardis_out_init(struct chr_tardis_out *o)
{
	memset(o, 0, sizeof *o);
}

void chr_tardis_out_free(struct chr_tardis_out *o)
{
	chr_names_free(&o->names);
	free(o->line);
	memset(o, 0, sizeof *o);
}

/* room for k more bytes in the row buffer at *n */
static int room(struct chr_tardis_out *o, size_t n, size_t k)
{
	if (n + k > o->cap) {
		size_t nc = o->cap ? o->cap : 4096;
		char *v;

		while (nc < n + k)
			nc *= 2;
		if ((v = realloc(o->line, nc)) == NULL)
			return -1;
		o->line = v;
		o->cap = nc;
	}
	return 0;
}

/* a text field s[0..n) (not NUL-terminated), quoted when it holds a
 * comma, quote or line end */
static size_t put_text(char *b, const char *s, size_t n)
{
	size_t k = 0, i;

	for (i = 0; i < n && s[i] != ',' && s[i] != '"' && s[i] != '\r' && s[i] != '\n'; i++)
		;
	if (i == n) {
		memcpy(b, s, n);
		return n;
	}
	b[k++] = '"';
	for (i = 0; i < n; i++) {
		if (s[i] == '"')
			b[k++] = '"';
		b[k++] = s[i];
	}
	b[k++] = '"';
	return k;
}

static size_t put_u(char *b, uint64_t v)
{
	char tmp[24];
	size_t n = 0, k;

	do
		tmp[n++] = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	for (k = 0; k < n; k++)
		b[k] = tmp[n - 1 - k];
	return n;
}

static size_t put_dec(char *b, int64_t v, int sc)
{
	return v == CHR_NULL ? 0 : chr_dec_format(b, v, sc);
}

/* a name chr-csv2ev reads back: not empty, no control characters */
static int csv_name(const char *s)
{
	for (const char *p = s; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return 0;
	return *s != '\0';
}

/* "exchange,symbol,timestamp,local_timestamp," of r into b */
static size_t put_common(const struct chr_tardis_out *o, char *b, const struct chr_rec *r)
{
	const struct chr_name_ent *nm = chr_names_get(&o->names, r->venue, r->market);
	size_t k;

	if (nm != NULL && csv_name(nm->venue) && csv_name(nm->symbol)) {
		k = put_text(b, nm->venue, strlen(nm->venue));
		b[k++] = ',';
		k += put_text(b + k, nm->symbol, strlen(nm->symbol));
	} else {
		k = put_u(b, r->venue);
		b[k++] = ',';
		k += put_u(b + k, r->market);
	}
	b[k++] = ',';
	k += put_u(b + k, (uint64_t)(r->ts_event < 0 ? 0 : r->ts_event / 1000));
	b[k++] = ',';
	k += put_u(b + k, (uint64_t)(r->ts < 0 ? 0 : r->ts / 1000));
	b[k++] = ',';
	return k;
}

/* the longest common part and the longest fields, for room() */
#define COMMON_MAX (2 * (2 * CHR_SYMBOL_MAX + 2) + 2 * 24 + 4)
#define DEC_MAX CHR_DEC_BUF

static int out_header(struct chr_tardis_out *o, int dataset, int n, FILE *f)
{
	char *h;
	int rc;

	if (o->dataset == dataset && o->n == n)
		return 0;
	if ((h = chr_tardis_header_line(dataset, n)) == NULL)
		return -1;
	rc = fputs(h, f) == EOF ? -1 : 0;
	free(h);
	if (rc == 0) {
		o->dataset = dataset;
		o->n = n;
	}
	return rc;
}

int chr_tardis_write(struct chr_tardis_out *o, const struct chr_rec *r, FILE *f)
{
	size_t k, c, i;
	int rows = 0;

	switch (r->type) {
	case CHR_DEFINE:
		return chr_names_learn(&o->names, r) < 0 ? -1 : 0;
	case CHR_BOOK_SNAPSHOT:
	case CHR_BOOK_DIFF: {
		const struct chr_book *b = chr_rec_payload(r);
		const char *snap = r->type == CHR_BOOK_SNAPSHOT ? "true," : "false,";

		/* an empty snapshot (the book cleared) has no rows to say it */
		if (b->n_bid + b->n_ask == 0)
			return r->type == CHR_BOOK_SNAPSHOT ? CHR_TARDIS_SKIPPED : 0;
		if (out_header(o, CHR_TARDIS_L2, 0, f) < 0 || room(o, 0, COMMON_MAX + 16 + 2 * DEC_MAX) < 0)
			return -1;
		c = put_common(o, o->line, r);
		for (i = 0; i < (size_t)b->n_bid + b->n_ask; i++) {
			k = c;
			memcpy(o->line + k, snap, strlen(snap));
			k += strlen(snap);
			memcpy(o->line + k, i < b->n_bid ? "bid," : "ask,", 4);
			k += 4;
			k += put_dec(o->line + k, b->levels[i].price, b->price_scale);
			o->line[k++] = ',';
			k += put_dec(o->line + k, b->levels[i].size, b->size_scale);
			o->line[k++] = '\n';
			if (fwrite(o->line, 1, k, f) != k)
				return -1;
			rows++;
		}
		return rows;
	}
	case CHR_TRADE: {
		const struct chr_trade *tr = chr_rec_payload(r);
		static const char *const sides[] = { "unknown", "buy", "sell" };

		if (out_header(o, CHR_TARDIS_TRADES, 0, f) < 0 ||
		    room(o, 0, COMMON_MAX + 2 * CHR_TRADE_ID_MAX + 2 + 16 + 2 * DEC_MAX) < 0)
			return -1;
		k = put_common(o, o->line, r);
		k += put_text(o->line + k, tr->id, strnlen(tr->id, CHR_TRADE_ID_MAX));
		o->line[k++] = ',';
		k += (size_t)sprintf(o->line + k, "%s,", tr->side <= 2 ? sides[tr->side] : "unknown");
		k += put_dec(o->line + k, tr->price, tr->price_scale);
		o->line[k++] = ',';
		k += put_dec(o->line + k, tr->size, tr->size_scale);
		o->line[k++] = '\n';
		return fwrite(o->line, 1, k, f) == k ? 1 : -1;
	}
	case CHR_QUOTE: {
		const struct chr_quote *q = chr_rec_payload(r);

		if (out_header(o, CHR_TARDIS_QUOTES, 0, f) < 0 || room(o, 0, COMMON_MAX + 4 * DEC_MAX + 8) < 0)
			return -1;
		k = put_common(o, o->line, r);
		k += put_dec(o->line + k, q->ask_sz, q->size_scale);
		o->line[k++] = ',';
		k += put_dec(o->line + k, q->ask_px, q->price_scale);
		o->line[k++] = ',';
		k += put_dec(o->line + k, q->bid_px, q->price_scale);
		o->line[k++] = ',';
		k += put_dec(o->line + k, q->bid_sz, q->size_scale);
		o->line[k++] = '\n';
		return fwrite(o->line, 1, k, f) == k ? 1 : -1;
	}
	case CHR_BOOK_TOPN: {
		const struct chr_book *b = chr_rec_payload(r);
		size_t n = b->n_bid;

		if (b->n_bid != b->n_ask || n == 0 || n > CHR_TARDIS_TOPN_MAX)
			return CHR_TARDIS_SKIPPED;
		if (out_header(o, CHR_TARDIS_TOPN, (int)n, f) < 0 ||
		    room(o, 0, COMMON_MAX + n * 4 * (DEC_MAX + 1) + 2) < 0)
			return -1;
		k = put_common(o, o->line, r);
		for (i = 0; i < n; i++) {
			const struct chr_level *a = &b->levels[n + i], *bd = &b->levels[i];

			k += put_dec(o->line + k, a->price, b->price_scale);
			o->line[k++] = ',';
			k += put_dec(o->line + k, a->size, b->size_scale);
			o->line[k++] = ',';
			k += put_dec(o->line + k, bd->price, b->price_scale);
			o->line[k++] = ',';
			k += put_dec(o->line + k, bd->size, b->size_scale);
			o->line[k++] = ',';
		}
		o->line[k - 1] = '\n';
		return fwrite(o->line, 1, k, f) == k ? 1 : -1;
	}
	default:
		return CHR_TARDIS_SKIPPED;
	}
}
