"""python train.py -- builds the model from the registry and runs the Trainer."""
import argparse
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras  # noqa: E402
import numpy as np  # noqa: E402

from models import create_model  # noqa: E402
from trainer import Trainer  # noqa: E402


def get_args():
    parser = argparse.ArgumentParser()
    parser.add_argument("--arch", default="small_cnn")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--lr", type=float, default=0.02)
    parser.add_argument("--label-smoothing", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args([])


def make_loader(rng, n, batch_size, num_classes=3):
    x = (rng.normal(size=(n, 8, 8, 3)) * 1.5 + 2.0).astype("float32")
    y = rng.integers(0, num_classes, size=n).astype("int32")
    return [(x[i:i + batch_size], y[i:i + batch_size]) for i in range(0, n, batch_size)]


def main():
    args = get_args()
    keras.utils.set_random_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    cfg = {"image_shape": (8, 8, 3), "width": 6, "num_classes": 3, "lr": args.lr,
           "label_smoothing": args.label_smoothing}
    model = create_model(args.arch, cfg)
    trainer = Trainer(model, cfg)
    train_loader = make_loader(rng, 64, args.batch_size)
    val_loader = make_loader(rng, 32, args.batch_size)
    bn = model.get_layer("bn1")
    for epoch in range(args.epochs):
        trainer.train(epoch, train_loader)
        print(f"[epoch {epoch}] val acc {trainer.validate(val_loader):.3f}")
    moving_mean = keras.ops.convert_to_numpy(bn.moving_mean)
    moving_var = keras.ops.convert_to_numpy(bn.moving_variance)
    print("moving_mean[:3]", np.round(moving_mean[:3], 4))
    frozen = np.allclose(moving_mean, 0.0) and np.allclose(moving_var, 1.0)
    print("BN-GROUND-TRUTH:", "frozen" if frozen else "updated")


if __name__ == "__main__":
    main()
