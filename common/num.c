/* num.c - number and size parsers. */
#include <errno.h>
#include <stdlib.h>

#include "num.h"

/* digits up to *end; -1 unless at least one digit and no overflow */
static int digits(const char *s, char **end, uint64_t *v)
{
	unsigned long long x;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	x = strtoull(s, end, 10);
	if (errno)
		return -1;
	*v = x;
	return 0;
}

int chr_parse_u64(const char *s, uint64_t *v)
{
	char *end;

	return digits(s, &end, v) < 0 || *end != '\0' ? -1 : 0;
}

int chr_parse_range(const char *s, uint64_t min, uint64_t max, uint64_t *v)
{
	uint64_t x;

	if (chr_parse_u64(s, &x) < 0 || x < min || x > max)
		return -1;
	*v = x;
	return 0;
}

int chr_parse_shard(const char *s, uint32_t *i, uint32_t *n)
{
	char *end;
	uint64_t a, b;

	if (digits(s, &end, &a) < 0 || *end != '/' || digits(end + 1, &end, &b) < 0 ||
	    *end != '\0' || b == 0 || b > UINT32_MAX || a >= b)
		return -1;
	*i = (uint32_t)a;
	*n = (uint32_t)b;
	return 0;
}

int chr_parse_size(const char *s, uint64_t *v)
{
	char *end;
	uint64_t x;
	unsigned shift = 0;

	if (digits(s, &end, &x) < 0)
		return -1;
	switch (*end) {
	case 'k': case 'K': shift = 10; end++; break;
	case 'm': case 'M': shift = 20; end++; break;
	case 'g': case 'G': shift = 30; end++; break;
	}
	if (*end != '\0' || x > (UINT64_MAX >> shift))
		return -1;
	*v = x << shift;
	return 0;
}
