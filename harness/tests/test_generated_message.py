"""Self-tests of `message: {generate: {size: N}}` (scenarios/FORMAT.md,
"Generated messages"): exact size, deterministic, the documented content
rule, and the sha256 the large scenario relies on."""
import hashlib
import os
import re
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(os.path.dirname(HERE)))

from harness import core  # noqa: E402


def generated(n):
    return b"".join(core.generated_chunks(n))


def reference(n):
    """The rule as FORMAT.md states it, written the slow and obvious way."""
    text = (b"From: generator@mailjig.test\r\nTo: bob@mailjig.test\r\n"
            b"Subject: mailjig generated message of %d bytes\r\n"
            b"Message-ID: <generated-%d@mailjig.test>\r\n\r\n" % (n, n))
    i = 1
    while len(text) < n:
        text += b"mailjig generated line %08d\r\n" % i
        i += 1
    text = text[:n - 2]
    if text.endswith(b"\r"):
        text = text[:-1] + b" "
    return text + b"\r\n"


@pytest.mark.parametrize("n", [2, 3, 4, 50, 143, 144, 145, 146, 147, 178, 179, 180, 1000,
                               16384, 40000, 65537])
def test_exact_size_and_rule(n):
    b = generated(n)
    assert len(b) == n
    assert b == reference(n)
    assert b.endswith(b"\r\n")
    # Only CRLF line ends, no line starting with a dot (DATA content = the bytes).
    assert b"\r" not in b.replace(b"\r\n", b"") and b"\n" not in b.replace(b"\r\n", b"")
    assert not re.search(rb"(^|\r\n)\.", b)


def test_deterministic_and_independent_of_chunking():
    a = generated(100003)
    assert a == generated(100003)
    assert a == b"".join(core.generated_chunks(100003, lines_per_chunk=7))


def test_known_digests(tmp_path):
    # The digests scenarios/smtp/extensions/*.yaml hold.
    assert hashlib.sha256(generated(40000)).hexdigest() == \
        "f0674902cb7652f3fccb8e42cb54d721cfa1b157a010eec5f222b53faaed84ff"
    path = tmp_path / "m.eml"
    assert core.write_generated(str(path), 40000) == hashlib.sha256(generated(40000)).hexdigest()
    assert path.stat().st_size == 40000


def test_file_cache(tmp_path, monkeypatch):
    monkeypatch.setattr(core, "GENERATED_DIR", str(tmp_path))
    p = core.generated_file(5000)
    assert os.path.getsize(p) == 5000
    assert core.generated_file(5000) == p
    with open(p, "rb") as f:
        assert f.read() == generated(5000)
    assert [x for x in os.listdir(tmp_path) if x.startswith(".gen-")] == []


@pytest.mark.parametrize("bad", [0, 1, -5, "100", 1.5, True, None, (1 << 32) + 1])
def test_bad_sizes(bad):
    with pytest.raises(ValueError, match="size must be an integer"):
        next(core.generated_chunks(bad))
