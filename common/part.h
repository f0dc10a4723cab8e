/* part.h - the partitioner, shared by the archive writer and routing
 * (chr-sink --route): DEFINE records checked and bound to instruments,
 * the stream of a record type, the UTC-day split, and the rule that an
 * instrument's DEFINE goes into a partition before its first record. */
#ifndef CHR_PART_H
#define CHR_PART_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "map.h"
#include "rec.h"
#include "tm.h"

/* The streams a record can belong to; CHR_ST_APP only with CHR_PART_APP. */
enum { CHR_ST_BOOK, CHR_ST_TRADE, CHR_ST_QUOTE, CHR_ST_TOPN, CHR_ST_APP, CHR_NSTREAM };

/* "book", "trade", "quote", "topn", "app", by stream. */
extern const char *const chr_stream_names[CHR_NSTREAM];

/* The archive stream of a record type: CHR_ST_BOOK (snapshots, diffs,
 * gaps), _TRADE, _QUOTE, _TOPN; CHR_ST_APP for application types
 * (CHR_APP_MIN and up); -1 for DEFINE, HEARTBEAT and reserved types. */
static inline int chr_part_stream(uint16_t type)
{
	switch (type) {
	case CHR_BOOK_SNAPSHOT:
	case CHR_BOOK_DIFF:
	case CHR_GAP:
		return CHR_ST_BOOK;
	case CHR_TRADE:
		return CHR_ST_TRADE;
	case CHR_QUOTE:
		return CHR_ST_QUOTE;
	case CHR_BOOK_TOPN:
		return CHR_ST_TOPN;
	}
	return type >= CHR_APP_MIN ? CHR_ST_APP : -1;
}

/* One instrument: what its DEFINE bound. last[] and day[] are the
 * caller's: the partition of its last record of each stream and that
 * partition's day (chr_part_cached, chr_part_keep); user is the caller's
 * too. */
struct chr_inst {
	uint16_t venue_id;
	uint32_t market_id;
	uint32_t gen;		/* 1 at its first DEFINE, +1 at each rebinding */
	struct chr_rec *def;	/* its DEFINE (a span; REPEAT cleared with
				 * CHR_PART_REBIND), owned */
	char venue[CHR_VENUE_MAX + 1], symbol[CHR_SYMBOL_MAX + 1];
	void *last[CHR_NSTREAM];
	int64_t day[CHR_NSTREAM];
	void *user;
};

/* Flags of a partitioner */
#define CHR_PART_VENUE 0x1	/* venue names must be path components */
#define CHR_PART_SYMBOL 0x2	/* symbol names must be path components */
#define CHR_PART_REBIND 0x4	/* a changed DEFINE rebinds its instrument (else
				 * an instrument keeps its names, one pair of names
				 * one instrument, and repeats are ignored) */
#define CHR_PART_APP 0x8	/* application types are the stream "app" */
#define CHR_PART_DAYS 0x10	/* partitions are split at UTC midnight */

struct chr_part {
	struct chr_tab tab;	/* of struct chr_inst, in order of first DEFINE */
	unsigned flags;
	uint64_t skipped;	/* records of no stream: HEARTBEAT, reserved types,
				 * application records of no instrument */
};

/* An empty partitioner with flags CHR_PART_*. */
void chr_part_init(struct chr_part *p, unsigned flags);

/* Free the instruments (not what their user pointers hold). */
void chr_part_free(struct chr_part *p);

/* Bind the DEFINE rec, read from input name at byte off. Returns 1 when
 * it bound an instrument or (CHR_PART_REBIND) rebound it (gen moved; its
 * last[] are cleared), 0 when it repeats what is bound, -1 with e: a
 * DEFINE whose names are not valid (or not path components, by flags) or
 * that contradicts an earlier binding is CHR_EX_DATA
 * ("name: byte N: DEFINE ..."), out of memory CHR_EX_SYS. */
int chr_part_define(struct chr_part *p, const struct chr_rec *rec, const char *name, uint64_t off,
		    struct chr_err *e);

/* Take one record read from input name at byte off: bind a DEFINE, count
 * a record of no stream in p->skipped, else find its instrument. Returns
 * 1 with *in and *stream set for a record to place, 0 for a record taken
 * here, -1 with e: a bad DEFINE (chr_part_define), or a record of a
 * stream of no instrument DEFINE'd ("... before any DEFINE of it",
 * CHR_EX_DATA). */
int chr_part_take(struct chr_part *p, const struct chr_rec *rec, const char *name, uint64_t off,
		  struct chr_inst **in, int *stream, struct chr_err *e);

/* The UTC day of ts as its partitions split: chr_day_start(ts), or
 * INT64_MIN for the day that starts before INT64_MIN (where chr_day_start
 * would overflow); 0 for every ts without CHR_PART_DAYS. */
static inline int64_t chr_part_day(const struct chr_part *p, int64_t ts)
{
	int64_t r = ts % CHR_DAY_NS;

	if (!(p->flags & CHR_PART_DAYS))
		return 0;
	return r < 0 && ts - r < INT64_MIN + CHR_DAY_NS ? INT64_MIN : chr_day_start(ts);
}

/* The partition in's last record of stream s went to, when it holds day,
 * else NULL: find or make the partition, then chr_part_keep it. */
static inline void *chr_part_cached(const struct chr_inst *in, int s, int64_t day)
{
	return in->last[s] && in->day[s] == day ? in->last[s] : NULL;
}

static inline void chr_part_keep(struct chr_inst *in, int s, int64_t day, void *part)
{
	in->last[s] = part;
	in->day[s] = day;
}

/* The DEFINEs a partition holds: which generation of which instrument. */
struct chr_part_defs {
	struct chr_part_def {
		const struct chr_inst *in;
		uint32_t gen;
	} *v;
	size_t n, cap, last;
};

/* chr_part_needs_define past its shortcut. */
int chr_part_defs_find(struct chr_part_defs *d, const struct chr_inst *in);

/* 1 when the partition of d must get in's DEFINE (as it is now) before a
 * record of in, else 0; then chr_part_defs_mark. */
static inline int chr_part_needs_define(struct chr_part_defs *d, const struct chr_inst *in)
{
	if (d->last < d->n && d->v[d->last].in == in)
		return d->v[d->last].gen != in->gen;
	return chr_part_defs_find(d, in);
}

/* The partition of d holds in's DEFINE as it is now. Returns 0, or -1
 * when out of memory (errno ENOMEM). */
int chr_part_defs_mark(struct chr_part_defs *d, const struct chr_inst *in);

void chr_part_defs_free(struct chr_part_defs *d);

/* A copy of rec (its span, 64-byte aligned), or NULL (ENOMEM). */
struct chr_rec *chr_rec_dup(const struct chr_rec *rec);

#endif
