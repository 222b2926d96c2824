#!/usr/bin/env bash
# Packs what bench/device/run.sh needs on a GPU machine that has no .NET: this machine's .NET runtime (no SDK), the
# Release builds of the CLI, the test runner, the kernel tests and the bench's verbs (linux-x64 native libraries only),
# as one xz tarball at .device/woodfisher-device.tar.xz (ignored by git; carry the folder .device to the device machine).
# Build first: dotnet build WoodFisher.sln -c Release
# Arguments: model files (.safetensors) for run.sh's inference step, dense first (its baseline), then pruned ones.
# BASE=DIR also packs another Release build of the CLI (DIR holds its woodfisher.dll), which run.sh times beside this
# one in the same run.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
dotnet_root=$(dirname "$(readlink -f "$(command -v dotnet)")")
runtime=$(ls -d "$dotnet_root"/shared/Microsoft.NETCore.App/10.* | sort -V | tail -1)
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/dotnet/shared/Microsoft.NETCore.App" "$stage/bin"
cp -a "$dotnet_root/dotnet" "$dotnet_root/host" "$stage/dotnet/"
cp -a "$runtime" "$stage/dotnet/shared/Microsoft.NETCore.App/"
copy_build() {  # copy_build NAME DIR: a build output without other platforms' native libraries
  mkdir -p "$stage/bin/$1"
  (cd "$2" && tar -cf - --exclude='./runtimes/*' --exclude='./publish' --exclude='./linux-x64' --exclude='*.pdb' --exclude='./TestResults' . ) | tar -xf - -C "$stage/bin/$1"
  if [ -d "$2/runtimes/linux-x64" ]; then mkdir -p "$stage/bin/$1/runtimes" && cp -a "$2/runtimes/linux-x64" "$stage/bin/$1/runtimes/"; fi
}
copy_build cli tools/WoodFisher.Cli/bin/Release/net10.0
copy_build runner tests/WoodFisher.TestRunner/bin/Release/net10.0
copy_build kernels-tests tests/WoodFisher.Kernels.Tests/bin/Release/net10.0
if [ -n "${BASE:-}" ]; then copy_build cli-base "$BASE"; fi
# The bench's command verbs only (ilgpu-profile): without its deps.json the host takes the assemblies beside it, so the
# BenchmarkDotNet suites' own dependencies (Roslyn, TraceEvent: 190 MB) can stay behind.
mkdir -p "$stage/bin/bench"
(cd bench/WoodFisher.Bench/bin/Release/net10.0 && cp WoodFisher.*.dll ILGPU*.dll System.Numerics.Tensors.dll BenchmarkDotNet*.dll WoodFisher.Bench.runtimeconfig.json "$stage/bin/bench/")
i=0
for m in "$@"; do mkdir -p "$stage/models" && cp "$m" "$stage/models/$i-$(basename "$m")"; i=$((i + 1)); done
mkdir -p .device
grep -qx '/.device/' .git/info/exclude 2>/dev/null || echo '/.device/' >> "$(git rev-parse --git-common-dir)/info/exclude"
tar -C "$stage" -cf - . | xz -T2 -6 > .device/woodfisher-device.tar.xz
ls -l .device/woodfisher-device.tar.xz
