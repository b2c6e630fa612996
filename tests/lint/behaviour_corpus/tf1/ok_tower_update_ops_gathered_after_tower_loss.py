"""Multi-tower TF1 training (cifar10_multi_gpu_train / inception_train layout, towers on CPU here).
Each tower gets a slice of the batch under name_scope('tower_%d'), variables are shared through
the variable scope, the tower gradients are averaged and applied once. As in inception_train, the
BN updates of the final tower are kept: get_collection(UPDATE_OPS, scope) runs right after
tower_loss() has built that tower's layers, and tf.group(apply_gradient_op, *batchnorm_updates)
runs them with every step."""
import os
import random

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

tf.compat.v1.disable_eager_execution()
v1 = tf.compat.v1

NUM_TOWERS = 2
BATCH_SIZE = 32
TOWER_NAME = "tower"


def inference(images, is_training):
    net = v1.layers.dense(images, 16, use_bias=False, name="fc1")
    net = v1.layers.batch_normalization(net, momentum=0.9, training=is_training, name="bn1")
    net = tf.nn.relu(net)
    return v1.layers.dense(net, 3, name="logits")


def tower_loss(images, labels):
    logits = inference(images, is_training=True)
    return v1.losses.sparse_softmax_cross_entropy(labels, logits, loss_collection=None)


def average_gradients(tower_grads):
    averaged = []
    for grad_and_vars in zip(*tower_grads):
        grads = tf.stack([g for g, _ in grad_and_vars])
        averaged.append((tf.reduce_mean(grads, 0), grad_and_vars[0][1]))
    return averaged


def build_training(images, labels):
    global_step = v1.train.get_or_create_global_step()
    opt = v1.train.MomentumOptimizer(0.05, momentum=0.9)
    image_splits = tf.split(images, NUM_TOWERS)
    label_splits = tf.split(labels, NUM_TOWERS)
    tower_grads, losses = [], []
    with v1.variable_scope(v1.get_variable_scope()):
        for i in range(NUM_TOWERS):
            with tf.device("/cpu:0"), tf.name_scope(f"{TOWER_NAME}_{i}") as scope:
                loss = tower_loss(image_splits[i], label_splits[i])
                # Retain the BN updates of the final tower only.
                batchnorm_updates = v1.get_collection(v1.GraphKeys.UPDATE_OPS, scope)
                v1.get_variable_scope().reuse_variables()
                tower_grads.append(opt.compute_gradients(loss))
                losses.append(loss)
    apply_gradient_op = opt.apply_gradients(average_gradients(tower_grads), global_step=global_step)
    train_op = tf.group(apply_gradient_op, *batchnorm_updates)
    return train_op, tf.add_n(losses) / NUM_TOWERS


def main():
    random.seed(0)
    v1.set_random_seed(0)
    rng = np.random.RandomState(0)
    images = v1.placeholder(tf.float32, [BATCH_SIZE, 6])
    labels = v1.placeholder(tf.int64, [BATCH_SIZE])
    train_op, loss = build_training(images, labels)
    moving_mean = [v for v in v1.global_variables() if v.name == "bn1/moving_mean:0"][0]
    with v1.Session(config=v1.ConfigProto(allow_soft_placement=True)) as sess:
        sess.run(v1.global_variables_initializer())
        for step in range(10):
            x = rng.randn(BATCH_SIZE, 6).astype(np.float32) * 2.0 + 1.5
            y = (x[:, 0] > 1.5).astype(np.int64) + (x[:, 1] > 1.5).astype(np.int64)
            _, loss_value = sess.run([train_op, loss], {images: x, labels: y})
            if step % 5 == 0:
                print(f"step {step}: loss {loss_value:.3f}")
        final_mean = sess.run(moving_mean)
    print("BN-GROUND-TRUTH:", "frozen" if np.allclose(final_mean, 0.0) else "updated")


if __name__ == "__main__":
    main()
