/*
 * loop.h: mjfake's event loop, in the manner of redis's ae: file events on
 * poll(), millisecond timers, a before-sleep hook, and a stop flag that
 * SIGTERM/SIGINT set through a self-pipe.  Single-threaded; callbacks may add
 * or remove watches and timers (including their own) freely.
 *
 * Ownership: fk_loop_new returns a heap object released by fk_loop_free; the
 * loop never owns the file descriptors it watches nor the callback args.
 */
#ifndef FK_LOOP_H
#define FK_LOOP_H

#include <stdbool.h>
#include <stdint.h>

typedef struct fk_loop fk_loop;

enum { FK_EV_READ = 1u, FK_EV_WRITE = 2u, FK_EV_ERROR = 4u };

/* events: FK_EV_* that are ready (ERROR for POLLERR/POLLHUP/POLLNVAL). */
typedef void fk_io_fn(fk_loop *loop, int fd, unsigned events, void *arg);
typedef void fk_timer_fn(fk_loop *loop, void *arg);
typedef void fk_hook_fn(fk_loop *loop, void *arg);

/* Highest fd the loop accepts (the watch table grows up to it). */
#define FK_LOOP_FD_MAX 65536
/* Most timers pending at once (one or two per connection). */
#define FK_LOOP_TIMERS_MAX (2 * FK_LOOP_FD_MAX)

fk_loop *fk_loop_new(void);
void fk_loop_free(fk_loop *loop);

/* Milliseconds on the monotonic clock. */
uint64_t fk_now_ms(void);

/*
 * Set fd's interest to mask (FK_EV_READ|FK_EV_WRITE; 0 keeps the callback
 * but polls nothing).  Returns 0, or -1 when fd is out of range or memory
 * ran out.
 */
int fk_loop_watch(fk_loop *loop, int fd, unsigned mask, fk_io_fn *fn, void *arg);
/* Forget fd (call before closing it). */
void fk_loop_unwatch(fk_loop *loop, int fd);

/*
 * Call fn(arg) once, ms milliseconds from now.  Returns a timer id > 0, or 0
 * when the table is full.  fk_loop_cancel(0) is a no-op, so callers may keep
 * 0 as "no timer".
 */
uint64_t fk_loop_timer(fk_loop *loop, unsigned ms, fk_timer_fn *fn, void *arg);
void fk_loop_cancel(fk_loop *loop, uint64_t id);

/* Called before each poll(); used to notice that the work is done. */
void fk_loop_before_sleep(fk_loop *loop, fk_hook_fn *fn, void *arg);

/* Make fk_loop_run return after the current iteration. */
void fk_loop_stop(fk_loop *loop);

/*
 * Route SIGTERM and SIGINT to this loop's stop flag (through a self-pipe, so
 * a signal during poll() wakes it) and ignore SIGPIPE, until
 * fk_loop_release_signals.  One loop at a time.  Returns 0 or -1.
 */
int fk_loop_catch_signals(fk_loop *loop);
void fk_loop_release_signals(fk_loop *loop);
/* True when a caught signal stopped the loop. */
bool fk_loop_signalled(const fk_loop *loop);

/* Run until stopped.  Returns 0, or -1 when poll() fails for good. */
int fk_loop_run(fk_loop *loop);

#endif
