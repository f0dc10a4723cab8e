/* s3.h - a small S3 client over libcurl's SigV4 (docs/tiers.md, "Object
 * storage"): objects named by URLs s3://bucket/key; PUT (multipart when
 * large), HEAD, ranged GET, DELETE, LIST. Not thread-safe: one client per
 * bucket is kept for the process. */
#ifndef CHR_S3_H
#define CHR_S3_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "err.h"

#define CHR_S3_PART_MIN (5u << 20)	/* S3's smallest part (but the last) */
#define CHR_S3_MULTIPART (16u << 20)	/* default: objects this large go in parts */

/* How a bucket is reached. */
struct chr_s3_conf {
	char endpoint[512];	/* scheme://host[:port], no slash at the end */
	char region[64];
	int path_style;		/* 1: endpoint/bucket/key; 0: bucket.host/key */
	uint64_t part_size;	/* multipart threshold and part size */
	int retries;		/* attempts after the first on 5xx, 429, no connection */
};

/* 1 when s starts with "s3://". */
int chr_s3_is_url(const char *s);

/* Split "s3://bucket/key" into bucket and key (key may be empty). Returns
 * 0, or -1 (not such a URL, or too long). */
int chr_s3_split(const char *url, char *bucket, size_t nb, char *key, size_t nk);

/* Set how bucket is reached from option words ("endpoint=URL",
 * "region=R", "addressing=path|virtual", "part-size=BYTES[k|m]",
 * "retries=N"), over the defaults of the environment (AWS_ENDPOINT_URL_S3,
 * AWS_ENDPOINT_URL, AWS_REGION, AWS_DEFAULT_REGION; else AWS itself,
 * virtual-host addressing). Kept for the process. Returns 0, or -1 with a
 * message naming the bad word in why (static). */
int chr_s3_configure(const char *bucket, char *const *words, size_t n, const char **why);

/* The configuration bucket is reached with (configured or the defaults). */
void chr_s3_conf_of(const char *bucket, struct chr_s3_conf *c);

/* PUT buf[0..len) at url, in parts when len >= the part size (aborted on
 * failure). On success etag holds the ETag (quotes removed; at least 80
 * bytes). Returns 0, or -1 with e (CHR_EX_SYS; a refusal of the
 * credentials says so). */
int chr_s3_put(const char *url, const void *buf, size_t len, char *etag, struct chr_err *e);

/* HEAD url: its size and ETag (quotes removed, 80 bytes). Returns 0, 1
 * when there is no such object, or -1 with e. */
int chr_s3_head(const char *url, uint64_t *size, char *etag, struct chr_err *e);

/* GET bytes [off, off + len) of url into buf (len > 0). Returns the bytes
 * read (fewer at the object's end), or -1 with e. *total (may be NULL) is
 * set to the object's size. */
ssize_t chr_s3_get_range(const char *url, uint64_t off, size_t len, void *buf, uint64_t *total,
			 struct chr_err *e);

/* GET the last up to len bytes of url into buf (one request). Returns the
 * bytes read, *total set to the object's size, or -1 with e. */
ssize_t chr_s3_get_tail(const char *url, size_t len, void *buf, uint64_t *total,
			struct chr_err *e);

/* GET the whole of url into *buf (malloc'ed, NUL-terminated). Returns the
 * length, -2 when there is no such object (errno ENOENT, e set), or -1
 * with e. */
ssize_t chr_s3_get(const char *url, unsigned char **buf, struct chr_err *e);

/* DELETE url (no error when it does not exist). Returns 0, or -1 with e. */
int chr_s3_delete(const char *url, struct chr_err *e);

/* Call fn(key, size, ctx) for every object whose key starts with prefix
 * (the URL's key part), in key order, page after page. Stops when fn
 * returns non-zero and returns that; 0 when done, -1 with e. */
int chr_s3_list(const char *url_prefix, int (*fn)(const char *key, uint64_t size, void *ctx),
		void *ctx, struct chr_err *e);

/* Abort every multipart upload still open below the URL's key prefix
 * (what a process killed during an upload left; it holds storage but no
 * object). Returns the number aborted, or -1 with e. */
long chr_s3_abort_uploads(const char *url_prefix, struct chr_err *e);

/* The ETag S3 gives buf[0..len) uploaded with part size part (hex MD5,
 * or of a multipart upload the MD5 of the parts' MD5s and "-N") into
 * out (80 bytes). */
void chr_s3_etag(const void *buf, size_t len, uint64_t part, char *out);

/* The message of the last request that failed ("" when none). */
const char *chr_s3_last_error(void);

/* Requests made and body bytes received since the process started. */
void chr_s3_stats(uint64_t *requests, uint64_t *bytes_in, uint64_t *bytes_out);

#endif
