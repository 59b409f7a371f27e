namespace KvmHost.Core.Platform;

/// <summary>Error ids of the CPU area (Test-KvmCpuSupport, and Install-KvmPackages refusing an unfit CPU).</summary>
public static partial class ErrorIds
{
    /// <summary>The root has no /proc/cpuinfo.</summary>
    public const string CpuInfoNotFound = nameof(CpuInfoNotFound);

    /// <summary>/proc/cpuinfo exists but cannot be read, or is not text.</summary>
    public const string CpuInfoUnreadable = nameof(CpuInfoUnreadable);

    /// <summary>A piped Test-KvmCpuSupport answer says KVM guests cannot run here (Install-KvmPackages without -Force).</summary>
    public const string CpuNotSupported = nameof(CpuNotSupported);
}
