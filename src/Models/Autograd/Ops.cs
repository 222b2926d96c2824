namespace WoodFisher.Models.Autograd;

/// <summary>
/// Differentiable operations. Each runs forward, records its backward closure on the tape, and in forward-over-reverse
/// mode also propagates tangents R{·} forward and R{∇} backward (Pearlmutter's exact Hessian-vector product).
/// Batch is the leading dimension everywhere.
/// </summary>
public static partial class Ops
{
}
