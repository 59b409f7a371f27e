using KvmHost.Core.Platform;
using KvmHost.Core.Services;
using Xunit;

namespace KvmHost.Core.Tests.Services;

public class LibvirtDaemonsTests
{
    private static readonly string[] MonolithicUnits = ["libvirtd.service", "libvirtd.socket", "libvirtd-ro.socket", "libvirtd-admin.socket"];

    private static FakeSystemctl Monolithic(string active, string file)
    {
        var fake = new FakeSystemctl();
        foreach (string unit in MonolithicUnits) fake.With(unit, active, file);
        return fake;
    }

    private static FakeSystemctl WithModular(FakeSystemctl fake, string active = "inactive", string file = "disabled")
    {
        foreach (string drv in LibvirtUnits.ModularDrivers)
            foreach (string suffix in new[] { ".service", ".socket", "-ro.socket", "-admin.socket" })
                fake.With($"virt{drv}d{suffix}", suffix == ".service" ? "inactive" : active, file);
        return fake;
    }

    // The live root's plan never touches the host: the fake runner answers every systemctl call.
    private static LibvirtDaemons Daemons(FakeSystemctl fake, LibvirtLayout release = LibvirtLayout.Monolithic) =>
        new(HostSystem.LiveThrough(fake, CancellationToken.None), () => release);

    [Fact]
    public void A_running_enabled_libvirtd_needs_no_step()
    {
        var plan = Daemons(Monolithic("active", "enabled")).Plan(LibvirtDaemonMode.Auto);
        Assert.Equal(LibvirtLayout.Monolithic, plan.Layout);
        Assert.Empty(plan.Steps);
    }

    [Fact]
    public void A_stopped_disabled_libvirtd_is_enabled_and_its_sockets_started_in_one_call_each()
    {
        var fake = Monolithic("inactive", "disabled");
        var plan = Daemons(fake).Plan(LibvirtDaemonMode.Auto);
        Assert.Equal(["enable", "start"], plan.Steps.Select(s => s.Verb));
        Assert.Equal(MonolithicUnits, plan.Steps[0].Units);
        // The service is socket-activated: starting the sockets is enough, and an idle exit is no drift.
        Assert.Equal(MonolithicUnits.Skip(1), plan.Steps[1].Units);
        Assert.Equal("systemctl --no-ask-password start -- libvirtd.socket libvirtd-ro.socket libvirtd-admin.socket", plan.Steps[1].CommandLine);
    }

    [Fact]
    public void An_idle_exited_libvirtd_behind_active_sockets_counts_as_running()
    {
        var fake = Monolithic("active", "enabled").With("libvirtd.service", "inactive", "enabled");
        Assert.Empty(Daemons(fake).Plan(LibvirtDaemonMode.Auto).Steps);
    }

    [Fact]
    public void Libvirt_without_socket_units_starts_the_service_itself()
    {
        var fake = new FakeSystemctl().With("libvirtd.service");
        var plan = Daemons(fake).Plan(LibvirtDaemonMode.Auto);
        Assert.Equal(["libvirtd.service"], plan.Steps.Single(s => s.Verb == "start").Units);
    }

    [Fact]
    public void A_masked_unit_is_unmasked_before_it_is_enabled()
    {
        var fake = Monolithic("active", "enabled").With("libvirtd-admin.socket", "inactive", "masked", "masked");
        var plan = Daemons(fake).Plan(LibvirtDaemonMode.Monolithic);
        Assert.Equal(["unmask", "enable", "start"], plan.Steps.Select(s => s.Verb));
        Assert.All(plan.Steps, s => Assert.Equal(["libvirtd-admin.socket"], s.Units));
    }

    [Fact]
    public void Switching_to_modular_stops_then_disables_libvirtd_before_enabling_the_driver_sockets()
    {
        var fake = WithModular(Monolithic("active", "enabled"));
        var plan = Daemons(fake, LibvirtLayout.Modular).Plan(LibvirtDaemonMode.Modular);
        Assert.Equal(["stop", "disable", "enable", "start"], plan.Steps.Select(s => s.Verb));
        Assert.Equal(MonolithicUnits, plan.Retiring);
        Assert.Equal(MonolithicUnits, plan.Steps[0].Units);
        Assert.Contains("virtqemud.service", plan.Steps[2].Units);
        Assert.Contains("virtinterfaced-admin.socket", plan.Steps[2].Units);
        Assert.DoesNotContain(plan.Steps[3].Units, u => u.EndsWith(".service", StringComparison.Ordinal));
        Assert.Equal(21, plan.Steps[3].Units.Count); // 7 drivers x 3 sockets
    }

    [Theory]
    [InlineData(LibvirtLayout.Modular, LibvirtLayout.Modular)]   // fresh RHEL 9/10, Fedora 35+
    [InlineData(LibvirtLayout.Monolithic, LibvirtLayout.Monolithic)]
    public void Auto_with_both_layouts_installed_and_none_in_use_follows_the_release(LibvirtLayout release, LibvirtLayout expected)
    {
        var fake = WithModular(Monolithic("inactive", "disabled"));
        Assert.Equal(expected, Daemons(fake, release).Plan(LibvirtDaemonMode.Auto).Layout);
    }

    [Fact]
    public void Auto_keeps_libvirtd_on_a_host_upgraded_to_rhel9()
    {
        var fake = WithModular(Monolithic("active", "enabled"));
        Assert.Equal(LibvirtLayout.Monolithic, Daemons(fake, LibvirtLayout.Modular).Plan(LibvirtDaemonMode.Auto).Layout);
    }

    [Fact]
    public void Auto_keeps_modular_daemons_in_use_even_on_a_monolithic_release()
    {
        var fake = WithModular(Monolithic("inactive", "disabled"), "active", "enabled");
        var plan = Daemons(fake, LibvirtLayout.Monolithic).Plan(LibvirtDaemonMode.Auto);
        Assert.Equal(LibvirtLayout.Modular, plan.Layout);
        Assert.Empty(plan.Steps);
    }

    [Fact]
    public void Auto_uses_the_only_installed_layout_without_reading_the_release()
    {
        var fake = WithModular(new FakeSystemctl());
        var daemons = new LibvirtDaemons(HostSystem.LiveThrough(fake, CancellationToken.None), () => throw new InvalidOperationException("release read"));
        Assert.Equal(LibvirtLayout.Modular, daemons.Plan(LibvirtDaemonMode.Auto).Layout);
    }

    [Fact]
    public void Missing_units_fail_with_LibvirtNotInstalled_and_run_no_write()
    {
        var fake = new FakeSystemctl();
        var e = Assert.Throws<KvmHostException>(() => Daemons(fake).Plan(LibvirtDaemonMode.Auto));
        Assert.Equal(ErrorIds.LibvirtNotInstalled, e.ErrorId);
        Assert.Contains("libvirtd.service", e.Message);
        Assert.Empty(fake.Writes);
        Assert.Single(fake.All); // the state of every unit is read in one systemctl call
    }

    [Fact]
    public void Modular_mode_without_modular_units_fails_with_a_hint_to_use_monolithic()
    {
        var e = Assert.Throws<KvmHostException>(() => Daemons(Monolithic("active", "enabled")).Plan(LibvirtDaemonMode.Modular));
        Assert.Equal(ErrorIds.LibvirtNotInstalled, e.ErrorId);
        Assert.Contains("-Mode Monolithic", e.Hint);
    }

    [Fact]
    public void A_failed_start_reports_the_units_journal()
    {
        var fake = Monolithic("inactive", "enabled");
        fake.FailVerb = "start";
        var daemons = Daemons(fake);
        var plan = daemons.Plan(LibvirtDaemonMode.Auto);
        var e = Assert.Throws<KvmHostException>(() => daemons.Apply(plan.Steps.Single()));
        Assert.Equal(ErrorIds.LibvirtStartFailed, e.ErrorId);
        Assert.Contains("cannot bind: Address in use", e.Message);
        Assert.Contains(fake.All, r => r.Program == "journalctl" && r.Arguments.Contains("libvirtd.socket"));
    }

    [Fact]
    public void Not_booted_with_systemd_becomes_SystemdNotRunning()
    {
        var runner = new NotBootedRunner();
        var e = Assert.Throws<KvmHostException>(() => new LibvirtDaemons(HostSystem.LiveThrough(runner, CancellationToken.None), () => LibvirtLayout.Monolithic).Plan(LibvirtDaemonMode.Auto));
        Assert.Equal(ErrorIds.SystemdNotRunning, e.ErrorId);
    }

    private sealed class NotBootedRunner : ICommandRunner
    {
        public bool IsAvailable(string program) => true;
        public CommandResult Run(CommandRequest request, CancellationToken cancellationToken) =>
            new(request, 1, "", "System has not been booted with systemd as init system (PID 1). Can't operate.\nFailed to connect to bus: Host is down\n", TimeSpan.Zero);
    }
}
