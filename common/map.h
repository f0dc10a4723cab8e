/* map.h - a hash map from 64-bit keys to pointers, and on it the table of
 * per-instrument state keyed by (venue id, market id) that filters keep. */
#ifndef CHR_MAP_H
#define CHR_MAP_H

#include <stddef.h>
#include <stdint.h>

struct chr_map {
	struct chr_map_ent {
		uint64_t key;	/* the key + 1; 0 is an empty slot */
		void *val;
	} *v;
	size_t n, cap;		/* cap is 0 or a power of two */
};

/* The key of an instrument. */
static inline uint64_t chr_map_key(uint16_t venue, uint32_t market)
{
	return (uint64_t)venue << 32 | market;
}

/* The value of key (any value but UINT64_MAX), or NULL when absent. */
void *chr_map_get(const struct chr_map *m, uint64_t key);

/* Store val (not NULL) as the value of key. Returns 0, or -1 when out of
 * memory (errno ENOMEM; the map is unchanged). */
int chr_map_put(struct chr_map *m, uint64_t key, void *val);

/* Free the table (not the values). */
void chr_map_free(struct chr_map *m);

/* A table of per-instrument objects of one size, made zeroed (64-byte
 * aligned) when an instrument first comes, kept in order of first
 * appearance: v[0..n). */
struct chr_tab {
	struct chr_map map;
	void **v;
	size_t n, size;
	void *last;		/* found last */
	uint64_t last_key;
};

/* An empty table of objects of size bytes. */
void chr_tab_init(struct chr_tab *t, size_t size);

/* The object of (venue, market), made when new (*fresh set to 1, else 0;
 * fresh may be NULL). NULL when out of memory (errno ENOMEM). */
void *chr_tab_get(struct chr_tab *t, uint16_t venue, uint32_t market, int *fresh);

/* Free the objects and the table (free what the objects own first). */
void chr_tab_free(struct chr_tab *t);

#endif
