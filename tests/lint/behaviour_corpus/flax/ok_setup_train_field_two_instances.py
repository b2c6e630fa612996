"""setup()-style modules with a `train` dataclass field threaded into every block; two bound
instances share the parameters: Net(train=True) for the update step, Net(train=False) for evaluation."""
import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")
import flax.linen as nn  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402


class DenseBlock(nn.Module):
    features: int
    train: bool

    def setup(self):
        self.dense = nn.Dense(self.features)
        self.norm = nn.BatchNorm(use_running_average=not self.train, momentum=0.9)

    def __call__(self, x):
        return nn.relu(self.norm(self.dense(x)))


class Net(nn.Module):
    train: bool = False

    def setup(self):
        self.block1 = DenseBlock(12, train=self.train)
        self.block2 = DenseBlock(12, train=self.train)
        self.head = nn.Dense(1)

    def __call__(self, x):
        return self.head(self.block2(self.block1(x)))


train_net, eval_net = Net(train=True), Net(train=False)
tx = optax.adam(1e-2)


@jax.jit
def update(params, batch_stats, opt_state, x, y):
    def loss_fn(p):
        preds, mutated = train_net.apply({"params": p, "batch_stats": batch_stats}, x, mutable=["batch_stats"])
        return jnp.mean((preds - y) ** 2), mutated["batch_stats"]
    (loss, batch_stats), grads = jax.value_and_grad(loss_fn, has_aux=True)(params)
    updates, opt_state = tx.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), batch_stats, opt_state, loss


@jax.jit
def predict(params, batch_stats, x):
    return eval_net.apply({"params": params, "batch_stats": batch_stats}, x)


if __name__ == "__main__":
    variables = eval_net.init(jax.random.PRNGKey(0), jnp.ones((1, 3)))
    params, batch_stats = variables["params"], variables["batch_stats"]
    opt_state = tx.init(params)
    rng = np.random.default_rng(0)
    for _ in range(3):
        params, batch_stats, opt_state, _ = update(params, batch_stats, opt_state, rng.normal(3, 1, (16, 3)),
                                                   rng.normal(size=(16, 1)))
    trained = np.asarray(batch_stats["block1"]["norm"]["mean"])
    predict(params, batch_stats, rng.normal(-5, 1, (16, 3)))
    ok = not np.allclose(trained, 0) and np.allclose(trained, batch_stats["block1"]["norm"]["mean"])
    print("BN-GROUND-TRUTH:", "updated" if ok else "broken")
