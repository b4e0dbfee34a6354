"""The `python` adapter: imaplib, poplib and smtplib of Debian's /usr/bin/python3.

The clients run in a long-lived worker process (pyworker.py), one per pytest
process, so a scenario costs a request, not an interpreter start.  When a
request outlives the scenario's limit the worker's process group is killed
(the run is reported as a timeout) and the next request starts a new worker.
The exception -> outcome class table is in pyworker.py and README.md.
"""
import json
import os
import selectors
import signal
import subprocess
import time

from .. import core
from .base import Adapter, effective_security

PYTHON = os.environ.get("MJ_HARNESS_PYTHON", "/usr/bin/python3")
WORKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "pyworker.py")

OPS = frozenset({"probe", "imap.login", "imap.list", "imap.select", "pop3.stat", "pop3.list",
                 "pop3.uidl", "pop3.retr", "smtp.send"})


def _notify(v):
    return ",".join(str(x) for x in v).upper() if isinstance(v, (list, tuple)) else str(v).upper()


def _xtext(v):
    return "".join(c if "!" <= c <= "~" and c not in "+=" else "".join(
        "+%02X" % b for b in c.encode()) for c in str(v))


def smtp_options(a):
    """smtp.send args -> (mail_options, rcpt_options, why not applicable or None).

    smtplib sends what it is given, on MAIL and on every RCPT alike: no BDAT
    (so no chunking, no BINARYMIME), one set of RCPT parameters for all."""
    if a.get("chunking"):
        return [], [], "smtplib has no BDAT (CHUNKING)"
    body = str(a.get("body", "")).upper()
    if body == "BINARYMIME":
        return [], [], "smtplib has no BDAT, which BINARYMIME needs"
    mail = [f"BODY={body}"] if body else []
    if a.get("smtputf8"):
        mail.append("SMTPUTF8")
    if a.get("ret"):
        mail.append(f"RET={str(a['ret']).upper()}")
    if a.get("envid") is not None:
        mail.append(f"ENVID={_xtext(a['envid'])}")
    if a.get("requiretls"):
        mail.append("REQUIRETLS")
    to = a.get("to") or []
    to = [to] if isinstance(to, str) else list(to)
    per = []
    for r in to:
        opts = []
        n = (a.get("rcpt_notify") or {}).get(r, a.get("notify"))
        if n:
            opts.append(f"NOTIFY={_notify(n)}")
        if r in (a.get("orcpt") or {}):
            opts.append(f"ORCPT=rfc822;{_xtext(a['orcpt'][r])}")
        per.append(opts)
    if any(p != per[0] for p in per):
        return [], [], "smtplib sends the same RCPT parameters for every recipient"
    return mail, per[0] if per else [], None


class PythonAdapter(Adapter):
    name = "python"
    ops = OPS

    def __init__(self):
        self.proc = None

    def available(self):
        if not os.access(PYTHON, os.X_OK):
            return f"{PYTHON} is not installed"
        return None

    def extra_na(self, scenario):
        if scenario.client.get("client_cert"):
            return "the python adapter presents no client certificate (client_cert)"
        if scenario.client.get("trust") == "system":
            return None
        if scenario.protocol == "imap" and scenario.op != "probe" and "user" not in scenario.client:
            return "the imaplib worker always calls login(): no session without a user (PREAUTH)"
        if "imap4rev2" in ((scenario.expect or {}).get("result") or {}):
            return "imaplib speaks IMAP4rev1 only: no ENABLE IMAP4rev2 (result imap4rev2)"
        if scenario.op == "smtp.send" and not (scenario.client.get("args") or {}).get("to"):
            return "smtplib needs at least one recipient"
        if scenario.op == "smtp.send":
            return smtp_options(scenario.client.get("args") or {})[2]
        if scenario.op == "imap.list":
            asked = [k for k in ("selection", "return", "status")
                     if (scenario.client.get("args") or {}).get(k)]
            if asked:
                return f"imaplib's list() takes no LIST-EXTENDED options and keeps no STATUS ({', '.join(asked)})"
        if scenario.op == "imap.select":
            a = scenario.client.get("args") or {}
            asked = [k for k in ("condstore", "qresync") if a.get(k)]
            if asked:
                return f"the python adapter's imaplib select cannot ask for {', '.join(asked)} (RFC 7162 parameters)"
        return None

    def _start(self):
        self.proc = subprocess.Popen([PYTHON, WORKER], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     start_new_session=True)

    def _kill(self):
        if self.proc is not None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            self.proc.wait()
            for f in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
                try:
                    f.close()
                except OSError:
                    pass
            self.proc = None

    def close(self):
        self._kill()

    def request(self, req, limit_ms):
        """Send req; (answer dict or None when killed, elapsed ms, stderr when crashed)."""
        if self.proc is None or self.proc.poll() is not None:
            self._kill()
            self._start()
        t0 = time.monotonic()
        try:
            self.proc.stdin.write((json.dumps(req) + "\n").encode())
            self.proc.stdin.flush()
        except BrokenPipeError:
            err = self.proc.stderr.read().decode(errors="replace")
            self._kill()
            return {"crash": f"the worker died: {err}"}, 0.0
        sel = selectors.DefaultSelector()
        sel.register(self.proc.stdout, selectors.EVENT_READ)
        try:
            ready = sel.select(limit_ms / 1000.0)
        finally:
            sel.close()
        elapsed = (time.monotonic() - t0) * 1000.0
        if not ready:
            self._kill()
            return None, elapsed
        line = self.proc.stdout.readline()
        elapsed = (time.monotonic() - t0) * 1000.0
        if not line:
            rc = self.proc.wait()
            err = self.proc.stderr.read().decode(errors="replace")
            self._kill()
            return {"crash": f"the worker exited with status {rc}: {err[-2000:]}"}, elapsed
        return json.loads(line), elapsed

    def run(self, scenario, ep, workdir, limit_ms, run):
        c = scenario.client
        req = {"protocol": scenario.protocol, "op": scenario.op,
               "security": effective_security(scenario, ep.port),
               "host": ep.host, "port": ep.port, "addr": ep.addr,
               "trust": c.get("trust", "test-ca"),
               "cafile": os.path.join(core.CERTS, "ca.crt"),
               "timeout_ms": int(c.get("timeout_ms", 10000)),
               "args": c.get("args") or {}, "scenario_dir": os.path.dirname(scenario.path)}
        if scenario.op == "smtp.send":
            a = dict(req["args"])
            if "generate" in (a.get("message") or {}):
                a["message"] = {"file": core.message_file(scenario, workdir)}
            a["mail_options"], a["rcpt_options"], _ = smtp_options(a)
            req["args"] = a
        for k in ("user", "password"):
            if k in c:
                req[k] = str(c[k])
        run.command = f"{PYTHON} {WORKER} <<< {json.dumps({k: v for k, v in req.items() if k != 'password'})}"
        answer, run.elapsed_ms = self.request(req, limit_ms)
        if answer is None:
            run.killed = True
            run.outcome = "timeout"
            run.message = f"killed by the harness after {limit_ms} ms (the scenario's limit)"
            return
        run.client_log = answer.get("log", "")
        if "crash" in answer:
            run.crashed = answer["crash"]
            return
        run.outcome = answer["outcome"]
        run.reason = answer.get("reason", "")
        run.message = answer.get("message", "")
        run.result = answer.get("result") or {}
