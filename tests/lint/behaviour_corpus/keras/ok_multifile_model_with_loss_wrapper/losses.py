"""ModelWithLoss: runs the network and the criterion together (CenterNet / YOLOX trainer layout)."""
import keras
from keras import ops


class ModelWithLoss(keras.layers.Layer):
    def __init__(self, model, label_smoothing=0.1, logit_penalty=1e-3, **kwargs):
        super().__init__(**kwargs)
        self.model = model
        self.label_smoothing = label_smoothing
        self.logit_penalty = logit_penalty

    def call(self, images, labels):
        logits = self.model(images)
        num_classes = ops.shape(logits)[-1]
        targets = ops.one_hot(labels, num_classes) * (1.0 - self.label_smoothing) + self.label_smoothing / num_classes
        ce = keras.losses.categorical_crossentropy(targets, logits, from_logits=True)
        loss = ops.mean(ce) + self.logit_penalty * ops.mean(ops.square(logits))
        return loss, logits
