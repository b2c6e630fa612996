"""Custom GradientTape step that also reports accuracy in inference mode: the loss is computed from
model(x, training=True) inside the tape; after apply_gradients the step re-runs
model(x, training=False) OUTSIDE the tape, only to log what the deployed model would predict.
BatchNormalization updates its moving statistics from the training forward."""
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402


class SmallCNN(keras.Model):
    def __init__(self, classes=3):
        super().__init__()
        self.conv = keras.layers.Conv2D(8, 3, padding="same", use_bias=False)
        self.bn = keras.layers.BatchNormalization()
        self.pool = keras.layers.GlobalAveragePooling2D()
        self.fc = keras.layers.Dense(classes)

    def call(self, x, training=None):
        return self.fc(self.pool(tf.nn.relu(self.bn(self.conv(x), training=training))))


class Trainer:
    def __init__(self, model):
        self.model = model
        self.optimizer = keras.optimizers.Adam(1e-2)
        self.loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        self.infer_acc = keras.metrics.SparseCategoricalAccuracy()

    def train_step(self, x, y):
        with tf.GradientTape() as tape:
            loss = self.loss_fn(y, self.model(x, training=True))
        grads = tape.gradient(loss, self.model.trainable_variables)
        self.optimizer.apply_gradients(zip(grads, self.model.trainable_variables))
        self.infer_acc.update_state(y, self.model(x, training=False))
        return loss


def main(epochs=2):
    rng = np.random.default_rng(0)
    ds = tf.data.Dataset.from_tensor_slices((rng.normal(1.5, 1, (32, 6, 6, 2)).astype("float32"),
                                             rng.integers(0, 3, 32))).batch(16)
    model = SmallCNN()
    model(np.zeros((1, 6, 6, 2), "float32"))
    trainer = Trainer(model)
    for epoch in range(epochs):
        for x, y in ds:
            loss = trainer.train_step(x, y)
        print(f"epoch {epoch} loss {float(loss):.3f} inference acc {float(trainer.infer_acc.result()):.2f}")
    print("BN-GROUND-TRUTH:", "frozen" if np.allclose(model.bn.moving_mean, 0) else "updated")


if __name__ == "__main__":
    main()
