#!/usr/bin/env bash
# The ecosystem checks of `make test`: what the Ansible tools a user runs say about the collection as
# it ships (built with ansible-galaxy, installed from the tarball into a temporary collections dir).
#   build       ansible-galaxy collection build, and install from the tarball
#   docs        ansible-doc for every module, action-backed module, filter and role entry point
#   playbooks   ansible-inventory --graph on each example inventory, --syntax-check of every playbook with each
#   docs-lint   antsibull-docs lint-collection-docs --plugin-docs
#   ee          ansible-builder: the collection's EE requirements (introspect) and the build context of
#               execution-environment.yml (create), both agreeing with requirements.txt
#   no-skips    zero sanity ignore entries, zero ansible-lint skips
# One line per check; the output of a failed check follows it. Exit status 1 if any failed.
# Runs after tools/setup-python.sh (the virtualenv and the bundled collections).
source "$(dirname "$0")/lib.sh"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/multiarch-k8s-ecosystem.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
INSTALLED="$WORK/collections/ansible_collections/multiarch/k8s"
# the installed copy first: nothing here may come from the checkout or tests/output/collections
export ANSIBLE_COLLECTIONS_PATH="$WORK/collections:$DEPS_COLLECTIONS"
export ANSIBLE_NOCOLOR=1

failures=()
# check NAME FUNCTION: runs FUNCTION (set -e, in a subshell) with its output in a log; the function's
# last line of stdout (echo "= ...") is the summary shown on success
check() {
  local name=$1 fn=$2 log="$WORK/$1.log" t0=$SECONDS rc
  # not `|| rc=$?`: that would turn off set -e inside the subshell
  set +e
  ( set -e; "$fn" ) >"$log" 2>&1
  rc=$?
  set -e
  local summary
  summary=$(sed -n 's/^= //p' "$log" | tail -n 1)
  if [ "$rc" = 0 ]; then
    printf 'ok    %-10s %s (%ss)\n' "$name" "$summary" "$((SECONDS - t0))"
  else
    printf 'FAIL  %-10s (%ss)\n' "$name" "$((SECONDS - t0))"
    sed 's/^/      | /' "$log"
    failures+=("$name")
  fi
}

# run CMD...: CMD must exit 0 and print nothing on stderr (ansible's warnings and errors go there)
run() {
  local err="$WORK/stderr"
  if ! "$@" >"$WORK/stdout" 2>"$err"; then
    { echo "failed: $*"; cat "$WORK/stdout" "$err"; } >&2; return 1
  fi
  if [ -s "$err" ]; then
    { echo "printed on stderr: $*"; cat "$err"; } >&2; return 1
  fi
}

build() {
  (cd "$REPO" && run ansible-galaxy collection build --output-path "$WORK/dist")
  run ansible-galaxy collection install -p "$WORK/collections" "$WORK"/dist/multiarch-k8s-*.tar.gz
  test -f "$INSTALLED/MANIFEST.json" || { echo "the tarball did not install to $INSTALLED"; return 1; }
  echo "= ansible-galaxy collection build, then install from $(basename "$WORK"/dist/*.tar.gz) into a temporary collections dir"
}

# the checks after build need its installed copy
installed() {
  [ -f "$INSTALLED/MANIFEST.json" ] || { echo "not run: the collection was not built and installed"; return 1; }
}

# "TYPE NAME [ENTRY_POINT]" lines: every documentable thing of the installed collection
doc_targets() {
  local f name
  # modules, and action plugins (a module of the same name carries their documentation)
  for f in "$INSTALLED"/plugins/modules/*.py "$INSTALLED"/plugins/action/*.py; do
    [ -e "$f" ] || continue
    name=$(basename "$f" .py)
    [ "$name" = __init__ ] || echo "module $name"
  done | sort -u
  # filters and tests: the names their plugin files define (one file may hold several), and doc files
  local type
  for type in filter test; do
    [ -d "$INSTALLED/plugins/$type" ] || continue
    run ansible-doc -t "$type" -l multiarch.k8s -j
    python - "$type" "$WORK/stdout" "$INSTALLED/plugins/$type" <<'PY'
import json, os, sys
kind, listing, directory = sys.argv[1:]
names = {n.rsplit(".", 1)[1] for n in json.load(open(listing))}
names |= {f[:-4] for f in os.listdir(directory) if f.endswith(".yml")}
for n in sorted(names):
    print(kind, n)
PY
  done
  # other plugin types, one per file
  local dir
  for dir in "$INSTALLED"/plugins/*/; do
    type=$(basename "$dir")
    case "$type" in
      modules|action|filter|test|module_utils|plugin_utils|doc_fragments) continue ;;
      become|cache|callback|cliconf|connection|httpapi|inventory|lookup|netconf|shell|strategy|vars)
        for f in "$dir"*.py; do [ -e "$f" ] && echo "$type $(basename "$f" .py)"; done ;;
      *) echo "plugins/$type: a plugin type this check does not know how to document" >&2; return 1 ;;
    esac
  done
  # roles: every entry point of meta/argument_specs.yml
  for dir in "$INSTALLED"/roles/*/; do
    name=$(basename "$dir")
    python - "$name" "$dir/meta/argument_specs.yml" <<'PY'
import os, sys, yaml
role, spec = sys.argv[1:]
if not os.path.exists(spec):
    sys.exit("role %s has no meta/argument_specs.yml" % role)
for entry in (yaml.safe_load(open(spec)) or {}).get("argument_specs") or {}:
    print("role", role, entry)
PY
  done
}

# ansible-doc ARGS NAMES...: one run for all NAMES, which must each get their page; when that fails,
# one run per name, to say which
doc_pages() {
  local n=$1; shift
  local args=("${@:1:n}") names=("${@:n+1}") name bad=0
  if run ansible-doc "${args[@]}" "${names[@]}" 2>/dev/null; then
    for name in "${names[@]}"; do
      grep -qE "^> [A-Z]+:? \*?${name//./\\.}[* ]" "$WORK/stdout" || { echo "ansible-doc ${args[*]} printed no page for $name" >&2; bad=1; }
    done
    return "$bad"
  fi
  for name in "${names[@]}"; do
    run ansible-doc "${args[@]}" "$name" || bad=1
  done
  [ "$bad" = 1 ] || echo "ansible-doc ${args[*]} failed for ${names[*]} together, though not for any one alone" >&2
  return 1
}

docs() {
  installed
  doc_targets >"$WORK/targets"
  local kind
  for kind in module filter role; do
    grep -q "^$kind " "$WORK/targets" || { echo "found no $kind in $INSTALLED"; return 1; }
  done
  # one group per plugin type, and per entry point for roles
  local type entry names bad=0
  while read -r type entry; do
    mapfile -t names < <(awk -v t="$type" -v e="$entry" '$1 == t && $3 == e {print "multiarch.k8s." $2}' "$WORK/targets")
    if [ -n "$entry" ]; then
      doc_pages 4 -t "$type" -e "$entry" "${names[@]}" || bad=1
    else
      doc_pages 2 -t "$type" "${names[@]}" || bad=1
    fi
  done < <(awk '{print $1, $3}' "$WORK/targets" | sort -u)
  [ "$bad" = 0 ] || return 1
  echo "= ansible-doc clean for $(grep -c '^module ' "$WORK/targets") modules, $(grep -c '^filter ' "$WORK/targets") filters," \
    "$(grep -c '^role ' "$WORK/targets") role entry points$(grep -vcE '^(module|filter|role) ' "$WORK/targets" | sed 's/^0$//; s/^[1-9].*/ and & other plugins/')"
}

playbooks() {
  installed
  local installed_list repo_list
  installed_list=$(cd "$INSTALLED/playbooks" && ls -- *.yml)
  repo_list=$(cd "$REPO/playbooks" && ls -- *.yml)
  [ "$installed_list" = "$repo_list" ] || {
    echo "the tarball's playbooks differ from playbooks/: $(echo "$installed_list" | xargs) vs $(echo "$repo_list" | xargs)"; return 1; }
  [ -n "$installed_list" ] || { echo "no playbooks in $INSTALLED/playbooks"; return 1; }
  local pb fqcns=()
  for pb in $installed_list; do fqcns+=("multiarch.k8s.${pb%.yml}"); done
  local inventories=("$REPO"/inventory-examples/*/hosts.yml)
  [ -e "${inventories[0]}" ] || { echo "no inventory-examples/*/hosts.yml"; return 1; }
  local inv bad=0 failed
  # away from the checkout, so that the playbooks come from the installed collection
  cd "$WORK"
  # plays may target groups that add_host makes at run time, which no inventory has yet; the one
  # group the playbooks need from the inventory is checked on the graph below
  export ANSIBLE_HOST_PATTERN_MISMATCH=ignore
  for inv in "${inventories[@]}"; do
    run ansible-inventory -i "$inv" --graph --vars || { bad=1; continue; }
    grep -q -- '--@control_plane:' "$WORK/stdout" || { echo "$inv: no control_plane group"; bad=1; }
    # all playbooks in one run; when that fails, one run per playbook, to say which
    run ansible-playbook -i "$inv" --syntax-check "${fqcns[@]}" 2>/dev/null && continue
    bad=1 failed=0
    for pb in "${fqcns[@]}"; do
      run ansible-playbook -i "$inv" --syntax-check "$pb" || failed=1
    done
    [ "$failed" = 1 ] || echo "--syntax-check -i $inv failed for ${fqcns[*]} together, though not for any one alone"
  done
  [ "$bad" = 0 ] || return 1
  echo "= ${#inventories[@]} inventories graphed; ${#fqcns[@]} playbooks x ${#inventories[@]} inventories pass --syntax-check (${fqcns[*]#multiarch.k8s.})"
}

docs_lint() {
  installed
  run antsibull-docs lint-collection-docs --plugin-docs --validate-collection-refs all "$INSTALLED"
  echo "= antsibull-docs lint-collection-docs --plugin-docs: no findings"
}

ee() {
  installed
  # 1. what ansible-builder takes from the installed collection into any execution environment
  run ansible-builder introspect --sanitize "$WORK/collections"
  cp "$WORK/stdout" "$WORK/introspect.yml"
  # 2. the build context of the shipped execution-environment.yml
  run ansible-builder create -f "$INSTALLED/execution-environment.yml" -c "$WORK/ee" --output-filename Containerfile
  python - "$INSTALLED" "$WORK/introspect.yml" "$WORK/ee" "${BUNDLED_COLLECTIONS[@]}" <<'PY'
import os, re, sys, yaml
from packaging.requirements import Requirement
collection, introspected, context, bundled = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
problems = []

def lines(path):
    with open(path) as f:
        return [l.split("#")[0].strip() for l in f if l.split("#")[0].strip()]

# the pinned requirements.txt (what the tests run) against the lower bounds the collection declares
pins = {Requirement(l).name.lower(): Requirement(l) for l in lines(os.path.join(collection, "requirements.txt"))}
core = pins.pop("ansible-core")
meta = yaml.safe_load(open(os.path.join(collection, "meta/execution-environment.yml")))["dependencies"]
declared = {Requirement(l).name.lower(): Requirement(l) for l in lines(os.path.join(collection, meta["python"]))}
bindep = lines(os.path.join(collection, meta["system"]))
for name, pin in sorted(pins.items()):
    version = next(iter(pin.specifier)).version
    if name not in declared:
        problems.append("%s (requirements.txt) is missing from %s" % (name, meta["python"]))
    elif not declared[name].specifier.contains(version, prereleases=True):
        problems.append("%s: the tested %s does not satisfy %s in %s" % (name, version, declared[name], meta["python"]))
for name in sorted(set(declared) - set(pins)):
    problems.append("%s is in %s but not in requirements.txt (untested)" % (name, meta["python"]))

# introspect: every declared package and system package, attributed to multiarch.k8s
found = yaml.safe_load(open(introspected)) or {}
mine = lambda key: [l.split("#")[0].strip() for l in found.get(key) or [] if l.endswith("# from collection multiarch.k8s")]
for req in declared.values():
    if str(req) not in mine("python"):
        problems.append("ansible-builder introspect does not find %s for multiarch.k8s" % req)
for pkg in bindep:
    if pkg not in mine("system"):
        problems.append("ansible-builder introspect does not find system package %r for multiarch.k8s" % pkg)

# create: the context holds the Containerfile, the same python and system requirements, the bundled
# collections, and the ansible-core that requirements.txt pins
containerfile = os.path.join(context, "Containerfile")
if not os.path.isfile(containerfile):
    problems.append("ansible-builder create wrote no Containerfile")
else:
    text = open(containerfile).read()
    if not re.search(r'ANSIBLE_INSTALL_REFS="[^"]*\b%s\b' % re.escape(str(core)), text):
        problems.append("the Containerfile does not install %s (requirements.txt)" % core)
    if "introspect.py introspect" not in text:
        problems.append("the Containerfile does not run ansible-builder's introspection")
build = os.path.join(context, "_build")
for name, want in (("requirements.txt", [str(r) for r in declared.values()]), ("bindep.txt", bindep)):
    path = os.path.join(build, name)
    have = lines(path) if os.path.exists(path) else []
    for item in want:
        if item not in have:
            problems.append("the build context's %s lacks %s" % (name, item))
galaxy = yaml.safe_load(open(os.path.join(build, "requirements.yml")))
names = {c["name"] if isinstance(c, dict) else c for c in galaxy.get("collections", [])}
for name in bundled:
    if name not in names:
        problems.append("the build context's galaxy requirements lack %s" % name)

if problems:
    sys.exit("\n".join(problems))
print("= introspect finds %d python and %d system packages for multiarch.k8s, matching requirements.txt; "
      "create: Containerfile, the same requirements, %s, %s" % (len(declared), len(bindep), core, ", ".join(bundled)))
PY
}

no_skips() {
  local bad=0 f entries
  # sanity: no entries in tests/sanity/ignore-*.txt
  for f in "$REPO"/tests/sanity/ignore-*.txt; do
    [ -e "$f" ] || continue
    entries=$(grep -cvE '^[[:space:]]*(#|$)' "$f" || true)
    [ "$entries" = 0 ] || { echo "${f#"$REPO"/}: $entries entries"; bad=1; }
  done
  # ansible-lint: no skip or warn lists in any of its configuration files, no ignore file
  for f in .ansible-lint .ansible-lint.yml .ansible-lint.yaml .config/ansible-lint.yml .config/ansible-lint.yaml; do
    [ -e "$REPO/$f" ] || continue
    python - "$REPO/$f" <<'PY' || bad=1
import sys, yaml
config = yaml.safe_load(open(sys.argv[1])) or {}
used = [k for k in ("skip_list", "warn_list") if config.get(k)]
if used:
    sys.exit("%s sets %s" % (sys.argv[1], ", ".join(used)))
PY
  done
  for f in .ansible-lint-ignore .config/ansible-lint-ignore.txt; do
    [ ! -e "$REPO/$f" ] || { echo "$f exists (ansible-lint ignores what it lists)"; bad=1; }
  done
  # no inline skips anywhere in the repository (tracked and new files)
  if (cd "$REPO" && git grep --untracked -nIE '#[[:space:]]*noqa'); then
    echo "inline noqa skips (above)"; bad=1
  fi
  [ "$bad" = 0 ] || return 1
  echo "= 0 sanity ignore entries, 0 ansible-lint skips (no skip_list/warn_list, no ignore file, no noqa)"
}

check build build
check docs docs
check playbooks playbooks
check docs-lint docs_lint
check ee ee
check no-skips no_skips
[ "${#failures[@]}" = 0 ] || { echo "ecosystem checks failed: ${failures[*]}"; exit 1; }
