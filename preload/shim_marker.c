/*
 * The shim's one exported data symbol, by which `memsweep run` tells this library from
 * any other file given to --preload (include/memsweep/marker.h). Read-only data: it
 * costs the program no page it would not share with every other process of the run.
 */
#include "memsweep/marker.h"
#include "memsweep/version.h"

__attribute__((visibility("default"), used)) const char MS_SHIM_MARKER_SYM[] = MS_VERSION;
