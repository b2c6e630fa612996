"""Keras / TF2 rules (BN2xx): BN run in inference mode where it should train.

A Keras ``BatchNormalization`` updates its moving statistics only when it is *called* with
``training=True`` (explicitly, or inherited from the outer model call). ``fit`` passes it; a custom
``GradientTape`` loop or a ``train_step`` override must pass it itself.
"""
from __future__ import annotations

import ast
import re
from typing import Iterable, Iterator, Optional

from bnguard.lint import astwalk
from bnguard.lint import keras_facts as kf
from bnguard.lint.finding import Edit, Finding, Fix
from bnguard.lint.imports import dotted
from bnguard.lint.project import FuncNode, Module, Project, is_test_file
from bnguard.lint.rules.base import Rule, RuleDoc, register
from bnguard.lint.tf1_facts import identifier_words, mentions_deliberate_batch_stats, same_program

KERAS_VERSIONS = ("Keras 3 (3.0-3.15, TensorFlow/JAX/torch backends), tf.keras / tf_keras 2.x (TF 2.0-2.21); "
                  "verified by running Keras 3.15.1 on TF 2.21 and tf_keras 2.21.")


def _replace_fix(module: Module, node: ast.AST, text: str, description: str) -> Fix:
    _, line = module.unit.locate(node.lineno)
    _, end_line = module.unit.locate(node.end_lineno or node.lineno)
    cell, _ = module.unit.locate(node.lineno)
    return Fix(description, (Edit(line, node.col_offset, end_line, node.end_col_offset or node.col_offset, text, cell),))


def _training_value_in_context(module: Module, project: Project, call: ast.Call, expr: Optional[ast.expr],
                               site: Optional[ast.Call], site_module: Module) -> tuple[bool, Optional[ast.AST]]:
    """Is ``expr`` (the ``training`` of ``call``) always false? Returns (verdict, node to fix).

    When the call sits in a helper reached from ``site``, a helper parameter is resolved through that
    call site only (that is the path the training step takes)."""
    if expr is None:
        return False, None
    if site is not None and isinstance(expr, ast.Name):
        fn = module.scope_of(call)
        if fn is not None:
            arg, explicit = kf.argument_for(site, fn, expr.id, is_method_call=isinstance(site.func, ast.Attribute))
            _, _, is_param = kf._param_index(fn, expr.id)
            if is_param:
                if arg is None:
                    return False, None
                owner_module = site_module if explicit else module
                ok = kf.always_false(owner_module, project, arg) or _unset_learning_phase(owner_module, project, arg)
                return ok, (arg if explicit and isinstance(arg, ast.Constant) else None)
    ok = kf.always_false(module, project, expr) or _unset_learning_phase(module, project, expr)
    return ok, (expr if isinstance(expr, ast.Constant) else None)


def _default_binding_note(module: Module, call: ast.Call, expr: Optional[ast.expr], site: ast.Call) -> str:
    """``, whose `training` keeps its default False: ...`` when the helper's parameter that ``call``
    passes on is not bound by ``site`` (left out, or its positional arguments stop before it)."""
    fn = module.scope_of(call)
    if fn is None or not isinstance(expr, ast.Name) or not kf._param_index(fn, expr.id)[2]:
        return ""
    method = isinstance(site.func, ast.Attribute)
    arg, explicit = kf.argument_for(site, fn, expr.id, is_method_call=method)
    if arg is None or explicit:
        return ""
    note = f", whose `{expr.id}` keeps its default {ast.unparse(arg)}"
    params = [a.arg for a in fn.args.posonlyargs + fn.args.args]
    if method and params and params[0] in ("self", "cls"):
        params = params[1:]
    bound = params[:len(site.args)]
    flags = [(b, a) for b, a in zip(bound, site.args) if isinstance(a, ast.Constant) and isinstance(a.value, bool)]
    if flags:  # `self.embed(x, True)` meant as the training flag
        note += "; " + ", ".join(f"the positional {a.value} binds `{b}`" for b, a in flags)
    return note


# Code that gives the global learning phase a value: set it, scope it, or feed it to a graph
# (a TF1 session or a ``K.function`` fed ``K.learning_phase()``).
_PHASE_SETTERS = {"set_learning_phase", "learning_phase_scope"}
_GRAPH_MODE_MARKERS = ("tensorflow.Session", "tensorflow.InteractiveSession", "tensorflow.disable_eager_execution",
                       "tensorflow.disable_v2_behavior", "tensorflow.placeholder", "tensorflow.compat.v1.Session",
                       "tensorflow.compat.v1.disable_eager_execution", "tensorflow.compat.v1.disable_v2_behavior",
                       "tensorflow.compat.v1.placeholder", "tensorflow.compat.v1.InteractiveSession")


def _learning_phase_never_set(project: Project, module: Module) -> bool:
    """Does nothing in the project set the Keras learning phase, and does ``module`` not run a TF1
    graph (where the phase is a placeholder a session or ``K.function`` may feed)? Graph mode is a
    property of the script: another script of the repository running a Session says nothing."""
    def sets_phase(p: Project):
        return any(c.name in _PHASE_SETTERS for c in p.all_calls())
    if project.fact("keras.sets_learning_phase", sets_phase):
        return False
    for c in module.calls:
        q = c.qualname or ""
        if q in _GRAPH_MODE_MARKERS or (kf.keras_name(q) or "") == "keras.backend.function" \
                or c.name in ("get_session", "enable_eager_execution"):
            return False
    return True


def _is_learning_phase_call(module: Module, expr: ast.AST) -> bool:
    return isinstance(expr, ast.Call) and not expr.args and \
        (kf.keras_name(module.imports.resolve(expr.func)) or "") == "keras.backend.learning_phase"


def _learning_phase_passed(module: Module, cmod: Module, project: Project, expr: ast.expr,
                           site: Optional[ast.Call]) -> Optional[ast.expr]:
    """The ``K.learning_phase()`` that makes this ``training`` false, for the message: the flag
    itself, or an argument of the helper call it comes through."""
    if _unset_learning_phase(cmod, project, expr):
        return expr
    passed = [*site.args, *(k.value for k in site.keywords)] if site is not None else []
    return next((e for e in passed if _is_learning_phase_call(module, e)), None)


def _unset_learning_phase(module: Module, project: Project, expr: Optional[ast.expr]) -> bool:
    """``training=K.learning_phase()`` (or a name bound only to it) in TF2 eager code: nothing sets
    the phase, so it is 0 (tf_keras 2.21, eager and inside tf.function alike) and BN runs in
    inference mode. Keras 3 has no learning phase at all."""
    if expr is None:
        return False
    if isinstance(expr, ast.Name):
        scope = module.scope_of(expr)
        bound = kf._assignments(scope if scope is not None else module.tree, expr.id)
        if not bound or not all(b is not None and _is_learning_phase_call(module, b) for b in bound):
            return False
        if scope is not None and kf._param_index(scope, expr.id)[2]:
            return False
    elif not _is_learning_phase_call(module, expr):
        return False
    return _learning_phase_never_set(project, module)


@register
class TrainingFalseInTrainStep(Rule):
    code = "BN201"
    name = "training-false-in-train-step"
    framework = "keras"
    summary = "A model whose variables get gradients is called with training=False inside its training step."
    triggers = ("training", "trainable")
    doc = RuleDoc(
        what="""
Finds, inside a training step — the body of a `tf.GradientTape` block, a `train_step` override, or
the loss function given to `optimizer.minimize` — a call of a model or layer with `training=False`
(a literal, a constant, or a parameter that every call site sets to false), where that same object's
variables are the ones differentiated (`tape.gradient(loss, model.trainable_variables)`, `var_list=`,
or a `@property` / no-argument method of the trainer class returning them). A helper called from the
step (`compute_loss(model, x, training=False)`) is followed one level down, its parameters bound as
Python binds them (keywords, positions, defaults): a `self.` method of the differentiated model
(`self.trainable_variables`) that passes its `training` parameter to a sublayer built in the class
with BN counts, so `self.embed(x, True)` for `def embed(self, x, normalize=False, training=False)`
binds True to `normalize` and runs the sublayer with the default training=False. Also
`training=K.learning_phase()` in TF2 eager code where nothing in the project sets the learning phase
(`set_learning_phase`, `learning_phase_scope`, a TF1 session or `K.function` feed): it is 0 there
(measured with tf_keras 2.21, eagerly and inside `tf.function`).
Also `model.compile(); model.fit(); base.trainable = True; model.fit()` in one function with no
`compile()` after the change, where `base` (the model itself, or an argument of the call that built
it) visibly contains BN: the train function built by the first `fit` keeps the frozen state, so
the unfrozen BN stays in inference mode and nothing in it trains (Keras 3.15 and tf_keras 2.21).
Also `X.trainable = False` ("eval mode", a PyTorch habit) run on every pass of a loop that also runs
a GradientTape step calling `X(..., training=True)` — in the loop body, or unconditionally in a
function the loop calls (`self.evaluate()`, `validate(model, ...)`) — in a program that never sets
`trainable` to anything else: from the first pass on, the non-trainable BN runs in inference mode
although training=True is passed, while a variable list cached before the change keeps training.
Also `model(x, training=self.training)` (or a module-level flag) inside a function compiled once by
`tf.function` (decorated, or one `tf.function(self.forward)` wrapper), when the attribute is set both
True and False (`train()` / `eval()` of a PyTorch-style trainer, `global` flag switched by the
validation) and the compiled function is called in the GradientTape step that differentiates the
model and also outside it: tf.function reads a Python attribute once, at trace time, and retraces
only for new arguments, so both kinds of calls share the first trace's mode (measured with Keras
3.15 on TF 2.21: a sanity evaluation first leaves the moving mean at 0 through training). Not
flagged: the mode passed as an argument, a `tf.Variable` flag, one wrapper per mode.
""",
        why="""
`training=False` runs every BatchNormalization inside the model in inference mode: it normalises
with the moving statistics and never updates them, so the moving mean/variance stay at their
initial values (0 and 1) however long you train, and the network learns weights for statistics it
will never see at test time. Dropout is switched off as well. Evaluation then looks broken
("accuracy is fine in training, random with `predict`").
""",
        example="""
with tf.GradientTape() as tape:
    logits = model(images, training=False)
    loss = loss_fn(labels, logits)
grads = tape.gradient(loss, model.trainable_variables)
optimizer.apply_gradients(zip(grads, model.trainable_variables))
""",
        use_instead="""
with tf.GradientTape() as tape:
    logits = model(images, training=True)
    loss = loss_fn(labels, logits)
""",
        not_flagged="""
- a model also called with `training=True` in the same step (its statistics update there): the
  `training=False` pass is a deliberate inference-mode pass, such as WGAN-GP's gradient penalty;
- calls of another model than the one differentiated: a distillation teacher, an RL target network,
  the discriminator while the generator is trained, an EMA copy (`teacher(x, training=False)` with
  `tape.gradient(loss, student.trainable_variables)`);
- the transfer-learning pattern of the Keras guide (`base.trainable = False`, then
  `base(x, training=False)` inside a functional model trained with `fit`): it is not in a step;
- evaluation steps (no tape, no `train_step`, no `minimize`), and flags whose value is not known;
- objects set `trainable = False` in the same program (a frozen pretrained backbone kept in
  inference mode while its head trains);
- `training=K.learning_phase()` in projects that set or feed the learning phase, or run TF1 graphs;
- models visibly built without BatchNormalization (a Sequential/functional/project model whose
  layers we can see), models of unknown origin (a parameter, `load_model`) in a project whose code
  never names batch norm nor builds a Keras application that has it (test-time constraint steps
  run in inference mode on purpose), adversarial attacks and input optimisation (the gradient is taken w.r.t. the
  input, not the model's variables);
- a `trainable = False` that is set back (any other `trainable` assignment in the program: a GAN
  toggling its discriminator, `trainable = True` after evaluating), that runs only after the training
  loop (freezing for export), under a test of the loop variable (`if epoch == last`), under a
  condition inside the called function, or on a model other than the one the step trains.
""",
        versions=KERAS_VERSIONS,
    )

    def check(self, module: Module, project: Project) -> Iterable[Finding]:
        if not kf.uses_keras(module):
            return
        seen: set[int] = set()
        for region in kf.training_regions(module, project):
            calls = list(kf.region_model_calls(module, project, region))
            # a model also run with training=True in the same step updates its statistics there: its
            # training=False pass is a deliberate inference-mode pass (WGAN-GP's gradient penalty)
            run_training = {obj for call, obj, _cmod, _site in calls
                            if isinstance(e := kf.training_arg(call)[0], ast.Constant) and e.value is True}
            for call, obj, cmod, site in calls:
                expr, known = kf.training_arg(call)
                if not known or expr is None or obj in run_training:
                    continue
                if obj.rsplit(".", 1)[-1] in kf.frozen_names_in(module) | kf.frozen_names_in(cmod):
                    continue  # `base.trainable = False`: kept in inference mode on purpose (fine-tuning)
                bad, fix_node = _training_value_in_context(cmod, project, call, expr, site, module)
                if not bad or kf.known_bn_free(cmod, project, kf.model_expr(call)):
                    continue  # no BN to freeze (training=False then only switches dropout off)
                bn_visible = _visibly_bn(cmod, project, call)
                if not bn_visible and not _program_mentions_bn(cmod, project):
                    continue  # a model of unknown origin in a project without any BN (test-time adaptation)
                report_mod, report_node = (module, site) if site is not None else (cmod, call)
                if id(report_node) in seen:
                    continue
                seen.add(id(report_node))
                fix = None
                if fix_node is not None and isinstance(fix_node, ast.Constant) and bn_visible:
                    owner = module if site is not None and fix_node in astwalk.walk(site) else cmod
                    fix = _replace_fix(owner, fix_node, "True", "pass training=True in the training step")
                phase = _learning_phase_passed(module, cmod, project, expr, site)
                shown = "False" if phase is None else (
                    f"{ast.unparse(phase)} (the learning phase, 0: nothing in this TF2 eager code sets it)")
                where = f"`{obj}` is called with training={shown}" + (
                    f" (through `{kf.callee_dotted(site)}`{_default_binding_note(cmod, call, expr, site)})"
                    if site is not None else "")
                yield self.finding(report_mod, report_node,
                                   f"{where} inside its training step: its BatchNormalization layers run in inference "
                                   f"mode, their moving statistics never update; pass training=True", fix=fix)
        yield from self._unfrozen_without_recompile(module, project)
        yield from self._freeze_left_on_between_steps(module, project)
        yield from self._mode_frozen_by_trace(module, project)

    def _mode_frozen_by_trace(self, module: Module, project: Project) -> Iterable[Finding]:
        """``@tf.function def forward(self, x): return self.model(x, training=self.training)`` with
        ``train()`` / ``eval()`` flipping ``self.training`` between True and False (a PyTorch-style
        trainer), and the one compiled ``forward`` called both in the GradientTape step and outside it:
        tf.function reads a Python attribute (or global) once, when it traces, and its cache key holds
        only the arguments, so every later call with the same input signature reuses the first trace
        and its mode. Whichever mode traced first runs the other one: after an evaluation first, the
        training steps run BN in inference mode while the weights train."""
        if "training" not in module.unit.text or not module.mentions("function"):
            return  # the pre-filter's trigger; no tf.function
        compiled_by_scope: dict[int, Optional[str]] = {}
        for c in module.calls:
            expr, known = kf.training_arg(c.node)
            if not known or c.scope is None or not isinstance(expr, (ast.Name, ast.Attribute)):
                continue
            if id(c.scope) not in compiled_by_scope:
                compiled_by_scope[id(c.scope)] = _compiled_once(module, project, c.scope)
            compiled = compiled_by_scope[id(c.scope)]
            if compiled is None:
                continue
            flag = _python_mode_flag(module, c.scope, expr)
            if flag is None:
                continue
            values = _flag_assignments(module, c.scope, flag)
            if not ({True, False} <= set(values)) or not any(not init for _, init in values.get(False, [])
                                                               + values.get(True, [])):
                continue
            target = kf.model_expr(c.node)
            obj = dotted(target)
            if obj is None or obj.rsplit(".", 1)[-1] in kf.frozen_names_in(module) \
                    or not kf.is_bn_model(module, project, target):
                continue
            regions = [r for r in kf.training_regions(module, project) if r.kind != "torch_loop"]
            in_step, outside = None, None
            for use in _compiled_function_calls(module, c.scope, compiled):
                region = next((r for r in regions if _in_region(module, r, use)), None)
                if region is not None and (region.roots is None or obj in region.roots):
                    in_step = in_step or use
                elif region is None:
                    outside = outside or use
            if in_step is None or outside is None or _in_region_any(module, regions, c.node):
                continue
            shown = ast.unparse(expr)
            false_at = values[False][0][0]
            yield self.finding(module, c.node, (
                f"`{obj}` is called with training={shown} inside the tf.function-compiled `{c.scope.name}`: "
                f"tf.function reads `{shown}` once, when it traces, and does not retrace when it changes (it is "
                f"not an argument), so the call in the training step ({module.line_ref(in_step.lineno)}) and the "
                f"one outside it ({module.line_ref(outside.lineno)}) share one trace and one mode: when a call made "
                f"while it is False (set at {module.line_ref(false_at.lineno)}) traces first, the training steps run "
                f"BatchNormalization in inference mode (moving statistics never update), otherwise the other calls "
                f"run it in training mode; pass the mode as an argument of `{c.scope.name}` (a Python bool "
                f"argument is part of the trace key)"))

    def _freeze_left_on_between_steps(self, module: Module, project: Project) -> Iterable[Finding]:
        """``evaluate()`` sets ``self.model.trainable = False`` ("eval mode", a PyTorch habit) and the
        epoch loop that calls it also runs the GradientTape step calling ``self.model(x,
        training=True)``; nothing sets ``trainable`` back: from the first evaluation on, BN layers
        that are not trainable run in inference mode whatever ``training`` says (TF2 Keras and
        Keras 3), while a variable list cached before the change keeps training the weights."""
        for freeze, frozen, step_call, loop in _freezes_left_on_in_step_loops(module, project):
            where = "in the loop" if module.scope_of(freeze) is module.scope_of(loop) else \
                f"in `{module.scope_of(freeze).name}`, called in the loop"
            yield self.finding(module, freeze, (
                f"`{frozen}.trainable = False` {where} at {module.line_ref(loop.lineno)} that also runs the "
                f"training step calling `{frozen}(..., training=True)` ({module.line_ref(step_call.lineno)}), and "
                "nothing sets it back: from then on its BatchNormalization layers run in inference mode although "
                "training=True is passed (a non-trainable BN ignores the flag), so their moving statistics stop "
                f"updating while the step keeps training; set `{frozen}.trainable = True` again before training "
                "(or leave `trainable` alone and evaluate with training=False)"))

    def _unfrozen_without_recompile(self, module: Module, project: Project) -> Iterable[Finding]:
        """``model.compile(); model.fit(); base.trainable = True; model.fit()`` with no ``compile``
        after the change: the train function built by the first ``fit`` keeps the compile-time
        trainable state, so the unfrozen part (with its BN) still runs in inference mode and trains
        nothing. ``base`` is the model itself, an argument of the call that built it, or reached
        from it (``model.get_layer('base')``); the BN must be visible in it."""
        # Only a function that sets ``.trainable = True`` itself can hold the pattern; finding those
        # through the module's assignment index spares a walk of every function.
        unfreezing = {id(module.scope_of(st)) for st in module.assignments
                      if isinstance(st, ast.Assign) and kf._literal(st.value) is True
                      and any(isinstance(t, ast.Attribute) and t.attr == "trainable" for t in st.targets)}
        for fn in module.functions:
            if id(fn.node) not in unfreezing:
                continue
            stmts = sorted((n for n in astwalk.walk(fn.node) if isinstance(n, ast.stmt) and module.scope_of(n) is fn.node),
                           key=lambda n: (n.lineno, n.col_offset))
            events = []  # (position, kind, model name / unfrozen expression, node)
            for st in stmts:
                if isinstance(st, ast.Expr) or isinstance(st, ast.Assign):
                    call = st.value
                    if isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute) \
                            and isinstance(call.func.value, ast.Name):
                        if call.func.attr == "compile":
                            events.append(("compile", call.func.value.id, call))
                        elif call.func.attr in TRAIN_METHODS:
                            events.append(("fit", call.func.value.id, call))
                if isinstance(st, ast.Assign) and kf._literal(st.value) is True:
                    for t in st.targets:
                        if isinstance(t, ast.Attribute) and t.attr == "trainable":
                            events.append(("unfreeze", t.value, st))
            for i, (kind, target, node) in enumerate(events):
                if kind != "unfreeze":
                    continue
                for model in self._models_containing(module, fn.node, target):
                    before = [(k, n) for k, m, n in events[:i] if k in ("compile", "fit") and m == model]
                    if not before or before[-1][0] != "fit" or not any(k == "compile" for k, _ in before):
                        continue  # no train function built yet, or rebuilt by a compile
                    later = next(((k, n) for k, m, n in events[i + 1:] if k in ("compile", "fit") and m == model), None)
                    if later is None or later[0] != "fit":
                        continue
                    if not kf.is_bn_model(module, project, target) or _exclusive_branches(module, before[-1][1], node) \
                            or _exclusive_branches(module, node, later[1]):
                        continue
                    fit = later[1]
                    compiled = next(n for k, n in reversed(before) if k == "compile")
                    yield self.finding(module, fit, (
                        f"`{model}.{fit.func.attr}` runs after `{ast.unparse(target)}.trainable = True` "
                        f"({module.line_ref(node.lineno)}) without a new `{model}.compile()`: the train function built "
                        f"after the compile at {module.line_ref(compiled.lineno)} keeps the frozen state, so its "
                        "BatchNormalization stays in inference mode (moving statistics never update) and its weights "
                        f"do not train; call `{model}.compile(...)` after changing `trainable`"))
                    break

    @staticmethod
    def _models_containing(module: Module, fn: ast.AST, target: ast.expr) -> list[str]:
        """Names of models in ``fn`` that contain ``target``: itself, or a model built by a call
        that takes it as an argument (``model = make_model(base)``, ``keras.Model(inputs, base(x))``
        is not followed)."""
        if not isinstance(target, ast.Name):
            return []
        out = [target.id]
        for n in astwalk.walk(fn):
            if isinstance(n, ast.Assign) and isinstance(n.value, ast.Call) and len(n.targets) == 1 \
                    and isinstance(n.targets[0], ast.Name) and any(
                        isinstance(a, ast.Name) and a.id == target.id for a in n.value.args + [k.value for k in n.value.keywords]):
                out.append(n.targets[0].id)
        return out


def _python_mode_flag(module: Module, fn: FuncNode, expr: Optional[ast.expr]) -> Optional[tuple[str, str]]:
    """("attr", name) for ``training=self.<name>`` in a method, ("global", name) for
    ``training=<name>`` read from the module's globals (not a parameter or local of the function
    chain); None otherwise."""
    if isinstance(expr, ast.Attribute) and isinstance(expr.value, ast.Name) and expr.value.id == "self" \
            and module.enclosing_class(fn) is not None:
        return "attr", expr.attr
    if isinstance(expr, ast.Name):
        for f in [fn] + [a for a in module.ancestors(fn) if isinstance(a, (ast.FunctionDef, ast.AsyncFunctionDef))]:
            if kf._param_index(f, expr.id)[2] or kf._assignments(f, expr.id):
                return None
        if kf._assignments(module.tree, expr.id) or any(
                isinstance(n, ast.Global) and expr.id in n.names for n in astwalk.walk(module.tree)):
            return "global", expr.id
    return None


def _is_tf_function(module: Module, expr: ast.expr) -> bool:
    if isinstance(expr, ast.Call):
        expr = expr.func
    return module.imports.resolve(expr) in kf._TF_FUNCTION


def _tf_function_wraps(module: Module, project: Project) -> list:
    """The ``tf.function(f)`` calls of the module (one scan per module)."""
    return project.fact(("keras.tf_function_wraps", module.path), lambda p: [
        c for c in module.calls if c.node.args and _is_tf_function(module, c.node.func)])


def _compiled_once(module: Module, project: Project, fn: FuncNode) -> Optional[str]:
    """The name the one tf.function compilation of ``fn`` (or of a function around it) is called by:
    ``fn``'s own name when decorated with ``@tf.function``, the name or ``self.`` attribute a single
    ``tf.function(fn)`` / ``tf.function(self.fn)`` is stored in. None when it is not compiled, or
    compiled more than once (separate wrappers trace separately)."""
    for f in [fn] + [a for a in module.ancestors(fn) if isinstance(a, (ast.FunctionDef, ast.AsyncFunctionDef))]:
        if any(_is_tf_function(module, d) for d in f.decorator_list):
            return f.name
        method = isinstance(module.parent(f), ast.ClassDef)
        wraps = []
        for c in _tf_function_wraps(module, project):
            ref = c.node.args[0]
            if (method and isinstance(ref, ast.Attribute) and ref.attr == f.name and dotted(ref.value) == "self"
                    and module.enclosing_class(c.node) is module.parent(f)) \
                    or (not method and isinstance(ref, ast.Name) and ref.id == f.name):
                wraps.append(c.node)
        if len(wraps) > 1:
            return None
        if wraps:
            parent = module.parent(wraps[0])
            if isinstance(parent, ast.Assign) and len(parent.targets) == 1:
                t = parent.targets[0]
                if isinstance(t, ast.Name) or (isinstance(t, ast.Attribute) and dotted(t.value) == "self"):
                    return t.id if isinstance(t, ast.Name) else t.attr
            return None
    return None


def _flag_assignments(module: Module, fn: FuncNode, flag: tuple[str, str]) -> dict[bool, list[tuple[ast.AST, bool]]]:
    """Constant truth values stored into the flag: ``self.<name> = True`` in the methods of the class
    (or ``obj.<name> = False`` on an instance elsewhere in the module), ``<name> = False`` at module
    level or after ``global <name>``; each with whether it sits in ``__init__`` / at module level
    (the value before any call)."""
    kind, name = flag
    out: dict[bool, list[tuple[ast.AST, bool]]] = {}
    cls = module.enclosing_class(fn)
    for st in module.assignments:
        if not isinstance(st, ast.Assign):
            continue
        value = kf._literal(st.value)
        if not isinstance(value, bool):
            continue
        scope = module.scope_of(st)
        for t in st.targets:
            if kind == "attr" and isinstance(t, ast.Attribute) and t.attr == name:
                if dotted(t.value) == "self" and module.enclosing_class(st) is not cls:
                    continue
                out.setdefault(value, []).append((st, scope is not None and scope.name == "__init__"))
            elif kind == "global" and isinstance(t, ast.Name) and t.id == name:
                if scope is None:
                    out.setdefault(value, []).append((st, True))
                elif any(isinstance(n, ast.Global) and name in n.names for n in astwalk.walk(scope)):
                    out.setdefault(value, []).append((st, False))
    for v in out.values():
        v.sort(key=lambda e: e[0].lineno)
    return out


def _compiled_function_calls(module: Module, fn: FuncNode, name: str) -> list[ast.Call]:
    """Calls of the compiled function by ``name`` (``self.name(...)`` / ``obj.name(...)`` for a method
    or a ``self.`` attribute, ``name(...)`` otherwise)."""
    method = module.enclosing_class(fn) is not None
    out = []
    for c in module.calls:
        f = c.node.func
        if method and isinstance(f, ast.Attribute) and f.attr == name:
            out.append(c.node)
        elif isinstance(f, ast.Name) and f.id == name:
            out.append(c.node)
    return out


def _in_region(module: Module, region, node: ast.AST) -> bool:
    body = {id(b) for b in region.body}
    return id(node) in body or any(id(a) in body for a in module.ancestors(node))


def _in_region_any(module: Module, regions: list, node: ast.AST) -> bool:
    return any(_in_region(module, r, node) for r in regions)


def _freezes_left_on_in_step_loops(module: Module, project: Project) -> Iterator[tuple[ast.Assign, str, ast.Call, ast.AST]]:
    """(``X.trainable = False`` statement, ``X`` as the training step names it, the step's
    ``X(..., training=True)`` call, the loop) for each freeze that runs unconditionally in a loop —
    inline or in a function that loop calls — which also runs a GradientTape step training ``X``,
    in a program (the modules connected by imports) that never assigns ``trainable`` anything but
    False: a toggle back or a flag anywhere may restore it, and we do not follow the order."""
    if not _trainable_assignments(module):
        return
    component = project.import_component(module)
    for m in project.modules:
        if id(m) in component and (any(kf._literal(n.value) is not False for n in _trainable_assignments(m))
                                   or any(c.name == "setattr" and len(c.node.args) > 1
                                          and kf._literal(c.node.args[1]) == "trainable" for c in m.calls)):
            return
    seen: set[int] = set()
    for region in kf.training_regions(module, project):
        if region.kind != "tape":
            continue
        trained = _trained_with_training_true(module, project, region)
        if trained is None:
            continue
        name, step_call = trained
        for loop, names in _loops_running_step(module, project, region):
            for freeze, obj in _freezes_run_by_loop(module, loop):
                if _as_step_name(obj, names) == name and id(freeze) not in seen:
                    seen.add(id(freeze))
                    yield freeze, name, step_call, loop


def _trainable_assignments(module: Module) -> list[ast.Assign]:
    return [n for n in module.nodes_of_kind.get(ast.Assign, ())
            if any(isinstance(t, ast.Attribute) and t.attr == "trainable" for t in n.targets)]


def _trained_with_training_true(module: Module, project: Project, region) -> Optional[tuple[str, ast.Call]]:
    """The one model the tape step calls with ``training=True`` (dotted name, call), when it contains
    BN and is the differentiated object (or the differentiated variables are not known: a list
    cached earlier); None when there are several (a teacher beside the student) or none."""
    calls = {}
    for n in region.nodes():
        if isinstance(n, ast.Call):
            expr = kf.kwarg(n, "training")
            if expr is not None and kf.always_true(module, project, expr):
                d = kf.called_object(n)
                if d:
                    calls.setdefault(d, n)
    if len(calls) != 1:
        return None
    (name, call), = calls.items()
    if region.roots is not None and name not in region.roots:
        return None
    if not kf.is_bn_model(module, project, kf.model_expr(call)):
        return None
    return name, call


def _loops_running_step(module: Module, project: Project, region) -> Iterator[tuple[ast.AST, Optional[dict[str, str]]]]:
    """Loops that run the region's step again and again, with the names the step's objects have in
    the loop's function (step name -> loop name; None: the same names): loops around the tape in its
    own function, and loops around a call of that function or of a function calling it (two levels:
    ``fit`` -> ``self.train_epoch()`` -> ``self.train_step(x, y)``), calls of a method of the same
    class through ``self`` or of a module function by name, in the same module."""
    step_fn = region.scope
    anchor = region.anchor if region.anchor is not None else region.body[0]
    for a in module.ancestors(anchor):
        if a is step_fn:
            break
        if isinstance(a, (ast.For, ast.AsyncFor, ast.While)):
            yield a, None
    if step_fn is not None:
        yield from _loops_around_calls_of(module, step_fn, None, 0)


def _loops_around_calls_of(module: Module, fn: FuncNode, inner: Optional[dict[str, str]],
                           depth: int) -> Iterator[tuple[ast.AST, Optional[dict[str, str]]]]:
    """Loops around the calls of ``fn`` (see ``_loops_running_step``); ``inner``: the step's names
    in ``fn`` (None: the same)."""
    cls = module.enclosing_class(fn)
    method = cls is not None and module.parent(fn) is cls
    if not method and module.scope_of(fn) is not None:
        return  # a nested function: called through names we do not follow
    for site in module.calls:
        if site.name != fn.name or site.scope is fn:
            continue
        f = site.node.func
        if method:
            if not (site.scope is not None and isinstance(f, ast.Attribute) and dotted(f.value) == "self"
                    and module.enclosing_class(site.scope) is cls):
                continue
        elif not isinstance(f, ast.Name):
            continue
        names = _compose(inner, _step_names_at(site.node, fn, method, site.scope))
        for a in module.ancestors(site.node):
            if a is site.scope:
                break
            if isinstance(a, (ast.For, ast.AsyncFor, ast.While)):
                yield a, names
        if depth < 1 and site.scope is not None:
            yield from _loops_around_calls_of(module, site.scope, names, depth + 1)


def _compose(inner: Optional[dict[str, str]], outer: dict[str, str]) -> dict[str, str]:
    """Step name -> caller name through one more call: ``inner`` maps the step's names to those of
    the function called, ``outer`` that function's names to its caller's."""
    if inner is None:
        return outer
    out = {}
    for step_name, mid in inner.items():
        mapped = _caller_name(mid, outer)
        if mapped:
            out[step_name] = mapped
    return out


def _step_names_at(call: ast.Call, step_fn: FuncNode, method: bool, caller: Optional[FuncNode]) -> dict[str, str]:
    """Function name -> caller name for the objects a call of ``step_fn`` hands it: its parameters
    bound to plain names or attributes, ``self`` for a method of the same class, and the module
    globals it reads that the caller (a function, or the module itself) does not rebind."""
    out: dict[str, str] = {"self": "self"} if method else {}
    if not method:  # a module-level function (see the callers)
        rebound = _bound_names(caller) if caller is not None else set()
        for name in _free_names(step_fn):
            if name not in rebound:
                out[name] = name
    for a in step_fn.args.args + step_fn.args.kwonlyargs:
        if a.arg in ("self", "cls"):
            continue
        arg, explicit = kf.argument_for(call, step_fn, a.arg, is_method_call=method)
        d = dotted(arg) if explicit and arg is not None else None
        if d:
            out[a.arg] = d
    return out


def _bound_names(fn: FuncNode) -> set[str]:
    """Names ``fn`` binds itself: parameters and assigned names (nested functions included)."""
    a = fn.args
    out = {x.arg for x in a.posonlyargs + a.args + a.kwonlyargs}
    out |= {x.arg for x in (a.vararg, a.kwarg) if x is not None}
    out |= {n.id for n in astwalk.walk(fn) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    return out


def _free_names(fn: FuncNode) -> set[str]:
    """Names ``fn`` reads without binding them: module globals (or builtins)."""
    if any(isinstance(n, ast.Global) for n in astwalk.walk(fn)):
        return set()
    loaded = {n.id for n in astwalk.walk(fn) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    return loaded - _bound_names(fn)


def _as_step_name(obj: str, names: Optional[dict[str, str]]) -> Optional[str]:
    """``obj`` (a dotted name in the loop's function) as the step function names it."""
    if names is None:
        return obj
    for step_name, caller_name in names.items():
        if obj == caller_name or obj.startswith(caller_name + "."):
            return step_name + obj[len(caller_name):]
    return None


def _freezes_run_by_loop(module: Module, loop: ast.AST) -> Iterator[tuple[ast.Assign, str]]:
    """``X.trainable = False`` statements every pass of ``loop`` may run (X named as in the loop's
    function): in its body, or at the top level of a function of the module it calls (a method of
    the same class via ``self.f(...)``, a module function by name; its ``self.*`` and parameters
    mapped to the caller's names). A freeze under a test of the loop's own variable (``if epoch ==
    last``) or under a condition inside the called function is not counted."""
    loop_vars = {n.id for n in astwalk.walk(loop.target) if isinstance(n, ast.Name)} \
        if isinstance(loop, (ast.For, ast.AsyncFor)) else set()
    cls = module.enclosing_class(loop)
    body_nodes = [n for st in loop.body for n in _walk_same_scope(st)]
    for n in body_nodes:
        if not _not_gated_by_loop_variable(module, n, loop, loop_vars):
            continue
        if isinstance(n, ast.Assign) and kf._literal(n.value) is False:
            for t in n.targets:
                d = dotted(t.value) if isinstance(t, ast.Attribute) and t.attr == "trainable" else None
                if d:
                    yield n, d
        elif isinstance(n, ast.Call):
            callee = _module_function_called(module, n, cls)
            if callee is None:
                continue
            method = isinstance(n.func, ast.Attribute)
            names = _step_names_at(n, callee, method, module.scope_of(n))
            for st in _walk_same_scope(callee):
                if isinstance(st, ast.Assign) and kf._literal(st.value) is False and _top_level_in(module, st, callee):
                    for t in st.targets:
                        d = dotted(t.value) if isinstance(t, ast.Attribute) and t.attr == "trainable" else None
                        mapped = _caller_name(d, names) if d else None
                        if mapped:
                            yield st, mapped


def _caller_name(obj: str, names: dict[str, str]) -> Optional[str]:
    """``obj`` (a dotted name inside a called function) as the caller names it."""
    head, dot, rest = obj.partition(".")
    caller = names.get(head)
    return caller + dot + rest if caller else None


def _walk_same_scope(node: ast.AST) -> Iterator[ast.AST]:
    """``node`` and its descendants, not entering nested function or class definitions."""
    stack = [node]
    while stack:
        n = stack.pop()
        yield n
        for c in ast.iter_child_nodes(n):
            if not isinstance(c, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
                stack.append(c)


def _not_gated_by_loop_variable(module: Module, node: ast.AST, loop: ast.AST, loop_vars: set[str]) -> bool:
    """No ``if`` between ``node`` and ``loop`` tests the loop's variable (``if epoch == last``)."""
    for a in module.ancestors(node):
        if a is loop:
            return True
        if isinstance(a, (ast.If, ast.IfExp, ast.While)) \
                and loop_vars & {n.id for n in astwalk.walk(a.test) if isinstance(n, ast.Name)}:
            return False
    return True


def _top_level_in(module: Module, node: ast.AST, fn: FuncNode) -> bool:
    """Does ``node`` run whenever ``fn`` runs (only ``with``/``try`` blocks around it)?"""
    for a in module.ancestors(node):
        if a is fn:
            return True
        if not isinstance(a, (ast.With, ast.AsyncWith, ast.Try)):
            return False
    return False


def _module_function_called(module: Module, call: ast.Call, cls: Optional[ast.ClassDef]) -> Optional[FuncNode]:
    """The function of ``module`` a call runs: ``self.f(...)`` -> method ``f`` of ``cls``; ``f(...)``
    -> the module-level function ``f``."""
    f = call.func
    if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) and f.value.id == "self" and cls is not None:
        return next((st for st in cls.body if isinstance(st, (ast.FunctionDef, ast.AsyncFunctionDef))
                     and st.name == f.attr), None)
    if isinstance(f, ast.Name):
        return next((st for st in module.tree.body if isinstance(st, (ast.FunctionDef, ast.AsyncFunctionDef))
                     and st.name == f.id), None)
    return None


# Keyword names under which a subclassed model's own ``call()`` takes its mode (TF1 ports:
# ``call(self, x, is_training=False)`` forwarding ``training=is_training`` to its BN layers).
_TRAINING_FLAG_KEYWORD = re.compile(r"^(is_?)?train(ing|able)?(_?(mode|phase|flag))?$|^phase_?train$|^mode$", re.I)


@register
class NoTrainingFlagInTrainStep(Rule):
    code = "BN202"
    name = "model-called-without-training-in-train-step"
    framework = "keras"
    summary = "A model containing BatchNormalization is called without training=True in a custom training step."
    # backward: a Keras 3 model trained by a PyTorch loop on the torch backend
    # def call: a model class run by a step elsewhere through its `call` method (see _direct_call_bypasses_mode)
    triggers = ("GradientTape", "train_step", "minimize", "backward", "def call")
    doc = RuleDoc(
        what="""
Finds, inside a training step (a `tf.GradientTape` block, a `train_step` override, a `minimize`
loss function, or — Keras 3 on the torch backend — a PyTorch loop around `loss.backward()` that
steps a `torch.optim` optimizer built over `model.parameters()` / `model.trainable_weights`, or
applies a Keras optimizer to them), a call of a model that contains BatchNormalization without any
`training` argument — `model(x)`, or its `call` method run directly, `model.call(x)` — where that
model's variables are the ones differentiated. Also a model reached through up to three `self.`
helper methods that forward an explicit `training` parameter defaulting to None (`self.compute_loss(x, y)`
-> `compute_loss(self, x, y, training=None)` -> `self.model(x, training=training)`) when no call on
the way passes it: the model runs with training=None. And a model called without `training` one
level down in a project helper that has no mode parameter and no `**kwargs` (`loss =
self._compute_loss(data)` -> `def _compute_loss(self, data): ... self.siamese_network(data)`, or
`batch_loss(net, x, y)` -> `net(x)`), called without a mode keyword: the helper cannot hand the
step's mode on, so the call is the step's own. "Contains BN" is known from
the project — `Sequential([...BatchNormalization()...])`, functional models built next to BN layers,
subclassed models/layers that create BN, factory functions returning them (also a functional
`keras.Model` built over a BN sub-model handed in as a parameter, and one element of `a, b =
factory()` whose returned tuple holds it; a nested train-step
closure's model is the one bound in its enclosing function, before the module's) — and from the
`keras.applications` constructors that build BN: ResNet50/101/152 (V1 and V2), ResNetRS*,
MobileNet, MobileNetV2, MobileNetV3Small/Large, EfficientNetB0-B7, EfficientNetV2B0-B3/S/M/L,
DenseNet121/169/201, InceptionV3, InceptionResNetV2, Xception, NASNetMobile/Large, RegNetX*/Y*
(not VGG16/VGG19, not ConvNeXt).

Also a *view* of the trained model called without `training` in a GradientTape step: a functional
model built over the model's own graph (`keras.Model(net.input, net.get_layer("embedding").output)`,
`keras.Model(inputs=net.inputs, outputs=net.layers[-2].output)`) shares `net`'s layers, so when the
tape differentiates `net`'s variables (`net.trainable_variables`, directly or through a name or a
`self.` attribute holding it) the shared BN layers run in inference mode. Silent when the step also
runs `net` (or a view of it) with an explicit `training`, or the base is frozen or holds no BN
(a perceptual-loss view of a pretrained extractor whose variables are not differentiated is not a
view of the trained model). Reported once per view and step.

Also, when a training step runs a model's `call` method directly (`model.call(x, training=True)`
in the GradientTape, `self.call(x)` in a `train_step`), the `call` of that model's class — and of
the project blocks it builds — that runs a BatchNormalization sublayer (or a block or Sequential
containing one) without `training`: only `__call__` hands the mode down to sublayers called
without it. When the step's model is known only at run time (a class handed in, `model_cls()`, a
module loaded from a path, `getattr`), the project's `keras.Model` subclasses that nothing in the
project constructs stand for it (model definitions loaded by name). Reported once per `call`.

Also, in a step over a model's own variables (`tape.gradient(loss, self.trainable_variables)` in
`train_step`), a sublayer of that model built in its class from scratch and holding BN run by itself
without `training` — `self.encoder(x)` in the step, or in a `self.` helper without a mode parameter
(`feats = self.embed(x)` -> `def embed(self, x): return self.encoder(x)`) — instead of through
`self(x, training=True)`: fit() calls `train_step` outside any layer call, so nothing hands a mode on.
And a model's layers called one by one without `training` in a step that differentiates that model's
variables (`for layer in net.layers: h = layer(h)`, in the step or in a helper the model is handed
to — hand-made deep supervision or activation taps): no outer call of the model gives them a mode.
A model call without `training` is not reported when the same step (or a GradientTape around it)
also calls that model with an explicit `training` that is not always false: its moving statistics
update there (a WGAN-GP critic run with training=True on the real and fake batches, then once more
on interpolated samples for the gradient penalty).
""",
        why="""
Outside `fit`, nothing sets the training mode: a call without `training` leaves it `None`, and
BatchNormalization then runs in inference mode (Keras 3: `training=None` means inference unless an
outer call passes it; tf.keras: the learning phase, 0 in eager code). Measured with Keras 3.15 and
tf_keras 2.21: after a GradientTape loop with `model(x)` the moving mean is still exactly 0; the
same loop with `model(x, training=True)` moves it. The model trains on batch statistics it never
records, so `predict`/`evaluate` use the initial 0/1 statistics. On the torch backend, torch's
`model.train()` does not help: Keras layers read only their `training` argument (measured with
Keras 3.15: `model.train(); model(x)` in a torch loop leaves the moving mean at 0). A `call`
method run directly opens no call context: `self.bn(x)` inside it gets training=None however the
step calls `model.call(x, training=True)` (measured with Keras 3.15 and tf_keras 2.21: the moving
mean stays 0; with `model(x, training=True)`, or `self.bn(x, training=training)`, it moves).
""",
        example="""
model = keras.applications.ResNet50(weights=None, classes=10)
for x, y in dataset:
    with tf.GradientTape() as tape:
        loss = loss_fn(y, model(x))
    grads = tape.gradient(loss, model.trainable_variables)
    optimizer.apply_gradients(zip(grads, model.trainable_variables))
""",
        use_instead="""
    with tf.GradientTape() as tape:
        loss = loss_fn(y, model(x, training=True))
""",
        not_flagged="""
- models without BN (or whose BN content is not visible in the project, e.g. `load_model(path)`),
  judged by what reaches the step: a loop's model parameter by what its call sites pass, a name by
  its binding before the call (a notebook cell rebinding `model` to a BN network trained with
  `fit()` later does not change what an earlier `train_loop(model)` was given);
- models whose call signature defaults `training` to a true value, and models whose own `call()`
  runs every BN sublayer with a literal `training=True` (`self.bn(x, training=True)`), and
  functional models whose BN part is bound with a literal `training=True` when the graph is built
  (`backbone(inputs, training=True)`, SimCLR / BYOL encoders: the bound value is kept at every run);
- objects other than the differentiated one (teachers, target networks, frozen encoders);
- a model the same step also runs with an explicit `training` (a gradient-penalty or consistency
  pass beside the training-mode passes), a sublayer walk or sublayer call next to `self(x,
  training=True)`, layer calls given a mode, walks and sublayer calls inside a layer's own `call`,
  and sublayers handed in, loaded or pretrained (a Keras application with its ImageNet weights);
- objects set `trainable = False` in the same program (deliberately frozen), and models whose
  only BN sits in a part kept in inference mode on purpose (a base called `base(x, training=False)`
  or set `base.trainable = False`, BN created `trainable=False`): transfer learning with a custom loop;
- `fit`, and code that calls `set_learning_phase(1)`;
- a PyTorch port whose `call` fills a missing `training` from a flag of its own (`if training is None:
  training = self.is_train_mode`, set by the port's `train()` / `eval()` or a direct store): judged by
  that flag's value at the call, followed flow-sensitively through the step, the project functions the
  model is handed to (`evaluate(model)` calling `model.eval()`) and the step's callers, three levels;
  reported only when a path reaches the step with the flag False (an `eval()` nothing undoes), silent
  when its `train()` always runs first or the value cannot be followed;
- for a step that runs `model.call(...)`: sublayers given `training` (or an `is_training`-style
  keyword), non-trainable BN, pretrained `keras.applications` backbones, models that come from
  Keras itself (`load_model`, `Sequential`, a functional `Model(inputs, outputs)`: it passes the
  flag to every layer) or from another library, `.call` inside a layer's own `call` (the outer
  `__call__` has set the mode), test files, and — for a model known only at run time — classes the
  project constructs itself.
""",
        versions=KERAS_VERSIONS,
    )

    def check(self, module: Module, project: Project) -> Iterable[Finding]:
        if not kf.uses_keras(module):
            return
        if any((c.qualname or "").endswith("set_learning_phase") for c in module.calls):
            return
        frozen = kf.frozen_names(project, module)  # this program's frozen objects, not another script's
        via_helper: set[int] = set()  # model calls in helpers, reported once
        for region in kf.training_regions(module, project):
            explicit: Optional[set[str]] = None
            for call, obj, cmod, site in kf.region_model_calls(module, project, region):
                expr, known = kf.training_arg(call)
                if not known or expr is not None:
                    continue
                if any(k.arg and _TRAINING_FLAG_KEYWORD.match(k.arg) for k in call.keywords):
                    continue  # `generator(z, is_training=True)`: the model's own call() takes the flag by that name
                if explicit is None:
                    explicit = _explicitly_run_objects(module, project, region)
                if obj in explicit:
                    continue  # the step also runs it with `training`: its moving statistics update there
                if obj.rsplit(".", 1)[-1] in frozen | kf.frozen_names(project, cmod):
                    continue
                if not self._contains_bn(cmod, project, call, obj):
                    continue
                if site is not None:
                    if id(call) in via_helper or not _helper_cannot_pass_mode(cmod, site, call):
                        continue  # the helper may take / forward a flag we cannot follow
                    via_helper.add(id(call))
                port = _port_mode_at(cmod, project, call)
                if port is not None:
                    values, flag, cls, false_sites = port
                    if False not in values:
                        continue  # the port's own train() set its flag (or we cannot tell): not inference
                    where = next(((m, n) for m, n in false_sites if m.enclosing_class(n) is not cls), None)
                    origin = (f" after `{ast.unparse(where[1])}` ({project.relative_path(where[0])}, "
                              f"{where[0].line_ref(where[1].lineno)})") if where is not None else ""
                    yield self.finding(cmod, call, (
                        f"`{obj}` is a `{cls.name}`, whose `call` takes a missing `training` from its own "
                        f"`self.{flag}` (a PyTorch-style train()/eval() switch), and that flag can be False "
                        f"when this training step runs{origin}, with nothing setting it back before the "
                        "step: its BatchNormalization then runs in inference mode (moving statistics "
                        f"frozen); switch it to training mode at the start of the step (its own train()) or pass "
                        "training=True"),
                        fix=self._fix(cmod, call))
                    continue
                if region.kind == "torch_loop":
                    message = (f"`{obj}` is a Keras model with BatchNormalization trained by a PyTorch loop "
                               f"(loss.backward()) and called without `training`: Keras layers ignore torch's "
                               f"train()/eval() and default to inference mode, so BN never updates its moving "
                               f"statistics; pass training=True")
                else:
                    runner = kf.called_object(call)
                    via = f" (through `{runner}`, which runs it)" if runner and runner != obj else ""
                    wrapper = site is not None and getattr(cmod.scope_of(call), "name", None) == "call"
                    if wrapper:
                        via += (f" in the `call` of the layer `{ast.unparse(site.func)}` (no mode parameter), which the "
                                f"step calls without `training` at {module.line_ref(site.lineno)}")
                    elif site is not None:
                        via += (f" in `{ast.unparse(site.func)}` (a helper without a mode parameter, called at "
                                f"{module.line_ref(site.lineno)})")
                    message = (f"`{obj}` contains BatchNormalization and is called without `training`{via} inside its "
                               f"training step: outside fit() this runs BN in inference mode (moving statistics "
                               f"frozen); pass training=True" + (" to the wrapper layer's call (Keras hands it down)"
                                                                 if wrapper else ""))
                    if wrapper:
                        yield self.finding(cmod, call, message)
                        continue
                yield self.finding(cmod, call, message, fix=self._fix(cmod, call))
            yield from self._own_sublayers_without_mode(module, project, region, frozen, via_helper)
            yield from self._instance_sublayers_without_mode(module, project, region, frozen)
            yield from self._layer_walks_without_mode(module, project, region, frozen)
            yield from self._none_through_helpers(module, project, region, frozen)
            yield from self._view_calls(module, project, region, frozen)
        yield from self._direct_call_bypasses_mode(module, project)

    def _view_calls(self, module: Module, project: Project, region, frozen: frozenset) -> Iterable[Finding]:
        """``emb = self.embedder(x)`` in a GradientTape whose gradient is taken over ``net``'s variables,
        with ``self.embedder = keras.Model(net.input, net.get_layer("embedding").output)``: the view
        shares ``net``'s layers, so its call without ``training`` runs the trained BN layers in
        inference mode (moving statistics never update). Silent when the step also runs the base model
        (or a view of it) with an explicit ``training``, or the base is frozen."""
        if region.kind != "tape" or not module.mentions(".input") or not module.mentions(".output"):
            return
        from bnguard.lint import keras_views as kv

        holders = kv.view_holders(module, project)  # names / attributes bound to a view somewhere in the module
        if not holders:
            return
        views = []
        for n in region.nodes():
            if not isinstance(n, ast.Call) or not isinstance(n.func, (ast.Name, ast.Attribute)) \
                    or (n.func.id if isinstance(n.func, ast.Name) else n.func.attr) not in holders:
                continue
            got = kv.binding(module, n.func, n)
            if got is None or not isinstance(got[0], ast.Call):
                continue
            base = kv.view_base(module, got[0])
            if base is not None:
                views.append((n, got, base))
        if not views:
            return
        tape_names = {i.optional_vars.id for i in region.anchor.items if isinstance(i.optional_vars, ast.Name)}
        grads = [g for g in kf._gradient_calls(region.scope if region.scope is not None else module.tree)
                 if g.func.value.id in tape_names and g.lineno >= region.anchor.lineno]  # type: ignore[attr-defined]
        trained: set = set()
        for g in grads:
            got = kv.source_identities(module, kf.kwarg(g, "sources") or (g.args[1] if len(g.args) > 1 else None), g)
            if got is None:
                return
            trained |= got
        explicit = set()  # bases the step runs with an explicit training flag
        for n in region.nodes():
            if isinstance(n, ast.Call) and kf.training_arg(n)[0] is not None:
                got = kv.binding(module, n.func, n) if isinstance(n.func, (ast.Name, ast.Attribute)) else None
                base = kv.view_base(module, got[0]) if got is not None and isinstance(got[0], ast.Call) else None
                explicit.add(kv.identity(module, base, got[1]) if base is not None else kv.identity(module, n.func, n))
        reported: set[int] = set()
        for call, (value, where), base in views:
            if id(value) in reported:
                continue  # ``fa, fp, fn = view(a), view(p), view(n)``: once per view and step
            expr, known = kf.training_arg(call)
            if not known or expr is not None or any(k.arg and _TRAINING_FLAG_KEYWORD.match(k.arg) for k in call.keywords):
                continue
            ident = kv.identity(module, base, where)
            if ident is None or ident not in trained or ident in explicit:
                continue
            names = {dotted(call.func), dotted(base)}
            if any(x and x.rsplit(".", 1)[-1] in frozen for x in names) or not kf.is_bn_model(module, project, base):
                continue
            obj = ast.unparse(call.func)
            reported.add(id(value))
            yield self.finding(module, call, (
                f"`{obj}` is a view of `{ast.unparse(base)}` (`{ast.unparse(value)}` shares its layers, "
                f"{module.line_ref(value.lineno)}) and is called without `training` inside the training step "
                f"that differentiates `{ast.unparse(base)}`'s variables: outside fit() the shared "
                "BatchNormalization layers run in inference mode (moving statistics never update); pass "
                "training=True"), fix=self._fix(module, call))

    def _direct_call_bypasses_mode(self, module: Module, project: Project) -> Iterable[Finding]:
        """A model class whose ``call`` runs a BatchNormalization sublayer (or a sub-block that has
        one) without ``training``, in a project whose training step runs that model's ``call``
        method directly — ``model.call(x, training=True)``, ``model.call(x)`` in the GradientTape —
        instead of ``model(...)``: only ``__call__`` opens the call context from which sublayers
        called without ``training`` inherit the mode, so each such BN runs with training=None,
        i.e. in inference mode, while the model trains (elasticdl before its PRs #308 and #968).
        The class is the step model's own class when it resolves; when the step's model is loaded
        at run time (a class or module handed in by name), the project's Keras model classes that
        nothing in the project constructs (model definitions loaded by name), with the sub-blocks
        they build. Reported once per ``call``, at its first such sublayer call."""
        if not module.mentions("def call") or not module.classes or not kf.uses_keras(module):
            return
        if is_test_file(module.path):
            return
        models: Optional[dict] = None
        frozen: Optional[frozenset] = None
        for cls in module.classes:
            fn = next((f for f in cls.body if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))
                       and f.name == "call"), None)
            if fn is None:
                continue
            if models is None:
                models = _direct_call_models(project)
                if not models:
                    return
                frozen = kf.frozen_names(project, module)
            if id(cls) not in models:
                continue
            bn_attrs = _bn_sublayer_attributes(module, project, cls) - (frozen or frozenset())
            missing = []
            for n in _walk_same_scope(fn):
                if not (isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
                        and dotted(n.func.value) == "self" and n.func.attr in bn_attrs):
                    continue
                expr, known = kf.training_arg(n)
                if known and expr is None and not any(k.arg and _TRAINING_FLAG_KEYWORD.match(k.arg) for k in n.keywords):
                    missing.append(n)
            if not missing:
                continue
            missing.sort(key=lambda c: (c.lineno, c.col_offset))
            smod, site, dynamic, root = models[id(cls)]
            names = list(dict.fromkeys(f"self.{c.func.attr}" for c in missing))
            listed = ", ".join(f"`{x}`" for x in names[:4]) + (f" and {len(names) - 4} more" if len(names) > 4 else "")
            part = "" if root is cls else f"; `{cls.name}` is a part of `{root.name}`"
            origin = (f" (the step's model is loaded at run time, and nothing in the project constructs `{root.name}`: "
                      f"a model definition loaded by name{part})") if dynamic else (f" ({part[2:]})" if part else "")
            has_flag = kf._param_index(fn, "training")[2]
            fix = "pass `training=training` to each of them" if has_flag else \
                "give `call` a `training` parameter and pass it to each of them"
            yield self.finding(module, missing[0], (
                f"`{cls.name}.call` runs {listed} (BatchNormalization, or a block with it) without `training`, and "
                f"the training step runs the model's `call` method directly (`{ast.unparse(site.func)}(...)` at "
                f"{project.relative_path(smod)}, {smod.line_ref(site.lineno)}){origin}: only `__call__` passes the "
                f"mode on to sublayers called without it, so these BN layers run in inference mode while the model "
                f"trains (moving statistics never update, evaluation uses the initial 0/1); {fix}"))

    def _own_sublayers_without_mode(self, module: Module, project: Project, region, frozen: frozenset,
                                    seen: set[int]) -> Iterable[Finding]:
        """A step of a model over its own variables (``tape.gradient(loss, self.trainable_variables)``
        in ``train_step``) that runs one of the model's sublayers — built in the class from scratch,
        holding BN — itself instead of through ``self(...)``: ``self.encoder(x)`` in the step, or in a
        ``self.`` helper without a mode parameter (``feats = self.embed(x)`` -> ``def embed(self, x):
        return self.encoder(x)``), with no ``training``. fit() calls ``train_step`` outside any layer
        call, so nothing hands a mode on: the sublayer's BN runs in inference mode while its variables
        train. Silent when the step also runs ``self`` or that sublayer with an explicit ``training``."""
        if region.kind not in ("tape", "train_step") or not region.roots or "self" not in region.roots:
            return
        if region.scope is None or region.scope.name in ("call", "__call__"):
            return  # inside a layer's own call(): the outer __call__ has set the mode
        cls = module.enclosing_class(region.scope)
        if cls is None:
            return
        explicit = _explicitly_run_objects(module, project, region)
        if "self" in explicit:
            return  # self(x, training=True): the sublayers run with the step's mode there
        for n in region.nodes():
            if not (isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and dotted(n.func.value) == "self"):
                continue
            if kf._under_stop_gradient(module, n):
                continue
            candidates: list[tuple[ast.Call, Optional[ast.Call]]] = []
            if kf.own_scratch_sublayer(module, project, cls, n.func.attr):
                candidates.append((n, None))
            else:
                helper = kf._helper_function(module, project, n)
                if helper is None or helper[0] is not module or module.enclosing_class(helper[1]) is not cls:
                    continue
                candidates.extend((inner, n) for inner in astwalk.walk(helper[1])
                                  if isinstance(inner, ast.Call) and isinstance(inner.func, ast.Attribute)
                                  and dotted(inner.func.value) == "self" and module.scope_of(inner) is helper[1])
            for call, site in candidates:
                if id(call) in seen:
                    continue
                expr, known = kf.training_arg(call)
                if not known or expr is not None or any(k.arg and _TRAINING_FLAG_KEYWORD.match(k.arg)
                                                        for k in call.keywords):
                    continue
                attr = call.func.attr  # type: ignore[attr-defined]
                if f"self.{attr}" in explicit or attr in frozen:
                    continue
                if site is not None and not _helper_cannot_pass_mode(module, site, call):
                    continue
                if not kf.own_scratch_sublayer(module, project, cls, attr) \
                        or not kf.is_bn_model(module, project, call.func) \
                        or _instance_defaults_training_true(module, project, call.func):
                    continue
                seen.add(id(call))
                via = (f" in `{ast.unparse(site.func)}` (a helper without a mode parameter, called in the step at "
                       f"{module.line_ref(site.lineno)})") if site is not None else ""
                yield self.finding(module, call, (
                    f"`self.{attr}` is a sublayer of the model whose variables `{region.scope.name}` trains, contains "
                    f"BatchNormalization and is run without `training`{via}, not through `self(...)`: fit() calls "
                    "the step outside any layer call, so nothing hands the mode on and this BN runs in inference "
                    "mode (moving statistics frozen) while its weights train; pass training=True"),
                    fix=self._fix(module, call))

    def _instance_sublayers_without_mode(self, module: Module, project: Project, region,
                                         frozen: frozenset) -> Iterable[Finding]:
        """The same as ``_own_sublayers_without_mode`` from outside the class: a custom loop that
        differentiates ``model.trainable_variables`` and runs ``model.encoder(x)`` (a sublayer the
        project class of ``model`` builds from scratch, holding BN) by itself without ``training``
        instead of ``model(x, training=True)``."""
        if region.kind != "tape" or not region.roots or not any(r.isidentifier() and r != "self" for r in region.roots):
            return
        explicit: Optional[set[str]] = None
        for n in region.nodes():
            if not (isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and isinstance(n.func.value, ast.Name)
                    and n.func.value.id in region.roots and n.func.value.id != "self" and n.func.attr != "call"):
                continue
            expr, known = kf.training_arg(n)
            if not known or expr is not None or any(k.arg and _TRAINING_FLAG_KEYWORD.match(k.arg) for k in n.keywords):
                continue
            owner, attr = n.func.value.id, n.func.attr
            if owner in frozen or attr in frozen or kf._under_stop_gradient(module, n):
                continue
            if explicit is None:
                explicit = _explicitly_run_objects(module, project, region)
            if owner in explicit or f"{owner}.{attr}" in explicit:
                continue
            classes = _classes_bound_to(module, project, n.func.value)
            if not classes or len(classes) != 1 or classes[0] == "dynamic":
                continue
            cmod, cls = classes[0]
            if not kf.own_scratch_sublayer(cmod, project, cls, attr):
                continue
            built = [st.value for st in astwalk.walk(cls) if isinstance(st, ast.Assign) and any(
                isinstance(t, ast.Attribute) and t.attr == attr and dotted(t.value) == "self" for t in st.targets)]
            if not any(kf.is_bn_model(cmod, project, v) for v in built):
                continue
            yield self.finding(module, n, (
                f"`{owner}.{attr}` is a sublayer of `{owner}` (built in `{cls.name}`, with BatchNormalization), whose "
                f"variables this step trains, and is run by itself without `training`, not through `{owner}(...)`: "
                "outside fit() nothing hands it a mode, so its BN runs in inference mode (moving statistics frozen) "
                "while its weights train; pass training=True"), fix=self._fix(module, n))

    def _layer_walks_without_mode(self, module: Module, project: Project, region, frozen: frozenset) -> Iterable[Finding]:
        """``for layer in net.layers: h = layer(h)`` in a training step whose gradient is taken over
        ``net``'s variables (in the step itself, or one level down in a helper the model is handed
        to, ``tapped_forward(net, x)``): every layer is called on its own, with no ``training`` and
        no outer model call to inherit a mode from, so the model's BatchNormalization layers run in
        inference mode (moving statistics frozen) while their weights train. Silent when a call of
        the loop variable passes a mode, or the step also runs ``net`` with an explicit ``training``."""
        if region.kind == "torch_loop" or not region.roots or not module.mentions(".layers"):
            return
        if region.scope is not None and region.scope.name in ("call", "__call__"):
            return  # inside a layer's own call(): the outer __call__ has set the mode
        explicit: Optional[set[str]] = None
        for n in region.nodes():
            walks: list[tuple[ast.AST, ast.expr, Optional[ast.Call]]] = []
            if isinstance(n, (ast.For, ast.AsyncFor)):
                walks.append((n, n.iter, None))
            elif isinstance(n, ast.Call):
                helper = kf._helper_function(module, project, n)
                if helper is None or helper[0] is not module:
                    continue
                walks.extend((loop, loop.iter, n) for loop in astwalk.walk(helper[1])
                             if isinstance(loop, (ast.For, ast.AsyncFor)) and module.scope_of(loop) is helper[1])
            for loop, it, site in walks:
                if isinstance(it, ast.Subscript):
                    it = it.value  # net.layers[1:]
                if not (isinstance(it, ast.Attribute) and it.attr == "layers" and isinstance(loop.target, ast.Name)):
                    continue
                owner = it.value
                if site is not None:
                    hfn = module.scope_of(loop)
                    head = dotted(owner)
                    if head is None or "." in head:
                        continue
                    if head == "self":
                        if not (isinstance(site.func, ast.Attribute) and dotted(site.func.value) == "self"):
                            continue
                    else:
                        arg, given = kf.argument_for(site, hfn, head, is_method_call=isinstance(site.func, ast.Attribute))
                        if arg is None or not given:
                            continue
                        owner = arg
                obj = dotted(owner)
                if obj is None or obj not in region.roots or obj.rsplit(".", 1)[-1] in frozen:
                    continue
                var = loop.target.id
                calls = [c for st in loop.body for c in astwalk.walk(st)
                         if isinstance(c, ast.Call) and isinstance(c.func, ast.Name) and c.func.id == var]
                if not calls:
                    continue
                modes = [kf.training_arg(c) for c in calls]
                if any(not known or expr is not None for expr, known in modes) or any(
                        k.arg is None or _TRAINING_FLAG_KEYWORD.match(k.arg) for c in calls for k in c.keywords):
                    continue
                if obj == "self":
                    cls = module.enclosing_class(region.scope) if region.scope is not None else None
                    if cls is None or not kf.class_is_bn_model(project, module, cls):
                        continue
                elif not kf.is_bn_model(module, project, owner):
                    continue
                if explicit is None:
                    explicit = _explicitly_run_objects(module, project, region)
                if obj in explicit:
                    continue
                via = (f" (in `{ast.unparse(site.func)}`, called in the step at {module.line_ref(site.lineno)})"
                       if site is not None else "")
                yield self.finding(module, calls[0], (
                    f"the layers of `{obj}` (which contains BatchNormalization and whose variables the step trains) are "
                    f"called one by one without `training`{via}: with no outer call of `{obj}` to inherit a mode from, "
                    "each BN layer runs in inference mode (moving statistics frozen) while its weights train; pass "
                    "training=True to the layer calls"), fix=self._fix(module, calls[0]))

    def _none_through_helpers(self, module: Module, project: Project, region, frozen: frozenset) -> Iterable[Finding]:
        """``self.compute_loss(x, y)`` in the step -> ``compute_loss(self, x, y, training=None)`` ->
        ``self.forward(x, training=training)`` -> ``self.model(x, training=training)``: the helpers
        forward an explicit ``training`` parameter whose default None no call on the way overrides,
        so the model runs with training=None (inference mode outside fit). Followed up to three
        levels through ``self.`` method helpers; the model is an attribute of ``self`` owning the
        differentiated variables."""
        if region.kind == "torch_loop" or not region.roots:
            return
        for n in region.nodes():
            if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and dotted(n.func.value) == "self":
                found = _training_none_chain(module, project, n, [], region.roots)
                if found is None:
                    continue
                call, obj, cmod, chain = found
                if obj.rsplit(".", 1)[-1] in frozen | kf.frozen_names(project, cmod) \
                        or not self._contains_bn(cmod, project, call, obj):
                    continue
                path = " -> ".join(f"`{fn.name}`" for fn in chain)
                yield self.finding(module, n, (
                    f"`{obj}` contains BatchNormalization and is called with training=None inside its training "
                    f"step (through {path}, whose `training` parameter defaults to None and is never passed here): "
                    "outside fit() this runs BN in inference mode (moving statistics frozen); pass training=True"))

    @staticmethod
    def _contains_bn(module: Module, project: Project, call: ast.Call, obj: str) -> bool:
        if obj == "self":
            cls = module.enclosing_class(call)
            if cls is None or not kf.class_is_bn_model(project, module, cls):
                return False
            return not _call_defaults_training_true(project, module, cls)
        target = kf.model_expr(call)
        if kf.is_bn_model(module, project, target):
            return not _instance_defaults_training_true(module, project, target)
        return False

    @staticmethod
    def _fix(module: Module, call: ast.Call) -> Optional[Fix]:
        if not call.args and not call.keywords:
            return None
        last = max([*call.args, *call.keywords], key=lambda n: (n.end_lineno, n.end_col_offset))
        _, line = module.unit.locate(last.end_lineno)
        cell, _ = module.unit.locate(last.end_lineno)
        return Fix("pass training=True", (Edit(line, last.end_col_offset, line, last.end_col_offset, ", training=True", cell),))


def _explicitly_run_objects(module: Module, project: Project, region) -> set[str]:
    """Objects the training step (the region, or a GradientTape block around it) calls with an explicit
    ``training`` that is not always false (``critic(real, training=True)``): their BatchNormalization
    layers update their moving statistics there, so a further call of the same object without
    ``training`` in that step (a WGAN-GP gradient-penalty pass) leaves nothing frozen or stale."""
    bodies = [region.nodes()]
    if region.anchor is not None:
        for a in module.ancestors(region.anchor):
            if isinstance(a, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
                break
            if isinstance(a, (ast.With, ast.AsyncWith)) and any(kf._is_gradient_tape(module, i.context_expr)
                                                                for i in a.items):
                bodies.append(n for st in a.body for n in astwalk.walk(st))
    out: set[str] = set()
    for nodes in bodies:
        for n in nodes:
            if not isinstance(n, ast.Call):
                continue
            expr, known = kf.training_arg(n)
            if not known or expr is None or kf.always_false(module, project, expr):
                continue
            d = kf.called_object(n)
            if d is not None:
                out.add(d)
            d = kf._compiled_model(module, n)
            if d is not None:
                out.add(d)
    return out


def _helper_cannot_pass_mode(hmod: Module, site: ast.Call, call: ast.Call) -> bool:
    """``loss = self._compute_loss(data)`` in the step -> ``def _compute_loss(self, data):`` ->
    ``self.network(data)``: a helper (``call`` in its own body, not a nested function) that has no
    mode parameter and no ``**kwargs``, called without a mode keyword, cannot hand the step's mode
    to the model: the model call runs with training=None, as if written in the step itself."""
    hfn = hmod.scope_of(call)
    callee = site.func.id if isinstance(site.func, ast.Name) else getattr(site.func, "attr", None)
    if hfn is None or hfn.name not in (callee, "call") or hfn.args.kwarg is not None:
        return False  # the call sits in a nested function of the helper, or **kwargs may carry the mode
    if any(k.arg is None or _TRAINING_FLAG_KEYWORD.match(k.arg) for k in site.keywords):
        return False
    params = [*hfn.args.posonlyargs, *hfn.args.args, *hfn.args.kwonlyargs]
    if hfn.args.vararg is not None:
        params.append(hfn.args.vararg)
    return not any(_TRAINING_FLAG_KEYWORD.match(p.arg) for p in params)


def _training_none_chain(module: Module, project: Project, site: ast.Call, chain: list,
                         roots: set) -> Optional[tuple[ast.Call, str, Module, list]]:
    """Follow ``self.helper(...)`` (``site``) into the helper; return (model call, object, module,
    helper chain) when a call of a ``self.`` attribute in ``roots`` gets ``training=<parameter>``
    that, through every helper on the way, ends in a parameter default None the outermost call
    omits."""
    helper = kf._helper_function(module, project, site)
    if helper is None or len(chain) >= 3:
        return None
    hmod, hfn = helper
    if hmod is not module:
        return None
    chain = chain + [(site, hfn)]
    for inner in astwalk.walk(hfn):
        if not isinstance(inner, ast.Call) or module.scope_of(inner) is not hfn:
            continue
        expr = kf.kwarg(inner, "training")
        obj = kf.called_object(inner)
        if obj in roots and obj.startswith("self."):
            if isinstance(expr, ast.Name) and _defaults_to_none_along(chain, expr.id):
                return inner, obj, hmod, [fn for _, fn in chain]
        elif isinstance(inner.func, ast.Attribute) and dotted(inner.func.value) == "self" \
                and isinstance(expr, ast.Name):
            found = _training_none_chain(module, project, inner, chain, roots)
            if found is not None:
                return found
    return None


def _defaults_to_none_along(chain: list, name: str) -> bool:
    """Does parameter ``name`` of the innermost helper come, call by call up the chain, from a
    parameter default None that the outermost call omits?"""
    for i in range(len(chain) - 1, -1, -1):
        site, fn = chain[i]
        arg, explicit = kf.argument_for(site, fn, name, is_method_call=True)
        if arg is None:
            return False  # not a parameter, or hidden by *args / **kwargs
        if not explicit:
            return isinstance(arg, ast.Constant) and arg.value is None
        if i == 0 or not isinstance(arg, ast.Name):
            return False
        caller = chain[i - 1][1]
        if not kf._param_index(caller, arg.id)[2]:
            return False
        name = arg.id
    return False


def _call_defaults_training_true(project: Project, module: Module, cls: ast.ClassDef, depth: int = 0) -> bool:
    """Does an instance of ``cls`` called without ``training`` (no outer call, no learning phase) run
    in training mode? Keras (tf_keras and Keras 3) fills a missing ``training`` from call()'s own
    default: ``call(self, x, training=True)``. A ``call(self, *args, **kwargs)`` that forwards to
    ``self.net(*args, **kwargs)`` passes ``training=None`` on, so ``self.net``'s default decides."""
    if depth > 4:
        return False
    call = next((n for n in cls.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name == "call"), None)
    if call is None:  # inherited from a project base class
        for b in cls.bases:
            bmod, base = kf.resolve_def_in(project, module, b)
            if isinstance(base, ast.ClassDef) and bmod is not None \
                    and _call_defaults_training_true(project, bmod, base, depth + 1):
                return True
        return False
    _, default, found = kf._param_index(call, "training")
    if found:
        return isinstance(default, ast.Constant) and bool(default.value)
    if call.args.kwarg is None:
        return False
    kwargs_name = call.args.kwarg.arg
    for n in astwalk.walk(call):
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and isinstance(n.func.value, ast.Name) \
                and n.func.value.id == "self" \
                and any(k.arg is None and isinstance(k.value, ast.Name) and k.value.id == kwargs_name for k in n.keywords) \
                and _instance_defaults_training_true(module, project, n.func, depth + 1):
            return True
    return False


def _instance_defaults_training_true(module: Module, project: Project, target: ast.expr, depth: int = 0,
                                     found: Optional[list] = None, baked: bool = False) -> bool:
    """Is ``target`` (``model``, ``self.net``) bound to an instance of a class whose call() runs in
    training mode by default? Followed through closures, function parameters (every call site) and
    ``self.attr = ...`` bindings, like ``keras_facts.is_bn_model``. The class is appended to
    ``found`` when given. With ``baked``: a functional model whose graph calls a BatchNormalization
    with training=True (``_baked_model_builder``; its builder function is appended instead)."""
    if depth > 4:
        return False
    values: list[tuple[Module, ast.expr]] = []
    if isinstance(target, ast.Name):
        # the innermost scope that assigns it (a closure: ``model = UNet()`` in the function around
        # the nested ``train_step``), up to the module; a parameter: what its call sites pass
        scope = module.scope_of(target)
        while True:
            values = [(module, a) for a in kf._assignments(scope if scope is not None else module.tree, target.id)
                      if a is not None]
            if values or scope is None:
                break
            if kf._param_index(scope, target.id)[2]:
                return _param_defaults_training_true(project, scope, target.id, depth, found, baked)
            scope = module.scope_of(scope)
    elif isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name) and target.value.id == "self":
        values.extend((module, n.value) for n in kf.self_attribute_stores(module, target, target.attr))
    while values:
        vmod, v = values.pop()
        if isinstance(v, ast.IfExp):
            values += [(vmod, v.body), (vmod, v.orelse)]
        elif isinstance(v, ast.Call) and baked:
            builder = _baked_model_builder(project, vmod, v)
            if builder is not None:
                if found is not None:
                    found.append(builder)
                return True
        elif isinstance(v, ast.Call):
            cmod, cls = kf.resolve_def_in(project, vmod, v.func)
            if isinstance(cls, ast.ClassDef) and cmod is not None \
                    and _call_defaults_training_true(project, cmod, cls, depth + 1):
                if found is not None:
                    found.append(cls)
                return True
    return False


def _param_defaults_training_true(project: Project, fn: FuncNode, name: str, depth: int,
                                  found: Optional[list] = None, baked: bool = False) -> bool:
    home = next((fi.module for fi in project.functions(fn.name) if fi.node is fn), None)
    if home is None or fn.name in kf.FRAMEWORK_HOOKS:
        return False
    component = project.import_component(home)
    for c in project.call_sites(fn.name):
        if isinstance(c.node.func, ast.Name) and not project.imports_name_from(c.module, fn.name, home):
            continue  # another sub-project's function of the same name
        if id(c.module) not in component or (c.module is not home and isinstance(c.node.func, ast.Name)
                                              and fn.name in kf._toplevel_defs(c.module.tree)):
            continue  # another script's function of the same name
        expr, _ = kf.argument_for(c.node, fn, name, is_method_call=isinstance(c.node.func, ast.Attribute))
        if expr is not None and _instance_defaults_training_true(c.module, project, expr, depth + 1, found, baked):
            return True
    return False


def _bn_bake_sites(project: Project) -> dict:
    """{id(function) (id(module tree) at module level): (module, call)} for the code that calls a
    trainable Keras BatchNormalization layer with a ``training`` that is always true — a literal, or
    a parameter of a module-level helper that every call of it leaves or sets True
    (``dense_block(x, units, mc=True)`` wiring ``BatchNormalization()(x, training=mc)``). In a
    functional graph that value is stored with the layer's node. Calls whose comment says batch
    statistics are wanted on purpose are left out."""
    def compute(p: Project) -> dict:
        out: dict = {}
        for m in p.modules:
            if is_test_file(m.path) or "training" not in m.unit.text or not kf.uses_keras(m):
                continue
            for c in m.calls:
                expr = kf.kwarg(c.node, "training")
                if expr is None or not _bn_layer_object(m, c.node.func, c.scope):
                    continue
                if kf.argument_values(m, p, expr) != {True} or _DELIBERATE_COMMENT.search(kf.comments_at(m, c.node)):
                    continue
                out.setdefault(id(c.scope) if c.scope is not None else id(m.tree), (m, c.node))
        return out
    return project.fact("keras.bn_bake_sites", compute)


def _bn_layer_object(module: Module, func: ast.expr, scope: Optional[FuncNode]) -> bool:
    """Is ``func`` a trainable Keras BatchNormalization layer: ``BatchNormalization(...)`` itself, or
    a name this scope binds only to such constructions?"""
    values: list = [func]
    if isinstance(func, ast.Name):
        values = kf._assignments(scope if scope is not None else module.tree, func.id)
    return bool(values) and all(
        isinstance(v, ast.Call) and kf.is_keras_bn_layer(module.imports.resolve(v.func))
        and kf._literal(kf.kwarg(v, "trainable")) is not False for v in values)


_FUNCTIONAL_MODEL = frozenset({"keras.Model", "keras.models.Model"})


def _baked_model_builder(project: Project, module: Module, value: ast.Call, depth: int = 0) -> Optional[tuple]:
    """(module, function) of the function that builds the functional model ``value`` evaluates to, when that model's graph
    calls a BatchNormalization with an always-true ``training`` (``_bn_bake_sites``): ``value`` is a
    call of a project function that returns ``keras.Model(inputs, outputs)`` (or another such
    builder's model) and bakes BN itself or through the project helpers it calls; or it is the
    ``keras.Model(...)`` call of a function (or script: its module tree comes back) that does."""
    if depth > 3:
        return None
    if kf.keras_name(module.imports.resolve(value.func)) in _FUNCTIONAL_MODEL:
        scope = module.scope_of(value)
        if _graph_bakes_bn(project, module, scope, 0) is None:
            return None
        return module, (scope if scope is not None else module.tree)
    cmod, fn = kf.resolve_def_in(project, module, value.func)
    if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)) or cmod is None or cmod.parent(fn) is not cmod.tree:
        return None
    for r in astwalk.walk(fn):
        if not (isinstance(r, ast.Return) and r.value is not None and cmod.scope_of(r) is fn):
            continue
        rv = r.value
        if isinstance(rv, ast.Name):
            bound = kf._assignments(fn, rv.id)
            rv = bound[0] if len(bound) == 1 else None
        if not isinstance(rv, ast.Call):
            continue
        if kf.keras_name(cmod.imports.resolve(rv.func)) in _FUNCTIONAL_MODEL:
            if _graph_bakes_bn(project, cmod, fn, 0) is not None:
                return cmod, fn
        elif _baked_model_builder(project, cmod, rv, depth + 1) is not None:
            return cmod, fn
    return None


def _graph_bakes_bn(project: Project, module: Module, fn: Optional[FuncNode], depth: int) -> Optional[tuple]:
    """(module, call) of a BatchNormalization call with an always-true ``training`` that ``fn`` (None:
    the module's top level) makes, itself or through the module-level project functions it calls."""
    sites = _bn_bake_sites(project)
    if not sites or depth > 3:
        return None
    site = sites.get(id(fn) if fn is not None else id(module.tree))
    if site is not None:
        return site
    for n in _walk_same_scope(fn if fn is not None else module.tree):
        if isinstance(n, ast.Call) and not isinstance(n.func, ast.Call):
            cmod, g = kf.resolve_def_in(project, module, n.func)
            if isinstance(g, (ast.FunctionDef, ast.AsyncFunctionDef)) and cmod is not None and g is not fn \
                    and cmod.parent(g) is cmod.tree:
                site = _graph_bakes_bn(project, cmod, g, depth + 1)
                if site is not None:
                    return site
    return None


def _direct_call_models(project: Project) -> dict:
    """{id(class): (module, ``.call`` site, dynamic, model class it belongs to)} for the model
    classes a training step runs through their ``call`` method directly (``model.call(x, ...)`` in
    a GradientTape, a ``minimize`` loss or a ``train_step``, on the differentiated model, outside
    any layer's own ``call``), with the project classes they build as sublayers and their project
    bases. When the step's model comes from run time (a parameter, a class handed in, a loader),
    the project's Keras model classes that nothing constructs stand for it (``dynamic``). Empty
    when nothing calls ``.call`` that way or the learning phase is set."""
    def compute(p: Project) -> dict:
        out: dict = {}
        todo: list = []
        unconstructed: Optional[list] = None
        for m in p.modules:
            if ".call(" not in m.unit.text or is_test_file(m.path) or not kf.uses_keras(m):
                continue
            for region in kf.training_regions(m, p):
                if region.kind == "torch_loop" or not region.roots:
                    continue
                for n in region.nodes():
                    if not (isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr == "call"):
                        continue
                    obj = dotted(n.func.value)
                    if obj is None or obj not in region.roots or not _learning_phase_never_set(p, m):
                        continue
                    scope = m.scope_of(n)
                    chain = [scope] + [a for a in m.ancestors(scope) if isinstance(a, (ast.FunctionDef, ast.AsyncFunctionDef))] \
                        if scope is not None else []
                    if any(f.name in ("call", "__call__") for f in chain):
                        continue  # a layer delegating inside its own call: the outer __call__ set the mode
                    classes = _classes_bound_to(m, p, n.func.value)
                    if classes is None:
                        continue  # a Keras/TF or library model (load_model, Sequential, functional)
                    dynamic = "dynamic" in classes
                    if dynamic:
                        if unconstructed is None:
                            unconstructed = _unconstructed_keras_models(p)
                        classes = [c for c in classes if c != "dynamic"] + unconstructed
                    for cmod, cls in classes:
                        todo.append((cmod, cls, (m, n, dynamic, cls)))
        while todo:
            cmod, cls, site = todo.pop()
            if id(cls) in out:
                continue
            out[id(cls)] = site
            for b in cls.bases:
                bmod, base = kf.resolve_def_in(p, cmod, b)
                if isinstance(base, ast.ClassDef) and bmod is not None:
                    todo.append((bmod, base, site))
            for st in astwalk.walk(cls):
                if isinstance(st, ast.Assign) and isinstance(st.value, ast.Call) and any(
                        isinstance(t, ast.Attribute) and dotted(t.value) == "self" for t in st.targets):
                    smod, sub = kf.resolve_def_in(p, cmod, st.value.func)
                    if isinstance(sub, ast.ClassDef) and smod is not None:
                        todo.append((smod, sub, site))
        return out
    return project.fact("keras.direct_call_models", compute)


_FRAMEWORK_ROOTS = ("tensorflow", "keras", "tf_keras", "tf", "jax", "torch")


def _classes_bound_to(module: Module, project: Project, target: ast.expr, depth: int = 0) -> Optional[list]:
    """The project classes ``target`` (``model``, ``self._model``) is bound to, as (module, class)
    pairs, with "dynamic" for a binding known only at run time (a parameter, ``model_cls()``, a
    loader's return, ``getattr``); None when a binding is a framework or library object."""
    values: list = []
    if isinstance(target, ast.Name) and target.id == "self":
        cls = module.enclosing_class(target)
        return [(module, cls)] if cls is not None else None  # `self.call(x)` in a train_step override
    if isinstance(target, ast.Name):
        scope = module.scope_of(target)
        while True:
            values = kf._assignments(scope if scope is not None else module.tree, target.id)
            if values:
                break
            if scope is not None and kf._param_index(scope, target.id)[2]:
                return _parameter_classes(module, project, scope, target.id, depth, instantiated=False)
            if scope is None:
                return ["dynamic"]
            scope = module.scope_of(scope)
    elif isinstance(target, ast.Attribute) and dotted(target.value) == "self":
        cls = module.enclosing_class(target)
        values = [st.value for st in astwalk.walk(cls) if isinstance(st, (ast.Assign, ast.AnnAssign))
                  and st.value is not None and any(
                      isinstance(t, ast.Attribute) and t.attr == target.attr and dotted(t.value) == "self"
                      for t in (st.targets if isinstance(st, ast.Assign) else [st.target]))] if cls is not None else []
        if not values:
            return ["dynamic"]
    else:
        return ["dynamic"]
    out: list = []
    for v in values:
        found = _classes_of_value(module, project, v, depth)
        if found is None:
            return None
        out.extend(found)
    return out


def _classes_of_value(module: Module, project: Project, v: Optional[ast.expr], depth: int) -> Optional[list]:
    if v is None or depth > 3:
        return ["dynamic"]
    if isinstance(v, ast.Name):
        return _classes_bound_to(module, project, v, depth + 1)
    if not isinstance(v, ast.Call):
        return ["dynamic"]  # a subscript, an attribute of a config: whatever was put there
    q = module.imports.resolve(v.func) or ""
    if q.split(".")[0] in _FRAMEWORK_ROOTS:
        return None
    cmod, d = kf.resolve_def_in(project, module, v.func)
    if isinstance(d, ast.ClassDef) and cmod is not None:
        return [(cmod, d)]
    if isinstance(d, (ast.FunctionDef, ast.AsyncFunctionDef)) and cmod is not None:
        out: list = []
        for r in astwalk.walk(d):
            if isinstance(r, ast.Return) and r.value is not None and cmod.scope_of(r) is d:
                found = _classes_of_value(cmod, project, r.value, depth + 1)
                if found is None:
                    return None
                out.extend(found)
        return out or ["dynamic"]
    f = v.func
    if isinstance(f, ast.Name):
        scope = module.scope_of(v)
        if scope is not None and kf._param_index(scope, f.id)[2]:
            return _parameter_classes(module, project, scope, f.id, depth, instantiated=True)  # `model_cls()`
        if f.id == "getattr" or kf._assignments(scope if scope is not None else module.tree, f.id):
            return ["dynamic"]  # `getattr(mod, name)`, `cls = load_class(...); cls()`
        return None  # a builtin, a library function
    if isinstance(f, (ast.Subscript, ast.Call)):
        return ["dynamic"]  # `module_dict[name](...)`, `getattr(mod, name)(...)`
    return None  # a method of some library object


def _parameter_classes(module: Module, project: Project, fn: FuncNode, name: str, depth: int,
                       instantiated: bool) -> Optional[list]:
    """What the calls of ``fn`` (a module function, or the ``__init__`` of a class: its
    constructions) pass as parameter ``name``: the instances' classes, or with ``instantiated`` the
    classes handed in (``Trainer(ResNet)`` then ``model_cls()``); "dynamic" when a call passes
    something known only at run time, when it is hidden by ``*args``/``**kwargs``, or when no call
    of ``fn`` is visible."""
    if depth > 3:
        return ["dynamic"]
    owner = module.parent(fn)
    if isinstance(owner, ast.ClassDef):
        if fn.name != "__init__":
            return ["dynamic"]
        callee: ast.AST = owner
        sites = project.call_sites(owner.name)
    elif owner is module.tree:
        callee, sites = fn, project.call_sites(fn.name)
    else:
        return ["dynamic"]
    sites = [s for s in sites if kf.resolve_def(project, s.module, s.node.func) is callee]
    if not sites:
        return ["dynamic"]
    out: list = []
    for s in sites:
        arg, explicit = kf.argument_for(s.node, fn, name, is_method_call=callee is not fn)
        if arg is None or not explicit:
            return ["dynamic"]
        if instantiated:
            cmod, cls = kf.resolve_def_in(project, s.module, arg) if isinstance(arg, (ast.Name, ast.Attribute)) \
                else (None, None)
            out.extend([(cmod, cls)] if isinstance(cls, ast.ClassDef) and cmod is not None else ["dynamic"])
            continue
        found = _classes_of_value(s.module, project, arg, depth + 1)
        if found is None:
            return None
        out.extend(found)
    return out


def _unconstructed_keras_models(project: Project) -> list:
    """The project's module-level ``keras.Model`` subclasses that no code in the project constructs
    (outside test files): model definitions meant to be loaded by name."""
    out = []
    for m in project.modules:
        if is_test_file(m.path) or not kf.uses_keras(m):
            continue
        for cls in m.classes:
            if m.parent(cls) is not m.tree:
                continue
            if not any(kf.keras_name(m.imports.resolve(b)) in ("keras.Model", "keras.models.Model") for b in cls.bases):
                continue
            if any(kf.resolve_def(project, s.module, s.node.func) is cls for s in project.call_sites(cls.name)):
                continue
            out.append((m, cls))
    return out


def _bn_sublayer_attributes(module: Module, project: Project, cls: ast.ClassDef) -> set[str]:
    """``self.<attr>`` names of ``cls`` bound to a trainable BatchNormalization or to a project
    block / Sequential that contains one (and whose call does not default ``training`` to True)."""
    out: set[str] = set()
    for st in astwalk.walk(cls):
        if not (isinstance(st, ast.Assign) and isinstance(st.value, ast.Call)):
            continue
        attrs = [t.attr for t in st.targets if isinstance(t, ast.Attribute) and dotted(t.value) == "self"]
        if not attrs:
            continue
        v = st.value
        q = module.imports.resolve(v.func)
        if kf.is_keras_bn_layer(q):
            if kf._literal(kf.kwarg(v, "trainable")) is not False:
                out.update(attrs)
            continue
        if kf.is_bn_application(q):
            continue  # a pretrained backbone: its mode is a fine-tuning choice
        if not kf.is_bn_model(module, project, v):
            continue
        cmod, sub = kf.resolve_def_in(project, module, v.func)
        if isinstance(sub, ast.ClassDef) and cmod is not None and _call_defaults_training_true(project, cmod, sub):
            continue
        out.update(attrs)
    return out


def _under_training_test(module: Module, node: ast.AST, stop: ast.AST) -> bool:
    """Is ``node`` inside an ``if`` whose test mentions ``training`` (a deliberate branch)?"""
    for a in module.ancestors(node):
        if a is stop:
            return False
        if isinstance(a, (ast.If, ast.IfExp)) and any(isinstance(x, ast.Name) and "train" in x.id.lower()
                                                      or isinstance(x, ast.Attribute) and "train" in x.attr.lower()
                                                      for x in astwalk.walk(a.test)):
            return True
    return False


@register
class HardcodedTrainingFalseInCall(Rule):
    code = "BN203"
    name = "bn-sublayer-training-false-in-call"
    framework = "keras"
    summary = "A layer's or model's call() passes training=False to its BatchNormalization sublayer."
    triggers = ("training", "trainable", ".call(")
    doc = RuleDoc(
        what="""
Finds, in the `call` method of a Keras layer or model that takes a `training` argument, a call of one
of its own BatchNormalization sublayers (`self.bn = layers.BatchNormalization(...)`) with
`training=False` (or an always-false value).

Also finds the construction of a BatchNormalization subclass with a freeze switch (keras-resnet's
`freeze`: `call` forces `training=False` under `if self.freeze:`, and `__init__` stores a
parameter there) with a value that is always true (a literal, a default or a config entry such as
`CONFIG["freeze_bn"]`), in a program that trains and whose pretrained-weight loads are all switched
off (`if config["weights"]: model.load_weights(...)` with `weights` always None): the freeze is
meant for pretrained statistics, and a model trained from scratch keeps the initial 0/1. The same
for `layer.trainable = False` on every BatchNormalization layer (`for layer in model.layers: if
isinstance(layer, BatchNormalization)`) that always runs (unconditionally, or under settings that
are always true, reached from an entry point): TF2 Keras and Keras 3 run a non-trainable BN in
inference mode.

Also `BatchNormalization(..., trainable=affine)` where `affine` is a parameter of the block (a
module-level function or a class `__init__`) that only the BN takes, and some construction of the
block passes False (a keyword, a position, the default, or an entry of a module-level config list
unpacked in a loop: `[Block(f, affine=a) for f, a in CFG]`), in a program that trains and has no
weight load, Keras application with weights or saved model that may run: a PyTorch
`BatchNorm2d(affine=False)` ported as "not trainable"; the model trains from scratch and the BN
keeps 0/1 moving statistics (Keras' `affine=False` is `center=False, scale=False`).

Also a `call` with no `training` parameter that hands its BN sublayer (or a project block with BN)
a mode parameter of another name defaulting to False (`def call(self, inputs, is_training=False)`
... `self.bn(x, training=is_training)`, a TF1 port), when nothing in the program passes that
parameter (by keyword, or by position to something that may be an instance) and the program
trains: Keras hands the mode only to a parameter named `training`, so fit(), train_on_batch() and
`model(x, training=True)` all leave the default, and the explicit False wins over the outer mode.
The same for a Keras 3 `call(self, inputs, **kwargs)` with no `training` parameter that hands its BN
sublayer `kwargs.get("training", False)` (or `.pop`, directly or through a local name), the TF2
tutorial style: Keras 3 fills `training` only for a call() that declares it and strips a `training`
keyword a caller passes to one that does not, so `**kwargs` never holds it (measured with Keras 3.15:
the moving statistics stay 0/1 after fit). Judged only where the class derives from `keras` itself
and the file uses Keras-3-only API (`keras.ops`, `KERAS_BACKEND`, `keras.random`, `keras.config`...),
with nothing from `tf.keras` / `tf_keras`.

Also a BatchNormalization subclass whose `call` runs its parent's call (`super().call(x)`,
`BatchNormalization.call(self, x)`) without `training`, with no `training` parameter or one it
never reads (a float32 / casting wrapper: `def call(self, inputs): return
super().call(tf.cast(inputs, "float32"))`), in a program that trains: the parent's call run
directly gets training=None, which is inference in Keras 3 and in TF2 Keras (the unset learning
phase is 0), inside fit() too (measured with Keras 3.15 and tf_keras 2.21: the moving mean stays 0).
""",
        why="""
The block receives the training flag but does not pass it on: its BN always normalises with the
moving statistics and never updates them, whether the model is trained with `fit` or a custom loop.
The moving statistics stay at 0/1 while the following layers learn around them, and the trained
model gives wrong outputs.
""",
        example="""
class ConvBlock(keras.layers.Layer):
    def __init__(self, filters):
        super().__init__()
        self.conv = keras.layers.Conv2D(filters, 3, padding="same")
        self.bn = keras.layers.BatchNormalization()

    def call(self, x, training=None):
        return tf.nn.relu(self.bn(self.conv(x), training=False))
""",
        use_instead="""
    def call(self, x, training=None):
        return tf.nn.relu(self.bn(self.conv(x), training=training))
""",
        not_flagged="""
- deliberately frozen BN: the sublayer is created with `trainable=False` or set `.trainable = False`
  (frozen-BN backbones for detection/fine-tuning), or its class is a custom subclass of
  BatchNormalization;
- a freeze switch (or a `layer.trainable = False` loop over BN layers) on a model that loads
  pretrained weights (or builds a Keras application with ImageNet weights), may load them (a weights
  setting that is not always empty), or has no weight loading code at all (a per-layer freeze by
  design); a switch whose value is not always true (a command-line flag);
- `training=False` inside a branch on the training flag (`if not training: ...`);
- a mode parameter of another name that some call passes (`model(x, is_training=True)`,
  `model(x, True)`), that defaults to None or True, or whose class is never constructed;
- `kwargs.get("training", False)` in tf.keras / tf_keras code (Keras 2 puts `training` into the
  `**kwargs` of a call() that accepts them), in `keras` code without Keras-3-only API (standalone
  Keras 2.4-2.15 is tf.keras), with a default of None (Keras 3 versions differ on an explicit None),
  or when the BN sublayer gets no mode at all (`self.bn(h)` takes the outer mode from the call context);
- a BatchNormalization subclass that passes `training` on (by keyword or position), forwards
  `*args`/`**kwargs` (Keras 3 and tf.keras differ there), reads `training` itself, is named for a
  freeze (`Frozen*`, `Fixed*`) or sets `self.trainable = False`; standalone Keras 2 / TF1-era code
  (`keras.engine`, a learning phase, a Session: there training=None follows the phase fit() feeds);
- a `trainable=` parameter that also sets `trainable` of the block's other layers (a whole block
  frozen), or whose values are not all known, in TF1 graph code (v2 behaviour off), or in a program
  that may load pretrained weights;
- a literal `training=False` in `call` methods without a `training` parameter, and calls of whole
  sub-models with `training=False` (the fine-tuning pattern of the Keras guide).
""",
        versions=KERAS_VERSIONS,
    )

    def check(self, module: Module, project: Project) -> Iterable[Finding]:
        if not kf.uses_keras(module):
            return
        for cls in module.classes:
            bn_attrs = self._bn_attributes(module, cls)
            if not bn_attrs:
                continue
            for fn in cls.body:
                if not (isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)) and fn.name in ("call", "__call__")):
                    continue
                if not kf._param_index(fn, "training")[2]:
                    continue
                for n in astwalk.walk(fn):
                    if not (isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
                            and isinstance(n.func.value, ast.Name) and n.func.value.id == "self"
                            and n.func.attr in bn_attrs):
                        continue
                    expr = kf.kwarg(n, "training")
                    if expr is None and len(n.args) >= 2:
                        expr = n.args[1]
                    if expr is None or not kf.always_false(module, project, expr):
                        continue
                    if _under_training_test(module, n, fn):
                        continue
                    fix = _replace_fix(module, expr, "training", "pass the call's training flag on") \
                        if isinstance(expr, ast.Constant) else None
                    yield self.finding(module, n,
                                       f"`self.{n.func.attr}` (BatchNormalization) is called with training=False in "
                                       f"`{cls.name}.{fn.name}`: it never updates its moving statistics; "
                                       f"pass `training=training`", fix=fix)
        yield from self._freeze_switch_on_from_scratch(module, project)
        yield from self._bn_frozen_from_scratch(module, project)
        yield from self._bn_built_non_trainable_from_scratch(module, project)
        yield from self._mode_parameter_never_filled(module, project)
        yield from self._training_read_from_kwargs(module, project)
        yield from self._bn_subclass_drops_training(module, project)

    def _bn_calls_of_call_without_training(
            self, module: Module, project: Project, cls: ast.ClassDef, with_kwargs: bool = False,
    ) -> Optional[tuple[FuncNode, list[tuple[ast.Call, Optional[ast.expr]]]]]:
        """For a Keras layer / model class whose ``call`` declares no ``training`` parameter: that
        ``call`` and its calls of BatchNormalization sublayers (``self.bn(x, training=...)``) with the
        mode each passes (keyword or second positional argument; None when none), in walk order.
        None for any other class, or one without BN sublayers (or, ``with_kwargs``, whose ``call``
        takes no ``**kwargs``)."""
        call = next((f for f in cls.body if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))
                     and f.name == "call"), None)
        if call is None or with_kwargs and call.args.kwarg is None or kf._param_index(call, "training")[2] \
                or not _keras_layer_class(project, module, cls):
            return None
        bn_attrs = self._bn_attributes(module, cls) | (_bn_sublayer_attributes(module, project, cls)
                                                        - _frozen_self_attributes(cls))
        if not bn_attrs:
            return None
        out = []
        for n in _walk_same_scope(call):
            if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and dotted(n.func.value) == "self" \
                    and n.func.attr in bn_attrs:
                expr = kf.kwarg(n, "training")
                out.append((n, n.args[1] if expr is None and len(n.args) >= 2 else expr))
        return call, out

    def _mode_parameter_never_filled(self, module: Module, project: Project) -> Iterable[Finding]:
        """``call(self, inputs, is_training=False)`` of a Keras layer/model with no ``training``
        parameter, handing ``training=is_training`` to its BatchNormalization sublayers (a TF1 port).
        Keras gives the mode only to a call() parameter named ``training`` (Keras 3 drops it, tf.keras
        keeps it in the call context); ``is_training`` keeps its default False in fit(),
        train_on_batch() and ``model(x, training=True)`` alike, and the explicit False wins over the
        outer mode: the BN never updates its moving statistics. Only when nothing in the program
        passes the parameter (by keyword, or by position to something that may be an instance), the
        class is constructed and the program trains."""
        if is_test_file(module.path):
            return
        program: Optional[list] = None
        for cls in module.classes:
            found = self._bn_calls_of_call_without_training(module, project, cls)
            if found is None:
                continue
            call, bn_calls = found
            for n, expr in bn_calls:
                if not isinstance(expr, ast.Name) or kf._assignments(call, expr.id):
                    continue
                _, default, found = kf._param_index(call, expr.id)
                if not found or default is None or kf._literal(default) not in (False, 0) \
                        or isinstance(kf._literal(default), (str, float)):
                    continue
                if program is None:
                    program = [m for m in project.modules if id(m) in same_program(module, project)]
                if not _trains(program) or not any(kf.resolve_def(project, s.module, s.node.func) is cls
                                                   for s in project.call_sites(cls.name)):
                    break
                if _mode_parameter_may_be_passed(project, program, cls, call, expr.id):
                    break
                yield self.finding(module, n, (
                    f"`self.{n.func.attr}` gets training={expr.id}, a parameter of `{cls.name}.call` that defaults to "
                    f"{ast.unparse(default)}, but Keras passes the mode only to a call() parameter named `training` "
                    f"and nothing in this program passes `{expr.id}`: fit(), train_on_batch() and "
                    f"`model(x, training=True)` all leave it False, so this BatchNormalization never updates its "
                    f"moving statistics (they stay 0/1); name the parameter `training` (`def call(self, inputs, "
                    f"training=None)`) and pass `training=training`"))

    def _training_read_from_kwargs(self, module: Module, project: Project) -> Iterable[Finding]:
        """``def call(self, inputs, **kwargs)`` with no ``training`` parameter, handing its BN sublayers
        ``training = kwargs.get("training", False)`` (the TF2 tutorial style). Keras 3 fills ``training``
        only for a call() that declares it (``"training" in call_signature_parameters``), never into
        ``**kwargs``: fit() leaves the lookup at its default, and the explicit False runs the BN in
        inference mode (measured with Keras 3.15: moving statistics stay 0/1; tf_keras 2.21 does put
        ``training`` into ``**kwargs``, so only Keras 3 code is judged: a base class from ``keras``,
        Keras-3-only API in the file, nothing from ``tf.keras`` / ``tf_keras``). Only a default that
        is always false (a default None is version-dependent), when the class is constructed and the
        program trains. A caller's explicit ``block(x, training=training)`` changes nothing: Keras 3's
        CallSpec strips a ``training`` keyword the call() does not declare (measured with 3.15)."""
        if is_test_file(module.path) or not module.mentions("training") \
                or not _KERAS3_ONLY.search(module.unit.text) or module.imports.imports_any("tf_keras") \
                or "TF_USE_LEGACY_KERAS" in module.unit.text:
            return
        program: Optional[list] = None
        for cls in module.classes:
            found = self._bn_calls_of_call_without_training(module, project, cls, with_kwargs=True)
            if found is None or not _keras3_bases(project, module, cls):
                continue
            call, bn_calls = found
            splat = call.args.kwarg.arg
            for n, expr in sorted(bn_calls, key=lambda pair: (pair[0].lineno, pair[0].col_offset)):
                lookup = _kwargs_training_lookup(call, splat, expr)
                if lookup is None or _under_training_test(module, n, call):
                    continue
                if program is None:
                    program = [m for m in project.modules if id(m) in same_program(module, project)]
                    if any(m.imports.imports_any("tf_keras") or "TF_USE_LEGACY_KERAS" in m.unit.text for m in program):
                        return
                if not _trains(program) or not any(kf.resolve_def(project, s.module, s.node.func) is cls
                                                   for s in project.call_sites(cls.name)):
                    break
                yield self.finding(module, n, (
                    f"`self.{n.func.attr}` gets training=`{ast.unparse(lookup)}`, but `{cls.name}.call` declares no "
                    f"`training` parameter: Keras 3 passes the mode only to a call() that declares it, never into "
                    f"`**{splat}`, so under fit() the lookup keeps its default False and this BatchNormalization "
                    f"runs in inference mode and never updates its moving statistics (they stay 0/1); declare "
                    f"`def call(self, inputs, training=None, **{splat})` and pass `training=training`"))
                break

    def _bn_subclass_drops_training(self, module: Module, project: Project) -> Iterable[Finding]:
        """A BatchNormalization subclass whose ``call`` runs its parent's call (``super().call(x)``,
        ``Base.call(self, x)``) without ``training``, and has no ``training`` parameter or does not
        use it (a float32 / casting wrapper): Keras hands the mode only to a call() parameter named
        ``training``, and the parent's call itself is not a layer call, so it gets training=None —
        inference in TF2 Keras (the unset learning phase is 0) and Keras 3 — inside fit() too: the
        moving statistics stay 0/1. Not in TF1 graph code or with a learning phase in play
        (standalone Keras 2 fed the phase), not under a test of the flag, not a class named frozen /
        fixed, and only in a program that trains."""
        if is_test_file(module.path) or not _eager_keras(module) or not _learning_phase_never_set(project, module) \
                or _LEGACY_KERAS.search(module.unit.text):
            return
        program: Optional[list] = None
        for cls in module.classes:
            if not _bn_subclass(project, module, cls) or set(identifier_words(cls.name)) & _FROZEN_CLASS_WORDS:
                continue
            call = next((f for f in cls.body if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))
                         and f.name == "call"), None)
            if call is None or any(isinstance(n, ast.Name) and n.id == "training" for n in astwalk.walk(call)) \
                    or _frozen_self_attributes(cls) & {"self"}:
                continue
            for n in _walk_same_scope(call):
                if not isinstance(n, ast.Call) or not _is_parent_call(cls, n) \
                        or _parent_call_training(cls, n) is not None or kf.has_kwargs_splat(n) \
                        or any(isinstance(a, ast.Starred) for a in n.args):
                    continue
                if program is None:
                    program = [m for m in project.modules if id(m) in same_program(module, project)]
                if not _trains(program) or any(_LEGACY_KERAS.search(m.unit.text) for m in program):
                    return
                has_param = "takes `training` but does not pass it on" if kf._param_index(call, "training")[2] \
                    else "has no `training` parameter"
                yield self.finding(module, n, (
                    f"`{cls.name}.call` {has_param}, and `{ast.unparse(n.func)}(...)` gets no training: Keras hands "
                    f"the mode only to a call() parameter named `training`, and the parent's call run directly gets "
                    f"training=None, which is inference mode in TF2 Keras and Keras 3 — inside fit() too, so this "
                    f"BatchNormalization never updates its moving statistics (they stay 0/1); declare "
                    f"`def call(self, inputs, training=None)` and pass `training=training`"))

    def _bn_built_non_trainable_from_scratch(self, module: Module, project: Project) -> Iterable[Finding]:
        """``BatchNormalization(..., trainable=affine)`` where ``affine`` is a parameter of the block
        that builds it and some construction of the block passes False (a PyTorch port reading
        ``affine=False`` as "not trainable"), in a program that trains and loads no pretrained
        weights that may run: TF2 Keras and Keras 3 run a non-trainable BN in inference mode, so a
        model trained from scratch keeps these layers at their initial 0/1 moving statistics. A
        parameter that also sets ``trainable`` of other layers freezes a whole block (a stage
        whose weights come from elsewhere), which is not this."""
        found = []
        for c in module.calls:
            if not kf.is_keras_bn_layer(module.imports.resolve(c.node.func)):
                continue
            expr = kf.kwarg(c.node, "trainable")
            fn = module.scope_of(c.node)
            if not (isinstance(expr, ast.Name) and fn is not None and kf._param_index(fn, expr.id)[2]):
                continue
            if any(k.arg == "trainable" and isinstance(k.value, ast.Name) and k.value.id == expr.id
                   for n in astwalk.walk(fn) if isinstance(n, ast.Call) and n is not c.node
                   and not kf.is_keras_bn_layer(module.imports.resolve(n.func)) for k in n.keywords):
                continue  # the switch freezes the whole block, not only its BN
            vals = kf.argument_values(module, project, expr)
            if not vals or not all(isinstance(v, bool) for v in vals) or False not in vals:
                continue
            found.append((c.node, expr, fn))
        if not found:
            return
        program = [m for m in project.modules if id(m) in same_program(module, project)]
        if not _trains(program) or _may_load_pretrained(program, project) \
                or any((c.qualname or "") in _GRAPH_MODE_MARKERS for m in program for c in m.calls):
            return  # TF1 graph mode (v2 behaviour off): a non-trainable BN still follows the phase
        for node, expr, fn in found:
            owner = module.parent(fn)
            built = "construction of" if isinstance(owner, ast.ClassDef) else "call of"
            builder = owner.name if isinstance(owner, ast.ClassDef) else fn.name
            yield self.finding(module, node, (
                f"BatchNormalization is built with `trainable={expr.id}`, and a {built} `{builder}` passes "
                f"{expr.id}=False: TF2 Keras and Keras 3 run a non-trainable BN in inference mode even inside "
                "fit(), and nothing in this program loads pretrained weights, so the model trains from scratch "
                "while this BN keeps its initial 0/1 moving statistics (a PyTorch `affine=False` is "
                "`center=False, scale=False` in Keras); keep the layer trainable"))

    def _bn_frozen_from_scratch(self, module: Module, project: Project) -> Iterable[Finding]:
        """``layer.trainable = False`` for every BatchNormalization layer (``for layer in
        model.layers: if isinstance(layer, BatchNormalization)``) that always runs — unconditionally
        or under a setting that is always true, in a function some call of which always runs — in
        a program that trains and whose pretrained-weight loads are all switched off: BN frozen for
        fine-tuning, on a model trained from scratch."""
        freezes = [st for st in module.nodes_of_kind.get(ast.Assign, ()) if kf._literal(st.value) is False
                   and any(isinstance(t, ast.Attribute) and t.attr == "trainable" and _bn_filtered(module, t.value, st)
                           for t in st.targets)]
        if not freezes:
            return
        program = [m for m in project.modules if id(m) in same_program(module, project)]
        skipped = _pretrained_loads_all_skipped(program, project)
        if skipped is None or not _trains(program):
            return
        load, lm = skipped
        for st in freezes:
            if not _always_runs(project, module, st):
                continue
            fn = module.scope_of(st)
            where = f" in `{fn.name}`" if fn is not None else ""
            yield self.finding(module, st, (
                f"`{ast.unparse(st.targets[0])} = False`{where} freezes every BatchNormalization layer, a "
                f"fine-tuning setting meant for pretrained statistics, but the only weight load "
                f"(`{ast.unparse(load.func)}` at {lm.where(load.lineno)}) is switched off: the model trains from "
                "scratch and a non-trainable BN runs in inference mode, so these layers keep their initial 0/1 "
                "moving statistics; freeze BN only when pretrained weights are loaded"))

    def _freeze_switch_on_from_scratch(self, module: Module, project: Project) -> Iterable[Finding]:
        """Constructions of a BatchNormalization subclass with a freeze switch (``call`` forces
        ``training=False`` under ``if self.freeze``) that pass a value which is always true, in a
        project that trains and whose only pretrained-weight loads are switched off."""
        for c in module.calls:
            cls = kf.resolve_def(project, module, c.node.func)
            if not isinstance(cls, ast.ClassDef):
                continue
            switch = _freeze_switch(project, cls)
            if switch is None:
                continue
            attr, init, param = switch
            expr, explicit = kf.argument_for(c.node, init, param, is_method_call=True)
            if expr is None or not kf.always_true(module, project, expr):
                continue
            program = [m for m in project.modules if id(m) in same_program(module, project)]
            skipped = _pretrained_loads_all_skipped(program, project)
            if skipped is None or not _trains(program):
                continue
            load, lm = skipped
            passed = f"{param}={ast.unparse(expr)}" if explicit else f"the default {param}={ast.unparse(expr)}"
            yield self.finding(module, c.node, (
                f"`{cls.name}` is built with {passed}, which is always true, so its `call` forces "
                f"training=False (`if self.{attr}`) and it never updates its moving statistics; the freeze is "
                f"meant for pretrained weights, but the only weight load (`{ast.unparse(load.func)}` at "
                f"{lm.where(load.lineno)}) is switched off, so the model trains from scratch and this BN keeps its "
                f"initial 0/1 statistics; pass {param}=False when training from scratch"))

    @staticmethod
    def _bn_attributes(module: Module, cls: ast.ClassDef) -> set[str]:
        attrs: set[str] = set()
        frozen: set[str] = set()
        for n in astwalk.walk(cls):
            if not isinstance(n, ast.Assign):
                continue
            for t in n.targets:
                if not (isinstance(t, ast.Attribute) and isinstance(t.value, ast.Name) and t.value.id == "self"):
                    if isinstance(t, ast.Attribute) and t.attr == "trainable" and isinstance(t.value, ast.Attribute):
                        frozen.add(t.value.attr)
                    continue
                v = n.value
                if isinstance(v, ast.Call) and kf.is_keras_bn_layer(module.imports.resolve(v.func)):
                    tr = kf.kwarg(v, "trainable")
                    if isinstance(tr, ast.Constant) and tr.value is False:
                        frozen.add(t.attr)
                    attrs.add(t.attr)
        return attrs - frozen


def _exclusive_branches(module: Module, a: ast.AST, b: ast.AST) -> bool:
    """Are ``a`` and ``b`` in different branches of one ``if`` (never both run in one pass)?"""
    def branch_path(n: ast.AST) -> dict:
        path, child = {}, n
        for anc in module.ancestors(n):
            if isinstance(anc, ast.If):
                path[id(anc)] = "body" if any(child is st for st in anc.body) else (
                    "orelse" if any(child is st for st in anc.orelse) else "test")
            child = anc
        return path
    pa, pb = branch_path(a), branch_path(b)
    return any(k in pb and pb[k] != v for k, v in pa.items())


def _visibly_bn(module: Module, project: Project, call: ast.Call) -> bool:
    """Is the called model known to contain BN (``self`` in a model class that builds BN, too)?"""
    target = kf.model_expr(call)
    if isinstance(target, ast.Name) and target.id == "self":
        cls = module.enclosing_class(call)
        return cls is not None and kf.class_is_bn_model(project, module, cls)
    return kf.is_bn_model(module, project, target)


def _program_mentions_bn(module: Module, project: Project) -> bool:
    """Does any code (not a comment) of the program of ``module`` (``same_program``: what it imports
    and what imports it) name batch norm (``BatchNormalization``, ``batch_norm``, a
    ``FrozenBatchNorm`` class) or build a Keras application that has it? Without either, a model of
    unknown origin has no BN to freeze (a large repository's BN lives in other sub-projects)."""
    def bn_name(name: Optional[str]) -> bool:
        low = (name or "").lower()
        return "batchnorm" in low or "batch_norm" in low or "batchnormalization" in low

    def mentions(m: Module) -> bool:
        return any(bn_name(c.name) or kf.is_bn_application(c.qualname) for c in m.calls) \
            or any(bn_name(n) for n in m.references) or any(bn_name(c.name) for c in m.classes) \
            or any(bn_name(f.name) for f in m.functions) or any(bn_name(a) for a in m.imports.aliases)

    memo: dict = project.fact("keras.mentions_bn", lambda p: {})
    program = same_program(module, project)
    for m in project.modules:
        if id(m) in program:
            if id(m) not in memo:
                memo[id(m)] = mentions(m)
            if memo[id(m)]:
                return True
    return False


def _freeze_switch(project: Project, cls: ast.ClassDef) -> Optional[tuple[str, FuncNode, str]]:
    """(attribute, ``__init__``, parameter) of a BatchNormalization subclass whose ``call`` sets
    ``training = False`` (or calls with ``training=False``) under ``if self.<attribute>:`` and whose
    ``__init__`` stores a parameter in that attribute (keras-resnet's ``freeze``)."""
    if not any(kf.is_keras_bn_layer(q) for q in _base_qualnames(project, cls)):
        return None
    methods = {f.name: f for f in cls.body if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))}
    call, init = methods.get("call"), methods.get("__init__")
    if call is None or init is None:
        return None
    for node in astwalk.walk(call):
        test = node.test if isinstance(node, ast.If) else None
        if not (isinstance(test, ast.Attribute) and isinstance(test.value, ast.Name) and test.value.id == "self"):
            continue
        forces = any((isinstance(n, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "training" for t in n.targets)
                      and kf._literal(n.value) is False)
                     or (isinstance(n, ast.keyword) and n.arg == "training" and kf._literal(n.value) is False)
                     for st in node.body for n in astwalk.walk(st))
        if not forces:
            continue
        for st in astwalk.walk(init):
            if isinstance(st, ast.Assign) and isinstance(st.value, ast.Name) and kf._param_index(init, st.value.id)[2] \
                    and any(isinstance(t, ast.Attribute) and isinstance(t.value, ast.Name) and t.value.id == "self"
                            and t.attr == test.attr for t in st.targets):
                return test.attr, init, st.value.id
    return None


def _bn_filtered(module: Module, obj: ast.expr, stmt: ast.AST) -> bool:
    """Is ``obj`` (a plain name) known to be a BatchNormalization layer at ``stmt``: the statement sits
    in the body of ``if isinstance(obj, <Keras BN class>)`` (a tuple of BN classes too)?"""
    if not isinstance(obj, ast.Name):
        return False
    child: ast.AST = stmt
    for a in module.ancestors(stmt):
        if isinstance(a, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            return False
        if isinstance(a, ast.If) and any(st is child for st in a.body):
            for test in (a.test.values if isinstance(a.test, ast.BoolOp) and isinstance(a.test.op, ast.And) else [a.test]):
                if isinstance(test, ast.Call) and isinstance(test.func, ast.Name) and test.func.id == "isinstance" \
                        and len(test.args) == 2 and isinstance(test.args[0], ast.Name) and test.args[0].id == obj.id:
                    classes = test.args[1].elts if isinstance(test.args[1], ast.Tuple) else [test.args[1]]
                    if classes and all(kf.is_keras_bn_layer(module.imports.resolve(c)) for c in classes):
                        return True
        child = a
    return False


def _always_runs(project: Project, module: Module, node: ast.AST, depth: int = 0) -> bool:
    """Does ``node`` run whenever the program does, as far as the code shows: every ``if`` around it
    (up to its function) either filters BN layers (``isinstance``) or tests a setting that is always
    true (false for the ``else`` branch); inside a function, some call of it in the same module that
    always runs (up to four levels), or none at all (an entry point: ``main``). Unknown conditions
    (a command-line flag) count as "may not run"."""
    child: ast.AST = node
    for a in module.ancestors(node):
        if isinstance(a, (ast.FunctionDef, ast.AsyncFunctionDef)):
            sites = [site for site in module.calls if site.name == a.name and site.scope is not a
                     and _resolves_to(module, site.node, a)]
            if not sites:
                return module.parent(a) is module.tree and depth > 0  # an entry point the freeze is reached from
            return depth < 4 and any(_always_runs(project, module, site.node, depth + 1) for site in sites)
        if isinstance(a, ast.ClassDef):
            return False
        if isinstance(a, ast.If):
            test = a.test
            if (isinstance(test, ast.Call) and isinstance(test.func, ast.Name) and test.func.id == "isinstance") \
                    or _is_main_guard(test):
                child = a
                continue
            vals = kf.constant_values(module, project, test)
            in_body = any(st is child for st in a.body)
            if not vals or (all(vals) if in_body else not any(vals)) is False:
                return False
        elif isinstance(a, (ast.While, ast.Try)) and not any(st is child for st in a.body):
            return False  # an else / handler branch
        child = a
    return True


def _is_main_guard(test: ast.expr) -> bool:
    """``__name__ == "__main__"``: the script is being run."""
    return isinstance(test, ast.Compare) and isinstance(test.left, ast.Name) and test.left.id == "__name__" \
        and len(test.comparators) == 1 and kf._literal(test.comparators[0]) == "__main__"


def _resolves_to(module: Module, call: ast.Call, fn: FuncNode) -> bool:
    """Is ``call`` a call of the module-level function ``fn`` by its name (or of ``fn`` as a method
    of the caller's own class, ``self.fn(...)``)?"""
    f = call.func
    owner = module.parent(fn)
    if isinstance(f, ast.Name):
        return owner is module.tree and f.id == fn.name
    return isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) and f.value.id == "self" \
        and isinstance(owner, ast.ClassDef) and module.enclosing_class(call) is owner


def _base_qualnames(project: Project, cls: ast.ClassDef) -> list[str]:
    for m in project.modules:
        if cls in m.classes:
            return [m.imports.resolve(b) or "" for b in cls.bases]
    return []


# Calls that load pretrained weights into a model.
_WEIGHT_LOADS = frozenset({"load_weights", "load_model", "restore", "set_weights", "init_from_checkpoint",
                           "load_checkpoint", "from_pretrained", "load_state_dict"})


def _pretrained_loads_all_skipped(program: list[Module], project: Project) -> Optional[tuple[ast.Call, Module]]:
    """The first weight load of a program (``same_program``) in which every one is switched off (``if
    config["weights"]: model.load_weights(...)`` with a weights setting that is always None/empty),
    or None: no load at all (nothing says the model was meant to start from pretrained weights),
    one that may run, or a Keras application built with pretrained weights."""
    def compute(p: Project):
        skipped = None
        for m in program:
            for c in m.calls:
                weights = kf.kwarg(c.node, "weights")
                if kf.is_bn_application(c.qualname) or (".applications." in (c.qualname or "") and weights is not None):
                    if weights is None or not _always_empty(m, p, weights):
                        return None  # ImageNet weights by default
                    continue
                if c.name not in _WEIGHT_LOADS:
                    continue
                if not _in_switched_off_branch(m, p, c.node):
                    return None
                skipped = skipped or (c.node, m)
        return skipped
    return project.fact("keras.pretrained_loads_all_skipped:" + ",".join(sorted(str(id(m)) for m in program)), compute)


# Other calls that bring weights from elsewhere: a TF-Hub layer, a checkpoint manager, a loader.
_OTHER_WEIGHT_SOURCES = frozenset({"KerasLayer", "restore_or_initialize", "load_from_checkpoint"})


def _may_load_pretrained(program: list[Module], project: Project) -> bool:
    """May some code of the program (``same_program``) load pretrained weights: a weight load that
    is not switched off, a Keras application built with weights, a TF-Hub layer or saved model?"""
    def compute(p: Project):
        for m in program:
            for c in m.calls:
                q = c.qualname or ""
                weights = kf.kwarg(c.node, "weights")
                if kf.is_bn_application(q) or (".applications." in q and weights is not None):
                    if weights is None or not _always_empty(m, p, weights):
                        return True
                    continue
                if c.name in _WEIGHT_LOADS or c.name in _OTHER_WEIGHT_SOURCES or q.endswith("saved_model.load"):
                    if not _in_switched_off_branch(m, p, c.node):
                        return True
        return False
    return project.fact("keras.may_load_pretrained:" + ",".join(sorted(str(id(m)) for m in program)), compute)


def _always_empty(module: Module, project: Project, expr: ast.AST) -> bool:
    vals = kf.constant_values(module, project, expr)
    return bool(vals) and not any(vals)


def _in_switched_off_branch(module: Module, project: Project, node: ast.AST) -> bool:
    child = node
    for anc in module.ancestors(node):
        if isinstance(anc, ast.If):
            vals = kf.constant_values(module, project, anc.test)
            if vals and any(st is child for st in anc.body) and not any(vals):
                return True
            if vals and any(st is child for st in anc.orelse) and all(vals):
                return True
        child = anc
    return False


def _trains(program: list[Module]) -> bool:
    return any(c.name in TRAIN_METHODS or c.name in ("GradientTape", "apply_gradients") for m in program for c in m.calls)


def _learning_phase_value(module: Module, project: Project, call: ast.Call) -> Optional[int]:
    if not call.args:
        return None
    vals = kf.constant_values(module, project, call.args[0])
    if not vals or len(vals) != 1:
        return None
    v = next(iter(vals))
    if v in (0, 1) and not isinstance(v, str):
        return int(v)
    return None


# Keras model methods whose receiver we can check for BN (optimizer.minimize/apply_gradients cannot
# tell which model they train: a frozen BN encoder next to a trained BN-free decoder is common).
TRAIN_METHODS = {"fit", "fit_generator", "train_on_batch"}
EVAL_METHODS = {"predict", "predict_on_batch", "evaluate", "evaluate_generator", "predict_generator", "test_on_batch"}
TF1_MARKERS = ("tensorflow.Session", "tensorflow.InteractiveSession", "tensorflow.disable_eager_execution",
               "tensorflow.disable_v2_behavior", "tensorflow.placeholder")


@register
class SetLearningPhase(Rule):
    code = "BN204"
    name = "set-learning-phase-mismatch"
    framework = "keras"
    summary = "set_learning_phase(0) before training (BN frozen), or set_learning_phase(1) before evaluating."
    triggers = ("set_learning_phase",)
    doc = RuleDoc(
        what="""
Finds `set_learning_phase(0)` (any spelling: `K.set_learning_phase`, `keras.backend`,
`tf.keras.backend`, `tf.compat.v1.keras.backend`) followed in the same file by training of a model
that contains BatchNormalization (`fit`, `fit_generator`, `train_on_batch`) with no
`set_learning_phase(1)` in between; and its mirror, `set_learning_phase(1)` followed by evaluation
or prediction (`predict`, `evaluate`, `test_on_batch`...) of such a model in a file that never sets
phase 0.
Only where the global learning phase matters: standalone Keras 2 (the function does not exist in
Keras 3) or tf.keras in TF1 graph code (`Session`, `disable_eager_execution`, `placeholder`).
""",
        why="""
The learning phase is a global constant that overrides Keras' own choice in graph mode: with phase
0, `fit` runs every BatchNormalization in inference mode and never updates its moving statistics
(measured with tf_keras 2.21 in graph mode: moving mean stays 0 after `fit`); with phase 1,
`predict`/`evaluate` normalise with the statistics of the batch being predicted, so a prediction
depends on the other samples in its batch.
""",
        example="""
from keras import backend as K
K.set_learning_phase(0)
model = build_model()
model.fit(x_train, y_train, epochs=10)
""",
        use_instead="""
model = build_model()
model.fit(x_train, y_train, epochs=10)   # fit/predict choose the phase themselves
""",
        not_flagged="""
- `set_learning_phase(0)` in export/inference scripts (nothing trains after it);
- models whose BN content is unknown (`load_model(...)`) and training through an optimizer
  (`minimize`), where the trained model may be a BN-free head next to a frozen BN encoder;
- the old fine-tuning trick `set_learning_phase(0)`; build the frozen base; `set_learning_phase(1)`;
  build the head; `fit` (phase 1 is restored before training);
- tf.keras in eager TF2 code, where `fit`/`predict` pass `training` explicitly and ignore the phase.
""",
        versions="standalone Keras 2.x on TF1/Theano/CNTK; tf.keras / tf_keras in graph mode (TF 1.x, TF 2 with "
                 "disable_eager_execution). Keras 3 has no set_learning_phase.",
    )

    def check(self, module: Module, project: Project) -> Iterable[Finding]:
        sites = [c for c in module.calls if (c.qualname or "").endswith("backend.set_learning_phase")
                 or (c.name == "set_learning_phase" and c.qualname is None)]
        if not sites or not self._phase_matters(module):
            return
        phases = [(c, _learning_phase_value(module, project, c.node)) for c in sites]
        method_calls = [c for c in module.calls if isinstance(c.node.func, ast.Attribute)]
        has_phase0 = any(p == 0 for _, p in phases)
        for c, phase in phases:
            pos = (c.node.lineno, c.node.col_offset)
            later_phase = [(x.node.lineno, x.node.col_offset) for x, p in phases if p is not None and (x.node.lineno, x.node.col_offset) > pos]
            horizon = min(later_phase) if later_phase else (10 ** 9, 0)
            after = [m for m in method_calls if pos < (m.node.lineno, m.node.col_offset) < horizon
                     and kf.is_bn_model(module, project, m.node.func.value)]
            if phase == 0:
                trains = [m for m in after if m.name in TRAIN_METHODS]
                if trains:
                    yield self.finding(module, c.node,
                                       f"set_learning_phase(0) makes `{trains[0].name}` (line "
                                       f"{module.unit.locate(trains[0].node.lineno)[1]}) run BatchNormalization in "
                                       f"inference mode: moving statistics never update; remove it")
            elif phase == 1 and not has_phase0:
                evals = [m for m in after if m.name in EVAL_METHODS]
                if evals:
                    yield self.finding(module, c.node,
                                       f"set_learning_phase(1) makes `{evals[0].name}` (line "
                                       f"{module.unit.locate(evals[0].node.lineno)[1]}) normalise with the statistics "
                                       f"of each predicted batch; remove it or set phase 0 before evaluating")

    @staticmethod
    def _phase_matters(module: Module) -> bool:
        for c in module.calls:
            q = c.qualname or ""
            if q.endswith("backend.set_learning_phase"):
                if q.startswith("keras.") and not module.imports.imports_any("tensorflow.keras", "tf_keras"):
                    return True  # standalone Keras 2
        return any(c.qualname in TF1_MARKERS for c in module.calls) or module.imports.imports_any(
            "tensorflow.compat.v1") or any(c.name in ("get_session",) for c in module.calls)


@register
class StatelessCallInTrainStep(Rule):
    code = "BN205"
    name = "stateless-call-bn-state-dropped"
    framework = "keras"
    summary = "Keras 3 stateless_call in a JAX training step without training=True, or its new BN state dropped."
    triggers = ("stateless_call",)
    doc = RuleDoc(
        what="""
Finds `model.stateless_call(trainable_vars, non_trainable_vars, x, ...)` in a function that is
differentiated (`jax.grad`/`jax.value_and_grad` of it) or in a `train_step` override, when it
(a) does not pass `training=True`, or (b) throws away the second result, the updated
non-trainable variables (`y, _ = ...`, `...[0]`, or a name never used afterwards). On the
TensorFlow backend the same for a `stateless_call` in a `tf.GradientTape` block whose
`tape.gradient(loss, values)` is taken with respect to the trainable values it is given (directly or
through a module helper they are passed to), the new state returned by that helper being dropped by
every caller (`loss, _ = self.loss_and_state(...)`). Also
`stateless_call(..., training=training)` where `training` is a parameter of the differentiated
function defaulting to False (the JAX guide's `compute_loss_and_updates(..., training=False)`) and
every call of its gradient function (`grad_fn = jax.value_and_grad(self.compute_loss_and_updates,
has_aux=True)`, stored in a name or `self.` attribute, also behind `jax.jit`) leaves it out or passes
False: reported at those calls (not when `argnums` takes the gradient with respect to the input).
Also a stateless loop (a `stateless_call(..., training=True)` in the program) that writes its values
back into the Keras model with `for v, val in zip(model.trainable_variables, ...): v.assign(val)`
while nothing in the program writes `model.non_trainable_variables` (nor `model.variables`,
`set_weights`, `load_weights`, `set_state_tree`): the model that is evaluated or saved keeps its
initial BN statistics. Reported at the trainable write-back loop.
""",
        why="""
`stateless_call` is pure: BatchNormalization's new moving mean/variance come back in the returned
non-trainable variables and exist nowhere else. Without `training=True` BN runs in inference mode;
if the returned variables are dropped, the next step starts from the old ones. Either way the
moving statistics never change (verified with Keras 3.15 on the JAX backend), and the model
evaluates with its initial 0/1 statistics.
""",
        example="""
def compute_loss(trainable_vars, non_trainable_vars, x, y):
    y_pred, _ = model.stateless_call(trainable_vars, non_trainable_vars, x, training=True)
    return loss_fn(y, y_pred)

grad_fn = jax.value_and_grad(compute_loss)
""",
        use_instead="""
def compute_loss(trainable_vars, non_trainable_vars, x, y):
    y_pred, non_trainable_vars = model.stateless_call(trainable_vars, non_trainable_vars, x, training=True)
    return loss_fn(y, y_pred), non_trainable_vars

grad_fn = jax.value_and_grad(compute_loss, has_aux=True)
# ... and carry the returned non_trainable_vars into the next step
""",
        not_flagged="""
- evaluation functions (not differentiated, not `train_step`), which may pass `training=False` and
  ignore the returned state;
- models visibly built without BatchNormalization (the first example of the Keras JAX guide, a
  plain critic next to a BN generator), and models with no visible BatchNormalization at all, such
  as the ones a GAN library's constructor receives (a custom `Model` calling its own
  `self.stateless_call` is still checked);
- calls whose `training` value is unknown.
""",
        versions="Keras 3.0-3.15 (stateless_call exists only in Keras 3), any backend.",
    )

    @staticmethod
    def _assigning_zip_loops(m: Module) -> Iterator[tuple[ast.For, ast.expr]]:
        """``for variable, value in zip(<src>, values): variable.assign(...)``: (loop, src)."""
        for n in astwalk.walk(m.tree):
            if not (isinstance(n, ast.For) and isinstance(n.iter, ast.Call) and isinstance(n.iter.func, ast.Name)
                    and n.iter.func.id == "zip" and n.iter.args and isinstance(n.target, ast.Tuple)
                    and n.target.elts and isinstance(n.target.elts[0], ast.Name)):
                continue
            var = n.target.elts[0].id
            if any(isinstance(c, ast.Call) and isinstance(c.func, ast.Attribute) and c.func.attr == "assign"
                   and isinstance(c.func.value, ast.Name) and c.func.value.id == var for b in n.body for c in astwalk.walk(b)):
                yield n, n.iter.args[0]

    def _write_back_skips_non_trainable(self, module: Module, project: Project) -> Iterable[Finding]:
        """A stateless JAX loop (Keras 3 ``stateless_call(..., training=True)``) keeps the model's
        values as its own state and writes them back into the Keras variables with ``for v, val in
        zip(model.trainable_variables, trainable): v.assign(val)``, but nothing in the program ever
        writes ``model.non_trainable_variables`` (nor ``model.variables``, ``set_weights``,
        ``load_weights``): the BN moving statistics the loop computed never reach the model that is
        evaluated or saved."""
        loops = [(n, src) for n, src in self._assigning_zip_loops(module)
                 if isinstance(src, ast.Attribute) and src.attr == "trainable_variables"]
        if not loops:
            return
        program = [m for m in project.modules if id(m) in project.import_component(module)]
        if not any(c.name == "stateless_call" and kf.kwarg(c.node, "training") is not None
                   and not kf.always_false(m, project, kf.kwarg(c.node, "training"))
                   for m in program if m.mentions("stateless_call") for c in m.calls):
            return
        for m in program:
            if any(m.mentions(w) for w in ("set_weights", "load_weights", "set_state_tree", "assign_variables")):
                return
            if m.mentions("non_trainable_variables") or m.mentions(".variables"):
                owners = {ast.unparse(src.value) for _, src in loops}
                for _, src in self._assigning_zip_loops(m):
                    if not isinstance(src, ast.Attribute):
                        return  # a list built elsewhere: it may hold them
                    if src.attr == "non_trainable_variables" or (src.attr == "variables" and ast.unparse(src.value) in owners):
                        return
        for loop, src in loops:
            if not kf.is_bn_model(module, project, src.value):
                continue
            owner = ast.unparse(src.value)
            yield self.finding(module, loop, (
                f"this loop writes the values trained with stateless_call back into `{owner}.trainable_variables`, "
                f"but nothing in the program writes `{owner}.non_trainable_variables`: the BatchNormalization "
                "moving statistics the stateless steps computed never reach the Keras model, which evaluates and "
                f"saves with its initial 0/1 statistics; also assign `{owner}.non_trainable_variables`"))

    def check(self, module: Module, project: Project) -> Iterable[Finding]:
        if module.mentions("trainable_variables") and module.mentions(".assign("):
            yield from self._write_back_skips_non_trainable(module, project)
        diffed = self._differentiated_functions(module)
        taped: Optional[set[int]] = None
        for c in module.calls:
            if c.name != "stateless_call" or not isinstance(c.node.func, ast.Attribute):
                continue
            fn = c.scope
            if fn is None:
                continue
            in_train_step = fn.name == "train_step" or fn.name in diffed
            if not in_train_step:
                if taped is None:
                    taped = _run_under_gradient_tape(module, project)
                in_train_step = id(c.node) in taped
            receiver = c.node.func.value
            own_model = isinstance(receiver, ast.Name) and receiver.id == "self"  # the Keras guide's custom Model
            if not in_train_step or kf.known_bn_free(module, project, receiver) \
                    or not own_model and not kf.is_bn_model(module, project, receiver):
                # no BN statistics to lose (a BN-free model only loses its dropout seeds), or no
                # evidence of any: a model handed in by the caller (a GAN library's discriminator)
                continue
            tr = kf.kwarg(c.node, "training")
            if tr is None and not kf.has_kwargs_splat(c.node):
                yield self.finding(module, c.node, "stateless_call in a training step without training=True: "
                                   "BatchNormalization runs in inference mode and its moving statistics never "
                                   "update; pass training=True", fix=NoTrainingFlagInTrainStep._fix(module, c.node))
                continue
            if tr is not None and kf.always_false(module, project, tr):
                yield self.finding(module, c.node, "stateless_call with training=False in a training step: "
                                   "BatchNormalization runs in inference mode; pass training=True",
                                   fix=_replace_fix(module, tr, "True", "pass training=True") if isinstance(tr, ast.Constant) else None)
                continue
            if fn.name in diffed and isinstance(tr, ast.Name) and kf._param_index(fn, tr.id)[2] \
                    and not kf._assignments(fn, tr.id):
                found = list(self._false_through_gradient_calls(module, project, c.node, fn, tr.id))
                yield from found
                if found:
                    continue
            if self._state_dropped(module, c.node, fn):
                yield self.finding(module, c.node, "the non-trainable variables returned by stateless_call (the "
                                   "updated BatchNormalization statistics) are dropped: the moving statistics never "
                                   "change; return them and carry them into the next step")

    def _false_through_gradient_calls(self, module: Module, project: Project, call: ast.Call, fn: FuncNode,
                                      param: str) -> Iterable[Finding]:
        """``stateless_call(..., training=training)`` in ``fn``, whose ``training`` parameter defaults to
        False, and ``fn`` differentiated (``grad_fn = jax.value_and_grad(self.compute_loss_and_updates)``):
        the gradient function binds its arguments as ``fn`` does, so every call of it that leaves the
        parameter out (or passes a false value) runs BN in inference mode. Reported at those calls
        when every visible call of the gradient function does so."""
        sites = _gradient_function_calls(module, fn)
        if not sites:
            return
        bad: list[tuple[ast.Call, Optional[ast.expr], bool, bool]] = []
        for site, is_method, jitted in sites:
            arg, explicit = kf.argument_for(site, fn, param, is_method_call=is_method)
            if arg is None or not kf.always_false(module, project, arg):
                return  # unknown, or some gradient call trains BN
            bad.append((site, arg, explicit, jitted))
        for site, arg, explicit, jitted in bad:
            # behind jax.jit a Python bool argument is traced unless declared static: no one-word fix
            if explicit:
                how = f"passes {param}={ast.unparse(arg)}"
                fix = _replace_fix(module, arg, "True", f"pass {param}=True") \
                    if isinstance(arg, ast.Constant) and not jitted else None
            else:
                how = f"leaves `{param}` at its default {ast.unparse(arg)}"
                fix = None if jitted else _append_keyword_fix(module, site, f"{param}=True")
            yield self.finding(module, site, (
                f"this call of the gradient of `{fn.name}` {how}, which `{fn.name}` passes to stateless_call as "
                f"training ({module.line_ref(call.lineno)}): BatchNormalization runs in inference mode in the "
                f"training step and the non-trainable variables it returns are the old ones, so the moving "
                f"statistics never update; pass {param}=True"), fix=fix)

    @staticmethod
    def _differentiated_functions(module: Module) -> set[str]:
        out: set[str] = set()
        for c in module.calls:
            q = c.qualname or ""
            if q in ("jax.grad", "jax.value_and_grad") or c.name in ("value_and_grad", "grad"):
                if c.node.args and isinstance(c.node.args[0], ast.Name):
                    out.add(c.node.args[0].id)
                elif c.node.args and isinstance(c.node.args[0], ast.Attribute):
                    out.add(c.node.args[0].attr)
        return out

    @staticmethod
    def _state_dropped(module: Module, call: ast.Call, fn: FuncNode) -> bool:
        parent = module.parent(call)
        if isinstance(parent, ast.Subscript) and isinstance(parent.slice, ast.Constant) and parent.slice.value == 0:
            return True
        if isinstance(parent, ast.Expr):
            return True
        if isinstance(parent, ast.Assign) and len(parent.targets) == 1:
            t = parent.targets[0]
            if isinstance(t, (ast.Tuple, ast.List)) and len(t.elts) == 2:
                second = t.elts[1]
                if isinstance(second, ast.Name):
                    if second.id == "_":
                        return True
                    loads = [n for n in astwalk.walk(fn) if isinstance(n, ast.Name) and n.id == second.id
                             and isinstance(n.ctx, ast.Load)]
                    if not loads:
                        return True
                    # returned as the auxiliary output of a differentiated loss: dropped when every
                    # caller of the gradient function throws the auxiliary away (`(loss, _), grads = ...`)
                    if all(_returned_as_aux(module, fn, n) for n in loads):
                        return _aux_dropped_by_every_caller(module, fn) or _aux_dropped_by_direct_callers(module, fn)
                    return False
        return False


def _append_keyword_fix(module: Module, call: ast.Call, text: str) -> Optional[Fix]:
    """Insert ``, <text>`` after the last argument of ``call``."""
    if not call.args and not call.keywords:
        return None
    last = max([*call.args, *call.keywords], key=lambda n: (n.end_lineno, n.end_col_offset))
    cell, line = module.unit.locate(last.end_lineno)
    return Fix(f"pass {text}", (Edit(line, last.end_col_offset, line, last.end_col_offset, ", " + text, cell),))


_JIT_WRAPPERS = frozenset({"jax.jit", "jax.pmap", "jax.checkpoint", "jax.remat"})


def _gradient_function_calls(module: Module, fn: FuncNode) -> Optional[list[tuple[ast.Call, bool, bool]]]:
    """The calls of the gradient functions made from ``fn`` in ``module`` (``jax.grad(fn)`` /
    ``jax.value_and_grad(self.fn, has_aux=True)``, called at once or through the name or ``self.``
    attribute it is stored in, also behind ``jax.jit``), each with whether ``fn`` is reached as a
    bound method (its ``self`` not among the arguments) and whether it runs behind ``jax.jit``.
    None when a gradient function is handed on
    (its calls are not visible), is taken with respect to other arguments (``argnums``: an
    adversarial input gradient), or none is called."""
    cls = module.enclosing_class(fn)
    method = cls is not None and module.parent(fn) is cls
    out: list[tuple[ast.Call, bool, bool]] = []
    for c in module.calls:
        if c.name not in ("value_and_grad", "grad") or not c.node.args:
            continue
        ref = c.node.args[0]
        if method:
            if not (isinstance(ref, ast.Attribute) and ref.attr == fn.name and isinstance(ref.value, ast.Name)
                    and ref.value.id == "self" and module.enclosing_class(c.node) is cls):
                continue
        elif not (isinstance(ref, ast.Name) and ref.id == fn.name):
            continue
        argnums = kf.kwarg(c.node, "argnums")
        if argnums is not None and not (isinstance(argnums, ast.Constant) and argnums.value == 0):
            return None
        node: ast.AST = c.node
        parent = module.parent(node)
        jitted = False
        while isinstance(parent, ast.Call) and parent.args and parent.args[0] is node \
                and (module.imports.resolve(parent.func) or "") in _JIT_WRAPPERS:
            node, parent, jitted = parent, module.parent(parent), True
        if isinstance(parent, ast.Call) and parent.func is node:
            out.append((parent, method, jitted))
            continue
        if not (isinstance(parent, ast.Assign) and len(parent.targets) == 1):
            return None
        target = parent.targets[0]
        scope = module.scope_of(parent)
        if isinstance(target, ast.Name):
            uses = [o.node for o in module.calls if isinstance(o.node.func, ast.Name) and o.node.func.id == target.id
                    and (scope is None or o.scope is scope or scope in module.ancestors(o.node))]
        elif isinstance(target, ast.Attribute) and dotted(target.value) == "self" and cls is not None:
            uses = [o.node for o in module.calls if isinstance(o.node.func, ast.Attribute)
                    and o.node.func.attr == target.attr and dotted(o.node.func.value) == "self"
                    and module.enclosing_class(o.node) is module.enclosing_class(parent)]
        else:
            return None
        if not uses:
            return None
        out.extend((u, method, jitted) for u in uses)
    return out or None


def _run_under_gradient_tape(module: Module, project: Project) -> set[int]:
    """ids of the ``stateless_call`` calls that a ``tf.GradientTape`` differentiates with respect to
    the trainable values they are given: ``tape.gradient(loss, trainable_values)`` where the block
    runs ``model.stateless_call(trainable_values, ...)``, directly or in a module function it calls
    with them (``loss, _ = self.loss_and_state(trainable_values, ...)``): Keras 3's stateless API
    kept on the TensorFlow backend, where the tape — not ``jax.grad`` — trains. A tape taking the
    gradient with respect to the input (an attack) is not one."""
    out: set[int] = set()
    for region in kf.training_regions(module, project):
        if region.kind != "tape":
            continue
        tapes = {i.optional_vars.id for i in region.anchor.items if isinstance(i.optional_vars, ast.Name)}
        sources: set[str] = set()
        for g in kf._gradient_calls(region.scope if region.scope is not None else module.tree):
            if isinstance(g.func.value, ast.Name) and g.func.value.id in tapes:  # type: ignore[attr-defined]
                src = kf.kwarg(g, "sources") or (g.args[1] if len(g.args) > 1 else None)
                if isinstance(src, ast.Name):
                    sources.add(src.id)
        if not sources:
            continue
        for n in region.nodes():
            if not isinstance(n, ast.Call):
                continue
            if isinstance(n.func, ast.Attribute) and n.func.attr == "stateless_call":
                if n.args and isinstance(n.args[0], ast.Name) and n.args[0].id in sources:
                    out.add(id(n))
                continue
            helper = kf._helper_function(module, project, n)
            if helper is None or helper[0] is not module:
                continue
            hfn = helper[1]
            params = set()  # the helper's parameters bound to the differentiated values
            for p in [*hfn.args.posonlyargs, *hfn.args.args, *hfn.args.kwonlyargs]:
                arg, explicit = kf.argument_for(n, hfn, p.arg, is_method_call=isinstance(n.func, ast.Attribute))
                if explicit and isinstance(arg, ast.Name) and arg.id in sources:
                    params.add(p.arg)
            for inner in astwalk.walk(hfn):
                if isinstance(inner, ast.Call) and isinstance(inner.func, ast.Attribute) \
                        and inner.func.attr == "stateless_call" and inner.args \
                        and isinstance(inner.args[0], ast.Name) and inner.args[0].id in params \
                        and not kf._assignments(hfn, inner.args[0].id):
                    out.add(id(inner))
    return out


def _aux_dropped_by_direct_callers(module: Module, fn: FuncNode) -> bool:
    """``fn`` returns ``loss, new_non_trainable`` and is only ever called (never handed on, e.g. to
    ``jax.value_and_grad``), every call unpacking the pair into ``loss, _`` or a second name never
    read."""
    cls = module.enclosing_class(fn)
    method = cls is not None and module.parent(fn) is cls
    calls: list[ast.Call] = []
    for n in astwalk.walk(module.tree):
        if method:
            ref = isinstance(n, ast.Attribute) and n.attr == fn.name and dotted(n.value) == "self" \
                and module.enclosing_class(n) is cls
        else:
            ref = isinstance(n, ast.Name) and n.id == fn.name and isinstance(n.ctx, ast.Load)
        if not ref:
            continue
        parent = module.parent(n)
        if not (isinstance(parent, ast.Call) and parent.func is n):
            return False  # handed on: what is done with its results is not visible
        calls.append(parent)
    if not calls:
        return False
    for call in calls:
        assign = module.parent(call)
        if not (isinstance(assign, ast.Assign) and len(assign.targets) == 1 and isinstance(assign.targets[0], ast.Tuple)
                and len(assign.targets[0].elts) == 2 and isinstance(assign.targets[0].elts[1], ast.Name)):
            return False
        aux = assign.targets[0].elts[1]
        scope = module.scope_of(assign)
        owner = scope if scope is not None else module.tree
        if aux.id != "_" and any(isinstance(x, ast.Name) and x.id == aux.id and isinstance(x.ctx, ast.Load)
                                 for x in astwalk.walk(owner)):
            return False
    return True


def _returned_as_aux(module: Module, fn: FuncNode, load: ast.Name) -> bool:
    """``return loss, updated_non_trainable``: the name is the second element of the returned pair."""
    parent = module.parent(load)
    ret = module.parent(parent) if isinstance(parent, ast.Tuple) else None
    return isinstance(ret, ast.Return) and isinstance(parent, ast.Tuple) and len(parent.elts) == 2 \
        and parent.elts[1] is load and module.scope_of(ret) is fn


def _aux_dropped_by_every_caller(module: Module, fn: FuncNode) -> bool:
    """``fn`` goes to ``jax.value_and_grad(fn, has_aux=True)`` (or ``jax.grad``) and every call of the
    result unpacks the auxiliary output into ``_`` or a name never read."""
    uses: list[tuple[ast.Call, bool]] = []  # (call of the gradient function, value_and_grad?)
    for c in module.calls:
        if c.name not in ("value_and_grad", "grad") or not c.node.args:
            continue
        if not (isinstance(c.node.args[0], ast.Name) and c.node.args[0].id == fn.name):
            continue
        if not any(k.arg == "has_aux" and isinstance(k.value, ast.Constant) and k.value.value is True
                   for k in c.node.keywords):
            continue
        with_value = c.name == "value_and_grad"
        parent = module.parent(c.node)
        if isinstance(parent, ast.Call) and parent.func is c.node:
            uses.append((parent, with_value))
        elif isinstance(parent, ast.Assign) and len(parent.targets) == 1 and isinstance(parent.targets[0], ast.Name):
            wrapper = parent.targets[0].id
            uses.extend((o.node, with_value) for o in module.calls
                        if isinstance(o.node.func, ast.Name) and o.node.func.id == wrapper)
        else:
            return False  # handed on: its caller is not visible
    if not uses:
        return False
    for call, with_value in uses:
        assign = module.parent(call)
        if not (isinstance(assign, ast.Assign) and len(assign.targets) == 1 and isinstance(assign.targets[0], ast.Tuple)
                and len(assign.targets[0].elts) == 2):
            return False
        first, second = assign.targets[0].elts
        aux = (first.elts[1] if isinstance(first, ast.Tuple) and len(first.elts) == 2 else None) if with_value else second
        if not isinstance(aux, ast.Name):
            return False
        scope = module.scope_of(assign)
        owner = scope if scope is not None else module.tree
        if aux.id != "_" and any(isinstance(n, ast.Name) and n.id == aux.id and isinstance(n.ctx, ast.Load)
                                 for n in astwalk.walk(owner)):
            return False
    return True


# --------------------------------------------------------------------------------------------------
# BN206: training=True where the model is evaluated

# Identifier words of a function that evaluates (``val_step``, ``evaluate``, ``test_step``, ``mc_predict``).
_EVAL_WORDS = frozenset({"eval", "evaluate", "evaluation", "val", "valid", "validate", "validation", "test",
                         "testing", "predict", "prediction", "predictions", "inference", "infer"})
# Generic entry points of an object (``evaluator(model)``, ``validator.run(model)``): the class
# name says what they do.
_DISPATCH_METHODS = frozenset({"__call__", "run", "compute", "execute"})
# Pseudo-labelling is the trained teacher's inference (``pseudo_label``, ``make_pseudo_targets``,
# ``PseudoLabel``): the words of a function that labels data with a model it does not train there.
_PSEUDO_WORDS = frozenset({"pseudo", "pseudolabel", "pseudolabels", "pseudolabeling", "pseudolabelling"})
_LABEL_WORDS = frozenset({"label", "labels", "labeling", "labelling", "labeled", "labelled", "labeler", "labeller",
                          "target", "targets", "gt", "annotate", "annotation", "annotations"})


def _names_evaluation(words: set) -> bool:
    """Do these identifier words name an evaluation (``val_step``, ``predict``) or a pseudo-labelling
    pass (``pseudo_label``, ``generate_pseudo_targets``, ``pseudolabel``)?"""
    if words & _EVAL_WORDS:
        return True
    return "pseudo" in words and bool(words & _LABEL_WORDS) or bool(words & (_PSEUDO_WORDS - {"pseudo"}))


_EVALUATOR_CLASS_WORDS = (_EVAL_WORDS - {"test", "testing"}) | {"evaluator", "validator", "tester", "predictor",
                                                                "inferencer"}
# ... and words that make it a training function after all (``train_and_evaluate``, ``fit_predict``).
_TRAINING_WORDS = frozenset({"train", "training", "fit", "finetune", "learn", "optimize", "update", "adapt"})
# Names of code that runs BN in training mode outside training on purpose: recalibrating the moving
# statistics (SWA's bn update, precise BN, AdaBN), test-time adaptation.
_RECALIBRATION = re.compile(r"update_?bn|bn_?update|recalib|recompute|re_?estimat|calibrat|adabn|adapt|precise|"
                            r"bn_?stat|batch_?stat|batchnorm|batch_?norm|running_?stat|moving_?stat|swa", re.I)
# A comment saying the batch statistics at evaluation are wanted (the pix2pix tutorial's
# "training=True is intentional here since you want the batch statistics").
# Test-time augmentation: the input is flipped, rotated, cropped or shifted before another pass.
_AUGMENTATION_CALL = re.compile(r"^(flip|fliplr|flipud|flip_left_right|flip_up_down|rot90|reverse|roll|"
                                r"random_flip\w*|central_crop|crop\w*|transpose_image)$")


def _only_tta(names: list[str]) -> bool:
    """Do these names read as deliberate batch statistics only through the word "tta"?"""
    return mentions_deliberate_batch_stats(names) and not mentions_deliberate_batch_stats(
        ["_".join(w for w in identifier_words(n) if w != "tta") for n in names])


def _augments_input(fn: FuncNode) -> bool:
    """Does the function call an image flip / rotation / crop (``ops.flip(x, axis=2)``,
    ``tf.image.flip_left_right(x)``, ``np.rot90(x)``)?"""
    for n in astwalk.walk(fn):
        if isinstance(n, ast.Call):
            last = (dotted(n.func) or "").rsplit(".", 1)[-1]
            if _AUGMENTATION_CALL.match(last):
                return True
    return False


# Keras preprocessing layers that change the input only when called with training=True.
_RANDOM_AUGMENTATION_LAYER = re.compile(r"^(Random[A-Z]\w*|RandAugment|AugMix|CutMix|MixUp|Solarization)$")


def _runs_augmentation_layers(module: Module, project: Project, target: ast.expr, depth: int = 0) -> bool:
    """Is the model ``target`` built with Keras random augmentation layers inside it (``RandomFlip``,
    ``RandomTranslation``... in a ``Sequential``, or in the function building a functional model)?
    Those layers act only under ``training=True``: calling such a model with training=True at test
    time is test-time *augmentation*, for which the batch statistics are not wanted. Followed through
    names, parameters (their call sites), ``a, b = build()`` and project factories (depth 3)."""
    if depth > 3 or not project.fact("keras.random_augmentation_used", _project_builds_random_augmentation):
        return False
    if isinstance(target, ast.Call):
        q = kf.keras_name(module.imports.resolve(target.func)) or ""
        if q in ("keras.Sequential", "keras.models.Sequential"):
            return _constructs_random_augmentation(module, target) or any(
                isinstance(e, ast.Name) and _runs_augmentation_layers(module, project, e, depth + 1)
                for e in astwalk.walk(target))
        if q in ("keras.Model", "keras.models.Model"):
            scope = module.scope_of(target)
            return _constructs_random_augmentation(module, scope if scope is not None else module.tree)
        dmod, d = kf.resolve_def_in(project, module, target.func)
        if dmod is not None and isinstance(d, (ast.FunctionDef, ast.AsyncFunctionDef)):
            return any(r.value is not None and _runs_augmentation_layers(dmod, project, r.value, depth + 1)
                       for r in kf._returns_of(d))
        if dmod is not None and isinstance(d, ast.ClassDef):  # a subclassed model building them
            return _constructs_random_augmentation(dmod, d)
        return False
    if isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name) and target.value.id == "self":
        return any(_runs_augmentation_layers(module, project, n.value, depth + 1)
                   for n in kf.self_attribute_stores(module, target, target.attr))
    if not isinstance(target, ast.Name):
        return False
    scope = module.scope_of(target)
    while True:
        owner = scope if scope is not None else module.tree
        assigned = kf._assignments(owner, target.id)
        if assigned or scope is None or kf._param_index(scope, target.id)[2]:
            break
        scope = module.scope_of(scope)
    if any(a is not None and _runs_augmentation_layers(module, project, a, depth + 1) for a in assigned):
        return True
    if None in assigned and any(_runs_augmentation_layers(m, project, e, depth + 1)
                                for m, e in kf._unpacked_factory_elements(project, module, owner, target.id)):
        return True
    if not assigned and scope is not None:
        for c in project.call_sites(scope.name):
            if kf.resolve_def(project, c.module, c.node.func) is not scope:
                continue
            arg, explicit = kf.argument_for(c.node, scope, target.id, is_method_call=isinstance(c.node.func, ast.Attribute))
            if arg is not None and explicit and _runs_augmentation_layers(c.module, project, arg, depth + 1):
                return True
    return False


def _project_builds_random_augmentation(project: Project) -> bool:
    return any(m.mentions("Random") or m.mentions("RandAugment") or m.mentions("AugMix") or m.mentions("MixUp")
               for m in project.modules)


def _constructs_random_augmentation(module: Module, owner: ast.AST) -> bool:
    """Does ``owner`` (a Sequential call, a function, the module) construct a Keras random
    augmentation layer?"""
    for n in astwalk.walk(owner):
        if isinstance(n, ast.Call):
            k = kf.keras_name(module.imports.resolve(n.func)) or ""
            if k.startswith("keras.layers.") and _RANDOM_AUGMENTATION_LAYER.match(k.rsplit(".", 1)[-1]):
                return True
    return False


_DELIBERATE_COMMENT = re.compile(r"intention|on purpose|deliberate|batch stat|batch-stat|batch_stat", re.I)
# Calls that make a function a training (or adaptation) step, not an evaluation.
# (A GradientTape alone is not one: an evaluation copied from the training step often keeps the
# `with tf.GradientTape()` block and drops only the gradient and its application.)
_TRAINING_CALLS = frozenset({"gradient", "apply_gradients", "minimize", "fit", "fit_generator",
                             "train_on_batch", "backward", "value_and_grad", "grad", "stateless_call"})
_GRAPH_BUILDERS = frozenset({"keras.Input", "keras.layers.Input", "keras.Model", "keras.models.Model"})



def _calls_without_mode(module: Module, frozen: frozenset):
    """(call site, model expression, its dotted text) of each call of a model (a name or attribute,
    not one of the ``frozen``) that passes no ``training`` at all, whose result is used, on real
    input (not ``tf.zeros`` / ``keras.Input``): where a default or a wired mode decides."""
    for c in module.calls:
        node = c.node
        expr, known = kf.training_arg(node)
        if not known or expr is not None or any(k.arg and _TRAINING_FLAG_KEYWORD.match(k.arg) for k in node.keywords):
            continue
        target = kf.model_expr(node)
        obj = dotted(target)
        if obj is None or obj.rsplit(".", 1)[-1] in frozen or not isinstance(target, (ast.Name, ast.Attribute)):
            continue
        if not _result_used(module, node) or _dummy_input(module, node):
            continue
        yield c, target, obj

@register
class TrainingTrueInEvaluation(Rule):
    code = "BN206"
    name = "training-true-in-evaluation"
    framework = "keras"
    summary = "A model containing BatchNormalization is called with training=True where it is only evaluated."
    triggers = ("training",)
    doc = RuleDoc(
        what="""
Finds a call of a model that contains trainable BatchNormalization with a literal (or always true)
`training=True` where the model is evaluated, not trained:
- in a function named for evaluation (`val_step`, `test_step`, `evaluate`, `validate`, `predict`,
  `mc_predict`, `inference`...; a pseudo-labelling pass, `pseudo_label`, `make_pseudo_targets`: the
  trained teacher's inference on the unlabelled pool; a `test_step` / `predict_step` override calling `self(x,
  training=True)`; the `__call__` / `run` / `compute` method of a class named for evaluation,
  `Evaluator`, `Validator`, called as `evaluator(model)`) that computes no gradient and applies no
  update (no `tape.gradient`, `apply_gradients`, `minimize`, `fit`, `train_on_batch`, `backward`,
  `jax.grad`; a `GradientTape` block left over from the training step it was copied from does not
  count) and is not called as part of a training step (a call after the step loop of a training
  function's epoch loop is evaluation between epochs, not a step);
- in a method of a `keras.callbacks.Callback` subclass (`on_epoch_end`, `on_train_end`,
  `on_test_end`, or a helper of the callback) running `self.model(x, training=True)`, when the
  callback is passed to `fit` of a model that contains BN (Monte-Carlo dropout on the whole model);
  a function named for test-time augmentation (`tta_predict`) is judged an evaluation, not a
  deliberate test-time adaptation, when it flips/crops the input itself or the model it runs holds
  Keras random augmentation layers (`RandomFlip`, `RandomTranslation`, `RandAugment`... in its
  Sequential, its functional graph or its class): training=True there is passed to switch those
  layers on, and it switches BN to training mode as well;
- in a function given as an `on_*` hook (not `on_train_begin`) to `keras.callbacks.LambdaCallback`
  (a closure, a module function, or `self.<method>`), whatever the function that builds the
  callback is called, when the model it calls contains BN and the hook itself does not train;
- in a function exported as a serving signature of a SavedModel — given to `signatures=` of
  `tf.saved_model.save` / `model.save` / `save_model` (directly, as `fn.get_concrete_function(...)`,
  in a dict or list, through a `tf.function(fn)` wrapper; a method of the project `tf.Module` the
  exported object is built from) or as the `fn` of a Keras 3 `ExportArchive.add_endpoint` — whatever
  it is called, when it computes no gradient and applies no update: every request to the served
  model, and any smoke test run on the signature before saving, normalizes with its own batch and
  assigns it into the moving statistics (measured with Keras 3.15: a smoke test of the exported
  `tf.Module` signature moves the trained model's moving mean).
Also `model(x, training=True)` inside a `GradientTape` block whose every `tape.gradient(loss,
sources)` in the function differentiates only variables the program created apart from the model
(`self.temperature = tf.Variable(1.0)`, a `keras.Variable` perturbation, a list of such): post-hoc
temperature / vector scaling fitted on validation logits, an input or perturbation optimised against
a fixed model. Nothing of the model is trained there, yet every iteration assigns the batch
statistics of the data into its moving mean/variance (measured with Keras 3.15: the moving mean
changes during temperature fitting; with training=False it does not). Not when the function also
trains (`fit`, `minimize`, `backward`), the tape is handed on, a source is one of the model's
variables (test-time adaptation of BN scales, a learned loss weight next to
`model.trainable_variables`), the call is `self(...)`, or the function runs inside a training step
(an attack generated during adversarial training).
Also an input attack run only to evaluate: `model(x_adv, training=True)` in a function given `model`
(or a model it builds on that model's layers, the Grad-CAM recipe's `keras.Model(model.inputs,
[model.get_layer(name).output, model.output])`, which shares its BatchNormalization layers),
inside a `GradientTape` block whose every `tape.gradient(loss, x)` differentiates a tensor the tape
`watch`es or an output of that model call (PGD / FGSM, a saliency map, a Grad-CAM heatmap w.r.t. the
last conv activations), nothing trained there, when it runs in a method of a Keras callback on
`self.model` (or a model wired onto its layers), or when the function is reached (directly
or through helpers handing the model on) from a method of a Keras callback passing `self.model`
(a robust-accuracy callback) or from a function named for evaluation passing a BN model, and from no
training step (a `train_step`, a function named for training, a step loop): every attack iteration
assigns the attacked held-out batch into the moving statistics (measured with Keras 3.15).
Also a call with no `training` at all (`model(x)`, `self(x)` in a `test_step`) of an instance of a
class whose `call` defaults `training` to True (`def call(self, inputs, training=True)`, a TF1 habit)
and passes it to BN (directly, or by leaving a sublayer's flag out), anywhere that does not train:
not in a `call`/`build`/`__init__` (an outer call passes its mode on), a function named for training,
a GradientTape block, a `minimize` loss, a function computing gradients or called from a training
step. With no argument and no outer call, Keras 3 and tf.keras 2 take the signature default
(measured: a scoring helper's `model(x)`, a `test_step`'s `self(x)` and a `tf.function` serving
function all move the moving mean; `predict`/`evaluate`'s own steps pass training=False).
The same for a functional model whose graph calls a BatchNormalization with an always-true
`training` (`BatchNormalization()(x, training=True)`, or a block helper's `mc=True` wired into its
BN as well as its Dropout for MC dropout), called directly with no `training` where nothing trains:
the node keeps the value it was built with unless the outer call gives one that is not None
(Keras 3; tf.keras 2 keeps it even then), so the MC passes on deployment data move the moving mean
(measured with Keras 3.15).
Also a pretrained network called with training=True inside another model's GradientTape step — a
perceptual / feature-matching loss network: every `tape.gradient` of the block differentiates other
models' variables only (`gen.trainable_variables`), the network is pretrained (`load_model`,
`net.load_weights(...)` where it is bound or in the project factory returning it, a Keras application
with its ImageNet weights), and the module never trains it, reads its variables, hands it on nor
sets it `trainable = False`: each step assigns the batch statistics of the generated and target
images into its pretrained moving mean/variance (measured with Keras 3.15; with `trainable = False`
Keras runs its BN in inference mode and the statistics are kept). Reported once per network and step.
Also a call of a project helper whose mode parameter defaults to True and reaches a model call
(`def compute_loss(model, x, y, training=True): logits = model(x, training=training)`, a trainer's
`_forward(self, x, train_mode=True)`; also through a helper handing a default-True flag of its own
on), shared by the training step and the evaluation, from an evaluation context as above (a function
named for evaluation that does not train, a callback method, a serving signature), in any module of
the program, that leaves the flag out (or passes True): the default reaches the model, so every
evaluated batch runs BN in training mode (measured with Keras 3.15: the moving mean changes during
the evaluation loop; with `training=False` passed it does not). The model is the one the evaluation
passes (a BN model by its own call sites).
Also a BatchNormalization subclass whose `call` gives its parent a `training` built only from a
freeze switch set at construction (`super().call(x, training=not self.freeze)`, keras-resnet
before its PR #47; `freeze`/`frozen`/`fix`/`trainable` attributes) and never from the mode Keras
passes in: with the switch off the value is True, so `predict`, `evaluate` and every inference
call run the layer in training mode (measured with Keras 3.15 and tf_keras 2.21: `predict` moves
the moving mean and its outputs depend on the rest of the batch; a subclass passing
`training=False if self.frozen else training` does neither).
""",
        why="""
`training=True` switches every BatchNormalization to batch statistics *and* makes it assign them
into its moving mean/variance: each validation batch or MC-dropout pass moves the statistics the
trained model uses afterwards towards the evaluated data (measured with Keras 3.15 and tf_keras
2.21: the moving mean changes during the validation loop and during a callback's MC passes on
held-out data). Validation data leaks into the model, the reported validation metrics are computed
with batch statistics, and the model `fit` hands back or saves carries statistics of data it was
never trained on.
""",
        example="""
@tf.function
def val_step(x, y):
    logits = model(x, training=True)      # copied from train_step
    val_acc.update_state(y, logits)

class MCDropout(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        preds = [self.model(self.x_holdout, training=True) for _ in range(20)]
""",
        use_instead="""
@tf.function
def val_step(x, y):
    logits = model(x, training=False)

# MC dropout: keep BN in inference mode and switch on only the dropout layers
class MCDropout(keras.layers.Dropout):
    def call(self, inputs, training=None):
        return super().call(inputs, training=True)
...
preds = [model(x_holdout, training=False) for _ in range(20)]
""",
        not_flagged="""
- BN recalibration and test-time adaptation: functions or classes whose names say so (`recompute_bn`,
  `update_bn`, `bn_update`, `precise_bn`, `recalibrate`, `adabn`, `adapt`, `tent`, `swa`; `tta`
  unless the function flips, rotates or crops its input, which is test-time augmentation), or that
  reassign BN momentum / moving statistics (an SWA callback re-estimating the statistics with
  momentum 0 after swapping in the averaged weights);
- GANs and meta-learning (names with `discriminator`, `pix2pix`, `*gan`, `maml`, `reptile`,
  `meta_train`...), and calls whose comment says the batch statistics are wanted on purpose
  (the pix2pix tutorial's "training=True is intentional here");
- an input attack (PGD / FGSM) called from a training step anywhere in the program (adversarial
  training attacks in training mode by a published recipe), or reached from no callback or
  evaluation function;
- steps that train: a `tape.gradient`, `apply_gradients`, `minimize`, `fit`, `backward` or
  `jax.grad` in the function, or the function called from one (a `predict` helper or a predictor
  object inside the tape, or inside the step loop of a function named for training);
- models without trainable BN: no BN visible in the project, BN created `trainable=False`, or the
  model set `trainable = False` (Keras 3 and tf.keras 2.x then run BN in inference mode even with
  `training=True`), or its BN layers set non-trainable before the call by a loop over `model.layers`
  in the function or in a helper it hands the model to (`for l in model.layers: if isinstance(l,
  BatchNormalization): l.trainable = False`, MC dropout done right); a copy made in the function (`clone_model`, `deepcopy`); a callback whose
  fitted model is not visible;
- `training=False` with an always-on Dropout subclass (the recommended MC dropout), calls that
  build a functional graph (`keras.Input` in the function), unit tests (`test_*` in test files;
  a script that only carries the `_test.py` suffix and holds no test is judged as a program),
  and TF1 graph code (a `Session`/`placeholder` module: BN105's domain);
- exported signatures that train (the TFLite on-device training recipe's `train` signature with its
  `GradientTape` and `apply_gradients`) or recalibrate the statistics on purpose (`recalibrate_bn`),
  and a layer's own `call` / `__call__` exported as the signature (`model.call.get_concrete_function`):
  the modes written inside a forward pass are the layer's design;
- for a `call(..., training=True)` default: a result thrown away (a bare `model(x)` refreshing the
  statistics or building the model), a placeholder input (`tf.zeros`, `keras.Input`, random data),
  a model built in the same function and not trained or loaded before the call, module-level code
  before anything trains, a `call` that passes every sublayer an explicit mode of its own
  (`self.backbone(x, training=False)`), and GAN generators/discriminators sampled as they train;
- for a helper defaulting its flag to True: evaluation calls that pass it False (by keyword or
  position) or a flag of their own, a model without BN handed in, a helper inside a layer / model
  class or one that trains or builds a graph, callers inside training (named for it, in a tape, a
  step loop), and recalibration / GAN names;
- for a functional graph with BN wired to training=True: a builder whose flag some call sets False
  (one model per mode, the TF1 habit), GAN and adaptation names, a comment saying the batch
  statistics are wanted, `predict`/`evaluate` and calls passing `training` (Keras 3 replaces the
  wired value there);
- for a BatchNormalization subclass: a `training` that reads the incoming flag (`training=False if
  self.freeze else training`, `training and not self.freeze`) or `K.learning_phase()`, a literal
  (True: batch statistics on purpose; False: a frozen BN), a mode attribute rather than a freeze
  switch (`self.is_training` given at construction: one instance per mode, the TF1 habit), a switch
  another method assigns (flipped before inference), and a class every construction of which in the
  project freezes it;
- for a pretrained network in another model's tape: a network the program trains anywhere (a GAN
  discriminator updated in its own step: its variables are read there), fine-tunes in the same tape,
  hands on or aliases, set `trainable = False`, built from scratch and never loaded, called with
  training=False, or named / commented for GANs and adaptation.
""",
        versions=KERAS_VERSIONS,
    )

    def check(self, module: Module, project: Project) -> Iterable[Finding]:
        if _unit_test_module(module) or not _eager_keras(module):
            return
        path_parts = re.split(r"[/\\.]", project.relative_path(module))
        if mentions_deliberate_batch_stats(path_parts) and not _only_tta(path_parts):
            return
        if not kf.uses_keras(module):
            # an evaluation module of a Keras project need not import Keras: it calls the project's helpers
            if _training_default_helpers(project):
                yield from self._helper_default_in_evaluation(module, project, kf.frozen_names(project, module))
            return
        path_tta = _only_tta(path_parts)  # a `tta.py`: adaptation or augmentation, decided per function
        frozen = kf.frozen_names(project, module)  # this program's frozen objects, not another script's
        bystanders: set[tuple[str, int]] = set()
        for c in module.calls:
            expr = kf.kwarg(c.node, "training")
            if expr is None or c.scope is None:
                continue
            if not (isinstance(expr, ast.Constant) and expr.value is True) and not kf.always_true(module, project, expr):
                continue
            target = kf.model_expr(c.node)
            obj = dotted(target) or ast.unparse(target)
            if obj.rsplit(".", 1)[-1] in frozen:
                continue  # trainable=False: BN runs in inference mode whatever `training` says
            context = self._evaluation_context(module, project, c.node, c.scope)
            if context is None:
                context = _tape_differentiates_only_variables(module, project, c.node, c.scope, target)
            if context is None:
                context = _pretrained_bystander_in_tape(module, project, c.node, c.scope, target)
                if context is not None:
                    if (obj, id(context[1])) in bystanders:
                        continue  # `loss_net(fake, training=True) - loss_net(real, training=True)`: once per step
                    bystanders.add((obj, id(context[1])))
            attacked_from = None
            if context is None:
                attacked_from = _input_attack_run_from_evaluation(module, project, c.node, c.scope, target)
                if attacked_from is None:
                    continue
                context = ("attack", c.scope)
            kind, fn = context
            if kind == "attack":
                if _deliberate_in_tape(module, c.node, fn) or _model_copied_in(module, fn, target) or path_tta:
                    continue
            elif kind in ("tape", "bystander"):
                if _deliberate_in_tape(module, c.node, fn) or _model_copied_in(module, fn, target) or path_tta:
                    continue
            elif self._deliberate(module, c.node, fn, project, target) or _model_copied_in(module, fn, target) \
                    or (path_tta and not _augments_input(fn)
                        and not _runs_augmentation_layers(module, project, target)):
                continue
            if kind != "attack" and not self._bn_model(module, project, c.node, target, kind):
                continue  # (an attack's model is the one its evaluation callers hand in, checked there)
            if _bn_layers_frozen_before(module, project, c.node, c.scope, target):
                continue
            advice = "call it with training=False (for MC dropout, switch on only the Dropout layers)"
            if kind == "attack":
                where = (f"inside a GradientTape in `{fn.name}`, which differentiates only its input or its "
                         f"activations (an attack, saliency or Grad-CAM pass on a fixed model) and is run only to "
                         f"evaluate ({attacked_from})")
                advice = "run the attack / saliency pass with training=False when the model is evaluated"
                fix = None
            elif kind == "tape":
                where = (f"inside a GradientTape in `{fn.name}` whose gradients are taken only for variables the "
                         "program created apart from the model (the model is only evaluated there)")
                fix = None
            elif kind == "bystander":
                where = (f"inside a GradientTape in `{fn.name}` that trains only other models' variables, and it is a "
                         "pretrained network (weights loaded) that the program never trains nor sets "
                         "`trainable = False` (a perceptual / feature-matching loss network)")
                advice = f"set `{obj}.trainable = False` after loading it, or call it with training=False"
                fix = None
            elif kind == "callback":
                where = (f"in `{_owner_name(module, fn)}.{fn.name}`, a method of a Keras callback (it runs between "
                         "fit()'s steps, on data it was given)")
                fix = None
            elif kind == "lambda-callback":
                where = (f"in `{fn.name}`, a hook given to a Keras LambdaCallback (fit() runs it between its "
                         "steps, on data it was given)")
                fix = None
            elif kind == "serving":
                smod, save = _serving_signatures(project)[id(fn)]
                named = f"{_owner_name(module, fn)}.{fn.name}" if isinstance(module.parent(fn), ast.ClassDef) \
                    else fn.name
                where = (f"in `{named}`, a serving signature exported with the SavedModel "
                         f"({project.relative_path(smod)}, {smod.line_ref(save.lineno)}) that computes no gradient "
                         "and applies no update (every request, and any smoke test run on it before saving, goes "
                         "through it)")
                advice = "serve it with training=False"
                fix = _replace_fix(module, expr, "False", "serve with training=False") \
                    if isinstance(expr, ast.Constant) else None
            else:
                named = f"{_owner_name(module, fn)}.{fn.name}" if fn.name in _DISPATCH_METHODS else fn.name
                where = f"in `{named}`, which evaluates (no gradient, no update)"
                fix = _replace_fix(module, expr, "False", "evaluate with training=False") \
                    if isinstance(expr, ast.Constant) and not _sampling(module, c.node, fn) else None
                if fix is not None and _runs_augmentation_layers(module, project, target):
                    fix = None  # training=False would switch the augmentation off as well
                    where = (f"in `{named}`, which evaluates (no gradient, no update) and passes it to switch on "
                             "the random augmentation layers built into the model (test-time augmentation)")
                    advice = ("run the augmentation layers on their own with training=True and the rest of the "
                              "model with training=False")
            yield self.finding(module, c.node, (
                f"`{obj}` is called with training=True {where}: its BatchNormalization layers normalize with the "
                "batch statistics and assign them into their moving mean/variance, so the evaluated data leaks "
                f"into the statistics the trained model keeps; {advice}"), fix=fix)
        yield from self._implicit_training_default(module, project, frozen)
        yield from self._helper_default_in_evaluation(module, project, frozen)
        yield from self._baked_training_true(module, project, frozen)
        yield from self._bn_subclass_forces_training(module, project)
        yield from self._phase_string_as_training(module, project, frozen)

    def _helper_default_in_evaluation(self, module: Module, project: Project,
                                      frozen: frozenset) -> Iterable[Finding]:
        """A project helper whose mode parameter defaults to True and is passed to a model call
        (``def compute_loss(model, x, y, training=True): logits = model(x, training=training)``),
        shared by the training step and the evaluation, and called from an evaluation context (a
        function named for evaluation that neither trains nor is called from a training step, a
        callback method, a serving signature) without overriding the flag: the default True
        reaches the model, so its BatchNormalization layers normalize with the batch statistics
        and assign the evaluated data into their moving mean/variance. Followed through helpers
        handing the flag (and the model) on with a True default of their own, across modules."""
        helpers = _training_default_helpers(project)
        if not helpers:
            return
        for c, entries in _helper_sites(module, project, helpers):
            smod = c.module
            if c.scope is None or isinstance(c.scope, ast.Lambda):
                continue
            if smod is not module:  # a module the rule's own gates have not looked at
                parts = re.split(r"[/\\.]", project.relative_path(smod))
                if _unit_test_module(smod) or not _eager_keras(smod) or mentions_deliberate_batch_stats(parts):
                    continue
                frozen = kf.frozen_names(project, smod)
            for hmod, fn, param, model_call, cmod, mmod, model in entries:
                if (smod is not module and cmod is not module) or not _may_call(project, hmod, fn, c):
                    continue
                method_call = isinstance(c.node.func, ast.Attribute)
                arg, explicit = kf.argument_for(c.node, fn, param, is_method_call=method_call)
                if arg is None or explicit and not (isinstance(arg, ast.Constant) and arg.value is True
                                                    or kf.always_true(smod, project, arg)):
                    continue  # training=False (or a flag of the caller's) given: the default is not used
                if isinstance(model, ast.Name) and mmod is hmod and kf._param_index(fn, model.id)[2]:
                    marg, mexplicit = kf.argument_for(c.node, fn, model.id, is_method_call=method_call)
                    if marg is None or not mexplicit:
                        continue
                    mmod_here, mexpr = smod, marg
                else:
                    mmod_here, mexpr = mmod, model
                if not isinstance(mexpr, (ast.Name, ast.Attribute)):
                    continue
                obj = dotted(mexpr) or ast.unparse(mexpr)
                if obj.rsplit(".", 1)[-1] in frozen or (dotted(model) or "").rsplit(".", 1)[-1] in frozen:
                    continue
                context = self._evaluation_context(smod, project, c.node, c.scope)
                if context is None:
                    continue
                kind, ctx = context
                names = [fn.name, ctx.name, obj.rsplit(".", 1)[-1]]
                if mentions_deliberate_batch_stats(names) or any(_RECALIBRATION.search(n) for n in names) \
                        or any(set(identifier_words(n)) & _GAN_MODEL_WORDS for n in names):
                    continue
                if self._deliberate(smod, c.node, ctx) or _model_copied_in(smod, ctx, mexpr):
                    continue
                if mmod_here is smod:
                    if not self._bn_model(smod, project, c.node, mexpr, kind) \
                            or _bn_layers_frozen_before(smod, project, c.node, c.scope, mexpr):
                        continue
                elif not kf.is_bn_model(mmod_here, project, mexpr):
                    continue
                shown = ast.unparse(c.node.func)
                where = f"`{ctx.name}`, which evaluates (no gradient, no update)" if kind == "eval" else \
                    f"`{_owner_name(smod, ctx)}.{ctx.name}`, a method of a Keras callback" if kind == "callback" \
                    else f"`{ctx.name}`, which runs between fit()'s steps or serves the model"
                given = "without `" + param + "`" if not explicit else f"with {param}={ast.unparse(arg)}"
                fix = _append_keyword_fix(smod, c.node, f"{param}=False") if not explicit else (
                    _replace_fix(smod, arg, "False", f"evaluate with {param}=False")
                    if isinstance(arg, ast.Constant) else None)
                yield self.finding(smod, c.node, (
                    f"`{shown}` is called {given} in {where}: its `{param}` defaults to True and reaches "
                    f"`{ast.unparse(model_call.func)}(..., training=...)` ({project.relative_path(cmod)}, "
                    f"{cmod.line_ref(model_call.lineno)}), so `{obj}`'s BatchNormalization layers normalize with the "
                    "batch statistics and assign them into their moving mean/variance: the evaluated data leaks into "
                    f"the statistics the trained model keeps; pass {param}=False"), fix=fix)
                break

    def _phase_string_as_training(self, module: Module, project: Project, frozen: frozenset) -> Iterable[Finding]:
        """``model(x, training=phase)`` where ``phase`` can be a string naming an evaluation phase
        (``for phase in ("train", "val")``, a PyTorch-tutorial phase loop; a helper's parameter every
        call passes such a string; a ``--mode`` option's choices): a non-empty string is truthy, and
        Keras 3 tests the flag by truth (``if training and self.trainable``), so the "val" pass runs
        BatchNormalization in training mode and assigns the validation batches into its moving
        statistics (measured with Keras 3.15; tf_keras 2.21 raises a TypeError instead). Not when
        the project's own ``call`` compares its mode with strings (then a string is its protocol)."""
        if not module.mentions("training") and not module.mentions("phase") and not module.mentions("mode"):
            return
        consumers = None
        for c in module.calls:
            expr, known = kf.training_arg(c.node)
            if not known or expr is None or c.scope is None or isinstance(expr, ast.Constant) and \
                    not isinstance(expr.value, str):
                continue
            if isinstance(expr, ast.Name) and getattr(c.scope, "name", "") in _KERAS_MODE_METHODS \
                    and expr.id in {a.arg for a in c.scope.args.args + c.scope.args.kwonlyargs}:
                continue  # a layer's ``call(x, training)`` handing on the mode Keras gives it (the bulk of calls)
            cls = module.enclosing_class(c.node)
            if cls is not None and any(_LAYER_BASE.search(dotted(b) or "") for b in cls.bases):
                continue  # inside a layer / model class: the mode is Keras's to give, not a phase loop's
            if not any(k.arg == "training" and k.value is expr for k in c.node.keywords):
                continue  # ``training=`` by keyword only: a second positional argument is rarely a mode
                # (``Conv2D(32, (3, 3))``), and telling the model calls apart costs more than the check
            vals = kf.argument_values(module, project, expr)
            if vals is None:
                vals = kf.constant_values(module, project, expr)
            phases = sorted(v for v in vals or () if isinstance(v, str) and _NOT_TRAINING_WORD.fullmatch(v.strip()))
            if not phases:
                continue
            target = kf.model_expr(c.node)
            obj = dotted(target) or ast.unparse(target)
            if obj.rsplit(".", 1)[-1] in frozen or not _visibly_bn(module, project, c.node):
                continue
            if consumers is None:  # another script's string protocol says nothing about this program's model
                program = same_program(module, project)
                consumers = [fn for fn, m in _string_mode_consumers(project) if id(m) in program]
            if consumers:
                continue
            shown = ast.unparse(expr)
            can_be = "is" if isinstance(expr, ast.Constant) else "can be"
            others = sorted(v for v in vals or () if isinstance(v, str) and v not in phases)
            bool_form = f"{shown} == {others[0]!r}" if others and not isinstance(expr, ast.Constant) else "False"
            yield self.finding(module, c.node, (
                f"`{obj}` is called with training={shown}, which {can_be} the string "
                f"{', '.join(repr(p) for p in phases)}: a non-empty string is truthy, so Keras 3 runs its "
                "BatchNormalization layers in training mode for that phase too (batch statistics, assigned into "
                "the moving mean/variance: the evaluated data leaks into the statistics the model keeps; "
                f"tf.keras 2 raises a TypeError); pass a bool (`training={bool_form}`)"))

    def _judged_call(self, module: Module, project: Project, node: ast.Call, fn, target: ast.AST,
                     names: list) -> bool:
        """Is a model call that runs BN in training mode by default a bug to report: none of
        ``names`` (the model, its classes or builders) says GAN / deliberate batch statistics (a
        generator sampled as it trains, test-time adaptation), the call is outside training, and
        neither its function nor a comment at module level says the mode is deliberate (nor is the
        model a copy made there)?"""
        if mentions_deliberate_batch_stats(names) or any(set(identifier_words(n)) & _GAN_MODEL_WORDS for n in names):
            return False
        if not self._outside_training(module, project, node, fn, target):
            return False
        if fn is not None:
            return not (self._deliberate(module, node, fn) or _model_copied_in(module, fn, target))
        return not _DELIBERATE_COMMENT.search(kf.comments_at(module, node))

    def _baked_training_true(self, module: Module, project: Project, frozen: frozenset) -> Iterable[Finding]:
        """``model(x)`` with no ``training`` outside training, where ``model`` is a functional model
        whose graph calls a BatchNormalization with training=True (a literal, or a block helper's
        ``mc=True`` given to its Dropout and its BN alike: MC dropout wired into the graph). The
        node keeps the value it was called with; only an outer ``training`` that is not None
        replaces it (Keras 3; tf.keras 2 keeps it even then), so a direct call without one runs the
        BN in training mode: batch statistics, assigned into the moving mean/variance. The same
        call conditions as for a ``call(..., training=True)`` default."""
        if not _bn_bake_sites(project) or "training" not in module.unit.text:
            return
        for c, target, obj in _calls_without_mode(module, frozen):
            node = c.node
            if obj == "self":
                continue
            builders: list = []
            if not _instance_defaults_training_true(module, project, target, found=builders, baked=True):
                continue
            bmod, builder = builders[0]
            site = _graph_bakes_bn(project, bmod, builder if not isinstance(builder, ast.Module) else None, 0)
            if site is None:
                continue
            smod, bake = site
            bake_fn = smod.scope_of(bake)
            names = [obj.rsplit(".", 1)[-1]] + [getattr(b, "name", "") for _, b in builders] \
                + ([bake_fn.name] if bake_fn is not None else [])
            fn = c.scope
            if not self._judged_call(module, project, node, fn, target, names):
                continue
            where = f"in `{fn.name}`, which does not train" if fn is not None else "at module level, after training"
            built = f"built by `{builder.name}`" if not isinstance(builder, ast.Module) else "built here"
            yield self.finding(module, node, (
                f"`{obj}` is called without `training` {where}: the functional graph {built} calls "
                f"BatchNormalization with `{ast.unparse(bake)}` ({smod.where(bake.lineno)}), and with no "
                "`training` given the node keeps that True, so its BatchNormalization layers normalize with the "
                "batch statistics and assign them into their moving mean/variance; the outputs depend on the batch "
                "and the data leaks into the statistics the model keeps; call the BN layer without `training` "
                "(for MC dropout, give training=True to the Dropout layers only)"))

    def _bn_subclass_forces_training(self, module: Module, project: Project) -> Iterable[Finding]:
        """A BatchNormalization subclass whose ``call`` hands its parent a ``training`` built only from
        a freeze switch of the layer (``super().call(x, training=not self.freeze)``, keras-resnet
        before its PR #47) and never from the mode Keras passes in: while the switch is off the
        value is True, so ``predict``/``evaluate`` (which pass training=False) and any inference
        call run the layer in training mode — batch statistics, assigned into the moving
        mean/variance. Only freeze switches (``freeze``/``frozen``/``fix``/``trainable``) set at
        construction; not a literal True (batch statistics always, on purpose), not a mode
        attribute another method switches, not a class every construction of which freezes."""
        for cls in module.classes:
            if not _bn_subclass(project, module, cls):
                continue
            call = next((f for f in cls.body if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))
                         and f.name == "call"), None)
            if call is None or mentions_deliberate_batch_stats([cls.name]) \
                    or set(identifier_words(cls.name)) & _GAN_MODEL_WORDS:
                continue
            for n in _walk_same_scope(call):
                if not isinstance(n, ast.Call):
                    continue
                expr = _parent_call_training(cls, n)
                found = _freeze_switch_expression(module, project, cls, expr) if expr is not None else None
                if found is None or _DELIBERATE_COMMENT.search(kf.comments_at(module, n)) \
                        or _only_when_training(module, call, n):
                    continue
                switch, on = found
                shown = ast.unparse(expr)
                frozen_test = f"self.{switch}" if not on else f"not self.{switch}"
                yield self.finding(module, n, (
                    f"`{cls.name}.call` gives its parent BatchNormalization training={shown}, which depends only on "
                    f"the layer's switch `self.{switch}`, never on the mode Keras passes in: with `self.{switch}` "
                    f"{on} it is True, so the layer runs in training mode in predict(), evaluate() and every inference "
                    f"call too — it normalizes with the statistics of the batch being predicted (TF2 Keras and Keras 3 "
                    f"also assign them into its moving mean/variance); force training=False only when frozen and "
                    f"otherwise pass the incoming flag on (`training=False if {frozen_test} else training`)"))

    def _implicit_training_default(self, module: Module, project: Project, frozen: frozenset) -> Iterable[Finding]:
        """``model(x)`` with no ``training`` where ``model`` is an instance of a class whose ``call``
        defaults ``training`` to True (``def call(self, inputs, training=True)``, a TF1 habit) and that
        contains BN, outside any training step: with no argument and no outer call, Keras (3 and
        tf.keras 2) takes the signature default, so the call normalises with batch statistics and
        writes the data into the moving statistics. Only calls whose result is used (a bare
        ``model(x)`` statement refreshes the statistics or builds the model) on real input (not
        ``tf.zeros`` / ``keras.Input``), after the model was trained or loaded."""
        if not _defaults_training_true_anywhere(project) or "training" not in module.unit.text:
            return  # (a module that never says "training" is left to the pre-filter)
        if not _learning_phase_never_set(project, module):
            return  # tf.keras: a set learning phase comes before the signature default
        for c, target, obj in _calls_without_mode(module, frozen):
            node = c.node
            classes: list = []
            if obj == "self":
                cls = module.enclosing_class(node)
                if cls is None or not _call_defaults_training_true(project, module, cls) \
                        or not kf.class_is_bn_model(project, module, cls):
                    continue
                classes = [cls]
            elif not kf.is_bn_model(module, project, target) \
                    or not _instance_defaults_training_true(module, project, target, found=classes):
                continue
            if any(_sublayers_ignore_flag(k) for k in classes):
                continue
            names = [obj.rsplit(".", 1)[-1]] + [k.name for k in classes]
            fn = c.scope
            if not self._judged_call(module, project, node, fn, target, names):
                continue
            owner = f"`{classes[0].name}`" if classes else "its class"
            where = f"in `{fn.name}`, which does not train" if fn is not None else "at module level, after training"
            yield self.finding(module, node, (
                f"`{obj}` is called without `training` {where}: {owner}'s call() defaults training=True, and with "
                "no argument and no outer call Keras takes that default, so its BatchNormalization layers normalize "
                "with the batch statistics and assign them into their moving mean/variance; the outputs depend on "
                "the batch and the data leaks into the statistics the model keeps; pass training=False"),
                fix=_append_keyword_fix(module, node, "training=False"))

    @staticmethod
    def _outside_training(module: Module, project: Project, node: ast.Call, fn: Optional[FuncNode],
                          target: ast.expr) -> bool:
        """Is ``node`` outside any training step and any outer layer call, after the model was trained
        or loaded? Not in a ``call`` / ``build`` / ``__init__`` (an outer call passes its mode on), a
        function named for training, a GradientTape block, a loss given to ``minimize``, a function
        that computes gradients or is called from a training step; a model built in the same function
        must be trained or loaded before the call; at module level, something must train or load
        before it, and no loop around it trains."""
        for a in module.ancestors(node):
            if isinstance(a, (ast.With, ast.AsyncWith)) and any(kf._is_gradient_tape(module, i.context_expr)
                                                                for i in a.items):
                return False
            if isinstance(a, ast.Lambda) and isinstance(module.parent(a), ast.Call) \
                    and _callee_name(module.parent(a)) in _TRAINING_CALLS:
                return False
        if fn is None:
            # module level (a notebook): a statement of the same block that trains (the step around
            # it), or a step loop around it, makes it part of training; an evaluation loop placed
            # after the step loop in an epoch loop is not
            loops = [a for a in module.ancestors(node) if isinstance(a, (ast.For, ast.AsyncFor, ast.While))]
            if loops and _is_step_loop(loops[0]):
                return False
            for a in module.ancestors(node):
                body = getattr(a, "body", None)
                if isinstance(body, list) and any(_statement_trains(st) for st in body):
                    return False
            return any(c.scope is None and c.node.lineno < node.lineno and _trains_or_loads(c.node)
                       for c in module.calls)
        chain = [fn] + [a for a in module.ancestors(fn) if isinstance(a, (ast.FunctionDef, ast.AsyncFunctionDef))]
        if any(f.name in ("call", "build", "__init__") or set(identifier_words(f.name)) & _TRAINING_WORDS
               for f in chain):
            return False
        if _trains_or_builds(module, fn) or fn.name in _differentiated_functions(module) \
                or any(_called_from_training(project, module, f) for f in chain):
            return False
        if isinstance(target, ast.Name):
            starts = [st.lineno for st in astwalk.walk(fn) if isinstance(st, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == target.id for t in st.targets)]
            if starts:
                before = [n for n in starts if n < node.lineno]
                if not before:
                    return False
                last = max(before)
                return any(last < n.lineno < node.lineno and _trains_or_loads(n) for n in _function_calls(fn))
        return True

    @staticmethod
    def _evaluation_context(module: Module, project: Project, call: ast.Call,
                            scope: FuncNode) -> Optional[tuple[str, FuncNode]]:
        """("eval", function) for a call in a function named for evaluation, ("callback", method) for
        a call in a method of a Keras callback; None when the function (or one around it) trains,
        builds a functional graph, or is called from a training function."""
        chain = [scope] + [a for a in module.ancestors(scope) if isinstance(a, (ast.FunctionDef, ast.AsyncFunctionDef))]
        hook = _lambda_callback_hook(module, chain)
        if hook is not None:
            # fit() runs the hook between its steps, whatever the function that builds the callback is
            # named (`train(...)` included): only the functions from the hook inward say what it does
            inner = chain[:chain.index(hook) + 1]
            if any(set(identifier_words(f.name)) & _TRAINING_WORDS for f in inner) or _trains_or_builds(module, hook):
                return None
            return "lambda-callback", hook
        words = [set(identifier_words(f.name)) for f in chain]
        if any(w & _TRAINING_WORDS for w in words):
            return None
        cls = module.enclosing_class(call)
        kind: Optional[str] = None
        fn = scope
        if cls is not None and _is_callback_class(project, module, cls) and chain[-1].name != "__init__":
            kind, fn = "callback", chain[-1]
        else:
            for f, w in zip(chain, words):
                if _names_evaluation(w):
                    kind, fn = "eval", f
                    break
            else:
                if cls is not None and _evaluator_dispatch(module, cls, chain[-1]):
                    kind, fn = "eval", chain[-1]
        if kind is None:
            exported = _serving_signatures(project)
            fn = next((f for f in chain if id(f) in exported), scope)
            if id(fn) in exported:
                kind = "serving"
        if kind is None or (cls is None and fn.name.startswith("test_") and fn.name != "test_step"):
            return None
        if _trains_or_builds(module, fn):
            return None
        if kind in ("eval", "serving") and _called_from_training(project, module, fn):
            return None
        return kind, fn

    @staticmethod
    def _deliberate(module: Module, call: ast.Call, fn: FuncNode, project: Optional[Project] = None,
                    target: Optional[ast.expr] = None) -> bool:
        names = [fn.name] + [a.name for a in module.ancestors(call) if isinstance(a, (ast.FunctionDef,
                                                                                      ast.AsyncFunctionDef, ast.ClassDef))]
        if any(_RECALIBRATION.search(n) for n in names):
            return True
        if mentions_deliberate_batch_stats(names):
            # "TTA" names test-time adaptation (batch statistics on purpose) and test-time
            # augmentation (flipped / cropped copies averaged: batch statistics gain nothing).
            # Flipping or cropping the input in the function says which one it is.
            if not (_only_tta(names) and (_augments_input(fn) or (
                    project is not None and target is not None and _runs_augmentation_layers(module, project, target)))):
                return True
        if _resets_bn_statistics(fn):
            return True
        return bool(_DELIBERATE_COMMENT.search(kf.comments_at(module, call)))

    @staticmethod
    def _bn_model(module: Module, project: Project, call: ast.Call, target: ast.expr, kind: str) -> bool:
        if isinstance(target, ast.Name) and target.id == "self":
            cls = module.enclosing_class(call)
            return cls is not None and kf.class_is_bn_model(project, module, cls)
        if kind == "callback" and isinstance(target, ast.Name):
            scope = module.scope_of(call)
            src = _shared_layers_source(module, scope, target.id) if scope is not None else None
            if src is not None and dotted(src) == "self.model":
                target = src  # a Grad-CAM model wired onto the fitted model's layers in the callback
        if kind == "callback" and isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name) \
                and target.value.id == "self" and target.attr == "model":
            cls = module.enclosing_class(call)
            assigned = [n for n in astwalk.walk(cls) if isinstance(n, ast.Assign) and any(
                isinstance(t, ast.Attribute) and t.attr == "model" and isinstance(t.value, ast.Name) and t.value.id == "self"
                for t in n.targets)] if cls is not None else []
            if assigned:
                return kf.is_bn_model(module, project, target)
            return cls is not None and _fits_bn_model(project, module, cls)
        return kf.is_bn_model(module, project, target)


_VARIABLE_MAKERS = frozenset({"tensorflow.Variable", "tensorflow.compat.v1.Variable", "tensorflow.compat.v2.Variable",
                             "keras.Variable", "keras.backend.Variable", "keras.backend.variable",
                             "tensorflow.keras.backend.variable", "tf_keras.backend.variable"})
_TAPE_METHODS = frozenset({"gradient", "jacobian", "batch_jacobian", "watch", "stop_recording", "reset"})


def _tape_differentiates_only_variables(module: Module, project: Project, call: ast.Call, scope: FuncNode,
                                        target: ast.expr) -> Optional[tuple[str, FuncNode]]:
    """("tape", function) for ``model(x, training=True)`` inside a ``GradientTape`` block whose every
    ``tape.gradient(loss, sources)`` in the function differentiates only variables the program created
    itself (``self.temperature = tf.Variable(1.0)``, a ``keras.Variable`` perturbation): post-hoc
    temperature scaling, an input optimised against a fixed model. The model is only evaluated there,
    yet training=True makes its BatchNormalization layers assign the batch statistics into their
    moving mean/variance at every iteration. None when anything else trains in the function (``fit``,
    ``minimize``, ``backward``), the tape is used otherwise, a source is not such a variable, the
    model is ``self`` (a model of its own variables), or the function is part of a training step."""
    if isinstance(target, ast.Name) and target.id == "self":
        return None
    tapes = _enclosing_tape_names(module, call, scope)
    if not tapes:
        return None
    uses = _tape_uses(module, scope, tapes)
    if uses is None or any(isinstance(n, ast.Call) and _callee_name(n) in (
            "minimize", "fit", "fit_generator", "train_on_batch", "backward", "grad", "value_and_grad",
            "stateless_call") for n in astwalk.walk(scope)):
        return None
    grads = [call for method, call in uses if method not in ("watch", "stop_recording", "reset")]
    if not grads:
        return None
    cls = module.enclosing_class(call)
    for g in grads:
        if not isinstance(g, ast.Call):
            return None
        sources = g.args[1] if len(g.args) > 1 else kf.kwarg(g, "sources")
        if sources is None or not _only_own_variables(module, scope, cls, sources):
            return None
    if _called_from_training(project, module, scope):
        return None
    return "tape", scope


# Uses of a model that neither train it, change its variables nor hand it on.
_BYSTANDER_USES = frozenset({"get_layer", "summary", "load_weights", "save", "save_weights", "count_params",
                             "predict", "evaluate", "name", "input_shape", "output_shape"})


def _pretrained_bystander_in_tape(module: Module, project: Project, call: ast.Call, scope: FuncNode,
                                  target: ast.expr) -> Optional[tuple[str, FuncNode]]:
    """("bystander", function) for ``loss_net(x, training=True)`` inside a ``GradientTape`` block whose
    every ``tape.gradient`` differentiates the variables of other models only (``gen.trainable_variables``),
    where ``loss_net`` is a pretrained network (``load_model``, ``load_weights``, a Keras application with
    its ImageNet weights — also through a project factory) that the module never trains, never reads the
    variables of, never hands on (only calls it, ``get_layer``, ``summary``, ``save``...) and never sets
    ``trainable = False`` (checked by the caller): a perceptual / feature-matching loss network. Training
    mode assigns the batch statistics of the generated and target images into its pretrained moving
    mean/variance at every step (measured with Keras 3.15). A GAN's discriminator is trained in its own
    step (its variables are read there), so it is not a bystander."""
    if not isinstance(target, ast.Name):
        return None
    tapes = _enclosing_tape_names(module, call, scope)
    if not tapes:
        return None
    name = target.id
    uses = _tape_uses(module, scope, tapes)
    grads = [g for method, g in uses or () if method == "gradient"]
    if not grads:
        return None
    for g in grads:
        if not isinstance(g, ast.Call):
            return None
        roots = kf.gradient_roots(module, g.args[1] if len(g.args) > 1 else kf.kwarg(g, "sources"))
        if not roots or any(r.split(".", 1)[0] == name for r in roots):
            return None
    for n in module.references.get(name, ()):  # loads that are not the called function itself
        if not isinstance(n, ast.Name):
            continue
        parent = module.parent(n)
        if isinstance(parent, ast.Attribute) and parent.attr in _BYSTANDER_USES:
            continue
        return None  # trained, its variables read, aliased or handed on somewhere
    return ("bystander", scope) if _bound_to_pretrained(module, project, call, name) else None


def _bound_to_pretrained(module: Module, project: Project, at: ast.AST, name: str) -> bool:
    """Is ``name`` (seen from ``at``) bound to a pretrained network: ``load_model(...)``, a Keras
    application built with its default / ImageNet weights, a name ``name.load_weights(...)`` is called
    on where it is bound, or a project factory returning one of those?"""
    owner: Optional[ast.AST] = module.scope_of(at)
    while True:
        body = owner if owner is not None else module.tree
        values = kf._assignments(body, name)
        if values or owner is None:
            break
        owner = module.scope_of(owner)
    if len(values) != 1 or not isinstance(values[0], ast.Call):
        return False
    if any(isinstance(c, ast.Call) and isinstance(c.func, ast.Attribute) and c.func.attr == "load_weights"
           and isinstance(c.func.value, ast.Name) and c.func.value.id == name for c in astwalk.walk(body)):
        return True
    return _pretrained_value(module, project, values[0], 0)


def _pretrained_value(module: Module, project: Project, value: ast.Call, depth: int) -> bool:
    q = module.imports.resolve(value.func) or ""
    if q.rsplit(".", 1)[-1] == "load_model":
        return True
    k = kf.keras_name(q) or ""
    if ".applications." in k:
        weights = kf.kwarg(value, "weights")
        vals = kf.constant_values(module, project, weights) if weights is not None else {"imagenet"}
        return vals is not None and all(isinstance(v, str) for v in vals)
    if depth >= 2:
        return False
    dm, fn = kf.resolve_def_in(project, module, value.func)
    if dm is None or not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return False
    returns = [r.value for r in kf._returns_of(fn)]
    if not returns:
        return False
    for r in returns:
        if isinstance(r, ast.Name):
            if not _bound_to_pretrained(dm, project, r, r.id):
                return False
        elif not (isinstance(r, ast.Call) and _pretrained_value(dm, project, r, depth + 1)):
            return False
    return True


def _tape_uses(module: Module, scope: FuncNode, tapes: set[str]) -> Optional[list[tuple[str, ast.AST]]]:
    """(method, the node that uses it) for every use of the tapes ``tapes`` in ``scope``
    (``tape.gradient(...)``, ``tape.watch(x)``); None when a tape is used otherwise — handed on or
    returned, its gradients are taken out of sight."""
    uses: list[tuple[str, ast.AST]] = []
    for n in astwalk.walk(scope):
        if isinstance(n, ast.Name) and n.id in tapes and isinstance(n.ctx, ast.Load):
            parent = module.parent(n)
            if not (isinstance(parent, ast.Attribute) and parent.attr in _TAPE_METHODS):
                return None
            uses.append((parent.attr, module.parent(parent)))
    return uses


def _enclosing_tape_names(module: Module, call: ast.Call, scope: FuncNode) -> Optional[set[str]]:
    """The names of the ``GradientTape`` blocks around ``call`` inside ``scope``; None when a tape
    there is not bound to a name (``with tf.GradientTape():``), empty when there is none."""
    tapes: set[str] = set()
    for a in module.ancestors(call):
        if a is scope:
            break
        if isinstance(a, (ast.With, ast.AsyncWith)):
            for item in a.items:
                if kf._is_gradient_tape(module, item.context_expr):
                    if not isinstance(item.optional_vars, ast.Name):
                        return None
                    tapes.add(item.optional_vars.id)
    return tapes


def _helper_sites(module: Module, project: Project, helpers: dict) -> Iterator[tuple]:
    """(call site, helper entries it may run) judged while checking ``module``: its own calls of
    the helpers when it mentions "training" (the rule's trigger), and the calls made in modules that
    do not (an ``evaluate.py`` importing ``compute_loss``; the trigger keeps the rule from checking
    them) of the helpers whose model call sits in ``module`` (which mentions it). Each site is
    judged once, whatever modules the pre-filter lets the rule check."""
    if "training" in module.unit.text:
        for c in module.calls:
            entries = helpers.get(c.name or "")
            if entries:
                yield c, entries
    for name, entries in helpers.items():
        if not any(e[4] is module for e in entries):
            continue
        for c in project.call_sites(name):
            if c.module is not module and "training" not in c.module.unit.text:
                yield c, entries


def _training_default_helpers(project: Project) -> dict:
    """Project functions whose mode parameter defaults to True and reaches a model call:
    ``def compute_loss(model, x, y, training=True): logits = model(x, training=training)`` (the
    parameter never rebound, the model a name or attribute, not a Keras ``call``/``build``, not in
    a layer class, the helper neither training nor building a graph), and functions handing such a
    flag of their own (True by default) on to one (two levels). By name: [(module, function,
    parameter, model call, its module, module of the model expression, model expression)], the model expression
    mapped to the outermost helper's parameter when it is handed on."""
    def compute(p: Project) -> dict:
        out: dict = {}
        for m in p.modules:
            if not m.mentions("training") or not kf.uses_keras(m):
                continue
            for c in m.calls:
                expr = kf.kwarg(c.node, "training")
                fn = c.scope
                if not isinstance(expr, ast.Name) or not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    continue
                entry = _default_true_flag(m, fn, expr.id)
                target = kf.model_expr(c.node)
                if entry is None or not isinstance(target, (ast.Name, ast.Attribute)) or dotted(target) == "self":
                    continue
                out.setdefault(fn.name, []).append((m, fn, expr.id, c.node, m, m, target))
        for _ in range(2):  # helpers handing their own default-True flag on
            added = False
            for name, entries in list(out.items()):
                for hmod, fn, param, model_call, cmod, mmod, model in list(entries):
                    for site in p.call_sites(name):
                        g = site.scope
                        if not isinstance(g, (ast.FunctionDef, ast.AsyncFunctionDef)) \
                                or not _may_call(p, hmod, fn, site):
                            continue
                        method_call = isinstance(site.node.func, ast.Attribute)
                        arg, explicit = kf.argument_for(site.node, fn, param, is_method_call=method_call)
                        if not explicit or not isinstance(arg, ast.Name) \
                                or _default_true_flag(site.module, g, arg.id) is None:
                            continue
                        new_model, new_mod = model, mmod
                        if isinstance(model, ast.Name) and mmod is hmod and kf._param_index(fn, model.id)[2]:
                            new_model, _ = kf.argument_for(site.node, fn, model.id, is_method_call=method_call)
                            new_mod = site.module
                        if not isinstance(new_model, (ast.Name, ast.Attribute)):
                            continue
                        row = (site.module, g, arg.id, model_call, cmod, new_mod, new_model)
                        have = out.setdefault(g.name, [])
                        if not any(r[1] is g and r[3] is model_call for r in have):
                            have.append(row)
                            added = True
            if not added:
                break
        return out
    return project.fact("keras.training_default_helpers", compute)


def _default_true_flag(module: Module, fn: FuncNode, name: str) -> Optional[str]:
    """``name`` when it is a parameter of ``fn`` defaulting to a literal True that ``fn`` never
    rebinds, in a plain helper: not a Keras ``call``/``build``/step method, not a method of a layer
    / model class (Keras passes the mode there), not a function that trains or builds a graph."""
    if fn.name in _KERAS_MODE_METHODS or fn.name in ("build", "__init__"):
        return None
    idx, default, found = kf._param_index(fn, name)
    if not found or not (isinstance(default, ast.Constant) and default.value is True) or _stores(fn, name):
        return None
    cls = module.enclosing_class(fn)
    if cls is not None and any(_LAYER_BASE.search(dotted(b) or "") for b in cls.bases):
        return None
    if _trains_or_builds(module, fn):
        return None
    return name


def _input_attack_run_from_evaluation(module: Module, project: Project, call: ast.Call, scope: FuncNode,
                                      target: ast.expr) -> Optional[str]:
    """``model(x_adv, training=True)`` in a function given ``model`` as a parameter, inside a
    ``GradientTape`` block whose every ``tape.gradient(loss, x)`` differentiates a tensor the tape
    ``watch``es (an adversarial attack, a saliency map: the input is optimised, the model is fixed),
    with nothing trained in the function, and that function is run only to evaluate: reached
    (through helpers handing the model on) from a method of a Keras callback given ``self.model``
    or from a function named for evaluation, and from no training step anywhere (an attack run in
    the training step is adversarial training, whose train-mode attack is a published recipe). The
    evaluation context found ("`RobustEval.on_epoch_end`"), or None."""
    if isinstance(scope, ast.Lambda):
        return None
    in_callback = _callback_method_model(module, project, call, scope, target)
    if in_callback is not None:
        param = None
    elif not isinstance(target, ast.Name):
        return None
    elif not kf._param_index(scope, target.id)[2] or _stores(scope, target.id):
        # a model built in the function on the layers of one it was given (the Grad-CAM recipe's
        # ``keras.Model(model.inputs, [model.get_layer(name).output, model.output])``): calling it
        # runs the given model's own BatchNormalization layers and updates their statistics
        param = _layer_sharing_model_of(module, scope, target.id)
        if param is None:
            return None
    else:
        param = target.id
    tapes = _enclosing_tape_names(module, call, scope)
    if not tapes:
        return None
    activations = _model_call_results(module, scope, tapes, target.id) if isinstance(target, ast.Name) else set()
    watched: set[str] = set()
    sources: list[ast.expr] = []
    for n in astwalk.walk(scope):
        if isinstance(n, ast.Name) and n.id in tapes and isinstance(n.ctx, ast.Load):
            parent = module.parent(n)
            outer = module.parent(parent)
            if not (isinstance(parent, ast.Attribute) and parent.attr in ("watch", "gradient")
                    and isinstance(outer, ast.Call) and outer.func is parent and len(outer.args) >= 1):
                return None  # the tape handed on, or used otherwise
            if parent.attr == "watch":
                if not dotted(outer.args[0]):
                    return None
                watched.add(dotted(outer.args[0]))  # ``x`` or an attribute of the callback (``self.probe``)
            else:
                src = outer.args[1] if len(outer.args) > 1 else kf.kwarg(outer, "sources")
                if src is None:
                    return None
                sources.append(src)
        if isinstance(n, ast.Call) and _callee_name(n) in _TRAINING_CALLS and _callee_name(n) != "gradient":
            return None
    if not sources or not all(dotted(e) in watched or isinstance(e, ast.Name) and e.id in activations
                              for e in sources):
        return None
    if in_callback is not None:
        return in_callback
    ok, found = _evaluation_callers(project, module, scope, param, 0)
    return found if ok else None


def _callback_method_model(module: Module, project: Project, call: ast.Call, scope: FuncNode,
                           target: ast.expr) -> Optional[str]:
    """The callback context when ``target`` is the fitted model of the Keras callback whose method
    (not ``__init__``) holds ``call``: ``self.model`` itself, or a model the method wires onto its
    layers (``keras.Model(self.model.inputs, [...])``), of a callback given to ``fit`` of a BN model."""
    cls = module.enclosing_class(call)
    if cls is None or not _is_callback_class(project, module, cls):
        return None
    top = next((a for a in [scope] + list(module.ancestors(scope)) if isinstance(a, (ast.FunctionDef, ast.AsyncFunctionDef))
                and module.parent(a) is cls), None)
    if top is None or top.name == "__init__":
        return None
    model = target
    if isinstance(target, ast.Name):
        model = _shared_layers_source(module, scope, target.id)
    if model is None or dotted(model) != "self.model" \
            or not TrainingTrueInEvaluation._bn_model(module, project, call, model, "callback"):
        return None
    return f"`{cls.name}.{top.name}`, a method of a Keras callback"


def _layer_sharing_model_of(module: Module, scope: FuncNode, name: str) -> Optional[str]:
    """The parameter of ``scope`` whose layers the model bound to ``name`` is built from (see
    ``_shared_layers_source``), when the function does not rebind it."""
    src = _shared_layers_source(module, scope, name)
    if not isinstance(src, ast.Name) or not kf._param_index(scope, src.id)[2] or _stores(scope, src.id):
        return None
    return src.id


# What a functional model wired onto another model's layers reads of it.
_GRAPH_ENDS = frozenset({"input", "inputs", "output", "outputs", "get_layer", "layers"})


def _shared_layers_source(module: Module, scope: FuncNode, name: str) -> Optional[ast.expr]:
    """The model whose layers the model bound to ``name`` is built from: ``name`` bound once in
    ``scope`` to ``keras.Model(m.inputs, [m.get_layer(...).output, m.output])`` — every input and output
    read from the same model ``m`` (a name or ``self.model``). Such a model shares ``m``'s layers
    and their variables, moving statistics included (the Grad-CAM recipe's grad model)."""
    bound = kf._assignments(scope, name)
    if len(bound) != 1 or not isinstance(bound[0], ast.Call):
        return None
    value = bound[0]
    if kf.keras_name(module.imports.resolve(value.func)) not in ("keras.Model", "keras.models.Model"):
        return None
    parts = list(value.args) + [k.value for k in value.keywords if k.arg in ("inputs", "outputs")]
    if len(parts) != 2:
        return None
    found: dict[str, ast.expr] = {}
    for part in parts:
        here = {}
        for n in astwalk.walk(part):
            if isinstance(n, ast.Attribute) and n.attr in _GRAPH_ENDS and dotted(n.value):
                here[dotted(n.value)] = n.value
            elif isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load) \
                    and not isinstance(module.parent(n), ast.Attribute):
                p = module.parent(n)
                if not (isinstance(p, ast.Call) and n in p.args and isinstance(p.func, ast.Attribute)
                        and p.func.attr == "get_layer"):
                    return None  # a tensor of its own (a new layer's output, a new Input): not just the model's
        if not here:
            return None
        found.update(here)
    if len(found) != 1:
        return None
    src = next(iter(found.values()))
    return src if isinstance(src, ast.Name) or dotted(src) == "self.model" else None


def _model_call_results(module: Module, scope: FuncNode, tapes: set[str], model: str) -> set[str]:
    """Names bound, inside a ``GradientTape`` block named in ``tapes``, to the result of calling
    ``model`` (``conv_out, preds = grad_model(x, training=...)``): activations of the model, so a
    gradient with respect to them differentiates no variable (a Grad-CAM / saliency pass)."""
    found: set[str] = set()
    for w in astwalk.walk(scope):
        if not isinstance(w, (ast.With, ast.AsyncWith)) or not any(
                isinstance(i.optional_vars, ast.Name) and i.optional_vars.id in tapes for i in w.items):
            continue
        for st in astwalk.walk(w):
            if not (isinstance(st, ast.Assign) and len(st.targets) == 1 and isinstance(st.value, ast.Call)
                    and isinstance(st.value.func, ast.Name) and st.value.func.id == model):
                continue
            t = st.targets[0]
            elts = t.elts if isinstance(t, (ast.Tuple, ast.List)) else [t]
            found |= {e.id for e in elts if isinstance(e, ast.Name)}
    return found


def _stores(fn: FuncNode, name: str) -> bool:
    """Does ``fn`` rebind ``name`` (beyond taking it as a parameter)?"""
    return any(isinstance(n, ast.Name) and n.id == name and isinstance(n.ctx, ast.Store) for n in astwalk.walk(fn))


def _evaluation_callers(project: Project, module: Module, fn: FuncNode, param: str,
                        depth: int) -> tuple[bool, Optional[str]]:
    """Where the calls of ``fn`` come from (see ``_input_attack_run_from_evaluation``): (False, None)
    when a caller is (in) a training step, trains while handing on its own parameter, or passes
    something unknown; else (True, the evaluation context found or None). Evaluation contexts: a
    method of a Keras callback passing ``self.model`` (of a callback given to ``fit`` of a BN model),
    a function named for evaluation passing a BN model; a helper handing on a parameter of its own
    is judged by its callers in turn; other callers handing over a model of their own (``main``
    after ``fit``) are neutral."""
    if depth > 3 or isinstance(fn, ast.Lambda) or _called_from_training(project, module, fn):
        return False, None
    sites = [s for s in project.call_sites(fn.name) if _may_call(project, module, fn, s)]
    if not sites:
        return False, None
    found: Optional[str] = None
    for site in sites:
        m, g = site.module, site.scope
        arg, explicit = kf.argument_for(site.node, fn, param)
        if not explicit or arg is None:
            return False, None
        if g is None or isinstance(g, ast.Lambda):
            continue  # module level, not in a step (checked by _called_from_training)
        if set(identifier_words(g.name)) & _TRAINING_WORDS:
            return False, None
        cls = m.enclosing_class(site.node)
        top = next((a for a in [g] + list(m.ancestors(g)) if isinstance(a, (ast.FunctionDef, ast.AsyncFunctionDef))
                    and m.parent(a) is cls), None) if cls is not None else None
        if cls is not None and top is not None and top.name != "__init__" and _is_callback_class(project, m, cls):
            if dotted(arg) != "self.model" or _trains_or_builds(m, top) \
                    or not TrainingTrueInEvaluation._bn_model(m, project, site.node, arg, "callback"):
                return False, None
            found = found or f"`{cls.name}.{top.name}`, a method of a Keras callback"
            continue
        handed_on = isinstance(arg, ast.Name) and bool(kf._param_index(g, arg.id)[2]) and not _stores(g, arg.id)
        if _trains_or_builds(m, g) and (handed_on or not isinstance(arg, ast.Name)):
            return False, None  # a function that trains and hands the attack a model it was given
        evaluates = bool(set(identifier_words(g.name)) & _EVAL_WORDS) and not _trains_or_builds(m, g)
        if handed_on:
            ok, up = _evaluation_callers(project, m, g, arg.id, depth + 1)
            if not ok:
                return False, None
            if up is not None:
                found = found or up
                continue
        if evaluates and kf.is_bn_model(m, project, arg):
            found = found or f"`{g.name}`, which evaluates"
    return True, found


def _only_own_variables(module: Module, scope: FuncNode, cls: Optional[ast.ClassDef], expr: ast.expr,
                        depth: int = 0) -> bool:
    """Is every element of ``expr`` (a list / tuple display, or a name bound once to one) a variable
    created by ``tf.Variable`` / ``keras.Variable`` in this function, at module level, or (``self.x``)
    in a class that is not itself a Keras layer / model?"""
    if depth > 3:
        return False
    if isinstance(expr, (ast.List, ast.Tuple)):
        return bool(expr.elts) and all(_only_own_variables(module, scope, cls, e, depth + 1) for e in expr.elts)
    if isinstance(expr, ast.Name):
        bound = kf._assignments(scope, expr.id) or (kf._assignments(module.tree, expr.id)
                                                    if expr.id not in _bound_names(scope) else [])
    elif isinstance(expr, ast.Attribute) and isinstance(expr.value, ast.Name) and expr.value.id == "self" \
            and cls is not None and not any(_LAYER_BASE.search(dotted(b) or "") for b in cls.bases):
        bound = [n.value for n in astwalk.walk(cls) if isinstance(n, (ast.Assign, ast.AnnAssign)) and any(
            isinstance(t, ast.Attribute) and t.attr == expr.attr and isinstance(t.value, ast.Name)
            and t.value.id == "self" for t in (n.targets if isinstance(n, ast.Assign) else [n.target]))]
        if any(isinstance(n, ast.AugAssign) and isinstance(n.target, ast.Attribute) and n.target.attr == expr.attr
               for n in astwalk.walk(cls)):
            return False
    else:
        return False
    if not bound or any(b is None for b in bound):
        return False
    if all(isinstance(b, ast.Call) and module.imports.resolve(b.func) in _VARIABLE_MAKERS for b in bound):
        return True
    return len(bound) == 1 and isinstance(bound[0], (ast.List, ast.Tuple)) \
        and _only_own_variables(module, scope, cls, bound[0], depth + 1)


def _deliberate_in_tape(module: Module, call: ast.Call, fn: FuncNode) -> bool:
    """Deliberate batch statistics around a tape that fits own variables: the names of test-time
    adaptation, BN recalibration (not temperature *calibration*: ``calibrate_temperature`` fits a
    scalar, it re-estimates nothing), GANs; a comment saying so; BN statistics reset in the function."""
    names = [fn.name] + [a.name for a in module.ancestors(call) if isinstance(a, (ast.FunctionDef,
                                                                                  ast.AsyncFunctionDef, ast.ClassDef))]
    if any(m.group(0).lower() != "calibrat" for n in names for m in _RECALIBRATION.finditer(n)):
        return True
    if mentions_deliberate_batch_stats(names) or any(set(identifier_words(n)) & _GAN_MODEL_WORDS for n in names):
        return True
    return _resets_bn_statistics(fn) or bool(_DELIBERATE_COMMENT.search(kf.comments_at(module, call)))


# Models sampled in training mode as they train (GANs): BN statistics of a generator are not a leak.
_GAN_MODEL_WORDS = frozenset({"generator", "discriminator", "critic", "netg", "netd"})
# Calls after which a model's moving statistics mean something: it was trained or loaded.
_TRAIN_OR_LOAD_CALLS = frozenset({"fit", "fit_generator", "train_on_batch", "apply_gradients", "minimize",
                                  "load_weights", "load_model", "restore", "set_weights", "expect_partial"})
_DUMMY_INPUTS = frozenset({"zeros", "ones", "zeros_like", "ones_like", "empty", "fill", "Input", "InputLayer",
                           "normal", "uniform", "rand", "randn", "random", "standard_normal", "truncated_normal"})


def _defaults_training_true_anywhere(project: Project) -> bool:
    """Does any ``call`` method in the project default ``training`` to a true constant?"""
    def compute(p: Project) -> bool:
        for fi in p.functions("call"):
            _, default, found = kf._param_index(fi.node, "training")
            if found and isinstance(default, ast.Constant) and bool(default.value):
                return True
        return False
    return bool(project.fact("keras.call_defaults_training_true", compute))


def _result_used(module: Module, call: ast.Call) -> bool:
    """Is the output of ``call`` used (not a bare statement, not assigned to ``_`` only)?"""
    parent = module.parent(call)
    if isinstance(parent, ast.Expr):
        return False
    if isinstance(parent, ast.Assign) and all(isinstance(t, ast.Name) and t.id == "_" for t in parent.targets):
        return False
    return True


def _dummy_input(module: Module, call: ast.Call) -> bool:
    """Is the input a placeholder made to build the model (``tf.zeros((1, 32, 32, 3))``,
    ``keras.Input(...)``, ``np.random.rand(...)``), directly or through a name bound to one?"""
    if not call.args:
        return True
    first = call.args[0]
    values: list = [first]
    if isinstance(first, ast.Name):
        scope = module.scope_of(call)
        values = kf._assignments(scope if scope is not None else module.tree, first.id) or [first]
    for v in values:
        if not (isinstance(v, ast.Call) and (_callee_name(v) or "") in _DUMMY_INPUTS):
            return False
    return True


def _sublayers_ignore_flag(cls: ast.ClassDef) -> bool:
    """Does the ``call`` of ``cls`` pass every sublayer (``self.x(...)``, ``self.blocks[i](...)``) an
    explicit ``training`` other than its own parameter (``self.backbone(x, training=False)``)? Then
    its default reaches no BN."""
    fn = next((n for n in cls.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name == "call"), None)
    if fn is None or not kf._param_index(fn, "training")[2]:
        return False
    sublayer_calls = [n for n in astwalk.walk(fn) if isinstance(n, ast.Call) and "self" in
                      {x.id for x in astwalk.walk(n.func) if isinstance(x, ast.Name)}]
    if not sublayer_calls:
        return False
    for n in sublayer_calls:
        expr = kf.kwarg(n, "training")
        if expr is None and len(n.args) >= 2 and isinstance(n.args[1], ast.Constant):
            expr = n.args[1]
        if expr is None or (isinstance(expr, ast.Name) and expr.id == "training"):
            return False
    return True


def _only_when_training(module: Module, fn: ast.AST, node: ast.AST) -> bool:
    """Does ``node`` run only when ``fn``'s incoming ``training`` is true? Inside ``if training:``, in
    the ``else`` of ``if not training:``, or after an ``if not training: return ...`` at the same level
    (xuannianz/EfficientDet's freezable BN: ``training=not self.freeze`` there means ``training and not
    self.freeze``)."""
    params = {a.arg for a in fn.args.args + fn.args.kwonlyargs}
    flag = "training" if "training" in params else None
    if flag is None:
        return False

    def truth(test: ast.AST) -> Optional[bool]:
        if isinstance(test, ast.Name) and test.id == flag:
            return True
        if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
            inner = truth(test.operand)
            return None if inner is None else not inner
        return None

    child = node
    for anc in module.ancestors(node):
        if isinstance(anc, ast.If):
            t = truth(anc.test)
            if t is True and child in anc.body or t is False and child in anc.orelse:
                return True
        for body in (getattr(anc, "body", None), getattr(anc, "orelse", None)):
            if isinstance(body, list) and child in body:
                for st in body[:body.index(child)]:
                    if isinstance(st, ast.If) and truth(st.test) is False and not st.orelse \
                            and st.body and isinstance(st.body[-1], (ast.Return, ast.Raise)):
                        return True
        if anc is fn:
            break
        child = anc
    return False


def _bn_subclass(project: Project, module: Module, cls: ast.ClassDef, depth: int = 0) -> bool:
    """Does ``cls`` derive from Keras' BatchNormalization, directly or through project classes?"""
    if depth > 4:
        return False
    for b in cls.bases:
        if kf.is_keras_bn_layer(module.imports.resolve(b)):
            return True
        bmod, base = kf.resolve_def_in(project, module, b)
        if isinstance(base, ast.ClassDef) and bmod is not None and _bn_subclass(project, bmod, base, depth + 1):
            return True
    return False


_KERAS_LAYER_BASES = frozenset({"keras.Model", "keras.models.Model", "keras.layers.Layer", "keras.Layer",
                                "keras.engine.base_layer.Layer"})
# Standalone Keras 2 / TF1 era spellings: there a BN call with training=None follows the learning phase
# that fit() feeds.
_LEGACY_KERAS = re.compile(r"\bkeras\.engine\b|learning_phase|\bget_session\b|\bset_session\b"
                           r"|keras\.layers\.(normalization|core)\b|\bConvolution2D\b")
_FROZEN_CLASS_WORDS = frozenset({"frozen", "freeze", "fixed", "fix", "inference", "eval", "static"})


def _keras_layer_class(project: Project, module: Module, cls: ast.ClassDef, depth: int = 0) -> bool:
    """Does ``cls`` derive from Keras' Layer or Model, directly or through project classes?"""
    if depth > 4:
        return False
    for b in cls.bases:
        if kf.keras_name(module.imports.resolve(b)) in _KERAS_LAYER_BASES or kf.is_keras_bn_layer(module.imports.resolve(b)):
            return True
        bmod, base = kf.resolve_def_in(project, module, b)
        if isinstance(base, ast.ClassDef) and bmod is not None and _keras_layer_class(project, bmod, base, depth + 1):
            return True
    return False


def _frozen_self_attributes(cls: ast.ClassDef) -> set[str]:
    """``x`` for each ``self.x.trainable = False`` in ``cls``, and ``self`` for ``self.trainable = False``."""
    out: set[str] = set()
    for n in astwalk.walk(cls):
        if isinstance(n, ast.Assign) and kf._literal(n.value) is False:
            for t in n.targets:
                if isinstance(t, ast.Attribute) and t.attr == "trainable":
                    d = dotted(t.value)
                    if d == "self":
                        out.add("self")
                    elif d is not None and d.startswith("self.") and d.count(".") == 1:
                        out.add(d[5:])
    return out


# Keras-3-only API: the file runs on Keras 3, where call(**kwargs) never receives `training`.
_KERAS3_ONLY = re.compile(r"\bKERAS_BACKEND\b|\bkeras\.ops\b|^\s*from keras import [^\n]*\bops\b|\bkeras\.config\b"
                          r"|\bkeras\.random\.|\bkeras\.src\b|\bkeras\.Variable\b", re.M)


def _keras3_bases(project: Project, module: Module, cls: ast.ClassDef, depth: int = 0) -> bool:
    """Are the Keras bases of ``cls`` (directly or through project classes) all imported from
    ``keras`` itself, none from ``tensorflow.keras`` / ``tf_keras`` (Keras 2 in TF < 2.16)?"""
    if depth > 4:
        return False
    found = False
    for b in cls.bases:
        q = module.imports.resolve(b) or ""
        if q.startswith(("tensorflow", "tf_keras")):
            return False
        if q.startswith("keras."):
            found = True
            continue
        bmod, base = kf.resolve_def_in(project, module, b)
        if isinstance(base, ast.ClassDef) and bmod is not None:
            if not _keras3_bases(project, bmod, base, depth + 1):
                return False
            found = True
    return found


def _kwargs_training_lookup(call: FuncNode, splat: str, expr: Optional[ast.expr]) -> Optional[ast.Call]:
    """``kwargs.get("training", False)`` / ``kwargs.pop("training", False)`` given as ``expr``, directly
    or through a local name ``call`` binds once, only to it; None otherwise (or a default that is not
    always false)."""
    if isinstance(expr, ast.Name):
        bound = kf._assignments(call, expr.id)
        if len(bound) != 1 or any(isinstance(n, (ast.AugAssign, ast.AnnAssign, ast.For, ast.With, ast.NamedExpr))
                                  and expr.id in {t.id for t in astwalk.walk(n) if isinstance(t, ast.Name)
                                                  and isinstance(t.ctx, ast.Store)} for n in astwalk.walk(call)):
            return None
        expr = bound[0]
    if not (isinstance(expr, ast.Call) and isinstance(expr.func, ast.Attribute) and expr.func.attr in ("get", "pop")
            and isinstance(expr.func.value, ast.Name) and expr.func.value.id == splat and len(expr.args) == 2
            and not expr.keywords and isinstance(expr.args[0], ast.Constant) and expr.args[0].value == "training"):
        return None
    default = kf._literal(expr.args[1])
    return expr if default is False or (default == 0 and type(default) is int) else None


def _mode_parameter_may_be_passed(project: Project, program: list, cls: ast.ClassDef, call: FuncNode,
                                  name: str) -> bool:
    """May some call in ``program`` give ``call``'s parameter ``name`` a value: a keyword ``name=``
    anywhere, or — to something that may be an instance (a variable or ``self.<attr>`` bound to one
    or to something known only at run time, an item of a container, ``Block(...)`` itself) —
    enough positional arguments to reach it, or ``*args`` / ``**kwargs``?"""
    idx = kf._param_index(call, name)[0]
    pos = idx - 1 if idx is not None else None
    for m in program:
        tops = kf._toplevel_defs(m.tree)
        for c in m.calls:
            node = c.node
            if any(k.arg == name for k in node.keywords):
                return True
            if not (kf.has_kwargs_splat(node) or any(isinstance(a, ast.Starred) for a in node.args)
                    or pos is not None and len(node.args) > pos):
                continue
            if _may_call_instance(project, m, tops, node, cls):
                return True
    return False


def _may_call_instance(project: Project, m: Module, tops: dict, node: ast.Call, cls: ast.ClassDef) -> bool:
    """May ``node`` call an instance of ``cls``: a variable or ``self.<attr>`` bound to one or to
    something known only at run time, an item of a container, ``Block(...)(x)`` itself? Not a
    module-level function, a builtin, an imported name or a method of the calling class."""
    f = node.func
    if isinstance(f, ast.Name):
        if f.id in tops or f.id in _BUILTIN_NAMES or m.imports.resolve(f) is not None:
            return False
    elif isinstance(f, ast.Attribute) and dotted(f.value) == "self":
        owner = m.enclosing_class(node)
        if owner is not None and any(isinstance(d, (ast.FunctionDef, ast.AsyncFunctionDef)) and d.name == f.attr
                                     for d in owner.body):
            return False
    elif not isinstance(f, (ast.Call, ast.Subscript)):
        return False
    if isinstance(f, ast.Subscript):
        return True  # `self.blocks[i](x, True)`: any instance
    if isinstance(f, ast.Call):
        return kf.resolve_def(project, m, f.func) is cls  # `Block(64)(x, True)`
    bound = _classes_bound_to(m, project, f)
    # (a loss or metric object of a library takes two arguments too)
    return bound is not None and any(b == "dynamic" or b[1] is cls or any(
        kf.resolve_def(project, b[0], base) is cls for base in b[1].bases) for b in bound)


_BUILTIN_NAMES = frozenset(dir(__import__("builtins")))


def _is_parent_call(cls: ast.ClassDef, call: ast.Call) -> bool:
    """Is ``call`` the parent's call run from a subclass: ``super().call(...)``,
    ``super(C, self).call(...)``, ``Base.call(self, ...)``?"""
    f = call.func
    if not (isinstance(f, ast.Attribute) and f.attr == "call"):
        return False
    v = f.value
    if isinstance(v, ast.Call) and isinstance(v.func, ast.Name) and v.func.id == "super":
        return True
    return dotted(v) is not None and dotted(v) in {dotted(b) for b in cls.bases} and bool(call.args) \
        and isinstance(call.args[0], ast.Name) and call.args[0].id == "self"


def _parent_call_training(cls: ast.ClassDef, call: ast.Call) -> Optional[ast.expr]:
    """The ``training`` that ``call`` — the parent's call run from a subclass's ``call``:
    ``super().call(x, training=...)``, ``super(C, self).call(...)``, ``Base.call(self, x, ...)`` —
    gives; None for any other call or when it gives none."""
    f = call.func
    if not (isinstance(f, ast.Attribute) and f.attr == "call"):
        return None
    v = f.value
    if isinstance(v, ast.Call) and isinstance(v.func, ast.Name) and v.func.id == "super":
        position = 1
    elif dotted(v) is not None and dotted(v) in {dotted(b) for b in cls.bases} and call.args \
            and isinstance(call.args[0], ast.Name) and call.args[0].id == "self":
        position = 2
    else:
        return None
    expr = kf.kwarg(call, "training")
    if expr is None and len(call.args) > position and not any(isinstance(a, ast.Starred)
                                                             for a in call.args[:position + 1]):
        expr = call.args[position]
    return expr


_FREEZE_SWITCH_WORDS = frozenset({"freeze", "frozen", "freezed", "fix", "fixed", "trainable"})


def _switch_truth(expr: ast.expr, env: dict[str, bool]):
    """The truth value of a training expression made of ``self.<attr>`` switches and constants under
    ``env``; None when it contains anything else."""
    if isinstance(expr, ast.Constant):
        return bool(expr.value) if isinstance(expr.value, (bool, int, type(None))) else None
    if isinstance(expr, ast.Attribute) and isinstance(expr.value, ast.Name) and expr.value.id == "self":
        return env.get(expr.attr)
    if isinstance(expr, ast.UnaryOp) and isinstance(expr.op, ast.Not):
        v = _switch_truth(expr.operand, env)
        return None if v is None else not v
    if isinstance(expr, ast.BoolOp):
        vals = [_switch_truth(v, env) for v in expr.values]
        if any(v is None for v in vals):
            return None
        return all(vals) if isinstance(expr.op, ast.And) else any(vals)
    if isinstance(expr, ast.IfExp):
        test = _switch_truth(expr.test, env)
        return None if test is None else _switch_truth(expr.body if test else expr.orelse, env)
    if isinstance(expr, ast.Compare) and len(expr.ops) == 1 \
            and isinstance(expr.ops[0], (ast.Eq, ast.NotEq, ast.Is, ast.IsNot)):
        a, b = _switch_truth(expr.left, env), _switch_truth(expr.comparators[0], env)
        if a is None or b is None:
            return None
        return (a == b) if isinstance(expr.ops[0], (ast.Eq, ast.Is)) else (a != b)
    return None


def _freeze_switch_expression(module: Module, project: Project, cls: ast.ClassDef,
                              expr: ast.expr) -> Optional[tuple[str, bool]]:
    """The freeze switch (``freeze``, ``frozen``, ``trainable``...) a BN subclass's ``training``
    expression is built from, when the expression reads nothing but ``self.<attr>`` switches and
    constants (not the call's own ``training``, a local, a call such as ``K.learning_phase()``), is
    True for some value of them and False for another, the switches are set at construction only
    (no other method assigns them: a mode attribute switched before inference is not this), and
    not every construction of the class in the project freezes it. Returns (switch, the value of
    the switch that makes the expression True)."""
    attrs = sorted({n.attr for n in astwalk.walk(expr) if isinstance(n, ast.Attribute)})
    if not attrs or len(attrs) > 3 or any(isinstance(n, ast.Name) and n.id != "self" for n in astwalk.walk(expr)):
        return None
    switches = [a for a in attrs if set(identifier_words(a)) & _FREEZE_SWITCH_WORDS]
    if not switches:
        return None
    outcomes: dict[bool, list[dict[str, bool]]] = {}
    for bits in range(2 ** len(attrs)):
        env = {a: bool(bits >> i & 1) for i, a in enumerate(attrs)}
        value = _switch_truth(expr, env)
        if value is None:
            return None
        outcomes.setdefault(value, []).append(env)
    if set(outcomes) != {True, False}:
        return None  # a constant in disguise: always batch statistics (on purpose) or always frozen
    construction = ("__init__", "build", "from_config", "get_config")
    for n in astwalk.walk(cls):
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name not in construction:
            for st in astwalk.walk(n):
                targets = st.targets if isinstance(st, ast.Assign) else [st.target] \
                    if isinstance(st, (ast.AugAssign, ast.AnnAssign)) else []
                if any(isinstance(t, ast.Attribute) and dotted(t.value) == "self" and t.attr in attrs
                       for t in targets):
                    return None  # switched by a method: a mode attribute, set before inference
    switch = switches[0]
    if len(attrs) == 1 and _every_construction_sets(module, project, cls, switch,
                                                    {e[switch] for e in outcomes[False]}):
        return None
    return switch, outcomes[True][0][switch]


def _every_construction_sets(module: Module, project: Project, cls: ast.ClassDef, attr: str,
                             values: set) -> bool:
    """Does every construction of ``cls`` in the project (at least one) store one of ``values`` in
    ``self.<attr>`` (``__init__`` stores a parameter there; its argument, or default, is known)?"""
    init = next((f for f in cls.body if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))
                 and f.name == "__init__"), None)
    if init is None:
        return False
    param = next((st.value.id for st in astwalk.walk(init) if isinstance(st, ast.Assign)
                  and isinstance(st.value, ast.Name) and kf._param_index(init, st.value.id)[2]
                  and any(isinstance(t, ast.Attribute) and dotted(t.value) == "self" and t.attr == attr
                          for t in st.targets)), None)
    if param is None:
        return False
    sites = [s for s in project.call_sites(cls.name) if kf.resolve_def(project, s.module, s.node.func) is cls]
    if not sites:
        return False
    for s in sites:
        arg, _ = kf.argument_for(s.node, init, param, is_method_call=True)
        found = kf.argument_values(s.module, project, arg) if arg is not None else None
        if not found or not all(isinstance(v, bool) for v in found) or not set(found) <= values:
            return False
    return True


def _trains_or_loads(call: ast.Call) -> bool:
    name = _callee_name(call) or ""
    return name in _TRAIN_OR_LOAD_CALLS or bool({"train", "training", "fit"} & set(identifier_words(name)))


# Base classes of Keras layers and models (``layers.Layer``, ``keras.Model``, ``base_layer.Layer``...).
_LAYER_BASE = re.compile(r"(Layer|Model|Network|Functional|Sequential|Wrapper)$")

# Methods whose mode parameter Keras itself fills in.
_KERAS_MODE_METHODS = frozenset({"call", "__call__", "train_step", "test_step", "predict_step"})

# A string given as ``training`` that names a phase other than training (or spells a false value).
_NOT_TRAINING_WORD = re.compile(r"val|valid|validation|validate|validating|eval|evaluate|evaluation|evaluating|test|"
                                r"testing|predict|prediction|inference|infer|dev|false|no|off|none|0", re.I)


def _string_mode_consumers(project: Project) -> list:
    """``call``/``__call__`` methods of the project that compare their mode parameter (``training``,
    else the one after the inputs) with a string (``training == "train"``, ``mode in ("val",
    "test")``): for their classes a string mode is the protocol, not a truthy mistake."""
    def compute(p: Project) -> list:
        out = []
        for m in p.modules:
            for fi in m.functions:
                fn = fi.node
                if fn.name not in ("call", "__call__") or fi.cls is None:
                    continue
                params = [a.arg for a in fn.args.posonlyargs + fn.args.args][1:]
                names = {"training"} | set(params[1:2]) | {a.arg for a in fn.args.kwonlyargs if a.arg == "training"}
                for n in astwalk.walk(fn):
                    if isinstance(n, ast.Compare) and any(
                            isinstance(x, ast.Name) and x.id in names for x in [n.left, *n.comparators]) and any(
                            isinstance(c, ast.Constant) and isinstance(c.value, str)
                            for x in [n.left, *n.comparators]
                            for c in ([x] if not isinstance(x, (ast.Tuple, ast.List, ast.Set)) else x.elts)):
                        out.append((fn, m))
                        break
        return out
    return project.fact("keras.string_mode_consumers", compute)


def _eager_keras(module: Module) -> bool:
    """Not TF1 graph code (a Session, placeholders, eager execution disabled): there the tf1 rules judge
    the training flag."""
    return not any(c.qualname in TF1_MARKERS or (c.qualname or "").startswith("tensorflow.compat.v1.placeholder")
                   or c.qualname in ("tensorflow.compat.v1.Session", "tensorflow.compat.v1.disable_eager_execution",
                                     "tensorflow.compat.v1.disable_v2_behavior")
                   for c in module.calls)


def _lambda_callback_hook(module: Module, chain: list[FuncNode]) -> Optional[FuncNode]:
    """The function of ``chain`` (a call's enclosing functions, innermost first) given to a
    ``keras.callbacks.LambdaCallback`` as one of its ``on_*`` hooks — by name from the scope that
    defines it (a closure, a module function) or as ``self.<method>`` from its own class: fit()
    calls it between training steps, like a method of a ``Callback`` subclass."""
    hooks = [c for c in module.calls if c.name == "LambdaCallback"
             and kf.keras_name(c.qualname) == "keras.callbacks.LambdaCallback"]
    if not hooks:
        return None
    for fn in chain:
        defined_in = module.scope_of(fn)
        owner = module.parent(fn)
        for c in hooks:
            for kw in c.node.keywords:
                if not (kw.arg or "").startswith("on_") or kw.arg == "on_train_begin":
                    continue  # before the first step: the whole training washes a contamination out
                v = kw.value
                if isinstance(v, ast.Name) and v.id == fn.name and not isinstance(owner, ast.ClassDef) \
                        and (defined_in is None or defined_in is c.scope):
                    return fn
                if isinstance(v, ast.Attribute) and v.attr == fn.name and isinstance(v.value, ast.Name) \
                        and v.value.id == "self" and isinstance(owner, ast.ClassDef) \
                        and module.enclosing_class(c.node) is owner:
                    return fn
    return None


def _unit_test_module(module: Module) -> bool:
    """A test file (``test_x.py``, ``x_test.py``, ``conftest.py``) that holds tests: a ``test*``
    function, a ``Test*`` / ``TestCase`` class, or a pytest / unittest import. A script that only
    carries the suffix (``export_smoke_test.py`` with a ``main()``) collects nothing under pytest:
    it is run as a program, and its model calls are judged as such."""
    if not is_test_file(module.path):
        return False
    if module.imports.imports_any("pytest") or module.imports.imports_any("unittest"):
        return True
    for n in astwalk.walk(module.tree):
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name.lower().startswith("test"):
            return True
        if isinstance(n, ast.ClassDef) and (n.name.startswith("Test") or any(
                (dotted(b) or "").endswith("TestCase") for b in n.bases)):
            return True
    return False


def _serving_signatures(project: Project) -> dict:
    """{id(function): (module, call)} for the functions a program exports as serving signatures of a
    SavedModel: given to ``signatures=`` of ``tf.saved_model.save`` / ``model.save`` /
    ``save_model`` (directly, as ``fn.get_concrete_function(...)``, or in a dict / list of them) or
    as the ``fn`` of ``ExportArchive.add_endpoint``. A served signature is inference by definition:
    whoever loads the SavedModel calls it on production inputs. Module functions (also nested ones
    of the saving function, and ``tf.function(f)`` wrappers) and methods of the project classes the
    receiver is bound to (``module.serve`` with ``module = ServingModule(model)``)."""
    def compute(p: Project) -> dict:
        out: dict = {}
        for m in p.modules:
            if _unit_test_module(m) or not (m.mentions("signatures") or m.mentions("add_endpoint")):
                continue
            for c in m.calls:
                refs: list = []
                given = kf.kwarg(c.node, "signatures")
                if given is not None:
                    refs.append(given)
                if c.name == "add_endpoint":
                    fn_arg = kf.kwarg(c.node, "fn")
                    refs.append(fn_arg if fn_arg is not None else c.node.args[1] if len(c.node.args) > 1 else None)
                while refs:
                    r = refs.pop()
                    if isinstance(r, ast.Dict):
                        refs += r.values
                    elif isinstance(r, (ast.List, ast.Tuple)):
                        refs += r.elts
                    elif isinstance(r, ast.Call) and isinstance(r.func, ast.Attribute) \
                            and r.func.attr == "get_concrete_function":
                        refs.append(r.func.value)
                    elif isinstance(r, (ast.Name, ast.Attribute)):
                        for fmod, f in _signature_functions(p, m, c.scope, r):
                            if f.name not in ("call", "__call__"):  # a layer's own forward: its literal
                                out.setdefault(id(f), (m, c.node))  # modes are its design, not a slip
        return out
    return project.fact("keras.serving_signatures", compute)


def _signature_functions(project: Project, module: Module, scope: Optional[FuncNode], ref: ast.expr,
                         depth: int = 0) -> list:
    """The project functions (module, def) a signature reference names; [] when unknown."""
    if depth > 2:
        return []
    if isinstance(ref, ast.Name):
        owner = scope if scope is not None else module.tree
        local = [n for n in astwalk.walk(owner) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
                 and n.name == ref.id and module.scope_of(n) is scope]
        if local:
            return [(module, local[0])]
        values = kf._assignments(owner, ref.id)
        if values:
            out: list = []
            for v in values:
                if not isinstance(v, ast.Call):
                    continue
                if isinstance(v.func, ast.Attribute) and v.func.attr == "get_concrete_function":
                    inner = v.func.value  # ``concrete = serve.get_concrete_function(spec)``
                elif v.args and (module.imports.resolve(v.func) or "").endswith("function"):
                    inner = v.args[0]  # ``serve = tf.function(_serve, input_signature=[...])``
                else:
                    continue
                if isinstance(inner, (ast.Name, ast.Attribute)):
                    out += _signature_functions(project, module, scope, inner, depth + 1)
            return out
        fmod, d = kf.resolve_def_in(project, module, ref)
        return [(fmod, d)] if isinstance(d, (ast.FunctionDef, ast.AsyncFunctionDef)) and fmod is not None else []
    if isinstance(ref, ast.Attribute):
        out = []
        for found in _classes_bound_to(module, project, ref.value) or ():
            if found == "dynamic":
                continue
            cmod, cls = found
            out += [(cmod, f) for f in cls.body if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))
                    and f.name == ref.attr]
        return out
    return []


def _evaluator_dispatch(module: Module, cls: ast.ClassDef, fn: FuncNode) -> bool:
    """``Evaluator.__call__`` / ``Validator.run``: a generic entry-point method of a class whose
    name says it evaluates (and not that it trains)."""
    if fn.name not in _DISPATCH_METHODS or module.parent(fn) is not cls:
        return False
    words = set(identifier_words(cls.name))
    return bool(words & _EVALUATOR_CLASS_WORDS) and not words & _TRAINING_WORDS


def _owner_name(module: Module, fn: FuncNode) -> str:
    cls = module.enclosing_class(fn)
    return cls.name if cls is not None else "?"


def _is_callback_class(project: Project, module: Module, cls: ast.ClassDef, depth: int = 0) -> bool:
    """Does ``cls`` derive from ``keras.callbacks.Callback`` (any spelling, or through project bases)?"""
    if depth > 4:
        return False
    for b in cls.bases:
        k = kf.keras_name(module.imports.resolve(b)) or ""
        if k.endswith("callbacks.Callback"):
            return True
        bmod, base = kf.resolve_def_in(project, module, b)
        if isinstance(base, ast.ClassDef) and bmod is not None and _is_callback_class(project, bmod, base, depth + 1):
            return True
    return False


def _fits_bn_model(project: Project, module: Module, cls: ast.ClassDef) -> bool:
    """Is an instance of the callback class built in a scope that calls ``fit`` of a model with BN?"""
    for site in project.call_sites(cls.name):
        if kf.resolve_def(project, site.module, site.node.func) is not cls:
            continue
        for fit in site.module.calls:
            if fit.name in ("fit", "fit_generator") and fit.scope is site.scope \
                    and isinstance(fit.node.func, ast.Attribute) \
                    and kf.is_bn_model(site.module, project, fit.node.func.value):
                return True
    return False


def _function_calls(fn: ast.AST) -> Iterable[ast.Call]:
    return (n for n in astwalk.walk(fn) if isinstance(n, ast.Call))


def _trains_or_builds(module: Module, fn: FuncNode) -> bool:
    """Does ``fn`` (or a function nested in it) compute gradients / apply updates / run fit, or
    build a functional graph (``keras.Input``: a call there binds the flag into the graph)?"""
    for n in _function_calls(fn):
        f = n.func
        name = f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else None
        if name in _TRAINING_CALLS:
            return True
        if name in ("step", "apply") and isinstance(f, ast.Attribute) and "opt" in (dotted(f.value) or "").lower():
            return True  # optimizer.step() / optimizer.apply(grads, vars)
        if (kf.keras_name(module.imports.resolve(f)) or "") in _GRAPH_BUILDERS:
            return True
    return False


def _called_from_training(project: Project, module: Module, fn: FuncNode) -> bool:
    """Is ``fn`` (defined in ``module``) called as part of a training step — the forward pass of a
    training step (``predict`` called inside the ``GradientTape`` block, in the loss given to
    ``minimize`` or ``jax.grad``, in a function named for training, or next to a ``loss.backward()`` /
    ``apply_gradients`` statement of the same block)? An evaluation called between epochs of a
    training loop is not: a call placed after the inner step loop of a training function's epoch
    loop is not part of the step. Only calls that can run ``fn`` count (``_may_call``; the instance
    calls of an ``Evaluator.__call__``)."""
    sites = [site for site in project.call_sites(fn.name) if _may_call(project, module, fn, site)]
    cls = module.parent(fn)
    if fn.name == "__call__" and isinstance(cls, ast.ClassDef):
        sites += kf.instance_calls(project, module, cls)
    for site in sites:
        m = site.module
        child: ast.AST = site.node
        after_step_loop = False
        for a in m.ancestors(site.node):
            if isinstance(a, (ast.With, ast.AsyncWith)) and any(
                    "GradientTape" in (m.imports.resolve(i.context_expr.func if isinstance(i.context_expr, ast.Call)
                                                         else i.context_expr) or ast.unparse(i.context_expr))
                    for i in a.items):
                return True
            if isinstance(a, ast.Lambda) and isinstance(m.parent(a), ast.Call) \
                    and _callee_name(m.parent(a)) in _TRAINING_CALLS:
                return True
            body = getattr(a, "body", None)
            position = next((i for i, st in enumerate(body) if st is child), None) if isinstance(body, list) else None
            if position is not None:
                if any(_statement_trains(st) for st in body):
                    return True
                after_step_loop = after_step_loop or any(_is_step_loop(st) for st in body[:position])
            if isinstance(a, (ast.FunctionDef, ast.AsyncFunctionDef)):
                if (set(identifier_words(a.name)) & _TRAINING_WORDS and not after_step_loop) \
                        or a.name in _differentiated_functions(m):
                    return True
            if position is not None and isinstance(a, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                break
            child = a
    return False


def _is_step_loop(stmt: ast.AST) -> bool:
    """A loop that runs training steps (``for x, y in ds: train_step(x, y)``; a call named for
    training, ``step`` or a gradient/update call inside)."""
    if not isinstance(stmt, (ast.For, ast.AsyncFor, ast.While)):
        return False
    for n in astwalk.walk(stmt):
        if isinstance(n, ast.Call):
            name = _callee_name(n) or ""
            if name in _STEP_CALLS or {"train", "training", "fit"} & set(identifier_words(name)):
                return True
    return False


_STEP_CALLS = frozenset({"step", "backward", "apply_gradients", "minimize", "gradient", "train_on_batch"})


def _may_call(project: Project, module: Module, fn: FuncNode, site) -> bool:
    """Can the call ``site`` run ``fn`` of ``module``? Only in the same program (another script of the
    folder never calls it); a module-level function only through a name that resolves to it (a
    ``self.val_step(...)`` method call cannot run a module-level ``val_step``), a method only
    through an attribute call, a nested function only through a bare name in its module."""
    if id(site.module) not in project.import_component(module):
        return False
    func = site.node.func
    defs = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
    owner = next((a for a in module.ancestors(fn) if isinstance(a, defs)), None)
    if isinstance(owner, ast.ClassDef):
        return isinstance(func, ast.Attribute)
    if owner is not None:
        return isinstance(func, ast.Name) and site.module is module
    resolved = kf.resolve_def(project, site.module, func)
    if resolved is fn:
        return True
    # a definition under `if __name__ == ...` / `try:` is not indexed as a top-level one
    return resolved is None and isinstance(func, ast.Name) and site.module is module


def _callee_name(call: ast.Call) -> Optional[str]:
    f = call.func
    return f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else None


def _statement_trains(stmt: ast.AST) -> bool:
    """A statement of a block (loops and nested definitions not entered) that computes gradients or
    steps an optimizer."""
    stack = [stmt]
    while stack:
        n = stack.pop()
        if isinstance(n, (ast.For, ast.AsyncFor, ast.While, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue
        if isinstance(n, ast.Call) and _callee_name(n) in ("backward", "apply_gradients", "minimize", "gradient"):
            return True
        stack.extend(ast.iter_child_nodes(n))
    return False


def _differentiated_functions(module: Module) -> set[str]:
    """Names handed to ``minimize`` / ``jax.grad`` / ``value_and_grad`` in ``module``."""
    return {c.node.args[0].id for c in module.calls if c.name in ("minimize", "grad", "value_and_grad")
            and c.node.args and isinstance(c.node.args[0], ast.Name)}


def _resets_bn_statistics(fn: FuncNode) -> bool:
    """``bn.momentum = 0.0`` or ``layer.moving_mean.assign(...)``: re-estimating the statistics on purpose."""
    for n in astwalk.walk(fn):
        if isinstance(n, ast.Assign) and any(isinstance(t, ast.Attribute) and t.attr in ("momentum", "moving_mean",
                                                                                         "moving_variance")
                                             for t in n.targets):
            return True
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr == "assign" \
                and isinstance(n.func.value, ast.Attribute) and n.func.value.attr in ("moving_mean", "moving_variance"):
            return True
    return False


def _model_copied_in(module: Module, fn: FuncNode, target: ast.expr) -> bool:
    """Is the called model a copy made in ``fn`` (``m = keras.models.clone_model(model)``,
    ``copy.deepcopy(model)``): the original keeps its statistics."""
    if not isinstance(target, ast.Name):
        return False
    for value in kf._assignments(fn, target.id):
        if isinstance(value, ast.Call):
            q = module.imports.resolve(value.func) or ""
            if q.endswith("clone_model") or q in ("copy.deepcopy", "copy.copy"):
                return True
    return False


_LAYER_LISTS = frozenset({"layers", "submodules", "_flatten_layers"})


def _bn_layers_frozen_before(module: Module, project: Project, call: ast.Call, scope: FuncNode,
                             target: ast.expr) -> bool:
    """Does the function around ``call`` (or a project helper it hands the model to before the call,
    ``prepare_for_mc(model)``) set the model's BatchNormalization layers non-trainable: a loop over
    ``model.layers`` (``submodules``, ``_flatten_layers()``) assigning ``layer.trainable = False`` to
    every layer or to those an ``isinstance(layer, BatchNormalization)`` test picks? Keras 3 and
    tf.keras 2 then run those BN layers in inference mode even with training=True (MC dropout done
    right)."""
    if not isinstance(target, ast.Name):
        return False
    if _loop_freezes_bn(module, scope, target.id):
        return True
    for n in astwalk.walk(scope):
        if not (isinstance(n, ast.Call) and n.lineno <= call.lineno and n is not call):
            continue
        for i, a in enumerate(n.args):
            if not (isinstance(a, ast.Name) and a.id == target.id):
                continue
            hmod, fn = kf.resolve_def_in(project, module, n.func)
            if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            params = fn.args.posonlyargs + fn.args.args
            if i < len(params) and _loop_freezes_bn(hmod, fn, params[i].arg):
                return True
    return False


def _loop_freezes_bn(module: Module, fn: ast.AST, model: str) -> bool:
    for loop in astwalk.walk(fn):
        if not isinstance(loop, (ast.For, ast.AsyncFor)) or not isinstance(loop.target, ast.Name):
            continue
        it = loop.iter
        if isinstance(it, ast.Call):
            it = it.func
        while isinstance(it, ast.Subscript):
            it = it.value
        if not (isinstance(it, ast.Attribute) and it.attr in _LAYER_LISTS and isinstance(it.value, ast.Name)
                and it.value.id == model):
            continue
        var = loop.target.id
        for n in astwalk.walk(loop):
            if not (isinstance(n, ast.Assign) and kf._literal(n.value) is False and any(
                    isinstance(t, ast.Attribute) and t.attr == "trainable" and isinstance(t.value, ast.Name)
                    and t.value.id == var for t in n.targets)):
                continue
            guards = [a for a in module.ancestors(n) if isinstance(a, ast.If) and loop in module.ancestors(a)]
            if all(_isinstance_bn_test(module, g.test, var) and not any(n in astwalk.walk(s) for s in g.orelse)
                   for g in guards):
                return True
    return False


def _isinstance_bn_test(module: Module, test: ast.expr, var: str) -> bool:
    """``isinstance(var, BatchNormalization)`` (a tuple of BN classes included)."""
    if not (isinstance(test, ast.Call) and isinstance(test.func, ast.Name) and test.func.id == "isinstance"
            and len(test.args) == 2 and isinstance(test.args[0], ast.Name) and test.args[0].id == var):
        return False
    classes = test.args[1].elts if isinstance(test.args[1], ast.Tuple) else [test.args[1]]
    return bool(classes) and all(kf.is_keras_bn_layer(module.imports.resolve(k)) for k in classes)


def _sampling(module: Module, call: ast.Call, fn: FuncNode) -> bool:
    """MC-dropout / sampling code: training=True is there for dropout (no one-word fix)."""
    text = " ".join([fn.name, kf.comments_at(module, call)]).lower()
    return bool(re.search(r"dropout|\bmc\b|mc_|uncertain|sampl|bayes|stochastic|ensemble", text))


# --------------------------------------------------------------------------------------------------
# BN207: a clone_model copy averaged over its trainable weights only


_TRAINABLE_ACCESSORS = frozenset({"trainable_weights", "trainable_variables"})
# What can bring the source's moving statistics (or fresh ones) into the copy.
_STATISTICS_SYNC = frozenset({"weights", "variables", "non_trainable_weights", "non_trainable_variables", "layers",
                              "set_weights", "load_weights", "fit", "fit_generator", "train_on_batch",
                              "stateless_call", "assign", "assign_add", "assign_sub"})
# Receivers that only prepare the copy (no use of its outputs).
_COPY_SETUP = frozenset({"build", "compile", "summary", "trainable_weights", "trainable_variables"})


@register
class AveragedCloneStaleStatistics(Rule):
    code = "BN207"
    name = "averaged-clone-stale-bn"
    framework = "keras"
    summary = "A clone_model copy or twin-built model updated over its trainable weights only (EMA / SWA / target model): BN statistics stay 0/1."
    triggers = ("clone_model", "trainable_weights", "trainable_variables")
    doc = RuleDoc(
        what="""
Finds a `keras.models.clone_model(model)` copy (any Keras spelling: `tf.keras`, `tf_keras`, Keras 3),
or a separate model built by a project builder or model class (`target_critic = make_critic(cfg)`,
`teacher = Net()`, also in a tuple assignment `self.actor_t, self.critic_t = make_actor(), make_critic()`),
whose weights are then updated only through `zip(copy.trainable_weights, model.trainable_weights)`
(or `trainable_variables`, either order), assigning to the copy's side (`avg.assign(d * avg + (1 - d)
* live)`, `assign_sub`, a plain copy): a weight-averaging callback (EMA / Polyak / SWA-style
shadow model), a target network, written inline or in a helper function given the copy (every copy the
helper is called with: `soft_update(self.target_critic, ...)` and `soft_update(self.target_actor, ...)`).
Reported at the `clone_model` (or builder) call when the source model (the built model) contains BatchNormalization (for a callback's
`self.model`: a model the callback is given to `fit` of), the copy is used (evaluated, called,
returned, saved, handed on), and nothing in the program brings the statistics into the copy.
""",
        why="""
`clone_model` (like a second call of the model builder) builds new layers with *fresh* variables: the
copy's BatchNormalization moving mean and variance start at 0 and 1 (its trainable weights are
re-initialised too; a `set_weights(model.get_weights())` at construction copies the statistics of that
moment only). The moving statistics are
non-trainable weights, so an update that walks `trainable_weights` never touches them: the averaged
model normalises every input with mean 0 / variance 1 instead of the statistics of the data its
weights were trained on (measured with Keras 3.15: after `fit` the shadow model's moving mean is
still exactly 0 while the live model's has moved), and its evaluation is wrong.
""",
        example="""
class WeightEMA(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.ema = keras.models.clone_model(self.model)

    def on_train_batch_end(self, batch, logs=None):
        for e, w in zip(self.ema.trainable_weights, self.model.trainable_weights):
            e.assign(0.999 * e + 0.001 * w)
""",
        use_instead="""
    def on_train_begin(self, logs=None):
        self.ema = keras.models.clone_model(self.model)
        self.ema.set_weights(self.model.get_weights())

    def on_train_batch_end(self, batch, logs=None):
        for e, w in zip(self.ema.weights, self.model.weights):   # moving statistics copied too
            e.assign(0.999 * e + 0.001 * w if w.trainable else w)
""",
        not_flagged="""
- updates over `weights` / `variables` (the moving statistics are averaged or copied with them);
- a copy whose statistics the program sets or re-estimates elsewhere: `set_weights` /
  `load_weights` outside the function that clones it, access to its `weights`, `variables`,
  `non_trainable_*` or `layers`, `get_layer(...).set_weights` / `moving_mean.assign`, `fit` /
  `train_on_batch` or a `training=True` call of the copy (BN recalibration), or a project function it
  is handed to that does any of these (also an unknown method it is given);
- EMA stores that are not a separate model (`tf.train.ExponentialMovingAverage`, an optimizer's
  `use_ema=True`, a list of `tf.Variable` copies swapped into the live model): the live model keeps
  its own statistics;
- source models without BatchNormalization, copies that are never used, unit-test files.
""",
        versions=KERAS_VERSIONS,
    )

    def check(self, module: Module, project: Project) -> Iterable[Finding]:
        if is_test_file(module.path) or not module.mentions("trainable_") or not kf.uses_keras(module):
            return
        reported: set[int] = set()
        for loop, target, it in _zip_loops(module):
            pair = _trainable_zip(it)
            if pair is None or not isinstance(target, ast.Tuple) or len(target.elts) != 2 \
                    or not all(isinstance(e, ast.Name) for e in target.elts):
                continue
            names = [e.id for e in target.elts]  # type: ignore[attr-defined]
            assigned = _assigned_loop_names(loop, names)
            for side in (0, 1):
                if names[side] not in assigned or names[1 - side] in assigned:
                    continue
                shadow = pair[side]
                for cmod, call, key in _clone_of(module, project, loop, shadow, 0) or ():
                    if cmod is not module:
                        continue  # (the copy made in another module: the pre-filter keeps only files naming clone_model)
                    if id(call) in reported or not _clone_source_has_bn(cmod, project, call):
                        continue
                    state = _copy_state(cmod, project, call, key)
                    if state != "used":
                        continue
                    reported.add(id(call))
                    at = module.line_ref(loop.lineno)
                    yield self._report(module, call, it, at)

    def _report(self, module: Module, call: ast.Call, it: ast.expr, at: str) -> Finding:
        return self.finding(module, call, (
                    f"`{ast.unparse(call)}` makes a separate model with its own variables, and it is then updated only "
                    f"through `{ast.unparse(it)}` ({at}): its BatchNormalization moving "
                    "mean/variance are non-trainable, so they never follow the source model (0/1 from `clone_model`, "
                    "or whatever was copied at cloning time) and the averaged weights are used with statistics "
                    "that are not theirs; walk `weights` instead (average the trainable ones, copy the moving "
                    "statistics), or set them from the source model before it is used"))


def _zip_loops(module: Module) -> Iterator[tuple[ast.AST, ast.expr, ast.expr]]:
    """(loop or comprehension, target, iterable) of every ``for`` over a two-argument ``zip(...)``."""
    for c in module.calls:
        if c.name != "zip" or len(c.node.args) != 2 or not isinstance(c.node.func, ast.Name):
            continue
        parent = module.parent(c.node)
        if isinstance(parent, (ast.For, ast.AsyncFor)) and parent.iter is c.node:
            yield parent, parent.target, c.node
        elif isinstance(parent, ast.comprehension) and parent.iter is c.node:
            yield module.parent(parent), parent.target, c.node


def _trainable_zip(it: ast.expr) -> Optional[tuple[ast.expr, ast.expr]]:
    """(a, b) of ``zip(a.trainable_weights, b.trainable_variables)``."""
    if not (isinstance(it, ast.Call) and isinstance(it.func, ast.Name) and it.func.id == "zip"
            and len(it.args) == 2 and not it.keywords):
        return None
    roots = [a.value for a in it.args if isinstance(a, ast.Attribute) and a.attr in _TRAINABLE_ACCESSORS]
    return (roots[0], roots[1]) if len(roots) == 2 else None


def _assigned_loop_names(loop: ast.AST, names: list[str]) -> set[str]:
    """The loop variables the loop body writes with ``v.assign(...)`` / ``assign_add`` / ``assign_sub``."""
    out = set()
    for n in astwalk.walk(loop):
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) \
                and n.func.attr in ("assign", "assign_add", "assign_sub") \
                and isinstance(n.func.value, ast.Name) and n.func.value.id in names:
            out.add(n.func.value.id)
    return out


def _is_clone_model(module: Module, expr: Optional[ast.expr], project: Optional[Project] = None) -> bool:
    """A ``clone_model(model)`` call, or (given ``project``) a call of a project function / class that
    builds a model (``target_critic = make_critic(cfg)``, ``self.target = QNet()``): either way a
    separate model with variables of its own."""
    if not isinstance(expr, ast.Call):
        return False
    q = module.imports.resolve(expr.func) or ""
    if q.endswith("clone_model") and bool(kf.keras_name(q)) and bool(expr.args):
        return True
    return project is not None and isinstance(kf.resolve_def(project, module, expr.func),
                                              (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))


def _self_attribute_values(cls: ast.ClassDef, attr: str) -> list[Optional[ast.expr]]:
    """The values assigned to ``self.<attr>`` in the class, also by tuple unpacking
    (``self.target_actor, self.target_critic = make_actor(), make_critic()``); None for a part that
    cannot be seen (``self.a, self.b = pair``)."""
    out: list[Optional[ast.expr]] = []
    for n in astwalk.walk(cls):
        if not isinstance(n, ast.Assign):
            continue
        for t in n.targets:
            if isinstance(t, ast.Attribute) and t.attr == attr and isinstance(t.value, ast.Name) and t.value.id == "self":
                out.append(n.value)
            elif isinstance(t, (ast.Tuple, ast.List)) and any(
                    isinstance(e, ast.Attribute) and e.attr == attr and isinstance(e.value, ast.Name)
                    and e.value.id == "self" for e in astwalk.walk(t)):
                part = None
                if isinstance(n.value, (ast.Tuple, ast.List)) and len(n.value.elts) == len(t.elts) \
                        and not any(isinstance(e, ast.Starred) for e in t.elts + n.value.elts):
                    part = next((v for e, v in zip(t.elts, n.value.elts) if isinstance(e, ast.Attribute)
                                 and e.attr == attr and isinstance(e.value, ast.Name) and e.value.id == "self"), None)
                out.append(part)
    return out


def _clone_of(module: Module, project: Project, at: ast.AST, expr: ast.expr,
              depth: int) -> Optional[list[tuple[Module, ast.Call, tuple]]]:
    """The separate models (``clone_model`` calls, project model builders) ``expr`` (the copy's side of
    the zip) holds: ``self.x`` assigned one in the class (besides ``None``), a name assigned one in the
    scope, or a parameter the calls of the function pass such copies for (each resolved one). With a
    key naming the copy (("attr", x, class) / ("name", id, scope))."""
    if depth > 2:
        return None
    if isinstance(expr, ast.Attribute) and isinstance(expr.value, ast.Name) and expr.value.id == "self":
        cls = module.enclosing_class(at)
        if cls is None:
            return None
        bound = _self_attribute_values(cls, expr.attr)
        clones = [b for b in bound if _is_clone_model(module, b, project)]
        if len(clones) != 1 or any(b is not clones[0] and not (isinstance(b, ast.Constant) and b.value is None)
                                   for b in bound):
            return None
        return [(module, clones[0], ("attr", expr.attr, cls))]
    if not isinstance(expr, ast.Name):
        return None
    scope = module.scope_of(at)
    owner = scope if scope is not None else module.tree
    bound = kf._assignments(owner, expr.id)
    if bound:
        if len(bound) == 1 and _is_clone_model(module, bound[0], project):
            return [(module, bound[0], ("name", expr.id, owner))]
        return None
    if scope is None or isinstance(scope, ast.Lambda) or module.enclosing_class(scope) is not None:
        return None
    params = [a.arg for a in scope.args.posonlyargs + scope.args.args]
    if expr.id not in params:
        if expr.id in _bound_names(scope) or any(isinstance(a, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
                                                 for a in module.ancestors(scope)):
            return None
        bound = kf._assignments(module.tree, expr.id)  # a module-level copy used inside a function
        if len(bound) == 1 and _is_clone_model(module, bound[0], project):
            return [(module, bound[0], ("name", expr.id, module.tree))]
        return None
    position = params.index(expr.id)
    found: list[tuple[Module, ast.Call, tuple]] = []
    for site in project.call_sites(scope.name):
        if kf.resolve_def(project, site.module, site.node.func) is not scope:
            continue
        arg = kf.kwarg(site.node, expr.id)
        if arg is None and len(site.node.args) > position \
                and not any(isinstance(a, ast.Starred) for a in site.node.args[:position + 1]):
            arg = site.node.args[position]
        # ``soft_update(self.target_actor, ...)`` and ``soft_update(self.target_critic, ...)``: each copy
        # a call passes is updated by this loop (an argument that is not a copy says nothing of the others)
        got = _clone_of(site.module, project, site.node, arg, depth + 1) if arg is not None else None
        found += [g for g in got or () if all(g[1] is not f[1] for f in found)]
    return found or None


def _clone_source_has_bn(module: Module, project: Project, call: ast.Call) -> bool:
    """Does the model given to ``clone_model`` contain BatchNormalization (a callback's ``self.model``:
    a model the callback is given to ``fit`` of)?"""
    q = module.imports.resolve(call.func) or ""
    if not (q.endswith("clone_model") and call.args):
        return kf.is_bn_model(module, project, call)  # a model built by a project builder / class
    src = call.args[0]
    if isinstance(src, ast.Attribute) and isinstance(src.value, ast.Name) and src.value.id == "self" \
            and src.attr == "model":
        cls = module.enclosing_class(call)
        if cls is not None and _is_callback_class(project, module, cls):
            return _fits_bn_model(project, module, cls)
    return kf.is_bn_model(module, project, src)


def _copy_state(module: Module, project: Project, call: ast.Call, key: tuple) -> str:
    """"synced" when something in the program may bring statistics into the copy, "used" when the copy
    is evaluated / called / handed on (and nothing syncs it), "unused" otherwise."""
    kind, name, owner = key
    refs: list[tuple[Module, ast.AST]] = []
    if kind == "attr":
        program = same_program(module, project)
        for m in project.modules:
            if id(m) in program and m.mentions(name):
                refs += [(m, n) for n in m.references.get(name, ()) if isinstance(n, ast.Attribute)]
                refs += [(m, c.node.func) for c in m.calls if c.name == name and isinstance(c.node.func, ast.Attribute)]
    else:
        refs = [(module, n) for n in astwalk.walk(owner) if isinstance(n, ast.Name) and n.id == name
                and isinstance(n.ctx, ast.Load)]
    clone_fn = module.scope_of(call)
    used = False
    seen_aliases: set = set()
    while refs:
        m, r = refs.pop()
        parent = m.parent(r)
        if isinstance(parent, ast.Attribute) and parent.value is r:
            if parent.attr in _STATISTICS_SYNC:
                if parent.attr == "set_weights" and m is module and m.scope_of(r) is clone_fn \
                        and _same_block(m, r, call):
                    continue  # the copy of the weights at cloning time: the statistics of that moment
                return "synced"
            if parent.attr == "get_layer":
                chain = [a for a, _ in zip(m.ancestors(parent), range(4))]
                if any(isinstance(a, ast.Attribute) and a.attr in ("set_weights", "assign") for a in chain):
                    return "synced"
                used = True
                continue
            if parent.attr not in _COPY_SETUP:
                used = True
            continue
        if isinstance(parent, ast.Call) and parent.func is r:
            if kf.always_true(m, project, kf.kwarg(parent, "training")):
                return "synced"  # run in training mode: its statistics are re-estimated
            used = True
            continue
        if isinstance(parent, (ast.Call, ast.keyword)):
            site = parent if isinstance(parent, ast.Call) else m.parent(parent)
            if isinstance(site, ast.Call) and _callee_may_sync(m, project, site):
                return "synced"
            used = True
            continue
        if isinstance(parent, ast.Assign) and parent.value is r:
            for t in parent.targets:
                if isinstance(t, ast.Name) and (id(m), t.id) not in seen_aliases:
                    seen_aliases.add((id(m), t.id))
                    scope = m.scope_of(parent)
                    refs += [(m, n) for n in astwalk.walk(scope if scope is not None else m.tree)
                             if isinstance(n, ast.Name) and n.id == t.id and isinstance(n.ctx, ast.Load)]
            continue
        used = True  # returned, stored in a container, compared...
    return "used" if used else "unused"


def _same_block(module: Module, a: ast.AST, b: ast.AST) -> bool:
    """Are ``a`` and ``b`` in statements of one statement list (``ema.set_weights(...)`` right beside
    the ``clone_model`` line, not inside a loop or branch that repeats it)?"""
    sa, sb = module.statement_of(a), module.statement_of(b)
    if sa is None or sb is None:
        return False
    pa = module.parent(sa)
    return pa is module.parent(sb) and any(
        isinstance(v, list) and sa in v and sb in v for v in (getattr(pa, f, None) for f in pa._fields))


def _callee_may_sync(module: Module, project: Project, site: ast.Call) -> bool:
    """Can the function the copy is handed to set or re-estimate its statistics: a project function
    (or a method of the enclosing class) whose body reads ``weights`` / ``layers``, calls
    ``set_weights`` / ``fit`` or runs a model with training=True; a callee of unknown make (a
    method of another object) may."""
    f = site.func
    if isinstance(f, ast.Name) and f.id in ("zip", "print", "len", "list", "isinstance", "id", "str", "repr"):
        return False
    fn = kf.resolve_def(project, module, f)
    if fn is None and isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) and f.value.id == "self":
        cls = module.enclosing_class(site)
        fn = next((b for b in cls.body if isinstance(b, (ast.FunctionDef, ast.AsyncFunctionDef))
                   and b.name == f.attr), None) if cls is not None else None
    if fn is None:
        q = module.imports.resolve(f)
        if q and not q.startswith(("keras", "tensorflow", "tf_keras", "numpy", "jax")) and q.split(".")[0] in \
                {m.name.split(".")[0] for m in project.modules if getattr(m, "name", None)}:
            return True
        return isinstance(f, ast.Attribute) and not q  # a method of some object: unknown
    for n in astwalk.walk(fn):
        if isinstance(n, ast.Attribute) and n.attr in _STATISTICS_SYNC - {"assign", "assign_add", "assign_sub"}:
            return True
        if isinstance(n, ast.keyword) and n.arg == "training" and isinstance(n.value, ast.Constant) \
                and n.value.value is True:
            return True
        if isinstance(n, ast.Attribute) and n.attr in ("moving_mean", "moving_variance"):
            return True
    return False


# --------------------------------------------------------------------------------------------------
# BN208: BatchNorm statistics reset (or re-weighted) for a re-estimation pass that runs in inference mode


_MOVING_STATS = frozenset({"moving_mean", "moving_variance"})
# Calls that run a model in training mode (the statistics move there).
_TRAINING_RUNS = frozenset({"fit", "fit_generator", "train_on_batch", "train_step"})
# Inference-mode entry points of a Keras model.
_INFERENCE_RUNS = frozenset({"predict", "predict_on_batch", "evaluate", "test_on_batch", "predict_step"})
# What leads from a model to its layers.
_LAYER_WALKS = frozenset({"layers", "submodules", "get_layer", "_flatten_layers", "_layers"})


@register
class RecalibrationInInferenceMode(Rule):
    code = "BN208"
    name = "bn-recalibration-in-inference-mode"
    framework = "keras"
    summary = ("BN moving statistics reset (or their momentum re-weighted) for a re-estimation pass whose forward "
               "calls run without training=True (inference mode): the statistics never move.")
    triggers = ("moving_mean", "moving_variance", ".momentum =")
    doc = RuleDoc(
        what="""
Finds a function that re-estimates a Keras model's BatchNormalization statistics the PyTorch way
(`torch.optim.swa_utils.update_bn`, AdaBN-style recalibration): it resets the moving statistics
(`layer.moving_mean.assign(zeros_like(...))`, `layer.moving_variance.assign(ones...)`,
`K.set_value(layer.moving_mean, np.zeros(...))`) or sets the BN layers' `momentum` inside the loop
over the data (a cumulative average, `layer.momentum = i / (i + 1)`), and then runs the model whose
layers it walked (`model.layers`, `model.submodules`, `model.get_layer(...)`, or the model the reset
layer hangs on) forward without `training=True` — `model(x)`, `model(x, training=False)`,
`model.predict(x)`, `predict_on_batch` — and nowhere in training mode. Reported at the first such
forward call.
""",
        why="""
A Keras BatchNormalization updates its moving mean and variance only when it runs in training mode.
Outside `fit`, `model(x)` leaves `training` None, which Keras (Keras 3, and tf.keras / tf_keras in
eager code) runs in inference mode; `predict` / `evaluate` always do. So the forward passes of the
re-estimation change nothing: after a reset the model keeps mean 0 / variance 1 (measured with Keras
3.15: the moving mean of an SWA copy is still exactly 0 after a torch-style `update_bn` port that
calls `model(images)`; with `model(images, training=True)` it matches the data), and a re-weighted
momentum leaves the old statistics in place. Every later evaluation normalizes with them.
""",
        example="""
def update_bn(model, loader):
    norms = [l for l in model.layers if isinstance(l, keras.layers.BatchNormalization)]
    for l in norms:
        l.moving_mean.assign(keras.ops.zeros_like(l.moving_mean))
        l.moving_variance.assign(keras.ops.ones_like(l.moving_variance))
    for i, (x, _) in enumerate(loader):
        for l in norms:
            l.momentum = i / (i + 1.0)
        model(x)
""",
        use_instead="""
        model(x, training=True)   # BN updates its moving statistics only in training mode
""",
        not_flagged="""
- re-estimation passes that run the model with `training=True` (or a non-constant `training`), or by
  `fit` / `train_on_batch`, or call the BN layers themselves with `training=True`;
- functions that compute the statistics themselves and assign them after the forward passes
  (`moving_mean.assign(batch_means.mean(0))`: the forward pass only collects activations);
- resets to values other than zeros/ones (statistics copied from another model), forward calls of
  objects other than the model whose layers were reset, models whose `call` defaults `training` to
  true, programs that call `set_learning_phase`, and test files.
""",
        versions=KERAS_VERSIONS,
    )

    def check(self, module: Module, project: Project) -> Iterable[Finding]:
        if is_test_file(module.path) or not kf.uses_keras(module):
            return
        if not (module.mentions("moving_mean") or module.mentions("moving_variance") or module.mentions(".momentum =")):
            return
        if any((c.qualname or "").endswith("set_learning_phase") for c in module.calls):
            return
        starts: dict[int, tuple[FuncNode, list[tuple[ast.AST, str]]]] = {}
        for c in module.calls:  # resets of the moving statistics
            reset = self._reset_target(module, c.node)
            if reset is not None and c.scope is not None:
                starts.setdefault(id(c.scope), (c.scope, []))[1].append((c.node, "reset"))
        if module.mentions(".momentum ="):
            for n in module.nodes_of_kind.get(ast.Assign, ()):
                if any(isinstance(t, ast.Attribute) and t.attr == "momentum" and isinstance(t.value, ast.Name)
                       for t in n.targets):
                    fn = module.scope_of(n)
                    loop = next((a for a in module.ancestors(n) if isinstance(a, (ast.For, ast.While))), None)
                    if fn is not None and loop is not None and module.scope_of(loop) is fn:
                        starts.setdefault(id(fn), (fn, []))[1].append((n, "momentum"))
        for fn, signals in starts.values():
            found = self._inference_pass(module, project, fn, signals)
            if found is None:
                continue
            call, model, signal = found
            what = (f"resets the BatchNormalization moving statistics (`{ast.unparse(signal)[:80]}`, "
                    f"{module.line_ref(signal.lineno)})" if isinstance(signal, ast.Call) else
                    f"re-weights the BatchNormalization momentum in its loop (`{ast.unparse(signal)[:80]}`, "
                    f"{module.line_ref(signal.lineno)})")
            stays = "keep mean 0 / variance 1" if isinstance(signal, ast.Call) else "keep their old values"
            yield self.finding(module, call, (
                f"`{fn.name}` {what} to re-estimate them, but runs `{model}` forward with "
                f"`{ast.unparse(call)[:60]}`, in inference mode (no training=True): Keras BatchNormalization "
                f"updates its moving statistics only in training mode, so they {stays} and every later "
                "evaluation normalizes with them; call the model with training=True in this pass"))

    @staticmethod
    def _reset_target(module: Module, call: ast.Call) -> Optional[ast.expr]:
        """``x.moving_mean.assign(zeros...)`` / ``K.set_value(x.moving_variance, np.ones(...))``: the
        statistic's owner expression when the value is a zeros/ones reset."""
        f = call.func
        if isinstance(f, ast.Attribute) and f.attr == "assign" and isinstance(f.value, ast.Attribute) \
                and f.value.attr in _MOVING_STATS and len(call.args) == 1:
            target, value = f.value, call.args[0]
        elif isinstance(f, (ast.Attribute, ast.Name)) and (f.attr if isinstance(f, ast.Attribute) else f.id) == "set_value" \
                and len(call.args) == 2 and isinstance(call.args[0], ast.Attribute) and call.args[0].attr in _MOVING_STATS:
            target, value = call.args[0], call.args[1]
        else:
            return None
        if isinstance(value, ast.Constant) and value.value in (0, 1) and not isinstance(value.value, bool):
            return target.value
        if isinstance(value, ast.Call):
            name = value.func.attr if isinstance(value.func, ast.Attribute) else getattr(value.func, "id", "")
            if name in ("zeros", "zeros_like", "ones", "ones_like"):
                return target.value
        return None

    @staticmethod
    def _inference_pass(module: Module, project: Project, fn: FuncNode,
                        signals: list) -> Optional[tuple[ast.Call, str, ast.AST]]:
        """The first forward call of the walked model after the first signal, when every model run in
        ``fn`` after it is in inference mode and nothing assigns computed statistics afterwards."""
        first = min(signals, key=lambda s: (s[0].lineno, s[0].col_offset))[0]
        roots: set[str] = set()
        for n in astwalk.walk(fn):
            if isinstance(n, ast.Attribute) and n.attr in _LAYER_WALKS:
                d = dotted(n.value)
                if d:
                    roots.add(d)
        for s, kind in signals:
            if kind == "reset":
                owner = RecalibrationInInferenceMode._reset_target(module, s)  # type: ignore[arg-type]
                d = dotted(owner) if owner is not None else None
                if d and "." in d:
                    roots.add(d.rsplit(".", 1)[0])  # ``model.bn1.moving_mean``: the model
        if not roots:
            return None
        forwards: list[tuple[ast.Call, str]] = []
        for n in astwalk.walk(fn):
            if not isinstance(n, ast.Call) or (n.lineno, n.col_offset) <= (first.lineno, first.col_offset):
                continue
            if module.scope_of(n) is not fn:
                continue
            f = n.func
            if isinstance(f, ast.Attribute) and f.attr in _TRAINING_RUNS:
                return None
            if isinstance(f, ast.Attribute) and (f.attr == "assign" and isinstance(f.value, ast.Attribute)
                                                 and f.value.attr in _MOVING_STATS
                                                 and n is not first and all(n is not s for s, _ in signals)):
                return None  # statistics computed by hand and assigned after the pass
            if isinstance(f, (ast.Attribute, ast.Name)) and (f.attr if isinstance(f, ast.Attribute) else f.id) == "set_value" \
                    and all(n is not s for s, _ in signals):
                return None
            d = dotted(f)
            expr, known = kf.training_arg(n) if d in roots else (kf.kwarg(n, "training"), True)
            if not known:
                return None
            if expr is not None and not kf.always_false(module, project, expr):
                return None  # a training-mode (or unknown-mode) run somewhere in the pass
            if d in roots:
                forwards.append((n, d))
            elif isinstance(f, ast.Attribute) and f.attr in _INFERENCE_RUNS and dotted(f.value) in roots:
                forwards.append((n, dotted(f.value)))  # type: ignore[arg-type]
        if not forwards:
            return None
        if all(kind == "momentum" for _, kind in signals):
            # a momentum set once before some later use says nothing: the re-estimation loop sets it
            # per batch and runs the forward pass in the same loop
            def loops(node: ast.AST) -> set[int]:
                return {id(a) for a in module.ancestors(node) if isinstance(a, (ast.For, ast.While))}
            shared = set().union(*(loops(s) for s, _ in signals))
            forwards = [fw for fw in forwards if loops(fw[0]) & shared]
            if not forwards:
                return None
        call, model = forwards[0]
        if model != "self" and _instance_defaults_training_true(module, project, call.func if not isinstance(
                call.func, ast.Attribute) or call.func.attr not in _INFERENCE_RUNS else call.func.value):
            return None
        signal = next(s for s, _ in sorted(signals, key=lambda s: (s[0].lineno, s[0].col_offset)))
        return call, model, signal


# --------------------------------------------------------------------------------------------------
# BN202 helper: a PyTorch-style port whose call() takes a missing `training` from its own mode flag


def _own_mode_flag(project: Project, module: Module, cls: ast.ClassDef, depth: int = 0) -> Optional[tuple[Module, ast.ClassDef, str]]:
    """(module, class, attr) when ``cls``'s ``call`` (or a project base's) fills a missing
    ``training`` from ``self.<attr>`` (``if training is None: training = self.is_train_mode``,
    ``training = self.flag if training is None else training``): a PyTorch port's own train()/eval()."""
    if depth > 3:
        return None
    fn = next((f for f in cls.body if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef)) and f.name == "call"), None)
    if fn is None:
        for b in cls.bases:
            bmod, base = kf.resolve_def_in(project, module, b)
            if isinstance(base, ast.ClassDef) and bmod is not None:
                got = _own_mode_flag(project, bmod, base, depth + 1)
                if got is not None:
                    return got
        return None
    if not kf._param_index(fn, "training")[2]:
        return None

    def none_test(t: ast.expr) -> Optional[bool]:  # True: `training is None`, False: `training is not None`
        if isinstance(t, ast.Compare) and isinstance(t.left, ast.Name) and t.left.id == "training" \
                and len(t.ops) == 1 and isinstance(t.comparators[0], ast.Constant) and t.comparators[0].value is None:
            return True if isinstance(t.ops[0], (ast.Is, ast.Eq)) else False if isinstance(t.ops[0], (ast.IsNot, ast.NotEq)) else None
        return None

    def self_attr(e: ast.expr) -> Optional[str]:
        if isinstance(e, ast.Call) and isinstance(e.func, ast.Name) and e.func.id == "bool" and len(e.args) == 1:
            e = e.args[0]
        if isinstance(e, ast.Attribute) and isinstance(e.value, ast.Name) and e.value.id == "self":
            return e.attr
        return None

    for st in astwalk.walk(fn):
        if isinstance(st, ast.If) and none_test(st.test) is True:
            for a in st.body:
                if isinstance(a, ast.Assign) and len(a.targets) == 1 and isinstance(a.targets[0], ast.Name) \
                        and a.targets[0].id == "training" and self_attr(a.value):
                    return module, cls, self_attr(a.value)  # type: ignore[return-value]
        if isinstance(st, ast.Assign) and len(st.targets) == 1 and isinstance(st.targets[0], ast.Name) \
                and st.targets[0].id == "training" and isinstance(st.value, ast.IfExp):
            kind = none_test(st.value.test)
            branch = st.value.body if kind is True else st.value.orelse if kind is False else None
            if branch is not None and self_attr(branch):
                return module, cls, self_attr(branch)  # type: ignore[return-value]
    return None


class _PortModeFlow:
    """Values of a port's mode flag (``self.<attr>``) along the statements of a function, for one
    tracked object (``model``, ``self``): True / False, "in" (the value at the function's entry) and
    "?" (unknown). Setter methods of the class (``train(mode=True)``, ``eval()`` calling
    ``self.train(False)``) and project functions the object is handed to are summarised by running
    their bodies the same way (three levels deep)."""

    def __init__(self, project: Project, cmod: Module, cls: ast.ClassDef, attr: str):
        self.project, self.cmod, self.cls, self.attr = project, cmod, cls, attr
        self.false_sites: list[tuple[Module, ast.AST]] = []
        init = self._method("__init__")
        vals: set = set()
        if init is not None:
            for n in astwalk.walk(init[1]):
                if isinstance(n, ast.Assign) and any(isinstance(t, ast.Attribute) and t.attr == attr
                                                     and dotted(t.value) == "self" for t in n.targets):
                    vals |= self._value(n.value, {})
        self.init = frozenset(vals or {"?"})

    def _method(self, name: str, cls: Optional[ast.ClassDef] = None, mod: Optional[Module] = None,
                depth: int = 0) -> Optional[tuple[Module, FuncNode]]:
        cls, mod = cls or self.cls, mod or self.cmod
        for f in cls.body:
            if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef)) and f.name == name:
                return mod, f
        if depth < 3:
            for b in cls.bases:
                bmod, base = kf.resolve_def_in(self.project, mod, b)
                if isinstance(base, ast.ClassDef) and bmod is not None:
                    got = self._method(name, base, bmod, depth + 1)
                    if got is not None:
                        return got
        return None

    @staticmethod
    def _value(expr: Optional[ast.expr], env: dict) -> set:
        if isinstance(expr, ast.Constant) and isinstance(expr.value, bool):
            return {expr.value}
        if isinstance(expr, ast.Name) and expr.id in env:
            return set(env[expr.id])
        if isinstance(expr, ast.UnaryOp) and isinstance(expr.op, ast.Not):
            return {(not v) if isinstance(v, bool) else "?" for v in _PortModeFlow._value(expr.operand, env)}
        return {"?"}

    def run_function(self, mod: Module, fn: FuncNode, tracked: str, env: dict, depth: int,
                     target: Optional[ast.AST] = None) -> tuple[frozenset, frozenset]:
        """(state at the end of ``fn`` started from {"in"}, state at ``target``'s statement)."""
        frame = {"returns": set(), "at": set(), "target": mod.statement_of(target) if target is not None else None}
        end = self._run(mod, fn.body, frozenset({"in"}), tracked, env, depth, frame)
        return frozenset(end | frame["returns"]), frozenset(frame["at"])

    def _run(self, mod: Module, stmts: list, state: frozenset, tracked: str, env: dict, depth: int,
             frame: dict) -> frozenset:
        for s in stmts:
            if s is frame["target"]:
                frame["at"] |= state
            if isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                continue
            if isinstance(s, ast.If):
                state = self._run(mod, s.body, state, tracked, env, depth, frame) \
                    | self._run(mod, s.orelse, state, tracked, env, depth, frame)
            elif isinstance(s, (ast.For, ast.AsyncFor, ast.While)):
                cur = state
                for _ in range(4):
                    new = cur | self._run(mod, s.body, cur, tracked, env, depth, frame)
                    if new == cur:
                        break
                    cur = new
                state = cur | self._run(mod, s.orelse, cur, tracked, env, depth, frame)
            elif isinstance(s, (ast.With, ast.AsyncWith)):
                state = self._run(mod, s.body, state, tracked, env, depth, frame)
            elif isinstance(s, ast.Try) or type(s).__name__ == "TryStar":
                body = self._run(mod, s.body, state, tracked, env, depth, frame)
                handled = frozenset().union(*(self._run(mod, h.body, state | body, tracked, env, depth, frame)
                                              for h in s.handlers)) if s.handlers else frozenset()
                state = (self._run(mod, s.orelse, body, tracked, env, depth, frame) if s.orelse else body) | handled
                if s.finalbody:
                    state = self._run(mod, s.finalbody, state, tracked, env, depth, frame)
            elif type(s).__name__ == "Match":
                state = frozenset().union(*(self._run(mod, c.body, state, tracked, env, depth, frame)
                                            for c in s.cases)) | state
            elif isinstance(s, ast.Return):
                frame["returns"] |= self._effects(mod, s, state, tracked, env, depth)
                state = frozenset()
            elif isinstance(s, ast.Raise):
                state = frozenset()
            else:
                state = self._effects(mod, s, state, tracked, env, depth)
        return state

    def _effects(self, mod: Module, stmt: ast.stmt, state: frozenset, tracked: str, env: dict,
                 depth: int) -> frozenset:
        calls = sorted((n for n in astwalk.walk(stmt) if isinstance(n, ast.Call)),
                       key=lambda c: (c.end_lineno or 0, c.end_col_offset or 0))
        for c in calls:
            state = self._call_effect(mod, c, state, tracked, env, depth)
        if isinstance(stmt, (ast.Assign, ast.AnnAssign)):
            targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
            for t in targets:
                if isinstance(t, ast.Attribute) and t.attr == self.attr and dotted(t.value) == tracked:
                    state = frozenset(self._value(stmt.value, env))
                    if False in state:
                        self.false_sites.append((mod, stmt))
                elif dotted(t) == tracked:
                    state = self.init  # a new object (``model = build_model(cfg)``)
        return state

    def _call_effect(self, mod: Module, c: ast.Call, state: frozenset, tracked: str, env: dict,
                     depth: int) -> frozenset:
        if depth > 3:
            return state
        f = c.func
        if isinstance(f, ast.Attribute) and dotted(f.value) == tracked and f.attr not in ("call", "__call__"):
            got = self._method(f.attr)
            if got is None:
                return state
            mmod, meth = got
            menv = {}
            for a in [*meth.args.posonlyargs, *meth.args.args, *meth.args.kwonlyargs][1:]:
                arg, _ = kf.argument_for(c, meth, a.arg, is_method_call=True)
                menv[a.arg] = frozenset(self._value(arg, env))
            out, _ = self.run_function(mmod, meth, "self", menv, depth + 1)
            return self._compose(mod, c, state, out)
        passed = [a for a in [*c.args, *(k.value for k in c.keywords)] if dotted(a) == tracked]
        if not passed or not isinstance(f, (ast.Name, ast.Attribute)):
            return state
        fmod, fn = kf.resolve_def_in(self.project, mod, f)
        if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)) or fmod is None:
            return state  # a library function, a constructor: assumed to leave the flag alone
        method = isinstance(f, ast.Attribute)
        for p in [*fn.args.posonlyargs, *fn.args.args, *fn.args.kwonlyargs]:
            arg, explicit = kf.argument_for(c, fn, p.arg, is_method_call=method)
            if explicit and dotted(arg) == tracked:
                out, _ = self.run_function(fmod, fn, p.arg, {}, depth + 1)
                return self._compose(mod, c, state, out)
        return state

    def _compose(self, mod: Module, c: ast.Call, state: frozenset, out: frozenset) -> frozenset:
        new = (out - {"in"}) | (state if "in" in out else frozenset())
        if False in new and False not in state:
            self.false_sites.append((mod, c))
        return frozenset(new)

    def value_at(self, mod: Module, call: ast.Call, tracked: str, depth: int = 0) -> frozenset:
        """The flag's possible values when ``call`` runs, following a parameter's "in" to the
        function's callers (three levels)."""
        fn = mod.scope_of(call)
        if fn is None or isinstance(fn, ast.Lambda):
            owner_body = mod.tree.body if fn is None else []
            frame = {"returns": set(), "at": set(), "target": mod.statement_of(call)}
            self._run(mod, owner_body, frozenset({"in"}), tracked, {}, 0, frame)
            at = frozenset(frame["at"])
            return (at - {"in"}) | ({"?"} if "in" in at else frozenset())
        _, at = self.run_function(mod, fn, tracked, {}, 0, target=call)
        if "in" not in at:
            return at
        rest = at - {"in"}
        if depth >= 3 or "." in tracked or not kf._param_index(fn, tracked)[2] or tracked == "self":
            return rest | {"?"}
        sites = [s for s in self.project.call_sites(fn.name) if kf.resolve_def(self.project, s.module, s.node.func) is fn]
        if not sites:
            return rest | {"?"}
        for s in sites:
            arg, explicit = kf.argument_for(s.node, fn, tracked, is_method_call=isinstance(s.node.func, ast.Attribute))
            name = dotted(arg) if explicit and arg is not None else None
            if name is None:
                return rest | {"?"}
            rest |= self.value_at(s.module, s.node, name, depth + 1)
        return rest


def _port_mode_at(module: Module, project: Project, call: ast.Call) -> Optional[tuple[frozenset, str, ast.ClassDef, list]]:
    """For a model call without ``training`` whose class (a PyTorch port) takes the mode from its own
    flag: (the flag's possible values at the call, the flag, the class, where it is set False)."""
    target = kf.model_expr(call)
    tracked = dotted(target)
    if tracked is None:
        return None
    classes = _classes_bound_to(module, project, target)
    if not classes or any(c == "dynamic" for c in classes) or len({id(c[1]) for c in classes}) != 1:
        return None
    cmod, cls = classes[0]
    got = _own_mode_flag(project, cmod, cls)
    if got is None:
        return None
    flow = _PortModeFlow(project, cmod, cls, got[2])
    values = flow.value_at(module, call, tracked)
    return values, got[2], cls, flow.false_sites
