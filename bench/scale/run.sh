#!/bin/bash
# Large tensor-mode runs of `woodfisher prune` (docs/performance.md, "Larger than memory"). Synthetic gradients
# (make_gradients.py: noise plus a shared direction, not a trained network's). Needs ~16 GB of disk for resnet50 and
# the machine to itself; each run records load, wall time and peak RSS.
#
#   bench/scale/run.sh d10m      # d = 10,000,000, c = 256, m = 64, in memory (2.56 GB G.npy)
#   bench/scale/run.sh resnet50  # d = 25,557,032, m = 128 (13 GB G.npy), c = 1,000 and 2,000 under --memory 8G
#
# WF (the woodfisher executable) and DIR (where G.npy goes; deleted at the end unless KEEP=1) may be set.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
WF=${WF:-$here/../../tools/WoodFisher.Cli/bin/Release/net10.0/woodfisher}
DIR=${DIR:-/work/big}
case "${1:-}" in
  d10m) d=10000000; m=64; runs=("--block 256") ;;
  resnet50) d=25557032; m=128; runs=("--block 1000 --memory 8G" "--block 2000 --memory 8G") ;;
  *) echo "usage: $0 d10m|resnet50" >&2; exit 2 ;;
esac
out=$DIR/$1
/usr/bin/python3 "$here/make_gradients.py" --d $d --m $m --out "$out" | tail -1
for args in "${runs[@]}"; do
  for i in 1 2 3; do
    free -g | head -2
    echo "== $args (run $i) $(uptime)"
    # shellcheck disable=SC2086
    /usr/bin/time -f "wall %e s, user %U s, sys %S s, maxrss %M KB" "$WF" prune --weights "$out/W.npy" --grads "$out/G.npy" \
      $args --damping 1e-4 --sparsity 0.5 --out "$out/w.npy" --report "$out/report.json"
    echo "== end $(uptime)"
  done
done
# The in-memory rank-k build of the same (c, m) and the FMA peak, in the same session: the denominators of pass 1's rate.
echo "== bench $(uptime)"
case "$1" in
  d10m) "$WF" bench --backend cpu --grid 256:64:250000 --repeats 3 ;;
  resnet50) "$WF" bench --backend cpu --grid 1000:128:16000,2000:128:16000 --repeats 3 ;;
esac
[ "${KEEP:-0}" = 1 ] || rm -rf "$out"
