namespace WoodFisher.Pruning;

/// <summary>Where a grouped build stands: group <see cref="Done"/> of <see cref="Groups"/> of pass <see cref="Pass"/> finished.</summary>
/// <param name="Pass">1 for the build and scores, 2 for the rebuild and update (or another query) of a two-pass plan.</param>
/// <param name="Done">Groups finished in this pass.</param>
/// <param name="Groups">Groups in this pass.</param>
public readonly record struct PassProgress(int Pass, int Done, int Groups);
