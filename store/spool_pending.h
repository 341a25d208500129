/*
 * How readers (`memsweep advise`, `peaks`) see records still in pools: they never write
 * the database nor remove a pool. When a database has pools pending, the reader gets a
 * private in-memory copy of it (sqlite3_backup: one consistent snapshot) with the pending
 * records folded in by the same code the collector runs; the cursors in the snapshot say
 * exactly what it already holds, so nothing is counted twice. Without pending pools the
 * reader reads the file itself, read-only.
 */
#ifndef MS_STORE_SPOOL_PENDING_H
#define MS_STORE_SPOOL_PENDING_H

#include <stddef.h>

#include <sqlite3.h>

/*
 * Opens the database at db_path for reading as described above. A db_path that does not
 * exist but whose spool directory holds pools (a program measured alone, never
 * collected) gives an in-memory database of those pools alone. A pool removed while it is
 * being read (its rows were committed by a collector meanwhile) makes it start over once.
 * Returns 0, or a negative errno code with a one-line message in err (-ENOENT: neither a
 * database nor pools).
 */
int ms_store_open_reader(const char *db_path, sqlite3 **db, char *err, size_t errlen);

#endif
