using System.Management.Automation;
using KvmHost.Core.Guests;

namespace KvmHost.Commands;

/// <summary>
/// Removes guests with what libvirt otherwise refuses to leave behind (UEFI nvram, managed-save image, snapshot and
/// checkpoint metadata) and, with -DeleteStorage, their disk volumes that live in a storage pool and no other guest
/// uses; every disk kept is named. A running guest is refused unless -Force powers it off first.
/// </summary>
[Cmdlet(VerbsCommon.Remove, "KvmGuest", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High,
    DefaultParameterSetName = GuestParameterSets.ByName)]
[OutputType(typeof(KvmGuestRemoval))]
public sealed class RemoveKvmGuestCommand : GuestTargetCmdlet
{
    /// <summary>Power off a guest that is running (or paused) and remove it; without it such a guest is refused.</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    /// <summary>Delete the guest's disk volumes that live in a libvirt storage pool and that no other guest uses.</summary>
    [Parameter]
    public SwitchParameter DeleteStorage { get; set; }

    protected override void ProcessCore() => ForEachGuest(ResolveTargets(), guest =>
    {
        if (!FirstTime(guest)) return;
        var plan = GuestRemover.Plan(guest, Force, DeleteStorage, Catalog(guest.Connection.Uri).Guests);
        if (!ShouldProcess(Describe(guest), string.Join("; ", plan.Steps) + "."))
        {
            if (PassThru && WhatIfRequested) WriteObject(GuestRemover.Preview(guest, plan));
            return;
        }
        var (result, failures) = GuestRemover.Apply(guest, plan);
        if (DeleteStorage)
            foreach (var kept in result.KeptDisks) WriteWarning($"'{guest.Name}': kept {kept.Source ?? kept.Target} ({kept.Reason}).");
        foreach (var failure in failures) WriteFailure(failure);
        if (PassThru) WriteObject(result);
    });

    /// <summary>Results are written as each guest goes: a removed guest cannot be read again at the end.</summary>
    protected override void EndCore() { }
}
