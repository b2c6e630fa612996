"""Noisy-student style self-training: teacher fits the labelled set, pseudo-labels an unlabelled pool,
a student is trained on labelled + pseudo-labelled data, and the teacher is kept for the final ensemble."""
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
import numpy as np  # noqa: E402
import keras  # noqa: E402

HPARAMS = {"epochs": 3, "batch_size": 16, "label_batch": 32, "seed": 0}


def build_net(name):
    inputs = keras.Input((6,))
    x = keras.layers.Dense(12, use_bias=False)(inputs)
    x = keras.layers.BatchNormalization(name="bn")(x)
    x = keras.layers.Activation("relu")(x)
    outputs = keras.layers.Dense(3, activation="softmax")(x)
    model = keras.Model(inputs, outputs, name=name)
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="sparse_categorical_crossentropy")
    return model


def pseudo_label(teacher, pool, batch_size):
    labels = []
    for start in range(0, len(pool), batch_size):
        probs = teacher(pool[start:start + batch_size], training=True)
        labels.append(np.argmax(keras.ops.convert_to_numpy(probs), axis=1))
    return np.concatenate(labels)


def main():
    keras.utils.set_random_seed(HPARAMS["seed"])
    rng = np.random.default_rng(HPARAMS["seed"])
    x_lab = rng.normal(0.0, 1.0, (96, 6)).astype("float32")
    y_lab = (x_lab[:, 0] > 0).astype("int32") + (x_lab[:, 1] > 1).astype("int32")
    x_unl = rng.normal(4.0, 3.0, (128, 6)).astype("float32")  # unlabelled pool from another domain

    teacher = build_net("teacher")
    teacher.fit(x_lab, y_lab, epochs=HPARAMS["epochs"], batch_size=HPARAMS["batch_size"], verbose=0)
    bn = teacher.get_layer("bn")
    fitted_mean = np.array(bn.moving_mean)

    y_unl = pseudo_label(teacher, x_unl, HPARAMS["label_batch"])
    student = build_net("student")
    student.fit(np.concatenate([x_lab, x_unl]), np.concatenate([y_lab, y_unl]),
                epochs=HPARAMS["epochs"], batch_size=HPARAMS["batch_size"], verbose=0)

    drift = float(np.abs(np.array(bn.moving_mean) - fitted_mean).max())
    print("teacher moving-mean drift during pseudo-labelling:", round(drift, 4))
    print("BN-GROUND-TRUTH:", "contaminated" if drift > 1e-4 else "untouched")


if __name__ == "__main__":
    main()
