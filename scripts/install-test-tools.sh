#!/usr/bin/env bash
# Installs what the tests drive from outside Python, idempotent and quick when already there:
#   - Chromium and its driver from Debian's packages (the console's browser tests);
#   - the AWS CLI (the `awscli` PyPI package) in its own venv, .tools/awscli, so that its botocore never
#     replaces the project's;
#   - the AWS SDK for JavaScript v3 clients from npm into tests/server/js/node_modules (lock file committed).
# Run from anywhere: `bash scripts/install-test-tools.sh`. Each part is skipped when already installed.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PYTHON=${PYTHON:-python3.11}

if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
    SUDO=""
    if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
    $SUDO apt-get update -q && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver
fi

AWSCLI_VENV="$ROOT/.tools/awscli"
if [ ! -x "$AWSCLI_VENV/bin/aws" ]; then
    "$PYTHON" -m venv "$AWSCLI_VENV"
    "$AWSCLI_VENV/bin/pip" install -q --disable-pip-version-check awscli
fi

JS_DIR="$ROOT/tests/server/js"
if command -v npm >/dev/null 2>&1; then
    if [ ! -f "$JS_DIR/node_modules/.package-lock.json" ] || [ "$JS_DIR/package-lock.json" -nt "$JS_DIR/node_modules/.package-lock.json" ]; then
        (cd "$JS_DIR" && npm ci --no-audit --no-fund --loglevel=error)
    fi
else
    echo "npm not found: the JavaScript SDK test will be skipped (install Node.js >= 18 to run it)" >&2
fi
