"""PyTorch habits in a Flax/optax loop: params, opt_state and model_state (the batch_stats collection)
are kept as separate pytrees, and the jitted step "updates the running statistics in place" with
model_state.update(new_model_state) instead of returning them. Under jax.jit the dict is a traced
copy, so the caller's model_state never changes: BN statistics stay 0/1 while the weights train."""
import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")
import flax.linen as nn  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402


class ConvNet(nn.Module):
    classes: int = 4

    @nn.compact
    def __call__(self, x, train: bool):
        x = nn.Conv(8, (3, 3), use_bias=False)(x)
        x = nn.BatchNorm(use_running_average=not train, momentum=0.9)(x)
        x = nn.relu(x)
        x = x.mean(axis=(1, 2))
        return nn.Dense(self.classes)(x)


model = ConvNet()
tx = optax.sgd(0.05, momentum=0.9)


def init(rng):
    variables = model.init(rng, jnp.ones((1, 8, 8, 1)), train=False)
    params = variables.pop("params")
    model_state = dict(variables)  # {"batch_stats": ...}
    return params, tx.init(params), model_state


@jax.jit
def train_step(params, opt_state, model_state, images, labels):
    def loss_fn(p):
        logits, new_model_state = model.apply({"params": p, **model_state}, images, train=True,
                                              mutable=["batch_stats"])
        return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean(), new_model_state

    (loss, new_model_state), grads = jax.value_and_grad(loss_fn, has_aux=True)(params)
    model_state.update(new_model_state)  # running statistics, like BN buffers in PyTorch
    updates, opt_state = tx.update(grads, opt_state, params)
    params = optax.apply_updates(params, updates)
    return params, opt_state, loss


@jax.jit
def predict(params, model_state, images):
    return model.apply({"params": params, **model_state}, images, train=False).argmax(-1)


def main():
    params, opt_state, model_state = init(jax.random.PRNGKey(0))
    rng = np.random.default_rng(0)
    for step in range(6):
        images = rng.normal(1.5, 1.0, (16, 8, 8, 1)).astype("float32")
        labels = rng.integers(0, 4, 16)
        params, opt_state, loss = train_step(params, opt_state, model_state, images, labels)
    preds = predict(params, model_state, rng.normal(1.5, 1.0, (8, 8, 8, 1)).astype("float32"))
    print("loss", float(loss), "preds", np.asarray(preds))
    mean = np.asarray(model_state["batch_stats"]["BatchNorm_0"]["mean"])
    print("BN-GROUND-TRUTH:", "frozen" if np.allclose(mean, 0.0) else "updated")


if __name__ == "__main__":
    main()
