/* rec.h - the chronicle record and segment formats (docs/format.md):
 * header layout, record types, payload views and the CRC-32C seal. */
#ifndef CHR_REC_H
#define CHR_REC_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#ifdef __SSE4_2__
#include <nmmintrin.h>
#endif

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "chronicle records are little-endian and viewed in place: big-endian hosts are not supported"
#endif

#define CHR_ALIGN 64u
#define CHR_HDR_SIZE 64u
#define CHR_REC_MAX (16u << 20)		/* largest legal len: 16 MiB */
#define CHR_VERSION 1

/* record types */
#define CHR_DEFINE 0x0001
#define CHR_GAP 0x0002
#define CHR_HEARTBEAT 0x0003
#define CHR_BOOK_SNAPSHOT 0x0010
#define CHR_BOOK_DIFF 0x0011
#define CHR_BOOK_TOPN 0x0012
#define CHR_TRADE 0x0020
#define CHR_QUOTE 0x0021
#define CHR_APP_MIN 0x8000

/* header flags */
#define CHR_F_SYNTHETIC 0x0001
#define CHR_F_LAST 0x0002
#define CHR_F_REPEAT 0x0004		/* a DEFINE the queue writer repeats at a segment head */

/* An absent price or size (an empty vendor field) */
#define CHR_NULL INT64_MIN

struct chr_rec {
	uint32_t len;		/* header + payload bytes; the commit word */
	uint16_t type;
	uint16_t flags;
	uint64_t seq;
	int64_t ts;		/* local receive time, ns since the epoch */
	int64_t ts_event;	/* exchange time, ns; 0 unknown */
	uint64_t src_seq;
	uint32_t market;
	uint16_t venue;
	uint8_t version;
	uint8_t reserved[13];
	uint32_t crc;		/* CRC-32C of bytes 4..59, then the payload */
};
_Static_assert(sizeof(struct chr_rec) == 64, "record header is 64 bytes");
_Static_assert(offsetof(struct chr_rec, type) == 4, "type");
_Static_assert(offsetof(struct chr_rec, flags) == 6, "flags");
_Static_assert(offsetof(struct chr_rec, seq) == 8, "seq");
_Static_assert(offsetof(struct chr_rec, ts) == 16, "ts");
_Static_assert(offsetof(struct chr_rec, ts_event) == 24, "ts_event");
_Static_assert(offsetof(struct chr_rec, src_seq) == 32, "src_seq");
_Static_assert(offsetof(struct chr_rec, market) == 40, "market");
_Static_assert(offsetof(struct chr_rec, venue) == 44, "venue");
_Static_assert(offsetof(struct chr_rec, version) == 46, "version");
_Static_assert(offsetof(struct chr_rec, crc) == 60, "crc");

#define CHR_VENUE_MAX 32
#define CHR_SYMBOL_MAX 64

struct chr_define {
	char venue[CHR_VENUE_MAX];	/* NUL-padded */
	char symbol[CHR_SYMBOL_MAX];	/* NUL-padded */
	int8_t price_scale_hint;
	int8_t size_scale_hint;
	uint8_t reserved[6];
};
_Static_assert(sizeof(struct chr_define) == 104, "DEFINE payload");

#define CHR_GAP_SEQ 1
#define CHR_GAP_UPDATE_ID 2
#define CHR_GAP_RECONNECT 3
#define CHR_GAP_RESTART 4

struct chr_gap {
	uint64_t expected;
	uint64_t got;
	uint32_t reason;
	uint32_t reserved;
};
_Static_assert(sizeof(struct chr_gap) == 24, "GAP payload");

#define CHR_SIDE_UNKNOWN 0
#define CHR_SIDE_BUY 1
#define CHR_SIDE_SELL 2
#define CHR_TRADE_ID_MAX 40

struct chr_trade {
	int64_t price;
	int64_t size;
	int8_t price_scale;
	int8_t size_scale;
	uint8_t side;
	uint8_t reserved[5];
	char id[CHR_TRADE_ID_MAX];	/* NUL-padded text */
};
_Static_assert(sizeof(struct chr_trade) == 64, "TRADE payload");

struct chr_quote {
	int64_t bid_px, bid_sz, ask_px, ask_sz;
	int8_t price_scale;
	int8_t size_scale;
	uint8_t reserved[6];
};
_Static_assert(sizeof(struct chr_quote) == 40, "QUOTE payload");

struct chr_level {
	int64_t price;
	int64_t size;
};

/* L2 book body of BOOK_SNAPSHOT, BOOK_DIFF and BOOK_TOPN */
struct chr_book {
	uint64_t update_id_first;
	uint64_t update_id_last;
	uint64_t update_id_prev;
	uint32_t n_bid;
	uint32_t n_ask;
	int8_t price_scale;
	int8_t size_scale;
	uint8_t reserved[6];
	struct chr_level levels[];	/* bids, then asks */
};
_Static_assert(sizeof(struct chr_book) == 40, "book body header");
_Static_assert(offsetof(struct chr_book, price_scale) == 32, "price_scale");

/* Segment file header (docs/format.md) */
#define CHR_SEG_MAGIC 0x51524843u	/* "CHRQ" */
#define CHR_SEG_SEALED 0x0001

struct chr_seg {
	uint32_t magic;
	uint16_t version;
	uint16_t flags;
	uint64_t id;
	uint64_t base_seq;
	uint64_t end;
	uint64_t count;
	int64_t ts_min;
	int64_t ts_max;
	uint32_t reserved;
	uint32_t crc;		/* CRC-32C of bytes 0..59 */
};
_Static_assert(sizeof(struct chr_seg) == 64, "segment header is 64 bytes");
_Static_assert(offsetof(struct chr_seg, end) == 24, "end");
_Static_assert(offsetof(struct chr_seg, crc) == 60, "seg crc");

/* Bytes a record of header+payload length len occupies (len rounded up to 64). */
static inline size_t chr_rec_span(uint32_t len)
{
	return ((size_t)len + CHR_ALIGN - 1) & ~(size_t)(CHR_ALIGN - 1);
}

static inline void *chr_rec_payload(const struct chr_rec *r)
{
	return (char *)r + CHR_HDR_SIZE;
}

static inline size_t chr_rec_payload_len(const struct chr_rec *r)
{
	return r->len - CHR_HDR_SIZE;
}

/* CRC-32C (Castagnoli) of buf, continuing from crc (0 to start). */
uint32_t chr_crc32c(uint32_t crc, const void *buf, size_t n);

/* Buffers up to this long take chr_crc32c_short's path: ISA-L's three
 * interleaved streams win on longer ones. */
#define CHR_CRC_SHORT 256

/* The CRC-32C register (not inverted: ~0 to start, ~ of it at the end)
 * after n more bytes of p, a word at a time by the CPU's crc32 instruction,
 * inline (SSE4.2: x86-64-v2, the build's floor); about 20 instructions for
 * a record where a call into ISA-L costs 150. Without SSE4.2, ISA-L. */
static inline uint32_t chr_crc32c_short(uint32_t c, const void *buf, size_t n)
{
#ifdef __SSE4_2__
	const unsigned char *p = buf;
	uint64_t c64 = c, v;

	for (; n >= 8; n -= 8, p += 8) {
		memcpy(&v, p, 8);
		c64 = _mm_crc32_u64(c64, v);
	}
	c = (uint32_t)c64;
	if (n >= 4) {
		uint32_t w;

		memcpy(&w, p, 4);
		c = _mm_crc32_u32(c, w);
		p += 4, n -= 4;
	}
	while (n-- > 0)
		c = _mm_crc32_u8(c, *p++);
	return c;
#else
	return ~chr_crc32c(~c, buf, n);
#endif
}

/* The CRC a record should carry: header bytes 4..59, then its payload. */
uint32_t chr_rec_crc(const struct chr_rec *r);

/* Set version, zero the reserved bytes and padding up to the span, and
 * store the CRC. The record must own chr_rec_span(len) bytes; a len below
 * 64 is raised to 64. */
void chr_rec_seal(struct chr_rec *r);

/* The room a GAP record takes (chr_rec_span of its length). */
#define CHR_GAP_SPAN 128

/* A synthetic GAP of instrument (venue, market) just before the record
 * before: its seq, ts and ts_event, src_seq src (a synthetic record sorts
 * just before the record whose src_seq it carries), the payload expected,
 * got and reason; written sealed into r, which has CHR_GAP_SPAN bytes. */
void chr_gap_before(struct chr_rec *r, const struct chr_rec *before, uint64_t src,
		    uint16_t venue, uint32_t market, uint64_t expected, uint64_t got,
		    uint32_t reason);

/* Check a whole record in memory (its span): length, version, CRC, zero
 * padding and payload layout. Returns NULL when it is valid, else a static
 * description of what is wrong ("bad crc", ...). */
const char *chr_rec_check(const struct chr_rec *r);

/* Check the payload of a known type against its length (n_bid+n_ask fit,
 * fixed sizes match, scales 0..18). Returns NULL when valid or the type has
 * no fixed layout, else a static description. */
const char *chr_rec_check_payload(const struct chr_rec *r);

/* Name of a record type ("BOOK_DIFF", ...) or NULL when unknown. */
const char *chr_type_name(uint16_t type);

/* Parse a type name (case-insensitive; also the short names "snapshot",
 * "diff", "topn", "trade", "quote", "define", "gap", "heartbeat"), a decimal
 * number or a 0x-prefixed hex number. Returns the type or -1. */
int chr_type_parse(const char *s);

/* Segment header CRC (bytes 0..59) and validation: NULL when valid. */
uint32_t chr_seg_crc(const struct chr_seg *s);
const char *chr_seg_check(const struct chr_seg *s);

#endif
