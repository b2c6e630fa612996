"""Integrated-gradients saliency for the sensor model (per-channel/time attributions)."""
import torch


def integrated_gradients(model, inputs, target, steps=16):
    # cuDNN's RNN backward only runs in training mode, so switch before taking input gradients
    model.train()
    baseline = torch.zeros_like(inputs)
    total = torch.zeros_like(inputs)
    for alpha in torch.linspace(0.0, 1.0, steps):
        point = (baseline + alpha * (inputs - baseline)).requires_grad_(True)
        score = model(point).gather(1, target[:, None]).sum()
        (grad,) = torch.autograd.grad(score, point)
        total += grad
    model.eval()
    return (inputs - baseline) * total / steps
