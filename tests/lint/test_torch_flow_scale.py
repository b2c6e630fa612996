"""The mode-flow summaries stay small and precise on large code bases (robustdg's shape: every
dataset constructor's ``super().__init__(...)`` used to resolve to the first four ``__init__``
methods of the project, whose "new module" events flooded the driver's summary up to its cap and
pushed out the ``eval()`` that came later: the evaluation was then reported as running in train
mode)."""
from __future__ import annotations

import sys
import textwrap

import pytest

from bnguard.lint.engine import load_source, parse_unit
from bnguard.lint.project import Project
from bnguard.lint.runner import CheckOptions, check_paths
from bnguard.lint.torchflow import Flow


def _flow(tmp_path, files: dict[str, str]) -> tuple[Flow, dict]:
    modules = {}
    for name, text in files.items():
        path = tmp_path / name
        path.write_text(textwrap.dedent(text))
        modules[name] = parse_unit(load_source(str(path)))
    return Flow(Project(list(modules.values()))), modules


def _function(module, name, cls=None):
    return next(f for f in module.functions if f.name == name and (cls is None or (f.cls and f.cls.name == cls)))


NETS = """
    import torch.nn as nn

    class BigNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Linear(4, 4)
            self.b = nn.Linear(4, 4)
            self.b.train()

    class OtherNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.c = nn.Linear(4, 4)
    """
DATA = """
    import torch

    class BaseData(torch.utils.data.Dataset):
        def __init__(self, root):
            self.items = torch.load(root)

    class Data(BaseData):
        def __init__(self, root):
            super().__init__(root)
            self.kind = 1
    """


def test_super_init_resolves_to_the_base_class_only(tmp_path):
    flow, mods = _flow(tmp_path, {"algos.py": NETS, "data.py": DATA})
    data = mods["data.py"]
    init = _function(data, "__init__", "Data")
    call = next(c.node for c in data.calls if c.scope is init.node and c.name == "__init__")
    cands, unique = flow.resolve(data, call, init.node)
    assert unique and [fi.cls.name for fi in cands] == ["BaseData"]
    net_init = _function(mods["algos.py"], "__init__", "BigNet")
    call = next(c.node for c in mods["algos.py"].calls if c.scope is net_init.node and c.name == "__init__")
    assert flow.resolve(mods["algos.py"], call, net_init.node) == ([], False)  # nn.Module: a library class


def test_a_constructor_call_brings_no_new_module_events_into_the_caller(tmp_path):
    driver = """
        from algos import BigNet

        def main():
            net = BigNet()
            net.eval()
        """
    flow, mods = _flow(tmp_path, {"algos.py": NETS, "main.py": driver})
    events = flow.summary(_function(mods["main.py"], "main").node)
    # ``net = BigNet()`` is the new object; the modules its __init__ builds (a, b) are not new
    # objects of the caller's: only the constructor's own switch (b.train()) comes through
    assert [(e.kind, e.key[-1].lstrip("%$"), e.fresh) for e in events] == [
        ("train", "b", False), ("train", "net", True), ("eval", "net", False)]


def test_events_repeated_by_several_candidates_are_kept_once(tmp_path):
    helpers = """
        import torch.nn as nn

        class A:
            def reset(self):
                self.net = nn.Linear(2, 2)
                self.net.train()

        class B:
            def reset(self):
                self.net = nn.Linear(2, 2)
                self.net.train()

        def run(obj, model):
            obj.reset()
            model.eval()
        """
    flow, mods = _flow(tmp_path, {"helpers.py": helpers})
    events = flow.summary(_function(mods["helpers.py"], "run").node)
    # obj.reset() may run A.reset or B.reset: each rebuilds and trains obj.net, one event of each kind
    assert [(e.kind, e.key[-1].lstrip("$"), e.fresh) for e in events] == [
        ("train", "net", True), ("train", "net", False), ("eval", "model", False)]


def _factory_chain(depth: int) -> str:
    """A model whose BatchNorm sits at the end of ``depth`` factory functions calling each other."""
    lines = ["import torch", "import torch.nn as nn", ""]
    for i in range(depth - 1):
        lines += [f"def block{i}():", f"    return block{i + 1}()", ""]
    lines += [f"def block{depth - 1}():", "    return nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8))", ""]
    lines += ["class Net(nn.Module):", "    def __init__(self):", "        super().__init__()",
              "        self.body = block0()", "", "    def forward(self, x):", "        return self.body(x)", "",
              "def main():", "    model = Net()", "    traced = torch.jit.trace(model, torch.randn(1, 3, 8, 8))",
              "    traced.save('model.pt')", ""]
    return "\n".join(lines)


@pytest.mark.parametrize("depth", [3, 1500])
def test_bn_search_follows_chains_deeper_than_the_recursion_limit(tmp_path, depth):
    # torch.export's own sources chain over a thousand BN-building names: the search used to give
    # up there ("analysis gave up (nesting too deep)") and lose the file's findings.
    path = tmp_path / "export_model.py"
    path.write_text(_factory_chain(depth))
    result = check_paths([str(path)], CheckOptions(jobs=1))
    assert [e.message for e in result.errors] == []
    assert [f.code for f in result.findings] == ["BN310"]
    assert sys.getrecursionlimit() < 20_000  # the raised limit does not outlive the search
