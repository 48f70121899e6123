#!/usr/bin/env bash
# radio-embed's throughput on a folder of images against the bare forward (--bench) of the same
# model on the same backend. Goal: images/s within 5% of the bare forward, i.e. decode, resize
# and write are overlapped with the forward or negligible.
#
# usage: benchmarks/cli_throughput.sh [BUILD_DIR] [BACKEND] [SIZE] [COUNT] [MODEL]
#   defaults: build cpu 512 64 models/radio/configs/c-radio-v3-b.json (C-RADIOv3-B/16, random weights)
set -euo pipefail
BUILD=${1:-build}
BACKEND=${2:-cpu}
SIZE=${3:-512}
COUNT=${4:-64}
MODEL=${5:-models/radio/configs/c-radio-v3-b.json}
BENCH_RUNS=${BENCH_RUNS:-5}
CLI=$BUILD/examples/radio-embed
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

source "$(dirname "$0")/machine.sh"
echo "machine: $(cpu_description), $(nproc) cores; $(fma_peak "$BUILD" "$(nproc)"); OMP_NUM_THREADS=${OMP_NUM_THREADS-unset} OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE-unset}"
echo "model $MODEL, backend $BACKEND, $COUNT images of ${SIZE}x${SIZE} (JPEG), bare forward: median of $BENCH_RUNS"
"$BUILD/examples/radio-make-images" --out "$tmp/img" --count "$COUNT" --size "$SIZE" >/dev/null

# The CLI over the folder; its --verbose summary times the run after the model is loaded.
"$CLI" --model "$MODEL" --backend "$BACKEND" "$tmp/img" --out-dir "$tmp/out" --quiet --verbose >/dev/null 2>"$tmp/cli.txt"
line=$(grep "inputs in" "$tmp/cli.txt")
echo "cli:  $line"
cli_ips=$(sed -E 's/.*\(([0-9.]+) images\/s\).*/\1/' <<<"$line")

# The bare forward of one image of the same size, timed by --bench.
"$CLI" --model "$MODEL" --backend "$BACKEND" --input "$tmp/img/img_000.jpg" --bench "$BENCH_RUNS" --quiet 2>"$tmp/bench.txt" >/dev/null
bench=$(tail -n 1 "$tmp/bench.txt")
echo "bare: $bench"
median_ms=$(sed -E 's/forward: median ([0-9.]+) ms.*/\1/' <<<"$bench")

awk -v cli="$cli_ips" -v ms="$median_ms" 'BEGIN {
  bare = 1000.0 / ms;
  printf "images/s: cli %.3f, bare forward %.3f, ratio %.3f (goal >= 0.95)\n", cli, bare, cli / bare;
}'
