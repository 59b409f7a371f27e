using KvmHost.Core.Platform;

namespace KvmHost.Core.Guests;

/// <summary>What a lifecycle cmdlet does to one guest; None when the guest is already where it should be.</summary>
public enum GuestAction
{
    None,
    Start,
    Resume,
    Wakeup,
    Shutdown,
    TurnOff,
    Save,
    Reboot,
    Reset,
    Suspend,
    EnableAutostart,
    DisableAutostart,
}

public enum GuestStopMode { Graceful, Force, TurnOff, Save }

public enum GuestRestartMode { Graceful, Reset }

/// <summary>The decision for one guest: the action and, for the admin, why (shown by -Verbose and -WhatIf).</summary>
public sealed record GuestStep(GuestAction Action, string Description)
{
    public bool Changes => Action != GuestAction.None;
}

/// <summary>
/// Decides, from the guest's state alone, what each lifecycle cmdlet does: nothing when the guest is already
/// there (idempotence), the libvirt call that gets it there, or a refusal (GuestStateInvalid) that says
/// what would work instead. Pure: the tests cover every state without a hypervisor.
/// </summary>
public static class GuestPlanner
{
    public static GuestStep Start(string guest, GuestState state) => state switch
    {
        GuestState.Running or GuestState.Blocked => new(GuestAction.None, $"'{guest}' is already running."),
        GuestState.ShutOff => new(GuestAction.Start, $"Start '{guest}' (from its saved state when it has one)."),
        GuestState.Paused => new(GuestAction.Resume, $"'{guest}' is paused: resume it."),
        GuestState.PMSuspended => new(GuestAction.Wakeup, $"'{guest}' suspended itself: wake it up."),
        _ => throw Refuse(guest, state, "start", state == GuestState.Crashed
            ? "Stop-KvmGuest -TurnOff ends the crashed guest's process; then start it." : "Wait until the guest is shut off, then start it."),
    };

    public static GuestStep Stop(string guest, GuestState state, GuestStopMode mode) => (state, mode) switch
    {
        (GuestState.ShutOff, _) => new(GuestAction.None, $"'{guest}' is already shut off."),
        (_, GuestStopMode.TurnOff) => new(GuestAction.TurnOff, $"Power off '{guest}' at once (virsh destroy)."),
        (_, GuestStopMode.Save) => new(GuestAction.Save, $"Save '{guest}''s memory to the host and stop it (managed save); Start-KvmGuest restores it."),
        (GuestState.Running or GuestState.Blocked or GuestState.ShuttingDown, GuestStopMode.Graceful) =>
            new(GuestAction.Shutdown, $"Press '{guest}''s ACPI power button and wait until it is shut off."),
        (GuestState.Running or GuestState.Blocked or GuestState.ShuttingDown, GuestStopMode.Force) =>
            new(GuestAction.Shutdown, $"Press '{guest}''s ACPI power button, wait, and power it off if it is still running then."),
        // Paused, suspended or crashed guests cannot act on the power button: waiting for them would only time out.
        (_, GuestStopMode.Force) => new(GuestAction.TurnOff, $"'{guest}' is {state} and cannot shut down by itself: power it off."),
        _ => throw Refuse(guest, state, "shut down gracefully",
            "Resume-KvmGuest first, or Stop-KvmGuest -TurnOff (power off) / -Save."),
    };

    public static GuestStep Restart(string guest, GuestState state, GuestRestartMode mode) => (state, mode) switch
    {
        (GuestState.Running or GuestState.Blocked, GuestRestartMode.Graceful) =>
            new(GuestAction.Reboot, $"Press '{guest}''s ACPI power button; libvirt starts it again when it has shut down."),
        (GuestState.Running or GuestState.Blocked, GuestRestartMode.Reset) => new(GuestAction.Reset, $"Reset '{guest}' like a hardware reset button."),
        (GuestState.ShutOff, _) => throw Refuse(guest, state, "restart", "Start-KvmGuest starts it."),
        _ => throw Refuse(guest, state, "restart", "Resume-KvmGuest first, or Stop-KvmGuest -TurnOff then Start-KvmGuest."),
    };

    public static GuestStep Suspend(string guest, GuestState state) => state switch
    {
        GuestState.Paused => new(GuestAction.None, $"'{guest}' is already paused."),
        GuestState.Running or GuestState.Blocked => new(GuestAction.Suspend, $"Pause '{guest}''s virtual CPUs (its memory stays in the host)."),
        _ => throw Refuse(guest, state, "suspend", "Only a running guest can be paused."),
    };

    public static GuestStep Resume(string guest, GuestState state) => state switch
    {
        GuestState.Running or GuestState.Blocked => new(GuestAction.None, $"'{guest}' is already running."),
        GuestState.Paused => new(GuestAction.Resume, $"Resume '{guest}''s virtual CPUs."),
        GuestState.PMSuspended => new(GuestAction.Wakeup, $"Wake '{guest}' from the suspend it entered itself."),
        _ => throw Refuse(guest, state, "resume", "Start-KvmGuest starts a guest that is not running."),
    };

    public static GuestStep Autostart(string guest, bool current, bool wanted) => (current, wanted) switch
    {
        (true, true) => new(GuestAction.None, $"'{guest}' already starts with the host."),
        (false, false) => new(GuestAction.None, $"'{guest}' already does not start with the host."),
        (false, true) => new(GuestAction.EnableAutostart, $"Start '{guest}' when the host (its libvirt daemon) starts."),
        _ => new(GuestAction.DisableAutostart, $"Stop starting '{guest}' with the host."),
    };

    private static KvmHostException Refuse(string guest, GuestState state, string operation, string hint) =>
        new(ErrorIds.GuestStateInvalid, FailureKind.InvalidOperation,
            $"Cannot {operation} guest '{guest}' while it is {state}; nothing was changed.", guest, hint);
}

/// <summary>Carries out a planned step through the guest's connection.</summary>
public static class GuestLifecycle
{
    public static (GuestState State, string Reason) StateOf(GuestEntry guest)
    {
        var (state, reason) = guest.Connection.GetState(guest.Handle);
        return (state, GuestStateReasons.Describe(state, reason));
    }

    public static bool AutostartOf(GuestEntry guest) => guest.Connection.GetAutostart(guest.Handle);

    public static void Apply(GuestEntry guest, GuestAction action)
    {
        var connection = guest.Connection;
        var handle = guest.Handle;
        switch (action)
        {
            case GuestAction.None: break;
            case GuestAction.Start: connection.Start(handle); break;
            case GuestAction.Resume: connection.Resume(handle); break;
            case GuestAction.Wakeup: connection.Wakeup(handle); break;
            case GuestAction.Shutdown: connection.Shutdown(handle); break;
            case GuestAction.TurnOff: connection.Destroy(handle); break;
            case GuestAction.Save: connection.ManagedSave(handle); break;
            case GuestAction.Reboot: connection.Reboot(handle); break;
            case GuestAction.Reset: connection.Reset(handle); break;
            case GuestAction.Suspend: connection.Suspend(handle); break;
            case GuestAction.EnableAutostart: connection.SetAutostart(handle, true); break;
            case GuestAction.DisableAutostart: connection.SetAutostart(handle, false); break;
            default: throw new ArgumentOutOfRangeException(nameof(action), action, null);
        }
    }
}
