"""FixMatch-style semi-supervised step in Flax linen: each step sees a labelled batch, a weakly and a
strongly augmented view of an unlabelled batch. The loss function applies the model three times
(labelled, weak view for the pseudo-labels, strong view), each in training mode with mutable
batch_stats starting from the same state.batch_stats, and returns the mutated stats of the last
(strong) pass. The statistics of the labelled and weak passes are computed and dropped: the
running averages follow the strongly augmented unlabelled data only."""
import os
from typing import Any

os.environ.setdefault("JAX_PLATFORMS", "cpu")
import flax.linen as nn  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402
from flax.training import train_state  # noqa: E402

CFG = {"threshold": 0.6, "lambda_u": 1.0, "lr": 0.03, "momentum": 0.9, "steps": 6, "bs": 16, "mu": 2}


class TrainState(train_state.TrainState):
    batch_stats: Any


class WideNet(nn.Module):
    num_classes: int = 3

    @nn.compact
    def __call__(self, x, train: bool):
        x = nn.Dense(24, use_bias=False, name="conv")(x)
        x = nn.BatchNorm(use_running_average=not train, momentum=CFG["momentum"], name="bn")(x)
        return nn.Dense(self.num_classes, name="fc")(nn.relu(x))


def weak_augment(x, key):
    return x + 0.1 * jax.random.normal(key, x.shape)


def strong_augment(x, key):
    k1, k2 = jax.random.split(key)
    mask = jax.random.bernoulli(k1, 0.7, x.shape)
    return jnp.where(mask, x, 0.0) * 1.5 + 0.8 * jax.random.normal(k2, x.shape)


@jax.jit
def train_step(state, x_l, y_l, u_weak, u_strong):
    def loss_fn(params):
        variables = {"params": params, "batch_stats": state.batch_stats}
        logits_l, _ = state.apply_fn(variables, x_l, train=True, mutable=["batch_stats"])
        logits_w, _ = state.apply_fn(variables, u_weak, train=True, mutable=["batch_stats"])
        logits_s, updates = state.apply_fn(variables, u_strong, train=True, mutable=["batch_stats"])
        sup = optax.softmax_cross_entropy_with_integer_labels(logits_l, y_l).mean()
        probs = jax.nn.softmax(jax.lax.stop_gradient(logits_w))
        mask = (probs.max(axis=-1) >= CFG["threshold"]).astype(jnp.float32)
        unsup = (optax.softmax_cross_entropy_with_integer_labels(logits_s, probs.argmax(-1)) * mask).mean()
        return sup + CFG["lambda_u"] * unsup, updates["batch_stats"]

    (loss, new_stats), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
    return state.apply_gradients(grads=grads, batch_stats=new_stats), loss


def get_batches(rng, key):
    x_l = rng.normal(1.0, 1.5, (CFG["bs"], 8)).astype("float32")
    u = rng.normal(1.0, 1.5, (CFG["bs"] * CFG["mu"], 8)).astype("float32")
    kw, ks = jax.random.split(key)
    return (jnp.asarray(x_l), jnp.asarray(np.argmax(x_l[:, :3], axis=1).astype("int32")),
            weak_augment(jnp.asarray(u), kw), strong_augment(jnp.asarray(u), ks))


def main():
    rng = np.random.default_rng(0)
    key = jax.random.PRNGKey(0)
    model = WideNet()
    variables = model.init(key, jnp.ones((2, 8)), train=False)
    state = TrainState.create(apply_fn=model.apply, params=variables["params"],
                              tx=optax.sgd(CFG["lr"], momentum=0.9), batch_stats=variables["batch_stats"])
    for step in range(CFG["steps"]):
        key, sub = jax.random.split(key)
        state, loss = train_step(state, *get_batches(rng, sub))
    print("last loss", float(loss))

    # one more step: which inputs did the running mean absorb?
    key, sub = jax.random.split(key)
    batch = get_batches(rng, sub)
    m = CFG["momentum"]
    old_mean = np.asarray(state.batch_stats["bn"]["mean"])
    kernel = np.asarray(state.params["conv"]["kernel"])
    all_inputs = np.concatenate([np.asarray(batch[0]), np.asarray(batch[2]), np.asarray(batch[3])])
    from_all = m * old_mean + (1 - m) * (all_inputs @ kernel).mean(axis=0)
    from_strong = m * old_mean + (1 - m) * (np.asarray(batch[3]) @ kernel).mean(axis=0)
    state, _ = train_step(state, *batch)
    new_mean = np.asarray(state.batch_stats["bn"]["mean"])
    if np.allclose(new_mean, old_mean):
        behaviour = "frozen"
    elif np.allclose(new_mean, from_all, atol=1e-4):
        behaviour = "updated"
    elif np.allclose(new_mean, from_strong, atol=1e-4):
        behaviour = "overwritten"
    else:
        behaviour = "mismatched"
    print("BN-GROUND-TRUTH:", behaviour)


if __name__ == "__main__":
    main()
