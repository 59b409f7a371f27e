using KvmHost.Core.Bridge;
using KvmHost.Core.Cpu;
using KvmHost.Core.Guests;
using KvmHost.Core.Packages;
using KvmHost.Core.Platform;
using KvmHost.Core.Services;
using KvmHost.Core.Sysctl;

namespace KvmHost.Core.Host;

/// <summary>What Test-KvmHost compares the host against.</summary>
public sealed record KvmHostExpectation
{
    /// <summary>The bridge guests should attach to; null to skip the bridge checks.</summary>
    public string? BridgeName { get; init; } = "br0";

    public string ForwardingFile { get; init; } = ForwardingPlanner.DefaultDropIn;

    public TimeSpan LibvirtTimeout { get; init; } = TimeSpan.FromSeconds(10);
}

/// <summary>
/// The read side of every step at once. Each area is asked through its own read API (the same code
/// the Get-* cmdlets use); an area that cannot be read becomes a failed check with the reason, so one
/// broken part never hides the verdict on the others.
/// </summary>
public sealed class KvmHostInspector
{
    private readonly HostSystem _host;
    private readonly HostRoot _root;

    public KvmHostInspector(HostSystem host)
    {
        _host = host;
        _root = host.Root;
    }

    public KvmHostReport Inspect(KvmHostExpectation expectation)
    {
        var checks = new List<HostCheck>();

        ReleaseProfile? release = Guard(checks, "Release", "Supported release", () => ReleaseProfile.Detect(_root));
        KvmCpuSupport? cpu = null;
        if (_host.Running is not null)
        {
            cpu = Guard(checks, "Cpu", "CPU support", () => KvmCpuProbe.Probe(_host));
            if (cpu is not null) checks.AddRange(cpu.Checks.Select(c => c with { Area = "Cpu" }));
            checks.AddRange(Guard(checks, "Devices", "Host devices", () => QemuHostValidator.Validate(_root, release?.Family)) ?? []);
        }
        else
        {
            checks.AddRange(OfflineRuntimeChecks());
        }
        if (release is not null)
            checks.Add(new HostCheck("Supported release", CheckResult.Pass, release.ToString()) { Area = "Release" });

        IReadOnlyList<KvmPackage> packages = release is null ? [] : Guard(checks, "Packages", "Package database", () =>
            new PackageInstaller(_host, release).Query(PackageSet.Resolve(release, null, false), _host.Cancellation)) ?? [];
        foreach (var package in packages)
            checks.Add(package.Status is PackageStatus.AlreadyInstalled or PackageStatus.Installed
                ? new HostCheck($"{package.Name} installed", CheckResult.Pass, package.Version ?? "installed") { Area = "Packages" }
                : new HostCheck($"{package.Name} installed", CheckResult.Fail, "not installed", "Install-KvmPackages") { Area = "Packages" });

        LibvirtdState? libvirt = release is null ? null : Guard(checks, "Libvirt", "libvirt daemon", () => ReadLibvirt(release, expectation));
        if (libvirt is not null) checks.AddRange(LibvirtChecks(libvirt));

        IReadOnlyList<IpForwardingState> forwarding = Guard(checks, "Forwarding", "IP forwarding", () =>
            new ForwardingPlanner(_host).Inspect([ForwardingFamily.IPv4], expectation.ForwardingFile)) ?? [];
        foreach (var state in forwarding) checks.AddRange(ForwardingChecks(state));

        HostBridge? bridge = null;
        if (expectation.BridgeName is { } bridgeName)
        {
            var inventory = Guard(checks, "Bridge", $"bridge {bridgeName}", () => BridgeReport.Inventory(_host));
            bridge = inventory?.FirstOrDefault(b => b.Name == bridgeName);
            if (inventory is not null) checks.AddRange(BridgeChecks(bridgeName, bridge));
        }

        checks.AddRange(Guard(checks, "Guests", "guests", () =>
            GuestChecks.Inspect(_host, LibvirtUri.Resolve(null, Environment.GetEnvironmentVariable(LibvirtUri.EnvironmentVariable)))) ?? []);

        return new KvmHostReport
        {
            ComputerName = Environment.MachineName,
            Release = release?.ToString() ?? "unknown",
            Root = _root.Path,
            Checks = checks.ToArray(),
            Cpu = cpu,
            Packages = packages.ToArray(),
            Libvirt = libvirt,
            Forwarding = forwarding.ToArray(),
            Bridge = bridge,
        };
    }

    private LibvirtdState ReadLibvirt(ReleaseProfile release, KvmHostExpectation expectation)
    {
        var daemons = new LibvirtDaemons(_host, () => release.LibvirtLayout);
        daemons.EnsureSystemdRunning();
        var plan = daemons.Plan(LibvirtDaemonMode.Auto);
        return daemons.Read(plan, expectation.LibvirtTimeout);
    }

    private IEnumerable<HostCheck> LibvirtChecks(LibvirtdState state)
    {
        string units = string.Join(", ", state.Units.Select(u => u.Name));
        yield return state.Enabled
            ? new HostCheck($"libvirt ({state.Mode}) enabled at boot", CheckResult.Pass, units) { Area = "Libvirt" }
            : new HostCheck($"libvirt ({state.Mode}) enabled at boot", CheckResult.Fail, $"not all enabled: {units}", "Enable-Libvirtd") { Area = "Libvirt" };
        if (_host.Running is null)
        {
            yield return new HostCheck("libvirt answers", CheckResult.NotApplicable, OfflineDetail("a daemon answers only on a running system")) { Area = "Libvirt" };
            yield break;
        }
        yield return state.Reachable
            ? new HostCheck("libvirt answers", CheckResult.Pass, $"{state.Endpoint}: {state.ProbeDetail}") { Area = "Libvirt" }
            : new HostCheck("libvirt answers", CheckResult.Fail, $"{state.Endpoint}: {state.ProbeDetail}", "Enable-Libvirtd") { Area = "Libvirt" };
    }

    private IEnumerable<HostCheck> BridgeChecks(string name, HostBridge? bridge)
    {
        if (bridge is null)
        {
            // NAT-only hosts need no bridge, so its absence is a warning, not a failure.
            yield return new HostCheck($"bridge {name} configured", CheckResult.Warn, "no such bridge is configured",
                $"New-HostBridge -Name {name} -Interface <nic> (or -BridgeName '' for NAT-only hosts)") { Area = "Bridge" };
            yield break;
        }
        yield return bridge.ConfigurationFiles.Length > 0
            ? new HostCheck($"bridge {name} configured", CheckResult.Pass, string.Join(", ", bridge.ConfigurationFiles)) { Area = "Bridge" }
            : new HostCheck($"bridge {name} configured", CheckResult.Warn, "exists only in the running system: it will be gone after a reboot",
                $"New-HostBridge -Name {name} writes its configuration") { Area = "Bridge" };
        yield return bridge.Addresses.Length > 0 || bridge.Dhcp
            ? new HostCheck($"bridge {name} carries the host address", CheckResult.Pass, bridge.Dhcp ? "DHCP" : string.Join(", ", bridge.Addresses)) { Area = "Bridge" }
            : new HostCheck($"bridge {name} carries the host address", CheckResult.Warn, "no address and no DHCP") { Area = "Bridge" };
        if (_host.Running is null)
            yield return new HostCheck($"bridge {name} up with a port", CheckResult.NotApplicable, OfflineDetail("links are up only on a running system")) { Area = "Bridge" };
        else
            yield return bridge.Active && bridge.Ports.Length > 0
                ? new HostCheck($"bridge {name} up with a port", CheckResult.Pass, string.Join(", ", bridge.Ports)) { Area = "Bridge" }
                : new HostCheck($"bridge {name} up with a port", CheckResult.Fail, bridge.Active ? "up, but no port" : "not up",
                    $"nmcli connection up {name}, or New-HostBridge -Name {name} -Interface <nic>") { Area = "Bridge" };
    }

    private IEnumerable<HostCheck> ForwardingChecks(IpForwardingState state)
    {
        string family = state.AddressFamily.ToString();
        if (state.Overridden || state.PersistentValue != 1)
            yield return new HostCheck($"{family} forwarding at boot", CheckResult.Warn,
                state.PersistentValue is null ? "no sysctl file sets it (kernel default 0)"
                    : $"boot applies {state.PersistentValue} from {state.EffectiveFile}",
                "Set-IpForwarding (needed for NAT/routed guest networks, not for a pure bridge)") { Area = "Forwarding" };
        else
            yield return new HostCheck($"{family} forwarding at boot", CheckResult.Pass, $"1 from {state.EffectiveFile}") { Area = "Forwarding" };
        if (!state.RuntimeApplied)
            yield return new HostCheck($"{family} forwarding now", CheckResult.NotApplicable, OfflineDetail("only a running kernel forwards")) { Area = "Forwarding" };
        else
            yield return state.RuntimeValue == 1
                ? new HostCheck($"{family} forwarding now", CheckResult.Pass, "the running kernel forwards") { Area = "Forwarding" }
                : new HostCheck($"{family} forwarding now", CheckResult.Warn, $"the running kernel has {state.RuntimeValue}", "Set-IpForwarding") { Area = "Forwarding" };
    }

    /// <summary>
    /// An offline root (an image) has no running CPU, devices, cgroups or kernel: those areas are one
    /// NotApplicable line each, so the verdict covers what an image can hold (packages, units, files).
    /// </summary>
    private IEnumerable<HostCheck> OfflineRuntimeChecks()
    {
        yield return new HostCheck("CPU and KVM support", CheckResult.NotApplicable,
            OfflineDetail("the CPU, its KVM modules and /dev/kvm belong to the machine that runs it"),
            "Run Test-KvmCpuSupport on that machine.") { Area = "Cpu" };
        yield return new HostCheck("Host devices", CheckResult.NotApplicable,
            OfflineDetail("/dev/net/tun and /dev/vhost-net exist only on a running system")) { Area = "Devices" };
        yield return new HostCheck("cgroup controllers", CheckResult.NotApplicable,
            OfflineDetail("controllers are mounted only on a running system")) { Area = "Cgroups" };
        yield return new HostCheck("IOMMU", CheckResult.NotApplicable,
            OfflineDetail("the firmware tables and IOMMU groups belong to the machine that runs it")) { Area = "Iommu" };
        yield return new HostCheck("Secure guest support", CheckResult.NotApplicable,
            OfflineDetail("SEV/Secure Execution belong to the machine that runs it")) { Area = "SecureGuest" };
    }

    private string OfflineDetail(string why) => _host.OfflineDetail(why);

    /// <summary>Runs one area's read; a failure there is recorded as a failed check instead of ending the report.</summary>
    private static T? Guard<T>(List<HostCheck> checks, string area, string name, Func<T> read) where T : class
    {
        try
        {
            return read();
        }
        catch (KvmHostException e)
        {
            checks.Add(new HostCheck(name, CheckResult.Fail, e.Message, e.Hint) { Area = area });
            return null;
        }
    }
}
