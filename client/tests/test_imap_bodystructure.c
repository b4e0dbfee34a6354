/*
 * test_imap_bodystructure.c: ENVELOPE and BODYSTRUCTURE / BODY decoding
 * (imap/bodystructure.c, RFC 9051 §7.5.2 and §9, RFC 3501 §6.4.5).
 *
 * The decoder is fed trees from the real parser.  Covered: every FETCH
 * response of the MailKit corpus that carries an ENVELOPE, BODYSTRUCTURE or
 * BODY (converted to CRLF, one per distinct shape), strict and tolerant;
 * field-by-field decoding; part numbers (multipart, message/rfc822);
 * address groups; the limits (depth, parts, addresses, parameters); every
 * tolerance on (accepted, noted as used) and off (exact error); malformed
 * shapes with their exact messages; and, through a session over the
 * in-memory transport, the structures reaching the FETCH callback, Domino's
 * extra parentheses, and a strict session failing on a quirk.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>

#include "imap/bodystructure.h"
#include "imap/parser.h"
#include "mailjig/conn.h"
#include "mailjig/imap.h"

/* ---- decoding one FETCH response ------------------------------------------------------------ */

typedef struct decoded {
    mj_imap_parser *p;
    imap_decoder d;
    const mj_imap_envelope *env;
    const mj_imap_body *body;
    mj_error err;
} decoded;

/* Decode the items of one msg-att list (and one level of Domino's extra list). */
static mj_outcome decode_items(decoded *x, uint32_t seq, const mj_imap_node *a, int nested)
{
    for (; a != NULL; a = a->next) {
        if (a->kind == MJ_IMAP_LIST && !nested) {
            mj_outcome o = decode_items(x, seq, a->first, 1);
            if (o != MJ_OK)
                return o;
            continue;
        }
        assert_non_null(a->next);
        mj_outcome o = MJ_OK;
        if (mj_imap_node_is(a, "ENVELOPE"))
            o = imap_decode_envelope(&x->d, a->next, seq, &x->env, &x->err);
        else if (mj_imap_node_is(a, "BODYSTRUCTURE") || mj_imap_node_is(a, "BODY"))
            o = imap_decode_body(&x->d, a->next, a->str, seq, &x->body, &x->err);
        if (o != MJ_OK)
            return o;
        a = a->next;
    }
    return MJ_OK;
}

/* Parse resp (one complete response) with lim (NULL: tolerant defaults) and decode it. */
static mj_outcome decode_with(decoded *x, const char *resp, unsigned tolerances, const mj_imap_limits *lim)
{
    memset(x, 0, sizeof *x);
    mj_imap_limits l;
    mj_imap_limits_init(&l);
    mj_imap_limits_tolerant(&l);
    x->p = mj_imap_parser_new(lim != NULL ? lim : &l);
    assert_non_null(x->p);
    imap_decoder_init(&x->d, tolerances);
    const mj_imap_response *r = NULL;
    size_t used = 0;
    mj_error perr;
    mj_parse_result pr = mj_imap_parse(x->p, (const unsigned char *)resp, strlen(resp), &used, &r, &perr);
    if (pr != MJ_PARSE_OK)
        fail_msg("parse: %s", perr.message);
    assert_int_equal(used, strlen(resp));
    assert_string_equal(r->name, "FETCH");
    assert_non_null(r->data);
    assert_int_equal(r->data->kind, MJ_IMAP_LIST);
    return decode_items(x, r->number, r->data->first, 0);
}

static mj_outcome decode(decoded *x, const char *resp, unsigned tolerances)
{
    return decode_with(x, resp, tolerances, NULL);
}

static void release(decoded *x)
{
    imap_decoder_free(&x->d);
    mj_imap_parser_free(x->p);
}

/* Decode, expect failure with this outcome, reason and message. */
static void expect_error(const char *resp, unsigned tolerances, mj_reason reason, const char *message)
{
    decoded x;
    mj_outcome o = decode(&x, resp, tolerances);
    if (o != MJ_PROTOCOL_ERROR)
        fail_msg("expected protocol-error for %s, got %d (%s)", resp, (int)o, x.err.message);
    assert_int_equal(x.err.reason, reason);
    assert_string_equal(x.err.message, message);
    release(&x);
}

static const mj_imap_body *child(const mj_imap_body *b, size_t i)
{
    assert_int_equal(b->kind, MJ_IMAP_BODY_MULTIPART);
    assert_true(i < b->n_parts);
    return &b->parts[i];
}

/* ---- the corpus --------------------------------------------------------------------------------- */

/* Generated from /work/shared/corpus/mailkit/imap: every FETCH response with
   ENVELOPE, BODYSTRUCTURE or BODY (, one per shape (digits aside). */
static const struct corpus_case {
    const char *file;
    const char *resp;
} corpus[] = {
    {"domino/fetch-extra-parens.txt",
     "* 2 FETCH (UID 14935 (ENVELOPE (NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)) BODYSTRUCTURE (\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 0 0 NIL))\r\n"},
    {"gmail/search-summary.txt",
     "* 1 FETCH (X-GM-THRID 1592225494819146101 X-GM-MSGID 1592225494819146101 X-GM-LABELS (\"Test Messages\" \"\\\\Important\") UID 1 RFC822.SIZE 181614 MODSEQ (29233) INTERNALDATE \"19-Sep-1991 16:41:43 +0000\" FLAGS (\\Seen) ENVELOPE (\"Thu, 19 Sep 91 12:41:43 EDT\" \"Star Trek Party!\" ((NIL NIL NIL NIL)) ((NIL NIL NIL NIL)) ((NIL NIL NIL NIL)) ((NIL NIL \"abel\" NIL) (NIL NIL \"bianchi\" NIL) (NIL NIL \"braun\" NIL) (NIL NIL \"cameron\" NIL) (NIL NIL \"carmen\" NIL) (NIL NIL \"jfp\" NIL) (NIL NIL \"jxr\" NIL) (NIL NIL \"kraut\" NIL) (NIL NIL \"lamb\" NIL) (NIL NIL \"lowery\" NIL) (NIL NIL \"lynn\" NIL) (NIL NIL \"mlittman\" NIL) (NIL NIL \"nancyg\" NIL) (NIL NIL \"sau\" NIL) (NIL NIL \"shoshi\" NIL) (NIL NIL \"slr\" NIL) (NIL NIL \"stornett\" \"flash\") (NIL NIL \"tkl\" NIL)) ((NIL NIL \"nsb\" NIL) (NIL NIL \"trina\" \"flash\")) NIL NIL \"<9109191641.AA12840@greenbush.bellcore.com>\") BODY (((\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 731 16)(\"AUDIO\" \"BASIC\" NIL NIL NIL \"BASE64\" 31472) \"PARALLEL\")((\"IMAGE\" \"GIF\" NIL NIL NIL \"BASE64\" 26000)(\"IMAGE\" \"GIF\" NIL NIL NIL \"BASE64\" 18666)(\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 46125 2436)(\"APPLICATION\" \"ATOMICMAIL\" NIL NIL NIL \"7BIT\" 9203) \"MIXED\")(\"AUDIO\" \"BASIC\" NIL NIL NIL \"BASE64\" 47822) \"MIXED\"))\r\n"},
    {"gmail/search-summary.txt",
     "* 2 FETCH (X-GM-THRID 1592225494819146102 X-GM-MSGID 1592225494819146102 X-GM-LABELS (\"Test Messages\" \"\\\\Important\") UID 2 RFC822.SIZE 137687 MODSEQ (29251) INTERNALDATE \"29-Nov-1991 12:13:33 +0000\" FLAGS (\\Seen) ENVELOPE (\"Fri, 29 Nov 91 07:13:33 EST\" \"just testing...\" ((\"Bob Kummerfeld\" NIL \"bob\" \"cs.su.oz.au\")) ((\"Bob Kummerfeld\" NIL \"bob\" \"cs.su.oz.au\")) ((\"Bob Kummerfeld\" NIL \"bob\" \"cs.su.oz.au\")) ((NIL NIL \"nsb\" \"thumper.bellcore.com\")) NIL NIL NIL \"<9111291211.AA11898@thumper.bellcore.com>\") BODY (\"AUDIO\" \"BASIC\" NIL NIL NIL \"BASE64\" 137124))\r\n"},
    {"gmail/search-summary.txt",
     "* 3 FETCH (X-GM-THRID 1592225494819146103 X-GM-MSGID 1592225494819146103 X-GM-LABELS (\"Test Messages\" \"\\\\Important\") UID 3 RFC822.SIZE 679 MODSEQ (29268) INTERNALDATE \"06-Feb-1992 16:51:37 +0000\" FLAGS (\\Seen) ENVELOPE (\"Thu,  6 Feb 1992 11:51:37 -0500 (EST)\" \"=?UTF-8?Q?test_of_=D7=AA=D7=99=D7=A8=D7=91=D7=A2_in_mail_headers?=\" ((\"Nathaniel Borenstein\" NIL \"nsb\" NIL)) ((\"Nathaniel Borenstein\" NIL \"nsb\" NIL)) ((\"Nathaniel Borenstein\" NIL \"nsb\" \"thumper.bellcore.com\")) ((\"Nathaniel Borenstein\" NIL \"nsb\" NIL)) NIL NIL NIL \"<635267123319097410.36745.0@Jeffreys-MacBook-Air.local>\") BODY (\"TEXT\" \"PLAIN\" (\"CHARSET\" \"iso-8859-8\") NIL NIL \"QUOTED-PRINTABLE\" 204 3))\r\n"},
    {"gmail/search-summary.txt",
     "* 5 FETCH (X-GM-THRID 1592225494819146105 X-GM-MSGID 1592225494819146105 X-GM-LABELS (\"Test Messages\" \"\\\\Important\") UID 5 RFC822.SIZE 24391 MODSEQ (29302) INTERNALDATE \"28-Aug-1992 19:12:35 +0000\" FLAGS (\\Seen) ENVELOPE (\"Fri, 28 Aug 92 15:12:35 EDT\" \"mew-law encoding?\" ((NIL NIL \"beatty\" \"cosmos.vlsi.cs.cmu.edu\")) ((NIL NIL \"beatty\" \"cosmos.vlsi.cs.cmu.edu\")) ((NIL NIL \"beatty\" \"cosmos.vlsi.cs.cmu.edu\")) ((NIL NIL \"nsb\" \"flash.bellcore.com\")) NIL NIL NIL \"<9208281913.AA24840@flash.bellcore.com>\") BODY ((\"TEXT\" \"RICHTEXT\" NIL NIL NIL \"QUOTED-PRINTABLE\" 436 12)(\"MESSAGE\" \"RFC822\" NIL NIL NIL \"7BIT\" 22436 (\"Wed, 26 Aug 92 22:13:24 EDT\" \"mail from Wacky\" ((\"Derek Beatty\" NIL \"beatty\" \"sqhilton.pc.cs.cmu.edu\")) ((\"Derek Beatty\" NIL \"beatty\" \"sqhilton.pc.cs.cmu.edu\")) ((\"Derek Beatty\" NIL \"beatty\" \"sqhilton.pc.cs.cmu.edu\")) ((NIL NIL \"dragel\" \"sqhilton.pc.cs.cmu.edu\") (NIL NIL \"beatty\" \"sqhilton.pc.cs.cmu.edu\")) NIL NIL \"NIL\" \"<9208270213.AA21178@sqhilton.pc.cs.cmu.edu>\") ((\"TEXT\" \"PLAIN\" (\"NAME\" \"index.rtf\" \"TYPE\" \"microsoft-rtf\") NIL NIL \"7BIT\" 110 6)(\"AUDIO\" \"BASIC\" (\"NAME\" \"VoiceMail_beatty0.vox\") NIL NIL \"BASE64\" 20910)(\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 0 0) \"MIXED\") 326)(\"TEXT\" \"RICHTEXT\" NIL NIL NIL \"QUOTED-PRINTABLE\" 111 4) \"MIXED\"))\r\n"},
    {"gmail/search-summary.txt",
     "* 7 FETCH (X-GM-THRID 1592225494819146107 X-GM-MSGID 1592225494819146107 X-GM-LABELS (\"Test Messages\" \"\\\\Important\") UID 7 RFC822.SIZE 2220 MODSEQ (29369) INTERNALDATE \"13-Jun-1992 11:23:08 +0000\" FLAGS (\\Seen) ENVELOPE (\"Sat, 13 Jun 92 11:23:08 JST\" \"Re: [95:taka@fxis.fujix] MIME and Header encoding RFC.\" ((\"=?ISO-2022-JP?B?WXV0YWthIFNhdG8gGyRCOjRGI0stGyhC?=\" NIL \"ysato\" \"etl.go.jp\")) ((\"=?ISO-2022-JP?B?WXV0YWthIFNhdG8gGyRCOjRGI0stGyhC?=\" NIL \"ysato\" \"etl.go.jp\")) ((\"=?ISO-2022-JP?B?WXV0YWthIFNhdG8gGyRCOjRGI0stGyhC?=\" NIL \"ysato\" \"etl.go.jp\")) ((NIL NIL \"nsb\" \"thumper.bellcore.com\")) NIL NIL \"<9206120510.AA06898@atrai.sala.sony.co.jp>\" \"<gELh6.ysato@etl.go.jp>\") BODY (\"TEXT\" \"PLAIN\" (\"CHARSET\" \"ISO-2022-JP\") NIL NIL \"7BIT\" 1164 39))\r\n"},
    {"gmail/search-summary.txt",
     "* 8 FETCH (X-GM-THRID 1592225494819146108 X-GM-MSGID 1592225494819146108 X-GM-LABELS (\"Test Messages\" \"\\\\Important\") UID 8 RFC822.SIZE 165976 MODSEQ (29378) INTERNALDATE \"29-Nov-1991 12:13:33 +0000\" FLAGS (\\Seen) ENVELOPE (\"Fri, 29 Nov 91 07:13:33 EST\" \"Testing Multipart messaging\" ((\"Nathaniel S. Borenstein\" NIL \"nsb\" \"thumper.bellcore.com\")) ((\"Nathaniel S. Borenstein\" NIL \"nsb\" \"thumper.bellcore.com\")) ((\"Nathaniel S. Borenstein\" NIL \"nsb\" \"thumper.bellcore.com\")) ((NIL NIL \"nsb\" NIL)) NIL NIL NIL \"<635267123373180360.36745.1@Jeffreys-MacBook-Air.local>\") BODY ((\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 305 5)((\"IMAGE\" \"GIF\" NIL NIL NIL \"BASE64\" 3276)(\"AUDIO\" \"BASIC\" NIL NIL NIL \"BASE64\" 156706) \"PARALLEL\")(\"APPLICATION\" \"ATOMICMAIL\" NIL NIL NIL \"7BIT\" 4915) \"MIXED\"))\r\n"},
    {"gmail/search-summary.txt",
     "* 9 FETCH (X-GM-THRID 1592225494819146109 X-GM-MSGID 1592225494819146109 X-GM-LABELS (\"Test Messages\" \"\\\\Important\") UID 9 RFC822.SIZE 348483 MODSEQ (29395) INTERNALDATE \"05-Oct-1991 23:00:40 +0000\" FLAGS (\\Seen) ENVELOPE (\"Sat, 05 Oct 91 16:00:40 -0700\" \"Re: near closure on audio stuff\" ((\"Marshall Rose\" NIL \"mrose\" \"dbc.mtview.ca.us\")) ((\"Marshall Rose\" NIL \"mrose\" \"dbc.mtview.ca.us\")) ((\"Marshall Rose\" NIL \"mrose\" \"dbc.mtview.ca.us\")) ((\"Nathaniel Borenstein\" NIL \"nsb\" \"thumper.bellcore.com\")) ((\"Stephen A. Uhler\" NIL \"sau\" \"thumper.bellcore.com\")) NIL \"Your message of \\\"Fri, 04 Oct 91 23:13:17 PDT.\\\"             <14836.686643197@dbc.mtview.ca.us>\" \"<22353.686703640@dbc.mtview.ca.us>\") BODY (\"AUDIO\" \"BASIC\" NIL NIL NIL \"BASE64\" 347516))\r\n"},
    {"gmail/search-summary.txt",
     "* 11 FETCH (X-GM-THRID 1592225494819146111 X-GM-MSGID 1592225494819146111 X-GM-LABELS (\"Test Messages\" \"\\\\Important\") UID 11 RFC822.SIZE 58127 MODSEQ (29429) INTERNALDATE \"26-Dec-1991 20:45:00 +0000\" FLAGS (\\Seen) ENVELOPE (\"26 Dec 1991 20:45 (Thursday)\" \"couldn't resist this\" ((\"Bob Kummerfeld\" NIL \"bob\" \"cs.su.oz.au\")) ((\"Bob Kummerfeld\" NIL \"bob\" \"cs.su.oz.au\")) ((\"Bob Kummerfeld\" NIL \"bob\" \"cs.su.oz.au\")) ((NIL NIL \"nsb\" \"thumper.bellcore.com\")) NIL NIL NIL \"<9112262015.AA13190@thumper.bellcore.com>\") BODY (\"IMAGE\" \"PBM\" NIL NIL NIL \"BASE64\" 57561))\r\n"},
    {"gmail/search-summary.txt",
     "* 12 FETCH (X-GM-THRID 1592225494819146112 X-GM-MSGID 1592225494819146112 X-GM-LABELS (\"Test Messages\" \"\\\\Important\") UID 12 RFC822.SIZE 32737 MODSEQ (29461) INTERNALDATE \"08-Jan-1992 16:21:00 +0000\" FLAGS (\\Seen) ENVELOPE (\"Wed,  8 Jan 1992 11:21:00 -0500 (EST)\" \"Re: PS -- Re: mailer error\" ((\"Nathaniel Borenstein\" NIL \"nsb\" NIL)) ((\"Nathaniel Borenstein\" NIL \"nsb\" NIL)) ((\"Nathaniel Borenstein\" NIL \"nsb\" NIL)) ((\"Dave Sincoskie\" NIL \"sincos\" NIL)) ((\"Nathaniel Borenstein\" NIL \"nsb\" NIL)) NIL \"<9201062142.AA08914@raven.bellcore.com>\" \"<wdOmHgu0M2Yt4Gzf9t@thumper.bellcore.com>\") BODY ((\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 566 14)((\"TEXT\" \"RICHTEXT\" NIL NIL NIL \"QUOTED-PRINTABLE\" 426 7)(\"IMAGE\" \"XWD\" NIL NIL NIL \"BASE64\" 29662)(\"TEXT\" \"PLAIN\" NIL NIL NIL \"QUOTED-PRINTABLE\" 45 4) \"MIXED\") \"ALTERNATIVE\"))\r\n"},
    {"gmail/search-summary.txt",
     "* 13 FETCH (X-GM-THRID 1592225494819146113 X-GM-MSGID 1592225494819146113 X-GM-LABELS (\"Test Messages\" \"\\\\Important\") UID 13 RFC822.SIZE 5670 MODSEQ (29486) INTERNALDATE \"07-Feb-1992 03:33:38 +0000\" FLAGS (\\Seen) ENVELOPE (\"Fri, 7 Feb 92 14:33:38 +1100\" \"Test MIME message\" ((NIL NIL \"rhys\" \"cs.uq.oz.au\")) ((NIL NIL \"rhys\" \"cs.uq.oz.au\")) ((NIL NIL \"rhys\" \"cs.uq.oz.au\")) ((NIL NIL \"nsb\" \"thumper.bellcore.com\")) NIL NIL NIL \"<9202070333.AA25077@client>\") BODY ((\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 848 27)((\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 142 5)(\"IMAGE\" \"X-XBITMAP\" NIL NIL NIL \"BASE64\" 1214)(\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 68 0)(\"IMAGE\" \"X-XBITMAP\" NIL NIL NIL \"BASE64\" 1222)(\"TEXT\" \"RICHTEXT\" NIL NIL NIL \"7BIT\" 559 13) \"MIXED\") \"ALTERNATIVE\"))\r\n"},
    {"gmail/search-summary.txt",
     "* 14 FETCH (X-GM-THRID 1592225494819146114 X-GM-MSGID 1592225494819146114 X-GM-LABELS (\"Test Messages\" \"\\\\Important\") UID 14 RFC822.SIZE 2430 MODSEQ (29511) INTERNALDATE \"16-Jun-1992 17:34:08 +0000\" FLAGS (\\Seen) ENVELOPE (\"Tue, 16 Jun 92 17:34:08 JST\" \"Re: transparent.el\" ((\"=?ISO-2022-JP?B?WXV0YWthIFNhdG8gGyRCOjRGI0stGyhC?=\" NIL \"ysato\" \"etl.go.jp\")) ((\"=?ISO-2022-JP?B?WXV0YWthIFNhdG8gGyRCOjRGI0stGyhC?=\" NIL \"ysato\" \"etl.go.jp\")) ((\"=?ISO-2022-JP?B?WXV0YWthIFNhdG8gGyRCOjRGI0stGyhC?=\" NIL \"ysato\" \"etl.go.jp\")) ((NIL NIL \"nsb\" \"thumper.bellcore.com\")) NIL NIL \"<AKAHO.92Jun16162622@etlsu5.etl.go.jp>\" \"<gFQJR.ysato@etl.go.jp>\") BODY (\"TEXT\" \"PLAIN\" (\"CHARSET\" \"ISO-2022-JP\") NIL NIL \"7BIT\" 1414 32))\r\n"},
    {"gmail/search-summary.txt",
     "* 26 FETCH (X-GM-THRID 1592225494819146126 X-GM-MSGID 1592225494819146126 X-GM-LABELS (\"Test Messages\" \"\\\\Important\") UID 26 RFC822.SIZE 1457 MODSEQ (29707) INTERNALDATE \"18-Jan-1992 17:19:00 +0000\" FLAGS (\\Seen) ENVELOPE (\"18 Jan 1992 17:19 (Saturday)\" \"another Hebrew test\" ((\"Bob Kummerfeld\" NIL \"bob\" \"cs.su.oz.au\")) ((\"Bob Kummerfeld\" NIL \"bob\" \"cs.su.oz.au\")) ((\"Bob Kummerfeld\" NIL \"bob\" \"cs.su.oz.au\")) ((NIL NIL \"nsb\" \"thumper.bellcore.com\")) NIL NIL NIL \"<9201180620.AA17087@thumper.bellcore.com>\") BODY ((\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 75 4)(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"iso-8859-8\") NIL NIL \"BASE64\" 650 9) \"MIXED\"))\r\n"},
    {"gmail/search-summary.txt",
     "* 27 FETCH (X-GM-THRID 1592225494819146127 X-GM-MSGID 1592225494819146127 X-GM-LABELS (\"Test Messages\" \"\\\\Important\") UID 27 RFC822.SIZE 42865 MODSEQ (29724) INTERNALDATE \"07-Jun-1992 19:02:00 +0000\" FLAGS (\\Seen) ENVELOPE (\"Sun, 7 Jun 92 14:02 CDT\" \"makeitso.gif\" ((\"Daniel A. Glasser\" NIL \"dag%gorgon.UUCP\" \"cs.wisc.edu\")) ((\"Daniel A. Glasser\" NIL \"dag%gorgon.UUCP\" \"cs.wisc.edu\")) ((\"Daniel A. Glasser\" NIL \"dag%gorgon.UUCP\" \"cs.wisc.edu\")) ((NIL NIL \"nsb\" \"thumper.bellcore.com\")) NIL NIL NIL \"<m0luSVj-0000UWC@gorgon.uucp>\") BODY (\"IMAGE\" \"GIF\" NIL NIL NIL \"BASE64\" 42100))\r\n"},
    {"gmail/search-summary.txt",
     "* 28 FETCH (X-GM-THRID 1592225494819146128 X-GM-MSGID 1592225494819146128 X-GM-LABELS (\"Test Messages\" \"\\\\Important\") UID 28 RFC822.SIZE 9606 MODSEQ (29758) INTERNALDATE \"09-Jun-1992 03:45:24 +0000\" FLAGS (\\Seen) ENVELOPE (\"Tue, 9 Jun 92 03:45:24 JST\" \"Re: How to see Japanese characters (Re: malformed message)\" ((\"=?ISO-2022-JP?B?WXV0YWthIFNhdG8gGyRCOjRGI0stGyhC?=\" NIL \"ysato\" \"etl.go.jp\")) ((\"=?ISO-2022-JP?B?WXV0YWthIFNhdG8gGyRCOjRGI0stGyhC?=\" NIL \"ysato\" \"etl.go.jp\")) ((\"=?ISO-2022-JP?B?WXV0YWthIFNhdG8gGyRCOjRGI0stGyhC?=\" NIL \"ysato\" \"etl.go.jp\")) ((NIL NIL \"nsb\" \"thumper.bellcore.com\")) ((\"=?ISO-2022-JP?B?WXV0YWthIFNhdG8gGyRCOjRGI0stGyhC?=\" NIL \"ysato\" \"etl.go.jp\")) NIL \"<keAshCG0M2Yt5A32xi@thumper.bellcore.com>\" \"<gCvvx.ysato@etl.go.jp>\") BODY ((\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 1965 43)(\"IMAGE\" \"GIF\" NIL NIL \"README.jp shown in kterm\" \"BASE64\" 6308) \"MIXED\"))\r\n"},
    {"gmail/search-summary.txt",
     "* 29 FETCH (X-GM-THRID 1592225494819146129 X-GM-MSGID 1592225494819146129 X-GM-LABELS (\"Test Messages\" \"\\\\Important\") UID 29 RFC822.SIZE 109878 MODSEQ (29767) INTERNALDATE \"08-Jun-1992 19:51:02 +0000\" FLAGS (\\Seen) ENVELOPE (\"Mon,  8 Jun 1992 14:51:02 -0500 (CDT)\" \"/usr/sbin/sfplay\" ((\"Bob Oesterlin\" NIL \"oester+\" \"rchland.ibm.com\")) ((\"Bob Oesterlin\" NIL \"oester+\" \"rchland.ibm.com\")) ((\"Bob Oesterlin\" NIL \"oester\" \"vnet.ibm.com\")) ((NIL NIL \"nsb\" \"thumper.bellcore.com\")) NIL NIL NIL \"<seAvcao91JbyQwDlE=@rchland.ibm.com>\") BODY (\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 108383 1570))\r\n"},
    {"gmail/search-summary.txt",
     "* 31 FETCH (X-GM-THRID 1592225494819146131 X-GM-MSGID 1592225494819146131 X-GM-LABELS (\"Test Messages\" \"\\\\Important\") UID 31 RFC822.SIZE 264394 MODSEQ (29801) INTERNALDATE \"15-May-1991 19:20:25 +0000\" FLAGS (\\Seen) ENVELOPE (\"Wed, 15 May 91 15:20:25 EDT\" \"A Multi-media test\" ((\"Stephen A Uhler\" NIL \"sau\" \"sleepy.bellcore.com\")) ((\"Stephen A Uhler\" NIL \"sau\" \"sleepy.bellcore.com\")) ((\"Stephen A Uhler\" NIL \"sau\" \"sleepy.bellcore.com\")) ((NIL NIL \"nsb\" \"sleepy.bellcore.com\")) ((NIL NIL \"sau\" \"sleepy.bellcore.com\")) NIL NIL \"<9105151920.AA01548@sleepy.bellcore.com>\") BODY ((\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 42 1)(\"IMAGE\" \"PBM\" NIL NIL NIL \"BASE64\" 77616)(\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 34 3)(\"AUDIO\" \"BASIC\" NIL NIL NIL \"BASE64\" 103736)(\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 164 4)(\"APPLICATION\" \"X-ANNOTATE\" NIL NIL NIL \"7BIT\" 81424)(\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 22 2) \"MIXED\"))\r\n"},
    {"gmail/search-summary.txt",
     "* 34 FETCH (X-GM-THRID 1592225494819146134 X-GM-MSGID 1592225494819146134 X-GM-LABELS (\"Test Messages\" \"\\\\Important\") UID 34 RFC822.SIZE 6155 MODSEQ (29860) INTERNALDATE \"04-Feb-1993 22:27:10 +0000\" FLAGS (\\Seen) ENVELOPE (\"Thu, 4 Feb 93 17:27:10 EST\" \"sending files via email\" ((NIL NIL \"bob\" \"sarad.cs.su.oz.au\")) ((NIL NIL \"bob\" \"sarad.cs.su.oz.au\")) ((NIL NIL \"bob\" \"sarad.cs.su.oz.au\")) ((NIL NIL \"ggm\" \"cc.uq.oz.au\") (NIL NIL \"nsb\" \"thumper.bellcore.com\")) ((NIL NIL \"bob\" NIL)) NIL NIL \"<9302042227.AA17392@thumper.bellcore.com>\") BODY ((\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 84 6)(\"IMAGE\" \"GIF\" NIL NIL NIL \"BASE64\" 5234) \"MIXED\"))\r\n"},
    {"gmail/search-summary.txt",
     "* 41 FETCH (X-GM-THRID 1592225494819146141 X-GM-MSGID 1592225494819146141 X-GM-LABELS (\"Test Messages\" \"\\\\Important\") UID 41 RFC822.SIZE 73873 MODSEQ (29988) INTERNALDATE \"07-Jun-1991 13:09:05 +0000\" FLAGS (\\Seen) ENVELOPE (\"Fri, 7 Jun 91 09:09:05 EDT\" \"meta-mail\" ((\"Stephen A Uhler\" NIL \"sau\" \"sleepy.bellcore.com\")) ((\"Stephen A Uhler\" NIL \"sau\" \"sleepy.bellcore.com\")) ((\"Stephen A Uhler\" NIL \"sau\" \"sleepy.bellcore.com\")) ((NIL NIL \"nsb\" \"sleepy.bellcore.com\")) NIL NIL NIL \"<9106071309.AA00574@sleepy.bellcore.com>\") BODY ((\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 1246 26)(\"IMAGE\" \"PBM\" NIL NIL NIL \"BASE64\" 71686)(\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 0 0) \"MIXED\"))\r\n"},
    {"gmail/search-summary.txt",
     "* 42 FETCH (X-GM-THRID 1592225494819146142 X-GM-MSGID 1592225494819146142 X-GM-LABELS (\"Test Messages\" \"\\\\Important\") UID 42 RFC822.SIZE 253424 MODSEQ (29997) INTERNALDATE \"28-Oct-1992 16:46:54 +0000\" FLAGS (\\Seen) ENVELOPE (\"Wed, 28 Oct 92 11:46:54 -0500\" \"Thanks! (part 1 of several)\" ((\"T. V. Raman\" NIL \"raman\" \"cs.cornell.edu\")) ((\"T. V. Raman\" NIL \"raman\" \"cs.cornell.edu\")) ((\"T. V. Raman\" NIL \"raman\" \"cs.cornell.edu\")) ((NIL NIL \"nsb\" \"thumper.bellcore.com\")) ((NIL NIL \"raman\" \"cs.cornell.edu\")) NIL NIL \"<9210281646.AA23424@freyr.cs.cornell.edu>\") BODY (\"MESSAGE\" \"PARTIAL\" (\"ID\" \"703.23422.720290813.freyr\" \"NUMBER\" \"1\") NIL NIL \"7BIT\" 252471))\r\n"},
    {"gmail/search-summary.txt",
     "* 43 FETCH (X-GM-THRID 1592225494819146143 X-GM-MSGID 1592225494819146143 X-GM-LABELS (\"Test Messages\" \"\\\\Important\") UID 43 RFC822.SIZE 56550 MODSEQ (30014) INTERNALDATE \"06-Jun-1992 06:21:22 +0000\" FLAGS (\\Seen) ENVELOPE (\"Sat, 6 Jun 92 06:21:22 JST\" \"MIME example in VIN\" ((\"=?ISO-2022-JP?B?WXV0YWthIFNhdG8gGyRCOjRGI0stGyhC?=\" NIL \"ysato\" \"etl.go.jp\")) ((\"=?ISO-2022-JP?B?WXV0YWthIFNhdG8gGyRCOjRGI0stGyhC?=\" NIL \"ysato\" \"etl.go.jp\")) ((\"=?ISO-2022-JP?B?WXV0YWthIFNhdG8gGyRCOjRGI0stGyhC?=\" NIL \"ysato\" \"etl.go.jp\")) ((NIL NIL \"nsb\" \"thumper.bellcore.com\")) NIL NIL NIL \"<9206052121.AA02633@etlibs.etl.go.jp>\") BODY ((\"TEXT\" \"RICHTEXT\" NIL NIL NIL \"QUOTED-PRINTABLE\" 473 9)(\"IMAGE\" \"GIF\" NIL NIL NIL \"BASE64\" 24568)(\"TEXT\" \"RICHTEXT\" NIL NIL NIL \"QUOTED-PRINTABLE\" 458 10)(\"IMAGE\" \"GIF\" NIL NIL NIL \"BASE64\" 11368)(\"TEXT\" \"RICHTEXT\" NIL NIL NIL \"QUOTED-PRINTABLE\" 310 6)(\"IMAGE\" \"GIF\" NIL NIL NIL \"BASE64\" 16676)(\"TEXT\" \"RICHTEXT\" NIL NIL NIL \"QUOTED-PRINTABLE\" 675 15) \"MIXED\"))\r\n"},
    {"gmail/search-summary.txt",
     "* 50 FETCH (X-GM-THRID 1592225494819146150 X-GM-MSGID 1592225494819146150 X-GM-LABELS (\"Test Messages\" \"\\\\Important\") UID 50 RFC822.SIZE 91057 MODSEQ (30145) INTERNALDATE \"29-Sep-1992 14:19:23 +0000\" FLAGS (\\Seen) ENVELOPE (\"Tue, 29 Sep 92 10:19:23 EDT\" \"Re: Happy New Year\" ((NIL NIL NIL NIL)) ((NIL NIL NIL NIL)) ((NIL NIL NIL NIL)) ((NIL NIL \"dnd\" NIL)) ((NIL NIL \"nsb\" NIL)) NIL NIL \"<9209291419.AA19468@greenbush.bellcore.com>\") BODY ((\"TEXT\" \"RICHTEXT\" (\"CHARSET\" \"iso-8859-8\") NIL NIL \"QUOTED-PRINTABLE\" 212 9)(\"AUDIO\" \"BASIC\" NIL NIL NIL \"BASE64\" 89812)(\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 31 1) \"MIXED\"))\r\n"},
    {"gmail/fetch-quoted-string-bodystructure.txt",
     "* 1 FETCH (UID 1 BODYSTRUCTURE ((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"utf-8\") NIL NIL \"7BIT\" 5235 112 NIL NIL NIL)(\"TEXT\" \"HTML\" (\"CHARSET\" \"utf-8\") NIL NIL \"7BIT\" 60479 873 NIL NIL NIL) \"ALTERNATIVE\"))\r\n"},
    {"gmail/expunge-during-fetch.txt",
     "* 1 FETCH (UID 1 INTERNALDATE \"19-Jul-2019 06:00:17 +0000\" ENVELOPE (\"Fri, 19 Jul 2019 06:00:17 +0000\" \"subject 1\" ((\"From\" NIL \"from\" \"example.com\")) NIL NIL ((NIL NIL \"to\" \"example.com\")) NIL NIL \"in-reply-to@localhost.localdomain\" \"<msg-id@localhost.localdomain>\"))\r\n"},
    {"gmail/fetch-korean-previewtext-bodystructure.txt",
     "* 1 FETCH (UID 1 BODYSTRUCTURE (\"TEXT\" \"PLAIN\" (\"CHARSET\" \"ks_c_5601-1987\") NIL NIL \"BASE64\" 1896 25 NIL NIL NIL))\r\n"},
    {"gmail/fetch-preview.txt",
     "* 1 FETCH (UID 1 RFC822.SIZE 507 MODSEQ (41847) INTERNALDATE \"03-Mar-2016 17:25:01 +0000\" FLAGS (\\Seen) ENVELOPE (\"Thu, 03 Mar 2016 12:25:01 -0500\" \"text/plain message\" ((\"Example From\" NIL \"from\" \"example.com\")) ((\"Example From\" NIL \"from\" \"example.com\")) ((\"Example Reply-To\" NIL \"reply-to\" \"example.com\")) ((\"Example To\" NIL \"to\" \"example.com\")) ((\"Example Recipient #1\" NIL \"recipient1\" \"example.com\")(\"Example Recipient #2\" NIL \"recipient2\" \"example.com\")(\"Example Recipient #3\" NIL \"recipient3\" \"example.com\")) NIL NIL \"<2T1YDYWYKXT4.7B2PY7UJXN1U3@Jeffrey-Stedfasts-2013-iMac.local>\") PREVIEW \"Planet Fitness https://view.email.planetfitness.com/?qs=9a098a031cabde68c0a4260051cd6fe473a2e997a53678ff26b4b199a711a9d2ad0536530d6f837c246b09f644d42016ecfb298f930b7af058e9e454b34f3d818ceb3052ae317b1ac4594aab28a2d788 View web ver\")\r\n"},
    {"gmail/fetch-preview.txt",
     "* 2 FETCH (UID 2 RFC822.SIZE 506 MODSEQ (41847) INTERNALDATE \"03-Mar-2016 17:48:38 +0000\" FLAGS (\\Seen) ENVELOPE (\"Thu, 03 Mar 2016 12:46:38 -0500\" \"text/html message\" ((\"Example From\" NIL \"from\" \"example.com\")) ((\"Example From\" NIL \"from\" \"example.com\")) ((\"Example Reply-To\" NIL \"reply-to\" \"example.com\")) ((\"Example To\" NIL \"to\" \"example.com\")) ((\"Example Recipient #1\" NIL \"recipient1\" \"example.com\")(\"Example Recipient #2\" NIL \"recipient2\" \"example.com\")(\"Example Recipient #3\" NIL \"recipient3\" \"example.com\")) NIL NIL \"<K8NZOG3ZKXT4.32EL5QYOKY4B@Jeffrey-Stedfasts-2013-iMac.local>\") PREVIEW \"Don't miss our celebrity guest Monday evening\")\r\n"},
    {"gmail/fetch-preview.txt",
     "* 3 FETCH (UID 3 RFC822.SIZE 507 MODSEQ (41847) INTERNALDATE \"03-Mar-2016 17:49:29 +0000\" FLAGS (\\Seen) ENVELOPE (\"Thu, 03 Mar 2016 12:47:29 -0500\" \"multipart/alternative message\" ((\"Example From\" NIL \"from\" \"example.com\")) ((\"Example From\" NIL \"from\" \"example.com\")) ((\"Example Reply-To\" NIL \"reply-to\" \"example.com\")) ((\"Example To\" NIL \"to\" \"example.com\")) ((\"Example Recipient #1\" NIL \"recipient1\" \"example.com\")(\"Example Recipient #2\" NIL \"recipient2\" \"example.com\")(\"Example Recipient #3\" NIL \"recipient3\" \"example.com\")) NIL NIL \"<014Y2P3ZKXT4.TMD6XILA8I5N2@Jeffrey-Stedfasts-2013-iMac.local>\") PREVIEW \"Planet Fitness https://view.email.planetfitness.com/?qs=9a098a031cabde68c0a4260051cd6fe473a2e997a53678ff26b4b199a711a9d2ad0536530d6f837c246b09f644d42016ecfb298f930b7af058e9e454b34f3d818ceb3052ae317b1ac4594aab28a2d788 View web ver\")\r\n"},
    {"gmail/fetch-previewtext-bodystructure.txt",
     "* 1 FETCH (UID 1 RFC822.SIZE 507 MODSEQ (41847) INTERNALDATE \"03-Mar-2016 17:25:01 +0000\" FLAGS (\\Seen) ENVELOPE (\"Thu, 03 Mar 2016 12:25:01 -0500\" \"text/plain message\" ((\"Example From\" NIL \"from\" \"example.com\")) ((\"Example From\" NIL \"from\" \"example.com\")) ((\"Example Reply-To\" NIL \"reply-to\" \"example.com\")) ((\"Example To\" NIL \"to\" \"example.com\")) ((\"Example Recipient #1\" NIL \"recipient1\" \"example.com\")(\"Example Recipient #2\" NIL \"recipient2\" \"example.com\")(\"Example Recipient #3\" NIL \"recipient3\" \"example.com\")) NIL NIL \"<2T1YDYWYKXT4.7B2PY7UJXN1U3@Jeffrey-Stedfasts-2013-iMac.local>\") BODYSTRUCTURE (\"TEXT\" \"PLAIN\" (\"CHARSET\" \"utf-8\") NIL NIL \"7BIT\" 5235 112 NIL NIL NIL))\r\n"},
    {"gmail/fetch-previewtext-bodystructure.txt",
     "* 2 FETCH (UID 2 RFC822.SIZE 506 MODSEQ (41847) INTERNALDATE \"03-Mar-2016 17:48:38 +0000\" FLAGS (\\Seen) ENVELOPE (\"Thu, 03 Mar 2016 12:46:38 -0500\" \"text/html message\" ((\"Example From\" NIL \"from\" \"example.com\")) ((\"Example From\" NIL \"from\" \"example.com\")) ((\"Example Reply-To\" NIL \"reply-to\" \"example.com\")) ((\"Example To\" NIL \"to\" \"example.com\")) ((\"Example Recipient #1\" NIL \"recipient1\" \"example.com\")(\"Example Recipient #2\" NIL \"recipient2\" \"example.com\")(\"Example Recipient #3\" NIL \"recipient3\" \"example.com\")) NIL NIL \"<K8NZOG3ZKXT4.32EL5QYOKY4B@Jeffrey-Stedfasts-2013-iMac.local>\") BODYSTRUCTURE (\"TEXT\" \"HTML\" (\"CHARSET\" \"utf-8\") NIL NIL \"7BIT\" 60479 873 NIL NIL NIL))\r\n"},
    {"gmail/fetch-previewtext-bodystructure.txt",
     "* 3 FETCH (UID 3 RFC822.SIZE 507 MODSEQ (41847) INTERNALDATE \"03-Mar-2016 17:49:29 +0000\" FLAGS (\\Seen) ENVELOPE (\"Thu, 03 Mar 2016 12:47:29 -0500\" \"multipart/alternative message\" ((\"Example From\" NIL \"from\" \"example.com\")) ((\"Example From\" NIL \"from\" \"example.com\")) ((\"Example Reply-To\" NIL \"reply-to\" \"example.com\")) ((\"Example To\" NIL \"to\" \"example.com\")) ((\"Example Recipient #1\" NIL \"recipient1\" \"example.com\")(\"Example Recipient #2\" NIL \"recipient2\" \"example.com\")(\"Example Recipient #3\" NIL \"recipient3\" \"example.com\")) NIL NIL \"<014Y2P3ZKXT4.TMD6XILA8I5N2@Jeffrey-Stedfasts-2013-iMac.local>\") BODYSTRUCTURE ((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"utf-8\") NIL NIL \"7BIT\" 5235 112 NIL NIL NIL)(\"TEXT\" \"HTML\" (\"CHARSET\" \"utf-8\") NIL NIL \"7BIT\" 60479 873 NIL NIL NIL) \"ALTERNATIVE\"))\r\n"},
    {"gmail/fetch-previewtext-bodystructure.txt",
     "* 7 FETCH (UID 7 RFC822.SIZE 1024 MODSEQ (41847) INTERNALDATE \"03-Mar-2016 17:25:01 +0000\" FLAGS (\\Seen) ENVELOPE (\"Thu, 03 Mar 2016 12:25:01 -0500\" \"audio/wav message\" ((\"Example From\" NIL \"from\" \"example.com\")) ((\"Example From\" NIL \"from\" \"example.com\")) ((\"Example Reply-To\" NIL \"reply-to\" \"example.com\")) ((\"Example To\" NIL \"to\" \"example.com\")) ((\"Example Recipient #1\" NIL \"recipient1\" \"example.com\")(\"Example Recipient #2\" NIL \"recipient2\" \"example.com\")(\"Example Recipient #3\" NIL \"recipient3\" \"example.com\")) NIL NIL \"<2T1YDYWYKXT4.7B2PY7UJXN1U3@Jeffrey-Stedfasts-2013-iMac.local>\") BODYSTRUCTURE (\"AUDIO\" \"WAV\" NIL NIL NIL \"BASE64\" 5235 NIL NIL NIL))\r\n"},
    {"dovecot/fetch3.txt",
     "* 1 FETCH (UID 1 FLAGS (\\Answered \\Seen \\Draft \\Recent) INTERNALDATE \"02-Oct-2016 17:28:25 -0400\" RFC822.SIZE 253 MODSEQ (2) ENVELOPE (\"Sun, 02 Oct 2016 17:28:25 -0400\" \"A\" ((\"Unit Tests\" NIL \"unit-tests\" \"mimekit.net\")) ((\"Unit Tests\" NIL \"unit-tests\" \"mimekit.net\")) ((\"Unit Tests\" NIL \"unit-tests\" \"mimekit.net\")) ((\"Unit Tests\" NIL \"unit-tests\" \"mimekit.net\")) NIL NIL NIL \"<a@mimekit.net>\") BODYSTRUCTURE (\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"7bit\" 27 1 NIL NIL NIL NIL) BODY[HEADER.FIELDS (REFERENCES X-MAILER)] {2}\r\n\r\n)\r\n"},
    {"dovecot/fetch3.txt",
     "* 2 FETCH (UID 2 FLAGS (\\Answered \\Seen \\Draft \\Recent) INTERNALDATE \"02-Oct-2016 17:29:25 -0400\" RFC822.SIZE 282 MODSEQ (2) ENVELOPE (\"Sun, 02 Oct 2016 17:29:25 -0400\" \"B\" ((\"Unit Tests\" NIL \"unit-tests\" \"mimekit.net\")) ((\"Unit Tests\" NIL \"unit-tests\" \"mimekit.net\")) ((\"Unit Tests\" NIL \"unit-tests\" \"mimekit.net\")) ((\"Unit Tests\" NIL \"unit-tests\" \"mimekit.net\")) NIL NIL NIL \"<b@mimekit.net>\") BODYSTRUCTURE (\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"7bit\" 27 1 NIL NIL NIL NIL) BODY[HEADER.FIELDS (REFERENCES X-MAILER)] {31}\r\nReferences: <a@mimekit.net>\r\n\r\n)\r\n"},
    {"dovecot/fetch3.txt",
     "* 3 FETCH (UID 3 FLAGS (\\Answered \\Seen \\Draft \\Recent) INTERNALDATE \"02-Oct-2016 17:30:25 -0400\" RFC822.SIZE 298 MODSEQ (2) ENVELOPE (\"Sun, 02 Oct 2016 17:30:25 -0400\" \"C\" ((\"Unit Tests\" NIL \"unit-tests\" \"mimekit.net\")) ((\"Unit Tests\" NIL \"unit-tests\" \"mimekit.net\")) ((\"Unit Tests\" NIL \"unit-tests\" \"mimekit.net\")) ((\"Unit Tests\" NIL \"unit-tests\" \"mimekit.net\")) NIL NIL NIL \"<c@mimekit.net>\") BODYSTRUCTURE (\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"7bit\" 27 1 NIL NIL NIL NIL) BODY[HEADER.FIELDS (REFERENCES X-MAILER)] {47}\r\nReferences: <a@mimekit.net> <b@mimekit.net>\r\n\r\n)\r\n"},
    {"dovecot/fetch3.txt",
     "* 4 FETCH (UID 4 FLAGS (\\Seen \\Draft \\Recent) INTERNALDATE \"02-Oct-2016 17:31:25 -0400\" RFC822.SIZE 282 MODSEQ (2) ENVELOPE (\"Sun, 02 Oct 2016 17:31:25 -0400\" \"D\" ((\"Unit Tests\" NIL \"unit-tests\" \"mimekit.net\")) ((\"Unit Tests\" NIL \"unit-tests\" \"mimekit.net\")) ((\"Unit Tests\" NIL \"unit-tests\" \"mimekit.net\")) ((\"Unit Tests\" NIL \"unit-tests\" \"mimekit.net\")) NIL NIL NIL \"<d@mimekit.net>\") BODYSTRUCTURE (\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"7bit\" 27 1 NIL NIL NIL NIL) BODY[HEADER.FIELDS (REFERENCES X-MAILER)] {31}\r\nReferences: <a@mimekit.net>\r\n\r\n)\r\n"},
    {"dovecot/fetch3.txt",
     "* 5 FETCH (UID 5 FLAGS (\\Seen \\Draft \\Recent) INTERNALDATE \"02-Oct-2016 17:32:25 -0400\" RFC822.SIZE 330 MODSEQ (2) ENVELOPE (\"Sun, 02 Oct 2016 17:32:25 -0400\" \"E\" ((\"Unit Tests\" NIL \"unit-tests\" \"mimekit.net\")) ((\"Unit Tests\" NIL \"unit-tests\" \"mimekit.net\")) ((\"Unit Tests\" NIL \"unit-tests\" \"mimekit.net\")) ((\"Unit Tests\" NIL \"unit-tests\" \"mimekit.net\")) NIL NIL NIL \"<e@mimekit.net>\") BODYSTRUCTURE (\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"7bit\" 27 1 NIL NIL NIL NIL) BODY[HEADER.FIELDS (REFERENCES X-MAILER)] {79}\r\nReferences: <c@mimekit.net> <x@mimekit.net> <y@mimekit.net> <z@mimekit.net>\r\n\r\n)\r\n"},
    {"dovecot/fetch3.txt",
     "* 6 FETCH (UID 6 FLAGS (\\Seen \\Draft \\Recent) INTERNALDATE \"02-Oct-2016 17:33:25 -0400\" RFC822.SIZE 282 MODSEQ (2) ENVELOPE (\"Sun, 02 Oct 2016 17:33:25 -0400\" \"F\" ((\"Unit Tests\" NIL \"unit-tests\" \"mimekit.net\")) ((\"Unit Tests\" NIL \"unit-tests\" \"mimekit.net\")) ((\"Unit Tests\" NIL \"unit-tests\" \"mimekit.net\")) ((\"Unit Tests\" NIL \"unit-tests\" \"mimekit.net\")) NIL NIL NIL \"<f@mimekit.net>\") BODYSTRUCTURE (\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"7bit\" 27 1 NIL NIL NIL NIL) BODY[HEADER.FIELDS (REFERENCES X-MAILER)] {31}\r\nReferences: <b@mimekit.net>\r\n\r\n)\r\n"},
    {"dovecot/fetch3.txt",
     "* 7 FETCH (UID 7 FLAGS (\\Seen \\Draft \\Recent) INTERNALDATE \"02-Oct-2016 17:34:25 -0400\" RFC822.SIZE 253 MODSEQ (2) ENVELOPE (\"Sun, 02 Oct 2016 17:34:25 -0400\" \"G\" ((\"Unit Tests\" NIL \"unit-tests\" \"mimekit.net\")) ((\"Unit Tests\" NIL \"unit-tests\" \"mimekit.net\")) ((\"Unit Tests\" NIL \"unit-tests\" \"mimekit.net\")) ((\"Unit Tests\" NIL \"unit-tests\" \"mimekit.net\")) NIL NIL NIL \"<g@mimekit.net>\") BODYSTRUCTURE (\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"7bit\" 27 1 NIL NIL NIL NIL) BODY[HEADER.FIELDS (REFERENCES X-MAILER)] {2}\r\n\r\n)\r\n"},
    {"dovecot/notify-idle.txt",
     "* 1 FETCH (UID 1 FLAGS (\\Recent) ENVELOPE (\"Wed, 17 Jul 1996 02:23:25 -0700 (PDT)\" \"IMAP4rev1 WG mtg summary and minutes\" ((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) ((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) ((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) ((NIL NIL \"imap\" \"cac.washington.edu\")) ((NIL NIL \"minutes\" \"CNRI.Reston.VA.US\") (\"John Klensin\" NIL \"KLENSIN\" \"MIT.EDU\")) NIL NIL \"<B27397-0100000@cac.washington.edu>\") BODYSTRUCTURE (\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 3028 92) MODSEQ (1))\r\n"},
    {"dovecot/fetch4.txt",
     "* 1 FETCH (UID 1 FLAGS (\\Answered \\Seen \\Draft \\Recent) INTERNALDATE \"02-Oct-2016 17:28:25 -0400\" RFC822.SIZE 253 MODSEQ (2) ENVELOPE (\"Sun, 02 Oct 2016 17:28:25 -0400\" \"A\" ((\"Unit Tests\" NIL \"unit-tests\" \"mimekit.net\")) ((\"Unit Tests\" NIL \"unit-tests\" \"mimekit.net\")) ((\"Unit Tests\" NIL \"unit-tests\" \"mimekit.net\")) ((\"Unit Tests\" NIL \"unit-tests\" \"mimekit.net\")) NIL NIL NIL \"<a@mimekit.net>\") BODYSTRUCTURE (\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"7bit\" 27 1 NIL NIL NIL NIL) BODY[HEADER.FIELDS (REFERENCES)] {2}\r\n\r\n)\r\n"},
    {"dovecot/fetch4.txt",
     "* 2 FETCH (UID 2 FLAGS (\\Answered \\Seen \\Draft \\Recent) INTERNALDATE \"02-Oct-2016 17:29:25 -0400\" RFC822.SIZE 282 MODSEQ (2) ENVELOPE (\"Sun, 02 Oct 2016 17:29:25 -0400\" \"B\" ((\"Unit Tests\" NIL \"unit-tests\" \"mimekit.net\")) ((\"Unit Tests\" NIL \"unit-tests\" \"mimekit.net\")) ((\"Unit Tests\" NIL \"unit-tests\" \"mimekit.net\")) ((\"Unit Tests\" NIL \"unit-tests\" \"mimekit.net\")) NIL NIL NIL \"<b@mimekit.net>\") BODYSTRUCTURE ((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 1152 23)(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\" \"NAME\" \"cc.diff\") \"<960723163407.20117h@cac.washington.edu>\" \"Compiler diff\" \"BASE64\" 4554 73) \"MIXED\") BODY[HEADER.FIELDS (REFERENCES)] {31}\r\nReferences: <a@mimekit.net>\r\n\r\n)\r\n"},
    {"dovecot/fetch4.txt",
     "* 3 FETCH (UID 3 FLAGS (\\Answered \\Seen \\Draft \\Recent) INTERNALDATE \"02-Oct-2016 17:30:25 -0400\" RFC822.SIZE 298 MODSEQ (2) ENVELOPE (\"Sun, 02 Oct 2016 17:30:25 -0400\" \"C\" ((\"Unit Tests\" NIL \"unit-tests\" \"mimekit.net\")) ((\"Unit Tests\" NIL \"unit-tests\" \"mimekit.net\")) ((\"Unit Tests\" NIL \"unit-tests\" \"mimekit.net\")) ((\"Unit Tests\" NIL \"unit-tests\" \"mimekit.net\")) NIL NIL NIL \"<c@mimekit.net>\") BODYSTRUCTURE (\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"7bit\" 27 1 NIL NIL NIL NIL) BODY[HEADER.FIELDS (REFERENCES)] {47}\r\nReferences: <a@mimekit.net> <b@mimekit.net>\r\n\r\n)\r\n"},
    {"dovecot/fetch4.txt",
     "* 4 FETCH (UID 4 FLAGS (\\Seen \\Draft \\Recent) INTERNALDATE \"02-Oct-2016 17:31:25 -0400\" RFC822.SIZE 282 MODSEQ (2) ENVELOPE (\"Sun, 02 Oct 2016 17:31:25 -0400\" \"D\" ((\"Unit Tests\" NIL \"unit-tests\" \"mimekit.net\")) ((\"Unit Tests\" NIL \"unit-tests\" \"mimekit.net\")) ((\"Unit Tests\" NIL \"unit-tests\" \"mimekit.net\")) ((\"Unit Tests\" NIL \"unit-tests\" \"mimekit.net\")) NIL NIL NIL \"<d@mimekit.net>\") BODYSTRUCTURE (\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"7bit\" 27 1 NIL NIL NIL NIL) BODY[HEADER.FIELDS (REFERENCES)] {31}\r\nReferences: <a@mimekit.net>\r\n\r\n)\r\n"},
    {"dovecot/fetch4.txt",
     "* 5 FETCH (UID 5 FLAGS (\\Seen \\Draft \\Recent) INTERNALDATE \"02-Oct-2016 17:32:25 -0400\" RFC822.SIZE 330 MODSEQ (2) ENVELOPE (\"Sun, 02 Oct 2016 17:32:25 -0400\" \"E\" ((\"Unit Tests\" NIL \"unit-tests\" \"mimekit.net\")) ((\"Unit Tests\" NIL \"unit-tests\" \"mimekit.net\")) ((\"Unit Tests\" NIL \"unit-tests\" \"mimekit.net\")) ((\"Unit Tests\" NIL \"unit-tests\" \"mimekit.net\")) NIL NIL NIL \"<e@mimekit.net>\") BODYSTRUCTURE (\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"7bit\" 27 1 NIL NIL NIL NIL) BODY[HEADER.FIELDS (REFERENCES)] {79}\r\nReferences: <c@mimekit.net> <x@mimekit.net> <y@mimekit.net> <z@mimekit.net>\r\n\r\n)\r\n"},
    {"dovecot/fetch4.txt",
     "* 6 FETCH (UID 6 FLAGS (\\Seen \\Draft \\Recent) INTERNALDATE \"02-Oct-2016 17:33:25 -0400\" RFC822.SIZE 282 MODSEQ (2) ENVELOPE (\"Sun, 02 Oct 2016 17:33:25 -0400\" \"F\" ((\"Unit Tests\" NIL \"unit-tests\" \"mimekit.net\")) ((\"Unit Tests\" NIL \"unit-tests\" \"mimekit.net\")) ((\"Unit Tests\" NIL \"unit-tests\" \"mimekit.net\")) ((\"Unit Tests\" NIL \"unit-tests\" \"mimekit.net\")) NIL NIL NIL \"<f@mimekit.net>\") BODYSTRUCTURE (\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"7bit\" 27 1 NIL NIL NIL NIL) BODY[HEADER.FIELDS (REFERENCES)] {31}\r\nReferences: <b@mimekit.net>\r\n\r\n)\r\n"},
    {"dovecot/fetch4.txt",
     "* 7 FETCH (UID 7 FLAGS (\\Seen \\Draft \\Recent) INTERNALDATE \"02-Oct-2016 17:34:25 -0400\" RFC822.SIZE 253 MODSEQ (2) ENVELOPE (\"Sun, 02 Oct 2016 17:34:25 -0400\" \"G\" ((\"Unit Tests\" NIL \"unit-tests\" \"mimekit.net\")) ((\"Unit Tests\" NIL \"unit-tests\" \"mimekit.net\")) ((\"Unit Tests\" NIL \"unit-tests\" \"mimekit.net\")) ((\"Unit Tests\" NIL \"unit-tests\" \"mimekit.net\")) NIL NIL NIL \"<g@mimekit.net>\") BODYSTRUCTURE (\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"7bit\" 27 1 NIL NIL NIL NIL) BODY[HEADER.FIELDS (REFERENCES)] {2}\r\n\r\n)\r\n"},
    {"dovecot/fetch4.txt",
     "* 9 FETCH (UID 9 FLAGS (\\Answered \\Seen \\Draft \\Recent) INTERNALDATE \"02-Oct-2016 17:29:25 -0400\" RFC822.SIZE 282 MODSEQ (3) ENVELOPE (\"Sun, 02 Oct 2016 17:29:25 -0400\" \"B\" ((\"Unit Tests\" NIL \"unit-tests\" \"mimekit.net\")) ((\"Unit Tests\" NIL \"unit-tests\" \"mimekit.net\")) ((\"Unit Tests\" NIL \"unit-tests\" \"mimekit.net\")) ((\"Unit Tests\" NIL \"unit-tests\" \"mimekit.net\")) NIL NIL NIL \"<b@mimekit.net>\") BODYSTRUCTURE (\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"7bit\" 27 1 NIL NIL NIL NIL) BODY[HEADER.FIELDS (REFERENCES)] {31}\r\nReferences: <a@mimekit.net>\r\n\r\n)\r\n"},
};

/* Every corpus response decodes, strict and tolerant, and needs no tolerance. */
static void test_corpus(void **state)
{
    (void)state;
    assert_true(sizeof corpus / sizeof corpus[0] >= 40);
    for (size_t i = 0; i < sizeof corpus / sizeof corpus[0]; i++) {
        for (int strict = 0; strict <= 1; strict++) {
            decoded x;
            mj_outcome o = decode(&x, corpus[i].resp, strict ? 0u : (unsigned)IMAP_TOL_ALL);
            if (o != MJ_OK)
                fail_msg("%s case %zu (%s): %s", corpus[i].file, i, strict ? "strict" : "tolerant", x.err.message);
            assert_true(x.env != NULL || x.body != NULL);
            assert_int_equal(x.d.used, 0);
            release(&x);
        }
    }
}

/* Values from the corpus, checked field by field. */
static void test_corpus_values(void **state)
{
    (void)state;
    decoded x;
    /* gmail/search-summary message 1: ((NIL NIL NIL NIL)) and a three-level BODY */
    assert_int_equal(decode(&x, corpus[1].resp, 0), MJ_OK);
    assert_string_equal(x.env->date, "Thu, 19 Sep 91 12:41:43 EDT");
    assert_string_equal(x.env->subject, "Star Trek Party!");
    assert_int_equal(x.env->from.count, 1);
    assert_int_equal(x.env->from.items[0].kind, MJ_IMAP_ADDR_GROUP_END);
    assert_null(x.env->from.items[0].mailbox);
    assert_int_equal(x.env->to.count, 18);
    assert_int_equal(x.env->to.items[16].kind, MJ_IMAP_ADDR_MAILBOX);
    assert_string_equal(x.env->to.items[16].mailbox, "stornett");
    assert_string_equal(x.env->to.items[16].host, "flash");
    assert_int_equal(x.env->to.items[0].kind, MJ_IMAP_ADDR_GROUP_START); /* host NIL: RFC 9051 group syntax */
    assert_int_equal(x.env->cc.count, 2);
    assert_int_equal(x.env->bcc.count, 0);
    assert_null(x.env->in_reply_to);
    assert_string_equal(x.env->message_id, "<9109191641.AA12840@greenbush.bellcore.com>");
    const mj_imap_body *b = x.body;
    assert_string_equal(b->part, "");
    assert_string_equal(b->type, "MULTIPART");
    assert_string_equal(b->subtype, "MIXED");
    assert_int_equal(b->n_parts, 3);
    assert_false(b->has_disposition);
    assert_string_equal(child(b, 0)->subtype, "PARALLEL");
    assert_string_equal(child(child(b, 0), 0)->part, "1.1");
    assert_int_equal(child(child(b, 0), 0)->kind, MJ_IMAP_BODY_TEXT);
    assert_int_equal(child(child(b, 0), 0)->lines, 16);
    assert_int_equal(child(child(b, 0), 1)->kind, MJ_IMAP_BODY_BASIC);
    assert_false(child(child(b, 0), 1)->has_lines);
    assert_int_equal(child(child(b, 0), 1)->size, 31472);
    assert_string_equal(child(child(b, 1), 3)->part, "2.4");
    assert_string_equal(child(child(b, 1), 3)->subtype, "ATOMICMAIL");
    assert_string_equal(child(b, 2)->part, "3");
    assert_false(child(b, 2)->has_md5);
    release(&x);

    /* gmail/fetch-quoted-string-bodystructure: three NILs of extension data, none for the multipart */
    const char *gmail = NULL, *dovecot = NULL;
    for (size_t i = 0; i < sizeof corpus / sizeof corpus[0]; i++) {
        if (gmail == NULL && strcmp(corpus[i].file, "gmail/fetch-quoted-string-bodystructure.txt") == 0)
            gmail = corpus[i].resp;
        if (dovecot == NULL && strcmp(corpus[i].file, "dovecot/fetch4.txt") == 0 && strstr(corpus[i].resp, "cc.diff"))
            dovecot = corpus[i].resp;
    }
    assert_non_null(gmail);
    assert_non_null(dovecot);
    assert_int_equal(decode(&x, gmail, 0), MJ_OK);
    b = x.body;
    assert_int_equal(b->n_parts, 2);
    assert_string_equal(b->subtype, "ALTERNATIVE");
    assert_int_equal(b->n_params, 0);
    assert_false(b->has_disposition);
    const mj_imap_body *html = child(b, 1);
    assert_string_equal(html->part, "2");
    assert_string_equal(html->type, "TEXT");
    assert_string_equal(html->subtype, "HTML");
    assert_int_equal(html->n_params, 1);
    assert_string_equal(html->params[0].name, "CHARSET");
    assert_string_equal(html->params[0].value, "utf-8");
    assert_string_equal(html->encoding, "7BIT");
    assert_int_equal(html->size, 60479);
    assert_int_equal(html->lines, 873);
    assert_true(html->has_md5 && html->has_disposition && html->has_language);
    assert_false(html->has_location);
    assert_null(html->md5);
    assert_null(html->disposition);
    assert_int_equal(html->n_languages, 0);
    release(&x);

    /* dovecot/fetch4 message 2: Content-ID and description of the attachment */
    assert_int_equal(decode(&x, dovecot, 0), MJ_OK);
    const mj_imap_body *diff = child(x.body, 1);
    assert_string_equal(diff->id, "<960723163407.20117h@cac.washington.edu>");
    assert_string_equal(diff->description, "Compiler diff");
    assert_string_equal(diff->encoding, "BASE64");
    assert_int_equal(diff->n_params, 2);
    assert_string_equal(diff->params[1].name, "NAME");
    assert_string_equal(diff->params[1].value, "cc.diff");
    assert_string_equal(x.env->from.items[0].name, "Unit Tests");
    assert_string_equal(x.env->from.items[0].host, "mimekit.net");
    release(&x);
}

/* ---- field by field ----------------------------------------------------------------------------- */

static void test_text_plain_all_fields(void **state)
{
    (void)state;
    decoded x;
    assert_int_equal(decode(&x,
                            "* 4 FETCH (ENVELOPE (\"d\" \"s\" ((\"N\" \"@route\" \"m\" \"h\")) NIL NIL NIL NIL NIL \"<r>\" \"<i>\") "
                            "BODYSTRUCTURE (\"text\" \"plain\" (\"charset\" \"utf-8\" \"format\" \"flowed\") \"<id>\" \"desc\" \"8bit\" 4294967295 "
                            "12345678901 \"md5==\" (\"inline\" (\"filename\" \"a.txt\")) \"en\" \"http://l\" 7 (\"x\" (1 NIL)) \"y\"))\r\n",
                            0),
                     MJ_OK);
    assert_string_equal(x.env->from.items[0].adl, "@route");
    assert_string_equal(x.env->in_reply_to, "<r>");
    assert_string_equal(x.env->message_id, "<i>");
    const mj_imap_body *b = x.body;
    assert_int_equal(b->kind, MJ_IMAP_BODY_TEXT);
    assert_string_equal(b->part, "1");
    assert_string_equal(b->type, "text");
    assert_int_equal(b->n_params, 2);
    assert_string_equal(b->params[1].name, "format");
    assert_string_equal(b->id, "<id>");
    assert_string_equal(b->description, "desc");
    assert_string_equal(b->encoding, "8bit");
    assert_true(b->has_size);
    assert_int_equal(b->size, 4294967295u);
    assert_true(b->has_lines);
    assert_int_equal(b->lines, 12345678901ull); /* number64 */
    assert_string_equal(b->md5, "md5==");
    assert_string_equal(b->disposition, "inline");
    assert_int_equal(b->n_disposition_params, 1);
    assert_string_equal(b->disposition_params[0].value, "a.txt");
    assert_int_equal(b->n_languages, 1); /* a single nstring */
    assert_string_equal(b->languages[0], "en");
    assert_true(b->has_location);
    assert_string_equal(b->location, "http://l");
    assert_null(b->envelope);
    assert_null(b->message);
    release(&x);

    /* a language list; BODY without extension data marks every extension field absent */
    assert_int_equal(decode(&x, "* 1 FETCH (BODYSTRUCTURE (\"IMAGE\" \"PNG\" NIL NIL NIL \"BASE64\" 10 NIL NIL (\"en\" \"fr\")) "
                                "BODY (\"IMAGE\" \"PNG\" NIL NIL NIL \"BASE64\" 10))\r\n", 0),
                     MJ_OK);
    assert_int_equal(x.body->kind, MJ_IMAP_BODY_BASIC);
    assert_false(x.body->has_md5 || x.body->has_disposition || x.body->has_language || x.body->has_location);
    release(&x);
    assert_int_equal(decode(&x, "* 1 FETCH (BODYSTRUCTURE (\"IMAGE\" \"PNG\" NIL NIL NIL \"BASE64\" 10 NIL NIL (\"en\" \"fr\")))\r\n", 0),
                     MJ_OK);
    assert_int_equal(x.body->n_languages, 2);
    assert_string_equal(x.body->languages[1], "fr");
    assert_false(x.body->has_location);
    release(&x);
}

/* A forwarded message: the inner envelope and body, numbered as RFC 3501 6.4.5 says. */
static void test_message_rfc822(void **state)
{
    (void)state;
    decoded x;
    assert_int_equal(
        decode(&x,
               "* 1 FETCH (BODYSTRUCTURE ((\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 1 1)"
               "(\"MESSAGE\" \"RFC822\" NIL NIL NIL \"7BIT\" 900 (NIL \"inner\" NIL NIL NIL NIL NIL NIL NIL NIL) "
               "((\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 2 1)(\"MESSAGE\" \"GLOBAL\" NIL NIL NIL \"8BIT\" 50 "
               "(NIL \"deeper\" NIL NIL NIL NIL NIL NIL NIL NIL) (\"TEXT\" \"HTML\" NIL NIL NIL \"8BIT\" 3 1) 4) \"MIXED\") 30) \"MIXED\"))\r\n",
               0),
        MJ_OK);
    const mj_imap_body *msg = child(x.body, 1);
    assert_int_equal(msg->kind, MJ_IMAP_BODY_MESSAGE);
    assert_string_equal(msg->part, "2");
    assert_int_equal(msg->lines, 30);
    assert_string_equal(msg->envelope->subject, "inner");
    const mj_imap_body *inner = msg->message;
    assert_non_null(inner);
    assert_string_equal(inner->part, "2"); /* a message's multipart has the message's number */
    assert_string_equal(child(inner, 0)->part, "2.1");
    const mj_imap_body *global = child(inner, 1);
    assert_string_equal(global->part, "2.2");
    assert_int_equal(global->kind, MJ_IMAP_BODY_MESSAGE); /* MESSAGE/GLOBAL: RFC 9051 media-message */
    assert_string_equal(global->envelope->subject, "deeper");
    assert_string_equal(global->message->part, "2.2.1"); /* a single-part body of a message: .1 */
    assert_string_equal(global->message->subtype, "HTML");
    assert_int_equal(global->lines, 4);
    release(&x);

    /* a top-level message/rfc822 whose body is one part */
    assert_int_equal(decode(&x, "* 1 FETCH (BODY (\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 9 "
                                "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL) (\"text\" \"plain\" NIL NIL NIL \"7bit\" 3 1) 2))\r\n",
                            0),
                     MJ_OK);
    assert_string_equal(x.body->part, "1");
    assert_string_equal(x.body->message->part, "1.1");
    release(&x);
}

static void test_address_groups(void **state)
{
    (void)state;
    decoded x;
    assert_int_equal(decode(&x, "* 1 FETCH (ENVELOPE (NIL NIL NIL NIL NIL ((NIL NIL \"undisclosed-recipients\" NIL)(NIL NIL NIL NIL)) "
                                "((NIL NIL \"team\" NIL)(\"Ann\" NIL \"ann\" \"x.example\")(NIL NIL NIL NIL)(\"Carl\" NIL \"carl\" \"x.example\")) "
                                "NIL NIL NIL))\r\n",
                            0),
                     MJ_OK);
    const mj_imap_addresses *to = &x.env->to, *cc = &x.env->cc;
    assert_int_equal(to->count, 2);
    assert_int_equal(to->items[0].kind, MJ_IMAP_ADDR_GROUP_START);
    assert_string_equal(to->items[0].mailbox, "undisclosed-recipients");
    assert_int_equal(to->items[1].kind, MJ_IMAP_ADDR_GROUP_END);
    assert_int_equal(cc->count, 4);
    assert_int_equal(cc->items[0].kind, MJ_IMAP_ADDR_GROUP_START);
    assert_int_equal(cc->items[1].kind, MJ_IMAP_ADDR_MAILBOX);
    assert_string_equal(cc->items[1].name, "Ann");
    assert_int_equal(cc->items[2].kind, MJ_IMAP_ADDR_GROUP_END);
    assert_int_equal(cc->items[3].kind, MJ_IMAP_ADDR_MAILBOX);
    assert_int_equal(x.env->from.count, 0);
    assert_null(x.env->from.items);
    release(&x);
}

/* ---- limits -------------------------------------------------------------------------------- */

/* depth nested multiparts around one text part. */
static char *nested(unsigned depth)
{
    size_t cap = 64 + (size_t)depth * 12 + 64;
    char *s = malloc(cap);
    assert_non_null(s);
    strcpy(s, "* 1 FETCH (BODYSTRUCTURE ");
    for (unsigned i = 0; i < depth; i++)
        strcat(s, "(");
    strcat(s, "\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 1 1)");
    for (unsigned i = 1; i < depth; i++)
        strcat(s, " \"MIXED\")");
    strcat(s, ")\r\n");
    return s;
}

static void test_nesting_limit(void **state)
{
    (void)state;
    decoded x;
    char *ok = nested(MJ_IMAP_BODY_DEPTH_MAX); /* the root and 31 multiparts below it, a leaf at 32 */
    assert_int_equal(decode(&x, ok, IMAP_TOL_ALL), MJ_OK);
    const mj_imap_body *b = x.body;
    for (unsigned i = 1; i < MJ_IMAP_BODY_DEPTH_MAX; i++)
        b = child(b, 0);
    assert_int_equal(b->kind, MJ_IMAP_BODY_TEXT);
    assert_int_equal(strlen(b->part), 2 * (MJ_IMAP_BODY_DEPTH_MAX - 1) - 1); /* "1.1. ... .1" */
    release(&x);
    free(ok);
    char *deep = nested(MJ_IMAP_BODY_DEPTH_MAX + 1);
    expect_error(deep, IMAP_TOL_ALL, MJ_R_NESTING_TOO_DEEP,
                 "BODYSTRUCTURE of message 1, part 1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1: "
                 "body parts nested over 32 levels (MJ_IMAP_BODY_DEPTH_MAX)");
    free(deep);
}

/* count copies of item between prefix and suffix. */
static char *repeated(const char *prefix, const char *item, size_t count, const char *suffix)
{
    char *s = malloc(strlen(prefix) + strlen(item) * count + strlen(suffix) + 1);
    assert_non_null(s);
    strcpy(s, prefix);
    char *p = s + strlen(s);
    for (size_t i = 0; i < count; i++, p += strlen(item))
        memcpy(p, item, strlen(item));
    strcpy(p, suffix);
    return s;
}

static void test_count_limits(void **state)
{
    (void)state;
    decoded x;
    const char *leaf = "(\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 1 1)";
    char *s = repeated("* 1 FETCH (BODYSTRUCTURE (", leaf, MJ_IMAP_BODY_PARTS_MAX - 1, " \"MIXED\"))\r\n");
    assert_int_equal(decode(&x, s, 0), MJ_OK);
    assert_int_equal(x.body->n_parts, MJ_IMAP_BODY_PARTS_MAX - 1);
    assert_string_equal(x.body->parts[998].part, "999");
    release(&x);
    free(s);
    s = repeated("* 1 FETCH (BODYSTRUCTURE (", leaf, MJ_IMAP_BODY_PARTS_MAX, " \"MIXED\"))\r\n");
    expect_error(s, 0, MJ_R_REPLY_TOO_LARGE, "BODYSTRUCTURE of message 1, part 1000: over 1000 body parts (MJ_IMAP_BODY_PARTS_MAX)");
    free(s);

    const char *addr = "(\"N\" NIL \"m\" \"h\")";
    s = repeated("* 1 FETCH (ENVELOPE (NIL NIL NIL NIL NIL NIL (", addr, MJ_IMAP_ENVELOPE_ADDRESSES_MAX, ") NIL NIL NIL))\r\n");
    assert_int_equal(decode(&x, s, 0), MJ_OK);
    assert_int_equal(x.env->cc.count, MJ_IMAP_ENVELOPE_ADDRESSES_MAX);
    release(&x);
    free(s);
    s = repeated("* 1 FETCH (ENVELOPE (NIL NIL NIL NIL NIL NIL (", addr, MJ_IMAP_ENVELOPE_ADDRESSES_MAX + 1, ") NIL NIL NIL))\r\n");
    expect_error(s, 0, MJ_R_REPLY_TOO_LARGE,
                 "ENVELOPE of message 1: env-cc: 1001 addresses, over 1000 (MJ_IMAP_ENVELOPE_ADDRESSES_MAX)");
    free(s);

    s = repeated("* 1 FETCH (BODY (\"TEXT\" \"PLAIN\" (", "\"a\" \"b\" ", MJ_IMAP_BODY_PARAMS_MAX + 1, "\"c\" \"d\") NIL NIL \"7BIT\" 1 1))\r\n");
    expect_error(s, 0, MJ_R_REPLY_TOO_LARGE, "BODY of message 1, part 1: body-fld-param: over 256 parameters (MJ_IMAP_BODY_PARAMS_MAX)");
    free(s);
    s = repeated("* 1 FETCH (BODYSTRUCTURE (\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 1 1 NIL NIL (", "\"en\" ",
                 MJ_IMAP_BODY_LANGUAGES_MAX, "\"de\")))\r\n");
    expect_error(s, 0, MJ_R_REPLY_TOO_LARGE,
                 "BODYSTRUCTURE of message 1, part 1: body-fld-lang: over 64 languages (MJ_IMAP_BODY_LANGUAGES_MAX)");
    free(s);

    /* a literal too large to keep inline (streamed) cannot be a field */
    mj_imap_limits lim;
    mj_imap_limits_init(&lim);
    lim.literal_inline_max = 4;
    assert_int_equal(decode_with(&x, "* 1 FETCH (ENVELOPE (NIL {10}\r\n0123456789 NIL NIL NIL NIL NIL NIL NIL NIL))\r\n", 0, &lim),
                     MJ_PROTOCOL_ERROR);
    assert_int_equal(x.err.reason, MJ_R_REPLY_TOO_LARGE);
    assert_string_equal(x.err.message, "ENVELOPE of message 1: env-subject: a literal of 10 bytes, over the inline limit");
    release(&x);
}

/* ---- tolerances ------------------------------------------------------------------------------ */

static const struct tolerance_case {
    unsigned bit;
    const char *resp;
    const char *strict_message;
} tolerance_cases[] = {
    {IMAP_TOL_NIL_FIELD, "* 1 FETCH (BODYSTRUCTURE (\"TEXT\" \"PLAIN\" NIL NIL NIL NIL 10 1))\r\n",
     "malformed BODYSTRUCTURE of message 1, part 1: body-fld-enc: expected a string, got NIL (strict: tolerance nil-field is off)"},
    {IMAP_TOL_NIL_FIELD, "* 1 FETCH (BODYSTRUCTURE NIL)\r\n",
     "malformed BODYSTRUCTURE of message 1, top level: body: expected a body list, got NIL (strict: tolerance nil-field is off)"},
    {IMAP_TOL_NIL_FIELD, "* 1 FETCH (ENVELOPE NIL)\r\n",
     "malformed ENVELOPE of message 1: envelope: expected a list of 10 fields, got NIL (strict: tolerance nil-field is off)"},
    {IMAP_TOL_NIL_FIELD, "* 1 FETCH (BODYSTRUCTURE (\"APPLICATION\" \"PDF\" (\"NAME\" NIL) NIL NIL \"BASE64\" NIL))\r\n",
     "malformed BODYSTRUCTURE of message 1, part 1: body-fld-param value 1: expected a string, got NIL (strict: tolerance nil-field is off)"},
    {IMAP_TOL_NUMBER_AS_STRING, "* 1 FETCH (BODYSTRUCTURE (\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" \"120\" \"3\"))\r\n",
     "malformed BODYSTRUCTURE of message 1, part 1: body-fld-octets: expected a number, got string \"120\" (strict: tolerance number-as-string is off)"},
    {IMAP_TOL_MISSING_LINES, "* 1 FETCH (BODYSTRUCTURE (\"TEXT\" \"HTML\" NIL NIL NIL \"7BIT\" 0))\r\n",
     "malformed BODYSTRUCTURE of message 1, part 1: body-fld-lines: expected a number, got nothing (strict: tolerance missing-lines is off)"},
    {IMAP_TOL_MISSING_LINES, "* 1 FETCH (BODYSTRUCTURE (\"TEXT\" \"HTML\" NIL NIL NIL \"7BIT\" 0 \"md5\" (\"inline\" NIL)))\r\n",
     "malformed BODYSTRUCTURE of message 1, part 1: body-fld-lines: expected a number, got string \"md5\" (strict: tolerance missing-lines is off)"},
    {IMAP_TOL_MESSAGE_AS_BASIC, "* 1 FETCH (BODYSTRUCTURE (\"MESSAGE\" \"RFC822\" NIL NIL NIL \"7BIT\" 4000 NIL (\"attachment\" NIL)))\r\n",
     "malformed BODYSTRUCTURE of message 1, part 1: envelope: expected the envelope of the MESSAGE part, got NIL (strict: tolerance message-as-basic is off)"},
    {IMAP_TOL_EMPTY_MULTIPART, "* 1 FETCH (BODYSTRUCTURE (\"MIXED\" (\"BOUNDARY\" \"x\") NIL NIL NIL))\r\n",
     "malformed BODYSTRUCTURE of message 1, top level: body-type-mpart: expected a body before the media-subtype, got a list of 2 (strict: tolerance empty-multipart is off)"},
    {IMAP_TOL_EMPTY_MULTIPART, "* 1 FETCH (BODY (\"MIXED\"))\r\n",
     "malformed BODY of message 1, top level: body-type-mpart: expected a body before the media-subtype, got nothing (strict: tolerance empty-multipart is off)"},
    {IMAP_TOL_EMPTY_LIST, "* 1 FETCH (BODYSTRUCTURE (\"TEXT\" \"PLAIN\" () NIL NIL \"7BIT\" 1 1))\r\n",
     "malformed BODYSTRUCTURE of message 1, part 1: body-fld-param: expected name/value pairs or NIL, got a list of 0 (strict: tolerance empty-list is off)"},
    {IMAP_TOL_EMPTY_LIST, "* 1 FETCH (ENVELOPE (NIL NIL () NIL NIL NIL NIL NIL NIL NIL))\r\n",
     "malformed ENVELOPE of message 1: env-from: expected one address or more, or NIL, got a list of 0 (strict: tolerance empty-list is off)"},
    {IMAP_TOL_LARGE_OCTETS, "* 1 FETCH (BODYSTRUCTURE (\"VIDEO\" \"MP4\" NIL NIL NIL \"BASE64\" 5000000000))\r\n",
     "BODYSTRUCTURE of message 1, part 1: body-fld-octets: 5000000000 does not fit 32 bits (RFC 9051 number) (strict: tolerance large-octets is off)"},
};

static void test_tolerances(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof tolerance_cases / sizeof tolerance_cases[0]; i++) {
        const struct tolerance_case *t = &tolerance_cases[i];
        decoded x;
        /* on: accepted, and exactly that tolerance noted as used */
        mj_outcome o = decode(&x, t->resp, IMAP_TOL_ALL);
        if (o != MJ_OK)
            fail_msg("case %zu tolerant: %s", i, x.err.message);
        if (x.d.used != t->bit)
            fail_msg("case %zu: used %#x, want %#x", i, x.d.used, t->bit);
        release(&x);
        /* only that one on: still accepted */
        assert_int_equal(decode(&x, t->resp, t->bit), MJ_OK);
        release(&x);
        /* off: the exact error, naming the tolerance */
        o = decode(&x, t->resp, IMAP_TOL_ALL & ~t->bit);
        assert_int_equal(o, MJ_PROTOCOL_ERROR);
        if (strcmp(x.err.message, t->strict_message) != 0)
            fail_msg("case %zu strict:\n got  %s\n want %s", i, x.err.message, t->strict_message);
        release(&x);
    }
    /* what the tolerated values decode to */
    decoded x;
    assert_int_equal(decode(&x, tolerance_cases[4].resp, IMAP_TOL_ALL), MJ_OK);
    assert_true(x.body->has_size && x.body->has_lines);
    assert_int_equal(x.body->size, 120);
    assert_int_equal(x.body->lines, 3);
    release(&x);
    assert_int_equal(decode(&x, tolerance_cases[6].resp, IMAP_TOL_ALL), MJ_OK);
    assert_false(x.body->has_lines);
    assert_string_equal(x.body->md5, "md5");
    assert_string_equal(x.body->disposition, "inline");
    release(&x);
    assert_int_equal(decode(&x, tolerance_cases[7].resp, IMAP_TOL_ALL), MJ_OK);
    assert_int_equal(x.body->kind, MJ_IMAP_BODY_BASIC);
    assert_null(x.body->envelope);
    assert_true(x.body->has_md5);
    release(&x);
    assert_int_equal(decode(&x, tolerance_cases[8].resp, IMAP_TOL_ALL), MJ_OK);
    assert_int_equal(x.body->kind, MJ_IMAP_BODY_MULTIPART);
    assert_int_equal(x.body->n_parts, 0);
    assert_string_equal(x.body->subtype, "MIXED");
    assert_string_equal(x.body->params[0].value, "x");
    release(&x);
    assert_int_equal(decode(&x, tolerance_cases[1].resp, IMAP_TOL_ALL), MJ_OK);
    assert_null(x.body);
    release(&x);
    assert_int_equal(decode(&x, tolerance_cases[12].resp, IMAP_TOL_ALL), MJ_OK);
    assert_int_equal(x.body->size, 5000000000ull);
    release(&x);
    for (unsigned bit = 1; bit <= IMAP_TOL_EMPTY_DELIMITER; bit <<= 1)
        assert_string_not_equal(imap_tolerance_name(bit), "unknown");
    assert_string_equal(imap_tolerance_name(IMAP_TOL_EXTRA_PARENS), "extra-parens");
    assert_string_equal(imap_tolerance_name(IMAP_TOL_EMPTY_DELIMITER), "empty-delimiter");
    assert_string_equal(imap_tolerance_name(IMAP_TOL_EMPTY_DELIMITER << 1), "unknown");
}

/* ---- malformed shapes --------------------------------------------------------------------- */

static const struct malformed_case {
    const char *resp;
    const char *message;
} malformed_cases[] = {
    {"* 1 FETCH (BODYSTRUCTURE ((\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 10 1)(\"IMAGE\" \"PNG\" NIL NIL NIL \"BASE64\" lots) \"MIXED\"))\r\n",
     "malformed BODYSTRUCTURE of message 1, part 2: body-fld-octets: expected a number, got atom lots"},
    {"* 3 FETCH (ENVELOPE (NIL \"short\" NIL NIL NIL NIL NIL NIL NIL))\r\n",
     "malformed ENVELOPE of message 3: envelope: expected a list of 10 fields, got a list of 9"},
    {"* 1 FETCH (ENVELOPE (NIL NIL ((\"a\" NIL \"b\")) NIL NIL NIL NIL NIL NIL NIL))\r\n",
     "malformed ENVELOPE of message 1: env-from address 1: expected (name adl mailbox host), got a list of 3"},
    {"* 1 FETCH (ENVELOPE (NIL NIL NIL NIL NIL ((NIL NIL \"a\" \"b\") (NIL NIL b \"c\")) NIL NIL NIL NIL))\r\n",
     "malformed ENVELOPE of message 1: env-to address 2 addr-mailbox: expected a string or NIL, got atom b"},
    {"* 1 FETCH (ENVELOPE (NIL NIL \"x\" NIL NIL NIL NIL NIL NIL NIL))\r\n",
     "malformed ENVELOPE of message 1: env-from: expected a list of addresses or NIL, got string \"x\""},
    {"* 1 FETCH (ENVELOPE (12 NIL NIL NIL NIL NIL NIL NIL NIL NIL))\r\n",
     "malformed ENVELOPE of message 1: env-date: expected a string or NIL, got number 12"},
    {"* 1 FETCH (BODYSTRUCTURE ())\r\n",
     "malformed BODYSTRUCTURE of message 1, part 1: body: expected a body list, got a list of 0"},
    {"* 1 FETCH (BODYSTRUCTURE \"TEXT\")\r\n",
     "malformed BODYSTRUCTURE of message 1, part 1: body: expected a body list, got string \"TEXT\""},
    {"* 1 FETCH (BODYSTRUCTURE (\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\"))\r\n",
     "malformed BODYSTRUCTURE of message 1, part 1: body-type-1part: 6 fields, want media type, subtype and the 5 body-fields"},
    {"* 1 FETCH (BODYSTRUCTURE (TEXT \"PLAIN\" NIL NIL NIL \"7BIT\" 1 1))\r\n",
     "malformed BODYSTRUCTURE of message 1, part 1: media-type: expected a string, got atom TEXT"},
    {"* 1 FETCH (BODYSTRUCTURE (\"TEXT\" \"PLAIN\" (\"CHARSET\") NIL NIL \"7BIT\" 1 1))\r\n",
     "malformed BODYSTRUCTURE of message 1, part 1: body-fld-param: 1 strings, not name/value pairs"},
    {"* 1 FETCH (BODYSTRUCTURE (\"TEXT\" \"PLAIN\" \"CHARSET\" NIL NIL \"7BIT\" 1 1))\r\n",
     "malformed BODYSTRUCTURE of message 1, part 1: body-fld-param: expected a parameter list or NIL, got string \"CHARSET\""},
    {"* 1 FETCH (BODYSTRUCTURE (\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 1 1 NIL \"inline\"))\r\n",
     "malformed BODYSTRUCTURE of message 1, part 1: body-fld-dsp: expected (type parameters) or NIL, got string \"inline\""},
    {"* 1 FETCH (BODYSTRUCTURE (\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 1 1 NIL NIL NIL NIL (\"x\" ATOM)))\r\n",
     "malformed BODYSTRUCTURE of message 1, part 1: body-extension: expected a string, number, NIL or list, got atom ATOM"},
    {"* 1 FETCH (BODYSTRUCTURE ((\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 1 1)))\r\n",
     "malformed BODYSTRUCTURE of message 1, top level: media-subtype: expected a string, got nothing"},
    {"* 1 FETCH (BODYSTRUCTURE ((\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 1 1) \"MIXED\" (\"BOUNDARY\")))\r\n",
     "malformed BODYSTRUCTURE of message 1, top level: body-fld-param: 1 strings, not name/value pairs"},
    {"* 1 FETCH (BODYSTRUCTURE ((\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 1 1)(\"MESSAGE\" \"RFC822\" NIL NIL NIL \"7BIT\" 9 "
     "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL) ((\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 1 x)) 3) \"MIXED\"))\r\n",
     "malformed BODYSTRUCTURE of message 1, part 2.1: body-fld-lines: expected a number, got atom x"},
    {"* 1 FETCH (BODYSTRUCTURE (\"MESSAGE\" \"RFC822\" NIL NIL NIL \"7BIT\" 9 (NIL NIL NIL NIL NIL NIL NIL NIL NIL)))\r\n",
     "malformed BODYSTRUCTURE of message 1, part 1: envelope envelope: expected a list of 10 fields, got a list of 9"},
    {"* 1 FETCH (BODYSTRUCTURE (\"MESSAGE\" \"RFC822\" NIL NIL NIL \"7BIT\" 9 (NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)))\r\n",
     "malformed BODYSTRUCTURE of message 1, part 1: body: expected the body of the MESSAGE part, got nothing"},
};

static void test_malformed(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof malformed_cases / sizeof malformed_cases[0]; i++) {
        for (int strict = 0; strict <= 1; strict++) {
            decoded x;
            mj_outcome o = decode(&x, malformed_cases[i].resp, strict ? 0u : (unsigned)IMAP_TOL_ALL);
            if (o != MJ_PROTOCOL_ERROR)
                fail_msg("case %zu: %d %s", i, (int)o, x.err.message);
            assert_int_equal(x.err.reason, MJ_R_MALFORMED);
            if (strcmp(x.err.message, malformed_cases[i].message) != 0)
                fail_msg("case %zu:\n got  %s\n want %s", i, x.err.message, malformed_cases[i].message);
            release(&x);
        }
    }
}

/* The arena is reused across resets and freed at the end (ASan checks the leak). */
static void test_arena_reset(void **state)
{
    (void)state;
    decoded x;
    assert_int_equal(decode(&x, corpus[1].resp, 0), MJ_OK);
    size_t total = x.d.total;
    assert_true(total > 0);
    imap_decoder_reset(&x.d);
    assert_true(x.d.total <= IMAP_DECODE_BLOCK);
    assert_int_equal(x.d.used, 0);
    release(&x);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(decode(&x, corpus[1].resp, 0), MJ_OK);
        assert_int_equal(x.d.total, total);
        imap_decoder_reset(&x.d);
        assert_int_equal(decode_items(&x, 1, NULL, 0), MJ_OK); /* nothing to decode: nothing allocated */
        assert_true(x.d.total <= IMAP_DECODE_BLOCK);
        release(&x);
    }
}

/* ---- through a session -------------------------------------------------------------------------- */

typedef struct session {
    mj_transport *t;
    mj_imap *s;
} session;

#define SELECTED "* OK [CAPABILITY IMAP4rev1] hi\r\nA0001 OK [CAPABILITY IMAP4rev1] in\r\n* 3 EXISTS\r\nA0002 OK sel\r\n"

static void open_session(session *x, const char *server, bool strict)
{
    mj_error err;
    mj_mem_script script = {.input = server, .input_len = strlen(server), .starttls_state = MJ_TLS_VERIFIED};
    mj_conn_config cfg;
    mj_conn_config_init(&cfg, MJ_PROTO_IMAP);
    cfg.security = MJ_SEC_NONE;
    mj_conn *c = NULL;
    assert_int_equal(mj_mem_transport_new(&script, &cfg.timeouts, &x->t, &err), MJ_OK);
    assert_int_equal(mj_conn_wrap(x->t, &cfg, &c, &err), MJ_OK);
    mj_imap_options opts = {.policy = {.allow_insecure_auth = 1}, .strict = strict};
    assert_int_equal(mj_imap_start(c, MJ_SEC_NONE, &opts, &x->s, &err), MJ_OK);
    static const mj_sasl_creds alice = {.username = "alice", .password = "pw"};
    assert_int_equal(mj_imap_login(x->s, &alice, MJ_SASL_NONE), MJ_OK);
    assert_int_equal(mj_imap_select(x->s, "INBOX", true, NULL), MJ_OK);
}

typedef struct seen {
    char text[1024];
} seen;

static mj_outcome on_message(void *ctx, const mj_imap_message *m)
{
    seen *x = ctx;
    char line[300];
    const mj_imap_body *b = m->body;
    snprintf(line, sizeof line, "%u uid=%u env=%d/%s subj=%s from=%s bs=%d/%s %s/%s parts=%zu;", m->seq, m->uid,
             m->has_envelope, m->envelope ? "set" : "null", m->subject ? m->subject : "-",
             m->envelope && m->envelope->from.count ? m->envelope->from.items[0].mailbox : "-", m->has_bodystructure,
             b ? "set" : "null", b && b->type ? b->type : "-", b && b->subtype ? b->subtype : "-", b ? b->n_parts : 0);
    strcat(x->text, line);
    return MJ_OK;
}

static void test_session_fetch(void **state)
{
    (void)state;
    session x;
    open_session(&x, SELECTED
                 "* 1 FETCH (UID 5 ENVELOPE (NIL \"one\" ((NIL NIL \"ann\" \"x\")) NIL NIL NIL NIL NIL NIL NIL) BODYSTRUCTURE "
                 "((\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 1 1)(\"TEXT\" \"HTML\" NIL NIL NIL \"7BIT\" 1 1) \"ALTERNATIVE\"))\r\n"
                 "* 2 FETCH (UID 6 BODY (\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 1 1))\r\n"
                 "* 3 FETCH (UID 7 (ENVELOPE (NIL \"three\" NIL NIL NIL NIL NIL NIL NIL NIL)) BODYSTRUCTURE (\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 0 0 NIL))\r\n"
                 "A0003 OK done\r\n",
                 false);
    seen s = {{0}};
    mj_imap_fetch_cb cb = {NULL, on_message, &s};
    assert_int_equal(mj_imap_fetch(x.s, false, "1:3", "(UID ENVELOPE BODYSTRUCTURE)", &cb), MJ_OK);
    assert_string_equal(s.text, "1 uid=5 env=1/set subj=one from=ann bs=1/set MULTIPART/ALTERNATIVE parts=2;"
                                "2 uid=6 env=0/null subj=- from=- bs=1/set TEXT/PLAIN parts=0;"
                                "3 uid=7 env=1/set subj=three from=- bs=1/set TEXT/PLAIN parts=0;");
    mj_imap_close(x.s);
}

/* Strict: Domino's extra parentheses and a NIL encoding are protocol errors; the session FAILS. */
static void test_session_strict(void **state)
{
    (void)state;
    static const struct {
        const char *reply;
        const char *message;
    } cases[] = {
        {"* 2 FETCH (UID 14935 (ENVELOPE (NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)) BODYSTRUCTURE (\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 0 0 NIL))\r\n",
         "malformed FETCH (an item in parentheses: strict, tolerance extra-parens is off) response"},
        {"* 2 FETCH (UID 1 BODYSTRUCTURE (\"TEXT\" \"PLAIN\" NIL NIL NIL NIL 0 0))\r\n",
         "malformed BODYSTRUCTURE of message 2, part 1: body-fld-enc: expected a string, got NIL (strict: tolerance nil-field is off)"},
        /* zoho/fetch-negative-modseq-values.txt: the message has no mod-sequence */
        {"* 2 FETCH (MODSEQ (-1) UID 1 BODYSTRUCTURE (\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 0 0))\r\n",
         "malformed FETCH MODSEQ (a negative number: strict, tolerance negative-modseq is off) response"},
        /* yandex/getbodypart-missing-content.txt (there "BODY[2] )": the parser's space-before-close) */
        {"* 2 FETCH (UID 1 BODYSTRUCTURE (\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 0 0) BODY[2])\r\n",
         "malformed FETCH (a body section without a value: strict, tolerance item-without-value is off) response"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char server[1024];
        snprintf(server, sizeof server, "%s%sA0003 OK done\r\n", SELECTED, cases[i].reply);
        for (int strict = 0; strict <= 1; strict++) {
            session x;
            open_session(&x, server, strict);
            seen s = {{0}};
            mj_imap_fetch_cb cb = {NULL, on_message, &s};
            mj_outcome o = mj_imap_fetch(x.s, false, "2", "(UID ENVELOPE BODYSTRUCTURE)", &cb);
            if (!strict) {
                assert_int_equal(o, MJ_OK);
                assert_non_null(strstr(s.text, "bs=1/set TEXT/PLAIN"));
            } else {
                assert_int_equal(o, MJ_PROTOCOL_ERROR);
                assert_int_equal(mj_imap_error(x.s)->reason, MJ_R_MALFORMED);
                assert_string_equal(mj_imap_error(x.s)->message, cases[i].message);
                assert_int_equal(mj_imap_get_state(x.s), MJ_IMAP_STATE_FAILED);
                assert_string_equal(s.text, "");
            }
            mj_imap_close(x.s);
        }
    }
    /* nested twice is refused even when tolerant */
    session x;
    open_session(&x, SELECTED "* 2 FETCH (UID 1 ((ENVELOPE NIL)))\r\nA0003 OK done\r\n", false);
    assert_int_equal(mj_imap_fetch(x.s, false, "2", "(UID ENVELOPE)", NULL), MJ_PROTOCOL_ERROR);
    assert_string_equal(mj_imap_error(x.s)->message, "malformed FETCH (an item nested twice) response");
    mj_imap_close(x.s);
    open_session(&x, SELECTED "* 2 FETCH (UID 1 FLAGS)\r\nA0003 OK done\r\n", false);
    assert_int_equal(mj_imap_fetch(x.s, false, "2", "(UID FLAGS)", NULL), MJ_PROTOCOL_ERROR);
    assert_string_equal(mj_imap_error(x.s)->message, "malformed FETCH (an item without a value) response");
    mj_imap_close(x.s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_corpus),
        cmocka_unit_test(test_corpus_values),
        cmocka_unit_test(test_text_plain_all_fields),
        cmocka_unit_test(test_message_rfc822),
        cmocka_unit_test(test_address_groups),
        cmocka_unit_test(test_nesting_limit),
        cmocka_unit_test(test_count_limits),
        cmocka_unit_test(test_tolerances),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_arena_reset),
        cmocka_unit_test(test_session_fetch),
        cmocka_unit_test(test_session_strict),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
