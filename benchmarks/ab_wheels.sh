#!/usr/bin/env bash
# Host time of several builds of mykernels, side by side on one machine:
#   ROUNDS=3 bash benchmarks/ab_wheels.sh WHEEL_A WHEEL_B ... > ab.txt
# Installs each wheel in turn (no dependencies: the installed torch stays) with this tree's
# python/mykernels/bench.py copied over its own, so that every build is timed by the same code, and
# runs benchmarks/call_path.py with it; ROUNDS rounds (3 by default), the wheels alternating, so
# that a drift of the machine's speed falls on every build alike. Compare a build's ratios to
# torch's op round by round. The last wheel stays installed.
set -euo pipefail
export PIP_BREAK_SYSTEM_PACKAGES=1
root=$(cd "$(dirname "$0")/.." && pwd)
install() {
  python3 -m pip install -q --no-deps --force-reinstall "$1" > /dev/null
  cp "$root/python/mykernels/bench.py" "$(cd /tmp && python3 -c 'import mykernels.bench as b; print(b.__file__)')"
}
for round in $(seq 1 "${ROUNDS:-3}"); do
  for wheel in "$@"; do
    install "$wheel"
    echo "== $wheel round $round"
    (cd /tmp && python3 "$root/benchmarks/call_path.py")
  done
done
