/*
 * curl_load.h - libcurl is loaded on first use (see curl_load.c), so a
 * CGI request that makes no HTTP call does not pay for loading it.  Call
 * curl_* as usual; these are for the process's start and end.
 */
#ifndef CLAW_CURL_LOAD_H
#define CLAW_CURL_LOAD_H

#include <curl/curl.h>

/* Load libcurl now (a FastCGI server does at start): 0, or -1 after
 * logging why.  Safe from any thread, loads once. */
int curl_load(void);
/* 1 once libcurl is loaded. */
int curl_is_loaded(void);
/* At exit: curl_global_cleanup if libcurl was loaded. */
void curl_unload(void);

#endif
