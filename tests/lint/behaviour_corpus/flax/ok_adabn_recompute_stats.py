"""AdaBN in Flax: recompute batch_stats on target data with a mutable apply, weights untouched (deliberate)."""
import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")
import flax.linen as nn  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402


class Classifier(nn.Module):
    @nn.compact
    def __call__(self, x, train=False):
        x = nn.Dense(5)(x)
        x = nn.BatchNorm(use_running_average=not train, momentum=0.5)(x)
        return nn.Dense(2)(nn.relu(x))


def adapt_batch_stats(model, variables, target_batches):
    batch_stats = variables["batch_stats"]
    for xb in target_batches:
        _, mutated = model.apply({"params": variables["params"], "batch_stats": batch_stats}, xb, train=True,
                                 mutable=["batch_stats"])
        batch_stats = mutated["batch_stats"]
    return {"params": variables["params"], "batch_stats": batch_stats}


if __name__ == "__main__":
    clf = Classifier()
    variables = clf.init(jax.random.PRNGKey(0), jnp.ones((1, 3)))
    rng = np.random.default_rng(0)
    adapted = adapt_batch_stats(clf, variables, [rng.normal(5, 1, (16, 3)) for _ in range(5)])
    logits = clf.apply(adapted, rng.normal(5, 1, (4, 3)))
    moved = not np.allclose(adapted["batch_stats"]["BatchNorm_0"]["mean"], 0)
    print("BN-GROUND-TRUTH:", "adapted-to-target" if moved else "unchanged")
