"""The `curl` adapter: the curl command as a mail client.

Operations map to URLs and flags; `-v` output is the client's protocol log and
the source of results curl does not print (the greeting, CAPABILITY, STAT).

| scenario                   | curl                                                      |
|----------------------------|-----------------------------------------------------------|
| security: none             | imap:// pop3:// smtp://                                   |
| security: implicit         | imaps:// pop3s:// smtps://                                |
| security: starttls         | imap:// ... --ssl-reqd                                    |
| starttls-if-available      | imap:// ... --ssl                                         |
| trust: test-ca / insecure  | --cacert build/certs/ca.crt / -k (system: neither)        |
| client_cert: NAME          | --cert CERTS/NAME.crt --key CERTS/NAME.key                |
| timeout_ms                 | --max-time (a total limit: curl has no idle timeout)      |
| mechanism                  | --login-options AUTH=<mech> (PLAIN, LOGIN, CRAM-MD5)      |
| probe                      | -X NOOP (IMAP: CAPABILITY, NOOP, LOGOUT; POP3: CAPA,      |
|                            | NOOP, QUIT with -I; SMTP: EHLO, NOOP, QUIT)               |
| imap.login                 | -u user:password -X NOOP                                  |
| imap.list                  | -u ... -X 'LIST "ref" pattern'                            |
| pop3.stat / pop3.list /    | -X STAT -I / the bare URL (LIST) / -X UIDL /              |
|   pop3.uidl / pop3.retr    |   pop3://host/N                                           |
| smtp.send                  | --mail-from --mail-rcpt (each) --mail-rcpt-allowfails -T  |
| smtp.send extensions       | n.a. (no BDAT, BODY=, SMTPUTF8, DSN or REQUIRETLS option) |

Exit codes -> outcome classes: EXIT_OUTCOMES below (unmapped codes are
reported as an adapter crash, never guessed).
"""
import hashlib
import os
import re
import shlex
import shutil

from .. import core
from .base import Adapter, SCHEMES, effective_security

EXIT_OUTCOMES = {
    0: "ok",
    2: "usage", 3: "usage", 26: "usage", 43: "usage", 77: "usage", 58: "usage",
    6: "connect-failed", 7: "connect-failed",
    28: "timeout",
    18: "connection-lost", 52: "connection-lost", 56: "connection-lost",
    35: "tls-failed", 80: "tls-failed",
    51: "certificate-invalid", 60: "certificate-invalid", 83: "certificate-invalid",
    90: "certificate-invalid", 91: "certificate-invalid",
    64: "starttls-unavailable",
    67: "auth-failed", 94: "auth-failed",
    8: "protocol-error", 85: "protocol-error",
    9: "server-refused", 21: "server-refused", 78: "server-refused",
    55: "message-rejected",   # refined from the reply code below
}

CERT_REASONS = [
    ("expired", "expired"), ("not yet valid", "not-yet-valid"),
    ("self-signed", "untrusted"), ("self signed", "untrusted"),
    ("unable to get local issuer", "untrusted"), ("unable to verify the first", "untrusted"),
    ("subject name", "hostname"), ("does not match target host", "hostname"),
    ("purpose", "purpose"), ("invalid ca", "chain"), ("too small", "weak"),
    ("too weak", "weak"),
]

# imap.list arguments curl cannot express (LIST-EXTENDED options, LIST-STATUS).
LIST_NA_ARGS = ("selection", "return", "status")
OPS = frozenset({"probe", "imap.login", "imap.list", "pop3.stat", "pop3.list", "pop3.uidl",
                 "pop3.retr", "smtp.send"})
MECHS = frozenset({"PLAIN", "LOGIN", "CRAM-MD5"})
# smtp.send arguments curl has no option for (SMTPUTF8 it uses by itself for a
# non-ASCII address; asking for it with ASCII ones is not possible).
SMTP_NA_ARGS = ("chunking", "body", "smtputf8", "requiretls", "ret", "envid", "notify",
                "rcpt_notify", "orcpt")


def received(log):
    """The server lines in curl -v output ('< ' lines)."""
    return [l[2:] for l in log.splitlines() if l.startswith("< ")]


class CurlAdapter(Adapter):
    name = "curl"
    ops = OPS

    def __init__(self, binary=None):
        self.binary = binary or shutil.which("curl")

    def available(self):
        return None if self.binary else "curl is not installed"

    def supports_mechanism(self, mech):
        return str(mech).upper() in MECHS

    def extra_na(self, scenario):
        if scenario.op == "smtp.send":
            a = scenario.client.get("args") or {}
            asked = [k for k in SMTP_NA_ARGS if a.get(k)]
            if asked:
                return f"curl cannot ask for {', '.join(asked)} (no BDAT, BODY=, DSN, REQUIRETLS or SMTPUTF8 option)"
        if scenario.op == "pop3.retr" and "-" in str((scenario.client.get("args") or {}).get("message", "")):
            return "curl fetches one message per URL: no range (args.message \"N-M\")"
        if "imap4rev2" in ((scenario.expect or {}).get("result") or {}):
            return "curl cannot tell whether IMAP4rev2 was enabled (result imap4rev2)"
        if scenario.op == "imap.list":
            asked = [k for k in LIST_NA_ARGS if (scenario.client.get("args") or {}).get(k)]
            if asked:
                return f"curl's LIST sends no LIST-EXTENDED options and reads no STATUS ({', '.join(asked)})"
        if scenario.op == "probe" and scenario.protocol not in SCHEMES:
            return f"no curl scheme for {scenario.protocol}"
        return None

    def command(self, scenario, ep, workdir):
        c = scenario.client
        a = c.get("args") or {}
        sec = effective_security(scenario, ep.port)
        plain, tls = SCHEMES[scenario.protocol]
        url = f"{tls if sec == 'implicit' else plain}://{ep.host}:{ep.port}/"
        cmd = [self.binary, "-sS", "-v", "--resolve", f"{ep.host}:{ep.port}:{ep.addr}"]
        if sec == "starttls":
            cmd.append("--ssl-reqd")
        elif sec == "starttls-if-available":
            cmd.append("--ssl")
        trust = c.get("trust", "test-ca")
        if trust == "test-ca":
            cmd += ["--cacert", os.path.join(core.CERTS, "ca.crt")]
        elif trust == "insecure":
            cmd.append("-k")
        if c.get("client_cert"):
            name = str(c["client_cert"])
            cmd += ["--cert", os.path.join(core.CERTS, name + ".crt"),
                    "--key", os.path.join(core.CERTS, name + ".key")]
        if "timeout_ms" in c:
            cmd += ["--max-time", f"{int(c['timeout_ms']) / 1000.0:.3f}"]
        if c.get("mechanism"):
            cmd += ["--login-options", f"AUTH={str(c['mechanism']).upper()}"]
        if "user" in c and scenario.op != "probe":
            cfg = os.path.join(workdir, "curl.cfg")   # keeps the password off argv
            user = f"{c['user']}:{c.get('password', '')}".replace("\\", "\\\\").replace('"', '\\"')
            with open(cfg, "w") as f:
                f.write(f'user = "{user}"\n')
            cmd += ["-K", cfg]
        op = scenario.op
        if op == "probe":
            cmd += ["-X", "NOOP"] + (["-I"] if scenario.protocol == "pop3" else [])
        elif op == "imap.login":
            cmd += ["-X", "NOOP"]
        elif op == "imap.list":
            ref = a.get("reference", "") or ""
            cmd += ["-X", f'LIST "{ref}" {a.get("pattern", "*")}']
        elif op == "pop3.stat":
            cmd += ["-X", "STAT", "-I"]
        elif op == "pop3.uidl":
            cmd += ["-X", "UIDL"]
        elif op == "pop3.retr":
            url += str(int(a.get("message", 1)))
        elif op == "smtp.send":
            path = core.message_file(scenario, workdir)
            to = a.get("to") or []
            to = [to] if isinstance(to, str) else list(to)
            cmd += ["--mail-from", str(a.get("from", ""))]
            for r in to:
                cmd += ["--mail-rcpt", str(r)]
            cmd += ["--mail-rcpt-allowfails", "-T", path]
        cmd.append(url)
        return cmd

    def run(self, scenario, ep, workdir, limit_ms, run):
        cmd = self.command(scenario, ep, workdir)
        run.command = shlex.join(cmd)
        rc, out, err, run.elapsed_ms = core.run_process(cmd, limit_ms)
        log = err.decode(errors="replace")
        run.client_log = log
        if rc is None:
            run.killed = True
            run.outcome = "timeout"
            run.message = f"killed by the harness after {limit_ms} ms (the scenario's limit)"
            return
        errline = [l for l in log.splitlines() if l.startswith("curl: (")]
        run.message = errline[-1] if errline else ""
        if rc not in EXIT_OUTCOMES:
            run.crashed = f"curl exit status {rc} has no outcome class: {run.message}"
            return
        run.outcome = EXIT_OUTCOMES[rc]
        low = run.message.lower()
        if rc == 60:
            run.reason = next((r for k, r in CERT_REASONS if k in low), "")
        elif rc == 35:
            if "wrong version number" in low or "record layer" in low or "packet length" in low:
                run.reason = "plaintext"
            elif "protocol version" in low or "unsupported protocol" in low:
                run.reason = "version"
        elif rc == 7 and "connection refused" in log.lower():
            run.reason = "refused"
        elif rc == 55:
            m = re.search(r"(?:failed|denied|response)[^0-9]*([45]\d\d)", run.message)
            if m and m.group(1).startswith("4"):
                run.outcome = "server-busy"
        if run.outcome == "ok":
            run.result = self.result(scenario, out, log)

    def result(self, scenario, out, log):
        op = scenario.op
        srv = received(log)
        text = out.decode(errors="replace")
        sec = effective_security(scenario, 0)
        if op == "probe":
            tls_on = sec == "implicit" or any("SSL connection using" in l for l in log.splitlines())
            state = "none" if not tls_on else (
                "unverified" if scenario.client.get("trust") == "insecure" else "verified")
            return {"greeting": srv[0] if srv else "", "tls": {"state": state}}
        if op == "imap.login":
            caps = [l.split()[2:] for l in srv if l.upper().startswith("* CAPABILITY ")]
            return {"capabilities": caps[-1] if caps else []}
        if op == "imap.list":
            boxes = []
            for l in text.splitlines():
                m = re.match(r'\* LIST \((.*?)\) (NIL|"(?:[^"\\]|\\.)*") (.*)', l)
                if m:
                    name = m.group(3)
                    boxes.append({"name": name[1:-1] if name.startswith('"') else name,
                                  "delimiter": None if m.group(2) == "NIL" else m.group(2)[1:-1],
                                  "attributes": m.group(1).split()})
            return {"mailboxes": boxes}
        if op == "pop3.stat":
            for l in srv:
                m = re.match(r"\+OK (\d+) (\d+)", l)
                if m:
                    return {"count": int(m.group(1)), "size": int(m.group(2))}
            return {}
        if op in ("pop3.list", "pop3.uidl"):
            msgs = []
            for l in text.splitlines():
                p = l.split()
                if len(p) >= 2:   # curl prints the listing as it came: keep what is not a number
                    num = lambda t: int(t) if t.isdigit() else t
                    msgs.append({"number": num(p[0]),
                                 **({"size": num(p[1])} if op == "pop3.list" else {"uid": p[1]})})
            return {"messages": msgs}
        if op == "pop3.retr":
            return {"message_sha256": hashlib.sha256(out).hexdigest(), "size": len(out)}
        if op == "smtp.send":
            accepted, rejected = [], []
            lines = log.splitlines()
            for i, l in enumerate(lines):
                m = re.match(r"> RCPT TO:<(.*)>", l)
                if not m:
                    continue
                reply = next((x[2:] for x in lines[i + 1:] if x.startswith("< ")), "")
                code = int(reply[:3]) if reply[:3].isdigit() else 0
                if 200 <= code < 300:
                    accepted.append(m.group(1))
                else:
                    enh = re.match(r"\d{3}[ -](\d\.\d{1,3}\.\d{1,3}) ", reply)
                    rejected.append({"recipient": m.group(1), "code": code,
                                     "enhanced": enh.group(1) if enh else None,
                                     "text": reply[4:]})
            return {"accepted": accepted, "rejected": rejected}
        return {}
