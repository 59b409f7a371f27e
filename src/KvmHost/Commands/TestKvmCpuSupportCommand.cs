using System.Management.Automation;
using KvmHost.Core.Cpu;

namespace KvmHost.Commands;

/// <summary>Can this host run hardware-accelerated KVM guests now; if not, why, and what to do.</summary>
[Cmdlet(VerbsDiagnostic.Test, "KvmCpuSupport")]
[OutputType(typeof(KvmCpuSupport))]
[OutputType(typeof(bool))]
public sealed class TestKvmCpuSupportCommand : KvmHostCmdlet
{
    /// <summary>Return only $true or $false.</summary>
    [Parameter]
    public SwitchParameter Quiet { get; set; }

    protected override void ProcessCore()
    {
        KvmCpuSupport result = KvmCpuProbe.Probe(HostSystem);
        if (!result.Supported) WriteVerbose($"Not supported: {result.Reason} {result.Hint}");
        WriteObject(Quiet ? result.Supported : result);
    }
}
