"""One reader per checkpoint format. Each returns a `bnguard.checkpoint.tensors.Checkpoint`."""
