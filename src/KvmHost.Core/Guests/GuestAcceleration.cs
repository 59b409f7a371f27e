using System.Xml;
using KvmHost.Core.Cpu;
using KvmHost.Core.Platform;

namespace KvmHost.Core.Guests;

/// <summary>What a libvirt host's capabilities say about acceleration: its CPU's architecture and features, and the domain types it offers.</summary>
internal sealed record HypervisorCapabilities(string? HostArchitecture, IReadOnlySet<string> HostCpuFeatures, IReadOnlySet<string> DomainTypes)
{
    /// <summary>The host's &lt;cpu&gt; element, for libvirt to expand its model into every feature (see LibvirtConnection.ExpandCpuFeatures).</summary>
    public string? HostCpuXml { get; init; }

    public bool OffersKvm => DomainTypes.Contains("kvm");

    /// <summary>Reads virConnectGetCapabilities' XML: the host CPU, and the domain types of hvm guests of the host's architecture.</summary>
    public static HypervisorCapabilities Parse(string xml)
    {
        var document = new XmlDocument { XmlResolver = null };
        try
        {
            using var reader = XmlReader.Create(new StringReader(xml), new XmlReaderSettings { DtdProcessing = DtdProcessing.Prohibit, XmlResolver = null });
            document.Load(reader);
        }
        catch (XmlException e)
        {
            throw new KvmHostException(ErrorIds.LibvirtCallFailed, FailureKind.InvalidData, $"libvirt's capabilities are not well-formed XML: {e.Message}", "capabilities", inner: e);
        }
        string? arch = document.SelectSingleNode("/capabilities/host/cpu/arch")?.InnerText.Trim();
        var features = new HashSet<string>(StringComparer.Ordinal);
        foreach (XmlElement feature in document.SelectNodes("/capabilities/host/cpu/feature")!.OfType<XmlElement>())
            if (feature.GetAttribute("name") is { Length: > 0 } name) features.Add(name);
        var types = new HashSet<string>(StringComparer.Ordinal);
        foreach (XmlElement guest in document.SelectNodes("/capabilities/guest")!.OfType<XmlElement>())
        {
            if (guest.SelectSingleNode("os_type")?.InnerText.Trim() != "hvm") continue;
            foreach (XmlElement archElement in guest.SelectNodes("arch")!.OfType<XmlElement>())
            {
                if (arch is not null && archElement.GetAttribute("name") != arch) continue;
                foreach (XmlElement domain in archElement.SelectNodes("domain")!.OfType<XmlElement>())
                    if (domain.GetAttribute("type") is { Length: > 0 } type) types.Add(type);
            }
        }
        return new HypervisorCapabilities(arch, features, types) { HostCpuXml = document.SelectSingleNode("/capabilities/host/cpu")?.OuterXml };
    }
}

/// <summary>The decision: the domain type virt-install gets (--virt-type), and what the admin is told about it.</summary>
public sealed record AccelerationChoice(string VirtType, bool Emulated, string? Warning);

/// <summary>
/// Decides whether a new guest runs under KVM or TCG, instead of leaving it to virt-install, which picks kvm
/// whenever libvirt offers it: on a PVM host (/dev/kvm there, kvm_pvm loaded, no vmx/svm) libvirt offers kvm, and an
/// ordinary guest then aborts at start or "runs" without ever printing a line. The truth for this machine is
/// Test-KvmCpuSupport's verdict (<see cref="KvmCpuProbe"/>); for another host (a remote URI) the same evidence as
/// libvirt reports it: kvm offered and, on x86, the vmx/svm flag on the host CPU (its model expanded into all its
/// features by libvirt, since capabilities list only the features beyond the model). KVM is used only where both the
/// hardware and the target libvirt can give it. Otherwise the guest is refused unless the admin allowed
/// emulation: TCG is 10-50x slower, which an unattended script must not get by surprise.
/// </summary>
internal static class GuestAcceleration
{
    /// <param name="capabilities">The target libvirt's; null when it did not answer (a preview): the verdict alone decides, and a remote host is assumed able.</param>
    public static AccelerationChoice Decide(string guest, string uri, KvmCpuSupport? localVerdict, HypervisorCapabilities? capabilities, bool allowEmulation)
    {
        string? why;
        string? hint = null;
        if (localVerdict is not null)
        {
            why = localVerdict.Acceleration == KvmAcceleration.Kvm ? null : $"Test-KvmCpuSupport says {localVerdict.Status}: {localVerdict.Reason.TrimEnd('.')}";
            hint = localVerdict.Hint?.TrimEnd('.');
        }
        else if (capabilities is null)
        {
            why = null;
        }
        else
        {
            bool x86 = capabilities.HostArchitecture is "x86_64" or "i686";
            bool hardware = !x86 || capabilities.HostCpuFeatures.Contains("vmx") || capabilities.HostCpuFeatures.Contains("svm");
            why = hardware ? null : $"the CPU of the host behind {uri} has neither vmx nor svm (a PVM kernel or a VM without nested virtualization)";
        }
        if (why is null && capabilities is { OffersKvm: false })
            why = $"libvirt at {uri} offers no KVM guests (it cannot use /dev/kvm; its domain types: {string.Join(", ", capabilities.DomainTypes.Order())})";
        if (why is null) return new AccelerationChoice("kvm", false, null);

        if (!allowEmulation)
            throw new KvmHostException(ErrorIds.KvmAccelerationUnavailable, FailureKind.ResourceUnavailable,
                $"Guest '{guest}' cannot run with KVM acceleration here: {why}. Nothing was created.", guest,
                "Add -AllowEmulation to run it under TCG (software emulation, 10-50 times slower)" + (hint is null ? "." : $"; or: {hint}"));
        return new AccelerationChoice("qemu", true,
            $"Guest '{guest}' runs under TCG (software emulation, 10-50 times slower than KVM) because {why}.");
    }
}
