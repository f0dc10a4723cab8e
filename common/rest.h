/* rest.h - an HTTP(S) GET with timeouts (libcurl), for a feed's REST
 * snapshots: the body and the local time it arrived. */
#ifndef CHR_REST_H
#define CHR_REST_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

struct chr_rest;

/* A client (one connection kept alive between GETs); https:// trusts the
 * PEM certificates of ca_file (copied), or the system's when NULL. Returns
 * NULL with e (CHR_EX_SYS) when libcurl cannot start. */
struct chr_rest *chr_rest_open(const char *ca_file, struct chr_err *e);

/* The answer of a GET. body is the client's (NUL-terminated, valid until
 * the next GET or chr_rest_close). */
struct chr_rest_reply {
	const char *body;
	size_t len;
	long status;		/* the HTTP status */
	int64_t recv_ns;	/* CLOCK_REALTIME when the whole body had come */
	int64_t retry_after_ns;	/* its Retry-After header (seconds), 0: none */
};

/* From now on a GET under way, on whatever thread, gives up within about a
 * second (libcurl's progress calls) once *stop is non-zero: "GET 'url':
 * stopped". NULL: never. */
void chr_rest_stop_on(struct chr_rest *c, const atomic_int *stop);

/* GET url, giving up after timeout_ms in all (connecting included).
 * Returns 0 with r for an answer of status 200; -1 with e otherwise
 * (CHR_EX_SYS): "GET 'url': why" (libcurl's reason: no connection, a
 * timeout, stopped), or "GET 'url': HTTP 404: <the body's start>" (r
 * filled, retry_after_ns too). */
int chr_rest_get(struct chr_rest *c, const char *url, long timeout_ms,
		 struct chr_rest_reply *r, struct chr_err *e);

/* Free c; NULL is nothing. */
void chr_rest_close(struct chr_rest *c);

#endif
