/*
 * The floor of bench_floor.sh: a preloaded library whose constructor starts one thread
 * with every signal blocked, as the shim starts its sampler. The thread only waits; the
 * process's exit ends it.
 */
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

static void floor_thread_start(void) __attribute__((constructor));

static void *floor_thread_main(void *arg)
{
    (void)arg;
    for (;;)
        pause();
    return NULL;
}

static void floor_thread_start(void)
{
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_t t;
    if (pthread_create(&t, NULL, floor_thread_main, NULL) == 0)
        pthread_detach(t);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
}
