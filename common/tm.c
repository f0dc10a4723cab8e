/* tm.c - UTC time parse and format (proleptic Gregorian calendar). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tm.h"

#define NS_PER_S 1000000000LL
#define S_PER_DAY 86400LL

/* days since 1970-01-01 of a civil date (H. Hinnant's algorithm) */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
	int64_t era;
	unsigned doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = (unsigned)(z - era * 146097);
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int64_t)yoe + era * 400 + (*m <= 2);
}

/* n digits at s into *v; returns 0 or -1 */
static int digits(const char *s, int n, int *v)
{
	*v = 0;
	for (int i = 0; i < n; i++) {
		if ((unsigned)(s[i] - '0') > 9)
			return -1;
		*v = *v * 10 + (s[i] - '0');
	}
	return 0;
}

static int days_in_month(int y, int m)
{
	static const int dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

	if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return 29;
	return dm[m - 1];
}

/* An integer since the epoch: digits, then a unit (s, ms, us, ns) or none,
 * when the digit count says it (10 s, 13 ms, 16 us, 19 ns). Returns 0, 1
 * when s is not one (no leading digit), or -1 with *why. */
static int epoch_parse(const char *s, int64_t *ns, const char **why)
{
	static const struct {
		const char *unit;
		int64_t mul;
		int digits;
	} units[] = {
		{"s", NS_PER_S, 10}, {"ms", 1000000, 13}, {"us", 1000, 16}, {"ns", 1, 19},
	};
	size_t n = strspn(s, "0123456789");
	const char *u = s + n;
	int64_t v = 0;

	if (n == 0)
		return 1;
	if (n > 19) {
		*why = "more than 19 digits";
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, s[i] - '0', &v)) {
			*why = "too large";
			return -1;
		}
	for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
		if (*u == '\0' ? (size_t)units[i].digits != n : strcmp(u, units[i].unit) != 0)
			continue;
		if (__builtin_mul_overflow(v, units[i].mul, ns)) {
			*why = "too large";
			return -1;
		}
		return 0;
	}
	if (*u == '-' && n == 4)
		return 1;	/* a date */
	if (*u == '\0')
		*why = "a bare integer is read by its digits (10 s, 13 ms, 16 us, 19 ns since "
		       "the epoch): give it a unit (1723161450s, ...ms, ...us, ...ns)";
	else
		*why = "the unit of an integer is s, ms, us or ns";
	return -1;
}

/* "Z", "+hh:mm" or "-hh:mm" at p, the whole rest: the offset east of UTC in
 * seconds. Returns 0, or -1. */
static int zone_parse(const char *p, int64_t *off)
{
	int h, m;

	*off = 0;
	if (*p == 'Z')
		return p[1] == '\0' ? 0 : -1;
	if (*p != '+' && *p != '-')
		return *p == '\0' ? 0 : -1;
	if (digits(p + 1, 2, &h) || p[3] != ':' || digits(p + 4, 2, &m) || p[6] != '\0' ||
	    h > 23 || m > 59)
		return -1;
	*off = (h * 3600 + m * 60) * (*p == '-' ? -1 : 1);
	return 0;
}

int chr_time_parse_why(const char *s, int64_t *ns, const char **why)
{
	static const char iso[] = "an ISO 8601 time is YYYY-MM-DD[THH:MM[:SS[.fraction]]], "
				  "then Z, +hh:mm or -hh:mm after a time of day";
	int y, mo, d, h = 0, mi = 0, sec = 0, k;
	int64_t frac = 0, t, off = 0;
	const char *p;

	*why = NULL;
	if (*s == '-' || *s == '+') {
		*why = "times before 1970 and signed times are not taken";
		return -1;
	}
	if ((k = epoch_parse(s, ns, why)) <= 0)
		return k;
	if (strlen(s) < 10 || digits(s, 4, &y) || s[4] != '-' || digits(s + 5, 2, &mo) ||
	    s[7] != '-' || digits(s + 8, 2, &d))
		return -1;
	/* past here s begins as a date: say what is wrong with it */
	*why = iso;
	if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo)) {
		*why = "no such date";
		return -1;
	}
	p = s + 10;
	if (*p == 'T' || *p == ' ') {
		if (digits(p + 1, 2, &h) || p[3] != ':' || digits(p + 4, 2, &mi))
			return -1;
		p += 6;
		if (*p == ':') {
			if (digits(p + 1, 2, &sec))
				return -1;
			p += 3;
			if (*p == '.') {
				int n = 0;

				for (p++; (unsigned)(*p - '0') <= 9; p++, n++) {
					if (n == 9)
						return -1;
					frac = frac * 10 + (*p - '0');
				}
				if (n == 0)
					return -1;
				for (; n < 9; n++)
					frac *= 10;
			}
		}
		if (h > 23 || mi > 59 || sec > 60)
			return -1;
		if (zone_parse(p, &off) < 0) {
			if (*p == '+' || *p == '-')
				*why = "an offset is +hh:mm or -hh:mm, with the colon";
			return -1;
		}
	} else if (*p == 'Z' ? p[1] != '\0' : *p != '\0') {
		if (*p == '+' || *p == '-')
			*why = "a date alone is a UTC midnight: it takes no offset";
		return -1;
	}
	t = days_from_civil(y, (unsigned)mo, (unsigned)d) * S_PER_DAY + h * 3600 + mi * 60 + sec - off;
	if (__builtin_mul_overflow(t, NS_PER_S, &t) || __builtin_add_overflow(t, frac, &t)) {
		*why = "too large";
		return -1;
	}
	if (t < 0) {
		*why = "times before 1970 are not taken";
		return -1;
	}
	*why = NULL;
	*ns = t;
	return 0;
}

int chr_time_parse(const char *s, int64_t *ns)
{
	const char *why;

	return chr_time_parse_why(s, ns, &why);
}

int chr_date_parse(const char *s, int64_t *ns)
{
	int y, mo, d;

	if (strlen(s) != 10 || digits(s, 4, &y) || s[4] != '-' || digits(s + 5, 2, &mo) ||
	    s[7] != '-' || digits(s + 8, 2, &d) || mo < 1 || mo > 12 || d < 1 ||
	    d > days_in_month(y, mo))
		return -1;
	*ns = days_from_civil(y, (unsigned)mo, (unsigned)d) * S_PER_DAY * NS_PER_S;
	return 0;
}

static void split(int64_t ns, int64_t *days, int64_t *sod, int64_t *sub)
{
	int64_t s = ns / NS_PER_S, r = ns % NS_PER_S;

	if (r < 0) {
		r += NS_PER_S;
		s--;
	}
	*sub = r;
	*days = s / S_PER_DAY;
	*sod = s % S_PER_DAY;
	if (*sod < 0) {
		*sod += S_PER_DAY;
		(*days)--;
	}
}

size_t chr_time_format(char *buf, int64_t ns)
{
	int64_t days, sod, sub, y;
	unsigned m, d;
	int n;

	split(ns, &days, &sod, &sub);
	civil_from_days(days, &y, &m, &d);
	n = snprintf(buf, CHR_TIME_BUF, "%04lld-%02u-%02uT%02d:%02d:%02d.%09lldZ",
		     (long long)y, m, d, (int)(sod / 3600), (int)(sod / 60 % 60),
		     (int)(sod % 60), (long long)sub);
	return n < 0 ? 0 : (size_t)n;
}

void chr_date_format(char *buf, int64_t ns)
{
	int64_t days, sod, sub, y;
	unsigned m, d;
	char tmp[CHR_TIME_BUF];

	split(ns, &days, &sod, &sub);
	civil_from_days(days, &y, &m, &d);
	snprintf(tmp, sizeof tmp, "%04lld-%02u-%02u", (long long)y, m, d);
	memcpy(buf, tmp, 10);
	buf[10] = '\0';
}

int chr_duration_parse(const char *s, int64_t *ns)
{
	static const struct {
		const char *unit;
		int64_t mul;
	} units[] = {
		{"", NS_PER_S}, {"ns", 1}, {"us", 1000}, {"ms", 1000000},
		{"s", NS_PER_S}, {"m", 60 * NS_PER_S}, {"h", 3600 * NS_PER_S},
		{"d", S_PER_DAY * NS_PER_S},
	};
	char *end;
	long long v;

	if ((unsigned)(*s - '0') > 9)
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno == ERANGE)
		return -1;
	for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
		int64_t r;

		if (strcmp(end, units[i].unit) != 0)
			continue;
		if (__builtin_mul_overflow((int64_t)v, units[i].mul, &r))
			return -1;
		*ns = r;
		return 0;
	}
	return -1;
}

size_t chr_duration_format(char *buf, int64_t ns)
{
	static const struct {
		const char *unit;
		uint64_t ns;
	} units[] = {
		{"d", S_PER_DAY * NS_PER_S}, {"h", 3600 * NS_PER_S}, {"m", 60 * NS_PER_S},
		{"s", NS_PER_S}, {"ms", 1000000}, {"us", 1000}, {"ns", 1},
	};
	uint64_t v = ns < 0 ? -(uint64_t)ns : (uint64_t)ns;
	size_t i = 0, n = 0;

	if (ns < 0)
		buf[n++] = '-';
	while (i + 1 < sizeof units / sizeof units[0] && v < units[i].ns)
		i++;
	/* the largest unit and the next one: "2h 3m", "1s 500ms" */
	n += (size_t)snprintf(buf + n, CHR_TIME_BUF - n, "%llu%s",
			      (unsigned long long)(v / units[i].ns), units[i].unit);
	v %= units[i].ns;
	if (i + 1 < sizeof units / sizeof units[0] && v / units[i + 1].ns > 0)
		n += (size_t)snprintf(buf + n, CHR_TIME_BUF - n, " %llu%s",
				      (unsigned long long)(v / units[i + 1].ns), units[i + 1].unit);
	return n;
}
