"""pytest plugin loaded by `tests/test_other_backends.py` into its inner pytest run (internal).

`KERAS_DLSS_EXPECTED` names a JSON file `{node id or fnmatch pattern: reason}`: matching
tests get a strict `xfail` (an expected failure that passes fails the run, so the list cannot
go stale). Each test's outcome is written to the JSON file `KERAS_DLSS_OUTCOMES`.
"""

import fnmatch
import json
import os

import pytest

_OUTCOMES = {}


def _expected():
    path = os.environ.get("KERAS_DLSS_EXPECTED")
    if not path:
        return {}
    with open(path) as f:
        return json.load(f)


def pytest_collection_modifyitems(items):
    expected = _expected()
    for item in items:
        for pattern, reason in expected.items():
            if item.nodeid == pattern or fnmatch.fnmatchcase(item.nodeid, pattern):
                item.add_marker(pytest.mark.xfail(reason=reason, strict=True))
                break


def pytest_runtest_logreport(report):
    # One outcome per test: the call phase's, or a failing/skipping setup or teardown's.
    if report.when != "call" and report.passed:
        return
    if report.nodeid in _OUTCOMES and _OUTCOMES[report.nodeid]["outcome"] == "failed":
        return
    if hasattr(report, "wasxfail"):
        outcome, detail = "xfailed", report.wasxfail
    else:
        # A strict xfail that passed is reported failed, with "[XPASS(strict)] <reason>".
        outcome = report.outcome
        detail = str(report.longrepr)[-1500:] if report.longrepr else ""
    _OUTCOMES[report.nodeid] = {
        "outcome": outcome,
        "detail": detail,
        "seconds": round(getattr(report, "duration", 0.0), 2),
    }
    _write()  # after every test, so a run that dies or times out still tells what it ran


def _write():
    path = os.environ.get("KERAS_DLSS_OUTCOMES")
    if path:
        with open(path, "w") as f:
            json.dump(_OUTCOMES, f, indent=1)


def pytest_sessionfinish(session):
    _write()
