"""Hand-written TF1 batch norm (moments + ExponentialMovingAverage) in a small model class; one graph
serves training and per-epoch validation through a phase_train placeholder."""
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

tf.compat.v1.disable_eager_execution()
v1 = tf.compat.v1

HPARAMS = {"in_dim": 4, "hidden": 8, "decay": 0.8, "lr": 0.05, "epochs": 3, "steps": 4, "batch": 32}


def norm_layer(x, phase_train, decay, scope):
    n_out = x.get_shape()[-1]
    with v1.variable_scope(scope):
        beta = v1.get_variable("beta", [n_out], initializer=v1.zeros_initializer())
        gamma = v1.get_variable("gamma", [n_out], initializer=v1.ones_initializer())
        batch_mean, batch_var = tf.nn.moments(x, [0], name="moments")
        ema = v1.train.ExponentialMovingAverage(decay=decay)
        ema_apply_op = ema.apply([batch_mean, batch_var])

        def mean_var_with_update():
            with tf.control_dependencies([ema_apply_op]):
                return tf.identity(batch_mean), tf.identity(batch_var)

        mean, var = tf.cond(phase_train, mean_var_with_update,
                            lambda: (ema.average(batch_mean), ema.average(batch_var)))
        out = tf.nn.batch_normalization(x, mean, var, beta, gamma, 1e-3)
        return out, ema.average(batch_mean)


class Regressor:
    def __init__(self, hp):
        self.x = v1.placeholder(tf.float32, [None, hp["in_dim"]], name="x")
        self.y = v1.placeholder(tf.float32, [None, 1], name="y")
        self.phase_train = v1.placeholder(tf.bool, [], name="phase_train")
        h = v1.layers.dense(self.x, hp["hidden"], use_bias=False, name="fc1")
        h, self.moving_mean = norm_layer(h, self.phase_train, hp["decay"], "bn1")
        self.pred = v1.layers.dense(tf.nn.relu(h), 1, name="out")
        self.loss = tf.reduce_mean(tf.square(self.pred - self.y))
        self.train_op = v1.train.GradientDescentOptimizer(hp["lr"]).minimize(self.loss)


def batches(rng, n, shift, hp):
    out = []
    for _ in range(n):
        x = rng.randn(hp["batch"], hp["in_dim"]) + shift
        out.append((x, x.sum(1, keepdims=True) * 0.1))
    return out


def main(hp=HPARAMS):
    v1.set_random_seed(0)
    rng = np.random.RandomState(0)
    train_set = batches(rng, hp["steps"], 3.0, hp)
    val_set = batches(rng, 2, -2.0, hp)  # validation split from a shifted sensor
    model = Regressor(hp)
    train_drift, val_drift = 0.0, 0.0
    with v1.Session() as sess:
        sess.run(v1.global_variables_initializer())
        for epoch in range(hp["epochs"]):
            start = sess.run(model.moving_mean)
            for x, y in train_set:
                sess.run(model.train_op, {model.x: x, model.y: y, model.phase_train: True})
            trained = sess.run(model.moving_mean)
            val_loss = np.mean([sess.run(model.loss, {model.x: x, model.y: y, model.phase_train: False})
                                for x, y in val_set])
            after_val = sess.run(model.moving_mean)
            train_drift += float(np.abs(trained - start).max())
            val_drift += float(np.abs(after_val - trained).max())
            print(f"epoch {epoch} val loss {val_loss:.4f}")
    print(f"moving-mean change: training {train_drift:.4f}, validation {val_drift:.4f}")
    if train_drift > 1e-3 and val_drift < 1e-6:
        verdict = "updated"
    elif train_drift > 1e-3:
        verdict = "contaminated"
    else:
        verdict = "frozen"
    print("BN-GROUND-TRUTH:", verdict)


if __name__ == "__main__":
    main()
