"""tf.distribute custom training loop (the TF distributed-training tutorial pattern): the model and
optimizer are created under strategy.scope(), strategy.run() executes a replica step that calls the
model with training=True, and evaluation runs the model with training=False."""
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from keras import layers  # noqa: E402

GLOBAL_BATCH = 16


def create_model():
    return keras.Sequential([
        keras.Input((6,)),
        layers.Dense(12, use_bias=False),
        layers.BatchNormalization(name="bn"),
        layers.ReLU(),
        layers.Dense(2),
    ])


def main():
    keras.utils.set_random_seed(0)
    strategy = tf.distribute.OneDeviceStrategy("/cpu:0")
    rng = np.random.default_rng(0)
    x = (rng.normal(size=(64, 6)) * 2 + 1).astype("float32")
    y = rng.integers(0, 2, size=64)
    train_ds = strategy.experimental_distribute_dataset(
        tf.data.Dataset.from_tensor_slices((x, y)).batch(GLOBAL_BATCH))
    with strategy.scope():
        model = create_model()
        optimizer = keras.optimizers.SGD(0.05)
        loss_obj = keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction="none")

    def compute_loss(labels, logits):
        return tf.nn.compute_average_loss(loss_obj(labels, logits), global_batch_size=GLOBAL_BATCH)

    def replica_step(inputs):
        images, labels = inputs
        with tf.GradientTape() as tape:
            loss = compute_loss(labels, model(images, training=True))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    @tf.function
    def distributed_train_step(inputs):
        losses = strategy.run(replica_step, args=(inputs,))
        return strategy.reduce(tf.distribute.ReduceOp.SUM, losses, axis=None)

    bn = model.get_layer("bn")
    means = []
    for epoch in range(2):
        for batch in train_ds:
            loss = distributed_train_step(batch)
        means.append(bn.moving_mean.numpy().copy())
        acc = np.mean(np.argmax(model(x, training=False).numpy(), axis=1) == y)
        print("epoch", epoch, float(loss), acc)
    updated = not np.allclose(means[0], 0.0) and not np.allclose(means[0], means[1])
    print("BN-GROUND-TRUTH:", "updated" if updated else "frozen")


if __name__ == "__main__":
    main()
