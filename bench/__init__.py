"""Benchmarks: `python -m bench` (or `make bench`) runs them all and prints a table."""

import time

import torch


def clock(device: torch.device) -> float:
    """``time.perf_counter()`` once the device has finished its queued work: CUDA runs
    asynchronously, so a timer read without ``torch.cuda.synchronize()`` measures only the launches."""
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter()
