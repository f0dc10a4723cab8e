/* tardis.h - Tardis.dev CSV datasets (docs/tardis.md): header detection,
 * rows -> chronicle records (the importer behind chr-csv2ev), and records
 * -> Tardis CSV rows (the writer behind chr-tail --format csv). */
#ifndef CHR_TARDIS_H
#define CHR_TARDIS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "fmt.h"
#include "io.h"
#include "rec.h"
#include "sym.h"

/* Datasets */
#define CHR_TARDIS_NONE 0
#define CHR_TARDIS_L2 1		/* incremental_book_L2 */
#define CHR_TARDIS_TRADES 2	/* trades */
#define CHR_TARDIS_QUOTES 3	/* quotes */
#define CHR_TARDIS_TOPN 4	/* book_snapshot_N */

#define CHR_TARDIS_TOPN_MAX 10000	/* largest N of book_snapshot_N */

/* Parse a dataset name: "incremental_book_L2", "trades", "quotes" or
 * "book_snapshot_N" (N in 1..CHR_TARDIS_TOPN_MAX). Returns the dataset
 * and sets *n (N, else 0), or CHR_TARDIS_NONE when the name is none of
 * these. */
int chr_tardis_type_parse(const char *name, int *n);

/* The name of dataset (with n for book_snapshot_N) into buf (32 bytes):
 * "trades", "book_snapshot_25", ...; "" for CHR_TARDIS_NONE. Returns buf. */
char *chr_tardis_type_name(int dataset, int n, char *buf);

/* Which dataset the header line s[0..len) (without its line end) is.
 * Returns the dataset and sets *n as above, or CHR_TARDIS_NONE. */
int chr_tardis_header(const char *s, size_t len, int *n);

/* The header line of a dataset, with its '\n', into a malloc'd string
 * (the caller frees it); NULL when out of memory or dataset is unknown. */
char *chr_tardis_header_line(int dataset, int n);

/* ---- rows -> records ---- */

/* Bytes after the data that chr_tardis_in_parse may overwrite or read:
 * the caller's buffer must own n + CHR_TARDIS_PAD bytes. */
#define CHR_TARDIS_PAD 128

/* The longest line (without its LF): a longer one is a bad row. The
 * longest legal row, book_snapshot_10000, is about 1 MB. */
#define CHR_TARDIS_LINE_MAX (4u << 20)

struct chr_tardis_state;

struct chr_tardis_in {
	/* settings: set after chr_tardis_in_init, before the first row */
	const struct chr_symmap *map;	/* ids; NULL: hashes */
	const char *venue;	/* venue name instead of the exchange column */
	int force_type, force_n;	/* dataset forced (--type), else NONE */
	int fast;		/* 1 (default): hand-written parser for unquoted rows */
	int skip_bad;		/* count, report and skip bad rows, do not fail */
	unsigned report_max;	/* bad rows reported one by one when skipping */
	/* where those reports, and the rows skipped before a first snapshot,
	 * go: note(note_ctx, "file:line: what (skipped)"), a message without
	 * the program's name. NULL (chr_tardis_in_init's default): they are
	 * only counted */
	void (*note)(void *ctx, const char *msg);
	void *note_ctx;
	/* counters */
	uint64_t rows;		/* data rows read (good, bad and skipped) */
	uint64_t bad;		/* bad rows skipped */
	uint64_t records;	/* records written (DEFINE included) */
	uint64_t events;	/* records flagged LAST (events) */
	uint64_t presnap;	/* rows skipped before the first snapshot of their market */
	/* position, for messages */
	const char *name;
	uint64_t line;		/* lines read in the current file */
	/* after -1 */
	int status;		/* CHR_EX_DATA or CHR_EX_SYS */
	char err[768];		/* "file:line: what is wrong" (no program name) */
	struct chr_tardis_state *s;
};

/* Start an importer writing records to w (kept, not owned). Records get
 * seq = src_seq = their 0-based index in the output. The record in
 * progress of trades and quotes is built in w's buffer: between calls the
 * caller may flush w, but not write to it. Returns 0, or -1 when out of
 * memory. */
int chr_tardis_in_init(struct chr_tardis_in *t, struct chr_writer *w);
void chr_tardis_in_free(struct chr_tardis_in *t);

/* Begin the input file name (kept, not copied): line numbers restart and
 * its first line must be a header (with force_type, any first line is
 * taken as the header and skipped). */
void chr_tardis_in_file(struct chr_tardis_in *t, const char *name);

/* Convert the complete lines in buf[0..n) of the current file; final says
 * no more data follows (a last line without '\n' is then complete). buf
 * must own n + CHR_TARDIS_PAD bytes: the bytes after n are scratch. Returns
 * how many bytes were used (complete rows; the rest, an incomplete line of
 * at most CHR_TARDIS_LINE_MAX bytes, must be passed again at the start of
 * buf with more data after it: it is not searched again), or -1 with t->err and
 * t->status: a bad row (not when skip_bad: then it is counted in t->bad,
 * reported through t->note while t->bad <= report_max, and skipped; a line longer
 * than CHR_TARDIS_LINE_MAX is a bad row, and when skipped its bytes are
 * used up to its '\n' without being kept), an unknown
 * header (CHR_EX_DATA), or a write error (CHR_EX_SYS; t->err names the
 * output). Records of the rows before the error are all written, except
 * the event in progress: call chr_tardis_in_end to write it too. */
long chr_tardis_in_parse(struct chr_tardis_in *t, char *buf, size_t n, int final);

/* End the current file: write the record in progress (flagged LAST), and
 * tell t->note of the rows skipped before the first snapshot of a market.
 * Returns 0, or -1 on a write error (t->err, t->status). */
int chr_tardis_in_end(struct chr_tardis_in *t);


/* The JSON report of a successful run (chr-csv2ev --report), one input
 * per chr_tardis_in_file call, in order: paths[i] as given and bytes[i]
 * read (n of them; the caller's), and from the importer its rows, bad rows
 * skipped, rows skipped before a first snapshot and datasets; then the
 * totals (rows, records, events, ...). Returns malloc'ed text ending with
 * a newline, or NULL when out of memory or n is not the number of files. */
char *chr_tardis_in_report(const struct chr_tardis_in *t, const char *const *paths,
			   const uint64_t *bytes, size_t n);

/* ---- records -> CSV ---- */

struct chr_tardis_out {
	struct chr_names names;	/* (venue, market) -> names, from DEFINEs */
	int dataset, n;		/* dataset of the last header written */
	char *line;		/* row buffer */
	size_t cap;
};

/* chr_tardis_write returns this for a record with no Tardis form */
#define CHR_TARDIS_SKIPPED (-2)

void chr_tardis_out_init(struct chr_tardis_out *o);
void chr_tardis_out_free(struct chr_tardis_out *o);

/* Write record r as Tardis CSV rows to f: BOOK_SNAPSHOT and BOOK_DIFF as
 * incremental_book_L2 (one row a level, bids then asks), TRADE as trades,
 * QUOTE as quotes, BOOK_TOPN as book_snapshot_N (N = n_bid, which must
 * equal n_ask). A header line comes before the first row and whenever the
 * dataset (or N) changes. DEFINE records are remembered (chr_names_learn):
 * they give the exchange and symbol columns of their (venue, market);
 * without one, or when a name is empty or holds a control character, the
 * ids are written in decimal. Timestamps are written in microseconds
 * (ns / 1000, truncated), ts_event as `timestamp`, ts as
 * `local_timestamp`. r must be a checked record (chr_reader_next).
 * Returns the number of rows written (0 for DEFINE or an empty BOOK_DIFF),
 * or CHR_TARDIS_SKIPPED when the record has no Tardis form (GAP, HEARTBEAT,
 * application types, an empty BOOK_SNAPSHOT, a BOOK_TOPN with n_bid !=
 * n_ask): nothing written;
 * or -1 on a write error (errno set) or out of memory. */
int chr_tardis_write(struct chr_tardis_out *o, const struct chr_rec *r, FILE *f);

/* The dataset whose rows record r gives (*n: N of book_snapshot_N, else
 * 0): what chr_tardis_write writes it as, or CHR_TARDIS_NONE for a record
 * it skips for having no Tardis form (an empty BOOK_SNAPSHOT aside). */
int chr_tardis_dataset(const struct chr_rec *r, int *n);

/* A TRADE's side as the trades dataset writes it: "buy", "sell", or
 * "unknown" (0, and any other value). */
const char *chr_tardis_side(unsigned side);

/* The names of r's (venue, market) in m when chr_tardis_write would write
 * them (learnt from a DEFINE, not empty, no control characters), else
 * NULL: the ids are written in decimal. */
const struct chr_name_ent *chr_tardis_names(const struct chr_names *m, const struct chr_rec *r);

#endif
