namespace KvmHost.Core.Guests;

/// <summary>libvirt's per-state reason enums (virDomainRunningReason, virDomainShutoffReason...) as words.</summary>
internal static class GuestStateReasons
{
    private static readonly string[] Running =
        ["Unknown", "Booted", "Migrated", "Restored", "FromSnapshot", "Unpaused", "MigrationCanceled", "SaveCanceled", "Wakeup", "Crashed", "Postcopy", "PostcopyFailed"];

    private static readonly string[] Paused =
        ["Unknown", "User", "Migration", "Save", "Dump", "IOError", "Watchdog", "FromSnapshot", "ShuttingDown", "Snapshot", "Crashed", "StartingUp", "Postcopy", "PostcopyFailed", "ApiError"];

    private static readonly string[] ShuttingDown = ["Unknown", "User"];

    private static readonly string[] ShutOff =
        ["Unknown", "Shutdown", "Destroyed", "Crashed", "Migrated", "Saved", "Failed", "FromSnapshot", "Daemon"];

    private static readonly string[] Crashed = ["Unknown", "Panicked"];

    private static readonly string[] OnlyUnknown = ["Unknown"];

    public static GuestState StateOf(int state) =>
        Enum.IsDefined(typeof(GuestState), state) ? (GuestState)state : GuestState.NoState;

    /// <summary>The reason's name; a code newer than this table is shown as its number, never dropped.</summary>
    public static string Describe(GuestState state, int reason)
    {
        string[] names = state switch
        {
            GuestState.Running => Running,
            GuestState.Paused => Paused,
            GuestState.ShuttingDown => ShuttingDown,
            GuestState.ShutOff => ShutOff,
            GuestState.Crashed => Crashed,
            _ => OnlyUnknown,
        };
        return reason >= 0 && reason < names.Length ? names[reason] : $"Reason{reason}";
    }

    /// <summary>Running in the sense of "the guest's CPUs can run": what Start-KvmGuest makes true.</summary>
    public static bool IsActive(GuestState state) => state is not (GuestState.ShutOff or GuestState.NoState);
}
