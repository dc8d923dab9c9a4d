#!/usr/bin/env bash
# The independent EMD reference: jetgeom_lite.emd against energyflow (which uses wasserstein).
#
# energyflow pulls wasserstein, which needs numpy < 2 and has no wheel for Python 3.13, so it can
# not live in the book's environment. This script makes a small separate virtual environment with
# only what the cross-check needs (no torch, no Pythia: jetgeom_lite.emd imports neither), puts the
# checkout on PYTHONPATH instead of installing the package, and runs the energyflow tests of
# tests/test_emd.py there, where they must run and pass, not skip.
#
# Usage: bash scripts/energyflow_check.sh   (or `make energyflow-check`)
# Where the environment cannot be made (no Python >= 3.11 with venv, no package index), it says
# why and exits 0: the check is skipped, loudly, not failed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
REPO=$PWD
VENV=${ENERGYFLOW_VENV:-$REPO/_build/energyflow-venv}
PYTHON=${PYTHON:-python3}
# What the cross-check imports: tests/test_emd.py (numpy, scipy, POT, pytest), energyflow.
REQUIREMENTS=("numpy<2" "scipy>=1.10" "pot>=0.9.4" "energyflow>=1.3" "wasserstein" "pytest>=7")
SELECT=${ENERGYFLOW_TESTS:-energyflow}

skip() {
  echo "energyflow-check: SKIPPED: $*"
  exit 0
}

start=$SECONDS
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c "import energyflow, wasserstein, ot, scipy, pytest" 2>/dev/null; then
  echo "energyflow-check: making $VENV with: ${REQUIREMENTS[*]}"
  rm -rf "$VENV"
  "$PYTHON" -m venv "$VENV" || skip "'$PYTHON -m venv' failed (install python3-venv)"
  if ! "$VENV/bin/python" -m pip install --quiet --prefer-binary "${REQUIREMENTS[@]}"; then
    rm -rf "$VENV"
    skip "pip could not install ${REQUIREMENTS[*]} (no package index reachable, or no wheel for $("$PYTHON" --version))"
  fi
fi
"$VENV/bin/python" - <<'PY'
import sys, numpy, energyflow, wasserstein, ot
print(f"energyflow-check: Python {sys.version.split()[0]}, numpy {numpy.__version__}, "
      f"energyflow {energyflow.__version__}, wasserstein {wasserstein.__version__}, POT {ot.__version__}")
PY
echo "energyflow-check: PYTHONPATH=$REPO pytest tests/test_emd.py -k $SELECT"
report=$(mktemp)
trap 'rm -f "$report"' EXIT
set +e
PYTHONPATH=$REPO "$VENV/bin/python" -m pytest tests/test_emd.py -k "$SELECT" \
  -p no:cacheprovider -q -rs --junitxml="$report"
status=$?
set -e
if [ "$status" = 5 ]; then
  echo "energyflow-check: WARNING: no test of tests/test_emd.py matches -k $SELECT; the cross-check ran nothing"
  exit 0
fi
[ "$status" = 0 ] || exit "$status"
# In this environment energyflow is importable: a skipped cross-check here is a broken check.
"$VENV/bin/python" - "$report" <<'PY'
import sys
import xml.etree.ElementTree as ET
suite = ET.parse(sys.argv[1]).getroot()
suite = suite if suite.tag == "testsuite" else suite.find("testsuite")
tests, skipped = int(suite.get("tests")), int(suite.get("skipped"))
if skipped:
    sys.exit(f"energyflow-check: {skipped} of {tests} energyflow tests skipped although energyflow is installed")
print(f"energyflow-check: {tests} energyflow cross-checks ran and passed")
PY
echo "energyflow-check: done in $((SECONDS - start)) s"
