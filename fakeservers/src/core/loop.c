/*
 * loop.c: the poll()-based event loop of loop.h.  Watches live in a table
 * indexed by fd; timers in a small unsorted array scanned on each turn (a
 * heap is the upgrade path if thousands of timers ever fire per second).
 */
#include "core/loop.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef struct fk_watch {
    fk_io_fn *fn;
    void *arg;
    unsigned mask;
    bool used;
} fk_watch;

typedef struct fk_timer {
    uint64_t id;
    uint64_t when;
    fk_timer_fn *fn;
    void *arg;
} fk_timer;

struct fk_loop {
    fk_watch *watches; /* indexed by fd */
    int n_watches;     /* allocated entries */
    int max_fd;        /* highest used fd, -1 when none */
    struct pollfd *pfds;
    size_t n_pfds;     /* allocated entries */
    fk_timer *timers;
    size_t n_timers, cap_timers;
    uint64_t next_id;
    fk_hook_fn *hook;
    void *hook_arg;
    bool stop;
    bool signalled;
    int sig_pipe[2];   /* -1 when signals are not caught */
    struct sigaction old_term, old_int, old_pipe;
};

/* The write end of the catching loop's self-pipe, for the handler. */
static volatile sig_atomic_t sig_write_fd = -1;

uint64_t fk_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

fk_loop *fk_loop_new(void)
{
    fk_loop *loop = calloc(1, sizeof *loop);
    if (loop == NULL)
        return NULL;
    loop->max_fd = -1;
    loop->next_id = 1;
    loop->sig_pipe[0] = loop->sig_pipe[1] = -1;
    return loop;
}

void fk_loop_free(fk_loop *loop)
{
    if (loop == NULL)
        return;
    fk_loop_release_signals(loop);
    free(loop->watches);
    free(loop->pfds);
    free(loop->timers);
    free(loop);
}

/* Grow the watch table (and the pollfd array with it) to hold fd. */
static int grow_watches(fk_loop *loop, int fd)
{
    if (fd < loop->n_watches)
        return 0;
    int n = loop->n_watches ? loop->n_watches : 64;
    while (n <= fd)
        n *= 2;
    if (n > FK_LOOP_FD_MAX)
        n = FK_LOOP_FD_MAX;
    fk_watch *w = realloc(loop->watches, (size_t)n * sizeof *w);
    if (w == NULL)
        return -1;
    memset(w + loop->n_watches, 0, (size_t)(n - loop->n_watches) * sizeof *w);
    loop->watches = w;
    struct pollfd *p = realloc(loop->pfds, (size_t)n * sizeof *p);
    if (p == NULL)
        return -1;
    loop->pfds = p;
    loop->n_pfds = (size_t)n;
    loop->n_watches = n;
    return 0;
}

int fk_loop_watch(fk_loop *loop, int fd, unsigned mask, fk_io_fn *fn, void *arg)
{
    if (fd < 0 || fd >= FK_LOOP_FD_MAX || grow_watches(loop, fd) != 0)
        return -1;
    loop->watches[fd] = (fk_watch){.fn = fn, .arg = arg, .mask = mask, .used = true};
    if (fd > loop->max_fd)
        loop->max_fd = fd;
    return 0;
}

void fk_loop_unwatch(fk_loop *loop, int fd)
{
    if (fd < 0 || fd >= loop->n_watches)
        return;
    loop->watches[fd].used = false;
    while (loop->max_fd >= 0 && !loop->watches[loop->max_fd].used)
        loop->max_fd--;
}

uint64_t fk_loop_timer(fk_loop *loop, unsigned ms, fk_timer_fn *fn, void *arg)
{
    if (loop->n_timers == loop->cap_timers) {
        size_t n = loop->cap_timers ? loop->cap_timers * 2 : 64;
        if (n > FK_LOOP_TIMERS_MAX)
            return 0;
        fk_timer *t = realloc(loop->timers, n * sizeof *t);
        if (t == NULL)
            return 0;
        loop->timers = t;
        loop->cap_timers = n;
    }
    uint64_t id = loop->next_id++;
    loop->timers[loop->n_timers++] =
        (fk_timer){.id = id, .when = fk_now_ms() + ms, .fn = fn, .arg = arg};
    return id;
}

void fk_loop_cancel(fk_loop *loop, uint64_t id)
{
    for (size_t i = 0; id != 0 && i < loop->n_timers; i++) {
        if (loop->timers[i].id == id) {
            loop->timers[i] = loop->timers[--loop->n_timers];
            return;
        }
    }
}

void fk_loop_before_sleep(fk_loop *loop, fk_hook_fn *fn, void *arg)
{
    loop->hook = fn;
    loop->hook_arg = arg;
}

void fk_loop_stop(fk_loop *loop)
{
    loop->stop = true;
}

bool fk_loop_signalled(const fk_loop *loop)
{
    return loop->signalled;
}

static void on_signal(int sig)
{
    (void)sig;
    int saved = errno;
    unsigned char b = 1;
    if (sig_write_fd >= 0 && write(sig_write_fd, &b, 1) < 0) {
        /* the pipe is full: a wake-up is already pending */
    }
    errno = saved;
}

static void on_sig_pipe(fk_loop *loop, int fd, unsigned events, void *arg)
{
    (void)events;
    (void)arg;
    unsigned char buf[64];
    while (read(fd, buf, sizeof buf) > 0) {
    }
    loop->signalled = true;
    loop->stop = true;
}

static int set_nonblock_cloexec(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
        return -1;
    return fcntl(fd, F_SETFD, FD_CLOEXEC);
}

int fk_loop_catch_signals(fk_loop *loop)
{
    if (loop->sig_pipe[0] >= 0)
        return 0;
    if (pipe(loop->sig_pipe) != 0)
        return -1;
    if (set_nonblock_cloexec(loop->sig_pipe[0]) != 0 ||
        set_nonblock_cloexec(loop->sig_pipe[1]) != 0 ||
        fk_loop_watch(loop, loop->sig_pipe[0], FK_EV_READ, on_sig_pipe, NULL) != 0) {
        fk_loop_release_signals(loop);
        return -1;
    }
    sig_write_fd = loop->sig_pipe[1];
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, &loop->old_term);
    sigaction(SIGINT, &sa, &loop->old_int);
    sa.sa_handler = SIG_IGN; /* peers that vanish must not kill the server */
    sigaction(SIGPIPE, &sa, &loop->old_pipe);
    return 0;
}

void fk_loop_release_signals(fk_loop *loop)
{
    if (loop->sig_pipe[0] < 0)
        return;
    if (sig_write_fd == loop->sig_pipe[1]) {
        sigaction(SIGTERM, &loop->old_term, NULL);
        sigaction(SIGINT, &loop->old_int, NULL);
        sigaction(SIGPIPE, &loop->old_pipe, NULL);
        sig_write_fd = -1;
    }
    fk_loop_unwatch(loop, loop->sig_pipe[0]);
    close(loop->sig_pipe[0]);
    if (loop->sig_pipe[1] >= 0)
        close(loop->sig_pipe[1]);
    loop->sig_pipe[0] = loop->sig_pipe[1] = -1;
}

/* Milliseconds until the first timer is due, -1 when none. */
static int next_timeout(const fk_loop *loop, uint64_t now)
{
    int best = -1;
    for (size_t i = 0; i < loop->n_timers; i++) {
        uint64_t w = loop->timers[i].when;
        int ms = w <= now ? 0 : (w - now > 60000 ? 60000 : (int)(w - now));
        if (best < 0 || ms < best)
            best = ms;
    }
    return best;
}

/* Fire the timers due now, but none added while firing (no starvation). */
static void fire_timers(fk_loop *loop)
{
    uint64_t now = fk_now_ms();
    uint64_t last_id = loop->next_id - 1;
    size_t i = 0;
    while (i < loop->n_timers) {
        fk_timer t = loop->timers[i];
        if (t.when > now || t.id > last_id) {
            i++;
            continue;
        }
        loop->timers[i] = loop->timers[--loop->n_timers];
        t.fn(loop, t.arg);
        i = 0; /* the callback may have reshuffled the array */
    }
}

static size_t build_pollfds(fk_loop *loop)
{
    size_t n = 0;
    for (int fd = 0; fd <= loop->max_fd; fd++) {
        const fk_watch *w = &loop->watches[fd];
        if (!w->used || w->mask == 0)
            continue;
        short ev = (short)(((w->mask & FK_EV_READ) ? POLLIN : 0) |
                           ((w->mask & FK_EV_WRITE) ? POLLOUT : 0));
        loop->pfds[n++] = (struct pollfd){.fd = fd, .events = ev, .revents = 0};
    }
    return n;
}

static void dispatch(fk_loop *loop, size_t n)
{
    for (size_t i = 0; i < n && !loop->stop; i++) {
        struct pollfd p = loop->pfds[i];
        if (p.revents == 0 || p.fd >= loop->n_watches || !loop->watches[p.fd].used)
            continue;
        fk_watch w = loop->watches[p.fd];
        unsigned ev = ((p.revents & POLLIN) ? FK_EV_READ : 0u) |
                      ((p.revents & POLLOUT) ? FK_EV_WRITE : 0u) |
                      ((p.revents & (POLLERR | POLLHUP | POLLNVAL)) ? FK_EV_ERROR : 0u);
        w.fn(loop, p.fd, ev, w.arg);
    }
}

int fk_loop_run(fk_loop *loop)
{
    loop->stop = false;
    while (!loop->stop) {
        if (loop->hook != NULL)
            loop->hook(loop, loop->hook_arg);
        if (loop->stop)
            break;
        size_t n = build_pollfds(loop);
        int timeout = next_timeout(loop, fk_now_ms());
        int rc = poll(loop->pfds, (nfds_t)n, timeout);
        if (rc < 0 && errno != EINTR)
            return -1;
        if (rc > 0)
            dispatch(loop, n);
        if (!loop->stop)
            fire_timers(loop);
    }
    return 0;
}
