/* rest.c - an HTTP(S) GET with timeouts on libcurl's easy interface. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "netlib_int.h"
#include "rest.h"

struct chr_rest {
	const struct chr_curl *cu;	/* libcurl, loaded by the first open */
	CURL *h;
	char *buf;
	size_t len, cap;
	int nomem;
	const atomic_int *stop;
};

void chr_rest_stop_on(struct chr_rest *c, const atomic_int *stop)
{
	c->stop = stop;
}

/* libcurl's progress call: non-zero aborts the transfer */
static int progress(void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	const struct chr_rest *c = arg;

	(void)dt, (void)dn, (void)ut, (void)un;
	return c->stop && atomic_load(c->stop);
}

struct chr_rest *chr_rest_open(const char *ca_file, struct chr_err *e)
{
	static int init;
	const struct chr_curl *cu = chr_curl_lib(e);
	struct chr_rest *c;

	if (!cu)
		return NULL;
	if (!init && cu->global_init(CURL_GLOBAL_DEFAULT) != 0) {
		chr_err_set(e, CHR_EX_SYS, "cannot start libcurl");
		return NULL;
	}
	init = 1;
	if (!(c = calloc(1, sizeof *c)) || !(c->h = cu->easy_init())) {
		free(c);
		chr_err_set(e, CHR_EX_SYS, "cannot start libcurl");
		return NULL;
	}
	c->cu = cu;
	if (ca_file)	/* libcurl copies the string */
		c->cu->easy_setopt(c->h, CURLOPT_CAINFO, ca_file);
	return c;
}

static size_t take(char *p, size_t size, size_t n, void *arg)
{
	struct chr_rest *c = arg;
	size_t k = size * n;

	if (c->len + k + 1 > c->cap) {
		size_t cap = c->cap ? c->cap : 65536;
		char *b;

		while (cap < c->len + k + 1)
			cap *= 2;
		if (!(b = realloc(c->buf, cap))) {
			c->nomem = 1;
			return 0;	/* ends the transfer */
		}
		c->buf = b;
		c->cap = cap;
	}
	memcpy(c->buf + c->len, p, k);
	c->len += k;
	c->buf[c->len] = 0;
	return k;
}

int chr_rest_get(struct chr_rest *c, const char *url, long timeout_ms,
		 struct chr_rest_reply *r, struct chr_err *e)
{
	struct timespec t;
	CURLcode k;

	memset(r, 0, sizeof *r);
	c->len = 0;
	c->nomem = 0;
	c->cu->easy_setopt(c->h, CURLOPT_URL, url);
	c->cu->easy_setopt(c->h, CURLOPT_WRITEFUNCTION, take);
	c->cu->easy_setopt(c->h, CURLOPT_WRITEDATA, c);
	c->cu->easy_setopt(c->h, CURLOPT_TIMEOUT_MS, timeout_ms);
	c->cu->easy_setopt(c->h, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
	c->cu->easy_setopt(c->h, CURLOPT_NOSIGNAL, 1L);
	c->cu->easy_setopt(c->h, CURLOPT_ACCEPT_ENCODING, "");	/* gzip when the server will */
	c->cu->easy_setopt(c->h, CURLOPT_XFERINFOFUNCTION, progress);
	c->cu->easy_setopt(c->h, CURLOPT_XFERINFODATA, c);
	c->cu->easy_setopt(c->h, CURLOPT_NOPROGRESS, 0L);
	k = c->cu->easy_perform(c->h);
	clock_gettime(CLOCK_REALTIME, &t);
	if (c->nomem)
		return chr_err_set(e, CHR_EX_SYS, "GET '%s': out of memory", url);
	if (k == CURLE_ABORTED_BY_CALLBACK)
		return chr_err_set(e, CHR_EX_SYS, "GET '%s': stopped", url);
	if (k != CURLE_OK)
		return chr_err_set(e, CHR_EX_SYS, "GET '%s': %s", url, c->cu->easy_strerror(k));
	r->body = c->buf ? c->buf : "";
	r->len = c->len;
	r->recv_ns = (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
	c->cu->easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &r->status);
	{
		curl_off_t ra = 0;

		if (c->cu->easy_getinfo(c->h, CURLINFO_RETRY_AFTER, &ra) == CURLE_OK && ra > 0)
			r->retry_after_ns = (int64_t)ra * 1000000000;
	}
	if (r->status != 200)
		return chr_err_set(e, CHR_EX_SYS, "GET '%s': HTTP %ld: %.200s", url, r->status,
				   r->body);
	return 0;
}

void chr_rest_close(struct chr_rest *c)
{
	if (!c)
		return;
	c->cu->easy_cleanup(c->h);
	free(c->buf);
	free(c);
}
