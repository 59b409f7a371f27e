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

    /// <summary>An existing ifcfg file has a value the line-based editor cannot keep intact (a quote left open across lines).</summary>
    public const string IfcfgFileMalformed = nameof(IfcfgFileMalformed);
}
