/* fmt.h - records for people: one line of text or one JSON object per
 * record, with venue and symbol names learnt from DEFINE records. */
#ifndef CHR_FMT_H
#define CHR_FMT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "map.h"
#include "rec.h"

/* venue and symbol names by (venue id, market id), from DEFINE records; a
 * zeroed struct is an empty one */
struct chr_names {
	struct chr_tab tab;	/* struct chr_name_ent by (venue, market) */
};

struct chr_name_ent {
	char venue[CHR_VENUE_MAX + 1];
	char symbol[CHR_SYMBOL_MAX + 1];
};

/* Remember the names of a DEFINE record (other records are ignored, and
 * DEFINEs of ids 0 0; a later DEFINE of the same ids replaces the names).
 * Returns 0, or -1 when out of memory. */
int chr_names_learn(struct chr_names *m, const struct chr_rec *rec);

/* The names of (venue, market), or NULL when no DEFINE named them. The
 * pointers stay valid until chr_names_free. */
const struct chr_name_ent *chr_names_get(const struct chr_names *m, uint16_t venue,
					 uint32_t market);
void chr_names_free(struct chr_names *m);

enum chr_fmt_kind {
	CHR_FMT_TEXT,
	CHR_FMT_JSON,
};

#define CHR_FMT_LEVELS 5	/* default book levels per side in text */

/* How old the book a record shows is (chr-book --at), for the next record
 * printed: the ts of the last record the book took, and whether that is
 * too long before the record's ts to trust (docs/book.md, "Stale books"). */
struct chr_fmt_age {
	int64_t last_ts;
	int stale;
};

struct chr_fmt {
	FILE *out;
	enum chr_fmt_kind kind;
	unsigned levels;	/* text: book levels shown per side, 0 all */
	struct chr_names names;
	const struct chr_fmt_age *age;	/* set by the caller for one record, or NULL */
};

/* Print records of kind to out (not closed by chr_fmt_free). */
void chr_fmt_init(struct chr_fmt *f, FILE *out, enum chr_fmt_kind kind);
void chr_fmt_free(struct chr_fmt *f);

/* Learn the names a record defines; call it for every record read, also
 * those not printed. Returns 0, or -1 when out of memory. */
int chr_fmt_learn(struct chr_fmt *f, const struct chr_rec *rec);

/* Print one record (already checked by chr_reader) as one line.
 *
 * text: "TIME TYPE VENUE SYMBOL seq=N src_seq=N flags=F PAYLOAD", TIME from
 * chr_time_format, names "#id" when unknown ("- -" for ids 0 0), flags LAST,SYNTHETIC or "-",
 * decimals exact, an absent value (CHR_NULL) as "-"; books show
 * "bid[n] P x S, ...; ask[n] P x S, ..." with at most f->levels levels per
 * side and "... +k" for the rest. Text from the stream (names, trade ids)
 * shows bytes outside printable ASCII, spaces and '\\' as \xNN, so that a
 * record is one line and a name one word.
 *
 * json: one object; every header field (len, type, type_name, flags, seq,
 * ts, time, ts_event, src_seq, venue, market, version, crc), the names
 * when known (venue_name, symbol), and the payload's fields; decimals as
 * exact strings, CHR_NULL as null, book levels as [price, size] pairs in
 * "bids" and "asks", unknown payloads as "payload" in hex. Unsigned 64-bit
 * fields (seq, src_seq, update ids, GAP expected and got) are numbers up to
 * INT64_MAX and exact decimal strings above it.
 *
 * With f->age: text adds " last=TIME (D before)" after the flags, D from
 * chr_duration_format, ", stale" inside the parentheses when it is; JSON
 * adds "last_ts", "last_time", "stale_ns" (ts - last_ts) and "stale".
 *
 * Returns 0, or -1 when out of memory or the stream is in error
 * (ferror(out); errno from the failed write). */
int chr_fmt_rec(struct chr_fmt *f, const struct chr_rec *rec);

/* s for a message or a terminal, in out (cap bytes, always NUL-terminated
 * when cap > 0; cut short, never inside an escape, when it does not fit):
 * bytes outside printable ASCII (controls, DEL, non-ASCII) and '\\' as
 * \xNN, spaces kept. 4 * strlen(s) + 1 bytes always suffice. Returns out. */
const char *chr_fmt_shown(char *out, size_t cap, const char *s);

/* mant/10^scale exactly (chr_dec_format), "-" for CHR_NULL, and
 * "MANTe-SCALE" for a scale outside 0..18. buf holds CHR_DEC_BUF + 8. */
const char *chr_fmt_dec(char *buf, int64_t mant, int scale);

#endif
