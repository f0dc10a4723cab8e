/* json.h - a strict JSON (RFC 8259) tokenizer that copies nothing: a flat
 * array of tokens over the caller's bytes, for the feed handler's messages. */
#ifndef CHR_JSON_H
#define CHR_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

enum chr_json_type {
	CHR_JSON_NULL = 1, CHR_JSON_FALSE, CHR_JSON_TRUE, CHR_JSON_NUMBER,
	CHR_JSON_STRING, CHR_JSON_ARRAY, CHR_JSON_OBJECT,
};

/* One value. A string's bytes are those between its quotes, as written
 * (escapes not decoded: chr_jtok_str does); a number's are its text; an
 * array's or object's run from its bracket to the closing one. An object's
 * members follow it as key (a string), value, key, value ... */
struct chr_json_tok {
	uint8_t type;		/* enum chr_json_type */
	uint8_t esc;		/* a string: it holds a backslash escape */
	uint16_t reserved;
	uint32_t off, len;	/* the value's bytes in the text */
	uint32_t n;		/* elements of an array, members of an object */
	uint32_t next;		/* index of the token after this value's subtree */
};

/* Levels of nesting, a scalar counting as one (as jansson counts): a value
 * inside this many arrays or objects is refused. */
#define CHR_JSON_MAX_DEPTH 2048

/* A parser: its tokens, reused from one text to the next. Zero it (or
 * chr_json_init) before the first parse. */
struct chr_json {
	struct chr_json_tok *t;
	size_t n, cap;		/* tokens of the last text; room */
	uint32_t *stack;	/* open containers while parsing */
};

void chr_json_init(struct chr_json *j);
void chr_json_free(struct chr_json *j);

/* Tokenize s[0..len): exactly one JSON value with optional white space
 * around it (RFC 8259; strings valid UTF-8, no raw control characters, no
 * lone surrogate escapes; at most CHR_JSON_MAX_DEPTH levels of nesting,
 * a scalar counting as one). Token 0 is
 * the value; j->n tokens in all. s must stay unchanged while the tokens are
 * used. Returns 0, or -1 with e (CHR_EX_DATA, "byte N: what", N counted
 * from 0; CHR_EX_SYS when out of memory). */
int chr_json_parse(struct chr_json *j, const char *s, size_t len, struct chr_err *e);

/* The value of member key (klen bytes, no escapes: compared with the raw
 * key) of the object at token obj, or -1 when obj is not an object or has
 * no such member (the first, when a key repeats). */
long chr_json_get(const struct chr_json *j, const char *s, size_t obj, const char *key,
		  size_t klen);

/* chr_json_get with a C string key */
#define chr_json_key(j, s, obj, key) chr_json_get(j, s, obj, key, sizeof(key) - 1)

/* The string of token t decoded (escapes to UTF-8) into out (cap bytes,
 * not NUL-terminated). Returns its length, or -1 when t is not a string
 * or it does not fit. A string without escapes needs no copy: its bytes
 * are s + t->off, t->len. */
long chr_jtok_str(const struct chr_json_tok *t, const char *s, char *out, size_t cap);

/* The exact decimal of a number token, or of a string token that holds one
 * (Binance's "61800.20"): chr_dec_parse of its text, so no exponent and at
 * most 18 fraction digits. Returns 0, or -1 when it is neither. */
int chr_jtok_dec(const struct chr_json_tok *t, const char *s, int64_t *mant, int *scale);

/* The unsigned integer of a number token (digits only) or of a string token
 * of digits. Returns 0, or -1 when it is not one or overflows 64 bits. */
int chr_jtok_u64(const struct chr_json_tok *t, const char *s, uint64_t *v);

#endif
