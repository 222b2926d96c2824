#!/usr/bin/env bash
# Fuzzes one reader with AFL++ on one core: tests/WoodFisher.Fuzz/run.sh TARGET [EXECUTIONS] [CORE]
#   TARGET      npy | npz | safetensors | idx | spec
#   EXECUTIONS  stop after this many executions (default 1000000; afl-fuzz -E)
#   CORE        the CPU the fuzzer is pinned to (default 1); FUZZ_NICE=N lowers its priority
# Needs afl++ (Debian: apt-get install afl++). Findings go to $FUZZ_OUT/TARGET (default tests/WoodFisher.Fuzz/findings,
# ignored by git); a crash or hang found there is copied to crashers/TARGET/, where the replay tests run it in CI.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
target=${1:?usage: run.sh npy|npz|safetensors|idx|spec [EXECUTIONS] [CORE]}
execs=${2:-1000000}
core=${3:-1}
out=${FUZZ_OUT:-$here/findings}/$target
build=$here/bin/fuzz

dotnet build "$here/WoodFisher.Fuzz.csproj" -c Release -o "$build" -nologo -v quiet
(cd "$here" && dotnet tool restore >/dev/null && dotnet sharpfuzz "$build/WoodFisher.Models.dll")

mkdir -p "$out"
# The GC's hard limit turns any allocation the budget (64 MiB) failed to stop into an OutOfMemoryException, which
# escapes the target and is recorded as a crash; one GC heap and no tiering keep the run on its one core.
export DOTNET_GCHeapHardLimit=0x20000000 DOTNET_gcServer=0 DOTNET_GCHeapCount=1 DOTNET_TieredCompilation=0
export AFL_SKIP_BIN_CHECK=1 AFL_NO_UI=1 AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_AFFINITY=1
exec nice -n "${FUZZ_NICE:-0}" taskset -c "$core" afl-fuzz -i "$here/corpus/$target" -o "$out" -t 5000 -m none -E "$execs" \
  -- dotnet "$build/WoodFisher.Fuzz.dll" "$target"
