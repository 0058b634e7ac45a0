#!/usr/bin/env bash
# The checks only a GPU can make, in one go, each step under its own time limit so that one slow
# or broken step does not lose the others' results:
#
#     bash scripts/gpu_checks.sh RESULTS_DIR [STEP ...]
#
# Steps (default: all, in this order):
#   kernel   the Pallas kernel compiled for the GPU against the XLA renderer (gp-render's tests),
#            and the scripted street scene rendered by both backends (GIFs to look at)
#   render   scripts/bench.py render --preset gpu  (Pallas and XLA, agent-frames/s)
#   teacher  scripts/bench.py teacher --preset gpu (PPO self-play, agent-steps/s with the update)
#   world    scripts/bench.py world --preset gpu   (world step, agent-steps/s)
#   dagger   scripts/bench.py dagger --preset gpu  (self-play DAgger, agent-steps/s)
#
# Every step writes its output under RESULTS_DIR (benchmarks: JSON lines in bench_STEP.jsonl, the
# Markdown table in bench_STEP.md); a summary of the steps' exit codes ends the run. The packages
# are used from the checkout (PYTHONPATH), so nothing needs installing but the dependencies.
set -u
results=${1:?usage: gpu_checks.sh RESULTS_DIR [STEP ...]}
shift
steps=("$@")
[ ${#steps[@]} -eq 0 ] && steps=(kernel render teacher world dagger)
mkdir -p "$results"
cd "$(dirname "$0")/.."
for p in packages/*/src; do PYTHONPATH="$PWD/$p:${PYTHONPATH:-}"; done
export PYTHONPATH PYTHONUNBUFFERED=1
REPEATS=${REPEATS:-5}
# Seconds each step may take (override per step, e.g. LIMIT_teacher=300).
declare -A limit=([kernel]=180 [render]=180 [teacher]=240 [world]=150 [dagger]=180)

{
    date -u +%FT%TZ
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
    nproc
    python3 -c 'import jax; print("jax", jax.__version__, jax.devices())'
} >"$results/machine.txt" 2>&1
cat "$results/machine.txt"

summary=()
for step in "${steps[@]}"; do
    var="LIMIT_$step"
    seconds=${!var:-${limit[$step]:-180}}
    start=$(date +%s)
    case $step in
    kernel)
        timeout "$seconds" bash -c "
            python3 -m pytest packages/gp-render/tests/test_backends.py --all -q -k 'gpu or cuda' \
                -p no:cacheprovider &&
            python3 scripts/render_video.py --backend pallas --frames 30 --png-dir None \
                --out '$results/street_pallas.gif' &&
            python3 scripts/render_video.py --backend xla --frames 30 --png-dir None \
                --out '$results/street_xla.gif'" >"$results/kernel.txt" 2>&1
        ;;
    render | teacher | world | dagger)
        timeout "$seconds" python3 scripts/bench.py "$step" --preset gpu --repeats "$REPEATS" \
            >"$results/bench_$step.jsonl" 2>"$results/bench_$step.md"
        ;;
    *)
        echo "unknown step $step" >&2
        false
        ;;
    esac
    code=$?
    summary+=("$step: exit $code in $(($(date +%s) - start)) s")
    echo "${summary[-1]}"
done
printf '%s\n' "${summary[@]}" >"$results/summary.txt"
for f in "$results"/bench_*.md; do [ -f "$f" ] && grep '^|' "$f"; done
tail -n 3 "$results/kernel.txt" 2>/dev/null || true
