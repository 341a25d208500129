/*
 * The one home of memsweep's database code: opening a sweep database for reading or
 * writing, creating and upgrading its schema (schema.h), checking that a file is a
 * memsweep database this version can read, the map from SQLite's result codes to errno
 * codes and the handler that waits for another connection's lock. The launcher, the
 * collector, `memsweep collect` and the readers all go through it.
 *
 * Functions that fail return a negative errno-style code and put a one-line message
 * "<db path>: <reason>" (without the "memsweep: " prefix) in err.
 */
#ifndef MS_STORE_STORE_H
#define MS_STORE_STORE_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

/*
 * Maps an SQLite result code (primary or extended) to a negative errno code: SQLITE_OK,
 * ROW and DONE to 0, BUSY and LOCKED to -EBUSY, NOMEM -ENOMEM, FULL -ENOSPC, READONLY,
 * PERM and AUTH -EACCES, CANTOPEN -ENOENT, NOTADB and CORRUPT -EPROTO, the rest -EIO.
 */
int ms_store_errno(int sqlite_rc);

/*
 * Installs memsweep's busy handler on db: it looks again for the lock after short sleeps
 * (50 us at first, growing to 5 ms), because writers hold it for a fraction of a
 * millisecond and SQLite's own timeout would sleep a whole one first; it gives up after
 * MS_BUSY_TIMEOUT_MS in all. The state of a wait is the calling thread's, so a connection
 * must not be shared by two threads at once (SQLITE_OPEN_NOMUTEX).
 */
void ms_store_busy_install(sqlite3 *db);

/*
 * Says why an operation on db (named path) failed, in one line: a damaged file as such
 * (with its length when it is shorter than its header says), a file that is not SQLite's
 * as not a memsweep database, anything else in SQLite's words.
 */
void ms_store_db_error(sqlite3 *db, const char *path, char *err, size_t errlen);

/*
 * Checks that db is a memsweep database this version reads: application_id, and a
 * user_version from 1 to MS_SCHEMA_VERSION. Sets *version. -EINVAL ("not a memsweep
 * database", or a header that cannot be read: see ms_store_db_error), or -EPROTONOSUPPORT
 * ("schema version N is newer than this memsweep reads").
 */
int ms_store_check(sqlite3 *db, const char *path, long long *version, char *err,
                   size_t errlen);

/*
 * Opens the existing database at path read-only, with the busy handler, after checking it
 * is a non-empty regular file (SQLite would take an empty one for an empty database), and
 * checks it with ms_store_check. -ENOENT when there is no such file.
 */
int ms_store_open_read(const char *path, sqlite3 **db, char *err, size_t errlen);

/* ms_store_open_write flags */
#define MS_STORE_CREATE 0x1 /* create the file and the schema when there is none */

/*
 * Opens the database at path for writing: read-write, the busy handler, synchronous
 * NORMAL. A missing or empty file gets the whole schema when flags has MS_STORE_CREATE
 * (else -ENOENT); an existing memsweep database of an older schema gets what version
 * MS_SCHEMA_VERSION added (ms_store_upgrade). The journal mode is left as the file has it.
 */
int ms_store_open_write(const char *path, int flags, sqlite3 **db, char *err, size_t errlen);

/*
 * Creates every table and sets application_id and user_version, in one transaction, on
 * a database that has none of memsweep's tables yet. Idempotent.
 */
int ms_store_create_schema(sqlite3 *db, const char *path, char *err, size_t errlen);

/*
 * Brings a memsweep database of schema 1 to 4 up to date: adds the
 * columns and tables of version 5 and sets user_version, in one transaction. Readers use
 * it on a private copy; writers before they fold. Does nothing on a current database.
 */
int ms_store_upgrade(sqlite3 *db, const char *path, char *err, size_t errlen);

/*
 * The integer in the first column of the first row of sql, or fallback when the query
 * fails or gives no row (for figures where "unknown" and a default are the same).
 */
long long ms_store_int(sqlite3 *db, const char *sql, long long fallback);

/* Whether table has column (0 or 1 in *found); the code of a failed read otherwise. */
int ms_store_has_column(sqlite3 *db, const char *table, const char *column, int *found);

/* Runs sql (no rows) on db; on failure the message says what failed. */
int ms_store_exec(sqlite3 *db, const char *path, const char *sql, const char *what, char *err,
                  size_t errlen);

/*
 * Switches a database to the rollback journal, so that it is one self-contained file,
 * when no other connection has it open; otherwise leaves it in WAL mode without waiting.
 * Returns 1 when the database is now in journal mode DELETE, 0 when it is not.
 */
int ms_store_self_contained(sqlite3 *db);

#endif
