/*
 * Offline symbolization of the stack frames the shim records (stacks.frames, docs/schema.md):
 * a frame's text is parsed, and the module it names is opened afterwards, by the analyzer,
 * possibly on another machine and long after the run, to find the function, source file and
 * line of the recorded offset. The shim itself only ever knows exported (dynamic) symbols;
 * static functions and the functions of a program linked without -rdynamic are named here,
 * from the file's .symtab or its debug information.
 *
 * The module is read with elfutils' libdw (Dwfl, offline), never loaded or run. A module
 * that was rebuilt since the run is detected by its build-id, when the frame recorded one,
 * and then left unnamed: a name from another build of the same path would be a lie.
 */
#ifndef MS_ANALYZER_SYMBOLIZE_H
#define MS_ANALYZER_SYMBOLIZE_H

#include <stddef.h>
#include <stdint.h>

/*
 * One frame line, `MODULE+0xOFFSET SYMBOL[ BUILDID]`, as ms_frame_parse splits it. The
 * pointers point into the parsed line, which must outlive the frame; they are not
 * NUL-terminated (copy module and build_id, with their lengths, before passing them to
 * ms_symbolize). MODULE may contain spaces, so the line is split at the last "+0x" that is
 * followed by hex digits and a space; SYMBOL and BUILDID never contain spaces. A line whose
 * symbol itself ends in "+0x<hex>" and carries a build-id is therefore read with the
 * symbol as part of the module; the shim never records such a symbol.
 */
typedef struct ms_frame {
    const char *module;   /* NULL when the module was unknown ("?") */
    size_t module_len;
    uint64_t offset;      /* from the module's load bias, or the address when module is NULL */
    const char *symbol;   /* the shim's dynamic symbol; NULL when it found none ("?") */
    size_t symbol_len;
    const char *build_id; /* hex digits, an even number of them; NULL when not recorded */
    size_t build_id_len;
} ms_frame_t;

/*
 * Splits one frame line of len bytes (without its newline) into *out. Pure: reads nothing
 * outside line[0, len), allocates nothing, and accepts any bytes. Returns 0, or -EINVAL
 * (with *out cleared) when the text is not a frame: empty, holding a NUL or a newline, an
 * empty module, an offset without hex digits or with more than 16 significant ones, or
 * anything but one symbol and an optional even-length hex build-id after it.
 */
int ms_frame_parse(const char *line, size_t len, ms_frame_t *out);

/* What ms_symbolize could say about a frame. */
typedef enum ms_sym_status {
    MS_SYM_OK = 0,     /* a function was found (function is set) */
    MS_SYM_NO_SYMBOLS, /* the module is a readable ELF object, but no symbol and no debug
                          information covers the offset (a stripped program's own code) */
    MS_SYM_MISSING,    /* no module was recorded, or the file does not exist or cannot be
                          opened, or it was deleted while the program ran and no build-id
                          proves the file now at its path is the same */
    MS_SYM_REBUILT,    /* the file's build-id is not the recorded one (or it has none):
                          it is another build, so nothing is looked up in it */
    MS_SYM_NOT_ELF     /* not a regular file, or not an ELF program or shared object that
                          libelf can read (truncated and damaged files included) */
} ms_sym_status_t;

/* A short lower-case description of a status for messages ("rebuilt", "not ELF", ...). */
const char *ms_sym_status_name(ms_sym_status_t status);

/*
 * What is known about one frame. The strings belong to the symbolizer and stay valid until
 * the next ms_symbolize, ms_symbolizer_set_max_open or ms_symbolizer_free call on it (a
 * later call may close the module they come from). Names are as the file spells them: C++ names stay mangled, because the
 * demangler (__cxa_demangle) lives in the C++ runtime, which a C program should not link
 * for this.
 */
typedef struct ms_sym {
    ms_sym_status_t status;
    /*
     * The innermost function at the offset: from the debug information when there is
     * some, so that code inlined into another function is named after the function it
     * was written in; else the ELF symbol. NULL unless status is MS_SYM_OK.
     */
    const char *function;
    int inlined;             /* function was inlined at this offset into symbol */
    /*
     * The out-of-line function whose code contains the offset: the ELF symbol (.symtab,
     * which names static functions too, else .dynsym; a separate debug file's .symtab
     * counts, and may spell a versioned name "name@@VERSION"), or the outermost function
     * of the debug information when no symbol covers it. NULL when neither does.
     */
    const char *symbol;
    uint64_t symbol_offset;  /* bytes from the start of symbol; 0 when symbol is NULL */
    /*
     * The source file of the offset's line, put after its compilation directory when the
     * line table names it relatively (as eu-addr2line prints it); NULL without line info.
     */
    const char *file;
    int line;                /* 0 when unknown */
    int column;              /* 0 when unknown */
} ms_sym_t;

/*
 * A symbolizer: a cache of the modules it has opened, each opened once and kept open (up
 * to a limit, see ms_symbolizer_set_max_open) until ms_symbolizer_free; a file that is
 * missing or not ELF is remembered as such. No global state: symbolizers are independent,
 * but one must not be used by two threads at once. ms_symbolizer_new returns NULL when out
 * of memory.
 */
typedef struct ms_symbolizer ms_symbolizer_t;

ms_symbolizer_t *ms_symbolizer_new(void);
void ms_symbolizer_free(ms_symbolizer_t *s); /* NULL is ignored */

/*
 * How many modules are held open at once (each holds a descriptor, two with a separate
 * debug file, and its mappings); the least recently used is closed beyond it and opened
 * again when it is next asked for. The default, 128, stays well below the usual limit of
 * 1024 descriptors. A max_open of 0 is taken as 1.
 */
void ms_symbolizer_set_max_open(ms_symbolizer_t *s, size_t max_open);

/*
 * Looks up offset (a frame's OFFSET: the address minus the module's load bias, which is
 * an address of the file's own virtual address space for a position-independent program
 * or shared object and the absolute address for a program that is not) in the module at
 * path module, and fills *out. build_id is the frame's build-id in hex, or NULL (or "")
 * when none was recorded; the module is then trusted to be the file that ran. A module
 * path that is not absolute is MS_SYM_MISSING, never looked for in the current directory
 * (the vDSO's "linux-vdso.so.1" is one). A module path ending in " (deleted)", as
 * /proc/self/exe names a program replaced while it ran, is looked up without that suffix,
 * but only when a build-id proves the file now there is the same.
 *
 * The module is opened and read with libelf and libdw; separate debug information is
 * looked up by build-id under /usr/lib/debug/.build-id, never by name and never through
 * debuginfod (no network). A truncated or damaged file gives a status: libelf checks its
 * reads against the file's size, and the tests feed truncated and randomly damaged copies.
 * A file truncated while it is open (mapped) can still end the process with SIGBUS.
 *
 * Returns 0 whatever the status; -EINVAL when s or out is NULL; -EMFILE, -ENFILE or
 * -ENOMEM when the module could not be opened for want of resources (nothing is cached
 * then, so a later call tries again). On error out->status is MS_SYM_MISSING.
 */
int ms_symbolize(ms_symbolizer_t *s, const char *module, const char *build_id,
                 uint64_t offset, ms_sym_t *out);

#endif /* MS_ANALYZER_SYMBOLIZE_H */
