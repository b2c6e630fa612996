"""Engine facts: import resolution of every spelling, and value resolution across a project."""
from __future__ import annotations

import ast
import textwrap

import pytest

from bnguard.lint import values as V
from bnguard.lint.imports import ImportMap
from bnguard.lint.project import Module, Project
from bnguard.lint.source import SourceUnit


def project(**files: str) -> Project:
    mods = []
    for name, text in files.items():
        text = textwrap.dedent(text)
        mods.append(Module(SourceUnit(name.replace("__", "/") + ".py", text), ast.parse(text)))
    return Project(mods)


def flag_values(p: Project, module_name: str, callee: str = "batch_normalization", kw: str = "training"):
    out = []
    for m in p.modules:
        if m.path != module_name.replace("__", "/") + ".py":
            continue
        for c in m.calls:
            if c.name == callee:
                expr = next((k.value for k in c.node.keywords if k.arg == kw), None)
                out.append(V.possible_values(expr, m, p))
    assert out, "no call found"
    return out[0] if len(out) == 1 else out


@pytest.mark.parametrize("src, expr, canonical", [
    ("import tensorflow as tf", "tf.layers.batch_normalization", "tensorflow.layers.batch_normalization"),
    ("import tensorflow.compat.v1 as tf", "tf.layers.batch_normalization", "tensorflow.layers.batch_normalization"),
    ("from tensorflow.compat import v1 as tf", "tf.layers.batch_normalization", "tensorflow.layers.batch_normalization"),
    ("import tensorflow as tf", "tf.compat.v1.layers.batch_normalization", "tensorflow.layers.batch_normalization"),
    ("from tensorflow.layers import batch_normalization", "batch_normalization", "tensorflow.layers.batch_normalization"),
    ("import tensorflow as tf", "tf.contrib.layers.batch_norm", "tf_slim.batch_norm"),
    ("from tensorflow.contrib import slim", "slim.batch_norm", "tf_slim.batch_norm"),
    ("import tf_slim as slim", "slim.batch_norm", "tf_slim.batch_norm"),
    ("import tensorflow as tf\nslim = tf.contrib.slim", "slim.batch_norm", "tf_slim.batch_norm"),
    ("import tensorflow as tf\nlayers = tf.layers", "layers.batch_normalization", "tensorflow.layers.batch_normalization"),
    ("from tensorflow.contrib.layers.python.layers import layers", "layers.batch_norm", "tf_slim.batch_norm"),
    ("", "tf.layers.batch_normalization", "tensorflow.layers.batch_normalization"),  # a pasted fragment
])
def test_every_import_spelling_resolves_to_one_canonical_name(src, expr, canonical):
    import bnguard.lint.tf1_facts  # noqa: F401  (registers the TF1 canonical prefixes)

    tree = ast.parse(src + "\n" + expr + "\n")
    node = tree.body[-1].value
    assert ImportMap(tree).resolve(node) == canonical


def test_local_name_shadowing_a_conventional_alias_is_not_resolved():
    tree = ast.parse("tf = make_thing()\ntf.layers.batch_normalization\n")
    assert ImportMap(tree).resolve(tree.body[-1].value) is None


def test_literals_constants_and_negation():
    p = project(a="""
        import tensorflow as tf
        A = False
        B = not A
        C = tf.constant(A)
        tf.layers.batch_normalization(x, training=C)
        tf.layers.batch_normalization(x, training=B)
        tf.layers.batch_normalization(x, training=A if cond else True)
    """)
    assert flag_values(p, "a") == [frozenset([False]), frozenset([True]), frozenset([False, True])]
    m = p.modules[0]
    calls = [c for c in m.calls if c.name == "batch_normalization"]
    assert V.always_false(calls[0].node.keywords[0].value, m, p)
    assert V.always_true(calls[1].node.keywords[0].value, m, p)
    assert not V.always_false(calls[2].node.keywords[0].value, m, p)


def test_parameter_resolved_through_every_call_site_in_the_project():
    p = project(model="""
        import tensorflow as tf
        def net(x, is_training=False):
            return tf.layers.batch_normalization(x, training=is_training)
    """, train="""
        from model import net
        logits = net(images, is_training=True)
    """, evaluate="""
        import model
        logits = model.net(images)
    """)
    assert flag_values(p, "model") == frozenset([False, True])


def test_parameter_default_never_overridden_is_always_false():
    p = project(model="""
        import tensorflow as tf
        def net(x, is_training=False):
            return tf.layers.batch_normalization(x, training=is_training)
    """, train="""
        from model import net
        a = net(images)
        b = net(images, False)
    """)
    assert flag_values(p, "model") == frozenset([False])


def test_parameter_of_a_function_never_called_or_passed_around_is_unknown():
    p = project(model="""
        import tensorflow as tf
        def net(x, is_training=False):
            return tf.layers.batch_normalization(x, training=is_training)
    """)
    assert flag_values(p, "model") is V.UNKNOWN
    p = project(model="""
        import tensorflow as tf
        def net(x, is_training=False):
            return tf.layers.batch_normalization(x, training=is_training)
        template = tf.make_template("net", net)
        net(x)
    """)
    assert flag_values(p, "model") is V.UNKNOWN


def test_positional_methods_init_and_partial():
    p = project(a="""
        import functools
        import tensorflow as tf
        class Model:
            def __init__(self, x, training=False):
                self.out = self.block(x, training)
            def block(self, x, training):
                return tf.layers.batch_normalization(x, training=training)
        m = Model(x, True)
        def head(x, training):
            return tf.layers.batch_normalization(x, training=training)
        head_fn = functools.partial(head, training=False)
    """)
    assert flag_values(p, "a") == [frozenset([True]), frozenset([False])]


def test_dict_entry_through_parameters_and_a_written_dict():
    p = project(a="""
        import tensorflow as tf
        CONFIG = {"train_bn": True, "lr": 0.1}
        FLAGS = {"train_bn": True}
        FLAGS["train_bn"] = False
        def block(x, cfg):
            return tf.layers.batch_normalization(x, training=cfg["train_bn"])
        def net(x, config):
            return block(x, config)
        net(x, CONFIG)
        tf.layers.batch_normalization(x, training=FLAGS["train_bn"])
        tf.layers.batch_normalization(x, training=CONFIG["missing"])
    """)
    assert flag_values(p, "a") == [frozenset([True]), V.UNKNOWN, V.UNKNOWN]


def test_base_init_called_with_explicit_self_and_unrelated_super_init():
    p = project(a="""
        import tensorflow as tf
        class Config:
            def __init__(self, name, is_training=False):
                self.is_training = is_training
        class TrainConfig(Config):
            def __init__(self, name, is_training):
                Config.__init__(self, name, is_training)
        class Net:
            def __init__(self, cfg):
                self.cfg = cfg
                self.bn = tf.layers.batch_normalization(x, training=cfg.is_training)
        class BigNet(Net):
            def __init__(self, cfg):
                super().__init__(cfg=cfg)
        BigNet(TrainConfig("a", is_training=True))
    """)
    assert flag_values(p, "a") == frozenset([True])


def test_star_args_at_a_call_site_make_the_parameter_unknown():
    p = project(a="""
        import tensorflow as tf
        def net(x, is_training=False):
            return tf.layers.batch_normalization(x, training=is_training)
        net(x)
        net(*args)
    """)
    assert flag_values(p, "a") is V.UNKNOWN


def test_attribute_stores_and_unresolvable_names():
    p = project(a="""
        import tensorflow as tf
        class M:
            def __init__(self):
                self.is_training = False
            def build(self, x):
                return tf.layers.batch_normalization(x, training=self.is_training)
        def other(x, flags):
            return tf.layers.batch_normalization(x, training=flags.train)
        for phase in (True, False):
            tf.layers.batch_normalization(x, training=phase)
    """)
    assert flag_values(p, "a") == [frozenset([False]), V.UNKNOWN, V.UNKNOWN]


def test_recursion_does_not_loop():
    p = project(a="""
        import tensorflow as tf
        def f(x, training, depth):
            if depth:
                return f(x, training, depth - 1)
            return tf.layers.batch_normalization(x, training=training)
        f(x, False, 3)
    """)
    assert flag_values(p, "a") == frozenset([False])


def test_placeholders_and_feeds():
    p = project(model="""
        import tensorflow as tf
        class Net:
            def __init__(self, x):
                self.is_training = tf.placeholder_with_default(False, [], name="is_training")
                self.dropout_on = tf.placeholder_with_default(False, [], name="dropout_on")
                self.fed_by_name = tf.placeholder_with_default(False, [], name="phase")
                self.h1 = tf.layers.batch_normalization(x, training=self.is_training)
                self.h2 = tf.layers.batch_normalization(x, training=self.dropout_on)
                self.h3 = tf.layers.batch_normalization(x, training=self.fed_by_name)
                self.h4 = tf.layers.batch_normalization(x, training=tf.placeholder(tf.bool))
    """, train="""
        from model import Net
        net = Net(x)
        sess.run(op, feed_dict={net.is_training: True})
        sess.run(op, {"phase:0": True})
    """)
    v1, v2, v3, v4 = flag_values(p, "model")
    (ph1,), (ph2,), (ph3,), (ph4,) = (V.placeholders(v) for v in (v1, v2, v3, v4))
    assert ph1.has_default and ph1.default == frozenset([False])
    assert V.is_fed(ph1, p) and not V.is_fed(ph2, p) and V.is_fed(ph3, p)
    assert not ph4.has_default
    assert not V.always_false(None, p.modules[0], p)
    assert not V.always_false_values(v2)  # a placeholder is never a constant


def test_imported_module_constant():
    p = project(config="""
        IS_TRAINING = False
    """, model="""
        import tensorflow as tf
        from config import IS_TRAINING
        import config
        tf.layers.batch_normalization(x, training=IS_TRAINING)
        tf.layers.batch_normalization(x, training=config.IS_TRAINING)
    """)
    assert flag_values(p, "model") == [frozenset([False]), frozenset([False])]


def test_same_named_modules_resolve_to_the_importers_directory_then_nearest_ancestor():
    p = project(
        lesson1__resnet="IS_TRAINING = False\n",
        lesson1__train="from resnet import IS_TRAINING\nh = batch_normalization(x, training=IS_TRAINING)\n",
        lesson2__resnet="IS_TRAINING = True\n",
        lesson2__train="from resnet import IS_TRAINING\nh = batch_normalization(x, training=IS_TRAINING)\n",
        pkg__config="IS_TRAINING = True\n",
        pkg__sub__config="IS_TRAINING = False\n",
        pkg__sub__deep__run="from pkg.sub import config\nh = batch_normalization(x, training=config.IS_TRAINING)\n",
    )
    assert flag_values(p, "lesson1__train") == frozenset([False])
    assert flag_values(p, "lesson2__train") == frozenset([True])
    assert flag_values(p, "pkg__sub__deep__run") == frozenset([False])
    by_path = {m.path: m for m in p.modules}
    # Without an importer, or when no candidate is on the importer's path, the name stays ambiguous.
    assert p.module_named("resnet") is None
    assert p.module_named("resnet", by_path["pkg/config.py"]) is None
    assert p.module_named("config", by_path["pkg/sub/deep/run.py"]) is by_path["pkg/sub/config.py"]


def test_verdicts_do_not_depend_on_folder_names_above_the_project(tmp_path, monkeypatch):
    """A folder above the project named like a deliberate use ("tta", "adaptation") must not
    silence a finding, and `check .` must equal `check /absolute/path`."""
    from bnguard.lint.engine import lint_paths

    project = tmp_path / "my_tta_experiments" / "proj"
    project.mkdir(parents=True)
    (project / "evaluate.py").write_text(
        "import torch\nimport torch.nn as nn\n\n"
        "net = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8))\n\n\n"
        "def evaluate(loader):\n"
        "    with torch.no_grad():\n"
        "        return [net(x) for x, _ in loader]\n\n\n"
        "evaluate([])\n")
    absolute = [(f.code, f.line) for f in lint_paths([str(project)]).findings]
    monkeypatch.chdir(project)
    relative = [(f.code, f.line) for f in lint_paths(["."]).findings]
    assert absolute == relative == [("BN303", 9)]


def test_a_failing_project_fact_is_computed_once_and_fails_for_every_module():
    p = project(a="x = 1\n", b="y = 2\n")
    runs = []

    def compute(_p):
        runs.append(1)
        raise ValueError("broken fact")

    for _module in p.modules:
        with pytest.raises(ValueError, match="broken fact"):
            p.fact("test.broken", compute)
    assert len(runs) == 1
