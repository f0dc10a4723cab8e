/* queue.c - the hot queue benchmark (driven by bench/queue): append
 * throughput with a following reader, append-to-read latency against a pipe
 * and a bare shared-memory ring, append and read times at segment rolls, and
 * the machine's bounds (memcpy, the cost of new segments, jitter). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/futex.h>

#include "chr.h"
#include "queue.h"
/* floor: the library's own segment making (its now_ns renamed here) */
#define now_ns chr_q_now_ns
#include "queue_int.h"
#undef now_ns

static const char usage_text[] =
	"usage: queue-bench throughput [-r READER] [-k] [-p BYTES] [-n COUNT] [-S SIZE]\n"
	"                              [-c W,R] DIR\n"
	"       queue-bench latency [-r READER] [-p BYTES] [-n COUNT] [-w COUNT]\n"
	"                           [-R RATE] [-S SIZE] [-c W,R] [-F] DIR\n"
	"       queue-bench roll [-r READER] [-k] [-p BYTES] [-n COUNT] [-S SIZE] [-c W,R]\n"
	"                        DIR\n"
	"       queue-bench memcpy [-b BYTES] [-B SIZE] [-t SECONDS] [-c W,R]\n"
	"       queue-bench create [-k] [-n COUNT] [-S SIZE] [-c W,R] DIR\n"
	"       queue-bench floor [-k] [-p BYTES] [-n COUNT] [-S SIZE] [-c W,R] DIR\n"
	"       queue-bench jitter [-t SECONDS] [-c W,R]\n"
	"       queue-bench xfer [-p BYTES] [-n COUNT] [-c W,R] DIR\n"
	"\n"
	"One measurement, printed as a line 'RESULT key=value ...' on stdout.\n"
	"DIR (not existing yet) receives the queue; the writer runs on core W,\n"
	"the reader, a separate process, on core R.\n"
	"\n"
	"  throughput  the writer appends COUNT records flat out (reserve, fill,\n"
	"              commit); the reader reads and checks every one. The time\n"
	"              runs from the first append to the last record read.\n"
	"  latency     the writer appends at RATE records/s, stamping\n"
	"              CLOCK_MONOTONIC just before the commit (or the write(2));\n"
	"              the reader takes the clock when it has the record. The\n"
	"              writer's process, its background thread too, is on core\n"
	"              W (the reader's core is the reader's), unless -F.\n"
	"  roll        throughput, timing every append and every read: rolling\n"
	"              appends (the first record of each new segment) apart from\n"
	"              the others, reads that moved to the next segment apart\n"
	"              from the others.\n"
	"  memcpy      copy BYTES-byte blocks into a SIZE buffer, cycling.\n"
	"  xfer        the throughput case's bound from core to core: the writer\n"
	"              copies COUNT payloads into a 64 MiB file made in DIR (on the\n"
	"              queue's file system, so the same pages: allocated and mapped\n"
	"              populated first, then reused as a ring) at the queue's\n"
	"              record stride, each behind a 64-byte header whose first\n"
	"              word, stored last, is its number; the reader spins on that\n"
	"              word and copies the payload out. No CRC, no segments.\n"
	"  create      what new segments cost: create COUNT (default 16) SIZE\n"
	"              files in DIR, each posix_fallocate'd and mapped\n"
	"              MAP_POPULATE, then unmapped; kept to the end.\n"
	"  floor       the throughput case's bound on this machine: one core\n"
	"              makes segments as the queue does (the library's calls:\n"
	"              index and segment files preallocated, published, mapped\n"
	"              populated, in one go) and writes COUNT records of BYTES\n"
	"              payload into them (header, payload, padding; no CRC), then\n"
	"              unmaps each; kept to the end, or with -k removed at once.\n"
	"  jitter      how long pinned busy threads on W and R are kept from\n"
	"              running: gaps over 10 us between clock readings.\n"
	"\n"
	"  -p, --payload BYTES      payload bytes after the 64-byte header\n"
	"                           (default 96; latency 40)\n"
	"  -n, --records COUNT      records (default 50000000; latency 10000000\n"
	"                           after the warm-up; roll 20000000)\n"
	"  -w, --warmup COUNT       latency: records not counted first (100000)\n"
	"  -R, --rate RATE          latency: records per second (1000000)\n"
	"  -r, --reader READER      spin (chr_queue_next, and chr_queue_wait\n"
	"                           spinning for good, the default), wait:US\n"
	"                           (chr_queue_wait spinning US\n"
	"                           microseconds, then the futex); latency also:\n"
	"                           pipe (a pipe, blocking read(2)), pipe-spin\n"
	"                           (a pipe, O_NONBLOCK read(2) in a busy loop),\n"
	"                           ring (a minimal ring in shared memory),\n"
	"                           ring-futex (that ring, the reader sleeping\n"
	"                           on a futex whenever it finds nothing new)\n"
	"  -S, --segment-size SIZE  queue segment size (default: the library's)\n"
	"  -k, --retain             the writer runs retention (CHR_QUEUE_RETAIN,\n"
	"                           age 0) and the reader is registered, committing\n"
	"                           its position every 65536 records or 4 MiB of\n"
	"                           them, whichever comes first; create:\n"
	"                           remove each file at once\n"
	"  -c, --cpus W,R           writer and reader cores (default 0,1)\n"
	"  -F, --bg-float           latency: the writer's background thread (it\n"
	"                           makes the segments) may run on either core,\n"
	"                           as in the other modes\n"
	"  -b, --block BYTES        memcpy: block size (default 1024)\n"
	"  -B, --buffer SIZE        memcpy: destination size (default 64M)\n"
	"  -t, --seconds SECONDS    memcpy, jitter: at least this long (default 1)\n"
	"  -h, --help               show this help\n"
	"      --version            show the version\n";

#define HIST_NS 65536		/* 1 ns buckets below 65.5 us */
#define HIST_US (1u << 20)	/* then 1 us buckets below 1.05 s, the last
				 * one holding everything above */

/* A latency histogram: exact to the nanosecond below 65.5 us, to the
 * microsecond above, and its exact max. */
struct hist {
	uint32_t ns[HIST_NS];
	uint32_t us[HIST_US];
	uint64_t n, max;
};

struct summary {
	uint64_t n, p50, p99, p999, p9999, max;
};

/* Shared between the driver process and its two children. */
struct shared {
	int w_ready, r_ready;	/* atomics */
	uint64_t t_first;	/* clock before the first append */
	uint64_t t_wdone;	/* clock after the last commit */
	uint64_t t_rdone;	/* clock after the last record read */
	uint64_t segments;	/* the writer's last segment id + 1 */
	uint64_t negative;	/* latency: clock readings that went backwards */
	uint64_t lag_max;	/* latency: worst start of an append after its slot */
	uint64_t late;		/* latency: appends started a period or more late */
	uint64_t t_sent_first, t_sent_last;	/* latency: first and last counted stamp */
	struct summary lat;	/* latency: reader; roll: the appends that did not roll */
	struct summary rolled;	/* roll: the appends that rolled */
	uint64_t rolled_p50;
	uint64_t worst_seg, worst_idx;	/* roll: where the worst other append was */
	uint64_t rolled_worst_seg;
	struct summary rd_adv;	/* roll: reader's chr_queue_next calls that moved
				 * to the next segment (p50 in p50, no p99s) */
	struct summary rd_other;	/* roll: its other calls that returned a record */
	struct {
		uint64_t ns, lost, over10us, over100us, over1ms, max;
	} jit[2];		/* jitter: writer's core, reader's core */
	_Alignas(64) uint32_t fwake;	/* ring-futex: the futex word, +1 a wake-up */
	uint32_t fsleep;	/* ring-futex: the reader is (about to be) asleep */
};

/* What one run does, from the options. */
struct cfg {
	const char *mode, *dir;
	uint32_t payload;
	uint64_t records, warmup, rate, seg_size;
	int cpu_w, cpu_r;
	enum { RD_SPIN, RD_WAIT, RD_PIPE, RD_PIPE_SPIN, RD_RING, RD_RING_FUTEX } reader;
	unsigned wait_us;
	uint32_t block;
	uint64_t buffer;
	double seconds;
	int pipefd[2];
	int retain;		/* the writer runs retention, the reader is registered */
	int bg_float;		/* latency: the writer's background thread on any core */
};

static struct shared *sh;

/* The floor for latency: a minimal ring in shared memory, slot i % RING_N
 * holding i + 1 as its commit word, then the payload (no CRC, no files).
 * ring-futex, the floor of a sleeping reader: the reader announces its
 * sleep (sh->fsleep) and sleeps on sh->fwake; the writer commits with a
 * full barrier and, when it sees the announcement, takes it back, bumps
 * the word and wakes (the queue's protocol, for one reader). */
#define RING_N (1u << 18)
struct ring_slot {
	uint64_t seq1;
	unsigned char payload[56];
};
static struct ring_slot *ring;

#define IS_RING(c) ((c)->reader == RD_RING || (c)->reader == RD_RING_FUTEX)

static inline uint64_t now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/* The spinning reader waits in chr_queue_wait, as chr-tail --spin-us
 * does, spinning for good (71 minutes) */
#define SPIN_ALWAYS UINT_MAX

static inline void relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

static void pin(int cpu)
{
	cpu_set_t set;
	int e;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	/* this thread only: the writer's background thread keeps every core */
	if ((e = pthread_setaffinity_np(pthread_self(), sizeof set, &set)) != 0)
		chr_die(CHR_EX_SYS, "cannot pin to cpu %d: %s", cpu, strerror(e));
}

static void wait_flag(int *flag)
{
	while (!__atomic_load_n(flag, __ATOMIC_ACQUIRE))
		usleep(50);
}

static void set_flag(int *flag)
{
	__atomic_store_n(flag, 1, __ATOMIC_RELEASE);
}

static inline void hist_add(struct hist *h, uint64_t v)
{
	h->n++;
	if (v > h->max)
		h->max = v;
	if (v < HIST_NS)
		h->ns[v]++;
	else
		h->us[v / 1000 < HIST_US ? v / 1000 : HIST_US - 1]++;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

/* The smallest value v such that at least fraction p of the values are <= v
 * (above 65.5 us: the end of v's microsecond, at most the max). */
static uint64_t hist_pct(const struct hist *h, double p)
{
	uint64_t rank = (uint64_t)(p * (double)h->n + 0.999999), seen = 0;

	if (rank == 0)
		rank = 1;
	for (uint64_t v = 0; v < HIST_NS; v++)
		if ((seen += h->ns[v]) >= rank)
			return v;
	for (uint64_t u = HIST_NS / 1000; u < HIST_US - 1; u++)
		if ((seen += h->us[u]) >= rank)
			return u * 1000 + 999 < h->max ? u * 1000 + 999 : h->max;
	return h->max;
}

static void hist_sum(const struct hist *h, struct summary *s)
{
	s->n = h->n;
	if (h->n == 0)
		return;
	s->p50 = hist_pct(h, 0.50);
	s->p99 = hist_pct(h, 0.99);
	s->p999 = hist_pct(h, 0.999);
	s->p9999 = hist_pct(h, 0.9999);
	s->max = h->max;
}

/* ---- writer side ------------------------------------------------------ */

static void writer_open(const struct cfg *c, struct chr_queue_writer *w)
{
	struct chr_queue_opts o = { .seg_size = c->seg_size, .flags = CHR_QUEUE_CREATE };

	if (c->retain)
		o.flags |= CHR_QUEUE_RETAIN;	/* retain_ns 0: what every reader has read */

	if (chr_queue_writer_open(w, c->dir, &o) < 0)
		chr_die(w->e.status ? w->e.status : CHR_EX_SYS, "%s", w->e.msg);
	pin(c->cpu_w);
}

/* Reserve a record of payload bytes p and fill it: an app type, a cheap
 * increasing ts, the template payload with the record number first. */
static inline struct chr_rec *fill(struct chr_queue_writer *w, uint32_t p, uint64_t i,
				   const unsigned char *tmpl)
{
	struct chr_rec *rec = chr_queue_reserve(w, CHR_HDR_SIZE + p);

	if (!rec)
		chr_die(w->e.status ? w->e.status : CHR_EX_SYS, "cannot reserve: %s",
			w->e.msg[0] ? w->e.msg : strerror(errno));
	rec->type = CHR_APP_MIN;
	rec->ts = (int64_t)(1700000000000000000 + i);
	memcpy(chr_rec_payload(rec), tmpl, p);
	((uint64_t *)chr_rec_payload(rec))[0] = i;
	return rec;
}

static void writer_throughput(const struct cfg *c, const unsigned char *tmpl)
{
	struct chr_queue_writer w;

	writer_open(c, &w);
	set_flag(&sh->w_ready);
	wait_flag(&sh->r_ready);
	sh->t_first = now_ns();
	for (uint64_t i = 0; i < c->records; i++)
		chr_queue_commit(&w, fill(&w, c->payload, i, tmpl));
	sh->t_wdone = now_ns();
	sh->segments = w.id + 1;
	chr_queue_writer_close(&w);
}

static void writer_roll(const struct cfg *c, const unsigned char *tmpl)
{
	static struct hist h;
	uint64_t rolled[65536], nr = 0, worst = 0;
	struct chr_queue_writer w;

	writer_open(c, &w);
	set_flag(&sh->w_ready);
	wait_flag(&sh->r_ready);
	sh->t_first = now_ns();
	for (uint64_t i = 0; i < c->records; i++) {
		uint64_t id = w.id, t0 = now_ns(), d;

		chr_queue_commit(&w, fill(&w, c->payload, i, tmpl));
		d = now_ns() - t0;
		if (w.id != id) {
			if (nr < sizeof rolled / sizeof rolled[0])
				rolled[nr++] = d;
			if (d > sh->rolled.max) {
				sh->rolled.max = d;
				sh->rolled_worst_seg = w.id;
			}
		} else {
			if (d > worst) {
				worst = d;
				sh->worst_seg = w.id;
				sh->worst_idx = w.count - 1;
			}
			hist_add(&h, d);
		}
	}
	sh->t_wdone = now_ns();
	sh->segments = w.id + 1;
	chr_queue_writer_close(&w);
	hist_sum(&h, &sh->lat);
	qsort(rolled, nr, sizeof rolled[0], cmp_u64);
	sh->rolled.n = nr;
	if (nr) {
		sh->rolled_p50 = rolled[(nr - 1) / 2];
		sh->rolled.p9999 = rolled[(uint64_t)(0.9999 * (double)nr + 0.999999) - 1];
	}
}

/* The head of a latency message (a payload of at least 16 bytes, the rest
 * filler): its number and the writer's clock. */
struct msg {
	uint64_t seq;
	uint64_t stamp;
};

/* Busy-wait for the slot of record i; count how late it starts. */
static inline void pace(const struct cfg *c, uint64_t start, uint64_t i)
{
	uint64_t slot = start + i * 1000000000u / c->rate, t;

	while ((t = now_ns()) < slot)
		;
	if (i >= c->warmup) {
		if (t - slot > sh->lag_max)
			sh->lag_max = t - slot;
		if (t - slot >= 1000000000u / c->rate)
			sh->late++;
	}
}

static void writer_latency(const struct cfg *c, const unsigned char *tmpl)
{
	uint64_t n = c->warmup + c->records, start;
	struct chr_queue_writer w;
	unsigned char buf[4096];

	if (c->reader == RD_PIPE || c->reader == RD_PIPE_SPIN) {
		close(c->pipefd[0]);
		pin(c->cpu_w);
	} else if (IS_RING(c)) {
		pin(c->cpu_w);
	} else {
		/* before the open, the background thread it starts inherits it */
		if (!c->bg_float)
			pin(c->cpu_w);
		writer_open(c, &w);
	}
	set_flag(&sh->w_ready);
	wait_flag(&sh->r_ready);
	start = sh->t_first = now_ns() + 1000000;
	for (uint64_t i = 0; i < n; i++) {
		struct msg m;

		pace(c, start, i);
		m.seq = i;
		if (c->reader == RD_PIPE || c->reader == RD_PIPE_SPIN) {
			memcpy(buf, tmpl, c->payload);
			m.stamp = now_ns();
			memcpy(buf, &m, sizeof m);
			if (chr_write_all(c->pipefd[1], buf, c->payload) < 0)
				chr_die(CHR_EX_SYS, "cannot write to the pipe: %s", strerror(errno));
		} else if (c->reader == RD_RING) {
			struct ring_slot *slot = &ring[i % RING_N];

			memcpy(slot->payload, tmpl, c->payload);
			m.stamp = now_ns();
			memcpy(slot->payload, &m, sizeof m);
			__atomic_store_n(&slot->seq1, i + 1, __ATOMIC_RELEASE);
		} else if (c->reader == RD_RING_FUTEX) {
			struct ring_slot *slot = &ring[i % RING_N];

			memcpy(slot->payload, tmpl, c->payload);
			m.stamp = now_ns();
			memcpy(slot->payload, &m, sizeof m);
			__atomic_exchange_n(&slot->seq1, i + 1, __ATOMIC_SEQ_CST);
			if (__atomic_load_n(&sh->fsleep, __ATOMIC_SEQ_CST) &&
			    __atomic_exchange_n(&sh->fsleep, 0, __ATOMIC_SEQ_CST)) {
				__atomic_fetch_add(&sh->fwake, 1, __ATOMIC_SEQ_CST);
				futex(&sh->fwake, FUTEX_WAKE, 1, NULL);	/* queue_int.h */
			}
		} else {
			struct chr_rec *rec = fill(&w, c->payload, i, tmpl);

			m.stamp = now_ns();
			memcpy(chr_rec_payload(rec), &m, sizeof m);
			chr_queue_commit(&w, rec);
		}
		if (i == c->warmup)
			sh->t_sent_first = m.stamp;
		sh->t_sent_last = m.stamp;
	}
	sh->t_wdone = now_ns();
	if (c->reader == RD_PIPE || c->reader == RD_PIPE_SPIN) {
		close(c->pipefd[1]);
	} else if (!IS_RING(c)) {
		sh->segments = w.id + 1;
		chr_queue_writer_close(&w);
	}
}

/* ---- reader side ------------------------------------------------------ */

static void reader_open(const struct cfg *c, struct chr_queue_reader *r)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(c->cpu_r, &set);
	if (sched_setaffinity(0, sizeof set, &set) < 0)
		chr_die(CHR_EX_SYS, "cannot pin to cpu %d: %s", c->cpu_r, strerror(errno));
	wait_flag(&sh->w_ready);
	if (c->reader == RD_PIPE || c->reader == RD_PIPE_SPIN) {
		close(c->pipefd[1]);
		return;
	}
	if (IS_RING(c))
		return;
	if (chr_queue_reader_open(r, c->dir, 0) < 0)
		chr_die(r->e.status ? r->e.status : CHR_EX_SYS, "%s", r->e.msg);
}

/* The next record, checked: chr_queue_next verified its CRC and seq order;
 * here its seq must be i, its length the one written, its payload number i.
 * Spins, or sleeps in chr_queue_wait with wait. */
static inline const struct chr_rec *next(struct chr_queue_reader *r, uint64_t i,
					 uint32_t len, int wait, unsigned wait_us)
{
	const struct chr_rec *rec;
	int k;

	while ((k = chr_queue_next(r, &rec)) == 0)
		chr_queue_wait(r, wait ? wait_us : SPIN_ALWAYS, -1);
	if (k < 0)
		chr_die(r->e.status ? r->e.status : CHR_EX_SYS, "%s", r->e.msg);
	if (rec->seq != i || rec->len != len ||
	    ((const uint64_t *)chr_rec_payload(rec))[0] != i)
		chr_die(CHR_EX_DATA, "%s: record %" PRIu64 " has seq %" PRIu64 ", len %" PRIu32
			", number %" PRIu64, r->dir, i, rec->seq, rec->len,
			((const uint64_t *)chr_rec_payload(rec))[0]);
	return rec;
}

/* A registered reader commits its position every this many records: 65536,
 * or fewer to commit every 4 MiB (retention can then reuse a segment soon
 * after the reader left it, whatever the record size, as chr-tail does by
 * committing whenever it catches up). */
static uint64_t commit_every(const struct cfg *c)
{
	uint64_t n = ((uint64_t)4 << 20) / chr_rec_span(CHR_HDR_SIZE + c->payload);

	return n < 1 ? 1 : n < 65536 ? n : 65536;
}

/* A registered reader has read record i: commit every commit_every()
 * (*left counts down to the next commit). */
static void commit_tick(const struct cfg *c, struct chr_queue_pos *pos, uint64_t *left, uint64_t i)
{
	if (--*left)
		return;
	*left = commit_every(c);
	if (chr_queue_pos_commit(pos, i + 1) < 0)
		chr_die(pos->e.status ? pos->e.status : CHR_EX_SYS, "%s", pos->e.msg);
}

static void reader_throughput(const struct cfg *c)
{
	struct chr_queue_reader r;
	struct chr_queue_pos pos;
	uint64_t left = commit_every(c);

	reader_open(c, &r);
	/* registered, so that retention keeps what it has not read */
	if (c->retain && chr_queue_pos_open(&pos, c->dir, "bench", 0) < 0)
		chr_die(pos.e.status ? pos.e.status : CHR_EX_SYS, "%s", pos.e.msg);
	set_flag(&sh->r_ready);
	for (uint64_t i = 0; i < c->records; i++) {
		next(&r, i, CHR_HDR_SIZE + c->payload, c->reader == RD_WAIT, c->wait_us);
		if (c->retain)
			commit_tick(c, &pos, &left, i);
	}
	sh->t_rdone = now_ns();
	if (c->retain)
		chr_queue_pos_close(&pos);
	chr_queue_reader_close(&r);
}

/* reader_throughput, timing every chr_queue_next call: those that moved to
 * the next segment apart from the others that returned a record. */
static void reader_roll(const struct cfg *c)
{
	static struct hist h;
	uint64_t adv[65536], na = 0, len = CHR_HDR_SIZE + c->payload, left = commit_every(c);
	struct chr_queue_reader r;
	struct chr_queue_pos pos;

	reader_open(c, &r);
	if (c->retain && chr_queue_pos_open(&pos, c->dir, "bench", 0) < 0)
		chr_die(pos.e.status ? pos.e.status : CHR_EX_SYS, "%s", pos.e.msg);
	set_flag(&sh->r_ready);
	for (uint64_t i = 0; i < c->records; i++) {
		const struct chr_rec *rec;
		uint64_t id, t0, d;
		int k;

		for (;;) {
			id = r.id;
			t0 = now_ns();
			k = chr_queue_next(&r, &rec);
			d = now_ns() - t0;
			if (r.id != id) {
				if (na < sizeof adv / sizeof adv[0])
					adv[na++] = d;
				if (d > sh->rd_adv.max)
					sh->rd_adv.max = d;
			}
			if (k != 0)
				break;
			chr_queue_wait(&r, c->reader == RD_WAIT ? c->wait_us : SPIN_ALWAYS, -1);
		}
		if (k < 0)
			chr_die(r.e.status ? r.e.status : CHR_EX_SYS, "%s", r.e.msg);
		if (r.id == id)
			hist_add(&h, d);
		if (rec->seq != i || rec->len != len ||
		    ((const uint64_t *)chr_rec_payload(rec))[0] != i)
			chr_die(CHR_EX_DATA, "%s: record %" PRIu64 " is not the one written", r.dir, i);
		if (c->retain)
			commit_tick(c, &pos, &left, i);
	}
	sh->t_rdone = now_ns();
	if (c->retain)
		chr_queue_pos_close(&pos);
	chr_queue_reader_close(&r);
	hist_sum(&h, &sh->rd_other);
	qsort(adv, na, sizeof adv[0], cmp_u64);
	sh->rd_adv.n = na;
	if (na)
		sh->rd_adv.p50 = adv[(na - 1) / 2];
}

/* Read one message of n bytes from the pipe. */
static void pipe_read(const struct cfg *c, unsigned char *buf, uint64_t i)
{
	size_t got = 0;
	ssize_t k;

	while (got < c->payload) {
		k = read(c->pipefd[0], buf + got, c->payload - got);
		if (k > 0) {
			got += (size_t)k;
		} else if (k == 0) {
			chr_die(CHR_EX_DATA, "pipe: end of file after %" PRIu64 " messages", i);
		} else if (errno == EAGAIN) {
			relax();
		} else if (errno != EINTR) {
			chr_die(CHR_EX_SYS, "cannot read the pipe: %s", strerror(errno));
		}
	}
}

/* ring-futex: sleep until slot holds message i (or the writer woke us). */
static void ring_sleep(const struct ring_slot *slot, uint64_t i)
{
	uint32_t v = __atomic_load_n(&sh->fwake, __ATOMIC_SEQ_CST);

	__atomic_store_n(&sh->fsleep, 1, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&slot->seq1, __ATOMIC_SEQ_CST) == i + 1) {
		__atomic_store_n(&sh->fsleep, 0, __ATOMIC_RELAXED);
		return;
	}
	futex(&sh->fwake, FUTEX_WAIT, v, NULL);
	__atomic_store_n(&sh->fsleep, 0, __ATOMIC_RELAXED);
}

static void reader_latency(const struct cfg *c)
{
	static struct hist h;
	uint64_t n = c->warmup + c->records;
	uint32_t len = CHR_HDR_SIZE + c->payload;
	uint64_t left = commit_every(c);
	struct chr_queue_reader r;
	struct chr_queue_pos pos;
	unsigned char buf[4096];
	int pipe = c->reader == RD_PIPE || c->reader == RD_PIPE_SPIN;

	reader_open(c, &r);
	if (c->retain && chr_queue_pos_open(&pos, c->dir, "bench", 0) < 0)
		chr_die(pos.e.status ? pos.e.status : CHR_EX_SYS, "%s", pos.e.msg);
	if (c->reader == RD_PIPE_SPIN &&
	    fcntl(c->pipefd[0], F_SETFL, fcntl(c->pipefd[0], F_GETFL) | O_NONBLOCK) < 0)
		chr_die(CHR_EX_SYS, "cannot make the pipe non-blocking: %s", strerror(errno));
	set_flag(&sh->r_ready);
	for (uint64_t i = 0; i < n; i++) {
		struct msg m;
		uint64_t t;

		if (pipe) {
			pipe_read(c, buf, i);
			t = now_ns();
			memcpy(&m, buf, sizeof m);
			if (m.seq != i)
				chr_die(CHR_EX_DATA, "pipe: message %" PRIu64 " has number %" PRIu64,
					i, m.seq);
		} else if (IS_RING(c)) {
			const struct ring_slot *slot = &ring[i % RING_N];
			uint64_t v;

			while ((v = __atomic_load_n(&slot->seq1, __ATOMIC_ACQUIRE)) != i + 1) {
				if (v > i + 1)
					chr_die(CHR_EX_DATA, "ring: the writer lapped the reader");
				if (c->reader == RD_RING_FUTEX)
					ring_sleep(slot, i);
				else
					relax();
			}
			t = now_ns();
			memcpy(&m, slot->payload, sizeof m);
			if (m.seq != i)
				chr_die(CHR_EX_DATA, "ring: message %" PRIu64 " has number %" PRIu64,
					i, m.seq);
		} else {
			const struct chr_rec *rec = next(&r, i, len, c->reader == RD_WAIT,
							 c->wait_us);

			t = now_ns();
			memcpy(&m, chr_rec_payload(rec), sizeof m);
			if (c->retain)
				commit_tick(c, &pos, &left, i);
		}
		if (i < c->warmup)
			continue;
		if (t < m.stamp) {
			sh->negative++;
			t = m.stamp;
		}
		hist_add(&h, t - m.stamp);
	}
	sh->t_rdone = now_ns();
	if (c->retain)
		chr_queue_pos_close(&pos);
	if (pipe)
		close(c->pipefd[0]);
	else if (!IS_RING(c))
		chr_queue_reader_close(&r);
	hist_sum(&h, &sh->lat);
}

/* ---- the driver ------------------------------------------------------- */

/* Run writer and reader as two processes; die when either fails. */
static void run_pair(const struct cfg *c, void (*writer)(const struct cfg *, const unsigned char *),
		     void (*reader)(const struct cfg *), const unsigned char *tmpl)
{
	pid_t pw, pr, p;
	int st, bad = 0;

	fflush(stdout);
	if ((pw = fork()) < 0)
		chr_die(CHR_EX_SYS, "cannot fork: %s", strerror(errno));
	if (pw == 0) {
		writer(c, tmpl);
		exit(CHR_EX_OK);
	}
	if ((pr = fork()) < 0) {
		kill(pw, SIGKILL);
		chr_die(CHR_EX_SYS, "cannot fork: %s", strerror(errno));
	}
	if (pr == 0) {
		reader(c);
		exit(CHR_EX_OK);
	}
	if (c->pipefd[0] >= 0) {
		close(c->pipefd[0]);
		close(c->pipefd[1]);
	}
	for (int left = 2; left > 0; left--) {
		while ((p = wait(&st)) < 0 && errno == EINTR)
			;
		if (p < 0)
			chr_die(CHR_EX_SYS, "wait: %s", strerror(errno));
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
			if (!bad)
				bad = WIFEXITED(st) ? WEXITSTATUS(st) : CHR_EX_SYS;
			if (WIFSIGNALED(st))
				chr_warn("the %s died of signal %d", p == pw ? "writer" : "reader",
					 WTERMSIG(st));
			kill(p == pw ? pr : pw, SIGKILL);
		}
	}
	if (bad)
		exit(bad);
}

/* Refuse to start when DIR's file system cannot hold the run. */
static void check_space(const struct cfg *c)
{
	uint64_t seg = c->seg_size ? c->seg_size : CHR_QUEUE_SEG_DEFAULT;
	uint64_t need = (c->warmup + c->records) * chr_rec_span(CHR_HDR_SIZE + c->payload);

	if (c->retain && need > 8 * seg)
		need = 8 * seg;
	char parent[4096], *slash;
	struct statvfs v;
	struct stat st;

	if (stat(c->dir, &st) == 0)
		chr_usage_error("'%s' exists; give a new directory", c->dir);
	need += need / 16 + 3 * seg;	/* indexes, the spare segments */
	snprintf(parent, sizeof parent, "%s", c->dir);
	slash = strrchr(parent, '/');
	if (slash == parent)
		parent[1] = '\0';
	else if (slash)
		*slash = '\0';
	else
		strcpy(parent, ".");
	if (statvfs(parent, &v) < 0)
		chr_die(CHR_EX_SYS, "cannot stat '%s': %s", parent, strerror(errno));
	if ((uint64_t)v.f_bavail * v.f_frsize < need)
		chr_die(CHR_EX_SYS, "'%s' has %" PRIu64 " MB free, the run needs %" PRIu64 " MB",
			parent, (uint64_t)v.f_bavail * v.f_frsize >> 20, need >> 20);
}

/* xfer: the queue's data path alone, core to core (usage). */
static unsigned char *xring;
static uint64_t xslots, xstride;

static void xfer_w(const struct cfg *c, const unsigned char *tmpl)
{
	pin(c->cpu_w);
	set_flag(&sh->w_ready);
	wait_flag(&sh->r_ready);
	sh->t_first = now_ns();
	for (uint64_t i = 0, free_to = xslots; i < c->records; i++) {
		unsigned char *slot = xring + i % xslots * xstride;

		while (i >= free_to) {	/* the reader's position, read rarely */
			free_to = __atomic_load_n(&sh->lag_max, __ATOMIC_ACQUIRE) + xslots;
			relax();
		}
		memcpy(slot + CHR_HDR_SIZE, tmpl, c->payload);
		memcpy(slot + CHR_HDR_SIZE, &i, sizeof i);
		__atomic_store_n((uint64_t *)(void *)slot, i + 1, __ATOMIC_RELEASE);
	}
	sh->t_wdone = now_ns();
}

static void xfer_r(const struct cfg *c)
{
	_Alignas(64) unsigned char buf[4096];
	uint64_t v;

	pin(c->cpu_r);
	wait_flag(&sh->w_ready);
	set_flag(&sh->r_ready);
	for (uint64_t i = 0; i < c->records; i++) {
		const unsigned char *slot = xring + i % xslots * xstride;

		while (__atomic_load_n((const uint64_t *)(const void *)slot, __ATOMIC_ACQUIRE) != i + 1)
			relax();
		memcpy(buf, slot + CHR_HDR_SIZE, c->payload);
		memcpy(&v, buf, sizeof v);
		if (v != i)
			chr_die(CHR_EX_DATA, "xfer: payload %" PRIu64 " has number %" PRIu64, i, v);
		if ((i & 63) == 63)	/* slots up to here may be written again */
			__atomic_store_n(&sh->lag_max, i + 1, __ATOMIC_RELEASE);
	}
	sh->t_rdone = now_ns();
}

static void run_xfer(struct cfg *c, const unsigned char *tmpl)
{
	uint64_t size = (uint64_t)64 << 20, ns;
	char path[4200];
	int fd, e;

	if (c->payload > 4096 - sizeof(uint64_t))
		chr_usage_error("an xfer payload is at most %zu bytes", 4096 - sizeof(uint64_t));
	xstride = chr_rec_span(CHR_HDR_SIZE + c->payload);
	xslots = size / xstride;
	if (mkdir(c->dir, 0777) < 0)
		chr_die(CHR_EX_SYS, "%s: cannot create: %s", c->dir, strerror(errno));
	snprintf(path, sizeof path, "%s/xfer", c->dir);
	/* its size first, as the queue's segments (huge pages on huge tmpfs) */
	if ((fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600)) < 0 || ftruncate(fd, (off_t)size) < 0)
		chr_die(CHR_EX_SYS, "%s: %s", path, strerror(errno));
	if ((e = posix_fallocate(fd, 0, (off_t)size)) != 0)
		chr_die(CHR_EX_SYS, "%s: %s", path, strerror(e));
	xring = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0);
	sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (xring == MAP_FAILED || sh == MAP_FAILED)
		chr_die(CHR_EX_SYS, "cannot map memory: %s", strerror(errno));
	close(fd);
	unlink(path);
	rmdir(c->dir);
	memset(sh, 0, sizeof *sh);
	run_pair(c, xfer_w, xfer_r, tmpl);
	ns = sh->t_rdone - sh->t_first;
	printf("RESULT mode=xfer payload=%" PRIu32 " records=%" PRIu64 " ns=%" PRIu64
	       " mrps=%.3f payload_gbps=%.3f record_gbps=%.3f\n", c->payload, c->records, ns,
	       (double)c->records * 1e3 / (double)ns, (double)c->records * c->payload / (double)ns,
	       (double)c->records * xstride / (double)ns);
}

static void run_memcpy(const struct cfg *c)
{
	uint64_t n = c->buffer / c->block, bytes = 0, t0, t;
	unsigned char *dst, *src;
	uint64_t sum = 0;

	pin(c->cpu_w);
	dst = mmap(NULL, c->buffer, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	src = malloc(c->block);
	if (dst == MAP_FAILED || !src)
		chr_die(CHR_EX_SYS, "cannot allocate memory: %s", strerror(errno));
	memset(dst, 1, c->buffer);	/* fault it in: the copy is measured, not the faults */
	for (uint32_t i = 0; i < c->block; i++)
		src[i] = (unsigned char)i;
	t0 = now_ns();
	do {
		for (uint64_t i = 0; i < n; i++) {
			memcpy(dst + i * c->block, src, c->block);
			__asm__ __volatile__("" : : "r"(dst) : "memory");
		}
		bytes += n * c->block;
		src[0]++;
		t = now_ns();
	} while (t - t0 < (uint64_t)(c->seconds * 1e9));
	for (uint64_t i = 0; i < c->buffer; i += 4096)
		sum += dst[i];
	munmap(dst, c->buffer);
	free(src);
	printf("RESULT mode=memcpy block=%" PRIu32 " buffer=%" PRIu64 " bytes=%" PRIu64
	       " ns=%" PRIu64 " gbps=%.3f check=%" PRIu64 "\n",
	       c->block, c->buffer, bytes, t - t0, (double)bytes / (double)(t - t0), sum & 1);
}

/* What new segments cost: create count files of seg_size bytes in dir,
 * preallocate each and map it populated, in one call each (the work the
 * library does in 256 KiB steps, queue_seg.c), unmap it;
 * keep them all to the end (a queue without retention), or with retain
 * remove each at once (a queue whose footprint stays bounded). */
static void run_create(const struct cfg *c)
{
	uint64_t size = c->seg_size ? c->seg_size : CHR_QUEUE_SEG_DEFAULT, n = c->records;
	uint64_t all = 0, first = 0, last = 0, k = n < 16 ? n : 16;
	char path[4200];

	pin(c->cpu_w);
	if (mkdir(c->dir, 0777) < 0)
		chr_die(CHR_EX_SYS, "cannot create '%s': %s", c->dir, strerror(errno));
	for (uint64_t i = 0; i < n; i++) {
		uint64_t t0 = now_ns(), d;
		int fd, e;
		void *p;

		snprintf(path, sizeof path, "%s/%09" PRIu64 ".q", c->dir, i);
		if ((fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0666)) < 0)
			chr_die(CHR_EX_SYS, "cannot create '%s': %s", path, strerror(errno));
		if ((e = posix_fallocate(fd, 0, (off_t)size)) != 0)
			chr_die(CHR_EX_SYS, "cannot allocate '%s': %s", path, strerror(e));
		p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0);
		if (p == MAP_FAILED)
			chr_die(CHR_EX_SYS, "cannot map '%s': %s", path, strerror(errno));
		d = now_ns() - t0;
		munmap(p, size);
		close(fd);
		if (c->retain)
			unlink(path);
		all += d;
		if (i < k)
			first += d;
		if (i >= n - k)
			last += d;
	}
	for (uint64_t i = 0; !c->retain && i < n; i++) {
		snprintf(path, sizeof path, "%s/%09" PRIu64 ".q", c->dir, i);
		unlink(path);
	}
	rmdir(c->dir);
	printf("RESULT mode=create size=%" PRIu64 " count=%" PRIu64 " kept=%d create_ns=%" PRIu64
	       " first16_ns=%" PRIu64 " last16_ns=%" PRIu64 " gbps=%.3f\n",
	       size, n, !c->retain, all / n, first / k, last / k,
	       (double)size * (double)n / (double)all);
}

/* The floor of the throughput case: what one core does making segments the
 * way the queue does (chr_q_idx_create, chr_q_publish, chr_q_map_populated:
 * the same calls, unpaced) and writing the same records into them, without
 * the CRC, the reader or the commit protocol. Kept to the end, or with
 * retain each removed once written. */
static void run_floor(const struct cfg *c, const unsigned char *tmpl)
{
	uint64_t size = c->seg_size ? c->seg_size : CHR_QUEUE_SEG_DEFAULT, n = c->records;
	uint32_t len = CHR_HDR_SIZE + c->payload;
	size_t span = chr_rec_span(len);
	uint64_t t0, t, made = 0, i = 0, segs = 0, id;
	char name[32];
	int dirfd;

	pin(c->cpu_w);
	if (mkdir(c->dir, 0777) < 0 || (dirfd = open(c->dir, O_RDONLY | O_DIRECTORY)) < 0)
		chr_die(CHR_EX_SYS, "cannot create '%s': %s", c->dir, strerror(errno));
	t0 = now_ns();
	for (id = 0; i < n; id++) {
		struct chr_seg h = { .magic = CHR_SEG_MAGIC, .version = CHR_VERSION, .id = id,
				     .base_seq = i };
		struct qseg s = { 0 };
		uint64_t pos = CHR_HDR_SIZE, m0 = now_ns();
		int fd;

		if (chr_q_idx_create(dirfd, id, size, CHR_QUEUE_IDX_STRIDE, &s) < 0)
			chr_die(CHR_EX_SYS, "%s: cannot create an index: %s", c->dir, strerror(errno));
		chr_q_seg_name(name, id);
		if ((fd = chr_q_publish(dirfd, name, size, &h, sizeof h, NULL)) < 0 ||
		    !(s.base = chr_q_map_populated(fd, size, NULL, &s.step)))
			chr_die(CHR_EX_SYS, "%s/%s: cannot create: %s", c->dir, name, strerror(errno));
		close(fd);
		s.size = size;
		made += now_ns() - m0;
		for (; i < n && pos + span <= size; i++, pos += span) {
			struct chr_rec *r = (struct chr_rec *)(s.base + pos);

			r->type = CHR_APP_MIN;
			r->seq = i;
			r->src_seq = i;
			r->version = CHR_VERSION;
			r->ts = (int64_t)(1700000000000000000 + i);
			memcpy(chr_rec_payload(r), tmpl, c->payload);
			((uint64_t *)chr_rec_payload(r))[0] = i;
			memset((char *)r + len, 0, span - len);
			__atomic_store_n(&r->len, len, __ATOMIC_RELEASE);
		}
		chr_q_unmap(&s);
		segs++;
		if (c->retain) {
			unlinkat(dirfd, name, 0);
			chr_q_idx_name(name, id);
			unlinkat(dirfd, name, 0);
		}
	}
	t = now_ns() - t0;
	for (uint64_t k = 0; !c->retain && k < id; k++) {
		chr_q_seg_name(name, k);
		unlinkat(dirfd, name, 0);
		chr_q_idx_name(name, k);
		unlinkat(dirfd, name, 0);
	}
	close(dirfd);
	rmdir(c->dir);
	printf("RESULT mode=floor retain=%d payload=%" PRIu32 " records=%" PRIu64 " segments=%" PRIu64
	       " ns=%" PRIu64 " make_ns=%" PRIu64 " mrps=%.3f payload_gbps=%.3f record_gbps=%.3f\n",
	       c->retain, c->payload, n, segs, t, made, (double)n * 1e3 / (double)t,
	       (double)n * c->payload / (double)t, (double)n * span / (double)t);
}

/* How much a pinned busy thread is kept from running: read the clock in a
 * loop for c->seconds, counting the gaps over 10 us (the core did something
 * else: interrupts, other tasks, the hypervisor). */
static void jitter(int cpu, int k, double seconds)
{
	uint64_t t0, prev, t, d;

	pin(cpu);
	set_flag(k ? &sh->r_ready : &sh->w_ready);
	wait_flag(k ? &sh->w_ready : &sh->r_ready);
	t0 = prev = now_ns();
	while ((t = now_ns()) - t0 < (uint64_t)(seconds * 1e9)) {
		d = t - prev;
		prev = t;
		if (d < 10000)
			continue;
		sh->jit[k].over10us++;
		sh->jit[k].lost += d;
		if (d >= 100000)
			sh->jit[k].over100us++;
		if (d >= 1000000)
			sh->jit[k].over1ms++;
		if (d > sh->jit[k].max)
			sh->jit[k].max = d;
	}
	sh->jit[k].ns = t - t0;
}

static void jitter_w(const struct cfg *c, const unsigned char *tmpl)
{
	(void)tmpl;
	jitter(c->cpu_w, 0, c->seconds);
}

static void jitter_r(const struct cfg *c)
{
	jitter(c->cpu_r, 1, c->seconds);
}

static uint64_t clock_cost(void)
{
	uint64_t t0 = now_ns(), t = 0;

	for (int i = 0; i < 1000000; i++)
		t += now_ns() & 1;
	return (now_ns() - t0 + 500000 - t % 2) / 1000000;
}

static void print_summary(const char *pre, const struct summary *s)
{
	printf(" %sn=%" PRIu64 " %sp50=%" PRIu64 " %sp99=%" PRIu64 " %sp999=%" PRIu64
	       " %sp9999=%" PRIu64 " %smax=%" PRIu64,
	       pre, s->n, pre, s->p50, pre, s->p99, pre, s->p999, pre, s->p9999, pre, s->max);
}

static uint64_t parse_count(const char *opt, const char *s, int suffix)
{
	char *end;
	unsigned long long v;
	unsigned shift = 0;

	if (*s < '0' || *s > '9')
		chr_usage_error("%s '%s' is not a count", opt, s);
	errno = 0;
	v = strtoull(s, &end, 10);
	if (suffix) {
		switch (*end) {
		case 'k': case 'K': shift = 10; end++; break;
		case 'm': case 'M': shift = 20; end++; break;
		case 'g': case 'G': shift = 30; end++; break;
		}
	}
	if (errno || *end != '\0' || v > (UINT64_MAX >> shift))
		chr_usage_error("%s '%s' is not a count", opt, s);
	return (uint64_t)v << shift;
}

enum { OPT_VERSION = 256 };

static const struct option longopts[] = {
	{"payload", required_argument, NULL, 'p'},
	{"records", required_argument, NULL, 'n'},
	{"warmup", required_argument, NULL, 'w'},
	{"rate", required_argument, NULL, 'R'},
	{"reader", required_argument, NULL, 'r'},
	{"segment-size", required_argument, NULL, 'S'},
	{"cpus", required_argument, NULL, 'c'},
	{"retain", no_argument, NULL, 'k'},
	{"bg-float", no_argument, NULL, 'F'},
	{"block", required_argument, NULL, 'b'},
	{"buffer", required_argument, NULL, 'B'},
	{"seconds", required_argument, NULL, 't'},
	{"help", no_argument, NULL, 'h'},
	{"version", no_argument, NULL, OPT_VERSION},
	{NULL, 0, NULL, 0},
};

int main(int argc, char **argv)
{
	struct cfg c = { .payload = 0, .records = 0, .warmup = 100000, .rate = 1000000,
			 .cpu_w = 0, .cpu_r = 1, .reader = RD_SPIN, .block = 1024,
			 .buffer = 64u << 20, .seconds = 1, .pipefd = {-1, -1} };
	static unsigned char tmpl[CHR_REC_MAX];
	int opt, latency, roll, floor, records_set = 0;
	char *end;

	chr_setprog("queue-bench");
	while ((opt = getopt_long(argc, argv, "p:n:w:R:r:S:c:kFb:B:t:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'p':
			c.payload = (uint32_t)parse_count("--payload", optarg, 0);
			if (c.payload < 16 || c.payload > CHR_REC_MAX - CHR_HDR_SIZE)
				chr_usage_error("--payload takes 16 to %u bytes",
						CHR_REC_MAX - CHR_HDR_SIZE);
			break;
		case 'n':
			c.records = parse_count("--records", optarg, 0);
			records_set = 1;
			break;
		case 'w':
			c.warmup = parse_count("--warmup", optarg, 0);
			break;
		case 'R':
			c.rate = parse_count("--rate", optarg, 0);
			if (c.rate == 0 || c.rate > 1000000000)
				chr_usage_error("--rate takes 1 to 1000000000 records/s");
			break;
		case 'r':
			if (strcmp(optarg, "spin") == 0) {
				c.reader = RD_SPIN;
			} else if (strcmp(optarg, "pipe") == 0) {
				c.reader = RD_PIPE;
			} else if (strcmp(optarg, "pipe-spin") == 0) {
				c.reader = RD_PIPE_SPIN;
			} else if (strcmp(optarg, "ring") == 0) {
				c.reader = RD_RING;
			} else if (strcmp(optarg, "ring-futex") == 0) {
				c.reader = RD_RING_FUTEX;
			} else if (strncmp(optarg, "wait:", 5) == 0) {
				c.reader = RD_WAIT;
				c.wait_us = (unsigned)parse_count("--reader wait:", optarg + 5, 0);
			} else {
				chr_usage_error("unknown reader '%s' (spin, wait:US, pipe, pipe-spin, ring, ring-futex)",
						optarg);
			}
			break;
		case 'S':
			c.seg_size = parse_count("--segment-size", optarg, 1);
			break;
		case 'c':
			c.cpu_w = (int)strtol(optarg, &end, 10);
			if (end == optarg || *end != ',' || c.cpu_w < 0 || c.cpu_w >= CPU_SETSIZE)
				chr_usage_error("--cpus '%s' is not W,R", optarg);
			optarg = end + 1;
			c.cpu_r = (int)strtol(optarg, &end, 10);
			if (end == optarg || *end || c.cpu_r < 0 || c.cpu_r >= CPU_SETSIZE)
				chr_usage_error("--cpus takes two core numbers W,R");
			break;
		case 'F':
			c.bg_float = 1;
			break;
		case 'k':
			c.retain = 1;
			break;
		case 'b':
			c.block = (uint32_t)parse_count("--block", optarg, 1);
			if (c.block == 0 || c.block > (1u << 30))
				chr_usage_error("--block takes 1 byte to 1G");
			break;
		case 'B':
			c.buffer = parse_count("--buffer", optarg, 1);
			break;
		case 't':
			c.seconds = strtod(optarg, &end);
			if (end == optarg || *end || !(c.seconds > 0 && c.seconds < 3600))
				chr_usage_error("--seconds '%s' is not a duration", optarg);
			break;
		case 'h':
			fputs(usage_text, stdout);
			chr_close_stdout();
			return CHR_EX_OK;
		case OPT_VERSION:
			printf("queue-bench %s\n", CHR_VERSION_STRING);
			chr_close_stdout();
			return CHR_EX_OK;
		default:
			chr_usage_error("bad option");
		}
	}
	if (optind >= argc)
		chr_usage_error("no mode (throughput, latency, roll, floor, memcpy, create, jitter)");
	c.mode = argv[optind++];	/* getopt moved the options before it */
	if (strcmp(c.mode, "memcpy") == 0) {
		if (optind != argc)
			chr_usage_error("memcpy takes no directory");
		if (c.buffer < c.block)
			chr_usage_error("--buffer is smaller than --block");
		run_memcpy(&c);
		chr_close_stdout();
		return CHR_EX_OK;
	}
	if (strcmp(c.mode, "jitter") == 0) {
		if (optind != argc)
			chr_usage_error("jitter takes no directory");
		sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
			  -1, 0);
		if (sh == MAP_FAILED)
			chr_die(CHR_EX_SYS, "cannot map memory: %s", strerror(errno));
		memset(sh, 0, sizeof *sh);
		run_pair(&c, jitter_w, jitter_r, tmpl);
		printf("RESULT mode=jitter");
		for (int k = 0; k < 2; k++)
			printf(" cpu%d_lost_pct=%.2f cpu%d_gaps10us_per_s=%.0f cpu%d_gaps100us=%" PRIu64
			       " cpu%d_gaps1ms=%" PRIu64 " cpu%d_max=%" PRIu64,
			       k ? c.cpu_r : c.cpu_w, 100.0 * (double)sh->jit[k].lost / (double)sh->jit[k].ns,
			       k ? c.cpu_r : c.cpu_w, (double)sh->jit[k].over10us * 1e9 / (double)sh->jit[k].ns,
			       k ? c.cpu_r : c.cpu_w, sh->jit[k].over100us,
			       k ? c.cpu_r : c.cpu_w, sh->jit[k].over1ms,
			       k ? c.cpu_r : c.cpu_w, sh->jit[k].max);
		printf(" seconds=%.1f\n", c.seconds);
		chr_close_stdout();
		return CHR_EX_OK;
	}
	if (strcmp(c.mode, "xfer") == 0) {
		if (optind + 1 != argc)
			chr_usage_error("xfer needs one directory");
		c.dir = argv[optind];
		if (!c.payload)
			c.payload = 1024;
		if (!records_set)
			c.records = 5000000;
		if (c.records == 0)
			chr_usage_error("--records must be at least 1");
		for (uint32_t i = 0; i < c.payload; i++)
			tmpl[i] = (unsigned char)(i * 7 + 1);
		run_xfer(&c, tmpl);
		chr_close_stdout();
		return CHR_EX_OK;
	}
	if (strcmp(c.mode, "create") == 0) {
		if (optind + 1 != argc)
			chr_usage_error("create needs one directory");
		c.dir = argv[optind];
		if (!records_set)
			c.records = 16;
		if (c.records == 0)
			chr_usage_error("--records must be at least 1");
		run_create(&c);
		chr_close_stdout();
		return CHR_EX_OK;
	}
	latency = strcmp(c.mode, "latency") == 0;
	roll = strcmp(c.mode, "roll") == 0;
	floor = strcmp(c.mode, "floor") == 0;
	if (!latency && !roll && !floor && strcmp(c.mode, "throughput") != 0)
		chr_usage_error("unknown mode '%s' (throughput, latency, roll, floor, memcpy, create,"
				" jitter, xfer)", c.mode);
	if (optind + 1 != argc)
		chr_usage_error("%s needs one directory", c.mode);
	c.dir = argv[optind];
	if (!c.payload)
		c.payload = latency ? 40 : 96;
	if (!records_set)
		c.records = latency ? 10000000 : roll ? 20000000 : 50000000;
	if (c.records == 0)
		chr_usage_error("--records must be at least 1");
	if (c.retain && c.reader != RD_SPIN && c.reader != RD_WAIT)
		chr_usage_error("--retain is for the queue's readers (spin, wait:US)");
	if (!latency && c.bg_float)
		chr_usage_error("--bg-float is for latency");
	if (!latency) {
		c.warmup = 0;
		if (c.reader != RD_SPIN && c.reader != RD_WAIT)
			chr_usage_error("--reader %s is for latency only", IS_RING(&c) ? "ring" : "pipe");
	}
	if (IS_RING(&c)) {
		if (c.payload > sizeof ring->payload)
			chr_usage_error("a ring message is at most %zu bytes", sizeof ring->payload);
		ring = mmap(NULL, RING_N * sizeof *ring, PROT_READ | PROT_WRITE,
			    MAP_SHARED | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
		if (ring == MAP_FAILED)
			chr_die(CHR_EX_SYS, "cannot map memory: %s", strerror(errno));
	} else if (c.reader == RD_PIPE || c.reader == RD_PIPE_SPIN) {
		if (c.payload > 4096)
			chr_usage_error("a pipe message is at most 4096 bytes (PIPE_BUF)");
		if (pipe(c.pipefd) < 0)
			chr_die(CHR_EX_SYS, "cannot make a pipe: %s", strerror(errno));
	} else {
		check_space(&c);
	}
	for (uint32_t i = 0; i < c.payload; i++)
		tmpl[i] = (unsigned char)(i * 7 + 1);
	if (floor) {
		if (c.reader != RD_SPIN)
			chr_usage_error("floor has no reader");
		run_floor(&c, tmpl);
		chr_close_stdout();
		return CHR_EX_OK;
	}
	sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		chr_die(CHR_EX_SYS, "cannot map memory: %s", strerror(errno));
	memset(sh, 0, sizeof *sh);

	if (latency) {
		const char *kind[] = {"spin", "wait", "pipe", "pipe-spin", "ring", "ring-futex"};

		run_pair(&c, writer_latency, reader_latency, tmpl);
		printf("RESULT mode=latency reader=%s", kind[c.reader]);
		if (c.reader == RD_WAIT)
			printf(" wait_us=%u", c.wait_us);
		if (!IS_RING(&c) && c.reader != RD_PIPE && c.reader != RD_PIPE_SPIN)
			printf(" bg=%s retain=%d", c.bg_float ? "float" : "writer_cpu", c.retain);
		printf(" payload=%" PRIu32 " rate=%" PRIu64 " warmup=%" PRIu64, c.payload, c.rate,
		       c.warmup);
		print_summary("", &sh->lat);
		printf(" achieved_rate=%.0f lag_max=%" PRIu64 " late=%" PRIu64 " negative=%" PRIu64
		       " clock_ns=%" PRIu64 "\n",
		       (double)(c.records - 1) * 1e9 / (double)(sh->t_sent_last - sh->t_sent_first),
		       sh->lag_max, sh->late, sh->negative, clock_cost());
	} else if (roll) {
		run_pair(&c, writer_roll, reader_roll, tmpl);
		printf("RESULT mode=roll payload=%" PRIu32 " records=%" PRIu64 " segments=%" PRIu64
		       " rolled_n=%" PRIu64 " rolled_p50=%" PRIu64 " rolled_p9999=%" PRIu64
		       " rolled_max=%" PRIu64 " rolled_worst_seg=%" PRIu64,
		       c.payload, c.records, sh->segments, sh->rolled.n, sh->rolled_p50,
		       sh->rolled.p9999, sh->rolled.max, sh->rolled_worst_seg);
		print_summary("other_", &sh->lat);
		printf(" reader_adv_n=%" PRIu64 " reader_adv_p50=%" PRIu64 " reader_adv_max=%" PRIu64,
		       sh->rd_adv.n, sh->rd_adv.p50, sh->rd_adv.max);
		print_summary("reader_other_", &sh->rd_other);
		printf(" other_worst_seg=%" PRIu64 " other_worst_idx=%" PRIu64 " ns=%" PRIu64
		       " clock_ns=%" PRIu64 "\n",
		       sh->worst_seg, sh->worst_idx, sh->t_rdone - sh->t_first, clock_cost());
	} else {
		uint64_t ns;

		run_pair(&c, writer_throughput, reader_throughput, tmpl);
		ns = sh->t_rdone - sh->t_first;
		printf("RESULT mode=throughput reader=%s retain=%d payload=%" PRIu32 " records=%" PRIu64
		       " segments=%" PRIu64 " ns=%" PRIu64 " writer_ns=%" PRIu64
		       " mrps=%.3f payload_gbps=%.3f record_gbps=%.3f\n",
		       c.reader == RD_WAIT ? "wait" : "spin", c.retain, c.payload, c.records, sh->segments, ns,
		       sh->t_wdone - sh->t_first,
		       (double)c.records * 1e3 / (double)ns,
		       (double)c.records * c.payload / (double)ns,
		       (double)c.records * chr_rec_span(CHR_HDR_SIZE + c.payload) / (double)ns);
	}
	chr_close_stdout();
	return CHR_EX_OK;
}
