/* t-json.c - the JSON tokenizer: tokens, offsets and subtree ends, member
 * lookup, unescaping, exact decimals, and what strict RFC 8259 refuses. */
#include <stdint.h>
#include <string.h>

#include "json.h"
#include "unit.h"

static struct chr_json j;
static struct chr_err e;

static int parse(const char *s)
{
	return chr_json_parse(&j, s, strlen(s), &e);
}

/* s is refused with a message that starts with want */
static void refused(const char *s, size_t n, const char *want)
{
	int rc = chr_json_parse(&j, s, n, &e);

	CHECK(rc == -1);
	if (rc == -1) {
		CHECK(e.status == 1);
		if (strncmp(e.msg, want, strlen(want)) != 0)
			CHECK_STR(e.msg, want);
	}
}

int main(void)
{
	const char *s;
	char buf[64];
	int64_t m;
	int sc;
	uint64_t v;
	long i;

	chr_json_init(&j);
	s = " {\"e\":\"depthUpdate\",\"E\":17,\"b\":[[\"1.50\",\"2\"],[]],\"x\":{\"y\":null},"
	    "\"t\":true,\"f\":false,\"n\":-0.5e3} ";
	CHECK(parse(s) == 0);
	CHECK(j.n == 21);
	CHECK(j.t[0].type == CHR_JSON_OBJECT && j.t[0].n == 7 && j.t[0].next == 21);
	CHECK(j.t[0].off == 1 && j.t[0].len == strlen(s) - 2);
	i = chr_json_key(&j, s, 0, "e");
	CHECK(i == 2 && j.t[i].type == CHR_JSON_STRING && j.t[i].len == 11 &&
	      memcmp(s + j.t[i].off, "depthUpdate", 11) == 0);
	i = chr_json_key(&j, s, 0, "E");
	CHECK(i == 4 && chr_jtok_u64(&j.t[i], s, &v) == 0 && v == 17);
	i = chr_json_key(&j, s, 0, "b");
	CHECK(i == 6 && j.t[i].type == CHR_JSON_ARRAY && j.t[i].n == 2 && j.t[i].next == 11);
	CHECK(j.t[7].type == CHR_JSON_ARRAY && j.t[7].n == 2 && j.t[7].next == 10);
	CHECK(chr_jtok_dec(&j.t[8], s, &m, &sc) == 0 && m == 150 && sc == 2);
	CHECK(j.t[10].type == CHR_JSON_ARRAY && j.t[10].n == 0 && j.t[10].len == 2);
	i = chr_json_key(&j, s, 0, "x");
	CHECK(i == 12 && j.t[i].next == 15 && chr_json_key(&j, s, i, "y") == 14);
	CHECK(j.t[chr_json_key(&j, s, 0, "t")].type == CHR_JSON_TRUE);
	CHECK(j.t[chr_json_key(&j, s, 0, "f")].type == CHR_JSON_FALSE);
	i = chr_json_key(&j, s, 0, "n");
	CHECK(j.t[i].type == CHR_JSON_NUMBER && j.t[i].len == 6);
	CHECK(chr_jtok_dec(&j.t[i], s, &m, &sc) == -1);	/* an exponent */
	CHECK(chr_json_key(&j, s, 0, "nope") == -1);
	CHECK(chr_json_key(&j, s, 6, "e") == -1);	/* not an object */

	/* escapes: flagged, decoded, a key found through them */
	s = "{\"\\u0065\":\"a\\\"b\\\\c\\/\\n\\u00e9\\ud83d\\ude00\"}";
	CHECK(parse(s) == 0);
	i = chr_json_key(&j, s, 0, "e");
	CHECK(i == 2 && j.t[i].esc == 1 && j.t[1].esc == 1);
	CHECK(chr_jtok_str(&j.t[i], s, buf, sizeof buf) == 13);
	CHECK(memcmp(buf, "a\"b\\c/\n\xc3\xa9\xf0\x9f\x98\x80", 13) == 0);
	CHECK(chr_jtok_str(&j.t[i], s, buf, 12) == -1);
	CHECK(chr_jtok_dec(&j.t[i], s, &m, &sc) == -1);

	/* scalars at the top; numbers */
	CHECK(parse("0") == 0 && j.n == 1 && j.t[0].type == CHR_JSON_NUMBER);
	CHECK(parse("\"123\"") == 0 && chr_jtok_u64(&j.t[0], "\"123\"", &v) == 0 && v == 123);
	CHECK(parse("18446744073709551616") == 0 &&
	      chr_jtok_u64(&j.t[0], "18446744073709551616", &v) == -1);
	CHECK(parse("-1") == 0 && chr_jtok_u64(&j.t[0], "-1", &v) == -1);
	CHECK(parse("[1e5,1E+5,1.0e-5,-0]") == 0 && j.t[0].n == 4);

	/* refused */
	refused("", 0, "byte 0: no JSON value");
	refused("  ", 2, "byte 2: no JSON value");
	refused("{} x", 4, "byte 3: text after the JSON value");
	refused("{}{}", 4, "byte 2: text after");
	refused("{\"a\" 1}", 7, "byte 5: expected ':'");
	refused("{\"a\":1,}", 8, "byte 7: expected a string key");
	refused("[1,]", 4, "byte 3: not a JSON value");
	refused("[1 2]", 5, "byte 3: expected ',' or ']'");
	refused("{\"a\":1", 6, "byte 6: unexpected end");
	refused("[", 1, "byte 1: unexpected end");
	refused("\"abc", 4, "byte 0: unterminated string");
	refused("\"a\\x\"", 5, "byte 2: invalid escape");
	refused("\"\\u12g4\"", 8, "byte 1: invalid \\u escape");
	refused("\"\\ud800\"", 8, "byte 1: lone high surrogate");
	refused("\"\\ud800\\u0041\"", 14, "byte 1: lone high surrogate");
	refused("\"\\udc00\"", 8, "byte 1: lone low surrogate");
	refused("\"a\tb\"", 5, "byte 2: control character");
	refused("\"a\0b\"", 5, "byte 2: control character");
	refused("\0", 1, "byte 0: not a JSON value");
	refused("[1]\0", 4, "byte 3: text after");
	refused("\"\xc0\xaf\"", 4, "byte 1: invalid UTF-8");	/* overlong */
	refused("\"\xed\xa0\x80\"", 5, "byte 1: invalid UTF-8");	/* a surrogate */
	refused("\"\xf4\x90\x80\x80\"", 6, "byte 1: invalid UTF-8");	/* past U+10FFFF */
	refused("\"\xe2\x82\"", 4, "byte 1: invalid UTF-8");	/* cut short */
	refused("01", 2, "byte 1: text after");
	refused("1.", 2, "byte 0: invalid number");
	refused(".5", 2, "byte 0: not a JSON value");
	refused("1e", 2, "byte 0: invalid number");
	refused("+1", 2, "byte 0: not a JSON value");
	refused("-", 1, "byte 0: invalid number");
	refused("tru", 3, "byte 0: invalid literal");
	refused("nul", 3, "byte 0: invalid literal");
	refused("[NaN]", 5, "byte 1: not a JSON value");
	refused("{'a':1}", 7, "byte 1: expected a string key");

	/* nesting: 2048 levels are taken, 2049 are not, nor a scalar in 2048 */
	{
		static char deep[2 * 2049 + 1];

		memset(deep, '[', 2048);
		memset(deep + 2048, ']', 2048);
		CHECK(chr_json_parse(&j, deep, 4096, &e) == 0 && j.n == 2048);
		memset(deep, '[', 2049);
		memset(deep + 2049, ']', 2049);
		refused(deep, 4098, "byte 2048: nested too deep");
		memset(deep, '[', 2048);
		deep[2048] = '1';
		memset(deep + 2049, ']', 2048);
		refused(deep, 4097, "byte 2048: nested too deep");
	}

	/* a second text reuses the parser */
	CHECK(parse("[true]") == 0 && j.n == 2 && j.t[1].type == CHR_JSON_TRUE);
	chr_json_free(&j);
	return unit_done("t-json");
}
