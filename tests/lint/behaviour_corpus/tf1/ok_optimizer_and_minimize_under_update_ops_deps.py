"""Regression script on a SingularMonitoredSession: optimizer and minimize() both built inside the UPDATE_OPS block."""
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

tf.compat.v1.disable_eager_execution()
v1 = tf.compat.v1

HPARAMS = {"lr": 5e-3, "steps": 12, "batch": 16, "hidden": 8, "log_every": 4}


def input_fn(batch, seed=0):
    rng = np.random.RandomState(seed)
    feats = (rng.randn(256, 6) * 1.5 + 3.0).astype(np.float32)
    target = (feats[:, :1] * 0.5 - feats[:, 1:2]).astype(np.float32)
    ds = tf.data.Dataset.from_tensor_slices((feats, target)).repeat().batch(batch)
    return v1.data.make_one_shot_iterator(ds).get_next()


def regressor(x, hidden, is_training):
    with v1.variable_scope("regressor"):
        h = v1.layers.dense(x, hidden, use_bias=False, name="fc1")
        h = v1.layers.batch_normalization(h, training=is_training, name="bn1")
        return v1.layers.dense(tf.nn.relu(h), 1, name="out")


def make_train_op(loss, hp):
    global_step = v1.train.get_or_create_global_step()
    update_ops = v1.get_collection(v1.GraphKeys.UPDATE_OPS)
    with tf.control_dependencies(update_ops):
        optimizer = v1.train.AdamOptimizer(hp["lr"])
        train_op = optimizer.minimize(loss, global_step=global_step)
    return train_op, global_step


if __name__ == "__main__":
    v1.set_random_seed(0)
    features, labels = input_fn(HPARAMS["batch"])
    preds = regressor(features, HPARAMS["hidden"], is_training=True)
    loss = v1.losses.mean_squared_error(labels, preds)
    train_op, global_step = make_train_op(loss, HPARAMS)
    moving_mean = [v for v in v1.global_variables() if v.op.name == "regressor/bn1/moving_mean"][0]
    hooks = [v1.train.StopAtStepHook(last_step=HPARAMS["steps"])]
    with v1.train.SingularMonitoredSession(hooks=hooks) as sess:
        start = sess.run(moving_mean)
        while not sess.should_stop():
            _, step, value = sess.run([train_op, global_step, loss])
            if step % HPARAMS["log_every"] == 0:
                print(f"step {step} loss {value:.3f}")
        end = sess.raw_session().run(moving_mean)
    moved = float(np.abs(end - start).max())
    print("BN-GROUND-TRUTH:", "updated" if moved > 1e-3 else "frozen")
