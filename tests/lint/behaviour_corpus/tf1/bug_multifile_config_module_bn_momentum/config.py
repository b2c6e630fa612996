"""Hyper-parameters, ported from the reference PyTorch repository's config/defaults.py."""
SEED = 0
NUM_FEATURES = 4
HIDDEN = 16
NUM_CLASSES = 2
BATCH_SIZE = 32
LEARNING_RATE = 1e-3
TRAIN_STEPS = 40

# BatchNorm settings of the reference implementation (nn.BatchNorm1d(momentum=0.1, eps=1e-5)).
BN_MOMENTUM = 0.1
BN_EPS = 1e-5
