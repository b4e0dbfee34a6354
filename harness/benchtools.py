"""What the protocol benchmarks (bench_pop3.py, bench_imap.py) share: mjfake
serving a scenario to every connection, and a client run under
/usr/bin/time -v (wall time, the client's own CPU time, peak RSS)."""
import os
import re
import subprocess
import time


def start_fake(bindir, certs, scenario):
    """mjfake --repeat on a free port: (process, port); the caller kills it."""
    p = subprocess.Popen([os.path.join(bindir, "mjfake"), "--scenario", scenario, "--port", "0",
                          "--certs", certs, "--repeat", "--idle-timeout-ms", "120000"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = p.stdout.readline()
    m = re.match(r"READY (\d+)", line)
    if not m:
        p.kill()
        raise SystemExit(f"mjfake did not start: {line!r} {p.stderr.read()[:500]}")
    return p, int(m.group(1))


def timed(cmd, tmp, keep_stdout=False):
    """Run cmd under /usr/bin/time -v: (rc, wall s, cpu s, peak RSS KiB, stdout path or
    None, stderr tail).  keep_stdout: the client's stdout is kept in tmp/stdout."""
    tfile = os.path.join(tmp, "time.txt")
    out = os.path.join(tmp, "stdout") if keep_stdout else os.devnull
    t0 = time.monotonic()
    with open(out, "wb") as fo:
        r = subprocess.run(["/usr/bin/time", "-v", "-o", tfile] + cmd, stdout=fo,
                           stderr=subprocess.PIPE, timeout=1800)
    wall = time.monotonic() - t0
    rss, cpu = 0, 0.0
    try:
        with open(tfile) as f:
            text = f.read()
        m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", text)
        rss = int(m.group(1)) if m else 0
        cpu = sum(float(x) for x in re.findall(r"(?:User|System) time \(seconds\): ([\d.]+)", text))
    except OSError:
        pass
    return (r.returncode, wall, cpu, rss, out if keep_stdout else None,
            r.stderr.decode(errors="replace")[-300:])
