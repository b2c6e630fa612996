"""Default hyper-parameters (ported from the PyTorch reference implementation)."""
import types


def get_config():
    config = types.SimpleNamespace()
    config.model = "ResNetTiny"
    config.num_classes = 5
    config.learning_rate = 0.05
    config.momentum = 0.9
    config.batch_size = 16
    config.num_epochs = 2
    config.steps_per_epoch = 6
    config.seed = 0
    # BatchNorm settings, as in the reference code.
    config.bn_momentum = 1.0 - 0.1  # reference uses PyTorch momentum=0.1; Flax weighs the old average
    config.bn_epsilon = 1e-5
    return config
