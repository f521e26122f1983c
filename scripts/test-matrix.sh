#!/usr/bin/env bash
# Runs the tests on every runtime wsstream supports and prints one line per runtime with
# its pass count; exits 1 if any runtime failed (or is missing).
#
#   scripts/test-matrix.sh            the CI matrix below
#   scripts/test-matrix.sh node24     one entry only (names as in the matrix)
#
# Node 22/24/26, Deno and Bun come from scripts/install-runtimes.sh (.tmp/runtimes/bin).
# Two entries run at a time (MATRIX_JOBS=1 for one). Each Node runs the node:test suite
# with its own binary first on PATH, so that tests which start `node` (the CLI tests)
# start the same version. The whole suite runs on the
# oldest (the machine's Node 20) and the newest (26); 22 and 24 run the core, client,
# server and conformance tests. Deno and Bun run test/runtimes/suite.js and the
# conformance suite (conformance/run.ts: its fast categories, client and server) on the
# built package, as does every Node version. Logs: .tmp/matrix/<name>.log.
set -uo pipefail
cd "$(dirname "$0")/.."
bin=.tmp/runtimes/bin
logs=.tmp/matrix
mkdir -p "$logs"

full=$(find test -name '*.test.ts' | sort)
# The benchmark's smoke tests build into and run from the one .tmp/bench-build of
# the checkout: two runtimes running them at once would read each other's
# half-written files. They run on the first full run only.
full_but_bench=$(find test -name '*.test.ts' -not -path 'test/bench/*' | sort)
subset=$(find test/core test/client test/server test/conformance -name '*.test.ts' | sort)

# name, Node binary (empty: the machine's), which tests
# Run in pairs, in this order: the two full runs, the two subsets, Deno and Bun.
matrix=(
  "node20||full"
  "node26|$bin/node26|full-but-bench"
  "node22|$bin/node22|subset"
  "node24|$bin/node24|subset"
  "deno|$bin/deno|suite"
  "bun|$bin/bun|suite"
)

npm run build >/dev/null || { echo "test-matrix: the build failed" >&2; exit 1; }

# What a failed log says about its failures, for the CI output (the log itself stays
# on the machine that ran it): every TAP "not ok" with its YAML block (the error, the
# location, the stack; at most 40 lines each), the runner's "# Error:" lines about
# activity after a test ended, and the runtime suite's FAIL lines.
failures() {
  awk '
    /^[ ]*not ok / { block = 1; n = 0; print; next }
    block && /^[ ]*\.\.\.$/ { block = 0; print; next }
    block { if (++n <= 40) print; next }
    /^# Error: / || /^FAIL / { print }
  ' "$1" | head -n 400
}

# One matrix entry: runs it, writes its summary line to $logs/<name>.result, returns its status.
run_entry() {
  local name=$1 binary=$2 which=$3
  local log="$logs/$name.log" start=$SECONDS status line
  if [ -n "$binary" ] && [ ! -x "$binary" ]; then
    line="$name: MISSING ($binary; run scripts/install-runtimes.sh)"
    status=1
  elif [ "$which" = suite ]; then
    local cmd conf
    case $name in
      deno)
        cmd=("$binary" run -A test/runtimes/suite.js)
        conf=("$binary" run -A --unstable-sloppy-imports conformance/run.ts)
        ;;
      *)
        cmd=("$binary" test/runtimes/suite.js)
        conf=("$binary" conformance/run.ts)
        ;;
    esac
    "${cmd[@]}" >"$log" 2>&1
    status=$?
    local summary
    summary=$(tail -n 1 "$log")
    # The conformance suite (fast categories, client and server) on this runtime too.
    "${conf[@]}" >"$logs/$name-conformance.log" 2>&1 || status=1
    local total
    total=$(grep -E '^\| \*\*Total' "$logs/$name-conformance.log" | tr -d '*' | awk -F'|' '{gsub(/ /,""); print $5 "/" $4}')
    line="$summary; conformance ${total:-?} runs passed ($((SECONDS - start)) s, test/runtimes/suite.js, conformance/run.ts)"
  else
    # This Node first on PATH, as `node`, for the tests and what they start.
    local path=$PATH files=$full
    if [ -n "$binary" ]; then
      mkdir -p ".tmp/runtimes/bin-$name"
      ln -sf "$(realpath "$binary")" ".tmp/runtimes/bin-$name/node"
      path="$PWD/.tmp/runtimes/bin-$name:$PATH"
    fi
    [ "$which" = subset ] && files=$subset
    [ "$which" = full-but-bench ] && files=$full_but_bench
    # shellcheck disable=SC2086
    # TAP on every version (Node 23+ defaults to the spec reporter), for the counts below.
    PATH=$path node --import tsx --test --test-reporter=tap $files >"$log" 2>&1
    status=$?
    PATH=$path node test/runtimes/suite.js >>"$log" 2>&1 || status=1
    local pass fail suite version
    pass=$(grep -E '^# pass ' "$log" | tail -n 1 | awk '{print $3}')
    fail=$(grep -E '^# fail ' "$log" | tail -n 1 | awk '{print $3}')
    suite=$(tail -n 1 "$log" | sed 's/^node [0-9.]*: //')
    version=$(PATH=$path node --version)
    line="node ${version#v}: ${pass:-?} passed, ${fail:-?} failed ($which suite); runtime suite: $suite ($((SECONDS - start)) s)"
  fi
  [ "$status" -eq 0 ] || line="$line  <-- FAILED, see $log"
  echo "$line" >"$logs/$name.result"
  : >"$logs/$name.failures"
  [ "$status" -eq 0 ] || failures "$log" >"$logs/$name.failures"
  echo "$line"
  return "$status"
}

# Two entries at a time (MATRIX_JOBS): node --test runs one test file at a time on a
# 2-core machine, so a second runtime uses the otherwise idle core.
jobs=${MATRIX_JOBS:-2}
failed=0
selected=()
for entry in "${matrix[@]}"; do
  IFS='|' read -r name _ _ <<<"$entry"
  if [ $# -gt 0 ] && [[ " $* " != *" $name "* ]]; then continue; fi
  selected+=("$entry")
done
for ((i = 0; i < ${#selected[@]}; i += jobs)); do
  pids=()
  for entry in "${selected[@]:i:jobs}"; do
    IFS='|' read -r name binary which <<<"$entry"
    run_entry "$name" "$binary" "$which" &
    pids+=($!)
  done
  for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
done

echo
echo "test matrix:"
for entry in "${selected[@]}"; do
  IFS='|' read -r name _ _ <<<"$entry"
  echo "  $(cat "$logs/$name.result")"
done
for entry in "${selected[@]}"; do
  IFS='|' read -r name _ _ <<<"$entry"
  if [ -s "$logs/$name.failures" ]; then
    echo
    echo "$name failures (from $logs/$name.log):"
    sed 's/^/  /' "$logs/$name.failures"
  fi
done
exit $failed
