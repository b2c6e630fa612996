"""python train.py -- fit, average the last epochs (SWA), rebuild BN stats, evaluate the average."""
import argparse
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras  # noqa: E402
import numpy as np  # noqa: E402

from models import build_model  # noqa: E402
from swa import AveragedModel, update_bn  # noqa: E402

CFG = {"arch": "mlp_bn", "num_features": 6, "hidden": 12, "num_classes": 3}


def parse_args():
    p = argparse.ArgumentParser()
    p.add_argument("--epochs", type=int, default=6)
    p.add_argument("--swa-start", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=0.05)
    return p.parse_args([])


def make_data(rng, n):
    x = (rng.normal(size=(n, CFG["num_features"])) * 1.5 + 3.0).astype("float32")
    y = (x[:, 0] + x[:, 1] > 6.0).astype("int64") + (x[:, 2] > 4.0).astype("int64")
    return x, y


def main():
    args = parse_args()
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x_train, y_train = make_data(rng, 256)
    x_val, y_val = make_data(rng, 64)
    loader = [(x_train[i:i + args.batch_size], y_train[i:i + args.batch_size])
              for i in range(0, len(x_train), args.batch_size)]

    model = build_model(CFG)
    model.compile(optimizer=keras.optimizers.SGD(args.lr, momentum=0.9),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    swa_model = AveragedModel(CFG)
    for epoch in range(args.epochs):
        hist = model.fit(x_train, y_train, batch_size=args.batch_size, epochs=1, verbose=0, shuffle=False)
        if epoch >= args.swa_start:
            swa_model.update_parameters(model)
        print(f"epoch {epoch} loss {hist.history['loss'][-1]:.4f}")

    update_bn(swa_model.module, loader)
    logits = swa_model.module.predict(x_val, verbose=0)
    print(f"swa val acc {np.mean(np.argmax(logits, -1) == y_val):.3f}")

    net = swa_model.module
    bn = net.get_layer("bn1")
    features = keras.ops.convert_to_numpy(net.get_layer("fc1")(x_train))
    target = features.mean(axis=0)
    moving = keras.ops.convert_to_numpy(bn.moving_mean)
    if np.allclose(moving, 0.0):
        verdict = "stale"
    elif np.allclose(moving, target, atol=0.05 * np.abs(target).max() + 1e-3):
        verdict = "recomputed"
    else:
        verdict = "mismatched"
    print("BN-GROUND-TRUTH:", verdict)


if __name__ == "__main__":
    main()
