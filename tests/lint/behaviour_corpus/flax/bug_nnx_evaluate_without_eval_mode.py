"""Flax NNX classifier: train_step and eval_step are both @nnx.jit functions that take the model.
eval_step only computes metrics, but nothing calls model.eval() (NNX modules start in training
mode): BatchNorm normalises the validation batches with batch statistics and nnx.jit writes the
updated BatchStat values back into the model after every evaluation, so validation data leaks
into the running statistics used for inference."""
import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402
from flax import nnx  # noqa: E402


class Classifier(nnx.Module):
    def __init__(self, din, hidden, dout, rngs):
        self.fc1 = nnx.Linear(din, hidden, rngs=rngs)
        self.bn = nnx.BatchNorm(hidden, momentum=0.9, rngs=rngs)
        self.fc2 = nnx.Linear(hidden, dout, rngs=rngs)

    def __call__(self, x):
        return self.fc2(nnx.relu(self.bn(self.fc1(x))))


def loss_fn(model, x, y):
    logits = model(x)
    return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean(), logits


@nnx.jit
def train_step(model, optimizer, metrics, x, y):
    (loss, logits), grads = nnx.value_and_grad(loss_fn, has_aux=True)(model, x, y)
    metrics.update(loss=loss, logits=logits, labels=y)
    optimizer.update(model, grads)


@nnx.jit
def eval_step(model, metrics, x, y):
    loss, logits = loss_fn(model, x, y)
    metrics.update(loss=loss, logits=logits, labels=y)


def batches(rng, n_batches, shift):
    out = []
    for _ in range(n_batches):
        x = rng.normal(shift, 1.0, (16, 6)).astype(np.float32)
        out.append((jnp.asarray(x), jnp.asarray((x[:, 0] > shift).astype(np.int32))))
    return out


def main(epochs=3):
    rng = np.random.default_rng(0)
    model = Classifier(6, 12, 2, nnx.Rngs(0))
    optimizer = nnx.Optimizer(model, optax.adamw(5e-3), wrt=nnx.Param)
    metrics = nnx.MultiMetric(accuracy=nnx.metrics.Accuracy(), loss=nnx.metrics.Average("loss"))
    train_data, val_data = batches(rng, 4, 0.0), batches(rng, 2, 4.0)
    drift = 0.0
    for epoch in range(epochs):
        for x, y in train_data:
            train_step(model, optimizer, metrics, x, y)
        print("epoch", epoch, "train", {k: float(v) for k, v in metrics.compute().items()})
        metrics.reset()
        before = np.asarray(model.bn.mean[...])
        for x, y in val_data:
            eval_step(model, metrics, x, y)
        drift = max(drift, float(np.abs(np.asarray(model.bn.mean[...]) - before).max()))
        print("epoch", epoch, "val", {k: float(v) for k, v in metrics.compute().items()})
        metrics.reset()
    trained = not np.allclose(np.asarray(model.bn.mean[...]), 0.0)
    print("BN-GROUND-TRUTH:", "contaminated" if drift > 1e-6 else ("updated" if trained else "frozen"))


if __name__ == "__main__":
    main()
