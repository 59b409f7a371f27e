using System.Text.RegularExpressions;
using KvmHost.Core.Platform;

namespace KvmHost.Core.Packages;

/// <summary>One step of a running transaction, for a progress bar.</summary>
public sealed record TransactionStep(string Phase, string? Package, int Index, int Total, int Percent);

/// <summary>
/// Reads what yum (3), dnf (4 and 5) and apt-get print: transaction steps for progress, the packages a
/// transaction brought, and the failure worth naming. Output is always parsed with LC_ALL=C (the runner).
/// </summary>
internal static partial class PackageManagerOutput
{
    // dnf:   "  Installing       : qemu-img-9.1.0-15.el9.noarch                 1/6"
    // yum 3: "  Installing : 10:qemu-img-1.5.3-175.el7_9.6.x86_64               1/6"
    // "Preparing :  1/1" carries no package.
    [GeneratedRegex(@"^\s+(Preparing|Installing|Upgrading|Updating|Reinstalling|Downgrading|Obsoleting|Erasing|Cleanup|Running scriptlet|Verifying)\s*:\s*(\S+)?\s+(\d+)/(\d+)\s*$", RegexOptions.CultureInvariant)]
    private static partial Regex RpmStepLine();

    // apt-get (dpkg): "Unpacking libvirt0:amd64 (9.0.0-4) ..." and "Setting up libvirt0:amd64 (9.0.0-4) ..."
    [GeneratedRegex(@"^(Unpacking|Setting up) (\S+?)(?::\S+)? \(", RegexOptions.CultureInvariant)]
    private static partial Regex DpkgStepLine();

    // "name-[epoch:]version-release.arch" (dnf) or "[epoch:]name-version-release.arch" (yum 3).
    [GeneratedRegex(@"^(?:\d+:)?(?<name>.+)-(?:\d+:)?[^-]+-[^-]+\.[^.]+$", RegexOptions.CultureInvariant)]
    private static partial Regex Nevra();

    [GeneratedRegex(@"No match for argument:\s*(\S+)|No package (\S+) available\.|E: Unable to locate package (\S+)|Unable to find a match:\s*(\S+)", RegexOptions.CultureInvariant)]
    private static partial Regex NoMatchLine();

    [GeneratedRegex(@"already locked by (\d+)|Waiting for process with pid (\d+) to finish|another copy is running as pid (\d+)|It is held by process (\d+)|holding the yum lock", RegexOptions.CultureInvariant)]
    private static partial Regex LockLine();

    [GeneratedRegex(@"There are no enabled repo|Failed to download metadata for repo|Cannot download repomd\.xml|Cannot retrieve repository metadata|One of the configured repositories failed|Cannot find a valid baseurl|Failed to fetch|Temporary failure resolving|Could not resolve host", RegexOptions.CultureInvariant)]
    private static partial Regex RepositoryLine();

    // dnf 4 ("missing groups or modules: virt"), older dnf ("Unable to resolve argument virt"), dnf module list.
    [GeneratedRegex(@"missing groups or modules|Unable to resolve argument|No matching Modules to list|No such module", RegexOptions.CultureInvariant)]
    private static partial Regex NoModuleLine();

    /// <summary>
    /// A progress step from one line of output, or null. The rpm phase (Installing ... n/N) fills 0-90 %,
    /// verification the rest. apt-get's lines carry no count (Percent -1).
    /// </summary>
    public static TransactionStep? ParseStep(string line)
    {
        var rpm = RpmStepLine().Match(line);
        if (rpm.Success)
        {
            string phase = rpm.Groups[1].Value;
            int index = int.Parse(rpm.Groups[3].Value, System.Globalization.CultureInfo.InvariantCulture);
            int total = int.Parse(rpm.Groups[4].Value, System.Globalization.CultureInfo.InvariantCulture);
            if (total <= 0) return null;
            string? package = rpm.Groups[2].Success ? NameOf(rpm.Groups[2].Value) : null;
            int percent = phase switch
            {
                "Verifying" => 90 + 10 * index / total,
                "Preparing" => 0,
                _ => 90 * index / total,
            };
            return new TransactionStep(phase, package, index, total, Math.Clamp(percent, 0, 100));
        }
        var dpkg = DpkgStepLine().Match(line);
        if (dpkg.Success)
        {
            // dpkg numbers nothing: the caller counts the lines against what apt-get said it would install.
            return new TransactionStep(dpkg.Groups[1].Value, dpkg.Groups[2].Value, 0, 0, -1);
        }
        return null;
    }

    /// <summary>The package name in a NEVRA as dnf or yum 3 prints it; the input when it is not one.</summary>
    public static string NameOf(string nevra)
    {
        var match = Nevra().Match(nevra);
        return match.Success ? match.Groups["name"].Value : nevra;
    }

    /// <summary>Names the transaction installed or upgraded (dependencies included), from its step lines.</summary>
    public static IReadOnlyList<string> TransactionPackages(string output)
    {
        var names = new List<string>();
        foreach (string line in output.Split('\n'))
        {
            if (RpmStepLine().Match(line) is { Success: true } rpm && rpm.Groups[2].Success
                && rpm.Groups[1].Value is "Installing" or "Upgrading" or "Updating" or "Reinstalling" or "Downgrading")
                names.Add(NameOf(rpm.Groups[2].Value));
            else if (DpkgStepLine().Match(line) is { Success: true } dpkg && dpkg.Groups[1].Value == "Setting up")
                names.Add(dpkg.Groups[2].Value);
        }
        return names.Distinct(StringComparer.Ordinal).ToList();
    }

    /// <summary>The names the package manager said it could not find.</summary>
    public static IReadOnlyList<string> UnmatchedNames(string output)
    {
        var names = new List<string>();
        foreach (Match match in NoMatchLine().Matches(output))
        {
            string name = match.Groups.Values.Skip(1).First(g => g.Success).Value;
            names.Add(name);
        }
        return names.Distinct(StringComparer.Ordinal).ToList();
    }

    /// <summary>True when a module enable failed only because no repository offers the module.</summary>
    public static bool IsModuleMissing(CommandResult result) =>
        !result.Succeeded && NoModuleLine().IsMatch(result.StandardOutput + "\n" + result.StandardError);

    /// <summary>
    /// The failure to report for a package manager run that did not succeed, most actionable first: a held
    /// lock, an unreachable repository (which also makes every name "not found"), names that match nothing.
    /// </summary>
    public static KvmHostException Classify(CommandResult result, IReadOnlyList<string> requested)
    {
        string all = result.StandardOutput + "\n" + result.StandardError;
        string program = result.Request.Program;

        var lockMatch = LockLine().Match(all);
        if (lockMatch.Success)
        {
            string? pid = lockMatch.Groups.Values.Skip(1).FirstOrDefault(g => g.Success)?.Value;
            string holder = pid is null ? "another process" : $"process {pid}";
            return new KvmHostException(ErrorIds.PackageManagerLocked, FailureKind.ResourceBusy,
                $"{program} is locked by {holder} (another yum, dnf, apt or PackageKit run); nothing was installed.",
                program, $"Wait for {holder} to finish (ps -p {pid ?? "PID"}), then run the command again.");
        }
        if (RepositoryLine().IsMatch(all))
        {
            return new KvmHostException(ErrorIds.PackageRepositoryUnavailable, FailureKind.ResourceUnavailable,
                $"{program} could not reach a package repository; nothing was installed. {result.Tail(4)}",
                program, program == "apt-get"
                    ? "Check /etc/apt/sources.list(.d) and the network (apt-get update)."
                    : "Check the repositories in /etc/yum.repos.d (and the subscription on RHEL: subscription-manager repos --list-enabled), and the network.");
        }
        var unmatched = UnmatchedNames(all);
        if (unmatched.Count > 0)
        {
            return new KvmHostException(ErrorIds.PackageNotFound, FailureKind.ObjectNotFound,
                $"No enabled repository offers {string.Join(", ", unmatched)}; nothing was installed.",
                unmatched[0], "Check the name's spelling for this release (dnf/yum search NAME, apt-cache search NAME), or enable the repository that has it (-EnableRepository).");
        }
        return new KvmHostException(ErrorIds.PackageInstallFailed, FailureKind.InvalidOperation,
            $"'{result.Request.CommandLine}' failed with exit code {result.ExitCode}: {result.Tail()}",
            string.Join(" ", requested), "Read the package manager's message above; fix it and run the command again.");
    }
}
