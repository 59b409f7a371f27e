<#
    Set-KvmGuest's settings against a real libvirtd and QEMU guests (TCG) in one throw-away guest lab: memory and
    vCPUs of a guest that is off (seen by the guest once it boots), of a running guest (a balloon and a hot-plugged
    vCPU where the hypervisor allows, the next boot where it does not, said as a warning), the description escaped,
    renaming, -WhatIf, and the refusals. The autostart setting is tested with the lifecycle (Guest-Lifecycle.Tests.ps1).
#>
BeforeDiscovery {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot 'harness/GuestLab.psm1') -Force
    $noLab = Test-GuestLabSupported
    if (-not $noLab -and -not (Get-Command virt-install -CommandType Application -ErrorAction Ignore)) {
        $noLab = 'the guests are made with New-KvmGuest, which needs virt-install (Debian package virtinst), not on PATH'
    }
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    Import-Module (Get-KvmHostModulePath) -Force
    Import-Module (Join-Path $PSScriptRoot 'harness/Harness.psm1'), (Join-Path $PSScriptRoot 'harness/GuestLab.psm1') -Force
}

Describe "Set-KvmGuest on a real libvirtd and QEMU (TCG)$(if ($noLab) { " (skipped: $noLab)" })" -Tag 'Root', 'GuestLab' -Skip:([bool] $noLab) {
    BeforeAll {
        $lab = Start-GuestLab
        $uri = $lab.Uri
        $media = Get-GuestLabMedia $lab
        $savedCache = $env:XDG_CACHE_HOME
        $env:XDG_CACHE_HOME = Join-Path $lab.Directory 'cache'
        $ready = '^KVMHOST-GUEST-READY '

        function Get-Inactive([string] $Name) { [xml] (Invoke-GuestLabVirsh $lab 'dumpxml', $Name, '--inactive').StdOut }
        function Get-Live([string] $Name) { [xml] (Invoke-GuestLabVirsh $lab 'dumpxml', $Name).StdOut }
        function Get-ConsoleCount([string] $Name, [string] $Pattern) { @(Get-LabGuestConsole -Lab $lab -Name $Name | Where-Object { $_ -match $Pattern }).Count }

        # Asks the guest's shell and returns the answer line (tiny-guest.sh's console shell).
        function Get-GuestAnswer([string] $Name, [string] $Tag, [string] $Command) {
            Send-LabGuestConsole -Lab $lab -Name $Name -Text "echo $Tag=`$($Command)"
            (Wait-LabGuestConsole -Lab $lab -Name $Name -Pattern "^$Tag=\S").Substring($Tag.Length + 1).Trim()
        }

        function Restart-Guest([string] $Name) {
            $boots = Get-ConsoleCount $Name $ready
            Stop-KvmGuest -Uri $uri $Name -TurnOff
            Start-KvmGuest -Uri $uri $Name
            $null = Wait-LabGuestConsole -Lab $lab -Name $Name -Pattern $ready -Occurrence ($boots + 1)
        }

        # set-balloon: made by New-KvmGuest, so it has virt-install's virtio balloon; 384 MiB, 1 vCPU.
        $null = New-KvmGuest -Uri $uri -Name set-balloon -Kernel $media.Kernel -Initrd $media.Initrd -KernelArguments 'console=ttyS0 panic=-1 kvmhost.name=set-balloon' `
            -MemoryBytes 384MB -Network none -AllowEmulation -NoStart -WarningAction SilentlyContinue
        # set-plain: the lab's own guest, defined with <memballoon model='none'/>: memory cannot change while it runs.
        $null = New-LabGuest -Lab $lab -Name set-plain -DiskSizeMiB 0 -MemoryMiB 256
    }
    AfterAll {
        $env:XDG_CACHE_HOME = $savedCache
        if ($lab) { Stop-GuestLab $lab }
    }

    It 'changes a guest that is off, which then boots with it, and a second run changes nothing' {
        $guest = Set-KvmGuest -Uri $uri set-balloon -ProcessorCount 2 -MemoryBytes 320MB -PassThru
        ($guest.Changed, $guest.ProcessorCount, $guest.MaximumProcessorCount, $guest.MemoryBytes) | Should -Be @($true, 2, 2, 320MB)
        $guest.PendingChanges | Should -BeNullOrEmpty
        $xml = Get-Inactive set-balloon
        $xml.domain.vcpu.'#text' | Should -Be '2'
        $xml.domain.currentMemory.'#text' | Should -Be ([string] (320MB / 1KB))

        (Set-KvmGuest -Uri $uri set-balloon -ProcessorCount 2 -MemoryBytes 320MB -PassThru).Changed | Should -BeFalse
        Start-KvmGuest -Uri $uri set-balloon
        $null = Wait-LabGuestConsole -Lab $lab -Name set-balloon -Pattern $ready
        Get-GuestAnswer set-balloon CPUS 'grep -c ^processor /proc/cpuinfo' | Should -Be '2' -Because 'the guest boots with the new vCPUs'
    }

    It 'hands memory back from a running guest through its balloon at once' {
        $guest = Set-KvmGuest -Uri $uri set-balloon -MemoryBytes 256MB -PassThru
        $guest.Changed | Should -BeTrue
        $guest.PendingChanges | Should -BeNullOrEmpty
        $deadline = [DateTime]::UtcNow.AddSeconds(60)
        while ((Get-KvmGuest -Uri $uri set-balloon).MemoryBytes -ne 256MB -and [DateTime]::UtcNow -lt $deadline) { Start-Sleep -Milliseconds 250 }
        (Get-KvmGuest -Uri $uri set-balloon).MemoryBytes | Should -Be 256MB -Because 'the guest''s balloon driver gave the memory back'
        (Get-Live set-balloon).domain.currentMemory.'#text' | Should -Be ([string] (256MB / 1KB))
        (Get-Inactive set-balloon).domain.currentMemory.'#text' | Should -Be ([string] (256MB / 1KB))
        (Set-KvmGuest -Uri $uri set-balloon -MemoryBytes 256MB -PassThru).Changed | Should -BeFalse
    }

    It 'raises the vCPUs of a running guest above its maximum for the next boot, and says so' {
        $guest = Set-KvmGuest -Uri $uri set-balloon -ProcessorCount 3 -PassThru -WarningVariable warned 3>$null
        $guest.Changed | Should -BeTrue
        $guest.ProcessorCount | Should -Be 2 -Because 'the running guest keeps what it booted with'
        $guest.PendingChanges | Should -HaveCount 1
        $guest.PendingChanges[0] | Should -Match '^3 vCPUs \(above the 2'
        $warned.Message | Should -Contain "'set-balloon': $($guest.PendingChanges[0]) waits for the next boot."
        (Get-Inactive set-balloon).domain.vcpu.'#text' | Should -Be '3'
        Restart-Guest set-balloon
        Get-GuestAnswer set-balloon CPUS3 'grep -c ^processor /proc/cpuinfo' | Should -Be '3'
    }

    It 'plugs a vCPU into a running guest below its maximum' {
        Stop-KvmGuest -Uri $uri set-balloon -TurnOff
        $null = Set-KvmGuest -Uri $uri set-balloon -ProcessorCount 1
        (Get-Inactive set-balloon).domain.vcpu.current | Should -Be '1'
        $boots = Get-ConsoleCount set-balloon $ready
        Start-KvmGuest -Uri $uri set-balloon
        $null = Wait-LabGuestConsole -Lab $lab -Name set-balloon -Pattern $ready -Occurrence ($boots + 1)
        $guest = Set-KvmGuest -Uri $uri set-balloon -ProcessorCount 2 -PassThru
        ($guest.Changed, $guest.ProcessorCount) | Should -Be @($true, 2)
        $guest.PendingChanges | Should -BeNullOrEmpty
        Get-GuestAnswer set-balloon PLUGGED 'ls -d /sys/devices/system/cpu/cpu[0-9]* | wc -l' | Should -Be '2' -Because 'the guest sees the plugged vCPU'
    }

    It 'changes the definition of a running guest without a balloon and says the memory waits for the next boot' {
        Start-KvmGuest -Uri $uri set-plain
        $null = Wait-LabGuestConsole -Lab $lab -Name set-plain -Pattern $ready
        $guest = Set-KvmGuest -Uri $uri set-plain -MemoryBytes 192MB -PassThru -WarningVariable warned 3>$null
        $guest.Changed | Should -BeTrue
        $guest.PendingChanges | Should -HaveCount 1
        $guest.PendingChanges[0] | Should -Match '^memory 192 MiB \(the running guest refused it: '
        $warned.Message | Should -HaveCount 1
        (Get-Inactive set-plain).domain.currentMemory.'#text' | Should -Be ([string] (192MB / 1KB))
        (Get-Live set-plain).domain.currentMemory.'#text' | Should -Be ([string] (256MB / 1KB))
        $again = Set-KvmGuest -Uri $uri set-plain -MemoryBytes 192MB -PassThru -Verbose 4>&1 3>$null
        ($again | Where-Object { $_ -is [KvmHost.Core.Guests.KvmGuest] }).Changed | Should -BeFalse
        ($again | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] }).Message |
            Should -Contain "'set-plain' is defined with 192 MiB already; the running guest has 256 MiB until its balloon driver follows or it boots again."
    }

    It 'stores a description with XML specials escaped, in the definition and the running guest' {
        $description = "db <primary> & 'replica' `"2`" ]]>"
        $guest = Set-KvmGuest -Uri $uri set-plain -Description $description -PassThru
        $guest.Description | Should -Be $description
        (Get-Inactive set-plain).domain.description | Should -Be $description
        (Get-Live set-plain).domain.description | Should -Be $description
        (Invoke-GuestLabVirsh $lab 'dumpxml', 'set-plain', '--inactive').StdOut | Should -Not -Match '<primary>'
        (Set-KvmGuest -Uri $uri set-plain -Description '' -PassThru).Description | Should -BeNullOrEmpty
    }

    It 'renames a guest that is off and refuses one that runs' {
        { Set-KvmGuest -Uri $uri set-plain -NewName set-renamed -ErrorAction Stop } | Should -Throw -ErrorId 'GuestStateInvalid,KvmHost.Commands.SetKvmGuestCommand'
        Stop-KvmGuest -Uri $uri set-plain -TurnOff
        { Set-KvmGuest -Uri $uri set-plain -NewName set-balloon -ErrorAction Stop } | Should -Throw -ErrorId 'GuestExists,KvmHost.Commands.SetKvmGuestCommand'
        $uuid = (Get-KvmGuest -Uri $uri set-plain).Uuid
        $guest = Set-KvmGuest -Uri $uri set-plain -NewName set-renamed -PassThru
        ($guest.Name, $guest.Uuid, $guest.Changed) | Should -Be @('set-renamed', $uuid, $true)
        (Get-GuestLabInventory $lab).Guests | Should -Be @('set-balloon', 'set-renamed')
    }

    It 'shows every step with -WhatIf and changes nothing' {
        $before = (Invoke-GuestLabVirsh $lab 'dumpxml', 'set-renamed', '--inactive').StdOut
        $text = Get-KvmHostWhatIfText "Set-KvmGuest -Uri '$uri' set-renamed -MemoryBytes 512MB -ProcessorCount 4 -Description 'x' -WhatIf"
        $text | Should -Match ([regex]::Escape("What if: Performing the operation `"Set the maximum memory of 'set-renamed' to 512 MiB (was 256) from the next boot. Set the memory of 'set-renamed' to 512 MiB (from the next boot). Raise the maximum vCPUs of 'set-renamed' to 4 (was 1) from the next boot. Set the vCPUs of 'set-renamed' to 4 (from the next boot). Set the description of 'set-renamed' (from the next boot).`" on target `"set-renamed on $uri`"."))
        (Invoke-GuestLabVirsh $lab 'dumpxml', 'set-renamed', '--inactive').StdOut | Should -Be $before
    }

    It 'refuses <Case> with <Id> and changes nothing' -ForEach @(
        @{ Case = 'memory 0'; Id = 'GuestMemoryInvalid'; Target = 'set-renamed'; Arguments = @{ MemoryBytes = 0 } }
        @{ Case = 'more memory than the host has'; Id = 'GuestMemoryInvalid'; Target = 'set-renamed'; Arguments = @{ MemoryBytes = 64TB } }
        @{ Case = 'memory above the given maximum'; Id = 'GuestParametersConflict'; Target = 'set-renamed'; Arguments = @{ MemoryBytes = 1GB; MaximumMemoryBytes = 512MB } }
        @{ Case = '0 vCPUs'; Id = 'GuestProcessorCountInvalid'; Target = 'set-renamed'; Arguments = @{ ProcessorCount = 0 } }
        @{ Case = 'a description with a control character'; Id = 'GuestDescriptionInvalid'; Target = 'set-renamed'; Arguments = @{ Description = "a`0b" } }
        @{ Case = 'a hostile new name'; Id = 'GuestNameInvalid'; Target = 'set-renamed'; Arguments = @{ NewName = '../etc' } }
        @{ Case = 'one new name for two guests'; Id = 'GuestParametersConflict'; Target = 'set-*'; Arguments = @{ NewName = 'set-both' } }
    ) {
        $before = foreach ($name in 'set-balloon', 'set-renamed') { (Invoke-GuestLabVirsh $lab 'dumpxml', $name, '--inactive').StdOut }
        { Set-KvmGuest -Uri $uri $Target @Arguments -ErrorAction Stop } | Should -Throw -ErrorId "$Id,KvmHost.Commands.SetKvmGuestCommand"
        $after = foreach ($name in 'set-balloon', 'set-renamed') { (Invoke-GuestLabVirsh $lab 'dumpxml', $name, '--inactive').StdOut }
        $after | Should -Be $before
    }
}
