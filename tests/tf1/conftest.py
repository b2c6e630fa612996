"""Fixtures for the TF1 graph tests.

Graphs are built inside ``tf.Graph().as_default()`` with eager execution left on, so nothing here
changes TensorFlow's global mode for other tests in the same process. The two TF1 flavours are
selected with the (restorable) resource-variable and control-flow-v2 switches:

- ``ref-v1``: ``VariableV2`` + ``Switch``/``Merge`` (what ``disable_v2_behavior()`` builds),
- ``resource-v2``: ``VarHandleOp`` + ``If``/``StatelessIf`` with assign ops in the function library
  (what ``disable_eager_execution()`` builds).
"""
import pytest

try:
    import tensorflow as tf
except ImportError:  # the tensorflow extra is not installed: skip this folder
    tf = None
    collect_ignore_glob = ["test_*.py"]
tf1 = tf.compat.v1 if tf is not None else None

MODES = ["ref-v1", "resource-v2"]


@pytest.fixture(params=MODES)
def graph_mode(request):
    saved_resource = tf1.resource_variables_enabled()
    saved_cf2 = tf1.control_flow_v2_enabled()
    if request.param == "ref-v1":
        tf1.disable_resource_variables()
        tf1.disable_control_flow_v2()
    else:
        tf1.enable_resource_variables()
        tf1.enable_control_flow_v2()
    yield request.param
    (tf1.enable_resource_variables if saved_resource else tf1.disable_resource_variables)()
    (tf1.enable_control_flow_v2 if saved_cf2 else tf1.disable_control_flow_v2)()
