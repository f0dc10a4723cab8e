/* t-tm.c - UTC time parse and format. */
#include <stdint.h>

#include "tm.h"
#include "unit.h"

int main(void)
{
	char buf[CHR_TIME_BUF];
	int64_t ns;

	CHECK(chr_time_parse("2024-08-08T10:00:00.123456789Z", &ns) == 0);
	CHECK(ns == 1723111200123456789LL);
	chr_time_format(buf, ns);
	CHECK_STR(buf, "2024-08-08T10:00:00.123456789Z");
	CHECK(chr_time_parse("2024-08-08", &ns) == 0 && ns == 1723075200000000000LL);
	CHECK(chr_time_parse("2024-08-08T10:00Z", &ns) == 0 && ns == 1723111200000000000LL);
	CHECK(chr_time_parse("2024-08-08 10:00:00.5", &ns) == 0 && ns == 1723111200500000000LL);
	CHECK(chr_time_parse("1723111200123456789", &ns) == 0 && ns == 1723111200123456789LL);
	CHECK(chr_time_parse("0", &ns) == 0 && ns == 0);
	CHECK(chr_time_parse("1970-01-01T00:00:00Z", &ns) == 0 && ns == 0);
	CHECK(chr_time_parse("2024-02-29", &ns) == 0);
	CHECK(chr_time_parse("2023-02-29", &ns) == -1);
	CHECK(chr_time_parse("2024-13-01", &ns) == -1);
	CHECK(chr_time_parse("2024-08-08T25:00", &ns) == -1);
	CHECK(chr_time_parse("2024-08-08T10:00:00.", &ns) == -1);
	CHECK(chr_time_parse("2024-08-08T10:00:00.1234567890", &ns) == -1);
	CHECK(chr_time_parse("yesterday", &ns) == -1);
	CHECK(chr_time_parse("", &ns) == -1);
	CHECK(chr_time_parse("12x", &ns) == -1);
	CHECK(chr_time_parse("99999999999999999999", &ns) == -1);
	CHECK(chr_duration_parse("99999999999999999999ns", &ns) == -1);

	chr_time_format(buf, -1);
	CHECK_STR(buf, "1969-12-31T23:59:59.999999999Z");
	chr_date_format(buf, 1723161255319702000LL);
	CHECK_STR(buf, "2024-08-08");
	chr_date_format(buf, 1723161599999999999LL);
	CHECK_STR(buf, "2024-08-08");
	chr_date_format(buf, 1723161600000000000LL);
	CHECK_STR(buf, "2024-08-09");

	/* format and parse are inverse over a wide range */
	for (int64_t t = -86400LL * 1000000000 * 400; t < 4102444800LL * 1000000000;
	     t += 86399LL * 1000000000 * 37 + 123456789) {
		int64_t back;

		chr_time_format(buf, t);
		CHECK(chr_time_parse(buf, &back) == 0 && back == t);
	}

	CHECK(chr_duration_parse("60s", &ns) == 0 && ns == 60000000000LL);
	CHECK(chr_duration_parse("60", &ns) == 0 && ns == 60000000000LL);
	CHECK(chr_duration_parse("250ms", &ns) == 0 && ns == 250000000LL);
	CHECK(chr_duration_parse("1h", &ns) == 0 && ns == 3600000000000LL);
	CHECK(chr_duration_parse("1x", &ns) == -1);
	CHECK(chr_duration_parse("s", &ns) == -1);
	return unit_done("t-tm");
}
