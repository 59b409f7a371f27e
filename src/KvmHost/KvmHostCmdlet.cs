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

    /// <summary>The file-system root to act on; "/" is the running host.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string Root { get; set; } = "/";

    protected HostRoot HostRoot => _root ??= HostRoot.Open(GetUnresolvedProviderPathFromPSPath(Root));

    protected AtomicFileWriter Writer => _writer ??= new AtomicFileWriter(HostRoot);

    protected ReleaseProfile Release => _release ??= ReleaseProfile.Detect(HostRoot);

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
}
