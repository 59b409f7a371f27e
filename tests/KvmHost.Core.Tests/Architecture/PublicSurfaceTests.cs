using System.Reflection;
using KvmHost.Core.Platform;
using Xunit;

namespace KvmHost.Core.Tests.Architecture;

/// <summary>
/// KvmHost.Core's public surface is what the cmdlet assembly needs: the types it refers to, and what those carry
/// (their public properties and fields, base types, interfaces and interface members: a result's data, a contract's
/// signatures). Everything else is internal, visible to these tests through InternalsVisibleTo.
/// </summary>
public sealed class PublicSurfaceTests
{
    /// <summary>Public for a reason the metadata cannot show.</summary>
    private static readonly Dictionary<string, string> PublicByDesign = new()
    {
        ["KvmHost.Core.Platform.ErrorIds"] = "its constants are compiled into the cmdlets, so no reference to the type remains",
    };

    private static readonly Assembly Core = typeof(HostRoot).Assembly;

    [Fact]
    public void Every_public_Core_type_is_used_by_the_cmdlets_or_carried_by_a_type_they_use()
    {
        var needed = NeededByCmdlets();
        Assert.Contains("KvmHost.Core.Platform.HostRoot", needed); // the cmdlets' metadata was read
        var unneeded = Core.GetExportedTypes().Select(t => t.FullName!)
            .Where(name => !needed.Contains(name) && !PublicByDesign.ContainsKey(name)).Order(StringComparer.Ordinal).ToList();
        Assert.True(unneeded.Count == 0, "Make these internal (the cmdlet assembly does not need them): " + string.Join(", ", unneeded));
    }

    [Fact]
    public void No_two_public_Core_types_share_a_name()
    {
        var shared = Core.GetExportedTypes().GroupBy(t => t.Name).Where(g => g.Count() > 1)
            .Select(g => string.Join(" and ", g.Select(t => t.FullName))).ToList();
        Assert.True(shared.Count == 0, "Give these distinct names: " + string.Join("; ", shared));
    }

    [Fact]
    public void Error_ids_are_one_partial_class_whose_every_id_is_its_own_name()
    {
        var otherIdClasses = Core.GetTypes().Where(t => t.Name.EndsWith("ErrorIds", StringComparison.Ordinal) && t != typeof(ErrorIds))
            .Select(t => t.FullName).ToList();
        Assert.True(otherIdClasses.Count == 0, "Declare error ids in a partial of KvmHost.Core.Platform.ErrorIds: " + string.Join(", ", otherIdClasses));
        var ids = typeof(ErrorIds).GetFields(BindingFlags.Public | BindingFlags.Static).Where(f => f.IsLiteral).ToList();
        Assert.True(ids.Count > 40);
        var renamed = ids.Where(f => (string?)f.GetRawConstantValue() != f.Name).Select(f => $"{f.Name} = \"{f.GetRawConstantValue()}\"").ToList();
        Assert.True(renamed.Count == 0, "An error id's value is its name (nameof): " + string.Join(", ", renamed));
    }

    private static HashSet<string> NeededByCmdlets()
    {
        using var cmdlets = new AssemblyInspector(ArchitectureTests.CmdletAssemblyPath);
        var byName = Core.GetExportedTypes().ToDictionary(t => t.FullName!);
        var needed = new HashSet<string>(StringComparer.Ordinal);
        var queue = new Queue<Type>();
        void Add(Type? type)
        {
            if (type is null) return;
            if (type.HasElementType) { Add(type.GetElementType()); return; }
            if (type.IsGenericType)
            {
                foreach (var argument in type.GetGenericArguments()) Add(argument);
                type = type.GetGenericTypeDefinition();
            }
            if (type.IsGenericParameter || type.Assembly != Core || !type.IsVisible) return;
            if (needed.Add(type.FullName!)) queue.Enqueue(type);
        }

        foreach (string name in cmdlets.ReferencedTypes) if (byName.TryGetValue(name, out var type)) Add(type);
        const BindingFlags declared = BindingFlags.Public | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;
        while (queue.TryDequeue(out var type))
        {
            Add(type.BaseType);
            foreach (var contract in type.GetInterfaces()) Add(contract);
            foreach (var property in type.GetProperties(declared)) Add(property.PropertyType);
            foreach (var field in type.GetFields(declared)) Add(field.FieldType);
            foreach (var nested in type.GetNestedTypes()) Add(nested);
            if (!type.IsInterface) continue;
            foreach (var method in type.GetMethods(declared))
            {
                Add(method.ReturnType);
                foreach (var parameter in method.GetParameters()) Add(parameter.ParameterType);
            }
        }
        return needed;
    }
}
