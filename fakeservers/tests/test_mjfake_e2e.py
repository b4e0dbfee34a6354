"""End-to-end tests of mjfake's core: the real binary driven by Python's
socket and ssl modules, `openssl s_client -starttls`, and curl.

Scenarios live in fakeservers/tests/e2e/.  Environment (set by `make pytest`):
MJ_BIN (build/<variant>/bin), MJ_CERTS (the generated certificates),
MJ_SRCDIR (the repository).  Only 127.0.0.1.
"""
import json
import os
import socket
import ssl
import subprocess
import time

import pytest

SRC = os.environ.get("MJ_SRCDIR", os.path.abspath(os.path.join(os.path.dirname(__file__), "../..")))
BIN = os.environ.get("MJ_BIN", os.path.join(SRC, "build/gcc/bin"))
CERTS = os.environ.get("MJ_CERTS", os.path.join(SRC, "build/certs"))
E2E = os.path.join(os.path.dirname(os.path.abspath(__file__)), "e2e")
HOST = "mail.mailjig.test"


class Fake:
    """One mjfake process serving a scenario; .port once READY."""

    def __init__(self, tmp_path, name, *extra):
        self.transcript = tmp_path / "t.jsonl"
        self.log = tmp_path / "t.log"
        cmd = [os.path.join(BIN, "mjfake"), "--scenario", os.path.join(E2E, name), "--port", "0",
               "--certs", CERTS, "--transcript", str(self.transcript), "--log", str(self.log),
               "--idle-timeout-ms", "3000", *extra]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        assert line.startswith("READY "), (line, self.proc.stderr.read())
        self.port = int(line.split()[1])

    def wait(self, timeout=15):
        rc = self.proc.wait(timeout)
        self.stderr = self.proc.stderr.read()
        return rc

    def events(self):
        return [json.loads(l) for l in self.transcript.read_text().splitlines()]


@pytest.fixture
def fake(tmp_path):
    started = []

    def start(name, *extra):
        f = Fake(tmp_path, name, *extra)
        started.append(f)
        return f

    yield start
    for f in started:
        if f.proc.poll() is None:
            f.proc.kill()
            f.proc.wait()
        f.proc.stdout.close()
        f.proc.stderr.close()


def recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            break
        buf += chunk
    return buf


def test_imap_basic_transcript_and_log(fake):
    f = fake("imap_basic.yaml")
    with socket.create_connection(("127.0.0.1", f.port), timeout=5) as s:
        assert recv_exact(s, 12) == b"* OK ready\r\n"
        s.sendall(b"x1 LOGIN bob pw\r\n")
        assert recv_exact(s, 17) == b"x1 OK hello bob\r\n"
        s.sendall(b"x2 LOGOUT\r\n")
        assert recv_exact(s, 14) == b"* BYE\r\nx2 OK\r\n"
    assert f.wait() == 0
    ev = f.events()
    assert ev[0]["event"] == "accept" and ev[0]["conn"] == 1
    sent = [e for e in ev if e["dir"] == "s"]
    assert sent[0]["data"] == "* OK ready\\r\\n"
    assert sent[0]["step"].endswith("imap_basic.yaml:5:7")
    assert [e["data"] for e in ev if e["dir"] == "c"] == ["x1 LOGIN bob pw\\r\\n", "x2 LOGOUT\\r\\n"]
    assert f.log.read_text().splitlines()[:2] == ["S: * OK ready", "C: x1 LOGIN bob pw"]


def test_mismatch_exit_1_names_the_step(fake):
    f = fake("imap_basic.yaml")
    with socket.create_connection(("127.0.0.1", f.port), timeout=5) as s:
        recv_exact(s, 12)
        s.sendall(b"x1 SELECT INBOX\r\n")
        assert s.recv(100) == b"x1 BAD unexpected command\r\n"
    assert f.wait() == 1
    path = os.path.join(E2E, "imap_basic.yaml")
    assert f.stderr == f"{path}:6:7: expected '{{tag}} LOGIN {{user}} *', got 'x1 SELECT INBOX'\n"


def test_s_client_starttls_imap(fake):
    f = fake("imap_starttls.yaml")
    out = subprocess.run(["openssl", "s_client", "-starttls", "imap", "-connect", f"127.0.0.1:{f.port}",
                          "-servername", HOST, "-verify_hostname", HOST, "-CAfile", f"{CERTS}/ca.crt",
                          "-verify_return_error"], stdin=subprocess.DEVNULL, capture_output=True,
                         text=True, timeout=15)
    assert "Verify return code: 0 (ok)" in out.stdout, out.stdout + out.stderr
    assert f.wait() == 0, f.stderr
    hello = [e for e in f.events() if e.get("event") == "client-hello"]
    assert hello and hello[0]["sni"] == HOST and "TLSv1.3" in hello[0]["versions"]
    assert any(e.get("event") == "tls-handshake" for e in f.events())


def test_s_client_starttls_smtp_expired_certificate(fake):
    f = fake("smtp_starttls_expired.yaml")
    out = subprocess.run(["openssl", "s_client", "-starttls", "smtp", "-connect", f"127.0.0.1:{f.port}",
                          "-servername", HOST, "-CAfile", f"{CERTS}/ca.crt", "-verify_return_error"],
                         stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=15)
    assert out.returncode != 0
    assert "certificate has expired" in out.stdout + out.stderr
    assert f.wait() == 0, f.stderr
    assert any(e.get("event") == "tls-failed" for e in f.events())


def test_curl_pop3s_list(fake):
    f = fake("pop3s_list.yaml")
    out = subprocess.run(["curl", "-sS", "--max-time", "10", "--cacert", f"{CERTS}/ca.crt",
                          "--resolve", f"{HOST}:{f.port}:127.0.0.1", "-u", "alice:secret",
                          f"pop3s://{HOST}:{f.port}/"], capture_output=True, timeout=15)
    assert out.returncode == 0, out.stderr
    assert out.stdout == b"1 120\r\n"
    assert f.wait() == 0, f.stderr
    assert all(e["tls"] for e in f.events() if e["dir"] in ("c", "s"))


def test_python_ssl_inject_and_fragment(fake):
    f = fake("inject_fragment.yaml")
    ctx = ssl.create_default_context(cafile=f"{CERTS}/ca.crt")
    with socket.create_connection(("127.0.0.1", f.port), timeout=5) as raw:
        assert recv_exact(raw, 6) == b"* OK\r\n"
        raw.sendall(b"t1 STARTTLS\r\n")
        time.sleep(0.1)
        assert raw.recv(100) == b"t1 OK begin\r\n* BAD injected\r\n"  # one write
        with ctx.wrap_socket(raw, server_hostname=HOST) as s:
            s.sendall(b"t2 NOOP\r\n")
            parts = [s.recv(100) for _ in range(5)]
            assert parts == [b"t2", b" OK", b" d", b"one", b"\r\n"]
    assert f.wait() == 0, f.stderr


def test_accept_refuse(fake):
    f = fake("refuse.yaml")
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", f.port), timeout=5)
    f.proc.terminate()
    assert f.wait() == 0


def test_sigterm_flushes_transcript(fake):
    f = fake("imap_basic.yaml")
    with socket.create_connection(("127.0.0.1", f.port), timeout=5) as s:
        recv_exact(s, 12)
        f.proc.terminate()
        assert f.wait() == 1  # the LOGIN step never ran
    assert "interrupted by a signal before this step completed" in f.stderr
    ev = f.events()
    assert ev[-1]["event"] == "close" and ev[-1]["data"] == "interrupted"


def test_port_in_use_is_a_load_error():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        path = os.path.join(E2E, "imap_basic.yaml")
        out = subprocess.run([os.path.join(BIN, "mjfake"), "--scenario", path, "--port", str(port)],
                             capture_output=True, text=True, timeout=15)
    assert out.returncode == 2
    assert out.stdout == ""
    assert out.stderr == f"{path}: cannot listen on 127.0.0.1:{port}: Address already in use\n"
