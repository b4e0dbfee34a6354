"""mjfake's exit semantics, transport faults and robustness, end to end with
Python's socket and ssl modules and `openssl s_client`:

- a failed handshake leaves the script's later steps "not reached" (exit 1,
  FILE:LINE:COL named); a script written for a client that must abort
  (`expect: eof` only) exits 0, for every test certificate that fails;
- `alert:` (each name, TLS 1.2 and 1.3), `truncate_record:`, `corrupt_record:`
  as the client sees them;
- the ClientHello recorded in the STARTTLS failure modes;
- accept() out of descriptors pauses instead of spinning; a client that stops
  reading hits the idle timeout; `accept: refuse` exits on its own.

Environment as test_mjfake_e2e.py.  Only 127.0.0.1.
"""
import json
import os
import resource
import socket
import ssl
import subprocess
import time

import pytest

from test_mjfake_e2e import BIN, CERTS, E2E, HOST, Fake, fake, recv_exact  # noqa: F401 (fixture)

MJFAKE = os.path.join(BIN, "mjfake")


def start(tmp_path, text, *extra, name="s.yaml", idle_ms=3000, preexec=None):
    """mjfake serving the scenario text (written into tmp_path)."""
    path = tmp_path / name
    path.write_text(text)
    tr = tmp_path / "t.jsonl"
    cmd = [MJFAKE, "--scenario", str(path), "--port", "0", "--certs", CERTS,
           "--transcript", str(tr), "--idle-timeout-ms", str(idle_ms), *extra]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         preexec_fn=preexec)
    line = p.stdout.readline()
    assert line.startswith("READY "), (line, p.stderr.read())
    p.port = int(line.split()[1])
    p.path = str(path)
    p.tr = tr
    return p


def finish(p, timeout=15):
    rc = p.wait(timeout)
    err = p.stderr.read()
    p.stdout.close()
    p.stderr.close()
    return rc, err


def events(p):
    return [json.loads(line) for line in p.tr.read_text().splitlines()]


def client_ctx(version=None, trust=True):
    ctx = ssl.create_default_context(cafile=f"{CERTS}/ca.crt")
    if not trust:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if version:
        ctx.minimum_version = ctx.maximum_version = version
    return ctx


@pytest.fixture
def procs():
    started = []
    yield started
    for p in started:
        if p.poll() is None:
            p.kill()
            p.wait()


# ---- exit semantics ---------------------------------------------------------------

def test_failed_handshake_leaves_the_greeting_not_reached(fake):
    f = fake("tls11_max.yaml")
    with socket.create_connection(("127.0.0.1", f.port), timeout=5) as raw:
        with pytest.raises(ssl.SSLError):
            client_ctx(ssl.TLSVersion.TLSv1_2).wrap_socket(raw, server_hostname=HOST)
    assert f.wait() == 1
    path = os.path.join(E2E, "tls11_max.yaml")
    assert f.stderr.startswith(f"{path}:9:7: not reached: the TLS handshake failed (")
    ev = f.events()
    assert [e["event"] for e in ev if e["dir"] == "event"] == [
        "accept", "client-hello", "tls-failed", "not-reached", "close"]
    assert [e for e in ev if e["event"] == "client-hello"][0]["versions"] == ["TLSv1.2"]


# Every certificate the client must refuse, and how Python's ssl says so.
REFUSED = {
    "expired": "certificate has expired",
    "not-yet-valid": "certificate is not yet valid",
    "self-signed": "self-signed certificate",
    "wrong-host": "Hostname mismatch",
    "untrusted-ca": "unable to get local issuer certificate",
    "client-auth-only": "unsuitable certificate purpose",
    "bad-intermediate": "invalid CA certificate",
}
# cn-only is left out: Python's ssl still falls back to the subject CN, so it
# accepts the certificate (mailjig's own client does not; the conformance
# scenario scenarios/certificates/cn-only.yaml covers it).

ABORT = """\
summary: a script for a client that must abort the handshake
protocol: imap
server:
  tls: implicit
  certificate: {cert}
  steps:
    - expect: eof
client:
  op: probe
expect:
  outcome: certificate-invalid
"""


@pytest.mark.parametrize("cert", sorted(REFUSED))
def test_certificate_refused_and_abort_script_exits_0(tmp_path, procs, cert):
    p = start(tmp_path, ABORT.format(cert=cert))
    procs.append(p)
    with socket.create_connection(("127.0.0.1", p.port), timeout=5) as raw:
        with pytest.raises(ssl.SSLCertVerificationError) as e:
            client_ctx().wrap_socket(raw, server_hostname=HOST)
    assert REFUSED[cert] in str(e.value)
    rc, err = finish(p)
    assert (rc, err) == (0, "")
    failed = [e for e in events(p) if e.get("event") == "tls-failed"]
    assert len(failed) == 1 and "alert" in failed[0]["data"]


@pytest.mark.parametrize("cert", ["valid", "valid-rsa", "wildcard", "weak-key"])
def test_certificate_accepted(tmp_path, procs, cert):
    text = ABORT.format(cert=cert).replace("    - expect: eof", '    - send: "* OK {c}"\n'
                                           '    - expect: eof'.format(c=cert))
    p = start(tmp_path, text)
    procs.append(p)
    ctx = client_ctx()
    if cert == "weak-key":  # a 1024-bit key: the client must lower its own floor to see it
        ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    with socket.create_connection(("127.0.0.1", p.port), timeout=5) as raw:
        with ctx.wrap_socket(raw, server_hostname=HOST) as s:
            assert recv_exact(s, 7 + len(cert)) == f"* OK {cert}\r\n".encode()
    assert finish(p) == (0, "")


# ---- mid-stream faults ---------------------------------------------------------------

ALERT = """\
summary: a fatal alert after some application data
protocol: imap
server:
  tls: implicit
  steps:
    - send: "* OK ready"
    - expect: "{{tag}} NOOP"
      send: "{{tag}} OK done"
      alert: {alert}
client:
  op: probe
expect:
  outcome: tls-failed
"""

# (alert, version): the alert OpenSSL raises for it, as Python names it.
ALERTS = {
    ("bad_record_mac", "TLSv1_2"): (20, "SSLV3_ALERT_BAD_RECORD_MAC"),
    ("bad_record_mac", "TLSv1_3"): (20, "SSLV3_ALERT_BAD_RECORD_MAC"),
    ("record_overflow", "TLSv1_2"): (22, "TLSV1_ALERT_RECORD_OVERFLOW"),
    ("record_overflow", "TLSv1_3"): (22, "TLSV1_ALERT_RECORD_OVERFLOW"),
    ("unexpected_message", "TLSv1_3"): (10, "SSLV3_ALERT_UNEXPECTED_MESSAGE"),
    ("unexpected_message", "TLSv1_2"): (80, "TLSV1_ALERT_INTERNAL_ERROR"),
}


@pytest.mark.parametrize("alert,version", sorted(ALERTS))
def test_alert_mid_stream(tmp_path, procs, alert, version):
    code, name = ALERTS[(alert, version)]
    p = start(tmp_path, ALERT.format(alert=alert))
    procs.append(p)
    with socket.create_connection(("127.0.0.1", p.port), timeout=5) as raw:
        with client_ctx(getattr(ssl.TLSVersion, version)).wrap_socket(
                raw, server_hostname=HOST) as s:
            assert recv_exact(s, 12) == b"* OK ready\r\n"
            s.sendall(b"a1 NOOP\r\n")
            assert recv_exact(s, 12) == b"a1 OK done\r\n"
            with pytest.raises(ssl.SSLError) as e:
                s.recv(100)
            assert name in str(e.value)
    assert finish(p) == (0, "")
    ev = [e for e in events(p) if e.get("event") == "tls-alert"]
    assert len(ev) == 1 and ev[0]["alert"] == code and ev[0]["data"].startswith("fatal alert")
    assert ev[0]["step"] == f"{p.path}:7:7"


def test_truncated_record_then_fin(fake):
    f = fake("tls_truncate.yaml")
    with socket.create_connection(("127.0.0.1", f.port), timeout=5) as raw:
        ctx = client_ctx()
        with ctx.wrap_socket(raw, server_hostname=HOST, suppress_ragged_eofs=False) as s:
            assert recv_exact(s, 12) == b"* OK ready\r\n"
            s.sendall(b"a1 NOOP\r\n")
            try:  # EOF in the middle of a record: an error, or (Debian's build) a bare EOF
                got = s.recv(100)
            except ssl.SSLEOFError:
                got = None
            assert got in (None, b"")  # never the reply the record carried
    assert f.wait() == 0, f.stderr
    ev = f.events()
    cut = [e for e in ev if e.get("event") == "tls-truncated"]
    assert cut and cut[0]["data"] == "a TLS record cut short, then FIN"


def test_truncated_record_on_the_wire(tmp_path, procs):
    """The raw bytes: a record header promising N, fewer bytes, then FIN."""
    p = start(tmp_path, open(os.path.join(E2E, "tls_truncate.yaml")).read())
    procs.append(p)
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = client_ctx(ssl.TLSVersion.TLSv1_3).wrap_bio(inc, out, server_hostname=HOST)
    with socket.create_connection(("127.0.0.1", p.port), timeout=5) as raw:
        while True:
            try:
                obj.do_handshake()
                break
            except ssl.SSLWantReadError:
                raw.sendall(out.read())
                inc.write(raw.recv(65536))
        raw.sendall(out.read())
        wire = b""
        obj.write(b"a1 NOOP\r\n")
        raw.sendall(out.read())
        while True:
            d = raw.recv(65536)
            if not d:
                break
            wire += d
    # skip whole records (tickets, the greeting); the last one is cut short
    i = 0
    while i + 5 <= len(wire) and i + 5 + int.from_bytes(wire[i + 3:i + 5], "big") <= len(wire):
        i += 5 + int.from_bytes(wire[i + 3:i + 5], "big")
    header, rest = wire[i:i + 5], wire[i + 5:]
    assert header[0] == 0x17 and len(header) == 5
    promised = int.from_bytes(header[3:5], "big")
    assert len(rest) == promised // 2 and promised > 0
    assert finish(p) == (0, "")


def test_corrupted_record(fake):
    f = fake("tls_corrupt.yaml")
    with socket.create_connection(("127.0.0.1", f.port), timeout=5) as raw:
        with client_ctx().wrap_socket(raw, server_hostname=HOST) as s:
            assert recv_exact(s, 12) == b"* OK ready\r\n"
            s.sendall(b"a1 NOOP\r\n")
            with pytest.raises(ssl.SSLError) as e:
                s.recv(100)
            assert "DECRYPTION_FAILED_OR_BAD_RECORD_MAC" in str(e.value)
    assert f.wait() == 0, f.stderr  # the client's alert ends it: expect: eof matched
    assert any("bad record mac" in e["data"] for e in f.events() if e.get("event") == "eof")


# ---- the ClientHello in the STARTTLS failure modes -----------------------------------

FAIL_MODES = {
    "{fail: alert}": "answered the ClientHello with a fatal alert",
    "{fail: plaintext, text: \"oops\\r\\n\"}": "answered the ClientHello with plaintext",
    "{fail: silence}": "left the ClientHello unanswered",
}

STARTTLS_FAIL = """\
summary: STARTTLS answered badly; the ClientHello is still recorded
protocol: smtp
server:
  steps:
    - send: "220 fake ESMTP"
    - expect: {{text: "EHLO *", icase: true}}
      send: |
        250-fake
        250 STARTTLS
    - expect: {{text: "STARTTLS", icase: true}}
      send: "220 go ahead"
      starttls: {mode}
    - expect: eof
      optional: true
client:
  op: probe
expect:
  outcome: tls-failed
"""


@pytest.mark.parametrize("mode", sorted(FAIL_MODES))
def test_starttls_failure_records_client_hello(tmp_path, procs, mode):
    p = start(tmp_path, STARTTLS_FAIL.format(mode=mode))
    procs.append(p)
    limit = ["timeout", "1"] if "silence" in mode else []  # the client gives up, then closes
    out = subprocess.run([*limit, "openssl", "s_client", "-starttls", "smtp", "-connect",
                          f"127.0.0.1:{p.port}", "-servername", HOST, "-no_tls1_3"],
                         stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=15)
    assert out.returncode != 0
    assert finish(p) == (0, "")
    ev = events(p)
    hello = [e for e in ev if e.get("event") == "client-hello"]
    assert len(hello) == 1
    assert hello[0]["sni"] == HOST and hello[0]["versions"] == ["TLSv1.2"]
    assert hello[0]["compression"] is False
    assert [e["data"] for e in ev if e.get("event") == "tls-failed"] == [FAIL_MODES[mode]]


# ---- robustness --------------------------------------------------------------------

def cpu_ms(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")


def test_accept_out_of_descriptors_pauses(tmp_path, procs):
    def low_fd_limit():
        resource.setrlimit(resource.RLIMIT_NOFILE, (16, 16))
    p = start(tmp_path, open(os.path.join(E2E, "hang_repeat.yaml")).read(), "--repeat",
              preexec=low_fd_limit)
    procs.append(p)
    socks = []
    try:
        for _ in range(30):  # more than 16 descriptors' worth: the backlog holds the rest
            socks.append(socket.create_connection(("127.0.0.1", p.port), timeout=5))
        time.sleep(0.3)
        before = cpu_ms(p.pid)
        time.sleep(1.0)
        used = cpu_ms(p.pid) - before
        assert used < 200, f"mjfake used {used:.0f} ms of CPU in 1 s: accept() is spinning"
        for s in socks[:10]:  # free descriptors: accepting resumes
            s.close()
        time.sleep(0.5)
    finally:
        for s in socks:
            s.close()
    p.terminate()
    assert finish(p)[0] == 0
    ev = events(p)
    paused = [e for e in ev if e.get("event") == "accept-paused"]
    assert paused and paused[0]["data"].startswith("accept: Too many open files; accepting paused")
    assert len(paused) < 30  # once per pause (100 ms), not once per poll
    assert sum(1 for e in ev if e.get("event") == "accept") > 12


BIG = """\
summary: a large reply to a client that never reads it
protocol: pop3
server:
  steps:
    - send: "+OK ready"
    - expect: "RETR 1"
      send_file: big.txt
    - expect: eof
client:
  op: probe
expect:
  outcome: timeout
"""


def test_client_that_stops_reading_hits_the_idle_timeout(tmp_path, procs):
    (tmp_path / "big.txt").write_bytes(b"x" * 78 + b"\r\n" * 1 + (b"y" * 78 + b"\r\n") * 200000)
    p = start(tmp_path, BIG, idle_ms=500)
    procs.append(p)
    with socket.create_connection(("127.0.0.1", p.port), timeout=5) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        assert recv_exact(s, 11) == b"+OK ready\r\n"
        s.sendall(b"RETR 1\r\n")
        t0 = time.monotonic()
        rc, err = finish(p, timeout=10)  # never reading
        took = time.monotonic() - t0
    assert rc == 1 and took < 5
    assert err.startswith(f"{p.path}:6:7: the client stopped reading: ")
    assert err.rstrip().endswith("unsent after 500 ms without progress")


def test_accept_refuse_exits_on_its_own(tmp_path, procs):
    p = start(tmp_path, open(os.path.join(E2E, "refuse.yaml")).read(), idle_ms=300)
    procs.append(p)
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", p.port), timeout=5)
    t0 = time.monotonic()
    assert finish(p, timeout=5) == (0, "")
    assert time.monotonic() - t0 < 2
