"""TF1 train/eval script pair (graph mode): training keeps tf.train.ExponentialMovingAverage shadows of
the trainable variables next to optimizer.minimize() under control_dependencies(UPDATE_OPS) and saves
everything with a plain Saver. The evaluation graph loads the averaged weights with a hand-built
name map {ema.average_name(v): v} passed to tf.train.Saver(var_list=...), then reports the BN moving
mean it normalises with."""
import os
import tempfile

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

tf.compat.v1.disable_eager_execution()
v1 = tf.compat.v1

EMA_DECAY = 0.9


def tower(x, is_training):
    with v1.variable_scope("tower"):
        h = v1.layers.dense(x, 10, use_bias=False, name="fc1")
        h = v1.layers.batch_normalization(h, momentum=0.9, training=is_training, name="bn1")
        return v1.layers.dense(tf.nn.relu(h), 3, name="logits")


def find_variable(name):
    return [v for v in v1.global_variables() if v.op.name == name][0]


def run_training(train_dir, steps=12):
    with tf.Graph().as_default():
        v1.set_random_seed(0)
        global_step = v1.train.get_or_create_global_step()
        x = v1.placeholder(tf.float32, [None, 6])
        y = v1.placeholder(tf.int64, [None])
        loss = v1.losses.sparse_softmax_cross_entropy(y, tower(x, is_training=True))
        with tf.control_dependencies(v1.get_collection(v1.GraphKeys.UPDATE_OPS)):
            step_op = v1.train.MomentumOptimizer(0.05, 0.9).minimize(loss, global_step=global_step)
        ema = v1.train.ExponentialMovingAverage(EMA_DECAY, num_updates=global_step)
        with tf.control_dependencies([step_op]):
            train_op = ema.apply(v1.trainable_variables())
        saver = v1.train.Saver()
        rng = np.random.default_rng(0)
        with v1.Session() as sess:
            sess.run(v1.global_variables_initializer())
            for _ in range(steps):
                sess.run(train_op, {x: rng.normal(2.0, 1.0, (16, 6)), y: rng.integers(0, 3, 16)})
            trained = sess.run(find_variable("tower/bn1/moving_mean"))
            saver.save(sess, os.path.join(train_dir, "model.ckpt"), global_step=global_step)
    return trained


def averaged_weights_map(ema):
    return {ema.average_name(v): v for v in v1.trainable_variables()}


def run_evaluation(train_dir):
    with tf.Graph().as_default():
        x = v1.placeholder(tf.float32, [None, 6])
        tower(x, is_training=False)
        ema = v1.train.ExponentialMovingAverage(EMA_DECAY)
        saver = v1.train.Saver(var_list=averaged_weights_map(ema))
        with v1.Session() as sess:
            sess.run(v1.global_variables_initializer())
            saver.restore(sess, v1.train.latest_checkpoint(train_dir))
            return sess.run(find_variable("tower/bn1/moving_mean"))


def main():
    with tempfile.TemporaryDirectory() as train_dir:
        trained = run_training(train_dir)
        evaluated = run_evaluation(train_dir)
    if np.allclose(trained, 0.0):
        behaviour = "frozen"
    elif np.allclose(evaluated, trained):
        behaviour = "restored"
    elif np.allclose(evaluated, 0.0):
        behaviour = "lost"
    else:
        behaviour = "other"
    print("BN-GROUND-TRUTH:", behaviour)


if __name__ == "__main__":
    main()
