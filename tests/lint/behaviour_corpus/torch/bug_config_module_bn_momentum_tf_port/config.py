"""Hyper-parameters of the reference (TensorFlow) implementation this port follows."""
IMAGE_SIZE = 8
IN_CHANNELS = 3
WIDTHS = (6, 8)
NUM_CLASSES = 4

BATCH_NORM_MOMENTUM = 0.99
BATCH_NORM_EPSILON = 1e-3

LEARNING_RATE = 0.01
STEPS = 5
BATCH_SIZE = 8
