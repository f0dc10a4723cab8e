/* snap.h - where a replay from a book snapshot starts in a segment file,
 * plain or compressed (zsq.h): the last snapshot at or before a time that
 * starts an event, and the leading DEFINE records to read before it. */
#ifndef CHR_SNAP_H
#define CHR_SNAP_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "map.h"
#include "rec.h"

/* A place to start reading a segment at. */
struct chr_snap {
	uint64_t off;		/* segment offset of the first record to read */
	size_t frame;		/* compressed: the frame that holds it */
	void *data;		/* compressed: len bytes decompressed from that
				 * frame's start on (malloc'd, the caller's), or
				 * NULL: a prefix of it, or the frames from it up
				 * to the one that holds ts, one after the other
				 * (with upto, the last of them perhaps in part) */
	size_t len;
};

/* Find in the segment file at path (shown: the path for messages) the last
 * BOOK_SNAPSHOT at or before ts that starts an event (frames of compressed
 * segments are flagged so: docs/format.md; a search from the last flagged
 * frame at or before ts walks the frames up to ts). Records are walked in
 * order up to ts; a segment that is not valid is not searched (its reader
 * says why). A compressed segment's frames walked from the one holding the
 * snapshot on are handed over in at->data (chr_reader_init_zsq_data), so
 * that the reader decompresses none of them again; with upto (a reader
 * that wants no record after the first one past ts, such as the book at
 * ts), of the frame that holds ts only as much as holds that record, when
 * the first part of the frame decompressed does. from: in a plain segment,
 * the offset of a snapshot that begins an event, where the walk may start
 * (meta.json's, struct chr_snapref; taken when a BOOK_SNAPSHOT at or
 * before ts that is no repeat lies there), or 0. Returns 1 with *at set, 0
 * when there is none, -1 with e set (cannot open or read the file, a frame
 * does not decompress). */
int chr_snap_find(const char *path, const char *shown, int64_t ts, uint64_t from, int upto,
		  struct chr_snap *at, struct chr_err *e);

/* A compressed segment read for its leading DEFINE records only: the first
 * 64 KiB of its first frame usually hold them and the record after, so
 * that much is decompressed into at (frame 0, off 0, data and len up to
 * and with the first record that is not a DEFINE) rather than the whole
 * frame when it is read. Returns 1 with *at set, 0 when the prefix is not
 * enough or the segment is plain (*at unchanged), -1 with e set. */
int chr_snap_defs_prefix(const char *path, const char *shown, struct chr_snap *at,
			 struct chr_err *e);

/* ---- every instrument of a multi-instrument stream (a raw partition) ---- */

/* What the search knows of one instrument. */
struct chr_snap_inst {
	uint16_t venue_id;	/* its ids */
	uint32_t market;
	int want;		/* 1 searched for; 0 not (its DEFINE's names were
				 * not selected, or none was seen and there is a
				 * selection) */
	int done;		/* 1 its snapshot is at (seg, off); -1 it has none
				 * at or before ts (the search passed its start) */
	size_t seg;		/* the caller's number of the segment */
	uint64_t off;		/* segment offset of the snapshot */
	size_t frame;		/* compressed: the frame holding it */
	char venue[CHR_VENUE_MAX + 1], symbol[CHR_SYMBOL_MAX + 1];	/* its
				 * DEFINE's names ("" before one is seen) */
	/* within the walk of one segment */
	int state;		/* 0 unknown, 1 at the start of an event, 2 in one */
	int seen, l_found;
	uint64_t l_off;
	size_t l_frame;
};

/* The search for the last snapshot at or before ts of every instrument of
 * a stream whose segments hold many (a venue's raw queue), walked a
 * segment at a time from the last backwards. */
struct chr_snap_each {
	struct chr_tab inst;	/* struct chr_snap_inst by (venue, market), in
				 * order of first appearance in the walk */
	int64_t ts;
	/* want(ctx, venue, symbol): 1 when the instrument so named is searched
	 * for, 0 when not, -1 out of memory; NULL: every instrument, named or
	 * not */
	int (*want)(void *ctx, uint16_t venue_id, uint32_t market, const char *venue,
		    const char *symbol);
	void *ctx;
};

void chr_snap_each_init(struct chr_snap_each *x, int64_t ts,
			int (*want)(void *, uint16_t, uint32_t, const char *, const char *),
			void *ctx);
void chr_snap_each_free(struct chr_snap_each *x);

/* Walk the segment file at path (shown in messages; seg is the caller's
 * number for it, kept in the result) up to its first record after x->ts.
 * Segments are given last first. Every instrument searched for that has a
 * BOOK_SNAPSHOT there and is not settled yet is settled by its last one at
 * or before ts that is not a REPEAT and does not lie inside an event of its
 * instrument (the instrument's record before it, when the walk saw one, is
 * LAST or a DEFINE). One that a later segment met and this one does not
 * (no record, not among its leading DEFINE repeats, which name every
 * instrument defined before it) started after it: settled as having none.
 * Returns the number of instruments searched for that are met and not
 * settled (0: the search is over; when segments run out, those have none),
 * or -1 with e set (as chr_snap_find). */
long chr_snap_each_seg(struct chr_snap_each *x, const char *path, const char *shown, size_t seg,
		       struct chr_err *e);

#endif
