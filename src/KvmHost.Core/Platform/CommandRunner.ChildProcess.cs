using System.ComponentModel;
using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Win32.SafeHandles;

namespace KvmHost.Core.Platform;

/// <summary>The one way programs are started: with posix_spawn, their standard streams on pipes.</summary>
/// <remarks>
/// Why not System.Diagnostics.Process: in the child it resets only the signals the runtime has handlers
/// for, and keeps every ignored one ignored (pal_process.c). A pwsh started in the background
/// (<c>cmd &amp;</c> in a script, a CI job) has SIGINT ignored, .NET deliberately leaves it so, and every
/// program it starts would then inherit an ignored SIGINT: rpm under dnf could never be interrupted to
/// finish its package cleanly. .NET also ignores SIGPIPE itself, so every child would inherit that too.
/// POSIX_SPAWN_SETSIGDEF gives the child every signal at its default, and an empty signal mask, however
/// this process was started.
/// </remarks>
public sealed partial class CommandRunner
{
    private sealed unsafe class ChildProcess : IDisposable
    {
        private const int PosixSpawnSetSigDef = 0x04;   // POSIX_SPAWN_SETSIGDEF (glibc and musl)
        private const int PosixSpawnSetSigMask = 0x08;  // POSIX_SPAWN_SETSIGMASK
        private const int OpenCloseOnExec = 0x80000;    // O_CLOEXEC on x86_64 and aarch64
        private const int FcntlDupCloseOnExec = 1030;   // F_DUPFD_CLOEXEC
        private const int WaitExited = 4;               // WEXITED
        private const int WaitNoWait = 0x01000000;      // WNOWAIT: wait for the exit but leave the child to be reaped
        private const int IdTypePid = 1;                // P_PID
        private const int SignalKill = 9;
        private const int SignalStop = 19;
        private const int ErrorInterrupted = 4;         // EINTR
        private const int ErrorNoChild = 10;            // ECHILD

        // Opaque libc structures, sized generously: glibc's posix_spawnattr_t is 336 bytes, its file actions
        // 80, its sigset_t 128 (musl's are no larger). The init functions fill them in; a sigset_t is an
        // array of unsigned longs with signal n at bit n-1, and Linux has 64 signals: one word, zeroed = empty.
        private const int OpaqueSize = 1024;

        private readonly Task _exited;
        private int? _exitCode;
        private bool _reaped;

        private ChildProcess(int id, SafeFileHandle input, SafeFileHandle output, SafeFileHandle error)
        {
            Id = id;
            StandardInput = new StreamWriter(new FileStream(input, FileAccess.Write, 4096), new UTF8Encoding(false)) { AutoFlush = true };
            StandardOutput = new StreamReader(new FileStream(output, FileAccess.Read, 4096), Encoding.UTF8);
            StandardError = new StreamReader(new FileStream(error, FileAccess.Read, 4096), Encoding.UTF8);
            _exited = Task.Factory.StartNew(WaitUntilExited, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        }

        public int Id { get; }
        public StreamWriter StandardInput { get; }
        public StreamReader StandardOutput { get; }
        public StreamReader StandardError { get; }

        /// <summary>Starts <paramref name="executable"/> (a path) with exactly these arguments and this environment.</summary>
        /// <exception cref="Win32Exception">posix_spawn failed (the program is missing, not executable, ...).</exception>
        public static ChildProcess Start(string executable, IReadOnlyList<string> arguments, IReadOnlyDictionary<string, string> environment)
        {
            var (inputRead, inputWrite) = CreatePipe();
            var (outputRead, outputWrite) = CreatePipe();
            var (errorRead, errorWrite) = CreatePipe();
            var strings = new List<IntPtr>();
            byte* attributes = (byte*)NativeMemory.AllocZeroed(OpaqueSize);
            byte* actions = (byte*)NativeMemory.AllocZeroed(OpaqueSize);
            byte* defaults = (byte*)NativeMemory.AllocZeroed(OpaqueSize);
            byte* mask = (byte*)NativeMemory.AllocZeroed(OpaqueSize);
            bool attributesReady = false, actionsReady = false;
            try
            {
                Check(NativeMethods.PosixSpawnAttrInit(attributes), "posix_spawnattr_init");
                attributesReady = true;
                Check(NativeMethods.PosixSpawnFileActionsInit(actions), "posix_spawn_file_actions_init");
                actionsReady = true;

                // Every signal, written by hand: sigfillset leaves out glibc's internal signals 32 and 33, which
                // posix_spawn then sets to SIG_IGN in the child (spawni.c), where they would stay after exec.
                *(ulong*)defaults = ~0UL & ~(1UL << (SignalKill - 1)) & ~(1UL << (SignalStop - 1));
                Check(NativeMethods.PosixSpawnAttrSetSigDefault(attributes, defaults), "posix_spawnattr_setsigdefault");
                Check(NativeMethods.PosixSpawnAttrSetSigMask(attributes, mask), "posix_spawnattr_setsigmask");
                Check(NativeMethods.PosixSpawnAttrSetFlags(attributes, PosixSpawnSetSigDef | PosixSpawnSetSigMask), "posix_spawnattr_setflags");

                // dup2 onto 0-2 clears close-on-exec there; every pipe end is close-on-exec, so nothing else leaks.
                Check(NativeMethods.PosixSpawnFileActionsAddDup2(actions, (int)inputRead.DangerousGetHandle(), 0), "posix_spawn_file_actions_adddup2");
                Check(NativeMethods.PosixSpawnFileActionsAddDup2(actions, (int)outputWrite.DangerousGetHandle(), 1), "posix_spawn_file_actions_adddup2");
                Check(NativeMethods.PosixSpawnFileActionsAddDup2(actions, (int)errorWrite.DangerousGetHandle(), 2), "posix_spawn_file_actions_adddup2");

                IntPtr path = Utf8(executable, strings);
                var argv = new IntPtr[arguments.Count + 2];
                argv[0] = path;
                for (int i = 0; i < arguments.Count; i++) argv[i + 1] = Utf8(arguments[i], strings);
                var envp = environment.Select(e => Utf8($"{e.Key}={e.Value}", strings)).Append(IntPtr.Zero).ToArray();

                int pid;
                int error;
                fixed (IntPtr* argvPointer = argv)
                fixed (IntPtr* envpPointer = envp)
                    error = NativeMethods.PosixSpawn(&pid, path, actions, attributes, argvPointer, envpPointer);
                if (error != 0) throw new Win32Exception(error);

                // The child holds its own copies now; the parent keeps only its ends.
                inputRead.Dispose();
                outputWrite.Dispose();
                errorWrite.Dispose();
                return new ChildProcess(pid, inputWrite, outputRead, errorRead);
            }
            catch
            {
                foreach (var handle in new[] { inputRead, inputWrite, outputRead, outputWrite, errorRead, errorWrite }) handle.Dispose();
                throw;
            }
            finally
            {
                if (actionsReady) _ = NativeMethods.PosixSpawnFileActionsDestroy(actions);
                if (attributesReady) _ = NativeMethods.PosixSpawnAttrDestroy(attributes);
                NativeMemory.Free(attributes);
                NativeMemory.Free(actions);
                NativeMemory.Free(defaults);
                NativeMemory.Free(mask);
                foreach (IntPtr text in strings) Marshal.FreeCoTaskMem(text);
            }
        }

        /// <summary>True once the program has ended (it stays unreaped, so its id cannot be reused meanwhile).</summary>
        public bool WaitForExit(TimeSpan timeout) =>
            _exited.Wait(timeout < TimeSpan.Zero ? TimeSpan.Zero : timeout);

        /// <summary>The exit code, or 128 + n for a program killed by signal n (the shell's convention).</summary>
        public int ExitCode
        {
            get
            {
                _exited.Wait();
                Reap();
                return _exitCode!.Value;
            }
        }

        /// <summary>Sends SIGINT, as Ctrl+C in a terminal would.</summary>
        public bool Interrupt() => !_reaped && NativeMethods.Interrupt(Id);

        /// <summary>SIGKILL to the program and every process it started, then waits up to 5 s for it to end.</summary>
        public void KillTree()
        {
            if (_reaped) return;
            try
            {
                using var process = System.Diagnostics.Process.GetProcessById(Id);
                process.Kill(entireProcessTree: true);
            }
            catch (Exception e) when (e is ArgumentException or InvalidOperationException or Win32Exception)
            {
                // Gone already, or not listable: what is left ends with the pipes' readers.
            }
            WaitForExit(TimeSpan.FromSeconds(5));
        }

        private void WaitUntilExited()
        {
            // waitid(P_PID, id, WEXITED | WNOWAIT): blocks until the child ends without reaping it, so Kill and
            // Interrupt can never hit a recycled process id.
            byte* info = stackalloc byte[256];
            while (NativeMethods.WaitId(IdTypePid, Id, info, WaitExited | WaitNoWait) != 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                if (errno == ErrorInterrupted) continue;
                return; // ECHILD: someone else reaped it; Reap reports that
            }
        }

        private void Reap()
        {
            if (_reaped) return;
            int status;
            int result;
            do result = NativeMethods.WaitPid(Id, &status, 0);
            while (result < 0 && Marshal.GetLastPInvokeError() == ErrorInterrupted);
            _reaped = true;
            if (result < 0)
                throw new KvmHostException(ErrorIds.CommandFailed, FailureKind.InvalidOperation,
                    $"The exit status of process {Id} was lost (waitpid: {(Marshal.GetLastPInvokeError() == ErrorNoChild ? "no such child" : Marshal.GetLastPInvokeErrorMessage())}).",
                    Id, "Another part of this process reaped it (SIGCHLD set to ignore?); run the command again.");
            int signal = status & 0x7f;
            _exitCode = signal == 0 ? (status >> 8) & 0xff : 128 + signal;
        }

        public void Dispose()
        {
            if (!_reaped)
            {
                if (!_exited.IsCompleted) KillTree();
                if (_exited.IsCompleted)
                {
                    try { Reap(); }
                    catch (KvmHostException) { } // nothing left to report to
                }
            }
            StandardInput.BaseStream.Dispose(); // not the writer: flushing to a dead program would throw
            StandardOutput.Dispose();
            StandardError.Dispose();
        }

        private static (SafeFileHandle Read, SafeFileHandle Write) CreatePipe()
        {
            int* fds = stackalloc int[2];
            if (NativeMethods.Pipe2(fds, OpenCloseOnExec) != 0) throw new Win32Exception(Marshal.GetLastPInvokeError());
            return (AboveStandardStreams(fds[0]), AboveStandardStreams(fds[1]));
        }

        /// <summary>
        /// A pipe end numbered 0-2 (this process started with a standard stream closed) is moved to 3 or above:
        /// dup2 of a descriptor onto itself would keep it close-on-exec and the child would lose that stream.
        /// </summary>
        private static SafeFileHandle AboveStandardStreams(int fd)
        {
            if (fd > 2) return new SafeFileHandle(fd, ownsHandle: true);
            int moved = NativeMethods.Fcntl(fd, FcntlDupCloseOnExec, 3);
            int errno = Marshal.GetLastPInvokeError();
            NativeMethods.CloseDescriptor(fd);
            if (moved < 0) throw new Win32Exception(errno);
            return new SafeFileHandle(moved, ownsHandle: true);
        }

        private static IntPtr Utf8(string text, List<IntPtr> allocated)
        {
            if (text.Contains('\0')) throw new ArgumentException($"A program argument or environment entry contains a NUL character: '{text.Replace("\0", "\\0")}'.");
            IntPtr pointer = Marshal.StringToCoTaskMemUTF8(text);
            allocated.Add(pointer);
            return pointer;
        }

        private static void Check(int error, string call)
        {
            if (error != 0) throw new Win32Exception(error, $"{call} failed: {new Win32Exception(error).Message}");
        }
    }
}
