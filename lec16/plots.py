"""Small matplotlib helpers shared by the notebooks, and the book's one figure style."""

from __future__ import annotations

import html

import numpy as np
import torch

__all__ = [
    "use_book_style",
    "subplots",
    "covariance_ellipse",
    "image_grid",
    "show_table",
    "animation",
]

COLUMN_INCHES = 6.9
"""The width of every figure; with the saved margins (:data:`PAD_INCHES` each side) it is drawn at
:data:`MAX_FIGURE_PX`, inside the book's text column (716 px in a 1280 px window), so no figure
is shrunk and its fonts stay at the size set here."""
DPI = 100
PAD_INCHES = 0.05
MAX_FIGURE_PX = round((COLUMN_INCHES + 2 * PAD_INCHES) * DPI)
MIN_FONT_POINTS = 9
BOOK_STYLE = {
    "figure.dpi": DPI,
    "savefig.dpi": DPI,
    "savefig.pad_inches": PAD_INCHES,
    "figure.figsize": (COLUMN_INCHES, 3.0),
    "figure.constrained_layout.use": True,
    "font.size": 10,
    "axes.titlesize": 10,
    "axes.labelsize": 10,
    "xtick.labelsize": MIN_FONT_POINTS,
    "ytick.labelsize": MIN_FONT_POINTS,
    "legend.fontsize": MIN_FONT_POINTS,
    "legend.framealpha": 0.9,
    "image.interpolation": "nearest",
}
"""Sizes for the column: every text at least 9 pt at the size the book shows it."""


def use_book_style() -> None:
    """Apply :data:`BOOK_STYLE` to matplotlib (each notebook calls it once, with its imports)."""
    import matplotlib as mpl

    mpl.rcParams.update(BOOK_STYLE)


def subplots(nrows: int = 1, ncols: int = 1, height: float = 3.0, **kwargs):
    """``plt.subplots`` at the column's width and ``height`` inches: wide grids are split into
    rows by the caller rather than squeezed."""
    import matplotlib.pyplot as plt

    if height > 2.5 * COLUMN_INCHES:
        raise ValueError(
            f"height={height} inches is taller than a page; split the figure"
        )
    return plt.subplots(nrows, ncols, figsize=(COLUMN_INCHES, height), **kwargs)


def covariance_ellipse(ax, mean, cov, n_std: float = 2.0, **kwargs):
    """Draw the ``n_std``-standard-deviation ellipse of a 2-D Gaussian on ``ax``."""
    from matplotlib.patches import Ellipse

    mean, cov = (
        np.asarray(torch.as_tensor(mean).cpu()),
        np.asarray(torch.as_tensor(cov).cpu()),
    )
    eigvals, eigvecs = np.linalg.eigh(cov)
    angle = np.degrees(np.arctan2(eigvecs[1, -1], eigvecs[0, -1]))
    width, height = 2 * n_std * np.sqrt(eigvals[::-1])
    ax.add_patch(Ellipse(mean, width, height, angle=angle, fill=False, **kwargs))


def image_grid(ax, images, nrow: int = 8, title: str | None = None):
    """Show a batch of images (N, C, H, W) in [0, 1] as one grid on ``ax``."""
    from torchvision.utils import make_grid

    grid = make_grid(
        torch.as_tensor(images).detach().cpu().float(), nrow=nrow, pad_value=1
    )
    ax.imshow(grid.permute(1, 2, 0).clamp(0, 1))
    ax.axis("off")
    if title:
        ax.set_title(title)


def show_table(header: list[str], rows: list[list]) -> None:
    """Display a table: HTML (a real ``<table>`` in Jupyter, Colab and the built book), with the
    Markdown text as the plain-text fallback (terminals, ``print``-only front ends)."""
    cells = lambda row, tag: "".join(
        f"<{tag}>{html.escape(str(c))}</{tag}>" for c in row
    )
    table = (
        "<table>\n<thead><tr>"
        + cells(header, "th")
        + "</tr></thead>\n<tbody>\n"
        + "\n".join("<tr>" + cells(row, "td") + "</tr>" for row in rows)
        + "\n</tbody>\n</table>"
    )
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    text = "\n".join(
        lines + ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    )
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:
        get_ipython = lambda: None
    if get_ipython() is None:  # a plain script
        print(text)
    else:
        display({"text/html": table, "text/plain": text}, raw=True)


def animation(
    fig, draw_frame, n_frames: int, interval: int = 250, embed_limit_mb: float = 3.0
):
    """An embedded JavaScript animation (``matplotlib.animation`` + ``to_jshtml``: frames as PNGs
    with play controls, no ffmpeg) of ``draw_frame(i)`` for i < ``n_frames`` on ``fig``, which is
    closed so that it is not shown a second time. Returns an HTML display object (Jupyter, Colab
    and the built book)."""
    import matplotlib.pyplot as plt
    from IPython.display import HTML
    from matplotlib import animation as mpl_animation

    with plt.rc_context({"animation.embed_limit": embed_limit_mb}):
        movie = mpl_animation.FuncAnimation(
            fig, draw_frame, frames=n_frames, interval=interval
        )
        html = movie.to_jshtml(default_mode="once")
    plt.close(fig)
    return HTML(html)
