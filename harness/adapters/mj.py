"""The `mj` adapter: mailjig's own command, `mj --json`.

mj reports the outcome class itself (its JSON `outcome`, and an exit code per
class), so no mapping is needed: the adapter only builds the command line.
Each protocol issue adds its operations to OPS (op -> mj operation and the
arguments it takes); until then every other op is not applicable.
"""
import json
import os
import re
import shlex
import subprocess

from .. import core
from .base import Adapter, SCHEMES, effective_security
from .mjbatch import BatchBroken, BatchUnavailable, MjBatch

def _args(sc):
    return sc.client.get("args") or {}


def _message_file(sc, workdir):
    """args.message ({file: PATH}, {text: STRING}, {generate: {size: N}}) as a file."""
    return core.message_file(sc, workdir)


def _notify(v):
    """args notify: a list (or a comma string) of NEVER / SUCCESS / FAILURE / DELAY."""
    return ",".join(str(x) for x in v) if isinstance(v, (list, tuple)) else str(v)


def _smtp_send(sc, workdir):
    a = _args(sc)
    to = a.get("to") or []
    to = [to] if isinstance(to, str) else list(to)
    sender = str(a.get("from", ""))
    words = ["--from", sender if sender else "<>"]
    rcpt_notify = a.get("rcpt_notify") or {}
    orcpt = a.get("orcpt") or {}
    for r in to:
        words += ["--to", str(r)]
        if r in rcpt_notify:
            words += ["--rcpt-notify", _notify(rcpt_notify[r])]
        if r in orcpt:
            words += ["--orcpt", str(orcpt[r])]
    if a.get("body"):
        words += ["--body", str(a["body"])]
    for flag in ("chunking", "smtputf8", "requiretls"):
        if a.get(flag):
            words.append("--" + flag)
    if a.get("ret"):
        words += ["--ret", str(a["ret"])]
    if a.get("envid") is not None:
        words += ["--envid", str(a["envid"])]
    if a.get("notify"):
        words += ["--notify", _notify(a["notify"])]
    return words + ["--message", _message_file(sc, workdir), "send"]


def _numbered(op):
    """pop3 operations with an optional message number (list, uidl)."""
    def words(sc, workdir):
        n = _args(sc).get("message")
        return [op] + ([str(int(n))] if n is not None else [])
    return words


def _pop3_message(sc):
    """args.message of pop3.retr / pop3.dele: a number, or "N-M" (a range, as mj takes it)."""
    m = _args(sc).get("message", 1)
    if isinstance(m, str) and re.fullmatch(r"\s*\d+\s*-\s*\d+\s*", m):
        return re.sub(r"\s", "", m)
    return str(int(m))


def _pop3_retr(sc, workdir):
    # The bodies go to a file in the workdir; the JSON result carries each sha256.
    return ["retr", _pop3_message(sc), os.path.join(workdir, "retr.out")]


def _pop3_top(sc, workdir):
    a = _args(sc)
    return ["top", str(int(a.get("message", 1))), str(int(a.get("lines", 0))),
            os.path.join(workdir, "top.out")]


def _imap_uid(a):
    return ["uid"] if a.get("uid") else []


def _imap_flags(v):
    return " ".join(v) if isinstance(v, (list, tuple)) else str(v or "")


def _words(v):
    """A list of option words (or one comma string) -> "a,b"."""
    return ",".join(str(x) for x in v) if isinstance(v, (list, tuple)) else str(v)


def _imap_list(sc, workdir):
    """imap.list: selection / return (LIST-EXTENDED options), status (LIST-STATUS items)."""
    a = _args(sc)
    opts = []
    for key, opt in (("selection", "--list-select"), ("return", "--list-return"),
                     ("status", "--list-status")):
        if a.get(key):
            opts += [opt, _words(a[key])]
    return opts + ["list", str(a.get("reference", "")), str(a.get("pattern", "*"))]


def _imap_fetch(sc, workdir):
    a = _args(sc)
    items = a.get("items")
    if isinstance(items, (list, tuple)):
        items = "(" + " ".join(items) + ")"
    cond = (["--changedsince", str(int(a["changedsince"]))] if "changedsince" in a else []) \
        + (["--vanished"] if a.get("vanished") else [])
    return (cond + ["fetch", str(a.get("mailbox", "INBOX")), str(a.get("set", "1:*"))]
            + ([str(items)] if items else []) + _imap_uid(a))


def _imap_store(sc, workdir):
    a = _args(sc)
    cond = ["--unchangedsince", str(int(a["unchangedsince"]))] if "unchangedsince" in a else []
    if a.get("silent"):
        cond.append("--silent")
    return (cond + ["store", str(a.get("mailbox", "INBOX")), str(a.get("set", "1")),
             str(a.get("mode", "add")), _imap_flags(a.get("flags"))] + _imap_uid(a))


def _imap_select(sc, workdir):
    """imap.select: condstore (bool), qresync {uidvalidity, modseq, known_uids, seq_match,
    uid_match} (RFC 7162)."""
    a = _args(sc)
    words = ["--condstore"] if a.get("condstore") else []
    q = a.get("qresync")
    if q:
        spec = f"{int(q['uidvalidity'])}:{int(q['modseq'])}"
        if q.get("known_uids"):
            spec += ":" + str(q["known_uids"])
        words += ["--qresync", spec]
        for key in ("seq_match", "uid_match"):
            if q.get(key) is not None:
                words += ["--" + key.replace("_", "-"), str(q[key])]
    return (words + ["select", str(a.get("mailbox", "INBOX"))]
            + (["readonly"] if a.get("readonly") else []))


def _imap_expunge(sc, workdir):
    """imap.expunge: with set and uid, UID EXPUNGE set (RFC 4315)."""
    a = _args(sc)
    return (["expunge", str(a.get("mailbox", "INBOX"))]
            + ([str(a["set"])] + _imap_uid(a) if "set" in a else []))


def _imap_copy(op):
    def words(sc, workdir):
        a = _args(sc)
        return ([op, str(a.get("mailbox", "INBOX")), str(a.get("set", "1")), str(a.get("to", ""))]
                + _imap_uid(a))
    return words


def _one_message_file(sc, workdir, msg, name):
    """One entry's message ({file}, {text}, {generate}) as a file, like core.message_file."""
    if "file" in msg:
        return os.path.join(os.path.dirname(sc.path), str(msg["file"]))
    if "generate" in msg:
        return core.generated_file((msg.get("generate") or {}).get("size"))
    path = os.path.join(workdir, name)
    with open(path, "wb") as f:
        f.write(str(msg.get("text", "")).encode())
    return path


def _imap_append(sc, workdir):
    """args.message (+ flags, date), or args.messages: a list of {message, flags, date}
    sent as one MULTIAPPEND when the server offers it: FILE [flags=..] [date=..] each."""
    a = _args(sc)
    words = ["append", str(a.get("mailbox", "INBOX"))]
    entries = a.get("messages")
    if entries is None:
        entries = [{"message": a.get("message") or {}, "flags": a.get("flags"),
                    "date": a.get("date")}]
    for i, m in enumerate(entries):
        words.append(_one_message_file(sc, workdir, m.get("message") or {}, f"message{i}.eml"))
        flags = _imap_flags(m.get("flags"))
        if flags:
            words.append("flags=" + flags)
        if m.get("date"):
            words.append("date=" + str(m["date"]))
    return words


def _imap_quota(sc, workdir):
    """args.root: GETQUOTA of that root; else GETQUOTAROOT of args.mailbox."""
    a = _args(sc)
    if "root" in a:
        return ["quota", str(a["root"]), "root"]
    return ["quota", str(a.get("mailbox", "INBOX"))]


def _imap_sort_thread(op, key):
    """imap.sort (args.criteria: a string or a list of sort keys; args.return: ESORT's
    return options, a string or a list) / imap.thread (args.algorithm), then args.search
    (default ALL) and args.uid."""
    def words(sc, workdir):
        a = _args(sc)
        first = a.get(key, "DATE" if key == "criteria" else "REFERENCES")
        if isinstance(first, (list, tuple)):
            first = " ".join(str(x) for x in first)
        ret = []
        if op == "sort" and a.get("return") is not None:
            r = a["return"]
            ret = ["--return", " ".join(str(x) for x in r) if isinstance(r, (list, tuple)) else str(r)]
        return (ret + [op, str(a.get("mailbox", "INBOX")), str(first)]
                + ([str(a["search"])] if a.get("search") else []) + _imap_uid(a))
    return words


def _imap_mailbox(op):
    """imap operations that take one mailbox (args.mailbox, default INBOX)."""
    def words(sc, workdir):
        return [op, str(_args(sc).get("mailbox", "INBOX"))]
    return words


def _imap_idle(sc, workdir):
    a = _args(sc)
    return (["idle", str(a.get("mailbox", "INBOX")), str(int(a.get("seconds", 1)))]
            + (["event"] if a.get("until_event") else []))


# op -> function(scenario, workdir) returning mj's words after the URL
# (options that belong to the operation come first, then the operation).
OPS = {
    "probe": lambda sc, wd: ["probe"],
    "smtp.ehlo": lambda sc, wd: ["ehlo"],
    "smtp.send": _smtp_send,
    "smtp.verify": lambda sc, wd: ["verify", str(_args(sc).get("address", ""))],
    "smtp.noop": lambda sc, wd: ["noop"],
    "pop3.capa": lambda sc, wd: ["capa"],
    "pop3.stat": lambda sc, wd: ["stat"],
    "pop3.list": _numbered("list"),
    "pop3.uidl": _numbered("uidl"),
    "pop3.retr": _pop3_retr,
    "pop3.top": _pop3_top,
    "pop3.dele": lambda sc, wd: ["dele", _pop3_message(sc)],
    "pop3.rset": lambda sc, wd: ["rset"],
    "pop3.noop": lambda sc, wd: ["noop"],
    "imap.capability": lambda sc, wd: ["capability"],
    "imap.login": lambda sc, wd: ["login"],
    "imap.namespace": lambda sc, wd: ["namespace"],
    "imap.list": _imap_list,
    "imap.select": _imap_select,
    "imap.status": _imap_mailbox("status"),
    "imap.create": _imap_mailbox("create"),
    "imap.delete": _imap_mailbox("delete"),
    "imap.subscribe": _imap_mailbox("subscribe"),
    "imap.expunge": _imap_expunge,
    "imap.quota": _imap_quota,
    "imap.rename": lambda sc, wd: ["rename", str(_args(sc).get("from", "")),
                                   str(_args(sc).get("to", ""))],
    "imap.fetch": _imap_fetch,
    "imap.store": _imap_store,
    "imap.search": lambda sc, wd: (["search", str(_args(sc).get("mailbox", "INBOX")),
                                    str(_args(sc).get("criteria", "ALL"))] + _imap_uid(_args(sc))),
    "imap.copy": _imap_copy("copy"),
    "imap.move": _imap_copy("move"),
    "imap.append": _imap_append,
    "imap.idle": _imap_idle,
    "imap.sort": _imap_sort_thread("sort", "criteria"),
    "imap.thread": _imap_sort_thread("thread", "algorithm"),
}
# mj options that take no value (the word after one is not its value).
FLAG_OPTIONS = frozenset({"--condstore", "--vanished", "--silent", "--chunking", "--smtputf8",
                          "--requiretls"})
# op -> the security modes mj can run it with (after `auto` is resolved by port).
OP_SECURITY = {
    "probe": {"none", "implicit"},   # probe does not speak STARTTLS
}


class MjAdapter(Adapter):
    name = "mj"
    ops = frozenset(OPS)
    compress = True
    utf8 = True
    strict = True

    def __init__(self, binary=None, batch=True):
        self.binary = binary or os.path.join(core.BIN, "mj")
        self._help_ops = None
        # `mj --batch` (a fork per scenario from one mj that set OpenSSL up
        # once); batch=False (pytest --mj-exec) starts mj afresh each time.
        self.batch = MjBatch(self.binary) if batch else None

    def close(self):
        if self.batch is not None:
            self.batch.close()

    def _run_mj(self, cmd, workdir, limit_ms):
        """run_process's contract, through the batch process when there is one."""
        if self.batch is not None:
            try:
                return self.batch.run(cmd[1:], workdir, limit_ms)
            except BatchUnavailable:
                self.batch.close()
                self.batch = None
        return core.run_process(cmd, limit_ms)

    def available(self):
        if not os.access(self.binary, os.X_OK):
            return f"{self.binary} is not built"
        return None

    def help_ops(self):
        """The operations `mj --help` lists (to say why one is missing)."""
        if self._help_ops is None:
            try:
                out = subprocess.run([self.binary, "--help"], capture_output=True, text=True,
                                     timeout=10).stdout
            except (OSError, subprocess.SubprocessError):
                out = ""
            body = out.split("operations:", 1)[-1].split("exit codes:", 1)[0]
            self._help_ops = set(re.findall(r"^\s+([a-z0-9_.-]+)\s", body, re.M))
        return self._help_ops

    def op_reason(self, scenario):
        listed = self.help_ops()
        short = scenario.op.split(".", 1)[-1]
        if scenario.op in listed or short in listed:
            return f"mj lists {scenario.op} but the adapter does not map it yet"
        return f"mj has no operation {scenario.op} yet"

    def command(self, scenario, ep, workdir):
        c = scenario.client
        sec = effective_security(scenario, ep.port)
        plain, tls = SCHEMES[scenario.protocol]
        scheme = tls if sec == "implicit" else plain
        cmd = [self.binary, "--json", "--security", scenario.security,
               "--resolve", f"{ep.host}:{ep.port}:{ep.addr}",
               "--log", os.path.join(workdir, "client.log")]
        trust = c.get("trust", "test-ca")
        if trust == "test-ca":
            cmd += ["--cafile", os.path.join(core.CERTS, "ca.crt")]
        elif trust == "insecure":
            cmd += ["--insecure"]
        if "timeout_ms" in c:
            cmd += ["--timeout-ms", str(c["timeout_ms"])]
        if c.get("client_cert"):
            name = str(c["client_cert"])
            cmd += ["--client-cert", os.path.join(core.CERTS, name + ".crt"),
                    "--client-key", os.path.join(core.CERTS, name + ".key")]
        if "user" in c:
            cmd += ["--user", str(c["user"])]
        if "password" in c:
            pw = os.path.join(workdir, "password")
            with open(pw, "w") as f:
                f.write(str(c["password"]) + "\n")
            cmd += ["--password-file", pw]
        if c.get("mechanism"):
            cmd += ["--mechanism", str(c["mechanism"])]
        if "token" in c:
            tok = os.path.join(workdir, "token")
            with open(tok, "w") as f:
                f.write(str(c["token"]) + "\n")
            cmd += ["--token-file", tok]
        if c.get("allow_insecure_auth"):
            cmd += ["--allow-insecure-auth"]
        if c.get("compress"):
            cmd += ["--compress"]
        if c.get("utf8"):
            cmd += ["--utf8"]
        if c.get("strict"):
            cmd += ["--strict"]
        words = OPS[scenario.op](scenario, workdir)
        # Operation options (--from, --to, --message) go before the URL, since
        # everything after the operation's first argument belongs to it.
        split = next((i for i, w in enumerate(words) if not w.startswith("-")
                      and (i == 0 or not words[i - 1].startswith("--")
                           or words[i - 1] in FLAG_OPTIONS)), len(words))
        cmd += words[:split] + [f"{scheme}://{ep.host}:{ep.port}/", *words[split:]]
        return cmd

    def extra_na(self, scenario):
        allowed = OP_SECURITY.get(scenario.op)
        if allowed is None:
            return None
        port = scenario.server.get("port")
        sec = scenario.security
        if sec == "auto":
            if port is None:
                return f"mj {scenario.op} with security auto needs server.port"
            sec = "implicit" if port in (993, 995, 465) else "starttls-if-available"
        if sec not in allowed:
            return f"mj {scenario.op} does not support security {scenario.security} yet"
        return None

    def supports_mechanism(self, mech):
        return "--mechanism" in self._help_text()

    def _help_text(self):
        try:
            return subprocess.run([self.binary, "--help"], capture_output=True, text=True,
                                  timeout=10).stdout
        except (OSError, subprocess.SubprocessError):
            return ""

    def run(self, scenario, ep, workdir, limit_ms, run):
        cmd = self.command(scenario, ep, workdir)
        run.command = shlex.join(cmd)
        try:
            rc, out, err, run.elapsed_ms = self._run_mj(cmd, workdir, limit_ms)
        except BatchBroken as e:
            run.crashed = f"mj --batch failed while it ran the command: {e}"
            return
        try:
            with open(os.path.join(workdir, "client.log"), errors="replace") as f:
                run.client_log = f.read()
        except OSError:
            pass
        if rc is None:
            run.killed = True
            run.outcome = "timeout"
            run.message = f"killed by the harness after {limit_ms} ms (the scenario's limit)"
            return
        try:
            doc = json.loads(out)
            run.outcome = doc["outcome"]
        except (ValueError, KeyError, TypeError):
            run.crashed = (f"exit status {rc}, no JSON outcome on stdout; stdout: "
                           f"{out.decode(errors='replace')[:500]!r}; stderr: "
                           f"{err.decode(errors='replace')[-1000:]!r}")
            return
        run.reason = doc.get("reason") if doc.get("reason") not in (None, "none") else ""
        run.message = doc.get("message", "")
        run.result = doc.get("result") or {}
