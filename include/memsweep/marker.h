/*
 * How the launcher recognises the shim. libmemsweep.so is built with hidden visibility
 * and exports, besides the functions it interposes, one data symbol: MS_SHIM_MARKER_SYM,
 * a NUL-terminated string holding the MS_VERSION it was built from. `memsweep run` reads
 * the dynamic symbol table of the file it is about to preload (without loading it) and
 * refuses one that does not define the symbol, or defines it with another version, so
 * that a wrong --preload cannot run a whole sweep unmeasured.
 */
#ifndef MS_MEMSWEEP_MARKER_H
#define MS_MEMSWEEP_MARKER_H

#define MS_SHIM_MARKER_SYM memsweep_shim_version

#define MS__MARKER_STR(x) #x
#define MS__MARKER_XSTR(x) MS__MARKER_STR(x)

/* The symbol's name as a string: "memsweep_shim_version". */
#define MS_SHIM_MARKER MS__MARKER_XSTR(MS_SHIM_MARKER_SYM)

/* Longest marker text the launcher reads, its NUL included. */
#define MS_SHIM_MARKER_MAX 64

#endif
