"""python train.py : config dict -> model/state -> epochs of train_step + evaluate."""
import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")
import jax  # noqa: E402
import numpy as np  # noqa: E402

from evaluate import eval_step, evaluate  # noqa: E402
from models import create_model  # noqa: E402
from trainer import create_train_state, train_step  # noqa: E402

CONFIG = {"features": 8, "hidden": 32, "num_classes": 3, "lr": 1e-2, "epochs": 3,
          "steps_per_epoch": 5, "batch_size": 32, "seed": 0}


def make_batches(rng, n, config):
    out = []
    for _ in range(n):
        x = rng.normal(3.0, 2.0, (config["batch_size"], config["features"])).astype(np.float32)
        out.append((x, (x[:, 0] > 3.0).astype(np.int32) + (x[:, 1] > 4.0).astype(np.int32)))
    return out


def main(config):
    rng = np.random.default_rng(config["seed"])
    model = create_model(config)
    state = create_train_state(model, jax.random.PRNGKey(config["seed"]), config)
    init_stats = state.batch_stats
    val = make_batches(rng, 2, config)
    for epoch in range(config["epochs"]):
        for x, y in make_batches(rng, config["steps_per_epoch"], config):
            state, loss = train_step(state, x, y)
        print(f"epoch {epoch} loss {float(loss):.4f} val acc {evaluate(state, val):.3f}")

    x = val[0][0]
    got = np.asarray(eval_step(state, x))
    with_trained = np.asarray(model.apply({"params": state.params, "batch_stats": state.batch_stats}, x, train=False))
    with_init = np.asarray(model.apply({"params": state.params, "batch_stats": init_stats}, x, train=False))
    trained_moved = not np.allclose(state.batch_stats["BatchNorm_0"]["mean"], 0.0)
    if trained_moved and np.allclose(got, with_trained, atol=1e-5):
        verdict = "updated"
    elif np.allclose(got, with_init, atol=1e-5):
        verdict = "init-stats-at-eval"
    else:
        verdict = "other"
    print("BN-GROUND-TRUTH:", verdict)


if __name__ == "__main__":
    main(CONFIG)
