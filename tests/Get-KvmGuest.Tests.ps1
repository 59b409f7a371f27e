BeforeDiscovery {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot 'harness/GuestLab.psm1') -Force
    # libvirt's client library is all the test driver needs; the lab needs root, libvirtd and QEMU too.
    $handle = [IntPtr]::Zero
    $noLibvirt = if (-not [System.Runtime.InteropServices.NativeLibrary]::TryLoad('libvirt.so.0', [ref] $handle)) {
        'libvirt.so.0 is not installed (Debian package libvirt0)'
    }
    $noLab = Test-GuestLabSupported
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    Import-Module (Get-KvmHostModulePath) -Force
    Import-Module (Join-Path $PSScriptRoot 'harness/Harness.psm1'), (Join-Path $PSScriptRoot 'harness/GuestLab.psm1') -Force
    # virt-manager's test-driver world: 14 guests in every state, loaded in-process by libvirt (no daemon).
    $world = 'test://' + (Get-FixturePath 'libvirt/virt-manager-testdriver.xml')
}

Describe "Get-KvmGuest through libvirt's test driver$(if ($noLibvirt) { " (skipped: $noLibvirt)" })" -Skip:([bool] $noLibvirt) {
    It 'lists every guest, running or not, as KvmGuest objects sorted by name' {
        $guests = Get-KvmGuest -Uri $world
        @($guests).Count | Should -Be 14
        $guests[0] | Should -BeOfType ([KvmHost.Core.Guests.KvmGuest])
        @($guests.Name) | Should -Be @($guests.Name | Sort-Object)
        ($guests | Where-Object Name -eq 'test-state-paused').State | Should -Be 'Paused'
        ($guests | Where-Object Name -eq 'test-state-shutoff').Id | Should -BeNullOrEmpty
        ($guests | Where-Object Name -eq 'test-state-transient').Persistent | Should -BeFalse
        ($guests | Where-Object Name -eq 'test-state-managedsave').HasManagedSave | Should -BeTrue
        $guests | ForEach-Object { $_.Uri | Should -Be $world }
    }

    It 'reads memory, processors, osinfo, description and adapters' {
        $guest = Get-KvmGuest -Uri $world -Name test-alternate-devs
        $guest.MemoryBytes | Should -Be 64GB
        $guest.MaximumMemoryBytes | Should -Be 128GB
        $guest.ProcessorCount | Should -Be 2
        $guest.OsVariant | Should -Be 'msdos6.22'
        $guest.Description | Should -Match "^Test alternate devices that can't be crammed in"
        $guest.NetworkAdapters[0].Bridge | Should -Be 'blahbr0'
    }

    It 'matches wildcards ignoring case, and filters by state' {
        @((Get-KvmGuest -Uri $world 'TEST-STATE-*').Name) | Should -Be @('test-state-crashed', 'test-state-managedsave', 'test-state-paused',
            'test-state-pmsuspended', 'test-state-shutoff', 'test-state-transient')
        @((Get-KvmGuest -Uri $world -State Paused, Crashed).Name) | Should -Be @('test-state-crashed', 'test-state-paused')
        @((Get-KvmGuest -Uri $world 'test-clone*' -State Running).Name) | Should -BeNullOrEmpty
    }

    It 'takes names from the pipeline, and guest objects to read again' {
        @(('test', 'test-clone') | Get-KvmGuest -Uri $world).Name | Should -Be @('test', 'test-clone')
        # (guests the world file gives no <uuid> get a new one at every load: this one has its own)
        $again = Get-KvmGuest -Uri $world test-alternate-devs | Get-KvmGuest
        $again.Name | Should -Be 'test-alternate-devs'
        $again.Uri | Should -Be $world -Because 'a guest object is read again through the URI it came from'
    }

    It 'reports a missing name as GuestNotFound and still lists the others' {
        $found = Get-KvmGuest -Uri $world 'test', 'no-such-guest', 'nothing*' -ErrorVariable failures -ErrorAction SilentlyContinue
        @($found).Name | Should -Be @('test')
        @($failures).Count | Should -Be 1 -Because 'a wildcard that matches nothing is no error'
        $failures[0].FullyQualifiedErrorId | Should -Be 'GuestNotFound,KvmHost.Commands.GetKvmGuestCommand'
        $failures[0].CategoryInfo.Category | Should -Be 'ObjectNotFound'
        $failures[0].TargetObject | Should -Be 'no-such-guest'
        $failures[0].ErrorDetails.RecommendedAction | Should -Match 'Get-KvmGuest -Uri'
    }

    It 'refuses the hostile name <Shown> with GuestNameInvalid before libvirt is asked' -ForEach @(
        @{ Shown = 'a/b'; Name = 'a/b' }
        @{ Shown = '..'; Name = '..' }
        @{ Shown = 'newline'; Name = "web`n01" }
        @{ Shown = '<x>'; Name = '<x>' }
        @{ Shown = 'a&b'; Name = 'a&b' }
        @{ Shown = 'quote'; Name = "it's" }
        @{ Shown = 'double quote'; Name = '"q"' }
        @{ Shown = '-rf'; Name = '-rf' }
        @{ Shown = '201 bytes'; Name = 'x' * 201 }
    ) {
        # A URI that cannot be opened: the name must fail first, so libvirt is never reached.
        $failure = { Get-KvmGuest -Uri 'qemu+unix:///system?socket=/nonexistent/kvmhost/libvirt-sock' -Name $Name -ErrorAction Stop } |
            Should -Throw -ErrorId 'GuestNameInvalid,KvmHost.Commands.GetKvmGuestCommand' -PassThru
        $failure.CategoryInfo.Category | Should -Be 'InvalidArgument'
        $failure.TargetObject | Should -Be $Name
        $failure.ErrorDetails.RecommendedAction | Should -Not -BeNullOrEmpty
    }

    It 'refuses a broken wildcard pattern with GuestNameInvalid' {
        { Get-KvmGuest -Uri $world 'test[' -ErrorAction Stop } | Should -Throw -ErrorId 'GuestNameInvalid,KvmHost.Commands.GetKvmGuestCommand'
    }

    It 'completes guest names from the libvirt on the command line' {
        $line = 'Get-KvmGuest -Uri test:///default -Name te'
        $completion = TabExpansion2 -inputScript $line -cursorColumn $line.Length
        @($completion.CompletionMatches.CompletionText) | Should -Be @('test')
    }

    It 'refuses a URI that is not one with LibvirtUriInvalid' {
        { Get-KvmGuest -Uri "qemu:///system`nx" -ErrorAction Stop } | Should -Throw -ErrorId 'LibvirtUriInvalid,KvmHost.Commands.GetKvmGuestCommand'
    }

    It 'lets libvirt print nothing of its own: the failure is only the ErrorRecord' {
        # libvirt's default error handler writes "libvirt: ... error : ..." to stderr; the module silences it.
        $pwsh = Get-HarnessPwshCommand
        $script = "Import-Module '$(Get-KvmHostModulePath)'; try { Get-KvmGuest -Uri 'qemu+unix:///system?socket=/nonexistent/kvmhost/sock' } catch { `$_.FullyQualifiedErrorId }; 'done'"
        $stderr = Join-Path ([IO.Path]::GetTempPath()) "kvmhost-stderr-$([guid]::NewGuid().ToString('N')).txt"
        try {
            $stdout = & $pwsh[0] @($pwsh | Select-Object -Skip 1) -NoProfile -NonInteractive -Command $script 2>$stderr
            $stdout | Should -Be @('LibvirtNotReachable,KvmHost.Commands.GetKvmGuestCommand', 'done')
            Get-Content -Raw -LiteralPath $stderr | Should -BeNullOrEmpty
        }
        finally { Remove-Item -LiteralPath $stderr -ErrorAction Ignore }
    }

    It 'uses $env:LIBVIRT_DEFAULT_URI when -Uri is not given, and -Uri over it' {
        $saved = $env:LIBVIRT_DEFAULT_URI
        try {
            $env:LIBVIRT_DEFAULT_URI = $world
            @(Get-KvmGuest).Count | Should -Be 14
            (Get-KvmGuest -Uri 'test:///default').Name | Should -Be 'test'
        }
        finally { $env:LIBVIRT_DEFAULT_URI = $saved }
    }

    It 'never binds a bridge (or any object but a string) as a guest name' {
        $image = New-ScratchRoot -Fixtures @{ 'etc/sysconfig/network-scripts/ifcfg-br0' = 'ifcfg/initscripts-example-ifcfg-br0' }
        try {
            $bridge = Get-HostBridge -Root $image
            $bridge.Name | Should -Be 'br0'
            { $bridge | Get-KvmGuest -Uri $world -ErrorAction Stop } | Should -Throw -ErrorId 'InputObjectNotBound,KvmHost.Commands.GetKvmGuestCommand'
            { [pscustomobject]@{ Name = 'test' } | Get-KvmGuest -Uri $world -ErrorAction Stop } |
                Should -Throw -ErrorId 'InputObjectNotBound,KvmHost.Commands.GetKvmGuestCommand'
        }
        finally { Remove-ScratchRoot $image }
    }

    It 'binds any object with Uuid and Uri, such as a guest that came back from remoting' {
        $guest = Get-KvmGuest -Uri $world test-alternate-devs
        $again = [pscustomobject]@{ Uuid = $guest.Uuid; Uri = $world; Name = 'ignored' } | Get-KvmGuest
        $again.Name | Should -Be 'test-alternate-devs'
    }

    It 'names guests the same way in every guest cmdlet: -Name alias -VMName (Hyper-V''s), objects, and UUIDs by property name' {
        (Get-KvmGuest -Uri $world -VMName test-alternate-devs).Name | Should -Be 'test-alternate-devs'
        # An object with a VMName property still binds nothing through it: -Name takes strings only, never by property name.
        { [pscustomobject]@{ VMName = 'test' } | Get-KvmGuest -Uri $world -ErrorAction Stop } |
            Should -Throw -ErrorId 'InputObjectNotBound,KvmHost.Commands.GetKvmGuestCommand'
        $takesGuests = Get-Command -Module KvmHost -Noun KvmGuest*, KvmGuestCheckpoint |
            Where-Object { $_.Parameters['Name'] }
        @($takesGuests).Count | Should -BeGreaterOrEqual 16
        foreach ($command in $takesGuests) {
            $name = $command.Parameters['Name']
            $name.Aliases | Should -Contain 'VMName' -Because "$($command.Name) -Name is a guest name"
            $name.ParameterSets.Values.ValueFromPipelineByPropertyName | Should -Not -Contain $true -Because "$($command.Name) must not take another object's Name"
            if ($command.Name -ne 'New-KvmGuest') {
                $command.Parameters['Uuid'].ParameterSets.Values.ValueFromPipelineByPropertyName | Should -Contain $true -Because "$($command.Name) takes guests back from remoting"
                $command.Parameters['Guest'] | Should -Not -BeNullOrEmpty -Because "$($command.Name) takes KvmGuest objects"
            }
        }
    }

    It 'fits its default table in 120 columns, like Get-VM' {
        $lines = (Get-KvmGuest -Uri $world | Out-String -Width 120) -split "`n"
        $lines | ForEach-Object { $_.TrimEnd().Length | Should -BeLessOrEqual 120 }
        $lines[1] | Should -Match '^Name\s+State\s+Reason\s+CPUs\s+Memory\(MiB\)\s+Uptime\s+Autostart'
        ($lines | Where-Object { $_ -match '^test-state-paused ' }) | Should -Match 'Paused\s+Unknown\s+\d+\s+\d+'
    }

    It 'keeps disks and adapters as objects through remoting serialization' {
        # A job runs in another pwsh and sends its output back through PowerShell's remoting serializer.
        $job = Start-Job -ArgumentList (Get-KvmHostModulePath), $world {
            param($module, $uri) Import-Module $module; Get-KvmGuest -Uri $uri test-alternate-devs, test-many-devices
        }
        try { $remote = Receive-Job $job -Wait -ErrorAction Stop } finally { Remove-Job $job -Force }
        $guest = $remote | Where-Object Name -eq 'test-alternate-devs'
        $guest.PSObject.TypeNames[0] | Should -Be 'Deserialized.KvmHost.Core.Guests.KvmGuest'
        $guest.State | Should -Be 'Running' -Because 'the state arrives as its name'
        $guest.NetworkAdapters[0].MacAddress | Should -Be '22:11:11:11:72:72'
        $guest.NetworkAdapters[0].PSObject.TypeNames[0] | Should -Be 'Deserialized.KvmHost.Core.Guests.KvmGuestNetworkAdapter'
        $many = $remote | Where-Object Name -eq 'test-many-devices'
        @($many.Disks).Count | Should -BeGreaterThan 3
        $many.Disks | ForEach-Object { $_.Target | Should -Not -BeNullOrEmpty -Because 'each disk arrives as an object, not as its text' }
        ($many | Out-String -Width 120) | Should -Match 'test-many-devices\s+Running' -Because 'remote guests use the same view'
    }
}

Describe "Get-KvmGuest against a real libvirtd and QEMU guests$(if ($noLab) { " (skipped: $noLab)" })" -Tag 'Root', 'GuestLab' -Skip:([bool] $noLab) {
    BeforeAll {
        $lab = Start-GuestLab -Network
        $null = New-LabGuest -Lab $lab -Name web1 -DiskText 'state-0' -Network default -Description 'a <web> & "guest"' -Start
        $null = New-LabGuest -Lab $lab -Name db1 -DiskSizeMiB 32
        $null = Wait-LabGuestConsole -Lab $lab -Name web1 -Pattern '^KVMHOST-GUEST-READY web1'
    }
    AfterAll { if ($lab) { Stop-GuestLab $lab } }

    It 'reads a running guest: id, CPU time, uptime, memory, its volume and its NIC on the network' {
        $web = Get-KvmGuest -Uri $lab.Uri web1
        $web.State | Should -Be 'Running'
        $web.StateReason | Should -Be 'Booted'
        $web.Id | Should -BeGreaterThan 0
        $web.CpuTime | Should -BeGreaterThan ([TimeSpan]::Zero)
        $web.Uptime | Should -BeGreaterThan ([TimeSpan]::Zero) -Because 'the lab is on this machine, so its QEMU is in our /proc'
        $web.Uptime | Should -BeLessThan ([TimeSpan]::FromMinutes(30))
        $web.MemoryBytes | Should -Be 256MB
        $web.ProcessorCount | Should -Be 1
        $web.Description | Should -Be 'a <web> & "guest"'
        $web.Disks[0].Target | Should -Be 'vda'
        $web.Disks[0].Format | Should -Be 'qcow2'
        $web.Disks[0].Source | Should -Be 'default/web1.qcow2'
        $web.Disks[0].CapacityBytes | Should -Be 16MB
        $nic = $web.NetworkAdapters[0]
        ($nic.Network, $nic.Bridge, $nic.Model) | Should -Be @('default', 'virbr0', 'virtio')
        $nic.MacAddress | Should -Match '^52:54:00(:[0-9a-f]{2}){3}$'
        $nic.Device | Should -Match '^vnet\d+$'
    }

    It 'reads a guest that is off, with its volume sizes from the pool' {
        $db = Get-KvmGuest -Uri $lab.Uri db1
        $db.State | Should -Be 'ShutOff'
        $db.Id | Should -BeNullOrEmpty
        $db.CpuTime | Should -BeNullOrEmpty
        $db.Uptime | Should -BeNullOrEmpty
        $db.Disks[0].CapacityBytes | Should -Be 32MB
        $db.Disks[0].AllocationBytes | Should -BeGreaterThan 0
    }

    It 'reports the DHCP lease of the libvirt network as the adapter''s address' {
        $guest = Wait-KvmGuest -Uri $lab.Uri web1 -For IPAddress -TimeoutSec 120 -PassThru
        $lease = (Invoke-GuestLabVirsh $lab 'domifaddr', 'web1', '--source', 'lease').StdOut
        $guest.NetworkAdapters[0].IPAddresses | Should -HaveCount 1
        $guest.NetworkAdapters[0].IPAddresses[0] | Should -Match '^203\.0\.113\.\d+$'
        $lease | Should -Match ([regex]::Escape($guest.NetworkAdapters[0].IPAddresses[0]))
        $line = Wait-LabGuestConsole -Lab $lab -Name web1 -Pattern '^KVMHOST-NET eth0 '
        $line | Should -Match ([regex]::Escape($guest.NetworkAdapters[0].IPAddresses[0]))
    }

    It 'sees the lab''s own libvirtd as qemu:///system from inside the lab' {
        $pwsh = Get-HarnessPwshCommand
        $result = Invoke-InGuestLab $lab -Command ($pwsh + @('-NoProfile', '-NonInteractive', '-Command',
            "Import-Module '$(Get-KvmHostModulePath)'; (Get-KvmGuest | ForEach-Object { `$_.Name + '=' + `$_.Uri }) -join ','"))
        $result.StdOut.Trim() | Should -Be 'db1=qemu:///system,web1=qemu:///system'
    }

    It 'gives Test-KvmHost a Guests area: autostart guests that are down, disk images libvirt cannot read' {
        $saved = $env:LIBVIRT_DEFAULT_URI
        $xml = Join-Path $lab.Directory 'lost1.xml'
        (New-LabGuestXml -Lab $lab -Name lost1) -replace '<devices>', "<devices><disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='/var/lib/libvirt/images/moved-away.qcow2'/><target dev='vda' bus='virtio'/></disk>" |
            Set-Content -LiteralPath $xml
        $null = Invoke-GuestLabVirsh $lab 'define', $xml
        $null = Invoke-GuestLabVirsh $lab 'autostart', 'db1'
        try {
            $env:LIBVIRT_DEFAULT_URI = $lab.Uri
            $checks = (Test-KvmHost -BridgeName '' -TimeoutSec 2).Checks | Where-Object Area -eq 'Guests'
            $autostart = $checks | Where-Object Name -eq 'autostart guests running'
            $autostart.Result | Should -Be 'Warn'
            $autostart.Detail | Should -Match '1 of 1 .*: db1$'
            $autostart.Hint | Should -Match '^Start-KvmGuest db1'
            $disks = $checks | Where-Object Name -eq 'guest disks readable'
            $disks.Result | Should -Be 'Fail'
            $disks.Detail | Should -Match 'lost1 vda \(/var/lib/libvirt/images/moved-away\.qcow2\)'
            $disks.Detail | Should -Not -Match 'web1|db1' -Because 'their images are there'
            $offline = New-ScratchRoot -Fixtures @{ 'etc/os-release' = 'os-release/rhel-9.6.os-release' }
            try {
                $note = (Test-KvmHost -Root $offline -BridgeName '').Checks | Where-Object Area -eq 'Guests'
                ($note.Result, $note.Detail) | Should -Be @('NotApplicable', "-Root $offline is not the running system: guests live in a running libvirt")
            }
            finally { Remove-ScratchRoot $offline }
        }
        finally {
            $env:LIBVIRT_DEFAULT_URI = $saved
            $null = Invoke-GuestLabVirsh $lab 'autostart', '--disable', 'db1'
            $null = Invoke-GuestLabVirsh $lab 'undefine', 'lost1'
        }
    }

    It 'names a daemon that is not there LibvirtNotReachable, with Enable-Libvirtd as the way out' {
        $uri = "qemu+unix:///system?socket=$($lab.Directory)/run/libvirt/no-such-sock"
        $failure = { Get-KvmGuest -Uri $uri -ErrorAction Stop } | Should -Throw -ErrorId 'LibvirtNotReachable,KvmHost.Commands.GetKvmGuestCommand' -PassThru
        $failure.CategoryInfo.Category | Should -Be 'ResourceUnavailable'
        $failure.TargetObject | Should -Be $uri
        $failure.ErrorDetails.RecommendedAction | Should -Match 'Enable-Libvirtd'
    }

    It 'says LibvirtNotInstalled, with the package, on a machine without libvirt.so.0' {
        # A private mount namespace where the library file is empty: dlopen fails as if it were not installed.
        $library = (& ldconfig -p | Select-String 'libvirt\.so\.0 .*=> (\S+)').Matches[0].Groups[1].Value
        $probe = Join-Path $lab.Directory 'no-libvirt-probe.ps1'
        Set-Content -LiteralPath $probe -Value @(
            '$PSStyle.OutputRendering = ''PlainText'''
            "Import-Module '$(Get-KvmHostModulePath)'"
            'try { Get-KvmGuest -Uri test:///default -ErrorAction Stop } catch { $_.FullyQualifiedErrorId; $_.ErrorDetails.RecommendedAction }'
        )
        $pwsh = (Get-HarnessPwshCommand | ForEach-Object { "'$_'" }) -join ' '
        $output = & unshare --mount --propagation private sh -c "mount --bind /dev/null '$library' && exec $pwsh -NoProfile -NonInteractive -File '$probe'" 2>&1
        $output[0] | Should -Be 'LibvirtNotInstalled,KvmHost.Commands.GetKvmGuestCommand'
        "$($output[1])" | Should -Match 'libvirt0|libvirt-libs'
        $handle = [IntPtr]::Zero
        [System.Runtime.InteropServices.NativeLibrary]::TryLoad('libvirt.so.0', [ref] $handle) | Should -BeTrue -Because 'only the namespace lost it'
    }
}

Describe 'about_KvmHost_Guests' -Tag 'Help' {
    It 'is installed with the module and explains the URI, the shutdown semantics and the binding' {
        $text = Get-Help about_KvmHost_Guests | Out-String
        $text | Should -Match 'LIBVIRT_DEFAULT_URI'
        $text | Should -Match 'GuestShutdownTimedOut'
        $text | Should -Match 'Stop-KvmGuest web01 -Force'
        $text | Should -Match 'never becomes a guest name'
    }
}
