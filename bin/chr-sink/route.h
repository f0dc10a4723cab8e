/* route.h - chr-sink's --route (records into the queue a path template
 * names for them) and --resume (skip what a queue already holds), shared by
 * chr-sink.c's --queue and --route modes. */
#ifndef CHR_SINK_ROUTE_H
#define CHR_SINK_ROUTE_H

#include <stddef.h>
#include <stdint.h>

#include "queue.h"
#include "rec.h"

/* Where an exactly-once run stands in one queue. The resume key of a
 * record is (src_seq, 0 when SYNTHETIC else 1), compared in that order. */
struct resume {
	int has;		/* the queue holds a record of the input ... */
	uint64_t src;		/* ... with this key, the last one */
	unsigned syn1;
	uint64_t left;		/* records of that key still to skip */
	int seen;		/* a record went to the queue in this run ... */
	uint64_t last_src;	/* ... with this key */
	unsigned last_syn1;
	uint64_t skipped;	/* input records skipped */
};

/* A copy of a DEFINE record (its span), malloc'd. */
struct resume_def {
	struct chr_rec *rec;
};

/* Find the resume point of the queue in dir, whose writer w is open: its
 * last record not flagged REPEAT and the number of records with that key
 * at its end. With route, DEFINE records do not count (chr-sink --route
 * writes them, copies of an earlier input record), and those after the
 * last counted record are returned in *defs (*ndefs; free with
 * resume_defs_free). Returns 0, or -1 with err (512 bytes) and *status. */
int resume_load(struct resume *rs, const struct chr_queue_writer *w, int route,
		struct resume_def **defs, size_t *ndefs, char *err, int *status);

void resume_defs_free(struct resume_def *defs, size_t n);

/* Whether rec, an input record bound for the queue, is one it holds
 * already (counted in rs->skipped). Returns 1 to skip, 0 to write, -1 with
 * err (512 bytes) when the keys of the records bound for the queue go
 * backwards, which makes resuming impossible (name and off: the input). */
int resume_skip(struct resume *rs, const struct chr_rec *rec, const char *qname,
		const char *name, uint64_t off, char *err);

/* Check rec before it becomes record seq of the queue qname: with src_seq
 * 0 the queue would store seq as its src_seq, and a later --resume could
 * not match it. Returns 0, or -1 with err (512 bytes). */
int resume_src_check(const struct chr_rec *rec, uint64_t seq, const char *qname,
		     const char *name, uint64_t off, char *err);

/* A route: a parsed template and the queues it has opened. */
struct route;

#define ROUTE_MAX_OPEN 256	/* default limit of open queue writers */

struct route_opts {
	const char *tmpl;
	struct chr_queue_opts qo;	/* for every queue (CHR_QUEUE_CREATE added) */
	int resume;
	size_t max_open;		/* 0 = ROUTE_MAX_OPEN */
};

/* Why tmpl is not a route template ("unknown placeholder '{x}'"), or NULL. */
const char *route_template_check(const char *tmpl, char *buf, size_t n);

/* A route for o (its template checked), or NULL (out of memory). */
struct route *route_new(const struct route_opts *o);

/* Route one input record (name and off: the input, for messages): keep a
 * DEFINE, skip a HEARTBEAT, append anything else, after its instrument's
 * DEFINE, to its queue, opened (created) when needed. Returns 0, or -1 with
 * err (512 bytes) and *status: a bad name or a record of no DEFINE is
 * CHR_EX_DATA, a queue that cannot be opened or written CHR_EX_SYS. */
int route_put(struct route *rt, const struct chr_rec *rec, const char *name, uint64_t off,
	      char *err, int *status);

/* Print a line per queue and the totals (verbose), warn about records of
 * reserved types, close every queue and free rt. */
void route_end(struct route *rt, int verbose);

/* Close every queue and free rt, quietly (before dying). */
void route_free(struct route *rt);

#endif
