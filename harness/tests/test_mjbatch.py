"""The harness's side of `mj --batch` (harness/adapters/mjbatch.py): the
fallback when the batch is missing, a command killed at its limit, a batch
process that dies under a running command.

Environment as in `make pytest`: MJ_BIN (mj).
"""
import os
import socket
import threading
import time

import pytest

from harness.adapters.mjbatch import BatchBroken, BatchUnavailable, MjBatch

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.environ.get("MJ_SRCDIR", os.path.dirname(os.path.dirname(HERE)))
MJ = os.path.join(os.environ.get("MJ_BIN", os.path.join(SRC, "build", "gcc", "bin")), "mj")

pytestmark = pytest.mark.skipif(not os.access(MJ, os.X_OK), reason="mj is not built")


@pytest.fixture
def silent():
    """A listener that accepts and never says anything: mj waits for a greeting."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(8)
    yield s.getsockname()[1]
    s.close()


def refused_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_command_without_batch_is_unavailable_not_run(tmp_path):
    b = MjBatch("/bin/true")   # exits at once, as an mj without --batch would
    with pytest.raises(BatchUnavailable):
        b.run(["--json", "imap://127.0.0.1:1/", "probe"], str(tmp_path), 5000)
    b.close()


def test_killed_at_the_limit_then_the_next_command_runs(tmp_path, silent):
    b = MjBatch(MJ)
    try:
        t0 = time.monotonic()
        rc, out, _, elapsed = b.run(["--json", "--timeout-ms", "60000",
                                     f"imap://127.0.0.1:{silent}/", "probe"], str(tmp_path), 300)
        assert rc is None and out == b""
        assert 300 <= elapsed < 3000 and time.monotonic() - t0 < 3
        rc, out, _, _ = b.run(["--json", f"imap://127.0.0.1:{refused_port()}/", "probe"],
                              str(tmp_path), 5000)
        assert rc == 10 and b'"connect-failed"' in out
    finally:
        b.close()


def test_a_batch_that_dies_under_a_command_breaks_that_run_only(tmp_path, silent):
    b = MjBatch(MJ)
    try:
        b.run(["--version"], str(tmp_path), 5000)    # the batch process is up
        victim = b.proc
        threading.Timer(0.3, victim.kill).start()
        with pytest.raises(BatchBroken):
            b.run(["--json", "--timeout-ms", "60000", f"imap://127.0.0.1:{silent}/", "probe"],
                  str(tmp_path), 10000)
        assert b.proc is None and victim.poll() is not None
        rc, out, _, _ = b.run(["--version"], str(tmp_path), 5000)   # a new batch process
        assert rc == 0 and out.startswith(b"mj ")
    finally:
        b.close()
