/*
 * Private to the analyzer's sweep reader: the checked reading of one integer value, which
 * the row decoding of sweepdecode.c and the text lookups of sweeptext.c share.
 */
#ifndef MS_ANALYZER_SWEEPDECODE_H
#define MS_ANALYZER_SWEEPDECODE_H

#include <sqlite3.h>

/* The outcome of checking one integer value. */
typedef enum ms__vcheck { MS__V_OK, MS__V_NULL, MS__V_TYPE, MS__V_LOW, MS__V_HIGH } ms__vcheck_t;

/*
 * Checks v as a whole number in [lo, hi]. A REAL that holds a whole number (a column
 * without INTEGER affinity keeps 5.0 as REAL) is that number; text and blobs are never
 * numbers here, even when they spell one. The REAL case is out of line: stored figures
 * are integers, and this runs for every column of millions of samples.
 */
ms__vcheck_t ms__real_val(sqlite3_value *v, long long lo, long long hi, long long *out);

static inline ms__vcheck_t ms__int_val(sqlite3_value *v, long long lo, long long hi,
                                       long long *out)
{
    long long n;

    switch (sqlite3_value_type(v)) {
    case SQLITE_INTEGER:
        n = sqlite3_value_int64(v);
        break;
    case SQLITE_NULL:
        return MS__V_NULL;
    case SQLITE_FLOAT:
        return ms__real_val(v, lo, hi, out);
    default:
        return MS__V_TYPE;
    }
    if (n < lo)
        return MS__V_LOW;
    if (n > hi)
        return MS__V_HIGH;
    *out = n;
    return MS__V_OK;
}

/*
 * Reads column col as ms__int_val checks it. Every sqlite3_column_* call pays for SQLite's
 * column lookup and its error bookkeeping, so the column's value is fetched once and its
 * type and number read from that. The value is unprotected (it belongs to the statement),
 * which is safe here: the reader's connection is used by one thread only.
 */
static inline ms__vcheck_t ms__int_col(sqlite3_stmt *st, int col, long long lo, long long hi,
                                       long long *out)
{
    return ms__int_val(sqlite3_column_value(st, col), lo, hi, out);
}

#endif
