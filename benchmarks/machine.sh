# What the benchmark scripts print beside every figure (sourced: `source benchmarks/machine.sh`):
#   cpu_description          e.g. "AMD EPYC (family 25 model 1; avx2 fma)"
#                            (lscpu's model name, which a VM may shorten, plus the family/model
#                            numbers and the vector features the cpu backend chooses kernels by)
#   fma_peak BUILD THREADS   e.g. "201.3 GFLOP/s (measured FMA peak, 2 threads, 8-wide fp32 vectors)",
#                            from BUILD/benchmarks/vit-fma-peak (built with the benchmarks)
cpu_description() {
  local name family model flags
  name="$(lscpu | sed -n 's/^Model name:[[:space:]]*//p' | head -1)"
  family="$(sed -n 's/^cpu family[[:space:]]*:[[:space:]]*//p' /proc/cpuinfo | head -1)"
  model="$(sed -n 's/^model[[:space:]]*:[[:space:]]*//p' /proc/cpuinfo | head -1)"
  flags="$(grep -o -w -E 'avx2|fma|avx512f|avx512_bf16|amx_tile' /proc/cpuinfo | sort -u | tr '\n' ' ')"
  echo "${name:-unknown CPU} (family ${family:-?} model ${model:-?}; ${flags% })"
}

fma_peak() {
  local exe="$1/benchmarks/vit-fma-peak"
  if [[ -x $exe ]]; then "$exe" "$2"; else echo "not measured ($exe not built: configure with VIT_BUILD_BENCHMARKS=ON)"; fi
}
