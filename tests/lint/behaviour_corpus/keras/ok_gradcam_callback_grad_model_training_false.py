"""Notebook layout: fit() a small CNN and, after every epoch, a callback draws a Grad-CAM heatmap for one
validation image (keras.io recipe: grad_model = Model(inputs, [last conv output, model.output]) and a
GradientTape). The heatmap helper calls grad_model(img, training=False): the tape only takes gradients
with respect to the conv output, BatchNormalization runs in inference mode and its moving statistics
keep following the training batches only."""
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from keras import layers  # noqa: E402

IMG_SIZE = 8
NUM_CLASSES = 3
EPOCHS = 3
LAST_CONV = "last_conv"


def make_model():
    inputs = keras.Input((IMG_SIZE, IMG_SIZE, 3))
    x = layers.Conv2D(8, 3, padding="same", name=LAST_CONV)(inputs)
    x = layers.BatchNormalization(name="bn")(x)
    x = layers.Activation("relu")(x)
    x = layers.GlobalAveragePooling2D()(x)
    outputs = layers.Dense(NUM_CLASSES, activation="softmax")(x)
    return keras.Model(inputs, outputs)


def make_gradcam_heatmap(img_array, model, last_conv_layer_name, pred_index=None):
    grad_model = keras.Model(model.inputs, [model.get_layer(last_conv_layer_name).output, model.output])
    with tf.GradientTape() as tape:
        last_conv_layer_output, preds = grad_model(img_array, training=False)
        if pred_index is None:
            pred_index = tf.argmax(preds[0])
        class_channel = preds[:, pred_index]
    grads = tape.gradient(class_channel, last_conv_layer_output)
    pooled_grads = tf.reduce_mean(grads, axis=(0, 1, 2))
    heatmap = last_conv_layer_output[0] @ pooled_grads[..., tf.newaxis]
    heatmap = tf.squeeze(heatmap)
    heatmap = tf.maximum(heatmap, 0) / (tf.math.reduce_max(heatmap) + 1e-8)
    return heatmap.numpy()


class HeatmapMonitor(keras.callbacks.Callback):
    def __init__(self, image):
        super().__init__()
        self.image = image
        self.heatmaps = []
        self.changed_by_heatmap = []
        self.means = []

    def on_epoch_end(self, epoch, logs=None):
        bn = self.model.get_layer("bn")
        before = keras.ops.convert_to_numpy(bn.moving_mean).copy()
        self.heatmaps.append(make_gradcam_heatmap(self.image, self.model, LAST_CONV))
        after = keras.ops.convert_to_numpy(bn.moving_mean).copy()
        self.changed_by_heatmap.append(not np.allclose(before, after))
        self.means.append(after)


def main():
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x_train = (rng.normal(size=(64, IMG_SIZE, IMG_SIZE, 3)) + 1.0).astype("float32")
    y_train = rng.integers(0, NUM_CLASSES, size=64)
    x_val = (rng.normal(size=(8, IMG_SIZE, IMG_SIZE, 3)) * 3.0 - 4.0).astype("float32")

    model = make_model()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    monitor = HeatmapMonitor(x_val[:1])
    bn = model.get_layer("bn")
    start = keras.ops.convert_to_numpy(bn.moving_mean).copy()
    model.fit(x_train, y_train, batch_size=16, epochs=EPOCHS, callbacks=[monitor], verbose=0)

    trained = not np.allclose(start, monitor.means[0])
    if any(monitor.changed_by_heatmap):
        verdict = "contaminated"
    elif trained:
        verdict = "updated"
    else:
        verdict = "frozen"
    print("BN-GROUND-TRUTH:", verdict)


if __name__ == "__main__":
    main()
