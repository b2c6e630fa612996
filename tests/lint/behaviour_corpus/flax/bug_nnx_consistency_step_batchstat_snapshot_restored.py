"""Flax NNX semi-supervised training with a consistency term (clean view vs strongly augmented view,
R-Drop / UDA style). The author wants BatchNorm's running averages to come from clean batches only,
so the loss function copies nnx.state(model, nnx.BatchStat) into a snapshot and restores it with
nnx.update() after the augmented forward. The snapshot is taken at the top of the loss function,
BEFORE the clean forward, so the restore also undoes the clean batch's update: nnx.Optimizer(
wrt=nnx.Param) trains the weights while the statistics stay at their initial 0 / 1 values."""
import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402
from flax import nnx  # noqa: E402

HP = {"lr": 0.05, "consistency_weight": 1.0, "noise": 0.8, "epochs": 3, "steps": 6}


class Net(nnx.Module):
    def __init__(self, rngs):
        self.fc1 = nnx.Linear(8, 20, rngs=rngs)
        self.norm = nnx.BatchNorm(20, momentum=0.9, rngs=rngs)
        self.fc2 = nnx.Linear(20, 3, rngs=rngs)

    def __call__(self, x):
        return self.fc2(nnx.relu(self.norm(self.fc1(x))))


def snapshot_batch_stats(model):
    return jax.tree.map(jnp.copy, nnx.state(model, nnx.BatchStat))


def loss_fn(model, x, x_aug, y):
    snapshot = snapshot_batch_stats(model)
    logits = model(x)
    logits_aug = model(x_aug)
    nnx.update(model, snapshot)
    ce = optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()
    target = jax.lax.stop_gradient(jax.nn.softmax(logits))
    consistency = jnp.mean(jnp.sum(target * (jnp.log(target + 1e-8) - jax.nn.log_softmax(logits_aug)), -1))
    return ce + HP["consistency_weight"] * consistency


@nnx.jit
def train_step(model, optimizer, x, x_aug, y):
    loss, grads = nnx.value_and_grad(loss_fn)(model, x, x_aug, y)
    optimizer.update(model, grads)
    return loss


def make_batches(rng, n):
    out = []
    for _ in range(n):
        x = rng.normal(1.0, 1.5, (32, 8)).astype("float32")
        x_aug = x + rng.normal(0.5, HP["noise"], x.shape).astype("float32")
        out.append((jnp.asarray(x), jnp.asarray(x_aug), jnp.asarray(np.argmax(x[:, :3], 1).astype("int32"))))
    return out


def main():
    rng = np.random.default_rng(0)
    model = Net(nnx.Rngs(0))
    optimizer = nnx.Optimizer(model, optax.sgd(HP["lr"], momentum=0.9), wrt=nnx.Param)
    data = make_batches(rng, HP["steps"])
    for epoch in range(HP["epochs"]):
        model.train()
        for x, x_aug, y in data:
            loss = train_step(model, optimizer, x, x_aug, y)
        print(f"epoch {epoch} loss {float(loss):.3f}")
    model.eval()
    clean = jnp.concatenate([x for x, _, _ in data])
    feats = np.asarray(model.fc1(clean)).mean(0)
    mean = np.asarray(model.norm.mean[...])
    if np.allclose(mean, 0.0):
        verdict = "frozen"
    elif np.abs(mean - feats).max() < 0.25 * np.abs(feats).max():
        verdict = "updated"
    else:
        verdict = "contaminated"
    print("BN-GROUND-TRUTH:", verdict)


if __name__ == "__main__":
    main()
