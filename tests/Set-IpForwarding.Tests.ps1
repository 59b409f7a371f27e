BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    Import-Module (Get-KvmHostModulePath) -Force
    $harness = Join-Path $PSScriptRoot 'harness/forwarding-netns.sh'
    # Why the tests in a network namespace of their own cannot run here, or $null.
    $noNamespace = if (-not (Test-IsRoot)) { 'needs root to make a network namespace' }
        elseif (-not (Get-Command unshare -ErrorAction SilentlyContinue)) { "no 'unshare' on PATH (Debian package util-linux)" }
    $noIpNetns = if ($noNamespace) { $noNamespace } elseif (-not (Get-Command ip -ErrorAction SilentlyContinue)) { "no 'ip' on PATH (Debian package iproute2)" }
    $hasBridgeNetfilter = Test-Path /proc/sys/net/bridge/bridge-nf-call-iptables

    function New-Rhel7Root([string] $SysctlConf) {
        # RHEL 7's vendor files and its sysctl.conf, linked in as /etc/sysctl.d/99-sysctl.conf like the real system.
        $files = @{}
        if ($PSBoundParameters.ContainsKey('SysctlConf')) { $files['etc/sysctl.conf'] = $SysctlConf }
        $fixtures = @{
            'usr/lib/sysctl.d/00-system.conf'  = 'sysctl/rhel7-usr-lib-sysctl.d-00-system.conf'
            'usr/lib/sysctl.d/50-default.conf' = 'sysctl/rhel7.6-usr-lib-sysctl.d-50-default.conf'
        }
        if (-not $files.ContainsKey('etc/sysctl.conf')) { $fixtures['etc/sysctl.conf'] = 'sysctl/rhel7-etc-sysctl.conf' }
        $root = New-ScratchRoot -Files $files -Fixtures $fixtures -Directories 'etc/sysctl.d'
        $null = New-Item -ItemType SymbolicLink -Path (Join-Path $root 'etc/sysctl.d/99-sysctl.conf') -Target '../sysctl.conf'
        $root
    }

    function Invoke-InForwardingNamespace([string[]] $HarnessOptions, [string] $Script) {
        # Runs $Script with the built module in a child pwsh inside the namespace; it prints '--- result ---', then JSON.
        $file = Join-Path ([IO.Path]::GetTempPath()) ("kvmhost-fwd-" + [guid]::NewGuid().ToString('N') + '.ps1')
        Set-Content -LiteralPath $file -Value ("Import-Module '$(Get-KvmHostModulePath)'`n" + $Script)
        try {
            $pwsh = Get-PwshInvocation
            $output = & $harness @HarnessOptions -- @pwsh -NoProfile -NonInteractive -File $file 2>&1
            if ($LASTEXITCODE -ne 0) { throw "namespace run failed ($LASTEXITCODE): $($output -join "`n")" }
            # -WhatIf messages go to the child's host output too: the JSON follows the marker line.
            $text = ($output | Where-Object { $_ -is [string] }) -join "`n"
            $text.Substring($text.LastIndexOf('--- result ---') + 14) | ConvertFrom-Json
        } finally { Remove-Item -LiteralPath $file -ErrorAction SilentlyContinue }
    }

    $liveScript = @'
[IO.File]::WriteAllText('/proc/sys/net/ipv4/ip_forward', "0`n")
$before = [IO.File]::ReadAllText('/proc/sys/net/ipv4/ip_forward').Trim()
$whatIf = Set-IpForwarding -Root / -WhatIf -WarningAction SilentlyContinue
$afterWhatIf = [IO.File]::ReadAllText('/proc/sys/net/ipv4/ip_forward').Trim()
$fileAfterWhatIf = Test-Path /etc/sysctl.d/90-kvmhost-forwarding.conf
$first = Set-IpForwarding -Root / -WarningAction SilentlyContinue
$second = Set-IpForwarding -Root / -WarningAction SilentlyContinue
$get = Get-IpForwarding -AddressFamily IPv4 -WarningAction SilentlyContinue
'--- result ---'
[pscustomobject]@{
    Before = $before
    After = [IO.File]::ReadAllText('/proc/sys/net/ipv4/ip_forward').Trim()
    File = [IO.File]::ReadAllText('/etc/sysctl.d/90-kvmhost-forwarding.conf')
    WhatIf = $whatIf; AfterWhatIf = $afterWhatIf; FileAfterWhatIf = $fileAfterWhatIf
    First = $first; Second = $second; Get = $get
} | ConvertTo-Json -Depth 4
'@
}

Describe 'Set-IpForwarding' {
    Context 'for real, in a network namespace the test creates' {
        It 'turns the namespace''s ip_forward from 0 to 1 (not under -WhatIf), writes the drop-in, and a second run changes nothing' {
            if ($noNamespace) { Set-ItResult -Skipped -Because $noNamespace; return }
            $hostValue = (Get-Content -Raw /proc/sys/net/ipv4/ip_forward).Trim()
            $result = Invoke-InForwardingNamespace @() $liveScript
            $result.Before | Should -Be '0'
            $result.WhatIf.WhatIf | Should -BeTrue
            $result.WhatIf.Changed | Should -BeFalse
            $result.WhatIf.RuntimeValue | Should -Be 0 -Because 'a preview shows the kernel as it is, the change only in PlannedChanges'
            $result.WhatIf.PersistentValue | Should -BeNullOrEmpty
            $result.WhatIf.ConfigurationFile | Should -BeNullOrEmpty -Because 'the drop-in does not exist yet'
            $result.WhatIf.PlannedChanges | Should -Contain '/proc/sys/net/ipv4/ip_forward: 0 -> 1'
            $result.AfterWhatIf | Should -Be '0'
            $result.FileAfterWhatIf | Should -BeFalse
            $result.After | Should -Be '1'
            $result.File | Should -Match '(?m)^net\.ipv4\.ip_forward = 1$'
            $result.First.Changed | Should -BeTrue
            $result.First.RuntimeApplied | Should -BeTrue
            $result.First.RuntimeValue | Should -Be 1
            $result.First.PlannedChanges | Should -Contain '/proc/sys/net/ipv4/ip_forward: 0 -> 1'
            $result.Second.Changed | Should -BeFalse
            $result.Second.PlannedChanges | Should -BeNullOrEmpty
            $result.Get.RuntimeValue | Should -Be 1
            (Get-Content -Raw /proc/sys/net/ipv4/ip_forward).Trim() | Should -Be $hostValue
        }

        It 'works the same when entered with ip netns exec, and sets the bridge keys only in that namespace' {
            if ($noIpNetns) { Set-ItResult -Skipped -Because $noIpNetns; return }
            $hostBridge = if ($hasBridgeNetfilter) { (Get-Content -Raw /proc/sys/net/bridge/bridge-nf-call-iptables).Trim() }
            $script = $liveScript.Replace('$first = Set-IpForwarding -Root /', '$first = Set-IpForwarding -Root / -DisableBridgeNetfilter')
            $script = $script.Replace('Get = $get', 'Get = $get; Bridge = if (Test-Path /proc/sys/net/bridge/bridge-nf-call-iptables) { [IO.File]::ReadAllText(''/proc/sys/net/bridge/bridge-nf-call-iptables'').Trim() }')
            $result = Invoke-InForwardingNamespace @('--ip-netns') $script
            $result.After | Should -Be '1'
            $result.First.Changed | Should -BeTrue
            $result.Second.Changed | Should -BeFalse
            $result.File | Should -Match '(?m)^net\.bridge\.bridge-nf-call-iptables = 0$'
            if ($hasBridgeNetfilter) {
                $result.Bridge | Should -Be '0'
                (Get-Content -Raw /proc/sys/net/bridge/bridge-nf-call-iptables).Trim() | Should -Be $hostBridge
            }
        }
    }

    Context 'on scratch roots built from real files' {
        It 'creates the module''s drop-in and says the runtime was not touched' {
            $root = New-Rhel7Root
            try {
                $result = Set-IpForwarding -Root $root
                $result.PSObject.TypeNames[0] | Should -Be 'KvmHost.Core.Sysctl.IpForwardingResult'
                $result.AddressFamily | Should -Be 'IPv4'
                $result.Changed | Should -BeTrue
                $result.RuntimeApplied | Should -BeFalse
                $result.RuntimeValue | Should -BeNullOrEmpty
                $result.PersistentValue | Should -Be 1
                $result.EffectiveFile | Should -Be '/etc/sysctl.d/90-kvmhost-forwarding.conf'
                $result.Overridden | Should -BeFalse
                Get-Content (Join-Path $root 'etc/sysctl.d/90-kvmhost-forwarding.conf') | Should -Contain 'net.ipv4.ip_forward = 1'
                (Get-Item (Join-Path $root 'etc/sysctl.d/90-kvmhost-forwarding.conf')).UnixFileMode | Should -Be ([IO.UnixFileMode]'UserRead, UserWrite, GroupRead, OtherRead')
            } finally { Remove-ScratchRoot $root }
        }

        It 'is idempotent: the second run changes no byte and reports Changed = False' {
            $root = New-Rhel7Root
            try {
                $null = Set-IpForwarding -Root $root -AddressFamily Both
                $hash = Get-TreeHash $root
                $second = Set-IpForwarding -Root $root -AddressFamily Both
                $second.Count | Should -Be 2
                $second.Changed | Should -Not -Contain $true
                Get-TreeHash $root | Should -Be $hash
            } finally { Remove-ScratchRoot $root }
        }

        It 'edits RHEL 7''s sysctl.conf as its procedure does, keeping every line, and replaces key=value instead of duplicating it' {
            $root = New-Rhel7Root
            try {
                $original = [IO.File]::ReadAllText((Join-Path $root 'etc/sysctl.conf'))
                $null = Set-IpForwarding -Root $root -Path /etc/sysctl.conf
                [IO.File]::ReadAllText((Join-Path $root 'etc/sysctl.conf')) | Should -BeExactly ($original + "net.ipv4.ip_forward = 1`n")

                [IO.File]::WriteAllText((Join-Path $root 'etc/sysctl.conf'), $original + "#net.ipv4.ip_forward=1`nnet.ipv4.ip_forward=0`n")
                $result = Set-IpForwarding -Root $root -Path /etc/sysctl.conf
                [IO.File]::ReadAllText((Join-Path $root 'etc/sysctl.conf')) | Should -BeExactly ($original + "#net.ipv4.ip_forward=1`nnet.ipv4.ip_forward=1`n")
                $result.FileChanges | Should -Match 'replaced, backup /etc/sysctl\.conf\.kvmhost-.*\.bak'
                $result.EffectiveFile | Should -Be '/etc/sysctl.conf'
            } finally { Remove-ScratchRoot $root }
        }

        It 'warns and reports Overridden when an old sysctl.conf with ip_forward = 0 wins at boot' {
            $root = New-Rhel7Root -SysctlConf "# RHEL 6 era`nnet.ipv4.ip_forward = 0`n"
            try {
                $result = Set-IpForwarding -Root $root -WarningVariable warnings -WarningAction SilentlyContinue
                $result.Overridden | Should -BeTrue
                $result.PersistentValue | Should -Be 0
                $result.EffectiveFile | Should -Be '/etc/sysctl.conf'
                $result.EffectiveEntry | Should -Be '/etc/sysctl.d/99-sysctl.conf'
                $result.EffectiveLine | Should -Be 2
                "$warnings" | Should -Match '/etc/sysctl\.conf line 2 sets net\.ipv4\.ip_forward = 0'
            } finally { Remove-ScratchRoot $root }
        }

        It 'with -ResolveConflict sets the overriding line in place, so the drop-in wins at boot' {
            $root = New-Rhel7Root -SysctlConf "# RHEL 6 era`nnet.ipv4.ip_forward = 0`n"
            try {
                $result = Set-IpForwarding -Root $root -ResolveConflict -WarningVariable warnings
                $warnings | Should -BeNullOrEmpty
                $result.Overridden | Should -BeFalse
                $result.PersistentValue | Should -Be 1
                [IO.File]::ReadAllText((Join-Path $root 'etc/sysctl.conf')) | Should -BeExactly "# RHEL 6 era`nnet.ipv4.ip_forward = 1`n"
                (Get-Item (Join-Path $root 'etc/sysctl.d/99-sysctl.conf')).LinkTarget | Should -Be '../sysctl.conf'
                @($result.FileChanges).Count | Should -Be 2
            } finally { Remove-ScratchRoot $root }
        }

        It '-WhatIf shows the state as it is, names the exact line it would write, and changes nothing, not even a lock file' {
            $root = New-Rhel7Root -SysctlConf "net.ipv4.ip_forward = 0`n"
            try {
                $hash = Get-TreeHash $root
                $result = Set-IpForwarding -Root $root -Path /etc/sysctl.conf -WhatIf
                Get-TreeHash $root | Should -Be $hash
                Join-Path $root 'run' | Should -Not -Exist -Because 'the lock file lives in /run/lock'
                $result.WhatIf | Should -BeTrue
                $result.Changed | Should -BeFalse
                $result.PersistentValue | Should -Be 0 -Because 'boot applies 0 until the change is made'
                $result.ConfiguredValue | Should -Be 0
                $result.PlannedChanges | Should -Contain "/etc/sysctl.conf: line 1: 'net.ipv4.ip_forward = 0' -> 'net.ipv4.ip_forward = 1'"
            } finally { Remove-ScratchRoot $root }
        }

        It '-WhatIf on a converged root is still a preview, with nothing planned' {
            $root = New-Rhel7Root
            try {
                $null = Set-IpForwarding -Root $root
                $hash = Get-TreeHash $root
                $result = Set-IpForwarding -Root $root -WhatIf
                $result.WhatIf | Should -BeTrue
                $result.Changed | Should -BeFalse
                $result.PlannedChanges | Should -BeNullOrEmpty
                $result.PersistentValue | Should -Be 1
                Get-TreeHash $root | Should -Be $hash
            } finally { Remove-ScratchRoot $root }
        }

        It 'shows Changed, WhatIf and PlannedChanges in its view, and the state first' {
            $root = New-Rhel7Root
            try {
                $text = Set-IpForwarding -Root $root -WhatIf | Out-String -Width 120
                $text | Should -Match '(?s)PersistentValue\s+: \(no file sets it: kernel default\).*Changed\s+: False\s+WhatIf\s+: True\s+PlannedChanges\s+: /etc/sysctl\.d/90-kvmhost-forwarding\.conf: '
                $text | Should -Not -Match 'False \(WhatIf\)'
            } finally { Remove-ScratchRoot $root }
        }

        It '-Enabled:$false writes 0 for both families' {
            $root = New-Rhel7Root
            try {
                $null = Set-IpForwarding -Root $root -AddressFamily Both
                $result = Set-IpForwarding -Root $root -AddressFamily Both -Enabled:$false
                $result.PersistentValue | Should -Be @(0, 0)
                $content = Get-Content (Join-Path $root 'etc/sysctl.d/90-kvmhost-forwarding.conf')
                $content | Should -Contain 'net.ipv4.ip_forward = 0'
                $content | Should -Contain 'net.ipv6.conf.all.forwarding = 0'
                $content | Should -Not -Contain 'net.ipv4.ip_forward = 1'
            } finally { Remove-ScratchRoot $root }
        }

        It 'takes a bridge''s Name from the pipeline as the IPv6 uplink and tells about accept_ra' {
            $root = New-Rhel7Root
            try {
                $result = [pscustomobject]@{ Name = 'br0' } | Set-IpForwarding -Root $root -AddressFamily IPv6
                $result.Key | Should -Be 'net.ipv6.conf.all.forwarding'
                $result.Notes | Should -Match 'accept_ra = 2'
            } finally { Remove-ScratchRoot $root }
        }

        It 'with -DisableBridgeNetfilter adds the bridge keys and the br_netfilter caveat' {
            $root = New-Rhel7Root
            try {
                $result = Set-IpForwarding -Root $root -DisableBridgeNetfilter
                $result.Notes | Should -Match 'exist only once br_netfilter is loaded'
                Get-Content (Join-Path $root 'etc/sysctl.d/90-kvmhost-forwarding.conf') | Should -Contain 'net.bridge.bridge-nf-call-arptables = 0'
            } finally { Remove-ScratchRoot $root }
        }
    }

    Context 'bad input: a clear error and nothing written' {
        BeforeEach {
            $root = New-Rhel7Root
            [IO.File]::WriteAllBytes((Join-Path $root 'etc/sysctl.d/80-binary.conf'), [byte[]](0x7f, 0x45, 0x4c, 0x46, 0, 0, 1))
            $hash = Get-TreeHash $root
        }
        AfterEach {
            Get-TreeHash $root | Should -Be $hash
            Remove-ScratchRoot $root
        }

        It 'refuses a -Path that climbs out of the root' {
            { Set-IpForwarding -Root $root -Path '/etc/../../escape.conf' } |
                Should -Throw -ErrorId 'PathEscapesRoot,KvmHost.Commands.SetIpForwardingCommand'
        }

        It 'refuses a -Path that is a directory' {
            { Set-IpForwarding -Root $root -Path /etc/sysctl.d } |
                Should -Throw -ErrorId 'NotADirectory,KvmHost.Commands.SetIpForwardingCommand'
        }

        It 'refuses a relative -Path' {
            { Set-IpForwarding -Root $root -Path etc/sysctl.conf } |
                Should -Throw -ErrorId 'SysctlPathInvalid,KvmHost.Commands.SetIpForwardingCommand'
        }

        It 'refuses a file that is not text' {
            { Set-IpForwarding -Root $root -Path /etc/sysctl.d/80-binary.conf } |
                Should -Throw -ErrorId 'FileNotText,KvmHost.Commands.SetIpForwardingCommand'
        }

        It 'refuses an unknown address family' {
            { Set-IpForwarding -Root $root -AddressFamily IPX } |
                Should -Throw -ErrorId 'CannotConvertArgumentNoMessage,KvmHost.Commands.SetIpForwardingCommand'
        }
    }

    Context 'a conflict it will not resolve' {
        It 'refuses -ResolveConflict when the overriding file is a vendor file, and writes nothing' {
            $root = New-Rhel7Root
            try {
                [IO.File]::WriteAllText((Join-Path $root 'usr/lib/sysctl.d/99-zz-vendor.conf'), "net.ipv4.ip_forward = 0`n")
                $hash = Get-TreeHash $root
                { Set-IpForwarding -Root $root -ResolveConflict } |
                    Should -Throw -ErrorId 'SysctlConflictNotResolvable,KvmHost.Commands.SetIpForwardingCommand'
                Get-TreeHash $root | Should -Be $hash
            } finally { Remove-ScratchRoot $root }
        }
    }

    Context 'help' {
        It 'has a synopsis, examples and the precedence notes' {
            $help = Get-Help Set-IpForwarding -Full
            $help.Synopsis | Should -Not -BeNullOrEmpty
            @($help.Examples.Example).Count | Should -BeGreaterOrEqual 2
            ($help.alertSet | Out-String) | Should -Match 'systemd-sysctl'
        }
    }
}
