"""Flax ResNet-ish model (flax/examples/imagenet layout)."""
from functools import partial
from typing import Any

import flax.linen as nn
import jax.numpy as jnp


class ResNetTiny(nn.Module):
    num_classes: int
    width: int = 8
    bn_momentum: float = 0.9
    bn_epsilon: float = 1e-5
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x, train: bool = True):
        conv = partial(nn.Conv, use_bias=False, dtype=self.dtype)
        norm = partial(nn.BatchNorm, use_running_average=not train, momentum=self.bn_momentum,
                       epsilon=self.bn_epsilon, dtype=self.dtype)
        x = conv(self.width, (3, 3), name="conv_init")(x)
        x = norm(name="bn_init")(x)
        x = nn.relu(x)
        x = jnp.mean(x, axis=(1, 2))
        return nn.Dense(self.num_classes, dtype=self.dtype)(x)


def create_model(config):
    return {"ResNetTiny": ResNetTiny}[config.model](
        num_classes=config.num_classes, bn_momentum=config.bn_momentum, bn_epsilon=config.bn_epsilon)
