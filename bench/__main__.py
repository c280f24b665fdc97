import contextlib
import io
import sys

import torch

from bench import engine

print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
with contextlib.redirect_stdout(io.StringIO()):  # the engine's per-epoch lines
    rows = engine.run()
print("| loop | seconds per epoch (20k MNIST, batch 100) | ratio to plain loop |")
print("|---|---|---|")
for r in rows:
    print(f"| {r['loop']} | {r['seconds_per_epoch']:.3f} | {r['ratio_to_plain']:.3f} |")
sys.exit(0)
