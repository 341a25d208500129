/*
 * Offline symbolization of recorded stack frames with elfutils' libdw (symbolize.h).
 *
 * The address bias. A frame's OFFSET is the pc minus the link_map's l_addr, which is the
 * difference between the addresses the object was loaded at and the virtual addresses its
 * file was linked at. OFFSET is therefore an address of the file's own address space
 * whatever the file's type: for a position-independent program or a shared object
 * (ET_DYN, linked at 0) l_addr is where it was loaded, and for a program that is not
 * position independent (ET_EXEC) l_addr is 0 and OFFSET is the absolute address, which is
 * the file's too. Each module gets a Dwfl of its own and is reported with
 * dwfl_report_elf at base 0 with add_p_vaddr set, which places an ET_DYN file at its own
 * addresses (ET_EXEC files are always placed there), so that a Dwfl address is OFFSET.
 * dwfl_report_offline would not do: it moves every ET_DYN file to 0x10000 and up. The
 * bias dwfl_module_getelf reports (0 here) is added all the same, and the separate debug
 * file's own bias is libdw's (dwfl_module_addrdie, dwfl_module_getdwarf).
 */
#include "symbolize.h"

#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEFAULT_MAX_OPEN 128

/*
 * Inline and namespace nesting deeper than this is not followed: real code stays far
 * below it, and a damaged debug section must not recurse without end.
 */
#define MAX_DIE_DEPTH 64

/* What /proc/self/exe's link says of a program whose file was removed while it ran. */
static const char deleted_suffix[] = " (deleted)";

/* The addresses of one compilation unit (one of its ranges) in its debug information. */
typedef struct cu_range {
    Dwarf_Addr lo, hi;
    Dwarf_Die cu;
} cu_range_t;

/* One module as first met: opened, or why it could not be. */
typedef struct module {
    char *path;            /* as the frame recorded it */
    uint64_t hash;
    ms_sym_status_t status; /* MS_SYM_OK when dwfl holds it (or held it before eviction) */
    int deleted;           /* opened at path without deleted_suffix: needs the build-id */
    int evicted;           /* was MS_SYM_OK, closed to keep descriptors: open again */
    Dwfl *dwfl;
    Dwfl_Module *mod;
    Dwarf_Addr bias;       /* Dwfl address minus file address */
    char *build_id;        /* lower-case hex; NULL when the file has none */
    uint64_t last_use;
    cu_range_t *cu_ranges; /* sorted by lo; built when libdw first places no unit */
    size_t n_cu_ranges;
    int cu_ranges_built;
} module_t;

struct ms_symbolizer {
    module_t **slots;      /* open addressing, linear probing; NULL is empty */
    size_t cap;            /* a power of two, or 0 before the first module */
    size_t count;
    size_t n_open;
    size_t max_open;
    uint64_t clock;
    char *scratch;         /* the last result's joined file name */
    size_t scratch_cap;
};

/* ---- frame text ------------------------------------------------------------------- */

static int hex_value(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/*
 * Whether "+0x" followed by hex digits and a space starts at line[i]; *digits_end is then
 * the index of that space.
 */
static int offset_mark_at(const char *line, size_t len, size_t i, size_t *digits_end)
{
    size_t j = i + 3;

    if (len - i < 5 || line[i] != '+' || line[i + 1] != '0' || line[i + 2] != 'x')
        return 0;
    while (j < len && hex_value((unsigned char)line[j]) >= 0)
        j++;
    if (j == i + 3 || j == len || line[j] != ' ')
        return 0;
    *digits_end = j;
    return 1;
}

int ms_frame_parse(const char *line, size_t len, ms_frame_t *out)
{
    size_t mark = 0, digits_end = 0, sym_end, i;
    int found = 0;
    uint64_t value = 0;
    unsigned significant = 0;

    if (out == NULL)
        return -EINVAL;
    memset(out, 0, sizeof *out);
    if (line == NULL || len == 0)
        return -EINVAL;
    if (memchr(line, '\0', len) != NULL || memchr(line, '\n', len) != NULL)
        return -EINVAL;

    /*
     * The last mark wins: a module path may hold "+0x1 " itself, the symbol and build-id
     * after the real mark hold no space. Hex digits never contain '+', so the digit runs
     * scanned here do not overlap and the scan is linear.
     */
    for (i = 0; i < len; i++) {
        size_t end;
        if (line[i] == '+' && offset_mark_at(line, len, i, &end)) {
            found = 1;
            mark = i;
            digits_end = end;
            i = end;
        }
    }
    if (!found || mark == 0)
        return -EINVAL;

    for (i = mark + 3; i < digits_end; i++) {
        const int d = hex_value((unsigned char)line[i]);
        if (significant == 0 && d == 0)
            continue; /* leading zeros do not count toward the 16 digits */
        if (++significant > 16)
            return -EINVAL;
        value = value << 4 | (uint64_t)d;
    }

    /* SYMBOL, then optionally one space and BUILDID; nothing else. */
    i = digits_end + 1;
    sym_end = i;
    while (sym_end < len && line[sym_end] != ' ')
        sym_end++;
    if (sym_end == i)
        return -EINVAL;
    if (sym_end < len) {
        const size_t id = sym_end + 1;
        if (id == len || (len - id) % 2 != 0)
            return -EINVAL;
        for (size_t k = id; k < len; k++)
            if (hex_value((unsigned char)line[k]) < 0)
                return -EINVAL;
        out->build_id = line + id;
        out->build_id_len = len - id;
    }

    if (!(mark == 1 && line[0] == '?')) {
        out->module = line;
        out->module_len = mark;
    }
    out->offset = value;
    if (!(sym_end - i == 1 && line[i] == '?')) {
        out->symbol = line + i;
        out->symbol_len = sym_end - i;
    }
    return 0;
}

const char *ms_sym_status_name(ms_sym_status_t status)
{
    switch (status) {
    case MS_SYM_OK:
        return "ok";
    case MS_SYM_NO_SYMBOLS:
        return "no symbols";
    case MS_SYM_MISSING:
        return "missing";
    case MS_SYM_REBUILT:
        return "rebuilt";
    case MS_SYM_NOT_ELF:
        return "not ELF";
    }
    return "unknown";
}

/* ---- opening a module ------------------------------------------------------------- */

/*
 * A module is read from its own file and nowhere else: a file found by its build-id in
 * place of the recorded path would make a missing or replaced file look fine. dwfl_report_elf
 * is given the descriptor, so this is asked only if libdw ever wants the main file again.
 */
static int no_find_elf(Dwfl_Module *mod, void **userdata, const char *modname,
                       Dwarf_Addr base, char **file_name, Elf **elfp)
{
    (void)mod;
    (void)userdata;
    (void)modname;
    (void)base;
    (void)file_name;
    (void)elfp;
    return -1;
}

/*
 * Separate debug information is looked up by build-id alone, under /usr/lib/debug
 * (the default path when debuginfo_path is NULL), which is where distributions' debug
 * packages put it. dwfl_standard_find_debuginfo would also search by .gnu_debuglink name,
 * but in elfutils 0.188 it then falls back to debuginfod, which loads libcurl into this
 * process and may download from the network; an offline analyzer does neither.
 */
static const Dwfl_Callbacks offline_callbacks = {
    .find_elf = no_find_elf,
    .find_debuginfo = dwfl_build_id_find_debuginfo,
    .section_address = dwfl_offline_section_address,
    .debuginfo_path = NULL,
};

/* Errors of open(2) that say nothing about the file but about this process's resources. */
static int is_resource_errno(int e)
{
    return e == EMFILE || e == ENFILE || e == ENOMEM;
}

static char *hex_string(const unsigned char *bits, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    char *hex = malloc(2 * n + 1);

    if (hex == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        hex[2 * i] = digits[bits[i] >> 4];
        hex[2 * i + 1] = digits[bits[i] & 0xf];
    }
    hex[2 * n] = '\0';
    return hex;
}

/*
 * Opens the file at path into m (status, and when MS_SYM_OK the Dwfl, module, bias and
 * build-id). Returns 0 with m->status saying what became of it, or a negative errno for a
 * want of resources, with nothing kept.
 */
static int open_elf(module_t *m, const char *path)
{
    struct stat st;
    unsigned char ident[EI_NIDENT];
    Dwfl *dwfl = NULL;
    Dwfl_Module *mod;
    Elf *elf;
    GElf_Ehdr ehdr;
    GElf_Addr id_vaddr = 0;
    const unsigned char *id_bits = NULL;
    Dwarf_Addr bias = 0;
    char *build_id = NULL;
    ssize_t got;
    int id_len;
    int fd = -1;
    int rc = 0;

    m->status = MS_SYM_MISSING;
    /*
     * Only regular files are opened: the path comes from a database, and opening a
     * device can act on it (a tape rewinds, a watchdog starts), a FIFO would block.
     */
    if (stat(path, &st) != 0) {
        if (is_resource_errno(errno))
            rc = -errno;
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        m->status = MS_SYM_NOT_ELF;
        goto out;
    }
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        if (is_resource_errno(errno))
            rc = -errno;
        goto out;
    }
    /* The path may have been replaced by something else since stat. */
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        m->status = MS_SYM_NOT_ELF;
        goto out;
    }
    /*
     * libdwfl would also accept a compressed ELF file (decompressing it whole into
     * memory) or a kernel image with a header; no loaded module is either.
     */
    got = pread(fd, ident, sizeof ident, 0);
    if (got < 0)
        goto out; /* cannot be read: as good as missing */
    if ((size_t)got < sizeof ident || memcmp(ident, ELFMAG, SELFMAG) != 0) {
        m->status = MS_SYM_NOT_ELF;
        goto out;
    }

    dwfl = dwfl_begin(&offline_callbacks);
    if (dwfl == NULL) {
        rc = -ENOMEM;
        goto out;
    }
    dwfl_report_begin(dwfl);
    mod = dwfl_report_elf(dwfl, path, path, fd, 0, true);
    if (mod == NULL) {
        /* Truncated, damaged or without a loadable segment. */
        m->status = MS_SYM_NOT_ELF;
        goto out;
    }
    fd = -1; /* libdwfl owns it now */
    if (dwfl_report_end(dwfl, NULL, NULL) != 0) {
        m->status = MS_SYM_NOT_ELF;
        goto out;
    }
    elf = dwfl_module_getelf(mod, &bias);
    if (elf == NULL || gelf_getehdr(elf, &ehdr) == NULL
        || (ehdr.e_type != ET_EXEC && ehdr.e_type != ET_DYN)) {
        /* An object file or a core file is never a loaded module. */
        m->status = MS_SYM_NOT_ELF;
        goto out;
    }
    id_len = dwfl_module_build_id(mod, &id_bits, &id_vaddr);
    if (id_len > 0) {
        build_id = hex_string(id_bits, (size_t)id_len);
        if (build_id == NULL) {
            rc = -ENOMEM;
            goto out;
        }
    }

    m->status = MS_SYM_OK;
    m->dwfl = dwfl;
    m->mod = mod;
    m->bias = bias;
    m->build_id = build_id;
    dwfl = NULL;
out:
    if (rc < 0)
        m->status = MS_SYM_MISSING;
    if (dwfl != NULL)
        dwfl_end(dwfl);
    if (fd >= 0)
        close(fd);
    return rc;
}

static void module_close(ms_symbolizer_t *s, module_t *m)
{
    if (m->dwfl != NULL) {
        dwfl_end(m->dwfl);
        s->n_open--;
    }
    m->dwfl = NULL;
    m->mod = NULL;
    free(m->build_id);
    m->build_id = NULL;
    free(m->cu_ranges);
    m->cu_ranges = NULL;
    m->n_cu_ranges = 0;
    m->cu_ranges_built = 0;
}

/* Closes the least recently used open module, to stay within max_open; 0 if none is open. */
static int evict_one(ms_symbolizer_t *s)
{
    module_t *lru = NULL;

    for (size_t i = 0; i < s->cap; i++) {
        module_t *const m = s->slots[i];
        if (m != NULL && m->dwfl != NULL && (lru == NULL || m->last_use < lru->last_use))
            lru = m;
    }
    if (lru == NULL)
        return 0;
    module_close(s, lru);
    lru->evicted = 1;
    return 1;
}

/*
 * Opens m->path, or for a program deleted while it ran the file now at its path without
 * the suffix (kept only on a build-id match, checked per frame). Returns 0 or a resource
 * error.
 */
static int module_open(ms_symbolizer_t *s, module_t *m)
{
    const size_t len = strlen(m->path);
    const size_t suffix = sizeof deleted_suffix - 1;
    int rc;

    while (s->n_open >= s->max_open && evict_one(s))
        ;
    m->deleted = 0;
    m->evicted = 0;
    rc = open_elf(m, m->path);
    if (rc == 0 && m->status == MS_SYM_MISSING && len > suffix
        && memcmp(m->path + len - suffix, deleted_suffix, suffix) == 0) {
        char *alive = strndup(m->path, len - suffix);
        rc = alive != NULL ? open_elf(m, alive) : -ENOMEM;
        free(alive);
        m->deleted = m->status == MS_SYM_OK;
        if (m->status != MS_SYM_OK)
            m->status = MS_SYM_MISSING; /* what matters is that the recorded file is gone */
    }
    if (m->dwfl != NULL)
        s->n_open++;
    if (rc < 0)
        m->evicted = 1; /* not known either way: opened again when next asked for */
    return rc;
}

static uint64_t hash_path(const char *p)
{
    uint64_t h = UINT64_C(0xcbf29ce484222325);

    for (; *p != '\0'; p++) {
        h ^= (unsigned char)*p;
        h *= UINT64_C(0x100000001b3);
    }
    return h;
}

static int table_grow(ms_symbolizer_t *s)
{
    const size_t cap = s->cap == 0 ? 64 : s->cap * 2;
    module_t **slots = calloc(cap, sizeof *slots);

    if (slots == NULL)
        return -ENOMEM;
    for (size_t i = 0; i < s->cap; i++) {
        module_t *const m = s->slots[i];
        size_t j;
        if (m == NULL)
            continue;
        for (j = (size_t)m->hash & (cap - 1); slots[j] != NULL; j = (j + 1) & (cap - 1))
            ;
        slots[j] = m;
    }
    free(s->slots);
    s->slots = slots;
    s->cap = cap;
    return 0;
}

/* The module of path, opened when first met (or again after eviction). */
static int module_get(ms_symbolizer_t *s, const char *path, module_t **out)
{
    const uint64_t h = hash_path(path);
    module_t *m;
    size_t j;
    int rc;

    *out = NULL;
    if (s->cap > 0) {
        for (j = (size_t)h & (s->cap - 1); (m = s->slots[j]) != NULL;
             j = (j + 1) & (s->cap - 1)) {
            if (m->hash == h && strcmp(m->path, path) == 0) {
                m->last_use = ++s->clock;
                if (m->evicted) {
                    rc = module_open(s, m);
                    if (rc < 0)
                        return rc; /* still evicted: tried again next time */
                }
                *out = m;
                return 0;
            }
        }
    }

    /* At most half full, so that probes stay short and always end. */
    if ((s->count + 1) * 2 > s->cap && (rc = table_grow(s)) < 0)
        return rc;
    m = calloc(1, sizeof *m);
    if (m == NULL)
        return -ENOMEM;
    m->path = strdup(path);
    if (m->path == NULL) {
        free(m);
        return -ENOMEM;
    }
    m->hash = h;
    m->last_use = ++s->clock;
    rc = module_open(s, m);
    if (rc < 0) {
        free(m->path);
        free(m);
        return rc;
    }
    for (j = (size_t)h & (s->cap - 1); s->slots[j] != NULL; j = (j + 1) & (s->cap - 1))
        ;
    s->slots[j] = m;
    s->count++;
    *out = m;
    return 0;
}

ms_symbolizer_t *ms_symbolizer_new(void)
{
    ms_symbolizer_t *s = calloc(1, sizeof *s);

    if (s != NULL)
        s->max_open = DEFAULT_MAX_OPEN;
    return s;
}

void ms_symbolizer_set_max_open(ms_symbolizer_t *s, size_t max_open)
{
    if (s == NULL)
        return;
    s->max_open = max_open > 0 ? max_open : 1;
    while (s->n_open > s->max_open && evict_one(s))
        ;
}

void ms_symbolizer_free(ms_symbolizer_t *s)
{
    if (s == NULL)
        return;
    for (size_t i = 0; i < s->cap; i++) {
        module_t *const m = s->slots[i];
        if (m == NULL)
            continue;
        module_close(s, m);
        free(m->path);
        free(m);
    }
    free(s->slots);
    free(s->scratch);
    free(s);
}

/* ---- looking an address up -------------------------------------------------------- */

/* A function's name as its symbol spells it: the linkage name when there is one. */
static const char *die_function_name(Dwarf_Die *die)
{
    Dwarf_Attribute attr;
    const char *name;

    name = dwarf_formstring(dwarf_attr_integrate(die, DW_AT_linkage_name, &attr));
    if (name == NULL)
        name = dwarf_formstring(dwarf_attr_integrate(die, DW_AT_MIPS_linkage_name, &attr));
    if (name == NULL)
        name = dwarf_diename(die);
    return name != NULL && name[0] != '\0' ? name : NULL;
}

/*
 * Descends from a function (or an inlined instance) into the inlined instances that
 * contain pc, through the blocks between them; *inner becomes the innermost.
 */
static int find_inlined(Dwarf_Die *parent, Dwarf_Addr pc, int depth, Dwarf_Die *inner)
{
    Dwarf_Die child;

    if (depth > MAX_DIE_DEPTH || dwarf_child(parent, &child) != 0)
        return 0;
    do {
        int has;
        switch (dwarf_tag(&child)) {
        case DW_TAG_inlined_subroutine:
            if (dwarf_haspc(&child, pc) == 1) {
                *inner = child;
                find_inlined(&child, pc, depth + 1, inner);
                return 1;
            }
            break;
        case DW_TAG_lexical_block:
        case DW_TAG_try_block:
        case DW_TAG_catch_block:
        case DW_TAG_with_stmt:
            /* A block without addresses of its own may still hold instances that have. */
            has = dwarf_haspc(&child, pc);
            if (has != 0 && find_inlined(&child, pc, depth + 1, inner))
                return 1;
            break;
        default:
            break;
        }
    } while (dwarf_siblingof(&child, &child) == 0);
    return 0;
}

/*
 * Finds the out-of-line function whose code holds pc among the children of parent (a
 * compilation unit, or a namespace or type that holds C++ definitions).
 */
static int find_function(Dwarf_Die *parent, Dwarf_Addr pc, int depth, Dwarf_Die *outer)
{
    Dwarf_Die child;

    if (depth > MAX_DIE_DEPTH || dwarf_child(parent, &child) != 0)
        return 0;
    do {
        switch (dwarf_tag(&child)) {
        case DW_TAG_subprogram:
            if (dwarf_haspc(&child, pc) == 1) {
                *outer = child;
                return 1;
            }
            break;
        case DW_TAG_namespace:
        case DW_TAG_module:
        case DW_TAG_class_type:
        case DW_TAG_structure_type:
        case DW_TAG_union_type:
            if (find_function(&child, pc, depth + 1, outer))
                return 1;
            break;
        default:
            break;
        }
    } while (dwarf_siblingof(&child, &child) == 0);
    return 0;
}

/*
 * What the debug information says of pc in the unit cu: the containing function's name
 * and the offset from its entry, and the innermost inlined function's name. Returns 1
 * when a function was found.
 */
static int dwarf_function(Dwarf_Die *cu, Dwarf_Addr pc, const char **outer_name,
                          Dwarf_Addr *outer_offset, const char **inner_name, int *inlined)
{
    Dwarf_Addr entry = 0;
    Dwarf_Die outer, inner;

    if (!find_function(cu, pc, 0, &outer))
        return 0;
    *outer_name = die_function_name(&outer);
    *outer_offset = dwarf_entrypc(&outer, &entry) == 0 && pc >= entry ? pc - entry : 0;
    *inlined = find_inlined(&outer, pc, 0, &inner);
    *inner_name = *inlined ? die_function_name(&inner) : *outer_name;
    if (*inner_name == NULL) {
        /* An inlined instance without a name: the function it is in is the best known. */
        *inner_name = *outer_name;
        *inlined = 0;
    }
    return *inner_name != NULL;
}

static int cmp_cu_range(const void *a, const void *b)
{
    const Dwarf_Addr x = ((const cu_range_t *)a)->lo, y = ((const cu_range_t *)b)->lo;

    return (x > y) - (x < y);
}

/*
 * Every compilation unit's address ranges, sorted. libdw (0.188) places an address in
 * its unit through .debug_aranges alone, which clang does not write by default, so that
 * nothing of a clang build would be found; the units' own ranges say the same. Built on
 * the first address libdw could not place; a failure leaves the table short, not wrong.
 */
static void build_cu_ranges(module_t *m, Dwarf *dw)
{
    Dwarf_CU *unit = NULL;
    Dwarf_Die cu;
    Dwarf_Half version;
    uint8_t unit_type;
    cu_range_t *v = NULL;
    size_t n = 0, cap = 0;

    m->cu_ranges_built = 1;
    while (dwarf_get_units(dw, unit, &unit, &version, &unit_type, &cu, NULL) == 0) {
        Dwarf_Addr base, lo, hi;
        ptrdiff_t off = 0;
        if (dwarf_tag(&cu) != DW_TAG_compile_unit)
            continue;
        while ((off = dwarf_ranges(&cu, off, &base, &lo, &hi)) > 0) {
            if (hi <= lo)
                continue;
            if (n == cap) {
                const size_t bigger = cap == 0 ? 64 : cap * 2;
                cu_range_t *const grown = realloc(v, bigger * sizeof *v);
                if (grown == NULL)
                    goto done;
                v = grown;
                cap = bigger;
            }
            v[n].lo = lo;
            v[n].hi = hi;
            v[n].cu = cu;
            n++;
        }
    }
done:
    if (n > 1)
        qsort(v, n, sizeof *v, cmp_cu_range);
    m->cu_ranges = v;
    m->n_cu_ranges = n;
}

/*
 * The compilation unit that holds the module address addr, and the bias from module
 * addresses to its debug information's; NULL when there is none (no debug information,
 * or none for that code).
 */
static Dwarf_Die *find_cu(module_t *m, Dwarf_Addr addr, Dwarf_Addr *bias, Dwarf_Die *mem)
{
    Dwarf_Die *cu = dwfl_module_addrdie(m->mod, addr, bias);
    Dwarf *dw;
    Dwarf_Addr pc;
    size_t lo = 0, hi;

    if (cu != NULL)
        return cu;
    dw = dwfl_module_getdwarf(m->mod, bias);
    if (dw == NULL)
        return NULL;
    if (!m->cu_ranges_built)
        build_cu_ranges(m, dw);
    /* The last range that starts at or below pc, if it reaches past pc. */
    pc = addr - *bias;
    hi = m->n_cu_ranges;
    while (lo < hi) {
        const size_t mid = lo + (hi - lo) / 2;
        if (m->cu_ranges[mid].lo <= pc)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0 || pc >= m->cu_ranges[lo - 1].hi)
        return NULL;
    *mem = m->cu_ranges[lo - 1].cu;
    return mem;
}

/*
 * A line's file as a path: a relative name in the line table is relative to the unit's
 * compilation directory, which is put in front (into s->scratch) as eu-addr2line does.
 * Falls back on the bare name when out of memory.
 */
static const char *line_file(ms_symbolizer_t *s, Dwarf_Die *cu, const char *file)
{
    Dwarf_Attribute attr;
    const char *dir;
    size_t need;

    if (file[0] == '/')
        return file;
    dir = dwarf_formstring(dwarf_attr(cu, DW_AT_comp_dir, &attr));
    if (dir == NULL || dir[0] == '\0')
        return file;
    need = strlen(dir) + 1 + strlen(file) + 1;
    if (need > s->scratch_cap) {
        char *const bigger = realloc(s->scratch, need);
        if (bigger == NULL)
            return file;
        s->scratch = bigger;
        s->scratch_cap = need;
    }
    snprintf(s->scratch, s->scratch_cap, "%s/%s", dir, file);
    return s->scratch;
}

static void resolve(ms_symbolizer_t *s, module_t *m, uint64_t offset, ms_sym_t *out)
{
    const Dwarf_Addr addr = offset + m->bias;
    GElf_Sym sym;
    GElf_Off sym_offset = 0;
    const char *name, *outer_name = NULL, *inner_name = NULL;
    Dwarf_Addr dwbias = 0, outer_offset = 0;
    Dwarf_Die cu_mem, *cu;
    int inlined = 0;

    name = dwfl_module_addrinfo(m->mod, addr, &sym_offset, &sym, NULL, NULL, NULL);
    if (name != NULL && name[0] != '\0') {
        out->symbol = name;
        out->symbol_offset = sym_offset;
    }
    cu = find_cu(m, addr, &dwbias, &cu_mem);
    if (cu != NULL) {
        const Dwarf_Addr pc = addr - dwbias;
        Dwarf_Line *line = dwarf_getsrc_die(cu, pc);
        const char *file = line != NULL ? dwarf_linesrc(line, NULL, NULL) : NULL;
        if (file != NULL && file[0] != '\0') {
            int lineno = 0, col = 0;
            dwarf_lineno(line, &lineno);
            dwarf_linecol(line, &col);
            out->file = line_file(s, cu, file);
            out->line = lineno > 0 ? lineno : 0;
            out->column = col > 0 ? col : 0;
        }
        if (dwarf_function(cu, pc, &outer_name, &outer_offset, &inner_name, &inlined)) {
            out->function = inner_name;
            out->inlined = inlined;
            if (out->symbol == NULL && outer_name != NULL) {
                out->symbol = outer_name;
                out->symbol_offset = outer_offset;
            }
        }
    }
    if (out->function == NULL)
        out->function = out->symbol;
    out->status = out->function != NULL ? MS_SYM_OK : MS_SYM_NO_SYMBOLS;
}

int ms_symbolize(ms_symbolizer_t *s, const char *module, const char *build_id,
                 uint64_t offset, ms_sym_t *out)
{
    module_t *m;
    int rc;

    if (out == NULL)
        return -EINVAL;
    memset(out, 0, sizeof *out);
    out->status = MS_SYM_MISSING;
    if (s == NULL)
        return -EINVAL;
    /*
     * "?" is the shim's unknown module; a relative path (the vDSO's "linux-vdso.so.1", or
     * an object opened by a relative name) is relative to a directory nobody recorded.
     */
    if (module == NULL || module[0] != '/')
        return 0;
    rc = module_get(s, module, &m);
    if (rc < 0)
        return rc;
    if (m->status != MS_SYM_OK) {
        out->status = m->status;
        return 0;
    }
    if (build_id != NULL && build_id[0] != '\0') {
        if (m->build_id == NULL || strcasecmp(m->build_id, build_id) != 0) {
            out->status = MS_SYM_REBUILT;
            return 0;
        }
    } else if (m->deleted) {
        return 0; /* nothing proves the file now at the path is the one that ran */
    }
    resolve(s, m, offset, out);
    return 0;
}
