using System.Management.Automation;
using KvmHost.Core.Cpu;
using KvmHost.Core.Packages;
using KvmHost.Core.Platform;

namespace KvmHost.Commands;

/// <summary>
/// Installs what a KVM host needs on its release, in one transaction, and only what is missing.
/// Takes Test-KvmCpuSupport's answer from the pipeline; its objects pipe into Enable-Libvirtd.
/// </summary>
[Cmdlet(VerbsLifecycle.Install, "KvmPackages", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(KvmPackageResult))]
public sealed class InstallKvmPackagesCommand : KvmHostCmdlet
{
    private readonly List<KvmCpuSupport> _cpuAnswers = [];

    /// <summary>Test-KvmCpuSupport's answer: an unsupported CPU stops the install unless -Force.</summary>
    [Parameter(ValueFromPipeline = true)]
    public KvmCpuSupport? CpuSupport { get; set; }

    /// <summary>Packages to install besides the release's KVM set.</summary>
    [Parameter(Position = 0)]
    [ValidateNotNull]
    public string[] Name { get; set; } = [];

    /// <summary>Install only the -Name packages (for hosts with their own package choice or repositories).</summary>
    [Parameter]
    public SwitchParameter NoDefaultPackages { get; set; }

    /// <summary>Repositories to enable for this run only (yum/dnf --enablerepo).</summary>
    [Parameter]
    [ValidateNotNull]
    public string[] EnableRepository { get; set; } = [];

    /// <summary>Install even when the piped CPU answer says KVM guests cannot run here.</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    /// <summary>How long the package manager may run before it is stopped.</summary>
    [Parameter]
    [ValidateRange(10, 86400)]
    public int TimeoutSec { get; set; } = 1800;

    protected override void ProcessCore()
    {
        if (CpuSupport is null) return;
        if (!CpuSupport.Supported && !Force)
            throw new KvmHostException(ErrorIds.CpuNotSupported, FailureKind.InvalidOperation,
                $"This host cannot run hardware-accelerated KVM guests ({CpuSupport.Status}: {CpuSupport.Reason}); nothing was installed.",
                CpuSupport, (CpuSupport.Hint is null ? string.Empty : CpuSupport.Hint + " ") + "Use -Force to install the packages anyway (e.g. for an image that will run elsewhere).");
        _cpuAnswers.Add(CpuSupport);
    }

    protected override void EndCore()
    {
        var names = PackageSet.Resolve(Release, Name, NoDefaultPackages);
        var installer = new PackageInstaller(HostSystem, Release);
        var options = new InstallOptions { EnableRepositories = EnableRepository, Timeout = TimeSpan.FromSeconds(TimeoutSec) };
        // The first plan only names the command for -WhatIf/-Confirm; nothing is locked or written for it.
        var plan = installer.Plan(names, options, Cancellation);
        if (plan.Install is null)
        {
            WriteVerbose($"{Release}: {string.Join(", ", names)} all installed; {installer.PackageManager} not started.");
            foreach (var package in PackageInstaller.Preview(plan, WhatIfRequested)) WriteObject(package);
            return;
        }
        if (!ShouldProcess(HostSystem.Target, string.Join(", then ", plan.Steps)))
        {
            foreach (var package in PackageInstaller.Preview(plan, whatIf: true)) WriteObject(package);
            return;
        }

        installer.RequireRoot(plan);
        using var hostLock = LockHost(HostLock.PackageTransactionWait);
        // Planned again under the lock: a parallel run may have installed some of it meanwhile.
        plan = installer.Plan(names, options, Cancellation);
        var progress = new ProgressRecord(1, $"Installing {plan.Missing.Count} package(s) with {installer.PackageManager}", "Resolving dependencies");
        WriteProgress(progress);
        var outcome = installer.Install(plan, step => ReportStep(progress, step), Cancellation);
        progress.RecordType = ProgressRecordType.Completed;
        WriteProgress(progress);

        foreach (string note in outcome.Notes) WriteVerbose(note);
        if (outcome.Transaction.Count > 0)
            WriteVerbose($"The transaction installed {string.Join(", ", outcome.Transaction)}.");
        foreach (var package in outcome.Packages) WriteObject(package);
        if (outcome.Failure is not null) WriteFailure(outcome.Failure);
    }

    private void ReportStep(ProgressRecord progress, TransactionStep step)
    {
        progress.StatusDescription = step.Package is null ? step.Phase : $"{step.Phase} {step.Package}";
        if (step.Total > 0) progress.CurrentOperation = $"{step.Index} of {step.Total}";
        progress.PercentComplete = step.Percent;
        WriteProgress(progress);
    }
}
