using System.Xml;
using System.Xml.Linq;

namespace KvmHost.Core.Guests;

/// <summary>One disk as the checkpoint rules see it.</summary>
internal sealed record CheckpointDisk(string Target, string Device, string Type, string? Format, bool ReadOnly, string? SnapshotMode,
    string? File, string? Pool, string? Volume)
{
    /// <summary>
    /// Whether an internal checkpoint includes this disk: libvirt leaves out disks marked snapshot='no' and, by
    /// default, read-only ones and CD-ROM/floppy drives (their media cannot change).
    /// </summary>
    public bool Included => SnapshotMode != "no" && !ReadOnly && Device is "disk" or "lun";
}

/// <summary>A serial port or console of a domain: how it is reached and where its output is logged.</summary>
internal sealed record SerialDevice(string Element, string Type, string? LogFile, string? SourcePath)
{
    /// <summary>The file that has the guest's serial output: the &lt;log file&gt;, or the file a type='file' port writes.</summary>
    public string? OutputFile => LogFile ?? (Type == "file" ? SourcePath : null);
}

/// <summary>
/// What the checkpoint and console cmdlets need from a domain's XML: its disks with their formats and snapshot
/// modes, whether it boots UEFI from pflash, and its serial ports and consoles. Parsed without DTDs or entities.
/// </summary>
internal sealed record GuestDeviceFacts(IReadOnlyList<CheckpointDisk> Disks, bool Uefi, IReadOnlyList<SerialDevice> Serials)
{
    private static readonly XmlReaderSettings Settings = new()
    {
        DtdProcessing = DtdProcessing.Prohibit, XmlResolver = null, IgnoreComments = true, IgnoreProcessingInstructions = true,
    };

    public static GuestDeviceFacts Parse(string xml)
    {
        XElement domain;
        try
        {
            using var reader = XmlReader.Create(new StringReader(xml), Settings);
            domain = XElement.Load(reader);
        }
        catch (XmlException e)
        {
            throw new InvalidDataException($"The domain XML is not well-formed: {e.Message}", e);
        }
        var os = domain.Element("os");
        // firmware='efi' is all an inactive definition with firmware auto-selection says; the running one has the
        // pflash loader and NVRAM file it got. Either way the guest keeps UEFI variables outside its disks.
        bool uefi = os is not null && ((string?)os.Attribute("firmware") == "efi"
            || (string?)os.Element("loader")?.Attribute("type") == "pflash" || os.Element("nvram") is not null);
        var devices = domain.Element("devices");
        var disks = devices?.Elements("disk").Select(Disk).ToList() ?? [];
        var serials = devices?.Elements().Where(e => e.Name.LocalName is "serial" or "console").Select(Serial).ToList() ?? [];
        return new GuestDeviceFacts(disks, uefi, serials);
    }

    /// <summary>The guest has a console virDomainOpenConsole can attach to: a serial port or console on a pty (or a UNIX socket).</summary>
    public bool HasConsole => Serials.Any(s => s.Type is "pty" or "unix");

    /// <summary>The file with the guest's serial output, from the first port or console that has one.</summary>
    public string? SerialLogFile => Serials.Select(s => s.OutputFile).FirstOrDefault(f => !string.IsNullOrEmpty(f));

    private static CheckpointDisk Disk(XElement disk)
    {
        var source = disk.Element("source");
        return new CheckpointDisk(
            Target: (string?)disk.Element("target")?.Attribute("dev") ?? "?",
            Device: (string?)disk.Attribute("device") ?? "disk",
            Type: (string?)disk.Attribute("type") ?? "file",
            Format: (string?)disk.Element("driver")?.Attribute("type"),
            ReadOnly: disk.Element("readonly") is not null,
            SnapshotMode: (string?)disk.Attribute("snapshot"),
            File: (string?)source?.Attribute("file") ?? (string?)source?.Attribute("dev"),
            Pool: (string?)source?.Attribute("pool"),
            Volume: (string?)source?.Attribute("volume"));
    }

    private static SerialDevice Serial(XElement device) => new(device.Name.LocalName, (string?)device.Attribute("type") ?? "pty",
        (string?)device.Element("log")?.Attribute("file"), (string?)device.Element("source")?.Attribute("path"));
}
