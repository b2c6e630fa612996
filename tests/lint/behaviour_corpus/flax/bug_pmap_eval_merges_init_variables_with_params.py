"""ImageNet-example-style data-parallel training: the TrainState (params + batch_stats) is
replicated with flax.jax_utils.replicate, the pmapped train step keeps cross-replica batch_stats in
the state, and an unreplicated host copy is taken for evaluation. evaluate() builds its variables as
{**variables, "params": host_state.params}: the dict from model.init still carries the initial
batch_stats, so the host evaluation normalizes with 0/1 statistics instead of the trained ones."""
import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")
import functools  # noqa: E402

import flax.linen as nn  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402
from flax import jax_utils  # noqa: E402
from flax.training import train_state  # noqa: E402

HPARAMS = dict(lr=5e-3, epochs=3, steps_per_epoch=3, per_device_batch=16, features=12)


class Classifier(nn.Module):
    features: int

    @nn.compact
    def __call__(self, x, train: bool = True):
        norm = functools.partial(nn.BatchNorm, use_running_average=not train, momentum=0.8, axis_name="batch")
        x = nn.Dense(self.features)(x)
        x = nn.relu(norm()(x))
        return nn.Dense(3)(x)


class TrainState(train_state.TrainState):
    batch_stats: dict


def train_step(state, batch):
    def loss_fn(params):
        logits, new_model_state = state.apply_fn(
            {"params": params, "batch_stats": state.batch_stats}, batch["x"], train=True, mutable=["batch_stats"])
        return optax.softmax_cross_entropy_with_integer_labels(logits, batch["y"]).mean(), new_model_state
    (loss, new_model_state), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
    grads = jax.lax.pmean(grads, axis_name="batch")
    state = state.apply_gradients(grads=grads, batch_stats=new_model_state["batch_stats"])
    return state, jax.lax.pmean(loss, axis_name="batch")


p_train_step = jax.pmap(train_step, axis_name="batch")


def shard(batch):
    n = jax.local_device_count()
    return jax.tree_util.tree_map(lambda a: a.reshape((n, -1) + a.shape[1:]), batch)


def make_batch(rng, size, shift):
    x = rng.normal(shift, 1.5, (size, 6)).astype(np.float32)
    return {"x": x, "y": (x[:, 0] > shift).astype(np.int32) + (x[:, 1] > shift + 1).astype(np.int32)}


def evaluate(model, variables, host_state, batch):
    eval_variables = {**variables, "params": host_state.params}
    logits = model.apply(eval_variables, batch["x"], train=False)
    return float(jnp.mean(jnp.argmax(logits, -1) == batch["y"])), eval_variables


def main(h=HPARAMS):
    rng = np.random.default_rng(0)
    model = Classifier(h["features"])
    variables = jax.jit(functools.partial(model.init, train=False))(jax.random.PRNGKey(0), jnp.ones((1, 6)))
    state = TrainState.create(apply_fn=model.apply, params=variables["params"], tx=optax.adam(h["lr"]),
                              batch_stats=variables["batch_stats"])
    p_state = jax_utils.replicate(state)
    global_batch = h["per_device_batch"] * jax.local_device_count()
    for epoch in range(h["epochs"]):
        for _ in range(h["steps_per_epoch"]):
            p_state, loss = p_train_step(p_state, shard(make_batch(rng, global_batch, 2.0)))
        host_state = jax_utils.unreplicate(p_state)
        acc, eval_variables = evaluate(model, variables, host_state, make_batch(rng, 64, 2.0))
        print(f"epoch {epoch} loss {float(loss[0]):.3f} eval acc {acc:.3f}")
    trained = host_state.batch_stats["BatchNorm_0"]["mean"]
    used = eval_variables["batch_stats"]["BatchNorm_0"]["mean"]
    if np.allclose(trained, 0):
        verdict = "frozen"
    elif np.allclose(used, 0):
        verdict = "init-stats-at-eval"
    else:
        verdict = "updated" if np.allclose(used, trained) else "mismatched"
    print("BN-GROUND-TRUTH:", verdict)


if __name__ == "__main__":
    main()
