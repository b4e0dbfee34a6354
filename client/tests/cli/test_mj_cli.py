"""Acceptance tests of the `mj` command: arguments, output, exit codes, probe.

Runs under /usr/bin/python3 with pytest (ci/run-pytest.sh).  Finds mj in
$MJ_BIN and the test certificates in $MJ_CERTS (both set by `make pytest`).
Only 127.0.0.1 is ever contacted: the servers are started by the tests
(a Python socket server in a thread, or `openssl s_server`).
"""

import json
import os
import re
import socket
import subprocess
import threading
import time

import pytest

SRCDIR = os.environ.get(
    "MJ_SRCDIR", os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..")))
MJ = os.path.join(os.environ.get("MJ_BIN", os.path.join(SRCDIR, "build", "gcc", "bin")), "mj")
CERTS = os.environ.get("MJ_CERTS", os.path.join(SRCDIR, "build", "certs"))

# Exit codes of the outcome classes (README.md, client/src/error.c).
EXIT = {"ok": 0, "usage": 2, "connect-failed": 10, "timeout": 11,
        "certificate-invalid": 21}

PASSWORD = "Pw-7f3e9c1a-never-print-me"


def run(*args, timeout=15):
    """Run mj with args; returns the CompletedProcess (text mode)."""
    return subprocess.run([MJ, *args], capture_output=True, text=True, timeout=timeout,
                          check=False)


def run_json(*args, timeout=15):
    """Run mj --json; stdout must be exactly one JSON object with the fixed keys."""
    p = run("--json", *args, timeout=timeout)
    out = json.loads(p.stdout)
    assert isinstance(out, dict)
    for key in ("outcome", "reason", "message", "exit_code"):
        assert key in out, (key, p.stdout)
    assert out["exit_code"] == p.returncode
    assert ("result" in out) == (out["outcome"] == "ok")
    return p, out


def free_port():
    """A port on 127.0.0.1 that nothing listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LineServer:
    """A plaintext server on 127.0.0.1: to each connection in turn, sends
    `greeting` (None: stays silent), then holds it open until the client closes."""

    def __init__(self, greeting):
        self.greeting = greeting
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.sock.settimeout(10)
        self.port = self.sock.getsockname()[1]
        self.received = b""
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self._talk(conn)

    def _talk(self, conn):
        with conn:
            conn.settimeout(10)
            if self.greeting is not None:
                conn.sendall(self.greeting)
            try:
                while True:
                    data = conn.recv(4096)
                    if not data:
                        break
                    self.received += data
            except OSError:
                pass

    def close(self):
        # shutdown() wakes the blocked accept(); close() alone may not.
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        self.thread.join(timeout=15)


@pytest.fixture
def greeter():
    srv = LineServer(b"* OK ready\r\n")
    yield srv
    srv.close()


@pytest.fixture
def password_file(tmp_path):
    path = tmp_path / "password"
    path.write_text(PASSWORD + "\n")
    return str(path)


class TlsServer:
    """`openssl s_server` on 127.0.0.1 with a port of its choosing, presenting
    the test certificate `name`; what is written to its stdin goes to the client."""

    def __init__(self, name):
        self.proc = subprocess.Popen(
            ["openssl", "s_server", "-accept", "127.0.0.1:0", "-ign_eof",
             "-cert", os.path.join(CERTS, name + ".crt"),
             "-key", os.path.join(CERTS, name + ".key")],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.port = None
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline().decode(errors="replace")
            m = re.match(r"ACCEPT 127\.0\.0\.1:(\d+)", line)
            if m:
                self.port = int(m.group(1))
                break
            if not line:
                break
        assert self.port, "openssl s_server did not start"
        # s_server reads stdin only once a client is connected: queue the greeting.
        self.proc.stdin.write(b"* OK TLS ready\r\n")
        self.proc.stdin.flush()

    def close(self):
        self.proc.kill()
        self.proc.wait(timeout=10)


@pytest.fixture
def tls_server(request):
    srv = TlsServer(request.param)
    yield srv
    srv.close()


# ---- version and help --------------------------------------------------------

def test_version():
    p = run("--version")
    assert p.returncode == 0
    assert re.fullmatch(r"mj \d+\.\d+\.\d+ \(OpenSSL \d+\.\d+\.\d+\)\n", p.stdout), p.stdout
    assert p.stderr == ""


def test_help_lists_every_option_and_operation():
    p = run("--help")
    assert p.returncode == 0
    assert p.stdout.startswith("usage: mj [options] URL OPERATION [ARGS...]\n")
    for opt in ("--security", "--user", "--password-file", "--cafile", "--pin-sha256",
                "--insecure", "--client-cert", "--client-key", "--tls-min", "--timeout-ms",
                "--deadline-ms", "--connect-timeout-ms", "--log", "--log-timestamps",
                "--json", "--resolve", "--version", "--help"):
        assert re.search(r"^ +(-\w, )?" + re.escape(opt) + r"\b", p.stdout, re.M), opt
    assert re.search(r"^  probe +\(imap,pop3,smtp\)", p.stdout, re.M)
    assert "  21  certificate-invalid" in p.stdout


# ---- usage errors ------------------------------------------------------------

BAD_ARGUMENTS = [
    ([], "missing URL"),
    (["imap://h"], "missing operation after the URL"),
    (["ftp://h", "probe"], "unknown scheme"),
    (["imap://alice:pw@h", "probe"], "a password in the URL (user:password@) is refused"),
    (["imap://h:65536", "probe"], "port out of range 1..65535: '65536'"),
    (["imap://h:12a", "probe"], "port is not a number: '12a'"),
    (["imap://", "probe"], "empty host"),
    (["imap://h\r\n", "probe"], "control byte '\\x0d'"),
    (["--security", "tls", "imap://h", "probe"], "--security must be none, implicit"),
    (["imaps://h", "--security", "starttls", "probe"],
     "imaps:// means implicit TLS and conflicts with --security starttls"),
    (["--timeout-ms", "0", "imap://h", "probe"], "--timeout-ms must be a number"),
    (["--deadline-ms", "x", "imap://h", "probe"], "--deadline-ms must be a number"),
    (["--tls-min", "1.1", "imaps://h", "probe"], "--tls-min must be 1.2 or 1.3, not '1.1'"),
    (["--resolve", "h:143", "imap://h", "probe"], "--resolve must be HOST:PORT:ADDR"),
    (["--bogus", "imap://h", "probe"], "unknown option '--bogus'"),
    (["imap://h", "probe", "--user"], "option needs a value: '--user'"),
    (["imap://h", "frobnicate"], "unknown operation 'frobnicate' for imap; operations: probe"),
    (["imap://h", "probe", "extra"], "probe takes no arguments (got 1)"),
    (["--security", "starttls", "imap://h", "probe"],
     "probe does not speak STARTTLS yet: use --security none or implicit"),
    (["--pin-sha256", "zz", "imaps://h", "probe"], "--pin-sha256 must be 64 hex digits"),
    (["--cafile", "/nonexistent/ca.crt", "imaps://h", "probe"], "cannot read --cafile"),
    (["--password-file", "/nonexistent/pw", "imap://h", "probe"],
     "cannot open --password-file (No such file or directory): '/nonexistent/pw'"),
]


@pytest.mark.parametrize("args,message", BAD_ARGUMENTS,
                         ids=[" ".join(a) or "nothing" for a, _ in BAD_ARGUMENTS])
def test_bad_argument_is_usage(args, message):
    p = run(*args)
    assert p.returncode == 2, p.stderr
    assert p.stderr.startswith("mj: usage: "), p.stderr
    assert message in p.stderr
    assert p.stderr.count("\n") == 1
    assert p.stdout == ""


@pytest.mark.parametrize("args,message", BAD_ARGUMENTS[:6] + BAD_ARGUMENTS[-5:])
def test_bad_argument_as_json(args, message):
    p, out = run_json(*args)
    assert p.returncode == 2
    assert out["outcome"] == "usage"
    assert out["reason"] == "bad-argument"
    assert message in out["message"]
    assert out["exit_code"] == 2
    assert p.stdout.count("\n") == 1  # exactly one object


def test_json_given_after_a_bad_option_still_applies():
    p, out = run_json_after("--bogus", "imap://h", "probe")
    assert out["outcome"] == "usage"
    assert "unknown option '--bogus'" in out["message"]


def run_json_after(*args):
    p = run(*args, "--json")
    out = json.loads(p.stdout)
    assert out["exit_code"] == p.returncode == 2
    return p, out


# ---- the password never shows ---------------------------------------------------

def assert_no_password(p, log_path=None):
    assert PASSWORD not in p.stdout
    assert PASSWORD not in p.stderr
    if log_path is not None and os.path.exists(log_path):
        with open(log_path, encoding="utf-8", errors="replace") as f:
            assert PASSWORD not in f.read()


def test_password_never_printed_on_success(greeter, password_file, tmp_path):
    log = str(tmp_path / "log")
    p = run("--json", "--log", log, "--password-file", password_file, "--security", "none",
            f"imap://alice@127.0.0.1:{greeter.port}", "probe")
    assert p.returncode == 0, p.stderr
    assert_no_password(p, log)
    p = run("--password-file", password_file, "--log", "-", "--security", "none",
            f"imap://alice@127.0.0.1:{greeter.port}", "probe")
    assert_no_password(p)


@pytest.mark.parametrize("extra", [
    ["imap://127.0.0.1:{closed}", "probe"],
    ["imap://h", "frobnicate"],
    ["--tls-min", "1.1", "imap://h", "probe"],
    ["imaps://h", "--security", "none", "probe"],
])
def test_password_never_printed_on_errors(extra, password_file, tmp_path):
    log = str(tmp_path / "log")
    closed = free_port()
    args = [a.format(closed=closed) for a in extra]
    for json_flag in ([], ["--json"]):
        p = run(*json_flag, "--log", log, "--password-file", password_file, *args)
        assert p.returncode != 0
        assert_no_password(p, log)


def test_password_in_url_is_not_echoed():
    p = run("--json", f"imap://alice:{PASSWORD}@h", "probe")
    assert p.returncode == 2
    assert_no_password(p)


def test_password_file_with_control_byte_is_not_echoed(tmp_path):
    path = tmp_path / "pw"
    path.write_bytes(PASSWORD.encode() + b"\x01\n")
    p = run("--json", "--password-file", str(path), "imap://h", "probe")
    assert p.returncode == 2
    assert "the first line contains a control byte in --password-file" in p.stderr
    assert_no_password(p)


# ---- probe ------------------------------------------------------------------------

def test_probe_plaintext(greeter, tmp_path):
    log = str(tmp_path / "log")
    p, out = run_json("--security", "none", "--log", log, f"imap://127.0.0.1:{greeter.port}",
                      "probe")
    assert p.returncode == 0, p.stderr
    assert out["outcome"] == "ok"
    assert out["reason"] == "none"
    assert out["result"]["greeting"] == "* OK ready"
    assert out["result"]["tls"]["state"] == "none"
    assert "starttls" not in out["result"]
    with open(log, encoding="utf-8", newline="") as f:  # keep the CRLF as written
        text = f.read()
    # The line ending of "Connected to" is the log's business (MailKit: CRLF).
    assert re.match(rf"Connected to imap://127\.0\.0\.1:{greeter.port}/\r?\n", text), text
    assert "S: * OK ready\r\n" in text


def test_probe_plaintext_human_output(greeter):
    p = run("--security", "none", f"pop3://127.0.0.1:{greeter.port}", "probe")
    assert p.returncode == 0, p.stderr
    assert "greeting: * OK ready\n" in p.stdout
    assert "tls.state: none\n" in p.stdout
    assert p.stderr == ""


def test_probe_auto_on_other_port_does_not_attempt_starttls(greeter):
    p, out = run_json(f"smtp://127.0.0.1:{greeter.port}", "probe")
    assert out["outcome"] == "ok", out
    assert out["result"]["starttls"] == "not attempted"
    assert out["result"]["tls"]["state"] == "none"


def test_probe_escapes_the_greeting():
    srv = LineServer(b"* OK \x01hi\x1b[31m \xff\r\n")
    try:
        p, out = run_json("--security", "none", f"imap://127.0.0.1:{srv.port}", "probe")
    finally:
        srv.close()
    assert out["outcome"] == "ok", out
    assert out["result"]["greeting"] == "* OK \\x01hi\\x1b[31m \\xff"


def test_probe_closed_port_is_connect_failed():
    port = free_port()
    p, out = run_json("--security", "none", f"imap://127.0.0.1:{port}", "probe")
    assert p.returncode == EXIT["connect-failed"] == 10
    assert out["outcome"] == "connect-failed"
    assert out["reason"] == "refused"
    assert str(port) in out["message"]
    p = run("--security", "none", f"imap://127.0.0.1:{port}", "probe")
    assert p.returncode == 10
    assert p.stderr.startswith("mj: connect-failed: ")


def test_probe_silent_server_times_out():
    srv = LineServer(None)
    try:
        start = time.monotonic()
        p, out = run_json("--security", "none", "--timeout-ms", "300",
                          f"imap://127.0.0.1:{srv.port}", "probe")
        elapsed = time.monotonic() - start
    finally:
        srv.close()
    assert p.returncode == EXIT["timeout"] == 11
    assert out["outcome"] == "timeout"
    assert out["reason"] == "io-timeout"
    assert 0.25 <= elapsed < 2.0, elapsed


def test_probe_deadline():
    srv = LineServer(None)
    try:
        start = time.monotonic()
        p, out = run_json("--security", "none", "--deadline-ms", "400",
                          f"imap://127.0.0.1:{srv.port}", "probe")
        elapsed = time.monotonic() - start
    finally:
        srv.close()
    assert out["outcome"] == "timeout"
    assert out["reason"] == "deadline"
    assert elapsed < 2.0, elapsed


@pytest.mark.parametrize("tls_server", ["valid"], indirect=True)
def test_probe_implicit_tls_verified(tls_server):
    port = tls_server.port
    p, out = run_json("--cafile", os.path.join(CERTS, "ca.crt"),
                      "--resolve", f"mail.mailjig.test:{port}:127.0.0.1",
                      f"imaps://mail.mailjig.test:{port}", "probe")
    assert p.returncode == 0, out
    r = out["result"]
    assert r["greeting"] == "* OK TLS ready"
    assert r["tls"]["state"] == "verified"
    assert r["tls"]["version"] in ("TLSv1.2", "TLSv1.3")
    assert r["tls"]["cipher"] != ""
    assert r["tls"]["sni"] == "mail.mailjig.test"
    assert "mail.mailjig.test" in r["tls"]["peer_names"]
    assert re.fullmatch(r"[0-9a-f]{64}", r["tls"]["peer_sha256"])
    assert "starttls" not in r


@pytest.mark.parametrize("tls_server", ["expired"], indirect=True)
def test_probe_implicit_tls_expired_certificate(tls_server):
    port = tls_server.port
    p, out = run_json("--cafile", os.path.join(CERTS, "ca.crt"),
                      "--resolve", f"mail.mailjig.test:{port}:127.0.0.1",
                      f"imaps://mail.mailjig.test:{port}", "probe")
    assert p.returncode == EXIT["certificate-invalid"] == 21
    assert out["outcome"] == "certificate-invalid"
    assert out["reason"] == "expired"
    assert p.stderr.startswith("mj: certificate-invalid: ")
