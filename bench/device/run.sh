#!/usr/bin/env bash
# The device check, run on a CUDA machine without .NET (the `device` tool's machine), from the repository root:
#   bash bench/device/run.sh            (after bench/device/pack.sh here, carrying .device)
# 1. the ILGPU fixtures (backend contract, backend agreement, strategies) on the GPU: WOODFISHER_TEST_DEVICE=1;
# 2. `woodfisher bench` on cpu and ilgpu: the default grid, then cells of the paper's sizes;
# 3. a model-mode prune of mlp:784-300-100-10 with --backend cpu and ilgpu from the same trained model.
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
cli="dotnet $work/bin/cli/woodfisher.dll"
step() {  # step NAME SECONDS COMMAND...: runs and logs one step; its exit status goes to steps.txt
  local name=$1 limit=$2; shift 2
  local start=$SECONDS
  timeout "$limit" "$@" > "$out/$name.log" 2>&1
  local rc=$?
  echo "$name rc=$rc $((SECONDS - start)) s" | tee -a "$out/steps.txt"
  tail -n 25 "$out/$name.log"
}

step tests 150 env WOODFISHER_TEST_DEVICE=1 dotnet "$work/bin/runner/WoodFisher.TestRunner.dll" \
  "$work/bin/kernels-tests/WoodFisher.Kernels.Tests.dll" --where 'Ilgpu|BackendAgreement|StrategyTests|RankKUpdateTests'
step bench 90 $cli bench --backend cpu,ilgpu --report "$out/bench.json"
step bench-large 120 $cli bench --backend cpu,ilgpu --repeats 2 --grid 512:1024:65536,1000:128:256000,2000:128:256000 --report "$out/bench-large.json"
m=$work/mlp.safetensors
step train 40 $cli train --arch mlp:784-300-100-10 --epochs 2 --seed 1 --out "$m"
for b in cpu ilgpu; do
  step prune-$b 50 $cli prune --model "$m" --method woodfisher --sparsity 0.9 --block 400 --damping 1e-5 --samples 1000 --backend $b --out "$work/pruned-$b.safetensors" --report "$out/prune-$b.json"
done
