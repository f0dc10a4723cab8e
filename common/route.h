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
#include "staging.h"

/* A route: a parsed template and the queues it has opened. */
struct chr_route;

#define CHR_ROUTE_MAX_OPEN 256	/* default limit of open queue writers */

struct chr_route_opts {
	const char *tmpl;
	struct chr_queue_opts qo;	/* for every queue (CHR_QUEUE_CREATE added) */
	int resume;
	size_t max_open;		/* 0 = CHR_ROUTE_MAX_OPEN */
	int durable;			/* a queue closed to make room is flushed
					 * first (chr_route_flush's promise) */
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

/* Make every record appended so far durable in its queue
 * (chr_queue_flush of each queue written since the last call, by the
 * queues' --fsync policy). Returns 0, or -1 with e. */
int chr_route_flush(struct chr_route *rt, struct chr_err *e);

/* Close every queue (after the last chr_route_put) and report through
 * warn(ctx, message): with verbose a line per queue and the totals; always
 * the records of reserved types or of no instrument that were not routed.
 * rt stays to be freed. */
void chr_route_end(struct chr_route *rt, int verbose, chr_warn_fn warn, void *ctx);

/* Room for n open queue writers (two descriptors each): raise the soft
 * limit of open files when needed. Returns how many fit. */
size_t chr_route_fd_room(size_t n);

/* Close every queue and free rt (NULL: nothing). */
void chr_route_free(struct chr_route *rt);

#endif
