"""PyTorch models traced or exported while in training mode: BN310.

``torch.jit.trace`` and ``torch.export.export`` record the operations one forward pass runs. A
BatchNorm layer in training mode runs ``batch_norm(..., training=True)``, and that is what the
traced / exported program keeps: it normalizes every input batch with that batch's own statistics
and keeps overwriting the running statistics, and ``.eval()`` on the result no longer changes it
(measured on PyTorch 2.13: a traced model put in eval mode still updates ``running_mean`` and
differs from the eager model in eval mode). A freshly built ``nn.Module`` is in training mode, and
``load_state_dict`` does not change that, so the export script that forgets ``model.eval()`` ships
a model that behaves differently from the one that was validated (failure mode 9).
``torch.onnx.export`` is not concerned: it exports in eval mode unless told otherwise.
"""
from __future__ import annotations

import ast
import re
from typing import Iterable, Optional

from bnguard.lint import astwalk
from bnguard.lint.finding import Finding
from bnguard.lint.imports import dotted
from bnguard.lint.project import Module, Project, is_test_file, is_unit_test
from bnguard.lint.rules.base import Rule, RuleDoc, register
from bnguard.lint.rules.torch import (
    _DELIBERATE_PATH, PYTORCH_VERSIONS, _assignments_to, _bn_classes, _callers_set_eval, _class_def, _deliberate_train_mode,
    _flow, _is_lightning, _model_has_bn, _never_used, _program_modules, _uses_torch,
)
from bnguard.lint.torchflow import (
    LOOP_TYPES, Event, _builds_new_module, _named_params, call_arguments, guard_of, is_optimizer_step, key_names, receiver_key,
    same_object, same_object_base,
)

TRACERS = {"torch.jit.trace": "torch.jit.trace", "torch.jit.trace_module": "torch.jit.trace_module",
           "torch.export.export": "torch.export.export"}
_MODEL_KEYWORDS = ("func", "mod", "model")


@register
class TracedInTrainingMode(Rule):
    code = "BN310"
    name = "traced-in-training-mode"
    framework = "pytorch"
    severity = "error"
    summary = ("torch.jit.trace / torch.export.export of a BatchNorm model still in training mode: the traced "
               "program normalizes with batch statistics for good, eval() cannot undo it.")
    triggers = ("trace", "export")
    doc = RuleDoc(
        what="""
Finds `torch.jit.trace(model, ...)`, `torch.jit.trace_module(model, ...)` and
`torch.export.export(model, ...)` of a model with BatchNorm layers that is in training mode at that
point: built in this function (a new module starts in training mode; `load_state_dict` keeps it) or
last switched with `train()` — here, or in a project function called before — with no `eval()` /
`train(False)` in between. A model received as a parameter is judged by the callers: every one
hands it in training mode (built there, or last switched by a `train()` — also one inside a training
helper such as `train_one_epoch(model, ...)` run before the export helper — with no `eval()` after it),
and it is built with BatchNorm, also when it comes out of a project registry (`build_model(cfg)` running
`MODELS[cfg["arch"]](...)`, `REGISTRY.get(name)(...)`) whose every registered model builds BatchNorm.
""",
        why="""
Tracing and `torch.export` record the forward pass as it runs, and a BatchNorm layer in training mode
runs with `training=True`: the traced program uses the statistics of each input batch instead of the
learned running statistics, and overwrites those at every call. `traced.eval()` does not change a
recorded graph, so the deployed model silently differs from the validated one (and gives wrong or
batch-dependent outputs for small batches).
""",
        example="""
model = ResNet(num_classes=10)
model.load_state_dict(torch.load("best.pt"))
traced = torch.jit.trace(model, torch.randn(1, 3, 224, 224))
traced.save("model_traced.pt")
""",
        use_instead="""
model = ResNet(num_classes=10)
model.load_state_dict(torch.load("best.pt"))
model.eval()
traced = torch.jit.trace(model, torch.randn(1, 3, 224, 224))
""",
        not_flagged="""
`torch.jit.script` (it keeps the `training` attribute, so `eval()` still works) and `torch.onnx.export`
(eval mode by default); a model loaded whole (`torch.load`, `torch.hub.load`, `from_pretrained`) or
handed in by code the project does not show; an empty container (`nn.ModuleList()`, `nn.ModuleDict()`, a
project subclass whose `__init__` builds nothing) whose every added module is put in eval mode as it is
added (`ensemble.append(torch.load(w)["model"].eval())`); a trace whose result is trained afterwards (an optimizer
step follows in the same function); functions or paths named for training-time export, QAT or
test-time adaptation; unit tests; models whose class (in the project) has no BatchNorm.
""",
        versions=PYTORCH_VERSIONS + " Tracing semantics checked on PyTorch 2.13 (torch.jit.trace, torch.export).",
    )

    def check(self, module: Module, project: Project) -> Iterable[Finding]:
        if not _uses_torch(module) or _is_lightning(module):
            return
        calls = [c for c in module.calls if c.qualname in TRACERS]
        if not calls or _DELIBERATE_PATH.search(project.relative_path(module)):
            return
        flow = _flow(project)
        for c in calls:
            model_expr = c.node.args[0] if c.node.args else next(
                (k.value for k in c.node.keywords if k.arg in _MODEL_KEYWORDS), None)
            if model_expr is None or isinstance(model_expr, (ast.Call, ast.Lambda)):
                continue
            scope = c.scope
            if isinstance(scope, ast.Lambda) or (scope is not None and (
                    is_unit_test(module, scope) or _deliberate_train_mode(scope.name) or "qat" in scope.name.lower())):
                continue
            params = _named_params(scope) if scope is not None else set()
            key, text = receiver_key(model_expr, {}, params)
            if key is None or key[0] == "$self" or (isinstance(model_expr, ast.Attribute) and text.startswith("self")):
                continue  # an attribute's mode is set by other methods: not followed here
            events = flow.summary(scope) if scope is not None else flow.module_summary(module)
            if any(e.kind == "step" and _position(e) > _node_position(c.node) for e in events):
                continue  # the traced model is trained afterwards: training mode is wanted
            last = _last_mode_event(events, key, c.node)
            binding = _last_binding(module, scope, key, c.node)
            while binding is not None and _rebinds_itself(binding, key):
                binding = _last_binding(module, scope, key, binding)  # ``net = net.to(device)``: look further up
            if binding is not None and (last is None or _node_position(binding) > _position(last)):
                # bound after the last switch (or never switched): a construction starts in training
                # mode (the flow records it only in functions that switch or step something)
                if not _builds_new_module(binding.value, key[0]):
                    continue  # loaded or built elsewhere (torch.load, a factory): its mode is not known here
                name = key[0].lstrip("%")
                if flow.filled_only_with_eval_modules(module, binding.value, name,
                                                      scope.body if scope is not None else module.tree.body, scope):
                    continue  # an empty container holding the modules added to it, in their own modes
                last = Event("train", key, text, ((module, binding),), fresh=True)
            if last is not None:
                if last.kind != "train" or not _definitely_train(last):
                    continue
                if _only_on_some_paths(module, last.sites[0][1], c.node) or _guarded_apart(last, module, c.node):
                    continue  # `if opt.train: model.train()`: training-mode export is an option the user picks
                how = ("is built here and never put in eval mode" if last.fresh else
                       f"is put back in training mode by `{ast.unparse(last.sites[0][1])}` at "
                       f"{module.line_ref(last.sites[0][1].lineno)}")
            else:
                if not key[0].startswith("$") or scope is None:
                    continue  # loaded whole or built elsewhere: its mode is not known here
                # the direct callers first: most pass on a model they did not build (cheaper than
                # searching three levels of callers for an eval())
                if _never_used(scope.name, project) or not _every_caller_builds_it(scope, key, project, flow) \
                        or _callers_set_eval(scope, key, project, flow):
                    continue
                how = _callers_note(scope, key, project, flow, module)
            if not _holds_bn(key, project, module) and not (
                    key[0].startswith("$") and _passed_bn(scope, key, project, flow)):
                continue
            api = TRACERS[c.qualname]
            yield self.finding(module, c.node, (
                f"`{text}` {how}, so `{api}` records its BatchNorm layers in training mode: the "
                f"{'traced' if 'jit' in api else 'exported'} program normalizes every input with that batch's own "
                "statistics and keeps overwriting the running statistics, and `.eval()` on the result cannot undo "
                f"it; call `{text}.eval()` before `{api}`"))


def _node_position(node: ast.AST) -> tuple[int, int]:
    return getattr(node, "lineno", 0), getattr(node, "col_offset", 0)


def _position(e: Event) -> tuple[int, int]:
    """Where the event happens in the function that holds the summary (its outermost call site)."""
    return _node_position(e.sites[0][1])


def _last_mode_event(events: list[Event], key, call: ast.Call) -> Optional[Event]:
    before = [e for e in events if e.kind in ("eval", "train", "bnfreeze", "bnfreeze?") and e.key is not None
              and same_object(e.key, key) and _position(e) < _node_position(call)]
    return max(before, key=_position, default=None)


def _last_binding(module: Module, scope, key, call: ast.AST) -> Optional[ast.Assign]:
    """The last ``name = ...`` of a local model name before ``call`` in its function (or in the
    module's top-level code)."""
    if len(key) != 1 or key[0].startswith("$"):
        return None
    name = key[0].lstrip("%")
    body = scope.body if scope is not None else module.tree.body
    best = None
    stack = list(body)
    while stack:
        st = stack.pop()
        if isinstance(st, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            continue
        if isinstance(st, ast.Assign) and len(st.targets) == 1 and isinstance(st.targets[0], ast.Name) \
                and st.targets[0].id == name and _node_position(st) < _node_position(call) \
                and (best is None or _node_position(st) > _node_position(best)):
            best = st
        stack.extend(ast.iter_child_nodes(st))
    return best


def _rebinds_itself(binding: ast.Assign, key) -> bool:
    base = same_object_base(binding.value)
    return isinstance(base, ast.Name) and base.id == key[0].lstrip("%") and base is not binding.value


def _only_on_some_paths(module: Module, switch: ast.AST, call: ast.AST) -> bool:
    """Is ``switch`` (a ``train()`` or a construction) under an ``if`` / loop / ``try`` that does not
    also hold ``call``? Then the trace sees it only on some paths (``if opt.train: model.train()``,
    ``if args.resume: model = torch.load(...) else: model = Net()``)."""
    holders = set()
    for a in module.ancestors(call):
        holders.add(id(a))
    for a in module.ancestors(switch):
        if isinstance(a, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.Module)):
            return False
        if isinstance(a, (ast.If, ast.For, ast.AsyncFor, ast.While, ast.Try, ast.IfExp)) and id(a) not in holders:
            return True
    return False


def _guarded_apart(e: Event, module: Module, call: ast.AST) -> bool:
    """Does the switch happen under a condition (here or inside a called helper: ``if
    orig_training: model.train()`` restoring a mode) that the trace is not under?"""
    around_call = {guard_of(a.test)[0] for a in module.ancestors(call) if isinstance(a, ast.If)}
    return any(test.split("@", 1)[0] not in around_call for test, _pol in e.guards)


def _definitely_train(e: Event) -> bool:
    """A construction, or ``train()`` / ``train(True)``: not ``train(flag)``, which may be False."""
    if e.fresh:
        return True
    node = e.node
    if not isinstance(node, ast.Call) or not node.args and not node.keywords:
        return True
    arg = node.args[0] if node.args else node.keywords[0].value
    return isinstance(arg, ast.Constant) and arg.value is True


def _caller_keys(scope: ast.AST, key, project: Project, flow):
    """(caller summary, the caller's key for our parameter, call site) for each call of ``scope``."""
    from bnguard.lint.torchflow import Flow

    fi = flow.function_info.get(id(scope))
    if fi is None:
        return
    for site in project.call_sites(fi.name):
        cands, _unique = flow.resolve(site.module, site.node, site.scope)
        if not any(c.node is scope for c in cands):
            continue
        params = _named_params(site.scope) if site.scope is not None else set()
        receiver = site.node.func.value if isinstance(site.node.func, ast.Attribute) else None
        bound = Flow.bind(fi, site.node, lambda e: receiver_key(e, {}, params), receiver)
        ckey = bound.get(key[0][1:], (None, ""))[0]
        events = flow.summary(site.scope) if site.scope is not None else flow.module_summary(site.module)
        yield events, ckey, site


def _every_caller_builds_it(scope: ast.AST, key, project: Project, flow) -> bool:
    """Is the model each caller passes in training mode at the call: built or switched to train()
    there (a construction, a train() as the last switch)? Callers that got it from elsewhere are
    unknown, and then nothing is reported."""
    seen = False
    for events, ckey, site in _caller_keys(scope, key, project, flow):
        seen = True
        if ckey is None or ckey[0].startswith("$"):
            return False
        last = _last_mode_event(events, ckey, site.node)
        if last is None or last.kind != "train" or not _definitely_train(last):
            return False
        if any(e.kind == "step" and _position(e) > _node_position(site.node) for e in events):
            return False  # the caller trains on after the call: a trace made for training (as in the callee check)
    return seen


def _where(there: Module, here: Module, line: int) -> str:
    return there.line_ref(line) if there is here else there.where(line)


def _callers_note(scope: ast.AST, key, project: Project, flow, module: Module) -> str:
    """How the callers hand the model in: built there, or switched back to training mode by a
    ``train()`` (here or in a training helper they call) with no ``eval()`` after it."""
    for events, ckey, site in _caller_keys(scope, key, project, flow):
        last = _last_mode_event(events, ckey, site.node) if ckey is not None else None
        if last is not None and not last.fresh:
            caller = site.scope.name if site.scope is not None else "the module's top-level code"
            return (f"is still in training mode where `{caller}` passes it in (`{ast.unparse(last.sites[0][1])}` at "
                    f"{_where(site.module, module, last.sites[0][1].lineno)} runs `train()` and nothing puts it back in eval "
                    "mode before the call)")
    return "comes from callers that never put it in eval mode"


def _passed_bn(scope: ast.AST, key, project: Project, flow) -> bool:
    verdicts = [_holds_bn(ckey, project, site.module) for _e, ckey, site in _caller_keys(scope, key, project, flow)
                if ckey is not None]
    return bool(verdicts) and all(verdicts)


def _holds_bn(key, project: Project, module: Module) -> bool:
    """Is the object built with BatchNorm? As ``_model_has_bn``, and where that does not say so because
    the model comes out of a registry (``model = build_model(cfg)`` whose body runs
    ``MODELS[cfg["arch"]](...)``), when every model registered there builds BatchNorm."""
    if _model_has_bn(key, project, module) is True:
        return True
    if not key or len(key) != 1:
        return False
    # (``_model_has_bn`` is False, not None, for a factory whose ``REG.get(name)(...)`` it does not
    # read as a run-time choice: the registry decides either way)
    binds = _assignments_to(module, key_names(key))
    return bool(binds) and all(_registry_call_has_bn(n.value, module, project) for n in binds)


_REGISTRY_READS = ("get",)
_REGISTER_METHODS = ("register", "register_module", "register_model")
_DYNAMIC_TEXT = re.compile(r"\bgetattr\(|importlib|__dict__|\bglobals\(\)|\beval\(|\bexec\(|\blocals\(\)")


def _registry_call_has_bn(value: ast.AST, module: Module, project: Project, depth: int = 0) -> bool:
    """Does the call ``value`` build its model out of a name registry (directly, ``MODELS[name](...)``,
    or through a project factory function that does, up to two levels) whose every registered
    model builds BatchNorm? False when unsure."""
    value = same_object_base(value)
    if not isinstance(value, ast.Call) or depth > 2:
        return False
    registry = _registry_read(value.func)
    if registry is not None:
        members = _registry_members(registry, module, project)
        return members is not None and _all_bn(members, project)
    name = (dotted(value.func) or "").rsplit(".", 1)[-1]
    classes = _bn_classes(project)
    if not name or name not in classes:
        return False
    defs = [(n, m) for n, m in classes._candidates(name, module)[0]]
    if len(defs) != 1 or not isinstance(defs[0][0], ast.FunctionDef):
        return False
    [(fn, home)] = defs
    if _DYNAMIC_TEXT.search(home.source_segment(fn)):
        return False  # other run-time choices besides the registry
    local = _registry_locals(fn)
    built = []
    for n in astwalk.walk(fn):
        if not isinstance(n, ast.Call):
            continue
        if _registry_read(n.func) is not None:
            built.append(n)
        elif isinstance(n.func, ast.Name) and n.func.id in local:
            built.append(ast.Call(func=local[n.func.id], args=[], keywords=[]))
        elif isinstance(n.func, (ast.Subscript, ast.Call)):
            return False  # a constructor picked some other way
    returned = [r.value for r in astwalk.walk(fn) if isinstance(r, ast.Return) and r.value is not None]
    if not built and len(returned) == 1 and isinstance(same_object_base(returned[0]), ast.Call):
        return _registry_call_has_bn(returned[0], home, project, depth + 1)  # a factory handing on to another
    return bool(built) and all(_registry_call_has_bn(b, home, project, depth + 1) for b in built)


def _registry_read(func: ast.AST) -> Optional[str]:
    """``MODELS[name]`` / ``MODELS.get(name)``: the registry's name (a plain module-level name)."""
    if isinstance(func, ast.Subscript) and isinstance(func.value, ast.Name):
        return func.value.id
    if isinstance(func, ast.Call) and isinstance(func.func, ast.Attribute) and func.func.attr in _REGISTRY_READS \
            and isinstance(func.func.value, ast.Name) and func.args:
        return func.func.value.id
    return None


def _registry_locals(fn: ast.AST) -> dict[str, ast.AST]:
    """Locals of ``fn`` bound only to a registry read (``model_cls = MODELS[cfg.arch]``)."""
    reads: dict[str, list] = {}
    for n in astwalk.walk(fn):
        if isinstance(n, ast.Assign):
            for t in n.targets:
                if isinstance(t, ast.Name):
                    reads.setdefault(t.id, []).append(n.value)
    return {k: vs[0] for k, vs in reads.items() if len(vs) == 1 and _registry_read(vs[0]) is not None}


def _registry_members(name: str, module: Module, project: Project) -> Optional[list[tuple[str, Module]]]:
    """The models registered in the module-level registry ``name`` that ``module`` reads (defined there
    or imported from a project module): the values of its dict literal, what ``NAME[key] = cls`` in a
    registering decorator receives (the classes decorated with it), ``@NAME.register(...)``. None
    when the registry is not a project one or nothing is found registered."""
    home = _registry_home(name, module, project)
    if home is None:
        return None
    memo = project.facts.setdefault("torch.registry_members", {})  # type: ignore[arg-type]
    mkey = (name, id(home))
    if mkey in memo:  # type: ignore[operator]
        return memo[mkey]  # type: ignore[index]
    members: list[tuple[str, Module]] = []
    decorators: set[str] = set()
    for n in astwalk.walk(home.tree):
        if isinstance(n, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in n.targets) \
                and home.scope_of(n) is None and isinstance(n.value, ast.Dict):
            members += [((dotted(v) or "").rsplit(".", 1)[-1], home) for v in n.value.values]
        elif isinstance(n, ast.Assign) and len(n.targets) == 1 and isinstance(n.targets[0], ast.Subscript) \
                and isinstance(n.targets[0].value, ast.Name) and n.targets[0].value.id == name:
            dec = _registering_decorator(n, home)
            if dec is not None:
                decorators.add(dec)
            elif isinstance(n.value, (ast.Name, ast.Attribute)) and home.scope_of(n) is None:
                members.append(((dotted(n.value) or "").rsplit(".", 1)[-1], home))
            else:
                memo[mkey] = None  # type: ignore[index]
                return None
    for m in _program_modules(project, home):
        if not (m.mentions(name) or any(m.mentions(d) for d in decorators)):
            continue
        for d in m.classes + [f.node for f in m.functions if f.cls is None]:
            for dec in getattr(d, "decorator_list", ()):
                target = dec.func if isinstance(dec, ast.Call) else dec
                text = dotted(target) or ""
                if text.rsplit(".", 1)[-1] in decorators or (
                        "." in text and text.rsplit(".", 1)[-1] in _REGISTER_METHODS and text.split(".")[-2] == name):
                    members.append((d.name, m))
    result = members or None
    memo[mkey] = result  # type: ignore[index]
    return result


def _registry_home(name: str, module: Module, project: Project) -> Optional[Module]:
    """The project module that binds the registry ``name`` at top level: ``module`` itself or the
    project module it imports the name from."""
    if any(isinstance(t, ast.Name) and t.id == name for n in module.tree.body if isinstance(n, (ast.Assign, ast.AnnAssign))
           for t in (n.targets if isinstance(n, ast.Assign) else [n.target])):
        return module
    target = module.imports.aliases.get(name, "").lstrip(".")
    if "." not in target:
        return None
    source = project.module_named(target.rsplit(".", 1)[0], module)
    return _registry_home(name, source, project) if source is not None and source is not module else None


def _registering_decorator(store: ast.Assign, module: Module) -> Optional[str]:
    """For ``REG[key] = cls`` inside a function whose parameter is ``cls``: the decorator name that
    registers (the function itself, or the outer function returning it: ``@register("name")``)."""
    value = store.value
    fn = module.scope_of(store)
    if fn is None or isinstance(fn, ast.Lambda) or not isinstance(value, ast.Name) or value.id not in _named_params(fn):
        return None
    outer = module.scope_of(fn)
    if outer is not None and not isinstance(outer, ast.Lambda) and any(
            isinstance(r, ast.Return) and isinstance(r.value, ast.Name) and r.value.id == fn.name for r in astwalk.walk(outer)):
        return outer.name
    return fn.name


def _all_bn(members: list[tuple[str, Module]], project: Project) -> bool:
    classes = _bn_classes(project)
    return all(n in classes and classes.has_bn(n, m) for n, m in members)



# ---------------------------------------------------------------------------------------------------
# BN313: a BatchNorm model's state carried over by its parameters only

_BN_CTOR = re.compile(r"BatchNorm|(^|_)BN\d?d?$|BatchNormAct")
_STATS = ("running_mean", "running_var")
_AFFINE_WRITE = re.compile(r"\.(?:weight|bias)(?:\.data)?(?:\[[^\]\n]*\])?\s*=[^=]|\.(?:weight|bias)(?:\.data)?\.copy_\(")


@register
class RunningStatsLeftBehind(Rule):
    code = "BN313"
    name = "running-stats-left-behind"
    framework = "pytorch"
    severity = "error"
    summary = ("a BatchNorm model's state carried over by its parameters only (a named_parameters() checkpoint "
               "loaded with strict=False, a pruned / converted BN given weight and bias but not running_mean / "
               "running_var): the receiving model normalizes with the initial 0 / 1 statistics.")
    triggers = ("named_parameters", "weight", "DataParallel", ".eval(", "vector_to_parameters")
    fact_triggers = ("reset_running_stats",)
    doc = RuleDoc(
        what="""
Finds the state of a BatchNorm model handed on through its parameters alone:
- a dict of `model.named_parameters()` (`dict(model.named_parameters())`,
  `{n: p.detach() for n, p in model.named_parameters()}`, unfiltered) of a model with BatchNorm that is
  loaded into a model with `load_state_dict(..., strict=False)`, or saved with `torch.save` (also inside a
  checkpoint dict) in a file that loads checkpoints with `strict=False` (an export / serve script);
- a BatchNorm layer built afresh (`nn.BatchNorm2d(n)`, a BN attribute of a newly built project model,
  the partner of an `isinstance(m, nn.BatchNorm2d)` layer in a `zip(old.modules(), new.modules())` loop)
  whose `weight` and `bias` are copied from another BatchNorm layer (channel pruning, network slimming,
  a BN-to-SyncBN / frozen-BN conversion) while the function never writes its `running_mean` /
  `running_var`;
- a checkpoint that `torch.save` writes from `model.state_dict()` of a model wrapped (unconditionally)
  in `nn.DataParallel` / `DistributedDataParallel`, loaded (same path, same checkpoint key) into the
  bare model with `load_state_dict(..., strict=False)`, the loading function renaming no key;
- the running statistics reset (`m.reset_running_stats()` in a walk over `model.modules()` that
  selects `hasattr(m, "reset_running_stats")` or BatchNorm classes, directly or in a helper) when the
  next use of the model is `model.eval()` and a forward pass, with no `train()` in between;
- a snapshot of the parameters alone (`[p.detach().clone() for p in model.parameters()]`, a dict of
  `named_parameters()` copies, `parameters_to_vector(model.parameters())`, also returned by a helper)
  written back into `model.parameters()` (`p.copy_(s)` / `p.data = s` in a `zip` or `named_parameters()`
  loop, `vector_to_parameters`, also in a helper) after optimizer steps of the model in train mode
  that run between the two: a throw-away pass (LR range test, trial update rolled back), with no
  step after the restore.
""",
        why="""
`running_mean` and `running_var` are buffers, not parameters: `named_parameters()` does not contain
them, and `strict=False` hides the missing keys. A BatchNorm layer built afresh starts with mean 0 and
variance 1. The receiving model, in eval mode, then normalizes with those initial statistics instead of
the trained ones: its outputs are shifted and scaled wrongly, often to chance-level accuracy, without
any error. A wrapper's `state_dict()` names every key `module.<name>`: loaded into the bare model with
`strict=False`, no key matches and nothing at all is loaded. `reset_running_stats()` sets the
statistics back to 0 / 1; evaluated right after, with no training batch in between, the model uses them.
A parameters-only snapshot restored after a throw-away training pass rolls the weights back but not
the running statistics (nor `num_batches_tracked`) that the pass's train-mode forwards moved: the real
training and its first evaluations start from the statistics of the discarded pass, NaN / inf for good
when an LR range test ran until the loss diverged.
""",
        example="""
torch.save({n: p.detach() for n, p in model.named_parameters()}, "weights.pt")
...
net = Net()
net.load_state_dict(torch.load("weights.pt"), strict=False)
net.eval()

new_bn = nn.BatchNorm2d(len(keep))
new_bn.weight.data = old_bn.weight.data[keep].clone()
new_bn.bias.data = old_bn.bias.data[keep].clone()
""",
        use_instead="""
torch.save(model.state_dict(), "weights.pt")   # parameters and buffers

new_bn.running_mean = old_bn.running_mean[keep].clone()
new_bn.running_var = old_bn.running_var[keep].clone()
""",
        not_flagged="""
`state_dict()` (filtered or not: dropping `num_batches_tracked` keeps the statistics); a parameter dict
filtered by a condition (`if p.requires_grad`: adapters / fine-tuned parts saved on top of a pretrained
model loaded separately); parameter dicts used for anything but saving / loading (optimizer groups,
logging, `functional_call`); models without BatchNorm; a saved parameter dict whose file never loads
with `strict=False` (a strict load raises on the missing keys; a load elsewhere is not followed);
copies into LayerNorm / GroupNorm / convolutions (no running statistics);
functions that also write the running statistics, copy buffers (`named_buffers`, `buffers()`) or load a
`state_dict`; unit tests. A wrapper's checkpoint saved as `model.module.state_dict()`, wrapped only
under an `if`, loaded into a wrapper, or loaded by a function that renames / filters keys (`"module."`,
`consume_prefix_in_state_dict_if_present`, `.items()`, `.replace(`); a reset followed by forward passes
in train mode (precise BN, `update_bn`), by a `train()`, or that selects other classes (`isinstance(m,
Meter)`); a parameter snapshot whose function also saves buffers / a `state_dict`, that is updated
between (slow weights, averages), whose pass runs with the model or its BN layers in eval mode, or
that is followed by more optimizer steps (meta-learning inner loops rolled back before the meta step).
""",
        versions=PYTORCH_VERSIONS,
    )

    def check(self, module: Module, project: Project) -> Iterable[Finding]:
        if not _uses_torch(module) or is_test_file(project.relative_path(module)):
            return
        if module.mentions("named_parameters"):
            yield from self._parameter_checkpoints(module, project)
        if module.mentions(".bias") and module.mentions(".weight"):
            yield from self._affine_only_copies(module, project)
        if "DataParallel" in module.unit.text and module.mentions("strict"):
            yield from self._wrapper_prefixed_loads(module, project)
        if module.mentions("eval") and _stats_resetters(project):
            yield from self._reset_then_evaluated(module, project)
        if module.mentions("parameters") and _SNAPSHOT_WORDS.search(module.unit.text):
            yield from self._restored_after_throwaway_pass(module, project)

    # -- shape 5: a parameters-only snapshot restored after a throw-away training pass ---------------
    def _restored_after_throwaway_pass(self, module: Module, project: Project) -> Iterable[Finding]:
        for fi in module.functions:
            if isinstance(fi.node, ast.Lambda) or is_unit_test(module, fi.node):
                continue
            walker = _SnapshotRestores(module, project, fi)
            snaps = walker.snapshots()
            if not snaps:
                continue
            for text, name, restore in walker.restores(snaps):
                model_text, snap = snaps[name]
                if model_text != text or snap.lineno >= restore.lineno:
                    continue
                if any(w in t for t in walker.texts for w in _BUFFER_WORDS):
                    continue  # the buffers are saved / restored (or the whole state) somewhere here
                if not walker.throwaway_pass(text, name, snap, restore):
                    continue
                if not _bn_model(module, project, fi.node, ast.parse(text, mode="eval").body):
                    continue
                yield self.finding(module, snap, (
                    f"this snapshot holds only the parameters of `{text}`, and {module.line_ref(restore.lineno)} "
                    f"copies them back after optimizer steps of `{text}` in train mode (a throw-away pass: LR range "
                    f"test, trial step): the BatchNorm running_mean / running_var (and num_batches_tracked) of that "
                    f"pass are buffers, not parameters, and stay in `{text}`, so the following training and evaluation "
                    f"start from the statistics of the discarded pass (NaN / inf ones if it diverged). Snapshot "
                    f"`copy.deepcopy({text}.state_dict())` and restore it with `load_state_dict`, or include "
                    f"`{text}.buffers()`"))
                break

    # -- shape 4: running statistics reset, then the model evaluated with them -----------------------
    def _reset_then_evaluated(self, module: Module, project: Project) -> Iterable[Finding]:
        resetters = _stats_resetters(project)
        for fi in module.functions:
            if is_unit_test(module, fi.node):
                continue
            for block in _blocks(fi.node):
                for i, st in enumerate(block):
                    for target, call in _resets_in(st, resetters, module, project, fi.node):
                        if _evaluated_next(block[i + 1:], target) and _bn_model(module, project, fi.node, ast.parse(target, mode="eval").body):
                            yield self.finding(module, call, (
                                f"this resets the BatchNorm running statistics of `{target}` (running_mean 0, running_var 1) "
                                f"and the next thing done with `{target}` is `{target}.eval()` and a forward pass: no batch "
                                f"in train mode re-estimates them, so the evaluation (and whatever is saved) normalizes with "
                                f"the initial 0 / 1 statistics. Reset only the modules meant (`isinstance(m, MyMeter)`, not "
                                f"`hasattr(m, \"reset_running_stats\")`), or re-estimate the statistics in train mode "
                                f"before evaluating"))

    # -- shape 3: a DataParallel checkpoint loaded non-strictly into the bare model ------------------
    def _wrapper_prefixed_loads(self, module: Module, project: Project) -> Iterable[Finding]:
        saves = []  # (path text, checkpoint key or None, save call)
        for c in module.calls:
            if (module.qualname(c.node.func) or "") != "torch.save":
                continue
            obj = c.node.args[0] if c.node.args else next((k.value for k in c.node.keywords if k.arg == "obj"), None)
            path = c.node.args[1] if len(c.node.args) > 1 else next((k.value for k in c.node.keywords if k.arg == "f"), None)
            if obj is None or path is None:
                continue
            owner = c.scope if c.scope is not None else module.tree
            for key, holder in _saved_state_dicts(obj, owner, c.node):
                if isinstance(holder, ast.Name) and _wrapped_in_data_parallel(holder.id, owner, c.node, module):
                    saves.append((ast.unparse(path), key, c.node))
        if not saves:
            return
        for c in module.calls:
            call = c.node
            if c.name != "load_state_dict" or not isinstance(call.func, ast.Attribute) or not call.args \
                    or not _non_strict(call):
                continue
            scope = c.scope
            owner = scope if scope is not None else module.tree
            if scope is not None and is_unit_test(module, scope):
                continue
            text = "\n".join(module.lines[owner.lineno - 1:owner.end_lineno]) if scope is not None else module.unit.text
            if _PREFIX_HANDLING.search(text):
                continue  # the keys are renamed / filtered somewhere here: not followed
            receiver = call.func.value
            base = receiver
            while isinstance(base, ast.Attribute):
                base = base.value
            if isinstance(receiver, ast.Attribute) and receiver.attr == "module" \
                    or isinstance(base, ast.Name) and _wrapped_in_data_parallel(base.id, owner, call, module, anywhere=True):
                continue  # loaded into a wrapper: its keys carry the prefix too
            source = _loaded_checkpoint(call.args[0], owner, call)
            if source is None:
                continue
            load_key, path = source
            paths = _argument_texts(path, scope, module)
            hit = next((sv for sv in saves if sv[0] in paths and sv[1] == load_key), None)
            if hit is None or not _bn_model(module, project, scope, receiver):
                continue
            yield self.finding(module, call, (
                f"this loads the checkpoint that `torch.save` writes at {module.line_ref(hit[2].lineno)} from a model "
                f"wrapped in `DataParallel`: every key there carries the wrapper's `module.` prefix, "
                f"`{ast.unparse(receiver)}` is the bare model, and `strict=False` hides that no key matches. Nothing "
                f"is loaded: the model keeps its initial weights and the initial 0 / 1 BatchNorm statistics, and "
                f"normalizes with them in eval mode. Save `model.module.state_dict()`, or strip the prefix "
                f"(`consume_prefix_in_state_dict_if_present(sd, \"module.\")`) before loading"))

    # -- shape 1: dict(model.named_parameters()) saved / loaded --------------------------------------
    def _parameter_checkpoints(self, module: Module, project: Project) -> Iterable[Finding]:
        for node in astwalk.walk(module.tree):
            src = _named_parameters_dict(node)
            if src is None:
                continue
            scope = module.scope_of(node)
            if scope is not None and is_unit_test(module, scope):
                continue
            use = _checkpoint_use(module, scope, node)
            if use is None:
                continue
            kind, call = use
            if kind == "save" and not _loads_non_strict(module):
                continue  # the load is strict (the missing keys raise) or not shown beside the save
            if not _bn_model(module, project, scope, src):
                continue
            text = ast.unparse(src)
            where = module.line_ref(call.lineno)
            if kind == "save":
                how = (f"is saved by `torch.save` ({where}) and this file loads checkpoints with "
                       "`strict=False`, which hides the missing keys")
            else:
                how = f"is loaded with `load_state_dict(..., strict=False)` ({where}), which hides the missing keys"
            yield self.finding(module, node, (
                f"this checkpoint holds only `{text}.named_parameters()`: the BatchNorm buffers (running_mean / "
                f"running_var) are not in it, and it {how}; the loaded model keeps the initial 0 / 1 statistics "
                f"and normalizes with them in eval mode. Save / load `{text}.state_dict()` instead"))

    # -- shape 2: fresh BN given weight / bias of another BN only -------------------------------------
    def _affine_only_copies(self, module: Module, project: Project) -> Iterable[Finding]:
        if not _AFFINE_WRITE.search(module.unit.text):
            return
        by_fn: dict[int, tuple[ast.AST, dict[str, dict[str, ast.AST]]]] = {}
        for n in astwalk.walk(module.tree):
            for dst, attr, value, anchor in _param_writes(n):
                fn = module.scope_of(anchor)
                if fn is not None and _reads_other_affine(value, dst):
                    by_fn.setdefault(id(fn), (fn, {}))[1].setdefault(dst, {}).setdefault(attr, anchor)
        for fn, writes in by_fn.values():
            text = "\n".join(module.lines[fn.lineno - 1:getattr(fn, "end_lineno", fn.lineno)])
            if any(w in text for w in _STATS) or "load_state_dict" in text or "buffers" in text \
                    or "state_dict" in text or is_unit_test(module, fn):
                continue
            for dst, attrs in writes.items():
                if set(attrs) != {"weight", "bias"}:
                    continue
                anchor = min(attrs.values(), key=lambda a: (a.lineno, a.col_offset))
                if not _fresh_bn(module, project, fn, dst, anchor) or _handed_to_project_function(project, fn, dst):
                    continue
                if _converter_result_trained(module, project, fn):
                    continue  # every caller trains the converted model: its statistics are re-estimated
                yield self.finding(module, anchor, (
                    f"`{dst}` is a BatchNorm layer built here and given the weight and bias of another BatchNorm "
                    f"layer, but not its running_mean / running_var: `{dst}` keeps the initial 0 / 1 statistics "
                    f"and normalizes with them in eval mode. Copy `running_mean` and `running_var` too"))


_WRAPPERS = ("DataParallel", "DistributedDataParallel")
# Key renaming / filtering that may strip a wrapper prefix (``k[7:]``, ``k.replace("module.", "")``,
# ``consume_prefix_in_state_dict_if_present``, a loop over the keys): the load is then not judged.
_PREFIX_HANDLING = re.compile(r"module\.|prefix|\.replace\(|\[7:\]|\.items\(\)|\.keys\(\)|startswith|strip|"
                              r"removeprefix|\bfor\s+\w+\s*(?:,\s*\w+\s*)?in\s+\w*(?:state|ckpt|checkpoint|sd)\b")


def _single_binding(name: str, owner: ast.AST, before: ast.AST) -> Optional[ast.AST]:
    """The value of the one ``name = value`` in ``owner`` before ``before`` (None when the name is bound
    otherwise or more than once there)."""
    found = None
    for n in astwalk.walk(owner):
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)) and n is not owner:
            continue
        targets = n.targets if isinstance(n, ast.Assign) else [n.target] if isinstance(
            n, (ast.AnnAssign, ast.AugAssign, ast.For, ast.NamedExpr)) else []
        for t in targets:
            if any(isinstance(x, ast.Name) and x.id == name for x in astwalk.walk(t)):
                if found is not None or not (isinstance(n, ast.Assign) and t is n.targets[0] and isinstance(t, ast.Name)
                                             and len(n.targets) == 1):
                    return None
                found = n
    if found is None or (found.lineno, found.col_offset) >= (before.lineno, before.col_offset):
        return None
    return found.value


def _saved_state_dicts(obj: ast.AST, owner: ast.AST, save: ast.AST) -> list[tuple[Optional[str], ast.AST]]:
    """(checkpoint key or None, model) for each ``model.state_dict()`` that ``torch.save(obj, ...)``
    writes: the object itself, or a value of a literal dict (``{"state_dict": model.state_dict()}``,
    also bound to a name first)."""
    if isinstance(obj, ast.Name):
        obj = _single_binding(obj.id, owner, save) or obj
    def sd(e: ast.AST) -> Optional[ast.AST]:
        if isinstance(e, ast.Call) and isinstance(e.func, ast.Attribute) and e.func.attr == "state_dict" and not e.args:
            return e.func.value
        return None
    if sd(obj) is not None:
        return [(None, sd(obj))]
    if isinstance(obj, ast.Dict):
        return [(k.value, sd(v)) for k, v in zip(obj.keys, obj.values)
                if isinstance(k, ast.Constant) and isinstance(k.value, str) and sd(v) is not None]
    return []


def _wrapped_in_data_parallel(name: str, owner: ast.AST, before: ast.AST, module: Module, anywhere: bool = False) -> bool:
    """Is ``name`` bound in ``owner`` to ``nn.DataParallel(...)`` / ``DistributedDataParallel(...)``,
    unconditionally and as its last binding before ``before`` (with ``anywhere``: by any binding)?"""
    last = None
    for n in astwalk.walk(owner):
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)) and n is not owner:
            continue
        if isinstance(n, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in n.targets):
            wraps = isinstance(n.value, ast.Call) and any(
                (q or "").rsplit(".", 1)[-1] in _WRAPPERS for q in (dotted(n.value.func), module.qualname(n.value.func)))
            if anywhere and wraps:
                return True
            if (n.lineno, n.col_offset) < (before.lineno, before.col_offset) and (
                    last is None or (n.lineno, n.col_offset) > (last[0].lineno, last[0].col_offset)):
                last = (n, wraps)
    if anywhere or last is None or not last[1]:
        return False
    # unconditional: no ``if`` (``if torch.cuda.device_count() > 1:``) between it and the function
    return not any(isinstance(a, ast.If) for a in module.ancestors_until(last[0], owner)) \
        if owner is not module.tree else not any(isinstance(a, ast.If) for a in module.ancestors(last[0]))


def _loaded_checkpoint(arg: ast.AST, owner: ast.AST, load: ast.AST) -> Optional[tuple[Optional[str], ast.AST]]:
    """(checkpoint key or None, path expression) for ``torch.load(path)``, ``ckpt["key"]`` /
    ``ckpt`` with ``ckpt = torch.load(path, ...)`` bound once before the load."""
    key = None
    if isinstance(arg, ast.Subscript) and isinstance(arg.slice, ast.Constant) and isinstance(arg.slice.value, str):
        key, arg = arg.slice.value, arg.value
    if isinstance(arg, ast.Name):
        arg = _single_binding(arg.id, owner, load)
    if isinstance(arg, ast.Call) and (dotted(arg.func) or "") in ("torch.load",) and arg.args:
        return key, arg.args[0]
    return None


def _argument_texts(path: ast.AST, scope, module: Module) -> set[str]:
    """The source of ``path``; for a parameter of the loading function, what this module's calls of
    that function pass for it."""
    out = {ast.unparse(path)}
    if not isinstance(path, ast.Name) or scope is None or path.id not in _named_params(scope):
        return out
    params = [a.arg for a in scope.args.posonlyargs + scope.args.args]
    for c in module.calls:
        if c.name != scope.name or not isinstance(c.node.func, ast.Name):
            continue
        if path.id in params and params.index(path.id) < len(c.node.args):
            out.add(ast.unparse(c.node.args[params.index(path.id)]))
        out |= {ast.unparse(k.value) for k in c.node.keywords if k.arg == path.id}
    return out


def _walk_reset_target(fn: ast.AST) -> Optional[str]:
    """``for m in p.modules(): [if hasattr(m, "reset_running_stats") / isinstance(m, BatchNorm):]
    m.reset_running_stats()`` in ``fn``: the walked object's text (``p``, ``self.net``). A walk that
    selects other classes (``isinstance(m, Meter)``) resets no BatchNorm layer."""
    for n in astwalk.walk(fn):
        if not (isinstance(n, (ast.For, ast.comprehension)) and isinstance(n.target, ast.Name)
                and isinstance(n.iter, ast.Call) and isinstance(n.iter.func, ast.Attribute)
                and n.iter.func.attr in ("modules", "children") and not n.iter.args):
            continue
        var = n.target.id
        body = n.body if isinstance(n, ast.For) else []
        tests: list[ast.AST] = [] if isinstance(n, ast.For) else list(n.ifs)
        found = []

        def visit(stmts, tests):
            for st in stmts:
                if isinstance(st, ast.If):
                    visit(st.body, tests + [st.test])
                    if st.orelse:
                        return  # an else arm: which modules it takes is not followed
                elif isinstance(st, ast.Expr) and isinstance(st.value, ast.Call) and _resets_var(st.value, var):
                    found.append(tests)
        visit(body, tests)
        if isinstance(n, ast.comprehension):
            comp = next((c for c in astwalk.walk(fn) if isinstance(c, (ast.ListComp, ast.GeneratorExp))
                         and n in c.generators), None)
            if comp is not None and isinstance(comp.elt, ast.Call) and _resets_var(comp.elt, var):
                found.append(tests)
        if found and all(all(_selects_bn(t, var) for t in ts) for ts in found):
            return dotted(n.iter.func.value)
    return None


def _resets_var(call: ast.Call, var: str) -> bool:
    f = call.func
    return isinstance(f, ast.Attribute) and f.attr == "reset_running_stats" and isinstance(f.value, ast.Name) \
        and f.value.id == var and not call.args


def _selects_bn(test: ast.AST, var: str) -> bool:
    """``hasattr(m, "reset_running_stats")`` (every BatchNorm has it), ``isinstance(m, nn.BatchNorm2d)``,
    or an ``and`` of such tests."""
    if isinstance(test, ast.BoolOp) and isinstance(test.op, ast.And):
        return all(_selects_bn(v, var) for v in test.values)
    if isinstance(test, ast.Call) and isinstance(test.func, ast.Name) and len(test.args) == 2 \
            and isinstance(test.args[0], ast.Name) and test.args[0].id == var:
        if test.func.id == "hasattr":
            return isinstance(test.args[1], ast.Constant) and test.args[1].value in ("reset_running_stats", "running_mean", "running_var")
        if test.func.id == "isinstance":
            return bool(re.search(r"batch_?norm|\bBN\d?d?\b", ast.unparse(test.args[1]), re.I))
    return False


def _stats_resetters(project: Project) -> dict[str, tuple]:
    """Project functions that reset the BatchNorm statistics of a parameter (or of ``self``), directly
    or by passing it on to one that does: name -> (definitions, parameter position; -1 for ``self``)."""
    def compute(p: Project) -> dict[str, tuple]:
        out: dict[str, tuple] = {}
        for m in p.modules:
            if not m.mentions("reset_running_stats"):
                continue
            for fi in m.functions:
                target = _walk_reset_target(fi.node)
                if target and _runs_after_reset(fi.node, target):
                    continue  # a re-estimation pass (``bn_update``): the model runs after the reset
                pos = _param_position(fi, target)
                if pos is not None:
                    out.setdefault(fi.name, ([], pos))[0].append(fi)
        for _round in range(2):  # helpers that pass the model on to a resetter (an epoch-end hook)
            names = set(out)
            for name in list(names):
                for c in p.calls_by_name.get(name, ()):
                    if c.scope is None or not _resolves_to_resetter(p, c.module, c.node, c.scope, out[name][0]):
                        continue
                    fi = next((f for f in c.module.functions if f.node is c.scope), None)
                    if fi is None or fi.name in out:
                        continue
                    arg = _reset_argument(c.node, out[name][1])
                    text = dotted(arg) if arg is not None else None
                    if not text or _runs_after_reset(fi.node, text, c.node) \
                            or any(isinstance(a, LOOP_TYPES) for a in c.module.ancestors_until(c.node, fi.node)):
                        continue  # the model used after the call, or the call repeated in a loop
                    pos = _param_position(fi, text)
                    if pos is not None:
                        out.setdefault(fi.name, ([], pos))[0].append(fi)
        return out

    return project.fact("torch.stats_resetters", compute)


def _runs_after_reset(fn: ast.AST, target: str, reset: Optional[ast.AST] = None) -> bool:
    """Does ``fn`` use ``target`` after the reset (``reset``; the walk when None) — run it, switch it,
    hand it on — or choose a mode at all? Then the function is more than a reset."""
    calls = [c for c in astwalk.walk(fn) if isinstance(c, ast.Call)]
    if reset is None:
        walks = [c for c in calls if isinstance(c.func, ast.Attribute) and c.func.attr in ("modules", "children")
                 and dotted(c.func.value) == target]
        if not walks:
            return True
        reset = walks[0]
    start = (reset.lineno, reset.col_offset)
    for c in calls:
        if c is reset or (c.lineno, c.col_offset) <= start:
            continue
        f = c.func
        if isinstance(f, ast.Attribute) and f.attr in ("train", "eval"):
            return True
        if isinstance(f, ast.Attribute) and f.attr in ("reset_running_stats", "modules", "children"):
            continue
        d = dotted(f) or ""
        if d == target or d.startswith(target + ".") or any(
                (dotted(a) or "") == target for a in list(c.args) + [k.value for k in c.keywords]):
            return True
    return False


def _resolves_to_resetter(project: Project, module: Module, call: ast.Call, scope, defs: list) -> bool:
    """Does this call run one of ``defs`` (resolved as the flow does: a function of that name in another
    script of the folder is not this one)?"""
    cands, unique = _flow(project).resolve(module, call, scope)
    return unique and any(cands[0].node is d.node for d in defs)


def _param_position(fi, target: Optional[str]) -> Optional[int]:
    if not target:
        return None
    params = [a.arg for a in fi.node.args.posonlyargs + fi.node.args.args]
    if fi.cls is not None and params and target == params[0]:
        return -1
    if fi.cls is not None:
        params = params[1:]
    return params.index(target) if target in params else None


def _reset_argument(call: ast.Call, pos: int) -> Optional[ast.AST]:
    if pos == -1:
        return call.func.value if isinstance(call.func, ast.Attribute) else None
    return call.args[pos] if pos < len(call.args) and not any(isinstance(a, ast.Starred) for a in call.args[:pos + 1]) else None


def _blocks(fn: ast.AST) -> Iterable[list]:
    for n in astwalk.walk(fn):
        for field in ("body", "orelse", "finalbody"):
            b = getattr(n, field, None)
            if isinstance(b, list) and b and isinstance(b[0], ast.stmt):
                yield b


def _resets_in(st: ast.stmt, resetters: dict, module: Module, project: Project, scope) -> list[tuple[str, ast.AST]]:
    """(model text, the call) for a statement that resets a model's BatchNorm statistics: its own walk
    (``for m in model.modules(): ... m.reset_running_stats()``) or a call of a resetter."""
    if isinstance(st, ast.For):
        target = _walk_reset_target(ast.Module(body=[st], type_ignores=[]))
        return [(target, st)] if target and target != "self" else []
    if not (isinstance(st, ast.Expr) and isinstance(st.value, ast.Call)):
        return []
    call = st.value
    name = call.func.attr if isinstance(call.func, ast.Attribute) else call.func.id if isinstance(call.func, ast.Name) else None
    found = resetters.get(name or "")
    if not found or not _resolves_to_resetter(project, module, call, scope, found[0]):
        return []
    arg = _reset_argument(call, found[1])
    text = dotted(arg) if arg is not None else None
    return [(text, call)] if text and text != "self" else []


def _evaluated_next(rest: list, target: str) -> bool:
    """After the reset, is the model's next use ``target.eval()`` followed by a forward pass of it
    (``target(x)`` / ``target.validation_step(x)``), with no ``train()`` anywhere in between?"""
    evaluated = False
    for st in rest:
        for c in sorted((c for c in astwalk.walk(st) if isinstance(c, ast.Call)), key=lambda c: (c.lineno, c.col_offset)):
            f = c.func
            if isinstance(f, ast.Attribute) and f.attr == "train":
                return False
            on_target = dotted(f) == target or isinstance(f, ast.Attribute) and dotted(f.value) == target
            if any(dotted(a) == target for a in list(c.args) + [k.value for k in c.keywords]) and not on_target:
                return False  # handed to something that may run it in train mode
            if not on_target:
                continue
            if isinstance(f, ast.Attribute) and f.attr == "eval" and not c.args:
                evaluated = True
            elif isinstance(f, ast.Attribute) and f.attr in ("state_dict", "parameters", "named_parameters", "to", "cuda",
                                                           "cpu", "modules", "children", "zero_grad"):
                continue
            else:
                return evaluated
    return False


def _named_parameters_dict(node: ast.AST) -> Optional[ast.AST]:
    """The model of ``dict(m.named_parameters())`` / ``OrderedDict(...)`` / an unfiltered
    ``{n: p... for n, p in m.named_parameters()}``."""
    def np_call(e: ast.AST) -> Optional[ast.AST]:
        if isinstance(e, ast.Call) and isinstance(e.func, ast.Attribute) and e.func.attr == "named_parameters" \
                and not e.keywords and not e.args:
            return e.func.value
        return None

    if isinstance(node, ast.Call) and len(node.args) == 1 and not node.keywords \
            and (dotted(node.func) or "").rsplit(".", 1)[-1] in ("dict", "OrderedDict"):
        return np_call(node.args[0])
    if isinstance(node, ast.DictComp) and len(node.generators) == 1 and not node.generators[0].ifs:
        g = node.generators[0]
        if isinstance(g.target, ast.Tuple) and len(g.target.elts) == 2 and isinstance(node.key, ast.Name) \
                and isinstance(g.target.elts[0], ast.Name) and node.key.id == g.target.elts[0].id:
            return np_call(g.iter)
    return None


def _checkpoint_use(module: Module, scope, node: ast.AST) -> Optional[tuple[str, ast.Call]]:
    """("save", call) when ``node`` (or the one name bound to it) is what ``torch.save`` writes (also a
    value of the dict it writes); ("load", call) when it is loaded with ``strict=False``."""
    parent = next(iter(module.ancestors(node)), None)
    name = None
    if isinstance(parent, ast.Assign) and len(parent.targets) == 1 and isinstance(parent.targets[0], ast.Name):
        name = parent.targets[0].id
    owner = scope if scope is not None else module.tree
    for c in astwalk.walk(owner):
        if not isinstance(c, ast.Call) or not c.args:
            continue
        arg = c.args[0]
        vals = [arg] + (list(arg.values) if isinstance(arg, ast.Dict) else [])
        hit = any(v is node or name is not None and isinstance(v, ast.Name) and v.id == name for v in vals)
        if not hit:
            continue
        if (module.qualname(c.func) or "") == "torch.save":
            return "save", c
        if isinstance(c.func, ast.Attribute) and c.func.attr == "load_state_dict" and arg in vals[:1] \
                and _non_strict(c):
            return "load", c
    return None


def _non_strict(call: ast.Call) -> bool:
    strict = next((k.value for k in call.keywords if k.arg == "strict"), call.args[1] if len(call.args) > 1 else None)
    return isinstance(strict, ast.Constant) and strict.value is False


def _loads_non_strict(m: Module) -> bool:
    """Does the file that saves the checkpoint also load checkpoints with ``strict=False`` (the
    export / serve script)? A load elsewhere is not tied to this file's checkpoint."""
    return m.mentions("strict") and any(
        isinstance(c.node.func, ast.Attribute) and c.node.func.attr == "load_state_dict" and _non_strict(c.node)
        for c in m.calls)


def _bn_model(module: Module, project: Project, scope, expr: ast.AST) -> bool:
    if isinstance(expr, ast.Name) and expr.id == "self":
        cls = next((a for a in module.ancestors(expr) if isinstance(a, ast.ClassDef)), None)
        return cls is not None and _bn_classes(project).has_bn(cls.name, module)
    params = _named_params(scope) if scope is not None else set()
    key, _text = receiver_key(expr, {}, params)
    if key is None:
        return False
    if _model_has_bn(key, project, module) is True:
        return True
    return bool(key[0].startswith("$") and scope is not None and _passed_bn(scope, key, project, _flow(project)))


def _param_writes(n: ast.AST) -> Iterable[tuple[str, str, ast.AST, ast.AST]]:
    """(destination layer text, "weight"/"bias", value, node) for ``d.weight.data = v``,
    ``d.weight[...] = v``, ``d.weight = nn.Parameter(v)``, ``d.weight.copy_(v)``, ``d.weight.data.copy_(v)``."""
    def layer_of(t: ast.AST) -> Optional[tuple[str, str]]:
        while isinstance(t, ast.Subscript):
            t = t.value
        if isinstance(t, ast.Attribute) and t.attr == "data":
            t = t.value
        if isinstance(t, ast.Attribute) and t.attr in ("weight", "bias"):
            d = dotted(t.value)
            if d is not None:
                return d, t.attr
        return None

    if isinstance(n, ast.Assign) and len(n.targets) == 1:
        hit = layer_of(n.targets[0])
        if hit:
            yield hit[0], hit[1], n.value, n
    elif isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr == "copy_" and n.args:
        hit = layer_of(n.func.value)
        if hit:
            yield hit[0], hit[1], n.args[0], n


def _reads_other_affine(value: ast.AST, dst: str) -> bool:
    """Does ``value`` read the weight / bias of a layer other than ``dst``?"""
    for n in astwalk.walk(value):
        if isinstance(n, ast.Attribute) and n.attr in ("weight", "bias"):
            d = dotted(n.value)
            if d is not None and d != dst:
                return True
    return False


def _ctor_is_bn(value: ast.AST) -> bool:
    return isinstance(value, ast.Call) and bool(_BN_CTOR.search((dotted(value.func) or "").rsplit(".", 1)[-1]))


def _fresh_bn(module: Module, project: Project, fn: ast.AST, dst: str, anchor: ast.AST) -> bool:
    """Is ``dst`` a BatchNorm layer that starts with fresh statistics in ``fn``: bound there to a
    BatchNorm constructor, an attribute (built as BatchNorm in ``__init__``) of a project model built
    there, or the partner of an ``isinstance(.., BatchNorm)`` layer in a ``zip(a.modules(), b.modules())``
    loop?"""
    parts = dst.split(".")
    binds = [n.value for n in astwalk.walk(fn) if isinstance(n, ast.Assign) and len(n.targets) == 1
             and dotted(n.targets[0]) == parts[0]]
    if len(parts) == 1:
        if len(binds) == 1 and _ctor_is_bn(binds[0]):
            return True
        reaching = _reaching_binding(module, fn, parts[0], anchor)
        if reaching is not None and (_ctor_is_bn(reaching) or _own_class_ctor(module, fn, reaching)):
            return True  # a converter: ``out = module`` ... ``if isinstance(module, SyncBN): out = nn.BatchNorm2d(...)``
        return _zip_partner_of_bn(module, fn, parts[0], anchor)
    if len(parts) == 2 and len(binds) == 1 and isinstance(binds[0], ast.Call):
        cls_name = (dotted(binds[0].func) or "").rsplit(".", 1)[-1]
        found = _class_def(cls_name, module, project) if cls_name else None
        if found is None:
            return False
        cls, _m = found
        for f in cls.body:
            if isinstance(f, ast.FunctionDef) and f.name == "__init__":
                return any(isinstance(a, ast.Assign) and len(a.targets) == 1 and dotted(a.targets[0]) == f"self.{parts[1]}"
                           and _ctor_is_bn(a.value) for a in astwalk.walk(f))
    return False


def _converter_result_trained(module: Module, project: Project, fn: ast.AST) -> bool:
    """Is ``fn`` a converter that hands back what it builds (``return converted``), called in the
    project, whose every call (outside itself) binds its result (``model = convert_bn(model)``) and
    trains it afterwards (an optimizer over it steps later, or in the next iteration)?"""
    if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)) or not any(
            isinstance(r, ast.Return) and r.value is not None for r in astwalk.walk(fn)):
        return False
    from bnguard.lint.rules.torch_fusion import _trained_after
    flow = _flow(project)
    sites = []
    for c in project.call_sites(fn.name):
        if c.scope is fn or any(a is fn for a in c.module.ancestors(c.node)):
            continue  # the converter's recursion into the children
        cands, unique = flow.resolve(c.module, c.node, c.scope)
        if unique and cands and cands[0].node is fn:
            sites.append(c)
    if not sites:
        return False
    for c in sites:
        parent = c.module.parent(c.node)
        if not (isinstance(parent, ast.Assign) and len(parent.targets) == 1 and dotted(parent.targets[0])):
            return False
        if _trained_after(project, c.module, c.scope, parent.targets[0], c.node, need_bn=False) is None:
            return False
    return True


def _reaching_binding(module: Module, fn: ast.AST, name: str, anchor: ast.AST) -> Optional[ast.AST]:
    """The value of the binding of ``name`` that reaches ``anchor``: the last ``name = value`` of
    ``fn`` before it, written in a block that encloses ``anchor`` (None when that last one sits in a
    branch or loop the anchor is not in)."""
    last = None
    for n in astwalk.walk(fn):
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)) and n is not fn:
            continue
        if isinstance(n, (ast.Assign, ast.AnnAssign, ast.AugAssign, ast.For, ast.With, ast.NamedExpr)):
            targets = n.targets if isinstance(n, ast.Assign) else [n.target] if not isinstance(n, ast.With) else \
                [i.optional_vars for i in n.items if i.optional_vars is not None]
            if any(isinstance(x, ast.Name) and x.id == name for t in targets for x in astwalk.walk(t)) \
                    and (n.lineno, n.col_offset) < (anchor.lineno, anchor.col_offset) \
                    and (last is None or (n.lineno, n.col_offset) > (last.lineno, last.col_offset)):
                last = n
    if not isinstance(last, ast.Assign) or len(last.targets) != 1 or not isinstance(last.targets[0], ast.Name):
        return None
    holder = module.parent(last)
    return last.value if any(a is holder for a in module.ancestors(anchor)) else None


def _own_class_ctor(module: Module, fn: ast.AST, value: ast.AST) -> bool:
    """``cls(...)`` in a classmethod of a BatchNorm class (``FrozenBatchNorm2d.convert_frozen_batchnorm``)."""
    cls = module.parent(fn)
    return isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and value.func.id == "cls" \
        and isinstance(cls, ast.ClassDef) and bool(_BN_CTOR.search(cls.name))


def _handed_to_project_function(project: Project, fn: ast.AST, dst: str) -> bool:
    """Is the new layer (or the model holding it) passed to a function of the project, which may copy
    its statistics (``copy_bn_stats(new_bn, old_bn)``)?"""
    base = dst.split(".")[0]
    defs = _bn_classes(project).defs
    for c in astwalk.walk(fn):
        if not isinstance(c, ast.Call):
            continue
        callee = (dotted(c.func) or "").rsplit(".", 1)[-1]
        if not any(isinstance(d, (ast.FunctionDef, ast.AsyncFunctionDef)) for d, _m in defs.get(callee, ())):
            continue
        if any(isinstance(a, (ast.Name, ast.Attribute)) and (dotted(a) or "").split(".")[0] == base
               for a in list(c.args) + [k.value for k in c.keywords]):
            return True
    return False


def _zip_partner_of_bn(module: Module, fn: ast.AST, name: str, anchor: ast.AST) -> bool:
    for a in module.ancestors(anchor):
        if a is fn:
            break
        if isinstance(a, (ast.For, ast.AsyncFor)) and isinstance(a.target, ast.Tuple) \
                and isinstance(a.iter, ast.Call) and dotted(a.iter.func) == "zip" \
                and any(isinstance(t, ast.Name) and t.id == name for t in a.target.elts):
            others = {t.id for t in a.target.elts if isinstance(t, ast.Name)}
            for b in module.ancestors(anchor):
                if b is a:
                    break
                if isinstance(b, ast.If) and isinstance(b.test, ast.Call) and dotted(b.test.func) == "isinstance" \
                        and len(b.test.args) == 2 and isinstance(b.test.args[0], ast.Name) \
                        and b.test.args[0].id in others and "BatchNorm" in ast.unparse(b.test.args[1]):
                    return True
    return False


# -- BN313 shape 5: a parameters-only snapshot restored after a throw-away training pass -----------
# (an LR range test, a trial step, a sweep: ``saved = [p.detach().clone() for p in model.parameters()]``,
# train-mode steps, ``for p, s in zip(model.parameters(), saved): p.copy_(s)``). The forward passes
# of that pass moved the BatchNorm buffers, which the snapshot does not hold.

_BUFFER_WORDS = ("buffers", "running_mean", "running_var", "state_dict", "num_batches_tracked",
                 "reset_running_stats", "deepcopy(self", "deepcopy(model")
_PARAM_WRITES = ("copy_", "set_")
# a parameter copy or a write into a tensor: a file with neither holds no snapshot restored here
_SNAPSHOT_WORDS = re.compile(r"\.clone\(|deepcopy\(|parameters_to_vector|\.copy_\(|\.set_\(|\.data\s*(?:=[^=]|\[)")


def _parameters_of(e: ast.AST) -> Optional[ast.AST]:
    """The module of ``X.parameters()`` / ``X.named_parameters()`` (also in ``list(...)``)."""
    if isinstance(e, ast.Call) and isinstance(e.func, ast.Name) and e.func.id in ("list", "tuple") \
            and len(e.args) == 1 and not e.keywords:
        return _parameters_of(e.args[0])
    if isinstance(e, ast.Call) and isinstance(e.func, ast.Attribute) and e.func.attr in ("parameters", "named_parameters") \
            and not e.args and all(k.arg == "recurse" for k in e.keywords):
        return e.func.value
    return None


def _copies(e: ast.AST, var: str) -> bool:
    """Does ``e`` make a copy of the tensor ``var`` (``p.detach().clone()``, ``p.data.clone()``,
    ``copy.deepcopy(p)``, ``torch.clone(p)``)?"""
    if not any(isinstance(n, ast.Name) and n.id == var for n in astwalk.walk(e)):
        return False
    return any(isinstance(n, ast.Call) and (isinstance(n.func, ast.Attribute) and n.func.attr == "clone"
                                             or (dotted(n.func) or "").rsplit(".", 1)[-1] in ("deepcopy", "clone"))
               for n in astwalk.walk(e))


def _parameter_snapshot(value: ast.AST) -> Optional[ast.AST]:
    """The module whose parameters ``value`` copies (and nothing else): a list / dict / generator
    comprehension of copies over ``X.parameters()`` / ``X.named_parameters()``,
    ``copy.deepcopy(list(X.parameters()))``, ``parameters_to_vector(X.parameters())``."""
    if isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and value.func.id in ("list", "tuple", "dict") \
            and len(value.args) == 1 and isinstance(value.args[0], ast.GeneratorExp):
        value = value.args[0]
    if isinstance(value, (ast.ListComp, ast.GeneratorExp, ast.DictComp)) and len(value.generators) == 1:
        g = value.generators[0]
        src = _parameters_of(g.iter)
        elt = value.value if isinstance(value, ast.DictComp) else value.elt
        var = g.target.elts[-1] if isinstance(g.target, ast.Tuple) and g.target.elts else g.target
        if src is not None and isinstance(var, ast.Name) and _copies(elt, var.id):
            return src
        return None
    while isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute) and value.func.attr in ("clone", "detach") \
            and not value.args:
        value = value.func.value  # parameters_to_vector(...).clone()
    if isinstance(value, ast.Call) and len(value.args) == 1 and not value.keywords:
        last = (dotted(value.func) or "").rsplit(".", 1)[-1]
        if last in ("deepcopy", "parameters_to_vector"):
            return _parameters_of(value.args[0])
    return None


def _restore_writes(body: list, var: str) -> bool:
    """Does the loop body write the parameter ``var`` in place (``var.copy_(..)``, ``var.data.copy_(..)``,
    ``var.data = ..``, ``var.data[...] = ..``, ``var[...] = ..``, ``var.set_(..)``)?"""
    for n in astwalk.walk(ast.Module(body=body, type_ignores=[])):
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr in _PARAM_WRITES \
                and (dotted(n.func.value) or "") in (var, var + ".data"):
            return True
        if isinstance(n, ast.Assign):
            for t in n.targets:
                base = t.value if isinstance(t, ast.Subscript) else t
                if (dotted(base) or "") in (var + ".data",) or isinstance(t, ast.Subscript) and dotted(base) == var:
                    return True
    return False


def _parameter_restore(st: ast.AST, snaps: set[str]) -> Optional[tuple[ast.AST, str]]:
    """(module, snapshot name) when ``st`` writes the parameters of a module back from one of the
    snapshot names: ``for p, s in zip(X.parameters(), saved): p.copy_(s)``, ``for n, p in
    X.named_parameters(): p.data.copy_(saved[n])``, ``vector_to_parameters(saved, X.parameters())``."""
    def names_in(e: ast.AST) -> set[str]:
        return {n.id for n in astwalk.walk(e) if isinstance(n, ast.Name)} & snaps

    if isinstance(st, ast.Call) and (dotted(st.func) or "").rsplit(".", 1)[-1] == "vector_to_parameters" \
            and len(st.args) == 2 and isinstance(st.args[0], ast.Name) and st.args[0].id in snaps:
        src = _parameters_of(st.args[1])
        return (src, st.args[0].id) if src is not None else None
    if not isinstance(st, ast.For):
        return None
    it, target = st.iter, st.target
    if isinstance(it, ast.Call) and isinstance(it.func, ast.Name) and it.func.id == "zip" and len(it.args) == 2 \
            and isinstance(target, ast.Tuple) and len(target.elts) == 2 and all(isinstance(t, ast.Name) for t in target.elts):
        for i in (0, 1):
            src, other = _parameters_of(it.args[i]), it.args[1 - i]
            if src is not None and isinstance(other, ast.Name) and other.id in snaps \
                    and _restore_writes(st.body, target.elts[i].id):  # type: ignore[attr-defined]
                return src, other.id
        return None
    if isinstance(it, ast.Call) and isinstance(it.func, ast.Name) and it.func.id == "enumerate" and len(it.args) == 1:
        it = it.args[0]
    src = _parameters_of(it)
    var = target.elts[-1] if isinstance(target, ast.Tuple) and target.elts else target
    if src is None or not isinstance(var, ast.Name) or not _restore_writes(st.body, var.id):
        return None
    used = set().union(*(names_in(n) for n in st.body)) if st.body else set()
    return (src, next(iter(used))) if len(used) == 1 else None


def _callee_text(text: str, fi, call: ast.Call) -> Optional[str]:
    """A callee's module text (``self.model``, ``net``) in the terms of the caller's ``call``."""
    head, _, rest = text.partition(".")
    self_name, passed = call_arguments(fi, call)
    if self_name is not None and head == self_name:
        recv = call.func.value if isinstance(call.func, ast.Attribute) else None
        base = dotted(recv) if recv is not None else None
        return f"{base}.{rest}" if base and rest else base
    arg = passed.get(head)
    base = dotted(arg) if arg is not None else None
    return (f"{base}.{rest}" if rest else base) if base else None


def _unique_callee(flow, module: Module, call: ast.Call, scope, word: str = ""):
    """The one project function ``call`` runs; with ``word``, only one whose source holds it (checked
    by name first: most calls name no project function holding it, and are not resolved)."""
    f = call.func
    name = f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else None
    defs = flow.project.functions(name) if name is not None else []
    if not defs or word and not any(word in _function_text(d) for d in defs):
        return None
    cands, unique = flow.resolve(module, call, scope)
    return cands[0] if unique and len(cands) == 1 and flow.function_info.get(id(cands[0].node)) is not None else None


def _returned_snapshot(fi) -> Optional[str]:
    """The module text whose parameters ``fi`` returns a copy of (``return [p.clone() for p in
    self.model.parameters()]``, or a name bound to that)."""
    bound: dict[str, str] = {}
    for n in astwalk.walk(fi.node):
        if isinstance(n, ast.Assign) and len(n.targets) == 1 and isinstance(n.targets[0], ast.Name):
            src = _parameter_snapshot(n.value)
            if src is not None and dotted(src):
                bound[n.targets[0].id] = dotted(src)  # type: ignore[assignment]
    for n in astwalk.walk(fi.node):
        if isinstance(n, ast.Return) and n.value is not None:
            src = _parameter_snapshot(n.value)
            if src is not None:
                return dotted(src)
            if isinstance(n.value, ast.Name) and n.value.id in bound:
                return bound[n.value.id]
    return None


def _function_text(fi) -> str:
    m = fi.module
    return "\n".join(m.lines[fi.node.lineno - 1:getattr(fi.node, "end_lineno", fi.node.lineno)])


class _SnapshotRestores:
    """BN313 shape 5 for one function: parameter snapshots, their restores, the pass between."""

    def __init__(self, module: Module, project: Project, fi):
        self.module, self.project, self.fi, self.fn = module, project, fi, fi.node
        self.flow = _flow(project)
        self.texts = [_function_text(fi)]

    def _stepping(self, call: ast.Call) -> bool:
        if is_optimizer_step(call, self.module):
            return True
        callee = _unique_callee(self.flow, self.module, call, self.fn)
        return callee is not None and any(e.kind == "step" for e in self.flow.summary(callee.node))

    def _mode_of(self, call: ast.Call, text: str) -> Optional[str]:
        """"train" for ``text.train()``; "eval" for any ``.eval()`` / ``.apply(fn)`` or a project function
        that puts a module or its BatchNorm layers in eval mode (``freeze_bn(model)``)."""
        f = call.func
        if isinstance(f, ast.Attribute) and f.attr in ("eval", "apply"):
            return "eval"
        if isinstance(f, ast.Attribute) and f.attr == "train":
            return "train" if dotted(f.value) == text else None
        callee = _unique_callee(self.flow, self.module, call, self.fn, "eval")
        kinds = [e.kind for e in self.flow.summary(callee.node)] if callee is not None else []
        return "eval" if any(k in ("eval", "bnfreeze") for k in kinds) else None

    def _steps_in(self, nodes: Iterable[ast.AST]) -> bool:
        return any(isinstance(n, ast.Call) and self._stepping(n) for top in nodes for n in astwalk.walk(top))

    def snapshots(self) -> dict[str, tuple[str, ast.AST]]:
        out: dict[str, tuple[str, ast.AST]] = {}
        for n in astwalk.walk(self.fn):
            if not (isinstance(n, ast.Assign) and len(n.targets) == 1 and isinstance(n.targets[0], ast.Name)):
                continue
            src = _parameter_snapshot(n.value)
            text = dotted(src) if src is not None else None
            if text is None and isinstance(n.value, ast.Call):
                callee = _unique_callee(self.flow, self.module, n.value, self.fn, "parameters")
                inner = _returned_snapshot(callee) if callee is not None else None
                text = _callee_text(inner, callee, n.value) if inner else None
                if text:
                    self.texts.append(_function_text(callee))
            if text:
                out[n.targets[0].id] = (text, n)
        return out

    def restores(self, snaps: dict[str, tuple[str, ast.AST]]) -> Iterable[tuple[str, str, ast.AST]]:
        """(module text, snapshot name, the restoring statement / call) in this function."""
        names = set(snaps)
        for n in astwalk.walk(self.fn):
            hit = _parameter_restore(n, names) if isinstance(n, (ast.For, ast.Call)) else None
            if hit is not None and dotted(hit[0]):
                yield dotted(hit[0]), hit[1], n  # type: ignore[misc]
                continue
            if not isinstance(n, ast.Call) or not any(isinstance(a, ast.Name) and a.id in names
                                                      for a in [*n.args, *(k.value for k in n.keywords)]):
                continue
            callee = _unique_callee(self.flow, self.module, n, self.fn, "parameters")
            if callee is None:
                continue
            passed = call_arguments(callee, n)[1]
            params = {p: a.id for p, a in passed.items() if isinstance(a, ast.Name) and a.id in names}
            for m in astwalk.walk(callee.node):
                inner = _parameter_restore(m, set(params)) if isinstance(m, (ast.For, ast.Call)) else None
                text = _callee_text(dotted(inner[0]) or "", callee, n) if inner is not None and dotted(inner[0]) else None
                if text:
                    self.texts.append(_function_text(callee))
                    yield text, params[inner[1]], n  # type: ignore[index]
                    break

    def throwaway_pass(self, text: str, name: str, snap: ast.AST, restore: ast.AST) -> bool:
        """Between the snapshot and the restore, optimizer steps of the module in train mode and no use
        of the snapshot (averaged slow weights, a running SWA sum are no snapshot); after the restore, no
        step (in the function, or in a loop around the restore)."""
        body = [st for st in astwalk.walk(self.fn) if isinstance(st, ast.stmt) and st is not self.fn]
        between = [st for st in body if st.lineno > snap.end_lineno and st.end_lineno < restore.lineno]  # type: ignore[attr-defined,operator]
        tops = [st for st in between if not any(a in between for a in self.module.ancestors(st))]
        if any(isinstance(n, ast.Name) and n.id == name for st in tops for n in astwalk.walk(st)):
            return False
        calls = sorted((c for st in tops for c in astwalk.walk(st) if isinstance(c, ast.Call)), key=lambda c: (c.lineno, c.col_offset))
        mode, trained = None, False
        for c in calls:
            if self._stepping(c):
                trained = trained or mode != "eval"
            else:
                mode = self._mode_of(c, text) or mode
        if not trained:
            return False  # no step, or every step with the model (or its BN layers) in eval mode: the statistics do not move  # the pass runs in eval mode (the model's or its BN layers'): the statistics do not move
        after = [st for st in body if st.lineno > restore.end_lineno]  # type: ignore[attr-defined]
        if self._steps_in(after):
            return False  # training goes on here (MAML / Reptile inner passes): the statistics keep moving
        loops = [a for a in self.module.ancestors(restore) if isinstance(a, LOOP_TYPES) and a in body]
        return not any(self._steps_in([a]) for a in loops)
