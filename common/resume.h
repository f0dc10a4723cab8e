/* resume.h - exactly-once appends to a queue (chr-sink --resume, --tap,
 * --route --resume): where a queue stands, so that a rerun skips the input
 * records it holds already. */
#ifndef CHR_RESUME_H
#define CHR_RESUME_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "queue.h"
#include "rec.h"

/* Where an exactly-once run stands in one queue. The resume key of a
 * record is (src_seq, 0 when SYNTHETIC else 1), compared in that order. */
struct chr_resume {
	int has;		/* the queue holds a record of the input ... */
	uint64_t src;		/* ... with this key, the last one */
	unsigned syn1;
	uint64_t left;		/* records of that key still to skip */
	int seen;		/* a record went to the queue in this run ... */
	uint64_t last_src;	/* ... with this key */
	unsigned last_syn1;
	uint64_t skipped;	/* input records skipped */
};

/* Find the resume point of the queue in dir, whose writer w is open: its
 * last record not flagged REPEAT and the number of records with that key
 * at its end. With route, DEFINE records do not count (chr-sink --route
 * writes them, copies of an earlier input record; whether the queue holds
 * an instrument's DEFINE its writer knows: chr_queue_define_of). Returns
 * 0, or -1 with e. */
int chr_resume_load(struct chr_resume *rs, const struct chr_queue_writer *w, int route,
		    struct chr_err *e);

/* The same for the queue in dir that a reader sees, whose records end
 * before seq end (chr_queue_end_seq): for a queue another process may be
 * writing, what is committed. */
int chr_resume_load_dir(struct chr_resume *rs, const char *dir, uint64_t end, int route,
			struct chr_err *e);

/* Whether rec, an input record bound for the queue qname, is one it holds
 * already (counted in rs->skipped). Returns 1 to skip, 0 to write, -1 with
 * e (CHR_EX_DATA) when the keys of the records bound for the queue go
 * backwards, which makes resuming impossible (name and off: the input). */
int chr_resume_skip(struct chr_resume *rs, const struct chr_rec *rec, const char *qname,
		    const char *name, uint64_t off, struct chr_err *e);

/* Check rec before it becomes record seq of the queue qname: with src_seq
 * 0 the queue would store seq as its src_seq, and a later --resume could
 * not match it. Returns 0, or -1 with e (CHR_EX_DATA). */
int chr_resume_src_check(const struct chr_rec *rec, uint64_t seq, const char *qname,
			 const char *name, uint64_t off, struct chr_err *e);

/* Append rec, read from input name at byte off, to the queue of the open
 * writer q; with rs (not NULL) not when the queue holds it already, and
 * after chr_resume_src_check. Returns 0 when appended, 1 when skipped, -1
 * with e: a record larger than a queue segment is CHR_EX_DATA. */
int chr_resume_append(struct chr_resume *rs, struct chr_queue_writer *q, const struct chr_rec *rec,
		      const char *name, uint64_t off, struct chr_err *e);

#endif
