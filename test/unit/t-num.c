/* t-num.c - the number, range, shard and size parsers: what they take and
 * what they refuse (signs, blanks, overflow, empty strings). */
#include <stdint.h>

#include "num.h"
#include "unit.h"

int main(void)
{
	uint64_t v;
	uint32_t i, n;

	CHECK(chr_parse_u64("0", &v) == 0 && v == 0);
	CHECK(chr_parse_u64("18446744073709551615", &v) == 0 && v == UINT64_MAX);
	CHECK(chr_parse_u64("18446744073709551616", &v) == -1);
	CHECK(chr_parse_u64("", &v) == -1);
	CHECK(chr_parse_u64("+1", &v) == -1);
	CHECK(chr_parse_u64("-1", &v) == -1);
	CHECK(chr_parse_u64(" 1", &v) == -1);
	CHECK(chr_parse_u64("1 ", &v) == -1);
	CHECK(chr_parse_u64("1s", &v) == -1);

	CHECK(chr_parse_range("19", 1, 19, &v) == 0 && v == 19);
	CHECK(chr_parse_range("1", 1, 19, &v) == 0 && v == 1);
	v = 7;
	CHECK(chr_parse_range("0", 1, 19, &v) == -1 && v == 7);
	CHECK(chr_parse_range("20", 1, 19, &v) == -1 && v == 7);

	CHECK(chr_parse_shard("0/1", &i, &n) == 0 && i == 0 && n == 1);
	CHECK(chr_parse_shard("3/4", &i, &n) == 0 && i == 3 && n == 4);
	CHECK(chr_parse_shard("0/4294967295", &i, &n) == 0 && n == UINT32_MAX);
	CHECK(chr_parse_shard("0/4294967296", &i, &n) == -1);
	CHECK(chr_parse_shard("4/4", &i, &n) == -1);
	CHECK(chr_parse_shard("0/0", &i, &n) == -1);
	CHECK(chr_parse_shard("1", &i, &n) == -1);
	CHECK(chr_parse_shard("1/", &i, &n) == -1);
	CHECK(chr_parse_shard("/2", &i, &n) == -1);
	CHECK(chr_parse_shard("1/2x", &i, &n) == -1);
	CHECK(chr_parse_shard("1/+2", &i, &n) == -1);

	CHECK(chr_parse_size("64", &v) == 0 && v == 64);
	CHECK(chr_parse_size("4k", &v) == 0 && v == 4096);
	CHECK(chr_parse_size("64M", &v) == 0 && v == 64u << 20);
	CHECK(chr_parse_size("2G", &v) == 0 && v == 2ull << 30);
	CHECK(chr_parse_size("2T", &v) == -1);
	CHECK(chr_parse_size("M", &v) == -1);
	CHECK(chr_parse_size("17179869184G", &v) == -1);
	return unit_done("t-num");
}
