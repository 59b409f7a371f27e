using System.Management.Automation;
using KvmHost.Core.Host;

namespace KvmHost.Commands;

/// <summary>Is this host a working KVM host: CPU, devices, packages, libvirt, bridge and forwarding in one verdict.</summary>
[Cmdlet(VerbsDiagnostic.Test, "KvmHost")]
[OutputType(typeof(KvmHostReport))]
[OutputType(typeof(bool))]
public sealed class TestKvmHostCommand : KvmHostCmdlet
{
    /// <summary>The bridge guests attach to; an empty string skips the bridge checks.</summary>
    [Parameter]
    [AllowEmptyString]
    [ArgumentCompleter(typeof(Completion.BridgeNameCompleter))]
    public string BridgeName { get; set; } = "br0";

    /// <summary>How long the libvirt daemon may take to answer.</summary>
    [Parameter]
    [ValidateRange(1, 600)]
    public int TimeoutSec { get; set; } = 10;

    /// <summary>Return only $true (no check failed) or $false.</summary>
    [Parameter]
    public SwitchParameter Quiet { get; set; }

    protected override void EndCore()
    {
        var expectation = new KvmHostExpectation
        {
            BridgeName = string.IsNullOrEmpty(BridgeName) ? null : BridgeName,
            LibvirtTimeout = TimeSpan.FromSeconds(TimeoutSec),
        };
        KvmHostReport report = new KvmHostInspector(HostSystem).Inspect(expectation);
        foreach (var failed in report.Checks.Where(c => c.Result == Core.CheckResult.Fail))
            WriteVerbose($"FAIL {failed.Area}/{failed.Name}: {failed.Detail}");
        WriteObject(Quiet ? report.Ready : report);
    }
}
