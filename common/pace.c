/* pace.c - replay at recorded speed: an absolute schedule on the monotonic
 * clock from the first record's ts, and how far behind it the output runs. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "dec.h"
#include "fmt.h"
#include "pace.h"

static int64_t mono_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

int chr_pace_parse(struct chr_pace *p, const char *s, struct chr_err *e)
{
	int64_t m;
	int sc;
	char sh[64];

	memset(p, 0, sizeof *p);
	if (*s == '-' || chr_dec_parse(s, strlen(s), &m, &sc) < 0 || m <= 0 ||
	    chr_dec_cmp(m, sc, CHR_PACE_MAX, 0) > 0 || strlen(s) >= sizeof p->speed)
		return chr_err_set(e, CHR_EX_USAGE, "--pace '%s' is not a speed (a number above 0 "
				   "and at most %d, e.g. 1, 10 or 0.5)", chr_fmt_shown(sh, sizeof sh, s),
				   CHR_PACE_MAX);
	p->mant = m;
	p->scale = sc;
	strcpy(p->speed, s);
	return 0;
}

/* "2.050" seconds of ns into buf */
static const char *secs(char *buf, size_t n, int64_t ns)
{
	snprintf(buf, n, "%" PRId64 ".%03" PRId64, ns / 1000000000, ns / 1000000 % 1000);
	return buf;
}

int chr_pace_wait(struct chr_pace *p, int64_t ts)
{
	struct timespec t;
	int64_t now = mono_ns(), due, late, k;
	__int128 q;
	char msg[160], b[32];

	if (!p->started) {
		p->started = 1;
		p->ts0 = p->ts_max = ts;
		p->mono0 = now;
	}
	if (ts > p->ts_max)
		p->ts_max = ts;
	p->n++;
	/* (ts - ts0) * 10^scale / mant, exact in 128 bits (at most 2^64 *
	 * 10^18); a time past the monotonic clock's range is never due */
	q = ((__int128)p->ts_max - p->ts0) * chr_pow10[p->scale] / p->mant;
	due = q < (__int128)INT64_MAX - p->mono0 ? p->mono0 + (int64_t)q : INT64_MAX;
	if (due > now) {
		if (p->flush && (k = p->flush(p->flush_ctx)) != 0)
			return (int)k;
		/* to due, absolute; in steps of at most CHR_PACE_STEP_NS when
		 * a signal may stop it, since one that comes between the check
		 * and the sleep does not end the sleep */
		while ((now = mono_ns()) < due) {
			if (p->stop && *p->stop)
				return 1;
			k = p->stop && due - now > CHR_PACE_STEP_NS ? now + CHR_PACE_STEP_NS : due;
			t.tv_sec = k / 1000000000;
			t.tv_nsec = k % 1000000000;
			clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &t, NULL);
		}
		return 0;
	}
	late = now - due;
	if (late > p->worst)
		p->worst = late;
	if (late <= CHR_PACE_LATE_NS)
		return 0;
	p->late++;
	if (p->warn && now >= p->next_warn) {
		p->next_warn = now + CHR_PACE_WARN_NS;
		snprintf(msg, sizeof msg, "--pace %s: %s s behind the records' schedule "
			 "(the output or the input is slower)", p->speed, secs(b, sizeof b, late));
		p->warn(p->warn_ctx, msg);
	}
	return 0;
}

void chr_pace_end(const struct chr_pace *p)
{
	char msg[200], b[32], w[32];

	if (!p->late || !p->warn)
		return;
	snprintf(msg, sizeof msg, "--pace %s: %" PRIu64 " of %" PRIu64 " records sent late "
		 "(more than %s s behind the schedule), at worst %s s", p->speed, p->late, p->n,
		 secs(b, sizeof b, CHR_PACE_LATE_NS), secs(w, sizeof w, p->worst));
	p->warn(p->warn_ctx, msg);
}
