"""``astwalk.walk`` must yield exactly what ``ast.walk`` yields, in the same order: rules rely on
breadth-first order (the first match wins in several places)."""
import ast
from pathlib import Path

from bnguard.lint import astwalk

SRC = Path(__file__).resolve().parents[2] / "src" / "bnguard"
CORPUS = Path(__file__).resolve().parent / "behaviour_corpus"


def _same_walk(tree: ast.AST) -> bool:
    return [id(n) for n in astwalk.walk(tree)] == [id(n) for n in ast.walk(tree)]


def test_same_nodes_same_order_on_real_sources():
    files = sorted(SRC.rglob("*.py"))[:60] + sorted(CORPUS.rglob("*.py"))[:60]
    assert len(files) > 100
    for path in files:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        assert _same_walk(tree), path
        for fn in (n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)):
            assert _same_walk(fn), (path, fn.name)


def test_hand_built_node_with_unset_optional_fields():
    call = ast.Call(func=ast.Name(id="f", ctx=ast.Load()), args=[ast.Constant(1)])  # no keywords field
    assert _same_walk(call)
    assert [type(n).__name__ for n in astwalk.walk(call)] == ["Call", "Name", "Constant", "Load"]


def test_stops_early_when_the_caller_stops():
    tree = ast.parse("a = 1\n" * 1000)
    it = astwalk.walk(tree)
    assert isinstance(next(it), ast.Module)
    assert isinstance(next(it), ast.Assign)
