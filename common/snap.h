/* snap.h - where a replay from a book snapshot starts in a segment file,
 * plain or compressed (zsq.h): the last snapshot at or before a time that
 * starts an event, and the leading DEFINE records to read before it. */
#ifndef CHR_SNAP_H
#define CHR_SNAP_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

/* A place to start reading a segment at. */
struct chr_snap {
	uint64_t off;		/* segment offset of the first record to read */
	size_t frame;		/* compressed: the frame that holds it */
	void *data;		/* compressed: that frame's first len bytes,
				 * decompressed (malloc'd, the caller's), or NULL */
	size_t len;
};

/* Find in the segment file at path (shown: the path for messages) the last
 * BOOK_SNAPSHOT at or before ts that starts an event (frames of compressed
 * segments are flagged so: docs/format.md; a search from the last flagged
 * frame at or before ts walks the frames up to ts). Records are walked in
 * order up to ts; a segment that is not valid is not searched (its reader
 * says why). Returns 1 with *at set, 0 when there is none, -1 with e set
 * (cannot open or map the file, a frame does not decompress). */
int chr_snap_find(const char *path, const char *shown, int64_t ts, struct chr_snap *at,
		  struct chr_err *e);

/* A compressed segment read for its leading DEFINE records only: the first
 * 64 KiB of its first frame usually hold them and the record after, so
 * that much is decompressed into at (frame 0, off 0, data and len up to
 * and with the first record that is not a DEFINE) rather than the whole
 * frame when it is read. Returns 1 with *at set, 0 when the prefix is not
 * enough or the segment is plain (*at unchanged), -1 with e set. */
int chr_snap_defs_prefix(const char *path, const char *shown, struct chr_snap *at,
			 struct chr_err *e);

#endif
