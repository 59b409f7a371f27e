using System.Management.Automation;
using KvmHost.Core.Guests;
using KvmHost.Core.Platform;

namespace KvmHost.Commands;

/// <summary>
/// Changes a guest's settings: memory and its maximum, vCPUs, the description, the name, and whether it starts with
/// the host. The persistent definition always changes; a running guest changes at once where the hypervisor allows
/// it, and what waits for the next boot is said (a warning, and PendingChanges with -PassThru).
/// </summary>
[Cmdlet(VerbsCommon.Set, "KvmGuest", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium,
    DefaultParameterSetName = GuestParameterSets.ByName)]
[OutputType(typeof(KvmGuest))]
public sealed class SetKvmGuestCommand : GuestTargetCmdlet
{
    private readonly Dictionary<GuestEntry, IReadOnlyList<string>> _pending = [];
    private readonly Dictionary<string, long> _hostMemory = new(StringComparer.Ordinal);

    /// <summary>The current memory (libvirt's currentMemory, the balloon's target); the maximum is raised to it when below.</summary>
    [Parameter]
    public long MemoryBytes { get; set; }

    /// <summary>The memory the guest boots with as its ceiling (libvirt's memory).</summary>
    [Parameter]
    public long MaximumMemoryBytes { get; set; }

    /// <summary>The vCPUs; the maximum is raised to it when below (libvirt refuses setvcpus above it).</summary>
    [Parameter]
    public int ProcessorCount { get; set; }

    /// <summary>-Autostart turns starting with the host on, -Autostart:$false off; leave it out to keep it as it is.</summary>
    [Parameter]
    public SwitchParameter Autostart { get; set; }

    /// <summary>The guest's description (virsh desc); an empty string removes it.</summary>
    [Parameter]
    [AllowEmptyString]
    public string? Description { get; set; }

    /// <summary>A new name for a guest that is shut off.</summary>
    [Parameter]
    [GuestNameTransformation]
    public string? NewName { get; set; }

    private GuestSettingsRequest Request()
    {
        var bound = MyInvocation.BoundParameters;
        return new GuestSettingsRequest
        {
            MemoryBytes = bound.ContainsKey(nameof(MemoryBytes)) ? MemoryBytes : null,
            MaximumMemoryBytes = bound.ContainsKey(nameof(MaximumMemoryBytes)) ? MaximumMemoryBytes : null,
            ProcessorCount = bound.ContainsKey(nameof(ProcessorCount)) ? ProcessorCount : null,
            Autostart = bound.ContainsKey(nameof(Autostart)) ? Autostart.IsPresent : null,
            Description = bound.ContainsKey(nameof(Description)) ? Description ?? string.Empty : null,
            NewName = bound.ContainsKey(nameof(NewName)) ? NewName : null,
        };
    }

    private protected override void Prepare()
    {
        base.Prepare();
        var request = Request();
        // What can be judged without a guest fails before libvirt is asked, once for the whole pipeline.
        if (request.NewName is not null) GuestName.Validate(request.NewName);
        if (request.Description is not null) GuestDescription.Validate(request.Description);
    }

    protected override void ProcessCore()
    {
        var request = Request();
        var targets = ResolveTargets();
        if (request.NewName is not null && targets.Count > 1)
            throw new KvmHostException(ErrorIds.GuestParametersConflict, FailureKind.InvalidArgument,
                $"-NewName gives one guest a new name, but {targets.Count} guests were named ({string.Join(", ", targets.Take(5).Select(t => t.Name))}); nothing was changed.",
                request.NewName, "Name exactly one guest when renaming.");
        ForEachGuest(targets, guest =>
        {
            if (!FirstTime(guest)) return;
            if (request.IsEmpty)
            {
                Targets.Add(guest);
                WriteVerbose($"No setting was given for '{guest.Name}'. Nothing to do.");
                return;
            }
            var state = GuestSettingsState.Read(guest);
            var plan = GuestSettingsPlanner.Plan(state, request, HostMemory(guest.Connection));
            foreach (string note in plan.Notes) WriteVerbose(note);
            if (request.NewName is { } newName && newName != guest.Name && Catalog(guest.Connection.Uri, refresh: true).FindByName(newName) is not null)
                throw new KvmHostException(ErrorIds.GuestExists, FailureKind.ResourceBusy,
                    $"'{guest.Name}' cannot be renamed: a guest named '{newName}' already exists on {guest.Connection.Uri}. Nothing was changed.", newName,
                    "Choose another -NewName.");
            Targets.Add(guest);
            if (!plan.Changes)
            {
                WriteVerbose(plan.Summary + " Nothing to do.");
                Remember(guest, plan.Pending);
                return;
            }
            if (!ShouldProcess(Describe(guest), plan.Summary)) return;
            var pending = GuestSettingsApplier.Apply(guest, plan);
            ChangedTargets.Add(guest);
            Remember(guest, pending);
            if (plan.Steps.Any(s => s.Kind == GuestSettingKind.Name))
                Renamed(guest);
        });
    }

    private void Remember(GuestEntry guest, IReadOnlyList<string> pending)
    {
        _pending[guest] = pending;
        foreach (string change in pending) WriteWarning($"'{guest.Name}': {change} waits for the next boot.");
    }

    /// <summary>A renamed guest is found again by its UUID, so -PassThru reads it under its new name.</summary>
    private void Renamed(GuestEntry guest)
    {
        if (Catalog(guest.Connection.Uri, refresh: true).FindByUuid(guest.Uuid) is not { } again) return;
        int index = Targets.IndexOf(guest);
        if (index >= 0) Targets[index] = again;
        ChangedTargets.Remove(guest);
        ChangedTargets.Add(again);
        if (_pending.Remove(guest, out var pending)) _pending[again] = pending;
    }

    private long HostMemory(LibvirtConnection connection)
    {
        if (!_hostMemory.TryGetValue(connection.Uri, out long bytes))
            _hostMemory[connection.Uri] = bytes = connection.HostMemoryBytes;
        return bytes;
    }

    protected override void EndCore() =>
        EmitPassThru(Targets, ChangedTargets, guest => [new PSNoteProperty("PendingChanges", _pending.GetValueOrDefault(guest)?.ToArray() ?? [])]);
}
