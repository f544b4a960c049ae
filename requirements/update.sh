#!/bin/sh
# Re-lock Yishi's dependencies: today's releases within the bounds of pyproject.toml, with hashes.
#
#   requirements/update.sh                   bump everything (uv pip compile --upgrade)
#   requirements/update.sh -P pytest         bump one package (any `uv pip compile` options replace --upgrade)
#   requirements/update.sh --no-upgrade      only follow a change of pyproject.toml, keep every other pin
#
# test.lock (runtime + test extra + build tools) is resolved first; runtime.lock is the same versions without the
# test extra (constrained by test.lock), so the Docker image ships what CI tested. Needs uv (`pip install uv`).
# Then run .ci/run, which installs test.lock into a brand-new virtual environment, and commit both files.
set -eu
cd "$(dirname "$0")/.."
command -v uv >/dev/null 2>&1 || { echo "update.sh needs uv: python3 -m pip install uv" >&2; exit 1; }
if [ $# -eq 0 ]; then set -- --upgrade; elif [ "$1" = --no-upgrade ]; then shift; fi
# Universal (any OS, Python >= 3.11, with environment markers): CI, the python:3.11 image and developers share it.
lock() {
  uv pip compile --quiet --universal --python-version 3.11 --generate-hashes \
    --custom-compile-command "requirements/update.sh" "$@"
}
lock pyproject.toml requirements/build.in --extra test -o requirements/test.lock "$@"
lock pyproject.toml requirements/build.in -c requirements/test.lock -o requirements/runtime.lock
echo "locked: $(grep -c '^[a-z]' requirements/test.lock) packages in requirements/test.lock," \
  "$(grep -c '^[a-z]' requirements/runtime.lock) in requirements/runtime.lock"
