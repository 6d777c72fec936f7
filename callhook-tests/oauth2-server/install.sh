#!/usr/bin/env bash
# Installs the OAuth2 test server's packages (oidc-provider, pinned by
# package-lock.json) into node_modules/, unless the ones there were installed
# from the same lock file. Called by .ci/run and by
# callhook-tests/tests/oauth2_server.rs; safe to run again.
#
# Exit status: 0 installed or already current; 3 Node.js (20 or later) or
# npm is missing; anything else npm's own failure.
set -euo pipefail
cd "$(dirname "$0")"

for tool in node npm; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "$tool is not installed: the OAuth2 end-to-end test needs Node.js 20 or later with npm (https://nodejs.org)" >&2
    exit 3
  fi
done
major="$(node -p 'process.versions.node.split(".")[0]')"
if (( major < 20 )); then
  echo "Node.js $(node --version) is too old: the OAuth2 end-to-end test needs Node.js 20 or later" >&2
  exit 3
fi

# What was installed is recorded as the lock file's hash, written only after
# `npm ci` succeeded, so an interrupted install is redone.
stamp=node_modules/.callhook-installed
wanted="$(node -e 'const c=require("node:crypto"),f=require("node:fs");process.stdout.write(c.createHash("sha256").update(f.readFileSync("package-lock.json")).digest("hex"))')"
if [[ -f "$stamp" && "$(cat "$stamp")" == "$wanted" ]]; then
  exit 0
fi

npm ci --no-audit --no-fund --loglevel=error >&2
printf '%s' "$wanted" > "$stamp"
