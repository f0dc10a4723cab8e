/* dec.c - exact decimal parse, rescale and format. */
#include <string.h>

#include "dec.h"

const int64_t chr_pow10[19] = {
	1LL, 10LL, 100LL, 1000LL, 10000LL, 100000LL, 1000000LL, 10000000LL,
	100000000LL, 1000000000LL, 10000000000LL, 100000000000LL,
	1000000000000LL, 10000000000000LL, 100000000000000LL,
	1000000000000000LL, 10000000000000000LL, 100000000000000000LL,
	1000000000000000000LL,
};

int chr_dec_parse(const char *s, size_t n, int64_t *mant, int *scale)
{
	const char *p = s, *e = s + n;
	uint64_t v = 0, lim;
	int neg = 0, sc = 0, digits = 0, big = 0;

	if (p < e && *p == '-') {
		neg = 1;
		p++;
	}
	for (; p < e && (unsigned)(*p - '0') < 10; p++, digits++) {
		if (v > (UINT64_MAX - 9) / 10)
			return -2;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	if (digits == 0)
		return -1;
	if (p < e && *p == '.') {
		p++;
		if (p == e)
			return -1;
		/* count every fraction digit: too many places is told apart
		 * from a mantissa that overflows first */
		for (; p < e && (unsigned)(*p - '0') < 10; p++) {
			if (++sc > CHR_DEC_MAX_SCALE || v > (UINT64_MAX - 9) / 10)
				big = 1;
			else
				v = v * 10 + (uint64_t)(*p - '0');
		}
		if (sc == 0)
			return -1;
	}
	if (p != e)
		return -1;
	if (sc > CHR_DEC_MAX_SCALE)
		return -3;
	if (big)
		return -2;
	lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	if (v > lim)
		return -2;
	/* the CHR_NULL mantissa (INT64_MIN) is reserved for "absent" */
	if (neg && v == lim)
		return -2;
	*mant = neg ? -(int64_t)v : (int64_t)v;
	*scale = sc;
	return 0;
}

int chr_dec_rescale(int64_t *mant, int from, int to)
{
	int64_t m = *mant, k;

	if (to == from)
		return 0;
	if (to < from || to - from > CHR_DEC_MAX_SCALE)
		return -1;
	k = chr_pow10[to - from];
	if (__builtin_mul_overflow(m, k, &m) || m == INT64_MIN)
		return -1;
	*mant = m;
	return 0;
}

size_t chr_dec_format(char *buf, int64_t mant, int scale)
{
	char tmp[CHR_DEC_BUF];
	uint64_t v = mant < 0 ? -(uint64_t)mant : (uint64_t)mant;
	size_t n = 0, len = 0;
	int i;

	if (scale < 0 || scale > CHR_DEC_MAX_SCALE) {
		/* records with such scales fail chr_rec_check; never print a wrong value */
		memcpy(buf, "?", 2);
		return 1;
	}
	/* digits, least significant first, at least scale+1 of them */
	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v > 0 || n <= (size_t)scale);
	/* drop trailing fraction zeros */
	i = 0;
	while (i < scale && tmp[i] == '0')
		i++;
	if (mant < 0)
		buf[len++] = '-';
	for (size_t j = n; j > (size_t)scale; j--)
		buf[len++] = tmp[j - 1];
	if (i < scale) {
		buf[len++] = '.';
		for (int j = scale; j > i; j--)
			buf[len++] = tmp[j - 1];
	}
	buf[len] = '\0';
	return len;
}

int chr_dec_cmp(int64_t a, int as, int64_t b, int bs)
{
	/* compare a*10^(bs) vs b*10^(as) in 128 bits to avoid overflow */
	__int128 x = a, y = b;

	if (as < 0 || bs < 0 || as > CHR_DEC_MAX_SCALE || bs > CHR_DEC_MAX_SCALE)
		return (as > bs) - (as < bs);	/* not decimals of ours: any fixed order */
	/* |as - bs| <= 18 and |a|, |b| < 2^63, so the product fits in 127 bits */
	if (as < bs)
		x *= chr_pow10[bs - as];
	else if (bs < as)
		y *= chr_pow10[as - bs];
	return (x > y) - (x < y);
}
