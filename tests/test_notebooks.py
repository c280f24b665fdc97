"""Every notebook: the companion's conventions, and a papermill run at smoke scale whose recorded
metrics are checked (each notebook writes its key numbers with lec16.record_metrics)."""

import base64
import json
import math
import os
import re
import time
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
IDS = [nb.stem for nb in NOTEBOOKS]
SESSION_START = time.time()  # metrics files older than this are not this run's


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


# --- papermill at smoke scale, with the metrics each notebook records -------------------------


def _finite(*values):
    return all(isinstance(v, (int, float)) and math.isfinite(v) for v in values)


def check_quickstart(m):
    assert m["scale"] == "smoke"
    assert m["loss"][-1] < m["loss"][0]
    assert (
        m["test_accuracy"] > m["untrained_accuracy"] + 0.3
    )  # the same network before training


def check_em_and_the_bound(m):
    ll = m["log_likelihood"]
    assert all(b >= a - 1e-12 for a, b in zip(ll, ll[1:])), (
        "EM's log-likelihood decreased"
    )
    assert all(
        a - 1e-12 <= b <= c + 1e-12 for a, b, c in zip(ll, m["bound_after_m"], ll[1:])
    )
    assert (
        m["tightness"] < 1e-6
        and m["sklearn_gap"] < 1e-4
        and m["kl_identity_error"] < 1e-9
    )
    assert ll[-1] > ll[0]


def check_exponential_families(m):
    assert m["n_random"] == 5 and len(m["sweep"]) == 3
    for family, n, worst_sup, worst_A in m["sweep"]:
        assert float(worst_sup) < 1e-6 and float(worst_A) < 1e-8, family


def check_mean_field_vb(m):
    assert all(z < 4 for z in m["max_z"].values()), "an estimator is biased"
    v = m["variance"]
    for model in ("conjugate Gaussian", "logistic regression"):
        assert (
            v[f"{model}|reparam|10"]
            < v[f"{model}|score+baseline|10"]
            < v[f"{model}|score|10"]
        )
        # even the short smoke run climbs most of the way from beta = 0
        assert m["final_gap"][f"{model}|reparam|10"] < 0.5 * m["initial_gap"][model]


def check_autoencoders_and_reparametrization(m):
    assert m["ae_loss"][-1] < m["ae_loss"][0]
    v = m["reparam_variance"]  # variance of the bound's estimator for S = 1, 10, 100
    assert v[0] > v[1] > v[2]
    assert (
        m["vae_test_elbo_one_epoch"] > m["vae_untrained_elbo"] + 100
    )  # the same VAE before training


def check_vae_mnist(m):
    assert set(m["test_bound"]) == {"2", "5", "10", "20"}
    for z, bound in m["test_bound"].items():
        assert _finite(bound) and bound > m["untrained_bound"][z] + 100, (
            f"z={z} does not beat its untrained copy"
        )
    assert m["exact_identity_error"] < 1e-3
    assert (
        m["quadrature_vs_sampling"] < 0.5
    )  # importance sampling between L and log p(x)
    assert (
        m["fixed_code_nll"][1] > m["fixed_code_nll"][0]
    )  # a one-pixel shift costs nats


def check_iwae(m):
    means, cis, log_px = m["bound_means"], m["bound_cis"], m["log_px"]
    assert all(
        b + cb >= a - ca for a, b, ca, cb in zip(means, means[1:], cis, cis[1:])
    ), "L_k not monotone"
    assert (
        all(x - c <= log_px for x, c in zip(means, cis))
        and abs(means[-1] - log_px) < 0.05
    )
    assert set(m["nll"]) == {"vae|1", "vae|5", "iwae|5", "vae|50", "iwae|50"}
    assert all(
        _finite(v) and v < m["untrained_nll"] - 100 for v in m["nll"].values()
    ), "no better than untrained"
    for key, lk in m["lk_means"].items():  # L_k, k = 1, 5, 50, 500, 5000, fresh samples
        assert all(b > a for a, b in zip(lk, lk[1:])), (
            f"L_k must rise with k on the trained model {key}: {lk}"
        )
    assert all(_finite(se) and se > 0 for se in m["nll_se"].values())


def check_gan_theory(m):
    assert abs(m["v_star"] - (-math.log(4) + 2 * m["jsd"])) < 1e-8
    assert abs(m["v_equal"] + math.log(4)) < 1e-8
    assert m["d_max_error"] < 0.5 * m["d_half_error"], (
        "the trained D is no closer to D* than D = 1/2"
    )
    assert m["v_net"] - m["v_half"] > 0.5 * (m["v_star"] - m["v_half"])
    assert m["gradient_ratio"] > 10 and m["d_on_fakes"] < 0.05, (
        "the saturating loss's gradient must vanish when D wins"
    )
    assert m["coverage"]["data"][0] == 8, "the mode-coverage metric misses real modes"
    assert (
        m["coverage"]["non-saturating, k=1"][1] > m["coverage"]["untrained G"][1] + 0.2
    ), "the ring GAN is no better than its untrained generator"
    assert m["jsd_final"] < 0.5 * m["jsd_initial"], (
        "the 1-D GAN did not approach p_data"
    )
    assert all(_finite(v) for v in m["loss_d"] + m["loss_g"])


def _assert_beats_untrained(name, run):
    """A generator's mean pixel must be < 1/2 as far from the data's as its untrained copy's."""
    gap, untrained_gap = (
        abs(run[k] - run["real_mean_intensity"])
        for k in ("mean_intensity", "untrained_mean_intensity")
    )
    assert gap < 0.5 * untrained_gap, (
        f"{name}: no better than its untrained generator(s)"
    )


def check_gan_mnist(m):
    assert m["classifier_accuracy"] > 0.97, (
        "the feature classifier should be a good MNIST classifier"
    )
    for data_name, reference in m["references"].items():  # real held-out images
        assert 0 <= reference["frechet"] < 20 and _finite(reference["parzen"]), (
            data_name
        )
    assert all(r > 0.5 for r in m["memorisation"].values()), (
        "samples sit far closer to the training set than held-out digits: memorised"
    )
    for name, run in m["runs"].items():
        assert _finite(run["parzen"], run["frechet"], run["sigma"], run["diversity"]), (
            name
        )
        assert run["real_diversity"] > 5, "real digits are far apart in pixel space"
        _assert_beats_untrained(name, run)


def check_lapgan(m):
    assert m["reconstruction_error"] < 1e-5 and m["linear_error"] < 1e-5, (
        "the pyramid must be exactly invertible"
    )
    assert set(m["losses"]) == {"level0", "level1", "level2"}
    assert all(_finite(*h["loss_d"], *h["loss_g"]) for h in m["losses"].values())
    for name, run in m["metrics"].items():
        assert _finite(run["parzen"], run["frechet"], run["diversity"]), name
        _assert_beats_untrained(name, run)
    assert 0 <= m["reference"]["frechet"] < 20, "real held-out digits must score near 0"
    assert all(_finite(a["frechet"], a["parzen"]) for a in m["ablation"].values())


def check_semi_supervised(m):
    assert all(gap < 1e-12 for gap in m["gaps"].values()), m["gaps"]
    models = ("baseline", "M1 + SVM", "M2", "M1+M2")
    assert {key.split("|")[0] for key in m["errors"]} == set(models)
    assert "|100" in "".join(m["errors"]), "the slide's first row, 100 labels, is run"
    for key, error in m["errors"].items():
        assert _finite(error) and error < m["untrained_error"] - 30, (
            f"{key}: {error} % is no better than the untrained network"
        )
    assert 0 < m["active_dims"] <= 50


def check_normalizing_flows(m):
    assert all(gap < 1e-10 for gap in m["jacobian_gaps"].values()), m["jacobian_gaps"]
    assert m["round_trip"] < 1e-5 and abs(m["change_of_variables_mass"] - 1) < 1e-3
    assert len(m["kl"]) == 16, "U1-U4 x (K = 2, 8, 32, NICE)"
    assert _finite(m["nice_ll"]) and m["nice_ll"] > m["nice_untrained_ll"] + 100
    for key, kl in m["kl"].items():
        assert _finite(kl) and kl < m["initial_kl"][key] - 0.1, (
            f"{key}: the fit did not beat the untrained flow"
        )
    assert m["flow_vae_gap"] < 1e-8
    assert {"K=0", "K=0, sampled KL"} < set(m["flow_vae_bound"])
    for k, bound in m["flow_vae_bound"].items():
        assert _finite(bound) and bound > m["flow_vae_untrained"][k] + 100, k
        assert m["flow_vae_log_lik"][k] >= bound - 1, "L_5000 below the bound"


def check_diffusion(m):
    assert all(m["kernel_checks"].values()) and m["prior_kl"] < 0.05
    assert all(m["bound_agrees"].values())
    assert m["roll_untrained_bits"] + 0.3 < m["roll_bound_bits"] < m["roll_true_bits"]
    mmd = m["roll_mmd"]
    assert mmd["trained model"] < mmd["pi, nothing learned"] / 2, mmd
    bounds = m["mnist_bound_bits_per_pixel"]
    for name in ("paper's (mu, Sigma)", "Ho et al.'s eps"):
        assert (
            _finite(bounds[name]) and bounds[name] > bounds[f"{name}, untrained"] + 0.1
        )
        assert 0 <= m["mnist_confident_share"][name] <= 1
        assert _finite(m["mnist_parzen"][name])
        frechet = m["mnist_frechet"]
        assert frechet[name] < 0.9 * frechet[f"{name}, untrained"], frechet
        agreement = m["inpainting_agreement"]
        assert (
            agreement[f"{name}, inpainted"] > agreement[f"{name}, unconditional"] + 0.2
        ), agreement


def check_boltzmann_machines(m):
    assert all(gap < 1e-12 for gap in m["tiny_gaps"].values()), m["tiny_gaps"]
    assert m["autograd_gap"] < 1e-12 and m["sampled_gap"] < 0.01
    bias = [m["cd_bias"][k] for k in sorted(m["cd_bias"], key=int)]
    assert bias[0] > 0.05 and all(a > b for a, b in zip(bias, bias[1:])), bias
    finest = list(m["small_ais"].values())[-1]  # the most betas and runs
    assert finest[1] <= m["exact_log_z"] <= finest[2] and finest[2] - finest[1] < 1
    assert {"CD-1", "CD-3", "PCD-1"} <= set(m["log_lik"])
    for name, log_lik in m["log_lik"].items():
        assert _finite(log_lik) and log_lik > m["base_log_lik"] + 10, (
            f"{name} is no better than the base-rate model"
        )
        assert m["log_z"][name][0] <= m["log_z"][name][2], name


def check_deep_belief_networks(m):
    assert m["tied_gap"] < 1e-10 and m["bound_below_log_p"] and m["estimate_agrees"]
    assert m["identity_gap"] < 0.01, (
        "a transposed top must give the RBM's log-likelihood"
    )
    assert abs(m["initial_bound"] - m["rbm_log_lik"]) < 0.01
    assert _finite(m["trained_bound"]) and m["trained_bound"] > m["base_bound"] + 5, (
        "the trained top RBM is no better than one that learned only the base rates"
    )
    assert _finite(m["gain"])  # reported, not asserted: within AIS's error at default


def check_deep_boltzmann_machines(m):
    gaps = ("conditional_gap", "log_z_gap", "log_p_gap", "log_z_grad_gap")
    assert all(m[g] < 1e-12 for g in gaps), {g: m[g] for g in gaps}
    assert m["monotone"] and m["kl_gap"] < 1e-10 and m["envelope_gap"] < 1e-10
    low, high = m["small_ais"][1:]
    assert low <= m["small_exact_log_z"] <= high and high - low < 1
    assert m["looseness"]["min"] > -1e-6, "the mean-field bound exceeded log p(v)"
    assert m["identity_gap"] < 1e-3, "a DBM with W2 = 0 must score as its RBM"
    assert _finite(m["dbm_bound"]) and m["dbm_bound"] > m["base_log_lik"] + 10, (
        "the trained DBM is no better than the base-rate model"
    )
    assert m["log_z"]["dbm"][0] <= m["log_z"]["dbm"][2]


def check_mcmc_and_vi(m):
    assert m["det_gap"] < 1e-12 and m["reverse_gap"] < 1e-12 and m["nonlinear"] > 0.01
    assert all(m["agree"].values()) and m["kl_reverse"] > 0
    exact = m["exact"]
    assert exact["T = 0"] < exact["T = 1, exact reverse model"] < m["log_px"]
    runs = [m["hvi"][t] for t in sorted(m["hvi"], key=int)]
    for r in runs:
        assert r["bound"] - r["pm"] <= m["log_px"], "a bound above log p(x)"
        assert r["bound"] > r["untrained"] + r["pm"], "training did not help"
    assert m["log_px"] - runs[-1]["bound"] < 0.5 * (m["log_px"] - runs[0]["bound"])


def check_wake_sleep(m):
    assert m["norm_gap"] < 1e-12 and m["wake_error"] < 0.02 and m["sleep_error"] < 0.02
    assert m["cosine"] < 0.95, "the sleep phase should not follow the ELBO"
    for name, r in m["runs"].items():
        (lk, lk_pm), (elbo, elbo_pm) = r["lk"], r["elbo"]
        assert _finite(lk, elbo) and lk > r["untrained_lk"] + 10, (
            f"{name} is no better than its untrained copy"
        )
        assert lk >= elbo - elbo_pm - lk_pm, name


def check_generative_stochastic_networks(m):
    for noise, r in m["exact_study"].items():
        assert r["exact_tv"] < 1e-12, noise
        assert r["dae_tv"] < r["untrained_tv"] / 3, noise
    start = m["ring_references"]["the uniform starting points"]["on_data"]
    for walkback in ("1", "2"):  # the longer walks are reported, not asserted
        r = m["ring"][walkback]
        assert r["on_data"] > max(start, r["untrained"]["on_data"]) + 0.3, walkback
    for walkback, r in m["mnist"].items():
        reference = r["untrained"]
        assert _finite(r["parzen"]) and r["parzen"] > reference["parzen"] + 50, walkback
        assert r["frechet"] < reference["frechet"], walkback
        assert r["confident"] > reference["confident"] + 0.1, walkback


METRIC_CHECKS = {
    name[len("check_") :]: fn
    for name, fn in globals().items()
    if name.startswith("check_")
}


def slug(path):
    """A chapter's slug: its file name without the number that orders the book (``05_vae_mnist`` ->
    ``vae_mnist``), so that inserting a chapter renames no metrics file and no check."""
    return re.sub(r"^\d+_", "", path.stem)


def test_every_notebook_records_its_metrics_under_its_slug():
    for path in NOTEBOOKS:
        text = "".join(_source(c) for c in _cells(path))
        assert re.search(rf'lec16\.record_metrics\(\s*"{slug(path)}"', text), (
            f"{path.name} must record_metrics under {slug(path)!r}"
        )


def _metrics_left_by_nbval(path):
    """The metrics that nbval's smoke-scale run of this notebook recorded in this session, or
    None. The kernel writes them under LEC16_METRICS_DIR (``make test`` sets it), else under
    the notebook's own ``metrics/`` (nbval runs a notebook in its folder)."""
    directory = os.environ.get("LEC16_METRICS_DIR", path.parent / "metrics")
    file = Path(directory) / f"{slug(path)}.json"
    if not file.exists() or file.stat().st_mtime < SESSION_START:
        return None
    metrics = json.loads(file.read_text())
    return metrics if metrics.get("scale") == "smoke" else None


def _papermill_metrics(path, tmp_path, monkeypatch):
    """Execute the notebook at smoke scale with papermill (its ``parameters`` cell is the one
    papermill overrides) into ``tmp_path``, and return the metrics it recorded."""
    import papermill

    monkeypatch.setenv("LEC16_METRICS_DIR", str(tmp_path / "metrics"))
    monkeypatch.setenv("LEC16_CHECKPOINTS", str(tmp_path / "checkpoints"))
    monkeypatch.setenv("MPLBACKEND", "agg")
    papermill.execute_notebook(
        str(path),
        str(tmp_path / path.name),
        parameters={"scale": "smoke"},
        cwd=str(path.parent),
        progress_bar=False,
        kernel_name="python3",
    )
    return json.loads((tmp_path / "metrics" / f"{slug(path)}.json").read_text())


@pytest.mark.notebooks
@pytest.mark.after_nbval
@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_notebook_records_its_metrics_at_smoke_scale(path, tmp_path, monkeypatch):
    """Each notebook's recorded metrics at smoke scale pass its check_<slug>. Under ``make
    test`` nbval has already executed the notebook at smoke scale in this session (this test
    is ordered after nbval's, tests/conftest.py), so its metrics are read, not recomputed:
    every notebook runs once. Run without nbval, the test executes it with papermill."""
    assert slug(path) in METRIC_CHECKS, (
        f"write check_{slug(path)}() for the metrics {path.name} records"
    )
    metrics = _metrics_left_by_nbval(path)
    if metrics is None:
        metrics = _papermill_metrics(path, tmp_path, monkeypatch)
    METRIC_CHECKS[slug(path)](metrics)


@pytest.mark.notebooks
def test_papermill_overrides_the_parameters_cell(tmp_path, monkeypatch):
    """What an instructor's CI or a paper-scale run does: papermill injects ``scale`` (here
    against an environment asking for another scale) and the notebook records it."""
    monkeypatch.setenv("LEC16_SCALE", "paper")
    quickstart = ROOT / "notebooks" / "00_quickstart.ipynb"
    metrics = _papermill_metrics(quickstart, tmp_path, monkeypatch)
    assert metrics["scale"] == "smoke"
    METRIC_CHECKS[slug(quickstart)](metrics)
