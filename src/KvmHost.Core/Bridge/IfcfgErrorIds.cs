namespace KvmHost.Core.Platform;

public static partial class ErrorIds
{
    /// <summary>An existing ifcfg file has a value the line-based editor cannot keep intact (a quote left open across lines).</summary>
    public const string IfcfgFileMalformed = nameof(IfcfgFileMalformed);
}
