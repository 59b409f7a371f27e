using KvmHost.Core.Bridge;
using KvmHost.Core.Sysctl;

namespace KvmHost.Core.Platform;

/// <summary>
/// The system a cmdlet acts on: the files under its root, the process runner and the cancellation, and - only when
/// the root is the running system - what runs (<see cref="Running"/>). This is the one place that decides live
/// against offline: Core code asks for <see cref="Running"/> and, for an image, there is nothing running to ask,
/// so no code can touch the running kernel, network or daemons on behalf of a mounted image.
/// </summary>
public sealed class HostSystem
{
    private HostSystem(HostRoot root, ICommandRunner runner, RunningSystem? running, CancellationToken cancellation)
    {
        Root = root;
        Runner = runner;
        Cancellation = cancellation;
        Running = running;
    }

    public HostRoot Root { get; }

    internal ICommandRunner Runner { get; }

    internal CancellationToken Cancellation { get; }

    /// <summary>The running system behind the live root "/"; null for an image or scratch root, where nothing runs.</summary>
    internal RunningSystem? Running { get; }

    /// <summary>
    /// The system for a root: live parts only for "/", asked of nothing until first used. On the running system systemd
    /// and NetworkManager are asked over the system bus where one answers, else with their programs.
    /// </summary>
    /// <param name="log">Receives each bus call as CommandRunner's log receives each command line (the cmdlets pass Write-Verbose).</param>
    public static HostSystem Open(HostRoot root, ICommandRunner runner, CancellationToken cancellation, Action<string>? log = null) =>
        new(root, runner, root.IsLive ? new RunningSystem(runner, useBus: true, log, cancellation) : null, cancellation);

    /// <summary>The running system, reached through <paramref name="runner"/> only, never the bus (unit tests script systemctl and ip with it).</summary>
    internal static HostSystem LiveThrough(ICommandRunner runner, CancellationToken cancellation) =>
        new(HostRoot.Live, runner, new RunningSystem(runner, useBus: false, null, cancellation), cancellation);

    /// <summary>What a change is done to, for -WhatIf and -Confirm: "this host", or the image's directory.</summary>
    public string Target => Running is null ? Root.Path : "this host";

    /// <summary>"-Root DIR is not the running system: WHY", for checks and notes that do not apply to an image.</summary>
    internal string OfflineDetail(string why) => $"-Root {Root.Path} is not the running system: {why}";
}

/// <summary>
/// What exists only while a system runs: the kernel's parameters, the network namespace's links and routes,
/// NetworkManager. Made by <see cref="HostSystem.Open"/> for the live root only.
/// </summary>
internal sealed class RunningSystem
{
    private readonly ICommandRunner _runner;
    private readonly bool _useBus;
    private readonly Action<string>? _log;
    private readonly CancellationToken _cancellation;
    private SystemBus? _bus;
    private bool _busTried;

    internal RunningSystem(ICommandRunner runner, bool useBus, Action<string>? log, CancellationToken cancellation)
    {
        _runner = runner;
        _useBus = useBus;
        _log = log;
        _cancellation = cancellation;
    }

    /// <summary>
    /// Sends the calls on the system bus and returns the replies in order; null where no bus answers (then the caller
    /// asks the program instead). The connection is made at the first call, not before.
    /// </summary>
    public IReadOnlyList<BusReply>? CallBus(IReadOnlyList<BusCall> calls)
    {
        if (!_busTried)
        {
            _busTried = true;
            _bus = _useBus ? SystemBus.TryConnect(_log, _cancellation) : null;
        }
        return _bus?.CallAll(calls, _log, _cancellation);
    }

    /// <summary>/proc/sys of the network namespace this process runs in.</summary>
    public KernelParameters Kernel { get; } = new();

    /// <summary>Links, addresses, routes and rules of this network namespace, as they are now.</summary>
    public LiveNetworkState ReadNetwork(CancellationToken? cancellation = null) =>
        new LiveNetworkReader(_runner, Kernel).Read(cancellation ?? _cancellation);

    /// <summary>The running network where it can be read, else null (a container without netlink or iproute2).</summary>
    public LiveNetworkState? TryReadNetwork() => new LiveNetworkReader(_runner, Kernel).TryRead(_cancellation);

    public NetworkManagerClient NetworkManager => new(_runner, this, _cancellation);
}
