namespace KvmHost.Core.Platform;

// Checkpoints (libvirt snapshots) and the serial console: Checkpoint-, Get-, Restore-, Remove-KvmGuestCheckpoint,
// Connect-KvmGuest and Get-KvmGuestConsoleLog.
public static partial class ErrorIds
{
    public const string CheckpointNameInvalid = nameof(CheckpointNameInvalid);
    public const string CheckpointExists = nameof(CheckpointExists);
    public const string CheckpointNotFound = nameof(CheckpointNotFound);
    public const string CheckpointDiskUnsupported = nameof(CheckpointDiskUnsupported);
    public const string CheckpointUefiUnsupported = nameof(CheckpointUefiUnsupported);
    public const string CheckpointRestoreUnsupported = nameof(CheckpointRestoreUnsupported);
    public const string CheckpointRestoreRisky = nameof(CheckpointRestoreRisky);
    public const string ConsoleTerminalRequired = nameof(ConsoleTerminalRequired);
    public const string ConsoleNotAvailable = nameof(ConsoleNotAvailable);
    public const string ConsoleBusy = nameof(ConsoleBusy);
    public const string ConsoleLogNotConfigured = nameof(ConsoleLogNotConfigured);
    public const string ConsoleLogNotLocal = nameof(ConsoleLogNotLocal);
}
