"""Data-parallel training with jax.pmap in the style of the Flax ImageNet example: BatchNorm
normalises across replicas (axis_name='batch'), the step returns the mutated batch_stats in the
replicated TrainState, and sync_batch_stats() averages them across devices before evaluation."""
import functools
import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")
import flax.linen as nn  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402
from flax import jax_utils  # noqa: E402
from flax.training import train_state  # noqa: E402


class TrainState(train_state.TrainState):
    batch_stats: dict


class ResNetStem(nn.Module):
    num_classes: int = 3
    axis_name: str = "batch"

    @nn.compact
    def __call__(self, x, train: bool = True):
        norm = functools.partial(nn.BatchNorm, use_running_average=not train, momentum=0.9,
                                 axis_name=self.axis_name if train else None)
        x = nn.Conv(8, (3, 3), use_bias=False)(x)
        x = nn.relu(norm(name="bn_init")(x))
        return nn.Dense(self.num_classes)(x.mean(axis=(1, 2)))


def train_step(state, batch):
    def loss_fn(params):
        logits, new_model_state = state.apply_fn(
            {"params": params, "batch_stats": state.batch_stats}, batch["image"], train=True,
            mutable=["batch_stats"])
        loss = optax.softmax_cross_entropy_with_integer_labels(logits, batch["label"]).mean()
        return loss, new_model_state
    (loss, new_model_state), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
    grads = jax.lax.pmean(grads, axis_name="batch")
    new_state = state.apply_gradients(grads=grads, batch_stats=new_model_state["batch_stats"])
    return new_state, jax.lax.pmean(loss, axis_name="batch")


cross_replica_mean = jax.pmap(lambda x: jax.lax.pmean(x, "x"), "x")


def sync_batch_stats(state):
    return state.replace(batch_stats=cross_replica_mean(state.batch_stats))


def shard(batch):
    n = jax.local_device_count()
    return jax.tree_util.tree_map(lambda a: a.reshape((n, -1) + a.shape[1:]), batch)


def main():
    model = ResNetStem()
    variables = model.init(jax.random.PRNGKey(0), jnp.ones((1, 6, 6, 3)), train=False)
    state = TrainState.create(apply_fn=model.apply, params=variables["params"],
                              batch_stats=variables["batch_stats"], tx=optax.sgd(0.05, momentum=0.9))
    state = jax_utils.replicate(state)
    p_train_step = jax.pmap(train_step, axis_name="batch")
    rng = np.random.default_rng(0)
    means = []
    for epoch in range(2):
        for _ in range(3):
            batch = {"image": rng.normal(2, 1, (8, 6, 6, 3)).astype("float32"), "label": rng.integers(0, 3, 8)}
            state, loss = p_train_step(state, shard(batch))
        state = sync_batch_stats(state)
        means.append(np.asarray(jax_utils.unreplicate(state).batch_stats["bn_init"]["mean"]))
        print("epoch", epoch, float(loss[0]))
    updated = not np.allclose(means[0], 0.0) and not np.allclose(means[0], means[1])
    print("BN-GROUND-TRUTH:", "updated" if updated else "frozen")


if __name__ == "__main__":
    main()
