/*
 * store_copy.h - clawcgi store migrate's copy of a SQLite store into a
 * PostgreSQL one (store_copy.c; built with the PostgreSQL backend).
 */
#ifndef CLAW_STORE_COPY_H
#define CLAW_STORE_COPY_H

#include "store.h"
#include "store_pg.h"

struct store_copy_counts {
	struct store_import_counts read;  /* rows in the SQLite file */
	struct store_import_counts added; /* of them, rows the target lacked */
	long keys, keys_added;		  /* client keys in the file, and copied */
	long usage_added;		  /* usage rows copied */
};

/*
 * Copy every session of the SQLite file at sqlite_path (opened read-only)
 * with its messages and responses into to, a PostgreSQL store, one
 * transaction per session; rows the target already has are kept.  0 with
 * n filled, or -1 with e set (the sessions before the failing one stay
 * copied; running again goes on from there).
 */
int store_copy_from_sqlite(const char *sqlite_path, struct store *to, struct store_copy_counts *n,
			   struct err *e);

#endif
