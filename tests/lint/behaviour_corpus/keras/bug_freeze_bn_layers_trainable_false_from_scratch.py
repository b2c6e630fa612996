"""Keras 3 image classifier with a `freeze_bn` option taken from a fine-tuning recipe ("keep BN frozen
with small batches"): every BatchNormalization layer gets trainable=False. The config default is
freeze_bn=True while `weights` defaults to None, so the network is trained from scratch and Keras 3
runs the non-trainable BN layers in inference mode during fit(): their moving statistics stay 0/1."""
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import layers  # noqa: E402

DEFAULTS = {
    "weights": None,
    "freeze_bn": True,
    "batch_size": 8,
    "epochs": 2,
    "learning_rate": 1e-3,
}


def conv_block(x, filters, name):
    x = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_conv")(x)
    x = layers.BatchNormalization(name=f"{name}_bn")(x)
    return layers.Activation("relu", name=f"{name}_relu")(x)


def build_model(input_shape=(16, 16, 3), classes=5):
    inputs = keras.Input(input_shape)
    x = conv_block(inputs, 8, "block1")
    x = layers.MaxPooling2D()(x)
    x = conv_block(x, 16, "block2")
    x = layers.GlobalAveragePooling2D()(x)
    outputs = layers.Dense(classes, activation="softmax")(x)
    return keras.Model(inputs, outputs, name="small_cnn")


def freeze_batchnorm(model):
    for layer in model.layers:
        if isinstance(layer, layers.BatchNormalization):
            layer.trainable = False


def create_model(cfg):
    model = build_model()
    if cfg["weights"]:
        model.load_weights(cfg["weights"])
    if cfg["freeze_bn"]:
        freeze_batchnorm(model)
    model.compile(optimizer=keras.optimizers.Adam(cfg["learning_rate"]),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def main(cfg=DEFAULTS):
    rng = np.random.default_rng(0)
    x = rng.normal(1.0, 1.0, (48, 16, 16, 3)).astype("float32")
    y = rng.integers(0, 5, 48)
    model = create_model(cfg)
    conv = model.get_layer("block1_conv")
    kernel_before = np.array(conv.kernel)
    model.fit(x, y, batch_size=cfg["batch_size"], epochs=cfg["epochs"], verbose=0)
    trained = not np.allclose(kernel_before, np.array(conv.kernel))
    stats_at_init = all(np.allclose(np.array(model.get_layer(f"block{i}_bn").moving_mean), 0.0) for i in (1, 2))
    print("BN-GROUND-TRUTH:", "frozen" if trained and stats_at_init else "updated")


if __name__ == "__main__":
    main()
