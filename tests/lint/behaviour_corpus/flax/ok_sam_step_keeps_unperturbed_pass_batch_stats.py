"""Flax linen port of sharpness-aware minimisation (SAM): the jitted train step computes the gradient
at w, climbs to w + rho * g / |g|, and takes the optimizer step with the gradient at the perturbed
weights. Both passes run BatchNorm in training mode with mutable batch_stats; the second pass is fed
the statistics of the first, and its mutated batch_stats are discarded on purpose: the step writes
the FIRST (unperturbed) pass's batch_stats into the TrainState, as the reference JAX SAM does, so the
statistics take one update per step from the weights that are kept."""
import os
from typing import Any

os.environ.setdefault("JAX_PLATFORMS", "cpu")
import flax.linen as nn  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402
from flax.training import train_state  # noqa: E402

HPARAMS = dict(rho=0.5, learning_rate=0.05, bn_momentum=0.9, steps=8, batch_size=32)


class TrainState(train_state.TrainState):
    batch_stats: Any


class Net(nn.Module):
    momentum: float

    @nn.compact
    def __call__(self, x, train: bool):
        x = nn.Dense(20, use_bias=False, name="proj")(x)
        x = nn.BatchNorm(use_running_average=not train, momentum=self.momentum, name="norm")(x)
        return nn.Dense(4, name="head")(nn.relu(x))


def dual_vector(grads):
    norm = jnp.sqrt(sum(jnp.sum(g ** 2) for g in jax.tree_util.tree_leaves(grads)))
    return jax.tree_util.tree_map(lambda g: g / (norm + 1e-12), grads)


@jax.jit
def sam_step(state, x, y):
    def loss_fn(params, batch_stats):
        logits, mutated = state.apply_fn({"params": params, "batch_stats": batch_stats}, x, train=True,
                                         mutable=["batch_stats"])
        loss = optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()
        return loss, mutated["batch_stats"]

    grad_fn = jax.value_and_grad(loss_fn, has_aux=True)
    (loss, clean_stats), grads = grad_fn(state.params, state.batch_stats)
    noised = jax.tree_util.tree_map(lambda p, e: p + HPARAMS["rho"] * e, state.params, dual_vector(grads))
    (_, noised_stats), sam_grads = grad_fn(noised, clean_stats)
    new_state = state.apply_gradients(grads=sam_grads, batch_stats=clean_stats)
    return new_state, loss


def main():
    rng = np.random.default_rng(0)
    batches = []
    for _ in range(HPARAMS["steps"] + 1):
        x = rng.normal(1.0, 2.0, (HPARAMS["batch_size"], 10)).astype("float32")
        batches.append((jnp.asarray(x), jnp.asarray(np.argmax(x[:, :4], axis=1).astype("int32"))))
    model = Net(momentum=HPARAMS["bn_momentum"])
    variables = model.init(jax.random.PRNGKey(0), batches[0][0], train=False)
    state = TrainState.create(apply_fn=model.apply, params=variables["params"],
                              tx=optax.sgd(HPARAMS["learning_rate"], momentum=0.9),
                              batch_stats=variables["batch_stats"])
    for x, y in batches[:-1]:
        state, loss = sam_step(state, x, y)
    print("last loss", float(loss))

    # one more step, compared with a single running-average update at the unperturbed weights
    x, y = batches[-1]
    m = HPARAMS["bn_momentum"]
    old_mean = np.asarray(state.batch_stats["norm"]["mean"])
    feats = np.asarray(x) @ np.asarray(state.params["proj"]["kernel"])
    expected = m * old_mean + (1 - m) * feats.mean(axis=0)
    state, _ = sam_step(state, x, y)
    new_mean = np.asarray(state.batch_stats["norm"]["mean"])
    print("max |mean - single update|", float(np.abs(new_mean - expected).max()))
    if np.allclose(new_mean, old_mean):
        behaviour = "frozen"
    elif np.allclose(new_mean, expected, atol=1e-4):
        behaviour = "updated"
    else:
        behaviour = "double-updated"
    print("BN-GROUND-TRUTH:", behaviour)


if __name__ == "__main__":
    main()
