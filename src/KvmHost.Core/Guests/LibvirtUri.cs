using KvmHost.Core.Platform;

namespace KvmHost.Core.Guests;

/// <summary>Which libvirt a guest cmdlet talks to, chosen the way virsh chooses for root.</summary>
public static class LibvirtUri
{
    public const string Default = "qemu:///system";
    public const string EnvironmentVariable = "LIBVIRT_DEFAULT_URI";

    /// <summary>
    /// -Uri when given, else $env:LIBVIRT_DEFAULT_URI, else qemu:///system. Unlike virsh run by a
    /// non-root user, never qemu:///session: KvmHost manages the host's guests, not a per-user daemon.
    /// </summary>
    public static string Resolve(string? requested, string? environmentValue)
    {
        string uri = !string.IsNullOrWhiteSpace(requested) ? requested
            : !string.IsNullOrWhiteSpace(environmentValue) ? environmentValue
            : Default;
        Validate(uri);
        return uri;
    }

    /// <summary>A URI libvirt can parse: scheme:rest, one line. libvirt itself judges the rest.</summary>
    public static void Validate(string uri)
    {
        int colon = uri.IndexOf(':');
        bool schemeOk = colon > 0 && uri[..colon].All(c => char.IsAsciiLetterOrDigit(c) || c is '+' or '-' or '.');
        if (schemeOk && !uri.Any(char.IsControl) && !uri.Any(char.IsWhiteSpace)) return;
        throw new KvmHostException(ErrorIds.LibvirtUriInvalid, FailureKind.InvalidArgument,
            $"'{new string(uri.Select(c => char.IsControl(c) ? '?' : c).ToArray())}' is not a libvirt URI.", uri,
            "Use a URI such as qemu:///system, qemu+ssh://root@host/system or qemu+unix:///system?socket=/path/to/libvirt-sock.");
    }

    /// <summary>True when the daemon runs on this machine (no host part): its QEMU processes are in our /proc.</summary>
    public static bool IsLocal(string uri) =>
        global::System.Uri.TryCreate(uri, UriKind.Absolute, out Uri? parsed) && string.IsNullOrEmpty(parsed.Host)
        && parsed.Scheme is "qemu" or "qemu+unix";
}
