/* warm.h - where a refinery's clean queues stand, so that a restart goes
 * on from their ends (docs/refinery.md, "Warm restart"): each queue's last
 * resume key and each book's state at its end. */
#ifndef CHR_WARM_H
#define CHR_WARM_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "isel.h"
#include "map.h"
#include "part.h"
#include "rec.h"

/* What the clean queues of one instrument hold. */
struct chr_warm_inst {
	struct chr_rec *def;		/* its DEFINE, from a clean queue */
	struct {
		int has;		/* the queue holds a record ... */
		uint64_t src;		/* ... whose resume key is (src, syn1) */
		unsigned syn1;
		int passed;		/* a later record went by: no more checks */
	} last[CHR_NSTREAM];
	struct chr_rec *state;		/* the book at the end of its queue: a
					 * synthetic BOOK_SNAPSHOT, or a GAP when
					 * it is not known; NULL: no book queue */
};

struct chr_warm {
	struct chr_tab tab;		/* struct chr_warm_inst *, by the ids of the DEFINEs */
	size_t queues;			/* clean queues read */
	size_t pending;			/* of them, those no input record passed yet */
	uint64_t next;			/* the input records below this seq are
					 * in the clean queues in full */
	uint64_t lost;			/* records the last hole took (chr_warm_hole) */
};

/* Read the clean queues ROOT/VENUE/SYMBOL/STREAM (chr-sink --route
 * 'ROOT/{venue}/{symbol}/{stream}' --resume) of the instruments sel
 * selects: their last resume keys, and each book queue's book at its end,
 * replayed from its last BOOK_SNAPSHOT or GAP. A root that does not exist
 * holds nothing. Returns 0, or -1 with e: a queue whose first record is
 * not a DEFINE, or that holds another instrument's, is CHR_EX_DATA. */
int chr_warm_load(struct chr_warm *w, const char *root, struct chr_isel *sel,
		  struct chr_err *e);

void chr_warm_free(struct chr_warm *w);

/* Whether the clean queue rec is bound for holds it already (its resume
 * key is at or below the queue's last): 1 to drop it, else 0. DEFINE and
 * HEARTBEAT records are never held. */
int chr_warm_held(struct chr_warm *w, const struct chr_rec *rec);

/* The instrument of a DEFINE read from the input: -1 with e (CHR_EX_DATA)
 * when a clean queue binds its names to other ids (the records would go to
 * another book than the state's), else 0. */
int chr_warm_define(struct chr_warm *w, const struct chr_rec *def, struct chr_err *e);

/* Whether rec is the GAP with no instrument that chr-tail --from-reader
 * writes where the queue it reads lost records (docs/format.md): SYNTHETIC,
 * keyed just before the first record held. */
static inline int chr_warm_is_hole(const struct chr_rec *rec)
{
	return rec->type == CHR_GAP && rec->venue == 0 && rec->market == 0 &&
		(rec->flags & CHR_F_SYNTHETIC) &&
		((const struct chr_gap *)chr_rec_payload(rec))->got == rec->src_seq;
}

/* gap, such a hole (the input lost the records from seq gap->expected to
 * gap->got - 1): w->lost the records of it that the clean queues lacked;
 * when there are some, put gets a GAP of each book queue's instrument
 * (reason seq gap, expected the first record lost, got gap->got, keyed
 * just before record got). Returns the number of books, or -1 when put
 * fails. */
long chr_warm_hole(struct chr_warm *w, const struct chr_rec *gap,
		   int (*put)(void *ctx, const struct chr_rec *r), void *ctx);

#endif
