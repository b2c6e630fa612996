"""bnguard.torch.Monitor on real PyTorch training runs with freezes injected mid-run."""
import os
import signal
import subprocess
import sys
import textwrap

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from bnguard.monitoring import BNAlertError, BNAlertWarning  # noqa: E402
from bnguard.report.log import read_log  # noqa: E402
from bnguard.torch import Monitor  # noqa: E402


def small_cnn():
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
        nn.Conv2d(8, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 4),
    )


def batches(n, seed=0):
    g = torch.Generator().manual_seed(seed)
    for _ in range(n):
        yield torch.randn(8, 3, 8, 8, generator=g) * 2 + 1, torch.randint(0, 4, (8,), generator=g)


def train(model, opt, steps, *, validate_at=(), restore_train=True, val_in_train_mode=False):
    loss_fn = nn.CrossEntropyLoss()
    for step, (x, y) in enumerate(batches(steps), start=1):
        opt.zero_grad()
        loss_fn(model(x), y).backward()
        opt.step()
        if step in validate_at:
            if not val_in_train_mode:
                model.eval()
            with torch.no_grad():
                for vx, _ in batches(2, seed=step):
                    model(vx)
            if restore_train:
                model.train()


def test_healthy_run_raises_no_alert_and_logs_every_n(tmp_path):
    model = small_cnn()
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    with Monitor(model, opt, logdir=str(tmp_path), every=5, on_alert="record") as mon:
        train(model, opt, 20, validate_at=(10,))
    assert mon.alerts == []
    log = read_log(str(tmp_path))
    assert log.layers() == ["1", "4"]
    steps = sorted({r["step"] for r in log.stats})
    assert steps == [0, 5, 10, 15, 20]
    # statistics moved between records while training
    assert all(r["mean_delta"] > 0 for r in log.stats if r["step"] > 0)


def test_eval_left_on_after_validation_alerts_at_the_right_step(tmp_path):
    model = small_cnn()
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    with Monitor(model, opt, logdir=str(tmp_path), every=5, on_alert="record") as mon:
        train(model, opt, 20, validate_at=(7,), restore_train=False)  # the bug: no model.train()
    # the freeze is real: the stats stop moving after step 7
    eval_alerts = [a for a in mon.alerts if a.kind == "eval-mode"]
    assert {a.layer for a in eval_alerts} == {"1", "4"}
    assert {a.step for a in eval_alerts} == {8}  # first optimizer step after the validation
    frozen = [a for a in mon.alerts if a.kind == "frozen"]
    assert {a.layer for a in frozen} == {"1", "4"}
    assert {a.step for a in frozen} == {15}  # first record window that lies wholly after step 7
    log = read_log(str(tmp_path))
    after = [r for r in log.stats if r["step"] >= 15]
    assert after and all(r["mean_delta"] == 0.0 for r in after)
    assert {a["kind"] for a in log.alerts} == {"eval-mode", "frozen"}


def test_validation_in_train_mode_is_contamination(tmp_path):
    model = small_cnn()
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    before = model[1].running_mean.clone()
    mon = Monitor(model, opt, every=5, on_alert="record")
    train(model, opt, 3, validate_at=(2,), val_in_train_mode=True)
    mon.close()
    kinds = {(a.kind, a.layer, a.step) for a in mon.alerts}
    assert ("contaminated", "1", 2) in kinds and ("contaminated", "4", 2) in kinds
    assert not torch.equal(before, model[1].running_mean)


def test_deliberately_frozen_layers_and_paused_recalibration_are_silent():
    model = small_cnn()
    model[1].eval()
    for p in model[1].parameters():
        p.requires_grad_(False)  # a frozen backbone BN, on purpose
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.01)

    class KeepFrozen(nn.Module):
        pass

    mon = Monitor(model, opt, every=2, on_alert="record")
    loss_fn = nn.CrossEntropyLoss()
    for x, y in batches(6):
        model[4].train()
        opt.zero_grad()
        loss_fn(model(x), y).backward()
        opt.step()
    with mon.paused(), torch.no_grad():  # BN recalibration: train mode without grad, deliberately
        for x, _ in batches(2):
            model(x)
    mon.close()
    assert mon.alerts == []


def test_nonfinite_statistics_alert():
    model = small_cnn()
    opt = torch.optim.SGD(model.parameters(), lr=0.0)
    mon = Monitor(model, opt, every=1, on_alert="record")
    x = torch.randn(8, 3, 8, 8)
    x[0, 0, 0, 0] = float("nan")
    model(x).sum().backward()
    opt.step()
    mon.close()
    assert ("nonfinite", "1") in {(a.kind, a.layer) for a in mon.alerts}


def test_on_alert_policies():
    model = small_cnn()
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    seen = []
    mon = Monitor(model, opt, every=100, on_alert=seen.append)
    model.eval()
    train(model, opt, 1)
    mon.close()
    assert [a.kind for a in seen] == ["eval-mode", "eval-mode"]

    model = small_cnn()
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    with Monitor(model, opt, on_alert="warn"):
        model.eval()
        with pytest.warns(BNAlertWarning, match="eval mode"):
            train(model, opt, 1)

    model = small_cnn()
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    with Monitor(model, opt, on_alert="raise"):
        model.eval()
        with pytest.raises(BNAlertError, match="eval mode"):
            train(model, opt, 1)
    with pytest.raises(ValueError):
        Monitor(model, opt, on_alert="shout")


def test_manual_step_counting_without_optimizer():
    model = small_cnn()
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    mon = Monitor(model, every=2, on_alert="record")
    loss_fn = nn.CrossEntropyLoss()
    for i, (x, y) in enumerate(batches(6)):
        if i == 3:
            model.eval()
        opt.zero_grad()
        loss_fn(model(x), y).backward()
        opt.step()
        mon.step()
    mon.close()
    assert mon.step_count == 6
    assert {(a.kind, a.step) for a in mon.alerts if a.layer == "1"} == {("eval-mode", 4), ("frozen", 6)}


KILLED_RUN = textwrap.dedent("""
    import os, sys, torch
    from torch import nn
    from bnguard.torch import Monitor
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 1))
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    mon = Monitor(model, opt, logdir=sys.argv[1], every=1, on_alert="record")
    step = 0
    while True:
        x = torch.randn(16, 4)
        opt.zero_grad(); model(x).pow(2).mean().backward(); opt.step()
        step += 1
        if step == 50:
            print("ready", flush=True)
""")


def test_sigkill_mid_training_leaves_a_readable_log(tmp_path):
    script = tmp_path / "run.py"
    script.write_text(KILLED_RUN)
    logdir = tmp_path / "log"
    with subprocess.Popen([sys.executable, str(script), str(logdir)], stdout=subprocess.PIPE, text=True) as proc:
        try:
            assert proc.stdout.readline().strip() == "ready"
        finally:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
    # simulate the worst case too: a half-written last line
    with open(logdir / "bnguard-stats.jsonl", "a") as fh:
        fh.write('{"type":"stats","step":99999,"lay')
    log = read_log(str(logdir))
    assert log.last_step >= 50
    assert log.skipped_lines == 1
    out = subprocess.run([sys.executable, "-m", "bnguard", "report", str(logdir), "-o", str(tmp_path / "r.html")],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "Traceback" not in out.stderr
    page = (tmp_path / "r.html").read_text()
    assert page.count("<svg") == 1 and "All 1 BN layers healthy" in page  # one layer: one curve card
