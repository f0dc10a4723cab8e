/* map.h - a hash map from 64-bit keys to pointers, for tables of
 * instruments keyed by (venue << 32 | market). */
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

#endif
