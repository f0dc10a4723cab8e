/* keyed.h - records read for an exactly-once consumer keyed by positions in
 * the queue it reads (the refinery: chr-tail --restamp, --from-reader):
 * src_seq set to seq, and a GAP of no instrument where retention removed
 * records before they were read. */
#ifndef CHR_KEYED_H
#define CHR_KEYED_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "merge.h"
#include "rec.h"

struct chr_keyed {
	int restamp;		/* hand records out with src_seq = seq */
	int check;		/* the first record read says whether records
				 * from seq `from` on were removed */
	uint64_t from;		/* where the read was to start */
	int known;		/* from is a reader's position (else 0: none yet) */
	uint64_t lost_from, lost_to;	/* after a GAP: seqs [lost_from, lost_to) removed */
	const struct chr_rec *held;	/* the record read, to hand out after the GAP */
	unsigned char *buf;	/* a restamped record */
	size_t cap;
	chr_warn_fn warn;	/* told of the records a GAP marks, or NULL */
	void *warn_ctx;
	char queue[256], name[256];	/* shown (chr_fmt_shown), for it */
	union {
		struct chr_rec h;
		unsigned char b[CHR_GAP_SPAN];
	} gap;
};

/* Nothing to do: chr_keyed_next is chr_merge_next. */
void chr_keyed_init(struct chr_keyed *f);
void chr_keyed_free(struct chr_keyed *f);

/* Start the source s (one queue, dir) at the committed position of its
 * named reader name, read without taking the reader (another process may
 * hold it: chr_queue_pos_peek), and check the first record read against
 * it (f->check); a queue with no such reader: at its first record, checked
 * against seq 0 (a GAP when the queue lost records, told to no one: the
 * consumer decides whether it lacks them). Returns 0, or -1 with e (as
 * chr_queue_pos_list). */
int chr_keyed_from_reader(struct chr_keyed *f, struct chr_source *s, const char *dir,
			 const char *name, struct chr_err *e);

/* A record whose src_seq is its seq (the seq it has in the input it was
 * read from) and whose CRC is made right: rec itself when it is so
 * already, else a copy in f (valid until the next call). NULL when out of
 * memory. */
const struct chr_rec *chr_keyed_restamp(struct chr_keyed *f, const struct chr_rec *rec);

/* chr_merge_next, with f's work: restamped records when f->restamp; with
 * f->check, when the first record read has a seq above f->from (the
 * records from there were removed before they were read), first a GAP
 * record of no instrument (venue 0, market 0, reason CHR_GAP_SEQ,
 * expected f->from, got that seq; ts and ts_event that record's; seq and
 * src_seq that seq; flagged SYNTHETIC), with f->lost_from and f->lost_to
 * set and f->warn told, then that record. Returns as chr_merge_next (out of memory: -1,
 * the source m->failed says so). */
int chr_keyed_next_slow(struct chr_keyed *f, struct chr_merge *m, const struct chr_rec **rec);

static inline int chr_keyed_next(struct chr_keyed *f, struct chr_merge *m,
				const struct chr_rec **rec)
{
	if (!f->restamp && !f->check && !f->held)
		return chr_merge_next(m, rec);
	return chr_keyed_next_slow(f, m, rec);
}

#endif
