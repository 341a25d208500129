/*
 * The out-of-line case of the checked reading of one integer value (sweepdecode.h): a
 * file of its own, so that every part of the sweep reader can use it without depending
 * on the row decoding.
 */
#include "sweepdecode.h"

#include <math.h>

ms__vcheck_t ms__real_val(sqlite3_value *v, long long lo, long long hi, long long *out)
{
    const double d = sqlite3_value_double(v);
    long long n;

    if (!(d == floor(d)) || d < -9.0e18 || d > 9.0e18)
        return MS__V_TYPE;
    n = (long long)d;
    if (n < lo)
        return MS__V_LOW;
    if (n > hi)
        return MS__V_HIGH;
    *out = n;
    return MS__V_OK;
}
