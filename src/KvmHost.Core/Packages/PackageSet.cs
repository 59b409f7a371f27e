using System.Text.RegularExpressions;
using KvmHost.Core.Platform;

namespace KvmHost.Core.Packages;

/// <summary>Which packages make a KVM host on a release, with the caller's additions, all validated.</summary>
public static class PackageSet
{
    // rpm and Debian package names use letters, digits and ._+- only. Refusing everything else keeps a
    // name from being read as an option (a leading '-') or as more than one word by anything downstream.
    // \z, not $: $ also matches before a final newline.
    private static readonly Regex ValidName = new(@"^[A-Za-z0-9_+][A-Za-z0-9._+-]{0,199}\z", RegexOptions.CultureInvariant);

    /// <summary>
    /// The release's packages (unless <paramref name="withoutDefaults"/>) followed by <paramref name="extra"/>,
    /// each once, in that order. Throws PackageNameInvalid before anything runs.
    /// </summary>
    public static IReadOnlyList<string> Resolve(ReleaseProfile release, IEnumerable<string>? extra, bool withoutDefaults)
    {
        var names = new List<string>();
        if (!withoutDefaults) names.AddRange(release.KvmPackages);
        if (extra is not null) names.AddRange(extra);
        foreach (string name in names) Validate(name);
        var result = names.Distinct(StringComparer.Ordinal).ToList();
        if (result.Count == 0)
            throw new KvmHostException(ErrorIds.PackageNameInvalid, FailureKind.InvalidArgument,
                "No package to act on: the default set was left out and no -Name was given.", null,
                "Give the packages with -Name, or drop -NoDefaultPackages.");
        return result;
    }

    public static void Validate(string? name)
    {
        if (name is not null && ValidName.IsMatch(name)) return;
        string shown = name is null ? "(null)" : name.Replace("\n", "\\n").Replace("\t", "\\t");
        string hint = name switch
        {
            null or "" => "Give a package name.",
            _ when name.StartsWith('@') =>
                "Package groups and modules are not accepted: their installed state is only known to dnf's own database. " +
                "Name the packages ('dnf group info NAME' lists a group's).",
            _ when name.StartsWith('-') => "A package name cannot start with '-'; pass options as parameters of the cmdlet.",
            _ => "Package names contain only letters, digits and . _ + - (no spaces, quotes, globs or shell characters).",
        };
        throw new KvmHostException(ErrorIds.PackageNameInvalid, FailureKind.InvalidArgument,
            $"'{shown}' is not a valid package name; nothing was run.", name, hint);
    }
}
