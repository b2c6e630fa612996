"""PyTorch rules (BN3xx): modules left in eval mode for training, evaluation in train mode,
TensorFlow's momentum convention, hard-coded ``training`` flags, averaged models with stale
statistics and hand-written BN modules that update their statistics at evaluation time.

The mode rules (BN301-BN303) use :mod:`bnguard.lint.torchflow`: ordered mode events through
project calls and loops. Everything errs towards silence: an object we cannot tie to the trained
model, a callee we cannot resolve or a model whose class has no BN ends the analysis quietly.
"""
from __future__ import annotations

import ast
import contextlib
import itertools
import os
import re
import sys
import weakref
from typing import Iterable, Iterator, Optional

from bnguard.lint import astwalk
from bnguard.lint import config_values
from bnguard.lint.finding import Edit, Finding, Fix
from bnguard.lint.imports import dotted
from bnguard.lint.memo import per_node
from bnguard.lint.project import Module, Project, is_test_file, is_unit_test, single_name_assignments
from bnguard.lint.rules.base import Rule, RuleDoc, register
from bnguard.lint.torchflow import (_SAME_OBJECT_METHODS, _UNDECIDED, EACH, ELEMENT, LOOP_TYPES, PLAIN_BASES, Event, Flow, Key,
                                    _assigned_names, _local_aliases, _named_params, _params, _star_imports, call_arguments, conflicting, key_names,
                                    _self_attributes_from_names, is_optimizer_step, mode_call, mode_flag, parameter_freezes, receiver_key, same_object,
                                    same_object_base, stepped_optimizer, train_override_blocks, _constant_arguments, _decide_guards,
                                    _guard_value)
from bnguard.lint.torchflow import applies_bn_freeze, evals_when_bn

BN_CLASSES = {f"torch.nn.{n}" for n in (
    "BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "SyncBatchNorm", "LazyBatchNorm1d", "LazyBatchNorm2d",
    "LazyBatchNorm3d")}
F_BATCH_NORM = {"torch.nn.functional.batch_norm", "torch.batch_norm", "torch.nn.functional.batchnorm"}
# Library constructors whose networks contain BatchNorm (torchvision, timm, segmentation libraries).
# Recursion limit while searching the chains of BN-building names (see _BNIndex.has_bn).
_DEEP_SEARCH_LIMIT = 20_000


@contextlib.contextmanager
def _deep_search():
    """Raise the recursion limit to ``_DEEP_SEARCH_LIMIT`` for the duration of a BN search."""
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, _DEEP_SEARCH_LIMIT))
    try:
        yield
    finally:
        sys.setrecursionlimit(limit)

_BN_LIBRARY = re.compile(
    r"^(torchvision\.models\.(resnet|resnext|wide_resnet|densenet|inception|googlenet|mobilenet|mnasnet|"
    r"shufflenet|efficientnet|regnet|convnext_?bn|vgg\d+_bn|detection|segmentation|video|quantization)|"
    r"timm\.create_model|segmentation_models_pytorch\.|pretrainedmodels\.|efficientnet_pytorch\.)")
# Library models known to build no BatchNorm (VGG without ``_bn``, AlexNet, SqueezeNet, the
# LayerNorm transformers): eval() on them changes dropout only.
_NO_BN_LIBRARY = re.compile(
    r"^torchvision\.models\.(vgg(11|13|16|19)|alexnet|squeezenet1_[01]|vit_[a-z0-9_]+|swin_[a-z0-9_]+)$")
_FROZEN_NAME = re.compile(
    r"teacher|target|ema|frozen|freeze|pretrain|backbone|feature|extractor|encoder_k|key_encoder|momentum|"
    r"vgg|lpips|perceptual|clip|inception|fid|old|prev|ref|avg|swa|fixed|critic_target", re.I)
_GENERATOR_NAME = re.compile(r"gen|^g$|^g_|_g$|netg|decoder|sampler", re.I)
_EVAL_FUNC = re.compile(r"eval|valid|test|predict|infer|score|accuracy|benchmark|(^|_)val(?-i:_|$|[A-Z0-9])", re.I)
_EVAL_LOADER = re.compile(r"val|test|eval|dev|holdout", re.I)
# Code that keeps BN in train mode on purpose while evaluating: recalibration, test-time adaptation,
# MC dropout. Substrings of identifiers, and whole identifier parts (``tta`` must not match "metatrain").
_DELIBERATE_SUBSTR = re.compile(
    r"update_bn|bn_update|precise_?bn|recalib|calibrat|adabn|bn_?stat|batch_?stat|running_stat|reset_running|"
    r"track_running_stats|mc_?dropout|dropout_?sampl", re.I)
_DELIBERATE_PARTS = {"tent", "tta", "mcd", "adapt", "adaptation", "adaptive", "bayes", "bayesian", "recalibrate"}
_DELIBERATE_PATH = re.compile(r"(^|[/_\-])(tent|adabn|(?<!domain_)(?<!domain-)adapt\w*|tta|recalib\w*|calib\w*|precise_bn|update_bn)([/_\-.]|$)", re.I)
# Words of test-time adaptation in a module's text: what a ``tta`` path must also show to name it.
_ADAPTATION_WORDS = re.compile(r"(?<![A-Za-z])(tent|cotta|adabn|adapt|adapts|adapted|adapting|adaptation)(?![A-Za-z])", re.I)


def _deliberate_evaluation_path(project: Project, module: Module) -> bool:
    """Does the module's path name test-time adaptation / recalibration (train-mode passes on
    purpose)? ``tta`` alone is ambiguous: test-time augmentation (flipped and cropped copies run in
    eval mode) as often as adaptation; it counts only when the module's text speaks of adaptation."""
    path = project.relative_path(module)
    found = [m.group(2).lower() for m in _DELIBERATE_PATH.finditer(path)]
    if not found:
        return False
    return any(word != "tta" for word in found) or bool(_ADAPTATION_WORDS.search(module.unit.text))
_OPTIMIZER_CTOR = re.compile(r"(^torch\.optim\.|Optimizer$|^SGD$|^Adam|^RMSprop$|^Adagrad$|^LARS|^LAMB|optim)", re.I)
_LIGHTNING = ("lightning", "pytorch_lightning", "lightning.pytorch")
_KERAS_ROOTS = ("keras", "tf_keras")

PYTORCH_VERSIONS = "PyTorch >= 1.0 (checked against 2.x semantics; torch.nn and torch.nn.functional spellings)."


# Frameworks with PyTorch-like layer names (BatchNorm, eval/train, .step) but their own BN semantics:
# MXNet Gluon runs BN in training mode only inside autograd.record(), Chainer under its global
# config.train switch, Paddle / MindSpore / Jittor have their own conventions.
_OTHER_FRAMEWORKS = ("mxnet", "paddle", "mindspore", "jittor", "oneflow", "megengine", "chainer")


# Frameworks whose files are judged by their own rule families: a file that imports one of them and
# not torch is not PyTorch code, whatever its docstrings say (``root='~/.torch/models'``).
_NON_TORCH_FRAMEWORKS = _OTHER_FRAMEWORKS + ("tensorflow", "keras", "tf_keras", "jax", "flax")


# Roots of BatchNorm classes that eval() / train() do not switch (Keras follows `training=`). Not
# flax: Flax NNX's BatchNorm follows `model.eval()` / `model.train()` like PyTorch's.
_NON_TORCH_BN_ROOTS = frozenset(_OTHER_FRAMEWORKS + _KERAS_ROOTS + ("tensorflow", "haiku", "objax", "trax"))


def _uses_torch(module: Module) -> bool:
    if module.imports.imports_any("torch"):
        # Keras 3 code that imports torch only inside a function (``if keras.config.backend() ==
        # "torch": import torch``) builds Keras models, whose mode `training=` decides
        return not _torch_only_imported_locally(module.tree)
    return module.mentions("torch") and not module.imports.imports_any(*_NON_TORCH_FRAMEWORKS)


@per_node
def _torch_only_imported_locally(tree: ast.AST) -> bool:
    """Does the file import another framework (Keras, TensorFlow, JAX...) at module level and torch
    only inside functions?"""
    def roots(statements) -> set:
        found: set = set()
        for st in statements:
            if isinstance(st, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                continue
            if isinstance(st, ast.Import):
                found.update(a.name.split(".")[0] for a in st.names)
            elif isinstance(st, ast.ImportFrom) and st.module and not st.level:
                found.add(st.module.split(".")[0])
            else:  # `try: import ... except ImportError`, `if TYPE_CHECKING: ...`
                found |= roots([c for c in ast.iter_child_nodes(st) if isinstance(c, ast.stmt)])
        return found

    top = roots(getattr(tree, "body", []))
    return "torch" not in top and bool(top & set(_NON_TORCH_FRAMEWORKS))


def _uses_nnx(module: Module) -> bool:
    """Flax NNX: modules with PyTorch-like ``model.train()`` / ``model.eval()`` switches."""
    return module.mentions("nnx") and module.imports.imports_any("flax")


def _is_lightning(module: Module) -> bool:
    return module.imports.imports_any(*_LIGHTNING)


# ------------------------------------------------------------------------------------------------
# Project facts shared by the mode rules
# ------------------------------------------------------------------------------------------------
def _flow(project: Project) -> Flow:
    return project.fact("torch.flow", Flow)


class _OptimizerIndex:
    """Every optimizer construction: the variable it is stored in and the objects whose
    parameters it receives (``SGD(model.parameters())``, param groups, lists built beforehand)."""

    def __init__(self, project: Project):
        # (module, scope, target name or None, names of trained objects)
        self.records: list[tuple[Module, Optional[ast.AST], Optional[str], set[str]]] = []
        for m in project.modules:
            for c in m.calls:
                callee = c.qualname or c.name or ""
                if not _OPTIMIZER_CTOR.search(callee) or re.search(r"sched|lr_|swa_utils", callee, re.I):
                    continue
                parent, child = m.parent(c.node), c.node
                while isinstance(parent, ast.IfExp) and parent.test is not child:
                    # `opt = Adam(params) if params else None`: still the optimizer stored in `opt`
                    parent, child = m.parent(parent), parent
                target = None
                if isinstance(parent, ast.Assign) and len(parent.targets) == 1:
                    target = (dotted(parent.targets[0]) or "").rsplit(".", 1)[-1] or None
                f = c.node.func
                if isinstance(f, ast.Attribute) and not c.node.args and not (c.qualname or "").startswith("torch.") \
                        and not any(k.arg == "params" for k in c.node.keywords) \
                        and not (dotted(f.value) or "").startswith(("torch", "optim")):
                    # ``optimizer = module.configure_optimizers()`` / ``trainer.build_optimizer()``: a
                    # method that builds the optimizer over its own object's parameters
                    # (``self.build_optimizer()`` in a trainer: over some model of the trainer's, unknown).
                    # Not an optimizer class held in an attribute and given what it updates
                    # (``self.optimizer_cls(params=[delta], lr=...)``, torch's ``params`` argument).
                    owner = receiver_key(f.value, {}, set())[0]
                    sources = {"*"} if not owner or owner == ("$self",) else key_names(owner)
                else:
                    sources = self._sources(m, c, _custom_parameter_selections(c.node, project))
                self.records.append((m, c.scope, target, sources))
        self.trained: set[str] = set().union(*(r[3] for r in self.records)) if self.records else set()

    @staticmethod
    def _sources(m: Module, c, custom_only: frozenset = frozenset()) -> set[str]:
        if (c.qualname or c.name or "").endswith("nnx.Optimizer") and c.node.args:
            # nnx.Optimizer(model, tx): it trains the model it is given
            return key_names(receiver_key(c.node.args[0], {}, set())[0]) or {"*"}
        exprs: list[ast.AST] = list(c.node.args) + [k.value for k in c.node.keywords]
        # params built beforehand: `params = list(model.parameters()) + ...; SGD(params)`
        arg_names = {n.id for e in exprs for n in astwalk.walk(e) if isinstance(n, ast.Name)}
        body = c.scope.body if c.scope is not None else m.tree.body
        # Only what the list holds when the optimizer is built: writes before the call, after the
        # last rebinding of the name (`params = ...` for one optimizer, then again for another).
        line = c.node.lineno
        writes: dict[str, list] = {}  # name -> [(line, is_rebinding, exprs)]
        for st in body:
            for n in astwalk.walk(st):
                if getattr(n, "lineno", line) >= line:
                    continue
                if isinstance(n, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
                    tgts = n.targets if isinstance(n, ast.Assign) else [n.target]
                    for t in tgts:
                        if isinstance(t, ast.Name) and t.id in arg_names and n.value is not None:
                            writes.setdefault(t.id, []).append((n.lineno, isinstance(n, ast.Assign), [n.value]))
                elif isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr in ("append", "extend", "add_param_group") \
                        and isinstance(n.func.value, ast.Name) and n.func.value.id in arg_names:
                    writes.setdefault(n.func.value.id, []).append((n.lineno, False, list(n.args)))
        for name_writes in writes.values():
            name_writes.sort(key=lambda w: w[0])
            last_rebind = max((i for i, w in enumerate(name_writes) if w[1]), default=0)
            for _line, _rebind, values in name_writes[last_rebind:]:
                exprs.extend(values)
        names: set[str] = set()
        opaque = False
        for e in exprs:
            for n in astwalk.walk(e):
                if id(n) in custom_only:
                    continue  # only the model's own custom parameters (``'scale' in n``): none of its BatchNorm's
                if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr in ("parameters", "named_parameters"):
                    names |= key_names(receiver_key(n.func.value, {}, set())[0])
                elif isinstance(n, ast.Call) and not isinstance(n.func, ast.Attribute) and (dotted(n.func) or "") not in (
                        "list", "filter", "dict", "set", "tuple", "chain", "itertools.chain"):
                    opaque = True  # get_params(model), a helper: cannot tell
        if opaque and not names:
            names.add("*")
        if c.scope is not None:
            params = _named_params(c.scope)
            if names & params:
                # `opt = Adam(net.parameters())` with `net` a parameter: whatever the caller passes
                # ("*"), or, when every source is a parameter, something the caller already holds
                # ("*caller"): never a module this function builds itself.
                names = (names - params) | {"*caller" if names <= params and not opaque else "*"}
        return names

    def trains(self, step: Event, key: Key) -> Optional[bool]:
        """Does the optimizer stepped by ``step`` train ``key``? None when we cannot tell."""
        if not step.key:
            return None
        names = [c for c in step.key if c != ELEMENT]
        if not names:
            return None
        opt_name = names[-1].lstrip("$%")
        mod, node = step.sites[-1]
        scope = mod.scope_of(node)
        # The optimizer built where the step runs, else the one built in the function whose summary
        # holds the step (its outermost site): a helper that receives `optim` as a parameter steps
        # the caller's local `optim`, not every `optim` of the module.
        mod0, node0 = step.sites[0]
        scope0 = mod0.scope_of(node0)
        for pick in (lambda r: r[0] is mod and r[1] is scope, lambda r: r[0] is mod0 and r[1] is scope0,
                     lambda r: r[0] is mod, lambda r: True):
            recs = [r for r in self.records if r[2] == opt_name and pick(r)]
            if recs:
                names = set().union(*(r[3] for r in recs))
                if "*" in names:
                    return None
                if "*caller" in names:
                    # an optimizer over the caller's modules and a module built in this function
                    # (`head = nn.Sequential(...)`, key "%%head") are never the same object
                    # (``%%`` names a module built in the summary's own function: the step's only
                    # when the step runs there, not in a helper the module may be handed to)
                    fresh_here = key is not None and key[0].startswith("%%") and scope is scope0 \
                        and all(r[1] is scope for r in recs)
                    if fresh_here or all(r[1] is scope for r in recs) and _not_handed_to(key, step):
                        return False
                    return None
                return bool(names & key_names(key)) if names else False
        return None


def _custom_parameter_selections(call: ast.Call, project: Project) -> frozenset:
    """The ``x.named_parameters()`` calls in the arguments of the optimizer construction ``call``
    that a comprehension filters down to parameters the project itself registers by name
    (``Adam([p for n, p in qmodel.named_parameters() if 'scale' in n])`` with ``self.scale =
    nn.Parameter(...)`` in a quantized layer): the optimizer trains those alone, never the weight /
    bias of a BatchNorm layer (their names end in ``.weight`` / ``.bias``; the token must name no
    sub-module of the project either), so the model's BatchNorm layers are not being trained."""
    out: set[int] = set()
    for e in [*call.args, *(k.value for k in call.keywords)]:
        for comp in astwalk.walk(e):
            if not isinstance(comp, (ast.ListComp, ast.GeneratorExp, ast.SetComp)) or len(comp.generators) != 1:
                continue
            gen = comp.generators[0]
            it, target = gen.iter, gen.target
            if not (isinstance(it, ast.Call) and isinstance(it.func, ast.Attribute) and it.func.attr == "named_parameters"
                    and isinstance(target, ast.Tuple) and len(target.elts) == 2 and isinstance(target.elts[0], ast.Name)):
                continue
            if gen.ifs and _selects_custom_parameters(ast.BoolOp(op=ast.And(), values=gen.ifs), target.elts[0].id, project):
                out.add(id(it))
    return frozenset(out)


def _selects_custom_parameters(test: ast.AST, var: str, project: Project) -> bool:
    """Is ``test`` true only for a parameter name ``var`` holding a token of a parameter the project
    registers (``'scale' in n``, ``n.endswith('alpha')``)? A conjunction needs one such operand,
    a disjunction all of them; a negation (``'scale' not in n``) keeps everything else."""
    if isinstance(test, ast.BoolOp):
        parts = [_selects_custom_parameters(v, var, project) for v in test.values]
        return any(parts) if isinstance(test.op, ast.And) else all(parts)
    tokens: list = []
    if isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], ast.In) \
            and isinstance(test.comparators[0], ast.Name) and test.comparators[0].id == var:
        tokens = [test.left]
    elif isinstance(test, ast.Call) and isinstance(test.func, ast.Attribute) and test.func.attr == "endswith" \
            and isinstance(test.func.value, ast.Name) and test.func.value.id == var and len(test.args) == 1:
        tokens = test.args[0].elts if isinstance(test.args[0], ast.Tuple) else [test.args[0]]
    if not tokens or not all(isinstance(t, ast.Constant) and isinstance(t.value, str) for t in tokens):
        return False
    registered, modules = project.fact("torch.custom_parameter_names", _custom_parameter_names)
    for t in tokens:
        tok = t.value.lower().strip(".")
        if len(tok) < 3 or tok in ".weight" or tok in ".bias" or re.search(r"bn|norm|batch|running|weight|bias", tok):
            return False
        if not any(tok in r for r in registered) or any(tok in mname for mname in modules):
            return False
    return True


def _custom_parameter_names(project: Project) -> tuple[frozenset, frozenset]:
    """(leaf names of the parameters the project registers itself: ``self.scale = nn.Parameter(...)``,
    ``register_parameter("alpha", ...)``; attribute names the project binds to something built by a
    class or named as a sub-module: ``self.scale_net = ScaleNet()``, ``add_module("scaler", m)``)."""
    registered, modules = set(), set()
    for m in project.modules:
        if not m.mentions("Parameter") and not m.mentions("add_module") and not m.mentions("register_module"):
            continue
        for n in astwalk.walk(m.tree):
            if isinstance(n, ast.Assign) and isinstance(n.value, ast.Call):
                callee = (dotted(n.value.func) or "").rsplit(".", 1)[-1]
                for t in n.targets:
                    if not isinstance(t, ast.Attribute):
                        continue
                    if callee == "Parameter":
                        # the affine parameter of a normalization layer of the project's own is a BN parameter
                        (modules if _in_norm_class(m, n) else registered).add(t.attr.lower())
                    elif callee[:1].isupper() and not callee.endswith("Tensor"):
                        modules.add(t.attr.lower())
            elif isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.args \
                    and isinstance(n.args[0], ast.Constant) and isinstance(n.args[0].value, str):
                if n.func.attr == "register_parameter":
                    (modules if _in_norm_class(m, n) else registered).add(n.args[0].value.lower())
                elif n.func.attr in ("add_module", "register_module"):
                    modules.add(n.args[0].value.lower())
    return frozenset(registered), frozenset(modules)


def _in_norm_class(m: Module, node: ast.AST) -> bool:
    """Is ``node`` in a class named (or derived from one named) as a batch-norm layer?"""
    cls = m.enclosing_class(node)
    text = " ".join([cls.name, *(dotted(b) or "" for b in cls.bases)]) if cls is not None else ""
    return bool(re.search(r"batch_?norm", text, re.I) or re.search(r"BN|(?<![A-Za-z])bn(?![a-z])", text))


def _not_handed_to(key: Key, step: Event) -> bool:
    """The step runs in a plain function called from here (``train(model)``) that builds its
    optimizer over what its caller hands it ("*caller"), and that call passes nothing that names
    ``key`` (directly or through a local alias, ``ts = torch.jit.script(net)``): the helper trains
    another object."""
    if key is None or len(step.sites) != 2:
        return False
    mod0, call = step.sites[0]
    if not isinstance(call, ast.Call) or not isinstance(call.func, ast.Name) \
            or any(isinstance(a, ast.Starred) for a in call.args) or any(k.arg is None for k in call.keywords):
        return False  # a method (the object may hold the model), or train(*models): cannot tell
    scope0 = mod0.scope_of(call)
    body = scope0.body if scope0 is not None else mod0.tree.body
    params = set(_params(scope0)) if scope0 is not None else set()
    aliases = _local_aliases(body, params)
    handed: set[str] = set()
    for a in [*call.args, *(k.value for k in call.keywords)]:
        for n in astwalk.walk(a):
            if isinstance(n, (ast.Name, ast.Attribute)):
                handed |= key_names(receiver_key(n, aliases, params)[0])
    return not (handed & key_names(key))


def _optimizers(project: Project) -> _OptimizerIndex:
    return project.fact("torch.optimizers", _OptimizerIndex)


def _trained_names(project: Project, module: Optional[Module] = None) -> set[str]:
    """Names of the objects whose parameters an optimizer updates (``SGD(model.parameters())``);
    with ``module``, only optimizers of the program it belongs to (its import component)."""
    if module is None:
        return {n for n in _optimizers(project).trained if not n.startswith("*")}
    component = project.import_component(module)
    return {n for r in _optimizers(project).records if id(r[0]) in component for n in r[3] if not n.startswith("*")}


def _step_trains(step: Event, ev: Event, project: Project) -> bool:
    if ev.kind == "eval" and _step_needs_training_mode(step, ev, project):
        return False  # `if model.training: optimizer.step()`: no step while the object is in eval mode
    if _passed_optimizer_trains(step, ev.key, project) is False:
        return False  # every call of the function hands it an optimizer over other modules
    verdict = _optimizers(project).trains(step, ev.key)
    if verdict is None and step.key and len(step.key) == 1 and step.key[0].startswith("%") and ev.key:
        # `net, opt, policy, policy_opt = build()`: the optimizer the project function returns there
        mod0, node0 = step.sites[0]
        scope0 = mod0.scope_of(node0)
        if scope0 is not None:
            verdict = _optimizer_expr_trains(ast.Name(id=step.key[0].lstrip("%"), ctx=ast.Load()), mod0, scope0,
                                             key_names(ev.key), project, _flow(project))
    return True if verdict is None else verdict


_TRAINING_GUARD = re.compile(r"^((?:\w+\.)*\w+)\.training(?:@\d+)?$")


def _step_needs_training_mode(step: Event, ev: Event, project: Project) -> bool:
    """Is the step guarded by ``if X.training:`` where ``X`` is the object ``ev`` puts in eval mode
    (one epoch function shared by training and validation, stepping only in train mode)? ``X`` is
    that object by name, or the parameter of the step's function that the call passes it for."""
    if not ev.text:
        return False
    guarded = {m.group(1) for test, polarity in step.guards if polarity and (m := _TRAINING_GUARD.match(test))}
    if not guarded:
        return False
    if ev.text in guarded or ev.text.rsplit(".", 1)[-1] in {g.rsplit(".", 1)[-1] for g in guarded}:
        return True
    if len(step.sites) != 2:
        return False
    (_cmod, call), (smod, snode) = step.sites
    fi = _flow(project).function_info.get(id(smod.scope_of(snode)))
    return fi is not None and isinstance(call, ast.Call) and any(
        dotted(call_arguments(fi, call)[1].get(g, ast.Constant(None))) == ev.text for g in guarded)


def _passed_optimizer_trains(step: Event, key: Key, project: Project) -> Optional[bool]:
    """The optimizer stepped is a parameter of the function whose summary holds the step
    (``def train_controller(self, model, controller, optimizer): model.eval(); ...; optimizer.step()``):
    what the project's calls of that function pass for it decides which modules it trains. False
    when every call passes an optimizer built over other modules than ``key`` (the REINFORCE
    controller's ``Adam(controller.parameters())`` while the evaluated child network is frozen);
    None when some call cannot be told."""
    if not step.key or len(step.key) != 1 or not step.key[0].startswith("$") or not key:
        return None
    mod0, node0 = step.sites[0]
    fn = mod0.scope_of(node0)
    param = step.key[0][1:]
    if fn is None or param not in _params(fn):
        return None
    memo = project.facts.setdefault("torch.passed_optimizer_trains", {})  # type: ignore[arg-type]
    memo_key = (id(fn), param, key)
    if memo_key in memo:  # type: ignore[operator]
        return memo[memo_key]  # type: ignore[index]
    memo[memo_key] = None  # type: ignore[index]
    flow = _flow(project)
    fi = flow.function_info.get(id(fn))
    verdicts: list[Optional[bool]] = []
    if fi is not None:
        component = project.import_component(mod0)
        for site in project.call_sites(fi.name):
            if id(site.module) not in component:
                continue
            if fi.cls is not None and not isinstance(site.node.func, ast.Attribute):
                continue  # a plain function of that name, not this method
            passed = call_arguments(fi, site.node)[1]
            arg = passed.get(param)
            if arg is None:
                verdicts.append(None)
                continue
            if key[0].startswith("$") and len(key) == 1:
                model_arg = passed.get(key[0][1:])
                names = key_names(receiver_key(model_arg, {}, set())[0]) if model_arg is not None else set()
            else:
                names = key_names(key)
            verdicts.append(_optimizer_expr_trains(arg, site.module, site.scope, names, project, flow) if names else None)
    verdict = False if verdicts and all(v is False for v in verdicts) else None
    memo[memo_key] = verdict  # type: ignore[index]
    return verdict


def _optimizer_expr_trains(expr: ast.AST, module: Module, scope, names: set[str], project: Project,
                           flow: Flow) -> Optional[bool]:
    """Does the optimizer ``expr`` (in ``scope``) train one of ``names``: built there (``opt = Adam(...)``,
    ``self.opt = Adam(...)`` in the module), or unpacked from what a project function returns
    (``net, opt, ctl, ctl_opt = self.build()`` with ``return ..., ctl_opt`` over ``Adam(ctl.parameters())``)?
    None when it cannot be told."""
    text = dotted(expr)
    if text is None:
        return None
    index = _optimizers(project)
    name = text.rsplit(".", 1)[-1]
    local = isinstance(expr, ast.Name)
    recs = [r for r in index.records if r[2] == name and r[0] is module and (r[1] is scope or not local)]
    sources: list[set[str]] = [r[3] for r in recs]
    if not recs and local and scope is not None and name not in _params(scope):
        for n in _own_nodes(module, scope):
            if not (isinstance(n, ast.Assign) and len(n.targets) == 1 and isinstance(n.value, ast.Call)):
                continue
            tgt = n.targets[0]
            if isinstance(tgt, ast.Name) and tgt.id == name:
                return None  # built some other way (a factory): cannot tell
            if not isinstance(tgt, ast.Tuple) or not any(isinstance(e, ast.Name) and e.id == name for e in tgt.elts):
                continue
            if any(isinstance(e, ast.Starred) for e in tgt.elts):
                return None
            i = next(j for j, e in enumerate(tgt.elts) if isinstance(e, ast.Name) and e.id == name)
            cands, _unique = flow.resolve(module, n.value, scope)
            if not cands:
                return None
            for cand in cands:
                rets = [r for r in _own_nodes(cand.module, cand.node) if isinstance(r, ast.Return) and r.value is not None]
                if not rets:
                    return None
                for r in rets:
                    if not isinstance(r.value, ast.Tuple) or len(r.value.elts) != len(tgt.elts) \
                            or not isinstance(r.value.elts[i], ast.Name):
                        return None
                    inner = r.value.elts[i].id
                    found = [x for x in index.records if x[2] == inner and x[0] is cand.module and x[1] is cand.node]
                    if not found:
                        return None
                    sources.extend(x[3] for x in found)
    if not sources:
        return None
    merged = set().union(*sources)
    if any(s.startswith("*") for s in merged):
        return None
    return bool(merged & names)


def _frozen_names(project: Project, module: Optional[Module] = None) -> set[str]:
    """Objects frozen on purpose: ``x.requires_grad_(False)``, ``for p in x.parameters(): p.requires_grad = False``;
    with ``module``, only in the program it belongs to (its import component)."""

    by_module = project.fact("torch.frozen_keys_by_module", _frozen_keys_by_module)
    ids = project.import_component(module) if module is not None else by_module.keys()
    return {n for i in ids for k in by_module.get(i, ()) for n in key_names(k)}


def _frozen_keys_by_module(p: Project) -> dict[int, set]:
    """Module id -> keys of the objects whose parameters it freezes (``model.backbone`` as
    ("model", "backbone"))."""
    by_module: dict[int, set] = {}
    for m in p.modules:
        keys = by_module.setdefault(id(m), {receiver_key(x, {}, set())[0] for x in parameter_freezes(m.tree)})
        keys.discard(None)
    return by_module


def _trained_bn_beside_frozen_part(key: Key, project: Project, module: Optional[Module]) -> bool:
    """``model.backbone`` is frozen, and ``model``'s class also builds BatchNorm in another
    attribute (a new head with ``BatchNorm1d``): ``model.eval()`` then freezes the statistics of a
    BN that trains, which is no deliberate freeze."""
    if module is None or not key or len(key) != 1:
        return False
    head = key[0].lstrip("$%")
    by_module = project.fact("torch.frozen_keys_by_module", _frozen_keys_by_module)
    frozen = [k for i in project.import_component(module) for k in by_module.get(i, ())]
    if any(len(k) == 1 and k[0].lstrip("$%") == head for k in frozen):
        return False  # the whole object is frozen
    parts = {k[1] for k in frozen if len(k) >= 2 and k[0].lstrip("$%") == head}
    if not parts:
        return False
    classes = _bn_classes(project)
    for m, name in _constructor_names(key, project, module):
        # the class this module means (its own, or the one it imports), not every class of the name
        for node, dm in classes._candidates(name, m)[0]:
            if not isinstance(node, ast.ClassDef):
                continue
            for st in astwalk.walk(node):
                if isinstance(st, ast.Assign) and len(st.targets) == 1 and isinstance(st.targets[0], ast.Attribute) \
                        and st.targets[0].attr not in parts and any(
                            "BatchNorm" in (dotted(c.func) or "") for c in astwalk.walk(st.value) if isinstance(c, ast.Call)):
                    return True
    return False


def _is_trained(key: Key, project: Project, module: Optional[Module] = None) -> bool:
    """Is the object the one the optimizer trains (precision: when unsure, assume it is not)?

    A sub-module (``model.backbone.eval()``) is the partial-freeze idiom (frozen BN statistics in a
    fine-tuned backbone), deliberate: only whole objects count."""
    if key is None or len(key) > 1 and not _model_held_by_container(key):
        return False
    names = key_names(key)
    if names & _frozen_names(project, module) and not _trained_bn_beside_frozen_part(key, project, module):
        return False
    trained = _trained_names(project, module)
    if trained:
        if len(key) > 1:  # ``ctx.model`` where ``ctx = RunContext(model=net, ...)`` and ``net`` is trained
            return bool(names & trained) or key[-1].lstrip("$%") in _keywords_given_trained(project, trained)
        return bool(names & trained)
    return not any(_FROZEN_NAME.search(n) for n in names)


def _keywords_given_trained(project: Project, trained: set[str]) -> set[str]:
    """Keyword names under which a call passes a trained object (``State(model=net)``)."""
    memo = project.facts.setdefault("torch.keywords_given_trained", {})  # type: ignore[arg-type]
    k = frozenset(trained)
    if k not in memo:  # type: ignore[operator]
        memo[k] = {kw.arg for m in project.modules for c in m.calls for kw in c.node.keywords  # type: ignore[index]
                   if kw.arg and isinstance(kw.value, (ast.Name, ast.Attribute))
                   and key_names(receiver_key(kw.value, {}, set())[0]) & trained}
    return memo[k]  # type: ignore[index]


_WHOLE_MODEL = re.compile(r"^(model|net|network|module)$|_(model|net)$", re.I)


def _model_held_by_container(key: Key) -> bool:
    """``self.state.model`` / ``ctx.model`` / ``engine.state.model``: the whole model kept in a state
    or context object, not a sub-module of a model (``model.backbone``, ``self.model.encoder``)."""
    names = [c.lstrip("$%") for c in key if c != ELEMENT]
    return len(names) > 1 and bool(_WHOLE_MODEL.search(names[-1])) and not any(
        _MODEL_NAME.search(n) for n in names[:-1])


def _lightning_module(module: Module) -> bool:
    return _is_lightning(module)


def _roots(project: Project) -> Iterable[tuple[Module, list[Event]]]:
    flow = _flow(project)
    if not any(_uses_torch(m) or _uses_nnx(m) for m in project.modules):
        return
    for m in project.modules:
        if _lightning_module(m):
            continue
        # a training script may not mention torch itself (the model and its optimizer live elsewhere)
        # only a root that may both leave a model in eval mode and step an optimizer can show a bug
        if flow.may_produce("eval", None, m) and flow.may_produce("step", None, m):
            yield m, flow.module_summary(m)
        for fi in m.functions:
            if flow.may_produce("eval", fi.node, m) and flow.may_produce("step", fi.node, m) \
                    and not is_unit_test(m, fi.node):  # a test perturbing weights is no training program
                yield m, flow.summary(fi.node)


def _caller_chosen(project: Project, events: list[Event]) -> frozenset:
    """The parameters of the root function whose summary is ``events``, when the project calls it:
    tests on them are the callers' to decide (``dataset_loss(model, loader, optimizer=opt,
    train_mode=True)``). Empty for a module body or a function nothing calls."""
    flow = _flow(project)
    fi = next((flow.function_info[k] for k, evs in flow._summaries.items() if evs is events and k in flow.function_info), None)
    if fi is None or not project.call_sites(fi.name):
        return frozenset()
    return frozenset(_params(fi.node))


def _run_only_without_grad(ev: Event, step: Event) -> bool:
    """Where the optimizer steps, the object put in eval mode only ever runs under ``torch.no_grad()``
    (``with torch.no_grad(): feats = encoder(x)`` in a linear probe): it is not trained there, and
    its eval mode is the deliberate freeze of a feature extractor."""
    if not ev.text:
        return False
    mod, node = step.sites[-1]
    scope = mod.scope_of(node)
    owner = scope if scope is not None else mod.tree
    runs = [c for c in astwalk.walk(owner) if isinstance(c, ast.Call) and _runs_object(c, ev.text)]
    return bool(runs) and all(any(isinstance(a, (ast.With, ast.AsyncWith)) and any(_no_grad_ctx(i.context_expr, mod) for i in a.items)
                                  for a in mod.ancestors(c)) for c in runs)


def _runs_object(call: ast.Call, text: str) -> bool:
    """``encoder(x)`` / ``encoder.forward(x)`` / ``encoder.forward_features(x)`` for ``text`` "encoder"."""
    f = call.func
    if dotted(f) == text:
        return True
    return isinstance(f, ast.Attribute) and f.attr.startswith("forward") and dotted(f.value) == text


def _guard_names(guards: tuple) -> set[str]:
    """Names read by an event's own ``if`` tests (the tests a caller's call did not tag)."""
    out: set[str] = set()
    for test, _pol in guards:
        if "@" in test:
            continue
        try:
            out |= {n.id for n in astwalk.walk(ast.parse(test, mode="eval")) if isinstance(n, ast.Name)}
        except SyntaxError:
            pass
    return out


def _report_site(ev: Event, loop: Optional[ast.AST]) -> tuple[Module, ast.AST]:
    """The call, in the function that holds ``loop`` (or the outermost one), that leads to the event."""
    if loop is not None:
        for mod, node in ev.sites:
            if any(a is loop for a in mod.ancestors(node)):
                return mod, node
    return ev.sites[0]


def _describe(ev: Event, site_node: ast.AST) -> str:
    if ev.node is site_node:
        return ""
    mod, node = ev.sites[-1]
    flag = mode_flag(node) if isinstance(node, ast.Call) else None
    false_flag = f", with `{ast.unparse(flag)}` false there" if flag is not None else ""
    return f" (it calls `{ast.unparse(node)}` at {mod.where(node.lineno)}{false_flag})"


def _mode_findings(project: Project) -> dict[str, list[tuple[Module, ast.AST, str, Optional[Fix]]]]:
    """BN301 and BN302 verdicts for the whole project, computed once."""

    def compute(p: Project):
        # (code, module path, node id) -> [flagged?, module, node, message, fix]
        verdicts: dict[tuple, list] = {}

        origins: dict[tuple, tuple] = {}  # report key -> (eval node id, depth of the report site)
        # BN302 reports whose optimizer step runs in no loop of their root (a one-step helper such as
        # `trainer.step(batch)`): a caller's loop around that helper sees the same eval() as BN301
        single_step: set[tuple] = set()

        def vote(code: str, mod: Module, node: ast.AST, flagged: bool, message: str = "", fix=None, origin=None,
                 one_step: bool = False) -> None:
            k = (code, mod.path, id(node))
            if origin is not None:
                origins[k] = origin
            if one_step and flagged:
                single_step.add(k)
            v = verdicts.setdefault(k, [True, mod, node, message, fix, False])
            if flagged:
                v[5] = True
                if not v[3]:
                    v[3], v[4] = message, fix
                elif message != v[3]:
                    v[4] = None
            else:
                v[0] = False

        for _mod, events in _roots(p):
            if not any(e.kind == "step" for e in events):
                continue
            step_loops = {id(lp) for e in events if e.kind == "step" for lp in e.loops}
            # within one root, a site is a bug if any loop shows it (the batch loop may show what the
            # epoch loop hides); across roots (callers), every context must agree
            local: dict[tuple, list] = {}

            def local_vote(code, mod, node, flagged, message="", fix=None, origin=None, one_step=False):
                k = (code, mod.path, id(node))
                v = local.setdefault(k, [code, mod, node, False, message, fix, origin, one_step])
                if flagged and not v[3]:
                    v[3], v[4], v[5], v[7] = True, message, fix, one_step
                elif flagged and message != v[4]:
                    v[5] = None  # several objects left in eval mode here: one train() would not fix it

            _check_loops(events, step_loops, p, local_vote)
            _check_before_loop(events, step_loops, p, local_vote, lambda evs=events: _caller_chosen(p, evs))
            if any(e.kind == "unfreeze" for e in events):
                _check_unfreezes(events, step_loops, p, local_vote)
            for code, mod, node, flagged, message, fix, origin, one_step in local.values():
                vote(code, mod, node, flagged, message, fix, origin, one_step)
        out: dict[str, list] = {"BN301": [], "BN302": []}
        # one eval() seen through several nested loops / callers: report it once, at the call
        # closest to it (the innermost loop that shows the problem)
        flagged = [(k, v) for k, v in verdicts.items() if v[0] and v[5]]
        # the eval() of a one-step helper that a caller's training loop reports as BN301 is one defect:
        # the loop's view (eval left on across the steps) is the whole story, the helper's BN302 a duplicate
        loop_origins = {origins[k][0] for k, _v in flagged if k[0] == "BN301" and k in origins}
        flagged = [(k, v) for k, v in flagged
                   if not (k[0] == "BN302" and k in single_step and k in origins and origins[k][0] in loop_origins)]
        # an unfreeze left in eval mode whose freeze eval() is reported itself (a whole model frozen, then
        # trained): one defect, reported at the eval()
        eval_origins = {origins[k][0] for k, _v in flagged if k in origins}
        flagged = [(k, v) for k, v in flagged if not (k in origins and isinstance(origins[k][0], tuple)
                                                      and origins[k][0][1] in eval_origins)]
        closest: dict[tuple, int] = {}
        for k, _v in flagged:
            origin, distance = origins.get(k, (k, 0))
            closest[(k[0], origin)] = min(closest.get((k[0], origin), distance), distance)
        for k, (_ok, mod, node, message, fix, _any) in flagged:
            origin, distance = origins.get(k, (k, 0))
            if distance == closest[(k[0], origin)]:
                out[k[0]].append((mod, node, message, fix))
        reported = {id(node) for _m, node, _msg, _fix in out["BN302"]}
        for finding in _recalibration_findings(p):
            if id(finding[1]) not in reported:
                reported.add(id(finding[1]))
                out["BN302"].append(finding)
        return out

    return project.fact("torch.mode_findings", compute)


def _check_loops(events: list[Event], step_loops: set[int], project: Project, vote) -> None:
    """BN301: inside a loop that steps an optimizer, does an eval() reach the next step (wrapping
    around to the next iteration) without a train() of the same object?"""
    # one loop statement seen through two calls of its function (``train(effnet, ...)`` then
    # ``train(vit, ...)``) is two loops: the events of one call never run in the other's iterations
    loops: dict[tuple, ast.AST] = {}
    bodies: dict[tuple, list[Event]] = {}
    for e in events:
        for lp in e.loops:
            if id(lp) in step_loops:
                lid = (id(lp), _loop_context(e, lp))
                loops[lid] = lp
                bodies.setdefault(lid, []).append(e)
    # a freeze written in an inner (epoch) loop holds for the loops around it too (sessions)
    freezes = {f for lid, loop in loops.items() for f in _iteration_freezes(bodies[lid], loop, project)}
    # innermost loops first: when several loops show the same eval(), the fix offered is the one
    # that restores train mode in the loop where the eval() repeats (the micro-batch loop, not the epochs)
    depth = {lid: max(i for e in bodies[lid] for i, lp in enumerate(e.loops) if lp is loop) for lid, loop in loops.items()}
    for lid, loop in sorted(loops.items(), key=lambda kv: -depth[kv[0]]):
        body = bodies[lid]
        for i, ev in enumerate(body):
            if ev.kind != "eval" or not _is_trained(ev.key, project, ev.sites[0][0]) or not _bn_mode_matters(ev, project):
                continue
            if _commented_as_deliberate(ev, project) or _in_training_mode_switch(ev) or id(ev) in freezes \
                    or _chosen_right_after_train(ev):
                continue
            if any(id(f) in freezes and same_object(f.key, ev.key) for f in body):
                continue  # the object trains in eval mode on purpose: a later eval() changes nothing
            if any(f.kind in ("bnfreeze", "bnfreeze?") and f.node is ev.node for f in body):
                continue  # `for m in net.modules(): if isinstance(m, nn.BatchNorm2d): m.eval()`: a BN freeze (BN308's business)
            if _evaluated_in_fresh_construction(ev, loop):
                continue  # a new model built (and switched) in each iteration of a sweep: BN302's case
            mod, site = _report_site(ev, loop)
            restored, reached = False, False
            # same iteration first, then the next one (wrap-around), each event at most once; a
            # guarded eval() may not run again next time, so the events after it count once more
            # there (`run_epoch(train=phase == "train")`: eval() in one pass, the step in the next)
            order = body[i + 1:] + body[:i] + (body[i + 1:] if ev.guards else [])
            skipping: set = set()  # early returns of a called function that skip the train() seen so far
            for j, nxt in enumerate(order):
                wrapped = j >= len(body) - 1 - i
                if _restores_mode(nxt, ev):
                    returns = _returns_skipping(nxt, ev, loop)
                    if not returns:
                        restored = True
                        break
                    skipping |= returns
                    continue
                if nxt.kind == "step":
                    if not wrapped and conflicting(ev.guards, nxt.guards):
                        continue  # `if phase == "train": step` after `else: eval()`: never the same pass
                    if not _step_trains(nxt, ev, project):
                        continue  # an optimizer of other tensors (an attack, a mask, another network)
                    if skipping and skipping <= set(nxt.exits):
                        restored = True  # the returns that skip the train() skip this step too
                        break
                    reached = not _run_only_without_grad(ev, nxt)  # else a frozen feature extractor
                    break
            if restored:
                vote("BN301", mod, site, False, origin=_origin(ev, site))
            elif reached:
                who = ev.text or "the model"
                msg = (f"`{who}` is put in eval mode inside the training loop{_describe(ev, site)} and no "
                       f"`{who}.train()` runs before the next optimizer step: BatchNorm then trains on frozen "
                       f"running statistics and they never update again.{_captured_restore_note(ev)}"
                       f"{_skipped_restore_note(skipping)}")
                vote("BN301", mod, site, True, msg, _train_fix(mod, loop, ev), origin=_origin(ev, site))


def _evaluated_in_fresh_construction(ev: Event, loop: ast.AST) -> bool:
    """Is ``ev`` the ``self.net.eval()`` of a constructor that builds ``self.net`` itself (``self.model,
    self.preprocess = clip.load(name)``), called inside an iteration of ``loop`` (a sweep over
    configurations that builds and fine-tunes a new model each time)? Each iteration then switches a
    new object: nothing carries over to the next iteration, and a step after it in the same
    iteration is BN302's case, reported in the function that builds and trains the model."""
    if len(ev.sites) < 2:
        return False
    start = next((k for k, (mod, node) in enumerate(ev.sites) if any(a is loop for a in mod.ancestors(node))), None)
    cmod, ctor = ev.sites[-2]
    emod, switch = ev.sites[-1]
    init = emod.scope_of(switch)
    if start is None or start > len(ev.sites) - 2 or not isinstance(init, ast.FunctionDef) or init.name != "__init__":
        return False
    if not isinstance(ctor, ast.Call) or isinstance(ctor.func, ast.Attribute) and ctor.func.attr == "__init__" \
            or not isinstance(switch, ast.Call) or not isinstance(switch.func, ast.Attribute):
        return False
    text = dotted(switch.func.value) or ""
    if not text.startswith("self.") or text.count(".") != 1:
        return False
    attr = text.split(".")[1]
    params = {a.arg: d for a, d in zip(init.args.args[::-1], list(init.args.defaults)[::-1])}
    params.update({a.arg: None for a in init.args.args[1:] if a.arg not in params})
    params.update({a.arg: d for a, d in zip(init.args.kwonlyargs, init.args.kw_defaults)})

    def plain_setting(name: str) -> bool:  # a parameter defaulting to a string / number: a configuration value
        d = params.get(name)
        return isinstance(d, ast.Constant) and isinstance(d.value, (str, int, float)) and not isinstance(d.value, bool)

    values = []
    for n in astwalk.walk(init):
        if not isinstance(n, ast.Assign):
            continue
        for t in n.targets:
            elts = t.elts if isinstance(t, ast.Tuple) else [t]
            if any(isinstance(e, ast.Attribute) and isinstance(e.value, ast.Name) and e.value.id == "self" and e.attr == attr for e in elts):
                values.append(n.value)
    if not values:
        return False
    for v in values:
        if not isinstance(v, ast.Call) or (dotted(v.func) or "").split(".")[0] in params:
            return False  # `self.net = net.to(device)`: the caller's module
        if any(isinstance(a, ast.Name) and a.id in params and not plain_setting(a.id)
               for a in [*v.args, *(k.value for k in v.keywords)]):
            return False  # `self.net = DataParallel(net)`: wraps the caller's module
    return True


def _loop_context(ev: Event, loop: ast.AST) -> tuple[int, ...]:
    """The calls that lead to the function holding ``loop`` in ``ev``'s chain of call sites: which
    run of that loop the event belongs to."""
    for i, (mod, node) in enumerate(ev.sites):
        if node is loop or any(a is loop for a in mod.ancestors(node)):
            return tuple(id(site) for _m, site in ev.sites[:i])
    return ()


def _captured_restore_note(ev: Event) -> str:
    """A ``train(was_training)`` after the eval() that counts as eval() because its flag was read
    after that eval(): say so."""
    mod, node = ev.sites[-1]
    fn = mod.scope_of(node)
    func = getattr(node, "func", None)
    text = dotted(func.value) if isinstance(func, ast.Attribute) else None
    if fn is None or text is None:
        return ""
    for n in astwalk.walk(fn):
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr == "train" \
                and n.args and dotted(n.func.value) == text and mode_call(n, fn) == "eval" and n.lineno > node.lineno:
            return (f" `{ast.unparse(n)}` at {mod.where(n.lineno)} does not restore train mode: its flag was read "
                    "after eval(). Read it before calling eval().")
    return ""


def _origin(ev: Event, site: ast.AST) -> tuple[int, int]:
    """The eval() call behind a report, and how many calls separate the report from it."""
    index = next((i for i, (_m, n) in enumerate(ev.sites) if n is site), 0)
    return id(ev.node), len(ev.sites) - 1 - index


@per_node
def _names_in(owner: ast.AST) -> frozenset:
    """Every name used in ``owner`` (one walk per function, not one per report in it)."""
    return frozenset(n.id for n in astwalk.walk(owner) if isinstance(n, ast.Name))


def _train_fix(mod: Module, loop: ast.AST, ev: Event) -> Optional[Fix]:
    """Insert ``<model>.train()`` as the first statement of the loop body."""
    if not ev.text or not re.fullmatch(r"[A-Za-z_][\w.]*", ev.text):
        return None
    # the receiver must be spelled in the loop's own terms (a name bound there, or self in a method)
    head = ev.text.split(".")[0]
    func = mod.scope_of(loop)
    owner = func if func is not None else mod.tree
    bound = _names_in(owner) | (
        {a.arg for a in func.args.args + func.args.kwonlyargs} if func is not None else set())
    if head not in bound:
        return None
    if loop not in mod.parents:  # the loop is in another file than the reported call
        return None
    body = getattr(loop, "body", None)
    if not body or body[0].lineno == loop.lineno:  # `for x in y: stmt` on one line
        return None
    if isinstance(ev.node, ast.Call) and mode_flag(ev.node) is not None:
        return None  # the eval() is a `train(flag)` whose flag is false: a train() before it is undone
    first = body[0]
    if any(isinstance(n, ast.Call) and mode_call(n) == "train" and dotted(n.func.value) == ev.text  # type: ignore[attr-defined]
           for st in body for n in astwalk.walk(st)):
        return None  # the loop already calls train(): the eval() comes after it (a helper per micro-batch)
    indent = mod.lines[first.lineno - 1][: first.col_offset]
    if indent.strip():
        return None
    cell, line = mod.unit.locate(first.lineno)
    text = f"{indent}{ev.text}.train()\n"
    return Fix(f"call `{ev.text}.train()` at the start of every iteration",
               (Edit(line, 0, line, 0, text, cell),))


_BN_WORDS = re.compile(r"batch[ _-]?norm|\bbn\b|batchnorm|running (mean|stat)", re.I)
_FREEZE_WORDS = re.compile(r"freez|frozen|\bfix|keep|\bstay|batch[ _-]?size\s*(=|of|is)?\s*1\b|one (image|sample)", re.I)


def _commented_as_deliberate(ev: Event, project: Project) -> bool:
    """The eval() says why in a comment, on its line or in the comment block right above it:
    ``# fix the batch normalization ... because batchsize = 1`` / ``# keep BN frozen``. A stated
    BN freeze (tiny batches, fine-tuning) is a decision, not the forgotten train() — unless the
    model also holds a BN that trains (a frozen backbone's comment does not cover a new BN head)."""
    if _trained_bn_beside_frozen_part(ev.key, project, ev.sites[0][0]):
        return False
    for mod, node in (ev.sites[0], ev.sites[-1]):
        lines = mod.lines
        line = getattr(node, "lineno", 0)
        if not 0 < line <= len(lines):
            continue
        texts = []
        inline = lines[line - 1].partition("#")[2]
        if inline:
            texts.append(inline)
        j = line - 2
        while j >= 0 and lines[j].strip().startswith("#") and line - 1 - j <= 4:
            texts.append(lines[j])
            j -= 1
        comment = " ".join(texts)
        if _BN_WORDS.search(comment) and _FREEZE_WORDS.search(comment):
            if node is ev.node and len(ev.sites) > 1 and not _LASTING_FREEZE_WORDS.search(comment) \
                    and _own_forward_after(mod, node):
                continue  # the reason of a helper's own one-off forward (a batch-size-1 dummy pass), not of the caller's training
            return True
    return False


_LASTING_FREEZE_WORDS = re.compile(r"freez|frozen|\bfix|keep|\bstay|\bfine[ _-]?tun|during training|while training", re.I)


def _own_forward_after(mod: Module, node: ast.AST) -> bool:
    """Does the function holding the ``x.eval()`` call ``node`` run ``x`` itself after it (a summary /
    FLOPs / shape-check helper's dummy forward) and step no optimizer? A comment there justifying
    eval() by the batch size (``BatchNorm refuses batch size 1``) is about that forward; it does not
    say that the training its caller runs afterwards keeps BatchNorm frozen."""
    fn = mod.scope_of(node)
    func = getattr(node, "func", None)
    text = dotted(func.value) if isinstance(func, ast.Attribute) else None
    if fn is None or isinstance(fn, ast.Lambda) or text is None:
        return False
    calls = [n for n in astwalk.walk(fn) if isinstance(n, ast.Call)]
    if any(is_optimizer_step(c) for c in calls):
        return False
    return any(_runs_object(c, text) and (c.lineno, c.col_offset) > (node.lineno, node.col_offset) for c in calls)


# Method names that say "switch to training mode" (a trainer wrapper's ``train()``, ``set_train()``).
_TRAIN_SWITCH_NAME = re.compile(r"(set_|to_|enter_)?train(ing)?(_mode)?", re.I)


def _in_training_mode_switch(ev: Event) -> bool:
    """Is the eval() written inside a method whose name says it switches to training mode
    (``def train(self): self.net.eval()`` in a trainer wrapper, the XMem / STCN BN freeze)? That is
    how its author defines training mode, not a forgotten switch. Only a pure mode switch counts: a
    method that also loops, steps an optimizer or calls ``.train()`` on the object after the eval()
    is a training routine, where ``model.eval()`` is the classic bug."""
    for mod, node in ev.sites:
        fn = mod.scope_of(node)
        if fn is None or isinstance(fn, ast.Lambda) or not _TRAIN_SWITCH_NAME.fullmatch(fn.name) \
                or mod.enclosing_class(fn) is None or not fn.args.args or fn.args.args[0].arg != "self":
            continue
        if _is_mode_switch(fn, node):
            return True
    return False


def _chosen_right_after_train(ev: Event) -> bool:
    """Does the eval() follow the same object's own ``train()`` in the straight-line start of its
    function (``model.train()`` then ``if args.fixed_network: model.eval()``, or the two
    unconditionally; no loop, optimizer step or other mode switch between them), outside any loop
    of that function? Its author picks the mode there, against the train() just
    written: a deliberate freeze (computing pruning criteria on a fixed network), not an evaluation
    switch left on. An eval() in an evaluation helper is not preceded by that helper's train()."""
    mod, node = ev.sites[-1]
    func = getattr(node, "func", None)
    text = dotted(func.value) if isinstance(func, ast.Attribute) and func.attr == "eval" else None
    fn = mod.scope_of(node)
    if text is None or fn is None or isinstance(fn, ast.Lambda):
        return False
    stmt = node
    while True:
        parent = mod.parents.get(stmt)
        if parent is None or isinstance(parent, (*LOOP_TYPES, ast.Lambda, ast.ClassDef)):
            return False
        if parent is fn:
            break
        if isinstance(stmt, ast.stmt) and not isinstance(parent, ast.If):
            return False  # only `if` blocks between the eval() and the function body
        stmt = parent
    block = fn.body
    index = next((i for i, st in enumerate(block) if st is stmt), 0)
    for prev in reversed(block[:index]):
        call = prev.value if isinstance(prev, ast.Expr) else None
        if isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute) and call.func.attr == "train" \
                and dotted(call.func.value) == text:
            return mode_call(call, fn) == "train"
        if any(isinstance(n, (*LOOP_TYPES, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda))
               or isinstance(n, ast.Call) and (is_optimizer_step(n) or isinstance(n.func, ast.Attribute)
                                               and n.func.attr in ("train", "eval"))
               for n in astwalk.walk(prev)):
            return False  # a loop, a step or another switch between them: not one choice of the mode
    return False


def _iteration_freezes(body: list[Event], loop: ast.AST, project: Project) -> set[int]:
    """eval() calls written, unconditionally, as the first mode switch of each iteration right
    before that iteration's optimizer steps (``for epoch: model.eval(); base_train(model, ...)``,
    CEC's few-shot stage): the model trains with BatchNorm frozen on purpose, re-applied every
    epoch. A leftover eval() (from validation at the end of the previous epoch) is not first."""
    out: set[int] = set()
    for i, e in enumerate(body):
        if e.kind != "eval" or not e.loops or e.loops[-1] is not loop:
            continue
        if not any(a is loop for a in e.module.ancestors(e.node)) and not _weights_reset_each_iteration(e, loop):
            # written in the loop itself, not inside a helper it calls (`train_epoch(m)` starting
            # with m.eval() is the classic typo), unless every iteration restarts from the same
            # saved weights: an episodic adaptation (MEMO) whose helper adapts in eval mode
            continue
        if any(x.kind in ("train", "eval", "bnfreeze") and same_object(x.key, e.key) for x in body[:i]):
            continue
        nxt = next((x for x in body[i + 1:] if x.kind in ("train", "eval", "step")), None)
        if nxt is not None and nxt.kind == "step" and set(e.guards) <= set(nxt.guards) \
                and _step_trains(nxt, e, project):
            out.add(id(e))
    return out


def _weights_reset_each_iteration(ev: Event, loop: ast.AST) -> bool:
    """Does every iteration of ``loop`` reload the weights of the object ``ev`` puts in eval mode,
    unconditionally and before the statement that leads to the eval() (``for x in test_set:
    net.load_state_dict(ckpt); adapt(net, x)``, episodic test-time adaptation such as MEMO)? Each
    iteration is then an episode from the same weights. (The mode is not part of the state dict: an
    eval() left over from the previous iteration still freezes the next one, as in k-fold loops.)"""
    if not ev.text or not isinstance(loop, (ast.For, ast.AsyncFor, ast.While)):
        return False
    site_line = next((node.lineno for mod, node in ev.sites if any(a is loop for a in mod.ancestors(node))), None)
    if site_line is None:
        return False
    # the saved state must be the same every iteration: not rebound in the loop (a best-so-far
    # checkpoint updated by the loop is training that goes on, not an episode reset)
    rebound = {n.id for n in astwalk.walk(loop) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    rebound |= {dotted(n) for n in astwalk.walk(loop) if isinstance(n, ast.Attribute) and isinstance(n.ctx, ast.Store)}
    for st in loop.body:
        if st.lineno >= site_line:
            break
        value = st.value if isinstance(st, (ast.Expr, ast.Assign)) else None
        if not (isinstance(value, ast.Call) and value.args):
            continue
        source = dotted(value.args[0].value if isinstance(value.args[0], ast.Subscript) else value.args[0])
        if source is None or source.split(".")[0] in rebound or source in rebound:
            continue
        if isinstance(st, ast.Expr) and isinstance(value.func, ast.Attribute) \
                and value.func.attr == "load_state_dict" and dotted(value.func.value) == ev.text:
            return True
        if isinstance(st, ast.Assign) and len(st.targets) == 1 and dotted(st.targets[0]) == ev.text \
                and (dotted(value.func) or "").rsplit(".", 1)[-1] == "deepcopy":
            return True
    return False


def _returns_skipping(train: Event, ev: Event, loop: ast.AST) -> set:
    """The early returns of a called function that may skip the ``train()`` after the ``eval()``
    ``ev`` (``validate()`` returning from inside its batch loop before its closing ``train()``),
    while the caller's training loop goes on. Not a return of the function that holds ``loop``:
    that ends the loop too."""
    out = set()
    for x in train.exits:
        ret, mod, _guards, tag = x
        if tag and x not in ev.exits and not any(a is loop for a in mod.ancestors(ret)):
            out.add(x)
    return out


def _skipped_restore_note(returns: set) -> str:
    if not returns:
        return ""
    ret, mod, _guards, _tag = min(returns, key=lambda x: (x[1].path, x[0].lineno))
    return (f" The `return` at {mod.where(ret.lineno)} leaves before the function's own train() call: restore the "
            "mode before returning (or in a `finally:`).")


def _restores_mode(nxt: Event, ev: Event) -> bool:
    """Does ``nxt`` put the object of the eval() ``ev`` back in training mode: a ``train()``, or the
    author's own training-mode switch (whatever that switch does to BatchNorm)?"""
    if not same_object(nxt.key, ev.key):
        return False
    return nxt.kind == "train" or (nxt.kind == "eval" and _in_training_mode_switch(nxt))


@per_node
def _switch_shape(fn: ast.AST) -> tuple:
    """(loops or optimizer steps in ``fn``?, line numbers of its ``x.train()`` calls)."""
    busy, trains = False, []
    for n in astwalk.walk(fn):
        if isinstance(n, (ast.For, ast.AsyncFor, ast.While)) or (isinstance(n, ast.Call) and is_optimizer_step(n)):
            busy = True
        elif isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr == "train" \
                and not (n.args and isinstance(n.args[0], ast.Constant) and n.args[0].value is False):
            trains.append(n.lineno)
    return busy, tuple(trains)


def _is_mode_switch(fn: ast.AST, eval_call: ast.AST) -> bool:
    busy, trains = _switch_shape(fn)
    return not busy and not any(line > eval_call.lineno for line in trains)


def _check_before_loop(events: list[Event], step_loops: set[int], project: Project, vote,
                       caller_params=lambda: frozenset()) -> None:
    """BN302: eval() outside the training loops, then a training step with no train() in between.
    When the eval() and the step each depend on a parameter of the function (``if not train_mode:
    model.eval()`` ... ``if optimizer is not None: optimizer.step()``), the project's calls decide
    whether they meet: judged in the callers' summaries, not here."""
    for i, ev in enumerate(events):
        if ev.kind != "eval" or any(id(lp) in step_loops for lp in ev.loops):
            continue
        if not _is_trained(ev.key, project, ev.sites[0][0]) or not _bn_mode_matters(ev, project):
            continue
        if _commented_as_deliberate(ev, project) or _in_training_mode_switch(ev) or _chosen_right_after_train(ev):
            continue
        restored, step = False, None
        for nxt in events[i + 1:]:
            if _restores_mode(nxt, ev):
                restored = True
                break
            if nxt.kind == "step" and _step_trains(nxt, ev, project):
                if conflicting(ev.guards, nxt.guards):
                    continue  # `if train: ... step` after `else: eval()` on the same flag: never both
                step = nxt
                break
        if step is not None and ev.guards and step.guards and _guard_names(ev.guards) & caller_params() \
                and _guard_names(step.guards) & caller_params():
            continue
        if step is not None and _run_only_without_grad(ev, step):
            continue  # a frozen feature extractor (linear probe): eval() on purpose
        if step is not None and not restored:
            # a train() anywhere in a loop around the step runs from the second iteration on
            for lp in step.loops:
                if any(e.kind == "train" and same_object(e.key, ev.key) and any(x is lp for x in e.loops) for e in events):
                    restored = True
        mod, node = ev.sites[0]
        if restored:
            vote("BN302", mod, node, False, origin=_origin(ev, node))
        elif step is not None:
            who = ev.text or "the model"
            smod, snode = step.sites[0]
            msg = (f"`{who}` is put in eval mode{_describe(ev, node)} before training and nothing calls "
                   f"`{who}.train()` before the optimizer steps ({smod.where(snode.lineno)}): its BatchNorm "
                   f"layers train with frozen running statistics.")
            vote("BN302", mod, node, True, msg, None, origin=_origin(ev, node), one_step=not step.loops)


def _key_within(a: Key, b: Key) -> bool:
    """Is ``a`` the object ``b`` or one of its sub-modules (``("model", "backbone")`` within ``("model",)``)?"""
    return a is not None and b is not None and len(a) >= len(b) and a[:len(b)] == b


def _freeze_switch(ev: Event) -> bool:
    """Is the eval() ``ev`` half of a freeze: written in a function that also freezes the parameters of
    the same object (``for p in m.parameters(): p.requires_grad = False; m.eval()``)?"""
    mod, node = ev.sites[-1]
    func = getattr(node, "func", None)
    text = dotted(func.value) if isinstance(func, ast.Attribute) else None
    scope = mod.scope_of(node)
    return text is not None and any(dotted(x) == text for x in parameter_freezes(scope if scope is not None else mod.tree))


def _check_unfreezes(events: list[Event], step_loops: set[int], project: Project, vote) -> None:
    """BN301 / BN302, unfreeze form: a module frozen both ways (``requires_grad = False`` and
    ``eval()``, a warm-up stage that trains the new head only) is unfrozen by restoring
    ``requires_grad`` alone, and the optimizer steps with no ``train()`` of it in between: from then on
    its parameters train while its BatchNorm layers stay in eval mode, normalizing with the frozen
    running statistics that never update again. Reported at the call that unfreezes; BN301 when it
    runs inside the training loop, BN302 before it."""
    for i, u in enumerate(events):
        if u.kind != "unfreeze" or u.key is None:
            continue
        # the last switch of the object (or of a module holding it) before the unfreeze
        last = next((e for e in reversed(events[:i]) if e.kind in ("train", "eval", "bnfreeze", "bnfreeze?")
                     and (_key_within(u.key, e.key) or e.kind != "eval" and _key_within(e.key, u.key))), None)
        if last is None or last.kind != "eval" or last.fresh or not _freeze_switch(last):
            continue
        if not _bn_mode_matters(last, project) or _commented_as_deliberate(last, project):
            continue
        # what runs after the unfreeze: the rest of the summary, then the iterations of the loops
        # around the unfreeze that come back to the events before it
        inner = [e for e in events[:i] if u.loops and any(lp is u.loops[-1] for lp in e.loops)]
        restored, step = False, None
        for nxt in events[i + 1:] + inner:
            if nxt.kind in ("train", "eval", "bnfreeze", "bnfreeze?") and nxt.key is not None \
                    and (_key_within(nxt.key, u.key) or _key_within(u.key, nxt.key)):
                restored = nxt.kind != "eval" or nxt is last  # a BN freeze re-applied: BN kept frozen on purpose
                break
            if nxt.kind == "step" and not conflicting(u.guards, nxt.guards) and _step_trains(nxt, last, project) \
                    and not _run_only_without_grad(u, nxt):
                step = nxt
                break
        mod, node = u.sites[0]
        code = "BN301" if any(id(lp) in step_loops for lp in u.loops) else "BN302"
        origin = (("unfreeze", id(last.node)), len(u.sites) - 1)
        if restored:
            vote(code, mod, node, False, origin=origin)
        elif step is not None:
            who = u.text or "the module"
            smod, snode = step.sites[0]
            emod, enode = last.sites[-1]
            msg = (f"`{who}` is unfrozen here{_describe(u, node)} but stays in the eval mode its freeze set "
                   f"(`{ast.unparse(enode)}` at {emod.where(enode.lineno)}): nothing calls `{who}.train()` before the "
                   f"optimizer steps ({smod.where(snode.lineno)}), so its parameters train while its BatchNorm layers "
                   f"keep normalizing with frozen running statistics. Call `.train()` where the parameters are unfrozen.")
            vote(code, mod, node, True, msg, None, origin=origin)


# BN302, recalibration form: a pass meant to re-estimate the BatchNorm statistics (AdaBN, precise BN,
# a hand-written ``update_bn``: the running statistics reset and/or ``momentum = None``, then forward
# passes) reached while the model is in eval mode. In eval mode BatchNorm reads its running statistics
# and writes none: the passes recompute nothing and the model keeps the reset (0 / 1) or old statistics.
_SUBMODULE_WALKS = frozenset({"modules", "named_modules", "children", "named_children", "apply"})


def _stats_reset_nodes(fn: ast.AST, module: Module) -> list[ast.AST]:
    """The statements of ``fn`` that restart the running statistics: ``m.reset_running_stats()``,
    ``m.momentum = None`` (cumulative average from the next batch on), ``x.apply(f)`` where ``f``
    (a lambda or a function of this module) does one of those."""
    out: list[ast.AST] = []
    helpers = _stats_reset_helpers(module.tree)
    for n in astwalk.walk(fn):
        if _resets_stats_here(n):
            out.append(n)
        elif isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id in helpers and n.args \
                and n.func.id != getattr(fn, "name", None):
            out.append(n)  # reset_bn_stats(model): a helper of this module that resets them
        elif isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr == "apply" and len(n.args) == 1:
            a = n.args[0]
            if isinstance(a, ast.Name) and a.id in helpers or isinstance(a, ast.Lambda) and any(
                    _resets_stats_here(x) for x in astwalk.walk(a)):
                out.append(n)
    return out


@per_node
def _stats_reset_helpers(tree: ast.AST) -> frozenset:
    """Names of the module-level functions of ``tree`` that reset BatchNorm statistics themselves."""
    return frozenset(f.name for f in tree.body if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef)) and any(
        _resets_stats_here(n) for n in astwalk.walk(f)))


_STATS_RESET_TEXT = re.compile(r"reset_running_stats|\.momentum\s*=\s*None")


def _resets_stats_here(n: ast.AST) -> bool:
    if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr == "reset_running_stats" and not n.args:
        return True
    return isinstance(n, ast.Assign) and isinstance(n.value, ast.Constant) and n.value.value is None and any(
        isinstance(t, ast.Attribute) and t.attr == "momentum" for t in n.targets)


def _recalibration_passes(fn: ast.AST, module: Module) -> list[tuple[str, ast.AST, ast.Call]]:
    """(model text, first statistics reset, first forward pass of that model after it) for each model
    whose statistics ``fn`` restarts and then re-estimates by running it, with no optimizer step and
    no ``train()`` / ``.training =`` anywhere in ``fn`` (a training function, or a pass that chooses
    its own mode, is something else)."""
    resets = _stats_reset_nodes(fn, module)
    if not resets:
        return []
    calls = [n for n in astwalk.walk(fn) if isinstance(n, ast.Call)]
    if any(is_optimizer_step(c, module) or mode_call(c) == "train" for c in calls):
        return []
    if any(isinstance(n, (ast.Assign, ast.AugAssign, ast.AnnAssign)) and any(
            isinstance(t, ast.Attribute) and t.attr == "training" for t in (n.targets if isinstance(n, ast.Assign) else [n.target]))
           for n in astwalk.walk(fn)):
        return []
    first = min(resets, key=lambda n: (n.lineno, n.col_offset))
    models = {dotted(c.func.value) for c in calls if isinstance(c.func, ast.Attribute) and c.func.attr in _SUBMODULE_WALKS}
    models |= {dotted(r.args[0]) for r in resets if isinstance(r, ast.Call) and isinstance(r.func, ast.Name)}
    models.discard(None)
    out = []
    for text in sorted(models):
        runs = [c for c in calls if _runs_object(c, text) and (c.lineno, c.col_offset) > (first.lineno, first.col_offset)]
        if runs:
            out.append((text, first, min(runs, key=lambda c: (c.lineno, c.col_offset))))
    return out


def _left_in_eval_at(flow: Flow, module: Module, scope, node: ast.AST, text: str, depth: int = 0) -> Optional[Event]:
    """The ``eval()`` event that leaves ``text`` in eval mode where ``node`` runs in ``scope`` (looked for
    before it in that function, then, for a parameter, before each call of the function, uniquely
    resolved), or None where a ``train()`` may run in between or nothing is known."""
    names = set(text.split(".")) - {"self", "module"}
    if not names or depth > 3:
        return None
    events = flow.summary(scope) if scope is not None else flow.module_summary(module)
    around = [a for a in module.ancestors(node) if isinstance(a, LOOP_TYPES)]
    pos = (node.lineno, node.col_offset)
    last: Optional[Event] = None
    later_trains: list[Event] = []
    for ev in events:
        if ev.kind not in ("train", "eval") or ev.sites[0][0] is not module:
            continue
        site = ev.sites[0][1]
        restores = ev.kind == "train" and (ev.key is None or bool(key_names(ev.key) & names))
        if site is node or (getattr(site, "lineno", 0), getattr(site, "col_offset", 0)) >= pos:
            if restores:
                later_trains.append(ev)
            continue
        if restores or ev.kind == "eval" and ev.key is not None and key_names(ev.key) == names:
            last = ev
    for a in around:
        # a train() later in a loop around the pass runs before the next pass, unless an eval()
        # in that loop comes before the pass again
        if any(lp is a for t in later_trains for lp in t.loops) and not (
                last is not None and last.kind == "eval" and any(lp is a for lp in last.loops)):
            return None
    if last is not None:
        return last if last.kind == "eval" else None
    if scope is None or len(names) != 1 or "." in text or text not in _params(scope):
        return None
    found = None
    for site, unique in flow.callers_of(scope):
        fi = flow.function_info.get(id(scope))
        if not unique or fi is None:
            continue
        arg = call_arguments(fi, site.node)[1].get(text)
        if arg is None or dotted(arg) is None:
            continue
        ev = _left_in_eval_at(flow, site.module, site.scope, site.node, dotted(arg), depth + 1)
        if ev is None:
            return None  # another call restores or cannot tell: say nothing
        found = found or ev
    return found


def _recalibration_findings(project: Project) -> list[tuple[Module, ast.AST, str, None]]:
    flow = _flow(project)
    out: list = []
    for m in project.modules:
        if not _STATS_RESET_TEXT.search(m.unit.text) or not _uses_torch(m):
            continue
        if _project_drops_running_stats(project, m):
            continue  # track_running_stats=False / running_mean=None: batch statistics in eval mode too
        scopes = [(fi.node, fi.node) for fi in m.functions] + [(None, m.tree)]
        for scope, owner in scopes:
            if scope is not None and is_unit_test(m, scope):
                continue
            for text, reset, run in _recalibration_passes(owner if scope is not None else _module_body(m), m):
                ev = _left_in_eval_at(flow, m, scope, run, text)
                if ev is None or not _bn_mode_matters(ev, project) or _commented_as_deliberate(ev, project):
                    continue
                if scope is not None and _handed_averaged_copy(flow, scope, text):
                    continue  # an AveragedModel / EMA copy whose recompute fails: BN306 reports it, once
                emod, enode = ev.sites[0]
                who = ev.text or text
                where = (lambda line: f"line {line}") if emod is m else m.where
                out.append((emod, enode, (
                    f"`{who}` is left in eval mode{_describe(ev, enode)} when its BatchNorm statistics are "
                    f"re-estimated (statistics reset at {where(reset.lineno)}, then `{ast.unparse(run)[:40]}` at "
                    f"{where(run.lineno)}) and nothing calls `{who}.train()` in between: in eval mode BatchNorm "
                    f"reads its running statistics and updates none, so the pass recomputes nothing and the model "
                    f"keeps the reset (or old) statistics."), None))
    return out


def _handed_averaged_copy(flow: Flow, fn: ast.AST, param: str) -> bool:
    """Does some call of ``fn`` pass, for ``param``, a name built there by ``AveragedModel(...)`` or
    ``deepcopy(...)`` (a weight average or EMA copy)?"""
    if param not in _params(fn):
        return False
    fi = flow.function_info.get(id(fn))
    for site, _unique in flow.callers_of(fn) if fi is not None else ():
        arg = call_arguments(fi, site.node)[1].get(param)
        if not isinstance(arg, ast.Name):
            continue
        owner = site.scope if site.scope is not None else site.module.tree
        for n in _own_nodes(site.module, owner if site.scope is not None else None):
            if isinstance(n, ast.Assign) and isinstance(n.value, ast.Call) and any(
                    isinstance(t, ast.Name) and t.id == arg.id for t in n.targets) and \
                    (dotted(n.value.func) or "").rsplit(".", 1)[-1] in ("AveragedModel", "deepcopy"):
                return True
    return False


def _module_body(m: Module) -> ast.AST:
    """The module's top-level code, without its functions and classes, as one scope-like node."""
    return ast.Module(body=[s for s in m.tree.body if not isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))],
                      type_ignores=[])


class _ModeRule(Rule):
    framework = "pytorch"
    # The reported file holds a loop (or the code before it) that reaches an eval() and an optimizer
    # step, possibly through calls; such a file names one of these.
    triggers = ("train", "eval", "val", "step", "fit", "optim", "epoch")
    # Files that provide the facts: mode switches (in FACT_WORDS), optimizer steps and constructions.
    fact_triggers = (".step(", "optim")

    def check(self, module: Module, project: Project) -> Iterable[Finding]:
        for mod, node, message, fix in _mode_findings(project)[self.code]:
            if mod is module:
                yield self.finding(module, node, message, fix=fix)


@register
class EvalLeftOnInTrainingLoop(_ModeRule):
    code = "BN301"
    name = "eval-mode-left-on-in-training-loop"
    summary = "eval() inside the training loop with no train() before the next optimizer step"
    doc = RuleDoc(
        what="""
Finds `model.eval()` / `model.train(False)` that runs inside the loop that steps an optimizer —
directly or through a project function such as `validate()` defined in another module — when no
`model.train()` runs before the next optimizer step, the next iteration included.
Calls are followed through the project (arguments bound to parameters, `self.model`, aliases,
`model.module`, a callback parameter such as `on_log(model, step)` when every call passes the same
project function, by name or as `functools.partial(f, ...)`), and only the object the optimizer
trains counts. `model.train(was_training)` counts
as eval() when `was_training = model.training` was read after that function's own `model.eval()`
(the "restore" then restores eval mode). `model.train(flag)` is `train()` where the flag is true and
`eval()` where it is false: a parameter decided by the call's argument or its default
(`run_epoch(model, batches, optimizer)` with `training=False`), or an attribute every store of the
program makes false (a dataclass field default left at construction). A `train()` that an early
`return` of the called function can skip (from inside `validate()`'s batch loop) does not restore
the mode, unless the call's arguments rule that return out. A training loop written as a generator
(`for step, loss in train_steps(model, opt, loader): ... validate(model)`) resumes its loop, up to
the `yield`, in every iteration of the consumer's loop: an `eval()` in the consumer's body reaches
the generator's next optimizer step. A `x.train()` / `x.eval()` whose arguments cannot bind a project
method of that name (a learner's own `train(self, task, ctx, signal)`) is the Module mode switch,
not a call of that method. Also the unfreeze form: a module frozen both ways by one function
(`requires_grad = False` and `eval()`, a warm-up stage that trains the new head only) and unfrozen
inside the training loop by restoring `requires_grad` alone (`p.requires_grad = True` over its
`parameters()`, `requires_grad_(True)`) with no `train()` of it (or of a module holding it) before
the next step: reported at the call that unfreezes, in whichever module the two helpers live.
Flax NNX models have the same
switches (`model.eval()` / `model.train()`, stepped by `nnx.Optimizer(...).update(...)`) and are
checked the same way.
""",
        why="""
`eval()` switches every BatchNorm to its running statistics and stops updating them. If training
continues in eval mode, BN normalizes with stale statistics (the ones at the first validation), the
running estimates never move again, and the model trained this way is evaluated with statistics that
do not match its weights: accuracy drops, sometimes to chance.
""",
        example="""
for epoch in range(epochs):
    for x, y in train_loader:
        loss = criterion(model(x), y)
        optimizer.zero_grad(); loss.backward(); optimizer.step()
    validate(model, val_loader)   # calls model.eval()
""",
        use_instead="""
for epoch in range(epochs):
    model.train()
    for x, y in train_loader:
        ...
    validate(model, val_loader)
""",
        not_flagged="""
`train()` anywhere before the next step (top of the epoch, inside `train_one_epoch()`, at the end
of `validate()`, also in a `finally:` around an early return); `model.train(flag)` with a flag
that may be true (but a `train()` of only the Dropout modules, `for m in model.modules(): if
isinstance(m, nn.Dropout): m.train()` for Monte-Carlo dropout, restores no BatchNorm layer);
`eval()` on objects the optimizer does not train or that are frozen on purpose
(`requires_grad_(False)`, teacher / target / EMA networks, a frozen backbone, one layer such as
`model[1].eval()`); models whose BatchNorm parameters are frozen (`requires_grad = False` on the BN
parameters, `affine=False`: the deliberate BN freeze of small-batch fine-tuning); the BN layers
picked out and put in eval mode (`for m in net.modules(): if isinstance(m, nn.BatchNorm2d): m.eval()`:
a BN freeze, BN308's business when a `train()` undoes it); models whose
constructors are all visible and build no BatchNorm; the `for phase in ["train", "val"]` pattern;
PyTorch Lightning modules (the trainer switches modes); an `eval()` inside a method that only
switches to training mode (`def train(self): self.net.eval()` in a trainer wrapper: the author's
definition of training mode, XMem / STCN), and calling that switch restores the mode; an `eval()`
written unconditionally as the first mode switch of every iteration right before the steps
(`for epoch: model.eval(); base_train(model, ...)`: BN frozen on purpose, CEC's few-shot stage),
also inside a helper when every iteration first reloads the same saved weights (episodic test-time
adaptation such as MEMO: `for x in test_set: net.load_state_dict(ckpt); adapt(net, x)`);
a validation pass through the training helper that passes no optimizer (`loss_epoch(model, dl,
opt=None)` stepping only `if opt is not None`); one training helper called for several models in
turn (each call's loop is judged on its own, even when the optimizer variable is reused); a
sweep loop that builds a new model each iteration whose constructor puts it in eval mode
(`ClipModel(name)` calling `self.model.eval()`): nothing carries over between iterations, and a
fine-tune without `train()` inside one iteration is BN302's case; `x.train()` on a module handed
in, even where a plain (non-`nn.Module`) class of the project defines a `train(self)` method, when
nothing builds `x` from that class; an unfreeze followed by a freeze of the BatchNorm layers alone
(weights trained, BN statistics kept frozen on purpose), or of another sub-module than the one frozen.
""",
        versions=PYTORCH_VERSIONS,
    )


@register
class EvalBeforeTraining(_ModeRule):
    code = "BN302"
    name = "eval-mode-before-training"
    summary = "eval() before the training loop and no train() before the optimizer steps"
    doc = RuleDoc(
        what="""
Finds `model.eval()` / `model.train(False)` executed before the training loop (in the same function,
in a caller, or in a helper such as `load_checkpoint()`) when no `model.train()` runs before the
optimizer steps. The optimizer a helper steps as a parameter (`def update_policy(model, policy,
optimizer)`) is the one its calls pass, also when a builder returns it in a tuple
(`net, policy, opt, policy_opt = build()`). Also a statistics re-estimation pass (AdaBN, precise
BN, a hand-written `update_bn`: `reset_running_stats()` and/or `momentum = None` on the model's
BatchNorm layers, then forward passes of the model, no optimizer step, no mode chosen by the pass)
reached while an earlier `eval()` (a validation right before, or one inside the pass) still holds:
in eval mode the passes recompute nothing and the model keeps the reset (0 / 1) or old statistics.
Also the unfreeze form of BN301 outside the training loops (a head-only stage, then the frozen part
unfrozen by `requires_grad` alone and the full fine-tune started without its `train()`). A comment
that justifies an `eval()` by a batch of one sample, written in a helper that runs its own dummy
forward (a layer summary, a FLOPs count), explains that forward, not the caller's training: the
helper's eval() left on is reported in the caller that trains.
""",
        why="""
A module keeps the mode it was last put in. Starting training right after an `eval()` (for an
initial validation, after loading weights) trains the whole run with BatchNorm in inference mode:
running statistics frozen at their initial values, batch statistics never used.
""",
        example="""
model.load_state_dict(torch.load(path))
model.eval()
print("initial accuracy", evaluate(model))
for epoch in range(epochs):
    train_epoch(model, loader, optimizer)   # never calls model.train()
""",
        use_instead="""
model.eval()
print("initial accuracy", evaluate(model))
model.train()
for epoch in range(epochs):
    train_epoch(model, loader, optimizer)
""",
        not_flagged="""
Objects frozen on purpose: a feature extractor / backbone with `requires_grad_(False)`, a teacher,
target, EMA or perceptual-loss network, anything whose parameters no optimizer receives (but a model
whose frozen part is only `model.backbone` while its class builds BatchNorm in another, trained
attribute, such as a new head, is reported: `model.eval()` freezes that BN too); one layer
switched back after `model.train()` (`model[1].eval()`); a model whose BatchNorm parameters are
frozen (`for p in self.bn1.parameters(): p.requires_grad = False`, `affine=False`: DeepLab-style
`use_global_stats` fine-tuning); a model whose visible constructors build no BatchNorm; an `eval()`
whose comment (on its line or right above) says BatchNorm is kept frozen on purpose
(`# fix the batch normalization because batch size = 1`); an object that only ever runs under
`torch.no_grad()` where the optimizer steps (the frozen encoder of a linear probe); an `eval()` and
a step that each depend on a parameter of a helper the project calls (`if not train_mode:
model.eval()` ... `if optimizer is not None: optimizer.step()`): the calls decide, and are judged
where they are made; unit tests (`test_*` functions in test files); the `eval()` of a one-step helper
(`trainer.step(batch)`, no loop around its optimizer step) that a caller's training loop already
reports as BN301 (one defect, reported once); a frozen reward network put in eval mode while a
REINFORCE controller is trained (every call hands the helper an optimizer over the controller's
parameters only); a re-estimation pass that switches the BatchNorm layers (or the model) to
training mode itself, or runs after a `train()`; an averaged / EMA copy's failed recompute
(BN306 reports it).
""",
        versions=PYTORCH_VERSIONS,
    )


# ------------------------------------------------------------------------------------------------
# BN308 a BatchNorm freeze undone by train()
# ------------------------------------------------------------------------------------------------
def _within(inner: str, outer: str) -> bool:
    """Is the object named ``inner`` the object ``outer`` or one of its sub-modules?"""
    return bool(inner and outer) and (inner == outer or inner.startswith(outer + "."))


def _freeze_undone_findings(project: Project) -> list[tuple[Module, ast.AST, str]]:
    """BN308 verdicts for the whole project, computed once: a ``train()`` on a model after one of its
    BatchNorm freezes, before an optimizer step, with no freeze applied again in between."""

    def compute(p: Project):
        flagged: dict[tuple, tuple] = {}
        cleared: set[tuple] = set()
        for _mod, events in itertools.chain(_roots(p), _constructed_then_method_roots(p)):
            freezes = [(i, e) for i, e in enumerate(events) if e.kind == "bnfreeze" and e.text]
            if not freezes or not any(e.kind == "step" for e in events):
                continue
            for i, t in enumerate(events):
                if t.kind != "train" or t.fresh or not t.text or not _is_trained(t.key, p, t.sites[0][0]):
                    continue
                before = [f for j, f in freezes if _within(f.text, t.text) and not conflicting(f.guards, t.guards)
                          and (j < i or any(lp is lq for lp in f.loops for lq in t.loops))
                          and not _frozen_part_without_bn(f, p) and not _frozen_behind_blocking_override(f, p)
                          and not _refrozen_by_own_train(f, p)
                          and not _callee_scoped_freeze(events, j, f, t)]
                if not before:
                    continue
                verdict, step = _after_train(events, i, t, p)
                mod, node = t.module, t.node
                site = (mod.path, id(node))
                if verdict and any(_phase_scoped_freeze(f, t, step) for f in before):
                    continue  # re-frozen for a phase of its own each iteration: not this train()'s business
                if verdict:
                    flagged.setdefault(site, (mod, node, t, before[0], step))
                elif verdict is False:
                    cleared.add(site)
        out = []
        for site, (mod, node, t, freeze, step) in flagged.items():
            if site in cleared:
                continue
            # the innermost call that applied the freeze (``fix_bn(self.model)``), not the call chain's
            # outer end (``Trainer(...)``) nor the ``m.eval()`` inside the helper
            fmod, fnode = freeze.sites[-1]
            if len(freeze.sites) > 1 and _loop_variable_call(fmod, fnode):
                fmod, fnode = freeze.sites[-2]
            smod, snode = step.sites[-1]
            who = t.text
            msg = (f"`{who}.train()` puts the BatchNorm layers that `{ast.unparse(fnode)}` froze "
                   f"({fmod.where(fnode.lineno)}) back in training mode before the optimizer steps "
                   f"({smod.where(snode.lineno)}): their running statistics update on every batch again, so "
                   f"the freeze has no effect. Apply the freeze after every `train()`, or override `train()` to "
                   f"keep those layers in eval mode.")
            out.append((mod, node, msg))
        reported = {(mod.path, id(node)) for mod, node, _msg in out}
        out += [f for f in _params_freeze_undone_findings(p) if (f[0].path, id(f[1])) not in reported]
        return out

    return project.fact("torch.freeze_undone", compute)


def _callee_scoped_freeze(events: list[Event], j: int, freeze: Event, t: Event) -> bool:
    """A freeze that a called training function re-applies after its own ``train()`` in every
    iteration of its own loop, where its own optimizer steps (``finetune(model, fix_bn=True)``:
    ``model.train(); if fix_bn: freeze_bn(model)`` each epoch): the callee manages the mode for its
    own stage. A ``train()`` reached through another call (the next stage's training function) starts
    a stage the freeze was never made for."""
    if len(freeze.sites) < 2 or not t.sites or t.sites[0][1] is freeze.sites[0][1]:
        return False
    call = freeze.sites[0][1]
    own = [lp for lp in freeze.loops if not any(lp is lt for lt in t.loops)]
    if not own:
        return False

    def inside(ev: Event) -> bool:
        return bool(ev.sites) and ev.sites[0][1] is call and len(ev.sites) > 1 and any(lp is le for lp in own for le in ev.loops)

    retrained = any(e.kind == "train" and not e.fresh and e.text and inside(e)
                    and (_within(freeze.text, e.text) or _within(e.text, freeze.text)) for e in events[:j])
    return retrained and any(e.kind == "step" and inside(e) for e in events[j + 1:])


def _phase_scoped_freeze(freeze: Event, t: Event, step: Event) -> bool:
    """A freeze applied again in every iteration of a loop that also holds the ``train()`` and its
    step, and used in that same iteration before the ``train()`` by an optimizer step of another
    optimizer (dataset condensation: BN statistics frozen for the matching forwards and the step of
    the synthetic images, then the network trained normally by its own optimizer). The freeze
    covers its own phase; the ``train()`` starts another one, and the next iteration freezes again
    before the frozen phase runs. (A freeze done once before the loop, or with no step of its own
    before the ``train()``, is still undone by it.)"""
    common = [lp for lp in freeze.loops if any(lp is lq for lq in t.loops) and any(lp is ls for ls in step.loops)]
    if not common or not step.text:
        return False
    loop = common[-1]

    def at_loop(ev: Event) -> Optional[tuple[Module, ast.AST]]:
        return next(((m, n) for m, n in ev.sites if any(a is loop for a in m.ancestors(n))), None)

    # the loop in the root's own code, where the optimizers have the names the step events use
    fsite, tsite = at_loop(freeze), at_loop(t)
    if fsite is None or fsite != freeze.sites[0] or tsite != t.sites[0] or fsite[0] is not tsite[0]:
        return False
    mod, fnode = fsite
    # applied in every iteration: no ``if`` on the loop's counter (``if epoch == 0: freeze_bn(m)``)
    counters = {x.id for lp in common for x in astwalk.walk(getattr(lp, "target", lp)) if isinstance(x, ast.Name)}
    if any(isinstance(a, ast.If) and any(isinstance(x, ast.Name) and x.id in counters for x in astwalk.walk(a.test))
           for a in mod.ancestors_until(fnode, loop)):
        return False
    start, end = (fnode.lineno, fnode.col_offset), (tsite[1].lineno, tsite[1].col_offset)
    if not start < end:
        return False
    for n in astwalk.walk(loop):
        if not (isinstance(n, ast.Call) and start < (n.lineno, n.col_offset) < end and is_optimizer_step(n, mod)):
            continue
        if any(isinstance(a, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef))
               for a in mod.ancestors_until(n, loop)):
            continue
        opt = dotted(stepped_optimizer(n))
        if opt and not _within(opt, step.text) and not _within(step.text, opt):
            return True
    return False


def _constructed_then_method_roots(project: Project) -> list[tuple[Module, list[Event]]]:
    """A class whose ``__init__`` freezes BN layers of its own model (``self.model =
    fix_bn(self.model)``), with each of its methods that trains: ``__init__`` runs before any method
    whoever builds the object, so its events come first. The object may be built where we cannot
    see it (``Trainer = getattr(models, name).Trainer; Trainer(cfg).train_model()``)."""
    flow = _flow(project)
    out = []
    for m in project.modules:
        # a text shortcut (summarising every constructor that may reach an eval() costs seconds on a
        # large tree); the freeze helper may live in another module, hence the freeze words too
        if not any(m.mentions(w) for w in ("eval", "freeze", "frozen", "fix_bn")) or _lightning_module(m):
            continue
        for cls in m.classes:
            methods, init = _methods_and_init(cls)
            if init is None or not flow.may_produce("eval", init, m):
                continue
            init_events = flow.summary(init)
            if not any(e.kind == "bnfreeze" and e.text for e in init_events):
                continue
            for fn in methods:
                if fn is init or fn.name == "train" or is_unit_test(m, fn) or not flow.may_produce("step", fn, m):
                    continue
                out.append((m, list(init_events) + list(flow.summary(fn))))
    return out


def _methods_and_init(cls: ast.ClassDef) -> tuple[list, Optional[ast.AST]]:
    """The methods a class body defines, and its ``__init__`` (None when it has none)."""
    methods = [n for n in cls.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    return methods, next((n for n in methods if n.name == "__init__"), None)


def _frozen_part_without_bn(freeze: Event, project: Project) -> bool:
    """A sub-module frozen whole (``self.vgg = vgg.eval()`` + ``requires_grad_(False)``) that is built
    without BatchNorm: train() then switches nothing this rule is about. (A freeze that picks the BN
    layers out of a model, ``for m in model.modules(): ... m.eval()``, has BN by construction.)"""
    mod, node = freeze.sites[-1]
    return not _loop_variable_call(mod, node) and _model_has_bn(freeze.key, project, mod) is False


def _frozen_behind_blocking_override(freeze: Event, project: Project) -> bool:
    """A freeze done in a method of an ``nn.Module`` class whose ``train(mode)`` override does not
    hand the mode on (``def train(self, mode=True): return self``, a feature extractor kept frozen
    on purpose): the ``train()`` of a module holding it never reaches the frozen layers."""
    for mod, node in freeze.sites:
        cls = mod.enclosing_class(node)
        if cls is not None and train_override_blocks(cls) and _is_module_class(cls, mod, project):
            return True
    return False


def _refrozen_by_own_train(freeze: Event, project: Project) -> bool:
    """A freeze done in a method of an ``nn.Module`` class (its ``__init__``: ``norm_eval``) whose own
    ``train(mode)`` override applies the freeze again: ``Module.train()`` of any module holding it
    (a wrapper model's ``train()`` recurses into its children) runs that override, so the layers
    stay frozen."""
    flow = _flow(project)
    for mod, node in freeze.sites:
        cls = mod.enclosing_class(node)
        if cls is None or not _is_module_class(cls, mod, project):
            continue
        train = next((f for f in cls.body if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef)) and f.name == "train"), None)
        if train is not None and any(e.kind in ("bnfreeze", "bnfreeze?") for e in flow.summary(train)):
            return True
    return False


def _loop_variable_call(module: Module, call: ast.AST) -> bool:
    """``m.eval()`` on the variable of a loop around it (``for m in model.modules()``)."""
    receiver = getattr(getattr(call, "func", None), "value", None)
    return isinstance(receiver, ast.Name) and any(
        isinstance(a, (ast.For, ast.AsyncFor)) and receiver.id in {t.id for t in astwalk.walk(a.target) if isinstance(t, ast.Name)}
        for a in module.ancestors(call))


def _execution_order(events: list[Event], i: int, t: Event) -> list[int]:
    """The indexes of the events that can run after the one at ``events[i]`` (``t``), in execution
    order: the rest of its innermost loop, that loop's next iteration up to ``t``, then what follows
    the loop."""
    loop = t.loops[-1] if t.loops else None
    if loop is None:
        return list(range(i + 1, len(events)))
    inside = [j for j, e in enumerate(events) if any(lp is loop for lp in e.loops)]
    last = max(inside) if inside else i
    return [j for j in inside if j > i] + [j for j in inside if j < i] + list(range(last + 1, len(events)))


def _after_train(events: list[Event], i: int, t: Event, project: Project) -> tuple[Optional[bool], Optional[Event]]:
    """From the ``train()`` at ``events[i]`` on, in execution order (the rest of its loop, the next
    iteration, then what follows the loop), what comes first: an optimizer step (True), a freeze
    applied again or the model switched to eval (False), or another ``train()`` (None: judged on
    its own)."""
    for j in _execution_order(events, i, t):
        e = events[j]
        if conflicting(e.guards, t.guards):
            continue
        if e.kind in ("bnfreeze", "bnfreeze?") and (e.key is None or _within(e.text, t.text) or _within(t.text, e.text)):
            return False, None
        if e.kind == "eval" and e.key is not None and e.text == t.text and same_object(e.key, t.key):
            return False, None
        if e.kind == "train" and (e.key is None or same_object(e.key, t.key)):
            return None, None
        if e.kind == "step" and _step_trains(e, t, project):
            return True, e
    return None, None


# A pretrained sub-module frozen by its parameters only (``encoder.requires_grad_(False)``), wrapped
# into a model (``model = LinearProbe(encoder, n)``) whose optimizer gets only the new head: the
# linear-evaluation protocol, where the backbone's BatchNorm statistics are meant to stay the
# pretrained ones. ``model.train()`` puts them back in training mode.
_CHECKPOINT_LOADER = re.compile(r"^(load_checkpoint|load_pretrained\w*|load_weights|load_state_dict|restore_checkpoint)$")
_PARAMETER_LISTS = {"list", "filter", "chain", "itertools.chain", "tuple"}


def _own_nodes(module: Module, scope: Optional[ast.AST]) -> list[ast.AST]:
    """The nodes of ``scope`` (the module body for None), not those of functions or classes inside it."""
    out: list[ast.AST] = []
    todo = list(scope.body if scope is not None else module.tree.body)  # type: ignore[attr-defined]
    while todo:
        n = todo.pop()
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            continue
        out.append(n)
        todo.extend(ast.iter_child_nodes(n))
    return out


def _class_def(name: str, module: Module, project: Project) -> Optional[tuple[ast.ClassDef, Module]]:
    defs = [(n, m) for n, m in _bn_classes(project)._candidates(name, module)[0] if isinstance(n, ast.ClassDef)]
    return defs[0] if len(defs) == 1 else None


def _lineage(cls: Optional[ast.ClassDef], module: Module, project: Optional[Project],
             limit: int = 8) -> Iterator[tuple[ast.ClassDef, Module]]:
    """``cls`` and then its project base classes (each base name resolved to the one project class it
    can denote, ``_class_def``), breadth first (close to Python's MRO for single inheritance), each
    once, at most ``limit`` classes. Without ``project`` only ``cls`` itself."""
    todo = [(cls, module)] if cls is not None else []
    seen: set[int] = set()
    while todo and len(seen) < limit:
        c, m = todo.pop(0)
        if id(c) in seen:
            continue
        seen.add(id(c))
        yield c, m
        if project is None:
            continue
        for b in c.bases:
            d = dotted(b)
            found = _class_def(d.rsplit(".", 1)[-1], m, project) if d else None
            if found is not None:
                todo.append(found)


def _lightning_class(module: Module, node: ast.AST, project: Project) -> bool:
    """Is ``node`` in a method of a ``LightningModule``, derived directly or through project base
    classes (``BYOLModule(SSLBaseModule)``, ``SSLBaseModule(VideoModule)``, ``VideoModule(
    pl.LightningModule)``)? Lightning's Trainer sets its mode (``train()`` before the training steps,
    ``eval()`` around validation and test), as for a module whose file imports Lightning."""
    return any((m.qualname(b) or "").split(".", 1)[0] in _LIGHTNING
               for c, m in _lineage(module.enclosing_class(node), module, project) for b in c.bases)


def _is_module_class(cls: ast.ClassDef, module: Module, project: Project, depth: int = 0) -> bool:
    """An ``nn.Module`` subclass (directly, or through one project base class that is)."""
    for b in cls.bases:
        d = dotted(b) or ""
        if d in ("nn.Module", "torch.nn.Module", "Module") and (module.qualname(b) or "torch.nn.Module") == "torch.nn.Module":
            return True
        found = _class_def(d.rsplit(".", 1)[-1], module, project) if d and depth < 2 else None
        if found is not None and _is_module_class(found[0], found[1], project, depth + 1):
            return True
    return False


def _defines_mode_method(cls: ast.ClassDef) -> bool:
    return any(isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef)) and f.name in ("train", "eval") for f in cls.body)


def _submodule_attribute(ctor: ast.Call, arg: str, module: Module, project: Project) -> Optional[str]:
    """The attribute under which ``arg`` becomes a sub-module of ``inst = C(arg, ...)``: C a project
    ``nn.Module`` (with no ``train()`` / ``eval()`` of its own) whose ``__init__`` stores the parameter
    as ``self.attr = param``. None when that is not known."""
    found = _class_def((dotted(ctor.func) or "").rsplit(".", 1)[-1], module, project)
    if found is None or _defines_mode_method(found[0]) or not _is_module_class(found[0], found[1], project):
        return None
    init = next((f for f in found[0].body if isinstance(f, ast.FunctionDef) and f.name == "__init__"), None)
    fi = _flow(project).function_info.get(id(init)) if init is not None else None
    if fi is None:
        return None
    _self, passed = call_arguments(fi, ctor)
    given = {p for p, a in passed.items() if isinstance(a, ast.Name) and a.id == arg}
    attrs = [attr for attr, name in _self_attributes_from_names(init) if name in given]
    return attrs[0] if len(set(attrs)) == 1 else None


def _loaded_pretrained(name: str, nodes: list[ast.AST], module: Module) -> bool:
    """Did ``name`` receive trained weights in these nodes: ``name.load_state_dict(...)``,
    ``load_checkpoint(name, path)``, ``name = torch.load(...)`` / ``X.from_pretrained(...)`` /
    ``resnet50(pretrained=True)`` / ``resnet50(weights=...)``?"""
    for n in nodes:
        if isinstance(n, ast.Call):
            f = n.func
            if isinstance(f, ast.Attribute) and f.attr == "load_state_dict" and dotted(f.value) == name:
                return True
            callee = (dotted(f) or "").rsplit(".", 1)[-1]
            if _CHECKPOINT_LOADER.match(callee) and any(isinstance(a, ast.Name) and a.id == name for a in n.args):
                return True
        elif isinstance(n, ast.Assign) and len(n.targets) == 1 and isinstance(n.targets[0], ast.Name) \
                and n.targets[0].id == name and isinstance(n.value, ast.Call):
            value = same_object_base(n.value)
            if not isinstance(value, ast.Call):
                continue
            if (module.qualname(value.func) or "") == "torch.load" or (dotted(value.func) or "").endswith(".from_pretrained"):
                return True
            for kw in value.keywords:
                if kw.arg == "pretrained" and isinstance(kw.value, ast.Constant) and kw.value.value is True:
                    return True
                if kw.arg == "weights" and not (isinstance(kw.value, ast.Constant) and kw.value.value is None):
                    return True
    return False


def _unfrozen_somewhere(module: Module, related) -> bool:
    """Does the file give back ``requires_grad`` to the frozen module, a part of it or something we
    cannot name (``for p in params: p.requires_grad = True``, a stage-2 unfreeze)?"""
    for n in astwalk.walk(module.tree):
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr == "requires_grad_" \
                and not (n.args and isinstance(n.args[0], ast.Constant) and n.args[0].value is False):
            if related(dotted(n.func.value)):
                return True
        elif isinstance(n, ast.Assign) and any(isinstance(t, ast.Attribute) and t.attr == "requires_grad" for t in n.targets) \
                and not (isinstance(n.value, ast.Constant) and n.value.value is False):
            loop = next((a for a in module.ancestors(n) if isinstance(a, (ast.For, ast.AsyncFor))), None)
            it = getattr(loop, "iter", None)
            if not (isinstance(it, ast.Call) and isinstance(it.func, ast.Attribute) and it.func.attr in ("parameters", "named_parameters")):
                return True
            if related(dotted(it.func.value)):
                return True
    return False


def _optimizer_excludes(opt_name: str, scopes, related, holders: list[str]) -> Optional[bool]:
    """Is the optimizer ``opt_name`` (built in one of ``scopes``: (module, scope) pairs) built from
    parameters that leave the frozen module out: other attributes (``model.fc.parameters()``) or a
    ``requires_grad`` filter? None when no construction is found."""
    verdicts = []
    for module, scope in scopes:
        nodes = _own_nodes(module, scope)
        for n in nodes:
            if not (isinstance(n, ast.Assign) and len(n.targets) == 1 and (dotted(n.targets[0]) or "").rsplit(".", 1)[-1] == opt_name
                    and isinstance(n.value, ast.Call) and _OPTIMIZER_CTOR.search(module.qualname(n.value.func) or dotted(n.value.func) or "")):
                continue
            # the parameters: the first argument or ``params=`` (not ``lr=...``)
            exprs: list[ast.AST] = list(n.value.args[:1]) + [k.value for k in n.value.keywords if k.arg == "params"]
            # parameter lists built beforehand (``params = [...]; SGD(params)``), not the objects
            # whose ``parameters()`` are taken
            receivers = {id(x.value) for e in exprs for x in astwalk.walk(e) if isinstance(x, ast.Attribute)}
            names = {x.id for e in exprs for x in astwalk.walk(e) if isinstance(x, ast.Name) and id(x) not in receivers}
            exprs += [a.value for a in nodes if isinstance(a, ast.Assign) and a.lineno < n.lineno
                      and any(isinstance(t, ast.Name) and t.id in names for t in a.targets)]
            verdicts.append(_parameters_exclude(exprs, related, holders))
    return None if not verdicts else all(verdicts)


def _parameters_exclude(exprs: list[ast.AST], related, holders: list[str]) -> bool:
    if any(isinstance(x, ast.Attribute) and x.attr == "requires_grad" for e in exprs for x in astwalk.walk(e)):
        # filter(lambda p: p.requires_grad, model.parameters()): the frozen ones are out, and what
        # trains is another part of the container (not a new head fitted into the frozen model)
        return all((dotted(x.func.value) or "") in holders[0::2] for e in exprs for x in astwalk.walk(e)
                   if isinstance(x, ast.Call) and isinstance(x.func, ast.Attribute) and x.func.attr in ("parameters", "named_parameters"))
    receivers = []
    for e in exprs:
        for x in astwalk.walk(e):
            if not isinstance(x, ast.Call):
                continue
            if isinstance(x.func, ast.Attribute) and x.func.attr in ("parameters", "named_parameters"):
                receivers.append(dotted(x.func.value))
            elif (dotted(x.func) or "") not in _PARAMETER_LISTS:
                return False  # get_params(model), a helper: cannot tell
    return bool(receivers) and all(r is not None and not related(r) for r in receivers)


def _freezes_every_parameter(module: Module, x: ast.AST) -> bool:
    """``x.requires_grad_(False)``, or a ``for p in x.parameters()`` loop that sets
    ``requires_grad = False`` for every parameter (not under an ``if name not in ...`` of its own)."""
    call = module.parent(module.parent(x))
    loop = module.parent(call)
    if not isinstance(loop, (ast.For, ast.AsyncFor)) or loop.iter is not call:
        return True  # x.requires_grad_(False)
    for st in loop.body:
        value = st.value if isinstance(st, (ast.Assign, ast.Expr)) else None
        if isinstance(st, ast.Assign) and any(isinstance(t, ast.Attribute) and t.attr == "requires_grad" for t in st.targets) \
                and isinstance(value, ast.Constant) and value.value is False:
            return True
        if isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute) and value.func.attr == "requires_grad_" \
                and value.args and isinstance(value.args[0], ast.Constant) and value.args[0].value is False:
            return True
    return False


def _extended_after(name: str, holders: list[str], nodes: list[ast.AST], line: int) -> bool:
    """``backbone.fc = nn.Linear(...)`` after the freeze: the frozen module gets a new, trainable part."""
    parts = [name] + holders[1::2]
    return any(isinstance(n, ast.Assign) and n.lineno > line and any(
        isinstance(t, ast.Attribute) and (dotted(t.value) or "") in parts for t in n.targets) for n in nodes)


def _probe_freezes(module: Module, scope: Optional[ast.AST], project: Project) -> list[tuple]:
    """The pretrained, BN-holding modules ``scope`` freezes by their parameters only: (name, the
    names of the objects that hold it as a sub-module, the freeze node, the line from which all of
    it holds)."""
    nodes = _own_nodes(module, scope)
    own = {id(n) for n in nodes}
    ctors: dict[str, list[ast.Call]] = {}
    for n in sorted((n for n in nodes if isinstance(n, ast.Assign)), key=lambda n: n.lineno):
        if len(n.targets) == 1 and isinstance(n.targets[0], ast.Name):
            value = same_object_base(n.value)
            if isinstance(value, ast.Name) and value.id == n.targets[0].id:
                continue  # model = model.to(device): the same object
            ctors.setdefault(n.targets[0].id, []).append(value)
    out = []
    for x in parameter_freezes(scope if scope is not None else module.tree):
        if id(x) not in own:
            continue
        text = dotted(x)
        if text is None or text.count(".") > 1:
            continue
        name, holders, line = text, [], x.lineno
        if "." in text:  # model.encoder.requires_grad_(False), model = LinearProbe(encoder, ...)
            inst, attr = text.split(".")
            calls = ctors.get(inst, [])
            args = [a.id for c in calls[-1:] for a in list(c.args) + [k.value for k in c.keywords] if isinstance(a, ast.Name)]
            name = next((a for a in args if _submodule_attribute(calls[-1], a, module, project) == attr), None)
            if name is None:
                continue
        unreadable = False
        for inst, calls in ctors.items():
            ctor = calls[-1]
            if inst == name or not isinstance(ctor, ast.Call) or not any(
                    isinstance(a, ast.Name) and a.id == name for a in list(ctor.args) + [k.value for k in ctor.keywords]):
                continue
            attr = _submodule_attribute(ctor, name, module, project) if len(calls) == 1 else None
            if attr is None:
                # handed to an object we cannot read (a wrapper, a trainer, nn.Sequential): its business
                unreadable = unreadable or (dotted(ctor.func) or "").rsplit(".", 1)[-1][:1].isupper()
                continue
            holders += [inst, f"{inst}.{attr}"]
            line = max(line, ctor.lineno)
        if unreadable or len(ctors.get(name, [])) > 1 or not _loaded_pretrained(name, nodes, module):
            continue
        if not _freezes_every_parameter(module, x) or _extended_after(name, holders, nodes, x.lineno):
            continue
        if _model_has_bn((name,), project, module) is not True:
            continue
        if any(_defines_mode_method(found[0]) for _m, cls in _constructor_names((name,), project, module)
               for found in [_class_def(cls, module, project)] if found is not None):
            continue  # its class keeps its BN as it wants in train()
        out.append((name, holders, x, line))
    return out


def _probe_roots(project: Project) -> Iterable[tuple[Module, Optional[ast.AST], list[tuple], list[Event]]]:
    """The functions (and module bodies) that may step an optimizer and freeze a pretrained module
    by its parameters only (see ``_probe_freezes``), with those freezes and their summaries (no
    ``eval()`` needed, unlike ``_roots``)."""
    flow = _flow(project)
    if not any(_uses_torch(m) for m in project.modules):
        return
    for m in project.modules:
        if _lightning_module(m) or "requires_grad" not in m.unit.text:
            continue
        scopes = [(None, flow.may_produce("step", None, m))] + [
            (fi.node, flow.may_produce("step", fi.node, m) and not is_unit_test(m, fi.node)) for fi in m.functions]
        for scope, steps in scopes:
            if not steps or not parameter_freezes(scope if scope is not None else m.tree):
                continue
            probes = _probe_freezes(m, scope, project)
            if probes:
                yield m, scope, probes, (flow.summary(scope) if scope is not None else flow.module_summary(m))


def _params_freeze_undone_findings(project: Project) -> list[tuple[Module, ast.AST, str]]:
    """BN308 for a pretrained sub-module frozen by ``requires_grad`` alone and left out of the
    optimizer, whose BN statistics a ``train()`` of it or of its container sets updating again."""
    out = []
    done: set = set()
    for root_mod, scope, probes, events in _probe_roots(project):
        trains = [(i, t) for i, t in enumerate(events) if t.kind == "train" and not t.fresh and t.text]
        if not trains or not any(e.kind == "step" for e in events):
            continue
        for name, holders, freeze, line in probes:
            parts = [name] + holders[1::2]

            def related(text: Optional[str], parts=parts, holders=holders) -> bool:
                return text is None or any(_within(text, p) or _within(p, text) for p in parts) or text in holders[0::2]

            if _unfrozen_somewhere(root_mod, related):
                continue
            for i, t in trains:
                if t.text not in [name] + holders or t.sites[0][0] is not root_mod or t.sites[0][1].lineno <= line:
                    continue
                step = _step_after_train(events, i, t, related)
                if step is None or not step.key:
                    continue
                opt_name = [c for c in step.key if c != ELEMENT][-1].lstrip("$%")
                smod, snode = step.sites[-1]
                if not _optimizer_excludes(opt_name, [(root_mod, scope), (smod, smod.scope_of(snode))], related, holders):
                    continue
                site = (t.module.path, id(t.node))
                if site in done:
                    continue
                done.add(site)
                msg = (f"`{t.text}.train()` puts the BatchNorm layers of the pretrained `{name}` back in training mode "
                       f"before the optimizer steps ({smod.where(snode.lineno)}): its parameters are frozen "
                       f"({root_mod.where(freeze.lineno)}) and the optimizer does not train it, yet its running statistics "
                       f"now update on every batch and drift away from the pretrained ones. Call `{parts[-1]}.eval()` "
                       f"after every `train()`, or override `train()` to keep it in eval mode.")
                out.append((t.module, t.node, msg))
    return out


def _step_after_train(events: list[Event], i: int, t: Event, related) -> Optional[Event]:
    """The optimizer step that follows the ``train()`` at ``events[i]`` (in execution order, as in
    ``_after_train``) before any eval() or BN freeze of the frozen module (or another train())."""
    for j in _execution_order(events, i, t):
        e = events[j]
        if conflicting(e.guards, t.guards):
            continue
        if e.kind in ("bnfreeze", "bnfreeze?", "eval") and (e.key is None or related(e.text)):
            return None
        if e.kind == "train" and (e.key is None or related(e.text)):
            return None
        if e.kind == "step":
            return e
    return None


@register
class BatchNormFreezeUndoneByTrain(Rule):
    code = "BN308"
    name = "batchnorm-freeze-undone-by-train"
    summary = "train() re-enables BatchNorm layers frozen in eval mode before the optimizer steps"
    framework = "pytorch"
    triggers = ("train",)
    fact_triggers = (".step(", "optim", ".eval(", ".apply(")
    doc = RuleDoc(
        what="""
Finds `model.train()` that runs after the model's BatchNorm layers were frozen — picked out and
put in eval mode (`for m in model.modules(): if isinstance(m, nn.BatchNorm2d): m.eval()`,
`model.apply(set_bn_eval)`, a `freeze_bn()` helper or method), or a sub-module frozen with
`requires_grad = False` and `.eval()` together — and before an optimizer step, with no freeze
applied again in between (the next epoch's `train()` counts, and a `train()` at the end of a
validation helper too). A freeze done by the object's constructor (`net = Net(freeze_bn=True)`, whose
`__init__` calls `self.freeze_bn()`), by a trainer's setup step, or of a sub-module stored frozen
(`self.teacher = teacher.eval()` beside `requires_grad_(False)` in a distiller) counts too, also on
a wrapper model whose BatchNorm comes in through its constructor (`Classifier(encoder, n)` storing
`self.encoder = encoder`). A module frozen first (by hand, or by its own constructor:
`Encoder(norm_eval=True)` whose `__init__` runs `freeze_bn(self)`) and then handed to the constructor
of a project `nn.Module` that stores it (`model = SegModel(encoder, n)`, also `return SegModel(encoder,
n)` in a factory, or `SegModel(Encoder(norm_eval=True), n)`) is frozen inside that model:
`model.train()` recurses into it. Calls are followed through the project as for BN301.

Also the linear-evaluation protocol broken: a module that received pretrained weights
(`load_state_dict`, `torch.load`, `from_pretrained`, `pretrained=True` / `weights=`), builds
BatchNorm, has every parameter frozen (`requires_grad_(False)` or the `for p in x.parameters()` loop,
no `eval()`), becomes a sub-module of a project `nn.Module` (`model = LinearProbe(encoder, n)`, whose
`__init__` stores `self.encoder = encoder`), and is left out of the optimizer (`model.fc.parameters()`,
a `requires_grad` filter), while `model.train()` (or `encoder.train()`) reaches the step with no
`eval()` of the encoder after it.
""",
        why="""
`Module.train()` sets every sub-module to training mode, the frozen BatchNorm layers included. From
then on each forward pass in training overwrites their running mean and variance with the current
batches, exactly what the freeze was meant to prevent (small-batch fine-tuning, a pretrained
backbone): the "frozen" statistics drift, and the checkpoint saves drifted ones
(pytorch#86590, gt-pyg#112).
""",
        example="""
freeze_bn(model)            # BN layers -> eval()
for epoch in range(epochs):
    model.train()           # ... and back to train mode
    for x, y in loader:
        loss = criterion(model(x), y)
        optimizer.zero_grad(); loss.backward(); optimizer.step()
""",
        use_instead="""
for epoch in range(epochs):
    model.train()
    freeze_bn(model)        # re-apply after every train()
    ...

# or, once, in the model:
def train(self, mode=True):
    super().train(mode)
    for m in self.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.eval()
    return self
""",
        not_flagged="""
A freeze applied after the last `train()` before the steps (top of every epoch, inside the training
function); models whose class overrides `train()` to re-apply it (mmdetection's `norm_eval`), also
when the frozen module sits inside a wrapper model (the wrapper's `train()` runs that override), or
when the freeze is applied again after `train()` through the module's own name (`freeze_bn(encoder)`
after `model.train()`); a
whole-model `eval()` (BN302's case); a sub-module put in eval mode without freezing its parameters;
objects the optimizer does not train; PyTorch Lightning modules; a freeze for a phase of its own,
applied again in every iteration of the loop that holds the `train()` and used there before it by
the step of another optimizer (dataset condensation: statistics frozen while the synthetic images
are optimised, then the network trained normally by its own optimizer); a freeze that a called
training function re-applies after its own `train()` every epoch before its own steps
(`finetune(model, fix_bn=True)`), undone only by the `train()` of another stage function: that stage
trains BatchNorm on purpose. For a parameters-only freeze:
ordinary fine-tuning (the optimizer gets all parameters, or a part of the frozen module is unfrozen
again anywhere in the file), a module frozen at its random initialisation (no pretrained load seen),
a frozen model whose own new head is trained (`model.fc = nn.Linear(...)` on the frozen model: the
transfer-learning tutorial), a module handed to a class we cannot read (`nn.Sequential`, a wrapper),
and classes that define their own `train()` / `eval()`.
""",
        versions=PYTORCH_VERSIONS,
    )

    def check(self, module: Module, project: Project) -> Iterable[Finding]:
        for mod, node, message in _freeze_undone_findings(project):
            if mod is module:
                yield self.finding(module, node, message)


# ------------------------------------------------------------------------------------------------
# BN303 evaluation in train mode
# ------------------------------------------------------------------------------------------------
_NO_GRAD = {"torch.no_grad", "torch.inference_mode", "torch.autograd.no_grad", "torch.autograd.grad_mode.no_grad",
            "torch.autograd.grad_mode.inference_mode"}


def _no_grad_ctx(expr: ast.AST, module: Module) -> bool:
    target = expr.func if isinstance(expr, ast.Call) else expr
    q = module.qualname(target) or ""
    if q in _NO_GRAD:
        return True
    if q in ("torch.set_grad_enabled", "torch.autograd.set_grad_enabled") and isinstance(expr, ast.Call) and expr.args:
        a = expr.args[0]
        return isinstance(a, ast.Constant) and a.value is False
    return False


class _BNIndex:
    """Which project classes / functions build BatchNorm (directly, through other project classes,
    base classes or library constructors)."""

    def __init__(self, project: Project):
        self.project = project
        self.defs: dict[str, list[tuple[ast.AST, Module]]] = {}
        for m in project.modules:
            for c in m.classes:
                self.defs.setdefault(c.name, []).append((c, m))
            for fi in m.functions:
                if fi.cls is None:
                    self.defs.setdefault(fi.name, []).append((fi.node, m))
        self._memo: dict[tuple, bool] = {}

    def __contains__(self, name: str) -> bool:
        return name in self.defs

    def has_bn(self, name: str, module: Optional[Module] = None) -> bool:
        """Prefer the definition in ``module``, then the one it imports (scripts reuse class names)."""
        # The search follows names from definition to definition, as deep as the project's call
        # chains (over a thousand names in torch.export). Its frames are Python-to-Python calls (plain
        # loops, no any(generator), which would re-enter the interpreter through C), so a higher
        # recursion limit for the search costs no C stack.
        with _deep_search():
            return self._has_bn(name, module, frozenset())

    def _has_bn(self, name: str, module: Optional[Module], stack: frozenset) -> bool:
        defs, where = self._candidates(name, module)
        memo_key = (name, where)
        if memo_key in self._memo:
            return self._memo[memo_key]
        if name in stack:
            return False
        verdict = False
        for node, m in defs:
            if self._def_has_bn(node, m, stack | {name}):
                verdict = True
                break
        self._memo[memo_key] = verdict
        return verdict

    def bound_definition(self, name: str, module: Module, call: ast.Call) -> Optional[ast.AST]:
        """The definition a module-level ``Net()`` builds when ``module`` defines ``Net`` more than
        once (a notebook's later cell redefines the class with BN, after this model was built):
        the last top-level one above the call. None when there is no such choice to make."""
        if module.scope_of(call) is not None:
            return None  # a function runs later: any of the definitions may be bound then
        local = [node for node, m in self.defs.get(name, []) if m is module and module.scope_of(node) is None]
        above = [node for node in local if node.lineno < call.lineno]
        return max(above, key=lambda node: node.lineno) if len(local) > 1 and above else None

    def definition_has_bn(self, node: ast.AST, module: Module, name: str) -> bool:
        """``has_bn`` for one definition of ``name``."""
        with _deep_search():
            return self._def_has_bn(node, module, frozenset({name}))

    def builds_dynamically(self, name: str, module: Optional[Module] = None) -> bool:
        """Does the class / factory function (or a project class or function it uses) pick what it
        builds at run time (``getattr(module, name)``, ``importlib``, ``models.__dict__[arch]()``,
        ``MODELS[name](...)``, a class passed in)? Then a BN-free body proves nothing."""
        return self._reaches(name, module, _dynamic_construction, "dynamic", frozenset(), _construction_region)

    def freezes_bn(self, name: str, module: Optional[Module] = None) -> bool:
        """Does the class / factory (or a project class or function it uses) freeze the parameters
        of its BatchNorm layers (``for p in self.bn1.parameters(): p.requires_grad = False``,
        ``affine=False``)? Then ``eval()`` during training is the deliberate BN freeze of
        fine-tuning with small batches (Caffe's ``use_global_stats``)."""
        return self._reaches(name, module, _freezes_bn_parameters, "frozen", frozenset())

    def _candidates(self, name: str, module: Optional[Module]) -> tuple[list, object]:
        """Definitions ``name`` may denote seen from ``module``: its own, else the module its
        ``from x import name`` names (``from model import Net`` in a folder of examples that each
        define ``Net``), else all; and a memo tag for that choice."""
        defs = self.defs.get(name, [])
        if module is None:
            return defs, None
        local = [d for d in defs if d[1] is module]
        if local:
            return local, id(module)
        target = module.imports.aliases.get(name, "").lstrip(".")
        if "." in target and self.project is not None:
            source = self.project.module_named(target.rsplit(".", 1)[0], module)
            imported = [d for d in defs if d[1] is source]
            if imported:
                return imported, ("import", id(source))
        return defs, None

    def _reaches(self, name: str, module: Optional[Module], predicate, tag: str, stack: frozenset,
                 region=None) -> bool:
        """Does ``predicate`` hold for a definition of ``name`` or for one it uses? With ``region``
        (a definition -> the part of it searched), only that part of each definition counts."""
        defs, where = self._candidates(name, module)
        memo_key = (tag, name, where)
        if memo_key in self._memo:
            return self._memo[memo_key]
        if name in stack:
            return False
        verdict = False
        for node, m in defs:
            part = region(node) if region is not None else node
            if predicate(part):
                verdict = True
                break
            for n in (astwalk.walk(part) if region is None else _construction_uses(part)):
                if isinstance(n, (ast.Call, ast.Name)):
                    last = (dotted(n.func if isinstance(n, ast.Call) else n) or "").rsplit(".", 1)[-1]
                    if last in self.defs and last != name:
                        where_used = self._resolves_in(n, m)
                        if where_used is not None and self._reaches(last, where_used, predicate, tag, stack | {name},
                                                                    region):
                            verdict = True
                            break
            if verdict:
                break
        self._memo[memo_key] = verdict
        return verdict

    def _def_has_bn(self, node: ast.AST, m: Module, stack: frozenset) -> bool:
        parts: list[ast.AST] = list(node.body) + list(node.bases) if isinstance(node, ast.ClassDef) else [node]
        for part in parts:
            for n, q, last in _named_references(part, m):
                if q in BN_CLASSES or "BatchNorm" in last or (q and _BN_LIBRARY.search(q)):
                    if q.split(".", 1)[0] in _NON_TORCH_BN_ROOTS:
                        continue  # keras.layers.BatchNormalization (also on the torch backend): `training=` decides
                    if _type_test_operand(n, m):
                        continue  # `isinstance(m, nn.BatchNorm2d)`: handles the BN of a model it is given
                    if isinstance(n, ast.Call) and self.project is not None and _never_built(m, self.project, n):
                        continue  # `if batch_norm: layers += [nn.BatchNorm2d(v)]` with batch_norm false everywhere
                    return True
                if last in self.defs and isinstance(n, (ast.Call, ast.Name)) and last not in stack:
                    where_used = self._resolves_in(n, m)
                    if where_used is not None and self._has_bn(last, where_used, stack):
                        return True
        return False

    def _resolves_in(self, n: ast.AST, m: Module) -> Optional[Module]:
        """May the name used by ``n`` (a call or a name in ``m``) denote a project definition, and
        from which module should it be looked up? A plain name (``Block(...)``, ``norm=BNLayer``) is
        looked up from ``m``. An attribute (``blocks.ConvBN(...)``) only when it goes through an
        import of a project module: ``torch.log(x)`` is the library's, not a project helper named
        ``log``; ``self.encoder(x)`` runs a sub-module, not a module-level ``encoder()`` factory;
        ``trainer.get_model()`` on an object of unknown type is not every ``get_model`` of a
        monorepo. A name being assigned (``score = ...``) refers to nothing."""
        target = n.func if isinstance(n, ast.Call) else n
        if isinstance(target, ast.Name):
            return m if isinstance(target.ctx, ast.Load) else None
        q = m.qualname(target) or ""
        if not isinstance(target, ast.Attribute) or "." not in q or self.project is None:
            return None
        source = self.project.module_named(q.rsplit(".", 1)[0], m)
        if source is None:
            return None  # a library (torch, numpy, torchvision...)
        last = q.rsplit(".", 1)[1]
        if any(d[1] is source for d in self.defs.get(last, ())):
            return source
        # a package whose __init__ re-exports the definition (``models.resnet18()``)
        return m if os.path.basename(source.path) == "__init__.py" else None


_REGIONS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def _construction_region(node: ast.AST) -> ast.AST:
    """The part of a class where it builds its sub-modules: its bases, its class-level statements,
    ``__init__`` and the methods it calls from there (``self._make_layer(...)``), and any other
    method that stores an attribute on ``self`` (a lazy ``build()`` / ``setup()``). Not a method that
    only computes with what was built (``forward``, ``Inspector.type_repr`` formatting annotations):
    what such a method calls builds no layer of the class. A function is its whole body."""
    if not isinstance(node, ast.ClassDef):
        return node
    if node in _REGIONS:
        return _REGIONS[node]
    methods = {f.name: f for f in node.body if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))}

    def stores_on_self(f: ast.AST) -> bool:
        for n in astwalk.walk(f):
            tgts = n.targets if isinstance(n, ast.Assign) else [n.target] if isinstance(n, (ast.AnnAssign, ast.AugAssign)) else []
            if any(isinstance(t, ast.Attribute) and isinstance(t.value, ast.Name) and t.value.id == "self" for t in tgts):
                return True
            if isinstance(n, ast.Call) and ((dotted(n.func) or "") in ("setattr", "self.add_module", "self.register_module")):
                return True
        return False

    todo = [f for name, f in methods.items() if name == "__init__" or stores_on_self(f)]
    kept: dict[str, ast.AST] = {}
    while todo:
        f = todo.pop()
        if f.name in kept:
            continue
        kept[f.name] = f
        for n in astwalk.walk(f):
            c = n.func if isinstance(n, ast.Call) else None
            if isinstance(c, ast.Attribute) and isinstance(c.value, ast.Name) and c.value.id == "self" \
                    and c.attr in methods and c.attr not in kept:
                todo.append(methods[c.attr])
    body = [b for b in node.body if not isinstance(b, (ast.FunctionDef, ast.AsyncFunctionDef)) or b.name in kept]
    region = ast.ClassDef(name=node.name, bases=node.bases, keywords=node.keywords, body=body or [ast.Pass()],
                          decorator_list=[])
    _REGIONS[node] = region
    return region


_CONTAINER_OPS = ("append", "extend", "insert", "add_module", "register_module", "update", "setattr",
                  "ModuleList", "ModuleDict", "Sequential", "ParameterList", "ParameterDict")


def _construction_uses(node: ast.AST) -> list[ast.AST]:
    """The nodes of a construction region (``_construction_region``) that may build a part of what
    it makes: its bases, values stored on ``self`` (``self.conv = Block(...)``), arguments of
    containers and of ``append`` / ``add_module`` / ``setattr``, returned values (a factory's
    ``return Cls(...)``, a ``_make_layer``), and the values of locals that reach one of those as
    themselves (``layer = Block(...); self.layers.append(layer)``). Not a helper whose result is only
    computed with (``module = module_from_template(...)`` of generated code, a formatted string).
    Arguments of ``super().__init__(...)`` count: the base class stores them."""
    if node in _USES:
        return _USES[node]
    roots: list[ast.AST] = list(node.bases) if isinstance(node, ast.ClassDef) else []
    local_values: dict[str, list[ast.AST]] = {}
    handed: set[str] = set()

    def hand(expr: Optional[ast.AST]) -> None:
        if expr is None:
            return
        roots.append(expr)
        handed.update(_stored_names(expr))

    for n in astwalk.walk(node):
        if isinstance(n, (ast.Assign, ast.AnnAssign)) and n.value is not None:
            tgts = n.targets if isinstance(n, ast.Assign) else [n.target]
            for t in tgts:
                base = t
                while isinstance(base, (ast.Attribute, ast.Subscript)):
                    base = base.value
                if isinstance(base, ast.Name) and base is not t and base.id in ("self", "cls"):
                    hand(n.value)
                elif isinstance(t, (ast.Name, ast.Tuple, ast.List)):
                    for name in ({t.id} if isinstance(t, ast.Name) else {e.id for e in t.elts if isinstance(e, ast.Name)}):
                        local_values.setdefault(name, []).append(n.value)
        elif isinstance(n, ast.Return):
            hand(n.value)
        elif isinstance(n, ast.Call) and ((dotted(n.func) or "").rsplit(".", 1)[-1] in _CONTAINER_OPS or (
                isinstance(n.func, ast.Attribute) and n.func.attr == "__init__")):
            # (``super().__init__(encoder=make_encoder(cfg))``: the base class stores what it is given)
            for a in [*n.args, *(k.value for k in n.keywords)]:
                hand(a)
    done: set[str] = set()
    while handed - done:
        name = (handed - done).pop()
        done.add(name)
        for v in local_values.get(name, ()):
            hand(v)
    out = [x for r in roots for x in astwalk.walk(r)]
    _USES[node] = out
    return out


_USES: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def _stored_names(expr: ast.AST) -> set[str]:
    """Locals an expression hands over as themselves: ``layer``, ``[conv, bn]``, ``*layers``,
    ``nn.Sequential(*layers)``, ``a if c else b``; not ``module.propagate`` (an attribute of it)."""
    if isinstance(expr, ast.Name):
        return {expr.id}
    if isinstance(expr, ast.Starred):
        return _stored_names(expr.value)
    if isinstance(expr, (ast.List, ast.Tuple, ast.Set)):
        return {x for e in expr.elts for x in _stored_names(e)}
    if isinstance(expr, ast.IfExp):
        return _stored_names(expr.body) | _stored_names(expr.orelse)
    if isinstance(expr, ast.Call) and (dotted(expr.func) or "").rsplit(".", 1)[-1] in (
            "list", "tuple", "reversed", "sorted") + _CONTAINER_OPS:
        return {x for a in expr.args for x in _stored_names(a)}
    return set()


def _hands_back_its_argument(defs: list) -> bool:
    """Are these definitions functions whose every ``return`` gives back one of their parameters
    (an epoch helper that trains the model it is passed and returns it)? Then the assignment of
    their result names the same object, not a new model."""
    if not defs:
        return False
    for node, _m in defs:
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            return False
        params = set(_params(node))
        returns = [r for r in astwalk.walk(node) if isinstance(r, ast.Return)]
        # `return encoder, classifier`: a tuple of the parameters is the same objects handed back too
        if not returns or not all(all(isinstance(e, ast.Name) and e.id in params for e in (
                r.value.elts if isinstance(r.value, ast.Tuple) and r.value.elts else [r.value])) for r in returns):
            return False
    return True


def _handed_back_argument(defs: list, call: ast.Call, project: Project) -> Optional[ast.AST]:
    """The expression ``call`` passes for the one parameter that the single definition in ``defs`` (see
    ``_hands_back_its_argument``) returns, bound as Python binds it; None for several definitions,
    several returned parameters, or a call that does not pass it."""
    if len(defs) != 1:
        return None
    node = defs[0][0]
    returned = {r.value.id for r in astwalk.walk(node) if isinstance(r, ast.Return) and isinstance(r.value, ast.Name)}
    fi = _flow(project).function_info.get(id(node))
    if len(returned) != 1 or fi is None:
        return None
    return call_arguments(fi, call)[1].get(returned.pop())


def _type_test_operand(n: ast.AST, m: Module) -> bool:
    """Is ``n`` a class named in an ``isinstance`` / ``issubclass`` test (alone or in a tuple)?"""
    parent = m.parent(n)
    if isinstance(parent, ast.Tuple):
        parent = m.parent(parent)
    return isinstance(parent, ast.Call) and dotted(parent.func) in ("isinstance", "issubclass") and n is not parent.func


def _freezes_bn_parameters(node: ast.AST) -> bool:
    """BN layers built with ``affine=False`` or whose parameters get ``requires_grad = False``
    (``for p in self.bn1.parameters(): ...``, ``bn.weight.requires_grad = False``,
    ``bn.requires_grad_(False)``) in this class / function."""
    bn_attrs: set[str] = set()
    for n in astwalk.walk(node):
        if isinstance(n, ast.Call) and "BatchNorm" in (dotted(n.func) or ""):
            if any(k.arg == "affine" and isinstance(k.value, ast.Constant) and k.value.value is False for k in n.keywords):
                return True
        if isinstance(n, ast.Assign) and isinstance(n.value, ast.Call) and "BatchNorm" in (dotted(n.value.func) or ""):
            bn_attrs |= {(dotted(t) or "").rsplit(".", 1)[-1] for t in n.targets}
    bn_attrs.discard("")

    def is_bn(expr: ast.AST) -> bool:
        return (dotted(expr) or "").rsplit(".", 1)[-1] in bn_attrs

    def sets_false(a: ast.AST) -> bool:
        return isinstance(a, ast.Assign) and isinstance(a.value, ast.Constant) and a.value.value is False \
            and any(isinstance(t, ast.Attribute) and t.attr == "requires_grad" for t in a.targets)

    for n in astwalk.walk(node):
        if isinstance(n, ast.For) and isinstance(n.iter, ast.Call) and isinstance(n.iter.func, ast.Attribute) \
                and n.iter.func.attr == "parameters" and is_bn(n.iter.func.value) \
                and any(sets_false(a) for st in n.body for a in astwalk.walk(st)):
            return True
        if sets_false(n) and any(isinstance(t, ast.Attribute) and isinstance(t.value, ast.Attribute)
                                 and t.value.attr in ("weight", "bias") and is_bn(t.value.value) for t in n.targets):  # type: ignore[attr-defined]
            return True
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr == "requires_grad_" \
                and is_bn(n.func.value) and n.args and isinstance(n.args[0], ast.Constant) and n.args[0].value is False:
            return True
    return False


def _dynamic_construction(node: ast.AST) -> bool:
    """``models.__dict__[arch]()``, ``MODELS[name](...)``, ``getattr(mod, name)(...)``, ``importlib``;
    in a function also a call of a local name or parameter (``model_class(**cfg)``)."""
    local: set[str] = set()
    if not isinstance(node, ast.ClassDef):
        params = {a.arg for a in node.args.args + node.args.kwonlyargs + node.args.posonlyargs}  # type: ignore[attr-defined]
        local = set(params)
        named: dict[str, bool] = {}  # local -> every binding names a definition (``block = Res1 if a else Res2``)
        for n in astwalk.walk(node):
            if isinstance(n, (ast.Assign, ast.AnnAssign)):
                for t in (n.targets if isinstance(n, ast.Assign) else [n.target]):
                    if isinstance(t, ast.Name):
                        local.add(t.id)
                        named[t.id] = named.get(t.id, True) and isinstance(n, ast.Assign) \
                            and _names_definitions(n.value, params)
        # a local that only ever names classes or functions written out in the code is no choice made
        # at run time: the definitions it names are searched as names
        local -= {name for name, ok in named.items() if ok and name not in params}
    # attributes of a class that hold torch.nn containers of layers (``self.blocks = nn.ModuleList()``)
    # whose layers the class builds itself (not ``nn.ModuleList(encoders)`` of modules handed in)
    containers: set[str] = set()
    if isinstance(node, ast.ClassDef):
        handed: set[str] = set()
        for f in node.body:
            if not isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            fparams = {a.arg for a in f.args.args + f.args.kwonlyargs + f.args.posonlyargs} - {"self"}
            for n in astwalk.walk(f):
                value, tgts = None, []
                if isinstance(n, ast.Assign) and isinstance(n.value, ast.Call) \
                        and (dotted(n.value.func) or "").rsplit(".", 1)[-1] in ("ModuleList", "ModuleDict", "Sequential"):
                    value, tgts = n.value, [dotted(t) or "" for t in n.targets]
                    containers |= {d for d in tgts if d.startswith("self.")}
                elif isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) \
                        and n.func.attr in ("append", "extend", "insert", "add_module", "update"):
                    value, tgts = n, [dotted(n.func.value) or ""]
                if value is not None and any(a in fparams for arg in [*value.args, *(k.value for k in value.keywords)]
                                             for a in _element_names(arg)):
                    handed |= {d for d in tgts if d.startswith("self.")}
        containers -= handed
    for n in astwalk.walk(node):
        if not isinstance(n, ast.Call):
            continue
        name = dotted(n.func) or ""
        if name.startswith("importlib.") or name == "import_module":
            return True
        if isinstance(n.func, ast.Subscript) and containers and (dotted(n.func.value) or "") in containers:
            continue  # self.blocks[i](x): runs a layer of the class's own nn.ModuleList, builds nothing
        if isinstance(n.func, ast.Subscript) or (isinstance(n.func, ast.Call) and (dotted(n.func.func) or "") == "getattr"):
            return True  # MODELS[name](...), getattr(models, arch)(...)
        if local and (name in ("getattr", "globals", "locals", "eval") or isinstance(n.func, ast.Name) and n.func.id in local):
            return True  # model_class = getattr(m, name); model_class(**cfg)
    return False


def _element_names(arg: ast.AST) -> set[str]:
    """Names an argument of ``nn.ModuleList(...)`` / ``.append(...)`` may hand over as elements:
    ``encoders``, ``[enc, head]``, ``*blocks``, ``(m for m in mods)``; not the settings of a layer built
    inline (``Conv1d(channels // 2, ...)``)."""
    out: set[str] = set()
    todo = [arg]
    while todo:
        n = todo.pop()
        if isinstance(n, ast.Name):
            out.add(n.id)
        elif isinstance(n, ast.Call):
            if (dotted(n.func) or "") in ("list", "tuple", "reversed", "sorted"):
                todo.extend(n.args)
        elif isinstance(n, (ast.comprehension,)):
            todo.append(n.iter)
        elif not isinstance(n, (ast.Constant, ast.Lambda)):
            todo.extend(ast.iter_child_nodes(n))
    return out


def _names_definitions(value: ast.AST, params: set[str]) -> bool:
    """``ResBlock1``, ``nn.BatchNorm2d``, ``ResBlock1 if kind == "1" else ResBlock2``: a value that
    names definitions written in the code (not a parameter, a lookup or a call's result)."""
    if isinstance(value, ast.IfExp):
        return _names_definitions(value.body, params) and _names_definitions(value.orelse, params)
    if isinstance(value, ast.Name):
        return value.id not in params
    d = dotted(value) if isinstance(value, ast.Attribute) else None
    return d is not None and d.split(".", 1)[0] not in params and d.split(".", 1)[0] != "self"


def _bn_classes(project: Project) -> _BNIndex:
    return project.fact("torch.bn_index", _BNIndex)


def _project_has_bn(project: Project) -> bool:
    def compute(p: Project) -> bool:
        for m in p.modules:
            # nn.BatchNorm2d(...), norm_layer=nn.BatchNorm2d, SyncBatchNorm; not the DDP helper
            # ``SyncBatchNorm.convert_sync_batchnorm(module)`` (it converts BN *if* a module has any)
            # nor the import of its class for it
            if "BatchNorm" in m.unit.text and _mentions_bn_beyond_conversion(m) and not _bn_only_in_class_name_tests(m):
                return True
            for c in m.calls:
                if _BN_LIBRARY.search(c.qualname or ""):
                    return True
        return False

    return project.fact("torch.project_has_bn", compute)


_NAME_TEST_METHODS = frozenset({"find", "rfind", "index", "startswith", "endswith", "count", "match", "search"})


def _bn_only_in_class_name_tests(m: Module) -> bool:
    """Is every mention of ``BatchNorm`` in ``m`` a string a class name is tested against
    (``classname.find("BatchNorm") != -1``, ``"BatchNorm" in type(m).__name__``)? DCGAN-style
    ``weights_init`` helpers carry that test whether or not any model of the project has BatchNorm."""
    tested = 0
    for n in astwalk.walk(m.tree):
        strings: list = []
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr in _NAME_TEST_METHODS:
            strings = n.args
        elif isinstance(n, ast.Compare) and len(n.ops) == 1 and isinstance(n.ops[0], (ast.In, ast.NotIn)):
            strings = [n.left]
        for a in strings:
            if isinstance(a, ast.Constant) and isinstance(a.value, str):
                tested += a.value.count("BatchNorm")
    return tested > 0 and tested == m.unit.text.count("BatchNorm")


def _mentions_bn_beyond_conversion(m: Module) -> bool:
    text = re.sub(r"(\w+\.)*SyncBatchNorm\.convert_sync_batchnorm", "", m.unit.text)
    if "BatchNorm" not in text:
        return False
    if "SyncBatchNorm" not in text.replace("SyncBatchNorm", "", 1) and "BatchNorm" not in text.replace("SyncBatchNorm", ""):
        # one remaining mention, ``SyncBatchNorm``: is it only the import of the class for the helper?
        return not any(isinstance(n, (ast.Import, ast.ImportFrom)) and "SyncBatchNorm" in ast.unparse(n)
                       for n in astwalk.walk(m.tree))
    return True


def _model_has_bn(key: Key, project: Project, module: Optional[Module] = None) -> Optional[bool]:
    """Does the object (by name) come from a constructor that builds BN? None when unknown.
    Assignments in ``module`` decide when there are any (a name is reused across scripts)."""
    if not key:
        return None
    memo = project.facts.setdefault("torch.model_has_bn", {})  # type: ignore[arg-type]
    if key and _model_held_by_container(key):
        key = key[-1:]  # ``self.state.model``: the model's constructors, not the state object's
    memo_key = (frozenset(key_names(key)), id(module))
    if memo_key not in memo:  # type: ignore[operator]
        verdict = None
        local = _constructor_verdicts(key, project, [module]) if module is not None else []
        verdict = _combine(local) if local else _combine(_constructor_verdicts(key, project, _program_modules(project, module)))
        memo[memo_key] = verdict  # type: ignore[index]
    return memo[memo_key]  # type: ignore[index]


def _bn_evidence(key: Key, project: Project, module: Optional[Module] = None) -> Optional[str]:
    """How many of the constructors the object may come from build BN: "all", "some", "none", or
    None when some constructor is not visible (a library model, a factory we cannot follow)."""
    if not key:
        return None
    if _model_held_by_container(key):
        key = key[-1:]  # ``self.state.model``: the model's constructors, not the state object's
    verdicts = (_constructor_verdicts(key, project, [module]) if module is not None else []) or \
        _constructor_verdicts(key, project, _program_modules(project, module))
    if not verdicts:
        return None
    if all(v is False for v in verdicts):
        return "none"
    if all(v is True for v in verdicts):
        return "all"
    return "some" if any(v is True for v in verdicts) else None


def _bn_mode_matters(ev: Event, project: Project) -> bool:
    """Does leaving ``ev``'s object in eval mode change BatchNorm? Not when every constructor it
    may come from is visible and builds no BN (eval() then only affects dropout, not this rule)."""
    module = ev.sites[0][0]
    memo = project.facts.setdefault("torch.bn_mode_matters", {})  # type: ignore[arg-type]
    memo_key = (frozenset(key_names(ev.key)), id(module))
    if memo_key not in memo:  # type: ignore[operator]
        memo[memo_key] = _bn_evidence(ev.key, project, module) != "none" and not _bn_frozen_on_purpose(ev.key, project, module) \
            and _passed_in_may_hold_bn(ev, project)  # type: ignore[index]
    return memo[memo_key]  # type: ignore[index]


def _passed_in_may_hold_bn(ev: Event, project: Project) -> bool:
    """For a parameter of the root function (``def train(encoder, loader)``), may what the project's
    calls pass for it hold BatchNorm? Not when every call passes a model whose constructors build
    none (``train(LeNetEncoder(), ...)``): eval() there only switches dropout. True when unsure."""
    if not ev.key or len(ev.key) != 1 or not ev.key[0].startswith("$") or ev.key[0] == "$self":
        return True
    module, node = ev.sites[0]
    scope = module.scope_of(node)
    if scope is None or ev.key[0][1:] not in set(_params(scope)):
        return True
    return _passed_models_have_bn(scope, ev.key[0][1:], project, _flow(project)) is not False


def _bn_frozen_on_purpose(key: Key, project: Project, module: Module) -> bool:
    """Is the object built by a class whose BN parameters are frozen (see ``_BNIndex.freezes_bn``)?"""
    classes = _bn_classes(project)
    return any(classes.freezes_bn(name, m) for m, name in _constructor_names(key, project, module))


def _assignments_to(m: Module, names: set[str]) -> list[ast.AST]:
    """Assignments (with a value) in ``m`` to a target whose last name is in ``names``, in
    ``ast.walk`` order. Asked once per mode event: an index per module, not a walk per question."""
    order, by_name = _assignment_index(m)
    return [order[i] for i in sorted({i for name in names for i in by_name.get(name, ())})]


@per_node
def _assignment_index(m: Module) -> tuple[list[ast.AST], dict[str, list[int]]]:
    order: list[ast.AST] = []
    by_name: dict[str, list[int]] = {}
    for n in m.assignments:  # collected by the module's index walk, in ast.walk order
        if n.value is not None:
            tgts = n.targets if isinstance(n, ast.Assign) else [n.target]
            # `model, datasets = Net.from_pretrained(...)`: each name of a tuple target is bound too
            tgts = [e for t in tgts for e in (t.elts if isinstance(t, (ast.Tuple, ast.List)) else [t])]
            for name in dict.fromkeys((dotted(t) or "").rsplit(".", 1)[-1] for t in tgts):
                by_name.setdefault(name, []).append(len(order))
            order.append(n)
    return order, by_name


def _constructor_names(key: Key, project: Project, module: Optional[Module]) -> list[tuple[Module, str]]:
    """Project classes / factories the object is assigned from (``model = Res_Deeplab()``); the
    assignments in ``module`` decide when there are any."""
    names = key_names(key)
    classes = _bn_classes(project)
    for modules in ([module] if module is not None else [], _program_modules(project, module)):
        out = []
        for m in modules:
            for n in _assignments_to(m, names):
                if isinstance(n, ast.Assign) and isinstance(n.value, ast.Call):
                    value = same_object_base(n.value)
                    last = (dotted(value.func) or "").rsplit(".", 1)[-1] if isinstance(value, ast.Call) else ""
                    if last in classes:
                        out.append((m, last))
        if out:
            return out
    return []


def _combine(verdicts: list[Optional[bool]]) -> Optional[bool]:
    if any(v is True for v in verdicts):
        return True
    if verdicts and all(v is False for v in verdicts):
        return False
    return None


_ANY_SCOPE = object()


def _constructor_verdicts(key: Key, project: Project, modules, depth: int = 0,
                          within: object = _ANY_SCOPE) -> list[Optional[bool]]:
    """One verdict per assignment to the object's names in ``modules`` (only the assignments made
    directly in the function ``within``, or at module level for None, when it is given)."""
    names = key_names(key)
    verdicts: list[Optional[bool]] = []
    for m in modules:
        for n in _assignments_to(m, names):
            if within is not _ANY_SCOPE and m.scope_of(n) is not within:
                continue
            verdicts.extend(_assignment_verdicts(n, names, m, project, depth))
    return verdicts


def _assignment_verdicts(n: ast.AST, names: set[str], m: Module, project: Project, depth: int = 0) -> list[Optional[bool]]:
    """The verdicts of the object one assignment binds to one of ``names`` (empty when it builds no
    new object: not a call, a wrapper, a helper handing back its argument)."""
    # `net = net.type(FloatTensor)` / `net.double()`: Module methods that return the module
    value = same_object_base(_paired_value(n, names))
    if isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and _is_parameter_of(value.func.id, m.scope_of(n)):
        return [None]  # `net, _ = factory()` with `factory` passed in (a pytest fixture)
    return _call_verdicts(value, m, project, depth) if isinstance(value, ast.Call) else []


def _is_parameter_of(name: str, scope) -> bool:
    return scope is not None and not isinstance(scope, ast.ClassDef) and name in set(_params(scope))


def _paired_value(n: ast.AST, names: set[str]) -> ast.AST:
    """The value ``n`` binds to one of ``names``: the matching element of ``a, b = A(), B()``, else
    the whole value (``model, data = load(...)``: what the call returns)."""
    value = n.value  # type: ignore[attr-defined]
    targets = n.targets if isinstance(n, ast.Assign) else []
    if len(targets) == 1 and isinstance(targets[0], (ast.Tuple, ast.List)) \
            and isinstance(value, (ast.Tuple, ast.List)) and len(value.elts) == len(targets[0].elts):
        for t, v in zip(targets[0].elts, value.elts):
            if (dotted(t) or "").rsplit(".", 1)[-1] in names:
                return v
    return value


def _folds_batchnorm(name: str, project: Project) -> bool:
    """Is ``name`` a project function (not a method) that folds BatchNorm layers into the layers
    before them: it calls torch's ``fuse_conv_bn_eval``, or a fuse / fold function given a BN layer
    or reading ``running_var`` (see BN315)?"""
    memo = project.facts.setdefault("torch.bn_folding_functions", {})  # type: ignore[arg-type]
    if name not in memo:  # type: ignore[operator]
        from bnguard.lint.rules.torch_fusion import _fold_call
        fns = [fi for fi in project.functions(name) if fi.cls is None]
        memo[name] = any(fi.module.mentions("fuse") or fi.module.mentions("fold") for fi in fns) and any(  # type: ignore[index]
            _fold_call(c, fi.module, project) for fi in fns for c in astwalk.walk(fi.node) if isinstance(c, ast.Call))
    return memo[name]  # type: ignore[index]


def _call_verdicts(value: ast.Call, m: Module, project: Project, depth: int) -> list[Optional[bool]]:
    """The verdict of the object a constructor call builds (empty when the call builds no new object)."""
    classes = _bn_classes(project)
    d = dotted(value.func) or ""
    q = m.qualname(value.func) or ""
    last = d.rsplit(".", 1)[-1]
    if q in BN_CLASSES or _BN_LIBRARY.search(q):
        return [True]
    if _NO_BN_LIBRARY.match(q):
        return [False]
    if q.split(".", 1)[0] in _KERAS_ROOTS or q.startswith("tensorflow.keras."):
        # a Keras model (Keras 3 on the torch backend): its BN follows `training=`, not
        # `eval()` / `train()`; the Keras rules own it
        return [False]
    if q == "torch.jit.load":
        # a TorchScript / TensorRT program: it runs in the mode it was exported in (a traced graph
        # has its BN branch baked in, an engine has no training mode): no eval() to forget
        return [False]
    if last in ("DataParallel", "DistributedDataParallel", "DDP", "deepcopy"):
        return []
    if last not in classes and q and q.split(".", 1)[0] not in ("torch", "torchvision"):
        # a library model whose call names its normalization: ``norm="batch"`` builds BatchNorm, an
        # explicit non-batch choice (``norm_name="instance"``, ``norm=("group", {...})``, ``norm=None``)
        # builds none
        chosen = [_norm_choice(k.value) for k in value.keywords if k.arg in _NORM_KEYWORDS]
        if any(c is True for c in chosen):
            return [True]
        if _BN_FREE_BY_DEFAULT.match(q):
            # its normalization argument defaults to a non-batch norm (MONAI UNETR / BasicUNet instance
            # norm, torch_geometric's GCN with norm=None): BN only if a model passed in holds it
            if chosen and any(c is None for c in chosen):
                return [None]
            return [_container_verdict(value, m, project, classes, depth)]
        if chosen and all(c is False for c in chosen):
            return [False]
    built_by_classmethod = _classmethod_constructor_verdicts(value, m, classes)
    if built_by_classmethod is not None:
        return built_by_classmethod
    if last and isinstance(value.func, ast.Name) and _folds_batchnorm(last, project):
        # `transformed = convbn_to_conv(deepcopy(model))`: a project pass that folds the BatchNorm
        # layers into the convolutions before them (quantization prep, deploy conversion) hands back
        # a model without BN: there are no running statistics left to freeze
        return [False]
    if last in classes and _hands_back_its_argument(classes._candidates(last, m)[0]):
        # `model = train_one_epoch(model, ...)` returns the object it was given: no new object, unless
        # the object handed in is built right there (`init_model(net=LeNetEncoder(), restore=...)`)
        handed = _handed_back_argument(classes._candidates(last, m)[0], value, project)
        return _call_verdicts(handed, m, project, depth + 1) if isinstance(handed, ast.Call) and depth < 3 else []
    if last in classes:
        bound = classes.bound_definition(last, m, value)
        has_bn = classes.has_bn(last, m) if bound is None else classes.definition_has_bn(bound, m, last)
        return [True if has_bn else None if classes.builds_dynamically(last, m)
                else _wrapped_arguments_verdict(value, m, project, depth)]
    if q.startswith("torch.nn."):
        # a torch.nn layer (nn.Linear: no BN) or a container: BN if an argument builds one
        return [_container_verdict(value, m, project, classes, depth)]
    return [None]


# Library models whose normalization is an argument with a non-batch default (checked against the
# library sources): MONAI's transformer / UNet family (instance, group or layer norm by default;
# not GlobalNet / LocalNet / DenseNet / ResNet / AttentionUnet, which build BatchNorm), the MONAI
# reconstruction networks, and torch_geometric's GNN models (BasicGNN ``norm=None``; no MLP, whose
# default is ``"batch_norm"``).
_BN_FREE_BY_DEFAULT = re.compile(
    r"^(monai\.networks\.nets\.([a-z_]+\.)?(UNETR|SwinUNETR|ViT|ViTAutoEnc|BasicUNet|BasicUnet|Basicunet|"
    r"BasicUNetPlusPlus|BasicUnetPlusPlus|BasicunetPlusPlus|SPADENet|UNet|Unet|AutoEncoder|VarAutoEncoder|"
    r"SegResNet|SegResNetVAE|VQVAE|DiffusionModelUNet|AutoencoderKL|DynUNet|DynUnet|Dynunet)|"
    r"monai\.apps\.reconstruction\.networks\.nets\.([a-z_]+\.)?(CoilSensitivityModel|ComplexUnet|"
    r"VariationalNetworkModel)|"
    r"torch_geometric\.nn\.(models\.)?([a-z_]+\.)?(GCN|GraphSAGE|GIN|GAT|PNA|EdgeCNN|AttentiveFP|DimeNet|"
    r"DimeNetPlusPlus|SchNet|MetaPath2Vec|Node2Vec|GraphUNet|LightGCN))$")
# Constructor keywords that choose a library model's normalization layers.
_NORM_KEYWORDS = ("norm", "norm_name", "norm_type", "normalization", "norm_cfg")


def _norm_choice(expr: ast.AST) -> Optional[bool]:
    """Does a normalization argument choose BatchNorm? ``"batch"``, ``Norm.BATCH``, ``("batch",
    {...})``, ``dict(type="BN")``: True; ``"instance"``, ``("group", {...})``, ``None``: False; a
    value not written out: None."""
    if isinstance(expr, (ast.Tuple, ast.List)) and expr.elts:
        return _norm_choice(expr.elts[0])
    if isinstance(expr, ast.Dict):
        kinds = [v for k, v in zip(expr.keys, expr.values) if isinstance(k, ast.Constant) and k.value == "type"]
        return _norm_choice(kinds[0]) if kinds else None
    if isinstance(expr, ast.Call) and dotted(expr.func) == "dict":
        kinds = [k.value for k in expr.keywords if k.arg == "type"]
        return _norm_choice(kinds[0]) if kinds else None
    if isinstance(expr, ast.Constant) and expr.value is None:
        return False
    text = expr.value if isinstance(expr, ast.Constant) and isinstance(expr.value, str) else \
        expr.attr if isinstance(expr, ast.Attribute) and (dotted(expr) or "").split(".")[-2:-1] == ["Norm"] else None
    if text is None:
        return None
    t = text.lower().replace("-", "_")
    return "batch" in t or t in ("bn", "bn1d", "bn2d", "bn3d", "syncbn", "sync_bn", "naiveSyncBN".lower())


def _classmethod_constructor_verdicts(value: ast.Call, m: Module, classes) -> Optional[list[Optional[bool]]]:
    """``Net.from_config(...)`` / ``Model.from_qm9_pretrained(...)`` (``Model`` a module-level alias,
    ``Model = DimeNetPlusPlus if flag else DimeNet``): a classmethod of a project class that builds
    ``cls(...)`` returns an instance of that class (possibly inside a tuple), so the class's own BN
    decides; a library model's ``from_*`` constructor follows the library class. None when the call
    is no such constructor."""
    func = value.func
    if not isinstance(func, ast.Attribute) or not isinstance(func.value, (ast.Name, ast.Attribute)):
        return None
    owners = _class_alias_options(func.value, m)
    if not owners:
        return None
    verdicts: list[Optional[bool]] = []
    for owner in owners:
        name = (dotted(owner) or "").rsplit(".", 1)[-1]
        defs = [node for node, _dm in classes._candidates(name, m)[0]] if name in classes else []
        if defs and all(isinstance(d, ast.ClassDef) and _builds_cls_in(d, func.attr) for d in defs):
            verdicts.append(True if classes.has_bn(name, m) else None if classes.builds_dynamically(name, m)
                            else False)
        elif not defs and func.attr.startswith("from_") and _BN_FREE_BY_DEFAULT.match(m.qualname(owner) or ""):
            verdicts.append(False)
        else:
            return None
    return verdicts


def _class_alias_options(expr: ast.AST, m: Module) -> list[ast.AST]:
    """The class expressions ``expr`` may denote in ``m``: itself, or for a name that the module
    binds at top level, the class names it assigns (``Model = DimeNetPlusPlus if pp else DimeNet``);
    empty when the binding is anything else."""
    if not isinstance(expr, ast.Name):
        return [expr]
    bound = [n for n in _assignments_to(m, {expr.id}) if m.scope_of(n) is None]
    if not bound:
        return [expr]
    options: list[ast.AST] = []
    for n in bound:
        if not isinstance(n, ast.Assign) or len(n.targets) != 1 or not isinstance(n.targets[0], ast.Name):
            return []
        v = n.value
        branch = [v.body, v.orelse] if isinstance(v, ast.IfExp) else [v]
        if not all(isinstance(o, (ast.Name, ast.Attribute)) for o in branch):
            return []
        options.extend(branch)
    return options


def _builds_cls_in(cls_def: ast.ClassDef, method: str) -> bool:
    """Is ``method`` a classmethod of ``cls_def`` whose body builds ``cls(...)``?"""
    for stmt in cls_def.body:
        if isinstance(stmt, ast.FunctionDef) and stmt.name == method:
            if not any(isinstance(d, ast.Name) and d.id == "classmethod" for d in stmt.decorator_list):
                return False
            first = stmt.args.args[0].arg if stmt.args.args else None
            return first is not None and any(
                isinstance(c, ast.Call) and isinstance(c.func, ast.Name) and c.func.id == first
                for c in astwalk.walk(stmt))
    return False


def _wrapped_arguments_verdict(ctor: ast.Call, m: Module, project: Project, depth: int) -> bool:
    """``Classifier(encoder, classes=2)`` of a project ``nn.Module`` class that builds no BN itself but
    whose ``__init__`` stores parameters as sub-modules (``self.encoder = encoder``): True when a
    model passed for one of them is built with BN here, else False (as for the class alone: a stored
    setting such as ``self.hidden = hidden`` says nothing)."""
    if depth >= 3:
        return False
    found = _class_def((dotted(ctor.func) or "").rsplit(".", 1)[-1], m, project)
    if found is None or not _is_module_class(found[0], found[1], project):
        return False
    init = next((f for f in found[0].body if isinstance(f, ast.FunctionDef) and f.name == "__init__"), None)
    fi = _flow(project).function_info.get(id(init)) if init is not None else None
    if fi is None:
        return False
    _self, passed = call_arguments(fi, ctor)
    for _attr, param in _self_attributes_from_names(init):
        arg = same_object_base(passed[param]) if param in passed else None
        if isinstance(arg, ast.Name) and _combine(_constructor_verdicts((arg.id,), project, [m], depth + 1)) is True:
            return True
        if isinstance(arg, ast.Call) and _combine(_call_verdicts(arg, m, project, depth + 1)) is True:
            return True
    return False


def _container_verdict(value: ast.Call, m: Module, project: Project, classes, depth: int) -> Optional[bool]:
    """Does ``nn.Sequential(...)`` / ``nn.ModuleList([...])`` hold BatchNorm? Its arguments are
    layers built inline, library models (``torchvision.models.resnet18()``), project classes, or
    names of modules built elsewhere (``nn.Sequential(features, classifier)``), followed to their
    own constructors. None when some part cannot be seen (``timm.create_model(...)``)."""
    unknown = False
    for a in astwalk.walk(value):
        if a is value:
            continue
        parent = m.parent(a)
        if isinstance(a, ast.Call):
            d = dotted(a.func) or ""
            q = m.qualname(a.func) or ""
            last = d.rsplit(".", 1)[-1]
            if "BatchNorm" in d or q in BN_CLASSES or _BN_LIBRARY.search(q) or classes.has_bn(last, m):
                return True
            root = q.split(".", 1)[0]
            if q and root not in _NO_MODEL_ROOTS and last not in classes and not _NO_BN_LIBRARY.match(q):
                unknown = True  # a library factory: its model may hold BN
        elif isinstance(a, ast.Name) and isinstance(a.ctx, ast.Load) and depth < 3 \
                and not (isinstance(parent, ast.Call) and parent.func is a) and not isinstance(parent, ast.Attribute):
            inner = _constructor_verdicts((a.id,), project, [m], depth + 1)
            if any(v is True for v in inner):
                return True
            if any(v is None for v in inner):
                unknown = True
    return None if unknown else False


# Packages whose calls inside a container build no model (torch's own layers are judged by name).
_NO_MODEL_ROOTS = frozenset({"torch", "collections", "itertools", "functools", "builtins", "math", "typing",
                             "numpy", "operator", "range", "len", "list", "dict", "tuple", "zip", "enumerate"})


def _callers_set_eval(fi_node: ast.AST, key: Key, project: Project, flow: Flow, depth: int = 0) -> bool:
    """Does a caller (up to three levels) run eval() on the object, or is it called by code we do
    not see (then we cannot know and stay silent only if it is never called at all? no: we report)."""
    if depth > 3:
        return False
    fi = flow.function_info.get(id(fi_node))
    if fi is None:
        return False
    for site in project.call_sites(fi.name):
        if site.scope is fi_node:
            continue
        cands, _unique = flow.resolve(site.module, site.node, site.scope)
        if (cands or isinstance(site.node.func, ast.Name)) and not any(c.node is fi_node for c in cands):
            continue  # a call of another function of the same name (another script's `evaluate`)
        func = site.node.func
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) \
                and flow._library_instance(site.module, func.value.id, site.scope):
            continue  # `estimator.train(...)`: a library object's method, not ours
        mode = mode_call(site.node)
        if mode is not None and not flow._plain_object_method(site.module, site.node, site.scope) \
                and not (mode == "train" and flow._own_train_method(site.module, site.node, site.scope)):
            continue  # `model.train()` / `model.eval()`: the flow reads it as a mode switch, not as this call
        caller_events = flow.summary(site.scope) if site.scope is not None else flow.module_summary(site.module)
        # map our key back to the caller's argument when it is one of our parameters
        ckey = key
        receiver = site.node.func.value if isinstance(site.node.func, ast.Attribute) else None
        params = _named_params(site.scope) if site.scope is not None else set()
        if key and key[0].startswith("$") and key[0] != "$self":
            # the caller's aliases (``model = workflow.network_def``): its events name the object so
            aliases = _caller_aliases(site.module, site.scope, params, project)
            bound = Flow.bind(fi, site.node, lambda e: receiver_key(e, aliases, params), receiver)
            if key[0][1:] in bound:
                bkey = bound[key[0][1:]][0]
                # ``predictor.model`` where ``predictor`` is the caller's ``predictor``: keep the attribute
                ckey = bkey + key[1:] if bkey is not None else None
        elif key and fi.cls is not None and receiver is not None \
                and not (isinstance(receiver, ast.Name) and receiver.id == "self"):
            # ``self.feature`` (or ``self``) in a method called as ``model.test_loop()``: the
            # caller knows that object as ``model.feature`` (``model``)
            rkey, _ = receiver_key(receiver, {}, params)
            if rkey is not None:
                ckey = rkey + (key[1:] if key[0] == "$self" else key)
        # an eval() that runs before this call: earlier in the caller, or anywhere in a loop around it
        # (unless the call's first run is known to be in train mode: that eval() comes too late for it)
        site_loops = [a for a in site.module.ancestors(site.node) if isinstance(a, LOOP_TYPES)]
        restore = _restored_to_train(caller_events, ckey, site.node.lineno)
        if restore is not None:
            # a helper run before this call evaluated the object and then left it in train mode
            project.facts.setdefault("torch.caller_restores", {})[(id(fi_node), key)] = restore  # type: ignore[index]
            continue
        if any(e.kind == "eval" and same_object(e.key, ckey) and e.sites[0][1].lineno < site.node.lineno
               for e in caller_events):
            return True
        if any(e.kind == "eval" and same_object(e.key, ckey) and any(lp in site_loops for lp in e.loops)
               for e in caller_events) and not flow.first_run_in_train_mode(site, ckey, caller_events):
            return True
        if site.scope is not None and _callers_set_eval(site.scope, ckey, project, flow, depth + 1):
            return True
        if site.scope is not None and _kept_in_eval_by_constructor(site.module, site.scope, ckey, flow):
            return True
    return False


def _restored_to_train(events: list[Event], key: Key, line: int) -> Optional[Event]:
    """The ``train()`` that leaves ``key`` in train mode at ``line``: the last mode switch of the
    object before ``line`` (``events``: one function's summary, in order) is an unconditional
    ``train()`` of the whole object run by a called helper after its own ``eval()`` of it (a
    ``validate(model)`` / flip-TTA helper ending with ``model.train()`` instead of restoring the mode
    it found). Whatever eval() came before that call no longer holds. None otherwise (a conditional
    restore ``model.train(was_training)``, a train() written in the function itself: chosen there)."""
    before = [e for e in events if e.kind in ("train", "eval", "bnfreeze", "bnfreeze?") and not e.fresh
              and e.key is not None and same_object(e.key, key) and getattr(e.sites[0][1], "lineno", 0) < line]
    if not before:
        return None
    last = before[-1]
    if last.kind != "train" or len(last.sites) < 2 or last.guards or last.exits or last.key[-1] == ELEMENT:
        return None
    names = [c.lstrip("$%") for c in last.key if c != EACH]
    if not names or names[-1] not in key_names(key):
        return None  # ``model.head.train()``: a part of the object, maybe one without BatchNorm
    if not any(e.kind == "eval" and e.sites[0][1] is last.sites[0][1] and same_object(e.key, last.key)
               for e in before[:-1]):
        return None  # the helper trains (or only switches to train): not an evaluation leaving train mode
    return last


def _caller_aliases(module: Module, scope, params: set, project: Project) -> dict:
    """``net = model`` / ``model = workflow.network_def`` aliases of a calling function (or of the
    module level), as the flow names the objects in its events; computed once per body."""
    memo = project.facts.setdefault("torch.caller_aliases", {})  # type: ignore[arg-type]
    owner = scope if scope is not None else module.tree
    if id(owner) not in memo:  # type: ignore[operator]
        memo[id(owner)] = (owner, _local_aliases(owner.body, params))  # type: ignore[index]
    return memo[id(owner)][1]  # type: ignore[index]


def _helper_of_evaluations(module: Module, scope, project: Project, flow: Flow) -> bool:
    """Is ``scope`` (``@torch.no_grad() def build_prototypes(encoder, x, y)``, whatever its name)
    called by the project only from evaluation functions (``evaluate_episodes``, not a unit test, not
    one named for a deliberate train mode)? Then its pass is part of those evaluations; whether the
    model is in eval mode there is the callers' to show (``_callers_set_eval``)."""
    if not isinstance(scope, (ast.FunctionDef, ast.AsyncFunctionDef)) or scope.name == "forward" \
            or scope.name.startswith("__"):
        return False  # ``forward`` / dunders run through ``model(x)``: their written calls are not all of them
    sites = []
    for site, unique in flow.callers_of(scope):
        if site.scope is scope:
            continue
        if not unique:
            return False  # a call that may run it, or another function of that name: unknown callers
        sites.append(site)
    return bool(sites) and all(
        isinstance(site.scope, (ast.FunctionDef, ast.AsyncFunctionDef)) and _EVAL_FUNC.search(site.scope.name)
        and not _deliberate_train_mode(site.scope.name) and not is_unit_test(site.module, site.scope)
        and not is_test_file(project.relative_path(site.module)) for site in sites)


def _kept_in_eval_by_constructor(module: Module, method: ast.AST, key: Key, flow: Flow) -> bool:
    """``self._model`` put in eval mode by the class's ``__init__`` (``self._model = Net();
    self._model.train(False)``) and switched back to train mode by none of its methods: every method
    (here the one that hands ``self._model`` to the evaluation) sees it in eval mode."""
    if not key or key[0][:1] in "$%":
        return False
    cls = module.enclosing_class(method)
    if cls is None or [a.arg for a in method.args.args[:1]] != ["self"]:
        return False
    methods, init = _methods_and_init(cls)
    if init is None:
        return False
    # the constructor's last word on the object (after building it, a fresh train-mode module) is eval()
    modes = [(e.sites[0][1].lineno, e.kind) for e in flow.summary(init)
             if e.kind in ("train", "eval") and same_object(e.key, key)]
    if len(key) == 1:
        # ``self.model = model.eval()``: Module.eval() returns the module, the attribute holds it in
        # eval mode; any other store (``self.model = model``) is a module of unknown mode until an
        # eval() after it
        for n in astwalk.walk(init):
            if isinstance(n, ast.Assign) and any(isinstance(t, ast.Attribute) and t.attr == key[0]
                                                 and isinstance(t.value, ast.Name) and t.value.id == "self"
                                                 for t in n.targets):
                modes.append((n.lineno, "eval" if _evaluated_value(n.value) else "store"))
    modes.sort(key=lambda t: (t[0], t[1] != "store"))
    if not modes or modes[-1][1] != "eval":
        return False
    return not any(e.kind == "train" and same_object(e.key, key)
                   for m in methods if m is not init for e in flow.summary(m))


def _evaluated_value(value: ast.AST) -> bool:
    """``m.eval()``, ``m.to(device).eval()``, ``m.eval().float()``: an expression whose value is a
    module put in eval mode (Module methods return the module itself)."""
    while isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute):
        if mode_call(value) == "eval":
            return True
        if value.func.attr not in ("to", "cuda", "cpu", "float", "half", "double", "bfloat16", "requires_grad_", "type"):
            return False
        value = value.func.value
    return False


def _called_only_after(module: Module, name: str, line: int, project: Project, seen: frozenset) -> bool:
    """Does the module's top-level code call ``name`` (directly or through its other functions)
    only after ``line``? Code elsewhere runs after this module is imported."""
    for site in project.call_sites(name):
        if site.module is not module:
            continue
        if site.scope is None:
            if site.node.lineno < line:
                return False
        else:
            caller = getattr(site.scope, "name", "")
            if caller in seen:
                continue
            if len(seen) > 4 or not _called_only_after(module, caller, line, project, seen | {caller}):
                return False
    return True


def _deep_copy_of_parameter(module: Module, scope: ast.AST, key: Key, events: list[Event], call: ast.AST) -> Optional[Key]:
    """For a local bound only to ``copy.deepcopy(<a parameter or its attribute>)`` before ``call``
    (``tmp_model = copy.deepcopy(model._network)``) and never switched here: the parameter's key.
    ``deepcopy`` copies the ``training`` flag, so the copy runs in the mode the callers left the
    original in."""
    if len(key) != 1 or key[0].startswith("$") or any(
            e.kind in ("train", "eval") and e.key is not None and same_object(e.key, key) for e in events):
        return None
    name = key[0].lstrip("%")
    params = _named_params(scope)
    source: Optional[Key] = None
    for n in _assignments_to(module, {name}):
        if module.scope_of(n) is not scope or not isinstance(n, ast.Assign) or n.lineno >= getattr(call, "lineno", 0):
            continue
        if len(n.targets) != 1 or not isinstance(n.targets[0], ast.Name):
            return None
        value = same_object_base(n.value)
        if not (isinstance(value, ast.Call) and (dotted(value.func) or "").rsplit(".", 1)[-1] == "deepcopy"
                and len(value.args) == 1 and n.value is value):
            return None
        k, _text = receiver_key(value.args[0], {}, params)
        if k is None or not k[0].startswith("$") or k[0] == "$self" or (source is not None and k != source):
            return None
        source = k
    return source


def _derived_from_evaluated(module: Module, scope, key: Key, events: list[Event], call: ast.AST) -> bool:
    """Is the object built from a model already put in eval mode here (``scripted =
    torch.jit.script(model)``, ``copy.deepcopy(model)``, ``wrap(model, fields)`` after
    ``model.eval()``)? Copies, scripted and traced modules and wrappers keep its mode."""
    if not key or key[0][:1] in "$%":
        return False
    owner = scope if scope is not None else module.tree
    evals = [e for e in events if e.kind == "eval" and e.key is not None]
    if not evals:
        return False
    for n in _assignments_to(module, {key[0]}):
        if not (isinstance(n.value, ast.Call) and _inside(module, n, owner) and n.lineno < call.lineno):
            continue
        sources = {a.id for arg in [*n.value.args, *(k.value for k in n.value.keywords)]
                   for a in astwalk.walk(arg) if isinstance(a, ast.Name)}
        if any(e.sites[0][1].lineno < n.lineno and key_names(e.key) & sources for e in evals):
            return True
    return False


def _global_left_in_eval(module: Module, scope, key: Key, flow: Flow, project: Project) -> bool:
    """Is ``key`` a module-level object put in eval mode by the module's own top-level code
    (``model.eval()`` after loading it, as a server or demo script does), with no ``train()`` of it
    anywhere in the module, and is the function ``scope`` that uses it called only later (a web
    route, a callback: not at all here)? Then it runs in eval mode."""
    if not key or key[0][:1] in "$%":
        return False
    top = flow.module_summary(module)
    evals = [e.node.lineno for e in top if e.kind == "eval" and not e.loops and e.key is not None
             and same_object(e.key, key)]
    if not evals:
        return False
    if not _called_only_after(module, scope.name, min(evals), project, frozenset({scope.name})):
        return False
    summaries = [top] + [flow.summary(fi.node) for fi in module.functions]
    # (building the model, `model = RiskNet()`, is a fresh train-mode object, not a train() call)
    return not any(e.kind == "train" and not e.fresh and same_object(e.key, key) for events in summaries for e in events)


def _never_used(name: str, project: Project) -> bool:
    """Is the function ``name`` neither called nor referred to anywhere (dead code, or an API whose
    callers are not in the project)? A reference is ``utils.name`` or a ``name`` read where no
    local variable of that name is bound (``callbacks=[name]``); comments and strings are not."""
    memo = project.facts.setdefault("torch.never_used", {})  # type: ignore[arg-type]
    if name not in memo:  # type: ignore[operator]
        memo[name] = not project.call_sites(name) and not any(  # type: ignore[index]
            _refers_to(m, name) for m in project.modules if m.mentions(name))
    return memo[name]  # type: ignore[index]


def _rebound_unused(fi) -> bool:
    """A module-level ``def`` (no decorator) that a later module-level ``def`` of the same name in
    the same file (a script or notebook rewriting a helper) rebinds, with no module-level reference
    to the name in between: only the module-level code between the two can run it, and none does."""
    m, fn = fi.module, fi.node
    if fi.cls is not None or fn.decorator_list or m.scope_of(fn) is not None or m.parent(fn) is not m.tree:
        return False
    later = [g.node for g in m.functions if g.node is not fn and g.name == fi.name and g.cls is None
             and m.parent(g.node) is m.tree and g.node.lineno > fn.lineno]
    if not later:
        return False
    end = (min(g.lineno for g in later), 0)
    start = (fn.end_lineno or fn.lineno, 0)
    return not any(isinstance(n, ast.Name) and n.id == fi.name and start < (n.lineno, n.col_offset) < end
                   and m.scope_of(n) is None for n in astwalk.walk(m.tree))


def _handed_in_only_by_unseen_code(fn: ast.AST, param: str, project: Project, flow: Flow,
                                   depth: int = 0, seen: frozenset = frozenset()) -> bool:
    """Does the model that ``fn`` receives as ``param`` come only from code the project does not
    show? True when nothing calls ``fn`` (an API: its callers choose the mode), and, through the
    callers that merely forward a parameter of their own (``get_boxes(detector, img)`` calling
    ``run_net(detector, img)`` with no mode switch of it before), when those callers are themselves
    never called in a way the flow can follow to them (bound at run time: ``self.get_boxes =
    get_boxes``). A caller that passes an object of its own (a model it builds, loads or holds)
    decides, and so does module-level code."""
    fi = flow.function_info.get(id(fn))
    if fi is None or id(fn) in seen:
        return False
    if _never_used(fi.name, project):
        return True
    sites = [site for site, _unique in flow.callers_of(fn)]
    if not sites:
        # the forwarding caller is reached only through calls the flow cannot bind; a method whose
        # name is only ever called, each call bound to another class's method of that name (two
        # runner classes that both define `sample(model)`), is never run by the project at all; a
        # module-level def rebound further down before anything called it (dead code)
        return depth > 0 or fi.cls is not None and _name_only_called(fi.name, project) or _rebound_unused(fi)
    if depth >= 3:
        return False
    required = _required_param(fn, param)
    sites = [site for site in sites if not required or param in call_arguments(fi, site.node)[1] or any(
        isinstance(x, ast.Starred) for x in site.node.args) or any(k.arg is None for k in site.node.keywords)]
    # (``model.eval()`` bound by name: a call without the required model is not a call of ``fn``)
    if not sites:
        return depth > 0 or fi.cls is not None and _name_only_called(fi.name, project)
    for site in sites:
        if site.scope is None or site.scope is fn:
            return False
        params = _named_params(site.scope)
        receiver = site.node.func.value if isinstance(site.node.func, ast.Attribute) else None
        bound = Flow.bind(fi, site.node, lambda e: receiver_key(e, {}, params), receiver)
        ckey = bound.get(param, (None, ""))[0]
        if param not in bound and _forwards_own_star_params(site.scope, site.node):
            # ``def __call__(self, *args, **kwargs): return self.eval(*args, **kwargs)``: the model is
            # whatever reaches the forwarder, which nothing in the project runs
            if not any(e.kind == "step" for e in flow.summary(site.scope)) and _forwarder_never_run(site.scope, project, flow):
                continue
            return False
        if ckey is None or len(ckey) != 1 or not ckey[0].startswith("$") or ckey[0] == "$self":
            return False
        if any(e.kind == "step" or e.key is not None and same_object(e.key, ckey) for e in flow.summary(site.scope)):
            return False  # the caller trains, or switches the model's mode (or rebuilds it): not a mere forwarder
        if not _handed_in_only_by_unseen_code(site.scope, ckey[0][1:], project, flow, depth + 1, seen | {id(fn)}):
            return False
    return True


def _required_param(fn: ast.AST, param: str) -> bool:
    """Is ``param`` a parameter of ``fn`` without a default value (every real call must pass it)?"""
    from bnguard.lint.values import _param_spec

    spec = _param_spec(fn, param) if getattr(fn, "args", None) is not None else None
    return spec is not None and spec[1] is None


def _forwards_own_star_params(caller: ast.AST, call: ast.Call) -> bool:
    """Does ``call`` hand on the ``*args`` / ``**kwargs`` that ``caller`` itself receives?"""
    a = getattr(caller, "args", None)
    if a is None:
        return False
    star = a.vararg.arg if a.vararg is not None else None
    kw = a.kwarg.arg if a.kwarg is not None else None
    return any(isinstance(x, ast.Starred) and isinstance(x.value, ast.Name) and x.value.id == star for x in call.args) \
        or any(k.arg is None and isinstance(k.value, ast.Name) and k.value.id == kw for k in call.keywords)


def _forwarder_never_run(fn: ast.AST, project: Project, flow: Flow) -> bool:
    """Does nothing in the project run the forwarding function ``fn``? A plain function: it is never
    called nor referred to. ``__call__``: its class is never handed around as a value and built only
    in functions that are themselves never called (unused ``make_evaluator()`` factories), so no
    instance the project holds is ever called."""
    fi = flow.function_info.get(id(fn))
    if fi is None:
        return False
    if fi.name != "__call__":
        return _never_used(fi.name, project)
    if fi.cls is None:
        return False
    name = fi.cls.name
    if any(m.references.get(name) for m in project.modules if m.mentions(name)):
        return False
    return all(site.scope is not None and not isinstance(site.scope, ast.Lambda) and _never_used(site.scope.name, project)
               for site in project.call_sites(name))


def _name_only_called(name: str, project: Project) -> bool:
    """Is every mention of the attribute ``name`` in the project the function of a call
    (``self.name(...)``), never a bound method handed on (``callbacks=[self.name]``, ``getattr``)?"""
    memo = project.facts.setdefault("torch.name_only_called", {})  # type: ignore[arg-type]
    if name not in memo:  # type: ignore[operator]
        called = {id(site.node.func) for site in project.call_sites(name)}
        memo[name] = all(  # type: ignore[index]
            id(n) in called for m in project.modules if m.mentions(name) for n in astwalk.walk(m.tree)
            if isinstance(n, ast.Attribute) and n.attr == name) and not any(
            m.mentions(f"'{name}'") or m.mentions(f'"{name}"') for m in project.modules)
    return memo[name]  # type: ignore[index]


def _class_never_used(name: str, project: Project) -> bool:
    """Is the class ``name`` never constructed, subclassed or referred to anywhere in the project?"""
    memo = project.facts.setdefault("torch.class_never_used", {})  # type: ignore[arg-type]
    if name not in memo:  # type: ignore[operator]
        memo[name] = not project.call_sites(name) and not any(  # type: ignore[index]
            m.references.get(name) for m in project.modules if m.mentions(name))
    return memo[name]  # type: ignore[index]


def _class_built_only_by_tests(name: str, project: Project) -> bool:
    """Is the class ``name`` constructed somewhere, and only in test files (a numerical reference a
    unit test compares the real layer against)?"""
    sites = project.call_sites(name)
    return bool(sites) and all(is_test_file(project.relative_path(site.module)) for site in sites) and not any(
        m.references.get(name) for m in project.modules
        if m.mentions(name) and not is_test_file(project.relative_path(m)) and not any(c.name == name for c in m.classes))


def _refers_to(m: Module, name: str) -> bool:
    # a bare ``name`` can be the function only where it is defined or imported, and not rebound
    visible = name in m.imports.aliases or any(f.name == name and f.cls is None for f in m.functions) \
        or _star_imports(m)
    reads, module_binds = [], False
    for n in astwalk.walk(m.tree):
        if isinstance(n, ast.Attribute) and n.attr == name and isinstance(n.ctx, ast.Load):
            return True
        if visible and isinstance(n, ast.Name) and n.id == name:
            if isinstance(n.ctx, ast.Load):
                reads.append(n)
            elif isinstance(n.ctx, ast.Store) and m.scope_of(n) is None:
                module_binds = True  # a module variable of that name: reads are of the variable
    return not module_binds and any(
        (scope := m.scope_of(n)) is None or name not in _names_bound_in(scope) for n in reads)


@per_node
def _names_bound_in(fn: ast.AST) -> frozenset:
    return frozenset(_params(fn)) | _assigned_names(fn.body)  # type: ignore[arg-type, attr-defined]


def _eval_path(module: Module, with_node: ast.AST, scope: Optional[ast.AST], project: Optional[Project] = None) -> bool:
    if _evaluation_block(with_node, module):
        return True
    if scope is not None and _EVAL_FUNC.search(scope.name):  # type: ignore[attr-defined]
        if is_unit_test(module, scope):
            return False  # a pytest test function
        return True
    for a in module.ancestors(with_node):
        if isinstance(a, (ast.For, ast.AsyncFor)) and _EVAL_LOADER.search(ast.unparse(a.iter)):
            return True
        if isinstance(a, (ast.FunctionDef, ast.AsyncFunctionDef)):
            break
    for n in astwalk.walk(with_node):
        if isinstance(n, (ast.For, ast.AsyncFor)) and _EVAL_LOADER.search(ast.unparse(n.iter)):
            return True
    return project is not None and _collects_outputs(with_node, scope, project)


def _collects_outputs(region: ast.AST, scope: Optional[ast.AST], project: Project) -> bool:
    """A loop over batches under no_grad that keeps what it computes (``logits.append(self.model(x))``,
    ``feats.extend(...)``): an inference pass whose outputs are used afterwards (post-hoc calibration,
    feature extraction), whatever the function is called. A recalibration pass (precise BN) discards
    its outputs, and a pass over the training data (a memory bank filled from ``train_loader``
    before training) only shows BN the data it trains on."""
    loops = [n for n in astwalk.walk(region) if isinstance(n, (ast.For, ast.AsyncFor))]
    if any(_over_training_data(lp.iter, scope, project) for lp in loops):
        return False
    for loop in loops:
        for n in astwalk.walk(loop):
            if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr in ("append", "extend") \
                    and len(n.args) == 1 and any(isinstance(a, ast.Call) for a in astwalk.walk(n.args[0])):
                return True
    return False


_TRAIN_DATA = re.compile(r"train", re.I)


def _star_import_binds_other(site, fi, project: Project) -> bool:
    """Is ``evaluate(...)`` in another module bound by that module's ``from score import *`` to
    ``score.evaluate``, not to ``fi``: the name is not imported by itself, every star import there
    is of a project module other than ``fi``'s, and one of them defines the name at its top level."""
    func = site.node.func
    if not isinstance(func, ast.Name) or site.module is fi.module or func.id in site.module.imports.aliases:
        return False
    sources = []
    for st in site.module.tree.body:
        if isinstance(st, ast.ImportFrom) and any(a.name == "*" for a in st.names):
            source = project.module_named(st.module, site.module) if st.module and not st.level else None
            if source is None or source is fi.module:
                return False
            sources.append(source)
    return any(isinstance(st, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and st.name == func.id
               for source in sources for st in source.tree.body)


def _over_own_training_data(module: Module, call: ast.AST, model_expr: ast.AST, region: ast.AST,
                            scope: Optional[ast.AST], project: Project) -> bool:
    """Does the innermost loop around ``call`` in the evaluation region (the region itself when it is
    the loop; not the training loop around a no_grad block that draws a test batch) run over the training data itself
    (``for x, y in train_loader``, or a ``loader`` parameter every caller fills with one:
    ``evaluate(net, train_loader)``, training accuracy)? In train mode BatchNorm then folds only the
    data it trains on into its running statistics: nothing foreign reaches them."""
    model_names = {n.id for n in astwalk.walk(model_expr) if isinstance(n, ast.Name)}
    child: ast.AST = call
    for a in module.ancestors(call):
        if a is scope or isinstance(a, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            return False
        loop = a if isinstance(a, (ast.For, ast.AsyncFor)) and child is not a.iter else \
            a.generators[0] if isinstance(a, (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)) \
            and child not in a.generators else None
        if loop is not None:
            if model_names & {t.id for t in astwalk.walk(loop.target) if isinstance(t, ast.Name)}:
                return False  # ``m(x) for m in members``: a loop over models, not over data
            return _over_training_data(loop.iter, scope, project)
        if a is region:
            return False
        child = a
    return False


def _over_training_data(iterable: ast.AST, scope: Optional[ast.AST], project: Project) -> bool:
    """Does the loop run over training data: a name saying so, or a parameter every caller fills
    with one (``init_memory(train_loader, model)``)?"""
    text = ast.unparse(iterable)
    if _TRAIN_DATA.search(text):
        return True
    fi = _flow(project).function_info.get(id(scope)) if scope is not None else None
    if fi is None:
        return False
    names = {n.id for n in astwalk.walk(iterable) if isinstance(n, ast.Name)} & set(_params(scope))
    if not names:
        return False
    # the calls that may run this function (not another module's ``evaluate`` of the same name)
    bound = [(site, call_arguments(fi, site.node)[1]) for site, _unique in _flow(project).callers_of(scope)
             if site.scope is not scope and not _star_import_binds_other(site, fi, project)]
    return any(bound and all(name in b and (_TRAIN_DATA.search(ast.unparse(b[name])) or _stepped_over(site, b[name]))
                             for site, b in bound)
               for name in names)


def _stepped_over(site, arg: ast.AST) -> bool:
    """Is ``arg`` (a name in the calling function) the data that function trains on: a loop over it
    (``for xb, yb in task_loader``, also through ``enumerate`` / a progress bar) runs backward() or an
    optimizer step?"""
    if not isinstance(arg, ast.Name):
        return False
    for n in astwalk.walk(site.scope if site.scope is not None else site.module.tree):
        if isinstance(n, (ast.For, ast.AsyncFor)):
            it = n.iter
            while isinstance(it, ast.Call) and it.args and (dotted(it.func) or "").rsplit(".", 1)[-1] in (
                    "enumerate", "tqdm", "iter", "trange", "track"):
                it = it.args[0]
            if isinstance(it, ast.Name) and it.id == arg.id and _has_training_call(n):
                targets = {t.id for t in astwalk.walk(n.target) if isinstance(t, ast.Name)}
                # ``for member in members: member.parameters()...``: a loop over models, not over data
                return not any(isinstance(c, ast.Call) and isinstance(base := (c.func.value if isinstance(c.func, ast.Attribute)
                                                                             else c.func), ast.Name)
                               and base.id in targets for c in astwalk.walk(n))
    return False


@register
class EvaluationInTrainMode(Rule):
    code = "BN303"
    name = "evaluation-in-train-mode"
    framework = "pytorch"
    summary = "model evaluated in train mode (no eval()): BN statistics absorb the evaluation data"
    triggers = ("no_grad", "inference_mode", "val", "test", "dev", "holdout", "predict", "infer", "probe",
                "autograd", ".grad", "captum")  # (attributions in train mode)
    doc = RuleDoc(
        what="""
Finds a model that contains BatchNorm run for evaluation in train mode: under `torch.no_grad()` /
`torch.inference_mode()` in an evaluation path (a function named like evaluate / validate / test /
predict / infer, or a loop over a validation / test loader), or in a pass over a validation / test
loader that never calls `backward()` (also without `no_grad`, as in pre-0.4 code), when no `eval()`
on it can reach that point: not in the function, not earlier in the loop, not in any caller. An
`eval()` later in a loop around the evaluation reaches it only from the loop's second iteration: it
does not count when the first run is known to be in train mode (the last switch before the loop, in
the caller or its callers, is a `train()`: prototypes built from the support set by a no_grad helper
before the episode loop's `encoder.eval()`). A no_grad helper that the project calls only from
evaluation functions is part of those evaluations, whatever its name.
The forward pass may sit in a method of the same class called there (`self._forward_pass(x)`
running `self.model(x)`, reported at the call), and the model may be the object itself: `self(x)` or
`self.feature(x)` (a sub-module whose class builds BN) in a model's own `evaluate` method.
Also an inference entry point: a BN model given trained weights (`net.load_state_dict(torch.load(p))`)
in a script or function that trains nothing, then run on inputs there with no `eval()` / `train()`
of it anywhere in that code. And an evaluation that puts the model in train mode itself: an
unconditional `model.train()` right before the evaluation pass, with no `eval()` after it (the first
line of `train_epoch()` copied into `evaluate()`; u-2-net's demo, PointMVSNet's test). And Monte-Carlo
dropout by `model.train()` of a whole model that has BatchNorm (`predict_with_uncertainty`, a
`# keep dropout on` comment, `mc_samples`): the sampling passes (repeated over `range()` or under
no_grad) fold their inputs into the BN running statistics. And a gradient attribution run after
`model.train()` of a whole model that has BatchNorm (the cuDNN RNN-backward workaround before integrated
gradients, SmoothGrad, saliency): forwards of the model on a tensor whose gradient the function takes
(`torch.autograd.grad(score, x)`, or `x.grad` after `backward()`) or a Captum attribution object built
around it fold the interpolated / perturbed inputs into the running statistics. The loop's
loader is also found through locals and progress bars (`batch = tqdm(test_l)`, `test_l =
DataLoader(test)`). And the transfer-learning tutorial's phase loop with its mode switch left out:
`for phase in ["train", "val"]` whose backward / optimizer step runs only when the phase is the
training one (`with torch.set_grad_enabled(phase == "train")`), with no `train()` / `eval()` in the
loop: the validation phase runs the model in train mode. And a shared epoch function that chooses the
mode from a parameter (`if mode == "train": model.train() elif mode == "valid": model.eval()`, also
`mode in (...)`) called with a constant that none of its switches accepts and that turns its
backward / optimizer step off (`run_epoch(model, val_batches, "val")`): that forward-only pass keeps
the train mode of the call before it. And an eval() undone by a helper: the last mode switch before
the evaluation (in the function or in a caller) is a called helper that puts the model in eval mode
and ends with an unconditional `model.train()` instead of restoring the mode it found (a validation
or flip-TTA helper shared with the training loop), so an `eval()` before that call no longer holds.
Flax NNX models too: a model whose class holds `nnx.BatchNorm` in its default (training) mode, run
forward by a function named for evaluation that computes no gradient (directly or through a helper such
as `loss_fn(model, x, y)`), or in a loop over held-out data, in a program that trains it with nnx and
never sets BatchNorm's `use_running_average` to True: no `.eval()`, every `nnx.view` / `with_attributes` /
`set_attributes` call leaves it out (`nnx.view(model, deterministic=True)` turns off only Dropout, and the
view shares the BatchStat), no assigned `use_running_average`, and none chosen at construction or call time.
""",
        why="""
`no_grad()` only turns off gradient recording; it does not change BatchNorm's mode. In train mode
BN normalizes each evaluation batch with its own statistics (results depend on the batch) and folds
the evaluation data into `running_mean` / `running_var` with every batch: the statistics used later
describe the validation set, not the training data.
""",
        example="""
def evaluate(net, loader):
    correct = 0
    with torch.no_grad():
        for x, y in loader:
            correct += (net(x).argmax(1) == y).sum().item()
    return correct
""",
        use_instead="""
def evaluate(net, loader):
    net.eval()
    correct = 0
    with torch.no_grad():
        for x, y in loader:
            correct += (net(x).argmax(1) == y).sum().item()
    net.train()
    return correct
""",
        not_flagged="""
`no_grad()` inside a training step (teacher / target networks, EMA updates); functions that call
`train()` on purpose (BN recalibration, `update_bn`, precise-BN, AdaBN / TENT test-time adaptation,
MC dropout of a model without BatchNorm, or with only the Dropout modules switched to train(), the BN
layers put back in eval() before sampling, or the model's state saved and restored around it; an
attribution that switches only the recurrent layers to train(), and input gradients of a training
step: an adversarial example crafted where the caller steps the optimizer in the same iteration,
a gradient penalty with `create_graph=True`);
generators sampled in train mode (GANs); models whose class (defined in the project)
has no BatchNorm, also after `net = net.type(...)` / `.double()` (Module methods return the module);
a trainer's mode setter from a library base class (`self.set_model_mode("eval")`, `set_mode("test")`)
before the pass; calls with an explicit `training=` and Keras models (Keras 3 on the torch backend: `training=`
decides, not `eval()`); library models whose constructor call chooses a non-batch normalization
(`norm_name="instance"`, `norm=("group", ...)`, `norm=None`) or whose default is one (MONAI's UNETR /
SwinUNETR / BasicUNet family, torch_geometric's GNN models), and TorchScript programs from `torch.jit.load`
(they run in the mode they were exported in); a hook such as `model_fn(model, x)` is judged by the model it receives;
PyTorch Lightning modules (also a class derived from `LightningModule` through project base classes);
a no_grad helper that the project calls only from training steps, unconditionally and at the loop level of
the optimizer step (a target / teacher network pass of the step); a function that receives the model (a
parameter, or `self`) when nothing in the project calls it or refers to it (dead code, or an API whose
callers choose the mode), also through callers that only forward a model parameter of their own and are
themselves never called in a way the project shows (a function bound at run time); a
`copy.deepcopy` of a model handed in (`tmp = deepcopy(model.net)`: the copy keeps that model's mode) in
such a function, or where its callers put the model in eval mode; a
method run as `model.test_loop(loader)` right after the caller's `model.eval()` (that covers
`self.feature` inside it); a model of unknown class run beside one the function puts in eval mode
(a BN-free companion: a text encoder); BN built only under a flag that is false at every call site
(`make_layers(cfg, batch_norm=False)`); a model built at module level before a later notebook cell
redefines its class (or the evaluation helper) with BN: the definition above the call decides; the
same for the model a module-level call hands to an evaluation helper (`validate(model, ...)` sees the
last `model = ...` above it, not a BN model a later cell or line builds, which only reaches the
helper's redefinition), and a call in a function body runs the last module-level `def` of the name
(a first draft left above its rewrite, called by nothing before the rewrite, is dead code). A
phase loop with any mode switch inside it (`model.train(phase == "train")`, the tutorial's if /
else, a helper that sets the mode) or an `eval()` anywhere in its function. A mode argument that a
switch accepts (an `else: model.eval()`), that still trains, or a call after the caller's own `eval()`.
For restored weights: a script that also trains (resumes),
a model handed to another call (an evaluation engine may set its mode), generators, unit tests.
A pass over the training data itself (`for x, y in train_loader`, or a loader parameter every caller
fills with the data it trains on: `evaluate(net, train_loader)` for training accuracy, also a local
the caller's own stepping loop runs over): only the data BN trains on reaches its statistics. A helper
that restores the mode it found (`was = m.training` ... `m.train(was)`), or an `eval()` after the
helper call. A path naming test-time adaptation (`tent`, `adapt`, `recalib`...; `tta` only when the
file also speaks of adaptation: it means test-time augmentation as often).
A program whose every BatchNorm is built with `momentum=1` (or `track_running_stats=False`) and that
never calls `eval()`: the running buffers hold only the last batch and are never read, every pass
normalises with its own batch on purpose (the transductive BN of Relation Network / MAML few-shot
code). A method that the project calls only through `__call__(self, *args, **kwargs)` of a class
built nowhere but in factories that are themselves never called (an unused evaluator helper); calls
of another object's method of the same name that do not pass the model (`model.eval()`) are not its
callers.
""",
        versions=PYTORCH_VERSIONS,
    )

    def check(self, module: Module, project: Project) -> Iterable[Finding]:
        if not _uses_torch(module) and _uses_nnx(module):
            # Flax NNX: modules start in training mode and share train() / eval() semantics
            from bnguard.lint.rules.flax import nnx_evaluations_in_train_mode
            for call, message in nnx_evaluations_in_train_mode(module, project):
                yield self.finding(module, call, message)
        if not _uses_torch(module) or _is_lightning(module):
            return
        if _program_keeps_no_running_average(project, module):
            return  # every BN momentum=1 and no eval() anywhere: batch statistics at every pass by design
        flow = _flow(project)
        reported: set = set()  # (scope, model): one finding per model per function
        yield from self._restored_and_run(module, project, flow, reported)
        yield from self._frozen_copy_run(module, project)
        yield from self._mc_dropout_whole_model(module, project, flow, reported)
        from bnguard.lint.rules.torch_attribution import attribution_in_train_mode
        for node, message in attribution_in_train_mode(module, project, flow, reported):
            yield self.finding(module, node, message)
        yield from self._phase_loop_without_mode(module, project, flow, reported)
        yield from self._phase_function_forcing_train(module, project, flow, reported)
        yield from self._mode_argument_falls_through(module, project, flow, reported)
        for node in module.blocks:  # the with / def / for / if statements, in ast.walk order
            region: Optional[ast.AST] = None
            if isinstance(node, (ast.With, ast.AsyncWith)) and any(_no_grad_ctx(i.context_expr, module) for i in node.items):
                region = node
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and any(_no_grad_ctx(d, module) for d in node.decorator_list):
                region = node
            elif _evaluation_block(node, module) and not _has_training_call(node):
                region = node  # a pass over a validation / test loader without backward (no no_grad)
            if region is None:
                continue
            scope = region if isinstance(region, (ast.FunctionDef, ast.AsyncFunctionDef)) else module.scope_of(region)
            helper_only = not _eval_path(module, region, scope, project)
            if helper_only and not _helper_of_evaluations(module, scope, project, flow):
                continue
            if scope is not None and (_deliberate_train_mode(scope.name) or is_unit_test(module, scope)) \
                    or _deliberate_evaluation_path(project, module):
                continue  # deliberate train mode, or a unit test checking outputs (not an evaluation)
            if _project_drops_running_stats(project, module):
                continue  # track_running_stats=False: there are no running statistics to absorb anything
            events = flow.summary(scope) if scope is not None else flow.module_summary(module)
            no_grad_region = not _evaluation_block(region, module)
            if no_grad_region and _in_training_step(module, region, scope, events):
                continue  # a teacher / target network under no_grad inside a training step
            if scope is not None and _lightning_class(module, scope, project):
                continue  # a LightningModule's method (through project base classes): the Trainer sets its mode
            if scope is not None and (any(_deliberate_train_mode(n) for n in _identifiers(scope)) or _sets_bn_momentum(scope)):
                continue
            params = set()
            if scope is not None:
                params = _named_params(scope)
                fi = flow.function_info.get(id(scope))
                if fi is not None and fi.cls is not None and scope.args.args:
                    params.discard(scope.args.args[0].arg)
            for call, model_expr in _model_calls(region, module, project):
                key, text = receiver_key(model_expr, {}, params)
                if key is None or (id(scope), key) in reported:
                    continue
                if helper_only and not (key[0].startswith("$") and key[0] != "$self"):
                    continue  # a helper of evaluations judges only a model its callers hand in
                if any(_GENERATOR_NAME.search(n) for n in key_names(key)):
                    continue  # GAN sampling keeps BN in train mode on purpose
                undone = _eval_undone_in_region(module, region, events, key, call)
                if undone is not None and not (scope is not None and _EVAL_FUNC.search(scope.name)):
                    has_bn = _model_has_bn(key, project, module)
                    if has_bn is not False and (has_bn or _project_has_bn(project)):
                        reported.add((id(scope), key))
                        yield self.finding(
                            module, call,
                            f"`{text}` is put in eval mode and then back in train mode by `{ast.unparse(undone.node)}` "
                            f"at {module.line_ref(undone.node.lineno)}, inside the evaluation: its BatchNorm layers use batch "
                            "statistics and fold the evaluation data into their running statistics. Remove that "
                            "train() call from the evaluation.", severity="error" if has_bn else "warning")
                        break
                if _mode_set_around(module, region, scope, events, key, call):
                    continue
                alias = _alias_key(model_expr, scope, params, module)
                if alias is not None and _mode_set_around(module, region, scope, events, alias, call):
                    continue  # `model = pretrained_model; model.eval()`: the flow keys the switch by the original
                held = _property_target(module, model_expr, project)
                if held is not None and _mode_set_around(module, region, scope, events, held, call):
                    continue  # `self.model` a property returning `self._model._model`: `self._model.train(mode)` sets it
                if (dotted(model_expr) or "").startswith("self.") and key != ("$self",) \
                        and _mode_set_around(module, region, scope, events, ("$self",), call):
                    continue  # self.eval() in a method: Module.eval() recurses into self.model_base
                # a helper called here evaluated the model and left it in train mode: no eval() from
                # the constructor, a global or a caller reaches the pass
                own_restore = _restored_to_train(events, key, region.lineno)
                if scope is not None and own_restore is None and _global_left_in_eval(module, scope, key, flow, project):
                    continue
                if scope is not None and own_restore is None and _kept_in_eval_by_constructor(module, scope, key, flow):
                    continue  # ``self.model = model.eval()`` in ``__init__``, never switched back by a method
                if _derived_from_evaluated(module, scope, key, events, call):
                    continue
                passed = None
                if scope is not None and len(key) == 1 and key[0].startswith("$") and key[0] != "$self":
                    # a parameter holds what the callers pass: that decides, not the other
                    # functions of the file that bind a local of the same name (d2l's `net`)
                    passed = _passed_models_have_bn(scope, key[0][1:], project, flow)
                has_bn = True if key == ("$self",) and _module_class_with_bn(module, call, project) \
                    else False if key == ("$self",) and _own_class_without_bn(module, call, project) \
                    else passed if passed is not None else _model_has_bn(key, project, module)
                if has_bn is False or (has_bn is None and not _project_has_bn(project)):
                    continue
                if has_bn is None and any(e.kind == "eval" and e.key is not None and not same_object(e.key, key)
                                          for e in events):
                    continue  # another model is put in eval mode here: a companion of unknown class left
                    # alone (a text encoder, a LayerNorm tower) is most likely one without BatchNorm
                if scope is not None and own_restore is None and _callers_set_eval(scope, key, project, flow):
                    continue
                if scope is not None and (key[0].startswith("$") or (dotted(model_expr) or "").startswith("self.")) \
                        and _never_used(scope.name, project):
                    continue  # the caller chooses the mode of a model it passes in, and there is none
                copied_from = _deep_copy_of_parameter(module, scope, key, events, call) if scope is not None else None
                if copied_from is not None and (_never_used(scope.name, project)
                                                or _callers_set_eval(scope, copied_from, project, flow)):
                    continue  # `tmp = deepcopy(model.net)` keeps the mode of the model handed in: its callers choose it
                if scope is not None and len(key) == 1 and key[0].startswith("$") and key[0] != "$self" \
                        and _handed_in_only_by_unseen_code(scope, key[0][1:], project, flow):
                    continue  # the callers only forward a model that code the project does not show hands in
                if len(key) == 1 and not key[0].startswith(("$", "%")) and (dotted(model_expr) or "").startswith("self.") \
                        and _handed_in_by_unseen_builder(module, call, key[0], project):
                    continue  # ``self.model = model`` of an object nothing in the project builds: its builder chooses
                if no_grad_region and _helper_of_training_steps(module, scope, project, flow):
                    break  # a no_grad helper of the training steps: a target / teacher pass, part of the step
                if _over_own_training_data(module, call, model_expr, region, scope, project):
                    continue  # evaluated on the data it trains on: nothing foreign reaches the statistics
                reported.add((id(scope), key))
                each = model_expr is not call.func and isinstance(call.func, ast.Name) and _MODEL_LIST_NAME.search(text)
                switch = f"for m in {text}: m.eval()" if each else f"{text}.eval()"
                copied = next((e for e in events if e.kind == "train" and not e.fresh and same_object(e.key, key)
                               and getattr(e.node, "lineno", 0) < region.lineno
                               and _training_switch_copied_into_evaluation(module, region, scope, events, e, key)), None)
                if copied is not None:
                    yield self.finding(
                        module, call,
                        f"`{ast.unparse(copied.node)}` at {module.line_ref(copied.node.lineno)} puts `{text}` in train mode "
                        f"right before this evaluation{' under no_grad()' if no_grad_region else ''}: its BatchNorm "
                        f"layers use batch statistics and fold the evaluation data into their running statistics. "
                        f"Call `{switch}` instead (if the program evaluates in train mode on purpose, e.g. batch-size-1 "
                        f"instance statistics, say so with `# noqa: BN303`).", severity="error" if has_bn else "warning")
                    break
                restore = own_restore or (project.facts.get("torch.caller_restores") or {}).get((id(scope), key))  # type: ignore[union-attr]
                if restore is not None and _program_bn_keeps_no_running_average(project, module):
                    break  # ``BatchNorm2d(c, track_running_stats=False)`` only: batch statistics in either mode
                if restore is not None:
                    helper = restore.sites[0][1]
                    where = restore.sites[0][0].line_ref(helper.lineno)
                    where = where if restore.sites[0][0] is module else f"{restore.sites[0][0].path}, {where}"
                    yield self.finding(
                        module, call,
                        f"`{text}` is run{' under no_grad()' if no_grad_region else ''} for evaluation in train mode: "
                        f"`{ast.unparse(helper)}` at {where} puts it in eval "
                        f"mode and then back in train mode with `{ast.unparse(restore.node)}` instead of restoring the mode "
                        f"it found, so the earlier eval() no longer holds: its BatchNorm layers use batch statistics and "
                        f"fold the evaluation data into their running statistics. Call `{switch}` before this pass (or "
                        f"let the helper restore the previous mode: `was_training = m.training` ... "
                        f"`m.train(was_training)`).", severity="error" if has_bn else "warning")
                    break
                yield self.finding(
                    module, call,
                    f"`{text}` is run{' under no_grad()' if no_grad_region else ''} for evaluation but is never put in eval mode here or in "
                    f"a caller: its BatchNorm layers use batch statistics and fold the evaluation data into "
                    f"their running statistics. Call `{switch}` first (and `.train()` again before training).",
                    severity="error" if has_bn else "warning")
                break  # one finding per region


    def _mc_dropout_whole_model(self, module: Module, project: Project, flow: Flow, reported: set) -> Iterable[Finding]:
        """MC dropout by ``model.train()`` of a whole model that has BatchNorm: the sampling passes
        (repeated, or under no_grad) run BN in train mode too and fold the inputs into its running
        statistics. Silent when only the Dropout modules are switched, the BN layers are put back in
        eval (or the model's state is saved and restored), or the model has no BN."""
        if is_test_file(project.relative_path(module)) or _DELIBERATE_PATH.search(project.relative_path(module)):
            return
        # The switch must be a literal ``x.train()`` written in the function itself (a one-site
        # event): functions without one are passed over before their flow summary is built.
        train_lines = [c.node.lineno for c in module.calls if c.name == "train"
                       and isinstance(c.node.func, ast.Attribute) and _literal_train(c.node)]
        if not train_lines:
            return
        for fi in module.functions:
            fn = fi.node
            if isinstance(fn, ast.Lambda) or is_unit_test(module, fn) or _deliberate_bn_name(fn.name) \
                    or not any(fn.lineno <= line <= (fn.end_lineno or fn.lineno) for line in train_lines):
                continue
            events = flow.summary(fn)
            trains = [e for e in events if e.kind == "train" and not e.fresh and len(e.sites) == 1 and e.key is not None
                      and isinstance(e.node, ast.Call) and _literal_train(e.node)]
            if not trains or any(e.kind == "step" for e in events) or _has_training_call(fn) \
                    or _restores_bn_state(fn) or any(_deliberate_bn_name(n) for n in _identifiers(fn)):
                continue
            for t in trains:
                if (id(fn), t.key) in reported or any(_GENERATOR_NAME.search(n) for n in key_names(t.key)):
                    continue
                if t.guards and not all(_MC_IDENTIFIER.search(test) for test, _ in t.guards):
                    continue  # switched under some other condition
                run = _mc_sampling_call(module, project, fn, t)
                if run is None or not _mc_dropout_evidence(module, fn, t):
                    continue
                if any(e.kind in ("eval", "bnfreeze", "bnfreeze?")
                       and t.node.lineno < getattr(e.sites[0][1], "lineno", 0) <= run.lineno for e in events) \
                        or _eval_call_between(fn, t.node.lineno, run.lineno):
                    continue  # BN (or everything) put back in eval mode before the passes
                if _mc_model_has_bn(module, project, flow, fn, t, run) is not True:
                    continue
                reported.add((id(fn), t.key))
                text = t.text or "the model"
                yield self.finding(
                    module, run,
                    f"`{ast.unparse(t.node)}` at {module.line_ref(t.node.lineno)} turns on dropout for Monte-Carlo sampling, "
                    f"but it also puts the BatchNorm layers of `{text}` in train mode: every sampling pass normalizes "
                    f"with its own batch statistics and folds these inputs into running_mean / running_var, which "
                    f"every later prediction uses. Call `{text}.eval()` and switch only the Dropout modules back on "
                    f"(`for m in {text}.modules(): if isinstance(m, nn.Dropout): m.train()`).")
                break

    def _phase_loop_without_mode(self, module: Module, project: Project, flow: Flow,
                                 reported: set) -> Iterable[Finding]:
        """The transfer-learning tutorial's phase loop with its mode switch left out: ``for phase in
        ["train", "val"]`` whose backward / optimizer step runs only ``if phase == "train"`` (often under
        ``torch.set_grad_enabled(phase == "train")``), and no ``train()`` / ``eval()`` in the loop: the
        validation phase runs the model in train mode, so BatchNorm folds the validation batches into
        its running statistics. Silent when any mode switch sits in the loop (``model.train(phase ==
        "train")``, the tutorial's if/else) or anything is put in eval mode in the function."""
        if is_test_file(project.relative_path(module)) or _DELIBERATE_PATH.search(project.relative_path(module)):
            return
        for node in module.blocks:
            if not isinstance(node, ast.For) or not isinstance(node.target, ast.Name):
                continue
            phase = node.target.id
            if not _phase_names(node.iter, module) or not _training_only_in_phase(node, phase):
                continue
            scope = module.scope_of(node)
            if scope is None or isinstance(scope, ast.Lambda) or is_unit_test(module, scope) \
                    or _deliberate_train_mode(scope.name) or _project_drops_running_stats(project, module):
                continue
            events = flow.summary(scope)
            first, last = node.lineno, node.end_lineno or node.lineno
            if any(e.kind in ("eval", "bnfreeze", "bnfreeze?") or (
                    e.kind == "train" and not e.fresh and first <= getattr(e.sites[0][1], "lineno", 0) <= last) for e in events):
                continue  # a mode is chosen: per phase in the loop, or eval() somewhere in the function
            if any(isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr in ("train", "eval")
                   for n in astwalk.walk(node)):
                continue  # a switch the flow does not key (a wrapper's own train(phase)): judged elsewhere
            params = _named_params(scope)
            for call, model_expr in _model_calls(node, module, project):
                key, text = receiver_key(model_expr, {}, params)
                if key is None or (id(scope), key) in reported or any(_GENERATOR_NAME.search(n) for n in key_names(key)):
                    continue
                has_bn = _scope_model_has_bn(scope, key, module, project, flow)
                if has_bn is not True or _callers_set_eval(scope, key, project, flow):
                    continue
                reported.add((id(scope), key))
                yield self.finding(
                    module, call,
                    f"`{text}` runs in train mode in every phase of `for {phase} in {ast.unparse(node.iter)}`: only the "
                    f"gradients and the optimizer step depend on `{phase}`, nothing calls `{text}.eval()` for the "
                    "evaluation phase, so its BatchNorm layers normalize the validation batches with their own "
                    "statistics and fold them into their running statistics. Call "
                    f"`{text}.train({phase} == \"train\")` (or train() / eval() per phase) at the top of each phase.")
                break

    def _phase_function_forcing_train(self, module: Module, project: Project, flow: Flow,
                                      reported: set) -> Iterable[Finding]:
        """A step function told its phase by a parameter (``def make_train(batch, phase)``) that
        calls ``net.train()`` unconditionally, runs ``net``, and does the backward / optimizer step
        only under a test of that parameter: the other phases (validation) run the network in train
        mode, so BatchNorm folds their batches into its running statistics (stacked-hourglass #44).
        Silent when the function puts anything in eval mode or chooses the mode from the phase."""
        if not module.mentions(".train(") or is_test_file(project.relative_path(module)) \
                or _DELIBERATE_PATH.search(project.relative_path(module)):
            return
        for fi in module.functions:
            fn = fi.node
            phase = next((p for p in _params(fn) if _PHASE_PARAM.match(p)), None)
            if phase is None or is_unit_test(module, fn) or _deliberate_train_mode(fn.name) \
                    or not _training_only_in_phase(fn, phase):
                continue
            switches = [n for n in astwalk.walk(fn) if isinstance(n, ast.Call) and mode_call(n) is not None]
            forced = [n for st in fn.body for n in _unconditional_nodes(st)
                      if isinstance(n, ast.Call) and mode_call(n) == "train" and not n.args and not n.keywords]
            if not forced:
                continue
            # the arms of the phase tests that hold the training calls: what runs in the training phase only
            training_arms = {id(x) for t in astwalk.walk(fn) if _is_training_call(t)
                             for _test, arm in _phase_arms(module, t, phase, fn)[:1] for st in arm for x in astwalk.walk(st)}
            params = _named_params(fn)
            targets = {dotted(c.func.value) for c in forced}  # type: ignore[attr-defined]
            for call, model_expr in _model_calls(fn, module, project):
                text_of = dotted(model_expr)
                if id(call) in training_arms or text_of not in targets:
                    continue
                if any(sw not in forced and not _opposite_phase_arms(module, sw, call, phase, fn) for sw in switches):
                    continue  # an eval() or a train(flag) that may run with this forward: the mode is chosen
                key, text = receiver_key(model_expr, {}, params)
                if key is None or (id(fn), key) in reported or any(_GENERATOR_NAME.search(n) for n in key_names(key)):
                    continue
                has_bn = _scope_model_has_bn(fn, key, module, project, flow)
                if has_bn is False or (has_bn is None and not _project_has_bn(project)):
                    continue
                reported.add((id(fn), key))
                yield self.finding(
                    module, call,
                    f"`{fn.name}()` puts `{text}` in train mode for every `{phase}` and runs it, but only trains "
                    f"(backward / optimizer step) under a test of `{phase}`: the other phases are evaluation passes "
                    "in train mode, so BatchNorm normalizes those batches with their own statistics and folds them "
                    f"into its running statistics. Call `{text}.train({phase} == \"train\")` (or eval() for the "
                    "evaluation phases) instead.")
                break

    def _mode_argument_falls_through(self, module: Module, project: Project, flow: Flow,
                                     reported: set) -> Iterable[Finding]:
        """A shared epoch function that chooses the model's mode from a parameter (``if mode ==
        "train": model.train() elif mode == "valid": model.eval()``), called with a constant that
        none of its mode switches accepts (``run_epoch(model, val_batches, "val")``) and that also
        turns its backward / optimizer step off: that call is a forward-only pass that leaves the
        model in the train mode of the training call before it, so BatchNorm normalizes these
        batches with their own statistics and folds them into its running statistics. Silent when
        the caller (or its callers) puts the model in eval mode before the call, when any switch of
        the model survives the call's constants, or when the call still trains."""
        if is_test_file(project.relative_path(module)) or _DELIBERATE_PATH.search(project.relative_path(module)) \
                or _project_drops_running_stats(project, module):
            return
        for site in module.calls:
            call = site.node
            if not any(isinstance(a, ast.Constant) for a in itertools.chain(call.args, (k.value for k in call.keywords))):
                continue
            if mode_call(call) is not None:
                continue
            cands, unique = flow.resolve(module, call, site.scope)
            if not unique or len(cands) != 1:
                continue
            fi = cands[0]
            fn = fi.node
            if isinstance(fn, ast.Lambda) or fn is site.scope or _deliberate_train_mode(fn.name) \
                    or is_unit_test(fi.module, fn) or flow.function_info.get(id(fn)) is None:
                continue
            _self_name, passed = call_arguments(fi, call)
            given = {p: a.value for p, a in passed.items() if isinstance(a, ast.Constant)}
            if not given or any(isinstance(v, str) and _deliberate_train_mode(v) for v in given.values()):
                continue
            constants = _constant_arguments(fi, call)
            events = flow.summary(fn)
            # the objects whose eval() this call's constants switch off (a test of a given parameter)
            dropped = [e for e in events if e.kind == "eval" and e.key is not None and e.guards
                       and _decide_guards(e, constants, call) is None
                       and any(any(isinstance(n, ast.Name) and n.id in given for n in astwalk.walk(ast.parse(t, mode="eval")))
                               for t, _pol in e.guards if "@" not in t)]
            for ev in dropped:
                key = ev.key
                if (id(site.scope), key) in reported:
                    continue
                if any(e.kind in ("train", "eval", "bnfreeze", "bnfreeze?") and same_object(e.key, key)
                       and _decide_guards(e, constants, call) is not None for e in events):
                    continue  # a switch of the model runs for this value too (an else: eval())
                if any(e.kind == "step" and _decide_guards(e, constants, call) is not None for e in events) \
                        or any(_is_training_call(n)
                               and not _decided_off(fi.module, n, fn, constants)
                               for n in astwalk.walk(fn)):
                    continue  # the call still trains: not an evaluation pass
                fparams = _named_params(fn)
                if fi.cls is not None and fn.args.args:
                    fparams.discard(fn.args.args[0].arg)
                runs = [c for c, expr in _model_calls(fn, fi.module, project)
                        if same_object(receiver_key(expr, {}, fparams)[0], key)
                        and not _decided_off(fi.module, c, fn, constants)]
                if not runs:
                    continue
                # the model in the caller's terms
                cparams = _named_params(site.scope) if site.scope is not None else set()
                receiver = call.func.value if isinstance(call.func, ast.Attribute) else None
                if key[0].startswith("$") and key[0] != "$self":
                    arg = passed.get(key[0][1:])
                    if arg is None:
                        continue
                    ckey, ctext = receiver_key(arg, {}, cparams)
                    ckey = ckey + key[1:] if ckey is not None else None
                elif fi.cls is not None and isinstance(receiver, ast.Name) and receiver.id == "self":
                    ckey, ctext = key, ev.text
                else:
                    continue
                if ckey is None:
                    continue
                caller_events = flow.summary(site.scope) if site.scope is not None else flow.module_summary(module)
                site_loops = [a for a in module.ancestors(call) if isinstance(a, LOOP_TYPES)]
                if any(e.kind in ("eval", "bnfreeze", "bnfreeze?") and same_object(e.key, ckey) and (
                        getattr(e.sites[0][1], "lineno", 0) < call.lineno or any(lp in site_loops for lp in e.loops))
                       for e in caller_events):
                    continue  # put in eval mode before this call
                if site.scope is not None and (_callers_set_eval(site.scope, ckey, project, flow)
                                               or _deliberate_train_mode(site.scope.name)):
                    continue
                has_bn = _model_has_bn(ckey, project, module) if not ckey[0].startswith("$") or ckey[0] == "$self" \
                    else _passed_models_have_bn(site.scope, ckey[0][1:], project, flow) if site.scope is not None else None
                if has_bn is False or (has_bn is None and not _project_has_bn(project)):
                    continue
                reported.add((id(site.scope), key))
                tests = [t if pol else f"not ({t})" for t, pol in ev.guards if "@" not in t
                         and (v := _guard_value(t, constants)) is not _UNDECIDED and bool(v) != pol]
                value = next(iter(given.values())) if len(given) == 1 else None
                shown = repr(value) if value is not None else "these constants"
                yield self.finding(
                    module, call,
                    f"`{fn.name}()` puts `{ev.text}` in eval mode only when `{' and '.join(tests)}`, and this call "
                    f"passes {shown}: no mode switch of `{ctext or ev.text}` runs for it and no backward / optimizer "
                    f"step either, so this forward-only pass runs in the train mode it was left in: its "
                    "BatchNorm layers normalize these batches with their own statistics and fold them into their "
                    f"running statistics. Pass the value `{fn.name}()` tests for evaluation, or give its mode switch "
                    f"an `else: {ev.text}.eval()`.", severity="error" if has_bn else "warning")
                break

    def _frozen_copy_run(self, module: Module, project: Project) -> Iterable[Finding]:
        if is_test_file(project.relative_path(module)):
            return
        for run, text, frozen in _frozen_copy_run_sites(module, project):
            yield self.finding(
                module, run,
                f"`{text}` has every parameter frozen ({module.line_ref(frozen.lineno)}) but nothing puts it in eval "
                "mode: requires_grad=False does not stop BatchNorm, so it normalizes each input batch with that "
                "batch's statistics (outputs depend on the batch) and overwrites its running statistics. Call "
                f"`{text}.eval()` where it is frozen.")

    def _restored_and_run(self, module: Module, project: Project, flow: Flow, reported: set) -> Iterable[Finding]:
        """An inference entry point: a BN model built and given trained weights
        (``net.load_state_dict(torch.load(path))``) in a scope that trains nothing (no optimizer
        step, no ``backward``), then run on inputs there with no ``eval()`` / ``train()`` of it
        anywhere in that scope or the helpers it calls (CLAPE, GLCIC predict.py, ShuffleNet
        infer.py: every one fixed by adding ``eval()``)."""
        if not module.mentions("load_state_dict"):
            return
        for c in module.calls:
            f = c.node.func
            if c.name != "load_state_dict" or not isinstance(f, ast.Attribute):
                continue
            scope = c.scope
            if isinstance(scope, ast.Lambda) or (scope is not None and (
                    is_unit_test(module, scope) or _deliberate_train_mode(scope.name))) \
                    or _DELIBERATE_PATH.search(project.relative_path(module)):
                continue
            target = f.value.value if isinstance(f.value, ast.Attribute) and f.value.attr == "module" else f.value
            text = dotted(target)
            if text is None or text.startswith("self"):
                continue  # an attribute restored in one method and run in another: not followed here
            if scope is not None and text.split(".")[0] in set(_params(scope)):
                continue  # a model handed in: its mode is the caller's (an ensemble helper swapping weights)
            key, _ = receiver_key(target, {}, set())
            if key is None or (id(scope), key) in reported or any(_GENERATOR_NAME.search(n) for n in key_names(key)):
                continue
            owner = scope if scope is not None else module.tree
            events = flow.summary(scope) if scope is not None else flow.module_summary(module)
            if any(e.kind == "step" for e in events) or _has_training_call(owner):
                continue  # the script trains (resumes, fine-tunes): BN301/BN302 judge its modes
            if any(e.kind not in ("step", "unfreeze") and not e.fresh and same_object(e.key, key) for e in events):
                continue  # eval() / train() / a freeze of it: the mode is chosen
            if _model_has_bn(key, project, module) is not True or _handed_to_other_code(module, owner, text):
                continue
            run = next((n for n in astwalk.walk(owner) if isinstance(n, ast.Call) and n.lineno > c.node.lineno
                        and module.scope_of(n) is scope and not _training_keyword(n)
                        and (dotted(n.func) == text or dotted(n.func) == text + ".forward")), None)
            if run is None:
                continue
            reported.add((id(scope), key))
            yield self.finding(
                module, run,
                f"`{text}` gets trained weights ({module.line_ref(c.node.lineno)}) and is run on inputs here in train "
                "mode: nothing in this code calls its eval(), so its BatchNorm layers normalize with the statistics "
                f"of each input batch instead of the restored running statistics (and overwrite them). Call "
                f"`{text}.eval()` after loading the weights.")


def _decided_off(module: Module, node: ast.AST, fn: ast.AST, constants: dict) -> bool:
    """Does ``node`` sit, within ``fn``, in an ``if`` arm that the call's ``constants`` rule out
    (``if mode == "train": loss.backward()`` called with "val")?"""
    child = node
    for a in module.ancestors(node):
        if a is fn:
            break
        if isinstance(a, ast.If) and (child in a.body or child in a.orelse):
            test, pol = a.test, True
            while isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
                test, pol = test.operand, not pol
            value = _guard_value(ast.unparse(test), constants)
            if value is not _UNDECIDED and bool(value) != (pol if child in a.body else not pol):
                return True
        child = a
    return False


def _frozen_copy_run_sites(module: Module, project: Project) -> Iterable[tuple[ast.Call, str, ast.AST]]:
    """``self.network = deepcopy(autoencoder.encoder)`` + ``for p in self.network.parameters():
    p.requires_grad = False`` in the constructor of a plain (non-``nn.Module``) class that then runs
    ``self.network(x)``: an inference-only copy of a BN network whose mode nothing chooses. Yields
    (the forward call, its text, the freeze)."""
    if _DELIBERATE_PATH.search(project.relative_path(module)):
        return
    for cls in module.classes:
        init = next((f for f in cls.body if isinstance(f, ast.FunctionDef) and f.name == "__init__"), None)
        if init is None or _may_be_module_class(cls, module, project) or _deliberate_train_mode(cls.name):
            continue
        for frozen in parameter_freezes(init):
            text = dotted(frozen) or ""
            attr = text[len("self."):]
            if not text.startswith("self.") or "." in attr or _GENERATOR_NAME.search(attr) or _deliberate_train_mode(attr):
                continue
            value = next((n.value for n in astwalk.walk(init) if isinstance(n, ast.Assign) and len(n.targets) == 1
                          and dotted(n.targets[0]) == text), None)
            if value is None or not _held_network_has_bn(value, init, module, project):
                continue
            if any(isinstance(c, ast.Call) and mode_call(c) is not None for c in astwalk.walk(value)):
                continue  # `deepcopy(encoder).eval()`: the mode is chosen where it is stored
            if _mode_chosen_anywhere(attr, project) or _unfrozen_or_shared(cls, text, module):
                continue
            run = next((n for f in cls.body if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef)) and f is not init
                        for n in astwalk.walk(f) if isinstance(n, ast.Call) and dotted(n.func) in (text, text + ".forward")
                        and not _training_keyword(n)), None)
            if run is not None:
                yield run, text, frozen


def _held_network_has_bn(value: ast.AST, init: ast.FunctionDef, module: Module, project: Project) -> bool:
    """Is the network the constructor stores known to hold BN: a project class / library model
    with BN built there, or a copy of (a part of) a constructor argument annotated with one?"""
    classes = _bn_classes(project)
    value = same_object_base(value)
    if isinstance(value, ast.Call) and (dotted(value.func) or "").rsplit(".", 1)[-1] in ("deepcopy", "copy") and value.args:
        value = same_object_base(value.args[0])
    if isinstance(value, ast.Call):
        q = module.qualname(value.func) or ""
        last = (dotted(value.func) or "").rsplit(".", 1)[-1]
        return bool(_BN_LIBRARY.search(q)) or (last in classes and classes.has_bn(last, module))
    head = (dotted(value) or "").split(".")[0]
    arg = next((a for a in init.args.args + init.args.kwonlyargs if a.arg == head), None)
    if arg is None or arg.annotation is None:
        return False
    cls_name = (dotted(arg.annotation) or "").rsplit(".", 1)[-1]
    return cls_name in classes and classes.has_bn(cls_name, module)


def _mode_chosen_anywhere(attr: str, project: Project) -> bool:
    """Does any code of the project call ``eval()`` / ``train()`` on an object's ``attr``
    (``embedder.network.eval()``), or run the wrapper with a mode switch of its own?"""
    for m in project.modules:
        if not m.mentions(attr):
            continue
        for c in m.calls:
            if mode_call(c.node) is not None and (dotted(c.node.func.value) or "").rsplit(".", 1)[-1] == attr:  # type: ignore[attr-defined]
                return True
    return False


def _unfrozen_or_shared(cls: ast.ClassDef, text: str, module: Module) -> bool:
    """Are the parameters switched back on (a GAN's discriminator toggle), or the network handed to
    other code (an optimizer, an EMA update, a trainer) that may train it or choose its mode?"""
    for n in astwalk.walk(cls):
        if isinstance(n, ast.Assign) and any(isinstance(t, ast.Attribute) and t.attr == "requires_grad" for t in n.targets) \
                and not (isinstance(n.value, ast.Constant) and n.value.value is False):
            return True
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr == "requires_grad_" \
                and not (n.args and isinstance(n.args[0], ast.Constant) and n.args[0].value is False):
            return True
        if isinstance(n, ast.Call) and any(dotted(a) == text for a in list(n.args) + [k.value for k in n.keywords]):
            return True  # self.network passed on (deepcopy(self.network) for a snapshot, an optimizer...)
        if isinstance(n, ast.Attribute) and n.attr in ("parameters", "named_parameters", "state_dict", "load_state_dict") \
                and dotted(n.value) == text and not _in_freeze_loop(n, module):
            return True  # its weights are read or written elsewhere (an EMA, an optimizer, a reload)
    return False


def _in_freeze_loop(n: ast.AST, module: Module) -> bool:
    for a in module.ancestors(n):
        if isinstance(a, ast.For):
            return any(isinstance(x, ast.Assign) and isinstance(x.value, ast.Constant) and x.value.value is False
                       for st in a.body for x in astwalk.walk(st))
        if isinstance(a, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            break
    return False


_HARMLESS_CALLEES = frozenset({"print", "len", "str", "repr", "type", "isinstance", "id", "hasattr", "getattr",
                               "summary", "count_parameters", "sum"})


def _scope_model_has_bn(scope: ast.AST, key: Key, module: Module, project: Project, flow: Flow) -> Optional[bool]:
    """Does the model ``key`` run in ``scope`` build BN? For a parameter of ``scope``, what its callers
    pass decides; otherwise the constructors of that name."""
    if len(key) == 1 and key[0].startswith("$") and key[0] != "$self":
        return _passed_models_have_bn(scope, key[0][1:], project, flow)
    return _model_has_bn(key, project, module)


def _passed_models_have_bn(fn: ast.AST, param: str, project: Project, flow: Flow, depth: int = 0) -> Optional[bool]:
    """What the project's calls of ``fn`` pass for ``param``: True when one passes a BN model, False
    when every one passes something without BN (a lambda, a model whose constructors build none),
    None when any cannot be told or nothing calls ``fn``."""
    fi = flow.function_info.get(id(fn))
    if fi is None:
        return None
    verdicts: list[Optional[bool]] = []
    for site, _unique in flow.callers_of(fn):
        _self, passed = call_arguments(fi, site.node)
        arg = passed.get(param)
        if arg is None:
            return None
        if isinstance(arg, ast.Lambda) or isinstance(arg, ast.Name) and _bound_to_lambda(
                arg.id, site.scope if site.scope is not None else site.module.tree):
            verdicts.append(False)  # a function of tensors, not a module
            continue
        if isinstance(arg, ast.Name):
            local = _scope_value_has_bn(arg.id, site.scope, site.module, project, flow, depth, site.node)
            if local is not _ANY_SCOPE:
                verdicts.append(local)  # type: ignore[arg-type]
                continue
        k = receiver_key(arg, {}, set())[0]
        verdicts.append(_model_has_bn(k, project, site.module) if k else None)
    if not verdicts or any(v is None for v in verdicts):
        return True if any(v is True for v in verdicts) else None
    return any(verdicts)


def _scope_value_has_bn(name: str, scope, module: Module, project: Project, flow: Flow, depth: int,
                        at: Optional[ast.AST] = None):
    """What ``name`` holds at a call in ``scope`` (a function, or None for module level), judged
    by Python's scoping: the function's own assignments to it, or, for a parameter, what its own
    callers pass (two levels). ``_ANY_SCOPE`` when the name is bound neither way there (a global
    or a closure variable: judged by the file's assignments to that name). At module level, the
    call ``at`` sees only the bindings that reach it (``_module_bindings_reaching``)."""
    if scope is not None and name in set(_params(scope)):
        return _passed_models_have_bn(scope, name, project, flow, depth + 1) if depth < 2 else None
    own = [n for n in _assignments_to(module, {name}) if module.scope_of(n) is scope]
    if scope is None and at is not None and len(own) > 1:
        own = _module_bindings_reaching(own, at, module) or own
    bound = [n for n in own if any(isinstance(t, ast.Name) and t.id == name for t in _binding_targets_of(n))]
    if not bound:
        return _ANY_SCOPE
    per_binding = {id(n): _assignment_verdicts(n, {name}, module, project) for n in own}
    verdicts = [v for n in own for v in per_binding[id(n)]]
    # a binding that builds no new object (`enc, clf = train_src(enc, clf, loader)` hands back what
    # it was given, `DataParallel(net)` wraps it) leaves the verdict to the other bindings
    renaming = sum(1 for n in bound if isinstance(same_object_base(_paired_value(n, {name})), ast.Call)
                   and not per_binding[id(n)])
    return _combine(verdicts) if len(verdicts) == len(bound) - renaming and verdicts \
        else (True if any(v is True for v in verdicts) else None)


def _module_bindings_reaching(bindings: list[ast.AST], at: ast.AST, module: Module) -> list[ast.AST]:
    """Of the module-level ``bindings`` of a name, those whose value a module-level call ``at`` may
    see: the ones above it, from the last one made directly in the module body (it replaces all
    earlier values; a notebook's or script's later ``net = OtherNet()`` has not run yet), plus the
    ones later in a module-level loop around the call (its next iteration)."""
    loops = [a for a in module.ancestors(at) if isinstance(a, LOOP_TYPES)]
    pos = (at.lineno, at.col_offset)
    above = [n for n in bindings if (n.lineno, n.col_offset) < pos]
    again = [n for n in bindings if (n.lineno, n.col_offset) > pos and any(a is lp for lp in loops for a in module.ancestors(n))]
    plain = [n for n in above if module.parent(n) is module.tree]
    if plain:
        last = max(plain, key=lambda n: (n.lineno, n.col_offset))
        above = [n for n in above if (n.lineno, n.col_offset) >= (last.lineno, last.col_offset)]
    return above + again


def _binding_targets_of(n: ast.AST) -> list[ast.AST]:
    targets = n.targets if isinstance(n, ast.Assign) else [n.target]  # type: ignore[attr-defined]
    out: list[ast.AST] = []
    for t in targets:
        out.extend(t.elts if isinstance(t, (ast.Tuple, ast.List)) else [t])
    return out


def _bound_to_lambda(name: str, scope: ast.AST) -> bool:
    """``net = lambda X: ...`` / ``net, loss = lambda X: ..., squared_loss`` in ``scope``."""
    for n in astwalk.walk(scope):
        if isinstance(n, ast.Assign) and len(n.targets) == 1:
            t, v = n.targets[0], n.value
            if isinstance(t, ast.Name) and t.id == name and isinstance(v, ast.Lambda):
                return True
            if isinstance(t, ast.Tuple) and isinstance(v, ast.Tuple) and len(t.elts) == len(v.elts):
                if any(isinstance(te, ast.Name) and te.id == name and isinstance(ve, ast.Lambda) for te, ve in zip(t.elts, v.elts)):
                    return True
    return False


def _alias_key(model_expr: ast.AST, scope, params: set[str], module: Module) -> Optional[Key]:
    """The key the mode flow gives ``model_expr`` when its head is a local alias of a parameter or an
    attribute (``model = pretrained_model.visual.cnn``), or, in a script's module body (``scope``
    None), of another module-level name (``model = srgan_generator``); None when it is no alias."""
    head = (dotted(model_expr) or "").split(".")[0]
    aliases = _local_aliases(scope.body if scope is not None else module.tree.body, params)
    if head not in aliases:
        return None
    return receiver_key(model_expr, aliases, params)[0]


def _handed_to_other_code(module: Module, owner: ast.AST, text: str) -> bool:
    """Is the model object itself passed to another call (an ignite / Lightning trainer or
    evaluator, ``accelerator.prepare``, a project helper)? That code may set its mode where the
    flow does not see it."""
    for n in astwalk.walk(owner):
        if not isinstance(n, ast.Call):
            continue
        args = list(n.args) + [k.value for k in n.keywords]
        if not any(dotted(a) == text for a in args):
            continue
        name = (dotted(n.func) or "").rsplit(".", 1)[-1]
        if name in _HARMLESS_CALLEES or (module.qualname(n.func) or "").startswith("torch."):
            continue
        # a project function too: it may keep the model in an engine or a closure that runs later
        # (ignite's create_supervised_evaluator), where the flow does not see its mode
        return True
    return False


def _identifier_parts(name: str) -> set[str]:
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name)
    return {p.lower() for p in spaced.split("_") if p}


def _deliberate_train_mode(identifier: str) -> bool:
    return bool(_DELIBERATE_SUBSTR.search(identifier) or _identifier_parts(identifier) & _DELIBERATE_PARTS)


def _identifiers(scope: ast.AST) -> set[str]:
    out = set()
    for n in astwalk.walk(scope):
        if isinstance(n, ast.Name):
            out.add(n.id)
        elif isinstance(n, ast.Attribute):
            out.add(n.attr)
        elif isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)):
            out.add(n.name)
    return out


def _sets_bn_momentum(scope: ast.AST) -> bool:
    """``m.momentum = None`` / ``bn.momentum = 1.0``: re-estimating BN statistics on purpose."""
    return any(isinstance(n, ast.Assign) and any(isinstance(t, ast.Attribute) and t.attr == "momentum" for t in n.targets)
               for n in astwalk.walk(scope))


def _loader_expr(e: ast.AST) -> bool:
    """``val_loader`` / ``self.test_dl`` / ``enumerate(testdataloader)`` / ``next(iter(valid_loader))``."""
    for n in astwalk.walk(e):
        if isinstance(n, (ast.Name, ast.Attribute)):
            name = n.id if isinstance(n, ast.Name) else n.attr
            if _EVAL_LOADER.search(name) and re.search(r"load|dl$|data|batch|set", name, re.I):
                return True
    return False


# Calls that hand back (an iterator over) their first argument's batches: a progress bar, a counter.
_PASS_THROUGH_ITERATORS = frozenset({"tqdm", "enumerate", "iter", "islice", "trange", "track", "progress_bar"})


def _bound_to_eval_loader(expr: ast.AST, loop: ast.AST, module: Module, depth: int = 0) -> bool:
    """The loop's iterable is a validation / test loader seen through local names and pass-through
    wrappers: ``batch = tqdm(test_l)`` ... ``for x, y in batch``, where ``test_l = DataLoader(test)``
    (the loader named for evaluation, or built over a dataset named so)."""
    if depth > 3:
        return False
    if isinstance(expr, ast.Call):
        head = (dotted(expr.func) or "").rsplit(".", 1)[-1]
        if head in _PASS_THROUGH_ITERATORS and expr.args:
            inner = expr.args[0]
            return _loader_expr(inner) or _bound_to_eval_loader(inner, loop, module, depth + 1)
        if head == "DataLoader":
            data = expr.args[0] if expr.args else _kw(expr, "dataset")
            return isinstance(data, (ast.Name, ast.Attribute)) and bool(_EVAL_LOADER.search(dotted(data) or "")) \
                and not re.search(r"train", dotted(data) or "", re.I)
        return False
    if not isinstance(expr, ast.Name):
        return False
    value = _value_before(expr.id, loop, module)
    if value is None:
        return False
    if isinstance(value, ast.Call) and (dotted(value.func) or "").rsplit(".", 1)[-1] == "DataLoader" \
            and _EVAL_LOADER.search(expr.id) and not re.search(r"train", expr.id, re.I):
        return True  # test_l = DataLoader(...)
    return _loader_expr(value) or _bound_to_eval_loader(value, loop, module, depth + 1)


def _value_before(name: str, node: ast.AST, module: Module) -> Optional[ast.AST]:
    """The value of the last plain assignment ``name = ...`` before ``node`` in the same scope."""
    scope = module.scope_of(node)
    best = None
    for a in _assignments_to(module, {name}):
        if not (isinstance(a, ast.Assign) and len(a.targets) == 1 and isinstance(a.targets[0], ast.Name)
                and a.targets[0].id == name and a.lineno < node.lineno and module.scope_of(a) is scope):
            continue
        if best is None or a.lineno > best.lineno:
            best = a
    return best.value if best is not None else None


def _evaluation_block(node: ast.AST, module: Optional[Module] = None) -> bool:
    """A loop over a validation/test loader, or an ``if`` block that draws a batch from one."""
    # drawing a batch needs a call of next()/__next__() or a sampling helper: other files skip the walk
    may_draw = module is None or module.mentions("next") or module.mentions("sample") or module.mentions("batch(") \
        or module.mentions("draw")
    if isinstance(node, (ast.For, ast.AsyncFor)):
        if _loader_expr(node.iter) or (may_draw and _draws_eval_batch(node.body, module)):
            return True
        if module is not None and _bound_to_eval_loader(node.iter, node, module):
            return True
        # any batch loop of a function named like an evaluation (eval_net, validate, predict)
        if module is not None:
            scope = module.scope_of(node)
            if scope is not None and _EVAL_FUNC.search(scope.name) and not is_unit_test(module, scope) \
                    and not any(isinstance(a, LOOP_TYPES) for a in module.ancestors(node) if a is not scope and _inside(module, a, scope)):
                return True
        return False
    if isinstance(node, ast.If) and module is not None and may_draw and any(isinstance(a, LOOP_TYPES) for a in module.ancestors(node)):
        # periodic validation inside the training loop: `if i % 10 == 0: x = next(iter(test_loader))`
        return _draws_eval_batch(node.body, module)
    return False


def _draws_eval_batch(stmts, module: Optional[Module] = None) -> bool:
    """``next(iter(test_loader))`` / ``test_loader.__iter__().next()`` somewhere in ``stmts``."""
    if module is not None:  # the module's draws are found once; a statement holds one if it encloses it
        enclosing = _statements_drawing_eval_batches(module)
        return any(id(st) in enclosing for st in stmts)
    return any(_is_eval_batch_draw(n) for st in stmts for n in astwalk.walk(st) if isinstance(n, ast.Call))


# ``sample_random_batch(test_dset, 16)`` / ``get_batch(val_data)``: a helper that draws a batch from
# the evaluation data it is given.
_BATCH_DRAW_NAME = re.compile(r"sample|batch|draw", re.I)


def _is_eval_batch_draw(n: ast.Call) -> bool:
    if isinstance(n.func, ast.Name) and n.func.id == "next" and n.args and _loader_expr(n.args[0]):
        return True
    if isinstance(n.func, ast.Attribute) and n.func.attr in ("next", "__next__") and _loader_expr(n.func.value):
        return True
    name = n.func.id if isinstance(n.func, ast.Name) else n.func.attr if isinstance(n.func, ast.Attribute) else ""
    return bool(n.args) and bool(_BATCH_DRAW_NAME.search(name)) and _loader_expr(n.args[0])


_EVAL_DRAWS: "weakref.WeakKeyDictionary[Module, frozenset]" = weakref.WeakKeyDictionary()


def _statements_drawing_eval_batches(module: Module) -> frozenset:
    """Ids of the nodes that enclose a draw of an evaluation batch in ``module`` (from its call
    index: no walk of every loop body, which nested loops made quadratic)."""
    found = _EVAL_DRAWS.get(module)
    if found is None:
        ids: set[int] = set()
        for c in module.calls:
            if (c.name in ("next", "__next__") or c.name and _BATCH_DRAW_NAME.search(c.name)) and _is_eval_batch_draw(c.node):
                ids.update(id(a) for a in module.ancestors(c.node))
        found = _EVAL_DRAWS[module] = frozenset(ids)
    return found


def _inside(module: Module, node: ast.AST, scope: ast.AST) -> bool:
    return any(a is scope for a in module.ancestors(node))


_PHASE_TRAIN_WORDS = frozenset({"train", "training"})
_PHASE_EVAL_WORDS = frozenset({"val", "valid", "validation", "eval", "evaluation", "test", "dev"})


def _phase_names(iterable: ast.AST, module: Module) -> bool:
    """Is ``iterable`` a literal list / tuple of phase names with a training phase and an evaluation
    phase (``["train", "val"]``, ``("train", "test")``), written there or bound to a name once?"""
    if isinstance(iterable, ast.Name):
        scope = module.scope_of(iterable) or module.tree
        bound = [n.value for n in single_name_assignments(scope).get(iterable.id, ())]
        if len(bound) != 1:
            return False
        iterable = bound[0]
    if not isinstance(iterable, (ast.List, ast.Tuple)):
        return False
    words = {e.value.lower() for e in iterable.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)}
    return len(words) == len(iterable.elts) and bool(words & _PHASE_TRAIN_WORDS) and bool(words & _PHASE_EVAL_WORDS)


# Parameters that tell a step function which phase it runs (``phase``, ``mode``, ``split``).
_PHASE_PARAM = re.compile(r"^(phase|mode|split|stage|subset|run_type|step_type)$", re.I)


def _tests_name(node: ast.AST, name: str) -> bool:
    """Is ``node`` an ``if`` whose test reads ``name`` (``if phase == "train":``)?"""
    return isinstance(node, ast.If) and any(isinstance(v, ast.Name) and v.id == name for v in astwalk.walk(node.test))


def _phase_arms(module: Module, node: ast.AST, phase: str, fn: ast.AST) -> list[tuple[ast.If, list]]:
    """(``if``, arm) for each ``if`` on ``phase`` in ``fn`` that holds ``node``, innermost first: the
    arm is the statement list (body or orelse) ``node`` sits in."""
    out = []
    child = node
    for a in module.ancestors(node):
        if a is fn:
            break
        if _tests_name(a, phase):
            if child in a.body:
                out.append((a, a.body))
            elif child in a.orelse:
                out.append((a, a.orelse))
        child = a
    return out


def _opposite_phase_arms(module: Module, a: ast.AST, b: ast.AST, phase: str, fn: ast.AST) -> bool:
    """Do ``a`` and ``b`` sit in different arms of one ``if`` on ``phase`` (never run together)?"""
    arm_of_b = {id(test): arm for test, arm in _phase_arms(module, b, phase, fn)}
    return any(id(test) in arm_of_b and arm_of_b[id(test)] is not arm for test, arm in _phase_arms(module, a, phase, fn))


def _unconditional_nodes(stmt: ast.AST):
    """The nodes of a function-body statement that run on every call: not those under an ``if``,
    a loop, a ``try`` handler or a nested function."""
    todo = [stmt]
    while todo:
        n = todo.pop()
        if isinstance(n, (ast.If, ast.For, ast.AsyncFor, ast.While, ast.Try, ast.FunctionDef, ast.AsyncFunctionDef,
                          ast.Lambda, ast.ClassDef, ast.IfExp, ast.BoolOp)):
            continue
        yield n
        todo.extend(ast.iter_child_nodes(n))


def _training_only_in_phase(loop: ast.For, phase: str) -> bool:
    """Does the phase loop train (backward / optimizer step) only under a test of ``phase``, so that
    the other phases are evaluation passes?"""
    trains = [n for n in astwalk.walk(loop) if _is_training_call(n)]
    if not trains:
        return False
    # the phase itself, or a name computed from it in the loop (``is_train = phase == "train"``)
    phase_names = {phase} | {t.id for n in astwalk.walk(loop) if isinstance(n, ast.Assign)
                             and any(isinstance(x, ast.Name) and x.id == phase for x in astwalk.walk(n.value))
                             for t in n.targets if isinstance(t, ast.Name)}
    guarded = set()
    for n in astwalk.walk(loop):
        if isinstance(n, ast.If) and any(isinstance(x, ast.Name) and x.id in phase_names for x in astwalk.walk(n.test)):
            guarded.update(id(x) for stmt in n.body for x in astwalk.walk(stmt))
    return all(id(t) in guarded for t in trains)


def _is_training_call(n: ast.AST) -> bool:
    """``loss.backward()`` or an optimizer step."""

    return isinstance(n, ast.Call) and (isinstance(n.func, ast.Attribute) and n.func.attr == "backward"
                                        or is_optimizer_step(n))


def _has_training_call(node: ast.AST) -> bool:
    return any(_is_training_call(n) for n in astwalk.walk(node))


def _in_program(project: Project, module: Optional[Module], key: str, module_has) -> bool:
    """Does a module of ``module``'s program (modules connected to it by imports; the whole project
    when ``module`` is None) satisfy ``module_has``? The set of such modules is computed once."""
    found = project.fact(key, lambda p: {id(m) for m in p.modules if module_has(m)})
    return bool(found & project.import_component(module)) if module is not None else bool(found)


def _drops_running_stats(m: Module) -> bool:
    for n in m.nodes_of_kind.get(ast.Assign, ()):  # indexed by Module: no walk of every tree
        if isinstance(n.value, ast.Constant) and n.value.value in (False, None):
            if any(isinstance(t, ast.Attribute) and t.attr in ("track_running_stats", "running_mean") for t in n.targets):
                return True
    return False


def _project_drops_running_stats(project: Project, module: Optional[Module] = None) -> bool:
    """``m.track_running_stats = False`` / ``m.running_mean = None`` somewhere (TENT, AdaBN): in a
    module connected to ``module`` by imports (another script of an examples folder says nothing)."""
    return _in_program(project, module, "torch.drops_running_stats", _drops_running_stats)


def _named_references(part: ast.AST, m: Module) -> Iterator[tuple[ast.AST, str, str]]:
    """The calls, names and attributes under ``part`` with their qualified and last names; a call's
    callee is not listed on its own (it is judged with the call)."""
    for n in astwalk.walk(part):
        if not isinstance(n, (ast.Call, ast.Name, ast.Attribute)):
            continue
        if not isinstance(n, ast.Call) and isinstance(m.parent(n), ast.Call) and m.parent(n).func is n:
            continue
        target = n.func if isinstance(n, ast.Call) else n
        yield n, m.qualname(target) or "", (dotted(target) or "").rsplit(".", 1)[-1]


def _last_batch_bn_only(m: Module) -> Optional[bool]:
    """Does every BatchNorm ``m`` builds keep only the current batch's statistics (``momentum=1``:
    the running buffers are overwritten by each batch) or none (``track_running_stats=False``)?
    None when ``m`` names no BatchNorm; False when one may keep a running average (another
    momentum, a class named without being built here, a subclass, a library BN model, a momentum
    assigned later, functional batch_norm)."""
    functional = any((c.qualname or "") in F_BATCH_NORM for c in m.calls)
    if not (m.mentions("BatchNorm") or functional or any(_BN_LIBRARY.search(c.qualname or "") for c in m.calls)):
        return None
    if not (m.mentions("momentum") or m.mentions("track_running_stats")) or functional:
        return False
    if any(isinstance(n, ast.Assign) and any(isinstance(t, ast.Attribute) and t.attr == "momentum" for t in n.targets)
           for n in m.assignments):
        return False  # ``bn.momentum = 0.1`` set later: the construction does not decide
    seen = False
    for n, q, last in _named_references(m.tree, m):
        if q and _BN_LIBRARY.search(q):
            return False
        if not (q in BN_CLASSES or "BatchNorm" in last) or _type_test_operand(n, m):
            continue  # not a BN, or ``isinstance(m, nn.BatchNorm2d)``
        if q.split(".", 1)[0] in _NON_TORCH_BN_ROOTS or not isinstance(n, ast.Call):
            return False
        mom, track = _bn_constructor_args(n)
        if isinstance(track, ast.Constant) and track.value is False:
            seen = True
        elif isinstance(mom, ast.Constant) and not isinstance(mom.value, bool) and mom.value == 1:
            seen = True
        else:
            return False
    return True if seen else None


def _program_keeps_no_running_average(project: Project, module: Module) -> bool:
    """The transductive BatchNorm of few-shot / MAML code (Relation Networks): every BN of the
    program is built with ``momentum=1`` (or ``track_running_stats=False``) and nothing in the program
    ever puts a model in eval mode. The running buffers then hold the last batch only and are never
    read: every pass, evaluation included, normalises with its own batch statistics by design."""
    memo = project.facts.setdefault("torch.keeps_no_running_average", {})  # type: ignore[arg-type]
    component = project.import_component(module)
    if component not in memo:  # type: ignore[operator]
        verdicts = []
        modules = _program_modules(project, module)
        for m in modules:
            v = _last_batch_bn_only(m)
            verdicts.append(v)
            if v is False:
                break
        memo[component] = any(v is True for v in verdicts) and not any(v is False for v in verdicts) and not any(  # type: ignore[index]
            c.name in ("eval", "train") and isinstance(c.node.func, ast.Attribute) and (
                c.name == "eval" and not c.node.args and not c.node.keywords
                or c.name == "train" and any(not (isinstance(a, ast.Constant) and a.value is True)
                                             for a in [*c.node.args, *(k.value for k in c.node.keywords)]))
            for m in modules for c in m.calls)
    return memo[component]  # type: ignore[index]


def _program_bn_keeps_no_running_average(project: Project, module: Module) -> bool:
    """Is every BatchNorm the program builds one with ``track_running_stats=False`` (or
    ``momentum=1``)? Then train and eval mode normalise alike and nothing is folded into statistics
    that are ever read (ENAS's shared CNN)."""
    memo = project.facts.setdefault("torch.bn_keeps_no_running_average", {})  # type: ignore[arg-type]
    component = project.import_component(module)
    if component not in memo:  # type: ignore[operator]
        verdicts = []
        for m in _program_modules(project, module):
            verdicts.append(_last_batch_bn_only(m))
            if verdicts[-1] is False:
                break
        memo[component] = any(v is True for v in verdicts) and not any(v is False for v in verdicts)  # type: ignore[index]
    return memo[component]  # type: ignore[index]


def _program_modules(project: Project, module: Optional[Module]) -> list[Module]:
    """The modules of ``module``'s program (its import component); every module when unknown. Where a
    model is built is looked up there: another script's ``model = Net()`` in the same folder says
    nothing about this one's ``model``."""
    if module is None:
        return project.modules
    component = project.import_component(module)
    return [m for m in project.modules if id(m) in component]


_EVAL_HELPER = re.compile(r"(^|_)eval(_|$)|eval_?mode|set_?eval|to_?eval|inference_?mode|evaluating|^val_start$|test_mode", re.I)
_MODE_SETTER = re.compile(r"(^|_)(mode|phase)$", re.I)


def _eval_helper_before(scope, module: Module, key: Key, call: ast.AST) -> bool:
    """``with eval_mode(model):`` / ``model.set_eval()`` / ``set_mode(model, "eval")`` from a library:
    a mode switch we cannot see into. Count it as eval()."""
    owner = scope if scope is not None else module.tree
    for n in _eval_helper_calls(owner):
        if getattr(n, "lineno", 0) > call.lineno or n is call:
            continue
        objs = list(n.args) + ([n.func.value] if isinstance(n.func, ast.Attribute) else [])
        if any(same_object(receiver_key(o, {}, set())[0], key) for o in objs if isinstance(o, (ast.Name, ast.Attribute))):
            return True
    return False


@per_node
def _eval_helper_calls(owner: ast.AST) -> list[ast.Call]:
    """The mode-switch helper calls in ``owner`` (one walk per function, not one per call checked)."""
    out = []
    for n in astwalk.walk(owner):
        if not isinstance(n, ast.Call):
            continue
        name = (dotted(n.func) or "").rsplit(".", 1)[-1]
        strings = [a.value for a in n.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
        # ``set_mode("eval")``, and a trainer's ``self.set_model_mode("eval")`` (Dassl) from a base class
        # the project does not hold
        if not (_EVAL_HELPER.search(name) or _MODE_SETTER.search(name) and any(
                x in ("eval", "val", "test", "valid", "inference") for x in strings)):
            continue
        if name == "eval" and not n.args:
            continue  # a plain x.eval() is already an event
        out.append(n)
    return out


def _mode_set_around(module: Module, region: ast.AST, scope, events: list[Event], key: Key, call: ast.AST) -> bool:
    """May an eval() reach the region (before it, or later in an enclosing loop), or does the code
    choose train mode on purpose (train() inside the region, or anywhere in an evaluation function)?"""
    if _eval_helper_before(scope, module, key, call):
        return True
    start, end = region.lineno, region.end_lineno or region.lineno
    loops = [a for a in module.ancestors(region) if isinstance(a, LOOP_TYPES)]
    eval_named = scope is not None and _EVAL_FUNC.search(scope.name)
    # ``model.eval(); validate(model)`` with validate() ending in ``model.train()``: the switches before
    # that helper call no longer hold, and its train() is no mode chosen for this pass
    restored = _restored_to_train(events, key, start) is not None
    for e in events:
        if not same_object(e.key, key):
            continue
        line = getattr(e.sites[0][1], "lineno", 0)
        if restored and line < start:
            continue
        if e.kind == "eval":
            if line < start or line < call.lineno or not restored and any(lp in loops for lp in e.loops):
                return True
        elif e.kind == "train" and not e.fresh:  # a newly built model is not a mode chosen for the pass
            if line < start and _training_switch_copied_into_evaluation(module, region, scope, events, e, key):
                continue
            if start <= line <= end or eval_named:
                return True
            if line < start and not any(x.kind == "step" and line <= getattr(x.sites[0][1], "lineno", 0) < start for x in events):
                return True  # train() chosen right before the pass (AdaBN, recalibration): on purpose
    return False


_SAMPLING_WORDS = re.compile(r"dropout|purpose|deliberat|intention|\bmc\b|mc_|uncertain|stochastic|sampl|bayes|"
                             r"ensemble|adapt|calib|batch ?norm|\bbn\b|statistic", re.I)


def _line_comment(module: Module, node: ast.AST) -> str:
    line = module.lines[node.lineno - 1] if 0 < node.lineno <= len(module.lines) else ""
    return line.split("#", 1)[1] if "#" in line else ""


def _training_switch_copied_into_evaluation(module: Module, region: ast.AST, scope, events: list[Event], train: Event,
                                            key: Key) -> bool:
    """``def evaluate(model, loader): model.train(); with torch.no_grad(): ...`` — a train() written by
    this function itself, unconditionally, right before a pass that is an evaluation (the function is
    named for one, or the pass runs over a validation / test loader), with nothing after the pass
    putting the model in eval mode: the first line of a training function copied into the
    evaluation (u-2-net's demo, PointMVSNet's test). A train-mode pass that re-estimates the
    statistics on purpose is followed by eval() (AdaBN, recalibration), sits under a test about
    sampling or adaptation, or runs over training data."""
    if len(train.sites) != 1 or train.loops or any(_CHOSEN_TRAIN_MODE.search(test) for test, _ in train.guards):
        return False
    if scope is None or not (_EVAL_FUNC.search(scope.name) or _evaluation_block(region, module)
                             or any(_evaluation_block(n, module) for n in astwalk.walk(region) if isinstance(n, (ast.For, ast.AsyncFor)))):
        return False
    if _SAMPLING_WORDS.search(scope.name) or _SAMPLING_WORDS.search(_line_comment(module, train.node)):
        return False  # ``predict_with_uncertainty``, ``net.train()  # keep dropout on``: MC sampling on purpose
    if any(isinstance(n, (ast.For, ast.comprehension)) and isinstance(n.iter, ast.Call)
           and (dotted(n.iter.func) or "") == "range" for n in astwalk.walk(region)):
        return False  # the same input run again and again: sampling (MC dropout), not a pass over data
    if any(isinstance(n, (ast.For, ast.AsyncFor)) and re.search(r"train", ast.unparse(n.iter), re.I)
           for n in astwalk.walk(region)):
        return False  # a pass over training data in train mode: re-estimating the statistics
    end = region.end_lineno or region.lineno
    return not any(x.kind == "eval" and same_object(x.key, key) and getattr(x.sites[0][1], "lineno", 0) > end
                   for x in events)


# Monte-Carlo dropout, in identifiers (``mc_samples``, ``predict_with_uncertainty``) and comments
# (``model.train()  # keep dropout on``).
_MC_IDENTIFIER = re.compile(r"dropout|monte_?carlo|uncertain|bayes|epistemic|aleatoric|(^|_|\b)mcd?(_|$|\b|[A-Z0-9])", re.I)
_MC_COMMENT = re.compile(r"dropout|monte|carlo|uncertain|bayes|epistemic|\bmcd?\b", re.I)
# Recalibration / adaptation names: train mode for the BN statistics themselves (not MC dropout words).
_DELIBERATE_BN_SUBSTR = re.compile(
    r"update_bn|bn_update|precise_?bn|recalib|calibrat|adabn|bn_?stat|batch_?stat|running_stat|reset_running|"
    r"track_running_stats", re.I)
_DELIBERATE_BN_PARTS = {"tent", "tta", "adapt", "adaptation", "adaptive", "recalibrate", "swa"}


def _deliberate_bn_name(identifier: str) -> bool:
    return bool(_DELIBERATE_BN_SUBSTR.search(identifier) or _identifier_parts(identifier) & _DELIBERATE_BN_PARTS)


def _literal_train(call: ast.Call) -> bool:
    """``x.train()`` / ``x.train(True)``: train mode for sure."""
    args = call.args + [k.value for k in call.keywords]
    return not args or (len(args) == 1 and isinstance(args[0], ast.Constant) and args[0].value is True)


@per_node
def _restores_bn_state(fn: ast.AST) -> bool:
    """Does the function save / restore the model's state or handle BN itself (``state_dict()``,
    ``deepcopy``, a BatchNorm test, ``momentum`` / ``track_running_stats`` / running statistics)?"""
    for n in astwalk.walk(fn):
        name = n.attr if isinstance(n, ast.Attribute) else n.id if isinstance(n, ast.Name) else None
        if name and (name in ("state_dict", "load_state_dict", "deepcopy", "momentum", "track_running_stats",
                              "running_mean", "running_var") or "BatchNorm" in name or "batchnorm" in name.lower()):
            return True
    return False


def _eval_call_between(fn: ast.AST, start: int, end: int) -> bool:
    return any(isinstance(n, ast.Call) and mode_call(n) == "eval" and start < n.lineno <= end for n in astwalk.walk(fn))


def _mc_sampling_call(module: Module, project: Project, fn: ast.AST, t: Event) -> Optional[ast.Call]:
    """The first run of ``t``'s model after the train() in ``fn`` that is a sampling pass: repeated
    over a ``range()`` (a loop or a comprehension), or under no_grad / inference_mode."""
    decorated = any(_no_grad_ctx(d, module) for d in fn.decorator_list)  # type: ignore[attr-defined]
    for call, model_expr in sorted(_model_calls(fn, module, project), key=lambda c: (c[0].lineno, c[0].col_offset)):
        if call.lineno <= t.node.lineno or dotted(model_expr) != t.text:
            continue
        repeated = no_grad = decorated
        for a in module.ancestors(call):
            if a is fn:
                break
            if isinstance(a, (ast.For, ast.AsyncFor, ast.ListComp, ast.GeneratorExp, ast.SetComp, ast.DictComp)):
                iters = [a.iter] if isinstance(a, (ast.For, ast.AsyncFor)) else [g.iter for g in a.generators]
                repeated = repeated or any(isinstance(i, ast.Call) and dotted(i.func) in ("range", "trange") for i in iters)
            if isinstance(a, (ast.With, ast.AsyncWith)) and any(_no_grad_ctx(i.context_expr, module) for i in a.items):
                no_grad = True
        if repeated or no_grad:
            return call
    return None


def _mc_dropout_evidence(module: Module, fn: ast.AST, t: Event) -> bool:
    """Is this train() for Monte-Carlo dropout: said by the function's name or identifiers, or by a
    comment on (or right above) the train() line?"""
    comments = _line_comment(module, t.node)
    above = module.lines[t.node.lineno - 2].strip() if t.node.lineno >= 2 else ""
    if above.startswith("#"):
        comments += " " + above
    if _MC_COMMENT.search(comments):
        return True
    return any(_MC_IDENTIFIER.search(n) for n in _identifiers(fn) | {fn.name})  # type: ignore[attr-defined]


def _mc_model_has_bn(module: Module, project: Project, flow: Flow, fn: ast.AST, t: Event, run: ast.Call) -> Optional[bool]:
    key = t.key
    if key == ("$self",):
        return _module_class_with_bn(module, run, project)
    if key and len(key) == 1 and key[0].startswith("$"):
        return _passed_models_have_bn(fn, key[0][1:], project, flow)
    return _model_has_bn(key, project, module)


# Conditions under which train mode inside an evaluation is chosen on purpose.
_CHOSEN_TRAIN_MODE = re.compile(r"dropout|mc|sampl|stochastic|uncertain|bayes|tta|adapt|train|calib|bn", re.I)


def _eval_undone_in_region(module: Module, region: ast.AST, events: list[Event], key: Key, call: ast.AST):
    """``model.eval()`` before an evaluation region, then ``model.train()`` inside it before the
    forward pass (a line copied from the training loop): the pass runs in train mode. Returns that
    train() event, or None. Only a switch of this function itself counts (not one inside a helper)."""
    start = region.lineno
    mine = [e for e in events if same_object(e.key, key) and not e.fresh and len(e.sites) == 1
            and e.kind in ("eval", "train")]
    before_call = [e for e in mine if getattr(e.node, "lineno", 0) <= call.lineno]
    if not before_call:
        return None
    last = max(before_call, key=lambda e: (e.node.lineno, e.node.col_offset))
    if last.kind != "train" or last.node.lineno < start \
            or any(_CHOSEN_TRAIN_MODE.search(test) for test, _ in last.guards):
        return None  # a train() under a condition about sampling (`if mc_dropout:`) is a choice
    if not any(e.kind == "eval" and e.node.lineno < last.node.lineno for e in mine):
        return None
    return last


def _helper_of_training_steps(module: Module, scope, project: Project, flow: Flow) -> bool:
    """Is ``scope`` (``@torch.no_grad() def _compute_targets(self, x)``) called by the project only
    from training steps, each call unconditional and at the loop level where the caller steps an
    optimizer (``keys = self._compute_keys(x)`` before ``self.manual_backward(loss)`` and the
    optimizer step)? Then its pass is part of the step, like a no_grad block written in the step
    itself (a target / teacher network). Not a function named for evaluation, and not one called
    under a condition (a periodic evaluation inside the training loop)."""
    if scope is None or _EVAL_FUNC.search(scope.name):
        return False
    sites = [site for site, _unique in flow.callers_of(scope)]
    if not sites:
        return False
    for site in sites:
        if site.scope is None or site.scope is scope or any(
                isinstance(a, (ast.If, ast.IfExp, ast.Try)) for a in site.module.ancestors_until(site.node, site.scope)):
            return False
        if not _in_training_step(site.module, site.node, site.scope, flow.summary(site.scope)):
            return False
    return True


def _in_training_step(module: Module, region: ast.AST, scope, events: list[Event]) -> bool:
    """Does an optimizer step run at the same loop level as the region (same iteration)?"""
    region_loop = None
    for a in module.ancestors(region):
        if a is scope:
            break
        if isinstance(a, LOOP_TYPES):
            region_loop = a
            break
    for e in events:
        if e.kind != "step":
            continue
        inner = e.loops[-1] if e.loops else None
        if inner is region_loop or (region_loop is None and scope is not None and not e.loops):
            return True
    return False


_MODEL_NAME = re.compile(r"model|net|encoder|classifier|backbone|cnn|resnet|regressor|detector|segmentor|segmenter|vgg", re.I)
# (accelerate / engine accessors that take a model and hand it back: ``unwrap_model(m)``, ``prepare_model(m)``)
# (``set_model_mode("eval")`` / ``model_mode(...)``: a trainer's mode setter, not a forward pass)
_NOT_MODEL_NAME = re.compile(r"loss|criterion|metric|save|load|get|build|create|make|eval|test|valid|step|update|lr|"
                             r"transform(?!er)|callback|process|wrap|prepare|(^|_)to_|convert|export|summar|"
                             r"(^|_)set_|(^|_)mode(_|$)", re.I)
# ``model_fn(model, x)`` / ``forward_func(net, batch)``: a function applied to a model, not a model
_FUNCTION_NAME = re.compile(r"(^|_)(fn|func|function|callable|closure|hook)$|^(fn|func)_", re.I)


def _model_calls(region: ast.AST, module: Module, project: Project) -> list[tuple[ast.Call, ast.AST]]:
    """Calls that run a module, with the expression naming that module: ``model(x)``, ``self.net(x)``,
    ``model.forward(x)``; ``model_fn(model, x)`` (a callable parameter given the model: the model
    argument); ``self._forward_pass(x)`` (a method of the class that runs ``self.model(x)``)."""
    out: list[tuple[ast.Call, ast.AST]] = []
    for n in astwalk.walk(region):
        if not isinstance(n, ast.Call) or _training_keyword(n):
            continue
        f = n.func
        if isinstance(f, ast.Attribute) and f.attr == "forward":
            if isinstance(f.value, ast.Name) and f.value.id == "self" and not _may_be_module_class(
                    module.enclosing_class(n), module, project):
                # an evaluator / solver object whose forward() runs the real network: that one
                inner = _helper_model_call(n, module, project)
                if inner is not None:
                    out.append((n, inner))
                continue
            out.append((n, f.value))
            continue
        if not isinstance(f, (ast.Name, ast.Attribute)) or module.qualname(f):
            continue
        last = (dotted(f) or "").rsplit(".", 1)[-1]
        if last[:1].isupper():
            continue  # a constructor, not a forward pass
        if isinstance(f, ast.Name) and _project_function_here(last, module, project):
            continue  # a project function (a generator, a helper), not a module
        if _FUNCTION_NAME.search(last) or (isinstance(f, ast.Name) and _callable_parameter(module, n, f.id)):
            model_arg = next((a for a in n.args if isinstance(a, (ast.Name, ast.Attribute))
                              and _MODEL_NAME.search((dotted(a) or "").rsplit(".", 1)[-1])), None)
            if model_arg is not None:
                out.append((n, model_arg))  # the model it is given is what runs
            continue
        if _MODEL_NAME.search(last) and not _NOT_MODEL_NAME.search(last) and not _own_method(module, n, f, project):
            out.append((n, f))
            continue
        if isinstance(f, ast.Name):
            listed = _iterated_models(f.id, n, module)
            if listed is not None:
                out.append((n, listed))  # [m(x) for m in members]: each member of the ensemble runs
                continue
        inner = _helper_model_call(n, module, project)
        if inner is not None:
            out.append((n, inner))
            continue
        if isinstance(f, ast.Name) and f.id == "self" and _module_class_with_bn(module, n, project):
            out.append((n, f))  # self(x) in a method of a BN model (its own evaluate / predict)
        elif (isinstance(f, ast.Name) or isinstance(f.value, ast.Name) and f.value.id == "self") \
                and _built_as_bn_module(last, project, module):
            out.append((n, f))  # self.feature(x) / unet(x), where the object is built as a BN model
        elif isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) and f.value.id == "self" \
                and not _NOT_MODEL_NAME.search(last) and not _own_method(module, n, f, project) \
                and last in _trained_names(project, module):
            out.append((n, f))  # self.phi(x) where an optimizer of this program trains phi's parameters
    out.sort(key=lambda c: (c[0].lineno, c[0].col_offset))
    return out


def _own_method(module: Module, call: ast.Call, f: ast.AST, project: Optional[Project] = None) -> bool:
    """``self.build_model_input(x)`` / ``cls.extract_embedder_from_model(model)``: a method of the
    enclosing class (or, with ``project``, of a project base class it inherits from:
    ``self.set_model_mode("eval")`` of a trainer base), not a sub-module run forward."""
    if not (isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) and f.value.id in ("self", "cls")):
        return False
    # (a ``@property`` returning a sub-module is run forward: not counted)
    return any(isinstance(b, (ast.FunctionDef, ast.AsyncFunctionDef)) and b.name == f.attr
               and not any((dotted(d) or "").endswith("property") for d in b.decorator_list)
               for c, _m in _lineage(module.enclosing_class(call), module, project, limit=6) for b in c.body)


_MODEL_LIST_NAME = re.compile(r"(models|nets|networks|members|ensemble|learners|experts|estimators|classifiers|"
                              r"encoders|backbones)$", re.I)


def _iterated_models(name: str, call: ast.Call, module: Module) -> Optional[ast.AST]:
    """``m`` in ``for m in members: m(x)`` / ``[m(x) for m in models]``: the list it runs over when
    that is named as a list of models (an ensemble); None otherwise."""
    for anc in module.ancestors(call):
        gens = anc.generators if isinstance(anc, (ast.ListComp, ast.GeneratorExp, ast.SetComp, ast.DictComp)) \
            else [anc] if isinstance(anc, (ast.For, ast.AsyncFor)) else []
        for g in gens:
            if isinstance(g.target, ast.Name) and g.target.id == name:
                it = g.iter
                last = (dotted(it) or "").rsplit(".", 1)[-1] if isinstance(it, (ast.Name, ast.Attribute)) else ""
                return it if last and _MODEL_LIST_NAME.search(last) else None
        if isinstance(anc, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            return None
    return None


def _project_function_here(name: str, module: Module, project: Project) -> bool:
    """Can ``name(...)`` in ``module`` call a project function: one defined there or imported from
    another module (any, behind a star import)? A same-named function of an unrelated script cannot."""
    functions = project.functions(name)
    if functions and _star_imports(module):
        return True
    return any(fi.cls is None and (fi.module is module or name in module.imports.aliases) for fi in functions)


def _may_be_module_class(cls: Optional[ast.ClassDef], module: Module, project: Project, depth: int = 0) -> bool:
    """Can instances of ``cls`` be ``nn.Module``s? Not for a plain class (no base, ``object``) whose
    project bases are plain too; a library base other than torch's may be one."""
    if cls is None or depth > 5:
        return True
    for b in cls.bases:
        q = module.qualname(b) or dotted(b) or ""
        if q in PLAIN_BASES:
            continue  # class M(object): / (ABC): a plain class, like one with no base
        last = (dotted(b) or "").rsplit(".", 1)[-1]
        defs = [(d, m) for d, m in _bn_classes(project)._candidates(last, module)[0] if isinstance(d, ast.ClassDef)]
        if not defs:
            return True  # torch.nn.Module, a library class, or something we cannot see
        if any(_may_be_module_class(d, m, project, depth + 1) for d, m in defs):
            return True
    return False


def _built_as_bn_module(name: str, project: Project, module: Module) -> bool:
    """Is every value this module assigns to ``name`` (``unet = UNet()``, ``self.feature = ...``) an
    ``nn.Module`` that builds BN: a torch.nn container or BN layer, a library model with BN, or a
    project class with a ``forward`` (and at least one of them builds BN)?"""
    memo = project.facts.setdefault("torch.built_as_bn_module", {})  # type: ignore[arg-type]
    memo_key = (name, id(module))
    if memo_key not in memo:  # type: ignore[operator]
        classes = _bn_classes(project)
        values = [same_object_base(n.value) for n in _assignments_to(module, {name})]

        def is_module(v: ast.AST) -> bool:
            if not isinstance(v, ast.Call):
                return False
            q = module.qualname(v.func) or ""
            if q.startswith("torch.nn.") or _BN_LIBRARY.search(q):
                return True
            defs, _ = classes._candidates((dotted(v.func) or "").rsplit(".", 1)[-1], module)
            return bool(defs) and all(isinstance(d, ast.ClassDef) and _defines_forward(d) for d, _m in defs)
        memo[memo_key] = bool(values) and all(map(is_module, values)) \
            and _model_has_bn((name,), project, module) is True  # type: ignore[index]
    return memo[memo_key]  # type: ignore[index]


def _module_class_with_bn(module: Module, node: ast.AST, project: Project) -> bool:
    """Is ``node`` in a method of a project class that has a ``forward`` (an ``nn.Module``) and
    builds BatchNorm?"""
    cls = module.enclosing_class(node)
    if cls is None or not _defines_forward(cls) or not _may_be_module_class(cls, module, project):
        return False
    return _bn_classes(project).has_bn(cls.name, module)


def _handed_in_by_unseen_builder(module: Module, node: ast.AST, attr: str, project: Project) -> bool:
    """``self.<attr>`` in a method of a class whose ``__init__`` (its own or a project base's) stores a
    constructor parameter under that name (``self.model = model``), when neither the class nor any
    project subclass is built or referred to anywhere in the project (an API object, or one built
    from a config file): the model is whatever its builder passes, in the mode that code chooses,
    like a parameter of a function nothing calls."""
    cls = module.enclosing_class(node)
    if cls is None or not _class_never_used(cls.name, project):
        return False
    for c, _m in _lineage(cls, module, project, limit=4):
        init = next((f for f in c.body if isinstance(f, ast.FunctionDef) and f.name == "__init__"), None)
        if init is not None:
            params = {a.arg for a in init.args.args[1:] + init.args.kwonlyargs}
            stores = [n for n in astwalk.walk(init) if isinstance(n, ast.Assign) and any(
                isinstance(t, ast.Attribute) and t.attr == attr and isinstance(t.value, ast.Name) and t.value.id == "self"
                for t in n.targets)]
            if stores:
                return all(isinstance(n.value, ast.Name) and n.value.id in params for n in stores)
    return False


def _property_target(module: Module, expr: ast.AST, project: Project) -> Key:
    """``self.model`` where the class (or a project base class) defines ``@property def model(self):
    return self._model._model``: the key of what the property returns (``("_model", "_model")``)."""
    d = dotted(expr) or ""
    parts = d.split(".")
    if len(parts) < 2 or parts[0] != "self":
        return None
    for c, _m in _lineage(module.enclosing_class(expr), module, project):
        for f in c.body:
            if isinstance(f, ast.FunctionDef) and f.name == parts[1] \
                    and any((dotted(dec) or "") == "property" for dec in f.decorator_list):
                body = [st for st in f.body if not (isinstance(st, ast.Expr) and isinstance(st.value, ast.Constant))]
                if len(body) == 1 and isinstance(body[0], ast.Return) and body[0].value is not None:
                    target = dotted(body[0].value) or ""
                    if target.startswith("self.") and target.split(".")[1] != parts[1]:
                        key, _ = receiver_key(body[0].value, {}, set())
                        return key + tuple(p for p in parts[2:] if p != "module") if key is not None else None
                return None
    return None


def _own_class_without_bn(module: Module, node: ast.AST, project: Project) -> bool:
    """``self(x)`` in a method of a project ``nn.Module`` class whose whole body is visible and
    builds no BatchNorm: not through its bases or the classes it uses, not by a choice made at run
    time, not through a module handed to its ``__init__`` and stored (``self.body = body``), and no
    project subclass adds one (``self`` may be an instance of a subclass)."""
    cls = module.enclosing_class(node)
    if cls is None or not _is_module_class(cls, module, project):
        return False
    classes = _bn_classes(project)
    if cls.name not in classes or classes.has_bn(cls.name, module) or classes.builds_dynamically(cls.name, module):
        return False
    init = next((f for f in cls.body if isinstance(f, ast.FunctionDef) and f.name == "__init__"), None)
    stored = {attr for attr, _name in _self_attributes_from_names(init)} if init is not None else set()
    if any(isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr in stored
           and isinstance(n.func.value, ast.Name) and n.func.value.id == "self" for n in astwalk.walk(cls)):
        return False  # ``self.body = body`` run as ``self.body(x)``: a module the caller chooses
    for m in project.modules:
        for sub in m.classes:
            if any((dotted(b) or "").rsplit(".", 1)[-1] == cls.name for b in sub.bases) \
                    and (classes.has_bn(sub.name, m) or classes.builds_dynamically(sub.name, m)):
                return False
    return True


def _defines_forward(cls: ast.ClassDef) -> bool:
    return any(isinstance(b, (ast.FunctionDef, ast.AsyncFunctionDef)) and b.name == "forward" for b in cls.body)


def _training_keyword(call: ast.Call) -> bool:
    """``model(x, training=False)``: a Keras 3 model on the torch backend chooses its mode per call
    (``eval()`` does not apply); any explicit ``training=`` is a deliberate choice."""
    return any(k.arg == "training" for k in call.keywords)


def _callable_parameter(module: Module, call: ast.Call, name: str) -> bool:
    """Is ``name`` a parameter (of an enclosing function) whose default is a lambda / function?"""
    for a in module.ancestors(call):
        if not isinstance(a, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            continue
        args = a.args
        positional = args.posonlyargs + args.args
        pairs = list(zip(positional[len(positional) - len(args.defaults):], args.defaults)) + [
            (p, d) for p, d in zip(args.kwonlyargs, args.kw_defaults) if d is not None]
        for p, d in pairs:
            if p.arg == name:
                return isinstance(d, ast.Lambda) or (isinstance(d, ast.Name) and any(
                    fi.name == d.id for fi in module.functions))
        if any(p.arg == name for p in positional + args.kwonlyargs):
            return False
    return False


def _helper_model_call(call: ast.Call, module: Module, project: Project) -> Optional[ast.AST]:
    """``self._forward_pass(x, y)`` in an evaluation region: a method of the same class (one level)
    whose body runs ``self.<model>(...)`` and neither trains nor switches modes itself. Returns the
    ``self.<model>`` expression."""
    f = call.func
    if not (isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) and f.value.id == "self"):
        return None
    cls = module.enclosing_class(call)
    if cls is None:
        return None
    method = next((m for m in cls.body if isinstance(m, (ast.FunctionDef, ast.AsyncFunctionDef)) and m.name == f.attr), None)
    if method is None or _deliberate_train_mode(method.name) or _has_training_call(method):
        return None
    found = None
    for n in astwalk.walk(method):
        if not isinstance(n, ast.Call):
            continue
        if mode_call(n) is not None:
            return None  # the helper chooses the mode itself
        g = n.func
        if isinstance(g, ast.Attribute) and g.attr == "forward":
            g = g.value
        if found is None and isinstance(g, ast.Attribute) and isinstance(g.value, ast.Name) and g.value.id == "self" \
                and not _training_keyword(n) and _MODEL_NAME.search(g.attr) and not _NOT_MODEL_NAME.search(g.attr):
            found = g
    return found


# ------------------------------------------------------------------------------------------------
# BN304 TensorFlow momentum convention
# ------------------------------------------------------------------------------------------------
def _numbers(expr: ast.AST, module: Module, project: Project) -> Optional[set[float]]:
    """The numbers ``expr`` can be, or None when unknown/not all numeric."""
    from bnguard.lint.values import UNKNOWN, possible_values

    if isinstance(expr, ast.BinOp) and isinstance(expr.op, ast.Sub):
        left = _numbers(expr.left, module, project)
        right = _numbers(expr.right, module, project)
        if left and right:
            return {a - b for a in left for b in right}
        return None
    if isinstance(expr, ast.Constant):
        v = expr.value
        return {float(v)} if isinstance(v, (int, float)) and not isinstance(v, bool) else None
    if _set_outside_own_classes(expr, module, project):
        # ``F.batch_norm(..., self.momentum, ...)`` in a BN subclass that never assigns it: the
        # value is the constructor argument of torch's BatchNorm, not the ``self.momentum = 0.9``
        # of the project's LARS optimizer
        return _constructor_argument_numbers(module.enclosing_class(expr), expr.attr, module, project)  # type: ignore[attr-defined]
    vals = possible_values(expr, module, project)
    if vals is UNKNOWN or not vals:
        # ``momentum=hp["bn_momentum"]``, ``momentum=self.bn_momentum``: a ported configuration
        vals = config_values.constant_values(module, project, expr)
        if not vals:
            # a default handed down constructors whose top is built as ``cls(**config)``
            vals = config_values.declared_defaults(module, project, expr)
        if not vals:
            return None
    out = set()
    for v in vals:
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            return None
        out.add(float(v))
    return out


# Attributes only a BatchNorm module has: reading one of them beside ``x.momentum`` says that ``x``
# is a BN module (not a config object such as ``args`` / ``cfg``).
_BN_ONLY_ATTRIBUTES = frozenset({"num_features", "running_mean", "running_var", "num_batches_tracked",
                                 "track_running_stats"})


def _copied_from_another_bn(module: Module, mom: Optional[ast.AST]) -> bool:
    """``nn.BatchNorm2d(bn.num_features, bn.eps, bn.momentum)``: the momentum is read off another BN
    module (a conversion, an export or fused copy of a layer). Its value is that layer's: set by the
    layer's own constructor (reported there) or assigned for a hand-written update of its statistics
    (HAWQ's folded BN keeps TensorFlow's convention: ``running * momentum + (1 - momentum) * batch``),
    so the copy says nothing of its own. ``x`` must visibly be a BN module: ``x.num_features`` /
    ``x.running_mean`` ... read in the same function (``args.momentum`` / ``cfg.momentum`` stay judged)."""
    if not (isinstance(mom, ast.Attribute) and mom.attr == "momentum"):
        return False
    base = dotted(mom.value)
    if base is None or base == "self":
        return False
    scope = module.scope_of(mom)
    return any(isinstance(n, ast.Attribute) and n.attr in _BN_ONLY_ATTRIBUTES and dotted(n.value) == base
               for n in astwalk.walk(scope if scope is not None else module.tree))


def _set_outside_own_classes(expr: ast.AST, module: Module, project: Project) -> bool:
    """Is ``expr`` a ``self.attr`` that neither its class nor a project base class of it assigns
    (by ``self.attr = ...`` or in the class body)? Other classes' attributes of that name say
    nothing about it."""
    if not (isinstance(expr, ast.Attribute) and isinstance(expr.value, ast.Name) and expr.value.id == "self"):
        return False
    cls = module.enclosing_class(expr)
    if cls is None:
        return False
    defs = _bn_classes(project).defs
    todo, seen = [cls], set()
    while todo:
        c = todo.pop()
        if id(c) in seen or not isinstance(c, ast.ClassDef):
            continue
        seen.add(id(c))
        for n in astwalk.walk(c):
            targets = n.targets if isinstance(n, ast.Assign) else [n.target] if isinstance(n, (ast.AnnAssign, ast.AugAssign)) else []
            for t in targets:
                for e in astwalk.walk(t):
                    if isinstance(e, ast.Attribute) and e.attr == expr.attr and dotted(e.value) == "self":
                        return False
                    if isinstance(e, ast.Name) and e.id == expr.attr and n in c.body:
                        return False
            if isinstance(n, ast.Call) and dotted(n.func) == "setattr":
                return False
        for b in c.bases:
            todo.extend(node for node, _m in defs.get((dotted(b) or "").rsplit(".", 1)[-1], ()))
    return True


def _constructor_argument_numbers(cls: Optional[ast.ClassDef], name: str, module: Module,
                                  project: Project) -> Optional[set[float]]:
    """The numbers the ``__init__`` parameter ``name`` of ``cls`` takes: its default and what every
    construction of ``cls`` or of a project subclass without its own ``__init__`` passes
    (``CrossGPUBatchNorm2d(64, momentum=0.9)``). None when any is unknown."""
    init = next((f for f in (cls.body if cls is not None else []) if isinstance(f, ast.FunctionDef) and f.name == "__init__"), None)
    if cls is None or init is None or name not in _params(init):
        return None
    positional = [a.arg for a in init.args.posonlyargs + init.args.args][1:]
    defaults = dict(zip(reversed(positional), reversed(init.args.defaults)))
    defaults.update({a.arg: d for a, d in zip(init.args.kwonlyargs, init.args.kw_defaults) if d is not None})
    out: set[float] = set()
    if name in defaults:
        found = _numbers(defaults[name], module, project)
        if found is None:
            return None
        out |= found
    defs = _bn_classes(project).defs
    names, todo = set(), [cls.name]
    while todo:  # the class and its project subclasses that inherit this __init__
        c = todo.pop()
        if c in names:
            continue
        names.add(c)
        for sub_name, subs in defs.items():
            for node, _m in subs:
                if isinstance(node, ast.ClassDef) and any((dotted(b) or "").rsplit(".", 1)[-1] == c for b in node.bases):
                    if any(isinstance(f, ast.FunctionDef) and f.name == "__init__" for f in node.body):
                        return None  # its own constructor decides what reaches this one
                    todo.append(sub_name)
    program = project.import_component(module)
    for c in names:
        for site in project.call_sites(c):
            if id(site.module) not in program:
                continue  # another script's class of the same name
            call = site.node
            if any(isinstance(a, ast.Starred) for a in call.args) or any(k.arg is None for k in call.keywords):
                return None
            arg = _kw(call, name)
            if arg is None and name in positional and positional.index(name) < len(call.args):
                arg = call.args[positional.index(name)]
            if arg is None:
                continue
            found = _numbers(arg, site.module, project)
            if found is None:
                return None
            out |= found
    return out or None


@register
class TensorFlowMomentumInTorch(Rule):
    code = "BN304"
    name = "tensorflow-momentum-in-pytorch-bn"
    framework = "pytorch"
    summary = "PyTorch BN momentum above 0.5: TensorFlow's convention (PyTorch weighs the new batch by momentum)"
    triggers = ("momentum", "BatchNorm", "batch_norm")
    doc = RuleDoc(
        what="""
Finds `nn.BatchNorm1d/2d/3d`, `nn.SyncBatchNorm`, `nn.LazyBatchNorm*d` and `F.batch_norm` given a
`momentum` above 0.5 (a literal, a constant, a config default or a parameter resolved through
every call site), also through a factory `functools.partial(nn.BatchNorm2d, momentum=0.99)`,
through a `**bn_kwargs` splat of dicts the project builds (`dict(momentum=0.99)`, `{...}`, copies,
entries of a config splatted into a constructor), `m.momentum = 0.99` assigned to BN modules, and
mmcv / OpenMMLab norm configs `dict(type="BN" | "BN1d" | "BN2d" | "BN3d" | "SyncBN", momentum=0.99)`
(`build_norm_layer` builds torch BatchNorm from them; also in config files that import nothing,
when the project uses torch).
""",
        why="""
PyTorch updates `running = (1 - momentum) * running + momentum * batch`; TensorFlow/Keras use
`running = momentum * running + (1 - momentum) * batch`. A value ported from TF (0.9, 0.99, 0.997)
makes the running statistics follow the last batch almost entirely: evaluation uses the statistics
of one batch, noisy and biased.
""",
        example="""
self.bn = nn.BatchNorm2d(64, momentum=0.99)
""",
        use_instead="""
self.bn = nn.BatchNorm2d(64, momentum=0.01)  # PyTorch convention: 1 - TF momentum
""",
        not_flagged="""
`momentum=None` (cumulative average), values of 0.5 or less (0.5 weighs the old statistics and
the batch alike in both conventions: the start of a PointNet++-style momentum schedule),
`momentum=1` (keep exactly the current batch: the transductive BN of MAML-style few-shot code),
hand-written BN classes (their convention is their own), a momentum read off another BN module
(`nn.BatchNorm2d(bn.num_features, bn.eps, bn.momentum)`: a copy of that layer's configuration,
judged at its source; a folded-BN layer may keep TensorFlow's convention for its own hand-written
update), `track_running_stats=False` layers (no
running statistics), splatted dicts whose momentum is rewritten anywhere (`cfg["momentum"] = 1 -
cfg["momentum"]`), mmcv-style configs in projects that use MXNet / Paddle / MindSpore / Jittor /
OneFlow / MegEngine (their own config ports, some with TensorFlow's convention); a program that
freezes every BatchNorm layer (`model.apply(set_bn_eval)`, a loop over `model.modules()` putting the
BN layers in eval mode) and never calls `train()`: its running statistics never update, so the
momentum is never used.
""",
        versions=PYTORCH_VERSIONS,
    )

    def check(self, module: Module, project: Project) -> Iterable[Finding]:
        for site in module.calls:
            q = site.qualname or ""
            if q in BN_CLASSES:
                mom, trs = _bn_constructor_args(site.node)
                if trs is not None and isinstance(trs, ast.Constant) and trs.value is False:
                    continue
                if mom is None:
                    yield from self._judge_splat(module, project, site.node, 2, 4)
                    continue
            elif q in F_BATCH_NORM:
                mom = _kw(site.node, "momentum") or (site.node.args[6] if len(site.node.args) > 6 else None)
            elif isinstance(site.node.func, ast.Subscript) and _norm_registry(module, site.node.func.value):
                # NORM_LAYERS[cfg.pop("type")](num_features, **cfg): a vendored norm-layer registry
                yield from self._judge_splat(module, project, site.node, 2, 4)
                continue
            elif q in ("functools.partial", "partial") and site.node.args \
                    and (module.qualname(site.node.args[0]) or "") in BN_CLASSES:
                # norm_layer = partial(nn.BatchNorm2d, eps=1e-3, momentum=0.99): a BN factory whose
                # keywords are the constructor's (torchvision MaxViT before vision#8312)
                mom = _kw(site.node, "momentum")
                if mom is None:
                    yield from self._judge_splat(module, project, site.node, None, None)
                    continue
            else:
                continue
            if mom is None:
                continue
            yield from self._judge(module, project, site.node, mom)
        # `m.momentum = 0.99` on BN modules: inside `if isinstance(m, nn.BatchNorm2d)`
        for node in module.nodes_of_kind.get(ast.Assign, ()):  # in walk order, from the module index
            if len(node.targets) == 1 and isinstance(node.targets[0], ast.Attribute) \
                    and node.targets[0].attr == "momentum" and self._bn_guarded(module, node):
                yield from self._judge(module, project, node, node.value)
        # norm_cfg=dict(type="BN", momentum=0.99): an mmcv-style norm config, built into torch BN
        if module.mentions("BN") and _mmcv_configs_build_torch_bn(module, project):
            for display in _dict_displays_in(module):
                cfg = _mmcv_bn_config(display)
                if cfg is not None:
                    yield from self._judge(module, project, cfg[1], cfg[1],
                                           context=f" (`build_norm_layer` builds torch `{cfg[0]}` from this norm config)")

    def _judge_splat(self, module: Module, project: Project, call: ast.Call, momentum_at: Optional[int],
                     stats_at: Optional[int]) -> Iterable[Finding]:
        """``nn.BatchNorm2d(c, **bn_kwargs)``: the momentum of the dicts splatted into it (the mmcv
        norm configs among them are reported at the dict). ``*_at``: the positions of ``momentum`` and
        ``track_running_stats`` in the call (None: keyword only, as in a ``partial``)."""
        if not any(kw.arg is None for kw in call.keywords):
            return
        sources = _splat_sources(module, project, call, "momentum", momentum_at)
        trs = _splat_sources(module, project, call, "track_running_stats", stats_at)
        if not sources or trs is None or any(isinstance(e, ast.Constant) and e.value is False for e, _ in trs):
            return
        if any(_mmcv_bn_config(d) is not None for d in _displays_holding(sources)):
            return
        values: set[float] = set()
        origin = ""
        for expr, where in sources:
            found = _numbers(expr, where, project)
            if found is None:
                return
            if not origin and any(0.5 < v < 1 for v in found):
                origin = f", set at {module.line_ref(expr.lineno) if where is module else where.where(expr.lineno)}"
            values |= found
        splat = next(kw.value for kw in call.keywords if kw.arg is None)
        yield from self._judge(module, project, call, None, values=values,
                               context=f" (from `**{ast.unparse(splat)}`{origin})")

    def _bn_guarded(self, module: Module, node: ast.AST) -> bool:
        for a in module.ancestors(node):
            if isinstance(a, ast.If):
                for n in astwalk.walk(a.test):
                    if isinstance(n, (ast.Name, ast.Attribute)) and (module.qualname(n) in BN_CLASSES or (
                            (module.qualname(n) or "").startswith("torch.nn.") and "BatchNorm" in (module.qualname(n) or ""))):
                        return True
            if isinstance(a, (ast.FunctionDef, ast.AsyncFunctionDef)):
                break
        return False

    def _judge(self, module: Module, project: Project, node: ast.AST, mom: Optional[ast.AST],
               values: Optional[set[float]] = None, context: str = "") -> Iterable[Finding]:
        if values is None:
            values = _numbers(mom, module, project) if mom is not None else None
        # momentum=1 keeps exactly the last batch: the transductive-BN idiom of MAML-style few-shot
        # code, deliberate, not a ported TF value (TF's 1.0 would never update at all).
        # 0.5 weighs old and new alike in both conventions: a schedule's start (PointNet++), no port
        if not values or not any(0.5 < v < 1 for v in values) or any(v >= 1 or v < 0 for v in values):
            return
        if _only_run_in_eval_mode(module, project, node) or _bn_kept_frozen_in_program(module, project):
            return  # the running statistics never update: the momentum is never used
        if _copied_from_another_bn(module, mom):
            return  # the configuration of an existing BN: whatever is wrong is wrong at its source
        worst = max(values)
        fix = None
        if isinstance(mom, ast.Constant) and len(values) == 1:
            cell, line = module.unit.locate(mom.lineno)
            _, end_line = module.unit.locate(mom.end_lineno or mom.lineno)
            new = f"{round(1 - worst, 10):g}"
            fix = Fix(f"use the PyTorch convention: momentum={new} (1 - {worst:g})",
                      (Edit(line, mom.col_offset, end_line, mom.end_col_offset or mom.col_offset, new, cell),))
        yield self.finding(
            module, mom if mom is not None else node,
            f"BatchNorm momentum {worst:g}{context} follows TensorFlow's convention; PyTorch weighs the *new* batch by "
            f"momentum, so the running statistics track the last batch. Use {round(1 - worst, 10):g}.",
            fix=fix)


# mmcv / mmengine norm-layer registry names of torch BatchNorm classes (``build_norm_layer``).
_MMCV_BN_TYPES = {"BN": "nn.BatchNorm2d", "BN1d": "nn.BatchNorm1d", "BN2d": "nn.BatchNorm2d",
                  "BN3d": "nn.BatchNorm3d", "SyncBN": "nn.SyncBatchNorm"}
# Frameworks with mmcv-style config ports of their own (mxcv, PaddleDetection, MindSpore model zoos),
# some with TensorFlow's momentum convention.
_MMCV_LOOKALIKE_FRAMEWORKS = ("mxnet", "mxcv", "paddle", "mindspore", "jittor", "jdet", "oneflow", "megengine")


def _mmcv_configs_build_torch_bn(module: Module, project: Project) -> bool:
    """Are this file's ``dict(type="BN", ...)`` configs for torch? Config files import nothing: the
    project must use torch (or OpenMMLab) and no framework with mmcv-style configs of its own, and
    the file itself no other framework."""
    if module.imports.imports_any(*_NON_TORCH_FRAMEWORKS, *_MMCV_LOOKALIKE_FRAMEWORKS):
        return False

    def project_frameworks(p: Project) -> tuple[bool, bool]:
        torch_like = any(m.imports.imports_any("torch", "mmcv", "mmdet", "mmseg", "mmengine", "mmpretrain", "mmcls",
                                               "mmpose", "mmdet3d", "mmrotate", "mmyolo", "mmaction", "mmocr")
                         for m in p.modules)
        lookalike = any(m.imports.imports_any(*_MMCV_LOOKALIKE_FRAMEWORKS) for m in p.modules)
        return torch_like, lookalike

    torch_like, lookalike = project.fact("torch.mmcv_frameworks", project_frameworks)
    return torch_like and not lookalike


def _dict_displays_in(module: Module) -> Iterable[ast.AST]:
    yield from module.nodes_of_kind.get(ast.Dict, ())
    for site in module.calls:
        f = site.node.func
        if isinstance(f, ast.Name) and f.id == "dict" and not site.node.args:
            yield site.node


def _dict_items(display: ast.AST) -> Optional[list[tuple[Optional[str], ast.AST]]]:
    """(key, value) of a ``{...}`` display or a ``dict(k=v)`` call (key None: computed or ``**``)."""
    if isinstance(display, ast.Dict):
        return [(k.value if isinstance(k, ast.Constant) and isinstance(k.value, str) else None, v)
                for k, v in zip(display.keys, display.values)]
    if isinstance(display, ast.Call) and isinstance(display.func, ast.Name) and display.func.id == "dict":
        return [(kw.arg, kw.value) for kw in display.keywords]
    return None


def _norm_registry(module: Module, expr: ast.AST) -> bool:
    """Is ``expr`` a module-level dict display mapping names to torch.nn classes, BatchNorm among
    them (``NORM_LAYERS = {"BN": nn.BatchNorm2d, "GN": nn.GroupNorm}``)? A ``momentum`` handed to
    one of its classes reaches a torch BN (GroupNorm / LayerNorm take none)."""
    if not isinstance(expr, ast.Name):
        return False
    found = [n.value for n in module.tree.body if isinstance(n, ast.Assign)
             and any(isinstance(t, ast.Name) and t.id == expr.id for t in n.targets)]
    if len(found) != 1 or not isinstance(found[0], ast.Dict) or not found[0].values:
        return False
    names = [module.qualname(v) or "" if isinstance(v, (ast.Name, ast.Attribute)) else "" for v in found[0].values]
    return all(n.startswith("torch.nn.") for n in names) and any(n in BN_CLASSES for n in names)


def _mmcv_bn_config(display: ast.AST) -> Optional[tuple[str, ast.AST]]:
    """``dict(type="BN", momentum=0.99, eps=1e-3)``: an mmcv norm config of a torch BN class with a
    momentum given: (the class, the momentum expression)."""
    items = _dict_items(display)
    if not items:
        return None
    kind = next((v for k, v in items if k == "type"), None)
    mom = next((v for k, v in reversed(items) if k == "momentum"), None)
    if mom is None or not (isinstance(kind, ast.Constant) and kind.value in _MMCV_BN_TYPES):
        return None
    return _MMCV_BN_TYPES[kind.value], mom


def _splat_sources(module: Module, project: Project, call: ast.Call, keyword: str,
                   position: Optional[int]) -> Optional[list[tuple[ast.AST, Module]]]:
    from bnguard.lint.values import keyword_sources

    return keyword_sources(call, keyword, position, module, project)


def _displays_holding(sources: list[tuple[ast.AST, Module]]) -> Iterable[ast.AST]:
    """The ``{...}`` displays / ``dict(...)`` calls whose entries these value expressions are."""
    for expr, where in sources:
        parent = where.parent(expr)
        if isinstance(parent, ast.keyword):
            parent = where.parent(parent)
        if parent is not None:
            yield parent


def _only_run_in_eval_mode(module: Module, project: Project, node: ast.AST) -> bool:
    """Is the BN (built in a project class) only ever run in eval mode? Every construction of the
    class is bound to a name that is put in eval() in the same scope, and nothing in those programs
    trains (no backward(), no optimizer step, no train()): a weight-conversion check that loads
    converted statistics and compares outputs (momentum copied from the MXNet layer it mirrors)."""
    cls = module.enclosing_class(node)
    if cls is None:
        return False
    program = project.import_component(module)  # another script's class of the same name is another class
    sites = [s for s in project.call_sites(cls.name) if id(s.module) in program]
    if not sites:
        return False  # a library class: its users may train it
    for site in sites:
        parent = site.module.parent(site.node)
        if not (isinstance(parent, ast.Assign) and len(parent.targets) == 1 and isinstance(parent.targets[0], ast.Name)):
            return False
        name = parent.targets[0].id
        owner = site.scope if site.scope is not None else site.module.tree
        if not any(isinstance(n, ast.Call) and mode_call(n) == "eval" and dotted(n.func.value) == name  # type: ignore[attr-defined]
                   for n in astwalk.walk(owner)):
            return False
        for m in _program_modules(project, site.module):
            if _has_training_call(m.tree) or any(mode_call(c.node) == "train" for c in m.calls):
                return False
    return True


def _bn_kept_frozen_in_program(module: Module, project: Project) -> bool:
    """Does the program this BN belongs to (its import component) put every BatchNorm layer in eval
    mode (``model.apply(set_bn_eval)``, ``for m in model.modules(): if isinstance(m, nn.BatchNorm2d):
    m.eval()``) and never call ``train()``, whose recursion would undo that? Then the running
    statistics never update (metric-learning fine-tuning with ``--freeze_BN``): the momentum is
    never used."""
    return project.import_component(module) in project.fact("torch.bn_frozen_programs", _bn_frozen_programs)


def _bn_frozen_programs(p: Project) -> set[frozenset]:
    freezing: set[frozenset] = set()
    training: set[frozenset] = set()
    for m in p.modules:
        if not (m.mentions("eval") or m.mentions("train")):
            continue
        component = p.import_component(m)
        if any(mode_call(c.node) == "train" for c in m.calls if c.name == "train"):
            training.add(component)
        elif _freezes_every_bn(m, p):
            freezing.add(component)
    return freezing - training


def _freezes_every_bn(m: Module, p: Project) -> bool:
    """A BatchNorm freeze over a whole model in ``m``: ``x.apply(fn)`` with a project function
    ``fn`` that evaluates its argument when it is a BN layer, or a loop over ``x.modules()`` that
    evaluates the BN layers it picks out."""
    for c in m.calls:
        if c.name == "apply" and isinstance(c.node.func, ast.Attribute) and len(c.node.args) == 1 \
                and applies_bn_freeze(p, m, c.node.args[0]):
            return True
    for loop in m.blocks:
        if isinstance(loop, ast.For) and isinstance(loop.target, ast.Name) and isinstance(loop.iter, ast.Call) \
                and isinstance(loop.iter.func, ast.Attribute) and loop.iter.func.attr == "modules":
            if evals_when_bn(loop, loop.target.id):
                return True
    return False


# ------------------------------------------------------------------------------------------------
# BN309 momentum 0
# ------------------------------------------------------------------------------------------------
# Names of code that keeps BN statistics fixed on purpose (frozen-BN fine-tuning, inference wrappers).
_FIXED_STATS_NAME = re.compile(r"frozen|freeze|fixed|static|inference|deploy|export|convert", re.I)


@register
class ZeroMomentumInTorch(Rule):
    code = "BN309"
    name = "zero-momentum-freezes-running-stats"
    framework = "pytorch"
    summary = "PyTorch BN built with momentum=0: its running statistics never change"
    triggers = ("momentum",)
    doc = RuleDoc(
        what="""
Finds `nn.BatchNorm1d/2d/3d`, `nn.SyncBatchNorm` and `nn.LazyBatchNorm*d` constructed with a
`momentum` that is always 0 (a literal, a constant, a config value, a parameter resolved through
every call site, or the entry of a `**bn_args` dict splatted into it), with running statistics
tracked.
""",
        why="""
PyTorch updates `running = (1 - momentum) * running + momentum * batch`: with momentum 0 the running
mean and variance never move from where they start, 0 and 1 for a new layer. Training looks normal
(train mode normalizes with batch statistics) and evaluation normalizes every channel with mean 0
and variance 1 — the classic silent freeze. The pattern spread from weights converted from
TensorFlow (Cadene's inceptionv4 / inceptionresnetv2, fixed in pretrained-models.pytorch 5076675)
and from the crowd-counting `Conv2d(..., bn=True)` wrapper copied across many repositories.
""",
        example="""
self.bn = nn.BatchNorm2d(out_planes, eps=0.001, momentum=0, affine=True)
""",
        use_instead="""
self.bn = nn.BatchNorm2d(out_planes, eps=0.001, momentum=0.1)   # PyTorch's default
# or, to keep pretrained statistics fixed on purpose: bn.eval() during training / FrozenBatchNorm2d
""",
        not_flagged="""
A BN that is never built (`nn.BatchNorm2d(c, momentum=0) if bn else None` with `bn` false at every
call site); `track_running_stats=False`; a value that is not always 0 (`momentum=0 if frozen else
0.1`); code that keeps its statistics fixed on purpose: a class or function named frozen / freeze /
fixed / static / inference / deploy / export / convert, or one that also sets `requires_grad` to
False (a hand-made frozen BN); `m.momentum = 0` assigned later (a temporary switch, not the
construction); other frameworks (a MindSpore or Keras momentum of 0 keeps the last batch instead).
""",
        versions=PYTORCH_VERSIONS,
    )

    def check(self, module: Module, project: Project) -> Iterable[Finding]:
        from bnguard.lint.values import always_true

        for site in module.calls:
            if (site.qualname or "") not in BN_CLASSES:
                continue
            call = site.node
            mom, trs = _bn_constructor_args(call)
            if mom is None and trs is None and any(kw.arg is None for kw in call.keywords):
                # ``nn.BatchNorm2d(c, **bn_kwargs)``: the momentum of the splatted dicts
                sources = _splat_sources(module, project, call, "momentum", 2)
                trs_sources = _splat_sources(module, project, call, "track_running_stats", 4)
                if not sources or trs_sources is None or trs_sources:
                    continue
                if any(_numbers(e, where, project) != {0.0} for e, where in sources):
                    continue
                mom = call
            elif mom is None or _numbers(mom, module, project) != {0.0}:
                continue
            if trs is not None and not always_true(trs, module, project):
                continue
            if _never_built(module, project, call) or self._fixed_on_purpose(module, call):
                continue
            yield self.finding(
                module, mom,
                "BatchNorm built with momentum=0: PyTorch's running statistics then never change and stay "
                "at their initial values (mean 0, variance 1), which evaluation uses. Use momentum=0.1 "
                "(PyTorch's default), or keep statistics fixed on purpose with eval() / FrozenBatchNorm2d.")

    @staticmethod
    def _fixed_on_purpose(module: Module, call: ast.Call) -> bool:
        for a in module.ancestors(call):
            if isinstance(a, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                if _FIXED_STATS_NAME.search(a.name):
                    return True
                if isinstance(a, ast.ClassDef) and _sets_requires_grad_false(a):
                    return True
        return False


def _never_built(module: Module, project: Project, call: ast.Call) -> bool:
    """Is the construction guarded by a condition that is false everywhere (``... if bn else
    None`` / ``if batch_norm:`` with the flag false at every call site)?"""
    from bnguard.lint.values import always_false

    child: ast.AST = call
    for a in module.ancestors(call):
        if isinstance(a, ast.IfExp) and child is a.body and always_false(a.test, module, project):
            return True
        if isinstance(a, ast.If) and any(child is b for b in a.body) and always_false(a.test, module, project):
            return True
        if isinstance(a, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            break
        child = a
    return False


@per_node
def _sets_requires_grad_false(node: ast.AST) -> bool:
    """``x.requires_grad = False`` or ``x.requires_grad_(False)`` anywhere under ``node``."""
    for n in astwalk.walk(node):
        if isinstance(n, ast.Assign) and any(isinstance(t, ast.Attribute) and t.attr == "requires_grad" for t in n.targets) \
                and isinstance(n.value, ast.Constant) and n.value.value is False:
            return True
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr == "requires_grad_" \
                and n.args and isinstance(n.args[0], ast.Constant) and n.args[0].value is False:
            return True
    return False


def _bn_constructor_args(call: ast.Call) -> tuple[Optional[ast.AST], Optional[ast.AST]]:
    """``momentum`` and ``track_running_stats`` of ``nn.BatchNorm2d(num_features, eps, momentum,
    affine, track_running_stats)``, by keyword or position."""
    args = call.args
    return (_kw(call, "momentum") or (args[2] if len(args) > 2 else None),
            _kw(call, "track_running_stats") or (args[4] if len(args) > 4 else None))


def _kw(call: ast.Call, name: str) -> Optional[ast.AST]:
    for k in call.keywords:
        if k.arg == name:
            return k.value
    return None


# ------------------------------------------------------------------------------------------------
# BN305 / BN307 hand-written BN
# ------------------------------------------------------------------------------------------------
_FROZEN_CLASS = re.compile(r"frozen|fixed|static|inference|eval|affine|freeze", re.I)
_STAT_NAMES = re.compile(r"running_mean|running_var|moving_mean|moving_var|running_std|ema_mean|ema_var|avg_mean|avg_var|pop_mean|pop_var", re.I)


def _class_of(module: Module, node: ast.AST) -> Optional[ast.ClassDef]:
    return module.enclosing_class(node)


def _class_has_parameters(cls: ast.ClassDef, module: Module) -> bool:
    for n in astwalk.walk(cls):
        if isinstance(n, ast.Call):
            last = (dotted(n.func) or "").rsplit(".", 1)[-1]
            if last in ("Parameter", "register_parameter", "UninitializedParameter", "ParameterList", "ParameterDict"):
                return True
            q = module.qualname(n.func) or ""
            if q.startswith("torch.nn.") and q.count(".") == 2 and last[:1].isupper() and last not in ("Module", "ModuleList", "ModuleDict"):
                return True  # a trainable submodule (nn.Embedding, nn.Linear...)
    return False


def _forward_methods(cls: ast.ClassDef, module: Optional[Module] = None) -> list[ast.FunctionDef]:
    """``forward`` and the methods of the class it calls (one level). With ``module``, a helper
    whose every call in ``forward`` is under a training check is left out (its updates are guarded)."""
    methods = {f.name: f for f in cls.body if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))}
    fwd = methods.get("forward") or methods.get("__call__")
    if fwd is None:
        return []
    out = [fwd]
    calls: dict[str, list[ast.Call]] = {}
    for n in astwalk.walk(fwd):
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and isinstance(n.func.value, ast.Name) \
                and n.func.value.id == "self" and n.func.attr in methods and methods[n.func.attr] is not fwd:
            calls.setdefault(n.func.attr, []).append(n)
    for name, sites in calls.items():
        if module is not None and all(_training_guarded(module, c, fwd) for c in sites):
            continue
        out.append(methods[name])
    return out


def _training_guarded(module: Module, node: ast.AST, stop: ast.AST) -> bool:
    """Is ``node`` only reached in training: under ``if self.training`` / ``if train:`` or after an
    early ``if not self.training: return``, or computed by a helper that checks the mode itself
    (``self.running_mean = batch_norm(x, ..., training=self.training)``, d2l's ``is_grad_enabled``)?"""
    if isinstance(node, (ast.Assign, ast.AugAssign)) and isinstance(node.value, ast.Call):
        value = node.value
        if any(_mentions_training(k.value) for k in value.keywords) or any(_mentions_training(a) for a in value.args):
            return True
        helper = (dotted(value.func) or "").rsplit(".", 1)[-1]
        for fn in astwalk.walk(module.tree):
            if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)) and fn.name == helper and any(
                    isinstance(n, (ast.If, ast.IfExp)) and _mentions_training(n.test) for n in astwalk.walk(fn)):
                return True
    for a in module.ancestors(node):
        if a is stop:
            break
        if isinstance(a, (ast.If, ast.IfExp, ast.While)):
            if _mentions_training(a.test):
                return True
    # early return at function level
    for st in getattr(stop, "body", []):
        if isinstance(st, ast.If) and _mentions_training(st.test) and any(isinstance(x, (ast.Return, ast.Raise)) for x in st.body):
            if st.lineno < getattr(node, "lineno", 0):
                return True
    return False


def _mode_test(test: ast.AST) -> Optional[bool]:
    """True for a test that holds in training mode (``self.training``, ``training``), False for its
    negation (``not self.training``), None for anything else."""
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        inner = _mode_test(test.operand)
        return None if inner is None else not inner
    if (isinstance(test, ast.Attribute) and test.attr == "training") or (isinstance(test, ast.Name) and test.id == "training"):
        return True
    return None


def _only_in_eval_mode(module: Module, node: ast.AST, fn: ast.AST) -> bool:
    """Is ``node`` reached only when the module is in eval mode: the branch of ``if self.training``
    (or an IfExp) taken when it is false, or after ``if self.training: return ...``?"""
    child = node
    for a in module.ancestors(node):
        if a is fn:
            break
        if isinstance(a, (ast.If, ast.IfExp)):
            mode = _mode_test(a.test)
            in_body = child is a.body if isinstance(a, ast.IfExp) else any(child is st for st in a.body)
            in_else = child is a.orelse if isinstance(a, ast.IfExp) else any(child is st for st in a.orelse)
            if mode is not None and ((mode and in_else) or (not mode and in_body)):
                return True
        child = a
    for st in getattr(fn, "body", []):
        if getattr(st, "lineno", 0) >= getattr(node, "lineno", 0):
            break
        if isinstance(st, ast.If) and _mode_test(st.test) is True and not st.orelse \
                and any(isinstance(x, (ast.Return, ast.Raise)) for x in st.body):
            return True
    return False


def _stats_updated_elsewhere(module: Module, project: Project, cls: ast.ClassDef, call: ast.Call, stats: ast.AST) -> bool:
    """Does another ``F.batch_norm`` in the class's forward methods read the same running statistics
    with a flag that can be true (it updates them)?"""
    from bnguard.lint.values import always_false

    text = ast.unparse(stats)
    # `self.bn.running_mean` read by a fallback (`if x.size(0) <= 1: return F.batch_norm(..., False)`)
    # while the forward's other path calls `self.bn(x)`: the BN module updates its own statistics
    owner = ast.unparse(stats.value) if isinstance(stats, ast.Attribute) and isinstance(stats.value, ast.Attribute) else None
    for fn in _forward_methods(cls):
        for n in astwalk.walk(fn):
            if owner is not None and isinstance(n, ast.Call) and ast.unparse(n.func) == owner:
                return True
            if n is call or not isinstance(n, ast.Call) or (module.qualname(n.func) or "") not in F_BATCH_NORM:
                continue
            other = n.args[1] if len(n.args) > 1 else _kw(n, "running_mean")
            if other is None or ast.unparse(other) != text:
                continue
            flag = _kw(n, "training") or (n.args[5] if len(n.args) > 5 else None)
            if flag is not None and not (isinstance(flag, ast.Constant) and flag.value is False) \
                    and not always_false(flag, module, project):
                return True
    return False


def _mentions_training(test: ast.AST) -> bool:
    for n in astwalk.walk(test):
        name = n.attr if isinstance(n, ast.Attribute) else n.id if isinstance(n, ast.Name) else ""
        if re.search(r"train|update|momentum|track|calib|collect|accumulate|stat|grad_enabled", name, re.I):
            return True
    return False


@register
class HardCodedTrainingFalse(Rule):
    code = "BN305"
    name = "functional-batch-norm-training-false"
    framework = "pytorch"
    summary = "F.batch_norm(..., training=False) hard-coded in the forward of a trained module"
    triggers = ("batch_norm", "functional_call", "stack_module_state", "combine_state_for_ensemble")
    doc = RuleDoc(
        what="""
Finds `F.batch_norm(...)` whose `training` argument is always false (literal or resolved constant)
inside the `forward` of a module that has trainable parameters — a BN meant to train. Also a model
trained through `torch.func.functional_call(model, (params, buffers), x)` where `buffers` are
clones of the model's own (`{k: v.clone() for k, v in model.named_buffers()}`) never copied back,
while the model itself is evaluated or saved afterwards: BatchNorm updates the running statistics
in the tensors it is given, so the model's own stay at 0 / 1. Likewise a torch.func ensemble
(`params, buffers = stack_module_state(members)`, trained through `vmap(functional_call)`) whose
members get their parameters copied back from the stacked `params` but never the stacked `buffers`.
""",
        why="""
With `training=False`, `F.batch_norm` normalizes with the running statistics and never updates them:
the statistics stay at their initial values (mean 0, variance 1), so the layer never normalizes, in
training and in evaluation alike. Pass `training=self.training` so the module follows
`train()` / `eval()`.
""",
        example="""
def forward(self, x):
    return F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias, training=False)
""",
        use_instead="""
def forward(self, x):
    return F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                        training=self.training, momentum=self.momentum)
""",
        not_flagged="""
Frozen BN classes (`FrozenBatchNorm2d`-like: no trainable parameters, or a name saying frozen /
fixed), `training=self.training` or any flag that can be true, and statistics computed in
`forward` rather than read from the module's buffers (test-time BN mixing source and batch
statistics, `F.batch_norm(x, mixed_mean, mixed_var, ..., False)`), a call reached only in eval
mode (the `else` of `if self.training:`, after `if self.training: return ...`), and a call whose
buffers another batch_norm of the same forward updates (stochastic normalization mixes a
moving-statistics branch and a batch-statistics branch). For `functional_call`: the
module's own buffers (`dict(model.named_buffers())`, `.detach()` shares their storage), clones
copied back (`load_state_dict`, `copy_`), models without BN, meta-learning code (MAML-style inner
loops keep the outer statistics on purpose), and programs that never run or save the model itself.
For stacked ensembles: buffers written back (`b.copy_(buffers[name][i])`, `load_state_dict`), and
ensembles whose members are never written back at all (only the stacked model is used).
""",
        versions=PYTORCH_VERSIONS,
    )

    def check(self, module: Module, project: Project) -> Iterable[Finding]:
        from bnguard.lint.values import always_false

        for call, text, copy in _functional_call_on_buffer_copies(module, project):
            yield self.finding(
                module, call,
                f"`{text}` is trained through functional_call with clones of its buffers ({module.line_ref(copy.lineno)}): "
                f"BatchNorm updates the running statistics in the tensors it is given, so `{text}`'s own "
                f"running_mean / running_var never move from 0 / 1, and evaluating or saving `{text}` uses them. "
                f"Pass its own buffers (`dict({text}.named_buffers())`) or copy the clones back "
                f"(`{text}.load_state_dict(..., strict=False)`).")
        for node, members, params in _stacked_buffers_left_in_stack(module, project):
            yield self.finding(
                module, node,
                f"`{members}` are trained stacked (`stack_module_state` + `functional_call`) and their parameters are "
                f"copied back from `{params}`, but not the stacked buffers: BatchNorm updated the running statistics "
                f"in the stacked tensors, so each member keeps its initial 0 / 1 running_mean / running_var and "
                f"is evaluated or saved with them. Copy the stacked buffers back too "
                f"(`for name, b in member.named_buffers(): b.copy_(buffers[name][i])`).")
        for site in module.calls:
            if (site.qualname or "") not in F_BATCH_NORM or site.scope is None:
                continue
            cls = _class_of(module, site.node)
            if cls is None or site.scope.name not in ("forward", "__call__") and site.scope not in _forward_methods(cls):
                continue
            if _FROZEN_CLASS.search(cls.name) or not _class_has_parameters(cls, module):
                continue
            flag = _kw(site.node, "training") or (site.node.args[5] if len(site.node.args) > 5 else None)
            if flag is None:
                flag_false = True  # the default of F.batch_norm is training=False
            else:
                flag_false = isinstance(flag, ast.Constant) and flag.value is False or always_false(flag, module, project)
            if not flag_false:
                continue
            stats = site.node.args[1] if len(site.node.args) > 1 else _kw(site.node, "running_mean")
            if stats is not None and not isinstance(stats, ast.Attribute):
                continue  # statistics computed in forward (a mixture of source and batch statistics): on purpose
            if _only_in_eval_mode(module, site.node, site.scope):
                continue  # `if self.training: ...(True) else: ...(False)`: a hand-written BN's eval branch
            if stats is not None and _stats_updated_elsewhere(module, project, cls, site.node, stats):
                continue  # another batch_norm of the forward updates the same buffers (stochastic normalization)
            yield self.finding(
                module, flag if flag is not None else site.node,
                f"`{cls.name}.forward` calls batch_norm with training=False: the running statistics are never "
                f"updated and never replaced by batch statistics, even while the module trains. Pass "
                f"`training=self.training`.")


_FUNCTIONAL_CALL = {"torch.func.functional_call", "torch.nn.utils.stateless.functional_call",
                    "torch._functorch.functional_call.functional_call"}
_GRAD_FUNCTIONS = {"torch.autograd.grad", "torch.func.grad", "torch.func.grad_and_value", "torch.func.vjp",
                   "functorch.grad", "functorch.grad_and_value"}
# Meta-learning: inner loops run on copies of the weights and buffers on purpose (identifier parts).
_META_LEARNING_PARTS = {"meta", "maml", "fomaml", "reptile", "inner", "fast", "episode", "episodic", "support",
                        "fewshot", "shot"}


def _meta_learning(module: Module) -> bool:
    names = _identifiers(module.tree)
    return any(_identifier_parts(n) & _META_LEARNING_PARTS or "maml" in n.lower() for n in names)


def _functional_call_on_buffer_copies(module: Module, project: Project) -> Iterable[tuple[ast.Call, str, ast.AST]]:
    """``functional_call(model, (params, buffers), x)`` in a program that trains (backward /
    autograd.grad), where ``buffers`` is bound once to clones of ``model.named_buffers()`` and is
    never copied back, and ``model`` itself is run, put in eval mode or saved: (call, model text,
    the cloning expression)."""
    if not module.mentions("functional_call") or not module.mentions("named_buffers") \
            or is_test_file(project.relative_path(module)) or _meta_learning(module):
        return
    if not any(c.name == "backward" or (c.qualname or "") in _GRAD_FUNCTIONS for c in module.calls):
        return
    for site in module.calls:
        call = site.node
        if (site.qualname or "") not in _FUNCTIONAL_CALL or len(call.args) < 2:
            continue
        model = dotted(call.args[0])
        state = call.args[1]
        parts = state.elts if isinstance(state, (ast.Tuple, ast.List)) else \
            [v for k, v in zip(state.keys, state.values) if k is None] if isinstance(state, ast.Dict) else []
        if model is None:
            continue
        owner = model.rsplit(".", 1)[-1]
        for part in parts:
            copy = _buffer_clones_of(module, part, owner)
            if copy is None or _copied_back(module, part):
                continue
            if not _module_used_itself(module, owner) or _model_has_bn(receiver_key(call.args[0], {}, set())[0],
                                                                      project, module) is not True:
                continue
            yield call, model, copy
            break


_STACKERS = ("stack_module_state", "combine_state_for_ensemble")


def _stacked_buffers_left_in_stack(module: Module, project: Project) -> Iterable[tuple[ast.AST, str, str]]:
    """``params, buffers = stack_module_state(members)`` (torch.func model ensembling) in a program that
    trains, where the members' parameters are copied back from ``params`` (``p.copy_(params[name][i])``)
    and ``buffers`` is never written back into any module: (the write-back of the parameters, members
    text, params text). Without a parameter write-back the members are not used again: silent."""
    if not module.mentions("stack_module_state") and not module.mentions("combine_state_for_ensemble"):
        return
    if is_test_file(project.relative_path(module)) or _meta_learning(module):
        return
    if not any(c.name == "backward" or (c.qualname or "") in _GRAD_FUNCTIONS for c in module.calls):
        return
    for n in module.nodes_of_kind.get(ast.Assign, ()):
        value = n.value
        if not (isinstance(value, ast.Call) and value.args and len(n.targets) == 1
                and isinstance(n.targets[0], (ast.Tuple, ast.List))
                and (module.qualname(value.func) or dotted(value.func) or "").rsplit(".", 1)[-1] in _STACKERS):
            continue
        elts = n.targets[0].elts
        if len(elts) < 2:
            continue
        params, buffers = elts[-2], elts[-1]
        ptext, members = dotted(params), dotted(value.args[0])
        if ptext is None or dotted(buffers) is None or members is None or _copied_back(module, buffers):
            continue
        back = _written_back_from(module, ptext.rsplit(".", 1)[-1])
        if back is None:
            continue
        if _model_has_bn(receiver_key(value.args[0], {}, set())[0], project, module) is False \
                or not _project_has_bn(project):
            continue
        yield back, members, ptext


def _written_back_from(module: Module, name: str) -> Optional[ast.AST]:
    """The first ``x.copy_(<...name...>)`` / ``x.data = <...name...>`` / ``setattr(.., <...name...>)``
    of the file: stacked parameters written back into a module."""
    def reads(e: ast.AST) -> bool:
        return any(isinstance(x, (ast.Name, ast.Attribute)) and (dotted(x) or "").rsplit(".", 1)[-1] == name
                   for x in astwalk.walk(e))
    for c in module.calls:
        f = c.node.func
        if isinstance(f, ast.Attribute) and f.attr == "copy_" and c.node.args and reads(c.node.args[0]):
            return c.node
    for a in module.nodes_of_kind.get(ast.Assign, ()):
        t = a.targets[0]
        if isinstance(t, ast.Attribute) and t.attr == "data" and reads(a.value):
            return a
    return None


def _buffer_clones_of(module: Module, expr: ast.AST, owner: str) -> Optional[ast.AST]:
    """The single binding of ``expr`` (a local name or ``self.attr``) when it is a dict of clones of
    ``<owner>.named_buffers()`` (``{k: v.clone() ...}``, ``copy.deepcopy(dict(...))``)."""
    text = dotted(expr)
    if text is None:
        return None
    bound = [n.value for n in module.nodes_of_kind.get(ast.Assign, ())
             if any(dotted(t) == text for t in n.targets)]
    if len(bound) != 1:
        return None
    value = bound[0]
    if isinstance(value, ast.DictComp):
        source = value.generators[0].iter
        cloned = any(isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr == "clone"
                     for n in astwalk.walk(value.value))
    elif isinstance(value, ast.Call) and (module.qualname(value.func) or "") == "copy.deepcopy" and value.args:
        source = value.args[0].args[0] if isinstance(value.args[0], ast.Call) and value.args[0].args else value.args[0]
        cloned = True
    else:
        return None
    if not (cloned and isinstance(source, ast.Call) and isinstance(source.func, ast.Attribute)
            and source.func.attr in ("named_buffers", "buffers")):
        return None
    return value if (dotted(source.func.value) or "").rsplit(".", 1)[-1] == owner else None


def _copied_back(module: Module, expr: ast.AST) -> bool:
    """Are the cloned buffers written back into a module (``load_state_dict(...)``, ``buf.copy_(...)``,
    ``setattr`` / ``register_buffer``) anywhere in the file?"""
    name = (dotted(expr) or "").rsplit(".", 1)[-1]
    for c in module.calls:
        f = c.node.func
        if isinstance(f, ast.Attribute) and f.attr in ("load_state_dict", "copy_", "register_buffer", "set_") \
                or isinstance(f, ast.Name) and f.id == "setattr":
            if any(isinstance(n, (ast.Name, ast.Attribute)) and (dotted(n) or "").rsplit(".", 1)[-1] == name
                   for a in c.node.args + [k.value for k in c.node.keywords] for n in astwalk.walk(a)):
                return True
            if isinstance(f, ast.Attribute) and f.attr == "copy_" and name in (dotted(f.value) or ""):
                return True
    return False


def _module_used_itself(module: Module, owner: str) -> bool:
    """Is the model run with its own buffers after all: put in eval mode, called, saved, or given to
    ``functional_call`` with parameters only?"""
    for c in module.calls:
        f = c.node.func
        base = f.value if isinstance(f, ast.Attribute) else f
        if (dotted(base) or "").rsplit(".", 1)[-1] != owner:
            if (c.qualname or "") in _FUNCTIONAL_CALL and len(c.node.args) >= 2 \
                    and (dotted(c.node.args[0]) or "").rsplit(".", 1)[-1] == owner \
                    and not isinstance(c.node.args[1], (ast.Tuple, ast.List, ast.Dict)):
                return True
            continue
        if isinstance(f, ast.Attribute) and f.attr in ("eval", "state_dict", "forward"):
            return True
        if f is base:
            return True  # model(x)
    return False


def _buffer_stats(cls: ast.ClassDef) -> list[tuple[str, ast.Call]]:
    out = []
    for n in astwalk.walk(cls):
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr == "register_buffer" and n.args:
            a = n.args[0]
            if isinstance(a, ast.Constant) and isinstance(a.value, str) and _STAT_NAMES.search(a.value):
                out.append((a.value, n))
    return out


def _stat_updates(fn: ast.AST, names: set[str]) -> list[ast.AST]:
    """Statements/calls in ``fn`` that write a running-statistics buffer."""
    out: list[ast.AST] = []

    def is_stat(e: ast.AST) -> bool:
        while isinstance(e, (ast.Attribute, ast.Subscript)):
            if isinstance(e, ast.Attribute) and e.attr in names and isinstance(e.value, ast.Name) and e.value.id == "self":
                return True
            e = e.value
        return False

    for n in astwalk.walk(fn):
        if isinstance(n, (ast.Assign, ast.AugAssign)):
            tgts = n.targets if isinstance(n, ast.Assign) else [n.target]
            tgts = [e for t in tgts for e in (t.elts if isinstance(t, (ast.Tuple, ast.List)) else [t])]
            if any(is_stat(t) for t in tgts):
                out.append(n)
        elif isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr.endswith("_") \
                and n.func.attr not in ("requires_grad_",) and is_stat(n.func.value):
            out.append(n)
    return out


@register
class HandWrittenBNStats(Rule):
    code = "BN307"
    name = "hand-written-bn-stats-update"
    framework = "pytorch"
    summary = "hand-written BN updates its running statistics without checking self.training (or never)"
    triggers = ("register_buffer",)
    doc = RuleDoc(
        what="""
Finds `nn.Module` classes that register running-statistics buffers (`running_mean`, `running_var`,
`moving_mean`...) and either update them in `forward` without checking `self.training`, call
`F.batch_norm(..., training=True)` unconditionally, or never update them anywhere in the project
although `forward` normalizes with them.
""",
        why="""
`model.eval()` only flips `self.training`; a hand-written layer must read it. A layer that updates
its statistics unconditionally keeps absorbing validation and test batches (and normalizes them
with batch statistics); a layer that never updates them normalizes with the initial zeros and ones.
""",
        example="""
def forward(self, x):
    mean, var = x.mean(0), x.var(0)
    self.running_mean.mul_(0.9).add_(0.1 * mean.detach())
    return (x - mean) / (var + 1e-5).sqrt() * self.weight + self.bias
""",
        use_instead="""
def forward(self, x):
    if self.training:
        mean, var = x.mean(0), x.var(0)
        with torch.no_grad():
            self.running_mean.mul_(0.9).add_(0.1 * mean)
    else:
        mean, var = self.running_mean, self.running_var
    return (x - mean) / (var + 1e-5).sqrt() * self.weight + self.bias
""",
        not_flagged="""
Updates under `if self.training` (or any flag about training / updating / collecting statistics),
after an early `if not self.training: return`; frozen BN classes (no trainable parameters or a
name saying frozen / fixed); statistics updated by another method of the class (recalibration);
classes that nothing in the project constructs, subclasses or refers to (the naive reference
BatchNorm that vendored copies of Synchronized-BatchNorm-PyTorch carry for their numeric tests) —
a class with a decorator (a registry) counts as used.
""",
        versions=PYTORCH_VERSIONS,
    )

    def check(self, module: Module, project: Project) -> Iterable[Finding]:
        from bnguard.lint.values import always_true

        for cls in module.classes:
            stats = _buffer_stats(cls)
            if not stats or _FROZEN_CLASS.search(cls.name) or not _class_has_parameters(cls, module):
                continue
            if not cls.decorator_list and (_class_never_used(cls.name, project)
                                           or _class_built_only_by_tests(cls.name, project)):
                continue  # a reference re-implementation only tests build (vendored sync_batchnorm's test helper)
            names = {s for s, _ in stats}
            forwards = _forward_methods(cls, module)
            if not forwards:
                continue
            found = False
            for fn in forwards:
                for upd in _stat_updates(fn, names):
                    if not _training_guarded(module, upd, fn):
                        found = True
                        yield self.finding(
                            module, upd,
                            f"`{cls.name}` updates its running statistics in forward without checking "
                            f"`self.training`: in eval mode they absorb the evaluation data. Guard the update "
                            f"with `if self.training:`.")
                        break
                for n in astwalk.walk(fn):
                    if isinstance(n, ast.Call) and (module.qualname(n.func) or "") in F_BATCH_NORM:
                        flag = _kw(n, "training") or (n.args[5] if len(n.args) > 5 else None)
                        if flag is not None and (isinstance(flag, ast.Constant) and flag.value is True or always_true(flag, module, project)) \
                                and not _training_guarded(module, n, fn):
                            found = True
                            yield self.finding(
                                module, flag,
                                f"`{cls.name}.forward` calls batch_norm with training=True whatever the mode: in "
                                f"eval mode it normalizes with batch statistics and folds the evaluation data into "
                                f"the running statistics. Pass `training=self.training`.")
                if found:
                    break
            if found:
                continue
            # never updated: not in any method, not by F.batch_norm, not from outside the class
            if any(_stat_updates(f, names) for f in cls.body if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))):
                continue
            if _stats_passed_to_functional(cls, names) or _stats_written_elsewhere(project, names, module):
                continue
            reads = any(isinstance(n, ast.Attribute) and n.attr in names and isinstance(n.value, ast.Name) and n.value.id == "self"
                        for f in forwards for n in astwalk.walk(f))
            if not reads:
                continue
            name, call = stats[0]
            yield self.finding(
                module, call,
                f"`{cls.name}` registers `{name}` and normalizes with it in forward but nothing ever updates it: "
                f"evaluation uses the initial values. Update it in training (`if self.training:`).")


def _stats_passed_to_functional(cls: ast.ClassDef, names: set[str]) -> bool:
    """``F.batch_norm(x, self.running_mean, ...)`` / ``torch.batch_norm`` / any call taking the buffer
    (it may update it in place)."""
    for n in astwalk.walk(cls):
        if isinstance(n, ast.Call):
            for a in list(n.args) + [k.value for k in n.keywords]:
                if isinstance(a, ast.Attribute) and a.attr in names and isinstance(a.value, ast.Name) and a.value.id == "self":
                    last = (dotted(n.func) or "").rsplit(".", 1)[-1]
                    if last not in ("sqrt", "rsqrt", "view", "reshape", "to", "unsqueeze", "expand_as", "expand", "add", "sub", "mul", "div"):
                        return True
    return False


def _stats_written_elsewhere(project: Project, names: set[str], module: Optional[Module] = None) -> bool:
    """Does code outside the class write the buffers (``layer.running_mean = ...``,
    ``bn.running_var.copy_(...)``)? Only the modules of ``module``'s program (its import component)
    can reach the class: another script's writes to its own layers say nothing about this one."""
    for m in _program_modules(project, module):
        for n in astwalk.walk(m.tree):
            if isinstance(n, (ast.Assign, ast.AugAssign)):
                for t in (n.targets if isinstance(n, ast.Assign) else [n.target]):
                    if isinstance(t, ast.Attribute) and t.attr in names and not (isinstance(t.value, ast.Name) and t.value.id == "self"):
                        return True
            elif isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and isinstance(n.func.value, ast.Attribute) \
                    and n.func.value.attr in names and not (isinstance(n.func.value.value, ast.Name) and n.func.value.value.id == "self"):
                return True
    return False


# ------------------------------------------------------------------------------------------------
# BN306 averaged models with stale BN statistics
# ------------------------------------------------------------------------------------------------
_AVERAGED_MODEL = {"torch.optim.swa_utils.AveragedModel", "torch.optim.AveragedModel"}
_RECOMPUTE = re.compile(r"^(update_bn|bn_update|update_bn_stats|precise_bn|recompute_bn|recalibrate|fix_bn_stats)$", re.I)


def _recomputed_models(project: Project, module: Module) -> Optional[list]:
    """Keys of the models that the ``update_bn`` / precise-BN calls of ``module``'s program (the
    modules connected to it by imports) recompute: empty when there are none; None when some
    recompute call's model cannot be told (another helper, a parameter, a computed expression):
    then it may be any model."""
    component = project.import_component(module)
    keys = []
    for site, key in project.fact("torch.recompute_calls", _recompute_calls):
        if id(site.module) not in component:
            continue
        if key is None:
            return None
        keys.append(key)
    return keys


def _recompute_sites(project: Project, module: Module, key: Key) -> list:
    """The call sites of ``module``'s program that recompute the BN statistics of ``key``."""
    component = project.import_component(module)
    return [site for site, k in project.fact("torch.recompute_calls", _recompute_calls)
            if id(site.module) in component and k is not None and same_object(k, key)]


def _recompute_calls(project: Project) -> list:
    """(call site, key of the recomputed model or None when it cannot be told) for every
    BN-recompute call of the project, found once."""
    from bnguard.lint.rules.torch_recalibration import cumulative_pass_functions

    out = []
    writers = dict(_running_stat_writers(project))
    for name, ids in cumulative_pass_functions(project).items():  # momentum = None + train-mode passes
        writers[name] = writers.get(name, set()) | ids
    for m in project.modules:
        for c in m.calls:
            if c.name in writers and c.qualname is None and any(
                    id(fi.node) in writers[c.name] and id(fi.module) in project.import_component(m)
                    for fi in project.functions(c.name)):
                out.append((c, None))  # a hand-written precise-BN pass of this program: whatever model it is given
                continue
            if not (c.name and _RECOMPUTE.match(c.name) or (c.qualname or "").endswith("update_bn")):
                continue
            if not ((c.qualname or "").endswith("swa_utils.update_bn") or c.name == "update_bn"):
                out.append((c, None))
                continue
            arg = c.node.args[1] if len(c.node.args) > 1 else _kw(c.node, "model")
            key = receiver_key(arg, {}, set())[0] if arg is not None else None
            if key is None or (c.scope is not None and not isinstance(c.scope, ast.Lambda)
                               and key[0].lstrip("$%") in _params(c.scope)):
                key = None  # update_bn(loader, model) in a helper: whatever its caller passes
            out.append((c, key))
    return out


_RUNNING_STATS = frozenset({"running_mean", "running_var"})


def _running_stat_writers(project: Project) -> dict[str, set[int]]:
    """The project functions (name -> ids of their definitions) that write BN running statistics computed from data
    (``bn.running_mean.copy_(x.mean(1))``, ``m.running_var = var``, ``m.running_mean.data[:] = mu``):
    hand-written precise-BN / recalibration passes. A reset (``reset_running_stats()``,
    ``.zero_()``, ``.fill_(1)``) is not one."""
    def compute(p: Project) -> dict[str, set[int]]:
        names: dict[str, set[int]] = {}  # function name -> ids of the writing definitions
        for m in p.modules:
            if "running_" not in m.unit.text:
                continue
            for fi in m.functions:
                if fi.name in ("forward", "__init__", "__call__"):
                    continue  # a hand-written BN layer's own update: not a pass over a model
                for n in astwalk.walk(fi.node):
                    target = None
                    if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr == "copy_" \
                            and n.args and not isinstance(n.args[0], ast.Constant):
                        target = n.func.value
                    elif isinstance(n, (ast.Assign, ast.AugAssign)):
                        tgts = n.targets if isinstance(n, ast.Assign) else [n.target]
                        target = next((t for t in tgts if isinstance(t, (ast.Attribute, ast.Subscript))), None)
                        if isinstance(n.value, ast.Constant):
                            target = None
                    while isinstance(target, (ast.Subscript, ast.Attribute)) and not (
                            isinstance(target, ast.Attribute) and target.attr in _RUNNING_STATS):
                        target = target.value  # `.running_mean.data[:]` -> `.running_mean`
                    if isinstance(target, ast.Attribute) and target.attr in _RUNNING_STATS:
                        names.setdefault(fi.name, set()).add(id(fi.node))
                        break
        return names

    return project.fact("torch.running_stat_writers", compute)


def _averaged_into(key: Key, project: Project) -> bool:
    """Does anything call ``update_parameters`` on the averaged model (``swa.update_parameters(model)``)?"""
    return any(isinstance(c.node.func, ast.Attribute) and same_object(receiver_key(c.node.func.value, {}, set())[0], key)
               for c in project.call_sites("update_parameters"))


def _handles_buffers(key: Key, project: Project, module: Module) -> bool:
    """``swa.buffers()`` / ``named_buffers()`` / ``state_dict()`` copies into the averaged model."""
    for m in _program_modules(project, module):  # this program only: other scripts have their own
        for n in astwalk.walk(m.tree):
            if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr in ("buffers", "named_buffers"):
                k, _ = receiver_key(n.func.value, {}, set())
                if same_object(k, key):
                    return True
    return False


def _forwarded_in_train_mode(key: Key, project: Project, module: Module) -> bool:
    """The averaged copy is run forward (``target(x)``) and never switched to eval mode: in train
    mode each forward updates its own running statistics."""
    names = key_names(key)
    forwarded = False
    for m in _program_modules(project, module):  # this program only: other scripts have their own
        for c in m.calls:
            f = c.node.func
            if isinstance(f, ast.Attribute) and mode_call(c.node) == "eval" \
                    and key_names(receiver_key(f.value, {}, set())[0]) == names:
                return False
            callee = f.value if isinstance(f, ast.Attribute) and f.attr == "forward" else f
            if isinstance(callee, (ast.Name, ast.Attribute)) and key_names(receiver_key(callee, {}, set())[0]) == names:
                forwarded = True  # target(x) / self.target(x) / target.forward(x)
                continue
            for a in c.node.args:
                if isinstance(a, (ast.Name, ast.Attribute)) and key_names(receiver_key(a, {}, set())[0]) == names:
                    mode = _helper_runs_argument(m, c.node, a, project)
                    if mode == "eval":
                        return False
                    forwarded = forwarded or mode == "train"
    return forwarded


def _helper_runs_argument(m: Module, call: ast.Call, arg: ast.AST, project: Project) -> Optional[str]:
    """``self.recalculate_loss(self.old_model, loader)`` with ``def recalculate_loss(self, new_model,
    ...)`` running ``new_model(x)``: "train" when the project helper(s) run the argument forward without
    switching it to eval mode, "eval" when one switches it, None when no helper runs it."""
    cands, unique = _flow(project).resolve(m, call, m.scope_of(call))
    if not unique:
        cands = _methods_of_visible_classes(m, cands, project)
    mode = None
    for fi in cands:
        param = next((p for p, a in call_arguments(fi, call)[1].items() if a is arg), None)
        if param is None:
            continue
        for n in astwalk.walk(fi.node):
            if not isinstance(n, ast.Call):
                continue
            f = n.func
            if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) and f.value.id == param \
                    and (mode_call(n) == "eval" or f.attr == "train" and n.args):
                return "eval"  # new_model.eval() / new_model.train(False): its running statistics are read
            if isinstance(f, ast.Name) and f.id == param or isinstance(f, ast.Attribute) and f.attr == "forward" \
                    and isinstance(f.value, ast.Name) and f.value.id == param:
                mode = "train"
    return mode


def _loaded_back_into(src_key: Key, avg_key: Key, project: Project, module: Module) -> bool:
    """``model.load_state_dict(swa_model.module.state_dict())`` in the training-time hook that also
    calls ``swa_model.update_parameters(model)``: the averaged weights go back into the model being
    trained (composer's SWA before its last epochs), whose own training then brings the BN
    statistics up to date. (Loading the average for a final evaluation, after the training loop,
    keeps the stale statistics: not exempt.)"""
    avg_names = key_names(avg_key)
    program = project.import_component(module)
    for c in project.call_sites("load_state_dict"):
        f = c.node.func
        if id(c.module) not in program:
            continue
        if not (isinstance(f, ast.Attribute) and c.node.args and same_object(receiver_key(f.value, {}, set())[0], src_key)):
            continue
        # a hook: updates and loads in one call, itself called from the training loop (a loop of its
        # own around update_parameters is the training loop, and the load after it the final step)
        if c.scope is None or not any(
                isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr == "update_parameters"
                and key_names(receiver_key(n.func.value, {}, set())[0]) & avg_names
                and not any(isinstance(a, LOOP_TYPES) and _inside(c.module, a, c.scope) for a in c.module.ancestors(n))
                for n in astwalk.walk(c.scope)):
            continue
        if any(isinstance(n, (ast.Name, ast.Attribute)) and (n.id if isinstance(n, ast.Name) else n.attr) in avg_names
               for n in astwalk.walk(c.node.args[0])):
            return True
    return False


def _is_used(key: Key, module: Module, project: Project, owner: Optional[ast.ClassDef] = None) -> bool:
    """The averaged model is evaluated, called, saved or returned somewhere. ``owner``: the class
    whose ``self`` holds it (``self.old_model``): another class's ``self.old_model`` is another object.
    Handing it to project functions that only read its ``.parameters()`` (a federated server's
    ``client.set_parameters(global_model)`` copying the weights into each client's own model) is
    no use of its BatchNorm statistics."""
    names = key_names(key)
    for m in _program_modules(project, module):  # this program only: other scripts have their own
        for n in astwalk.walk(m.tree):
            if not _uses_average(n, names):
                continue
            if owner is not None and _attribute_of_unrelated_class(n, names, m, owner, project):
                continue
            if _only_parameters_handed_on(n, names, m, project):
                continue
            return True
    return False


def _attribute_of_unrelated_class(n: ast.AST, names: set, m: Module, owner: ast.ClassDef, project: Project) -> bool:
    """Does ``n`` name the average only as ``self.<name>`` inside a class unrelated to ``owner``?"""
    cls = m.enclosing_class(n)
    if cls is None or _related_classes(cls, owner, project):
        return False
    refs = [x for x in astwalk.walk(n) if isinstance(x, ast.Attribute) and x.attr in names]
    return bool(refs) and all(isinstance(x.value, ast.Name) and x.value.id == "self" for x in refs)


def _only_parameters_handed_on(n: ast.AST, names: set, m: Module, project: Project, depth: int = 0) -> bool:
    """Is ``n`` (a use found by ``_uses_average``) only the average passed as an argument to project
    functions that read nothing of it but its parameters, or only returned to callers that do so?"""
    if isinstance(n, ast.Return):
        return _result_reads_parameters_only(m, n, project, depth)
    if not isinstance(n, ast.Call):
        return False
    d = [p for p in (dotted(n.func) or "").split(".") if p not in ("self", "module")]
    if d and d[-1] in names or len(d) >= 2 and d[-2] in names:
        return False  # swa_model(x) / swa_model.eval(): a use of its own
    passed = [a for a in n.args if (dotted(a) or "").rsplit(".", 1)[-1] in names]
    return bool(passed) and all(not _callees_use_argument(m, n, a, project, depth) for a in passed)


_PARAMETER_READS = ("parameters", "named_parameters")


def _callees_use_argument(m: Module, call: ast.Call, arg: ast.AST, project: Project, depth: int) -> bool:
    """May the project function(s) ``call`` runs use ``arg`` beyond its ``.parameters()``? True when
    the callee is not a project function (a library, ``torch.save``) or cannot be followed."""
    if depth > 3:
        return True
    cands, unique = _flow(project).resolve(m, call, m.scope_of(call))
    if not cands:
        return True
    if not unique:
        cands = _methods_of_visible_classes(m, cands, project) or cands
    for fi in cands:
        param = next((p for p, a in call_arguments(fi, call)[1].items() if a is arg), None)
        if param is None or _parameter_used(fi.node, param, fi.module, project, depth + 1):
            return True
    return False


def _methods_of_visible_classes(m: Module, cands: list, project: Project) -> list:
    """Of the methods ``client.set_parameters(...)`` may run (one per client class of a library),
    those a class imported or defined in the caller's module runs, itself or through a project
    base class: the objects a server module drives are built from the classes it imports."""
    by_class = {id(fi.cls): fi for fi in cands if fi.cls is not None}
    visible = set(m.imports.aliases) | {c.name for c in m.classes}
    for node in m.tree.body:  # ``from flcore.clients.clientcp import *``: that module's classes
        if isinstance(node, ast.ImportFrom) and node.module and any(a.name == "*" for a in node.names):
            star = project.module_named(node.module, importer=m)
            visible |= {c.name for c in star.classes} if star is not None else set()
    defs = _bn_classes(project).defs
    out = []
    for name in visible:
        for node, _where in defs.get(name, ()):
            if not isinstance(node, ast.ClassDef):
                continue
            todo, seen = [node], set()
            while todo:  # the class, then its bases: the first that defines the method runs it
                c = todo.pop(0)
                if id(c) in seen or not isinstance(c, ast.ClassDef):
                    continue
                seen.add(id(c))
                if id(c) in by_class:
                    if by_class[id(c)] not in out:
                        out.append(by_class[id(c)])
                    break
                for b in c.bases:
                    todo.extend(n for n, _w in defs.get((dotted(b) or "").rsplit(".", 1)[-1], ()))
    return out


def _parameter_used(fn: ast.AST, name: str, m: Module, project: Project, depth: int) -> bool:
    """Does ``fn`` use its parameter ``name`` beyond reading its parameters (``zip(model.parameters(),
    ...)``, ``model.base.parameters()``), directly or through the project functions it passes it to?"""
    for x in astwalk.walk(fn):
        if not (isinstance(x, ast.Name) and x.id == name and isinstance(x.ctx, ast.Load)):
            continue
        up, top = m.parent(x), x
        while isinstance(up, ast.Attribute) and up.value is top:
            up, top = m.parent(up), up
        if isinstance(top, ast.Attribute) and top.attr in _PARAMETER_READS and isinstance(up, ast.Call) and up.func is top:
            continue  # model.parameters() / model.base.parameters()
        if top is x and isinstance(up, ast.Call) and x in up.args and not _callees_use_argument(m, up, x, project, depth):
            continue
        return True
    return False


def _result_reads_parameters_only(m: Module, ret: ast.Return, project: Project, depth: int) -> bool:
    """``return agg`` from a function each of whose callers binds the result to a name
    (``agg = server.aggregate(...)``) that its function only hands to parameter readers."""
    fn = m.scope_of(ret)
    if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)) or depth > 3:
        return False
    flow = _flow(project)
    sites = [c for c in project.call_sites(fn.name)
             if any(fi.node is fn for fi in flow.resolve(c.module, c.node, c.scope)[0])]
    if not sites:
        return False
    for c in sites:
        bound = c.module.parent(c.node)
        if not (isinstance(bound, ast.Assign) and len(bound.targets) == 1 and isinstance(bound.targets[0], ast.Name)
                and bound.value is c.node):
            return False
        where = c.scope if c.scope is not None else c.module.tree
        if _parameter_used(where, bound.targets[0].id, c.module, project, depth + 1):
            return False
    return True


def _uses_average(n: ast.AST, names: set) -> bool:
    """Is ``n`` a use of the averaged model named by one of ``names`` (called, evaluated, saved,
    passed on, returned)?"""
    if isinstance(n, ast.Call):
        d = dotted(n.func) or ""
        parts = [p for p in d.split(".") if p not in ("self", "module")]
        if parts and parts[-1] in names:
            return True  # swa_model(x)
        if len(parts) >= 2 and parts[-2] in names and parts[-1] in ("eval", "state_dict", "forward", "predict"):
            return True
        callee = d.rsplit(".", 1)[-1]
        for a in n.args:
            ad = dotted(a) or ""
            if ad and ad.rsplit(".", 1)[-1] in names and callee not in ("AveragedModel", "update_parameters", "deepcopy", "update_bn"):
                return True
    elif isinstance(n, ast.Return) and n.value is not None and (dotted(n.value) or "").rsplit(".", 1)[-1] in names:
        return True
    return False


def _recompute_precedes_averaging(avg_key: Key, project: Project, module: Module) -> bool:
    """Every ``update_bn`` of the averaged model runs in a loop body BEFORE that body's
    ``avg.update_parameters(model)`` (statement order), and the average is used after the averaging
    (later in that body or after the loop): what is used carries the statistics of the previous
    average, recomputed before the last weights were folded in."""
    recomputes = _recompute_sites(project, module, avg_key)
    component = project.import_component(module)
    updates = [c for c in project.call_sites("update_parameters")
               if id(c.module) in component and isinstance(c.node.func, ast.Attribute)
               and same_object(receiver_key(c.node.func.value, {}, set())[0], avg_key)]
    if not recomputes or not updates:
        return False
    orders = []
    for r in recomputes:
        order = next((o for u in updates if u.module is r.module and u.scope is r.scope
                      for o in [_runs_before_in_loop(r.module, r.node, u.node)] if o is not None), None)
        if order is None:
            return False  # a recompute after the averaging (or elsewhere): the usual, correct order
        orders.append((r.module, order))
    names = key_names(avg_key)
    return any(_uses_average(n, names) for m, (stmts, after) in orders
               for stmt in _statements_after(m, stmts, after) for n in astwalk.walk(stmt))


def _runs_before_in_loop(m: Module, first: ast.AST, second: ast.AST):
    """When ``first`` and ``second`` sit in one statement list, ``first``'s statement earlier, and
    that list is inside a loop of their function: (the list, index of ``second``'s statement)."""
    chain_first = [first, *m.ancestors(first)]
    chain_second = [second, *m.ancestors(second)]
    on_second = {id(n): i for i, n in enumerate(chain_second)}
    for i, node in enumerate(chain_first):
        j = on_second.get(id(node))
        if j is None:
            continue
        if i == 0 or j == 0 or isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.Module)):
            return None
        a, b = chain_first[i - 1], chain_second[j - 1]
        for field in ("body", "orelse", "finalbody"):
            stmts = getattr(node, field, None)
            if isinstance(stmts, list) and a in stmts and b in stmts:
                if stmts.index(a) >= stmts.index(b):
                    return None
                in_loop = isinstance(node, LOOP_TYPES) and field == "body" or any(
                    isinstance(p, LOOP_TYPES) for p in _until_function(m, node))
                return (stmts, stmts.index(b)) if in_loop else None
        return None
    return None


def _until_function(m: Module, node: ast.AST):
    for p in m.ancestors(node):
        if isinstance(p, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            return
        yield p


def _statements_after(m: Module, stmts: list, index: int):
    """The statements that run after ``stmts[index]`` in its function: the rest of its list, then
    the rest of each enclosing statement's list."""
    yield from stmts[index + 1:]
    holder = m.parent(stmts[index])
    while holder is not None and not isinstance(holder, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.Module)):
        up = m.parent(holder)
        if up is None:
            return
        for field in ("body", "orelse", "finalbody", "handlers"):
            lst = getattr(up, field, None)
            if isinstance(lst, list) and holder in lst:
                yield from lst[lst.index(holder) + 1:]
                break
        holder = up


@register
class AveragedModelStaleBN(Rule):
    code = "BN306"
    name = "averaged-model-stale-bn"
    framework = "pytorch"
    summary = "AveragedModel / EMA copy of a BN model whose statistics are never recomputed"
    triggers = ("AveragedModel", "deepcopy", "update_bn", ".momentum")
    doc = RuleDoc(
        what="""
Finds `torch.optim.swa_utils.AveragedModel(model)` without `use_buffers=True` (also built by a
factory, `ema = build_ema(model, d)`), and hand-written EMA copies (`copy.deepcopy(model)` updated
parameter by parameter with `mul_`/`add_`/`lerp_`/`copy_` or by reassigning `.data`,
inline or in a helper such as `soft_update(net, target_net, tau)`, followed through its calls),
of a model that has BatchNorm, when the averaged copy is used (evaluated, called, saved) and nothing
in the project recomputes or copies its BN statistics (`update_bn`, a buffer copy). Also when every
`update_bn` of the average runs in a loop body BEFORE that body's `update_parameters` and the average
is used after the averaging (later in the body or after the loop) with no recompute after it.
Also recomputes that recompute nothing: `update_bn(loader, model)` on a model holding a project module
whose `train(mode)` override calls `super().train(mode)` and then puts its BatchNorm layers back in
eval mode whenever it trains (mmdetection's `norm_eval`, a `freeze_bn` flag that is true wherever the
module is built); and a hand-written pass that sets `bn.momentum = None` (cumulative average) and
forwards the model in train mode without resetting the statistics first, run on a copy made after
optimizer steps or called again in a loop.
""",
        why="""
Averaging parameters does not average BatchNorm's running statistics: `AveragedModel` keeps the
buffers of the model at construction time (the stats of the untrained network), and a
parameter-only EMA keeps those of the deepcopy. The averaged weights are then evaluated with
statistics that belong to other weights. `update_bn` resets every BatchNorm (mean 0, variance 1)
before its pass, and a layer that an override keeps in eval mode sees none of it: it keeps the reset
statistics. With `momentum = None` each batch weighs `1 / num_batches_tracked`; without
`reset_running_stats()` the counter continues from training and the pass barely moves the old statistics.
""",
        example="""
swa_model = AveragedModel(model)
for epoch in range(epochs):
    train_one_epoch(model, loader, optimizer)
    swa_model.update_parameters(model)
evaluate(swa_model, test_loader)
""",
        use_instead="""
swa_model = AveragedModel(model)
...
torch.optim.swa_utils.update_bn(train_loader, swa_model)
evaluate(swa_model, test_loader)
# or: AveragedModel(model, use_buffers=True)
""",
        not_flagged="""
`use_buffers=True`; a call to `update_bn` / `bn_update` / precise-BN on the averaged model (or on a
model that cannot be told, in a helper) after its `update_parameters`, or before it when the average is
only used between the two (evaluated right after its recompute); EMA classes that copy buffers or the whole `state_dict()`
(timm `ModelEma`, `ModelEmaV2/V3`); models whose class has no BatchNorm; averaged models that are
never used, and `AveragedModel` wrappers nothing calls `update_parameters` on (a container for loading
a saved average); per-task copies that get their own optimizer or whose loop writes into the
source's `.grad` (MAML / Reptile learners: trained, not averaged); plain parameter copies
(`p_dst.data = p_src.data.clone()`: no blend); a `self.x` copy blended or used only in another,
unrelated class (two sibling clients' `self.old_model`); a copy run forward in train mode, also
through a project helper it is passed to; an aggregate only handed (or returned) to project
functions that read just its `.parameters()` (a federated server's `client.set_parameters(avg)`);
a copy of one element of a list of models or heads of unknown make (`deepcopy(heads[0])`) when only
the project at large has BatchNorm; an average loaded back into the
trained model by the hook that updates it (composer's SWA before its last epochs: that model's own
training then re-estimates the statistics). For the recompute checks: override guards that may be false
(`norm_eval` passed False somewhere or not resolved), overrides that hand no mode on (BN311's case),
library models (the override is not read), fvcore's precise BN (it keeps layers in eval mode as they
are); cumulative passes that reset anything (`reset_running_stats`, `num_batches_tracked`, running
statistics written, a project helper or `apply` that may), and those run once on a copy made before
any optimizer step (its counter is still 0) or on a model that cannot be told.
""",
        versions="PyTorch >= 1.6 (`torch.optim.swa_utils`), `use_buffers` since 1.10.",
    )

    def check(self, module: Module, project: Project) -> Iterable[Finding]:
        from bnguard.lint.rules.torch_recalibration import cumulative_without_reset_findings, update_bn_reset_findings
        from bnguard.lint.values import always_true

        for node, message in update_bn_reset_findings(module, project):
            yield self.finding(module, node, message)
        for mod, node, message in cumulative_without_reset_findings(project):
            if mod is module:
                yield self.finding(module, node, message)
        recomputed = _recomputed_models(project, module)
        if recomputed is None:
            return  # a recompute whose model cannot be told: assume it is the averaged one
        for site in module.calls:
            if (site.qualname or "") in _AVERAGED_MODEL or (site.name == "AveragedModel" and "swa_utils" in module.unit.text):
                ub = _kw(site.node, "use_buffers")
                if ub is not None and (isinstance(ub, ast.Constant) and ub.value is True or always_true(ub, module, project)
                                       or not isinstance(ub, ast.Constant)):
                    continue
                yield from self._judge(module, project, site.node, "AveragedModel", recomputed)
            elif (site.qualname or "") == "copy.deepcopy" and site.node.args:
                blend = self._parameter_only_ema(module, project, site)
                if blend is not None:
                    yield from self._judge(module, project, site.node, "EMA copy", recomputed, blend)

    def _judge(self, module: Module, project: Project, call: ast.Call, kind: str,
               recomputed: list, blend: Optional[tuple[Module, ast.Call]] = None) -> Iterable[Finding]:
        parent = _assignment_of(module, call)
        if isinstance(parent, ast.Return):
            bound = _factory_result(module, project, call)  # ema = build_ema(model, decay)
            if bound is None:
                return
            (avg_key, avg_text), (src_key, src_text) = bound
        elif isinstance(parent, ast.Assign) and len(parent.targets) == 1:
            avg_key, avg_text = receiver_key(parent.targets[0], {}, set())
            src_key, src_text = receiver_key(call.args[0], {}, set()) if call.args else (None, "")
        else:
            return
        if not avg_key or not src_key:
            return
        stale_order = False
        if any(same_object(k, avg_key) for k in recomputed):
            if not (kind == "AveragedModel" and _recompute_precedes_averaging(avg_key, project, module)):
                return
            stale_order = True
        if kind == "AveragedModel" and not _averaged_into(avg_key, project):
            return  # never update_parameters(): a shell for loading an averaged checkpoint, not an average
        has_bn = _model_has_bn(src_key, project, module)
        if has_bn is False or (has_bn is None and not _project_has_bn(project)):
            return
        if has_bn is None and src_key[-1] == ELEMENT:
            # ``deepcopy(models[0])`` / ``deepcopy(self.uploaded_heads[0])``: one element of a list
            # of models or heads of unknown make (a federated aggregate): BatchNorm somewhere in the
            # project says nothing about it
            return
        avg_owner = _self_owner(parent.targets[0], module) if isinstance(parent, ast.Assign) else None
        if _handles_buffers(avg_key, project, module) or not _is_used(avg_key, module, project, avg_owner):
            return
        if _forwarded_in_train_mode(avg_key, project, module):
            return  # its own forward passes keep its statistics current (BYOL / mean-teacher targets)
        if _loaded_back_into(src_key, avg_key, project, module):
            return  # the average goes back into the live model, whose training re-estimates the statistics
        if stale_order:
            yield self.finding(
                module, call,
                f"`update_bn(..., {avg_text})` runs before `{avg_text}.update_parameters(...)`: the average that is "
                f"used afterwards carries the BatchNorm statistics of the previous average, not of its own "
                f"weights. Recompute the statistics after the last `update_parameters` call.",
                severity="error" if has_bn else "warning")
            return
        if blend is not None and (dotted(blend[1].func) or "").endswith("vector_to_parameters"):
            # a weight average (model soup) written into a copy: the buffers of the copy's source fit
            # none of the averaged weights, so only a recompute helps
            where, zip_call = blend
            kind = "parameter average"
            remedy = (f"Its parameters are overwritten with an average of flattened parameter vectors "
                      f"({where.where(zip_call.lineno)}) and the buffers stay `{src_text}`'s: recompute them with "
                      f"`torch.optim.swa_utils.update_bn(loader, {avg_text})` after writing the average.")
        elif blend is not None:  # a hand-written Polyak / EMA update: the fix belongs in that loop
            where, zip_call = blend
            remedy = (f"The update that blends its parameters ({where.where(zip_call.lineno)}) should also "
                      f"copy the buffers (`for b, src in zip({avg_text}.buffers(), {src_text}.buffers()): "
                      f"b.copy_(src)`), or recompute them with `torch.optim.swa_utils.update_bn(loader, {avg_text})` "
                      "before using it.")
        else:
            remedy = (f"Call `torch.optim.swa_utils.update_bn(loader, {avg_text})` before using it, or pass "
                      "`use_buffers=True`.")
        yield self.finding(
            module, call,
            f"`{avg_text}` ({kind} of `{src_text}`) averages parameters only; its BatchNorm running statistics "
            f"are never recomputed, so it is evaluated with statistics of other weights. " + remedy,
            severity="error" if has_bn else "warning")

    def _parameter_only_ema(self, module: Module, project: Project, site) -> Optional[tuple[Module, ast.Call]]:
        """``ema = deepcopy(model)`` whose parameters are blended in place from the live model:
        where the blend happens (its module and ``zip`` call), or None."""
        parent = _assignment_of(module, site.node)
        if not (isinstance(parent, ast.Assign) and len(parent.targets) == 1):
            return None
        ema_key, _ = receiver_key(parent.targets[0], {}, set())
        if not ema_key:
            return None
        if key_names(ema_key) & _trained_names(project):
            return None  # the copy gets its own optimizer (MAML / Reptile task learner): trained, not averaged
        ema_class = module.enclosing_class(parent) if (dotted(parent.targets[0]) or "").startswith("self.") else None
        blend = None
        for kind, key, owner, where, zip_call in _zip_updates(project):
            if not same_object(key, ema_key):
                continue
            if ema_class is not None and owner is not None and not _related_classes(ema_class, owner, project):
                continue  # ``self.old_model`` of another class (a sibling client): another object
            if kind == "buffers":
                return None
            blend = blend or (where, zip_call)
        return blend


def _factory_result(module: Module, project: Project, call: ast.Call):
    """``def build_ema(model, decay): return AveragedModel(model, ...)`` called once as
    ``ema = build_ema(net, 0.999)``: (key, text) of ``ema`` and of ``net``. None unless the averaged
    model's source is a parameter of the factory and exactly one call site assigns the result."""
    fn = module.scope_of(call)
    if fn is None or not call.args or not isinstance(call.args[0], ast.Name):
        return None
    info = next((fi for fi in module.functions if fi.node is fn), None)
    if info is None or info.cls is not None or call.args[0].id not in _params(fn):
        return None
    component = project.import_component(module)
    sites = [c for c in project.call_sites(fn.name) if id(c.module) in component and isinstance(c.node.func, ast.Name)]
    if len(sites) != 1:
        return None
    site = sites[0]
    target = site.module.parent(site.node)
    if not (isinstance(target, ast.Assign) and len(target.targets) == 1):
        return None
    _self, passed = call_arguments(info, site.node)
    src = passed.get(call.args[0].id)
    if src is None:
        return None
    return receiver_key(target.targets[0], {}, set()), receiver_key(src, {}, set())


def _assignment_of(module: Module, call: ast.Call) -> Optional[ast.AST]:
    """The statement holding ``call``'s value, through Module methods that return the module
    (``shadow = copy.deepcopy(model).eval()`` / ``.to(device)`` / ``.requires_grad_(False)``)."""
    node: ast.AST = call
    parent = module.parent(node)
    while isinstance(parent, ast.Attribute) and parent.attr in _SAME_OBJECT_METHODS:
        outer = module.parent(parent)
        if not (isinstance(outer, ast.Call) and outer.func is parent):
            break
        node, parent = outer, module.parent(outer)
    return parent


_ZipUpdate = tuple[str, Key, Optional[ast.ClassDef], Module, ast.Call]


def _zip_updates(project: Project) -> list[_ZipUpdate]:
    """``zip(a.parameters(), b.parameters())`` loops that blend in place ("params", key of each
    side) and ``zip(a.state_dict()/buffers(), ...)`` copies ("buffers", key), each with the class
    whose ``self`` the side is an attribute of (None for other expressions), and the module and
    ``zip`` call where it happens."""

    def compute(p: Project) -> list[_ZipUpdate]:
        out: list[_ZipUpdate] = []
        for m in p.modules:
            for c in m.calls:
                if c.name == "vector_to_parameters":
                    target = _averaged_vector_target(c.node, c.scope, m)
                    if target is not None:
                        key = receiver_key(target, {}, set())[0]
                        if key is not None:
                            out.append(("params", key, _self_owner(target, m), m, c.node))
                            out.extend(("params", k, owner, m, c.node) for k, owner in _passed_for(target, c.scope, m, p))
                    continue
                if c.name != "zip":
                    continue
                srcs = [a for a in c.node.args if isinstance(a, ast.Call) and isinstance(a.func, ast.Attribute)]
                for a in srcs:
                    key = receiver_key(a.func.value, {}, set())[0]  # type: ignore[attr-defined]
                    if key is None:
                        continue  # ``getattr(self, name).parameters()``: no object to match a copy against
                    if a.func.attr in ("state_dict", "buffers", "named_buffers"):  # type: ignore[attr-defined]
                        kind = "buffers"
                    elif a.func.attr in ("parameters", "named_parameters"):  # type: ignore[attr-defined]
                        loop = m.parent(c.node)
                        if not (isinstance(loop, (ast.For, ast.comprehension)) and _blends_side(loop, c.node, a)):
                            continue
                        kind = "params"
                    else:
                        continue
                    out.append((kind, key, _self_owner(a.func.value, m), m, c.node))  # type: ignore[attr-defined]
                    # soft_update(net, target_net, tau) / update_ema(model, ema_model): the helper's
                    # parameter is whatever each call passes (self.target_critic)
                    out.extend((kind, k, owner, m, c.node)
                               for k, owner in _passed_for(a.func.value, c.scope, m, p))  # type: ignore[attr-defined]
        return out

    return project.fact("torch.zip_updates", compute)


_AVERAGING_CALLS = frozenset({"mean", "sum", "lerp", "average"})


def _averaged_vector_target(call: ast.Call, scope, m: Module) -> Optional[ast.AST]:
    """``vector_to_parameters(vec, soup.parameters())`` where ``vec`` averages flattened parameter
    vectors (``torch.stack([parameters_to_vector(x.parameters()) for x in runs]).mean(0)``, a sum
    divided by a count, ``lerp``): the model written (``soup``). Only parameters travel through the
    vector, so the model keeps the buffers it had. None for a plain copy of one vector or any other
    call."""
    if len(call.args) != 2:
        return None
    dest = call.args[1]
    if not (isinstance(dest, ast.Call) and isinstance(dest.func, ast.Attribute) and dest.func.attr == "parameters"):
        return None
    vec = call.args[0]
    # the vector's expression and, one level down, what its local names were assigned
    # (``flat = torch.stack([parameters_to_vector(...) ...]); vector_to_parameters(flat.mean(0), ...)``)
    parts = [vec]
    read = {n.id for n in astwalk.walk(vec) if isinstance(n, ast.Name)}
    if read and scope is not None:
        parts += [n.value for n in astwalk.walk(scope) if isinstance(n, ast.Assign) and len(n.targets) == 1
                  and isinstance(n.targets[0], ast.Name) and n.targets[0].id in read]
    nodes = [n for part in parts for n in astwalk.walk(part)]
    from_vectors = any(isinstance(n, ast.Call) and (dotted(n.func) or "").rsplit(".", 1)[-1] == "parameters_to_vector"
                       for n in nodes)
    averages = any(isinstance(n, ast.Call) and ((dotted(n.func) or "").rsplit(".", 1)[-1] in _AVERAGING_CALLS)
                   for n in nodes) or any(isinstance(n, ast.BinOp) and isinstance(n.op, ast.Div) for n in nodes)
    return dest.func.value if from_vectors and averages else None


def _self_owner(expr: ast.AST, m: Module) -> Optional[ast.ClassDef]:
    """The class whose instance ``expr`` (``self.ema``) is an attribute of; None unless ``self.``."""
    return m.enclosing_class(expr) if (dotted(expr) or "").startswith("self.") else None


def _related_classes(a: ast.ClassDef, b: ast.ClassDef, project: Project) -> bool:
    """Is one of the classes ``a`` / ``b`` the other or a project base class of it? Their ``self.x``
    may then be one attribute; two sibling subclasses of one base each have their own."""
    return id(a) in _class_lineage(b, project) or id(b) in _class_lineage(a, project)


def _class_lineage(cls: ast.ClassDef, project: Project) -> set[int]:
    """Ids of ``cls`` and of its project base classes (by name, transitively)."""
    defs = _bn_classes(project).defs
    seen: set[int] = set()
    todo: list[ast.AST] = [cls]
    while todo:
        c = todo.pop()
        if id(c) in seen or not isinstance(c, ast.ClassDef):
            continue
        seen.add(id(c))
        for b in c.bases:
            todo.extend(node for node, _m in defs.get((dotted(b) or "").rsplit(".", 1)[-1], ()))
    return seen


def _passed_for(expr: ast.AST, scope, m: Module, project: Project) -> list[tuple[Key, Optional[ast.ClassDef]]]:
    """Keys of the arguments that the project's calls of ``scope`` pass for ``expr`` when ``expr``
    is one of its parameters, each with the class whose ``self`` the argument belongs to."""
    if not isinstance(expr, ast.Name) or not isinstance(scope, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return []
    fi = next((f for f in m.functions if f.node is scope), None)
    if fi is None or expr.id not in _params(scope):
        return []
    keys = []
    for site in project.call_sites(scope.name):
        _self, passed = call_arguments(fi, site.node)
        if expr.id in passed:
            key = receiver_key(passed[expr.id], {}, set())[0]
            if key:
                keys.append((key, _self_owner(passed[expr.id], site.module)))
    return keys


_IN_PLACE_BLEND = ("mul_", "add_", "lerp_", "copy_", "sub_")


def _reads_receiver(values: list, written: ast.AST) -> bool:
    """Does one of ``values`` read the base name of ``written`` (``ema_p`` of ``ema_p.data``)?"""
    base = written
    while isinstance(base, (ast.Attribute, ast.Call, ast.Subscript)):
        base = base.func if isinstance(base, ast.Call) else base.value
    return isinstance(base, ast.Name) and any(
        isinstance(n, ast.Name) and n.id == base.id for v in values for n in astwalk.walk(v))


def _blends_side(loop: ast.AST, zip_call: ast.Call, side: ast.AST) -> bool:
    """Does the loop over ``zip(...)`` write in place into the parameters of ``side``?
    ``for ema_p, p in zip(ema.parameters(), model.parameters()): ema_p.mul_(d).add_(p)`` writes the
    first side; Reptile's ``p.grad.data.add_(-1.0, l.data)`` writes a gradient, not a parameter.
    When the loop variables cannot be matched to the sides, any in-place blend counts."""
    body = list(astwalk.walk(loop))
    # what is written: the receiver of an in-place blend (``ema_p.mul_(d).add_(p)``), or the
    # ``.data`` reassigned with the same blend (``ema_p.data = d * ema_p.data + (1 - d) * p.data``,
    # MoCo's key encoder and its descendants). A blend reads the side it writes: a plain copy
    # (``target_p.data = p.data.clone()``, ``target_p.copy_(p)``) makes the copy the live model's
    # weights again, it averages nothing.
    writes = [x.func.value for x in body
              if isinstance(x, ast.Call) and isinstance(x.func, ast.Attribute) and x.func.attr in _IN_PLACE_BLEND
              and (x.func.attr != "copy_" or _reads_receiver(x.args, x.func.value))]
    writes += [t for x in body if isinstance(x, (ast.Assign, ast.AugAssign))
               for t in (x.targets if isinstance(x, ast.Assign) else [x.target])
               if isinstance(t, ast.Attribute) and t.attr == "data"
               and (isinstance(x, ast.AugAssign) or _reads_receiver([x.value], t))]
    if not writes:
        return False
    target = loop.target  # type: ignore[attr-defined]
    index = zip_call.args.index(side)  # type: ignore[arg-type]
    if not (isinstance(target, ast.Tuple) and len(target.elts) == len(zip_call.args)):
        return True
    element = target.elts[index]
    if isinstance(element, ast.Tuple) and element.elts:  # named_parameters(): (name, p)
        element = element.elts[-1]
    if not isinstance(element, ast.Name):
        return True
    for receiver in writes:
        attrs: list[str] = []
        while isinstance(receiver, (ast.Attribute, ast.Call, ast.Subscript)):
            if isinstance(receiver, ast.Attribute):
                attrs.append(receiver.attr)
                receiver = receiver.value
            elif isinstance(receiver, ast.Call):
                receiver = receiver.func
            else:
                receiver = receiver.value
        if isinstance(receiver, ast.Name) and receiver.id == element.id and "grad" not in attrs:
            return True
    return False
