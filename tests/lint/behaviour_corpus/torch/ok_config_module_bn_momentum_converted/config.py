"""Hyper-parameters of the reference (TensorFlow) implementation this port follows."""
IMAGE_SIZE = 8
IN_CHANNELS = 3
WIDTHS = (6, 8)
NUM_CLASSES = 4

BATCH_NORM_MOMENTUM = 1 - 0.99  # TF decay 0.99 -> PyTorch momentum
BATCH_NORM_EPSILON = 1e-3

LEARNING_RATE = 0.01
STEPS = 5
BATCH_SIZE = 8
