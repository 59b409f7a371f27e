namespace KvmHost.Core.Platform;

/// <summary>Error ids of the package area (Install-KvmPackages, Get-KvmPackages).</summary>
public static partial class ErrorIds
{
    public const string PackageNameInvalid = nameof(PackageNameInvalid);
    public const string PackageNotFound = nameof(PackageNotFound);
    public const string PackageManagerLocked = nameof(PackageManagerLocked);
    public const string PackageRepositoryUnavailable = nameof(PackageRepositoryUnavailable);
    public const string PackageInstallFailed = nameof(PackageInstallFailed);
    public const string PackageQueryFailed = nameof(PackageQueryFailed);
    public const string PackageRootUnsupported = nameof(PackageRootUnsupported);
    public const string PackageOptionUnsupported = nameof(PackageOptionUnsupported);
}
