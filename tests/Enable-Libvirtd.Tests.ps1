BeforeDiscovery {
    # -Skip conditions are evaluated during discovery, before BeforeAll runs.
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot 'harness/SystemdBox.psm1') -Force
    $script:noBox = Test-TestBoxSupported
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot 'harness/SystemdBox.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot 'harness/libvirtd-ModularUnits.psm1') -Force
    Import-Module (Get-KvmHostModulePath) -Force

    $script:monolithicUnits = @{
        'usr/lib/systemd/system/libvirtd.service'      = "[Service]`nExecStart=/usr/sbin/libvirtd`n[Install]`nWantedBy=multi-user.target`n"
        'usr/lib/systemd/system/libvirtd.socket'       = "[Socket]`nListenStream=/run/libvirt/libvirt-sock`n[Install]`nWantedBy=sockets.target`n"
        'usr/lib/systemd/system/libvirtd-ro.socket'    = "[Socket]`nListenStream=/run/libvirt/libvirt-sock-ro`nService=libvirtd.service`n[Install]`nWantedBy=sockets.target`n"
        'usr/lib/systemd/system/libvirtd-admin.socket' = "[Socket]`nListenStream=/run/libvirt/libvirt-admin-sock`nService=libvirtd.service`n[Install]`nWantedBy=sockets.target`n"
    }

    function New-LibvirtRoot([switch] $Modular, [string] $OsRelease) {
        $files = @{} + $script:monolithicUnits
        if ($Modular) {
            foreach ($entry in (Get-ModularLibvirtUnitFiles).GetEnumerator()) {
                $files[$entry.Key.TrimStart('/').Replace('etc/systemd/system', 'usr/lib/systemd/system')] = $entry.Value
            }
        }
        $fixtures = @{}
        if ($OsRelease) { $fixtures['etc/os-release'] = "os-release/$OsRelease" }
        New-ScratchRoot -Files $files -Fixtures $fixtures -Directories 'etc/systemd/system'
    }

    function Get-OfflineUnitState([string] $Root, [string[]] $Unit) {
        # systemctl itself, not the module, says what is enabled in the image.
        @(& systemctl "--root=$Root" is-enabled -- @Unit 2>$null)
    }

    function Invoke-KvmHostInBox {
        <#
            Runs a KvmHost command inside a box with the built module; returns State, Verbose, Warnings, ErrorId,
            Message, and with -Then the output of a second command run in the same pwsh (each pwsh start costs seconds).
        #>
        param([string] $Name, [string] $Command, [string] $Then = '$null')
        $module = Get-KvmHostModulePath
        $script = @"
`$ErrorActionPreference = 'Stop'
Import-Module '$module'
`$PSStyle.OutputRendering = 'PlainText'
`$warnings = @()
& { try {
    `$all = @($Command -Verbose -WarningVariable +warnings -WarningAction SilentlyContinue 4>&1)
    `$state = `$all | Where-Object { `$_ -isnot [System.Management.Automation.VerboseRecord] } | Select-Object -First 1
    `$verbose = @(`$all | Where-Object { `$_ -is [System.Management.Automation.VerboseRecord] } | ForEach-Object Message)
    `$then = $Then
    [pscustomobject]@{ State = `$state; Then = `$then; Verbose = `$verbose; Warnings = @(`$warnings | ForEach-Object { "`$_" }); ErrorId = `$null; Message = `$null }
} catch {
    [pscustomobject]@{ State = `$null; Verbose = @(); Warnings = @(`$warnings | ForEach-Object { "`$_" }); ErrorId = `$_.FullyQualifiedErrorId; Message = `$_.Exception.Message }
} } | ConvertTo-Json -Depth 5 -Compress -EnumsAsStrings
"@
        $pwsh = Get-PwshInvocation
        $result = Invoke-TestBox -Name $Name -Command (@('env', 'NO_COLOR=1', 'TERM=dumb') + @($pwsh) + @('-NoProfile', '-NonInteractive', '-Command', $script)) -TimeoutSec 180
        # -WhatIf prints its "What if:" lines first; the answer is the one compressed JSON line at the end.
        ($result.StdOut -split "`n" | Where-Object { $_.StartsWith('{') } | Select-Object -Last 1) | ConvertFrom-Json
    }

    function Get-BoxUnitState([string] $Name, [string] $Verb, [string[]] $Unit) {
        @((Invoke-TestBox -Name $Name -Command (@('systemctl', $Verb, '--') + $Unit) -AllowFailure).StdOut.Trim() -split "`n")
    }

    function Test-BoxLibvirtAnswers([string] $Name) {
        # An independent client: Debian's virsh connecting the way admins do.
        $virsh = Invoke-TestBox -Name $Name -Command virsh, --readonly, -c, 'qemu:///system', version -AllowFailure -TimeoutSec 60
        $virsh.ExitCode -eq 0 -and $virsh.StdOut -match 'Running hypervisor'
    }

    function New-BoxName([string] $Prefix) { "$Prefix-$([guid]::NewGuid().ToString('N').Substring(0, 8))" }
}

Describe 'Enable-Libvirtd' {
    Context 'offline root (systemctl --root)' {
        It 'enables libvirtd and its sockets in the image, starts nothing, and says so' {
            $root = New-LibvirtRoot -OsRelease 'debian-12.os-release'
            try {
                $state = Enable-Libvirtd -Root $root
                $state.Mode | Should -Be 'Monolithic'
                $state.Changed | Should -BeTrue
                $state.Enabled | Should -BeTrue
                $state.RuntimeApplied | Should -BeFalse
                $state.Active | Should -BeFalse
                $state.Note | Should -Match 'nothing was started'
                $state.WhatIf | Should -BeFalse
                $state.PlannedChanges | Should -HaveCount 1
                $state.PlannedChanges[0] | Should -BeLike "systemctl --root=$root enable -- libvirtd.service*"
                Get-OfflineUnitState $root libvirtd.service, libvirtd.socket, libvirtd-ro.socket, libvirtd-admin.socket |
                    Should -Be @('enabled', 'enabled', 'enabled', 'enabled')
                $state.PSObject.TypeNames[0] | Should -Be 'KvmHost.Core.Services.LibvirtdResult'
            } finally { Remove-ScratchRoot $root }
        }

        It 'changes nothing on a second run' {
            $root = New-LibvirtRoot -OsRelease 'debian-12.os-release'
            try {
                $null = Enable-Libvirtd -Root $root
                $before = Get-TreeHash $root
                $again = Enable-Libvirtd -Root $root -Verbose 4>&1
                $state = $again | Where-Object { $_ -isnot [System.Management.Automation.VerboseRecord] }
                $state.Changed | Should -BeFalse
                $state.PlannedChanges | Should -BeNullOrEmpty
                ($again | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] }).Message |
                    Should -Not -Match 'systemctl \S+ (enable|disable|unmask|start|stop) '
                Get-TreeHash $root | Should -Be $before
            } finally { Remove-ScratchRoot $root }
        }

        It 'chooses the modular daemons on a fresh RHEL 9 image and enables their sockets, not libvirtd' {
            $root = New-LibvirtRoot -Modular -OsRelease 'rhel-9.6.os-release'
            try {
                $state = Enable-Libvirtd -Root $root
                $state.Mode | Should -Be 'Modular'
                $state.Enabled | Should -BeTrue
                Get-OfflineUnitState $root virtqemud.service, virtqemud.socket, virtqemud-ro.socket, virtnetworkd-admin.socket |
                    Should -Be @('enabled', 'enabled', 'enabled', 'enabled')
                Get-OfflineUnitState $root libvirtd.service | Should -Be 'disabled'
            } finally { Remove-ScratchRoot $root }
        }

        It 'keeps libvirtd on an image upgraded from RHEL 8 where libvirtd is enabled' {
            $root = New-LibvirtRoot -Modular -OsRelease 'rhel-9.6.os-release'
            try {
                & systemctl "--root=$root" enable libvirtd.service 2>$null
                $state = Enable-Libvirtd -Root $root
                $state.Mode | Should -Be 'Monolithic'
                Get-OfflineUnitState $root virtqemud.socket | Should -Be 'disabled'
            } finally { Remove-ScratchRoot $root }
        }

        It 'switching an image to modular disables libvirtd first' {
            $root = New-LibvirtRoot -Modular -OsRelease 'rhel-9.6.os-release'
            try {
                & systemctl "--root=$root" enable libvirtd.service libvirtd.socket 2>$null
                $state = Enable-Libvirtd -Root $root -Mode Modular -WarningVariable warnings -WarningAction SilentlyContinue
                $state.PlannedChanges[0] | Should -BeLike '*disable -- libvirtd.service libvirtd.socket'
                "$warnings" | Should -Match 'libvirtd\.service'
                Get-OfflineUnitState $root libvirtd.service, libvirtd.socket, virtqemud.socket | Should -Be @('disabled', 'disabled', 'enabled')
            } finally { Remove-ScratchRoot $root }
        }

        It '-WhatIf shows the units as they are, lists the commands, and changes nothing, not even a lock file' {
            $root = New-LibvirtRoot -OsRelease 'debian-12.os-release'
            try {
                $before = Get-TreeHash $root
                $state = Enable-Libvirtd -Root $root -WhatIf
                Get-TreeHash $root | Should -Be $before
                Join-Path $root 'run' | Should -Not -Exist -Because 'the lock file lives in /run/lock'
                $state.WhatIf | Should -BeTrue
                $state.Changed | Should -BeFalse
                $state.Enabled | Should -BeFalse
                @($state.Units.UnitFileState) | Should -Be @('disabled', 'disabled', 'disabled', 'disabled')
                $state.PlannedChanges[0] | Should -BeLike '*enable -- libvirtd.service*'
                $state.Note | Should -Match 'a run would only enable units'
                ($state | Out-String -Width 120) | Should -Match 'WhatIf\s+: True\s+PlannedChanges\s+: systemctl --root='
            } finally { Remove-ScratchRoot $root }
        }

        It '-WhatIf on an enabled image is still a preview, with nothing planned' {
            $root = New-LibvirtRoot -OsRelease 'debian-12.os-release'
            try {
                $null = Enable-Libvirtd -Root $root
                $state = Enable-Libvirtd -Root $root -WhatIf
                $state.WhatIf | Should -BeTrue
                $state.Enabled | Should -BeTrue
                $state.PlannedChanges | Should -BeNullOrEmpty
            } finally { Remove-ScratchRoot $root }
        }

        It 'Get-Libvirtd reports the same units, state only, and changes nothing' {
            $root = New-LibvirtRoot -OsRelease 'debian-12.os-release'
            try {
                $before = Get-TreeHash $root
                $state = Get-Libvirtd -Root $root
                $state.Mode | Should -Be 'Monolithic'
                $state.Enabled | Should -BeFalse
                @($state.Units.Name) | Should -Be @('libvirtd.service', 'libvirtd.socket', 'libvirtd-ro.socket', 'libvirtd-admin.socket')
                @($state.Units.UnitFileState) | Should -Be @('disabled', 'disabled', 'disabled', 'disabled')
                Get-TreeHash $root | Should -Be $before
                $state.PSObject.TypeNames[0] | Should -Be 'KvmHost.Core.Services.LibvirtdState'
                foreach ($setterField in 'Changed', 'WhatIf', 'PlannedChanges', 'Actions', 'RuntimeApplied') {
                    $state.PSObject.Properties.Name | Should -Not -Contain $setterField
                }
                $state.Note | Should -Not -Match 'were only enabled' -Because 'a read enabled nothing'
                ($state | Out-String -Width 120) | Should -Not -Match 'Changed|PlannedChanges|WhatIf'
            } finally { Remove-ScratchRoot $root }
        }
    }

    Context 'pipeline from Install-KvmPackages' {
        It 'stops before systemd when <Case>' -ForEach @(
            @{ Case = 'libvirt failed to install'; Packages = @(@{ Name = 'qemu-kvm'; Status = 'Installed' }, @{ Name = 'libvirt'; Status = 'Failed' }) }
            @{ Case = 'libvirt is missing'; Packages = @(@{ Name = 'libvirt-daemon-system'; Status = 'Missing' }) }
            @{ Case = 'libvirt is not among the packages'; Packages = @(@{ Name = 'qemu-kvm'; Status = 'AlreadyInstalled' }) }
        ) {
            $root = New-LibvirtRoot -OsRelease 'debian-12.os-release'
            try {
                $before = Get-TreeHash $root
                $objects = $Packages | ForEach-Object { [pscustomobject]$_ }
                { $objects | Enable-Libvirtd -Root $root } |
                    Should -Throw -ErrorId 'LibvirtPackageNotInstalled,KvmHost.Commands.EnableLibvirtdCommand'
                Get-TreeHash $root | Should -Be $before
            } finally { Remove-ScratchRoot $root }
        }

        It 'under -WhatIf takes the preview of Install-KvmPackages -WhatIf and plans the units the packages would bring' {
            $root = New-ScratchRoot -Fixtures @{ 'etc/os-release' = 'os-release/rhel-9.6.os-release' } -Directories 'etc/systemd/system'
            try {
                $before = Get-TreeHash $root
                $package = [KvmHost.Core.Packages.KvmPackageResult]@{ Name = 'libvirt'; Status = 'Missing'; WhatIf = $true; PackageManager = 'dnf'; PlannedChanges = 'dnf -y install libvirt' }
                $state = $package | Enable-Libvirtd -Root $root -WhatIf
                $state.WhatIf | Should -BeTrue
                $state.Mode | Should -Be 'Modular'
                $state.Units | Should -BeNullOrEmpty -Because 'nothing is installed yet'
                $state.Enabled | Should -BeFalse
                $state.PlannedChanges | Should -HaveCount 1
                $state.PlannedChanges[0] | Should -BeLike "systemctl --root=$root enable -- virtqemud.service virtqemud.socket *"
                $state.Note | Should -Match 'not installed yet'
                Get-TreeHash $root | Should -Be $before

                { $package | Enable-Libvirtd -Root $root } |
                    Should -Throw -ErrorId 'LibvirtPackageNotInstalled,KvmHost.Commands.EnableLibvirtdCommand' -Because 'a real run needs libvirt installed'
                Get-TreeHash $root | Should -Be $before
            } finally { Remove-ScratchRoot $root }
        }

        It 'goes on when libvirt is installed, reading deserialized package objects by property' {
            $root = New-LibvirtRoot -OsRelease 'debian-12.os-release'
            try {
                $package = [pscustomobject]@{ PSTypeName = 'Deserialized.KvmHost.Core.Packages.PackageResult'; Name = 'libvirt-daemon-system'; Status = 'AlreadyInstalled'; Changed = $false }
                $state = $package | Enable-Libvirtd -Root $root
                $state.Enabled | Should -BeTrue
            } finally { Remove-ScratchRoot $root }
        }
    }

    Context 'errors that say what to do' {
        It 'fails with LibvirtNotInstalled when no libvirt unit exists, before taking the lock' {
            $root = New-ScratchRoot -Fixtures @{ 'etc/os-release' = 'os-release/debian-12.os-release' } -Directories 'etc/systemd/system'
            try {
                $before = Get-TreeHash $root
                $thrown = $null
                try { Enable-Libvirtd -Root $root } catch { $thrown = $_ }
                $thrown.FullyQualifiedErrorId | Should -Be 'LibvirtNotInstalled,KvmHost.Commands.EnableLibvirtdCommand'
                $thrown.CategoryInfo.Category | Should -Be 'NotInstalled'
                $thrown.ErrorDetails.RecommendedAction | Should -Match 'Install-KvmPackages'
                Join-Path $root 'run/lock/kvmhost.lock' | Should -Not -Exist -Because 'a refused call takes no lock'
                Get-TreeHash $root | Should -Be $before
            } finally { Remove-ScratchRoot $root }
        }

        It 'fails with SystemdNotRunning on a live host without systemd as PID 1' {
            if (Test-Path /run/systemd/system) { Set-ItResult -Skipped -Because 'systemd is PID 1 on this machine; the boxes below test with systemd'; return }
            { Get-Libvirtd } | Should -Throw -ErrorId 'SystemdNotRunning,KvmHost.Commands.GetLibvirtdCommand'
            { Enable-Libvirtd } | Should -Throw -ErrorId 'SystemdNotRunning,KvmHost.Commands.EnableLibvirtdCommand'
        }

        It 'fails with NotRoot before touching anything when not root' {
            if (Test-IsRoot) { Set-ItResult -Skipped -Because 'this run is root; Hardening.Tests checks NotRoot as uid 65534'; return }
            { Enable-Libvirtd } | Should -Throw -ErrorId 'NotRoot,KvmHost.Commands.EnableLibvirtdCommand'
        }
    }

    Context "monolithic libvirtd in a systemd box (Debian libvirt)$(if ($script:noBox) { " (skipped: $script:noBox)" })" -Skip:([bool] $script:noBox) {
        BeforeAll {
            $box = Start-TestBox -Name (New-BoxName 'lvmono')
            $units = 'libvirtd.service', 'libvirtd.socket', 'libvirtd-ro.socket', 'libvirtd-admin.socket'
            $null = Invoke-TestBox -Name $box.Name -Command (@('systemctl', 'disable', '--now', '--') + $units)
        }
        AfterAll { Stop-TestBox -Name $box.Name }

        It '-WhatIf on the running system shows the daemon stopped, plans enable and start, and changes nothing' {
            $run = Invoke-KvmHostInBox -Name $box.Name -Command 'Enable-Libvirtd -WhatIf'
            $run.ErrorId | Should -BeNullOrEmpty -Because $run.Message
            $run.State.WhatIf | Should -BeTrue
            $run.State.Changed | Should -BeFalse
            $run.State.Active | Should -BeFalse
            $run.State.Enabled | Should -BeFalse
            @($run.State.PlannedChanges) | Should -Be @('systemctl --no-ask-password enable -- libvirtd.service libvirtd.socket libvirtd-ro.socket libvirtd-admin.socket',
                'systemctl --no-ask-password start -- libvirtd.socket libvirtd-ro.socket libvirtd-admin.socket')
            Get-BoxUnitState $box.Name is-enabled $units | Should -Not -Contain 'enabled'
            Invoke-TestBox -Name $box.Name -Command test, -e, /run/lock/kvmhost.lock -AllowFailure | ForEach-Object ExitCode | Should -Be 1 -Because 'a preview takes no lock'
        }

        It 'starts from stopped and disabled, then enables, starts and reaches a real libvirtd' {
            Get-BoxUnitState $box.Name is-active $units | Should -Not -Contain 'active'
            $run = Invoke-KvmHostInBox -Name $box.Name -Command 'Enable-Libvirtd'
            $run.ErrorId | Should -BeNullOrEmpty -Because $run.Message
            $run.State.Mode | Should -Be 'Monolithic'
            $run.State.Changed | Should -BeTrue
            $run.State.Active | Should -BeTrue
            $run.State.Enabled | Should -BeTrue
            $run.State.Reachable | Should -BeTrue -Because $run.State.ProbeDetail
            Get-BoxUnitState $box.Name is-enabled $units | Should -Be @('enabled', 'enabled', 'enabled', 'enabled')
            Get-BoxUnitState $box.Name is-active 'libvirtd.socket', 'libvirtd-ro.socket', 'libvirtd-admin.socket' | Should -Be @('active', 'active', 'active')
            Test-BoxLibvirtAnswers $box.Name | Should -BeTrue
        }

        It 'changes nothing and runs no systemctl write on a second run; Get-Libvirtd reports the same state' {
            $run = Invoke-KvmHostInBox -Name $box.Name -Command 'Enable-Libvirtd' -Then 'Get-Libvirtd'
            $run.ErrorId | Should -BeNullOrEmpty -Because $run.Message
            $run.State.Changed | Should -BeFalse
            $run.State.PlannedChanges | Should -BeNullOrEmpty
            $run.State.Reachable | Should -BeTrue
            $run.Verbose -join "`n" | Should -Not -Match 'systemctl \S+ (enable|disable|unmask|start|stop) '
            @($run.Then.Units.Name) | Should -Be $units
            @($run.Then.Units.UnitFileState) | Should -Be @('enabled', 'enabled', 'enabled', 'enabled')
            $run.Then.Reachable | Should -BeTrue
            $run.Then.PSObject.Properties.Name | Should -Not -Contain 'Changed' -Because 'Get-Libvirtd describes state only'
        }

        It 'reads the units from systemd on the system bus, starting no systemctl, and agrees with systemctl show' {
            # The process path is what the same pwsh takes once the bus cannot be reached.
            $run = Invoke-KvmHostInBox -Name $box.Name -Command 'Get-Libvirtd' -Then @'
& { $env:DBUS_SYSTEM_BUS_ADDRESS = 'unix:path=/nonexistent/kvmhost-test-no-bus'
    $all = @(Get-Libvirtd -Verbose 4>&1)
    [pscustomobject]@{ State = $all | Where-Object { $_ -isnot [System.Management.Automation.VerboseRecord] }
        Verbose = @($all | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] } | ForEach-Object Message) } }
'@
            $run.ErrorId | Should -BeNullOrEmpty -Because $run.Message
            @($run.Verbose -match '^D-Bus: \d+ calls in one batch: busctl call org\.freedesktop\.systemd1 ').Count | Should -BeGreaterOrEqual 1
            @($run.Verbose -match '^Running: ') | Should -BeNullOrEmpty -Because 'systemd answers on the bus: no systemctl process'
            @($run.Then.Verbose -match '^Running: systemctl --no-ask-password show ').Count | Should -BeGreaterOrEqual 1
            foreach ($property in 'Name', 'ActiveState', 'SubState', 'UnitFileState') {
                @($run.State.Units.$property) | Should -Be @($run.Then.State.Units.$property) -Because "$property over the bus and from systemctl show"
            }
            @($run.State.Units.Name) | Should -Be $units
            $run.State.Active | Should -Be $run.Then.State.Active
            $run.State.Enabled | Should -Be $run.Then.State.Enabled
        }

        It 'reports a daemon that systemd cannot start as not reachable, with its journal' {
            $null = Invoke-TestBox -Name $box.Name -Command sh, -c, @'
mkdir -p /etc/systemd/system/libvirtd.service.d &&
printf '[Service]\nExecStart=\nExecStart=/bin/sh -c "echo kvmhost-test: libvirtd cannot start >&2; exit 3"\n' > /etc/systemd/system/libvirtd.service.d/broken.conf &&
systemctl daemon-reload && systemctl stop libvirtd.service
'@
            $run = Invoke-KvmHostInBox -Name $box.Name -Command 'Enable-Libvirtd -TimeoutSec 8'
            $run.ErrorId | Should -Be 'LibvirtNotReachable,KvmHost.Commands.EnableLibvirtdCommand'
            $run.Message | Should -Match 'kvmhost-test: libvirtd cannot start'
        }
    }

    Context "switching an upgraded host to modular daemons in a RHEL-9-like systemd box$(if ($script:noBox) { " (skipped: $script:noBox)" })" -Skip:([bool] $script:noBox) {
        BeforeAll {
            $osRelease = Get-FixturePath 'os-release/rhel-9.6.os-release'
            # libvirtd stays enabled from the overlay of this machine: an upgraded host still on libvirtd.
            $box = Start-TestBox -Name (New-BoxName 'lvmod') -OsRelease $osRelease -Content (Get-ModularLibvirtUnitFiles)
        }
        AfterAll { Stop-TestBox -Name $box.Name }

        It 'Auto keeps the monolithic libvirtd that is in use' {
            $run = Invoke-KvmHostInBox -Name $box.Name -Command 'Get-Libvirtd'
            $run.State.Mode | Should -Be 'Monolithic'
        }

        It '-Mode Modular stops and disables libvirtd, says so, and a real daemon answers on virtqemud''s socket' {
            $run = Invoke-KvmHostInBox -Name $box.Name -Command 'Enable-Libvirtd -Mode Modular'
            $run.ErrorId | Should -BeNullOrEmpty -Because $run.Message
            $run.Warnings -join ' ' | Should -Match 'stopping and disabling libvirtd\.service'
            $run.State.Mode | Should -Be 'Modular'
            $run.State.Changed | Should -BeTrue
            $run.State.Active | Should -BeTrue
            $run.State.Enabled | Should -BeTrue
            $run.State.Reachable | Should -BeTrue -Because $run.State.ProbeDetail
            $run.State.Endpoint | Should -Be '/run/libvirt/virtqemud-sock-ro'
            Get-BoxUnitState $box.Name is-active libvirtd.service, libvirtd.socket, libvirtd-ro.socket | Should -Not -Contain 'active'
            Get-BoxUnitState $box.Name is-enabled libvirtd.service, libvirtd.socket | Should -Be @('disabled', 'disabled')
            Get-BoxUnitState $box.Name is-enabled virtqemud.service, virtqemud.socket, virtqemud-ro.socket, virtnetworkd.socket |
                Should -Be @('enabled', 'enabled', 'enabled', 'enabled')
            Get-BoxUnitState $box.Name is-active virtqemud.socket, virtqemud-ro.socket, virtqemud-admin.socket, virtstoraged-ro.socket |
                Should -Be @('active', 'active', 'active', 'active')
            Test-BoxLibvirtAnswers $box.Name | Should -BeTrue
            Get-BoxUnitState $box.Name is-active virtqemud.service | Should -Be 'active'
        }

        It 'Auto then finds the modular daemons in use and changes nothing' {
            $run = Invoke-KvmHostInBox -Name $box.Name -Command 'Enable-Libvirtd'
            $run.ErrorId | Should -BeNullOrEmpty -Because $run.Message
            $run.State.Mode | Should -Be 'Modular'
            $run.State.Changed | Should -BeFalse
            $run.Verbose -join "`n" | Should -Not -Match 'systemctl \S+ (enable|disable|unmask|start|stop) '
        }
    }

    Context 'help' {
        It 'has a synopsis, examples and every parameter for <Name>' -ForEach @(@{ Name = 'Enable-Libvirtd' }, @{ Name = 'Get-Libvirtd' }) {
            $help = Get-Help $Name -Full
            $help.Synopsis | Should -Match 'libvirt'
            @($help.Examples.Example).Count | Should -BeGreaterOrEqual 2
        }
    }
}
