"""Configuration in pyproject.toml / bnguard.toml, found by walking up; CLI flags win (issue 4)."""
from __future__ import annotations

from _workflow import TORCH_MOMENTUM, codes, run_check, run_json, write

FLAGGED = TORCH_MOMENTUM  # BN304 at line 3


def test_pyproject_ignore_is_found_from_a_subfolder(tmp_path):
    write(tmp_path, "pyproject.toml", "[project]\nname='x'\n\n[tool.bnguard]\nignore = ['BN304']\n")
    write(tmp_path, "pkg/sub/m.py", FLAGGED)
    assert run_json(str(tmp_path / "pkg" / "sub"), "--no-cache")["findings"] == []
    # a file named directly finds it too; --isolated ignores it
    assert run_json(str(tmp_path / "pkg" / "sub" / "m.py"), "--no-cache")["findings"] == []
    assert codes(run_json(str(tmp_path / "pkg"), "--no-cache", "--isolated")) == [("m.py", 3, "BN304")]


def test_pyproject_without_a_bnguard_table_is_passed_over(tmp_path):
    write(tmp_path, "bnguard.toml", "ignore = ['BN3']\n")
    write(tmp_path, "proj/pyproject.toml", "[tool.ruff]\nline-length = 100\n")
    write(tmp_path, "proj/m.py", FLAGGED)
    assert run_json(str(tmp_path / "proj"), "--no-cache")["findings"] == []


def test_bnguard_toml_wins_over_pyproject_in_the_same_folder(tmp_path):
    write(tmp_path, "pyproject.toml", "[tool.bnguard]\nignore = ['BN304']\n")
    write(tmp_path, "bnguard.toml", "select = ['BN3']\n")
    write(tmp_path, "m.py", FLAGGED)
    assert codes(run_json(str(tmp_path), "--no-cache")) == [("m.py", 3, "BN304")]


def test_cli_select_wins_over_configured_ignore(tmp_path):
    write(tmp_path, "bnguard.toml", "ignore = ['BN304']\n")
    write(tmp_path, "m.py", FLAGGED)
    assert run_json(str(tmp_path), "--no-cache")["findings"] == []
    assert codes(run_json(str(tmp_path), "--no-cache", "--select", "BN304")) == [("m.py", 3, "BN304")]


def test_extend_select_per_file_ignores_and_severity(tmp_path):
    write(tmp_path, "pyproject.toml", """\
        [tool.bnguard]
        select = ["BN1"]
        extend-select = ["BN3"]
        severity = { BN3 = "warning" }

        [tool.bnguard.per-file-ignores]
        "legacy/*.py" = ["BN304"]
        """)
    write(tmp_path, "src/m.py", FLAGGED)
    write(tmp_path, "legacy/old.py", FLAGGED)
    data = run_json(str(tmp_path), "--no-cache")
    assert codes(data) == [("m.py", 3, "BN304")]
    assert data["findings"][0]["severity"] == "warning"


def test_exclude_and_extend_exclude(tmp_path):
    write(tmp_path, "bnguard.toml", "exclude = ['generated/']\nextend-exclude = ['*_pb2.py']\n")
    write(tmp_path, "generated/m.py", FLAGGED)
    write(tmp_path, "api_pb2.py", FLAGGED)
    write(tmp_path, "kept.py", FLAGGED)
    data = run_json(str(tmp_path), "--no-cache")
    assert codes(data) == [("kept.py", 3, "BN304")] and data["files_checked"] == 1


def _error(tmp_path, name, text):
    write(tmp_path, name, text)
    write(tmp_path, "m.py", FLAGGED)
    res = run_check(str(tmp_path), "--no-cache")
    assert res.exit_code == 2, res.output
    assert "Traceback" not in res.output
    line = res.stderr.strip()
    assert "\n" not in line and line.startswith("bnguard: error: ")
    return line


def test_unknown_key_names_the_key_and_the_file(tmp_path):
    line = _error(tmp_path, "pyproject.toml", "[tool.bnguard]\nselct = ['BN1']\n")
    assert "pyproject.toml" in line and "'tool.bnguard.selct'" in line and "did you mean 'select'" in line


def test_wrong_types_and_values_are_clear_errors(tmp_path):
    assert "'ignore': must be a list of strings" in _error(tmp_path, "bnguard.toml", "ignore = 3\n")
    assert "'severity'.BN304: severity must be one of" in _error(tmp_path, "bnguard.toml", "severity = {BN304 = 'fatal'}\n")
    assert "not a rule code" in _error(tmp_path, "bnguard.toml", "select = ['batchnorm!']\n")


def test_invalid_toml_is_a_clear_error(tmp_path):
    line = _error(tmp_path, "bnguard.toml", "select = [\n")
    assert "bnguard.toml: invalid TOML" in line


def test_explicit_config_file(tmp_path):
    write(tmp_path, "conf/custom.toml", "ignore = ['BN304']\n")
    write(tmp_path, "m.py", FLAGGED)
    assert run_json(str(tmp_path), "--no-cache", "--config", str(tmp_path / "conf" / "custom.toml"))["findings"] == []
    res = run_check(str(tmp_path), "--config", str(tmp_path / "missing.toml"))
    assert res.exit_code == 2 and "configuration file not found" in res.stderr
