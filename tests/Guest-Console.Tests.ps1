<#
    Connect-KvmGuest and Get-KvmGuestConsoleLog against real QEMU guests (TCG) in one throw-away guest lab.
    The console is driven in a real terminal: a tmux session of the test's own runs pwsh, the test types into it
    (send-keys) and reads its screen (capture-pane), and stty -a before and after shows the terminal settings came
    back. What the guest printed (its serial log) and virsh (a fixture tool) show what happened in the guest.
#>
BeforeDiscovery {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot 'harness/GuestLab.psm1'), (Join-Path $PSScriptRoot 'harness/TerminalLab.psm1') -Force
    $noLab = Test-GuestLabSupported
    $noTerminal = Test-TerminalLabSupported
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    Import-Module (Get-KvmHostModulePath) -Force
    Import-Module (Join-Path $PSScriptRoot 'harness/Harness.psm1'), (Join-Path $PSScriptRoot 'harness/GuestLab.psm1'),
        (Join-Path $PSScriptRoot 'harness/TerminalLab.psm1') -Force

    $noTerminal = Test-TerminalLabSupported

    # The lab's helpers, for this file's lab.
    function Get-ConsoleCount([string] $Name, [string] $Pattern) { Get-LabGuestConsoleCount -Lab $lab -Name $Name -Pattern $Pattern }
    function Get-DomainState([string] $Name) { Get-LabGuestState -Lab $lab -Name $Name }
    function Set-GuestRunning([string] $Name) { Set-LabGuestRunning -Lab $lab -Name $Name }
    function Set-GuestOff([string] $Name) { Set-LabGuestOff -Lab $lab -Name $Name }

    # The terminal's script: its settings before, pwsh running $PowerShell from a file (after importing the module;
    # it writes its pid to pwsh.pid and the settings it sees before and after), the settings after pwsh has ended,
    # then a long sleep so that the screen can still be read.
    function Start-Console([string] $PowerShell) {
        $pwsh = (@(Get-HarnessPwshCommand) | ForEach-Object { "'$_'" }) -join ' '
        $script = @"
stty -a > before.txt
$pwsh -NoProfile -File console.ps1
stty -a > after.txt
echo KVMHOST-SHELL-DONE
sleep 600
"@
        $console = "`$PID | Set-Content pwsh.pid`nImport-Module '$(Get-KvmHostModulePath)'`nstty -a > inside-before.txt`n$PowerShell`nstty -a > inside-after.txt`n'KVMHOST-PWSH-DONE'`n"
        $session = Start-TerminalSession -Script $script -Files @{ 'console.ps1' = $console }
        $sessions.Add($session)
        $session
    }
}

Describe "The serial console of real QEMU guests$(if ($noLab) { " (skipped: $noLab)" })" -Tag 'Root', 'GuestLab' -Skip:([bool] $noLab) {
    BeforeAll {
        $lab = Start-GuestLab
        $uri = $lab.Uri
        $null = New-LabGuest -Lab $lab -Name con1 -DiskSizeMiB 0
        $null = New-LabGuest -Lab $lab -Name con-off -DiskSizeMiB 0
        $null = New-LabGuest -Lab $lab -Name con-bare -DiskSizeMiB 0 -NoSerial
        $sessions = [System.Collections.Generic.List[object]]::new()
    }
    AfterAll {
        foreach ($session in $sessions) { Stop-TerminalSession $session }
        if ($lab) { Stop-GuestLab $lab }
    }

    Context 'Connect-KvmGuest in a terminal' {
        It 'shows the guest booting, runs a typed command in its shell, detaches with Ctrl+] and gives the terminal back as it was' {
            if ($noTerminal) { Set-ItResult -Skipped -Because $noTerminal; return }
            Set-GuestOff con1
            # Started paused: connected before its first line, the console shows the whole boot.
            $null = Invoke-GuestLabVirsh $lab 'start', '--paused', 'con1'
            # After the session the same process lists guests again: the event loop the console started serves its connections too.
            $term = Start-Console "Connect-KvmGuest -Uri '$uri' con1`n'KVMHOST-LISTED-' + (Get-KvmGuest -Uri '$uri' con1).State"
            Wait-TerminalScreen $term -Pattern 'Escape character is \^\] \(Ctrl \+ \]\)' | Should -Not -BeNullOrEmpty
            $null = Invoke-GuestLabVirsh $lab 'resume', 'con1'
            Wait-TerminalScreen $term -Pattern '^KVMHOST-GUEST-READY con1' -TimeoutSec 120 | Should -Be 'KVMHOST-GUEST-READY con1'

            Send-TerminalKeys $term -Key Enter
            Send-TerminalKeys $term -Text 'echo KVMHOST-TYPED-$((6*7))' -Key Enter
            Wait-TerminalScreen $term -Pattern '^KVMHOST-TYPED-42$' | Should -Be 'KVMHOST-TYPED-42' -Because 'the shell in the guest ran it'

            # Ctrl+C goes to the guest (raw mode), not to pwsh: it interrupts the guest's sleep and the session goes on.
            Send-TerminalKeys $term -Text 'sleep 300' -Key Enter
            Start-Sleep -Milliseconds 500
            Send-TerminalKeys $term -Key 'C-c'
            Send-TerminalKeys $term -Text 'echo KVMHOST-AFTER-CTRL-C' -Key Enter
            Wait-TerminalScreen $term -Pattern '^KVMHOST-AFTER-CTRL-C$' -TimeoutSec 30 | Should -Not -BeNullOrEmpty

            Send-TerminalKeys $term -Key 'C-]'
            Wait-TerminalScreen $term -Pattern '^KVMHOST-PWSH-DONE$' | Should -Not -BeNullOrEmpty
            Get-TerminalScreen $term | Should -Contain 'KVMHOST-LISTED-Running'
            Wait-TerminalFile $term -Name inside-after.txt | Should -Be (Wait-TerminalFile $term -Name inside-before.txt) -Because 'raw mode was undone'
            Wait-TerminalFile $term -Name inside-before.txt | Should -Match '\bicanon\b.*\becho\b|\becho\b.*\bicanon\b' -Because 'the terminal was a normal one to begin with'
            Get-DomainState con1 | Should -Be 'running' -Because 'detaching leaves the guest running'
        }

        It 'ends when the guest stops, with a warning, and gives the terminal back' {
            if ($noTerminal) { Set-ItResult -Skipped -Because $noTerminal; return }
            Set-GuestRunning con1
            $term = Start-Console "Connect-KvmGuest -Uri '$uri' con1"
            $null = Wait-TerminalScreen $term -Pattern 'Escape character is'
            $null = Invoke-GuestLabVirsh $lab 'destroy', 'con1'
            Wait-TerminalScreen $term -Pattern '^WARNING: The console of ''con1''' | Should -Be "WARNING: The console of 'con1' closed: the guest stopped."
            Wait-TerminalScreen $term -Pattern '^KVMHOST-PWSH-DONE$' | Should -Not -BeNullOrEmpty
            Wait-TerminalFile $term -Name inside-after.txt | Should -Be (Wait-TerminalFile $term -Name inside-before.txt)
        }

        It 'refuses a second client with ConsoleBusy; -Force takes the console over and the first session ends' {
            if ($noTerminal) { Set-ItResult -Skipped -Because $noTerminal; return }
            Set-GuestRunning con1
            $first = Start-Console "Connect-KvmGuest -Uri '$uri' con1"
            $null = Wait-TerminalScreen $first -Pattern 'Escape character is'
            $second = Start-Console "try { Connect-KvmGuest -Uri '$uri' con1 -ErrorAction Stop } catch { 'ERRID=' + `$_.FullyQualifiedErrorId }"
            Wait-TerminalScreen $second -Pattern '^ERRID=' | Should -Be 'ERRID=ConsoleBusy,KvmHost.Commands.ConnectKvmGuestCommand'
            $third = Start-Console "Connect-KvmGuest -Uri '$uri' con1 -Force"
            $null = Wait-TerminalScreen $third -Pattern 'Escape character is'
            Wait-TerminalScreen $first -Pattern '^KVMHOST-PWSH-DONE$' | Should -Not -BeNullOrEmpty -Because 'the first session ended when it lost the console'
            Get-TerminalScreen $first | Should -Contain "WARNING: The console of 'con1' was closed by libvirt (stream had I/O failure): another session took it over (-Force), or the guest's console went away."
            Wait-TerminalFile $first -Name inside-after.txt | Should -Be (Wait-TerminalFile $first -Name inside-before.txt)
            Send-TerminalKeys $third -Key Enter
            Send-TerminalKeys $third -Text 'echo KVMHOST-TAKEN-OVER' -Key Enter
            Wait-TerminalScreen $third -Pattern '^KVMHOST-TAKEN-OVER$' | Should -Not -BeNullOrEmpty
            Send-TerminalKeys $third -Key 'C-]'
            Wait-TerminalScreen $third -Pattern '^KVMHOST-PWSH-DONE$' | Should -Not -BeNullOrEmpty
        }

        It 'gives the terminal back when pwsh is killed with SIGTERM in the middle of a session' {
            if ($noTerminal) { Set-ItResult -Skipped -Because $noTerminal; return }
            Set-GuestRunning con1
            $term = Start-Console "Connect-KvmGuest -Uri '$uri' con1"
            $null = Wait-TerminalScreen $term -Pattern 'Escape character is'
            $pwshPid = [int] (Wait-TerminalFile $term -Name pwsh.pid).Trim()
            $null = Invoke-HarnessProcess kill '-TERM', "$pwshPid"
            Wait-TerminalScreen $term -Pattern '^KVMHOST-SHELL-DONE$' | Should -Not -BeNullOrEmpty
            Wait-TerminalFile $term -Name after.txt | Should -Be (Wait-TerminalFile $term -Name before.txt) -Because 'the shell after pwsh has the terminal it had before'
        }

        It 'refuses a guest without a serial console with ConsoleNotAvailable, and one that is off with GuestStateInvalid' {
            if ($noTerminal) { Set-ItResult -Skipped -Because $noTerminal; return }
            $term = Start-Console "foreach (`$g in 'con-bare', 'con-off') { try { Connect-KvmGuest -Uri '$uri' `$g -ErrorAction Stop } catch { 'ERRID=' + `$_.FullyQualifiedErrorId + ' ' + `$_.TargetObject } }"
            Wait-TerminalScreen $term -Pattern '^ERRID=' -Occurrence 1 | Should -Be 'ERRID=ConsoleNotAvailable,KvmHost.Commands.ConnectKvmGuestCommand con-bare'
            Wait-TerminalScreen $term -Pattern '^ERRID=' -Occurrence 2 | Should -Be 'ERRID=GuestStateInvalid,KvmHost.Commands.ConnectKvmGuestCommand con-off'
            Get-DomainState con-off | Should -Be 'shut off'
        }
    }

    It 'refuses to run without a terminal with ConsoleTerminalRequired, before asking libvirt' {
        # A child pwsh whose standard input and output are pipes, as in a script, a CI job or a remoting session.
        $script = "Import-Module '$(Get-KvmHostModulePath)'; try { Connect-KvmGuest -Uri 'qemu+unix:///system?socket=/nonexistent' con1 -ErrorAction Stop } " +
            "catch { `$_.FullyQualifiedErrorId; `$_.CategoryInfo.Category; `$_.ErrorDetails.RecommendedAction }"
        $result = Invoke-HarnessProcess (Get-HarnessPwshCommand)[0] (@(Get-HarnessPwshCommand | Select-Object -Skip 1) + '-NoProfile', '-NonInteractive', '-Command', $script)
        $result.Output[0] | Should -Be 'ConsoleTerminalRequired,KvmHost.Commands.ConnectKvmGuestCommand' -Because 'the terminal is checked before the (unreachable) daemon'
        $result.Output[1] | Should -Be 'InvalidOperation'
        $result.Output[2] | Should -Match 'Get-KvmGuestConsoleLog'
    }

    Context 'Get-KvmGuestConsoleLog' {
        It 'returns what a running guest printed, read as its daemon sees the file' {
            Set-GuestRunning con1
            $log = @(Get-KvmGuestConsoleLog -Uri $uri con1)
            $log | Should -Contain 'KVMHOST-GUEST-READY con1'
            $log | Where-Object { $_ -match '[\x00-\x08\x0b-\x1f\x7f]' } | Should -BeNullOrEmpty -Because 'escape sequences and control characters are removed'
            $expected = @(Get-LabGuestConsole -Lab $lab -Name con1 | Where-Object { $_ })
            @($log | Where-Object { $_ }) | Should -Be $expected -Because 'it is the file the harness reads directly, line for line'
        }

        It '-Tail returns only the last lines' {
            Set-GuestRunning con1
            Send-LabGuestConsole -Lab $lab -Name con1 -Text 'echo KVMHOST-TAIL-END'
            $null = Wait-LabGuestConsole -Lab $lab -Name con1 -Pattern '^KVMHOST-TAIL-END'
            $all = @(Get-KvmGuestConsoleLog -Uri $uri con1)
            $tail = @(Get-KvmGuestConsoleLog -Uri $uri con1 -Tail 3)
            $tail.Count | Should -Be 3
            $tail | Should -Be ($all | Select-Object -Last 3)
            @(Get-KvmGuestConsoleLog -Uri $uri con1 -Tail 0).Count | Should -Be 0
            @(Get-KvmGuestConsoleLog -Uri $uri con1 -Tail 100000) | Should -Be $all
        }

        It 'reads the log of a guest that is off where its daemon keeps it (inside the lab)' {
            Set-GuestRunning con1
            Set-GuestOff con1
            $script = "Import-Module '$(Get-KvmHostModulePath)'; Get-KvmGuestConsoleLog con1 -Tail 500"
            $inside = Invoke-InGuestLab $lab -Command (@(Get-HarnessPwshCommand) + '-NoProfile', '-NonInteractive', '-Command', $script)
            $inside.Output | Should -Contain 'KVMHOST-GUEST-READY con1'
        }

        It 'gives nothing for a log that is not written yet, and -Verbose says why' {
            Set-GuestOff con-off
            $output = Get-KvmGuestConsoleLog -Uri $uri con-off -Verbose 4>&1
            @($output | Where-Object { $_ -is [string] }).Count | Should -Be 0
            ($output | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] }).Message |
                Should -Contain 'console log of con-off: /var/log/libvirt/qemu/con-off-serial.log is not there yet (nothing was logged since it was configured).'
        }

        It 'refuses a user who may not read the log with FileUnreadable (virtlogd writes it for root)' {
            Set-GuestRunning con1
            $unprivileged = New-UnprivilegedPwsh
            try {
                $probe = "Import-Module '$($unprivileged.Module)'; try { Get-KvmGuestConsoleLog con1 -Tail 1 -ErrorAction Stop; 'read' } catch { `$_.FullyQualifiedErrorId; `$_.CategoryInfo.Category }"
                $result = Invoke-InGuestLab $lab -AllowFailure -Command ($unprivileged.Command + $probe)
                @($result.Output | ForEach-Object Trim) | Should -Be @('FileUnreadable,KvmHost.Commands.GetKvmGuestConsoleLogCommand', 'PermissionDenied')
            }
            finally { Remove-ScratchRoot $unprivileged.Path }
        }

        It 'refuses a guest without a serial console with ConsoleLogNotConfigured and the way to add one' {
            $failure = { Get-KvmGuestConsoleLog -Uri $uri con-bare -ErrorAction Stop } |
                Should -Throw -ErrorId 'ConsoleLogNotConfigured,KvmHost.Commands.GetKvmGuestConsoleLogCommand' -PassThru
            $failure.CategoryInfo.Category | Should -Be 'ObjectNotFound'
            $failure.TargetObject | Should -Be 'con-bare'
            $failure.ErrorDetails.RecommendedAction | Should -Match "<log file="
        }

        It 'goes on past a guest without a log when several are asked' {
            Set-GuestRunning con1
            $log = Get-KvmGuestConsoleLog -Uri $uri con-bare, con1 -Tail 5 -ErrorVariable failures -ErrorAction SilentlyContinue
            @($failures).Count | Should -Be 1
            $failures[0].FullyQualifiedErrorId | Should -Be 'ConsoleLogNotConfigured,KvmHost.Commands.GetKvmGuestConsoleLogCommand'
            @($log).Count | Should -Be 5
        }
    }
}
