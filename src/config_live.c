/*
 * config_live.c - the process-wide current configuration (see
 * config_live.h): which snapshot is current, its reload when the file
 * changes, and the reference counts that free an old one after its last
 * request.  Behind one mutex.
 */
#include "config_live.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "log.h"

static pthread_mutex_t cur_lock = PTHREAD_MUTEX_INITIALIZER;
static struct cfg *cur;
static char *cur_path;
static struct stat cur_st; /* of the file cur came from */
static struct stat bad_st; /* of the last file that failed, logged once */
static bool have_bad;
static char bad_msg[CFG_ERR_MAX]; /* why the last file failed */

static bool same_file(const struct stat *a, const struct stat *b)
{
	return a->st_ino == b->st_ino && a->st_dev == b->st_dev && a->st_size == b->st_size &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

/* Called with cur_lock held. */
static void reload_locked(void)
{
	struct stat st;
	struct cfg *c;
	char errbuf[CFG_ERR_MAX];

	if (stat(cur_path, &st) < 0) {
		if (!have_bad || bad_st.st_ino != 0) {
			snprintf(bad_msg, sizeof bad_msg, "%s: cannot read the configuration: %s",
				 cur_path, strerror(errno));
			log_error("%s%s", bad_msg, cur ? "; keeping the last good one" : "");
			memset(&bad_st, 0, sizeof bad_st);
			have_bad = true;
		}
		return;
	}
	if (cur && same_file(&st, &cur_st))
		return;
	if (have_bad && same_file(&st, &bad_st))
		return;
	if (cfg_load(cur_path, &c, errbuf, sizeof errbuf) < 0) {
		log_error("%s%s", errbuf, cur ? " (keeping the last good configuration)" : "");
		snprintf(bad_msg, sizeof bad_msg, "%s", errbuf);
		bad_st = st;
		have_bad = true;
		return;
	}
	if (cur)
		log_info("%s: configuration reloaded", cur_path);
	if (cur && --cur->refs == 0)
		cfg_free(cur);
	cur = c;
	cur_st = st;
	have_bad = false;
}

int cfg_init(const char *path)
{
	pthread_mutex_lock(&cur_lock);
	free(cur_path);
	cur_path = strdup(path);
	if (cur_path)
		reload_locked();
	pthread_mutex_unlock(&cur_lock);
	return cur ? 0 : -1;
}

struct cfg *cfg_acquire(void)
{
	struct cfg *c;
	pthread_mutex_lock(&cur_lock);
	if (cur_path)
		reload_locked();
	c = cur;
	if (c)
		c->refs++;
	pthread_mutex_unlock(&cur_lock);
	return c;
}

void cfg_last_error(char *buf, size_t n)
{
	pthread_mutex_lock(&cur_lock);
	snprintf(buf, n, "%s", have_bad ? bad_msg : "no configuration loaded");
	pthread_mutex_unlock(&cur_lock);
}

void cfg_release(struct cfg *c)
{
	bool last;
	if (!c)
		return;
	pthread_mutex_lock(&cur_lock);
	last = --c->refs == 0;
	pthread_mutex_unlock(&cur_lock);
	if (last)
		cfg_free(c);
}

void cfg_shutdown(void)
{
	pthread_mutex_lock(&cur_lock);
	if (cur && --cur->refs == 0)
		cfg_free(cur);
	cur = NULL;
	free(cur_path);
	cur_path = NULL;
	have_bad = false;
	pthread_mutex_unlock(&cur_lock);
}
