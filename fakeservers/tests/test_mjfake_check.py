"""mjfake's command line without serving: --check, --help, --version, bad options."""
import os
import subprocess
from pathlib import Path

from test_format_doc import SRCDIR, mjfake

GOOD = SRCDIR / "fakeservers" / "tests" / "good"
BAD = SRCDIR / "fakeservers" / "tests" / "bad"


def run(*args):
    return subprocess.run([str(mjfake()), *map(str, args)], capture_output=True, text=True,
                          timeout=20)


def test_check_good_files():
    files = sorted(GOOD.glob("*.yaml"))
    r = run("--check", *files)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.splitlines() == [f"{f}: ok" for f in files]


def test_check_mixed_reports_each_and_exits_2():
    good, bad = GOOD / "example.yaml", BAD / "port_range.yaml"
    r = run("--check", good, bad)
    assert r.returncode == 2
    assert r.stdout.splitlines() == [
        f"{good}: ok",
        f"{bad}:4:9: port: expected an integer from 0 to 65535, found 70000",
    ]


def test_check_every_bad_file_fails_with_a_position():
    for f in sorted(BAD.glob("*.yaml")):
        r = run("--check", f)
        assert r.returncode == 2, f
        line = r.stdout.rstrip("\n")
        assert "\n" not in line
        assert line.startswith(f"{f}:"), line


def test_scenario_load_error_exits_2_on_stderr():
    r = run("--scenario", BAD / "unknown_top_key.yaml", "--port", "0")
    assert r.returncode == 2
    assert r.stdout == ""
    assert r.stderr.startswith(f"{BAD / 'unknown_top_key.yaml'}:2:1: unknown key 'sumary'")


def test_help_and_version():
    r = run("--help")
    assert r.returncode == 0 and r.stdout.startswith("usage: mjfake --check FILE...")
    r = run("--version")
    assert r.returncode == 0 and r.stdout.startswith("mjfake ")


def test_bad_options_exit_2_with_one_line():
    cases = [
        (["--bogus"], "mjfake: unknown option '--bogus' (see mjfake --help)\n"),
        (["--scenario", "x.yaml", "--port", "70000"],
         "mjfake: --port: expected a port number from 0 to 65535, found '70000'\n"),
        (["--scenario"], "mjfake: --scenario needs a file\n"),
        (["--check"], "mjfake: --check needs one file or more\n"),
        ([], "mjfake: nothing to do: give --scenario FILE or --check FILE...\n"),
        (["--scenario", "x.yaml", "--line-max", "0"],
         "mjfake: --line-max: expected a byte count from 1 to 16777216, found '0'\n"),
    ]
    for args, err in cases:
        r = run(*args)
        assert (r.returncode, r.stderr) == (2, err), args
