"""python train.py - trains the ConvNet for a few steps, evaluates, checks the BN statistics."""
import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402

from models import ConvNet  # noqa: E402
from steps import TrainState, eval_step, train_step  # noqa: E402


def main():
    net = ConvNet()
    variables = net.init(jax.random.PRNGKey(0), jnp.ones((1, 6, 6, 1)), training=False)
    state = TrainState.create(apply_fn=net.apply, params=variables["params"], tx=optax.adam(1e-2),
                              batch_stats=variables["batch_stats"])
    rng = np.random.default_rng(0)
    for epoch in range(2):
        for _ in range(3):
            state, loss = train_step(state, rng.normal(2, 1, (8, 6, 6, 1)), rng.integers(0, 3, 8))
        trained = np.asarray(state.batch_stats["bn"]["mean"])
        eval_step(state, rng.normal(-5, 1, (8, 6, 6, 1)))
        print("epoch", epoch, "loss", float(loss))
    ok = not np.allclose(trained, 0) and np.allclose(trained, state.batch_stats["bn"]["mean"])
    print("BN-GROUND-TRUTH:", "updated" if ok else "broken")


if __name__ == "__main__":
    main()
