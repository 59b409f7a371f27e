using System.Collections;
using System.Management.Automation;

namespace KvmHost;

/// <summary>
/// Lets only strings bind as guest names. PowerShell would otherwise turn any piped object into a string in
/// its last binding pass (a HostBridge from New-HostBridge becomes "@{Name=br0; ...}"), and a bridge must
/// never be taken for a guest. Anything else is handed on as a value no name can be made of: PowerShell
/// then tries the other parameters (a KvmGuest binds to -Guest, an object with Uuid and Uri to -Uuid), and
/// an object that fits none is refused with PowerShell's own InputObjectNotBound.
/// </summary>
[AttributeUsage(AttributeTargets.Property | AttributeTargets.Field)]
public sealed class GuestNameTransformationAttribute : ArgumentTransformationAttribute
{
    public override object Transform(EngineIntrinsics engineIntrinsics, object inputData)
    {
        object? value = inputData is PSObject wrapped ? wrapped.BaseObject : inputData;
        if (value is string) return inputData;
        if (value is IEnumerable items and not IDictionary)
        {
            foreach (object? item in items)
                if ((item is PSObject inner ? inner.BaseObject : item) is not string)
                    return new NotAGuestName(inputData);
            return inputData;
        }
        return new NotAGuestName(inputData);
    }

    /// <summary>What a non-string becomes: it converts to no string, so the name parameter cannot take it.</summary>
    private sealed class NotAGuestName(object? original)
    {
        public object? Original { get; } = original;

        public override string ToString() =>
            throw new PSInvalidCastException($"A {(Original is PSObject p ? p.BaseObject : Original)?.GetType().Name ?? "null"} is not a guest name.");
    }
}
