using System.Xml;
using System.Xml.Linq;

namespace KvmHost.Core.Guests;

/// <summary>One &lt;disk&gt; of a domain definition.</summary>
internal sealed record DomainDisk(string Target, string Device, string? Bus, string Type, string? Source, string? Format, bool ReadOnly,
    string? Pool = null, string? Volume = null);

/// <summary>One &lt;interface&gt; of a domain definition.</summary>
internal sealed record DomainInterface(string Type, string? MacAddress, string? Bridge, string? Network, string? Model, string? Device);

/// <summary>
/// What Get-KvmGuest reads from a domain's XML (virDomainGetXMLDesc), which the bulk statistics cannot
/// give: devices, the libosinfo id, the description, and configured sizes as the fallback for drivers whose
/// statistics lack them. Parsed without DTDs or external entities; what is missing stays null.
/// </summary>
internal sealed record DomainXml
{
    private const string LibosinfoNamespace = "http://libosinfo.org/xmlns/libvirt/domain/1.0";
    private const string GuestAgentChannel = "org.qemu.guest_agent.0";

    public long? MemoryKiB { get; init; }
    public long? CurrentMemoryKiB { get; init; }
    public int? Vcpus { get; init; }
    public int? CurrentVcpus { get; init; }
    public string? Description { get; init; }
    public string? OsInfoId { get; init; }
    public IReadOnlyList<DomainDisk> Disks { get; init; } = [];
    public IReadOnlyList<DomainInterface> Interfaces { get; init; } = [];

    /// <summary>The guest has a QEMU guest agent channel whose agent is connected right now (live XML only).</summary>
    public bool AgentConnected { get; init; }

    public static DomainXml Parse(string xml)
    {
        var settings = new XmlReaderSettings { DtdProcessing = DtdProcessing.Prohibit, XmlResolver = null, IgnoreComments = true };
        XElement domain;
        try
        {
            using var reader = XmlReader.Create(new StringReader(xml), settings);
            domain = XElement.Load(reader);
        }
        catch (XmlException e)
        {
            throw new InvalidDataException($"The domain XML is not well-formed: {e.Message}", e);
        }
        if (domain.Name.LocalName != "domain") throw new InvalidDataException($"Expected a <domain> document, got <{domain.Name.LocalName}>.");

        XElement? devices = domain.Element("devices");
        XElement? vcpu = domain.Element("vcpu");
        return new DomainXml
        {
            MemoryKiB = Kibibytes(domain.Element("memory")),
            CurrentMemoryKiB = Kibibytes(domain.Element("currentMemory")),
            Vcpus = ParseInt(vcpu?.Value),
            CurrentVcpus = ParseInt(vcpu?.Attribute("current")?.Value) ?? ParseInt(vcpu?.Value),
            Description = NullIfEmpty(domain.Element("description")?.Value),
            OsInfoId = NullIfEmpty(domain.Element("metadata")?.Element(XName.Get("libosinfo", LibosinfoNamespace))
                ?.Element(XName.Get("os", LibosinfoNamespace))?.Attribute("id")?.Value),
            Disks = devices?.Elements("disk").Select(ParseDisk).ToArray() ?? [],
            Interfaces = devices?.Elements("interface").Select(ParseInterface).ToArray() ?? [],
            AgentConnected = devices?.Elements("channel").Select(c => c.Element("target"))
                .Any(t => t?.Attribute("name")?.Value == GuestAgentChannel && t.Attribute("state")?.Value == "connected") ?? false,
        };
    }

    /// <summary>
    /// virt-install's --osinfo short id from the libosinfo id: its last two path parts joined
    /// (http://redhat.com/rhel/9.2 -> rhel9.2, http://microsoft.com/win/2k19 -> win2k19), which is how
    /// osinfo-db names them.
    /// </summary>
    public static string? ShortOsVariant(string? osInfoId)
    {
        if (osInfoId is null || !Uri.TryCreate(osInfoId, UriKind.Absolute, out Uri? uri)) return null;
        string[] parts = uri.AbsolutePath.Split('/', StringSplitOptions.RemoveEmptyEntries);
        return parts.Length >= 2 ? parts[^2] + parts[^1] : parts.Length == 1 ? parts[0] : null;
    }

    private static DomainDisk ParseDisk(XElement disk)
    {
        XElement? source = disk.Element("source");
        string type = disk.Attribute("type")?.Value ?? "file";
        string? where = type switch
        {
            "file" => source?.Attribute("file")?.Value,
            "block" => source?.Attribute("dev")?.Value,
            "dir" => source?.Attribute("dir")?.Value,
            "volume" => source is null ? null : $"{source.Attribute("pool")?.Value}/{source.Attribute("volume")?.Value}",
            "network" => source is null ? null : $"{source.Attribute("protocol")?.Value}:{source.Attribute("name")?.Value}",
            _ => source?.Attributes().FirstOrDefault()?.Value,
        };
        return new DomainDisk(
            Target: disk.Element("target")?.Attribute("dev")?.Value ?? string.Empty,
            Device: disk.Attribute("device")?.Value ?? "disk",
            Bus: disk.Element("target")?.Attribute("bus")?.Value,
            Type: type,
            Source: NullIfEmpty(where),
            Format: disk.Element("driver")?.Attribute("type")?.Value,
            ReadOnly: disk.Element("readonly") is not null,
            Pool: type == "volume" ? source?.Attribute("pool")?.Value : null,
            Volume: type == "volume" ? source?.Attribute("volume")?.Value : null);
    }

    private static DomainInterface ParseInterface(XElement nic)
    {
        XElement? source = nic.Element("source");
        return new DomainInterface(
            Type: nic.Attribute("type")?.Value ?? "unknown",
            MacAddress: nic.Element("mac")?.Attribute("address")?.Value?.ToLowerInvariant(),
            Bridge: source?.Attribute("bridge")?.Value,
            Network: source?.Attribute("network")?.Value,
            Model: nic.Element("model")?.Attribute("type")?.Value,
            Device: nic.Element("target")?.Attribute("dev")?.Value);
    }

    /// <summary>A libvirt scaled integer (&lt;memory unit='KiB'&gt;) in KiB; libvirt writes KiB, but a hand-written unit is honoured.</summary>
    private static long? Kibibytes(XElement? element)
    {
        if (element is null || !long.TryParse(element.Value.Trim(), out long value) || value < 0) return null;
        long bytesPerUnit = (element.Attribute("unit")?.Value ?? "KiB") switch
        {
            "b" or "bytes" => 1,
            "KB" => 1000,
            "k" or "KiB" => 1024,
            "MB" => 1000L * 1000,
            "M" or "MiB" => 1024L * 1024,
            "GB" => 1000L * 1000 * 1000,
            "G" or "GiB" => 1024L * 1024 * 1024,
            "TB" => 1000L * 1000 * 1000 * 1000,
            "T" or "TiB" => 1024L * 1024 * 1024 * 1024,
            _ => 0,
        };
        if (bytesPerUnit == 0) return null;
        try { return checked(value * bytesPerUnit) / 1024; }
        catch (OverflowException) { return null; }
    }

    private static int? ParseInt(string? text) => int.TryParse(text?.Trim(), out int value) && value >= 0 ? value : null;

    private static string? NullIfEmpty(string? text) => string.IsNullOrWhiteSpace(text) ? null : text;
}
