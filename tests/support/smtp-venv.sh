#!/usr/bin/env bash
# Creates tests/.smtp-venv with aiosmtpd, the real SMTP server the mail
# tests deliver to. Idempotent: does nothing when the venv already works.
# Called by .ci/run before `cargo test`, and by the test harness itself
# when the venv is missing.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="${KEYDESK_SMTP_VENV:-$here/../.smtp-venv}"
python="${PYTHON:-python3}"
if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c 'import aiosmtpd' 2>/dev/null; then
  exit 0
fi
# Two test binaries may race to create it; the second waits for the first.
exec 9>"$here/../.smtp-venv.lock"
if command -v flock >/dev/null; then flock 9; fi
if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c 'import aiosmtpd' 2>/dev/null; then
  exit 0
fi
rm -rf "$venv"
"$python" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check 'aiosmtpd==1.4.6'
"$venv/bin/python" -c 'import aiosmtpd; print("aiosmtpd", aiosmtpd.__version__, "ready in", "'"$venv"'")'
