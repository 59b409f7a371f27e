namespace KvmHost.Core.Guests;

/// <summary>One block device's sizes from the block statistics group.</summary>
internal sealed record BlockStats(string Name, string? Path, long? CapacityBytes, long? AllocationBytes);

/// <summary>
/// What one virConnectGetAllDomainStats/virDomainListGetStats record says about a guest. Every field is
/// optional: drivers report different groups (the test driver only state), and a guest busy in a job
/// reports less under NOWAIT. The domain XML fills the gaps.
/// </summary>
internal sealed record DomainStats
{
    public int? State { get; init; }
    public int? Reason { get; init; }
    public long? CpuTimeNanoseconds { get; init; }
    public long? BalloonCurrentKiB { get; init; }
    public long? BalloonMaximumKiB { get; init; }
    public long? VcpuCurrent { get; init; }
    public long? VcpuMaximum { get; init; }
    public IReadOnlyList<BlockStats> Blocks { get; init; } = [];

    // Field names from libvirt-domain.c's virConnectGetAllDomainStats documentation.
    public static DomainStats From(IReadOnlyDictionary<string, object> values)
    {
        var blocks = new List<BlockStats>();
        long blockCount = TypedParameters.Integer(values, "block.count") ?? 0;
        for (long i = 0; i < Math.Min(blockCount, 4096); i++)
        {
            string? name = TypedParameters.Text(values, $"block.{i}.name");
            if (name is null) continue;
            blocks.Add(new BlockStats(name, TypedParameters.Text(values, $"block.{i}.path"),
                TypedParameters.Integer(values, $"block.{i}.capacity"), TypedParameters.Integer(values, $"block.{i}.allocation")));
        }
        return new DomainStats
        {
            State = (int?)TypedParameters.Integer(values, "state.state"),
            Reason = (int?)TypedParameters.Integer(values, "state.reason"),
            CpuTimeNanoseconds = TypedParameters.Integer(values, "cpu.time"),
            BalloonCurrentKiB = TypedParameters.Integer(values, "balloon.current"),
            BalloonMaximumKiB = TypedParameters.Integer(values, "balloon.maximum"),
            VcpuCurrent = TypedParameters.Integer(values, "vcpu.current"),
            VcpuMaximum = TypedParameters.Integer(values, "vcpu.maximum"),
            Blocks = blocks,
        };
    }
}
