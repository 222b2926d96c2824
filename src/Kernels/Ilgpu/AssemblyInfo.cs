using System.Runtime.CompilerServices;

// ILGPU's CPU accelerator emits its kernel launchers into a dynamic assembly named ILGPURuntime, which must see the
// internal kernel argument structs (DeviceLayout, ObsPlanView) and the internal kernel classes.
[assembly: InternalsVisibleTo("ILGPURuntime")]
