"""Deployment artefacts: TorchScript via tracing."""
import os

import torch


def export_torchscript(model, example_inputs, out_dir, name="model.ts"):
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, name)
    with torch.no_grad():
        traced = torch.jit.trace(model, example_inputs)
    traced.save(path)
    return path
