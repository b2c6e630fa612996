"""Custom Keras 3 training loop with a reusable Evaluator object (metrics + dataset) called after every
epoch. Evaluator.__call__ was written from the training step and still runs
model(images, training=True): each evaluation pass normalises with batch statistics and writes the
held-out batches into BatchNormalization's moving statistics."""
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from keras import layers  # noqa: E402

CONFIG = {"epochs": 2, "batch_size": 16, "learning_rate": 1e-2, "num_classes": 3}


def build_model(num_classes):
    return keras.Sequential([
        keras.Input((10,)),
        layers.Dense(24, use_bias=False),
        layers.BatchNormalization(name="bn"),
        layers.ReLU(),
        layers.Dense(num_classes),
    ])


class Evaluator:
    """Computes loss and accuracy of a model over a fixed dataset."""

    def __init__(self, dataset, loss_fn):
        self.dataset = dataset
        self.loss_fn = loss_fn
        self.loss = keras.metrics.Mean(name="val_loss")
        self.accuracy = keras.metrics.SparseCategoricalAccuracy(name="val_acc")

    def __call__(self, model):
        self.loss.reset_state()
        self.accuracy.reset_state()
        for images, labels in self.dataset:
            logits = model(images, training=True)
            self.loss.update_state(self.loss_fn(labels, logits))
            self.accuracy.update_state(labels, logits)
        return {"val_loss": float(self.loss.result()), "val_acc": float(self.accuracy.result())}


def make_dataset(n, shift, rng, batch_size):
    x = rng.normal(shift, 1.0, (n, 10)).astype("float32")
    y = (x[:, 0] > shift).astype("int32") + (x[:, 1] > shift).astype("int32")
    return tf.data.Dataset.from_tensor_slices((x, y)).batch(batch_size)


def train(model, train_ds, evaluator, cfg):
    optimizer = keras.optimizers.SGD(cfg["learning_rate"], momentum=0.9)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    @tf.function
    def train_step(images, labels):
        with tf.GradientTape() as tape:
            loss = loss_fn(labels, model(images, training=True))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    bn = model.get_layer("bn")
    drift = 0.0
    for epoch in range(cfg["epochs"]):
        for images, labels in train_ds:
            train_step(images, labels)
        before = bn.moving_mean.numpy().copy()
        metrics = evaluator(model)
        drift = max(drift, float(np.abs(bn.moving_mean.numpy() - before).max()))
        print(f"epoch {epoch}", metrics)
    return drift


def main():
    rng = np.random.default_rng(0)
    cfg = dict(CONFIG)
    model = build_model(cfg["num_classes"])
    train_ds = make_dataset(64, 0.0, rng, cfg["batch_size"])
    evaluator = Evaluator(make_dataset(32, 3.0, rng, cfg["batch_size"]),
                          keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    drift = train(model, train_ds, evaluator, cfg)
    print("BN-GROUND-TRUTH:", "contaminated" if drift > 1e-6 else "updated")


if __name__ == "__main__":
    main()
