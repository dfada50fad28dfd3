#!/usr/bin/env bash
# Install carepath and run it: for now, the reference pathway simulated with a moving clock
# (one patient of each stratum and each red-flag route), printing every step.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/carepath validate bpmn/betterback
exec .venv/bin/carepath simulate "$@"
