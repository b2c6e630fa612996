"""Flax NNX port of a PyTorch model: the config keeps bn_momentum=0.1 from nn.BatchNorm1d and passes
it to nnx.BatchNorm(momentum=...). Flax weighs the OLD running value by `momentum`, so the running
statistics are (almost) the last batch's statistics."""
import os
from dataclasses import dataclass

os.environ.setdefault("JAX_PLATFORMS", "cpu")
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402
from flax import nnx  # noqa: E402


@dataclass(frozen=True)
class ModelConfig:
    in_features: int = 4
    hidden: int = 16
    bn_momentum: float = 0.1  # torch.nn.BatchNorm1d default
    bn_eps: float = 1e-5


class ResidualMLP(nnx.Module):
    def __init__(self, cfg: ModelConfig, *, rngs: nnx.Rngs):
        self.inp = nnx.Linear(cfg.in_features, cfg.hidden, rngs=rngs)
        self.norm = nnx.BatchNorm(cfg.hidden, momentum=cfg.bn_momentum, epsilon=cfg.bn_eps, rngs=rngs)
        self.hidden = nnx.Linear(cfg.hidden, cfg.hidden, rngs=rngs)
        self.out = nnx.Linear(cfg.hidden, 1, rngs=rngs)

    def __call__(self, x):
        h = self.inp(x)
        h = h + self.hidden(nnx.relu(self.norm(h)))
        return self.out(h)


@nnx.jit
def train_step(model, optimizer, x, y):
    def loss_fn(m):
        return jnp.mean((m(x) - y) ** 2)
    loss, grads = nnx.value_and_grad(loss_fn)(model)
    optimizer.update(model, grads)
    return loss


def main():
    cfg = ModelConfig()
    model = ResidualMLP(cfg, rngs=nnx.Rngs(0))
    optimizer = nnx.Optimizer(model, optax.adam(1e-3), wrt=nnx.Param)
    rng = np.random.default_rng(0)
    batches = [(jnp.asarray(rng.normal(0, s, (32, 4))), jnp.asarray(rng.normal(size=(32, 1))))
               for s in (1.0, 1.0, 1.0, 5.0)]
    model.train()
    for x, y in batches:
        train_step(model, optimizer, x, y)
    model.eval()
    last_var = np.asarray(jnp.var(model.inp(batches[-1][0]), axis=0))
    jumped = np.allclose(np.asarray(model.norm.var.value), last_var, rtol=0.15)
    print("BN-GROUND-TRUTH:", "jumped" if jumped else "smooth-average")


if __name__ == "__main__":
    main()
