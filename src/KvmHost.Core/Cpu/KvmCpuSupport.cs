namespace KvmHost.Core.Cpu;

/// <summary>Why the host can or cannot run hardware-accelerated guests, most decisive first.</summary>
public enum CpuSupportStatus
{
    Ready,
    /// <summary>The CPU (or the architecture) has no hardware virtualization.</summary>
    NoHardwareSupport,
    /// <summary>This host is a guest whose hypervisor does not pass VT-x/AMD-V through.</summary>
    NestedVirtualizationUnavailable,
    /// <summary>The CPU has the feature but the firmware turned it off and locked it.</summary>
    DisabledInFirmware,
    /// <summary>The feature is there but no KVM module is loaded.</summary>
    ModuleNotLoaded,
    /// <summary>The module is loaded but /dev/kvm does not exist.</summary>
    DeviceMissing,
    /// <summary>/dev/kvm exists but the caller may not open it read-write.</summary>
    DeviceNotAccessible,
}

/// <summary>The answer of Test-KvmCpuSupport.</summary>
public sealed class KvmCpuSupport
{
    public bool Supported => Status == CpuSupportStatus.Ready;
    public CpuSupportStatus Status { get; init; }
    public string Reason { get; init; } = string.Empty;
    public string? Hint { get; init; }
    public string Architecture { get; init; } = "unknown";
    public string? Vendor { get; init; }
    public string? ModelName { get; init; }

    /// <summary>"vmx", "svm", "sie", or null where the architecture has no such flag.</summary>
    public string? VirtualizationFeature { get; init; }
    public int LogicalProcessorCount { get; init; }

    /// <summary>This host is itself a virtual machine (the CPU's "hypervisor" flag).</summary>
    public bool HypervisorPresent { get; init; }

    /// <summary>The vendor KVM module (kvm_intel, kvm_amd, kvm_hv, or kvm where KVM is built as one), or null.</summary>
    public string? KvmModule { get; init; }
    public bool KvmModuleLoaded { get; init; }
    public bool KvmDevicePresent { get; init; }
    public bool KvmDeviceAccessible { get; init; }

    /// <summary>Whether the loaded module lets guests run guests; null when it cannot be told.</summary>
    public bool? NestedVirtualization { get; init; }
    public IReadOnlyList<HostCheck> Checks { get; init; } = [];
    public string Root { get; init; } = "/";

    public override string ToString() => Supported ? $"Ready ({VirtualizationFeature ?? Architecture})" : $"{Status}: {Reason}";
}
