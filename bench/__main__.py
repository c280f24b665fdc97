"""`python -m bench [engine] [vae] [ssvae] [flows]`: run the named benchmarks (all by default) and print their tables."""

import contextlib
import io
import sys

import torch

from bench import engine, flows, ssvae, vae

names = sys.argv[1:] or ["engine", "vae", "ssvae", "flows"]
print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
if "engine" in names:
    with contextlib.redirect_stdout(io.StringIO()):  # the engine's per-epoch lines
        rows = engine.run()
    print(
        "\n| loop | seconds per epoch (20k MNIST, batch 100) | ratio to plain loop |\n|---|---|---|"
    )
    for r in rows:
        print(
            f"| {r['loop']} | {r['seconds_per_epoch']:.3f} | {r['ratio_to_plain']:.3f} |"
        )
if "vae" in names:
    r = vae.run()
    print(
        f"\nVAE (784-500-20, batch 100, Adam) on MNIST, {r['epochs']} epochs, {r['device']}, {r['threads']} threads"
    )
    print(
        "| loop | seconds per epoch | test bound after training (nats) |\n|---|---|---|"
    )
    print(
        f"| lec16 (train_vae, Batches, fit) | {r['lec16_seconds_per_epoch']:.2f} | {r['lec16_test_bound']:.2f} |"
    )
    print(
        f"| plain PyTorch loop | {r['plain_seconds_per_epoch']:.2f} | {r['plain_test_bound']:.2f} |"
    )
    print(
        f"ratio lec16 / plain: {r['ratio']:.3f}; lec16 reaches {r['achieved_gflops']:.1f} GFLOP/s, "
        f"{100 * r['achieved_gflops'] / r['matmul_gflops']:.0f}% of a 2048^2 float32 matmul ({r['matmul_gflops']:.1f} GFLOP/s)"
    )
if "ssvae" in names:
    r = ssvae.run()
    print(
        f"\nM2 (784-500-50, 10 classes, batch 100 + 100 labelled, Adam) on MNIST, "
        f"{r['device']}, {r['threads']} threads; Pyro {r['pyro_version']}"
    )
    print("| M2 step | seconds per epoch (47,000 unlabelled digits) |\n|---|---|")
    print(
        f"| lec16 (ssvae.objective, one batched pass) | {r['lec16_seconds_per_epoch']:.1f} |"
    )
    print(
        f"| Pyro (SVI, TraceEnum_ELBO, parallel enumeration, aux loss) | "
        f"{r['pyro_seconds_per_epoch']:.1f} |"
    )
    print(f"speed-up of lec16 over Pyro: {r['speedup']:.2f}x")
if "flows" in names:
    with contextlib.redirect_stdout(io.StringIO()):
        r = flows.run()
    print(
        f"\nPlanar flows fitted to U1 (batch {r['batch']}, Adam, annealed free energy), "
        f"{r['device']}, {r['threads']} threads; normflows {r['normflows_version']}"
    )
    print(
        "| K | lec16 ms per step | normflows ms per step | speed-up |\n|---|---|---|---|"
    )
    for row in r["rows"]:
        print(
            f"| {row['k']} | {row['lec16_ms']:.2f} | {row['normflows_ms']:.2f} | "
            f"{row['speedup']:.2f}x |"
        )
