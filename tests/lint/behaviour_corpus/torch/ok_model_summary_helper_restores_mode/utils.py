"""Small helpers shared by train.py and the notebooks."""
import torch


def model_summary(model, input_shape):
    """Print a layer table (output shape, #params) with one dummy forward pass."""
    rows, handles = [], []

    def record(module, _inp, out):
        n_params = sum(p.numel() for p in module.parameters(recurse=False))
        rows.append(f"{module.__class__.__name__:<14}{str(tuple(out.shape)):<12}{n_params:>8}")

    for module in model.modules():
        if not list(module.children()):
            handles.append(module.register_forward_hook(record))
    was_training = model.training
    model.eval()  # a single dummy sample: BatchNorm refuses batch size 1 in training mode
    with torch.no_grad():
        model(torch.zeros(1, *input_shape))
    model.train(was_training)
    for h in handles:
        h.remove()
    total = sum(p.numel() for p in model.parameters())
    return "\n".join(rows + [f"total params: {total}"])


def make_loader(seed, n_batches, batch_size, in_features, num_classes, shift=0.0):
    g = torch.Generator().manual_seed(seed)
    batches = []
    for _ in range(n_batches):
        x = torch.randn(batch_size, in_features, generator=g) * 2.0 + 1.5 + shift
        y = (x[:, 0] > 1.5).long() % num_classes
        batches.append((x, y))
    return batches
