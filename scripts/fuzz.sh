#!/usr/bin/env bash
# Builds the libFuzzer targets (clang++ -fsanitize=fuzzer,address,undefined) into build-fuzz/ and
# runs each for a set time at nice 19.
#
#   scripts/fuzz.sh [-t SECONDS] [-j PARALLEL] [--build-only] [--seeds] [TARGET...]
#
# TARGET is any of: safetensors npy config image (default: all). -t is the time per target
# (default 600 s, libFuzzer -max_total_time); -j how many targets run at once (default 1).
# The seed corpus fuzz/corpus/<target>/ is copied into build-fuzz/corpus/<target>/, which grows;
# crashes land in build-fuzz/artifacts/<target>/ and logs in build-fuzz/logs/<target>.log.
# The last libFuzzer stats line (execs, cov, ft) of each run is printed at the end.
# --seeds regenerates fuzz/corpus/ with fuzz/make_seeds.cpp. Environment: CXX (default clang++-14).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
out=$repo/build-fuzz
secs=600
jobs=1
build_only=0
seeds=0
targets=()
while (($#)); do
  case $1 in
    -t) secs=$2; shift 2 ;;
    -j) jobs=$2; shift 2 ;;
    --build-only) build_only=1; shift ;;
    --seeds) seeds=1; shift ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    safetensors|npy|config|image) targets+=("$1"); shift ;;
    *) echo "fuzz.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
((${#targets[@]})) || targets=(safetensors npy config image)
cxx=${CXX:-clang++-14}
flags=(-std=c++20 -O1 -g -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
       -I"$repo/include" -I"$repo/image/include" -I"$repo/models/radio/include" -I"$repo/models/timm/include" -I"$repo/backends/reference/include"
       -DVIT_FUZZ_CHECKPOINT="\"$repo/tests/data/radio/A/model.safetensors\"")
mkdir -p "$out"/{bin,corpus,artifacts,logs}

if ((seeds)); then
  "$cxx" -std=c++20 -O1 -w -I"$repo/include" -I"$repo/image/include" -I"$repo/models/radio/include" "$repo/fuzz/make_seeds.cpp" -o "$out/bin/make_seeds"
  rm -rf "$repo/fuzz/corpus"
  "$out/bin/make_seeds" "$repo/fuzz/corpus" "$repo"
fi

for t in "${targets[@]}"; do
  echo "== building fuzz_$t"
  nice -n 19 "$cxx" "${flags[@]}" "$repo/fuzz/fuzz_$t.cpp" -o "$out/bin/fuzz_$t"
done
((build_only)) && exit 0

run_one() {
  local t=$1 dict=()
  mkdir -p "$out/corpus/$t" "$out/artifacts/$t"
  cp -n "$repo/fuzz/corpus/$t/"* "$out/corpus/$t/" 2>/dev/null || true
  [[ $t == config || $t == safetensors ]] && dict=(-dict="$repo/fuzz/json.dict")
  # malloc_limit / rss_limit: an input that makes a loader allocate > 2 GiB is a finding too.
  ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=0 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    nice -n 19 "$out/bin/fuzz_$t" "$out/corpus/$t" "${dict[@]}" -max_total_time="$secs" -rss_limit_mb=2560 \
    -malloc_limit_mb=2048 -timeout=25 -print_final_stats=1 -artifact_prefix="$out/artifacts/$t/" >"$out/logs/$t.log" 2>&1
}

status=0
pids=()
names=()
for t in "${targets[@]}"; do
  echo "== fuzzing $t for ${secs}s (log: $out/logs/$t.log)"
  run_one "$t" &
  pids+=($!)
  names+=("$t")
  if ((${#pids[@]} >= jobs)); then
    wait "${pids[0]}" || { echo "!! ${names[0]}: libFuzzer exited non-zero (a finding?)"; status=1; }
    pids=("${pids[@]:1}")
    names=("${names[@]:1}")
  fi
done
for i in "${!pids[@]}"; do
  wait "${pids[$i]}" || { echo "!! ${names[$i]}: libFuzzer exited non-zero (a finding?)"; status=1; }
done

echo "== summary"
for t in "${targets[@]}"; do
  last=$(grep -E '^#[0-9]+' "$out/logs/$t.log" | tail -n 1 || true)
  execs=$(grep -E '^stat::number_of_executed_units' "$out/logs/$t.log" | awk '{print $2}' || true)
  crashes=$(ls "$out/artifacts/$t" 2>/dev/null | wc -l)
  printf '%-12s execs=%s crashes=%s last: %s\n' "$t" "${execs:-?}" "$crashes" "$last"
done
exit $status
