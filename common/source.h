/* source.h - where a reader's records come from: stdin, stream and segment
 * files, partition directories and archive selections, read in order as one
 * stream, with a selection (time, seq, types) that also prunes segments. */
#ifndef CHR_SOURCE_H
#define CHR_SOURCE_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "io.h"
#include "map.h"
#include "rec.h"

/* Which records a reader wants. ts and seq ranges are half-open:
 * [from, until), but an until of INT64_MAX or UINT64_MAX is open (it holds
 * that largest value too). DEFINE records pass the ts and seq ranges (a
 * stream keeps describing itself) but not the type set. */
struct chr_select {
	int64_t ts_from, ts_until;	/* INT64_MIN, INT64_MAX when open */
	uint64_t seq_from, seq_until;	/* 0, UINT64_MAX when open */
	int all_types;			/* 1: the type set is not used */
	uint64_t types[65536 / 64];	/* bit t set: type t wanted */
};

/* Select everything. */
void chr_select_init(struct chr_select *sel);

/* Add the types named in list, a comma-separated list of chr_type_parse
 * names ("trade,quote", "BOOK_DIFF", "0x8001"); "book" stands for the
 * book stream's types (BOOK_SNAPSHOT, BOOK_DIFF, GAP). The first call
 * narrows the selection from all types to the listed ones. Returns 0, or
 * -1 when a name is unknown (*bad points at it, up to the next comma). */
int chr_select_types(struct chr_select *sel, const char *list, const char **bad);

/* 1 when sel wants rec, else 0. */
int chr_select_match(const struct chr_select *sel, const struct chr_rec *rec);

/* The archive stream every selected type belongs to ("trade", ...), or
 * NULL when the types are not all of one stream or all types are
 * selected. */
const char *chr_select_stream(const struct chr_select *sel);

enum chr_input_kind {
	CHR_IN_FD,		/* an open descriptor (stdin): a stream */
	CHR_IN_FILE,		/* a stream file or a sealed segment file */
	CHR_IN_SEG,		/* an archive segment: one header, prunable */
	CHR_IN_QUEUE,		/* a queue directory (queue.h) */
};

struct chr_input {
	enum chr_input_kind kind;
	char *path;		/* owned */
	char *shown;		/* owned; path in messages (chr_fmt_shown) */
	int fd;			/* CHR_IN_FD */
	int part_first;		/* CHR_IN_SEG: first segment of its partition */
	size_t frame;		/* a compressed segment: the frame to start at */
	uint64_t off;		/* the offset to start at (0: its start); a
				 * compressed input starts there only with zdata */
	void *zdata;		/* owned: frame `frame`'s first zlen bytes, decompressed
				 * already, or NULL */
	size_t zlen;
	int defs_only;		/* only its leading DEFINE records */
	int defs_all;		/* a raw read's head: only its DEFINE records,
				 * up to offset upto */
	uint64_t upto;		/* stop there (0: its end) */
	/* CHR_IN_SEG, hints from its partition's meta.json for the search of
	 * the last snapshot at or before T (the selection's ts_from), never
	 * trusted for what is read: */
	int64_t ts_min;		/* its first record's ts (INT64_MIN: not known):
				 * a segment that begins after T is not opened */
	uint64_t walk_from;	/* a plain one's walk may start at this snapshot
				 * (0: at its first record) */
};

struct chr_rawsel;

struct chr_source {
	struct chr_input *in;
	size_t n, cap, cur;	/* in[cur] is being read (cur == n: done) */
	const struct chr_select *sel;	/* for pruning; NULL prunes nothing */
	struct chr_reader rd;	/* reading in[cur] (owning what it reads) */
	int open;		/* rd is reading in[cur] */
	uint64_t limit;		/* stop in[cur] at this offset (0 none) */
	int defs_only;		/* in[cur] was pruned: only its leading DEFINEs */
	int repeats;		/* in[cur] is a queue or a sealed segment:
				 * passed DEFINE repeats dropped */
	int keep_repeats;	/* queues: pass every DEFINE repeat on (a copy of
				 * a queue, record for record) */
	uint64_t pruned;	/* segments skipped by their header */
	uint64_t snap_opened;	/* segments the snapshot search opened */
	int follow;		/* queues: wait at their end (next returns 2) */
	unsigned spin_us;	/* following: spin before sleeping (chr_reader) */
	int from_end;		/* queues: start after the last record */
	uint64_t from_seq;	/* queues: start here (UINT64_MAX: by the
				 * selection: its ts_from, else seq_from) */
	int from_snapshot;	/* archive selections: start at the last
				 * snapshot at or before the selection's ts_from */
	int snap_upto;		/* and want no record after the first one past
				 * ts_from (the book then): of a compressed
				 * segment's frame that holds ts_from only that
				 * much is decompressed (chr_snap_find upto), and
				 * the rest of that segment is not read */
	int exact;		/* from_seq must still be there (a named
				 * reader's position): else CHR_EX_DATA */
	struct chr_tab seen;	/* DEFINEs passed: their payload's crc */
	struct chr_rawsel *raw;	/* a raw read's instruments (chr_source_symbols,
				 * --from-snapshot), or NULL */
	chr_warn_fn warn;	/* what an archive read says, or NULL: a raw
				 * --from-snapshot's instrument (selected, met
				 * at or before ts_from) with no snapshot then,
				 * whose records pass from where the read starts */
	void *warn_ctx;
	int (*flush)(void *);	/* chr_source_set_flush */
	void *flush_arg;
	/* after -1: e.status CHR_EX_DATA or CHR_EX_SYS, e.msg the message
	 * without the program */
	struct chr_err e;
};

/* An empty source; sel (kept, not copied; may be NULL) lets archive
 * inputs skip dates and segments whose records it cannot match. */
void chr_source_init(struct chr_source *s, const struct chr_select *sel);
void chr_source_free(struct chr_source *s);

/* Append an open descriptor (not closed by the source), read as a stream
 * named name in messages. Returns 0, or -1 (out of memory, s->e). */
int chr_source_add_fd(struct chr_source *s, int fd, const char *name);

/* 1 when path is a queue directory: one holding a "control" or "lock"
 * file. */
int chr_is_queue(const char *path);

/* Append a path: "-" is stdin; a directory holding a "control" or "lock"
 * file is a queue (read from where from_end, from_seq or the selection
 * says; seeks use its index); another directory is a partition (or any
 * directory of segments): its NNN.q and NNN.q.zst files in id order, *.tmp
 * and other names ignored; anything else is a stream or segment file, or a
 * compressed segment (zsq.h: a file that starts with a zstd frame), opened
 * when its turn comes. Returns 0, or -1 with s->e (a
 * directory that cannot be read is CHR_EX_SYS; one holding both NNN.q and
 * NNN.q.zst of one id is CHR_EX_DATA; one holding no segment is refused,
 * saying what it is: an archive root, a directory of partitions or of
 * directories, an empty one, CHR_EX_USAGE, a meta.json without segment
 * files CHR_EX_DATA). */
int chr_source_add_path(struct chr_source *s, const char *path);

/* Append an archive selection: the segments of
 * root/v1/venue/symbol/DATE/stream for DATE = date, or every date in order
 * when date is NULL (chr_archive_walk; names that are not dates are passed
 * over), leaving out dates outside the selection's ts range; with symbol
 * NULL or "" and stream "raw", the venue's raw partitions. With
 * from_snapshot the read starts at the last snapshot at or before the
 * selection's ts_from (docs/tiers.md); in the raw stream, which holds many
 * instruments, at each instrument's own (docs/archive.md, "The book at T
 * from the raw archive"; s->warn is told of those that have none). The names
 * must pass chr_name_check (the caller checks). Returns 0, or -1 with
 * s->e: CHR_EX_SYS when the instrument or the dated
 * partition does not exist or no date holds the stream (also when the ts
 * range leaves out every date). */
int chr_source_add_archive(struct chr_source *s, const char *root, const char *venue,
			   const char *symbol, const char *stream, const char *date);

/* Raw reads (chr_source_add_archive of stream "raw"): only the records of
 * instruments whose DEFINE names a symbol matching one of patterns[0..n)
 * (fnmatch(3), as chr-demux --symbol; kept, not copied), their DEFINEs,
 * and records of no instrument (ids 0 0). A record whose instrument had no
 * DEFINE before it is left out. Call before adding the archive. Returns
 * 0, or -1 when out of memory (s->e). */
int chr_source_symbols(struct chr_source *s, const char *const *patterns, size_t n);

/* The first pattern of chr_source_symbols that no DEFINE read so far
 * matched, or NULL: after the whole read, a pattern that names no
 * instrument of what was read; then *seen is the symbols read ("a, b",
 * the first of them, "" none), owned by s. */
const char *chr_source_unmatched(const struct chr_source *s, const char **seen);

/* The symbols that patterns[0..n) name for venue and stream (NULL: any) in
 * the archive at root, for chr_source_add_archive: a pattern holding a
 * glob character (*, ?, [) stands for each symbol it matches (fnmatch(3),
 * as chr-demux --symbol; chr_isel) that has partitions of that venue and
 * stream (and date, when not NULL) in some tier (chr_catalog_load),
 * sorted; another stands for itself, found or not (chr_source_add_archive
 * says). In the order of the
 * patterns, each symbol once. Returns the number in *out (malloc'd strings
 * in a malloc'd array; free with chr_source_names_free), or -1 with e
 * set: a glob that matches nothing is CHR_EX_DATA, "no symbol matches 'X'
 * for venue 'V' and stream 'S'; symbols: a, b" (those there are); else as
 * chr_catalog_load. */
long chr_source_match_symbols(const char *root, const char *venue, const char *stream,
			      const char *date, const char *const *patterns, size_t n, char ***out,
			      struct chr_err *e);
void chr_source_names_free(char **v, size_t n);

/* Next record of the inputs in order. A queue read from mid-queue begins
 * with the DEFINE repeats of its segment's head (docs/format.md), and a
 * repeat of a DEFINE already passed is left out, in a queue as in its
 * sealed segments read as files (the raw archive). Returns 1 and sets *rec
 * (valid until the next call); 0 when every input is done; 2 when
 * following a queue that has nothing new yet (chr_source_wait, then call
 * again); -1 with s->e ("path: byte N: what" from chr_reader, or "cannot
 * open 'path': why" with CHR_EX_SYS; paths in messages escaped by
 * chr_fmt_shown). A pruned archive segment yields only its leading DEFINE
 * records when it is the first of its partition, else nothing. */
int chr_source_next(struct chr_source *s, const struct chr_rec **rec);

/* Following a queue: flush (chr_source_set_flush), then wait until it may
 * have more, for at most timeout_ms. Returns as chr_reader_wait. */
int chr_source_wait(struct chr_source *s, int timeout_ms);

/* Flush before block (chr_reader_set_flush) for every input's reader:
 * flush(arg) is called before each read that may block and before each
 * wait for a followed queue. Set it before the first chr_source_next. */
void chr_source_set_flush(struct chr_source *s, int (*flush)(void *), void *arg);

/* 1 when the next chr_source_next may block on input, or find nothing new
 * in a queue (the next record is not wholly buffered). A program that set
 * chr_source_set_flush need not ask: the source flushes itself. */
int chr_source_may_block(const struct chr_source *s);

#endif
