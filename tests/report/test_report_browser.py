"""The HTML report, generated from a real monitored run, opened in a real headless browser."""
import json
import os
import re
import shutil
import subprocess
import sys

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from bnguard.report.html import render, summary_lines  # noqa: E402
from bnguard.report.log import read_log  # noqa: E402
from bnguard.torch import Monitor  # noqa: E402

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def monitored_run(logdir, steps=60, eval_left_on_at=30):
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
        nn.Conv2d(8, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 1), nn.BatchNorm1d(1),
    )
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    with Monitor(model, opt, logdir=str(logdir), every=5, on_alert="record") as mon:
        for step in range(1, steps + 1):
            x = torch.randn(16, 3, 8, 8) * (1 + step / 20) + step / 10  # drifting data: curves move
            opt.zero_grad()
            model(x).pow(2).mean().backward()
            opt.step()
            if step == eval_left_on_at:
                model[3:].eval()  # a validation helper that leaves part of the model in eval
    return mon


def test_report_summary_names_the_frozen_layers(tmp_path):
    monitored_run(tmp_path / "log")
    log = read_log(str(tmp_path / "log"))
    lines = summary_lines(log)
    assert lines[0] == "2 layers frozen since step 35"
    assert "2 layers in eval mode during training since step 31" in lines
    page = render(log)
    assert "2 layers frozen since step 35" in page
    assert page.count("<svg") == 1 + 3  # the timeline and one card per layer
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)  # self-contained: nothing fetched


def test_report_cli_errors_are_one_line(tmp_path):
    out = subprocess.run([sys.executable, "-m", "bnguard", "report", str(tmp_path / "missing")],
                         capture_output=True, text=True)
    assert out.returncode == 2
    assert out.stderr.count("\n") == 1 and "no bnguard log" in out.stderr
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "bnguard-stats.jsonl").write_text("garbage\n")
    out = subprocess.run([sys.executable, "-m", "bnguard", "report", str(tmp_path / "empty")],
                         capture_output=True, text=True)
    assert out.returncode == 2 and "no statistics" in out.stderr and "Traceback" not in out.stderr


@pytest.mark.skipif(CHROMIUM is None and not os.environ.get("CI"), reason="Debian chromium not installed")
def test_report_renders_in_headless_chromium(tmp_path, artifacts_dir):
    assert CHROMIUM, "CI must have chromium (scripts/setup.sh installs it)"
    from playwright.sync_api import sync_playwright

    monitored_run(tmp_path / "log")
    html_path = tmp_path / "report.html"
    out = subprocess.run([sys.executable, "-m", "bnguard", "report", str(tmp_path / "log"), "-o", str(html_path)],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "2 layers frozen since step 35" in out.stdout
    errors, requests = [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"])
        page = browser.new_page(viewport={"width": 1366, "height": 900})  # a laptop screen
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("request", lambda r: requests.append(r.url))
        page.goto(html_path.as_uri())
        assert page.locator("#summary").inner_text().startswith("2 layers frozen since step 35")
        assert page.locator("#timeline svg").count() == 1
        assert page.locator("#curves .card svg").count() == 3
        assert page.locator("#layers tbody tr").count() == 3
        # plots really rendered: the SVGs have a laid-out size and drawn paths
        box = page.locator("#curves .card svg").first.bounding_box()
        assert box and box["width"] > 200 and box["height"] > 100
        assert page.locator("#curves .card svg path").count() > 20
        # readable on a laptop: no horizontal scrolling
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        page.screenshot(path=str(artifacts_dir / "bn-report.png"), full_page=True)
        browser.close()
    assert errors == []
    assert all(u.startswith(("file://", "data:")) for u in requests), requests
    (artifacts_dir / "bn-report.json").write_text(json.dumps({"alerts": len(read_log(str(tmp_path / "log")).alerts)}))
