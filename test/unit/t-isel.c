/* t-isel.c - instrument selection: the shard hash, patterns, names from
 * DEFINE records and the symbol map, the decision cache as it grows. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <xxhash.h>

#include "isel.h"
#include "unit.h"

int main(void)
{
	struct chr_isel s;
	struct chr_symmap map;
	char longv[200], longs[300], buf[600], path[] = "/tmp/t-isel.XXXXXX";
	struct chr_err e;
	uint64_t seen, sel, per[7] = {0};
	FILE *f;
	int fd;

	/* the documented rule: XXH3_64(venue \0 symbol) mod n */
	CHECK(XXH3_64bits("bitmex\0XBTUSD", 13) == 0x1d71d7670439444fu);
	CHECK(chr_shard_of("bitmex", "XBTUSD", 4) == 3);
	CHECK(chr_shard_of("bitmex", "XBTUSD", 1) == 0);
	CHECK(chr_shard_of("a", "bc", 0xffffffffu) == XXH3_64bits("a\0bc", 4) % 0xffffffffu);
	CHECK(chr_shard_of("ab", "c", 0xffffffffu) == XXH3_64bits("ab\0c", 4) % 0xffffffffu);
	/* names longer than a DEFINE holds hash in pieces to the same value */
	memset(longv, 'v', sizeof longv - 1);
	longv[sizeof longv - 1] = '\0';
	memset(longs, 's', sizeof longs - 1);
	longs[sizeof longs - 1] = '\0';
	memcpy(buf, longv, sizeof longv);
	memcpy(buf + sizeof longv, longs, sizeof longs - 1);
	CHECK(chr_shard_of(longv, longs, 0xfffffffbu) ==
	      XXH3_64bits(buf, sizeof longv + sizeof longs - 1) % 0xfffffffbu);

	/* no selection by name: everything, nothing looked up */
	chr_isel_init(&s);
	CHECK(!chr_isel_by_name(&s));
	CHECK(chr_isel_get(&s, 1, 2) == CHR_ISEL_YES);
	chr_isel_free(&s);

	/* patterns: any venue pattern and any symbol pattern */
	chr_isel_init(&s);
	CHECK(chr_isel_add_venue(&s, "b*") == 0);
	CHECK(chr_isel_add_venue(&s, "okx") == 0);
	CHECK(chr_isel_add_symbol(&s, "BTC[-U]*") == 0);
	CHECK(chr_isel_by_name(&s));
	CHECK(chr_isel_get(&s, 0, 0) == CHR_ISEL_YES);	/* no instrument */
	CHECK(chr_isel_get(&s, 1, 2) == CHR_ISEL_UNNAMED);
	CHECK(s.unnamed == 1);
	CHECK(chr_isel_get(&s, 1, 2) == CHR_ISEL_UNNAMED);
	CHECK(s.unnamed == 1);
	CHECK(chr_isel_define(&s, 1, 2, "binance", "BTCUSDT") == CHR_ISEL_YES);
	CHECK(chr_isel_get(&s, 1, 2) == CHR_ISEL_YES);
	CHECK(chr_isel_define(&s, 1, 3, "okx", "BTC-USD") == CHR_ISEL_YES);
	CHECK(chr_isel_define(&s, 1, 4, "okx", "ETH-USD") == CHR_ISEL_NO);
	CHECK(chr_isel_define(&s, 1, 5, "okex", "BTC-USD") == CHR_ISEL_NO);
	CHECK(chr_isel_define(&s, 1, 6, "bitmex", "btcusd") == CHR_ISEL_NO);
	CHECK(chr_isel_get(&s, 1, 2) == CHR_ISEL_YES);
	CHECK(chr_isel_get(&s, 1, 4) == CHR_ISEL_NO);
	/* a DEFINE that renames the ids decides again */
	CHECK(chr_isel_define(&s, 1, 2, "binance", "ETHUSDT") == CHR_ISEL_NO);
	CHECK(chr_isel_get(&s, 1, 2) == CHR_ISEL_NO);
	chr_isel_count(&s, &seen, &sel);
	CHECK(seen == 5 && sel == 1);
	chr_isel_free(&s);

	/* the map: both names, or the venue name of a listed venue */
	fd = mkstemp(path);
	CHECK(fd >= 0);
	f = fdopen(fd, "w");
	fputs("binance BTCUSDT 1 2\nokx BTC-USD 3 4\n", f);
	fclose(f);
	CHECK(chr_symmap_load(&map, path, &e) == 0);
	unlink(path);
	chr_isel_init(&s);
	s.map = &map;
	chr_isel_add_venue(&s, "binance");
	CHECK(chr_isel_get(&s, 1, 2) == CHR_ISEL_YES);
	CHECK(chr_isel_get(&s, 1, 99) == CHR_ISEL_YES);	/* venue known */
	CHECK(chr_isel_get(&s, 3, 4) == CHR_ISEL_NO);
	CHECK(chr_isel_get(&s, 3, 99) == CHR_ISEL_NO);
	CHECK(chr_isel_get(&s, 9, 9) == CHR_ISEL_UNNAMED);
	/* a DEFINE's names win over the map's */
	CHECK(chr_isel_define(&s, 3, 4, "binance", "X") == CHR_ISEL_YES);
	chr_isel_free(&s);
	chr_isel_init(&s);
	s.map = &map;
	s.shards = 2;
	s.shard = chr_shard_of("binance", "BTCUSDT", 2);
	CHECK(chr_isel_get(&s, 1, 2) == CHR_ISEL_YES);
	CHECK(chr_isel_get(&s, 1, 99) == CHR_ISEL_UNNAMED);	/* the shard needs both */
	chr_isel_free(&s);
	chr_symmap_free(&map);

	/* many instruments: the cache grows and keeps every decision; the
	 * shards of 7 partition them */
	for (uint32_t k = 0; k < 7; k++) {
		chr_isel_init(&s);
		s.shard = k;
		s.shards = 7;
		for (uint32_t m = 1; m <= 20000; m++) {
			char sym[32];

			snprintf(sym, sizeof sym, "S%u", m);
			chr_isel_define(&s, (uint16_t)(m % 5), m, "v", sym);
		}
		for (uint32_t m = 1; m <= 20000; m++) {
			char sym[32];
			int d = chr_isel_get(&s, (uint16_t)(m % 5), m);

			snprintf(sym, sizeof sym, "S%u", m);
			CHECK(d == (chr_shard_of("v", sym, 7) == k ? CHR_ISEL_YES : CHR_ISEL_NO));
		}
		chr_isel_count(&s, &seen, &sel);
		CHECK(seen == 20000);
		per[k] = sel;
		chr_isel_free(&s);
	}
	CHECK(per[0] + per[1] + per[2] + per[3] + per[4] + per[5] + per[6] == 20000);
	for (int k = 0; k < 7; k++)
		CHECK(per[k] > 2500 && per[k] < 3200);
	return unit_done("t-isel");
}
