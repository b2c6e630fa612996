"""Flax transfer learning with optax.multi_transform: the pretrained backbone's parameters get
optax.set_to_zero() and only the new head is optimised. To keep the backbone's pretrained BN
statistics the model builds its norm factory as partial(nn.BatchNorm, use_running_average=True)
-- and hands the same factory to the freshly initialised head. The head's BatchNorm therefore
normalises with its initial 0/1 statistics while it is trained and never updates them."""
import functools
import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")
from typing import Any, Callable  # noqa: E402

import flax.linen as nn  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402
from flax import traverse_util  # noqa: E402
from flax.training import train_state  # noqa: E402


class Backbone(nn.Module):
    norm: Callable
    width: int = 16

    @nn.compact
    def __call__(self, x):
        x = nn.Dense(self.width, use_bias=False)(x)
        return nn.relu(self.norm(name="bn")(x))


class Head(nn.Module):
    norm: Callable
    width: int = 16
    classes: int = 3

    @nn.compact
    def __call__(self, x):
        x = nn.Dense(self.width, use_bias=False)(x)
        x = nn.relu(self.norm(name="bn")(x))
        return nn.Dense(self.classes)(x)


class PretrainNet(nn.Module):
    @nn.compact
    def __call__(self, x, train: bool = True):
        norm = functools.partial(nn.BatchNorm, use_running_average=not train, momentum=0.9)
        return Head(norm=norm, classes=5, name="pretext_head")(Backbone(norm=norm, name="backbone")(x))


class FinetuneNet(nn.Module):
    classes: int = 3

    @nn.compact
    def __call__(self, x, train: bool = True):
        frozen_norm = functools.partial(nn.BatchNorm, use_running_average=True, momentum=0.9)
        features = Backbone(norm=frozen_norm, name="backbone")(x)
        return Head(norm=frozen_norm, classes=self.classes, name="head")(features)


class TrainState(train_state.TrainState):
    batch_stats: Any


def make_step():
    @jax.jit
    def step(state, x, y):
        def loss_fn(params):
            logits, updates = state.apply_fn({"params": params, "batch_stats": state.batch_stats}, x,
                                             train=True, mutable=["batch_stats"])
            loss = optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()
            return loss, updates

        (loss, updates), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
        return state.apply_gradients(grads=grads, batch_stats=updates["batch_stats"]), loss
    return step


def label_params(params):
    flat = traverse_util.flatten_dict(params)
    return traverse_util.unflatten_dict({k: "frozen" if k[0] == "backbone" else "trainable" for k in flat})


def main():
    rng = np.random.default_rng(0)
    x_src = rng.normal(0.0, 1.0, (128, 8)).astype("float32")
    y_src = rng.integers(0, 5, 128)
    x_tgt = rng.normal(1.5, 1.0, (96, 8)).astype("float32")
    y_tgt = (x_tgt[:, 0] > 1.5).astype("int32") + (x_tgt[:, 1] > 1.5).astype("int32")

    # stage 1: pretraining on the source task
    pre = PretrainNet()
    v = pre.init(jax.random.PRNGKey(0), x_src[:2], train=False)
    state = TrainState.create(apply_fn=pre.apply, params=v["params"], tx=optax.adam(1e-2), batch_stats=v["batch_stats"])
    step = make_step()
    for i in range(0, 128, 16):
        state, _ = step(state, x_src[i:i + 16], y_src[i:i + 16])
    pretrained = {"params": state.params["backbone"], "batch_stats": state.batch_stats["backbone"]}

    # stage 2: new head, frozen backbone
    model = FinetuneNet()
    v = model.init(jax.random.PRNGKey(1), x_tgt[:2], train=False)
    params = {**v["params"], "backbone": pretrained["params"]}
    batch_stats = {**v["batch_stats"], "backbone": pretrained["batch_stats"]}
    tx = optax.multi_transform({"trainable": optax.adam(1e-2), "frozen": optax.set_to_zero()}, label_params(params))
    state = TrainState.create(apply_fn=model.apply, params=params, tx=tx, batch_stats=batch_stats)
    step = make_step()
    for epoch in range(3):
        for i in range(0, 96, 16):
            state, loss = step(state, x_tgt[i:i + 16], y_tgt[i:i + 16])
        print(f"finetune epoch {epoch}: loss {float(loss):.3f}")

    backbone_kept = np.allclose(state.batch_stats["backbone"]["bn"]["mean"], pretrained["batch_stats"]["bn"]["mean"])
    head_mean = np.asarray(state.batch_stats["head"]["bn"]["mean"])
    if np.allclose(head_mean, 0.0):
        verdict = "frozen"
    elif backbone_kept:
        verdict = "backbone-frozen-head-updated"
    else:
        verdict = "backbone-drifted"
    print("BN-GROUND-TRUTH:", verdict)


if __name__ == "__main__":
    main()
