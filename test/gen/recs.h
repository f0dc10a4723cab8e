/* recs.h - test records built in memory, shared by the data generator
 * (test/gen/gen.c) and the unit tests that assert on the same records. */
#ifndef GEN_RECS_H
#define GEN_RECS_H

#include <stddef.h>
#include <stdint.h>

#include "rec.h"

#define GEN_VENUE 7
#define GEN_MARKET 42
#define GEN_TS0 INT64_C(1723075200000000000)	/* 2024-08-08T00:00:00Z */
#define GEN_SEC INT64_C(1000000000)

/* A growing, 64-byte aligned buffer of records: buf[0..n). Start it
 * zeroed; free buf when done. */
struct gen_out {
	unsigned char *buf;
	size_t n, cap;
};

/* A zeroed record of len bytes (header included) at the end of o, its
 * len set; fill it, then gen_commit. Exits 3 when memory runs out. */
struct chr_rec *gen_reserve(struct gen_out *o, uint32_t len);

/* Seal r (the record gen_reserve returned last) and keep it in o. */
void gen_commit(struct gen_out *o, struct chr_rec *r);

/* Record i of the test stream of venue GEN_VENUE, market GEN_MARKET
 * (testvenue TESTSYM) at ts: 0 DEFINE, 1 BOOK_SNAPSHOT, then BOOK_DIFF,
 * TRADE, QUOTE in turn; seq and src_seq are i, ts_event ts - 1000. */
void gen_stream_rec(struct gen_out *o, uint64_t i, int64_t ts);

/* Records with unsigned fields above INT64_MAX: a BOOK_DIFF with seq
 * UINT64_MAX, src_seq 2^63 and update ids UINT64_MAX, 2^63, INT64_MAX; a
 * GAP expecting 2^63 + 1 and getting UINT64_MAX - 1 (seq INT64_MAX). */
void gen_huge(struct gen_out *o);

#endif
