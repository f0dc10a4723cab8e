/* s3.c - the S3 client: requests signed by libcurl (CURLOPT_AWS_SIGV4),
 * retried with backoff, credentials from the environment or the shared
 * credentials file and never put into a message; libcurl and libcrypto
 * are loaded by the first request (netlib_int.h). */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "netlib_int.h"
#include "s3.h"

/* one client per bucket */
struct client {
	char bucket[256];
	struct chr_s3_conf conf;
	int configured;
	CURL *h;
	char id[256], secret[256], token[4096];
	int creds;		/* 1 loaded, -1 none found */
};

static struct client *clients;
static size_t nclients;
static uint64_t st_req, st_in, st_out;
static char last_err[CHR_ERR_MAX];
static const struct chr_curl *cu;	/* loaded by libs() */
static const struct chr_crypto *cr;

/* e's message kept as the last failure too; returns -1 */
static int keep(struct chr_err *e)
{
	snprintf(last_err, sizeof last_err, "%s", e ? e->msg : "");
	return -1;
}

const char *chr_s3_last_error(void)
{
	return last_err;
}

int chr_s3_is_url(const char *s)
{
	return strncmp(s, "s3://", 5) == 0;
}

int chr_s3_split(const char *url, char *bucket, size_t nb, char *key, size_t nk)
{
	const char *b, *sl;
	size_t k;

	if (!chr_s3_is_url(url))
		return -1;
	b = url + 5;
	sl = strchr(b, '/');
	k = sl ? (size_t)(sl - b) : strlen(b);
	if (k == 0 || k >= nb || strlen(sl ? sl + 1 : "") >= nk)
		return -1;
	memcpy(bucket, b, k);
	bucket[k] = '\0';
	strcpy(key, sl ? sl + 1 : "");
	return 0;
}

static void defaults(struct chr_s3_conf *c)
{
	const char *ep = getenv("AWS_ENDPOINT_URL_S3"), *rg = getenv("AWS_REGION");

	memset(c, 0, sizeof *c);
	if (ep == NULL || !*ep)
		ep = getenv("AWS_ENDPOINT_URL");
	if (rg == NULL || !*rg)
		rg = getenv("AWS_DEFAULT_REGION");
	snprintf(c->region, sizeof c->region, "%s", rg && *rg ? rg : "us-east-1");
	if (ep && *ep) {
		snprintf(c->endpoint, sizeof c->endpoint, "%s", ep);
		c->path_style = 1;	/* a server of one's own rarely has bucket DNS names */
	} else {
		snprintf(c->endpoint, sizeof c->endpoint, "https://s3.%s.amazonaws.com", c->region);
	}
	c->part_size = CHR_S3_MULTIPART;
	c->retries = 5;
}

static struct client *client_of(const char *bucket)
{
	struct client *v;

	for (size_t i = 0; i < nclients; i++)
		if (strcmp(clients[i].bucket, bucket) == 0)
			return &clients[i];
	if (strlen(bucket) >= sizeof v->bucket || (v = realloc(clients, (nclients + 1) * sizeof *v)) == NULL)
		return NULL;
	clients = v;
	v = &clients[nclients++];
	memset(v, 0, sizeof *v);
	strcpy(v->bucket, bucket);
	defaults(&v->conf);
	return v;
}

/* a size: digits with an optional k/m/g (powers of 1024) */
static int size_word(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s)
		return -1;
	if (*end == 'k' || *end == 'K')
		v <<= 10, end++;
	else if (*end == 'm' || *end == 'M')
		v <<= 20, end++;
	else if (*end == 'g' || *end == 'G')
		v <<= 30, end++;
	if (*end)
		return -1;
	*out = v;
	return 0;
}

int chr_s3_configure(const char *bucket, char *const *words, size_t n, const char **why)
{
	struct client *c = client_of(bucket);
	struct chr_s3_conf conf;

	if (c == NULL) {
		*why = "out of memory or bucket name too long";
		return -1;
	}
	defaults(&conf);
	for (size_t i = 0; i < n; i++) {
		const char *w = words[i];

		if (strncmp(w, "endpoint=", 9) == 0 && (strncmp(w + 9, "http://", 7) == 0 ||
							 strncmp(w + 9, "https://", 8) == 0) &&
		    strlen(w + 9) < sizeof conf.endpoint) {
			snprintf(conf.endpoint, sizeof conf.endpoint, "%s", w + 9);
			while (conf.endpoint[strlen(conf.endpoint) - 1] == '/')
				conf.endpoint[strlen(conf.endpoint) - 1] = '\0';
			conf.path_style = 1;
		} else if (strncmp(w, "region=", 7) == 0 && w[7] && strlen(w + 7) < sizeof conf.region) {
			snprintf(conf.region, sizeof conf.region, "%s", w + 7);
		} else if (strcmp(w, "addressing=path") == 0) {
			conf.path_style = 2;
		} else if (strcmp(w, "addressing=virtual") == 0) {
			conf.path_style = -1;
		} else if (strncmp(w, "part-size=", 10) == 0) {
			if (size_word(w + 10, &conf.part_size) < 0 || conf.part_size < CHR_S3_PART_MIN ||
			    conf.part_size > (1ull << 32)) {
				*why = "part-size is 5m to 4g";
				return -1;
			}
		} else if (strncmp(w, "retries=", 8) == 0) {
			uint64_t r;

			if (size_word(w + 8, &r) < 0 || r > 20) {
				*why = "retries is 0 to 20";
				return -1;
			}
			conf.retries = (int)r;
		} else {
			*why = "expected endpoint=URL, region=R, addressing=path|virtual, part-size=N "
			       "or retries=N";
			return -1;
		}
	}
	/* a region given after an endpoint-less start: AWS's host of that region */
	if (conf.path_style == 0 && strstr(conf.endpoint, ".amazonaws.com"))
		snprintf(conf.endpoint, sizeof conf.endpoint, "https://s3.%s.amazonaws.com", conf.region);
	conf.path_style = conf.path_style > 0;
	c->conf = conf;
	c->configured = 1;
	return 0;
}

void chr_s3_conf_of(const char *bucket, struct chr_s3_conf *conf)
{
	struct client *c = client_of(bucket);

	if (c)
		*conf = c->conf;
	else
		defaults(conf);
}

void chr_s3_stats(uint64_t *requests, uint64_t *bytes_in, uint64_t *bytes_out)
{
	*requests = st_req;
	*bytes_in = st_in;
	if (bytes_out)
		*bytes_out = st_out;
}

/* ---- credentials ----------------------------------------------------- */

static void trim(char *s)
{
	size_t n = strlen(s);

	while (n && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
	memmove(s, s + strspn(s, " \t"), strlen(s + strspn(s, " \t")) + 1);
}

/* the shared credentials file's profile: 0, or -1 */
static int creds_file(struct client *c)
{
	const char *f = getenv("AWS_SHARED_CREDENTIALS_FILE"), *prof = getenv("AWS_PROFILE");
	char path[4096], line[4096], want[300];
	int in = 0;
	FILE *fp;

	if (f == NULL || !*f) {
		const char *home = getenv("HOME");

		if (home == NULL || (size_t)snprintf(path, sizeof path, "%s/.aws/credentials", home) >= sizeof path)
			return -1;
		f = path;
	}
	snprintf(want, sizeof want, "[%s]", prof && *prof ? prof : "default");
	if ((fp = fopen(f, "re")) == NULL)
		return -1;
	while (fgets(line, sizeof line, fp)) {
		char *eq;

		trim(line);
		if (line[0] == '[') {
			in = strcmp(line, want) == 0;
			continue;
		}
		if (!in || (eq = strchr(line, '=')) == NULL)
			continue;
		*eq = '\0';
		trim(line);
		trim(eq + 1);
		if (strcmp(line, "aws_access_key_id") == 0)
			snprintf(c->id, sizeof c->id, "%s", eq + 1);
		else if (strcmp(line, "aws_secret_access_key") == 0)
			snprintf(c->secret, sizeof c->secret, "%s", eq + 1);
		else if (strcmp(line, "aws_session_token") == 0)
			snprintf(c->token, sizeof c->token, "%s", eq + 1);
	}
	fclose(fp);
	return c->id[0] && c->secret[0] ? 0 : -1;
}

static int creds(struct client *c, struct chr_err *e)
{
	const char *id = getenv("AWS_ACCESS_KEY_ID"), *sk = getenv("AWS_SECRET_ACCESS_KEY");
	const char *tk = getenv("AWS_SESSION_TOKEN");

	if (c->creds == 0) {
		c->creds = -1;
		if (id && *id && sk && *sk) {
			snprintf(c->id, sizeof c->id, "%s", id);
			snprintf(c->secret, sizeof c->secret, "%s", sk);
			snprintf(c->token, sizeof c->token, "%s", tk ? tk : "");
			c->creds = 1;
		} else if (creds_file(c) == 0) {
			c->creds = 1;
		}
	}
	if (c->creds < 0) {
		chr_err_set(e, CHR_EX_SYS, "no credentials for 's3://%s': set AWS_ACCESS_KEY_ID "
			    "and AWS_SECRET_ACCESS_KEY, or a profile in ~/.aws/credentials "
			    "(AWS_PROFILE)", c->bucket);
		return keep(e);
	}
	return 0;
}

/* ---- a request ---------------------------------------------------------- */

struct resp {
	unsigned char *buf;	/* growing (own) or the caller's (cap fixed) */
	size_t len, cap;
	int fixed, nomem;
	long status;
	char etag[80];
	uint64_t total;		/* from Content-Range */
};

static size_t body_cb(char *p, size_t size, size_t n, void *arg)
{
	struct resp *r = arg;
	size_t k = size * n;

	st_in += k;
	if (r->len + k + 1 > r->cap) {
		size_t cap = r->cap ? r->cap : 4096;
		unsigned char *b;

		if (r->fixed) {
			k = r->cap > r->len ? r->cap - r->len : 0;
			memcpy(r->buf + r->len, p, k);
			r->len += k;
			return size * n;	/* more than asked: cut */
		}
		while (cap < r->len + k + 1)
			cap *= 2;
		if ((b = realloc(r->buf, cap)) == NULL) {
			r->nomem = 1;
			return 0;
		}
		r->buf = b;
		r->cap = cap;
	}
	memcpy(r->buf + r->len, p, k);
	r->len += k;
	if (!r->fixed)
		r->buf[r->len] = '\0';
	return k;
}

static size_t head_cb(char *p, size_t size, size_t n, void *arg)
{
	struct resp *r = arg;
	size_t k = size * n;
	char line[512];

	if (k >= sizeof line)
		return k;
	memcpy(line, p, k);
	line[k] = '\0';
	if (strncasecmp(line, "etag:", 5) == 0) {
		char *s = line + 5, *q;

		s += strspn(s, " \t\"");
		for (q = s; *q && *q != '"' && *q != '\r' && *q != '\n'; q++)
			;
		*q = '\0';
		snprintf(r->etag, sizeof r->etag, "%s", s);
	} else if (strncasecmp(line, "content-range:", 14) == 0) {
		char *sl = strchr(line, '/');

		if (sl)
			r->total = strtoull(sl + 1, NULL, 10);
	}
	return k;
}

/* RFC 3986 unreserved stay; '/' stays when keep_slash */
static int enc(char *out, size_t n, const char *s, int keep_slash)
{
	size_t o = 0;

	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (o + 4 >= n)
			return -1;
		if (isalnum(ch) || ch == '-' || ch == '_' || ch == '.' || ch == '~' || (keep_slash && ch == '/'))
			out[o++] = (char)ch;
		else
			o += (size_t)sprintf(out + o, "%%%02X", ch);
	}
	out[o] = '\0';
	return 0;
}

/* libcurl and libcrypto, loaded by the first request; -1 with e kept */
static int libs(struct chr_err *e)
{
	if (!cu && !(cu = chr_curl_lib(e)))
		return keep(e);
	if (!cr && !(cr = chr_crypto_lib(e)))
		return keep(e);
	return 0;
}

static void sha256_hex(const void *buf, size_t len, char *out)
{
	unsigned char d[32];
	unsigned dl = 0;

	cr->digest(buf, len, d, &dl, cr->sha256(), NULL);
	for (unsigned i = 0; i < dl; i++)
		sprintf(out + 2 * i, "%02x", d[i]);
}

/* The <tag>value</tag> after *from in xml, XML-decoded into out; *from
 * moves past it. Returns 0, or -1 when there is none. */
static int xml_take(const char *xml, const char **from, const char *tag, char *out, size_t n)
{
	char open[64], close[64];
	const char *a, *b;
	size_t o = 0;

	snprintf(open, sizeof open, "<%s>", tag);
	snprintf(close, sizeof close, "</%s>", tag);
	if ((a = strstr(from ? *from : xml, open)) == NULL || (b = strstr(a, close)) == NULL)
		return -1;
	for (a += strlen(open); a < b && o + 1 < n; a++) {
		static const char *const ent[][2] = {{"&amp;", "&"}, {"&lt;", "<"}, {"&gt;", ">"},
						     {"&quot;", "\""}, {"&apos;", "'"}, {"&#34;", "\""}};
		size_t k;

		for (k = 0; k < sizeof ent / sizeof *ent; k++)
			if (strncmp(a, ent[k][0], strlen(ent[k][0])) == 0)
				break;
		if (k < sizeof ent / sizeof *ent) {
			out[o++] = ent[k][1][0];
			a += strlen(ent[k][0]) - 1;
		} else {
			out[o++] = *a;
		}
	}
	out[o] = '\0';
	if (from)
		*from = b + strlen(close);
	return 0;
}

struct req {
	const char *method, *key, *query;	/* query: already encoded, sorted */
	const void *body;
	size_t blen;
	const char *range;			/* "bytes=..." or NULL */
	const char *shown;			/* for messages instead of METHOD 'key' */
};

/* Send q to bucket c, retrying; the answer in r. Returns 0 when an answer
 * came (any status; r->status), or -1 with e (no connection, out of
 * memory, no credentials). */
static int send_req(struct client *c, const struct req *q, struct resp *r, struct chr_err *e)
{
	char url[4096 + 1024], ekey[3 * 1024 + 1], sig[128], hdr[4200], hash[65];
	struct curl_slist *hl = NULL;
	CURLcode k = CURLE_OK;
	const char *host;
	int attempt;

	if (creds(c, e) < 0 || libs(e) < 0)
		return -1;
	if (c->h == NULL) {
		static int init;

		if (!init && cu->global_init(CURL_GLOBAL_DEFAULT) != 0)
			return chr_err_set(e, CHR_EX_SYS, "cannot start libcurl");
		init = 1;
		if ((c->h = cu->easy_init()) == NULL)
			return chr_err_set(e, CHR_EX_SYS, "cannot start libcurl");
	}
	if (enc(ekey, sizeof ekey, q->key, 1) < 0)
		return chr_err_set(e, CHR_EX_SYS, "s3://%s/%.200s: key too long", c->bucket, q->key);
	host = strstr(c->conf.endpoint, "://") + 3;
	if (c->conf.path_style)
		snprintf(url, sizeof url, "%s/%s/%s%s%s", c->conf.endpoint, c->bucket, ekey,
			 q->query ? "?" : "", q->query ? q->query : "");
	else
		snprintf(url, sizeof url, "%.*s%s.%s/%s%s%s", (int)(host - c->conf.endpoint),
			 c->conf.endpoint, c->bucket, host, ekey, q->query ? "?" : "",
			 q->query ? q->query : "");
	snprintf(sig, sizeof sig, "aws:amz:%s:s3", c->conf.region);
	sha256_hex(q->body ? q->body : "", q->body ? q->blen : 0, hash);
	snprintf(hdr, sizeof hdr, "x-amz-content-sha256: %s", hash);
	hl = cu->slist_append(hl, hdr);
	if (c->token[0]) {
		snprintf(hdr, sizeof hdr, "x-amz-security-token: %s", c->token);
		hl = cu->slist_append(hl, hdr);
	}
	if (q->range) {
		snprintf(hdr, sizeof hdr, "Range: %s", q->range);
		hl = cu->slist_append(hl, hdr);
	}
	hl = cu->slist_append(hl, "Expect:");
	if (q->body)
		hl = cu->slist_append(hl, "Content-Type: application/octet-stream");
	if (hl == NULL)
		return chr_err_set(e, CHR_EX_SYS, "out of memory");
	for (attempt = 0;; attempt++) {
		r->len = 0;	/* a retry starts the answer again */
		r->nomem = 0;
		r->status = 0;
		r->etag[0] = '\0';
		cu->easy_reset(c->h);
		cu->easy_setopt(c->h, CURLOPT_URL, url);
		cu->easy_setopt(c->h, CURLOPT_AWS_SIGV4, sig);
		cu->easy_setopt(c->h, CURLOPT_USERNAME, c->id);
		cu->easy_setopt(c->h, CURLOPT_PASSWORD, c->secret);
		cu->easy_setopt(c->h, CURLOPT_HTTPHEADER, hl);
		cu->easy_setopt(c->h, CURLOPT_WRITEFUNCTION, body_cb);
		cu->easy_setopt(c->h, CURLOPT_WRITEDATA, r);
		cu->easy_setopt(c->h, CURLOPT_HEADERFUNCTION, head_cb);
		cu->easy_setopt(c->h, CURLOPT_HEADERDATA, r);
		cu->easy_setopt(c->h, CURLOPT_NOSIGNAL, 1L);
		cu->easy_setopt(c->h, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
		/* a stalled transfer (under 1 KiB/s for 60 s) is a failure */
		cu->easy_setopt(c->h, CURLOPT_LOW_SPEED_LIMIT, 1024L);
		cu->easy_setopt(c->h, CURLOPT_LOW_SPEED_TIME, 60L);
		if (strcmp(q->method, "HEAD") == 0) {
			cu->easy_setopt(c->h, CURLOPT_NOBODY, 1L);
		} else if (strcmp(q->method, "GET") != 0) {
			cu->easy_setopt(c->h, CURLOPT_CUSTOMREQUEST, q->method);
			if (q->body || strcmp(q->method, "DELETE") != 0) {
				cu->easy_setopt(c->h, CURLOPT_POSTFIELDS, q->body ? q->body : "");
				cu->easy_setopt(c->h, CURLOPT_POSTFIELDSIZE_LARGE,
						 (curl_off_t)(q->body ? q->blen : 0));
			}
		}
		st_req++;
		k = cu->easy_perform(c->h);
		if (r->nomem) {
			cu->slist_free_all(hl);
			return chr_err_set(e, CHR_EX_SYS, "out of memory");
		}
		if (k == CURLE_OK)
			cu->easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &r->status);
		/* no connection, a server error, throttling: again, later */
		if (attempt < c->conf.retries &&
		    (k != CURLE_OK || r->status >= 500 || r->status == 429)) {
			long ms = 100L << (attempt < 6 ? attempt : 6);
			struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};

			nanosleep(&ts, NULL);
			continue;
		}
		break;
	}
	cu->slist_free_all(hl);
	if (q->body && k == CURLE_OK)
		st_out += q->blen;
	if (k != CURLE_OK) {
		chr_err_set(e, CHR_EX_SYS, "%s 's3://%s/%.300s': %s", q->method, c->bucket, q->key,
			    cu->easy_strerror(k));
		return keep(e);
	}
	return 0;
}

/* e for an answer that is not a success */
static int http_fail(struct client *c, const struct req *q, const struct resp *r, struct chr_err *e)
{
	char code[128] = "", what[1200];

	if (r->buf && !r->fixed && xml_take((const char *)r->buf, NULL, "Code", code, sizeof code) < 0)
		code[0] = '\0';
	if (q->shown)
		snprintf(what, sizeof what, "%s", q->shown);
	else
		snprintf(what, sizeof what, "%s 's3://%s/%.300s'", q->method, c->bucket, q->key);
	if (r->status == 403 || r->status == 401)
		chr_err_set(e, CHR_EX_SYS, "%s: access denied (HTTP %ld%s%s): check the credentials "
			    "(AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE in "
			    "~/.aws/credentials) and the bucket's policy", what, r->status,
			    code[0] ? " " : "", code);
	else
		chr_err_set(e, CHR_EX_SYS, "%s: HTTP %ld%s%s", what, r->status, code[0] ? " " : "", code);
	return keep(e);
}

/* the client and key of url */
static struct client *resolve(const char *url, char *key, size_t nk, struct chr_err *e)
{
	char bucket[256];
	struct client *c;

	if (chr_s3_split(url, bucket, sizeof bucket, key, nk) < 0) {
		chr_err_set(e, CHR_EX_SYS, "'%.300s' is not s3://bucket/key", url);
		return NULL;
	}
	if ((c = client_of(bucket)) == NULL)
		chr_err_set(e, CHR_EX_SYS, "out of memory");
	return c;
}

/* one request with a growing answer; 0 on 2xx, else -1 with e */
static int simple(struct client *c, const struct req *q, struct resp *r, struct chr_err *e)
{
	if (send_req(c, q, r, e) < 0)
		return -1;
	if (r->status < 200 || r->status >= 300)
		return http_fail(c, q, r, e);
	return 0;
}

int chr_s3_head(const char *url, uint64_t *size, char *etag, struct chr_err *e)
{
	char key[1024];
	struct client *c = resolve(url, key, sizeof key, e);
	struct req q = {"HEAD", key, NULL, NULL, 0, NULL, NULL};
	struct resp r = {0};
	curl_off_t cl = -1;

	if (c == NULL || send_req(c, &q, &r, e) < 0)
		return -1;
	free(r.buf);
	if (r.status == 404)
		return 1;
	if (r.status != 200)
		return http_fail(c, &q, &r, e);
	if (cu->easy_getinfo(c->h, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl) != CURLE_OK || cl < 0)
		return chr_err_set(e, CHR_EX_SYS, "HEAD '%.300s': no Content-Length", url);
	*size = (uint64_t)cl;
	if (etag)
		snprintf(etag, 80, "%s", r.etag);
	return 0;
}

static ssize_t ranged(const char *url, const char *range, size_t len, void *buf, uint64_t *total,
		      struct chr_err *e)
{
	char key[1024];
	struct client *c = resolve(url, key, sizeof key, e);
	struct req q = {"GET", key, NULL, NULL, 0, range, NULL};
	struct resp r = {.buf = buf, .cap = len, .fixed = 1};

	if (c == NULL || send_req(c, &q, &r, e) < 0)
		return -1;
	if (r.status == 416) {	/* an empty object, or past its end */
		if (total)
			*total = r.total;
		return 0;
	}
	if (r.status != 206 && r.status != 200) {
		r.buf = NULL;
		return http_fail(c, &q, &r, e);
	}
	if (total)
		*total = r.status == 206 ? r.total : r.len;
	return (ssize_t)r.len;
}

ssize_t chr_s3_get_range(const char *url, uint64_t off, size_t len, void *buf, uint64_t *total,
			 struct chr_err *e)
{
	char range[64];

	snprintf(range, sizeof range, "bytes=%" PRIu64 "-%" PRIu64, off, off + len - 1);
	return ranged(url, range, len, buf, total, e);
}

ssize_t chr_s3_get_tail(const char *url, size_t len, void *buf, uint64_t *total, struct chr_err *e)
{
	char range[64];
	ssize_t n;
	uint64_t t = 0;

	snprintf(range, sizeof range, "bytes=-%zu", len);
	n = ranged(url, range, len, buf, &t, e);
	if (total)
		*total = t;
	return n;
}

ssize_t chr_s3_get(const char *url, unsigned char **buf, struct chr_err *e)
{
	char key[1024];
	struct client *c = resolve(url, key, sizeof key, e);
	struct req q = {"GET", key, NULL, NULL, 0, NULL, NULL};
	struct resp r = {0};

	*buf = NULL;
	if (c == NULL || send_req(c, &q, &r, e) < 0) {
		free(r.buf);
		return -1;
	}
	if (r.status == 404) {
		free(r.buf);
		chr_err_set(e, CHR_EX_SYS, "cannot open '%.300s': %s", url, strerror(ENOENT));
		errno = ENOENT;
		return -2;
	}
	if (r.status != 200) {
		http_fail(c, &q, &r, e);
		free(r.buf);
		return -1;
	}
	if (r.buf == NULL && (r.buf = calloc(1, 1)) == NULL)
		return chr_err_set(e, CHR_EX_SYS, "out of memory");
	*buf = r.buf;
	return (ssize_t)r.len;
}

int chr_s3_delete(const char *url, struct chr_err *e)
{
	char key[1024];
	struct client *c = resolve(url, key, sizeof key, e);
	struct req q = {"DELETE", key, NULL, NULL, 0, NULL, NULL};
	struct resp r = {0};
	int rc;

	if (c == NULL)
		return -1;
	rc = send_req(c, &q, &r, e);
	if (rc == 0 && r.status != 404 && (r.status < 200 || r.status >= 300))
		rc = http_fail(c, &q, &r, e);
	free(r.buf);
	return rc;
}

/* ---- PUT ------------------------------------------------------------------ */

static void md5(const void *buf, size_t len, unsigned char d[16])
{
	unsigned dl = 0;

	cr->digest(buf, len, d, &dl, cr->md5(), NULL);
}

void chr_s3_etag(const void *buf, size_t len, uint64_t part, char *out)
{
	unsigned char d[16];
	struct chr_err e;

	if (libs(&e) < 0) {
		out[0] = '\0';
		return;
	}

	if (len < part) {
		md5(buf, len, d);
		for (int i = 0; i < 16; i++)
			sprintf(out + 2 * i, "%02x", d[i]);
		return;
	}
	{
		size_t np = (len + part - 1) / part;
		unsigned char *all = malloc(16 * np);

		if (all == NULL) {
			out[0] = '\0';
			return;
		}
		for (size_t i = 0; i < np; i++)
			md5((const char *)buf + i * part, i + 1 < np ? part : len - i * part, all + 16 * i);
		md5(all, 16 * np, d);
		free(all);
		for (int i = 0; i < 16; i++)
			sprintf(out + 2 * i, "%02x", d[i]);
		sprintf(out + 32, "-%zu", np);
	}
}

/* a multipart upload of buf; aborted when a step fails */
static int put_parts(struct client *c, const char *key, const void *buf, size_t len, char *etag,
		     struct chr_err *e)
{
	uint64_t part = c->conf.part_size;
	size_t np = (len + part - 1) / part, xl = 0, xcap;
	char upload[1024], query[3 * 1024 + 64], eid[3 * 1024];
	char (*tags)[80] = calloc(np, sizeof *tags);
	char *xml = NULL;
	struct resp r = {0};
	struct req q = {"POST", key, "uploads=", NULL, 0, NULL, NULL};
	int rc = -1, started = 0;

	if (tags == NULL)
		return chr_err_set(e, CHR_EX_SYS, "out of memory");
	if (simple(c, &q, &r, e) < 0)
		goto out;
	if (xml_take((const char *)r.buf, NULL, "UploadId", upload, sizeof upload) < 0) {
		chr_err_set(e, CHR_EX_SYS, "POST 's3://%s/%.300s?uploads': no UploadId in the answer",
			    c->bucket, key);
		goto out;
	}
	started = 1;
	enc(eid, sizeof eid, upload, 0);
	for (size_t i = 0; i < np; i++) {
		struct req p = {"PUT", key, query, (const char *)buf + i * part,
				i + 1 < np ? part : len - i * part, NULL, NULL};

		snprintf(query, sizeof query, "partNumber=%zu&uploadId=%s", i + 1, eid);
		if (simple(c, &p, &r, e) < 0)
			goto out;
		snprintf(tags[i], sizeof tags[i], "%s", r.etag);
	}
	xcap = 128 + np * 160;
	if ((xml = malloc(xcap)) == NULL) {
		chr_err_set(e, CHR_EX_SYS, "out of memory");
		goto out;
	}
	xl = (size_t)sprintf(xml, "<CompleteMultipartUpload>");
	for (size_t i = 0; i < np; i++)
		xl += (size_t)sprintf(xml + xl, "<Part><PartNumber>%zu</PartNumber><ETag>\"%s\"</ETag></Part>",
				      i + 1, tags[i]);
	xl += (size_t)sprintf(xml + xl, "</CompleteMultipartUpload>");
	snprintf(query, sizeof query, "uploadId=%s", eid);
	{
		struct req d = {"POST", key, query, xml, xl, NULL, NULL};

		if (simple(c, &d, &r, e) < 0)
			goto out;
		/* an error may come with status 200 */
		if (r.buf && strstr((const char *)r.buf, "<Error>")) {
			r.status = 500;
			http_fail(c, &d, &r, e);
			goto out;
		}
		if (xml_take((const char *)r.buf, NULL, "ETag", etag, 80) == 0) {
			char *s = etag;

			if (*s == '"')
				memmove(s, s + 1, strlen(s));
			if ((s = strchr(etag, '"')) != NULL)
				*s = '\0';
		} else {
			etag[0] = '\0';
		}
	}
	rc = 0;
out:
	if (rc < 0 && started) {
		struct req a = {"DELETE", key, query, NULL, 0, NULL, NULL};
		struct chr_err ae;
		struct resp ar = {0};

		snprintf(query, sizeof query, "uploadId=%s", eid);
		send_req(c, &a, &ar, &ae);
		free(ar.buf);
	}
	free(r.buf);
	free(xml);
	free(tags);
	return rc;
}

int chr_s3_put(const char *url, const void *buf, size_t len, char *etag, struct chr_err *e)
{
	char key[1024];
	struct client *c = resolve(url, key, sizeof key, e);
	struct req q = {"PUT", key, NULL, buf, len, NULL, NULL};
	struct resp r = {0};
	int rc;

	if (c == NULL)
		return -1;
	if (len >= c->conf.part_size)
		return put_parts(c, key, buf, len, etag, e);
	rc = simple(c, &q, &r, e);
	if (rc == 0)
		snprintf(etag, 80, "%s", r.etag);
	free(r.buf);
	return rc;
}

/* ---- LIST ----------------------------------------------------------------- */

int chr_s3_list(const char *url_prefix, int (*fn)(const char *key, uint64_t size, void *ctx),
		void *ctx, struct chr_err *e)
{
	char prefix[1024], eprefix[3 * 1024 + 1], token[2048] = "", etok[3 * 2048 + 1];
	char query[10240], k[1024], sz[32], more[16], shown[1100];
	struct client *c = resolve(url_prefix, prefix, sizeof prefix, e);
	struct resp r = {0};
	int rc = 0;

	if (c == NULL)
		return -1;
	enc(eprefix, sizeof eprefix, prefix, 0);
	snprintf(shown, sizeof shown, "LIST 's3://%s/%.300s'", c->bucket, prefix);
	do {
		struct req q = {"GET", "", query, NULL, 0, NULL, shown};
		const char *at;

		if (token[0]) {
			enc(etok, sizeof etok, token, 0);
			snprintf(query, sizeof query, "continuation-token=%s&list-type=2&prefix=%s", etok,
				 eprefix);
		} else {
			snprintf(query, sizeof query, "list-type=2&prefix=%s", eprefix);
		}
		if (simple(c, &q, &r, e) < 0) {
			rc = -1;
			break;
		}
		at = (const char *)r.buf;
		while (rc == 0 && at && (at = strstr(at, "<Contents>")) != NULL) {
			const char *end = strstr(at, "</Contents>"), *p = at;

			if (end == NULL || xml_take(at, &p, "Key", k, sizeof k) < 0 || p > end) {
				rc = chr_err_set(e, CHR_EX_SYS, "LIST 's3://%s/%.300s': a bad answer",
						 c->bucket, prefix);
				break;
			}
			p = at;
			if (xml_take(at, &p, "Size", sz, sizeof sz) < 0 || p > end)
				strcpy(sz, "0");
			rc = fn(k, strtoull(sz, NULL, 10), ctx);
			at = end;
		}
		token[0] = '\0';
		if (rc == 0 && r.buf && xml_take((const char *)r.buf, NULL, "IsTruncated", more, sizeof more) == 0 &&
		    strcmp(more, "true") == 0 &&
		    xml_take((const char *)r.buf, NULL, "NextContinuationToken", token, sizeof token) < 0)
			rc = chr_err_set(e, CHR_EX_SYS, "LIST 's3://%s/%.300s': truncated without a token",
					 c->bucket, prefix);
	} while (rc == 0 && token[0]);
	free(r.buf);
	return rc;
}

/* ---- uploads left open ---------------------------------------------------- */

long chr_s3_abort_uploads(const char *url_prefix, struct chr_err *e)
{
	char prefix[1024], eprefix[3 * 1024 + 1], km[1024] = "", um[1024] = "", ekm[3 * 1024 + 1];
	char eum[3 * 1024 + 1], query[10240], key[1024], id[1024], eid[3 * 1024 + 1], more[16];
	char shown[1100], q2[3 * 1024 + 16];
	struct client *c = resolve(url_prefix, prefix, sizeof prefix, e);
	struct resp r = {0};
	long n = 0;
	int rc = 0;

	if (c == NULL)
		return -1;
	enc(eprefix, sizeof eprefix, prefix, 0);
	snprintf(shown, sizeof shown, "LIST uploads 's3://%s/%.300s'", c->bucket, prefix);
	do {
		struct req q = {"GET", "", query, NULL, 0, NULL, shown};
		const char *at;

		if (km[0]) {
			enc(ekm, sizeof ekm, km, 0);
			enc(eum, sizeof eum, um, 0);
			snprintf(query, sizeof query, "key-marker=%s&prefix=%s&upload-id-marker=%s&uploads=",
				 ekm, eprefix, eum);
		} else {
			snprintf(query, sizeof query, "prefix=%s&uploads=", eprefix);
		}
		if (simple(c, &q, &r, e) < 0) {
			rc = -1;
			break;
		}
		at = (const char *)r.buf;
		while (at && (at = strstr(at, "<Upload>")) != NULL) {
			const char *end = strstr(at, "</Upload>"), *p = at;
			struct resp ar = {0};

			if (end == NULL)
				break;
			if (xml_take(at, &p, "Key", key, sizeof key) == 0 && p <= end &&
			    (p = at, xml_take(at, &p, "UploadId", id, sizeof id) == 0) && p <= end) {
				struct req a = {"DELETE", key, q2, NULL, 0, NULL, NULL};

				enc(eid, sizeof eid, id, 0);
				snprintf(q2, sizeof q2, "uploadId=%s", eid);
				if (send_req(c, &a, &ar, e) < 0 ||
				    (ar.status != 404 && (ar.status < 200 || ar.status >= 300) &&
				     http_fail(c, &a, &ar, e) < 0)) {
					free(ar.buf);
					rc = -1;
					break;
				}
				free(ar.buf);
				n++;
			}
			at = end;
		}
		km[0] = '\0';
		if (rc == 0 && r.buf && xml_take((const char *)r.buf, NULL, "IsTruncated", more, sizeof more) == 0 &&
		    strcmp(more, "true") == 0 &&
		    (xml_take((const char *)r.buf, NULL, "NextKeyMarker", km, sizeof km) < 0 ||
		     xml_take((const char *)r.buf, NULL, "NextUploadIdMarker", um, sizeof um) < 0))
			km[0] = '\0';
	} while (rc == 0 && km[0]);
	free(r.buf);
	return rc < 0 ? -1 : n;
}
