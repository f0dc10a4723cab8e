/* tap.h - the archive tap (chr-sink --tap): copy a hot queue into an
 * archive queue as a named reader of it, committing the reader's position
 * only once the archive queue holds what it read durably. */
#ifndef CHR_TAP_H
#define CHR_TAP_H

#include <signal.h>
#include <stdint.h>

#include "err.h"
#include "queue.h"
#include "resume.h"

struct chr_tap {
	const char *hot;		/* the queue read */
	const char *reader;		/* as this named reader (chr_name_check'ed) */
	int follow;			/* at its end, wait for more until *stop */
	int sync;			/* commits of the position reach the disk */
	volatile sig_atomic_t *stop;	/* set (by a signal) to end a follow */
	/* after chr_tap_run */
	uint64_t first;			/* the seq q was at */
	uint64_t appended, skipped;	/* skipped: held already after a kill */
	uint64_t next;			/* the reader's committed position */
};

/* Copy t->hot, from the reader's committed position, to the queue of the
 * open writer q, and commit the position after each batch is durable in
 * q, also at the end. What a killed tap appended after its last commit
 * comes again and is skipped as chr_resume_skip does. Returns 0, or -1
 * with e; what was read before a read error is appended and committed
 * first. hot must not be the queue q writes. */
int chr_tap_run(struct chr_tap *t, struct chr_queue_writer *q, struct chr_err *e);

#endif
