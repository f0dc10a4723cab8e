/* tardis_out.c - records -> Tardis.dev CSV rows (the writer behind
 * chr-tail --format csv; docs/tardis.md). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dec.h"
#include "tardis.h"

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

/* a decimal field (empty for CHR_NULL) at o->line[k] and the character
 * that ends it: the new k */
static inline size_t put_dec(struct chr_tardis_out *o, size_t k, int64_t v, int sc, char end)
{
	if (v != CHR_NULL)
		k += chr_dec_format(o->line + k, v, sc);
	o->line[k++] = end;
	return k;
}

/* a name chr-csv2ev reads back: not empty, no control characters */
static int csv_name(const char *s)
{
	for (const char *p = s; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return 0;
	return *s != '\0';
}

const struct chr_name_ent *chr_tardis_names(const struct chr_names *m, const struct chr_rec *r)
{
	const struct chr_name_ent *nm = chr_names_get(m, r->venue, r->market);

	return nm != NULL && csv_name(nm->venue) && csv_name(nm->symbol) ? nm : NULL;
}

const char *chr_tardis_side(unsigned side)
{
	static const char *const sides[] = { "unknown", "buy", "sell" };

	return side <= 2 ? sides[side] : "unknown";
}

int chr_tardis_dataset(const struct chr_rec *r, int *n)
{
	const struct chr_book *b = chr_rec_payload(r);

	*n = 0;
	switch (r->type) {
	case CHR_BOOK_SNAPSHOT:
	case CHR_BOOK_DIFF:
		return CHR_TARDIS_L2;
	case CHR_TRADE:
		return CHR_TARDIS_TRADES;
	case CHR_QUOTE:
		return CHR_TARDIS_QUOTES;
	case CHR_BOOK_TOPN:
		if (b->n_bid != b->n_ask || b->n_bid == 0 || b->n_bid > CHR_TARDIS_TOPN_MAX)
			return CHR_TARDIS_NONE;
		*n = (int)b->n_bid;
		return CHR_TARDIS_TOPN;
	default:
		return CHR_TARDIS_NONE;
	}
}

/* "exchange,symbol,timestamp,local_timestamp," of r into b */
static size_t put_common(const struct chr_tardis_out *o, char *b, const struct chr_rec *r)
{
	const struct chr_name_ent *nm = chr_tardis_names(&o->names, r);
	size_t k;

	if (nm != NULL) {
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
			k = put_dec(o, k, b->levels[i].price, b->price_scale, ',');
			k = put_dec(o, k, b->levels[i].size, b->size_scale, '\n');
			if (fwrite(o->line, 1, k, f) != k)
				return -1;
			rows++;
		}
		return rows;
	}
	case CHR_TRADE: {
		const struct chr_trade *tr = chr_rec_payload(r);

		if (out_header(o, CHR_TARDIS_TRADES, 0, f) < 0 ||
		    room(o, 0, COMMON_MAX + 2 * CHR_TRADE_ID_MAX + 2 + 16 + 2 * DEC_MAX) < 0)
			return -1;
		k = put_common(o, o->line, r);
		k += put_text(o->line + k, tr->id, strnlen(tr->id, CHR_TRADE_ID_MAX));
		o->line[k++] = ',';
		k += (size_t)sprintf(o->line + k, "%s,", chr_tardis_side(tr->side));
		k = put_dec(o, k, tr->price, tr->price_scale, ',');
		k = put_dec(o, k, tr->size, tr->size_scale, '\n');
		return fwrite(o->line, 1, k, f) == k ? 1 : -1;
	}
	case CHR_QUOTE: {
		const struct chr_quote *q = chr_rec_payload(r);

		if (out_header(o, CHR_TARDIS_QUOTES, 0, f) < 0 || room(o, 0, COMMON_MAX + 4 * DEC_MAX + 8) < 0)
			return -1;
		k = put_common(o, o->line, r);
		k = put_dec(o, k, q->ask_sz, q->size_scale, ',');
		k = put_dec(o, k, q->ask_px, q->price_scale, ',');
		k = put_dec(o, k, q->bid_px, q->price_scale, ',');
		k = put_dec(o, k, q->bid_sz, q->size_scale, '\n');
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

			k = put_dec(o, k, a->price, b->price_scale, ',');
			k = put_dec(o, k, a->size, b->size_scale, ',');
			k = put_dec(o, k, bd->price, b->price_scale, ',');
			k = put_dec(o, k, bd->size, b->size_scale, ',');
		}
		o->line[k - 1] = '\n';
		return fwrite(o->line, 1, k, f) == k ? 1 : -1;
	}
	default:
		return CHR_TARDIS_SKIPPED;
	}
}
