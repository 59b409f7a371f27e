using System.Reflection.Emit;
using System.Reflection.Metadata;

namespace KvmHost.Core.Tests.Architecture;

/// <summary>What a piece of code does to the host that only one place may do.</summary>
internal enum Capability
{
    StartsProcesses,
    WritesFiles,
    ListsFolders,
}

internal sealed record Violation(string Rule, string Owner, string Detail)
{
    public override string ToString() => $"{Rule}: {Owner}: {Detail}";
}

/// <summary>Who may do what in one assembly, and where native declarations live.</summary>
/// <param name="Capabilities">Per capability, the types allowed to have it, each with its reason.</param>
/// <param name="LibcOwners">The types that may import libc, each with its reason.</param>
/// <param name="LibvirtOwnerPrefix">Types whose full name starts with this may import libvirt.</param>
internal sealed record Allowances(
    IReadOnlyDictionary<Capability, IReadOnlyDictionary<string, string>> Capabilities,
    IReadOnlyDictionary<string, string> LibcOwners, string? LibvirtOwnerPrefix)
{
    public static readonly Allowances None = new(
        new Dictionary<Capability, IReadOnlyDictionary<string, string>>(), new Dictionary<string, string>(), null);

    public bool Allows(Capability capability, string owner) =>
        Capabilities.TryGetValue(capability, out var owners) && owners.ContainsKey(owner);

    public bool IsNativeDeclarationPlace(string owner) =>
        LibcOwners.ContainsKey(owner) || (LibvirtOwnerPrefix is not null && owner.StartsWith(LibvirtOwnerPrefix, StringComparison.Ordinal));

    /// <summary>Every type an allowance names, so a test can check they all exist (a renamed type leaves a dead rule).</summary>
    public IEnumerable<string> NamedTypes => Capabilities.Values.SelectMany(owners => owners.Keys).Concat(LibcOwners.Keys).Distinct();

    public bool MayImport(NativeImport import)
    {
        if (import.Library is "libc" or "libc.so.6") return LibcOwners.ContainsKey(import.Owner);
        if (import.Library.StartsWith("libvirt", StringComparison.Ordinal))
            return LibvirtOwnerPrefix is not null && import.Owner.StartsWith(LibvirtOwnerPrefix, StringComparison.Ordinal);
        return false;
    }
}

/// <summary>
/// The module's architecture as rules over compiled code (metadata and IL, so nothing is missed by how a call is
/// spelled in C#):
/// - Only the process runner starts processes (System.Diagnostics.Process/ProcessStartInfo, or libc's fork, exec*,
///   posix_spawn*, system, kill...).
/// - Only the atomic writer writes files (File.Write*/Append*/Create*/Copy/Move/Replace/Delete, FileStream or
///   File.Open/OpenHandle unless provably FileAccess.Read, StreamWriter on a path, Directory.Create/Delete/Move, mode
///   and time setters, libc's open/link/rename/unlink/chown/chmod/write/fsync/flock...), with two named exceptions:
///   the /proc/sys writer (a kernel parameter is not a file: it cannot be renamed over) and the host lock (flock on
///   its own lock file under /run/lock).
/// - Only HostRoot lists folders (Directory/DirectoryInfo Get*/Enumerate*): one policy for what cannot be read.
/// - Native code: libc only in KvmHost.Core.Platform.NativeMethods; libvirt only in types whose full name starts
///   with KvmHost.Core.Guests.Libvirt (the guest connection and its native declarations); no other library without a
///   rule here. NativeLibrary and function-pointer marshalling only in those same places.
/// A capability reached through this assembly's own methods counts too: a helper that wraps libc's link() marks its
/// callers, up to the type that is allowed to do it.
/// </summary>
internal static class ArchitectureRules
{
    public const string ProcessRunner = "KvmHost.Core.Platform.CommandRunner";
    public const string AtomicWriter = "KvmHost.Core.Platform.AtomicFileWriter";
    public const string KernelParameterWriter = "KvmHost.Core.Sysctl.KernelParameters";
    public const string HostLock = "KvmHost.Core.Platform.HostLock";
    public const string FolderReader = "KvmHost.Core.Platform.HostRoot";
    public const string LibcDeclarations = "KvmHost.Core.Platform.NativeMethods";
    public const string LibvirtDeclarationsPrefix = "KvmHost.Core.Guests.Libvirt";

    /// <summary>Who may do what in KvmHost.Core, and why. The cmdlet assembly gets <see cref="Allowances.None"/>.</summary>
    public static readonly Allowances Core = new(
        new Dictionary<Capability, IReadOnlyDictionary<string, string>>
        {
            [Capability.StartsProcesses] = new Dictionary<string, string>
            {
                [ProcessRunner] = "the one process runner: argument lists, timeout, cancellation, Write-Verbose of the command",
            },
            [Capability.WritesFiles] = new Dictionary<string, string>
            {
                [AtomicWriter] = "the one file writer: temp file, fsync, mode and owner kept, rename, backup",
                [KernelParameterWriter] = "writes /proc/sys values, which are kernel parameters, not files (no rename is possible there)",
                [HostLock] = "creates /run/lock and flocks its own lock file; the kernel drops the lock when the process dies",
            },
            [Capability.ListsFolders] = new Dictionary<string, string>
            {
                [FolderReader] = "HostRoot.List: sorted, links followed inside the root, one policy for unreadable and binary entries",
            },
        },
        LibcOwners: new Dictionary<string, string>
        {
            [LibcDeclarations] = "the libc calls .NET has no API for (owners, fsync of a directory, hard links, flock, access)",
        },
        LibvirtOwnerPrefix: LibvirtDeclarationsPrefix);

    private static readonly HashSet<string> ProcessTypes = ["System.Diagnostics.Process", "System.Diagnostics.ProcessStartInfo"];

    /// <summary>Members that always change the file system.</summary>
    private static readonly Dictionary<string, HashSet<string>> WritingMembers = new()
    {
        ["System.IO.File"] =
        [
            "WriteAllText", "WriteAllBytes", "WriteAllLines", "WriteAllTextAsync", "WriteAllBytesAsync", "WriteAllLinesAsync",
            "AppendAllText", "AppendAllLines", "AppendAllBytes", "AppendAllTextAsync", "AppendAllLinesAsync", "AppendAllBytesAsync",
            "AppendText", "Create", "CreateText", "CreateSymbolicLink", "Copy", "Move", "Replace", "Delete", "OpenWrite",
            "SetUnixFileMode", "SetAttributes", "SetCreationTime", "SetCreationTimeUtc", "SetLastAccessTime",
            "SetLastAccessTimeUtc", "SetLastWriteTime", "SetLastWriteTimeUtc", "Encrypt", "Decrypt",
        ],
        ["System.IO.Directory"] =
        [
            "CreateDirectory", "CreateTempSubdirectory", "CreateSymbolicLink", "Delete", "Move", "SetCreationTime",
            "SetCreationTimeUtc", "SetLastAccessTime", "SetLastAccessTimeUtc", "SetLastWriteTime", "SetLastWriteTimeUtc",
        ],
        ["System.IO.FileSystemInfo"] =
        [
            "Delete", "CreateAsSymbolicLink", "set_UnixFileMode", "set_Attributes", "set_CreationTime", "set_CreationTimeUtc",
            "set_LastAccessTime", "set_LastAccessTimeUtc", "set_LastWriteTime", "set_LastWriteTimeUtc",
        ],
        ["System.IO.FileInfo"] =
        [
            "Create", "CreateText", "AppendText", "OpenWrite", "CopyTo", "MoveTo", "Replace", "Delete", "set_IsReadOnly",
            "Encrypt", "Decrypt",
        ],
        ["System.IO.DirectoryInfo"] = ["Create", "CreateSubdirectory", "Delete", "MoveTo"],
        ["System.IO.RandomAccess"] = ["Write", "WriteAsync"],
        ["System.IO.Path"] = ["GetTempFileName"],
        ["System.IO.MemoryMappedFiles.MemoryMappedFile"] = ["CreateFromFile"],
    };

    /// <summary>Members that list a folder.</summary>
    private static readonly Dictionary<string, HashSet<string>> ListingMembers = new()
    {
        ["System.IO.Directory"] =
            ["GetFiles", "GetDirectories", "GetFileSystemEntries", "EnumerateFiles", "EnumerateDirectories", "EnumerateFileSystemEntries"],
        ["System.IO.DirectoryInfo"] =
            ["GetFiles", "GetDirectories", "GetFileSystemInfos", "EnumerateFiles", "EnumerateDirectories", "EnumerateFileSystemInfos"],
        ["System.IO.Enumeration.FileSystemEnumerable`1"] = [".ctor"],
    };

    /// <summary>
    /// Members that open a file by path and may write it, unless a constant FileAccess.Read says otherwise. A stream
    /// over a handle opened elsewhere (a pipe's, File.OpenHandle's) is decided where that handle was opened.
    /// </summary>
    private static readonly HashSet<string> Openers =
        ["System.IO.FileStream::.ctor", "System.IO.File::Open", "System.IO.File::OpenHandle", "System.IO.FileInfo::Open"];

    /// <summary>Ways to reach native code without a declared import: a type, or one member of it.</summary>
    private static readonly HashSet<string> NativeLoaders =
    [
        "System.Runtime.InteropServices.NativeLibrary",
        "System.Runtime.InteropServices.Marshal::GetDelegateForFunctionPointer",
    ];

    private static readonly HashSet<string> ProcessEntryPoints =
    [
        "fork", "vfork", "clone", "clone3", "execve", "execv", "execvp", "execvpe", "execl", "execlp", "execle", "fexecve",
        "posix_spawn", "posix_spawnp", "system", "popen", "kill", "killpg", "pidfd_send_signal",
    ];

    private static readonly HashSet<string> WritingEntryPoints =
    [
        "open", "open64", "openat", "openat2", "creat", "fopen", "link", "linkat", "symlink", "symlinkat", "rename",
        "renameat", "renameat2", "unlink", "unlinkat", "remove", "mkdir", "mkdirat", "rmdir", "mknod", "mkfifo", "chown",
        "fchown", "lchown", "fchownat", "chmod", "fchmod", "fchmodat", "truncate", "ftruncate", "write", "pwrite",
        "pwrite64", "writev", "fsync", "fdatasync", "flock", "lockf", "utime", "utimes", "utimensat", "futimens",
        "setxattr", "lsetxattr", "fsetxattr", "removexattr",
    ];

    public const string BusConnection = "KvmHost.Core.Platform.SystemBus";
    public const string BusLibrary = "Tmds.DBus";

    /// <summary>
    /// The system bus is one class, as the process runner is: every use of the D-Bus library (a call, a constructor, a
    /// type's member) outside <paramref name="allowed"/>.
    /// </summary>
    public static IEnumerable<Violation> BusUses(AssemblyInspector assembly, string allowed) =>
        assembly.Calls().Where(c => c.TargetType.StartsWith(BusLibrary, StringComparison.Ordinal) && c.Owner != allowed)
            .Select(c => new Violation($"Only {BusConnection} talks to the system bus", c.Owner, $"{c.Caller} calls {c.Target}"));

    public const string LiveDecider = "KvmHost.Core.Platform.HostSystem";
    public const string IsLiveGetter = "KvmHost.Core.Platform.HostRoot::get_IsLive";

    /// <summary>
    /// Who may read HostRoot.IsLive: HostSystem, which decides once whether there is a running system (everyone else asks
    /// it for HostSystem.Running), and HostRoot itself, which maps paths with it. The cmdlets may not at all.
    /// </summary>
    public static readonly IReadOnlySet<string> LiveReaders = new HashSet<string> { LiveDecider, FolderReader };

    /// <summary>Live vs offline is decided in one place: every read of HostRoot.IsLive outside <paramref name="allowed"/>.</summary>
    public static IEnumerable<Violation> LiveDecisions(AssemblyInspector assembly, IReadOnlySet<string> allowed) =>
        assembly.Calls().Where(c => c.Target == IsLiveGetter && !allowed.Contains(c.Owner))
            .Select(c => new Violation($"Only {LiveDecider} decides live vs offline", c.Owner, $"{c.Caller} reads HostRoot.IsLive; ask HostSystem.Running instead"));

    /// <summary>Rule 1: KvmHost.Core knows Linux, not PowerShell.</summary>
    public static IEnumerable<Violation> CoreReferences(AssemblyInspector core) =>
        core.AssemblyReferences
            .Where(name => name is "System.Management.Automation" or "KvmHost" || name.StartsWith("Microsoft.PowerShell", StringComparison.Ordinal))
            .Select(name => new Violation("Core references PowerShell", core.Name, $"references the assembly {name}"));

    /// <summary>Processes, file writes and native code, against who may do them in this assembly.</summary>
    public static IReadOnlyList<Violation> Check(AssemblyInspector assembly, Allowances allowances)
    {
        var violations = new List<Violation>();
        var imports = assembly.NativeImports().ToList();
        foreach (var import in imports.Where(i => !allowances.MayImport(i)))
            violations.Add(new Violation("Native library outside its place", import.Owner,
                $"{import.Method} imports '{import.EntryPoint}' from '{import.Library}'; " +
                $"libc belongs in {(allowances.LibcOwners.Count == 0 ? "no type" : string.Join(" or ", allowances.LibcOwners.Keys))}, " +
                $"libvirt in {allowances.LibvirtOwnerPrefix ?? "no type"}*, other libraries need a rule"));

        // What each method of this assembly does, directly (P/Invoke) or through its own helpers.
        var marks = new Dictionary<MethodDefinitionHandle, HashSet<Capability>>();
        foreach (var import in imports)
        {
            if (ProcessEntryPoints.Contains(import.EntryPoint)) Mark(marks, import.Handle, Capability.StartsProcesses);
            if (WritingEntryPoints.Contains(import.EntryPoint)) Mark(marks, import.Handle, Capability.WritesFiles);
        }
        var calls = assembly.Calls().ToList();
        bool grew = true;
        while (grew)
        {
            grew = false;
            foreach (var call in calls)
            {
                if (call.TargetDefinition is not { } target || !marks.TryGetValue(target, out var done)) continue;
                foreach (var capability in done.ToList())
                    if (!allowances.Allows(capability, call.Owner)) grew |= Mark(marks, call.CallerHandle, capability);
            }
        }

        foreach (var call in calls)
        {
            if ((NativeLoaders.Contains(call.TargetType) || NativeLoaders.Contains(call.Target)) && !allowances.IsNativeDeclarationPlace(call.Owner))
                violations.Add(new Violation("Native library outside its place", call.Owner, $"{call.Caller} calls {call.Target}"));

            var capabilities = new HashSet<Capability>();
            if (Classify(call) is { } direct) capabilities.Add(direct);
            // A call into a helper that does it: the helper's own type is where the import is declared, not a violation.
            if (call.TargetDefinition is { } target && marks.TryGetValue(target, out var through) && assembly.OwnerOf(target) != call.Owner)
                capabilities.UnionWith(through);
            foreach (var capability in capabilities.Where(c => !allowances.Allows(c, call.Owner)))
                violations.Add(new Violation(RuleName(capability), call.Owner, $"{call.Caller} calls {call.Target}({string.Join(", ", call.ParameterTypes)})"));
        }
        return violations;
    }

    internal static string RuleName(Capability capability) => capability switch
    {
        Capability.StartsProcesses => $"Only {ProcessRunner} starts processes",
        Capability.ListsFolders => $"Only {FolderReader} lists folders",
        _ => $"Only {AtomicWriter} writes files",
    };

    /// <summary>
    /// The cmdlet assembly starts no process, writes no file and imports no native code. The one folder it lists
    /// itself is the running system's /sys/class/net, for tab completion (HostRoot's listing is internal to Core).
    /// </summary>
    public static readonly Allowances Cmdlets = new(
        new Dictionary<Capability, IReadOnlyDictionary<string, string>>
        {
            [Capability.ListsFolders] = new Dictionary<string, string>
            {
                ["KvmHost.Completion.NetDevices"] = "completes interface names from the running system's /sys/class/net (never under -Root)",
            },
        },
        LibcOwners: new Dictionary<string, string>(),
        LibvirtOwnerPrefix: null);

    private static bool Mark(Dictionary<MethodDefinitionHandle, HashSet<Capability>> marks, MethodDefinitionHandle method, Capability capability)
    {
        if (!marks.TryGetValue(method, out var set)) marks[method] = set = [];
        return set.Add(capability);
    }

    /// <summary>What a call to a framework member does, if it is one of the guarded things.</summary>
    internal static Capability? Classify(CallSite call)
    {
        if (ProcessTypes.Contains(call.TargetType)) return Capability.StartsProcesses;
        if (WritingMembers.TryGetValue(call.TargetType, out var members) && members.Contains(call.TargetMember)) return Capability.WritesFiles;
        if (ListingMembers.TryGetValue(call.TargetType, out var listing) && listing.Contains(call.TargetMember)) return Capability.ListsFolders;
        if (call.TargetType == "System.IO.StreamWriter" && call.TargetMember == ".ctor" && call.ParameterTypes is ["System.String", ..])
            return Capability.WritesFiles;
        if (Openers.Contains(call.Target) && call.ParameterTypes is ["System.String", ..] && !OpensReadOnly(call)) return Capability.WritesFiles;
        return null;
    }

    /// <summary>
    /// True when the call's FileAccess argument is the constant FileAccess.Read. Read back from the IL: the arguments
    /// after it must be constants too (the compiler's defaults are), and no branch may land among them (a ?: would
    /// make the value depend on the path). Anything else counts as a write.
    /// </summary>
    internal static bool OpensReadOnly(CallSite call)
    {
        int accessIndex = call.ParameterTypes.ToList().IndexOf("System.IO.FileAccess");
        if (accessIndex < 0) return false; // File.Open(path, mode) and FileStream(path, mode) open read-write
        var body = call.Body;
        if (body[call.Index].IsBranchTarget) return false;
        int position = call.Index - 1;
        for (int argument = call.ParameterTypes.Count - 1; argument >= accessIndex; argument--)
        {
            // One argument: a constant push, optionally widened (0L is "ldc.i4.0; conv.i8").
            if (position >= 0 && IsConversion(body[position].OpCode))
            {
                if (body[position].IsBranchTarget) return false;
                position--;
            }
            if (position < 0 || ConstantOf(body[position]) is not { } value || body[position].IsBranchTarget) return false;
            if (argument == accessIndex) return value == (long)FileAccess.Read;
            position--;
        }
        return false;
    }

    private static bool IsConversion(OpCode code) =>
        code == OpCodes.Conv_I8 || code == OpCodes.Conv_U8 || code == OpCodes.Conv_I || code == OpCodes.Conv_U || code == OpCodes.Conv_I4;

    private static long? ConstantOf(Instruction instruction)
    {
        var code = instruction.OpCode;
        if (code == OpCodes.Ldc_I4_M1) return -1;
        if (code == OpCodes.Ldc_I4_0) return 0;
        if (code == OpCodes.Ldc_I4_1) return 1;
        if (code == OpCodes.Ldc_I4_2) return 2;
        if (code == OpCodes.Ldc_I4_3) return 3;
        if (code == OpCodes.Ldc_I4_4) return 4;
        if (code == OpCodes.Ldc_I4_5) return 5;
        if (code == OpCodes.Ldc_I4_6) return 6;
        if (code == OpCodes.Ldc_I4_7) return 7;
        if (code == OpCodes.Ldc_I4_8) return 8;
        if (code == OpCodes.Ldc_I4_S || code == OpCodes.Ldc_I4 || code == OpCodes.Ldc_I8) return instruction.Operand;
        if (code == OpCodes.Ldnull) return 0;
        return null;
    }
}
