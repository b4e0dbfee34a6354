/*
 * conn.h: the per-connection step engine lives in conn.c; its entry points
 * are declared in core.h (fk_conn_start, fk_conn_abort, fk_conn_complete).
 * This header only names the phases, for messages and tests.
 */
#ifndef FK_CONN_H
#define FK_CONN_H

/*
 * The phases of one connection.  A step runs EXPECT, SLEEP, SEND, FLUSH,
 * STARTTLS (HANDSHAKE or TLS_FAIL), END, then the next step's STEP.
 */
typedef enum fk_phase {
    FK_PH_START = 0, /* implicit TLS handshake, if any */
    FK_PH_DELAY,     /* greeting_delay_ms */
    FK_PH_STEP,      /* pick the current step (or finish the script) */
    FK_PH_EXPECT,
    FK_PH_SLEEP,
    FK_PH_SEND,
    FK_PH_FLUSH,     /* wait until the output is written, then after_flush */
    FK_PH_STARTTLS,
    FK_PH_HANDSHAKE,
    FK_PH_TLS_FAIL,  /* a handshake failure mode: wait for the ClientHello, answer badly */
    FK_PH_END,
    FK_PH_CLOSE,     /* FIN (after close_notify when asked), then DRAIN */
    FK_PH_DRAIN,     /* read and discard until EOF or FK_DRAIN_MS */
    FK_PH_HUNG,      /* read and discard, never write */
    FK_PH_COUNT
} fk_phase;

/* "expect", "sleep", ... for messages. */
const char *fk_phase_name(fk_phase p);

#endif
