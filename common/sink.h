/* sink.h - the runs of chr-sink: the records of its inputs appended to one
 * queue, to the queues a route names, or written into the archive; and a
 * queue tapped into another. The main parses options and picks the mode;
 * the writers of a run live here, closed by one chr_sink_close. */
#ifndef CHR_SINK_H
#define CHR_SINK_H

#include <stdint.h>

#include <jansson.h>

#include "err.h"
#include "qpos.h"
#include "queue.h"
#include "resume.h"

struct chr_route;
struct chr_archive;
struct chr_tap;

enum chr_sink_mode { CHR_SINK_QUEUE, CHR_SINK_TAP, CHR_SINK_ROUTE, CHR_SINK_ARCHIVE,
	CHR_SINK_PUBLISH };

/* A run: its mode and the writer it has open (q, rt or a); the main sets
 * rt and a (chr_route_new, chr_archive_open) and info, and
 * chr_sink_close frees what is set. Zero-initialise. */
struct chr_sink {
	enum chr_sink_mode mode;
	struct chr_queue_writer q;
	int q_open;		/* q is open (chr_sink_queue_open) */
	int resume;		/* --queue --resume: skip what q holds (rs) */
	int replica;		/* --queue --replica: resume, acknowledge (link.h) */
	int beat;		/* --replica: a link heartbeat came since the last ack */
	int seal_at_end;	/* --queue: seal q's segment when the input ends well */
	struct chr_resume rs;
	uint64_t first, appended;	/* --queue: its seq at the start, records appended */
	struct chr_route *rt;
	struct chr_archive *a;
	json_t *info;		/* the ledger's "input" object */
	int ack_open;		/* --ack: ack is held (chr_sink_ack_open) */
	struct chr_queue_pos ack;
	uint64_t ack_next, ack_done;	/* the progress made, and committed (--replica:
					 * in the source's seq, acknowledged) */
};

/* Open the writer of the queue in dir with qo (and, when s->resume, load
 * where to resume). Returns 0, or -1 with e filled: a missing queue
 * without CHR_QUEUE_CREATE says "; --create makes it". */
int chr_sink_queue_open(struct chr_sink *s, const char *dir, const struct chr_queue_opts *qo,
			struct chr_err *e);

/* --ack: hold the named reader name of the queue in dir (chr_queue_pos_open,
 * its commits synced with sync): while the run lasts, retention on that
 * queue keeps what the reader has not passed. chr_sink_feed then commits
 * as its position how far the records it processed reach in that queue:
 * the largest src_seq + 1 of a record not flagged SYNTHETIC or of a
 * HEARTBEAT, src_seq of a SYNTHETIC record (it comes before that record),
 * never below the committed position; after each batch (when the input
 * may block, at least every 64K records, at the end), once the batch is
 * in the queues and, by their --fsync policy, durable. Returns 0, or -1
 * with e: dir is not a queue, or the reader is in use by another process
 * (CHR_EX_SYS). */
int chr_sink_ack_open(struct chr_sink *s, const char *dir, const char *name, int sync,
		      struct chr_err *e);

/* Write the records of files[0..nfiles) (paths, directories, queues or
 * "-"), in order, to the run's writer as s->mode says (CHR_SINK_QUEUE,
 * CHR_SINK_ROUTE or CHR_SINK_ARCHIVE), with progress on stderr when
 * progress is 1 (-1: when stderr is a terminal). With s->seal_at_end, a
 * queue's current segment is sealed once every input has ended cleanly
 * (chr_queue_seal). With s->replica, a link heartbeat is not appended, and
 * after each batch (as --ack's commits) the source seq after the last
 * record taken (or a heartbeat's src_seq) is written as a line to stdout
 * (chr_link_ack) once durable. Returns 0, or -1 with e filled: a bad input says how
 * many records before it were appended or routed, or that nothing was
 * archived; such a run seals nothing. */
int chr_sink_feed(struct chr_sink *s, char *const *files, int nfiles, int progress,
		  struct chr_err *e);

/* --tap: open the queue dir with qo and copy the queue t->hot into it
 * (chr_tap_run); a follow ends once chr_stop is set by SIGINT or SIGTERM.
 * Returns 0, or -1 with e filled. */
int chr_sink_tap(struct chr_sink *s, const char *dir, const struct chr_queue_opts *qo,
		 struct chr_tap *t, struct chr_err *e);

/* Close and free the run's writers (a queue writer closes in place; an
 * archive writer not committed publishes nothing). Again is harmless. */
void chr_sink_close(struct chr_sink *s);

#endif
