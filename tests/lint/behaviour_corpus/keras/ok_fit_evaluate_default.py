"""Plain compile/fit/evaluate/predict with the default momentum 0.99."""
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras  # noqa: E402
import numpy as np  # noqa: E402

if __name__ == "__main__":
    rng = np.random.default_rng(0)
    model = keras.Sequential([
        keras.Input((10,)),
        keras.layers.Dense(12, activation="relu"),
        keras.layers.BatchNormalization(momentum=0.99),
        keras.layers.Dropout(0.1),
        keras.layers.Dense(1, activation="sigmoid"),
    ])
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    bn = model.layers[1]
    start = np.array(bn.moving_mean)
    model.fit(rng.normal(1, 1, (64, 10)), rng.integers(0, 2, 64), epochs=2, batch_size=16, verbose=0)
    trained = np.array(bn.moving_mean)
    model.evaluate(rng.normal(5, 1, (16, 10)), rng.integers(0, 2, 16), verbose=0)
    model.predict(rng.normal(5, 1, (16, 10)), verbose=0)
    ok = not np.allclose(start, trained) and np.allclose(trained, bn.moving_mean)
    print("BN-GROUND-TRUTH:", "updated" if ok else "broken")
