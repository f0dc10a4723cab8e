/* fmt.c - records as human-readable lines and as JSON lines (jansson). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "dec.h"
#include "fmt.h"
#include "path.h"
#include "tm.h"

int chr_names_learn(struct chr_names *m, const struct chr_rec *rec)
{
	char venue[CHR_VENUE_MAX + 1], symbol[CHR_SYMBOL_MAX + 1];
	struct chr_name_ent *e;

	if (rec->type != CHR_DEFINE || (rec->venue == 0 && rec->market == 0) ||
	    chr_rec_payload_len(rec) != sizeof(struct chr_define))
		return 0;
	/* a malformed DEFINE names nothing; the record itself still prints */
	if (chr_define_names(chr_rec_payload(rec), venue, symbol) != NULL)
		return 0;
	if (m->tab.size == 0)
		chr_tab_init(&m->tab, sizeof *e);
	if ((e = chr_tab_get(&m->tab, rec->venue, rec->market, NULL)) == NULL)
		return -1;
	memcpy(e->venue, venue, sizeof venue);
	memcpy(e->symbol, symbol, sizeof symbol);
	return 0;
}

const struct chr_name_ent *chr_names_get(const struct chr_names *m, uint16_t venue,
					 uint32_t market)
{
	uint64_t key = chr_map_key(venue, market);

	if (key == 0)
		return NULL;
	/* most records are of the instrument named last */
	if (m->tab.last && m->tab.last_key == key)
		return m->tab.last;
	return chr_map_get(&m->tab.map, key);
}

void chr_names_free(struct chr_names *m)
{
	chr_tab_free(&m->tab);
}

void chr_fmt_init(struct chr_fmt *f, FILE *out, enum chr_fmt_kind kind)
{
	memset(f, 0, sizeof *f);
	f->out = out;
	f->kind = kind;
	f->levels = CHR_FMT_LEVELS;
}

void chr_fmt_free(struct chr_fmt *f)
{
	chr_names_free(&f->names);
}

int chr_fmt_learn(struct chr_fmt *f, const struct chr_rec *rec)
{
	return chr_names_learn(&f->names, rec);
}

const char *chr_fmt_dec(char *buf, int64_t mant, int scale)
{
	if (mant == CHR_NULL)
		return "-";
	if (scale < 0 || scale > CHR_DEC_MAX_SCALE)
		snprintf(buf, CHR_DEC_BUF + 8, "%" PRId64 "e%d", mant, -scale);
	else
		chr_dec_format(buf, mant, scale);
	return buf;
}

static const char *side_name(uint8_t side)
{
	return side == CHR_SIDE_BUY ? "buy" : side == CHR_SIDE_SELL ? "sell" : "unknown";
}

static const char *gap_reason(uint32_t reason)
{
	switch (reason) {
	case CHR_GAP_SEQ:
		return "seq";
	case CHR_GAP_UPDATE_ID:
		return "update-id";
	case CHR_GAP_RECONNECT:
		return "reconnect";
	case CHR_GAP_RESTART:
		return "restart";
	}
	return NULL;
}

/* src (n bytes) into out (cap bytes, NUL-terminated): printable ASCII as
 * is, other bytes and '\\' as \xNN (space too when word), never cutting an
 * escape short. Returns out. */
static const char *escape(char *out, size_t cap, const char *src, size_t n, int word)
{
	static const char hex[] = "0123456789abcdef";
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)src[i];

		if (c > ' ' && c < 0x7f && c != '\\') {
			if (k + 1 >= cap)
				break;
			out[k++] = (char)c;
		} else if (c == ' ' && !word) {
			if (k + 1 >= cap)
				break;
			out[k++] = ' ';
		} else {
			if (k + 4 >= cap)
				break;
			out[k++] = '\\';
			out[k++] = 'x';
			out[k++] = hex[c >> 4];
			out[k++] = hex[c & 15];
		}
	}
	if (cap)
		out[k] = '\0';
	return out;
}

const char *chr_fmt_shown(char *out, size_t cap, const char *s)
{
	return escape(out, cap, s, strlen(s), 0);
}

/* a NUL-padded text field of at most n bytes as one word of text: bytes
 * outside printable ASCII, spaces and '\\' as \xNN. dst holds 4n + 1. */
static const char *field_text(char *dst, const char *src, size_t n)
{
	return escape(dst, 4 * n + 1, src, strnlen(src, n), 1);
}

/* ---- text ---------------------------------------------------------------- */

static void text_levels(FILE *o, const char *side, const struct chr_level *lv, uint32_t n,
			int ps, int ss, unsigned max)
{
	char p[CHR_DEC_BUF + 8], s[CHR_DEC_BUF + 8], b[2 * CHR_DEC_BUF + 24];
	uint32_t show = max && n > max ? max : n;

	fprintf(o, " %s[%" PRIu32 "]", side, n);
	/* a whole book is thousands of levels: each is put together here and
	 * written at once (a third of fprintf's instructions) */
	for (uint32_t i = 0; i < show; i++) {
		const char *pt = chr_fmt_dec(p, lv[i].price, ps), *st = chr_fmt_dec(s, lv[i].size, ss);
		size_t pn = strlen(pt), sn = strlen(st), k = 0;

		if (i)
			b[k++] = ',';
		b[k++] = ' ';
		memcpy(b + k, pt, pn);
		k += pn;
		memcpy(b + k, " x ", 3);
		k += 3;
		memcpy(b + k, st, sn);
		k += sn;
		fwrite(b, 1, k, o);
	}
	if (show < n)
		fprintf(o, ", ... +%" PRIu32, n - show);
}

static void text_payload(struct chr_fmt *f, const struct chr_rec *r)
{
	FILE *o = f->out;
	const void *pl = chr_rec_payload(r);
	char a[CHR_DEC_BUF + 8], b[CHR_DEC_BUF + 8], c[CHR_DEC_BUF + 8], d[CHR_DEC_BUF + 8];

	switch (r->type) {
	case CHR_DEFINE: {
		const struct chr_define *x = pl;
		char venue[4 * CHR_VENUE_MAX + 1], symbol[4 * CHR_SYMBOL_MAX + 1];

		fprintf(o, " venue=%s symbol=%s price_scale_hint=%d size_scale_hint=%d",
			field_text(venue, x->venue, sizeof x->venue),
			field_text(symbol, x->symbol, sizeof x->symbol), x->price_scale_hint,
			x->size_scale_hint);
		break;
	}
	case CHR_GAP: {
		const struct chr_gap *x = pl;
		const char *why = gap_reason(x->reason);

		fprintf(o, " expected=%" PRIu64 " got=%" PRIu64, x->expected, x->got);
		if (why)
			fprintf(o, " reason=%s", why);
		else
			fprintf(o, " reason=%" PRIu32, x->reason);
		break;
	}
	case CHR_HEARTBEAT:
		break;
	case CHR_BOOK_SNAPSHOT:
	case CHR_BOOK_DIFF:
	case CHR_BOOK_TOPN: {
		const struct chr_book *x = pl;

		fprintf(o, " ids=%" PRIu64 "..%" PRIu64 " prev=%" PRIu64, x->update_id_first,
			x->update_id_last, x->update_id_prev);
		text_levels(o, "bid", x->levels, x->n_bid, x->price_scale, x->size_scale,
			    f->levels);
		fputc(';', o);
		text_levels(o, "ask", x->levels + x->n_bid, x->n_ask, x->price_scale,
			    x->size_scale, f->levels);
		break;
	}
	case CHR_TRADE: {
		const struct chr_trade *x = pl;
		char id[4 * CHR_TRADE_ID_MAX + 1];

		field_text(id, x->id, sizeof x->id);
		fprintf(o, " %s %s x %s id=%s", side_name(x->side),
			chr_fmt_dec(a, x->price, x->price_scale),
			chr_fmt_dec(b, x->size, x->size_scale), *id ? id : "-");
		break;
	}
	case CHR_QUOTE: {
		const struct chr_quote *x = pl;

		fprintf(o, " bid %s x %s ask %s x %s", chr_fmt_dec(a, x->bid_px, x->price_scale),
			chr_fmt_dec(b, x->bid_sz, x->size_scale),
			chr_fmt_dec(c, x->ask_px, x->price_scale),
			chr_fmt_dec(d, x->ask_sz, x->size_scale));
		break;
	}
	default:
		fprintf(o, " payload=%zu bytes", chr_rec_payload_len(r));
	}
}

static void text_flags(FILE *o, uint16_t flags)
{
	static const struct {
		uint16_t bit;
		const char *name;
	} names[] = {{CHR_F_LAST, "LAST"}, {CHR_F_SYNTHETIC, "SYNTHETIC"}, {CHR_F_REPEAT, "REPEAT"}};
	const char *sep = "";

	fputs(" flags=", o);
	if (flags == 0) {
		fputc('-', o);
		return;
	}
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (flags & names[i].bit) {
			fprintf(o, "%s%s", sep, names[i].name);
			sep = ",";
			flags &= (uint16_t)~names[i].bit;
		}
	if (flags)
		fprintf(o, "%s0x%" PRIx16, sep, flags);
}

static int text_rec(struct chr_fmt *f, const struct chr_rec *r)
{
	FILE *o = f->out;
	char t[CHR_TIME_BUF];
	const char *type = chr_type_name(r->type);
	const struct chr_name_ent *n = chr_names_get(&f->names, r->venue, r->market);

	chr_time_format(t, r->ts);
	fputs(t, o);
	if (type)
		fprintf(o, " %s", type);
	else
		fprintf(o, " 0x%04" PRIx16, r->type);
	if (n) {
		char venue[4 * CHR_VENUE_MAX + 1], symbol[4 * CHR_SYMBOL_MAX + 1];

		fprintf(o, " %s %s", field_text(venue, n->venue, CHR_VENUE_MAX),
			field_text(symbol, n->symbol, CHR_SYMBOL_MAX));
	} else if (r->venue == 0 && r->market == 0) {
		fputs(" - -", o);
	} else {
		fprintf(o, " #%" PRIu16 " #%" PRIu32, r->venue, r->market);
	}
	fprintf(o, " seq=%" PRIu64 " src_seq=%" PRIu64, r->seq, r->src_seq);
	text_flags(o, r->flags);
	if (f->age) {
		char d[CHR_TIME_BUF];

		chr_time_format(t, f->age->last_ts);
		chr_duration_format(d, r->ts - f->age->last_ts);
		fprintf(o, " last=%s (%s before%s)", t, d, f->age->stale ? ", stale" : "");
	}
	text_payload(f, r);
	fputc('\n', o);
	return ferror(o) ? -1 : 0;
}

/* ---- json ---------------------------------------------------------------- */

/* set key to value, taking the reference; 0, or -1 when value is NULL */
static int put(json_t *o, const char *key, json_t *value)
{
	return value ? json_object_set_new(o, key, value) : -1;
}

/* an unsigned value: a number up to INT64_MAX (jansson's json_int_t),
 * above it the exact decimal digits as a string */
static json_t *juint(uint64_t v)
{
	char buf[24];

	if (v <= INT64_MAX)
		return json_integer((json_int_t)v);
	snprintf(buf, sizeof buf, "%" PRIu64, v);
	return json_string(buf);
}

static json_t *jdec(int64_t mant, int scale)
{
	char buf[CHR_DEC_BUF + 8];

	return mant == CHR_NULL ? json_null() : json_string(chr_fmt_dec(buf, mant, scale));
}

/* text from the stream: kept when it is UTF-8, else its bytes outside
 * printable ASCII become '?' (a JSON line is always valid) */
static json_t *jtext(const char *src, size_t n)
{
	char buf[CHR_SYMBOL_MAX + 1];
	json_t *s;

	n = strnlen(src, n < sizeof buf ? n : sizeof buf - 1);
	s = json_stringn(src, n);
	if (s)
		return s;
	for (size_t i = 0; i < n; i++)
		buf[i] = src[i] >= 0x20 && src[i] < 0x7f ? src[i] : '?';
	return json_stringn(buf, n);
}

static json_t *jlevels(const struct chr_level *lv, uint32_t n, int ps, int ss)
{
	json_t *a = json_array();

	for (uint32_t i = 0; a && i < n; i++) {
		json_t *pair = json_array();

		if (pair == NULL || json_array_append_new(pair, jdec(lv[i].price, ps)) < 0 ||
		    json_array_append_new(pair, jdec(lv[i].size, ss)) < 0 ||
		    json_array_append_new(a, pair) < 0) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

static int json_payload(json_t *o, const struct chr_rec *r)
{
	const void *pl = chr_rec_payload(r);
	int rc = 0;

	switch (r->type) {
	case CHR_DEFINE: {
		const struct chr_define *x = pl;

		rc |= put(o, "define_venue", jtext(x->venue, sizeof x->venue));
		rc |= put(o, "define_symbol", jtext(x->symbol, sizeof x->symbol));
		rc |= put(o, "price_scale_hint", json_integer(x->price_scale_hint));
		rc |= put(o, "size_scale_hint", json_integer(x->size_scale_hint));
		break;
	}
	case CHR_GAP: {
		const struct chr_gap *x = pl;
		const char *why = gap_reason(x->reason);

		rc |= put(o, "expected", juint(x->expected));
		rc |= put(o, "got", juint(x->got));
		rc |= put(o, "reason", json_integer(x->reason));
		if (why)
			rc |= put(o, "reason_name", json_string(why));
		break;
	}
	case CHR_HEARTBEAT:
		break;
	case CHR_BOOK_SNAPSHOT:
	case CHR_BOOK_DIFF:
	case CHR_BOOK_TOPN: {
		const struct chr_book *x = pl;

		rc |= put(o, "update_id_first", juint(x->update_id_first));
		rc |= put(o, "update_id_last", juint(x->update_id_last));
		rc |= put(o, "update_id_prev", juint(x->update_id_prev));
		rc |= put(o, "price_scale", json_integer(x->price_scale));
		rc |= put(o, "size_scale", json_integer(x->size_scale));
		rc |= put(o, "bids", jlevels(x->levels, x->n_bid, x->price_scale, x->size_scale));
		rc |= put(o, "asks", jlevels(x->levels + x->n_bid, x->n_ask, x->price_scale,
					     x->size_scale));
		break;
	}
	case CHR_TRADE: {
		const struct chr_trade *x = pl;

		rc |= put(o, "price", jdec(x->price, x->price_scale));
		rc |= put(o, "size", jdec(x->size, x->size_scale));
		rc |= put(o, "side", json_string(side_name(x->side)));
		rc |= put(o, "id", jtext(x->id, sizeof x->id));
		break;
	}
	case CHR_QUOTE: {
		const struct chr_quote *x = pl;

		rc |= put(o, "bid_px", jdec(x->bid_px, x->price_scale));
		rc |= put(o, "bid_sz", jdec(x->bid_sz, x->size_scale));
		rc |= put(o, "ask_px", jdec(x->ask_px, x->price_scale));
		rc |= put(o, "ask_sz", jdec(x->ask_sz, x->size_scale));
		break;
	}
	default: {
		static const char hex[] = "0123456789abcdef";
		size_t n = chr_rec_payload_len(r);
		const unsigned char *p = pl;
		char *s = malloc(2 * n + 1);

		if (s == NULL)
			return -1;
		for (size_t i = 0; i < n; i++) {
			s[2 * i] = hex[p[i] >> 4];
			s[2 * i + 1] = hex[p[i] & 15];
		}
		rc |= put(o, "payload", json_stringn(s, 2 * n));
		free(s);
	}
	}
	return rc;
}

static int json_rec(struct chr_fmt *f, const struct chr_rec *r)
{
	json_t *o = json_object();
	const char *type = chr_type_name(r->type);
	const struct chr_name_ent *n = chr_names_get(&f->names, r->venue, r->market);
	char t[CHR_TIME_BUF];
	int rc = 0;

	if (o == NULL)
		return -1;
	chr_time_format(t, r->ts);
	rc |= put(o, "len", json_integer(r->len));
	rc |= put(o, "type", json_integer(r->type));
	rc |= put(o, "type_name", type ? json_string(type) : json_null());
	rc |= put(o, "flags", json_integer(r->flags));
	rc |= put(o, "seq", juint(r->seq));
	rc |= put(o, "ts", json_integer(r->ts));
	rc |= put(o, "time", json_string(t));
	rc |= put(o, "ts_event", json_integer(r->ts_event));
	rc |= put(o, "src_seq", juint(r->src_seq));
	rc |= put(o, "venue", json_integer(r->venue));
	rc |= put(o, "market", json_integer(r->market));
	if (n) {
		rc |= put(o, "venue_name", jtext(n->venue, sizeof n->venue));
		rc |= put(o, "symbol", jtext(n->symbol, sizeof n->symbol));
	}
	rc |= put(o, "version", json_integer(r->version));
	rc |= put(o, "crc", json_integer(r->crc));
	if (f->age) {
		chr_time_format(t, f->age->last_ts);
		rc |= put(o, "last_ts", json_integer(f->age->last_ts));
		rc |= put(o, "last_time", json_string(t));
		rc |= put(o, "stale_ns", json_integer(r->ts - f->age->last_ts));
		rc |= put(o, "stale", json_boolean(f->age->stale));
	}
	rc |= json_payload(o, r);
	if (rc == 0 && json_dumpf(o, f->out, JSON_COMPACT) < 0)
		rc = -1;
	json_decref(o);
	if (rc == 0)
		fputc('\n', f->out);
	return rc || ferror(f->out) ? -1 : 0;
}

int chr_fmt_rec(struct chr_fmt *f, const struct chr_rec *rec)
{
	return f->kind == CHR_FMT_JSON ? json_rec(f, rec) : text_rec(f, rec);
}
