"""python train.py -- trains build_model(CFG) with the JAX trainer, validates after every epoch."""
import os

os.environ["KERAS_BACKEND"] = "jax"
os.environ.setdefault("JAX_PLATFORMS", "cpu")
import keras  # noqa: E402
import numpy as np  # noqa: E402

from models import build_model  # noqa: E402
from trainer import JaxTrainer  # noqa: E402

CFG = {
    "arch": "tabular_mlp",
    "num_features": 6,
    "width": 12,
    "num_classes": 3,
    "epochs": 3,
    "steps_per_epoch": 6,
    "batch_size": 32,
    "lr": 1e-2,
    "seed": 0,
}


def make_batches(rng, n_batches, cfg):
    batches = []
    for _ in range(n_batches):
        x = (rng.normal(size=(cfg["batch_size"], cfg["num_features"])) * 2.0 + 3.0).astype("float32")
        y = (x[:, 0] > 3.0).astype("int32") + (x[:, 1] > 4.0).astype("int32")
        batches.append((x, y))
    return batches


def evaluate(model, batches):
    correct = seen = 0
    for x, y in batches:
        preds = np.argmax(model.predict(x, verbose=0), axis=-1)
        correct += int(np.sum(preds == y))
        seen += len(y)
    return correct / seen


def main():
    keras.utils.set_random_seed(CFG["seed"])
    rng = np.random.default_rng(CFG["seed"])
    model = build_model(CFG)
    trainer = JaxTrainer(model, CFG)
    val_batches = make_batches(rng, 2, CFG)
    for epoch in range(CFG["epochs"]):
        loss = trainer.train_epoch(make_batches(rng, CFG["steps_per_epoch"], CFG))
        trainer.sync_to_model()
        print(f"epoch {epoch} loss {loss:.4f} val acc {evaluate(model, val_batches):.3f}")
    bn = model.get_layer("block1_bn")
    moving_mean = keras.ops.convert_to_numpy(bn.moving_mean)
    moving_var = keras.ops.convert_to_numpy(bn.moving_variance)
    print("model moving_mean[:3]", np.round(moving_mean[:3], 4))
    if np.allclose(moving_mean, 0.0) and np.allclose(moving_var, 1.0):
        verdict = "frozen"
    else:
        verdict = "updated"
    print("BN-GROUND-TRUTH:", verdict)


if __name__ == "__main__":
    main()
