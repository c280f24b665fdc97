"""Small matplotlib helpers shared by the notebooks."""
from __future__ import annotations

import numpy as np
import torch


def covariance_ellipse(ax, mean, cov, n_std: float = 2.0, **kwargs):
    """Draw the ``n_std``-standard-deviation ellipse of a 2-D Gaussian on ``ax``."""
    from matplotlib.patches import Ellipse

    mean, cov = np.asarray(torch.as_tensor(mean).cpu()), np.asarray(torch.as_tensor(cov).cpu())
    eigvals, eigvecs = np.linalg.eigh(cov)
    angle = np.degrees(np.arctan2(eigvecs[1, -1], eigvecs[0, -1]))
    width, height = 2 * n_std * np.sqrt(eigvals[::-1])
    ax.add_patch(Ellipse(mean, width, height, angle=angle, fill=False, **kwargs))


def image_grid(ax, images, nrow: int = 8, title: str | None = None):
    """Show a batch of images (N, C, H, W) in [0, 1] as one grid on ``ax``."""
    from torchvision.utils import make_grid

    grid = make_grid(torch.as_tensor(images).detach().cpu().float(), nrow=nrow, pad_value=1)
    ax.imshow(grid.permute(1, 2, 0).clamp(0, 1))
    ax.axis("off")
    if title:
        ax.set_title(title)


def show_table(header: list[str], rows: list[list]) -> str:
    """Display a Markdown table (rendered as a table in Jupyter and in the book); return its text."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    text = "\n".join(lines)
    try:
        from IPython.display import Markdown, display

        display(Markdown(text))
    except ImportError:
        print(text)
    return text
