<#
    Remove-KvmGuest against a real libvirtd and QEMU guests (TCG) in one throw-away guest lab: the stumbling blocks
    of 'virsh undefine' reproduced first (a UEFI guest's nvram, snapshot metadata, a managed-save image), then removed
    in one step; -DeleteStorage deleting only unshared pool volumes and naming what it kept; a running guest refused
    without -Force; -WhatIf listing every file and volume and changing nothing.
#>
BeforeDiscovery {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot 'harness/GuestLab.psm1') -Force
    $noLab = Test-GuestLabSupported
    if (-not $noLab -and -not (Get-Command virt-install -CommandType Application -ErrorAction Ignore)) {
        $noLab = 'the guests are made with New-KvmGuest, which needs virt-install (Debian package virtinst), not on PATH'
    }
    if (-not $noLab -and -not (Get-ChildItem /usr/share/OVMF -Filter 'OVMF_CODE*.fd' -ErrorAction Ignore)) {
        $noLab = 'the UEFI guest needs OVMF firmware (Debian package ovmf), not in /usr/share/OVMF'
    }
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    Import-Module (Get-KvmHostModulePath) -Force
    Import-Module (Join-Path $PSScriptRoot 'harness/Harness.psm1'), (Join-Path $PSScriptRoot 'harness/GuestLab.psm1') -Force
}

Describe "Remove-KvmGuest on a real libvirtd and QEMU (TCG)$(if ($noLab) { " (skipped: $noLab)" })" -Tag 'Root', 'GuestLab' -Skip:([bool] $noLab) {
    BeforeAll {
        $lab = Start-GuestLab
        $uri = $lab.Uri
        $media = Get-GuestLabMedia $lab
        $savedCache = $env:XDG_CACHE_HOME
        $env:XDG_CACHE_HOME = Join-Path $lab.Directory 'cache'

        # A tiny guest made the way an admin would: New-KvmGuest, a 16 MiB qcow2 volume in the default pool.
        function New-Guest([string] $Name, [switch] $Uefi, [switch] $NoStart) {
            New-KvmGuest -Uri $uri -Name $Name -Kernel $media.Kernel -Initrd $media.Initrd -KernelArguments "console=ttyS0 panic=-1 kvmhost.name=$Name" `
                -MemoryBytes 256MB -DiskSizeBytes 16MB -Network none -AllowEmulation -Uefi:$Uefi -NoStart:$NoStart -WarningAction SilentlyContinue
        }
        function Test-Guest([string] $Name) { (Invoke-GuestLabVirsh $lab 'dominfo', $Name -AllowFailure).ExitCode -eq 0 }
        function Get-DomainState([string] $Name) { (Invoke-GuestLabVirsh $lab 'domstate', $Name).StdOut.Trim() }
        function Get-LabFile([string] $PathInLab) { Join-Path $lab.Directory ('var-lib-libvirt/' + $PathInLab.Substring('/var/lib/libvirt/'.Length)) }
    }
    AfterAll {
        $env:XDG_CACHE_HOME = $savedCache
        if ($lab) { Stop-GuestLab $lab }
    }

    It 'removes a UEFI guest with its nvram, which virsh undefine refuses to leave behind' {
        $null = New-Guest rm-uefi -Uefi
        $null = Wait-LabGuestConsole -Lab $lab -Name rm-uefi -Pattern '^KVMHOST-GUEST-READY'
        Stop-KvmGuest -Uri $uri rm-uefi -TurnOff
        $nvram = '/var/lib/libvirt/qemu/nvram/rm-uefi_VARS.fd'
        Test-Path -LiteralPath (Get-LabFile $nvram) | Should -BeTrue -Because 'the first boot made the UEFI variable store'
        $virsh = Invoke-GuestLabVirsh $lab 'undefine', 'rm-uefi' -AllowFailure
        $virsh.ExitCode | Should -Not -Be 0 -Because 'the stumbling block is real: virsh undefine needs --nvram'
        $virsh.StdErr | Should -Match 'nvram'

        $result = Remove-KvmGuest -Uri $uri rm-uefi -Confirm:$false -PassThru
        ($result.Removed, $result.Nvram) | Should -Be @($true, $nvram)
        Test-Guest rm-uefi | Should -BeFalse
        Test-Path -LiteralPath (Get-LabFile $nvram) | Should -BeFalse
        $kept = $result.KeptDisks | Where-Object Target -eq 'vda'
        ($kept.Source, $kept.Reason) | Should -Be @('/var/lib/libvirt/images/rm-uefi.qcow2', '-DeleteStorage was not given')
        (Get-GuestLabInventory $lab).Volumes | Should -Contain 'rm-uefi.qcow2' -Because 'without -DeleteStorage the disk stays'
    }

    It 'removes a guest with a checkpoint and a managed save, each of which virsh undefine refuses' {
        $null = New-Guest rm-saved
        $null = Wait-LabGuestConsole -Lab $lab -Name rm-saved -Pattern '^KVMHOST-GUEST-READY'
        # A checkpoint as Checkpoint-KvmGuest takes it: a libvirt snapshot, whose metadata undefine's own flag removes.
        Checkpoint-KvmGuest -Uri $uri rm-saved -CheckpointName before-change
        (Get-KvmGuestCheckpoint -Uri $uri rm-saved).Name | Should -Be 'before-change'
        Stop-KvmGuest -Uri $uri rm-saved -Save
        (Get-KvmGuest -Uri $uri rm-saved).HasManagedSave | Should -BeTrue
        (Invoke-GuestLabVirsh $lab 'undefine', 'rm-saved' -AllowFailure).ExitCode | Should -Not -Be 0 -Because 'virsh undefine needs --snapshots-metadata and --managed-save'
        $before = Get-GuestLabInventory $lab
        $before.Files | Should -Contain '/var/lib/libvirt/qemu/save/rm-saved.save'
        $before.Files | Where-Object { $_ -like '/var/lib/libvirt/qemu/snapshot/rm-saved/*' } | Should -Not -BeNullOrEmpty

        $result = Remove-KvmGuest -Uri $uri rm-saved -DeleteStorage -Confirm:$false -PassThru
        ($result.ManagedSaveRemoved, $result.SnapshotMetadataRemoved) | Should -Be @($true, 1)
        $result.DeletedVolumes | Should -Be 'default/rm-saved.qcow2 (/var/lib/libvirt/images/rm-saved.qcow2)'
        $after = Get-GuestLabInventory $lab
        $after.Guests | Should -Not -Contain 'rm-saved'
        $after.Volumes | Should -Not -Contain 'rm-saved.qcow2'
        $after.Files | Where-Object { $_ -match 'rm-saved' } | Should -BeNullOrEmpty -Because 'no save image, snapshot metadata or disk is left'
    }

    It 'refuses a running guest without -Force, and with it powers it off and removes it with its volume' {
        $null = New-Guest rm-running
        $failure = { Remove-KvmGuest -Uri $uri rm-running -DeleteStorage -Confirm:$false -ErrorAction Stop } |
            Should -Throw -ErrorId 'GuestStateInvalid,KvmHost.Commands.RemoveKvmGuestCommand' -PassThru
        $failure.TargetObject | Should -Be 'rm-running'
        $failure.ErrorDetails.RecommendedAction | Should -Match '-Force'
        Get-DomainState rm-running | Should -Be 'running'
        (Get-GuestLabInventory $lab).Volumes | Should -Contain 'rm-running.qcow2'

        $result = Remove-KvmGuest -Uri $uri rm-running -Force -DeleteStorage -Confirm:$false -PassThru
        ($result.Removed, $result.PoweredOff) | Should -Be @($true, $true)
        $inventory = Get-GuestLabInventory $lab
        $inventory.Processes | Should -Not -Contain 'rm-running'
        $inventory.Volumes | Should -Not -Contain 'rm-running.qcow2'
    }

    It 'keeps a volume another guest uses and a disk outside any pool, and says so' {
        $null = New-Guest rm-owner -NoStart
        # A second guest on the same volume, defined by hand (as a cluster node sharing a disk would be).
        $null = New-LabGuest -Lab $lab -Name rm-sharer -DiskSizeMiB 0
        $null = Invoke-GuestLabVirsh $lab 'attach-disk', 'rm-sharer', '/var/lib/libvirt/images/rm-owner.qcow2', 'vdb', '--driver', 'qemu', '--subdriver', 'qcow2', '--config'
        $outside = Join-Path $lab.Directory 'brought'
        $null = New-Item -ItemType Directory -Path $outside -Force
        $image = Join-Path $outside 'rm-import.qcow2'
        $null = Invoke-HarnessProcess qemu-img 'create', '-f', 'qcow2', $image, '16M'
        $null = New-KvmGuest -Uri $uri -Name rm-import -ImportDisk $image -NoStart -MemoryBytes 256MB -Network none -AllowEmulation -WarningAction SilentlyContinue

        $shared = Remove-KvmGuest -Uri $uri rm-owner -DeleteStorage -Confirm:$false -PassThru -WarningVariable warned 3>$null
        $shared.DeletedVolumes | Should -BeNullOrEmpty
        ($shared.KeptDisks[0].Source, $shared.KeptDisks[0].Reason) | Should -Be @('/var/lib/libvirt/images/rm-owner.qcow2', "also used by guest 'rm-sharer'")
        $warned.Message | Should -Contain "'rm-owner': kept /var/lib/libvirt/images/rm-owner.qcow2 (also used by guest 'rm-sharer')."
        (Get-GuestLabInventory $lab).Volumes | Should -Contain 'rm-owner.qcow2'

        $imported = Remove-KvmGuest -Uri $uri rm-import -DeleteStorage -Confirm:$false -PassThru 3>$null
        ($imported.KeptDisks[0].Source, $imported.KeptDisks[0].Reason) | Should -Be @($image, 'not in a libvirt storage pool')
        Test-Path -LiteralPath $image | Should -BeTrue -Because 'a disk the admin brought is never deleted'
        Test-Guest rm-import | Should -BeFalse
    }

    It 'lists every file and volume that would go with -WhatIf, and removes nothing' {
        $null = New-Guest rm-preview -Uefi -NoStart
        $before = Get-GuestLabInventory $lab
        $text = Get-KvmHostWhatIfText "Remove-KvmGuest -Uri '$uri' rm-preview -DeleteStorage -WhatIf"
        $text | Should -Match ([regex]::Escape("What if: Performing the operation `"Remove the definition of 'rm-preview' with its UEFI variables /var/lib/libvirt/qemu/nvram/rm-preview_VARS.fd; Delete volume default/rm-preview.qcow2 (/var/lib/libvirt/images/rm-preview.qcow2).`" on target `"rm-preview on $uri`"."))
        $preview = Remove-KvmGuest -Uri $uri rm-preview -DeleteStorage -WhatIf -PassThru
        ($preview.WhatIf, $preview.Removed) | Should -Be @($true, $false)
        $preview.PlannedChanges | Should -Contain 'Delete volume default/rm-preview.qcow2 (/var/lib/libvirt/images/rm-preview.qcow2)'
        $after = Get-GuestLabInventory $lab
        foreach ($part in 'Guests', 'Volumes', 'Files') { @($after.$part) | Should -Be @($before.$part) }
    }

    It 'removes every guest a wildcard or the pipeline names' {
        $null = New-Guest rm-many-1 -NoStart
        $null = New-Guest rm-many-2 -NoStart
        Get-KvmGuest -Uri $uri 'rm-many-*' | Remove-KvmGuest -DeleteStorage -Confirm:$false
        $inventory = Get-GuestLabInventory $lab
        $inventory.Guests | Where-Object { $_ -like 'rm-many-*' } | Should -BeNullOrEmpty
        $inventory.Volumes | Where-Object { $_ -like 'rm-many-*' } | Should -BeNullOrEmpty
    }

    It 'refuses the hostile name <Shown> with GuestNameInvalid and removes nothing' -ForEach @(
        @{ Shown = '../rm-preview'; Name = '../rm-preview' }
        @{ Shown = 'newline'; Name = "rm-preview`n" }
        @{ Shown = '-rm'; Name = '-rm' }
    ) {
        $before = Get-GuestLabInventory $lab
        { Remove-KvmGuest -Uri $uri $Name -Force -DeleteStorage -Confirm:$false -ErrorAction Stop } |
            Should -Throw -ErrorId 'GuestNameInvalid,KvmHost.Commands.RemoveKvmGuestCommand'
        @((Get-GuestLabInventory $lab).Guests) | Should -Be @($before.Guests)
    }

    It 'asks before it removes (ConfirmImpact High): a session that cannot ask removes nothing' {
        (Get-Command Remove-KvmGuest).ImplementingType.GetCustomAttributes([System.Management.Automation.CmdletAttribute], $false)[0].ConfirmImpact |
            Should -Be 'High'
        $pwsh = @(Get-PwshInvocation)
        $null = & $pwsh[0] @($pwsh | Select-Object -Skip 1) -NoProfile -NonInteractive -Command "Import-Module '$(Get-KvmHostModulePath)'; Remove-KvmGuest -Uri '$uri' rm-preview" 2>&1
        $LASTEXITCODE | Should -Not -Be 0
        Test-Guest rm-preview | Should -BeTrue
    }
}
