namespace WoodFisher.Pruning.Internal;

internal static class ScoreChecks
{
    public static void Lengths(int weights, int other, int scores)
    {
        if (other != weights || scores != weights)
        {
            throw new ArgumentException($"Weights, curvature vectors and scores must all have length d = {weights}, got {other} and {scores}.");
        }
    }
}
