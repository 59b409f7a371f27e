using System.Collections.Concurrent;
using Tmds.DBus.Protocol;

namespace KvmHost.Core.Platform;

/// <summary>One method call on the system bus: service, object, interface, member, and arguments by D-Bus signature.</summary>
internal sealed record BusCall(string Service, string ObjectPath, string Interface, string Member, string Signature, params object[] Arguments)
{
    public const string Properties = "org.freedesktop.DBus.Properties";

    public static BusCall GetProperty(string service, string objectPath, string @interface, string name) =>
        new(service, objectPath, Properties, "Get", "ss", @interface, name);

    /// <summary>The call as busctl would make it: what -Verbose shows, and what an admin can paste to repeat it.</summary>
    public string CommandLine => new CommandRequest("busctl", ["call", Service, ObjectPath, Interface, Member,
        .. Signature.Length == 0 ? Array.Empty<string>() : [Signature], .. Arguments.Select(ArgumentText)]).CommandLine;

    private static string ArgumentText(object argument) => argument switch
    {
        string[] items => string.Join(' ', [items.Length.ToString(System.Globalization.CultureInfo.InvariantCulture), .. items]),
        bool b => b ? "true" : "false",
        _ => Convert.ToString(argument, System.Globalization.CultureInfo.InvariantCulture) ?? string.Empty,
    };
}

/// <summary>A reply: its values (strings, numbers, bools; arrays as lists, dictionaries, structs as arrays), or the bus's error.</summary>
internal sealed record BusReply(IReadOnlyList<object?> Values, string? ErrorName, string? ErrorMessage)
{
    public bool Succeeded => ErrorName is null;
}

/// <summary>
/// The one connection to the system bus (D-Bus), as CommandRunner is the one way to start a program: systemd and
/// NetworkManager answer here without a systemctl, nmcli or busctl process. Values go in and come out as plain .NET
/// values, so no other code touches the D-Bus library (an architecture test keeps it so). The connection is made
/// once per process and bus address and shared; a bus that is not there (a container, a Debian box without dbus,
/// an image) gives null, and callers take their process path instead. Calls of one batch are all sent before the
/// first reply is read, so forty units cost one round trip's wait, not forty.
/// </summary>
internal sealed class SystemBus
{
    public const string DefaultSocket = "/run/dbus/system_bus_socket";

    /// <summary>systemd's and dbus-daemon's own default method-call timeout.</summary>
    private static readonly TimeSpan CallTimeout = TimeSpan.FromSeconds(25);

    private static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(5);

    private static readonly ConcurrentDictionary<string, SystemBus> Connected = new(StringComparer.Ordinal);

    private readonly DBusConnection _connection;

    private SystemBus(string address, DBusConnection connection)
    {
        Address = address;
        _connection = connection;
    }

    public string Address { get; }

    /// <summary>DBUS_SYSTEM_BUS_ADDRESS, else the standard socket where it exists; null when there is no bus to try.</summary>
    public static string? FindAddress()
    {
        string? configured = Environment.GetEnvironmentVariable("DBUS_SYSTEM_BUS_ADDRESS");
        if (!string.IsNullOrWhiteSpace(configured)) return configured;
        return File.Exists(DefaultSocket) ? "unix:path=" + DefaultSocket : null;
    }

    /// <summary>The shared connection to the system bus, made now if need be; null (and a verbose line) when it cannot be reached.</summary>
    public static SystemBus? TryConnect(Action<string>? log, CancellationToken cancellationToken)
    {
        if (FindAddress() is not { } address)
        {
            log?.Invoke("D-Bus: no system bus here (no DBUS_SYSTEM_BUS_ADDRESS, no " + DefaultSocket + "); asking with programs instead.");
            return null;
        }
        if (Connected.TryGetValue(address, out var shared)) return shared;
        var connection = new DBusConnection(new DBusConnectionOptions(address) { AutoConnect = false });
        try
        {
            connection.ConnectAsync().AsTask().WaitAsync(ConnectTimeout, cancellationToken).GetAwaiter().GetResult();
        }
        catch (Exception e) when (e is DBusExceptionBase or IOException or System.Net.Sockets.SocketException or TimeoutException or ArgumentException)
        {
            connection.Dispose();
            log?.Invoke($"D-Bus: the system bus at {address} does not answer ({e.Message}); asking with programs instead.");
            return null;
        }
        var bus = new SystemBus(address, connection);
        if (Connected.TryAdd(address, bus)) return bus;
        connection.Dispose();
        return Connected[address];
    }

    /// <summary>
    /// Sends every call, then collects the replies in order; an error reply is a reply (its ErrorName set). A connection
    /// that has closed since it was made (the bus restarted) is made again once. Null when the bus went away entirely:
    /// the caller takes its process path.
    /// </summary>
    public IReadOnlyList<BusReply>? CallAll(IReadOnlyList<BusCall> calls, Action<string>? log, CancellationToken cancellationToken)
    {
        if (calls.Count == 0) return [];
        log?.Invoke(calls.Count == 1 ? $"D-Bus: {calls[0].CommandLine}"
            : $"D-Bus: {calls.Count} calls in one batch: {calls[0].CommandLine}; ...; {calls[^1].CommandLine}");
        try
        {
            return Send(calls, cancellationToken);
        }
        catch (Exception e) when (e is DBusExceptionBase or IOException or ObjectDisposedException)
        {
            Connected.TryRemove(new KeyValuePair<string, SystemBus>(Address, this));
            _connection.Dispose();
            var again = TryConnect(log, cancellationToken);
            try { return again?.Send(calls, cancellationToken); }
            catch (Exception retry) when (retry is DBusExceptionBase or IOException or ObjectDisposedException)
            {
                log?.Invoke($"D-Bus: the system bus went away ({retry.Message}); asking with programs instead.");
                return null;
            }
        }
    }

    /// <summary>One call; null when the bus went away.</summary>
    public BusReply? Call(BusCall call, Action<string>? log, CancellationToken cancellationToken) =>
        CallAll([call], log, cancellationToken)?[0];

    private List<BusReply> Send(IReadOnlyList<BusCall> calls, CancellationToken cancellationToken)
    {
        var pending = calls.Select(call => _connection.CallMethodAsync(Message(call), (message, _) => ReadBody(message), null)).ToList();
        var replies = new List<BusReply>(pending.Count);
        foreach (var reply in pending)
        {
            try
            {
                replies.Add(new BusReply(reply.WaitAsync(CallTimeout, cancellationToken).GetAwaiter().GetResult(), null, null));
            }
            catch (DBusErrorReplyException e)
            {
                replies.Add(new BusReply([], e.ErrorName, e.ErrorMessage));
            }
            catch (TimeoutException)
            {
                replies.Add(new BusReply([], "org.freedesktop.DBus.Error.Timeout", $"no reply within {CallTimeout.TotalSeconds:0} s"));
            }
        }
        return replies;
    }

    private MessageBuffer Message(BusCall call)
    {
        using var writer = _connection.GetMessageWriter();
        writer.WriteMethodCallHeader(destination: call.Service, path: call.ObjectPath, @interface: call.Interface,
            member: call.Member, signature: call.Signature.Length == 0 ? null : call.Signature);
        int argument = 0;
        for (int at = 0; at < call.Signature.Length; at++)
        {
            object value = call.Arguments[argument++];
            switch (call.Signature[at])
            {
                case 's': writer.WriteString((string)value); break;
                case 'o': writer.WriteObjectPath((string)value); break;
                case 'u': writer.WriteUInt32(Convert.ToUInt32(value, System.Globalization.CultureInfo.InvariantCulture)); break;
                case 'i': writer.WriteInt32(Convert.ToInt32(value, System.Globalization.CultureInfo.InvariantCulture)); break;
                case 'b': writer.WriteBool((bool)value); break;
                // Arrays of strings or object paths (the only arrays this module sends), given as string[].
                case 'a' when at + 1 < call.Signature.Length && call.Signature[at + 1] == 's':
                    writer.WriteArray((string[])value);
                    at++;
                    break;
                case 'a' when at + 1 < call.Signature.Length && call.Signature[at + 1] == 'o':
                    writer.WriteArray(((string[])value).Select(path => new ObjectPath(path)).ToArray());
                    at++;
                    break;
                default:
                    throw new ArgumentException($"Unsupported D-Bus argument type at {at} in '{call.Signature}'.", nameof(call));
            }
        }
        return writer.CreateMessage();
    }

    private static IReadOnlyList<object?> ReadBody(Message message)
    {
        var reader = message.GetBodyReader();
        string signature = message.SignatureAsString ?? string.Empty;
        var values = new List<object?>();
        int at = 0;
        while (at < signature.Length) values.Add(ReadValue(ref reader, signature, ref at));
        return values;
    }

    /// <summary>Reads one complete type of <paramref name="signature"/> starting at <paramref name="at"/>.</summary>
    private static object? ReadValue(ref Reader reader, string signature, ref int at)
    {
        char type = signature[at++];
        switch (type)
        {
            case 's': return reader.ReadString();
            case 'o': return reader.ReadObjectPathAsString();
            case 'g': return reader.ReadSignatureAsString();
            case 'b': return reader.ReadBool();
            case 'y': return reader.ReadByte();
            case 'n': return reader.ReadInt16();
            case 'q': return reader.ReadUInt16();
            case 'i': return reader.ReadInt32();
            case 'u': return reader.ReadUInt32();
            case 'x': return reader.ReadInt64();
            case 't': return reader.ReadUInt64();
            case 'd': return reader.ReadDouble();
            case 'v': return Plain(reader.ReadVariantValue());
            case '(':
            {
                reader.AlignStruct();
                var fields = new List<object?>();
                while (signature[at] != ')') fields.Add(ReadValue(ref reader, signature, ref at));
                at++;
                return fields.ToArray();
            }
            case 'a' when signature[at] == '{':
            {
                int entryStart = ++at;
                var dictionary = new Dictionary<string, object?>(StringComparer.Ordinal);
                var end = reader.ReadDictionaryStart();
                while (reader.HasNext(end))
                {
                    reader.AlignStruct();
                    at = entryStart;
                    string key = Convert.ToString(ReadValue(ref reader, signature, ref at), System.Globalization.CultureInfo.InvariantCulture) ?? string.Empty;
                    dictionary[key] = ReadValue(ref reader, signature, ref at);
                }
                at = SkipType(signature, entryStart - 1); // past "{kv}"
                return dictionary;
            }
            case 'a':
            {
                int elementStart = at;
                var items = new List<object?>();
                var end = reader.ReadArrayStart(TypeOf(signature[elementStart]));
                while (reader.HasNext(end))
                {
                    at = elementStart;
                    items.Add(ReadValue(ref reader, signature, ref at));
                }
                at = SkipType(signature, elementStart);
                return items;
            }
            default:
                throw new NotSupportedException($"Unsupported D-Bus type '{type}' in '{signature}'.");
        }
    }

    /// <summary>The index just past the complete type that starts at <paramref name="at"/>.</summary>
    private static int SkipType(string signature, int at)
    {
        char type = signature[at];
        if (type == 'a') return SkipType(signature, at + 1);
        if (type is not ('(' or '{')) return at + 1;
        char close = type == '(' ? ')' : '}';
        at++;
        while (signature[at] != close) at = SkipType(signature, at);
        return at + 1;
    }

    private static DBusType TypeOf(char type) => type switch
    {
        '(' => DBusType.Struct,
        '{' => DBusType.DictEntry,
        'a' => DBusType.Array,
        'v' => DBusType.Variant,
        's' => DBusType.String,
        'o' => DBusType.ObjectPath,
        'g' => DBusType.Signature,
        'b' => DBusType.Bool,
        'y' => DBusType.Byte,
        'n' => DBusType.Int16,
        'q' => DBusType.UInt16,
        'i' => DBusType.Int32,
        'u' => DBusType.UInt32,
        'x' => DBusType.Int64,
        't' => DBusType.UInt64,
        'd' => DBusType.Double,
        _ => DBusType.Invalid,
    };

    private static object? Plain(VariantValue value) => value.Type switch
    {
        VariantValueType.String => value.GetString(),
        VariantValueType.ObjectPath => value.GetObjectPathAsString(),
        VariantValueType.Bool => value.GetBool(),
        VariantValueType.Byte => value.GetByte(),
        VariantValueType.Int16 => value.GetInt16(),
        VariantValueType.UInt16 => value.GetUInt16(),
        VariantValueType.Int32 => value.GetInt32(),
        VariantValueType.UInt32 => value.GetUInt32(),
        VariantValueType.Int64 => value.GetInt64(),
        VariantValueType.UInt64 => value.GetUInt64(),
        VariantValueType.Double => value.GetDouble(),
        VariantValueType.Variant => Plain(value.GetVariantValue()),
        VariantValueType.Array => Enumerable.Range(0, value.Count).Select(i => Plain(value.GetItem(i))).ToList(),
        _ => value.ToString(),
    };
}
