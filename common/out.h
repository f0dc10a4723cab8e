/* out.h - a program's output, chosen by --format: binary records (to
 * stdout or appended to a queue), or views of them for people and tools
 * (text, JSON lines, Tardis CSV), behind one object. */
#ifndef CHR_OUT_H
#define CHR_OUT_H

#include <stdint.h>
#include <stdio.h>

#include "defs.h"
#include "err.h"
#include "fmt.h"
#include "io.h"
#include "pqout.h"
#include "queue.h"
#include "tardis.h"

enum chr_out_kind {
	CHR_OUT_AUTO,		/* binary, or text on a terminal (chr_out_check) */
	CHR_OUT_BINARY,		/* the record stream (docs/format.md) */
	CHR_OUT_TEXT,		/* chr_fmt_rec lines */
	CHR_OUT_JSON,		/* chr_fmt_rec JSON lines */
	CHR_OUT_CSV,		/* Tardis CSV rows (chr_tardis_write) */
	CHR_OUT_PARQUET,	/* one Parquet file, Tardis layout (chr_pqout) */
	CHR_OUT_PARQUET_TREE,	/* a Hive-style tree of them (chr_pqtree) */
	CHR_OUT_ARROW,		/* an Arrow IPC stream of the same rows (chr_pqout) */
};

struct chr_out {
	enum chr_out_kind kind;
	int err;		/* after -1: errno of the failed write, else 0 */
	uint64_t no_csv;	/* CSV, Parquet: records with no Tardis form, not written */
	struct chr_writer w;	/* binary */
	int to_queue;		/* binary: appended to q */
	struct chr_queue_writer q;
	struct chr_defs defs;	/* binary: DEFINE records to pass on */
	struct chr_fmt fmt;	/* text, JSON; fmt.levels may be set once open */
	int json_defines;	/* JSON: write DEFINE records too (set once open) */
	struct chr_tardis_out csv;
	struct chr_pqout *pq;	/* Parquet, Arrow */
	struct chr_pqtree *tree;	/* Parquet tree */
	const char *dest;	/* Parquet: the file, NULL for stdout */
	char *tmp;		/* Parquet to a file: written here, renamed at the end */
	char *real;		/* ... onto this file, when dest is a link to it */
	unsigned char *scratch;	/* views: the record of chr_out_reserve */
	size_t scratch_cap;
};

/* Parse a --format value: "binary", "text", "json", "csv", "parquet" or
 * "arrow". Returns 0, or -1 with e (CHR_EX_USAGE, "unknown format 'x'
 * (binary, text, json, csv, parquet, arrow)", x escaped by chr_fmt_shown). */
int chr_out_parse(const char *s, enum chr_out_kind *kind, struct chr_err *e);

/* The kind an output of *kind opens as, in *kind: AUTO is binary when the
 * records go to a queue (dest not NULL) or stdout is not a terminal, else
 * text. dest (--out) is a queue for binary records, the file for Parquet,
 * the root directory for a Parquet tree (which needs one), the file for
 * Arrow; the other kinds take none: -1 with e (CHR_EX_USAGE). Binary
 * records, Parquet and Arrow are never
 * written to a terminal: -1 with e (CHR_EX_USAGE, "refusing to write
 * binary records to a terminal (...)") when they would go to stdout and
 * stdout is one. Has no other effect, so that a program can check while it
 * validates its options and open the output later. Returns 0, or -1. */
int chr_out_check(enum chr_out_kind *kind, const char *dest, struct chr_err *e);

/* chr_out_check for a program with --out (*dest, or NULL) and --out-dir
 * (dir, or NULL): a directory makes *kind, which must be Parquet without
 * --out, a Parquet tree with *dest = dir. commits: the program commits a
 * reader's position once the output is written, which Parquet (and Arrow,
 * a row group at a time) is only at the end: refused. Returns 0, or -1 with e (CHR_EX_USAGE). */
int chr_out_dest(enum chr_out_kind *kind, const char **dest, const char *dir, int commits,
		 struct chr_err *e);

/* Open o as chr_out_check resolves kind and refuses a terminal: binary
 * records to stdout, or appended to the queue at path dest (created when
 * missing); text, JSON or CSV on stdout; Parquet on stdout or, atomically,
 * as the file dest (written as "dest.tmp.XXXXXX", renamed by
 * chr_out_close once complete, removed on failure); a Parquet tree under
 * the directory dest (chr_pqtree); Arrow as Parquet (a stream: arrow.h). Parquet's metadata names the command
 * line (chr_prog_cmdline). Returns 0, or -1 with e (the terminal, the
 * queue writer's error, a file that cannot be created, out of memory) and
 * nothing to close. */
int chr_out_open(struct chr_out *o, enum chr_out_kind kind, const char *dest,
		 struct chr_err *e);

/* Write rec, a checked record the program selected. Binary output is a
 * stream of its own: the latest DEFINE of rec's instrument, given to
 * chr_out_put or chr_out_skip, goes out first when it has not yet (it
 * comes from behind a --type selection). JSON is one table: a DEFINE is
 * only learnt (its names are in every line, venue_name and symbol) unless
 * o->json_defines. CSV: a record with no Tardis form is counted in
 * o->no_csv, not written; the rows are of one dataset, so a record of
 * another one (a QUOTE after trades rows, book_snapshot_5 after
 * book_snapshot_10) is not written: -1 with e (CHR_EX_USAGE, "seq N: a
 * QUOTE record after trades rows: ...") and o->err 0, where a second
 * header line mid-file would have been. Parquet likewise (one file, one
 * dataset); a tree writes each record to the file of its partition.
 * Returns 0, or -1 with e and o->err
 * (the errno of a failed write; chr_out_failed) or out of memory. */
int chr_out_put(struct chr_out *o, const struct chr_rec *rec, struct chr_err *e);

/* Room for a record of len header+payload bytes that the caller builds in
 * place, zeroed up to its span, len stored: binary output reserves it in
 * the writer's buffer (chr_writer_reserve) or in the queue
 * (chr_queue_reserve: fill every field but len, which the commit stores);
 * the views in a scratch record of o's. Fill it, then chr_out_commit; a
 * reservation not committed is forgotten at the next one. Returns NULL
 * with e and o->err as chr_out_put (a write error, an illegal len: EINVAL,
 * out of memory). */
struct chr_rec *chr_out_reserve(struct chr_out *o, uint32_t len, struct chr_err *e);

/* Seal and write the record of the last chr_out_reserve: binary output
 * seals it in place (a queue sets seq, and src_seq when 0), a view writes
 * it as chr_out_put. Returns as chr_out_put. */
int chr_out_commit(struct chr_out *o, struct chr_rec *rec, struct chr_err *e);

/* A record read but not selected: the views learn the names its DEFINE
 * gives, binary output keeps a DEFINE to pass on before the next record of
 * its instrument. Other records change nothing. Returns as chr_out_put. */
int chr_out_skip(struct chr_out *o, const struct chr_rec *rec, struct chr_err *e);

/* Write out what is buffered: before blocking on input, and before an
 * error ends the program. Returns as chr_out_put. */
int chr_out_flush(struct chr_out *o, struct chr_err *e);

/* Flush and close o (stdout too, for the views); everything is freed,
 * also on failure. Parquet: the rows buffered and the footer are written
 * (a file without rows is an error, CHR_EX_DATA) and the file put in
 * place; a tree ends its files. Returns as chr_out_put. */
int chr_out_close(struct chr_out *o, struct chr_err *e);

/* For a main, after -1 from o: the write-failure rule of the suite
 * (chr_write_failed), after removing the temporary files of Parquet
 * output. A reader that went away (EPIPE, SIGPIPE ignored) ends
 * the program quietly with exit 0, as SIGPIPE would; anything else prints
 * e and exits with its status. */
_Noreturn void chr_out_failed(const struct chr_out *o, const struct chr_err *e);

#endif
