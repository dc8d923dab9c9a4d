"""Exit 0 when this checkout is installed editable and every requirement of pyproject.toml is met.

``make install`` runs this first and skips pip when it exits 0, so a second ``make`` costs a
second, not a round of dependency resolution. Usage: ``python3 .ci/requirements_met.py [extra ...]``.
Prints the first unmet requirement and exits 1 otherwise.
"""

from __future__ import annotations

import ast
import json
import sys
import tomllib
from importlib import metadata
from pathlib import Path
from urllib.parse import unquote, urlparse

REPO = Path(__file__).resolve().parents[1]


def source_version() -> str:
    """``jetgeom_lite.__version__`` as written in the source (pyproject reads it from there)."""
    tree = ast.parse((REPO / "jetgeom_lite" / "__init__.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "__version__" for t in node.targets):
            return ast.literal_eval(node.value)
    raise RuntimeError("jetgeom_lite/__init__.py sets no __version__")


def unmet(extras: list[str]) -> str | None:
    try:
        from packaging.requirements import Requirement
    except ImportError:
        return "the 'packaging' module (used to read requirements)"
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    try:
        installed = metadata.distribution(project["name"])
    except metadata.PackageNotFoundError:
        return f"{project['name']} (not installed)"
    direct_url = json.loads(installed.read_text("direct_url.json") or "{}")
    location = Path(unquote(urlparse(direct_url.get("url", "")).path or "/nonexistent"))
    if not direct_url.get("dir_info", {}).get("editable") or location.resolve() != REPO:
        return f"{project['name']} installed editable from {REPO}"
    if installed.version != source_version():
        return f"{project['name']}=={source_version()} (installed: {installed.version})"
    requirements = list(project.get("dependencies", []))
    for extra in extras:
        requirements += project.get("optional-dependencies", {})[extra]
    for line in requirements:
        requirement = Requirement(line)
        if requirement.marker is not None and not requirement.marker.evaluate():
            continue
        try:
            version = metadata.version(requirement.name)
        except metadata.PackageNotFoundError:
            return f"{line} (not installed)"
        if not requirement.specifier.contains(version, prereleases=True):
            return f"{line} (installed: {version})"
    return None


if __name__ == "__main__":
    missing = unmet(sys.argv[1:])
    if missing:
        print(f"needs {missing}")
        sys.exit(1)
    print("every requirement is met")
