"""Training utilities: exponential moving average of the model and the callback driving it."""
import keras

from models import build_model


class ModelEma:
    """Keeps a smoothed copy of the model, used for validation and for the exported weights."""

    def __init__(self, model, cfg):
        self.decay = cfg["ema_decay"]
        self.module = build_model(cfg)
        self.module.set_weights(model.get_weights())

    def update(self, model):
        d = self.decay
        for shadow, live in zip(self.module.weights, model.weights):
            shadow.assign(d * shadow + (1.0 - d) * live)


class EmaUpdater(keras.callbacks.Callback):
    def __init__(self, ema):
        super().__init__()
        self.ema = ema

    def on_train_batch_end(self, batch, logs=None):
        self.ema.update(self.model)
