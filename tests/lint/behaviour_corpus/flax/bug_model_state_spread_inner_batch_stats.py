"""Trainer in the style of the old Flax ImageNet example, which keeps `model_state` (every
collection except params) next to the params and calls apply with `{"params": params,
**model_state}`. This trainer stores `model_state = variables["batch_stats"]` (the inner dict) and
writes back `new_model_state["batch_stats"]`, so the spread puts "BatchNorm_0" at the top level and
no "batch_stats" collection reaches apply. Because batch_stats is mutable, BatchNorm silently
creates fresh 0/1 statistics on every step: the stored statistics are always one update away from
the initial values."""
import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")
import functools  # noqa: E402

import flax.linen as nn  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402

MOMENTUM = 0.9


class ConvNet(nn.Module):
    num_classes: int = 3

    @nn.compact
    def __call__(self, x, train: bool = True):
        x = nn.Conv(8, (3, 3), use_bias=False)(x)
        x = nn.BatchNorm(use_running_average=not train, momentum=MOMENTUM)(x)
        x = nn.relu(x).mean(axis=(1, 2))
        return nn.Dense(self.num_classes)(x)


class Trainer:
    def __init__(self, model, lr, seed=0):
        self.model = model
        variables = model.init(jax.random.PRNGKey(seed), jnp.ones((1, 6, 6, 3)), train=False)
        self.params = variables["params"]
        self.model_state = variables["batch_stats"]
        self.tx = optax.adam(lr)
        self.opt_state = self.tx.init(self.params)

    @functools.partial(jax.jit, static_argnums=0)
    def _train_step(self, params, model_state, opt_state, images, labels):
        def loss_fn(p):
            logits, new_model_state = self.model.apply({"params": p, **model_state}, images, train=True,
                                                       mutable=["batch_stats"])
            loss = optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()
            return loss, new_model_state

        (loss, new_model_state), grads = jax.value_and_grad(loss_fn, has_aux=True)(params)
        updates, opt_state = self.tx.update(grads, opt_state, params)
        params = optax.apply_updates(params, updates)
        return params, new_model_state["batch_stats"], opt_state, loss

    def fit(self, batches):
        for images, labels in batches:
            self.params, self.model_state, self.opt_state, loss = self._train_step(
                self.params, self.model_state, self.opt_state, images, labels)


def main():
    rng = np.random.default_rng(0)
    batches = [(rng.normal(2.0, 1.5, (16, 6, 6, 3)).astype("float32"), rng.integers(0, 3, 16)) for _ in range(8)]
    trainer = Trainer(ConvNet(), lr=1e-2)
    trainer.fit(batches)
    stored = np.asarray(trainer.model_state["BatchNorm_0"]["mean"])
    # mean of what BatchNorm receives (conv output, final params) over all training batches
    conv = nn.Conv(8, (3, 3), use_bias=False)
    conv_params = {"params": trainer.params["Conv_0"]}
    data_mean = np.mean([np.asarray(conv.apply(conv_params, images)).mean(axis=(0, 1, 2)) for images, _ in batches],
                        axis=0)
    # fraction of the data mean the stored statistic has reached: 1 - MOMENTUM after a single update
    # from the initial zeros, 1 - MOMENTUM ** steps when the statistics are threaded through the steps
    reached = float(stored @ data_mean / (data_mean @ data_mean))
    print(f"stored mean reached {reached:.3f} of the data mean after {len(batches)} steps")
    if np.allclose(stored, 0.0):
        behaviour = "frozen"
    elif reached < 1.5 * (1 - MOMENTUM):
        behaviour = "reset"
    else:
        behaviour = "updated"
    print("BN-GROUND-TRUTH:", behaviour)


if __name__ == "__main__":
    main()
