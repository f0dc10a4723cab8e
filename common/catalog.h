/* catalog.h - what an archive holds: one entry per partition across its
 * tiers, for chr-ls, and the names that exist, closest first, for a
 * message about a name that does not (docs/tiers.md, "Listing"). */
#ifndef CHR_CATALOG_H
#define CHR_CATALOG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "err.h"

/* One partition. */
struct chr_catalog_part {
	char venue[33], symbol[65];	/* symbol "" for a raw partition */
	char date[11], stream[8];	/* stream "raw" for a raw partition */
	char tier[65];
	char *dir;			/* the partition directory, malloc'ed */
	int raw;
	int rank;			/* where it was found: 0 the hot tier */
	/* from meta.json or the manifest; 0 in a names-only catalog */
	uint64_t segments, records, bytes, raw_bytes;	/* bytes: of the files */
	uint64_t compressed;		/* segments compressed */
	int64_t ts_min, ts_max;		/* INT64_MAX and INT64_MIN: no records */
};

/* What a load found. */
struct chr_catalog {
	struct chr_catalog_part *p;	/* by venue, symbol (raw first), date, stream */
	size_t n, cap;
	const char *root;		/* as given (not copied) */
	int manifest;			/* the tiers after hot came from manifest.db */
	size_t skipped;			/* partitions whose meta.json could not be read */
};

#define CHR_CATALOG_NAMES 1	/* names and places only: no meta.json is read */

/* Load the partitions of the archive at root into c: the hot tier's from
 * its files (writers add partitions the manifest does not know yet); the
 * other tiers' from ROOT/manifest.db when it can be read, else from the
 * files of the tiers of ROOT/chr-tier.conf (chr_tier_walk; a partition in
 * two tiers is listed in the warmer). Without CHR_CATALOG_NAMES each
 * partition's meta.json is read; one that cannot be read is told to warn
 * (ctx, message) when warn is not NULL and counted in c->skipped, as is a
 * manifest that exists but cannot be read. Returns 0, or -1 with e: "cannot
 * open 'root': why" (CHR_EX_SYS), "'root' is not an archive: why"
 * (CHR_EX_DATA: no v1/, raw/, manifest.db, chr-tier.conf or .staging in
 * it), a bad chr-tier.conf (CHR_EX_DATA), out of memory (CHR_EX_SYS). */
int chr_catalog_load(struct chr_catalog *c, const char *root, int flags, chr_warn_fn warn,
		     void *ctx, struct chr_err *e);

void chr_catalog_free(struct chr_catalog *c);

/* Keep the partitions whose venue matches one of the nv venue patterns and
 * whose symbol one of the ns symbol patterns (fnmatch; none: any; a raw
 * partition has no symbol and matches no symbol pattern). A pattern that
 * matches nothing is an error naming what exists, closest first: "no venue
 * 'X' in 'root'; venues: a, b" or "no symbol 'X' for venue V in 'root';
 * symbols: ..." (CHR_EX_DATA). Returns 0, or -1 with e. */
int chr_catalog_filter(struct chr_catalog *c, char *const *venues, size_t nv,
		       char *const *symbols, size_t ns, struct chr_err *e);

enum { CHR_CATALOG_TEXT, CHR_CATALOG_JSON, CHR_CATALOG_CSV };

/* Write c to f: CHR_CATALOG_TEXT columns aligned for people (a header,
 * symbol "-" for raw, times in UTC), CHR_CATALOG_JSON one object per
 * partition per line, CHR_CATALOG_CSV a header and a row per partition.
 * Returns 0, or -1 when a write failed (errno). */
int chr_catalog_print(const struct chr_catalog *c, FILE *f, int format);

/* Why the archive at root has no partitions of venue/symbol/stream (symbol
 * NULL or "" and stream "raw": the venue's raw partitions) on date (NULL:
 * any): the first name of venue, symbol, stream and date that does not
 * exist, and those that do, closest first (the same name in another case,
 * then a name holding it or held by it, then by edit distance; dates by
 * distance in time), e.g. "no symbol
 * 'btcusdt' for venue binance in 'R'; symbols: BTCUSDT, ETHUSDT". Returns
 * -1 with e (CHR_EX_DATA; or the failure of chr_catalog_load), or 0 when
 * every name exists (e untouched). */
int chr_catalog_missing(const char *root, const char *venue, const char *symbol,
			const char *stream, const char *date, struct chr_err *e);

/* Sort the n names of v closest to want first: equal ignoring case, then
 * by edit distance ignoring case, then in byte order; with dates set, by
 * distance in days from want (a date) instead. */
void chr_catalog_closest(const char *want, const char **v, size_t n, int dates);

#endif
