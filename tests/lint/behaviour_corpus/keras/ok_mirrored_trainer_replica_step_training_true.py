"""Trainer written for multi-GPU (tf.distribute.MirroredStrategy, here on the single CPU device): the model
is built under strategy.scope(), batches come from experimental_distribute_dataset and each replica runs
_replica_step under strategy.run inside a tf.function."""
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from keras import layers  # noqa: E402


def build_net(num_classes):
    inputs = keras.Input((8, 8, 3))
    x = layers.Conv2D(8, 3, padding="same", use_bias=False, kernel_regularizer=keras.regularizers.l2(1e-4))(inputs)
    x = layers.BatchNormalization(name="bn1")(x)
    x = layers.ReLU()(x)
    x = layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, layers.Dense(num_classes)(x))


class DistributedTrainer:
    def __init__(self, strategy, global_batch, num_classes=4, lr=0.05):
        self.strategy = strategy
        self.global_batch = global_batch
        with strategy.scope():
            self.model = build_net(num_classes)
            self.optimizer = keras.optimizers.SGD(lr, momentum=0.9)
            self.loss_obj = keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction="none")

    def _replica_step(self, images, labels):
        with tf.GradientTape() as tape:
            logits = self.model(images, training=True)
            per_example = self.loss_obj(labels, logits)
            loss = tf.nn.compute_average_loss(per_example, global_batch_size=self.global_batch)
            loss += tf.nn.scale_regularization_loss(tf.add_n(self.model.losses))
        grads = tape.gradient(loss, self.model.trainable_variables)
        self.optimizer.apply_gradients(zip(grads, self.model.trainable_variables))
        return loss

    @tf.function
    def train_step(self, dist_batch):
        images, labels = dist_batch
        per_replica = self.strategy.run(self._replica_step, args=(images, labels))
        return self.strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica, axis=None)

    def fit(self, dataset, epochs):
        dist_ds = self.strategy.experimental_distribute_dataset(dataset)
        for epoch in range(epochs):
            total = 0.0
            for batch in dist_ds:
                total += float(self.train_step(batch))
            print(f"epoch {epoch} loss {total:.3f}")


def main():
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = (rng.normal(size=(64, 8, 8, 3)) * 1.5 + 2.0).astype("float32")
    y = rng.integers(0, 4, size=64)
    strategy = tf.distribute.MirroredStrategy(devices=["/cpu:0"])
    trainer = DistributedTrainer(strategy, global_batch=16)
    trainer.fit(tf.data.Dataset.from_tensor_slices((x, y)).batch(16), epochs=2)
    mean = keras.ops.convert_to_numpy(trainer.model.get_layer("bn1").moving_mean)
    print("BN-GROUND-TRUTH:", "frozen" if np.allclose(mean, 0.0) else "updated")


if __name__ == "__main__":
    main()
