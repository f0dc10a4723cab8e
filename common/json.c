/* json.c - the strict JSON tokenizer: one pass, no copies, no allocation
 * once the token array has grown to the size of the messages. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "dec.h"
#include "json.h"

void chr_json_init(struct chr_json *j)
{
	memset(j, 0, sizeof *j);
}

void chr_json_free(struct chr_json *j)
{
	free(j->t);
	free(j->stack);
	memset(j, 0, sizeof *j);
}

static int grow(struct chr_json *j, struct chr_err *e)
{
	size_t nc = j->cap ? j->cap * 2 : 256;
	struct chr_json_tok *t;

	if (nc > UINT32_MAX || (t = realloc(j->t, nc * sizeof *t)) == NULL)
		return chr_err_set(e, CHR_EX_SYS, "out of memory");
	j->t = t;
	j->cap = nc;
	return 0;
}

static inline int ws(unsigned char c)
{
	return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

static inline int digit(unsigned char c)
{
	return (unsigned)(c - '0') < 10;
}

static inline int hexval(unsigned char c)
{
	if (digit(c))
		return c - '0';
	c |= 0x20;
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* 4 hex digits at u (n bytes left), or -1 */
static long hex4(const unsigned char *u, size_t n)
{
	long v = 0;
	int h;

	if (n < 4)
		return -1;
	for (int i = 0; i < 4; i++) {
		if ((h = hexval(u[i])) < 0)
			return -1;
		v = v << 4 | h;
	}
	return v;
}

/* Bytes of the UTF-8 character at u (n > 0 bytes left, u[0] >= 0x80), or 0
 * when it is not valid RFC 3629 UTF-8 (overlong, a surrogate, past
 * U+10FFFF, cut short). */
static size_t utf8_len(const unsigned char *u, size_t n)
{
	unsigned char c = u[0];

	if (c < 0xC2)
		return 0;
	if (c < 0xE0)
		return n >= 2 && (u[1] & 0xC0) == 0x80 ? 2 : 0;
	if (c < 0xF0) {
		if (n < 3 || (u[1] & 0xC0) != 0x80 || (u[2] & 0xC0) != 0x80)
			return 0;
		if ((c == 0xE0 && u[1] < 0xA0) || (c == 0xED && u[1] >= 0xA0))
			return 0;
		return 3;
	}
	if (c < 0xF5) {
		if (n < 4 || (u[1] & 0xC0) != 0x80 || (u[2] & 0xC0) != 0x80 ||
		    (u[3] & 0xC0) != 0x80)
			return 0;
		if ((c == 0xF0 && u[1] < 0x90) || (c == 0xF4 && u[1] >= 0x90))
			return 0;
		return 4;
	}
	return 0;
}

static int bad(struct chr_err *e, size_t at, const char *what)
{
	return chr_err_set(e, CHR_EX_DATA, "byte %zu: %s", at, what);
}

/* The string whose opening quote is at *pp; on return *pp is past its
 * closing quote. Sets *esc when it holds an escape. Returns 0 or -1. */
static int string(const unsigned char *u, size_t len, size_t *pp, int *esc, struct chr_err *e)
{
	size_t p = *pp + 1, k;
	long cp, lo;

	*esc = 0;
	for (;;) {
#ifdef __SSE2__
		/* the quote, a backslash, a control byte or a non-ASCII one
		 * (both below 0x20 as signed bytes) */
		while (p + 16 <= len) {
			__m128i v = _mm_loadu_si128((const __m128i *)(u + p));
			__m128i m = _mm_or_si128(_mm_or_si128(
				_mm_cmpeq_epi8(v, _mm_set1_epi8('"')),
				_mm_cmpeq_epi8(v, _mm_set1_epi8('\\'))),
				_mm_cmplt_epi8(v, _mm_set1_epi8(0x20)));
			int bits = _mm_movemask_epi8(m);

			if (bits) {
				p += (size_t)__builtin_ctz((unsigned)bits);
				goto found;
			}
			p += 16;
		}
#endif
		while (p < len && u[p] >= 0x20 && u[p] < 0x80 && u[p] != '"' && u[p] != '\\')
			p++;
#ifdef __SSE2__
found:
#endif
		if (p >= len)
			return bad(e, *pp, "unterminated string");
		if (u[p] == '"')
			break;
		if (u[p] == '\\') {
			*esc = 1;
			if (++p >= len)
				return bad(e, *pp, "unterminated string");
			switch (u[p]) {
			case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
				p++;
				continue;
			case 'u':
				if ((cp = hex4(u + p + 1, len - p - 1)) < 0)
					return bad(e, p - 1, "invalid \\u escape");
				if (cp >= 0xDC00 && cp <= 0xDFFF)
					return bad(e, p - 1, "lone low surrogate escape");
				if (cp >= 0xD800 && cp <= 0xDBFF) {
					if (p + 6 >= len || u[p + 5] != '\\' || u[p + 6] != 'u' ||
					    (lo = hex4(u + p + 7, len - p - 7)) < 0xDC00 || lo > 0xDFFF)
						return bad(e, p - 1, "lone high surrogate escape");
					p += 6;
				}
				p += 5;
				continue;
			default:
				return bad(e, p - 1, "invalid escape");
			}
		}
		if (u[p] < 0x20)
			return bad(e, p, "control character in a string");
		if ((k = utf8_len(u + p, len - p)) == 0)
			return bad(e, p, "invalid UTF-8");
		p += k;
	}
	*pp = p + 1;
	return 0;
}

/* The number at *pp (a '-' or a digit there); *pp past it. */
static int number(const unsigned char *u, size_t len, size_t *pp, struct chr_err *e)
{
	size_t p = *pp;

	if (u[p] == '-')
		p++;
	if (p < len && u[p] == '0') {
		p++;
	} else if (p < len && digit(u[p])) {
		while (p < len && digit(u[p]))
			p++;
	} else {
		return bad(e, *pp, "invalid number");
	}
	if (p < len && u[p] == '.') {
		if (++p >= len || !digit(u[p]))
			return bad(e, *pp, "invalid number");
		while (p < len && digit(u[p]))
			p++;
	}
	if (p < len && (u[p] | 0x20) == 'e') {
		p++;
		if (p < len && (u[p] == '+' || u[p] == '-'))
			p++;
		if (p >= len || !digit(u[p]))
			return bad(e, *pp, "invalid number");
		while (p < len && digit(u[p]))
			p++;
	}
	*pp = p;
	return 0;
}

int chr_json_parse(struct chr_json *j, const char *s, size_t len, struct chr_err *e)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t p = 0, depth = 0, start;
	struct chr_json_tok *t;
	uint32_t top = 0;
	int esc;

	j->n = 0;
	if (len > UINT32_MAX)
		return chr_err_set(e, CHR_EX_DATA, "text of %zu bytes: too long", len);
	if (j->stack == NULL &&
	    (j->stack = malloc(CHR_JSON_MAX_DEPTH * sizeof *j->stack)) == NULL)
		return chr_err_set(e, CHR_EX_SYS, "out of memory");
	while (p < len && ws(u[p]))
		p++;
	if (p >= len)
		return bad(e, p, "no JSON value");
	for (;;) {
		/* a value at p: white space skipped, p < len */
		if (j->n == j->cap && grow(j, e) < 0)
			return -1;
		t = &j->t[j->n];
		t->esc = 0;
		t->reserved = 0;
		t->n = 0;
		t->off = (uint32_t)p;
		/* a value, a scalar too, inside CHR_JSON_MAX_DEPTH containers
		 * is one too deep (as jansson counts) */
		if (depth == CHR_JSON_MAX_DEPTH)
			return bad(e, p, "nested too deep");
		switch (u[p]) {
		case '{':
		case '[':
			t->type = u[p] == '{' ? CHR_JSON_OBJECT : CHR_JSON_ARRAY;
			j->stack[depth++] = top = (uint32_t)j->n++;
			p++;
			while (p < len && ws(u[p]))
				p++;
			if (p < len && u[p] == (t->type == CHR_JSON_OBJECT ? '}' : ']'))
				goto close;
			if (t->type == CHR_JSON_OBJECT)
				goto key;
			goto element;
		case '"':
			start = p;
			if (string(u, len, &p, &esc, e) < 0)
				return -1;
			t->type = CHR_JSON_STRING;
			t->esc = (uint8_t)esc;
			t->off = (uint32_t)start + 1;
			t->len = (uint32_t)(p - start - 2);
			break;
		case 't':
			if (len - p < 4 || memcmp(u + p, "true", 4) != 0)
				return bad(e, p, "invalid literal");
			t->type = CHR_JSON_TRUE;
			t->len = 4;
			p += 4;
			break;
		case 'f':
			if (len - p < 5 || memcmp(u + p, "false", 5) != 0)
				return bad(e, p, "invalid literal");
			t->type = CHR_JSON_FALSE;
			t->len = 5;
			p += 5;
			break;
		case 'n':
			if (len - p < 4 || memcmp(u + p, "null", 4) != 0)
				return bad(e, p, "invalid literal");
			t->type = CHR_JSON_NULL;
			t->len = 4;
			p += 4;
			break;
		default:
			if (u[p] != '-' && !digit(u[p]))
				return bad(e, p, "not a JSON value");
			start = p;
			if (number(u, len, &p, e) < 0)
				return -1;
			t->type = CHR_JSON_NUMBER;
			t->len = (uint32_t)(p - start);
		}
		t->next = (uint32_t)++j->n;
after:
		while (p < len && ws(u[p]))
			p++;
		if (depth == 0) {
			if (p != len)
				return bad(e, p, "text after the JSON value");
			return 0;
		}
		if (p >= len)
			return bad(e, p, "unexpected end of text");
		if (u[p] == ',') {
			p++;
			while (p < len && ws(u[p]))
				p++;
			if (j->t[top].type == CHR_JSON_OBJECT)
				goto key;
			goto element;
		}
		if (u[p] != (j->t[top].type == CHR_JSON_OBJECT ? '}' : ']'))
			return bad(e, p, j->t[top].type == CHR_JSON_OBJECT ?
				   "expected ',' or '}'" : "expected ',' or ']'");
close:
		j->t[top].len = (uint32_t)(p + 1 - j->t[top].off);
		j->t[top].next = (uint32_t)j->n;
		p++;
		if (--depth > 0)
			top = j->stack[depth - 1];
		goto after;
key:
		if (p >= len)
			return bad(e, p, "unexpected end of text");
		if (u[p] != '"')
			return bad(e, p, "expected a string key");
		if (j->n == j->cap && grow(j, e) < 0)
			return -1;
		t = &j->t[j->n];
		start = p;
		if (string(u, len, &p, &esc, e) < 0)
			return -1;
		*t = (struct chr_json_tok){ .type = CHR_JSON_STRING, .esc = (uint8_t)esc,
			.off = (uint32_t)start + 1, .len = (uint32_t)(p - start - 2),
			.next = (uint32_t)j->n + 1 };
		j->n++;
		j->t[top].n++;
		while (p < len && ws(u[p]))
			p++;
		if (p >= len || u[p] != ':')
			return bad(e, p, p >= len ? "unexpected end of text" : "expected ':'");
		p++;
		while (p < len && ws(u[p]))
			p++;
		if (p >= len)
			return bad(e, p, "unexpected end of text");
		continue;
element:
		if (p >= len)
			return bad(e, p, "unexpected end of text");
		j->t[top].n++;
	}
}

long chr_json_get(const struct chr_json *j, const char *s, size_t obj, const char *key,
		  size_t klen)
{
	const struct chr_json_tok *t = j->t;
	char buf[128];
	size_t i, k;
	long n;

	if (obj >= j->n || t[obj].type != CHR_JSON_OBJECT)
		return -1;
	for (i = obj + 1, k = 0; k < t[obj].n; k++, i = t[i + 1].next) {
		if (!t[i].esc) {
			if (t[i].len == klen && memcmp(s + t[i].off, key, klen) == 0)
				return (long)i + 1;
		} else if ((n = chr_jtok_str(&t[i], s, buf, sizeof buf)) >= 0 &&
			   (size_t)n == klen && memcmp(buf, key, klen) == 0) {
			return (long)i + 1;
		}
	}
	return -1;
}

/* code point cp as UTF-8 at o; returns its bytes */
static size_t put_utf8(unsigned char *o, long cp)
{
	if (cp < 0x80) {
		o[0] = (unsigned char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (unsigned char)(0xC0 | cp >> 6);
		o[1] = (unsigned char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (unsigned char)(0xE0 | cp >> 12);
		o[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3F));
		o[2] = (unsigned char)(0x80 | (cp & 0x3F));
		return 3;
	}
	o[0] = (unsigned char)(0xF0 | cp >> 18);
	o[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3F));
	o[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3F));
	o[3] = (unsigned char)(0x80 | (cp & 0x3F));
	return 4;
}

long chr_jtok_str(const struct chr_json_tok *t, const char *s, char *out, size_t cap)
{
	const unsigned char *u = (const unsigned char *)s + t->off, *end = u + t->len;
	unsigned char tmp[4];
	size_t n = 0, k;
	long cp;

	if (t->type != CHR_JSON_STRING)
		return -1;
	if (!t->esc) {
		if (t->len > cap)
			return -1;
		memcpy(out, u, t->len);
		return t->len;
	}
	while (u < end) {
		if (*u != '\\') {
			if (n == cap)
				return -1;
			out[n++] = (char)*u++;
			continue;
		}
		/* the tokenizer checked every escape */
		switch (u[1]) {
		case 'b': cp = '\b'; break;
		case 'f': cp = '\f'; break;
		case 'n': cp = '\n'; break;
		case 'r': cp = '\r'; break;
		case 't': cp = '\t'; break;
		case 'u':
			cp = hex4(u + 2, 4);
			if (cp >= 0xD800 && cp <= 0xDBFF) {
				cp = 0x10000 + ((cp - 0xD800) << 10) + (hex4(u + 8, 4) - 0xDC00);
				u += 6;
			}
			u += 4;
			break;
		default: cp = u[1];
		}
		u += 2;
		k = put_utf8(tmp, cp);
		if (cap - n < k)
			return -1;
		memcpy(out + n, tmp, k);
		n += k;
	}
	return (long)n;
}

int chr_jtok_dec(const struct chr_json_tok *t, const char *s, int64_t *mant, int *scale)
{
	if (t->type != CHR_JSON_NUMBER && (t->type != CHR_JSON_STRING || t->esc))
		return -1;
	return chr_dec_parse(s + t->off, t->len, mant, scale) == 0 ? 0 : -1;
}

int chr_jtok_u64(const struct chr_json_tok *t, const char *s, uint64_t *v)
{
	const unsigned char *u = (const unsigned char *)s + t->off;
	uint64_t x = 0;

	if ((t->type != CHR_JSON_NUMBER && t->type != CHR_JSON_STRING) || t->len == 0 ||
	    t->len > 20)
		return -1;
	for (uint32_t i = 0; i < t->len; i++) {
		if (!digit(u[i]) || x > (UINT64_MAX - (u[i] - '0')) / 10)
			return -1;
		x = x * 10 + (u[i] - '0');
	}
	*v = x;
	return 0;
}
