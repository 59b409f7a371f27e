using System.Globalization;
using KvmHost.Core.Platform;

namespace KvmHost.Core.Bridge;

/// <summary>
/// The network-scripts backend's live half: iproute2 commands that build the bridge, move the NIC's
/// MAC, addresses and routes onto it, and, from the state captured before, put everything back.
/// </summary>
public sealed class IpRouteBridge(ICommandRunner runner, CancellationToken cancellationToken)
{
    /// <summary>The commands that turn the state before into the bridge (also what -WhatIf lists).</summary>
    public static IReadOnlyList<string[]> Commands(BridgeSettings s, LivePlan plan)
    {
        var before = plan.Before;
        var nic = before.Link(s.Port)!;
        var bridge = before.Link(s.Name);
        var commands = new List<string[]>();
        var stp = new[] { "type", "bridge", "stp_state", s.Stp ? "1" : "0" }
            .Concat(s.ForwardDelay is { } d ? ["forward_delay", (d * 100).ToString(CultureInfo.InvariantCulture)] : Array.Empty<string>());
        commands.Add(bridge is null ? ["link", "add", "name", s.Name, .. stp] : ["link", "set", "dev", s.Name, .. stp]);
        if (s.Ip.MacAddress is not null) commands.Add(["link", "set", "dev", s.Name, "address", s.Ip.MacAddress.ToLowerInvariant()]);
        if (s.Ip.Mtu is { } mtu)
        {
            commands.Add(["link", "set", "dev", s.Port, "mtu", mtu.ToString(CultureInfo.InvariantCulture)]);
            commands.Add(["link", "set", "dev", s.Name, "mtu", mtu.ToString(CultureInfo.InvariantCulture)]);
        }
        foreach (var route in before.RoutesVia(s.Port).Where(r => !r.FollowsAddress))
            commands.Add(RouteCommand("del", route.IPv6, route.Destination, route.Gateway, s.Port, route.Metric));
        foreach (var address in nic.Addresses.Where(a => a.IsGlobal))
            commands.Add([.. Family(address.Cidr.IsIPv6), "address", "del", address.Cidr.ToString(), "dev", s.Port]);
        if (nic.Master != s.Name) commands.Add(["link", "set", "dev", s.Port, "master", s.Name]);
        commands.Add(["link", "set", "dev", s.Port, "up"]);
        commands.Add(["link", "set", "dev", s.Name, "up"]);
        foreach (var address in plan.BridgeAddresses.Where(a => bridge is null || !bridge.Addresses.Any(b => b.Cidr.Equals(a))))
            commands.Add(address.IsIPv6
                ? ["-6", "address", "add", address.ToString(), "dev", s.Name, "nodad"]
                : ["address", "add", address.ToString(), "dev", s.Name]);
        foreach (var route in plan.BridgeRoutes)
            commands.Add(RouteCommand("replace", route.Destination.Contains(':') || (route.Gateway?.Contains(':') ?? false), route.Destination, route.Gateway, s.Name, route.Metric));
        return commands;
    }

    public static string Show(string[] arguments) => new CommandRequest("ip", arguments).CommandLine;

    /// <summary>Runs the commands in order; the first failure stops and is thrown (the guard then restores).</summary>
    public void Apply(IReadOnlyList<string[]> commands, List<string> log)
    {
        foreach (var arguments in commands)
        {
            var result = Run(arguments);
            log.Add(Show(arguments));
            // A route the kernel already dropped along with its address is not worth failing for.
            if (!result.Succeeded && !(arguments.Contains("route") && arguments.Contains("del")))
                throw new KvmHostException(ErrorIds.BridgeApplyFailed, FailureKind.InvalidOperation,
                    $"'{result.Request.CommandLine}' failed: {result.Tail()}", arguments.Last());
        }
    }

    /// <summary>
    /// Puts the NIC back as it was before: out of the bridge, its MTU, addresses and routes, and the
    /// bridge deleted if this run created it. Best effort: every step runs even when one fails.
    /// </summary>
    public void Restore(BridgeSettings s, LiveNetworkState before, List<string> log)
    {
        var nic = before.Link(s.Port);
        var steps = new List<string[]>();
        if (nic?.Master is null) steps.Add(["link", "set", "dev", s.Port, "nomaster"]);
        else steps.Add(["link", "set", "dev", s.Port, "master", nic.Master]);
        if (before.Link(s.Name) is null) steps.Add(["link", "delete", "dev", s.Name]);
        if (nic is not null)
        {
            if (nic.Mtu > 0) steps.Add(["link", "set", "dev", s.Port, "mtu", nic.Mtu.ToString(CultureInfo.InvariantCulture)]);
            steps.Add(["link", "set", "dev", s.Port, nic.Up ? "up" : "down"]);
            foreach (var address in nic.Addresses.Where(a => a.IsGlobal))
                steps.Add(address.Cidr.IsIPv6
                    ? ["-6", "address", "replace", address.Cidr.ToString(), "dev", s.Port, "nodad"]
                    : ["address", "replace", address.Cidr.ToString(), "dev", s.Port]);
            foreach (var route in before.RoutesVia(s.Port).Where(r => !r.FollowsAddress))
                steps.Add(RouteCommand("replace", route.IPv6, route.Destination, route.Gateway, s.Port, route.Metric));
        }
        foreach (var arguments in steps)
        {
            var result = Run(arguments);
            log.Add(Show(arguments) + (result.Succeeded ? string.Empty : $"  (failed: {result.Tail(2)})"));
        }
    }

    private CommandResult Run(string[] arguments) =>
        runner.Run(new CommandRequest("ip", arguments) { Timeout = TimeSpan.FromSeconds(20) }, cancellationToken);

    private static string[] Family(bool v6) => v6 ? ["-6"] : [];

    private static string[] RouteCommand(string verb, bool v6, string destination, string? gateway, string device, int? metric)
    {
        var arguments = new List<string>(Family(v6)) { "route", verb, destination };
        if (gateway is not null) arguments.AddRange(["via", gateway]);
        arguments.AddRange(["dev", device]);
        if (metric is { } m) arguments.AddRange(["metric", m.ToString(CultureInfo.InvariantCulture)]);
        return [.. arguments];
    }
}
