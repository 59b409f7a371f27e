using KvmHost.Core.Platform;

namespace KvmHost.Core.Services;

/// <summary>What the admin asks for; Auto decides from the host (see <see cref="LibvirtUnits.ChooseLayout"/>).</summary>
public enum LibvirtDaemonMode { Auto, Monolithic, Modular }

/// <summary>
/// The unit files of each daemon layout, after libvirt's daemons.rst ("Switching to modular daemons"),
/// which Red Hat's RHEL 9 procedure follows: per driver the service is enabled and its three sockets
/// enabled and started (the service then starts on the first connection); virtproxyd's sockets serve
/// clients that still connect to libvirt-sock and remote (SSH-tunnelled) clients.
/// </summary>
internal static class LibvirtUnits
{
    public const string MonolithicService = "libvirtd.service";
    public static readonly string[] ModularDrivers = ["qemu", "network", "nodedev", "nwfilter", "secret", "storage", "interface"];

    /// <summary>The read-only socket each layout answers on: the one the reachability probe connects to.</summary>
    public static string ProbeSocket(LibvirtLayout layout) =>
        layout == LibvirtLayout.Monolithic ? "/run/libvirt/libvirt-sock-ro" : "/run/libvirt/virtqemud-sock-ro";

    /// <summary>Units this module enables (services and sockets) for a layout, before filtering by what is installed.</summary>
    public static IReadOnlyList<string> Managed(LibvirtLayout layout) => layout == LibvirtLayout.Monolithic
        ? [MonolithicService, "libvirtd.socket", "libvirtd-ro.socket", "libvirtd-admin.socket"]
        : ModularDrivers.Append("proxy").SelectMany(Daemon).ToList();

    /// <summary>Units to stop and disable when switching away from a layout (the TCP/TLS sockets too, as daemons.rst says).</summary>
    public static IReadOnlyList<string> Retired(LibvirtLayout layout) => layout == LibvirtLayout.Monolithic
        ? [MonolithicService, "libvirtd.socket", "libvirtd-ro.socket", "libvirtd-admin.socket", "libvirtd-tcp.socket", "libvirtd-tls.socket"]
        : ModularDrivers.Append("proxy").SelectMany(Daemon).Concat(["virtproxyd-tcp.socket", "virtproxyd-tls.socket"]).ToList();

    /// <summary>Every unit that decides the layout; read in one systemctl call.</summary>
    public static IReadOnlyList<string> All => Retired(LibvirtLayout.Monolithic).Concat(Retired(LibvirtLayout.Modular)).ToList();

    public static bool IsSocket(string unit) => unit.EndsWith(".socket", StringComparison.Ordinal);

    private static IEnumerable<string> Daemon(string driver) =>
        [$"virt{driver}d.service", $"virt{driver}d.socket", $"virt{driver}d-ro.socket", $"virt{driver}d-admin.socket"];

    /// <summary>
    /// Auto: a layout whose units are not installed cannot be chosen; when both are, the one in use
    /// (enabled or running) wins, so hosts upgraded from RHEL 8 keep libvirtd; otherwise the release's
    /// default (modular on Fedora 35+ and RHEL 9/10).
    /// </summary>
    public static LibvirtLayout ChooseLayout(LibvirtDaemonMode mode, IReadOnlyDictionary<string, SystemdUnitState> states, Func<LibvirtLayout> releaseDefault)
    {
        if (mode == LibvirtDaemonMode.Monolithic) return LibvirtLayout.Monolithic;
        if (mode == LibvirtDaemonMode.Modular) return LibvirtLayout.Modular;
        bool monolithic = Installed(states, MonolithicService);
        bool modular = Installed(states, "virtqemud.socket");
        if (monolithic != modular) return monolithic ? LibvirtLayout.Monolithic : LibvirtLayout.Modular;
        // Neither: the not-installed error names the release's units. The release is read only when the units
        // cannot decide, so a bare image without os-release still works with an explicit or evident layout.
        if (!monolithic) return releaseDefault();
        bool modularInUse = InUse(states, Retired(LibvirtLayout.Modular).Where(u => u.StartsWith("virtqemud", StringComparison.Ordinal)));
        bool monolithicInUse = InUse(states, Retired(LibvirtLayout.Monolithic));
        if (modularInUse != monolithicInUse) return modularInUse ? LibvirtLayout.Modular : LibvirtLayout.Monolithic;
        return releaseDefault();
    }

    private static bool Installed(IReadOnlyDictionary<string, SystemdUnitState> states, string unit) =>
        states.TryGetValue(unit, out var state) && state.Exists;

    private static bool InUse(IReadOnlyDictionary<string, SystemdUnitState> states, IEnumerable<string> units) =>
        units.Any(u => states.TryGetValue(u, out var s) && s.Exists && !s.IsMasked && (s.IsActive || s.IsExplicitlyEnabled));
}
