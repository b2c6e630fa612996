"""UvA-DL-tutorial-style `TrainerModule`: `create_functions()` defines the loss, train and eval steps as
closures and stores their `jax.jit` versions on the trainer. The train step receives the new batch
statistics from the mutable apply but writes `state.batch_stats` (the old ones) back into the TrainState
(a refactoring swapped the names), so the BatchNorm statistics never leave their initial 0 / 1."""
import os
from typing import Any

os.environ.setdefault("JAX_PLATFORMS", "cpu")
import flax.linen as nn  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402
from flax.training import train_state  # noqa: E402


class TrainState(train_state.TrainState):
    batch_stats: Any = None


class SimpleCNN(nn.Module):
    num_classes: int = 4

    @nn.compact
    def __call__(self, x, train=True):
        x = nn.Conv(8, (3, 3))(x)
        x = nn.BatchNorm(use_running_average=not train, momentum=0.9)(x)
        x = nn.relu(x).mean(axis=(1, 2))
        return nn.Dense(self.num_classes)(x)


class TrainerModule:
    def __init__(self, model, example_imgs, lr=1e-2, seed=0):
        self.model = model
        variables = model.init(jax.random.PRNGKey(seed), example_imgs, train=True)
        self.state = TrainState.create(apply_fn=model.apply, params=variables["params"],
                                       batch_stats=variables["batch_stats"], tx=optax.adam(lr))
        self.create_functions()

    def create_functions(self):
        def calculate_loss(params, batch_stats, batch, train):
            imgs, labels = batch
            outs = self.model.apply({"params": params, "batch_stats": batch_stats}, imgs, train=train,
                                    mutable=["batch_stats"] if train else False)
            logits, new_model_state = outs if train else (outs, None)
            loss = optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()
            acc = (logits.argmax(axis=-1) == labels).mean()
            return loss, (acc, new_model_state)

        def train_step(state, batch):
            loss_fn = lambda params: calculate_loss(params, state.batch_stats, batch, train=True)  # noqa: E731
            ret, grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
            loss, (acc, new_model_state) = ret[0], ret[1]
            state = state.apply_gradients(grads=grads, batch_stats=state.batch_stats)
            return state, loss, acc

        def eval_step(state, batch):
            _, (acc, _) = calculate_loss(state.params, state.batch_stats, batch, train=False)
            return acc

        self.train_step = jax.jit(train_step)
        self.eval_step = jax.jit(eval_step)

    def train_epoch(self, loader):
        for batch in loader:
            self.state, _, _ = self.train_step(self.state, batch)

    def eval_model(self, loader):
        return float(np.mean([self.eval_step(self.state, batch) for batch in loader]))


if __name__ == "__main__":
    rng = np.random.default_rng(0)
    loader = [(rng.normal(2, 1, (8, 6, 6, 3)).astype("float32"), rng.integers(0, 4, 8)) for _ in range(3)]
    trainer = TrainerModule(SimpleCNN(), loader[0][0])
    for epoch in range(2):
        trainer.train_epoch(loader)
        trainer.eval_model(loader[:1])
    mean = np.asarray(trainer.state.batch_stats["BatchNorm_0"]["mean"])
    print("BN-GROUND-TRUTH:", "frozen" if np.allclose(mean, 0) else "updated")
