#!/usr/bin/env bash
# The device check, run on a CUDA machine without .NET (the `device` tool's machine), from the repository root:
#   bash bench/device/run.sh [STEP…]      (after bench/device/pack.sh here, carrying .device; default: every step)
# tests      the ILGPU fixtures (backend contract, backend agreement, strategies) on the GPU: WOODFISHER_TEST_DEVICE=1;
# large      `woodfisher bench` on ilgpu at the paper's sizes, this build and (its first and last cells) the packed
#            baseline build, if any;
# rankk2     meanwhile, on cores 0 and 1 alone, the rank-k cells of the CPU backend, 5 runs (as CI's 2 cores);
# profile    the bench's ilgpu-profile: the rank-k update's phases on the device, and host-to-device copy rates;
# bench      `woodfisher bench` on cpu and ilgpu, the default grid, every core;
# inference  bench-inference of the packed models on cores 2 and up (the first model is the dense baseline), and with
#            the baseline build.
# Environment: WHERE (the tests' name filter), CELLS (the profile's cells), BATCH (the inference batch sizes).
# Logs and reports go into one archive, $OUT/device-out.tgz (else ./device-out/): the device tool brings back few files.
# Each step has its own time limit so one hang costs only its step.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
final=${OUT:-$root/device-out}
work=/tmp/woodfisher-device
out=$work/out
rm -rf "$work" && mkdir -p "$out" "$final"
trap 'tar -czf "$final/device-out.tgz" -C "$out" .' EXIT
tar -xJf "$root/.device/woodfisher-device.tar.xz" -C "$work" || { echo "device: cannot unpack .device/woodfisher-device.tar.xz (run bench/device/pack.sh and carry .device)"; exit 1; }
export DOTNET_ROOT=$work/dotnet PATH=$work/dotnet:$PATH DOTNET_SYSTEM_GLOBALIZATION_INVARIANT=1 DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

# ILGPU opens the driver as libcuda.so; images often ship only libcuda.so.1.
if ! ldconfig -p | grep -q 'libcuda\.so '; then
  lib=$(ldconfig -p | awk '/libcuda\.so\.1 /{print $NF; exit}')
  [ -n "$lib" ] || lib=$(find /usr/local/nvidia /usr/lib /usr/lib64 -name 'libcuda.so.1' 2>/dev/null | head -1)
  if [ -n "$lib" ]; then mkdir -p "$work/lib" && ln -sf "$lib" "$work/lib/libcuda.so"; export LD_LIBRARY_PATH=$work/lib:${LD_LIBRARY_PATH:-}; fi
fi

{ nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv; nproc; grep -m1 'model name' /proc/cpuinfo;
  grep -o -m1 'avx512f' /proc/cpuinfo; uptime; } > "$out/machine.txt" 2>&1
cat "$out/machine.txt"
cores=$(nproc)
rest="2-$((cores - 1))"
cli="dotnet $work/bin/cli/woodfisher.dll"
on_pair='' on_rest=''  # taskset prefixes: cores 0 and 1, the other cores (any core where taskset is missing)
if command -v taskset > /dev/null; then on_pair='taskset -c 0,1' on_rest="taskset -c $rest"; fi
steps=" ${*:-tests large rankk2 profile bench inference} "
want() { [[ $steps == *" $1 "* ]]; }
step() {  # step NAME SECONDS COMMAND...: runs and logs one step; its exit status goes to steps.txt
  local name=$1 limit=$2; shift 2
  local start=$SECONDS
  timeout "$limit" "$@" > "$out/$name.log" 2>&1
  local rc=$?
  echo "$name rc=$rc $((SECONDS - start)) s" | tee -a "$out/steps.txt"
  tail -n 25 "$out/$name.log"
}

pinned=
if want rankk2; then
  ( for r in 1 2 3 4 5; do
      timeout 40 $on_pair $cli bench --backend cpu --grid 512:1024:2048,1024:1024:4096 --repeats 10 --report "$out/rankk-2cores-$r.json" > "$out/rankk-2cores-$r.log" 2>&1
    done ) &
  pinned=$!
fi
want tests && step tests 150 env WOODFISHER_TEST_DEVICE=1 $on_rest dotnet "$work/bin/runner/WoodFisher.TestRunner.dll" \
  "$work/bin/kernels-tests/WoodFisher.Kernels.Tests.dll" --where "${WHERE:-Ilgpu|BackendAgreement|StrategyTests|RankKUpdateTests}"
large=512:1024:65536,1000:128:256000,2000:128:256000,2000:400:256000
want profile && step profile 120 $on_rest dotnet "$work/bin/bench/WoodFisher.Bench.dll" ilgpu-profile ${CELLS:-512:1024:65536 2000:128:256000 2000:400:256000}
want large && step bench-large 120 $on_rest $cli bench --backend ilgpu --repeats 3 --grid $large --report "$out/bench-large.json"
if want large && [ -d "$work/bin/cli-base" ]; then
  step bench-large-base 150 $on_rest dotnet "$work/bin/cli-base/woodfisher.dll" bench --backend ilgpu --repeats 3 --grid ${large%%,*},${large##*,} --report "$out/bench-large-base.json"
fi
if [ -n "$pinned" ]; then
  wait $pinned
  grep -h 'rankk\|peak' "$out"/rankk-2cores-*.log
fi
want bench && step bench 90 $cli bench --backend cpu,ilgpu --report "$out/bench.json"
if want inference && [ -d "$work/models" ]; then
  models=$(ls "$work"/models/*.safetensors)
  dense=$(echo "$models" | head -1)
  for m in $(echo "$models" | tail -n +2); do
    step "inference-$(basename "$m" .safetensors)" 40 $on_rest $cli bench-inference --model "$m" --baseline "$dense" --batch "${BATCH:-1,64}" --runs 5
    if [ -d "$work/bin/cli-base" ]; then
      step "inference-base-$(basename "$m" .safetensors)" 40 $on_rest dotnet "$work/bin/cli-base/woodfisher.dll" bench-inference --model "$m" --baseline "$dense" --batch "${BATCH:-1,64}" --runs 5
    fi
  done
fi
