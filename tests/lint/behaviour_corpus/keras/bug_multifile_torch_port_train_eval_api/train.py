"""python train.py -- image classification training (Keras 3 port of a PyTorch reference script)."""
import argparse
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras  # noqa: E402
import numpy as np  # noqa: E402

from engine import evaluate, train_one_epoch  # noqa: E402
from models import build_model  # noqa: E402


def get_args_parser():
    parser = argparse.ArgumentParser("classification training", add_help=False)
    parser.add_argument("--arch", default="convnet_tiny")
    parser.add_argument("--width", default=8, type=int)
    parser.add_argument("--num-classes", default=3, type=int)
    parser.add_argument("--epochs", default=3, type=int)
    parser.add_argument("--batch-size", default=16, type=int)
    parser.add_argument("--lr", default=0.02, type=float)
    parser.add_argument("--seed", default=0, type=int)
    return parser


def make_loader(rng, n, batch_size, shift):
    x = (rng.normal(size=(n, 8, 8, 3)) + shift).astype("float32")
    y = rng.integers(0, 3, size=n)
    return [(x[i:i + batch_size], y[i:i + batch_size]) for i in range(0, n, batch_size)]


def main(args):
    keras.utils.set_random_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    train_loader = make_loader(rng, 64, args.batch_size, 2.0)
    val_loader = make_loader(rng, 32, args.batch_size, 2.0)
    cfg = {"arch": args.arch, "width": args.width, "num_classes": args.num_classes}
    model = build_model(cfg)
    criterion = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    optimizer = keras.optimizers.SGD(args.lr, momentum=0.9)

    model.train()
    moved = []
    for epoch in range(args.epochs):
        before = None if not model.built else keras.ops.convert_to_numpy(model.norm.moving_mean)
        train_one_epoch(model, criterion, optimizer, train_loader, epoch)
        after = keras.ops.convert_to_numpy(model.norm.moving_mean)
        moved.append(not np.allclose(after, 0.0) if before is None else not np.allclose(before, after))
        stats = evaluate(model, criterion, val_loader)
        print(f"Epoch {epoch}: val {stats}")
    if all(moved):
        verdict = "updated"
    elif moved[0]:
        verdict = "stale"
    else:
        verdict = "frozen"
    print("BN-GROUND-TRUTH:", verdict)


if __name__ == "__main__":
    main(get_args_parser().parse_args([]))
