/* feedlive.h - a feed's live mode: the websocket transport (wsfeed.h) and
 * REST snapshots (rest.h) wired to the normaliser (feed.h), with a backoff
 * per symbol for its snapshots and an optional frame-to-commit latency. */
#ifndef CHR_FEEDLIVE_H
#define CHR_FEEDLIVE_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "err.h"
#include "feed.h"
#include "wsfeed.h"

struct chr_feedlive_opts {
	const char *const *symbols;	/* subscribed (checked by chr_feedlive_symbol) */
	size_t nsym;
	const char *ws_url;	/* the combined-stream endpoint, without ?streams=
				 * (NULL: the venue's, docs/feed.md) */
	const char *rest_url;	/* the depth endpoint, without ?symbol= (NULL: the venue's) */
	const char *ca_file;	/* wss:// and https://: the CAs (NULL: the system's) */
	int64_t silence_ns;	/* a connection this long without a message, or
				 * a handshake unanswered, is dead (0: wsfeed's 10 s) */
	int64_t max_age_ns;	/* renew a connection this old (0: wsfeed's 23 h;
				 * Binance closes at 24 h) */
	long rest_timeout_ms;	/* a snapshot GET (0: 5000) */
	int64_t snap_backoff_min_ns;	/* a symbol's GETs: each waits this after
					 * the one before (0: 500 ms), doubled per
					 * GET, taken or not, across losses ... */
	int64_t snap_backoff_max_ns;	/* ... up to this (0: 30 s); after this
					 * long without a GET, the least again. An
					 * HTTP 429 or 418 stops every GET for its
					 * Retry-After (none: this long) */
	int latency;		/* measure each record's commit time less its
				 * frame's receive time (chr_feedlive_latency) */
	FILE *latency_log;	/* with latency: a line per frame that made records
				 * measured, "N RECV COMMIT": the frame's number
				 * (from 1, over all connections), its receive time
				 * and its last record's commit, CLOCK_REALTIME ns */
	/* told of what does not stop the run: a bad frame skipped, a failed
	 * or refused snapshot, a failed attempt to connect; NULL: nothing */
	void (*note)(void *ctx, const char *msg);
	void *note_ctx;
	/* called after each frame's records, and before each wait, so that
	 * a reader of a buffered output gets them (NULL: nothing); returns
	 * 0, or -1 with e, which ends the run */
	int (*flush)(void *ctx, struct chr_err *e);
	void *flush_ctx;
};

/* Is s a symbol that may be subscribed: 1 to 32 ASCII letters, digits
 * and '_' (COIN-M's BTCUSD_PERP)? Returns 0, or -1 with e (CHR_EX_USAGE). */
int chr_feedlive_symbol(const char *s, struct chr_err *e);

struct chr_feedlive;

/* A live feed of venue (chr_feed_new's names) writing through fo->sink
 * (fo is copied; its symbol is not used), not yet connected. Returns NULL
 * with e: a bad venue, symbol or URL (CHR_EX_USAGE), libwebsockets or
 * libcurl failing, or memory (CHR_EX_SYS). */
struct chr_feedlive *chr_feedlive_new(const char *venue, const struct chr_feed_opts *fo,
				      const struct chr_feedlive_opts *o, struct chr_err *e);

/* The websocket URL subscribed to (with its ?streams=). */
const char *chr_feedlive_url(const struct chr_feedlive *l);

/* The REST depth endpoint the snapshots are asked of (without ?symbol=). */
const char *chr_feedlive_rest_url(const struct chr_feedlive *l);

/* Run until *stop is set (by a signal: chr_ws_run returns within 100 ms
 * of it): connect, reconnect, normalise every frame, fetch the snapshots
 * the books wait for while a connection is up, one at a time, each GET in
 * a thread of its own while the frames are read (a snapshot's records get
 * its receive time, or the last frame's when later). Returns 0 when stopped;
 * -1 with e: a bad frame without skip_bad (CHR_EX_DATA, "'url':
 * connection C, frame N: why"), the sink's error, or the transport's. */
int chr_feedlive_run(struct chr_feedlive *l, const volatile sig_atomic_t *stop,
		     struct chr_err *e);

/* The normaliser, for its stats and pending diffs. */
struct chr_feed *chr_feedlive_feed(const struct chr_feedlive *l);

struct chr_feedlive_stats {
	struct chr_ws_stats ws;
	uint64_t frames;	/* frames normalised */
	uint64_t bad;		/* bad frames skipped */
	uint64_t gets, get_failed, snap_refused;	/* REST snapshots */
	int64_t get_ns_max;	/* the longest GET (in a thread of its own:
				 * the frames are read meanwhile) */
};
void chr_feedlive_stats(const struct chr_feedlive *l, struct chr_feedlive_stats *s);

/* With o->latency: the percentiles p (0..1) of two delays in ns, over the
 * records written while their frame was normalised: commit - the frame's
 * receive time (*rec), and the transport's share, the frame handed over -
 * its receive time (*ws, per frame); the receive time is the kernel's
 * (chr_ws_cb), so both include the frame's wait in the socket. 10 ns steps
 * up to 1 ms, 1 us steps up to 100 ms; past that, the largest seen. Returns the number of records measured (0: none, or not asked). */
uint64_t chr_feedlive_latency(const struct chr_feedlive *l, double p, int64_t *rec,
			      int64_t *ws);

/* Line i (0..3) of what a run tells at its end, into buf (size bytes,
 * NUL-terminated, cut to fit): 0, with verbose, the transport's and the
 * snapshots' counts; 1 to 3, when latency was measured, its p50, p99 and
 * p99.9. Returns 1, or 0 when line i has nothing to say. */
int chr_feedlive_summary(const struct chr_feedlive *l, int i, int verbose, char *buf,
			 size_t size);

/* Close the connections and free l; NULL is nothing. */
void chr_feedlive_free(struct chr_feedlive *l);

#endif
