namespace KvmHost.Core;

public enum CheckResult { Pass, Warn, Fail, Note }

/// <summary>
/// One line of a host check, in the spirit of virt-host-validate: only Fail makes the host unfit,
/// Warn and Note carry a hint. Area groups the lines of Test-KvmHost (Cpu, Devices, Cgroups, ...).
/// </summary>
public sealed record HostCheck(string Name, CheckResult Result, string Detail, string? Hint = null)
{
    public string Area { get; init; } = "Cpu";

    public override string ToString() => $"{Name}: {Result.ToString().ToUpperInvariant()} ({Detail})";
}
