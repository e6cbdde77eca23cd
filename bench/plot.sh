#!/usr/bin/env bash
# Draws the benchmark's plots as SVG from bench/results.json, next to bench/RESULTS.md:
#   exit-latency.svg   kill → exit event: the CDF of kvd, the one-hop and two-hop floors and
#                      supervisord (from a run that kept the quantiles; an older results.json
#                      gives p50 and p99 against the number of buckets alive instead)
#   create-rate.svg    create rate against buckets alive: kvd (sequential, pipelined, and
#                      per 1000 while growing to 10,000) and the uv_spawn floor
#   notify-rate.svg    notify throughput against subscribers: kvd and Redis pub/sub
# `make bench` runs it after kvd-bench; `make bench-plot` runs it alone on the last results
# (no benchmark is run). A quick run's results are plotted only into an OUT_DIR given.
# Without gnuplot (Debian: gnuplot-nox) or jq it says so and draws nothing.
# Usage: bench/plot.sh [RESULTS_JSON] [OUT_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
results=${1:-bench/results.json}
out=${2:-bench}
for tool in gnuplot jq; do
    if ! command -v "$tool" >/dev/null; then
        echo "bench/plot.sh: $tool is not installed (scripts/deps.sh bench); no plots drawn" >&2
        exit 0
    fi
done
[ -f "$results" ] || { echo "bench/plot.sh: no $results (run make bench)" >&2; exit 1; }
# As for RESULTS.md, a quick run does not replace the full run's plots unless asked to.
if [ $# -lt 2 ] && [ "$(jq -r '.meta.quick' "$results")" = true ]; then
    echo "bench/plot.sh: $results is from a quick run; not plotted (give an OUT_DIR to plot it)" >&2
    exit 0
fi

work=$(mktemp -d /tmp/kvd-plot-XXXXXX)
trap 'rm -rf "$work"' EXIT
when=$(jq -r '"\(.meta.date), \(.meta.cores) cores\(if .meta.quick then ", quick run" else "" end)"' "$results")

# The row named exactly $1, as JSON (null when the run has no such row or skipped it).
row() { jq --arg name "$1" '[.rows[] | select(.name == $name and (.skipped | not))][0]' "$results"; }

svg_header() { # TITLE XLABEL YLABEL
    cat <<GP
set terminal svg size 820,480 dynamic enhanced font "sans,12" background "#ffffff"
set title "$1\n{/*0.8 $when}"
set xlabel "$2"
set ylabel "$3"
set grid
set key below noenhanced
GP
}

# ---- exit latency -------------------------------------------------------------------------
alive_counts=$(jq -r '[.rows[] | select(.section == "exit" and (.name | test("^kill → subscriber p50, [0-9]+ others alive$"))) | .name | capture("(?<n>[0-9]+) others").n] | join(" ")' "$results")
has_quantiles=$(jq '[.rows[] | select(.section == "exit") | .kvd.quantiles // empty] | length > 0' "$results")
plots=()
if [ "$has_quantiles" = true ]; then
    # One CDF per system and count alive: the quantiles as (latency, percent) pairs.
    cdf() { # NAME SIDE FILE
        row "$1" | jq -r --arg side "$2" 'if . == null or .[$side] == null then empty else .[$side].quantiles[] | "\(.[1]) \(.[0])" end' >"$3"
        [ -s "$3" ]
    }
    for n in $alive_counts; do
        cdf "kill → subscriber p50, $n others alive" kvd "$work/kvd-$n" &&
            plots+=("'$work/kvd-$n' with lines lw 2 title 'kvd, $n others alive'")
        cdf "kill → subscriber p50, $n others alive" ref "$work/one-$n" &&
            plots+=("'$work/one-$n' with lines dt 2 title 'one-hop floor, $n alive'")
        cdf "kill → subscriber p50, $n others alive, vs two-hop floor" ref "$work/two-$n" &&
            plots+=("'$work/two-$n' with lines dt 3 title 'two-hop floor, $n alive'")
    done
    super=$(jq -r '[.rows[] | select(.name | test("^kill → subscriber / listener p50")) | .name][0] // empty' "$results")
    if [ -n "$super" ] && cdf "$super" ref "$work/super"; then
        among=${super##*, }
        cdf "$super" kvd "$work/kvd-super" &&
            plots+=("'$work/kvd-super' with lines lw 2 title 'kvd, $among'")
        plots+=("'$work/super' with lines lw 2 title 'supervisord listener, $among'")
    fi
    {
        svg_header "Exit latency: kill(SIGKILL) → the exit event read by a subscriber" \
            "latency (µs, log scale)" "samples at or below (%)"
        echo "set logscale x"
        echo "set yrange [0:100]"
        echo "set output '$out/exit-latency.svg'"
        (IFS=,; echo "plot ${plots[*]}")
    } >"$work/exit.gp"
else
    # p50 and p99 against the number of buckets alive (results.json without quantiles).
    for n in $alive_counts; do
        one50=$(row "kill → subscriber p50, $n others alive") one99=$(row "kill → subscriber p99, $n others alive")
        two50=$(row "kill → subscriber p50, $n others alive, vs two-hop floor")
        two99=$(row "kill → subscriber p99, $n others alive, vs two-hop floor")
        jq -rn --argjson a "$one50" --argjson b "$one99" --argjson c "$two50" --argjson d "$two99" --arg n "$n" \
            '[$n, $a.kvd.value, $b.kvd.value, $a.ref.value, $b.ref.value, ($c.ref.value // "NaN"), ($d.ref.value // "NaN")] | map(tostring) | join(" ")'
    done >"$work/exit-alive"
    super50=$(jq -c '[.rows[] | select(.name | test("^kill → subscriber / listener p50"))][0]' "$results")
    super99=$(jq -c '[.rows[] | select(.name | test("^kill → subscriber / listener p99"))][0]' "$results")
    jq -rn --argjson a "$super50" --argjson b "$super99" \
        'if $a == null then empty else "\($a.name | capture("(?<n>[0-9]+) alive").n) \($a.kvd.value) \($b.kvd.value) \($a.ref.value) \($b.ref.value)" end' >"$work/exit-super"
    d=$work/exit-alive s=$work/exit-super
    plots=("'$d' using 1:2 with linespoints lw 2 pt 7 title 'kvd p50'"
        "'$d' using 1:3 with linespoints lw 2 pt 5 title 'kvd p99'"
        "'$d' using 1:4 with linespoints dt 2 pt 6 title 'one-hop floor p50'"
        "'$d' using 1:5 with linespoints dt 2 pt 4 title 'one-hop floor p99'"
        "'$d' using 1:6 with linespoints dt 3 pt 6 title 'two-hop floor p50'"
        "'$d' using 1:7 with linespoints dt 3 pt 4 title 'two-hop floor p99'")
    [ -s "$s" ] && plots+=("'$s' using 1:4 with points pt 9 ps 1.5 title 'supervisord listener p50'"
        "'$s' using 1:5 with points pt 11 ps 1.5 title 'supervisord listener p99'")
    {
        svg_header "Exit latency: kill(SIGKILL) → the exit event read by a subscriber" \
            "other buckets alive (log scale; 0 drawn at 1)" "latency (µs, log scale)"
        echo "set logscale xy"
        echo "set label 1 'p50 and p99 only: this results.json predates the kept quantiles' at graph 0.02, graph 0.04 font ',9'"
        echo "set output '$out/exit-latency.svg'"
        # 0 alive cannot sit on a log axis: it is drawn at 1.
        (IFS=,; echo "plot ${plots[*]}" | sed "s/using 1:/using (\$1 < 1 ? 1 : \$1):/g")
    } >"$work/exit.gp"
fi

# ---- create rate against buckets alive ----------------------------------------------------
jq -r '.rows[] | select(.section == "create" and (.skipped | not) and (.name | test("^create [0-9]+, (sequential|pipelined), C\\+\\+ ack handler, [0-9]+ alive$")))
    | (.name | capture("(?<mode>sequential|pipelined), C\\+\\+ ack handler, (?<n>[0-9]+) alive")) as $m
    | "\($m.mode) \($m.n) \(.kvd.value) \(.ref.value // "NaN")"' "$results" >"$work/create"
awk '$1 == "sequential" {print $2, $3, $4}' "$work/create" | sort -n >"$work/create-seq"
awk '$1 == "pipelined" {print $2, $3}' "$work/create" | sort -n >"$work/create-pipe"
row "create rate per 1000-bucket chunk while growing to 10000" |
    jq -r 'if . == null then empty else .kvd.per_rep | to_entries[] | "\(.key * 1000 + 500) \(.value)" end' >"$work/create-grow"
plots=("'$work/create-seq' using 1:2 with linespoints lw 2 pt 7 title 'kvd, sequential'"
    "'$work/create-pipe' using 1:2 with linespoints lw 2 pt 5 title 'kvd, pipelined'"
    "'$work/create-seq' using 1:3 with linespoints dt 2 pt 6 title 'uv_spawn floor'")
[ -s "$work/create-grow" ] && plots+=("'$work/create-grow' using 1:2 with linespoints pt 1 title 'kvd, pipelined, each 1000 while growing to 10,000'")
{
    svg_header "Create rate against buckets alive (sync C++ handler attached)" \
        "buckets alive" "buckets created per second"
    echo "set yrange [0:*]"
    echo "set xrange [-500:10500]"
    echo "set output '$out/create-rate.svg'"
    (IFS=,; echo "plot ${plots[*]}")
} >"$work/create.gp"

# ---- notify throughput against subscribers ------------------------------------------------
jq -r '.rows[] | select(.section == "notify" and (.skipped | not) and (.name | test("subscribers?, delivered$")))
    | "\(.name | capture("→ (?<n>[0-9]+) sub").n) \(.kvd.value) \(.ref.value // "NaN")"' "$results" |
    sort -n >"$work/notify"
{
    svg_header "Notify throughput against async subscribers" "subscribers" "events delivered per second"
    echo "set yrange [0:*]"
    echo "set xrange [0:*]"
    echo "set format y '%.1s%c'"
    echo "set output '$out/notify-rate.svg'"
    echo "plot '$work/notify' using 1:2 with linespoints lw 2 pt 7 title 'kvd', '$work/notify' using 1:3 with linespoints dt 2 pt 6 title 'Redis pub/sub'"
} >"$work/notify.gp"

for plot in exit create notify; do
    gnuplot "$work/$plot.gp"
done
echo "bench/plot.sh: wrote $out/exit-latency.svg, $out/create-rate.svg, $out/notify-rate.svg"
