"""Flax NNX adversarial training: every step first crafts a PGD batch with `pgd_attack(model, x, y)`
(a jitted helper: 5 sign-gradient steps on the input through nnx.grad(argnums=1)) and then trains on
it with nnx.Optimizer. adversarial_step() switches the model to eval mode for the attack (BatchNorm
uses its running averages and leaves them alone) and back to train mode for the training step, so the
statistics take one update per step, from the adversarial batch the model is trained on."""
import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402
from flax import nnx  # noqa: E402

ATTACK = {"epsilon": 0.4, "step_size": 0.15, "steps": 5}
BN_MOMENTUM = 0.9


class RobustMLP(nnx.Module):
    def __init__(self, rngs):
        self.dense1 = nnx.Linear(8, 24, use_bias=False, rngs=rngs)
        self.bn1 = nnx.BatchNorm(24, momentum=BN_MOMENTUM, rngs=rngs)
        self.dense2 = nnx.Linear(24, 3, rngs=rngs)

    def __call__(self, x):
        return self.dense2(nnx.relu(self.bn1(self.dense1(x))))


def xent(model, x, y):
    return optax.softmax_cross_entropy_with_integer_labels(model(x), y).mean()


@nnx.jit
def pgd_attack(model, x, y):
    delta = jnp.zeros_like(x)
    for _ in range(ATTACK["steps"]):
        grad = nnx.grad(xent, argnums=1)(model, x + delta, y)
        delta = jnp.clip(delta + ATTACK["step_size"] * jnp.sign(grad), -ATTACK["epsilon"], ATTACK["epsilon"])
    return x + delta


@nnx.jit
def train_step(model, optimizer, x, y):
    loss, grads = nnx.value_and_grad(xent)(model, x, y)
    optimizer.update(model, grads)
    return loss


def adversarial_step(model, optimizer, x, y):
    model.eval()
    x_adv = pgd_attack(model, x, y)
    model.train()
    loss = train_step(model, optimizer, x_adv, y)
    return loss, x_adv


def make_data(rng, n):
    out = []
    for _ in range(n):
        x = rng.normal(1.5, 1.2, (32, 8)).astype("float32")
        out.append((jnp.asarray(x), jnp.asarray(np.argmax(x[:, :3], axis=1).astype("int32"))))
    return out


def main():
    rng = np.random.default_rng(0)
    data = make_data(rng, 7)
    model = RobustMLP(nnx.Rngs(0))
    optimizer = nnx.Optimizer(model, optax.sgd(0.05, momentum=0.9), wrt=nnx.Param)
    model.train()
    for epoch in range(2):
        for x, y in data[:-1]:
            loss, _ = adversarial_step(model, optimizer, x, y)
        print(f"epoch {epoch} adversarial loss {float(loss):.3f}")

    # one more step, compared with a single running-average update from the adversarial batch
    x, y = data[-1]
    old_mean = np.asarray(model.bn1.mean[...])
    kernel = np.asarray(model.dense1.kernel[...])
    _, x_adv = adversarial_step(model, optimizer, x, y)
    feats = np.asarray(x_adv) @ kernel
    expected = BN_MOMENTUM * old_mean + (1 - BN_MOMENTUM) * feats.mean(axis=0)
    new_mean = np.asarray(model.bn1.mean[...])
    print("max |mean - single update|", float(np.abs(new_mean - expected).max()))
    if np.allclose(new_mean, old_mean):
        behaviour = "frozen"
    elif np.allclose(new_mean, expected, atol=1e-4):
        behaviour = "updated"
    else:
        behaviour = "contaminated"
    print("BN-GROUND-TRUTH:", behaviour)


if __name__ == "__main__":
    main()
