#!/bin/bash
# Model-mode `woodfisher prune` under memory budgets (docs/performance.md, "Larger than memory"; docs/scale.md): an MLP
# 784-1000-10 (d = 794,000 weights) trained one epoch on the repository's Fashion-MNIST slice, pruned to 50% with
# c = 100 from 128 per-sample gradients, λ fixed, float32 blocks, in memory and under --memory budgets that force the
# gradients into chunks (512M: groups of resident blocks, one pass over the samples each; 256M: two passes). The
# modes alternate, RUNS rounds (default 5); each run records the printed plan, load, wall time and peak RSS, and the
# outputs are compared with the in-memory run's.
#
#   bench/scale/model.sh
#
# WF (the woodfisher executable) and DIR (scratch; deleted at the end unless KEEP=1) may be set.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
WF=${WF:-$here/../../tools/WoodFisher.Cli/bin/Release/net10.0/woodfisher}
DIR=${DIR:-/work/big/model-chunks}
DATA=${DATA:-$here/../../data/fashion-mnist-slice}
RUNS=${RUNS:-5}
mkdir -p "$DIR"
"$WF" train --arch mlp:784-1000-10 --data "$DATA" --epochs 1 --batch 50 --lr 0.05 --seed 1 --out "$DIR/model.safetensors" \
  --log "$DIR/train.csv" > /dev/null
for i in $(seq 1 "$RUNS"); do
  for memory in "" 512M 256M; do
    name=${memory:-ample}
    echo "== ${memory:-in memory} (round $i) $(uptime)"
    # shellcheck disable=SC2086
    /usr/bin/time -f "wall %e s, user %U s, sys %S s, maxrss %M KB" "$WF" prune --model "$DIR/model.safetensors" --data "$DATA" \
      --method woodfisher --block 100 --samples 128 --damping 1e-4 --sparsity 0.5 ${memory:+--memory $memory} \
      --out "$DIR/$name.safetensors" --mask "$DIR/$name.mask.npy" 2>&1 | grep -E "^prune: |^wall |accuracy|woodfisher:" || true
    if [ "$name" != ample ]; then
      cmp -s "$DIR/$name.safetensors" "$DIR/ample.safetensors" && cmp -s "$DIR/$name.mask.npy" "$DIR/ample.mask.npy" \
        && echo "model and mask: the same bytes as in memory" || echo "model and mask: DIFFER from in memory"
    fi
  done
done
[ "${KEEP:-0}" = 1 ] || rm -rf "$DIR"
