"""`mj --batch`: requests on stdin, a forked child per command, answers on stdout
(client/cli/batch.c).  Each command must behave exactly as `mj ARGS` does; bad
requests are refused without stopping the batch; a killed command is reported.
"""

import json
import os
import signal
import subprocess

import pytest

from test_mj_cli import CERTS, EXIT, MJ, LineServer, TlsServer, free_port, run


class Batch:
    def __init__(self):
        self.proc = subprocess.Popen([MJ, "--batch"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def send(self, text):
        self.proc.stdin.write(text.encode() if isinstance(text, str) else text)
        self.proc.stdin.flush()

    def request(self, tmp_path, name, argv, **extra):
        req = {"argv": argv, "stdout": str(tmp_path / f"{name}.out"),
               "stderr": str(tmp_path / f"{name}.err"), **extra}
        self.send(json.dumps(req) + "\n")

    def answer(self):
        line = self.proc.stdout.readline()
        assert line.endswith(b"\n"), line
        return json.loads(line)

    def finish(self):
        out, err = self.proc.communicate(timeout=15)
        return self.proc.returncode, out, err

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def batch():
    b = Batch()
    yield b
    b.kill()


def ran(batch, tmp_path, name, argv, **extra):
    """One command through the batch: (exit code, stdout text, stderr text)."""
    batch.request(tmp_path, name, argv, **extra)
    started = batch.answer()
    assert set(started) == {"pid"} and started["pid"] > 0, started
    done = batch.answer()
    assert done["pid"] == started["pid"] and "exit" in done, done
    return (done["exit"], (tmp_path / f"{name}.out").read_text(),
            (tmp_path / f"{name}.err").read_text())


def test_batch_command_is_the_command(batch, tmp_path):
    srv = LineServer(b"* OK ready\r\n")
    try:
        port = free_port()
        for name, argv in (("probe", ["--json", f"imap://127.0.0.1:{srv.port}/", "probe"]),
                           ("refused", ["--json", f"imap://127.0.0.1:{port}/", "probe"]),
                           ("text", [f"pop3://127.0.0.1:{port}/", "stat"]),
                           ("usage", ["--json", "imap://127.0.0.1/", "no-such-op"])):
            code, out, err = ran(batch, tmp_path, name, argv)
            direct = run(*argv)
            assert code == direct.returncode, (name, out, direct.stdout)
            assert out == direct.stdout, name
            assert err == direct.stderr, name
        assert code == EXIT["usage"]
    finally:
        srv.close()
    assert batch.finish() == (0, b"", b"")


def test_batch_tls_commands(batch, tmp_path):
    """TLS in children of a batch that initialised OpenSSL before forking."""
    srv = TlsServer("valid")
    try:
        argv = ["--json", "--cafile", os.path.join(CERTS, "ca.crt"),
                f"imaps://localhost:{srv.port}/", "probe"]
        code, out, _ = ran(batch, tmp_path, "tls", argv)
        doc = json.loads(out)
        assert (code, doc["outcome"]) == (0, "ok"), out
        assert doc["result"]["tls"]["state"] == "verified"
    finally:
        srv.close()
    # An untrusted chain is refused in a child as it is by mj itself.
    srv = TlsServer("valid")
    try:
        code, out, _ = ran(batch, tmp_path, "untrusted",
                           ["--json", f"imaps://localhost:{srv.port}/", "probe"])
        assert (code, json.loads(out)["outcome"]) == (EXIT["certificate-invalid"],
                                                      "certificate-invalid"), out
    finally:
        srv.close()


def test_batch_stdin_is_its_own(batch, tmp_path):
    """The requests never reach a command's stdin: /dev/null unless "stdin" names a file."""
    argv = ["--json", "--user", "u", "--password-file", "/dev/stdin",
            f"imap://127.0.0.1:{free_port()}/", "probe"]
    pw = tmp_path / "pw"
    pw.write_text("secret\n")
    # Both requests in one write: the first command must not see the second line.
    first = {"argv": argv, "stdout": str(tmp_path / "a.out"), "stderr": str(tmp_path / "a.err")}
    second = dict(first, stdout=str(tmp_path / "b.out"), stdin=str(pw))
    batch.send(json.dumps(first) + "\n" + json.dumps(second) + "\n")
    answers = [batch.answer() for _ in range(4)]
    assert [a.get("exit") for a in answers] == [None, EXIT["usage"], None, EXIT["connect-failed"]]
    assert "the first line is empty" in json.loads((tmp_path / "a.out").read_text())["message"]
    assert json.loads((tmp_path / "b.out").read_text())["outcome"] == "connect-failed"


def test_batch_refuses_bad_requests(batch, tmp_path):
    out, err = str(tmp_path / "x.out"), str(tmp_path / "x.err")
    bad = [
        ("not json", "the request is not JSON"),
        ("[1, 2]", "not a JSON object"),
        (json.dumps({"stdout": out, "stderr": err}), '"argv"'),
        (json.dumps({"argv": "probe", "stdout": out, "stderr": err}), '"argv"'),
        (json.dumps({"argv": ["--json", 7], "stdout": out, "stderr": err}), "other than a string"),
        (json.dumps({"argv": ["a\u0000b"], "stdout": out, "stderr": err}), "not allowed"),
        (json.dumps({"argv": ["--help"], "stderr": err}), '"stdout" (a path) is required'),
        (json.dumps({"argv": ["--help"], "stdout": out}), '"stderr" (a path) is required'),
        (json.dumps({"argv": ["--help"], "stdout": 3, "stderr": err}), '"stdout" must be'),
        (json.dumps({"argv": ["--help"], "stdout": str(tmp_path / "no" / "x"), "stderr": err}),
         "cannot open stdout"),
        (json.dumps({"argv": ["--help"], "stdin": str(tmp_path / "none"), "stdout": out,
                     "stderr": err}), "cannot open stdin"),
        ("x" * 70000, "longer than 65536 bytes"),
    ]
    for line, why in bad:
        batch.send(line + "\n")
        a = batch.answer()
        assert set(a) == {"error"} and why in a["error"], (line[:60], a)
    # Still serving, and an empty line is ignored.
    batch.send("\n")
    code, text, _ = ran(batch, tmp_path, "help", ["--help"])
    assert code == 0 and "operations:" in text
    assert batch.finish()[0] == 0


@pytest.mark.parametrize("size,newline", [(65536, b""), (65536, b"\n"), (65537, b""),
                                          (65537, b"\n"), (200000, b"")])
def test_batch_line_limit(size, newline):
    """65536 bytes are read as a request (here not JSON); one more is refused,
    also when end of input cuts the line; then the batch ends."""
    p = subprocess.run([MJ, "--batch"], input=b"x" * size + newline, capture_output=True,
                       timeout=15)
    assert p.returncode == 0
    answers = [json.loads(x) for x in p.stdout.splitlines()]
    assert len(answers) == 1, answers
    if size <= 65536:
        assert answers[0]["error"].startswith("the request is not JSON")
    else:
        assert answers[0] == {"error": "a request line is longer than 65536 bytes"}


def test_batch_reports_a_killed_command(batch, tmp_path):
    silent = LineServer(None)
    try:
        batch.request(tmp_path, "hang", ["--json", "--timeout-ms", "60000",
                                         f"imap://127.0.0.1:{silent.port}/", "probe"])
        pid = batch.answer()["pid"]
        os.killpg(pid, signal.SIGKILL)   # a group of its own, as the answer says
        assert batch.answer() == {"pid": pid, "signal": signal.SIGKILL}
    finally:
        silent.close()
    code, _, _ = ran(batch, tmp_path, "after", ["--json", f"imap://127.0.0.1:{free_port()}/",
                                                "probe"])
    assert code == EXIT["connect-failed"]


def test_batch_takes_no_arguments():
    p = run("--batch", "imap://127.0.0.1/")
    assert p.returncode == EXIT["usage"]
    assert "--batch takes no other arguments" in p.stderr
    assert p.stdout == ""
