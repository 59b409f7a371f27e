using System.Globalization;
using System.Text;
using System.Xml;

namespace KvmHost.Core.Guests;

/// <summary>
/// A libvirt snapshot's XML (virDomainSnapshotGetXMLDesc, the format of formatsnapshot.html): what a checkpoint
/// shows. The guest's definition inside it (&lt;domain&gt;, &lt;inactiveDomain&gt;) is skipped unread.
/// </summary>
internal sealed record SnapshotXml(string Name, string? Parent, string? Description, GuestCheckpointState State, DateTimeOffset? Created,
    string? MemoryMode, IReadOnlyList<string> DiskModes)
{
    private static readonly XmlReaderSettings Settings = new()
    {
        DtdProcessing = DtdProcessing.Prohibit, XmlResolver = null, IgnoreComments = true, IgnoreWhitespace = true,
        IgnoreProcessingInstructions = true,
    };

    public GuestCheckpointKind Kind => MemoryMode == "external" || DiskModes.Contains("external") ? GuestCheckpointKind.External : GuestCheckpointKind.Internal;

    /// <summary>Memory was saved: said by &lt;memory snapshot&gt;, or (snapshots older than that element) by a running or paused state.</summary>
    public bool HasMemory => MemoryMode is not null
        ? MemoryMode is "internal" or "external"
        : State is GuestCheckpointState.Running or GuestCheckpointState.Blocked or GuestCheckpointState.Paused;

    public static SnapshotXml Parse(string xml)
    {
        try
        {
            using var reader = XmlReader.Create(new StringReader(xml), Settings);
            reader.MoveToContent();
            if (reader.LocalName != "domainsnapshot") throw new InvalidDataException($"Expected a <domainsnapshot> document, got <{reader.LocalName}>.");
            string? name = null, parent = null, description = null, memory = null;
            var state = GuestCheckpointState.NoState;
            DateTimeOffset? created = null;
            var disks = new List<string>();
            if (reader.IsEmptyElement) throw new InvalidDataException("The snapshot XML is empty.");
            reader.Read();
            while (reader.NodeType != XmlNodeType.EndElement && !reader.EOF)
            {
                if (reader.NodeType != XmlNodeType.Element) { reader.Read(); continue; }
                switch (reader.LocalName)
                {
                    case "name": name = reader.ReadElementContentAsString(); break;
                    case "description": description = reader.ReadElementContentAsString(); break;
                    case "state": state = StateOf(reader.ReadElementContentAsString()); break;
                    case "creationTime":
                        created = long.TryParse(reader.ReadElementContentAsString().Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out long seconds)
                            ? DateTimeOffset.FromUnixTimeSeconds(seconds) : null;
                        break;
                    case "memory":
                        memory = reader.GetAttribute("snapshot");
                        reader.Skip();
                        break;
                    case "parent":
                        using (var inner = reader.ReadSubtree())
                            while (inner.Read())
                                if (inner.NodeType == XmlNodeType.Element && inner.LocalName == "name") { parent = inner.ReadElementContentAsString(); break; }
                        reader.Skip();
                        break;
                    case "disks":
                        using (var inner = reader.ReadSubtree())
                            while (inner.Read())
                                if (inner.NodeType == XmlNodeType.Element && inner.LocalName == "disk" && inner.Depth == 1)
                                    disks.Add(inner.GetAttribute("snapshot") ?? "internal");
                        reader.Skip();
                        break;
                    default: reader.Skip(); break;
                }
            }
            return new SnapshotXml(name ?? throw new InvalidDataException("The snapshot XML has no <name>."), parent,
                string.IsNullOrEmpty(description) ? null : description, state, created, memory, disks);
        }
        catch (XmlException e)
        {
            throw new InvalidDataException($"The snapshot XML is not well-formed: {e.Message}", e);
        }
    }

    /// <summary>The XML that asks for a checkpoint: its name and description, everything else libvirt's defaults.</summary>
    public static string Build(string name, string? description)
    {
        var text = new StringBuilder();
        using (var writer = XmlWriter.Create(text, new XmlWriterSettings { OmitXmlDeclaration = true, Indent = true }))
        {
            writer.WriteStartElement("domainsnapshot");
            writer.WriteElementString("name", name);
            if (!string.IsNullOrEmpty(description)) writer.WriteElementString("description", description);
            writer.WriteEndElement();
        }
        return text.ToString();
    }

    internal static GuestCheckpointState StateOf(string text) => text.Trim() switch
    {
        "running" => GuestCheckpointState.Running,
        "blocked" => GuestCheckpointState.Blocked,
        "paused" => GuestCheckpointState.Paused,
        "shutdown" => GuestCheckpointState.ShuttingDown,
        "shutoff" => GuestCheckpointState.ShutOff,
        "crashed" => GuestCheckpointState.Crashed,
        "pmsuspended" => GuestCheckpointState.PMSuspended,
        "disk-snapshot" => GuestCheckpointState.DiskOnly,
        _ => GuestCheckpointState.NoState,
    };
}
