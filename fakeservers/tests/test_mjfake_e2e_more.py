"""More end-to-end tests of mjfake (issue 3's list), beside test_mjfake_e2e.py
and test_mjfake_faults.py, which they do not repeat:

- start-up: the TLS context built after READY (a first handshake right
  after READY; a certificate or key that does not load is still exit 2, one
  line); the host's openssl.cnf has no say;
- accept policies seen from Python (close, reset, hang) and the greeting
  delay, with their transcript events;
- drip timing, and fragmentation in plaintext (write boundaries);
- `openssl s_client -starttls pop3` and `smtp` (imap is in test_mjfake_e2e),
  with the transcript's TLS flag, SNI, versions and step positions;
- curl with `--ssl-reqd` over STARTTLS (imap, pop3, smtp), and against a
  server that offers no STARTTLS (curl gives up before any credential);
  curl over implicit TLS (imaps);
- every test certificate through `openssl s_client -verify_return_error
  -CAfile ca.crt`: the exact verify error;
- TLS version limits against `openssl s_client -tls1_1` / `-tls1_2`;
- STARTTLS injection seen by a raw socket in the same read as the OK line.

Environment as test_mjfake_e2e.py.  Only 127.0.0.1.
"""
import json
import os
import shutil
import socket
import ssl
import subprocess
import time

import pytest

from test_mjfake_e2e import BIN, CERTS, HOST, recv_exact

MJFAKE = os.path.join(BIN, "mjfake")
S_CLIENT_TIMEOUT_S = 15


class Run:
    """mjfake serving scenario text written into tmp_path; .port once READY."""

    def __init__(self, tmp_path, text, *extra, certs=CERTS, env=None, idle_ms=3000):
        self.path = str(tmp_path / "s.yaml")
        (tmp_path / "s.yaml").write_text(text)
        self.tr = tmp_path / "t.jsonl"
        cmd = [MJFAKE, "--scenario", self.path, "--port", "0", "--certs", certs,
               "--transcript", str(self.tr), "--idle-timeout-ms", str(idle_ms), *extra]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, env=env)
        line = self.proc.stdout.readline()
        assert line.startswith("READY "), (line, self.proc.stderr.read())
        self.port = int(line.split()[1])

    def finish(self, timeout=15):
        """(exit code, stderr) once it ends by itself."""
        rc = self.proc.wait(timeout)
        return rc, self.proc.stderr.read()

    def events(self):
        return [json.loads(line) for line in self.tr.read_text().splitlines()]

    def named(self, event):
        return [e for e in self.events() if e.get("event") == event]


@pytest.fixture
def serve(tmp_path):
    runs = []

    def start(text, *extra, **kw):
        r = Run(tmp_path, text, *extra, **kw)
        runs.append(r)
        return r

    yield start
    for r in runs:
        if r.proc.poll() is None:
            r.proc.kill()
            r.proc.wait()
        r.proc.stdout.close()
        r.proc.stderr.close()


def scenario(protocol, steps, server=""):
    """A scenario text: server keys (indented lines) and steps (YAML list items)."""
    return (f"summary: e2e\nprotocol: {protocol}\nserver:\n{server}  steps:\n{steps}"
            "client:\n  op: probe\nexpect:\n  outcome: ok\n")


def s_client(port, *args, starttls=None, stdin=""):
    cmd = ["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-servername", HOST,
           "-verify_hostname", HOST, "-CAfile", f"{CERTS}/ca.crt", "-verify_return_error",
           *(["-starttls", starttls] if starttls else []), *args]
    return subprocess.run(cmd, input=stdin, capture_output=True, text=True,
                          timeout=S_CLIENT_TIMEOUT_S)


def client_ctx(version=None):
    ctx = ssl.create_default_context(cafile=f"{CERTS}/ca.crt")
    if version:
        ctx.minimum_version = ctx.maximum_version = version
    return ctx


GREET_EOF = """\
    - send: "* OK ready"
    - expect: eof
      optional: true
"""

# ---- start-up: the TLS context after READY ---------------------------------------------

IMPLICIT = scenario("imap", GREET_EOF, "  tls: implicit\n")


def test_tls_handshake_at_once_after_ready(serve):
    """The first connection may come while the context is still being built."""
    r = serve(IMPLICIT)
    with socket.create_connection(("127.0.0.1", r.port), timeout=5) as raw:
        with client_ctx().wrap_socket(raw, server_hostname=HOST) as s:
            assert recv_exact(s, 12) == b"* OK ready\r\n"
    assert r.finish() == (0, "")
    assert [e["event"] for e in r.events() if e["dir"] == "event"] == [
        "accept", "client-hello", "tls-handshake", "eof", "close"]


def certs_dir(tmp_path, crt, key):
    d = tmp_path / "certs"
    d.mkdir()
    (d / "valid.crt").write_bytes(crt)
    (d / "valid.key").write_bytes(key)
    return str(d)


def test_certificate_that_does_not_load_is_exit_2_after_ready(serve, tmp_path):
    key = open(f"{CERTS}/valid.key", "rb").read()
    d = certs_dir(tmp_path, b"-----BEGIN CERTIFICATE-----\nnot base64\n", key)
    t0 = time.monotonic()
    r = serve(IMPLICIT, certs=d)  # READY: the files are there; OpenSSL judges them later
    rc, err = r.finish()
    assert time.monotonic() - t0 < 2  # at once, not after a connection or a timeout
    assert rc == 2
    assert err.startswith(f"{r.path}: {d}/valid.crt: cannot load certificate 'valid': ")
    assert err.count("\n") == 1 and err.endswith("\n")


def test_key_that_does_not_match_is_exit_2_and_no_connection_is_served(serve, tmp_path):
    crt = open(f"{CERTS}/valid.crt", "rb").read()
    d = certs_dir(tmp_path, crt, open(f"{CERTS}/valid-rsa.key", "rb").read())
    r = serve(IMPLICIT, certs=d)
    try:  # a connection that came in time is closed unanswered, never served
        with socket.create_connection(("127.0.0.1", r.port), timeout=5) as raw:
            with pytest.raises((ssl.SSLError, OSError)):
                client_ctx().wrap_socket(raw, server_hostname=HOST)
    except ConnectionRefusedError:
        pass  # mjfake was already gone
    rc, err = r.finish()
    assert rc == 2
    assert err.startswith(f"{r.path}: {d}/valid.key: cannot load key 'valid': ")
    assert err.count("\n") == 1
    assert not [e for e in r.events() if e["dir"] == "s"]


def test_openssl_cnf_has_no_say(serve, tmp_path):
    """A system policy of MinProtocol = TLSv1.3 would leave tls_max 1.2 nothing."""
    cnf = tmp_path / "openssl.cnf"
    cnf.write_text("openssl_conf = init\n[init]\nssl_conf = ssl\n[ssl]\n"
                   "system_default = policy\n[policy]\nMinProtocol = TLSv1.3\n")
    r = serve(scenario("imap", GREET_EOF, '  tls: implicit\n  tls_max: "1.2"\n'),
              env={**os.environ, "OPENSSL_CONF": str(cnf)})
    with socket.create_connection(("127.0.0.1", r.port), timeout=5) as raw:
        with client_ctx().wrap_socket(raw, server_hostname=HOST) as s:
            assert s.version() == "TLSv1.2"
            assert recv_exact(s, 12) == b"* OK ready\r\n"
    assert r.finish() == (0, "")


# ---- accept policies and the greeting delay ----------------------------------------------

def accept_only(policy):
    return f"summary: e2e\nprotocol: imap\nserver:\n  accept: {policy}\nclient:\n  op: probe\n" \
           "expect:\n  outcome: connection-lost\n"


def test_accept_close_is_a_fin_at_once(serve):
    r = serve(accept_only("close"))
    with socket.create_connection(("127.0.0.1", r.port), timeout=5) as s:
        assert s.recv(100) == b""
    assert r.finish() == (0, "")
    assert [(e["event"], e["data"]) for e in r.events()] == [
        ("accept", ""), ("close", "accept: close (FIN)")]


def test_accept_reset_is_an_rst(serve):
    r = serve(accept_only("reset"))
    # The RST may be seen by recv, or already by the connect: with a timeout,
    # create_connection connects non-blocking and reads SO_ERROR after the
    # handshake, and on a loaded machine mjfake's RST can land before that.
    with pytest.raises(ConnectionResetError):
        with socket.create_connection(("127.0.0.1", r.port), timeout=5) as s:
            s.recv(100)
    assert r.finish() == (0, "")
    assert [(e["event"], e["data"]) for e in r.events()] == [
        ("accept", ""), ("reset", "accept: reset (RST)")]


def test_accept_hang_says_nothing_and_reads_on(serve):
    r = serve(accept_only("hang"))
    with socket.create_connection(("127.0.0.1", r.port), timeout=0.5) as s:
        s.sendall(b"a1 CAPABILITY\r\n")  # read and thrown away: never an RST
        with pytest.raises(socket.timeout):
            s.recv(100)
    assert r.finish() == (0, "")  # the client left: nothing was due
    ev = r.events()
    assert ev[0]["event"] == "accept" and ev[0]["data"] == "accept: hang"


def test_greeting_delay(serve):
    r = serve(scenario("imap", GREET_EOF, "  greeting_delay_ms: 300\n"))
    with socket.create_connection(("127.0.0.1", r.port), timeout=5) as s:
        t0 = time.monotonic()
        assert recv_exact(s, 12) == b"* OK ready\r\n"
        waited = time.monotonic() - t0
    assert 0.29 <= waited < 1.5
    assert r.finish() == (0, "")


# ---- drip and fragment --------------------------------------------------------------------

def test_drip_timing(serve):
    """12 bytes, 3 per write, 100 ms apart: four reads, about 300 ms in all."""
    r = serve(scenario("imap", '    - send: "0123456789"\n      drip: {bytes: 3, every_ms: 100}\n'
                               "    - expect: eof\n"))
    got, times = [], []
    with socket.create_connection(("127.0.0.1", r.port), timeout=5) as s:
        while sum(map(len, got)) < 12:
            got.append(s.recv(100))
            times.append(time.monotonic())
    assert got == [b"012", b"345", b"678", b"9\r\n"]
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert all(0.08 <= g < 0.5 for g in gaps), gaps
    assert r.finish() == (0, "")
    sent = [e for e in r.events() if e["dir"] == "s"]
    assert [e["data"] for e in sent] == ["012", "345", "678", "9\\r\\n"]
    steps = {e["step"] for e in sent}
    assert steps == {f"{r.path}:5:7"}  # the scenario's first step
    ms = [e["t_ms"] for e in sent]
    assert all(90 <= b - a for a, b in zip(ms, ms[1:])), ms


def boundaries(chunks):
    out, n = set(), 0
    for c in chunks:
        n += len(c)
        out.add(n)
    return out


def test_fragment_plaintext_write_boundaries(serve):
    """Each read ends on a scripted write boundary; the transcript has the writes."""
    r = serve(scenario("smtp", '    - send: "250-abcdef"\n      fragment: [1, 2, 4]\n'
                               '    - expect: eof\n'))
    chunks = []
    with socket.create_connection(("127.0.0.1", r.port), timeout=5) as s:
        while sum(map(len, chunks)) < 12:
            chunks.append(s.recv(100))
    writes = [b"2", b"50", b"-abc", b"d", b"ef", b"\r\n"]  # 1, 2, 4, 1, 2, then the rest
    assert b"".join(chunks) == b"250-abcdef\r\n"
    assert boundaries(chunks) <= boundaries(writes), chunks
    assert r.finish() == (0, "")
    assert [e["data"] for e in r.events() if e["dir"] == "s"] == [
        "2", "50", "-abc", "d", "ef", "\\r\\n"]


# ---- STARTTLS with openssl s_client: pop3, smtp, and what the transcript says -------------

POP3_STLS = """\
    - send: "+OK ready"
    - expect: CAPA
      optional: true
      send: |
        +OK
        STLS
        USER
        .
    - expect: STLS
      send: "+OK begin TLS"
      starttls: true
    - expect: eof
"""


def test_s_client_starttls_pop3_and_the_transcript(serve):
    r = serve(scenario("pop3", POP3_STLS))
    out = s_client(r.port, starttls="pop3")
    assert "Verify return code: 0 (ok)" in out.stdout, out.stdout + out.stderr
    assert r.finish() == (0, "")
    ev = r.events()
    flow = [(e["dir"], e.get("event") or e["data"], e["tls"]) for e in ev]
    assert flow[:5] == [  # s_client sends STLS at once: the optional CAPA is skipped
        ("event", "accept", False),
        ("s", "+OK ready\\r\\n", False),
        ("c", "STLS\\r\\n", False),
        ("s", "+OK begin TLS\\r\\n", False),
        ("event", "client-hello", False),
    ]
    hs = [e for e in ev if e.get("event") == "tls-handshake"]
    assert len(hs) == 1 and hs[0]["data"].startswith("TLSv1.3 ") and hs[0]["tls"] is True
    hello = r.named("client-hello")[0]
    assert hello["sni"] == HOST and hello["versions"][0] == "TLSv1.3"
    assert hello["compression"] is False
    # each server write names the step that made it (a client line is recorded
    # under the step being run when it was read: here the skipped optional CAPA)
    assert [e["step"] for e in ev if e["dir"] == "s"] == [f"{r.path}:5:7", f"{r.path}:13:7"]
    ts = [e["t_ms"] for e in ev]
    assert ts == sorted(ts)


SMTP_STLS = """\
    - send: "220 fake ESMTP"
    - expect: {text: "EHLO *", icase: true}
      send: |
        250-fake
        250 STARTTLS
    - expect: {text: STARTTLS, icase: true}
      send: "220 go ahead"
      starttls: true
    - expect: {text: "EHLO *", icase: true}
      send: |
        250-fake
        250 AUTH PLAIN
    - expect: {text: QUIT, icase: true}
      send: "221 bye"
      close: true
"""


def test_s_client_starttls_smtp(serve):
    r = serve(scenario("smtp", SMTP_STLS))
    out = s_client(r.port, "-ign_eof", starttls="smtp", stdin="EHLO client\r\nQUIT\r\n")
    assert "Verify return code: 0 (ok)" in out.stdout, out.stdout + out.stderr
    assert "250 AUTH PLAIN" in out.stdout and "221 bye" in out.stdout
    assert r.finish() == (0, "")
    after = [e["data"] for e in r.events() if e["dir"] == "c" and e["tls"]]
    assert "".join(after) == "EHLO client\\r\\nQUIT\\r\\n"  # one segment or two
    assert r.named("client-hello")[0]["sni"] == HOST


def test_no_sni_is_recorded_as_empty(serve):
    r = serve(IMPLICIT)
    ctx = client_ctx()
    ctx.check_hostname = False
    with socket.create_connection(("127.0.0.1", r.port), timeout=5) as raw:
        with ctx.wrap_socket(raw) as s:  # no server_hostname: no SNI
            assert recv_exact(s, 12) == b"* OK ready\r\n"
    assert r.finish() == (0, "")
    hello = r.named("client-hello")[0]
    assert hello["sni"] == "" and hello["compression"] is False


# ---- curl: --ssl-reqd over STARTTLS, and implicit TLS ----------------------------------------

IMAP_STLS = """\
    - send: "* OK ready"
    - expect: "{tag} CAPABILITY"
      send: |
        * CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED
        {tag} OK
    - expect: "{tag} STARTTLS"
      send: "{tag} OK begin TLS"
      starttls: true
    - expect: "{tag} CAPABILITY"
      send: |
        * CAPABILITY IMAP4rev1 AUTH=PLAIN
        {tag} OK
    - expect: {sasl: PLAIN, user: alice, password: secret}
    - expect: "{tag} LIST \\"\\" *"
      send: |
        * LIST () "/" INBOX
        {tag} OK
    - expect: "{tag} LOGOUT"
      send: |
        * BYE
        {tag} OK
    - expect: eof
      optional: true
"""


def curl(*args):
    return subprocess.run(["curl", "-sS", "--max-time", "10", "--cacert", f"{CERTS}/ca.crt",
                           "-u", "alice:secret", *args], capture_output=True, timeout=15)


def resolve(port):
    return ["--resolve", f"{HOST}:{port}:127.0.0.1"]


def no_credential_before_tls(events):
    return not any("alice" in e["data"] or "secret" in e["data"]
                   for e in events if e["dir"] == "c" and not e["tls"])


def test_curl_imap_ssl_reqd(serve):
    r = serve(scenario("imap", IMAP_STLS))
    out = curl("--ssl-reqd", *resolve(r.port), f"imap://{HOST}:{r.port}/")
    assert out.returncode == 0, out.stderr
    assert out.stdout == b'* LIST () "/" INBOX\r\n'
    assert r.finish() == (0, "")
    ev = r.events()
    assert no_credential_before_tls(ev)
    assert r.named("client-hello")[0]["sni"] == HOST


POP3_CURL = POP3_STLS.replace("    - expect: eof\n", """\
    - expect: CAPA
      send: |
        +OK
        USER
        .
    - expect: USER alice
      send: "+OK"
    - expect: PASS secret
      send: "+OK"
    - expect: LIST
      send: |
        +OK
        1 120
        .
    - expect: QUIT
      send: "+OK bye"
    - expect: eof
      optional: true
""")


def test_curl_pop3_ssl_reqd(serve):
    r = serve(scenario("pop3", POP3_CURL))
    out = curl("--ssl-reqd", *resolve(r.port), f"pop3://{HOST}:{r.port}/")
    assert out.returncode == 0, out.stderr
    assert out.stdout == b"1 120\r\n"
    assert r.finish() == (0, "")
    assert no_credential_before_tls(r.events())


SMTP_CURL = SMTP_STLS.replace("""\
        250 AUTH PLAIN
    - expect: {text: QUIT, icase: true}
""", """\
        250 SIZE 1000
    - expect: "MAIL FROM:<a@mailjig.test>*"
      send: "250 ok"
    - expect: "RCPT TO:<b@mailjig.test>"
      send: "250 ok"
    - expect: DATA
      send: "354 go"
    - expect: {data: {contains: "hello over TLS"}}
      send: "250 queued"
    - expect: {text: QUIT, icase: true}
""")


def test_curl_smtp_ssl_reqd(serve, tmp_path):
    msg = tmp_path / "m.eml"
    msg.write_bytes(b"Subject: t\r\n\r\nhello over TLS\r\n")
    r = serve(scenario("smtp", SMTP_CURL))
    out = subprocess.run(["curl", "-sS", "--max-time", "10", "--cacert", f"{CERTS}/ca.crt",
                          "--ssl-reqd", *resolve(r.port), "--mail-from", "a@mailjig.test",
                          "--mail-rcpt", "b@mailjig.test", "-T", str(msg),
                          f"smtp://{HOST}:{r.port}"], capture_output=True, timeout=15)
    assert out.returncode == 0, out.stderr
    assert r.finish() == (0, "")
    ev = r.events()
    assert not [e for e in ev if e["dir"] == "c" and not e["tls"] and "MAIL" in e["data"]]
    assert [e for e in ev if e["dir"] == "c" and e["tls"] and "MAIL FROM" in e["data"]]


def test_curl_ssl_reqd_without_starttls_sends_no_credential(serve):
    r = serve(scenario("imap", """\
    - send: "* OK ready"
    - expect: "{tag} CAPABILITY"
      send: |
        * CAPABILITY IMAP4rev1 AUTH=PLAIN
        {tag} OK
    - expect: eof
"""))
    out = curl("--ssl-reqd", *resolve(r.port), f"imap://{HOST}:{r.port}/")
    assert out.returncode == 64, out  # CURLE_USE_SSL_FAILED
    assert r.finish() == (0, "")
    assert [e["data"] for e in r.events() if e["dir"] == "c"] == ["A001 CAPABILITY\\r\\n"]


def test_curl_imaps_implicit(serve):
    steps = IMAP_STLS.split('    - expect: "{tag} CAPABILITY"\n', 2)
    text = "    - send: \"* OK ready\"\n" + '    - expect: "{tag} CAPABILITY"\n' + steps[2]
    r = serve(scenario("imap", text, "  tls: implicit\n"))
    out = curl(*resolve(r.port), f"imaps://{HOST}:{r.port}/")
    assert out.returncode == 0, out.stderr
    assert out.stdout == b'* LIST () "/" INBOX\r\n'
    assert r.finish() == (0, "")
    assert all(e["tls"] for e in r.events() if e["dir"] in ("c", "s"))


# ---- every test certificate through s_client -verify_return_error --------------------------

VERIFY = {
    "valid": (0, "ok"),
    "valid-rsa": (0, "ok"),
    "wildcard": (0, "ok"),
    "cn-only": (0, "ok"),  # OpenSSL falls back to the subject CN when there is no DNS SAN
    "expired": (10, "certificate has expired"),
    "not-yet-valid": (9, "certificate is not yet valid"),
    "self-signed": (18, "self-signed certificate"),
    "wrong-host": (62, "hostname mismatch"),
    "untrusted-ca": (20, "unable to get local issuer certificate"),
    "client-auth-only": (26, "unsuitable certificate purpose"),
    "bad-intermediate": (79, "invalid CA certificate"),
    "weak-key": (66, "EE certificate key too weak"),
}


@pytest.mark.parametrize("cert", sorted(VERIFY))
def test_s_client_verify_result_per_certificate(serve, cert):
    code, text = VERIFY[cert]
    r = serve(scenario("imap", "    - expect: eof\n      optional: true\n",
                       f"  tls: implicit\n  certificate: {cert}\n"))
    out = s_client(r.port)
    assert f"Verify return code: {code} ({text})" in out.stdout, out.stdout + out.stderr
    if code:
        assert f"verify error:num={code}:{text}" in out.stdout + out.stderr
        assert out.returncode == 1
        assert len(r.named("tls-failed")) == 1
    else:
        assert out.returncode == 0
        assert len(r.named("tls-handshake")) == 1
    assert r.finish() == (0, "")


# ---- TLS version limits against s_client ---------------------------------------------------

# s_client needs security level 0 to offer TLS 1.1 at all (SHA-1 signatures).
OLD = ["-cipher", "DEFAULT:@SECLEVEL=0"]
LIMITS = {
    # (tls_min, tls_max, client flag): the version agreed, or how the client fails:
    # the server refuses an offer below tls_min with a protocol_version alert;
    # below tls_max it answers with its own highest, which the client refuses.
    ("1.2", None, "-tls1_1"): "alert protocol version",
    ("1.2", None, "-tls1_2"): "TLSv1.2",
    (None, "1.1", "-tls1_2"): "unsupported protocol",
    (None, "1.1", "-tls1_1"): "TLSv1.1",
    ("1.3", None, "-tls1_2"): "alert protocol version",
    ("1.0", "1.0", "-tls1"): "TLSv1",
}


@pytest.mark.parametrize("lo,hi,flag", sorted(LIMITS, key=str))
def test_tls_version_limits_with_s_client(serve, lo, hi, flag):
    want = LIMITS[(lo, hi, flag)]
    server = "  tls: implicit\n  certificate: valid-rsa\n"
    server += f'  tls_min: "{lo}"\n' if lo else ""
    server += f'  tls_max: "{hi}"\n' if hi else ""
    r = serve(scenario("imap", '    - send: "* OK ready"\n      close: true\n', server))
    out = s_client(r.port, flag, "-ign_eof", *OLD)  # reads until the server closes
    if want.startswith("TLS"):
        assert out.returncode == 0, out.stdout + out.stderr
        assert f"Protocol  : {want}\n" in out.stdout
        assert "* OK ready" in out.stdout
        assert r.named("tls-handshake")[0]["data"].startswith(want + " ")
        assert r.finish() == (0, "")
    else:
        assert out.returncode == 1
        assert want in out.stdout + out.stderr
        assert r.named("tls-failed")
        rc, err = r.finish()
        first_step = 5 + server.count("\n")
        assert rc == 1
        assert err.startswith(f"{r.path}:{first_step}:7: not reached: the TLS handshake failed (")
    offered = {"-tls1": "TLSv1", "-tls1_1": "TLSv1.1", "-tls1_2": "TLSv1.2"}[flag]
    assert r.named("client-hello")[0]["versions"] == [offered]


# ---- injection: the OK line and the injected bytes in one read ------------------------------

def test_inject_in_the_same_read_smtp(serve):
    r = serve(scenario("smtp", """\
    - send: "220 fake ESMTP"
    - expect: STARTTLS
      send: "220 go ahead"
      starttls: {inject: "250 injected\\r\\n"}
    - expect: eof
      optional: true
"""))
    with socket.create_connection(("127.0.0.1", r.port), timeout=5) as s:
        assert recv_exact(s, 16) == b"220 fake ESMTP\r\n"
        s.sendall(b"STARTTLS\r\n")
        assert s.recv(100) == b"220 go ahead\r\n250 injected\r\n"
    r.finish()
    sent = [e["data"] for e in r.events() if e["dir"] == "s"]
    assert sent[-1] == "220 go ahead\\r\\n250 injected\\r\\n"
