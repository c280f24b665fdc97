"""Every notebook: the companion's conventions (one chapter = one slug: its notebook, its experiment
module and its metrics share it; no number that depends on the scale is chosen in the notebook), and
papermill's override of the parameters cell. The notebooks' own runs at smoke scale, whose asserts
are the chapters' checks, are nbval's (``make test``)."""

import base64
import json
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
IDS = [nb.stem for nb in NOTEBOOKS]


def _cells(path):
    nb = json.loads(path.read_text())
    return [c for c in nb["cells"] if c["cell_type"] == "code"]


def _source(cell):
    return (
        "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
    )


def test_there_are_notebooks():
    assert NOTEBOOKS, "no notebooks under notebooks/"


def test_every_notebook_is_in_the_table_of_contents():
    toc = (ROOT / "_toc.yml").read_text()
    for nb in NOTEBOOKS:
        assert f"notebooks/{nb.stem}" in toc, (
            f"{nb.name} is not in _toc.yml, so the book would lose it"
        )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_colab_setup_cell_installs_lec16_from_the_repository(path):
    repo = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"][
        "url"
    ].rstrip("/")
    first = _source(_cells(path)[0])
    assert re.search(r"try:\s+import lec16\s+except ImportError:", first), (
        "first code cell must try `import lec16`"
    )
    assert f'%pip install -q "lec16 @ git+{repo}"' in first, (
        f"set-up cell must install lec16 from {repo}"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_parameters_and_checked_cells(path):
    cells = _cells(path)
    params = [c for c in cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(params) == 1, "exactly one cell tagged `parameters`"
    assert re.search(
        r"^scale = lec16\.default_scale\(\)", _source(params[0]), re.MULTILINE
    ), "parameters set `scale`"
    checked = [
        c
        for c in cells
        if "nbval-check-output" in c.get("metadata", {}).get("tags", [])
    ]
    assert checked, "at least one cell tagged `nbval-check-output`"
    assert not any("NBVAL" in _source(c) for c in cells), (
        "nbval markers are cell tags (`nbval-check-output`), never comments the book shows"
    )
    for cell in checked:
        assert cell.get("outputs"), (
            "a checked cell must have committed output to compare"
        )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_committed_outputs_come_from_one_clean_run(path):
    cells = _cells(path)
    counts = [c.get("execution_count") for c in cells]
    assert counts == list(range(1, len(cells) + 1)), (
        f"execution counts {counts}: rerun top to bottom"
    )
    for cell in cells:
        for out in cell.get("outputs", []):
            assert out["output_type"] != "error", (
                f"error output in a committed cell: {out.get('ename')}"
            )
            assert not (
                out["output_type"] == "stream"
                and out["name"] == "stderr"
                and "Traceback" in out["text"]
            )
    scale_lines = [
        o
        for c in cells
        for o in c.get("outputs", [])
        if "scale=" in "".join(o.get("text", ""))
    ]
    assert not scale_lines or "scale=default" in "".join(scale_lines[0]["text"]), (
        "committed at default scale"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_outputs_and_figures_fit_the_book_column(path):
    """Printed lines fit 88 columns; figures are drawn at the column width (lec16.plots) with
    fonts of 9 pt and up, so the book never shrinks them (the browser test measures it too)."""
    from lec16 import plots

    for cell in _cells(path):
        for out in cell.get("outputs", []):
            text = "".join(out.get("text", "")) or "".join(
                out.get("data", {}).get("text/plain", "")
                if "text/html" not in out.get("data", {})
                else ""
            )
            long = [line for line in text.splitlines() if len(line) > 88]
            assert not long, f"printed lines over 88 columns: {long[:2]}"
            png = out.get("data", {}).get("image/png")
            if png:
                width = int.from_bytes(base64.b64decode(png)[16:20], "big")
                assert width <= plots.MAX_FIGURE_PX + 1, (
                    f"a {width} px figure is wider than the column: "
                    "use lec16.plots.subplots, or split it"
                )
        source = _source(cell)
        for size in re.findall(r"fontsize=(\d+(?:\.\d+)?)", source):
            assert float(size) >= plots.MIN_FONT_POINTS, f"fontsize={size} is too small"
        assert not re.search(r"\bdpi=", source), "the figure style sets the dpi"


# --- One chapter, one slug --------------------------------------------------------------------


def slug(path):
    """A chapter's slug: its file name without the number that orders the book
    (``05_vae_mnist`` -> ``vae_mnist``)."""
    return re.sub(r"^\d+_", "", path.stem)


def test_notebook_files_sort_in_reading_order():
    """The files' numbers are the table of contents' order, 00, 01, ... without gaps."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [
        c["file"]
        for part in toc["parts"]
        for c in part["chapters"]
        if c["file"].startswith("notebooks/")
    ]
    assert files == [f"notebooks/{nb.stem}" for nb in NOTEBOOKS]
    assert [int(nb.stem[:2]) for nb in NOTEBOOKS] == list(range(len(NOTEBOOKS)))


def test_every_sidebar_part_holds_at_least_two_pages():
    """A part with one page is a heading over a link: merge it with its neighbour."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    single = [part["caption"] for part in toc["parts"] if len(part["chapters"]) < 2]
    assert not single, f"parts with a single page: {single}"


def test_every_chapter_has_its_experiment_module():
    from lec16 import experiments

    assert sorted(experiments.discover()) == sorted(slug(nb) for nb in NOTEBOOKS)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_the_scale_chooses_numbers_only_in_the_experiment(path):
    for cell in _cells(path):
        assert "choose(" not in _source(cell), (
            "a number chosen by scale belongs in the chapter's experiment Setup"
        )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_the_notebook_uses_its_experiment_and_records_its_metrics_under_its_slug(path):
    text = "".join(_source(c) for c in _cells(path))
    assert re.search(rf"from lec16\.experiments import {slug(path)}\b", text)
    assert re.search(rf'(record\(|record_metrics\()\s*"{slug(path)}"', text), (
        f"{path.name} must record its metrics under {slug(path)!r}"
    )


@pytest.mark.notebooks
def test_papermill_overrides_the_parameters_cell(tmp_path, monkeypatch):
    """What an instructor's CI or a paper-scale run does: papermill injects ``scale`` (here
    against an environment asking for another scale) and the notebook records it."""
    import papermill

    monkeypatch.setenv("LEC16_SCALE", "paper")
    monkeypatch.setenv("LEC16_METRICS_DIR", str(tmp_path / "metrics"))
    monkeypatch.setenv("LEC16_CHECKPOINTS", str(tmp_path / "checkpoints"))
    monkeypatch.setenv("MPLBACKEND", "agg")
    quickstart = NOTEBOOKS[0]
    papermill.execute_notebook(
        str(quickstart),
        str(tmp_path / quickstart.name),
        parameters={"scale": "smoke"},
        cwd=str(quickstart.parent),
        progress_bar=False,
        kernel_name="python3",
    )
    metrics = json.loads(
        (tmp_path / "metrics" / f"{slug(quickstart)}.json").read_text()
    )
    assert metrics["scale"] == "smoke"
