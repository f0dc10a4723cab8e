/* feed.h - the feed handler's normaliser: exchange messages (websocket
 * frames, REST depth snapshots) to records, books kept in sync by the
 * venue's rules (docs/feed.md). Shared by chr-feed's capture and live modes. */
#ifndef CHR_FEED_H
#define CHR_FEED_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "rec.h"
#include "sym.h"

/* Where records go, built in place: reserve returns room for a record of
 * len header+payload bytes, zeroed up to its span (len may or may not be
 * stored yet: the normaliser fills every field but len, version and crc);
 * commit seals and publishes it (seq and src_seq as the normaliser set
 * them, or the sink's own). A reservation not committed (the message
 * turned out bad) is forgotten at the next reserve. Both return NULL / -1
 * with e on failure (the output's error: CHR_EX_SYS). */
struct chr_feed_sink {
	struct chr_rec *(*reserve)(void *arg, uint32_t len, struct chr_err *e);
	int (*commit)(void *arg, struct chr_rec *rec, struct chr_err *e);
	void *arg;
};

struct chr_feed_opts {
	struct chr_feed_sink sink;
	const char *symbol;	/* the symbol of REST snapshots (USD-M's and spot's
				 * carry none); NULL: their own, else the one
				 * symbol of the messages before */
	const struct chr_symmap *map;	/* ids from a symbol map; NULL: hashes */
	int skip_bad;		/* a bad message is counted and skipped (chr_feed_msg: 1) */
	size_t buffer_max;	/* bytes of diffs a book holds while it waits
				 * for its snapshot (0: 64 MiB); past it the
				 * oldest go (counted in dropped) */
};

/* What a feed has done, for -v and for a report. */
struct chr_feed_stats {
	uint64_t msgs;		/* messages and snapshots given */
	uint64_t records;	/* records written, DEFINE and GAP included */
	uint64_t snapshots, diffs, trades, quotes, gaps;	/* records written */
	uint64_t stale;		/* diffs older than their book's snapshot: dropped by the rules */
	uint64_t buffered;	/* diffs held for a snapshot (written or not later) */
	uint64_t dropped;	/* held diffs dropped past buffer_max, or at a disconnect */
	uint64_t snap_ignored;	/* snapshots of a book already in sync */
	uint64_t unknown;	/* messages of streams or events not handled */
	uint64_t bad;		/* bad messages skipped (skip_bad) */
	char unknown_first[80];	/* what the first unknown message was */
};

struct chr_feed;

/* A normaliser for venue: "binance-futures" (USD-M), "binance-delivery"
 * (COIN-M) or "binance" (spot). o is copied (the strings and the map are
 * kept, not copied). Returns NULL with e: an unknown venue (CHR_EX_USAGE),
 * out of memory (CHR_EX_SYS). */
struct chr_feed *chr_feed_new(const char *venue, const struct chr_feed_opts *o,
			      struct chr_err *e);

/* Free f and what it holds (diffs still waiting for a snapshot are lost:
 * see chr_feed_stats' buffered and chr_feed_pending). */
void chr_feed_free(struct chr_feed *f);

/* One websocket message (text len bytes): a combined-stream wrapper
 * {"stream":..,"data":{..}} or a bare message, received at recv_ns (ns since
 * the epoch). Writes its records through the sink. Returns 0; 1 when the
 * message is bad and skip_bad is set (counted; e says why); -1 with e:
 * a bad message (CHR_EX_DATA, "what", with no place: the caller names the
 * line or frame), or the sink's error. */
int chr_feed_msg(struct chr_feed *f, int64_t recv_ns, const char *json, size_t len,
		 struct chr_err *e);

/* One line of a capture, `<receive time in ns> <JSON>` (n bytes without
 * its '\n'; a '\r' before it is allowed): chr_feed_msg of the JSON at that
 * time. Returns 2 for a blank line (no message), else as chr_feed_msg; a
 * line without the time and one space is bad ("not a line '<receive time
 * in ns> <JSON>'"). */
int chr_feed_line(struct chr_feed *f, const char *p, size_t n, struct chr_err *e);

/* One REST depth snapshot of symbol (NULL: the options' symbol, else the
 * snapshot's own "symbol" (COIN-M), else the one symbol the messages so far
 * named, else refused with CHR_EX_DATA).
 * A book waiting for one writes it, then the diffs it held that follow it
 * by the venue's rules. Returns as chr_feed_msg. */
int chr_feed_snapshot(struct chr_feed *f, int64_t recv_ns, const char *symbol,
		      const char *json, size_t len, struct chr_err *e);

/* The connection dropped at recv_ns: every book that was in sync, or had
 * its snapshot, writes a GAP (reason CHR_GAP_RECONNECT) and waits for a new
 * snapshot; diffs held are dropped. Returns 0, or -1 with the sink's e. */
int chr_feed_disconnect(struct chr_feed *f, int64_t recv_ns, struct chr_err *e);

/* Make symbol's book known before its first message (live mode subscribes
 * to it), so that chr_feed_wanted names it. Returns 0, or -1 with e. */
int chr_feed_add(struct chr_feed *f, const char *symbol, struct chr_err *e);

/* The symbols whose book waits for a REST snapshot now, at most max of
 * them into syms (pointers valid until chr_feed_free). Returns how many
 * wait (which may exceed max). */
size_t chr_feed_wanted(const struct chr_feed *f, const char **syms, size_t max);

/* Diffs held now, waiting for a snapshot, over every book. */
uint64_t chr_feed_pending(const struct chr_feed *f);

const struct chr_feed_stats *chr_feed_stats(const struct chr_feed *f);

/* The venue name of f ("binance-futures") */
const char *chr_feed_venue(const struct chr_feed *f);

#endif
