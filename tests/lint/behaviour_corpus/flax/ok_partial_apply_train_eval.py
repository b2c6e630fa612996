"""Two callables bound once with functools.partial: train_apply = partial(model.apply, train=True,
mutable=['batch_stats']) for the step, eval_apply = partial(model.apply, train=False) for validation.
The step writes the returned batch_stats back into its variables dict."""
import functools
import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")
import flax.linen as nn  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402


class Encoder(nn.Module):
    features: int = 8

    @nn.compact
    def __call__(self, x, train: bool = False):
        x = nn.Conv(self.features, (3, 3))(x)
        x = nn.BatchNorm(use_running_average=not train, momentum=0.9, name="bn")(x)
        return nn.Dense(2)(nn.relu(x).mean(axis=(1, 2)))


model = Encoder()
train_apply = functools.partial(model.apply, train=True, mutable=["batch_stats"])
eval_apply = functools.partial(model.apply, train=False)
optimizer = optax.adamw(5e-3)


@jax.jit
def update(params, batch_stats, opt_state, x, y):
    def loss_fn(p):
        logits, mutated = train_apply({"params": p, "batch_stats": batch_stats}, x)
        return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean(), mutated["batch_stats"]
    (loss, batch_stats), grads = jax.value_and_grad(loss_fn, has_aux=True)(params)
    updates, opt_state = optimizer.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), batch_stats, opt_state, loss


@jax.jit
def accuracy(params, batch_stats, x, y):
    logits = eval_apply({"params": params, "batch_stats": batch_stats}, x)
    return jnp.mean(jnp.argmax(logits, -1) == y)


def main():
    variables = model.init(jax.random.PRNGKey(0), jnp.ones((1, 6, 6, 1)))
    params, batch_stats = variables["params"], variables["batch_stats"]
    opt_state = optimizer.init(params)
    rng = np.random.default_rng(0)
    history = []
    for epoch in range(2):
        for _ in range(3):
            x, y = rng.normal(1.5, 1, (8, 6, 6, 1)), rng.integers(0, 2, 8)
            params, batch_stats, opt_state, loss = update(params, batch_stats, opt_state, x, y)
        history.append(np.asarray(batch_stats["bn"]["mean"]))
        before = history[-1]
        acc = accuracy(params, batch_stats, rng.normal(-4, 1, (8, 6, 6, 1)), rng.integers(0, 2, 8))
        assert np.array_equal(before, np.asarray(batch_stats["bn"]["mean"]))
        print("epoch", epoch, float(loss), float(acc))
    updated = not np.allclose(history[0], 0.0) and not np.allclose(history[0], history[1])
    print("BN-GROUND-TRUTH:", "updated" if updated else "frozen")


if __name__ == "__main__":
    main()
