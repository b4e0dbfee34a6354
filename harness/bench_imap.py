#!/usr/bin/python3
"""make bench: IMAP FETCH throughput, mj against curl and Python's imaplib.

Three cases, each over implicit TLS from mjfake (--repeat), every client in the
same run (issue #6):
  fetch10k   one session: LOGIN, SELECT/EXAMINE INBOX, then
             `FETCH 1:N (FLAGS UID ENVELOPE BODYSTRUCTURE)` answered with
             N = BENCH_IMAP_SMALL (default 10,000) FETCH responses;
  fetch100k  the same with N = BENCH_IMAP_LARGE (default 100,000);
  big        `FETCH 1 BODY[]` of one message of BENCH_IMAP_BIG_MB (default
             100) MB, one literal.
The FETCH responses are realistic and varied (generated, seeded, so every run
sends the same bytes): envelopes with display names, NIL names, several
recipients, quoted strings with \\" and \\\\ escapes, some subjects and names as
literals (UTF-8), In-Reply-To on replies; single-part and multipart
(alternative, mixed with attachments, nested related) BODYSTRUCTUREs with
parameters, dispositions, languages and extension data.  They are written
under build/bench-imap/ at run time (never committed) and sent with mjfake's
send_file, which streams the file in 16 KB chunks.

Every client runs under /usr/bin/time -v, BENCH_IMAP_RUNS times (default 3),
the clients in rotation (mjfake builds its TLS context after READY: the first
connection pays for it); the median wall time, the median of the client's own
CPU time (user+sys) and the largest peak RSS are printed side by side.  Each client's work is
checked: the number of messages it reported (mj: entries of the JSON result;
curl: "* n FETCH" lines of its output; imaplib: FETCH entries) or the size and
sha256 of the body it saw; a client that fails or comes short is reported as
FAILED, so a client that silently stops is never "fast".  Figures, not
pass/fail.

Environment: MJ_BIN, MJ_CERTS, BENCH_IMAP_SMALL, BENCH_IMAP_LARGE,
BENCH_IMAP_BIG_MB, BENCH_IMAP_CASES (fetch10k,fetch100k,big),
BENCH_IMAP_CLIENTS (mj,curl,imaplib), BENCH_IMAP_RUNS (3).

curl 7.88 counts the lines of a custom command's answer (-X) as response
headers and stops at 300 KB ("Too large response headers", exit 56): the
fetch cases fail for it, and are reported so.
"""
import hashlib
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile

import benchtools  # harness/benchtools.py, next to this script

SRC = os.environ.get("MJ_SRCDIR", os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.environ.get("MJ_BIN", os.path.join(SRC, "build", "gcc", "bin"))
CERTS = os.environ.get("MJ_CERTS", os.path.join(SRC, "build", "certs"))
WORK = os.path.join(SRC, "build", "bench-imap")
SMALL = int(os.environ.get("BENCH_IMAP_SMALL", "10000"))
LARGE = int(os.environ.get("BENCH_IMAP_LARGE", "100000"))
BIG_MB = int(os.environ.get("BENCH_IMAP_BIG_MB", "100"))
CASES = os.environ.get("BENCH_IMAP_CASES", "fetch10k,fetch100k,big").split(",")
CLIENTS = os.environ.get("BENCH_IMAP_CLIENTS", "mj,curl,imaplib").split(",")
RUNS = int(os.environ.get("BENCH_IMAP_RUNS", "3"))
HOST = "mail.mailjig.test"
ITEMS = "(FLAGS UID ENVELOPE BODYSTRUCTURE)"

# The session every client has: capabilities in the greeting and in LOGIN's OK
# (so no client needs to ask again), then SELECT or EXAMINE, the FETCH (its
# answer is the file), its tagged OK, LOGOUT.
SCENARIO = """\
name: bench-imap-{case}
summary: bench
protocol: imap
server:
  tls: implicit
  steps:
    - send: "* OK [CAPABILITY IMAP4rev1 LITERAL+] bench IMAP ready"
    - expect: "{{tag}} CAPABILITY"
      optional: true
      send: |
        * CAPABILITY IMAP4rev1 LITERAL+
        {{tag}} OK done
    - expect: {{re: "[A-Za-z0-9]+ LOGIN \\"?alice\\"? \\"?secret\\"?"}}
      send: "{{tag}} OK [CAPABILITY IMAP4rev1 LITERAL+] logged in"
    - expect: "{{tag}} CAPABILITY"
      optional: true
      send: |
        * CAPABILITY IMAP4rev1 LITERAL+
        {{tag}} OK done
    - expect: {{re: "[A-Za-z0-9]+ (SELECT|EXAMINE) \\"?INBOX\\"?"}}
      send: |
        * FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)
        * OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft \\*)] Limited
        * {count} EXISTS
        * 0 RECENT
        * OK [UIDVALIDITY 1700000000] UIDs valid
        * OK [UIDNEXT {uidnext}] Predicted next UID
        {{tag}} OK done
    - expect: {{re: "{fetch_re}"}}
      send_file: {file}
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
  security: implicit
expect:
  outcome: ok
"""

# imaplib cannot be told where mail.mailjig.test is: it connects to 127.0.0.1
# and verifies the certificate for mail.mailjig.test (server_hostname).
IMAPLIB = r"""
import hashlib, imaplib, re, ssl, sys
host, port, ca, case, count = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], int(sys.argv[5])
ctx = ssl.create_default_context(cafile=ca)
_wrap = ctx.wrap_socket
ctx.wrap_socket = lambda s, server_hostname=None, **k: _wrap(s, server_hostname=host, **k)
m = imaplib.IMAP4_SSL('127.0.0.1', port, ssl_context=ctx, timeout=600)
m.login('alice', 'secret')
m.select('INBOX')
if case == 'big':
    typ, data = m.fetch('1', '(BODY.PEEK[])')
    body = data[0][1]
    print(len(body), hashlib.sha256(body).hexdigest())
else:
    typ, data = m.fetch('1:%d' % count, '(FLAGS UID ENVELOPE BODYSTRUCTURE)')
    head = re.compile(rb'^\d+ \(')
    print(sum(1 for d in data if head.match(d[0] if isinstance(d, tuple) else d)))
m.logout()
"""

FIRST = ["Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Ken", "Dennis", "Frances",
         "John", "Radia", "Leslie", "Margaret", "Niklaus", "Tony", "Sophie"]
LAST = ["Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Thompson", "Ritchie",
        "Allen", "McCarthy", "Perlman", "Lamport", "Hamilton", "Wirth", "Hoare", "Wilson"]
DOMAINS = ["example.org", "mail.example.com", "lists.example.net", "corp.example", "mailjig.test"]
WORDS = ["quarterly", "report", "meeting", "notes", "budget", "draft", "review", "release",
         "invoice", "schedule", "update", "agenda", "minutes", "proposal", "feedback", "plan"]
UTF8 = ["Réunion d'équipe", "Überprüfung der Änderungen", "Встреча в пятницу", "会議の議事録",
        "Προσφορά για το έργο"]
FLAGS = ["()", "(\\Seen)", "(\\Seen \\Answered)", "(\\Flagged)", "(\\Seen $Forwarded)",
         "(\\Seen \\Flagged $Label1)", "(\\Draft)"]
DAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def qs(text):
    """An IMAP string: quoted with escapes when it can be, a literal when it has 8-bit bytes."""
    raw = text.encode()
    if any(b >= 0x80 for b in raw):
        return b"{%d}\r\n" % len(raw) + raw
    return b'"' + raw.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'


def address(rng):
    first, last = rng.choice(FIRST), rng.choice(LAST)
    mbox, host = f"{first}.{last}".lower(), rng.choice(DOMAINS).encode()
    kind = rng.random()
    if kind < 0.2:
        name = b"NIL"
    elif kind < 0.3:
        name = qs(f'{last}, {first} "{first[0]}." \\ {rng.choice(WORDS)}')
    elif kind < 0.35:
        name = qs(f"{first} {rng.choice(UTF8).split()[0]}")
    else:
        name = qs(f"{first} {last}")
    return b"(" + name + b" NIL " + qs(mbox) + b" " + qs(host.decode()) + b")"


def addresses(rng, lo, hi):
    n = rng.randint(lo, hi)
    if n == 0:
        return b"NIL"
    return b"(" + b"".join(address(rng) for _ in range(n)) + b")"


def envelope(rng, n):
    date = (f"{rng.choice(DAYS)}, {rng.randint(1, 28)} {rng.choice(MONTHS)} "
            f"{rng.randint(1998, 2024)} {rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:"
            f"{rng.randint(0, 59):02d} {rng.choice(['+0000', '-0800', '+0200', '+0530'])}")
    kind = rng.random()
    if kind < 0.08:
        subject = qs(rng.choice(UTF8) + f" #{n}")
    elif kind < 0.2:
        subject = qs(f'Re: "{rng.choice(WORDS)}" and C:\\{rng.choice(WORDS)} #{n}')
    elif kind < 0.25:
        subject = b"NIL"
    else:
        subject = qs(f"{'Re: ' if kind < 0.5 else ''}{rng.choice(WORDS).title()} "
                     f"{rng.choice(WORDS)} {rng.choice(WORDS)} #{n}")
    sender = addresses(rng, 1, 1)
    reply = b"NIL" if rng.random() < 0.7 else addresses(rng, 1, 1)
    msgid = qs(f"<{n}.{rng.randrange(1 << 40):x}@{rng.choice(DOMAINS)}>")
    in_reply = qs(f"<{n - 1}.{rng.randrange(1 << 40):x}@{rng.choice(DOMAINS)}>") if kind < 0.5 else b"NIL"
    return b" ".join([b"(" + qs(date), subject, sender, sender, reply, addresses(rng, 1, 4),
                      addresses(rng, 0, 2), addresses(rng, 0, 1), in_reply, msgid + b")"])


def text_part(rng, sub, ext=True):
    size = rng.randint(40, 60000)
    charset = rng.choice([b'"UTF-8"', b'"us-ascii"', b'"ISO-8859-1"'])
    enc = rng.choice([b'"7BIT"', b'"QUOTED-PRINTABLE"', b'"8BIT"'])
    part = (b'("TEXT" "' + sub + b'" ("CHARSET" ' + charset + b'%s) NIL NIL ' % (
        b' "FORMAT" "flowed"' if rng.random() < 0.3 else b"") + enc + b" %d %d" % (size, size // 60 + 1))
    if ext:
        part += b" NIL NIL NIL NIL" if rng.random() < 0.5 else b' "3e2c0a1b" NIL ("EN") NIL'
    return part + b")"


def attachment(rng):
    kind = rng.choice([(b"APPLICATION", b"PDF", b"report.pdf"), (b"IMAGE", b"PNG", b"chart.png"),
                       (b"APPLICATION", b"VND.OPENXMLFORMATS-OFFICEDOCUMENT.SPREADSHEETML.SHEET",
                        b"budget 2024.xlsx"), (b"IMAGE", b"JPEG", b'photo "1".jpg')])
    name = b'"' + kind[2].replace(b'"', b'\\"') + b'"'
    size = rng.randint(2000, 900000)
    return (b'("' + kind[0] + b'" "' + kind[1] + b'" ("NAME" ' + name + b') "<part%d@x>" NIL "BASE64" %d'
            % (rng.randrange(10000), size) + b' NIL ("attachment" ("FILENAME" ' + name + b' "SIZE" "%d"))'
            % size + b' NIL NIL)')


def bodystructure(rng):
    kind = rng.random()
    if kind < 0.45:
        return text_part(rng, b"PLAIN")
    alt = (b"(" + text_part(rng, b"PLAIN") + text_part(rng, b"HTML") +
           b' "ALTERNATIVE" ("BOUNDARY" "=_alt_%x") NIL NIL NIL)' % rng.randrange(1 << 32))
    if kind < 0.75:
        return alt
    parts = alt if kind < 0.9 else (b"(" + text_part(rng, b"HTML") + attachment(rng) +
                                    b' "RELATED" ("BOUNDARY" "=_rel" "TYPE" "text/html") NIL NIL NIL)')
    atts = b"".join(attachment(rng) for _ in range(rng.randint(1, 3)))
    return b"(" + parts + atts + b' "MIXED" ("BOUNDARY" "=_mix_%x") NIL ("EN" "FR") NIL)' % rng.randrange(1 << 32)


def write_fetch(path, count):
    """count FETCH responses, the same bytes every run (seeded)."""
    if os.path.exists(path + ".done"):
        return
    rng = random.Random(6)
    with open(path, "wb") as f:
        for n in range(1, count + 1):
            f.write(b"* %d FETCH (FLAGS %s UID %d ENVELOPE %s BODYSTRUCTURE %s)\r\n" % (
                n, rng.choice(FLAGS).encode(), 1000 + 3 * n, envelope(rng, n), bodystructure(rng)))
    open(path + ".done", "w").close()


def big_block():
    """1 MiB of a message body: 76-column lines."""
    lines = []
    n = 0
    i = 0
    while n < (1 << 20):
        line = (b"%08d " % i) + b"abcdefghijklmnopqrstuvwxyz0123456789" * 2 + b"\r\n"
        lines.append(line)
        n += len(line)
        i += 1
    return b"".join(lines)


def write_big(path, mb):
    """`* 1 FETCH (UID 1 BODY[] {size}` CRLF, size bytes, `)` CRLF; returns (size, sha256)."""
    head = b"From: bench@mailjig.test\r\nTo: alice@mailjig.test\r\nSubject: big\r\n\r\n"
    block = big_block()
    size = mb * 1000 * 1000
    h = hashlib.sha256()
    tmp = path + ".tmp"
    meta = path + ".meta"
    if os.path.exists(meta):
        with open(meta) as f:
            s, d = f.read().split()
        if int(s) == size:
            return size, d
    with open(tmp, "wb") as f:
        f.write(b"* 1 FETCH (UID 1 BODY[] {%d}\r\n" % size)
        left = size
        for chunk in [head]:
            f.write(chunk)
            h.update(chunk)
            left -= len(chunk)
        while left > 0:
            chunk = block[:left]
            f.write(chunk)
            h.update(chunk)
            left -= len(chunk)
        f.write(b")\r\n")
    os.replace(tmp, path)
    with open(meta, "w") as f:
        f.write(f"{size} {h.hexdigest()}\n")
    return size, h.hexdigest()


def prepare(case):
    """(scenario path, count, expected) for a case; expected: N or (size, sha256)."""
    os.makedirs(WORK, exist_ok=True)
    if case == "big":
        data = os.path.join(WORK, f"big{BIG_MB}.imap")
        expected = write_big(data, BIG_MB)
        count, fetch_re = 1, "[A-Za-z0-9]+ (UID )?FETCH 1 .*"
    else:
        count = SMALL if case == "fetch10k" else LARGE
        data = os.path.join(WORK, f"fetch{count}.imap")
        write_fetch(data, count)
        expected, fetch_re = count, f"[A-Za-z0-9]+ FETCH 1:{count} .*"
    path = os.path.join(WORK, f"{case}.yaml")
    with open(path, "w") as f:
        f.write(SCENARIO.format(case=case, count=count, uidnext=1000 + 3 * count + 1,
                                fetch_re=fetch_re, file=os.path.basename(data)))
    return path, count, expected


# ---- what each client saw ------------------------------------------------------------

def seen_mj(out, case):
    doc = json.load(open(out))
    msgs = doc.get("result", {}).get("messages", [])
    if case == "big":
        return (msgs[0].get("body_size"), msgs[0].get("body_sha256")) if msgs else None
    return len(msgs)


def seen_curl(out, case):
    if case == "big":
        size = open(out).read().strip()
        return (int(size), None) if size.isdigit() else None
    head = re.compile(rb"^\* \d+ FETCH ")
    with open(out, "rb") as f:
        return sum(1 for line in f if head.match(line))


def seen_imaplib(out, case):
    words = open(out).read().split()
    if case == "big":
        return (int(words[0]), words[1]) if len(words) == 2 else None
    return int(words[0]) if words else None


def clients(port, case, count, tmp):
    """(name, command, reader of what it saw)."""
    url = f"imaps://{HOST}:{port}/INBOX"
    resolve = f"{HOST}:{port}:127.0.0.1"
    ca = os.path.join(CERTS, "ca.crt")
    pw = os.path.join(tmp, "pw")
    with open(pw, "w") as f:
        f.write("secret\n")
    if "mj" in CLIENTS:
        mj = [os.path.join(BIN, "mj"), "--json", "--resolve", resolve, "--cafile", ca, "--user", "alice",
              "--password-file", pw, "--timeout-ms", "120000"]
        if case == "big":  # the body streamed to /dev/null (no digest with --output), its size in the result
            mj += ["--output", "/dev/null", f"imaps://{HOST}:{port}", "fetch", "INBOX", "1", "(BODY.PEEK[])"]
        else:
            mj += [f"imaps://{HOST}:{port}", "fetch", "INBOX", f"1:{count}", ITEMS]
        yield "mj", mj, seen_mj
    curl = shutil.which("curl")
    if curl and "curl" in CLIENTS:
        base = [curl, "-sS", "--resolve", resolve, "--cacert", ca, "-u", "alice:secret"]
        if case == "big":
            yield "curl", base + ["-o", "/dev/null", "-w", "%{size_download}",
                                  f"{url};MAILINDEX=1"], seen_curl
        else:
            yield "curl", base + ["-X", f"FETCH 1:{count} {ITEMS}", url], seen_curl
    if "imaplib" in CLIENTS:
        yield "imaplib", [sys.executable, "-c", IMAPLIB, HOST, str(port), ca, case, str(count)], seen_imaplib


def verdict(rc, err, saw, expected):
    if rc != 0:
        return f"FAILED (exit {rc}: {err.strip()[-160:]!r})"
    if saw is None:
        return "FAILED (no result)"
    if isinstance(expected, tuple):
        size, sha = expected
        if saw[0] != size or (saw[1] is not None and saw[1] != sha):
            return f"FAILED (saw {saw[0]} bytes sha256 {saw[1]}, expected {size} {sha})"
        return "ok (size" + (" and sha256" if saw[1] else "") + " checked)"
    if saw != expected:
        return f"FAILED (saw {saw} of {expected} messages)"
    return f"ok ({saw} messages)"


def main():
    if not os.access("/usr/bin/time", os.X_OK):
        print("bench_imap: /usr/bin/time is missing; skipped")
        return 0
    print(f"== IMAP FETCH over implicit TLS from mjfake (wall s, client user+sys cpu s, peak RSS MiB); "
          f"{ITEMS} of {SMALL} and {LARGE} messages, BODY[] of {BIG_MB} MB")
    for case in CASES:
        scenario, count, expected = prepare(case)
        fake, port = benchtools.start_fake(BIN, CERTS, scenario)
        try:
            with tempfile.TemporaryDirectory() as conf:
                runs = list(clients(port, case, count, conf))
                figures = {name: [] for name, _, _ in runs}
                for _ in range(RUNS):  # in rotation: no client is always the first after READY
                    for name, cmd, seen in runs:
                        with tempfile.TemporaryDirectory() as tmp:
                            rc, wall, cpu, rss, out, err = benchtools.timed(cmd, tmp, keep_stdout=True)
                            try:
                                saw = seen(out, case) if rc == 0 else None
                            except (ValueError, OSError, KeyError, IndexError, AttributeError):
                                saw = None
                            figures[name].append((wall, cpu, rss, verdict(rc, err, saw, expected)))
                for name, rows in figures.items():
                    wall = statistics.median(r[0] for r in rows)
                    cpu = statistics.median(r[1] for r in rows)
                    rss = max(r[2] for r in rows)
                    bad = [r[3] for r in rows if not r[3].startswith("ok")]
                    status = bad[0] if bad else rows[0][3]
                    print(f"  {case:9s} {name:8s} {wall:8.2f} s  {cpu:6.2f} s cpu  "
                          f"{rss / 1024:8.1f} MiB  {status}", flush=True)
        finally:
            fake.terminate()
            try:
                fake.wait(timeout=10)
            except subprocess.TimeoutExpired:
                fake.kill()
    return 0


if __name__ == "__main__":
    sys.exit(main())
