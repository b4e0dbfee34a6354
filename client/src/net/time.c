/*
 * time.c: the monotonic clock and the timeout arithmetic every wait uses
 * (transport.h).  One function decides how long the next wait may last, so
 * the io timeout and the total deadline are applied the same way everywhere.
 */
#include <time.h>

#include "mailjig/transport.h"

int64_t mj_now_ms(void)
{
    struct timespec ts;
    /* CLOCK_MONOTONIC cannot fail on Linux with a valid pointer. */
    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void mj_timeouts_init(mj_timeouts *t)
{
    t->connect_ms = MJ_DEFAULT_CONNECT_TIMEOUT_MS;
    t->io_ms = MJ_DEFAULT_IO_TIMEOUT_MS;
    t->deadline_ms = 0;
}

int mj_timeouts_wait_ms(const mj_timeouts *t, mj_reason *reason_out)
{
    int io = (t != NULL && t->io_ms > 0) ? t->io_ms : MJ_DEFAULT_IO_TIMEOUT_MS;
    mj_reason reason = MJ_R_IO_TIMEOUT;
    int wait = io;

    if (t != NULL && t->deadline_ms > 0) {
        int64_t left = t->deadline_ms - mj_now_ms();
        if (left < 0)
            left = 0;
        /* When both bounds coincide the deadline is the one to name. */
        if (left <= (int64_t)io) {
            wait = (int)left;
            reason = MJ_R_DEADLINE;
        }
    }
    if (reason_out != NULL)
        *reason_out = reason;
    return wait;
}
