/* tm.h - UTC time: ns since the Unix epoch <-> text, without the C
 * library's time zone machinery. */
#ifndef CHR_TM_H
#define CHR_TM_H

#include <stddef.h>
#include <stdint.h>

#define CHR_TIME_BUF 40
#define CHR_DAY_NS (86400 * INT64_C(1000000000))

/* The start of the UTC day that holds ns (floor, also before 1970). */
static inline int64_t chr_day_start(int64_t ns)
{
	int64_t r = ns % CHR_DAY_NS;

	return ns - r - (r < 0 ? CHR_DAY_NS : 0);
}

/* Parse a time: an integer (ns since the epoch), "YYYY-MM-DD",
 * "YYYY-MM-DDTHH:MM", "...:SS", "...:SS.f" with 1 to 9 fraction digits,
 * each optionally followed by 'Z' ('T' may be a space). Always UTC.
 * Returns 0, or -1 when s is none of these. */
int chr_time_parse(const char *s, int64_t *ns);

/* "2024-08-08T10:00:00.123456789Z" into buf (CHR_TIME_BUF bytes).
 * Returns the length. */
size_t chr_time_format(char *buf, int64_t ns);

/* "2024-08-08", the UTC date of ns, into buf (11 bytes at least). */
void chr_date_format(char *buf, int64_t ns);

/* Parse a duration: an integer with unit ns, us, ms, s, m, h or d (plain
 * integers are seconds). Returns 0, or -1. */
int chr_duration_parse(const char *s, int64_t *ns);

#endif
