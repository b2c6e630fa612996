"""Memoisation keyed by syntax-tree node, so that an analysis asked the same question about the same
function or module many times (once per call site in it) walks that tree once, not once per
question: per-file analysis stays linear in file size.

The caches hold their nodes weakly: they empty themselves when the trees are dropped, and a node
is never mistaken for a later one. Cached values are shared; callers must not mutate them.
"""
from __future__ import annotations

import ast
import functools
import weakref
from typing import Callable, TypeVar

T = TypeVar("T")


def per_node(compute: Callable[[ast.AST], T]) -> Callable[[ast.AST], T]:
    """``compute(node)`` computed once per node."""
    cache: "weakref.WeakKeyDictionary[ast.AST, T]" = weakref.WeakKeyDictionary()

    @functools.wraps(compute)
    def cached(node: ast.AST) -> T:
        try:
            return cache[node]
        except KeyError:
            value = cache[node] = compute(node)
            return value

    return cached
