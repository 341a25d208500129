/* Version of the memsweep toolkit, shared by the shim, the launcher and the analyzer. */
#ifndef MS_MEMSWEEP_VERSION_H
#define MS_MEMSWEEP_VERSION_H

#define MS_VERSION "0.1.0"

#endif
