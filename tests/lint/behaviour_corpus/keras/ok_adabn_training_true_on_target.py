"""AdaBN in Keras: after training, re-estimate BN statistics on target-domain data (deliberate training=True)."""
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras  # noqa: E402
import numpy as np  # noqa: E402


def adapt_batchnorm(model, target_batches):
    """Forward target data in training mode without any gradient step: only BN statistics move."""
    for batch in target_batches:
        model(batch, training=True)


if __name__ == "__main__":
    rng = np.random.default_rng(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(6), keras.layers.BatchNormalization(momentum=0.5),
                              keras.layers.Dense(2)])
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(rng.normal(0, 1, (32, 4)), rng.integers(0, 2, 32), epochs=1, verbose=0)
    source_stats = np.array(model.layers[1].moving_mean)
    weights_before = [w.copy() for w in model.layers[0].get_weights()]
    adapt_batchnorm(model, [rng.normal(6, 1, (32, 4)).astype("float32") for _ in range(6)])
    adapted = not np.allclose(source_stats, model.layers[1].moving_mean)
    same_weights = all(np.allclose(a, b) for a, b in zip(weights_before, model.layers[0].get_weights()))
    print("BN-GROUND-TRUTH:", "adapted-to-target" if adapted and same_weights else "broken")
