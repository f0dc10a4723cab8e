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

int chr_time_parse(const char *s, int64_t *ns)
{
	int y, mo, d, h = 0, mi = 0, sec = 0;
	int64_t frac = 0, t;
	const char *p;
	size_t n = strlen(s);

	if (n > 0 && strspn(s + (*s == '-'), "0123456789") == n - (*s == '-') &&
	    n - (*s == '-') > 0) {
		char *end;

		errno = 0;
		t = strtoll(s, &end, 10);
		if (*end != '\0' || errno == ERANGE)
			return -1;
		*ns = t;
		return 0;
	}
	if (n < 10 || digits(s, 4, &y) || s[4] != '-' || digits(s + 5, 2, &mo) ||
	    s[7] != '-' || digits(s + 8, 2, &d))
		return -1;
	if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo))
		return -1;
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
				int k = 0;

				for (p++; (unsigned)(*p - '0') <= 9; p++, k++) {
					if (k == 9)
						return -1;
					frac = frac * 10 + (*p - '0');
				}
				if (k == 0)
					return -1;
				for (; k < 9; k++)
					frac *= 10;
			}
		}
		if (h > 23 || mi > 59 || sec > 60)
			return -1;
	}
	if (*p == 'Z')
		p++;
	if (*p != '\0')
		return -1;
	t = days_from_civil(y, (unsigned)mo, (unsigned)d) * S_PER_DAY + h * 3600 + mi * 60 + sec;
	if (__builtin_mul_overflow(t, NS_PER_S, &t) || __builtin_add_overflow(t, frac, &t))
		return -1;
	*ns = t;
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
