using KvmHost.Core.Platform;

namespace KvmHost.Core.Cpu;

/// <summary>
/// Decides whether KVM can run, from the same evidence virt-host-validate and kvm-ok use:
/// the CPU flags, the firmware's lock bits (MSRs, when readable), the KVM modules and /dev/kvm.
/// Everything is read under the root, so a fixture tree or a mounted image answers like a host.
/// </summary>
public static class KvmCpuProbe
{
    private const long IntelFeatureControlMsr = 0x3a;      // IA32_FEATURE_CONTROL
    private const long AmdVmCrMsr = 0xc0010114;            // VM_CR

    /// <summary>
    /// The one wording, in both Test-KvmCpuSupport and Test-KvmHost, for a guest whose hypervisor does not
    /// pass VT-x/AMD-V through.
    /// </summary>
    public const string NestedVirtualizationHint =
        "Enable nested virtualization on the outer hypervisor (pass the host CPU model through, kvm_intel/kvm_amd nested=1 there); " +
        "until then guests here run with TCG (software emulation).";

    /// <summary>What to do on a PVM host (kvm_pvm loaded instead of kvm_intel/kvm_amd).</summary>
    public const string PvmHint =
        "Run ordinary guests with TCG (libvirt domain type 'qemu', virt-install --virt-type qemu) or give them PVM-enabled kernels; " +
        "for KVM acceleration of ordinary guests, load kvm_intel/kvm_amd instead of kvm_pvm (the CPU needs vmx/svm, in a VM from nested virtualization).";

    // Every module that can stand behind /dev/kvm, and kvm itself (built in on arm64 and s390x).
    private static readonly string[] KnownModules = ["kvm", "kvm_intel", "kvm_amd", "kvm_pvm", "kvm_hv", "kvm_pr"];
    private const string PvmModule = "kvm_pvm";

    public static KvmCpuSupport Probe(HostSystem host)
    {
        HostRoot root = host.Root;
        bool running = host.Running is not null;
        CpuInfo cpu = ReadCpuInfo(root, running);
        string architecture = InferArchitecture(cpu, running);
        string? vendor = VendorOf(cpu);
        string? feature = cpu.HasFlag("vmx") ? "vmx" : cpu.HasFlag("svm") ? "svm" : cpu.HasFlag("sie") ? "sie" : null;
        bool isGuest = cpu.HasFlag("hypervisor");
        bool x86 = architecture is "x86_64" or "i686";
        bool needsFlag = x86 || architecture == "s390x";

        string[] loaded = KnownModules.Where(m => root.DirectoryExists($"/sys/module/{m}")).ToArray();
        string? module = ModuleCandidates(architecture, vendor).FirstOrDefault(loaded.Contains);
        // PVM serves /dev/kvm only where no hardware-virtualization module does.
        bool pvm = module is null && loaded.Contains(PvmModule);
        bool devicePresent = root.FileExists("/dev/kvm");
        bool deviceAccessible = devicePresent && DeviceAccessible(root);
        bool? nested = module is null ? null : ReadNested(root, module);
        bool? firmwareDisabled = x86 ? FirmwareDisabled(root, vendor) : null;

        var checks = new List<HostCheck>();
        string featureName = feature switch
        {
            "vmx" => "vmx (Intel VT-x)",
            "svm" => "svm (AMD-V)",
            "sie" => "sie (s390x SIE)",
            _ => string.Empty,
        };
        if (feature is not null)
            checks.Add(new("Hardware virtualization", CheckResult.Pass, $"CPU flag {featureName} present"));
        else if (needsFlag)
            checks.Add(new("Hardware virtualization", CheckResult.Fail,
                x86 ? "CPU flags have neither vmx nor svm" : "CPU features lack sie",
                isGuest ? NestedVirtualizationHint
                        : "Enable VT-x/AMD-V in the firmware setup; recent kernels hide the flag while the firmware disables it."));
        else
            checks.Add(new("Hardware virtualization", CheckResult.Note, $"{architecture} has no CPU flag for virtualization; decided from /dev/kvm"));

        if (isGuest)
            checks.Add(new("Running as a guest", CheckResult.Note, "the CPU reports a hypervisor: this host is a virtual machine"));
        if (firmwareDisabled is { } disabled)
            checks.Add(disabled
                ? new("Firmware setting", CheckResult.Fail, "virtualization is disabled and locked by the firmware",
                    "Enable Intel VT-x / AMD SVM in the BIOS/UEFI setup and power-cycle the host.")
                : new("Firmware setting", CheckResult.Pass, "virtualization is enabled in the firmware"));
        checks.Add(ModuleCheck(architecture, vendor, needsFlag && feature is null, loaded, module, pvm, devicePresent));
        checks.Add(devicePresent
            ? new("/dev/kvm exists", CheckResult.Pass, "present")
            : new("/dev/kvm exists", CheckResult.Fail, "missing", module is null && !pvm ? LoadHint(architecture, vendor)
                : "The module is loaded but the device node is missing: check devtmpfs/udev, or 'mknod /dev/kvm c 10 232'."));
        if (devicePresent)
            checks.Add(deviceAccessible
                ? new("/dev/kvm accessible", CheckResult.Pass, "readable and writable by this user")
                : new("/dev/kvm accessible", CheckResult.Fail, "this user cannot open /dev/kvm read-write",
                    "Add the user to the 'kvm' group (usermod -aG kvm USER, then log in again), or run as root."));
        if (nested is { } nestedOn)
            checks.Add(new("Nested virtualization", CheckResult.Note, nestedOn ? $"{module} allows nested guests" : $"{module} has nested guests off",
                nestedOn ? null : $"To run guests inside guests: 'options {module} nested=1' in /etc/modprobe.d, then reload the module."));

        var (status, reason, hint) = Decide(needsFlag, feature, isGuest, firmwareDisabled, module, pvm, loaded, devicePresent, deviceAccessible, architecture, vendor);
        return new KvmCpuSupport
        {
            Status = status,
            Acceleration = status switch
            {
                CpuSupportStatus.Ready => KvmAcceleration.Kvm,
                CpuSupportStatus.PvmGuestsOnly when deviceAccessible => KvmAcceleration.PvmGuestsOnly,
                _ => KvmAcceleration.Tcg,
            },
            Reason = reason,
            Hint = hint,
            Architecture = architecture,
            Vendor = vendor,
            ModelName = ModelOf(cpu),
            VirtualizationFeature = feature,
            LogicalProcessorCount = cpu.ProcessorCount,
            HypervisorPresent = isGuest,
            KvmModule = module ?? (pvm ? PvmModule : null),
            KvmModules = loaded,
            KvmModuleLoaded = module is not null || pvm,
            KvmDevicePresent = devicePresent,
            KvmDeviceAccessible = deviceAccessible,
            NestedVirtualization = nested,
            Checks = checks,
            Root = root.Path,
        };
    }

    private static HostCheck ModuleCheck(string architecture, string? vendor, bool flagMissing, string[] loaded, string? module, bool pvm, bool devicePresent)
    {
        const string name = "KVM kernel module";
        string all = loaded.Length == 0 ? string.Empty : $" (KVM modules: {string.Join(", ", loaded)})";
        if (module is not null)
            return new(name, CheckResult.Pass, $"{module} is loaded{all}");
        if (pvm)
            return new(name, CheckResult.Warn, $"{PvmModule} (PVM) is loaded, not a hardware-virtualization module: /dev/kvm runs only PVM-aware guest kernels{all}", PvmHint);
        // Without vmx/svm the vendor module cannot load; the flag is what to fix, so say that instead of modprobe.
        bool amd = vendor is "AMD" or "Hygon";
        string hint = !flagMissing ? LoadHint(architecture, vendor)
            : architecture == "s390x" ? "kvm cannot run guests without the CPU's sie feature: see 'Hardware virtualization'."
            : $"{(amd ? "kvm_amd" : "kvm_intel")} cannot load without the CPU's {(amd ? "svm" : "vmx")} flag: see 'Hardware virtualization'.";
        string detail = loaded.Length == 0
            ? "no KVM module is loaded"
            : $"{string.Join(", ", loaded)} loaded, but not {string.Join(" or ", ModuleCandidates(architecture, vendor))}";
        return new(name, devicePresent ? CheckResult.Warn : CheckResult.Fail, detail, hint);
    }

    private static (CpuSupportStatus, string, string?) Decide(bool needsFlag, string? feature, bool isGuest, bool? firmwareDisabled,
        string? module, bool pvm, string[] loaded, bool devicePresent, bool deviceAccessible, string architecture, string? vendor)
    {
        if (firmwareDisabled == true)
            return (CpuSupportStatus.DisabledInFirmware, "Virtualization is disabled and locked by the firmware.",
                "Enable Intel VT-x / AMD SVM in the BIOS/UEFI setup and power-cycle the host.");
        if (pvm)
            return (CpuSupportStatus.PvmGuestsOnly,
                $"KVM here is PVM ({PvmModule}, KVM without VT-x/AMD-V): /dev/kvm runs only guest kernels built for PVM, so ordinary guests need TCG (software emulation)."
                + (devicePresent ? string.Empty : " /dev/kvm is missing as well."),
                PvmHint);
        if (needsFlag && feature is null)
        {
            if (isGuest)
                return (CpuSupportStatus.NestedVirtualizationUnavailable,
                    "This host is a virtual machine and its hypervisor does not expose VT-x/AMD-V.", NestedVirtualizationHint);
            return (CpuSupportStatus.NoHardwareSupport,
                architecture == "s390x" ? "The CPU features lack 'sie'." : "The CPU advertises neither vmx (Intel VT-x) nor svm (AMD-V).",
                "If the processor has VT-x/AMD-V, enable it in the firmware setup; otherwise this host cannot run KVM guests.");
        }
        if (!devicePresent && module is null)
            return (CpuSupportStatus.ModuleNotLoaded,
                loaded.Length == 0
                    ? "No KVM kernel module is loaded, so /dev/kvm does not exist."
                    : $"{string.Join(", ", loaded)} is loaded, but not {string.Join(" or ", ModuleCandidates(architecture, vendor))}, so /dev/kvm does not exist.",
                LoadHint(architecture, vendor));
        if (!devicePresent)
            return (CpuSupportStatus.DeviceMissing, $"{module} is loaded but /dev/kvm is missing.",
                "Check devtmpfs/udev, or create it with 'mknod /dev/kvm c 10 232'.");
        if (!deviceAccessible)
            return (CpuSupportStatus.DeviceNotAccessible, "/dev/kvm exists but this user cannot open it read-write.",
                "Add the user to the 'kvm' group (usermod -aG kvm USER, then log in again), or run as root.");
        return (CpuSupportStatus.Ready, "KVM can run hardware-accelerated guests.", null);
    }

    private static CpuInfo ReadCpuInfo(HostRoot root, bool running)
    {
        // Parsed as it is read: the file (8 MB with 4096 CPUs) is never held whole or scanned twice.
        var reader = new CpuInfo.Reader();
        bool found;
        try
        {
            found = root.TryReadChunks("/proc/cpuinfo", reader.Append, 64 * 1024 * 1024);
        }
        catch (KvmHostException e) when (e.ErrorId != ErrorIds.PathEscapesRoot && e.ErrorId != ErrorIds.SymlinkLoop)
        {
            throw new KvmHostException(ErrorIds.CpuInfoUnreadable, e.Kind, e.Message, "/proc/cpuinfo", e.Hint, e);
        }
        if (!found)
            throw new KvmHostException(ErrorIds.CpuInfoNotFound, FailureKind.ObjectNotFound,
                $"{root.Describe("/proc/cpuinfo")} does not exist.", "/proc/cpuinfo",
                running ? "Mount procfs on /proc." : "Copy the host's /proc/cpuinfo into the root, or use the live root '/'.");
        if (reader.ContainsNul)
            throw new KvmHostException(ErrorIds.CpuInfoUnreadable, FailureKind.InvalidData,
                $"{root.Describe("/proc/cpuinfo")} is not text (it contains NUL bytes).", "/proc/cpuinfo");
        return reader.Complete();
    }

    private static string InferArchitecture(CpuInfo cpu, bool running)
    {
        if (cpu.VendorId is "GenuineIntel" or "AuthenticAMD" or "HygonGenuine" or "CentaurHauls" or "  Shanghai  ")
            return cpu.HasFlag("lm") ? "x86_64" : "i686";
        if (cpu.VendorId?.StartsWith("IBM/S390", StringComparison.Ordinal) == true) return "s390x";
        if (cpu.CpuImplementer is not null) return "aarch64";
        if (cpu.PowerCpu?.Contains("POWER", StringComparison.OrdinalIgnoreCase) == true) return "ppc64le";
        if (running)
            return System.Runtime.InteropServices.RuntimeInformation.OSArchitecture.ToString().ToLowerInvariant();
        return "unknown";
    }

    private static string? VendorOf(CpuInfo cpu) => cpu.VendorId switch
    {
        "GenuineIntel" => "Intel",
        "AuthenticAMD" => "AMD",
        "HygonGenuine" => "Hygon",
        { } v when v.StartsWith("IBM", StringComparison.Ordinal) => "IBM",
        _ when cpu.PowerCpu is not null => "IBM",
        _ => cpu.CpuImplementer?.ToLowerInvariant() switch
        {
            "0x41" => "ARM",
            "0x42" => "Broadcom",
            "0x43" => "Cavium",
            "0x46" => "Fujitsu",
            "0x48" => "HiSilicon",
            "0x4e" => "NVIDIA",
            "0x50" => "Applied Micro",
            "0x51" => "Qualcomm",
            "0x61" => "Apple",
            "0xc0" => "Ampere",
            null => null,
            var other => $"implementer {other}",
        },
    };

    private static string? ModelOf(CpuInfo cpu)
    {
        if (cpu.ModelName is not null) return cpu.ModelName;
        if (cpu.PowerCpu is not null) return cpu.PowerCpu;
        if (cpu.S390Machine is not null) return $"IBM Z machine type {cpu.S390Machine}";
        if (cpu.CpuPart is not null)
            return cpu.CpuPart.ToLowerInvariant() switch
            {
                "0xd03" => "Cortex-A53",
                "0xd07" => "Cortex-A57",
                "0xd08" => "Cortex-A72",
                "0xd0c" => "Neoverse-N1",
                "0xd40" => "Neoverse-V1",
                "0xd49" => "Neoverse-N2",
                "0xd4f" => "Neoverse-V2",
                var part => $"CPU part {part}",
            };
        return null;
    }

    private static string[] ModuleCandidates(string architecture, string? vendor) => architecture switch
    {
        "x86_64" or "i686" => vendor == "AMD" || vendor == "Hygon" ? ["kvm_amd", "kvm_intel"] : ["kvm_intel", "kvm_amd"],
        "ppc64le" or "ppc64" => ["kvm_hv", "kvm_pr"],
        _ => ["kvm"], // s390x and aarch64 have no vendor module
    };

    private static string LoadHint(string architecture, string? vendor) => architecture switch
    {
        "x86_64" or "i686" => $"Load it with 'modprobe {(vendor is "AMD" or "Hygon" ? "kvm_amd" : "kvm_intel")}'; if the kernel log then says \"disabled by bios\", enable virtualization in the firmware.",
        "ppc64le" or "ppc64" => "Load it with 'modprobe kvm_hv' (POWER8 or later, running bare metal or in an LPAR with hypervisor mode).",
        "aarch64" => "KVM on arm64 needs the kernel to boot at EL2 (bare metal or a nested-capable hypervisor); check 'dmesg | grep kvm'.",
        _ => "Load it with 'modprobe kvm'.",
    };

    private static bool? ReadNested(HostRoot root, string module)
    {
        string? text = root.TryReadText($"/sys/module/{module}/parameters/nested", 64)?.Trim();
        return text switch
        {
            "Y" or "y" or "1" => true,
            "N" or "n" or "0" => false,
            _ => null,
        };
    }

    private static bool DeviceAccessible(HostRoot root) =>
        Platform.NativeMethods.CanReadWrite(root.Resolve("/dev/kvm"));

    /// <summary>
    /// Reads the firmware's lock bits like kvm-ok: Intel IA32_FEATURE_CONTROL locked with "VMX outside
    /// SMX" clear, or AMD VM_CR.SVMDIS set. Null when the MSR device is not there (msr module, root).
    /// </summary>
    private static bool? FirmwareDisabled(HostRoot root, string? vendor)
    {
        long msr = vendor == "AMD" ? AmdVmCrMsr : vendor == "Intel" ? IntelFeatureControlMsr : -1;
        if (msr < 0) return null;
        // Checked first rather than caught: without the msr module or root (the usual case) opening it would throw,
        // and a first-chance exception costs more than the rest of the probe on a cold start.
        string device = root.Resolve("/dev/cpu/0/msr");
        if (!Platform.NativeMethods.CanRead(device)) return null;
        try
        {
            using var handle = File.OpenHandle(device, FileMode.Open, FileAccess.Read);
            Span<byte> value = stackalloc byte[8];
            if (RandomAccess.Read(handle, value, msr) != 8) return null;
            ulong bits = BitConverter.ToUInt64(value);
            return vendor == "AMD" ? (bits & 0x10) != 0 : (bits & 0x1) != 0 && (bits & 0x4) == 0;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
