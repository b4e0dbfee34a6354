"""Loads the mailjig harness plugin for `pytest harness`.

harness/tests (the plugin's self-tests) are collected only when named on the
command line, so `pytest harness` runs the scenarios and nothing else.
"""
import os

from harness.plugin import *  # noqa: F401,F403 - the hooks

_TESTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "tests")


def pytest_ignore_collect(collection_path, config):
    p = str(collection_path)
    if p == _TESTS or p.startswith(_TESTS + os.sep):
        args = [os.path.abspath(str(a).split("::")[0]) for a in config.args]
        if not any(a == _TESTS or a.startswith(_TESTS + os.sep) for a in args):
            return True
    return None
