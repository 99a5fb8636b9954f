/*
 * store_rate_check.h - the checks of the token reservation and the
 * failed-auth minute (store.h: rate_reserve, usage_unauth_first) every
 * backend passes alike, included by test_store_sqlite.c and
 * test_store_pg.c: an empty window takes an estimate, one under tpm
 * another, one at tpm is refused and its request taken back, a negative
 * settle makes room; an address's failed request is the first of its
 * minute once.
 */
#ifndef CLAW_TEST_STORE_RATE_CHECK_H
#define CLAW_TEST_STORE_RATE_CHECK_H

#include <stdbool.h>

#include "check.h"
#include "store.h"

/* The checks on s in the window starting at w (ms; its "key:r" client
 * and addresses 10.0.0.8 and 10.0.0.9 unused before). */
static void check_rate_reserve(struct store *s, long long w)
{
	struct store_rate r;
	struct err e;

	CHECK(store_rate_take(s, "key:r", w, 0, 50, &r, &e) == 0 && r.allowed &&
		      store_rate_reserve(s, "key:r", w, 50, 45, &r, &e) == 0 && r.allowed &&
		      r.tokens == 45 && r.requests == 1,
	      "reserve: an empty window takes the estimate");
	CHECK(store_rate_take(s, "key:r", w, 0, 50, &r, &e) == 0 && r.allowed &&
		      store_rate_reserve(s, "key:r", w, 50, 45, &r, &e) == 0 && r.allowed &&
		      r.tokens == 90 && r.requests == 2,
	      "reserve: under tpm (45 of 50) another is admitted, past it by less than one");
	CHECK(store_rate_take(s, "key:r", w, 0, 0, &r, &e) == 0 && r.requests == 3 &&
		      store_rate_reserve(s, "key:r", w, 50, 1, &r, &e) == 0 && !r.allowed &&
		      r.tokens == 90 && r.requests == 2,
	      "reserve: at tpm refused, and the request taken back");
	CHECK(store_rate_add_tokens(s, "key:r", w, -80, &e) == 0 &&
		      store_rate_reserve(s, "key:r", w, 50, 5, &r, &e) == 0 && r.allowed &&
		      r.tokens == 15,
	      "settled below the estimates (a negative delta): room again");
	{
		bool first = false, again = true, other = false, next = false;
		CHECK(store_usage_unauth_first(s, "10.0.0.9", w, &first, &e) == 0 && first &&
			      store_usage_unauth_first(s, "10.0.0.9", w, &again, &e) == 0 &&
			      !again &&
			      store_usage_unauth_first(s, "10.0.0.8", w, &other, &e) == 0 &&
			      other &&
			      store_usage_unauth_first(s, "10.0.0.9", w + 60000, &next, &e) == 0 &&
			      next,
		      "failed auth: the first of an address's minute, once");
	}
}

#endif
