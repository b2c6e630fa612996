"""TF2 custom training loop (tf.keras) with separate tf.function train and validation steps. The
validation step was copied from the training step and still calls model(x, training=True): every
validation batch is normalized with its own statistics and assigned into BatchNormalization's
moving mean/variance, so the saved model carries validation-set statistics."""
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

EPOCHS = 2


def build_model():
    return tf.keras.Sequential([
        tf.keras.layers.Dense(16, use_bias=False, input_shape=(5,)),
        tf.keras.layers.BatchNormalization(),
        tf.keras.layers.ReLU(),
        tf.keras.layers.Dense(2),
    ])


model = build_model()
optimizer = tf.keras.optimizers.Adam(1e-2)
loss_fn = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)
train_acc = tf.keras.metrics.SparseCategoricalAccuracy()
val_acc = tf.keras.metrics.SparseCategoricalAccuracy()


@tf.function
def train_step(x, y):
    with tf.GradientTape() as tape:
        logits = model(x, training=True)
        loss = loss_fn(y, logits)
    grads = tape.gradient(loss, model.trainable_variables)
    optimizer.apply_gradients(zip(grads, model.trainable_variables))
    train_acc.update_state(y, logits)
    return loss


@tf.function
def val_step(x, y):
    logits = model(x, training=True)
    val_acc.update_state(y, logits)
    return loss_fn(y, logits)


def main():
    rng = np.random.default_rng(0)
    train_ds = tf.data.Dataset.from_tensor_slices(
        (rng.normal(0, 1, (48, 5)).astype("float32"), rng.integers(0, 2, 48))).batch(16)
    val_ds = tf.data.Dataset.from_tensor_slices(
        (rng.normal(5, 3, (32, 5)).astype("float32"), rng.integers(0, 2, 32))).batch(16)
    bn = model.layers[1]
    absorbed = False
    for epoch in range(EPOCHS):
        for x, y in train_ds:
            train_step(x, y)
        before = bn.moving_mean.numpy().copy()
        for x, y in val_ds:
            val_step(x, y)
        absorbed |= not np.allclose(bn.moving_mean.numpy(), before)
        print(f"epoch {epoch} train acc {train_acc.result():.3f} val acc {val_acc.result():.3f}")
        train_acc.reset_state()
        val_acc.reset_state()
    print("BN-GROUND-TRUTH:", "contaminated" if absorbed else "updated")


if __name__ == "__main__":
    main()
