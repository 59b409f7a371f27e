using System.Globalization;
using KvmHost.Core.Platform;

namespace KvmHost.Core.Bridge;

/// <summary>One command of the iproute2 backend's live change: ip, or sysctl for a link's IPv6 settings.</summary>
public sealed record LiveCommand(string Program, IReadOnlyList<string> Arguments)
{
    public static LiveCommand Ip(params string[] arguments) => new("ip", arguments);

    /// <summary>net.ipv6.conf.DEVICE.KEY in slash form, which stays right for device names with dots (eth0.100).</summary>
    public static LiveCommand Ipv6Sysctl(string device, string key, string value) => new("sysctl", ["-w", $"net/ipv6/conf/{device}/{key}={value}"]);

    public string CommandLine => new CommandRequest(Program, [.. Arguments]).CommandLine;

    /// <summary>Deleting a route the kernel already dropped with its address is not worth failing for.</summary>
    public bool MayFail => Program == "ip" && Arguments.Contains("route") && Arguments.Contains("del");

    public override string ToString() => CommandLine;
}

/// <summary>
/// The network-scripts backend's live half: commands that build the bridge and move the NIC's running layer 3
/// identity onto it as it is (MAC, MTU, IPv6 sysctls, every global address with its flags, every route it owns in
/// every table, the policy rules that name it), and, from the state captured before, put everything back.
/// </summary>
internal sealed class IpRouteBridge(ICommandRunner runner, CancellationToken cancellationToken)
{
    /// <summary>The commands that turn the state before into the bridge (also what -WhatIf lists).</summary>
    public static IReadOnlyList<LiveCommand> Commands(BridgeSettings s, LivePlan plan)
    {
        var before = plan.Before;
        var nic = before.Link(s.Port)!;
        var bridge = before.Link(s.Name);
        var commands = new List<LiveCommand>();
        var stp = new[] { "type", "bridge", "stp_state", s.Stp ? "1" : "0" }
            .Concat(s.ForwardDelay is { } d ? ["forward_delay", (d * 100).ToString(CultureInfo.InvariantCulture)] : Array.Empty<string>());
        commands.Add(bridge is null ? LiveCommand.Ip(["link", "add", "name", s.Name, .. stp]) : LiveCommand.Ip(["link", "set", "dev", s.Name, .. stp]));
        if (s.Ip.MacAddress is not null) commands.Add(LiveCommand.Ip("link", "set", "dev", s.Name, "address", s.Ip.MacAddress.ToLowerInvariant()));
        if (s.Ip.Mtu is { } mtu)
        {
            commands.Add(LiveCommand.Ip("link", "set", "dev", s.Port, "mtu", mtu.ToString(CultureInfo.InvariantCulture)));
            commands.Add(LiveCommand.Ip("link", "set", "dev", s.Name, "mtu", mtu.ToString(CultureInfo.InvariantCulture)));
        }
        // Before the bridge goes up: with disable_ipv6 or accept_ra set first it never gets what the NIC did not have.
        foreach (var (key, value) in plan.Ipv6Settings.Where(e => e.Key != "mtu")) commands.Add(LiveCommand.Ipv6Sysctl(s.Name, key, value));
        foreach (var route in before.OwnRoutesVia(s.Port))
            commands.Add(RouteCommand("del", route.IPv6, route.Destination, route.Gateway, s.Port, route.Metric, route.Table));
        foreach (var address in nic.Addresses.Where(a => a.IsGlobal))
            commands.Add(LiveCommand.Ip([.. Family(address.Cidr.IsIPv6), "address", "del", address.Cidr.ToString(), "dev", s.Port]));
        if (nic.Master != s.Name) commands.Add(LiveCommand.Ip("link", "set", "dev", s.Port, "master", s.Name));
        commands.Add(LiveCommand.Ip("link", "set", "dev", s.Port, "up"));
        commands.Add(LiveCommand.Ip("link", "set", "dev", s.Name, "up"));
        if (plan.Ipv6Settings.TryGetValue("mtu", out string? mtu6)) commands.Add(LiveCommand.Ipv6Sysctl(s.Name, "mtu", mtu6));
        foreach (var address in plan.BridgeAddresses.Where(a => bridge is null || !bridge.Addresses.Any(b => b.Cidr.Equals(a))))
            commands.Add(AddressCommand("add", address, s.Name, plan.NoPrefixRoute.Contains(address)));
        foreach (var route in plan.BridgeRoutes)
            commands.Add(RouteCommand("replace", IsIPv6(route), route.Destination, route.Gateway, s.Name, route.Metric, route.Table));
        foreach (var rule in plan.Rules) commands.AddRange(MoveRule(rule, s.Port, s.Name));
        return commands;
    }

    /// <summary>The commands that give the port back what the bridge runs with, and delete the bridge (Remove-HostBridge).</summary>
    public static IReadOnlyList<LiveCommand> RemovalCommands(LiveNetworkState live, string bridge, IReadOnlyList<string> ports, string? port)
    {
        var link = live.Link(bridge)!;
        var commands = new List<LiveCommand>();
        foreach (var address in link.Addresses.Where(a => a.IsGlobal))
            commands.Add(LiveCommand.Ip([.. Family(address.Cidr.IsIPv6), "address", "del", address.Cidr.ToString(), "dev", bridge]));
        foreach (string p in ports) commands.Add(LiveCommand.Ip("link", "set", "dev", p, "nomaster"));
        commands.Add(LiveCommand.Ip("link", "delete", "dev", bridge));
        if (port is null) return commands;
        commands.Add(LiveCommand.Ip("link", "set", "dev", port, "up"));
        foreach (var address in link.Addresses.Where(a => a.IsGlobal))
            commands.Add(AddressCommand("add", address.Cidr, port, address.NoPrefixRoute));
        foreach (var route in live.OwnRoutesVia(bridge))
            commands.Add(RouteCommand("replace", route.IPv6, route.Destination, route.Gateway, port, route.Metric, route.Table));
        foreach (var rule in live.RulesVia(bridge)) commands.AddRange(MoveRule(rule, bridge, port));
        return commands;
    }

    public static string Show(LiveCommand command) => command.CommandLine;

    /// <summary>Runs the commands in order; the first failure stops and is thrown (the guard then restores).</summary>
    public void Apply(IReadOnlyList<LiveCommand> commands, List<string> log)
    {
        foreach (var command in commands)
        {
            var result = Run(command);
            log.Add(command.CommandLine);
            if (!result.Succeeded && !command.MayFail)
                throw new KvmHostException(ErrorIds.BridgeApplyFailed, FailureKind.InvalidOperation,
                    $"'{result.Request.CommandLine}' failed: {result.Tail()}", command.Arguments[^1]);
        }
    }

    /// <summary>
    /// Puts the NIC back as it was before: out of the bridge, its MTU, addresses, routes and rules, and the
    /// bridge deleted if this run created it. Best effort: every step runs even when one fails.
    /// </summary>
    public void Restore(BridgeSettings s, LiveNetworkState before, List<string> log)
    {
        var nic = before.Link(s.Port);
        var steps = new List<LiveCommand>();
        if (nic?.Master is null) steps.Add(LiveCommand.Ip("link", "set", "dev", s.Port, "nomaster"));
        else steps.Add(LiveCommand.Ip("link", "set", "dev", s.Port, "master", nic.Master));
        if (before.Link(s.Name) is null) steps.Add(LiveCommand.Ip("link", "delete", "dev", s.Name));
        if (nic is not null)
        {
            if (nic.Mtu > 0) steps.Add(LiveCommand.Ip("link", "set", "dev", s.Port, "mtu", nic.Mtu.ToString(CultureInfo.InvariantCulture)));
            steps.Add(LiveCommand.Ip("link", "set", "dev", s.Port, nic.Up ? "up" : "down"));
            foreach (var address in nic.Addresses.Where(a => a.IsGlobal))
                steps.Add(AddressCommand("replace", address.Cidr, s.Port, address.NoPrefixRoute));
            foreach (var route in before.OwnRoutesVia(s.Port))
                steps.Add(RouteCommand("replace", route.IPv6, route.Destination, route.Gateway, s.Port, route.Metric, route.Table));
            foreach (var rule in before.RulesVia(s.Port))
            {
                steps.Add(new LiveCommand("ip", [.. Family(rule.IPv6), "rule", "del", "priority", rule.Priority.ToString(CultureInfo.InvariantCulture)]));
                steps.Add(new LiveCommand("ip", [.. Family(rule.IPv6), "rule", "add", "priority", rule.Priority.ToString(CultureInfo.InvariantCulture), .. rule.Words]));
            }
        }
        foreach (var command in steps)
        {
            var result = Run(command);
            log.Add(command.CommandLine + (result.Succeeded ? string.Empty : $"  (failed: {result.Tail(2)})"));
        }
    }

    private CommandResult Run(LiveCommand command) =>
        runner.Run(new CommandRequest(command.Program, [.. command.Arguments]) { Timeout = TimeSpan.FromSeconds(20) }, cancellationToken);

    private static string[] Family(bool v6) => v6 ? ["-6"] : [];

    private static bool IsIPv6(BridgeRoute route) => route.IPv6 ?? (route.Destination.Contains(':') || (route.Gateway?.Contains(':') ?? false));

    private static LiveCommand AddressCommand(string verb, IpCidr address, string device, bool noPrefixRoute)
    {
        var arguments = new List<string>(Family(address.IsIPv6)) { "address", verb, address.ToString(), "dev", device };
        if (noPrefixRoute) arguments.Add("noprefixroute");
        // DAD would hold a moved IPv6 address tentative for a second or two: it was this host's a moment ago.
        if (address.IsIPv6) arguments.Add("nodad");
        return LiveCommand.Ip([.. arguments]);
    }

    /// <summary>A rule that names one interface, deleted and added again naming the other (same priority, same selector).</summary>
    private static IEnumerable<LiveCommand> MoveRule(LiveRule rule, string from, string to)
    {
        string priority = rule.Priority.ToString(CultureInfo.InvariantCulture);
        yield return LiveCommand.Ip([.. Family(rule.IPv6), "rule", "del", "priority", priority, .. rule.Words]);
        yield return LiveCommand.Ip([.. Family(rule.IPv6), "rule", "add", "priority", priority, .. rule.SpecFor(from, to).Split(' ')]);
    }

    private static LiveCommand RouteCommand(string verb, bool v6, string destination, string? gateway, string device, int? metric, string? table)
    {
        var arguments = new List<string>(Family(v6)) { "route", verb, destination };
        if (gateway is not null) arguments.AddRange(["via", gateway]);
        arguments.AddRange(["dev", device]);
        if (metric is { } m) arguments.AddRange(["metric", m.ToString(CultureInfo.InvariantCulture)]);
        if (table is not null) arguments.AddRange(["table", table]);
        return LiveCommand.Ip([.. arguments]);
    }
}
