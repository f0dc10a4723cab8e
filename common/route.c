/* route.c - routing: each record into the queue its template names
 * (venue, symbol, stream, date), after its instrument's DEFINE (the
 * partitioner, part.h), with --resume (resume.h). */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "part.h"
#include "resume.h"
#include "route.h"
#include "tm.h"

/* ---- the template ---- */

enum { P_LIT, P_VENUE, P_SYMBOL, P_STREAM, P_DATE };

static const char *const placeholders[] = {NULL, "venue", "symbol", "stream", "date"};

struct tpart {
	int kind;
	const char *s;		/* P_LIT: the text */
	size_t n;
};

/* Parse tmpl into parts (NULL: count them). Returns the number of parts,
 * or -1 with why in buf. */
static long parse(const char *tmpl, struct tpart *parts, char *buf, size_t bn)
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
				parts[np] = (struct tpart){P_LIT, p, n};
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
			parts[np] = (struct tpart){kind, NULL, 0};
		np++;
		p = e + 1;
	}
	return np;
}

const char *chr_route_template_check(const char *tmpl, char *buf, size_t n)
{
	return parse(tmpl, NULL, buf, n) < 0 ? buf : NULL;
}

/* ---- queues ---- */

struct rq {
	char *path;
	uint64_t hash;
	struct chr_queue_writer *w;	/* NULL while closed */
	uint64_t used;		/* when last written: the least recent is closed */
	int opened;		/* once in this run: first_seq and rs are set */
	uint64_t first_seq, end_seq, appended;
	int dirty;		/* appended to since chr_route_flush */
	struct chr_resume rs;
	struct chr_part_defs defs;	/* the DEFINEs it has */
};

struct chr_route {
	struct chr_route_opts o;
	struct tpart *parts;
	size_t nparts;
	struct chr_part part;
	struct rq **qtab;	/* open addressing by path */
	size_t qcap;
	struct rq **qs;		/* in the order they were first used */
	size_t nq, qs_cap;
	size_t nopen;
	uint64_t tick;
	uint64_t heartbeats;
};

static uint64_t str_hash(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
	return h;
}

static size_t qslot(const struct chr_route *rt, const char *path, uint64_t h)
{
	size_t i = h & (rt->qcap - 1);

	while (rt->qtab[i] && (rt->qtab[i]->hash != h || strcmp(rt->qtab[i]->path, path) != 0))
		i = (i + 1) & (rt->qcap - 1);
	return i;
}

/* The queue of path, made (not opened) when new; NULL when out of memory. */
static struct rq *rq_get(struct chr_route *rt, const char *path)
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

static void rq_close(struct chr_route *rt, struct rq *q)
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
static int rq_open(struct chr_route *rt, struct rq *q, struct chr_err *e)
{
	struct chr_queue_writer *w;

	if (rt->nopen >= rt->o.max_open) {
		struct rq *lru = NULL;

		for (size_t i = 0; i < rt->nq; i++)
			if (rt->qs[i]->w && (!lru || rt->qs[i]->used < lru->used))
				lru = rt->qs[i];
		/* what chr_route_flush would make durable must not be lost
		 * by closing it */
		if (lru && rt->o.durable && lru->dirty && chr_queue_flush(lru->w) < 0)
			return chr_err_set(e, lru->w->e.status, "%s", lru->w->e.msg);
		if (lru)
			rq_close(rt, lru);
	}
	if (!(w = malloc(sizeof *w)))
		return chr_err_set(e, CHR_EX_SYS, "%s", strerror(ENOMEM));
	if (chr_queue_writer_open(w, q->path, &rt->o.qo) < 0) {
		chr_err_set(e, w->e.status, "%s", w->e.msg);
		free(w);
		return -1;
	}
	if (!q->opened) {
		q->first_seq = w->seq;
		if (rt->o.resume && chr_resume_load(&q->rs, w, 1, e) < 0) {
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

/* ---- routing ---- */

/* The queue of in's records of stream s at time ts. */
static struct rq *route_of(struct chr_route *rt, const struct chr_inst *in, int s, int64_t ts,
			   const char *name, uint64_t off, struct chr_err *e)
{
	char path[4096], date[16];
	size_t k = 0;
	struct rq *q;

	for (size_t i = 0; i < rt->nparts; i++) {
		const struct tpart *p = &rt->parts[i];
		const char *t = p->s;
		size_t n = p->n;

		switch (p->kind) {
		case P_VENUE: t = in->venue; n = strlen(t); break;
		case P_SYMBOL: t = in->symbol; n = strlen(t); break;
		case P_STREAM: t = chr_stream_names[s]; n = strlen(t); break;
		case P_DATE: chr_date_format(date, ts); t = date; n = strlen(t); break;
		}
		if (k + n >= sizeof path) {
			chr_err_set(e, CHR_EX_SYS, "%s: byte %" PRIu64 ": the queue path of %s %s "
				    "is longer than %zu bytes", name, off, in->venue, in->symbol,
				    sizeof path - 1);
			return NULL;
		}
		memcpy(path + k, t, n);
		k += n;
	}
	path[k] = '\0';
	if (!(q = rq_get(rt, path)))
		chr_err_set(e, CHR_EX_SYS, "%s", strerror(ENOMEM));
	return q;
}

/* Append rec to q's writer; ts, when not INT64_MIN, replaces its ts. */
static int append(struct rq *q, const struct chr_rec *rec, int64_t ts, const char *name,
		  uint64_t off, struct chr_err *e)
{
	struct chr_rec *r = chr_queue_reserve(q->w, rec->len);

	if (!r) {
		if (errno == EINVAL)
			return chr_err_set(e, CHR_EX_DATA, "%s: byte %" PRIu64 ": record larger "
					   "than a segment of queue '%s'", name, off, q->path);
		return chr_err_set(e, q->w->e.status, "%s", q->w->e.msg);
	}
	memcpy((char *)r + 4, (const char *)rec + 4, rec->len - 4);
	if (ts != INT64_MIN)
		r->ts = ts;
	chr_queue_commit(q->w, r);
	q->appended++;
	q->dirty = 1;
	return 0;
}

/* Make sure q holds in's DEFINE before a record of it: the queue's own
 * (--resume: found after its last record) or a copy, at time ts. */
static int define_in(struct rq *q, const struct chr_inst *in, int64_t ts, const char *name,
		     uint64_t off, struct chr_err *e)
{
	const struct chr_rec *d;
	int held;

	if (!chr_part_needs_define(&q->defs, in))
		return 0;
	/* the queue may hold it already: written before its last record, or
	 * after it by a run that died before the record (the writer knows
	 * the DEFINEs of its queue, repeated at each roll) */
	d = chr_queue_define_of(q->w, in->venue_id, in->market_id);
	held = d && d->len == in->def->len &&
	       memcmp(chr_rec_payload(d), chr_rec_payload(in->def), d->len - CHR_HDR_SIZE) == 0;
	if (!held && append(q, in->def, ts, name, off, e) < 0)
		return -1;
	if (chr_part_defs_mark(&q->defs, in) < 0)
		return chr_err_set(e, CHR_EX_SYS, "%s", strerror(ENOMEM));
	return 0;
}

int chr_route_put(struct chr_route *rt, const struct chr_rec *rec, const char *name,
		  uint64_t off, struct chr_err *e)
{
	struct chr_inst *in;
	struct rq *q;
	int s, k;
	int64_t day;

	if (rec->type == CHR_HEARTBEAT) {
		rt->heartbeats++;
		return 0;
	}
	if ((k = chr_part_take(&rt->part, rec, name, off, &in, &s, e)) <= 0)
		return k;
	day = chr_part_day(&rt->part, rec->ts);
	if (!(q = chr_part_cached(in, s, day))) {
		if (!(q = route_of(rt, in, s, rec->ts, name, off, e)))
			return -1;
		chr_part_keep(in, s, day, q);
	}
	if (rt->o.resume) {
		if (!q->opened && rq_open(rt, q, e) < 0)
			return -1;
		if ((k = chr_resume_skip(&q->rs, rec, q->path, name, off, e)) < 0)
			return -1;
		if (k) {
			/* the queue has it, and the DEFINE written before it */
			if (chr_part_defs_mark(&q->defs, in) < 0)
				return chr_err_set(e, CHR_EX_SYS, "%s", strerror(ENOMEM));
			return 0;
		}
	}
	if (!q->w && rq_open(rt, q, e) < 0)
		return -1;
	q->used = ++rt->tick;
	if (define_in(q, in, rec->ts, name, off, e) < 0)
		return -1;
	if (rt->o.resume && chr_resume_src_check(rec, q->w->seq, q->path, name, off, e) < 0)
		return -1;
	return append(q, rec, INT64_MIN, name, off, e);
}

int chr_route_flush(struct chr_route *rt, struct chr_err *e)
{
	for (size_t i = 0; i < rt->nq; i++) {
		struct rq *q = rt->qs[i];

		if (q->w && q->dirty && chr_queue_flush(q->w) < 0)
			return chr_err_set(e, q->w->e.status, "%s", q->w->e.msg);
		q->dirty = 0;
	}
	return 0;
}

struct chr_route *chr_route_new(const struct chr_route_opts *o)
{
	struct chr_route *rt = calloc(1, sizeof *rt);
	unsigned flags = CHR_PART_REBIND | CHR_PART_APP;
	char buf[256];
	long np;

	if (!rt)
		return NULL;
	rt->o = *o;
	rt->o.qo.flags |= CHR_QUEUE_CREATE;
	if (!rt->o.max_open)
		rt->o.max_open = CHR_ROUTE_MAX_OPEN;
	np = parse(o->tmpl, NULL, buf, sizeof buf);
	if (np <= 0 || !(rt->parts = calloc((size_t)np, sizeof *rt->parts))) {
		free(rt);
		return NULL;
	}
	rt->nparts = (size_t)parse(o->tmpl, rt->parts, buf, sizeof buf);
	for (size_t i = 0; i < rt->nparts; i++)
		flags |= rt->parts[i].kind == P_VENUE ? CHR_PART_VENUE :
			 rt->parts[i].kind == P_SYMBOL ? CHR_PART_SYMBOL :
			 rt->parts[i].kind == P_DATE ? CHR_PART_DAYS : 0;
	chr_part_init(&rt->part, flags);
	return rt;
}

void chr_route_free(struct chr_route *rt)
{
	if (!rt)
		return;
	for (size_t i = 0; i < rt->nq; i++) {
		struct rq *q = rt->qs[i];

		rq_close(rt, q);
		chr_part_defs_free(&q->defs);
		free(q->path);
		free(q);
	}
	chr_part_free(&rt->part);
	free(rt->qtab);
	free(rt->qs);
	free(rt->parts);
	free(rt);
}

/* warn(ctx, the formatted message) */
static void say(chr_warn_fn warn, void *ctx, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void say(chr_warn_fn warn, void *ctx, const char *fmt, ...)
{
	char msg[4096 + 256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	warn(ctx, msg);
}

void chr_route_end(struct chr_route *rt, int verbose, chr_warn_fn warn, void *ctx)
{
	uint64_t appended = 0, skipped = 0;

	for (size_t i = 0; i < rt->nq; i++)
		rq_close(rt, rt->qs[i]);
	for (size_t i = 0; i < rt->nq; i++) {
		const struct rq *q = rt->qs[i];

		appended += q->appended;
		skipped += q->rs.skipped;
		if (verbose && rt->o.resume)
			say(warn, ctx, "%s: %" PRIu64 " records appended, seq %" PRIu64 " to %" PRIu64
			    ", %" PRIu64 " skipped (--resume)", q->path, q->appended, q->first_seq,
			    q->end_seq, q->rs.skipped);
		else if (verbose)
			say(warn, ctx, "%s: %" PRIu64 " records appended, seq %" PRIu64 " to %" PRIu64,
			    q->path, q->appended, q->first_seq, q->end_seq);
	}
	if (verbose) {
		say(warn, ctx, "%" PRIu64 " records appended to %zu queues", appended, rt->nq);
		if (rt->o.resume)
			say(warn, ctx, "%" PRIu64 " records skipped: the queues held them (--resume)",
			    skipped);
		if (rt->heartbeats)
			say(warn, ctx, "%" PRIu64 " HEARTBEAT records skipped", rt->heartbeats);
	}
	if (rt->part.skipped)
		say(warn, ctx, "%" PRIu64 " records of reserved types or of no instrument (application "
		    "types, venue and market 0) not routed", rt->part.skipped);
}

size_t chr_route_fd_room(size_t n)
{
	struct rlimit rl;
	rlim_t need = (rlim_t)n * 2 + 64, cur;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= need)
		return n;
	cur = rl.rlim_cur;
	rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > need ? need : rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
		rl.rlim_cur = cur;
	if (rl.rlim_cur < need)
		return rl.rlim_cur > 66 ? (size_t)(rl.rlim_cur - 64) / 2 : 1;
	return n;
}
