"""End-to-end tests of mjfake's protocol personalities (IMAP literals and
IDLE, POP3 APOP and dot-stuffing, SMTP DATA / BDAT / pipelining, the SASL
step) driven by real clients: Python's smtplib, imaplib and poplib, curl, and
raw sockets where a client must misbehave on purpose.

Static scenarios live in fakeservers/tests/e2e/; the parametrized ones are
written into tmp_path.  Environment as test_mjfake_e2e.py (MJ_BIN, MJ_CERTS,
MJ_SRCDIR).  Only 127.0.0.1.
"""
import hashlib
import imaplib
import os
import poplib
import smtplib
import socket
import subprocess
import textwrap

import pytest

from test_mjfake_e2e import E2E, Fake, fake, recv_exact  # noqa: F401 (fixture)


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return str(path)


def events(f, name):
    return [e for e in f.events() if e.get("event") == name]


def recv_line(s):
    buf = b""
    while not buf.endswith(b"\n"):
        chunk = s.recv(1)
        if not chunk:
            break
        buf += chunk
    return buf


# ---- SMTP: smtplib with each SASL mechanism, DATA un-stuffed -----------------------------

SMTP_SEND = """\
    summary: smtplib authenticates with {mech} and sends one message
    protocol: smtp
    server:
      steps:
        - send: "220 mail.mailjig.test ESMTP"
        - expect: {{re: 'EHLO .*', icase: true}}
          send: |
            250-mail.mailjig.test
            250-AUTH {mech}
            250 SIZE 1000000
        - expect: {{sasl: {mech}, user: alice, password: {password}}}
        - expect: "mail FROM:<alice@example.org>*"
          send: "250 2.1.0 Ok"
        - expect: "rcpt TO:<bob@example.org>*"
          send: "250 2.1.5 Ok"
        - expect: data
          send: "354 End data with <CR><LF>.<CR><LF>"
        - expect: {{data: {{sha256: {sha}, contains: "Subject: hi"}}}}
          send: "250 2.0.0 Ok: queued"
        - expect: {{text: quit, icase: true}}
          send: "221 2.0.0 Bye"
          close: true
    client:
      op: smtp.send
    expect:
      outcome: ok
"""

BODY = "Subject: hi\r\n\r\n.a line that starts with a dot\r\n..two\r\n.\r\nlast\r\n"


@pytest.mark.parametrize("mech", ["PLAIN", "LOGIN", "CRAM-MD5"])
def test_smtplib_auth_and_data(fake, tmp_path, mech):
    sha = hashlib.sha256(BODY.encode()).hexdigest()
    f = fake(write(tmp_path, "s.yaml", SMTP_SEND.format(mech=mech, password="secret", sha=sha)))
    with smtplib.SMTP("127.0.0.1", f.port, timeout=5) as s:
        assert s.login("alice", "secret")[0] == 235
        assert s.sendmail("alice@example.org", ["bob@example.org"], BODY) == {}
    assert f.wait() == 0, f.stderr
    sasl = events(f, "sasl")
    assert [(e["mechanism"], e["user"], e["verdict"]) for e in sasl] == [(mech, "alice", "success")]
    data = events(f, "data")
    assert data[0]["sha256"] == sha and data[0]["size"] == len(BODY) and data[0]["mode"] == "data"
    # smtplib stuffed the dots on the wire; the transcript shows them
    wire = "".join(e["data"] for e in f.events() if e["dir"] == "c")
    assert "\\r\\n..a line that starts" in wire and "\\r\\n...two" in wire


def test_smtplib_wrong_password_fails_the_run(fake, tmp_path):
    sha = hashlib.sha256(BODY.encode()).hexdigest()
    path = write(tmp_path, "s.yaml", SMTP_SEND.format(mech="PLAIN", password="secret", sha=sha))
    f = fake(path)
    with smtplib.SMTP("127.0.0.1", f.port, timeout=5) as s:
        with pytest.raises(smtplib.SMTPAuthenticationError) as err:
            s.login("alice", "wrong")
        assert err.value.smtp_code == 535
        assert err.value.smtp_error == b"5.7.8 Authentication credentials invalid"
    assert f.wait() == 1
    assert f.stderr == f'{path}:11:7: SASL PLAIN: wrong password for user "alice"\n'
    assert events(f, "sasl")[0]["reason"] == "wrong-password"


def test_smtp_scripted_temporary_failure_and_quirky_reply(fake, tmp_path):
    path = write(tmp_path, "s.yaml", """\
        summary: a scripted temporary failure, then a scripted quirky answer replaces the default
        protocol: smtp
        server:
          steps:
            - send: "220 mail.mailjig.test ESMTP"
            - expect: {text: "EHLO *", icase: true}
              send: |
                250-mail.mailjig.test
                250 AUTH PLAIN
            - expect: {sasl: plain, user: alice, password: secret, fail: temporary}
            - expect: {sasl: PLAIN, user: alice, password: secret}
              send: "235 ok then"
            - expect: {text: QUIT, icase: true}
              send: "221 bye"
        client:
          op: smtp.send
        expect:
          outcome: server-busy
        """)
    f = fake(path)
    with smtplib.SMTP("127.0.0.1", f.port, timeout=5) as s:
        with pytest.raises(smtplib.SMTPAuthenticationError) as err:
            s.login("alice", "secret")
        assert err.value.smtp_code == 454
        assert s.docmd("AUTH PLAIN", "AGFsaWNlAHNlY3JldA==") == (235, b"ok then")
    assert f.wait() == 0, f.stderr
    assert [(e["verdict"], e["reason"], e["as_scripted"]) for e in events(f, "sasl")] == [
        ("failure", "temporary", True), ("success", "none", True)]


def test_curl_smtp_upload(fake, tmp_path):
    msg = tmp_path / "m.eml"
    msg.write_bytes(b"Subject: curl\r\n\r\n.dot\r\nbody\r\n")
    path = write(tmp_path, "s.yaml", f"""\
        summary: curl uploads a message; the server sees it un-stuffed
        protocol: smtp
        server:
          steps:
            - send: "220 mail.mailjig.test ESMTP"
            - expect: "EHLO *"
              send: "250 mail.mailjig.test"
            - expect: "MAIL FROM:<a@example.org>*"
              send: "250 Ok"
            - expect: "RCPT TO:<b@example.org>"
              send: "250 Ok"
            - expect: DATA
              send: "354 go"
            - expect: {{data: {{equals_file: {msg}}}}}
              send: "250 queued"
            - expect: QUIT
              send: "221 bye"
              close: true
        client:
          op: smtp.send
        expect:
          outcome: ok
        """)
    f = fake(path)
    out = subprocess.run(["curl", "-sS", "--max-time", "10", f"smtp://127.0.0.1:{f.port}",
                          "--mail-from", "a@example.org", "--mail-rcpt", "b@example.org",
                          "-T", str(msg)], capture_output=True, timeout=15)
    assert out.returncode == 0, out.stderr
    assert f.wait() == 0, f.stderr
    assert events(f, "data")[0]["size"] == len(msg.read_bytes())


def test_pipelined_commands_in_one_segment(fake):
    f = fake("smtp_pipelined_data.yaml")
    with socket.create_connection(("127.0.0.1", f.port), timeout=5) as s:
        recv_line(s)
        s.sendall(b"EHLO me\r\n")
        assert recv_exact(s, 39) == b"250-mail.mailjig.test\r\n250 PIPELINING\r\n"
        s.sendall(b"MAIL FROM:<alice@example.org>\r\nRCPT TO:<bob@example.org>\r\nDATA\r\n")
        assert recv_exact(s, 42) == b"250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 go ahead\r\n"
        s.sendall(b"Subject: x\r\n\r\n..dot\r\nline\r\n.\r\nQUIT\r\n")  # body and QUIT at once
        assert recv_exact(s, 37) == b"250 2.0.0 Ok: queued\r\n221 2.0.0 Bye\r\n"
    assert f.wait() == 0, f.stderr
    c = [e["step"].rsplit(":", 2)[1] for e in f.events() if e["dir"] == "c"]
    assert c[1] == "10"  # the pipelined segment arrived while the MAIL step waited


def test_bdat_chunks(fake):
    f = fake("smtp_bdat.yaml")
    with socket.create_connection(("127.0.0.1", f.port), timeout=5) as s:
        recv_line(s)
        s.sendall(b"EHLO me\r\n")
        recv_exact(s, 37)
        s.sendall(b"MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nBDAT 7\r\nhello\r\n")
        assert recv_exact(s, 28 + 29) == b"250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n250 2.0.0 7 octets received\r\n"
        s.sendall(b"BDAT 8 LAST\r\n.wor")   # split inside the chunk
        s.sendall(b"ld\r\nQUIT\r\n")
        assert recv_exact(s, 48) == b"250 2.0.0 Ok: queued as BDAT\r\n221 2.0.0 Bye\r\n"
    assert f.wait() == 0, f.stderr
    assert [(e["size"], e["last"]) for e in events(f, "bdat")] == [(7, False), (8, True)]
    assert events(f, "data")[0]["mode"] == "bdat"


SMUGGLE = """\
    summary: a client that sends bare LF and a smuggling sequence in DATA
    protocol: smtp
    server:
      steps:
        - send: "220 ready"
        - expect: DATA
          send: "354 go"
        - expect: {data: {contains: "evil"}}
          send: "250 queued"
    client:
      op: smtp.send
    expect:
      outcome: ok
"""


def test_bare_lf_and_smuggling_are_recorded(fake, tmp_path):
    f = fake(write(tmp_path, "s.yaml", SMUGGLE))
    with socket.create_connection(("127.0.0.1", f.port), timeout=5) as s:
        recv_line(s)
        s.sendall(b"DATA\r\n")
        recv_line(s)
        s.sendall(b"a\n.\nMAIL FROM:<evil>\r\nb\rc\r\n.\r\n")
        assert recv_line(s) == b"250 queued\r\n"
    assert f.wait() == 0, f.stderr
    (lf,), (cr,), (sm,) = events(f, "bare-lf"), events(f, "bare-cr"), events(f, "smuggling")
    assert (lf["count"], lf["first_at"]) == (2, 1)
    assert (cr["count"], cr["first_at"]) == (1, 23)
    assert (sm["count"], sm["first_at"], sm["sequence"]) == (1, 3, "\\n.\\n")


def test_data_mismatch_names_the_step_and_the_digest(fake, tmp_path):
    path = write(tmp_path, "s.yaml", SMUGGLE)
    f = fake(path)
    with socket.create_connection(("127.0.0.1", f.port), timeout=5) as s:
        recv_line(s)
        s.sendall(b"DATA\r\n")
        recv_line(s)
        s.sendall(b"good\r\n.\r\n")
        assert recv_line(s) == b"554 5.6.0 message content does not match the scenario\r\n"
    assert f.wait() == 1
    sha = hashlib.sha256(b"good\r\n").hexdigest()
    assert f.stderr == (f"{path}:8:7: expected content containing 'evil', got 6 bytes "
                        f"(sha256 {sha}) without it\n")


# ---- IMAP: imaplib, curl, literals, IDLE -------------------------------------------------------

IMAP_SESSION = """\
    summary: imaplib logs in, authenticates with CRAM-MD5 and appends a message with a literal
    protocol: imap
    server:
      steps:
        - send: "* OK [CAPABILITY IMAP4rev1 AUTH=CRAM-MD5] ready"
        - expect: "{tag} CAPABILITY"
          optional: true
          send: |
            * CAPABILITY IMAP4rev1 AUTH=CRAM-MD5
            {tag} OK done
        - expect: '{tag} LOGIN alice "secret"'
          send: "{tag} OK LOGIN completed"
        - expect: {sasl: CRAM-MD5, user: alice, password: secret}
        # POSIX EREs have no \\r or \\n: "." matches the CR and LF around the literal
        - expect: {re: '[A-Z0-9]+ APPEND INBOX \\(\\\\Seen\\) \\{15\\}..Subject: a....z'}
          send: "{tag} OK [APPENDUID 1 42] APPEND completed"
        - expect: "{tag} LOGOUT"
          send: |
            * BYE
            {tag} OK
          close: true
    client:
      op: imap.append
    expect:
      outcome: ok
"""


def test_imaplib_login_cram_md5_append(fake, tmp_path):
    f = fake(write(tmp_path, "i.yaml", IMAP_SESSION))
    m = imaplib.IMAP4("127.0.0.1", f.port, timeout=5)
    assert m.login("alice", "secret")[0] == "OK"
    m.state = "NONAUTH"  # authenticate again, this time with SASL
    assert m.login_cram_md5("alice", "secret")[0] == "OK"
    typ, data = m.append("INBOX", "(\\Seen)", None, b"Subject: a\r\n\r\nz")
    assert (typ, data) == ("OK", [b"[APPENDUID 1 42] APPEND completed"])
    m.logout()
    assert f.wait() == 0, f.stderr
    assert [(e["mechanism"], e["verdict"]) for e in events(f, "sasl")] == [("CRAM-MD5", "success")]
    assert [e["size"] for e in events(f, "literal")] == [15]
    sent = [e["data"] for e in f.events() if e["dir"] == "s"]
    assert "+ Ready\\r\\n" in sent


def test_curl_imap_append_literal(fake):
    f = fake("imap_curl_append.yaml")
    out = subprocess.run(["curl", "-sS", "--max-time", "10", "-T", os.path.join(E2E, "message.eml"),
                          f"imap://127.0.0.1:{f.port}/INBOX", "-u", "alice:secret"],
                         capture_output=True, timeout=15)
    assert out.returncode == 0, out.stderr
    assert f.wait() == 0, f.stderr


def test_literal_plus_gets_no_continuation_and_is_one_command(fake, tmp_path):
    f = fake(write(tmp_path, "i.yaml", """\
        summary: LITERAL+ and two synchronizing literals in one command
        protocol: imap
        server:
          literal_continuation: "+ go on"
          steps:
            - send: "* OK ready"
            - expect: "{tag} LOGIN {5+}\\r\\nalice {6}\\r\\nsecret"
              send: "{tag} OK"
            - expect: "{tag} LOGIN {5}\\r\\nalice {3}\\r\\nabc"
              send: "{tag} NO"
        client:
          op: imap.login
        expect:
          outcome: ok
        """))
    with socket.create_connection(("127.0.0.1", f.port), timeout=5) as s:
        recv_line(s)
        s.sendall(b"a1 LOGIN {5+}\r\nalice {6}\r\n")
        assert recv_line(s) == b"+ go on\r\n"      # only the {6}
        s.sendall(b"secret\r\n")
        assert recv_line(s) == b"a1 OK\r\n"
        s.sendall(b"a2 LOGIN {5}\r\n")
        assert recv_line(s) == b"+ go on\r\n"
        s.sendall(b"al")
        s.sendall(b"ice {3}\r\n")
        assert recv_line(s) == b"+ go on\r\n"
        s.sendall(b"abc\r\n")
        assert recv_line(s) == b"a2 NO\r\n"
    assert f.wait() == 0, f.stderr
    assert [e["size"] for e in events(f, "literal")] == [6, 5, 3]


def test_literal_over_literal_max_fails_without_continuation(fake, tmp_path):
    path = write(tmp_path, "i.yaml", """\
        summary: a literal above literal_max
        protocol: imap
        server:
          literal_max: 10
          steps:
            - send: "* OK ready"
            - expect: "{tag} APPEND INBOX *"
              send: "{tag} OK"
        client:
          op: imap.append
        expect:
          outcome: ok
        """)
    f = fake(path)
    with socket.create_connection(("127.0.0.1", f.port), timeout=5) as s:
        recv_line(s)
        s.sendall(b"a1 APPEND INBOX {11}\r\n")
        assert recv_line(s) == b"a1 BAD unexpected command\r\n"
    assert f.wait() == 1
    assert f.stderr == (f"{path}:7:7: expected '{{tag}} APPEND INBOX *', got a literal of 11 "
                        "bytes, more than literal_max (10)\n")


def test_idle_and_done(fake):
    f = fake("imap_idle.yaml")
    with socket.create_connection(("127.0.0.1", f.port), timeout=5) as s:
        recv_line(s)
        s.sendall(b"i7 IDLE\r\n")
        assert recv_line(s) == b"+ idling\r\n"
        assert recv_line(s) == b"* 4 EXISTS\r\n"
        s.sendall(b"DONE\r\n")
        assert recv_line(s) == b"i7 OK IDLE terminated\r\n"
        s.sendall(b"i8 LOGOUT\r\n")
        assert recv_exact(s, 14) == b"* BYE\r\ni8 OK\r\n"
    assert f.wait() == 0, f.stderr


def test_imap_sasl_ir_and_cancel(fake, tmp_path):
    path = write(tmp_path, "i.yaml", """\
        summary: SASL-IR succeeds; a malformed challenge is cancelled by the client as scripted
        protocol: imap
        server:
          steps:
            - send: "* OK ready"
            - expect: {sasl: PLAIN, user: alice, password: secret}
            - expect: {sasl: CRAM-MD5, user: alice, password: secret, fail: challenge-not-base64}
        client:
          op: imap.login
        expect:
          outcome: auth-failed
        """)
    f = fake(path)
    with socket.create_connection(("127.0.0.1", f.port), timeout=5) as s:
        recv_line(s)
        s.sendall(b"a1 AUTHENTICATE PLAIN AGFsaWNlAHNlY3JldA==\r\n")
        assert recv_line(s) == b"a1 OK AUTHENTICATE completed\r\n"
        s.sendall(b"a2 authenticate cram-md5\r\n")
        assert recv_line(s) == b"+ !!!\r\n"
        s.sendall(b"*\r\n")
        assert recv_line(s) == b"a2 BAD AUTHENTICATE cancelled\r\n"
    assert f.wait() == 0, f.stderr
    assert [(e["verdict"], e["reason"], e["as_scripted"]) for e in events(f, "sasl")] == [
        ("success", "none", True), ("failure", "cancelled", True)]


# ---- POP3: poplib (APOP, RETR), curl ---------------------------------------------------------------


def test_poplib_apop_and_dotstuffed_retr(fake):
    f = fake("pop3_apop_retr.yaml")
    p = poplib.POP3("127.0.0.1", f.port, timeout=5)
    assert p.apop("mrose", "tanstaaf").startswith(b"+OK mrose")
    resp, lines, _ = p.retr(1)
    assert resp == b"+OK 3 lines"
    assert lines == [b".hidden line", b"..two dots", b"normal"]
    p.quit()
    assert f.wait() == 0, f.stderr
    wire = "".join(e["data"] for e in f.events() if e["dir"] == "s")
    assert "\\r\\n..hidden line\\r\\n...two dots\\r\\nnormal\\r\\n.\\r\\n" in wire
    # RFC 1939's own example digest
    c = [e["data"] for e in f.events() if e["dir"] == "c"]
    assert c[0] == "APOP mrose c4c9334bac560ecc979e58001b3e22fb\\r\\n"
    assert events(f, "apop")[0]["verdict"] == "success"


def test_poplib_apop_wrong_secret_fails_the_run(fake):
    f = fake("pop3_apop_retr.yaml")
    p = poplib.POP3("127.0.0.1", f.port, timeout=5)
    with pytest.raises(poplib.error_proto) as err:
        p.apop("mrose", "wrong")
    assert err.value.args[0] == b"-ERR [AUTH] Authentication failed"
    p.close()
    assert f.wait() == 1
    path = os.path.join(E2E, "pop3_apop_retr.yaml")
    assert f.stderr.startswith(f"{path}:6:7: APOP digest c4c9334bac560ecc979e58001b3e22fb "
                               "(MD5 of <1896.697170952@dbc.mtview.ca.us> and the password), got ")


def test_poplib_user_pass_and_sasl(fake, tmp_path):
    f = fake(write(tmp_path, "p.yaml", """\
        summary: USER/PASS, then AUTH PLAIN with an initial response (RFC 5034)
        protocol: pop3
        server:
          steps:
            - send: "+OK ready"
            - expect: "USER alice"
              send: "+OK"
            - expect: "PASS secret"
              send: "+OK"
            - expect: {sasl: PLAIN, user: alice, password: secret}
            - expect: QUIT
              send: "+OK bye"
        client:
          op: pop3.stat
        expect:
          outcome: ok
        """))
    p = poplib.POP3("127.0.0.1", f.port, timeout=5)
    p.user("alice")
    p.pass_("secret")
    assert p._shortcmd("AUTH PLAIN AGFsaWNlAHNlY3JldA==") == b"+OK Authentication successful"
    p.quit()
    assert f.wait() == 0, f.stderr


def test_curl_pop3_retr_of_a_stuffed_file(fake):
    f = fake("pop3_curl_retr.yaml")
    out = subprocess.run(["curl", "-sS", "--max-time", "10", f"pop3://127.0.0.1:{f.port}/1",
                          "-u", "alice:secret"], capture_output=True, timeout=15)
    assert out.returncode == 0, out.stderr
    with open(os.path.join(E2E, "dotted.eml"), "rb") as fh:
        assert out.stdout == fh.read()
    assert f.wait() == 0, f.stderr
