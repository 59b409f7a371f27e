using System.Management.Automation;
using KvmHost.Core.Platform;

namespace KvmHost;

/// <summary>
/// What every KvmHost cmdlet shares, host or guest: Ctrl+C cancelling child processes and waits, Write-Verbose
/// of every command line, and core failures turned into ErrorRecords in one place. Derived cmdlets override
/// the *Core methods; they never start a process or write a file themselves.
/// <see cref="KvmHostCmdlet"/> adds -Root (the file-system root a host cmdlet acts on);
/// <see cref="KvmGuestCmdlet"/> adds -Uri (the libvirt a guest cmdlet acts through).
/// PowerShell disposes a command that implements IDisposable once its pipeline is done.
/// </summary>
public abstract class KvmCmdlet : PSCmdlet, IDisposable
{
    private readonly CancellationTokenSource _stopping = new();
    private CommandRunner? _runner;

    protected CancellationToken Cancellation => _stopping.Token;

    protected ICommandRunner Runner => _runner ??= new CommandRunner(WriteVerbose);

    protected virtual void BeginCore() { }

    protected virtual void ProcessCore() { }

    protected virtual void EndCore() { }

    /// <summary>Runs before <see cref="BeginCore"/>: a base cmdlet checks its own parameters here, so they fail with their own ErrorId first.</summary>
    private protected virtual void Prepare() { }

    protected sealed override void BeginProcessing() => Guard(() =>
    {
        Prepare();
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
