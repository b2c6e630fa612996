"""Attribution / saliency passes run with the whole model in train mode: facts for BN303.

Gradient attributions (integrated gradients, saliency, SmoothGrad, Grad-CAM, Captum's ``attribute``)
run the trained model forward on inputs that are not training data (interpolations between a baseline
and an input, noisy copies, held-out examples) and take gradients with respect to those INPUTS. A
``model.train()`` written before them to get a backward pass through a cuDNN RNN (cuDNN's RNN backward
refuses to run in eval mode: Captum's FAQ, its issue tracker) puts every BatchNorm layer of the model
in train mode too: each of these forwards normalizes with its own batch statistics and folds the
interpolated / perturbed batch into ``running_mean`` / ``running_var`` (momentum 0.1 per forward),
which every later prediction and the saved checkpoint use. Switching only the ``nn.RNNBase`` modules
to train mode (or the BN layers back to eval) leaves the statistics alone.

What counts as an attribution: a forward of the model on a tensor whose gradient the function takes
(``torch.autograd.grad(score, x)`` without ``create_graph``, or ``x.grad`` read after ``backward()``,
where ``x`` is among the forward's arguments), or a Captum attribution object built around the model
(``IntegratedGradients(model).attribute(x)``). Not a training step: the function steps no optimizer,
and no caller runs it where it steps one (adversarial examples / gradient penalties of a training
step fold training data, by design).
"""
from __future__ import annotations

import ast
from typing import Optional

from bnguard.lint import astwalk
from bnguard.lint.imports import dotted
from bnguard.lint.project import Module, Project, is_test_file, is_unit_test
from bnguard.lint.torchflow import Flow


def _grad_call(call: ast.Call, module: Module) -> bool:
    """``torch.autograd.grad(...)`` / ``autograd.grad(...)`` / ``grad(...)`` imported from torch.autograd."""
    q = module.qualname(call.func) or ""
    if q in ("torch.autograd.grad", "torch.autograd.grad.grad"):
        return True
    return (dotted(call.func) or "") in ("torch.autograd.grad", "autograd.grad")


def _names(node: Optional[ast.AST]) -> set[str]:
    if node is None:
        return set()
    return {n.id for n in astwalk.walk(node) if isinstance(n, ast.Name)}


def _input_names(call: ast.Call) -> set[str]:
    out: set[str] = set()
    for a in list(call.args) + [k.value for k in call.keywords]:
        out |= _names(a)
    return out


def _gradient_inputs(fn: ast.AST, module: Module, after: int) -> set[str]:
    """Names whose gradient ``fn`` takes after line ``after``, when that gradient is not fed back into
    a loss (no ``create_graph=True``: a gradient penalty / double backprop trains on it)."""
    out: set[str] = set()
    backward = False
    grads: set[str] = set()
    for n in astwalk.walk(fn):
        if isinstance(n, ast.Call) and n.lineno > after:
            if any(k.arg == "create_graph" and not (isinstance(k.value, ast.Constant) and k.value.value in (False, None))
                   for k in n.keywords):
                return set()
            if isinstance(n.func, ast.Attribute) and n.func.attr == "backward":
                backward = True
            elif _grad_call(n, module):
                inputs = n.args[1] if len(n.args) > 1 else next((k.value for k in n.keywords if k.arg == "inputs"), None)
                if isinstance(inputs, (ast.List, ast.Tuple)):
                    out |= {e.id for e in inputs.elts if isinstance(e, ast.Name)}
                elif isinstance(inputs, ast.Name):
                    out.add(inputs.id)
        elif isinstance(n, ast.Attribute) and n.attr == "grad" and isinstance(n.value, ast.Name) \
                and isinstance(n.ctx, ast.Load) and getattr(n, "lineno", 0) > after:
            grads.add(n.value.id)
    return out | (grads if backward else set())


def _captum_run(fn: ast.AST, module: Module, text: str, after: int) -> Optional[ast.Call]:
    """``IntegratedGradients(model)`` (any Captum attribution class) built around the model after
    ``after``: its ``attribute()`` runs the model forward on interpolated / perturbed inputs."""
    for n in astwalk.walk(fn):
        if isinstance(n, ast.Call) and n.lineno > after and (module.qualname(n.func) or "").startswith("captum.") \
                and any(dotted(a) == text for a in list(n.args[:1]) + [k.value for k in n.keywords
                                                                      if k.arg in ("model", "forward_func")]):
            return n
    return None


def _called_from_training_steps(fn: ast.AST, flow: Flow) -> bool:
    """Is ``fn`` called where its caller steps an optimizer in the same iteration (an adversarial
    example or an input-gradient term of a training step)?"""
    from bnguard.lint.rules.torch import _in_training_step
    for site, _unique in flow.callers_of(fn):
        if site.scope is not None and _in_training_step(site.module, site.node, site.scope, flow.summary(site.scope)):
            return True
    return False


def attribution_in_train_mode(module: Module, project: Project, flow: Flow, reported: set) -> list[tuple[ast.AST, str]]:
    """(forward / Captum call, message) for each function of ``module`` (and its module-level code: a
    notebook, a script) that calls ``x.train()`` on a whole BN model and then runs a gradient
    attribution of it (see the module docstring)."""
    from bnguard.lint.rules import torch as T
    if not (module.mentions("grad") or module.mentions("captum")):
        return []
    train_lines = [c.node.lineno for c in module.calls if c.name == "train"
                   and isinstance(c.node.func, ast.Attribute) and T._literal_train(c.node)]
    if not train_lines:
        return []
    rel = project.relative_path(module)
    if is_test_file(rel) or T._DELIBERATE_PATH.search(rel):
        return []
    out: list[tuple[ast.AST, str]] = []
    for fi in module.functions:
        fn = fi.node
        if isinstance(fn, ast.Lambda) or not any(fn.lineno <= line <= (fn.end_lineno or fn.lineno) for line in train_lines) \
                or is_unit_test(module, fn) or T._deliberate_bn_name(fn.name):
            continue
        events = flow.summary(fn)
        if any(e.kind == "step" for e in events) or T._restores_bn_state(fn) \
                or any(T._deliberate_bn_name(n) for n in T._identifiers(fn)):
            continue
        out.extend(_judge(module, project, flow, fn, fn, events, reported))
    if any(module.scope_of(c.node) is None for c in module.calls if c.node.lineno in train_lines):
        body = [st for st in module.tree.body if not isinstance(st, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]
        first = min(c.node.lineno for c in module.calls if c.node.lineno in train_lines and module.scope_of(c.node) is None)
        if not any(_handles_bn_state(st) or any(T._deliberate_bn_name(n) for n in T._identifiers(st))
                   for st in body if (st.end_lineno or st.lineno) >= first):
            top = ast.Module(body=body, type_ignores=[])
            out.extend(_judge(module, project, flow, None, top, flow.module_summary(module), reported))
    return out


def _handles_bn_state(node: ast.AST) -> bool:
    """A restore of the weights / buffers, a copy, or BatchNorm handled by hand (its momentum, its
    running statistics, a BatchNorm type test)."""
    for n in astwalk.walk(node):
        name = n.attr if isinstance(n, ast.Attribute) else n.id if isinstance(n, ast.Name) else None
        if name and (name in ("load_state_dict", "deepcopy", "momentum", "track_running_stats", "running_mean",
                              "running_var") or "batchnorm" in name.lower()):
            return True
    return False


def _judge(module: Module, project: Project, flow: Flow, fn: Optional[ast.AST], code: ast.AST, events: list,
           reported: set) -> list[tuple[ast.AST, str]]:
    """The attributions of ``code`` (the body of ``fn``, or the module-level statements when ``fn`` is
    None) run after one of its literal whole-model ``train()`` calls."""
    from bnguard.lint.rules import torch as T
    trains = [e for e in events if e.kind == "train" and not e.fresh and len(e.sites) == 1 and e.key is not None
              and not e.guards and isinstance(e.node, ast.Call) and T._literal_train(e.node)]
    out: list[tuple[ast.AST, str]] = []
    for t in trains:
        if (id(fn), t.key) in reported or not t.text or any(T._GENERATOR_NAME.search(n) for n in T.key_names(t.key)):
            continue
        line = t.node.lineno
        run = _captum_run(code, module, t.text, line)
        what = "the Captum attribution built here runs it"
        if run is None:
            grads = _gradient_inputs(code, module, line)
            if not grads:
                continue
            run = next((call for call, expr in sorted(T._model_calls(code, module, project),
                                                      key=lambda c: (c[0].lineno, c[0].col_offset))
                        if call.lineno > line and dotted(expr) == t.text and _input_names(call) & grads), None)
            what = "its input-gradient passes run it"
        if run is None:
            continue
        if any(e.kind in ("eval", "bnfreeze", "bnfreeze?", "step") and line < getattr(e.sites[0][1], "lineno", 0) <= run.lineno
               for e in events) or T._eval_call_between(code, line, run.lineno):
            continue  # BN (or everything) back in eval mode before the passes, or a training step between
        if fn is not None and _called_from_training_steps(fn, flow):
            continue  # adversarial examples / input gradients of a training step: training data
        if fn is None:
            if T._model_has_bn(t.key, project, module) is not True:
                continue
        elif T._mc_model_has_bn(module, project, flow, fn, t, run) is not True:
            continue
        reported.add((id(fn), t.key))
        text = t.text
        out.append((run, (
            f"`{ast.unparse(t.node)}` at {module.line_ref(line)} puts the whole of `{text}` in train mode for a "
            f"gradient attribution, and {what} on inputs that are not training data (interpolations, perturbed "
            f"or held-out examples): its BatchNorm layers normalize with each batch's statistics and fold these "
            f"inputs into running_mean / running_var, which every later prediction and saved checkpoint use. "
            f"Keep `{text}.eval()` and switch only the layers that need train mode (`for m in {text}.modules(): "
            f"if isinstance(m, nn.RNNBase): m.train()`), or put the BatchNorm layers back in eval.")))
        break
    return out
