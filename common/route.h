/* route.h - routing (chr-sink --route): each record into the queue a path
 * template names for it ({venue}, {symbol}, {stream}, {date}), after its
 * instrument's DEFINE, with exactly-once reruns (--resume, resume.h). */
#ifndef CHR_ROUTE_H
#define CHR_ROUTE_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "queue.h"
#include "rec.h"

/* A route: a parsed template and the queues it has opened. */
struct chr_route;

#define CHR_ROUTE_MAX_OPEN 256	/* default limit of open queue writers */

struct chr_route_opts {
	const char *tmpl;
	struct chr_queue_opts qo;	/* for every queue (CHR_QUEUE_CREATE added) */
	int resume;
	size_t max_open;		/* 0 = CHR_ROUTE_MAX_OPEN */
};

/* Why tmpl is not a route template ("unknown placeholder '{x}'"), written
 * into buf (n bytes), or NULL. */
const char *chr_route_template_check(const char *tmpl, char *buf, size_t n);

/* A route for o (its template checked), or NULL (out of memory). */
struct chr_route *chr_route_new(const struct chr_route_opts *o);

/* Route one input record (name and off: the input, for messages): keep a
 * DEFINE, skip a HEARTBEAT, append anything else, after its instrument's
 * DEFINE, to its queue, opened (created) when needed. Returns 0, or -1 with
 * e: a bad name or a record of no DEFINE is CHR_EX_DATA, a queue that
 * cannot be opened or written CHR_EX_SYS. */
int chr_route_put(struct chr_route *rt, const struct chr_rec *rec, const char *name,
		  uint64_t off, struct chr_err *e);

/* What a route did to one queue. */
struct chr_route_queue {
	const char *path;
	uint64_t appended, skipped;	/* skipped: held already (--resume) */
	uint64_t first_seq, end_seq;	/* the queue's seq before and after */
};

/* What a route did: its queues in the order they were first used. */
struct chr_route_stats {
	uint64_t heartbeats;	/* HEARTBEAT records skipped */
	uint64_t reserved;	/* records of reserved types or of no instrument */
	size_t nqueues;
};

/* Close every queue (after the last chr_route_put) and return the
 * statistics; queue i with chr_route_queue_at. */
void chr_route_close(struct chr_route *rt, struct chr_route_stats *st);
void chr_route_queue_at(const struct chr_route *rt, size_t i, struct chr_route_queue *q);

/* Close every queue and free rt (NULL: nothing). */
void chr_route_free(struct chr_route *rt);

#endif
