/* segw.h - archive segment files: one being written, sealed into
 * NNNNNNNNN.q, and the xxh3-128 checksums meta.json keeps of them. */
#ifndef CHR_SEGW_H
#define CHR_SEGW_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "rec.h"

/* A segment's snapshots that meta.json lists, at most (docs/archive.md) */
#define CHR_SEG_SNAPS 16

/* Where the search for the last snapshot at or before a time T may start
 * its walk of a plain segment (meta.json "snapshots"): at byte off, a
 * BOOK_SNAPSHOT, not a repeat, that begins an event (the record before it
 * in the segment is LAST or a DEFINE). ts_upto is the largest ts of the
 * segment's records up to and with it: a walk from the segment's start
 * reaches it exactly when T >= ts_upto. */
struct chr_snapref {
	int64_t ts_upto;
	uint64_t off;
};

/* What meta.json says of one sealed segment. */
struct chr_seginfo {
	uint64_t id, base_seq, count, bytes;
	int64_t ts_min, ts_max;
	char checksum[48];	/* "xxh3-128:<32 hex digits>" of the file's bytes */
	struct chr_snapref snaps[CHR_SEG_SNAPS];	/* by offset, snap_gap apart */
	size_t nsnaps;
};

/* A segment being written: "<dir>/NNNNNNNNN.q.tmp", sealed into
 * "<dir>/NNNNNNNNN.q". Records are buffered; the file is opened lazily
 * and may be closed between writes (chr_segw_close_fd) to bound the
 * number of open files. */
struct chr_segw {
	char path[4096];	/* the .q.tmp path */
	int fd;			/* -1 while closed */
	unsigned char *buf;
	size_t cap, n;
	struct chr_seginfo info;	/* bytes = current end */
	uint64_t snap_gap;	/* info.snaps are at least this many bytes apart */
	int starts;		/* the next record begins an event */
};

/* Start segment id with base_seq in dir (the file is not created until
 * the first flush); size: the size it is cut at, which spaces the
 * snapshots noted for meta.json (size / CHR_SEG_SNAPS apart). Returns 0,
 * or -1 with errno (ENOMEM, ENAMETOOLONG). */
int chr_segw_open(struct chr_segw *w, const char *dir, uint64_t id, uint64_t base_seq,
		  uint64_t size);

/* Append a copy of rec (a checked record) with seq set to base_seq +
 * count, re-sealed; a snapshot a search may start at is noted in
 * info.snaps. Returns 0, or -1 with errno. */
int chr_segw_put(struct chr_segw *w, const struct chr_rec *rec);

/* Close the file descriptor (reopened on the next write). */
void chr_segw_close_fd(struct chr_segw *w);

/* Drop an unsealed segment: free it and unlink the temp file. */
void chr_segw_abort(struct chr_segw *w);

/* Seal: write the final header (end, count, ts range, crc, SEALED),
 * truncate to end, fsync, rename to NNNNNNNNN.q, hash the file into
 * info.checksum, free the buffer. Returns 0, or -1 with errno. */
int chr_segw_seal(struct chr_segw *w);

/* "xxh3-128:<hex>" of the file at path into out (48 bytes), and its size.
 * Returns 0, or -1 with errno. */
int chr_file_xxh128(const char *path, char *out, uint64_t *size);

/* "xxh3-128:<hex>" of buf[0..n) into out (48 bytes). */
void chr_mem_xxh128(const void *buf, size_t n, char *out);

/* The same of the segment bytes that the compressed segment at path holds
 * (what chr_file_xxh128 gives for the plain segment), and their size.
 * Returns 0, or -1 with e (its status as chr_zsq_open's). */
int chr_zsq_xxh128(const char *path, char *out, uint64_t *size, struct chr_err *e);

#endif
