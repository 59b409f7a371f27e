using System.Management.Automation;
using KvmHost.Core.Bridge;

namespace KvmHost;

/// <summary>
/// Lets New-KvmGuest's -Bridge take a bridge as New-HostBridge and Get-HostBridge return it (live, or deserialized
/// from remoting), or a bridge's name. The bridge object binds to -Bridge from the pipeline by value, so its own Name
/// property is never offered to -Name: <c>New-HostBridge br0 -Interface enp1s0 | New-KvmGuest -Name vm01</c> puts vm01
/// on br0. A bridge object becomes a <see cref="BridgeArgument"/> that also says where the bridge is when it is not live
/// here (an image, a -WhatIf preview). Anything else (a guest, a number) becomes a value no name can be made of, and
/// binding fails.
/// </summary>
[AttributeUsage(AttributeTargets.Property | AttributeTargets.Field)]
public sealed class BridgeNameTransformationAttribute : ArgumentTransformationAttribute
{
    private const string DeserializedBridge = "Deserialized." + "KvmHost.Core.Bridge.HostBridge";

    public override object Transform(EngineIntrinsics engineIntrinsics, object inputData)
    {
        object? value = inputData is PSObject wrapped ? wrapped.BaseObject : inputData;
        switch (value)
        {
            case string:
                return inputData;
            case BridgeArgument:
                return value;
            case HostBridge bridge:
                return BridgeArgument.FromBridge(bridge);
        }
        if (inputData is PSObject deserialized && deserialized.TypeNames.Any(t => t.StartsWith(DeserializedBridge, StringComparison.Ordinal))
            && deserialized.Properties["Name"]?.Value is string name)
            return BridgeArgument.FromBridge(name, deserialized.Properties["Root"]?.Value as string,
                LanguagePrimitives.IsTrue(deserialized.Properties["Active"]?.Value), LanguagePrimitives.IsTrue(deserialized.Properties["WhatIf"]?.Value));
        return new NotABridgeName(value);
    }

    /// <summary>What anything else becomes: it converts to no string, so -Bridge cannot take it.</summary>
    private sealed class NotABridgeName(object? original)
    {
        public override string ToString() =>
            throw new PSInvalidCastException($"A {original?.GetType().Name ?? "null"} is not a bridge; give a bridge name or a bridge from New-HostBridge or Get-HostBridge.");
    }
}
