using System.Collections.Immutable;
using System.Reflection;
using System.Reflection.Emit;
using System.Reflection.Metadata;
using System.Reflection.Metadata.Ecma335;
using System.Reflection.PortableExecutable;

namespace KvmHost.Core.Tests.Architecture;

/// <summary>One call in a method body: who calls (the top-level type that owns the code) and what is called.</summary>
internal sealed record CallSite(
    string Owner, string Caller, MethodDefinitionHandle CallerHandle, string TargetType, string TargetMember, IReadOnlyList<string> ParameterTypes,
    MethodDefinitionHandle? TargetDefinition, IReadOnlyList<Instruction> Body, int Index)
{
    public string Target => $"{TargetType}::{TargetMember}";

    public override string ToString() => $"{Owner}.{Caller} calls {Target}({string.Join(", ", ParameterTypes)})";
}

/// <summary>A method declared with DllImport (LibraryImport generates one): which library and function it binds.</summary>
internal sealed record NativeImport(string Owner, string Method, string Library, string EntryPoint, MethodDefinitionHandle Handle);

internal readonly record struct Instruction(int Offset, OpCode OpCode, long Operand, bool IsBranchTarget);

/// <summary>
/// Reads an assembly's metadata and IL without loading it (System.Reflection.Metadata), so the cmdlet assembly can be
/// inspected without PowerShell. Code in compiler-generated types (lambdas, iterators, async state machines, local
/// functions) is attributed to the top-level type that holds it: that is whose code it is.
/// </summary>
internal sealed class AssemblyInspector : IDisposable
{
    private static readonly Dictionary<short, OpCode> OpCodesByValue = typeof(OpCodes)
        .GetFields(BindingFlags.Public | BindingFlags.Static)
        .Select(f => (OpCode)f.GetValue(null)!)
        .ToDictionary(o => o.Value);

    private readonly PEReader _pe;
    private readonly SignatureNames _names;

    public AssemblyInspector(string path)
    {
        Path = path;
        _pe = new PEReader(File.OpenRead(path));
        Metadata = _pe.GetMetadataReader();
        _names = new SignatureNames(Metadata);
    }

    public string Path { get; }
    public MetadataReader Metadata { get; }
    public string Name => Metadata.GetString(Metadata.GetAssemblyDefinition().Name);

    public IReadOnlyList<string> AssemblyReferences =>
        Metadata.AssemblyReferences.Select(h => Metadata.GetString(Metadata.GetAssemblyReference(h).Name)).ToList();

    /// <summary>Full names of the types this assembly refers to in another assembly (Namespace.Outer+Inner).</summary>
    public IReadOnlyList<string> ReferencedTypes => Metadata.TypeReferences.Select(h => _names.Reference(h)).Distinct().ToList();

    public IEnumerable<NativeImport> NativeImports()
    {
        foreach (var typeHandle in Metadata.TypeDefinitions)
        {
            string owner = OwnerOf(typeHandle);
            foreach (var methodHandle in Metadata.GetTypeDefinition(typeHandle).GetMethods())
            {
                var method = Metadata.GetMethodDefinition(methodHandle);
                if ((method.Attributes & MethodAttributes.PinvokeImpl) == 0) continue;
                var import = method.GetImport();
                string library = import.Module.IsNil ? string.Empty : Metadata.GetString(Metadata.GetModuleReference(import.Module).Name);
                string entry = import.Name.IsNil ? Metadata.GetString(method.Name) : Metadata.GetString(import.Name);
                yield return new NativeImport(owner, Metadata.GetString(method.Name), library, entry, methodHandle);
            }
        }
    }

    /// <summary>Every call, newobj and method-pointer load (a method group passed as a delegate) in every method body.</summary>
    public IEnumerable<CallSite> Calls()
    {
        foreach (var typeHandle in Metadata.TypeDefinitions)
        {
            string owner = OwnerOf(typeHandle);
            foreach (var methodHandle in Metadata.GetTypeDefinition(typeHandle).GetMethods())
            {
                var method = Metadata.GetMethodDefinition(methodHandle);
                if (method.RelativeVirtualAddress == 0) continue;
                var body = Decode(_pe.GetMethodBody(method.RelativeVirtualAddress));
                string caller = SourceNameOf(typeHandle, Metadata.GetString(method.Name));
                for (int i = 0; i < body.Count; i++)
                {
                    var code = body[i].OpCode;
                    if (code != OpCodes.Call && code != OpCodes.Callvirt && code != OpCodes.Newobj
                        && code != OpCodes.Ldftn && code != OpCodes.Ldvirtftn) continue;
                    var target = ResolveMethod(MetadataTokens.EntityHandle((int)body[i].Operand));
                    yield return new CallSite(owner, caller, methodHandle, target.Type, target.Member, target.Parameters, target.Definition, body, i);
                }
            }
        }
    }

    /// <summary>
    /// The method as written in C#: a lambda "&lt;Read&gt;b__5_0" or an iterator's "MoveNext" in "&lt;Read&gt;d__5" is Read.
    /// </summary>
    private string SourceNameOf(TypeDefinitionHandle typeHandle, string methodName)
    {
        if (methodName.StartsWith('<') && methodName.IndexOf('>') is > 1 and var end) return methodName[1..end];
        string typeName = Metadata.GetString(Metadata.GetTypeDefinition(typeHandle).Name);
        if (typeName.StartsWith('<') && typeName.IndexOf('>') is > 1 and var close) return typeName[1..close];
        return methodName;
    }

    /// <summary>The owner of a method definition, for call graphs inside this assembly.</summary>
    public string OwnerOf(MethodDefinitionHandle handle) => OwnerOf(Metadata.GetMethodDefinition(handle).GetDeclaringType());

    public string NameOf(MethodDefinitionHandle handle) => Metadata.GetString(Metadata.GetMethodDefinition(handle).Name);

    private string OwnerOf(TypeDefinitionHandle handle)
    {
        var type = Metadata.GetTypeDefinition(handle);
        while (type.IsNested) { handle = type.GetDeclaringType(); type = Metadata.GetTypeDefinition(handle); }
        return _names.Definition(handle);
    }

    private (string Type, string Member, IReadOnlyList<string> Parameters, MethodDefinitionHandle? Definition) ResolveMethod(EntityHandle handle)
    {
        switch (handle.Kind)
        {
            case HandleKind.MethodDefinition:
            {
                var definitionHandle = (MethodDefinitionHandle)handle;
                var method = Metadata.GetMethodDefinition(definitionHandle);
                var signature = method.DecodeSignature(_names, null);
                return (_names.Definition(method.GetDeclaringType()), Metadata.GetString(method.Name), signature.ParameterTypes, definitionHandle);
            }
            case HandleKind.MemberReference:
            {
                var member = Metadata.GetMemberReference((MemberReferenceHandle)handle);
                string type = member.Parent.Kind switch
                {
                    HandleKind.TypeReference => _names.Reference((TypeReferenceHandle)member.Parent),
                    HandleKind.TypeDefinition => _names.Definition((TypeDefinitionHandle)member.Parent),
                    HandleKind.TypeSpecification => _names.GenericDefinitionOf((TypeSpecificationHandle)member.Parent),
                    _ => "<module>",
                };
                var parameters = member.GetKind() == MemberReferenceKind.Method
                    ? member.DecodeMethodSignature(_names, null).ParameterTypes
                    : ImmutableArray<string>.Empty;
                return (type, Metadata.GetString(member.Name), parameters, null);
            }
            case HandleKind.MethodSpecification:
                return ResolveMethod(Metadata.GetMethodSpecification((MethodSpecificationHandle)handle).Method);
            default:
                return ("<unknown>", handle.Kind.ToString(), [], null);
        }
    }

    private static List<Instruction> Decode(MethodBodyBlock body)
    {
        var reader = body.GetILReader();
        var raw = new List<(int Offset, OpCode OpCode, long Operand)>();
        var targets = new HashSet<int>(body.ExceptionRegions.SelectMany(r => new[] { r.TryOffset, r.HandlerOffset, r.FilterOffset }));
        while (reader.RemainingBytes > 0)
        {
            int offset = reader.Offset;
            short value = reader.ReadByte();
            if (value == 0xFE) value = unchecked((short)(0xFE00 | reader.ReadByte()));
            var code = OpCodesByValue[value];
            long operand = 0;
            switch (code.OperandType)
            {
                case OperandType.InlineNone: break;
                case OperandType.ShortInlineBrTarget:
                    operand = reader.ReadSByte();
                    targets.Add(reader.Offset + (int)operand);
                    break;
                case OperandType.ShortInlineI: operand = code == OpCodes.Ldc_I4_S ? reader.ReadSByte() : reader.ReadByte(); break;
                case OperandType.ShortInlineVar: operand = reader.ReadByte(); break;
                case OperandType.InlineVar: operand = reader.ReadUInt16(); break;
                case OperandType.InlineBrTarget:
                    operand = reader.ReadInt32();
                    targets.Add(reader.Offset + (int)operand);
                    break;
                case OperandType.InlineI8: operand = reader.ReadInt64(); break;
                case OperandType.InlineR: reader.ReadDouble(); break;
                case OperandType.ShortInlineR: reader.ReadSingle(); break;
                case OperandType.InlineSwitch:
                    int count = reader.ReadInt32();
                    var jumps = Enumerable.Range(0, count).Select(_ => reader.ReadInt32()).ToList();
                    foreach (int jump in jumps) targets.Add(reader.Offset + jump);
                    break;
                default: operand = reader.ReadInt32(); break; // tokens, InlineI, InlineSig, InlineString
            }
            raw.Add((offset, code, operand));
        }
        return raw.Select(r => new Instruction(r.Offset, r.OpCode, r.Operand, targets.Contains(r.Offset))).ToList();
    }

    public void Dispose() => _pe.Dispose();

    /// <summary>Type names from signatures, as "Namespace.Type" (nested "Outer+Inner", arrays "T[]", generics by definition).</summary>
    private sealed class SignatureNames(MetadataReader metadata) : ISignatureTypeProvider<string, object?>
    {
        public string Reference(TypeReferenceHandle handle)
        {
            var type = metadata.GetTypeReference(handle);
            string name = metadata.GetString(type.Name);
            return type.ResolutionScope.Kind == HandleKind.TypeReference
                ? Reference((TypeReferenceHandle)type.ResolutionScope) + "+" + name
                : Qualify(metadata.GetString(type.Namespace), name);
        }

        public string Definition(TypeDefinitionHandle handle)
        {
            var type = metadata.GetTypeDefinition(handle);
            string name = metadata.GetString(type.Name);
            return type.IsNested ? Definition(type.GetDeclaringType()) + "+" + name : Qualify(metadata.GetString(type.Namespace), name);
        }

        public string GenericDefinitionOf(TypeSpecificationHandle handle) =>
            metadata.GetTypeSpecification(handle).DecodeSignature(this, null);

        private static string Qualify(string ns, string name) => ns.Length == 0 ? name : ns + "." + name;

        public string GetPrimitiveType(PrimitiveTypeCode typeCode) => typeCode switch
        {
            PrimitiveTypeCode.Boolean => "System.Boolean",
            PrimitiveTypeCode.Byte => "System.Byte",
            PrimitiveTypeCode.SByte => "System.SByte",
            PrimitiveTypeCode.Char => "System.Char",
            PrimitiveTypeCode.Int16 => "System.Int16",
            PrimitiveTypeCode.UInt16 => "System.UInt16",
            PrimitiveTypeCode.Int32 => "System.Int32",
            PrimitiveTypeCode.UInt32 => "System.UInt32",
            PrimitiveTypeCode.Int64 => "System.Int64",
            PrimitiveTypeCode.UInt64 => "System.UInt64",
            PrimitiveTypeCode.Single => "System.Single",
            PrimitiveTypeCode.Double => "System.Double",
            PrimitiveTypeCode.IntPtr => "System.IntPtr",
            PrimitiveTypeCode.UIntPtr => "System.UIntPtr",
            PrimitiveTypeCode.Object => "System.Object",
            PrimitiveTypeCode.String => "System.String",
            PrimitiveTypeCode.TypedReference => "System.TypedReference",
            _ => "System.Void",
        };

        public string GetTypeFromDefinition(MetadataReader reader, TypeDefinitionHandle handle, byte rawTypeKind) => Definition(handle);
        public string GetTypeFromReference(MetadataReader reader, TypeReferenceHandle handle, byte rawTypeKind) => Reference(handle);
        public string GetTypeFromSpecification(MetadataReader reader, object? genericContext, TypeSpecificationHandle handle, byte rawTypeKind) =>
            GenericDefinitionOf(handle);
        public string GetSZArrayType(string elementType) => elementType + "[]";
        public string GetArrayType(string elementType, ArrayShape shape) => elementType + "[" + new string(',', shape.Rank - 1) + "]";
        public string GetByReferenceType(string elementType) => elementType + "&";
        public string GetPointerType(string elementType) => elementType + "*";
        public string GetPinnedType(string elementType) => elementType;
        public string GetGenericInstantiation(string genericType, ImmutableArray<string> typeArguments) => genericType;
        public string GetGenericMethodParameter(object? genericContext, int index) => "!!" + index;
        public string GetGenericTypeParameter(object? genericContext, int index) => "!" + index;
        public string GetModifiedType(string modifier, string unmodifiedType, bool isRequired) => unmodifiedType;
        public string GetFunctionPointerType(MethodSignature<string> signature) => "method*";
    }
}
