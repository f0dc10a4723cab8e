/* lag.c - the refinery lag benchmark (driven by bench/refine): a feeder
 * appends TRADE records to a raw queue at a steady rate, a prober follows
 * the clean queues and measures raw append -> clean append, per record. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "chr.h"
#include "queue.h"

static const char usage_text[] =
	"usage: lag-bench [-R RATE] [-d SECONDS] [-w SECONDS] [-k K] [-S SIZE]\n"
	"                 [--tick-us N] [--spin-us N | --poll-us N] [--drain SECONDS]\n"
	"                 RAW CLEAN\n"
	"       lag-bench --create-only [-S SIZE] RAW\n"
	"\n"
	"Creates the queue RAW (when missing) and appends one DEFINE for each of\n"
	"K instruments (venue 'bench', symbols S0..S{K-1}), then TRADE records,\n"
	"round-robin over them, at RATE records/s for SECONDS, each stamped\n"
	"ts = CLOCK_REALTIME when it is reserved. Something else (the refinery)\n"
	"copies them to the queues CLEAN/bench/S<k>/trade; one prober thread per\n"
	"instrument follows its clean queue (waiting for it to appear) and takes\n"
	"lag = CLOCK_REALTIME once chr_queue_next returns the record - its ts.\n"
	"The records scheduled in the first -w seconds are not measured. Prints\n"
	"'RESULT key=value ...' (lags in ns) on stdout.\n"
	"\n"
	"  -R, --rate RATE      TRADE records per second (default 100000)\n"
	"  -d, --duration S     seconds of feeding (default 20)\n"
	"  -w, --warmup S       seconds not measured (default 1)\n"
	"  -k, --instruments K  instruments (default 4, at most 64)\n"
	"  -S, --segment-size SIZE  RAW's segment size in bytes (default 16M)\n"
	"      --tick-us N      the feeder wakes every N us and sends the records due\n"
	"                       by then back to back (default: it sleeps until each\n"
	"                       record's own time). late = records sent a tick (else\n"
	"                       a period) or more after their time\n"
	"      --spin-us N      probers spin N us before sleeping on the clean\n"
	"                       queue's futex (default 0: sleep at once)\n"
	"      --poll-us N      instead, one prober thread polls every clean queue\n"
	"                       and sleeps N us when none has a record (the lags\n"
	"                       then include up to N us of that sleep)\n"
	"      --drain S        after the last append, wait at most S seconds for\n"
	"                       the missing records (default 5)\n"
	"      --create-only    create RAW and exit\n"
	"  -h, --help           show this help\n"
	"      --version        show the version\n";

#define KMAX 64

static uint64_t rate = 100000, seg_size = 16u << 20;
static double duration = 20, warmup = 1, drain = 5;
static unsigned k_inst = 4, spin_us, poll_us, tick_us;
static const char *raw_dir, *clean_dir;

static atomic_int feeding_done;
static atomic_uint_fast64_t received;	/* measured records received */
/* RAW's seq of the first measured TRADE: records are told apart by their
 * src_seq, which is RAW's seq (the queue stamps it, and the refinery's
 * chr-tail --restamp keeps it so), DEFINE repeats at each roll included */
static atomic_uint_fast64_t warm_seq = UINT64_MAX;
static int64_t done_ns;			/* CLOCK_MONOTONIC at the last append */
static uint64_t n_total, n_warm;	/* TRADE records; the first n_warm not measured */

struct prober {
	pthread_t t;
	unsigned k;
	int64_t *lag;		/* measured lags, ns */
	uint64_t n, cap;
	uint64_t expected;	/* measured records of this instrument */
	uint64_t dup, disorder, negative;
	uint64_t last_src;
	int opened;
	char err[4096 + CHR_ERR_MAX + 32];
};

static int64_t clock_ns(clockid_t c)
{
	struct timespec t;

	clock_gettime(c, &t);
	return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static uint64_t parse_u(const char *opt, const char *s, uint64_t min, uint64_t max)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		chr_usage_error("%s '%s' is not a number from %" PRIu64 " to %" PRIu64, opt, s,
				min, max);
	return v;
}

static double parse_d(const char *opt, const char *s, double min)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !(v >= min) || v > 1e6)
		chr_usage_error("%s '%s' is not a number of seconds", opt, s);
	return v;
}

static uint64_t parse_size(const char *s)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s)
		chr_usage_error("--segment-size '%s' is not a size", s);
	if (*end == 'K' || *end == 'k')
		v <<= 10, end++;
	else if (*end == 'M' || *end == 'm')
		v <<= 20, end++;
	else if (*end == 'G' || *end == 'g')
		v <<= 30, end++;
	if (*end || v < 4096 || v % 4096)
		chr_usage_error("--segment-size '%s' is not a multiple of 4096", s);
	return v;
}

static void open_raw(struct chr_queue_writer *w)
{
	struct chr_queue_opts o;

	memset(&o, 0, sizeof o);
	o.seg_size = seg_size;
	o.sync = CHR_SYNC_NEVER;
	o.flags = CHR_QUEUE_CREATE;
	if (chr_queue_writer_open(w, raw_dir, &o) < 0)
		chr_die(3, "%s", w->e.msg);
}

/* Take the lag of one clean record of instrument p->k; 1 once every
 * expected record came. */
static int take(struct prober *p, const struct chr_rec *rec)
{
	if (rec->type != CHR_TRADE)
		return 0;
	int64_t lag = clock_ns(CLOCK_REALTIME) - rec->ts;
	uint64_t src = rec->src_seq;
	if (src < atomic_load(&warm_seq))
		return 0;
	if (src <= p->last_src) {
		if (src == p->last_src)
			p->dup++;
		else
			p->disorder++;
		return 0;
	}
	p->last_src = src;
	if (lag < 0)
		p->negative++;
	if (p->n < p->cap)
		p->lag[p->n++] = lag;
	atomic_fetch_add(&received, 1);
	return p->n + p->dup >= p->expected;
}

static int drained(void)
{
	return atomic_load(&feeding_done) &&
	       clock_ns(CLOCK_MONOTONIC) > done_ns + (int64_t)(drain * 1e9);
}

/* Open CLEAN/bench/S<k>/trade once it exists: 1, 0 not yet, -1 never
 * (the drain time ran out; p->err says why). */
static int try_open(struct prober *p, struct chr_queue_reader *r)
{
	char dir[4096];

	snprintf(dir, sizeof dir, "%s/bench/S%u/trade", clean_dir, p->k);
	if (chr_queue_reader_open(r, dir, 0) == 0)
		return p->opened = 1;
	if (drained()) {
		snprintf(p->err, sizeof p->err, "%s never appeared (%s)", dir, r->e.msg);
		return -1;
	}
	return 0;
}

/* A prober thread per instrument: follow its clean queue, sleeping on the
 * queue's futex (after spin_us) when it has caught up. */
static void *probe(void *arg)
{
	struct prober *p = arg;
	struct chr_queue_reader r;
	const struct chr_rec *rec;
	int rc;

	while ((rc = try_open(p, &r)) == 0)
		usleep(1000);
	if (rc < 0)
		return NULL;
	while (p->n + p->dup < p->expected) {
		rc = chr_queue_next(&r, &rec);
		if (rc < 0) {
			snprintf(p->err, sizeof p->err, "%s", r.e.msg);
			break;
		}
		if (rc == 0) {
			if (drained())
				break;
			chr_queue_wait(&r, spin_us, 50);
			continue;
		}
		take(p, rec);
	}
	chr_queue_reader_close(&r);
	return NULL;
}

/* --poll-us: one thread follows every clean queue, and sleeps poll_us when
 * none has anything (so a lag is overstated by up to poll_us plus the
 * wake-up), instead of a futex wake-up per record per thread. */
static struct prober *probers;
static void *poll_all(void *arg)
{
	static struct chr_queue_reader r[KMAX];
	int open[KMAX] = {0}, done[KMAX] = {0};
	unsigned left = k_inst;
	const struct chr_rec *rec;
	struct timespec nap = {0, (long)poll_us * 1000};

	(void)arg;
	while (left) {
		int any = 0;

		for (unsigned k = 0; k < k_inst; k++) {
			struct prober *p = &probers[k];
			int rc;

			if (done[k])
				continue;
			if (!open[k]) {
				rc = try_open(p, &r[k]);
				if (rc < 0)
					done[k] = 1, left--;
				open[k] = rc > 0;
				continue;
			}
			while ((rc = chr_queue_next(&r[k], &rec)) == 1) {
				any = 1;
				if (take(p, rec)) {
					rc = 2;
					break;
				}
			}
			if (rc < 0)
				snprintf(p->err, sizeof p->err, "%s", r[k].e.msg);
			if (rc != 0) {
				done[k] = 1, left--;
				chr_queue_reader_close(&r[k]);
			}
		}
		if (!any) {
			if (drained())
				break;
			nanosleep(&nap, NULL);
		}
	}
	for (unsigned k = 0; k < k_inst; k++)
		if (open[k] && !done[k])
			chr_queue_reader_close(&r[k]);
	return NULL;
}

static int cmp64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

static int64_t pct(const int64_t *v, uint64_t n, double q)
{
	uint64_t i;

	if (n == 0)
		return 0;
	i = (uint64_t)(q * (double)n);	/* nearest rank: the ceil(q n)-th value */
	if ((double)i < q * (double)n)
		i++;
	if (i == 0)
		i = 1;
	if (i > n)
		i = n;
	return v[i - 1];
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"rate", required_argument, NULL, 'R'},
		{"duration", required_argument, NULL, 'd'},
		{"warmup", required_argument, NULL, 'w'},
		{"instruments", required_argument, NULL, 'k'},
		{"segment-size", required_argument, NULL, 'S'},
		{"spin-us", required_argument, NULL, 1},
		{"drain", required_argument, NULL, 2},
		{"create-only", no_argument, NULL, 3},
		{"poll-us", required_argument, NULL, 5},
		{"tick-us", required_argument, NULL, 6},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 4},
		{NULL, 0, NULL, 0},
	};
	static struct prober pr[KMAX];
	struct chr_queue_writer w;
	int opt, create_only = 0;

	chr_prog = "lag-bench";
	while ((opt = getopt_long(argc, argv, "R:d:w:k:S:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'R': rate = parse_u("--rate", optarg, 1, 100000000); break;
		case 'd': duration = parse_d("--duration", optarg, 0.001); break;
		case 'w': warmup = parse_d("--warmup", optarg, 0); break;
		case 'k': k_inst = (unsigned)parse_u("--instruments", optarg, 1, KMAX); break;
		case 'S': seg_size = parse_size(optarg); break;
		case 1: spin_us = (unsigned)parse_u("--spin-us", optarg, 0, 1000000); break;
		case 2: drain = parse_d("--drain", optarg, 0); break;
		case 3: create_only = 1; break;
		case 6: tick_us = (unsigned)parse_u("--tick-us", optarg, 1, 1000000); break;
		case 5: poll_us = (unsigned)parse_u("--poll-us", optarg, 1, 1000000); break;
		case 'h': fputs(usage_text, stdout); return 0;
		case 4: puts("lag-bench " CHR_VERSION_STRING); return 0;
		default: chr_usage_error("unknown option");
		}
	}
	if (create_only) {
		if (argc - optind != 1)
			chr_usage_error("--create-only takes RAW alone");
		raw_dir = argv[optind];
		open_raw(&w);
		chr_queue_writer_close(&w);
		return 0;
	}
	if (argc - optind != 2)
		chr_usage_error("RAW and CLEAN are needed");
	if (warmup >= duration)
		chr_usage_error("--warmup must be shorter than --duration");
	raw_dir = argv[optind];
	clean_dir = argv[optind + 1];
	n_total = (uint64_t)((double)rate * duration);
	n_warm = (uint64_t)((double)rate * warmup);

	/* Sleeps end when asked, not up to 50 us later. */
	prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
	open_raw(&w);

	uint16_t venue_id[KMAX];
	uint32_t market_id[KMAX];
	for (unsigned k = 0; k < k_inst; k++) {
		char sym[16];
		struct chr_rec *rec;
		struct chr_define *d;

		snprintf(sym, sizeof sym, "S%u", k);
		chr_sym_ids(NULL, "bench", sym, &venue_id[k], &market_id[k]);
		rec = chr_queue_reserve(&w, CHR_HDR_SIZE + sizeof *d);
		if (!rec)
			chr_die(3, "%s", w.e.msg);
		rec->type = CHR_DEFINE;
		rec->ts = clock_ns(CLOCK_REALTIME);
		rec->src_seq = 0;	/* the queue's seq */
		rec->venue = venue_id[k];
		rec->market = market_id[k];
		d = chr_rec_payload(rec);
		memcpy(d->venue, "bench", 5);
		memcpy(d->symbol, sym, strlen(sym));
		d->price_scale_hint = 1;
		d->size_scale_hint = 3;
		chr_queue_commit(&w, rec);
	}

	for (unsigned k = 0; k < k_inst; k++) {
		pr[k].k = k;
		for (uint64_t i = n_warm; i < n_total; i++)
			pr[k].expected += (i % k_inst == k);
		pr[k].cap = pr[k].expected;
		pr[k].lag = malloc((pr[k].cap ? pr[k].cap : 1) * sizeof *pr[k].lag);
		if (!pr[k].lag)
			chr_die(3, "out of memory");
		if (!poll_us && pthread_create(&pr[k].t, NULL, probe, &pr[k]) != 0)
			chr_die(3, "cannot start a prober thread");
	}
	probers = pr;
	pthread_t poller;
	if (poll_us && pthread_create(&poller, NULL, poll_all, NULL) != 0)
		chr_die(3, "cannot start the prober thread");

	/* Record i is due at start + i / rate: sleep until then (to the
	 * nanosecond: timer slack 1 ns), or send at once when late. With
	 * --tick-us, sleep until the next multiple of the tick after start
	 * instead, and send every record due by then. */
	int64_t tick = (int64_t)tick_us * 1000;
	int64_t period = (int64_t)(1e9 / (double)rate);
	int64_t start = clock_ns(CLOCK_MONOTONIC) + 100000000;	/* 100 ms to settle */
	uint64_t late = 0;
	int64_t worst_late = 0;
	for (uint64_t i = 0; i < n_total; i++) {
		int64_t due = start + (int64_t)((double)i * 1e9 / (double)rate);
		int64_t now = clock_ns(CLOCK_MONOTONIC);
		if (tick)	/* the tick it is sent at */
			due = start + (due - start + tick - 1) / tick * tick;
		if (now < due) {
			struct timespec ts = {due / 1000000000, due % 1000000000};
			while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
				;
		} else if (now - due >= (tick ? tick : period)) {
			late++;
			if (now - due > worst_late)
				worst_late = now - due;
		}
		unsigned k = (unsigned)(i % k_inst);
		struct chr_rec *rec = chr_queue_reserve(&w, CHR_HDR_SIZE + sizeof(struct chr_trade));
		if (!rec)
			chr_die(3, "%s", w.e.msg);
		rec->ts = clock_ns(CLOCK_REALTIME);
		rec->ts_event = rec->ts;
		rec->type = CHR_TRADE;
		rec->flags = CHR_F_LAST;
		rec->src_seq = 0;	/* the queue's seq */
		if (i == n_warm)	/* set before any prober can see it */
			atomic_store(&warm_seq, w.seq);
		rec->venue = venue_id[k];
		rec->market = market_id[k];
		struct chr_trade *t = chr_rec_payload(rec);
		t->price = 600000 + (int64_t)(i % 1000);	/* 60000.0 + i % 1000 tenths */
		t->price_scale = 1;
		t->size = 1 + (int64_t)(i % 50);		/* 0.001 .. 0.050 */
		t->size_scale = 3;
		t->side = (i & 1) ? CHR_SIDE_SELL : CHR_SIDE_BUY;
		snprintf(t->id, sizeof t->id, "%" PRIu64, i + 1);
		chr_queue_commit(&w, rec);
	}
	int64_t end = clock_ns(CLOCK_MONOTONIC);
	done_ns = end;
	atomic_store(&feeding_done, 1);
	double fed_s = (double)(end - start) / 1e9;

	uint64_t n = 0, expected = 0, dup = 0, disorder = 0, negative = 0;
	int failed = 0;
	if (poll_us)
		pthread_join(poller, NULL);
	for (unsigned k = 0; k < k_inst; k++) {
		if (!poll_us)
			pthread_join(pr[k].t, NULL);
		if (pr[k].err[0]) {
			chr_warn("S%u: %s", k, pr[k].err);
			failed = 1;
		}
		n += pr[k].n;
		expected += pr[k].expected;
		dup += pr[k].dup;
		disorder += pr[k].disorder;
		negative += pr[k].negative;
	}
	chr_queue_writer_close(&w);

	int64_t *all = malloc((n ? n : 1) * sizeof *all), *q = all;
	if (!all)
		chr_die(3, "out of memory");
	for (unsigned k = 0; k < k_inst; k++) {
		memcpy(q, pr[k].lag, pr[k].n * sizeof *q);
		q += pr[k].n;
		free(pr[k].lag);
	}
	qsort(all, n, sizeof *all, cmp64);
	char proberdesc[64];
	if (poll_us)
		snprintf(proberdesc, sizeof proberdesc, "poll:%u", poll_us);
	else
		snprintf(proberdesc, sizeof proberdesc, "futex:%u", spin_us);
	double sum = 0;
	for (uint64_t i = 0; i < n; i++)
		sum += (double)all[i];
	printf("RESULT rate=%" PRIu64 " duration=%.3f sent=%" PRIu64 " achieved_rate=%.0f"
	       " tick_us=%u late=%" PRIu64 " worst_late=%" PRId64 " warmup_records=%" PRIu64
	       " expected=%" PRIu64 " count=%" PRIu64 " shortfall=%" PRIu64
	       " prober=%s dup=%" PRIu64 " disorder=%" PRIu64 " negative=%" PRIu64
	       " mean=%.0f p50=%" PRId64 " p90=%" PRId64 " p99=%" PRId64 " p999=%" PRId64
	       " max=%" PRId64 "\n",
	       rate, duration, n_total, (double)n_total / fed_s, tick_us, late, worst_late, n_warm,
	       expected, n, expected - n, proberdesc, dup, disorder, negative, n ? sum / (double)n : 0.0,
	       pct(all, n, 0.50), pct(all, n, 0.90), pct(all, n, 0.99), pct(all, n, 0.999),
	       n ? all[n - 1] : 0);
	free(all);
	if (failed)
		return 3;
	return n == expected ? 0 : 1;
}
