"""python train.py -- fit with an EMA of the weights; the EMA copy is what gets validated."""
import argparse
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras  # noqa: E402
import numpy as np  # noqa: E402

from evaluation import score  # noqa: E402
from models import build_model  # noqa: E402
from utils import EmaUpdater, ModelEma  # noqa: E402


def parse_args():
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--lr", type=float, default=5e-3)
    parser.add_argument("--ema-decay", type=float, default=0.8)
    return parser.parse_args()


def main():
    args = parse_args()
    cfg = {"input_shape": (6, 6, 2), "width": 5, "num_classes": 3, "ema_decay": args.ema_decay}
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = (rng.normal(size=(96, 6, 6, 2)) * 1.5 + 2.5).astype("float32")
    y = rng.integers(0, 3, size=96)
    model = build_model(cfg)
    model.compile(optimizer=keras.optimizers.Adam(args.lr),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    ema = ModelEma(model, cfg)
    model.fit(x, y, batch_size=args.batch_size, epochs=args.epochs, callbacks=[EmaUpdater(ema)], verbose=0)
    print("ema", score(ema.module, x, y), "live", score(model, x, y))
    live = keras.ops.convert_to_numpy(model.get_layer("block1_bn").moving_mean)
    shadow = keras.ops.convert_to_numpy(ema.module.get_layer("block1_bn").moving_mean)
    if np.allclose(shadow, 0.0) and not np.allclose(live, 0.0):
        verdict = "stale"
    elif np.allclose(live, 0.0):
        verdict = "frozen"
    else:
        verdict = "smooth-average" if np.allclose(shadow, live, rtol=0.2, atol=0.05) else "diverged"
    print("BN-GROUND-TRUTH:", verdict)


if __name__ == "__main__":
    main()
