using System.Text;
using KvmHost.Core.Platform;

namespace KvmHost.Core.Bridge;

/// <summary>
/// Linux interface names as the kernel accepts them (IFNAMSIZ 16 including the NUL, no '/', ':' or
/// whitespace), narrowed further so a name can be written into a shell-sourced ifcfg file or a keyfile
/// and used as a file name without quoting surprises.
/// </summary>
public static class InterfaceName
{
    public const int MaxBytes = 15;

    public static string Validate(string? name, string parameter)
    {
        string shown = name ?? string.Empty;
        string? why = name switch
        {
            null or "" => "it is empty",
            "." or ".." => "'.' and '..' are not interface names",
            _ when Encoding.UTF8.GetByteCount(name) > MaxBytes => $"it is {Encoding.UTF8.GetByteCount(name)} bytes long; the kernel allows at most {MaxBytes}",
            _ when name.Any(c => char.IsWhiteSpace(c) || char.IsControl(c)) => "it contains whitespace or a control character (a newline would inject a line into a configuration file)",
            _ when name.IndexOfAny(['/', ':', '=']) >= 0 => "it contains '/', ':' or '=' (the kernel refuses '/' and ':', '=' would break a configuration line)",
            _ when name.IndexOfAny(['"', '\'', '\\', '$', '`', ';', '#', '&', '|', '<', '>', '*', '?', '[', ']', '(', ')', '{', '}', '!', '~']) >= 0
                => "it contains a shell or keyfile special character",
            _ => null,
        };
        if (why is not null)
        {
            if (shown.Length > 40) shown = shown[..40] + "...";
            throw new KvmHostException(ErrorIds.InvalidInterfaceName, FailureKind.InvalidArgument,
                $"'{Escape(shown)}' is not a valid interface name for -{parameter}: {why}. Nothing was changed.", name,
                "Use the name 'ip link' shows, for example enp0s3 or br0 (letters, digits, '.', '-', '_', '@', '+').");
        }
        return name!;
    }

    /// <summary>Makes a control character visible in a message instead of breaking it.</summary>
    internal static string Escape(string text) =>
        string.Concat(text.Select(c => char.IsControl(c) ? $"\\x{(int)c:x2}" : c.ToString()));
}
