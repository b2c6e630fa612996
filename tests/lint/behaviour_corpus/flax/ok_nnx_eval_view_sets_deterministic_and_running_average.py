"""Flax NNX notebook layout (MNIST-tutorial style): an nnx.Module CNN with Dropout and BatchNorm,
@nnx.jit train_step(model, optimizer, batch) and eval_step(model, batch), and an evaluation copy made
with nnx.view(). The view sets deterministic=True and use_running_average=True: it shares the live
variables, but Dropout is off and BatchNorm reads its running averages without writing them, while
the original model object keeps training with batch statistics."""
import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402
from flax import nnx  # noqa: E402

LEARNING_RATE = 5e-3
EPOCHS = 3
BATCH_SIZE = 16


class CNN(nnx.Module):
    def __init__(self, *, rngs: nnx.Rngs):
        self.conv1 = nnx.Conv(1, 8, kernel_size=(3, 3), rngs=rngs)
        self.bn1 = nnx.BatchNorm(8, rngs=rngs)
        self.dropout = nnx.Dropout(rate=0.1, rngs=rngs)
        self.linear = nnx.Linear(8, 4, rngs=rngs)

    def __call__(self, x):
        x = nnx.relu(self.bn1(self.conv1(x)))
        x = x.mean(axis=(1, 2))
        return self.linear(self.dropout(x))


def loss_fn(model, batch):
    logits = model(batch["image"])
    loss = optax.softmax_cross_entropy_with_integer_labels(logits=logits, labels=batch["label"]).mean()
    return loss, logits


@nnx.jit
def train_step(model, optimizer, batch):
    grad_fn = nnx.value_and_grad(loss_fn, has_aux=True)
    (loss, _), grads = grad_fn(model, batch)
    optimizer.update(model, grads)
    return loss


@nnx.jit
def eval_step(model, batch):
    loss, logits = loss_fn(model, batch)
    return loss, (logits.argmax(-1) == batch["label"]).mean()


def make_batches(rng, n, shift, scale):
    return [{"image": jnp.asarray(rng.normal(size=(BATCH_SIZE, 6, 6, 1)) * scale + shift, jnp.float32),
             "label": jnp.asarray(rng.integers(0, 4, size=BATCH_SIZE))} for _ in range(n)]


def main():
    rng = np.random.default_rng(0)
    train_ds = make_batches(rng, 4, 1.0, 1.0)
    test_ds = make_batches(rng, 2, -4.0, 3.0)
    model = CNN(rngs=nnx.Rngs(0))
    optimizer = nnx.Optimizer(model, optax.adamw(LEARNING_RATE), wrt=nnx.Param)
    eval_model = nnx.view(model, deterministic=True, use_running_average=True)

    changed_by_eval = []
    trained = []
    for epoch in range(EPOCHS):
        before_train = np.asarray(model.bn1.mean.value).copy()
        for batch in train_ds:
            train_step(model, optimizer, batch)
        before_eval = np.asarray(model.bn1.mean.value).copy()
        trained.append(not np.allclose(before_train, before_eval))
        accs = [float(eval_step(eval_model, batch)[1]) for batch in test_ds]
        after_eval = np.asarray(model.bn1.mean.value).copy()
        changed_by_eval.append(not np.allclose(before_eval, after_eval))
        print(f"epoch {epoch}: test accuracy {np.mean(accs):.3f}")

    if any(changed_by_eval):
        verdict = "contaminated"
    elif all(trained):
        verdict = "updated"
    else:
        verdict = "frozen"
    print("BN-GROUND-TRUTH:", verdict)


if __name__ == "__main__":
    main()
