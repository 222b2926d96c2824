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

    /// <summary>Throws unless a vector given to an inverse-curvature estimate has its dimension d.</summary>
    public static void VectorLength(int length, int dimension, string name)
    {
        if (length != dimension)
        {
            throw new ArgumentException($"Vector has length {length}, expected d = {dimension}.", name);
        }
    }
}
