#!/usr/bin/env bash
# `make test`: set up everything, then unit tests, sanity, lint, the ecosystem checks (tools/ecosystem.sh)
# and the integration tests against the emulated fleet. Every stage runs; the exit status is non-zero if any failed.
# What this run started (fleet, dockerd) is removed at the end.
source "$(dirname "$0")/lib.sh"

passed=0
failed=0
failed_names=()
run_stage() {
  local name=$1; shift
  stage "$name"
  if "$@"; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1)); failed_names+=("$name")
    stage "FAILED: $name"
  fi
}

cleanup() {
  set +e
  if [ "${fleet_started:-0}" = 1 ] && [ -z "${MULTIARCH_KEEP_FLEET:-}" ]; then
    stage "removing the fleet"
    python "$REPO/tests/fleet/fleet.py" down
  fi
  "$REPO/tools/stop-services.sh"
}
trap cleanup EXIT

stage "host set-up"
"$REPO/tools/setup-host.sh"
stage "python set-up"
"$REPO/tools/setup-python.sh"

unit() { (cd "$SANITY_TREE" && PYTHONPATH="$SANITY_ROOT" python -m pytest -p no:cacheprovider -q tests/unit); }
sanity() {
  (cd "$SANITY_TREE" && "$SANITY_VENV/bin/ansible-test" sanity --color no --requirements --python "$PYVER")
}
lint() {
  (cd "$REPO" && yamllint -s . && PYTHONWARNINGS=ignore::DeprecationWarning ansible-lint --profile production --strict -q && antsibull-changelog lint)
}
ecosystem() { "$REPO/tools/ecosystem.sh"; }
fleet_up() { fleet_started=1; python "$REPO/tests/fleet/fleet.py" up; }
integration() { (cd "$REPO" && PYTHONPATH="$COLLECTIONS" python -m pytest -p no:cacheprovider -q tests/integration); }

run_stage "unit tests" unit
run_stage "ansible-test sanity" sanity
run_stage "lint (yamllint, ansible-lint production, changelog)" lint
run_stage "ecosystem checks (ansible-doc, syntax-check, antsibull-docs, ansible-builder)" ecosystem
run_stage "fleet up" fleet_up
run_stage "integration tests on the fleet" integration

stage "done: ${failed_names[*]:-all stages passed}"
echo "stages: $passed passed, $failed failed"
[ "$failed" = 0 ]
