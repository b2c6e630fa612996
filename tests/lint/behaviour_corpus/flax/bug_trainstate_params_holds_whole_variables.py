"""Linen MLP classifier trained with a plain flax TrainState whose `params` field was given the
WHOLE variables dict from model.init ({'params': ..., 'batch_stats': ...}), so apply_fn(state.params,
...) works without unpacking. The train step applies with mutable=['batch_stats'] (required once
train=True), differentiates w.r.t. that whole pytree and lets optax update it: the batch_stats leaves
get zero gradients (train mode normalizes with batch statistics), adamw moves them by nothing, and the
mutated statistics returned by apply are only logged. The running averages never leave 0 / 1."""
import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")
import flax.linen as nn  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402
from flax.training import train_state  # noqa: E402

CONFIG = {"hidden": 24, "classes": 3, "lr": 3e-3, "epochs": 3, "steps": 6, "bn_momentum": 0.9}


class MLP(nn.Module):
    hidden: int
    classes: int
    bn_momentum: float

    @nn.compact
    def __call__(self, x, train: bool):
        x = nn.Dense(self.hidden)(x)
        x = nn.BatchNorm(use_running_average=not train, momentum=self.bn_momentum)(x)
        return nn.Dense(self.classes)(nn.relu(x))


def create_state(rng, cfg):
    model = MLP(cfg["hidden"], cfg["classes"], cfg["bn_momentum"])
    variables = model.init(rng, jnp.ones((2, 8)), train=False)
    return train_state.TrainState.create(apply_fn=model.apply, params=variables, tx=optax.adamw(cfg["lr"]))


@jax.jit
def train_step(state, x, y):
    def loss_fn(variables):
        logits, mutated = state.apply_fn(variables, x, train=True, mutable=["batch_stats"])
        loss = optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()
        return loss, mutated

    (loss, mutated), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
    bn_mean_norm = jnp.linalg.norm(mutated["batch_stats"]["BatchNorm_0"]["mean"])
    return state.apply_gradients(grads=grads), {"loss": loss, "bn_mean_norm": bn_mean_norm}


@jax.jit
def eval_step(state, x, y):
    logits = state.apply_fn(state.params, x, train=False)
    return jnp.mean(jnp.argmax(logits, -1) == y)


def batches(rng, n):
    for _ in range(n):
        x = rng.normal(2.0, 1.5, (32, 8)).astype("float32")
        yield jnp.asarray(x), jnp.asarray(np.argmax(x[:, :3], 1).astype("int32"))


def main():
    rng = np.random.default_rng(0)
    state = create_state(jax.random.PRNGKey(0), CONFIG)
    for epoch in range(CONFIG["epochs"]):
        for x, y in batches(rng, CONFIG["steps"]):
            state, metrics = train_step(state, x, y)
        acc = np.mean([float(eval_step(state, x, y)) for x, y in batches(rng, 2)])
        print(f"epoch {epoch} loss {float(metrics['loss']):.3f} |bn mean| {float(metrics['bn_mean_norm']):.2f} acc {acc:.2f}")
    stats = state.params["batch_stats"]["BatchNorm_0"]
    x, _ = next(batches(rng, 1))
    feats = x @ state.params["params"]["Dense_0"]["kernel"] + state.params["params"]["Dense_0"]["bias"]
    target = np.asarray(feats.mean(0))
    mean = np.asarray(stats["mean"])
    if np.allclose(mean, 0.0) and np.allclose(np.asarray(stats["var"]), 1.0):
        verdict = "frozen"
    elif np.abs(mean - target).max() < 0.3 * np.abs(target).max():
        verdict = "updated"
    else:
        verdict = "stale"
    print("BN-GROUND-TRUTH:", verdict)


if __name__ == "__main__":
    main()
