/* rec.c - record checks, CRC-32C sealing and type names. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <isa-l/crc.h>

#include "rec.h"

uint32_t chr_crc32c(uint32_t crc, const void *buf, size_t n)
{
	const unsigned char *p = buf;

	crc = ~crc;
#ifdef __SSE4_2__
	if (n <= CHR_CRC_SHORT)
		return ~chr_crc32c_short(crc, p, n);
#endif
	/* crc32_iscsi takes an int length */
	while (n > 0) {
		int k = n > (1u << 30) ? 1 << 30 : (int)n;

		crc = crc32_iscsi((unsigned char *)p, k, crc);
		p += k;
		n -= (size_t)k;
	}
	return ~crc;
}

uint32_t chr_rec_crc(const struct chr_rec *r)
{
	uint32_t c = chr_crc32c(0, (const char *)r + 4, 56);

	if (r->len <= CHR_HDR_SIZE)
		return c;
	return chr_crc32c(c, (const char *)r + CHR_HDR_SIZE, r->len - CHR_HDR_SIZE);
}

void chr_rec_seal(struct chr_rec *r)
{
	size_t span = chr_rec_span(r->len < CHR_HDR_SIZE ? CHR_HDR_SIZE : r->len);

	if (r->len < CHR_HDR_SIZE)
		r->len = CHR_HDR_SIZE;
	r->version = CHR_VERSION;
	memset(r->reserved, 0, sizeof r->reserved);
	memset((char *)r + r->len, 0, span - r->len);
	r->crc = chr_rec_crc(r);
}

void chr_gap_before(struct chr_rec *r, const struct chr_rec *before, uint64_t src,
		    uint16_t venue, uint32_t market, uint64_t expected, uint64_t got,
		    uint32_t reason)
{
	struct chr_gap *g = chr_rec_payload(r);

	_Static_assert(CHR_GAP_SPAN == (CHR_HDR_SIZE + sizeof(struct chr_gap) + CHR_ALIGN - 1) /
		       CHR_ALIGN * CHR_ALIGN, "GAP span");
	memset(r, 0, CHR_GAP_SPAN);
	r->len = CHR_HDR_SIZE + sizeof *g;
	r->type = CHR_GAP;
	r->flags = CHR_F_SYNTHETIC;
	r->seq = before->seq;
	r->ts = before->ts;
	r->ts_event = before->ts_event;
	r->src_seq = src;
	r->venue = venue;
	r->market = market;
	g->expected = expected;
	g->got = got;
	g->reason = reason;
	chr_rec_seal(r);
}

const char *chr_rec_check(const struct chr_rec *r)
{
	if (r->len < CHR_HDR_SIZE)
		return "record length below 64";
	if (r->len > CHR_REC_MAX)
		return "record length above 16 MiB";
	if (r->version != CHR_VERSION)
		return "unknown record version";
	if (chr_rec_crc(r) != r->crc)
		return "bad crc";
	for (size_t i = r->len; i < chr_rec_span(r->len); i++)
		if (((const unsigned char *)r)[i] != 0)
			return "nonzero padding";
	return chr_rec_check_payload(r);
}

static int scale_ok(int8_t s)
{
	return s >= 0 && s <= 18;
}

static const char *book_check(const struct chr_rec *r)
{
	const struct chr_book *b = chr_rec_payload(r);
	size_t n = chr_rec_payload_len(r);

	if (n < sizeof *b || (uint64_t)b->n_bid + b->n_ask !=
	    (n - sizeof *b) / sizeof(struct chr_level) ||
	    (n - sizeof *b) % sizeof(struct chr_level) != 0)
		return "book level counts do not match the payload size";
	if (!scale_ok(b->price_scale) || !scale_ok(b->size_scale))
		return "book scale outside 0..18";
	return NULL;
}

const char *chr_rec_check_payload(const struct chr_rec *r)
{
	size_t n;

	if (r->len < CHR_HDR_SIZE)
		return "record length below 64";
	n = chr_rec_payload_len(r);
	switch (r->type) {
	case CHR_DEFINE:
		return n == sizeof(struct chr_define) ? NULL : "DEFINE payload has the wrong size";
	case CHR_GAP:
		return n == sizeof(struct chr_gap) ? NULL : "GAP payload has the wrong size";
	case CHR_HEARTBEAT:
		return n == 0 ? NULL : "HEARTBEAT carries a payload";
	case CHR_TRADE: {
		const struct chr_trade *t = chr_rec_payload(r);

		if (n != sizeof *t)
			return "TRADE payload has the wrong size";
		return scale_ok(t->price_scale) && scale_ok(t->size_scale) ? NULL :
			"TRADE scale outside 0..18";
	}
	case CHR_QUOTE: {
		const struct chr_quote *q = chr_rec_payload(r);

		if (n != sizeof *q)
			return "QUOTE payload has the wrong size";
		return scale_ok(q->price_scale) && scale_ok(q->size_scale) ? NULL :
			"QUOTE scale outside 0..18";
	}
	case CHR_BOOK_SNAPSHOT:
	case CHR_BOOK_DIFF:
	case CHR_BOOK_TOPN:
		return book_check(r);
	}
	return NULL;
}

static const struct {
	uint16_t type;
	const char *name;
} types[] = {
	{CHR_DEFINE, "DEFINE"},
	{CHR_GAP, "GAP"},
	{CHR_HEARTBEAT, "HEARTBEAT"},
	{CHR_BOOK_SNAPSHOT, "BOOK_SNAPSHOT"},
	{CHR_BOOK_DIFF, "BOOK_DIFF"},
	{CHR_BOOK_TOPN, "BOOK_TOPN"},
	{CHR_TRADE, "TRADE"},
	{CHR_QUOTE, "QUOTE"},
};

const char *chr_type_name(uint16_t type)
{
	for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
		if (types[i].type == type)
			return types[i].name;
	return NULL;
}

int chr_type_parse(const char *s)
{
	static const struct {
		const char *alias;
		uint16_t type;
	} aliases[] = {
		{"snapshot", CHR_BOOK_SNAPSHOT}, {"diff", CHR_BOOK_DIFF},
		{"topn", CHR_BOOK_TOPN}, {"trade", CHR_TRADE},
		{"quote", CHR_QUOTE}, {"define", CHR_DEFINE},
		{"gap", CHR_GAP}, {"heartbeat", CHR_HEARTBEAT},
	};
	char *end;
	unsigned long v;

	for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
		if (strcasecmp(types[i].name, s) == 0)
			return types[i].type;
	for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++)
		if (strcasecmp(aliases[i].alias, s) == 0)
			return aliases[i].type;
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
		s += 2, v = strtoul(s, &end, 16);
	else
		v = strtoul(s, &end, 10);
	if ((unsigned)(*s - '0') > 9 && ((unsigned)(*s | 0x20) - 'a') > 5)
		return -1;
	if (*end != '\0' || v == 0 || v > 0xffff)
		return -1;
	return (int)v;
}

uint32_t chr_seg_crc(const struct chr_seg *s)
{
	return chr_crc32c(0, s, 60);
}

const char *chr_seg_check(const struct chr_seg *s)
{
	if (s->magic != CHR_SEG_MAGIC)
		return "bad segment magic";
	if (s->version != CHR_VERSION)
		return "unknown segment version";
	if ((s->flags & CHR_SEG_SEALED) && chr_seg_crc(s) != s->crc)
		return "bad segment header crc";
	return NULL;
}
