#!/usr/bin/env bash
# Run every chapter in a Colab-like environment (issue 13): the Python Colab runs, its preinstalled
# packages at Colab's versions, then the package installed exactly as the chapters' install cell
# installs it (from this checkout instead of GitHub), then nbval (lax) on every chapter, on an
# empty jet cache as on a fresh Colab runtime.
#
# Colab, late 2026 (REFERENCE.md section 7): Python 3.13, numpy 2 (2.5), torch 2.13 preinstalled,
# matplotlib 3.11, pandas 3.1, ipywidgets 7.7.1. The install cell must not touch any of them: the
# script fails when the package install changes one.
#
# Usage: bash scripts/colab_like.sh        (or `make colab-check`)
#   COLAB_CHAPTERS="chapters/01_jets.ipynb"   only these chapters (default: chapters/*.ipynb)
#   COLAB_LIKE_DIR=...                        where the venv and the jet cache go (default _build/colab_like)
# Needs git, network to PyPI (torch for Python 3.13 is PyPI's CUDA build, about 3 GB with its
# libraries; it runs on the CPU here) and a Python 3.13 or 3.12 (pyenv's are found too).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
REPO=$PWD
WORK=${COLAB_LIKE_DIR:-$REPO/_build/colab_like}
VENV=$WORK/venv
LOGS=$WORK/logs
# Colab's preinstalled packages that the chapters use, at Colab's versions.
PREINSTALLED=("torch==2.13.0" "numpy==2.5.*" "matplotlib==3.11.*" "pandas==3.1.*" "ipywidgets==7.7.1"
              "scipy" "ipykernel" "tqdm" "joblib" "h5py" "platformdirs" "filelock" "arviz")
# The test runner (Colab has Jupyter; nbval drives a kernel like Colab's frontend does).
TOOLS=("pytest>=7" "nbval>=0.11")
WATCHED=(torch numpy matplotlib pandas ipywidgets)
SECONDS=0
say() { printf 'colab-like [%4d s] %s\n' "$SECONDS" "$*"; }

# ---------------------------------------------------------------- the Python Colab runs
find_python() {
  local version candidate
  for version in 3.13 3.12; do
    for candidate in "python$version" /root/.pyenv/versions/"$version".*/bin/"python$version" \
                     /usr/bin/"python$version" /usr/local/bin/"python$version"; do
      if "$candidate" -c "import venv, ensurepip" >/dev/null 2>&1; then
        echo "$candidate"
        return 0
      fi
    done
  done
  return 1
}
if PYTHON=$(find_python); then
  version=$("$PYTHON" -c 'import platform; print(platform.python_version())')
  [[ $version == 3.13.* ]] || say "NOTE: no Python 3.13 here; using $version (Colab runs 3.13)"
else
  PYTHON=python3
  version=$("$PYTHON" -c 'import platform; print(platform.python_version())')
  say "DEVIATION: neither Python 3.13 nor 3.12 found; using $PYTHON $version (Colab runs 3.13)"
fi

# ---------------------------------------------------------------- preinstalled set
mkdir -p "$WORK" "$LOGS"
if [ -x "$VENV/bin/python" ] && [ "$("$VENV/bin/python" -c 'import platform; print(platform.python_version())')" = "$version" ]; then
  say "reusing $VENV (rm -r it for a fresh one)"
else
  rm -rf "$VENV"
  say "venv with $PYTHON ($version) at $VENV"
  "$PYTHON" -m venv "$VENV"
fi
# pip's status survives the filter (pipefail); the filter drops this machine's notes on its local indexes.
pip() { "$VENV/bin/python" -m pip "$@" 2>&1 | { grep -v "^WARNING: Location" || true; }; }
say "Colab's preinstalled set: ${PREINSTALLED[*]}"
pip install --quiet --prefer-binary "${PREINSTALLED[@]}"
pip freeze | grep -i -E "^($(IFS='|'; echo "${WATCHED[*]}"))==" > "$WORK/preinstalled.txt"
say "test runner (constrained to the preinstalled versions): ${TOOLS[*]}"
pip install --quiet --prefer-binary -c "$WORK/preinstalled.txt" "${TOOLS[@]}"

# ---------------------------------------------------------------- the install cell, from this checkout
spec=$("$VENV/bin/python" - "$REPO" <<'PY'
import json, re, sys
from pathlib import Path
chapter = sorted(Path(sys.argv[1], "chapters").glob("[0-9][0-9]_*.ipynb"))[0]
source = ""
for cell in json.loads(chapter.read_text())["cells"]:
    text = "".join(cell["source"])
    if cell["cell_type"] == "code" and "google.colab" in text:
        source = text
        break
match = re.search(r"[\"'](jetgeom-lite @ git\+https://\S+?@[\w.-]+)[\"']", source)
if not match:
    sys.exit(f"no `jetgeom-lite @ git+https://...@branch` install in the Colab cell of {chapter.name}")
print(match.group(1))
PY
)
commit=$(git -C "$REPO" rev-parse HEAD)
local_spec=$(echo "$spec" | sed -E "s#git\+https://[^@]+@[A-Za-z0-9._-]+#git+file://$REPO@$commit#")
say "install cell: pip install -q \"$spec\""
say "here:         pip install -q \"$local_spec\""
if [ -n "$(git -C "$REPO" status --porcelain --untracked-files=no -- jetgeom_lite pyproject.toml)" ]; then
  say "NOTE: jetgeom_lite/ or pyproject.toml has uncommitted changes; Colab installs commits, so they are not tested"
fi
# A fresh runtime has no jetgeom-lite; a reused venv must not keep the one of an older commit.
pip uninstall -y -q jetgeom-lite >/dev/null 2>&1 || true
pip install -q "$local_spec"
pip freeze | grep -i -E "^($(IFS='|'; echo "${WATCHED[*]}"))==" > "$WORK/after_install.txt"
if ! diff -u "$WORK/preinstalled.txt" "$WORK/after_install.txt"; then
  say "FAIL: installing the package changed Colab's preinstalled packages (above)"
  exit 1
fi
say "the install left torch, numpy, matplotlib, pandas and ipywidgets as they were"

(cd /tmp && "$VENV/bin/python" - <<'PY')
import platform, jetgeom_lite, numpy, torch, ipywidgets, matplotlib, pandas
print(f"colab-like versions: Python {platform.python_version()}, numpy {numpy.__version__}, "
      f"torch {torch.__version__}, ipywidgets {ipywidgets.__version__}, matplotlib {matplotlib.__version__}, "
      f"pandas {pandas.__version__}, jetgeom_lite {jetgeom_lite.__version__}")
assert "site-packages" in jetgeom_lite.__file__, jetgeom_lite.__file__
PY

# ---------------------------------------------------------------- every chapter, as on a fresh runtime
# Colab has no JETGEOM_DATA: the package uses the user cache folder, emptied here first.
export XDG_CACHE_HOME=$WORK/cache
rm -rf "$XDG_CACHE_HOME"
unset JETGEOM_DATA JETGEOM_FULL_SIZE MPLBACKEND
read -r -a chapters <<< "${COLAB_CHAPTERS:-$(ls chapters/[0-9][0-9]_*.ipynb | tr '\n' ' ')}"
failed=()
summary=()
for chapter in "${chapters[@]}"; do
  name=$(basename "$chapter" .ipynb)
  say "nbval-lax $chapter"
  start=$SECONDS
  if "$VENV/bin/python" -m pytest --nbval-lax --nbval-current-env -p no:cacheprovider -q "$chapter" \
       > "$LOGS/$name.log" 2>&1; then
    result=passed
  else
    result=FAILED
    failed+=("$name")
    tail -n 60 "$LOGS/$name.log"
  fi
  summary+=("$(printf '%-32s %-6s %4d s  %s' "$name" "$result" $((SECONDS - start)) "$(tail -n 1 "$LOGS/$name.log")")")
done
say "per chapter (logs in ${LOGS#"$REPO"/}):"
printf '  %s\n' "${summary[@]}"
if [ ${#failed[@]} -gt 0 ]; then
  say "FAILED: ${failed[*]}"
  exit 1
fi
say "every chapter passed in the Colab-like environment"
