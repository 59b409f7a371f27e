using System.Globalization;
using System.Text.RegularExpressions;
using KvmHost.Core.Platform;

namespace KvmHost.Core.Bridge;

/// <summary>
/// The running NetworkManager: nmcli for profiles and activation; whether it runs, its version and its checkpoints
/// asked on the system bus (nmcli has no checkpoint command), or where no bus answers here, with nmcli and busctl
/// (systemd's, present on every RHEL 8-10 host). A checkpoint snapshots every device with its active profile;
/// NetworkManager rolls back to it by itself when its timeout passes, so the host recovers even if this process dies
/// with the SSH session.
/// </summary>
internal sealed partial class NetworkManagerClient(ICommandRunner runner, RunningSystem running, CancellationToken cancellationToken)
{
    private const string Bus = "org.freedesktop.NetworkManager";
    private const string ObjectPath = "/org/freedesktop/NetworkManager";

    // 0x2 DELETE_NEW_CONNECTIONS | 0x4 DISCONNECT_NEW_DEVICES: profiles and devices made after the
    // checkpoint (the bridge and its port) go away on rollback.
    private const string CheckpointFlags = "6";

    /// <summary>Whether NetworkManager runs: it owns its name on the bus (what nmcli's RUNNING asks).</summary>
    public bool IsRunning()
    {
        if (running.CallBus([new BusCall("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus", "NameHasOwner", "s", Bus)]) is [{ Succeeded: true } reply])
            return reply.Values is [true];
        if (!runner.IsAvailable("nmcli")) return false;
        var result = Nmcli(TimeSpan.FromSeconds(15), "-t", "-f", "RUNNING", "general");
        return result.Succeeded && result.StandardOutput.Trim() == "running";
    }

    /// <summary>Whether the running NetworkManager writes the new key names (1.46+), from its Version property.</summary>
    public bool? UsesNewNames()
    {
        if (running.CallBus([BusCall.GetProperty(Bus, ObjectPath, Bus, "Version")]) is [{ Succeeded: true, Values: [string version] }])
            return BridgeConfigs.VersionUsesNewNetworkManagerNames(version);
        return BridgeConfigs.VersionUsesNewNetworkManagerNames(Nmcli(TimeSpan.FromSeconds(15), "--version").StandardOutput);
    }

    public static string[] LoadArguments(string path) => ["connection", "load", path];

    public static string[] UpArguments(string uuid) => ["--wait", "60", "connection", "up", "uuid", uuid];

    public void Run(string[] arguments, List<string> log)
    {
        var result = Nmcli(TimeSpan.FromSeconds(90), arguments);
        log.Add(new CommandRequest("nmcli", arguments).CommandLine);
        if (!result.Succeeded)
            throw new KvmHostException(ErrorIds.BridgeApplyFailed, FailureKind.InvalidOperation,
                $"'{result.Request.CommandLine}' failed with exit code {result.ExitCode}: {result.Tail()}", "nmcli",
                "Read 'journalctl -u NetworkManager' for the reason.");
    }

    /// <summary>Runs nmcli and only logs a failure (a profile that is already gone is no reason to stop).</summary>
    public void RunTolerant(string[] arguments, List<string> log)
    {
        var result = Nmcli(TimeSpan.FromSeconds(90), arguments);
        log.Add(new CommandRequest("nmcli", arguments).CommandLine + (result.Succeeded ? string.Empty : $"  (failed: {result.Tail(2)})"));
    }

    /// <summary>Re-reads every profile from disk (after files were restored or removed).</summary>
    public void Reload(List<string> log)
    {
        var result = Nmcli(TimeSpan.FromSeconds(60), "connection", "reload");
        log.Add("nmcli connection reload" + (result.Succeeded ? string.Empty : $"  (failed: {result.Tail(2)})"));
    }

    public string CreateCheckpoint(int rollbackSeconds, List<string> log)
    {
        var call = new BusCall(Bus, ObjectPath, Bus, "CheckpointCreate", "aouu", Array.Empty<string>(), (uint)rollbackSeconds, uint.Parse(CheckpointFlags, CultureInfo.InvariantCulture));
        if (running.CallBus([call]) is [var reply])
        {
            log.Add(call.CommandLine + "  (over D-Bus)");
            if (reply is { Succeeded: true, Values: [string checkpoint] }) return checkpoint;
            throw CheckpointRefused($"{reply.ErrorName}: {reply.ErrorMessage}");
        }
        var result = Busctl("CheckpointCreate", "aouu", "0", rollbackSeconds.ToString(CultureInfo.InvariantCulture), CheckpointFlags);
        log.Add(result.Request.CommandLine);
        var match = ObjectPathPattern().Match(result.StandardOutput);
        if (!result.Succeeded || !match.Success) throw CheckpointRefused(result.Tail());
        return match.Groups[1].Value;
    }

    private static KvmHostException CheckpointRefused(string why) =>
        new(ErrorIds.CheckpointFailed, FailureKind.InvalidOperation,
            $"NetworkManager refused a checkpoint: {why}. Nothing was changed.", "CheckpointCreate",
            "Another tool may hold a checkpoint (nmstate); wait for it, or check 'busctl get-property org.freedesktop.NetworkManager /org/freedesktop/NetworkManager org.freedesktop.NetworkManager Checkpoints'.");

    /// <summary>Restores every device to the checkpoint; returns false when NetworkManager reported a device it could not restore.</summary>
    public bool Rollback(string checkpoint, List<string> log)
    {
        var call = new BusCall(Bus, ObjectPath, Bus, "CheckpointRollback", "o", checkpoint);
        if (running.CallBus([call]) is [var reply])
        {
            log.Add(call.CommandLine + "  (over D-Bus)" + (reply.Succeeded ? string.Empty : $"  (failed: {reply.ErrorName}: {reply.ErrorMessage})"));
            // a{su}: every device with its result; a non-zero value is a device that failed.
            return reply is { Succeeded: true, Values: [Dictionary<string, object?> devices] } && devices.Values.All(v => v is 0u);
        }
        var result = Busctl("CheckpointRollback", "o", checkpoint);
        log.Add(result.Request.CommandLine + (result.Succeeded ? string.Empty : $"  (failed: {result.Tail(2)})"));
        // "a{su} N "/org/.../Devices/1" 0 ...": a non-zero value is a device that failed.
        return result.Succeeded && !RollbackFailure().IsMatch(result.StandardOutput);
    }

    public void Destroy(string checkpoint, List<string> log)
    {
        var call = new BusCall(Bus, ObjectPath, Bus, "CheckpointDestroy", "o", checkpoint);
        if (running.CallBus([call]) is [var reply])
        {
            log.Add(call.CommandLine + "  (over D-Bus)" + (reply.Succeeded ? string.Empty : $"  (failed: {reply.ErrorName}: {reply.ErrorMessage})"));
            return;
        }
        var result = Busctl("CheckpointDestroy", "o", checkpoint);
        log.Add(result.Request.CommandLine + (result.Succeeded ? string.Empty : $"  (failed: {result.Tail(2)})"));
    }

    private CommandResult Nmcli(TimeSpan timeout, params string[] arguments) =>
        runner.Run(new CommandRequest("nmcli", arguments) { Timeout = timeout }, cancellationToken);

    private CommandResult Busctl(string method, string signature, params string[] arguments) =>
        runner.Run(new CommandRequest("busctl", ["call", Bus, ObjectPath, Bus, method, signature, .. arguments]) { Timeout = TimeSpan.FromSeconds(60) },
            cancellationToken);

    [GeneratedRegex("\"(/org/freedesktop/NetworkManager/Checkpoint/[0-9]+)\"")]
    private static partial Regex ObjectPathPattern();

    [GeneratedRegex("\"/org/freedesktop/NetworkManager/Devices/[0-9]+\" [1-9]")]
    private static partial Regex RollbackFailure();
}
