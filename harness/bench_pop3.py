#!/usr/bin/python3
"""make bench: POP3 RETR throughput, mj against curl and Python's poplib.

Two cases, each over implicit TLS from mjfake (--repeat), every client in the
same run:
  many  RETR of MANY (default 10,000) messages of 3 KB in one session
        (mj: `retr 1-N`; curl: one URL per message in one config, the
        connection reused; poplib: retr() in a loop);
  big   RETR of one message of BIG_MB (default 100) MB.
The messages are generated under build/bench-pop3/ at run time (never
committed); each file starts with the "+OK" status line, since mjfake's
send_file with dotstuff sends the file's bytes stuffed and terminated.  Each client runs under /usr/bin/time -v: wall time, the
client's own CPU time (user+sys) and peak RSS are printed side by side.  Figures, not pass/fail; a client that fails is
reported as such.  Environment: MJ_BIN, MJ_CERTS, BENCH_POP3_MANY,
BENCH_POP3_BIG_MB, BENCH_POP3_CASES (many,big).
"""
import os
import shutil
import subprocess
import sys
import tempfile

import benchtools  # harness/benchtools.py, next to this script

SRC = os.environ.get("MJ_SRCDIR", os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.environ.get("MJ_BIN", os.path.join(SRC, "build", "gcc", "bin"))
CERTS = os.environ.get("MJ_CERTS", os.path.join(SRC, "build", "certs"))
WORK = os.path.join(SRC, "build", "bench-pop3")
MANY = int(os.environ.get("BENCH_POP3_MANY", "10000"))
BIG_MB = int(os.environ.get("BENCH_POP3_BIG_MB", "100"))
CASES = os.environ.get("BENCH_POP3_CASES", "many,big").split(",")
HOST = "mail.mailjig.test"

SCENARIO = """\
name: bench-pop3-{case}
summary: bench
protocol: pop3
server:
  tls: implicit
  steps:
    - send: "+OK bench POP3 ready"
    - expect: CAPA
      optional: true
      send: |
        +OK
        USER
        UIDL
        PIPELINING
        .
    - expect: USER alice
      send: "+OK"
    - expect: PASS secret
      send: "+OK"
    - expect: CAPA
      optional: true
      send: |
        +OK
        USER
        UIDL
        PIPELINING
        .
{retrs}    - expect: QUIT
      optional: true
      send: "+OK bye"
    - expect: eof
      optional: true
client:
  op: pop3.stat
  security: implicit
expect:
  outcome: ok
"""

POPLIB = r"""
import poplib, ssl, sys, hashlib
host, port, ca, first, last = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
ctx = ssl.create_default_context(cafile=ca)
p = poplib.POP3_SSL(host, port, context=ctx, timeout=60)
p.user("alice"); p.pass_("secret")
total = 0
for n in range(first, last + 1):
    _, lines, octets = p.retr(n)
    total += octets
p.quit()
print(total)
"""


def message(size):
    """A message of about size bytes: headers, then 76-column lines, some starting with '.'."""
    head = b"From: bench@mailjig.test\r\nTo: alice@mailjig.test\r\nSubject: bench\r\n\r\n"
    out = [head]
    n = len(head)
    i = 0
    while n < size:
        line = (b"." if i % 17 == 0 else b"") + (b"%08d " % i) + b"x" * 64 + b"\r\n"
        out.append(line)
        n += len(line)
        i += 1
    return b"".join(out)


def write_big(path, mb):
    if os.path.exists(path) and os.path.getsize(path) >= mb * 1000 * 1000:  # one file per size
        return
    block = message(1 << 20)[len(b"From: bench@mailjig.test\r\nTo: alice@mailjig.test\r\nSubject: bench\r\n\r\n"):]
    with open(path, "wb") as f:
        f.write(b"+OK message follows\r\nFrom: bench@mailjig.test\r\nSubject: big\r\n\r\n")
        written = 0
        while written < mb * 1000 * 1000:
            f.write(block)
            written += len(block)


def prepare(case):
    os.makedirs(WORK, exist_ok=True)
    if case == "many":
        with open(os.path.join(WORK, "msg3k.eml"), "wb") as f:
            f.write(b"+OK message follows\r\n" + message(3 * 1024))  # the status line, then the body
        retrs = "".join(f"    - expect: RETR {n}\n      send_file: msg3k.eml\n      dotstuff: true\n"
                        for n in range(1, MANY + 1))
        count = MANY
    else:
        write_big(os.path.join(WORK, f"big{BIG_MB}.eml"), BIG_MB)
        retrs = f"    - expect: RETR 1\n      send_file: big{BIG_MB}.eml\n      dotstuff: true\n"
        count = 1
    path = os.path.join(WORK, f"{case}.yaml")
    with open(path, "w") as f:
        f.write(SCENARIO.format(case=case, retrs=retrs))
    return path, count


def clients(port, count, tmp):
    url = f"pop3s://{HOST}:{port}/"
    resolve = f"{HOST}:{port}:127.0.0.1"
    ca = os.path.join(CERTS, "ca.crt")
    pw = os.path.join(tmp, "pw")
    with open(pw, "w") as f:
        f.write("secret\n")
    rng = f"1-{count}" if count > 1 else "1"
    yield "mj", [os.path.join(BIN, "mj"), "--resolve", resolve, "--cafile", ca, "--user", "alice",
                 "--password-file", pw, "--timeout-ms", "120000", url, "retr", rng, "/dev/null"]
    cfg = os.path.join(tmp, "curl.cfg")
    with open(cfg, "w") as f:
        f.write('user = "alice:secret"\n')
        for n in range(1, count + 1):
            f.write(f'url = "{url}{n}"\noutput = "/dev/null"\n')
    curl = shutil.which("curl")
    if curl:
        yield "curl", [curl, "-sS", "--resolve", resolve, "--cacert", ca, "-K", cfg]
    yield "poplib", [sys.executable, "-c", POPLIB, HOST, str(port), ca, "1", str(count)]


def main():
    if not os.access("/usr/bin/time", os.X_OK):
        print("bench_pop3: /usr/bin/time is missing; skipped")
        return 0
    # poplib cannot be told where mail.mailjig.test is: it connects to 127.0.0.1
    # and verifies the certificate for mail.mailjig.test (server_hostname).
    global POPLIB
    POPLIB = POPLIB.replace("poplib.POP3_SSL(host, port, context=ctx, timeout=60)",
                            "poplib.POP3_SSL('127.0.0.1', port, context=ctx, timeout=60)")
    POPLIB = POPLIB.replace("ctx = ssl.create_default_context(cafile=ca)",
                            "ctx = ssl.create_default_context(cafile=ca)\n"
                            "_wrap = ctx.wrap_socket\n"
                            "ctx.wrap_socket = lambda s, server_hostname=None, **k: _wrap(s, server_hostname=host, **k)")
    print(f"== POP3 RETR over implicit TLS from mjfake (wall s, client user+sys cpu s, peak RSS MiB); many={MANY} x 3 KB, big={BIG_MB} MB")
    for case in CASES:
        scenario, count = prepare(case)
        label = f"{MANY} x 3 KB in one session" if case == "many" else f"1 x {BIG_MB} MB"
        fake, port = benchtools.start_fake(BIN, CERTS, scenario)
        try:
            with tempfile.TemporaryDirectory() as tmp:
                for name, cmd in clients(port, count, tmp):
                    rc, wall, cpu, rss, _, err = benchtools.timed(cmd, tmp)
                    status = "ok" if rc == 0 else f"FAILED (exit {rc}: {err.strip()[-160:]!r})"
                    print(f"  {label:28s} {name:7s} {wall:8.2f} s  {cpu:6.2f} s cpu  "
                          f"{rss / 1024:8.1f} MiB  {status}")
        finally:
            fake.terminate()
            try:
                fake.wait(timeout=10)
            except subprocess.TimeoutExpired:
                fake.kill()
    return 0


if __name__ == "__main__":
    sys.exit(main())
