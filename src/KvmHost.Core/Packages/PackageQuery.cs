using KvmHost.Core.Platform;

namespace KvmHost.Core.Packages;

/// <summary>
/// Which of a set of packages are installed, asked of the package database in one query: rpm on the
/// Red Hat family, dpkg-query on Debian. The package manager itself (yum, dnf, apt-get) never runs here.
/// </summary>
internal static class PackageQuery
{
    /// <summary>
    /// rpm --root ROOT -q --qf '%{NAME} %{VERSION}-%{RELEASE}\n' NAMES.
    /// No --dbpath: rpm and dnf take the database location from the same librpm macro (%_dbpath) and both
    /// put the root in front of it, so they always agree. That is /var/lib/rpm on RHEL 7/8 and
    /// /usr/lib/sysimage/rpm on RHEL 9+ (with /var/lib/rpm a link to it); Debian's rpm uses ~/.rpmdb, i.e.
    /// ROOT/root/.rpmdb with HOME=/root, which is why HOME must not change between the install and the query.
    /// </summary>
    public static CommandRequest RpmRequest(HostSystem host, IReadOnlyList<string> names)
    {
        var arguments = new List<string>();
        if (host.Running is null) arguments.AddRange(["--root", host.Root.Path]);
        arguments.AddRange(["-q", "--qf", "%{NAME} %{VERSION}-%{RELEASE}\\n"]);
        arguments.AddRange(names);
        return new CommandRequest("rpm", arguments) { Timeout = TimeSpan.FromMinutes(1) };
    }

    /// <summary>rpm --eval %{_dbpath}: where this machine's rpm keeps its database, as a path inside any root.</summary>
    public static CommandRequest RpmDatabasePathRequest() =>
        new("rpm", "--eval", "%{_dbpath}") { Timeout = TimeSpan.FromSeconds(30) };

    /// <summary>
    /// True when the root holds an rpm database at <paramref name="databasePath"/>. rpm -q creates an
    /// empty database where there is none, so a root without one is not queried: reading must not write.
    /// </summary>
    public static bool HasRpmDatabase(HostRoot root, string databasePath)
    {
        if (!databasePath.StartsWith('/')) return true; // an unexpanded macro: let rpm decide
        return root.List(databasePath).Count > 0;
    }

    /// <summary>dpkg-query reads the root's status file through --admindir; no chroot needed.</summary>
    public static CommandRequest DpkgRequest(HostSystem host, IReadOnlyList<string> names)
    {
        var arguments = new List<string>();
        if (host.Running is null) arguments.Add("--admindir=" + host.Root.Resolve("/var/lib/dpkg"));
        arguments.AddRange(["-W", "-f=${Package}\\t${Version}\\t${db:Status-Abbrev}\\n"]);
        arguments.AddRange(names);
        return new CommandRequest("dpkg-query", arguments) { Timeout = TimeSpan.FromMinutes(1) };
    }

    /// <summary>
    /// Installed versions by name from rpm -q output. rpm's exit code is the number of names not installed
    /// ("package X is not installed"); anything on stderr besides that is a broken database or bad usage.
    /// A name installed twice (multilib, install-only packages) keeps the last version rpm lists.
    /// </summary>
    public static IReadOnlyDictionary<string, string> ParseRpm(CommandResult result)
    {
        var installed = new Dictionary<string, string>(StringComparer.Ordinal);
        int notInstalled = 0;
        foreach (string raw in result.StandardOutput.Split('\n'))
        {
            string line = raw.Trim();
            if (line.Length == 0) continue;
            if (line.StartsWith("package ", StringComparison.Ordinal) && line.EndsWith(" is not installed", StringComparison.Ordinal))
            {
                notInstalled++;
                continue;
            }
            int space = line.IndexOf(' ');
            if (space > 0)
            {
                installed[line[..space]] = line[(space + 1)..];
                continue;
            }
            // Without the query format (an rpm that ignored it, or a pasted transcript): a NEVRA.
            string name = PackageManagerOutput.NameOf(line);
            if (name != line) installed[name] = VersionOf(line, name);
        }
        bool errors = result.StandardError.Split('\n').Any(l => l.TrimStart().StartsWith("error:", StringComparison.Ordinal));
        if (errors || result.ExitCode != notInstalled)
            throw QueryFailed(result);
        return installed;
    }

    /// <summary>
    /// Installed versions from dpkg-query -W. A name dpkg never saw is reported on stderr only; a known
    /// but removed package is listed with a status whose second letter is not 'i'.
    /// </summary>
    public static IReadOnlyDictionary<string, string> ParseDpkg(CommandResult result)
    {
        var installed = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (string raw in result.StandardOutput.Split('\n'))
        {
            string[] fields = raw.Split('\t');
            if (fields.Length < 3 || fields[0].Length == 0) continue;
            string status = fields[2].Trim();
            if (status.Length >= 2 && status[1] == 'i') installed[fields[0]] = fields[1];
        }
        // Exit 1 with "no packages found matching X" is an unknown name; warnings about the status file's
        // fields are not failures. dpkg-query exits 2 on real errors.
        bool errors = result.StandardError.Split('\n').Any(l => l.StartsWith("dpkg-query: error", StringComparison.Ordinal));
        if (result.ExitCode > 1 || errors) throw QueryFailed(result);
        return installed;
    }

    // "deptest-obsoletes-1.0-1.noarch" -> "1.0-1": what follows the name, without the architecture.
    private static string VersionOf(string nevra, string name)
    {
        string rest = nevra[(nevra.IndexOf(name, StringComparison.Ordinal) + name.Length + 1)..];
        int dot = rest.LastIndexOf('.');
        return dot > 0 ? rest[..dot] : rest;
    }

    private static KvmHostException QueryFailed(CommandResult result) =>
        new(ErrorIds.PackageQueryFailed, FailureKind.ReadError,
            $"Could not read the package database: '{result.Request.CommandLine}' exited with {result.ExitCode}: {result.Tail()}",
            result.Request.Program, "Check the package database under the root (rpm --rebuilddb, or dpkg --audit).");
}
