#!/usr/bin/python3
"""make bench: SMTP throughput and memory (issue 8).  Figures, not pass/fail.

  bench_smtp.py BENCH_SMTP_BINARY

1. N messages (default 1,000) of 10 KB in ONE session to mjfake, which
   advertises PIPELINING and scripts N transactions in one connection:
   - the library in one session (client/bench/bench_smtp.c: mj_smtp_send N
     times; MAIL, RCPT and DATA pipelined in one group per message);
   - the `mj` command, which has no "N messages in one session" mode: one
     session per message, measured over BENCH_MJ_SESSIONS (default 100)
     sessions, each against mjfake --repeat (a fresh connection per run);
   - curl, N transfers in one invocation with `--next` (one connection,
     reused; curl does not pipeline SMTP);
   - Python's smtplib, one SMTP object, sendmail() N times (no pipelining).
   The same scenario serves all of them: each command is its own step, so a
   pipelined group and one-at-a-time commands both match.
2. One 100 MB message (BENCH_BIG_MB) over implicit TLS with `mj send`, peak
   RSS by /usr/bin/time -v; the same with curl and smtplib for comparison.
3. Postfix's smtp-sink as the server: its smtp-source (the C reference load
   generator, -d: one connection) and the library side by side, when the
   Debian package postfix is installed (never installed here: a message
   says how when it is missing).

mjfake checks every message (its SHA-256), so a figure is only printed for a
run in which every message arrived intact.  MB = 10^6 bytes.
"""
import hashlib
import os
import re
import shutil
import signal
import smtplib
import socket
import subprocess
import sys
import tempfile
import time

SRC = os.environ.get("MJ_SRCDIR", os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))
BIN = os.environ.get("MJ_BIN", os.path.join(SRC, "build", "gcc", "bin"))
CERTS = os.environ.get("MJ_CERTS", os.path.join(SRC, "build", "certs"))
N = int(os.environ.get("BENCH_SMTP_MESSAGES", "1000"))
MJ_SESSIONS = int(os.environ.get("BENCH_MJ_SESSIONS", "100"))
BIG_MB = int(os.environ.get("BENCH_BIG_MB", "100"))
HOST = "mail.mailjig.test"
FROM, TO = "alice@mailjig.test", "bob@mailjig.test"


def message(size):
    """A 7-bit message of exactly size bytes, CRLF lines, no line starting with '.'."""
    head = f"From: <{FROM}>\r\nTo: <{TO}>\r\nSubject: mailjig bench\r\n\r\n".encode()
    line = b"mailjig bench body line 0123456789 abcdefghijklmnopqrstuvwxyz ABCDEFGHIJ\r\n"
    body = bytearray(head)
    while len(body) + len(line) <= size:
        body += line
    body += b"x" * (size - len(body) - 2) + b"\r\n" if size - len(body) >= 2 else b""
    return bytes(body[:size])


def scenario(path, n, sha, tls="none", data_max=None):
    txn = f"""\
    - expect: {{text: "MAIL FROM:<{FROM}>*", icase: true}}
      send: "250 2.1.0 ok"
    - expect: {{text: "RCPT TO:<{TO}>*", icase: true}}
      send: "250 2.1.5 ok"
    - expect: {{text: "DATA", icase: true}}
      send: "354 go ahead"
    - expect: {{data: {{sha256: {sha}}}}}
      send: "250 2.0.0 queued"
"""
    with open(path, "w") as f:
        f.write(f"""name: bench-smtp
summary: bench, {n} messages in one session
protocol: smtp
source: client/bench/bench_smtp.py
server:
  tls: {tls}
{f"  data_max: {data_max}" if data_max else ""}
  steps:
    - send: "220 {HOST} ESMTP mailjig bench"
    - expect: {{text: "EHLO *", icase: true}}
      send: |
        250-{HOST}
        250-PIPELINING
        250-8BITMIME
        250 SIZE 1073741824
{txn * n}    - expect: {{text: "QUIT", icase: true}}
      optional: true
      send: "221 2.0.0 bye"
    - expect: eof
      optional: true
client:
  op: smtp.send
  security: {"implicit" if tls == "implicit" else "none"}
expect:
  outcome: ok
""")


class Fake:
    def __init__(self, path, repeat=False):
        cmd = [os.path.join(BIN, "mjfake"), "--scenario", path, "--port", "0", "--certs", CERTS,
               "--idle-timeout-ms", "60000"]
        if repeat:
            cmd.append("--repeat")
        self.p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  start_new_session=True)
        line = self.p.stdout.readline().decode()
        m = re.fullmatch(r"READY (\d+)\n", line)
        if not m:
            raise RuntimeError(f"mjfake: {line!r} {self.p.stderr.read().decode()[-500:]}")
        self.port = int(m.group(1))

    def finish(self, timeout=30):
        """mjfake's verdict: 0 when every scripted step matched."""
        try:
            rc = self.p.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.p.pid, signal.SIGTERM)
            rc = self.p.wait()
        err = self.p.stderr.read().decode(errors="replace").strip()
        return rc, err

    def stop(self):
        if self.p.poll() is None:
            os.killpg(self.p.pid, signal.SIGTERM)
            self.p.wait()
        return self.p.stderr.read().decode(errors="replace").strip()


def line(label, n, size, dt, rss=None, note=""):
    rate = f"{n / dt:8.0f} msg/s  {n * size / dt / 1e6:7.1f} MB/s" if dt > 0 else ""
    print(f"  {label:<44} {n:>5} x {size:>9} B  {dt:8.3f} s  {rate}"
          + (f"  peak RSS {rss / 1024:7.1f} MiB" if rss else "") + (f"  {note}" if note else ""),
          flush=True)


def resolve_args(port):
    return ["--resolve", f"{HOST}:{port}:127.0.0.1", "--cafile", os.path.join(CERTS, "ca.crt")]


def time_v(cmd):
    """Run cmd under /usr/bin/time -v: (rc, seconds, peak RSS KiB, stderr)."""
    t0 = time.monotonic()
    p = subprocess.run(["/usr/bin/time", "-v"] + cmd, capture_output=True)
    dt = time.monotonic() - t0
    err = p.stderr.decode(errors="replace")
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", err)
    return p.returncode, dt, int(m.group(1)) if m else None, err


def one_session(lib, tmp, msgfile, size, sha):
    print(f"== SMTP: {N} messages of {size} bytes in one session to mjfake (PIPELINING offered)")
    sc = os.path.join(tmp, "session.yaml")
    scenario(sc, N, sha)

    # the library, one session, pipelined
    fake = Fake(sc)
    p = subprocess.run([lib, HOST, str(fake.port), str(N), msgfile, "none"], capture_output=True,
                       text=True)
    rc, err = fake.finish()
    if p.returncode == 0 and rc == 0:
        print("  " + p.stdout.strip())
    else:
        print(f"  mj library: FAILED (rc {p.returncode}, mjfake {rc}): {p.stderr.strip()} {err}")

    # curl: N transfers, one connection (--next), not pipelined
    curl = shutil.which("curl")
    if curl:
        fake = Fake(sc)
        cfg = os.path.join(tmp, "curl.cfg")
        with open(cfg, "w") as f:
            for i in range(N):
                if i:
                    f.write("next\n")
                f.write(f'url = "smtp://{HOST}:{fake.port}/"\nmail-from = "{FROM}"\n'
                        f'mail-rcpt = "{TO}"\nupload-file = "{msgfile}"\n'
                        f'resolve = "{HOST}:{fake.port}:127.0.0.1"\nsilent\n')
        t0 = time.monotonic()
        p = subprocess.run([curl, "-K", cfg], capture_output=True)
        dt = time.monotonic() - t0
        rc, err = fake.finish()
        if p.returncode == 0 and rc == 0:
            line("curl (--next, one connection)", N, size, dt)
        else:
            print(f"  curl: FAILED (rc {p.returncode}, mjfake {rc}): "
                  f"{p.stderr.decode(errors='replace')[-300:]} {err[-300:]}")

    # Python's smtplib: one session, sendmail N times
    fake = Fake(sc)
    data = open(msgfile, "rb").read()
    t0 = time.monotonic()
    try:
        s = smtplib.SMTP("127.0.0.1", fake.port, local_hostname="bench.mailjig.test", timeout=60)
        for _ in range(N):
            s.sendmail(FROM, [TO], data)
        s.quit()
        ok = True
    except (OSError, smtplib.SMTPException) as e:
        ok = False
        why = repr(e)
    dt = time.monotonic() - t0
    rc, err = fake.finish()
    if ok and rc == 0:
        line("python smtplib (one session)", N, size, dt)
    else:
        print(f"  python smtplib: FAILED (mjfake {rc}): {why if not ok else ''} {err[-300:]}")

    # the mj command: one message per session (it has no multi-message mode)
    sc1 = os.path.join(tmp, "one.yaml")
    scenario(sc1, 1, sha)
    fake = Fake(sc1, repeat=True)
    mj = os.path.join(BIN, "mj")
    t0 = time.monotonic()
    bad = 0
    for _ in range(MJ_SESSIONS):
        p = subprocess.run([mj, "--security", "none", *resolve_args(fake.port), "--from", FROM,
                            "--to", TO, "--message", msgfile, f"smtp://{HOST}:{fake.port}/",
                            "send"], capture_output=True)
        bad += p.returncode != 0
    dt = time.monotonic() - t0
    err = fake.stop()
    if bad == 0:
        line("mj command (one session per message)", MJ_SESSIONS, size, dt,
             note="(mj has no N-messages-per-session mode)")
    else:
        print(f"  mj command: {bad} of {MJ_SESSIONS} sessions FAILED {err[-300:]}")


def big_message(tmp):
    size = BIG_MB * 1000 * 1000
    print(f"== SMTP: one {BIG_MB} MB message over implicit TLS to mjfake (peak RSS by /usr/bin/time -v)")
    path = os.path.join(tmp, "big.eml")
    h = hashlib.sha256()
    head = f"From: <{FROM}>\r\nTo: <{TO}>\r\nSubject: mailjig bench (big)\r\n\r\n".encode()
    bl = b"mailjig bench body line 0123456789 abcdefghijklmnopqrstuvwxyz ABCDEFGHIJ\r\n"
    full = (size - len(head) - 2) // len(bl)          # whole lines, then one padded last line
    tail = b"x" * (size - len(head) - full * len(bl) - 2) + b"\r\n"
    block = bl * 10000
    with open(path, "wb") as f:
        for part in [head] + [block] * (full // 10000) + [bl * (full % 10000), tail]:
            f.write(part)
            h.update(part)
    assert os.path.getsize(path) == size
    sha = h.hexdigest()
    sc = os.path.join(tmp, "big.yaml")
    scenario(sc, 1, sha, tls="implicit", data_max=size + 1)
    fake = Fake(sc)
    rc_c, dt, rss, err = time_v([os.path.join(BIN, "mj"), "--security", "implicit",
                                 *resolve_args(fake.port), "--from", FROM, "--to", TO,
                                 "--message", path, f"smtps://{HOST}:{fake.port}/", "send"])
    rc, ferr = fake.finish(120)
    if rc_c == 0 and rc == 0:
        line("mj send (implicit TLS)", 1, size, dt, rss)
    else:
        print(f"  mj send: FAILED (rc {rc_c}, mjfake {rc}): {ferr[-300:]}")
    curl = shutil.which("curl")
    if curl:
        fake = Fake(sc)
        rc_c, dt, rss, err = time_v([curl, "-s", "--cacert", os.path.join(CERTS, "ca.crt"),
                                     "--resolve", f"{HOST}:{fake.port}:127.0.0.1",
                                     f"smtps://{HOST}:{fake.port}/", "--mail-from", FROM,
                                     "--mail-rcpt", TO, "-T", path])
        rc, ferr = fake.finish(120)
        if rc_c == 0 and rc == 0:
            line("curl (smtps)", 1, size, dt, rss)
        else:
            print(f"  curl: FAILED (rc {rc_c}, mjfake {rc}): {ferr[-300:]}")
    fake = Fake(sc)
    code = ("import smtplib,ssl,socket,sys\n"
            f"c=ssl.create_default_context(cafile={os.path.join(CERTS, 'ca.crt')!r})\n"
            "class S(smtplib.SMTP_SSL):\n"
            "    def _get_socket(self,h,p,t):\n"
            f"        r=socket.create_connection(('127.0.0.1',p),t)\n"
            f"        return self.context.wrap_socket(r,server_hostname={HOST!r})\n"
            f"s=S({HOST!r},{fake.port},local_hostname='bench.mailjig.test',context=c,timeout=120)\n"
            f"s.sendmail({FROM!r},[{TO!r}],open({path!r},'rb').read())\ns.quit()\n")
    rc_c, dt, rss, err = time_v([sys.executable, "-c", code])
    rc, ferr = fake.finish(120)
    if rc_c == 0 and rc == 0:
        line("python smtplib (SMTP_SSL, whole message in memory)", 1, size, dt, rss)
    else:
        print(f"  python smtplib: FAILED (rc {rc_c}, mjfake {rc}): {err[-300:]} {ferr[-300:]}")
    os.unlink(path)


def postfix(lib, msgfile, size):
    print(f"== Postfix smtp-sink as the server, {N} messages of {size} bytes in one session")
    src = shutil.which("smtp-source") or "/usr/sbin/smtp-source"
    sink = shutil.which("smtp-sink") or "/usr/sbin/smtp-sink"
    if not (os.access(src, os.X_OK) and os.access(sink, os.X_OK)):
        print("  skipped: smtp-source/smtp-sink not installed (Debian package postfix; "
              "`DEBIAN_FRONTEND=noninteractive apt-get install -y postfix` to compare)")
        return
    with socket.socket() as probe:        # a free port for the sink
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    cmd = [sink] + (["-u", "nobody"] if os.geteuid() == 0 else []) + [f"127.0.0.1:{port}", "100"]
    sk = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                          start_new_session=True)
    try:
        for _ in range(50):
            try:
                socket.create_connection(("127.0.0.1", port), 0.1).close()
                break
            except OSError:
                time.sleep(0.05)
        # smtp-source: -d keeps one connection for every message (-s 1: one session)
        t0 = time.monotonic()
        p = subprocess.run([src, "-d", "-s", "1", "-m", str(N), "-l", str(size),
                            "-f", FROM, "-t", TO, f"127.0.0.1:{port}"], capture_output=True)
        dt = time.monotonic() - t0
        if p.returncode == 0:
            line("postfix smtp-source -d -s 1 -> smtp-sink", N, size, dt)
        else:
            print(f"  smtp-source: FAILED: {p.stderr.decode(errors='replace')[-300:]}")
        p = subprocess.run([lib, "127.0.0.1", str(port), str(N), msgfile, "none"],
                           capture_output=True, text=True)
        print("  " + (p.stdout.strip() + "  (to smtp-sink)" if p.returncode == 0 else
                      f"mj library -> smtp-sink: FAILED: {p.stderr.strip()}"))
    finally:
        os.killpg(sk.pid, signal.SIGTERM)
        sk.wait()


def main():
    lib = sys.argv[1] if len(sys.argv) > 1 else os.path.join(SRC, "build", "gcc", "bench",
                                                              "bench_smtp")
    size = 10 * 1000
    with tempfile.TemporaryDirectory(prefix="mjbench-smtp-") as tmp:
        msgfile = os.path.join(tmp, "10k.eml")
        data = message(size)
        with open(msgfile, "wb") as f:
            f.write(data)
        one_session(lib, tmp, msgfile, size, hashlib.sha256(data).hexdigest())
        postfix(lib, msgfile, size)
        big_message(tmp)


if __name__ == "__main__":
    main()
