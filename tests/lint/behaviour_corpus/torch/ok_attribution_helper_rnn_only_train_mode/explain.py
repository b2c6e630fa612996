"""Integrated-gradients saliency for the sensor model (per-channel/time attributions)."""
import torch
from torch import nn


def integrated_gradients(model, inputs, target, steps=16):
    # cuDNN's RNN backward only runs in training mode: keep the model in eval and switch
    # only the recurrent layers (no BatchNorm/Dropout inside them) to training mode
    model.eval()
    for module in model.modules():
        if isinstance(module, nn.RNNBase):
            module.train()
    baseline = torch.zeros_like(inputs)
    total = torch.zeros_like(inputs)
    for alpha in torch.linspace(0.0, 1.0, steps):
        point = (baseline + alpha * (inputs - baseline)).requires_grad_(True)
        score = model(point).gather(1, target[:, None]).sum()
        (grad,) = torch.autograd.grad(score, point)
        total += grad
    model.eval()
    return (inputs - baseline) * total / steps
