"""The pre-filter: decide, from the raw text alone, which files must be parsed.

A file is parsed when it can produce a finding (it contains a ``trigger`` of an enabled rule) or
when it can provide a project-wide fact to a file that can:

1. *fact words*: text that feeds project facts regardless of names — a ``feed_dict``, a consumer of
   ``UPDATE_OPS``, a ``.eval()``/``.train()`` call, ``set_learning_phase`` ... (FACT_WORDS, plus any
   ``fact_triggers`` a rule declares);
2. *names*: a file that mentions a function, class or module-level name defined in an already
   parsed file (a call site ``net(x, True)`` clears a finding in ``model.py``), or that defines a name
   a parsed file imports from a project module. This closure is iterated until nothing new is found.

Files the pre-filter skips are still syntax-checked (in worker processes), so the list of errors is
the same with and without the pre-filter.
"""
from __future__ import annotations

import ast
import re
from typing import Iterable, Optional, Sequence

from bnguard.lint import astwalk

# Texts that make a file a possible provider of a project-wide fact. Cheap substring tests.
FACT_WORDS: tuple[str, ...] = (
    "feed_dict", "UPDATE_OPS", "update_ops", "control_dependencies", "create_train_op",
    "optimize_loss", "learning_phase", ".eval(", ".train(", "placeholder", "is_training",
    "batch_norm", "BatchNorm", "batch_normalization", "momentum",
)

# Imports from these packages never point at a project file, so their names do not widen the closure.
EXTERNAL_ROOTS = frozenset({
    "tensorflow", "tf_keras", "keras", "torch", "torchvision", "jax", "flax", "optax", "numpy",
    "scipy", "tf_slim", "sklearn", "pandas", "os", "sys", "re", "math", "typing", "collections",
    "functools", "itertools", "abc", "dataclasses", "logging", "warnings", "json", "time",
    "__future__", "contextlib", "copy", "enum", "inspect", "pathlib", "types", "absl", "six",
})

# Maximal runs of word characters (``\w`` is what ``str.isalnum() or "_"`` accepts): a name is
# "mentioned" as a whole word exactly when it is one of these runs (see ``mentions``).
_WORD = re.compile(r"\w+")


def relevance_words(rules: Sequence[object]) -> Optional[tuple[str, ...]]:
    """Substrings that make a file relevant, or None when a rule declares no triggers (then every
    file is relevant: the pre-filter cannot know what that rule needs)."""
    words: list[str] = list(FACT_WORDS)
    for rule in rules:
        triggers = tuple(getattr(rule, "triggers", ()) or ())
        if not triggers:
            return None
        words.extend(triggers)
        words.extend(getattr(rule, "fact_triggers", ()) or ())
    return tuple(dict.fromkeys(words))


def is_relevant(text: str, words: Optional[Iterable[str]]) -> bool:
    if words is None:
        return True
    return any(w in text for w in words)


def names_of(module) -> tuple[set[str], set[str]]:
    """(names the module defines, names it imports from project modules)."""
    defined: set[str] = {f.name for f in module.functions}
    defined.update(c.name for c in module.classes)
    for stmt in module.tree.body:
        if isinstance(stmt, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
            for t in targets:
                for n in astwalk.walk(t):
                    if isinstance(n, ast.Name):
                        defined.add(n.id)
    imported: set[str] = set()
    for local, canonical in module.imports.aliases.items():
        if canonical.lstrip(".").split(".")[0] not in EXTERNAL_ROOTS:
            imported.add(local)
            imported.update(p for p in canonical.split(".")[-2:] if p)
    defined = {n for n in defined if not (n.startswith("__") and n.endswith("__"))}
    return defined, imported


def mentions(text: str, names: set[str]) -> bool:
    """Does ``text`` contain one of ``names`` as a whole word?"""
    if not names:
        return False
    for name in names:
        i = text.find(name)
        while i >= 0:
            before = text[i - 1] if i else " "
            j = i + len(name)
            after = text[j] if j < len(text) else " "
            if not (before.isalnum() or before == "_") and not (after.isalnum() or after == "_"):
                return True
            i = text.find(name, i + 1)
    return False


def word_set(text: str) -> set[str]:
    """The whole words of ``text``: ``name in word_set(text)`` iff ``mentions(text, {name})``."""
    return set(_WORD.findall(text))
