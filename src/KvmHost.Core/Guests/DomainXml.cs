using System.Xml;

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

    private static readonly XmlReaderSettings Settings = new()
    {
        DtdProcessing = DtdProcessing.Prohibit, XmlResolver = null, IgnoreComments = true, IgnoreWhitespace = true,
        IgnoreProcessingInstructions = true,
    };

    /// <summary>
    /// One forward pass with an XmlReader: a live domain XML is mostly controllers and addresses nobody here
    /// reads, so building a tree of it cost Get-KvmGuest more than libvirt took to send it.
    /// </summary>
    public static DomainXml Parse(string xml)
    {
        try
        {
            using var reader = XmlReader.Create(new StringReader(xml), Settings);
            reader.MoveToContent();
            if (reader.NodeType != XmlNodeType.Element || reader.LocalName != "domain")
                throw new InvalidDataException($"Expected a <domain> document, got <{reader.LocalName}>.");
            var parsed = new Builder();
            foreach (var child in Children(reader))
            {
                switch (child.LocalName)
                {
                    case "memory": parsed.MemoryKiB = Kibibytes(child.GetAttribute("unit"), child.ReadElementContentAsString()); break;
                    case "currentMemory": parsed.CurrentMemoryKiB = Kibibytes(child.GetAttribute("unit"), child.ReadElementContentAsString()); break;
                    case "vcpu":
                        string? current = child.GetAttribute("current");
                        parsed.Vcpus = ParseInt(child.ReadElementContentAsString());
                        parsed.CurrentVcpus = ParseInt(current) ?? parsed.Vcpus;
                        break;
                    case "description": parsed.Description = NullIfEmpty(child.ReadElementContentAsString()); break;
                    case "metadata": parsed.OsInfoId = ReadOsInfoId(child); break;
                    case "devices": Devices(child, parsed); break;
                    default: child.Skip(); break;
                }
            }
            return parsed.Build();
        }
        catch (XmlException e)
        {
            throw new InvalidDataException($"The domain XML is not well-formed: {e.Message}", e);
        }
    }

    /// <summary>
    /// The child elements of the element the reader is on, each with the reader on it. The caller consumes each
    /// (ReadElementContentAsString, Skip, or reading inside it); what it leaves is skipped. Ends past the parent.
    /// </summary>
    private static IEnumerable<XmlReader> Children(XmlReader reader)
    {
        if (reader.IsEmptyElement)
        {
            reader.Read();
            yield break;
        }
        int depth = reader.Depth;
        reader.Read();
        while (!reader.EOF && reader.Depth > depth)
        {
            if (reader.NodeType != XmlNodeType.Element)
            {
                reader.Read();
                continue;
            }
            int childDepth = reader.Depth;
            var line = (IXmlLineInfo)reader;
            (int Line, int Column) at = (line.LineNumber, line.LinePosition);
            yield return reader;
            // The caller left the reader on the child (it read only attributes) or inside it: move past the child's end.
            if (reader.Depth > childDepth || (reader.Depth == childDepth && (line.LineNumber, line.LinePosition) == at))
                reader.Skip();
        }
        if (reader.NodeType == XmlNodeType.EndElement && reader.Depth == depth) reader.Read();
    }

    private static string? ReadOsInfoId(XmlReader metadata)
    {
        string? id = null;
        foreach (var entry in Children(metadata))
            if (entry.LocalName == "libosinfo" && entry.NamespaceURI == LibosinfoNamespace)
                foreach (var os in Children(entry))
                    if (os.LocalName == "os" && os.NamespaceURI == LibosinfoNamespace) id ??= NullIfEmpty(os.GetAttribute("id"));
        return id;
    }

    private static void Devices(XmlReader devices, Builder parsed)
    {
        foreach (var device in Children(devices))
        {
            switch (device.LocalName)
            {
                case "disk": parsed.Disks.Add(ParseDisk(device.GetAttribute("type") ?? "file", device.GetAttribute("device") ?? "disk", Attributes(device))); break;
                case "interface": parsed.Interfaces.Add(ParseInterface(device.GetAttribute("type") ?? "unknown", Attributes(device))); break;
                case "channel":
                    var target = Attributes(device).GetValueOrDefault("target");
                    if (target is not null && target.GetValueOrDefault("name") == GuestAgentChannel && target.GetValueOrDefault("state") == "connected")
                        parsed.AgentConnected = true;
                    break;
                default: device.Skip(); break;
            }
        }
    }

    /// <summary>The attributes of each direct child element (the first of a name): a backing store's own &lt;source&gt; is one level deeper and ignored.</summary>
    private static Dictionary<string, Dictionary<string, string>> Attributes(XmlReader element)
    {
        var children = new Dictionary<string, Dictionary<string, string>>(StringComparer.Ordinal);
        foreach (var child in Children(element))
        {
            if (children.ContainsKey(child.LocalName)) continue;
            var attributes = new Dictionary<string, string>(StringComparer.Ordinal);
            if (child.MoveToFirstAttribute())
            {
                do attributes.TryAdd(child.LocalName, child.Value);
                while (child.MoveToNextAttribute());
                child.MoveToElement();
            }
            children[child.LocalName] = attributes;
        }
        return children;
    }

    /// <summary>What the pass collects, turned into the immutable record at the end.</summary>
    private sealed class Builder
    {
        public long? MemoryKiB, CurrentMemoryKiB;
        public int? Vcpus, CurrentVcpus;
        public string? Description, OsInfoId;
        public bool AgentConnected;
        public List<DomainDisk> Disks { get; } = [];
        public List<DomainInterface> Interfaces { get; } = [];

        public DomainXml Build() => new()
        {
            MemoryKiB = MemoryKiB, CurrentMemoryKiB = CurrentMemoryKiB, Vcpus = Vcpus, CurrentVcpus = CurrentVcpus,
            Description = Description, OsInfoId = OsInfoId, AgentConnected = AgentConnected, Disks = Disks, Interfaces = Interfaces,
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

    private static DomainDisk ParseDisk(string type, string device, Dictionary<string, Dictionary<string, string>> children)
    {
        var source = children.GetValueOrDefault("source");
        string? Source(string name) => source?.GetValueOrDefault(name);
        string? where = type switch
        {
            "file" => Source("file"),
            "block" => Source("dev"),
            "dir" => Source("dir"),
            "volume" => source is null ? null : $"{Source("pool")}/{Source("volume")}",
            "network" => source is null ? null : $"{Source("protocol")}:{Source("name")}",
            _ => source?.Values.FirstOrDefault(),
        };
        var target = children.GetValueOrDefault("target");
        return new DomainDisk(
            Target: target?.GetValueOrDefault("dev") ?? string.Empty,
            Device: device,
            Bus: target?.GetValueOrDefault("bus"),
            Type: type,
            Source: NullIfEmpty(where),
            Format: children.GetValueOrDefault("driver")?.GetValueOrDefault("type"),
            ReadOnly: children.ContainsKey("readonly"),
            Pool: type == "volume" ? Source("pool") : null,
            Volume: type == "volume" ? Source("volume") : null);
    }

    private static DomainInterface ParseInterface(string type, Dictionary<string, Dictionary<string, string>> children)
    {
        var source = children.GetValueOrDefault("source");
        return new DomainInterface(
            Type: type,
            MacAddress: children.GetValueOrDefault("mac")?.GetValueOrDefault("address")?.ToLowerInvariant(),
            Bridge: source?.GetValueOrDefault("bridge"),
            Network: source?.GetValueOrDefault("network"),
            Model: children.GetValueOrDefault("model")?.GetValueOrDefault("type"),
            Device: children.GetValueOrDefault("target")?.GetValueOrDefault("dev"));
    }

    /// <summary>A libvirt scaled integer (&lt;memory unit='KiB'&gt;) in KiB; libvirt writes KiB, but a hand-written unit is honoured.</summary>
    private static long? Kibibytes(string? unit, string text)
    {
        if (!long.TryParse(text.Trim(), out long value) || value < 0) return null;
        long bytesPerUnit = (unit ?? "KiB") switch
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
