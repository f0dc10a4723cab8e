/* netlib_int.h - libcurl and libcrypto, loaded (dlopen) by the first
 * request that needs them, so that a program that never reaches S3 or a
 * REST endpoint does not pay for loading them (and their ~25 libraries)
 * at every start. For s3.c and rest.c only. */
#ifndef CHR_NETLIB_INT_H
#define CHR_NETLIB_INT_H

#include <curl/curl.h>
#include <openssl/evp.h>

#include "err.h"

#define CHR_LIBCURL "libcurl.so.4"
#define CHR_LIBCRYPTO "libcrypto.so.3"

/* The functions of libcurl's easy interface we call. */
struct chr_curl {
	CURLcode (*global_init)(long flags);
	CURL *(*easy_init)(void);
	CURLcode (*easy_setopt)(CURL *h, CURLoption opt, ...);
	CURLcode (*easy_perform)(CURL *h);
	CURLcode (*easy_getinfo)(CURL *h, CURLINFO info, ...);
	const char *(*easy_strerror)(CURLcode k);
	void (*easy_reset)(CURL *h);
	void (*easy_cleanup)(CURL *h);
	struct curl_slist *(*slist_append)(struct curl_slist *l, const char *s);
	void (*slist_free_all)(struct curl_slist *l);
};

/* The digests of libcrypto we call. */
struct chr_crypto {
	int (*digest)(const void *data, size_t n, unsigned char *md, unsigned *mdn,
		      const EVP_MD *type, ENGINE *impl);
	const EVP_MD *(*md5)(void);
	const EVP_MD *(*sha256)(void);
};

/* libcurl's functions, loaded on the first call (thread-safe; later calls
 * return the same); NULL with e (CHR_EX_SYS) naming the library and the
 * loader's reason when it cannot be loaded. */
const struct chr_curl *chr_curl_lib(struct chr_err *e);

/* libcrypto's, the same way. */
const struct chr_crypto *chr_crypto_lib(struct chr_err *e);

#endif
