"""Worker for the 2-process recalibration test (imported by spawned processes)."""
from __future__ import annotations

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from _recal_models import SmallNet, make_batches

VARIANTS = ("plain", "batch-average", "syncbn", "ddp")
N_BATCHES = 7  # odd on purpose: the ranks get 4 and 3 batches


def build(variant: str) -> nn.Module:
    torch.manual_seed(0)
    model = SmallNet()
    if variant == "syncbn":
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    return model


def buffers(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in model.state_dict().items()
            if k.endswith(("running_mean", "running_var", "num_batches_tracked"))}


def run(rank: int, world: int, init_file: str, out_dir: str) -> None:
    from bnguard.torch import recalibrate

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    try:
        shard = make_batches(n_batches=N_BATCHES, offset=1000.0, non_iid=True)[rank::world]
        out = {}
        for variant in VARIANTS:
            model = build(variant)
            target = DistributedDataParallel(model) if variant == "ddp" else model
            estimator = "batch-average" if variant == "batch-average" else "population"
            report = recalibrate(target, shard, estimator=estimator, progress=False)
            out[variant] = {"buffers": buffers(model), "batches": report.meta["batches"],
                            "ok": report.ok, "world": report.meta["world_size"],
                            "training": [m.training for m in model.modules()]}
        torch.save(out, f"{out_dir}/rank{rank}.pt")
    finally:
        dist.destroy_process_group()
