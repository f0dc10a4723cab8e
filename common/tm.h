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

/* Parse a time as every program takes one (docs/programs.md, "Times"):
 * ISO 8601 "YYYY-MM-DD" (UTC midnight), "YYYY-MM-DDTHH:MM", "...:SS",
 * "...:SS.f" with 1 to 9 fraction digits ('T' may be a space), a time
 * followed by nothing or 'Z' (UTC) or "+hh:mm"/"-hh:mm" (an offset east of
 * UTC); or an integer since the epoch with its unit, "1723161450s", "ms",
 * "us" or "ns", or bare when its digits say the unit: 10 s, 13 ms, 16 us,
 * 19 ns. Nothing before 1970, no sign. Returns 0, or -1 when s is none of
 * these. */
int chr_time_parse(const char *s, int64_t *ns);

/* chr_time_parse; when it fails, *why is why s, which looks like a time, is
 * not one ("a bare integer is read by its digits ...: give it a unit"), or
 * NULL when s looks like none. */
int chr_time_parse_why(const char *s, int64_t *ns, const char **why);

/* Parse a date alone, exactly "YYYY-MM-DD" (a valid one), into its UTC
 * midnight: the dates of directory names and --date. Returns 0, or -1. */
int chr_date_parse(const char *s, int64_t *ns);

/* "2024-08-08T10:00:00.123456789Z" into buf (CHR_TIME_BUF bytes).
 * Returns the length. */
size_t chr_time_format(char *buf, int64_t ns);

/* "2024-08-08", the UTC date of ns, into buf (11 bytes at least). */
void chr_date_format(char *buf, int64_t ns);

/* Parse a duration: an integer with unit ns, us, ms, s, m, h or d (plain
 * integers are seconds). Returns 0, or -1. */
int chr_duration_parse(const char *s, int64_t *ns);

/* A duration for people, in buf (CHR_TIME_BUF bytes): its largest unit
 * and the next, truncated ("2h 3m", "1s 500ms", "3d 4h", "0ns"). Returns the
 * length. */
size_t chr_duration_format(char *buf, int64_t ns);

#endif
