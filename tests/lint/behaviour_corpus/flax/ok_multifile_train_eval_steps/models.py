"""Model definitions."""
import flax.linen as nn


class ConvNet(nn.Module):
    num_classes: int = 3

    @nn.compact
    def __call__(self, x, training: bool):
        x = nn.Conv(6, (3, 3))(x)
        x = nn.BatchNorm(use_running_average=not training, momentum=0.9, name="bn")(x)
        x = nn.relu(x).mean(axis=(1, 2))
        return nn.Dense(self.num_classes)(x)
