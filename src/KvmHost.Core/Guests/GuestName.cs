using System.Text;
using KvmHost.Core.Platform;

namespace KvmHost.Core.Guests;

/// <summary>
/// Guest names (and name patterns) as the cmdlets accept them, checked before libvirt is called. libvirt
/// itself only refuses '/', but a name also becomes file names (/etc/libvirt/qemu/NAME.xml, NAME.save,
/// virt-install's disk NAME.qcow2), XML text and command arguments; so a name that would escape a folder,
/// break a line, need XML escaping or look like an option is refused with GuestNameInvalid.
/// </summary>
public static class GuestName
{
    /// <summary>Leaves room for ".xml" and ".save" under the 255-byte file name limit.</summary>
    public const int MaxBytes = 200;

    private static readonly System.Buffers.SearchValues<char> Refused = System.Buffers.SearchValues.Create("/\\<>&\"'`");

    /// <summary>Throws GuestNameInvalid unless <paramref name="name"/> is a name (or, with wildcards, a pattern) the module accepts.</summary>
    public static void Validate(string? name)
    {
        string? problem = Problem(name);
        if (problem is null) return;
        string shown = name is null ? "(null)" : name.Length > 60 ? name[..60] + "..." : name;
        throw new KvmHostException(ErrorIds.GuestNameInvalid, FailureKind.InvalidArgument,
            $"'{Printable(shown)}' is not a usable guest name: {problem}.", name,
            $"Use letters, digits and . _ - + : @ (at most {MaxBytes} bytes, not starting with '-').");
    }

    /// <summary>Why the name is refused, or null when it is fine.</summary>
    public static string? Problem(string? name) => Problem(name, MaxBytes);

    /// <summary>The same rules with another length limit (checkpoint names: a guest's name plus a time stamp).</summary>
    internal static string? Problem(string? name, int maxBytes)
    {
        if (string.IsNullOrWhiteSpace(name)) return "it is empty";
        if (Encoding.UTF8.GetByteCount(name) > maxBytes) return $"it is longer than {maxBytes} bytes";
        if (name.Any(char.IsControl)) return "it contains a control character (a newline or tab)";
        int refused = name.AsSpan().IndexOfAny(Refused);
        if (refused >= 0) return $"it contains '{name[refused]}'";
        if (name.StartsWith('-')) return "it starts with '-', which programs read as an option";
        if (name == "." || name.Contains("..", StringComparison.Ordinal)) return "it contains '..'";
        if (name != name.Trim()) return "it starts or ends with white space";
        return null;
    }

    internal static string Printable(string text) =>
        new(text.Select(c => char.IsControl(c) ? '?' : c).ToArray());
}
