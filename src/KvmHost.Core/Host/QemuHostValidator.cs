using KvmHost.Core.Cpu;
using KvmHost.Core.Platform;

namespace KvmHost.Core.Host;

/// <summary>
/// The host checks of `virt-host-validate qemu` beyond the CPU: the devices QEMU opens, the cgroup
/// controllers libvirt places guests in, device assignment (IOMMU) and secure guests. Same verdicts:
/// only a FAIL makes the host unfit; WARN and NOTE carry a hint.
/// </summary>
internal static class QemuHostValidator
{
    // The controllers virt-host-validate asks for, with the cgroup v2 controller that provides each.
    private static readonly (string V1, string? V2)[] Controllers =
        [("cpu", "cpu"), ("cpuacct", "cpu"), ("cpuset", "cpuset"), ("memory", "memory"), ("devices", null), ("blkio", "io")];

    /// <param name="family">The release family, for hints that name its tools (grubby or update-grub); null when unknown.</param>
    public static IReadOnlyList<HostCheck> Validate(HostRoot root, DistroFamily? family = null)
    {
        var checks = new List<HostCheck>();
        checks.Add(DeviceCheck(root, "/dev/vhost-net", CheckResult.Warn,
            "Load the vhost_net module (modprobe vhost_net) for faster guest networking."));
        checks.Add(DeviceCheck(root, "/dev/net/tun", CheckResult.Fail,
            "Load the tun module (modprobe tun); guests cannot have tap network devices without it."));
        checks.AddRange(CgroupChecks(root));
        checks.AddRange(IommuChecks(root, family));
        checks.Add(SecureGuestCheck(root));
        return checks;
    }

    private static HostCheck DeviceCheck(HostRoot root, string device, CheckResult whenMissing, string hint) =>
        root.FileExists(device)
            ? new HostCheck($"{device} exists", CheckResult.Pass, "present") { Area = "Devices" }
            : new HostCheck($"{device} exists", whenMissing, "missing", hint) { Area = "Devices" };

    internal static IEnumerable<HostCheck> CgroupChecks(HostRoot root)
    {
        // Pure cgroup v2 has cgroup.controllers at the top; hybrid hosts mount v2 under unified/.
        string? v2 = root.TryReadText("/sys/fs/cgroup/cgroup.controllers", 4096);
        if (v2 is not null)
        {
            var available = v2.Split([' ', '\n'], StringSplitOptions.RemoveEmptyEntries).ToHashSet();
            foreach (var (name, provider) in Controllers)
            {
                string check = $"cgroup '{name}' controller";
                if (provider is null)
                    yield return new HostCheck(check, CheckResult.Pass, "cgroup v2: device access is filtered with BPF programs") { Area = "Cgroups" };
                else if (available.Contains(provider))
                    yield return new HostCheck(check, CheckResult.Pass, $"cgroup v2 controller '{provider}' available") { Area = "Cgroups" };
                else
                    yield return new HostCheck(check, CheckResult.Warn, $"cgroup v2 controller '{provider}' is not enabled",
                        $"Enable '{provider}' in the kernel or in the root cgroup's cgroup.subtree_control.") { Area = "Cgroups" };
            }
            yield break;
        }

        string? table = root.TryReadText("/proc/cgroups", 64 * 1024);
        if (table is null)
        {
            yield return new HostCheck("cgroup controllers", CheckResult.Note,
                "neither /sys/fs/cgroup/cgroup.controllers nor /proc/cgroups is readable under this root") { Area = "Cgroups" };
            yield break;
        }
        // /proc/cgroups: "#subsys_name hierarchy num_cgroups enabled"
        var enabled = new HashSet<string>();
        foreach (string line in table.Split('\n'))
        {
            var fields = line.Split('\t', ' ', StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length >= 4 && !fields[0].StartsWith('#') && fields[3] == "1") enabled.Add(fields[0]);
        }
        string mounts = root.TryReadText("/proc/self/mountinfo", 4 * 1024 * 1024) ?? string.Empty;
        foreach (var (name, _) in Controllers)
        {
            string check = $"cgroup '{name}' controller";
            if (!enabled.Contains(name))
            {
                yield return new HostCheck(check, CheckResult.Warn, "not enabled in this kernel",
                    $"Enable '{name}' in the kernel configuration or mount/enable the cgroup controller.") { Area = "Cgroups" };
                continue;
            }
            bool mounted = mounts.Split('\n').Any(l => l.Contains(" - cgroup ", StringComparison.Ordinal) &&
                l[(l.LastIndexOf(' ') + 1)..].Split(',').Contains(name));
            yield return mounted
                ? new HostCheck(check, CheckResult.Pass, "cgroup v1 controller enabled and mounted") { Area = "Cgroups" }
                : new HostCheck(check, CheckResult.Warn, "enabled but not mounted",
                    $"Mount the '{name}' cgroup controller (systemd normally does this at boot).") { Area = "Cgroups" };
        }
    }

    internal static IEnumerable<HostCheck> IommuChecks(HostRoot root, DistroFamily? family = null)
    {
        bool dmar = root.FileExists("/sys/firmware/acpi/tables/DMAR");
        bool ivrs = root.FileExists("/sys/firmware/acpi/tables/IVRS");
        yield return dmar || ivrs
            ? new HostCheck("Device assignment IOMMU support", CheckResult.Pass, $"ACPI {(dmar ? "DMAR" : "IVRS")} table present") { Area = "Iommu" }
            : new HostCheck("Device assignment IOMMU support", CheckResult.Warn,
                "no ACPI DMAR or IVRS table: the IOMMU is disabled in the firmware or absent",
                "Enable VT-d / AMD-Vi in the firmware setup if you want to pass PCI devices to guests.") { Area = "Iommu" };

        bool groups = root.List("/sys/kernel/iommu_groups").Count > 0;
        string cmdline = root.TryReadText("/proc/cmdline", 64 * 1024) ?? string.Empty;
        // Without an ACPI table the CPU vendor decides which kernel switch applies.
        bool intel = dmar || (!ivrs && CpuVendor(root) != "AuthenticAMD");
        string flag = intel ? "intel_iommu=on" : "amd_iommu=on";
        yield return groups
            ? new HostCheck("IOMMU enabled by kernel", CheckResult.Pass, "/sys/kernel/iommu_groups is populated") { Area = "Iommu" }
            : new HostCheck("IOMMU enabled by kernel", CheckResult.Warn, "no IOMMU groups: the kernel has not enabled the IOMMU",
                cmdline.Contains(flag, StringComparison.Ordinal)
                    ? $"{flag} is on the kernel command line but no groups exist: check the firmware setting."
                    : KernelArgumentHint($"{flag} iommu=pt", family)) { Area = "Iommu" };
    }

    /// <summary>How this release adds kernel arguments for every installed kernel: grubby on the Red Hat family, GRUB's defaults file on Debian.</summary>
    internal static string KernelArgumentHint(string arguments, DistroFamily? family) => family switch
    {
        DistroFamily.RedHat or DistroFamily.Fedora =>
            $"Add {arguments} to the kernel command line (grubby --update-kernel=ALL --args='{arguments}') and reboot.",
        DistroFamily.Debian =>
            $"Add {arguments} to GRUB_CMDLINE_LINUX in /etc/default/grub, run update-grub, and reboot.",
        _ => $"Add {arguments} to the kernel command line (RHEL/Fedora: grubby --update-kernel=ALL --args='{arguments}'; " +
            "Debian/Ubuntu: GRUB_CMDLINE_LINUX in /etc/default/grub, then update-grub) and reboot.",
    };

    private static string? CpuVendor(HostRoot root)
    {
        byte[]? cpuinfo = root.TryReadBytes("/proc/cpuinfo", 64 * 1024 * 1024);
        return cpuinfo is null ? null : CpuInfo.Parse(cpuinfo).VendorId;
    }

    internal static HostCheck SecureGuestCheck(HostRoot root)
    {
        const string name = "Secure guest support";
        string? sevParameter = root.TryReadText("/sys/module/kvm_amd/parameters/sev", 64)?.Trim();
        if (sevParameter is "Y" or "1")
            return root.FileExists("/dev/sev")
                ? new HostCheck(name, CheckResult.Pass, "AMD SEV is enabled in kvm_amd and /dev/sev exists") { Area = "SecureGuest" }
                : new HostCheck(name, CheckResult.Warn, "kvm_amd has SEV on but /dev/sev is missing", "Load the ccp module.") { Area = "SecureGuest" };
        string? protectedVirt = root.TryReadText("/sys/firmware/uv/prot_virt_host", 64)?.Trim();
        if (protectedVirt == "1")
            return new HostCheck(name, CheckResult.Pass, "IBM Secure Execution is enabled") { Area = "SecureGuest" };
        byte[]? cpuinfo = root.TryReadBytes("/proc/cpuinfo", 64 * 1024 * 1024);
        if (cpuinfo is not null && CpuInfo.Parse(cpuinfo).HasFlag("sev"))
            return new HostCheck(name, CheckResult.Warn, "the CPU supports AMD SEV but kvm_amd does not enable it",
                "Set 'options kvm_amd sev=1' in /etc/modprobe.d and reload kvm_amd, if guests need memory encryption.") { Area = "SecureGuest" };
        return new HostCheck(name, CheckResult.Note, "no AMD SEV or IBM Secure Execution found; ordinary guests are not affected") { Area = "SecureGuest" };
    }
}
