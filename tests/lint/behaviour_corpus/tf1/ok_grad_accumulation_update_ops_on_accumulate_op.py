"""TF1 gradient accumulation (large effective batch on a small device): `accumulate_op` adds each
micro-batch's gradients into non-trainable accumulators and `apply_op` applies their mean every
ACCUM micro-batches (it depends on that micro-batch's accumulate_op). The batch-norm
UPDATE_OPS are wrapped around the accumulate step, which runs on every micro-batch, so the moving
averages see every training micro-batch."""
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np  # noqa: E402
import tensorflow.compat.v1 as tf  # noqa: E402

tf.disable_v2_behavior()

ACCUM = 4
MICRO_BATCH = 8
MICRO_STEPS = 16


def network(x, training):
    with tf.variable_scope("model"):
        h = tf.layers.conv2d(x, 6, 3, padding="same", use_bias=False, name="conv")
        h = tf.layers.batch_normalization(h, training=training, momentum=0.8, name="bn")
        h = tf.reduce_mean(tf.nn.relu(h), axis=[1, 2])
        return tf.layers.dense(h, 2, name="fc")


def build_accumulation(loss, optimizer, variables):
    grads = tf.gradients(loss, variables)
    accumulators = [tf.Variable(tf.zeros_like(v.initialized_value()), trainable=False) for v in variables]
    update_ops = tf.get_collection(tf.GraphKeys.UPDATE_OPS)
    with tf.control_dependencies(update_ops):
        accumulate_op = tf.group(*[a.assign_add(g) for a, g in zip(accumulators, grads)])
    with tf.control_dependencies([accumulate_op]):
        apply_op = optimizer.apply_gradients([(a / ACCUM, v) for a, v in zip(accumulators, variables)])
    with tf.control_dependencies([apply_op]):
        zero_op = tf.group(*[a.assign(tf.zeros_like(a)) for a in accumulators])
    return accumulate_op, zero_op


def main():
    tf.set_random_seed(0)
    rng = np.random.RandomState(0)
    x = tf.placeholder(tf.float32, [None, 8, 8, 3])
    y = tf.placeholder(tf.int32, [None])
    training = tf.placeholder(tf.bool, [])
    loss = tf.losses.sparse_softmax_cross_entropy(y, network(x, training))
    accumulate_op, apply_and_zero_op = build_accumulation(
        loss, tf.train.GradientDescentOptimizer(0.05), tf.trainable_variables())
    moving_mean = tf.global_variables("model/bn/moving_mean")[0]
    changed_steps = 0
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for micro_step in range(MICRO_STEPS):
            feed = {x: rng.normal(2.0, 1.0, (MICRO_BATCH, 8, 8, 3)), y: rng.randint(0, 2, MICRO_BATCH),
                    training: True}
            before = sess.run(moving_mean)
            last_of_group = (micro_step + 1) % ACCUM == 0
            sess.run([apply_and_zero_op if last_of_group else accumulate_op, loss], feed)
            changed_steps += int(not np.allclose(sess.run(moving_mean), before))
    print(f"moving_mean changed on {changed_steps}/{MICRO_STEPS} training micro-batches")
    if changed_steps == MICRO_STEPS:
        verdict = "updated"
    elif changed_steps == 0:
        verdict = "frozen"
    else:
        verdict = "stale"
    print("BN-GROUND-TRUTH:", verdict)


if __name__ == "__main__":
    main()
