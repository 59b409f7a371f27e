namespace KvmHost.Core.Platform;

/// <summary>The ids New-, Set- and Remove-KvmGuest add (part 2 of the guest cmdlets).</summary>
public static partial class ErrorIds
{
    public const string GuestExists = nameof(GuestExists);
    public const string GuestMemoryInvalid = nameof(GuestMemoryInvalid);
    public const string GuestProcessorCountInvalid = nameof(GuestProcessorCountInvalid);
    public const string GuestDiskSizeInvalid = nameof(GuestDiskSizeInvalid);
    public const string GuestDescriptionInvalid = nameof(GuestDescriptionInvalid);
    public const string GuestOsVariantUnknown = nameof(GuestOsVariantUnknown);
    public const string GuestMediaNotFound = nameof(GuestMediaNotFound);
    public const string GuestSshKeyInvalid = nameof(GuestSshKeyInvalid);
    public const string GuestBridgeNotFound = nameof(GuestBridgeNotFound);
    public const string GuestNetworkUnavailable = nameof(GuestNetworkUnavailable);
    public const string StoragePoolUnavailable = nameof(StoragePoolUnavailable);
    public const string KvmAccelerationUnavailable = nameof(KvmAccelerationUnavailable);
    public const string VirtInstallNotInstalled = nameof(VirtInstallNotInstalled);
    public const string GuestCreateFailed = nameof(GuestCreateFailed);
    public const string GuestVolumeDeleteFailed = nameof(GuestVolumeDeleteFailed);
}
