/* pace.h - replay at recorded speed: each record held until its ts, scaled
 * by a speed, is due on the monotonic clock (chr-tail --pace). */
#ifndef CHR_PACE_H
#define CHR_PACE_H

#include <signal.h>
#include <stdint.h>

#include "err.h"

#define CHR_PACE_MAX 1000000		/* the fastest SPEED taken */
#define CHR_PACE_LATE_NS 100000000	/* late: more than 0.1 s behind the schedule */
#define CHR_PACE_WARN_NS 5000000000	/* at most one "behind" line per 5 s */
#define CHR_PACE_STEP_NS 100000000	/* with stop: its longest sleep, 0.1 s */

struct chr_pace {
	int64_t mant;		/* the speed, mant / 10^scale (exact) */
	int scale;
	char speed[32];		/* as given, for messages */
	int started;
	int64_t ts0, mono0;	/* the schedule: the first record's ts at mono0 */
	int64_t ts_max;		/* highest ts seen: one behind it goes at once */
	int64_t next_warn;	/* monotonic ns before which no "behind" line */
	uint64_t n, late;	/* records paced, of them sent late */
	int64_t worst;		/* the most any went out behind its time, ns */
	int (*flush)(void *ctx);	/* output flushed before each sleep */
	void *flush_ctx;
	chr_warn_fn warn;	/* the "behind" lines and the summary */
	void *warn_ctx;
	volatile sig_atomic_t *stop;	/* when set (a signal), a sleep ends
					 * (within CHR_PACE_STEP_NS) */
};

/* Parse SPEED into p (which it zeroes): a decimal above 0 and at most
 * CHR_PACE_MAX, fractions allowed ("1", "10", "0.5"; no sign, no
 * exponent). Returns 0, or -1 with the reason in e (CHR_EX_USAGE): "--pace
 * 'x' is not a speed (a number above 0, e.g. 1, 10 or 0.5)". */
int chr_pace_parse(struct chr_pace *p, const char *s, struct chr_err *e);

/* Hold the caller until a record of ts is due, then return 0 so that it
 * goes out. The schedule is absolute: the first record paced goes at once
 * and fixes the clock, each later one is due (ts - first ts) / speed after
 * it on CLOCK_MONOTONIC, slept to with TIMER_ABSTIME, so no sleep error
 * adds up. A record whose ts is behind the highest seen is due when that
 * one was (at once). flush, when set, runs before each sleep; its failure
 * (non-zero) is returned. A record going out more than CHR_PACE_LATE_NS
 * behind its time counts as late, and while late, warn gets a line
 * ("--pace 1: 2.050 s behind the records' schedule (the output or the input
 * is slower)")
 * at most every CHR_PACE_WARN_NS. Returns 1 when *stop was set during a
 * sleep (the record is not due yet). */
int chr_pace_wait(struct chr_pace *p, int64_t ts);

/* At the end: the summary to warn when any record was late ("--pace 1: 12
 * of 3000 records sent late (more than 0.1 s behind the schedule), at
 * worst 2.050 s"); nothing otherwise. */
void chr_pace_end(const struct chr_pace *p);

#endif
