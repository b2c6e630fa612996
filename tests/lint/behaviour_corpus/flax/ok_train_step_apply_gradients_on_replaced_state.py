"""Linen CNN-style classifier with a TrainState subclass holding batch_stats. The jitted train_step
was refactored to log metrics: it first builds `stepped = state.replace(batch_stats=...)` from the
mutable apply, then returns `stepped.apply_gradients(grads=grads)`: apply_gradients keeps the
other fields of the state it is called on, so the new batch statistics survive every step."""
import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")
import flax.linen as nn  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402
from flax.training import train_state  # noqa: E402


class TrainState(train_state.TrainState):
    batch_stats: dict


class Classifier(nn.Module):
    num_classes: int = 3

    @nn.compact
    def __call__(self, x, train: bool = True):
        x = nn.Dense(16, use_bias=False)(x)
        x = nn.BatchNorm(use_running_average=not train, momentum=0.9)(x)
        x = nn.relu(x)
        return nn.Dense(self.num_classes)(x)


def compute_metrics(logits, labels):
    loss = optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()
    return {"loss": loss, "accuracy": jnp.mean(jnp.argmax(logits, -1) == labels)}


@jax.jit
def train_step(state, batch):
    def loss_fn(params):
        logits, updates = state.apply_fn({"params": params, "batch_stats": state.batch_stats},
                                         batch["image"], train=True, mutable=["batch_stats"])
        loss = optax.softmax_cross_entropy_with_integer_labels(logits, batch["label"]).mean()
        return loss, (logits, updates)

    (_, (logits, updates)), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
    stepped = state.replace(batch_stats=updates["batch_stats"])
    metrics = compute_metrics(logits, batch["label"])
    return stepped.apply_gradients(grads=grads), metrics


@jax.jit
def eval_step(state, batch):
    logits = state.apply_fn({"params": state.params, "batch_stats": state.batch_stats}, batch["image"], train=False)
    return compute_metrics(logits, batch["label"])


def create_state(rng, lr=1e-2):
    model = Classifier()
    variables = model.init(rng, jnp.ones((1, 6)), train=False)
    return TrainState.create(apply_fn=model.apply, params=variables["params"], tx=optax.adam(lr),
                             batch_stats=variables["batch_stats"])


def main(epochs=2, steps=4):
    rng = np.random.default_rng(0)
    state = create_state(jax.random.PRNGKey(0))
    init_mean = np.asarray(state.batch_stats["BatchNorm_0"]["mean"])
    for epoch in range(epochs):
        for _ in range(steps):
            batch = {"image": jnp.asarray(rng.normal(3, 2, (32, 6)), jnp.float32),
                     "label": jnp.asarray(rng.integers(0, 3, 32))}
            state, metrics = train_step(state, batch)
        val = eval_step(state, {"image": jnp.asarray(rng.normal(3, 2, (32, 6)), jnp.float32),
                                "label": jnp.asarray(rng.integers(0, 3, 32))})
        print(f"epoch {epoch}: train loss {float(metrics['loss']):.3f} val acc {float(val['accuracy']):.2f}")
    mean = np.asarray(state.batch_stats["BatchNorm_0"]["mean"])
    print("BN-GROUND-TRUTH:", "frozen" if np.allclose(mean, init_mean) else "updated")


if __name__ == "__main__":
    main()
