<#
    Checkpoint-KvmGuest, Get-, Restore- and Remove-KvmGuestCheckpoint against real QEMU guests (TCG) in one
    throw-away guest lab: a running guest whose disk and memory change and come back, a guest that is off for
    trees, a raw-disk guest, a UEFI guest and a guest with an external snapshot for the refusals. What the guest
    prints on its serial console proves what happened inside it; virsh and qemu-img (fixture tools) check what
    libvirt and the images hold. Every test puts its guests into the state it needs first.
#>
BeforeDiscovery {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot 'harness/GuestLab.psm1') -Force
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

    $ready = '^KVMHOST-GUEST-READY '

    # The lab's helpers, for this file's lab.
    function Get-ConsoleCount([string] $Name, [string] $Pattern) { Get-LabGuestConsoleCount -Lab $lab -Name $Name -Pattern $Pattern }
    function Get-DomainState([string] $Name) { Get-LabGuestState -Lab $lab -Name $Name }
    function Set-GuestRunning([string] $Name) { Set-LabGuestRunning -Lab $lab -Name $Name }
    function Set-GuestOff([string] $Name) { Set-LabGuestOff -Lab $lab -Name $Name }

    # What libvirt itself says, through virsh: names in creation order, and each one's parent.
    function Get-SnapshotNames([string] $Name) {
        @((Invoke-GuestLabVirsh $lab 'snapshot-list', $Name, '--name').Output | ForEach-Object Trim | Where-Object { $_ })
    }

    function Get-SnapshotParent([string] $Name, [string] $Snapshot) {
        $result = Invoke-GuestLabVirsh $lab 'snapshot-parent', $Name, $Snapshot -AllowFailure
        if ($result.ExitCode -eq 0) { $result.StdOut.Trim() }
    }

    function Clear-Snapshots([string] $Name) {
        foreach ($snapshot in Get-SnapshotNames $Name) {
            $null = Invoke-GuestLabVirsh $lab 'snapshot-delete', $Name, $snapshot -AllowFailure
        }
    }

    # Typed into the guest's shell; the echo after it says the command ran (a line of its own on the console).
    function Invoke-GuestShell([string] $Name, [string] $Command, [string] $Done) {
        $count = Get-ConsoleCount $Name "^$Done"
        Send-LabGuestConsole -Lab $lab -Name $Name -Text "$Command; echo $Done"
        $null = Wait-LabGuestConsole -Lab $lab -Name $Name -Pattern "^$Done" -Occurrence ($count + 1) -TimeoutSec 60
    }

    function Get-WhatIfText([string] $Command) {
        # "What if:" goes to the host, not to a stream: a child pwsh's standard output has it.
        $pwsh = Get-HarnessPwshCommand
        $script = "`$PSStyle.OutputRendering = 'PlainText'; Import-Module '$(Get-KvmHostModulePath)'; $Command"
        (& $pwsh[0] @($pwsh | Select-Object -Skip 1) -NoProfile -NonInteractive -Command $script 2>&1 | Out-String) -replace '\s+', ' '
    }
}

Describe "Checkpoint cmdlets through libvirt's test driver$(if ($noLibvirt) { " (skipped: $noLibvirt)" })" -Skip:([bool] $noLibvirt) {
    BeforeAll {
        # virt-manager's test-driver world, loaded in-process: "test-snapshots" has ten snapshots of every kind.
        $world = 'test://' + (Get-FixturePath 'libvirt/virt-manager-testdriver.xml')
    }

    It 'lists a tree other tools made: internal and external, every state, a child older than its parent' {
        $tree = @(Get-KvmGuestCheckpoint -Uri $world test-snapshots)
        $tree.Count | Should -Be 10
        ($tree | Where-Object Name -eq 'offline-root').Children | Should -Be @('offline-root-child2', 'offline-root-child1')
        ($tree | Where-Object Kind -eq 'External').Name | Sort-Object | Should -Be @('aaa-external-mem', 'aaa-external-mem-only', 'zzz-external-diskonly')
        ($tree | Where-Object IsCurrent).Name | Should -Be 'internal-root-child1&'
        @(Get-KvmGuestCheckpoint -Uri $world test-snapshots 'offline-*').Name | Should -Be @('offline-root', 'offline-root-child2', 'offline-root-child1')
        @(Get-KvmGuestCheckpoint -Uri $world -Name 'test-state-*').Count | Should -Be 0 -Because 'guests without checkpoints add nothing'
    }

    It 'names a checkpoint name that no guest has, and refuses a broken pattern' {
        Get-KvmGuestCheckpoint -Uri $world test-snapshots 'internal-root', 'none-such' -ErrorVariable failures -ErrorAction SilentlyContinue |
            ForEach-Object Name | Should -Be 'internal-root'
        $failures[0].FullyQualifiedErrorId | Should -Be 'CheckpointNotFound,KvmHost.Commands.GetKvmGuestCheckpointCommand'
        { Get-KvmGuestCheckpoint -Uri $world test-snapshots '[oops' -ErrorAction Stop } |
            Should -Throw -ErrorId 'CheckpointNameInvalid,KvmHost.Commands.GetKvmGuestCheckpointCommand'
    }

    It 'never binds a bridge (or any object but a string, a guest or a checkpoint) as a guest' {
        $image = New-ScratchRoot -Fixtures @{ 'etc/sysconfig/network-scripts/ifcfg-br0' = 'ifcfg/initscripts-example-ifcfg-br0' }
        try {
            $bridge = Get-HostBridge -Root $image
            $bridge.Name | Should -Be 'br0'
            { $bridge | Get-KvmGuestCheckpoint -Uri $world -ErrorAction Stop } | Should -Throw -ErrorId 'InputObjectNotBound,KvmHost.Commands.GetKvmGuestCheckpointCommand'
            { $bridge | Checkpoint-KvmGuest -Uri $world -WhatIf -ErrorAction Stop } | Should -Throw -ErrorId 'InputObjectNotBound,KvmHost.Commands.CheckpointKvmGuestCommand'
            { $bridge | Restore-KvmGuestCheckpoint -Uri $world -CheckpointName x -WhatIf -ErrorAction Stop } |
                Should -Throw -ErrorId 'InputObjectNotBound,KvmHost.Commands.RestoreKvmGuestCheckpointCommand'
            { $bridge | Remove-KvmGuestCheckpoint -Uri $world -CheckpointName x -WhatIf -ErrorAction Stop } |
                Should -Throw -ErrorId 'InputObjectNotBound,KvmHost.Commands.RemoveKvmGuestCheckpointCommand'
            { $bridge | Get-KvmGuestConsoleLog -Uri $world -ErrorAction Stop } | Should -Throw -ErrorId 'InputObjectNotBound,KvmHost.Commands.GetKvmGuestConsoleLogCommand'
        }
        finally { Remove-ScratchRoot $image }
    }

    It 'binds checkpoints from Get-KvmGuestCheckpoint, and -WhatIf names what each would remove' {
        $checkpoints = Get-KvmGuestCheckpoint -Uri $world test-snapshots 'offline-root*'
        $removed = $checkpoints | Remove-KvmGuestCheckpoint -WhatIf -PassThru
        @($removed.Name) | Should -Be @('offline-root', 'offline-root-child2', 'offline-root-child1') -Because '-PassThru under -WhatIf shows them as they are'
        @(Get-KvmGuestCheckpoint -Uri $world test-snapshots).Count | Should -Be 10
    }
}

Describe "Checkpoints of real QEMU guests$(if ($noLab) { " (skipped: $noLab)" })" -Tag 'Root', 'GuestLab' -Skip:([bool] $noLab) {
    BeforeAll {
        $lab = Start-GuestLab
        $uri = $lab.Uri
        $null = New-LabGuest -Lab $lab -Name ck-run -DiskText 'state-0'
        $null = New-LabGuest -Lab $lab -Name ck-tree -DiskSizeMiB 4
        $null = New-LabGuest -Lab $lab -Name ck-raw -DiskFormat raw -DiskSizeMiB 4
        $null = New-LabGuest -Lab $lab -Name ck-ext -FileDisk -DiskSizeMiB 4
        # libvirt picks OVMF by its firmware descriptors (Debian's ovmf package ships them).
        $noOvmf = if (-not (Get-ChildItem /usr/share/qemu/firmware -Filter '*edk2-x86_64*.json' -ErrorAction Ignore)) {
            'UEFI guests need OVMF and its firmware descriptors (Debian package ovmf)'
        }
        if (-not $noOvmf) { $null = New-LabGuest -Lab $lab -Name ck-uefi -Uefi -DiskSizeMiB 4 }
        $daemonVersion = [version] ((Invoke-GuestLabVirsh $lab 'version', '--daemon').Output | Where-Object { $_ -match 'Running against daemon: (\S+)' } |
            ForEach-Object { $Matches[1] } | Select-Object -First 1)
    }
    AfterAll { if ($lab) { Stop-GuestLab $lab } }

    Context 'a running guest' {
        It 'keeps its memory and disk in the checkpoint, and a restore brings both back without a boot' {
            Clear-Snapshots ck-run
            Set-GuestRunning ck-run
            Invoke-GuestShell ck-run 'echo mem-A > /tmp/mark' 'KVMHOST-MARKED'

            $checkpoint = Checkpoint-KvmGuest -Uri $uri ck-run -CheckpointName before -Description 'before <the> change & more' -PassThru
            $checkpoint.Name | Should -Be 'before'
            ($checkpoint.State, $checkpoint.HasMemory, $checkpoint.Kind, $checkpoint.IsCurrent) | Should -Be @('Running', $true, 'Internal', $true)
            $checkpoint.Description | Should -Be 'before <the> change & more' -Because 'the description is XML-escaped, not injected'
            $checkpoint.Created | Should -BeGreaterThan (Get-Date).AddMinutes(-5)
            # The size is what the image records for the saved memory, as qemu-img reports it.
            $image = qemu-img info --output=json -U (Join-Path $lab.ImagesPath 'ck-run.qcow2') | ConvertFrom-Json
            $checkpoint.SizeBytes | Should -Be ($image.snapshots | Where-Object name -eq 'before').'vm-state-size'
            $checkpoint.SizeBytes | Should -BeGreaterThan 1MB
            Get-SnapshotNames ck-run | Should -Be @('before')
            Get-DomainState ck-run | Should -Be 'running' -Because 'the guest goes on after its checkpoint'

            # Change the disk, and see the change survive a reboot.
            Invoke-GuestShell ck-run 'echo state-1 | dd of=/dev/vda conv=notrunc 2>/dev/null; sync' 'KVMHOST-WRITTEN'
            $boots = Get-ConsoleCount ck-run $ready
            $null = Restart-KvmGuest -Uri $uri ck-run
            $null = Wait-LabGuestConsole -Lab $lab -Name ck-run -Pattern $ready -Occurrence ($boots + 1)
            Wait-LabGuestConsole -Lab $lab -Name ck-run -Pattern '^KVMHOST-DISK ' -Occurrence ($boots + 1) | Should -Be 'KVMHOST-DISK state-1'

            $guest = Restore-KvmGuestCheckpoint -Uri $uri ck-run before -Confirm:$false -PassThru
            ($guest.Name, $guest.State, $guest.Changed) | Should -Be @('ck-run', 'Running', $true)
            Get-DomainState ck-run | Should -Be 'running'
            # Its memory is back: the file in its RAM-backed /tmp from before, gone since the reboot.
            Invoke-GuestShell ck-run 'echo KVMHOST-MARK-$(cat /tmp/mark)' 'KVMHOST-READ'
            Wait-LabGuestConsole -Lab $lab -Name ck-run -Pattern '^KVMHOST-MARK-' -Occurrence 1 | Should -Be 'KVMHOST-MARK-mem-A'
            Get-ConsoleCount ck-run $ready | Should -Be ($boots + 1) -Because 'a restored guest continues where it was, it does not boot'
            # And its disk: a boot reads the first line from before the change.
            $null = Restart-KvmGuest -Uri $uri ck-run
            $null = Wait-LabGuestConsole -Lab $lab -Name ck-run -Pattern $ready -Occurrence ($boots + 2)
            Wait-LabGuestConsole -Lab $lab -Name ck-run -Pattern '^KVMHOST-DISK ' -Occurrence ($boots + 2) | Should -Be 'KVMHOST-DISK state-0'
        }

        It 'ends in the checkpoint''s state: off from a checkpoint taken while off, running from one taken while running' {
            Clear-Snapshots ck-run
            Set-GuestOff ck-run
            $null = Checkpoint-KvmGuest -Uri $uri ck-run -CheckpointName cold
            Set-GuestRunning ck-run
            $null = Checkpoint-KvmGuest -Uri $uri ck-run -CheckpointName warm

            (Restore-KvmGuestCheckpoint -Uri $uri ck-run cold -Confirm:$false -PassThru).State | Should -Be 'ShutOff'
            Get-DomainState ck-run | Should -Be 'shut off'
            (Restore-KvmGuestCheckpoint -Uri $uri ck-run warm -Confirm:$false -PassThru).State | Should -Be 'Running'
            Get-DomainState ck-run | Should -Be 'running'
            $null = Invoke-GuestLabVirsh $lab 'suspend', 'ck-run'
            $null = Checkpoint-KvmGuest -Uri $uri ck-run -CheckpointName paused
            $null = Invoke-GuestLabVirsh $lab 'resume', 'ck-run'
            (Get-KvmGuestCheckpoint -Uri $uri ck-run paused).State | Should -Be 'Paused'
            (Restore-KvmGuestCheckpoint -Uri $uri ck-run paused -Confirm:$false -PassThru).State | Should -Be 'Paused'
            $null = Invoke-GuestLabVirsh $lab 'resume', 'ck-run'
        }

        It 'restores only after asking (ConfirmImpact High), and -WhatIf changes nothing' {
            $cmdlet = (Get-Command Restore-KvmGuestCheckpoint).ImplementingType.GetCustomAttributes([System.Management.Automation.CmdletAttribute], $false)[0]
            $cmdlet.ConfirmImpact | Should -Be 'High'
            Clear-Snapshots ck-run
            Set-GuestRunning ck-run
            $null = Checkpoint-KvmGuest -Uri $uri ck-run -CheckpointName undo-me
            Set-GuestOff ck-run
            $text = Get-WhatIfText "Restore-KvmGuestCheckpoint -Uri '$uri' ck-run undo-me -WhatIf -PassThru | ForEach-Object { 'STATE=' + `$_.State + ' CHANGED=' + `$_.Changed }"
            $text | Should -Match "What if: Performing the operation `"Restore 'ck-run' \(now ShutOff\) to checkpoint 'undo-me' of [0-9: -]+: it will be Running, continuing from the moment it was taken"
            $text | Should -Match 'STATE=ShutOff CHANGED=False' -Because '-PassThru under -WhatIf shows the guest as it is'
            Get-DomainState ck-run | Should -Be 'shut off'
        }

        It 'refuses a checkpoint name that is not there with CheckpointNotFound, and changes nothing' {
            Set-GuestOff ck-run
            $failure = { Restore-KvmGuestCheckpoint -Uri $uri ck-run no-such-checkpoint -Confirm:$false -ErrorAction Stop } |
                Should -Throw -ErrorId 'CheckpointNotFound,KvmHost.Commands.RestoreKvmGuestCheckpointCommand' -PassThru
            $failure.CategoryInfo.Category | Should -Be 'ObjectNotFound'
            $failure.TargetObject | Should -Be 'no-such-checkpoint'
            $failure.ErrorDetails.RecommendedAction | Should -Match 'Get-KvmGuestCheckpoint'
            Get-DomainState ck-run | Should -Be 'shut off'
        }

        It 'restores a guest to one checkpoint per pipeline, and says so for a second one' {
            Clear-Snapshots ck-run
            Set-GuestOff ck-run
            $null = Checkpoint-KvmGuest -Uri $uri ck-run -CheckpointName one
            $null = Checkpoint-KvmGuest -Uri $uri ck-run -CheckpointName two
            $guests = Get-KvmGuestCheckpoint -Uri $uri ck-run | Restore-KvmGuestCheckpoint -Confirm:$false -PassThru -ErrorVariable failures -ErrorAction SilentlyContinue
            @($guests).Count | Should -Be 1
            @($failures).Count | Should -Be 1
            $failures[0].FullyQualifiedErrorId | Should -Be 'GuestParametersConflict,KvmHost.Commands.RestoreKvmGuestCheckpointCommand'
            (Get-KvmGuestCheckpoint -Uri $uri ck-run | Where-Object IsCurrent).Name | Should -Be 'one'
        }
    }

    Context 'the tree' {
        BeforeEach {
            Clear-Snapshots ck-tree
            Set-GuestOff ck-tree
            # a -> b -> c, and d after restoring a: a has two children.
            foreach ($name in 'a', 'b', 'c') { $null = Checkpoint-KvmGuest -Uri $uri ck-tree -CheckpointName $name; Start-Sleep -Milliseconds 1100 }
            $null = Restore-KvmGuestCheckpoint -Uri $uri ck-tree a -Confirm:$false
            $null = Checkpoint-KvmGuest -Uri $uri ck-tree -CheckpointName d
        }

        It 'lists each root, then its descendants depth first, with parent, children, depth and current' {
            $tree = @(Get-KvmGuestCheckpoint -Uri $uri -Name ck-tree)
            $tree.Name | Should -Be @('a', 'b', 'c', 'd')
            $tree.Parent | Should -Be @($null, 'a', 'b', 'a')
            $tree.Depth | Should -Be @(0, 1, 2, 1)
            ($tree | Where-Object IsCurrent).Name | Should -Be 'd'
            $tree[0].Children | Should -Be @('b', 'd')
            $tree[1].Children | Should -Be @('c')
            $tree.State | Sort-Object -Unique | Should -Be 'ShutOff'
            $tree.HasMemory | Sort-Object -Unique | Should -BeFalse
            # From this machine the images of a guest that is off cannot be read (the lab's daemon keeps them in its
            # own mount namespace, and no process of the guest leads there): no size rather than a wrong one.
            $tree.SizeBytes | Sort-Object -Unique | Should -BeNullOrEmpty
            foreach ($checkpoint in $tree) { Get-SnapshotParent ck-tree $checkpoint.Name | Should -Be $checkpoint.Parent -Because 'libvirt has the same tree' }
        }

        It 'reads the sizes where the daemon keeps the images: nothing saved for a guest that was off' {
            $script = "Import-Module '$(Get-KvmHostModulePath)'; Get-KvmGuestCheckpoint ck-tree | ForEach-Object { '{0}={1}' -f `$_.Name, `$_.SizeBytes }"
            $inside = Invoke-InGuestLab $lab -Command (@(Get-HarnessPwshCommand) + '-NoProfile', '-NonInteractive', '-Command', $script)
            $inside.Output | Should -Be @('a=0', 'b=0', 'c=0', 'd=0')
        }

        It 'shows the tree indented in its table, within 120 columns, and survives serialization' {
            $text = Get-KvmGuestCheckpoint -Uri $uri ck-tree | Out-String -Width 120
            $text | Should -Match '(?m)^ck-tree\s+ a\s+ShutOff'
            $text | Should -Match '(?m)^ck-tree\s+     c\s+ShutOff'
            $text | Should -Match '(?m)^ck-tree\s+\*  d\s+ShutOff'
            ($text -split "`n" | Measure-Object -Property Length -Maximum).Maximum | Should -BeLessOrEqual 120
            $copy = [System.Management.Automation.PSSerializer]::Deserialize([System.Management.Automation.PSSerializer]::Serialize((Get-KvmGuestCheckpoint -Uri $uri ck-tree a)))
            $copy.PSObject.TypeNames[0] | Should -Be 'Deserialized.KvmHost.Core.Guests.KvmGuestCheckpoint'
            @($copy.Children) | Should -Be @('b', 'd')
            ($copy | Out-String -Width 120) | Should -Match '(?m)^ck-tree\s+ a\s+ShutOff'
        }

        It 'removes one checkpoint; its children then hang from its parent' {
            Remove-KvmGuestCheckpoint -Uri $uri ck-tree b -Confirm:$false
            Get-SnapshotNames ck-tree | Sort-Object | Should -Be @('a', 'c', 'd')
            Get-SnapshotParent ck-tree c | Should -Be 'a'
            (Get-KvmGuestCheckpoint -Uri $uri ck-tree a).Children | Should -Be @('c', 'd')
        }

        It 'removes a checkpoint with all its descendants with -IncludeChildren, once even when they are piped too' {
            $removed = Get-KvmGuestCheckpoint -Uri $uri ck-tree | Remove-KvmGuestCheckpoint -IncludeChildren -Confirm:$false -PassThru -Verbose 4>&1
            Get-SnapshotNames ck-tree | Should -BeNullOrEmpty
            @($removed | Where-Object { $_ -is [KvmHost.Core.Guests.KvmGuestCheckpoint] }).Name | Should -Be @('a')
            ($removed | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] }).Message |
                Should -Contain "Checkpoint 'c' of 'ck-tree' was removed with its parent. Nothing to do."
        }

        It 'removes by wildcard, and names a literal name that matches nothing' {
            Remove-KvmGuestCheckpoint -Uri $uri ck-tree '[cd]', 'zz' -Confirm:$false -ErrorVariable failures -ErrorAction SilentlyContinue
            Get-SnapshotNames ck-tree | Sort-Object | Should -Be @('a', 'b')
            @($failures).Count | Should -Be 1
            $failures[0].FullyQualifiedErrorId | Should -Be 'CheckpointNotFound,KvmHost.Commands.RemoveKvmGuestCheckpointCommand'
            $failures[0].TargetObject | Should -Be 'zz'
        }

        It 'shows what removing would do with -WhatIf, and removes nothing' {
            $text = Get-WhatIfText "Remove-KvmGuestCheckpoint -Uri '$uri' ck-tree a -IncludeChildren -WhatIf"
            $text | Should -Match ([regex]::Escape("Remove checkpoint 'a' of 'ck-tree' and its 3 descendant(s): b, d, c"))
            $text = Get-WhatIfText "Remove-KvmGuestCheckpoint -Uri '$uri' ck-tree b -WhatIf"
            $text | Should -Match ([regex]::Escape("Remove checkpoint 'b' of 'ck-tree'; its children c then hang from 'a'"))
            Get-SnapshotNames ck-tree | Sort-Object | Should -Be @('a', 'b', 'c', 'd')
        }
    }

    Context 'Checkpoint-KvmGuest' {
        It 'names checkpoints after the guest and the UTC time by default, from a pipeline of guests' {
            Clear-Snapshots ck-tree
            Clear-Snapshots ck-run
            Set-GuestOff ck-tree
            Set-GuestOff ck-run
            $before = [DateTime]::UtcNow.AddSeconds(-1)
            $taken = Get-KvmGuest -Uri $uri 'ck-ru*', 'ck-tree' | Checkpoint-KvmGuest -PassThru
            @($taken.GuestName) | Should -Be @('ck-run', 'ck-tree')
            foreach ($checkpoint in $taken) {
                $checkpoint.Name | Should -Match "^$($checkpoint.GuestName)-\d{8}T\d{6}Z$"
                [DateTime]::ParseExact($checkpoint.Name.Substring($checkpoint.GuestName.Length + 1), "yyyyMMdd'T'HHmmss'Z'", $null,
                    [Globalization.DateTimeStyles]::AssumeUniversal -bor [Globalization.DateTimeStyles]::AdjustToUniversal) | Should -BeGreaterOrEqual $before.AddSeconds(-1)
            }
            # Two in the same second get distinct names.
            $again = Checkpoint-KvmGuest -Uri $uri ck-tree -PassThru
            $third = Checkpoint-KvmGuest -Uri $uri ck-tree -PassThru
            $again.Name | Should -Not -Be $third.Name
        }

        It 'takes the issue''s pipeline: old checkpoints out with Where-Object Created' {
            Clear-Snapshots ck-tree
            Set-GuestOff ck-tree
            $old = Checkpoint-KvmGuest -Uri $uri ck-tree -CheckpointName old -PassThru
            Start-Sleep -Milliseconds 2100
            $new = Checkpoint-KvmGuest -Uri $uri ck-tree -CheckpointName new -PassThru
            $cutoff = $new.Created.AddSeconds(-1)
            Get-KvmGuestCheckpoint -Uri $uri -Name ck-tree | Where-Object Created -lt $cutoff | Remove-KvmGuestCheckpoint -Confirm:$false
            Get-SnapshotNames ck-tree | Should -Be @('new')
            $old.Created | Should -BeLessThan $cutoff
        }

        It 'refuses a name in use with CheckpointExists, and a bad name with CheckpointNameInvalid, before anything changes' {
            Clear-Snapshots ck-tree
            Set-GuestOff ck-tree
            $null = Checkpoint-KvmGuest -Uri $uri ck-tree -CheckpointName taken
            { Checkpoint-KvmGuest -Uri $uri ck-tree -CheckpointName taken -ErrorAction Stop } |
                Should -Throw -ErrorId 'CheckpointExists,KvmHost.Commands.CheckpointKvmGuestCommand'
            foreach ($bad in '../x', 'a/b', '-x', "two`nlines", '<x>') {
                { Checkpoint-KvmGuest -Uri $uri ck-tree -CheckpointName $bad -ErrorAction Stop } |
                    Should -Throw -ErrorId 'CheckpointNameInvalid,KvmHost.Commands.CheckpointKvmGuestCommand'
            }
            Get-SnapshotNames ck-tree | Should -Be @('taken')
        }

        It 'shows what it would do with -WhatIf, and takes nothing' {
            Clear-Snapshots ck-tree
            Set-GuestOff ck-tree
            $text = Get-WhatIfText "Checkpoint-KvmGuest -Uri '$uri' ck-tree -CheckpointName maybe -WhatIf"
            $text | Should -Match ([regex]::Escape("What if: Performing the operation `"Take checkpoint 'maybe' of 'ck-tree''s disks (it is ShutOff)`" on target `"ck-tree on $uri`"."))
            Get-SnapshotNames ck-tree | Should -BeNullOrEmpty
        }
    }

    Context 'without root' {
        BeforeAll {
            Clear-Snapshots ck-tree
            Set-GuestOff ck-tree
            $null = Checkpoint-KvmGuest -Uri $uri ck-tree -CheckpointName nr1
            $unprivileged = New-UnprivilegedPwsh
            $probe = @(
                '$PSStyle.OutputRendering = ''PlainText'''
                "Import-Module '$($unprivileged.Module)'"
                'id -u'
                '(Get-KvmGuestCheckpoint ck-tree).Name'
                'try { Checkpoint-KvmGuest ck-tree -CheckpointName nr2 -ErrorAction Stop; ''taken'' } catch { $_.FullyQualifiedErrorId }'
                'Checkpoint-KvmGuest ck-tree -CheckpointName nr2 -WhatIf'
                'Restore-KvmGuestCheckpoint ck-tree nr1 -WhatIf'
            ) -join "`n"
            # Inside the lab qemu:///system is its daemon: the read-only socket is open to everyone, the read-write one is root's.
            $result = Invoke-InGuestLab $lab -AllowFailure -Command ($unprivileged.Command + $probe)
            $lines = @($result.StdOut -split "`n" | ForEach-Object Trim | Where-Object { $_ })
        }
        AfterAll { Remove-ScratchRoot $unprivileged.Path }

        It 'lists checkpoints through the read-only socket, refuses to take one, and -WhatIf still says what would happen' {
            $lines[0] | Should -Be '65534'
            $lines[1] | Should -Be 'nr1'
            $lines[2] | Should -Be 'LibvirtAccessDenied,KvmHost.Commands.CheckpointKvmGuestCommand'
            ($lines | Select-Object -Skip 3) -join ' ' | Should -Match ([regex]::Escape("What if: Performing the operation `"Take checkpoint 'nr2' of 'ck-tree''s disks (it is ShutOff)`""))
            ($lines | Select-Object -Skip 3) -join ' ' | Should -Match "What if: Performing the operation `"Restore 'ck-tree' \(now ShutOff\) to checkpoint 'nr1'"
            Get-SnapshotNames ck-tree | Should -Be @('nr1')
        }
    }

    Context 'what internal checkpoints cannot do' {
        It 'refuses a guest with a raw disk with CheckpointDiskUnsupported, as libvirt itself would, and takes nothing' {
            $failure = { Checkpoint-KvmGuest -Uri $uri ck-raw -CheckpointName r1 -ErrorAction Stop } |
                Should -Throw -ErrorId 'CheckpointDiskUnsupported,KvmHost.Commands.CheckpointKvmGuestCommand' -PassThru
            $failure.CategoryInfo.Category | Should -Be 'InvalidOperation'
            $failure.TargetObject | Should -Be 'ck-raw'
            $failure.Exception.Message | Should -Match 'disk vda is raw'
            $failure.ErrorDetails.RecommendedAction | Should -Match 'qemu-img convert'
            Get-SnapshotNames ck-raw | Should -BeNullOrEmpty
            # The refusal is libvirt's own, made up front: virsh gets it from libvirt.
            $virsh = Invoke-GuestLabVirsh $lab 'snapshot-create-as', 'ck-raw', 'r2' -AllowFailure
            $virsh.ExitCode | Should -Not -Be 0
            $virsh.StdErr | Should -Match 'unsupported for storage type raw'
        }

        It 'refuses a running UEFI guest with CheckpointUefiUnsupported, as libvirt itself would, and takes nothing' {
            if ($noOvmf) { Set-ItResult -Skipped -Because $noOvmf; return }
            $null = Invoke-GuestLabVirsh $lab 'start', 'ck-uefi'
            try {
                (Invoke-GuestLabVirsh $lab 'dumpxml', 'ck-uefi').StdOut | Should -Match "<loader [^>]*type='pflash'"
                $failure = { Checkpoint-KvmGuest -Uri $uri ck-uefi -CheckpointName u1 -ErrorAction Stop } |
                    Should -Throw -ErrorId 'CheckpointUefiUnsupported,KvmHost.Commands.CheckpointKvmGuestCommand' -PassThru
                $failure.ErrorDetails.RecommendedAction | Should -Match 'Stop-KvmGuest'
                Get-SnapshotNames ck-uefi | Should -BeNullOrEmpty
                $virsh = Invoke-GuestLabVirsh $lab 'snapshot-create-as', 'ck-uefi', 'u2' -AllowFailure
                $virsh.ExitCode | Should -Not -Be 0
                $virsh.StdErr | Should -Match 'pflash'
            }
            finally { Set-GuestOff ck-uefi }
        }

        It 'takes a UEFI guest that is off only where libvirt does, with a warning that its UEFI variables are left out' {
            if ($noOvmf) { Set-ItResult -Skipped -Because $noOvmf; return }
            Set-GuestOff ck-uefi
            Clear-Snapshots ck-uefi
            $taken = Checkpoint-KvmGuest -Uri $uri ck-uefi -CheckpointName off1 -PassThru -WarningVariable warnings -ErrorVariable failures -ErrorAction SilentlyContinue 3>$null
            # libvirt's verdict on the same guest decides what is right (9.2 to 9.x refused this, 9.0 and later ones allow it).
            $virsh = Invoke-GuestLabVirsh $lab 'snapshot-create-as', 'ck-uefi', 'off2' -AllowFailure
            if ($virsh.ExitCode -eq 0) {
                $taken.Name | Should -Be 'off1'
                $warnings | Should -Match 'UEFI variables'
            }
            else {
                $failures[0].FullyQualifiedErrorId | Should -Be 'CheckpointUefiUnsupported,KvmHost.Commands.CheckpointKvmGuestCommand'
                Get-SnapshotNames ck-uefi | Should -BeNullOrEmpty
            }
        }

        It 'lists an external snapshot, and restores it only where the daemon''s libvirt can (9.7 and later)' {
            Set-GuestOff ck-ext
            Clear-Snapshots ck-ext
            $null = Invoke-GuestLabVirsh $lab 'snapshot-create-as', 'ck-ext', 'ext1', '--disk-only'
            $external = Get-KvmGuestCheckpoint -Uri $uri ck-ext ext1
            ($external.Kind, $external.State, $external.HasMemory, $external.SizeBytes) | Should -Be @('External', 'ShutOff', $false, $null)
            $disk = (Invoke-GuestLabVirsh $lab 'domblklist', 'ck-ext').StdOut
            if ($daemonVersion -lt [version] '9.7.0') {
                $failure = { Restore-KvmGuestCheckpoint -Uri $uri ck-ext ext1 -Confirm:$false -ErrorAction Stop } |
                    Should -Throw -ErrorId 'CheckpointRestoreUnsupported,KvmHost.Commands.RestoreKvmGuestCheckpointCommand' -PassThru
                $failure.Exception.Message | Should -Match ([regex]::Escape("($daemonVersion)"))
                $failure.CategoryInfo.Category | Should -Be 'NotImplemented'
                (Invoke-GuestLabVirsh $lab 'domblklist', 'ck-ext').StdOut | Should -Be $disk -Because 'nothing was changed'
                # ... which is what libvirt itself answers.
                (Invoke-GuestLabVirsh $lab 'snapshot-revert', 'ck-ext', 'ext1' -AllowFailure).StdErr | Should -Match 'external'
            }
            else {
                (Restore-KvmGuestCheckpoint -Uri $uri ck-ext ext1 -Confirm:$false -PassThru).State | Should -Be 'ShutOff'
            }
            # Removing works on every libvirt KvmHost supports from 9.0 on: the overlay is merged back.
            Remove-KvmGuestCheckpoint -Uri $uri ck-ext ext1 -Confirm:$false
            Get-SnapshotNames ck-ext | Should -BeNullOrEmpty
            (Invoke-GuestLabVirsh $lab 'domblklist', 'ck-ext').StdOut | Should -Match 'ck-ext\.qcow2'
        }
    }
}
