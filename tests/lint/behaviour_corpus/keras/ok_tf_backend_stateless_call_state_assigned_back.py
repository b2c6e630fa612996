"""Functional trainer written for Keras 3's stateless API and kept on the TensorFlow backend: the loss is
computed from model.stateless_call(trainable_values, non_trainable_values, x, training=True) inside a
tf.GradientTape, gradients are taken with respect to the watched trainable values and applied by a Keras
optimizer. stateless_call never assigns variables: the new non-trainable values (BN moving statistics)
come back as its second result, which step() assigns back."""
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from keras import layers  # noqa: E402

HPARAMS = {"lr": 1e-2, "steps": 8, "batch_size": 16, "width": 12}


def build_regressor(width):
    return keras.Sequential([
        keras.Input((6,)),
        layers.Dense(width, use_bias=False),
        layers.BatchNormalization(name="bn"),
        layers.ReLU(),
        layers.Dense(1),
    ])


class StatelessTrainer:
    def __init__(self, model, lr):
        self.model = model
        self.optimizer = keras.optimizers.SGD(lr)
        self.optimizer.build(model.trainable_variables)
        self.loss_fn = keras.losses.MeanSquaredError()

    def loss_and_state(self, trainable_values, non_trainable_values, x, y):
        preds, new_non_trainable = self.model.stateless_call(trainable_values, non_trainable_values, x,
                                                             training=True)
        return self.loss_fn(y, preds), new_non_trainable

    @tf.function
    def step(self, x, y):
        trainable_values = [tf.convert_to_tensor(v) for v in self.model.trainable_variables]
        non_trainable_values = [tf.convert_to_tensor(v) for v in self.model.non_trainable_variables]
        with tf.GradientTape() as tape:
            tape.watch(trainable_values)
            loss, new_non_trainable = self.loss_and_state(trainable_values, non_trainable_values, x, y)
        grads = tape.gradient(loss, trainable_values)
        self.optimizer.apply_gradients(zip(grads, self.model.trainable_variables))
        for variable, value in zip(self.model.non_trainable_variables, new_non_trainable):
            variable.assign(value)
        return loss


def main():
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    model = build_regressor(HPARAMS["width"])
    trainer = StatelessTrainer(model, HPARAMS["lr"])
    kernel_before = np.array(model.layers[0].kernel)
    for _ in range(HPARAMS["steps"]):
        x = rng.normal(2.0, 1.0, (HPARAMS["batch_size"], 6)).astype("float32")
        y = x.sum(axis=1, keepdims=True)
        trainer.step(tf.constant(x), tf.constant(y))
    bn = model.get_layer("bn")
    trained = not np.allclose(kernel_before, model.layers[0].kernel)
    moved = not np.allclose(keras.ops.convert_to_numpy(bn.moving_mean), 0.0)
    if not trained:
        behaviour = "not-trained"
    else:
        behaviour = "updated" if moved else "frozen"
    print("BN-GROUND-TRUTH:", behaviour)


if __name__ == "__main__":
    main()
