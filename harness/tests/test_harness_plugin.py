"""Self-tests of the harness: `pytest harness` run on small scenario
directories with a scripted client (fake_client.py as --adapter-cmd), each
asserting the exact text a person would read in the report.

Environment as in `make pytest`: MJ_BIN (mjfake, mj), MJ_CERTS, MJ_SRCDIR.
"""
import json
import os
import re
import subprocess
import sys
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.environ.get("MJ_SRCDIR", os.path.dirname(os.path.dirname(HERE)))
BIN = os.environ.get("MJ_BIN", os.path.join(SRC, "build", "gcc", "bin"))
CLIENT = os.path.join(HERE, "fake_client.py")

SCENARIO = """\
name: selftest
summary: a self-test scenario
protocol: imap
tags: [selftest]
server:
  steps:
    - send: "* OK ready"
    - expect: "{tag} LOGOUT"
      send: |
        * BYE
        {tag} OK
    - expect: eof
client:
  op: probe
  security: none
expect:
  outcome: ok
"""

pytestmark = pytest.mark.skipif(not os.access(os.path.join(BIN, "mjfake"), os.X_OK),
                                reason="mjfake is not built")


def harness(tmp_path, text, mode, *extra, adapters="fake", gate="fake"):
    """Run `pytest harness` on one scenario file; (CompletedProcess, output, path)."""
    d = tmp_path / "scenarios"
    d.mkdir(exist_ok=True)
    path = d / "selftest.yaml"
    path.write_text(text)
    env = dict(os.environ, MJ_BIN=BIN, MJ_SRCDIR=SRC)
    env.pop("PYTEST_XDIST_WORKER", None)
    cmd = [sys.executable, "-m", "pytest", os.path.join(SRC, "harness"), "-q",
           "-p", "no:cacheprovider", "-p", "no:xdist", "--scenarios", str(d),
           "--adapters", adapters, "--adapter-cmd",
           f"fake={sys.executable} {CLIENT} {mode} {tmp_path / 'pid'}",
           "--gate", gate, "--report-dir", str(tmp_path / "report"), *extra]
    p = subprocess.run(cmd, capture_output=True, text=True, cwd=SRC, env=env, timeout=60)
    return p, p.stdout + p.stderr, str(path)


def test_passing_scenario_passes_and_writes_the_report(tmp_path):
    p, out, path = harness(tmp_path, SCENARIO, "ok")
    assert p.returncode == 0, out
    assert "1 passed" in out
    assert any(l.split() == ["selftest", "PASS"] for l in out.splitlines()), out
    rows = json.loads((tmp_path / "report" / "conformance.json").read_text())["results"]
    assert [(r["scenario"], r["adapter"], r["status"], r["outcome"]) for r in rows] == \
        [("selftest", "fake", "pass", "ok")]
    html = (tmp_path / "report" / "conformance.html").read_text()
    assert "<td class='pass'" in html and "selftest" in html


def test_broken_scenario_fails_at_collection_with_the_loader_message(tmp_path):
    broken = SCENARIO.replace('    - send: "* OK ready"', '    - sned: "* OK ready"')
    p, out, path = harness(tmp_path, broken, "ok")
    assert p.returncode != 0
    assert (f"{path}:7:7: unknown key 'sned' in a step: expected one of expect, optional, "
            "unordered, on_mismatch, sleep, send, send_raw, send_file, dotstuff, drip, "
            "fragment, starttls, close, reset, hang, shutdown_write") in out, out
    assert "ERROR collecting" in out
    assert "Traceback" not in out


def test_adapter_crash_is_a_failure_with_its_stderr(tmp_path):
    p, out, path = harness(tmp_path, SCENARIO, "crash")
    assert p.returncode == 1, out
    assert "FAILED outcome: expected ok, got an adapter crash: exit status 1, no JSON outcome " \
           "on stdout; stderr: Traceback" in out, out
    assert "RuntimeError: scripted adapter crash" in out
    assert "actual outcome:   adapter crash: exit status 1" in out
    assert "1 failed" in out


def test_hanging_adapter_is_killed_at_the_limit_and_reported_as_timeout(tmp_path):
    text = SCENARIO.replace("  outcome: ok\n", "  outcome: ok\n  within_ms: 700\n")
    t0 = time.monotonic()
    p, out, path = harness(tmp_path, text, "hang")
    assert time.monotonic() - t0 < 10
    assert p.returncode == 1, out
    assert "FAILED outcome: expected ok, got timeout" in out, out
    assert "FAILED within_ms: the client did not finish within 700 ms (killed by the harness)" \
        in out
    assert "client message:   killed by the harness after 700 ms (the scenario's limit)" in out
    pid = int((tmp_path / "pid").read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_mjfake_mismatch_shows_the_step_and_the_transcript(tmp_path):
    p, out, path = harness(tmp_path, SCENARIO, "noop")
    assert p.returncode == 1, out
    assert ("FAILED server_consumed: the server's script did not run to its end: "
            f"{path}:8:7: expected '{{tag}} LOGOUT', got 'a1 NOOP'") in out, out
    assert f"--- transcript (conn dir: data [step]); failing step {path}:8:7" in out
    assert f"1 S: * OK ready\\r\\n  [{path}:7:7]" in out
    assert f"1 C: a1 NOOP\\r\\n  [{path}:8:7]  <-- failing step" in out
    assert "expected outcome: ok" in out and "actual outcome:   ok" in out
    assert any(l.split() == ["selftest", "FAIL", "(fake:", "server_consumed", "failed)"]
               for l in out.splitlines()), out


def test_outcome_mismatch_shows_expected_actual_and_message(tmp_path):
    p, out, path = harness(tmp_path, SCENARIO, "authfail")
    assert p.returncode == 1, out
    assert "FAILED outcome: expected ok, got auth-failed" in out, out
    assert "client message:   the server said NO (scripted)" in out
    # No connection was made, so the server's script is also reported.
    assert "FAILED server_consumed: the server's script did not run to its end:" in out


def test_never_sent_violated(tmp_path):
    text = SCENARIO.replace(
        '    - expect: "{tag} LOGOUT"',
        '    - expect: "{tag} LOGIN alice secret"\n      send: "{tag} OK"\n'
        '    - expect: "{tag} LOGOUT"').replace(
        "  outcome: ok\n", '  outcome: ok\n  never_sent: ["LOGIN"]\n')
    p, out, path = harness(tmp_path, text, "login")
    assert p.returncode == 1, out
    assert "FAILED never_sent: the client sent 'a1 LOGIN alice secret' (matches 'LOGIN')" in out
    assert out.count("FAILED ") == 2  # that line and pytest's summary line
    assert "FAILED harness/suite.py::selftest.yaml::selftest[fake]" in out


def test_only_the_gated_adapters_decide_the_exit_status(tmp_path):
    p, out, _ = harness(tmp_path, SCENARIO, "authfail", gate="mj")
    assert p.returncode == 0, out
    assert "gate (mj): 0 failure(s)" in out
    assert "1 xfailed" in out and not re.search(r"\b\d+ failed", out)
    p, out, _ = harness(tmp_path, SCENARIO, "authfail", gate="fake")
    assert p.returncode == 1
    assert "gate (fake): 1 failure(s)" in out


@pytest.mark.skipif(not os.access(os.path.join(BIN, "mj"), os.X_OK), reason="mj is not built")
def test_an_operation_mj_lacks_is_not_applicable_never_a_pass(tmp_path):
    text = SCENARIO.replace("  op: probe", "  op: imap.getmetadata")
    p, out, _ = harness(tmp_path, text, "ok", "-rs", adapters="mj", gate="mj")
    assert p.returncode == 0, out
    assert "n.a.: mj has no operation imap.getmetadata yet" in out
    assert "1 skipped" in out and "passed" not in out


def _processes_mentioning(text):
    found = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    if text.encode() in f.read():
                        found.append(int(pid))
            except OSError:
                pass
    return found


def test_ctrl_c_reaps_mjfake_and_the_client_at_once(tmp_path):
    """Also the mjfake the plugin started ahead for the next test (selftest2)."""
    import signal
    d = tmp_path / "scenarios"
    d.mkdir()
    (d / "selftest.yaml").write_text(
        SCENARIO.replace("  outcome: ok\n", "  outcome: ok\n  within_ms: 30000\n"))
    (d / "selftest2.yaml").write_text(SCENARIO.replace("name: selftest", "name: selftest2"))
    pidfile = tmp_path / "pid"
    env = dict(os.environ, MJ_BIN=BIN, MJ_SRCDIR=SRC)
    env.pop("PYTEST_XDIST_WORKER", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "pytest", os.path.join(SRC, "harness"), "-q", "-p",
         "no:cacheprovider", "-p", "no:xdist", "--scenarios", str(d), "--adapters", "fake",
         "--adapter-cmd", f"fake={sys.executable} {CLIENT} hang {pidfile}"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=SRC, env=env,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        deadline = time.monotonic() + 10
        while not (pidfile.exists() and pidfile.read_text()) and time.monotonic() < deadline:
            time.sleep(0.05)
        client = int(pidfile.read_text())
        assert _processes_mentioning(str(d / "selftest.yaml")), "mjfake should be serving"
        deadline = time.monotonic() + 5
        while not _processes_mentioning(str(d / "selftest2.yaml")) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _processes_mentioning(str(d / "selftest2.yaml")), \
            "the next test's mjfake should have been started ahead"
        t0 = time.monotonic()
        proc.send_signal(signal.SIGINT)
        out = proc.communicate(timeout=10)[0].decode()
        assert time.monotonic() - t0 < 1.5, out
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert "KeyboardInterrupt" in out
    with pytest.raises(ProcessLookupError):
        os.kill(client, 0)
    assert _processes_mentioning(str(d)) == []


def _state(pid):
    """A process's state letter (R, S, Z, ...), None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return None


def _descendants(root):
    """Every live process under root (by /proc/PID/stat parent links)."""
    parent = {}
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                with open(f"/proc/{pid}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if fields[0] != "Z":
                parent[int(pid)] = int(fields[1])
    found, frontier = [], [root]
    while frontier:
        p = frontier.pop()
        kids = [c for c, pp in parent.items() if pp == p]
        found += kids
        frontier += kids
    return found


HANG = SCENARIO.replace('    - send: "* OK ready"\n', '    - sleep: 20000\n      send: "* OK ready"\n') \
               .replace("  outcome: ok\n", "  outcome: ok\n  within_ms: 700\n")


@pytest.mark.parametrize("mode", [[], ["--mj-exec"]], ids=["batch", "exec"])
def test_mj_hanging_is_killed_at_the_limit(tmp_path, mode):
    """Through `mj --batch` (a fork per scenario) as when mj is started afresh."""
    t0 = time.monotonic()
    p, out, _ = harness(tmp_path, HANG, "ok", *mode, adapters="mj", gate="mj")
    assert time.monotonic() - t0 < 10
    assert p.returncode == 1, out
    assert "FAILED outcome: expected ok, got timeout" in out, out
    assert "client message:   killed by the harness after 700 ms (the scenario's limit)" in out


def test_ctrl_c_reaps_mj_forked_by_the_batch(tmp_path):
    import signal
    d = tmp_path / "scenarios"
    d.mkdir()
    (d / "selftest.yaml").write_text(HANG.replace("within_ms: 700", "within_ms: 30000"))
    env = dict(os.environ, MJ_BIN=BIN, MJ_SRCDIR=SRC)
    env.pop("PYTEST_XDIST_WORKER", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "pytest", os.path.join(SRC, "harness"), "-q", "-p",
         "no:cacheprovider", "-p", "no:xdist", "--scenarios", str(d), "--adapters", "mj"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=SRC, env=env,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        mj = os.path.join(BIN, "mj").encode()
        deadline = time.monotonic() + 10
        under = []
        while time.monotonic() < deadline:
            under = _descendants(proc.pid)
            cmds = []
            for pid in under:
                try:
                    with open(f"/proc/{pid}/cmdline", "rb") as f:
                        cmds.append(f.read())
                except OSError:
                    pass
            # the batch process and the child it forked both read `mj --batch`
            if sum(c.startswith(mj + b"\0--batch") for c in cmds) >= 2:
                break
            time.sleep(0.05)
        else:
            pytest.fail(f"mj --batch and its child never ran: {under}")
        proc.send_signal(signal.SIGINT)
        out = proc.communicate(timeout=10)[0].decode()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert "KeyboardInterrupt" in out
    time.sleep(0.2)   # the batch process ends at its stdin's EOF, once its child is killed
    # Gone, or a zombie (an orphan whose reaper is this machine's PID 1).
    alive = [pid for pid in under if _state(pid) not in (None, "Z")]
    assert alive == [], out
