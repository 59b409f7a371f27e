using System.Management.Automation;
using KvmHost.Core.Packages;

namespace KvmHost.Commands;

/// <summary>Which of a KVM host's packages are installed, asked of the package database only.</summary>
[Cmdlet(VerbsCommon.Get, "KvmPackages")]
[OutputType(typeof(KvmPackage))]
public sealed class GetKvmPackagesCommand : KvmHostCmdlet
{
    /// <summary>Packages to report besides the release's KVM set.</summary>
    [Parameter(Position = 0)]
    [ValidateNotNull]
    public string[] Name { get; set; } = [];

    /// <summary>Report only the -Name packages, not the release's set.</summary>
    [Parameter]
    public SwitchParameter NoDefaultPackages { get; set; }

    protected override void EndCore()
    {
        var names = PackageSet.Resolve(Release, Name, NoDefaultPackages);
        var installer = new PackageInstaller(HostSystem, Release);
        WriteVerbose($"{Release}: asking the package database about {string.Join(", ", names)}");
        foreach (var package in installer.Query(names, Cancellation)) WriteObject(package);
    }
}
