"""TabNet-style ghost batch normalization written with keras.ops (Keras 3)."""
import keras
from keras import ops


class GhostBatchNorm(keras.layers.Layer):
    """Normalises each virtual batch with its own statistics; tracks moving averages for inference."""

    def __init__(self, virtual_batch_size=8, momentum=0.9, epsilon=1e-5, **kwargs):
        super().__init__(**kwargs)
        self.virtual_batch_size = virtual_batch_size
        self.momentum = momentum
        self.epsilon = epsilon

    def build(self, input_shape):
        dim = input_shape[-1]
        self.gamma = self.add_weight(shape=(dim,), initializer="ones", name="gamma")
        self.beta = self.add_weight(shape=(dim,), initializer="zeros", name="beta")
        self.moving_mean = self.add_weight(shape=(dim,), initializer="zeros", trainable=False,
                                           name="moving_mean")
        self.moving_variance = self.add_weight(shape=(dim,), initializer="ones", trainable=False,
                                               name="moving_variance")

    def _normalize(self, x, mean, var):
        return (x - mean) * ops.rsqrt(var + self.epsilon) * self.gamma + self.beta

    def call(self, inputs, training=None):
        batch_mean = ops.mean(inputs, axis=0)
        batch_var = ops.var(inputs, axis=0)
        self.moving_mean.assign(self.momentum * self.moving_mean + (1.0 - self.momentum) * batch_mean)
        self.moving_variance.assign(self.momentum * self.moving_variance
                                    + (1.0 - self.momentum) * batch_var)
        if training:
            chunks = ops.split(inputs, ops.shape(inputs)[0] // self.virtual_batch_size, axis=0)
            normed = [self._normalize(c, ops.mean(c, axis=0), ops.var(c, axis=0)) for c in chunks]
            return ops.concatenate(normed, axis=0)
        return self._normalize(inputs, self.moving_mean, self.moving_variance)
