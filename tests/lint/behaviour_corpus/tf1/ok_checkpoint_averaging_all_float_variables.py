"""TF1 training run that keeps its last checkpoints (Saver(max_to_keep=5)) followed by a
tensor2tensor-style checkpoint-averaging step: average_checkpoints() rebuilds the model in a fresh
graph and assigns the mean over the checkpoints to every float variable in tf.global_variables()
(the step counter is left out), so moving_mean/moving_variance are averaged like the weights and the
evaluation graph that restores the averaged checkpoint uses them."""
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import tempfile  # noqa: E402

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

tf.compat.v1.disable_eager_execution()
v1 = tf.compat.v1


def encoder(features, training):
    with v1.variable_scope("encoder"):
        h = v1.layers.dense(features, 12, use_bias=False, name="proj")
        h = tf.nn.relu(v1.layers.batch_normalization(h, training=training, name="norm"))
        return v1.layers.dense(h, 1, name="score")


def run_training(workdir, rng, steps=20, save_every=5):
    graph = tf.Graph()
    with graph.as_default():
        x = v1.placeholder(tf.float32, [None, 4])
        y = v1.placeholder(tf.float32, [None, 1])
        loss = v1.losses.mean_squared_error(y, encoder(x, training=True))
        step = v1.train.get_or_create_global_step()
        with tf.control_dependencies(v1.get_collection(v1.GraphKeys.UPDATE_OPS)):
            train_op = v1.train.AdamOptimizer(0.01).minimize(loss, global_step=step)
        saver = v1.train.Saver(max_to_keep=5)
        with v1.Session(graph=graph) as sess:
            sess.run(v1.global_variables_initializer())
            for i in range(1, steps + 1):
                xb = rng.randn(32, 4) * 2.0 + 3.0
                sess.run(train_op, {x: xb, y: xb[:, :1] - 3.0})
                if i % save_every == 0:
                    saver.save(sess, os.path.join(workdir, "model.ckpt"), global_step=i)
    return v1.train.get_checkpoint_state(workdir).all_model_checkpoint_paths


def average_checkpoints(checkpoints, output_prefix, last_n=3):
    checkpoints = checkpoints[-last_n:]
    graph = tf.Graph()
    with graph.as_default():
        encoder(v1.placeholder(tf.float32, [None, 4]), training=False)
        v1.train.get_or_create_global_step()
        averaged = [v for v in v1.global_variables() if v.dtype.base_dtype == tf.float32]
        values = {v.op.name: np.mean([v1.train.load_variable(c, v.op.name) for c in checkpoints], axis=0)
                  for v in averaged}
        assign_ops = [v.assign(values[v.op.name]) for v in averaged]
        with v1.Session(graph=graph) as sess:
            sess.run(v1.global_variables_initializer())
            sess.run(assign_ops)
            v1.train.Saver().save(sess, output_prefix)


def evaluate(checkpoint):
    graph = tf.Graph()
    with graph.as_default():
        encoder(v1.placeholder(tf.float32, [None, 4]), training=False)
        v1.train.get_or_create_global_step()
        moving = [v for v in v1.global_variables() if "moving_" in v.name]
        with v1.Session(graph=graph) as sess:
            v1.train.Saver().restore(sess, checkpoint)
            return sess.run(moving)


def main():
    rng = np.random.RandomState(6)
    workdir = tempfile.mkdtemp()
    checkpoints = run_training(workdir, rng)
    output_prefix = os.path.join(workdir, "averaged.ckpt")
    average_checkpoints(checkpoints, output_prefix)
    values = evaluate(output_prefix)
    lost = all(np.allclose(v, 0.0) or np.allclose(v, 1.0) for v in values)
    print("BN-GROUND-TRUTH:", "lost" if lost else "averaged")


if __name__ == "__main__":
    main()
