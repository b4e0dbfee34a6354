"""Acceptance tests of `mj imap://...` operations against a small IMAP server
written here (RFC 9051 / 3501 subset, STARTTLS, LITERAL+ absent so literals
synchronize) on 127.0.0.1.

Checks the JSON results of scenarios/FORMAT.md (login -> capabilities,
list -> mailboxes, select -> exists/recent/uidvalidity/uidnext/flags,
fetch -> messages with body_sha256 (and envelope / bodystructure), store, copy/move -> copyuid, append ->
appenduid), exit codes, and what the client sent (STARTTLS before
credentials, nothing sensitive without TLS).  Runs under /usr/bin/python3
with pytest; finds mj in $MJ_BIN and the test certificates in $MJ_CERTS.
"""

import hashlib
import json
import os
import re
import socket
import ssl
import subprocess
import threading

import pytest

SRCDIR = os.environ.get(
    "MJ_SRCDIR", os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..")))
MJ = os.path.join(os.environ.get("MJ_BIN", os.path.join(SRCDIR, "build", "gcc", "bin")), "mj")
CERTS = os.environ.get("MJ_CERTS", os.path.join(SRCDIR, "build", "certs"))
CA = os.path.join(CERTS, "ca.crt")

EXIT = {"ok": 0, "usage": 2, "starttls-unavailable": 22, "cleartext-refused": 23,
        "auth-failed": 30, "protocol-error": 40, "server-refused": 50}

PASSWORD = "Pw-imap-71c3-never-print-me"
BODY1 = b"Subject: one\r\n\r\nhello (world)\r\n"
BODY2 = b"Subject: two\r\n\r\n" + b"x" * 100000 + b"\r\n"


class ImapServer:
    """One IMAP session per connection, in a thread.

    caps: capabilities before login; starttls: offer and do STARTTLS;
    login_reply: the tagged reply text to LOGIN (after the tag)."""

    def __init__(self, caps="IMAP4rev1 UIDPLUS MOVE", starttls=False, login_reply="OK logged in"):
        self.caps = caps + (" STARTTLS" if starttls else "")
        self.starttls = starttls
        self.login_reply = login_reply
        self.commands = []   # every command received (literals inline)
        self.appended = []
        self.plain = []      # what arrived before TLS
        self.tls = False
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.sock.settimeout(0.2)  # accept wakes up to notice close()
        self.closed = False
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def close(self):
        self.closed = True
        self.thread.join(5)
        self.sock.close()

    def _serve(self):
        while not self.closed:
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            conn.settimeout(10)
            try:
                self._session(conn)
            except (OSError, ssl.SSLError, ValueError):
                pass
            finally:
                conn.close()

    def _readline(self, f):
        line = f.readline()
        if not line:
            raise ValueError("eof")
        return line.rstrip(b"\r\n")

    def _command(self, f, w):
        """One command with its synchronizing literals inline."""
        line = self._readline(f)
        while True:
            m = re.search(rb"\{(\d+)\}$", line)
            if not m:
                return line
            w(b"+ Ready")
            data = f.read(int(m.group(1)))
            line = line + b"\r\n" + data + self._readline(f)

    def _session(self, conn):
        f = conn.makefile("rb")

        def w(text):
            conn.sendall(text + b"\r\n")

        w(b"* OK [CAPABILITY " + self.caps.encode() + b"] test server")
        while True:
            line = self._command(f, w)
            self.commands.append(line)
            if not self.tls:
                self.plain.append(line)
            tag, _, rest = line.partition(b" ")
            verb, _, args = rest.partition(b" ")
            verb = verb.upper()
            if verb == b"UID":
                sub, _, args = args.partition(b" ")
                verb = b"UID " + sub.upper()
            handler = getattr(self, "cmd_" + verb.decode().replace(" ", "_").lower(), None)
            if handler is None:
                w(tag + b" BAD unknown command")
                continue
            res = handler(tag, args, w)
            if res == "starttls":
                ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
                ctx.load_cert_chain(os.path.join(CERTS, "valid.crt"),
                                    os.path.join(CERTS, "valid.key"))
                conn = ctx.wrap_socket(conn, server_side=True)
                f = conn.makefile("rb")
                self.tls = True

                def w(text, conn=conn):  # noqa: F811 (rebinds to the TLS socket)
                    conn.sendall(text + b"\r\n")
            elif res == "bye":
                return

    # ---- commands ----
    def cmd_capability(self, tag, args, w):
        caps = self.caps.replace(" STARTTLS", "") if self.tls else self.caps
        w(b"* CAPABILITY " + caps.encode())
        w(tag + b" OK done")

    def cmd_starttls(self, tag, args, w):
        w(tag + b" OK begin TLS")
        return "starttls"

    def cmd_login(self, tag, args, w):
        w(tag + b" " + self.login_reply.encode())

    def cmd_logout(self, tag, args, w):
        w(b"* BYE bye")
        w(tag + b" OK done")
        return "bye"

    def cmd_noop(self, tag, args, w):
        w(tag + b" OK done")

    def cmd_list(self, tag, args, w):
        w(b'* LIST (\\HasNoChildren) "/" INBOX')
        w(b'* LIST (\\HasNoChildren \\Drafts) "/" "Entw&APw-rfe"')
        w(tag + b" OK done")

    def _select(self, tag, w, ro):
        w(b"* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)")
        w(b"* 2 EXISTS")
        w(b"* 0 RECENT")
        w(b"* OK [UIDVALIDITY 1700] ok")
        w(b"* OK [UIDNEXT 12] ok")
        w(tag + (b" OK [READ-ONLY] done" if ro else b" OK [READ-WRITE] done"))

    def cmd_select(self, tag, args, w):
        self._select(tag, w, False)

    def cmd_examine(self, tag, args, w):
        self._select(tag, w, True)

    def cmd_status(self, tag, args, w):
        w(b"* STATUS INBOX (MESSAGES 2 RECENT 0 UIDNEXT 12 UIDVALIDITY 1700 UNSEEN 1)")
        w(tag + b" OK done")

    def _fetch(self, tag, w, args=b""):
        if b"BODYSTRUCTURE" in args:  # ENVELOPE and BODYSTRUCTURE decoded (issue 6)
            w(b'* 1 FETCH (UID 10 ENVELOPE ("Mon, 7 Feb 1994 21:52:25 -0800" "Re: x" '
              b'(("Fred" NIL "fred" "example.org")) NIL NIL ((NIL NIL "team" NIL)(NIL NIL NIL NIL)) NIL NIL '
              b'"<a@x>" "<b@x>") BODYSTRUCTURE (("TEXT" "PLAIN" ("CHARSET" "utf-8") NIL NIL "7BIT" 10 1 '
              b'NIL NIL NIL NIL)("APPLICATION" "PDF" ("NAME" "a.pdf") "<c@x>" NIL "BASE64" ' +
              (b"many" if b"X-BAD" in args else b"4000") +
              b' NIL ("ATTACHMENT" ("FILENAME" "a.pdf")) ("en") NIL) "MIXED" ("BOUNDARY" "b") NIL NIL NIL))')
            w(tag + b" OK done")
            return
        for seq, uid, body in ((1, 10, BODY1), (2, 11, BODY2)):
            w(b"* %d FETCH (UID %d FLAGS (\\Seen) RFC822.SIZE %d BODY[] {%d}" % (
                seq, uid, len(body), len(body)) + b"\r\n" + body + b")")
        w(tag + b" OK done")

    def cmd_fetch(self, tag, args, w):
        self._fetch(tag, w, args)

    def cmd_uid_fetch(self, tag, args, w):
        self._fetch(tag, w, args)

    def cmd_store(self, tag, args, w):
        w(b"* 1 FETCH (FLAGS (\\Seen \\Flagged))")
        w(tag + b" OK done")

    def cmd_search(self, tag, args, w):
        w(b"* SEARCH 1 2")
        w(tag + b" OK done")

    def cmd_uid_copy(self, tag, args, w):
        w(tag + b" OK [COPYUID 1800 10:11 5:6] done")

    def cmd_uid_move(self, tag, args, w):
        w(b"* OK [COPYUID 1800 10 7] moved")
        w(b"* 1 EXPUNGE")
        w(tag + b" OK done")

    def cmd_append(self, tag, args, w):
        self.appended.append(args)
        w(tag + b" OK [APPENDUID 1700 12] done")

    def cmd_create(self, tag, args, w):
        w(tag + b" OK done")


@pytest.fixture
def server(request):
    srv = ImapServer(**getattr(request, "param", {}))
    yield srv
    srv.close()


@pytest.fixture
def password_file(tmp_path):
    path = tmp_path / "password"
    path.write_text(PASSWORD + "\n")
    return str(path)


def mj(srv, *args, security="starttls", login=None, extra=(), stdin=None):
    cmd = [MJ, "--json", "--security", security, "--cafile", CA, "--timeout-ms", "5000", *extra]
    if login:
        cmd += ["--user", "alice", "--password-file", login]
    cmd += ["imap://localhost:%d" % srv.port, *args]
    p = subprocess.run(cmd, capture_output=True, timeout=30, check=False, input=stdin)
    out = json.loads(p.stdout)
    assert out["exit_code"] == p.returncode == EXIT[out["outcome"]]
    assert PASSWORD not in p.stdout.decode() and PASSWORD not in p.stderr.decode()
    return out


TLS = {"starttls": True}


def verbs(srv):
    return [c.split(b" ")[1].decode() for c in srv.commands]


@pytest.mark.parametrize("server", [TLS], indirect=True)
def test_login_over_starttls(server, password_file):
    out = mj(server, "login", login=password_file)
    assert out["outcome"] == "ok", out
    # not in the OK: forgotten and asked again after authentication
    assert out["result"] == {"capabilities": ["IMAP4rev1", "UIDPLUS", "MOVE"], "imap4rev2": False}
    assert verbs(server) == ["STARTTLS", "CAPABILITY", "LOGIN", "CAPABILITY", "LOGOUT"]
    assert server.plain == [server.commands[0]]  # only STARTTLS in plaintext
    assert server.commands[2].endswith(b"LOGIN alice " + PASSWORD.encode())


@pytest.mark.parametrize("server", [{"login_reply": "OK [CAPABILITY IMAP4rev1 IDLE] in"}],
                         indirect=True)
def test_login_capabilities_and_cleartext_policy(server, password_file):
    out = mj(server, "login", security="none", login=password_file)
    assert out["outcome"] == "cleartext-refused", out
    assert server.commands == []  # not even LOGOUT after a refusal
    out = mj(server, "login", security="none", login=password_file,
             extra=["--allow-insecure-auth"])
    assert out["result"] == {"capabilities": ["IMAP4rev1", "IDLE"], "imap4rev2": False}


@pytest.mark.parametrize("server", [{"starttls": False}], indirect=True)
def test_starttls_required_not_offered(server, password_file):
    out = mj(server, "login", login=password_file)
    assert out["outcome"] == "starttls-unavailable"
    assert server.commands == []


@pytest.mark.parametrize("server", [dict(TLS, login_reply="NO [AUTHENTICATIONFAILED] bad")],
                         indirect=True)
def test_login_refused(server, password_file):
    out = mj(server, "login", login=password_file)
    assert out["outcome"] == "auth-failed"
    assert "AUTHENTICATIONFAILED" in out["message"]


@pytest.mark.parametrize("server", [TLS], indirect=True)
def test_list_select_status(server, password_file):
    out = mj(server, "list", login=password_file)
    assert out["result"]["mailboxes"] == [
        {"name": "INBOX", "delimiter": "/", "attributes": ["\\HasNoChildren"]},
        {"name": "Entw\u00fcrfe", "delimiter": "/", "attributes": ["\\HasNoChildren", "\\Drafts"]},
    ]
    out = mj(server, "select", "INBOX", login=password_file)
    r = out["result"]
    assert (r["exists"], r["recent"], r["uidvalidity"], r["uidnext"]) == (2, 0, 1700, 12)
    assert r["flags"] == ["\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft"]
    assert r["read_only"] is False
    out = mj(server, "status", "INBOX", login=password_file)
    assert out["result"] == {"messages": 2, "recent": 0, "uidnext": 12, "uidvalidity": 1700,
                             "unseen": 1}


@pytest.mark.parametrize("server", [TLS], indirect=True)
def test_fetch_bodies_hashed(server, password_file):
    out = mj(server, "fetch", "INBOX", "1:2", login=password_file)
    assert out["outcome"] == "ok", out
    msgs = out["result"]["messages"]
    assert [(m["seq"], m["uid"], m["flags"], m["size"]) for m in msgs] == [
        (1, 10, ["\\Seen"], len(BODY1)), (2, 11, ["\\Seen"], len(BODY2))]
    assert msgs[0]["body_sha256"] == hashlib.sha256(BODY1).hexdigest()
    assert msgs[1]["body_sha256"] == hashlib.sha256(BODY2).hexdigest()
    assert server.commands[-2].endswith(b"FETCH 1:2 (UID FLAGS RFC822.SIZE BODY.PEEK[])")
    assert b"EXAMINE INBOX" in server.commands[-3]


@pytest.mark.parametrize("server", [TLS], indirect=True)
def test_fetch_envelope_bodystructure(server, password_file):
    out = mj(server, "fetch", "INBOX", "1", "(UID ENVELOPE BODYSTRUCTURE)", login=password_file)
    assert out["outcome"] == "ok", out
    m = out["result"]["messages"][0]
    assert m["subject"] == "Re: x"
    assert m["envelope"] == {
        "date": "Mon, 7 Feb 1994 21:52:25 -0800", "subject": "Re: x",
        "from": [{"name": "Fred", "mailbox": "fred", "host": "example.org"}], "sender": [], "reply_to": [],
        "to": [{"name": None, "mailbox": "team", "host": None, "group": "start"},
               {"name": None, "mailbox": None, "host": None, "group": "end"}],
        "cc": [], "bcc": [], "in_reply_to": "<a@x>", "message_id": "<b@x>"}
    assert m["bodystructure"] == {
        "part": "", "type": "MULTIPART", "subtype": "MIXED", "params": {"BOUNDARY": "b"},
        "disposition": None, "language": None, "location": None,
        "parts": [
            {"part": "1", "type": "TEXT", "subtype": "PLAIN", "params": {"CHARSET": "utf-8"}, "id": None,
             "description": None, "encoding": "7BIT", "size": 10, "lines": 1, "md5": None, "disposition": None,
             "language": None, "location": None},
            {"part": "2", "type": "APPLICATION", "subtype": "PDF", "params": {"NAME": "a.pdf"}, "id": "<c@x>",
             "description": None, "encoding": "BASE64", "size": 4000, "md5": None,
             "disposition": {"type": "ATTACHMENT", "params": {"FILENAME": "a.pdf"}}, "language": ["en"],
             "location": None}]}
    out = mj(server, "fetch", "INBOX", "1", "(UID BODYSTRUCTURE X-BAD)", login=password_file)
    assert (out["outcome"], out["reason"]) == ("protocol-error", "malformed")
    assert out["message"] == ("malformed BODYSTRUCTURE of message 1, part 2: body-fld-octets: "
                              "expected a number, got atom many")


@pytest.mark.parametrize("server", [TLS], indirect=True)
def test_store_search_copy_move(server, password_file):
    out = mj(server, "store", "INBOX", "1", "add", "\\Flagged", login=password_file)
    assert out["result"]["messages"] == [{"seq": 1, "flags": ["\\Seen", "\\Flagged"]}]
    assert server.commands[-2].endswith(b"STORE 1 +FLAGS (\\Flagged)")
    out = mj(server, "search", "INBOX", "UNSEEN", login=password_file)
    assert out["result"] == {"numbers": [1, 2]}
    out = mj(server, "copy", "INBOX", "10:11", "Archive", "uid", login=password_file)
    assert out["result"]["copyuid"] == {"uidvalidity": 1800, "source": "10:11", "dest": "5:6"}
    out = mj(server, "move", "INBOX", "10", "Trash", "uid", login=password_file)
    assert out["result"]["copyuid"] == {"uidvalidity": 1800, "source": "10", "dest": "7"}


@pytest.mark.parametrize("server", [TLS], indirect=True)
def test_append_from_file_and_stdin(server, password_file, tmp_path):
    msg = tmp_path / "m.eml"
    msg.write_bytes(BODY1)
    out = mj(server, "append", "Drafts", str(msg), "\\Seen", login=password_file)
    assert out["result"] == {"appended": 1, "appenduid": {"uidvalidity": 1700, "uid": "12"}}
    assert server.appended[-1] == b"Drafts (\\Seen) {%d}\r\n" % len(BODY1) + BODY1
    out = mj(server, "append", "Drafts", "-", login=password_file, stdin=BODY2)
    assert out["outcome"] == "ok"
    assert server.appended[-1] == b"Drafts {%d}\r\n" % len(BODY2) + BODY2


@pytest.mark.parametrize("server", [TLS], indirect=True)
def test_injection_refused_before_sending(server, password_file):
    out = mj(server, "create", "a\r\nA9 DELETE INBOX", login=password_file)
    assert out["outcome"] == "usage"
    assert not any(b"DELETE" in c or b"CREATE" in c for c in server.commands)
    out = mj(server, "fetch", "INBOX", "1", "(BODY[] {0}", login=password_file)
    assert out["outcome"] == "usage"
    assert not any(b"FETCH" in c for c in server.commands)
