"""`mj --batch` seen from the harness: one long-lived mj that forks a child per
command (client/cli/batch.c has the protocol).

The child is the same mj main in a fresh process of its own, but it inherits
an OpenSSL that the batch process initialised once, which saves most of a
short TLS command's CPU time.  run() has run_process's contract: the command's
exit code (None when the harness killed it at the limit), its stdout and
stderr, the elapsed milliseconds.
"""
import json
import os
import signal
import subprocess
import time

from .. import core

# How long the batch process may take to answer that it started a command.
START_TIMEOUT_S = 5.0
# How long it may take to report a command's end after the harness killed it.
REAP_TIMEOUT_S = 5.0
# The same after Ctrl-C or a failure, when the harness is leaving.
ABANDON_TIMEOUT_S = 1.0


class BatchUnavailable(Exception):
    """The command did not start (no --batch in this mj, or the batch process
    is gone): running mj directly instead is safe."""


class BatchBroken(Exception):
    """The command started but the batch process failed before reporting its
    end: the scenario's run is lost (an adapter crash), not retried."""


class MjBatch:
    def __init__(self, binary):
        self.binary = binary
        self.proc = None
        self.buf = b""

    def _start(self):
        # Not a session of its own: a Ctrl-C in the terminal ends it with pytest.
        self.proc = subprocess.Popen([self.binary, "--batch"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self.buf = b""

    def close(self, timeout=REAP_TIMEOUT_S):
        """End the batch process: EOF on its stdin, SIGKILL after timeout."""
        if self.proc is None:
            return
        proc, self.proc = self.proc, None
        try:
            proc.stdin.close()
        except OSError:
            pass
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        proc.stdout.close()

    def _answer(self, deadline):
        """The next answer line as a dict; None at the deadline; BatchUnavailable at EOF."""
        try:
            got = core.read_line(self.proc.stdout.fileno(), self.buf, deadline)
        except EOFError:
            raise BatchUnavailable("mj --batch ended") from None
        if got is None:
            return None
        line, self.buf = got
        try:
            doc = json.loads(line)
        except ValueError:
            raise BatchUnavailable(f"mj --batch answered {line[:200]!r}") from None
        if not isinstance(doc, dict):
            raise BatchUnavailable(f"mj --batch answered {line[:200]!r}")
        return doc

    def run(self, argv, workdir, limit_ms):
        """Run `mj ARGV` in a child of the batch process, killed at limit_ms."""
        if self.proc is None or self.proc.poll() is not None:
            self._start()
        out_path = os.path.join(workdir, "mj.stdout")
        err_path = os.path.join(workdir, "mj.stderr")
        req = json.dumps({"argv": list(argv), "stdout": out_path, "stderr": err_path}) + "\n"
        t0 = time.monotonic()
        pid = None
        try:
            try:
                self.proc.stdin.write(req.encode())
                self.proc.stdin.flush()
            except OSError as e:
                raise BatchUnavailable(f"mj --batch: {e}") from None
            started = self._answer(time.monotonic() + START_TIMEOUT_S)
            if started is None or "pid" not in started:
                raise BatchUnavailable(f"mj --batch did not start the command: {started}")
            pid = int(started["pid"])
            try:
                done = self._answer(t0 + limit_ms / 1000.0)
            except BatchUnavailable as e:
                raise BatchBroken(str(e)) from None
            killed = done is None
            if killed:
                _kill_group(pid)
                done = self._answer(time.monotonic() + REAP_TIMEOUT_S)
                if done is None:
                    raise BatchBroken("mj --batch did not reap a killed command")
            pid = None
        except BaseException:
            # Ctrl-C, or a batch process that misbehaves: nothing may outlive
            # us.  The batch process reaps the killed command, then ends at EOF.
            if pid is not None:
                _kill_group(pid)
            self.close(timeout=ABANDON_TIMEOUT_S)
            raise
        elapsed = (time.monotonic() - t0) * 1000.0
        rc = None if killed else (done["exit"] if "exit" in done else -int(done.get("signal", 0)))
        return rc, _read(out_path), _read(err_path), elapsed


def _kill_group(pid):
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _read(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return b""
