using KvmHost.Core.Platform;
using static KvmHost.Core.Guests.LibvirtNative;

namespace KvmHost.Core.Guests;

/// <summary>What Set-KvmGuest was asked to change; null: leave it as it is.</summary>
public sealed record GuestSettingsRequest
{
    public long? MemoryBytes { get; init; }
    public long? MaximumMemoryBytes { get; init; }
    public int? ProcessorCount { get; init; }
    public bool? Autostart { get; init; }

    /// <summary>The new description; the empty string removes it.</summary>
    public string? Description { get; init; }

    public string? NewName { get; init; }

    public bool IsEmpty => MemoryBytes is null && MaximumMemoryBytes is null && ProcessorCount is null && Autostart is null && Description is null && NewName is null;
}

/// <summary>A guest's settings as its definition has them and, while it runs, as the running guest has them.</summary>
public sealed record GuestSettingsState
{
    public required string Name { get; init; }
    public required bool Active { get; init; }
    public required bool Persistent { get; init; }
    public required bool Autostart { get; init; }
    public required long MaximumMemoryKiB { get; init; }
    public required long MemoryKiB { get; init; }
    public required int MaximumProcessors { get; init; }
    public required int Processors { get; init; }
    public string? Description { get; init; }
    public long? LiveMaximumMemoryKiB { get; init; }
    public long? LiveMemoryKiB { get; init; }
    public int? LiveMaximumProcessors { get; init; }
    public int? LiveProcessors { get; init; }
    public string? LiveDescription { get; init; }

    /// <summary>Reads the definition (inactive XML) and, for a running guest, the live XML, plus autostart.</summary>
    public static GuestSettingsState Read(GuestEntry guest)
    {
        var connection = guest.Connection;
        var (state, _) = connection.GetState(guest.Handle);
        bool active = GuestStateReasons.IsActive(state);
        bool persistent = connection.IsPersistent(guest.Handle);
        var config = DomainXml.Parse(connection.GetXml(guest.Handle, inactive: persistent));
        var live = active ? DomainXml.Parse(connection.GetXml(guest.Handle)) : null;
        return new GuestSettingsState
        {
            Name = guest.Name, Active = active, Persistent = persistent,
            Autostart = persistent && connection.GetAutostart(guest.Handle),
            MaximumMemoryKiB = config.MemoryKiB ?? 0, MemoryKiB = config.CurrentMemoryKiB ?? config.MemoryKiB ?? 0,
            MaximumProcessors = config.Vcpus ?? 1, Processors = config.CurrentVcpus ?? config.Vcpus ?? 1, Description = config.Description,
            LiveMaximumMemoryKiB = live?.MemoryKiB, LiveMemoryKiB = live?.CurrentMemoryKiB ?? live?.MemoryKiB,
            LiveMaximumProcessors = live?.Vcpus, LiveProcessors = live?.CurrentVcpus ?? live?.Vcpus, LiveDescription = live?.Description,
        };
    }
}

public enum GuestSettingKind { MaximumMemory, Memory, MaximumProcessors, Processors, Description, Autostart, Name }

/// <summary>One change: to the definition (persistent, from the next boot) and/or to the running guest (at once).</summary>
public sealed record GuestSettingStep(GuestSettingKind Kind, string Description, bool Config, bool Live, long Value = 0, string? Text = null);

/// <summary>The changes for one guest, and what will still wait for its next boot afterwards.</summary>
public sealed record GuestSettingsPlan(string Guest, IReadOnlyList<GuestSettingStep> Steps, IReadOnlyList<string> Pending)
{
    /// <summary>What -Verbose should say besides the steps (a running guest still catching up with its definition).</summary>
    public IReadOnlyList<string> Notes { get; init; } = [];

    public bool Changes => Steps.Count > 0;

    /// <summary>One line for ShouldProcess and -Verbose.</summary>
    public string Summary => Steps.Count == 0 ? $"'{Guest}' already has these settings." : string.Join(" ", Steps.Select(s => s.Description));
}

/// <summary>
/// Plans Set-KvmGuest from the guest's state alone (pure, so every case is tested without a hypervisor): each
/// setting is compared with the definition and, while the guest runs, with the running guest; only what differs
/// becomes a step (idempotence). The persistent definition always changes; the running guest changes where the
/// hypervisor allows it (memory within the balloon's maximum, vCPUs within the boot-time maximum, the description),
/// and what cannot change live (the maximums, a value above them) is named as waiting for the next boot. Maximums
/// are raised when a value needs it: libvirt refuses setvcpus or setmem above them.
/// </summary>
public static class GuestSettingsPlanner
{
    public static GuestSettingsPlan Plan(GuestSettingsState s, GuestSettingsRequest r, long hostMemoryBytes)
    {
        Validate(s, r, hostMemoryBytes);
        var steps = new List<GuestSettingStep>();
        var pending = new List<string>();
        var notes = new List<string>();
        string g = s.Name;

        // Memory, in KiB as libvirt keeps it. The maximum first: raising it is what lets the current value go up.
        long? wantMax = r.MaximumMemoryBytes is { } max ? max / 1024 : r.MemoryBytes is { } m && m / 1024 > s.MaximumMemoryKiB ? m / 1024 : null;
        if (wantMax is { } newMax && newMax != s.MaximumMemoryKiB)
        {
            steps.Add(new(GuestSettingKind.MaximumMemory, $"Set the maximum memory of '{g}' to {MiB(newMax)} MiB (was {MiB(s.MaximumMemoryKiB)}) from the next boot.", Config: true, Live: false, newMax));
            if (s.Active && s.LiveMaximumMemoryKiB != newMax)
                pending.Add($"maximum memory {MiB(newMax)} MiB (a running guest keeps the maximum it booted with)");
        }
        long effectiveMax = wantMax ?? s.MaximumMemoryKiB;
        if (r.MemoryBytes is { } memory)
        {
            // The running guest's memory is what its balloon driver has given back or taken, not the target libvirt was
            // asked for: it may lag behind, or never move without a driver. So the running guest is asked only together
            // with a change of the definition; a guest whose definition has the value already is left to its balloon.
            long want = memory / 1024;
            bool config = want != Math.Min(s.MemoryKiB, effectiveMax);
            bool live = config && s.Active && s.LiveMemoryKiB != want && want <= (s.LiveMaximumMemoryKiB ?? 0);
            if (config && s.Active && s.LiveMemoryKiB != want && !live)
                pending.Add($"memory {MiB(want)} MiB (above the {MiB(s.LiveMaximumMemoryKiB ?? 0)} MiB the running guest booted with as its maximum)");
            if (!config && s.Active && s.LiveMemoryKiB != want)
                notes.Add($"'{g}' is defined with {MiB(want)} MiB already; the running guest has {MiB(s.LiveMemoryKiB ?? 0)} MiB until its balloon driver follows or it boots again.");
            if (config)
                steps.Add(new(GuestSettingKind.Memory, $"Set the memory of '{g}' to {MiB(want)} MiB{Where(config, live)}.", config, live, want));
        }

        if (r.ProcessorCount is { } count)
        {
            if (count > s.MaximumProcessors)
            {
                steps.Add(new(GuestSettingKind.MaximumProcessors, $"Raise the maximum vCPUs of '{g}' to {count} (was {s.MaximumProcessors}) from the next boot.", Config: true, Live: false, count));
                if (s.Active && count > (s.LiveMaximumProcessors ?? 0))
                    pending.Add($"{count} vCPUs (above the {s.LiveMaximumProcessors} the running guest booted with as its maximum)");
            }
            bool config = count != s.Processors;
            bool liveDiffers = s.Active && s.LiveProcessors != count;
            bool live = liveDiffers && count <= (s.LiveMaximumProcessors ?? 0);
            if (config || live)
                steps.Add(new(GuestSettingKind.Processors, $"Set the vCPUs of '{g}' to {count}{Where(config, live)}.", config, live, count));
        }

        if (r.Description is { } text)
        {
            bool config = text != (s.Description ?? string.Empty);
            bool live = s.Active && text != (s.LiveDescription ?? string.Empty);
            if (config || live)
                steps.Add(new(GuestSettingKind.Description, text.Length == 0 ? $"Remove the description of '{g}'{Where(config, live)}." : $"Set the description of '{g}'{Where(config, live)}.", config, live, Text: text));
        }

        if (r.Autostart is { } autostart && autostart != s.Autostart)
            steps.Add(new(GuestSettingKind.Autostart, GuestPlanner.Autostart(g, s.Autostart, autostart).Description, Config: true, Live: false, autostart ? 1 : 0));

        if (r.NewName is { } newName && newName != s.Name)
            steps.Add(new(GuestSettingKind.Name, $"Rename '{g}' to '{newName}'.", Config: true, Live: false, Text: newName));

        return new GuestSettingsPlan(g, steps, pending) { Notes = notes };
    }

    private static void Validate(GuestSettingsState s, GuestSettingsRequest r, long hostMemoryBytes)
    {
        foreach (var (name, value) in new[] { ("MemoryBytes", r.MemoryBytes), ("MaximumMemoryBytes", r.MaximumMemoryBytes) })
        {
            if (value is not { } bytes) continue;
            if (bytes <= 0 || bytes % (1 << 20) != 0)
                throw new KvmHostException(ErrorIds.GuestMemoryInvalid, FailureKind.InvalidArgument,
                    $"-{name} {bytes} is not a whole, positive number of MiB; nothing was changed.", bytes, "Give the memory with PowerShell's units, for example 512MB or 2GB.");
            if (bytes > hostMemoryBytes)
                throw new KvmHostException(ErrorIds.GuestMemoryInvalid, FailureKind.InvalidArgument,
                    $"-{name} {bytes >> 20} MiB is more than the host of '{s.Name}' has ({hostMemoryBytes >> 20} MiB); nothing was changed.", bytes,
                    "Give the guest less memory than its host has.");
        }
        if (r.MemoryBytes > r.MaximumMemoryBytes)
            throw new KvmHostException(ErrorIds.GuestParametersConflict, FailureKind.InvalidArgument,
                $"-MemoryBytes ({r.MemoryBytes >> 20} MiB) is above -MaximumMemoryBytes ({r.MaximumMemoryBytes >> 20} MiB); nothing was changed.", s.Name,
                "Give -MemoryBytes at most -MaximumMemoryBytes, or leave -MaximumMemoryBytes out: it is raised to -MemoryBytes when needed.");
        if (r.ProcessorCount is < 1 or > 4096)
            throw new KvmHostException(ErrorIds.GuestProcessorCountInvalid, FailureKind.InvalidArgument,
                $"-ProcessorCount {r.ProcessorCount} is not between 1 and 4096; nothing was changed.", r.ProcessorCount, "Give 1 or more vCPUs.");
        if (r.Description is not null) GuestDescription.Validate(r.Description);
        if (r.NewName is { } newName)
        {
            GuestName.Validate(newName);
            if (newName != s.Name && s.Active)
                throw new KvmHostException(ErrorIds.GuestStateInvalid, FailureKind.InvalidOperation,
                    $"Guest '{s.Name}' cannot be renamed while it runs (libvirt renames only guests that are shut off); nothing was changed.", s.Name,
                    "Stop-KvmGuest first, then Set-KvmGuest -NewName.");
        }
        if (!s.Persistent && !r.IsEmpty)
            throw new KvmHostException(ErrorIds.GuestStateInvalid, FailureKind.InvalidOperation,
                $"Guest '{s.Name}' is transient: it has no definition to change, and it disappears when it stops; nothing was changed.", s.Name,
                "Define it persistently first (virsh dumpxml NAME > f.xml; virsh define f.xml).");
    }

    private static string Where(bool config, bool live) => (config, live) switch
    {
        (true, true) => " (now and from the next boot)",
        (true, false) => " (from the next boot)",
        (false, true) => " (in the running guest: its definition has it already)",
        _ => string.Empty,
    };

    private static long MiB(long kib) => kib / 1024;
}

/// <summary>Carries out a settings plan through the guest's connection.</summary>
public static class GuestSettingsApplier
{
    /// <summary>
    /// Applies each step to the definition first, then to the running guest. A live change the hypervisor refuses
    /// (no balloon device, a vCPU it cannot plug) is not an error: the definition has the new value, and the change is
    /// returned as waiting for the next boot, with libvirt's reason. Returns everything that waits for the next boot.
    /// </summary>
    public static IReadOnlyList<string> Apply(GuestEntry guest, GuestSettingsPlan plan)
    {
        var connection = guest.Connection;
        var pending = plan.Pending.ToList();
        foreach (var step in plan.Steps)
        {
            if (step.Config)
            {
                switch (step.Kind)
                {
                    case GuestSettingKind.MaximumMemory: connection.SetMemory(guest.Handle, step.Value, maximum: true, AffectConfig); break;
                    case GuestSettingKind.Memory: connection.SetMemory(guest.Handle, step.Value, maximum: false, AffectConfig); break;
                    case GuestSettingKind.MaximumProcessors: connection.SetVcpus(guest.Handle, (int)step.Value, maximum: true, AffectConfig); break;
                    case GuestSettingKind.Processors: connection.SetVcpus(guest.Handle, (int)step.Value, maximum: false, AffectConfig); break;
                    case GuestSettingKind.Description: connection.SetDescription(guest.Handle, step.Text, AffectConfig); break;
                    case GuestSettingKind.Autostart: connection.SetAutostart(guest.Handle, step.Value != 0); break;
                    case GuestSettingKind.Name: connection.Rename(guest.Handle, step.Text!); break;
                }
            }
            if (!step.Live) continue;
            try
            {
                switch (step.Kind)
                {
                    case GuestSettingKind.Memory: connection.SetMemory(guest.Handle, step.Value, maximum: false, AffectLive); break;
                    case GuestSettingKind.Processors: connection.SetVcpus(guest.Handle, (int)step.Value, maximum: false, AffectLive); break;
                    case GuestSettingKind.Description: connection.SetDescription(guest.Handle, step.Text, AffectLive); break;
                }
            }
            catch (KvmHostException refused) when (refused.ErrorId is ErrorIds.GuestStateInvalid or ErrorIds.LibvirtOperationUnsupported or ErrorIds.LibvirtCallFailed)
            {
                pending.Add($"{step.Kind switch { GuestSettingKind.Memory => $"memory {step.Value / 1024} MiB", GuestSettingKind.Processors => $"{step.Value} vCPUs", _ => "the description" }}"
                    + $" (the running guest refused it: {refused.Message})");
            }
        }
        return pending;
    }
}
