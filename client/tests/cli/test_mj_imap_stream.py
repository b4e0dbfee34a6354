"""`mj fetch` of many messages and of large bodies, from mjfake (issue #6).

Pins what the IMAP benchmark (harness/bench_imap.py) relies on:
- the result of a FETCH is printed as a stream (client/cli/ops_imap.c spools
  each entry; json_out.c copies them out), so peak RSS does not grow with the
  number of messages: 20,000 FETCH (FLAGS UID ENVELOPE BODYSTRUCTURE)
  responses within 1 MiB of 200 (it was 116 MiB for 100,000 when every entry
  was a jansson object), and the bytes are those jansson prints for the array;
- a 30 MB body streams: peak RSS within 1 MiB of a 1 KB body's;
- --output PATH writes exactly the body bytes (sha256), several messages one
  after the other, '-' to stdout before the result; a path that cannot be
  written is a local-io failure.
Peak RSS is mj's own, from /usr/bin/time -f %M: os.wait4 (test_mj_pop3.py)
would also count this Python process's peak, since subprocess starts mj
with vfork and Linux keeps the pre-exec high-water mark.
"""

import hashlib
import json
import os
import re
import subprocess

import pytest

SRCDIR = os.environ.get(
    "MJ_SRCDIR", os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..")))
BIN = os.environ.get("MJ_BIN", os.path.join(SRCDIR, "build", "gcc", "bin"))
MJ = os.path.join(BIN, "mj")
MJFAKE = os.path.join(BIN, "mjfake")
CERTS = os.environ.get("MJ_CERTS", os.path.join(SRCDIR, "build", "certs"))
SANITIZED = "address" in MJ or "undefined" in MJ or "SANITIZE" in os.environ.get("MJ_BUILD", "")

SCENARIO = """\
name: stream-test
summary: mj fetch streaming
protocol: imap
server:
  steps:
    - send: "* OK [CAPABILITY IMAP4rev1] ready"
    - expect: {{re: "[A-Za-z0-9]+ LOGIN alice \\"?secret\\"?"}}
      send: "{{tag}} OK [CAPABILITY IMAP4rev1] logged in"
    - expect: {{re: "[A-Za-z0-9]+ (SELECT|EXAMINE) INBOX"}}
      send: |
        * {count} EXISTS
        * OK [UIDVALIDITY 7] ok
        {{tag}} OK done
    - expect: {{re: "[A-Za-z0-9]+ FETCH {set} .*"}}
      send_file: data.imap
    - send: "{{tag}} OK FETCH completed"
    - expect: "{{tag}} LOGOUT"
      optional: true
      send: |
        * BYE bye
        {{tag}} OK done
    - expect: eof
      optional: true
client:
  op: imap.capability
expect:
  outcome: ok
"""


def fetch_line(n):
    """One FETCH response with flags, an envelope (escapes, a literal subject
    every 7th message) and a multipart BODYSTRUCTURE."""
    subject = (b"{%d}\r\nR\xc3\xa9union %d" % (len(b"R\xc3\xa9union %d" % n) , n) if n % 7 == 0
               else b'"Re: \\"report\\" C:\\\\dir %d"' % n)
    env = (b'("Mon, 7 Feb 1994 21:52:25 -0800" ' + subject +
           b' (("Ada Lovelace" NIL "ada" "example.org")) (("Ada Lovelace" NIL "ada" "example.org"))'
           b' NIL ((NIL NIL "bob" "example.com")("Carol, C." NIL "carol" "example.net")) NIL NIL NIL'
           b' "<%d@example.org>")' % n)
    body = (b'(("TEXT" "PLAIN" ("CHARSET" "UTF-8") NIL NIL "7BIT" 120 4 NIL NIL NIL NIL)'
            b'("APPLICATION" "PDF" ("NAME" "a.pdf") NIL NIL "BASE64" 5000 NIL'
            b' ("attachment" ("FILENAME" "a.pdf")) NIL NIL) "MIXED" ("BOUNDARY" "b%d") NIL NIL NIL)' % n)
    flags = [b"()", b"(\\Seen)", b"(\\Seen $Forwarded)"][n % 3]
    return b"* %d FETCH (FLAGS %s UID %d ENVELOPE %s BODYSTRUCTURE %s)\r\n" % (n, flags, 100 + n, env, body)


def expected_entry(n):
    flags = [[], ["\\Seen"], ["\\Seen", "$Forwarded"]][n % 3]
    subject = "Réunion %d" % n if n % 7 == 0 else 'Re: "report" C:\\dir %d' % n
    ada = {"name": "Ada Lovelace", "mailbox": "ada", "host": "example.org"}
    envelope = {"date": "Mon, 7 Feb 1994 21:52:25 -0800", "subject": subject, "in_reply_to": None,
                "message_id": "<%d@example.org>" % n, "from": [ada], "sender": [ada],
                "reply_to": [],
                "to": [{"name": None, "mailbox": "bob", "host": "example.com"},
                       {"name": "Carol, C.", "mailbox": "carol", "host": "example.net"}],
                "cc": [], "bcc": []}
    ext = {"md5": None, "disposition": None, "language": None, "location": None}
    text = {"part": "1", "type": "TEXT", "subtype": "PLAIN", "params": {"CHARSET": "UTF-8"},
            "id": None, "description": None, "encoding": "7BIT", "size": 120, "lines": 4, **ext}
    pdf = {"part": "2", "type": "APPLICATION", "subtype": "PDF", "params": {"NAME": "a.pdf"},
           "id": None, "description": None, "encoding": "BASE64", "size": 5000, **ext,
           "disposition": {"type": "attachment", "params": {"FILENAME": "a.pdf"}}}
    body = {"part": "", "type": "MULTIPART", "subtype": "MIXED", "params": {"BOUNDARY": "b%d" % n},
            "parts": [text, pdf], "disposition": None, "language": None, "location": None}
    return {"seq": n, "uid": 100 + n, "flags": flags, "subject": subject, "envelope": envelope,
            "bodystructure": body}


def body_response(seq, body):
    return b"* %d FETCH (UID %d BODY[] {%d}\r\n" % (seq, 100 + seq, len(body)) + body + b")\r\n"


class Fake:
    """mjfake serving one scenario whose FETCH answer is data (bytes or a writer)."""

    def __init__(self, tmp_path, count, fetch_set, write_data):
        os.makedirs(tmp_path, exist_ok=True)
        with open(os.path.join(tmp_path, "data.imap"), "wb") as f:
            write_data(f)
        path = os.path.join(tmp_path, "s.yaml")
        with open(path, "w") as f:
            f.write(SCENARIO.format(count=count, set=re.escape(fetch_set)))
        self.proc = subprocess.Popen([MJFAKE, "--scenario", path, "--port", "0", "--certs", CERTS,
                                      "--idle-timeout-ms", "60000"],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        m = re.match(r"READY (\d+)", line)
        assert m, (line, self.proc.stderr.read())
        self.port = int(m.group(1))

    def close(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc.stdout.close()
        self.proc.stderr.close()


@pytest.fixture
def password_file(tmp_path):
    p = tmp_path / "pw"
    p.write_text("secret\n")
    return str(p)


TIME = "/usr/bin/time"


def run_mj(fake, pw, fetch_set, items, *opts, json_out=True, env=None):
    """mj fetch; (exit code, stdout bytes, peak RSS in KiB of mj itself, or None)."""
    cmd = [MJ] + (["--json"] if json_out else []) + [
        "--security", "none", "--allow-insecure-auth", "--timeout-ms", "30000", "--user", "alice",
        "--password-file", pw, *opts, "imap://127.0.0.1:%d" % fake.port, "fetch", "INBOX", fetch_set,
        items]
    rss_file = os.path.join(os.path.dirname(pw), "rss.txt")
    timed = os.access(TIME, os.X_OK)
    if timed:
        cmd = [TIME, "-f", "%M", "-o", rss_file] + cmd
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, timeout=120, env=env)
    rss = None
    if timed:
        with open(rss_file) as f:
            rss = int(f.read().split()[-1])
    return p.returncode, p.stdout, rss


def need_rss(*values):
    if SANITIZED:
        pytest.skip("sanitizer builds keep freed memory in quarantine")
    if any(v is None for v in values):
        pytest.skip("/usr/bin/time is missing: no peak RSS")


def fetch_many(tmp_path, pw, n, json_out=True):
    def write(f):
        for i in range(1, n + 1):
            f.write(fetch_line(i))
    fake = Fake(str(tmp_path / str(n)), n, "1:%d" % n, write)
    try:
        return run_mj(fake, pw, "1:%d" % n, "(FLAGS UID ENVELOPE BODYSTRUCTURE)", json_out=json_out)
    finally:
        fake.close()


def compact(obj):
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


def test_fetch_result_bytes(tmp_path, password_file):
    # The streamed document is the bytes jansson prints for the same array.
    rc, out, _ = fetch_many(tmp_path, password_file, 50)
    assert rc == 0, out
    head = {"outcome": "ok", "reason": "none", "message": "", "exit_code": 0,
            "result": {"messages": [expected_entry(i) for i in range(1, 51)]}}
    assert out == compact(head) + b"\n"


def test_fetch_text_result(tmp_path, password_file):
    rc, out, _ = fetch_many(tmp_path, password_file, 8, json_out=False)
    assert rc == 0, out
    assert out == b"messages: " + compact([expected_entry(i) for i in range(1, 9)]) + b"\n"


def test_fetch_memory_flat(tmp_path, password_file):
    # 20,000 messages within 1 MiB of 200.
    if SANITIZED:
        pytest.skip("sanitizer builds keep freed memory in quarantine")
    rss = {}
    for n in (200, 20000):
        rc, out, rss[n] = fetch_many(tmp_path, password_file, n)
        assert rc == 0, out[-500:]
        msgs = json.loads(out)["result"]["messages"]
        assert len(msgs) == n
        assert msgs[-1] == expected_entry(n)
    need_rss(*rss.values())
    assert rss[20000] - rss[200] <= 1024, rss


def fetch_bodies(tmp_path, pw, bodies, *opts, write=None):
    """mj fetch of one FETCH response per body (or what write writes, for bodies' count)."""
    def write_all(f):
        for i, b in enumerate(bodies, 1):
            f.write(body_response(i, b))
    fetch_set = "1:%d" % len(bodies) if len(bodies) > 1 else "1"
    fake = Fake(str(tmp_path / ("b%d" % sum(len(b) for b in bodies))), len(bodies), fetch_set,
                write or write_all)
    try:
        return run_mj(fake, pw, fetch_set, "(UID BODY.PEEK[])", *opts)
    finally:
        fake.close()


LINE = b"0123456789abcdefghijklmnopqrstuvwxyz" * 2 + b"\r\n"
HEAD = b"Subject: big\r\n\r\n"


def big_body(size):
    return HEAD + (LINE * ((size - len(HEAD)) // len(LINE) + 1))[:size - len(HEAD)]


def big_writer(size, digest):
    """Writes `* 1 FETCH (UID 101 BODY[] {size}` + a body of size bytes made of LINE,
    a block at a time (never the whole body in memory); digest gets its sha256."""
    block = LINE * 16384  # about 1.2 MB

    def write(f):
        h = hashlib.sha256()
        f.write(b"* 1 FETCH (UID 101 BODY[] {%d}\r\n" % size)
        f.write(HEAD)
        h.update(HEAD)
        left = size - len(HEAD)
        while left > 0:
            chunk = block[:left]
            f.write(chunk)
            h.update(chunk)
            left -= len(chunk)
        f.write(b")\r\n")
        digest.append(h.hexdigest())
    return write


def test_fetch_big_body_streams_to_output(tmp_path, password_file):
    # A 30 MB body: peak RSS within 1 MiB of a 1 KB body's, and under the 16 MiB target
    # of issue #6; --output holds exactly its bytes.
    rss = {}
    for name, size in (("small", 1000), ("big", 30 * 1000 * 1000)):
        out_path = str(tmp_path / (name + ".eml"))
        digest = []
        rc, out, rss[name] = fetch_bodies(tmp_path / name, password_file, [b""], "--output", out_path,
                                          write=big_writer(size, digest))
        assert rc == 0, out
        msg = json.loads(out)["result"]["messages"][0]
        assert msg == {"seq": 1, "uid": 101, "body_size": size}  # --output: no digest
        h = hashlib.sha256()
        with open(out_path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        assert h.hexdigest() == digest[0]
        assert os.path.getsize(out_path) == size
    need_rss(*rss.values())
    assert rss["big"] - rss["small"] <= 1024, rss
    assert rss["big"] < 16 * 1024, rss


def test_fetch_output_several_messages(tmp_path, password_file):
    # Bodies one after the other, in the order sent: inline (small) and streamed (> 64 KiB) literals.
    bodies = [b"Subject: a\r\n\r\none\r\n", big_body(200000), b"Subject: c\r\n\r\nthree)\r\n"]
    out_path = str(tmp_path / "all.mbox")
    rc, out, _ = fetch_bodies(tmp_path, password_file, bodies, "--output", out_path)
    assert rc == 0, out
    with open(out_path, "rb") as f:
        assert f.read() == b"".join(bodies)
    msgs = json.loads(out)["result"]["messages"]
    assert [m["body_size"] for m in msgs] == [len(b) for b in bodies]
    assert not any("body_sha256" in m for m in msgs)


def test_fetch_output_stdout(tmp_path, password_file):
    # '-': the body bytes on stdout, then the JSON result.
    body = b"Subject: s\r\n\r\nto stdout\r\n"
    rc, out, _ = fetch_bodies(tmp_path, password_file, [body], "--output", "-")
    assert rc == 0, out
    assert out.startswith(body)
    doc = json.loads(out[len(body):])
    assert doc["result"]["messages"][0] == {"seq": 1, "uid": 101, "body_size": len(body)}


def test_fetch_output_unwritable(tmp_path, password_file):
    body = b"Subject: x\r\n\r\nx\r\n"
    rc, out, _ = fetch_bodies(tmp_path, password_file, [body], "--output",
                              str(tmp_path / "no-such-dir" / "m.eml"))
    doc = json.loads(out)
    assert doc["outcome"] == "internal" and doc["reason"] == "local-io", doc
    assert "cannot write --output" in doc["message"] and "no-such-dir" in doc["message"]
    assert rc == doc["exit_code"] != 0
    assert "result" not in doc


def test_fetch_spool_in_tmpdir(tmp_path, password_file):
    # The result spool goes where TMPDIR says (tmpfile(3) would ignore it): a
    # TMPDIR that does not exist is a local-io failure naming the spool.
    for tmpdir, ok in ((tmp_path / "no-such-dir", False), (tmp_path, True)):
        fake = Fake(str(tmp_path / ("ok" if ok else "bad")), 3, "1:3",
                    lambda f: [f.write(fetch_line(i)) for i in range(1, 4)])
        try:
            rc, out, _ = run_mj(fake, password_file, "1:3", "(FLAGS UID ENVELOPE BODYSTRUCTURE)",
                                env=dict(os.environ, TMPDIR=str(tmpdir)))
        finally:
            fake.close()
        doc = json.loads(out)
        if ok:
            assert rc == 0 and doc["result"]["messages"] == [expected_entry(i) for i in (1, 2, 3)]
        else:
            assert (doc["outcome"], doc["reason"]) == ("internal", "local-io"), doc
            assert "cannot create a temporary file for the result" in doc["message"], doc
