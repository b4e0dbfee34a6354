"""Acceptance tests of `mj smtp://...` operations: ehlo, send, verify, noop.

Runs under /usr/bin/python3 with pytest.  Finds mj in $MJ_BIN.  Each test
starts a small scripted SMTP server on 127.0.0.1 in a thread; it records
every byte the client sends and reads DATA up to <CRLF>.<CRLF> like a real
server, so the tests can assert both the JSON result and the exact wire.
"""

import json
import os
import socket
import ssl
import subprocess
import threading
import time

import pytest

SRCDIR = os.environ.get(
    "MJ_SRCDIR", os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..")))
MJ = os.path.join(os.environ.get("MJ_BIN", os.path.join(SRCDIR, "build", "gcc", "bin")), "mj")
CERTS = os.environ.get("MJ_CERTS", os.path.join(SRCDIR, "build", "certs"))

EXIT = {"ok": 0, "usage": 2, "starttls-unavailable": 22, "cleartext-refused": 23,
        "auth-failed": 30, "server-busy": 51, "message-rejected": 52}

PASSWORD = "Pw-smtp-3b1d-never-print-me"


class SmtpServer:
    """One scripted SMTP session.  `ehlo` is the list of extension lines;
    `replies` maps a command verb (MAIL, RCPT, DATA, ...) to a list of replies
    used in turn (the last one repeats); the message after DATA's 354 is read
    to <CRLF>.<CRLF> and answered with replies["."]."""

    DEFAULTS = {"MAIL": ["250 2.1.0 ok"], "RCPT": ["250 2.1.5 ok"], "DATA": ["354 go ahead"],
                ".": ["250 2.0.0 queued as 42"], "RSET": ["250 ok"], "QUIT": ["221 bye"],
                "NOOP": ["250 2.0.0 ok"], "VRFY": ["252 2.5.2 cannot verify"],
                "AUTH": ["235 2.7.0 accepted"], "HELO": ["250 mx"],
                "STARTTLS": ["220 2.0.0 ready to start TLS"]}

    def __init__(self, ehlo=("PIPELINING", "8BITMIME"), replies=None, count_only=False,
                 inject=b""):
        self.ehlo = list(ehlo)
        self.count_only = count_only
        self.inject = inject
        self.tls_commands_from = None
        self.data_bytes = 0
        self.replies = {k: list(v) for k, v in self.DEFAULTS.items()}
        self.replies.update({k: list(v) for k, v in (replies or {}).items()})
        self.received = b""
        self.commands = []
        self.message = None
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(1)
        self.sock.settimeout(10)
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _reply(self, verb):
        lst = self.replies.get(verb, ["500 5.5.2 unknown command"])
        return lst.pop(0) if len(lst) > 1 else lst[0]

    def _serve(self):
        try:
            conn, _ = self.sock.accept()
        except OSError:
            return
        with conn:
            conn.settimeout(10)
            self.buf = b""
            self.conn = conn
            try:
                self._talk()
            except (OSError, EOFError):
                pass

    def _line(self):
        while b"\r\n" not in self.buf:
            data = self.conn.recv(65536)
            if not data:
                raise EOFError
            self.received += data
            self.buf += data
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _send(self, text):
        self.conn.sendall(text.encode() + b"\r\n")

    def _talk(self):
        self._send("220 mx.test ESMTP")
        while True:
            line = self._line()
            self.commands.append(line.decode(errors="replace"))
            verb = line.split(b" ")[0].split(b":")[0].upper().decode(errors="replace")
            if verb == "EHLO":
                lines = ["mx.test"] + self.ehlo
                self._send("\r\n".join("250-" + l for l in lines[:-1]) + ("\r\n" if len(lines) > 1 else "") + "250 " + lines[-1])
                continue
            if verb == "BDAT":
                self._bdat(line)
                continue
            reply = self._reply(verb)
            if verb == "STARTTLS" and reply.startswith("220"):
                self.conn.sendall(reply.encode() + b"\r\n" + self.inject)
                ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
                ctx.load_cert_chain(os.path.join(CERTS, "valid.crt"),
                                    os.path.join(CERTS, "valid.key"))
                self.conn = ctx.wrap_socket(self.conn, server_side=True)
                self.tls_commands_from = len(self.commands)
                continue
            self._send(reply)
            if verb == "DATA" and reply.startswith("354") and self.count_only:
                self._count_data()
                self._send(self._reply("."))
            elif verb == "DATA" and reply.startswith("354"):
                while b"\r\n.\r\n" not in b"\r\n" + self.buf:
                    data = self.conn.recv(65536)
                    if not data:
                        raise EOFError
                    self.received += data
                    self.buf += data
                body, self.buf = (b"\r\n" + self.buf).split(b"\r\n.\r\n", 1)
                self.message = body[2:]
                self._send(self._reply("."))
            if verb == "QUIT" or reply.startswith("421"):
                return

    def _bdat(self, line):
        """BDAT n [LAST]: exactly n bytes follow; chunks joined into self.message."""
        words = line.decode().split()
        n = int(words[1])
        while len(self.buf) < n:
            data = self.conn.recv(65536)
            if not data:
                raise EOFError
            self.received += data
            self.buf += data
        self.chunks = getattr(self, "chunks", []) + [(n, len(words) > 2)]
        self.message = (self.message or b"") + self.buf[:n]
        self.buf = self.buf[n:]
        self._send(self._reply(".") if len(words) > 2 else "250 2.0.0 %d octets" % n)

    def _count_data(self):
        """Large messages: count the bytes up to and including <CRLF>.<CRLF>, keep none."""
        tail = b"\r\n" + self.buf
        self.data_bytes = len(self.buf)
        self.buf = b""
        while b"\r\n.\r\n" not in tail:
            data = self.conn.recv(1 << 20)
            if not data:
                raise EOFError
            self.data_bytes += len(data)
            tail = tail[-4:] + data
        self.message = b""

    def close(self):
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        self.thread.join(timeout=15)


def run_json(*args, stdin=None):
    p = subprocess.run([MJ, "--json", *args], capture_output=True, timeout=20, check=False,
                       input=stdin)
    out = json.loads(p.stdout)
    assert out["exit_code"] == p.returncode
    assert ("result" in out) == (out["outcome"] == "ok")
    return p, out


@pytest.fixture
def message(tmp_path):
    path = tmp_path / "msg.eml"
    path.write_bytes(b"Subject: hi\r\n\r\n.leading dot\nbare lf\r\n.\r\nend")
    return str(path)


@pytest.fixture
def password_file(tmp_path):
    path = tmp_path / "password"
    path.write_text(PASSWORD + "\n")
    return str(path)


def url(srv):
    return "smtp://127.0.0.1:%d" % srv.port


def test_ehlo_lists_capabilities():
    srv = SmtpServer(ehlo=["PIPELINING", "SIZE 1000", "AUTH PLAIN LOGIN", "X-ODD\x01"])
    try:
        p, out = run_json("--security", "none", url(srv), "ehlo")
    finally:
        srv.close()
    assert out["outcome"] == "ok", out
    assert out["result"]["capabilities"] == ["PIPELINING", "SIZE 1000", "AUTH PLAIN LOGIN",
                                             "X-ODD\\x01"]
    assert out["result"]["tls"] == "none"
    assert out["result"]["helo"] is False
    assert srv.commands == ["EHLO [127.0.0.1]", "QUIT"]


def test_send_partial_refusal_and_stuffing(message):
    srv = SmtpServer(ehlo=["PIPELINING", "SIZE 1000"], replies={"RCPT": ["250 2.1.5 ok", "550 5.1.1 <carol@x>: no such user"]})
    try:
        p, out = run_json("--security", "none", url(srv), "send", "--from", "alice@x",
                          "--to", "bob@x", "--to", "carol@x", "--message", message)
    finally:
        srv.close()
    assert out["outcome"] == "ok", out
    assert out["result"]["accepted"] == ["bob@x"]
    assert out["result"]["rejected"] == [{"recipient": "carol@x", "code": 550,
                                          "enhanced": "5.1.1",
                                          "text": "<carol@x>: no such user"}]
    assert out["result"]["reply"]["code"] == 250
    # Pipelined: MAIL, both RCPTs and DATA in one group; the body dot-stuffed and normalised.
    assert srv.received == (
        b"EHLO [127.0.0.1]\r\nMAIL FROM:<alice@x> SIZE=43\r\nRCPT TO:<bob@x>\r\n"
        b"RCPT TO:<carol@x>\r\nDATA\r\nSubject: hi\r\n\r\n..leading dot\r\nbare lf\r\n"
        b"..\r\nend\r\n.\r\nQUIT\r\n")
    assert srv.message == b"Subject: hi\r\n\r\n..leading dot\r\nbare lf\r\n..\r\nend"


def test_send_from_stdin():
    srv = SmtpServer(ehlo=["8BITMIME"])
    try:
        p, out = run_json("--security", "none", url(srv), "send", "--from", "<>", "--to", "b@x",
                          "--message", "-", stdin=b"hello\n")
    finally:
        srv.close()
    assert out["outcome"] == "ok", out
    assert srv.commands[:4] == ["EHLO [127.0.0.1]", "MAIL FROM:<>", "RCPT TO:<b@x>", "DATA"]
    assert srv.message == b"hello"


def test_send_8bit_body_declared(tmp_path):
    """A file with 8-bit bytes goes with BODY=8BITMIME; without 8BITMIME it is not sent."""
    msg = tmp_path / "utf8.eml"
    msg.write_bytes("Subject: x\r\n\r\nGr\u00fc\u00dfe\r\n".encode())
    srv = SmtpServer(ehlo=["8BITMIME"])
    try:
        p, out = run_json("--security", "none", url(srv), "send", "--from", "a@x",
                          "--to", "b@x", "--message", str(msg))
    finally:
        srv.close()
    assert out["outcome"] == "ok", out
    assert srv.commands[1] == "MAIL FROM:<a@x> BODY=8BITMIME"
    srv = SmtpServer(ehlo=["PIPELINING"])
    try:
        p, out = run_json("--security", "none", url(srv), "send", "--from", "a@x",
                          "--to", "b@x", "--message", str(msg))
    finally:
        srv.close()
    assert out["outcome"] == "message-rejected", out
    assert "8BITMIME" in out["message"]
    assert not any(c.startswith("MAIL") for c in srv.commands)


def test_send_every_recipient_refused(message):
    srv = SmtpServer(ehlo=["8BITMIME"], replies={"RCPT": ["550 5.1.1 unknown user"]})
    try:
        p, out = run_json("--security", "none", url(srv), "send", "--from", "a@x",
                          "--to", "b@x", "--message", message)
    finally:
        srv.close()
    assert out["outcome"] == "message-rejected"
    assert out["exit_code"] == EXIT["message-rejected"]
    assert "every recipient was refused: <b@x> 550 5.1.1 unknown user" in out["message"]
    assert "DATA" not in srv.commands
    assert "RSET" in srv.commands


def test_send_greylisted(message):
    srv = SmtpServer(ehlo=["8BITMIME"], replies={"MAIL": ["451 4.7.1 greylisted, come back later"]})
    try:
        p, out = run_json("--security", "none", url(srv), "send", "--from", "a@x",
                          "--to", "b@x", "--message", message)
    finally:
        srv.close()
    assert out["outcome"] == "server-busy"
    assert "451 4.7.1 greylisted" in out["message"]


def test_starttls_required_but_missing(message, password_file):
    srv = SmtpServer(ehlo=["AUTH PLAIN LOGIN"])
    try:
        p, out = run_json("--security", "starttls", "--user", "alice",
                          "--password-file", password_file, url(srv), "send", "--from", "a@x",
                          "--to", "b@x", "--message", message)
    finally:
        srv.close()
    assert out["outcome"] == "starttls-unavailable"
    assert out["exit_code"] == EXIT["starttls-unavailable"]
    assert srv.commands == ["EHLO [127.0.0.1]", "QUIT"]
    assert PASSWORD.encode() not in srv.received


def test_cleartext_auth_refused_then_allowed(message, password_file, tmp_path):
    srv = SmtpServer(ehlo=["AUTH PLAIN LOGIN"])
    try:
        p, out = run_json("--security", "none", "--user", "alice",
                          "--password-file", password_file, url(srv), "send", "--from", "a@x",
                          "--to", "b@x", "--message", message)
    finally:
        srv.close()
    assert out["outcome"] == "cleartext-refused"
    assert not any(c.startswith("AUTH") for c in srv.commands)

    log = tmp_path / "smtp.log"
    srv = SmtpServer(ehlo=["AUTH PLAIN LOGIN"])
    try:
        p, out = run_json("--security", "none", "--user", "alice", "--allow-insecure-auth",
                          "--log", str(log), "--password-file", password_file, url(srv),
                          "send", "--from", "a@x", "--to", "b@x", "--message", message)
    finally:
        srv.close()
    assert out["outcome"] == "ok", out
    assert srv.commands[1].startswith("AUTH PLAIN ")
    text = log.read_text()
    assert "C: AUTH PLAIN ********" in text
    assert PASSWORD not in text and PASSWORD not in p.stdout.decode() + p.stderr.decode()


def test_auth_failed(message, password_file):
    srv = SmtpServer(ehlo=["AUTH PLAIN"], replies={"AUTH": ["535 5.7.8 Authentication failed"]})
    try:
        p, out = run_json("--security", "none", "--user", "alice", "--allow-insecure-auth",
                          "--password-file", password_file, url(srv), "send", "--from", "a@x",
                          "--to", "b@x", "--message", message)
    finally:
        srv.close()
    assert out["outcome"] == "auth-failed"
    assert "535 5.7.8 Authentication failed" in out["message"]
    assert not any(c.startswith("MAIL") for c in srv.commands)


def test_verify_and_noop():
    srv = SmtpServer()
    try:
        p, out = run_json("--security", "none", url(srv), "verify", "bob")
    finally:
        srv.close()
    assert out["outcome"] == "ok", out
    assert out["result"] == {"code": 252, "enhanced": "2.5.2", "text": "cannot verify"}
    assert srv.commands == ["EHLO [127.0.0.1]", "VRFY bob", "QUIT"]

    srv = SmtpServer(replies={"VRFY": ["550 5.1.1 unknown"]})
    try:
        p, out = run_json("--security", "none", url(srv), "verify", "nobody")
    finally:
        srv.close()
    assert out["outcome"] == "server-refused"

    srv = SmtpServer()
    try:
        p, out = run_json("--security", "none", url(srv), "noop")
    finally:
        srv.close()
    assert out["outcome"] == "ok"
    assert out["result"]["code"] == 250


def test_send_usage_errors(message):
    p, out = run_json("--security", "none", "smtp://127.0.0.1:1", "send", "--to", "b@x",
                      "--message", message)
    assert out["outcome"] == "usage"
    assert "--from" in out["message"]
    p, out = run_json("--security", "none", "smtp://127.0.0.1:1", "send", "--from", "a@x",
                      "--to", "b@x", "--message", "/nonexistent/msg")
    assert out["outcome"] == "usage"


def peak_rss_kib(proc):
    """mj's peak RSS (VmHWM, which exec resets, so Python's own size does not
    count), read from /proc until the process ends; the last reading wins."""
    hwm = 0
    while proc.poll() is None:
        try:
            with open("/proc/%d/status" % proc.pid) as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        hwm = max(hwm, int(line.split()[1]))
        except (OSError, ValueError):
            pass
        time.sleep(0.002)
    return hwm


def test_send_large_message_memory_flat(tmp_path):
    """64 MiB of dot-led lines: streamed with a fixed buffer, so mj's peak RSS
    stays far below the message size; the server gets every stuffed byte."""
    line = b".line of text that starts with a dot 0123456789\n"
    n = (64 << 20) // len(line)
    path = tmp_path / "big.eml"
    with open(path, "wb") as f:
        for _ in range(n // 1024):
            f.write(line * 1024)
    n = (n // 1024) * 1024
    srv = SmtpServer(ehlo=["8BITMIME"], count_only=True)
    try:
        proc = subprocess.Popen([MJ, "--json", "--security", "none", url(srv), "send",
                                 "--from", "a@x", "--to", "b@x", "--message", str(path)],
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        hwm_kib = peak_rss_kib(proc)
        out = proc.stdout.read()
    finally:
        srv.close()
    result = json.loads(out)
    assert result["outcome"] == "ok", result
    assert srv.data_bytes == n * (len(line) + 2) + 3
    assert 0 < hwm_kib < 16 * 1024, hwm_kib  # KiB: mj needs about 5 MiB, the message is 64


def test_starttls_then_ehlo_again():
    srv = SmtpServer(ehlo=["STARTTLS", "PIPELINING"])
    try:
        p, out = run_json("--security", "starttls", "--cafile", os.path.join(CERTS, "ca.crt"),
                          "--resolve", "localhost:%d:127.0.0.1" % srv.port,
                          "smtp://localhost:%d" % srv.port, "ehlo")
    finally:
        srv.close()
    assert out["outcome"] == "ok", out
    assert out["result"]["tls"] == "verified"
    assert srv.commands[:2] == ["EHLO [127.0.0.1]", "STARTTLS"]
    assert srv.tls_commands_from == 2
    assert srv.commands[2:] == ["EHLO [127.0.0.1]", "QUIT"]


def test_starttls_injected_ehlo_reply():
    """SECURITY-CASES #20 over real TCP: the 220 and a forged EHLO reply in one write."""
    srv = SmtpServer(ehlo=["STARTTLS"], inject=b"250-mx\r\n250 AUTH LOGIN\r\n")
    try:
        p, out = run_json("--security", "starttls", "--cafile", os.path.join(CERTS, "ca.crt"),
                          "smtp://127.0.0.1:%d" % srv.port, "ehlo")
    finally:
        srv.close()
    assert out["outcome"] == "protocol-error"
    assert out["reason"] == "data-after-starttls"
    assert srv.commands == ["EHLO [127.0.0.1]", "STARTTLS"]


def test_send_chunking_bdat(tmp_path):
    """--chunking: BDAT chunks (no stuffing, line ends normalised) when CHUNKING is
    offered; DATA when it is not."""
    msg = tmp_path / "m.eml"
    body = b"Subject: x\r\n\r\n.dot\n" + b"y" * 40000 + b"\r\nend"
    msg.write_bytes(body)
    srv = SmtpServer(ehlo=["CHUNKING", "PIPELINING"])
    try:
        p, out = run_json("--security", "none", url(srv), "send", "--chunking", "--from", "a@x",
                          "--to", "b@x", "--message", str(msg))
    finally:
        srv.close()
    assert out["outcome"] == "ok", out
    assert "DATA" not in srv.commands
    assert srv.message == body.replace(b"\n", b"\r\n").replace(b"\r\r\n", b"\r\n") + b"\r\n"
    assert len(srv.chunks) > 1 and srv.chunks[-1][1] and not any(l for _, l in srv.chunks[:-1])
    assert sum(n for n, _ in srv.chunks) == len(srv.message)
    srv = SmtpServer(ehlo=["PIPELINING"])
    try:
        p, out = run_json("--security", "none", url(srv), "send", "--chunking", "--from", "a@x",
                          "--to", "b@x", "--message", str(msg))
    finally:
        srv.close()
    assert out["outcome"] == "ok", out
    assert "DATA" in srv.commands and not any(c.startswith("BDAT") for c in srv.commands)


def test_send_binarymime(tmp_path):
    msg = tmp_path / "m.bin"
    body = b"Subject: b\r\n\r\n\x00\xff\nbare\rcr"
    msg.write_bytes(body)
    srv = SmtpServer(ehlo=["CHUNKING", "BINARYMIME"])
    try:
        p, out = run_json("--security", "none", url(srv), "send", "--body", "binarymime",
                          "--from", "a@x", "--to", "b@x", "--message", str(msg))
    finally:
        srv.close()
    assert out["outcome"] == "ok", out
    assert srv.commands[1] == "MAIL FROM:<a@x> BODY=BINARYMIME"
    assert srv.commands[3] == "BDAT %d LAST" % len(body)
    assert srv.message == body
    srv = SmtpServer(ehlo=["CHUNKING"])
    try:
        p, out = run_json("--security", "none", url(srv), "send", "--body", "binarymime",
                          "--from", "a@x", "--to", "b@x", "--message", str(msg))
    finally:
        srv.close()
    assert out["outcome"] == "message-rejected", out
    assert "BINARYMIME" in out["message"]
    assert not any(c.startswith("MAIL") for c in srv.commands)


def test_send_dsn_and_body_parameters(message):
    srv = SmtpServer(ehlo=["DSN", "SMTPUTF8", "8BITMIME"])
    try:
        p, out = run_json("--security", "none", url(srv), "send", "--from", "a@x",
                          "--to", "b@x", "--rcpt-notify", "never", "--to", "c@x",
                          "--orcpt", "C+c=@x", "--notify", "SUCCESS,DELAY", "--ret", "hdrs",
                          "--envid", "id 1", "--body", "7bit", "--smtputf8",
                          "--message", message)
    finally:
        srv.close()
    assert out["outcome"] == "ok", out
    assert srv.commands[1:4] == [
        "MAIL FROM:<a@x> BODY=7BIT SMTPUTF8 RET=HDRS ENVID=id+201",
        "RCPT TO:<b@x> NOTIFY=NEVER",
        "RCPT TO:<c@x> NOTIFY=SUCCESS,DELAY ORCPT=rfc822;C+2Bc+3D@x"]
    # Without DSN offered the DSN parameters are left out.
    srv = SmtpServer(ehlo=["8BITMIME"])
    try:
        p, out = run_json("--security", "none", url(srv), "send", "--from", "a@x",
                          "--to", "b@x", "--orcpt", "b@x", "--notify", "FAILURE", "--ret", "full",
                          "--envid", "id", "--message", message)
    finally:
        srv.close()
    assert out["outcome"] == "ok", out
    assert srv.commands[1:3] == ["MAIL FROM:<a@x>", "RCPT TO:<b@x>"]


def test_send_requiretls_and_7bit_checks(tmp_path, message):
    # REQUIRETLS over plaintext: refused before MAIL, whatever the server says.
    srv = SmtpServer(ehlo=["REQUIRETLS", "8BITMIME"])
    try:
        p, out = run_json("--security", "none", url(srv), "send", "--requiretls",
                          "--from", "a@x", "--to", "b@x", "--message", message)
    finally:
        srv.close()
    assert out["outcome"] == "message-rejected", out
    assert "REQUIRETLS" in out["message"]
    assert not any(c.startswith("MAIL") for c in srv.commands)
    # --body 7bit for 8-bit content: a usage error before connecting.
    msg = tmp_path / "utf8.eml"
    msg.write_bytes("Subject: x\r\n\r\nGr\u00fc\u00dfe\r\n".encode())
    p, out = run_json("--security", "none", "smtp://127.0.0.1:1", "send", "--body", "7bit",
                      "--from", "a@x", "--to", "b@x", "--message", str(msg))
    assert out["outcome"] == "usage", out
    assert "--body 7bit" in out["message"]
