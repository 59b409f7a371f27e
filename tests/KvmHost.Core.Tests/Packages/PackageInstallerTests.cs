using KvmHost.Core.Packages;
using KvmHost.Core.Platform;
using Xunit;

namespace KvmHost.Core.Tests.Packages;

/// <summary>Planning and the decisions around the package manager run, with a scripted runner.</summary>
public sealed class PackageInstallerTests : IDisposable
{
    private readonly ScratchRoot _scratch = new();

    public void Dispose() => _scratch.Dispose();

    private static ReleaseProfile Profile(string fixture) =>
        ReleaseProfile.FromOsRelease(OsRelease.Parse(File.ReadAllText(ScratchRoot.Fixture("os-release/" + fixture))));

    /// <summary>A scratch root dressed as the release, with an rpm database (non-empty) at Debian's path.</summary>
    private (PackageInstaller Installer, ScratchRoot Root, ReleaseProfile Release) Image(string fixture, ScriptedRunner runner)
    {
        _scratch.PutFixture("/etc/os-release", "os-release/" + fixture).Put("/root/.rpmdb/rpmdb.sqlite", "");
        runner.On("rpm", "--eval", 0, "/root/.rpmdb\n");
        var release = ReleaseProfile.Detect(_scratch.Root);
        return (new PackageInstaller(HostSystem.Open(_scratch.Root, runner, CancellationToken.None), release), _scratch, release);
    }

    private static readonly InstallOptions Defaults = new();

    [Fact]
    public void An_image_gets_installroot_its_own_reposdir_and_a_releasever_from_its_os_release()
    {
        var runner = new ScriptedRunner().WithRpmDatabase(new Dictionary<string, string> { ["qemu-img"] = "9.1.0-15.el9" });
        var (installer, root, release) = Image("rhel-9.6.os-release", runner);
        var plan = installer.Plan(PackageSet.Resolve(release, null, false), Defaults, CancellationToken.None);

        Assert.Equal(["qemu-kvm", "libvirt", "python3-libvirt", "guestfs-tools", "virt-install"], plan.Missing);
        Assert.Null(plan.EnableModule);
        Assert.Equal("dnf", plan.Install!.Program);
        Assert.Equal(
            ["-y", $"--installroot={root.Path}", $"--setopt=reposdir={root.Path}/etc/yum.repos.d", "--releasever=9",
             "--setopt=exit_on_lock=True", "install", "qemu-kvm", "libvirt", "python3-libvirt", "guestfs-tools", "virt-install"],
            plan.Install.Arguments);
        Assert.Single(runner.Started("rpm"), r => r.Arguments.Contains("-q")); // one query for the whole set
    }

    [Theory]
    [InlineData("rhel-7.5.os-release", "yum", "7Server")]
    [InlineData("centos-7.os-release", "yum", "7")]
    [InlineData("rhel-8.10.os-release", "dnf", "8")]
    [InlineData("rocky-9.3.os-release", "dnf", "9")]
    [InlineData("fedora-42.os-release", "dnf", "42")]
    public void The_package_manager_and_releasever_follow_the_release(string fixture, string program, string releasever)
    {
        var runner = new ScriptedRunner().WithRpmDatabase(new Dictionary<string, string>());
        var (installer, _, release) = Image(fixture, runner);
        var plan = installer.Plan(PackageSet.Resolve(release, null, false), Defaults, CancellationToken.None);
        Assert.Equal(program, plan.Install!.Program);
        Assert.Contains("--releasever=" + releasever, plan.Install.Arguments);
        Assert.Equal(program == "yum", plan.Install.Arguments.Contains("--setopt=skip_missing_names_on_install=False"));
        Assert.True(plan.Install.InterruptGracePeriod > TimeSpan.Zero);
    }

    [Fact]
    public void Rhel8_enables_the_virt_module_first_and_goes_on_when_no_repository_offers_it()
    {
        var runner = new ScriptedRunner().WithRpmDatabase(new Dictionary<string, string>())
            .On("dnf", "module", 1, "", "Error: Problems in request:\nmissing groups or modules: virt\n")
            .On("dnf", "install", 0, "  Installing       : qemu-img-6.2.0-52.module+el8.10.0.noarch     1/1\n");
        var (installer, _, release) = Image("rhel-8.10.os-release", runner);
        var plan = installer.Plan(PackageSet.Resolve(release, null, false), Defaults, CancellationToken.None);
        Assert.Equal(["module", "enable", "virt"], plan.EnableModule!.Arguments.TakeLast(3));

        var outcome = installer.Install(plan, null, CancellationToken.None);
        Assert.Contains(outcome.Notes, n => n.Contains("'virt' module"));
        Assert.Equal(["module", "install"], runner.Started("dnf").Select(r => r.Arguments.Contains("module") ? "module" : "install"));
    }

    [Fact]
    public void A_failing_module_enable_for_another_reason_stops_before_the_install()
    {
        var runner = new ScriptedRunner().WithRpmDatabase(new Dictionary<string, string>())
            .On("dnf", "module", 200, "", "RPMDB already locked by 77\n");
        var (installer, _, release) = Image("rhel-8.10.os-release", runner);
        var outcome = installer.Install(installer.Plan(PackageSet.Resolve(release, null, false), Defaults, CancellationToken.None), null, CancellationToken.None);
        Assert.Equal(ErrorIds.PackageManagerLocked, outcome.Failure!.ErrorId);
        Assert.DoesNotContain(runner.Started("dnf"), r => r.Arguments.Contains("install"));
        Assert.All(outcome.Packages, p => Assert.Equal(PackageStatus.Failed, p.Status));
    }

    [Fact]
    public void Nothing_missing_means_no_package_manager_run()
    {
        var all = new Dictionary<string, string>
        {
            ["qemu-kvm"] = "9.1.0-15.el9", ["qemu-img"] = "9.1.0-15.el9", ["libvirt"] = "10.10.0-7.el9",
            ["python3-libvirt"] = "10.10.0-1.el9", ["guestfs-tools"] = "1.52.2-2.el9", ["virt-install"] = "4.1.0-9.el9",
        };
        var runner = new ScriptedRunner().WithRpmDatabase(all);
        var (installer, _, release) = Image("rhel-9.6.os-release", runner);
        var plan = installer.Plan(PackageSet.Resolve(release, null, false), Defaults, CancellationToken.None);
        var outcome = installer.Install(plan, null, CancellationToken.None);

        Assert.Null(plan.Install);
        Assert.All(outcome.Packages, p => Assert.Equal((PackageStatus.AlreadyInstalled, false), (p.Status, p.Changed)));
        Assert.All(outcome.Packages, p => Assert.Empty(p.PlannedChanges));
        Assert.Empty(runner.Started("dnf"));
    }

    [Fact]
    public void A_preview_keeps_each_status_as_it_is_and_lists_the_commands_only_for_what_is_missing()
    {
        var runner = new ScriptedRunner().WithRpmDatabase(new Dictionary<string, string> { ["qemu-img"] = "6.2.0-52.module+el8.10.0" });
        var (installer, _, release) = Image("rhel-8.10.os-release", runner);
        var plan = installer.Plan(PackageSet.Resolve(release, null, false), Defaults, CancellationToken.None);
        var preview = PackageInstaller.Preview(plan, whatIf: true);

        Assert.All(preview, p => Assert.True(p.WhatIf));
        Assert.All(preview, p => Assert.False(p.Changed));
        var img = Assert.Single(preview, p => p.Name == "qemu-img");
        Assert.Equal((PackageStatus.AlreadyInstalled, "6.2.0-52.module+el8.10.0"), (img.Status, img.Version));
        Assert.Empty(img.PlannedChanges);
        var kvm = Assert.Single(preview, p => p.Name == "qemu-kvm");
        Assert.Equal(PackageStatus.Missing, kvm.Status);
        Assert.Equal([plan.EnableModule!.CommandLine, plan.Install!.CommandLine], kvm.PlannedChanges);
        Assert.Empty(runner.Started("dnf"));
    }

    [Fact]
    public void The_database_decides_not_the_exit_code_and_a_kernel_in_the_transaction_advises_a_reboot()
    {
        var installed = new Dictionary<string, string>();
        var runner = new ScriptedRunner();
        runner.WithRpmDatabase(installed).On(r => r.Program == "dnf", _ =>
        {
            installed["libvirt"] = "10.10.0-7.el9";
            return (0, "  Installing       : kernel-core-5.14.0-570.el9.x86_64   1/2\n  Installing       : libvirt-10.10.0-7.el9.x86_64   2/2\n", "");
        });
        var (installer, _, release) = Image("rhel-9.6.os-release", runner);
        var steps = new List<TransactionStep>();
        var outcome = installer.Install(installer.Plan(PackageSet.Resolve(release, ["virt-viewer"], true), Defaults, CancellationToken.None), steps.Add, CancellationToken.None);

        var viewer = Assert.Single(outcome.Packages);
        Assert.Equal(PackageStatus.Failed, viewer.Status);
        Assert.Equal(ErrorIds.PackageInstallFailed, outcome.Failure!.ErrorId);
        Assert.Equal([45, 90], steps.Select(s => s.Percent));

        installed.Clear();
        var both = installer.Install(installer.Plan(["libvirt"], Defaults, CancellationToken.None), null, CancellationToken.None);
        var libvirt = Assert.Single(both.Packages);
        Assert.Equal((PackageStatus.Installed, true, true), (libvirt.Status, libvirt.Changed, libvirt.RebootAdvised));
        Assert.Contains("Enable-Libvirtd", libvirt.FollowUp);
        Assert.Null(both.Failure);
    }

    [Fact]
    public void A_root_without_an_rpm_database_is_not_queried_so_reading_writes_nothing()
    {
        _scratch.PutFixture("/etc/os-release", "os-release/rhel-9.6.os-release");
        var runner = new ScriptedRunner().On("rpm", "--eval", 0, "/var/lib/rpm\n");
        var installer = new PackageInstaller(HostSystem.Open(_scratch.Root, runner, CancellationToken.None), ReleaseProfile.Detect(_scratch.Root));
        var packages = installer.Query(["libvirt"], CancellationToken.None);
        Assert.Equal(PackageStatus.Missing, Assert.Single(packages).Status);
        Assert.DoesNotContain(runner.Requests, r => r.Arguments.Contains("-q"));
    }

    [Fact]
    public void Debian_installs_with_apt_get_on_the_live_system_and_refuses_another_root()
    {
        var debian = Profile("debian-12.os-release");
        var runner = new ScriptedRunner().On("dpkg-query", null, 1, "qemu-utils\t1:7.2+dfsg-7\tii \n", "dpkg-query: no packages found matching virtinst\n");
        var plan = new PackageInstaller(HostSystem.LiveThrough(runner, CancellationToken.None), debian).Plan(["qemu-utils", "virtinst"], Defaults, CancellationToken.None);
        Assert.Equal(["virtinst"], plan.Missing);
        Assert.Equal(["-y", "-o", "DPkg::Lock::Timeout=0", "install", "virtinst"], plan.Install!.Arguments);
        Assert.Equal("noninteractive", plan.Install.Environment!["DEBIAN_FRONTEND"]);

        var e = Assert.Throws<KvmHostException>(() => new PackageInstaller(HostSystem.Open(_scratch.Root, runner, CancellationToken.None), debian).Plan(["virtinst"], Defaults, CancellationToken.None));
        Assert.Equal(ErrorIds.PackageRootUnsupported, e.ErrorId);
        var option = Assert.Throws<KvmHostException>(() => new PackageInstaller(HostSystem.LiveThrough(runner, CancellationToken.None), debian)
            .Plan(["virtinst"], Defaults with { EnableRepositories = ["backports"] }, CancellationToken.None));
        Assert.Equal(ErrorIds.PackageOptionUnsupported, option.ErrorId);
    }

    [Fact]
    public void Enabled_repositories_are_passed_and_checked()
    {
        var runner = new ScriptedRunner().WithRpmDatabase(new Dictionary<string, string>());
        var (installer, _, _) = Image("rhel-9.6.os-release", runner);
        var plan = installer.Plan(["virt-viewer"], Defaults with { EnableRepositories = ["crb"] }, CancellationToken.None);
        Assert.Contains("--enablerepo=crb", plan.Install!.Arguments);
        var e = Assert.Throws<KvmHostException>(() => installer.Plan(["virt-viewer"], Defaults with { EnableRepositories = ["--x"] }, CancellationToken.None));
        Assert.Equal(ErrorIds.PackageNameInvalid, e.ErrorId);
    }
}
