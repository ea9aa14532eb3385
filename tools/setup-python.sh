#!/usr/bin/env bash
# Python side: a virtualenv with exactly the packages of requirements.lock (hash-checked; cached by the lock's hash),
# community.docker taken from the `ansible` wheel (pinned), and this collection built with
# ansible-galaxy and installed from its tarball (so packaging is tested every time).
source "$(dirname "$0")/lib.sh"

# the locks must hold every pin of the requirements files, at the same version (else: make lock)
"$PYTHON" - "$REPO" <<'PY'
import os, re, sys
repo = sys.argv[1]
def pins(name):
    out = {}
    for line in open(os.path.join(repo, name)):
        m = re.match(r"([A-Za-z0-9_.-]+)==([^\s;\\]+)", line)
        if m:
            out[m.group(1).lower().replace("_", "-")] = m.group(2)
    return out
locked = pins("requirements.lock")
stale = ["%s==%s (requirements.lock has %s)" % (n, v, locked.get(n, "nothing"))
         for f in ("requirements.txt", "requirements-test.txt") for n, v in pins(f).items() if locked.get(n) != v]
if stale:
    sys.exit("requirements.lock does not match the requirements files: %s; run make lock" % ", ".join(stale))
PY

if [ ! -f "$VENV/.complete" ]; then
  stage "creating virtualenv $VENV"
  rm -rf "$VENV"
  mkdir -p "$(dirname "$VENV")"
  "$PYTHON" -m venv "$VENV"
  "$VENV/bin/pip" install -q --require-hashes --no-deps -r "$REPO/requirements.lock"
  touch "$VENV/.complete"
fi

if [ ! -f "$SANITY_VENV/.complete" ]; then
  stage "creating the ansible-test sanity virtualenv $SANITY_VENV"
  rm -rf "$SANITY_VENV"
  "$PYTHON" -m venv "$SANITY_VENV"
  "$SANITY_VENV/bin/pip" install -q --require-hashes --no-deps -r "$REPO/requirements-sanity.lock"
  touch "$SANITY_VENV/.complete"
fi

# ansible-test bootstraps pip in its sanity venvs with a script it downloads; use ours (offline)
pip_version=$("$SANITY_VENV/bin/python" -c 'import ansible_test._internal.python_requirements as r, inspect, re; print(re.search(r"pip=.([0-9.]+).", inspect.getsource(r.get_venv_packages)).group(1))')
get_pip="$HOME/.ansible/test/cache/get_pip_${pip_version//./_}.py"
if ! cmp -s "$REPO/tools/get_pip_offline.py" "$get_pip"; then
  mkdir -p "$(dirname "$get_pip")"
  cp "$REPO/tools/get_pip_offline.py" "$get_pip"
fi

if [ ! -f "$DEPS_COLLECTIONS/.complete" ]; then
  stage "extracting ${BUNDLED_COLLECTIONS[*]} from ansible==$ANSIBLE_BUNDLE_VERSION"
  wheels="$CACHE/wheels"
  mkdir -p "$wheels"
  "$VENV/bin/pip" download -q --no-deps -d "$wheels" "ansible==$ANSIBLE_BUNDLE_VERSION"
  rm -rf "$DEPS_COLLECTIONS.tmp"
  "$VENV/bin/python" - "$wheels/ansible-$ANSIBLE_BUNDLE_VERSION-py3-none-any.whl" "$DEPS_COLLECTIONS.tmp" \
    "${BUNDLED_COLLECTIONS[@]}" <<'PY'
import sys, zipfile
wheel, dest, names = sys.argv[1], sys.argv[2], sys.argv[3:]
prefixes = tuple("ansible_collections/%s/" % n.replace(".", "/") for n in names)
with zipfile.ZipFile(wheel) as z:
    members = [m for m in z.namelist() if m.startswith(prefixes)]
    for n, p in zip(names, prefixes):
        if not any(m.startswith(p) for m in members):
            sys.exit("the ansible wheel has no %s" % n)
    z.extractall(dest, members)
PY
  touch "$DEPS_COLLECTIONS.tmp/.complete"
  rm -rf "$DEPS_COLLECTIONS"
  mv "$DEPS_COLLECTIONS.tmp" "$DEPS_COLLECTIONS"
fi

stage "building and installing the multiarch.k8s collection from its tarball"
mkdir -p "$OUT/dist"
rm -f "$OUT"/dist/multiarch-k8s-*.tar.gz
(cd "$REPO" && ansible-galaxy collection build --force --output-path "$OUT/dist" >/dev/null)
ansible-galaxy collection install --force -p "$COLLECTIONS" "$OUT"/dist/multiarch-k8s-*.tar.gz >/dev/null

# the working tree (tracked and new files) copied into ansible_collections/multiarch/k8s
rm -rf "$SANITY_TREE"
mkdir -p "$SANITY_TREE"
(cd "$REPO" && git ls-files -z --cached --others --exclude-standard | xargs -0 -I{} sh -c 'test -e "{}" && printf "%s\0" "{}"' \
  | tar --null -T - -cf -) | tar -xf - -C "$SANITY_TREE"
