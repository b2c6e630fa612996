"""bnguard check: formats, exit codes and rule selection on the command line (issue 4)."""
from __future__ import annotations

import json

from _workflow import TORCH_MOMENTUM, codes, run_check, run_json, write


def test_text_format_reports_location_code_and_summary(tmp_path):
    write(tmp_path, "m.py", TORCH_MOMENTUM)
    res = run_check(str(tmp_path), "--no-cache")
    assert res.exit_code == 1
    first = res.stdout.splitlines()[0]
    assert first.startswith(f"{tmp_path}/m.py:3:") and " BN304 " in first
    assert res.stdout.splitlines()[-1].startswith("Found 1 problem in 1 file checked.")


def test_clean_tree_exits_zero_and_unreadable_file_exits_two(tmp_path):
    write(tmp_path, "ok.py", "import torch.nn as nn\nbn = nn.BatchNorm2d(8, momentum=0.01)\n")
    assert run_check(str(tmp_path), "--no-cache").exit_code == 0
    write(tmp_path, "broken.py", "def f(:\n")
    res = run_check(str(tmp_path), "--no-cache")
    assert res.exit_code == 2
    assert "broken.py:1: error: syntax error" in res.stderr
    assert "Traceback" not in res.output


def test_select_ignore_and_extend_select(tmp_path):
    write(tmp_path, "m.py", TORCH_MOMENTUM)
    assert codes(run_json(str(tmp_path), "--no-cache")) == [("m.py", 3, "BN304")]
    assert run_json(str(tmp_path), "--no-cache", "--ignore", "BN3")["findings"] == []
    assert run_json(str(tmp_path), "--no-cache", "--select", "BN1")["findings"] == []
    # --extend-select adds to a narrow selection
    assert codes(run_json(str(tmp_path), "--no-cache", "--select", "BN1", "--extend-select", "BN304")) == [("m.py", 3, "BN304")]


def test_bad_selector_is_a_one_line_usage_error(tmp_path):
    res = run_check(str(tmp_path), "--select", "bn-3!")
    assert res.exit_code == 2
    assert res.stderr.strip().count("\n") == 0 and "not a rule code" in res.stderr


def test_github_format_prints_workflow_commands(tmp_path):
    write(tmp_path, "m.py", TORCH_MOMENTUM)
    write(tmp_path, "bad.py", "x = (\n")
    res = run_check(str(tmp_path), "--no-cache", "--format", "github")
    lines = res.stdout.splitlines()
    warn = [ln for ln in lines if ln.startswith("::warning ")]
    assert len(warn) == 1
    assert f"file={tmp_path}/m.py,line=3,col=" in warn[0]
    assert warn[0].split("::", 2)[2].startswith("BN304 ")
    assert any(ln.startswith(f"::error file={tmp_path}/bad.py,line=") for ln in lines)


def test_github_format_escapes_newlines_and_commas():
    from bnguard.lint.finding import Finding
    from bnguard.lint.formats import format_github

    f = Finding(path="a,b:c.py", line=2, col=0, code="BN999", rule="x", message="50% bad\nsecond line")
    out = format_github([f], [], 1)
    assert "file=a%2Cb%3Ac.py" in out and "50%25 bad%0Asecond line" in out and "\n" not in out


def test_junit_format_is_xml_with_one_failure_per_finding(tmp_path):
    import xml.etree.ElementTree as ET

    write(tmp_path, "m.py", TORCH_MOMENTUM)
    write(tmp_path, "clean.py", "x = 1\n")
    res = run_check(str(tmp_path), "--no-cache", "--format", "junit")
    root = ET.fromstring(res.stdout.split("\n", 1)[1])
    assert root.tag == "testsuites" and root.get("failures") == "1"
    failures = root.findall(".//failure")
    assert [f.get("type") for f in failures] == ["BN304"]
    assert "momentum" in failures[0].get("message")


def test_junit_for_a_clean_tree_has_a_passing_case(tmp_path):
    import xml.etree.ElementTree as ET

    write(tmp_path, "clean.py", "x = 1\n")
    res = run_check(str(tmp_path), "--no-cache", "--format", "junit")
    assert res.exit_code == 0
    root = ET.fromstring(res.stdout.split("\n", 1)[1])
    assert root.get("failures") == "0" and len(root.findall(".//testcase")) == 1


def test_json_output_is_one_object_with_the_contract_keys(tmp_path):
    write(tmp_path, "m.py", TORCH_MOMENTUM)
    data = json.loads(run_check(str(tmp_path), "--no-cache", "--format", "json").stdout)
    assert set(data) == {"version", "findings", "errors", "files_checked"}
    f = data["findings"][0]
    assert {"path", "line", "col", "end_line", "end_col", "code", "rule", "message", "severity", "framework", "fix"} <= set(f)
