/* sym.h - venue and market ids: from a symbol map file, or from a stable
 * hash of the names (docs/format.md, "Ids"). */
#ifndef CHR_SYM_H
#define CHR_SYM_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

/* The id of a venue name when no map gives one: 1 + XXH3_64(venue) mod 65535. */
uint16_t chr_venue_hash(const char *venue);

/* The id of a symbol within its venue when no map gives one:
 * 1 + XXH3_64(symbol) mod 4294967295. */
uint32_t chr_market_hash(const char *symbol);

struct chr_sym {
	char venue[33];
	char symbol[65];
	uint16_t venue_id;
	uint32_t market_id;
};

struct chr_symmap {
	struct chr_sym *v;
	size_t n, cap;
};

/* Load a symbol map: one entry a line, "venue symbol venue_id market_id",
 * separated by blanks; '#' starts a comment; blank lines are ignored. A
 * venue is at most 31 bytes; each name is listed once, a venue has one
 * id, and ids name one venue and one symbol.
 * Returns 0, or -1 with e set: CHR_EX_DATA and "path:line: what is wrong",
 * or CHR_EX_SYS and "cannot open 'path': why" (the map is then empty). */
int chr_symmap_load(struct chr_symmap *m, const char *path, struct chr_err *e);
void chr_symmap_free(struct chr_symmap *m);

/* Ids of (venue, symbol): each from the map when it lists it (m may be
 * NULL; a listed venue keeps its id for unlisted symbols), else the hashes
 * above. Lookups are linear: maps hold at most a few thousand entries. */
void chr_sym_ids(const struct chr_symmap *m, const char *venue, const char *symbol,
		 uint16_t *venue_id, uint32_t *market_id);

#endif
