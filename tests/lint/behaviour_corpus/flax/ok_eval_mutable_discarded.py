"""Eval step reuses the training apply signature (mutable batch_stats) with train=False and discards it."""
import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")
import flax.linen as nn  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402


class Model(nn.Module):
    @nn.compact
    def __call__(self, x, train):
        x = nn.BatchNorm(use_running_average=not train)(nn.Dense(5)(x))
        return nn.Dense(1)(nn.relu(x))


model = Model()


def forward(variables, x, train):
    out, new_state = model.apply(variables, x, train=train, mutable=["batch_stats"])
    return out, new_state


def train(variables, batches, tx):
    params, stats = variables["params"], variables["batch_stats"]
    opt_state = tx.init(params)
    for x, y in batches:
        def loss_fn(p):
            out, new_state = forward({"params": p, "batch_stats": stats}, x, True)
            return jnp.mean((out - y) ** 2), new_state
        (loss, new_state), grads = jax.value_and_grad(loss_fn, has_aux=True)(params)
        updates, opt_state = tx.update(grads, opt_state)
        params, stats = optax.apply_updates(params, updates), new_state["batch_stats"]
    return {"params": params, "batch_stats": stats}


def evaluate(variables, x):
    out, _ = forward(variables, x, False)
    return out


if __name__ == "__main__":
    rng = np.random.default_rng(0)
    variables = model.init(jax.random.PRNGKey(0), jnp.ones((1, 3)), train=False)
    variables = train(variables, [(rng.normal(2, 1, (8, 3)), rng.normal(size=(8, 1))) for _ in range(3)], optax.sgd(0.05))
    trained = np.asarray(variables["batch_stats"]["BatchNorm_0"]["mean"])
    evaluate(variables, rng.normal(9, 1, (8, 3)))
    ok = not np.allclose(trained, 0) and np.allclose(trained, variables["batch_stats"]["BatchNorm_0"]["mean"])
    print("BN-GROUND-TRUTH:", "updated" if ok else "broken")
