/* t-map.c - the hash map and the table of per-instrument objects: lookups
 * as the table grows, the venue as part of the key, order of appearance. */
#include <stdint.h>
#include <stdlib.h>

#include "map.h"
#include "unit.h"

struct obj {
	uint32_t market;
	_Alignas(64) unsigned char pad[72];	/* larger than a cache line */
};

int main(void)
{
	struct chr_tab t;
	struct chr_map m = {0};
	struct obj **got = malloc(3000 * sizeof *got);
	int fresh, ok = 1;

	/* the map: keys 0 and big ones, overwrite, absent keys */
	CHECK(chr_map_get(&m, 0) == NULL);
	for (uint64_t k = 0; k < 5000; k++)
		ok &= chr_map_put(&m, k * 0x100000001u, got + (k % 3000)) == 0;
	CHECK(ok);
	for (uint64_t k = 0; k < 5000; k++)
		ok &= chr_map_get(&m, k * 0x100000001u) == got + (k % 3000);
	CHECK(ok && m.n == 5000);
	CHECK(chr_map_put(&m, 0, got) == 0 && m.n == 5000 && chr_map_get(&m, 0) == got);
	CHECK(chr_map_get(&m, 7) == NULL);
	chr_map_free(&m);
	CHECK(chr_map_get(&m, 0) == NULL);

	/* the table: made zeroed and aligned, once per instrument */
	chr_tab_init(&t, sizeof(struct obj));
	for (uint32_t i = 0; i < 3000; i++) {
		got[i] = chr_tab_get(&t, (uint16_t)((3 * i + 1) % 5), 3 * i + 1, &fresh);
		if (got[i] == NULL || !fresh || got[i]->market != 0 || (uintptr_t)got[i] % 64)
			ok = 0;
		else
			got[i]->market = 3 * i + 1;
	}
	CHECK(ok && t.n == 3000);
	for (uint32_t i = 0; i < 3000; i++) {
		if (chr_tab_get(&t, (uint16_t)((3 * i + 1) % 5), 3 * i + 1, &fresh) != got[i] || fresh)
			ok = 0;
		/* in the order of first appearance */
		if (t.v[i] != got[i])
			ok = 0;
	}
	CHECK(ok && t.n == 3000);
	/* the venue is part of the key; fresh may be NULL */
	CHECK(chr_tab_get(&t, 4, 1, NULL) != got[0] && t.n == 3001);
	CHECK(chr_tab_get(&t, 1, 1, NULL) == got[0] && chr_tab_get(&t, 4, 1, &fresh) == t.v[3000] &&
	      !fresh);
	chr_tab_free(&t);
	CHECK(t.n == 0 && t.v == NULL);
	free(got);
	return unit_done("t-map");
}
