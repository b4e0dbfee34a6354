/*
 * mailjig/mailjig.h: umbrella header of libmailjig, the mail client library
 * of the mailjig project.  Include this, or the one header per concern:
 *   error.h      the outcome classes, reasons and mj_error
 *   transport.h  timeouts, TLS configuration, TCP/TLS/in-memory transports
 *   reader.h     the buffered reader, its limits and sinks
 *   log.h        the protocol log (MailKit ProtocolLogger format)
 *   url.h        mail URLs and security modes
 *   conn.h       one connection: what every protocol session owns
 */
#ifndef MAILJIG_MAILJIG_H
#define MAILJIG_MAILJIG_H

#include "mailjig/conn.h"
#include "mailjig/error.h"
#include "mailjig/log.h"
#include "mailjig/reader.h"
#include "mailjig/sasl.h"
#include "mailjig/transport.h"
#include "mailjig/url.h"
#include "mailjig/smtp.h"
#include "mailjig/pop3.h"
#include "mailjig/imap.h"

#define MJ_VERSION "0.1.0"

#ifdef __cplusplus
extern "C" {
#endif

/* The library's version string (MJ_VERSION of the build). Static storage. */
const char *mj_version(void);

#ifdef __cplusplus
}
#endif
#endif
