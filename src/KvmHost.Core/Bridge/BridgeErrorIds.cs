namespace KvmHost.Core.Platform;

/// <summary>Error ids of the bridge area (New-/Get-/Remove-HostBridge, the ifcfg and keyfile editors).</summary>
public static partial class ErrorIds
{
    public const string InvalidInterfaceName = nameof(InvalidInterfaceName);
    public const string InvalidIPAddress = nameof(InvalidIPAddress);
    public const string GatewayOutsideSubnet = nameof(GatewayOutsideSubnet);
    public const string InvalidBridgeOption = nameof(InvalidBridgeOption);
    public const string UnsafeConfigurationValue = nameof(UnsafeConfigurationValue);
    public const string InterfaceNotFound = nameof(InterfaceNotFound);
    public const string InterfaceNotUsable = nameof(InterfaceNotUsable);
    public const string BridgeConflict = nameof(BridgeConflict);
    public const string BridgeNotFound = nameof(BridgeNotFound);
    public const string BridgeApplyFailed = nameof(BridgeApplyFailed);
    public const string BridgeConfirmationRequired = nameof(BridgeConfirmationRequired);
    public const string NetworkStateUnreadable = nameof(NetworkStateUnreadable);
    public const string CheckpointFailed = nameof(CheckpointFailed);
    public const string BridgeRolledBack = nameof(BridgeRolledBack);
    /// <summary>The NetworkManager backend on the running host, and NetworkManager does not answer.</summary>
    public const string NetworkManagerNotRunning = nameof(NetworkManagerNotRunning);
    /// <summary>A keyfile NetworkManager itself rejects (no [section] before its first key, or a line that is no key=value).</summary>
    public const string KeyfileMalformed = nameof(KeyfileMalformed);
    /// <summary>The NIC's profile has a setting the bridge cannot honour (a MAC or DHCP identity derived from the NIC's own name or profile).</summary>
    public const string InterfaceSettingNotCarried = nameof(InterfaceSettingNotCarried);
    /// <summary>An existing ifcfg file has a value the line-based editor cannot keep intact (a quote left open across lines).</summary>
    public const string IfcfgFileMalformed = nameof(IfcfgFileMalformed);
}
