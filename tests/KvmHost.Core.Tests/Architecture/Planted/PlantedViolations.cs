using System.Diagnostics;
using System.Runtime.InteropServices;

namespace KvmHost.Core.Tests.Architecture.Planted;

// Never run. Compiled into the test assembly so that RuleSelfTests can show that each architecture rule finds what
// it is meant to find (and leaves alone what it allows) in real compiled code: one method per kind of violation.

/// <summary>Everything here breaks a rule; every method name appears in RuleSelfTests.</summary>
internal static class Offender
{
    public static void StartsAProcess() => Process.Start("true")?.Dispose();

    public static ProcessStartInfo BuildsAStartInfo() => new("true");

    public static void WritesAllText(string path) => File.WriteAllText(path, "x");

    public static void MovesAFile(string from, string to) => File.Move(from, to);

    public static void CopiesAFile(string from, string to) => File.Copy(from, to);

    public static void CreatesAFile(string path) => File.Create(path).Dispose();

    public static void OpensForWriting(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Write);
    }

    public static void OpensReadWriteByDefault(string path)
    {
        using var stream = File.Open(path, FileMode.Open);
    }

    public static void OpensWithAnAccessDecidedAtRunTime(string path, bool write)
    {
        using var stream = new FileStream(path, FileMode.Open, write ? FileAccess.Write : FileAccess.Read);
    }

    public static void OpensWithOptions(string path)
    {
        using var stream = new FileStream(path, new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write });
    }

    public static void WritesThroughAStreamWriter(string path)
    {
        using var writer = new StreamWriter(path);
    }

    public static void CreatesADirectory(string path) => Directory.CreateDirectory(path);

    public static string[] ListsAFolderItself(string path) => Directory.GetFiles(path, "ifcfg-*");

    public static int EnumeratesAFolderItself(string path) => new DirectoryInfo(path).EnumerateFileSystemInfos().Count();

    public static void ChangesAMode(string path) => File.SetUnixFileMode(path, UnixFileMode.UserRead);

    public static Task WritesInALambda(string path) => Task.Run(() => File.AppendAllText(path, "x"));

    public static void DeletesThroughAMethodGroup(List<string> paths) => paths.ForEach(File.Delete);

    public static bool LinksThroughANativeHelper(nint from, nint to) => PlantedNativeMethods.Link(from, to);

    public static bool SignalsThroughANativeHelper(int pid) => PlantedNativeMethods.Interrupt(pid);

    public static bool LoadsALibraryByHand() => NativeLibrary.TryLoad("libvirt.so.0", out _);

    public static void ConnectsToTheBusItself() => new Tmds.DBus.Protocol.DBusConnection("unix:path=/nonexistent").Dispose();

    public static string DecidesLiveItself(KvmHost.Core.Platform.HostRoot root) => root.IsLive ? "running" : "image";

#pragma warning disable SYSLIB1054 // a plain DllImport outside the native declarations is exactly what is planted here
    [DllImport("libc", EntryPoint = "unlink")]
    private static extern int ImportsLibcItself(nint path);

    [DllImport("libvirt.so.0", EntryPoint = "virConnectClose")]
    private static extern int ImportsLibvirtItself(nint connection);

    [DllImport("libsystemd.so.0", EntryPoint = "sd_notify")]
    private static extern int ImportsAnUnlistedLibrary(int unsetEnvironment, nint state);
#pragma warning restore SYSLIB1054

    public static int UsesItsImports() => ImportsLibcItself(0) + ImportsLibvirtItself(0) + ImportsAnUnlistedLibrary(0, 0);
}

/// <summary>Reads only: none of this is a write, though it opens files.</summary>
internal static class Reader
{
    public static byte[] ReadsAllBytes(string path) => File.ReadAllBytes(path);

    public static long OpensAHandleToRead(string path)
    {
        using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read);
        return RandomAccess.GetLength(handle);
    }

    public static long OpensAStreamToRead(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        return stream.Length;
    }

    public static void WrapsAHandleOpenedToRead(string path)
    {
        // The stream's access over a handle is decided where the handle was opened (here: read-only).
        using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read);
        using var stream = new FileStream(handle, FileAccess.Write);
    }

    public static bool Exists(string path) => File.Exists(path) || Directory.Exists(path);
}

/// <summary>Stands for SystemBus, the one bus connection.</summary>
internal static class PlantedBus
{
    public static void Connects() => new Tmds.DBus.Protocol.DBusConnection("unix:path=/nonexistent").Dispose();
}

/// <summary>Stands for HostRoot, the one folder reader.</summary>
internal static class PlantedFolderReader
{
    public static string[] Lists(string path) => Directory.GetFileSystemEntries(path);
}

/// <summary>Stands for the process runner in the self-test's allowances.</summary>
internal static class PlantedRunner
{
    public static void Runs() => Process.Start(new ProcessStartInfo("true"))?.Dispose();

    public static bool Interrupts(int pid) => PlantedNativeMethods.Interrupt(pid);
}

/// <summary>Stands for the atomic writer in the self-test's allowances.</summary>
internal static class PlantedWriter
{
    public static void Writes(string path) => File.WriteAllText(path, "x");

    public static bool Links(nint from, nint to) => PlantedNativeMethods.Link(from, to);
}

/// <summary>Stands for NativeMethods: the one place libc is declared, wrapped the way the product wraps it.</summary>
internal static class PlantedNativeMethods
{
#pragma warning disable SYSLIB1054 // LibraryImport needs unsafe code in this project; the rules read both kinds the same way
    [DllImport("libc", EntryPoint = "link")]
    private static extern int LinkNative(nint from, nint to);

    [DllImport("libc", EntryPoint = "kill")]
    private static extern int KillNative(int pid, int signal);

    [DllImport("libc", EntryPoint = "getpid")]
    private static extern int GetPidNative();
#pragma warning restore SYSLIB1054

    internal static bool Link(nint from, nint to) => LinkNative(from, to) == 0;

    internal static bool Interrupt(int pid) => KillNative(pid, 2) == 0;

    internal static int ProcessId() => GetPidNative();
}

/// <summary>Stands for the guest connection: the one place libvirt may be declared and loaded.</summary>
internal static class PlantedLibvirtConnection
{
#pragma warning disable SYSLIB1054 // see PlantedNativeMethods
    [DllImport("libvirt.so.0", EntryPoint = "virConnectClose")]
    private static extern int CloseNative(nint connection);
#pragma warning restore SYSLIB1054

    public static bool Loads() => NativeLibrary.TryLoad("libvirt.so.0", out _);

    public static int Closes(nint connection) => CloseNative(connection);
}
