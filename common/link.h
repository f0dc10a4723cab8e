/* link.h - a queue replicated over a byte stream (chr-tail --acks |
 * transport | chr-sink --replica, docs/scale-out.md): the link heartbeat,
 * the replica's acknowledgements, and a watchdog that ends a silent link. */
#ifndef CHR_LINK_H
#define CHR_LINK_H

#include <stdint.h>

#include "err.h"
#include "out.h"
#include "qpos.h"
#include "rec.h"

#define CHR_LINK_BEAT_NS INT64_C(1000000000)	/* an idle sender's heartbeat period */
#define CHR_LINK_TIMEOUT_NS (10 * INT64_C(1000000000))	/* --link-timeout default */

/* A link heartbeat: a HEARTBEAT record flagged SYNTHETIC with seq all ones
 * (no queue record has it) and src_seq the sender's position: every record
 * of the queue below it that the sender read has gone before it. A replica
 * appends none. */
static inline int chr_link_is_beat(const struct chr_rec *r)
{
	return r->type == CHR_HEARTBEAT && r->seq == UINT64_MAX;
}

/* Parse a --link-timeout value: a duration of 2s to 1h. Returns 0, or -1. */
int chr_link_timeout_parse(const char *s, int64_t *ns);

/* Start the watchdog: from now on, when chr_link_fed was not called for
 * timeout_ns (checked every second by SIGALRM, a handler installed with
 * SA_RESTART), write "PROG: no WHAT for D s: the link is silent" on stderr
 * and _exit(3). The process holds nothing a kill would lose (a queue
 * writer and a named reader survive SIGKILL), so an exit there is as safe.
 * what is kept, not copied. */
void chr_link_watchdog(int64_t timeout_ns, const char *what);

/* The link is alive now (async-signal-safe to read). */
void chr_link_fed(void);

/* The sender's side: chr-tail --acks FILE. */
struct chr_link_send {
	int fd;			/* the acknowledgements, read without blocking */
	const char *path;
	char buf[64];		/* a line being read */
	size_t n;
	uint64_t acked;		/* the largest position acknowledged */
	uint64_t done;		/* what the named reader holds */
	int64_t sent;		/* when data or a heartbeat went last */
};

/* Open path ("-": stdin) as the acknowledgements and start the watchdog
 * (timeout_ns; "acknowledgement on PATH"). done: the named reader's
 * position. Returns 0, or -1 with e (CHR_EX_SYS). */
int chr_link_send_open(struct chr_link_send *s, const char *path, uint64_t done,
		       int64_t timeout_ns, struct chr_err *e);

/* At a flush point of the sender, once out is flushed (wrote: records went
 * since the last one), or when it woke up idle: read the acknowledgements
 * that came, commit the largest (at most next, never back) as pos, and
 * when nothing went for CHR_LINK_BEAT_NS, write a heartbeat carrying next
 * to out and flush it. Returns 0, or -1 with e: the acknowledgements
 * ended (the replica's end closed the link: CHR_EX_SYS) or are not lines
 * of a seq (CHR_EX_DATA), a commit or the heartbeat's write failed. */
int chr_link_send_tick(struct chr_link_send *s, struct chr_out *out, struct chr_queue_pos *pos,
		       uint64_t next, int wrote, struct chr_err *e);

/* The replica's side: write "N\n" to fd, the position below which it
 * holds every record of the source durably, and feed the watchdog.
 * Returns 0, or -1 with e (CHR_EX_SYS; the link is gone). */
int chr_link_ack(int fd, uint64_t next, struct chr_err *e);

#endif
