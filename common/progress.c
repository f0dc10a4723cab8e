/* progress.c - progress lines on stderr. */
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "progress.h"

static int64_t now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

void chr_progress_init(struct chr_progress *p, int on, uint64_t total, const char *unit)
{
	p->on = on < 0 ? isatty(STDERR_FILENO) : on;
	p->total = total;
	p->start = p->last = now();
	p->tick = 0;
	p->unit = unit;
}

void chr_progress_print(struct chr_progress *p, uint64_t items, uint64_t bytes, int final)
{
	int64_t t = now();
	double secs, rate;
	char line[256];
	int n;

	if (!final && t - p->last < 250000000)
		return;
	p->last = t;
	secs = (double)(t - p->start) / 1e9;
	if (secs <= 0)
		secs = 1e-9;
	rate = (double)items / secs;
	n = snprintf(line, sizeof line, "\r%s: %llu %s, %.1f MB, %.2f M%s/s",
		     chr_prog, (unsigned long long)items, p->unit, (double)bytes / 1e6,
		     rate / 1e6, p->unit);
	if (p->total > 0 && bytes <= p->total && n > 0 && (size_t)n < sizeof line) {
		double frac = (double)bytes / (double)p->total;
		double eta = frac > 0 ? secs * (1 - frac) / frac : 0;

		n += snprintf(line + n, sizeof line - (size_t)n, ", %.0f%%, ETA %.0fs",
			      100 * frac, eta);
	}
	if (n > 0 && (size_t)n < sizeof line - 8) {
		n += snprintf(line + n, sizeof line - (size_t)n, "\033[K%s", final ? "\n" : "");
		(void)chr_write_all(STDERR_FILENO, line, (size_t)n);
	}
}

void chr_progress_end(struct chr_progress *p, uint64_t items, uint64_t bytes)
{
	if (p->on)
		chr_progress_print(p, items, bytes, 1);
}
