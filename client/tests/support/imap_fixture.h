/*
 * imap_fixture.h: an IMAP session over the in-memory transport for the IMAP
 * unit tests (test_imap_session.c, test_imap_condstore.c, test_imap_ext.c,
 * test_imap_list_search.c): the server's bytes scripted in chosen chunks,
 * the client's bytes and protocol log captured.  One copy of what each of
 * them had written for itself.
 */
#ifndef MAILJIG_TESTS_IMAP_FIXTURE_H
#define MAILJIG_TESTS_IMAP_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "mailjig/conn.h"
#include "mailjig/imap.h"
#include "mailjig/log.h"
#include "mailjig/transport.h"

/* Scripts the tests share: a greeting and a LOGIN OK carrying caps (so no
   CAPABILITY is asked again), as alice / s3cret-pw; then INBOX selected. */
#define LOGGED_IN(caps) "* OK [CAPABILITY " caps "] hi\r\nA0001 OK [CAPABILITY " caps "] in\r\n"
#define LOGIN_WIRE "A0001 LOGIN alice s3cret-pw\r\n"
#define SELECTED(caps) LOGGED_IN(caps) "A0002 OK [READ-WRITE] selected\r\n"
#define SELECTED_WIRE LOGIN_WIRE "A0002 SELECT INBOX\r\n"

typedef struct imap_fixture {
    mj_transport *t;   /* borrowed from the session (NULL once a failed start closed it) */
    mj_imap *s;        /* NULL when the start failed */
    mj_outcome start;  /* what mj_imap_start returned */
    mj_error err;      /* its error */
    char *logbuf;      /* the protocol log (open_memstream) */
    size_t loglen;
    FILE *logfp;
    mj_log *log;
    char *wire;        /* the last imap_fixture_wire / client_lines text */
} imap_fixture;

typedef struct imap_fixture_args {
    const char *server;      /* what the server sends, in order */
    size_t server_len;       /* 0: strlen(server) */
    const size_t *chunks;    /* read sizes (memtransport's script), NULL: all at once */
    size_t n_chunks;
    mj_security security;    /* MJ_SEC_NONE when zero */
    const mj_imap_options *opts;
    bool report_pending;     /* memtransport: report buffered bytes at STARTTLS */
    mj_mem_end end;          /* after the script: EOF (zero) or a timeout */
} imap_fixture_args;

/*
 * Start a session per a (copied; the server bytes are copied by the memory
 * transport).  f->start and f->err say how mj_imap_start ended.  A failure
 * to build the transport or the conn aborts the test binary (never expected).
 * The caller ends it with imap_fixture_close.
 */
void imap_fixture_open(imap_fixture *f, const imap_fixture_args *a);
/* Everything the client wrote so far, NUL-terminated (owned by f, valid until the next call). */
const char *imap_fixture_wire(imap_fixture *f);
/* The protocol log so far (owned by f). */
const char *imap_fixture_log(imap_fixture *f);
/* Close the session and free what f holds. */
void imap_fixture_close(imap_fixture *f);

#endif
