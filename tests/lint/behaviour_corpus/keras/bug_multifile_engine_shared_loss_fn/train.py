"""python train.py -- trains the classifier, validates after every epoch."""
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras  # noqa: E402
import numpy as np  # noqa: E402

from engine import evaluate, train_one_epoch  # noqa: E402
from models import build_model  # noqa: E402

CFG = {
    "arch": "tiny_cnn",
    "input_shape": (8, 8, 3),
    "width": 6,
    "num_classes": 3,
    "epochs": 3,
    "batch_size": 16,
    "lr": 1e-2,
}


def make_loader(rng, n, shift, batch_size):
    x = (rng.normal(size=(n, *CFG["input_shape"])) + shift).astype("float32")
    y = rng.integers(0, CFG["num_classes"], size=n)
    return [(x[i:i + batch_size], y[i:i + batch_size]) for i in range(0, n, batch_size)]


def main():
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    train_loader = make_loader(rng, 64, 2.0, CFG["batch_size"])
    val_loader = make_loader(rng, 32, -3.0, CFG["batch_size"])
    model = build_model(CFG)
    optimizer = keras.optimizers.SGD(CFG["lr"], momentum=0.9)
    criterion = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    bn = model.get_layer("stem_bn")
    moved_by_val = []
    trained = False
    for epoch in range(CFG["epochs"]):
        before_train = keras.ops.convert_to_numpy(bn.moving_mean)
        train_one_epoch(model, optimizer, criterion, train_loader, epoch)
        after_train = keras.ops.convert_to_numpy(bn.moving_mean)
        trained = trained or not np.allclose(before_train, after_train)
        stats = evaluate(model, criterion, val_loader)
        moved_by_val.append(not np.allclose(after_train, keras.ops.convert_to_numpy(bn.moving_mean)))
        print(f"[epoch {epoch}] val {stats}")
    if any(moved_by_val):
        verdict = "contaminated"
    else:
        verdict = "updated" if trained else "frozen"
    print("BN-GROUND-TRUTH:", verdict)


if __name__ == "__main__":
    main()
