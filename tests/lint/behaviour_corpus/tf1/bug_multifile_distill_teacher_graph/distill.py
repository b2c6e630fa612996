"""Knowledge distillation stage: restores the trained teacher and fits the student to its soft targets."""
import tensorflow.compat.v1 as tf

from models import build_model


def soft_cross_entropy(student_logits, teacher_logits, temperature):
    targets = tf.stop_gradient(tf.nn.softmax(teacher_logits / temperature))
    log_probs = tf.nn.log_softmax(student_logits / temperature)
    return -tf.reduce_mean(tf.reduce_sum(targets * log_probs, axis=1)) * temperature ** 2


def build_distill_graph(cfg):
    images = tf.placeholder(tf.float32, [None, cfg["num_features"]], name="images")
    is_training = tf.placeholder_with_default(False, [], name="is_training")
    teacher_logits = build_model("teacher", images)
    student_logits = build_model("student", images, is_training)
    loss = soft_cross_entropy(student_logits, teacher_logits, cfg["temperature"])
    update_ops = tf.get_collection(tf.GraphKeys.UPDATE_OPS)
    with tf.control_dependencies(update_ops):
        train_op = tf.train.AdamOptimizer(cfg["lr"]).minimize(
            loss, var_list=tf.trainable_variables("student"))
    return {"images": images, "is_training": is_training, "loss": loss, "train_op": train_op,
            "teacher_saver": tf.train.Saver(tf.global_variables("teacher"))}


def run_distillation(cfg, teacher_ckpt, batches):
    graph = tf.Graph()
    with graph.as_default():
        tf.set_random_seed(cfg["seed"])
        g = build_distill_graph(cfg)
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            g["teacher_saver"].restore(sess, teacher_ckpt)
            for xs in batches:
                _, loss = sess.run([g["train_op"], g["loss"]], {g["images"]: xs, g["is_training"]: True})
            print(f"distill loss {loss:.4f}")
            return {v.op.name: sess.run(v) for v in tf.global_variables() if "moving_mean" in v.op.name}
