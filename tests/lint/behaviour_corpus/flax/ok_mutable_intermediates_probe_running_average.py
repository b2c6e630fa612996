"""Linen model whose BatchNorm subclass picks its mode from the mutability of 'batch_stats'
(use_running_average=not self.is_mutable_collection('batch_stats')), and which sow()s its
embeddings into 'intermediates'. The epoch-end embedding probe runs the shared run_model() helper
with mutable=["intermediates"]: 'batch_stats' stays immutable, BN uses its running averages on the
probe set, no statistics come back, and the TrainState keeps the statistics of the training data
(the model never takes a train flag: the mutable list alone decides the BN mode, by design)."""
import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")
import flax.linen as nn  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402
from flax.training import train_state  # noqa: E402


class AutoModeBatchNorm(nn.BatchNorm):
    @nn.compact
    def __call__(self, x):
        return super().__call__(x, use_running_average=not self.is_mutable_collection("batch_stats"))


class Encoder(nn.Module):
    width: int = 16
    classes: int = 3

    @nn.compact
    def __call__(self, x):
        h = nn.Dense(self.width)(x)
        h = nn.relu(AutoModeBatchNorm(momentum=0.9)(h))
        self.sow("intermediates", "embedding", h)
        return nn.Dense(self.classes)(h)


class TrainState(train_state.TrainState):
    batch_stats: dict


def run_model(state, x, params=None, mutable=("batch_stats",)):
    variables = {"params": state.params if params is None else params, "batch_stats": state.batch_stats}
    out, collections = state.apply_fn(variables, x, mutable=mutable)
    if "batch_stats" in collections:
        state = state.replace(batch_stats=collections["batch_stats"])
    return out, collections, state


@jax.jit
def train_step(state, x, y):
    def loss_fn(params):
        logits, _, new_state = run_model(state, x, params=params)
        loss = optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()
        return loss, new_state.batch_stats
    (loss, batch_stats), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
    return state.apply_gradients(grads=grads, batch_stats=batch_stats), loss


def embedding_probe(state, x):
    _, collections, state = run_model(state, x, mutable=["intermediates"])
    embedding = collections["intermediates"]["embedding"][0]
    return float(jnp.linalg.norm(embedding, axis=-1).mean()), state


@jax.jit
def eval_logits(state, x):
    return state.apply_fn({"params": state.params, "batch_stats": state.batch_stats}, x)


def main(epochs=3):
    rng = np.random.default_rng(0)
    model = Encoder()
    variables = model.init(jax.random.PRNGKey(0), jnp.ones((1, 5)))
    state = TrainState.create(apply_fn=model.apply, params=variables["params"], tx=optax.adam(5e-3),
                              batch_stats=variables["batch_stats"])
    train = [rng.normal(0.0, 1.0, (16, 5)).astype(np.float32) for _ in range(4)]
    probe_x = jnp.asarray(rng.normal(3.0, 2.0, (32, 5)).astype(np.float32))
    drift = 0.0
    for epoch in range(epochs):
        for x in train:
            state, loss = train_step(state, jnp.asarray(x), jnp.asarray(np.argmax(x[:, :3], axis=1)))
        before = np.asarray(state.batch_stats["AutoModeBatchNorm_0"]["mean"])
        norm, state = embedding_probe(state, probe_x)
        after = np.asarray(state.batch_stats["AutoModeBatchNorm_0"]["mean"])
        drift = max(drift, float(np.abs(after - before).max()))
        print(f"epoch {epoch} loss {float(loss):.3f} probe embedding norm {norm:.3f}")
    print("eval logits mean", float(eval_logits(state, probe_x).mean()))
    trained = not np.allclose(np.asarray(state.batch_stats["AutoModeBatchNorm_0"]["mean"]), 0.0)
    print("BN-GROUND-TRUTH:", "contaminated" if drift > 1e-6 else ("updated" if trained else "frozen"))


if __name__ == "__main__":
    main()
