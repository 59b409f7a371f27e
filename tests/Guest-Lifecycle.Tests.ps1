<#
    Start-, Stop-, Restart-, Suspend-, Resume-, Wait- and Set-KvmGuest against real QEMU guests (TCG) in one
    throw-away guest lab: three tiny guests, booted again only where a test needs a fresh boot. Every test
    first puts the guests it uses into the state it needs (with virsh, the lab's fixture tool), so none
    depends on another having run. What each guest printed on its serial console is the proof of what
    happened inside it (booted, powered off by acpid, rebooted, answered a command).
#>
BeforeDiscovery {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot 'harness/GuestLab.psm1') -Force
    $noLab = Test-GuestLabSupported
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    Import-Module (Get-KvmHostModulePath) -Force
    Import-Module (Join-Path $PSScriptRoot 'harness/Harness.psm1'), (Join-Path $PSScriptRoot 'harness/GuestLab.psm1') -Force

    $ready = '^KVMHOST-GUEST-READY '
    $poweroff = '^KVMHOST-GUEST-POWEROFF '

    function Get-ConsoleCount([string] $Name, [string] $Pattern) {
        @(Get-LabGuestConsole -Lab $lab -Name $Name | Where-Object { $_ -match $Pattern }).Count
    }

    # virsh's words: running, paused, shut off
    function Get-DomainState([string] $Name) { (Invoke-GuestLabVirsh $lab 'domstate', $Name).StdOut.Trim() }

    function Set-GuestRunning([string] $Name) {
        $boots = Get-ConsoleCount $Name $ready
        switch (Get-DomainState $Name) {
            'paused' { $null = Invoke-GuestLabVirsh $lab 'resume', $Name }
            'shut off' { $null = Invoke-GuestLabVirsh $lab 'start', $Name; $boots++ }
        }
        # A guest another test started may still be booting too: wait until every boot its kernel began
        # ("Run /init") has reached the marker, for only then do acpid and the console's shell listen.
        $begun = Get-ConsoleCount $Name '\] Run /init as init process'
        $null = Wait-LabGuestConsole -Lab $lab -Name $Name -Pattern $ready -Occurrence ([Math]::Max([Math]::Max($boots, $begun), 1))
    }

    function Set-GuestOff([string] $Name) {
        if ((Get-DomainState $Name) -ne 'shut off') { $null = Invoke-GuestLabVirsh $lab 'destroy', $Name }
        $null = Invoke-GuestLabVirsh $lab 'managedsave-remove', $Name -AllowFailure
    }

    function Get-WhatIfText([string] $Command) {
        # "What if:" goes to the host, not to a stream: a child pwsh's standard output has it.
        $pwsh = Get-HarnessPwshCommand
        $script = "`$PSStyle.OutputRendering = 'PlainText'; Import-Module '$(Get-KvmHostModulePath)'; $Command"
        (& $pwsh[0] @($pwsh | Select-Object -Skip 1) -NoProfile -NonInteractive -Command $script 2>&1 | Out-String) -replace '\s+', ' '
    }
}

Describe "The guest lifecycle on real QEMU guests$(if ($noLab) { " (skipped: $noLab)" })" -Tag 'Root', 'GuestLab' -Skip:([bool] $noLab) {
    BeforeAll {
        $lab = Start-GuestLab
        $uri = $lab.Uri
        $null = New-LabGuest -Lab $lab -Name lc-acpi -DiskText 'state-0'
        $null = New-LabGuest -Lab $lab -Name lc-acpi2 -DiskSizeMiB 0
        $null = New-LabGuest -Lab $lab -Name lc-deaf -Variant noacpi -DiskSizeMiB 0
    }
    AfterAll { if ($lab) { Stop-GuestLab $lab } }

    Context 'Start-KvmGuest' {
        It 'starts a guest that is off and returns it running' {
            Set-GuestOff lc-acpi
            $boots = Get-ConsoleCount lc-acpi $ready
            $guest = Start-KvmGuest -Uri $uri lc-acpi -PassThru
            $guest.State | Should -Be 'Running'
            $guest.StateReason | Should -Be 'Booted'
            $guest.Changed | Should -BeTrue
            Get-DomainState lc-acpi | Should -Be 'running'
            Wait-LabGuestConsole -Lab $lab -Name lc-acpi -Pattern $ready -Occurrence ($boots + 1) | Should -Be 'KVMHOST-GUEST-READY lc-acpi'
            Wait-LabGuestConsole -Lab $lab -Name lc-acpi -Pattern '^KVMHOST-DISK ' -Occurrence ($boots + 1) | Should -Be 'KVMHOST-DISK state-0'
        }

        It 'leaves a running guest alone and says so' {
            Set-GuestRunning lc-acpi
            $before = Get-KvmGuest -Uri $uri lc-acpi
            $verbose = Start-KvmGuest -Uri $uri lc-acpi -PassThru -Verbose 4>&1
            $guest = $verbose | Where-Object { $_ -is [KvmHost.Core.Guests.KvmGuest] }
            $guest.Changed | Should -BeFalse
            $guest.Id | Should -Be $before.Id -Because 'the same QEMU process still runs it'
            ($verbose | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] }).Message | Should -Contain "'lc-acpi' is already running. Nothing to do."
        }

        It 'shows what it would do with -WhatIf, and changes nothing' {
            Set-GuestOff lc-acpi2
            $text = Get-WhatIfText "Start-KvmGuest -Uri '$uri' lc-acpi2 -WhatIf -PassThru | ForEach-Object { 'STATE=' + `$_.State + ' CHANGED=' + `$_.Changed }"
            $text | Should -Match ([regex]::Escape("What if: Performing the operation `"Start 'lc-acpi2' (from its saved state when it has one).`" on target `"lc-acpi2 on $uri`"."))
            $text | Should -Match 'STATE=ShutOff CHANGED=False' -Because '-PassThru shows the guest as it is'
            Get-DomainState lc-acpi2 | Should -Be 'shut off'
        }

        It 'starts every guest a wildcard names and goes on past a name that is not there' {
            Set-GuestOff lc-acpi2
            Set-GuestOff lc-deaf
            $started = Start-KvmGuest -Uri $uri 'lc-a*2', 'lc-deaf', 'lc-nowhere' -PassThru -ErrorVariable failures -ErrorAction SilentlyContinue
            @($started.Name) | Should -Be @('lc-acpi2', 'lc-deaf')
            $started.State | Should -Be @('Running', 'Running')
            @($failures).Count | Should -Be 1
            $failures[0].FullyQualifiedErrorId | Should -Be 'GuestNotFound,KvmHost.Commands.StartKvmGuestCommand'
            $failures[0].TargetObject | Should -Be 'lc-nowhere'
        }

        It 'resumes a paused guest' {
            Set-GuestRunning lc-acpi
            $null = Invoke-GuestLabVirsh $lab 'suspend', 'lc-acpi'
            $guest = Start-KvmGuest -Uri $uri lc-acpi -PassThru
            ($guest.State, $guest.StateReason, $guest.Changed) | Should -Be @('Running', 'Unpaused', $true)
        }

        It 'refuses the hostile name <Shown> before libvirt is asked, and changes nothing' -ForEach @(
            @{ Shown = '../lc-acpi'; Name = '../lc-acpi' }
            @{ Shown = 'newline'; Name = "lc-acpi`n" }
            @{ Shown = '-lc'; Name = '-lc' }
            @{ Shown = '<lc>'; Name = '<lc>' }
        ) {
            Set-GuestOff lc-acpi2
            { Start-KvmGuest -Uri $uri 'lc-acpi2', $Name -ErrorAction Stop } | Should -Throw -ErrorId 'GuestNameInvalid,KvmHost.Commands.StartKvmGuestCommand'
            Get-DomainState lc-acpi2 | Should -Be 'shut off' -Because 'names are checked before any guest is touched'
        }
    }

    Context 'Stop-KvmGuest' {
        It 'presses the ACPI power button and waits until the guest is really off' {
            Set-GuestRunning lc-acpi
            $poweroffs = Get-ConsoleCount lc-acpi $poweroff
            $guest = Stop-KvmGuest -Uri $uri lc-acpi -PassThru
            ($guest.State, $guest.StateReason, $guest.Changed) | Should -Be @('ShutOff', 'Shutdown', $true)
            Get-ConsoleCount lc-acpi $poweroff | Should -Be ($poweroffs + 1) -Because "the guest's acpid powered it off"
        }

        It 'ends with GuestShutdownTimedOut for a guest that ignores the button, and leaves it running' {
            Set-GuestRunning lc-deaf
            Stop-KvmGuest -Uri $uri lc-deaf -TimeoutSec 3 -ErrorVariable failures -ErrorAction SilentlyContinue
            @($failures).Count | Should -Be 1
            $failures[0].FullyQualifiedErrorId | Should -Be 'GuestShutdownTimedOut,KvmHost.Commands.StopKvmGuestCommand'
            $failures[0].CategoryInfo.Category | Should -Be 'OperationTimeout'
            $failures[0].TargetObject | Should -Be 'lc-deaf'
            $failures[0].ErrorDetails.RecommendedAction | Should -Match '-Force'
            Get-DomainState lc-deaf | Should -Be 'running' -Because 'a guest that ignored the button is not reported as off'
            # The request did arrive: the guest's kernel counted the button, nothing in it acted on it.
            $asked = Get-ConsoleCount lc-deaf '^KVMHOST-PRESSES-\d+-END'
            Send-LabGuestConsole -Lab $lab -Name lc-deaf -Text 'echo KVMHOST-PRESSES-$(awk "{ print \$1 }" /sys/firmware/acpi/interrupts/ff_pwr_btn)-END'
            $line = Wait-LabGuestConsole -Lab $lab -Name lc-deaf -Pattern '^KVMHOST-PRESSES-\d+-END' -Occurrence ($asked + 1) -TimeoutSec 30
            [int] ($line -replace '^KVMHOST-PRESSES-(\d+)-END.*$', '$1') | Should -BeGreaterOrEqual 1
        }

        It '-Force powers off at the deadline what ignores the button' {
            Set-GuestRunning lc-deaf
            $output = Stop-KvmGuest -Uri $uri lc-deaf -Force -TimeoutSec 2 -PassThru -Verbose 4>&1
            $guest = $output | Where-Object { $_ -is [KvmHost.Core.Guests.KvmGuest] }
            ($guest.State, $guest.StateReason) | Should -Be @('ShutOff', 'Destroyed')
            ($output | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] }).Message |
                Should -Contain "'lc-deaf' did not shut down within 2 s; powering it off (-Force)."
        }

        It '-Force on a guest that obeys the button never needs to power it off' {
            Set-GuestRunning lc-acpi
            $guest = Stop-KvmGuest -Uri $uri lc-acpi -Force -TimeoutSec 120 -PassThru
            ($guest.State, $guest.StateReason) | Should -Be @('ShutOff', 'Shutdown')
        }

        It '-TurnOff powers off at once without asking the guest' {
            Set-GuestRunning lc-acpi
            $poweroffs = Get-ConsoleCount lc-acpi $poweroff
            $guest = Stop-KvmGuest -Uri $uri lc-acpi -TurnOff -PassThru
            ($guest.State, $guest.StateReason) | Should -Be @('ShutOff', 'Destroyed')
            Get-ConsoleCount lc-acpi $poweroff | Should -Be $poweroffs
        }

        It '-Save keeps the memory, and Start-KvmGuest restores the guest without booting it again' {
            Set-GuestRunning lc-acpi
            $boots = Get-ConsoleCount lc-acpi $ready
            $saved = Stop-KvmGuest -Uri $uri lc-acpi -Save -PassThru
            ($saved.State, $saved.StateReason, $saved.HasManagedSave) | Should -Be @('ShutOff', 'Saved', $true)
            $restored = Start-KvmGuest -Uri $uri lc-acpi -PassThru
            ($restored.State, $restored.StateReason, $restored.HasManagedSave) | Should -Be @('Running', 'Restored', $false)
            Send-LabGuestConsole -Lab $lab -Name lc-acpi -Text 'echo KVMHOST-ALIVE-$((40+2))'
            Wait-LabGuestConsole -Lab $lab -Name lc-acpi -Pattern '^KVMHOST-ALIVE-42' | Should -Not -BeNullOrEmpty
            Get-ConsoleCount lc-acpi $ready | Should -Be $boots -Because 'a restored guest continues, it does not boot'
        }

        It 'stops the guests of a pipeline together' {
            Set-GuestRunning lc-acpi
            Set-GuestRunning lc-acpi2
            $stopped = Get-KvmGuest -Uri $uri 'lc-acpi*' | Stop-KvmGuest -PassThru
            @($stopped.Name) | Should -Be @('lc-acpi', 'lc-acpi2')
            $stopped.StateReason | Should -Be @('Shutdown', 'Shutdown')
            $stopped.Changed | Should -Be @($true, $true)
        }

        It 'changes nothing for a guest that is already off' {
            Set-GuestOff lc-acpi2
            $guest = Stop-KvmGuest -Uri $uri lc-acpi2 -PassThru
            ($guest.State, $guest.Changed) | Should -Be @('ShutOff', $false)
        }

        It 'shows what it would do with -WhatIf, and the guest keeps running' {
            Set-GuestRunning lc-acpi2
            $text = Get-WhatIfText "Stop-KvmGuest -Uri '$uri' lc-acpi2 -TurnOff -WhatIf"
            $text | Should -Match ([regex]::Escape("What if: Performing the operation `"Power off 'lc-acpi2' at once (virsh destroy).`" on target `"lc-acpi2 on $uri`"."))
            Get-DomainState lc-acpi2 | Should -Be 'running'
        }

        It 'refuses a graceful stop of a paused guest with GuestStateInvalid, naming what would work' {
            Set-GuestRunning lc-acpi2
            $null = Invoke-GuestLabVirsh $lab 'suspend', 'lc-acpi2'
            try {
                $failure = { Stop-KvmGuest -Uri $uri lc-acpi2 -ErrorAction Stop } | Should -Throw -ErrorId 'GuestStateInvalid,KvmHost.Commands.StopKvmGuestCommand' -PassThru
                $failure.CategoryInfo.Category | Should -Be 'InvalidOperation'
                $failure.ErrorDetails.RecommendedAction | Should -Match 'Resume-KvmGuest'
                Get-DomainState lc-acpi2 | Should -Be 'paused'
            }
            finally { $null = Invoke-GuestLabVirsh $lab 'resume', 'lc-acpi2' }
        }

        It 'refuses two ways of stopping at once with GuestParametersConflict before touching anything' {
            Set-GuestRunning lc-acpi2
            { Stop-KvmGuest -Uri $uri lc-acpi2 -Force -TurnOff -ErrorAction Stop } | Should -Throw -ErrorId 'GuestParametersConflict,KvmHost.Commands.StopKvmGuestCommand'
            Get-DomainState lc-acpi2 | Should -Be 'running'
        }

        It 'stops waiting when the pipeline is stopped (Ctrl+C), leaving the guest as it is' {
            Set-GuestRunning lc-deaf
            $shell = [powershell]::Create()
            try {
                $null = $shell.AddScript("Import-Module '$(Get-KvmHostModulePath)'; Stop-KvmGuest -Uri '$uri' lc-deaf -TimeoutSec 600")
                $handle = $shell.BeginInvoke()
                # Wait until the request is out and the wait has begun, then press Ctrl+C.
                $deadline = [DateTime]::UtcNow.AddSeconds(60)
                while ($shell.Streams.Progress.Count -eq 0 -and [DateTime]::UtcNow -lt $deadline) { Start-Sleep -Milliseconds 100 }
                $shell.Streams.Progress.Count | Should -BeGreaterThan 0 -Because 'the wait shows Write-Progress'
                $stopped = $shell.BeginStop($null, $null)
                $stopped.AsyncWaitHandle.WaitOne([TimeSpan]::FromSeconds(60)) | Should -BeTrue -Because 'a stop ends the wait, not the 600 s timeout'
                $handle.IsCompleted | Should -BeTrue
                $shell.InvocationStateInfo.State | Should -Be 'Stopped'
            }
            finally { $shell.Dispose() }
            Get-DomainState lc-deaf | Should -Be 'running'
        }
    }

    Context 'Restart-KvmGuest' {
        It 'reboots gracefully: the guest powers itself off through ACPI and libvirt starts it again' {
            Set-GuestRunning lc-acpi
            $boots = Get-ConsoleCount lc-acpi $ready
            $poweroffs = Get-ConsoleCount lc-acpi $poweroff
            $guest = Restart-KvmGuest -Uri $uri lc-acpi -PassThru
            $guest.Changed | Should -BeTrue
            $null = Wait-LabGuestConsole -Lab $lab -Name lc-acpi -Pattern $ready -Occurrence ($boots + 1)
            Get-ConsoleCount lc-acpi $poweroff | Should -Be ($poweroffs + 1)
            Get-DomainState lc-acpi | Should -Be 'running'
        }

        It '-Force resets the guest without asking it' {
            Set-GuestRunning lc-deaf
            $boots = Get-ConsoleCount lc-deaf $ready
            $null = Restart-KvmGuest -Uri $uri lc-deaf -Force
            $null = Wait-LabGuestConsole -Lab $lab -Name lc-deaf -Pattern $ready -Occurrence ($boots + 1)
            Get-DomainState lc-deaf | Should -Be 'running'
        }

        It 'refuses a guest that is off with GuestStateInvalid, naming Start-KvmGuest' {
            Set-GuestOff lc-acpi2
            $failure = { Restart-KvmGuest -Uri $uri lc-acpi2 -ErrorAction Stop } | Should -Throw -ErrorId 'GuestStateInvalid,KvmHost.Commands.RestartKvmGuestCommand' -PassThru
            $failure.ErrorDetails.RecommendedAction | Should -Match 'Start-KvmGuest'
        }
    }

    Context 'Suspend-KvmGuest and Resume-KvmGuest' {
        It 'pauses and resumes the guest, each a no-op the second time' {
            Set-GuestRunning lc-acpi
            $paused = Suspend-KvmGuest -Uri $uri lc-acpi -PassThru
            ($paused.State, $paused.StateReason, $paused.Changed) | Should -Be @('Paused', 'User', $true)
            (Suspend-KvmGuest -Uri $uri lc-acpi -PassThru).Changed | Should -BeFalse
            $resumed = Resume-KvmGuest -Uri $uri lc-acpi -PassThru
            ($resumed.State, $resumed.StateReason, $resumed.Changed) | Should -Be @('Running', 'Unpaused', $true)
            (Resume-KvmGuest -Uri $uri lc-acpi -PassThru).Changed | Should -BeFalse
            Send-LabGuestConsole -Lab $lab -Name lc-acpi -Text 'echo KVMHOST-RESUMED-$((6*7))'
            Wait-LabGuestConsole -Lab $lab -Name lc-acpi -Pattern '^KVMHOST-RESUMED-42' | Should -Not -BeNullOrEmpty
        }

        It 'takes guests from Get-KvmGuest through the pipeline' {
            Set-GuestRunning lc-acpi
            Set-GuestRunning lc-acpi2
            $paused = Get-KvmGuest -Uri $uri 'lc-acpi*' | Suspend-KvmGuest -PassThru
            $paused.State | Should -Be @('Paused', 'Paused')
            $resumed = $paused | Resume-KvmGuest -PassThru
            $resumed.State | Should -Be @('Running', 'Running')
        }

        It 'refuses guests that are off with GuestStateInvalid' {
            Set-GuestOff lc-acpi2
            { Suspend-KvmGuest -Uri $uri lc-acpi2 -ErrorAction Stop } | Should -Throw -ErrorId 'GuestStateInvalid,KvmHost.Commands.SuspendKvmGuestCommand'
            { Resume-KvmGuest -Uri $uri lc-acpi2 -ErrorAction Stop } | Should -Throw -ErrorId 'GuestStateInvalid,KvmHost.Commands.ResumeKvmGuestCommand'
            Get-DomainState lc-acpi2 | Should -Be 'shut off'
        }
    }

    Context 'Wait-KvmGuest' {
        It 'returns a guest that is already running at once' {
            Set-GuestRunning lc-acpi
            (Wait-KvmGuest -Uri $uri lc-acpi -For Running -TimeoutSec 5 -PassThru).State | Should -Be 'Running'
        }

        It 'waits for a shutdown someone else asked for' {
            Set-GuestRunning lc-acpi
            $null = Invoke-GuestLabVirsh $lab 'shutdown', 'lc-acpi'
            $guest = Wait-KvmGuest -Uri $uri lc-acpi -For ShutOff -TimeoutSec 120 -PassThru
            ($guest.State, $guest.StateReason) | Should -Be @('ShutOff', 'Shutdown')
        }

        It 'ends with GuestWaitTimedOut when the guest does not get there' {
            Set-GuestRunning lc-deaf
            Wait-KvmGuest -Uri $uri lc-deaf -For ShutOff -TimeoutSec 2 -ErrorVariable failures -ErrorAction SilentlyContinue
            @($failures).Count | Should -Be 1
            $failures[0].FullyQualifiedErrorId | Should -Be 'GuestWaitTimedOut,KvmHost.Commands.WaitKvmGuestCommand'
            $failures[0].CategoryInfo.Category | Should -Be 'OperationTimeout'
            $failures[0].Exception.Message | Should -Match 'is Running'
        }
    }

    Context 'without root' {
        BeforeAll {
            # pwsh runs from root's NuGet folder, which another user cannot enter: a world-readable copy of it and the module.
            $copy = New-ScratchRoot -Directories 'home'
            Copy-Item -Recurse $PSHOME "$copy/pwsh"
            Copy-Item -Recurse (Split-Path (Get-KvmHostModulePath)) "$copy/KvmHost"
            & chmod -R a+rX $copy
            & chmod 1777 "$copy/home"
            Set-Content -LiteralPath "$copy/probe.ps1" -Value @(
                '$PSStyle.OutputRendering = ''PlainText'''
                "Import-Module '$copy/KvmHost/KvmHost.psd1'"
                'id -u'
                '(Get-KvmGuest lc-acpi2).State'
                'try { Stop-KvmGuest lc-acpi2 -TurnOff -ErrorAction Stop; ''stopped'' } catch { $_.FullyQualifiedErrorId; $_.CategoryInfo.Category }'
                'Stop-KvmGuest lc-acpi2 -TurnOff -WhatIf'
            )
            Set-GuestRunning lc-acpi2
            # Inside the lab qemu:///system is its daemon: read-write socket 0700, read-only socket 0777 (libvirt's defaults).
            $result = Invoke-InGuestLab $lab -AllowFailure -Command @('setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', 'env',
                "HOME=$copy/home", "DOTNET_CLI_HOME=$copy/home", 'POWERSHELL_TELEMETRY_OPTOUT=1',
                [Environment]::ProcessPath, "$copy/pwsh/pwsh.dll", '-NoProfile', '-NonInteractive', '-File', "$copy/probe.ps1")
            $lines = @($result.StdOut -split "`n" | ForEach-Object Trim | Where-Object { $_ })
        }
        AfterAll { Remove-ScratchRoot $copy }

        It 'runs as uid 65534' { $lines[0] | Should -Be '65534' }

        It 'reads guests through the read-only socket' { $lines[1] | Should -Be 'Running' }

        It 'refuses a change with LibvirtAccessDenied, and -WhatIf still shows it' {
            $lines[2] | Should -Be 'LibvirtAccessDenied,KvmHost.Commands.StopKvmGuestCommand'
            $lines[3] | Should -Be 'PermissionDenied'
            ($lines | Select-Object -Skip 4) -join ' ' | Should -Match ([regex]::Escape("What if: Performing the operation `"Power off 'lc-acpi2' at once (virsh destroy).`""))
            Get-DomainState lc-acpi2 | Should -Be 'running'
        }
    }

    Context 'Set-KvmGuest -Autostart' {
        It 'turns autostart on and off, each a no-op the second time, and libvirt agrees' {
            $on = Set-KvmGuest -Uri $uri lc-acpi2 -Autostart -PassThru
            ($on.Autostart, $on.Changed) | Should -Be @($true, $true)
            (Invoke-GuestLabVirsh $lab 'dominfo', 'lc-acpi2').StdOut | Should -Match 'Autostart:\s+enable'
            (Set-KvmGuest -Uri $uri lc-acpi2 -Autostart -PassThru).Changed | Should -BeFalse
            $off = Set-KvmGuest -Uri $uri lc-acpi2 -Autostart:$false -PassThru
            ($off.Autostart, $off.Changed) | Should -Be @($false, $true)
            (Invoke-GuestLabVirsh $lab 'dominfo', 'lc-acpi2').StdOut | Should -Match 'Autostart:\s+disable'
        }

        It 'changes nothing with -WhatIf' {
            $null = Invoke-GuestLabVirsh $lab 'autostart', '--disable', 'lc-acpi2'
            $text = Get-WhatIfText "Set-KvmGuest -Uri '$uri' lc-acpi2 -Autostart -WhatIf"
            $text | Should -Match 'What if: Performing the operation "Start ''lc-acpi2'' when the host \(its libvirt daemon\) starts\."'
            (Get-KvmGuest -Uri $uri lc-acpi2).Autostart | Should -BeFalse
        }
    }
}
