/* tardis_int.h - what the parts of the Tardis importer share: its state
 * (tardis_in.c, the rows and the fast path; tardis_csv.c, the general
 * path through libcsv; tardis.c, the report). Not an API. */
#ifndef CHR_TARDIS_INT_H
#define CHR_TARDIS_INT_H

#include <stdint.h>

#include <csv.h>

#include "tardis.h"

#define LIKELY(x) __builtin_expect(!!(x), 1)
#define UNLIKELY(x) __builtin_expect(!!(x), 0)

/* timestamps are microseconds; ts = us * 1000 must fit an int64 */
#define US_MAX (INT64_MAX / 1000)
/* levels of one book record, so that len stays <= CHR_REC_MAX */
#define LVL_MAX ((CHR_REC_MAX - CHR_HDR_SIZE - sizeof(struct chr_book)) / sizeof(struct chr_level))

/* the longest venue name: a DEFINE venue field holds it and its NUL */
#define VENUE_LEN (CHR_VENUE_MAX - 1)

#define SIDE_BID 1
#define SIDE_ASK 2

/* a parsed decimal: mantissa (CHR_NULL when empty), fraction digits,
 * integer digits (leading zeros not counted), and its text for messages */
struct dv {
	int64_t v;
	int sc, dig;
	const char *t;
	size_t n;
};

struct lvl {
	int64_t p, s;
	int8_t ps, ss;
};

struct market {
	char *key;		/* "exchange,symbol" as in the rows */
	size_t keylen;
	char venue[CHR_VENUE_MAX + 1], symbol[CHR_SYMBOL_MAX + 1];
	uint16_t vid;
	uint32_t mid;
	int defined, have_snap, in_snap;
	uint64_t uid, skipped;
};

/* one parsed row */
struct row {
	struct market *m;
	int64_t ts, lts;	/* microseconds */
	int snap, side;
	struct dv px, sz;	/* L2 and trades */
	const char *id;		/* readable for ID_READ bytes (idn of them the id) */
	size_t idn;
	struct dv q[4];		/* quotes in column order */
	struct dv *tv;		/* book_snapshot_N: 4N values in column order */
};

/* bytes of a trade id's text read at once (its padding in the buffer) */
#define ID_READ 48

/* the record being built: written when the next row shows whether it
 * ends its event (LAST). A trade or quote is built in the writer's buffer
 * at once (pend: reserved and filled, flags and CRC still to set); a book
 * record here, from its levels. */
struct cur {
	int active;
	struct chr_rec *pend;
	uint16_t type;
	struct market *m;
	int64_t lts, ts;
	int snap, has_ask;
	struct lvl *b, *a;
	size_t nb, na, capb, capa;
	int pmax, smax, pdig, sdig;	/* largest scale and integer digits */
};

/* one input file, for the report: the run's counters when it began, and
 * the datasets of its headers (the first SEEN_MAX distinct ones) */
#define SEEN_MAX 8
struct tfile {
	uint64_t rows, bad, presnap, records, events;
	struct {
		int type, n;
	} seen[SEEN_MAX];
	unsigned nseen;
};

/* a 16-digit timestamp's text (two words), the value of its first 8
 * digits, and its value */
struct tsc {
	uint64_t a, b, va;
	int64_t v;
};

/* the last text of a decimal column and the byte after it (',', LF or CR),
 * when at most 8 bytes together: w holds them (mask's bytes), d the value */
struct decc {
	uint64_t w, mask;
	struct dv d;
};

struct chr_tardis_state {
	struct chr_writer *w;
	int type, n, need_header;
	struct market **mk;	/* open addressing on the key */
	size_t nmk, capmk;
	struct market **all;
	size_t nall;
	char pfx[CHR_TARDIS_PAD];	/* "exchange,symbol," of the last fast row */
	size_t pfx_len;
	struct market *pfx_m;
	struct tsc ts_c, lts_c;	/* the last 16-digit timestamps seen (always digits) */
	struct decc qc[4];	/* the last decimals of the quotes columns */
	struct cur cur;
	struct dv *tv;		/* book_snapshot_N scratch */
	/* libcsv */
	struct csv_parser csv;
	char *fb;
	size_t fbn, fbcap;
	size_t *fo, *fl, nf, capf;
	int csv_rows;
	int csv_nomem;
	uint64_t seq;
	size_t scanned;		/* bytes of the unfinished line searched for its '\n' */
	int discard;		/* dropping the rest of a line longer than LINE_MAX */
	int at_start;		/* no byte of this input parsed yet: a BOM may come */
	struct tfile *files;	/* the inputs begun, for the report */
	size_t nfiles, capfiles;
	int files_nomem;
};

/* ---- tardis.c ---- */

/* At most max bytes of p[0..n) for a message, into buf (4 * max + 1
 * bytes): printable ASCII as is, '\\' and every other byte (NUL, control
 * characters, non-ASCII) escaped as \\ and \xHH. Returns buf. */
const char *chr_td_esc(char *buf, const char *p, size_t n, size_t max);

/* A field for a message ("%s"): at most 60 bytes of it, escaped */
#define FLD_MAX 60
#define FLD(p, n) chr_td_esc((char[4 * FLD_MAX + 1]){ 0 }, (p), (n), FLD_MAX)

/* ---- tardis.c: the importer's state, messages and markets ---- */

/* Is p[0..n) a name (not empty, no control character)? */
int chr_td_name_ok(const char *p, size_t n);

/* A bad row at the current line: 0 to skip it (skip_bad), -1 to fail. */
int chr_td_bad(struct chr_tardis_in *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The market of exchange ex[0..exn) and symbol sy[0..syn) into *m, made
 * at its first row: 1, 0 for a bad name (reported by bad()), -1. */
int chr_td_market(struct chr_tardis_in *t, const char *ex, size_t exn, const char *sy, size_t syn,
		  struct market **m);

/* ---- tardis_in.c, for the general path ---- */

/* "out of memory" at the current line; returns -1. */
int chr_td_oom(struct chr_tardis_in *t);

/* A parsed row into the record being built: 0, or -1 (a bad row not
 * skipped, a write error). */
int chr_td_l2_row(struct chr_tardis_in *t, const struct row *r);
int chr_td_one_row(struct chr_tardis_in *t, const struct row *r);

/* Write the record in progress (flagged LAST when last): 0 or -1. */
int chr_td_emit(struct chr_tardis_in *t, int last);

/* The dataset of the rows that follow: 0, or -1. */
int chr_td_set_dataset(struct chr_tardis_in *t, int type, int n);

/* ---- tardis_csv.c: the general path ---- */

/* csv_init for a row of Tardis (strict, spaces kept): as csv_init. */
int chr_td_csv_init(struct csv_parser *p);

/* The complete line at *pp (its '\n' is before end, or it is the last line
 * and ends at the sentinel end): 1 used (and *pp moved), -1 on failure. */
int chr_td_general(struct chr_tardis_in *t, char **pp, char *end);

/* A line longer than CHR_TARDIS_LINE_MAX at p[0..n): 1 taken, -1. */
int chr_td_too_long(struct chr_tardis_in *t, const char *p, size_t n);

#endif
