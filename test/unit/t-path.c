/* t-path.c - name checks, archive paths, atomic publication. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "path.h"
#include "sym.h"
#include "unit.h"

int main(void)
{
	char buf[256], v[33], s[65], dir[] = "/tmp/t-path.XXXXXX";
	struct chr_define d;
	struct stat st;
	FILE *f;

	CHECK(chr_name_check("BTCUSDT") == NULL);
	CHECK(chr_name_check("binance-futures") == NULL);
	CHECK(chr_name_check("BTC-PERPETUAL") == NULL);
	CHECK(chr_name_check("") != NULL);
	CHECK(chr_name_check("..") != NULL);
	CHECK(chr_name_check(".") != NULL);
	CHECK(chr_name_check("../../x") != NULL);
	CHECK(chr_name_check("a/b") != NULL);
	CHECK(chr_name_check("a\\b") != NULL);
	CHECK(chr_name_check("a b") != NULL);
	CHECK(chr_name_check("a\nb") != NULL);

	memset(&d, 0, sizeof d);
	strcpy(d.venue, "binance");
	strcpy(d.symbol, "BTCUSDT");
	CHECK(chr_define_names(&d, v, s) == NULL);
	CHECK_STR(v, "binance");
	CHECK_STR(s, "BTCUSDT");
	d.symbol[20] = 'x';	/* a byte after the NUL */
	CHECK(chr_define_names(&d, v, s) != NULL);
	memset(d.symbol, 'A', sizeof d.symbol);	/* exactly 64 bytes */
	CHECK(chr_define_names(&d, v, s) == NULL && strlen(s) == 64);
	memset(d.venue, 'A', sizeof d.venue);
	CHECK(chr_define_names(&d, v, s) != NULL);

	CHECK(chr_path_partition(buf, sizeof buf, "/a", "v", "S", "2024-01-01", "book") == 0);
	CHECK_STR(buf, "/a/v1/v/S/2024-01-01/book");
	CHECK(chr_path_partition(buf, 10, "/a", "v", "S", "2024-01-01", "book") == -1);

	CHECK_STR(chr_stream_of(0x10), "book");
	CHECK_STR(chr_stream_of(0x02), "book");
	CHECK_STR(chr_stream_of(0x20), "trade");
	CHECK(chr_stream_of(0x01) == NULL);

	CHECK(mkdtemp(dir) != NULL);
	CHECK(chr_mkdirs("") == -1);
	snprintf(buf, sizeof buf, "%s/x/y/z", dir);
	CHECK(chr_mkdirs(buf) == 0);
	CHECK(chr_mkdirs(buf) == 0);
	CHECK(stat(buf, &st) == 0 && S_ISDIR(st.st_mode));
	strcat(buf, "/f.json");
	CHECK(chr_publish_file(buf, "{}\n", 3) == 0);
	CHECK(stat(buf, &st) == 0 && st.st_size == 3);
	strcat(buf, ".tmp");
	CHECK(stat(buf, &st) == -1);

	/* chr_pathf: ENAMETOOLONG when cut short */
	CHECK(chr_pathf(buf, sizeof buf, "%s/%s", "a", "b") == 0);
	CHECK_STR(buf, "a/b");
	errno = 0;
	CHECK(chr_pathf(buf, 4, "%s/%s", "a", "bc") == -1 && errno == ENAMETOOLONG);

	/* chr_file_read: the bytes, NUL-terminated; no directory, no symlink */
	{
		unsigned char *data;
		char link[300];

		snprintf(buf, sizeof buf, "%s/x/y/z/f.json", dir);
		CHECK(chr_file_read(buf, &data) == 3 && memcmp(data, "{}\n", 4) == 0);
		free(data);
		snprintf(link, sizeof link, "%s/link", dir);
		CHECK(symlink(buf, link) == 0);
		CHECK(chr_file_read(link, &data) == -1 && errno == ELOOP && data == NULL);
		snprintf(buf, sizeof buf, "%s/x", dir);
		CHECK(chr_file_read(buf, &data) == -1 && errno == EINVAL && data == NULL);
		snprintf(buf, sizeof buf, "%s/none", dir);
		CHECK(chr_file_read(buf, &data) == -1 && errno == ENOENT && data == NULL);
		snprintf(buf, sizeof buf, "%s/empty", dir);
		CHECK(chr_publish_file(buf, "", 0) == 0);
		CHECK(chr_file_read(buf, &data) == 0 && data != NULL && data[0] == '\0');
		free(data);
	}

	/* ids: stable hashes, nonzero; a map overrides them */
	CHECK(chr_venue_hash("binance-futures") != 0);
	CHECK(chr_venue_hash("binance-futures") == chr_venue_hash("binance-futures"));
	CHECK(chr_market_hash("BTCUSDT") != chr_market_hash("ETHUSDT"));
	snprintf(buf, sizeof buf, "%s/map", dir);
	f = fopen(buf, "w");
	fputs("# venue symbol venue_id market_id\nbinance BTCUSDT 7 42\n\n", f);
	fclose(f);
	{
		struct chr_symmap m;
		struct chr_err err;
		uint16_t vid;
		uint32_t mid;

		CHECK(chr_symmap_load(&m, buf, &err) == 0);
		chr_sym_ids(&m, "binance", "BTCUSDT", &vid, &mid);
		CHECK(vid == 7 && mid == 42);
		chr_sym_ids(&m, "binance", "ETHUSDT", &vid, &mid);
		CHECK(vid == 7 && mid == chr_market_hash("ETHUSDT"));
		chr_sym_ids(&m, "okx", "ETHUSDT", &vid, &mid);
		CHECK(vid == chr_venue_hash("okx"));
		chr_symmap_free(&m);
		f = fopen(buf, "w");
		fputs("binance BTCUSDT 7\n", f);
		fclose(f);
		CHECK(chr_symmap_load(&m, buf, &err) == -1);
		CHECK(strstr(err.msg, ":1:") != NULL && err.status == CHR_EX_DATA);
		/* a file that cannot be opened is the system's failure */
		CHECK(chr_symmap_load(&m, "/nonexistent/map", &err) == -1 &&
		      err.status == CHR_EX_SYS && strncmp(err.msg, "cannot open ", 12) == 0);
		/* duplicates and id clashes are refused */
		f = fopen(buf, "w");
		fputs("binance BTCUSDT 1 1\nbinance BTCUSDT 9 9\n", f);
		fclose(f);
		CHECK(chr_symmap_load(&m, buf, &err) == -1);
		f = fopen(buf, "w");
		fputs("binance BTCUSDT 1 1\nokx ETHUSDT 1 2\n", f);
		fclose(f);
		CHECK(chr_symmap_load(&m, buf, &err) == -1);
		f = fopen(buf, "w");
		fputs("binance BTCUSDT 1 1\nbinance ETHUSDT 1 1\n", f);
		fclose(f);
		CHECK(chr_symmap_load(&m, buf, &err) == -1);
		/* a long comment never turns into an entry */
		f = fopen(buf, "w");
		fputs("#", f);
		for (int i = 0; i < 1100; i++)
			fputc('x', f);
		fputs(" evil SYM 7 7\nbinance BTCUSDT 1 1\n", f);
		fclose(f);
		CHECK(chr_symmap_load(&m, buf, &err) == 0 && m.n == 1);
		chr_symmap_free(&m);
		/* a venue must leave room for its NUL in DEFINE */
		f = fopen(buf, "w");
		fputs("abcdefghijabcdefghijabcdefghijab BTCUSDT 1 1\n", f);
		fclose(f);
		CHECK(chr_symmap_load(&m, buf, &err) == -1);
	}
	snprintf(buf, sizeof buf, "rm -rf '%s'", dir);
	CHECK(system(buf) == 0);
	return unit_done("t-path");
}
