/* binance.c - Binance's messages (USD-M futures, COIN-M, spot) to records:
 * depthUpdate, trade, aggTrade, bookTicker and the REST depth snapshot
 * (docs/feed.md has the mapping). */
#include <stdio.h>
#include <string.h>

#include "dec.h"
#include "feed_int.h"

#define MS_MAX (INT64_MAX / 1000000)

/* the value of key in object obj, or -1 */
#define KEY(f, s, obj, key) chr_json_key(&(f)->j, s, obj, key)
#define TOK(f, i) (&(f)->j.t[i])

static int bad(struct chr_err *e, const char *ev, const char *what, const char *key)
{
	return chr_err_set(e, CHR_EX_DATA, "%s: %s '%s'", ev, what, key);
}

/* an integer member key of obj, required */
static int u64_of(struct chr_feed *f, const char *s, long obj, const char *key, size_t kl,
		  const char *ev, uint64_t *v, struct chr_err *e)
{
	long i = chr_json_get(&f->j, s, (size_t)obj, key, kl);

	if (i < 0)
		return bad(e, ev, "no field", key);
	if (TOK(f, i)->type != CHR_JSON_NUMBER || chr_jtok_u64(TOK(f, i), s, v) < 0)
		return bad(e, ev, "not an unsigned integer: field", key);
	return 0;
}
#define U64(f, s, obj, key, ev, v, e) u64_of(f, s, obj, key, sizeof(key) - 1, ev, v, e)

/* ts_event: the transaction time T when the message has it, else the event
 * time E, else 0; milliseconds to ns */
static int when(struct chr_feed *f, const char *s, long obj, const char *ev, int64_t *ns,
		struct chr_err *e)
{
	uint64_t ms = 0;

	*ns = 0;
	if (KEY(f, s, obj, "T") >= 0) {
		if (U64(f, s, obj, "T", ev, &ms, e) < 0)
			return -1;
	} else if (KEY(f, s, obj, "E") >= 0 && U64(f, s, obj, "E", ev, &ms, e) < 0) {
		return -1;
	}
	if (ms > MS_MAX)
		return chr_err_set(e, CHR_EX_DATA, "%s: time %llu ms is past 2262", ev,
				   (unsigned long long)ms);
	*ns = (int64_t)ms * 1000000;
	return 0;
}

/* the exact decimal of token i in its smallest scale (the fraction's
 * trailing zeros dropped: "61800.20" is 618002 at scale 1) */
static int dec(struct chr_feed *f, const char *s, long i, int64_t *m, int8_t *sc)
{
	const struct chr_json_tok *t = TOK(f, i);
	const char *p = s + t->off;
	size_t n = t->len, k;
	int scale;

	if ((t->type != CHR_JSON_STRING || t->esc) && t->type != CHR_JSON_NUMBER)
		return -1;
	for (k = 0; k < n && p[k] != '.'; k++)
		;
	if (k < n) {
		while (n > k + 1 && p[n - 1] == '0')
			n--;
		if (n == k + 1)
			n = k;
	}
	if (chr_dec_parse(p, n, m, &scale) != 0)
		return -1;
	*sc = (int8_t)scale;
	return 0;
}

/* raise m from scale sc to to; 0, or -1 when it does not fit */
static inline int raise_to(int64_t *m, int sc, int to)
{
	if (sc == to)
		return 0;
	return __builtin_mul_overflow(*m, chr_pow10[to - sc], m) || *m == INT64_MIN ? -1 : 0;
}

/* the text of token i for a message ("61800.20"), cut to fit */
static const char *shown(struct chr_feed *f, const char *s, long i, char *buf, size_t n)
{
	const struct chr_json_tok *t = TOK(f, i);
	size_t k = t->len < n - 1 ? t->len : n - 1;

	memcpy(buf, s + t->off, k);
	buf[k] = '\0';
	for (size_t x = 0; x < k; x++)
		if ((unsigned char)buf[x] < 0x20 || (unsigned char)buf[x] >= 0x7f)
			buf[x] = '?';
	return buf;
}

/* the levels of the arrays bids (token bt) and asks (at) into b, at one
 * price scale and one size scale, the smallest that holds them all */
static int levels(struct chr_feed *f, const char *s, long bt, long at, struct chr_book *b,
		  const char *ev, struct chr_err *e)
{
	size_t n = (size_t)b->n_bid + b->n_ask, i = 0;
	int pmax = 0, smax = 0;
	long side[2] = {bt, at};
	char buf[48];

	if (feed_scales(f, 2 * n, e) < 0)
		return -1;
	for (int k = 0; k < 2; k++) {
		long x = side[k] + 1;

		for (uint32_t c = 0; c < TOK(f, side[k])->n; c++, i++, x = TOK(f, x)->next) {
			struct chr_level *lv = &b->levels[i];

			if (TOK(f, x)->type != CHR_JSON_ARRAY || TOK(f, x)->n != 2 ||
			    TOK(f, x)->next != (uint32_t)x + 3)
				return chr_err_set(e, CHR_EX_DATA, "%s: %s[%u] is not a [price, "
						   "quantity] pair", ev, k ? "asks" : "bids", c);
			if (dec(f, s, x + 1, &lv->price, &f->sc[2 * i]) < 0)
				return chr_err_set(e, CHR_EX_DATA, "%s: %s[%u] price '%s' is not "
						   "a decimal", ev, k ? "asks" : "bids", c,
						   shown(f, s, x + 1, buf, sizeof buf));
			if (dec(f, s, x + 2, &lv->size, &f->sc[2 * i + 1]) < 0 || lv->size < 0)
				return chr_err_set(e, CHR_EX_DATA, "%s: %s[%u] quantity '%s' is not "
						   "a decimal", ev, k ? "asks" : "bids", c,
						   shown(f, s, x + 2, buf, sizeof buf));
			if (f->sc[2 * i] > pmax)
				pmax = f->sc[2 * i];
			if (f->sc[2 * i + 1] > smax)
				smax = f->sc[2 * i + 1];
		}
	}
	for (i = 0; i < n; i++)
		if (raise_to(&b->levels[i].price, f->sc[2 * i], pmax) < 0 ||
		    raise_to(&b->levels[i].size, f->sc[2 * i + 1], smax) < 0)
			return chr_err_set(e, CHR_EX_DATA, "%s: level %zu does not fit the scale of "
					   "its record", ev, i);
	b->price_scale = (int8_t)pmax;
	b->size_scale = (int8_t)smax;
	return 0;
}

/* a book record's length for the levels of arrays bt and at, or 0 with e
 * when more than a record holds */
static uint32_t book_len(struct chr_feed *f, long bt, long at, const char *ev, struct chr_err *e)
{
	size_t n = (size_t)TOK(f, bt)->n + TOK(f, at)->n;

	if (n > (CHR_REC_MAX - CHR_HDR_SIZE - sizeof(struct chr_book)) / sizeof(struct chr_level))
		return chr_err_set(e, CHR_EX_DATA, "%s: %zu levels: more than a record holds",
				   ev, n), 0;
	return (uint32_t)(CHR_HDR_SIZE + sizeof(struct chr_book) + n * sizeof(struct chr_level));
}

/* an array member of obj, required */
static long array_of(struct chr_feed *f, const char *s, long obj, const char *key,
		     const char *ev, struct chr_err *e)
{
	long i = chr_json_get(&f->j, s, (size_t)obj, key, strlen(key));

	if (i < 0)
		return bad(e, ev, "no field", key);
	if (TOK(f, i)->type != CHR_JSON_ARRAY)
		return bad(e, ev, "not an array: field", key);
	return i;
}

/* the instrument of the message's symbol "s" */
static struct feed_inst *inst_of(struct chr_feed *f, const char *s, long obj, const char *ev,
				 struct chr_err *e)
{
	long i = KEY(f, s, obj, "s");

	if (i < 0)
		return bad(e, ev, "no field", "s"), NULL;
	if (TOK(f, i)->type != CHR_JSON_STRING || TOK(f, i)->esc)
		return bad(e, ev, "not a plain string: field", "s"), NULL;
	return feed_inst(f, s + TOK(f, i)->off, TOK(f, i)->len, e);
}

static int depth(struct chr_feed *f, int64_t recv_ns, const char *s, long obj,
		 struct chr_err *e)
{
	const char *ev = "depthUpdate";
	uint64_t U, u, pu = 0;
	int64_t te;
	long bt, at;
	struct feed_inst *in;
	struct chr_rec *r;
	struct chr_book *b;
	uint32_t len;
	int mode;

	if ((in = inst_of(f, s, obj, ev, e)) == NULL || when(f, s, obj, ev, &te, e) < 0 ||
	    U64(f, s, obj, "U", ev, &U, e) < 0 || U64(f, s, obj, "u", ev, &u, e) < 0 ||
	    (f->chain == CHAIN_PU && U64(f, s, obj, "pu", ev, &pu, e) < 0) ||
	    (bt = array_of(f, s, obj, "b", ev, e)) < 0 || (at = array_of(f, s, obj, "a", ev, e)) < 0)
		return -1;
	if (U > u || U == 0)
		return chr_err_set(e, CHR_EX_DATA, "%s: first update id U %llu after the last u %llu",
				   ev, (unsigned long long)U, (unsigned long long)u);
	if (f->chain == CHAIN_U)
		pu = U - 1;
	if ((len = book_len(f, bt, at, ev, e)) == 0)
		return -1;
	mode = feed_diff_mode(f, in, U, u, pu);
	/* in sync: built in the sink's room; else off it, to be placed */
	r = mode == DIFF_WRITE ? feed_reserve(f, in, len, CHR_BOOK_DIFF, recv_ns, te, e) :
		feed_scratch(f, in, len, CHR_BOOK_DIFF, recv_ns, te, e);
	if (r == NULL)
		return -1;
	b = chr_rec_payload(r);
	b->update_id_first = U;
	b->update_id_last = u;
	b->update_id_prev = pu;
	b->n_bid = TOK(f, bt)->n;
	b->n_ask = TOK(f, at)->n;
	if (levels(f, s, bt, at, b, ev, e) < 0)
		return -1;
	if (mode != DIFF_WRITE)
		return feed_diff_place(f, in, r, e);
	if (feed_commit(f, r, e) < 0)
		return -1;
	feed_diff_written(f, in, b);
	return 0;
}

static int trade(struct chr_feed *f, int64_t recv_ns, const char *s, long obj, int agg,
		 struct chr_err *e)
{
	const char *ev = agg ? "aggTrade" : "trade";
	struct feed_inst *in;
	struct chr_trade *t;
	struct chr_rec *r;
	int64_t te, px, sz;
	int8_t ps, ss;
	uint64_t id;
	long p, q, m;
	char buf[48];

	if ((in = inst_of(f, s, obj, ev, e)) == NULL || when(f, s, obj, ev, &te, e) < 0 ||
	    (agg ? U64(f, s, obj, "a", ev, &id, e) : U64(f, s, obj, "t", ev, &id, e)) < 0)
		return -1;
	if ((p = KEY(f, s, obj, "p")) < 0 || (q = KEY(f, s, obj, "q")) < 0)
		return bad(e, ev, "no field", p < 0 ? "p" : "q");
	if (dec(f, s, p, &px, &ps) < 0)
		return chr_err_set(e, CHR_EX_DATA, "%s: price '%s' is not a decimal", ev,
				   shown(f, s, p, buf, sizeof buf));
	if (dec(f, s, q, &sz, &ss) < 0 || sz < 0)
		return chr_err_set(e, CHR_EX_DATA, "%s: quantity '%s' is not a decimal", ev,
				   shown(f, s, q, buf, sizeof buf));
	m = KEY(f, s, obj, "m");
	if (m >= 0 && TOK(f, m)->type != CHR_JSON_TRUE && TOK(f, m)->type != CHR_JSON_FALSE)
		return bad(e, ev, "not a boolean: field", "m");
	if ((r = feed_reserve(f, in, CHR_HDR_SIZE + sizeof *t, CHR_TRADE, recv_ns, te, e)) == NULL)
		return -1;
	t = chr_rec_payload(r);
	t->price = px;
	t->size = sz;
	t->price_scale = ps;
	t->size_scale = ss;
	/* m: the buyer made the book, so the aggressor sold */
	t->side = m < 0 ? CHR_SIDE_UNKNOWN :
		TOK(f, m)->type == CHR_JSON_TRUE ? CHR_SIDE_SELL : CHR_SIDE_BUY;
	snprintf(t->id, sizeof t->id, "%llu", (unsigned long long)id);
	if (feed_commit(f, r, e) < 0)
		return -1;
	f->st.trades++;
	return 0;
}

static int ticker(struct chr_feed *f, int64_t recv_ns, const char *s, long obj,
		  struct chr_err *e)
{
	static const char *const keys[4] = {"b", "B", "a", "A"};
	const char *ev = "bookTicker";
	struct feed_inst *in;
	struct chr_quote *q;
	struct chr_rec *r;
	int64_t te, v[4];
	int8_t sc[4];
	int ps, ss;
	char buf[48];

	if ((in = inst_of(f, s, obj, ev, e)) == NULL || when(f, s, obj, ev, &te, e) < 0)
		return -1;
	for (int k = 0; k < 4; k++) {
		long i = chr_json_get(&f->j, s, (size_t)obj, keys[k], 1);

		if (i < 0)
			return bad(e, ev, "no field", keys[k]);
		if (dec(f, s, i, &v[k], &sc[k]) < 0 || ((k & 1) && v[k] < 0))
			return chr_err_set(e, CHR_EX_DATA, "%s: field '%s' value '%s' is not a "
					   "decimal", ev, keys[k], shown(f, s, i, buf, sizeof buf));
	}
	ps = sc[0] > sc[2] ? sc[0] : sc[2];
	ss = sc[1] > sc[3] ? sc[1] : sc[3];
	for (int k = 0; k < 4; k++)
		if (raise_to(&v[k], sc[k], k & 1 ? ss : ps) < 0)
			return chr_err_set(e, CHR_EX_DATA, "%s: field '%s' does not fit the scale "
					   "of its record", ev, keys[k]);
	if ((r = feed_reserve(f, in, CHR_HDR_SIZE + sizeof *q, CHR_QUOTE, recv_ns, te, e)) == NULL)
		return -1;
	q = chr_rec_payload(r);
	q->bid_px = v[0];
	q->bid_sz = v[1];
	q->ask_px = v[2];
	q->ask_sz = v[3];
	q->price_scale = (int8_t)ps;
	q->size_scale = (int8_t)ss;
	if (feed_commit(f, r, e) < 0)
		return -1;
	f->st.quotes++;
	return 0;
}

/* count a message that is not handled, and name the first */
static int unknown(struct chr_feed *f, const char *s, long name)
{
	if (f->st.unknown++ == 0) {
		char buf[sizeof f->st.unknown_first];

		snprintf(f->st.unknown_first, sizeof f->st.unknown_first, "%s",
			 name < 0 ? "a message without an event type" :
			 shown(f, s, name, buf, sizeof buf));
	}
	return 0;
}

/* a string token equal to lit */
static inline int is(struct chr_feed *f, const char *s, long i, const char *lit)
{
	size_t n = strlen(lit);

	return TOK(f, i)->type == CHR_JSON_STRING && TOK(f, i)->len == n &&
	       memcmp(s + TOK(f, i)->off, lit, n) == 0;
}

/* a stream of partial book depth ("btcusdt@depth5@100ms"): top levels, not
 * diffs, though futures send them as depthUpdate */
static int partial(struct chr_feed *f, const char *s, long stream)
{
	const struct chr_json_tok *t = TOK(f, stream);
	const char *p = memmem(s + t->off, t->len, "@depth", 6);

	return p && p + 6 < s + t->off + t->len && (unsigned)(p[6] - '0') < 10;
}

int chr_binance_msg(struct chr_feed *f, int64_t recv_ns, const char *s, size_t len,
		    struct chr_err *e)
{
	long obj = 0, stream = -1, ev;

	if (chr_json_parse(&f->j, s, len, e) < 0)
		return -1;
	if (TOK(f, 0)->type != CHR_JSON_OBJECT)
		return chr_err_set(e, CHR_EX_DATA, "not a JSON object");
	if ((stream = KEY(f, s, 0, "stream")) >= 0) {
		if ((obj = KEY(f, s, 0, "data")) < 0 || TOK(f, stream)->type != CHR_JSON_STRING ||
		    TOK(f, obj)->type != CHR_JSON_OBJECT)
			return chr_err_set(e, CHR_EX_DATA, "a combined-stream message without a "
					   "string 'stream' and an object 'data'");
	}
	if ((ev = KEY(f, s, obj, "e")) >= 0) {
		if (is(f, s, ev, "depthUpdate"))
			return stream >= 0 && partial(f, s, stream) ? unknown(f, s, stream) :
				depth(f, recv_ns, s, obj, e);
		if (is(f, s, ev, "trade"))
			return trade(f, recv_ns, s, obj, 0, e);
		if (is(f, s, ev, "aggTrade"))
			return trade(f, recv_ns, s, obj, 1, e);
		if (is(f, s, ev, "bookTicker"))
			return ticker(f, recv_ns, s, obj, e);
		return unknown(f, s, stream >= 0 ? stream : ev);
	}
	if (KEY(f, s, obj, "lastUpdateId") >= 0)
		/* bare: a REST snapshot (the caller's); in a stream: partial depth */
		return stream >= 0 ? unknown(f, s, stream) : 2;
	/* spot's bookTicker has no event type */
	if (KEY(f, s, obj, "u") >= 0 && KEY(f, s, obj, "s") >= 0 && KEY(f, s, obj, "b") >= 0 &&
	    KEY(f, s, obj, "B") >= 0 && KEY(f, s, obj, "a") >= 0 && KEY(f, s, obj, "A") >= 0)
		return ticker(f, recv_ns, s, obj, e);
	return unknown(f, s, stream);
}

size_t chr_binance_snapshot_symbol(struct chr_feed *f, const char *s, size_t len,
				   const char **sym)
{
	struct chr_err e;
	long i;

	if (chr_json_parse(&f->j, s, len, &e) < 0 || (i = KEY(f, s, 0, "symbol")) < 0 ||
	    TOK(f, i)->type != CHR_JSON_STRING || TOK(f, i)->esc || TOK(f, i)->len == 0)
		return 0;
	*sym = s + TOK(f, i)->off;
	return TOK(f, i)->len;
}

int chr_binance_snapshot(struct chr_feed *f, int64_t recv_ns, struct feed_inst *in,
			 const char *s, size_t len, struct chr_err *e)
{
	const char *ev = "snapshot";
	struct chr_rec *r;
	struct chr_book *b;
	uint64_t L;
	int64_t te;
	long bt, at;
	uint32_t rlen;

	if (chr_json_parse(&f->j, s, len, e) < 0)
		return -1;
	if (TOK(f, 0)->type != CHR_JSON_OBJECT)
		return chr_err_set(e, CHR_EX_DATA, "%s: not a JSON object", ev);
	if (U64(f, s, 0, "lastUpdateId", ev, &L, e) < 0 || when(f, s, 0, ev, &te, e) < 0 ||
	    (bt = array_of(f, s, 0, "bids", ev, e)) < 0 || (at = array_of(f, s, 0, "asks", ev, e)) < 0)
		return -1;
	if ((rlen = book_len(f, bt, at, ev, e)) == 0 ||
	    (r = feed_scratch(f, in, rlen, CHR_BOOK_SNAPSHOT, recv_ns, te, e)) == NULL)
		return -1;
	b = chr_rec_payload(r);
	b->update_id_first = b->update_id_last = L;
	b->n_bid = TOK(f, bt)->n;
	b->n_ask = TOK(f, at)->n;
	if (levels(f, s, bt, at, b, ev, e) < 0)
		return -1;
	return feed_snapshot_place(f, in, r, e);
}
