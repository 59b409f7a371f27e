using KvmHost.Core.Platform;

namespace KvmHost.Core.Bridge;

/// <summary>Where one setting of the NIC's profile belongs once the NIC is a bridge port.</summary>
public enum SettingPlace
{
    /// <summary>Layer 3 and everything tied to the host's address: it moves to the bridge.</summary>
    Bridge,
    /// <summary>The physical link (802.1X, ethtool, LLDP, the NIC's own MAC): it stays on the port.</summary>
    Port,
    /// <summary>Both keep it (MTU for jumbo frames, autoconnect priority, who may activate the profile).</summary>
    Both,
    /// <summary>The NIC profile's own identity (id, uuid, type, name), or a setting KvmHost does not know: not carried.</summary>
    NicProfile,
}

/// <summary>
/// One setting of the NIC's profile and where the bridge change puts it; also the effective values KvmHost
/// writes explicitly because the bridge would otherwise get another default. -WhatIf lists them.
/// </summary>
public sealed record CarriedSetting(string Setting, string Value, SettingPlace Place, string? Reason = null)
{
    public override string ToString()
    {
        string where = Place switch
        {
            SettingPlace.Bridge => "to the bridge",
            SettingPlace.Port => "stays on the port",
            SettingPlace.Both => "on the bridge and the port",
            _ => "stays in the NIC's own profile (not carried)",
        };
        return $"{Setting}={Value} {where}{(Reason is null ? string.Empty : $" ({Reason})")}";
    }
}

/// <summary>What the bridge change knows about the NIC beyond its profile: how it runs now, and what the admin asked instead.</summary>
public sealed record CarryContext
{
    public required string Bridge { get; init; }
    public required string Nic { get; init; }
    /// <summary>The metric of the NIC's routes now, per family (null: offline, or no route).</summary>
    public int? LiveMetric4 { get; init; }
    public int? LiveMetric6 { get; init; }
    /// <summary>The NIC's permanent MAC (the hardware's), when known.</summary>
    public string? PermanentMac { get; init; }
    /// <summary>-IPAddress/-Gateway/-DnsServer or -Dhcp: these replace the profile's addressing; null keeps it.</summary>
    public ConfiguredIp? Addressing { get; init; }
}

internal static partial class BridgeSettingsCatalog
{
    /// <summary>NetworkManager's default route metric for an ethernet device; a bridge gets 425 (nm-device.c, route metric defaults per device type).</summary>
    public const int NetworkManagerEthernetMetric = 100;

    /// <summary>A setting KvmHost cannot honour on the bridge: refused before anything changes.</summary>
    internal static KvmHostException NotCarried(string profilePath, string setting, string value, string why, string hint) =>
        new(ErrorIds.InterfaceSettingNotCarried, FailureKind.InvalidOperation,
            $"{profilePath} sets {setting}={value}, which the bridge cannot carry: {why} Nothing was changed.", profilePath, hint);
}
