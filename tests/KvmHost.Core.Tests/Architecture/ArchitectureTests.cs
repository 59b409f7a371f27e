using KvmHost.Core.Platform;
using Xunit;

namespace KvmHost.Core.Tests.Architecture;

/// <summary>
/// The architecture rules (see <see cref="ArchitectureRules"/>) over the built KvmHost.Core and KvmHost assemblies.
/// A failure names the type, the method and the call; RuleSelfTests proves each rule catches what it is for.
/// </summary>
public sealed class ArchitectureTests : IDisposable
{
    internal static string CoreAssemblyPath => typeof(HostRoot).Assembly.Location;

    internal static string CmdletAssemblyPath => Path.Combine(AppContext.BaseDirectory, "cmdlet", "KvmHost.dll");

    private readonly AssemblyInspector _core = new(CoreAssemblyPath);
    private readonly AssemblyInspector _cmdlets = new(CmdletAssemblyPath);

    public void Dispose()
    {
        _core.Dispose();
        _cmdlets.Dispose();
    }

    [Fact]
    public void Core_references_neither_PowerShell_nor_the_cmdlet_assembly()
    {
        AssertNone(ArchitectureRules.CoreReferences(_core));
    }

    [Fact]
    public void In_Core_only_the_process_runner_starts_processes()
    {
        AssertNone(Violations(_core, ArchitectureRules.Core, "starts processes"));
    }

    [Fact]
    public void In_Core_only_the_atomic_writer_writes_files_besides_the_proc_sys_writer_and_the_lock()
    {
        AssertNone(Violations(_core, ArchitectureRules.Core, "writes files"));
    }

    [Fact]
    public void In_Core_only_HostRoot_lists_folders()
    {
        AssertNone(Violations(_core, ArchitectureRules.Core, "lists folders"));
    }

    [Fact]
    public void In_Core_libc_is_imported_only_by_NativeMethods_and_libvirt_only_by_the_guest_connection()
    {
        AssertNone(Violations(_core, ArchitectureRules.Core, "Native library"));
    }

    [Fact]
    public void Cmdlets_start_no_process_write_no_file_list_only_sys_class_net_and_import_no_native_code()
    {
        AssertNone(ArchitectureRules.Check(_cmdlets, ArchitectureRules.Cmdlets));
    }

    [Fact]
    public void Only_the_base_cmdlet_takes_the_host_lock_so_its_waits_are_set_in_one_place()
    {
        var takers = _cmdlets.Calls().Where(c => c.Target == "KvmHost.Core.Platform.HostLock::Acquire").Select(c => c.Owner).Distinct();
        Assert.Equal(["KvmHost.KvmHostCmdlet"], takers);
    }

    [Fact]
    public void Only_SystemBus_talks_to_the_system_bus_and_the_cmdlets_not_at_all()
    {
        Assert.Contains(_core.Calls(), c => c.Owner == ArchitectureRules.BusConnection && c.TargetType.StartsWith(ArchitectureRules.BusLibrary, StringComparison.Ordinal));
        AssertNone(ArchitectureRules.BusUses(_core, ArchitectureRules.BusConnection));
        AssertNone(ArchitectureRules.BusUses(_cmdlets, "none"));
        Assert.DoesNotContain(_cmdlets.AssemblyReferences, name => name.StartsWith(ArchitectureRules.BusLibrary, StringComparison.Ordinal));
    }

    [Fact]
    public void Live_vs_offline_is_decided_once_by_HostSystem_and_never_by_a_cmdlet()
    {
        Assert.Contains(_core.Calls(), c => c.Target == ArchitectureRules.IsLiveGetter && c.Owner == ArchitectureRules.LiveDecider);
        AssertNone(ArchitectureRules.LiveDecisions(_core, ArchitectureRules.LiveReaders));
        AssertNone(ArchitectureRules.LiveDecisions(_cmdlets, new HashSet<string>()));
    }

    [Fact]
    public void Every_type_an_allowance_names_exists_so_no_rule_is_dead()
    {
        var defined = _core.Metadata.TypeDefinitions.Select(h => _core.Metadata.GetTypeDefinition(h))
            .Select(t => _core.Metadata.GetString(t.Namespace) + "." + _core.Metadata.GetString(t.Name)).ToHashSet();
        var dead = ArchitectureRules.Core.NamedTypes.Where(name => !defined.Contains(name)).ToList();
        Assert.True(dead.Count == 0, "Allowances name types that do not exist: " + string.Join(", ", dead));
    }

    [Fact]
    public void The_rules_see_the_code_they_allow_so_a_pass_is_not_an_empty_look()
    {
        Assert.Contains(_core.NativeImports(), i => i.Owner == ArchitectureRules.LibcDeclarations && i.EntryPoint == "link");
        Assert.Contains(_cmdlets.Calls(), c => c.Target == "KvmHost.Core.Platform.HostLock::Acquire");

        // Without any allowance, exactly the allowed places are caught, including what they do through libc
        // (NativeMethods.HardLink, OpenLockFile: LibraryImport wrappers around link(2) and open(2)).
        var caught = ArchitectureRules.Check(_core, ArchitectureRules.Core with { Capabilities = Allowances.None.Capabilities });
        foreach (var (capability, owners) in ArchitectureRules.Core.Capabilities)
            foreach (string owner in owners.Keys)
                Assert.Contains(caught, v => v.Owner == owner && v.Rule == ArchitectureRules.RuleName(capability));
        Assert.Contains(caught, v => v.Owner == ArchitectureRules.AtomicWriter && v.Detail.Contains("NativeMethods::HardLink", StringComparison.Ordinal));
        Assert.Contains(caught, v => v.Owner == ArchitectureRules.HostLock && v.Detail.Contains("NativeMethods::OpenLockFile", StringComparison.Ordinal));
        // A read-only open is not a write: HostRoot reads with File.OpenHandle(FileAccess.Read) and lists folders only.
        Assert.DoesNotContain(caught, v => v.Owner == ArchitectureRules.FolderReader && v.Rule != ArchitectureRules.RuleName(Capability.ListsFolders));
    }

    private static IEnumerable<Violation> Violations(AssemblyInspector assembly, Allowances allowances, string rule) =>
        ArchitectureRules.Check(assembly, allowances).Where(v => v.Rule.Contains(rule, StringComparison.Ordinal));

    /// <summary>Fails with every violation on its own line (xUnit would cut a collection's items short).</summary>
    private static void AssertNone(IEnumerable<Violation> violations)
    {
        var lines = violations.Select(v => v.ToString()).ToList();
        Assert.True(lines.Count == 0, $"{lines.Count} violation(s):\n" + string.Join("\n", lines));
    }
}
