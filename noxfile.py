"""Developer sessions: `nox -s test`, `demo`, `lint`, `typecheck`, `bench`.

Every session installs all six packages (editable) into one reusable environment, so a second run
starts fast: the install is skipped while no pyproject.toml or constraints file has changed.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import nox

nox.options.default_venv_backend = "venv"
nox.options.reuse_existing_virtualenvs = True
nox.options.sessions = ["test"]

ROOT = Path(__file__).parent
PACKAGES = ["gp-world", "gp-render", "gp-agents", "gp-distill", "gp-adapt", "gp-eval"]
CONSTRAINTS = ROOT / "constraints" / f"py{sys.version_info.major}.{sys.version_info.minor}.txt"
DEV_TOOLS = ["ruff>=0.6", "mypy>=1.10", "tyro>=0.8", "nox"]


def _install_workspace(session: nox.Session) -> None:
    """Install every package editable with its test extra, plus the dev tools, once per change."""
    inputs = sorted(ROOT.glob("packages/*/pyproject.toml"))
    if CONSTRAINTS.exists():
        inputs.append(CONSTRAINTS)
    digest = hashlib.sha256(b"".join(p.read_bytes() for p in inputs)).hexdigest()
    stamp = Path(session.virtualenv.location) / ".gp-workspace-stamp"
    if stamp.exists() and stamp.read_text() == digest:
        session.log("workspace already installed (pyproject files unchanged)")
        return
    args = ["--disable-pip-version-check"]
    if CONSTRAINTS.exists():
        args += ["-c", str(CONSTRAINTS)]
    for name in PACKAGES:
        args += ["-e", f"packages/{name}[test]"]
    session.install(*args, *DEV_TOOLS)
    stamp.write_text(digest)


@nox.session(reuse_venv=True)
def test(session: nox.Session) -> None:
    """Run every package's tests; pytest arguments go after `--` (e.g. `-- -k dynamics --all`)."""
    _install_workspace(session)
    # pytest exits 5 when no test was collected, which nox reports as a failure.
    session.run("python", "-m", "pytest", *session.posargs)


@nox.session(reuse_venv=True)
def demo(session: nox.Session) -> None:
    """The main job end to end on the embedded default (procedural towns, no downloads)."""
    _install_workspace(session)
    session.run("python", "scripts/demo.py", *session.posargs)


@nox.session(reuse_venv=True)
def lint(session: nox.Session) -> None:
    """ruff check + ruff format --check over packages, scripts and this file."""
    _install_workspace(session)
    targets = ["packages", "scripts", "noxfile.py", "conftest.py"]
    session.run("ruff", "check", *targets)
    session.run("ruff", "format", "--check", *targets)


@nox.session(reuse_venv=True)
def typecheck(session: nox.Session) -> None:
    """mypy over every package's sources and the scripts (lenient settings in the root
    pyproject.toml)."""
    _install_workspace(session)
    sources = [str(p) for p in sorted(ROOT.glob("packages/*/src/*")) if p.is_dir()]
    session.run("mypy", *sources)
    session.run("mypy", "scripts")


@nox.session(reuse_venv=True)
def bench(session: nox.Session) -> None:
    """CPU benchmarks: JSON lines on stdout, a Markdown table on stderr.

    Runs every subcommand of scripts/bench.py with `--preset cpu`; pass a subcommand and options
    after `--` to run one (e.g. `nox -s bench -- render --preset cpu`).
    """
    _install_workspace(session)
    if session.posargs:
        session.run("python", "scripts/bench.py", *session.posargs)
        return
    for sub in ("world", "render", "teacher", "dagger"):
        session.run("python", "scripts/bench.py", sub, "--preset", "cpu")
