using KvmHost.Core.Packages;
using KvmHost.Core.Platform;
using Xunit;

namespace KvmHost.Core.Tests.Packages;

/// <summary>Parsing of real rpm, dnf and yum 3 output (tests/fixtures/cmdoutput, SOURCES.md says where each is from).</summary>
public class PackageOutputTests
{
    private static string Fixture(string name) => File.ReadAllText(ScratchRoot.Fixture("cmdoutput/" + name));

    private static CommandResult Result(string program, int exit, string stdout, string stderr = "") =>
        new(new CommandRequest(program, "install"), exit, stdout, stderr, TimeSpan.Zero);

    [Fact]
    public void Rpm_query_counts_the_missing_package_and_reads_a_plain_nevra()
    {
        var installed = PackageQuery.ParseRpm(Result("rpm", 1, Fixture("rpm-q-one-missing-one-installed.stdout.txt")));
        Assert.False(installed.ContainsKey("deptest-two"));
        Assert.Equal("1.0-1", installed["deptest-obsoletes"]);
    }

    [Fact]
    public void Rpm_query_of_a_package_that_is_not_installed_is_no_failure()
    {
        Assert.Empty(PackageQuery.ParseRpm(Result("rpm", 1, Fixture("rpm-q-wget-not-installed-rocky.stdout.txt"))));
    }

    [Fact]
    public void Rpm_query_with_the_module_format_gives_version_and_release()
    {
        var installed = PackageQuery.ParseRpm(Result("rpm", 1, "qemu-kvm 9.1.0-15.el9\npackage virt-install is not installed\n"));
        Assert.Equal("9.1.0-15.el9", Assert.Single(installed).Value);
    }

    [Theory]
    [InlineData(1, "", "error: cannot open Packages database in /var/lib/rpm\n")]
    [InlineData(3, "package wget is not installed\n", "")]
    public void A_broken_rpm_database_is_PackageQueryFailed_not_missing_packages(int exit, string stdout, string stderr)
    {
        var e = Assert.Throws<KvmHostException>(() => PackageQuery.ParseRpm(Result("rpm", exit, stdout, stderr)));
        Assert.Equal(ErrorIds.PackageQueryFailed, e.ErrorId);
    }

    [Fact]
    public void Dpkg_query_counts_only_installed_status_and_tolerates_unknown_names()
    {
        // As dpkg-query 1.21 prints it here for -W -f='${Package}\t${Version}\t${db:Status-Abbrev}\n' bash libvirt0 nosuch.
        var result = Result("dpkg-query", 1, "bash\t5.2.15-2+b8\tii \nlibvirt0\t9.0.0-4\trc \n", "dpkg-query: no packages found matching nosuch\n");
        var installed = PackageQuery.ParseDpkg(result);
        Assert.Equal("5.2.15-2+b8", Assert.Single(installed).Value);
    }

    [Fact]
    public void Dpkg_query_warnings_about_the_status_file_are_no_failure_but_errors_are()
    {
        // dpkg-query 1.21 here, on a status file without Description fields.
        const string warning = "dpkg-query: warning: parsing file '/r/var/lib/dpkg/status' near line 5 package 'virtinst':\n missing 'Description' field\n";
        Assert.Empty(PackageQuery.ParseDpkg(Result("dpkg-query", 1, "virtinst\t1:4.1.0-3\trc \n", warning)));
        var e = Assert.Throws<KvmHostException>(() => PackageQuery.ParseDpkg(Result("dpkg-query", 2, "", "dpkg-query: error: failed to open package info file '/r/var/lib/dpkg/status' for reading: Permission denied\n")));
        Assert.Equal(ErrorIds.PackageQueryFailed, e.ErrorId);
    }

    [Fact]
    public void Dnf_transaction_lines_become_progress_with_the_package_name()
    {
        var lines = Fixture("dnf-install-nginx-with-gpg-import-alma9.2.txt").Split('\n');
        var steps = lines.Select(PackageManagerOutput.ParseStep).OfType<TransactionStep>().ToList();
        Assert.Equal(["Preparing", "Running scriptlet", "Installing", "Running scriptlet", "Verifying"], steps.Select(s => s.Phase));
        var installing = steps.Single(s => s.Phase == "Installing");
        Assert.Equal(("nginx", 1, 1, 90), (installing.Package, installing.Index, installing.Total, installing.Percent));
        Assert.Null(steps[0].Package);
        Assert.Equal(100, steps[^1].Percent);
        Assert.Equal(["nginx"], PackageManagerOutput.TransactionPackages(string.Join('\n', lines)));
    }

    [Theory]
    [InlineData("nginx-1:1.25.0-1.el9.ngx.x86_64", "nginx")]                  // dnf: epoch after the name
    [InlineData("10:qemu-kvm-1.5.3-175.el7_9.6.x86_64", "qemu-kvm")]         // yum 3: epoch first
    [InlineData("libvirt-daemon-driver-qemu-10.10.0-7.el9.x86_64", "libvirt-daemon-driver-qemu")]
    [InlineData("python3-libvirt-10.10.0-1.el9.noarch", "python3-libvirt")]
    public void Names_come_out_of_dnf_and_yum3_nevras(string nevra, string name)
    {
        Assert.Equal(name, PackageManagerOutput.NameOf(nevra));
    }

    [Fact]
    public void A_real_yum3_transaction_gives_every_installed_name_epochs_stripped_and_steady_progress()
    {
        string output = Fixture("yum-install-mariadb-transaction-rhel7.txt");
        var installed = PackageManagerOutput.TransactionPackages(output);
        Assert.Equal(39, installed.Count);
        Assert.Contains("perl", installed);          // "4:perl-5.16.3-294.el7_6.x86_64"
        Assert.Contains("perl-parent", installed);   // "1:perl-parent-0.225-244.el7.noarch"
        Assert.Contains("MariaDB-shared", installed);
        Assert.DoesNotContain("mariadb-libs", installed); // erased, not installed

        var steps = output.Split('\n').Select(PackageManagerOutput.ParseStep).OfType<TransactionStep>().ToList();
        Assert.Equal((39, 1, 40), (steps.Count(s => s.Phase == "Installing"), steps.Count(s => s.Phase == "Erasing"), steps.Count(s => s.Phase == "Verifying")));
        Assert.Equal(steps.Select(s => s.Percent).Order(), steps.Select(s => s.Percent)); // never goes back
        Assert.Equal(("Verifying", "mariadb-libs", 100), (steps[^1].Phase, steps[^1].Package, steps[^1].Percent));
    }

    [Theory]
    [InlineData("dnf-install-no-match-epel.issue-text.txt", "fastfetch")]
    [InlineData("dnf-install-no-match-libvirt-python-rhel8.0.txt", "libvirt-python")]
    [InlineData("yum-install-no-package-available-centos7.issue-text.txt", "update")]
    public void A_name_no_repository_has_is_PackageNotFound_naming_it(string fixture, string name)
    {
        var e = PackageManagerOutput.Classify(Result("dnf", 1, Fixture(fixture)), [name]);
        Assert.Equal(ErrorIds.PackageNotFound, e.ErrorId);
        Assert.Equal(name, e.Target);
        Assert.Contains(name, e.Message);
        Assert.NotNull(e.Hint);
    }

    [Fact]
    public void Yum3_dependency_errors_are_a_plain_install_failure_not_a_lock_or_a_repository()
    {
        var e = PackageManagerOutput.Classify(Result("yum", 1, Fixture("yum-distro-sync-dependency-errors-rhel7.txt")), ["glibc"]);
        Assert.Equal(ErrorIds.PackageInstallFailed, e.ErrorId);
        Assert.Contains("oraclelinux-release", e.Message); // the tail of the output, which says what is wrong
    }

    [Theory]
    // dnf 4.14 with exit_on_lock, run here against a root whose rpmdb_lock.pid names a live process.
    [InlineData("", "RPMDB already locked by 29765\n  The application with PID 29765 is: sleep\n", "29765")]
    // dnf without exit_on_lock (dnf/lock.py), and yum 3 with exit_on_lock (yummain.py).
    [InlineData("Waiting for process with pid 812 to finish.\n", "", "812")]
    [InlineData("", "Existing lock /var/run/yum.pid: another copy is running as pid 4242.\n", "4242")]
    public void A_held_lock_is_PackageManagerLocked_naming_the_holder(string stdout, string stderr, string pid)
    {
        var e = PackageManagerOutput.Classify(Result("dnf", 200, stdout, stderr), ["qemu-kvm"]);
        Assert.Equal(ErrorIds.PackageManagerLocked, e.ErrorId);
        Assert.Contains($"process {pid}", e.Message);
    }

    [Fact]
    public void An_unreachable_repository_wins_over_the_no_match_it_causes()
    {
        // dnf 4.14 here, with a .repo whose baseurl does not exist.
        const string stderr = "Errors during downloading metadata for repository 'bad':\n" +
            "Error: Failed to download metadata for repo 'bad': Cannot download repomd.xml: Cannot download repodata/repomd.xml: All mirrors were tried\n" +
            "Ignoring repositories: bad\nError: Unable to find a match: virt-install\n";
        var e = PackageManagerOutput.Classify(Result("dnf", 1, "No match for argument: virt-install\n", stderr), ["virt-install"]);
        Assert.Equal(ErrorIds.PackageRepositoryUnavailable, e.ErrorId);
    }

    [Fact]
    public void A_missing_module_stream_is_recognised_and_other_failures_are_not()
    {
        // dnf 4.14 here: "dnf module enable virt" against a repository without module metadata.
        Assert.True(PackageManagerOutput.IsModuleMissing(Result("dnf", 1, "", "Error: Problems in request:\nmissing groups or modules: virt\n")));
        Assert.False(PackageManagerOutput.IsModuleMissing(Result("dnf", 1, "", "RPMDB already locked by 12\n")));
        Assert.False(PackageManagerOutput.IsModuleMissing(Result("dnf", 0, Fixture("dnf-history-redo-nothing-to-do-rocky9.txt"))));
    }

    [Fact]
    public void Nothing_to_do_output_has_no_transaction()
    {
        Assert.Empty(PackageManagerOutput.TransactionPackages(Fixture("dnf-install-already-installed-nothing-to-do-alma9.2.txt")));
    }
}
