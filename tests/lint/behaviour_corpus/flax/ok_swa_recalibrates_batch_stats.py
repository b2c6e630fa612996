"""Flax SWA: parameters are averaged over the last epochs, then bn_update() re-estimates the
batch statistics of the averaged model by applying it with train=True, mutable=["batch_stats"]
over the training data (from zeroed statistics, momentum 0.0 in a dedicated recalibration copy of
the module) and keeps the result. Running BN in train mode outside the training step is the
point."""
import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")
import flax.linen as nn  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402


class MLP(nn.Module):
    bn_momentum: float = 0.9

    @nn.compact
    def __call__(self, x, train: bool):
        x = nn.Dense(16, use_bias=False)(x)
        x = nn.BatchNorm(use_running_average=not train, momentum=self.bn_momentum)(x)
        return nn.Dense(1)(nn.relu(x))


model = MLP()
recalibration_model = MLP(bn_momentum=0.0)
tx = optax.sgd(0.05)


@jax.jit
def train_step(params, batch_stats, opt_state, x, y):
    def loss_fn(p):
        pred, updates = model.apply({"params": p, "batch_stats": batch_stats}, x, train=True,
                                    mutable=["batch_stats"])
        return ((pred - y) ** 2).mean(), updates["batch_stats"]
    (loss, new_stats), grads = jax.value_and_grad(loss_fn, has_aux=True)(params)
    updates, opt_state = tx.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), new_stats, opt_state, loss


def bn_update(params, batch_stats, x_all):
    zeroed = jax.tree_util.tree_map(jnp.zeros_like, batch_stats)
    _, updates = recalibration_model.apply({"params": params, "batch_stats": zeroed}, x_all, train=True,
                                           mutable=["batch_stats"])
    return updates["batch_stats"]


def main(epochs=4, swa_start=2):
    rng = np.random.default_rng(0)
    x_all = rng.normal(2, 1, (48, 5)).astype("float32")
    y_all = rng.normal(0, 1, (48, 1)).astype("float32")
    variables = model.init(jax.random.PRNGKey(0), x_all[:1], train=False)
    params, batch_stats = variables["params"], variables["batch_stats"]
    opt_state = tx.init(params)
    swa_params, n_averaged = None, 0
    for epoch in range(epochs):
        for i in range(0, 48, 16):
            params, batch_stats, opt_state, loss = train_step(params, batch_stats, opt_state,
                                                              x_all[i:i + 16], y_all[i:i + 16])
        if epoch >= swa_start:
            swa_params = params if swa_params is None else jax.tree_util.tree_map(
                lambda s, p: (s * n_averaged + p) / (n_averaged + 1), swa_params, params)
            n_averaged += 1
    swa_stats = bn_update(swa_params, batch_stats, x_all)
    features = x_all @ np.asarray(swa_params["Dense_0"]["kernel"])  # input of the BN layer
    gap = np.abs(np.asarray(swa_stats["BatchNorm_0"]["mean"]) - features.mean(0)).max()
    print("BN-GROUND-TRUTH:", "recalibrated" if gap < 1e-3 else "stale")


if __name__ == "__main__":
    main()
