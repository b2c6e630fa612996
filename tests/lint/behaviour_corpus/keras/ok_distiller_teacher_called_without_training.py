"""Keras 3 knowledge distillation (keras.io recipe) with the teacher called as self.teacher(x) in
train_step - no training argument. A pretrained teacher should run BatchNormalization in
inference mode, and that is what the default does: its moving statistics stay exactly as
pretrained while the student (called with training=True) updates its own."""
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from keras import layers  # noqa: E402


def make_net(width, name):
    inputs = keras.Input((6,))
    x = layers.Dense(width, use_bias=False)(inputs)
    x = layers.BatchNormalization(name=f"{name}_bn")(x)
    x = layers.ReLU()(x)
    return keras.Model(inputs, layers.Dense(3)(x), name=name)


class Distiller(keras.Model):
    def __init__(self, student, teacher, temperature=3.0, alpha=0.3):
        super().__init__()
        self.student = student
        self.teacher = teacher
        self.temperature = temperature
        self.alpha = alpha
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.ce = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        self.kl = keras.losses.KLDivergence()

    @property
    def metrics(self):
        return [self.loss_tracker]

    def train_step(self, data):
        x, y = data
        teacher_logits = self.teacher(x)
        with tf.GradientTape() as tape:
            student_logits = self.student(x, training=True)
            t = self.temperature
            loss = (self.alpha * self.ce(y, student_logits)
                    + (1 - self.alpha) * self.kl(tf.nn.softmax(teacher_logits / t),
                                                 tf.nn.softmax(student_logits / t)) * t ** 2)
        grads = tape.gradient(loss, self.student.trainable_variables)
        self.optimizer.apply_gradients(zip(grads, self.student.trainable_variables))
        self.loss_tracker.update_state(loss)
        return {"loss": self.loss_tracker.result()}

    def call(self, x):
        return self.student(x)


def main():
    rng = np.random.default_rng(0)
    x = rng.normal(1, 1, (64, 6)).astype("float32")
    y = rng.integers(0, 3, 64)
    teacher = make_net(16, "teacher")
    teacher.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    teacher.fit(x, y, batch_size=16, epochs=2, verbose=0)  # stands in for the pretrained teacher
    pretrained = np.array(teacher.get_layer("teacher_bn").moving_mean)
    student = make_net(4, "student")
    distiller = Distiller(student, teacher)
    distiller.compile(optimizer="adam")
    distiller.fit(rng.normal(4, 2, (64, 6)).astype("float32"), y, batch_size=16, epochs=2, verbose=0)
    teacher_same = np.allclose(np.array(teacher.get_layer("teacher_bn").moving_mean), pretrained)
    student_moved = not np.allclose(np.array(student.get_layer("student_bn").moving_mean), 0)
    print("BN-GROUND-TRUTH:", "teacher-frozen-by-design-student-updated" if teacher_same and student_moved
          else "contaminated")


if __name__ == "__main__":
    main()
