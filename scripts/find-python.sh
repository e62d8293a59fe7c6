#!/usr/bin/env bash
# Print the absolute path of a Python >= 3.12 that can create virtualenvs.
#
# Candidates are checked by actually running them: a pyenv shim such as
# `python3.12` is on PATH even when it fails because no pyenv version is
# selected.  Order: python3.13 / python3.12 on PATH, pyenv's 3.13* / 3.12*
# installs (newest first), /usr/bin/python3.1[2-9], then plain python3.
set -euo pipefail

no_venv=()

# Succeeds (and prints the real interpreter path) if $1 is a working
# Python >= 3.12 with the venv and ensurepip modules.
try() {
    local c=$1 exe
    exe=$("$c" -c 'import sys
if sys.version_info < (3, 12): sys.exit(1)
print(sys.executable)' 2>/dev/null) || return 1
    [ -n "$exe" ] || return 1
    # Debian's python3.X ships without ensurepip unless python3.X-venv is installed.
    if ! "$exe" -c 'import venv, ensurepip' >/dev/null 2>&1; then
        no_venv+=("$exe")
        return 1
    fi
    printf '%s\n' "$exe"
}

for name in python3.13 python3.12; do
    if c=$(command -v "$name" 2>/dev/null); then
        try "$c" && exit 0
    fi
done

pyenv_root=${PYENV_ROOT:-$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")}
for minor in 3.13 3.12; do
    # Newest patch release first (sort -V: 3.12.10 > 3.12.9).
    while IFS= read -r c; do
        [ -n "$c" ] && [ -x "$c" ] || continue
        try "$c" && exit 0
    done < <(compgen -G "$pyenv_root/versions/$minor*/bin/python3" | sort -rV || true)
done

while IFS= read -r c; do
    [ -n "$c" ] && [ -x "$c" ] || continue
    try "$c" && exit 0
done < <(compgen -G '/usr/bin/python3.1[2-9]' | sort -rV || true)

if c=$(command -v python3 2>/dev/null); then
    try "$c" && exit 0
fi

{
    echo "Helpline needs Python >= 3.12; install it with pyenv install 3.12 or apt-get install python3.12"
    if [ ${#no_venv[@]} -gt 0 ]; then
        echo "Found ${no_venv[*]} but it cannot create virtualenvs (no ensurepip);"
        echo "install the matching venv package, e.g. apt-get install python3.12-venv"
    fi
} >&2
exit 1
