using System.Management.Automation;
using KvmHost.Completion;
using KvmHost.Core.Guests;
using KvmHost.Core.Platform;

namespace KvmHost.Commands;

/// <summary>
/// Creates a guest with virt-install (the procedure's second half) and returns it as Get-KvmGuest would: checked
/// before anything is made, -WhatIf shows the exact command and the domain XML (virt-install --print-xml --dry-run)
/// and returns a KvmGuestPreview, and a run that fails or is stopped with Ctrl+C leaves nothing behind. Where libvirt
/// does not answer yet (a fresh host whose daemon was only previewed), -WhatIf still checks what this machine can tell
/// and shows the command; what only libvirt knows is in the preview's Blockers and Notes.
/// </summary>
[Cmdlet(VerbsCommon.New, "KvmGuest", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium, DefaultParameterSetName = IsoPathSet)]
[OutputType(typeof(KvmGuest), typeof(KvmGuestPreview))]
public sealed class NewKvmGuestCommand : KvmGuestCmdlet
{
    private const string IsoPathSet = "IsoPath";
    private const string LocationSet = "Location";
    private const string ImportDiskSet = "ImportDisk";
    private const string KernelSet = "Kernel";
    private const string CloudImageKeySet = "CloudImageSshKey";
    private const string CloudImageUserDataSet = "CloudImageUserData";
    private const string Activity = "New-KvmGuest";

    /// <summary>How long a guest virt-install started may take to report Running.</summary>
    private static readonly TimeSpan RunningWithin = TimeSpan.FromSeconds(60);

    /// <summary>The new guest's name. Only a string binds here, never another object's Name (a bridge binds to -Bridge).</summary>
    [Parameter(Mandatory = true, Position = 0)]
    [GuestNameTransformation]
    [Alias("VMName")]
    public string Name { get; set; } = string.Empty;

    [Parameter]
    public long MemoryBytes { get; set; } = NewGuestRequest.DefaultMemoryBytes;

    [Parameter]
    public int ProcessorCount { get; set; } = 1;

    [Parameter]
    [ArgumentCompleter(typeof(OsVariantCompleter))]
    public string? OsVariant { get; set; }

    [Parameter(Mandatory = true, ParameterSetName = IsoPathSet)]
    public string IsoPath { get; set; } = string.Empty;

    [Parameter(Mandatory = true, ParameterSetName = LocationSet)]
    public string Location { get; set; } = string.Empty;

    [Parameter(ParameterSetName = LocationSet)]
    [Parameter(ParameterSetName = KernelSet)]
    public string? KernelArguments { get; set; }

    [Parameter(Mandatory = true, ParameterSetName = ImportDiskSet)]
    public string ImportDisk { get; set; } = string.Empty;

    [Parameter(Mandatory = true, ParameterSetName = KernelSet)]
    public string Kernel { get; set; } = string.Empty;

    [Parameter(ParameterSetName = KernelSet)]
    public string? Initrd { get; set; }

    [Parameter(Mandatory = true, ParameterSetName = CloudImageKeySet)]
    [Parameter(Mandatory = true, ParameterSetName = CloudImageUserDataSet)]
    public string CloudImage { get; set; } = string.Empty;

    [Parameter(Mandatory = true, ParameterSetName = CloudImageKeySet)]
    public string SshPublicKey { get; set; } = string.Empty;

    [Parameter(Mandatory = true, ParameterSetName = CloudImageUserDataSet)]
    public string UserData { get; set; } = string.Empty;

    [Parameter(ParameterSetName = IsoPathSet)]
    [Parameter(ParameterSetName = LocationSet)]
    [Parameter(ParameterSetName = KernelSet)]
    [Parameter(ParameterSetName = CloudImageKeySet)]
    [Parameter(ParameterSetName = CloudImageUserDataSet)]
    public long DiskSizeBytes { get; set; }

    [Parameter(ParameterSetName = IsoPathSet)]
    [Parameter(ParameterSetName = LocationSet)]
    [Parameter(ParameterSetName = KernelSet)]
    [Parameter(ParameterSetName = CloudImageKeySet)]
    [Parameter(ParameterSetName = CloudImageUserDataSet)]
    public string? StoragePool { get; set; }

    /// <summary>The host bridge for the guest's network adapter: a name, or the bridge New-HostBridge returns, from the pipeline.</summary>
    [Parameter(ValueFromPipeline = true)]
    [BridgeNameTransformation]
    [ArgumentCompleter(typeof(BridgeNameCompleter))]
    public BridgeArgument? Bridge { get; set; }

    [Parameter]
    public string? Network { get; set; }

    [Parameter]
    public SwitchParameter Uefi { get; set; }

    [Parameter]
    public SwitchParameter Autostart { get; set; }

    [Parameter(ParameterSetName = ImportDiskSet)]
    [Parameter(ParameterSetName = KernelSet)]
    public SwitchParameter NoStart { get; set; }

    [Parameter]
    public string? Description { get; set; }

    [Parameter]
    public SwitchParameter AllowEmulation { get; set; }

    /// <summary>The libvirt to create the guest through; default $env:LIBVIRT_DEFAULT_URI, else qemu:///system. In every parameter set here.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public override string? Uri { get; set; }

    /// <summary>How long virt-install may take (an install tree from the network is fetched first).</summary>
    [Parameter]
    [ValidateRange(1, 86400)]
    public int TimeoutSec { get; set; } = 600;

    protected override void ProcessCore()
    {
        string uri = TargetUri;
        GuestName.Validate(Name); // before libvirt is loaded or asked
        var localHost = HostSystem.Open(HostRoot.Live, Runner, Cancellation, VerboseWhileRunning);
        LibvirtConnection? connection = null;
        GuestCreator creator;
        try
        {
            connection = Connect(uri);
            creator = new GuestCreator(connection, Runner, localHost, log: VerboseWhileRunning);
        }
        catch (KvmHostException unreachable) when (WhatIfRequested && GuestCreator.CanPlanWithout(unreachable))
        {
            // A preview goes on: a fresh host previews its daemon and its guest in one go, before either exists.
            WriteVerbose($"New-KvmGuest -WhatIf: {unreachable.Message} Checking what this machine can tell without libvirt.");
            creator = GuestCreator.WithoutLibvirt(uri, unreachable, Runner, localHost, log: VerboseWhileRunning);
        }
        var plan = creator.Plan(BuildRequest(), bridgeElsewhere: WhatIfRequested ? Bridge?.Elsewhere : null);
        foreach (string warning in plan.Warnings) WriteWarning(warning);

        var timeout = TimeSpan.FromSeconds(TimeoutSec);
        string what = $"Create guest '{Name}' on {uri} with: {plan.CommandLine}";
        if (WhatIfRequested)
        {
            Preview(creator, plan, connection, what, timeout);
            return;
        }
        if (!ShouldProcess(what, $"{what}?", Activity)) return;
        (connection ?? throw new InvalidOperationException("Only a preview plans without libvirt.")).RequireWritable();

        var creation = creator.Create(plan, timeout, ShowVirtInstallLine, WriteWarning, Cancellation);
        try
        {
            var guest = Catalog(uri, refresh: true).FindByUuid(plan.Uuid) ?? throw new KvmHostException(ErrorIds.GuestCreateFailed, FailureKind.InvalidOperation,
                $"virt-install reported success, but libvirt at {uri} has no guest '{Name}' afterwards.", Name, "Read virt-install's log (~/.cache/virt-manager/virt-install.log).");
            if (!NoStart)
            {
                var outcome = GuestWaiter.Wait([guest], GuestWaitCondition.Running, RunningWithin, Activity, ShowProgress, Cancellation)[0];
                EndProgress(Activity);
                if (!outcome.Reached)
                    throw outcome.Failure ?? new KvmHostException(ErrorIds.GuestStartFailed, FailureKind.InvalidOperation,
                        $"Guest '{Name}' was created but is {outcome.LastState} after {RunningWithin.TotalSeconds:0} s; it was removed again.", Name,
                        $"Read the guest's log (/var/log/libvirt/qemu/{Name}.log on its host) and its serial log ({VirtInstallCommand.SerialLogPath(Name)}).");
            }
            WriteObject(Read([guest])[0]);
        }
        catch (Exception e) when (e is KvmHostException or OperationCanceledException or PipelineStoppedException)
        {
            foreach (string problem in creation.RollBack()) WriteWarning($"Removing what New-KvmGuest made: {problem}");
            throw;
        }
    }

    /// <summary>"What if:" with the command and the domain XML (or why there is none and what blocks a real run), then the preview object.</summary>
    private void Preview(GuestCreator creator, GuestCreationPlan plan, LibvirtConnection? connection, string what, TimeSpan timeout)
    {
        var notes = new List<string>();
        string? xml = null;
        if (connection is null)
            notes.Add("No domain XML: virt-install --print-xml --dry-run opens libvirt even for a dry run, and libvirt does not answer.");
        else if (connection.IsReadOnly)
            notes.Add("No domain XML: virt-install needs read-write access to libvirt even for --dry-run, and this session has read-only access.");
        else
            xml = creator.Preview(plan, timeout, WriteWarning, Cancellation);
        var preview = KvmGuestPreview.From(plan, connection is not null, xml, notes);
        string nl = Environment.NewLine;
        string text = xml is not null
            ? $"{what}{nl}Domain XML (virt-install --print-xml --dry-run):{nl}{xml}"
            : $"{what}{nl}{string.Join(nl, preview.Notes)}"
              + (preview.Blockers.Length > 0 ? $"{nl}A real run would stop now:{nl}{string.Join(nl, preview.Blockers)}" : string.Empty);
        ShouldProcess(text, null, null);
        WriteObject(preview);
    }

    /// <summary>
    /// virt-install's progress lines. While the pipeline stops, writing throws; the line is dropped instead, so the runner
    /// goes on to see the cancellation and interrupts virt-install gently (it then deletes the disk it allocated).
    /// </summary>
    private void ShowVirtInstallLine(string line)
    {
        try
        {
            WriteProgress(new ProgressRecord(15, Activity, line));
        }
        catch (PipelineStoppedException)
        {
        }
    }

    private NewGuestRequest BuildRequest()
    {
        var bound = MyInvocation.BoundParameters;
        var source = ParameterSetName switch
        {
            LocationSet => GuestInstallSource.Location,
            ImportDiskSet => GuestInstallSource.ImportDisk,
            KernelSet => GuestInstallSource.Kernel,
            CloudImageKeySet or CloudImageUserDataSet => GuestInstallSource.CloudImage,
            _ => GuestInstallSource.IsoPath,
        };
        return new NewGuestRequest
        {
            Name = Name,
            Source = source,
            MemoryBytes = MemoryBytes,
            ProcessorCount = ProcessorCount,
            OsVariant = OsVariant,
            IsoPath = PathOf(nameof(IsoPath), IsoPath),
            Location = bound.ContainsKey(nameof(Location)) ? (VirtInstallCommand.IsUrl(Location) ? Location : PathOf(nameof(Location), Location)) : null,
            ImportDisk = PathOf(nameof(ImportDisk), ImportDisk),
            Kernel = PathOf(nameof(Kernel), Kernel),
            Initrd = PathOf(nameof(Initrd), Initrd),
            KernelArguments = KernelArguments,
            CloudImage = PathOf(nameof(CloudImage), CloudImage),
            SshPublicKey = PathOf(nameof(SshPublicKey), SshPublicKey),
            UserData = PathOf(nameof(UserData), UserData),
            DiskSizeBytes = bound.ContainsKey(nameof(DiskSizeBytes)) ? DiskSizeBytes : null,
            StoragePool = StoragePool,
            Bridge = Bridge?.Name,
            Network = Network,
            Uefi = Uefi,
            Autostart = Autostart,
            NoStart = NoStart,
            Description = Description,
            AllowEmulation = AllowEmulation,
        };
    }

    /// <summary>A path parameter as given, relative to PowerShell's current folder (not the process's), ~ expanded; null when not given.</summary>
    private string? PathOf(string parameter, string? path) =>
        MyInvocation.BoundParameters.ContainsKey(parameter) && !string.IsNullOrEmpty(path) ? GetUnresolvedProviderPathFromPSPath(path) : null;
}
