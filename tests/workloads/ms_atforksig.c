/*
 * A library whose fork child handler raises SIGUSR1 in the child: linked into
 * ms_forksignal, its constructor runs before the shim's, so its handler is registered
 * first and runs first in the child, while the shim's child handler has yet to run. The
 * signal is held until every child handler has run (the shim keeps signals blocked
 * across fork), and then it arrives in a child the shim has made its own.
 */
#include <pthread.h>
#include <signal.h>

static void child(void)
{
    raise(SIGUSR1);
}

static int registered;

__attribute__((constructor)) static void register_handler(void)
{
    registered = pthread_atfork(NULL, NULL, child) == 0;
}

/* Called by the program, which also keeps the library linked (the linker drops unused ones). */
int ms_atforksig_registered(void);
int ms_atforksig_registered(void)
{
    return registered;
}
