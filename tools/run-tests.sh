#!/usr/bin/env bash
# The test tiers. Every stage runs; the exit status is non-zero if any failed. At the end: a table of stage ->
# seconds and one closing line with the tests counted over all stages.
#   run-tests.sh check        make check: unit tests, ansible-test sanity, lint, ecosystem checks (no fleet, no build)
#   run-tests.sh test         make test: check, then the fleet images, the Kubernetes builds, the fleet, and each
#                             integration module in a pytest process of its own (each one stands alone)
#   run-tests.sh integration  the integration part of make test only (the fleet images, builds, fleet, modules)
# MULTIARCH_TEST_ORDER=reverse runs the integration modules in reverse order; MULTIARCH_TEST_MODULES="a b" picks
# modules (file names under tests/integration, without .py). What this run started (fleet, dockerd) is removed
# at the end unless MULTIARCH_KEEP_FLEET is set.
source "$(dirname "$0")/lib.sh"

TIER=${1:-test}
case "$TIER" in check|test|integration) ;; *) echo "usage: $0 check|test|integration" >&2; exit 2 ;; esac

# The integration modules of make test, in their default order (by capability; each one brings the fleet to the
# state it needs). The slower ones have targets of their own (the README lists them with their times): make
# test-formation (test_cluster_formation), make test-faults (test_upgrade_unreachable), make test-upgrade
# (test_upgrade, test_upgrade_fleet), make test-ha (test_ha) and make test-pi (test_pi_example): each forms a cluster
# of its own or needs a second real release built.
MODULES=(test_node_facts_fleet test_holder_pull test_holder_build test_node_release test_site_refusals
         test_cluster test_dns test_upgrade_faults)
if [ -n "${MULTIARCH_TEST_MODULES:-}" ]; then read -r -a MODULES <<<"$MULTIARCH_TEST_MODULES"; fi
if [ "${MULTIARCH_TEST_ORDER:-}" = reverse ]; then
  for ((i = ${#MODULES[@]} - 1; i >= 0; i--)); do rev+=("${MODULES[i]}"); done
  MODULES=("${rev[@]}")
fi

mkdir -p "$OUT"
TIMES="$OUT/stages.tsv"
: >"$TIMES"
JUNIT="$OUT/junit"
rm -rf "$JUNIT"
mkdir -p "$JUNIT"
failed_names=()
run_stage() {  # name, command...
  local name=$1 t0=$SECONDS status=ok; shift
  stage "$name"
  if ! "$@"; then
    status=FAILED; failed_names+=("$name"); stage "FAILED: $name"
  fi
  printf '%s\t%s\t%s\n' "$name" "$((SECONDS - t0))" "$status" >>"$TIMES"
}

cleanup() {
  set +e
  if [ "${fleet_started:-0}" = 1 ] && [ -z "${MULTIARCH_KEEP_FLEET:-}" ]; then
    stage "removing the fleet"
    python "$REPO/tests/fleet/fleet.py" down
  fi
  [ "$TIER" = check ] || "$REPO/tools/stop-services.sh"
}
trap cleanup EXIT

pytest_run() {  # junit name, directory, pytest arguments...
  local name=$1 dir=$2; shift 2
  (cd "$dir" && python -m pytest -p no:cacheprovider -q -rfEs --junitxml="$JUNIT/$name.xml" "$@")
}
unit() {
  PYTHONPATH="$SANITY_ROOT" pytest_run unit "$SANITY_TREE" tests/unit || return
  # every integration module imports and its tests are found (no fleet needed): a broken import fails make check,
  # not an hour into make test
  (cd "$REPO" && PYTHONPATH="$COLLECTIONS" python -m pytest -p no:cacheprovider -q --collect-only tests/integration \
     | tail -1)
}
sanity() {
  (cd "$SANITY_TREE" && "$SANITY_VENV/bin/ansible-test" sanity --color no --requirements --python "$PYVER")
}
lint() {
  (cd "$REPO" && yamllint -s . && PYTHONWARNINGS=ignore::DeprecationWarning ansible-lint --profile production --strict -q && antsibull-changelog lint)
}
ecosystem() { "$REPO/tools/ecosystem.sh"; }
fleet_images() { python "$REPO/tests/fleet/fleet.py" images; }
k8s_builds() { (cd "$REPO" && PYTHONPATH="$REPO/tests/helpers:$REPO/tests/fleet" python "$REPO/tests/helpers/builds.py" all); }
fleet_up() { fleet_started=1; python "$REPO/tests/fleet/fleet.py" up; }
module() { PYTHONPATH="$COLLECTIONS" pytest_run "$1" "$REPO" --durations=10 "tests/integration/$1.py"; }

setup_check() { "$REPO/tools/setup-host.sh" --packages-only && "$REPO/tools/setup-python.sh"; }
setup_all() { "$REPO/tools/setup-host.sh" && "$REPO/tools/setup-python.sh"; }
if [ "$TIER" = check ]; then
  run_stage "set-up (apt packages, python)" setup_check
else
  run_stage "set-up (apt packages, binfmt_misc, dockerd, registry, python)" setup_all
fi
if ((${#failed_names[@]})); then  # nothing else can run without it
  python3 "$REPO/tools/stage_table.py" "$TIMES" "$JUNIT"
  exit 1
fi
if [ "$TIER" != integration ]; then
  run_stage "check: unit tests, integration modules collected" unit
  run_stage "check: ansible-test sanity" sanity
  run_stage "check: lint (yamllint, ansible-lint production, changelog)" lint
  run_stage "check: ecosystem (ansible-doc, syntax-check, antsibull-docs, ansible-builder)" ecosystem
fi
if [ "$TIER" != check ]; then
  # The fleet images (downloads, and dpkg under QEMU) are made beside the builds (the compiler): their row in the
  # table is their own time, spent during the builds' and left out of the total.
  images_log="$OUT/fleet-images.log"
  rm -f "$images_log.end"
  images_t0=$(date +%s)
  ( status=0; fleet_images >"$images_log" 2>&1 || status=$?; date +%s >"$images_log.end"; exit "$status" ) &
  images_pid=$!
  run_stage "Kubernetes builds (from the Go modules in gomod/: the default line, stand-ins)" k8s_builds
  stage "fleet images (Debian root filesystems), made beside the builds"
  images_status=ok
  wait "$images_pid" || { images_status=FAILED; failed_names+=("fleet images"); }
  cat "$images_log"
  [ "$images_status" = ok ] || stage "FAILED: fleet images"
  printf 'fleet images (Debian root filesystems), beside the builds\t%s\t%s\tbeside\n' \
    "$(($(cat "$images_log.end" 2>/dev/null || date +%s) - images_t0))" "$images_status" >>"$TIMES"
  run_stage "fleet up" fleet_up
  for m in "${MODULES[@]}"; do
    run_stage "integration: $m" module "$m"
  done
fi

python "$REPO/tools/stage_table.py" "$TIMES" "$JUNIT"
[ "${#failed_names[@]}" = 0 ]
