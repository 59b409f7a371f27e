using System.Net;
using KvmHost.Core.Platform;

namespace KvmHost.Core.Bridge;

/// <summary>What one configuration file should become; null content means the file is to be removed.</summary>
public sealed record PlannedFile(string Path, string? Content, UnixFileMode Mode, string Purpose)
{
    /// <summary>The exact bytes to write when the file must come back byte for byte (a saved original); Content is their text.</summary>
    public byte[]? Bytes { get; init; }
}

/// <summary>The files of a bridge change, and what it carries where (for -WhatIf and the result).</summary>
public sealed record BridgeRendering(IReadOnlyList<PlannedFile> Files)
{
    public IReadOnlyList<CarriedSetting> Carried { get; init; } = [];
    public IReadOnlyList<string> Notes { get; init; } = [];
    /// <summary>The port's NetworkManager profile, when the backend has one.</summary>
    public string? PortUuid { get; init; }
}

/// <summary>IP settings as a configuration file holds them (a NIC's profile, or a bridge's).</summary>
public sealed record ConfiguredIp
{
    public bool Dhcp { get; init; }
    public bool Ipv6Auto { get; init; }
    public IReadOnlyList<IpCidr> Addresses { get; init; } = [];
    public IPAddress? Gateway { get; init; }
    public IPAddress? Gateway6 { get; init; }
    public IReadOnlyList<IPAddress> DnsServers { get; init; } = [];
    public IReadOnlyList<BridgeRoute> Routes { get; init; } = [];
    public string? MacAddress { get; init; }
    public int? Mtu { get; init; }
    /// <summary>IPv6 is off on the link (NetworkManager ipv6.method=disabled, ifcfg IPV6_DISABLED=yes, or disable_ipv6=1 live).</summary>
    public bool Ipv6Disabled { get; init; }
    public bool HasIpSettings => Dhcp || Addresses.Count > 0;
    /// <summary>Anything that gives the link a layer 3 identity (static or automatic addresses).</summary>
    public bool HasLayer3 => HasIpSettings || Ipv6Auto;
}

/// <summary>A bridge found in configuration files, with the ports that name it.</summary>
public sealed record ConfiguredBridge(string Name, string Path, ConfiguredIp Ip, bool Stp, int? ForwardDelay, IReadOnlyList<string> Ports, IReadOnlyList<string> Files);

/// <summary>A NIC's own profile (not a bridge port), which the bridge takes over.</summary>
public sealed record NicProfile(string Path, ConfiguredIp Ip, string? Controller)
{
    /// <summary>The profile's text as it is on disk (or as it was before the NIC was bridged, read from the saved original).</summary>
    public string? Text { get; init; }
    /// <summary>Read from the copy New-HostBridge saved next to it, because the file itself is now a port or disabled.</summary>
    public bool FromSavedOriginal { get; init; }
    public bool IsIfcfg => Path.Contains("/ifcfg-", StringComparison.Ordinal);
}

/// <summary>
/// One way of persisting a bridge: network-scripts ifcfg files, or NetworkManager keyfiles. Both
/// render from the same <see cref="BridgeSettings"/>, read the NIC's current profile, and list bridges.
/// </summary>
public interface IBridgeConfig
{
    BridgeBackend Backend { get; }

    /// <summary>The files that make the bridge persistent, the NIC's profile edits included, and what is carried where.</summary>
    BridgeRendering Render(BridgeSettings settings);

    /// <summary>The NIC's own profiles (ports of a bridge report their controller).</summary>
    IReadOnlyList<NicProfile> FindNicProfiles(string nic);

    /// <summary>The NIC's profile as it was before <paramref name="bridge"/> took it over (New-HostBridge saves it), or null.</summary>
    NicProfile? FindSavedProfile(string bridge, string nic);

    IReadOnlyList<ConfiguredBridge> FindBridges();

    /// <summary>NICs with an own profile (not a bridge, not a port of one): what tab completion offers offline.</summary>
    IReadOnlyList<string> ConfiguredNics();

    /// <summary>
    /// The files that give the NIC back what it had (its saved original, byte for byte, when the bridge still
    /// carries exactly that; else the original with the bridge's current layer 3 settings) and remove the bridge.
    /// </summary>
    BridgeRendering RenderRemoval(ConfiguredBridge bridge, string nic, ConfiguredIp ip, CarryContext context);
}

/// <summary>
/// The NIC's profiles as they were before a bridge took the NIC over, kept next to them as hidden files:
/// neither NetworkManager (it skips dot files) nor network-scripts (it reads ifcfg-*, route-*, rule-*) loads
/// them, and Remove-HostBridge writes them back byte for byte.
/// </summary>
internal static class SavedOriginals
{
    public const string Suffix = ".orig";

    public static string PathFor(string path, string bridge)
    {
        int slash = path.LastIndexOf('/');
        return $"{path[..(slash + 1)]}.{path[(slash + 1)..]}{AtomicFileWriter.BackupMarker}{bridge}{Suffix}";
    }

    /// <summary>The planned file that saves <paramref name="path"/>'s current bytes (rewritten on a rerun with the same bytes: no change).</summary>
    public static PlannedFile Save(HostRoot root, string path, string bridge, string text, UnixFileMode mode) =>
        new(PathFor(path, bridge), text, mode, "the NIC's profile as it was, for Remove-HostBridge")
        {
            Bytes = root.TryReadBytes(PathFor(path, bridge)) is { } saved && root.TryReadText(PathFor(path, bridge)) == text ? saved : root.TryReadBytes(path),
        };

    /// <summary>A saved original written back: its bytes exactly, under the file's own name.</summary>
    public static PlannedFile Restore(HostRoot root, string path, string bridge, UnixFileMode mode, string purpose) =>
        new(path, root.TryReadText(PathFor(path, bridge)), mode, purpose) { Bytes = root.TryReadBytes(PathFor(path, bridge)) };

    public static PlannedFile Remove(string path, string bridge, UnixFileMode mode) =>
        new(PathFor(path, bridge), null, mode, "the saved original, no longer needed");
}

public static class BridgeConfigs
{
    public static IBridgeConfig For(BridgeBackend backend, HostRoot root, bool newNetworkManagerNames) => backend switch
    {
        BridgeBackend.NetworkScripts => new NetworkScriptsConfig(root),
        _ => new NetworkManagerConfig(root, newNetworkManagerNames),
    };

    /// <summary>
    /// The backend New-HostBridge writes with. NetworkManager's key names come from the running
    /// NetworkManager's version on the live root, else from the release. When NetworkManager has to apply
    /// the change and does not answer, that is added to <paramref name="blockers"/>: -WhatIf still previews,
    /// a real run stops with it.
    /// </summary>
    public static IBridgeConfig Open(BridgeBackend backend, HostSystem host, ReleaseProfile? release, ICollection<KvmHostException> blockers)
    {
        var root = host.Root;
        if (backend == BridgeBackend.NetworkScripts) return new NetworkScriptsConfig(root);
        bool? fromVersion = null;
        if (host.Running is { } running)
        {
            var client = running.NetworkManager;
            if (client.IsRunning()) fromVersion = client.UsesNewNames();
            else blockers.Add(NetworkManagerNotRunning(release));
        }
        // Without an os-release under -Root the old names are the safe choice: they work on every version.
        return new NetworkManagerConfig(root, fromVersion ?? (release is not null && ReleaseUsesNewNetworkManagerNames(release)));
    }

    /// <summary>The backends Remove-HostBridge looks for the bridge in: the one asked for, else the release's first.</summary>
    public static IReadOnlyList<IBridgeConfig> ForRemoval(BridgeBackend? only, HostRoot root, ReleaseProfile? release)
    {
        var preferred = only ?? release?.BridgeBackend ?? BridgeBackend.NetworkManager;
        var order = only is not null ? [preferred]
            : new[] { preferred, preferred == BridgeBackend.NetworkScripts ? BridgeBackend.NetworkManager : BridgeBackend.NetworkScripts };
        return order.Select(b => For(b, root, false)).ToList();
    }

    /// <summary>network-scripts (ifup/ifdown with ifcfg files) ships with RHEL 7 and, deprecated, RHEL 8; later releases have none.</summary>
    public static bool HasNetworkScripts(ReleaseProfile? release) =>
        release is { Family: DistroFamily.RedHat, MajorVersion: <= 8 };

    /// <summary>The plan made again under the host lock differs from the one approved: do nothing rather than something unasked.</summary>
    public static KvmHostException ChangedWhileWaiting(string bridge) =>
        new(ErrorIds.BridgeConflict, FailureKind.ResourceBusy,
            "The network configuration changed while this command waited for the lock (another run?). Nothing was changed.", bridge,
            "Run the command again; -WhatIf shows what it would do now.");

    public static KvmHostException NetworkManagerNotRunning(ReleaseProfile? release) =>
        new(ErrorIds.NetworkManagerNotRunning, FailureKind.ResourceUnavailable,
            "NetworkManager is not running, so it cannot apply the bridge. Nothing was changed.", "NetworkManager",
            HasNetworkScripts(release)
                ? "Start NetworkManager (systemctl start NetworkManager), or use -Backend NetworkScripts on a host that runs network-scripts instead."
                : "Start NetworkManager (systemctl start NetworkManager); on this release it is the only network service that can carry the bridge.");

    /// <summary>
    /// NetworkManager 1.46 renamed master/slave-type/autoconnect-slaves to controller/port-type/
    /// autoconnect-ports; the old names keep working on new versions, the new ones fail on old ones.
    /// Offline the release decides: RHEL 10, Fedora 40, Debian 13 and Ubuntu 24.04 ship 1.46 or newer.
    /// </summary>
    public static bool ReleaseUsesNewNetworkManagerNames(ReleaseProfile release) => release.Family switch
    {
        DistroFamily.RedHat => release.MajorVersion >= 10,
        DistroFamily.Fedora => release.MajorVersion >= 40,
        _ => release.Id == "ubuntu" ? release.MajorVersion >= 24 : release.MajorVersion >= 13,
    };

    /// <summary>"nmcli tool, version 1.42.4" -> false; 1.46 and newer -> true.</summary>
    public static bool? VersionUsesNewNetworkManagerNames(string nmcliVersionOutput)
    {
        var match = System.Text.RegularExpressions.Regex.Match(nmcliVersionOutput, @"(\d+)\.(\d+)");
        if (!match.Success) return null;
        int major = int.Parse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        int minor = int.Parse(match.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture);
        return major > 1 || (major == 1 && minor >= 46);
    }

    /// <summary>"52:54:00:AA:BB:CC": an explicit MAC, not one of NetworkManager's words (preserve, permanent, random, stable).</summary>
    public static bool IsMacAddress(string? text) =>
        text is not null && System.Text.RegularExpressions.Regex.IsMatch(text, "^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$");

    internal static IPAddress? TryAddress(string? text) =>
        text is not null && IpCidr.TryParseStrict(text.Trim(), out var address) ? address : null;

    internal static IpCidr? TryCidr(string? text)
    {
        if (text is null) return null;
        int slash = text.IndexOf('/');
        if (slash <= 0 || TryAddress(text[..slash]) is not { } address) return null;
        return int.TryParse(text[(slash + 1)..], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int prefix)
            ? new IpCidr(address, prefix) : null;
    }
}
