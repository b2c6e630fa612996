"""Transfer learning in linen: pretrain() trains Backbone + source head (batch_stats threaded
through the TrainState) and exports flax.serialization.to_state_dict of {'params', 'batch_stats'}.
finetune() builds the target model whose backbone is frozen on purpose (use_running_average=True,
features under jax.lax.stop_gradient) with a new BN-free head, calls model.init, and grafts the
pretrained backbone into it with load_pretrained(): both its 'params' and its 'batch_stats'
subtrees. The frozen backbone normalizes with the pretrained statistics (frozen by design)."""
import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")
import flax.linen as nn  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402
from flax import serialization  # noqa: E402
from flax.core import unfreeze  # noqa: E402
from flax.training import train_state  # noqa: E402


class Backbone(nn.Module):
    width: int = 16

    @nn.compact
    def __call__(self, x, train: bool):
        x = nn.Dense(self.width, use_bias=False)(x)
        x = nn.BatchNorm(use_running_average=not train, momentum=0.9)(x)
        return nn.relu(x)


class SourceNet(nn.Module):
    @nn.compact
    def __call__(self, x, train: bool):
        return nn.Dense(4)(Backbone(name="backbone")(x, train))


class TargetNet(nn.Module):
    @nn.compact
    def __call__(self, x):
        feats = jax.lax.stop_gradient(Backbone(name="backbone")(x, train=False))
        return nn.Dense(2, name="head")(feats)


class TrainState(train_state.TrainState):
    batch_stats: dict


def pretrain(rng, steps=6):
    model = SourceNet()
    v = model.init(jax.random.PRNGKey(0), jnp.ones((1, 6)), train=False)
    state = TrainState.create(apply_fn=model.apply, params=v["params"], tx=optax.adam(1e-2),
                              batch_stats=v["batch_stats"])

    @jax.jit
    def step(state, x, y):
        def loss_fn(p):
            logits, upd = state.apply_fn({"params": p, "batch_stats": state.batch_stats}, x, train=True,
                                         mutable=["batch_stats"])
            return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean(), upd
        (loss, upd), g = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
        return state.apply_gradients(grads=g, batch_stats=upd["batch_stats"]), loss

    for _ in range(steps):
        x = jnp.asarray(rng.normal(4, 2, (32, 6)), jnp.float32)
        state, loss = step(state, x, jnp.asarray(rng.integers(0, 4, 32)))
    return serialization.to_state_dict({"params": state.params, "batch_stats": state.batch_stats})


def load_pretrained(variables, ckpt):
    params = unfreeze(variables["params"])
    params["backbone"] = ckpt["params"]["backbone"]
    batch_stats = unfreeze(variables["batch_stats"])
    batch_stats["backbone"] = ckpt["batch_stats"]["backbone"]
    return {"params": params, "batch_stats": batch_stats}


def finetune(ckpt, rng, steps=6):
    model = TargetNet()
    variables = load_pretrained(model.init(jax.random.PRNGKey(1), jnp.ones((1, 6))), ckpt)
    frozen_stats = variables["batch_stats"]
    params = variables["params"]
    tx = optax.sgd(0.05)
    opt_state = tx.init(params)

    @jax.jit
    def step(params, opt_state, x, y):
        def loss_fn(p):
            logits = model.apply({"params": p, "batch_stats": frozen_stats}, x)
            return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()
        loss, g = jax.value_and_grad(loss_fn)(params)
        upd, opt_state = tx.update(g, opt_state, params)
        return optax.apply_updates(params, upd), opt_state, loss

    for _ in range(steps):
        x = jnp.asarray(rng.normal(4, 2, (32, 6)), jnp.float32)
        params, opt_state, loss = step(params, opt_state, x, jnp.asarray(rng.integers(0, 2, 32)))
    print("finetune loss", float(loss))
    return {"params": params, "batch_stats": frozen_stats}


def main():
    rng = np.random.default_rng(0)
    ckpt = pretrain(rng)
    variables = finetune(ckpt, rng)
    used = np.asarray(variables["batch_stats"]["backbone"]["BatchNorm_0"]["mean"])
    pretrained = np.asarray(ckpt["batch_stats"]["backbone"]["BatchNorm_0"]["mean"])
    if np.allclose(used, pretrained) and not np.allclose(pretrained, 0):
        behaviour = "frozen-by-design"
    elif np.allclose(used, 0):
        behaviour = "reset"
    else:
        behaviour = "mismatched"
    print("BN-GROUND-TRUTH:", behaviour)


if __name__ == "__main__":
    main()
