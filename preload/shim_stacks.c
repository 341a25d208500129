/*
 * Turns a captured stack into the text of stacks.frames (docs/schema.md), in the thread
 * that captured it (shim_trigger.c), before it tries the spool's writer: dladdr takes the
 * dynamic loader's lock, which must never be waited for while the writer is held. The module of a frame is the object's path as the loader knows it
 * (the program itself is unnamed there, so the caller passes /proc/self/exe); the offset
 * is from the object's load address (zero for a program that is not position
 * independent), so that `addr2line -f -e module offset` finds the line; the symbol is the
 * dynamic symbol that contains the address, which exists only for exported functions (a
 * static function, or any in a program linked without -rdynamic, shows as "?").
 * C++ names stay mangled.
 */
#include "shim_internal.h"

#include <dlfcn.h>
#include <link.h>

static const struct link_map *module_of(const void *addr, Dl_info *info)
{
    void *lm = NULL;

    if (dladdr1(addr, info, &lm, RTLD_DL_LINKMAP) == 0)
        return NULL;
    return lm;
}

int ms__stack_format(const ms_stack_t *s, const char *exe, ms_fmt_t *out)
{
    Dl_info self_info;
    const struct link_map *const self = module_of((const void *)ms__stack_format, &self_info);
    int depth = 0;
    int leading = 1;

    for (int i = 0; i < s->depth && i < MS_MAX_STACK_FRAMES; i++) {
        /* Return addresses point after the call; the byte before is inside it. */
        const uintptr_t pc = (uintptr_t)s->ips[i] - (i > 0 ? 1 : 0);
        const size_t mark = out->len;
        const struct link_map *lm;
        Dl_info info = {0};

        if (s->ips[i] == NULL)
            break;
        lm = module_of((const void *)pc, &info);
        if (leading && lm != NULL && lm == self)
            continue;
        leading = 0;
        if (depth > 0)
            ms__fmt_str(out, "\n");
        if (lm == NULL) {
            ms__fmt_str(out, "?+");
            ms__fmt_hex(out, pc);
        } else {
            const char *name = lm->l_name;
            if (name == NULL || name[0] == '\0')
                name = exe != NULL && exe[0] != '\0' ? exe : "?";
            ms__fmt_str(out, name);
            ms__fmt_str(out, "+");
            ms__fmt_hex(out, pc - lm->l_addr);
        }
        ms__fmt_str(out, " ");
        ms__fmt_str(out, info.dli_sname != NULL ? info.dli_sname : "?");
        if (out->truncated) {
            /* Whole lines only. */
            out->len = mark;
            out->buf[mark] = '\0';
            break;
        }
        depth++;
    }
    return depth;
}

int64_t ms__stack_hash(const char *text, size_t len)
{
    uint64_t h = UINT64_C(0xcbf29ce484222325);

    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)text[i];
        h *= UINT64_C(0x100000001b3);
    }
    return (int64_t)h;
}
