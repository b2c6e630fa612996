"""keras-resnet style BatchNormalization subclass with a `freeze` switch (frozen backbone by design)."""
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras  # noqa: E402
import numpy as np  # noqa: E402


class FreezableBatchNormalization(keras.layers.BatchNormalization):
    def __init__(self, freeze, **kwargs):
        super().__init__(**kwargs)
        self.freeze = freeze
        self.trainable = not freeze

    def call(self, inputs, training=None):
        # a frozen BN always normalises with its stored statistics
        if self.freeze:
            training = False
        return super().call(inputs, training=training)


if __name__ == "__main__":
    rng = np.random.default_rng(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(6), FreezableBatchNormalization(freeze=True),
                              keras.layers.Dense(6), FreezableBatchNormalization(freeze=False), keras.layers.Dense(1)])
    model.compile("adam", "mse")
    frozen_before, live_before = np.array(model.layers[1].moving_mean), np.array(model.layers[3].moving_mean)
    model.fit(rng.normal(2, 1, (32, 4)), rng.normal(size=(32, 1)), epochs=1, batch_size=8, verbose=0)
    ok = np.allclose(frozen_before, model.layers[1].moving_mean) and not np.allclose(live_before, model.layers[3].moving_mean)
    print("BN-GROUND-TRUTH:", "frozen-by-design" if ok else "broken")
