#!/usr/bin/env bash
# Installs the Debian 12 packages radix builds and tests with (DESIGN.md §9).
# Prints what it installs; does nothing when everything is present.
set -euo pipefail
pkgs=(build-essential cmake ninja-build ccache pkg-config git
      libgtest-dev libgmock-dev libbenchmark-dev
      nlohmann-json3-dev libcpp-httplib-dev libpcre2-dev libutf8proc-dev
      libopenblas-dev libcli11-dev libspdlog-dev libfmt-dev libstb-dev
      curl python3)
# Node.js runs the end-to-end tests (openai client, reference tokenizers); a machine
# that already has node and npm (e.g. from NodeSource) keeps them.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then pkgs+=(nodejs npm); fi
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#pkgs[@]} packages present"
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
