"""python train.py -- fit the tabular model, then score the hold-out split with evaluate()."""
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras  # noqa: E402
import numpy as np  # noqa: E402

from models import build_model  # noqa: E402

CFG = {"num_features": 5, "widths": [12], "num_classes": 2, "virtual_batch_size": 8,
       "bn_momentum": 0.9, "batch_size": 32, "epochs": 3, "lr": 0.02}


def make_split(rng, n, shift):
    x = (rng.normal(size=(n, CFG["num_features"])) + shift).astype("float32")
    y = (x[:, 0] - x[:, 1] > 0).astype("int64")
    return x, y


def main():
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x_train, y_train = make_split(rng, 256, 2.0)
    x_hold, y_hold = make_split(rng, 128, -3.0)  # later collection period, shifted features
    model = build_model(CFG)
    model.compile(optimizer=keras.optimizers.Adam(CFG["lr"]),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"], jit_compile=False)
    gbn = model.get_layer("gbn0")
    init_mean = np.array(gbn.moving_mean)
    model.fit(x_train, y_train, batch_size=CFG["batch_size"], epochs=CFG["epochs"], verbose=0,
              shuffle=False)
    after_fit = np.array(gbn.moving_mean)
    loss, acc = model.evaluate(x_hold, y_hold, batch_size=CFG["batch_size"], verbose=0)
    after_eval = np.array(gbn.moving_mean)
    print(f"hold-out loss {loss:.3f} acc {acc:.3f}")
    print("moving_mean after fit ", after_fit.round(3)[:4])
    print("moving_mean after eval", after_eval.round(3)[:4])
    fit_updated = not np.allclose(init_mean, after_fit)
    eval_changed = not np.allclose(after_fit, after_eval)
    if fit_updated and not eval_changed:
        verdict = "updated"
    elif fit_updated and eval_changed:
        verdict = "contaminated"
    else:
        verdict = "frozen"
    print("BN-GROUND-TRUTH:", verdict)


if __name__ == "__main__":
    main()
