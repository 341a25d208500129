/*
 * A library `memsweep run --preload` accepts as the shim (it carries the marker of this
 * version, include/memsweep/marker.h) but that does nothing: for tests of the launcher's
 * side of the spool, whose workers (ms_spoolwrite) write their pools themselves.
 */
#include "memsweep/marker.h"
#include "memsweep/version.h"

__attribute__((visibility("default"), used)) const char MS_SHIM_MARKER_SYM[] = MS_VERSION;
