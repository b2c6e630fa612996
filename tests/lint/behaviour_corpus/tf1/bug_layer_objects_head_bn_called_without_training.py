"""TF1 fine-tuning script written with the object API of tf.compat.v1.layers (Dense/BatchNormalization
objects created in a model class, applied in __call__). The backbone comes from a pretrained checkpoint
and is frozen on purpose: its BN objects are applied in inference mode and only the head's variables
are in the optimizer's var_list. The new head has its own BatchNormalization, trained from scratch with
is_training = placeholder_with_default(False) fed True by the training loop; minimize() runs under
control_dependencies(UPDATE_OPS)."""
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

tf.compat.v1.disable_eager_execution()
v1 = tf.compat.v1


class FineTuneClassifier:
    def __init__(self, num_classes=3):
        self.backbone_fc = v1.layers.Dense(12, use_bias=False, name="backbone_fc")
        self.backbone_bn = v1.layers.BatchNormalization(momentum=0.9, name="backbone_bn")
        self.head_fc = v1.layers.Dense(8, use_bias=False, name="head_fc")
        self.head_bn = v1.layers.BatchNormalization(momentum=0.9, name="head_bn")
        self.classifier = v1.layers.Dense(num_classes, name="classifier")

    def __call__(self, x, is_training):
        # pretrained backbone: inference mode, stop_gradient -> its statistics and weights are kept
        features = tf.stop_gradient(tf.nn.relu(self.backbone_bn(self.backbone_fc(x))))
        h = self.head_bn(self.head_fc(features))
        return self.classifier(tf.nn.relu(h))

    def head_variables(self):
        return self.head_fc.trainable_weights + self.head_bn.trainable_weights + self.classifier.trainable_weights


def load_pretrained_backbone(sess, model):
    """Stand-in for a checkpoint restore: source-domain statistics and weights."""
    rng = np.random.default_rng(1)
    model.backbone_fc.kernel.load(rng.normal(0.0, 0.3, (6, 12)).astype("float32"), sess)
    model.backbone_bn.moving_mean.load(np.full(12, 0.5, "float32"), sess)
    model.backbone_bn.moving_variance.load(np.full(12, 2.0, "float32"), sess)


def main():
    v1.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = v1.placeholder(tf.float32, [None, 6])
    y = v1.placeholder(tf.int64, [None])
    is_training = v1.placeholder_with_default(False, [], name="is_training")
    model = FineTuneClassifier()
    loss = v1.losses.sparse_softmax_cross_entropy(y, model(x, is_training))
    with tf.control_dependencies(v1.get_collection(v1.GraphKeys.UPDATE_OPS)):
        train_op = v1.train.AdamOptimizer(1e-2).minimize(loss, var_list=model.head_variables())
    with v1.Session() as sess:
        sess.run(v1.global_variables_initializer())
        load_pretrained_backbone(sess, model)
        head_kernel = sess.run(model.head_fc.kernel)
        for _ in range(12):
            batch = rng.normal(1.5, 1.0, (16, 6)).astype("float32")
            sess.run(train_op, {x: batch, y: rng.integers(0, 3, 16), is_training: True})
        backbone_mean, head_mean, head_kernel_after = sess.run(
            [model.backbone_bn.moving_mean, model.head_bn.moving_mean, model.head_fc.kernel])
    backbone = "backbone-frozen" if np.allclose(backbone_mean, 0.5) else "backbone-drifted"
    if np.allclose(head_kernel, head_kernel_after):
        head = "head-not-trained"
    else:
        head = "head-frozen" if np.allclose(head_mean, 0.0) else "head-updated"
    print("BN-GROUND-TRUTH:", f"{backbone}-{head}")


if __name__ == "__main__":
    main()
