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
 * Reads column col as a whole number in [lo, hi]. A REAL that holds a whole number (a
 * column without INTEGER affinity keeps 5.0 as REAL) is that number; text and blobs are
 * never numbers here, even when they spell one.
 */
ms__vcheck_t ms__int_col(sqlite3_stmt *st, int col, long long lo, long long hi, long long *out);

#endif
