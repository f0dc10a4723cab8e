/* progress.h - progress of long work on stderr: rate, amount done, and
 * percent and ETA when the total is known. */
#ifndef CHR_PROGRESS_H
#define CHR_PROGRESS_H

#include <stdint.h>

struct chr_progress {
	int on;
	uint64_t total;		/* bytes expected, 0 unknown */
	int64_t start, last;	/* monotonic ns */
	unsigned tick;
	const char *unit;	/* what items are: "rows", "records" */
};

/* Start: on is 1 (forced), 0 (off) or -1 (on when stderr is a terminal).
 * total is the number of bytes expected, or 0. */
void chr_progress_init(struct chr_progress *p, int on, uint64_t total, const char *unit);

/* Print a progress line now, or when final with a newline after it. */
void chr_progress_print(struct chr_progress *p, uint64_t items, uint64_t bytes, int final);

/* Report items and bytes done so far; cheap enough to call per row (it
 * looks at the clock every 4096 calls and prints at most 4 times a
 * second). */
static inline void chr_progress(struct chr_progress *p, uint64_t items, uint64_t bytes)
{
	if (p->on && (++p->tick & 4095) == 0)
		chr_progress_print(p, items, bytes, 0);
}

/* Print the final line (when on) and end it with a newline. */
void chr_progress_end(struct chr_progress *p, uint64_t items, uint64_t bytes);

#endif
