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
import re
from typing import Iterable, Optional

from bnguard.lint import astwalk
from bnguard.lint.finding import Finding
from bnguard.lint.imports import dotted
from bnguard.lint.project import Module, Project
from bnguard.lint.rules.base import Rule, RuleDoc, register
from bnguard.lint.rules.tf1 import TF1_FACT_TRIGGERS, VERSIONS
from bnguard.lint import keras_facts as kf
from bnguard.lint import values as V
from bnguard.lint.tf1_facts import (RESTORE_NAMES, _call_ref, _close, bn_sites, deliberate_in_program,
                                    enclosing_functions, same_program, train_context)

SAVERS = {"tensorflow.train.Saver", "tensorflow.compat.v1.train.Saver"}
WARM_STARTS = {"tensorflow.train.init_from_checkpoint"}
# ``tf.train.warm_start(ckpt, vars_to_warm_start=...)``: a regex STRING (the default ``".*"``) or None
# selects from TRAINABLE_VARIABLES only; a list of scope regexes selects from GLOBAL_VARIABLES.
REGEX_WARM_STARTS = {"tensorflow.train.warm_start", "tensorflow.compat.v1.train.warm_start"}
TRAINABLE_LISTS = {"tensorflow.trainable_variables", "tensorflow.compat.v1.trainable_variables"}
MOVING_AVERAGE_LISTS = {"tensorflow.moving_average_variables", "tensorflow.compat.v1.moving_average_variables"}
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
    summary = ("A tf.train.Saver (or an init_from_checkpoint map, or a hand-written weight-file load) limited to "
               "tf.trainable_variables() leaves the BN moving mean/variance out of its checkpoints (or out of what "
               "it restores).")
    # ``assign`` / ``.load(``: the module of a hand-written weight-file load (``v.assign(data[...])``)
    triggers = ("trainable_variables", "TRAINABLE_VARIABLES", "global_variables", "GLOBAL_VARIABLES", "assign",
                ".load(")
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
  evaluation or export script), or in a program that trains while the layers the function around the
  Saver builds run with training False (a frozen backbone under a new head), so nothing re-estimates
  the statistics.
The list may also be a name map over the trainable variables only — the hand-made EMA restore map
`{ema.average_name(v): v for v in tf.trainable_variables()}` (inline, through a local name, filled by
a loop, or returned by a helper function of the module), which unlike `ema.variables_to_restore()`
leaves every non-trainable variable out. Another, unrestricted Saver of the program that only writes
checkpoints (the training half of a train/eval script) does not make such a restore complete.
Also `tf.train.init_from_checkpoint(ckpt, assignment_map)` whose map is built only from the trainable
variables (`{v.op.name: v for v in tf.trainable_variables(...)}`, `dict(...)` of such a generator, a
dict filled by `for v in tvars: amap[...] = ...`) when the graph built by the function around the call
runs its BN layers with training False (flag values read at that function's own calls of the model
builder): the moving statistics keep their 0/1 initializers.
Also `tf.train.warm_start(ckpt, vars_to_warm_start=...)` whose selector is a regex string (`'backbone/.*'`, a
constant naming one), None, absent (the default `'.*'`) or a list of the trainable variables: a string
selects from TRAINABLE_VARIABLES only (a list of scope strings would select from GLOBAL_VARIABLES), so
in the same frozen-graph case the moving statistics are not warm-started.
Also `sess.run(tf.variables_initializer(rest))` run after a `saver.restore(...)` of the same function,
where `rest` ("the variables the restore did not cover") is the global variables minus only trainable
ones (`[v for v in tf.global_variables() if v.op.name not in {t.op.name for t in
tf.trainable_variables("backbone")}]`, `set(global) - set(trainable)`) and the Saver restores the
non-trainable ones too (no `var_list`, `tf.global_variables(scope)`): the initializer resets the
restored moving statistics to 0/1; reported when the graph (of the function, its callers, or the other
methods of its class) runs the BN layers with training False.
Also the same savers over a name whitelist of the global variables that holds only layer-weight leaf
names (`[v for v in tf.global_variables() if v.op.name.split("/")[-1] in ("kernel", "bias", "gamma",
"beta")]`, `"kernel" in v.name or ...`, `v.name.endswith(("kernel:0", ...))`, inline, through a name
bound once or returned by a helper of the module): no moving_mean/moving_variance passes it.
Also the slim-era list `tf.trainable_variables() + tf.moving_average_variables()` (with a global step at
most beside them): tf.layers / tf.keras / contrib / slim batch norm never add their moving statistics
to MOVING_AVERAGE_VARIABLES (only `ExponentialMovingAverage.apply()` fills it, and the old inception
slim and sonnet batch norms), so in a program without those the list is the trainable variables
again (measured with tf_keras 2.21: the resumed moving mean is back at 0). A Saver returned by a
helper (`saver = make_saver()`) counts where the program uses that name.
Also a checkpoint rewrite in one function (tensor2tensor-style averaging of the last checkpoints,
merging): the model is rebuilt, `global_variables_initializer()` runs, the values read from checkpoints
(`tf.train.load_variable`, `NewCheckpointReader(...).get_tensor`) are assigned (`v.assign`, `v.load`,
`tf.assign(v, ...)`) to the variables of a loop over `tf.trainable_variables()` only, and a Saver of
every global variable writes the result: the checkpoint holds the fresh 0/1 moving statistics.
Also a hand-written weight file loaded back into a graph that runs its BN layers with training False:
`v.assign(data[name])` / `tf.assign(v, ...)` / `v.load(value, sess)` in a loop over a variable list
(`for v in params`, `zip(params, values)`), in a function that reads a weight file (`np.load`,
`pickle.load`, `h5py.File`, `loadmat`, ...), where the list holds only trainable variables: written
inline (`tf.trainable_variables(scope)`, a filtered comprehension, a local bound once), or a parameter
of a load helper (`load_and_assign_npz(sess, net.all_params, path)` in another module) that every call
in the project fills with such a list — through a local, or a TensorLayer-style attribute
(`self.all_params = tf.trainable_variables(scope)`) whose every store in the program is one. Whatever
the file holds, the moving statistics are not assigned and keep their 0/1 initializers.
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
bn_stats = [v for v in tf.global_variables() if "moving_mean" in v.name or "moving_variance" in v.name]
saver = tf.train.Saver(tf.trainable_variables() + bn_stats)
""",
        not_flagged="""
- Programs that handle the statistics themselves: slim's `variables_collections=[TRAINABLE_VARIABLES]`
  (facenet), var lists extended with the `moving_mean`/`moving_variance` variables,
  `tf.moving_average_variables()` in a program that fills that collection (an ExponentialMovingAverage,
  a hand-written or sonnet batch norm registering its statistics there), model-variable savers.
- A program with another, unrestricted Saver (for a restricted restore: one that may restore); BN layers that always run in training mode (their moving
  statistics are never read); GAN / meta-learning / test-time-adaptation programs.
- A name whitelist that also lists `moving_mean`/`moving_variance`, a blacklist (`"Adam" not in
  v.name`), a scope filter; a checkpoint rewrite that assigns every global variable (or every name the
  checkpoint lists), restores a checkpoint first, or also trains.
- A trainable-only saver or warm start used only to restore pretrained weights into layers that are
  then trained in training mode (fine-tuning re-estimates the statistics); a warm start or restore
  beside another checkpoint load of the program (a full Saver restore, a scope-mapped
  `init_from_checkpoint`).
- A hand-written weight-file load over a list that is not provably trainable-only (`tf.global_variables(
  scope)`, an attribute stored or extended elsewhere, a helper called with other lists), one that loads
  into a graph whose BN layers train (fine-tuning re-estimates the statistics), or one beside another
  checkpoint restore of the program.
""",
        versions=VERSIONS,
    )

    def check(self, module: Module, project: Project) -> Iterable[Finding]:
        yield from _handwritten_trainable_loads(self, module, project)
        for c in module.calls:
            if c.qualname in INITIALIZERS:
                yield from self._restored_statistics_reinitialized(c, module, project)
                continue
            if c.qualname in WARM_STARTS or c.qualname in REGEX_WARM_STARTS:
                yield from self._warm_start_without_statistics(c, module, project)
                continue
            if c.qualname not in SAVERS:
                continue
            var_list = c.node.args[0] if c.node.args else _kw(c.node, "var_list")
            if var_list is None or _global_call(var_list, module):
                yield from self._fresh_statistics_saved(c, module, project)
                continue
            averaged = _trainable_plus_moving_averages(var_list, module, c.scope)
            named = None if averaged or _trainable_only(var_list, module, c.scope) else _weights_by_name(var_list, module, c.scope)
            if named is None and not averaged and not _trainable_only(var_list, module, c.scope):
                continue
            only = "tf.trainable_variables()" if named is None and not averaged else (
                "the variables whose names are " + "/".join(sorted(named)) + " (a name filter over the global "
                "variables, which no moving_mean/moving_variance passes)") if not averaged else (
                "tf.trainable_variables() + tf.moving_average_variables() (batch-norm layers do not register "
                "their moving statistics in MOVING_AVERAGE_VARIABLES: only ExponentialMovingAverage.apply() "
                "fills it)")
            program = same_program(module, project)
            program_modules = [m for m in project.modules if id(m) in program]
            if averaged and any(_registers_moving_averages(m) for m in program_modules):
                continue  # an EMA, sonnet-style or hand-written BN registers its variables there
            if not averaged and any(m.mentions(w) for m in program_modules for w in _HANDLED_WORDS) \
                    or any(_selects_moving_variables(m, strict=named is not None or averaged) for m in program_modules):
                continue
            if deliberate_in_program(module, project):
                continue
            others = _other_full_savers(c.node, program_modules)
            sites = [s for s in bn_sites(project) if id(s.module) in program and s.flag != frozenset({True})]
            if not sites:
                continue
            ctx = train_context(project)
            trains = bool(ctx.trained_modules & program)
            target = module.bound_name(c.node) or _name_of_returned_saver(c.node, module, program_modules)
            built = sites[0].where
            if any(_restore_unknown(k, program_modules) for k in others):
                continue  # a full Saver that may restore: the statistics may come back through it
            if trains and not others and _saves(c.node, target, module, program_modules):
                yield self.finding(module, c.node, (
                    f"this Saver writes only {only}: the batch-norm moving_mean/moving_variance "
                    f"(non-trainable; BN built at {built}) are not in its checkpoints, so the restored model "
                    "normalizes with the initial statistics (mean 0, variance 1); save every global variable "
                    "(`tf.train.Saver()`) or add the moving_mean/moving_variance variables to the list"))
            elif not trains and ctx.initializer_modules & program and _restores(c.node, target, module, program_modules):
                yield self.finding(module, c.node, (
                    f"this Saver restores only {only}: the batch-norm moving_mean/moving_variance "
                    f"(BN built at {built}) keep their initial values (mean 0, variance 1) after the restore, and "
                    "inference normalizes with them; restore every global variable (`tf.train.Saver()`)"))
            elif trains and ctx.initializer_modules & program and _restores(c.node, target, module, program_modules) \
                    and not _other_restore(c, program_modules, ignore=("restore",), project=project):
                # fine-tuning re-estimates the statistics, unless the restored layers are frozen
                frozen = _frozen_in_graph(c.node, module, project)
                if frozen is not None and _name_map(var_list, module, c.scope):
                    yield self.finding(module, c.node, (
                        "this Saver restores through a name map built over tf.trainable_variables() only (a "
                        "hand-made EMA map `{ema.average_name(v): v ...}`): the batch-norm "
                        "moving_mean/moving_variance are not in it and keep their initial values (mean 0, "
                        f"variance 1), and the layer built at {frozen.where} runs with training False in this "
                        "graph, so it normalizes with 0/1; use `ema.variables_to_restore()`, which maps every "
                        "other global variable to its own name"))
                elif frozen is not None:
                    yield self.finding(module, c.node, (
                        f"this Saver restores only {only}: the batch-norm "
                        "moving_mean/moving_variance keep their initial values (mean 0, variance 1), and the layer "
                        f"built at {frozen.where} runs with training False in this graph, so nothing re-estimates "
                        "them and it normalizes with 0/1; restore every global variable of the "
                        "backbone (`tf.global_variables(scope)`, `slim.get_variables_to_restore()`)"))


    def _fresh_statistics_saved(self, c, module: Module, project: Project) -> Iterable[Finding]:
        """A checkpoint rewrite (tensor2tensor-style averaging, merging, converting) in one function:
        the model is rebuilt in a fresh graph, ``global_variables_initializer()`` runs, the values read
        from checkpoints (``tf.train.load_variable``, a ``NewCheckpointReader``) are assigned to the
        trainable variables only, and a Saver of every global variable writes the result. The moving
        statistics are global but not trainable: the checkpoint gets their fresh 0/1 initializers."""
        fn = c.scope
        if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)) or not (module.mentions("trainable_variables")
                                                                               or module.mentions("TRAINABLE_VARIABLES")) \
                or not any(module.mentions(w) for w in _CHECKPOINT_READS):
            return
        target = module.bound_name(c.node)
        if not _saves(c.node, target, module, [module]):
            return
        calls = [k for k in module.calls if k.scope is fn or any(a is fn for a in module.ancestors(k.node))]
        if not any(k.qualname in GLOBAL_INITIALIZERS for k in calls) \
                or not any(k.name in _CHECKPOINT_READS for k in calls) \
                or any(k.name in ("restore", "init_from_checkpoint", "warm_start", "minimize", "apply_gradients",
                                  "variables_to_restore") for k in calls):
            return
        assigns = [k for k in calls if k.name in ("assign", "load")]
        if not assigns or not all(_assigns_loop_variable(k.node, module, fn) for k in assigns):
            return
        program = same_program(module, project)
        program_modules = [m for m in project.modules if id(m) in program]
        if any(m.mentions(w) for m in program_modules for w in _HANDLED_WORDS) \
                or deliberate_in_program(module, project):
            return
        sites = _sites_in_graph_of(fn, module, project)
        if not sites:
            return
        site = sites[0][0]
        yield self.finding(module, c.node, (
            "this Saver writes every global variable of a graph that was just initialized and into which only "
            "the trainable variables were assigned from the checkpoints (the assignment at "
            f"{module.line_ref(assigns[0].node.lineno)} iterates over tf.trainable_variables()): the batch-norm "
            f"moving_mean/moving_variance of the layer built at {site.where} are not trainable, so the written "
            "checkpoint holds their fresh initial values (mean 0, variance 1) and the model restored from it "
            "normalizes with them; assign every float global variable (or every variable the checkpoint lists)"))

    def _restored_statistics_reinitialized(self, c, module: Module, project: Project) -> Iterable[Finding]:
        """``sess.run(tf.variables_initializer(rest))`` after ``saver.restore(sess, ckpt)``, where ``rest``
        is "the variables the restore did not cover" computed as the global variables minus the
        *trainable* ones (``[v for v in tf.global_variables() if v.op.name not in {t.op.name for t in
        tf.trainable_variables("backbone")}]``): the moving statistics are global but not trainable, so
        the initializer resets the restored values to 0/1 — reported when the graph runs the layers
        with training False (a frozen pretrained backbone), so nothing re-estimates them."""
        arg = c.node.args[0] if c.node.args else _kw(c.node, "var_list")
        source = _global_minus_trainable(arg, module, c.scope) if arg is not None else None
        if source is None:
            return
        restore = _restore_before_run(c, module, source)
        if restore is None or deliberate_in_program(module, project):
            return
        frozen = _frozen_in_graph(c.node, module, project)
        if frozen is None and isinstance(c.scope, (ast.FunctionDef, ast.AsyncFunctionDef)):
            # a warm-start helper builds nothing: the graph is its callers', or (a method) the one the
            # other methods of its class build (``__init__``)
            cls = module.enclosing_class(c.scope)
            others = [(f.body[0], module) for f in (cls.body if cls is not None else ())
                      if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef)) and f is not c.scope and f.body]
            frozen = next((f for node, m in [(k.node, k.module) for k in project.call_sites(c.scope.name)] + others
                           for f in [_frozen_in_graph(node, m, project)] if f is not None), None)
        if frozen is None:
            return
        yield self.finding(module, c.node, (
            f"this initializer of \"the remaining variables\" (`{ast.unparse(source)}` minus the trainable variables) "
            f"runs after the restore at {module.line_ref(restore.node.lineno)} and re-initializes the batch-norm "
            "moving_mean/moving_variance it loaded (they are global but not trainable) to 0/1; the layer built at "
            f"{frozen.where} runs with training False, so it normalizes with them; exclude every restored variable "
            "(the restore's own var_list), not only the trainable ones"))

    def _warm_start_without_statistics(self, c, module: Module, project: Project) -> Iterable[Finding]:
        """``init_from_checkpoint(ckpt, {v.op.name: v.op.name for v in tf.trainable_variables()})`` in
        a graph whose BN layers run with training False: the map names no moving statistics, so they
        keep their initializers (mean 0, variance 1), and nothing re-estimates them since the layers
        never run in training mode there (a frozen pretrained backbone, an evaluation graph)."""
        if c.qualname in REGEX_WARM_STARTS:
            if not _warm_starts_trainable_only(c.node, module, project):
                return
        else:
            amap = c.node.args[1] if len(c.node.args) > 1 else _kw(c.node, "assignment_map")
            if amap is None or not _trainable_map(amap, module, c.scope):
                return
        program = same_program(module, project)
        program_modules = [m for m in project.modules if id(m) in program]
        if any(m.mentions(w) for m in program_modules for w in _HANDLED_WORDS) \
                or any(_selects_moving_variables(m) for m in program_modules) \
                or deliberate_in_program(module, project):
            return
        if _other_restore(c, program_modules, project=project):
            return
        frozen = _frozen_in_graph(c.node, module, project)
        if frozen is None:
            return
        if c.qualname in REGEX_WARM_STARTS:
            yield self.finding(module, c.node, (
                "this `tf.train.warm_start` selects its variables with a regex string (or the default `'.*'`), "
                "which only considers TRAINABLE_VARIABLES: the batch-norm moving_mean/moving_variance "
                "(non-trainable) are not warm-started and keep their initial values (mean 0, variance 1), while "
                f"the layer built at {frozen.where} runs with training False in this graph and normalizes with "
                "them; pass a list of scope regexes (`vars_to_warm_start=['backbone/.*']`), which selects from "
                "GLOBAL_VARIABLES"))
            return
        yield self.finding(module, c.node, (
            "this warm start restores only tf.trainable_variables(): the batch-norm moving_mean/moving_variance "
            f"(non-trainable) are not in its assignment map and keep their initial values (mean 0, variance 1), "
            f"while the layer built at {frozen.where} runs with training False in this graph and normalizes with "
            "them; map the whole scope (`{'backbone/': 'backbone/'}`) or add the moving statistics "
            "(`tf.global_variables()` filtered by scope)"))


def _warm_starts_trainable_only(call: ast.Call, module: Module, project: Project) -> bool:
    """Does ``tf.train.warm_start(ckpt, vars_to_warm_start)`` select from the trainable variables only?
    Its selector, when a string (a regex; the default is ``".*"``) or None, is looked up in
    TRAINABLE_VARIABLES; a list of Variables built from the trainable ones is too. A list of scope
    strings selects from GLOBAL_VARIABLES (the moving statistics included)."""
    if any(isinstance(a, ast.Starred) for a in call.args) or any(k.arg is None for k in call.keywords):
        return False  # ``*args`` / ``**kwargs``: the selector is not known
    sel = call.args[1] if len(call.args) > 1 else _kw(call, "vars_to_warm_start")
    if sel is None:
        return True  # the default ``".*"``
    if isinstance(sel, ast.Constant):
        return sel.value is None or isinstance(sel.value, str)
    if isinstance(sel, (ast.List, ast.Tuple)):
        return False
    if _trainable_list(sel, module, module.scope_of(call)):
        return True
    vals = V.possible_values(sel, module, project)
    return vals is not V.UNKNOWN and bool(vals) and all(v is None or isinstance(v, str) for v in vals)


GLOBAL_INITIALIZERS = {"tensorflow.global_variables_initializer", "tensorflow.compat.v1.global_variables_initializer",
                       "tensorflow.initialize_all_variables", "tensorflow.compat.v1.initialize_all_variables"}
_CHECKPOINT_READS = frozenset(("load_variable", "NewCheckpointReader", "load_checkpoint", "get_tensor",
                               "CheckpointReader"))


def _assigns_loop_variable(call: ast.Call, module: Module, fn) -> bool:
    """``v.assign(...)`` / ``v.load(...)`` / ``tf.assign(v, ...)`` whose variable ``v`` is the target of
    a comprehension or ``for`` loop over the trainable variables (only)."""
    f = call.func
    if not isinstance(f, ast.Attribute):
        return False
    var = f.value if f.attr in ("assign", "load") and not (module.imports.resolve(f) or "").startswith("tensorflow") \
        else (call.args[0] if call.args else None)
    if not isinstance(var, ast.Name):
        return False
    for a in module.ancestors(call):
        gens = a.generators if isinstance(a, (ast.ListComp, ast.GeneratorExp, ast.SetComp, ast.DictComp)) else \
            [a] if isinstance(a, (ast.For, ast.AsyncFor)) else []
        for g in gens:
            if isinstance(g.target, ast.Name) and g.target.id == var.id:
                return _trainable_list(g.iter, module, fn)
        if a is fn:
            break
    return False


INITIALIZERS = {"tensorflow.variables_initializer", "tensorflow.compat.v1.variables_initializer",
                "tensorflow.initialize_variables", "tensorflow.compat.v1.initialize_variables"}
GLOBAL_LISTS = {"tensorflow.global_variables", "tensorflow.compat.v1.global_variables",
                "tensorflow.all_variables", "tensorflow.compat.v1.all_variables"}


def _global_call(expr: ast.AST, module: Module) -> bool:
    return _variable_list_call(expr, module, GLOBAL_LISTS, "GLOBAL_VARIABLES")


def _list_expression(expr: ast.AST, module: Module, scope, *, helpers: bool = False) -> Optional[tuple]:
    """(expression, its scope) of a variable list with what only passes it on looked through: a local
    name bound once, a ``list``/``sorted``/``set`` wrapper and, with ``helpers``, the value a helper of
    this module returns (two helpers deep at most). None when a name has no single value, or after
    five steps."""
    for depth in range(5):
        if isinstance(expr, ast.Name):
            expr = _single_value(expr.id, module, scope)
            if expr is None:
                return None
        elif isinstance(expr, ast.Call) and isinstance(expr.func, ast.Name) and expr.func.id in _WRAPPING_CALLS \
                and len(expr.args) == 1 and not expr.keywords:
            expr = expr.args[0]
        elif helpers and isinstance(expr, ast.Call):
            returned = _returned_value(expr, module) if depth < 2 else None
            if returned is None:
                return None
            expr, scope = returned
        else:
            return expr, scope
    return None


def _global_minus_trainable(expr: ast.AST, module: Module, scope) -> Optional[ast.Call]:
    """The ``global_variables(...)`` call when ``expr`` is the global variables less a subset of the
    trainable ones only: ``[v for v in tf.global_variables() if v.op.name not in names]`` (``names``
    built from ``tf.trainable_variables(...)``), ``set(global) - set(trainable)``, wrapped in
    ``list``/``sorted`` or bound once to a local name. Such a list keeps every non-trainable variable —
    the BN moving statistics. None otherwise."""
    looked_through = _list_expression(expr, module, scope)
    if looked_through is None:
        return None
    expr, scope = looked_through
    if isinstance(expr, (ast.ListComp, ast.GeneratorExp, ast.SetComp)) and len(expr.generators) == 1:
        gen = expr.generators[0]
        source = _global_source(gen.iter, module, scope)
        if source is None or len(gen.ifs) != 1:
            return None
        cond = gen.ifs[0]
        if not (isinstance(cond, ast.Compare) and len(cond.ops) == 1 and isinstance(cond.ops[0], ast.NotIn)):
            return None
        return source if _trainable_list(cond.comparators[0], module, scope) else None
    if isinstance(expr, ast.BinOp) and isinstance(expr.op, ast.Sub):
        source = _global_source(expr.left, module, scope)
        return source if source is not None and _trainable_list(expr.right, module, scope) else None
    return None


def _global_source(expr: ast.AST, module: Module, scope, depth: int = 0) -> Optional[ast.Call]:
    """``tf.global_variables(...)`` itself, wrapped in ``set``/``list``, or through a local name bound once."""
    if depth > 3:
        return None
    if _global_call(expr, module):
        return expr  # type: ignore[return-value]
    if isinstance(expr, ast.Call) and isinstance(expr.func, ast.Name) and expr.func.id in _WRAPPING_CALLS \
            and len(expr.args) == 1 and not expr.keywords:
        return _global_source(expr.args[0], module, scope, depth + 1)
    if isinstance(expr, ast.Name):
        value = _single_value(expr.id, module, scope)
        return None if value is None else _global_source(value, module, scope, depth + 1)
    return None


def _restore_before_run(c, module: Module, source: ast.Call):
    """The ``saver.restore(...)`` of the initializer's function that comes before a ``run`` of the
    initializer (``sess.run(tf.variables_initializer(rest))``, or a name bound to it and fetched
    later), for a Saver whose list holds the non-trainable variables the initializer covers (no
    ``var_list``, ``tf.global_variables(scope)`` of the same scope as ``source`` or unscoped, slim's
    ``get_variables_to_restore``). None otherwise."""
    runs = []
    parent = module.parent(c.node)
    if isinstance(parent, ast.Call) and isinstance(parent.func, ast.Attribute) and parent.func.attr == "run" \
            and parent.args and parent.args[0] is c.node:
        runs.append(parent)
    elif isinstance(parent, ast.Assign) and len(parent.targets) == 1 and isinstance(parent.targets[0], ast.Name):
        name = parent.targets[0].id
        runs = [k.node for k in module.calls if k.scope is c.scope and k.name == "run" and k.node.args
                and isinstance(k.node.args[0], ast.Name) and k.node.args[0].id == name]
    if not runs:
        return None
    last_run = max(r.lineno for r in runs)
    for k in module.calls:
        if k.scope is not c.scope or k.name != "restore" or k.node.lineno >= last_run \
                or not isinstance(k.node.func, ast.Attribute):
            continue
        saver = k.node.func.value
        if isinstance(saver, ast.Name):
            saver = _single_value(saver.id, module, c.scope)
        if not (isinstance(saver, ast.Call) and (module.imports.resolve(saver.func) or "") in SAVERS):
            continue
        var_list = saver.args[0] if saver.args else _kw(saver, "var_list")
        if var_list is not None and not _covers_statistics_of(var_list, source, module, c.scope):
            continue
        return k
    return None


def _covers_statistics_of(var_list: ast.AST, source: ast.Call, module: Module, scope) -> bool:
    """Does a Saver's ``var_list`` hold the non-trainable variables of ``source`` (a global list)?"""
    if isinstance(var_list, ast.Name):
        value = _single_value(var_list.id, module, scope)
        if value is None:
            return False
        var_list = value
    if not isinstance(var_list, ast.Call):
        return False
    if (dotted(var_list.func) or "").endswith("get_variables_to_restore"):
        return True
    if not _global_call(var_list, module):
        return False
    if not (source.args or source.keywords) or not (var_list.args or var_list.keywords):
        return True  # one of them covers every global variable
    return ast.dump(source) == ast.dump(var_list) or [ast.dump(a) for a in source.args] == [ast.dump(a) for a in var_list.args]


def _frozen_in_graph(node: ast.AST, module: Module, project: Project):
    """A TF1 BN layer that the function around ``node`` builds (the innermost enclosing function that
    builds any) and that runs with training False in that graph; None when there is none."""
    for root in enclosing_functions(node, module) or [None]:
        sites = _sites_in_graph_of(root, module, project)
        if sites:
            return next((s for s, vals in sites if V.always_false_values(vals)), None)
    return None


def _sites_in_graph_of(root, module: Module, project: Project) -> list:
    """(BN site, possible flag values in this graph) for the TF1 BN layers that ``root`` (a function
    node, or None for the module's top level) builds, directly or through project calls; a wrapper's
    flag parameter is read at the call sites inside that graph only (``backbone(x, training=False)``
    here, not the pretraining script's ``backbone(x, training=True)``)."""
    ctx = train_context(project)
    reached: set = set()
    def in_root(node) -> bool:
        return (module.scope_of(node) is None) if root is None else root in enclosing_functions(node, module)
    _close([(_call_ref(k, project), module) for k in module.calls if k.name and in_root(k.node)], reached, ctx, project)
    out = []
    program = same_program(module, project)  # a script the program never imports builds nothing in its graph
    for site in bn_sites(project):
        if site.api == "keras" or site.flag is not V.UNKNOWN and V.always_true_values(site.flag) \
                or id(site.module) not in program:
            continue
        here = site.module is module and in_root(site.node)
        if not here and not any(id(f) in reached for f in enclosing_functions(site.node, site.module)):
            continue
        out.append((site, _flag_in_graph(site, root, reached, project)))
    return out


def _flag_in_graph(site, root, reached: set, project: Project, depth: int = 6):
    if site.flag_expr is None:
        return site.flag
    vals: frozenset = frozenset()
    work = [(site.flag_expr, site.module, depth)]
    while work:
        expr, m, d = work.pop()
        scope = m.scope_of(expr)
        if isinstance(expr, ast.Name) and isinstance(scope, (ast.FunctionDef, ast.AsyncFunctionDef)) \
                and scope is not root and kf._param_index(scope, expr.id)[2]:
            called = scope.name
            cls = m.enclosing_class(scope) if scope.name == "__init__" else None
            if cls is not None and scope in cls.body:
                called = cls.name  # ``Tower(x, is_training=False)`` runs ``Tower.__init__``
            calls = [k for k in project.call_sites(called) if k.scope is root or id(k.scope) in reached]
            if d <= 0 or not calls:
                return V.UNKNOWN
            for k in calls:
                arg, _explicit = kf.argument_for(k.node, scope, expr.id,
                                                 is_method_call=cls is not None or isinstance(k.node.func, ast.Attribute))
                if arg is None:
                    return V.UNKNOWN
                work.append((arg, k.module if _explicit else m, d - 1))
            continue
        found = V.possible_values(expr, m, project)
        if found is V.UNKNOWN:
            return V.UNKNOWN
        vals = vals | found
    return vals


def _other_restore(call, modules: list, ignore: tuple = (), project: Optional[Project] = None) -> bool:
    """Another checkpoint load in the program (a Saver restore, a second warm start that is not
    limited to the trainable variables...): it may bring the moving statistics. ``ignore``: call
    names not counted (the Saver's own ``restore``; other Savers are asked separately)."""
    for m in modules:
        for k in m.calls:
            if k.node is call.node or k.name not in RESTORE_NAMES or k.name in ignore:
                continue
            if k.qualname in WARM_STARTS:
                amap = k.node.args[1] if len(k.node.args) > 1 else _kw(k.node, "assignment_map")
                if amap is not None and _trainable_map(amap, m, k.scope):
                    continue
            if k.qualname in REGEX_WARM_STARTS and project is not None \
                    and _warm_starts_trainable_only(k.node, m, project):
                continue
            return True
    return False


def _scope_nodes(module: Module, scope) -> list:
    body = scope.body if scope is not None else module.tree.body
    if scope is not None:
        return [n for st in body for n in astwalk.walk(st)]
    return [n for st in body if not isinstance(st, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
            for n in astwalk.walk(st)]


def _single_value(name: str, module: Module, scope) -> Optional[ast.AST]:
    """The one value a local name is bound to, never rebound, extended or mutated; None otherwise."""
    values = []
    for n in _scope_nodes(module, scope):
        if isinstance(n, ast.Assign):
            for t in n.targets:
                if isinstance(t, ast.Name) and t.id == name:
                    values.append(n.value)
                elif any(isinstance(e, ast.Name) and e.id == name for e in astwalk.walk(t)):
                    return None  # unpacked, or a subscript store
        elif isinstance(n, (ast.AugAssign, ast.AnnAssign, ast.For, ast.comprehension, ast.withitem)):
            target = getattr(n, "target", None) or getattr(n, "optional_vars", None)
            if target is not None and any(isinstance(e, ast.Name) and e.id == name for e in astwalk.walk(target)):
                return None
        elif isinstance(n, ast.Subscript) and isinstance(n.ctx, (ast.Store, ast.Del)) \
                and isinstance(n.value, ast.Name) and n.value.id == name:
            return None
        elif isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and isinstance(n.func.value, ast.Name) \
                and n.func.value.id == name and n.func.attr in _MUTATORS | _DICT_WRITERS:
            return None
    return values[0] if len(values) == 1 else None


def _trainable_plus_moving_averages(expr: ast.AST, module: Module, scope, depth: int = 0) -> bool:
    """``tf.trainable_variables() + tf.moving_average_variables()`` (with a global step ``[step]`` at
    most beside them, inline or through a local name bound once): the list slim-era code believes holds
    the batch-norm statistics. tf.layers / tf.keras / contrib batch norm never add their moving
    mean/variance to MOVING_AVERAGE_VARIABLES (measured, tf_keras 2.21)."""
    if depth > 3:
        return False
    if isinstance(expr, ast.Name):
        value = _single_value(expr.id, module, scope)
        return value is not None and _trainable_plus_moving_averages(value, module, scope, depth + 1)
    parts: list = []

    def flatten(e: ast.AST) -> None:
        if isinstance(e, ast.BinOp) and isinstance(e.op, ast.Add):
            flatten(e.left)
            flatten(e.right)
        else:
            parts.append(e)
    flatten(expr)
    kinds = []
    for part in parts:
        if _trainable_call(part, module):
            kinds.append("trainable")
        elif _variable_list_call(part, module, MOVING_AVERAGE_LISTS, "MOVING_AVERAGE_VARIABLES"):
            kinds.append("averages")
        elif isinstance(part, (ast.List, ast.Tuple)) and len(part.elts) == 1 and "step" in (dotted(part.elts[0]) or ""):
            kinds.append("step")
        else:
            return False
    return "trainable" in kinds and "averages" in kinds


def _registers_moving_averages(module: Module) -> bool:
    """Does the module put variables in MOVING_AVERAGE_VARIABLES (an ExponentialMovingAverage,
    ``tf.add_to_collection(tf.GraphKeys.MOVING_AVERAGE_VARIABLES, v)``, ``collections=[...]`` of a
    hand-written or sonnet batch norm), or build batch norm by hand (``tf.nn.batch_normalization``)?"""
    return any(module.mentions(w) for w in ("ExponentialMovingAverage", "nn.batch_normalization", "fused_batch_norm",
                                            "sonnet", "snt.")) \
        or module.mentions("MOVING_AVERAGE_VARIABLES") and bool(_REGISTERS_AVERAGES.search(module.unit.text))


_REGISTERS_AVERAGES = re.compile(r"add_to_collections?\([^)]*MOVING_AVERAGE_VARIABLES|collections\s*=\s*\[[^\]]*MOVING_AVERAGE_VARIABLES")


_DICT_WRITERS = {"update", "setdefault", "__setitem__", "pop", "popitem", "clear"}
_WRAPPING_CALLS = {"list", "tuple", "sorted", "set"}


def _trainable_list(expr: ast.AST, module: Module, scope, depth: int = 0) -> bool:
    """Is ``expr`` the trainable variables or a subset of them (a filtered comprehension, ``sorted``,
    a local name bound once to one of these)?"""
    if depth > 4:
        return False
    if _trainable_call(expr, module):
        return True
    if isinstance(expr, (ast.ListComp, ast.GeneratorExp, ast.SetComp)) and len(expr.generators) == 1:
        return _trainable_list(expr.generators[0].iter, module, scope, depth + 1)
    if isinstance(expr, ast.Call) and isinstance(expr.func, ast.Name) and expr.func.id in _WRAPPING_CALLS \
            and len(expr.args) == 1 and not expr.keywords[1:]:
        return _trainable_list(expr.args[0], module, scope, depth + 1)
    if isinstance(expr, ast.Call) and isinstance(expr.func, ast.Name) and expr.func.id == "filter" and len(expr.args) == 2:
        return _trainable_list(expr.args[1], module, scope, depth + 1)
    if isinstance(expr, ast.Name):
        value = _single_value(expr.id, module, scope)
        return value is not None and _trainable_list(value, module, scope, depth + 1)
    return False


def _trainable_map(expr: ast.AST, module: Module, scope, depth: int = 0) -> bool:
    """Is ``expr`` an ``init_from_checkpoint`` assignment map whose entries all come from the trainable
    variables: ``{v.op.name: v for v in tf.trainable_variables() if ...}``, ``dict(... for v in tvars)``,
    a name bound once to one of these, or a dict filled only by ``for v in tvars: amap[...] = ...``?"""
    if depth > 4:
        return False
    if isinstance(expr, ast.DictComp) and len(expr.generators) == 1:
        return _trainable_list(expr.generators[0].iter, module, scope, depth + 1)
    if isinstance(expr, ast.Call) and (dotted(expr.func) or "").rsplit(".", 1)[-1] in ("dict", "OrderedDict") \
            and len(expr.args) == 1 and not expr.keywords:
        arg = expr.args[0]
        if isinstance(arg, (ast.GeneratorExp, ast.ListComp)) and len(arg.generators) == 1:
            return _trainable_list(arg.generators[0].iter, module, scope, depth + 1)
        return False
    if isinstance(expr, ast.Name):
        value = _single_value(expr.id, module, scope)
        if value is not None:
            return _trainable_map(value, module, scope, depth + 1)
        return _filled_from_trainables(expr.id, module, scope)
    return False


def _filled_from_trainables(name: str, module: Module, scope) -> bool:
    """``amap = {}`` then ``for v in tvars: amap[key] = ...`` (and nothing else writes ``amap``)."""
    created = stores = 0
    for n in _scope_nodes(module, scope):
        if isinstance(n, ast.Assign):
            for t in n.targets:
                if isinstance(t, ast.Name) and t.id == name:
                    empty = (isinstance(n.value, ast.Dict) and not n.value.keys) or (
                        isinstance(n.value, ast.Call) and (dotted(n.value.func) or "").rsplit(".", 1)[-1]
                        in ("dict", "OrderedDict") and not n.value.args and not n.value.keywords)
                    if not empty:
                        return False
                    created += 1
                elif isinstance(t, ast.Subscript) and isinstance(t.value, ast.Name) and t.value.id == name:
                    loop = next((a for a in module.ancestors(n) if isinstance(a, (ast.For, ast.AsyncFor))), None)
                    if loop is None or not _trainable_list(loop.iter, module, scope):
                        return False
                    stores += 1
                elif any(isinstance(e, ast.Name) and e.id == name for e in astwalk.walk(t)):
                    return False
        elif isinstance(n, (ast.AugAssign, ast.AnnAssign, ast.For, ast.comprehension, ast.withitem)):
            target = getattr(n, "target", None) or getattr(n, "optional_vars", None)
            if target is not None and any(isinstance(e, ast.Name) and e.id == name for e in astwalk.walk(target)):
                return False
        elif isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and isinstance(n.func.value, ast.Name) \
                and n.func.value.id == name and n.func.attr in _MUTATORS | _DICT_WRITERS:
            return False
        elif isinstance(n, ast.Call) and any(isinstance(a, ast.Name) and a.id == name for a in n.args) \
                and not (dotted(n.func) or "").endswith(("init_from_checkpoint", "Saver")):
            return False  # handed to a helper that may add entries
    return created == 1 and stores > 0


def _selects_moving_variables(module: Module, strict: bool = False) -> bool:
    """``[v for v in tf.global_variables() if "moving_mean" in v.name]``: the program collects the
    moving statistics by name (the usual way of adding them to a saver's list). With ``strict``, a
    list bound to a name that is only fetched (``sess.run(moving)``) or printed does not count: it
    reads the statistics, it adds them to nothing."""
    if not module.mentions("moving"):
        return False
    for node in astwalk.walk(module.tree):
        if isinstance(node, ast.comprehension):
            for cond in node.ifs:
                if any(isinstance(c, ast.Constant) and isinstance(c.value, str) and "moving" in c.value
                       for c in astwalk.walk(cond)):
                    if not (strict and _only_read_out(node, module)):
                        return True
    return False


def _only_read_out(gen: ast.comprehension, module: Module) -> bool:
    """Is the comprehension owning ``gen`` bound to a local name whose every read is an argument of a
    ``.run(...)`` call or of ``print``?"""
    comp = module.parent(gen)
    bind = module.parent(comp)
    if isinstance(bind, ast.Subscript) and bind.value is comp:
        comp, bind = bind, module.parent(bind)  # `mm = [v for v in ... if "moving_mean" in v.name][0]`
    if not (isinstance(bind, ast.Assign) and bind.value is comp and len(bind.targets) == 1
            and isinstance(bind.targets[0], ast.Name)):
        return False
    name = bind.targets[0].id
    scope = module.scope_of(bind)
    reads = 0
    for n in _scope_nodes(module, scope):
        if isinstance(n, ast.Name) and n.id == name:
            if isinstance(n.ctx, ast.Store):
                if n is not bind.targets[0]:
                    return False
                continue
            up = module.parent(n)
            if not (isinstance(up, ast.Call) and n in up.args and (
                    (isinstance(up.func, ast.Attribute) and up.func.attr == "run")
                    or (isinstance(up.func, ast.Name) and up.func.id == "print"))):
                return False
            reads += 1
    return reads > 0


# Leaf names of the weights a layer creates (tf.layers / Keras / slim / contrib): a whitelist made only
# of these keeps no moving_mean / moving_variance.
_WEIGHT_LEAVES = frozenset(("kernel", "bias", "gamma", "beta", "weights", "biases", "depthwise_kernel",
                            "pointwise_kernel", "depthwise_weights", "pointwise_weights", "embeddings",
                            "recurrent_kernel", "alpha", "W", "b", "w"))
_SUBSTRING_LEAVES = frozenset(n for n in _WEIGHT_LEAVES if len(n) >= 4)


def _weights_by_name(expr: ast.AST, module: Module, scope) -> Optional[set]:
    """The whitelist when ``expr`` keeps only the global variables whose names are layer weights:
    ``[v for v in tf.global_variables() if v.op.name.split("/")[-1] in ("kernel", "bias", "gamma",
    "beta")]``, ``... if "kernel" in v.name or "bias" in v.name``, ``v.name.endswith(("kernel:0", ...))``
    — inline, through a local name bound once, or returned by a helper of this module. Every name
    of the whitelist must be a layer weight's leaf name: such a list never holds the moving
    statistics. None otherwise (a scope filter, a blacklist, anything computed)."""
    looked_through = _list_expression(expr, module, scope, helpers=True)
    if looked_through is None:
        return None
    expr, scope = looked_through
    if not (isinstance(expr, (ast.ListComp, ast.GeneratorExp)) and len(expr.generators) == 1):
        return None
    gen = expr.generators[0]
    if not isinstance(gen.target, ast.Name) or _global_source(gen.iter, module, scope) is None:
        return None
    for cond in gen.ifs:  # several ``if``s narrow each other: one whitelist is enough
        names = _whitelist(cond, gen.target.id, module)
        if names:
            return names
    return None


def _whitelist(cond: ast.AST, var: str, module: Module) -> Optional[set]:
    def reads_var(e: ast.AST) -> bool:
        return any(isinstance(n, ast.Name) and n.id == var for n in astwalk.walk(e))

    def leaf(s) -> Optional[str]:
        return s.split(":")[0].strip("/").rsplit("/", 1)[-1] if isinstance(s, str) else None

    if isinstance(cond, ast.BoolOp):
        parts = [_whitelist(v, var, module) for v in cond.values]
        if isinstance(cond.op, ast.Or):
            return set().union(*parts) if all(parts) else None
        return next((p for p in parts if p), None)  # ``and``: any whitelist among the terms bounds it
    if isinstance(cond, ast.Compare) and len(cond.ops) == 1 and isinstance(cond.ops[0], ast.In):
        left, right = cond.left, cond.comparators[0]
        if isinstance(left, ast.Constant) and reads_var(right) and not reads_var(left):
            return {left.value} if leaf(left.value) in _SUBSTRING_LEAVES and "/" not in left.value.strip("/") else None
        if reads_var(left) and not reads_var(right):
            strings = _constant_strings(right, module)
            return set(strings) if strings and all(leaf(x) in _WEIGHT_LEAVES for x in strings) else None
        return None
    if isinstance(cond, ast.Call) and isinstance(cond.func, ast.Attribute) and cond.func.attr == "endswith" \
            and reads_var(cond.func.value) and len(cond.args) == 1 and not cond.keywords:
        strings = _constant_strings(cond.args[0], module)
        if strings is None and isinstance(cond.args[0], ast.Constant):
            strings = [cond.args[0].value]
        return set(strings) if strings and all(
            isinstance(x, str) and (x.startswith("/") or ":" in x or x in _WEIGHT_LEAVES) and leaf(x) in _WEIGHT_LEAVES
            for x in strings) else None
    return None


def _constant_strings(expr: ast.AST, module: Module) -> Optional[list]:
    """The strings of a literal tuple/list/set of strings, or of a module-level name bound once to one."""
    if isinstance(expr, ast.Name):
        value = _single_value(expr.id, module, None)
        if value is None:
            return None
        expr = value
    if isinstance(expr, ast.Call) and isinstance(expr.func, ast.Name) and expr.func.id in ("set", "frozenset", "tuple",
                                                                                          "list") \
            and len(expr.args) == 1 and not expr.keywords:
        expr = expr.args[0]
    if isinstance(expr, (ast.Tuple, ast.List, ast.Set)) and expr.elts and all(
            isinstance(e, ast.Constant) and isinstance(e.value, str) for e in expr.elts):
        return [e.value for e in expr.elts]
    return None


def _kw(call: ast.Call, name: str) -> Optional[ast.AST]:
    return next((k.value for k in call.keywords if k.arg == name), None)


def _trainable_call(expr: ast.AST, module: Module) -> bool:
    return _variable_list_call(expr, module, TRAINABLE_LISTS, "TRAINABLE_VARIABLES")


def _variable_list_call(expr: ast.AST, module: Module, lists: set, collection: str) -> bool:
    """``tf.global_variables()``-like calls (one of ``lists``), or ``tf.get_collection(<...collection>)``."""
    if not isinstance(expr, ast.Call):
        return False
    q = module.imports.resolve(expr.func) or ""
    if q in lists:
        return True
    if q in ("tensorflow.get_collection", "tensorflow.compat.v1.get_collection"):
        key = expr.args[0] if expr.args else _kw(expr, "key")
        return key is not None and (dotted(key) or "").endswith(collection)
    return False


def _trainable_only(expr: ast.AST, module: Module, scope, depth: int = 0) -> bool:
    """The plain trainable list, inline or through one local name bound once and never extended; or
    a name map over the trainable variables only (``{ema.average_name(v): v for v in
    tf.trainable_variables()}``: the usual hand-built EMA restore map, which, unlike
    ``ema.variables_to_restore()``, leaves every non-trainable variable out); or the one value that
    a helper function of this module returns, when that value is one of these."""
    if _trainable_call(expr, module) or (not isinstance(expr, ast.Name) and _trainable_map(expr, module, scope)):
        return True
    if isinstance(expr, ast.Call) and depth < 2:
        returned = _returned_value(expr, module)
        if returned is not None:
            return _trainable_only(returned[0], module, returned[1], depth + 1)
        return False
    if not isinstance(expr, ast.Name):
        return False
    body = scope.body if scope is not None else module.tree.body
    owner_nodes = [n for st in body for n in astwalk.walk(st)] if scope is not None else \
        [n for st in body if not isinstance(st, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
         for n in astwalk.walk(st)]
    bindings = []
    for n in owner_nodes:
        if isinstance(n, ast.Assign) and any(isinstance(t, ast.Name) and t.id == expr.id for t in n.targets):
            bindings.append(n.value)
        elif isinstance(n, (ast.AugAssign, ast.AnnAssign)) and isinstance(n.target, ast.Name) and n.target.id == expr.id:
            return False
        elif isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr in _MUTATORS \
                and isinstance(n.func.value, ast.Name) and n.func.value.id == expr.id:
            return False
    return len(bindings) == 1 and (_trainable_call(bindings[0], module) or _trainable_map(expr, module, scope))


def _name_map(expr: ast.AST, module: Module, scope, depth: int = 0) -> bool:
    """``expr`` (a Saver's var_list) is a name -> variable map over the trainable variables."""
    if isinstance(expr, ast.Call) and depth < 2:
        returned = _returned_value(expr, module)
        if returned is not None:
            return _name_map(returned[0], module, returned[1], depth + 1)
    return _trainable_map(expr, module, scope)


def _returned_value(call: ast.Call, module: Module):
    """(value, function) for a call of a function of this module (``helper(...)``, ``self.helper(...)``)
    defined once, whose body returns one value; None otherwise."""
    f = call.func
    name = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) \
        and isinstance(f.value, ast.Name) and f.value.id in ("self", "cls") else None
    defs = [fi.node for fi in module.functions if fi.name == name] if name else []
    if len(defs) != 1:
        return None
    returns = [n for n in astwalk.walk(defs[0]) if isinstance(n, ast.Return) and module.scope_of(n) is defs[0]]
    if len(returns) != 1 or returns[0].value is None:
        return None
    return returns[0].value, defs[0]


def _name_of_returned_saver(saver_call: ast.Call, module: Module, modules: list) -> Optional[str]:
    """``def make_saver(): return tf.train.Saver(...)`` called once as ``saver = make_saver()``: the
    name the program uses for the returned Saver."""
    if not isinstance(module.parent(saver_call), ast.Return):
        return None
    fn = module.scope_of(saver_call)
    if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return None
    names = {n.targets[0].id for m in modules for n in m.assignments
             if isinstance(n, ast.Assign) and len(n.targets) == 1 and isinstance(n.targets[0], ast.Name)
             and isinstance(n.value, ast.Call) and (dotted(n.value.func) or "").rsplit(".", 1)[-1] == fn.name}
    return names.pop() if len(names) == 1 else None


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


def _other_full_savers(saver_call: ast.Call, modules: list) -> list:
    """The other Savers of the program that are not restricted to the trainable list."""
    out = []
    for m in modules:
        for c in m.calls:
            if c.qualname in SAVERS and c.node is not saver_call:
                var_list = c.node.args[0] if c.node.args else _kw(c.node, "var_list")
                if var_list is None or not (_trainable_only(var_list, m, c.scope)
                                            or _weights_by_name(var_list, m, c.scope)):
                    out.append(c)
    return out


def _restore_unknown(other, modules: list) -> bool:
    """Another full Saver restores (or may: it is not bound to a local name whose uses can all be
    read): a restricted Saver's restore is then not the only load of the checkpoint. A full Saver
    that only writes checkpoints (the training half of a train/eval script) brings nothing back."""
    m = other.module
    parent = m.parent(other.node)
    if not (isinstance(parent, ast.Assign) and len(parent.targets) == 1 and isinstance(parent.targets[0], ast.Name)):
        return True
    name = parent.targets[0].id
    for n in astwalk.walk(other.scope if other.scope is not None else m.tree):
        if isinstance(n, ast.Name) and n.id == name and isinstance(n.ctx, ast.Load):
            up = m.parent(n)
            if not (isinstance(up, ast.Attribute) and up.attr == "save" and isinstance(m.parent(up), ast.Call)
                    and m.parent(up).func is up):
                return True  # restored, or handed to something (a Supervisor, a hook, a helper)
    return False


# --- hand-written weight files (``np.savez`` of ``sess.run(params)`` / ``v.assign(data[...])``) -----
# Readers of a weight file written by the program itself: numpy archives, pickles, HDF5, MATLAB files.
_FILE_READS = {"numpy.load", "numpy.loadtxt", "pickle.load", "pickle.loads", "cPickle.load", "_pickle.load",
               "dill.load", "joblib.load", "h5py.File", "scipy.io.loadmat", "json.load", "deepdish.io.load"}
_TF_ASSIGNS = {"tensorflow.assign", "tensorflow.compat.v1.assign"}


def _handwritten_trainable_loads(rule, module: Module, project: Project) -> Iterable[Finding]:
    """``v.assign(data[name])`` (``tf.assign(v, ...)``, ``v.load(value, sess)``) in a loop over a list
    of variables, in a function that reads a weight file (``np.load``, ``pickle.load``, ``h5py``...),
    where the list holds only trainable variables — inline (``tf.trainable_variables()``, a filtered
    comprehension, a local bound once), or a parameter of that helper whose every call in the project
    passes such a list (through a local, a helper's return, or an attribute like TensorLayer's
    ``net.all_params`` whose every store is one) — and the graph it loads into (the helper's caller,
    or the function itself) runs the BN layers with training False. The file holds no moving
    statistics, or they are not assigned: they keep their 0/1 initializers."""
    if not (module.mentions("assign") or module.mentions(".load(")) or not any(
            module.mentions(w) for w in ("load", "File", "loadmat")):
        return
    reads = {id(k.scope) for k in module.calls if k.qualname in _FILE_READS}
    if not reads:
        return
    reported: set = set()
    for k in module.calls:
        if k.name not in ("assign", "load") or id(k.scope) not in reads \
                or not isinstance(k.scope, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        loop = _assigned_loop_list(k, module)
        if loop is None:
            continue
        lst, fn = loop
        if id(fn) in reported:
            continue
        graphs = _trainable_list_graphs(lst, fn, k, module, project)
        if not graphs:
            continue
        for node, m, source in graphs:
            frozen = _frozen_in_graph(node, m, project)
            if frozen is None:
                continue
            program = same_program(m, project)
            program_modules = [pm for pm in project.modules if id(pm) in program]
            if any(pm.mentions(w) for pm in program_modules for w in _HANDLED_WORDS) \
                    or any(_selects_moving_variables(pm) for pm in program_modules) \
                    or deliberate_in_program(m, project) or _other_restore(k, program_modules, project=project):
                continue
            reported.add(id(fn))
            where = "" if m is module and node is k.node else f", the list the call at {m.where(node.lineno)} passes"
            yield rule.finding(module, k.node, (
                f"this loop assigns the values read from a weight file only to {source}{where}: the "
                "batch-norm moving_mean/moving_variance are not trainable, so they are neither written to such "
                "a file nor assigned from it and keep their initial values (mean 0, variance 1), while the layer "
                f"built at {frozen.where} runs with training False in this graph and normalizes with them; "
                "export and load every global variable of the model (`tf.global_variables(scope)`), or add the "
                "moving statistics to the list"))
            break


def _assigned_loop_list(k, module: Module):
    """(the iterated list, the function) for ``v.assign(...)`` / ``v.load(value, sess)`` /
    ``tf.assign(v, ...)`` whose ``v`` is the target of a ``for`` loop or comprehension in the same
    function (``for v, w in zip(params, values)`` and ``enumerate(params)`` included)."""
    f = k.node.func
    if not isinstance(f, ast.Attribute):
        return None
    if k.qualname in _TF_ASSIGNS:
        var = k.node.args[0] if k.node.args else None
    elif k.qualname is None or not k.qualname.startswith(("tensorflow", "numpy")):
        var = f.value
        if k.name == "load" and not k.node.args:
            return None
    else:
        return None
    if not isinstance(var, ast.Name):
        return None
    for a in module.ancestors(k.node):
        if a is k.scope:
            break
        gens = a.generators if isinstance(a, (ast.ListComp, ast.GeneratorExp, ast.SetComp, ast.DictComp)) else \
            [a] if isinstance(a, (ast.For, ast.AsyncFor)) else []
        for g in gens:
            it = _loop_source(g.target, g.iter, var.id)
            if it is not None:
                return it, k.scope
    return None


def _loop_source(target: ast.AST, it: ast.AST, name: str) -> Optional[ast.AST]:
    if isinstance(target, ast.Name):
        return it if target.id == name else None
    if not (isinstance(target, ast.Tuple) and isinstance(it, ast.Call) and isinstance(it.func, ast.Name)):
        return None
    if it.func.id == "zip" and len(it.args) == len(target.elts) and not it.keywords:
        return next((_loop_source(t, a, name) for t, a in zip(target.elts, it.args)
                     if _loop_source(t, a, name) is not None), None)
    if it.func.id == "enumerate" and len(target.elts) == 2 and it.args:
        return _loop_source(target.elts[1], it.args[0], name)
    return None


def _trainable_list_graphs(lst: ast.AST, fn, k, module: Module, project: Project) -> list:
    """[(node whose graph is loaded into, its module, what the list is)] when ``lst`` holds trainable
    variables only: the assign itself (and, when ``fn`` builds nothing, its callers) for a list of
    ``fn``; each call of ``fn`` for a parameter of it that every call in the project fills with one."""
    cls = module.enclosing_class(fn)
    calls = [c for c in project.call_sites(fn.name)
             if not (cls is None and isinstance(c.node.func, ast.Name)
                     and not project.imports_name_from(c.module, fn.name, module))]
    if _trainable_list(lst, module, fn):
        nodes = [(k.node, module)]
        if not _sites_in_graph_of(fn, module, project):
            nodes += [(c.node, c.module) for c in calls]
        return [(n, m, "the trainable variables") for n, m in nodes]
    if not isinstance(lst, ast.Name) or not kf._param_index(fn, lst.id)[2] or _single_value(lst.id, module, fn) is not None \
            or any(isinstance(n, ast.Name) and n.id == lst.id and isinstance(n.ctx, ast.Store) for n in astwalk.walk(fn)):
        return []
    out = []
    for c in calls:
        arg, explicit = kf.argument_for(c.node, fn, lst.id, is_method_call=isinstance(c.node.func, ast.Attribute))
        source = _trainable_source(arg, c.module, c.scope, project) if arg is not None and explicit else None
        if source is None:
            return []
        out.append((c.node, c.module, source))
    return out


def _trainable_source(expr: ast.AST, module: Module, scope, project: Project, depth: int = 0) -> Optional[str]:
    """A description of ``expr`` when it holds trainable variables only: the list itself (inline, a
    local bound once, a helper's return), or an attribute (``net.all_params``, ``self.params``) whose
    every store in the project is such a list and that nothing extends; None otherwise."""
    if depth > 3:
        return None
    if _trainable_list(expr, module, scope) or _trainable_only(expr, module, scope):
        return "the trainable variables"
    if isinstance(expr, ast.Name):
        value = _single_value(expr.id, module, scope)
        return None if value is None else _trainable_source(value, module, scope, project, depth + 1)
    if not isinstance(expr, ast.Attribute) or not isinstance(expr.ctx, ast.Load):
        return None
    attr = expr.attr
    stores = []
    program = same_program(module, project)
    for m in project.modules:
        if id(m) not in program or not m.mentions(attr):
            continue
        for n in astwalk.walk(m.tree):
            if isinstance(n, ast.Attribute) and n.attr == attr:
                up = m.parent(n)
                if isinstance(n.ctx, (ast.Store, ast.Del)):
                    if not (isinstance(up, ast.Assign) and len(up.targets) == 1 and up.targets[0] is n):
                        return None  # unpacked, augmented, deleted
                    stores.append((up.value, m))
                elif isinstance(up, ast.Attribute) and up.attr in _MUTATORS | _DICT_WRITERS \
                        or isinstance(up, ast.Subscript) and isinstance(up.ctx, (ast.Store, ast.Del)):
                    return None  # ``net.all_params.extend(...)``
    if not stores or not all(_trainable_list(v, m, m.scope_of(v)) or _trainable_only(v, m, m.scope_of(v))
                             for v, m in stores):
        return None
    v, m = stores[0]
    return f"`{ast.unparse(expr)}` (`{ast.unparse(v)}` at {m.where(v.lineno)})"
