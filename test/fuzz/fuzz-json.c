/* fuzz-json.c - libFuzzer harness of the JSON tokenizer and the feed
 * normaliser: byte 0 bit 0 clear, the rest is one JSON text, tokenized and
 * every token checked and read back; set, the rest is capture lines fed to
 * chr_feed_msg as chr-feed does (bits 1-2: the venue), records to a scratch
 * buffer and checked. */
#include <stdlib.h>

#include "dec.h"
#include "feed.h"
#include "fuzz.h"
#include "json.h"

static struct chr_json j;
static _Alignas(64) unsigned char room[(16u << 20) + 64];

/* the tokens' invariants: inside the text, subtrees nested, counts right */
static void check_tokens(const char *s, size_t n)
{
	char buf[256];
	int64_t m;
	int sc;
	uint64_t v;

	for (size_t i = 0; i < j.n; i++) {
		const struct chr_json_tok *t = &j.t[i];

		if ((size_t)t->off + t->len > n || t->next <= i || t->next > j.n)
			abort();
		if (t->type == CHR_JSON_ARRAY || t->type == CHR_JSON_OBJECT) {
			size_t k = i + 1, c = 0;

			while (k < t->next) {
				k = j.t[k].next;
				c++;
			}
			if (k != t->next || c != (size_t)t->n * (t->type == CHR_JSON_OBJECT ? 2 : 1))
				abort();
			if (t->type == CHR_JSON_OBJECT) {
				(void)chr_json_get(&j, s, i, "e", 1);
				(void)chr_json_get(&j, s, i, "lastUpdateId", 12);
			}
		} else if (t->next != i + 1) {
			abort();
		}
		if (t->type == CHR_JSON_STRING)
			(void)chr_jtok_str(t, s, buf, sizeof buf);
		(void)chr_jtok_dec(t, s, &m, &sc);
		(void)chr_jtok_u64(t, s, &v);
	}
}

static struct chr_rec *reserve(void *arg, uint32_t len, struct chr_err *e)
{
	(void)arg;
	(void)e;
	if (len > CHR_REC_MAX)
		abort();
	memset(room, 0, chr_rec_span(len));
	((struct chr_rec *)room)->len = len;
	return (struct chr_rec *)room;
}

static int commit(void *arg, struct chr_rec *rec, struct chr_err *e)
{
	(void)arg;
	(void)e;
	chr_rec_seal(rec);
	if (chr_rec_check(rec) != NULL)
		abort();
	return 0;
}

static void feed(const char *s, size_t n, unsigned venue)
{
	static const char *const venues[] = {"binance-futures", "binance-delivery", "binance", "binance"};
	struct chr_feed_opts o = { .sink = { reserve, commit, NULL }, .buffer_max = 1u << 20,
				   .skip_bad = 1 };
	struct chr_feed *f;
	struct chr_err e;
	const char *p = s, *end = s + n, *nl;

	if ((f = chr_feed_new(venues[venue & 3], &o, &e)) == NULL)
		return;
	for (int64_t ns = 1; p < end; p = nl + 1, ns++) {
		const char *sp;

		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		if ((sp = memchr(p, ' ', (size_t)(nl - p))) == NULL)
			continue;
		if (chr_feed_msg(f, ns, sp + 1, (size_t)(nl - sp - 1), &e) < 0)
			break;
		if ((ns & 63) == 0)
			(void)chr_feed_disconnect(f, ns, &e);
	}
	chr_feed_free(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	struct chr_err e;
	char *s;

	if (n < 1)
		return 0;
	/* a copy of exactly the text: reads past it are caught */
	if ((s = malloc(n - 1 ? n - 1 : 1)) == NULL)
		return 0;
	memcpy(s, d + 1, n - 1);
	if (d[0] & 1) {
		feed(s, n - 1, d[0] >> 1);
	} else if (chr_json_parse(&j, s, n - 1, &e) == 0) {
		check_tokens(s, n - 1);
	}
	free(s);
	return 0;
}
