"""Keras 3 video-clip classifier trained with the tf.distribute custom-loop template, here under
tf.distribute.OneDeviceStrategy (the same script runs MirroredStrategy on multi-GPU hosts): the
frame encoder is wrapped in layers.TimeDistributed (Conv2D + BatchNormalization per frame) and
`distributed_train_step` calls `strategy.run(replica_step, args=(batch,))`. replica_step computes
`logits = model(clips)` with no training argument, so the TimeDistributed BatchNormalization runs in
inference mode on every step: its moving statistics stay 0/1 while the weights train."""
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from keras import layers  # noqa: E402

FRAMES, H, W = 4, 10, 10
GLOBAL_BATCH = 16


def build_clip_model(num_classes=3):
    clips = keras.Input((FRAMES, H, W, 1))
    x = layers.TimeDistributed(layers.Conv2D(6, 3, padding="same", use_bias=False), name="frame_conv")(clips)
    x = layers.TimeDistributed(layers.BatchNormalization(), name="frame_bn")(x)
    x = layers.TimeDistributed(layers.ReLU())(x)
    x = layers.TimeDistributed(layers.GlobalAveragePooling2D())(x)
    x = layers.GlobalAveragePooling1D()(x)
    return keras.Model(clips, layers.Dense(num_classes)(x), name="clip_net")


def synthetic_clips(n, seed):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, n).astype("int32")
    clips = rng.normal(1.0, 1.0, (n, FRAMES, H, W, 1)).astype("float32")
    clips += labels[:, None, None, None, None].astype("float32")
    return clips, labels


def main():
    keras.utils.set_random_seed(0)
    strategy = tf.distribute.OneDeviceStrategy("/cpu:0")
    with strategy.scope():
        model = build_clip_model()
        optimizer = keras.optimizers.SGD(0.05, momentum=0.9)
        loss_obj = keras.losses.SparseCategoricalCrossentropy(
            from_logits=True, reduction="none")

    clips, labels = synthetic_clips(128, 1)
    train_ds = tf.data.Dataset.from_tensor_slices((clips, labels)).shuffle(128, seed=0).batch(GLOBAL_BATCH)
    dist_ds = strategy.experimental_distribute_dataset(train_ds)

    def replica_step(batch):
        x, y = batch
        with tf.GradientTape() as tape:
            logits = model(x)
            per_example = loss_obj(y, logits)
            loss = tf.nn.compute_average_loss(per_example, global_batch_size=GLOBAL_BATCH)
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    @tf.function
    def distributed_train_step(batch):
        per_replica = strategy.run(replica_step, args=(batch,))
        return strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica, axis=None)

    for epoch in range(3):
        total, n = 0.0, 0
        for batch in dist_ds:
            total += float(distributed_train_step(batch))
            n += 1
        print(f"epoch {epoch} loss {total / n:.4f}")
    bn = model.get_layer("frame_bn").layer
    moving_mean = keras.ops.convert_to_numpy(bn.moving_mean)
    print("BN-GROUND-TRUTH:", "frozen" if np.allclose(moving_mean, 0.0) else "updated")


if __name__ == "__main__":
    main()
