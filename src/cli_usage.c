/*
 * cli_usage.c - clawcgi usage: the usage log summed over a time range, in
 * total or by agent, key, user, model or day: requests, errors (status >=
 * 400), tokens, and the p50/p95 latency (nearest rank), as a table or JSON.
 */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "config.h"
#include "store.h"

#define DAY_MS (86400 * 1000LL)

static const char usage_usage[] =
	"usage: clawcgi usage [--config FILE] [--since DATE] [--until DATE]\n"
	"                     [--by agent|key|user|model|day] [--json]\n"
	"DATE is YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS], UTC; --until a day includes it.\n";

struct group {
	char name[300];
	long requests, errors;
	long estimated; /* requests whose tokens are an estimate */
	long long prompt, completion;
	double *lat; /* every request's latency, ms */
	size_t nlat, cap;
};

struct tally {
	const char *by; /* NULL: the total only */
	struct group *groups;
	size_t n, cap;
	struct group total;
	bool nomem;
};

/* "YYYY-MM-DD[THH:MM[:SS]]" (UTC) -> ms; a bare day's end when end_of_day. */
static int parse_date(const char *s, bool end_of_day, long long *out)
{
	struct tm tm;
	const char *rest;

	memset(&tm, 0, sizeof tm);
	if (!(rest = strptime(s, "%Y-%m-%d", &tm)))
		return -1;
	if (*rest) {
		const char *r2 = strptime(rest, "T%H:%M", &tm);
		if (!r2)
			return -1;
		if (*r2 && (!(r2 = strptime(r2, ":%S", &tm)) || *r2))
			return -1;
		end_of_day = false;
	}
	*out = (long long)timegm(&tm) * 1000 + (end_of_day ? DAY_MS : 0);
	return 0;
}

static void group_key(const struct tally *t, const struct store_usage *row, char *out, size_t n)
{
	const char *by = t->by;

	if (!strcmp(by, "agent")) {
		snprintf(out, n, "%s", row->agent_id ? row->agent_id : "-");
	} else if (!strcmp(by, "model")) {
		snprintf(out, n, "%s", row->model ? row->model : "-");
	} else if (!strcmp(by, "day")) {
		time_t sec = (time_t)(row->time / 1000);
		struct tm tm;
		gmtime_r(&sec, &tm);
		strftime(out, n, "%Y-%m-%d", &tm);
	} else { /* key, user: rows of the other kinds as "(operator)" etc. */
		bool match = !strcmp(row->auth_kind, by);
		if (match)
			snprintf(out, n, "%s", row->auth_name ? row->auth_name : "-");
		else
			snprintf(out, n, "(%s)", row->auth_kind);
	}
}

static int add_to(struct group *g, const struct store_usage *row)
{
	g->requests++;
	g->errors += row->status >= 400;
	g->estimated += row->estimated;
	g->prompt += row->prompt_tokens;
	g->completion += row->completion_tokens;
	if (g->nlat == g->cap) {
		size_t cap = g->cap ? 2 * g->cap : 64;
		double *p = realloc(g->lat, cap * sizeof *p);
		if (!p)
			return -1;
		g->lat = p;
		g->cap = cap;
	}
	g->lat[g->nlat++] = row->latency_ms;
	return 0;
}

static int on_row(void *ctx, const struct store_usage *row)
{
	struct tally *t = ctx;
	char key[300];
	size_t i;

	if (add_to(&t->total, row) < 0)
		goto nomem;
	if (!t->by)
		return 0;
	group_key(t, row, key, sizeof key);
	for (i = 0; i < t->n && strcmp(t->groups[i].name, key); i++)
		;
	if (i == t->n) {
		if (t->n == t->cap) {
			size_t cap = t->cap ? 2 * t->cap : 16;
			struct group *p = realloc(t->groups, cap * sizeof *p);
			if (!p)
				goto nomem;
			t->groups = p;
			t->cap = cap;
		}
		memset(&t->groups[t->n], 0, sizeof t->groups[t->n]);
		snprintf(t->groups[t->n].name, sizeof t->groups[t->n].name, "%s", key);
		t->n++;
	}
	if (add_to(&t->groups[i], row) < 0)
		goto nomem;
	return 0;
nomem:
	t->nomem = true;
	return -1;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static int cmp_group(const void *a, const void *b)
{
	return strcmp(((const struct group *)a)->name, ((const struct group *)b)->name);
}

/* The nearest-rank percentile p (0-100) of g's latencies (sorted). */
static double pct(const struct group *g, double p)
{
	size_t rank;

	if (!g->nlat)
		return 0;
	rank = (size_t)((p / 100.0) * (double)g->nlat + 0.999999);
	if (rank < 1)
		rank = 1;
	return g->lat[rank - 1];
}

static void print_group(const struct group *g)
{
	printf("%-32s %9ld %7ld %14lld %14lld %10.1f %10.1f\n", g->name, g->requests, g->errors,
	       g->prompt, g->completion, pct(g, 50), pct(g, 95));
}

static cJSON *group_json(const struct group *g)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "group", g->name);
	cJSON_AddNumberToObject(o, "requests", (double)g->requests);
	cJSON_AddNumberToObject(o, "errors", (double)g->errors);
	cJSON_AddNumberToObject(o, "prompt_tokens", (double)g->prompt);
	cJSON_AddNumberToObject(o, "completion_tokens", (double)g->completion);
	cJSON_AddNumberToObject(o, "estimated", (double)g->estimated);
	cJSON_AddNumberToObject(o, "p50_ms", pct(g, 50));
	cJSON_AddNumberToObject(o, "p95_ms", pct(g, 95));
	return o;
}

int cli_usage(const char *config_path, int argc, char **argv)
{
	struct tally t;
	struct cfg *c = NULL;
	struct store *st = NULL;
	long long since = 0, until = (long long)4e15;
	bool json = false;
	struct err e;
	int status = 1;

	memset(&t, 0, sizeof t);
	snprintf(t.total.name, sizeof t.total.name, "total");
	for (int i = 0; i < argc; i++) {
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(argv[i], "--json")) {
			json = true;
		} else if (!strcmp(argv[i], "--since") && v) {
			if (parse_date(v, false, &since) < 0)
				goto bad_date;
			i++;
		} else if (!strcmp(argv[i], "--until") && v) {
			if (parse_date(v, true, &until) < 0)
				goto bad_date;
			i++;
		} else if (!strcmp(argv[i], "--by") && v &&
			   (!strcmp(v, "agent") || !strcmp(v, "key") || !strcmp(v, "user") ||
			    !strcmp(v, "model") || !strcmp(v, "day"))) {
			t.by = v;
			i++;
		} else {
			fputs(usage_usage, stderr);
			return 2;
		}
	}
	if (cli_open(config_path, &c, &st) < 0)
		return 1;
	if (store_usage_scan(st, since, until, on_row, &t, &e) < 0) {
		fprintf(stderr, "clawcgi: %s\n", t.nomem ? "out of memory" : e.message);
		goto out;
	}
	if (t.n) /* qsort may not be given NULL, even for nothing */
		qsort(t.groups, t.n, sizeof *t.groups, cmp_group);
	for (size_t i = 0; i < t.n; i++)
		qsort(t.groups[i].lat, t.groups[i].nlat, sizeof(double), cmp_double);
	if (t.total.nlat)
		qsort(t.total.lat, t.total.nlat, sizeof(double), cmp_double);
	if (json) {
		cJSON *o = cJSON_CreateObject(), *arr;
		char *text;
		cJSON_AddStringToObject(o, "by", t.by ? t.by : "total");
		arr = cJSON_AddArrayToObject(o, "groups");
		for (size_t i = 0; i < t.n; i++)
			cJSON_AddItemToArray(arr, group_json(&t.groups[i]));
		cJSON_AddItemToObject(o, "total", group_json(&t.total));
		text = cJSON_Print(o);
		if (text)
			printf("%s\n", text);
		free(text);
		cJSON_Delete(o);
	} else {
		printf("%-32s %9s %7s %14s %14s %10s %10s\n", t.by ? t.by : "", "REQUESTS",
		       "ERRORS", "PROMPT_TOKENS", "COMPL_TOKENS", "P50_MS", "P95_MS");
		for (size_t i = 0; i < t.n; i++)
			print_group(&t.groups[i]);
		print_group(&t.total);
	}
	if (!c->usage.enabled)
		fprintf(stderr, "note: usage.enabled is false in %s: no new rows are logged\n",
			c->path);
	status = 0;
out:
	for (size_t i = 0; i < t.n; i++)
		free(t.groups[i].lat);
	free(t.groups);
	free(t.total.lat);
	store_close(st);
	cfg_free(c);
	return status;
bad_date:
	fprintf(stderr, "clawcgi: a DATE is YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS] (UTC)\n");
	return 2;
}
