"""`python -m bench [engine] [vae] [dcgan] [ssvae] [flows] [scales]`: run the named benchmarks (all by
default) and print their tables. A run of all of them also writes the tables, with the machine
they ran on, into README.md between the ``<!-- bench:start -->`` and ``<!-- bench:end -->``
markers; ``scales`` (the paper-scale schedules' cost) also goes into the book's scale-planning
page, between ``<!-- scales:start -->`` and ``<!-- scales:end -->``."""

import contextlib
import io
import os
import platform
import sys
import time
from pathlib import Path

import torch

from bench import dcgan, engine, flows, scales, ssvae, vae

ALL = ["engine", "vae", "dcgan", "ssvae", "flows", "scales"]
names = sys.argv[1:] or ALL


class _Tee(io.StringIO):
    """Print as usual and keep a copy for the README."""

    def write(self, text):
        sys.__stdout__.write(text)
        return super().write(text)


def _machine() -> str:
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    gpu = (
        f", GPU {torch.cuda.get_device_name()}"
        if torch.cuda.is_available()
        else ", no GPU"
    )
    return f"{cpu}, {os.cpu_count()} cores{gpu}"


def _blank_lines_around_tables(text: str) -> str:
    """Markdown needs a blank line between a table and the text around it."""
    out = []
    for line in text.strip().splitlines():
        if not line:
            if out and out[-1]:
                out.append(line)
            continue
        if out and out[-1] and (line.startswith("|") != out[-1].startswith("|")):
            out.append("")
        out.append(line)
    return "\n".join(out) + "\n"


copy = _Tee()
stdout, sys.stdout = sys.stdout, copy
print(
    f"{time.strftime('%Y-%m-%d')}: {_machine()}; torch {torch.__version__}, "
    f"{torch.get_num_threads()} threads"
)
if "engine" in names:
    with contextlib.redirect_stdout(io.StringIO()):  # the engine's per-epoch lines
        rows = engine.run()
    print(
        "\n| loop | seconds per epoch (20k MNIST, batch 100; median of 5, interleaved) | ratio to plain loop |\n|---|---|---|"
    )
    for r in rows:
        print(
            f"| {r['loop']} | {r['seconds_per_epoch']:.3f} | {r['ratio_to_plain']:.3f} |"
        )
if "vae" in names:
    r = vae.run()
    print(
        f"\nVAE (784-500-20, batch 100, Adam) on MNIST, {r['epochs']} epochs each "
        f"(medians of {r['repeats']}, interleaved), {r['device']}, {r['threads']} threads"
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
if "dcgan" in names:
    r = dcgan.run()
    print(
        f"\nDCGAN (width {r['width']}, batch 64, Adam 2e-4) on {r['n']} MNIST digits, "
        f"{r['device']}, {r['threads']} threads"
    )
    print("| DCGAN loop | seconds per epoch | ratio |\n|---|---|---|")
    print(f"| lec16 (gan.train_gan) | {r['lec16_seconds']:.2f} | {r['ratio']:.3f} |")
    print(
        f"| pytorch/examples' dcgan loop (in-memory DataLoader) | "
        f"{r['examples_seconds']:.2f} | 1.000 |"
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

if "scales" in names:
    r = scales.run()
    table = [
        f"Paper-scale schedules, {r['device']} ({_machine()}), {r['threads']} threads; "
        f"seconds per step: the median of {r['timed_steps']} steps of each chapter's own "
        "training at its paper sizes (after 5 warm-up steps)",
        "",
        "| chapter: training | paper schedule (runs x epochs x batches) | steps "
        "| seconds per step here | hours here | hours on 8 such devices, ideal |",
        "|---|---|---|---|---|---|",
    ]
    for row in r["rows"]:
        runs = f"{row['runs']} x " if row["runs"] > 1 else ""
        diverged = " (diverged; timed until then)" if row["diverged"] else ""
        table.append(
            f"| {row['name']}{diverged} | {runs}{row['epochs']:,} x {row['batches']:,} "
            f"| {row['steps']:,} | {row['seconds_per_step']:.4f} "
            f"| {row['hours']:,.1f} | {row['hours'] / 8:,.1f} |"
        )
    totals: dict[str, list] = {}  # chapter -> [trainings, hours]
    for row in r["rows"]:
        total = totals.setdefault(row["name"].split(":")[0], [0, 0.0])
        total[0] += row["runs"]
        total[1] += row["hours"]
    table += [
        "",
        "What each `python -m lec16 train SLUG --scale paper` costs, its rows summed:",
        "",
        "| chapter | trainings | hours here | hours on 8 such devices, ideal |",
        "|---|---|---|---|",
    ]
    for name, (runs, hours) in totals.items():
        table.append(f"| {name} | {runs} | {hours:,.1f} | {hours / 8:,.1f} |")
    print("\n" + "\n".join(table))
    page = Path(__file__).resolve().parent.parent / "book" / "scale_planning.md"
    text = page.read_text()
    start, end = "<!-- scales:start -->", "<!-- scales:end -->"
    head, rest = text.split(start, 1)
    date = time.strftime("%Y-%m-%d")
    page.write_text(
        f"{head}{start}\n{date}: "
        + "\n".join(table)
        + f"\n{end}{rest.split(end, 1)[1]}"
    )
    print(f"table written to {page}")

sys.stdout = stdout
if names == ALL:  # a complete run: the README shows it
    readme = Path(__file__).resolve().parent.parent / "README.md"
    text = readme.read_text()
    start, end = "<!-- bench:start -->", "<!-- bench:end -->"
    if start in text and end in text:
        head, rest = text.split(start, 1)
        readme.write_text(
            f"{head}{start}\n{_blank_lines_around_tables(copy.getvalue())}"
            f"{end}{rest.split(end, 1)[1]}"
        )
        print(f"tables written to {readme}")
