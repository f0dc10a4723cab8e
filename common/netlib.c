/* netlib.c - libcurl and libcrypto loaded with dlopen on first use, their
 * functions looked up once into a table. */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "netlib_int.h"

/* one library: its name, where its functions go, which */
struct lib {
	const char *soname;
	void *fn;		/* a struct of function pointers, one per name */
	const char *const *names;
	size_t n;
	pthread_once_t once;
	int ok;
	char why[CHR_ERR_MAX - 64];
};

static struct chr_curl curl_fns;
static struct chr_crypto crypto_fns;

static const char *const curl_names[] = {
	"curl_global_init", "curl_easy_init", "curl_easy_setopt", "curl_easy_perform",
	"curl_easy_getinfo", "curl_easy_strerror", "curl_easy_reset", "curl_easy_cleanup",
	"curl_slist_append", "curl_slist_free_all",
};
static const char *const crypto_names[] = { "EVP_Digest", "EVP_md5", "EVP_sha256" };

_Static_assert(sizeof curl_fns == sizeof curl_names / sizeof *curl_names * sizeof(void *),
	       "one name per libcurl function");
_Static_assert(sizeof crypto_fns == sizeof crypto_names / sizeof *crypto_names * sizeof(void *),
	       "one name per libcrypto function");

static struct lib curl_lib = {
	CHR_LIBCURL, &curl_fns, curl_names, sizeof curl_names / sizeof *curl_names,
	PTHREAD_ONCE_INIT, 0, ""
};
static struct lib crypto_lib = {
	CHR_LIBCRYPTO, &crypto_fns, crypto_names,
	sizeof crypto_names / sizeof *crypto_names, PTHREAD_ONCE_INIT, 0, ""
};

/* dlopen l and look its functions up; the handle is kept for the process */
static void load(struct lib *l)
{
	void *h = dlopen(l->soname, RTLD_NOW | RTLD_LOCAL);
	const char *why;

	if (!h) {
		why = dlerror();
		snprintf(l->why, sizeof l->why, "%s", why ? why : "not found");
		return;
	}
	for (size_t i = 0; i < l->n; i++) {
		void *f = dlsym(h, l->names[i]);

		if (!f) {
			snprintf(l->why, sizeof l->why, "%s: no %s", l->soname, l->names[i]);
			return;
		}
		/* POSIX: dlsym's void * holds a function pointer, same size */
		memcpy((char *)l->fn + i * sizeof f, &f, sizeof f);
	}
	l->ok = 1;
}

static void load_curl(void)
{
	load(&curl_lib);
}

static void load_crypto(void)
{
	load(&crypto_lib);
}

const struct chr_curl *chr_curl_lib(struct chr_err *e)
{
	pthread_once(&curl_lib.once, load_curl);
	if (!curl_lib.ok) {
		chr_err_set(e, CHR_EX_SYS, "cannot load libcurl: %s", curl_lib.why);
		return NULL;
	}
	return &curl_fns;
}

const struct chr_crypto *chr_crypto_lib(struct chr_err *e)
{
	pthread_once(&crypto_lib.once, load_crypto);
	if (!crypto_lib.ok) {
		chr_err_set(e, CHR_EX_SYS, "cannot load libcrypto: %s", crypto_lib.why);
		return NULL;
	}
	return &crypto_fns;
}
