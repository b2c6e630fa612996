"""python train.py -- trains model.build_net with the generic Trainer for a few epochs."""
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np  # noqa: E402
import tensorflow.compat.v1 as tf  # noqa: E402

from model import build_net  # noqa: E402
from trainer import Trainer  # noqa: E402

tf.disable_v2_behavior()

CONFIG = {"seed": 0, "num_features": 5, "lr": 1e-2, "epochs": 3, "steps_per_epoch": 8, "batch_size": 32}


def make_batches(rng, n, cfg):
    out = []
    for _ in range(n):
        xs = rng.randn(cfg["batch_size"], cfg["num_features"]) * 2.0 + 4.0
        out.append((xs, (xs[:, 1] > 4.0).astype(np.int64)))
    return out


def main():
    rng = np.random.RandomState(CONFIG["seed"])
    trainer = Trainer(build_net, CONFIG)
    for epoch in range(CONFIG["epochs"]):
        loss = trainer.fit(make_batches(rng, CONFIG["steps_per_epoch"], CONFIG))
        val_x, val_y = make_batches(rng, 1, CONFIG)[0]
        print(f"epoch {epoch} loss {loss:.3f} val acc {trainer.evaluate(val_x, val_y):.3f}")
    moving_mean = trainer.variable("classifier/block1/bn/moving_mean:0")
    trainer.close()
    print("BN-GROUND-TRUTH:", "frozen" if np.allclose(moving_mean, 0.0) else "updated")


if __name__ == "__main__":
    main()
