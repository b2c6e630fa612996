"""Flax linen autoencoder. One `forward(state, params, images, train=True)` helper serves the training
loss and the image-logging hook: it applies the model with mutable batch_stats and returns the
reconstruction with the new statistics. log_reconstructions() renders a held-out preview batch every
`log_every` steps with the default train=True and hands the state back with those statistics, so the
held-out images are folded into BatchNorm's running averages during training."""
import os
from typing import Any

os.environ.setdefault("JAX_PLATFORMS", "cpu")
import flax.linen as nn  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402
from flax.training import train_state  # noqa: E402

CONFIG = {"latent": 4, "learning_rate": 1e-2, "steps": 8, "log_every": 4, "batch_size": 16}


class TrainState(train_state.TrainState):
    batch_stats: Any


class AutoEncoder(nn.Module):
    latent: int = 4

    @nn.compact
    def __call__(self, x, train: bool = True):
        h = nn.Dense(16, use_bias=False)(x)
        h = nn.BatchNorm(use_running_average=not train, momentum=0.9, name="enc_bn")(h)
        z = nn.Dense(self.latent)(nn.relu(h))
        return nn.Dense(x.shape[-1])(nn.relu(z))


def forward(state, params, images, train=True):
    recon, updates = state.apply_fn({"params": params, "batch_stats": state.batch_stats}, images,
                                    train=train, mutable=["batch_stats"])
    return recon, updates["batch_stats"]


@jax.jit
def train_step(state, images):
    def loss_fn(params):
        recon, new_stats = forward(state, params, images)
        return jnp.mean((recon - images) ** 2), new_stats
    (loss, new_stats), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
    return state.apply_gradients(grads=grads, batch_stats=new_stats), loss


def log_reconstructions(state, images, step, log):
    recon, batch_stats = forward(state, state.params, images)
    log.append({"step": step, "mse": float(jnp.mean((recon - images) ** 2)), "grid": np.asarray(recon[:4])})
    return state.replace(batch_stats=batch_stats)


def main():
    cfg = CONFIG
    rng = np.random.default_rng(0)
    model = AutoEncoder(cfg["latent"])
    variables = model.init(jax.random.PRNGKey(0), jnp.ones((1, 12)), train=False)
    state = TrainState.create(apply_fn=model.apply, params=variables["params"],
                              tx=optax.adam(cfg["learning_rate"]), batch_stats=variables["batch_stats"])
    preview = jnp.asarray(rng.normal(-3.0, 1.0, (cfg["batch_size"], 12)), dtype=jnp.float32)
    log, drift, trained = [], 0.0, False
    for step in range(1, cfg["steps"] + 1):
        images = jnp.asarray(rng.normal(1.0, 1.0, (cfg["batch_size"], 12)), dtype=jnp.float32)
        before = np.asarray(state.batch_stats["enc_bn"]["mean"])
        state, loss = train_step(state, images)
        trained |= not np.allclose(before, np.asarray(state.batch_stats["enc_bn"]["mean"]))
        if step % cfg["log_every"] == 0:
            before = np.asarray(state.batch_stats["enc_bn"]["mean"])
            state = log_reconstructions(state, preview, step, log)
            drift = max(drift, float(np.abs(np.asarray(state.batch_stats["enc_bn"]["mean"]) - before).max()))
            print(f"step {step} loss {float(loss):.3f} preview mse {log[-1]['mse']:.3f}")
    print("BN-GROUND-TRUTH:", "contaminated" if drift > 1e-6 else "updated" if trained else "frozen")


if __name__ == "__main__":
    main()
