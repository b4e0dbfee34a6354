#!/usr/bin/python3
"""make bench: mjfake's own figures (issue 3), not pass/fail.

1. exec to READY: mjfake started RUNS times on a plaintext scenario, then on
   an implicit-TLS one; the time from fork/exec to the "READY <port>" line,
   median and p95 (target 5 ms).
2. concurrent connections: one mjfake in --repeat mode whose script hangs
   every connection; CONNS sockets from this process (127.0.0.1 only,
   RLIMIT_NOFILE raised), how many it holds and its RSS growth per connection
   (target 10,000 under 32 KiB each).
3. implicit-TLS handshakes per second: `openssl s_time -new` (full
   handshakes, a C client) for SECONDS against mjfake and against
   `openssl s_server` on the same certificate, in the same run (target: mjfake
   at 90% of s_server or more).

Environment: MJ_BIN (build/<variant>/bin), MJ_CERTS; BENCH_RUNS (200),
BENCH_CONNS (10000), BENCH_TLS_SECONDS (5).
"""
import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time

SRC = os.environ.get("MJ_SRCDIR", os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))
BIN = os.environ.get("MJ_BIN", os.path.join(SRC, "build", "gcc", "bin"))
CERTS = os.environ.get("MJ_CERTS", os.path.join(SRC, "build", "certs"))
MJFAKE = os.path.join(BIN, "mjfake")
RUNS = int(os.environ.get("BENCH_RUNS", "200"))
CONNS = int(os.environ.get("BENCH_CONNS", "10000"))
TLS_SECONDS = int(os.environ.get("BENCH_TLS_SECONDS", "5"))
CONNECT_DEADLINE_S = 60  # the whole connection test is bounded

SCENARIO = """\
summary: bench
protocol: imap
server:
  tls: {tls}
  steps:
{steps}
client:
  op: probe
expect:
  outcome: ok
"""
HANG = '    - hang: true\n'
TLS_DONE = '    - expect: eof\n      optional: true\n'


def write(tmp, name, tls, steps):
    path = os.path.join(tmp, name)
    with open(path, "w") as f:
        f.write(SCENARIO.format(tls=tls, steps=steps))
    return path


def start(path, *extra):
    p = subprocess.Popen([MJFAKE, "--scenario", path, "--port", "0", "--certs", CERTS, *extra],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    line = p.stdout.readline()
    if not line.startswith(b"READY "):
        raise SystemExit(f"mjfake did not start: {line!r}")
    return p, int(line.split()[1])


def stop(p):
    p.terminate()
    p.wait()
    p.stdout.close()


def pct(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))]


def bench_ready(tmp):
    # plaintext (the target's case), then implicit TLS: the context is built on
    # a thread beside READY (core/tls_prep.h), so READY should not wait for it
    for tls in ("none", "implicit"):
        path = write(tmp, f"ready-{tls}.yaml", tls, HANG)
        times = []
        for _ in range(RUNS):
            t0 = time.perf_counter()
            p, _ = start(path, "--repeat")
            times.append((time.perf_counter() - t0) * 1000)
            stop(p)
        print(f"exec to READY, tls: {tls} ({RUNS} runs): median {statistics.median(times):.2f} ms, "
              f"p95 {pct(times, 0.95):.2f} ms (target 5 ms)")


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def n_fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def bench_conns(tmp):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, CONNS + 256)  # per process: ours, and mjfake's (it inherits the limit)
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    n = min(CONNS, want - 256)
    path = write(tmp, "hang.yaml", "none", HANG)
    p, port = start(path, "--repeat")
    base_fds, base_rss = n_fds(p.pid), rss_kib(p.pid)
    socks = []
    deadline = time.monotonic() + CONNECT_DEADLINE_S
    try:
        while len(socks) < n and time.monotonic() < deadline:
            s = socket.socket()
            s.settimeout(5)
            s.connect(("127.0.0.1", port))
            socks.append(s)
        while n_fds(p.pid) - base_fds < len(socks) and time.monotonic() < deadline:
            time.sleep(0.05)
        held = n_fds(p.pid) - base_fds
        grown = rss_kib(p.pid) - base_rss
        per = grown * 1024 / held if held else 0
        print(f"concurrent connections (--repeat, hung script): {held} of {n} held, "
              f"RSS {base_rss} KiB -> {base_rss + grown} KiB, {per / 1024:.1f} KiB per "
              f"connection (target 10000 under 32 KiB each)")
    finally:
        for s in socks:
            s.close()
        stop(p)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def s_time(port):
    out = subprocess.run(["openssl", "s_time", "-connect", f"127.0.0.1:{port}", "-new",
                          "-time", str(TLS_SECONDS)], capture_output=True, text=True,
                         timeout=TLS_SECONDS * 4 + 30).stdout
    for line in out.splitlines():  # "N connections in T real seconds, ..."
        w = line.split()
        if len(w) > 4 and w[1] == "connections" and w[2] == "in" and w[4] == "real":
            return int(w[0]) / float(w[3])
    raise SystemExit(f"openssl s_time printed no rate:\n{out}")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def bench_tls(tmp):
    path = write(tmp, "tls.yaml", "implicit", TLS_DONE)
    p, port = start(path, "--repeat")
    try:
        fake = s_time(port)
    finally:
        stop(p)
    sport = free_port()
    srv = subprocess.Popen(["openssl", "s_server", "-accept", f"127.0.0.1:{sport}", "-quiet",
                            "-cert", f"{CERTS}/valid.crt", "-key", f"{CERTS}/valid.key"],
                           stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", sport), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        ref = s_time(sport)
    finally:
        srv.terminate()
        srv.wait()
    print(f"implicit-TLS handshakes/s (openssl s_time -new, {TLS_SECONDS} s, certificate valid): "
          f"mjfake {fake:.0f}/s, openssl s_server {ref:.0f}/s: {100 * fake / ref:.0f}% "
          f"(target 90%)")


def main():
    if not os.access(MJFAKE, os.X_OK):
        raise SystemExit(f"no mjfake at {MJFAKE}: run make first")
    with tempfile.TemporaryDirectory(prefix="mjfake-bench-") as tmp:
        which = sys.argv[1:] or ["ready", "conns", "tls"]
        for name in which:
            {"ready": bench_ready, "conns": bench_conns, "tls": bench_tls}[name](tmp)


if __name__ == "__main__":
    main()
