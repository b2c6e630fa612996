"""Network definitions shared by the teacher and the student (build_model(arch, ...))."""
import tensorflow.compat.v1 as tf

ARCHS = {"teacher": [32, 32], "student": [8]}


def build_model(arch, inputs, is_training=True, num_classes=3):
    """Stack of dense -> BN -> ReLU blocks under variable scope `arch`; returns the logits."""
    with tf.variable_scope(arch, reuse=tf.AUTO_REUSE):
        x = inputs
        for i, units in enumerate(ARCHS[arch]):
            x = tf.layers.dense(x, units, use_bias=False, name=f"fc{i}")
            x = tf.layers.batch_normalization(x, momentum=0.9, training=is_training, name=f"bn{i}")
            x = tf.nn.relu(x)
        return tf.layers.dense(x, num_classes, name="logits")
