using System.Management.Automation;
using KvmHost.Core.Platform;

namespace KvmHost;

/// <summary>
/// The host cmdlets' base: everything of <see cref="KvmCmdlet"/> plus the -Root parameter, the file-system
/// root to act on ("/" is the running host), and the root-bound services (atomic writer, release profile, lock).
/// </summary>
public abstract class KvmHostCmdlet : KvmCmdlet
{
    private HostRoot? _root;
    private AtomicFileWriter? _writer;
    private ReleaseProfile? _release;
    private HostSystem? _host;

    /// <summary>The file-system root to act on; "/" is the running host.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string Root { get; set; } = "/";

    protected HostRoot HostRoot => _root ??= HostRoot.Open(GetUnresolvedProviderPathFromPSPath(Root));

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

    private protected override void Prepare() => _ = HostRoot; // a bad -Root fails before any work, with its own ErrorId

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
}
