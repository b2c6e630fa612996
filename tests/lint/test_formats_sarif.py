"""SARIF 2.1.0 output validates against the official OASIS schema (vendored under data/)."""
from __future__ import annotations

import json
from pathlib import Path

import jsonschema

from _workflow import TORCH_MOMENTUM, run_check, write

SCHEMA = json.loads((Path(__file__).parent / "data" / "sarif-schema-2.1.0.json").read_text())


def _sarif(tmp_path, *extra):
    res = run_check(str(tmp_path), "--no-cache", "--format", "sarif", *extra)
    return res, json.loads(res.stdout)


def test_sarif_validates_and_carries_results_rules_and_fixes(tmp_path):
    write(tmp_path, "m.py", TORCH_MOMENTUM)
    write(tmp_path, "bad.py", "def f(:\n")
    res, log = _sarif(tmp_path)
    jsonschema.validate(log, SCHEMA)
    assert res.exit_code == 1
    run = log["runs"][0]
    assert log["version"] == "2.1.0" and run["tool"]["driver"]["name"] == "bnguard"
    (result,) = run["results"]
    assert result["ruleId"] == "BN304" and result["level"] == "error"
    region = result["locations"][0]["physicalLocation"]["region"]
    assert region["startLine"] == 3
    # the result points at its rule, whose metadata comes from the rule docs
    rule = run["tool"]["driver"]["rules"][result["ruleIndex"]]
    assert rule["id"] == "BN304" and "markdown" in rule["help"] and "Use instead" in rule["help"]["markdown"]
    assert result["fixes"][0]["artifactChanges"][0]["replacements"][0]["insertedContent"]["text"] == "0.01"
    notes = run["invocations"][0]["toolExecutionNotifications"]
    assert any("syntax error" in n["message"]["text"] for n in notes)


def test_sarif_marks_suppressed_results_and_validates_when_empty(tmp_path):
    write(tmp_path, "m.py", TORCH_MOMENTUM.replace("0.99)", "0.99)  # noqa: BN304"))
    res, log = _sarif(tmp_path)
    jsonschema.validate(log, SCHEMA)
    assert res.exit_code == 0
    (result,) = log["runs"][0]["results"]
    assert result["suppressions"][0]["kind"] == "inSource"
    write(tmp_path, "m.py", "x = 1\n")
    res, log = _sarif(tmp_path)
    jsonschema.validate(log, SCHEMA)
    assert log["runs"][0]["results"] == []


def test_schema_rejects_a_broken_log():
    """The validator is real: a log without the required ``runs`` fails."""
    try:
        jsonschema.validate({"version": "2.1.0"}, SCHEMA)
    except jsonschema.ValidationError:
        return
    raise AssertionError("schema accepted a log without runs")
