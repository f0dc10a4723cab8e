/* t-dec.c - exact decimal parse, format and rescale. */
#include <stdint.h>
#include <stdlib.h>

#include "dec.h"
#include "unit.h"

static void roundtrip(const char *in, const char *out, int64_t m, int sc)
{
	int64_t mant;
	int scale;
	char buf[CHR_DEC_BUF];

	CHECK(chr_dec_parse(in, strlen(in), &mant, &scale) == 0);
	CHECK(mant == m && scale == sc);
	chr_dec_format(buf, mant, scale);
	CHECK_STR(buf, out);
}

static int bad(const char *in)
{
	int64_t m;
	int s;

	return chr_dec_parse(in, strlen(in), &m, &s);
}

int main(void)
{
	int64_t m;
	char buf[CHR_DEC_BUF];

	roundtrip("61800.3", "61800.3", 618003, 1);
	roundtrip("2152", "2152", 2152, 0);
	roundtrip("0.001", "0.001", 1, 3);
	roundtrip("-1.5", "-1.5", -15, 1);
	roundtrip("50000.0", "50000", 500000, 1);
	roundtrip("0", "0", 0, 0);
	roundtrip("0.000000000000000001", "0.000000000000000001", 1, 18);
	roundtrip("9223372036854775807", "9223372036854775807", INT64_MAX, 0);
	roundtrip("-9223372036854775807", "-9223372036854775807", -INT64_MAX, 0);
	CHECK(bad("") == -1);
	CHECK(bad("-") == -1);
	CHECK(bad("1.") == -1);
	CHECK(bad(".5") == -1);
	CHECK(bad("6O000.1") == -1);
	CHECK(bad("1e5") == -1);
	CHECK(bad("+1") == -1);
	CHECK(bad(" 1") == -1);
	CHECK(bad("1.2.3") == -1);
	CHECK(bad("9223372036854775808") == -2);
	CHECK(bad("-9223372036854775808") == -2);	/* reserved for CHR_NULL */
	CHECK(bad("99999999999999999999") == -2);
	CHECK(bad("0.0000000000000000001") == -3);	/* 19 places */
	CHECK(bad("61800.300000000000000000000") == -3);	/* overflows first */
	CHECK(bad("61800.300000000000000") == -2);

	m = 15;
	CHECK(chr_dec_rescale(&m, 1, 4) == 0 && m == 15000);
	m = INT64_MAX / 10;
	CHECK(chr_dec_rescale(&m, 0, 2) == -1 && m == INT64_MAX / 10);
	CHECK(chr_dec_rescale(&m, 2, 1) == -1);

	CHECK(chr_dec_cmp(15, 1, 150, 2) == 0);
	CHECK(chr_dec_cmp(15, 1, 151, 2) < 0);
	CHECK(chr_dec_cmp(-1, 0, 1, 18) < 0);
	CHECK(chr_dec_cmp(INT64_MAX, 0, INT64_MAX, 18) > 0);

	CHECK(chr_dec_cmp(1, 0, 1, 40) != 0);	/* out of range: no overflow */
	chr_dec_format(buf, 12345, 19);
	CHECK_STR(buf, "?");
	chr_dec_format(buf, INT64_MIN + 1, 18);
	CHECK_STR(buf, "-9.223372036854775807");
	chr_dec_format(buf, -5, 3);
	CHECK_STR(buf, "-0.005");

	/* every value with up to 6 digits at every scale round-trips */
	for (int sc = 0; sc <= 6; sc++)
		for (int64_t v = -2000; v <= 2000; v += 7) {
			int64_t mm;
			int ss;
			size_t n = chr_dec_format(buf, v, sc);

			CHECK(chr_dec_parse(buf, n, &mm, &ss) == 0);
			CHECK(chr_dec_cmp(mm, ss, v, sc) == 0);
		}
	return unit_done("t-dec");
}
