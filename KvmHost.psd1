@{
    # The one version source: Directory.Build.props reads ModuleVersion from here for the assemblies.
    RootModule           = 'KvmHost.dll'
    ModuleVersion        = '0.1.0'
    GUID                 = '5b0c3f3e-7d8a-4b8e-9f2a-1c6d4e8a9b10'
    Author               = 'KvmHost contributors'
    CompanyName          = 'KvmHost'
    Copyright            = '(c) KvmHost contributors. MIT License.'
    Description          = 'Turns a RHEL-family Linux machine into a KVM virtualization host: CPU checks, packages, the libvirt daemons, a host bridge and IP forwarding, each idempotent, -WhatIf aware and testable offline with -Root; then creates, lists, runs, changes and removes its guests through libvirt and virt-install (New-, Get-, Start-/Stop-/Restart-/Suspend-/Resume-/Wait-, Set-, Remove-KvmGuest), with checkpoints (Checkpoint-KvmGuest, Get-/Restore-/Remove-KvmGuestCheckpoint) and the serial console (Connect-KvmGuest, Get-KvmGuestConsoleLog).'
    PowerShellVersion    = '7.4'
    CompatiblePSEditions = @('Core')
    # Loaded up front so scripts can name result types and enums ([KvmHost.Core.Cpu.CpuSupportStatus]).
    RequiredAssemblies   = @('KvmHost.Core.dll')
    # Files, not code: registering the same views or type data from an IModuleAssemblyInitializer (a nested
    # Update-FormatData/Update-TypeData) measured slower at import, and ListControl items cannot carry an
    # ItemSelectionCondition through the public API (bench/ColdStart, issue 17).
    FormatsToProcess     = @('KvmHost.format.ps1xml')
    TypesToProcess       = @('KvmHost.types.ps1xml')
    # Names, not '*': '*' saves ~5 ms of import (no culture-aware name matching) but breaks command autoloading.
    CmdletsToExport      = @(
        'Test-KvmCpuSupport'
        'Install-KvmPackages'
        'Get-KvmPackages'
        'Enable-Libvirtd'
        'Get-Libvirtd'
        'New-HostBridge'
        'Get-HostBridge'
        'Remove-HostBridge'
        'Set-IpForwarding'
        'Get-IpForwarding'
        'Test-KvmHost'
        'Get-KvmGuest'
        'Start-KvmGuest'
        'Stop-KvmGuest'
        'Restart-KvmGuest'
        'Suspend-KvmGuest'
        'Resume-KvmGuest'
        'Wait-KvmGuest'
        'Set-KvmGuest'
        'New-KvmGuest'
        'Remove-KvmGuest'
        'Checkpoint-KvmGuest'
        'Get-KvmGuestCheckpoint'
        'Restore-KvmGuestCheckpoint'
        'Remove-KvmGuestCheckpoint'
        'Connect-KvmGuest'
        'Get-KvmGuestConsoleLog'
    )
    FunctionsToExport    = @()
    AliasesToExport      = @()
    VariablesToExport    = @()
    PrivateData          = @{
        PSData = @{
            Tags         = @('KVM', 'libvirt', 'Linux', 'RHEL', 'virtualization', 'bridge', 'NetworkManager')
            # No ProjectUri or LicenseUri: the project has no public address yet, and an empty one makes
            # Publish-PSResource refuse to pack. The license ships as the LICENSE file next to this manifest.
            ReleaseNotes = 'KvmHost 0.1.0: Test-KvmCpuSupport, Install-KvmPackages, Enable-Libvirtd, New-HostBridge, Set-IpForwarding and their Get-* read side, Test-KvmHost, and a Pester compliance suite. Every change is idempotent, reports Changed, previews with -WhatIf and works offline on an image with -Root. Changes per version: CHANGELOG.md in the module folder.'
        }
    }
}
