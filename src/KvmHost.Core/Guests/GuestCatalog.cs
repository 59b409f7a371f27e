using static KvmHost.Core.Guests.LibvirtNative;

namespace KvmHost.Core.Guests;

/// <summary>A guest found on a connection: its name and UUID (read locally, no call), and the handle operations use.</summary>
public sealed class GuestEntry
{
    internal GuestEntry(LibvirtConnection connection, DomainHandle handle)
    {
        Connection = connection;
        Handle = handle;
        Name = LibvirtConnection.NameOf(handle);
        Uuid = LibvirtConnection.UuidOf(handle);
    }

    public string Name { get; }
    public Guid Uuid { get; }
    internal DomainHandle Handle { get; }

    /// <summary>The connection the guest was found on; every operation on it goes there.</summary>
    public LibvirtConnection Connection { get; }

    public override string ToString() => Name;
}

/// <summary>
/// Every guest defined or running on one connection, from ONE virConnectListAllDomains call: names and
/// UUIDs are then matched here (wildcards, pipeline objects) without asking libvirt again. Disposing it
/// frees the handles.
/// </summary>
public sealed class GuestCatalog : IDisposable
{
    private GuestCatalog(LibvirtConnection connection, List<GuestEntry> guests)
    {
        Connection = connection;
        Guests = guests;
    }

    public LibvirtConnection Connection { get; }
    public IReadOnlyList<GuestEntry> Guests { get; }

    public static GuestCatalog List(LibvirtConnection connection)
    {
        var handles = connection.ListDomains(0);
        try
        {
            return new GuestCatalog(connection, handles.Select(h => new GuestEntry(connection, h)).ToList());
        }
        catch
        {
            foreach (var handle in handles) handle.Dispose();
            throw;
        }
    }

    /// <summary>libvirt names are case-sensitive, so is this.</summary>
    public GuestEntry? FindByName(string name) => Guests.FirstOrDefault(g => g.Name == name);

    public GuestEntry? FindByUuid(Guid uuid) => Guests.FirstOrDefault(g => g.Uuid == uuid);

    public void Dispose()
    {
        foreach (var guest in Guests) guest.Handle.Dispose();
    }
}
