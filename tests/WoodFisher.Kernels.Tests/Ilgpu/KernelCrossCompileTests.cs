using System.Reflection;
using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Backends;
using ILGPU.Backends.EntryPoints;
using ILGPU.Backends.OpenCL;
using ILGPU.Backends.PTX;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;
using ILGPU.Runtime.OpenCL;
using WoodFisher.Kernels.Ilgpu;

namespace WoodFisher.Kernels.Tests.Ilgpu;

/// <summary>
/// The CPU accelerator runs kernels as .NET code, so it cannot reveal constructs that ILGPU's GPU compilers reject.
/// These tests compile every kernel, both precisions, through ILGPU's PTX (CUDA) and OpenCL C backends without a
/// device, which is as close to a real GPU as CI gets.
/// </summary>
[TestFixture]
public sealed class KernelCrossCompileTests
{
    private static IEnumerable<MethodInfo> Kernels(Type type) =>
        type.GetMethods(BindingFlags.Public | BindingFlags.Static).Where(m => m.ReturnType == typeof(void));

    public static IEnumerable<TestCaseData> KernelCases()
    {
        foreach (var type in (Type[])[typeof(BlockKernels<float, FloatOps>), typeof(BlockKernels<double, DoubleOps>)])
        {
            foreach (var method in Kernels(type))
            {
                yield return new TestCaseData(method).SetArgDisplayNames($"{method.Name}<{type.GetGenericArguments()[0].Name}>");
            }
        }
    }

    private static EntryPointDescription Describe(MethodInfo kernel) =>
        kernel.GetParameters()[0].ParameterType.Name.StartsWith("Index", StringComparison.Ordinal)
            ? EntryPointDescription.FromImplicitlyGroupedKernel(kernel)
            : EntryPointDescription.FromExplicitlyGroupedKernel(kernel);

    [TestCaseSource(nameof(KernelCases))]
    public void Kernel_CompilesToPtx(MethodInfo kernel)
    {
        using var context = Context.Create(b => b.EnableAlgorithms());
        using var backend = new PTXBackend(context, CudaArchitecture.SM_80, CudaInstructionSet.ISA_80, null!);
        var entry = Describe(kernel);
        var compiled = (PTXCompiledKernel)backend.Compile(entry, default);
        Assert.That(compiled.PTXAssembly, Does.Contain(".entry"));
    }

    [TestCaseSource(nameof(KernelCases))]
    public void Kernel_CompilesToOpenCL(MethodInfo kernel)
    {
        using var context = Context.Create(b => b.EnableAlgorithms());
        var capabilities = new CLCapabilityContext(false, true, true, true, true);
        using var backend = new CLBackend(context, capabilities, CLDeviceVendor.Other, CLCVersion.CL20);
        var entry = Describe(kernel);
        var compiled = (CLCompiledKernel)backend.Compile(entry, default);
        Assert.That(compiled.Source, Does.Contain("kernel"));
    }
}
