using System.Management.Automation;
using KvmHost.Core.Platform;

namespace KvmHost;

/// <summary>
/// What every KvmHost cmdlet shares: the -Root parameter, Ctrl+C cancelling child processes,
/// Write-Verbose of every command line, and core failures turned into ErrorRecords in one place.
/// Derived cmdlets override the *Core methods; they never start a process or write a file themselves.
/// PowerShell disposes a command that implements IDisposable once its pipeline is done.
/// </summary>
public abstract class KvmHostCmdlet : PSCmdlet, IDisposable
{
    private readonly CancellationTokenSource _stopping = new();
    private HostRoot? _root;
    private CommandRunner? _runner;
    private AtomicFileWriter? _writer;
    private ReleaseProfile? _release;
    private HostSystem? _host;

    /// <summary>The file-system root to act on; "/" is the running host.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string Root { get; set; } = "/";

    protected CancellationToken Cancellation => _stopping.Token;

    protected HostRoot HostRoot => _root ??= HostRoot.Open(GetUnresolvedProviderPathFromPSPath(Root));

    protected ICommandRunner Runner => _runner ??= new CommandRunner(WriteVerbose);

    protected AtomicFileWriter Writer => _writer ??= new AtomicFileWriter(HostRoot);

    /// <summary>The root with its runner: Core decides from it, once, whether there is a running system to act on.</summary>
    protected HostSystem HostSystem => _host ??= HostSystem.Open(HostRoot, Runner, Cancellation, WriteVerbose);

    protected ReleaseProfile Release => _release ??= ReleaseProfile.Detect(HostRoot);

    /// <summary>The release, or null where it cannot be told (an image without os-release): for choices with a safe default.</summary>
    protected ReleaseProfile? ReleaseIfKnown
    {
        get
        {
            try { return Release; }
            catch (KvmHostException) { return null; }
        }
    }

    /// <summary>
    /// -WhatIf was given (or $WhatIfPreference is set): the run is a preview. Results then carry WhatIf =
    /// $true even when nothing was to change, and nothing is locked or written (see about_KvmHost).
    /// </summary>
    protected bool WhatIfRequested => MyInvocation.BoundParameters.TryGetValue("WhatIf", out object? value)
        ? ((SwitchParameter)value).IsPresent
        : LanguagePrimitives.IsTrue(GetVariableValue("WhatIfPreference", false));

    /// <summary>
    /// Takes the host lock around a read-modify-write of the host's configuration (<see cref="HostLock.ConfigurationWait"/>
    /// unless the command says otherwise). Validation and -WhatIf come first: a refused or previewed call takes no lock.
    /// </summary>
    protected HostLock LockHost(TimeSpan? wait = null) => HostLock.Acquire(HostRoot, wait ?? HostLock.ConfigurationWait, Cancellation);

    protected virtual void BeginCore() { }

    protected virtual void ProcessCore() { }

    protected virtual void EndCore() { }

    protected sealed override void BeginProcessing() => Guard(() =>
    {
        _ = HostRoot; // a bad -Root fails before any work, with its own ErrorId
        BeginCore();
    });

    protected sealed override void ProcessRecord() => Guard(ProcessCore);

    protected sealed override void EndProcessing() => Guard(EndCore);

    protected override void StopProcessing()
    {
        // Ctrl+C may arrive on another thread just as the pipeline ends and disposes the command.
        try { _stopping.Cancel(); }
        catch (ObjectDisposedException) { }
    }

    public void Dispose()
    {
        Dispose(disposing: true);
        GC.SuppressFinalize(this);
    }

    /// <summary>Derived cmdlets that hold more (a libvirt connection) override this and call the base.</summary>
    protected virtual void Dispose(bool disposing)
    {
        if (disposing) _stopping.Dispose();
    }

    /// <summary>
    /// Asks ShouldProcess for every step (each prints its own "What if:" line), then, when the change carries
    /// <paramref name="risks"/> and -Force is not given, asks ShouldContinue. A session that cannot prompt
    /// fails with <paramref name="confirmationRequiredId"/> before anything changes. False means: preview only.
    /// </summary>
    protected bool ApproveOrFail(IEnumerable<(string Target, string Action)> steps, IReadOnlyList<string> risks, bool force,
        string question, string caption, object target, string confirmationRequiredId)
    {
        bool approved = true;
        foreach (var (stepTarget, action) in steps) approved &= ShouldProcess(stepTarget, action);
        if (!approved || risks.Count == 0 || force) return approved;
        try
        {
            return ShouldContinue($"{string.Join(" ", risks)} {question}", caption);
        }
        catch (Exception e) when (e is PSInvalidOperationException or System.Management.Automation.Host.HostException or NotImplementedException)
        {
            throw new KvmHostException(confirmationRequiredId, FailureKind.InvalidOperation,
                $"{string.Join(" ", risks)} This needs a confirmation, and this session cannot prompt. Nothing was changed.", target,
                "Add -Force to go ahead without the prompt (the rollback guard still applies).", e);
        }
    }

    /// <summary>Reports a failure for one item and goes on with the next.</summary>
    protected void WriteFailure(KvmHostException failure) => WriteError(ErrorRecords.From(failure));

    /// <summary>Stops the pipeline with the failure.</summary>
    protected void Fail(KvmHostException failure) => ThrowTerminatingError(ErrorRecords.From(failure));

    private void Guard(Action action)
    {
        try
        {
            action();
        }
        catch (KvmHostException failure)
        {
            ThrowTerminatingError(ErrorRecords.From(failure));
        }
        catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
        {
            throw new PipelineStoppedException();
        }
    }
}
