"""Benchmarks: `python -m bench` (or `make bench`) runs them all and prints a table."""

import statistics
import time
from collections.abc import Callable, Mapping

import torch


def clock(device: torch.device) -> float:
    """``time.perf_counter()`` once the device has finished its queued work: CUDA runs
    asynchronously, so a timer read without ``torch.cuda.synchronize()`` measures only the launches."""
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter()


def interleaved_medians(
    loops: Mapping[str, Callable[[], None]], repeats: int, device: torch.device
) -> dict[str, float]:
    """Median seconds of one call of each loop: one warm-up call each, then ``repeats`` rounds in
    which the loops take turns, so a drift of the machine's speed hits every loop alike."""
    for loop in loops.values():
        loop()
    times = {name: [] for name in loops}
    for _ in range(repeats):
        for name, loop in loops.items():
            tic = clock(device)
            loop()
            times[name].append(clock(device) - tic)
    return {name: statistics.median(t) for name, t in times.items()}
