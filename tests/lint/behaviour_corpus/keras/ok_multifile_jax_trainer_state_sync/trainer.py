"""JaxTrainer: jitted stateless training on the Keras 3 JAX backend (layout of the keras.io JAX loop guide).

The trainer keeps (trainable, non_trainable, optimizer) values as its own state between steps and writes
them back into the Keras variables with sync_to_model() before evaluation or checkpointing.
"""
import jax
import keras
import numpy as np


class JaxTrainer:
    def __init__(self, model, cfg):
        self.model = model
        self.optimizer = keras.optimizers.Adam(cfg["lr"])
        self.optimizer.build(model.trainable_variables)
        self.loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        self._grad_fn = jax.value_and_grad(self._loss_and_updates, has_aux=True)
        self._jit_step = jax.jit(self._step)
        self.state = (
            [v.value for v in model.trainable_variables],
            [v.value for v in model.non_trainable_variables],
            [v.value for v in self.optimizer.variables],
        )

    def _loss_and_updates(self, trainable, non_trainable, x, y):
        logits, non_trainable = self.model.stateless_call(trainable, non_trainable, x, training=True)
        return self.loss_fn(y, logits), non_trainable

    def _step(self, state, x, y):
        trainable, non_trainable, opt_vars = state
        (loss, non_trainable), grads = self._grad_fn(trainable, non_trainable, x, y)
        trainable, opt_vars = self.optimizer.stateless_apply(opt_vars, grads, trainable)
        return loss, (trainable, non_trainable, opt_vars)

    def train_epoch(self, batches):
        losses = []
        for x, y in batches:
            loss, self.state = self._jit_step(self.state, x, y)
            losses.append(float(loss))
        return float(np.mean(losses))

    def sync_to_model(self):
        """Copy the jitted state into the Keras variables (called before evaluate / save)."""
        trainable, non_trainable, opt_vars = self.state
        for variable, value in zip(self.model.trainable_variables, trainable):
            variable.assign(np.array(value))
        for variable, value in zip(self.model.non_trainable_variables, non_trainable):
            variable.assign(np.array(value))
        for variable, value in zip(self.optimizer.variables, opt_vars):
            variable.assign(np.array(value))
