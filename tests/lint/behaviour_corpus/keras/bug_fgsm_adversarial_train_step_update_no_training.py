"""Goodfellow-style adversarial training as a Keras 3 train_step override: fgsm() crafts the
perturbation against the inference-mode classifier (training=False, deliberate: the attack should
not touch BN), then the clean and adversarial batches are concatenated and the update pass calls
self.classifier(mixed) without training inside the GradientTape. fit() gives train_step no training
context, so BatchNormalization runs in inference mode in the only pass that trains: moving
statistics stay 0/1."""
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import argparse  # noqa: E402

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from keras import layers  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("--epsilon", type=float, default=0.1)
    parser.add_argument("--adv-weight", type=float, default=0.5)
    parser.add_argument("--epochs", type=int, default=2)
    return parser.parse_args(argv)


class AdversarialTrainer(keras.Model):
    def __init__(self, classifier, epsilon, adv_weight, **kwargs):
        super().__init__(**kwargs)
        self.classifier = classifier
        self.epsilon = epsilon
        self.adv_weight = adv_weight
        self.xent = keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction="none")
        self.loss_tracker = keras.metrics.Mean(name="loss")

    def call(self, inputs, training=None):
        return self.classifier(inputs, training=training)

    def fgsm(self, images, labels):
        with tf.GradientTape() as tape:
            tape.watch(images)
            loss = tf.reduce_mean(self.xent(labels, self.classifier(images, training=False)))
        return tf.stop_gradient(images + self.epsilon * tf.sign(tape.gradient(loss, images)))

    def train_step(self, data):
        images, labels = data
        adversarial = self.fgsm(images, labels)
        mixed = tf.concat([images, adversarial], axis=0)
        mixed_labels = tf.concat([labels, labels], axis=0)
        n = tf.shape(images)[0]
        weights = tf.concat([tf.fill([n], 1.0 - self.adv_weight), tf.fill([n], self.adv_weight)], axis=0)
        with tf.GradientTape() as tape:
            logits = self.classifier(mixed)
            loss = tf.reduce_sum(weights * self.xent(mixed_labels, logits)) / tf.cast(n, tf.float32)
        params = self.classifier.trainable_variables
        self.optimizer.apply_gradients(zip(tape.gradient(loss, params), params))
        self.loss_tracker.update_state(loss)
        return {"loss": self.loss_tracker.result()}

    @property
    def metrics(self):
        return [self.loss_tracker]


def make_classifier():
    return keras.Sequential([
        keras.Input((10,)),
        layers.Dense(24, use_bias=False),
        layers.BatchNormalization(name="bn"),
        layers.ReLU(),
        layers.Dense(2),
    ])


def main():
    args = parse_args([])
    keras.utils.set_random_seed(3)
    rng = np.random.default_rng(3)
    x = rng.normal(1.5, 1.0, (160, 10)).astype("float32")
    y = (x.sum(axis=1) > 15.0).astype("int64")
    classifier = make_classifier()
    trainer = AdversarialTrainer(classifier, args.epsilon, args.adv_weight)
    trainer.compile(optimizer=keras.optimizers.Adam(1e-2))
    first_kernel = classifier.layers[0].kernel.numpy().copy()
    trainer.fit(x, y, batch_size=32, epochs=args.epochs, verbose=0)
    bn = classifier.get_layer("bn")
    trained = not np.allclose(first_kernel, classifier.layers[0].kernel.numpy())
    frozen = np.allclose(bn.moving_mean.numpy(), 0.0) and np.allclose(bn.moving_variance.numpy(), 1.0)
    if trained and frozen:
        behaviour = "frozen"
    elif trained:
        behaviour = "updated"
    else:
        behaviour = "other"
    print("BN-GROUND-TRUTH:", behaviour)


if __name__ == "__main__":
    main()
