#!/usr/bin/env bash
# cuda_module.sh RADIO_EMBED MODEL INPUT OUT_DIR: the CLI's CUDA part is a module the program loads
# only for --backend cuda (examples/CMakeLists.txt).
#   1. Beside the program it loads and runs: a forward where there is a GPU, else the CUDA
#      runtime's own "no CUDA device found" — never a load error.
#   2. A copy of the program without its module refuses --backend cuda in one line naming the
#      module, cleanly (expect_error.sh), and still runs on the reference backend (it no longer needs the CUDA libraries).
set -u
exe=$1 model=$2 input=$3 out=$4
rm -rf "$out" && mkdir -p "$out/alone"
err=$("$exe" --model "$model" --input "$input" --summary "$out/s.npy" --backend cuda 2>&1 >/dev/null)
rc=$?
echo "beside the module (exit $rc): $err"
if [ $rc -ne 0 ] && ! grep -q "cuda: no CUDA device found" <<<"$err"; then
  echo "cuda_module: expected a forward or 'no CUDA device found'"; exit 1
fi
alone="$out/alone/$(basename "$exe")"
cp "$exe" "$alone"
echo "without the module:"
"$(dirname "$0")/expect_error.sh" "CUDA module radio-embed-cuda.so is missing" "$out/refused" \
  "$alone" --model "$model" --input "$input" --summary "$out/refused/s.npy" --backend cuda || exit 1
"$alone" --model "$model" --input "$input" --summary "$out/alone/s.npy" --backend reference --quiet ||
  { echo "cuda_module: the program without its module must still run on the reference backend"; exit 1; }
echo "cuda_module: ok"
