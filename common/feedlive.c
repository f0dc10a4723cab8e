/* feedlive.c - a feed's live mode: websocket frames to the normaliser, REST
 * snapshots for the books that wait, each symbol with its own backoff. */
#include <ctype.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "feedlive.h"
#include "rest.h"

#define SYM_MAX 32
#define LAT_STEP 10			/* ns per latency bucket up to 1 ms ... */
#define LAT_N 100000
#define LAT_STEP2 1000			/* ... then 1 us per bucket up to 100 ms */
#define LAT_N2 99000

struct sym {
	char name[SYM_MAX + 1];		/* upper case, as the REST wants it */
	int64_t next_ns;		/* no GET before this */
	int64_t backoff_ns;		/* the wait after the next GET */
	int64_t last_ns;		/* the last GET's start (0: none) */
};

struct lat {
	uint64_t *b;			/* LAT_N + LAT_N2 buckets */
	uint64_t n, over;		/* measured; past the last bucket */
	int64_t max;
};

/* A snapshot's GET, in a thread of its own so that the frames are read
 * meanwhile; one at a time (one libcurl handle). */
struct get {
	pthread_t th;
	int busy;			/* started, not yet joined */
	atomic_int done;		/* the thread has finished */
	size_t sym;			/* whose snapshot */
	uint64_t gen;			/* the connection's generation at the start */
	int64_t t0, t1;			/* started, finished */
	struct chr_rest *rest;
	long timeout_ms;
	char url[1024];
	int rc;
	struct chr_rest_reply rep;
	struct chr_err e;
};

struct chr_feedlive {
	struct chr_feed *f;
	struct chr_ws *w;
	struct chr_rest *rest;
	struct chr_feed_sink sink;	/* the caller's */
	struct chr_feedlive_opts o;
	struct sym *syms;
	const char **wanted;
	char *url, *rest_url;
	int up;
	uint64_t conn, frames, bad, gets, get_failed, refused;
	int64_t get_ns_max;		/* the longest GET */
	int64_t rest_block_ns;		/* no GET before this: a 429 or 418 */
	struct get get;
	atomic_int stopping;		/* the run is over: a GET under way gives up */
	uint64_t gen;			/* connections lost so far */
	int64_t last_ns;		/* the last frame's receive time */
	int in_msg;			/* inside chr_feed_msg: records measured */
	int64_t cur_ns;			/* that frame's receive time */
	int64_t commit_ns;		/* its last record's commit (0: none) */
	struct lat rec, ws;
	struct chr_err e;		/* a callback's error */
};

static const struct venue {
	const char *name, *ws, *rest, *depth;
} venues[] = {
	{ "binance-futures", "wss://fstream.binance.com/stream",
	  "https://fapi.binance.com/fapi/v1/depth", "@depth@0ms" },
	{ "binance-delivery", "wss://dstream.binance.com/stream",
	  "https://dapi.binance.com/dapi/v1/depth", "@depth@0ms" },
	{ "binance", "wss://stream.binance.com:9443/stream",
	  "https://api.binance.com/api/v3/depth", "@depth@100ms" },
};

static int64_t now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_REALTIME, &t);
	return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static void lat_add(struct lat *h, int64_t d)
{
	if (d < 0)
		d = 0;
	if (d > h->max)
		h->max = d;
	h->n++;
	if (d / LAT_STEP < LAT_N)
		h->b[d / LAT_STEP]++;
	else if ((d - LAT_N * LAT_STEP) / LAT_STEP2 < LAT_N2)
		h->b[LAT_N + (d - LAT_N * LAT_STEP) / LAT_STEP2]++;
	else
		h->over++;
}

static int64_t lat_at(const struct lat *h, double p)
{
	uint64_t want = (uint64_t)(p * (double)h->n), seen = 0;

	if (want >= h->n)
		want = h->n - 1;
	for (size_t i = 0; i < LAT_N + LAT_N2; i++)
		if ((seen += h->b[i]) > want)
			return i < LAT_N ? (int64_t)i * LAT_STEP :
			       (int64_t)LAT_N * LAT_STEP + (int64_t)(i - LAT_N) * LAT_STEP2;
	return h->max;
}

static void note(struct chr_feedlive *l, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void note(struct chr_feedlive *l, const char *fmt, ...)
{
	char msg[1200];
	va_list ap;

	if (l->o.note == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	l->o.note(l->o.note_ctx, msg);
}

int chr_feedlive_symbol(const char *s, struct chr_err *e)
{
	size_t n = strlen(s);

	for (size_t i = 0; i < n; i++)
		if (!isascii((unsigned char)s[i]) ||
		    !(isalnum((unsigned char)s[i]) || s[i] == '_'))
			n = 0;
	if (n == 0 || n > SYM_MAX)
		return chr_err_set(e, CHR_EX_USAGE, "'%s' is not a symbol (1 to %d letters, "
				   "digits or '_')", s, SYM_MAX), -1;
	return 0;
}

static struct chr_rec *lv_reserve(void *arg, uint32_t len, struct chr_err *e)
{
	struct chr_feedlive *l = arg;

	return l->sink.reserve(l->sink.arg, len, e);
}

static int lv_commit(void *arg, struct chr_rec *rec, struct chr_err *e)
{
	struct chr_feedlive *l = arg;

	if (l->sink.commit(l->sink.arg, rec, e) < 0)
		return -1;
	if (l->in_msg) {
		l->commit_ns = now_ns();
		lat_add(&l->rec, l->commit_ns - l->cur_ns);
	}
	return 0;
}

static int get_finish(struct chr_feedlive *l, struct chr_err *e);

static int on_msg(void *ctx, int64_t ns, const char *data, size_t len)
{
	struct chr_feedlive *l = ctx;
	int k;

	l->frames++;
	l->last_ns = ns;
	if (l->o.latency) {
		lat_add(&l->ws, now_ns() - ns);
		l->in_msg = 1;
		l->cur_ns = ns;
	}
	k = chr_feed_msg(l->f, ns, data, len, &l->e);
	l->in_msg = 0;
	if (l->commit_ns && l->o.latency_log)
		fprintf(l->o.latency_log, "%llu %lld %lld\n", (unsigned long long)l->frames,
			(long long)ns, (long long)l->commit_ns);
	l->commit_ns = 0;
	if (k >= 0 && l->o.flush && l->o.flush(l->o.flush_ctx, &l->e) < 0)
		return 1;
	if (k == 0)
		return 0;
	if (k < 0 && l->e.status != CHR_EX_DATA)
		return 1;	/* the sink's error */
	{
		char where[400];
		struct chr_err e2;

		snprintf(where, sizeof where, "'%s': connection %llu, frame %llu", l->url,
			 (unsigned long long)l->conn, (unsigned long long)l->frames);
		if (k < 0) {
			chr_err_set(&e2, CHR_EX_DATA, "%s: %s", where, l->e.msg);
			l->e = e2;
			return 1;
		}
		l->bad++;
		note(l, "%s: %s (skipped)", where, l->e.msg);
	}
	return 0;
}

static int on_event(void *ctx, const struct chr_ws_info *in)
{
	struct chr_feedlive *l = ctx;
	int lost = in->ev == CHR_WS_DOWN || (in->ev == CHR_WS_RENEWED && !in->seamless);

	if (in->ev == CHR_WS_UP || in->ev == CHR_WS_RENEWED) {
		l->conn = in->conn;
		l->up = 1;
	}
	if (in->ev == CHR_WS_DOWN)
		l->up = 0;
	if (in->ev == CHR_WS_RETRY || lost) {
		const char *why = in->why ? in->why : "";

		if (in->ev == CHR_WS_RETRY)
			note(l, "'%s': attempt %u failed: %s (next in %lld ms)", l->url,
			     in->attempt, why, (long long)(in->retry_ns / 1000000));
		else if (in->ev == CHR_WS_DOWN && in->retry_ns)
			note(l, "'%s': connection %llu lost: %s (next in %lld ms)", l->url,
			     (unsigned long long)in->conn, why, (long long)(in->retry_ns / 1000000));
		else if (in->ev == CHR_WS_DOWN)
			note(l, "'%s': connection %llu lost: %s", l->url,
			     (unsigned long long)in->conn, why);
		else
			note(l, "'%s': renewed as connection %llu without a seam (a loss): %s",
			     l->url, (unsigned long long)in->conn, why);
	}
	if (lost) {
		/* a snapshot that came before the loss was seen is the old
		 * connection's: taken first. One still under way is of no use
		 * now; the books' snapshots are asked for as their backoff
		 * allows (kept across losses: a flapping link does not make a
		 * GET at each reconnect) */
		if (get_finish(l, &l->e) < 0)
			return 1;
		l->gen++;
		return chr_feed_disconnect(l->f, in->ns, &l->e) < 0;
	}
	return 0;
}

/* Does the book of name still wait for its snapshot? */
static int wanted(struct chr_feedlive *l, const char *name)
{
	size_t n = chr_feed_wanted(l->f, l->wanted, l->o.nsym);

	for (size_t i = 0; i < n && i < l->o.nsym; i++)
		if (strcmp(l->wanted[i], name) == 0)
			return 1;
	return 0;
}

static void *get_run(void *arg)
{
	struct get *g = arg;

	g->rc = chr_rest_get(g->rest, g->url, g->timeout_ms, &g->rep, &g->e);
	g->t1 = now_ns();
	atomic_store(&g->done, 1);
	return NULL;
}

/* Start the GET of symbol i's snapshot. Returns 0, or -1 with e. */
static int get_start(struct chr_feedlive *l, size_t i, struct chr_err *e)
{
	struct get *g = &l->get;
	sigset_t all, old;
	int rc;

	g->sym = i;
	g->gen = l->gen;
	g->rest = l->rest;
	g->timeout_ms = l->o.rest_timeout_ms;
	snprintf(g->url, sizeof g->url, "%s?symbol=%s&limit=1000", l->rest_url, l->syms[i].name);
	atomic_store(&g->done, 0);
	g->t0 = now_ns();
	/* the thread takes no signal: SIGTERM and SIGINT end the loop's wait */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&g->th, NULL, get_run, g);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0)
		return chr_err_set(e, CHR_EX_SYS, "cannot start a thread: %s", strerror(rc)), -1;
	g->busy = 1;
	l->gets++;
	return 0;
}

/* The GET under way, once it has finished: its snapshot to the normaliser.
 * Returns 0, or -1 with e (the sink's error). */
static int get_finish(struct chr_feedlive *l, struct chr_err *e)
{
	struct get *g = &l->get;
	struct sym *s = &l->syms[g->sym];
	int64_t ts;

	if (!g->busy || !atomic_load(&g->done))
		return 0;
	pthread_join(g->th, NULL);
	g->busy = 0;
	if (g->t1 - g->t0 > l->get_ns_max)
		l->get_ns_max = g->t1 - g->t0;
	if (g->rc < 0 && (g->rep.status == 429 || g->rep.status == 418)) {
		/* too many requests (418: banned for them): no GET of any
		 * symbol before the exchange's Retry-After, else the most
		 * the backoff waits */
		int64_t d = g->rep.retry_after_ns ? g->rep.retry_after_ns :
			    l->o.snap_backoff_max_ns;

		l->rest_block_ns = g->t1 + d;
		l->get_failed++;
		note(l, "%s (no GET for %lld ms%s)", g->e.msg, (long long)(d / 1000000),
		     g->rep.retry_after_ns ? ", its Retry-After" : "");
		return 0;
	}
	if (g->gen != l->gen)
		return 0;	/* taken before a loss: asked again, after the backoff */
	if (g->rc < 0) {
		l->get_failed++;
		note(l, "%s (tried again later)", g->e.msg);
		return 0;
	}
	/* the frames read while it came are written: a stream's ts never
	 * goes back */
	ts = g->rep.recv_ns > l->last_ns ? g->rep.recv_ns : l->last_ns;
	if (chr_feed_snapshot(l->f, ts, s->name, g->rep.body, g->rep.len, e) < 0) {
		if (e->status != CHR_EX_DATA)
			return -1;
		/* a bad snapshot is the exchange's: asked again */
		l->get_failed++;
		note(l, "GET '%s': %s (tried again later)", g->url, e->msg);
		return 0;
	}
	if (wanted(l, s->name)) {
		l->refused++;
		note(l, "GET '%s': a snapshot older than the diffs held: refused "
		     "(tried again later)", g->url);
		return 0;
	}
	return 0;	/* taken: the backoff goes on (snapshots()) */
}

/* A finished GET's snapshot taken; while a connection is up and no GET is
 * under way, the next snapshot a book waits for, when its backoff allows. */
static int snapshots(struct chr_feedlive *l, struct chr_err *e)
{
	int64_t t = now_ns();

	if (get_finish(l, e) < 0)
		return -1;
	if (l->get.busy || !l->up || t < l->rest_block_ns)
		return 0;
	for (size_t i = 0; i < l->o.nsym; i++) {
		struct sym *s = &l->syms[i];

		if (t < s->next_ns || !wanted(l, s->name))
			continue;
		/* each GET of a symbol waits the backoff after its last one,
		 * taken or not; after backoff_max without a GET, the least */
		if (s->last_ns && t - s->last_ns >= l->o.snap_backoff_max_ns)
			s->backoff_ns = l->o.snap_backoff_min_ns;
		s->last_ns = t;
		s->next_ns = t + s->backoff_ns;
		if (s->backoff_ns < l->o.snap_backoff_max_ns / 2)
			s->backoff_ns *= 2;
		else
			s->backoff_ns = l->o.snap_backoff_max_ns;
		return get_start(l, i, e);
	}
	return 0;
}

struct chr_feedlive *chr_feedlive_new(const char *venue, const struct chr_feed_opts *fo,
				      const struct chr_feedlive_opts *o, struct chr_err *e)
{
	const struct venue *v = NULL;
	struct chr_feedlive *l;
	struct chr_feed_opts fo2 = *fo;
	struct chr_ws_opts wo = { 0 };
	struct chr_ws_cb cb;
	size_t ulen;

	for (size_t i = 0; i < sizeof venues / sizeof venues[0]; i++)
		if (strcmp(venue, venues[i].name) == 0)
			v = &venues[i];
	if (v == NULL)
		return chr_err_set(e, CHR_EX_USAGE, "'%s' is not a venue of the live mode "
				   "(binance-futures, binance-delivery, binance)", venue), NULL;
	if (o->nsym == 0)
		return chr_err_set(e, CHR_EX_USAGE, "no symbol to subscribe to"), NULL;
	for (size_t i = 0; i < o->nsym; i++)
		if (chr_feedlive_symbol(o->symbols[i], e) < 0)
			return NULL;
	if ((l = calloc(1, sizeof *l)) == NULL)
		goto nomem;
	l->o = *o;
	if (!l->o.ws_url)
		l->o.ws_url = v->ws;
	if (!l->o.rest_url)
		l->o.rest_url = v->rest;
	if (l->o.rest_timeout_ms <= 0)
		l->o.rest_timeout_ms = 5000;
	if (l->o.snap_backoff_min_ns <= 0)
		l->o.snap_backoff_min_ns = 500000000;
	if (l->o.snap_backoff_max_ns < l->o.snap_backoff_min_ns)
		l->o.snap_backoff_max_ns = 30000000000;
	l->syms = calloc(o->nsym, sizeof *l->syms);
	l->wanted = calloc(o->nsym, sizeof *l->wanted);
	ulen = strlen(l->o.ws_url) + 16 + o->nsym * (3 * SYM_MAX + 48);
	l->url = malloc(ulen);
	l->rest_url = strdup(l->o.rest_url);
	if (!l->syms || !l->wanted || !l->url || !l->rest_url)
		goto nomem;
	if (o->latency) {
		l->rec.b = calloc(LAT_N + LAT_N2, sizeof *l->rec.b);
		l->ws.b = calloc(LAT_N + LAT_N2, sizeof *l->ws.b);
		if (!l->rec.b || !l->ws.b)
			goto nomem;
	}
	/* the stream names are lower case, the REST symbol upper case */
	ulen = (size_t)sprintf(l->url, "%s?streams=", l->o.ws_url);
	for (size_t i = 0; i < o->nsym; i++) {
		char low[SYM_MAX + 1];
		size_t j;

		for (j = 0; o->symbols[i][j]; j++) {
			l->syms[i].name[j] = (char)toupper((unsigned char)o->symbols[i][j]);
			low[j] = (char)tolower((unsigned char)o->symbols[i][j]);
		}
		l->syms[i].name[j] = low[j] = 0;
		l->syms[i].backoff_ns = l->o.snap_backoff_min_ns;
		ulen += (size_t)sprintf(l->url + ulen, "%s%s%s/%s@trade/%s@bookTicker",
					i ? "/" : "", low, v->depth, low, low);
	}
	l->sink = fo->sink;
	fo2.sink = (struct chr_feed_sink){ lv_reserve, lv_commit, l };
	fo2.symbol = NULL;
	if ((l->f = chr_feed_new(venue, &fo2, e)) == NULL)
		goto fail;
	for (size_t i = 0; i < o->nsym; i++)
		if (chr_feed_add(l->f, l->syms[i].name, e) < 0)
			goto fail;
	if ((l->rest = chr_rest_open(o->ca_file, e)) == NULL)
		goto fail;
	chr_rest_stop_on(l->rest, &l->stopping);
	wo.url = l->url;
	wo.ca_file = o->ca_file;
	wo.silence_ns = o->silence_ns;
	wo.max_age_ns = o->max_age_ns;
	cb = (struct chr_ws_cb){ on_msg, on_event, l };
	if ((l->w = chr_ws_open(&wo, &cb, e)) == NULL)
		goto fail;
	return l;
nomem:
	chr_err_set(e, CHR_EX_SYS, "out of memory");
fail:
	chr_feedlive_free(l);
	return NULL;
}

const char *chr_feedlive_url(const struct chr_feedlive *l)
{
	return l->url;
}

const char *chr_feedlive_rest_url(const struct chr_feedlive *l)
{
	return l->rest_url;
}

struct chr_feed *chr_feedlive_feed(const struct chr_feedlive *l)
{
	return l->f;
}

int chr_feedlive_run(struct chr_feedlive *l, const volatile sig_atomic_t *stop,
		     struct chr_err *e)
{
	while (!*stop) {
		/* a GET under way is looked at every ms, frames or not */
		int k = chr_ws_run(l->w, l->get.busy ? 1 : 100, e);

		if (k < 0)
			return -1;
		if (k > 0) {
			*e = l->e;
			return -1;
		}
		if (!*stop && snapshots(l, e) < 0)
			return -1;
		if (l->o.flush && l->o.flush(l->o.flush_ctx, e) < 0)
			return -1;
	}
	/* a GET under way gives up now: chr_feedlive_free waits for it */
	atomic_store(&l->stopping, 1);
	return 0;
}

void chr_feedlive_stats(const struct chr_feedlive *l, struct chr_feedlive_stats *s)
{
	memset(s, 0, sizeof *s);
	chr_ws_stats(l->w, &s->ws);
	s->frames = l->frames;
	s->bad = l->bad;
	s->gets = l->gets;
	s->get_failed = l->get_failed;
	s->snap_refused = l->refused;
	s->get_ns_max = l->get_ns_max;
}

uint64_t chr_feedlive_latency(const struct chr_feedlive *l, double p, int64_t *rec,
			      int64_t *ws)
{
	if (!l->o.latency || l->rec.n == 0)
		return 0;
	*rec = lat_at(&l->rec, p);
	*ws = lat_at(&l->ws, p);
	return l->rec.n;
}

int chr_feedlive_summary(const struct chr_feedlive *l, int i, int verbose, char *buf,
			 size_t size)
{
	static const double ps[] = { 0.5, 0.99, 0.999 };
	struct chr_feedlive_stats st;
	int64_t rec, ws;
	uint64_t n;

	if (i == 0 && verbose) {
		chr_feedlive_stats(l, &st);
		snprintf(buf, size, "%s: %llu connections (%llu lost, %llu renewed, %llu of them "
			 "seamlessly), %llu messages, %llu bytes; %llu REST snapshots asked for "
			 "(%llu failed, %llu older than the diffs held; the longest GET took "
			 "%.3f ms)", l->url, (unsigned long long)st.ws.conns,
			 (unsigned long long)st.ws.downs, (unsigned long long)st.ws.renewals,
			 (unsigned long long)st.ws.seamless, (unsigned long long)st.ws.msgs,
			 (unsigned long long)st.ws.bytes, (unsigned long long)st.gets,
			 (unsigned long long)st.get_failed, (unsigned long long)st.snap_refused,
			 (double)st.get_ns_max / 1e6);
		return 1;
	}
	if (i < 1 || i > 3 || (n = chr_feedlive_latency(l, ps[i - 1], &rec, &ws)) == 0)
		return 0;
	snprintf(buf, size, "latency p%g over %llu records: frame to commit %.2f us, of which "
		 "the transport %.2f us", ps[i - 1] * 100, (unsigned long long)n,
		 (double)rec / 1e3, (double)ws / 1e3);
	return 1;
}

void chr_feedlive_free(struct chr_feedlive *l)
{
	if (l == NULL)
		return;
	atomic_store(&l->stopping, 1);
	if (l->get.busy)
		pthread_join(l->get.th, NULL);	/* it gives up at once */
	chr_ws_close(l->w);
	chr_rest_close(l->rest);
	chr_feed_free(l->f);
	free(l->rec.b);
	free(l->ws.b);
	free(l->syms);
	free(l->wanted);
	free(l->url);
	free(l->rest_url);
	free(l);
}
