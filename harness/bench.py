#!/usr/bin/python3
"""make bench: the harness's per-scenario cost.

Runs a plaintext and an implicit-TLS probe scenario (COPIES copies of each)
through `pytest harness` with each adapter (mj twice: through `mj --batch`,
the default, and started afresh per scenario, --mj-exec), serially and with
-n 2, and
prints the median and p95 wall time per scenario (mjfake start, client,
judging) and the scenarios per second of the whole run (pytest start
included).  Then the whole scenario directory (scenarios/) with the adapters
in BENCH_SUITE_ADAPTERS (default mj; "" skips it), serially and with -n 2:
scenarios per second, and the median wall time of a scenario that ran (a
scenario's own waits, such as a server that stalls until the client's
timeout, are part of it).  Figures, not pass/fail.
"""
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

SRC = os.environ.get("MJ_SRCDIR", os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, SRC)
from harness import adapters  # noqa: E402

COPIES = int(os.environ.get("BENCH_COPIES", "100"))

SCRIPT = """\
name: {name}
summary: bench
protocol: imap
tags: [bench]
server:
  tls: {tls}
  steps:
    - send: "* OK [CAPABILITY IMAP4rev1] bench"
    - expect: "{{tag}} CAPABILITY"
      optional: true
      send: |
        * CAPABILITY IMAP4rev1
        {{tag}} OK done
    - expect: "{{tag}} NOOP"
      optional: true
      send: "{{tag}} OK done"
    - expect: "{{tag}} LOGOUT"
      optional: true
      send: |
        * BYE bye
        {{tag}} OK done
    - expect: eof
      optional: true
client:
  op: probe
  security: {sec}
expect:
  outcome: ok
"""


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100.0 * (len(xs) - 1))))]


def pytest_cmd(scenarios, adapter, rep, workers, extra=()):
    """`pytest harness` on one scenario directory with one adapter (gated), report in rep."""
    cmd = [sys.executable, "-m", "pytest", os.path.join(SRC, "harness"), "-q",
           "-p", "no:cacheprovider", "--scenarios", scenarios, "--adapters", adapter,
           "--gate", adapter, "--report-dir", rep, *extra]
    return cmd + (["-n", str(workers)] if workers > 1 else [])


def run(adapter, kind, workers, tmp, extra=()):
    d = os.path.join(tmp, f"{kind}")
    if not os.path.isdir(d):
        os.makedirs(d)
        for i in range(COPIES):
            tls, sec = ("implicit", "implicit") if kind == "tls" else ("none", "none")
            with open(os.path.join(d, f"b{i:03d}.yaml"), "w") as f:
                f.write(SCRIPT.format(name=f"bench-{kind}-{i:03d}", tls=tls, sec=sec))
    rep = os.path.join(tmp, f"rep-{adapter}-{kind}-{workers}-{len(extra)}")
    t0 = time.monotonic()
    p = subprocess.run(pytest_cmd(d, adapter, rep, workers, extra), capture_output=True,
                       text=True, cwd=SRC)
    total = time.monotonic() - t0
    rows = json.load(open(os.path.join(rep, "conformance.json")))["results"]
    ok = sum(r["status"] == "pass" for r in rows)
    walls = [r["wall_ms"] for r in rows if r["status"] == "pass"]
    label = adapter + ("-exec" if extra else "")
    if p.returncode != 0 or not walls:
        return f"{label:<8} {kind:<6} -n {workers}  FAILED ({ok}/{len(rows)} passed)"
    return (f"{label:<8} {kind:<6} -n {workers}  median {statistics.median(walls):6.1f} ms  "
            f"p95 {pct(walls, 95):6.1f} ms  suite {total:5.2f} s = "
            f"{len(rows) / total:6.1f} scenarios/s ({ok}/{len(rows)} passed)")


def suite(adapter, workers, tmp):
    rep = os.path.join(tmp, f"suite-{adapter}-{workers}")
    t0 = time.monotonic()
    subprocess.run(pytest_cmd(os.path.join(SRC, "scenarios"), adapter, rep, workers),
                   capture_output=True, text=True, cwd=SRC)
    total = time.monotonic() - t0
    try:
        rows = json.load(open(os.path.join(rep, "conformance.json")))["results"]
    except (OSError, ValueError, KeyError):
        return f"{adapter:<8} suite  -n {workers}  FAILED (no report)"
    count = {k: sum(r["status"] == k for r in rows) for k in ("pass", "fail", "na")}
    walls = [r["wall_ms"] for r in rows if r["status"] != "na"]
    return (f"{adapter:<8} suite  -n {workers}  {len(rows)} scenarios in {total:6.1f} s = "
            f"{len(rows) / total:5.1f} scenarios/s  (median {statistics.median(walls):.1f} ms; "
            f"{count['pass']} pass, {count['fail']} fail, {count['na']} n.a.)")


def main():
    names = [a for a in os.environ.get("ADAPTERS", "").split(",") if a] or adapters.installed()
    print(f"== harness: per-scenario wall time, {COPIES} probe scenarios per row "
          "(mjfake + client + judging; suite time includes pytest start)")
    with tempfile.TemporaryDirectory(prefix="mjbench-") as tmp:
        for a in names:
            for extra in ([], ["--mj-exec"]) if a == "mj" else ([],):
                for kind in ("plain", "tls"):
                    for workers in (1, 2):
                        print(run(a, kind, workers, tmp, extra), flush=True)
        names = [a for a in os.environ.get("BENCH_SUITE_ADAPTERS", "mj").split(",") if a]
        if names:
            print("== harness: the whole scenarios/ directory (pytest start included)")
        for a in names:
            for workers in (1, 2):
                print(suite(a, workers, tmp), flush=True)


if __name__ == "__main__":
    main()
