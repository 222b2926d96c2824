#!/usr/bin/env python3
"""ResNet-50 at c = 2,000, m = 400 on R ranks, on paper.

Usage: bench/mpi/resnet50-on-paper.py CPU_SECONDS_PER_BLOCK [RANKS...]

The rate is the CPU seconds (user + system) of a whole `woodfisher prune` per full block of c = 2,000 built from
m = 400 gradients and updated jointly at sparsity 0.9, measured on one machine (see docs/performance.md for the
command). The layout is
torchvision's resnet50: every conv and fc weight is a segment (BatchNorm and the fc bias are not pruned), cut into
blocks of c that restart at each segment. Ranks get contiguous block ranges balanced by c_b^2 (what RankPlan does
when every block is built by the same strategy), and the script prints per rank: bytes of blocks, bytes of G's
columns read (m x its coordinates x 4), the CPU hours to build, score and update its blocks at the measured rate (divide
by the cores of a rank for its wall time: blocks are independent and the builder uses every core), and the bytes the threshold search moves (its payload per rank, from DistributedSelection: 16 B tiling check,
24 B counts, at most 8 histogram rounds of 2 KiB, 8 B tie count).
"""
import sys

C, M = 2000, 400


def resnet50_segments():
    segs = [64 * 3 * 7 * 7]
    inp = 64
    for width, blocks in ((64, 3), (128, 4), (256, 6), (512, 3)):
        out = 4 * width
        for b in range(blocks):
            segs += [inp * width, width * width * 9, width * out]
            if b == 0:
                segs.append(inp * out)
            inp = out
    segs.append(2048 * 1000)
    return segs


def blocks(segs):
    sizes = []
    for s in segs:
        sizes += [C] * (s // C) + ([s % C] if s % C else [])
    return sizes


def balance(sizes, parts):
    cost = [c * c for c in sizes]
    total = sum(cost)
    ranges, first, run = [], 0, 0.0
    prefix = [0.0]
    for x in cost:
        prefix.append(prefix[-1] + x)
    for k in range(parts):
        end = len(sizes)
        if k < parts - 1:
            target = total * (k + 1) / parts
            end = first
            while end < len(sizes) and prefix[end + 1] <= target:
                end += 1
            if end < len(sizes) and prefix[end + 1] - target < target - prefix[end]:
                end += 1
        ranges.append((first, end))
        first = end
    return ranges


def main():
    rate = float(sys.argv[1])
    ranks = [int(r) for r in sys.argv[2:]] or [8, 16, 32]
    segs = resnet50_segments()
    sizes = blocks(segs)
    d = sum(segs)
    gib = 1024 ** 3
    print(f"d = {d:,} in {len(segs)} segments, {len(sizes):,} blocks; blocks {sum(c * c for c in sizes) * 4 / gib:.1f} GiB float32")
    print("R,largest_rank_blocks_GiB,largest_rank_G_columns_GiB,largest_rank_fits_24GB,largest_rank_cpu_hours,search_bytes_per_rank,search_bytes_all_ranks,gather_bytes_rank0")
    for r in ranks:
        worst_bytes = worst_read = worst_time = 0
        for first, end in balance(sizes, r):
            part = sizes[first:end]
            full = sum(c * c for c in part) / (C * C)  # blocks in units of a full block's work
            worst_bytes = max(worst_bytes, sum(c * c for c in part) * 4)
            worst_read = max(worst_read, M * sum(part) * 4)
            worst_time = max(worst_time, full * rate)
        search = 16 + 24 + 8 * 2048 + 8
        fits = worst_bytes + 2 * 256 * max(sizes) * 4 < 24e9  # blocks plus two read pieces; G's columns are streamed
        print(f"{r},{worst_bytes / gib:.1f},{worst_read / gib:.2f},{'yes' if fits else 'no'},{worst_time / 3600:.2f},{search},{search * r},{d * 17}")


if __name__ == "__main__":
    main()
