/* t-jsondiff.c - common/json.c against jansson: every text both accept or
 * both refuse, and when accepted, the same tree (types, strings unescaped,
 * numbers' text against jansson's value, members and elements).
 * With no operand: hand-made hostile texts. With FILE operands: every line
 * (-c: capture lines, the JSON after "<ns> "). Prints a summary; exit 1 on
 * any difference. Known difference: jansson refuses numbers past its
 * integer or double range, which RFC 8259 allows (counted, not a failure). */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

static struct chr_json j;
static unsigned long texts, accepted, refused, ranged, diffs;

/* token i of s equals v? why set when not */
static int same(const char *s, size_t i, json_t *v, const char **why)
{
	const struct chr_json_tok *t = &j.t[i];
	static char a[1 << 16];
	long n;

	switch (t->type) {
	case CHR_JSON_NULL:
		return json_is_null(v) || (*why = "null", 0);
	case CHR_JSON_TRUE:
		return json_is_true(v) || (*why = "true", 0);
	case CHR_JSON_FALSE:
		return json_is_false(v) || (*why = "false", 0);
	case CHR_JSON_STRING:
		if (!json_is_string(v))
			return *why = "string type", 0;
		n = chr_jtok_str(t, s, a, sizeof a);
		if (n < 0 || (size_t)n != json_string_length(v) ||
		    memcmp(a, json_string_value(v), (size_t)n) != 0)
			return *why = "string value", 0;
		return 1;
	case CHR_JSON_NUMBER: {
		char txt[512];
		int real = memchr(s + t->off, '.', t->len) || memchr(s + t->off, 'e', t->len) ||
			   memchr(s + t->off, 'E', t->len);

		if (t->len >= sizeof txt)
			return *why = "number too long to compare", 0;
		memcpy(txt, s + t->off, t->len);
		txt[t->len] = '\0';
		if (real) {
			if (!json_is_real(v) || strtod(txt, NULL) != json_real_value(v))
				return *why = "real value", 0;
		} else {
			errno = 0;
			if (!json_is_integer(v) || strtoll(txt, NULL, 10) != json_integer_value(v) || errno)
				return *why = "integer value", 0;
		}
		return 1;
	}
	case CHR_JSON_ARRAY: {
		size_t k = i + 1;

		if (!json_is_array(v) || json_array_size(v) != t->n)
			return *why = "array size", 0;
		for (uint32_t c = 0; c < t->n; c++, k = j.t[k].next)
			if (!same(s, k, json_array_get(v, c), why))
				return 0;
		return 1;
	}
	case CHR_JSON_OBJECT: {
		size_t k = i + 1, distinct = 0;
		static char b[1 << 16];

		if (!json_is_object(v))
			return *why = "object type", 0;
		for (uint32_t c = 0; c < t->n; c++, k = j.t[k + 1].next) {
			size_t m = j.t[k + 1].next;
			long kn = chr_jtok_str(&j.t[k], s, a, sizeof a), bn;
			int later = 0;
			json_t *x;

			if (kn < 0)
				return *why = "key too long", 0;
			/* a repeated key: jansson keeps the last */
			for (uint32_t d = c + 1; d < t->n && !later; d++, m = j.t[m + 1].next) {
				bn = chr_jtok_str(&j.t[m], s, b, sizeof b);
				later = bn == kn && memcmp(a, b, (size_t)kn) == 0;
			}
			if (later)
				continue;
			distinct++;
			if ((x = json_object_getn(v, a, (size_t)kn)) == NULL)
				return *why = "member missing", 0;
			if (!same(s, k + 1, x, why))
				return 0;
		}
		if (distinct != json_object_size(v))
			return *why = "member count", 0;
		return 1;
	}
	}
	return *why = "token type", 0;
}

/* compare one text; where names it in a message */
static void one(const char *s, size_t n, const char *where)
{
	struct chr_err e;
	json_error_t je;
	json_t *v;
	int ours;
	const char *why = NULL;

	texts++;
	ours = chr_json_parse(&j, s, n, &e) == 0;
	v = json_loadb(s, n, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
	if (ours && v) {
		accepted++;
		if (!same(s, 0, v, &why)) {
			diffs++;
			fprintf(stderr, "%s: trees differ: %s\n", where, why);
		}
	} else if (!ours && !v) {
		refused++;
	} else if (ours && (strstr(je.text, "too big") || strstr(je.text, "overflow"))) {
		ranged++;
	} else {
		diffs++;
		fprintf(stderr, "%s: json.c %s, jansson %s\n", where,
			ours ? "accepts" : e.msg, v ? "accepts" : je.text);
	}
	json_decref(v);
}

static void file(const char *path, int capture)
{
	FILE *f = fopen(path, "r");
	char *line = NULL, where[512];
	size_t cap = 0, ln = 0;
	ssize_t n;

	if (f == NULL) {
		perror(path);
		exit(3);
	}
	while ((n = getline(&line, &cap, f)) > 0) {
		char *p = line;

		ln++;
		if (line[n - 1] == '\n')
			n--;
		if (capture) {
			char *sp = memchr(line, ' ', (size_t)n);

			if (sp == NULL)
				continue;
			n -= sp + 1 - line;
			p = sp + 1;
		}
		snprintf(where, sizeof where, "%s:%zu", path, ln);
		one(p, (size_t)n, where);
	}
	free(line);
	fclose(f);
}

#define T(lit) {lit, sizeof(lit) - 1}
static const struct {
	const char *s;
	size_t n;
} hostile[] = {
	T(""), T(" "), T("{}"), T("[]"), T("0"), T("-0"), T("\"\""), T("null"), T("true "),
	T("{\"a\":1,\"a\":2}"), T("{\"a\":[1,{\"b\":null}],\"c\":\"x\"}"),
	T("\"\\u0000\""), T("\"a\\u0000b\""), T("\"\\ud83d\\ude00\""), T("\"\\uD834\\uDD1E\""),
	T("\"\\ud800\""), T("\"\\udc00\""), T("\"\\ud800\\u0041\""), T("\"\\ud800x\""),
	T("\"\\x\""), T("\"\\u12\""), T("\"\\u12g4\""), T("\"\\'\""), T("\"\\/\\b\\f\\n\\r\\t\""),
	T("\"\xc3\xa9\""), T("\"\xc0\xaf\""), T("\"\xe0\x80\xaf\""), T("\"\xed\xa0\x80\""),
	T("\"\xf4\x8f\xbf\xbf\""), T("\"\xf4\x90\x80\x80\""), T("\"\xff\""), T("\"\x80\""),
	T("\"\xe2\x82\""), T("\"\xe2\x82\xac\""), T("\"a\tb\""), T("\"a\nb\""), T("\"\x7f\""),
	T("\0"), T("[1]\0"), T("\"a\0b\""), T("{\"a\0\":1}"), T("[1,]"), T("[,1]"), T("{,}"),
	T("{\"a\":1,}"), T("{\"a\" 1}"), T("{\"a\":}"), T("{1:1}"), T("{'a':1}"), T("[1 2]"),
	T("[1"), T("{\"a\":1"), T("\"abc"), T("[\"a"), T("{} x"), T("{}{}"), T("[] ,"),
	T("01"), T("-01"), T("1."), T(".5"), T("1e"), T("1e+"), T("+1"), T("-"), T("--1"),
	T("1.5e10"), T("1E-7"), T("-0.0e+0"), T("0x10"), T("NaN"), T("Infinity"), T("-Infinity"),
	T("tru"), T("nul"), T("falsey"), T("True"), T("[true,false,null]"),
	T("9223372036854775807"), T("-9223372036854775808"), T("9223372036854775808"),
	T("99999999999999999999999999999"), T("1e400"), T("-1e400"), T("1e-400"),
	T("123456789012345678901234567890.5"), T("[1e309]"),
	T("\xef\xbb\xbf{}"), T("{}\n"), T("\n{}\t"), T("\r\n[\r\n]\r\n"), T("\f{}"), T("\v[]"),
	T("{\"stream\":\"btcusdt@depth\",\"data\":{\"e\":\"depthUpdate\",\"b\":[[\"1.0\",\"2\"]]}}"),
	T("{\"e\":\"depthUpdate\",\"b\":[[\"1.0\",\"2\"],]}"),
};

int main(int argc, char **argv)
{
	int capture = 0, i = 1;
	char where[64];

	chr_json_init(&j);
	if (argc > 1 && strcmp(argv[1], "-c") == 0) {
		capture = 1;
		i = 2;
	}
	if (i >= argc) {
		static char deep[2 * 2050];

		for (size_t k = 0; k < sizeof hostile / sizeof hostile[0]; k++) {
			snprintf(where, sizeof where, "hostile[%zu]", k);
			one(hostile[k].s, hostile[k].n, where);
		}
		/* nesting at and past the limit */
		for (size_t d = 2047; d <= 2050; d++) {
			memset(deep, '[', d);
			memset(deep + d, ']', d);
			snprintf(where, sizeof where, "nesting %zu", d);
			one(deep, 2 * d, where);
			memset(deep, '{', 1);
		}
		/* every prefix of a message: truncated texts */
		{
			const char *m = "{\"e\":\"trade\",\"p\":\"1.5\",\"q\":[1,-2.5e3,true,null],\"s\":\"\\u00e9\"}";

			for (size_t k = 0; k <= strlen(m); k++) {
				snprintf(where, sizeof where, "prefix %zu", k);
				one(m, k, where);
			}
		}
	}
	for (; i < argc; i++)
		file(argv[i], capture);
	printf("t-jsondiff: %lu texts: %lu accepted by both, %lu refused by both, %lu numbers "
	       "past jansson's range, %lu differences\n", texts, accepted, refused, ranged, diffs);
	chr_json_free(&j);
	return diffs ? 1 : 0;
}
