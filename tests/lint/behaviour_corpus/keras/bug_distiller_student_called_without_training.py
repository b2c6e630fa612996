"""Knowledge distillation with a Distiller(keras.Model) in the style of the Keras example. The
teacher is queried with training=False (correct, it is frozen), but the student's forward inside
the GradientTape is written `self.student(x)`: in a train_step nothing sets the training mode, so
the student's BatchNormalization runs in inference mode and its moving statistics never move."""
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402


def make_classifier(width, name):
    return keras.Sequential([
        keras.Input((10,)),
        keras.layers.Dense(width, use_bias=False),
        keras.layers.BatchNormalization(),
        keras.layers.ReLU(),
        keras.layers.Dense(4),
    ], name=name)


class Distiller(keras.Model):
    def __init__(self, student, teacher):
        super().__init__()
        self.teacher = teacher
        self.student = student
        self.loss_tracker = keras.metrics.Mean(name="loss")

    def compile(self, optimizer, student_loss_fn, distillation_loss_fn, alpha=0.5, temperature=3.0):
        super().compile(optimizer=optimizer)
        self.student_loss_fn = student_loss_fn
        self.distillation_loss_fn = distillation_loss_fn
        self.alpha = alpha
        self.temperature = temperature

    @property
    def metrics(self):
        return [self.loss_tracker]

    def train_step(self, data):
        x, y = data
        teacher_predictions = self.teacher(x, training=False)
        with tf.GradientTape() as tape:
            student_predictions = self.student(x)
            student_loss = self.student_loss_fn(y, student_predictions)
            distillation_loss = self.distillation_loss_fn(
                tf.nn.softmax(teacher_predictions / self.temperature, axis=1),
                tf.nn.softmax(student_predictions / self.temperature, axis=1),
            ) * self.temperature ** 2
            loss = self.alpha * student_loss + (1 - self.alpha) * distillation_loss
        grads = tape.gradient(loss, self.student.trainable_variables)
        self.optimizer.apply_gradients(zip(grads, self.student.trainable_variables))
        self.loss_tracker.update_state(loss)
        return {"loss": self.loss_tracker.result()}

    def test_step(self, data):
        x, y = data
        self.loss_tracker.update_state(self.student_loss_fn(y, self.student(x, training=False)))
        return {"loss": self.loss_tracker.result()}

    def call(self, x):
        return self.student(x)


def main():
    rng = np.random.default_rng(0)
    x = (rng.normal(size=(96, 10)) + 2.5).astype("float32")
    y = rng.integers(0, 4, size=96)
    teacher = make_classifier(32, "teacher")
    teacher.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    teacher.fit(x, y, batch_size=16, epochs=1, verbose=0)

    student = make_classifier(8, "student")
    distiller = Distiller(student=student, teacher=teacher)
    distiller.compile(optimizer=keras.optimizers.Adam(1e-2),
                      student_loss_fn=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                      distillation_loss_fn=keras.losses.KLDivergence())
    bn = student.layers[1]
    before = bn.moving_mean.numpy().copy()
    distiller.fit(x, y, batch_size=16, epochs=2, verbose=0)
    print("BN-GROUND-TRUTH:", "frozen" if np.allclose(before, bn.moving_mean.numpy()) else "updated")


if __name__ == "__main__":
    main()
