"""Train with fit(), then export a SavedModel for serving. The export helper wraps the model in a
tf.Module whose signature calls model(features, training=False); before writing the SavedModel it
smoke-tests the signature on a handful of recent production samples. Inference mode: the smoke test
reads the moving statistics and leaves them as training left them."""
import os
import tempfile

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import keras  # noqa: E402

CONFIG = {"epochs": 3, "batch_size": 32, "lr": 0.01, "features": 8, "classes": 3}


def build_classifier(cfg):
    inputs = keras.Input((cfg["features"],))
    x = keras.layers.Dense(16, use_bias=False)(inputs)
    x = keras.layers.BatchNormalization(name="bn")(x)
    x = keras.layers.ReLU()(x)
    outputs = keras.layers.Dense(cfg["classes"])(x)
    return keras.Model(inputs, outputs)


class ServingModule(tf.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    @tf.function(input_signature=[tf.TensorSpec([None, 8], tf.float32)])
    def serve(self, features):
        logits = self.model(features, training=False)
        return {"probabilities": tf.nn.softmax(logits)}


def export_for_serving(model, smoke_samples, export_dir):
    module = ServingModule(model)
    for chunk in np.array_split(smoke_samples, 4):
        out = module.serve(tf.constant(chunk))
        assert out["probabilities"].shape[0] == len(chunk)
    tf.saved_model.save(module, export_dir, signatures={"serving_default": module.serve})
    return export_dir


def main():
    keras.utils.set_random_seed(0)
    rng = np.random.RandomState(0)
    x = rng.randn(256, CONFIG["features"]).astype("float32")
    y = (x[:, 0] + x[:, 1] > 0).astype("int64") + (x[:, 2] > 1).astype("int64")
    model = build_classifier(CONFIG)
    model.compile(optimizer=keras.optimizers.SGD(CONFIG["lr"], momentum=0.9),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x, y, epochs=CONFIG["epochs"], batch_size=CONFIG["batch_size"], verbose=0)

    bn = model.get_layer("bn")
    trained_mean = bn.moving_mean.numpy().copy()
    trained_var = bn.moving_variance.numpy().copy()

    production = (rng.randn(64, CONFIG["features"]) * 3.0 + 4.0).astype("float32")
    export_for_serving(model, production, os.path.join(tempfile.mkdtemp(), "serving"))

    after_mean = bn.moving_mean.numpy()
    after_var = bn.moving_variance.numpy()
    moved_by_export = (np.abs(after_mean - trained_mean).max() > 1e-4
                       or np.abs(after_var - trained_var).max() > 1e-4)
    trained = np.abs(trained_mean).max() > 1e-3 or np.abs(trained_var - 1.0).max() > 1e-3
    print("BN-GROUND-TRUTH:", "contaminated" if moved_by_export else "updated" if trained else "frozen")


if __name__ == "__main__":
    main()
