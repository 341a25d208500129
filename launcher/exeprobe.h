/*
 * Why a run was not measured. The dynamic loader is what loads the shim (LD_PRELOAD), so a
 * program it does not start, or starts in secure mode, runs without it: a statically
 * linked program, a setuid or setgid program owned by another user or group, one with file
 * capabilities, or one built for another architecture than the shim. When a run ends
 * without any process row, the launcher asks this module what the program it started says
 * about that, and records the answer in runs.uninstrumented.
 *
 * The launcher also asks it, before a sweep starts, whether the file it is to preload is
 * memsweep's shim at all (ms_shim_check_file), and whether a program exists.
 *
 * The ELF readers work on bytes the caller read, so unit tests call them on fixed headers;
 * the rest reads the file system as execvp and the kernel would.
 */
#ifndef MS_LAUNCHER_EXEPROBE_H
#define MS_LAUNCHER_EXEPROBE_H

#include <stddef.h>
#include <stdint.h>

/* Bytes of an ELF header that ms_elf_header needs: the 64-bit header, the larger one. */
#define MS_ELF_HEADER_MAX 64

/* Longest program header table read; real programs have a dozen entries. */
#define MS_ELF_PHNUM_MAX 1024

/* What an ELF header says, in host byte order. */
typedef struct ms_elf {
    int elf_class;      /* ELFCLASS32 or ELFCLASS64 */
    int data;           /* ELFDATA2LSB or ELFDATA2MSB */
    int machine;        /* e_machine */
    uint64_t phoff;     /* file offset of the program header table */
    unsigned phentsize; /* size of one entry */
    unsigned phnum;     /* number of entries */
} ms_elf_t;

/*
 * Reads an ELF header from the first len bytes of a file. Returns 0, -ENOEXEC when the
 * bytes are not an ELF header of a class and byte order this module knows, or -EINVAL
 * when the header's program header table cannot be read (a size that is not the class's).
 * A header of the other byte order is returned with only elf_class, data and machine
 * set (machine as stored), since a host cannot run such a program anyway.
 */
int ms_elf_header(const unsigned char *buf, size_t len, ms_elf_t *out);

/*
 * Whether the program header table in buf (len bytes read at e->phoff) has a PT_INTERP
 * entry, i.e. names a dynamic loader: 1 if it has, 0 if it has not (a statically linked
 * program), -EINVAL when len does not hold e->phnum entries.
 */
int ms_elf_has_interp(const ms_elf_t *e, const unsigned char *buf, size_t len);

/*
 * The interpreter a "#!" line names (the first word after "#!", blanks skipped), copied
 * to out (outlen bytes). Returns 0, -ENOEXEC when buf does not start with "#!" or names
 * nothing, -ENAMETOOLONG when the name does not fit.
 */
int ms_shebang_interp(const unsigned char *buf, size_t len, char *out, size_t outlen);

/*
 * Finds the file execvp would execute for name: name itself when it holds a '/', else
 * the first directory of path_env (":"-separated, an empty entry meaning the current
 * directory; "/bin:/usr/bin" when path_env is NULL) holding an executable regular file of
 * that name. Returns 0 with a new string in *out, -ENOMEM, or the errno execvp would
 * report (-ENOENT, -EACCES, ...).
 */
int ms_exe_resolve(const char *name, const char *path_env, char **out);

/*
 * Why the loader would start the file at path without the shim, as one line for
 * runs.uninstrumented ("statically linked: PATH", "setuid: PATH (owned by uid N)", ...),
 * or NULL when nothing in the file says so (a dynamically linked program, to be run
 * normally) or on ENOMEM. A "#!" script is judged by its interpreter. uid and gid are
 * the real ids the program starts with.
 */
char *ms_exe_unloadable(const char *path, unsigned uid, unsigned gid);

/*
 * The class, byte order and machine of the launcher itself (its /proc/self/exe), which
 * the shim must share. Returns 0, or -ENOENT when it cannot be read.
 */
int ms_elf_self(ms_elf_t *own);

/*
 * Whether the file image img (its len bytes) is memsweep's shim: an ELF shared object of
 * the class, byte order and machine of own (NULL: not compared) whose dynamic symbol table
 * defines the marker of include/memsweep/marker.h, a NUL-terminated string stored in the
 * file. Returns 0 with the marker's text (the shim's version) copied to version (vlen
 * bytes); otherwise a negative code, and why the file is not the shim in why (whylen
 * bytes, a phrase such as "not an ELF file"): -ENOEXEC (not an ELF shared object), -EXDEV
 * (built for another architecture), -ENOMSG (no marker), -EBADMSG (a table or the marker
 * lies outside the file, or is malformed). Reads only inside img, whatever it holds.
 */
int ms_shim_marker(const unsigned char *img, size_t len, const ms_elf_t *own, char *version,
                   size_t vlen, char *why, size_t whylen);

/*
 * ms_shim_marker on the file at path, compared with the launcher's own ELF header. Returns
 * its result (an empty file is -ENOEXEC), or the negative errno of opening or mapping the
 * file, none of ms_shim_marker's codes, with strerror's text in why.
 */
int ms_shim_check_file(const char *path, char *version, size_t vlen, char *why,
                       size_t whylen);

/*
 * The program a shell line starts, when that can be told without running the line: its
 * first word (after an optional "exec") when that is a plain program name or path, not a
 * keyword or built-in command of sh (dash's or bash's), not an option ("exec -a NAME"),
 * and not a function the line defines ("f() { ...; }; f"). A new string, or NULL when the line starts otherwise (an
 * assignment, a quote, an expansion, a redirection, a subshell) or on ENOMEM.
 */
char *ms_shell_first_program(const char *line);

/*
 * The text of runs.uninstrumented for a run that ended without any process row. argv is
 * the command it executed (template mode), or line the shell line run with "/bin/sh -c"
 * (commands mode); path_env the PATH execvp searched. Explains what the program says
 * (ms_exe_unloadable), that it could not be executed, or, when the program is dynamically
 * linked, that none of its processes reported. NULL only on ENOMEM.
 */
char *ms_unmeasured_reason(char *const *argv, const char *line, const char *path_env,
                           unsigned uid, unsigned gid);

#endif
