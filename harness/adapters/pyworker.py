#!/usr/bin/python3
"""The python adapter's worker: Debian's imaplib, poplib and smtplib.

Run by the python adapter (python.py) as a long-lived process, so a scenario
costs no interpreter start: one JSON request per line on stdin, one JSON
answer per line on the original stdout.  The harness kills the worker when a
request outlives the scenario's limit (a hang) and starts a fresh one.

Answer: {"outcome", "reason", "message", "result", "log"} or {"crash": text}
when the adapter code itself failed (a bug here, not a client outcome).

Exceptions map to outcome classes (see README.md, "Conformance harness"):
  ssl.SSLCertVerificationError           certificate-invalid (reason from verify_code)
  ssl.SSLError (other)                    tls-failed (plaintext / version / alert)
  ConnectionRefusedError, socket.gaierror connect-failed
  TimeoutError / socket.timeout           timeout
  EOF, reset, SMTPServerDisconnected,
  IMAP4.abort on a socket error           connection-lost
  STARTTLS not offered or refused         starttls-unavailable
  LOGIN / PASS / AUTH refused             auth-failed (SMTP without AUTH: auth-unsupported)
  SMTP sender, all recipients or DATA
  refused (5xx)                           message-rejected (4xx: server-busy)
  any other NO / -ERR / 5xx               server-refused (4xx: server-busy)
  a malformed reply                       protocol-error
"""
import hashlib
import imaplib
import io
import json
import os
import poplib
import re
import smtplib
import socket
import ssl
import sys
import traceback

_real_getaddrinfo = socket.getaddrinfo
RESOLVE = {}
imaplib.Debug = 4

VERIFY_REASONS = {
    9: "not-yet-valid", 10: "expired", 2: "untrusted", 18: "untrusted", 19: "untrusted",
    20: "untrusted", 21: "untrusted", 62: "hostname", 26: "purpose", 24: "chain", 79: "chain",
    66: "weak", 67: "weak", 68: "weak",
}


def getaddrinfo(host, port, *args, **kw):
    addr = RESOLVE.get((host, int(port) if port is not None else None))
    if addr:
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (addr, int(port)))]
    return _real_getaddrinfo(host, port, *args, **kw)


socket.getaddrinfo = getaddrinfo


class Outcome(Exception):
    def __init__(self, outcome, message, reason=""):
        super().__init__(message)
        self.outcome, self.message, self.reason = outcome, message, reason


def tls_context(req):
    trust = req.get("trust", "test-ca")
    if trust == "test-ca":
        ctx = ssl.create_default_context(cafile=req["cafile"])
    else:
        ctx = ssl.create_default_context()
    if trust == "insecure":
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


def tls_state(req, tls_on):
    if not tls_on:
        return "none"
    return "unverified" if req.get("trust") == "insecure" else "verified"


def message_bytes(req):
    m = (req.get("args") or {}).get("message") or {}
    if "file" in m:
        with open(os.path.join(req["scenario_dir"], m["file"]), "rb") as f:
            return f.read()
    return str(m.get("text", "")).encode()


def classify(exc, phase):
    """An exception raised in phase (connect, starttls, login, op) -> (class, reason)."""
    text = str(exc)
    if isinstance(exc, Outcome):
        return exc.outcome, exc.reason
    if isinstance(exc, ssl.SSLCertVerificationError):
        return "certificate-invalid", VERIFY_REASONS.get(exc.verify_code, str(exc.verify_code))
    if isinstance(exc, (TimeoutError, socket.timeout)):
        return "timeout", ""
    if isinstance(exc, ssl.SSLError):
        if isinstance(exc, (ssl.SSLEOFError, ssl.SSLZeroReturnError)) and phase != "connect":
            return "connection-lost", "eof"
        low = text.lower()
        if "wrong version number" in low or "record layer failure" in low or \
                "packet length too long" in low or "http request" in low:
            return "tls-failed", "plaintext"
        if "unsupported protocol" in low or "protocol version" in low:
            return "tls-failed", "version"
        return "tls-failed", ""
    if isinstance(exc, ConnectionRefusedError):
        return "connect-failed", "refused"
    if isinstance(exc, socket.gaierror):
        return "connect-failed", "resolve"
    if isinstance(exc, (ConnectionResetError, BrokenPipeError, EOFError,
                        smtplib.SMTPServerDisconnected)):
        return "connection-lost", ""
    if isinstance(exc, OSError) and phase == "connect":
        return "connect-failed", ""
    if isinstance(exc, imaplib.IMAP4.abort):
        if "socket error" in text or "EOF" in text:
            return "connection-lost", "eof"
        return "protocol-error", ""
    if phase == "starttls":
        return "starttls-unavailable", ""
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return ("auth-unsupported" if phase == "login" else "server-refused"), ""
    if isinstance(exc, smtplib.SMTPResponseException):
        code = exc.smtp_code
        if phase == "login":
            return ("server-busy" if 400 <= code < 500 else "auth-failed"), ""
        if isinstance(exc, (smtplib.SMTPSenderRefused, smtplib.SMTPDataError)) and phase == "op":
            return ("server-busy" if 400 <= code < 500 else "message-rejected"), ""
        return ("server-busy" if 400 <= code < 500 else "server-refused"), ""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [c for c, _ in exc.recipients.values()]
        return ("server-busy" if codes and all(400 <= c < 500 for c in codes)
                else "message-rejected"), ""
    if isinstance(exc, (imaplib.IMAP4.error, poplib.error_proto)):
        if "EOF" in text or "socket" in text:
            return "connection-lost", "eof"
        if phase == "login":
            return "auth-failed", ""
        if "UNAVAILABLE" in text or "IN-USE" in text:
            return "server-busy", ""
        if phase == "connect" and "BYE" not in text:
            return "protocol-error", ""
        return "server-refused", ""
    if isinstance(exc, smtplib.SMTPException):
        return "protocol-error", ""
    if isinstance(exc, (ValueError, UnicodeError)):
        return "protocol-error", ""
    return None, ""


# ---- one client per protocol ---------------------------------------------------------

def run_imap(req, st):
    host, port, t = req["host"], req["port"], req["timeout_ms"] / 1000.0
    sec, op = req["security"], req["op"]
    ctx = tls_context(req)
    st["phase"] = "connect"
    if sec == "implicit":
        m = imaplib.IMAP4_SSL(host, port, ssl_context=ctx, timeout=t)
        st["tls"] = True
    else:
        m = imaplib.IMAP4(host, port, timeout=t)
    m.debug = 4
    greeting = m.welcome.decode(errors="replace")
    if sec in ("starttls", "starttls-if-available"):
        if "STARTTLS" in m.capabilities or sec == "starttls":
            st["phase"] = "starttls"
            m.starttls(ssl_context=ctx)
            st["tls"] = True
    result = {"greeting": greeting}
    if op != "probe":
        st["phase"] = "login"
        m.login(req.get("user", ""), req.get("password", ""))
        result = {"capabilities": list(m.capabilities)}
        st["phase"] = "op"
        if op == "imap.list":
            a = req.get("args") or {}
            typ, data = m.list(a.get("reference", '""') or '""', a.get("pattern", "*"))
            boxes = []
            for d in data:
                if d is None:
                    continue
                mm = re.match(rb'\((.*?)\) (NIL|"(?:[^"\\]|\\.)*") (.*)', d)
                if not mm:
                    raise Outcome("protocol-error", f"unparsable LIST reply {d!r}")
                delim = None if mm.group(2) == b"NIL" else mm.group(2)[1:-1].decode()
                name = mm.group(3).decode()
                if name.startswith('"'):
                    name = name[1:-1]
                boxes.append({"name": name, "delimiter": delim,
                              "attributes": mm.group(1).decode().split()})
            result = {"mailboxes": boxes}
        elif op == "imap.select":
            a = req.get("args") or {}
            typ, data = m.select(a.get("mailbox", "INBOX"), readonly=bool(a.get("readonly")))
            if typ != "OK":
                raise Outcome("server-refused", f"SELECT: {data!r}")
            result = {"exists": int(data[0])}
            for key in ("RECENT", "UIDVALIDITY", "UIDNEXT", "HIGHESTMODSEQ"):
                v = m.untagged_responses.get(key)
                if v and v[0] is not None:
                    result[key.lower()] = int(v[0])
    st["phase"] = "logout"
    try:
        m.logout()
    except (OSError, imaplib.IMAP4.error, EOFError):
        pass
    if op == "probe":
        result["tls"] = {"state": tls_state(req, st["tls"])}
    return result


def pop3_stls(p, caps, sec, ctx):
    """STLS on the CAPA answer already read; True when TLS is up.

    poplib's stls() sends CAPA a second time and wants STLS in that answer,
    but a server (and a scenario) answers CAPA once: so the upgrade is done
    here as stls() does it, without the second CAPA.  Like stls(), nothing is
    sent when STLS is not offered.  A -ERR to STLS under starttls-if-available
    leaves the session in plaintext, as the mode says."""
    if "STLS" not in caps:
        raise Outcome("starttls-unavailable", "STLS is not in the CAPA answer (or CAPA was refused)")
    try:
        p._shortcmd("STLS")
    except poplib.error_proto:
        if sec == "starttls":
            raise
        return False
    p.sock = ctx.wrap_socket(p.sock, server_hostname=p.host)
    p.file = p.sock.makefile("rb")
    p._tls_established = True
    return True


def run_pop3(req, st):
    host, port, t = req["host"], req["port"], req["timeout_ms"] / 1000.0
    sec, op = req["security"], req["op"]
    ctx = tls_context(req)
    st["phase"] = "connect"
    if sec == "implicit":
        p = poplib.POP3_SSL(host, port, timeout=t, context=ctx)
        st["tls"] = True
    else:
        p = poplib.POP3(host, port, timeout=t)
    p.set_debuglevel(2)
    greeting = p.getwelcome().decode(errors="replace")
    if sec in ("starttls", "starttls-if-available"):
        st["phase"] = "starttls"
        try:
            caps = p.capa()
        except poplib.error_proto:
            caps = {}
        if "STLS" in caps or sec == "starttls":
            st["tls"] = pop3_stls(p, caps, sec, ctx)
    result = {"greeting": greeting}
    if op != "probe":
        st["phase"] = "login"
        p.user(req.get("user", ""))
        p.pass_(req.get("password", ""))
        st["phase"] = "op"
        if op == "pop3.stat":
            try:
                count, size = p.stat()
            except (IndexError, ValueError) as e:  # poplib parses "+OK n size" by split()
                raise Outcome("protocol-error", f"malformed STAT answer: {e}") from e
            result = {"count": count, "size": size}
        elif op in ("pop3.list", "pop3.uidl"):
            n = (req.get("args") or {}).get("message")
            fn = p.list if op == "pop3.list" else p.uidl
            if n is None:
                _, lines, _ = fn()
            else:  # "+OK n value", one line
                lines = [fn(int(n)).split(None, 1)[1]]
            try:
                result = {"messages": [
                    {"number": int(l.split()[0]),
                     **({"size": int(l.split()[1])} if op == "pop3.list"
                        else {"uid": l.split()[1].decode()})} for l in lines]}
            except (IndexError, ValueError, UnicodeError) as e:
                raise Outcome("protocol-error", f"malformed listing: {e}") from e
        elif op == "pop3.retr":
            m = str((req.get("args") or {}).get("message", 1))
            first, _, last = m.partition("-")
            numbers = range(int(first), int(last or first) + 1)
            messages = []
            for n in numbers:  # a range: one retr() after the other, as poplib offers
                _, lines, _ = p.retr(n)
                body = b"".join(l + b"\r\n" for l in lines)
                messages.append({"number": n, "message_sha256": hashlib.sha256(body).hexdigest(),
                                 "size": len(body)})
            result = ({"messages": messages} if "-" in m else
                      {k: v for k, v in messages[0].items() if k != "number"})
    st["phase"] = "logout"
    try:
        p.quit()
    except (OSError, poplib.error_proto, EOFError):
        pass
    if op == "probe":
        result["tls"] = {"state": tls_state(req, st["tls"])}
    return result


def run_smtp(req, st):
    host, port, t = req["host"], req["port"], req["timeout_ms"] / 1000.0
    sec, op = req["security"], req["op"]
    ctx = tls_context(req)
    st["phase"] = "connect"
    local = "client.mailjig.test"
    if sec == "implicit":
        s = smtplib.SMTP_SSL(local_hostname=local, timeout=t, context=ctx)
        st["tls"] = True
    else:
        s = smtplib.SMTP(local_hostname=local, timeout=t)
    s._host = host  # connect() alone leaves it unset; SNI and the host name check need it
    s.set_debuglevel(1)
    code, msg = s.connect(host, port)
    if code != 220:
        raise Outcome("server-busy" if 400 <= code < 500 else "server-refused",
                      f"greeting {code} {msg.decode(errors='replace')}")
    greeting = f"{code} {msg.decode(errors='replace')}"
    if sec in ("starttls", "starttls-if-available"):
        st["phase"] = "starttls"
        s.ehlo()
        if s.has_extn("starttls") or sec == "starttls":
            s.starttls(context=ctx)
            st["tls"] = True
    result = {"greeting": greeting}
    if op == "smtp.send":
        if req.get("user"):
            st["phase"] = "login"
            s.login(req["user"], req.get("password", ""))
        st["phase"] = "op"
        a = req.get("args") or {}
        to = a.get("to") or []
        to = [to] if isinstance(to, str) else list(to)
        refused = s.sendmail(a.get("from", ""), to, message_bytes(req),
                             a.get("mail_options") or [], a.get("rcpt_options") or [])
        rejected = []
        for rcpt, (c, text) in refused.items():
            text = text.decode(errors="replace")
            enh = re.match(r"(\d\.\d{1,3}\.\d{1,3}) ", text)
            rejected.append({"recipient": rcpt, "code": c,
                             "enhanced": enh.group(1) if enh else None, "text": text})
        result = {"accepted": [r for r in to if r not in refused], "rejected": rejected}
    st["phase"] = "logout"
    try:
        s.quit()
    except (OSError, smtplib.SMTPException):
        pass
    if op == "probe":
        result["tls"] = {"state": tls_state(req, st["tls"])}
    return result


RUNNERS = {"imap": run_imap, "pop3": run_pop3, "smtp": run_smtp}


def handle(req):
    RESOLVE.clear()
    RESOLVE[(req["host"], req["port"])] = req["addr"]
    st = {"phase": "connect", "tls": False}
    log = io.StringIO()
    old = sys.stdout, sys.stderr
    sys.stdout = sys.stderr = log
    try:
        try:
            result = RUNNERS[req["protocol"]](req, st)
            answer = {"outcome": "ok", "reason": "", "message": "", "result": result}
        except Exception as exc:  # noqa: BLE001 - every client error is classified
            outcome, reason = classify(exc, st["phase"])
            if outcome is None:
                answer = {"crash": "".join(traceback.format_exception(exc))}
            else:
                answer = {"outcome": outcome, "reason": reason,
                          "message": f"{type(exc).__name__} during {st['phase']}: {exc}",
                          "result": {}}
    finally:
        sys.stdout, sys.stderr = old
    answer["log"] = log.getvalue()[-20000:]
    return answer


def main():
    out = os.fdopen(os.dup(1), "w")
    for line in sys.stdin:
        if not line.strip():
            continue
        req = json.loads(line)
        if req.get("op") == "_hang":      # for the harness's own tests
            import time
            time.sleep(3600)
        if req.get("op") == "_crash":
            os._exit(3)
        out.write(json.dumps(handle(req)) + "\n")
        out.flush()


if __name__ == "__main__":
    main()
