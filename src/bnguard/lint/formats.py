"""Output formats of ``bnguard check``: text, json, sarif, github, junit.

Each formatter takes the run's findings (suppressed ones included, flagged), errors and file count
and returns the text to print.
"""
from __future__ import annotations

import json
import os
from typing import Callable, Sequence

from bnguard import __version__
from bnguard.lint.finding import FileError, Finding

FORMATS = ("text", "json", "sarif", "github", "junit")
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
INFO_URI = "https://github.com/bnguard/bnguard"


def location(f: Finding) -> str:
    """``path:line:col`` or, in a notebook, ``path:cell:line:col`` (all 1-based)."""
    if f.cell is not None:
        return f"{f.path}:{f.cell + 1}:{f.line}:{f.col + 1}"
    return f"{f.path}:{f.line}:{f.col + 1}"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def text_parts(findings: Sequence[Finding], errors: Sequence[FileError], files_checked: int,
               show_suppressed: bool = False) -> tuple[list[str], list[str], str]:
    """(finding lines, error lines, summary line) of the text format; the command prints the error
    lines on stderr."""
    lines = []
    for f in findings:
        if f.suppressed and not show_suppressed:
            continue
        tag = " (suppressed)" if f.suppressed else ""
        fixable = " [*]" if f.fix and not f.suppressed and f.cell is None else ""
        lines.append(f"{location(f)}: {f.code}{fixable} {f.message}{tag}")
    error_lines = [f"{e.path}{f':{e.line}' if e.line else ''}: {'error' if e.fatal else 'warning'}: {e.message}"
                   for e in errors]
    n = sum(1 for f in findings if not f.suppressed)
    n_sup = len(findings) - n
    if n:
        summary = f"Found {_plural(n, 'problem')} in {_plural(files_checked, 'file')} checked."
    else:
        summary = f"All checks passed ({_plural(files_checked, 'file')} checked)."
    if n_sup:
        summary += f" {n_sup} suppressed" + ("" if show_suppressed else " (--show-suppressed lists them)") + "."
    fixable = sum(1 for f in findings if f.fix and not f.suppressed and f.cell is None)
    if fixable:
        summary += f" {fixable} fixable with --fix."
    fatal = sum(1 for e in errors if e.fatal)
    if fatal:
        summary += f" {_plural(fatal, 'error')}: files or notebook cells that could not be analysed."
    if len(errors) > fatal:
        summary += f" {_plural(len(errors) - fatal, 'empty file')} skipped."
    return lines, error_lines, summary


def format_text(findings, errors, files_checked, show_suppressed=False) -> str:
    lines, error_lines, summary = text_parts(findings, errors, files_checked, show_suppressed)
    return "\n".join(lines + error_lines + [summary])


def format_json(findings, errors, files_checked, show_suppressed=False) -> str:
    data = {
        "version": __version__,
        "findings": [f.to_dict() for f in findings if not f.suppressed],
        "errors": [e.to_dict() for e in errors],
        "files_checked": files_checked,
    }
    if show_suppressed:
        data["suppressed"] = [f.to_dict() for f in findings if f.suppressed]
    return json.dumps(data, indent=2)


# --- SARIF 2.1.0 ----------------------------------------------------------------------------------
_SARIF_LEVEL = {"error": "error", "warning": "warning", "info": "note"}


def _rule_descriptor(rule) -> dict:
    d = {
        "id": rule.code,
        "name": rule.name or rule.code,
        "shortDescription": {"text": rule.summary or rule.name or rule.code},
        "defaultConfiguration": {"level": _SARIF_LEVEL.get(rule.severity, "warning"),
                                 "enabled": bool(rule.default_enabled)},
        "properties": {"tags": [t for t in (rule.framework, "batch-normalization") if t]},
    }
    if rule.doc is not None:
        d["fullDescription"] = {"text": rule.doc.what.strip()}
        d["help"] = {"text": f"{rule.doc.why.strip()}\n\nUse instead:\n{rule.doc.use_instead.strip()}",
                     "markdown": rule.doc.render(rule)}
    return d


def _uri(path: str) -> str:
    rel = os.path.relpath(os.path.abspath(path)) if not os.path.isabs(path) else path
    rel = rel.replace(os.sep, "/")
    from urllib.parse import quote

    return quote(rel, safe="/:")


def _region(line: int, col: int, end_line: int, end_col: int) -> dict:
    r = {"startLine": max(line, 1), "startColumn": col + 1}
    if end_line:
        r["endLine"] = max(end_line, r["startLine"])
        if end_col and (end_line > line or end_col > col):
            r["endColumn"] = end_col + 1
    return r


def format_sarif(findings, errors, files_checked, show_suppressed=False) -> str:
    from bnguard.lint.rules.base import all_rules

    rules = all_rules()
    used = sorted({f.code for f in findings} | {c for c in rules})
    index = {code: i for i, code in enumerate(used)}
    descriptors = [_rule_descriptor(rules[c]) if c in rules else {"id": c} for c in used]
    results = []
    for f in findings:
        loc = {"physicalLocation": {"artifactLocation": {"uri": _uri(f.path), "uriBaseId": "%SRCROOT%"},
                                    "region": _region(f.line, f.col, f.end_line, f.end_col)}}
        res = {"ruleId": f.code, "ruleIndex": index[f.code], "level": _SARIF_LEVEL.get(f.severity, "warning"),
               "message": {"text": f.message}, "locations": [loc]}
        if f.cell is not None:
            res["properties"] = {"notebookCell": f.cell + 1}
        if f.suppressed:
            res["suppressions"] = [{"kind": "inSource", "justification": "noqa comment"}]
        if f.fix and f.cell is None and f.fix.edits:
            res["fixes"] = [{"description": {"text": f.fix.description}, "artifactChanges": [{
                "artifactLocation": {"uri": _uri(f.path), "uriBaseId": "%SRCROOT%"},
                "replacements": [{"deletedRegion": {"startLine": e.line, "startColumn": e.col + 1,
                                                    "endLine": e.end_line, "endColumn": e.end_col + 1},
                                  "insertedContent": {"text": e.text}} for e in f.fix.edits]}]}]
        results.append(res)
    notifications = [{"level": "error", "message": {"text": e.message},
                      "locations": [{"physicalLocation": {"artifactLocation": {"uri": _uri(e.path), "uriBaseId": "%SRCROOT%"},
                                                          **({"region": {"startLine": e.line}} if e.line else {})}}]}
                     for e in errors]
    root = os.getcwd().replace(os.sep, "/").rstrip("/") + "/"
    run = {
        "tool": {"driver": {"name": "bnguard", "version": __version__, "semanticVersion": __version__,
                            "informationUri": INFO_URI, "rules": descriptors}},
        "originalUriBaseIds": {"%SRCROOT%": {"uri": "file://" + ("" if root.startswith("/") else "/") + root}},
        "invocations": [{"executionSuccessful": True, "toolExecutionNotifications": notifications}],
        "results": results,
        "properties": {"filesChecked": files_checked},
    }
    return json.dumps({"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}, indent=2)


# --- GitHub Actions workflow commands -------------------------------------------------------------
def _gh_data(s: str) -> str:
    return s.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _gh_prop(s: str) -> str:
    return _gh_data(s).replace(":", "%3A").replace(",", "%2C")


def format_github(findings, errors, files_checked, show_suppressed=False) -> str:
    """Annotations; findings are warnings/notices (the exit code fails the job), unreadable files errors."""
    out = []
    for f in findings:
        if f.suppressed:
            continue
        level = "notice" if f.severity == "info" else "warning"
        props = [f"file={_gh_prop(f.path)}", f"line={f.line}", f"col={f.col + 1}"]
        if f.end_line:
            props.append(f"endLine={f.end_line}")
        if f.end_col and f.end_line == f.line:
            props.append(f"endColumn={f.end_col + 1}")
        cell = f" (cell {f.cell + 1})" if f.cell is not None else ""
        props.append(f"title={_gh_prop(f'bnguard {f.code} {f.rule}')}")
        out.append(f"::{level} {','.join(props)}::{_gh_data(f'{f.code} {f.message}{cell}')}")
    for e in errors:
        props = [f"file={_gh_prop(e.path)}"] + ([f"line={e.line}"] if e.line else []) + ["title=bnguard"]
        out.append(f"::error {','.join(props)}::{_gh_data(e.message)}")
    return "\n".join(out)


# --- JUnit XML ------------------------------------------------------------------------------------
def format_junit(findings, errors, files_checked, show_suppressed=False) -> str:
    import xml.etree.ElementTree as ET

    shown = [f for f in findings if not f.suppressed]
    suites = ET.Element("testsuites", name="bnguard", tests=str(max(len(shown) + len(errors), 1)),
                        failures=str(len(shown)), errors=str(len(errors)))
    by_path: dict[str, list] = {}
    for f in shown:
        by_path.setdefault(f.path, []).append(f)
    for e in errors:
        by_path.setdefault(e.path, []).append(e)
    for path in sorted(by_path):
        items = by_path[path]
        nf = sum(isinstance(i, Finding) for i in items)
        suite = ET.SubElement(suites, "testsuite", name=path, tests=str(len(items)),
                              failures=str(nf), errors=str(len(items) - nf))
        for item in items:
            if isinstance(item, Finding):
                case = ET.SubElement(suite, "testcase", classname=path, name=f"{item.code} {location(item)}",
                                     file=path, line=str(item.line))
                fail = ET.SubElement(case, "failure", message=item.message, type=item.code)
                fail.text = f"{location(item)}: {item.code} {item.message}"
            else:
                case = ET.SubElement(suite, "testcase", classname=path, name=f"analyse {path}", file=path)
                err = ET.SubElement(case, "error", message=item.message, type="analysis-error")
                err.text = item.message
    if not by_path:
        suite = ET.SubElement(suites, "testsuite", name="bnguard", tests="1", failures="0", errors="0")
        ET.SubElement(suite, "testcase", classname="bnguard", name=f"{files_checked} files checked")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode")


FORMATTERS: dict[str, Callable] = {
    "text": format_text, "json": format_json, "sarif": format_sarif, "github": format_github, "junit": format_junit,
}


def render(fmt: str, findings, errors, files_checked: int, show_suppressed: bool = False) -> str:
    return FORMATTERS[fmt](findings, errors, files_checked, show_suppressed)
