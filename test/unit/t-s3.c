/* t-s3.c - the S3 client's parts that need no server: URLs, the tier
 * line's options, the ETags computed locally, no credentials. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "s3.h"
#include "unit.h"

int main(void)
{
	char b[256], k[1024], etag[80];
	struct chr_s3_conf c;
	struct chr_err e;
	const char *why = NULL;
	size_t n = 12u << 20;
	unsigned char *buf = malloc(n);
	uint64_t size;

	CHECK(chr_s3_is_url("s3://a/b") && !chr_s3_is_url("/tmp/s3://x"));
	CHECK(chr_s3_split("s3://bkt/pre/fix/x", b, sizeof b, k, sizeof k) == 0);
	CHECK_STR(b, "bkt");
	CHECK_STR(k, "pre/fix/x");
	CHECK(chr_s3_split("s3://bkt", b, sizeof b, k, sizeof k) == 0);
	CHECK_STR(k, "");
	CHECK(chr_s3_split("s3:///x", b, sizeof b, k, sizeof k) == -1);
	CHECK(chr_s3_split("http://x/y", b, sizeof b, k, sizeof k) == -1);

	/* defaults: AWS itself, virtual hosts; an endpoint: path-style */
	unsetenv("AWS_ENDPOINT_URL");
	unsetenv("AWS_ENDPOINT_URL_S3");
	unsetenv("AWS_REGION");
	setenv("AWS_DEFAULT_REGION", "eu-west-1", 1);
	chr_s3_conf_of("plain", &c);
	CHECK_STR(c.endpoint, "https://s3.eu-west-1.amazonaws.com");
	CHECK(c.path_style == 0 && c.part_size == CHR_S3_MULTIPART && c.retries == 5);
	{
		char a[] = "endpoint=http://127.0.0.1:9000/", r[] = "region=r1", p[] = "part-size=8m",
		     t[] = "retries=0", *w[] = {a, r, p, t};

		CHECK(chr_s3_configure("local", w, 4, &why) == 0);
		chr_s3_conf_of("local", &c);
		CHECK_STR(c.endpoint, "http://127.0.0.1:9000");
		CHECK_STR(c.region, "r1");
		CHECK(c.path_style == 1 && c.part_size == 8u << 20 && c.retries == 0);
	}
	{
		char a[] = "endpoint=http://minio:9000", v[] = "addressing=virtual", *w[] = {a, v};

		CHECK(chr_s3_configure("v", w, 2, &why) == 0);
		chr_s3_conf_of("v", &c);
		CHECK(c.path_style == 0);
	}
	{
		char a[] = "endpoint=ftp://x", p[] = "part-size=4m", t[] = "retries=99", x[] = "colour=blue";
		char *w1[] = {a}, *w2[] = {p}, *w3[] = {t}, *w4[] = {x};

		CHECK(chr_s3_configure("bad", w1, 1, &why) == -1);
		CHECK(chr_s3_configure("bad", w2, 1, &why) == -1);
		CHECK_STR(why, "part-size is 5m to 4g");
		CHECK(chr_s3_configure("bad", w3, 1, &why) == -1);
		CHECK(chr_s3_configure("bad", w4, 1, &why) == -1);
	}

	/* the ETag of one PUT (the MD5), of a multipart upload (the MD5 of
	 * the parts' MD5s, "-N"; this one as moto_server gave it) */
	chr_s3_etag("hello", 5, CHR_S3_PART_MIN, etag);
	CHECK_STR(etag, "5d41402abc4b2a76b9719d911017c592");
	for (size_t i = 0; buf && i < n; i++)
		buf[i] = (unsigned char)(i * 7 + i / 1000);
	chr_s3_etag(buf, n, 5u << 20, etag);
	CHECK_STR(etag, "c43722fc8b4933242cdf555caaebb457-3");
	chr_s3_etag(buf, n, 16u << 20, etag);
	CHECK(strlen(etag) == 32);

	/* no credentials: said before anything is sent, the bucket named */
	unsetenv("AWS_ACCESS_KEY_ID");
	unsetenv("AWS_SECRET_ACCESS_KEY");
	setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent", 1);
	CHECK(chr_s3_head("s3://local/x", &size, NULL, &e) == -1);
	CHECK(e.status == 3 && strstr(e.msg, "no credentials for 's3://local'") != NULL);
	CHECK_STR(chr_s3_last_error(), e.msg);
	free(buf);
	return unit_done("t-s3");
}
