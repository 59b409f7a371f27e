using KvmHost.Core.Platform;

namespace KvmHost.Core.Tests;

/// <summary>A throw-away root directory for one test: files are placed by their path inside the root.</summary>
public sealed class ScratchRoot : IDisposable
{
    public ScratchRoot()
    {
        Path = Directory.CreateTempSubdirectory("kvmhost-test-").FullName;
        Root = HostRoot.Open(Path);
    }

    public string Path { get; }
    public HostRoot Root { get; }

    /// <summary>The root as the image it stands for: nothing running, processes (rpm --root...) through a real runner.</summary>
    public HostSystem Image => HostSystem.Open(Root, new CommandRunner(), CancellationToken.None);

    public static string Fixture(string relative) => System.IO.Path.Combine(AppContext.BaseDirectory, "fixtures", relative);

    public string HostPath(string pathInRoot) => Path + pathInRoot;

    public ScratchRoot Put(string pathInRoot, string content)
    {
        string target = HostPath(pathInRoot);
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(target)!);
        File.WriteAllText(target, content);
        return this;
    }

    public ScratchRoot PutFixture(string pathInRoot, string fixture)
    {
        string target = HostPath(pathInRoot);
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(target)!);
        File.Copy(Fixture(fixture), target, overwrite: true);
        return this;
    }

    public ScratchRoot Dir(string pathInRoot)
    {
        Directory.CreateDirectory(HostPath(pathInRoot));
        return this;
    }

    public string Read(string pathInRoot) => File.ReadAllText(HostPath(pathInRoot));

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
