"""Keras 3 on JAX, fit() with a train_step(state, data) override in the style of the "customizing
fit() with JAX" guide. The helper compute_loss_and_updates(..., training=False) threads the
non-trainable variables correctly, but train_step calls the value_and_grad of it without
training=True: stateless_call runs BatchNormalization in inference mode, the returned
non-trainable variables are the old ones, and the moving statistics stay 0/1 after fit()."""
import os

os.environ["KERAS_BACKEND"] = "jax"
os.environ.setdefault("JAX_PLATFORMS", "cpu")
import jax  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import layers  # noqa: E402


class RegressionModel(keras.Model):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.loss_fn = keras.losses.MeanSquaredError()

    def compute_loss_and_updates(self, trainable_variables, non_trainable_variables, x, y, training=False):
        y_pred, non_trainable_variables = self.stateless_call(
            trainable_variables, non_trainable_variables, x, training=training)
        return self.loss_fn(y, y_pred), (y_pred, non_trainable_variables)

    def train_step(self, state, data):
        trainable_variables, non_trainable_variables, optimizer_variables, metrics_variables = state
        x, y = data
        grad_fn = jax.value_and_grad(self.compute_loss_and_updates, has_aux=True)
        (loss, (y_pred, non_trainable_variables)), grads = grad_fn(
            trainable_variables, non_trainable_variables, x, y)
        trainable_variables, optimizer_variables = self.optimizer.stateless_apply(
            optimizer_variables, grads, trainable_variables)
        state = (trainable_variables, non_trainable_variables, optimizer_variables, metrics_variables)
        return {"loss": loss}, state


def build(width=12):
    inputs = keras.Input((6,))
    h = layers.Dense(width)(inputs)
    h = layers.BatchNormalization(name="bn")(h)
    h = layers.ReLU()(h)
    return RegressionModel(inputs, layers.Dense(1)(h))


def main():
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(3.0, 1.0, (128, 6)).astype("float32")
    y = (x.sum(axis=1, keepdims=True) / 6.0).astype("float32")
    model = build()
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    model.fit(x, y, batch_size=32, epochs=2, verbose=0)
    print("inference mse", float(np.mean((model.predict(x, verbose=0) - y) ** 2)))
    moving_mean = keras.ops.convert_to_numpy(model.get_layer("bn").moving_mean)
    print("BN-GROUND-TRUTH:", "frozen" if np.allclose(moving_mean, 0.0) else "updated")


if __name__ == "__main__":
    main()
