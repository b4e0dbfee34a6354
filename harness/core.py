"""The harness's engine, independent of pytest: load a scenario, start mjfake,
run an adapter, read the transcript, judge the run against `expect:`.

The plugin (plugin.py) turns each (scenario, adapter) pair into a pytest item
that calls run_scenario(); the self-tests call the same code.  The scenario
format is scenarios/FORMAT.md; the `client:` and `expect:` sections are this
module's part of it.
"""
import codecs
import json
import os
import re
import selectors
import shutil
import signal
import subprocess
import tempfile
import time

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.environ.get("MJ_SRCDIR", os.path.dirname(HERE))
BIN = os.environ.get("MJ_BIN", os.path.join(SRC, "build", "gcc", "bin"))
CERTS = os.environ.get("MJ_CERTS", os.path.join(SRC, "build", "certs"))
HOST = "mail.mailjig.test"

# How long mjfake may take to print READY, and to finish after the client.
READY_TIMEOUT_S = 5.0
FAKE_GRACE_S = 2.0
# The limit of a scenario without within_ms: its client timeout plus this, or
# DEFAULT_LIMIT_MS without one.
DEFAULT_LIMIT_MS = 15000
LIMIT_MARGIN_MS = 5000

OUTCOMES = ("ok", "usage", "connect-failed", "timeout", "connection-lost", "tls-failed",
            "certificate-invalid", "starttls-unavailable", "cleartext-refused", "auth-failed",
            "auth-unsupported", "protocol-error", "server-refused", "server-busy",
            "message-rejected")


def display_path(path):
    """path relative to the repository when inside it."""
    rel = os.path.relpath(path, SRC)
    return path if rel.startswith("..") else rel


def mjfake_path():
    return os.path.join(BIN, "mjfake")


class Scenario:
    """One scenario file: its header, and the parts the harness reads."""

    def __init__(self, path, doc):
        self.path = path
        self.doc = doc
        self.name = str(doc.get("name") or os.path.splitext(os.path.basename(path))[0])
        self.summary = doc.get("summary", "")
        self.protocol = doc.get("protocol", "")
        self.tags = [str(t) for t in (doc.get("tags") or [])]
        self.source = doc.get("source", "")
        self.server = doc.get("server") or {}
        self.client = doc.get("client") or {}
        self.expect = doc.get("expect") or {}

    @property
    def security(self):
        return self.client.get("security", "none")

    @property
    def op(self):
        return self.client.get("op", "")

    @property
    def outcomes(self):
        o = self.expect.get("outcome", "ok")
        return list(o) if isinstance(o, list) else [o]

    @property
    def server_tls(self):
        return self.server.get("tls", "none")

    def limit_ms(self):
        """How long the client may run before the harness kills it."""
        if "within_ms" in self.expect:
            return int(self.expect["within_ms"])
        if "timeout_ms" in self.client:
            return int(self.client["timeout_ms"]) + LIMIT_MARGIN_MS
        return DEFAULT_LIMIT_MS

    def consumed_required(self):
        v = self.expect.get("server_consumed")
        if v is None:
            return self.outcomes == ["ok"]
        return v in (True, "all")


def find_scenarios(root):
    """Every *.yaml under root, sorted, as absolute paths."""
    found = []
    for d, dirs, files in os.walk(root):
        dirs.sort()
        for f in sorted(files):
            if f.endswith((".yaml", ".yml")):
                found.append(os.path.join(d, f))
    return found


def check_files(paths, mjfake=None):
    """Run `mjfake --check` over paths; {path: None or the error line}."""
    mjfake = mjfake or mjfake_path()
    result = {}
    if not paths:
        return result
    proc = subprocess.run([mjfake, "--check", *paths], capture_output=True, text=True,
                          timeout=60)
    # One line per file, "FILE: ok" or "FILE:LINE:COL: message", in order.
    lines = [l for l in proc.stdout.splitlines() if l.strip()]
    for path in paths:
        result[path] = "mjfake --check printed nothing for this file: " + proc.stderr.strip()
    pending = list(paths)
    for line in lines:
        for p in pending:
            if line.startswith(p + ":"):
                result[p] = None if line == p + ": ok" else line
                pending.remove(p)
                break
    return result


def load_scenario(path):
    with open(path, "rb") as f:
        doc = yaml.load(f, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    if not isinstance(doc, dict):
        raise ValueError(f"{path}: the top level is not a mapping")
    return Scenario(path, doc)


# ---- messages ---------------------------------------------------------------------

GENERATED_LINE = b"mailjig generated line %08d\r\n"   # 33 bytes each
GENERATED_MIN = 2
GENERATED_MAX = 1 << 32


def generated_header(size):
    return (b"From: generator@mailjig.test\r\nTo: bob@mailjig.test\r\n"
            b"Subject: mailjig generated message of %d bytes\r\n"
            b"Message-ID: <generated-%d@mailjig.test>\r\n\r\n" % (size, size))


def generated_chunks(size, lines_per_chunk=32768):
    """The bytes of `message: {generate: {size: N}}`, in pieces (FORMAT.md):
    the first N-2 bytes of the header block followed by the lines
    "mailjig generated line 00000001" CRLF, "... 00000002" CRLF, ...; a CR
    ending those N-2 bytes becomes a space; then CRLF.  Exactly N bytes, only
    CRLF line ends, no line starting with a dot."""
    if not isinstance(size, int) or isinstance(size, bool) or not \
            GENERATED_MIN <= size <= GENERATED_MAX:
        raise ValueError(f"message: generate: size must be an integer from {GENERATED_MIN} "
                         f"to {GENERATED_MAX}, not {size!r}")
    want = size - 2
    head = generated_header(size)[:want]
    left = want - len(head)
    n = 1
    pieces = [head]
    while left > 0:
        count = min(lines_per_chunk, left // len(GENERATED_LINE % 0) + 1)
        block = b"".join(GENERATED_LINE % i for i in range(n, n + count))[:left]
        n += count
        left -= len(block)
        pieces.append(block)
    last = pieces[-1]
    if last.endswith(b"\r"):
        pieces[-1] = last[:-1] + b" "
    pieces.append(b"\r\n")
    for p in pieces:
        if p:
            yield p


def write_generated(path, size):
    """Write the generated message of `size` bytes to path; its sha256 in hex."""
    import hashlib
    h = hashlib.sha256()
    with open(path, "wb") as f:
        for chunk in generated_chunks(size):
            h.update(chunk)
            f.write(chunk)
    return h.hexdigest()


# Generated messages are written once per size and shared (read-only) by
# every adapter and run: a 100 MB one takes about 2 s to write.
GENERATED_DIR = os.environ.get("MJ_GENERATED_DIR", os.path.join(SRC, "build", "generated"))
GENERATED_VERSION = 1   # bump when the content rule changes


def generated_file(size):
    """The path of the generated message of `size` bytes (made when missing)."""
    next(generated_chunks(size))   # validates size
    os.makedirs(GENERATED_DIR, exist_ok=True)
    path = os.path.join(GENERATED_DIR, f"v{GENERATED_VERSION}-{size}.eml")
    try:
        if os.path.getsize(path) == size:
            return path
    except OSError:
        pass
    fd, tmp = tempfile.mkstemp(dir=GENERATED_DIR, prefix=".gen-")
    os.close(fd)
    try:
        write_generated(tmp, size)
        os.replace(tmp, path)   # atomic: parallel workers never see half a file
    except BaseException:
        os.unlink(tmp)
        raise
    return path


def message_file(scenario, workdir, name="message.eml"):
    """args.message as a file path every adapter can read: {file: PATH} (relative
    to the scenario), {text: STRING} (UTF-8) or {generate: {size: N}}."""
    msg = (scenario.client.get("args") or {}).get("message") or {}
    if "file" in msg:
        return os.path.join(os.path.dirname(scenario.path), str(msg["file"]))
    if "generate" in msg:
        return generated_file((msg.get("generate") or {}).get("size"))
    path = os.path.join(workdir, name)
    with open(path, "wb") as f:
        f.write(str(msg.get("text", "")).encode())
    return path


# ---- the fake server -----------------------------------------------------------

def _kill_group(proc, sig=signal.SIGKILL):
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def wait_exit(proc, timeout):
    """proc.wait(timeout), woken by a pidfd at the exit instead of Popen's
    sleep-and-poll loop (which adds up to a millisecond per scenario)."""
    if proc.returncode is not None:
        return proc.returncode
    try:
        fd = os.pidfd_open(proc.pid)
    except (AttributeError, OSError):  # no pidfd (old kernel): Popen's own loop
        return proc.wait(timeout)
    try:
        sel = selectors.DefaultSelector()
        sel.register(fd, selectors.EVENT_READ)
        ready = sel.select(timeout)
        sel.close()
    finally:
        os.close(fd)
    if not ready:
        raise subprocess.TimeoutExpired(proc.args, timeout)
    return proc.wait()


def read_line(fd, buf, deadline):
    """One line from the pipe fd, buf (bytes already read from it) first:
    (line without LF, the bytes after it), or None at the deadline (time.monotonic()).
    EOFError when the pipe ends before a full line."""
    with selectors.DefaultSelector() as sel:
        sel.register(fd, selectors.EVENT_READ)
        while b"\n" not in buf:
            left = deadline - time.monotonic()
            if left <= 0 or not sel.select(left):
                return None
            chunk = os.read(fd, 4096)
            if not chunk:
                raise EOFError
            buf += chunk
    line, _, rest = buf.partition(b"\n")
    return line, rest


class HarnessError(Exception):
    """The harness itself could not run the scenario (mjfake would not start)."""


class Fake:
    """mjfake serving one scenario.  Use as a context manager: always reaped."""

    def __init__(self, scenario, workdir, host="127.0.0.1", port=0, idle_ms=None):
        self.scenario = scenario
        self.transcript_path = os.path.join(workdir, "transcript.jsonl")
        self.log_path = os.path.join(workdir, "server.log")
        self.host = host
        cmd = [mjfake_path(), "--scenario", scenario.path, "--host", host, "--port", str(port),
               "--certs", CERTS, "--transcript", self.transcript_path, "--log", self.log_path]
        if idle_ms:
            cmd += ["--idle-timeout-ms", str(idle_ms)]
        self.cmd = cmd
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     start_new_session=True)
        self.port = None
        self.returncode = None
        self.stderr = ""

    def wait_ready(self, timeout=READY_TIMEOUT_S):
        try:
            got = read_line(self.proc.stdout.fileno(), b"", time.monotonic() + timeout)
        except EOFError:
            rc = self.proc.wait()
            err = self.proc.stderr.read().decode(errors="replace").strip()
            self.returncode = rc
            raise HarnessError(f"mjfake exited {rc} before READY: {err}") from None
        if got is None:
            raise HarnessError(f"mjfake printed no READY line within {timeout:.0f} s")
        line = got[0].decode(errors="replace")
        m = re.fullmatch(r"READY (\d+)", line)
        if not m:
            raise HarnessError(f"mjfake printed {line!r} instead of READY <port>")
        self.port = int(m.group(1))
        return self.port

    def finish(self, grace=FAKE_GRACE_S):
        """Wait for mjfake to end by itself, then SIGTERM, then SIGKILL."""
        if self.returncode is not None and self.proc.returncode is not None:
            return self.returncode
        try:
            if grace <= 0:
                raise subprocess.TimeoutExpired(self.cmd, 0)
            self.returncode = wait_exit(self.proc, grace)
        except subprocess.TimeoutExpired:
            _kill_group(self.proc, signal.SIGTERM)
            try:
                self.returncode = self.proc.wait(2)
            except subprocess.TimeoutExpired:
                _kill_group(self.proc)
                self.returncode = self.proc.wait()
        self.stderr = self.proc.stderr.read().decode(errors="replace")
        return self.returncode

    def kill(self):
        if self.proc.poll() is None:
            _kill_group(self.proc)
            self.proc.wait()
        for f in (self.proc.stdout, self.proc.stderr):
            try:
                f.close()
            except OSError:
                pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.kill()
        return False


# ---- the transcript --------------------------------------------------------------

_UNESCAPE = re.compile(rb"\\(x[0-9A-Fa-f]{2}|[rnt\\])")


def unescape(s):
    """mjfake's escaping (\\\\, \\r, \\n, \\t, \\xHH) back to bytes."""
    if s.isascii():
        # Fast path (a 100 MB message is millions of escapes): the escapes
        # are a subset of Python's, and a backslash is always one of them.
        return codecs.escape_decode(s.encode("ascii"))[0]
    def sub(m):
        g = m.group(1)
        return {b"r": b"\r", b"n": b"\n", b"t": b"\t", b"\\": b"\\"}.get(g) or \
            bytes([int(g[1:], 16)])
    return _UNESCAPE.sub(sub, s.encode("latin-1", "backslashreplace"))


def read_transcript(path):
    events = []
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                line = line.strip()
                if line:
                    try:
                        events.append(json.loads(line))
                    except ValueError:
                        events.append({"dir": "event", "event": "unparsable", "data": line})
    except FileNotFoundError:
        pass
    return events


def client_lines(events, before_tls=False):
    """The client's lines, per connection, decoded; before_tls: plaintext only."""
    bufs = {}
    for e in events:
        if e.get("dir") != "c":
            continue
        if before_tls and e.get("tls"):
            continue
        bufs.setdefault(e.get("conn", 0), bytearray()).extend(unescape(e.get("data", "")))
    lines = []
    for conn in sorted(bufs):
        for raw in re.split(rb"\r?\n", bytes(bufs[conn])):
            if raw:
                lines.append(raw.decode("utf-8", errors="replace"))
    return lines


def render_transcript(events, failing_step=None):
    """The transcript as C:/S: lines, events as '*' lines, with step positions."""
    out = []
    for e in events:
        d = e.get("dir")
        conn = e.get("conn", 0)
        tls = " tls" if e.get("tls") else ""
        step = e.get("step") or ""
        mark = "  <-- " + step if failing_step and step == failing_step and d != "event" else ""
        if d in ("c", "s"):
            text = e.get("data", "")
            parts = re.split(r"(?<=\\n)", text)
            for p in parts:
                if p:
                    out.append(f"{conn} {d.upper()}:{tls} {p}{'  [' + step + ']' if step else ''}")
        else:
            extra = {k: v for k, v in e.items()
                     if k not in ("t_ms", "conn", "dir", "data", "tls", "step", "event")}
            desc = e.get("data", "")
            if extra:
                desc += " " + json.dumps(extra, separators=(",", ":"))
            out.append(f"{conn} *{tls} {e.get('event', '?')}: {desc}"
                       f"{'  [' + step + ']' if step else ''}")
        if mark:
            out[-1] += "  <-- failing step"
    return "\n".join(out)


# ---- judging ---------------------------------------------------------------------------

def _pattern_re(pattern):
    """A sent/never_sent pattern: a substring of a client line, `*` any run."""
    if isinstance(pattern, dict):
        flags = re.I if pattern.get("icase") else 0
        if "re" in pattern:
            return re.compile(pattern["re"], flags)
        pattern = pattern.get("text", "")
    else:
        flags = 0
    return re.compile(".*".join(re.escape(p) for p in str(pattern).split("*")), flags)


def partial_match(expected, actual, path="result"):
    """Differences between expected (a partial description) and actual."""
    diffs = []
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [f"{path}: expected a mapping, got {actual!r}"]
        for k, v in expected.items():
            if k not in actual:
                diffs.append(f"{path}.{k}: missing (expected {v!r})")
            else:
                diffs += partial_match(v, actual[k], f"{path}.{k}")
    elif isinstance(expected, list):
        if not isinstance(actual, list) or len(actual) != len(expected):
            return [f"{path}: expected {expected!r}, got {actual!r}"]
        for i, (e, a) in enumerate(zip(expected, actual)):
            diffs += partial_match(e, a, f"{path}[{i}]")
    elif expected != actual:
        diffs.append(f"{path}: expected {expected!r}, got {actual!r}")
    return diffs


class Run:
    """Everything one scenario run produced, and the verdict."""

    def __init__(self, scenario, adapter):
        self.scenario = scenario
        self.adapter = adapter
        self.outcome = None          # the class the adapter reported
        self.reason = ""             # the client's own cause, when it says one
        self.message = ""
        self.result = {}
        self.unobservable = set()   # result keys this adapter cannot report
        self.elapsed_ms = 0.0
        self.killed = False
        self.crashed = None          # text when the adapter crashed
        self.client_log = ""
        self.command = ""
        self.fake_rc = None
        self.fake_stderr = ""
        self.events = []
        self.failures = []
        self.notes = []
        self.na = None               # reason when not applicable
        self.harness_error = None

    @property
    def passed(self):
        return self.na is None and not self.failures

    def failing_step(self):
        for e in self.events:
            if e.get("dir") == "event" and e.get("event") in ("mismatch", "oracle"):
                return e.get("step")
        m = re.match(r"(.+?:\d+:\d+):", self.fake_stderr or "")
        return m.group(1) if m else None

    def judge(self):
        sc = self.scenario
        exp = sc.expect
        f = self.failures
        if self.harness_error:
            f.append(f"harness: {self.harness_error}")
            return
        if self.crashed:
            f.append(f"outcome: expected {' or '.join(sc.outcomes)}, got an adapter crash: "
                     f"{self.crashed}")
        elif self.outcome not in sc.outcomes:
            got = self.outcome + (f" ({self.reason})" if self.reason else "")
            f.append(f"outcome: expected {' or '.join(sc.outcomes)}, got {got}")
        if "result" in exp and not self.crashed and self.outcome in sc.outcomes:
            unobservable = set(self.unobservable)
            if "reason" not in (self.result or {}) and not self.reason:
                unobservable.add("reason")   # this client names no cause here
            want = {k: v for k, v in exp["result"].items() if k not in unobservable}
            skipped = sorted(set(exp["result"]) & unobservable)
            if skipped:
                self.notes.append(f"not observable with {self.adapter}: result.{', result.'.join(skipped)}")
            actual = dict(self.result or {})
            if "reason" not in actual and self.reason:
                actual["reason"] = self.reason
            f += partial_match(want, actual)
        lines = client_lines(self.events)
        for p in exp.get("sent") or []:
            r = _pattern_re(p)
            if not any(r.search(l) for l in lines):
                f.append(f"sent: no client line matches {p!r}")
        for key in ("never_sent", "never_sent_before_tls"):
            if not exp.get(key):
                continue
            ls = lines if key == "never_sent" else client_lines(self.events, before_tls=True)
            for p in exp.get(key) or []:
                r = _pattern_re(p)
                hits = [l for l in ls if r.search(l)]
                if hits:
                    f.append(f"{key}: the client sent {hits[0]!r} (matches {p!r})")
        if "within_ms" in exp:
            if self.killed:
                f.append(f"within_ms: the client did not finish within {exp['within_ms']} ms "
                         f"(killed by the harness)")
            elif self.elapsed_ms > exp["within_ms"]:
                f.append(f"within_ms: the client took {self.elapsed_ms:.0f} ms, "
                         f"more than {exp['within_ms']} ms")
        oracles = [e for e in self.events if e.get("event") == "oracle"]
        for e in oracles:
            f.append(f"server oracle: {e.get('data')}")
        if self.fake_rc in (2, 3) or (self.fake_rc is not None and self.fake_rc < 0
                                      and self.fake_rc != -signal.SIGKILL):
            f.append(f"mjfake: exit status {self.fake_rc}: {self.fake_stderr.strip()}")
        elif sc.consumed_required() and self.fake_rc != 0 and not oracles:
            why = self.fake_stderr.strip() or f"exit status {self.fake_rc}"
            f.append(f"server_consumed: the server's script did not run to its end: {why}")

    def report_text(self):
        """What a person needs to fix it."""
        sc = self.scenario
        out = [f"scenario {sc.name} ({display_path(sc.path)}) with {self.adapter}",
               f"  {sc.summary}"]
        for x in self.failures:
            out.append("FAILED " + x)
        out.append(f"expected outcome: {' or '.join(sc.outcomes)}")
        out.append("actual outcome:   " + (f"adapter crash: {self.crashed}" if self.crashed else
                                           f"{self.outcome}" + (f" ({self.reason})" if self.reason else "")))
        if self.message:
            out.append(f"client message:   {self.message}")
        out.append(f"client time:      {self.elapsed_ms:.0f} ms" + (" (killed)" if self.killed else ""))
        if self.command:
            out.append(f"client command:   {self.command}")
        out.append(f"mjfake exit:      {self.fake_rc}" +
                   (f": {self.fake_stderr.strip()}" if self.fake_stderr.strip() else ""))
        for n in self.notes:
            out.append("note: " + n)
        step = self.failing_step()
        out.append("--- transcript (conn dir: data [step])" +
                   (f"; failing step {step}" if step else ""))
        out.append(render_transcript(self.events, step) or "(empty: no connection)")
        if self.client_log:
            out.append("--- client protocol log")
            out.append(self.client_log.rstrip())
        return "\n".join(out)


class Endpoint:
    """Where the client connects: it asks for HOST:port, which resolves to addr."""

    def __init__(self, addr, port):
        self.host = HOST
        self.addr = addr
        self.port = port


def fake_idle_ms(scenario):
    """mjfake's --idle-timeout-ms for a scenario: longer than the client's limit."""
    return max(10000, scenario.limit_ms() + 1000)


class Prepared:
    """A work directory and an mjfake started before its scenario's turn.

    The plugin starts the next test's mjfake while the current client runs, so
    mjfake's start (exec, scenario load, READY, the TLS context) is off the
    critical path of a serial run.  Owned by whoever holds it: run_scenario
    takes it over, otherwise discard() reaps it.
    """

    def __init__(self, workdir, fake):
        self.workdir = workdir
        self.fake = fake

    def alive(self):
        return self.fake.proc.poll() is None

    def discard(self):
        self.fake.kill()
        shutil.rmtree(self.workdir, ignore_errors=True)


def prepare(scenario, wait_ms):
    """Start mjfake for a scenario that will run within wait_ms; a Prepared,
    or None for a scenario on a fixed port (its address is picked at its turn)."""
    if scenario.server.get("port"):
        return None
    workdir = tempfile.mkdtemp(prefix="mjh-")
    try:
        fake = Fake(scenario, workdir, idle_ms=fake_idle_ms(scenario) + wait_ms)
    except OSError:
        shutil.rmtree(workdir, ignore_errors=True)
        return None
    return Prepared(workdir, fake)


def run_scenario(scenario, adapter, addr_for_port=None, keep_dir=None, prepared=None,
                 on_ready=None):
    """Run one scenario with one adapter (an Adapter instance); return a Run.

    addr_for_port(): a fresh loopback address for scenarios with server.port.
    prepared: a Prepared from prepare() for this scenario (taken over: used if
    its mjfake is still alive, reaped in any case).  on_ready(): called once
    mjfake is READY, before the client starts (the plugin prepares the next
    test there).
    """
    run = Run(scenario, adapter.name)
    na = adapter.not_applicable(scenario)
    if na:
        run.na = na
        if prepared is not None:
            prepared.discard()
        return run
    if prepared is not None and not prepared.alive():
        prepared.discard()
        prepared = None
    workdir = prepared.workdir if prepared is not None else tempfile.mkdtemp(prefix="mjh-")
    try:
        port = scenario.server.get("port")
        attempts = 3 if port else 1
        for attempt in range(attempts):
            host = addr_for_port() if port else "127.0.0.1"
            if prepared is not None:
                fake, prepared = prepared.fake, None
            else:
                fake = Fake(scenario, workdir, host=host, port=port or 0,
                            idle_ms=fake_idle_ms(scenario))
            with fake:
                try:
                    fake.wait_ready()
                    if on_ready is not None:
                        on_ready()
                        on_ready = None
                except HarnessError as e:
                    if fake.returncode == 3 and attempt + 1 < attempts:
                        continue  # the address was taken: another one
                    run.harness_error = str(e)
                    return run
                ep = Endpoint(host, fake.port)
                try:
                    adapter.run(scenario, ep, workdir, scenario.limit_ms(), run)
                except BaseException:
                    fake.kill()   # Ctrl-C or a harness bug: no grace, reap now
                    raise
                else:
                    if scenario.server.get("accept") == "refuse":
                        fake.finish(grace=0)  # it listens for nothing: never ends by itself
                    elif run.killed or run.crashed:
                        fake.finish(grace=0.2)
                    else:
                        fake.finish()
                run.fake_rc = fake.returncode
                run.fake_stderr = fake.stderr
                run.events = read_transcript(fake.transcript_path)
            break
        if run.na is None:
            run.judge()
        return run
    finally:
        if keep_dir:
            shutil.copytree(workdir, keep_dir, dirs_exist_ok=True)
        shutil.rmtree(workdir, ignore_errors=True)


def run_process(cmd, limit_ms, stdin=None, env=None):
    """Run a client command in its own process group, killed at limit_ms.

    Returns (returncode or None when killed, stdout, stderr, elapsed_ms).
    """
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True, env=env)
    try:
        out, err = proc.communicate(stdin, timeout=limit_ms / 1000.0)
        rc = proc.returncode
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        out, err = proc.communicate()
        rc = None
    except BaseException:
        _kill_group(proc)
        proc.wait()
        raise
    finally:
        if proc.poll() is None:
            _kill_group(proc)
            proc.wait()
    return rc, out, err, (time.monotonic() - t0) * 1000.0
