namespace KvmHost.Core.Guests;

/// <summary>
/// Files a guest's daemon names in its XML (disk images, serial logs) are paths in the daemon's world. On the
/// daemon's own machine that is usually this one's, but the daemon may run in other mount namespaces (a container,
/// a test lab): while the guest runs, its QEMU process is in the daemon's world, and /proc/PID/root opens the path
/// as QEMU sees it. A guest that is off has no such process, and its files are looked for at the same path here.
/// A daemon on another host (a remote URI) has files this machine cannot read at all.
/// </summary>
internal static class DaemonFiles
{
    /// <summary>Where to open <paramref name="path"/> from this process, or null when the daemon is on another host.</summary>
    public static string? Locate(GuestEntry guest, string path)
    {
        if (!LibvirtUri.IsLocal(guest.Connection.Uri) || !Path.IsPathRooted(path)) return null;
        // The id libvirt handed out with the list may be stale; the state is asked now.
        if (!GuestStateReasons.IsActive(guest.Connection.GetState(guest.Handle).State)) return path;
        return GuestProcesses.ProcessIds(new HashSet<Guid> { guest.Uuid }).TryGetValue(guest.Uuid, out int pid)
            ? $"/proc/{pid}/root{path}"
            : path;
    }

    /// <summary>Opens a file for reading only; others (virtlogd, QEMU) may go on writing it.</summary>
    public static FileStream OpenRead(string path) =>
        new(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, bufferSize: 4096);
}
