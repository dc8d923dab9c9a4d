"""Checks of the book's build set-up: repository URL, Colab install cells, the Pages workflow, and
the chapters as the book build executed them.

The repository URL lives in one place, ``repository.url`` in ``_config.yml``. Jupyter Book derives
every launch link from it (``tests/test_rendered_book.py`` checks them on the built pages); the
install cell of each chapter is typed into the notebook, so it is checked against the config here.

Tests marked ``built_book`` read what ``jupyter-book build`` wrote under ``_build/``: ``make test``
runs them after the build. The book build executes every chapter once (``execute_notebooks:
force``) and fails on any error; ``test_checked_outputs_match_the_committed_notebook`` then does
what ``pytest --nbval-lax`` would do, with nbval's own stream merging, sanitising and output
comparison, on the executed copies in ``_build/jupyter_execute/`` instead of running every chapter
a second time.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

yaml = pytest.importorskip("yaml")
nbformat = pytest.importorskip("nbformat")

REPO = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((REPO / "chapters").glob("[0-9][0-9]_*.ipynb"))
EXECUTED = REPO / "_build" / "jupyter_execute"
WORKFLOW = REPO / ".github" / "workflows" / "book.yml"
REQUIRE_BUILT = os.environ.get("JETGEOM_REQUIRE_RENDERED", "") == "1"
COLAB_GUARD = '"google.colab" in sys.modules'
PIP_INSTALL = re.compile(r"""["']pip["']\s*,\s*["']install["']|^\s*[!%]pip\s+install|pip\.main""", re.MULTILINE)


def _config() -> dict:
    return yaml.safe_load((REPO / "_config.yml").read_text())


def _repository() -> tuple[str, str]:
    """(owner/name, branch) from _config.yml."""
    repository = _config()["repository"]
    match = re.fullmatch(r"https://github\.com/([\w.-]+/[\w.-]+?)/?", repository["url"])
    assert match, f"_config.yml repository.url {repository['url']!r} is not https://github.com/OWNER/NAME"
    return match.group(1), repository["branch"]


def _code_cells(notebook) -> list:
    return [cell for cell in notebook.cells if cell.cell_type == "code"]


def _toc_files() -> set[str]:
    toc = yaml.safe_load((REPO / "_toc.yml").read_text())
    files = {toc["root"]}

    def walk(entries):
        for entry in entries or []:
            if "file" in entry:
                files.add(re.sub(r"\.(md|ipynb)$", "", entry["file"]))
            walk(entry.get("sections"))
            walk(entry.get("chapters"))

    for key in ("parts", "chapters", "sections"):
        walk(toc.get(key))
    return files


# -------------------------------------------------------------------------------- repository URL


def test_there_are_chapters():
    assert CHAPTERS, "no chapters/NN_name.ipynb found"


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda path: path.stem)
def test_install_cell_uses_the_configured_repository(chapter):
    """Exactly one Colab-only install cell, the first code cell, installing from _config.yml's URL."""
    repository, branch = _repository()
    expected = f"jetgeom-lite @ git+https://github.com/{repository}@{branch}"
    cells = _code_cells(nbformat.read(chapter, as_version=4))
    installing = [index for index, cell in enumerate(cells) if PIP_INSTALL.search(cell.source)]
    assert installing == [0], (f"{chapter.name}: the install must be the first code cell and the only one "
                               f"(found in code cells {installing})")
    source = cells[0].source
    assert COLAB_GUARD in source, f"{chapter.name}: the install cell must run only on Colab ({COLAB_GUARD})"
    specs = re.findall(r"[\"'](jetgeom-lite @ [^\"']+)[\"']", source)
    assert specs == [expected], f"{chapter.name}: installs {specs}, expected [{expected!r}] (from _config.yml)"
    # Colab's torch, numpy and ipywidgets must stay as they are: pip gets the helper and nothing else.
    command = re.search(r"subprocess\.run\(\s*\[(.*?)\]", source, re.DOTALL)
    assert command, f"{chapter.name}: the install cell should call subprocess.run([sys.executable, '-m', 'pip', ...])"
    arguments = re.findall(r"[\"']([^\"']+)[\"']", command.group(1))
    assert arguments[:3] == ["-m", "pip", "install"], f"{chapter.name}: expected `python -m pip install`"
    assert [argument for argument in arguments[3:] if argument not in ("-q", "--quiet")] == [expected], (
        f"{chapter.name}: the install cell must install only the helper, without upgrading anything; "
        f"it passes {arguments} to pip")


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda path: path.stem)
def test_chapter_carries_colab_metadata(chapter):
    """Colab reads its notebook settings from this block; every chapter has the same one."""
    metadata = json.loads(chapter.read_text())["metadata"]
    assert "colab" in metadata, f"{chapter.name} lacks the 'colab' metadata block the other chapters have"
    assert metadata.get("kernelspec", {}).get("name") == "python3"


def _files_that_mention_the_repository() -> list[Path]:
    files = [REPO / name for name in ("README.md", "CONTRIBUTING.md", "_config.yml")]
    files += sorted((REPO / "book").glob("*.md")) + CHAPTERS
    return [path for path in files if path.exists()]


def test_every_github_and_colab_link_points_at_the_configured_repository():
    repository, branch = _repository()
    github = re.compile(r"github\.com/([\w.-]+/[\w.-]+?)(?:\.git)?(?=[/@\"'\s)#]|$)")
    colab = re.compile(r"colab\.research\.google\.com/github/([\w.-]+/[\w.-]+)/blob/([\w.-]+)/([\w./-]+\.ipynb)")
    found = 0
    for path in _files_that_mention_the_repository():
        text = path.read_text()
        for match in github.finditer(text):
            if text[max(0, match.start() - 30):match.start()].endswith("colab.research.google.com/"):
                continue
            found += 1
            assert match.group(1) == repository, (
                f"{path.relative_to(REPO)} links to github.com/{match.group(1)}; _config.yml says {repository}")
        for match in colab.finditer(text):
            assert match.group(1) == repository and match.group(2) == branch, (
                f"{path.relative_to(REPO)}: Colab link {match.group(0)} does not match _config.yml")
            assert (REPO / match.group(3)).is_file(), f"{path.relative_to(REPO)}: Colab link to a missing notebook"
    assert found, "no file names the repository (the chapters' install cells should)"


def test_every_chapter_is_in_the_table_of_contents():
    """The build only reads files in _toc.yml (only_build_toc_files), so a chapter left out is never built."""
    listed = _toc_files()
    missing = [chapter.name for chapter in CHAPTERS if f"chapters/{chapter.stem}" not in listed]
    assert not missing, f"chapters not in _toc.yml (never built or tested): {missing}"


def test_build_excludes_what_is_not_a_page():
    """A virtual environment in the clone must never be read as book pages (issue: 204 warnings)."""
    config = _config()
    assert config.get("only_build_toc_files") is True
    patterns = config.get("exclude_patterns", [])
    for pattern in (".venv", "venv", "**/site-packages", "_build"):
        assert pattern in patterns, f"_config.yml exclude_patterns lacks {pattern!r}"
    ignored = (REPO / ".gitignore").read_text().split()
    assert ".venv/" in ignored and "_build/" in ignored


# -------------------------------------------------------------------------------- Pages workflow


def _workflow() -> dict:
    assert WORKFLOW.is_file(), f"{WORKFLOW.relative_to(REPO)} is missing"
    return yaml.safe_load(WORKFLOW.read_text())


def test_pages_workflow_builds_with_make_book_and_deploys():
    workflow = _workflow()
    # YAML 1.1 reads the key `on` as the boolean True.
    triggers = workflow.get("on", workflow.get(True))
    assert triggers["push"]["branches"] == ["main"]
    assert workflow["permissions"]["pages"] == "write" and workflow["permissions"]["id-token"] == "write"
    build, deploy = workflow["jobs"]["build"], workflow["jobs"]["deploy"]
    steps = build["steps"]
    uses = [step.get("uses", "") for step in steps]
    runs = [step.get("run", "").strip() for step in steps]
    assert any(use.startswith("actions/checkout@") for use in uses)
    python = [step for step in steps if step.get("uses", "").startswith("actions/setup-python@")]
    assert python and str(python[0]["with"]["python-version"]) == "3.11"
    assert "make book" in runs, "the workflow must build with the README's command, `make book`"
    upload = [step for step in steps if step.get("uses", "").startswith("actions/upload-pages-artifact@")]
    assert upload and upload[0]["with"]["path"] == "_build/html"
    assert deploy["needs"] == "build"
    assert any(step.get("uses", "").startswith("actions/deploy-pages@") for step in deploy["steps"])
    assert deploy["environment"]["name"] == "github-pages"
    # The torch the workflow pre-installs is the one `make install` would install.
    makefile_torch = re.search(r"^TORCH_VERSION \?= (\S+)$", (REPO / "Makefile").read_text(), re.MULTILINE)
    workflow_torch = re.findall(r"torch==([\w.]+)", WORKFLOW.read_text())
    assert makefile_torch and workflow_torch == [makefile_torch.group(1)]


def test_pages_workflow_matches_the_github_actions_schema():
    pytest.importorskip("check_jsonschema", reason="check-jsonschema is in the test extra: pip install -e '.[test]'")
    result = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows", str(WORKFLOW)],
        capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


# --------------------------------------------------------------------- chapters as the build ran them

# nbval 0.11 skips these keys when it compares outputs (IPyNbFile.skip_compare without --nbdime).
NBVAL_SKIP_COMPARE = ("metadata", "traceback", "prompt_number", "output_type", "name", "execution_count",
                      "application/vnd.jupyter.widget-view+json", "image/png", "image/jpeg")


class _NbvalComparison:
    """Just enough of an nbval cell to call nbval's own ``compare_outputs`` and ``sanitize``."""

    def __init__(self):
        from nbval import plugin

        self.parent = SimpleNamespace(skip_compare=NBVAL_SKIP_COMPARE, sanitize_patterns={})
        self.colors = plugin.nocolors
        self.comparison_traceback: list[str] = []
        self._plugin = plugin
        # nbval asks pytest's hook for a diff; without one it prints both outputs in full.
        self.config = None
        self.ihook = SimpleNamespace(pytest_assertrepr_compare=lambda **_: [])

    def options(self, cell) -> dict:
        """nbval's options of a cell: metadata tags, then comment markers (comments win)."""
        options = dict(self._plugin.find_metadata_tags(cell.metadata))
        options.update(dict(self._plugin.find_comment_markers(cell.source)))
        return options

    def same_outputs(self, executed: list, committed: list) -> bool:
        coalesce = self._plugin.coalesce_streams
        return self._plugin.IPyNbCell.compare_outputs(self, coalesce(executed), coalesce(committed))

    def sanitize(self, text):
        return self._plugin.IPyNbCell.sanitize(self, text)

    def format_output_compare(self, key, left, right):
        return self._plugin.IPyNbCell.format_output_compare(self, key, left, right)


def _executed_copy(chapter: Path) -> Path:
    executed = EXECUTED / "chapters" / chapter.name
    if not executed.is_file():
        message = f"{executed.relative_to(REPO)} not found: build the book first (`jupyter-book build .`)"
        if REQUIRE_BUILT:
            pytest.fail(message)
        pytest.skip(message + " (set JETGEOM_REQUIRE_RENDERED=1 to make this a failure)")
    assert executed.stat().st_mtime >= chapter.stat().st_mtime, (
        f"{executed.relative_to(REPO)} is older than {chapter.relative_to(REPO)}: rebuild the book")
    return executed


@pytest.mark.built_book
@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda path: path.stem)
def test_checked_outputs_match_the_committed_notebook(chapter):
    """nbval in lax mode, on the copy the book build executed: `# NBVAL_CHECK_OUTPUT` cells must
    print what the committed notebook shows, and no cell may have raised."""
    pytest.importorskip("nbval")
    committed = _code_cells(nbformat.read(chapter, as_version=4))
    executed = _code_cells(nbformat.read(_executed_copy(chapter), as_version=4))
    assert [cell.source for cell in executed] == [cell.source for cell in committed], (
        f"the executed copy of {chapter.name} has other code than the committed notebook: rebuild the book")
    nbval = _NbvalComparison()
    checked = 0
    for number, (reference, ran) in enumerate(zip(committed, executed)):
        options = nbval.options(reference)
        if options.get("skip"):
            continue
        errors = [output for output in ran.outputs if output.output_type == "error"]
        assert not errors or options.get("check_exception"), (
            f"{chapter.name} cell {number} raised {errors[0].ename}: {errors[0].evalue}")
        if reference.execution_count is None:
            assert not reference.outputs, f"{chapter.name} cell {number}: unrun reference cell has outputs"
            continue
        if options.get("check"):
            checked += 1
            nbval.comparison_traceback = []
            assert nbval.same_outputs(ran.outputs, reference.outputs), (
                f"{chapter.name} cell {number} (# NBVAL_CHECK_OUTPUT) prints something else than the "
                f"committed notebook:\n" + "\n".join(map(str, nbval.comparison_traceback))
                + f"\n--- cell source:\n{reference.source}")
    print(f"{chapter.name}: {checked} checked cells agree")


def test_nbval_comparison_catches_a_changed_number():
    """The comparison above is nbval's: a changed digit in a checked cell fails, a hidden PNG does not."""
    pytest.importorskip("nbval")
    stream = nbformat.v4.new_output("stream", name="stdout", text="EMD = 12.34 GeV\n")
    changed = nbformat.v4.new_output("stream", name="stdout", text="EMD = 12.35 GeV\n")
    split = [nbformat.v4.new_output("stream", name="stdout", text="EMD = 12."),
             nbformat.v4.new_output("stream", name="stdout", text="34 GeV\n")]
    figure_a = nbformat.v4.new_output("display_data", data={"image/png": "AAAA", "text/plain": "<Figure>"})
    figure_b = nbformat.v4.new_output("display_data", data={"image/png": "BBBB", "text/plain": "<Figure>"})
    nbval = _NbvalComparison()
    assert nbval.same_outputs([stream, figure_a], [stream, figure_b])
    assert nbval.same_outputs(split, [nbformat.v4.new_output("stream", name="stdout", text="EMD = 12.34 GeV\n")])
    assert not nbval.same_outputs([changed], [nbformat.v4.new_output("stream", name="stdout", text="EMD = 12.34 GeV\n")])
    assert not nbval.same_outputs([], [stream])
    cell = nbformat.v4.new_code_cell("# NBVAL_CHECK_OUTPUT\nprint(1)")
    assert nbval.options(cell) == {"check": True}
    assert nbval.options(nbformat.v4.new_code_cell("print(1)")) == {}


# ------------------------------------------------------------------------------- the two commands


def _dry_run(target: str) -> list[str]:
    result = subprocess.run(["make", "-n", "--no-print-directory", target], cwd=REPO, capture_output=True,
                            text=True, timeout=60, env={**os.environ, "MAKEFLAGS": ""})
    assert result.returncode == 0, result.stderr
    return [line.strip() for line in result.stdout.splitlines() if "jupyter-book build" in line]


def test_make_book_builds_exactly_as_make_test_does():
    """`make test` runs the README's other command, `make book`, with warnings as errors: CI's green
    `make test` then stands for `make book` too (and the Pages workflow runs `make book`)."""
    if subprocess.run(["make", "--version"], capture_output=True).returncode != 0:
        pytest.skip("make is not installed")
    book, test = _dry_run("book"), _dry_run("test")
    assert len(book) == 1 and len(test) == 1, (book, test)
    assert "--all" in book[0].split(), "make book must re-read every page, so that every chapter is executed"
    assert test[0] == book[0] + " -W --keep-going", (book, test)
