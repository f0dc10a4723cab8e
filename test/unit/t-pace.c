/* t-pace.c - replay at recorded speed: the speeds taken and refused, the
 * schedule (a lower bound only: a sleep is never shorter), the flush
 * before a sleep, ts going back, a stop, and lateness counted and told. */
#include <signal.h>
#include <stdint.h>
#include <time.h>

#include "pace.h"
#include "unit.h"

static int flushes;
static int nwarn;
static char warned[512];

static int flush(void *ctx)
{
	(void)ctx;
	flushes++;
	return 0;
}

static void warn(void *ctx, const char *msg)
{
	(void)ctx;
	nwarn++;
	snprintf(warned, sizeof warned, "%s", msg);
}

static int64_t mono(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static void nap(int64_t ns)
{
	struct timespec t = { .tv_sec = ns / 1000000000, .tv_nsec = ns % 1000000000 };

	while (nanosleep(&t, &t) != 0)
		;
}

static struct chr_pace paced(const char *speed)
{
	struct chr_pace p;
	struct chr_err e;

	CHECK(chr_pace_parse(&p, speed, &e) == 0);
	p.flush = flush;
	p.warn = warn;
	return p;
}

int main(void)
{
	static const char *const bad[] = {"0", "0.0", "-1", "+1", "", " 1", "1 ", "1e3", "inf",
					  "nan", "0x10", "1000000.1", "1000001", "1,5", ".",
					  "0.0000000000000000001"};
	static const char *const good[] = {"1", "10", "0.5", "1000000", "0.001", "2.50"};
	struct chr_pace p;
	struct chr_err e;
	volatile sig_atomic_t stop = 0;
	int64_t t0, ts = 1723075200000000000;

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		CHECK(chr_pace_parse(&p, bad[i], &e) == -1);
		CHECK(e.status == CHR_EX_USAGE);
	}
	CHECK(chr_pace_parse(&p, "x\n", &e) == -1);
	CHECK_STR(e.msg, "--pace 'x\\x0a' is not a speed (a number above 0 and at most 1000000, "
		  "e.g. 1, 10 or 0.5)");
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
		CHECK(chr_pace_parse(&p, good[i], &e) == 0);
	CHECK(chr_pace_parse(&p, "2.50", &e) == 0 && p.mant == 250 && p.scale == 2);
	CHECK_STR(p.speed, "2.50");

	/* 60 ms of ts at 1: 60 ms at least; the first record goes at once,
	 * with no flush; each later one flushes before it sleeps */
	p = paced("1");
	t0 = mono();
	CHECK(chr_pace_wait(&p, ts) == 0);
	CHECK(flushes == 0);
	CHECK(chr_pace_wait(&p, ts + 30000000) == 0);
	CHECK(chr_pace_wait(&p, ts + 60000000) == 0);
	CHECK(mono() - t0 >= 60000000);
	CHECK(flushes == 2);
	/* a ts behind the highest goes at once: no sleep, no flush */
	CHECK(chr_pace_wait(&p, ts) == 0);
	CHECK(chr_pace_wait(&p, ts + 60000000) == 0);
	CHECK(flushes == 2);
	CHECK(p.n == 5 && p.late == 0);

	/* 0.5: 20 ms of ts take 40 ms at least; 100: 2 s take 20 ms */
	p = paced("0.5");
	t0 = mono();
	chr_pace_wait(&p, ts);
	chr_pace_wait(&p, ts + 20000000);
	CHECK(mono() - t0 >= 40000000);
	p = paced("100");
	t0 = mono();
	chr_pace_wait(&p, ts);
	chr_pace_wait(&p, ts + 2000000000);
	CHECK(mono() - t0 >= 20000000);

	/* an output 150 ms slow: late, told once, then summed up */
	p = paced("1");
	nwarn = 0;
	chr_pace_wait(&p, ts);
	nap(150000000);
	CHECK(chr_pace_wait(&p, ts + 1000000) == 0);
	CHECK(chr_pace_wait(&p, ts + 2000000) == 0);
	CHECK(p.late == 2 && p.worst >= 148000000);
	CHECK(nwarn == 1);	/* at most one line per CHR_PACE_WARN_NS */
	CHECK(strncmp(warned, "--pace 1: ", 10) == 0);
	CHECK(strstr(warned, " s behind the records' schedule (the output or the input is slower)") != NULL);
	chr_pace_end(&p);
	CHECK(nwarn == 2);
	CHECK(strncmp(warned, "--pace 1: 2 of 3 records sent late (more than 0.100 s behind "
		      "the schedule), at worst ", 84) == 0);
	/* on time: no summary */
	p = paced("1000");
	nwarn = 0;
	chr_pace_wait(&p, ts);
	chr_pace_end(&p);
	CHECK(nwarn == 0);

	/* a stop set: a record not due yet is not waited for */
	p = paced("1");
	p.stop = &stop;
	chr_pace_wait(&p, ts);
	stop = 1;
	t0 = mono();
	CHECK(chr_pace_wait(&p, ts + 3600 * (int64_t)1000000000) == 1);
	CHECK(mono() - t0 < 3600 * (int64_t)1000000000);

	/* the slowest speed, and times far apart: due past the clock's
	 * range (never), not wrapped round into the past (at once, late) */
	p = paced("0.000000000000000001");
	p.stop = &stop;
	chr_pace_wait(&p, ts);
	CHECK(chr_pace_wait(&p, ts + 10) == 1);
	p = paced("1000000");
	p.stop = &stop;
	chr_pace_wait(&p, INT64_MIN);
	CHECK(chr_pace_wait(&p, INT64_MAX) == 1);
	CHECK(p.late == 0);
	return unit_done("t-pace");
}
