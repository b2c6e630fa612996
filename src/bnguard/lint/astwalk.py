"""``walk``: the nodes of a syntax tree, exactly as ``ast.walk`` yields them, at about two thirds
of its cost.

Why: the rules walk subtrees millions of times on a large project (on the PyTorch sources, walking
was half of the PyTorch rules' time), and ``ast.walk`` spends most of each step in two nested
generators (``iter_child_nodes`` over ``iter_fields``). Here one generator reads ``_fields``
directly and uses a growing list as its queue. Same nodes, same breadth-first order, and still
lazy, so a caller that stops early stops the walk."""
from __future__ import annotations

from ast import AST
from typing import Iterator


def walk(node: AST) -> Iterator[AST]:
    todo = [node]
    append = todo.append
    i = 0
    while i < len(todo):
        n = todo[i]
        i += 1
        for name in n._fields:
            try:
                value = getattr(n, name)
            except AttributeError:  # an optional field left unset on a hand-built node
                continue
            if isinstance(value, list):
                for item in value:
                    if isinstance(item, AST):
                        append(item)
            elif isinstance(value, AST):
                append(value)
        yield n
