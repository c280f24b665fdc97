"""Project wiring: the pins agree everywhere, CI runs the README's test command."""

import ast
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


def _calls(tree: ast.AST) -> set[str]:
    """The names of the methods called in a syntax tree (``x.backward()`` -> ``backward``)."""
    return {
        node.func.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
    }


def test_no_trainer_writes_its_own_optimizer_step():
    """One optimizer step for every trainer and notebook: lec16.train.optimizer_step, the only
    function that calls ``backward`` or ``zero_grad``. (The plain reference loops of the
    benchmarks stay plain on purpose, so bench/ is not searched.)"""
    import json

    trees = {}
    for path in (ROOT / "lec16").rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef) and node.name == "optimizer_step":
                node.body = []  # the one place allowed
        trees[path.name] = tree
    for nb in (ROOT / "notebooks").glob("*.ipynb"):
        cells = json.loads(nb.read_text())["cells"]
        code = "\n".join(
            "".join(c["source"]) for c in cells if c["cell_type"] == "code"
        )
        lines = [
            line for line in code.splitlines() if not line.lstrip().startswith("%")
        ]
        trees[nb.name] = ast.parse("\n".join(lines))
    assert len(trees) > 30
    for name, tree in trees.items():
        own = _calls(tree) & {"backward", "zero_grad"}
        assert not own, (
            f"{name} writes its own optimizer step ({own}); use lec16.train.optimizer_step"
        )
