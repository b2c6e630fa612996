"""python main.py - runs train.train_and_evaluate with the default config and checks what the
reported test metrics were computed with."""
import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")
import jax  # noqa: E402
import numpy as np  # noqa: E402

import train  # noqa: E402


def get_config():
    return {"learning_rate": 0.1, "momentum": 0.9, "batch_size": 16, "num_epochs": 3}


def synthetic_split(rng, n, shift):
    images = rng.normal(shift, 1.0, (n, 8, 8, 1)).astype(np.float32)
    labels = (images.reshape(n, -1)[:, :4].argmax(1)).astype(np.int32)
    return {"image": images, "label": labels}


def main():
    rng = np.random.default_rng(0)
    train_ds, test_ds = synthetic_split(rng, 64, 0.0), synthetic_split(rng, 32, 2.0)
    state, test_logits = train.train_and_evaluate(get_config(), train_ds, test_ds)
    stats = jax.tree_util.tree_leaves(state.batch_stats)
    trained = any(not np.allclose(leaf, 0) and not np.allclose(leaf, 1) for leaf in stats)
    reference = state.apply_fn({"params": state.params, "batch_stats": state.batch_stats},
                               test_ds["image"], train=False)
    gap = float(np.abs(np.asarray(test_logits) - np.asarray(reference)).max())
    print(f"max |reported test logits - running-average logits| = {gap:.4f}")
    if gap > 1e-4:
        verdict = "eval-uses-batch-stats"
    else:
        verdict = "updated" if trained else "frozen"
    print("BN-GROUND-TRUTH:", verdict)


if __name__ == "__main__":
    main()
