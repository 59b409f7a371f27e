using KvmHost.Core.Bridge;
using KvmHost.Core.Cpu;
using KvmHost.Core.Packages;
using KvmHost.Core.Services;
using KvmHost.Core.Sysctl;

namespace KvmHost.Core.Host;

/// <summary>
/// The answer of Test-KvmHost: one verdict for the whole host, the checks behind it (each with its
/// area and hint), and each area's own read-side object for scripts that want the details.
/// </summary>
public sealed class KvmHostReport
{
    /// <summary>True when no check failed: warnings and notes do not make a host unfit.</summary>
    public bool Ready => Failed == 0;
    public string ComputerName { get; init; } = string.Empty;
    public string Release { get; init; } = string.Empty;
    public string Root { get; init; } = "/";
    public int Passed => Checks.Count(c => c.Result == CheckResult.Pass);
    public int Warnings => Checks.Count(c => c.Result == CheckResult.Warn);
    public int Failed => Checks.Count(c => c.Result == CheckResult.Fail);

    /// <summary>Checks of runtime state that an offline root (-Root image) cannot hold.</summary>
    public int NotApplicable => Checks.Count(c => c.Result == CheckResult.NotApplicable);
    public HostCheck[] Checks { get; init; } = [];
    public KvmCpuSupport? Cpu { get; init; }
    public KvmPackage[] Packages { get; init; } = [];
    public LibvirtdState? Libvirt { get; init; }
    public IpForwardingState[] Forwarding { get; init; } = [];
    public HostBridge? Bridge { get; init; }

    /// <summary>The failed checks, for a one-line summary of what to fix.</summary>
    public string[] FailedChecks => Checks.Where(c => c.Result == CheckResult.Fail).Select(c => $"{c.Area}: {c.Name}").ToArray();

    public override string ToString() => Ready ? $"Ready ({Passed} passed, {Warnings} warnings)" : $"Not ready: {string.Join("; ", FailedChecks)}";
}
