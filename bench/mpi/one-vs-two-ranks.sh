#!/usr/bin/env bash
# 1 vs 2 ranks of `woodfisher prune` in tensor mode: d = 2,000,000, c = 512, m = 64 (4 GB of float32 blocks).
# Usage: bench/mpi/one-vs-two-ranks.sh DIR [REPEATS]   (DIR gets G.npy, w.npy and results.csv; run from the repository root
# after `dotnet build WoodFisher.sln -c Release`). Each repeat runs the single process, then 2 ranks under mpirun, and
# appends one CSV row per process: run, ranks, rank, wall seconds, CPU seconds (user + system), peak RSS bytes, the
# 1-minute load average, and the inverse build's wall seconds from the run's report. On a shared machine the CPU seconds
# are the steadier figure: with both cores busy, 2 ranks cannot finish sooner than 1 process that already uses both.
set -euo pipefail
dir=${1:?usage: $0 DIR [REPEATS]}
repeats=${2:-5}
wf="$(pwd)/tools/WoodFisher.Cli/bin/Release/net10.0/woodfisher.dll"
mkdir -p "$dir"
cd "$dir"
if [[ ! -f G.npy ]]; then
  /usr/bin/python3 - <<'PY'
import numpy as np
rng = np.random.default_rng(1)
m, d = 64, 2_000_000
G = np.lib.format.open_memmap('G.npy', mode='w+', dtype=np.float32, shape=(m, d))
for i in range(m):
    G[i] = rng.standard_normal(d, dtype=np.float32) * (1 + (np.arange(d) % 7).astype(np.float32))
G.flush()
np.save('w.npy', rng.standard_normal(d).astype(np.float32))
PY
fi
args=(prune --weights w.npy --grads G.npy --block 512 --damping 0.1 --sparsity 0.9)
[[ -f results.csv ]] || echo "run,ranks,rank,seconds,cpu_seconds,peak_bytes,load1,inverse_seconds" > results.csv
load() { cut -d' ' -f1 /proc/loadavg; }
inverse() { /usr/bin/python3 -c "import json,sys; r=json.load(open(sys.argv[1])); rs=r.get('Ranks'); print(rs[int(sys.argv[2])]['Seconds']['inverse'] if rs else r['Seconds']['Inverse'])" "$@"; }
for ((k = 1; k <= repeats; k++)); do
  echo "bench: repeat $k of $repeats: 1 process" >&2
  /usr/bin/time -f "time %e %M %U %S" -o time1.txt dotnet "$wf" "${args[@]}" --out out1.npy --mask mask1.npy --report r1.json > log1.txt 2>&1
  read -r _ s kb u sy < time1.txt
  echo "$k,1,0,$s,$(echo "$u + $sy" | bc),$((kb * 1024)),$(load),$(inverse r1.json 0)" >> results.csv
  echo "bench: repeat $k of $repeats: 2 ranks" >&2
  mpirun --allow-run-as-root --oversubscribe -np 2 bash -c \
    '/usr/bin/time -f "time %e %M %U %S" -o time2-$OMPI_COMM_WORLD_RANK.txt dotnet "$0" "$@"' "$wf" "${args[@]}" --out out2.npy --mask mask2.npy --report r2.json > log2.txt 2>&1
  for r in 0 1; do
    read -r _ s kb u sy < "time2-$r.txt"
    echo "$k,2,$r,$s,$(echo "$u + $sy" | bc),$((kb * 1024)),$(load),$(inverse r2.json $r)" >> results.csv
  done
  /usr/bin/python3 -c "import numpy as np; a, b = np.load('mask1.npy'), np.load('mask2.npy'); assert (a == b).all(), 'masks differ'; print('bench: masks equal; max |w1 - w2| =', np.abs(np.load('out1.npy') - np.load('out2.npy')).max())" >&2
done
cat results.csv
