"""Mixed-precision style training step that skips non-finite updates: instead of
state.apply_gradients() it runs the optax update by hand, keeps the old params (and statistics) where
any gradient is NaN/Inf, and rebuilds the TrainState with state.replace(step=..., params=...,
opt_state=..., batch_stats=...): the mutated batch_stats from the loss function's aux output are
written back at every finite step."""
import os
from typing import Any

os.environ.setdefault("JAX_PLATFORMS", "cpu")
import flax.linen as nn  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402
from flax.training import train_state  # noqa: E402


class TrainState(train_state.TrainState):
    batch_stats: Any = None


class CNN(nn.Module):
    classes: int = 4

    @nn.compact
    def __call__(self, x, train: bool = True):
        x = nn.Conv(8, (3, 3), use_bias=False)(x)
        x = nn.BatchNorm(use_running_average=not train, momentum=0.9)(x)
        x = nn.relu(x).mean(axis=(1, 2))
        return nn.Dense(self.classes)(x)


def create_state(rng, lr=1e-2):
    model = CNN()
    variables = model.init(rng, jnp.ones((1, 8, 8, 3)), train=False)
    return TrainState.create(apply_fn=model.apply, params=variables["params"],
                             batch_stats=variables["batch_stats"],
                             tx=optax.chain(optax.clip_by_global_norm(1.0), optax.adam(lr)))


def all_finite(tree):
    return jnp.all(jnp.stack([jnp.all(jnp.isfinite(leaf)) for leaf in jax.tree_util.tree_leaves(tree)]))


@jax.jit
def train_step(state, images, labels):
    def loss_fn(params):
        logits, mutated = state.apply_fn({"params": params, "batch_stats": state.batch_stats},
                                         images, train=True, mutable=["batch_stats"])
        loss = optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()
        return loss, (logits, mutated)

    (loss, (logits, mutated)), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
    finite = all_finite(grads)
    updates, new_opt_state = state.tx.update(grads, state.opt_state, state.params)
    new_params = optax.apply_updates(state.params, updates)
    keep = lambda new, old: jnp.where(finite, new, old)  # noqa: E731
    state = state.replace(
        step=state.step + 1,
        params=jax.tree_util.tree_map(keep, new_params, state.params),
        opt_state=jax.tree_util.tree_map(keep, new_opt_state, state.opt_state),
        batch_stats=jax.tree_util.tree_map(keep, mutated["batch_stats"], state.batch_stats),
    )
    metrics = {"loss": loss, "accuracy": (logits.argmax(-1) == labels).mean(), "finite": finite}
    return state, metrics


def main():
    state = create_state(jax.random.PRNGKey(0))
    rng = np.random.default_rng(0)
    for epoch in range(3):
        for _ in range(3):
            x = jnp.asarray(rng.normal(1.5, 2.0, (8, 8, 8, 3)), jnp.float32)
            y = jnp.asarray(rng.integers(0, 4, 8))
            state, metrics = train_step(state, x, y)
        print(f"epoch {epoch} loss {float(metrics['loss']):.3f} finite {bool(metrics['finite'])}")
    mean = np.asarray(state.batch_stats["BatchNorm_0"]["mean"])
    print("BN-GROUND-TRUTH:", "frozen" if np.allclose(mean, 0.0) else "updated")


if __name__ == "__main__":
    main()
