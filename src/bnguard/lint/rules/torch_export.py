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
from typing import Iterable, Optional

from bnguard.lint.finding import Finding
from bnguard.lint.project import Module, Project, is_unit_test
from bnguard.lint.rules.base import Rule, RuleDoc, register
from bnguard.lint.rules.torch import (
    _DELIBERATE_PATH, PYTORCH_VERSIONS, _callers_set_eval, _deliberate_train_mode, _flow, _is_lightning,
    _model_has_bn, _never_used, _uses_torch,
)
from bnguard.lint.torchflow import Event, _builds_new_module, _named_params, guard_of, receiver_key, same_object, same_object_base

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
`train(False)` in between. A model received as a parameter is judged by the callers.
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
                how = "comes from callers that never put it in eval mode"
            if _model_has_bn(key, project, module) is not True and not (
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
    return seen


def _passed_bn(scope: ast.AST, key, project: Project, flow) -> bool:
    verdicts = [_model_has_bn(ckey, project, site.module) for _e, ckey, site in _caller_keys(scope, key, project, flow)
                if ckey is not None]
    return bool(verdicts) and all(v is True for v in verdicts)

