import io

import torch


def save_checkpoint(module, fh):
    torch.save({"state_dict": module.state_dict()}, fh)


def load_checkpoint(module, fh):
    module.load_state_dict(torch.load(fh)["state_dict"])
    return module


def fake_pretraining(backbone, images):
    """Pretend SSL pretraining: only gathers source-domain BN statistics, then checkpoints."""
    backbone.train()
    with torch.no_grad():
        for x in images:
            backbone(x)
    buf = io.BytesIO()
    save_checkpoint(backbone, buf)
    buf.seek(0)
    return buf
