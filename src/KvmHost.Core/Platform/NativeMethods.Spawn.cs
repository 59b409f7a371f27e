using System.Runtime.InteropServices;

namespace KvmHost.Core.Platform;

/// <summary>
/// The libc calls the process runner starts programs with (see CommandRunner.ChildProcess for why not
/// System.Diagnostics.Process). Opaque structures are passed as byte buffers the *_init calls fill in.
/// </summary>
internal static unsafe partial class NativeMethods
{
    [LibraryImport("libc", EntryPoint = "posix_spawn")]
    internal static partial int PosixSpawn(int* pid, IntPtr path, byte* fileActions, byte* attributes, IntPtr* argv, IntPtr* envp);

    [LibraryImport("libc", EntryPoint = "posix_spawnattr_init")]
    internal static partial int PosixSpawnAttrInit(byte* attributes);

    [LibraryImport("libc", EntryPoint = "posix_spawnattr_destroy")]
    internal static partial int PosixSpawnAttrDestroy(byte* attributes);

    [LibraryImport("libc", EntryPoint = "posix_spawnattr_setflags")]
    internal static partial int PosixSpawnAttrSetFlags(byte* attributes, short flags);

    [LibraryImport("libc", EntryPoint = "posix_spawnattr_setsigdefault")]
    internal static partial int PosixSpawnAttrSetSigDefault(byte* attributes, byte* signals);

    [LibraryImport("libc", EntryPoint = "posix_spawnattr_setsigmask")]
    internal static partial int PosixSpawnAttrSetSigMask(byte* attributes, byte* signals);

    [LibraryImport("libc", EntryPoint = "posix_spawn_file_actions_init")]
    internal static partial int PosixSpawnFileActionsInit(byte* actions);

    [LibraryImport("libc", EntryPoint = "posix_spawn_file_actions_destroy")]
    internal static partial int PosixSpawnFileActionsDestroy(byte* actions);

    [LibraryImport("libc", EntryPoint = "posix_spawn_file_actions_adddup2")]
    internal static partial int PosixSpawnFileActionsAddDup2(byte* actions, int fd, int newFd);

    [LibraryImport("libc", EntryPoint = "pipe2", SetLastError = true)]
    internal static partial int Pipe2(int* fds, int flags);

    [LibraryImport("libc", EntryPoint = "fcntl", SetLastError = true)]
    internal static partial int Fcntl(int fd, int command, int argument);

    [LibraryImport("libc", EntryPoint = "waitid", SetLastError = true)]
    internal static partial int WaitId(int idType, int id, byte* info, int options);

    [LibraryImport("libc", EntryPoint = "waitpid", SetLastError = true)]
    internal static partial int WaitPid(int pid, int* status, int options);
}
