"""Flax GAN. The discriminator step applies D with mutable=["batch_stats"] and writes D's new
statistics back into d_state; the generator step also has to run D in training mode (mutable)
but deliberately throws D's statistics away - fake-only batches must not move them - and keeps
only the generator's. A naive "mutable result discarded" check would flag the G step."""
import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")
import flax.linen as nn  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402
from flax.training import train_state  # noqa: E402

LATENT = 4


class TrainState(train_state.TrainState):
    batch_stats: dict


class Generator(nn.Module):
    @nn.compact
    def __call__(self, z, train: bool = True):
        h = nn.Dense(16)(z)
        h = nn.relu(nn.BatchNorm(use_running_average=not train, momentum=0.9)(h))
        return nn.Dense(6)(h)


class Discriminator(nn.Module):
    @nn.compact
    def __call__(self, x, train: bool = True):
        h = nn.Dense(16)(x)
        h = nn.leaky_relu(nn.BatchNorm(use_running_average=not train, momentum=0.9)(h), 0.2)
        return nn.Dense(1)(h)


def bce(logits, label):
    return optax.sigmoid_binary_cross_entropy(logits, jnp.full_like(logits, label)).mean()


@jax.jit
def d_step(d_state, g_state, real, z):
    fake, _ = g_state.apply_fn({"params": g_state.params, "batch_stats": g_state.batch_stats}, z,
                               mutable=["batch_stats"])

    def loss_fn(params):
        logits, d_updates = d_state.apply_fn({"params": params, "batch_stats": d_state.batch_stats},
                                             jnp.concatenate([real, fake]), mutable=["batch_stats"])
        n = real.shape[0]
        return bce(logits[:n], 1.0) + bce(logits[n:], 0.0), d_updates
    (loss, d_updates), grads = jax.value_and_grad(loss_fn, has_aux=True)(d_state.params)
    d_state = d_state.apply_gradients(grads=grads).replace(batch_stats=d_updates["batch_stats"])
    return d_state, loss


@jax.jit
def g_step(g_state, d_state, z):
    def loss_fn(params):
        fake, g_updates = g_state.apply_fn({"params": params, "batch_stats": g_state.batch_stats}, z,
                                           mutable=["batch_stats"])
        logits, _ = d_state.apply_fn({"params": d_state.params, "batch_stats": d_state.batch_stats}, fake,
                                     mutable=["batch_stats"])
        return bce(logits, 1.0), g_updates
    (loss, g_updates), grads = jax.value_and_grad(loss_fn, has_aux=True)(g_state.params)
    return g_state.apply_gradients(grads=grads).replace(batch_stats=g_updates["batch_stats"]), loss


def create_state(module, shape, key):
    variables = module.init(key, jnp.ones(shape))
    return TrainState.create(apply_fn=module.apply, params=variables["params"],
                             tx=optax.adam(2e-3, b1=0.5), batch_stats=variables["batch_stats"])


def main(iters=4):
    rng = np.random.default_rng(0)
    g_state = create_state(Generator(), (1, LATENT), jax.random.PRNGKey(0))
    d_state = create_state(Discriminator(), (1, 6), jax.random.PRNGKey(1))
    for _ in range(iters):
        real = jnp.asarray(rng.normal(3, 1, (16, 6)), jnp.float32)
        d_state, d_loss = d_step(d_state, g_state, real, jnp.asarray(rng.normal(size=(16, LATENT)), jnp.float32))
        g_state, g_loss = g_step(g_state, d_state, jnp.asarray(rng.normal(size=(16, LATENT)), jnp.float32))
    held_out = jnp.asarray(rng.normal(3, 1, (32, 6)), jnp.float32)
    d_real = d_state.apply_fn({"params": d_state.params, "batch_stats": d_state.batch_stats}, held_out,
                              train=False)
    print("D(real) on held-out data:", float(jax.nn.sigmoid(d_real).mean()))
    d_mean = np.asarray(d_state.batch_stats["BatchNorm_0"]["mean"])
    g_mean = np.asarray(g_state.batch_stats["BatchNorm_0"]["mean"])
    print("BN-GROUND-TRUTH:", "updated" if not np.allclose(d_mean, 0) and not np.allclose(g_mean, 0) else "frozen")


if __name__ == "__main__":
    main()
