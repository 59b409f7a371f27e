BeforeDiscovery {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot 'harness/Fleet.psm1') -Force
    $skipReason = Test-TestFleetSupported
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    Import-Module (Get-KvmHostModulePath) -Force
    Import-Module (Join-Path $PSScriptRoot 'harness/Fleet.psm1') -Force
    $moduleDirectory = Split-Path (Get-KvmHostModulePath)
    $version = (Import-PowerShellDataFile (Get-KvmHostModulePath)).ModuleVersion
    $installPath = "/usr/local/share/powershell/Modules/KvmHost/$version"
}

Describe "Get-KvmGuest across a fleet over SSH remoting$(if ($skipReason) { " (skipped: $skipReason)" })" -Tag 'Fleet', 'Root' -Skip:([bool] $skipReason) {
    BeforeAll {
        $fleet = New-TestFleet -Count 2
        $connect = $fleet.SessionParameters
        $sessions = @(New-PSSession @connect -ErrorAction Stop | Sort-Object { [array]::IndexOf($fleet.Hosts.HostName, $_.ComputerName) })
        foreach ($session in $sessions) {
            Copy-Item -Path $moduleDirectory -Destination $installPath -ToSession $session -Recurse -Force -ErrorAction Stop
        }
        # Each box runs its own libvirtd (systemd starts Debian's in the box); one guest is defined in each,
        # named after the box, with a disk and a bridge adapter. It never runs.
        foreach ($index in 0..($sessions.Count - 1)) {
            $name = "fleet-guest-$($index + 1)"
            $mac = '52:54:00:00:00:{0:x2}' -f ($index + 1)
            Invoke-Command -Session $sessions[$index] -ErrorAction Stop {
                $xml = @"
<domain type='qemu'>
  <name>$using:name</name>
  <memory unit='MiB'>128</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='q35'>hvm</type></os>
  <devices>
    <disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='/var/lib/libvirt/images/$using:name.qcow2'/><target dev='vda' bus='virtio'/></disk>
    <interface type='bridge'><mac address='$using:mac'/><source bridge='br0'/><model type='virtio'/></interface>
  </devices>
</domain>
"@
                Set-Content -LiteralPath /tmp/kvmhost-fleet-guest.xml -Value $xml
                # virsh: the test's fixture tool, run on the box; the product is what reads the guest back.
                $output = & virsh -c qemu:///system define /tmp/kvmhost-fleet-guest.xml 2>&1
                if ($LASTEXITCODE -ne 0) { throw "virsh define on $(hostname): $output" }
            }
        }
    }

    AfterAll {
        if ($sessions) { $sessions | Remove-PSSession }
        if ($fleet) { Remove-TestFleet $fleet }
    }

    It "lists each host's guests, told apart by PSComputerName, with disks and adapters intact" {
        $guests = Invoke-Command -Session $sessions -ErrorAction Stop { Import-Module KvmHost; Get-KvmGuest }
        @($guests).Count | Should -Be 2
        foreach ($index in 0..1) {
            $guest = $guests | Where-Object PSComputerName -eq $fleet.Hosts[$index].HostName
            $guest.Name | Should -Be "fleet-guest-$($index + 1)" -Because 'each host reports only its own libvirt'
            $guest.PSObject.TypeNames[0] | Should -Be 'Deserialized.KvmHost.Core.Guests.KvmGuest'
            $guest.State | Should -Be 'ShutOff'
            $guest.Uri | Should -Be 'qemu:///system'
            $guest.MemoryBytes | Should -Be 128MB
            $guest.Disks[0].Target | Should -Be 'vda'
            $guest.Disks[0].Source | Should -Be "/var/lib/libvirt/images/fleet-guest-$($index + 1).qcow2"
            $guest.Disks[0].Format | Should -Be 'qcow2'
            $guest.NetworkAdapters[0].MacAddress | Should -Be ('52:54:00:00:00:{0:x2}' -f ($index + 1))
            $guest.NetworkAdapters[0].Bridge | Should -Be 'br0'
            $guest.NetworkAdapters[0].PSObject.TypeNames[0] | Should -Be 'Deserialized.KvmHost.Core.Guests.KvmGuestNetworkAdapter'
        }
    }

    It 'shows remote guests in the same table as local ones' {
        $guests = Invoke-Command -Session $sessions -ErrorAction Stop { Import-Module KvmHost; Get-KvmGuest }
        $text = $guests | Out-String -Width 120
        $text | Should -Match 'fleet-guest-1\s+ShutOff\s+Unknown\s+1\s+128'
        $text | Should -Not -Match 'NetworkAdapters' -Because 'the view, not the list of every property, formats it'
    }

    It 'reports a name one host does not have as an error from that host, while the other answers' {
        $guests = Invoke-Command -Session $sessions -ErrorAction SilentlyContinue -ErrorVariable failures {
            Import-Module KvmHost; Get-KvmGuest fleet-guest-1
        }
        @($guests).PSComputerName | Should -Be @($fleet.Hosts[0].HostName)
        @($failures).Count | Should -Be 1
        $failures[0].OriginInfo.PSComputerName | Should -Be $fleet.Hosts[1].HostName
        $failures[0].FullyQualifiedErrorId | Should -Be 'GuestNotFound,KvmHost.Commands.GetKvmGuestCommand'
    }
}
