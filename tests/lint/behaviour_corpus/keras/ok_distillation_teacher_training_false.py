"""Knowledge distillation: the frozen teacher runs with training=False, the student with training=True."""
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402


def convnet(name):
    return keras.Sequential([keras.Input((6,)), keras.layers.Dense(8), keras.layers.BatchNormalization(),
                             keras.layers.ReLU(), keras.layers.Dense(3)], name=name)


class Distiller(keras.Model):
    def __init__(self, student, teacher, temperature=2.0):
        super().__init__()
        self.student, self.teacher, self.temperature = student, teacher, temperature

    def train_step(self, data):
        x, y = data
        teacher_logits = self.teacher(x, training=False)
        with tf.GradientTape() as tape:
            student_logits = self.student(x, training=True)
            hard = keras.losses.sparse_categorical_crossentropy(y, student_logits, from_logits=True)
            soft = keras.losses.kl_divergence(tf.nn.softmax(teacher_logits / self.temperature),
                                              tf.nn.softmax(student_logits / self.temperature))
            loss = tf.reduce_mean(hard) + tf.reduce_mean(soft)
        grads = tape.gradient(loss, self.student.trainable_variables)
        self.optimizer.apply_gradients(zip(grads, self.student.trainable_variables))
        return {"loss": loss}


if __name__ == "__main__":
    rng = np.random.default_rng(0)
    teacher, student = convnet("teacher"), convnet("student")
    teacher.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    x, y = rng.normal(1, 1, (32, 6)).astype("float32"), rng.integers(0, 3, 32)
    teacher.fit(x, y, epochs=1, batch_size=16, verbose=0)
    t_before = np.array(teacher.layers[1].moving_mean)
    s_before = np.array(student.layers[1].moving_mean)
    distiller = Distiller(student, teacher)
    distiller.compile(optimizer=keras.optimizers.Adam(1e-3))
    distiller.fit(x, y, epochs=1, batch_size=16, verbose=0)
    teacher_kept = np.allclose(t_before, teacher.layers[1].moving_mean)
    student_updated = not np.allclose(s_before, student.layers[1].moving_mean)
    print("BN-GROUND-TRUTH:", "updated" if teacher_kept and student_updated else "broken")
