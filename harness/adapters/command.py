"""An external command as an adapter: `--adapter-cmd NAME=COMMAND`.

For clients in other languages (and for the harness's own tests).  COMMAND
(split like a shell would, no shell) gets one JSON request on stdin:

    {"protocol", "op", "security", "host", "port", "addr", "trust", "cafile",
     "timeout_ms", "user", "password", "mechanism", "args", "scenario",
     "scenario_dir"}

and connects to host:port resolving host to addr.  It prints one JSON object
on stdout: {"outcome": CLASS, "reason": "...", "message": "...",
"result": {...}, "log": "protocol log"} or {"na": "why not applicable"}.
Anything else (no JSON, a signal) is an adapter crash.  The harness kills
the command's process group at the scenario's limit.
"""
import json
import os
import shlex

from .. import core
from .base import Adapter, effective_security


class CommandAdapter(Adapter):
    def __init__(self, name, command):
        self.name = name
        self.argv = shlex.split(command)

    def not_applicable(self, scenario):
        return None   # the command answers {"na": ...} itself

    def run(self, scenario, ep, workdir, limit_ms, run):
        c = scenario.client
        req = {"protocol": scenario.protocol, "op": scenario.op,
               "security": effective_security(scenario, ep.port),
               "host": ep.host, "port": ep.port, "addr": ep.addr,
               "trust": c.get("trust", "test-ca"), "cafile": os.path.join(core.CERTS, "ca.crt"),
               "timeout_ms": c.get("timeout_ms"), "user": c.get("user"),
               "password": c.get("password"), "mechanism": c.get("mechanism"),
               "args": c.get("args") or {}, "scenario": scenario.path,
               "scenario_dir": os.path.dirname(scenario.path)}
        run.command = shlex.join(self.argv)
        rc, out, err, run.elapsed_ms = core.run_process(self.argv, limit_ms,
                                                        stdin=json.dumps(req).encode())
        if rc is None:
            run.killed = True
            run.outcome = "timeout"
            run.message = f"killed by the harness after {limit_ms} ms (the scenario's limit)"
            run.client_log = err.decode(errors="replace")
            return
        try:
            doc = json.loads(out)
            if "na" in doc:
                run.na = f"{self.name}: {doc['na']}"
                return
            run.outcome = doc["outcome"]
        except (ValueError, KeyError, TypeError):
            run.crashed = (f"exit status {rc}, no JSON outcome on stdout; stderr: "
                           f"{err.decode(errors='replace')[-1500:].strip()}")
            return
        run.reason = doc.get("reason") or ""
        run.message = doc.get("message") or ""
        run.result = doc.get("result") or {}
        run.client_log = doc.get("log") or err.decode(errors="replace")
