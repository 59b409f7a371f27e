BeforeDiscovery {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot 'harness/Fleet.psm1') -Force
    $skipReason = Test-TestFleetSupported
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    Import-Module (Get-KvmHostModulePath) -Force
    Import-Module (Join-Path $PSScriptRoot 'harness/Fleet.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot 'harness/SystemdBox.psm1') -Force

    $moduleDirectory = Split-Path (Get-KvmHostModulePath)
    $version = (Import-PowerShellDataFile (Get-KvmHostModulePath)).ModuleVersion
    # Where an admin installs the module for all users: on pwsh's default PSModulePath on Linux.
    $installPath = "/usr/local/share/powershell/Modules/KvmHost/$version"

    function Invoke-Bounded {
        # Runs a remoting call as a job so that a regression to "hangs forever" fails the test instead.
        param([scriptblock] $Call, [int] $TimeoutSeconds = 60)
        $clock = [System.Diagnostics.Stopwatch]::StartNew()
        $job = & $Call
        $finished = Wait-Job $job -Timeout $TimeoutSeconds
        $elapsed = $clock.Elapsed
        if (-not $finished) { Stop-Job $job }
        $output = Receive-Job $job -ErrorAction SilentlyContinue -ErrorVariable failures
        Remove-Job $job -Force
        [pscustomobject]@{ Finished = [bool] $finished; Elapsed = $elapsed; Output = @($output); Errors = @($failures) }
    }

    function Get-FleetSession {
        # The shared sessions, reopened where a test that cut a host off broke them.
        foreach ($index in 0..($sessions.Count - 1)) {
            if ($sessions[$index].State -ne 'Opened') {
                Remove-PSSession $sessions[$index]
                $reconnect = $connect.Clone()
                $reconnect.HostName = $fleet.Hosts[$index].HostName
                $sessions[$index] = New-PSSession @reconnect
            }
        }
        $sessions
    }
}

Describe "KvmHost on a fleet of hosts over SSH remoting$(if ($skipReason) { " (skipped: $skipReason)" })" -Tag 'Fleet' -Skip:([bool] $skipReason) {
    BeforeAll {
        $fleet = New-TestFleet -Count 3
        $connect = $fleet.SessionParameters
        # In host order (New-PSSession returns them as they open), so $sessions[i] is $fleet.Hosts[i].
        $sessions = [System.Collections.Generic.List[object]] @(New-PSSession @connect -ErrorAction Stop |
            Sort-Object { [array]::IndexOf($fleet.Hosts.HostName, $_.ComputerName) })
        $installedBefore = Invoke-Command -Session $sessions { @(Get-Module -ListAvailable KvmHost).Count }
        # The real deployment path: the built module folder, copied through each host's session.
        foreach ($session in $sessions) {
            Copy-Item -Path $moduleDirectory -Destination $installPath -ToSession $session -Recurse -Force -ErrorAction Stop
        }
    }

    AfterAll {
        if ($sessions) { $sessions | Remove-PSSession }
        if ($fleet) { Remove-TestFleet $fleet }
    }

    It 'installs the built module on every host with Copy-Item -ToSession' {
        $installedBefore | Should -Be @(0, 0, 0) -Because 'the boxes must not see a KvmHost from elsewhere'
        $installed = Invoke-Command -Session (Get-FleetSession) { Get-Module -ListAvailable KvmHost }
        @($installed).Count | Should -Be 3
        foreach ($module in $installed) {
            $module.Version.ToString() | Should -Be $version
            $module.ModuleBase | Should -Be $installPath
        }
    }

    It 'runs on every host at once and tells the answers apart by PSComputerName' {
        $results = Invoke-Command -Session (Get-FleetSession) -ThrottleLimit 4 -ErrorAction Stop {
            Import-Module KvmHost; Test-KvmCpuSupport
        }
        @($results).Count | Should -Be 3
        @($results.PSComputerName | Sort-Object) | Should -Be @($fleet.Hosts.HostName | Sort-Object)
        # The boxes share this machine's CPU and kernel (the same /sys/module), so each remote answer
        # describes them. /dev is the box's own: this machine may have /dev/kvm where a box has none (or the
        # other way round), so the /dev/kvm checks, and the verdict they feed, are the one thing not compared.
        $local = Test-KvmCpuSupport
        $localShared = @($local.Checks | Where-Object Name -notlike '/dev/kvm*' | ForEach-Object { "$($_.Name): $($_.Detail)" })
        foreach ($result in $results) {
            $result.PSObject.TypeNames[0] | Should -Be 'Deserialized.KvmHost.Core.Cpu.KvmCpuSupport'
            $result.Supported | Should -BeOfType [bool]
            $result.Status | Should -Not -BeNullOrEmpty
            $result.LogicalProcessorCount | Should -Be $local.LogicalProcessorCount
            $result.Vendor | Should -Be $local.Vendor
            @($result.KvmModules) | Should -Be @($local.KvmModules)
            if (-not $result.Supported) { $result.Reason | Should -Not -BeNullOrEmpty }
            @($result.Checks | Where-Object Name -notlike '/dev/kvm*' | ForEach-Object { "$($_.Name): $($_.Detail)" }) | Should -Be $localShared
            foreach ($check in $result.Checks) {
                $check.Name | Should -Not -BeNullOrEmpty -Because 'each check must arrive as an object, not as its text'
                $check.Result | Should -BeIn @('Pass', 'Warn', 'Fail', 'Note')
            }
        }
    }

    It "shows remote answers in the module's own view" {
        $result = Invoke-Command -Session (Get-FleetSession)[0] -ErrorAction Stop { Import-Module KvmHost; Test-KvmCpuSupport }
        $text = $result | Out-String -Width 120
        $text | Should -Match 'Cpu\s+: \S+ .*logical CPUs' -Because 'the Cpu line exists only in the view'
        $text | Should -Match '(PASS|WARN|FAIL|NOTE) +Hardware virtualization:'
        $text | Should -Not -Match 'KvmDeviceAccessible' -Because 'the view, not the default list of every property, formats it'
    }

    It 'reports a failing host under its own name while the other hosts finish' {
        $image = '/var/tmp/kvmhost-fleet-image'
        $good = New-ScratchRoot -Fixtures @{ 'proc/cpuinfo' = 'cpuinfo/intel-xeon-e5-2650v3-2s-vmx.txt' }
        $broken = New-ScratchRoot -Directories 'proc'
        try {
            $sessions = Get-FleetSession
            Copy-Item $good -Destination $image -ToSession $sessions[0] -Recurse -Force -ErrorAction Stop
            Copy-Item $good -Destination $image -ToSession $sessions[1] -Recurse -Force -ErrorAction Stop
            Copy-Item $broken -Destination $image -ToSession $sessions[2] -Recurse -Force -ErrorAction Stop

            $results = Invoke-Command -Session $sessions -ErrorAction SilentlyContinue -ErrorVariable failures {
                Import-Module KvmHost; Test-KvmCpuSupport -Root $using:image
            }

            @($results.PSComputerName | Sort-Object) | Should -Be @($sessions[0, 1].ComputerName | Sort-Object)
            $results.LogicalProcessorCount | Should -Be @(40, 40)
            @($failures).Count | Should -Be 1
            $failures[0].OriginInfo.PSComputerName | Should -Be $sessions[2].ComputerName
            $failures[0].FullyQualifiedErrorId | Should -Be 'CpuInfoNotFound,KvmHost.Commands.TestKvmCpuSupportCommand'
            $failures[0].CategoryInfo.Category | Should -Be 'ObjectNotFound'
            $failures[0].TargetObject | Should -Be '/proc/cpuinfo' -Because 'the path is named inside -Root'
        }
        finally {
            Remove-ScratchRoot $good
            Remove-ScratchRoot $broken
        }
    }

    It 'names a host whose sshd is stopped in its error while the others answer' {
        $down = $fleet.Hosts[2]
        $null = Invoke-TestBox -Name $down.BoxName -Command systemctl, stop, ssh.service
        try {
            $call = Invoke-Bounded -TimeoutSeconds 90 {
                Invoke-Command @connect -AsJob { Import-Module KvmHost; Test-KvmCpuSupport }
            }
            $call.Finished | Should -BeTrue -Because 'a host that is down must not hang the fleet'
            @($call.Output.PSComputerName | Sort-Object) | Should -Be @($fleet.Hosts[0, 1].HostName | Sort-Object)
            @($call.Errors).Count | Should -Be 1
            # A host that cannot be reached names itself in TargetObject (OriginInfo is for errors raised there).
            $call.Errors[0].TargetObject | Should -Be $down.HostName
            $call.Errors[0].CategoryInfo.Category | Should -Be 'OpenError'
            $call.Errors[0].Exception | Should -BeOfType [System.Management.Automation.Remoting.PSRemotingTransportException]
        }
        finally {
            $null = Invoke-TestBox -Name $down.BoxName -Command systemctl, start, ssh.service
        }
    }

    It 'gives up within ConnectTimeout on a host that accepts the connection but never answers' {
        $frozen = $fleet.Hosts[2]
        $sshd = (Invoke-TestBox -Name $frozen.BoxName -Command systemctl, show, -P, MainPID, ssh.service).StdOut.Trim()
        $null = Invoke-TestBox -Name $frozen.BoxName -Command kill, -STOP, $sshd
        try {
            $single = $connect.Clone()
            $single.HostName = $frozen.HostName
            $call = Invoke-Bounded -TimeoutSeconds 60 { Invoke-Command @single -AsJob { 1 } }
            $call.Finished | Should -BeTrue
            $call.Output | Should -BeNullOrEmpty
            @($call.Errors).Count | Should -Be 1
            # ssh says "Connection timed out during banner exchange" on stderr; PowerShell only that it ended.
            $call.Elapsed.TotalSeconds | Should -BeGreaterOrEqual ([int] $connect.Options.ConnectTimeout - 1) -Because 'it waited for the timeout, not for a refusal'
            $call.Elapsed.TotalSeconds | Should -BeLessThan ([int] $connect.Options.ConnectTimeout + 20)
        }
        finally {
            $null = Invoke-TestBox -Name $frozen.BoxName -Command kill, -CONT, $sshd
        }
    }

    It 'ends a call on an open session within the keep-alive window when the host link dies' {
        $cut = $fleet.Hosts[2]
        $single = $connect.Clone()
        $single.HostName = $cut.HostName
        $session = New-PSSession @single -ErrorAction Stop
        try {
            Set-TestFleetLink $fleet -Index $cut.Index -State Down
            $call = Invoke-Bounded -TimeoutSeconds 60 { Invoke-Command -Session $session -AsJob { Start-Sleep -Seconds 1; 1 } }
            $call.Finished | Should -BeTrue -Because 'ServerAliveInterval x ServerAliveCountMax bounds a dead link'
            $call.Output | Should -BeNullOrEmpty
            @($call.Errors).Count | Should -BeGreaterOrEqual 1
            $window = [int] $connect.Options.ServerAliveInterval * [int] $connect.Options.ServerAliveCountMax
            $call.Elapsed.TotalSeconds | Should -BeLessThan ($window + 20)
            $session.State | Should -Not -Be 'Opened'
        }
        finally {
            Set-TestFleetLink $fleet -Index $cut.Index -State Up
            Remove-PSSession $session
        }
    }
}

Describe 'about_KvmHost_Fleet' -Tag 'Fleet', 'Help' {
    It 'is installed with the module and shows both ways onto the hosts, the throttle and the error fields' {
        $text = Get-Help about_KvmHost_Fleet | Out-String
        $text | Should -Match 'scp -r \./out/KvmHost'
        $text | Should -Match '(?s)Copy-Item \./out/KvmHost .*-ToSession'
        $text | Should -Match 'Invoke-Command -Session \$s -ThrottleLimit'
        $text | Should -Match 'OriginInfo\.PSComputerName'
        $text | Should -Match 'ServerAliveInterval'
    }
}
