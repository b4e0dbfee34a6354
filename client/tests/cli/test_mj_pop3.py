"""Acceptance tests of `mj pop3://...` operations against a small POP3 server
written here (RFC 1939 / 2449 / 2595 / 5034 subset) on 127.0.0.1.

Checks the JSON results of SCENARIOS.md, exit codes, what the client sent
(STLS before credentials, nothing sensitive without TLS), that deletions are
committed by QUIT only, that bodies are dot-unstuffed, and that a body cut
short never leaves a file behind.  Runs under /usr/bin/python3 with pytest;
finds mj in $MJ_BIN and the test certificates in $MJ_CERTS.
"""

import base64
import hashlib
import json
import os
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

EXIT = {"ok": 0, "usage": 2, "connection-lost": 12, "starttls-unavailable": 22,
        "cleartext-refused": 23, "auth-failed": 30, "protocol-error": 40,
        "server-refused": 50, "server-busy": 51}

PASSWORD = "Pw-pop3-9d2e-never-print-me"

MSG1 = b"Subject: one\r\n\r\n.leading dot\r\n.\r\nend\r\n"
MSG2 = b"Subject: two\r\n\r\nhello\r\n"


def stuff(body):
    """Byte-stuff a body and terminate it (RFC 1939 section 3)."""
    lines = body.split(b"\r\n")
    if lines and lines[-1] == b"":
        lines = lines[:-1]
    out = b"".join((b"." + l if l.startswith(b".") else l) + b"\r\n" for l in lines)
    return out + b".\r\n"


class Pop3Server:
    """One POP3 session per connection, in a thread.

    capa: CAPA lines (None: CAPA answered -ERR); stls: offer and do STLS;
    messages: bodies; pass_reply: the reply to a right password; quit_reply;
    cut_retr: send RETR's body without its terminator, then close."""

    def __init__(self, capa=("USER", "UIDL", "TOP"), stls=False, messages=(MSG1, MSG2),
                 pass_reply=b"+OK logged in", quit_reply=b"+OK bye", cut_retr=False,
                 stls_reply=b"+OK begin TLS", implicit=False):
        self.capa = list(capa) if capa is not None else None
        self.stls = stls
        self.stls_reply = stls_reply
        self.messages = list(messages)
        self.pass_reply = pass_reply
        self.quit_reply = quit_reply
        self.cut_retr = cut_retr
        self.implicit = implicit
        self.commands = []   # every line received, secrets included (for asserts)
        self.committed = []  # message numbers deleted at QUIT
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.sock.settimeout(10)
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            try:
                conn.settimeout(10)
                self._session(conn)
            except (OSError, ssl.SSLError):
                pass
            finally:
                conn.close()

    @staticmethod
    def _tls(conn):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(os.path.join(CERTS, "valid.crt"), os.path.join(CERTS, "valid.key"))
        return ctx.wrap_socket(conn, server_side=True)

    def _session(self, conn):
        io = {"conn": self._tls(conn) if self.implicit else conn, "buf": b"",
              "tls": self.implicit}
        conn = io["conn"]
        user = None
        deleted = set()
        conn.sendall(b"+OK POP3 test server ready <1896.697170952@pop3.test>\r\n")
        while True:
            line = self._readline(io)
            if line is None:
                return
            self.commands.append(line)
            verb, _, arg = line.partition(b" ")
            verb = verb.upper()
            send = io["conn"].sendall
            if verb == b"CAPA":
                if self.capa is None:
                    send(b"-ERR unknown command\r\n")
                else:
                    caps = self.capa + (["STLS"] if self.stls and not io.get("tls") else [])
                    send(b"+OK\r\n" + b"".join(c.encode() + b"\r\n" for c in caps) + b".\r\n")
            elif verb == b"STLS" and self.stls and not io.get("tls"):
                send(self.stls_reply + b"\r\n")
                if not self.stls_reply.startswith(b"+OK"):
                    continue
                io["conn"] = self._tls(io["conn"])
                io["tls"] = True
            elif verb == b"USER":
                user = arg
                send(b"+OK\r\n")
            elif verb == b"PASS":
                ok = user == b"alice" and arg == PASSWORD.encode()
                send((self.pass_reply if ok else b"-ERR [AUTH] invalid password") + b"\r\n")
            elif verb == b"AUTH":
                mech, _, ir = arg.partition(b" ")
                expect = base64.b64encode(b"\0alice\0" + PASSWORD.encode())
                send(b"+OK\r\n" if mech == b"PLAIN" and ir == expect else b"-ERR [AUTH] no\r\n")
            elif verb == b"STAT":
                live = [m for i, m in enumerate(self.messages, 1) if i not in deleted]
                send(b"+OK %d %d\r\n" % (len(live), sum(len(m) for m in live)))
            elif verb in (b"LIST", b"UIDL"):
                self._listing(send, verb, arg, deleted)
            elif verb in (b"RETR", b"TOP"):
                self._body(io, send, verb, arg)
            elif verb == b"DELE":
                n = int(arg)
                if n in deleted or n > len(self.messages):
                    send(b"-ERR no such message\r\n")
                else:
                    deleted.add(n)
                    send(b"+OK deleted\r\n")
            elif verb == b"RSET":
                deleted.clear()
                send(b"+OK\r\n")
            elif verb == b"NOOP":
                send(b"+OK\r\n")
            elif verb == b"QUIT":
                if self.quit_reply.startswith(b"+OK"):
                    self.committed.extend(sorted(deleted))
                send(self.quit_reply + b"\r\n")
                return
            else:
                send(b"-ERR unknown command\r\n")

    def _listing(self, send, verb, arg, deleted):
        def item(i):
            return b"%d %d" % (i, len(self.messages[i - 1])) if verb == b"LIST" \
                else b"%d uid-%04d" % (i, i)
        if arg:
            send(b"+OK " + item(int(arg)) + b"\r\n")
            return
        rows = [item(i) for i in range(1, len(self.messages) + 1) if i not in deleted]
        send(b"+OK\r\n" + b"".join(r + b"\r\n" for r in rows) + b".\r\n")

    def _body(self, io, send, verb, arg):
        parts = arg.split()
        n = int(parts[0])
        if n < 1 or n > len(self.messages):
            send(b"-ERR no such message\r\n")
            return
        body = self.messages[n - 1]
        if verb == b"TOP":
            head, _, rest = body.partition(b"\r\n\r\n")
            keep = rest.split(b"\r\n")[:int(parts[1])]
            body = head + b"\r\n\r\n" + b"".join(k + b"\r\n" for k in keep)
        if self.cut_retr:
            send(b"+OK\r\n" + stuff(body)[:-3])
            io["conn"].close()
            raise OSError("cut")
        # in small pieces, so the client sees the body across reads
        data = b"+OK\r\n" + stuff(body)
        for i in range(0, len(data), 7):
            send(data[i:i + 7])

    @staticmethod
    def _readline(io):
        while b"\n" not in io["buf"]:
            try:
                data = io["conn"].recv(4096)
            except OSError:
                return None
            if not data:
                return None
            io["buf"] += data
        line, _, io["buf"] = io["buf"].partition(b"\n")
        return line.rstrip(b"\r")

    def close(self):
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        self.thread.join(timeout=15)


@pytest.fixture
def password_file(tmp_path):
    path = tmp_path / "password"
    path.write_text(PASSWORD + "\n")
    return str(path)


@pytest.fixture
def server(request):
    srv = Pop3Server(**getattr(request, "param", {}))
    yield srv
    srv.close()


def mj(srv, *args, security="starttls-if-available", json_out=True, login=None, extra=()):
    """Run mj against srv; login is the --password-file path (user alice)."""
    cmd = [MJ]
    if json_out:
        cmd.append("--json")
    cmd += ["--security", security, "--cafile", CA, "--timeout-ms", "5000", *extra]
    if login:
        cmd += ["--user", "alice", "--password-file", login]
    cmd += ["pop3://localhost:%d" % srv.port, *args]
    p = subprocess.run(cmd, capture_output=True, timeout=30, check=False)
    out = json.loads(p.stdout) if json_out else None
    if json_out:
        assert out["exit_code"] == p.returncode
        assert PASSWORD not in p.stdout.decode() and PASSWORD not in p.stderr.decode()
    return p, out


TLS = {"stls": True}


# ---- successful operations ---------------------------------------------------

@pytest.mark.parametrize("server", [TLS], indirect=True)
def test_stat_over_stls(server, password_file):
    p, out = mj(server, "stat", security="starttls", login=password_file)
    assert out["outcome"] == "ok", out
    assert out["result"] == {"count": 2, "size": len(MSG1) + len(MSG2)}
    names = [c.split(b" ")[0] for c in server.commands]
    assert names == [b"CAPA", b"STLS", b"CAPA", b"USER", b"PASS", b"CAPA", b"STAT", b"QUIT"]


@pytest.mark.parametrize("server", [{"implicit": True, "capa": ("USER", "STLS")}], indirect=True)
def test_implicit_tls_never_sends_stls(server, password_file):
    _, out = mj(server, "stat", security="implicit", login=password_file)
    assert out["outcome"] == "ok", out
    assert [c.split(b" ")[0] for c in server.commands] == \
        [b"CAPA", b"USER", b"PASS", b"CAPA", b"STAT", b"QUIT"]


@pytest.mark.parametrize("server", [TLS], indirect=True)
def test_list_and_uidl(server, password_file):
    _, out = mj(server, "list", security="starttls", login=password_file)
    assert out["result"] == {"messages": [{"number": 1, "size": len(MSG1)},
                                          {"number": 2, "size": len(MSG2)}]}
    _, out = mj(server, "uidl", "2", security="starttls", login=password_file)
    assert out["result"] == {"messages": [{"number": 2, "uid": "uid-0002"}]}


@pytest.mark.parametrize("server", [TLS], indirect=True)
def test_retr_to_file_unstuffed(server, password_file, tmp_path):
    dest = tmp_path / "m1.eml"
    _, out = mj(server, "retr", "1", str(dest), security="starttls", login=password_file)
    assert out["outcome"] == "ok", out
    assert dest.read_bytes() == MSG1
    assert out["result"] == {"message_sha256": hashlib.sha256(MSG1).hexdigest(),
                             "size": len(MSG1)}


@pytest.mark.parametrize("server", [TLS], indirect=True)
def test_retr_text_mode_writes_only_the_message(server, password_file):
    p, _ = mj(server, "retr", "2", security="starttls", login=password_file, json_out=False)
    assert p.returncode == 0, p.stderr
    assert p.stdout == MSG2


@pytest.mark.parametrize("server", [TLS], indirect=True)
def test_retr_json_without_file_only_hashes(server, password_file):
    p, out = mj(server, "retr", "2", security="starttls", login=password_file)
    assert out["result"]["message_sha256"] == hashlib.sha256(MSG2).hexdigest()
    assert MSG2 not in p.stdout


@pytest.mark.parametrize("server", [{"stls": True, "capa": ("USER", "PIPELINING")}],
                         indirect=True)
def test_retr_range_pipelined(server, password_file, tmp_path):
    dest = tmp_path / "all.mbox"
    _, out = mj(server, "retr", "1-2", str(dest), security="starttls", login=password_file)
    assert out["result"] == {"messages": [
        {"number": 1, "message_sha256": hashlib.sha256(MSG1).hexdigest(), "size": len(MSG1)},
        {"number": 2, "message_sha256": hashlib.sha256(MSG2).hexdigest(), "size": len(MSG2)}]}
    assert dest.read_bytes() == MSG1 + MSG2


@pytest.mark.parametrize("server", [TLS], indirect=True)
def test_top(server, password_file, tmp_path):
    dest = tmp_path / "top"
    _, out = mj(server, "top", "1", "1", str(dest), security="starttls", login=password_file)
    want = b"Subject: one\r\n\r\n.leading dot\r\n"
    assert dest.read_bytes() == want
    assert out["result"] == {"message_sha256": hashlib.sha256(want).hexdigest(),
                             "size": len(want)}


@pytest.mark.parametrize("server", [TLS], indirect=True)
def test_dele_committed_by_quit(server, password_file):
    _, out = mj(server, "dele", "1-2", security="starttls", login=password_file)
    assert out["outcome"] == "ok", out
    assert out["result"] == {"deleted": [1, 2]}
    assert server.committed == [1, 2]
    assert server.commands[-3:] == [b"DELE 1", b"DELE 2", b"QUIT"]


@pytest.mark.parametrize("server", [{"stls": True, "quit_reply": b"-ERR some deletes failed"}],
                         indirect=True)
def test_dele_quit_refused(server, password_file):
    p, out = mj(server, "dele", "1", security="starttls", login=password_file)
    assert out["outcome"] == "server-refused"
    assert p.returncode == EXIT["server-refused"]
    assert server.committed == []


@pytest.mark.parametrize("server", [TLS], indirect=True)
def test_capa_rset_noop(server, password_file):
    _, out = mj(server, "capa", security="starttls")
    assert out["result"]["capabilities"] == ["USER", "UIDL", "TOP"]
    assert out["result"]["tls"] is True
    for op in ("rset", "noop"):
        _, out = mj(server, op, security="starttls", login=password_file)
        assert out["outcome"] == "ok" and out["result"] == {}


# ---- refusals and failures -------------------------------------------------------

def test_cleartext_refused(server, password_file):
    p, out = mj(server, "stat", security="none", login=password_file)
    assert out["outcome"] == "cleartext-refused"
    assert p.returncode == EXIT["cleartext-refused"]
    assert server.commands == [b"CAPA"]


def test_insecure_auth_allowed_explicitly(server, password_file):
    _, out = mj(server, "stat", security="none", login=password_file,
                extra=("--allow-insecure-auth",))
    assert out["outcome"] == "ok", out


@pytest.mark.parametrize("server", [{}, {"capa": None}], indirect=True)
def test_starttls_required_not_offered(server, password_file):
    p, out = mj(server, "stat", security="starttls", login=password_file)
    assert out["outcome"] == "starttls-unavailable"
    assert p.returncode == EXIT["starttls-unavailable"]
    assert server.commands == [b"CAPA"]


@pytest.mark.parametrize("server", [{"stls": True, "stls_reply": b"-ERR [SYS/PERM] no TLS"}],
                         indirect=True)
def test_stls_refused(server, password_file):
    _, out = mj(server, "stat", security="starttls", login=password_file)
    assert out["outcome"] == "starttls-unavailable"
    assert server.commands == [b"CAPA", b"STLS"]


@pytest.mark.parametrize("server,outcome", [
    ({"stls": True, "pass_reply": b"-ERR [IN-USE] locked"}, "server-busy"),
    ({"stls": True, "pass_reply": b"-ERR [SYS/TEMP] later"}, "server-busy"),
    ({"stls": True, "pass_reply": b"-ERR [AUTH] nope"}, "auth-failed"),
], indirect=["server"])
def test_login_refused(server, outcome, password_file):
    p, out = mj(server, "stat", security="starttls", login=password_file)
    assert out["outcome"] == outcome
    assert p.returncode == EXIT[outcome]


@pytest.mark.parametrize("server", [{"stls": True, "cut_retr": True}], indirect=True)
def test_retr_cut_short(server, password_file, tmp_path):
    dest = tmp_path / "partial.eml"
    p, out = mj(server, "retr", "1", str(dest), security="starttls", login=password_file)
    assert out["outcome"] == "connection-lost"
    assert p.returncode == EXIT["connection-lost"]
    assert not dest.exists()


@pytest.mark.parametrize("server", [{"stls": True, "cut_retr": True}], indirect=True)
def test_retr_cut_short_never_unlinks_a_special_file(server, password_file, tmp_path):
    # A failed body removes a partial regular file only: a FIFO (like
    # /dev/null, which mj running as root once unlinked) stays where it is.
    fifo = tmp_path / "sink.fifo"
    os.mkfifo(fifo)
    drain = threading.Thread(target=lambda: open(fifo, "rb").read(), daemon=True)
    drain.start()
    p, out = mj(server, "retr", "1", str(fifo), security="starttls", login=password_file)
    assert out["outcome"] == "connection-lost"
    assert p.returncode == EXIT["connection-lost"]
    assert fifo.exists() and not fifo.is_file()
    drain.join(timeout=5)


@pytest.mark.parametrize("server", [TLS], indirect=True)
def test_retr_no_such_message(server, password_file):
    _, out = mj(server, "retr", "9", security="starttls", login=password_file)
    assert out["outcome"] == "server-refused"
    assert "no such message" in out["message"]


@pytest.mark.parametrize("args,message", [
    (["retr", "0"], "message range must be N or N-M"),
    (["retr", "5-2"], "message range must be N or N-M"),
    (["retr", "x"], "message number must be a number, not 'x'"),
    (["top", "1"], "top takes 2 to 3 arguments (got 1)"),
    (["stat"], "stat needs a login: give --user"),
])
def test_usage(server, args, message):
    p, out = mj(server, *args, security="none")
    assert out["outcome"] == "usage"
    assert message in out["message"], out["message"]
    assert server.commands == []


# ---- retr ranges: output bytes and flat memory (issue 7) -----------------------

def range_messages(n):
    return [b"Subject: m%d\r\n\r\nbody %d\r\n" % (i, i) for i in range(1, n + 1)]


def range_entries(msgs):
    """The range's entries in the key order mj has always printed them."""
    return [{"message_sha256": hashlib.sha256(m).hexdigest(), "size": len(m), "number": i}
            for i, m in enumerate(msgs, 1)]


def compact(obj):
    return json.dumps(obj, separators=(",", ":")).encode()


def mj_range(srv, n, login, *extra, json_out=True):
    """mj retr 1-n over plaintext; (exit code, stdout bytes, peak RSS in KiB).
    os.wait4 gives this child's own rusage (RUSAGE_CHILDREN would be the
    maximum over every child the test process ever waited for)."""
    cmd = [MJ] + (["--json"] if json_out else []) + [
        "--security", "none", "--allow-insecure-auth", "--timeout-ms", "20000", "--user",
        "alice", "--password-file", login, "pop3://localhost:%d" % srv.port, "retr",
        "1-%d" % n, *extra]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    out = p.stdout.read()
    p.stdout.close()
    _, status, usage = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    return p.returncode, out, usage.ru_maxrss


@pytest.mark.parametrize("server", [{"capa": ("USER", "PIPELINING"),
                                     "messages": range_messages(120)}], indirect=True)
def test_retr_range_json_bytes_unchanged(server, password_file):
    # The exact bytes mj printed when the range was built as jansson objects.
    rc, out, _ = mj_range(server, 120, password_file)
    assert rc == 0
    head = {"outcome": "ok", "reason": "none", "message": "", "exit_code": 0,
            "result": {"messages": range_entries(server.messages)}}
    assert out == compact(head) + b"\n"
    assert json.loads(out)["result"]["messages"][119]["number"] == 120


@pytest.mark.parametrize("server", [{"capa": ("USER", "PIPELINING"),
                                     "messages": range_messages(30)}], indirect=True)
def test_retr_range_text_bytes_unchanged(server, password_file, tmp_path):
    dest = tmp_path / "all.mbox"
    rc, out, _ = mj_range(server, 30, password_file, str(dest), json_out=False)
    assert rc == 0
    assert out == b"messages: " + compact(range_entries(server.messages)) + b"\n"
    assert dest.read_bytes() == b"".join(server.messages)


@pytest.mark.parametrize("server", [{"capa": ("USER", "PIPELINING"),
                                     "messages": range_messages(3)}], indirect=True)
def test_retr_range_error_midway_one_object(server, password_file):
    # Messages 1-3 arrive, 4 is refused: one valid object with the error and
    # no result at all (never a half-printed messages array).
    rc, out, _ = mj_range(server, 5, password_file)
    assert rc == EXIT["server-refused"]
    doc = json.loads(out)
    assert doc["outcome"] == "server-refused" and doc["reason"] == "none"  # as a single RETR
    assert "no such message" in doc["message"]
    assert "result" not in doc
    assert out.count(b"\n") == 1


def test_retr_range_memory_flat(password_file):
    # Peak RSS must not grow with the range: 2,000 messages within 1 MiB of
    # 100 (it was +1.5 MiB at 2,000 and +8 MiB at 10,000 with jansson entries).
    if "address" in MJ or "undefined" in MJ:
        pytest.skip("sanitizer builds keep freed memory in quarantine")
    rss = {}
    for n in (100, 2000):
        srv = Pop3Server(capa=("USER", "PIPELINING"), messages=range_messages(n))
        try:
            rc, out, rss[n] = mj_range(srv, n, password_file)
        finally:
            srv.close()
        assert rc == 0
        assert len(json.loads(out)["result"]["messages"]) == n
    assert rss[2000] - rss[100] <= 1024, rss
