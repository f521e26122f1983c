#!/usr/bin/env bash
# Runs the tests on every runtime wsstream supports and prints one line per runtime with
# its pass count; exits 1 if any runtime failed (or is missing).
#
#   scripts/test-matrix.sh            the CI matrix below
#   scripts/test-matrix.sh node24     one entry only (names as in the matrix)
#
# Node 22/24/26, Deno and Bun come from scripts/install-runtimes.sh (.tmp/runtimes/bin).
# Each Node runs the node:test suite with its own binary first on PATH, so that tests
# which start `node` (the CLI tests) start the same version. The whole suite runs on the
# oldest (the machine's Node 20) and the newest (26); 22 and 24 run the core, client,
# server and conformance tests. Deno and Bun run test/runtimes/suite.js on the
# built package, as does every Node version. Logs: .tmp/matrix/<name>.log.
set -uo pipefail
cd "$(dirname "$0")/.."
bin=.tmp/runtimes/bin
logs=.tmp/matrix
mkdir -p "$logs"

full=$(find test -name '*.test.ts' | sort)
subset=$(find test/core test/client test/server test/conformance -name '*.test.ts' | sort)

# name, Node binary (empty: the machine's), which tests
matrix=(
  "node20||full"
  "node22|$bin/node22|subset"
  "node24|$bin/node24|subset"
  "node26|$bin/node26|full"
  "deno|$bin/deno|suite"
  "bun|$bin/bun|suite"
)

npm run build >/dev/null || { echo "test-matrix: the build failed" >&2; exit 1; }

failed=0
summary=()
for entry in "${matrix[@]}"; do
  IFS='|' read -r name binary which <<<"$entry"
  if [ $# -gt 0 ] && [[ " $* " != *" $name "* ]]; then continue; fi
  log="$logs/$name.log"
  start=$SECONDS
  if [ -n "$binary" ] && [ ! -x "$binary" ]; then
    line="$name: MISSING ($binary; run scripts/install-runtimes.sh)"
    status=1
    failed=1
  elif [ "$which" = suite ]; then
    case $name in
      deno) cmd=("$binary" run -A test/runtimes/suite.js) ;;
      *) cmd=("$binary" test/runtimes/suite.js) ;;
    esac
    "${cmd[@]}" >"$log" 2>&1
    status=$?
    line=$(tail -n 1 "$log")
    [ $status -eq 0 ] || failed=1
    line="$line ($((SECONDS - start)) s, test/runtimes/suite.js)"
  else
    # This Node first on PATH, as `node`, for the tests and what they start.
    path=$PATH
    if [ -n "$binary" ]; then
      mkdir -p ".tmp/runtimes/bin-$name"
      ln -sf "$(realpath "$binary")" ".tmp/runtimes/bin-$name/node"
      path="$PWD/.tmp/runtimes/bin-$name:$PATH"
    fi
    files=$full
    [ "$which" = subset ] && files=$subset
    # shellcheck disable=SC2086
    PATH=$path node --import tsx --test $files >"$log" 2>&1
    status=$?
    PATH=$path node test/runtimes/suite.js >>"$log" 2>&1 || status=1
    pass=$(grep -E '^# pass ' "$log" | tail -n 1 | awk '{print $3}')
    fail=$(grep -E '^# fail ' "$log" | tail -n 1 | awk '{print $3}')
    suite=$(tail -n 1 "$log" | sed 's/^node [0-9.]*: //')
    version=$(PATH=$path node --version)
    [ $status -eq 0 ] || failed=1
    line="node ${version#v}: ${pass:-?} passed, ${fail:-?} failed ($which suite); runtime suite: $suite ($((SECONDS - start)) s)"
  fi
  [ ${status:-1} -eq 0 ] || line="$line  <-- FAILED, see $log"
  echo "$line"
  summary+=("$line")
done

echo
echo "test matrix:"
printf '  %s\n' "${summary[@]}"
exit $failed
