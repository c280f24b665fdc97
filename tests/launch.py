"""The command that starts ``python`` on one process, or on several under torchrun (PyTorch's
launcher, a free port on this machine): tests/test_distributed.py and tests/test_cli.py."""

import sys


def python_on(processes: int) -> list[str]:
    """``python`` for one process; ``python -m torch.distributed.run --standalone
    --nproc_per_node N`` for several."""
    if processes == 1:
        return [sys.executable]
    return [sys.executable, "-m", "torch.distributed.run", "--standalone"] + [
        "--nproc_per_node",
        str(processes),
    ]
