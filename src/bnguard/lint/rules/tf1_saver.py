"""TF1 checkpoints that leave the BN moving statistics out: BN106.

A TF1 batch-norm layer keeps its moving mean and variance in *non-trainable* global variables.
``tf.train.Saver(tf.trainable_variables())`` therefore writes checkpoints without them, and a
``Saver`` restricted the same way restores everything but them: either way the model that is
evaluated later normalizes with the initial statistics (mean 0, variance 1) — the freeze of
failure mode 13 (``cleinc/bts#90``, ``tensorflow/skflow#117``), silent because nothing is missing
from the trainable weights.
"""
from __future__ import annotations

import ast
from typing import Iterable, Optional

from bnguard.lint.finding import Finding
from bnguard.lint.imports import dotted
from bnguard.lint.project import Module, Project
from bnguard.lint.rules.base import Rule, RuleDoc, register
from bnguard.lint.rules.tf1 import TF1_FACT_TRIGGERS, VERSIONS
from bnguard.lint.tf1_facts import bn_sites, deliberate_in_program, same_program, train_context

SAVERS = {"tensorflow.train.Saver", "tensorflow.compat.v1.train.Saver"}
TRAINABLE_LISTS = {"tensorflow.trainable_variables", "tensorflow.compat.v1.trainable_variables"}
# Words showing the program takes care of the moving statistics itself: slim's
# ``variables_collections=[TRAINABLE_VARIABLES]`` (facenet), the moving-average collection, a
# model-variables saver. (A mere "moving_mean" is not one: code that reads the statistics by name
# says nothing about what is saved; lists filtered by that name are, see ``_selects_moving_variables``.)
_HANDLED_WORDS = ("variables_collections", "moving_average_variables", "MOVING_AVERAGE_VARIABLES",
                  "model_variables", "MODEL_VARIABLES")
_MUTATORS = {"append", "extend", "insert", "__iadd__"}
# Objects that write the checkpoints of the saver they are given.
_SAVING_OWNERS = {"Supervisor", "Scaffold", "CheckpointSaverHook"}


@register
class SaverDropsMovingStatistics(Rule):
    code = "BN106"
    name = "saver-drops-moving-statistics"
    framework = "tensorflow"
    severity = "error"
    summary = ("A tf.train.Saver limited to tf.trainable_variables() leaves the BN moving mean/variance out of "
               "its checkpoints (or out of what it restores).")
    triggers = ("trainable_variables", "TRAINABLE_VARIABLES")
    fact_triggers = TF1_FACT_TRIGGERS
    doc = RuleDoc(
        what="""
Finds `tf.train.Saver(tf.trainable_variables())` (also `var_list=`, `tf.get_collection(
tf.GraphKeys.TRAINABLE_VARIABLES)`, a local list bound once to either and never extended) in a program
that builds TF1 batch-norm layers (`tf.layers.batch_normalization`, `tf.contrib.layers.batch_norm`,
slim) whose moving statistics are used at inference, when the saver
- writes checkpoints (`saver.save(...)`, or handed to a `Supervisor` / `Scaffold` /
  `CheckpointSaverHook`) in a program that trains, or
- restores a checkpoint, after the variables were initialized, in a program that does not train (an
  evaluation or export script).
""",
        why="""
The moving mean and variance are non-trainable variables. A checkpoint written by this saver does not
contain them, and a restore through it does not load them: the evaluated model normalizes with the
initial statistics (mean 0, variance 1) — train accuracy is fine, test accuracy collapses, nothing
reports an error.
""",
        example="""
logits = net(images, is_training)     # tf.layers.batch_normalization inside
...
saver = tf.train.Saver(tf.trainable_variables())
saver.save(sess, "model.ckpt")
""",
        use_instead="""
saver = tf.train.Saver()  # every global variable, the moving statistics included
# or, to keep optimizer slots out:
saver = tf.train.Saver(tf.trainable_variables() + tf.moving_average_variables())
""",
        not_flagged="""
- Programs that handle the statistics themselves: slim's `variables_collections=[TRAINABLE_VARIABLES]`
  (facenet), var lists extended with the `moving_mean`/`moving_variance` variables or
  `tf.moving_average_variables()`, model-variable savers.
- A program with another, unrestricted Saver; BN layers that always run in training mode (their moving
  statistics are never read); GAN / meta-learning / test-time-adaptation programs.
- A trainable-only saver used only to restore pretrained weights into a program that trains
  (fine-tuning re-estimates the statistics).
""",
        versions=VERSIONS,
    )

    def check(self, module: Module, project: Project) -> Iterable[Finding]:
        for c in module.calls:
            if c.qualname not in SAVERS:
                continue
            var_list = c.node.args[0] if c.node.args else _kw(c.node, "var_list")
            if var_list is None or not _trainable_only(var_list, module, c.scope):
                continue
            program = same_program(module, project)
            program_modules = [m for m in project.modules if id(m) in program]
            if any(m.mentions(w) for m in program_modules for w in _HANDLED_WORDS) \
                    or any(_selects_moving_variables(m) for m in program_modules):
                continue
            if deliberate_in_program(module, project) or _other_full_saver(c.node, program_modules):
                continue
            sites = [s for s in bn_sites(project) if id(s.module) in program and s.flag != frozenset({True})]
            if not sites:
                continue
            ctx = train_context(project)
            trains = bool(ctx.trained_modules & program)
            target = _assigned_name(c.node, module)
            built = sites[0].where
            if trains and _saves(c.node, target, module, program_modules):
                yield self.finding(module, c.node, (
                    "this Saver writes only tf.trainable_variables(): the batch-norm moving_mean/moving_variance "
                    f"(non-trainable; BN built at {built}) are not in its checkpoints, so the restored model "
                    "normalizes with the initial statistics (mean 0, variance 1); save every global variable "
                    "(`tf.train.Saver()`) or add `tf.moving_average_variables()` to the list"))
            elif not trains and ctx.initializer_modules & program and _restores(c.node, target, module, program_modules):
                yield self.finding(module, c.node, (
                    "this Saver restores only tf.trainable_variables(): the batch-norm moving_mean/moving_variance "
                    f"(BN built at {built}) keep their initial values (mean 0, variance 1) after the restore, and "
                    "inference normalizes with them; restore every global variable (`tf.train.Saver()`)"))


def _selects_moving_variables(module: Module) -> bool:
    """``[v for v in tf.global_variables() if "moving_mean" in v.name]``: the program collects the
    moving statistics by name (the usual way of adding them to a saver's list)."""
    if not module.mentions("moving"):
        return False
    for node in ast.walk(module.tree):
        if isinstance(node, ast.comprehension):
            for cond in node.ifs:
                if any(isinstance(c, ast.Constant) and isinstance(c.value, str) and "moving" in c.value
                       for c in ast.walk(cond)):
                    return True
    return False


def _kw(call: ast.Call, name: str) -> Optional[ast.AST]:
    return next((k.value for k in call.keywords if k.arg == name), None)


def _trainable_call(expr: ast.AST, module: Module) -> bool:
    if not isinstance(expr, ast.Call):
        return False
    q = module.imports.resolve(expr.func) or ""
    if q in TRAINABLE_LISTS:
        return True
    if q in ("tensorflow.get_collection", "tensorflow.compat.v1.get_collection"):
        key = expr.args[0] if expr.args else _kw(expr, "key")
        return key is not None and (dotted(key) or "").endswith("TRAINABLE_VARIABLES")
    return False


def _trainable_only(expr: ast.AST, module: Module, scope) -> bool:
    """The plain trainable list, inline or through one local name bound once and never extended."""
    if _trainable_call(expr, module):
        return True
    if not isinstance(expr, ast.Name):
        return False
    body = scope.body if scope is not None else module.tree.body
    owner_nodes = [n for st in body for n in ast.walk(st)] if scope is not None else \
        [n for st in body if not isinstance(st, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
         for n in ast.walk(st)]
    bindings = []
    for n in owner_nodes:
        if isinstance(n, ast.Assign) and any(isinstance(t, ast.Name) and t.id == expr.id for t in n.targets):
            bindings.append(n.value)
        elif isinstance(n, (ast.AugAssign, ast.AnnAssign)) and isinstance(n.target, ast.Name) and n.target.id == expr.id:
            return False
        elif isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr in _MUTATORS \
                and isinstance(n.func.value, ast.Name) and n.func.value.id == expr.id:
            return False
    return len(bindings) == 1 and _trainable_call(bindings[0], module)


def _assigned_name(call: ast.Call, module: Module) -> Optional[str]:
    parent = module.parent(call)
    if isinstance(parent, ast.Assign) and len(parent.targets) == 1:
        t = parent.targets[0]
        if isinstance(t, ast.Name):
            return t.id
        if isinstance(t, ast.Attribute):
            return t.attr
    return None


def _receiver_is(node: ast.AST, target: Optional[str], saver_call: ast.Call) -> bool:
    if node is saver_call:
        return True
    if target is None:
        return False
    return (isinstance(node, ast.Name) and node.id == target) or (isinstance(node, ast.Attribute) and node.attr == target)


def _uses(saver_call: ast.Call, module: Module, modules: list):
    """Call sites that may use the saver: the whole program for ``self.saver = Saver(...)``, the
    saver's own function for a local name (two functions that each name their saver ``saver`` are
    two savers)."""
    parent = module.parent(saver_call)
    local = isinstance(parent, ast.Assign) and isinstance(parent.targets[0], ast.Name)
    scope = module.scope_of(saver_call)
    for m in ([module] if local else modules):
        for c in m.calls:
            if not local or c.scope is scope:
                yield c


def _method_calls(name: str, target: Optional[str], saver_call: ast.Call, module: Module, modules: list) -> bool:
    for c in _uses(saver_call, module, modules):
        f = c.node.func
        if c.name == name and isinstance(f, ast.Attribute) and _receiver_is(f.value, target, saver_call):
            return True
    return False


def _saves(saver_call: ast.Call, target: Optional[str], module: Module, modules: list) -> bool:
    if _method_calls("save", target, saver_call, module, modules):
        return True
    for c in _uses(saver_call, module, modules):
        if c.name in _SAVING_OWNERS:
            given = _kw(c.node, "saver")
            if given is not None and _receiver_is(given, target, saver_call):
                return True
    return False


def _restores(saver_call: ast.Call, target: Optional[str], module: Module, modules: list) -> bool:
    return target is not None and _method_calls("restore", target, saver_call, module, modules)


def _other_full_saver(saver_call: ast.Call, modules: list) -> bool:
    """Another Saver of the program that is not restricted to the trainable list."""
    for m in modules:
        for c in m.calls:
            if c.qualname in SAVERS and c.node is not saver_call:
                var_list = c.node.args[0] if c.node.args else _kw(c.node, "var_list")
                if var_list is None or not _trainable_only(var_list, m, c.scope):
                    return True
    return False
