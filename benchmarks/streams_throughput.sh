#!/usr/bin/env bash
# Throughput of the cpu backend (issue 13): images/s of radio-embed over a folder of generated JPEGs
# at batch 1, 8 and 32 and with 2 streams sharing one set of weights (--streams), same total
# threads; plus the process's max RSS (one copy of the weights + the workspaces). Median of --reps
# runs each; every configuration runs in the same invocation, in turn.
#   benchmarks/streams_throughput.sh [--build-dir DIR] [--threads N] [--size S] [--count N] [--reps N]
#                                    [--model CONFIG] [--configs "b1 b8 b32 s2 s2b8"]
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="$repo/build" threads=2 size=224 count=64 reps=3 model="$repo/models/radio/configs/c-radio-v3-b.json" configs="b1 b8 b32 s2 s2b8"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --build-dir) build="$(realpath -m "$2")"; shift ;;
    --threads) threads="$2"; shift ;;
    --size) size="$2"; shift ;;
    --count) count="$2"; shift ;;
    --reps) reps="$2"; shift ;;
    --model) model="$(realpath -m "$2")"; shift ;;
    --configs) configs="$2"; shift ;;
    -h|--help) sed -n '2,7p' "$0"; exit 0 ;;
    *) echo "streams_throughput.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
  shift
done
cli="$build/examples/radio-embed"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
unset OPENBLAS_CORETYPE
export OMP_WAIT_POLICY=PASSIVE
"$build/examples/radio-make-images" --out "$tmp/img" --count "$count" --size "$size" >/dev/null

source "$repo/benchmarks/machine.sh"
echo "CPU: $(cpu_description), $(nproc) cores; threads $threads in all; at the start: $(fma_peak "$build" "$threads"); OPENBLAS_CORETYPE unset,"\
     "OMP_WAIT_POLICY=PASSIVE; $(basename "$model") random weights, $count JPEGs of ${size}x${size}; commit $(git -C "$repo" rev-parse --short HEAD), $(date -u +%F)"
echo
echo "| configuration | images/s (median of $reps) | runs | max RSS MiB |"
echo "|---|---|---|---|"
for c in $configs; do
  case "$c" in
    b*) args=(--batch "${c#b}") ;;
    s2) args=(--streams 2) ;;
    s2b*) args=(--streams 2 --batch "${c#s2b}") ;;
    *) echo "unknown configuration $c" >&2; exit 2 ;;
  esac
  python3 - "$reps" "$cli" --model "$model" --backend cpu --threads "$threads" "${args[@]}" "$tmp/img" --out-dir "$tmp/out" --quiet --verbose <<'PY'
import re, resource, statistics, subprocess, sys
reps, cmd = int(sys.argv[1]), sys.argv[2:]
rates = []
for _ in range(reps):
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit("failed: %s\n%s" % (" ".join(cmd), p.stderr))
    rates.append(float(re.search(r"\(([0-9.]+) images/s\)", p.stderr).group(1)))
rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
conf = []
for flag in ("--batch", "--streams"):
    if flag in cmd: conf.append("%s %s" % (flag, cmd[cmd.index(flag) + 1]))
print("| %s | %.2f | %s | %.0f |" % (", ".join(conf) or "batch 1", statistics.median(rates), " ".join("%.2f" % r for r in rates), rss))
PY
  rm -rf "$tmp/out"
done
echo
echo "At the end: $(fma_peak "$build" "$threads"); load average $(cut -d' ' -f1-3 /proc/loadavg)."
