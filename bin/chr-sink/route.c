/* route.c - chr-sink --route: each record into the queue its template
 * names (venue, symbol, stream, date), after its instrument's DEFINE; and
 * --resume: where a queue stands, so that a rerun skips what it holds. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chr.h"
#include "route.h"

#define ERRLEN 512

static int fail(char *err, int *status, int st, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int fail(char *err, int *status, int st, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, ERRLEN, fmt, ap);
	va_end(ap);
	if (status)
		*status = st;
	return -1;
}

static struct chr_rec *rec_copy(const struct chr_rec *rec)
{
	size_t span = chr_rec_span(rec->len);
	struct chr_rec *c = aligned_alloc(CHR_ALIGN, span);

	if (c)
		memcpy(c, rec, span);
	return c;
}

/* ---- resume ---- */

/* The key's second part: a synthetic record sorts just before the record
 * whose src_seq it carries. */
static unsigned syn1(const struct chr_rec *rec)
{
	return (rec->flags & CHR_F_SYNTHETIC) ? 0 : 1;
}

static int keycmp(uint64_t a, unsigned ak, uint64_t b, unsigned bk)
{
	if (a != b)
		return a < b ? -1 : 1;
	return ak < bk ? -1 : ak > bk;
}

struct seen {
	uint64_t src;
	uint16_t type, flags;
	struct chr_rec *def;	/* a copy of a DEFINE (route), or NULL */
};

void resume_defs_free(struct resume_def *defs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(defs[i].rec);
	free(defs);
}

static void seen_free(struct seen *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i].def);
}

/* The records of the window [from, end): scanned backwards for the last
 * counted one and the run of its key; 1 when that run starts in the window
 * (or nothing before it can matter), else 0: look further back. */
static int resume_walk(struct resume *rs, struct seen *v, size_t n, int whole, int route)
{
	int found = 0;

	rs->has = 0;
	for (size_t i = n; i-- > 0;) {
		unsigned k = (v[i].flags & CHR_F_SYNTHETIC) ? 0 : 1;

		if (v[i].flags & CHR_F_REPEAT)
			continue;
		if (route && v[i].type == CHR_DEFINE)
			continue;
		if (!found) {
			found = 1;
			rs->has = 1;
			rs->src = v[i].src;
			rs->syn1 = k;
			rs->left = 1;
		} else if (keycmp(v[i].src, k, rs->src, rs->syn1) == 0) {
			rs->left++;
		} else {
			return 1;
		}
	}
	if (!whole)
		rs->has = 0;
	return whole;
}

int resume_load(struct resume *rs, const struct chr_queue_writer *w, int route,
		struct resume_def **defs, size_t *ndefs, char *err, int *status)
{
	struct chr_queue_reader r;
	uint64_t end = w->seq, window = 1024;
	struct seen *v = NULL;
	size_t n = 0, cap = 0;
	int opened = 0, rc = -1;

	memset(rs, 0, sizeof *rs);
	if (defs) {
		*defs = NULL;
		*ndefs = 0;
	}
	if (end == 0)
		return 0;
	for (;;) {
		uint64_t from = end > window ? end - window : 0;
		const struct chr_rec *rec;
		int k;

		seen_free(v, n);
		n = 0;
		if (!opened ? chr_queue_reader_open(&r, w->dir, from) < 0 :
			      chr_queue_seek_seq(&r, from) < 0) {
			fail(err, status, r.status ? r.status : CHR_EX_SYS, "%s", r.err);
			opened = 0;	/* both close it on failure */
			goto out;
		}
		opened = 1;
		while ((k = chr_queue_next(&r, &rec)) > 0 && rec->seq < end) {
			if (n == cap) {
				size_t c = cap ? 2 * cap : 1024;
				struct seen *nv = realloc(v, c * sizeof *nv);

				if (!nv) {
					fail(err, status, CHR_EX_SYS, "%s", strerror(ENOMEM));
					goto out;
				}
				v = nv;
				cap = c;
			}
			v[n].src = rec->src_seq;
			v[n].type = rec->type;
			v[n].flags = rec->flags;
			v[n].def = NULL;
			if (route && rec->type == CHR_DEFINE && !(rec->flags & CHR_F_REPEAT) &&
			    !(v[n].def = rec_copy(rec))) {
				fail(err, status, CHR_EX_SYS, "%s", strerror(ENOMEM));
				goto out;
			}
			n++;
		}
		if (k < 0) {
			fail(err, status, r.status, "%s", r.err);
			goto out;
		}
		if (resume_walk(rs, v, n, from <= r.first_seq, route))
			break;
		window = window > end ? end : window * 8;
	}
	if (route && defs) {
		/* the DEFINEs after the last counted record: the queue has them */
		for (size_t i = n; i-- > 0;) {
			if (v[i].flags & CHR_F_REPEAT)
				continue;
			if (v[i].type != CHR_DEFINE)
				break;
			if (!*defs && !(*defs = calloc(n, sizeof **defs))) {
				fail(err, status, CHR_EX_SYS, "%s", strerror(ENOMEM));
				goto out;
			}
			(*defs)[(*ndefs)++].rec = v[i].def;
			v[i].def = NULL;
		}
	}
	rc = 0;
out:
	seen_free(v, n);
	free(v);
	if (opened)
		chr_queue_reader_close(&r);
	if (rc < 0 && defs) {
		resume_defs_free(*defs, *ndefs);
		*defs = NULL;
		*ndefs = 0;
	}
	return rc;
}

int resume_skip(struct resume *rs, const struct chr_rec *rec, const char *qname,
		const char *name, uint64_t off, char *err)
{
	unsigned k = syn1(rec);
	int c;

	/* a DEFINE repeated from further back has an older src_seq */
	if (!(rec->flags & CHR_F_REPEAT)) {
		if (rs->seen && keycmp(rec->src_seq, k, rs->last_src, rs->last_syn1) < 0)
			return fail(err, NULL, 0, "%s: byte %" PRIu64 ": src_seq %" PRIu64
				    " after %" PRIu64 " in queue '%s': --resume needs src_seq "
				    "that never goes back in a queue", name, off, rec->src_seq,
				    rs->last_src, qname);
		rs->seen = 1;
		rs->last_src = rec->src_seq;
		rs->last_syn1 = k;
	}
	if (!rs->has)
		return 0;
	c = keycmp(rec->src_seq, k, rs->src, rs->syn1);
	if (c < 0 || (c == 0 && rs->left > 0)) {
		if (c == 0)
			rs->left--;
		rs->skipped++;
		return 1;
	}
	return 0;
}

int resume_src_check(const struct chr_rec *rec, uint64_t seq, const char *qname,
		     const char *name, uint64_t off, char *err)
{
	/* the queue would store its own seq as src_seq: a later --resume
	 * could not find this record in the input again */
	if (rec->src_seq == 0 && seq != 0 && !(rec->flags & CHR_F_REPEAT))
		return fail(err, NULL, 0, "%s: byte %" PRIu64 ": %s with src_seq 0 would be seq %"
			    PRIu64 " of queue '%s': --resume needs the src_seq of each record's "
			    "origin", name, off, chr_type_name(rec->type), seq, qname);
	return 0;
}

/* ---- the template ---- */

enum { P_LIT, P_VENUE, P_SYMBOL, P_STREAM, P_DATE };

static const char *const placeholders[] = {NULL, "venue", "symbol", "stream", "date"};

struct part {
	int kind;
	const char *s;		/* P_LIT: the text */
	size_t n;
};

/* Parse tmpl into parts (NULL: count them). Returns the number of parts,
 * or -1 with why in buf. */
static long parse(const char *tmpl, struct part *parts, char *buf, size_t bn)
{
	long np = 0;

	if (*tmpl == '\0') {
		snprintf(buf, bn, "empty template");
		return -1;
	}
	for (const char *p = tmpl; *p;) {
		const char *e;
		int kind = -1;

		if (*p != '{') {
			size_t n = strcspn(p, "{");

			if (parts)
				parts[np] = (struct part){P_LIT, p, n};
			np++;
			p += n;
			continue;
		}
		e = strchr(p, '}');
		if (e == NULL) {
			snprintf(buf, bn, "'{' without '}'");
			return -1;
		}
		for (int k = P_VENUE; k <= P_DATE; k++)
			if (strlen(placeholders[k]) == (size_t)(e - p - 1) &&
			    strncmp(p + 1, placeholders[k], (size_t)(e - p - 1)) == 0)
				kind = k;
		if (kind < 0) {
			snprintf(buf, bn, "unknown placeholder '%.*s' (not {venue}, {symbol}, "
				 "{stream} or {date})", (int)(e - p + 1), p);
			return -1;
		}
		if (parts)
			parts[np] = (struct part){kind, NULL, 0};
		np++;
		p = e + 1;
	}
	return np;
}

const char *route_template_check(const char *tmpl, char *buf, size_t n)
{
	return parse(tmpl, NULL, buf, n) < 0 ? buf : NULL;
}

/* ---- instruments and queues ---- */

enum { S_BOOK, S_TRADE, S_QUOTE, S_TOPN, S_APP, NSTREAM };

static const char *const stream_names[NSTREAM] = {"book", "trade", "quote", "topn", "app"};

/* The stream of a record type, or -1: none (HEARTBEAT, DEFINE, reserved). */
static int stream_index(uint16_t type)
{
	const char *s = chr_stream_of(type);

	if (s == NULL)
		return type >= CHR_APP_MIN ? S_APP : -1;
	for (int i = 0; i < S_APP; i++)
		if (strcmp(s, stream_names[i]) == 0)
			return i;
	return -1;
}

struct rq;

struct inst {
	uint16_t vid;
	uint32_t mid;
	uint32_t gen;		/* +1 at each DEFINE that changes it */
	struct chr_rec *def;	/* its DEFINE (REPEAT cleared) */
	char venue[CHR_VENUE_MAX + 1], symbol[CHR_SYMBOL_MAX + 1];
	struct rq *q[NSTREAM];	/* the queue of its last record of each stream */
	int64_t day[NSTREAM];	/* and that record's day */
};

/* A queue holds the DEFINE of in as of generation gen. */
struct qinst {
	const struct inst *in;
	uint32_t gen;
};

struct rq {
	char *path;
	uint64_t hash;
	struct chr_queue_writer *w;	/* NULL while closed */
	uint64_t used;		/* when last written: the least recent is closed */
	int opened;		/* once in this run: first_seq and rs are set */
	uint64_t first_seq, end_seq, appended;
	struct resume rs;
	struct resume_def *tail;	/* DEFINEs after its last record (--resume) */
	size_t ntail;
	struct qinst *defd;	/* the DEFINEs it has */
	size_t ndefd, defd_cap, defd_last;
};

struct route {
	struct route_opts o;
	struct part *parts;
	size_t nparts;
	int use_venue, use_symbol, use_date;
	struct inst **itab;	/* open addressing by (venue, market) */
	size_t icap, ninst;
	struct rq **qtab;	/* open addressing by path */
	size_t qcap;
	struct rq **qs;		/* in the order they were first used */
	size_t nq, qs_cap;
	size_t nopen;
	uint64_t tick;
	uint64_t heartbeats;
	uint64_t reserved;	/* records of reserved types, and application
				 * records of no instrument: not routed */
};

static uint64_t mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	return x ^ (x >> 33);
}

static uint64_t str_hash(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
	return h;
}

static size_t islot(const struct route *rt, uint16_t vid, uint32_t mid)
{
	size_t i = mix(((uint64_t)vid << 32) | mid) & (rt->icap - 1);

	while (rt->itab[i] && (rt->itab[i]->vid != vid || rt->itab[i]->mid != mid))
		i = (i + 1) & (rt->icap - 1);
	return i;
}

static struct inst *inst_find(const struct route *rt, uint16_t vid, uint32_t mid)
{
	return rt->icap ? rt->itab[islot(rt, vid, mid)] : NULL;
}

static int inst_add(struct route *rt, struct inst *in)
{
	if (2 * (rt->ninst + 1) > rt->icap) {
		size_t cap = rt->icap ? 2 * rt->icap : 64;
		struct inst **old = rt->itab;
		size_t ocap = rt->icap;

		if (!(rt->itab = calloc(cap, sizeof *rt->itab))) {
			rt->itab = old;
			return -1;
		}
		rt->icap = cap;
		for (size_t i = 0; i < ocap; i++)
			if (old[i])
				rt->itab[islot(rt, old[i]->vid, old[i]->mid)] = old[i];
		free(old);
	}
	rt->itab[islot(rt, in->vid, in->mid)] = in;
	rt->ninst++;
	return 0;
}

static size_t qslot(const struct route *rt, const char *path, uint64_t h)
{
	size_t i = h & (rt->qcap - 1);

	while (rt->qtab[i] && (rt->qtab[i]->hash != h || strcmp(rt->qtab[i]->path, path) != 0))
		i = (i + 1) & (rt->qcap - 1);
	return i;
}

/* The queue of path, made (not opened) when new; NULL when out of memory. */
static struct rq *rq_get(struct route *rt, const char *path)
{
	uint64_t h = str_hash(path);
	struct rq *q;

	if (rt->qcap && (q = rt->qtab[qslot(rt, path, h)]))
		return q;
	if (2 * (rt->nq + 1) > rt->qcap) {
		size_t cap = rt->qcap ? 2 * rt->qcap : 64;
		struct rq **t = calloc(cap, sizeof *t);

		if (!t)
			return NULL;
		free(rt->qtab);
		rt->qtab = t;
		rt->qcap = cap;
		for (size_t i = 0; i < rt->nq; i++)
			rt->qtab[qslot(rt, rt->qs[i]->path, rt->qs[i]->hash)] = rt->qs[i];
	}
	if (rt->nq == rt->qs_cap) {
		size_t cap = rt->qs_cap ? 2 * rt->qs_cap : 64;
		struct rq **v = realloc(rt->qs, cap * sizeof *v);

		if (!v)
			return NULL;
		rt->qs = v;
		rt->qs_cap = cap;
	}
	if (!(q = calloc(1, sizeof *q)) || !(q->path = strdup(path))) {
		free(q);
		return NULL;
	}
	q->hash = h;
	rt->qtab[qslot(rt, path, h)] = q;
	rt->qs[rt->nq++] = q;
	return q;
}

static void rq_close(struct route *rt, struct rq *q)
{
	if (!q->w)
		return;
	q->end_seq = q->w->seq;
	chr_queue_writer_close(q->w);
	free(q->w);
	q->w = NULL;
	rt->nopen--;
}

/* Open the writer of q, closing the least recently written queue when
 * o.max_open are open; the first time, find its resume point. */
static int rq_open(struct route *rt, struct rq *q, char *err, int *status)
{
	struct chr_queue_writer *w;

	if (rt->nopen >= rt->o.max_open) {
		struct rq *lru = NULL;

		for (size_t i = 0; i < rt->nq; i++)
			if (rt->qs[i]->w && (!lru || rt->qs[i]->used < lru->used))
				lru = rt->qs[i];
		if (lru)
			rq_close(rt, lru);
	}
	if (!(w = malloc(sizeof *w)))
		return fail(err, status, CHR_EX_SYS, "%s", strerror(ENOMEM));
	if (chr_queue_writer_open(w, q->path, &rt->o.qo) < 0) {
		fail(err, status, w->status, "%s", w->err);
		free(w);
		return -1;
	}
	if (!q->opened) {
		q->first_seq = w->seq;
		if (rt->o.resume &&
		    resume_load(&q->rs, w, 1, &q->tail, &q->ntail, err, status) < 0) {
			chr_queue_writer_close(w);
			free(w);
			return -1;
		}
		q->opened = 1;
	}
	q->w = w;
	rt->nopen++;
	return 0;
}

static struct qinst *qinst_find(struct rq *q, const struct inst *in)
{
	if (q->defd_last < q->ndefd && q->defd[q->defd_last].in == in)
		return &q->defd[q->defd_last];
	for (size_t i = 0; i < q->ndefd; i++)
		if (q->defd[i].in == in) {
			q->defd_last = i;
			return &q->defd[i];
		}
	return NULL;
}

/* q has the DEFINE of in as it is now. Returns 0, or -1 (out of memory). */
static int qinst_mark(struct rq *q, const struct inst *in)
{
	struct qinst *d = qinst_find(q, in);

	if (!d) {
		if (q->ndefd == q->defd_cap) {
			size_t cap = q->defd_cap ? 2 * q->defd_cap : 4;
			struct qinst *v = realloc(q->defd, cap * sizeof *v);

			if (!v)
				return -1;
			q->defd = v;
			q->defd_cap = cap;
		}
		d = &q->defd[q->ndefd++];
		d->in = in;
	}
	d->gen = in->gen;
	return 0;
}

/* ---- routing ---- */

/* name printable for a message: the field up to its last non-NUL byte,
 * other bytes than printable ASCII as \xNN (as the archive shows them) */
static void show(char *out, size_t n, const char *field, size_t cap)
{
	size_t len = cap, k = 0;

	while (len > 0 && field[len - 1] == '\0')
		len--;
	for (size_t i = 0; i < len && k + 5 < n; i++) {
		unsigned char c = (unsigned char)field[i];

		if (c >= ' ' && c < 0x7f && c != '\\' && c != '\'')
			out[k++] = (char)c;
		else
			k += (size_t)snprintf(out + k, n - k, "\\x%02x", c);
	}
	out[k] = '\0';
}

static int define(struct route *rt, const struct chr_rec *rec, const char *name, uint64_t off,
		  char *err, int *status)
{
	const struct chr_define *d = chr_rec_payload(rec);
	char venue[CHR_VENUE_MAX + 1], symbol[CHR_SYMBOL_MAX + 1], shown[512];
	const char *bad;
	struct inst *in;
	struct chr_rec *c;

	if ((bad = chr_define_names(d, venue, symbol))) {
		show(shown, sizeof shown, d->symbol, sizeof d->symbol);
		return fail(err, status, CHR_EX_DATA, "%s: byte %" PRIu64 ": DEFINE of '%s': %s",
			    name, off, shown, bad);
	}
	if (rt->use_venue && (bad = chr_name_check(venue))) {
		show(shown, sizeof shown, venue, strlen(venue));
		return fail(err, status, CHR_EX_DATA, "%s: byte %" PRIu64 ": DEFINE venue '%s': %s",
			    name, off, shown, bad);
	}
	if (rt->use_symbol && (bad = chr_name_check(symbol))) {
		show(shown, sizeof shown, symbol, strlen(symbol));
		return fail(err, status, CHR_EX_DATA, "%s: byte %" PRIu64 ": DEFINE symbol '%s': %s",
			    name, off, shown, bad);
	}
	in = inst_find(rt, rec->venue, rec->market);
	if (in && in->def->len == rec->len &&
	    memcmp(chr_rec_payload(in->def), d, rec->len - CHR_HDR_SIZE) == 0)
		return 0;	/* the same again */
	if (!(c = rec_copy(rec)))
		return fail(err, status, CHR_EX_SYS, "%s", strerror(ENOMEM));
	c->flags &= (uint16_t)~CHR_F_REPEAT;
	if (!in) {
		if ((in = calloc(1, sizeof *in))) {
			in->vid = rec->venue;
			in->mid = rec->market;
		}
		if (!in || inst_add(rt, in) < 0) {
			free(in);
			free(c);
			return fail(err, status, CHR_EX_SYS, "%s", strerror(ENOMEM));
		}
	}
	/* bound to other names: its records go where these say, after it */
	free(in->def);
	in->def = c;
	in->gen++;
	strcpy(in->venue, venue);
	strcpy(in->symbol, symbol);
	memset(in->q, 0, sizeof in->q);
	return 0;
}

static int64_t day_of(int64_t ts)
{
	const int64_t day = 86400LL * 1000000000;

	return ts >= 0 ? ts / day : -((-(ts + 1)) / day) - 1;
}

/* The queue of in's records of stream s at time ts. */
static struct rq *route_of(struct route *rt, const struct inst *in, int s, int64_t ts,
			   const char *name, uint64_t off, char *err, int *status)
{
	char path[4096], date[16];
	size_t k = 0;
	struct rq *q;

	for (size_t i = 0; i < rt->nparts; i++) {
		const struct part *p = &rt->parts[i];
		const char *t = p->s;
		size_t n = p->n;

		switch (p->kind) {
		case P_VENUE: t = in->venue; n = strlen(t); break;
		case P_SYMBOL: t = in->symbol; n = strlen(t); break;
		case P_STREAM: t = stream_names[s]; n = strlen(t); break;
		case P_DATE: chr_date_format(date, ts); t = date; n = strlen(t); break;
		}
		if (k + n >= sizeof path) {
			fail(err, status, CHR_EX_SYS, "%s: byte %" PRIu64 ": the queue path of %s %s "
			     "is longer than %zu bytes", name, off, in->venue, in->symbol,
			     sizeof path - 1);
			return NULL;
		}
		memcpy(path + k, t, n);
		k += n;
	}
	path[k] = '\0';
	if (!(q = rq_get(rt, path)))
		fail(err, status, CHR_EX_SYS, "%s", strerror(ENOMEM));
	return q;
}

/* Append rec to q's writer; ts, when not INT64_MIN, replaces its ts. */
static int append(struct rq *q, const struct chr_rec *rec, int64_t ts, const char *name,
		  uint64_t off, char *err, int *status)
{
	struct chr_rec *r = chr_queue_reserve(q->w, rec->len);

	if (!r) {
		if (errno == EINVAL)
			return fail(err, status, CHR_EX_DATA, "%s: byte %" PRIu64 ": record larger "
				    "than a segment of queue '%s'", name, off, q->path);
		return fail(err, status, q->w->status, "%s", q->w->err);
	}
	memcpy((char *)r + 4, (const char *)rec + 4, rec->len - 4);
	if (ts != INT64_MIN)
		r->ts = ts;
	chr_queue_commit(q->w, r);
	q->appended++;
	return 0;
}

/* Make sure q holds in's DEFINE before a record of it: the queue's own
 * (--resume: found after its last record) or a copy, at time ts. */
static int define_in(struct rq *q, const struct inst *in, int64_t ts, const char *name,
		     uint64_t off, char *err, int *status)
{
	const struct qinst *d = qinst_find(q, in);

	if (d && d->gen == in->gen)
		return 0;
	for (size_t i = 0; i < q->ntail; i++) {
		const struct chr_rec *t = q->tail[i].rec;

		if (t->venue == in->vid && t->market == in->mid && t->len == in->def->len &&
		    memcmp(chr_rec_payload(t), chr_rec_payload(in->def),
			   t->len - CHR_HDR_SIZE) == 0)
			goto have;
	}
	if (append(q, in->def, ts, name, off, err, status) < 0)
		return -1;
have:
	if (qinst_mark(q, in) < 0)
		return fail(err, status, CHR_EX_SYS, "%s", strerror(ENOMEM));
	return 0;
}

int route_put(struct route *rt, const struct chr_rec *rec, const char *name, uint64_t off,
	      char *err, int *status)
{
	struct inst *in;
	struct rq *q;
	int s, k;
	int64_t day;

	if (rec->type == CHR_DEFINE)
		return define(rt, rec, name, off, err, status);
	if (rec->type == CHR_HEARTBEAT) {
		rt->heartbeats++;
		return 0;
	}
	if ((s = stream_index(rec->type)) < 0) {
		rt->reserved++;
		return 0;
	}
	in = inst_find(rt, rec->venue, rec->market);
	if (!in && s == S_APP && rec->venue == 0 && rec->market == 0) {
		rt->reserved++;	/* an application record of no instrument */
		return 0;
	}
	if (!in)
		return fail(err, status, CHR_EX_DATA, "%s: byte %" PRIu64 ": %s of venue %u market %"
			    PRIu32 " before any DEFINE of it", name, off, chr_type_name(rec->type),
			    rec->venue, rec->market);
	day = day_of(rec->ts);
	q = in->q[s];
	if (!q || (rt->use_date && in->day[s] != day)) {
		if (!(q = route_of(rt, in, s, rec->ts, name, off, err, status)))
			return -1;
		in->q[s] = q;
		in->day[s] = day;
	}
	if (rt->o.resume) {
		if (!q->opened && rq_open(rt, q, err, status) < 0)
			return -1;
		if ((k = resume_skip(&q->rs, rec, q->path, name, off, err)) < 0) {
			*status = CHR_EX_DATA;
			return -1;
		}
		if (k) {
			/* the queue has it, and the DEFINE written before it */
			if (qinst_mark(q, in) < 0)
				return fail(err, status, CHR_EX_SYS, "%s", strerror(ENOMEM));
			return 0;
		}
	}
	if (!q->w && rq_open(rt, q, err, status) < 0)
		return -1;
	q->used = ++rt->tick;
	if (define_in(q, in, rec->ts, name, off, err, status) < 0)
		return -1;
	if (rt->o.resume && resume_src_check(rec, q->w->seq, q->path, name, off, err) < 0) {
		*status = CHR_EX_DATA;
		return -1;
	}
	return append(q, rec, INT64_MIN, name, off, err, status);
}

struct route *route_new(const struct route_opts *o)
{
	struct route *rt = calloc(1, sizeof *rt);
	char buf[256];
	long np;

	if (!rt)
		return NULL;
	rt->o = *o;
	rt->o.qo.flags |= CHR_QUEUE_CREATE;
	if (!rt->o.max_open)
		rt->o.max_open = ROUTE_MAX_OPEN;
	np = parse(o->tmpl, NULL, buf, sizeof buf);
	if (np <= 0 || !(rt->parts = calloc((size_t)np, sizeof *rt->parts))) {
		free(rt);
		return NULL;
	}
	rt->nparts = (size_t)parse(o->tmpl, rt->parts, buf, sizeof buf);
	for (size_t i = 0; i < rt->nparts; i++) {
		rt->use_venue |= rt->parts[i].kind == P_VENUE;
		rt->use_symbol |= rt->parts[i].kind == P_SYMBOL;
		rt->use_date |= rt->parts[i].kind == P_DATE;
	}
	return rt;
}

void route_free(struct route *rt)
{
	if (!rt)
		return;
	for (size_t i = 0; i < rt->nq; i++) {
		struct rq *q = rt->qs[i];

		rq_close(rt, q);
		resume_defs_free(q->tail, q->ntail);
		free(q->defd);
		free(q->path);
		free(q);
	}
	for (size_t i = 0; i < rt->icap; i++)
		if (rt->itab[i]) {
			free(rt->itab[i]->def);
			free(rt->itab[i]);
		}
	free(rt->itab);
	free(rt->qtab);
	free(rt->qs);
	free(rt->parts);
	free(rt);
}

void route_end(struct route *rt, int verbose)
{
	uint64_t appended = 0, skipped = 0;

	for (size_t i = 0; i < rt->nq; i++)
		rq_close(rt, rt->qs[i]);
	for (size_t i = 0; i < rt->nq; i++) {
		const struct rq *q = rt->qs[i];

		appended += q->appended;
		skipped += q->rs.skipped;
		if (!verbose)
			continue;
		if (rt->o.resume)
			chr_warn("%s: %" PRIu64 " records appended, seq %" PRIu64 " to %" PRIu64
				 ", %" PRIu64 " skipped (--resume)", q->path, q->appended,
				 q->first_seq, q->end_seq, q->rs.skipped);
		else
			chr_warn("%s: %" PRIu64 " records appended, seq %" PRIu64 " to %" PRIu64,
				 q->path, q->appended, q->first_seq, q->end_seq);
	}
	if (verbose) {
		chr_warn("%" PRIu64 " records appended to %zu queues", appended, rt->nq);
		if (rt->o.resume)
			chr_warn("%" PRIu64 " records skipped: the queues held them (--resume)",
				 skipped);
		if (rt->heartbeats)
			chr_warn("%" PRIu64 " HEARTBEAT records skipped", rt->heartbeats);
	}
	if (rt->reserved)
		chr_warn("%" PRIu64 " records of reserved types or of no instrument (application "
			 "types, venue and market 0) not routed", rt->reserved);
	route_free(rt);
}
