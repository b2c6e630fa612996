"""Estimator-free TF1 driver around a model_fn(features, labels, mode, params): the train and eval
specs are built in one graph (shared variables under AUTO_REUSE, one name scope per mode), fed by
tf.data one-shot iterators; evaluation runs every epoch from the same session."""
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np  # noqa: E402
import tensorflow.compat.v1 as tf  # noqa: E402

tf.disable_v2_behavior()


class ModeKeys:
    TRAIN = "train"
    EVAL = "eval"
    PREDICT = "infer"


def network(features, training, params):
    h = tf.layers.dense(features, params["hidden"], name="fc1")
    h = tf.layers.batch_normalization(h, training=training, name="bn1")
    h = tf.nn.relu(h)
    return tf.layers.dense(h, 1, name="head")


def model_fn(features, labels, mode, params):
    with tf.variable_scope("model", reuse=tf.AUTO_REUSE):
        predictions = network(features, training=(mode == ModeKeys.TRAIN), params=params)
    if mode == ModeKeys.PREDICT:
        return {"predictions": predictions}
    loss = tf.losses.mean_squared_error(labels, predictions)
    update_ops = tf.get_collection(tf.GraphKeys.UPDATE_OPS, scope=tf.get_default_graph().get_name_scope())
    with tf.control_dependencies(update_ops):
        loss = tf.identity(loss)
    spec = {"loss": loss, "predictions": predictions}
    if mode == ModeKeys.TRAIN:
        optimizer = tf.train.AdamOptimizer(params["lr"])
        spec["train_op"] = optimizer.minimize(loss, global_step=tf.train.get_or_create_global_step())
    return spec


def input_fn(x, y, batch_size):
    ds = tf.data.Dataset.from_tensor_slices((x.astype("float32"), y.astype("float32")))
    return tf.data.make_one_shot_iterator(ds.repeat().batch(batch_size)).get_next()


if __name__ == "__main__":
    params = {"hidden": 8, "lr": 1e-2, "epochs": 3, "steps_per_epoch": 4, "eval_steps": 2}
    rng = np.random.RandomState(0)
    x_train = rng.randn(64, 5) + 2.0
    x_val = rng.randn(32, 5) * 3.0 - 6.0
    tf.set_random_seed(0)
    with tf.name_scope(ModeKeys.TRAIN):
        train_spec = model_fn(*input_fn(x_train, x_train.mean(1, keepdims=True), 16), ModeKeys.TRAIN, params)
    with tf.name_scope(ModeKeys.EVAL):
        eval_spec = model_fn(*input_fn(x_val, x_val.mean(1, keepdims=True), 16), ModeKeys.EVAL, params)
    moving_mean = tf.get_default_graph().get_tensor_by_name("model/bn1/moving_mean:0")
    train_moves, eval_moves = [], []
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for epoch in range(params["epochs"]):
            before = sess.run(moving_mean)
            for _ in range(params["steps_per_epoch"]):
                sess.run([train_spec["train_op"], train_spec["loss"]])
            after_train = sess.run(moving_mean)
            eval_loss = np.mean([sess.run(eval_spec["loss"]) for _ in range(params["eval_steps"])])
            train_moves.append(not np.allclose(before, after_train))
            eval_moves.append(not np.allclose(after_train, sess.run(moving_mean)))
            print(f"epoch {epoch}: eval loss {eval_loss:.3f}")
    if any(eval_moves):
        verdict = "contaminated"
    elif all(train_moves):
        verdict = "updated"
    else:
        verdict = "frozen"
    print("BN-GROUND-TRUTH:", verdict)
