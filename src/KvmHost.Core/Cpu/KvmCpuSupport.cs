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
    /// <summary>
    /// KVM here is PVM (the kvm_pvm module, KVM without VT-x/AMD-V): /dev/kvm runs only guest kernels built
    /// for PVM, so ordinary guests need TCG (software emulation).
    /// </summary>
    PvmGuestsOnly,
}

/// <summary>What guests on this host get from KVM, for the caller (the guests' virtualization type follows from it).</summary>
public enum KvmAcceleration
{
    /// <summary>Ordinary guests run hardware-accelerated under KVM (libvirt domain type 'kvm').</summary>
    Kvm,
    /// <summary>Only PVM-aware guest kernels can use /dev/kvm; ordinary guests need TCG (domain type 'qemu').</summary>
    PvmGuestsOnly,
    /// <summary>No KVM for guests: QEMU emulates the CPU (TCG, domain type 'qemu'), much slower.</summary>
    Tcg,
}

/// <summary>The answer of Test-KvmCpuSupport.</summary>
public sealed class KvmCpuSupport
{
    /// <summary>Ordinary guests can use KVM acceleration now (Status Ready, Acceleration Kvm).</summary>
    public bool Supported => Status == CpuSupportStatus.Ready;
    public CpuSupportStatus Status { get; init; }

    /// <summary>What guests get here: Kvm, PvmGuestsOnly, or Tcg (software emulation).</summary>
    public KvmAcceleration Acceleration { get; init; } = KvmAcceleration.Tcg;
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

    /// <summary>
    /// The module that provides KVM to guests (kvm_intel, kvm_amd, kvm_hv, kvm_pvm, or kvm where KVM is built
    /// as one), or null.
    /// </summary>
    public string? KvmModule { get; init; }

    /// <summary>Every KVM module the kernel has loaded (or built in), e.g. kvm and kvm_pvm.</summary>
    public string[] KvmModules { get; init; } = [];
    public bool KvmModuleLoaded { get; init; }
    public bool KvmDevicePresent { get; init; }
    public bool KvmDeviceAccessible { get; init; }

    /// <summary>Whether the loaded module lets guests run guests; null when it cannot be told.</summary>
    public bool? NestedVirtualization { get; init; }
    public IReadOnlyList<HostCheck> Checks { get; init; } = [];
    public string Root { get; init; } = "/";

    public override string ToString() => Supported ? $"Ready ({VirtualizationFeature ?? Architecture})" : $"{Status}: {Reason}";
}
