namespace KvmHost.Core;

public enum CheckResult
{
    Pass,
    Warn,
    Fail,
    Note,
    /// <summary>Not checked because it cannot be on this root: runtime state (CPU, devices, the running kernel) of an offline image.</summary>
    NotApplicable,
}

/// <summary>
/// One line of a host check, in the spirit of virt-host-validate: only Fail makes the host unfit,
/// Warn and Note carry a hint, NotApplicable says what an offline root cannot show. Area groups the lines of Test-KvmHost (Cpu, Devices, Cgroups, ...).
/// </summary>
public sealed record HostCheck(string Name, CheckResult Result, string Detail, string? Hint = null)
{
    public string Area { get; init; } = "Cpu";

    public override string ToString() => $"{Name}: {Label(Result)} ({Detail})";

    /// <summary>The short upper-case word the views print (PASS, WARN, FAIL, NOTE, N/A).</summary>
    public static string Label(CheckResult result) => result == CheckResult.NotApplicable ? "N/A" : result.ToString().ToUpperInvariant();
}
