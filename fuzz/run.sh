#!/usr/bin/env bash
# Builds the libFuzzer targets of fuzz/ with clang and runs each for a fixed time on a scratch
# copy of its seed corpus (fuzz/corpus/TARGET stays as committed). Exits non-zero when any
# target crashed, hung, leaked or ran out of memory, naming the input that did it; the other
# targets still run.
# Usage: fuzz/run.sh [TARGET...]        (default: every target)
#   FUZZ_SECONDS  seconds per target (default 60)
#   FUZZ_BUILD    build directory (default build-fuzz); scratch corpora go to FUZZ_BUILD/run/
#   FUZZ_JOBS     parallel compile jobs (default: nproc)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${FUZZ_SECONDS:-60}
build=${FUZZ_BUILD:-build-fuzz}
jobs=${FUZZ_JOBS:-$(nproc)}

# name, -max_len (a few times the longest realistic input), dictionary in fuzz/dict/.
targets=(
    "request 4096 json"
    "ack 1024 json"
    "bucket 2048 json"
    "reply 4096 json"
    "config 4096 toml"
    "helpers 512 helpers"
    "json_scan 4096 json"
    "spawn_request 8192 spawn"
)

wanted=("$@")
if [ ${#wanted[@]} -eq 0 ]; then
    for t in "${targets[@]}"; do wanted+=("${t%% *}"); done
fi
for name in "${wanted[@]}"; do
    printf '%s\n' "${targets[@]}" | grep -q "^$name " || { echo "fuzz: no target '$name'" >&2; exit 2; }
done

CC=clang CXX=clang++ cmake -S fuzz -B "$build" -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ >/dev/null
cmake --build "$build" -j "$jobs" --target $(printf 'fuzz_%s ' "${wanted[@]}")

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}
failed=()
for entry in "${targets[@]}"; do
    read -r name max_len dict <<<"$entry"
    printf '%s\n' "${wanted[@]}" | grep -qx "$name" || continue
    run="$build/run/$name"
    rm -rf "$run"
    mkdir -p "$run/corpus" "$run/artifacts"
    cp -R "fuzz/corpus/$name/." "$run/corpus/"
    echo "fuzz_$name: ${seconds}s, -max_len=$max_len, log in $run/log"
    status=0
    "$build/bin/fuzz_$name" "$run/corpus" -max_total_time="$seconds" -max_len="$max_len" \
        -dict="fuzz/dict/$dict.dict" -timeout=25 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$run/artifacts/" >"$run/log" 2>&1 || status=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$run/log")
    # The last status line libFuzzer printed: "#N DONE cov: C ft: F corp: K/...".
    last=$(grep -E '^#[0-9]+' "$run/log" | tail -n 1 || true)
    cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
    ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
    corp=$(sed -n 's/.* corp: \([0-9]*\).*/\1/p' <<<"$last")
    inputs=$(find "$run/artifacts" -type f | sort)
    if [ "$status" -eq 0 ] && [ -z "$inputs" ]; then
        echo "fuzz_$name: ok, ${execs:-?} executions, cov ${cov:-?}, ft ${ft:-?}, corpus ${corp:-?}"
        continue
    fi
    failed+=("$name")
    echo "fuzz_$name: FAILED (exit $status) after ${execs:-?} executions; from $run/log:" >&2
    # From the first line that says what went wrong: a failed check, a sanitizer report, a
    # libFuzzer timeout or out-of-memory.
    first=$(grep -n -m 1 -E 'check failed|ERROR: |runtime error|==[0-9]+== ' "$run/log" | cut -d: -f1)
    first=${first:-1}
    sed -n "${first},$((first + 49))p" "$run/log" >&2
    for input in $inputs; do
        echo "fuzz_$name: crashing input: $input (reproduce: $build/bin/fuzz_$name $input)" >&2
    done
done

if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzz: failed: ${failed[*]}" >&2
    exit 1
fi
echo "fuzz: every target ran ${seconds}s without a failure"
