"""Cross-framework rules (BN5xx): momentum conventions mixed up between frameworks.

PyTorch updates ``running = (1 - m) * running + m * batch`` (default m = 0.1); Keras, TF1 layers,
slim and Flax update ``moving = m * moving + (1 - m) * batch`` (default 0.99 / 0.999 / 0.9). A
PyTorch value such as 0.1 in a Keras/TF/Flax BN keeps 10 % of the history per step: the moving
statistics are essentially those of the last batch.
"""
from __future__ import annotations

import ast
import re
from typing import Iterable, Optional

from bnguard.lint import astwalk
from bnguard.lint import config_values
from bnguard.lint import keras_facts as kf
from bnguard.lint.finding import Edit, Finding, Fix
from bnguard.lint.imports import dotted
from bnguard.lint.project import Module, Project, is_test_file
from bnguard.lint.rules.base import Rule, RuleDoc, register
from bnguard.lint.tf1_facts import identifier_words

# canonical callee -> (keyword, positional index of that keyword or None)
MOMENTUM_ARG: dict[str, tuple[str, Optional[int]]] = {
    "tensorflow.layers.batch_normalization": ("momentum", 2),
    "tf_slim.batch_norm": ("decay", 1),
    "flax.linen.BatchNorm": ("momentum", 2),
    "flax.linen.normalization.BatchNorm": ("momentum", 2),
    "flax.nnx.BatchNorm": ("momentum", None),
    "flax.nnx.nn.normalization.BatchNorm": ("momentum", None),
    "flax.experimental.nnx.BatchNorm": ("momentum", None),
}
KERAS_BN_ARG = ("momentum", 1)  # BatchNormalization(axis=-1, momentum=0.99, ...)
THRESHOLD = 0.5
# A comment at the BN that weighs its momentum against this framework's default (or says the value is
# chosen on purpose): the author knows which side the momentum weighs.
_KNOWS_CONVENTION = re.compile(r"(momentum|decay).*(default|too (high|slow|large|big)|on purpose|deliberate|intention)|"
                               r"(default|too (high|slow|large|big)|on purpose|deliberate|intention).*(momentum|decay)",
                               re.I)


def _momentum_spec(module: Module, call: ast.Call) -> Optional[tuple[str, Optional[int]]]:
    q = module.imports.resolve(call.func)
    if q in MOMENTUM_ARG:
        return MOMENTUM_ARG[q]
    if kf.is_keras_bn_layer(q):
        return KERAS_BN_ARG
    if q == "functools.partial" and call.args:
        inner = module.imports.resolve(call.args[0])
        if inner in MOMENTUM_ARG:
            return (MOMENTUM_ARG[inner][0], None)
        if kf.is_keras_bn_layer(inner):
            return ("momentum", None)
    f = call.func
    if isinstance(f, ast.Attribute) and f.attr == "__init__" and isinstance(f.value, ast.Call) \
            and isinstance(f.value.func, ast.Name) and f.value.func.id == "super":
        # class TorchStyleBN(layers.BatchNormalization): super().__init__(momentum=0.1, **kwargs)
        cls = module.enclosing_class(call)
        if cls is not None and any(kf.is_keras_bn_layer(module.imports.resolve(b)) for b in cls.bases):
            return KERAS_BN_ARG
        return None
    if q and q.endswith("arg_scope") and call.args and isinstance(call.args[0], (ast.List, ast.Tuple)):
        if any((module.imports.resolve(e) or "").endswith("batch_norm") for e in call.args[0].elts):
            return ("decay", None)
    return None


@register
class TorchMomentumConvention(Rule):
    code = "BN501"
    name = "pytorch-momentum-in-keras-tf-flax"
    framework = "cross-framework"
    summary = "PyTorch's BN momentum convention (e.g. 0.1) used in a Keras/TF/Flax BatchNorm."
    triggers = ("momentum", "decay", "BatchNorm", "batch_norm")  # positional momentum has no keyword
    doc = RuleDoc(
        what="""
Finds a BatchNorm momentum below 0.5 in the frameworks whose momentum is the weight of the *old*
value: `keras.layers.BatchNormalization(momentum=...)` (every Keras spelling, also
SyncBatchNormalization), `tf.compat.v1.layers.batch_normalization(momentum=...)`, slim /
`tf.contrib.layers.batch_norm(decay=...)` (also `arg_scope([slim.batch_norm], decay=...)` and
`normalizer_params={'decay': ...}`), Flax `nn.BatchNorm(momentum=...)` and `nnx.BatchNorm(momentum=...)`
(also through `functools.partial`), and the same keywords inside a `**bn_kwargs` splat of dicts the
project builds (`dict(momentum=0.1, ...)`, `{...}`, copies with overrides), and `layer.momentum = m`
assigned after a Keras model is built to a layer tested with `isinstance(layer,
layers.BatchNormalization)` (a `set_bn_momentum(model, m)` helper) or bound to a BN constructor
(Keras reads `self.momentum` at every call, so the assignment takes effect). The value is resolved
through constants, wrapper parameters and their call sites, also from a JSON document the program
holds (`cfg = json.loads(RECIPE)` with `RECIPE` a string constant, read by constant keys and never
written or handed on), also a `**norm_kwargs(cfg)` splat of a project function returning a dict
display, and a field of a Flax module / dataclass (`momentum=self.bn_momentum`)
followed through every construction of the class, also through a registry (`{"ResNet": ResNet}[config.model](...)`,
`MODELS[name](...)`), `config.bn_momentum` / `config.model.bn_momentum` read from the config object a
project `get_config()` fills (`config = ml_collections.ConfigDict(); config.bn_momentum = 0.1; return
config`, also `SimpleNamespace` / `EasyDict`) and hands down through parameters from its call (not when
the setting is written anywhere else in the project: another config file, `config.update(...)`,
`setattr`), and `1 - decay` written at the setting with `decay` resolved (a TensorFlow-convention decay
such as 0.9 converted again as if it were PyTorch's momentum gives 0.1), and a decay computed as a
schedule of the training step (PointNet's `get_bn_decay(batch)` with `batch = tf.Variable(0,
trainable=False)` or `get_or_create_global_step()`, through `tf.train.exponential_decay`, `tf.pow`,
`tf.maximum` / `tf.minimum`, `1 - x` and project helpers): reported when every value it takes is at
most 0.5 and it decays below 0.5 to a floor above 0 (PyTorch's momentum schedule 0.5 -> 0.01 handed
over unconverted; PointNet's own `tf.minimum(0.99, 1 - bn_momentum)` rises to 0.99 and is not);
unresolved values are not reported. 0.5 (the
same in both conventions) is not reported, nor a literal 0 at the layer (moving statistics = last batch,
used on purpose for recalibration); a model builder's momentum *parameter* that is 0 wherever it comes
from (`def resnet(..., bn_momentum=0.0)` threaded to every BN, a TPU reference's default ported as-is)
is: the model trains with last-batch statistics. So is a momentum 0 assigned after the build (`for
layer in model.layers: ... layer.momentum = 0`, a literal or a resolved setting) when the model is
then trained — `model.fit` / `fit_generator` / `train_on_batch` after the loop in the same function,
or after the call of the helper that sets it (`freeze_bn_statistics(model, 0.0); model.fit(...)`)
with no momentum assignment in between: PyTorch's way to stop the running statistics, which in Keras
makes each training batch replace them (a one-pass recalibration with momentum 0 is left alone).
Also a momentum 0 set (inline over `self.net.layers`, or by a helper given the model) in a function
that takes gradients, followed by `model(x, training=True)` inside a `GradientTape` block of that
function before any momentum is assigned again (or a project helper that assigns one is called):
SAM's second pass "bypassing" BN the PyTorch way (`disable_running_stats`) — in Keras every step then
overwrites the moving statistics with the perturbed pass's batch statistics, even when the momentum is
restored right after the pass (measured with Keras 3.15).
""",
        why="""
These frameworks compute `moving = momentum * moving + (1 - momentum) * batch`; PyTorch computes
`running = (1 - momentum) * running + momentum * batch`. A PyTorch value such as 0.1 or 0.01
ported unchanged keeps only 10 % / 1 % of the history per step: the moving statistics follow the
last one or two batches, and the model evaluates with noisy, batch-dependent statistics.
""",
        example="""
x = keras.layers.BatchNormalization(momentum=0.1)(x)      # PyTorch's default, ported as-is
""",
        use_instead="""
x = keras.layers.BatchNormalization(momentum=0.9)(x)      # = 1 - 0.1
""",
        not_flagged="""
- momentum >= 0.5, a literal momentum 0 at the layer (deliberate: last-batch statistics), a momentum
  0 assigned after the build for a recalibration pass (no `fit` / `train_on_batch`, and no
  `GradientTape` pass of a gradient-taking function, follows before the momentum is set again), a
  momentum 1.0 for SAM's perturbed pass (the Keras way to keep the statistics), values that cannot be
  resolved;
- a BN that always runs in training mode, so its moving statistics are never read (`training=True`
  in a pix2pix-style TF1 model, a Flax GAN critic whose `use_running_average` is always False,
  `BatchNormalization(momentum=0.1)(x, training=True)`): its momentum changes no output. The Flax
  field is followed through every construction of the class, also under an import alias
  (`from nets import Critic as D; D()`); a discriminator / critic class that nothing builds takes its
  field default (it would run inside the training steps only);
- a BN stated to run in inference mode at its construction, so its statistics are never written
  (TF1 `batch_normalization(..., training=False)` builds no update op, slim `is_training=False`,
  Flax `use_running_average=True`). Not a Keras layer called with `training=False` in a functional
  graph: Keras 3 replaces that value by the outer call's, so `fit` still updates it (measured with
  Keras 3.15);
- a Keras BN built only into models that load pretrained weights (`model.load_weights(...)` in the
  builder or a project function calling it: a PyTorch port run on its converted checkpoint) and
  that nothing in the program trains: every construction of the weight-loading builder (followed
  through package re-exports, and up through functions handing its model back) sits in a module
  with no `fit` / `train_on_batch` / `apply_gradients` / `minimize` / `GradientTape` / `backward`
  / `compile` (keras-ocr's detector compiles its pretrained model for its users to fine-tune) and
  no call of a routine named for training. A builder nothing in the project calls (a library model
  its users may train) is still reported;
- PyTorch BN (see BN304 for the opposite mistake);
- a momentum whose comment (on its line or right above) weighs it against this framework's default
  or calls it deliberate ("the default 0.99 is too high in this case"): a short memory chosen in the
  right convention. A comment that names PyTorch does not count;
- unit-test files (`test_*.py`, `*_test.py`): fixture models that train nothing (slim's
  `model_deploy_test.py`, vendored into many forks).
""",
        versions="Keras 2/3, tf.keras/tf_keras, TF1 layers, tf.contrib / tf_slim, Flax linen and NNX (all versions).",
    )

    def check(self, module: Module, project: Project) -> Iterable[Finding]:
        if is_test_file(module.path):
            return  # unit-test fixtures (slim's model_deploy_test.py, vendored into its forks) train nothing
        for c in module.calls:
            spec = _momentum_spec(module, c.node)
            if spec is not None:
                key, pos = spec
                f = self._report(module, project, c.node, _argument_sources(module, project, c.node, key, pos), key)
                if f:
                    yield f
            # normalizer_params={'decay': 0.1} / batch_norm_params = {'decay': 0.1}
            np_ = kf.kwarg(c.node, "normalizer_params")
            if np_ is not None:
                d = self._dict_value(module, np_)
                if d is not None:
                    f = self._report(module, project, c.node, [(d, module)], "decay")
                    if f:
                        yield f
        # ``layer.momentum = m`` on a Keras BN after it was built (a ``set_bn_momentum(model, m)`` helper)
        if module.mentions("momentum") and kf.uses_keras(module):
            for node in module.nodes_of_kind.get(ast.Assign, ()):
                if len(node.targets) == 1 and isinstance(node.targets[0], ast.Attribute) \
                        and node.targets[0].attr == "momentum" and _keras_bn_object(module, node.targets[0].value, node):
                    f = self._report(module, project, node, [(node.value, module)], "momentum")
                    if f:
                        yield f

    @staticmethod
    def _dict_value(module: Module, expr: ast.expr) -> Optional[ast.expr]:
        if isinstance(expr, ast.Name):
            scope = module.scope_of(expr)
            assigned = kf._assignments(scope if scope is not None else module.tree, expr.id) or kf._assignments(module.tree, expr.id)
            expr = assigned[0] if len(assigned) == 1 and assigned[0] is not None else None
        if isinstance(expr, ast.Dict):
            for k, v in zip(expr.keys, expr.values):
                if isinstance(k, ast.Constant) and k.value == "decay":
                    return v
        return None

    def _report(self, module: Module, project: Project, call: ast.Call,
                sources: Optional[list[tuple[ast.expr, Module]]], key: str) -> Optional[Finding]:
        if not sources or isinstance(call, ast.Call) and _statistics_never_read(module, project, call):
            return None
        vals: set = set()
        for expr, where in sources:
            got = _setting_values(where, project, expr)
            if not got:
                return None
            vals |= got
        nums = [v for v in vals if isinstance(v, (int, float)) and not isinstance(v, bool)]
        if len(nums) != len(vals):
            return None
        bad = sorted(v for v in nums if 0 < v < THRESHOLD)
        comment = kf.comments_at(module, call) + " " + _comments_at_definitions(project, sources) if bad else ""
        if _KNOWS_CONVENTION.search(comment) and not re.search(r"torch", comment, re.I):
            return None  # "the default 0.99 is too high in this case": a short memory chosen in this convention
        if not bad:
            if isinstance(call, ast.Call) and nums and all(v == 0 for v in nums) and len(sources) == 1 \
                    and _builder_parameter(sources[0][1], sources[0][0]) is not None:
                return self._zero_default(module, call, sources[0], key)
            if isinstance(call, ast.Assign) and nums and all(v == 0 for v in nums):
                fit = _trained_after_zero_momentum(module, project, call)
                if fit is not None:
                    return self._zero_then_trained(module, call, fit)
            return None
        if isinstance(call, ast.Call) and kf.is_keras_bn_layer(module.imports.resolve(call.func)) \
                and _pretrained_inference_only(module, project, call):
            return None  # statistics loaded with pretrained weights, and nothing in the program trains the model
        expr, where = sources[0]
        m = bad[0]
        fix = None
        inside = where is module and len(sources) == 1 and \
            (expr.lineno, expr.col_offset) >= (call.lineno, call.col_offset) and \
            (expr.end_lineno, expr.end_col_offset) <= (call.end_lineno, call.end_col_offset)
        if isinstance(expr, ast.Constant) and inside:  # a shared dict/constant elsewhere is left to the user
            cell, line = module.unit.locate(expr.lineno)
            _, end_line = module.unit.locate(expr.end_lineno or expr.lineno)
            fix = Fix(f"use the {key} of this framework's convention: 1 - {m:g}",
                      (Edit(line, expr.col_offset, end_line, expr.end_col_offset or expr.col_offset, f"{round(1 - m, 10):g}", cell),))
        splat = next((kw.value for kw in call.keywords if kw.arg is None), None) \
            if isinstance(call, ast.Call) and kf.kwarg(call, key) is None else None
        origin = next((e for e, w in sources if set(_setting_values(w, project, e) or ()) & set(bad)), expr)
        owner = next(w for e, w in sources if e is origin)
        at = module.line_ref(origin.lineno) if owner is module else owner.where(origin.lineno)
        via = f" (from `**{ast.unparse(splat)}`, set at {at})" if splat is not None and not inside else ""
        if _one_minus(origin) is not None:
            # ``momentum = 1.0 - decay`` with ``decay`` already a TensorFlow-convention value (0.9)
            via += (f" (`{ast.unparse(origin)}`: a decay of {round(1 - m, 10):g}, already in this framework's "
                    "convention, converted as if it were PyTorch's momentum)")
        elif not isinstance(origin, ast.Constant) and _schedule_values(owner, project, origin) \
                and not config_values.constant_values(owner, project, origin):
            via += (f" (`{ast.unparse(origin)}`: a schedule of the training step, every value at most "
                    f"{THRESHOLD:g}, decaying to {m:g}: a PyTorch momentum schedule handed over as the decay)")
        return self.finding(module, call,
                            f"BatchNorm {key}={m:g}{via} follows PyTorch's convention; here {key} weighs the old moving "
                            f"statistics, so they keep only {m:.0%} of their history per step (≈ last batch); "
                            f"use {key}={round(1 - m, 10):g}", fix=fix)

    def _zero_default(self, module: Module, call: ast.Call, source: tuple[ast.expr, Module], key: str) -> Finding:
        """A model builder whose momentum parameter is 0 wherever it is used (its default, and every call
        site that gives one): every BatchNorm it builds keeps only the last training batch's statistics.
        (A literal 0 at the layer, the recalibration idiom, is left alone.)"""
        expr, _where = source
        return self.finding(module, call,
                            f"BatchNorm {key}=0 (the builder parameter `{ast.unparse(expr)}` is 0 everywhere it comes "
                            f"from): here {key} weighs the old moving statistics, so with 0 they are replaced by each "
                            f"training batch's and evaluation uses the last batch's statistics; use {key}=0.99 (or "
                            f"0.9, = 1 - PyTorch's 0.1)")


    def _zero_then_trained(self, module: Module, stmt: ast.Assign, fit: tuple[Module, ast.Call]) -> Finding:
        fmod, call = fit
        at = fmod.line_ref(call.lineno) if fmod is module else fmod.where(call.lineno)
        return self.finding(module, stmt, (
            f"`{ast.unparse(stmt)}` sets a Keras BatchNormalization momentum to 0 and the model is then trained "
            f"(`{ast.unparse(call.func)}(...)` at {at}): in Keras momentum weighs the *old* moving statistics "
            "(PyTorch's momentum=0 freezes them; Keras's replaces them by each batch's), so after training the "
            "moving mean/variance are the last training batch's; to keep the statistics, use momentum=1.0 or set "
            "the BN layers trainable=False (inference mode), or keep the default 0.99"))


_TRAINING_CALLS = frozenset({"fit", "fit_generator", "train_on_batch"})


def _trained_after_zero_momentum(module: Module, project: Project, stmt: ast.Assign) -> Optional[tuple[Module, ast.Call]]:
    """``for layer in model.layers: ... layer.momentum = 0`` followed by ``model.fit(...)`` (also
    ``fit_generator`` / ``train_on_batch``): in the same function after the loop, or, when ``model`` is
    a parameter of a helper (``freeze_bn_statistics(model, m)``), in a function calling the helper after
    the call. The fit call found, or None (a momentum-0 recalibration pass run otherwise is left alone)."""
    loop = next((a for a in module.ancestors(stmt) if isinstance(a, (ast.For, ast.AsyncFor))), None)
    if loop is None:
        return None
    it = loop.iter.func if isinstance(loop.iter, ast.Call) else loop.iter
    while isinstance(it, ast.Subscript):
        it = it.value
    if not (isinstance(it, ast.Attribute) and it.attr in ("layers", "submodules", "_flatten_layers")
            and isinstance(it.value, (ast.Name, ast.Attribute))):
        return None
    fn = module.scope_of(loop)
    end = loop.end_lineno or loop.lineno
    if not isinstance(it.value, ast.Name):  # ``for layer in self.network.layers`` inside the step itself
        step = _stepped_after(module, project, fn, ast.unparse(it.value), end) if fn is not None else None
        return (module, step) if step is not None else None
    model = it.value.id
    found = _fit_after(module, fn if fn is not None else module.tree, model, end) \
        or (_stepped_after(module, project, fn, model, end) if fn is not None else None)
    if found is not None:
        return module, found
    if fn is None or isinstance(fn, ast.Lambda) or module.enclosing_class(fn) is not None or _binds(fn, model):
        return None
    if model not in [a.arg for a in fn.args.posonlyargs + fn.args.args]:
        return None
    for site in project.call_sites(fn.name):
        if kf.resolve_def(project, site.module, site.node.func) is not fn:
            continue
        arg, explicit = kf.argument_for(site.node, fn, model)
        if not explicit or arg is None:
            continue
        owner = site.module.scope_of(site.node)
        at = site.node.end_lineno or site.node.lineno
        found = _fit_after(site.module, owner if owner is not None else site.module.tree, arg.id, at) \
            if isinstance(arg, ast.Name) else None
        if found is None and owner is not None and isinstance(arg, (ast.Name, ast.Attribute)):
            found = _stepped_after(site.module, project, owner, ast.unparse(arg), at)
        if found is not None:
            return site.module, found
    return None


_GRADIENT_CALLS = frozenset({"gradient", "apply_gradients", "minimize"})


def _stepped_after(module: Module, project: Project, owner: ast.AST, model: str, line: int) -> Optional[ast.Call]:
    """A training step run right after the momentum was set to 0 (SAM's second pass ported from
    PyTorch's ``disable_running_stats``): ``model(x, training=True)`` inside a ``GradientTape`` block
    of ``owner`` after ``line``, ``owner`` being a function that takes gradients (``tape.gradient``,
    ``apply_gradients``, ``minimize``) — every step then replaces the moving statistics by that
    pass's batch statistics. Not when a momentum is assigned, or a project function that assigns
    one is called, between ``line`` and that call (a one-pass recalibration restored before any
    step is left alone: it runs outside a tape)."""
    if isinstance(owner, ast.Lambda) or not any(
            isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr in _GRADIENT_CALLS
            for n in astwalk.walk(owner)):
        return None
    for n in sorted((n for n in astwalk.walk(owner) if isinstance(n, ast.Call) and n.lineno > line),
                    key=lambda n: (n.lineno, n.col_offset)):
        if isinstance(n.func, ast.Name) or isinstance(n.func, ast.Attribute) and ast.unparse(n.func) != model:
            if _sets_momentum(module, project, n):
                return None
        if ast.unparse(n.func) != model or not kf.always_true(module, project, kf.kwarg(n, "training")):
            continue
        if not any(isinstance(a, (ast.With, ast.AsyncWith)) and any(kf._is_gradient_tape(module, i.context_expr)
                                                                    for i in a.items)
                   for a in module.ancestors(n)):
            continue
        if any(isinstance(a, ast.Assign) and line < a.lineno < n.lineno and any(
                isinstance(t, ast.Attribute) and t.attr == "momentum" for t in a.targets) for a in astwalk.walk(owner)):
            return None
        return n
    return None


def _sets_momentum(module: Module, project: Project, call: ast.Call) -> bool:
    """Is ``call`` a call of a project function whose body assigns a ``.momentum`` (a restore helper)?"""
    target = kf.resolve_def(project, module, call.func)
    return isinstance(target, (ast.FunctionDef, ast.AsyncFunctionDef)) and any(
        isinstance(a, ast.Assign) and any(isinstance(t, ast.Attribute) and t.attr == "momentum" for t in a.targets)
        for a in astwalk.walk(target))


def _fit_after(module: Module, owner: ast.AST, model: str, line: int) -> Optional[ast.Call]:
    """The first ``model.fit(...)`` (``fit_generator`` / ``train_on_batch``) in ``owner`` after ``line``,
    with no ``<layer>.momentum = ...`` assignment in between (the momentum restored before training)."""
    fits = sorted((n for n in astwalk.walk(owner) if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
                   and n.func.attr in _TRAINING_CALLS and isinstance(n.func.value, ast.Name)
                   and n.func.value.id == model and n.lineno > line), key=lambda n: n.lineno)
    if not fits:
        return None
    first = fits[0]
    for n in astwalk.walk(owner):
        if isinstance(n, ast.Assign) and line < n.lineno < first.lineno and any(
                isinstance(t, ast.Attribute) and t.attr == "momentum" for t in n.targets):
            return None
    return first


def _keras_bn_object(module: Module, obj: ast.expr, stmt: ast.AST) -> bool:
    """Is ``obj`` (the receiver of ``obj.momentum = ...``) a Keras BatchNormalization: tested with
    ``isinstance(obj, layers.BatchNormalization)`` by an ``if`` around the assignment in the same
    function (the ``for layer in model.layers`` helper), or a name bound in that scope only to a
    Keras BN constructor call?"""
    shown = ast.unparse(obj)
    for a in module.ancestors(stmt):
        if isinstance(a, (ast.If, ast.IfExp)) and not any(
                s is stmt or stmt in astwalk.walk(s) for s in getattr(a, "orelse", [])):
            for n in astwalk.walk(a.test):
                if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == "isinstance" \
                        and len(n.args) == 2 and ast.unparse(n.args[0]) == shown:
                    classes = n.args[1].elts if isinstance(n.args[1], ast.Tuple) else [n.args[1]]
                    if classes and all(kf.is_keras_bn_layer(module.imports.resolve(k)) for k in classes):
                        return True
                # ``type(layer).__name__ == "BatchNormalization"`` / ``layer.__class__.__name__ in (...)``
                if isinstance(n, ast.Compare) and len(n.ops) == 1 and isinstance(n.ops[0], (ast.Eq, ast.In)) \
                        and _class_name_of(n.left) == shown:
                    right = n.comparators[0]
                    names = right.elts if isinstance(right, (ast.Tuple, ast.List, ast.Set)) else [right]
                    if names and all(isinstance(k, ast.Constant) and k.value in _KERAS_BN_CLASS_NAMES for k in names):
                        return True
        if isinstance(a, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            break
    if isinstance(obj, ast.Name):
        scope = module.scope_of(stmt)
        bound = kf._assignments(scope if scope is not None else module.tree, obj.id)
        return bool(bound) and all(isinstance(b, ast.Call) and kf.is_keras_bn_layer(module.imports.resolve(b.func))
                                   for b in bound)
    return False


_KERAS_BN_CLASS_NAMES = frozenset({"BatchNormalization", "SyncBatchNormalization"})


def _class_name_of(expr: ast.expr) -> Optional[str]:
    """``x`` for ``type(x).__name__`` / ``x.__class__.__name__``."""
    if not (isinstance(expr, ast.Attribute) and expr.attr == "__name__"):
        return None
    inner = expr.value
    if isinstance(inner, ast.Call) and isinstance(inner.func, ast.Name) and inner.func.id == "type" \
            and len(inner.args) == 1:
        return ast.unparse(inner.args[0])
    if isinstance(inner, ast.Attribute) and inner.attr == "__class__":
        return ast.unparse(inner.value)
    return None


_JSON_LOADERS = frozenset({"json.loads"})


def _parsed_config_values(module: Module, project: Project, expr: ast.expr, depth: int = 0) -> Optional[set]:
    """Values of a setting read from a JSON document the program itself holds: ``cfg["bn_momentum"]``
    (also nested keys and ``cfg.get(k)``) with ``cfg = json.loads(RECIPE)`` and ``RECIPE`` a string
    constant, directly or through the parameter of a helper every call of which passes such a value
    (``set_bn_momentum(model, cfg["bn_momentum"])``). None when anything is unknown: the parsed dict
    used otherwise than read by constant keys (handed to a function, updated, written), a parameter
    whose callers are out of sight or pass something else."""
    if depth > 3:
        return None
    if isinstance(expr, ast.Name):
        return _parameter_values(module, project, expr, depth)
    keys: list = []
    node = expr
    while True:
        if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant) \
                and isinstance(node.slice.value, str):
            keys.append(node.slice.value)
            node = node.value
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get" \
                and len(node.args) == 1 and not node.keywords and isinstance(node.args[0], ast.Constant) \
                and isinstance(node.args[0].value, str):
            keys.append(node.args[0].value)
            node = node.func.value
        else:
            break
    if not keys or not isinstance(node, ast.Name):
        return None
    doc = _parsed_document(module, project, node, tuple(reversed(keys)))
    if doc is None:
        return None
    for k in reversed(keys):
        if not isinstance(doc, dict) or k not in doc:
            return None
        doc = doc[k]
    if isinstance(doc, (int, float)) and not isinstance(doc, bool):
        return {doc}
    return None


def _parsed_document(module: Module, project: Project, name: ast.Name, path: tuple):
    """The object ``json.loads(S)`` gives for the name bound once, in its scope, to that call with
    ``S`` a string constant, when every use of the name in that scope reads constant keys and nothing
    writes, updates or hands on the dict or the sub-dicts on ``path`` (the keys read)."""
    import json

    scope = module.scope_of(name)
    owner = scope if scope is not None else module.tree
    bound = kf._assignments(owner, name.id)
    if len(bound) != 1 or not isinstance(bound[0], ast.Call) or len(bound[0].args) != 1 or bound[0].keywords \
            or module.imports.resolve(bound[0].func) not in _JSON_LOADERS:
        return None
    text = kf.constant_values(module, project, bound[0].args[0])
    if not text or len(text) != 1 or not isinstance(next(iter(text)), str):
        return None
    for n in astwalk.walk(owner):
        if not (isinstance(n, ast.Name) and n.id == name.id and isinstance(n.ctx, ast.Load)):
            continue
        top: ast.AST = n
        read: list = []
        while True:
            parent = module.parent(top)
            if isinstance(parent, ast.Subscript) and parent.value is top and isinstance(parent.slice, ast.Constant):
                read.append(parent.slice.value)
                top = parent
            elif isinstance(parent, ast.Attribute) and parent.attr == "get" and isinstance(module.parent(parent), ast.Call):
                call = module.parent(parent)
                if not call.args or not isinstance(call.args[0], ast.Constant):
                    return None
                read.append(call.args[0].value)
                top = call
            else:
                break
        if not read or not isinstance(getattr(top, "ctx", ast.Load()), ast.Load):
            return None  # the dict itself handed on, or an entry written
        if tuple(read) == path[:len(read)] and len(read) < len(path):
            # a sub-dict on the path read: only ``**sub`` (a copy) or a further key read leaves it alone
            parent = module.parent(top)
            if not (isinstance(parent, ast.keyword) and parent.arg is None):
                return None
    try:
        return json.loads(next(iter(text)))
    except ValueError:
        return None


def _parameter_call_sites(module: Module, project: Project, fn: ast.FunctionDef, param: str):
    """(function info, position, default, call sites) for parameter ``param`` of ``fn``, when every
    call of ``fn`` is visible (it does not escape) and there is at least one; else None."""
    from bnguard.lint import values as v

    info = next((fi for fi in module.functions if fi.node is fn), None)
    spec = v._param_spec(fn, param)
    if info is None or spec is None:
        return None
    is_method = info.cls is not None
    resolver = v.resolver(project)
    if resolver._escapes(info, is_method) is v.UNKNOWN:
        return None
    sites = list(resolver._call_sites(info, is_method))
    return (info, spec[0], spec[1], sites) if sites else None


def _parameter_values(module: Module, project: Project, expr: ast.Name, depth: int) -> Optional[set]:
    """The parsed-config values every call of the enclosing function passes for parameter ``expr``."""
    from bnguard.lint import values as v

    fn = module.scope_of(expr)
    if fn is None or isinstance(fn, ast.Lambda) or fn.decorator_list or _binds(fn, expr.id):
        return None
    found = _parameter_call_sites(module, project, fn, expr.id)
    if found is None:
        return None
    _info, position, default, sites = found
    out: set = set()
    for call, cm, offset, _partial in sites:
        arg = v._argument(call, expr.id, position, offset)
        if arg is v._OPAQUE:
            return None
        if arg is None:
            if default is None:
                continue
            got = kf.constant_values(module, project, default)
        else:
            got = config_values.constant_values(cm, project, arg) or _parsed_config_values(cm, project, arg, depth + 1)
        if not got:
            return None
        out |= got
    return out or None


def _builder_parameter(module: Module, expr: ast.expr) -> Optional[ast.arg]:
    """The parameter of the enclosing model-building function that ``expr`` names (``momentum=bn_momentum``
    inside ``def block(x, bn_momentum)``), or None for a literal, a constant or a local value."""
    if not isinstance(expr, ast.Name):
        return None
    scope = module.scope_of(expr)
    while scope is not None:  # also a closure's free name (``def STEM(bn_momentum): def apply(x): ...``)
        a = scope.args
        found = next((p for p in a.posonlyargs + a.args + a.kwonlyargs if p.arg == expr.id), None)
        if found is not None:
            return found
        if isinstance(scope, ast.Lambda) or expr.id in module.imports.bound_names and _binds(scope, expr.id):
            return None
        scope = module.scope_of(scope)
    return None


def _binds(scope: ast.AST, name: str) -> bool:
    """Does the function body assign ``name`` itself (then it is a local, not the outer parameter)?"""
    return any(isinstance(n, ast.Name) and n.id == name and isinstance(n.ctx, ast.Store) for n in astwalk.walk(scope))


def _argument_sources(module: Module, project: Project, call: ast.Call, keyword: str,
                      pos: Optional[int]) -> Optional[list[tuple[ast.expr, Module]]]:
    """The argument given for ``keyword`` (see ``_argument``), else the entries under that key of the
    dicts splatted into the call (``BatchNormalization(**BN_KWARGS)``, or ``**bn_kwargs(cfg)`` of a
    project function returning a dict display), with their modules."""
    expr = _argument(call, keyword, pos)
    if expr is not None:
        return [(expr, module)]
    if not any(kw.arg is None for kw in call.keywords) \
            or (pos is not None and any(isinstance(a, ast.Starred) for a in call.args)):
        return None
    from bnguard.lint.values import keyword_sources

    found = keyword_sources(call, keyword, None, module, project)
    if found:
        return found
    splats = [kw.value for kw in call.keywords if kw.arg is None]
    if len(splats) != 1 or any(kw.arg == keyword for kw in call.keywords):
        return None
    return _returned_dict_entries(module, project, splats[0], keyword)


def _returned_dict_entries(module: Module, project: Project, splat: ast.expr,
                           keyword: str) -> Optional[list[tuple[ast.expr, Module]]]:
    """``**bn_kwargs(hparams)`` with ``def bn_kwargs(hp): return {"momentum": ..., ...}``: the entries
    under ``keyword`` of the dict displays every ``return`` of that project function gives (None when
    a return is something else or a display may hold the key through ``**``)."""
    if not isinstance(splat, ast.Call):
        return None
    dmod, d = kf.resolve_def_in(project, module, splat.func)
    if dmod is None or not isinstance(d, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return None
    returns = kf._returns_of(d)
    if not returns or not all(isinstance(r.value, ast.Dict) for r in returns):
        return None
    out: list[tuple[ast.expr, Module]] = []
    for r in returns:
        entry = None
        for k, v in zip(r.value.keys, r.value.values):  # type: ignore[union-attr]
            if k is None or not (isinstance(k, ast.Constant) and isinstance(k.value, str)):
                return None  # ``**other`` or a computed key
            if k.value == keyword:
                entry = v
        if entry is None:
            return None  # the layer's default: nothing to say
        out.append((entry, dmod))
    return out


def _setting_values(where: Module, project: Project, expr: ast.expr) -> Optional[set]:
    """Constant values of a setting (see ``_report``), also ``1.0 - decay`` — a conversion between the
    two momentum conventions written at the setting — with ``decay`` resolved."""
    got = config_values.constant_values(where, project, expr) or _parsed_config_values(where, project, expr) \
        or _configured_values(where, project, expr)
    if got:
        return got
    inner = _one_minus(expr)
    if inner is None:
        return _schedule_values(where, project, expr)
    vals = config_values.constant_values(where, project, inner) or _parsed_config_values(where, project, inner) \
        or _configured_values(where, project, inner)
    if not vals or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in vals):
        return None
    return {round(1 - v, 10) for v in vals}


_IN_PROGRESS: set = set()  # (id(node), key) being resolved: a value threaded in a cycle is unknown
# Attribute containers a ``get_config()`` fills one setting at a time (ml_collections, argparse, easydict).
_CONFIG_CONTAINERS = frozenset({"ConfigDict", "SimpleNamespace", "Namespace", "EasyDict", "edict", "AttrDict",
                                "DotMap", "Munch", "Box"})
_CONFIG_WRITERS = frozenset({"update", "update_from_flattened_dict", "override", "merge_from_file",
                             "merge_from_list", "merge_from_dict", "replace", "_replace", "copy_and_resolve_references",
                             "lock", "unlock", "unlocked"})


def _configured_values(module: Module, project: Project, expr: ast.expr) -> Optional[set]:
    """Values of a setting threaded through configuration the other resolvers do not follow:
    ``momentum=self.bn_momentum`` read from a Flax module / dataclass field whose constructions pass
    a configured value (also a construction through a registry, ``{"ResNet": ResNet}[config.model](...)``
    or ``MODELS[name](...)``), and ``config.bn_momentum`` / ``config.model.bn_momentum`` read from the
    config object a project ``get_config()`` fills (``config = ml_collections.ConfigDict();
    config.bn_momentum = 0.1; return config``, the flax-examples ``configs/default.py`` layout),
    handed down through parameters from the call of that function. None when anything is unknown:
    a caller passing something else, the setting written anywhere else in the project (another config
    file overriding it, ``config.update(...)``, ``setattr``), the class built out of sight."""
    if not isinstance(expr, ast.Attribute):
        return None
    key = (id(expr), "configured")
    if key in _IN_PROGRESS or len(_IN_PROGRESS) > 24:
        return None
    _IN_PROGRESS.add(key)
    try:
        if isinstance(expr.value, ast.Name) and expr.value.id == "self":
            return _field_setting_values(module, project, expr)
        return _config_attribute_values(module, project, expr)
    finally:
        _IN_PROGRESS.discard(key)


def _field_setting_values(module: Module, project: Project, expr: ast.Attribute) -> Optional[set]:
    """``self.f`` with ``f`` an annotated field of the enclosing class: its default where a construction
    leaves it out, and the value every construction passes (``Net(f=...)``, ``partial(Net, f=...)``,
    a registry ``{"Net": Net}[name](f=...)`` / ``NETS[name](f=...)``), resolved as settings."""
    cls = module.enclosing_class(expr)
    if cls is None:
        return None
    fields = [b.target.id for b in cls.body if isinstance(b, ast.AnnAssign) and isinstance(b.target, ast.Name)]
    if expr.attr not in fields:
        return None
    decl = next(b for b in cls.body if isinstance(b, ast.AnnAssign) and isinstance(b.target, ast.Name)
                and b.target.id == expr.attr)
    if kf.self_attribute_stores(module, expr, expr.attr):
        return None
    if any(cls.name in {dotted(b) for b in c.bases} for m in project.modules if m.mentions(cls.name) for c in m.classes):
        return None  # a subclass may set another default
    if any(k.arg == expr.attr for c in project.call_sites("clone") for k in c.node.keywords):
        return None
    sites: list[tuple[Module, ast.Call, list]] = []
    for site in project.call_sites(cls.name):
        if kf.resolve_def(project, site.module, site.node.func) is cls:
            sites.append((site.module, site.node, list(site.node.args)))
    for m in project.modules:
        if not m.mentions(cls.name):
            continue
        for ref in m.references.get(cls.name, ()):
            if not isinstance(ref, ast.Name) or kf.resolve_def(project, m, ref) is not cls:
                if isinstance(ref, ast.Name) and m.imports.aliases.get(ref.id) is None and m is not module:
                    continue  # another module's own name
                if isinstance(ref, ast.Attribute) and kf.resolve_def(project, m, ref) is not cls:
                    continue
            parent = m.parent(ref)
            if isinstance(parent, ast.Call) and parent.args and parent.args[0] is ref \
                    and (dotted(parent.func) or "").rsplit(".", 1)[-1] == "partial":
                sites.append((m, parent, list(parent.args[1:])))
                continue
            calls = _registry_calls(m, parent, ref)
            if calls is None:
                return None  # handed around: built where no call shows it
            sites.extend((m, c, list(c.args)) for c in calls)
    if not sites:
        return None
    out: set = set()
    for m, call, args in sites:
        if any(isinstance(a, ast.Starred) for a in args) or any(k.arg is None for k in call.keywords):
            return None
        passed = next((k.value for k in call.keywords if k.arg == expr.attr), None)
        if passed is None and fields.index(expr.attr) < len(args):
            passed = args[fields.index(expr.attr)]
        if passed is None:
            passed, m = decl.value, module
            if passed is None:
                return None
        got = _setting_values(m, project, passed)
        if not got:
            return None
        out |= got
    return out


def _registry_calls(module: Module, parent: Optional[ast.AST], ref: ast.AST) -> Optional[list[ast.Call]]:
    """The calls that build the class ``ref`` names when it is a value of a registry dict:
    ``{"a": A}[key](...)`` or ``REG = {"a": A}`` at module level with every use of ``REG`` a
    ``REG[key](...)`` call. None for any other use of the class."""
    if not isinstance(parent, ast.Dict) or ref not in parent.values:
        return None
    holder = module.parent(parent)
    if isinstance(holder, ast.Subscript) and holder.value is parent:
        call = module.parent(holder)
        return [call] if isinstance(call, ast.Call) and call.func is holder else None
    if not (isinstance(holder, ast.Assign) and len(holder.targets) == 1 and isinstance(holder.targets[0], ast.Name)
            and module.parent(holder) is module.tree):
        return None
    name = holder.targets[0].id
    out = []
    for use in module.references.get(name, ()):
        sub = module.parent(use)
        call = module.parent(sub) if isinstance(sub, ast.Subscript) and sub.value is use else None
        if not (isinstance(call, ast.Call) and call.func is sub):
            return None
        out.append(call)
    return out


def _config_attribute_values(module: Module, project: Project, expr: ast.Attribute) -> Optional[set]:
    """``config.bn_momentum`` (any depth of attributes) read from the object a project function fills
    and returns (see ``_configured_values``)."""
    path: list[str] = []
    node: ast.expr = expr
    while isinstance(node, ast.Attribute):
        path.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name) or node.id in module.imports.aliases:
        return None
    path.reverse()
    names: set = set()
    sources = _config_sources(module, project, node, names, 0)
    if not sources:
        return None
    if _config_written_elsewhere(project, path[-1], names, [d for _, d in sources]):
        return None
    out: set = set()
    for dmod, fn in sources:
        got = _filled_values(dmod, project, fn, tuple(path))
        if not got:
            return None
        out |= got
    return out


def _config_sources(module: Module, project: Project, name: ast.Name, names: set,
                    depth: int) -> Optional[list[tuple[Module, ast.FunctionDef]]]:
    """The project functions whose returned config object ``name`` is: bound to their call in its
    scope (or at module level), or a parameter every caller of the enclosing function passes such a
    value (followed a few levels up). ``names`` collects the names the object goes by."""
    from bnguard.lint import values as v

    if depth > 4:
        return None
    names.add(name.id)
    scope = module.scope_of(name)
    owner = scope if scope is not None else module.tree
    bound = kf._assignments(owner, name.id)
    if bound:
        if len(bound) != 1 or not isinstance(bound[0], ast.Call):
            return None
        return _config_call_sources(module, project, bound[0])
    if scope is None or isinstance(scope, ast.Lambda) or scope.decorator_list or scope.name in kf.FRAMEWORK_HOOKS:
        return None
    found = _parameter_call_sites(module, project, scope, name.id)
    if found is None:
        return None
    info, position, _default, sites = found
    out: list[tuple[Module, ast.FunctionDef]] = []
    for call, cm, offset, _partial in sites:
        if not _partial and kf.resolve_def(project, cm, call.func) is not (scope if info.cls is None or scope.name != "__init__"
                                                                           else info.cls):
            continue  # a same-named function of another script (``models.create_model`` beside it)
        arg = v._argument(call, name.id, position, offset)
        if arg is None or arg is v._OPAQUE:
            return None
        if isinstance(arg, ast.Call):
            got = _config_call_sources(cm, project, arg)
        elif isinstance(arg, ast.Name):
            got = _config_sources(cm, project, arg, names, depth + 1)
        else:
            return None
        if not got:
            return None
        out.extend(got)
    return out or None


def _config_call_sources(module: Module, project: Project, call: ast.Call) -> Optional[list[tuple[Module, ast.FunctionDef]]]:
    dmod, d = kf.resolve_def_in(project, module, call.func)
    if dmod is None or not isinstance(d, ast.FunctionDef) or d.decorator_list:
        return None
    return [(dmod, d)]


def _container_call(module: Module, expr: Optional[ast.expr]) -> bool:
    return isinstance(expr, ast.Call) and not expr.args and \
        (module.imports.resolve(expr.func) or dotted(expr.func) or "").rsplit(".", 1)[-1] in _CONFIG_CONTAINERS


def _filled_values(module: Module, project: Project, fn: ast.FunctionDef, path: tuple) -> Optional[set]:
    """The values ``fn`` stores at ``path`` of the config container it builds and returns
    (``config = ConfigDict(); config.model = ConfigDict(); config.model.bn_momentum = 0.1; return
    config``). None when it returns anything else, stores the path nowhere, replaces a container on
    the way with something unknown, or hands the container to another call before returning it."""
    returns = kf._returns_of(fn)
    if not returns or not all(isinstance(r.value, ast.Name) for r in returns) \
            or len({r.value.id for r in returns}) != 1:  # type: ignore[union-attr]
        return None
    root = returns[0].value.id  # type: ignore[union-attr]
    bound = kf._assignments(fn, root)
    if len(bound) != 1 or not _container_call(module, bound[0]):
        return None
    stores: list[ast.expr] = []
    kw = next((k.value for k in bound[0].keywords if k.arg == path[0]), None)  # type: ignore[union-attr]
    if len(path) == 1 and kw is not None:
        stores.append(kw)
    for n in astwalk.walk(fn):
        if isinstance(n, ast.Call) and any(isinstance(a, ast.Name) and a.id == root for a in n.args):
            return None  # handed to a helper that may fill it
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr in _CONFIG_WRITERS:
            return None
        if isinstance(n, ast.AugAssign):
            targets = [n.target]
        elif isinstance(n, (ast.Assign, ast.AnnAssign)):
            targets = n.targets if isinstance(n, ast.Assign) else [n.target]
        else:
            continue
        for t in targets:
            chain: list[str] = []
            node = t
            while isinstance(node, ast.Attribute):
                chain.append(node.attr)
                node = node.value
            if not (isinstance(node, ast.Name) and node.id == root) or not chain:
                continue
            chain.reverse()
            if tuple(chain) == path:
                if isinstance(n, ast.AugAssign) or n.value is None:
                    return None
                stores.append(n.value)
            elif tuple(chain) == path[:len(chain)] and not (
                    isinstance(n, ast.Assign) and _container_call(module, n.value)
                    and not n.value.keywords):  # type: ignore[union-attr]
                return None  # a container on the way replaced by something unknown
    if not stores:
        return None
    out: set = set()
    for value in stores:
        got = _setting_values(module, project, value)
        if not got:
            return None
        out |= got
    return out


def _config_written_elsewhere(project: Project, attr: str, names: set, fns: list) -> bool:
    """Is the setting ``attr`` written anywhere but in the functions that fill the config: another
    config file's ``config.bn_momentum = 0.99``, ``setattr(config, "bn_momentum", ...)``,
    ``config["bn_momentum"] = ...``, ``config.update(bn_momentum=...)``, or any update / override
    call on a name the config object goes by?"""
    inside = {id(n) for fn in fns for n in astwalk.walk(fn)}
    for m in project.modules:
        if not m.mentions(attr):
            continue
        for kind in (ast.Assign, ast.AugAssign, ast.AnnAssign):
            for n in m.nodes_of_kind.get(kind, ()):
                if id(n) in inside:
                    continue
                targets = n.targets if isinstance(n, ast.Assign) else [n.target]
                for t in targets:
                    for x in astwalk.walk(t):
                        if isinstance(x, ast.Attribute) and x.attr == attr and isinstance(x.ctx, ast.Store) \
                                and not (isinstance(x.value, ast.Name) and x.value.id == "self"):
                            return True
                        if isinstance(x, ast.Subscript) and isinstance(x.slice, ast.Constant) and x.slice.value == attr:
                            return True
        for c in m.calls:
            if any(k.arg == attr for k in c.node.keywords) and c.name in _CONFIG_WRITERS:
                return True
            if c.name == "setattr" and len(c.node.args) > 1 and isinstance(c.node.args[1], ast.Constant) \
                    and c.node.args[1].value == attr:
                return True
    for name in names:
        for c in [s for w in _CONFIG_WRITERS for s in project.call_sites(w)]:
            recv = c.node.func.value if isinstance(c.node.func, ast.Attribute) else None
            while isinstance(recv, ast.Attribute):
                recv = recv.value
            if isinstance(recv, ast.Name) and recv.id == name and id(c.node) not in inside:
                return True
    return False


def _comments_at_definitions(project: Project, sources: list[tuple[ast.expr, Module]]) -> str:
    """The comments at the module-level definitions of the named constants a setting reads
    (``BATCH_NORM_MOMENTUM = 0.1`` in a CONSTANTS.py, with the comment block above, on or right below
    the line): where the author explains a value chosen once for the whole project."""
    texts = []
    for e, where in sources:
        if not isinstance(e, (ast.Name, ast.Attribute)):
            continue
        q = where.imports.resolve(e) or dotted(e) or ""
        # the module the name is read from: this one, or the one it is imported from (`from .settings import X`)
        m = where if "." not in q else project.module_named(q.rsplit(".", 1)[0], where)
        if m is None:
            continue
        names = {q.rsplit(".", 1)[-1]}
        for stmt in m.tree.body:
            targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target] if isinstance(stmt, ast.AnnAssign) else []
            if any(isinstance(t, ast.Name) and t.id in names for t in targets):
                # the constant's name says what the comment is about (`BN_MOMENTUM = 0.1  # not the default`)
                texts.append(" ".join(t.id for t in targets if isinstance(t, ast.Name)) + ": " + kf.comments_at(m, stmt))
                j = stmt.end_lineno or stmt.lineno  # the comment block right below (0-based index of the next line)
                while j < len(m.lines) and m.lines[j].strip().startswith("#") and j - stmt.lineno < 4:
                    texts.append(m.lines[j])
                    j += 1
    return " ".join(texts)


def _one_minus(expr: ast.expr) -> Optional[ast.expr]:
    """``X`` of ``1 - X`` / ``1.0 - X``."""
    if isinstance(expr, ast.BinOp) and isinstance(expr.op, ast.Sub) and isinstance(expr.left, ast.Constant) \
            and expr.left.value == 1 and not isinstance(expr.left.value, bool):
        return expr.right
    return None


def _argument(call: ast.Call, keyword: str, pos: Optional[int]) -> Optional[ast.expr]:
    """The argument given for ``keyword``, by name or at position ``pos`` (not after a ``*args``)."""
    expr = kf.kwarg(call, keyword)
    if expr is None and pos is not None and len(call.args) > pos \
            and not any(isinstance(a, ast.Starred) for a in call.args[:pos + 1]):
        expr = call.args[pos]
    return expr


# Where each API states the mode of a BN: (argument, positional index, value that means "training").
_MODE_ARG: dict[str, tuple[str, Optional[int], bool]] = {
    "tensorflow.layers.batch_normalization": ("training", None, True),
    "tf_slim.batch_norm": ("is_training", None, True),
    "flax.linen.BatchNorm": ("use_running_average", 0, False),
    "flax.linen.normalization.BatchNorm": ("use_running_average", 0, False),
}


def _statistics_never_read(module: Module, project: Project, call: ast.Call) -> bool:
    """Does this BN always run in training mode (``training=True`` in a pix2pix-style TF1 model, a
    Flax critic whose ``use_running_average`` is always False)? Then its moving statistics are
    never used for an output and their momentum changes nothing. Only a flag stated at the
    construction (or at its immediate call: ``BatchNormalization(momentum=0.1)(x, training=True)``)
    and resolved to one constant counts."""
    q = module.imports.resolve(call.func)
    if q in _MODE_ARG:
        name, pos, training = _MODE_ARG[q]
        flag = _argument(call, name, pos)
        if flag is None:
            return False
        if training:
            # always training: the statistics are never read; always inference (``training=False``,
            # ``is_training=False``): no update op exists, they are never written
            return kf.always_true(module, project, flag) or kf.always_false(module, project, flag)
        if kf.always_false(module, project, flag) or kf.always_true(module, project, flag):
            return True  # use_running_average always False (never read) / always True (never updated)
        if kf.constant_values(module, project, flag) is not None:
            return False
        vals = _flax_field_flag_values(module, project, flag)  # construction through an import alias
        return bool(vals) and all(v is False for v in vals)
    if kf.is_keras_bn_layer(q):
        parent = module.parent(call)
        if isinstance(parent, ast.Call) and parent.func is call:
            flag = _argument(parent, "training", 1)  # layer(inputs, training)
            return flag is not None and kf.always_true(module, project, flag)
    return False


# Calls that train a Keras model, or prepare it for training (``compile`` with an optimizer: keras-ocr's
# Detector compiles the pretrained model it builds so that its users can fit it).
_TRAINING_CALLS = frozenset({"fit", "fit_generator", "train_on_batch", "apply_gradients", "minimize", "gradient",
                             "backward", "compile"})
_TRAINING_WORDS = frozenset({"train", "training", "fit", "finetune", "retrain"})


def _pretrained_inference_only(module: Module, project: Project, call: ast.Call) -> bool:
    """Is this Keras BN built only into models that load pretrained weights and that nothing in the
    program trains? Its momentum then takes part in no computation: the moving statistics come with
    the weights (``model.load_weights(...)`` in the builder, a port of a PyTorch model run on its
    converted checkpoint), and only a training step would update them. Followed from the function
    building the BN up through the project functions that call it (resolved by name, module-level
    functions only) to the builders that load weights; every construction of such a builder must sit
    in a module that never trains nor compiles (no ``fit``/``train_on_batch``/``apply_gradients``/
    ``minimize``/``GradientTape``/``backward``/``compile``, no call of a routine named for training),
    and a builder's model handed back by the function constructing it is followed to that function's
    callers too. Not
    when any builder on the way has no caller in the project (a library model users may train), nor
    when a path reaches no weight load."""
    fn = module.scope_of(call)
    todo: list = [(module, fn, False)]
    seen: set[int] = set()
    found = False
    while todo:
        m, f, above = todo.pop()
        if f is None or not isinstance(m.parent(f), ast.Module):
            return False  # built at module level or in a method: whatever trains it is not followed
        if id(f) in seen:
            continue
        seen.add(id(f))
        if len(seen) > 64:
            return False
        loads = above or any(isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
                             and n.func.attr == "load_weights" for n in astwalk.walk(f))
        sites = [c for c in project.call_sites(f.name) if _calls_function(project, c, m, f)]
        if not sites:
            return False
        for site in sites:
            if loads:
                if _module_trains(project, site.module):
                    return False
                found = True
                if site.scope is not None and _returned(site.module, site.scope, site.node):
                    todo.append((site.module, site.scope, True))
            else:
                todo.append((site.module, site.scope, False))
    return found


def _calls_function(project: Project, site, module: Module, fn: ast.AST) -> bool:
    """Does ``site`` call the module-level function ``fn`` of ``module``: resolved to it, or a name
    imported through a package's re-exports that can only be it (``from ..models import Net``)?"""
    d = kf.resolve_def(project, site.module, site.node.func)
    if d is not None:
        return d is fn
    f = site.node.func
    if not isinstance(f, ast.Name):
        return False
    # a package ``__init__`` re-exporting it (``from .higher_hrnet import Net``)
    origin = project.reexport_origin(site.module, f.id)
    return bool(origin) and origin[0] is module and origin[1] == getattr(fn, "name", None)


def _returned(module: Module, fn: ast.AST, call: ast.Call) -> bool:
    """Does ``fn`` hand back the value of ``call`` (``return call`` or a name bound to it)?"""
    parent = module.parent(call)
    names = {t.id for t in parent.targets if isinstance(t, ast.Name)} if isinstance(parent, ast.Assign) else set()
    for r in astwalk.walk(fn):
        if isinstance(r, ast.Return) and r.value is not None and (
                r.value is call or any(isinstance(n, ast.Name) and n.id in names for n in astwalk.walk(r.value))):
            return True
    return False


def _module_trains(project: Project, module: Module) -> bool:
    def compute(p: Project) -> set[int]:
        out: set[int] = set()
        for m in p.modules:
            if m.mentions("GradientTape") or any(
                    c.name in _TRAINING_CALLS or set(identifier_words(c.name or "")) & _TRAINING_WORDS
                    for c in m.calls):
                out.add(id(m))
        return out
    return id(module) in project.fact("momentum.training_modules", compute)


# A GAN's discriminator / critic runs only inside the training steps (the default mode of its field).
_DISCRIMINATOR_WORDS = frozenset({"discriminator", "critic"})


def _flax_field_flag_values(module: Module, project: Project, flag: ast.expr) -> Optional[set]:
    """The values of a Flax BN flag ``not self.f`` / ``self.f`` (``f`` an annotated field of the
    enclosing module class) over every construction of that class, found also through import
    aliases (``from nets import Discriminator as D; D()``), which the shared field resolution of
    ``keras_facts`` does not follow (it enumerates the calls named like the class). A class that
    nothing constructs takes its field default only when it is a GAN discriminator / critic, which
    runs inside the training steps alone (an unused application class, not a library model whose
    users pick the mode). None when unknown: a construction passing an unresolved value or a
    splat, a subclass, a ``clone(f=...)``, or the class referred to without being called."""
    read = kf.self_attribute_read(module, flag)
    if read is None:
        return None
    cls, attr, negate = read
    fields = [b.target.id for b in cls.body if isinstance(b, ast.AnnAssign) and isinstance(b.target, ast.Name)]
    if attr not in fields:
        return None
    decl = next(b for b in cls.body if isinstance(b, ast.AnnAssign) and isinstance(b.target, ast.Name)
                and b.target.id == attr)
    if any(k.arg == attr for c in project.call_sites("clone") for k in c.node.keywords):
        return None
    names = _names_of_class(project, cls)
    for m in project.modules:
        for c in m.classes:
            if any(kf.resolve_def(project, m, b) is cls for b in c.bases):
                return None  # a subclass may set another default
        if any(r is not None for n in names if m.mentions(n) for r in m.references.get(n, ())):
            return None  # handed around by name (``module_cls=Net``): built where no call shows
    default = kf.constant_values(module, project, decl.value) if decl.value is not None else None
    out: set = set()
    constructions = 0
    for n in names:
        for site in project.call_sites(n):
            if site.module is module and isinstance(site.node.func, ast.Name) and site.node.func.id == cls.name:
                found = cls
            else:
                found = kf.resolve_def(project, site.module, site.node.func)
            if found is not cls:
                continue
            constructions += 1
            node = site.node
            if any(isinstance(a, ast.Starred) for a in node.args) or kf.has_kwargs_splat(node):
                return None
            passed = kf.kwarg(node, attr)
            if passed is None and fields.index(attr) < len(node.args):
                passed = node.args[fields.index(attr)]
            vals = default if passed is None else kf.constant_values(site.module, project, passed)
            if not vals:
                return None
            out |= set(vals)
    if not constructions:
        if not default or not set(identifier_words(cls.name)) & _DISCRIMINATOR_WORDS:
            return None
        out = set(default)
    if not all(isinstance(v, bool) for v in out):
        return None
    return {not v for v in out} if negate else out


def _names_of_class(project: Project, cls: ast.ClassDef) -> set[str]:
    """The names ``cls`` is called by in the project: its own, and the local names of
    ``from m import Cls as Other`` that resolve to it."""
    names = {cls.name}
    suffix = "." + cls.name
    for m in project.modules:
        for local, target in m.imports.aliases.items():
            if local != cls.name and target.endswith(suffix) \
                    and kf.resolve_def(project, m, ast.Name(id=local, ctx=ast.Load())) is cls:
                names.add(local)
    return names


# --------------------------------------------------------------------------------------------------
# Computed decay schedules (PointNet's ``get_bn_decay(batch)`` ported from a PyTorch momentum scheduler)
# --------------------------------------------------------------------------------------------------
_INF = float("inf")
_SCHED_MAX = ("tensorflow.maximum", "tensorflow.math.maximum")
_SCHED_MIN = ("tensorflow.minimum", "tensorflow.math.minimum")
_SCHED_POW = ("tensorflow.pow", "tensorflow.math.pow")
_SCHED_PASS = ("tensorflow.cast", "tensorflow.to_float", "tensorflow.identity", "tensorflow.convert_to_tensor",
               "tensorflow.constant", "tensorflow.stop_gradient", "float")
_SCHED_FLOOR = ("tensorflow.floor", "tensorflow.math.floor", "math.floor")
_SCHED_DECAY = ("tensorflow.train.exponential_decay", "tensorflow.compat.v1.train.exponential_decay")
_SCHED_BUDGET = [0]
_STEP_COUNTERS = ("tensorflow.train.get_or_create_global_step", "tensorflow.train.get_global_step",
                  "tensorflow.train.create_global_step")


def _schedule_values(module: Module, project: Project, expr: ast.expr) -> Optional[set]:
    """A BN decay computed as a schedule of the training step (``get_bn_decay(batch)`` built from
    ``tf.train.exponential_decay`` / ``tf.pow`` of a ``tf.Variable(0, trainable=False)`` step counter,
    clipped with ``tf.maximum`` / ``tf.minimum``): the range of values each source of the setting takes
    over the whole training (interval arithmetic, the step in [start, ∞)). A source whose every value is
    at most 0.5 while it decays below 0.5 to a floor > 0 (PyTorch's momentum schedule 0.5 → 0.01 ported
    as the decay) is represented by that floor; any other source by its largest value. None when any
    source is unknown (also a schedule that decays to 0: not reported)."""
    if not module.mentions("Variable") and not module.mentions("step") and not module.mentions("decay"):
        return None
    key = (id(expr), "schedule")
    if key in _IN_PROGRESS:
        return None
    _IN_PROGRESS.add(key)
    _SCHED_BUDGET[0] = 400  # evaluation steps: a schedule is a few small functions
    try:
        alts = _sched(module, project, expr, None, 0)
    finally:
        _IN_PROGRESS.discard(key)
    if not alts or any(a is None for a in alts) or not any(a[0] != a[1] for a in alts):
        return None  # no schedule among the sources: left to the constant resolution
    out: set = set()
    for lo, hi in alts:
        if lo != hi and hi <= THRESHOLD and 0 < lo < THRESHOLD:
            out.add(round(lo, 10))
        elif hi == _INF or lo < 0:
            return None
        else:
            out.add(round(hi, 10))
    return out


def _interval(vals: Optional[set]) -> Optional[list]:
    if not vals or not all(isinstance(v, (int, float)) and not isinstance(v, bool) or v is None for v in vals):
        return None
    return [None if v is None else (float(v), float(v)) for v in vals]


def _sched_combine(a: Optional[list], b: Optional[list], op) -> Optional[list]:
    if not a or not b or len(a) * len(b) > 16:
        return None
    out = []
    for x in a:
        for y in b:
            if x is None or y is None:
                return None
            got = op(x, y)
            if got is None:
                return None
            if got not in out:
                out.append(got)
    return out


def _mul(x, y):
    try:
        ps = [p * q for p in x for q in y]
    except (OverflowError, ValueError):
        return None
    if any(p != p for p in ps):  # 0 * inf
        return None
    return (min(ps), max(ps))


def _div(x, y):
    if y[0] <= 0 <= y[1]:
        return None
    return _mul(x, (1 / y[1], 1 / y[0]))


def _pow(b, e):
    if not (0 < b[0] and b[1] <= 1 and e[0] >= 0):
        return None
    return (b[0] ** e[1] if e[1] != _INF else 0.0, b[1] ** e[0])


def _sched(m: Module, project: Project, e: ast.expr, env: Optional[dict], depth: int) -> Optional[list]:
    """The alternatives (value intervals ``(lo, hi)``, or None for Python's None) an expression can
    give, ``env`` binding the parameters of a project function entered through a call."""
    _SCHED_BUDGET[0] -= 1
    if depth > 40 or _SCHED_BUDGET[0] < 0:
        return None
    if isinstance(e, ast.Constant):
        return _interval({e.value})
    if isinstance(e, ast.Name) and env is not None and e.id in env:
        return env[e.id]
    if isinstance(e, ast.Name):
        return _sched_name(m, project, e, env, depth)
    if isinstance(e, ast.UnaryOp) and isinstance(e.op, ast.USub):
        got = _sched(m, project, e.operand, env, depth + 1)
        return None if not got or None in got else [(-hi, -lo) for lo, hi in got]
    if isinstance(e, ast.BinOp) and isinstance(e.op, (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv)):
        a = _sched(m, project, e.left, env, depth + 1)
        b = _sched(m, project, e.right, env, depth + 1)
        if isinstance(e.op, ast.Add):
            return _sched_combine(a, b, lambda x, y: (x[0] + y[0], x[1] + y[1]))
        if isinstance(e.op, ast.Sub):
            return _sched_combine(a, b, lambda x, y: None if x[0] == _INF or y[1] == _INF and x[1] == _INF
                                  else (x[0] - y[1], x[1] - y[0]))
        if isinstance(e.op, ast.Mult):
            return _sched_combine(a, b, _mul)
        got = _sched_combine(a, b, _div)
        if isinstance(e.op, ast.FloorDiv) and got:
            import math
            got = [(math.floor(lo), hi if hi == _INF else math.floor(hi)) for lo, hi in got]
        return got
    if isinstance(e, ast.IfExp):
        return _sched_ifexp(m, project, e, env, depth)
    if isinstance(e, ast.Call):
        return _sched_call(m, project, e, env, depth)
    return _interval(config_values.constant_values(m, project, e)) if env is None else None


def _sched_ifexp(m: Module, project: Project, e: ast.IfExp, env: Optional[dict], depth: int) -> Optional[list]:
    t = e.test
    if isinstance(t, ast.Compare) and len(t.ops) == 1 and isinstance(t.ops[0], (ast.Is, ast.IsNot)) \
            and isinstance(t.left, ast.Name) and isinstance(t.comparators[0], ast.Constant) \
            and t.comparators[0].value is None:
        # ``d if d is not None else 0.9`` (``0.9 if d is None else d``)
        kept, default = (e.body, e.orelse) if isinstance(t.ops[0], ast.IsNot) else (e.orelse, e.body)
        if isinstance(kept, ast.Name) and kept.id == t.left.id:
            vals = _sched(m, project, kept, env, depth + 1)
            if not vals:
                return None
            out = [v for v in vals if v is not None]
            if len(out) < len(vals):
                other = _sched(m, project, default, env, depth + 1)
                if not other:
                    return None
                out += [v for v in other if v not in out]
            return out
    a = _sched(m, project, e.body, env, depth + 1)
    b = _sched(m, project, e.orelse, env, depth + 1)
    return None if not a or not b else a + [v for v in b if v not in a]


def _sched_name(m: Module, project: Project, e: ast.Name, env: Optional[dict], depth: int) -> Optional[list]:
    scope = m.scope_of(e)
    if scope is None or isinstance(scope, ast.Lambda):
        return _interval(config_values.constant_values(m, project, e))
    bound = kf._assignments(scope, e.id)
    params = [a.arg for a in scope.args.posonlyargs + scope.args.args + scope.args.kwonlyargs]
    if bound:
        if len(bound) != 1 or bound[0] is None:
            return None
        if e.id in params:
            # ``bn_decay = bn_decay if bn_decay is not None else 0.9``: the right side reads the parameter
            stmt = m.parent(bound[0])
            if not isinstance(stmt, ast.Assign) or stmt.lineno >= e.lineno or m.scope_of(stmt) is not scope:
                return None
            inner = dict(env or {})
            inner[e.id] = _sched_param(m, project, scope, e.id, env, depth)
            if not inner[e.id]:
                return None
            return _sched(m, project, bound[0], inner, depth + 1)
        return _sched(m, project, bound[0], env, depth + 1)
    if e.id in params:
        return _sched_param(m, project, scope, e.id, env, depth)
    return _interval(config_values.constant_values(m, project, e))  # a module-level constant


def _sched_param(m: Module, project: Project, fn: ast.AST, name: str, env: Optional[dict],
                 depth: int) -> Optional[list]:
    """The alternatives of parameter ``name`` of ``fn``: from ``env`` when entered through a call, else
    from every call of ``fn`` in the project (and the default where a call leaves it out)."""
    from bnguard.lint import values as v

    if env is not None:
        return env.get(name)
    if fn.decorator_list:
        return None
    found = _parameter_call_sites(m, project, fn, name)
    if found is None:
        return None
    _info, position, default, sites = found
    out: list = []
    for call, cm, offset, partial in sites[:8]:
        arg = v._argument(call, name, position, offset)
        if arg is v._OPAQUE or partial and arg is None:
            return None
        got = _sched(m, project, default, None, depth + 1) if arg is None and default is not None \
            else _sched(cm, project, arg, None, depth + 1) if arg is not None else []
        if got is None:
            return None
        out += [g for g in got if g not in out]
    return out if len(sites) <= 8 and out else None


def _sched_call(m: Module, project: Project, e: ast.Call, env: Optional[dict], depth: int) -> Optional[list]:
    q = m.imports.resolve(e.func) or (e.func.id if isinstance(e.func, ast.Name) else None)
    args = list(e.args)
    if q in _SCHED_MAX or q in _SCHED_MIN:
        if len(args) != 2:
            return None
        a, b = (_sched(m, project, x, env, depth + 1) for x in args)
        pick = max if q in _SCHED_MAX else min
        return _sched_combine(a, b, lambda x, y: (pick(x[0], y[0]), pick(x[1], y[1])))
    if q in _SCHED_POW:
        if len(args) != 2:
            return None
        a, b = (_sched(m, project, x, env, depth + 1) for x in args)
        return _sched_combine(a, b, _pow)
    if q in _SCHED_PASS or q in _SCHED_FLOOR:
        if not args:
            return None
        got = _sched(m, project, args[0], env, depth + 1)
        if got and q in _SCHED_FLOOR and None not in got:
            import math
            got = [(math.floor(lo), hi if hi == _INF else math.floor(hi)) for lo, hi in got]
        return got
    if q in _SCHED_DECAY:
        names = ("learning_rate", "global_step", "decay_steps", "decay_rate")
        vals = []
        for i, n in enumerate(names):
            x = args[i] if len(args) > i else kf.kwarg(e, n)
            got = _sched(m, project, x, env, depth + 1) if x is not None else None
            if not got or None in got:
                return None
            vals.append(got)
        lrs, steps, _decay_steps, rates = vals
        if not all(0 < r[0] and r[1] < 1 for r in rates) or not all(s[0] >= 0 and s[1] == _INF for s in steps) \
                or not all(lo >= 0 for lo, _ in lrs):
            return None
        return [(0.0, hi) for _lo, hi in lrs]  # base * rate ** (step / decay_steps), step -> ∞
    if q in _STEP_COUNTERS:
        return [(0.0, _INF)]
    if q == "tensorflow.Variable":
        init = args[0] if args else kf.kwarg(e, "initial_value")
        trainable = kf.kwarg(e, "trainable")
        if init is None or not (isinstance(trainable, ast.Constant) and trainable.value is False):
            return None
        start = _sched(m, project, init, env, depth + 1)
        if not start or None in start or len(start) != 1 or start[0][0] != start[0][1] or start[0][0] < 0 \
                or start[0][0] != int(start[0][0]):
            return None
        return [(start[0][0], _INF)]  # a step counter: ``minimize(loss, global_step=batch)`` increments it
    dmod, d = kf.resolve_def_in(project, m, e.func)
    if dmod is None or not isinstance(d, ast.FunctionDef) or d.decorator_list or d.args.vararg or d.args.kwarg \
            or any(isinstance(a, ast.Starred) for a in args) or any(k.arg is None for k in e.keywords):
        return None
    returns = kf._returns_of(d)
    if not returns or any(r.value is None for r in returns):
        return None
    params = d.args.posonlyargs + d.args.args
    defaults = [None] * (len(params) - len(d.args.defaults)) + list(d.args.defaults)
    inner: dict = {}
    for i, p in enumerate(params):
        x = args[i] if i < len(args) else kf.kwarg(e, p.arg)
        if x is None:
            if defaults[i] is None:
                return None
            got = _sched(dmod, project, defaults[i], None, depth + 1)
        else:
            got = _sched(m, project, x, env, depth + 1)
        if not got:
            return None
        inner[p.arg] = got
    for p, dflt in zip(d.args.kwonlyargs, d.args.kw_defaults):
        x = kf.kwarg(e, p.arg) or dflt
        got = _sched(dmod if x is dflt else m, project, x, None if x is dflt else env, depth + 1) if x is not None else None
        if not got:
            return None
        inner[p.arg] = got
    out: list = []
    for r in returns:
        got = _sched(dmod, project, r.value, inner, depth + 1)
        if not got:
            return None
        out += [g for g in got if g not in out]
    return out
