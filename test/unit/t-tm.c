/* t-tm.c - UTC time parse and format. */
#include <stdint.h>
#include <string.h>

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
	CHECK(chr_time_parse("0", &ns) == -1);
	CHECK(chr_time_parse("0ns", &ns) == 0 && ns == 0);

	/* an integer since the epoch: its unit, or its digits */
	CHECK(chr_time_parse("1723111200", &ns) == 0 && ns == 1723111200000000000LL);
	CHECK(chr_time_parse("1723111200123", &ns) == 0 && ns == 1723111200123000000LL);
	CHECK(chr_time_parse("1723111200123456", &ns) == 0 && ns == 1723111200123456000LL);
	CHECK(chr_time_parse("1723111200s", &ns) == 0 && ns == 1723111200000000000LL);
	CHECK(chr_time_parse("1723111200123ms", &ns) == 0 && ns == 1723111200123000000LL);
	CHECK(chr_time_parse("1723111200123456us", &ns) == 0 && ns == 1723111200123456000LL);
	CHECK(chr_time_parse("1723111200123456789ns", &ns) == 0 && ns == 1723111200123456789LL);
	CHECK(chr_time_parse("10s", &ns) == 0 && ns == 10000000000LL);
	CHECK(chr_time_parse("5ns", &ns) == 0 && ns == 5);
	CHECK(chr_time_parse("1723111200000000000s", &ns) == -1);	/* overflow */
	CHECK(chr_time_parse("9999999999999999999", &ns) == -1);
	CHECK(chr_time_parse("1723111200s ", &ns) == -1);
	CHECK(chr_time_parse("1723111200m", &ns) == -1);
	CHECK(chr_time_parse("1723111200.5", &ns) == -1);
	{
		const char *why;

		CHECK(chr_time_parse_why("172311120012", &ns, &why) == -1 && why &&
		      strstr(why, "10 s, 13 ms, 16 us, 19 ns"));
		CHECK(chr_time_parse_why("1723111200x", &ns, &why) == -1 && why &&
		      strstr(why, "s, ms, us or ns"));
		CHECK(chr_time_parse_why("-1723111200", &ns, &why) == -1 && why);
		CHECK(chr_time_parse_why("yesterday", &ns, &why) == -1 && why == NULL);
		/* a time that begins as a date says what is wrong with it */
		CHECK(chr_time_parse_why("2024-08-08T25:00", &ns, &why) == -1 && why &&
		      strstr(why, "YYYY-MM-DD[THH:MM"));
		CHECK(chr_time_parse_why("2024-08-08T10:00:00+0200", &ns, &why) == -1 && why &&
		      strstr(why, "with the colon"));
		CHECK(chr_time_parse_why("2024-08-08+02:00", &ns, &why) == -1 && why &&
		      strstr(why, "takes no offset"));
		CHECK(chr_time_parse_why("2024-02-30", &ns, &why) == -1 && why &&
		      strcmp(why, "no such date") == 0);
		CHECK(chr_time_parse_why("2024-08-08T10:00Z", &ns, &why) == 0 && why == NULL);
	}

	/* ISO 8601 offsets: the same instant */
	CHECK(chr_time_parse("2024-08-08T12:00:00+02:00", &ns) == 0 && ns == 1723111200000000000LL);
	CHECK(chr_time_parse("2024-08-08T05:30-04:30", &ns) == 0 && ns == 1723111200000000000LL);
	CHECK(chr_time_parse("2024-08-08T10:00:00.5+00:00", &ns) == 0 && ns == 1723111200500000000LL);
	CHECK(chr_time_parse("2024-08-08T10:00:00+0200", &ns) == -1);
	CHECK(chr_time_parse("2024-08-08T10:00:00+24:00", &ns) == -1);
	CHECK(chr_time_parse("2024-08-08T10:00:00Z+01:00", &ns) == -1);
	CHECK(chr_time_parse("2024-08-08+02:00", &ns) == -1);
	CHECK(chr_time_parse("2024-08-08Z", &ns) == 0 && ns == 1723075200000000000LL);
	CHECK(chr_time_parse("1970-01-01T00:30+01:00", &ns) == -1);
	CHECK(chr_time_parse("1969-12-31", &ns) == -1);

	/* a date alone, strictly */
	CHECK(chr_date_parse("2024-08-08", &ns) == 0 && ns == 1723075200000000000LL);
	CHECK(chr_date_parse("2024-08-08Z", &ns) == -1);
	CHECK(chr_date_parse("2024-08-08T00:00", &ns) == -1);
	CHECK(chr_date_parse("1723075200", &ns) == -1);
	CHECK(chr_date_parse("2024-02-30", &ns) == -1);
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
	chr_duration_format(buf, 0);
	CHECK_STR(buf, "0ns");
	chr_duration_format(buf, 7384LL * 1000000000 + 5);
	CHECK_STR(buf, "2h 3m");
	chr_duration_format(buf, 1500000000LL);
	CHECK_STR(buf, "1s 500ms");
	chr_duration_format(buf, 3LL * 86400 * 1000000000);
	CHECK_STR(buf, "3d");
	chr_duration_format(buf, -2000);
	CHECK_STR(buf, "-2us");
	chr_date_format(buf, 1723161255319702000LL);
	CHECK_STR(buf, "2024-08-08");
	chr_date_format(buf, 1723161599999999999LL);
	CHECK_STR(buf, "2024-08-08");
	chr_date_format(buf, 1723161600000000000LL);
	CHECK_STR(buf, "2024-08-09");

	/* format and parse are inverse over a wide range */
	for (int64_t t = 0; t < 4102444800LL * 1000000000;
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
