"""``per_node``: the memo that keeps per-file analyses linear (one walk per function or module)."""
import ast
import gc
import weakref

from bnguard.lint.memo import per_node


def test_computes_once_per_node_and_separately_for_each_node():
    walked = []

    @per_node
    def names(node):
        walked.append(node)
        return frozenset(n.id for n in ast.walk(node) if isinstance(n, ast.Name))

    first, second = ast.parse("a = b"), ast.parse("c = d")
    assert names(first) == {"a", "b"}
    assert names(first) == {"a", "b"}
    assert names(second) == {"c", "d"}
    assert walked == [first, second]


def test_does_not_keep_a_dropped_tree_alive():
    @per_node
    def size(node):
        return sum(1 for _ in ast.walk(node))

    tree = ast.parse("x = 1")
    assert size(tree) == 5
    ref = weakref.ref(tree)
    del tree
    gc.collect()
    assert ref() is None
