"""Project wiring: the pins agree everywhere, CI runs the README's test command."""

import re
from pathlib import Path

import tomllib
import yaml

ROOT = Path(__file__).resolve().parents[1]


def _name(requirement):
    return (
        re.split(r"[<>=!~\[ ;]", requirement, maxsplit=1)[0].lower().replace("_", "-")
    )


def _pins(lines):
    pins = {}
    for line in lines:
        line = line.split("#")[0].strip()
        if "==" in line:
            name, version = line.split("==")
            pins[_name(name)] = version.strip()
    return pins


def test_environment_yml_pins_exactly_the_declared_packages_at_the_constrained_versions():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = {
        _name(r)
        for r in project["dependencies"] + project["optional-dependencies"]["dev"]
    }
    constraints = _pins((ROOT / "constraints.txt").read_text().splitlines())
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    env_pins = _pins(pip_section)
    assert set(env_pins) == declared, (
        f"environment.yml lists {sorted(env_pins)}, pyproject declares {sorted(declared)}"
    )
    for name, version in env_pins.items():
        assert constraints.get(name) == version, (
            f"{name}: environment.yml {version}, constraints.txt {constraints.get(name)}"
        )


def test_constraints_pin_the_torch_that_lies_on_disk():
    constraints = _pins((ROOT / "constraints.txt").read_text().splitlines())
    assert constraints["torch"] == "2.14.1" and constraints["torchvision"] == "0.29.1"


def test_pyproject_declares_ranges_not_pins():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    for requirement in project["dependencies"]:
        assert "==" not in requirement, (
            f"{requirement}: Colab's own torch must satisfy it; pin in constraints.txt"
        )


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in readme
    assert re.search(r"^make test$", ci, re.MULTILINE)


def test_no_trainer_writes_its_own_optimizer_step():
    """One optimizer step for every trainer and notebook: lec16.train.optimizer_step. (The plain
    reference loops of the benchmarks stay plain on purpose, so bench/ is not searched.)"""
    import json

    train_py = (ROOT / "lec16" / "train.py").read_text()
    helper = train_py[
        train_py.index("def optimizer_step") : train_py.index("def warmup")
    ]
    sources = {p.name: p.read_text() for p in (ROOT / "lec16").glob("*.py")}
    sources["train.py"] = train_py.replace(helper, "")
    for nb in (ROOT / "notebooks").glob("*.ipynb"):
        cells = json.loads(nb.read_text())["cells"]
        sources[nb.name] = "\n".join(
            "".join(c["source"]) for c in cells if c["cell_type"] == "code"
        )
    for name, text in sources.items():
        for call in (".zero_grad(", ".backward("):
            assert call not in text, (
                f"{name} writes its own optimizer step ({call}); use lec16.train.optimizer_step"
            )
