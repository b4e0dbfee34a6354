"""scenarios/FORMAT.md documents exactly the keys the loader accepts.

The keys documented are the first-column `key` cells of the tables that follow
a `<!-- keys: SECTION -->` marker (up to the next heading); the keys accepted
are what `mjfake --list-keys` prints, one "section.key" per line.  Both
directions are checked, so a key added to the loader without documentation, or
documented without support, fails here.
"""
import os
import re
import subprocess
from pathlib import Path

import pytest

SRCDIR = Path(os.environ.get("MJ_SRCDIR") or Path(__file__).resolve().parents[2])
MARKER = re.compile(r"^<!-- keys: ([a-z_]+) -->$")
ROW = re.compile(r"^\| `([^`]+)` \|")


def mjfake():
    candidates = []
    if os.environ.get("MJ_BIN"):
        candidates.append(Path(os.environ["MJ_BIN"]) / "mjfake")
    candidates += sorted(SRCDIR.glob("build/*/bin/mjfake"))
    for c in candidates:
        if c.is_file() and os.access(c, os.X_OK):
            return c
    pytest.fail("mjfake not built (looked in $MJ_BIN and build/*/bin)")


def documented_keys():
    keys, section, dupes = [], None, []
    for line in (SRCDIR / "scenarios" / "FORMAT.md").read_text().splitlines():
        m = MARKER.match(line.strip())
        if m:
            section = m.group(1)
            continue
        if line.startswith("#"):
            section = None
            continue
        row = ROW.match(line)
        if section and row:
            key = f"{section}.{row.group(1)}"
            (dupes if key in keys else keys).append(key)
    return keys, dupes


def loader_keys():
    out = subprocess.run([str(mjfake()), "--list-keys"], capture_output=True, text=True,
                         check=True, timeout=10)
    return out.stdout.split()


def test_every_loader_key_is_documented():
    documented, _ = documented_keys()
    missing = [k for k in loader_keys() if k not in documented]
    assert missing == [], f"keys the loader accepts but FORMAT.md does not document: {missing}"


def test_every_documented_key_is_accepted():
    documented, _ = documented_keys()
    accepted = set(loader_keys())
    extra = [k for k in documented if k not in accepted]
    assert extra == [], f"keys FORMAT.md documents but the loader refuses: {extra}"


def test_no_key_documented_twice():
    _, dupes = documented_keys()
    assert dupes == []


def test_the_parser_sees_every_section():
    documented, _ = documented_keys()
    sections = {k.split(".")[0] for k in documented}
    assert sections == {"top", "server", "forbid", "connection", "step", "pattern", "expect",
                        "data", "starttls", "drip", "close", "client", "expect_top"}
    assert len(documented) == len(loader_keys()) > 60
