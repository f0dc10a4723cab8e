/* isel.h - instrument selection by name: venue and symbol globs and a
 * stable hash shard, decided once per (venue id, market id) from the names
 * that a DEFINE record or a symbol map gives the ids. */
#ifndef CHR_ISEL_H
#define CHR_ISEL_H

#include <stddef.h>
#include <stdint.h>

#include "map.h"
#include "sym.h"

/* decisions */
#define CHR_ISEL_NO 0
#define CHR_ISEL_YES 1
#define CHR_ISEL_UNNAMED 2	/* a name the selection needs is not known */

/* The shard of instrument (venue, symbol) among n (n >= 1): XXH3_64bits
 * (seed 0) of the venue name's bytes, one NUL byte and the symbol name's
 * bytes, modulo n. The names are those of the DEFINE record (or symbol
 * map), not ids, so the shard does not depend on how ids were assigned. */
uint32_t chr_shard_of(const char *venue, const char *symbol, uint32_t n);

struct chr_isel {
	const char **venues, **symbols;	/* fnmatch(3) patterns, kept, not copied */
	size_t n_venues, n_symbols;
	uint32_t shard, shards;		/* shards 0: no shard selection */
	const struct chr_symmap *map;	/* names of ids with no DEFINE yet; may be NULL */
	struct chr_tab made;		/* the decisions made: an int, CHR_ISEL_... */
	uint64_t unnamed;		/* instruments first seen with no name */
};

/* A selection of every instrument, no map. */
void chr_isel_init(struct chr_isel *s);
void chr_isel_free(struct chr_isel *s);

/* Select only instruments whose venue (symbol) name matches one of the
 * patterns added, fnmatch(3) with no flags. Patterns are kept, not copied.
 * Returns 0, or -1 when out of memory. */
int chr_isel_add_venue(struct chr_isel *s, const char *pattern);
int chr_isel_add_symbol(struct chr_isel *s, const char *pattern);

/* 1 when the selection looks at names (patterns or a shard), else 0:
 * then every instrument is selected and nothing needs to be looked up. */
int chr_isel_by_name(const struct chr_isel *s);

/* The decision for an instrument named venue and symbol (either NULL:
 * not known), made from the names alone and not remembered: CHR_ISEL_YES,
 * _NO or _UNNAMED (a name it needs is NULL). */
int chr_isel_names(const struct chr_isel *s, const char *venue, const char *symbol);

/* The decision for the instrument of ids (venue, market): cached, else
 * made from the names the map gives the ids (a venue listed with other
 * markets gives its venue name); CHR_ISEL_UNNAMED when a name it needs is
 * unknown (s->unnamed counts such instruments); CHR_ISEL_YES for ids 0 0,
 * no instrument. Returns CHR_ISEL_..., or -1 when out of memory. */
int chr_isel_get(struct chr_isel *s, uint16_t venue, uint32_t market);

/* A DEFINE record binds ids (venue, market) to names: decide again, from
 * these names, whatever the map says (both ids 0: CHR_ISEL_YES). Returns CHR_ISEL_YES or _NO, or -1
 * when out of memory. */
int chr_isel_define(struct chr_isel *s, uint16_t venue, uint32_t market, const char *vname,
		    const char *sname);

/* Instruments seen (*seen) and of them selected now (*selected). */
void chr_isel_count(const struct chr_isel *s, uint64_t *seen, uint64_t *selected);

#endif
