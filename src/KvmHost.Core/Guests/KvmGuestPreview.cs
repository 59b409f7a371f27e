namespace KvmHost.Core.Guests;

/// <summary>
/// What New-KvmGuest -WhatIf returns: the guest a real run would create, as a plan, never as a guest that exists. It
/// follows the module's -WhatIf convention: WhatIf is true, Changed false, PlannedChanges the steps of a real run,
/// Blockers why a real run would stop now (libvirt not answering yet, a piped bridge that is not on this host yet),
/// and Notes what could not be checked without libvirt. The one state property, LibvirtReachable, is as it is now.
/// </summary>
public sealed record KvmGuestPreview
{
    public required string Name { get; init; }
    public required string Uri { get; init; }

    /// <summary>libvirt at Uri answered the preview (it checked the name, networks, pools and made the domain XML).</summary>
    public bool LibvirtReachable { get; init; }

    /// <summary>What virt-install's --os-variant gets.</summary>
    public required string OsVariant { get; init; }

    /// <summary>kvm, or qemu (TCG) where KVM cannot run the guest and -AllowEmulation was given.</summary>
    public required string VirtType { get; init; }

    /// <summary>virt-install's exact argument list, as the process runner would start it (the --uuid is made anew by each run).</summary>
    public string[] Arguments { get; init; } = [];

    /// <summary>The same command as it would be typed into a shell.</summary>
    public required string CommandLine { get; init; }

    /// <summary>The domain XML from virt-install --print-xml --dry-run; null when libvirt did not answer or allowed reading only (Notes say which).</summary>
    public string? DomainXml { get; init; }

    public bool Changed { get; init; }
    public bool WhatIf { get; init; } = true;
    public string[] PlannedChanges { get; init; } = [];
    public string[] Blockers { get; init; } = [];
    public string[] Notes { get; init; } = [];

    /// <summary>A preview of <paramref name="plan"/>, with the XML where virt-install could make it and the notes of the caller (why there is none).</summary>
    public static KvmGuestPreview From(GuestCreationPlan plan, bool libvirtReachable, string? domainXml, IEnumerable<string> notes) => new()
    {
        Name = plan.Request.Name,
        Uri = plan.Uri,
        LibvirtReachable = libvirtReachable,
        OsVariant = plan.OsVariant,
        VirtType = plan.Acceleration.VirtType,
        Arguments = [.. plan.Arguments],
        CommandLine = plan.CommandLine,
        DomainXml = domainXml,
        PlannedChanges = [.. plan.Steps],
        Blockers = [.. plan.Blockers],
        Notes = [.. notes, .. plan.Unchecked.Select(what => "Not checked without libvirt: " + what)],
    };

    public override string ToString() => Name;
}
