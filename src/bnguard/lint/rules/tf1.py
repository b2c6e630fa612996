"""TF1 rule family (BN1xx): batch-norm moving statistics that never update (or update on the
wrong data) in graph-mode TensorFlow: ``tf.layers``/``tf.compat.v1.layers``, contrib and TF-Slim.

The rules read shared facts from :mod:`bnguard.lint.tf1_facts` (BN sites with their training flag
resolved through wrappers, ``arg_scope`` and ``normalizer_params``; the training context; UPDATE_OPS
consumers) and :mod:`bnguard.lint.values` (what a flag can be, over every call site in the project).
"""
from __future__ import annotations

import ast
import builtins
from typing import Iterable, Iterator, Optional

from bnguard.lint import astwalk
from bnguard.lint import keras_facts as kf
from bnguard.lint import values as V
from bnguard.lint.imports import dotted
from bnguard.lint.finding import Finding
from bnguard.lint.project import FunctionInfo, Module, Project, call_assignments, is_unit_test
from bnguard.lint.rules.base import Rule, RuleDoc, register
from bnguard.lint.tf1_facts import FLAG_NAMES as _FLAG_NAMES
from bnguard.lint.tf1_facts import (
    TRAIN_OP_METHODS,
    UPDATE_OPS,
    BNSite,
    _call_ref,
    _close,
    call_may_reach,
    enclosing_functions,
    bn_sites,
    bn_sites_in,
    top_level_graph_sites,
    trained_in_top_level_graph,
    deliberate_in_program,
    fed_values,
    flag_at_run,
    fresh_session,
    identifier_words,
    is_update_ops_ref,
    is_trained,
    library_receiver,
    restored_for_inference,
    same_program,
    site_in_graph_of,
    standalone_keras_bn_sites,
    train_context,
)

BN_TRIGGERS = ("batch_norm", "batch_normalization", "BatchNormalization", "normalizer_fn")
# Texts of files that provide facts the TF1 rules read (train ops, restores, feeds, sessions,
# evaluation runs, wiring helpers): the pre-filter must parse them even when they build no BN.
TF1_FACT_TRIGGERS = ("minimize", "apply_gradients", "gradients", "restore", "checkpoint", "load_weights",
                     "Saver", "feed_dict", "placeholder", "Session", "UPDATE_OPS", "update_ops",
                     "create_train_op", "optimize_loss", "gan_train", "deploy", "GradientTape",
                     "eager_execution", "v2_behavior", "fit", "train_on_batch", "updates", ".run(",
                     "global_variables_initializer", "initialize_all_variables", "arg_scope",
                     "set_learning_phase", "tensorpack", "tflearn", "sonnet", "tensorlayer", "tensor2tensor")
VERSIONS = ("TensorFlow 1.x graph mode and TensorFlow 2.x `tf.compat.v1` (with `tf_keras` and "
            "`TF_USE_LEGACY_KERAS=1` on TF >= 2.16); `tf.contrib.layers`/`tf.contrib.slim` (TF <= 1.15) "
            "and the standalone `tf_slim` package.")


def _describe_flag(site: BNSite) -> str:
    if site.flag_expr is None:
        return f"no flag is passed, so {site.flag_source} applies"
    return f"{site.flag_source} `{ast.unparse(site.flag_expr)}`" if hasattr(ast, "unparse") else site.flag_source


def _default_taken(site: BNSite, project: Project) -> str:
    """``; `disp_net(x)` (path:line) leaves `is_training` out, so its default True applies`` when the
    flag is a parameter of the function that builds the layer, defaulting to True, and a call of
    that function omits it (the usual way an inference graph ends up in training mode); else ""."""
    flag = site.flag_expr
    fn = site.module.scope_of(site.node)
    if not isinstance(flag, ast.Name) or not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return ""
    positional = fn.args.posonlyargs + fn.args.args
    names = [a.arg for a in positional]
    if flag.id not in names:
        return ""
    index = names.index(flag.id)
    defaults = dict(zip(names[len(names) - len(fn.args.defaults):], fn.args.defaults))
    default = defaults.get(flag.id)
    if not (isinstance(default, ast.Constant) and default.value is True):
        return ""
    if names and names[0] in ("self", "cls"):
        index -= 1
    for c in project.call_sites(fn.name):
        if any(isinstance(a, ast.Starred) for a in c.node.args) or any(k.arg in (None, flag.id) for k in c.node.keywords):
            continue
        if not call_may_reach(c, site.module, project):
            continue  # another module's function of that name
        if len(c.node.args) <= index:
            return (f"; `{ast.unparse(c.node)}` ({c.module.where(c.node.lineno)}) leaves `{flag.id}` out, "
                    "so its default True applies")
    return ""


def _true_passed_by(site: BNSite, project: Project, em: Module) -> str:
    """``; `build_network(is_training=True)` (infer.py:6) passes True`` when the flag is a parameter of
    the function that builds the layer, handed down through wrapper parameters, and a call in the
    evaluation module ``em`` passes a literal True for it (how an inference script rebuilds the graph in
    training mode); else ""."""
    flag, where = site.flag_expr, site.module
    fn = where.scope_of(site.node)
    for _depth in range(5):
        if not isinstance(flag, ast.Name) or not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
            return ""
        if flag.id not in {a.arg for a in fn.args.posonlyargs + fn.args.args + fn.args.kwonlyargs}:
            return ""
        nxt = None
        for c in project.call_sites(fn.name):
            arg, explicit = kf.argument_for(c.node, fn, flag.id, is_method_call=isinstance(c.node.func, ast.Attribute))
            if not explicit:
                continue  # a default is _default_taken's case
            if not call_may_reach(c, where, project):
                continue  # another module's function of that name
            if isinstance(arg, ast.Constant) and arg.value is True and c.module is em:
                return f"; `{ast.unparse(c.node)}` ({c.module.where(c.node.lineno)}) passes True"
            if isinstance(arg, ast.Name) and nxt is None and isinstance(c.scope, (ast.FunctionDef, ast.AsyncFunctionDef)):
                nxt = (arg, c.scope, c.module)
        if nxt is None:
            return ""
        flag, fn, where = nxt
    return ""


def _frozen_is_deliberate(site: BNSite, project: Project) -> bool:
    """Frozen BN on purpose: ``trainable=False`` on the layer, a fine-tuning script that restores
    a pretrained backbone (``init_from_checkpoint``, ``assign_from_checkpoint_fn``, partial Saver),
    an inference copy that reuses the variables of a BN trained elsewhere (a GAN ``sampler``), or a
    BN whose output only ever reaches the loss through ``tf.stop_gradient`` (a fixed feature
    extractor: nothing of it is trained, so inference mode is consistent)."""
    transfer = train_context(project).transfer_modules & same_program(site.module, project)
    return (site.trainable_false or bool(transfer) or _reuses_variables(site, project)
            or _inference_code(site, project) or _gradient_stopped(site.node, site.module, project))


def _frozen_on_purpose(site: BNSite, project: Project) -> bool:
    """``_frozen_is_deliberate`` without the inference-code names: for a flag that was written to
    switch (it compares a fed placeholder), a builder named ``inference`` says nothing."""
    transfer = train_context(project).transfer_modules & same_program(site.module, project)
    return (site.trainable_false or bool(transfer) or _reuses_variables(site, project)
            or _gradient_stopped(site.node, site.module, project))


def _is_stop_gradient(node: ast.AST) -> bool:
    return isinstance(node, ast.Call) and (dotted(node.func) or "").rsplit(".", 1)[-1] == "stop_gradient"


def _under_stop_gradient(node: ast.AST, module: Module) -> bool:
    """``node`` lies in the arguments of a ``stop_gradient(...)`` call of its own statement."""
    child = node
    for a in module.ancestors(node):
        if isinstance(a, ast.stmt):
            return False
        if _is_stop_gradient(a) and child is not a.func:
            return True
        child = a
    return False


def _gradient_stopped(node: ast.AST, module: Module, project: Project, depth: int = 0) -> bool:
    """Every path from the value of ``node`` (a BN call, or a call of a function building one) to
    anything else goes through ``tf.stop_gradient``: directly (``tf.stop_gradient(relu(bn(x)))``),
    through local names in the statements that follow (``h = bn(x); h = relu(h); feats =
    tf.stop_gradient(h)``), or through the enclosing function's ``return`` when every call of that
    function in the project is stopped the same way (``feats = tf.stop_gradient(encoder(x))``). No
    gradient reaches the layer: it is a fixed feature extractor, frozen on purpose."""
    if depth > 2 or not project.fact("tf1.mentions_stop_gradient", lambda p: any(
            m.mentions("stop_gradient") for m in p.modules)):
        return False
    if module.mentions("stop_gradient") and _under_stop_gradient(node, module):
        return True
    stmt = module.statement_of(node)
    if isinstance(stmt, ast.Return) and stmt.value is not None:
        return _returns_stopped(module.scope_of(stmt), module, project, depth)
    if not isinstance(stmt, ast.Assign) or len(stmt.targets) != 1 or not any(
            a is stmt.value for a in [node, *module.ancestors_until(node, stmt)]):
        return False
    # name -> has the value it holds been used yet (each use must end in ``stop_gradient``)
    tracked = dict.fromkeys(_names_bound(stmt.targets[0]), False)
    if not tracked:
        return False
    state = {"stopped": False}
    block, idx = _block_position(stmt, module)
    while block is not None:
        for later in block[idx + 1:]:
            verdict = _follow_statement(later, tracked, state, module, project, depth)
            if verdict is not None:
                return verdict
            if not tracked:
                return state["stopped"]
        owner = module.parent(block[0])
        if isinstance(owner, (ast.FunctionDef, ast.AsyncFunctionDef)) or isinstance(owner, ast.Module):
            # The locals die here. A value derived from the BN output and never used afterwards
            # (``train = opt.minimize(loss)``) may be where its gradient went: not proven stopped.
            return state["stopped"] and all(tracked.values())
        if not isinstance(owner, (ast.With, ast.AsyncWith, ast.If, ast.Try)):
            return False  # a loop body runs again: the value may flow anywhere
        block, idx = _block_position(owner, module)
    return False


def _names_bound(target: ast.AST) -> set:
    if isinstance(target, ast.Name):
        return {target.id}
    if isinstance(target, (ast.Tuple, ast.List)) and all(isinstance(e, ast.Name) for e in target.elts):
        return {e.id for e in target.elts}
    return set()


def _block_position(stmt: ast.stmt, module: Module):
    owner = module.parent(stmt)
    for field in ("body", "orelse", "finalbody"):
        block = getattr(owner, field, None)
        if isinstance(block, list):
            for i, s in enumerate(block):
                if s is stmt:
                    return block, i
    for h in getattr(owner, "handlers", ()):
        for i, s in enumerate(h.body):
            if s is stmt:
                return h.body, i
    return None, 0


def _follow_statement(st: ast.stmt, tracked: dict, state: dict, module: Module, project: Project,
                      depth: int) -> Optional[bool]:
    """One statement after the BN's value was bound to ``tracked`` names: False when the value
    escapes (a load outside ``stop_gradient`` that is not a plain rebinding), True when it is
    returned by a function whose every call is stopped, None to go on. A ``with`` block runs its
    body once, in order: followed statement by statement."""
    if isinstance(st, (ast.With, ast.AsyncWith)):
        for item in st.items:
            if any(isinstance(n, ast.Name) and n.id in tracked for n in astwalk.walk(item)):
                return False
        for inner in st.body:
            verdict = _follow_statement(inner, tracked, state, module, project, depth)
            if verdict is not None:
                return verdict
        return None
    loads = [n for n in astwalk.walk(st) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load) and n.id in tracked]
    free = [n for n in loads if not _under_stop_gradient(n, module)]
    if len(free) < len(loads):
        state["stopped"] = True
    for n in loads:
        tracked[n.id] = True
    if isinstance(st, ast.Assign) and len(st.targets) == 1 and _names_bound(st.targets[0]):
        for name in _names_bound(st.targets[0]):
            if free:
                tracked[name] = False  # ``h = relu(h)``: the new value still carries the BN output
            else:
                tracked.pop(name, None)  # rebound to something else (or to its stopped copy)
        return None
    if isinstance(st, ast.Return) and free and all(
            isinstance(a, ast.expr) for n in free for a in module.ancestors_until(n, st)):
        return _returns_stopped(module.scope_of(st), module, project, depth)
    if free:
        return False
    if isinstance(st, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.For, ast.AsyncFor,
                       ast.While, ast.With, ast.AsyncWith, ast.If, ast.Try)):
        stores = {n.id for n in astwalk.walk(st) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
        if stores & tracked.keys():
            return False  # rebound inside a block: not followed
    return None


def _returns_stopped(func, module: Module, project: Project, depth: int) -> bool:
    """Every call of the function ``func`` (by name, in the project) is gradient-stopped."""
    if func is None or func.name.startswith("__"):
        return False
    calls = project.call_sites(func.name)
    return bool(calls) and all(_gradient_stopped(c.node, c.module, project, depth + 1) for c in calls)


_INFERENCE_WORDS = ("eval", "test", "infer", "predict", "sampler", "export", "freeze", "serving", "demo",
                    "deploy", "valid")


def _inference_code(site: BNSite, project: Optional[Project] = None) -> bool:
    """The BN is built in a function or file named for inference (``evaluate()``, ``sampler()``,
    ``export.py``): a hard-coded False there is how inference graphs are written."""
    from bnguard.lint.tf1_facts import enclosing_names

    names = enclosing_names(site.node, site.module)
    stem = site.module.path.replace("\\", "/").rsplit("/", 1)[-1].rsplit(".", 1)[0]
    if project is not None and id(site.module) in train_context(project).trained_modules:
        stem = ""  # a file that builds its own train op (train_and_eval.py) is not an inference script
    # Word starts, not substrings: ``build_eval_graph``, ``testNet``, ``export.py`` are inference
    # code; ``get_latest_model``, ``protest`` or ``medieval`` are not.
    return any(t.startswith(w) for n in names + [stem] for t in identifier_words(n) for w in _INFERENCE_WORDS)


def _reuses_variables(site: BNSite, project: Optional[Project] = None) -> bool:
    """The BN call shares variables with another one: ``reuse=`` on the call (not literally False),
    an enclosing ``variable_scope(..., reuse=...)``, ``reuse_variables()`` or a ``reuse`` parameter
    in the enclosing function. ``reuse=tf.AUTO_REUSE`` on the call itself shares the layer between
    the runs of that same call (an auxiliary tower applied to clicks and non-clicks): it is an
    inference copy only when another BN call of the project, under the same ``name``, trains."""
    m = site.module
    node = site.node
    if isinstance(node, ast.Call):
        for kw in node.keywords:
            if kw.arg == "reuse" and not (isinstance(kw.value, ast.Constant) and not kw.value.value):
                if project is not None and (dotted(kw.value) or "").endswith("AUTO_REUSE"):
                    return _trained_under_same_name(site, project)
                return True
    for anc in m.ancestors(node):
        if isinstance(anc, (ast.With, ast.AsyncWith)):
            for item in anc.items:
                c = item.context_expr
                if isinstance(c, ast.Call) and any(
                        kw.arg == "reuse" and not (isinstance(kw.value, ast.Constant) and not kw.value.value)
                        for kw in c.keywords):
                    return True
        if isinstance(anc, (ast.FunctionDef, ast.AsyncFunctionDef)):
            if any(a.arg == "reuse" for a in anc.args.args + anc.args.kwonlyargs):
                return True
            calls = project_calls_in(anc, m)
            if "reuse_variables" in calls:
                return True
    return False


def _trained_under_same_name(site: BNSite, project: Project) -> bool:
    def name_of(call: ast.Call) -> Optional[str]:  # the text of ``name=`` ('bn1' + stag as written)
        return next((ast.unparse(kw.value) for kw in call.keywords if kw.arg == "name"), None)

    name = name_of(site.node)  # type: ignore[arg-type]
    if name is None:
        return True  # the variables it shares cannot be told apart: keep the exemption
    return any(other is not site and isinstance(other.node, ast.Call) and name_of(other.node) == name
               and not V.always_false_values(other.flag) for other in bn_sites(project))


def project_calls_in(func: ast.AST, module: Module) -> set:
    key = "_tf1_calls_in"
    cache = module.__dict__.setdefault(key, {})
    names = cache.get(id(func))
    if names is None:
        names = cache[id(func)] = {c.name for c in module.calls if c.scope is func and c.name}
    return names


def _frozen_matters(site: BNSite, project: Project) -> bool:
    """Is the graph of this BN trained (or initialised from scratch and run)? An inference-only
    builder (export, restore-and-predict) uses ``training=False`` correctly."""
    trained = trained_in_top_level_graph(site.node, site.module, project)  # a notebook's part after a graph reset
    if trained is None:
        trained = is_trained(site.node, site.module, project)
    return (trained or fresh_session(site.node, site.module, project)) \
        and not restored_for_inference(site.module, project)


@register
class TrainingFlagAlwaysFalse(Rule):
    code = "BN101"
    name = "training-flag-always-false"
    framework = "tensorflow"
    severity = "error"
    summary = "The batch-norm training flag is always false in a graph that is trained: moving statistics never update."
    triggers = BN_TRIGGERS
    fact_triggers = TF1_FACT_TRIGGERS
    doc = RuleDoc(
        what="""
Finds TF1 batch-normalization layers (`tf.layers.batch_normalization`, `tf.compat.v1.layers`,
`tf.contrib.layers.batch_norm`, `slim.batch_norm`, and slim layers with `normalizer_fn=batch_norm`)
whose training flag can only ever be false — a literal `False`, `tf.constant(False)`, a name bound to
one, a wrapper parameter whose default is `False` and that no call site in the project overrides, or a
flag that exists in the enclosing function but never reaches the BN call (then the API default
applies: `training=False` for `tf.layers`) — in a graph that is trained (a train op is built by code
that reaches the layer) or initialised from scratch and run. Also a `tf.keras` BatchNormalization
layer called in a TF1 graph (a `tf.Session` program, not `fit`, not eager) with no `training` while
nothing in the program sets or feeds `K.learning_phase()`: it then runs in inference mode, and its
updates, even when wired into the train op, leave the moving statistics where they are. The same
for such a layer built by an Estimator `model_fn` that returns `EstimatorSpec(train_op=...)`: the
Estimator's graph has learning phase 0, and when `mode` reaches no `training=` argument anywhere in
the program the layer never trains its statistics (deezer/spleeter#151: every released BN has
moving_mean 0, moving_variance 1).

Also a boolean placeholder (`tf.placeholder(tf.bool)`) that every feed in its program sets to False
— a literal `{model.training: False}` in the train op's `sess.run`, or a feed helper
`make_feed(model, batch, training=False)` whose default no call overrides. And `feed[is_training] =
False` (the BN flag's placeholder) inside a training loop, on the dict that the loop's
`sess.run(train_op, feed_dict=feed)` keeps using, when nothing in the loop writes that key again,
rebinds the dict or updates it with that key (or with keys it cannot read): from the first
evaluation on, every training step runs BN in inference mode. The same for a flag kept in a boolean
`tf.Variable` switched by assign ops (`set_inference = tf.assign(is_training, False)`): a training loop
that runs the False switch (directly, or through `self.evaluate()`) and never the True one.

Also a flag computed with `==`/`!=` (or `in`) on a graph tensor: `training=(mode == "train")` with
`mode = tf.placeholder(tf.string)`, or `(is_training == True)` on a boolean placeholder, through local
names and wrapper parameters. Outside eager execution (TF1, `disable_eager_execution()`, any
`tf.Graph().as_default()` block — where placeholders live) `Tensor.__eq__` is Python identity, so the
flag is the constant False when the graph is built, whatever is fed later; `tf.equal(mode, "train")`
is the tensor comparison. A Python-string `mode` (`mode == ModeKeys.TRAIN` in a `model_fn`) is not a
tensor and is left alone, as is a `tf.function` body (TF2 compares tensors element-wise there).

Command-line options are resolved when their values form a closed set: argparse `choices` (plus the
default, which argparse does not check against them), `store_true`/`store_false`, absl/`tf.app.flags`
`DEFINE_enum`/`DEFINE_bool`. `training=(args.phase == 'training')` with `choices=['train', 'test']`
is always False. A free-form option (`default='train'` without `choices`) is not: a user can pass
any string, so the default alone decides nothing.

Values are followed across the whole analysed project: `def net(x, is_training=False)` is fine when
`train.py` calls `net(x, is_training=True)`. The flag is also resolved through `arg_scope` (lexical,
and dynamic: `with arg_scope([conv2d], normalizer_fn=batch_norm, normalizer_params=p)` applies to
layers built in functions called inside the block, so it is reported at the `arg_scope`),
`normalizer_params`, and `normalizer_fn=tf.layers.batch_normalization` (key `training`).
Python 2 sources are analysed too (translated line for line).

An attribute of a config object is resolved for the objects it can be: `training=cfg.is_training`
with `cfg = self.config`, `Model(TrainConfig())` and `class Config: is_training = False` (no subclass
used overrides it, nothing assigns it True) is always False, even when the model also owns a
`self.is_training` placeholder that the trainer feeds True (it then feeds only dropout). The object
is followed through constructions, parameters (every call site, subclass constructions included),
`self.x` stores and functions returning it; the attribute through the class bodies along its bases,
`self.is_training = ...` in their methods, `obj.is_training = ...` / `Config.is_training = ...` on
anything that may be such an object, and dataclass constructions.
""",
        why="""
With the flag false, the layer normalizes with its moving mean and variance and never updates them:
they stay at their initial values (mean 0, variance 1) for the whole run. The network trains
against un-normalized activations, evaluation uses the same meaningless statistics, and a restored
checkpoint shows `moving_mean` all zeros. TensorFlow folds a constant flag into the graph, so the
update ops are not even created and wiring `UPDATE_OPS` does not help.
""",
        example="""
import tensorflow.compat.v1 as tf

training_phase = tf.constant(False)
x = tf.placeholder(tf.float32, [None, 10])
h = tf.layers.batch_normalization(x, training=training_phase)
loss = tf.reduce_mean(tf.square(h))
train_op = tf.train.AdamOptimizer().minimize(loss)
""",
        use_instead="""
import tensorflow.compat.v1 as tf

training_phase = tf.placeholder(tf.bool, [], name="training")
x = tf.placeholder(tf.float32, [None, 10])
h = tf.layers.batch_normalization(x, training=training_phase)
loss = tf.reduce_mean(tf.square(h))
with tf.control_dependencies(tf.get_collection(tf.GraphKeys.UPDATE_OPS)):
    train_op = tf.train.AdamOptimizer().minimize(loss)
# sess.run(train_op, feed_dict={x: batch, training_phase: True}) while training,
# training_phase: False when evaluating.
""",
        not_flagged="""
- Inference-only graphs (export, restore-and-predict scripts): `training=False` is right there. This
  includes a model module (a re-implementation of a published network) that trains nothing itself and
  whose every importer only calls it in functions that restore a checkpoint unconditionally
  (`saver.restore(sess, path)`), initialise no variable and build no train op that may train the model
  (one restricted to `var_list=[perturbation]`, an attack on the input, does not).
- Builders whose flag parameter is passed `True` at some call site anywhere in the project, or whose
  function is passed around (callbacks, `tf.make_template`, `model_fn=`): the value is unknown.
- Methods of a class that nothing in the project constructs (never called, read or named in a string,
  nor any subclass of it): a base class's `self._image_to_head()` reaches only the subclasses the
  training script builds, not a sibling backbone left for another configuration. This holds for the
  training reach of every TF1 rule.
- Deliberately frozen BN: `trainable=False` on the layer, or fine-tuning that restores a pretrained
  backbone (`init_from_checkpoint`, `assign_from_checkpoint_fn`, `get_variables_to_restore`, a Saver
  with a `var_list`), or a fixed feature extractor whose output reaches everything else only through
  `tf.stop_gradient` (`feats = tf.stop_gradient(relu(backbone_bn(x)))`, a name chain ending there,
  or a builder function every call of which is stopped): no gradient trains that layer, so inference
  mode is consistent. One use of the output without `stop_gradient` (a pseudo-label branch stopped,
  the loss branch not) is not enough.
- Inference copies of a trained network: BN calls that reuse variables (`reuse=True`/`AUTO_REUSE`,
  `variable_scope(..., reuse=...)`, `reuse_variables()`, a `reuse` parameter — a GAN `sampler`), and BN
  built in functions or files named for inference (`evaluate`, `predict`, `sampler`, `export.py`,
  `test.py`, `demo.py`...). A BN call that itself says `reuse=tf.AUTO_REUSE` under a `name` no
  training call of the project shares is not such a copy: every run of it is frozen (reported).
- Config attributes set True anywhere that may reach the object (a subclass override, an instance or
  class assignment, a constructor argument), or set through `setattr(obj, name, v)` with a computed
  name, `obj.__dict__`, `vars(obj)`, `__getattr__`/properties, on an object from argparse, a loader or
  a class outside the project: unknown.
- Flags from free-form command-line options, config files, `mode == ModeKeys.TRAIN` in an Estimator
  `model_fn`, placeholders fed True anywhere in their program (or through a feed dict built from a
  list, whose values cannot be read); `placeholder_with_default(False)` never fed is BN102's job.
- Keras layers in an Estimator `model_fn` that is passed `training=` anywhere in the program, whose
  updates are run (`model.updates`, `get_updates_for`, anything touching UPDATE_OPS), that are
  frozen (`trainable=False`, `layer.trainable = False`) or warm-started (`warm_start_from`).
- Other Keras uses (`fit`, eager): see the Keras rules.
- A `tf.Variable` flag switched back in the loop (`sess.run(set_training)` at each epoch, or in a
  `finally` of the evaluation), switched off only under an `if` in the loop (the last epoch), also
  fed anywhere, or bound to anything but `tf.Variable(True/False)` somewhere in the project.
""",
        versions=VERSIONS,
    )

    def check(self, module: Module, project: Project) -> Iterable[Finding]:
        for site in bn_sites_in(module, project):
            if site.api == "keras":
                if _keras_learning_phase_frozen(site, project) and not _frozen_is_deliberate(site, project) \
                        and _frozen_matters(site, project):
                    if _in_estimator_train_graph(site, project):
                        yield self.finding(module, site.node, (
                            "Keras batch norm in an Estimator `model_fn` gets no training flag (training=None), so "
                            "it follows `K.learning_phase()`, which is 0 in the Estimator's graph and which nothing "
                            "sets: the layer runs in inference mode while training and its moving statistics stay at "
                            "0/1 (its updates are not run by the train op either); pass "
                            "`training=(mode == tf.estimator.ModeKeys.TRAIN)` and build the train op under "
                            "`tf.control_dependencies(model.updates)` (Keras layers do not use UPDATE_OPS)"))
                        continue
                    yield self.finding(module, site.node, (
                        "Keras batch norm in a TF1 graph gets no training flag (training=None), so it follows "
                        "`K.learning_phase()`, which nothing in this program sets or feeds and which defaults to "
                        "False: the layer runs in inference mode while training and its moving statistics never "
                        "update, even with its updates wired into the train op; pass `training=` a boolean "
                        "placeholder fed True while training"))
                continue
            attribute_false = identity = None
            if not V.always_false_values(site.flag) and not _always_false_in_program(site, project):
                identity = _tensor_compared_by_identity(site, project)
                attribute_false = _object_attribute_false(site, project) if identity is None else None
                if attribute_false is None and identity is None:
                    fed = _fed_only_false(site, project)
                    if fed is not None and not _frozen_is_deliberate(site, project) and is_trained(
                            site.node, site.module, project):
                        entry = fed[0]
                        yield self.finding(module, site.node, (
                            f"batch-norm training flag is a placeholder that the project only ever feeds False "
                            f"(`{ast.unparse(entry.value)}` at {entry.module.where(entry.value.lineno)}"
                            f"{f' and {len(fed) - 1} more' if len(fed) > 1 else ''}), also when the train op runs: "
                            "moving statistics never update; feed it True in the training step"))
                    continue
            # A flag compared with a fed placeholder is meant to switch: a function named for inference
            # (cifar10's ``inference()`` builds the trained graph) is no hard-coded inference graph here.
            if (_frozen_is_deliberate(site, project) if identity is None else _frozen_on_purpose(site, project)) \
                    or not _frozen_matters(site, project):
                continue
            if identity is not None:
                test, tm, ph = identity
                msg = (f"batch-norm training flag comes from `{ast.unparse(test)}` ({_at(tm, test.lineno, module)}), "
                       f"which compares a graph tensor (the placeholder built at {ph.module.where(ph.node.lineno)}) with `==`: outside eager execution that is Python "
                       "identity, the constant False when the graph is built, whatever is fed later: batch norm "
                       "never runs in training mode and its moving statistics never update; use "
                       "`tf.equal(...)` (a boolean tensor evaluated at each run)")
            elif attribute_false is not None:
                where = ", ".join(f"`{ast.unparse(v)}` at {vm.where(v.lineno)}" for v, vm in attribute_false[:2])
                msg = (f"batch-norm training flag `{ast.unparse(site.flag_expr)}` is an attribute that is False for "
                       f"every object it can come from ({where}; nothing sets it True), although another flag of "
                       "the same name may be fed True: moving statistics never update; pass the boolean "
                       "placeholder that the training step feeds True")
            elif site.dropped_param:
                msg = (f"batch norm gets no training flag (the enclosing function's `{site.dropped_param}` "
                       f"parameter never reaches it), so {site.flag_source} applies: moving statistics "
                       "never update; pass the flag through")
            else:
                msg = (f"batch-norm training flag is always false ({_describe_flag(site)}): moving mean/variance "
                       "never update and stay at their initial 0/1; use a boolean placeholder fed True while training")
            yield self.finding(module, site.node, msg)
        yield from self._feed_flag_left_false(module, project)
        yield from self._variable_flag_left_false(module, project)

    def _variable_flag_left_false(self, module: Module, project: Project) -> Iterable[Finding]:
        """The BN flag is a boolean ``tf.Variable`` switched with assign ops (``set_inference =
        tf.assign(is_training, False)``), and a training loop runs the False switch (directly or
        through ``self.evaluate()``) but nothing in the loop switches it back: from the first
        evaluation on every training step runs BN in inference mode."""
        runs = _train_runs(module, project)
        if not runs:
            return  # no training step here: cheap to know, unlike the module's program asked below
        program = frozenset(same_program(module, project))
        switches = _flag_variable_switches(project, program)
        if not switches:
            return
        setters = _functions_switching(project, program, switches)
        for run in runs:
            scope = module.scope_of(run)
            for loop in (a for a in module.ancestors(run) if isinstance(a, (ast.For, ast.While))):
                if module.scope_of(loop) is not scope:
                    break
                found = _switches_in(loop, module, switches, setters)
                if False not in found or True in found:
                    continue
                node, op = found[False]
                if any(isinstance(a, ast.If) for a in module.ancestors(node) if _inside_node(a, loop, module)):
                    break  # ``if epoch == last: evaluate()``: maybe only once, at the end
                yield self.finding(module, node, (
                    f"`{ast.unparse(node)}` inside the training loop runs `{op}`, which assigns False to the batch-norm "
                    "training-flag variable, and nothing in the loop assigns True back: after its first run every "
                    f"training step (`sess.run` at {module.line_ref(run.lineno)}) runs batch norm in inference mode and "
                    "its moving statistics stop updating; switch the flag back after evaluating (in a `finally`)"))
                return

    def _feed_flag_left_false(self, module: Module, project: Project) -> Iterable[Finding]:
        """``feed[is_training] = False`` inside the training loop (to evaluate), on the same dict that
        the loop's ``sess.run(train_op, feed_dict=feed)`` keeps using, and nothing in the loop sets the
        flag back: from the first evaluation on every training step runs BN in inference mode."""
        flag_names = {n for s in bn_sites(project) if s.api != "keras" for ph in V.placeholders(s.flag) for n in ph.names}
        if not flag_names:
            return
        for store in module.nodes_of_kind.get(ast.Assign, ()):
            if len(store.targets) != 1 or not isinstance(store.targets[0], ast.Subscript):
                continue
            target = store.targets[0]
            if not (isinstance(target.value, ast.Name) and _last_name_of_target(target.slice) in flag_names
                    and V.always_false(store.value, module, project)):
                continue
            feed, key = target.value.id, _last_name_of_target(target.slice)
            loop = next((a for a in module.ancestors(store) if isinstance(a, (ast.For, ast.While))), None)
            if loop is None or module.scope_of(loop) is not module.scope_of(store):
                continue
            if _flag_reset_in(loop, feed, key, store):
                continue
            run = next((c for c in _train_runs(module, project) if _inside_node(c, loop, module)
                        and _feed_dict_name(c) == feed), None)
            if run is None:
                continue
            yield self.finding(module, store, (
                f"`{ast.unparse(target)} = {ast.unparse(store.value)}` inside the training loop changes the feed dict "
                f"that `sess.run` at {module.line_ref(run.lineno)} keeps using for the train op, and nothing in the loop "
                "sets the flag back: after the first evaluation every training step runs batch norm in inference "
                "mode and its moving statistics stop updating; evaluate with a copy (`{**feed, is_training: False}`)"))


def _flag_variable_switches(project: Project, program: frozenset) -> dict:
    """Assign ops that switch a BN training flag kept in a boolean ``tf.Variable``: op name (last name
    of what the op is bound to) -> the value it assigns. The flag must reach every tf1 BN layer of the
    program through names bound only to ``tf.Variable(<True/False>, ...)``, and never be fed."""
    def compute(p: Project) -> dict:
        flag_names = set()
        for site in bn_sites(p):
            if site.api == "keras" or id(site.module) not in program:
                continue
            names = _flag_terminal_names(site, p)
            if names is None:
                return {}
            flag_names |= names
        if not flag_names or not all(_bound_only_to_bool_variable(n, p, program) for n in flag_names):
            return {}
        switches: dict = {}
        for m in p.modules:
            if id(m) not in program:
                continue
            for node in m.nodes_of_kind.get(ast.Assign, ()):
                value = _switch_value(node.value, m, flag_names)
                if value is None or len(node.targets) != 1:
                    continue
                name = _last_name_of_target(node.targets[0])
                if name is None or switches.get(name, value) != value:
                    return {}  # one name bound to both switches: cannot tell which runs
                switches[name] = value
            for node in astwalk.walk(m.tree):  # ``{is_training: True}`` fed anywhere overrides the variable
                if isinstance(node, ast.Dict) and any(k is not None and _last_name_of_target(k) in flag_names
                                                      for k in node.keys):
                    return {}
                if isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Store) \
                        and _last_name_of_target(node.slice) in flag_names:
                    return {}
        return switches if set(switches.values()) == {True, False} else {}
    return project.fact("tf1.flag_variable_switches:" + ",".join(map(str, sorted(program))), compute)


def _flag_terminal_names(site: BNSite, project: Project, depth: int = 4) -> Optional[set]:
    """The last names of the expressions the flag of ``site`` comes from, following parameters through
    their call sites (``mlp(x, self.is_training)`` -> ``is_training``); None when it cannot tell."""
    terminals = _flag_terminals(site, project, depth, only_passed_on=False)
    if terminals is None:
        return None
    return {expr.id if isinstance(expr, ast.Name) else expr.attr for expr, _m in terminals}


def _bound_only_to_bool_variable(name: str, project: Project, program: frozenset) -> bool:
    """Is every binding of ``name`` / ``x.name`` in the program a ``tf.Variable(<True/False>, ...)``?"""
    values = []
    for m in project.modules:
        if id(m) not in program:
            continue
        for node in m.nodes_of_kind.get(ast.Assign, ()):
            for t in node.targets:
                if _last_name_of_target(t) == name:
                    values.append((node.value, m))
                elif any(isinstance(n, (ast.Name, ast.Attribute)) and _last_name_of_target(n) == name
                         for n in astwalk.walk(t)):
                    return False  # unpacked from something we cannot read
    for value, m in values:
        if not (isinstance(value, ast.Call) and m.imports.resolve(value.func) == "tensorflow.Variable"):
            return False
        init = value.args[0] if value.args else next((k.value for k in value.keywords if k.arg == "initial_value"), None)
        if not (isinstance(init, ast.Constant) and isinstance(init.value, bool)):
            return False
    return bool(values)


def _switch_value(expr: ast.AST, m: Module, flag_names: set) -> Optional[bool]:
    """``tf.assign(flag, False)`` / ``flag.assign(False)`` of a flag variable: the value it assigns."""
    if not isinstance(expr, ast.Call):
        return None
    if m.imports.resolve(expr.func) in ("tensorflow.assign", "tensorflow.compat.v1.assign") and len(expr.args) >= 2:
        ref, value = expr.args[0], expr.args[1]
    elif isinstance(expr.func, ast.Attribute) and expr.func.attr == "assign" and len(expr.args) == 1:
        ref, value = expr.func.value, expr.args[0]
    else:
        return None
    if _last_name_of_target(ref) not in flag_names or not (isinstance(value, ast.Constant) and isinstance(value.value, bool)):
        return None
    return value.value


def _run_switches(node: ast.AST, m: Module, switches: dict) -> dict:
    """The switches a ``sess.run(...)`` call runs: value -> op name."""
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "run"):
        return {}
    return {switches[n]: n for n in _fetched_names(node) if n in switches}


def _functions_switching(project: Project, program: frozenset, switches: dict) -> dict:
    """Function name (of the program) -> the switch values its body runs, directly or through the
    functions it calls (by name, a few levels deep)."""
    def compute(p: Project) -> dict:
        direct: dict = {}
        calls: dict = {}
        for m in p.modules:
            if id(m) not in program:
                continue
            for fi in m.functions:
                vals = set()
                for n in astwalk.walk(fi.node):
                    vals |= set(_run_switches(n, m, switches))
                    if isinstance(n, ast.Call):
                        name = V._last_name(n.func)
                        if name and name != fi.name and p.functions(name):
                            calls.setdefault(fi.name, set()).add(name)
                direct.setdefault(fi.name, set()).update(vals)
        out = {}
        for name in direct:
            seen, work, vals = set(), [name], set()
            while work:
                n = work.pop()
                if n in seen or len(seen) > 50:
                    continue
                seen.add(n)
                vals |= direct.get(n, set())
                work.extend(calls.get(n, ()))
            if vals:
                out[name] = vals
        return out
    return project.fact("tf1.functions_switching:" + ",".join(map(str, sorted(program))), compute)


def _switches_in(loop: ast.AST, m: Module, switches: dict, setters: dict) -> dict:
    """The switch values that running ``loop`` may run: value -> (the run or call in the loop, op name)."""
    out: dict = {}
    for n in astwalk.walk(loop):
        for value, op in _run_switches(n, m, switches).items():
            out.setdefault(value, (n, op))
        if isinstance(n, ast.Call):
            for value in setters.get(V._last_name(n.func), ()):
                op = next((k for k, v in switches.items() if v == value), "")
                out.setdefault(value, (n, op))
    return out


@register
class PlaceholderWithDefaultNeverFed(Rule):
    code = "BN102"
    name = "training-placeholder-never-fed"
    framework = "tensorflow"
    severity = "error"
    summary = "The BN training flag is placeholder_with_default(False) and nothing in the project feeds it."
    triggers = BN_TRIGGERS
    fact_triggers = TF1_FACT_TRIGGERS
    doc = RuleDoc(
        what="""
Finds TF1 batch-norm layers whose training flag is a `tf.placeholder_with_default(False, ...)` (directly,
through a name, a wrapper parameter or `normalizer_params`) that nothing in the analysed project feeds:
no `feed_dict` key is the placeholder (by identity, by the variable or attribute name it is bound to,
or by its tensor name such as `'is_training:0'`), no `d[flag] = True`, no `dict(...)`/`.update(...)`
with it — in a graph that is trained.
Also a flag read through a plain `@property` (directly or through wrapper parameters) whose body
returns a new `tf.placeholder_with_default(False, ...)` on every read: the placeholder the layer reads
while the graph is built is never the one a later `{model.is_training: True}` feeds (that read builds
another one), so the layer is always in inference mode. The same for a flag that is a call of an
undecorated project helper (`training=phase_flag()`, directly or through wrapper parameters) whose
body builds and returns a new `placeholder_with_default(False)` at every call: the trainer's own
`self.is_training = phase_flag()` that it feeds True is another placeholder, read by no layer.
""",
        why="""
A placeholder with a default takes the default whenever it is not fed. If the training loop never feeds
`True`, the layer runs in inference mode during training: the moving statistics never update (BN101's
freeze), but the code looks as if the flag were handled.
""",
        example="""
is_training = tf.placeholder_with_default(False, shape=[], name="is_training")
h = tf.layers.batch_normalization(x, training=is_training)
...
sess.run(train_op, feed_dict={x: batch_x, y: batch_y})   # is_training never fed
""",
        use_instead="""
sess.run(train_op, feed_dict={x: batch_x, y: batch_y, is_training: True})
""",
        not_flagged="""
- Any feed of the placeholder anywhere in the project, including under another variable name that
  resolves to it, by tensor name, or through a feed dict built by a comprehension when the placeholder
  is put in a list (the analysis cannot rule it out). When a feed or an attribute store of the same
  name in another script of the repository would decide it, the site's own program (the script, what
  it imports and what imports it) is asked instead: another graph's `self.is_training` cannot reach it.
- Inference-only graphs (no train op reaches the layer): the default `False` is correct there.
- `placeholder_with_default(True, ...)`.
- Properties that cache the placeholder (`if self._ph is None: self._ph = ...`,
  `functools.cached_property`, a `lazy_property` decorator), properties with a setter, and a fresh
  placeholder whose tensor name (`"is_training:0"`) is fed or looked up anywhere in its program.
  Likewise helpers that cache (a graph collection, a global or a dict, `functools.lru_cache` or any
  decorator), that hand the tensor to anything else, or that share their name with another function
  of the program; and a flag bound to a name first (`flag = phase_flag()`), which can be fed.
""",
        versions=VERSIONS,
    )

    def check(self, module: Module, project: Project) -> Iterable[Finding]:
        for site in bn_sites_in(module, project):
            if site.api == "keras":
                continue
            unfed = _unfed_placeholder_false(site, project)
            fresh = None if unfed else _fresh_property_flag(site, project, default=False)
            if not unfed and fresh is None:
                continue
            if _frozen_is_deliberate(site, project) or not is_trained(site.node, site.module, project):
                continue
            if fresh is not None:
                prop, _call, pm = fresh
                what, each = _fresh_source(prop)
                yield self.finding(module, site.node, (
                    f"batch-norm training flag `{ast.unparse(site.flag_expr)}` comes from {what} "
                    f"({_at(pm, prop.lineno, module)}) that builds a new "
                    f"`placeholder_with_default(False)` on every {each}: the placeholder this layer reads is never the "
                    f"one a feed_dict feeds (that {each} builds another), so it is always False and the moving "
                    "statistics never update; build the placeholder once (in __init__, a graph collection, or with "
                    "functools.cached_property) and return that"))
                continue
            ph = unfed[0]
            yield self.finding(module, site.node, (
                f"batch-norm training flag is `placeholder_with_default(False)` ({ph.module.where(ph.node.lineno)}) "
                "that nothing in the project feeds: it is always False, so moving statistics never update; "
                f"feed it True in the training step's feed_dict"))


def _flag_in_program(site: BNSite, project: Project):
    """(values, project) of the flag resolved within the site's own program when that is smaller
    than the project: ``self.is_training`` is the union of every store of that attribute in the
    repository, and another script's ``self.is_training = tf.Variable(...)`` (or a same-named
    placeholder of another graph) cannot reach this layer. None when there is nothing narrower."""
    if site.flag_expr is None:
        return None
    program = _program_project(site.module, project)
    if program is None:
        return None
    return V.possible_values(site.flag_expr, site.module, program), program


def _always_false_in_program(site: BNSite, project: Project) -> bool:
    """``self.is_training`` that is unknown over the repository only because another script stores
    something else in an attribute of that name, and always False within this site's program."""
    if site.flag is not V.UNKNOWN or not isinstance(site.flag_expr, ast.Attribute):
        return False
    narrowed = _flag_in_program(site, project)
    return narrowed is not None and V.always_false_values(narrowed[0])


def _object_attribute_false(site: BNSite, project: Project) -> Optional[list]:
    """The stores that make the flag False when it reads an attribute of an object of a project
    class (``training=cfg.is_training`` with ``cfg`` a ``TrainConfig`` whose class, and every store
    that can reach it, only ever holds False) while the project-wide union of same-named attributes
    (a model's ``self.is_training`` placeholder) is not always False. None otherwise."""
    from bnguard.lint.tf1_facts import object_attribute_values

    if site.flag_expr is None:
        return None
    # within the site's program: another script's ``Model(cfg)`` or ``cfg.is_training = True`` does
    # not reach the objects of this one
    found = object_attribute_values(site.flag_expr, site.module, _program_project(site.module, project) or project)
    if found is None or not V.always_false_values(found[0]):
        return None
    return [(v, vm) for v, vm in found[1] if hasattr(v, "lineno")] or None


def _unfed_placeholder_false(site: BNSite, project: Project) -> Optional[list]:
    """BN102's case: the flag's ``placeholder_with_default(False)`` values that nothing feeds, in
    the project or, failing that, in the site's own program (feeds and stores of another script
    do not reach this graph)."""
    vals = site.flag
    unfed = None
    if vals is not V.UNKNOWN and V.placeholders(vals):
        unfed = _unfed_default_false(vals, project)
    if unfed is None and (vals is V.UNKNOWN or V.placeholders(vals)):
        narrowed = _flag_in_program(site, project)
        if narrowed is not None and V.placeholders(narrowed[0]):
            unfed = _unfed_default_false(*narrowed)
    return unfed


# --- a ``@property`` that builds a new placeholder on every read ----------------------------------
# ``self.is_training`` read through a plain ``@property`` whose body returns
# ``tf.placeholder_with_default(...)`` creates a new placeholder at each read: the one the BN layer
# reads while the graph is built is never the one a later ``{model.is_training: True}`` feeds (that
# read builds yet another placeholder), so the layer always gets the default. Caching (``if self._ph
# is None: self._ph = ...``, ``functools.cached_property``, a ``lazy_property`` decorator) gives one
# placeholder and is not this case.
_STORING_CALLS = frozenset({"add_to_collection", "add_to_collections", "append", "extend", "insert", "update",
                            "setdefault", "add", "put", "__setitem__"})
_CONTEXT_CALLS = frozenset({"name_scope", "variable_scope", "device", "control_dependencies", "colocate_with"})
_BY_NAME_CALLS = frozenset({"get_tensor_by_name", "get_operation_by_name", "as_graph_element"})


def _flag_terminals(site: BNSite, project: Project, depth: int = 4, only_passed_on: bool = True,
                    calls_ok: bool = False) -> Optional[list]:
    """(expression, module) pairs the flag of ``site`` is read from, following wrapper parameters to
    every call site (``conv_bn(x, self.is_training)`` -> ``self.is_training``); None when a call
    site cannot be read or (with ``only_passed_on``) a wrapper also keeps the value somewhere
    (stores, returns or collects it), where another object could reach the same tensor. With
    ``calls_ok``, a call written where the flag is passed (``training=phase_flag()``) is a terminal too."""
    out: list = []
    work = [(site.flag_expr, site.module, depth)]
    while work:
        expr, m, d = work.pop()
        if calls_ok and isinstance(expr, ast.Call):
            out.append((expr, m))
            continue
        if not isinstance(expr, (ast.Name, ast.Attribute)):
            return None
        scope = m.scope_of(expr)
        if isinstance(expr, ast.Name) and scope is not None and not isinstance(scope, ast.Lambda) \
                and kf._param_index(scope, expr.id)[2]:
            if only_passed_on and not _only_passed_on(expr.id, scope, m):
                return None
            sites = project.call_sites(scope.name)
            if d <= 0 or not sites:
                return None
            for c in sites:
                arg, explicit = kf.argument_for(c.node, scope, expr.id, is_method_call=isinstance(c.node.func, ast.Attribute))
                if arg is None or not explicit:
                    return None
                work.append((arg, c.module, d - 1))
            continue
        out.append((expr, m))
    return out


def _only_passed_on(name: str, fn: ast.AST, m: Module) -> bool:
    """Is every read of parameter ``name`` in ``fn`` an argument of a call that consumes it (a BN
    layer, the next wrapper, ``tf.cond``), never stored, returned or collected?"""
    for node in astwalk.walk(fn):
        if isinstance(node, ast.Name) and node.id == name and isinstance(node.ctx, ast.Store):
            return False  # rebound: the value read later is not the parameter
        if not (isinstance(node, ast.Name) and node.id == name and isinstance(node.ctx, ast.Load)):
            continue
        parent = m.parent(node)
        if isinstance(parent, ast.keyword):
            parent = m.parent(parent)
        if not isinstance(parent, ast.Call) or parent.func is node:
            return False
        called = parent.func.attr if isinstance(parent.func, ast.Attribute) else dotted(parent.func) or ""
        if called in _STORING_CALLS:
            return False
    return True


def _placeholder_each_read(fn: ast.AST, m: Module, plain: bool = False) -> Optional[ast.Call]:
    """The ``placeholder_with_default(...)`` call a plain ``@property`` (with ``plain``, an undecorated
    function or method) builds and returns on every read (call), with no caching; None for any other body."""
    if not isinstance(fn, ast.FunctionDef):
        return None
    if plain:
        if fn.decorator_list:
            return None  # ``functools.lru_cache``, ``@property``, a framework's memoizing decorator
    else:
        if len(fn.decorator_list) != 1:
            return None
        dec = fn.decorator_list[0]
        if not (isinstance(dec, ast.Name) and dec.id == "property" and "property" not in m.imports.aliases):
            return None
    made = [n for n in astwalk.walk(fn) if isinstance(n, ast.Call)
            and m.imports.resolve(n.func) == "tensorflow.placeholder_with_default"]
    if len(made) != 1:
        return None
    call = made[0]
    inside_call = {id(n) for n in astwalk.walk(call)}
    context = {id(n) for st in astwalk.walk(fn) if isinstance(st, (ast.With, ast.AsyncWith))
               for item in st.items for n in astwalk.walk(item.context_expr)}
    bound = {t.id for n in astwalk.walk(fn) if isinstance(n, ast.Assign) and n.value is call
             for t in n.targets if isinstance(t, ast.Name)}
    returns = 0
    for node in astwalk.walk(fn):
        if node is fn:
            continue
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef, ast.Global,
                             ast.Nonlocal, ast.Yield, ast.YieldFrom)):
            return None
        if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if not all(isinstance(t, ast.Name) for t in targets):
                return None  # ``self._ph = ...`` / ``cache[k] = ...``: a cached placeholder
        if isinstance(node, ast.Call) and id(node) not in inside_call:
            name = node.func.attr if isinstance(node.func, ast.Attribute) else dotted(node.func) or ""
            if id(node) not in context or name not in _CONTEXT_CALLS:
                return None  # the tensor may be handed to something that keeps it
        if isinstance(node, ast.Return):
            returns += 1
            v = node.value
            if not (v is call or (isinstance(v, ast.Name) and v.id in bound)):
                return None
    for node in astwalk.walk(fn):  # a name bound to the placeholder must be bound to nothing else
        if isinstance(node, ast.Name) and node.id in bound and isinstance(node.ctx, ast.Store):
            parent = m.parent(node)
            if not (isinstance(parent, ast.Assign) and parent.value is call):
                return None
    return call if returns else None


def _property_placeholder(expr: ast.AST, m: Module, project: Project) -> Optional[tuple]:
    """(property, placeholder call, module) when ``expr`` is ``self.<attr>`` and every definition of
    ``<attr>`` in the class, its bases and subclasses is a ``@property`` that builds a new
    placeholder at each read; None otherwise (an attribute stored somewhere, another definition)."""
    from bnguard.lint.tf1_facts import _class_family, _class_index, _method_class

    if not (isinstance(expr, ast.Attribute) and isinstance(expr.value, ast.Name) and expr.value.id == "self"):
        return None
    cls = _method_class(m.scope_of(expr), m)
    if cls is None:
        return None
    idx = _class_index(project)
    # (``x.<attr> = ...`` elsewhere is another class's attribute: a property without a setter
    # cannot be assigned, and a setter is another definition, which ends the search below)
    found = None
    program = same_program(m, project)  # a same-named class of another script is another class
    for name in _class_family(cls, project):
        for k in idx.by_name.get(name, ()):
            km = idx.module_of[id(k)]
            if id(km) not in program:
                continue
            for st in k.body:
                defines = (isinstance(st, (ast.FunctionDef, ast.AsyncFunctionDef)) and st.name == expr.attr) or (
                    isinstance(st, (ast.Assign, ast.AnnAssign)) and any(
                        isinstance(t, ast.Name) and t.id == expr.attr
                        for t in (st.targets if isinstance(st, ast.Assign) else [st.target])))
                if not defines:
                    continue
                call = _placeholder_each_read(st, km)
                if call is None:
                    return None
                found = found or (st, call, km)
    return found


def _helper_placeholder(call: ast.Call, m: Module, project: Project) -> Optional[tuple]:
    """(function, placeholder call, module) when ``call`` runs the one project function of its name
    (``phase_flag()`` defined in or imported into ``m``; ``self.make_flag()`` the one method of that
    name in the program) whose undecorated body builds and returns a new ``placeholder_with_default``
    at every call, caching nothing: the tensor this call returns is handed to no one else."""
    from bnguard.lint.tf1_facts import _class_family, _method_class

    func = call.func
    if isinstance(func, ast.Name):
        candidates = [f for f in project.functions(func.id) if f.cls is None]
        own = [f for f in candidates if f.module is m]
        candidates = own or [f for f in candidates if project.imports_name_from(m, func.id, f.module)]
    elif isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id == "self":
        cls = _method_class(m.scope_of(call), m)
        if cls is None:
            return None
        program = same_program(m, project)
        family = _class_family(cls, project)
        candidates = [f for f in project.functions(func.attr) if f.cls is not None and id(f.module) in program]
        if any(f.cls.name not in family for f in candidates):
            return None  # a same-named method of another class of the program: cannot tell
    else:
        return None
    if len(candidates) != 1:
        return None
    info = candidates[0]
    made = _placeholder_each_read(info.node, info.module, plain=True)
    return (info.node, made, info.module) if made is not None else None


def _fresh_source(fn: ast.FunctionDef) -> tuple[str, str]:
    """(how to name the function a fresh placeholder comes from, what creates one: a read or a call)."""
    if fn.decorator_list:
        return f"the @property `{fn.name}`", "read"
    return f"the helper `{fn.name}()`", "call"


def _placeholder_name(call: ast.Call) -> tuple[Optional[ast.AST], Optional[str]]:
    """(the ``name`` argument, the op name) of a ``placeholder_with_default(value, shape, name)``
    call: TF's default op name when none is given, None for a name that is not a constant string."""
    kw = next((k.value for k in call.keywords if k.arg == "name"), None)
    if kw is None and len(call.args) > 2:
        kw = call.args[2]
    if kw is None:
        return None, "PlaceholderWithDefault"
    return kw, kw.value if isinstance(kw, ast.Constant) and isinstance(kw.value, str) else None


def _tensor_name_used(call: ast.Call, m: Module, project: Project) -> bool:
    """Is the placeholder's tensor reached by name anywhere in its program (``{"is_training:0": True}``,
    ``get_tensor_by_name``)? That name always denotes the first placeholder built, which may be
    the one the layer reads. True when the name cannot be read."""
    import re

    kw, name = _placeholder_name(call)
    if name is None:
        return True
    tensor = re.compile(rf"(^|/){re.escape(name)}(_\d+)?:\d+$")
    op = re.compile(rf"(^|/){re.escape(name)}(_\d+)?$")
    for om, node in _program_strings(same_program(m, project), project, kw):
        if tensor.search(node.value):
            return True
        if op.search(node.value):
            parent = om.parent(node)
            if isinstance(parent, ast.Call) and isinstance(parent.func, ast.Attribute) \
                    and parent.func.attr in _BY_NAME_CALLS:
                return True
    return False


def _program_strings(program: set, project: Project, skip: Optional[ast.AST]) -> Iterator[tuple[Module, ast.Constant]]:
    """(module, string constant) for every string literal of the modules whose ids are in
    ``program``, except ``skip`` (the name argument of the op being looked for)."""
    for om in project.modules:
        if id(om) not in program:
            continue
        for node in astwalk.walk(om.tree):
            if node is not skip and isinstance(node, ast.Constant) and isinstance(node.value, str):
                yield om, node


def _fresh_property_flag(site: BNSite, project: Project, default: bool) -> Optional[tuple]:
    """(property, placeholder call, module) when every source of the flag of ``site`` is a
    ``self.<attr>`` property that builds a new ``placeholder_with_default(<default>)`` at each read
    and nothing reaches that placeholder by tensor name: the layer always gets the default."""
    if site.flag_expr is None:
        return None
    terminals = _flag_terminals(site, project, calls_ok=True)
    if not terminals:
        return None
    found = None
    for expr, m in terminals:
        got = _helper_placeholder(expr, m, project) if isinstance(expr, ast.Call) else \
            _property_placeholder(expr, m, project)
        if got is None:
            return None
        _prop, call, pm = got
        value = call.args[0] if call.args else next((k.value for k in call.keywords if k.arg == "input"), None)
        vals = V.possible_values(value, pm, project) if value is not None else V.UNKNOWN
        if not (V.always_true_values(vals) if default else V.always_false_values(vals)):
            return None
        if _tensor_name_used(call, pm, project):
            return None
        found = found or got
    return found


def _unfed_default_true(site: BNSite, project: Project) -> Optional[V.Placeholder]:
    """The flag is a ``placeholder_with_default(True)`` (the "no feed needed while training" idiom)
    that nothing in the project feeds at all — not even False for evaluation — so it is always True.
    None otherwise (any feed, an opaque feed dict that may hold it, another possible value)."""
    def single(vals) -> Optional[V.Placeholder]:
        if vals is V.UNKNOWN or len(vals) != 1:
            return None
        ph = next(iter(vals))
        if not isinstance(ph, V.Placeholder) or not ph.has_default or not V.always_true_values(ph.default):
            return None
        return ph

    ph, scope = single(site.flag), project
    if ph is None and (site.flag is V.UNKNOWN or V.placeholders(site.flag)):
        narrowed = _flag_in_program(site, project)
        if narrowed is not None:
            ph, scope = single(narrowed[0]), narrowed[1]
    if ph is None:
        return None
    values, entries = fed_values(ph, scope)
    if values is V.UNKNOWN or entries:
        return None
    return ph


def _flag_placeholders(site: BNSite, project: Project) -> Optional[tuple]:
    """(placeholders, scope) when the flag's values are placeholders only: read in the whole project,
    or narrowed to the flag's own program when that is ambiguous (several placeholders, or unknown
    project-wide). None when some value is not a placeholder or cannot be read."""
    vals, scope = site.flag, project
    if vals is V.UNKNOWN or not V.placeholders(vals) or len(vals) > 1:
        narrowed = _flag_in_program(site, project)
        if narrowed is not None and narrowed[0] is not V.UNKNOWN:
            vals, scope = narrowed
    if vals is V.UNKNOWN or not vals or any(not isinstance(v, V.Placeholder) for v in vals):
        return None
    return vals, scope


def _fed_only_false(site: BNSite, project: Project) -> Optional[list]:
    """The feeds of a flag that is a placeholder (or several) which every feed in the project sets to
    False: ``make_feed(model, batch)`` whose ``training=False`` default the training loop never
    overrides, or a literal ``{model.training: False}`` in the train op's run. None when some feed
    can be True or cannot be resolved, when nothing feeds it (a plain placeholder then fails at run
    time; ``placeholder_with_default(False)`` is BN102's case) or when a default can be True."""
    if _unfed_placeholder_false(site, project) is not None:
        return None  # BN102 reports it
    placeholders = _flag_placeholders(site, project)
    if placeholders is None:
        return None
    vals, scope = placeholders
    feeds = []
    for ph in vals:
        if ph.has_default and not V.always_false_values(ph.default):
            return None
        values, entries = fed_values(ph, scope)
        if not entries or not V.always_false_values(values):
            return None
        feeds.extend(e for e in entries if e.value is not None)
    return feeds or None


def _fed_only_true(site: BNSite, project: Project) -> Optional[tuple]:
    """(placeholder, evaluation run, its module) when the flag is a placeholder (or several) that
    every feed of its program sets to True — ``make_feed(batch, True)`` copied into the validation
    loop — and a run of evaluation data feeds it True too, so evaluation normalizes with batch
    statistics (and runs the update ops wherever they are attached to what it fetches). None when
    any feed can be False or cannot be read, when a default can be False, or when no evaluation
    run feeds the flag."""
    placeholders = _flag_placeholders(site, project)
    if placeholders is None:
        return None
    vals, scope = placeholders
    for ph in vals:
        if ph.has_default and not V.always_true_values(ph.default):
            return None
        values, entries = fed_values(ph, scope)
        if not entries or not V.always_true_values(values):
            return None
    program = same_program(site.module, project)
    for em in project.modules:
        if id(em) not in program or not (em is site.module or _reaches(site, em, project)):
            continue
        for run in _evaluation_data_runs(em):
            if all(V.always_true_values(flag_at_run(ph, run, em, project)) for ph in vals):
                return next(iter(vals)), run, em
    return None


def _evaluation_data_runs(module: Module) -> list[ast.Call]:
    """``sess.run(...)`` calls that fetch no train op and run evaluation data: the feed, the fetch or
    the result is named for validation/test data (``make_feed(b, True) for b in val_batches``), or
    the run is in a function named for evaluation."""
    out = []
    for c in module.calls:
        fetch, feed = _run_fetch_and_feed(c.node)
        if fetch is None or feed is None or is_unit_test(module, c.scope):
            continue
        fetch_src = ast.unparse(fetch).lower()
        if any(w in fetch_src for w in ("train", "optim", "minimize", "update", "init", "step", "assign", "summar",
                                        "save", "restore")):
            continue
        names = [ast.unparse(feed), ast.unparse(fetch)]
        parent = module.parent(c.node)
        if isinstance(parent, ast.Assign):  # ``val_loss = sess.run(...)``
            names += [ast.unparse(t) for t in parent.targets]
        fed_names = {n.id for n in astwalk.walk(feed) if isinstance(n, ast.Name)}
        for anc in module.ancestors(c.node):
            if isinstance(anc, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                break
            loops = [anc] if isinstance(anc, (ast.For, ast.AsyncFor)) else list(getattr(anc, "generators", []))
            for loop in loops:  # the batches fed come from ``for b in val_batches``
                if {n.id for n in astwalk.walk(loop.target) if isinstance(n, ast.Name)} & fed_names:
                    names.append(ast.unparse(loop.iter))
        words = {w for n in names for w in identifier_words(n)}
        if words & _EVAL_DATA_WORDS or _in_evaluation_function(c):
            out.append(c.node)
    return out


def _unfed_default_false(vals, project: Project) -> Optional[list]:
    """The ``placeholder_with_default(False)`` values of a flag that nothing in ``project`` feeds;
    None when any value can be True (a fed placeholder, a True constant, a run-time value)."""
    if vals is V.UNKNOWN:
        return None
    unfed = []
    for v in vals:
        if isinstance(v, V.Placeholder):
            if not v.has_default or not V.always_false_values(v.default) or V.is_fed(v, project):
                return None
            unfed.append(v)
        elif v is V.RUNTIME or bool(v):
            return None
    return unfed or None


def _flag_reset_in(loop: ast.AST, feed: str, key: str, store: ast.Assign) -> bool:
    """Does anything in ``loop`` besides ``store`` write ``feed[key]``, rebind ``feed`` or call
    ``feed.update``/``setdefault`` with that key (or with keys we cannot read)?"""
    for n in astwalk.walk(loop):
        if n is store:
            continue
        if isinstance(n, ast.Assign):
            for t in n.targets:
                if isinstance(t, ast.Name) and t.id == feed:
                    return True
                if isinstance(t, ast.Subscript) and isinstance(t.value, ast.Name) and t.value.id == feed \
                        and _last_name_of_target(t.slice) in (key, None):
                    return True
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and isinstance(n.func.value, ast.Name) \
                and n.func.value.id == feed and n.func.attr in ("update", "setdefault", "__setitem__"):
            if any(not isinstance(a, ast.Dict) for a in n.args):
                return True  # a dict we cannot read may hold the key
            keys = [_last_name_of_target(k) if k is not None else None for a in n.args for k in a.keys]
            keys += [kw.arg for kw in n.keywords]
            if any(k is None or k == key for k in keys):
                return True
    return False


def _feed_dict_name(run: ast.Call) -> Optional[str]:
    feed = _kw_or_pos(run, "feed_dict", 1)
    return feed.id if isinstance(feed, ast.Name) else None


def _train_runs(module: Module, project: Project) -> list[ast.Call]:
    """``sess.run(...)`` calls of ``module`` that fetch a train op (a name bound to a
    ``minimize``/``apply_gradients``/``create_train_op`` result anywhere in the project)."""
    def compute(p: Project) -> list:
        names = set()
        for op in train_context(p).train_ops:
            assign = op.module.parent(op.node)
            if isinstance(assign, ast.Assign) and len(assign.targets) == 1:
                name = _last_name_of_target(assign.targets[0])
                if name:
                    names.add(name)
        return [c.node for c in module.calls if c.name == "run" and isinstance(c.node.func, ast.Attribute)
                and _fetched_names(c.node) & names]
    return project.fact(f"tf1.train_runs:{id(module)}", compute)


def _program_project(module: Module, project: Project) -> Optional[Project]:
    """The modules of ``module``'s program as a project of their own (None when that is the whole
    project), so that values and feeds are resolved within one program."""
    ids = same_program(module, project)
    if len(ids) >= len(project.modules):
        return None
    key = "tf1.program_project:" + ",".join(str(i) for i in sorted(ids))
    return project.fact(key, lambda p: Project([m for m in p.modules if id(m) in ids]))


def _update_sites(project: Project) -> list[BNSite]:
    """BN sites that put update ops in UPDATE_OPS and whose flag can be true (and can be false, so
    the moving statistics are read at some point)."""
    return project.fact("tf1.update_sites", _compute_update_sites)


def _compute_update_sites(project: Project) -> list[BNSite]:
    out = []
    for s in bn_sites(project):
        if s.updates is V.UNKNOWN or s.updates != frozenset([UPDATE_OPS]):
            continue  # updates_collections=None (in-place updates) or a custom collection
        if s.updates_read:
            continue  # ``control_dependencies(layer.updates)``: the layer's update ops wired by hand
        if V.always_false_values(s.flag):
            continue  # no update ops are created (BN101's case)
        if V.always_true_values(s.flag) and (s.flag_expr is None or deliberate_in_program(s.module, project)
                                             or _literal_true_never_exported(s, project)):
            # Batch statistics everywhere, by the API default or in a GAN/meta-learning project
            # (MAML's transductive BN): the moving statistics are never read. A ``training=True``
            # that comes through a wrapper or mode parameter still builds statistics that a
            # checkpoint/serving graph will read.
            continue
        if s.flag is not V.UNKNOWN and all(isinstance(v, V.Placeholder) and v.has_default for v in s.flag) \
                and not any(V.is_fed(v, project) for v in s.flag):
            continue  # BN102's case
        if s.flag is V.UNKNOWN and _default_false_never_overridden(s, project):
            continue  # the only evidence says "not training": no update ops would exist
        if not is_trained(s.node, s.module, project):
            continue
        out.append(s)
    return out


# Code that hands a graph to a serving/inference consumer outside the project, which would read
# the moving statistics.
_EXPORT_CALLS = frozenset({"export_savedmodel", "export_saved_model", "simple_save", "freeze_graph", "write_graph",
                           "convert_variables_to_constants", "SavedModelBuilder", "from_session", "from_saved_model",
                           "from_frozen_graph", "convert_tf_saved_model", "from_graph_def"})


def _literal_true_never_exported(site: BNSite, project: Project) -> bool:
    """``batch_norm(x, is_training=True)`` written at the layer itself (no flag parameter, no mode):
    the program only ever normalizes with batch statistics, by design (openai/coinrun's PPO policy,
    used the same way to act), so its moving statistics are read by nothing, unless the program
    reads them by name or exports the graph for serving."""
    if not (isinstance(site.flag_expr, ast.Constant) and site.flag_expr.value is True):
        return False
    program = same_program(site.module, project)
    modules = [m for m in project.modules if id(m) in program]
    if any(m.mentions(w) for m in modules for w in ("moving_mean", "moving_variance", "moving_average_variables")):
        return False  # the program reads the statistics themselves
    return not any(c.name in _EXPORT_CALLS or ".saved_model." in (c.qualname or "") for m in modules for c in m.calls)


_FRAMEWORK_ROOTS = ("tensorflow", "tf_slim", "keras", "tf_keras", "sonnet", "tflearn", "tensorlayer")


def _default_false_never_overridden(site: BNSite, project: Project) -> bool:
    """The flag is a parameter of the BN-building function with a False default (``def bn(self, x,
    is_training=False)``), the value resolver could not follow its callers (a decorator such as the
    ``@layer`` of caffe-tensorflow style networks, or an escaping reference), and no call of that
    function found by name — ``net.bn(...)``, ``self.bn._original(self, ...)``,
    ``bn.__wrapped__(...)`` — passes it anything but False, by keyword or by a position that could
    reach it. Then the only evidence says the layer is built with is_training=False, which creates
    no update ops, so "update ops never run" would be a guess: BN103 stays silent (and BN101, which
    needs a definite False, too). A single call passing a non-False value, ``*args``/``**kwargs``
    or enough positional arguments keeps the site unknown, i.e. reported as before."""
    expr, m = site.flag_expr, site.module
    func = m.scope_of(site.node)
    if not isinstance(expr, ast.Name) or not isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return False
    spec = V._param_spec(func, expr.id)
    if spec is None or spec[1] is None or not V.always_false(spec[1], m, project):
        return False
    if any(isinstance(n, ast.Name) and n.id == expr.id and not isinstance(n.ctx, ast.Load) for n in astwalk.walk(func)):
        return False  # re-bound in the body
    position = spec[0]
    injected = 1 if func.decorator_list else 0  # a wrapper may insert an argument (the layer input)
    is_method = any(func in cls.body for cls in m.classes)
    calls: list[tuple[ast.Call, Module, int]] = []
    for c in project.call_sites(func.name):
        if c.qualname and c.qualname.split(".")[0] in _FRAMEWORK_ROOTS:
            continue  # ``tf.layers.batch_normalization(...)``: not this function
        offset = 1 if is_method and isinstance(c.node.func, ast.Attribute) else 0
        calls.append((c.node, c.module, offset + injected))
    for other in project.modules:
        for ref in other.references.get(func.name, ()):
            attr, call = other.parent(ref), None
            if isinstance(attr, ast.Attribute) and attr.attr in ("_original", "__wrapped__", "original", "func"):
                call = other.parent(attr)
            if isinstance(call, ast.Call) and call.func is attr:
                calls.append((call, other, 0))  # the undecorated function, ``self`` passed explicitly
    for call, cm, shift in calls:
        if any(kw.arg is None for kw in call.keywords) or any(isinstance(a, ast.Starred) for a in call.args):
            return False
        passed = next((kw.value for kw in call.keywords if kw.arg == expr.id), None)
        if passed is not None:
            if not V.always_false(passed, cm, project):
                return False
        elif position is not None and len(call.args) + shift > position:
            return False
    return True


def _train_op_is_wired(call: ast.Call, module: Module, project: Project) -> bool:
    """Is the train op built under ``control_dependencies`` on something that may be the update ops?
    (``control_dependencies(get_collection(TRAINABLE_VARIABLES))`` is not.)"""
    for anc in module.ancestors(call):
        if isinstance(anc, (ast.With, ast.AsyncWith)):
            for item in anc.items:
                c = item.context_expr
                if isinstance(c, ast.Call) and (module.imports.resolve(c.func) or "").endswith("control_dependencies"):
                    if not c.args or not (_other_collection(c.args[0], module, project)
                                          or _no_dependencies(c.args[0], module, project)):
                        return True
    return False


def _empty_dependency_block(call: ast.Call, module: Module, project: Project) -> Optional[ast.Call]:
    """The ``control_dependencies(<always empty>)`` call of a ``with`` around ``call``, if any."""
    for anc in module.ancestors(call):
        if isinstance(anc, (ast.With, ast.AsyncWith)):
            for item in anc.items:
                c = item.context_expr
                if (isinstance(c, ast.Call) and c.args and (module.imports.resolve(c.func) or "").endswith("control_dependencies")
                        and _no_dependencies(c.args[0], module, project)):
                    return c
    return None


def _no_dependencies(expr: ast.AST, module: Module, project: Project, depth: int = 0, seen: Optional[set] = None) -> bool:
    """Is the argument of ``control_dependencies`` always empty, so the block waits for no op: ``[]``,
    ``None``, ``list(x)`` / ``x or []`` of such values, or a name every binding of which is one (a
    hand-written ``create_train_op(..., update_ops=None)`` that turns the None every caller leaves into
    ``[]``)? A list that anything may fill (``deps.append``, passed to a call) or an unknown value is not."""
    seen = set() if seen is None else seen
    if depth > 8:
        return False
    if isinstance(expr, (ast.List, ast.Tuple)):
        return not expr.elts
    if isinstance(expr, ast.Constant):
        return expr.value is None
    if isinstance(expr, ast.BoolOp) and isinstance(expr.op, ast.Or):  # ``update_ops or []``
        return all(_no_dependencies(v, module, project, depth + 1, seen) for v in expr.values)
    if isinstance(expr, ast.IfExp):  # ``deps if deps is not None else []``
        return all(_no_dependencies(v, module, project, depth + 1, seen) for v in (expr.body, expr.orelse))
    if isinstance(expr, ast.Call):  # ``list(update_ops or [])``
        if not (isinstance(expr.func, ast.Name) and expr.func.id in ("list", "tuple") and not expr.keywords
                and "list" not in module.imports.aliases and "tuple" not in module.imports.aliases):
            return False
        return not expr.args or (len(expr.args) == 1 and _no_dependencies(expr.args[0], module, project, depth + 1, seen))
    if not isinstance(expr, ast.Name):
        return False
    found = V.resolver(project).binding_of(expr.id, module, module.scope_of(expr))
    if found is None:
        return False
    bindings, owner = found
    if _sequence_may_grow(expr.id, owner if owner is not None else module.tree):
        return False
    for b in bindings:
        if b.kind == "expr":
            if id(b.expr) in seen:
                continue  # ``update_ops = list(update_ops or [])``: the cycle adds no value
            seen.add(id(b.expr))
            if not _no_dependencies(b.expr, module, project, depth + 1, seen):
                return False
        elif b.kind != "param" or V.param_values(b.func, expr.id, module, project) != frozenset([None]):
            return False  # a parameter counts only when every call in the project leaves it None
    return True


def _sequence_may_grow(name: str, owner: ast.AST) -> bool:
    """May the list bound to ``name`` in ``owner`` be filled after it is bound: a method or item of it
    used (``deps.append(op)``, ``deps[0]``), or the name handed to a call (``collect(deps)``)?"""
    parents = {id(c): p for p in astwalk.walk(owner) for c in ast.iter_child_nodes(p)}
    for n in astwalk.walk(owner):
        if not (isinstance(n, ast.Name) and n.id == name and isinstance(n.ctx, ast.Load)):
            continue
        parent = parents.get(id(n))
        if isinstance(parent, (ast.Attribute, ast.Subscript, ast.Starred)):
            return True
        if isinstance(parent, ast.Call) and n is not parent.func:
            callee = dotted(parent.func) or ""
            if not callee.endswith(("control_dependencies", "list", "tuple", "len")):
                return True
    return False


def _other_collection(expr: ast.AST, module: Module, project: Project) -> bool:
    """``get_collection(<a key that is not UPDATE_OPS>)``, directly or through a name bound once."""
    if isinstance(expr, ast.Name):
        res = V.resolver(project)
        owner = module.scope_of(expr)
        sb = res.scope(owner if owner is not None else module.tree)
        bindings = sb.names.get(expr.id, [])
        if len(bindings) != 1 or bindings[0].kind != "expr":
            return False
        expr = bindings[0].expr
    if not (isinstance(expr, ast.Call) and isinstance(expr.func, (ast.Attribute, ast.Name))):
        return False
    name = expr.func.attr if isinstance(expr.func, ast.Attribute) else expr.func.id
    if name not in ("get_collection", "get_collection_ref") or not expr.args:
        return False
    key = expr.args[0]
    return not is_update_ops_ref(key, module) and (isinstance(key, ast.Constant) or (dotted(key) or "").split(".")[-1].isupper())


def _bound_to_call(owner: ast.AST, name: str, callee: str, module: Module) -> bool:
    """Is ``name`` bound in ``owner`` (its own body) only to calls of ``...callee(...)``?"""
    values = [n.value for n in astwalk.walk(owner) if isinstance(n, ast.Assign) and any(
        isinstance(t, ast.Name) and t.id == name for t in n.targets)]
    return bool(values) and all(isinstance(v, ast.Call) and (dotted(v.func) or "").endswith(callee) for v in values)


def _applies_to_moments(call: ast.Call, owner: ast.AST, module: Module) -> bool:
    """Does ``ema.apply([...])`` average names bound to the results of ``tf.nn.moments`` in ``owner``
    (the batch mean/variance of a hand-written BN)?"""
    names = {n.id for a in call.args for n in astwalk.walk(a) if isinstance(n, ast.Name)}
    for n in astwalk.walk(owner):
        if isinstance(n, ast.Assign) and isinstance(n.value, ast.Call) and (dotted(n.value.func) or "").endswith("moments"):
            if any(isinstance(t, ast.Name) and t.id in names for tgt in n.targets for t in astwalk.walk(tgt)):
                return True
    return False


def _program_trains(module: Module, project: Project) -> bool:
    """Does a train op run in the program of ``module`` (see ``same_program``)?"""
    program = same_program(module, project)
    return any(id(op.module) in program for op in train_context(project).train_ops)


_EMA_READS = frozenset({"apply", "average", "average_name", "variables_to_restore"})


def _ema_name_uses(name: str, owner: ast.AST) -> Optional[set]:
    """Methods called on the local EMA ``name`` in ``owner``; None when it is used any other way
    (returned, passed on, stored), which we cannot follow."""
    parents = {id(ch): p for p in astwalk.walk(owner) for ch in ast.iter_child_nodes(p)}
    out = set()
    for n in astwalk.walk(owner):
        if isinstance(n, ast.Name) and n.id == name and isinstance(n.ctx, ast.Load):
            parent = parents.get(id(n))
            if not (isinstance(parent, ast.Attribute) and parent.attr in _EMA_READS):
                return None
            out.add(parent.attr)
    return out


def _ema_attribute_uses(attr: str, project: Project) -> Optional[set]:
    """Methods called on ``<obj>.attr`` anywhere in the project (the BN object's EMA may be applied
    by its owner's caller: ``bn.ema.apply(...)``); None when it is used any other way."""
    out: set = set()
    for mod in project.modules:
        for n in mod.references.get(attr, ()):
            parent = mod.parent(n)
            if not isinstance(n, ast.Attribute):
                continue
            if not (isinstance(parent, ast.Attribute) and parent.attr in _EMA_READS):
                return None
            out.add(parent.attr)
    return out


def _normalizes_with_moments(owner: ast.AST) -> bool:
    """Does ``owner`` compute batch moments (``tf.nn.moments``) and normalize with them?"""
    names = {(dotted(n.func) or "").rsplit(".", 1)[-1] for n in astwalk.walk(owner) if isinstance(n, ast.Call)}
    return "moments" in names and bool(names & {"batch_normalization", "batch_norm_with_global_normalization",
                                                 "fused_batch_norm"})


def _result_discarded(call: ast.Call, module: Module, project: Project, depth: int = 0) -> bool:
    """Is the op built by ``call`` never used: an expression statement, a name nothing reads, or a
    name only returned (inside tuples) where every caller unpacks that element into ``_`` or a
    name it never reads? Unknown uses count as used."""
    parent = module.parent(call)
    if isinstance(parent, ast.Expr):
        return True
    if not (isinstance(parent, ast.Assign) and len(parent.targets) == 1 and isinstance(parent.targets[0], ast.Name)):
        return False
    name, scope = parent.targets[0].id, module.scope_of(call)
    reads = [r for r in module.references.get(name, ()) if isinstance(r, ast.Name)
             and (scope is None  # a module-level op: any function of the module may read the global
                  or module.scope_of(r) is scope or scope in enclosing_functions(r, module))]
    for r in reads:
        path = _return_path(r, module)
        if path is None or depth > 2 or not isinstance(scope, (ast.FunctionDef, ast.AsyncFunctionDef)):
            return False
        program = same_program(module, project)
        sites = [c for c in project.call_sites(scope.name) if id(c.module) in program
                 and (c.qualname or "").split(".")[0] not in _FRAMEWORK_ROOTS]  # not ``tf.contrib.layers.batch_norm``
        if not sites:
            return False
        for site in sites:
            if not _unpacked_unused(site.node, site.module, path):
                return False
    return True


def _return_path(ref: ast.AST, module: Module) -> Optional[tuple]:
    """Positions of ``ref`` inside the tuples of the ``return`` it is in (``return a, (b, ref)`` ->
    (1, 1)); None when it is read anywhere else."""
    path: list[int] = []
    child, parent = ref, module.parent(ref)
    while isinstance(parent, ast.Tuple):
        path.insert(0, parent.elts.index(child))
        child, parent = parent, module.parent(parent)
    return tuple(path) if isinstance(parent, ast.Return) else None


def _unpacked_unused(call: ast.Call, module: Module, path: tuple) -> bool:
    """Does the caller unpack the element at ``path`` of the call's result into ``_`` or a name
    it never reads?"""
    parent = module.parent(call)
    if isinstance(parent, ast.Expr):
        return True
    if not (isinstance(parent, ast.Assign) and len(parent.targets) == 1):
        return False
    target = parent.targets[0]
    for i in path:
        if not isinstance(target, (ast.Tuple, ast.List)) or i >= len(target.elts) \
                or any(isinstance(e, ast.Starred) for e in target.elts):
            return False
        target = target.elts[i]
    if not isinstance(target, ast.Name):
        return False
    scope = module.scope_of(call)
    return target.id == "_" or not any(isinstance(r, ast.Name) and module.scope_of(r) is scope
                                       for r in module.references.get(target.id, ()))


def _control_dependencies_block(node: ast.AST, module: Module) -> Optional[ast.With]:
    """The ``with`` statement whose item is ``control_dependencies(node)``, if ``node`` is its argument."""
    call = module.parent(node)
    if not (isinstance(call, ast.Call) and call.args and call.args[0] is node
            and (module.imports.resolve(call.func) or dotted(call.func) or "").endswith("control_dependencies")):
        return None
    item = module.parent(call)
    block = module.parent(item) if isinstance(item, ast.withitem) else None
    return block if isinstance(block, ast.With) else None


def _fetched_names(run: ast.Call) -> set[str]:
    """The names (last attribute names) in the fetches of ``sess.run(fetches, ...)``."""
    fetch = run.args[0] if run.args else next((kw.value for kw in run.keywords if kw.arg == "fetches"), None)
    if fetch is None:
        return set()
    return {n.id if isinstance(n, ast.Name) else n.attr
            for n in astwalk.walk(fetch) if isinstance(n, (ast.Name, ast.Attribute))}


def _only_returned_or_fetched(ref: ast.AST, module: Module) -> bool:
    """Is this read of a name a ``return`` of it or a fetch of ``sess.run`` (inside a tuple, list or
    dict display), i.e. not an input of another op?"""
    child, parent = ref, module.parent(ref)
    while isinstance(parent, (ast.Tuple, ast.List, ast.Dict, ast.Starred)):
        if isinstance(parent, ast.Dict) and any(k is child for k in parent.keys):
            return False
        child, parent = parent, module.parent(parent)
    if isinstance(parent, ast.Return):
        return True
    return (isinstance(parent, ast.Call) and isinstance(parent.func, ast.Attribute) and parent.func.attr == "run"
            and bool(parent.args) and parent.args[0] is child)


def _dependency_blocks(consumer) -> Optional[list[ast.With]]:
    """The ``with control_dependencies(...)`` blocks that a ``get_collection(UPDATE_OPS)`` (or the
    name it is bound to) governs, or None when it is also used any other way."""
    m = consumer.module
    parent = m.parent(consumer.node)
    if _control_dependencies_block(consumer.node, m) is not None:
        uses = [consumer.node]
    elif isinstance(parent, ast.Assign) and len(parent.targets) == 1 and isinstance(parent.targets[0], ast.Name):
        scope = m.scope_of(consumer.node)
        uses = [r for r in m.references.get(parent.targets[0].id, ())
                if isinstance(r, ast.Name) and m.scope_of(r) is scope]
    else:
        return None
    blocks = [_control_dependencies_block(u, m) for u in uses]
    if not blocks or any(b is None for b in blocks):
        return None  # also used as something else than the dependencies of a block
    return blocks  # type: ignore[return-value]


def _wired_op_overwritten(consumer, project: Project) -> Optional[str]:
    """Why the update ops never run when every block they govern only binds names
    (``train_op = opt.minimize(loss)``) that the same function binds again, to an unwired train op,
    right after the block and before anything reads them: the wired op is dropped, and the loop runs
    the second one. None when unclear (a read in between, a branch, other statements)."""
    blocks = _dependency_blocks(consumer)
    if not blocks:
        return None
    m = consumer.module
    ctx = train_context(project)
    train_calls = {id(op.node) for op in ctx.train_ops if op.module is m}
    why = None
    for block in blocks:
        siblings = next((getattr(m.parent(block), f) for f in ("body", "orelse", "finalbody")
                         if block in getattr(m.parent(block), f, [])), None)
        if siblings is None or not block.body:
            return None
        names = []
        for st in block.body:
            if not (isinstance(st, ast.Assign) and len(st.targets) == 1 and isinstance(st.targets[0], ast.Name)):
                return None
            names.append(st.targets[0].id)
        for name in names:
            rebinding = None
            for later in siblings[siblings.index(block) + 1:]:
                reads = any(isinstance(n, ast.Name) and n.id == name and isinstance(n.ctx, ast.Load)
                            for n in astwalk.walk(later))
                if isinstance(later, ast.Assign) and len(later.targets) == 1 and isinstance(later.targets[0], ast.Name) \
                        and later.targets[0].id == name and not reads:
                    rebinding = later
                    break
                if reads or any(isinstance(n, ast.Name) and n.id == name for n in astwalk.walk(later)) \
                        or isinstance(later, (ast.Return, ast.If, ast.For, ast.While, ast.With, ast.Try)):
                    return None  # read, rebound another way, or control flow before a rebinding
            if rebinding is None or id(rebinding.value) not in train_calls \
                    or _train_op_is_wired(rebinding.value, m, project):
                return None
            why = (f"the train op `{name}` built under `control_dependencies(update_ops)` at "
                   f"{m.where(block.lineno)} is replaced by an unwired one at {m.where(rebinding.lineno)} before "
                   "anything runs it")
    return why


_GROUP_CALLS = ("tensorflow.group", "tensorflow.tuple", "tensorflow.compat.v1.group", "tensorflow.compat.v1.tuple")


def _grouped_op_never_run(consumer, program: set, project: Project) -> Optional[str]:
    """Why the update ops never run when their only use is ``train_op = tf.group(minimize_op,
    *update_ops)`` and nothing in the program ever reads ``train_op`` (no fetch, return, argument
    or attribute), while a ``sess.run`` fetches ``minimize_op`` itself: the group that would run
    them is built and dropped. None whenever any of this is unclear."""
    m = consumer.module
    parent = m.parent(consumer.node)
    if not (isinstance(parent, ast.Assign) and len(parent.targets) == 1 and isinstance(parent.targets[0], ast.Name)):
        return None
    scope = m.scope_of(consumer.node)
    uses = [r for r in m.references.get(parent.targets[0].id, ()) if isinstance(r, ast.Name)
            and isinstance(r.ctx, ast.Load) and m.scope_of(r) is scope]
    if not uses:
        return None
    groups = []
    for use in uses:
        call = m.parent(use)
        if isinstance(call, ast.Starred):
            call = m.parent(call)
        if not (isinstance(call, ast.Call) and m.imports.resolve(call.func) in _GROUP_CALLS):
            return None
        bound = m.parent(call)
        if not (isinstance(bound, ast.Assign) and len(bound.targets) == 1 and isinstance(bound.targets[0], ast.Name)):
            return None
        groups.append((call, bound.targets[0].id))
    for call, name in groups:
        for other in project.modules:
            if id(other) in program and any(isinstance(r, ast.Name) and isinstance(r.ctx, ast.Load)
                                            or isinstance(r, ast.Attribute) for r in other.references.get(name, ())):
                return None  # the group is read somewhere: fetched, returned or handed on
        grouped = {a.id for a in call.args if isinstance(a, ast.Name)}
        runs = [c for other in project.modules if id(other) in program for c in other.calls
                if c.name == "run" and isinstance(c.node.func, ast.Attribute) and _fetched_names(c.node) & grouped]
        if not runs:
            return None
        run = runs[0]
        fetched = sorted(_fetched_names(run.node) & grouped)
        return (f"they are grouped into `{name}` at {m.where(call.lineno)}, which nothing runs: `sess.run` at "
                f"{run.module.where(run.node.lineno)} fetches `{fetched[0]}` itself")
    return None


def _update_ops_tied_to_side_op(consumer, program: set, project: Project) -> Optional[str]:
    """Why the update ops do not run at every step, when the used ``get_collection(UPDATE_OPS)`` only ever serves as the
    control dependencies of ops that are not the train op (``with control_dependencies(update_ops):
    summary_op = tf.summary.merge_all()``): none of those ops is an input of the train op, their
    results are only returned or fetched, and ``run`` fetches a train op without any of them. The
    update ops then run only when those ops are fetched (every N steps for a summary), not at every
    training step. None whenever any of this is unclear (the result used another way, a project
    function or a train op built under the block, an op of the block fed to another op)."""
    blocks = _dependency_blocks(consumer)
    if not blocks:
        return None
    ctx = train_context(project)
    train_ops = [op for op in ctx.train_ops if id(op.module) in program]
    train_names = set()
    for op in train_ops:
        assign = op.module.parent(op.node)
        if isinstance(assign, ast.Assign) and len(assign.targets) == 1:
            name = _last_name_of_target(assign.targets[0])
            if name:
                train_names.add(name)
    if not train_names:
        return None
    outputs: set[str] = set()
    for block in blocks:
        for st in block.body:
            if isinstance(st, ast.Expr) and isinstance(st.value, ast.Constant):
                continue
            if not (isinstance(st, ast.Assign) and all(_last_name_of_target(t) for t in st.targets)):
                return None
            outputs.update(_last_name_of_target(t) for t in st.targets)
        for node in astwalk.walk(block):
            if isinstance(node, ast.Call):
                name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", None)
                if name in TRAIN_OP_NAMES or (name and project.functions(name)):
                    return None  # the train op, or a project function that may build it
            elif isinstance(node, (ast.Name, ast.Attribute)) and isinstance(node.ctx, ast.Load) \
                    and (node.id if isinstance(node, ast.Name) else node.attr) in train_names:
                return None  # the block's ops depend on the train op
    for other in project.modules:
        if id(other) not in program:
            continue
        for name in outputs:
            if not all(_only_returned_or_fetched(r, other) for r in other.references.get(name, ())):
                return None  # an op of the block is an input of another op (``loss = tf.identity(loss)``)
    for other in project.modules:
        if id(other) not in program:
            continue
        for c in other.calls:
            if c.name == "run" and isinstance(c.node.func, ast.Attribute):
                fetched = _fetched_names(c.node)
                if fetched & train_names and not fetched & outputs:
                    shown = sorted(outputs)
                    return (f"only `{'`, `'.join(shown)}` (built under `control_dependencies(update_ops)` at "
                            f"{consumer.module.where(blocks[0].lineno)}) depends on them, not the train op, and "
                            f"`sess.run` at {c.module.where(c.node.lineno)} runs the train op without "
                            f"{'it' if len(shown) == 1 else 'them'}, so the moving statistics update only when "
                            f"{'it is' if len(shown) == 1 else 'they are'} fetched")
    return None


# --- a bare optimizer op handed to a resumed run through a graph collection -----------------------
_TRAIN_OP_KEY = "train_op"  # the value of ``GraphKeys.TRAIN_OP``; ``Optimizer.minimize`` adds its op to it


def _collection_key(expr: Optional[ast.AST], module: Module) -> Optional[str]:
    """The collection a key expression names: a string, or ``GraphKeys.TRAIN_OP``; None otherwise."""
    if isinstance(expr, ast.Constant) and isinstance(expr.value, str):
        return expr.value
    if isinstance(expr, ast.Attribute) and expr.attr == "TRAIN_OP" and (dotted(expr.value) or "").endswith("GraphKeys"):
        return _TRAIN_OP_KEY
    return None


def _collection_fetch(g, project: Project) -> Optional[tuple[str, bool]]:
    """(key, first only) when the ``get_collection(key)`` call ``g`` (or its ``[0]``) is fetched by a
    ``run`` of the same function, directly or through a name bound to it there."""
    m, node = g.module, g.node
    key = _collection_key(node.args[0] if node.args else _kw_or_pos(node, "key", 0), m)
    if key is None:
        return None
    value, first = node, False
    parent = m.parent(node)
    if isinstance(parent, ast.Subscript) and parent.value is node:
        if not (isinstance(parent.slice, ast.Constant) and parent.slice.value in (0, -1)):
            return None
        value, first = parent, parent.slice.value == 0
        if not first:
            return None
    name = m.bound_name(value)
    owner = g.scope if g.scope is not None else m.tree
    for r in astwalk.walk(owner):
        if not (isinstance(r, ast.Call) and isinstance(r.func, ast.Attribute) and r.func.attr == "run"):
            continue
        fetch = r.args[0] if r.args else next((kw.value for kw in r.keywords if kw.arg == "fetches"), None)
        if fetch is None:
            continue
        if any(n is value or (name is not None and isinstance(n, ast.Name) and n.id == name) for n in astwalk.walk(fetch)):
            return key, first
    return None


def _collection_entries(key: str, project: Project, within: Optional[set]) -> Optional[list]:
    """``(value, module, call)`` for every ``add_to_collection(s)`` of ``key`` in the modules ``within``
    (all when None); None when some addition's key cannot be read or the collection is also filled
    through ``get_collection_ref``."""
    out = []
    for name in ("add_to_collection", "add_to_collections"):
        for c in project.call_sites(name):
            if within is not None and id(c.module) not in within:
                continue
            if not c.node.args and not c.node.keywords:
                continue
            keys = c.node.args[0] if c.node.args else _kw_or_pos(c.node, "name" if name == "add_to_collection" else "names", 0)
            items = keys.elts if name == "add_to_collections" and isinstance(keys, (ast.List, ast.Tuple)) else [keys]
            read = [_collection_key(k, c.module) for k in items]
            if None in read:
                return None
            if key in read:
                value = c.node.args[1] if len(c.node.args) > 1 else _kw_or_pos(c.node, "value", 1)
                out.append((value, c.module, c))
    for c in project.call_sites("get_collection_ref"):
        if within is not None and id(c.module) not in within:
            continue
        if _collection_key(c.node.args[0] if c.node.args else None, c.module) in (key, None):
            return None
    return out


def _optimizer_op(expr: Optional[ast.AST], m: Module, project: Project, scope) -> Optional[ast.Call]:
    """The TF1 ``Optimizer.minimize``/``apply_gradients`` call an added value is (directly, or a
    name bound once in its function to it)."""
    if isinstance(expr, ast.Name):
        owner = scope if scope is not None else m.tree
        binds = [n for n in astwalk.walk(owner) if isinstance(n, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.For, ast.With))
                 and expr.id in _names_bound_by(n)]
        if len(binds) != 1 or not isinstance(binds[0], ast.Assign):
            return None
        expr = binds[0].value
    if isinstance(expr, ast.Call) and isinstance(expr.func, ast.Attribute) \
            and expr.func.attr in ("minimize", "apply_gradients") and _v1_optimizer(expr, m, project):
        return expr
    return None


def _reimported_bare_train_ops(project: Project) -> dict:
    """A script that resumes training from a checkpoint's meta graph (``import_meta_graph``) and runs
    the op it finds in a collection (``get_collection("train_op")[0]``), when that collection holds a
    bare ``Optimizer.minimize``/``apply_gradients`` op while the training script runs the BN update
    ops only through another op (``tf.group(minimize, *update_ops)``): after the resume the update ops
    never run and the moving statistics stay where the first run left them. ``minimize`` adds its own
    op to ``GraphKeys.TRAIN_OP``, so ``get_collection(TRAIN_OP)[0]`` is the bare op too.
    ``{id(module): [(node, message)]}``, reported where the bare op enters the collection."""
    def compute(p: Project) -> dict:
        out: dict = {}
        ctx = train_context(p)
        for k in p.call_sites("import_meta_graph"):
            if not (k.qualname or "").startswith("tensorflow."):
                continue
            for g in k.module.calls:
                if g.name not in ("get_collection", "get_collection_ref") or g.scope is not k.scope:
                    continue
                fetched = _collection_fetch(g, p)
                if fetched is None:
                    continue
                key, first = fetched
                # the training script is the resuming one's own program, or else any script of the project
                within: Optional[set] = same_program(k.module, p)
                ops = [(o.node, o.module, o.node) for o in ctx.train_ops if o.name in ("minimize", "apply_gradients")
                       and _v1_optimizer(o.node, o.module, p)]
                if not any(id(o[1]) in within for o in ops):
                    within = None
                ops = [o for o in ops if within is None or id(o[1]) in within]
                added = _collection_entries(key, p, within)
                if added is None:
                    continue
                entries = [(_optimizer_op(v, m, p, m.scope_of(c.node)), m, c.node) for v, m, c in added]
                if key == _TRAIN_OP_KEY:  # minimize/apply_gradients add their op first
                    if first and (len(ops) != 1 or any(m is not ops[0][1] or c.lineno < ops[0][0].lineno
                                                       for _, m, c in entries)):
                        continue  # which op comes first cannot be told
                    entries = ops + entries
                if not entries or (first and key != _TRAIN_OP_KEY and len(entries) != 1):
                    continue
                judged = entries[:1] if first else entries
                if any(op is None or _train_op_is_wired(op, m, p) for op, m, _ in judged):
                    continue
                op, m, at = judged[0]
                program = same_program(m, p)
                if not any(id(c.module) in program for c in ctx.update_consumers):
                    continue  # nothing runs the update ops at all: the train op itself is reported
                sites = [s for s in _update_sites(p) if id(s.module) in program and site_in_graph_of(s, m, p)]
                if not sites:
                    continue
                spelled = ast.unparse(g.node) + ("[0]" if first else "")
                how = ("goes into the `GraphKeys.TRAIN_OP` collection (`minimize`/`apply_gradients` add their own op "
                       "to it, ahead of anything added later)" if at is op else f"goes into the `{key}` collection")
                out.setdefault(id(m), []).append((at, (
                    f"the bare optimizer op `{ast.unparse(op)}` ({m.where(op.lineno)}) {how}, and {k.module.where(g.node.lineno)} resumes training from the meta graph "
                    f"(`import_meta_graph`) by running `{spelled}`: that op does not wait for the batch-norm update "
                    f"ops (the BN layer at {sites[0].where} puts them in UPDATE_OPS, and only the op that groups them "
                    "runs them), so after the resume the moving statistics stop updating; put the grouped train op "
                    "in the collection, or build the optimizer op under "
                    "`tf.control_dependencies(tf.get_collection(tf.GraphKeys.UPDATE_OPS))`")))
        return out
    return project.fact("tf1.reimported_bare_train_ops", compute)


def _v1_optimizer_class(call: ast.AST, module: Module) -> Optional[str]:
    """``tf.train.AdamOptimizer(...)`` / ``tf.compat.v1.train.MomentumOptimizer(...)``: the class name
    of a TF1 optimizer constructor (it creates no graph op: slots and the update ops of training come
    with ``minimize``/``apply_gradients``), else None."""
    if not isinstance(call, ast.Call):
        return None
    q = module.imports.resolve(call.func) or ""
    if not q.startswith(("tensorflow.train.", "tensorflow.compat.v1.train.")) or not q.endswith("Optimizer"):
        return None
    return q.rsplit(".", 1)[-1]


def _op_free(expr: ast.AST) -> bool:
    """An expression that cannot create a graph op: constants, names, attributes and items of them,
    arithmetic on such values (no call, no lambda, no comprehension)."""
    return all(isinstance(n, (ast.Constant, ast.Name, ast.Attribute, ast.Subscript, ast.BinOp, ast.UnaryOp,
                              ast.operator, ast.unaryop, ast.expr_context, ast.Tuple, ast.List, ast.Slice))
               for n in astwalk.walk(expr))


# Python builtins that only regroup the values they are given (tensors included) and create no op.
_OP_FREE_BUILTINS = frozenset({"zip", "list", "tuple", "dict", "enumerate", "len", "range", "reversed"})


def _op_free_grouping(expr: ast.AST, module: Module) -> bool:
    """``list(zip(grads, params))``, ``[(g, v) for g, v in zip(grads, params)]``: op-free values
    regrouped by Python builtins (not shadowed by a project definition or an import) and by
    comprehensions whose parts are op-free too. Creates no graph op."""
    for n in astwalk.walk(expr):
        if isinstance(n, ast.Call):
            if not (isinstance(n.func, ast.Name) and n.func.id in _OP_FREE_BUILTINS
                    and n.func.id not in module.imports.aliases and not _defines_name(module, n.func.id)) \
                    or any(kw.arg is None for kw in n.keywords):
                return False
        elif isinstance(n, (ast.Lambda, ast.Await, ast.Yield, ast.YieldFrom, ast.NamedExpr, ast.Compare,
                            ast.BoolOp, ast.IfExp, ast.JoinedStr, ast.FormattedValue)):
            return False
        elif isinstance(n, (ast.BinOp, ast.UnaryOp, ast.Subscript)):
            return False  # ``a + b``, ``t[0]`` on tensors build ops
    return True


def _defines_name(module: Module, name: str) -> bool:
    """Does the module define or bind ``name`` itself (a def, a class, an assignment)?"""
    for n in astwalk.walk(module.tree):
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and n.name == name:
            return True
        if isinstance(n, ast.Name) and n.id == name and isinstance(n.ctx, ast.Store):
            return True
    return False


def _dependency_block_builds_no_op(consumer, project: Project) -> Optional[str]:
    """Why the update ops never run when every ``with control_dependencies(update_ops)`` block they
    govern creates no graph op: it only constructs an optimizer object (``optimizer =
    tf.train.AdamOptimizer(lr)``) from values that create no op, or only regroups tensors built before
    it (``grads_and_vars = list(zip(grads, params))``). Control dependencies apply to the ops CREATED
    inside the block; neither creates one, and ``optimizer.minimize(loss)`` / ``apply_gradients``
    called after the block does not depend on the update ops. None whenever a statement of a block
    may build an op."""
    blocks = _dependency_blocks(consumer)
    if not blocks:
        return None
    m = consumer.module
    shown = None
    for block in blocks:
        built = None
        for st in block.body:
            if isinstance(st, ast.Pass) or (isinstance(st, ast.Expr) and isinstance(st.value, ast.Constant)):
                continue
            if not (isinstance(st, ast.Assign) and len(st.targets) == 1
                    and isinstance(st.targets[0], (ast.Name, ast.Attribute))):
                return None
            cls = _v1_optimizer_class(st.value, m)
            if cls is not None and all(_op_free(a) for a in st.value.args) \
                    and all(kw.arg is not None and _op_free(kw.value) for kw in st.value.keywords):
                built = built or (cls, st)
            elif isinstance(st.value, (ast.Call, ast.ListComp, ast.GeneratorExp)) and _op_free_grouping(st.value, m):
                built = built or (None, st)
            elif not _op_free(st.value):
                return None
        if built is None:
            return None
        shown = shown or (block, built)
    block, (cls, st) = shown
    target = ast.unparse(st.targets[0])
    if cls is None:
        return (f"the `with control_dependencies(update_ops)` at {m.where(block.lineno)} only regroups values built "
                f"before it (`{target} = {ast.unparse(st.value)}`), which creates no op; control dependencies apply "
                "only to ops created inside the block, so the `minimize`/`apply_gradients` built from them does not "
                "depend on the update ops")
    return (f"the `with control_dependencies(update_ops)` at {m.where(block.lineno)} only constructs the optimizer "
            f"(`{target} = {cls}(...)`), which creates no op; control dependencies apply only to ops created inside "
            f"the block, and `{target}.minimize(...)`/`apply_gradients` built after it does not depend on them")


def _last_name_of_target(t: ast.AST) -> Optional[str]:
    return t.id if isinstance(t, ast.Name) else t.attr if isinstance(t, ast.Attribute) else None


# --- BN103: a second train op that a training phase runs without the update ops -------------------
def _at(m: Module, line: int, here: Module) -> str:
    """``line 12`` for a line of the module being reported, ``path:12`` for another one."""
    return m.line_ref(line) if m is here else m.where(line)


def _op_name(op) -> Optional[str]:
    """The name a train op is bound to (``train_top = opt.minimize(...)`` -> ``train_top``)."""
    assign = op.module.parent(op.node)
    if isinstance(assign, ast.Assign) and len(assign.targets) == 1 and assign.value is op.node:
        return _last_name_of_target(assign.targets[0])
    return None


def _rebound_or_combined(name: str, op, program: set, project: Project) -> bool:
    """Is ``name`` bound anywhere else in the program (a rebinding may wrap it with the update
    ops), or handed to anything but a ``sess.run`` fetch or a container (``tf.group(name,
    *update_ops)``, ``control_dependencies([name])``, a helper)? Then its runs are not what they seem."""
    own = op.module.parent(op.node)
    for m in project.modules:
        if id(m) not in program or not m.mentions(name):
            continue
        for kind in (ast.Assign, ast.AnnAssign, ast.AugAssign):
            for st in m.nodes_of_kind.get(kind, ()):
                targets = st.targets if isinstance(st, ast.Assign) else [st.target]
                if st is not own and any(_last_name_of_target(t) == name for t in targets):
                    return True
        for ref in m.references.get(name, ()):
            child, parent = ref, m.parent(ref)
            while isinstance(parent, (ast.Tuple, ast.List, ast.Dict, ast.Set, ast.Starred)):
                child, parent = parent, m.parent(parent)
            if isinstance(parent, ast.Call) and not (
                    isinstance(parent.func, ast.Attribute) and parent.func.attr == "run"
                    and parent.args and parent.args[0] is child):
                return True
    return False


def _loss_of(call: ast.Call, module: Module, project: Project, depth: int = 0) -> Optional[ast.AST]:
    """The loss a train op differentiates: ``minimize(loss)``, or through ``apply_gradients`` the
    loss of the ``compute_gradients``/``tf.gradients`` call its gradients come from (names bound
    once, ``zip(grads, vars)`` and clipping comprehensions followed)."""
    if depth > 5 or call is None:
        return None
    if isinstance(call, ast.Name):
        bound = V.resolver(project).single_value(call.id, module, module.scope_of(call))
        return _loss_of(bound, module, project, depth + 1) if bound is not None else None
    if isinstance(call, (ast.ListComp, ast.GeneratorExp)) and call.generators:
        return _loss_of(call.generators[0].iter, module, project, depth + 1)
    if isinstance(call, ast.Tuple) and call.elts:  # ``grads, _ = tf.clip_by_global_norm(...)`` is not followed
        return None
    if not isinstance(call, ast.Call):
        return None
    name = call.func.attr if isinstance(call.func, ast.Attribute) else getattr(call.func, "id", None)
    if name in ("minimize", "compute_gradients"):
        return _kw_or_pos(call, "loss", 0)
    if name == "gradients":
        return _kw_or_pos(call, "ys", 0)
    if name == "apply_gradients":
        return _loss_of(_kw_or_pos(call, "grads_and_vars", 0), module, project, depth + 1)
    if name == "zip" and call.args:
        return _loss_of(call.args[0], module, project, depth + 1)
    return None


def _same_loss(op, other, project: Project) -> bool:
    """Do two train ops differentiate the same loss (the same expression, or one loss built from the
    other: ``total = loss + weight_decay``)?"""
    a = _loss_of(op.node, op.module, project)
    b = _loss_of(other.node, other.module, project)
    if a is None or b is None:
        return False
    if ast.dump(a) == ast.dump(b):
        return True
    for x, xm, y in ((a, op.module, b), (b, other.module, a)):
        if isinstance(x, ast.Name) and isinstance(y, (ast.Name, ast.Attribute)):
            found = V.resolver(project).binding_of(x.id, xm, xm.scope_of(x))
            wanted = _last_name_of_target(y)
            if found is not None and len(found[0]) == 1 and found[0][0].kind == "expr" and any(
                    _last_name_of_target(n) == wanted for n in astwalk.walk(found[0][0].expr)
                    if isinstance(n, (ast.Name, ast.Attribute))):
                return True
    return False


def _fetch_choices(expr: ast.AST, module: Module, project: Project, depth: int = 0) -> tuple[list, set]:
    """(alternatives, choice names) of a ``sess.run`` fetch: each alternative is the set of names one
    run fetches together (``[train_op, loss]``); several alternatives when the fetch picks one of a
    display (``train_ops[phase]``, ``a if c else b``), whose choice depends on the names returned."""
    def names(e):
        return {n.id if isinstance(n, ast.Name) else n.attr for n in astwalk.walk(e) if isinstance(n, (ast.Name, ast.Attribute))}

    if depth > 4:
        return [names(expr)], set()
    if isinstance(expr, (ast.List, ast.Tuple, ast.Set, ast.Dict)):
        together: set = set()
        choice: set = set()
        for e in (expr.values if isinstance(expr, ast.Dict) else expr.elts):
            alts, ch = _fetch_choices(e, module, project, depth + 1)
            together |= set().union(*alts)
            choice |= ch
        return [together], choice
    if isinstance(expr, ast.IfExp):
        body, c1 = _fetch_choices(expr.body, module, project, depth + 1)
        orelse, c2 = _fetch_choices(expr.orelse, module, project, depth + 1)
        return body + orelse, c1 | c2 | names(expr.test)
    if isinstance(expr, ast.Subscript):
        container = expr.value
        if isinstance(container, ast.Name):
            found = V.resolver(project).binding_of(container.id, module, module.scope_of(container))
            if found is not None and len(found[0]) == 1 and found[0][0].kind == "expr":
                container = found[0][0].expr
        elif isinstance(container, ast.Attribute):  # ``self.train_ops[phase]``: stored once
            stores = V.resolver(project).attr_stores.get(container.attr, [])
            if len(stores) == 1 and stores[0][0] is not None:
                container = stores[0][0]
        if isinstance(container, (ast.Dict, ast.List, ast.Tuple)):
            elts = container.values if isinstance(container, ast.Dict) else container.elts
            alts = [set().union(*_fetch_choices(e, module, project, depth + 1)[0]) for e in elts]
            return alts or [names(expr)], names(expr.slice)
        return [names(expr)], set()
    if isinstance(expr, ast.Name):
        found = V.resolver(project).binding_of(expr.id, module, module.scope_of(expr))
        if found is not None and len(found[0]) == 1 and found[0][0].kind == "expr" and isinstance(
                found[0][0].expr, (ast.List, ast.Tuple, ast.Set, ast.Dict, ast.IfExp, ast.Subscript)):
            alts, choice = _fetch_choices(found[0][0].expr, module, project, depth + 1)
            return [a | {expr.id} for a in alts], choice | ({expr.id} if len(alts) > 1 else set())
        return [{expr.id}], set()
    return [names(expr)], set()


def _runs_update_ops(fetched: set, wired_names: set) -> bool:
    """Does a fetch include a wired train op or something named for the update ops?"""
    return bool(fetched & wired_names) or any("update" in w or "updates" in w for n in fetched for w in identifier_words(n))


def _loops_around(node: ast.AST, module: Module) -> list:
    """The ``for``/``while`` loops enclosing ``node`` within its function, innermost first."""
    out = []
    for anc in module.ancestors(node):
        if isinstance(anc, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            break
        if isinstance(anc, (ast.For, ast.AsyncFor, ast.While)):
            out.append(anc)
    return out


def _bound_in(loop: ast.AST, wanted: set) -> bool:
    """Is any of ``wanted`` (re)bound by the loop itself or inside its body?"""
    targets = [loop.target] if isinstance(loop, (ast.For, ast.AsyncFor)) else []
    for n in astwalk.walk(loop):
        if isinstance(n, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.NamedExpr)):
            targets.extend(n.targets if isinstance(n, ast.Assign) else [n.target])
        elif isinstance(n, (ast.For, ast.AsyncFor, ast.comprehension)):
            targets.append(n.target)
    return any(_last_name_of_target(t) in wanted for tgt in targets for t in astwalk.walk(tgt)
               if isinstance(t, (ast.Name, ast.Attribute)))


def _training_at_run(site: BNSite, run: ast.Call, rm: Module, project: Project) -> bool:
    """Is the BN layer in training mode at this run: a flag that is always true, or placeholders
    this run feeds True (or leaves at a True default)?"""
    vals = site.flag
    if V.always_true_values(vals):
        return True
    if vals is V.UNKNOWN or not vals:
        return False
    for v in vals:
        if not isinstance(v, V.Placeholder) or not V.always_true_values(flag_at_run(v, run, rm, project)):
            return False
    return True


def _phase_run(name: str, wired_names: set, sites: list, program: set, project: Project):
    """(run, its module, a BN site in training mode there) for a ``sess.run`` that fetches the train
    op ``name`` without any wired op or update op, in a training loop (the choice of op fixed for
    the innermost loop: a phase) where no other run or project function runs a wired op or the
    update ops; None when there is none."""
    for m in project.modules:
        if id(m) not in program or not m.mentions(name):
            continue
        for c in m.calls:
            run = c.node
            if c.name != "run" or not isinstance(run.func, ast.Attribute) or not run.args:
                continue
            alternatives, choice = _fetch_choices(run.args[0], m, project)
            mine = [a for a in alternatives if name in a]
            if not mine or any(_runs_update_ops(a, wired_names) for a in mine):
                continue
            loops = _loops_around(run, m)
            if not loops:
                continue  # one run is not a training phase (or a step function someone else loops)
            if len(alternatives) > 1 and (not choice or _bound_in(loops[0], choice)):
                continue  # the op run changes from step to step (alternating with the wired one)
            if _loop_runs_wired(loops[-1], run, m, wired_names, project) \
                    or not _last_phase(name, run, loops, m, wired_names, program, project):
                continue
            site = next((s for s in sites if _training_at_run(s, run, m, project)), None)
            if site is not None:
                return run, m, site
    return None


def _last_phase(name: str, run: ast.Call, loops: list, m: Module, wired_names: set, program: set,
                project: Project) -> bool:
    """Does the phase that runs ``name`` come after every run of a wired op (or of the update ops)?
    Yes when each such run is an earlier statement of the same function, before the loops around
    this run, or is this very run whose phases, read from the constant schedule it loops over, end
    with ``name``. An unwired warm-up phase followed by wired training only delays the statistics."""
    start = loops[-1]
    scope = m.scope_of(run)
    for om in project.modules:
        if id(om) not in program:
            continue
        for c in om.calls:
            if c.name != "run" or not isinstance(c.node.func, ast.Attribute) or not c.node.args:
                continue
            alternatives, _ = _fetch_choices(c.node.args[0], om, project)
            if not any(_runs_update_ops(a, wired_names) for a in alternatives):
                continue
            if c.node is run:
                order = _phase_order(run, loops, m, project)
                if order is None or not order or name not in order[-1]:
                    return False
                continue
            if om is m and m.scope_of(c.node) is scope and c.node.lineno < start.lineno:
                continue
            return False
    return True


def _phase_order(run: ast.Call, loops: list, m: Module, project: Project) -> Optional[list]:
    """The names ``sess.run(ops[key])`` fetches at each pass of the loop that sets ``key`` from a
    constant schedule (``for phase, steps in [("all", 3), ("top", 3)]``), in order; None when the
    schedule or the choice cannot be read."""
    fetch = run.args[0]
    if isinstance(fetch, ast.Name):
        fetch = V.resolver(project).single_value(fetch.id, m, m.scope_of(fetch))
    if not isinstance(fetch, ast.Subscript):
        return None
    container = _single_display(fetch.value, m, project)
    if not isinstance(container, (ast.Dict, ast.List, ast.Tuple)):
        return None
    wanted = {n.id for n in astwalk.walk(fetch.slice) if isinstance(n, ast.Name)}
    loop = next((lp for lp in loops if isinstance(lp, ast.For)
                 and wanted & {n.id for n in astwalk.walk(lp.target) if isinstance(n, ast.Name)}), None)
    schedule = _single_display(loop.iter, m, project) if loop is not None else None
    if not isinstance(schedule, (ast.List, ast.Tuple)):
        return None
    out = []
    for element in schedule.elts:
        env: dict = {}
        if not _bind_target(loop.target, element, env):
            return None
        key = _constant_of(fetch.slice, env)
        if key is _NO_CONSTANT:
            return None
        if isinstance(container, ast.Dict):
            chosen = [v for k, v in zip(container.keys, container.values)
                      if isinstance(k, ast.Constant) and k.value == key]
        else:
            chosen = [container.elts[key]] if isinstance(key, int) and -len(container.elts) <= key < len(container.elts) else []
        if len(chosen) != 1:
            return None
        out.append({n.id if isinstance(n, ast.Name) else n.attr for n in astwalk.walk(chosen[0])
                    if isinstance(n, (ast.Name, ast.Attribute))})
    return out


def _single_display(expr: ast.AST, m: Module, project: Project) -> Optional[ast.AST]:
    """The display ``expr`` is bound to once (a name in its scope or the module, an attribute stored once)."""
    if isinstance(expr, ast.Name):
        return V.resolver(project).single_value(expr.id, m, m.scope_of(expr))
    if isinstance(expr, ast.Attribute):
        stores = V.resolver(project).attr_stores.get(expr.attr, [])
        return stores[0][0] if len(stores) == 1 else None
    return expr


_NO_CONSTANT = object()


def _bind_target(target: ast.AST, value: ast.AST, env: dict) -> bool:
    if isinstance(target, ast.Name):
        env[target.id] = value
        return True
    if isinstance(target, (ast.Tuple, ast.List)) and isinstance(value, (ast.Tuple, ast.List)) \
            and len(target.elts) == len(value.elts) and not any(isinstance(e, ast.Starred) for e in target.elts):
        return all(_bind_target(t, v, env) for t, v in zip(target.elts, value.elts))
    return False


def _constant_of(expr: ast.AST, env: dict):
    """``phase`` / ``phase["name"]`` / ``"top"`` with the loop variables of ``env``: the constant, or _NO_CONSTANT."""
    if isinstance(expr, ast.Constant):
        return expr.value
    if isinstance(expr, ast.Name) and expr.id in env:
        return _constant_of(env[expr.id], {})
    if isinstance(expr, ast.Subscript) and isinstance(expr.value, ast.Name) and expr.value.id in env:
        d = env[expr.value.id]
        key = _constant_of(expr.slice, {})
        if isinstance(d, ast.Dict) and key is not _NO_CONSTANT:
            found = [v for k, v in zip(d.keys, d.values) if isinstance(k, ast.Constant) and k.value == key]
            return _constant_of(found[0], {}) if len(found) == 1 else _NO_CONSTANT
    return _NO_CONSTANT


def _loop_runs_wired(loop: ast.AST, run: ast.Call, m: Module, wired_names: set, project: Project) -> bool:
    """Does the loop also run a wired op or the update ops (another ``sess.run``), or call a project
    function that runs anything (its runs may be the wired op)?"""
    for c in m.calls:
        if c.node is run or not _inside_node(c.node, loop, m):
            continue
        if c.name == "run" and isinstance(c.node.func, ast.Attribute) and c.node.args:
            alternatives, _ = _fetch_choices(c.node.args[0], m, project)
            if any(_runs_update_ops(a, wired_names) for a in alternatives):
                return True
        elif c.name and any(fi.module.mentions(".run(") and any(
                o.name == "run" and o.scope is fi.node for o in fi.module.calls) for fi in project.functions(c.name)):
            return True
    return False


def _update_only_runs(consumers: list, program: set, project: Project) -> Optional[list]:
    """(run, module) of every ``sess.run`` that fetches the update ops, when each UPDATE_OPS read of
    the program is bound to a name (``self.update_ops = tf.get_collection(...)``) whose every read in
    the program is a ``sess.run`` fetch (the name itself, or an element of a fetched list/tuple).
    None when a read is used any other way (``control_dependencies``, ``tf.group``, passed on)."""
    names = set()
    for c in consumers:
        parent = c.module.parent(c.node)
        if not (isinstance(parent, ast.Assign) and len(parent.targets) == 1
                and isinstance(parent.targets[0], (ast.Name, ast.Attribute))):
            return None
        names.add(_last_name_of_target(parent.targets[0]))
    runs: list = []
    for m in project.modules:
        if id(m) not in program or not any(m.mentions(n) for n in names):
            continue
        for node in astwalk.walk(m.tree):
            if not (isinstance(node, ast.Name) and node.id in names or isinstance(node, ast.Attribute) and node.attr in names):
                continue
            if not isinstance(node.ctx, ast.Load):
                continue
            parent = m.parent(node)
            if isinstance(parent, (ast.List, ast.Tuple)):
                node, parent = parent, m.parent(parent)
            if not (isinstance(parent, ast.Call) and isinstance(parent.func, ast.Attribute) and parent.func.attr == "run"
                    and parent.args and parent.args[0] is node):
                return None
            runs.append((parent, m))
    return runs


# Calls that build (or wrap) a train op.
TRAIN_OP_NAMES = frozenset({"minimize", "apply_gradients", "create_train_op", "optimize_loss", "gan_train_ops"})


@register
class UpdateOpsNeverRun(Rule):
    code = "BN103"
    name = "update-ops-never-run"
    framework = "tensorflow"
    severity = "error"
    summary = "BN layers put their moving-average updates in UPDATE_OPS and nothing in the project runs them."
    triggers = ("minimize", "apply_gradients", "ExponentialMovingAverage")
    fact_triggers = TF1_FACT_TRIGGERS
    doc = RuleDoc(
        what="""
Reports the train op (`optimizer.minimize(...)`, `apply_gradients(...)`) of a project that builds TF1
batch-norm layers whose updates go to `tf.GraphKeys.UPDATE_OPS` — the default of `tf.layers` /
`tf.compat.v1.layers.batch_normalization` and of contrib/slim `batch_norm` unless
`updates_collections=None` — when nothing in the project consumes that collection: no
`tf.control_dependencies(tf.get_collection(tf.GraphKeys.UPDATE_OPS))`, no fetch of it in `sess.run`,
no `tf.group` with it, and no helper that wires it itself. Helpers recognised as wiring the updates:

- `slim.learning.create_train_op` / `tf_slim.learning.create_train_op`
- `tf.contrib.training.create_train_op` / `tf_slim.training.create_train_op`
- `tf.contrib.layers.optimize_loss`
- TF-GAN `gan_train_ops`, slim `model_deploy.deploy`
- trainers of tensorpack, tflearn, TensorLayer, Sonnet and tensor2tensor (any import of these
  packages silences the rule).

A `get_collection(UPDATE_OPS)` whose result is assigned to a name that is never read does not count,
nor does one that only governs ops the train op does not depend on (`with
control_dependencies(update_ops): summary_op = tf.summary.merge_all()`, when a `sess.run` fetches the
train op without them: the updates then run only when the summary is fetched), nor one that only
governs a train op that the same function replaces by an unwired one right after the block, before
anything reads it, nor one whose blocks only construct the optimizer object (`with
control_dependencies(update_ops): opt = tf.train.AdamOptimizer(lr)` and then `opt.minimize(loss)`
after the block: control dependencies apply only to ops created inside the block, and a TF1 optimizer
constructor from plain values creates none), or only regroup tensors built before them with Python
builtins (`with control_dependencies(update_ops): grads_and_vars = list(zip(grads, params))`, then
`opt.apply_gradients(grads_and_vars)`: `zip`/`list`/a plain comprehension create no op either) (`train_op = opt.minimize(loss)` under the dependency, then `train_op =
opt.apply_gradients(clipped)`), nor `control_dependencies` on another collection (`get_collection(TRAINABLE_VARIABLES)`, a
look-alike of the recipe), nor `control_dependencies` on an always-empty list (`[]`, or a hand-written
`create_train_op(..., update_ops=None)` that turns the None every caller leaves into `list(update_ops
or [])`), nor a `get_collection(UPDATE_OPS, scope)` filter that matches no update op: a literal scope
the program never builds (a typo), or one that names only `with name_scope/variable_scope` blocks in
which no BN layer is built, or the scope bound by `with tf.name_scope("train") as scope:` (or
`vs.original_name_scope` of `with tf.variable_scope("opt") as vs:`) when the network was built before
that block, in another scope, or an exact filter (`scope="resnet/"`, with its "/") on the scope that a
model builder enters by name (`with tf.variable_scope("resnet", reuse=tf.AUTO_REUSE):`) when one function
calls that builder several times in the same graph and the FIRST call builds with training False
(`tower(val_x, is_training=False)`, no update ops) and a later one with a flag that may be True:
re-entering a scope by its string name opens a new, uniquified name scope (`resnet_1/`; `reuse` only
shares the variables), and update ops are named by name scope, so the filter matches only the first
entry's ops. The message names the BN layer.

The BN layer may be built by a builder the training code only receives as a value: a generic
`Trainer(build_net, cfg)` whose `__init__(self, model_fn, cfg)` calls `model_fn(x, flag)` and
`optimizer.minimize(loss)` (the builder passed by position or keyword, through `functools.partial`, or
stored as `self.model_fn = model_fn` and called in another method); such a trainer's own `fit()`
method is no Keras `fit`.

Also reported: a hand-written batch norm (`tf.nn.moments` + `tf.train.ExponentialMovingAverage`) in a
trained program whose `ema.apply([mean, var])` op nothing runs or depends on (bound to a name nothing
reads, or returned and unpacked into `_` by every caller) while `ema.average(...)` is read: the
averages that inference uses stay at their initial values. And a hand-written batch norm (a class or
function that normalizes with `tf.nn.moments`) that creates a `tf.train.ExponentialMovingAverage` on
which nothing in the project ever calls `.apply` (the object only read by `.average`, or not at all):
no moving statistics exist, and evaluation normalizes with the evaluated batch's statistics.

Also reported: `tf.keras.layers.BatchNormalization` called on tensors of a TF1 graph that a session
trains with a v1 optimizer. Keras layers keep their updates in `layer.updates` and never put them in
`UPDATE_OPS`, so the usual recipe does nothing (measured on TF 2.21 `tf.compat.v1` with tf_keras: the
moving mean stays 0); nothing in the project reads `.updates`/`get_updates_for`. The same for the
standalone `keras` package's layer (`from keras import layers`, `keras.src...`: Keras 3 on TF >= 2.16)
called with a training flag in a program that switches to graph mode or runs a v1 session
(`disable_eager_execution()`, `disable_v2_behavior()`, `tf.compat.v1.Session`) and trained by a v1
optimizer (`tf.compat.v1.train.*Optimizer`): Keras 3 creates the moving-average assignments as orphan
ops that no `layer.updates` exposes (measured on TF 2.21: the moving mean stays 0 with the UPDATE_OPS
recipe), so the advice is `tf.compat.v1.layers.batch_normalization` (or `tf_keras`) in a v1 graph.

Also reported, when the update ops are wired into one train op: a second train op of the same loss
(`train_top = opt.minimize(loss, var_list=top_vars)` next to the wired `train_all`, or its
`apply_gradients` through `compute_gradients(loss)`) built outside the block, that a `sess.run` fetches
on its own in a training loop (directly, or picked per phase from a dict/list of ops) while a BN layer
is in training mode at that run (its placeholder fed True there — a display, a name bound to one or a
project feed helper whose parameters are read at that call — or a flag that is always true): during
that phase BN normalizes with batch statistics and its moving statistics stop where the wired op left
them.

Also reported: update ops that only run in a `sess.run` of their own (`update_ops =
tf.get_collection(UPDATE_OPS)` read nowhere but as a fetch, no `control_dependencies`), when that run's
feed leaves every BN layer's flag placeholder at a False default (or feeds False) while the train
step feeds it True (`sess.run(update_ops, feed_dict=data_feed(batch))` after the step). A layer with
a tensor flag picks its decay at run time: in inference mode its update assigns each moving statistic
its own value, so the statistics never move although the ops run at every step.

Also reported: a bare `Optimizer.minimize`/`apply_gradients` op (no `control_dependencies` on the
update ops) that goes into a graph collection (`tf.add_to_collection("train_step", minimize_op)`) while
the training loop runs the update ops only through another op (`tf.group(minimize_op, *update_ops)`),
when a script resumes from the checkpoint's meta graph (`tf.train.import_meta_graph`) and runs the
op it takes from that collection (`tf.get_collection("train_step")[0]`): after the resume the update
ops never run. `minimize` adds its own op to `GraphKeys.TRAIN_OP` ("train_op") first, so
`get_collection(tf.GraphKeys.TRAIN_OP)[0]` is that bare op even when the grouped op is added later.
""",
        why="""
The moving mean and variance are updated by separate assign ops. In graph mode an op runs only if a
fetched op depends on it, and the optimizer's train op does not depend on `UPDATE_OPS`. The model trains
with batch statistics and looks fine, but the moving statistics stay at 0/1, so evaluation and every
restored checkpoint normalize with meaningless values (tensorflow/tensorflow#11965, meetps/tf-3dgan#7).
""",
        example="""
h = tf.layers.batch_normalization(x, training=is_training)
loss = ...
train_op = tf.train.AdamOptimizer(1e-3).minimize(loss)
""",
        use_instead="""
h = tf.layers.batch_normalization(x, training=is_training)
loss = ...
update_ops = tf.get_collection(tf.GraphKeys.UPDATE_OPS)
with tf.control_dependencies(update_ops):
    train_op = tf.train.AdamOptimizer(1e-3).minimize(loss)
""",
        not_flagged="""
- `updates_collections=None` (slim/contrib update the statistics in place) or a custom collection.
- A `tf.layers.BatchNormalization` object whose own `.updates` (or `get_updates_for`) the code reads:
  `with tf.control_dependencies(norm.updates): x = tf.identity(x)` makes every op that uses the
  output, the train op included, run that layer's updates.
- BN whose flag is always false (no update ops exist: BN101), or always true by the API default
  (`batch_norm` without `is_training`) or in a GAN/meta-learning project: the moving statistics are
  never read, as in MAML's transductive batch norm. The same for `is_training=True` written at the
  layer itself (no flag parameter: batch statistics by design, as in a PPO policy that acts with
  them too) when nothing in the program reads the statistics (`moving_mean` by name) or exports the
  graph (`tf.saved_model`, `freeze_graph`, `write_graph`, TFLite converters), which would read them.
- BN whose flag is a parameter defaulting to False (`def bn(self, x, is_training=False)`) when its
  callers cannot be followed (a `@layer` decorator, `self.bn._original(self, ...)`) and no call found
  by name passes anything but False: the only evidence says no update ops are created (frozen
  pretrained BN, as in Faster R-CNN ports). One call passing another value keeps it reported.
- Train ops built inside `tf.control_dependencies(...)` (unless its argument is always empty: see
  above), any used `get_collection(UPDATE_OPS)` in the same program (unless its `scope=` filter can
  match no update op: see above), `UPDATE_OPS` passed to anything there, the helpers above. A scope
  filter counts as matching whenever a BN layer may be built in the filtered scope: a tower scope
  handed to the tower builder, a block that calls anything we cannot follow (`model(x)`, a template,
  a method of an unknown object), a scope name computed anywhere in the program. A builder entered
  several times counts as matched when the training call comes first, when the filter has no
  trailing "/" (`"resnet"` is a prefix of `resnet_1/` too), when the calls sit in a loop, in
  different graphs or functions, or the scope opens no name scope (`auxiliary_name_scope=False`). A program is the
  script with the train op, what it imports and what imports it: another script of the repository
  that wires its own updates (or trains with Keras/eagerly) does not silence this one, and a BN
  layer in a module the program never imports is not part of its graph, nor one that only another
  model class builds (`self.generator()` runs this class's own `generator`, or a base's/override's).
  Flags are resolved within the program: a BN helper shared by a GAN collection is always training
  in a GAN whose code never passes it False, whatever the other GANs do.
- Eager/TF2 code (`tf.GradientTape`, `enable_eager_execution`) and Keras `fit` loops (Keras runs its
  layers' updates itself), Keras layers whose `updates` are used anywhere; standalone-`keras` layers
  without a training flag, with `training=False`, in a program that never builds a v1 graph, or
  trained by a Keras optimizer.
- A separate run of the update ops whose feed may set the flag True (a dict changed in place, a
  helper we cannot read), when the name they are bound to is also used any other way
  (`control_dependencies`, `tf.group`, passed on), or when nothing feeds the flag True (BN102).
- A second, unwired train op when: its run feeds the flag False (BN frozen by design in that phase)
  or a value that is not always True; it differentiates another loss (a GAN generator beside a wired
  discriminator); the same run fetches a wired op or the update ops; a loop around the run also runs
  a wired op or the update ops, or calls a project function that runs anything (a GAN loop whose
  discriminator step runs every UPDATE_OPS); the op is picked per step from several (ops alternating
  with the wired one); the op is grouped (`tf.group(op, *update_ops)`), rebound or handed to anything
  but `sess.run`; the run is not in a loop of its function.
- A module-level train op whose graph holds no BN layer when the module's top level calls
  `tf.reset_default_graph()` (a notebook's parts, a script's stages): each reset starts a new graph,
  so only the layers built by the top-level statements between the resets around the train op count
  (directly, or by the functions they call — a call runs the `def` of its name made before it, not a
  later redefinition with BN). The same graph split keeps BN101 to the train ops of the layer's own part.
""",
        versions=VERSIONS,
    )

    def check(self, module: Module, project: Project) -> Iterable[Finding]:
        yield from self._handwritten_ema_not_run(module, project)
        yield from self._handwritten_ema_never_applied(module, project)
        for node, message in _reimported_bare_train_ops(project).get(id(module), ()):
            yield self.finding(module, node, message)
        ctx = train_context(project)
        if id(module) not in ctx.trained_modules:
            return
        # Only evidence from the same program counts: another script of the repository that runs its
        # own UPDATE_OPS, trains with Keras fit or runs eagerly says nothing about this train op.
        program = same_program(module, project)
        if (ctx.self_wiring_modules | ctx.keras_training_modules) & program or _runs_eagerly(module, program, ctx):
            return
        yield from self._keras_layers_in_graph(module, project)
        mismatched = [c for c in ctx.update_consumers if id(c.module) in program and _scope_filter_misses(c, program, project)]
        consumers = [c for c in ctx.update_consumers if c not in mismatched and id(c.module) in program]
        if any(id(c.module) in program for c in ctx.wiring_helpers) or ctx.other_update_ref_modules & program:
            return
        # Update ops that only a side op (a summary fetched every N steps) depends on do not count.
        # or whose wired train op is replaced by an unwired one before it is ever run.
        why_not = [_update_ops_tied_to_side_op(c, program, project) or _wired_op_overwritten(c, project)
                   or _grouped_op_never_run(c, program, project) or _dependency_block_builds_no_op(c, project)
                   for c in consumers]
        def program_sites() -> list:
            # Reachability goes by names (methods of unknown receivers); a layer in a module this program
            # never imports (another script, a TF2 port in the same repository) is not in its graph.
            # The flag is resolved within this program: a helper shared by a GAN collection whose
            # other models pass `is_train=False` is still always training in this GAN.
            own = _program_project(module, project)
            pool = _update_sites(project if own is None else own)
            found = [s for s in pool if id(s.module) in program and site_in_graph_of(s, module, project)]
            return sorted(found, key=lambda s: s.module is not module)  # name a layer of this script first

        if consumers and not all(why_not):
            # The update ops run with some train op; another train op of the same loss that a
            # training phase runs alone, with BN in training mode, leaves them behind.
            yield from self._update_runs_in_inference_mode(module, project, program, consumers, program_sites)
            yield from self._unwired_phase_ops(module, project, program, program_sites)
            return
        sites = program_sites()
        if not sites:
            return
        dead = next((d for d in ctx.dead_collections if id(d.module) in program), None)  # this program's only
        for op in ctx.train_ops:
            if op.module is not module or (_train_op_is_wired(op.node, module, project) and not mismatched):
                continue
            # a notebook's ``tf.reset_default_graph()`` starts a new graph: only the layers of this one count
            graph_sites = top_level_graph_sites(op.node, module, project, sites)
            op_sites = sites if graph_sites is None else graph_sites
            if not op_sites:
                continue
            first = op_sites[0]
            more = f" (and {len(op_sites) - 1} more)" if len(op_sites) > 1 else ""
            extra = (f"; `get_collection(UPDATE_OPS)` at {dead.module.where(dead.node.lineno)} is never used"
                     if dead else "")
            runs = "nothing in the project runs them"
            if why_not:
                runs = why_not[0]
            elif mismatched:
                miss = mismatched[0]
                filt = _kw_or_pos(miss.node, "scope", 1)
                block = _scope_block_named_by(filt, miss.module)
                later = _later_entry_trains(miss, program, project) if block is None else None
                where = (f"is the name scope of the `with` at {miss.module.where(block.lineno)}, in which no BN layer "
                         "is built" if block is not None else "matches no scope a BN layer is built in")
                if later is not None:
                    lm, lb, head, train = later
                    entered = str(filt.value).split("/")[0]
                    where = (f"matches only the ops of the first entry of the scope block at {lm.where(lb.lineno)}: "
                             f"the call at {head.module.where(head.node.lineno)} builds it with training False (no "
                             f"update ops), and the training call at {train.module.where(train.node.lineno)} re-enters "
                             f"it under the new name scope `{entered}_1/` (a scope re-entered by name gets a unique name "
                             "scope; `reuse` only shares the variables)")
                extra = (f"; `get_collection(UPDATE_OPS, scope={ast.unparse(filt)})` at "
                         f"{miss.module.where(miss.node.lineno)} {where}, so it is empty")
            empty = _empty_dependency_block(op.node, module, project)
            if empty is not None:
                extra += (f"; the `{ast.unparse(empty)}` around it ({module.where(empty.lineno)}) always gets an empty "
                          "list, so it waits for nothing")
            yield self.finding(module, op.node, (
                f"train op does not run the batch-norm update ops: the BN layer at {first.where}{more} puts its "
                f"moving-average updates in UPDATE_OPS and {runs}{extra}; build the "
                "train op under `tf.control_dependencies(tf.get_collection(tf.GraphKeys.UPDATE_OPS))`"))


    def _update_runs_in_inference_mode(self, module: Module, project: Project, program: set, consumers: list,
                                       program_sites) -> Iterable[Finding]:
        """The update ops collected into a name that is only ever fetched by ``sess.run`` calls of
        their own (``sess.run(update_ops, feed_dict=data_feed(batch))`` after the train step, no
        ``control_dependencies``), when at every such run each BN layer's flag is a placeholder the
        run's feed leaves at a False default (or feeds False) while some other feed gives it True.
        With a placeholder flag, the layer builds its update with the decay chosen by the flag at
        run time: run in inference mode the assignment keeps the moving value, so the statistics
        never move although the ops run at every step."""
        if not module.mentions(".run("):
            return
        runs = _update_only_runs(consumers, program, project)
        if not runs or not any(rm is module for _run, rm in runs):
            return
        sites = [s for s in program_sites() if s.api in ("layers", "slim")]
        if not sites:
            return
        flags: list = []
        for s in sites:
            phs = V.placeholders(s.flag)
            if s.flag is V.UNKNOWN or not phs or len(phs) != len(s.flag):
                return
            flags.extend(phs)
        own = _program_project(module, project) or project  # another script's same-named feed helper
        for run, rm in runs:
            for ph in flags:
                if not V.always_false_values(flag_at_run(ph, run, rm, own)):
                    return  # the updates may run in training mode here
        for ph in flags:
            fed = fed_values(ph, own)[0]
            if fed is V.UNKNOWN or True not in fed:
                return  # nothing feeds it True (BN102's case), or the feeds cannot be read
        site = sites[0]
        for run, rm in runs:
            if rm is not module:
                continue
            yield self.finding(module, run, (
                f"`sess.run` at {module.line_ref(run.lineno)} runs the batch-norm update ops on their own, with a feed "
                f"that leaves the training flag of the BN layer at {_at(site.module, site.node.lineno, module)} "
                f"({_describe_flag(site)}) False: the update ops take the decay the flag selects at run time, so "
                "in inference mode they assign the moving statistics their own values and the statistics never "
                "move, although the train step feeds the flag True; feed the flag True in this run too (reuse "
                "the train step's feed dict) or build the train op under "
                "`tf.control_dependencies(update_ops)`"))

    def _unwired_phase_ops(self, module: Module, project: Project, program: set, program_sites) -> Iterable[Finding]:
        """A train op built outside ``control_dependencies(update_ops)`` in a program where another
        train op of the same loss is wired (``train_top = opt.minimize(loss, var_list=top_vars)``
        beside the wired ``train_all``), fetched alone by a ``sess.run`` in a training loop that runs
        no wired op and no update ops, with a BN layer in training mode at that run (its flag fed
        True, or always true). While that phase trains, BN normalizes with batch statistics and the
        moving statistics stay where the wired op left them."""
        ctx = train_context(project)
        ops = [op for op in ctx.train_ops if id(op.module) in program]
        if not any(op.module is module and op.name in TRAIN_OP_METHODS for op in ops):
            return
        wired = [op for op in ops if op.name not in TRAIN_OP_METHODS or _train_op_is_wired(op.node, op.module, project)]
        if not wired:
            return
        wired_names = {n for n in (_op_name(op) for op in wired) if n}
        sites = None
        for op in ops:
            if op.module is not module or op in wired or op.name not in TRAIN_OP_METHODS:
                continue
            name = _op_name(op)
            if name is None or name in wired_names or _rebound_or_combined(name, op, program, project):
                continue
            partner = next((w for w in wired if w.name in TRAIN_OP_METHODS and _same_loss(op, w, project)), None)
            if partner is None:
                continue  # another loss (a GAN's generator, an auxiliary head): its graph may hold no BN
            if sites is None:
                sites = program_sites()
            if not sites:
                return
            hit = _phase_run(name, wired_names, sites, program, project)
            if hit is None:
                continue
            run, rm, site = hit
            partner_name = _op_name(partner) or partner.name
            yield self.finding(module, op.node, (
                f"train op `{name}` does not run the batch-norm update ops: only `{partner_name}` "
                f"({_at(partner.module, partner.node.lineno, module)}) is built under `control_dependencies(update_ops)`, "
                f"and `sess.run` at {_at(rm, run.lineno, module)} runs `{name}` on its own in a training loop with the "
                f"BN layer at {_at(site.module, site.node.lineno, module)} in training mode ({_describe_flag(site)}): "
                "it normalizes with batch "
                "statistics while its moving statistics stop at the values the other op left; build this op under "
                "`tf.control_dependencies(tf.get_collection(tf.GraphKeys.UPDATE_OPS))` too (or feed the flag False "
                "when BN is meant to stay frozen in this phase)"))

    def _standalone_keras_in_graph(self, module: Module, project: Project, sites: list) -> Iterable[Finding]:
        """Standalone ``keras`` (Keras 3) BatchNormalization called on tensors of a v1 graph that a
        v1 optimizer trains in a session: Keras 3 creates the moving-average assignments as orphan
        ops, outside UPDATE_OPS and with no ``layer.updates`` to wire, so nothing can run them
        (measured on TF 2.21: the moving mean stays 0 with the UPDATE_OPS recipe)."""
        sites = sorted(sites, key=lambda s: s.module is not module)
        first = sites[0]
        for op in train_context(project).train_ops:
            if op.module is not module or op.name not in ("minimize", "apply_gradients") \
                    or not _v1_optimizer(op.node, module, project):
                continue
            yield self.finding(module, op.node, (
                f"train op does not run the Keras batch-norm updates: the standalone-Keras `BatchNormalization` at "
                f"{first.where} is used in a TF1 graph, where it keeps its moving-average updates out of UPDATE_OPS "
                "(Keras 3 creates them as orphan ops that no `layer.updates` exposes), so nothing runs them and the "
                "moving statistics stay 0/1 (wiring UPDATE_OPS does not help); in a v1 graph build batch norm with "
                "`tf.compat.v1.layers.batch_normalization` (or the `tf_keras` layer and "
                "`tf.control_dependencies(model.updates)`), or train the Keras model eagerly / with `fit`"))

    def _handwritten_ema_not_run(self, module: Module, project: Project) -> Iterable[Finding]:
        """A hand-written BN (``tf.nn.moments`` + ``tf.train.ExponentialMovingAverage``) whose
        ``ema.apply([batch_mean, batch_var])`` op nothing runs or depends on, while ``ema.average``
        is what inference reads: the averages stay at their initial values."""
        for c in module.calls:
            if c.name != "apply" or not isinstance(c.node.func, ast.Attribute) or not isinstance(c.node.func.value, ast.Name):
                continue
            ema, scope = c.node.func.value.id, c.scope
            owner = scope if scope is not None else module.tree
            if not _bound_to_call(owner, ema, "ExponentialMovingAverage", module) \
                    or not _applies_to_moments(c.node, owner, module) \
                    or not any(isinstance(o.node.func, ast.Attribute) and isinstance(o.node.func.value, ast.Name)
                               and o.node.func.value.id == ema and _inside_node(o.node, owner, module)
                               for o in module.calls if o.name == "average"):
                continue
            if not _result_discarded(c.node, module, project) or not _program_trains(module, project):
                continue
            yield self.finding(module, c.node, (
                f"the moving averages of this hand-written batch norm are updated by `{ast.unparse(c.node.func)}(...)`, "
                f"but nothing runs that op or depends on it while `{ema}.average(...)` is what inference reads: the "
                "averages stay at their initial values; compute the training-branch statistics under "
                f"`tf.control_dependencies([{ema}.apply(...)])` (or use `tf.layers.batch_normalization`)"))

    def _handwritten_ema_never_applied(self, module: Module, project: Project) -> Iterable[Finding]:
        """A hand-written BN (a class or function that normalizes with ``tf.nn.moments``) that
        creates a ``tf.train.ExponentialMovingAverage`` and never calls ``.apply`` on it: no moving
        statistics exist, so evaluation normalizes with the evaluated batch's own statistics."""
        for c in module.calls:
            if c.name != "ExponentialMovingAverage":
                continue
            bound = module.parent(c.node)
            if not (isinstance(bound, ast.Assign) and len(bound.targets) == 1):
                continue
            target = bound.targets[0]
            if isinstance(target, ast.Name) and c.scope is not None:
                owner = c.scope
            elif isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name) and target.value.id == "self":
                owner = module.enclosing_class(c.node)
            else:
                continue
            if owner is None or not _normalizes_with_moments(owner):
                continue
            uses = (_ema_name_uses(target.id, owner) if isinstance(target, ast.Name)
                    else _ema_attribute_uses(target.attr, project))
            if uses is None or "apply" in uses or not _program_trains(module, project):
                continue
            yield self.finding(module, c.node, (
                f"this hand-written batch norm creates `{ast.unparse(target)}` but nothing ever calls "
                f"`{ast.unparse(target)}.apply(...)`: no moving mean/variance is tracked, so evaluation normalizes "
                "with the evaluated batch's own statistics; apply the average to the batch moments under "
                "`tf.control_dependencies` when training and normalize with `.average(...)` otherwise "
                "(or use `tf.layers.batch_normalization`)"))

    def _keras_layers_in_graph(self, module: Module, project: Project) -> Iterable[Finding]:
        """``tf.keras.layers.BatchNormalization`` called on graph tensors and trained by a v1
        optimizer in a session: its updates live in ``layer.updates``, which nothing runs, and
        ``UPDATE_OPS`` is empty even when it is wired."""
        ctx = train_context(project)
        if id(module) not in ctx.session_modules:
            return
        program = same_program(module, project)
        sites = [s for s in bn_sites(project) if s.api == "keras" and not V.always_false_values(s.flag)
                 and id(s.module) in program
                 and site_in_graph_of(s, module, project) and not _keras_learning_phase_frozen(s, project)]
        # A flag must be passed: without one a Keras 3 layer runs in inference mode in a v1 graph
        # (there is no learning phase to feed), and Keras 2 follows ``K.learning_phase()``.
        standalone = [s for s in standalone_keras_bn_sites(project) if id(s.module) in program
                      and _may_train_keras_bn(s, project, program) and site_in_graph_of(s, module, project)]
        if standalone and not ctx.layer_updates_modules & program and _builds_v1_graph(program, project):
            yield from self._standalone_keras_in_graph(module, project, standalone)
            return
        if ctx.layer_updates_modules & program:
            # ``model.updates`` is read somewhere: it runs the updates of every layer the model
            # tracks, which leaves only layers built inside ``call`` and never stored on ``self``.
            sites = [s for s in sites if _untracked_in_call(s)]
        if not sites:
            return
        sites.sort(key=lambda s: s.module is not module)
        first = sites[0]
        if _untracked_in_call(first):
            owner = first.module.enclosing_class(first.node)
            why = (f"`tf.keras.layers.BatchNormalization` at {first.where} is built inside "
                   f"`{owner.name if owner else ''}.call` and stored in no attribute, so the model does not track "
                   "it: its updates are in no `model.updates` and not in UPDATE_OPS; create the layer once in "
                   "`__init__` (`self.bn = ...`) and build the train op under `tf.control_dependencies(model.updates)`")
        else:
            why = (f"`tf.keras.layers.BatchNormalization` at {first.where} keeps them in `layer.updates`, not in "
                   "UPDATE_OPS, when used in a TF1 graph; build the train op under "
                   "`tf.control_dependencies(bn_layer.updates)` or use `tf.compat.v1.layers.batch_normalization`")
        for op in ctx.train_ops:
            if op.module is not module or op.name not in ("minimize", "apply_gradients"):
                continue
            yield self.finding(module, op.node, f"train op does not run the Keras batch-norm updates: {why}")


@register
class UpdateOpsCollectedTooEarly(Rule):
    code = "BN104"
    name = "update-ops-collected-before-bn"
    framework = "tensorflow"
    severity = "error"
    summary = "tf.get_collection(UPDATE_OPS) runs before the BN layers are built, so it returns an empty list."
    triggers = ("UPDATE_OPS", "update_ops", ".updates")
    fact_triggers = TF1_FACT_TRIGGERS
    doc = RuleDoc(
        what="""
Finds `tf.get_collection(tf.GraphKeys.UPDATE_OPS)` evaluated before any batch-norm layer of the graph
is built: in the same function (or at module level), every statement that builds a BN layer — a BN call,
a call to a function of the project that builds one, or the construction of a project class whose
`__init__` builds one (a TensorLayer-style `net = Network(x, is_training)`) — comes after the
collection is read. Reported at the train op that depends on the (empty) list when there is one, else
at the `get_collection` call.
Also finds the read made from the wrong graph: `tf.get_collection(UPDATE_OPS)` after a
`with graph.as_default():` block that built the BN layers has ended (sklearn-style estimators that
own a `tf.Graph`), which reads the default graph again; also when the read sits in a helper
(`self._build_train_op()`, `make_step(graph, loss)`) whose every call comes after such a block of a
graph the caller created itself (`self.graph = tf.Graph()`), outside any `as_default()` block.
Also finds the per-tower read filtered on its own block's new name scope, taken before that block
builds its BN layers: `with tf.name_scope("tower_%d" % i) as scope:` (or `variable_scope(...) as vs`
with `vs.original_name_scope`) whose `tf.get_collection(UPDATE_OPS, scope)` comes before
`loss = tower_loss(...)`. Nothing is named inside a fresh scope before the block runs, so the list is
empty at every pass of a multi-tower loop.
Also finds the same snapshot taken from a layer object: `X.updates` read in the function that has
just created `X = tf.layers.BatchNormalization(...)` (or a `tf.keras` one in a graph) — `self.bn =
...` in `__init__`, or a local — before anything can have called it, when the program waits on that
list (`control_dependencies`/`tf.group` of it, or of the name or attribute it is stored in). A layer
creates its update ops when it is called, so `self.update_ops = self.bn1.updates + self.bn2.updates`
in `__init__` is an empty list.
""",
        why="""
`get_collection` returns a snapshot list. Taken before the model is built, it is empty, so
`tf.control_dependencies(update_ops)` adds nothing and the moving statistics never update, although the
code looks exactly like the documented recipe.
""",
        example="""
update_ops = tf.get_collection(tf.GraphKeys.UPDATE_OPS)
logits = build_model(x, is_training)          # BN layers created here
with tf.control_dependencies(update_ops):
    train_op = optimizer.minimize(loss)
""",
        use_instead="""
logits = build_model(x, is_training)
update_ops = tf.get_collection(tf.GraphKeys.UPDATE_OPS)
with tf.control_dependencies(update_ops):
    train_op = optimizer.minimize(loss)
""",
        not_flagged="""
- A collection read inside a loop that also builds BN layers (multi-tower code), or when some BN layer
  is built before it.
- Reads in a function that builds nothing itself (it is called after the model is built). A method
  called on a library object (`self._ema.apply(grads)` with `self._ema =
  tf.train.ExponentialMovingAverage(...)`, `sess.run`) is the library's: it builds nothing, whatever
  project function shares its name.
- `graph.get_collection(UPDATE_OPS)` (it names its graph), reads inside an `as_default()` block, and
  reads after a graph block when some BN layer of the function is built on the default graph.
- A read that is only a baseline for a later read: `n = len(tf.get_collection(UPDATE_OPS))`, or a
  name only counted (`len(before)`) or tested for membership (`op not in before`), as in a BN helper
  that waits on the update ops its own layer adds (`updates_collections=None` semantics).
- A per-tower scoped read when anything before it in the block may build BN, when a loop lies between
  the block and the read, or when the program reaches the update ops another way (another
  UPDATE_OPS read or mention, a wiring helper, eager or Keras-fit training).
- `layer.updates` read after something may have called the layer: a call of the layer, of a method
  of `self` or of `super()`, a call handed the layer or `self`, any call in a loop around the read, a
  nested function that sees it; reads in a `@property` or another method (run when asked, after
  the build); a snapshot that nothing waits on, or a name or attribute that is bound again.
""",
        versions=VERSIONS,
    )

    def check(self, module: Module, project: Project) -> Iterable[Finding]:
        for read, ctor, layer in _layer_updates_before_call(module, project):
            yield self.finding(module, read, (
                f"`{layer}.updates` is read at {module.line_ref(read.lineno)}, right after the batch-norm layer "
                f"object is created ({module.line_ref(ctor.lineno)}) and before it is ever called: a layer's "
                "`updates` list is filled when the layer is called on a tensor, so this snapshot is empty and the "
                "`control_dependencies` built from it wait for nothing; the moving statistics never update. Read "
                f"`{layer}.updates` (or `tf.get_collection(tf.GraphKeys.UPDATE_OPS)`) after the model is built, "
                "e.g. in a property or when the train op is made"))
        ctx = train_context(project)
        for g in ctx.update_consumers + ctx.dead_collections:
            if g.module is not module:
                continue
            stmt_g = module.statement_of(g.node)
            if stmt_g is None or _baseline_snapshot(g, module):
                continue
            ended = _graph_block_ended_before(g, stmt_g, module, project)
            if ended is not None and len(ended) == 3:
                block, builder, call = ended
                cm = call.module
                yield self.finding(module, g.node, (
                    f"UPDATE_OPS is collected from the default graph at {module.line_ref(g.node.lineno)}, in "
                    f"`{g.scope.name}`, which is only called ({_at(cm, call.node.lineno, module)}) after the "
                    f"`with {ast.unparse(block.items[0].context_expr)}:` block ({_at(cm, block.lineno, module)}) that builds the "
                    f"batch-norm layers ({_at(cm, builder.node.lineno, module)}) has ended: that graph's update ops are not in "
                    "this list, so it is empty and the moving statistics never update; read that graph's collection "
                    "(`graph.get_collection(...)`) or collect inside its `with` block"))
                continue
            if ended is not None:
                block, builder = ended
                yield self.finding(module, g.node, (
                    f"UPDATE_OPS is collected from the default graph at {module.line_ref(g.node.lineno)}, after the "
                    f"`with {ast.unparse(block.items[0].context_expr)}:` block ({module.line_ref(block.lineno)}) that builds the "
                    f"batch-norm layers ({module.line_ref(builder.node.lineno)}) has ended: that graph's update ops are not in this "
                    "list, so it is empty and the moving statistics never update; collect inside the `with` block"))
                continue
            first = _first_builders(module, project).get(id(g.scope))
            if first is None or (first.node.lineno, first.node.col_offset) < (stmt_g.lineno, stmt_g.col_offset) \
                    or _in_loop_with(g.node, first.node, module):
                # nothing built in this scope, some BN is built before the collection is read, or the
                # read sits in a loop that builds (multi-tower): unless it filters on its own block's
                # fresh name scope, whose BN layers are all built after it
                scoped = _scoped_read_before_block_builds(g, stmt_g, module, project)
                if scoped is not None:
                    block, builder = scoped
                    opener = next((it.context_expr for it in block.items if it.optional_vars is not None),
                                  block.items[0].context_expr)
                    looped = any(isinstance(a, (ast.For, ast.While, ast.AsyncFor)) for a in module.ancestors(block))
                    yield self.finding(module, g.node, (
                        f"UPDATE_OPS is collected at {module.line_ref(g.node.lineno)} with the name scope of the "
                        f"`with {ast.unparse(opener)}` block ({module.line_ref(block.lineno)}) as "
                        f"filter, before that block builds its batch-norm layers ({module.line_ref(builder.node.lineno)}): "
                        f"no op of that new scope exists yet, so the list is empty{' at every pass of the loop' if looped else ''} and "
                        "the moving statistics never update; collect after the layers of the block are built"))
                continue
            train_op = _train_op_after(g, module, project)
            target = train_op or g
            yield self.finding(module, target.node, (
                f"UPDATE_OPS is collected at {module.line_ref(g.node.lineno)}, before the batch-norm layers are built "
                f"({module.line_ref(first.node.lineno)}): the list is empty and the moving statistics never update; "
                "call `tf.get_collection(tf.GraphKeys.UPDATE_OPS)` after building the model"))


_BASELINE_WRAPPERS = frozenset(("len", "set", "frozenset", "list", "tuple"))
_WAITING_CALLS = frozenset(("control_dependencies", "group", "tuple"))


def _layer_updates_before_call(module: Module, project: Project) -> Iterator[tuple]:
    """(read, constructor, layer text) for ``X.updates`` read in the function that has just created
    the BN layer object ``X = tf.layers.BatchNormalization(...)`` (``self.bn = ...`` in ``__init__``,
    or a local), before anything can have called it, when that snapshot is what the program waits
    on: read inside ``control_dependencies``/``tf.group`` or bound to a name or attribute (stored
    nowhere else) that is read there. A layer creates its update ops when it is called, so the list
    is empty. Nothing is reported when a call between the two may call the layer (the layer itself,
    a method of ``self``, ``super()``, anything handed the layer or ``self``)."""
    from bnguard.lint.tf1_facts import KERAS_BN_CLASSES, LAYERS_BN_CLASSES

    if not module.mentions(".updates") or not module.mentions("BatchNormalization") \
            or not _program_trains(module, project):
        return
    reported: set = set()
    for c in module.calls:
        if c.qualname not in LAYERS_BN_CLASSES and c.qualname not in KERAS_BN_CLASSES:
            continue
        st = module.parent(c.node)
        if not (isinstance(st, ast.Assign) and len(st.targets) == 1 and st.value is c.node):
            continue
        target = st.targets[0]
        if isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name) and target.value.id == "self":
            base = "self"
        elif isinstance(target, ast.Name):
            base = target.id
        else:
            continue
        layer = dotted(target)
        owner = c.scope if c.scope is not None else module.tree
        if c.scope is None or layer is None:
            continue  # module level: the layer may be called by any function before the read runs
        for node in astwalk.walk(owner):
            if not (isinstance(node, ast.Attribute) and node.attr == "updates" and isinstance(node.ctx, ast.Load)
                    and dotted(node.value) == layer and module.scope_of(node) is c.scope):
                continue
            if (node.lineno, node.col_offset) <= (st.lineno, st.col_offset):
                continue
            if _may_call_layer_between(owner, st, node, base, layer, module):
                continue
            read_st = module.statement_of(node)
            if id(read_st) in reported or not _snapshot_waited_on(node, owner, module, project):
                continue
            reported.add(id(read_st))  # one finding per statement (``bn1.updates + bn2.updates``)
            yield node, c.node, layer
            break


def _may_call_layer_between(owner: ast.AST, ctor: ast.stmt, read: ast.AST, base: str, layer: str,
                            module: Module) -> bool:
    """May the layer ``layer`` be called between its construction ``ctor`` and ``read`` (a call of
    it, of a method of ``self``, of ``super()``, a call handed the layer or its owner, any call in a
    loop around the read, a nested function that sees the name)?"""
    start = (ctor.lineno, ctor.col_offset)
    end = (read.lineno, read.col_offset)
    loops = [a for a in module.ancestors(read) if isinstance(a, (ast.For, ast.AsyncFor, ast.While))
             and _inside_node(a, owner, module)]
    around = {id(a) for a in module.ancestors(read)}  # ``list(layer.updates)`` reads, it does not call
    for node in astwalk.walk(owner):
        if node is not owner and isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)) \
                and any(isinstance(n, ast.Name) and n.id == base for n in astwalk.walk(node)):
            return True
        if not isinstance(node, ast.Call) or node is ctor.value or id(node) in around:
            continue
        pos = (node.lineno, node.col_offset)
        if not (start < pos < end) and not any(_inside_node(node, lp, module) for lp in loops):
            continue
        func = node.func
        callee = dotted(func) or ""
        if callee == layer or callee.startswith(layer + ".") or callee == base or callee.startswith(base + "."):
            return True
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Call):
            return True  # ``super().__init__(...)``, ``self.get_model().build(...)``
        for a in list(node.args) + [k.value for k in node.keywords]:
            if any(isinstance(n, ast.Name) and n.id == base for n in astwalk.walk(a)):
                return True
    return False


def _snapshot_waited_on(read: ast.AST, owner: ast.AST, module: Module, project: Project) -> bool:
    """Does the program wait on the list ``read`` evaluates to: inside ``control_dependencies(...)``
    / ``tf.group(...)``, or bound (with ``+``, list displays, ``list(...)``) to a name of ``owner``
    or an attribute stored nowhere else that is read inside one of those in the program?"""
    child, parent = read, module.parent(read)
    while isinstance(parent, (ast.BinOp, ast.List, ast.Tuple, ast.Starred)) or (
            isinstance(parent, ast.Call) and dotted(parent.func) in ("list", "tuple") and child in parent.args):
        child, parent = parent, module.parent(parent)
    if isinstance(parent, ast.Call) and (dotted(parent.func) or "").rsplit(".", 1)[-1] in _WAITING_CALLS:
        return True
    if not (isinstance(parent, ast.Assign) and len(parent.targets) == 1 and parent.value is child):
        return False
    target = parent.targets[0]
    if isinstance(target, ast.Name):
        name, attr = target.id, False
    elif isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name) and target.value.id == "self":
        name, attr = target.attr, True
    else:
        return False
    program = same_program(module, project)
    places = [(m, m.tree) for m in project.modules if id(m) in program and m.mentions(name)] if attr \
        else [(module, owner)]
    waited = False
    for m, tree in places:
        for node in astwalk.walk(tree):
            hit = (isinstance(node, ast.Attribute) and node.attr == name) if attr else \
                (isinstance(node, ast.Name) and node.id == name)
            if not hit:
                continue
            if not isinstance(node.ctx, ast.Load):
                if node is not target:
                    return False  # bound again: the read may see another list
                continue
            for anc in m.ancestors(node):
                if isinstance(anc, ast.Call) and (dotted(anc.func) or "").rsplit(".", 1)[-1] in _WAITING_CALLS:
                    waited = True
                    break
                if isinstance(anc, (ast.stmt, ast.Lambda)):
                    break
    return waited


def _baseline_snapshot(g, module: Module) -> bool:
    """Is this read of UPDATE_OPS only a baseline to diff a later read against, not the ops to run?
    ``n = len(tf.get_collection(UPDATE_OPS))`` / ``before = tf.get_collection(UPDATE_OPS)`` (or
    ``set(...)`` of it) whose name is only ever counted (``len(before)``) or tested for membership
    (``op not in before``): the helper then runs ``get_collection(UPDATE_OPS)[len(before):]``, the
    update ops its own layer has just added (``updates_collections=None`` semantics). An empty
    snapshot is what that code wants."""
    node = g.node
    parent = module.parent(node)
    while isinstance(parent, ast.Call) and isinstance(parent.func, ast.Name) and parent.func.id in _BASELINE_WRAPPERS \
            and parent.args and parent.args[0] is node and len(parent.args) == 1 and not parent.keywords:
        if parent.func.id == "len":
            return True
        node, parent = parent, module.parent(parent)
    if not (isinstance(parent, ast.Assign) and len(parent.targets) == 1 and isinstance(parent.targets[0], ast.Name)
            and parent.value is node):
        return False
    name = parent.targets[0].id
    root = g.scope if g.scope is not None else module.tree
    uses = 0
    for n in astwalk.walk(root):
        if not (isinstance(n, ast.Name) and n.id == name):
            continue
        if isinstance(n.ctx, ast.Store):
            if n is not parent.targets[0]:
                return False  # rebound: the name may hold the ops to run elsewhere
            continue
        up = module.parent(n)
        if isinstance(up, ast.Call) and isinstance(up.func, ast.Name) and up.func.id == "len" and up.args == [n]:
            uses += 1
        elif isinstance(up, ast.Compare) and any(c is n for c in up.comparators) and all(
                isinstance(op, (ast.In, ast.NotIn)) for op in up.ops):
            uses += 1
        else:
            return False
    return uses > 0


def _scoped_read_before_block_builds(g, stmt_g: ast.AST, module: Module, project: Project):
    """``with tf.name_scope("tower_%d" % i) as scope:`` whose first statements read
    ``tf.get_collection(UPDATE_OPS, scope)`` and then build the tower (``loss = tower_loss(...)``): the
    filter is the block's new, unique name scope and the update ops a BN layer adds are named inside
    it only once the layer is built, so the read is empty on every entry of the block (multi-tower
    loops included). Returns (the with block, the first BN builder after the read in it) or None.

    Not when: something before the read in the block may build BN (a call we cannot follow); a loop
    or a function lies between the block and the read; the read is not the program's only way to the
    update ops (another UPDATE_OPS read or mention, a wiring helper, a self-wiring framework, eager
    or Keras-fit training); no BN layer of the program puts trainable-mode updates in UPDATE_OPS."""
    ctx = train_context(project)
    if not any(c is g for c in ctx.update_consumers):
        return None  # a read nothing uses runs nothing either way (BN103 reports it)
    block = _scope_block_named_by(_kw_or_pos(g.node, "scope", 1), module, filter_only=False)
    if block is None:
        return None
    between = []
    for a in module.ancestors(g.node):
        if a is block:
            break
        between.append(a)
    else:
        return None  # the read is not inside the block
    if any(isinstance(a, (ast.For, ast.While, ast.AsyncFor, ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda,
                          ast.ClassDef, ast.comprehension, ast.ListComp, ast.SetComp, ast.DictComp,
                          ast.GeneratorExp)) for a in between):
        return None
    # every statement of the block that runs before the read, level by level
    chain = [stmt_g] + [a for a in between if isinstance(a, ast.stmt)]
    for inner in chain:
        holder = module.parent(inner)
        for field in ("body", "orelse", "finalbody", "handlers"):
            seq = getattr(holder, field, None)
            if isinstance(seq, list) and any(x is inner for x in seq):
                for prior in seq[:next(i for i, x in enumerate(seq) if x is inner)]:
                    if _block_may_build_bn(prior, module, project):
                        return None
        if isinstance(holder, (ast.With, ast.AsyncWith)) and holder is not block:
            if any(_block_may_build_bn(item.context_expr, module, project) for item in holder.items):
                return None
    builders = _bn_builder_names(project)
    end = (getattr(block, "end_lineno", 0) or 0, getattr(block, "end_col_offset", 0) or 0)
    start = (stmt_g.end_lineno or stmt_g.lineno, stmt_g.end_col_offset or 0)
    builder = next((c for c in module.calls if c.scope is g.scope and start <= (c.node.lineno, c.node.col_offset) <= end
                    and any(a is block for a in module.ancestors(c.node))
                    and (_builds_bn(c, project) or (c.name in builders and _calls_project_builder(c, project)))), None)
    if builder is None:
        return None
    program = same_program(module, project)
    if (ctx.self_wiring_modules | ctx.keras_training_modules) & program or _runs_eagerly(module, program, ctx) \
            or any(id(c.module) in program for c in ctx.wiring_helpers):
        return None
    for m in project.modules:
        if id(m) in program and any(not _names_update_collection(r, m) for r in m.references.get("UPDATE_OPS", ())):
            return None  # ``add_to_collection``, ``graph.get_collection``, ``create_train_op``...: another way
    if any(c is not g and id(c.module) in program and not _baseline_snapshot(c, c.module)
           for c in ctx.update_consumers):
        return None
    if not any(id(s.module) in program for s in _update_sites(project)):
        return None
    return block, builder


def _names_update_collection(ref: ast.AST, module: Module) -> bool:
    """Is this mention of ``UPDATE_OPS`` the key of a ``tf.get_collection`` read (counted with the
    reads) or the collection a BN layer puts its updates in (``updates_collections=tf.GraphKeys.
    UPDATE_OPS``, as a keyword or a ``batch_norm_params`` dict entry)? Neither runs the update ops."""
    p = module.parent(ref)
    if isinstance(p, ast.Call) and p.func is not ref and (module.imports.resolve(p.func) or "").endswith(
            ("get_collection", "get_collection_ref")):
        return True
    if isinstance(p, ast.keyword):
        return p.arg == "updates_collections"
    if isinstance(p, ast.Dict):
        return any(v is ref and isinstance(k, ast.Constant) and k.value == "updates_collections"
                   for k, v in zip(p.keys, p.values))
    return False


def _first_builders(module: Module, project: Project) -> dict:
    """scope id -> the first call in that scope that builds a BN layer (directly or through a
    project function that builds one). One pass over the module's calls."""
    def compute(p: Project) -> dict:
        builders = _bn_builder_names(p)
        out: dict = {}
        for c in module.calls:  # sorted by position
            if id(c.scope) in out:
                continue
            if _builds_bn(c, p) or (c.name in builders and _calls_project_builder(c, p)):
                out[id(c.scope)] = c
        return out
    return project.fact(f"tf1.first_builders:{id(module)}", compute)


def _runs_eagerly(module: Module, program: set, ctx) -> bool:
    """Is the train op of ``module`` run eagerly (then there are no update ops to wire)? Yes when the
    module itself is eager code, or when its program is and no module of it runs a graph-mode
    session: a notebook that enables eager execution and imports the model says nothing about the
    training script that runs the same model in a ``tf.Session``."""
    if id(module) in ctx.eager_modules:
        return True
    if not ctx.eager_modules & program:
        return False
    return not (ctx.session_modules - ctx.eager_modules) & program


_V1_GRAPH_SWITCHES = frozenset({"tensorflow.disable_eager_execution", "tensorflow.disable_v2_behavior",
                                "tensorflow.Session", "tensorflow.InteractiveSession",
                                "tensorflow.train.MonitoredTrainingSession"})


def _builds_v1_graph(program: set, project: Project) -> bool:
    """Does the program switch to graph mode or run a v1 session (``tf.compat.v1.disable_eager_execution()``,
    ``disable_v2_behavior()``, ``tf.compat.v1.Session()``)? Keras code of an eager TF2 program never is."""
    return any(c.qualname in _V1_GRAPH_SWITCHES for m in project.modules if id(m) in program for c in m.calls)


def _may_train_keras_bn(site: BNSite, project: Project, program: set) -> bool:
    """Is the standalone-Keras layer called with a ``training=`` flag that can be a Python True? Not
    a literal None/False, not a ``training=None`` parameter that only ever forwards None, not a
    placeholder (Keras 3 rejects a tensor flag in a v1 graph: that code fails loudly, it does not
    freeze), and not a batch-statistics-by-design layer (a GAN / meta-learning program, or
    ``training=True`` written at the layer in a program that never reads or exports the statistics)."""
    if site.flag_expr is None or (isinstance(site.flag_expr, ast.Constant) and not site.flag_expr.value):
        return False
    if site.flag is V.UNKNOWN:
        return not (_none_parameter(site) and _training_only_forwarded(project, program))
    if not any(v is True or (not isinstance(v, V.MARKERS) and v is not None and bool(v)) for v in site.flag):
        return False
    if V.always_true_values(site.flag) and (deliberate_in_program(site.module, project)
                                            or _literal_true_never_exported(site, project)):
        return False
    return True


def _v1_optimizer(call: ast.Call, module: Module, project: Project) -> bool:
    """Is ``minimize``/``apply_gradients`` called on a v1 optimizer (``tf.compat.v1.train.AdamOptimizer(...)``,
    directly or through a name bound once), not a Keras optimizer?"""
    receiver = call.func.value if isinstance(call.func, ast.Attribute) else None
    if isinstance(receiver, ast.Name):
        receiver = V.resolver(project).single_value(receiver.id, module, module.scope_of(receiver))
    if not isinstance(receiver, ast.Call):
        return False
    q = module.imports.resolve(receiver.func) or ""
    return q.startswith("tensorflow.train.") and q.endswith("Optimizer")


def _scope_filter_misses(c, program: set, project: Project) -> bool:
    """``tf.get_collection(UPDATE_OPS, scope)`` whose filter can match no BN update op: the filter is a
    prefix match on op names, and an update op is named after the scopes its BN layer is built in.

    - A literal scope (``"enc/"``) that matches no scope name the program writes (``variable_scope``/
      ``name_scope`` names, ``scope=``/``name=`` arguments): a misspelt scope; or that matches only
      ``with name_scope("<literal>")`` / ``variable_scope`` blocks in which no BN layer can be built.
    - The name scope a ``with tf.name_scope("train") as scope:`` block binds (or
      ``variable_scope("x") as vs`` with ``vs.original_name_scope``), used for nothing else, when no
      BN layer can be built inside that block (the network was built before, in another scope)."""
    arg = _kw_or_pos(c.node, "scope", 1)
    block = _scope_block_named_by(arg, c.module)
    if block is not None:
        return not _block_may_build_bn(block, c.module, project)
    if not (isinstance(arg, ast.Constant) and isinstance(arg.value, str) and arg.value):
        return False
    first = arg.value.split("/")[0]
    exact = "/" in arg.value  # "enc/" needs a scope named exactly "enc"; "gen" matches "generator/..."
    names = _scope_names(project, frozenset(program)) | {"batch_normalization", "BatchNorm"}  # default layer scopes
    if "" in names:
        return False  # some scope name is computed: it may be the one the filter names
    if not any((n == first) if exact else n.startswith(first) for n in names):
        return True
    if first in ("batch_normalization", "BatchNorm") or (not exact and any(
            n.startswith(first) for n in ("batch_normalization", "BatchNorm"))):
        return False
    blocks = _scope_blocks_matching(first, exact, project, frozenset(program))
    if blocks is not None and not any(_block_may_build_bn(w, m, project) for m, w in blocks):
        return True
    return exact and _later_entry_trains(c, program, project) is not None


_GRAPH_WORDS = ("as_default", "Graph", "reset_default_graph")


def _later_entry_trains(c, program: set, project: Project) -> Optional[tuple]:
    """``get_collection(UPDATE_OPS, scope="resnet/")`` (a filter that names the scope exactly, with
    its "/") when the one ``with variable_scope("resnet")`` (or ``name_scope``) block of the program
    sits in a builder that one function calls several times in the same graph, the FIRST call
    building its BN layers with training False (``tower(val_x, is_training=False)``: no update ops)
    and a later one with a flag that may be True. Re-entering a scope by its string name opens a new,
    uniquified NAME scope (``resnet_1/``, however ``reuse`` shares the variables), and update ops are
    named by name scope: the filter matches only the first entry's ops, none of the training
    tower's. Returns (the block's module, the block, the first call, the training call) or None."""
    arg = _kw_or_pos(c.node, "scope", 1)
    first = arg.value.split("/")[0] if isinstance(arg, ast.Constant) and isinstance(arg.value, str) else ""
    if not first:
        return None
    blocks = _scope_blocks_matching(first, True, project, frozenset(program))
    if not blocks or len(blocks) != 1:
        return None
    m, block = blocks[0]
    opener = next((it.context_expr for it in block.items if isinstance(it.context_expr, ast.Call)
                   and (dotted(it.context_expr.func) or "").rsplit(".", 1)[-1] in ("variable_scope", "name_scope")
                   and it.context_expr.args and isinstance(it.context_expr.args[0], ast.Constant)
                   and it.context_expr.args[0].value == first
                   and not any(kw.arg in ("auxiliary_name_scope", None) for kw in it.context_expr.keywords)), None)
    fn = m.scope_of(block)
    if opener is None or not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)) or any(
            isinstance(a, (ast.For, ast.While, ast.AsyncFor)) for a in m.ancestors(block) if a is not fn
            and any(x is fn for x in m.ancestors(a))):
        return None
    params = {a.arg for a in fn.args.posonlyargs + fn.args.args + fn.args.kwonlyargs}
    sites = [s for s in bn_sites(project) if s.module is m and any(a is block for a in m.ancestors(s.node))]
    flags = {s.flag_expr.id for s in sites if isinstance(s.flag_expr, ast.Name) and s.flag_expr.id in params}
    if len(flags) != 1 or len(sites) != sum(1 for s in sites if isinstance(s.flag_expr, ast.Name)):
        return None
    flag = next(iter(flags))
    if any(isinstance(n, ast.Name) and n.id == flag and isinstance(n.ctx, ast.Store) for n in astwalk.walk(fn)):
        return None
    calls = [k for k in project.call_sites(fn.name) if id(k.module) in program]
    if len(calls) < 2 or any(k.module is not calls[0].module or k.scope is not calls[0].scope for k in calls):
        return None
    cm, owner = calls[0].module, calls[0].scope
    if owner is None:
        return None
    for k in calls:
        if any(isinstance(a, (ast.For, ast.While, ast.AsyncFor, ast.comprehension, ast.ListComp, ast.GeneratorExp,
                              ast.Lambda)) for a in cm.ancestors(k.node) if any(x is owner for x in cm.ancestors(a))):
            return None  # towers built in a loop: the order is not the text's
    graph_blocks = {frozenset(id(a) for a in cm.ancestors(k.node) if isinstance(a, (ast.With, ast.AsyncWith))
                              and any(w in ast.unparse(it.context_expr) for it in a.items for w in _GRAPH_WORDS))
                    for k in calls}
    if len(graph_blocks) != 1 or any(k.name == "reset_default_graph" for k in cm.calls if k.scope is owner):
        return None  # the calls build different graphs
    calls.sort(key=lambda k: (k.node.lineno, k.node.col_offset))
    method = isinstance(calls[0].node.func, ast.Attribute) and fn.args.args[:1] and fn.args.args[0].arg == "self"

    def values(k):
        passed, explicit = kf.argument_for(k.node, fn, flag, is_method_call=bool(method))
        return V.UNKNOWN if passed is None else V.possible_values(passed, cm, project)

    head = values(calls[0])
    if head is V.UNKNOWN or head != frozenset({False}):
        return None
    for k in calls[1:]:
        vals = values(k)
        if vals is V.UNKNOWN or any(v is True or (not isinstance(v, V.MARKERS) and v is not None and bool(v))
                                    or isinstance(v, V.Placeholder) for v in vals):
            return m, block, calls[0], k
    return None


def _fresh_scope_name(expr: Optional[ast.AST]) -> bool:
    """Does ``name_scope(expr)`` open a new scope: a string (literal, f-string, ``"%"``/``format``
    template) that does not end with "/" (a name ending with "/" re-enters an existing scope)?"""
    if isinstance(expr, ast.Constant):
        return isinstance(expr.value, str) and bool(expr.value) and not expr.value.endswith("/")
    if isinstance(expr, ast.JoinedStr):
        last = expr.values[-1] if expr.values else None
        return not (isinstance(last, ast.Constant) and str(last.value).endswith("/"))
    if isinstance(expr, ast.BinOp) and isinstance(expr.op, ast.Mod):
        return _fresh_scope_name(expr.left)
    if isinstance(expr, ast.Call) and isinstance(expr.func, ast.Attribute) and expr.func.attr == "format":
        return _fresh_scope_name(expr.func.value)
    return False


def _scope_block_named_by(arg: Optional[ast.AST], module: Module, filter_only: bool = True) -> Optional[ast.With]:
    """The ``with`` block whose new name scope ``arg`` is: ``scope`` bound by ``with
    tf.name_scope("train") as scope`` or ``vs.original_name_scope`` of ``with tf.variable_scope("x") as
    vs``, the name bound nowhere else and (``filter_only``) used only as a ``get_collection`` filter (a
    tower scope handed to the model builder may well hold BN layers)."""
    name, attr = None, None
    if isinstance(arg, ast.Name):
        name = arg.id
    elif isinstance(arg, ast.Attribute) and isinstance(arg.value, ast.Name) and arg.attr == "original_name_scope":
        name, attr = arg.value.id, arg.attr
    if name is None:
        return None
    owner = module.scope_of(arg)
    root = owner if owner is not None else module.tree
    binders = [n for n in astwalk.walk(root) if name in _names_bound_by(n)]
    if len(binders) != 1 or not isinstance(binders[0], ast.withitem):
        return None
    item = binders[0]
    if not (isinstance(item.optional_vars, ast.Name) and isinstance(item.context_expr, ast.Call)):
        return None
    opener = item.context_expr
    kind = (module.imports.resolve(opener.func) or dotted(opener.func) or "").rsplit(".", 1)[-1]
    if (kind, attr) not in (("name_scope", None), ("variable_scope", "original_name_scope")):
        return None
    if not (opener.args and _fresh_scope_name(opener.args[0])):
        return None
    parents = {id(ch): p for p in astwalk.walk(root) for ch in ast.iter_child_nodes(p)}
    for n in (astwalk.walk(root) if filter_only else ()):
        if isinstance(n, ast.Name) and n.id == name and isinstance(n.ctx, ast.Load):
            value = n if attr is None else parents.get(id(n))
            if attr is not None and not (isinstance(value, ast.Attribute) and value.attr == attr):
                return None
            used = parents.get(id(value))
            if not (isinstance(used, ast.Call) and value in used.args + [k.value for k in used.keywords]
                    and (dotted(used.func) or "").endswith(("get_collection", "get_collection_ref"))):
                return None
    with_node = next((p for p in module.ancestors(opener) if isinstance(p, (ast.With, ast.AsyncWith))), None)
    return with_node if with_node is not None and item in with_node.items else None


def _names_bound_by(node: ast.AST) -> set:
    """The names one binding construct binds (its targets only, not the names bound in a loop body)."""
    if isinstance(node, ast.Assign):
        targets = node.targets
    elif isinstance(node, (ast.AugAssign, ast.AnnAssign, ast.For, ast.AsyncFor, ast.NamedExpr, ast.comprehension)):
        targets = [node.target]
    elif isinstance(node, ast.withitem):
        targets = [node.optional_vars] if node.optional_vars is not None else []
    elif isinstance(node, ast.arguments):
        return {a.arg for a in node.posonlyargs + node.args + node.kwonlyargs + [node.vararg, node.kwarg] if a}
    elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {node.name}
    elif isinstance(node, (ast.Import, ast.ImportFrom)):
        return {a.asname or a.name.split(".")[0] for a in node.names}
    elif isinstance(node, ast.ExceptHandler):
        return {node.name} if node.name else set()
    else:
        return set()
    return {t.id for tgt in targets for t in astwalk.walk(tgt) if isinstance(t, ast.Name)}


def _scope_blocks_matching(first: str, exact: bool, project: Project, program: frozenset) -> Optional[list]:
    """Every ``with name_scope/variable_scope("<literal>")`` block of the program whose scope name has
    a part matching the filter's first part, or None when some other scope-writing call matches
    (``name="train"`` of a layer, ``make_template("train", ...)``): those may hold BN layers."""
    out = []
    for m in project.modules:
        if id(m) not in program:
            continue
        for call in m.calls:
            if call.name in ("get_collection", "get_collection_ref", "trainable_variables", "global_variables",
                             "get_tensor_by_name", "get_operation_by_name"):
                continue
            strings = []
            if call.name in ("variable_scope", "name_scope", "VariableScope", "make_template") and call.node.args:
                strings.append(call.node.args[0])
            strings.extend(k.value for k in call.node.keywords if k.arg in _SCOPE_KEYWORDS)
            for st in strings:
                if not (isinstance(st, ast.Constant) and isinstance(st.value, str)):
                    continue
                if not any((p == first) if exact else p.startswith(first) for p in st.value.split("/") if p):
                    continue
                with_node = m.parent(m.parent(call.node)) if isinstance(m.parent(call.node), ast.withitem) else None
                if not (call.name in ("variable_scope", "name_scope") and st is call.node.args[0]
                        and isinstance(with_node, (ast.With, ast.AsyncWith))):
                    return None
                out.append((m, with_node))
    return out


_NON_BUILDING_METHODS = frozenset((
    "minimize", "compute_gradients", "apply_gradients", "get_slot", "get_slot_names", "variables",
    "assign", "assign_add", "assign_sub", "get_shape", "set_shape", "as_list", "append", "extend", "items",
    "keys", "values", "get", "format", "join", "update",
))
_BUILTIN_NAMES = frozenset(dir(builtins))
_BN_API_NAMES = frozenset(("batch_norm", "batch_normalization", "BatchNormalization", "BatchNorm", "normalizer_fn"))


def _block_may_build_bn(block: ast.AST, module: Module, project: Project) -> bool:
    """May a BN layer be built while ``block`` runs? Yes for a BN call or any mention of a project name
    that builds BN (called, or handed to ``slim.repeat``), and for any call we cannot follow: a call of a
    local callable (``model(x)``, a template), a method of an unknown object that is not a known
    optimizer/tensor/container method. Library calls (``tf.losses...``, ``tf.train.AdamOptimizer(...)
    .minimize``) and project functions that build no BN cannot."""
    sites = project.fact("tf1.bn_site_nodes", lambda p: {id(s.node) for s in bn_sites(p)})
    builders = _bn_builder_names(project)
    program = same_program(module, project)
    defined = project.fact("tf1.defined_names:" + ",".join(map(str, sorted(program))), lambda p: {
        d.name for m in p.modules if id(m) in program for d in list(m.functions) + list(m.classes)})
    scope = module.scope_of(block)
    built = call_assignments(scope if scope is not None else module.tree)
    res = V.resolver(project)
    for n in astwalk.walk(block):
        if isinstance(n, (ast.Name, ast.Attribute)) and not (module.imports.resolve(n) or "").startswith(_LIBRARY_ROOTS):
            word = n.id if isinstance(n, ast.Name) else n.attr
            if word in _BN_API_NAMES:
                return True
            if word in builders and word in defined:  # a BN builder called or handed on (``slim.repeat``)
                found = res.binding_of(word, module, module.scope_of(n)) if isinstance(n, ast.Name) else None
                if not (found and found[1] is not None and all(b.kind in ("expr", "param") for b in found[0])):
                    return True  # (a local variable or parameter of that name is no function)
        if not isinstance(n, ast.Call):
            continue
        if id(n) in sites:
            return True
        f = n.func
        if (module.imports.resolve(f) or "").startswith(_LIBRARY_ROOTS):
            continue
        if isinstance(f, ast.Name):
            if f.id in defined or (f.id in _BUILTIN_NAMES and res.binding_of(f.id, module, module.scope_of(n)) is None):
                continue
            return True  # a callable object (``model(x)``, a ``make_template`` result)
        if not isinstance(f, ast.Attribute):
            return True
        if f.attr in defined or f.attr in _NON_BUILDING_METHODS:
            continue
        receiver = built.get(f.value.id, []) if isinstance(f.value, ast.Name) else []
        if receiver and all((module.imports.resolve(b.func) or "").startswith(_LIBRARY_ROOTS) for b in receiver):
            continue  # ``ema = tf.train.ExponentialMovingAverage(...)``; ``ema.apply(...)``
        return True
    return False


_SCOPE_KEYWORDS = ("scope", "name", "default_name", "name_", "name_or_scope")


def _scope_names(project: Project, program: frozenset) -> set:
    def compute(p: Project) -> set:
        out: set = set()
        for m in p.modules:
            if id(m) not in program:
                continue
            for call in m.calls:
                if call.name in ("get_collection", "get_collection_ref", "trainable_variables", "global_variables",
                                 "get_tensor_by_name", "get_operation_by_name"):
                    continue  # these read scopes; they do not build any
                strings = []
                if call.name in ("variable_scope", "name_scope", "VariableScope", "make_template") and call.node.args:
                    strings.append(call.node.args[0])
                strings.extend(k.value for k in call.node.keywords if k.arg in _SCOPE_KEYWORDS)
                for st in strings:
                    if isinstance(st, ast.Constant) and isinstance(st.value, str):
                        out.update(part for part in st.value.split("/") if part)
                    else:
                        out.add("")  # a computed name: it could be anything
        return out
    return project.fact("tf1.scope_names:" + ",".join(map(str, sorted(program))), compute)


def _keras_learning_phase_frozen(site: BNSite, project: Project) -> bool:
    """A ``tf.keras`` BN layer called in a TF1 graph with no training flag (or ``training=None``
    through every call site): it follows ``K.learning_phase()``, a placeholder that defaults to
    False. When nothing in its program sets the learning phase or feeds it, and the program runs a
    graph-mode session (not ``fit``, not eager), the layer is frozen in inference mode."""
    if site.api != "keras":
        return False
    ctx = train_context(project)
    program = same_program(site.module, project)
    if not (site.flag_expr is None or site.flag == frozenset([None])
            or _none_parameter(site) and _training_only_forwarded(project, program)):
        return False
    if not (ctx.session_modules & program or _in_estimator_train_graph(site, project)) \
            or (ctx.eager_modules | ctx.keras_training_modules) & program:
        return False
    return not any(m.mentions("learning_phase") and (
        m.references.get("learning_phase") or any(c.name in ("set_learning_phase", "learning_phase") for c in m.calls))
        for m in project.modules if id(m) in program)


def _in_estimator_train_graph(site: BNSite, project: Project) -> bool:
    """The Keras BN is built by an Estimator ``model_fn`` that returns a train op
    (``EstimatorSpec(train_op=...)``): the Estimator builds a v1 graph, where the learning phase
    defaults to 0. Only when ``mode`` (or anything else) never reaches a ``training=`` argument in the
    program — a Keras model called with ``training=`` passes it down to the layers it calls — and
    the program neither runs the Keras updates nor touches UPDATE_OPS (wired code is left alone)
    nor freezes layers (``layer.trainable = False``, a frozen backbone)."""
    ctx = train_context(project)
    program = same_program(site.module, project)
    estimators = [m for m in project.modules if id(m) in ctx.estimator_modules & ctx.trained_modules & program]
    if not estimators or ctx.session_modules & program:
        return False
    if (ctx.layer_updates_modules | ctx.other_update_ref_modules | ctx.frozen_layer_modules) & program \
            or any(id(c.module) in program for c in ctx.update_consumers + ctx.dead_collections + ctx.wiring_helpers):
        return False
    if not _training_only_forwarded(project, program):
        return False
    return any(site_in_graph_of(site, em, project) for em in estimators)


def _none_parameter(site: BNSite) -> bool:
    """``self.norm(x, training=training)`` where ``training`` is a parameter defaulting to None."""
    expr = site.flag_expr
    if not isinstance(expr, ast.Name):
        return False
    fn = site.module.scope_of(site.node)
    if fn is None or isinstance(fn, ast.Lambda):
        return False
    default = kf._param_index(fn, expr.id)[1]
    return isinstance(default, ast.Constant) and default.value is None


def _training_only_forwarded(project: Project, program: set) -> bool:
    """Every ``training=`` that the program passes is None or a parameter handed on unchanged
    whose own default is None (``block(x, training=training)`` down from ``net(features)``):
    nothing ever asks for training mode, so the learning phase decides."""
    memo: dict = project.fact("tf1.training_only_forwarded", lambda p: {})  # type: ignore[assignment]
    key = frozenset(program)
    if key not in memo:
        memo[key] = _compute_training_only_forwarded(project, program)
    return memo[key]


def _compute_training_only_forwarded(project: Project, program: set) -> bool:
    for m in project.modules:
        if id(m) not in program:
            continue
        for c in m.calls:
            for kw in c.node.keywords:
                if kw.arg != "training":
                    continue
                v = kw.value
                if isinstance(v, ast.Constant) and v.value is None:
                    continue
                fn = c.scope
                if isinstance(v, ast.Name) and fn is not None and not isinstance(fn, ast.Lambda):
                    index, default, _found = kf._param_index(fn, v.id)
                    if index is not None and isinstance(default, ast.Constant) and default.value is None:
                        continue  # a positional parameter defaulting to None, handed on
                return False
    return True


def _untracked_in_call(site) -> bool:
    """A Keras BN layer constructed inside a layer's / model's ``call`` and kept in no attribute
    (``tf.keras.layers.BatchNormalization()(h)``, or a local name): the model does not track it, so
    its updates are in no ``model.updates`` (and a new layer is made on every call)."""
    m = site.module
    app = site.node
    ctor = app.func if isinstance(app, ast.Call) and isinstance(app.func, ast.Call) else None
    fn = m.scope_of(app)
    if fn is None or fn.name not in ("call", "__call__") or m.enclosing_class(fn) is None:
        return False
    if ctor is not None:
        return True
    callee = app.func if isinstance(app, ast.Call) else None
    return isinstance(callee, ast.Name)  # a local name bound in call (attributes of self are tracked)


def _as_default_block(node: ast.AST) -> bool:
    """``with graph.as_default():`` (any receiver but ``tf.get_default_graph()``, which changes nothing)."""
    if not isinstance(node, ast.With):
        return False
    for item in node.items:
        e = item.context_expr
        if isinstance(e, ast.Call) and isinstance(e.func, ast.Attribute) and e.func.attr == "as_default":
            recv = e.func.value
            if not (isinstance(recv, ast.Call) and (dotted(recv.func) or "").endswith("get_default_graph")):
                return True
    return False


def _graph_block_ended_before(g, stmt_g: ast.AST, module: Module, project: Project):
    """``with self._graph.as_default(): build()`` and then, after the block, the module-level
    ``tf.get_collection(UPDATE_OPS)``: it reads the default graph again, not the one the BN layers
    were built in. Returns (the with block, the BN builder call in it), or None. Not when the read
    names its graph (``graph.get_collection``), sits in any ``as_default`` block, or when some BN
    layer of the scope is built before it outside such a block (then the default graph has BN too)."""
    if not (g.qualname or "").startswith("tensorflow.") or not (g.qualname or "").endswith("get_collection"):
        return None
    if any(_as_default_block(a) for a in module.ancestors(g.node)):
        return None
    found = _ended_graph_block(g.scope, stmt_g, module, project)
    if found is not False:
        return found or None
    # Nothing built before the read in its own function: a method that only builds the train op,
    # called (``self._build_train_op()``) after the caller's graph block has ended.
    return _called_after_graph_block(g.scope, project)


def _called_after_graph_block(fn, project: Project):
    """(the with block, its BN builder, the call) when every call of the function ``fn`` in the project
    comes after a ``with graph.as_default():`` block of its caller that builds the BN layers, outside any
    ``as_default`` block, and ``fn`` is never used but called (not passed on as a callback): the default
    graph inside ``fn`` is then never that graph. None otherwise."""
    if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)) or fn.decorator_list:
        return None
    sites = project.call_sites(fn.name)
    if not sites or any(m.references.get(fn.name) for m in project.modules if m.mentions(fn.name)):
        return None  # never called, or handed on as a value
    found = None
    for k in sites:
        if k.scope is fn or any(_as_default_block(a) for a in k.module.ancestors(k.node)):
            return None
        stmt = k.module.statement_of(k.node)
        ended = _ended_graph_block(k.scope, stmt, k.module, project) if stmt is not None else None
        if not ended or not _fresh_graph_block(ended[0], k.scope, k.module):
            return None
        found = found or (*ended, k)
    return found


def _fresh_graph_block(block: ast.With, scope, module: Module) -> bool:
    """Is the graph of ``with <g>.as_default():`` created in ``scope`` itself (``tf.Graph().as_default()``,
    or ``self.graph = tf.Graph()`` before the block)? Then no caller can have made it the default graph."""
    for item in block.items:
        e = item.context_expr
        if not (isinstance(e, ast.Call) and isinstance(e.func, ast.Attribute) and e.func.attr == "as_default"):
            continue
        recv = e.func.value
        if isinstance(recv, ast.Call):
            return (module.imports.resolve(recv.func) or "") in ("tensorflow.Graph", "tensorflow.compat.v1.Graph")
        text = dotted(recv)
        if text is None:
            return False
        owner = scope if scope is not None else module.tree
        for st in astwalk.walk(owner):
            if isinstance(st, ast.Assign) and st.lineno < block.lineno and module.scope_of(st) is scope \
                    and any(dotted(t) == text for t in st.targets) and isinstance(st.value, ast.Call) \
                    and (module.imports.resolve(st.value.func) or "") in ("tensorflow.Graph", "tensorflow.compat.v1.Graph"):
                return True
        return False
    return False


def _ended_graph_block(scope, stmt_g: ast.AST, module: Module, project: Project):
    """For a statement of ``scope``: (the ``with graph.as_default()`` block that ended before it, the
    BN builder call in it) when every BN builder of ``scope`` before the statement is in such a block;
    False when nothing is built before it; None when some BN is built on the default graph."""
    owner = scope if scope is not None else module.tree
    builders = [c for c in module.calls if c.scope is scope and c.node.lineno < stmt_g.lineno and (
        _builds_bn(c, project) or (c.name in _bn_builder_names(project) and _calls_project_builder(c, project)))]
    if not builders:
        return False
    found = None
    for c in builders:
        block = next((a for a in module.ancestors(c.node) if _as_default_block(a)), None)
        if block is None:
            return None  # BN built on the default graph of this scope
        if found is None and getattr(block, "end_lineno", 0) < stmt_g.lineno and _inside_node(block, owner, module):
            found = (block, c)
    return found


def _inside_node(node: ast.AST, owner: ast.AST, module: Module) -> bool:
    return owner is module.tree or any(a is owner for a in module.ancestors(node))


def _in_loop_with(a: ast.AST, b: ast.AST, module: Module) -> bool:
    loops_a = {id(x) for x in module.ancestors(a) if isinstance(x, (ast.For, ast.While, ast.AsyncFor))}
    return any(id(x) in loops_a for x in module.ancestors(b) if isinstance(x, (ast.For, ast.While, ast.AsyncFor)))


def _builds_bn(c, project: Project) -> bool:
    sites = project.fact("tf1.bn_site_nodes", lambda p: {id(s.node) for s in bn_sites(p)})
    return id(c.node) in sites


_LIBRARY_ROOTS = ("tensorflow.", "keras.", "tf_keras.", "tf_slim.", "numpy.")


def _calls_project_builder(c, project: Project) -> bool:
    """May the call ``c`` (named like a project function that builds BN) run that function?
    ``obj.apply(...)`` cannot run a closure nested in another function (reached only through its
    enclosing function's return value), nor anything of the project when ``obj`` is a library
    object (``ema = tf.train.ExponentialMovingAverage(...)``; ``ema.apply(...)``)."""
    fns = project.functions(c.name)
    f = c.node.func
    if not fns and c.name in project.classes_by_name:
        return _constructor_builds_bn(c, project)
    if isinstance(f, ast.Name) and fns:
        # Python scoping: a function the calling module defines around the call (nested in an
        # enclosing function, or at module level) is the one that runs; an imported name is the
        # importing module's source (monorepos repeat names such as ``metric_fn`` everywhere)
        local = _scoped_definition(c, fns)
        if local is not None:
            return _body_builds_bn(local, project)
        fns = [fi for fi in fns if project.imports_name_from(c.module, c.name, fi.module)]
    if not fns or not isinstance(f, ast.Attribute):
        return bool(fns)
    # ``x.name(...)`` runs a method, or a module-level function only when ``x`` is an imported module
    # (``sess.run(...)`` is not another script's ``def run():``).
    receiver = f.value.id if isinstance(f.value, ast.Name) else None
    imported_module = (receiver is not None and receiver in c.module.imports.aliases
                       and not (c.module.imports.aliases[receiver] + ".").startswith(_LIBRARY_ROOTS))
    if not any(fi.cls is not None or (imported_module and fi.module.scope_of(fi.node) is None) for fi in fns):
        return False
    return not library_receiver(c, project)


def _constructor_builds_bn(c, project: Project) -> bool:
    """``Network(inputs, is_training)`` / ``models.Network(...)``: the call constructs a project class
    (the one the calling module can see under that name) whose ``__init__`` — its own, or a project
    base class's it inherits or calls through ``super().__init__`` — builds BN. A TensorLayer-style
    network object builds its layers in the constructor; a class that only builds in ``__call__`` or
    ``build`` builds nothing when constructed."""
    f = c.node.func
    if isinstance(f, ast.Name):
        classes = [(k, m) for k, m in project.classes_by_name.get(c.name, ())
                   if project.imports_name_from(c.module, c.name, m)]
    elif isinstance(f, ast.Attribute):
        home = project.attribute_module(c.module, f)
        classes = [(k, m) for k, m in project.classes_by_name.get(c.name, ()) if m is home]
    else:
        return False
    return any(_init_builds_bn(k, m, project, 3) for k, m in classes if m.scope_of(k) is None)


def _init_builds_bn(cls: ast.ClassDef, module: Module, project: Project, depth: int) -> bool:
    init = next((fi for fi in project.functions("__init__") if fi.cls is cls), None)
    if init is not None and _body_builds_bn(init, project):
        return True
    if depth <= 0 or init is not None and not any(
            isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr == "__init__"
            for n in astwalk.walk(init.node)):
        return False  # an own ``__init__`` that never runs a base class's
    for base in cls.bases:
        name = base.id if isinstance(base, ast.Name) else base.attr if isinstance(base, ast.Attribute) else None
        for k, m in project.classes_by_name.get(name or "", ()):
            if k is not cls and (m is module or project.imports_name_from(module, name, m)) \
                    and _init_builds_bn(k, m, project, depth - 1):
                return True
    return False


def _states_batch_stats(name: str) -> bool:
    """``use_on_the_fly_stats``, ``use_batch_stats``, ``batch_statistics``: the name says that batch
    statistics are wanted (a model trained and evaluated that way on purpose)."""
    words = identifier_words(name)
    joined = " ".join(words)
    return "on the fly" in joined or "onthefly" in words or any(
        a == "batch" and b.startswith("stat") for a, b in zip(words, words[1:]))


def _flag_named_for_batch_stats(site: BNSite, project: Project, depth: int = 4) -> bool:
    """Is the always-true training flag of ``site`` bound, on its way to the BN call, to a name
    stating that batch statistics are deliberate? Follows parameters through their call sites
    (``conv_bn(h, is_training=use_on_the_fly_stats)`` inside ``compute_outputs(self, x,
    use_on_the_fly_stats)``)."""
    work = [(site.flag_expr, site.module, depth)]
    seen: set = set()
    while work:
        expr, m, d = work.pop()
        if expr is None or id(expr) in seen:
            continue
        seen.add(id(expr))
        names = [n.id if isinstance(n, ast.Name) else n.attr for n in astwalk.walk(expr)
                 if isinstance(n, (ast.Name, ast.Attribute))]
        if any(_states_batch_stats(n) for n in names):
            return True
        if d <= 0 or not isinstance(expr, ast.Name):
            continue
        scope = m.scope_of(expr)
        if scope is None or isinstance(scope, ast.Lambda) or not kf._param_index(scope, expr.id)[2]:
            continue
        for c in project.call_sites(scope.name):
            arg, _ = kf.argument_for(c.node, scope, expr.id, is_method_call=isinstance(c.node.func, ast.Attribute))
            if arg is not None:
                work.append((arg, c.module, d - 1))
    return False


def _scoped_definition(c, fns) -> Optional[FunctionInfo]:
    """The plain function of ``fns`` that the bare-name call ``c`` runs by Python scoping: defined
    in the calling module, in the call's own function, an enclosing one, or at module level."""
    chain, scope = [], c.scope
    while scope is not None:
        chain.append(scope)
        scope = c.module.scope_of(scope)
    chain.append(None)
    local = [fi for fi in fns if fi.module is c.module and fi.cls is None]
    for owner in chain:
        for fi in local:
            if c.module.scope_of(fi.node) is owner:
                return fi
    return None


def _body_builds_bn(fi: FunctionInfo, project: Project) -> bool:
    """Does the body of ``fi`` build BN: a BN layer call, or a call of another BN-building name?"""
    sites = project.fact("tf1.bn_site_nodes", lambda p: {id(s.node) for s in bn_sites(p)})
    builders = _bn_builder_names(project)
    for n in astwalk.walk(fi.node):
        if isinstance(n, ast.Call):
            name = n.func.id if isinstance(n.func, ast.Name) else n.func.attr if isinstance(n.func, ast.Attribute) else None
            if id(n) in sites or (name in builders and name != fi.node.name):
                return True
    return False


def _bn_builder_names(project: Project) -> set[str]:
    """Names of project functions/classes that (transitively) build a BN layer. A method call on a
    library object (``self._ema.apply(...)`` with ``self._ema = tf.train.ExponentialMovingAverage(...)``)
    runs the library's method: it does not make its caller a builder, whatever project function
    shares the method's name."""
    def compute(p: Project) -> set[str]:
        direct: set[str] = set()
        callers: dict[str, list] = {}  # callee name -> [(names of the calling function and class, call)]
        for m in p.modules:
            from bnguard.lint.tf1_facts import enclosing_names
            for s in bn_sites_in(m, p):
                direct.update(enclosing_names(s.node, m)[:2])
            class_of: dict = {}  # enclosing class per function, not per call in it
            for c in m.calls:
                if c.name and c.scope is not None and not isinstance(c.scope, ast.Lambda):
                    if id(c.scope) not in class_of:
                        class_of[id(c.scope)] = m.enclosing_class(c.scope)
                    cls = class_of[id(c.scope)]
                    names = (c.scope.name,) if cls is None else (c.scope.name, cls.name)
                    callers.setdefault(c.name, []).append((names, c))
        out = set()
        work = list(direct)
        while work:
            n = work.pop()
            if n in out:
                continue
            out.add(n)
            for names, c in callers.get(n, ()):
                if any(x not in out for x in names) and not library_receiver(c, p):
                    work.extend(names)
        return out
    return project.fact("tf1.bn_builders", compute)


def _train_op_after(g, module: Module, project: Project):
    """The first ``minimize``/``apply_gradients`` after ``g`` in the same scope."""
    def compute(p: Project) -> dict:
        out: dict = {}
        for c in module.calls:
            if c.name in ("minimize", "apply_gradients"):
                out.setdefault(id(c.scope), []).append(c)
        return out
    by_scope = project.fact(f"tf1.train_ops_by_scope:{id(module)}", compute)
    pos = (g.node.lineno, g.node.col_offset)
    for c in by_scope.get(id(g.scope), ()):
        if (c.node.lineno, c.node.col_offset) > pos:
            return c
    return None


# --- BN105 ----------------------------------------------------------------------------------------
_EVAL_WORDS = ("test", "val", "eval", "valid")
_EVAL_FETCH_WORDS = ("acc", "pred", "logit", "prob", "output", "score", "correct")


def _eval_runs(module: Module, require_eval_data: bool = True, any_fetch: bool = False) -> list[ast.Call]:
    """``sess.run(...)`` calls that evaluate/predict: fetch accuracy/predictions (and no train op)
    on test/validation data (``require_eval_data``) or on anything (in a script that only infers).
    With ``any_fetch`` (a script that restores a checkpoint and trains nothing) every run that feeds
    data is a prediction, whatever the fetched tensor is called (``reg_net.ddf``)."""
    out = []
    for c in module.calls:
        fetch, feed = _run_fetch_and_feed(c.node)
        if fetch is None or is_unit_test(module, c.scope):
            continue  # a unit test runs the graph to check it, not to evaluate the model
        fetch_src = (ast.unparse(fetch) + " " + _fetch_contents(fetch, c.scope)).lower()
        if any(w in fetch_src for w in ("train", "optim", "minimize", "update", "init", "step")):
            continue
        feed_src = ast.unparse(feed).lower() if feed is not None else ""
        parent = module.parent(c.node)
        if isinstance(parent, ast.Assign):  # ``test_acc = sess.run(...)``
            feed_src += " " + " ".join(ast.unparse(t).lower() for t in parent.targets)
        evaluates = any(w in feed_src for w in _EVAL_WORDS) or any(w in fetch_src for w in _EVAL_WORDS) \
            or _in_evaluation_function(c)
        bookkeeping = any(w in fetch_src for w in ("assign", "summar", "save", "restore"))
        predicts = any(w in fetch_src for w in _EVAL_FETCH_WORDS) or (
            (any_fetch or _in_prediction_function(c)) and feed is not None and not bookkeeping)
        if predicts and (evaluates or not require_eval_data):
            out.append(c.node)
    return out


def _fetch_contents(fetch: ast.AST, scope: Optional[ast.AST]) -> str:
    """The tensors a fetch container held in a local name gathers (``fetches = {}; fetches['depth'] =
    self.pred_depth; sess.run(fetches, ...)``, ``fetches = [model.loss, model.train_op]``): the
    names stored into it in the same function, so they decide whether the run trains or predicts.
    Only named tensors count (an expression that builds a graph says nothing of what is fetched)."""
    if not isinstance(fetch, ast.Name) or not isinstance(scope, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return ""
    stored: list[ast.AST] = []
    for n in astwalk.walk(scope):
        if isinstance(n, ast.Assign):
            for t in n.targets:
                if isinstance(t, ast.Subscript) and isinstance(t.value, ast.Name) and t.value.id == fetch.id:
                    stored.append(n.value)
                elif isinstance(t, ast.Name) and t.id == fetch.id:
                    if isinstance(n.value, ast.Dict):
                        stored.extend(v for v in n.value.values if v is not None)
                    elif isinstance(n.value, (ast.List, ast.Tuple)):
                        stored.extend(n.value.elts)
        elif isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and isinstance(n.func.value, ast.Name) \
                and n.func.value.id == fetch.id and n.func.attr == "append":
            stored.extend(n.args)
    return " ".join(ast.unparse(v) for v in stored if isinstance(v, (ast.Name, ast.Attribute)))


def _run_fetch_and_feed(call: ast.Call) -> tuple[Optional[ast.AST], Optional[ast.AST]]:
    """(fetches, feed dict) of a graph run: ``sess.run(fetches, feed_dict)``, or the graph-tensor
    spellings ``tensor.eval(feed_dict=...)`` / ``op.run(feed_dict=...)`` (InteractiveSession code),
    whose fetch is the receiver; (None, None) for any other call (``model.eval()`` has no feed)."""
    func = call.func
    if not isinstance(func, ast.Attribute) and not (isinstance(func, ast.Name) and func.id == "run"):
        return None, None
    name = func.attr if isinstance(func, ast.Attribute) else func.id
    if name == "run" and call.args:
        return call.args[0], _kw_or_pos(call, "feed_dict", 1)
    if name in ("eval", "run") and isinstance(func, ast.Attribute) and not call.args:
        feed = next((kw.value for kw in call.keywords if kw.arg == "feed_dict"), None)
        if feed is not None:
            return func.value, feed
    return None, None


_EVAL_FUNCTION_PARTS = frozenset({"eval", "evaluate", "evaluation", "val", "valid", "validate", "validation",
                                   "test", "testing", "predict", "inference", "infer"})


def _in_evaluation_function(c) -> bool:
    """``sess.run(acc)`` in a function named for evaluation (``_evaluate(self, acc, iterator)`` of a
    trainer class that is handed the model's accuracy tensor): the data is evaluation data."""
    scope = c.scope
    if scope is None or isinstance(scope, ast.Lambda):
        return False
    return not _EVAL_FUNCTION_PARTS.isdisjoint(identifier_words(scope.name))


_PREDICTION_FUNCTION_PARTS = frozenset({"predict", "prediction", "inference", "infer"})


def _in_prediction_function(c) -> bool:
    """``sess.run(fetches, feed_dict=...)`` in a function named for prediction (``infer``,
    ``predict_batch``): whatever the fetched tensors are called, feeding data there predicts."""
    scope = c.scope
    if scope is None or isinstance(scope, ast.Lambda):
        return False
    return not _PREDICTION_FUNCTION_PARTS.isdisjoint(identifier_words(scope.name))


def _branch_chooses_mode(site: BNSite, sites: list[BNSite]) -> bool:
    """``if phase_train: bn(x, is_training=True) else: bn(x, is_training=False, reuse=True)``: the
    constant sits on one branch of an ``if`` on a parameter of the function that builds it, and the
    other branch builds BN that is not always training. The parameter is the real flag: the
    evaluation graph is built through the other branch."""
    m = site.module
    if _cond_arm_chooses_mode(site, sites):
        return True
    fn = m.scope_of(site.node)
    if fn is None:
        return False
    params = {a.arg for a in fn.args.args + fn.args.kwonlyargs + fn.args.posonlyargs}
    child: ast.AST = site.node
    for anc in m.ancestors(site.node):
        if anc is fn:
            break
        if isinstance(anc, ast.If) and any(isinstance(n, ast.Name) and n.id in params for n in astwalk.walk(anc.test)):
            other = anc.orelse if any(st is child for st in anc.body) else anc.body if any(st is child for st in anc.orelse) else []
            if _builds_bn_not_always_training(other, site, sites):
                return True
        child = anc
    return False


def _builds_bn_not_always_training(branches: list[ast.AST], site: BNSite, sites: list[BNSite]) -> bool:
    """Does another branch of the switch around ``site`` build BN that is not always training?"""
    inside = {id(n) for b in branches for n in astwalk.walk(b)}
    return any(s is not site and id(s.node) in inside and not V.always_true_values(s.flag) for s in sites)


_COND_CALLS = ("cond", "smart_cond")


def _cond_arm_chooses_mode(site: BNSite, sites: list[BNSite]) -> bool:
    """``tf.cond(training, lambda: bn(x, is_training=True), lambda: bn(x, is_training=False,
    reuse=True))``: the constant sits in one arm of a ``cond`` (a lambda, or a function defined next
    to it) and the other arm builds BN that is not always training. The predicate is the real flag."""
    m = site.module
    for anc in m.ancestors(site.node):
        if isinstance(anc, ast.Lambda):
            arm, name = anc, None
        elif isinstance(anc, (ast.FunctionDef, ast.AsyncFunctionDef)):
            arm, name = anc, anc.name
        else:
            continue
        for arms in _cond_arms_with(m, arm, name):
            if _builds_bn_not_always_training([a for a in arms if a is not arm], site, sites):
                return True
        if isinstance(anc, (ast.FunctionDef, ast.AsyncFunctionDef)):
            return False
    return False


def _cond_arms_with(m: Module, arm: ast.AST, name: Optional[str]):
    """The branches (lambdas or function definitions) of each ``cond`` call that takes ``arm`` (the
    lambda itself, or the function ``name`` defined in the same scope) as one of them."""
    scope = m.scope_of(arm) if name is not None else None
    defs = {}
    if name is not None:
        body_owner = scope if scope is not None else m.tree
        defs = {d.name: d for d in astwalk.walk(body_owner) if isinstance(d, (ast.FunctionDef, ast.AsyncFunctionDef))
                and m.scope_of(d) is scope}
    candidates = [m.parent(arm)] if name is None else [c.node for c in m.calls if c.name in _COND_CALLS
                                                       and c.scope is scope]
    for call in candidates:
        if not (isinstance(call, ast.Call) and (dotted(call.func) or "").rsplit(".", 1)[-1] in _COND_CALLS):
            continue
        branches = list(call.args[1:3]) + [k.value for k in call.keywords if k.arg in ("true_fn", "false_fn", "fn1", "fn2")]
        nodes = []
        for b in branches:
            if isinstance(b, ast.Lambda):
                nodes.append(b)
            elif isinstance(b, ast.Name) and b.id in defs:
                nodes.append(defs[b.id])
        if any(n is arm for n in nodes):
            yield nodes


def _passes_false_for(site: BNSite, project: Project):
    """A call of the function that drops the flag (``def bn(x, train): return batch_norm(x)``)
    passing it the constant False (``bn(h, train=False)``): that caller asks for inference mode and
    does not get it. None when no call does."""
    m = site.module
    fn = next((a for a in m.ancestors(site.node) if isinstance(a, (ast.FunctionDef, ast.AsyncFunctionDef))
               and site.dropped_param in {p.arg for p in a.args.posonlyargs + a.args.args + a.args.kwonlyargs}), None)
    if fn is None:
        return None
    positional = [p.arg for p in fn.args.posonlyargs + fn.args.args]
    cls = m.enclosing_class(fn)
    method = cls is not None and positional[:1] == ["self"]
    if fn.name == "__call__" and cls is not None:
        # bn1 = BatchNorm("bn1") ... bn1(h, train=False): calls of the instances
        instances = _instance_names(project, cls.name)
        calls = [c for mod in project.modules for c in mod.calls
                 if isinstance(c.node.func, (ast.Name, ast.Attribute)) and c.name in instances]
        bound_self = True
    else:
        calls = project.call_sites(fn.name)
        bound_self = False
    for c in calls:
        passed, explicit = kf.argument_for(
            c.node, fn, site.dropped_param, is_method_call=method and (bound_self or isinstance(c.node.func, ast.Attribute)))
        if passed is None or not explicit:
            continue
        values = V.possible_values(passed, c.module, project)
        if values is not V.UNKNOWN and any(v is False for v in values):
            return c
    return None


def _instance_names(project: Project, cls_name: str) -> set:
    """Last names of the variables and attributes assigned an instance of ``cls_name``."""
    def compute(p: Project) -> set:
        out = set()
        for mod in p.modules:
            for a in mod.assignments:
                value = getattr(a, "value", None)
                if isinstance(value, ast.Call) and (dotted(value.func) or "").rsplit(".", 1)[-1] == cls_name:
                    for t in (a.targets if isinstance(a, ast.Assign) else [a.target]):
                        last = (dotted(t) or "").rsplit(".", 1)[-1]
                        if last:
                            out.add(last)
        return out
    return project.fact("tf1.instance_names:" + cls_name, compute)


def _kw_or_pos(call: ast.Call, name: str, pos: int):
    for kw in call.keywords:
        if kw.arg == name:
            return kw.value
    if len(call.args) > pos:
        return call.args[pos]
    return None


@register
class AlwaysTrainingModeAtEval(Rule):
    code = "BN105"
    name = "training-flag-always-true-at-eval"
    framework = "tensorflow"
    severity = "warning"
    summary = "BN is always in training mode in a graph that is also used to evaluate or predict."
    triggers = BN_TRIGGERS + ("set_learning_phase", "reuse")  # ``reuse``: a validation copy of the network
    fact_triggers = TF1_FACT_TRIGGERS
    doc = RuleDoc(
        what="""
The mirror of BN101: finds TF1 batch-norm layers whose training flag is always true — a literal `True`,
a constant, a wrapper default never overridden, `bool()` of a string read from a `configparser` file or
the environment (`bool(config.get("eval", "is_training"))` is True for "false": use `getboolean`),
a `placeholder_with_default(True)` that nothing in
its program feeds at all (not even False for evaluation), or an absent flag where the API default is
training (contrib/slim `batch_norm`: `is_training=True`) — in a graph that is also used to evaluate or predict:
a script that restores a checkpoint and runs predictions without a train op, or a training script whose
`sess.run` fetches accuracy/predictions on test or validation data (or runs in a function named for
evaluation, such as a trainer's `_evaluate(self, acc, feed)` handed the model's accuracy). In a script that restores a
checkpoint and trains nothing, every `sess.run` that feeds data counts as a prediction, whatever the
fetched tensor is called; `tensor.eval(feed_dict=...)` and `op.run(feed_dict=...)` (InteractiveSession
code) count as `sess.run` of the receiver. Also reported: a flag that depends on the model object
(`is_training=(self.mode == 'train')`, copied from a constructor argument) when the training script
builds only training-mode objects (`Model(mode='train')`) and runs validation batches through them.
Also a validation copy of the network built by a training script (`val_net = Net(val_reader, cfg)`,
named for or fed with validation/test data, under `variable_scope(..., reuse=True)` or after
`reuse_variables()`) whose BN flag is always true in that program (`cfg.is_training` of the
training configuration): its BN normalizes validation batches with their own statistics and its
update ops write validation data into the shared moving statistics.
Also a placeholder flag that every feed of its program sets to True (through feed dicts built by
project helpers too, `make_feed(batch, True)`, with the helper's parameters read at each call) when
a run of validation/test data (named so in its feed, fetch or result, a loop over validation batches,
or a function named for evaluation) feeds it True as well: the validation run was copied from the
training call.
Also `K.set_learning_phase(1)` followed by `predict`/`evaluate`, and a BN wrapper that takes a training
flag but never passes it on to a BN API whose default is training (contrib/slim `batch_norm`) while some
caller passes that flag as False (`bn(h, train=False)` for the evaluation tower, or a GAN `sampler`: this
one is reported in GAN code too, since the caller asks for inference mode and does not get it).
Also a flag read through a plain `@property` that returns a new `placeholder_with_default(True)` on
every read (the evaluation run's `{model.is_training: False}` feeds a placeholder nothing reads).
Also a `placeholder_with_default(True)` flag, fed False by the training script's own evaluation, in a
graph exported for serving where nothing can feed it: a graph frozen with
`convert_variables_to_constants` whose output nodes project code runs after `tf.import_graph_def`
without mapping or feeding the flag, or a SavedModel signature (`simple_save`,
`predict_signature_def`) whose inputs leave the flag out. Likewise a graph exported for serving
(`simple_save`, `SavedModelBuilder.add_meta_graph_and_variables`, `convert_variables_to_constants`,
a TFLite converter `from_session`) in which every batch norm is always in training mode: the export
builds the network with its flag always true (a literal, the slim default), or re-imports the
training script's meta graph (`import_meta_graph`) instead of building an inference graph.
Also a hand-written batch norm that normalizes with `tf.nn.moments(x, axes=[0, ...])` (the batch axis
included) passed straight to `tf.nn.batch_normalization`, with no moving average, no branch and no
mode parameter, in a network that is trained and then run on validation/test data.
Also a flag computed from a mode (`training=(mode != ModeKeys.PREDICT)`, `mode in (TRAIN, EVAL)`,
`not phase == "test"`), followed through local names and wrapper parameters, that is True for an
evaluation mode the program really builds: a call of the mode's function with that mode
(`model_fn(features, labels, ModeKeys.EVAL, params)`, `net.tower(val_x, "valid")`), or an Estimator
whose `model_fn` runs in EVAL mode because the program calls `evaluate`/`train_and_evaluate`. The
evaluation tower normalizes with batch statistics, and its update ops, wherever they run (a
control dependency of the evaluation loss), fold evaluation data into the shared moving statistics.
Also `tf.make_template("net", net, is_training=True)` or `functools.partial(net, is_training=True)`
in a training script: the binding holds for every call of the result, so a call on validation/test
data (`val_logits = classifier(val_images)`) that does not pass the flag again by keyword runs the
network's batch norm in training mode (not reported when any call overrides the flag, or when every
call is a training tower).
Also a restored network that the train op does not train, built in training mode beside it (a
distillation teacher): a project builder called with a constant scope name (`variable_scope(scope)`
inside), whose variables a `Saver(tf.global_variables("teacher"))` of that module restores (or
`init_from_checkpoint(ckpt, {"teacher/": ...})` loads), while every `minimize` of the calling
function trains only another scope (`var_list=tf.trainable_variables("student")`) under
`control_dependencies(tf.get_collection(UPDATE_OPS))` (all update ops), and the builder's BN flag
is left at its default True (or passed True) at that call: the teacher predicts with batch
statistics and each student step writes the transfer data into its restored moving statistics.
Not when the restored network's output feeds the trained one (a frozen backbone under a trained
head), nor when the trained network is not built in that function from the same input (ADDA's frozen
source encoder runs on its own source batches).
""",
        why="""
In training mode BN normalizes each batch with its own statistics, so predictions depend on what else
is in the batch (a single image gives garbage), and where the update ops run the moving statistics are
overwritten with evaluation data. Evaluation numbers are then wrong in both directions, and an exported
graph carries `is_training=True` BN nodes that converters reject.
""",
        example="""
net = slim.conv2d(images, 64, [3, 3], normalizer_fn=slim.batch_norm)   # is_training defaults to True
saver.restore(sess, ckpt)
preds = sess.run(predictions, feed_dict={images: test_images})
""",
        use_instead="""
net = slim.conv2d(images, 64, [3, 3], normalizer_fn=slim.batch_norm,
                  normalizer_params={"is_training": is_training})
preds = sess.run(predictions, feed_dict={images: test_images, is_training: False})
""",
        not_flagged="""
- Deliberate batch statistics at test time: GANs (pix2pix/CycleGAN generators), meta-learning (MAML,
  whose batch norm is transductive by design), test-time adaptation / AdaBN — projects whose names
  mention these are skipped; and a flag that reaches BN through a name stating that batch statistics
  are wanted (`use_on_the_fly_stats`, `use_batch_stats`), followed through the wrapper parameters.
- Flags that are placeholders fed False (or a value that cannot be read) anywhere in their program
  (a `placeholder_with_default(True)` fed False when evaluating, a feed helper called with False for
  validation), placeholders with a False default, placeholders fed only True but never by an
  evaluation run (evaluation goes through another tower), parameters passed both values, or unknown.
- Training scripts without an evaluation `sess.run`; validation copies whose flag can be false (a
  placeholder, an evaluation configuration) or that share no variables with the trained network.
- Exported graphs whose flag name appears in any string of the exporting or serving program
  (`input_map={'is_training:0': tf.constant(False)}`, a feed by tensor name), signatures that list the
  flag, input maps that cannot be read. Exports of a graph in which some batch norm can be in
  inference mode (a flag parameter some caller passes False), and exports whose code builds no BN.
- Hand-written normalization over the non-batch axes (instance/group/layer norm), hand-written BN with a
  moving average or a training-flag parameter, and evaluation runs that feed no validation/test data (a
  GAN sampler fed noise).
- Mode-computed flags that are False in every evaluation mode the program uses (`mode ==
  ModeKeys.TRAIN`), `mode != PREDICT` in an Estimator that only trains and predicts, and modes whose
  value cannot be read at some call (that call is not judged).
""",
        versions=VERSIONS,
    )

    def check(self, module: Module, project: Project) -> Iterable[Finding]:
        # A caller that passes the flag False asks for inference mode: a wrapper that drops it is a
        # bug even in GAN code, whose deliberate batch statistics never come with such a caller.
        dropped = set()
        for site in bn_sites_in(module, project):
            if site.api == "keras" or not site.dropped_param or not V.always_true_values(site.flag):
                continue
            caller = _passes_false_for(site, project)
            if caller is not None:
                dropped.add(id(site))
                yield self.finding(module, site.node, (
                    f"batch norm gets no training flag (the enclosing function's `{site.dropped_param}` parameter "
                    f"never reaches it), so {site.flag_source} applies: it is in training mode also where "
                    f"{caller.module.where(caller.node.lineno)} passes `{site.dropped_param}=False`, which then "
                    "normalizes with batch statistics; pass the flag through"))
        if deliberate_in_program(module, project):
            return
        yield from self._learning_phase(module, project)
        yield from _restored_teacher_in_training_mode(self, module, project)
        yield from self._validation_copy_in_training_mode(module, project)
        yield from self._flag_bound_true_for_every_call(module, project)
        yield from self._evaluation_mode_in_training(module, project, dropped)
        yield from self._exported_with_training_default(module, project, dropped)
        yield from self._exported_always_training(module, project, dropped)
        yield from self._fed_true_at_evaluation(module, project, dropped)
        eval_modules = project.fact("tf1.eval_modules", _eval_modules)
        if not eval_modules:
            return
        yield from self._handwritten_without_statistics(module, project, eval_modules)
        for site in bn_sites_in(module, project):
            if site.api == "keras" or id(site) in dropped:
                continue
            unfed_true = _unfed_default_true(site, project)
            fresh_true = None if unfed_true is not None or V.always_true_values(site.flag) else \
                _fresh_property_flag(site, project, default=True)
            if not V.always_true_values(site.flag) and unfed_true is None and fresh_true is None:
                yield from self._instance_in_training_mode(site, eval_modules, project)
                continue
            if _branch_chooses_mode(site, bn_sites_in(module, project)) or _flag_named_for_batch_stats(site, project):
                continue
            hit = None
            for em, runs, restored, trains in eval_modules:
                if em is module or _reaches(site, em, project):
                    if (restored and not trains) or trains:
                        hit = (em, runs[0])
                        break
            if hit is None:
                continue
            em, run = hit
            if fresh_true is not None:
                what, each = _fresh_source(fresh_true[0])
                flag = (f"`{ast.unparse(site.flag_expr)}` comes from {what} "
                        f"({fresh_true[2].where(fresh_true[0].lineno)}) that builds a new "
                        f"`placeholder_with_default(True)` on every {each}, so no feed reaches the one this layer reads")
            else:
                flag = _describe_flag(site) if unfed_true is None else (
                    f"{site.flag_source} is `placeholder_with_default(True)` "
                    f"({unfed_true.module.where(unfed_true.node.lineno)}) that nothing in the project feeds")
                flag += _default_taken(site, project) or _true_passed_by(site, project, em)
            yield self.finding(module, site.node, (
                f"batch norm is always in training mode ({flag}) but the graph is also used to "
                f"evaluate/predict ({em.where(run.lineno)}): evaluation normalizes with batch statistics and can "
                "overwrite the moving statistics; use a training flag fed False when evaluating"))

    def _exported_with_training_default(self, module: Module, project: Project, dropped: set) -> Iterable[Finding]:
        """A ``placeholder_with_default(True)`` flag (fed False by the training script's own
        evaluation) in a graph that is exported for serving where nothing can feed it: a frozen
        graph (``convert_variables_to_constants``) that project code imports and runs without
        mapping the flag, or a SavedModel signature whose inputs leave it out. The served graph
        takes the default and normalizes every request with batch statistics."""
        for site in bn_sites_in(module, project):
            if site.api == "keras" or id(site) in dropped:
                continue
            ph = _default_true_placeholder(site, project)
            if ph is None or _flag_named_for_batch_stats(site, project) \
                    or _branch_chooses_mode(site, bn_sites_in(module, project)):
                continue
            served = _served_without_flag(site, ph, project)
            if served is None:
                continue
            how, where = served
            dropped.add(id(site))  # one finding per layer
            yield self.finding(module, site.node, (
                f"batch norm's training flag `{ast.unparse(site.flag_expr)}` is `placeholder_with_default(True)` "
                f"({_at(ph.module, ph.node.lineno, module)}), and the graph is exported for inference where nothing "
                f"feeds it: {how} ({where}), so the served graph takes the default True and normalizes every "
                "request with batch statistics instead of the moving averages; map the flag to False "
                "(`input_map={'is_training:0': tf.constant(False)}`), add it to the signature inputs, or export a "
                "graph built with training=False"))

    def _exported_always_training(self, module: Module, project: Project, dropped: set) -> Iterable[Finding]:
        """A graph exported for serving (``simple_save``, a ``SavedModelBuilder``'s
        ``add_meta_graph_and_variables``, ``convert_variables_to_constants``, a TFLite converter
        ``from_session``) in which every batch norm is always in training mode: the export builds
        the network itself, or re-imports the training script's meta graph (``import_meta_graph``)
        instead of building an inference graph. Nothing a serving client feeds can switch those
        layers, so every request is normalized with its own batch's statistics."""
        exports = _serving_exports(project)
        if not exports:
            return
        mine = [s for s in bn_sites_in(module, project) if s.api != "keras" and id(s) not in dropped
                and V.always_true_values(s.flag)]
        if not mine:
            return
        for c in exports:
            sites = _exported_sites(c, project)
            if not sites or not all(V.always_true_values(s.flag) for s in sites) \
                    or any(_flag_named_for_batch_stats(s, project)
                           or _branch_chooses_mode(s, bn_sites_in(s.module, project)) for s in sites):
                continue
            how = ("re-imports the training graph (`import_meta_graph`) and exports it"
                   if _reimports_meta_graph(c) is not None else "exports the graph that builds it")
            for site in mine:
                if id(site) in dropped or not any(s is site for s in sites):
                    continue
                dropped.add(id(site))  # one finding per layer
                flag = _describe_flag(site) + (_default_taken(site, project)
                                               or _true_passed_by(site, project, site.module))
                yield self.finding(module, site.node, (
                    f"batch norm is always in training mode ({flag}), as is every batch norm of the "
                    f"graph, and {c.module.where(c.node.lineno)} {how} for serving with `{c.name}`: nothing "
                    "a client feeds can switch these layers, so the served model normalizes each request with its "
                    "own batch's statistics and never reads the trained moving averages; export a graph built "
                    "with training=False (or a training flag that defaults to False)"))

    def _handwritten_without_statistics(self, module: Module, project: Project, eval_modules) -> Iterable[Finding]:
        """A hand-written BN (``tf.nn.moments`` over the batch axis fed straight into
        ``tf.nn.batch_normalization``) that keeps no moving statistics and has no mode at all, in a
        network that is trained and then evaluated on validation/test data: evaluation normalizes
        each batch with its own statistics."""
        from bnguard.lint.tf1_facts import reachable_from

        if not module.mentions("moments"):
            return
        for fi in module.functions:
            found = _batch_moments_only(fi.node, module, project)
            if found is None or not is_trained(found[0], module, project):
                continue
            normalize, unread = found
            for em, runs, restored, trains in eval_modules:
                # the evaluating module trains the network itself, or restores it (a training script
                # that resumes from a checkpoint and runs a train op another module builds)
                if not (trains or restored) or id(em) not in same_program(module, project):
                    continue
                if em is not module and id(fi.node) not in reachable_from(em, project):
                    continue
                # the run feeds evaluation data (a GAN's sampler feeds noise, whatever its result is called)
                runs = [r for r in runs if _feeds_evaluation_data(r, em)]
                if not runs:
                    continue
                keeps = (f"updates moving averages (`{'`, `'.join(unread)}`) that nothing ever reads" if unread
                         else "keeps no moving averages")
                yield self.finding(module, normalize, (
                    f"hand-written batch norm in `{fi.name}` normalizes with `tf.nn.moments` of the current batch and "
                    f"{keeps}, and the network is also evaluated ({_at(em, runs[0].lineno, module)}): "
                    "evaluation normalizes each validation/test batch with its own statistics, so results depend on "
                    "the batch's size and content; " + (
                        "normalize with those averages when not training (a training flag choosing the "
                        "statistics), or use tf.layers.batch_normalization" if unread else
                        "keep moving averages of the mean/variance for inference "
                        "(tf.train.ExponentialMovingAverage behind a training flag, or tf.layers.batch_normalization)")))
                break

    def _fed_true_at_evaluation(self, module: Module, project: Project, dropped: set) -> Iterable[Finding]:
        """A placeholder flag that every feed sets to True, fed True by a run of validation/test data."""
        for site in bn_sites_in(module, project):
            if site.api == "keras" or id(site) in dropped or V.always_true_values(site.flag):
                continue
            found = _fed_only_true(site, project)
            if found is None or _branch_chooses_mode(site, bn_sites_in(module, project)) \
                    or _flag_named_for_batch_stats(site, project):
                continue
            ph, run, em = found
            yield self.finding(module, site.node, (
                f"batch norm is always in training mode: its flag `{ast.unparse(site.flag_expr)}` is a placeholder "
                f"({_at(ph.module, ph.node.lineno, module)}) that every feed in the program sets to True, including the "
                f"evaluation run at {_at(em, run.lineno, module)} (`{ast.unparse(run)}`): evaluation normalizes each "
                "batch with "
                "its own statistics, and wherever the update ops are attached to what it fetches the evaluation data "
                "enters the moving statistics; feed the flag False when evaluating"))

    def _instance_in_training_mode(self, site: BNSite, eval_modules, project: Project) -> Iterable[Finding]:
        """The flag depends on the model object (``is_training=(self.mode == 'train')``) and the
        script that evaluates builds only training-mode instances (``Model(mode='train')``), then
        runs validation batches through them: evaluation uses batch statistics, and with in-place
        updates (``updates_collections=None``) the validation data enters the moving statistics."""
        for em, runs, restored, trains in eval_modules:
            if not trains or not _reaches(site, em, project):
                continue
            built = _instance_flag_values(site, em, project)
            if built is None:
                continue
            values, call = built
            if values != {True}:
                continue
            yield self.finding(site.module, site.node, (
                f"batch norm is in training mode in the `{ast.unparse(call)}` object ({_describe_flag(site)}), "
                f"and {em.where(runs[0].lineno)} evaluates through that object: evaluation normalizes with batch "
                "statistics and can overwrite the moving statistics; build a second object in evaluation mode "
                "(sharing the variables) or feed a training flag that is False when evaluating"))
            return

    def _validation_copy_in_training_mode(self, module: Module, project: Project) -> Iterable[Finding]:
        """A training script that builds a second copy of its network for validation data
        (``val_net = Net(val_reader, cfg)`` under ``variable_scope(..., reuse=True)``) whose BN
        flag is always true in this program: the validation copy normalizes with batch statistics,
        and its update ops, created in UPDATE_OPS (or in place), write validation data into the
        shared moving statistics."""
        ctx = train_context(project)
        if id(module) not in ctx.trained_modules:
            return
        program = None
        for c in module.calls:
            if not c.name or not (project.functions(c.name) or c.name in ctx.methods_by_class):
                continue  # not a project function or class
            if not _names_evaluation_data(c, module) or not _under_variable_reuse(c.node, module, project):
                continue
            if program is None:
                program = _program_project(module, project) or project
            reached: set = set()
            _close([(_call_ref(c, project), module)], reached, ctx, project)
            sites = [s for s in bn_sites(program) if s.api != "keras" and V.always_true_values(s.flag)
                     and any(id(f) in reached for f in enclosing_functions(s.node, s.module))
                     and not _branch_chooses_mode(s, bn_sites_in(s.module, program))]
            if not sites:
                continue
            site = sites[0]
            yield self.finding(module, c.node, (
                f"`{ast.unparse(c.node.func)}(...)` builds a validation copy of the trained network (it shares the "
                f"variables and reads evaluation data) whose batch norm is always in training mode here "
                f"({_describe_flag(site)} at {site.where}): validation batches are normalized with their own "
                "statistics, and the copy's moving-average updates fold validation data into the shared moving "
                "statistics; build the validation copy with the training flag False"))

    def _flag_bound_true_for_every_call(self, module: Module, project: Project) -> Iterable[Finding]:
        """``tf.make_template(name, net, is_training=True)`` (or ``functools.partial(net,
        is_training=True)``) binds the network's BN flag for every call of the result: a call that
        does not pass the flag again by keyword runs batch norm in training mode. Reported when a
        training script calls the result on evaluation data without overriding the flag: the
        validation tower normalizes with batch statistics, and its update ops (created in
        UPDATE_OPS) fold validation data into the shared moving statistics."""
        if not (module.mentions("make_template") or module.mentions("partial")):
            return
        if id(module) not in train_context(project).trained_modules:
            return
        for c in module.calls:
            bound = _bound_true_flag(c, module, project)
            if bound is None:
                continue
            param, func = bound
            target = module.bound_name(c.node)
            if target is None:
                continue
            calls = [k for k in module.calls if k.name == target and k.node is not c.node
                     and isinstance(k.node.func, (ast.Name, ast.Attribute))
                     and (isinstance(k.node.func, ast.Name) or isinstance(k.node.func.value, ast.Name)
                          and k.node.func.value.id in ("self", "cls"))]
            if any(kw.arg == param or kw.arg is None for k in calls for kw in k.node.keywords):
                continue  # some call passes the flag again: the binding is a default, not a constant
            evaluation = next((k for k in calls if _names_evaluation_data(k, module)), None)
            if evaluation is None or all(_names_evaluation_data(k, module) for k in calls):
                continue
            site = next((s for s in _flag_sites_of(func, param, project) if not _branch_chooses_mode(
                s, bn_sites_in(s.module, project))), None)
            if site is None:
                continue
            yield self.finding(module, c.node, (
                f"`{ast.unparse(c.node.func)}(...)` binds `{param}=True` for every call of `{target}`, and "
                f"{module.where(evaluation.node.lineno)} calls it on evaluation data without passing `{param}` "
                f"again: the batch norm at {site.where} runs in training mode there, normalizing validation batches "
                "with their own statistics and folding them into the shared moving statistics through its update "
                f"ops; leave `{param}` out of the binding and pass it at each call (`{target}(x, {param}=False)` "
                "for evaluation)"))

    def _evaluation_mode_in_training(self, module: Module, project: Project, dropped: set) -> Iterable[Finding]:
        """A flag computed from a mode (``training=(mode != ModeKeys.PREDICT)``, ``mode in ('train',
        'eval')``, ``mode != 'test'``) that is True for an evaluation mode the program really builds:
        a call passing that mode (``model_fn(feats, labels, ModeKeys.EVAL, params)``), or an
        Estimator that runs its ``model_fn`` in EVAL mode (``evaluate``/``train_and_evaluate``). The
        evaluation tower normalizes with batch statistics, and its update ops (wherever they are run)
        fold evaluation data into the moving statistics shared with the training tower."""
        for site in bn_sites_in(module, project):
            if id(site) in dropped or site.flag_expr is None or V.always_false_values(site.flag):
                continue
            found = _evaluation_mode_training(site, project)
            if found is None or _flag_named_for_batch_stats(site, project) \
                    or _branch_chooses_mode(site, bn_sites_in(module, project)):
                continue
            test, tm, mode, where = found
            dropped.add(id(site))
            yield self.finding(module, site.node, (
                f"batch norm's training flag comes from `{ast.unparse(test)}` ({_at(tm, test.lineno, module)}), "
                f"which is True in the evaluation mode {mode!r}, used by {where}: the evaluation graph "
                "normalizes with batch statistics, and its update ops (wherever they run) write evaluation data "
                "into the moving statistics shared with the training graph; make the flag True only in the "
                "training mode (`training=(mode == ModeKeys.TRAIN)`)"))

    def _learning_phase(self, module: Module, project: Project) -> Iterable[Finding]:
        sets = [c for c in module.calls if c.name == "set_learning_phase" and c.node.args]
        if not sets:
            return
        zero_anywhere = any(
            c.name == "set_learning_phase" and c.node.args and not V.always_true(c.node.args[0], c.module, project)
            for c in project.call_sites("set_learning_phase"))
        if zero_anywhere:
            return
        for c in sets:
            if not V.always_true(c.node.args[0], module, project):
                continue
            later = [o for o in module.calls if o.name in ("predict", "evaluate", "predict_on_batch")
                     and (o.node.lineno, o.node.col_offset) > (c.node.lineno, c.node.col_offset)]
            if later:
                yield self.finding(module, c.node, (
                    f"`set_learning_phase(1)` keeps every batch-norm layer in training mode, and the model is then "
                    f"used to {later[0].name} ({module.line_ref(later[0].node.lineno)}): predictions use batch statistics; "
                    "set the learning phase to 0 before evaluating"))


_EVAL_DATA_WORDS = frozenset({"val", "valid", "validation", "eval", "evaluation", "test", "testing", "dev"})


_BINDERS = {"tensorflow.make_template": 1, "tensorflow.compat.v1.make_template": 1, "functools.partial": 0}
_TEMPLATE_OPTIONS = {"name_", "func_", "create_scope_now_", "unique_name_", "custom_getter_",
                     "create_graph_function_"}


def _bound_true_flag(c, module: Module, project: Project):
    """(flag parameter, function) when the call binds a project function's training flag to True
    for every later call: ``make_template("net", net, is_training=True)``,
    ``functools.partial(net, is_training=True)``; None otherwise."""
    pos = _BINDERS.get(c.qualname or "")
    if pos is None:
        return None
    fn = c.node.args[pos] if len(c.node.args) > pos else next(
        (kw.value for kw in c.node.keywords if kw.arg == "func_"), None)
    if not isinstance(fn, ast.Name):
        return None
    funcs = [f for f in project.functions(fn.id) if f.cls is None and f.module is module] or [
        f for f in project.functions(fn.id) if f.cls is None and project.imports_name_from(module, fn.id, f.module)]
    if len(funcs) != 1:
        return None
    func = funcs[0].node
    params = {a.arg for a in func.args.args + func.args.kwonlyargs}
    for kw in c.node.keywords:
        if kw.arg in params and kw.arg not in _TEMPLATE_OPTIONS and kw.arg in _FLAG_NAMES \
                and V.always_true(kw.value, module, project):
            return kw.arg, funcs[0]
    return None


def _flag_sites_of(func: FunctionInfo, param: str, project: Project) -> list:
    """TF1 BN sites built by ``func`` (directly, or by the functions it calls) whose training flag is
    the name ``param`` (the parameter itself, or the same name handed down)."""
    ctx = train_context(project)
    reached = {id(func.node)}
    _close([(_call_ref(k, project), func.module) for k in ctx.calls_by_scope.get(id(func.node), ())], reached, ctx, project)
    out = []
    for s in bn_sites(project):
        if s.api == "keras" or not isinstance(s.flag_expr, ast.Name) or s.flag_expr.id != param:
            continue
        funcs = enclosing_functions(s.node, s.module)
        if funcs and id(funcs[0]) in reached and param in {a.arg for a in funcs[0].args.args + funcs[0].args.kwonlyargs}:
            out.append(s)
    return out


def _names_evaluation_data(c, module: Module) -> bool:
    """Is the call's result named for evaluation (``val_net = ...``) or does it take evaluation
    data (``Net(image_reader=val_reader)``, ``build(test_images)``)?"""
    names = []
    parent = module.parent(c.node)
    if isinstance(parent, ast.Assign):
        names += [n.id if isinstance(n, ast.Name) else n.attr for t in parent.targets for n in astwalk.walk(t)
                  if isinstance(n, (ast.Name, ast.Attribute))]
    for arg in list(c.node.args) + [kw.value for kw in c.node.keywords]:
        names += [n.id if isinstance(n, ast.Name) else n.attr for n in astwalk.walk(arg)
                  if isinstance(n, (ast.Name, ast.Attribute))]
    return any(not _EVAL_DATA_WORDS.isdisjoint(identifier_words(n)) for n in names)


def _under_variable_reuse(node: ast.AST, module: Module, project: Project) -> bool:
    """Is ``node`` inside ``variable_scope(..., reuse=<not False>)``, or after ``reuse_variables()``
    in its function: the network it builds shares the variables of one built before?"""
    for anc in module.ancestors(node):
        if isinstance(anc, (ast.With, ast.AsyncWith)):
            for item in anc.items:
                c = item.context_expr
                if isinstance(c, ast.Call) and (module.imports.resolve(c.func) or dotted(c.func) or "").endswith(
                        "variable_scope") and any(kw.arg == "reuse" and not (
                            isinstance(kw.value, ast.Constant) and not kw.value.value) for kw in c.keywords):
                    return True
    scope = module.scope_of(node)
    before = (node.lineno, node.col_offset)
    return any(c.name == "reuse_variables" and c.scope is scope and (c.node.lineno, c.node.col_offset) < before
               for c in module.calls)


def _instance_flag_values(site: BNSite, em: Module, project: Project):
    """({flag values}, first construction) for a flag written in terms of one attribute that the
    class's ``__init__`` copies from a parameter (``self.mode = mode``), over the constructions of
    that class in ``em``; None when the flag has another shape or any value is unknown."""
    expr = site.flag_expr
    if expr is None:
        return None
    attrs = {n.attr for n in astwalk.walk(expr) if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name)
             and n.value.id == "self"}
    cls = site.module.enclosing_class(site.node)
    if len(attrs) != 1 or cls is None:
        return None
    attr = attrs.pop()
    init = next((b for b in cls.body if isinstance(b, ast.FunctionDef) and b.name == "__init__"), None)
    if init is None:
        return None
    stores = [n for n in astwalk.walk(cls) if isinstance(n, (ast.Assign, ast.AugAssign, ast.AnnAssign))
              and any(isinstance(t, ast.Attribute) and t.attr == attr
                      for t in (n.targets if isinstance(n, ast.Assign) else [n.target]))]
    if len(stores) != 1 or not isinstance(stores[0], ast.Assign) or not isinstance(stores[0].value, ast.Name) \
            or site.module.scope_of(stores[0]) is not init:
        return None
    param = stores[0].value.id
    spec = V._param_spec(init, param)
    if spec is None:
        return None
    position, default = spec
    calls = [c for c in em.calls if c.name == cls.name]  # ``Model(mode='train')``, ``models.Model(...)``
    if not calls:
        return None
    out: set = set()
    for c in calls:
        if any(kw.arg is None for kw in c.node.keywords) or any(isinstance(a, ast.Starred) for a in c.node.args):
            return None
        arg = next((kw.value for kw in c.node.keywords if kw.arg == param), None)
        if arg is None and position is not None and 0 < position <= len(c.node.args):
            arg = c.node.args[position - 1]
        vals = V.possible_values(arg, em, project) if arg is not None else (
            V.possible_values(default, site.module, project) if default is not None else V.UNKNOWN)
        if not V.is_constant_set(vals):
            return None
        for v in vals:
            flag = _evaluate_with(expr, attr, v)
            if flag is None:
                return None
            out.add(flag)
    return out, calls[0].node


# What a leaf function returns for a node it does not replace.
_NOT_A_LEAF = object()


def _evaluate_substituted(expr: ast.AST, leaf, identity: bool = False, conditional: bool = False) -> Optional[bool]:
    """``expr`` evaluated over constants, not/and/or, ``==``/``!=``/``in``/``not in`` (and ``is``/``is
    not`` against None or a bool when ``identity``; ``x if c else y`` when ``conditional``), with each
    leaf ``leaf(e)`` knows (returns ``_NOT_A_LEAF`` for the others) replaced by its value; None when
    the result is not a bool or a part is of another shape."""
    def ev(e):
        got = leaf(e)
        if got is not _NOT_A_LEAF:
            return got
        if isinstance(e, ast.Constant):
            return e.value
        if isinstance(e, ast.UnaryOp) and isinstance(e.op, ast.Not):
            return not ev(e.operand)
        if isinstance(e, ast.BoolOp):
            vals = [ev(v) for v in e.values]
            return all(vals) if isinstance(e.op, ast.And) else any(vals)
        if conditional and isinstance(e, ast.IfExp):
            return ev(e.body) if ev(e.test) else ev(e.orelse)
        if isinstance(e, ast.Compare) and len(e.ops) == 1:
            a, b, op = ev(e.left), ev(e.comparators[0]), e.ops[0]
            if isinstance(op, ast.Eq):
                return a == b
            if isinstance(op, ast.NotEq):
                return a != b
            if identity and isinstance(op, (ast.Is, ast.IsNot)) and (b is None or isinstance(b, bool)):
                return (a is b) == isinstance(op, ast.Is)
            if isinstance(op, (ast.In, ast.NotIn)) and isinstance(b, list):
                return (a in b) == isinstance(op, ast.In)
        if isinstance(e, (ast.Tuple, ast.List, ast.Set)):
            return [ev(x) for x in e.elts]
        raise ValueError(e)
    try:
        result = ev(expr)
    except (ValueError, TypeError):
        return None
    return result if isinstance(result, bool) else None



def _evaluate_with(expr: ast.AST, attr: str, value) -> Optional[bool]:
    """``expr`` with ``self.<attr>`` = ``value``: comparisons, not/and/or and constants only."""
    def leaf(e):
        if isinstance(e, ast.Attribute) and isinstance(e.value, ast.Name) and e.value.id == "self" and e.attr == attr:
            return value
        return _NOT_A_LEAF
    return _evaluate_substituted(expr, leaf, identity=True)


# --- a training flag computed from a mode that is True in an evaluation mode -----------------------
# tf.estimator.ModeKeys (and tf.contrib.learn's) values; Keras' ModeKeys.TEST is "test".
_MODE_KEY_VALUES = {"TRAIN": "train", "EVAL": "eval", "PREDICT": "infer", "INFER": "infer", "TEST": "test"}
_EVALUATION_MODE_WORDS = frozenset({"eval", "evaluate", "evaluation", "val", "valid", "validation", "test",
                                    "testing", "dev", "infer", "inference", "predict", "prediction"})
_ESTIMATOR_EVALUATES = ("evaluate", "train_and_evaluate", "EvalSpec")


def _mode_constants(expr: ast.AST, m: Module, project: Project) -> Optional[frozenset]:
    """The mode strings ``expr`` stands for: string constants (through names and project classes,
    ``ModeKeys.EVAL = "eval"``) or a framework ``ModeKeys.<KEY>`` attribute; None when unknown."""
    vals = V.possible_values(expr, m, project)
    if V.is_constant_set(vals) and vals and all(isinstance(v, str) for v in vals):
        return frozenset(vals)
    if isinstance(expr, ast.Attribute) and expr.attr in _MODE_KEY_VALUES \
            and (dotted(expr.value) or "").split(".")[-1] == "ModeKeys":
        return frozenset({_MODE_KEY_VALUES[expr.attr]})
    return None


def _evaluate_mode_test(expr: ast.AST, name: str, value: str, m: Module, project: Project) -> Optional[bool]:
    """``expr`` (comparisons of the name ``name`` with mode constants, not/and/or, ``x if c else y``)
    with ``name`` = ``value``; None for any other shape."""
    def leaf(e):
        if isinstance(e, ast.Name) and e.id == name:
            return value
        if isinstance(e, (ast.Name, ast.Attribute)):
            consts = _mode_constants(e, m, project)
            if consts is not None and len(consts) == 1:
                return next(iter(consts))
            raise ValueError(e)
        return _NOT_A_LEAF
    return _evaluate_substituted(expr, leaf, conditional=True)


def _bound_argument(call: ast.Call, fn: ast.AST, name: str) -> Optional[ast.AST]:
    """The argument ``call`` passes for parameter ``name`` of ``fn`` (its default when not passed);
    also after one leading ``*args`` (``model_fn(*input_fn(...), ModeKeys.EVAL, params)``) when ``fn``
    takes a fixed list of positional parameters without defaults: the trailing arguments bind its
    last parameters."""
    is_method = isinstance(call.func, ast.Attribute)
    arg, _explicit = kf.argument_for(call, fn, name, is_method_call=is_method)
    if arg is not None:
        return arg
    a = fn.args
    stars = [i for i, x in enumerate(call.args) if isinstance(x, ast.Starred)]
    if len(stars) != 1 or call.keywords or a.vararg is not None or a.defaults or a.kwonlyargs:
        return None
    params = [p.arg for p in a.posonlyargs + a.args]
    if is_method and params and params[0] in ("self", "cls"):
        params = params[1:]
    trailing = call.args[stars[0] + 1:]
    if name not in params or not trailing or len(trailing) > len(params):
        return None
    k = params.index(name) - (len(params) - len(trailing))
    return trailing[k] if k >= 0 else None


def _mode_tests(site: BNSite, project: Project, depth: int = 4) -> list:
    """(test expression, its module) pairs the flag of ``site`` comes from: comparisons read through
    local names and wrapper parameters (at every call site) that compare exactly one name with
    constants (``mode != ModeKeys.PREDICT``)."""
    out: list = []
    work = [(site.flag_expr, site.module, depth)]
    seen: set = set()
    while work:
        expr, m, d = work.pop()
        if expr is None or id(expr) in seen or d < 0:
            continue
        seen.add(id(expr))
        if isinstance(expr, (ast.Compare, ast.BoolOp, ast.UnaryOp, ast.IfExp)):
            if any(isinstance(n, ast.Compare) for n in astwalk.walk(expr)):
                out.append((expr, m))
            continue
        if not isinstance(expr, ast.Name):
            continue
        scope = m.scope_of(expr)
        if scope is None or isinstance(scope, ast.Lambda):
            continue
        if kf._param_index(scope, expr.id)[2]:
            if any(isinstance(n, ast.Name) and n.id == expr.id and isinstance(n.ctx, ast.Store)
                   for n in astwalk.walk(scope)):
                continue  # rebound: which value reaches BN is not known here
            program = same_program(m, project)
            for c in project.call_sites(scope.name):
                if id(c.module) in program:
                    work.append((_bound_argument(c.node, scope, expr.id), c.module, d - 1))
            continue
        stores = [n for n in astwalk.walk(scope) if isinstance(n, ast.Assign) and m.scope_of(n) is scope
                  and any(isinstance(t, ast.Name) and t.id == expr.id for t in n.targets)]
        rebinds = [n for n in astwalk.walk(scope) if isinstance(n, ast.Name) and n.id == expr.id
                   and isinstance(n.ctx, ast.Store) and m.scope_of(n) is scope]
        if len(stores) == 1 and len(rebinds) == 1:
            work.append((stores[0].value, m, d))
    return out


def _evaluation_mode_training(site: BNSite, project: Project):
    """(test, its module, evaluation mode, where that mode is used) when a mode test the flag of
    ``site`` comes from is True for an evaluation mode the program builds; None otherwise."""
    for test, tm in _mode_tests(site, project):
        names = {n.id for n in astwalk.walk(test) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
        fn = tm.scope_of(test)
        if fn is None or isinstance(fn, ast.Lambda):
            continue
        modes = [n for n in names if kf._param_index(fn, n)[2]]
        if len(modes) != 1:
            continue
        mode = modes[0]
        if any(isinstance(n, ast.Name) and n.id == mode and isinstance(n.ctx, ast.Store) for n in astwalk.walk(fn)):
            continue
        uses = []  # (mode value, where)
        program = same_program(tm, project)
        for c in project.call_sites(fn.name):
            if id(c.module) not in program:
                continue
            arg = _bound_argument(c.node, fn, mode)
            consts = _mode_constants(arg, c.module, project) if arg is not None else None
            for v in consts or ():
                uses.append((v, f"the call at {_at(c.module, c.node.lineno, site.module)}"))
        if mode == "mode":  # an Estimator runs its model_fn in EVAL mode when the program evaluates
            for c in project.call_sites("Estimator") + project.call_sites("TPUEstimator"):
                if id(c.module) not in program:
                    continue
                fn_arg = kf.kwarg(c.node, "model_fn") or (c.node.args[0] if c.node.args else None)
                if not isinstance(fn_arg, (ast.Name, ast.Attribute)) or \
                        (fn_arg.id if isinstance(fn_arg, ast.Name) else fn_arg.attr) != fn.name:
                    continue
                evals = [e for n in _ESTIMATOR_EVALUATES for e in project.call_sites(n)
                         if id(e.module) in same_program(c.module, project)]
                if evals:
                    uses.append(("eval", f"`{evals[0].name}` ({_at(evals[0].module, evals[0].node.lineno, site.module)}) "
                                         f"of the Estimator built at {_at(c.module, c.node.lineno, site.module)}"))
        for value, where in uses:
            if _EVALUATION_MODE_WORDS.isdisjoint(identifier_words(value)):
                continue
            if _evaluate_mode_test(test, mode, value, tm, project):
                return test, tm, value, where
    return None


def _eval_modules(project: Project):
    ctx = train_context(project)
    out = []
    for m in project.modules:
        restored = any(r.module is m for r in ctx.restores)
        trains = id(m) in ctx.trained_modules
        runs = _eval_runs(m, require_eval_data=trains or not restored, any_fetch=restored and not trains)
        if not runs:
            continue
        out.append((m, runs, restored, trains))
    return out


def _reaches(site: BNSite, module: Module, project: Project) -> bool:
    """Does code in ``module`` build the BN ``site``: a direct call of the function that builds it,
    or a chain of project calls that ends there (``network.build_network(...)`` -> ``LocalNet`` ->
    ``layers.conv3_block``)?"""
    from bnguard.lint.tf1_facts import enclosing_names

    names = set(enclosing_names(site.node, site.module))
    if not names:
        return False
    # A call by name of a function that the calling module defines itself is a call of its own
    # (two scripts each with a ``model_fn``), not of the site's; nor is ``net.inference()`` on the
    # ``net.py`` beside the caller when the site is another experiment's ``net.py``, nor a call of
    # a parameter (``model_fn(x)`` in a generic trainer) of another program.
    called = project.fact(f"tf1.call_names:{id(module)}", lambda p: {c.name for c in module.calls if c.name}
                          - ({f.name for f in module.functions} | {c.name for c in module.classes}))
    if site.module is module:
        return True
    if not names.isdisjoint(called) and any(
            call_may_reach(c, site.module, project) for c in module.calls if c.name in names):
        return True
    return id(site.module) in same_program(module, project) and site_in_graph_of(site, module, project)


# --- a default-True flag in an exported inference graph ---------------------------------------------
_FREEZE_NAMES = {"convert_variables_to_constants", "freeze_graph"}
_SIGNATURE_NAMES = {"simple_save": "inputs", "predict_signature_def": "inputs"}


def _default_true_placeholder(site: BNSite, project: Project) -> Optional[V.Placeholder]:
    """The one ``placeholder_with_default(True)`` the flag of ``site`` is (feeds aside)."""
    vals = site.flag
    if vals is V.UNKNOWN or len(vals) != 1:
        narrowed = _flag_in_program(site, project)
        if narrowed is None:
            return None
        vals = narrowed[0]
    if vals is V.UNKNOWN or len(vals) != 1:
        return None
    ph = next(iter(vals))
    if not isinstance(ph, V.Placeholder) or not ph.has_default or not V.always_true_values(ph.default):
        return None
    return ph


def _flag_named(ph: V.Placeholder, modules: list, project: Project) -> bool:
    """Does any string in the programs of ``modules`` name the flag's tensor or op (``"is_training:0"``
    in a feed or an ``input_map``, ``get_tensor_by_name``...)? True when its name cannot be read."""
    import re

    kw, name = _placeholder_name(ph.node)
    if name is None:
        return True
    pattern = re.compile(rf"(^|/){re.escape(name)}(_\d+)?(:\d+)?$")
    programs: set = set()
    for m in modules:
        programs |= same_program(m, project)
    for m, node in _program_strings(programs, project, kw):
        if pattern.search(node.value):
            parent = m.parent(node)
            if isinstance(parent, ast.keyword) and parent.arg == "name" and ":" not in node.value:
                continue  # another op given the same name
            return True
    return False


def _strings_of(expr: Optional[ast.AST], module: Module, project: Project, depth: int = 3) -> Optional[set]:
    """The constant node names an ``output_node_names`` argument can hold (a list of strings, a
    comma-separated string, a local name bound once, a helper parameter over its call sites)."""
    if expr is None or depth < 0:
        return None
    if isinstance(expr, ast.Constant) and isinstance(expr.value, str):
        return {s.strip() for s in expr.value.split(",") if s.strip()}
    if isinstance(expr, (ast.List, ast.Tuple)):
        out: set = set()
        for e in expr.elts:
            got = _strings_of(e, module, project, depth)
            if got is None:
                return None
            out |= got
        return out
    if isinstance(expr, ast.Name):
        scope = module.scope_of(expr)
        if scope is not None and not isinstance(scope, ast.Lambda) and kf._param_index(scope, expr.id)[2]:
            out = set()
            sites = project.call_sites(scope.name)
            if not sites:
                return None
            for c in sites:
                arg, explicit = kf.argument_for(c.node, scope, expr.id, is_method_call=isinstance(c.node.func, ast.Attribute))
                got = _strings_of(arg, c.module if explicit else module, project, depth - 1)
                if got is None:
                    return None
                out |= got
            return out
        values = [n.value for n in (astwalk.walk(scope) if scope is not None else module.tree.body)
                  if isinstance(n, ast.Assign) and any(isinstance(t, ast.Name) and t.id == expr.id for t in n.targets)]
        if len(values) == 1:
            return _strings_of(values[0], module, project, depth - 1)
    return None


def _builds_graph_of(site: BNSite, c, project: Project) -> bool:
    """Does the code around call ``c`` (its module, or the modules that call its function) build the
    BN ``site``?"""
    if _reaches(site, c.module, project):
        return True
    scope = c.scope
    while scope is not None and isinstance(scope, ast.Lambda):
        scope = c.module.scope_of(scope)
    if scope is None:
        return False
    return any(k.module is not c.module and _reaches(site, k.module, project) for k in project.call_sites(scope.name))


def _served_without_flag(site: BNSite, ph: V.Placeholder, project: Project) -> Optional[tuple]:
    """(what serves the graph, where) when the graph of ``site`` is exported and served where its
    flag cannot be fed; None otherwise."""
    for c in project.all_calls():
        q = c.qualname or ""
        if not q.startswith("tensorflow.") or c.name not in _SIGNATURE_NAMES:
            continue
        inputs = next((k.value for k in c.node.keywords if k.arg == _SIGNATURE_NAMES[c.name]), None)
        if inputs is None and c.name == "predict_signature_def" and c.node.args:
            inputs = c.node.args[0]
        if not isinstance(inputs, ast.Dict) or not _builds_graph_of(site, c, project):
            continue
        names = set()
        for v in inputs.values:
            if not isinstance(v, (ast.Name, ast.Attribute)):
                names = None
                break
            names.add(_last_name_of_target(v))
        if names is None or names & set(ph.names) or _flag_named(ph, [site.module, c.module], project):
            continue
        return f"the `{c.name}` signature does not list it among its inputs", c.module.where(c.node.lineno)
    for c in project.all_calls():
        q = c.qualname or ""
        if c.name not in _FREEZE_NAMES or not q.startswith("tensorflow."):
            continue
        arg = next((k.value for k in c.node.keywords if k.arg == "output_node_names"), None)
        if arg is None and c.name == "convert_variables_to_constants" and len(c.node.args) > 2:
            arg = c.node.args[2]
        outputs = _strings_of(arg, c.module, project)
        if not outputs or not _builds_graph_of(site, c, project):
            continue
        for k in project.calls_to("tensorflow.import_graph_def"):
            input_map = next((kw.value for kw in k.node.keywords if kw.arg == "input_map"), None)
            if input_map is not None and not isinstance(input_map, ast.Dict):
                continue  # a map we cannot read may set the flag
            if _runs_outputs(k, outputs) and not _flag_named(ph, [site.module, c.module, k.module], project):
                return (f"the graph frozen at {c.module.where(c.node.lineno)} is imported and run without the flag",
                        k.module.where(k.node.lineno))
    return None


# Calls that write a graph for a serving/inference consumer, with the session's graph as it is.
_SERVING_EXPORTS = frozenset({"simple_save", "add_meta_graph_and_variables", "convert_variables_to_constants",
                              "from_session"})


def _serving_exports(project: Project) -> list:
    def compute(p: Project) -> list:
        out = []
        for m in p.modules:
            if not any(m.mentions(w) for w in _SERVING_EXPORTS):
                continue
            for c in m.calls:
                if c.name not in _SERVING_EXPORTS or is_unit_test(m, c.scope):
                    continue
                if c.name == "add_meta_graph_and_variables" or (c.qualname or "").startswith("tensorflow."):
                    out.append(c)
        return out
    return project.fact("tf1.serving_exports", compute)


def _reimports_meta_graph(c) -> Optional[ast.Call]:
    """The ``import_meta_graph`` call of the function (or module level) around the export ``c``."""
    for k in c.module.calls:
        if k.name == "import_meta_graph" and k.scope is c.scope and (k.qualname or "").startswith("tensorflow."):
            return k.node
    return None


def _exported_sites(c, project: Project) -> Optional[list]:
    """The (non-Keras) BN sites of the graph the export call ``c`` writes: those the code around it
    builds, or, when that code builds none and re-imports a meta graph, those of the trained graph
    (the checkpoint's meta graph is the training script's). None when it cannot be told."""
    key = f"tf1.exported_sites:{id(c.node)}"

    def compute(p: Project):
        sites = [s for s in bn_sites(p) if s.api != "keras"]
        if _reimports_meta_graph(c) is None:
            return [s for s in sites if _export_builds(s, c, p)]
        if any(_export_builds(s, c, p, callers=False) for s in sites):
            return None  # builds a network as well as importing one
        # the checkpoint's graph is built by the exporting script's own program, or else by any
        # training script of the project (all of whose layers must then be always training)
        program = same_program(c.module, p)
        trained = [s for s in sites if is_trained(s.node, s.module, p)]
        return [s for s in trained if id(s.module) in program] or trained or None
    return project.fact(key, compute)


def _export_builds(site: BNSite, c, project: Project, callers: bool = True) -> bool:
    """Is the BN ``site`` built by the code around the export call ``c``: its function, the
    functions that call that one (a ``save_servable(sess, ...)`` helper called by the trainer) when
    ``callers``, and what they call; the module's own code and what it calls for a module-level export."""
    if c.scope is None or isinstance(c.scope, ast.Lambda):
        return site_in_graph_of(site, c.module, project)
    key = f"tf1.export_reach:{id(c.scope)}:{callers}"

    def compute(p: Project) -> tuple:
        ctx = train_context(p)
        owners = {id(c.scope)}
        work = [(_call_ref(k, p), c.module) for k in c.module.calls if k.scope is c.scope and k.name]
        modules = set()
        for k in p.call_sites(getattr(c.scope, "name", "")) if callers else ():
            if k.scope is None:
                modules.add(id(k.module))
                work.extend((_call_ref(o, p), k.module) for o in k.module.calls if o.scope is None and o.name)
            else:
                owners.add(id(k.scope))
                work.extend((_call_ref(o, p), k.module) for o in k.module.calls if o.scope is k.scope and o.name)
        seen: set = set()
        _close(work, seen, ctx, p)
        return owners | seen, modules
    reach, modules = project.fact(key, compute)
    if id(site.module) in modules and site.module.scope_of(site.node) is None:
        return True
    return any(id(f) in reach for f in enclosing_functions(site.node, site.module))


def _runs_outputs(k, outputs: set) -> bool:
    """Does the code around an ``import_graph_def`` call name one of the frozen graph's output nodes
    (``"probs:0"``, ``"import/probs:0"``, ``return_elements=["probs"]``)?"""
    import re

    owner = k.scope if k.scope is not None else k.module.tree
    for node in astwalk.walk(owner):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            name = re.sub(r":\d+$", "", node.value)
            if any(name == o or name.endswith("/" + o) for o in outputs):
                return True
    return False


# --- hand-written BN without moving statistics -------------------------------------------------------
_MODE_WORDS = frozenset({"train", "training", "phase", "mode", "test", "testing", "eval", "evaluation", "inference",
                         "infer", "predict", "moving", "momentum", "decay", "ema", "update", "updates", "stat", "stats",
                         "statistics", "population", "running", "freeze", "frozen", "mean", "var", "variance"})
_STATISTIC_CALLS = frozenset({"cond", "case", "where", "switch_case", "assign", "assign_sub", "assign_add", "apply",
                              "average", "ExponentialMovingAverage", "assign_moving_average", "control_dependencies",
                              "add_to_collection", "add_to_collections", "Variable", "smart_cond"})


# Updates of a moving-average variable: ``assign_moving_average(var, value, decay)``, ``var.assign(...)``.
_AVERAGE_UPDATES = frozenset({"assign_moving_average", "assign", "assign_sub"})
_VARIABLE_MAKERS = frozenset({"tensorflow.get_variable", "tensorflow.Variable", "tensorflow.compat.v1.get_variable",
                              "tensorflow.compat.v1.Variable"})


def _batch_moments_only(fn: ast.AST, m: Module, project: Optional[Project] = None) \
        -> Optional[tuple[ast.Call, list[str]]]:
    """The ``tf.nn.batch_normalization(x, mean, var, ...)`` call of a function that takes the mean and
    variance from ``tf.nn.moments(x, axes=[0, ...])`` (the batch axis included), with no branch and
    no mode parameter, and the names of the moving averages it keeps but never reads (empty when
    it keeps none). The batch moments may feed nothing else but moving-average updates
    (``assign_moving_average(moving_mean, mean, decay)``) of variables this function creates and
    only ever updates: averages nothing reads cannot serve inference. None for any other function."""
    if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return None
    params = [a.arg for a in fn.args.posonlyargs + fn.args.args + fn.args.kwonlyargs]
    if fn.args.vararg or fn.args.kwarg or any(set(identifier_words(p)) & _MODE_WORDS for p in params):
        return None
    moments, normalize, updates = [], [], []
    for n in astwalk.walk(fn):
        if n is not fn and isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.If, ast.IfExp)):
            return None  # a branch or a closure may choose other statistics
        if not isinstance(n, ast.Call):
            continue
        q = m.imports.resolve(n.func) or ""
        name = n.func.attr if isinstance(n.func, ast.Attribute) else getattr(n.func, "id", "")
        if q == "tensorflow.nn.moments":
            moments.append(n)
        elif q == "tensorflow.nn.batch_normalization":
            normalize.append(n)
        elif name in _AVERAGE_UPDATES and _updated_variable(n) is not None:
            updates.append(n)
        elif name in _STATISTIC_CALLS:
            return None
    if len(moments) != 1 or len(normalize) != 1:
        return None
    mcall, ncall = moments[0], normalize[0]
    axes = mcall.args[1] if len(mcall.args) > 1 else next((k.value for k in mcall.keywords if k.arg == "axes"), None)
    if not isinstance(axes, (ast.List, ast.Tuple)) or not axes.elts or not all(
            isinstance(e, ast.Constant) and type(e.value) is int for e in axes.elts) \
            or 0 not in [e.value for e in axes.elts]:
        return None
    assign = m.parent(mcall)
    if not (isinstance(assign, ast.Assign) and len(assign.targets) == 1 and isinstance(assign.targets[0], ast.Tuple)
            and len(assign.targets[0].elts) == 2 and all(isinstance(e, ast.Name) for e in assign.targets[0].elts)):
        return None
    mean, var = (e.id for e in assign.targets[0].elts)

    def arg(i: int, kw: str):
        return ncall.args[i] if len(ncall.args) > i else next((k.value for k in ncall.keywords if k.arg == kw), None)
    got_mean, got_var = arg(1, "mean"), arg(2, "variance")
    if not (isinstance(got_mean, ast.Name) and got_mean.id == mean and isinstance(got_var, ast.Name)
            and got_var.id == var):
        return None
    averages = _unread_averages(fn, m, project, updates) if updates else []
    if averages is None:
        return None
    fed = {id(n) for u in updates for n in astwalk.walk(u)}  # what an update reads to average in
    for n in astwalk.walk(fn):  # the batch moments go nowhere else (no EMA fed from them, not returned)
        if isinstance(n, ast.Name) and n.id in (mean, var) and n is not got_mean and n is not got_var \
                and id(n) not in fed:
            if isinstance(n.ctx, ast.Load) or n not in assign.targets[0].elts:
                return None
    return ncall, averages


def _updated_variable(call: ast.Call) -> Optional[str]:
    """The local name a moving-average update writes: ``assign_moving_average(v, x, d)`` /
    ``tf.assign(v, x)`` (its first argument) or ``v.assign(x)``."""
    f = call.func
    if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) and f.attr in ("assign", "assign_sub") \
            and len(call.args) == 1:
        return f.value.id
    if call.args and isinstance(call.args[0], ast.Name) and len(call.args) >= 2:
        return call.args[0].id
    return None


def _unread_averages(fn: ast.AST, m: Module, project: Optional[Project], updates: list) -> Optional[list[str]]:
    """The names of the moving-average variables ``updates`` write, when each is a variable ``fn``
    creates (``tf.get_variable('moving_mean', ...)``) and used nowhere but as the target of those
    updates, and no other function of the project creates or looks up a variable of the same
    name (an inference twin reading it back by name). None otherwise."""
    created: dict[str, str] = {}
    for n in astwalk.walk(fn):
        if isinstance(n, ast.Assign) and len(n.targets) == 1 and isinstance(n.targets[0], ast.Name) \
                and isinstance(n.value, ast.Call) and (m.imports.resolve(n.value.func) or "") in _VARIABLE_MAKERS:
            label = n.value.args[0] if n.value.args else next(
                (k.value for k in n.value.keywords if k.arg == "name"), None)
            if isinstance(label, ast.Constant) and isinstance(label.value, str):
                created[n.targets[0].id] = label.value
    targets = []
    for u in updates:
        name = _updated_variable(u)
        if name not in created:
            return None
        targets.append(name)
    inside = {id(n) for u in updates for n in astwalk.walk(u)}  # the update's own target and decay terms
    for n in astwalk.walk(fn):
        if isinstance(n, ast.Name) and n.id in targets and isinstance(n.ctx, ast.Load) and id(n) not in inside:
            return None  # read: normalized with, returned, stored, logged...
    labels = {created[t] for t in targets}

    def label_uses(tree: ast.AST) -> int:
        return sum(1 for n in astwalk.walk(tree) if isinstance(n, ast.Constant) and n.value in labels)
    if project is not None:
        own = label_uses(fn)
        seen = sum(label_uses(mod.tree) for mod in project.modules if any(mod.mentions(lb) for lb in labels))
        if seen > own:
            return None  # the same variable made or looked up elsewhere (an inference twin, a restore map)
    return sorted(set(targets))



def _feeds_evaluation_data(run: ast.Call, module: Module) -> bool:
    """Is the feed of an evaluation run named for validation/test data, or the run in a function
    named for evaluation?"""
    feed = _run_fetch_and_feed(run)[1]
    if feed is not None and not _EVAL_DATA_WORDS.isdisjoint(
            w for n in astwalk.walk(feed) if isinstance(n, (ast.Name, ast.Attribute))
            for w in identifier_words(n.id if isinstance(n, ast.Name) else n.attr)):
        return True
    scope = module.scope_of(run)
    return scope is not None and not isinstance(scope, ast.Lambda) \
        and not _EVAL_FUNCTION_PARTS.isdisjoint(identifier_words(scope.name))


# --- ``==`` on a graph tensor: Python identity outside eager execution ------------------------------
# In graph mode (TF1, ``disable_eager_execution()``, any ``with tf.Graph().as_default()`` block)
# ``Tensor.__eq__``/``__ne__`` compare Python identity: ``mode == "train"`` with ``mode`` a
# ``tf.placeholder(tf.string)`` is the constant False when the graph is built, whatever is fed later.
# A placeholder only exists in graph mode, so a placeholder operand is enough to know the mode.
class _GraphTensor:
    """Stands for a graph tensor while a flag expression is evaluated: ``==`` is identity, and
    using it as a Python bool fails (as TensorFlow raises), so ``not mode`` gives no answer."""

    def __init__(self, name: str):
        self.name = name

    def __bool__(self):
        raise TypeError("a graph tensor has no Python truth value")


def _identity_test_sources(site: BNSite, project: Project, depth: int = 4) -> Optional[list]:
    """Every (test expression, its module) the flag of ``site`` can come from, read through local
    names bound once and wrapper parameters (every call site of the program); None when a source is
    anything but such a test or a constant False."""
    out: list = []
    work = [(site.flag_expr, site.module, depth)]
    seen: set = set()
    while work:
        expr, m, d = work.pop()
        if expr is None or d < 0:
            return None
        if id(expr) in seen:
            continue
        seen.add(id(expr))
        if isinstance(expr, (ast.Compare, ast.BoolOp, ast.UnaryOp, ast.IfExp)):
            out.append((expr, m))
            continue
        if isinstance(expr, ast.Constant) and expr.value is False:
            continue
        if not isinstance(expr, ast.Name):
            return None
        scope = m.scope_of(expr)
        if isinstance(scope, ast.Lambda):
            return None
        owner = scope if scope is not None else m.tree
        if scope is not None and kf._param_index(scope, expr.id)[2]:
            if any(isinstance(n, ast.Name) and n.id == expr.id and isinstance(n.ctx, ast.Store) for n in astwalk.walk(scope)):
                return None
            program = same_program(m, project)
            sites = [c for c in project.call_sites(scope.name) if id(c.module) in program]
            if not sites:
                return None
            for c in sites:
                work.append((_bound_argument(c.node, scope, expr.id), c.module, d - 1))
            continue
        rebinds = [n for n in astwalk.walk(owner) if isinstance(n, ast.Name) and n.id == expr.id
                   and isinstance(n.ctx, ast.Store) and m.scope_of(n) is scope]
        stores = [n for n in astwalk.walk(owner) if isinstance(n, ast.Assign) and m.scope_of(n) is scope
                  and len(n.targets) == 1 and isinstance(n.targets[0], ast.Name) and n.targets[0].id == expr.id]
        if len(stores) != 1 or len(rebinds) != 1:
            return None
        work.append((stores[0].value, m, d))
    return out


def _tensor_compared_by_identity(site: BNSite, project: Project) -> Optional[tuple]:
    """(comparison, its module, the placeholder compared) when every source of the flag of ``site``
    is False in graph mode because it compares a placeholder with ``==`` (identity: ``mode ==
    "train"`` with ``mode = tf.placeholder(tf.string)``); None otherwise. A Python-string ``mode``
    (an Estimator ``model_fn``) resolves to constants and is never such an operand."""
    if site.flag is V.UNKNOWN or V.RUNTIME not in site.flag or any(v is not V.RUNTIME and v is not False for v in site.flag):
        return None
    tests = _identity_test_sources(site, project)
    if not tests:
        return None
    found = None
    for test, tm in tests:
        if any(isinstance(a, (ast.FunctionDef, ast.AsyncFunctionDef)) and a.decorator_list
               and any((dotted(dec.func if isinstance(dec, ast.Call) else dec) or "").split(".")[-1] == "function"
                       for dec in a.decorator_list)
               for a in tm.ancestors(test)):
            return None  # a ``tf.function`` body: TF2 compares tensors element-wise there
        tensors: list = []

        def leaf(e, tm=tm, tensors=tensors):
            if not isinstance(e, (ast.Name, ast.Attribute)):
                return _NOT_A_LEAF
            vals = V.possible_values(e, tm, project)
            if vals is not V.UNKNOWN and vals and all(isinstance(v, V.Placeholder) for v in vals):
                tensors.append((e, vals))
                return _GraphTensor(ast.unparse(e))
            if V.is_constant_set(vals) and len(vals) == 1:
                return next(iter(vals))
            raise ValueError(e)
        if _evaluate_substituted(test, leaf) is not False:
            return None
        compared = next((n for n in astwalk.walk(test) if isinstance(n, ast.Compare) and len(n.ops) == 1
                         and isinstance(n.ops[0], (ast.Eq, ast.NotEq, ast.In, ast.NotIn))
                         and any(t is n.left or t is n.comparators[0] for t, _ in tensors)), None)
        if compared is not None and found is None:
            ph = next(V.placeholders(vals)[0] for t, vals in tensors if t is compared.left or t is compared.comparators[0])
            found = (compared, tm, ph)
    return found


# --------------------------------------------------------------------------------------------------
# BN105: a restored, untrained network (a distillation teacher) built in training mode beside the train op
# --------------------------------------------------------------------------------------------------
_SCOPED_VARIABLE_LISTS = ("tensorflow.trainable_variables", "tensorflow.global_variables",
                          "tensorflow.get_collection", "tensorflow.compat.v1.trainable_variables",
                          "tensorflow.compat.v1.global_variables")


def _scoped_collection(expr: Optional[ast.AST], module: Module) -> Optional[str]:
    """``S`` of ``tf.trainable_variables("S")`` / ``tf.global_variables(scope="S")`` /
    ``tf.get_collection(KEY, scope="S")`` (a constant string), else None."""
    if not isinstance(expr, ast.Call):
        return None
    q = module.imports.resolve(expr.func) or ""
    if q not in _SCOPED_VARIABLE_LISTS:
        return None
    pos = 1 if q.endswith("get_collection") else 0
    arg = expr.args[pos] if len(expr.args) > pos else next((k.value for k in expr.keywords if k.arg == "scope"), None)
    return arg.value if isinstance(arg, ast.Constant) and isinstance(arg.value, str) and arg.value else None


def _is_all_update_ops(expr: ast.AST, module: Module, fn: ast.AST) -> bool:
    """``tf.get_collection(tf.GraphKeys.UPDATE_OPS)`` without a scope, or a name bound once in ``fn`` to it."""
    if isinstance(expr, ast.Name):
        bound = kf._assignments(fn, expr.id)
        if len(bound) != 1 or bound[0] is None:
            return False
        expr = bound[0]
    return isinstance(expr, ast.Call) and (module.imports.resolve(expr.func) or "").endswith("get_collection") \
        and len(expr.args) == 1 and not expr.keywords and is_update_ops_ref(expr.args[0], module)


def _restored_scopes(module: Module) -> dict[str, ast.Call]:
    """Scopes whose variables a ``tf.train.Saver(tf.global_variables("T"))`` of this module restores
    (the module calls ``.restore``), or that ``tf.train.init_from_checkpoint(ckpt, {"T/": "T/"})`` loads."""
    out: dict[str, ast.Call] = {}
    restores = any(c.name == "restore" for c in module.calls)
    for c in module.calls:
        q = module.imports.resolve(c.node.func) or ""
        if q.endswith("train.Saver") and restores:
            arg = c.node.args[0] if c.node.args else next((k.value for k in c.node.keywords if k.arg == "var_list"), None)
            scope = _scoped_collection(arg, module)
            if scope:
                out[scope] = c.node
        elif q.endswith("init_from_checkpoint") and len(c.node.args) > 1 and isinstance(c.node.args[1], ast.Dict):
            for k in c.node.args[1].keys:
                if isinstance(k, ast.Constant) and isinstance(k.value, str) and k.value.strip("/"):
                    out[k.value.strip("/")] = c.node
    return out


def _restored_teacher_in_training_mode(rule: Rule, module: Module, project: Project) -> Iterable[Finding]:
    """A network built by a project function under ``variable_scope(<its scope parameter>)`` with the
    scope name ``T`` given at the call, whose variables are restored from a checkpoint and left out of
    every train op of the calling function (``minimize(loss, var_list=tf.trainable_variables("S"))``),
    while its batch norm runs in training mode at that call (the builder's flag parameter left at its
    default True, or passed True) and the train op waits on the unscoped ``UPDATE_OPS`` collection:
    the restored network (a distillation teacher) predicts with batch statistics, and every training
    step runs its moving-average updates, so its restored statistics drift to this data. Only when
    its output does not feed the trained network (a teacher's targets; a frozen backbone under a
    trained head is left alone) and that network is built in the same function. Reported at the
    builder's batch norm."""
    found = project.fact("tf1.restored_teachers", _restored_teachers)
    if not found:
        return
    for site in bn_sites_in(module, project):
        msg = found.get(id(site.node))
        if msg is not None:
            yield rule.finding(module, site.node, msg)


def _restored_teachers(project: Project) -> dict:
    out: dict = {}
    for module in project.modules:
        if module.mentions("var_list") and module.mentions("UPDATE_OPS"):
            for node, msg in _teacher_calls(module, project):
                out.setdefault(node, msg)
    return out


def _teacher_calls(module: Module, project: Project):
    restored = _restored_scopes(module)
    if not restored:
        return
    for fn in (fi.node for fi in module.functions if isinstance(fi.node, ast.FunctionDef)):
        trains = [n for n in astwalk.walk(fn) if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
                  and n.func.attr in ("minimize", "compute_gradients", "apply_gradients")]
        minimizes = [n for n in trains if n.func.attr == "minimize"]
        if not minimizes or any(n.func.attr == "apply_gradients" for n in trains):
            continue
        trained: set = set()
        for n in trains:
            given = next((k.value for k in n.keywords if k.arg == "var_list"), None)
            if isinstance(given, ast.Name):  # ``small_vars = tf.trainable_variables("small")``
                bound = kf._assignments(fn, given.id)
                given = bound[0] if len(bound) == 1 else None
            scope = _scoped_collection(given, module)
            if scope is None:
                trained = set()
                break
            trained.add(scope)
        if not trained:
            continue
        waiting = next((n for n in minimizes for a in module.ancestors(n) if isinstance(a, ast.With)
                        and any(isinstance(i.context_expr, ast.Call) and i.context_expr.args
                                and (module.imports.resolve(i.context_expr.func) or "").endswith("control_dependencies")
                                and _is_all_update_ops(i.context_expr.args[0], module, fn) for i in a.items)), None)
        if waiting is None:
            continue
        calls = [n for n in astwalk.walk(fn) if isinstance(n, ast.Call) and n.lineno < waiting.lineno]
        for call in calls:
            found = _teacher_build(call, module, project, trained, restored, calls)
            if found is None:
                continue
            scope, flag, sites = found
            saver = restored[scope]
            msg = (f"batch norm of the network `{scope}` that `{ast.unparse(call.func)}(...)` builds at "
                   f"{module.where(call.lineno)} runs in training mode there ({flag}), but that network is restored "
                   f"from a checkpoint ({module.where(saver.lineno)}) and not trained (the train op at "
                   f"{module.where(waiting.lineno)} updates only {', '.join(sorted(repr(s) for s in trained))}): it "
                   "predicts with batch statistics, and the train op's control dependency on every UPDATE_OPS runs "
                   "its moving-average updates, so the restored statistics drift to this data; build it with the "
                   "training flag False")
            for s in sites:
                yield id(s.node), msg


def _teacher_build(call: ast.Call, module: Module, project: Project, trained: set, restored: dict,
                   calls: list) -> Optional[tuple[str, str]]:
    dmod, d = kf.resolve_def_in(project, module, call.func)
    if dmod is None or not isinstance(d, ast.FunctionDef) or d.args.vararg or d.args.kwarg:
        return None
    params = d.args.posonlyargs + d.args.args
    defaults = dict(zip([p.arg for p in params][len(params) - len(d.args.defaults):], d.args.defaults))

    def passed(name: str):
        idx = [p.arg for p in params].index(name) if name in [p.arg for p in params] else None
        if idx is not None and idx < len(call.args):
            return call.args[idx]
        return next((k.value for k in call.keywords if k.arg == name), None)

    scope_param = None
    for w in astwalk.walk(d):
        if isinstance(w, ast.With):
            for i in w.items:
                c = i.context_expr
                if isinstance(c, ast.Call) and (dmod.imports.resolve(c.func) or "").endswith("variable_scope") \
                        and c.args and isinstance(c.args[0], ast.Name):
                    scope_param = c.args[0].id
    if scope_param is None:
        return None
    arg = passed(scope_param)
    if not (isinstance(arg, ast.Constant) and isinstance(arg.value, str)) or arg.value not in restored \
            or any(arg.value.startswith(s) or s.startswith(arg.value) for s in trained):
        return None
    scope = arg.value
    flag = None
    sites = [s for s in bn_sites_in(dmod, project) if s.api in ("layers", "slim")
             and any(a is d for a in dmod.ancestors(s.node))]
    if not sites:
        return None
    for s in sites:
        upd = s.updates
        if not (isinstance(upd, frozenset) and "UPDATE_OPS" in upd):
            return None
        if s.flag_expr is None:
            if not s.default_training:
                return None
            flag = flag or "no training flag: the API default is training"
            continue
        if not isinstance(s.flag_expr, ast.Name) or s.flag_expr.id not in [p.arg for p in params] \
                or kf._assignments(d, s.flag_expr.id):
            return None
        given = passed(s.flag_expr.id)
        if given is None:
            given, how = defaults.get(s.flag_expr.id), f"`{s.flag_expr.id}` left at its default True"
        else:
            how = f"`{s.flag_expr.id}=True` passed"
        if not (isinstance(given, ast.Constant) and given.value is True):
            return None
        flag = flag or how
    # the trained network is built in the same function, from the same inputs, not from this output
    parent = module.parent(call)
    outs = {t.id for t in parent.targets if isinstance(t, ast.Name)} if isinstance(parent, ast.Assign) else set()
    if not outs:
        return None
    student = [c for c in calls if c is not call and any(
        isinstance(a, ast.Constant) and isinstance(a.value, str) and a.value in trained
        for a in c.args + [k.value for k in c.keywords])]
    if not student or any(isinstance(n, ast.Name) and n.id in outs for c in student for n in astwalk.walk(c)):
        return None
    # both fed the same batch (distillation), not a frozen source-domain encoder fed its own data (ADDA)
    inputs = {a.id for a in call.args + [k.value for k in call.keywords] if isinstance(a, ast.Name)}
    if not any(isinstance(a, ast.Name) and a.id in inputs for c in student for a in c.args + [k.value for k in c.keywords]):
        return None
    return scope, flag, sites
