/* feed_int.h - the normaliser's state, shared by feed.c (venue-independent:
 * instruments, records, book synchronisation) and binance.c (messages). */
#ifndef CHR_FEED_INT_H
#define CHR_FEED_INT_H

#include "feed.h"
#include "json.h"

/* how a venue chains its depth updates */
enum feed_chain {
	CHAIN_PU,		/* USD-M, COIN-M: U <= L <= u, then pu == last u */
	CHAIN_U,		/* spot: U <= L + 1 <= u, then U == last u + 1 */
};

enum inst_state {
	INST_WAIT,		/* no snapshot (or a break since): diffs are held */
	INST_FIRST,		/* snapshot written: the next diff must bridge it */
	INST_SYNC,		/* in sync: each diff must follow the last */
};

struct feed_inst {
	char symbol[CHR_SYMBOL_MAX + 1];
	size_t symlen;
	uint16_t vid;
	uint32_t mid;
	int defined;		/* its DEFINE went out */
	enum inst_state state;
	uint64_t snap_id;	/* INST_FIRST: the snapshot's lastUpdateId */
	uint64_t last;		/* INST_SYNC: u of the last diff written */
	unsigned char *held;	/* diffs held in INST_WAIT: records, each its span */
	size_t held_n, held_cap;
	uint64_t held_count;
};

struct chr_feed {
	char venue[CHR_VENUE_MAX];
	enum feed_chain chain;
	struct chr_feed_opts o;
	struct chr_feed_stats st;
	struct feed_inst **inst;
	size_t ninst, capinst;
	struct feed_inst *last;	/* found last */
	int inferred;		/* a snapshot took the one symbol seen */
	uint64_t seq;		/* seq and src_seq of the next record */
	struct chr_json j;
	unsigned char *tmp;	/* a record built off the sink (64-aligned) */
	size_t tmp_cap;
	int8_t *sc;		/* the scales of a record's values, while parsed */
	size_t sc_cap;
};

/* diff placement (feed_diff_mode) */
enum { DIFF_DROP, DIFF_WRITE, DIFF_HOLD, DIFF_BREAK };

/* The instrument of symbol s[0..n) (made on first use). NULL with e when
 * the name cannot be a symbol (CHR_EX_DATA) or out of memory. */
struct feed_inst *feed_inst(struct chr_feed *f, const char *s, size_t n, struct chr_err *e);

/* Room for a record of inst: its DEFINE written first when due; the header
 * filled (type, flags LAST, ts, ts_event, ids, seq). NULL with e. */
struct chr_rec *feed_reserve(struct chr_feed *f, struct feed_inst *in, uint32_t len,
			     uint16_t type, int64_t ts, int64_t ts_event, struct chr_err *e);

/* Commit a record of feed_reserve. Returns 0 or -1 with e. */
int feed_commit(struct chr_feed *f, struct chr_rec *r, struct chr_err *e);

/* A scratch record of len bytes, zeroed to its span, header filled as
 * feed_reserve does but no seq (set when it is written). NULL with e. */
struct chr_rec *feed_scratch(struct chr_feed *f, struct feed_inst *in, uint32_t len,
			     uint16_t type, int64_t ts, int64_t ts_event, struct chr_err *e);

/* Where a diff of ids U, u, prev goes by the venue's rules and the book's
 * state: DIFF_*. No side effect. */
int feed_diff_mode(const struct chr_feed *f, const struct feed_inst *in, uint64_t U,
		   uint64_t u, uint64_t prev);

/* A diff built off the sink (feed_scratch) placed by its mode: dropped,
 * written, held, or a GAP and held. Returns 0 or -1 with e. */
int feed_diff_place(struct chr_feed *f, struct feed_inst *in, struct chr_rec *r,
		    struct chr_err *e);

/* A diff of mode DIFF_WRITE was committed: the book follows it. */
void feed_diff_written(struct chr_feed *f, struct feed_inst *in, const struct chr_book *b);

/* A snapshot built off the sink (feed_scratch): written when the book
 * waits for one, then the diffs held; else counted. Returns 0 or -1. */
int feed_snapshot_place(struct chr_feed *f, struct feed_inst *in, struct chr_rec *r,
			struct chr_err *e);

/* The scales' scratch for n values. -1 with e when out of memory. */
int feed_scales(struct chr_feed *f, size_t n, struct chr_err *e);

/* Venue messages (binance.c) */
int chr_binance_msg(struct chr_feed *f, int64_t recv_ns, const char *s, size_t len,
		    struct chr_err *e);
/* The symbol a REST snapshot names itself (COIN-M's "symbol"): its length,
 * *sym pointing into json; 0 when it names none (or does not parse). */
size_t chr_binance_snapshot_symbol(struct chr_feed *f, const char *json, size_t len,
				   const char **sym);
int chr_binance_snapshot(struct chr_feed *f, int64_t recv_ns, struct feed_inst *in,
			 const char *s, size_t len, struct chr_err *e);

#endif
