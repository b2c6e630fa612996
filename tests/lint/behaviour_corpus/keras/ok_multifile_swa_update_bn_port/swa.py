"""Stochastic weight averaging for Keras, after torch.optim.swa_utils (AveragedModel + update_bn)."""
import keras

from models import build_model


class AveragedModel:
    """Running average of the weights seen at the end of each SWA epoch."""

    def __init__(self, cfg):
        self.module = build_model(cfg)
        self.n_averaged = 0

    def update_parameters(self, model):
        for avg, cur in zip(self.module.trainable_weights, model.trainable_weights):
            cur = keras.ops.convert_to_numpy(cur)
            if self.n_averaged == 0:
                avg.assign(cur)
            else:
                avg.assign(avg + (cur - avg) / (self.n_averaged + 1))
        self.n_averaged += 1


def update_bn(model, loader):
    """One pass over the training data to rebuild the BN statistics of the averaged weights.

    Like the torch version: reset the statistics, then a cumulative average over the batches.
    """
    norms = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    if not norms:
        return
    saved = [layer.momentum for layer in norms]
    for layer in norms:
        layer.moving_mean.assign(keras.ops.zeros_like(layer.moving_mean))
        layer.moving_variance.assign(keras.ops.ones_like(layer.moving_variance))
    for i, (images, _) in enumerate(loader):
        for layer in norms:
            layer.momentum = i / (i + 1.0)
        model(images, training=True)
    for layer, momentum in zip(norms, saved):
        layer.momentum = momentum
