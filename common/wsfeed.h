/* wsfeed.h - the live transport of a feed: a websocket client
 * (libwebsockets) that hands over each whole message with its receive time,
 * reconnects with backoff, and renews its connection before a maximum age. */
#ifndef CHR_WSFEED_H
#define CHR_WSFEED_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

/* What happened to the connection, for the caller's books (docs/feed.md "The live transport"). */
enum chr_ws_event {
	CHR_WS_UP,		/* a connection delivers its first message: the
				 * first one, or the first after a DOWN; fetch the
				 * REST snapshots now (told before that message) */
	CHR_WS_DOWN,		/* a connection that had delivered is lost (closed,
				 * broken, silent): messages may be missing from
				 * here; the books write a GAP and wait for a
				 * snapshot. Once per loss, not per failed attempt;
				 * a reconnect follows after info->retry_ns: at once
				 * after a connection up for stable_ns, else with
				 * the backoff */
	CHR_WS_RETRY,		/* an attempt to connect failed (or its connection
				 * ended before it delivered); the next is in
				 * info->retry_ns */
	CHR_WS_RENEWED,		/* the connection was replaced by a new one before
				 * its maximum age: info->seamless says whether
				 * no message was lost nor repeated; when not, as
				 * DOWN then UP together */
};

struct chr_ws_info {
	enum chr_ws_event ev;
	int64_t ns;		/* CLOCK_REALTIME when it was seen */
	const char *why;	/* DOWN, RETRY: what ended the connection or the
				 * attempt ("closed by the server (1000)",
				 * "silent for 10000 ms", "cannot connect: ..."); RENEWED
				 * not seamless: why not */
	unsigned attempt;	/* RETRY: failed attempts in a row */
	int64_t retry_ns;	/* RETRY, DOWN: the wait before the next attempt */
	int seamless;		/* RENEWED */
	uint64_t conn;		/* the connection's number, from 1 */
};

/* The caller's side. Both are called from chr_ws_run only. A non-zero
 * return stops chr_ws_run, which returns it: the caller keeps its own
 * error. */
struct chr_ws_cb {
	/* one whole text or binary message (fragments put together), as
	 * received; recv_ns is its receive time, CLOCK_REALTIME: the kernel's
	 * stamp (SO_TIMESTAMPNS) of the oldest bytes of the socket read that
	 * brought its first bytes, or, when there is none (a TLS record
	 * libwebsockets held, a kernel without stamps), the time libwebsockets
	 * handed those bytes over (docs/feed.md "Receive times"). data is
	 * valid until return. */
	int (*msg)(void *ctx, int64_t recv_ns, const char *data, size_t len);
	int (*event)(void *ctx, const struct chr_ws_info *info);
	void *ctx;
};

struct chr_ws_opts {
	const char *url;		/* ws://host[:port]/path or wss://... */
	int64_t silence_ns;		/* no message, no pong and no bytes at all
					 * for this long (also no answer to the
					 * handshake): the connection is dead
					 * (default 10 s) */
	int64_t ping_ns;		/* send a ping this often, its pong a sign
					 * of life (default silence_ns / 3) */
	int64_t max_age_ns;		/* renew a connection this old (default 23 h;
					 * the exchange closes at 24 h) */
	int64_t overlap_ns;		/* how long the old and the new connection
					 * may overlap before the switch is made
					 * without finding the seam (default 10 s) */
	int64_t backoff_min_ns;		/* the first retry's wait (default 100 ms),
					 * doubled per failed attempt ... */
	int64_t backoff_max_ns;		/* ... up to this (default 30 s) */
	int64_t stable_ns;		/* a connection up this long is stable: a
					 * loss after it is reconnected at once and
					 * the backoff starts again; one lost sooner
					 * counts in the backoff like a failed
					 * attempt (default silence_ns) */
	unsigned max_attempts;		/* failed attempts in a row that end
					 * chr_ws_run with an error; 0: never */
	size_t max_msg;			/* the largest message (default 64 MiB) */
	const char *ca_file;		/* wss://: the PEM certificates to trust
					 * (NULL: the system's) */
};

/* Defaults for every field that is 0 (not url). */
void chr_ws_opts_default(struct chr_ws_opts *o);

struct chr_ws;

/* A client for o->url (copied), not yet connected: the first chr_ws_run
 * connects. cb is copied. Returns NULL with e: a URL that is not ws:// or
 * wss:// with a host (CHR_EX_USAGE, "'x' is not a ws:// or wss:// URL"),
 * or libwebsockets failing (CHR_EX_SYS). */
struct chr_ws *chr_ws_open(const struct chr_ws_opts *o, const struct chr_ws_cb *cb,
			   struct chr_err *e);

/* Run for at most timeout_ms: connect, reconnect, renew when due, and
 * call cb for what came. Returns earlier when a signal interrupts the wait
 * (the caller checks its stop flag and calls again). Returns 0; the
 * callbacks' non-zero value; or -1 with e after o->max_attempts failed
 * attempts in a row (CHR_EX_SYS, "cannot connect to 'url' (N attempts):
 * why"). */
int chr_ws_run(struct chr_ws *w, int timeout_ms, struct chr_err *e);

/* Counts since chr_ws_open. */
struct chr_ws_stats {
	uint64_t msgs, bytes;		/* delivered */
	uint64_t conns;			/* connections begun (failed attempts included) */
	uint64_t downs, renewals, seamless;
};
void chr_ws_stats(const struct chr_ws *w, struct chr_ws_stats *s);

/* Close the connections and free w; NULL is nothing. */
void chr_ws_close(struct chr_ws *w);

#endif
