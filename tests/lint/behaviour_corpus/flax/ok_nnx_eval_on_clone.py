"""Flax NNX training loop whose validation helper evaluates a snapshot: `eval_model =
nnx.clone(model); eval_model.eval()`. The clone has its own BatchNorm state and mode, so the live
model stays in training mode (no model.train() needed after validation) and keeps updating its
batch statistics every epoch; validation data never touches them."""
import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402
from flax import nnx  # noqa: E402


class Classifier(nnx.Module):
    def __init__(self, din, dhidden, dout, *, rngs: nnx.Rngs):
        self.fc1 = nnx.Linear(din, dhidden, use_bias=False, rngs=rngs)
        self.bn = nnx.BatchNorm(dhidden, momentum=0.9, rngs=rngs)
        self.fc2 = nnx.Linear(dhidden, dout, rngs=rngs)

    def __call__(self, x):
        return self.fc2(nnx.relu(self.bn(self.fc1(x))))


@nnx.jit
def train_step(model, optimizer, x, y):
    def loss_fn(model):
        logits = model(x)
        return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

    loss, grads = nnx.value_and_grad(loss_fn)(model)
    optimizer.update(model, grads)
    return loss


def validate(model, batches):
    eval_model = nnx.clone(model)
    eval_model.eval()
    correct = 0
    for x, y in batches:
        correct += int((eval_model(x).argmax(-1) == y).sum())
    return correct / sum(len(y) for _, y in batches)


def main():
    rng = np.random.default_rng(0)
    make = lambda n, shift: [(jnp.asarray(rng.normal(shift, 1.5, (16, 6)), jnp.float32),
                              jnp.asarray(rng.integers(0, 3, 16))) for _ in range(n)]
    train_batches, val_batches = make(4, 2.0), make(2, 6.0)
    model = Classifier(6, 12, 3, rngs=nnx.Rngs(0))
    optimizer = nnx.Optimizer(model, optax.adam(1e-2), wrt=nnx.Param)
    per_epoch = []
    for epoch in range(3):
        before = np.asarray(model.bn.mean.value)
        for x, y in train_batches:
            train_step(model, optimizer, x, y)
        after_train = np.asarray(model.bn.mean.value)
        acc = validate(model, val_batches)
        after_val = np.asarray(model.bn.mean.value)
        per_epoch.append((not np.allclose(before, after_train), np.allclose(after_train, after_val)))
        print(f"epoch {epoch}: val acc {acc:.2f}")
    if all(moved and untouched for moved, untouched in per_epoch):
        behaviour = "updated"
    elif not all(untouched for _, untouched in per_epoch):
        behaviour = "contaminated"
    else:
        behaviour = "stale"
    print("BN-GROUND-TRUTH:", behaviour)


if __name__ == "__main__":
    main()
