#!/usr/bin/env bash
# C-RADIOv4 measurements (issue 12) on the cpu backend, C-RADIOv4-SO400M with random weights and its
# real shapes (models/radio/configs/c-radio-v4-so400m.json: D 1152, 27 blocks, 16 heads of 72):
#   1. 512x512 batch 1: ours (radio-embed --bench) beside PyTorch fp32 with SDPA and ONNX Runtime
#      (benchmarks/peers, the same ViT in PyTorch), same threads, same run;
#   2. ViTDet: at each size, global attention vs --vitdet W: median forward and max RSS of the process.
# Every engine runs with OPENBLAS_CORETYPE unset and OMP_WAIT_POLICY=PASSIVE, as on a user's machine.
#   benchmarks/radio_v4.sh [--build-dir DIR] [--threads N] [--window W] [--sizes "1024"]
#                          [--windowed-only "2048"] [--runs N] [--no-peers] [--out FILE.md]
# (--windowed-only: sizes where a global forward is too slow for the machine; only ViTDet is timed)
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="$repo/build" threads=2 window=8 sizes="1024" windowed_only="2048" runs=3 peers=1 out=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --build-dir) build="$(realpath -m "$2")"; shift ;;
    --threads) threads="$2"; shift ;;
    --window) window="$2"; shift ;;
    --sizes) sizes="$2"; shift ;;
    --windowed-only) windowed_only="$2"; shift ;;  # sizes where only the ViTDet run is timed
    --runs) runs="$2"; shift ;;
    --no-peers) peers=0 ;;
    --out) out="$(realpath -m "$2")"; shift ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) echo "radio_v4.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done
exe="$build/examples/radio-embed"
[[ -x $exe ]] || { echo "radio_v4.sh: $exe not built (cmake --build $build --target radio-embed)" >&2; exit 1; }
model="$repo/models/radio/configs/c-radio-v4-so400m.json"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
unset OPENBLAS_CORETYPE
export OMP_WAIT_POLICY=PASSIVE
report="${out:-/dev/stdout}"

# A random [1, 3, s, s] input in [0, 1] as .npy (header + float32 data), without numpy.
make_input() {
  python3 - "$1" "$2" <<'PY'
import random, struct, sys
s, path = int(sys.argv[1]), sys.argv[2]
header = "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 3, %d, %d), }" % (s, s)
header += " " * (63 - (len(header) + 10) % 64) + "\n"
rnd = random.Random(0)
with open(path, "wb") as f:
    f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode())
    f.write(struct.pack("<%df" % (3 * s * s), *[rnd.random() for _ in range(3 * s * s)]))
PY
}

# Runs radio-embed with --bench N and prints "median_ms max_rss_mib" (RSS of the whole process).
ours() {
  python3 - "$@" <<'PY'
import re, resource, subprocess, sys
p = subprocess.run(sys.argv[1:], capture_output=True, text=True)
if p.returncode != 0:
    sys.exit("radio_v4.sh: %s failed:\n%s" % (" ".join(sys.argv[1:]), p.stderr))
m = re.search(r"forward: median ([0-9.]+) ms", p.stderr)
print("%s %.0f" % (m.group(1), resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024))
PY
}

source "$repo/benchmarks/machine.sh"
{
  echo "# C-RADIOv4-SO400M on the cpu backend ($(date -u +%F), commit $(git -C "$repo" rev-parse --short HEAD))"
  echo
  echo "CPU: $(cpu_description), $(nproc) cores; threads $threads, OPENBLAS_CORETYPE unset, OMP_WAIT_POLICY=PASSIVE," \
       "random weights, batch 1, fp32. At the start: $(fma_peak "$build" "$threads")."
  echo
} > "$report"

make_input 512 "$tmp/x512.npy"
read -r ms512 rss512 < <(ours "$exe" --model "$model" --input "$tmp/x512.npy" --backend cpu --threads "$threads" --bench "$runs" --quiet)
{
  echo "## 512x512, batch 1: ours beside PyTorch and ONNX Runtime (median of timed forwards)"
  echo
  echo "| engine | median ms | ours is |"
  echo "|---|---|---|"
  printf "| vit cpu (radio-embed --bench %s) | %.0f | — |\n" "$runs" "$ms512"
} >> "$report"
if [[ $peers == 1 ]]; then
  venv="$("$repo/benchmarks/peers/setup_venv.sh")"
  "$venv/bin/python" "$repo/benchmarks/peers/bench_peers.py" --engines torch-sdpa,ort --cases SO400M:512:1 --threads "$threads" \
    --min-iters "$runs" --min-time 1 --out "$tmp/peers.json" 2> "$tmp/peers.log" || { cat "$tmp/peers.log" >&2; exit 1; }
  "$venv/bin/python" - "$tmp/peers.json" "$ms512" >> "$report" <<'PY'
import json, sys
rows, ours = json.load(open(sys.argv[1]))["results"], float(sys.argv[2])
for r in rows:
    if "median_ms" in r:
        print("| %s | %.0f | %.2fx faster |" % (r["engine"], r["median_ms"], r["median_ms"] / ours))
    else:
        print("| %s | failed: %s | |" % (r["engine"], r["error"]))
PY
fi

{
  echo
  echo "## ViTDet: global attention vs windows of ${window}x${window} patches"
  echo
  echo "| size | global: median ms | global: max RSS MiB | ViTDet w=$window: median ms | max RSS MiB | speed-up |"
  echo "|---|---|---|---|---|---|"
} >> "$report"
for s in $sizes $windowed_only; do
  make_input "$s" "$tmp/x.npy"
  n=$runs; [[ $s -ge 2048 ]] && n=1
  gms=0 grss=0
  if [[ " $windowed_only " != *" $s "* ]]; then
    read -r gms grss < <(ours "$exe" --model "$model" --input "$tmp/x.npy" --backend cpu --threads "$threads" --bench "$n" --quiet --allow-large)
  fi
  read -r wms wrss < <(ours "$exe" --model "$model" --input "$tmp/x.npy" --backend cpu --threads "$threads" --bench "$n" --quiet --allow-large --vitdet "$window")
  python3 -c "
g, w = float('$gms'), float('$wms')
print('| %s² | %s | %s | %.0f | %s | %s |' % ($s, '%.0f' % g if g else 'not run', '$grss' if g else '—', w, '$wrss', '%.2fx' % (g / w) if g else '—'))" >> "$report"
done
echo >> "$report"
echo "(--bench N: N timed forwards after a first untimed one; 2048² and above: one timed forward. Load average and FMA peak at the end: $(cut -d' ' -f1-3 /proc/loadavg); $(fma_peak "$build" "$threads").)" >> "$report"
[[ -n $out ]] && cat "$out"
