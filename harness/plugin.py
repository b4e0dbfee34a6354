"""The pytest plugin: every scenario x adapter is a test item.

Loaded by harness/conftest.py; `pytest harness` collects the scenarios through
the anchor file harness/suite.py.  Options (see README.md, "Conformance
harness"): --scenarios DIR, --adapters LIST, --adapter-cmd NAME=COMMAND,
--gate LIST, --report-dir DIR.
"""
import atexit
import json
import os
import time

import pytest

from . import core, report
from . import adapters as adapters_mod

SUITE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "suite.py")
PROPS = "mailjig_harness"


def pytest_addoption(parser):
    g = parser.getgroup("mailjig", "mailjig conformance harness")
    g.addoption("--scenarios", default=None,
                help="scenario directory (default: the repository's scenarios/)")
    g.addoption("--adapters", default=None,
                help="comma-separated adapters (mj, curl, python, or --adapter-cmd names); "
                     "default: every installed one")
    g.addoption("--adapter-cmd", action="append", default=[], metavar="NAME=COMMAND",
                help="an external command as adapter NAME (JSON on stdin and stdout)")
    g.addoption("--gate", default="mj",
                help="adapters whose failures fail the run (comma-separated, or 'all'); "
                     "default mj")
    g.addoption("--report-dir", default=None,
                help="write conformance.html and conformance.json here")
    g.addoption("--mj-exec", action="store_true", default=False,
                help="start mj afresh for every scenario instead of forking it from "
                     "one `mj --batch` process")


def scenario_dir(config):
    d = config.getoption("scenarios") or os.path.join(core.SRC, "scenarios")
    return os.path.abspath(d)


def adapter_names(config):
    names = config.getoption("adapters")
    if names:
        return [n.strip() for n in names.split(",") if n.strip()]
    return adapters_mod.installed() + [s.partition("=")[0]
                                       for s in config.getoption("adapter_cmd")]


def pytest_configure(config):
    config.addinivalue_line("markers", "imap: an IMAP scenario")
    config.addinivalue_line("markers", "pop3: a POP3 scenario")
    config.addinivalue_line("markers", "smtp: a SMTP scenario")
    # Tags are markers: register every tag of the scenario directory (cheap:
    # the files are read again at collection).
    seen = set()
    for path in core.find_scenarios(scenario_dir(config)):
        try:
            tags = core.load_scenario(path).tags
        except Exception:  # noqa: BLE001 - a broken file fails at collection
            continue
        for t in tags:
            if t not in seen and t.isidentifier():
                seen.add(t)
                config.addinivalue_line("markers", f"{t}: scenarios tagged {t}")
    config._mj_results = []
    config._mj_adapters = None


def get_adapters(config):
    if config._mj_adapters is None:
        config._mj_adapters = adapters_mod.make(adapter_names(config),
                                                config.getoption("adapter_cmd"),
                                                mj_batch=not config.getoption("mj_exec"))
    return config._mj_adapters


def pytest_unconfigure(config):
    for a in getattr(config, "_mj_adapters", None) or []:
        a.close()


def pytest_collect_file(file_path, parent):
    if str(file_path) == SUITE:
        return Suite.from_parent(parent, path=file_path)
    return None


class Suite(pytest.File):
    """The scenario directory: one ScenarioFile per YAML file."""

    def collect(self):
        root = scenario_dir(self.config)
        paths = core.find_scenarios(root)
        try:
            errors = core.check_files(paths)
        except OSError as e:
            raise self.CollectError(f"cannot run mjfake --check: {e}")
        names = {}
        for p in paths:
            yield ScenarioFile.from_parent(self, name=os.path.relpath(p, root), path=p,
                                           error=errors.get(p), names=names)


class ScenarioFile(pytest.Collector):
    def __init__(self, *, path, error, names, **kw):
        super().__init__(**kw)
        self.scenario_path = path
        self.error = error
        self.names = names

    def collect(self):
        if self.error:
            raise self.CollectError(self.error)
        try:
            sc = core.load_scenario(self.scenario_path)
        except Exception as e:  # noqa: BLE001
            raise self.CollectError(f"{self.scenario_path}: {e}")
        if sc.name in self.names:
            raise self.CollectError(f"{self.scenario_path}: name {sc.name!r} is already used by "
                                    f"{self.names[sc.name]}")
        self.names[sc.name] = self.scenario_path
        try:
            adapters = get_adapters(self.config)
        except ValueError as e:
            raise self.CollectError(str(e))
        for a in adapters:
            item = ScenarioItem.from_parent(self, name=f"{sc.name}[{a.name}]",
                                            scenario=sc, adapter=a)
            item.add_marker(sc.protocol)
            for t in sc.tags:
                if t.isidentifier():
                    item.add_marker(t)
            yield item


class ScenarioFailure(Exception):
    pass


_counter = [0]


def loopback_addr():
    """A loopback address unique to this process and call: 127.X.Y.Z, X >= 1."""
    _counter[0] += 1
    v = os.getpid() % (254 * 256)
    return f"127.{1 + v // 256}.{v % 256}.{1 + _counter[0] % 254}"


# mjfake processes started for the test that runs next (nodeid -> core.Prepared);
# whatever is left when the session ends (-x, Ctrl-C, deselection) is reaped.
_prepared = {}
# How much longer than the current test's limit a prepared mjfake waits for its client.
PREPARE_SLACK_MS = 5000


def discard_prepared():
    while _prepared:
        _prepared.popitem()[1].discard()


atexit.register(discard_prepared)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_protocol(item, nextitem):
    if isinstance(item, ScenarioItem):
        item.next_item = nextitem


def pytest_sessionfinish(session):
    discard_prepared()


class ScenarioItem(pytest.Item):
    def __init__(self, *, scenario, adapter, **kw):
        super().__init__(**kw)
        self.scenario = scenario
        self.adapter = adapter
        self.run_result = None
        self.next_item = None

    def prepare_next(self):
        """Start the next test's mjfake now (this test's mjfake is READY and its
        client about to run): a serial run then pays mjfake's start on the
        other core instead of between two clients."""
        nxt = self.next_item
        if (not isinstance(nxt, ScenarioItem) or nxt.nodeid in _prepared
                or nxt.adapter.not_applicable(nxt.scenario)):
            return
        p = core.prepare(nxt.scenario, wait_ms=self.scenario.limit_ms() + PREPARE_SLACK_MS)
        if p is not None:
            _prepared[nxt.nodeid] = p

    def runtest(self):
        t0 = time.monotonic()
        run = core.run_scenario(self.scenario, self.adapter, addr_for_port=loopback_addr,
                                prepared=_prepared.pop(self.nodeid, None),
                                on_ready=self.prepare_next)
        wall_ms = (time.monotonic() - t0) * 1000.0
        self.run_result = run
        sc = self.scenario
        self.user_properties.append((PROPS, json.dumps({
            "scenario": sc.name, "file": core.display_path(sc.path),
            "summary": sc.summary, "protocol": sc.protocol, "tags": sc.tags,
            "source": sc.source, "adapter": run.adapter,
            "status": "na" if run.na else ("pass" if run.passed else "fail"),
            "expected": sc.outcomes, "outcome": run.outcome, "reason": run.reason,
            "crashed": run.crashed, "message": run.message, "na": run.na,
            "elapsed_ms": round(run.elapsed_ms, 1), "wall_ms": round(wall_ms, 1), "failures": run.failures,
            "detail": None if run.na or run.passed else run.report_text(),
        })))
        if run.na:
            pytest.skip(f"n.a.: {run.na}")
        if run.failures:
            gate = self.config.getoption("gate")
            if gate != "all" and run.adapter not in {g.strip() for g in gate.split(",")}:
                # Another client's failure is information for the report, not a
                # failure of the run: pytest counts it as xfailed.
                pytest.xfail(f"{run.adapter} is not gated (--gate {gate}): "
                             f"got {run.outcome}")
            raise ScenarioFailure(run)

    def repr_failure(self, excinfo, style=None):
        if isinstance(excinfo.value, ScenarioFailure):
            return excinfo.value.args[0].report_text()
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self):
        return self.scenario.path, 0, f"scenario {self.scenario.name} [{self.adapter.name}]"


# ---- results, the report and the gate (on the controller) --------------------------------

class _Recorder:
    def __init__(self, config):
        self.config = config
        self.rows = []
        self.broken = []
        self.other_failures = 0

    @pytest.hookimpl(trylast=True)
    def pytest_runtest_logreport(self, report):
        data = None
        for k, v in getattr(report, "user_properties", []) or []:
            if k == PROPS:
                data = json.loads(v)
        if data is not None and report.when == "call":
            self.rows.append(data)
        elif report.failed:
            self.other_failures += 1

    def pytest_collectreport(self, report):
        if report.failed:
            self.broken.append({"nodeid": report.nodeid, "error": str(report.longrepr)})

    def gated_failures(self):
        gate = self.config.getoption("gate")
        names = None if gate == "all" else {g.strip() for g in gate.split(",")}
        return [r for r in self.rows if r["status"] == "fail"
                and (names is None or r["adapter"] in names)]

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session, exitstatus):
        if not self.rows and not self.broken:
            return
        d = self.config.getoption("report_dir")
        if d:
            os.makedirs(d, exist_ok=True)
            report.write_json(os.path.join(d, "conformance.json"), self.rows, self.broken)
            report.write_html(os.path.join(d, "conformance.html"), self.rows, self.broken)
        if exitstatus == pytest.ExitCode.TESTS_FAILED and not self.other_failures \
                and not self.broken and not self.gated_failures():
            session.exitstatus = pytest.ExitCode.OK

    def pytest_terminal_summary(self, terminalreporter):
        if not self.rows and not self.broken:
            return
        tr = terminalreporter
        if self.config.option.tbstyle == "no":
            # The details pytest leaves out with --tb=no, for the gated adapters
            # (the others' are in the HTML report).
            for r in self.gated_failures():
                tr.write_sep("_", f"{r['scenario']}[{r['adapter']}]")
                for line in (r.get("detail") or "").splitlines():
                    tr.write_line(line)
        for line in report.matrix_lines(self.rows, self.broken, adapter_names(self.config)):
            tr.write_line(line)
        gate = self.config.getoption("gate")
        failed = self.gated_failures()
        tr.write_line(f"gate ({gate}): {len(failed)} failure(s)"
                      + (f", {len(self.broken)} broken scenario file(s)" if self.broken else ""))
        d = self.config.getoption("report_dir")
        if d:
            tr.write_line(f"report: {os.path.join(d, 'conformance.html')}")


@pytest.hookimpl(trylast=True)
def pytest_sessionstart(session):
    config = session.config
    if not hasattr(config, "workerinput"):
        config.pluginmanager.register(_Recorder(config), "mailjig-recorder")
