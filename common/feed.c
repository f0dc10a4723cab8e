/* feed.c - the normaliser's venue-independent half: instruments and their
 * DEFINEs, records through the sink, and book synchronisation (held diffs,
 * the first diff that bridges a snapshot, GAPs). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "feed_int.h"
#include "path.h"

#define HELD_MAX_DEFAULT (64u << 20)

struct chr_feed *chr_feed_new(const char *venue, const struct chr_feed_opts *o,
			      struct chr_err *e)
{
	struct chr_feed *f;
	enum feed_chain chain;

	if (strcmp(venue, "binance-futures") == 0 || strcmp(venue, "binance-delivery") == 0)
		chain = CHAIN_PU;
	else if (strcmp(venue, "binance") == 0)
		chain = CHAIN_U;
	else
		return chr_err_set(e, CHR_EX_USAGE, "unknown venue '%s' (binance-futures, "
				   "binance-delivery, binance)", venue), NULL;
	if ((f = calloc(1, sizeof *f)) == NULL)
		return chr_err_set(e, CHR_EX_SYS, "out of memory"), NULL;
	snprintf(f->venue, sizeof f->venue, "%s", venue);
	f->chain = chain;
	f->o = *o;
	if (f->o.buffer_max == 0)
		f->o.buffer_max = HELD_MAX_DEFAULT;
	chr_json_init(&f->j);
	return f;
}

void chr_feed_free(struct chr_feed *f)
{
	if (f == NULL)
		return;
	for (size_t i = 0; i < f->ninst; i++) {
		free(f->inst[i]->held);
		free(f->inst[i]);
	}
	free(f->inst);
	chr_json_free(&f->j);
	free(f->tmp);
	free(f->sc);
	free(f);
}

const struct chr_feed_stats *chr_feed_stats(const struct chr_feed *f)
{
	return &f->st;
}

const char *chr_feed_venue(const struct chr_feed *f)
{
	return f->venue;
}

int chr_feed_msg(struct chr_feed *f, int64_t recv_ns, const char *json, size_t len,
		 struct chr_err *e)
{
	int rc;

	f->st.msgs++;
	rc = chr_binance_msg(f, recv_ns, json, len, e);
	if (rc == 2) {
		/* a bare REST snapshot: a capture's line */
		f->st.msgs--;
		return chr_feed_snapshot(f, recv_ns, NULL, json, len, e);
	}
	if (rc < 0 && e->status == CHR_EX_DATA && f->o.skip_bad) {
		f->st.bad++;
		return 1;
	}
	return rc;
}

int chr_feed_line(struct chr_feed *f, const char *p, size_t n, struct chr_err *e)
{
	uint64_t v = 0;
	size_t k = 0;

	if (n > 0 && p[n - 1] == '\r')
		n--;
	if (n == 0)
		return 2;
	/* at most 19 digits, which a uint64_t holds */
	for (; k < n && (unsigned)(p[k] - '0') < 10 && k < 19; k++)
		v = v * 10 + (uint64_t)(p[k] - '0');
	if (k > 0 && k < n && p[k] == ' ' && v <= INT64_MAX)
		return chr_feed_msg(f, (int64_t)v, p + k + 1, n - k - 1, e);
	chr_err_set(e, CHR_EX_DATA, "not a line '<receive time in ns> <JSON>'");
	if (!f->o.skip_bad)
		return -1;
	f->st.bad++;
	return 1;
}

int chr_feed_snapshot(struct chr_feed *f, int64_t recv_ns, const char *symbol,
		      const char *json, size_t len, struct chr_err *e)
{
	struct feed_inst *in;
	size_t n;
	int rc;

	f->st.msgs++;
	if (symbol == NULL)
		symbol = f->o.symbol;
	if (symbol == NULL && (n = chr_binance_snapshot_symbol(f, json, len, &symbol)) > 0) {
		/* COIN-M's snapshot names its symbol */
		if ((in = feed_inst(f, symbol, n, e)) == NULL) {
			rc = -1;
			goto out;
		}
	} else if (symbol == NULL) {
		/* a snapshot names no symbol: the one the messages named */
		if (f->ninst != 1) {
			rc = chr_err_set(e, CHR_EX_DATA, "a REST snapshot names no symbol, and %s: "
					 "give the symbol (chr-feed --symbol)", f->ninst == 0 ?
					 "no message before it named one" :
					 "the messages before it name more than one");
			goto out;
		}
		f->inferred = 1;
		in = f->inst[0];
	} else if ((in = feed_inst(f, symbol, strlen(symbol), e)) == NULL) {
		rc = -1;
		goto out;
	}
	rc = chr_binance_snapshot(f, recv_ns, in, json, len, e);
out:
	if (rc < 0 && e->status == CHR_EX_DATA && f->o.skip_bad) {
		f->st.bad++;
		return 1;
	}
	return rc;
}

int chr_feed_add(struct chr_feed *f, const char *symbol, struct chr_err *e)
{
	return feed_inst(f, symbol, strlen(symbol), e) ? 0 : -1;
}

size_t chr_feed_wanted(const struct chr_feed *f, const char **syms, size_t max)
{
	size_t k = 0;

	for (size_t i = 0; i < f->ninst; i++)
		if (f->inst[i]->state == INST_WAIT) {
			if (k < max)
				syms[k] = f->inst[i]->symbol;
			k++;
		}
	return k;
}

uint64_t chr_feed_pending(const struct chr_feed *f)
{
	uint64_t n = 0;

	for (size_t i = 0; i < f->ninst; i++)
		n += f->inst[i]->held_count;
	return n;
}

struct feed_inst *feed_inst(struct chr_feed *f, const char *s, size_t n, struct chr_err *e)
{
	struct feed_inst *in = f->last, **v;
	char name[CHR_SYMBOL_MAX + 1];
	const char *why;

	if (in && in->symlen == n && memcmp(in->symbol, s, n) == 0)
		return in;
	for (size_t i = 0; i < f->ninst; i++) {
		in = f->inst[i];
		if (in->symlen == n && memcmp(in->symbol, s, n) == 0)
			return f->last = in;
	}
	if (n == 0 || n > CHR_SYMBOL_MAX || memchr(s, '\0', n))
		return chr_err_set(e, CHR_EX_DATA, "symbol '%.*s' cannot be a symbol name",
				   (int)(n > 64 ? 64 : n), s), NULL;
	memcpy(name, s, n);
	name[n] = '\0';
	if ((why = chr_name_check(name)) != NULL)
		return chr_err_set(e, CHR_EX_DATA, "symbol '%s': %s", name, why), NULL;
	if (f->inferred)
		return chr_err_set(e, CHR_EX_DATA, "a message of symbol '%s' after a REST snapshot "
				   "was taken as '%s''s, the one symbol before it: give the "
				   "snapshot's symbol (chr-feed --symbol)", name,
				   f->inst[0]->symbol), NULL;
	if (f->ninst == f->capinst) {
		size_t nc = f->capinst ? 2 * f->capinst : 8;

		if ((v = realloc(f->inst, nc * sizeof *v)) == NULL)
			return chr_err_set(e, CHR_EX_SYS, "out of memory"), NULL;
		f->inst = v;
		f->capinst = nc;
	}
	if ((in = calloc(1, sizeof *in)) == NULL)
		return chr_err_set(e, CHR_EX_SYS, "out of memory"), NULL;
	memcpy(in->symbol, name, n + 1);
	in->symlen = n;
	chr_sym_ids(f->o.map, f->venue, in->symbol, &in->vid, &in->mid);
	f->inst[f->ninst++] = in;
	return f->last = in;
}

static void header(struct chr_rec *r, struct feed_inst *in, uint16_t type, int64_t ts,
		   int64_t ts_event)
{
	r->type = type;
	r->flags = type == CHR_DEFINE || type == CHR_GAP ? 0 : CHR_F_LAST;
	r->ts = ts;
	r->ts_event = ts_event;
	r->venue = in->vid;
	r->market = in->mid;
}

/* reserve, header, seq: a record for the sink */
static struct chr_rec *reserve(struct chr_feed *f, struct feed_inst *in, uint32_t len,
			       uint16_t type, int64_t ts, int64_t ts_event, struct chr_err *e)
{
	struct chr_rec *r = f->o.sink.reserve(f->o.sink.arg, len, e);

	if (r == NULL)
		return NULL;
	header(r, in, type, ts, ts_event);
	r->seq = r->src_seq = f->seq;
	return r;
}

int feed_commit(struct chr_feed *f, struct chr_rec *r, struct chr_err *e)
{
	if (f->o.sink.commit(f->o.sink.arg, r, e) < 0)
		return -1;
	f->seq++;
	f->st.records++;
	return 0;
}

static int define(struct chr_feed *f, struct feed_inst *in, int64_t ts, struct chr_err *e)
{
	struct chr_rec *r = reserve(f, in, CHR_HDR_SIZE + sizeof(struct chr_define), CHR_DEFINE,
				    ts, 0, e);
	struct chr_define *d;

	if (r == NULL)
		return -1;
	d = chr_rec_payload(r);
	memcpy(d->venue, f->venue, strlen(f->venue));
	memcpy(d->symbol, in->symbol, in->symlen);
	if (feed_commit(f, r, e) < 0)
		return -1;
	in->defined = 1;
	return 0;
}

struct chr_rec *feed_reserve(struct chr_feed *f, struct feed_inst *in, uint32_t len,
			     uint16_t type, int64_t ts, int64_t ts_event, struct chr_err *e)
{
	if (!in->defined && define(f, in, ts, e) < 0)
		return NULL;
	return reserve(f, in, len, type, ts, ts_event, e);
}

struct chr_rec *feed_scratch(struct chr_feed *f, struct feed_inst *in, uint32_t len,
			     uint16_t type, int64_t ts, int64_t ts_event, struct chr_err *e)
{
	size_t span = chr_rec_span(len);
	struct chr_rec *r;

	if (len > CHR_REC_MAX)
		return chr_err_set(e, CHR_EX_DATA, "a record of %u bytes: more than 16 MiB",
				   len), NULL;
	if (span > f->tmp_cap) {
		size_t nc = f->tmp_cap ? f->tmp_cap : 4096;
		void *p;

		while (nc < span)
			nc *= 2;
		if ((p = aligned_alloc(CHR_ALIGN, nc)) == NULL)
			return chr_err_set(e, CHR_EX_SYS, "out of memory"), NULL;
		free(f->tmp);
		f->tmp = p;
		f->tmp_cap = nc;
	}
	r = (struct chr_rec *)f->tmp;
	memset(r, 0, span);
	r->len = len;
	header(r, in, type, ts, ts_event);
	return r;
}

int feed_scales(struct chr_feed *f, size_t n, struct chr_err *e)
{
	if (n > f->sc_cap) {
		size_t nc = f->sc_cap ? f->sc_cap : 1024;
		int8_t *p;

		while (nc < n)
			nc *= 2;
		if ((p = realloc(f->sc, nc)) == NULL)
			return chr_err_set(e, CHR_EX_SYS, "out of memory");
		f->sc = p;
		f->sc_cap = nc;
	}
	return 0;
}

/* copy the built record r to the sink (ts at least ts) and commit it */
static int write_copy(struct chr_feed *f, struct feed_inst *in, const struct chr_rec *r,
		      int64_t ts, struct chr_err *e)
{
	struct chr_rec *w = feed_reserve(f, in, r->len, r->type, r->ts > ts ? r->ts : ts,
					 r->ts_event, e);

	if (w == NULL)
		return -1;
	memcpy(chr_rec_payload(w), chr_rec_payload(r), r->len - CHR_HDR_SIZE);
	return feed_commit(f, w, e);
}

static int gap(struct chr_feed *f, struct feed_inst *in, int64_t ts, int64_t ts_event,
	       uint64_t expected, uint64_t got, uint32_t reason, struct chr_err *e)
{
	struct chr_rec *r = feed_reserve(f, in, CHR_HDR_SIZE + sizeof(struct chr_gap), CHR_GAP,
					 ts, ts_event, e);
	struct chr_gap *g;

	if (r == NULL)
		return -1;
	g = chr_rec_payload(r);
	g->expected = expected;
	g->got = got;
	g->reason = reason;
	if (feed_commit(f, r, e) < 0)
		return -1;
	f->st.gaps++;
	in->state = INST_WAIT;
	return 0;
}

int feed_diff_mode(const struct chr_feed *f, const struct feed_inst *in, uint64_t U,
		   uint64_t u, uint64_t prev)
{
	uint64_t L = in->snap_id;

	switch (in->state) {
	case INST_WAIT:
		return DIFF_HOLD;
	case INST_FIRST:
		if (f->chain == CHAIN_PU) {
			if (u < L)
				return DIFF_DROP;
			return U <= L && L <= u ? DIFF_WRITE : DIFF_BREAK;
		}
		if (u <= L)
			return DIFF_DROP;
		return U <= L + 1 && L + 1 <= u ? DIFF_WRITE : DIFF_BREAK;
	default:
		if (f->chain == CHAIN_PU)
			return prev == in->last ? DIFF_WRITE : DIFF_BREAK;
		return U == in->last + 1 ? DIFF_WRITE : DIFF_BREAK;
	}
}

void feed_diff_written(struct chr_feed *f, struct feed_inst *in, const struct chr_book *b)
{
	in->state = INST_SYNC;
	in->last = b->update_id_last;
	f->st.diffs++;
}

/* keep r, a diff, until the book's next snapshot */
static int hold(struct chr_feed *f, struct feed_inst *in, const struct chr_rec *r,
		struct chr_err *e)
{
	size_t span = chr_rec_span(r->len);

	/* past the limit the oldest go: a snapshot will be newer than them */
	while (in->held_n > 0 && in->held_n + span > f->o.buffer_max) {
		size_t first = chr_rec_span(((const struct chr_rec *)in->held)->len);

		memmove(in->held, in->held + first, in->held_n - first);
		in->held_n -= first;
		in->held_count--;
		f->st.dropped++;
	}
	if (in->held_n + span > in->held_cap) {
		size_t nc = in->held_cap ? in->held_cap : 65536;
		unsigned char *p;

		while (nc < in->held_n + span)
			nc *= 2;
		if ((p = aligned_alloc(CHR_ALIGN, nc)) == NULL)
			return chr_err_set(e, CHR_EX_SYS, "out of memory");
		if (in->held_n > 0)
			memcpy(p, in->held, in->held_n);
		free(in->held);
		in->held = p;
		in->held_cap = nc;
	}
	memcpy(in->held + in->held_n, r, span);
	in->held_n += span;
	in->held_count++;
	f->st.buffered++;
	return 0;
}

/* place the diff r (not in the sink) written at ts at least */
static int place(struct chr_feed *f, struct feed_inst *in, const struct chr_rec *r,
		 int64_t ts, struct chr_err *e)
{
	const struct chr_book *b = chr_rec_payload(r);
	uint64_t U = b->update_id_first, u = b->update_id_last, prev = b->update_id_prev;
	uint64_t exp, got;

	switch (feed_diff_mode(f, in, U, u, prev)) {
	case DIFF_DROP:
		f->st.stale++;
		return 0;
	case DIFF_WRITE:
		if (write_copy(f, in, r, ts, e) < 0)
			return -1;
		feed_diff_written(f, in, b);
		return 0;
	case DIFF_BREAK:
		/* expected: what the next diff had to follow; got: what it did */
		if (in->state == INST_FIRST) {
			exp = f->chain == CHAIN_PU ? in->snap_id : in->snap_id + 1;
			got = U;
		} else {
			exp = f->chain == CHAIN_PU ? in->last : in->last + 1;
			got = f->chain == CHAIN_PU ? prev : U;
		}
		if (gap(f, in, r->ts > ts ? r->ts : ts, r->ts_event, exp, got,
			CHR_GAP_UPDATE_ID, e) < 0)
			return -1;
		/* the diff may bridge the next snapshot */
		return hold(f, in, r, e);
	default:
		return hold(f, in, r, e);
	}
}

int feed_diff_place(struct chr_feed *f, struct feed_inst *in, struct chr_rec *r,
		    struct chr_err *e)
{
	return place(f, in, r, r->ts, e);
}

int feed_snapshot_place(struct chr_feed *f, struct feed_inst *in, struct chr_rec *r,
			struct chr_err *e)
{
	const struct chr_book *b = chr_rec_payload(r);
	unsigned char *held = in->held;
	size_t n = in->held_n, off;
	int64_t ts = r->ts;
	int rc = 0;

	if (in->state == INST_SYNC) {
		/* its diffs follow already: the book needs no snapshot */
		f->st.snap_ignored++;
		return 0;
	}
	if (write_copy(f, in, r, ts, e) < 0)
		return -1;
	f->st.snapshots++;
	in->state = INST_FIRST;
	in->snap_id = b->update_id_last;
	/* the diffs held, in order, by the rules from this snapshot; those
	 * a break leaves are held again for the next one */
	in->held = NULL;
	in->held_n = in->held_cap = 0;
	in->held_count = 0;
	for (off = 0; off < n && rc == 0; off += chr_rec_span(((struct chr_rec *)(held + off))->len))
		rc = place(f, in, (const struct chr_rec *)(held + off), ts, e);
	free(held);
	return rc;
}

int chr_feed_disconnect(struct chr_feed *f, int64_t recv_ns, struct chr_err *e)
{
	for (size_t i = 0; i < f->ninst; i++) {
		struct feed_inst *in = f->inst[i];

		if (in->state != INST_WAIT &&
		    gap(f, in, recv_ns, 0, in->state == INST_SYNC ? in->last : in->snap_id, 0,
			CHR_GAP_RECONNECT, e) < 0)
			return -1;
		f->st.dropped += in->held_count;
		in->held_n = 0;
		in->held_count = 0;
	}
	return 0;
}
