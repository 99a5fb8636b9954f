/*
 * curl_load.c - libcurl, loaded when a request first needs it.
 *
 * Loading libcurl and the libraries it pulls in (TLS, HTTP/2, IDN, LDAP,
 * Kerberos, ...) takes about 3.5 ms, several times what the rest of
 * clawcgi's start costs.  A CGI process answers one request, and most
 * requests (/healthz, /v1/models, every 4xx, the echo and command
 * providers) never speak HTTP; so clawcgi is not linked against libcurl.
 * Instead this file defines the libcurl functions clawcgi calls, each of
 * which loads libcurl.so.4 once (and runs curl_global_init) and calls the
 * real one.  The rest of the code calls curl_* as usual.
 */
#define CURL_DISABLE_TYPECHECK /* the typecheck macros would rename our definitions */
#include "curl_load.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>

#include "log.h"

#define LIBCURL_SONAME "libcurl.so.4"

static struct {
	CURLcode (*global_init)(long flags);
	void (*global_cleanup)(void);
	CURL *(*easy_init)(void);
	void (*easy_cleanup)(CURL *curl);
	void (*easy_reset)(CURL *curl);
	CURLcode (*easy_setopt)(CURL *curl, CURLoption option, ...);
	CURLcode (*easy_getinfo)(CURL *curl, CURLINFO info, ...);
	CURLcode (*easy_perform)(CURL *curl);
	const char *(*easy_strerror)(CURLcode code);
	struct curl_slist *(*slist_append)(struct curl_slist *list, const char *s);
	void (*slist_free_all)(struct curl_slist *list);
} fn;

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static void *lib;
static bool loaded; /* every symbol found and curl_global_init done */

static void *sym(const char *name, bool *ok)
{
	void *p = dlsym(lib, name);

	if (!p) {
		log_error("%s has no %s: %s", LIBCURL_SONAME, name, dlerror());
		*ok = false;
	}
	return p;
}

static void load(void)
{
	bool ok = true;

	lib = dlopen(LIBCURL_SONAME, RTLD_NOW | RTLD_LOCAL);
	if (!lib) {
		log_error("cannot load %s: %s (install the Debian package libcurl4)",
			  LIBCURL_SONAME, dlerror());
		return;
	}
	/* Through void *: ISO C has no cast between object and function
	 * pointers, POSIX guarantees dlsym's result works as one. */
	*(void **)&fn.global_init = sym("curl_global_init", &ok);
	*(void **)&fn.global_cleanup = sym("curl_global_cleanup", &ok);
	*(void **)&fn.easy_init = sym("curl_easy_init", &ok);
	*(void **)&fn.easy_cleanup = sym("curl_easy_cleanup", &ok);
	*(void **)&fn.easy_reset = sym("curl_easy_reset", &ok);
	*(void **)&fn.easy_setopt = sym("curl_easy_setopt", &ok);
	*(void **)&fn.easy_getinfo = sym("curl_easy_getinfo", &ok);
	*(void **)&fn.easy_perform = sym("curl_easy_perform", &ok);
	*(void **)&fn.easy_strerror = sym("curl_easy_strerror", &ok);
	*(void **)&fn.slist_append = sym("curl_slist_append", &ok);
	*(void **)&fn.slist_free_all = sym("curl_slist_free_all", &ok);
	if (!ok)
		return;
	/* once per process, before any handle; pthread_once keeps other
	 * threads out while it runs (it is not thread-safe) */
	if (fn.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		log_error("curl_global_init failed");
		return;
	}
	loaded = true;
}

int curl_load(void)
{
	pthread_once(&load_once, load);
	return loaded ? 0 : -1;
}

int curl_is_loaded(void)
{
	return loaded;
}

void curl_unload(void)
{
	if (loaded)
		fn.global_cleanup();
	/* the library stays mapped: handles freed later still call into it */
}

/* ---- the functions clawcgi calls ---- */

CURL *curl_easy_init(void)
{
	return curl_load() == 0 ? fn.easy_init() : NULL;
}

/* Only a handle from curl_easy_init reaches these, so libcurl is loaded. */
void curl_easy_cleanup(CURL *curl)
{
	if (curl && loaded)
		fn.easy_cleanup(curl);
}

void curl_easy_reset(CURL *curl)
{
	fn.easy_reset(curl);
}

/*
 * The option's number says the type of its argument (curl.h: CURLOPTTYPE_*
 * bases 0, 10000, 20000, 30000, 40000), as libcurl's own curl_easy_setopt
 * reads it; pass it on as that type.
 */
CURLcode curl_easy_setopt(CURL *curl, CURLoption option, ...)
{
	va_list ap;
	CURLcode rc;

	va_start(ap, option);
	if (option < CURLOPTTYPE_OBJECTPOINT) {
		long v = va_arg(ap, long);
		rc = fn.easy_setopt(curl, option, v);
	} else if (option < CURLOPTTYPE_FUNCTIONPOINT) {
		void *v = va_arg(ap, void *);
		rc = fn.easy_setopt(curl, option, v);
	} else if (option < CURLOPTTYPE_OFF_T) {
		/* a function pointer; all have the same representation */
		void (*v)(void) = va_arg(ap, void (*)(void));
		rc = fn.easy_setopt(curl, option, v);
	} else if (option < CURLOPTTYPE_BLOB) {
		curl_off_t v = va_arg(ap, curl_off_t);
		rc = fn.easy_setopt(curl, option, v);
	} else {
		void *v = va_arg(ap, void *);
		rc = fn.easy_setopt(curl, option, v);
	}
	va_end(ap);
	return rc;
}

/* Every CURLINFO_* takes one pointer. */
CURLcode curl_easy_getinfo(CURL *curl, CURLINFO info, ...)
{
	va_list ap;
	void *p;

	va_start(ap, info);
	p = va_arg(ap, void *);
	va_end(ap);
	return fn.easy_getinfo(curl, info, p);
}

CURLcode curl_easy_perform(CURL *curl)
{
	return fn.easy_perform(curl);
}

const char *curl_easy_strerror(CURLcode code)
{
	return curl_load() == 0 ? fn.easy_strerror(code) : "libcurl could not be loaded";
}

struct curl_slist *curl_slist_append(struct curl_slist *list, const char *s)
{
	return curl_load() == 0 ? fn.slist_append(list, s) : NULL;
}

void curl_slist_free_all(struct curl_slist *list)
{
	if (list && loaded)
		fn.slist_free_all(list);
}
