using KvmHost.Core.Guests;
using KvmHost.Core.Platform;
using Xunit;

namespace KvmHost.Core.Tests.Guests;

/// <summary>Set-KvmGuest's decisions from a guest's state alone: what changes where, what waits for the next boot, what is refused.</summary>
public sealed class GuestSettingsPlannerTests
{
    private const long HostMemory = 16L << 30;

    /// <summary>A guest that is off: 1 GiB of 2 GiB, 1 of 2 vCPUs.</summary>
    private static GuestSettingsState Off() => new()
    {
        Name = "web1", Active = false, Persistent = true, Autostart = false,
        MaximumMemoryKiB = 2 << 20, MemoryKiB = 1 << 20, MaximumProcessors = 2, Processors = 1, Description = "old",
    };

    /// <summary>The same guest running, as it booted.</summary>
    private static GuestSettingsState Running() => Off() with
    {
        Active = true, LiveMaximumMemoryKiB = 2 << 20, LiveMemoryKiB = 1 << 20, LiveMaximumProcessors = 2, LiveProcessors = 1, LiveDescription = "old",
    };

    private static GuestSettingsPlan Plan(GuestSettingsState state, GuestSettingsRequest request) => GuestSettingsPlanner.Plan(state, request, HostMemory);

    [Fact]
    public void Nothing_to_change_is_no_step_and_says_so()
    {
        var plan = Plan(Running(), new() { MemoryBytes = 1L << 30, ProcessorCount = 1, Description = "old", Autostart = false, NewName = "web1" });
        Assert.False(plan.Changes);
        Assert.Empty(plan.Pending);
        Assert.Equal("'web1' already has these settings.", plan.Summary);
    }

    [Fact]
    public void Memory_within_the_maximum_changes_the_definition_and_the_running_guest()
    {
        var step = Assert.Single(Plan(Running(), new() { MemoryBytes = 1536L << 20 }).Steps);
        Assert.Equal((GuestSettingKind.Memory, true, true, 1536L << 10), (step.Kind, step.Config, step.Live, step.Value));
        Assert.Equal("Set the memory of 'web1' to 1536 MiB (now and from the next boot).", step.Description);
    }

    [Fact]
    public void Memory_above_the_maximum_raises_the_maximum_first_and_the_running_guest_waits_for_its_next_boot()
    {
        var plan = Plan(Running(), new() { MemoryBytes = 4L << 30 });
        Assert.Equal([GuestSettingKind.MaximumMemory, GuestSettingKind.Memory], plan.Steps.Select(s => s.Kind));
        Assert.Equal(4L << 20, plan.Steps[0].Value);
        Assert.False(plan.Steps[0].Live);
        Assert.False(plan.Steps[1].Live);
        Assert.Equal(2, plan.Pending.Count);
        Assert.Contains("maximum memory 4096 MiB", plan.Pending[0]);
        Assert.Contains("memory 4096 MiB", plan.Pending[1]);
    }

    [Fact]
    public void A_lower_maximum_clamps_the_current_memory_as_libvirt_does()
    {
        var plan = Plan(Off(), new() { MaximumMemoryBytes = 512L << 20, MemoryBytes = 512L << 20 });
        Assert.Equal([GuestSettingKind.MaximumMemory], plan.Steps.Select(s => s.Kind)); // libvirt lowers currentMemory with it
        Assert.Empty(plan.Pending);
    }

    [Fact]
    public void More_vcpus_than_the_maximum_raise_it_and_a_running_guest_gets_them_at_its_next_boot()
    {
        var plan = Plan(Running(), new() { ProcessorCount = 4 });
        Assert.Equal([GuestSettingKind.MaximumProcessors, GuestSettingKind.Processors], plan.Steps.Select(s => s.Kind));
        Assert.All(plan.Steps, s => Assert.False(s.Live));
        Assert.Contains("4 vCPUs", Assert.Single(plan.Pending));

        var hotplug = Assert.Single(Plan(Running(), new() { ProcessorCount = 2 }).Steps);
        Assert.Equal((GuestSettingKind.Processors, true, true), (hotplug.Kind, hotplug.Config, hotplug.Live));
    }

    [Fact]
    public void A_running_guest_whose_balloon_has_not_followed_its_definition_yet_is_not_asked_again()
    {
        // Idempotence: the live value is what the balloon driver did, and asking again changes nothing.
        var plan = Plan(Running() with { MemoryKiB = 1536 << 10 }, new() { MemoryBytes = 1536L << 20 });
        Assert.False(plan.Changes);
        Assert.Contains("until its balloon driver follows", Assert.Single(plan.Notes));

        // vCPUs, in contrast, are plugged in by the hypervisor: a running guest behind its definition catches up.
        var step = Assert.Single(Plan(Running() with { Processors = 2 }, new() { ProcessorCount = 2 }).Steps);
        Assert.Equal((false, true), (step.Config, step.Live));
    }

    [Fact]
    public void The_description_goes_to_both_and_an_empty_one_removes_it()
    {
        var set = Assert.Single(Plan(Running(), new() { Description = "<b> & \"new\"" }).Steps);
        Assert.Equal((GuestSettingKind.Description, true, true, "<b> & \"new\""), (set.Kind, set.Config, set.Live, set.Text));
        var removed = Assert.Single(Plan(Off(), new() { Description = "" }).Steps);
        Assert.StartsWith("Remove the description", removed.Description);
    }

    [Fact]
    public void Autostart_and_a_new_name_are_definition_changes_with_the_rename_last()
    {
        var plan = Plan(Off(), new() { NewName = "web9", Autostart = true, MemoryBytes = 512L << 20 });
        Assert.Equal([GuestSettingKind.Memory, GuestSettingKind.Autostart, GuestSettingKind.Name], plan.Steps.Select(s => s.Kind));
        Assert.Equal("Start 'web1' when the host (its libvirt daemon) starts.", plan.Steps[1].Description);
        Assert.Equal("web9", plan.Steps[2].Text);
    }

    [Theory]
    [InlineData(0L)]
    [InlineData(-1L)]
    [InlineData(1000000L)] // not whole MiB
    [InlineData(32L << 30)] // more than the host's 16 GiB
    public void Memory_that_is_not_usable_is_refused(long bytes)
    {
        var failure = Assert.Throws<KvmHostException>(() => Plan(Off(), new() { MemoryBytes = bytes }));
        Assert.Equal(ErrorIds.GuestMemoryInvalid, failure.ErrorId);
        Assert.Equal(ErrorIds.GuestMemoryInvalid, Assert.Throws<KvmHostException>(() => Plan(Off(), new() { MaximumMemoryBytes = bytes })).ErrorId);
    }

    [Fact]
    public void Refusals_each_have_their_id()
    {
        KvmHostException Refused(GuestSettingsState s, GuestSettingsRequest r) => Assert.Throws<KvmHostException>(() => Plan(s, r));
        Assert.Equal(ErrorIds.GuestParametersConflict, Refused(Off(), new() { MemoryBytes = 2L << 30, MaximumMemoryBytes = 1L << 30 }).ErrorId);
        Assert.Equal(ErrorIds.GuestProcessorCountInvalid, Refused(Off(), new() { ProcessorCount = 0 }).ErrorId);
        Assert.Equal(ErrorIds.GuestDescriptionInvalid, Refused(Off(), new() { Description = "bell \a" }).ErrorId);
        Assert.Equal(ErrorIds.GuestNameInvalid, Refused(Off(), new() { NewName = "../etc" }).ErrorId);
        var running = Refused(Running(), new() { NewName = "web9" });
        Assert.Equal((ErrorIds.GuestStateInvalid, "web1"), (running.ErrorId, running.Target));
        Assert.Contains("Stop-KvmGuest", running.Hint);
        Assert.Equal(ErrorIds.GuestStateInvalid, Refused(Running() with { Persistent = false }, new() { MemoryBytes = 1L << 30 }).ErrorId);
    }
}
