/* feed-floor.c - the floor of chr-feed's frame-to-queue path, in one
 * process without a network: each frame of a capture copied whole into a
 * /dev/shm queue (reserve, memcpy, commit), then normalised into another
 * (chr_feed_msg into a queue sink), each timed per frame, paced like
 * test/feed-server. bench/feed-latency runs it beside the live path. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "feed.h"
#include "queue.h"
#include "rec.h"

#define STEP 10			/* ns per bucket */
#define NB 100000		/* buckets: up to 1 ms */

struct hist {
	uint64_t b[NB], n, over;
	int64_t max;
};

static void add(struct hist *h, int64_t d)
{
	if (d < 0)
		d = 0;
	if (d > h->max)
		h->max = d;
	h->n++;
	if (d / STEP < NB)
		h->b[d / STEP]++;
	else
		h->over++;
}

static double at(const struct hist *h, double p)
{
	uint64_t want = (uint64_t)(p * (double)h->n), seen = 0;

	if (h->n == 0)
		return 0;
	if (want >= h->n)
		want = h->n - 1;
	for (size_t i = 0; i < NB; i++)
		if ((seen += h->b[i]) > want)
			return (double)i * STEP / 1e3;
	return (double)h->max / 1e3;
}

static int64_t now(clockid_t c)
{
	struct timespec t;

	clock_gettime(c, &t);
	return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static struct hist copy_h, norm_h, depth_h;
static int64_t frame_t0;
static int in_frame, depth;	/* timing a frame's records; a depthUpdate's */

static struct chr_rec *q_reserve(void *arg, uint32_t len, struct chr_err *e)
{
	struct chr_rec *r = chr_queue_reserve(arg, len);

	if (r == NULL)
		chr_err_set(e, CHR_EX_SYS, "reserve: %s", strerror(errno));
	return r;
}

static int q_commit(void *arg, struct chr_rec *rec, struct chr_err *e)
{
	(void)e;
	chr_queue_commit(arg, rec);
	if (in_frame) {
		int64_t d = now(CLOCK_REALTIME) - frame_t0;

		add(&norm_h, d);
		if (depth)
			add(&depth_h, d);
	}
	return 0;
}

static void die(const char *what, const char *why)
{
	fprintf(stderr, "feed-floor: %s: %s\n", what, why);
	exit(3);
}

int main(int argc, char **argv)
{
	struct chr_queue_opts qo = { .flags = CHR_QUEUE_CREATE };
	struct chr_queue_writer qc, qn;
	struct chr_feed_opts fo = { 0 };
	struct chr_feed *f;
	struct chr_err e;
	double speed = 0, secs = 0;
	char path[4096], *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int64_t t0 = 0, ns0 = 0;
	uint64_t frames = 0;
	FILE *in;
	int c;

	while ((c = getopt(argc, argv, "s:d:")) != -1) {
		if (c == 's')
			speed = atof(optarg);
		else if (c == 'd')
			secs = atof(optarg);
		else
			return 2;
	}
	if (argc - optind != 2) {
		fprintf(stderr, "usage: feed-floor [-s SPEED] [-d SECONDS] CAPTURE.txt DIR\n"
			"  the capture plain (zcat it first); DIR gets the queues copy/ and norm/\n"
			"  -s SPEED  pace the frames at SPEED x their receive times (0: flat out)\n"
			"  -d SECONDS  stop after this much of the schedule (0: the whole capture)\n");
		return 2;
	}
	if ((in = fopen(argv[optind], "r")) == NULL)
		die(argv[optind], strerror(errno));
	snprintf(path, sizeof path, "%s/copy", argv[optind + 1]);
	if (chr_queue_writer_open(&qc, path, &qo) < 0)
		die(path, qc.e.msg);
	snprintf(path, sizeof path, "%s/norm", argv[optind + 1]);
	if (chr_queue_writer_open(&qn, path, &qo) < 0)
		die(path, qn.e.msg);
	fo.sink = (struct chr_feed_sink){ q_reserve, q_commit, &qn };
	fo.symbol = "BTCUSDT";
	if ((f = chr_feed_new("binance-futures", &fo, &e)) == NULL)
		die("chr_feed_new", e.msg);
	while ((n = getline(&line, &cap, in)) > 0) {
		char *sp = memchr(line, ' ', (size_t)n);
		int64_t ns = strtoll(line, NULL, 10);
		size_t len;
		struct chr_rec *r;

		if (sp == NULL)
			continue;
		sp++;
		len = (size_t)(line + n - sp) - (line[n - 1] == '\n');
		if (t0 == 0) {
			t0 = now(CLOCK_MONOTONIC);
			ns0 = ns;
		}
		if (secs > 0 && (double)(ns - ns0) / 1e9 / (speed > 0 ? speed : 1) > secs)
			break;
		if (speed > 0) {
			int64_t due = t0 + (int64_t)((double)(ns - ns0) / speed);
			struct timespec ts = { due / 1000000000, due % 1000000000 };

			while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
				;
		}
		if (memmem(sp, len, "\"lastUpdateId\"", 14) != NULL) {
			/* the snapshot: not a frame, not timed */
			if (chr_feed_snapshot(f, ns, NULL, sp, len, &e) < 0)
				die("snapshot", e.msg);
			continue;
		}
		frames++;
		/* the floor: the frame's bytes into a record of the queue */
		frame_t0 = now(CLOCK_REALTIME);
		if ((r = chr_queue_reserve(&qc, (uint32_t)(CHR_HDR_SIZE + len))) == NULL)
			die("reserve", strerror(errno));
		r->type = CHR_TRADE;
		r->ts = ns;
		memcpy((char *)r + CHR_HDR_SIZE, sp, len);
		chr_queue_commit(&qc, r);
		add(&copy_h, now(CLOCK_REALTIME) - frame_t0);
		/* the normaliser into the queue, each record timed at its commit */
		depth = memmem(sp, len, "\"depthUpdate\"", 13) != NULL;
		frame_t0 = now(CLOCK_REALTIME);
		in_frame = 1;
		if (chr_feed_msg(f, ns, sp, len, &e) < 0)
			die("frame", e.msg);
		in_frame = 0;
	}
	printf("RESULT case=floor-copy frames=%llu p50=%.2f p99=%.2f p999=%.2f max=%.2f\n",
	       (unsigned long long)frames, at(&copy_h, 0.5), at(&copy_h, 0.99),
	       at(&copy_h, 0.999), copy_h.max / 1e3);
	printf("RESULT case=floor-normalise records=%llu p50=%.2f p99=%.2f p999=%.2f max=%.2f\n",
	       (unsigned long long)norm_h.n, at(&norm_h, 0.5), at(&norm_h, 0.99),
	       at(&norm_h, 0.999), norm_h.max / 1e3);
	printf("RESULT case=floor-normalise-depth records=%llu p50=%.2f p99=%.2f p999=%.2f "
	       "max=%.2f\n", (unsigned long long)depth_h.n, at(&depth_h, 0.5), at(&depth_h, 0.99),
	       at(&depth_h, 0.999), depth_h.max / 1e3);
	chr_feed_free(f);
	chr_queue_writer_close(&qc);
	chr_queue_writer_close(&qn);
	fclose(in);
	free(line);
	return 0;
}
