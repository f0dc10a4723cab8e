/* t-catalog.c - names closest first, the names of an archive's directories
 * and the message for a name that does not exist. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "unit.h"

int main(void)
{
	char dir[] = "/tmp/t-catalog.XXXXXX", buf[1024];
	struct chr_catalog c;
	struct chr_err e;
	const char *v[6];

	/* the same name in another case first, then by edit distance */
	v[0] = "ETHUSDT", v[1] = "BTCUSDC", v[2] = "XRPUSDT", v[3] = "BTCUSDT";
	chr_catalog_closest("btcusdt", v, 4, 0);
	CHECK_STR(v[0], "BTCUSDT");
	CHECK_STR(v[1], "BTCUSDC");
	CHECK_STR(v[2], "ETHUSDT");	/* distance 3, as XRPUSDT: byte order */
	CHECK_STR(v[3], "XRPUSDT");
	/* a name holding the one asked for comes before nearer edits */
	v[0] = "deribit", v[1] = "bitmex", v[2] = "huobi-dm-swap", v[3] = "binance-futures";
	chr_catalog_closest("huobi", v, 4, 0);
	CHECK_STR(v[0], "huobi-dm-swap");
	/* dates by distance in days */
	v[0] = "2024-01-01", v[1] = "2024-03-01", v[2] = "2024-01-09", v[3] = "2024-01-11";
	chr_catalog_closest("2024-01-10", v, 4, 1);
	CHECK_STR(v[0], "2024-01-09");
	CHECK_STR(v[1], "2024-01-11");
	CHECK_STR(v[2], "2024-01-01");
	CHECK_STR(v[3], "2024-03-01");
	chr_catalog_closest("x", v, 0, 0);	/* none: nothing to do */

	if (mkdtemp(dir) == NULL)
		return perror("mkdtemp"), 1;
	/* not an archive yet */
	CHECK(chr_catalog_load(&c, dir, CHR_CATALOG_NAMES, NULL, NULL, &e) == -1);
	CHECK(e.status == CHR_EX_DATA && strstr(e.msg, "is not an archive") != NULL);
	snprintf(buf, sizeof buf,
		 "cd '%s' && mkdir -p v1/binance/BTCUSDT/2024-01-01/trade v1/binance/BTCUSDT/2024-01-02/trade"
		 " v1/binance/ETHUSDT/2024-01-01/book v1/binance/ETHUSDT/notadate/book"
		 " raw/v1/deribit/2024-01-01/raw", dir);
	CHECK(system(buf) == 0);
	/* names only: the directories, no meta.json read */
	CHECK(chr_catalog_load(&c, dir, CHR_CATALOG_NAMES, NULL, NULL, &e) == 0);
	CHECK(c.n == 4 && !c.manifest);
	if (c.n == 4) {
		CHECK_STR(c.p[0].venue, "binance");
		CHECK_STR(c.p[0].symbol, "BTCUSDT");
		CHECK_STR(c.p[0].date, "2024-01-01");
		CHECK_STR(c.p[0].tier, "hot");
		CHECK(c.p[3].raw && strcmp(c.p[3].venue, "deribit") == 0 && strcmp(c.p[3].stream, "raw") == 0);
	}
	chr_catalog_free(&c);
	/* without names-only, a directory with no meta.json is no partition */
	CHECK(chr_catalog_load(&c, dir, 0, NULL, NULL, &e) == 0);
	CHECK(c.n == 0 && c.skipped == 0);
	chr_catalog_free(&c);

	/* every name exists: nothing to say */
	CHECK(chr_catalog_missing(dir, "binance", "BTCUSDT", "trade", "2024-01-02", &e) == 0);
	CHECK(chr_catalog_missing(dir, "deribit", NULL, "raw", NULL, &e) == 0);
	CHECK(chr_catalog_missing(dir, "binance", "btcusdt", "trade", NULL, &e) == -1);
	CHECK(e.status == CHR_EX_DATA);
	snprintf(buf, sizeof buf, "no symbol 'btcusdt' for venue binance in '%s'; symbols: BTCUSDT, ETHUSDT", dir);
	CHECK_STR(e.msg, buf);
	CHECK(chr_catalog_missing(dir, "binance", "ETHUSDT", "trade", NULL, &e) == -1);
	snprintf(buf, sizeof buf, "no stream 'trade' for binance ETHUSDT in '%s'; streams: book", dir);
	CHECK_STR(e.msg, buf);
	CHECK(chr_catalog_missing(dir, "binance", "BTCUSDT", "trade", "2024-01-05", &e) == -1);
	snprintf(buf, sizeof buf, "no date '2024-01-05' for binance BTCUSDT trade in '%s'; dates: 2024-01-02, 2024-01-01", dir);
	CHECK_STR(e.msg, buf);
	CHECK(chr_catalog_missing(dir, "deribit", "", "trade", NULL, &e) == -1);
	snprintf(buf, sizeof buf, "no venue 'deribit' in '%s'; venues: binance ('deribit' has raw partitions only: --stream raw)", dir);
	CHECK_STR(e.msg, buf);
	CHECK(chr_catalog_missing(dir, "binance", NULL, "raw", "2024-01-01", &e) == -1);
	snprintf(buf, sizeof buf, "no raw venue 'binance' in '%s'; raw venues: deribit ('binance' has instrument partitions only)", dir);
	CHECK_STR(e.msg, buf);

	snprintf(buf, sizeof buf, "rm -rf '%s'", dir);
	CHECK(system(buf) == 0);
	return unit_done("t-catalog");
}
