<#
    New-KvmGuest against real virt-install (Debian's virtinst) and a real libvirtd with QEMU under TCG, in one
    throw-away guest lab: the tiny guest booted from its kernel, an imported disk, cloud-init (its NoCloud ISO read
    back from the running QEMU), a bridge piped in, -WhatIf, Ctrl+C and every refusal, each checked to leave nothing
    behind (no guest, no volume, no storage pool, no file, no QEMU process). virt-install runs on this machine
    against the lab's socket, or inside the lab where a step needs the lab's network or folders.
#>
BeforeDiscovery {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot 'harness/GuestLab.psm1') -Force
    $noLab = Test-GuestLabSupported
    if (-not $noLab -and -not (Get-Command virt-install, xorriso -CommandType Application -ErrorAction Ignore)) {
        $noLab = 'New-KvmGuest needs virt-install and xorriso (Debian packages virtinst, xorriso), which are not on PATH'
    }
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    Import-Module (Get-KvmHostModulePath) -Force
    Import-Module (Join-Path $PSScriptRoot 'harness/Harness.psm1'), (Join-Path $PSScriptRoot 'harness/GuestLab.psm1') -Force

    $ready = '^KVMHOST-GUEST-READY '

    # Refused runs must leave the lab exactly as it was.
    function Assert-NothingLeft($Before, [string] $Because) {
        $after = Get-GuestLabInventory $lab
        foreach ($part in 'Guests', 'Volumes', 'Pools', 'Files', 'Processes') {
            @($after.$part) | Should -Be @($Before.$part) -Because "$Because (lab's $part)"
        }
    }

    function Get-Refusal([scriptblock] $Command) {
        try { & $Command; $null } catch { $_ }
    }
}

# A fresh host previews the whole procedure before any daemon runs: `... | Enable-Libvirtd -WhatIf`, then
# `New-HostBridge -WhatIf | New-KvmGuest -WhatIf`. No lab and no root: libvirt is asked at a socket that does not exist.
Describe 'New-KvmGuest -WhatIf where no libvirtd answers (a socket that does not exist)' {
    BeforeAll {
        $scratch = Join-Path ([IO.Path]::GetTempPath()) "kvmhost-preview-$([guid]::NewGuid().ToString('N').Substring(0, 8))"
        $null = New-Item -ItemType Directory -Path "$scratch/media", "$scratch/cache"
        $kernel = "$scratch/media/vmlinuz"
        [IO.File]::WriteAllText($kernel, 'a placeholder: a preview never boots it')
        $uri = "qemu+unix:///system?socket=$scratch/run/none"
        $name = 'pv' + [guid]::NewGuid().ToString('N').Substring(0, 6)
        # virt-install would log to $XDG_CACHE_HOME/virt-manager: if anything ran it, the folder would show it.
        $savedCache = $env:XDG_CACHE_HOME
        $env:XDG_CACHE_HOME = "$scratch/cache"
        $noOsInfo = if (-not (Test-Path /usr/share/osinfo/os)) { 'no osinfo-db on this machine (Debian package osinfo-db, brought by virtinst)' }
        $cpu = Test-KvmCpuSupport
        $virtType = if ($cpu.Acceleration -eq 'Kvm') { 'kvm' } else { 'qemu' }
        $preview = @{ Uri = $uri; Name = $name; Kernel = $kernel; MemoryBytes = 256MB; DiskSizeBytes = 16MB; Network = 'none'; AllowEmulation = $true; WarningAction = 'SilentlyContinue' }

        function Get-Refusal([scriptblock] $Command) {
            try { & $Command; $null } catch { $_ }
        }
        function Assert-NothingMade {
            @(Get-ChildItem -LiteralPath "$scratch/media" -Force | ForEach-Object FullName) | Should -Be @($kernel) -Because 'no disk, ISO or pool folder appeared next to the kernel'
            Test-Path "$scratch/run" | Should -BeFalse -Because 'nothing made the socket''s folder'
            Test-Path "$scratch/cache/virt-manager" | Should -BeFalse -Because 'virt-install never ran (it would have logged there)'
            Test-Path "/var/lib/libvirt/images/$name.qcow2" | Should -BeFalse
            Test-Path "/var/log/libvirt/qemu/$name-serial.log" | Should -BeFalse
            @(Get-Process -ErrorAction Ignore | Where-Object { $_.CommandLine -match [regex]::Escape($name) }) | Should -BeNullOrEmpty -Because 'no virt-install or QEMU is left running'
        }
    }
    AfterAll {
        $env:XDG_CACHE_HOME = $savedCache
        Remove-Item -LiteralPath $scratch -Recurse -Force -ErrorAction Ignore
    }

    It 'returns the exact virt-install argument list, the blocker and what only libvirt knows, and makes nothing' {
        if ($noOsInfo) { Set-ItResult -Skipped -Because $noOsInfo; return }
        $result = New-KvmGuest @preview -WhatIf
        $result | Should -BeOfType ([KvmHost.Core.Guests.KvmGuestPreview])
        ($result.WhatIf, $result.Changed, $result.LibvirtReachable, $result.DomainXml) | Should -Be @($true, $false, $false, $null)
        $uuid = $result.Arguments[5]
        [guid]::Parse($uuid) | Should -Not -Be ([guid]::Empty)
        $osVariant = $result.OsVariant
        $osVariant | Should -Match '^linux20\d\d$' -Because 'without -OsVariant a kernel boot gets the newest generic Linux of this host''s osinfo-db'
        $result.Arguments | Should -Be @(
            '--connect', $uri, '--name', $name, '--uuid', $uuid, '--memory', '256', '--vcpus', '1', '--os-variant', $osVariant,
            '--virt-type', $virtType, '--import', '--boot', "kernel=`"$kernel`"", '--disk', 'size=0.015625,format=qcow2', '--network', 'none',
            '--graphics', 'none', '--serial', "pty,log.file=`"/var/log/libvirt/qemu/$name-serial.log`",log.append=on", '--noautoconsole')
        $result.VirtType | Should -Be $virtType -Because "Test-KvmCpuSupport says $($cpu.Acceleration) here"
        $result.Blockers | Should -HaveCount 1
        $result.Blockers[0] | Should -Match "^libvirt does not answer at $([regex]::Escape($uri)): .*A real run stops there with LibvirtNotReachable, before anything is made\."
        $result.Notes[0] | Should -Match '^No domain XML: virt-install --print-xml --dry-run opens libvirt'
        $result.Notes | Should -Contain "Not checked without libvirt: whether a guest named '$name' exists already (a real run refuses it with GuestExists)."
        @($result.Notes -match '^Not checked without libvirt: the storage pool .default.') | Should -HaveCount 1
        @($result.Notes -match 'network') | Should -BeNullOrEmpty -Because '-Network none needs no libvirt network'
        $result.PlannedChanges[0] | Should -Be "Allocate a new 16 MiB qcow2 volume in storage pool 'default' (virt-install names it $name.qcow2)"
        $result.PlannedChanges[1] | Should -BeLike "Define guest '$name' (UUID $uuid, $virtType) on $uri`: virt-install --connect *"
        $result.PlannedChanges[1].EndsWith($result.CommandLine) | Should -BeTrue
        Assert-NothingMade
    }

    It 'prints "What if:" with the command, the missing XML and the blocker' {
        if ($noOsInfo) { Set-ItResult -Skipped -Because $noOsInfo; return }
        $text = Get-KvmHostWhatIfText "`$env:XDG_CACHE_HOME = '$scratch/cache'; `$null = New-KvmGuest -Uri '$uri' -Name $name -Kernel '$kernel' -MemoryBytes 256MB -Network none -AllowEmulation -WhatIf -WarningAction SilentlyContinue"
        $text | Should -Match ([regex]::Escape("What if: Create guest '$name' on $uri with: virt-install --connect '$uri' --name $name --uuid "))
        $text | Should -Match "--virt-type $virtType --import --boot 'kernel=`"[^`"]+/vmlinuz`"' --disk none --network none --graphics none"
        $text | Should -Match 'No domain XML: virt-install --print-xml --dry-run opens libvirt even for a dry run, and libvirt does not answer\.'
        $text | Should -Match 'A real run would stop now: libvirt does not answer at '
        Assert-NothingMade
    }

    It 'still fails a real run with LibvirtNotReachable, making nothing' {
        $failure = Get-Refusal { New-KvmGuest -Uri $uri -Name $name -Kernel $kernel -MemoryBytes 256MB -Network none -AllowEmulation -Confirm:$false }
        $failure.FullyQualifiedErrorId | Should -Be 'LibvirtNotReachable,KvmHost.Commands.NewKvmGuestCommand'
        Assert-NothingMade
    }

    It 'refuses <Case> under -WhatIf with <Id>, without the daemon' -ForEach @(
        @{ Case = 'a hostile name'; Id = 'GuestNameInvalid'; Arguments = @{ Name = '../escape' } }
        @{ Case = 'memory 0'; Id = 'GuestMemoryInvalid'; Arguments = @{ MemoryBytes = 0 } }
        @{ Case = 'more memory than this host has'; Id = 'GuestMemoryInvalid'; Arguments = @{ MemoryBytes = 64TB } }
        @{ Case = 'a disk of 5 bytes'; Id = 'GuestDiskSizeInvalid'; Arguments = @{ DiskSizeBytes = 5 } }
        @{ Case = 'a kernel that does not exist'; Id = 'GuestMediaNotFound'; Arguments = @{ Kernel = '/nonexistent/vmlinuz' } }
        @{ Case = 'an unknown OS variant'; Id = 'GuestOsVariantUnknown'; Arguments = @{ OsVariant = 'rhel99.9' } }
        @{ Case = 'a bridge that does not exist'; Id = 'GuestBridgeNotFound'; Arguments = @{ Network = $null; Bridge = 'brnowhere0' } }
        @{ Case = 'a bridge and a network at once'; Id = 'GuestParametersConflict'; Arguments = @{ Bridge = 'br0'; Network = 'default' } }
        @{ Case = 'a description with a control character'; Id = 'GuestDescriptionInvalid'; Arguments = @{ Description = "bell`a" } }
        @{ Case = 'a URI with a line break'; Id = 'LibvirtUriInvalid'; Arguments = @{ Uri = "qemu:///system`n" } }
    ) {
        if ($noOsInfo -and $Id -eq 'GuestOsVariantUnknown') { Set-ItResult -Skipped -Because $noOsInfo; return }
        $parameters = $preview.Clone()
        foreach ($entry in $Arguments.GetEnumerator()) {
            if ($null -eq $entry.Value) { $parameters.Remove($entry.Key) } else { $parameters[$entry.Key] = $entry.Value }
        }
        $failure = Get-Refusal { New-KvmGuest @parameters -WhatIf }
        $failure.FullyQualifiedErrorId | Should -Be "$Id,KvmHost.Commands.NewKvmGuestCommand"
        $failure.ErrorDetails.RecommendedAction | Should -Not -BeNullOrEmpty
        Assert-NothingMade
    }

    It 'takes the bridge New-HostBridge -WhatIf previews: a blocker of the preview, never the guest''s name' {
        if ($noOsInfo) { Set-ItResult -Skipped -Because $noOsInfo; return }
        $bridgeName = 'brpv' + [guid]::NewGuid().ToString('N').Substring(0, 6)
        $nic = "[connection]`nid=enp1s0`nuuid=9342d47a-1bab-5709-9869-c840b2eac501`ntype=ethernet`ninterface-name=enp1s0`n`n[ipv4]`naddress1=192.0.2.10/24`nmethod=manual`n"
        $root = New-ScratchRoot -Fixtures @{ 'etc/os-release' = 'os-release/rhel-9.6.os-release' } `
            -Files @{ 'etc/NetworkManager/system-connections/enp1s0.nmconnection' = $nic } -Directories 'run/lock'
        try {
            [IO.File]::SetUnixFileMode((Join-Path $root 'etc/NetworkManager/system-connections/enp1s0.nmconnection'), 'UserRead, UserWrite')
            $parameters = $preview.Clone()
            $parameters.Remove('Network')
            $result = New-HostBridge $bridgeName -Interface enp1s0 -Root $root -WhatIf | New-KvmGuest @parameters -WhatIf
            $result.Name | Should -Be $name -Because 'the bridge''s own Name never binds to -Name'
            $result.Arguments | Should -Contain "bridge=`"$bridgeName`""
            $result.Blockers | Should -HaveCount 2
            $result.Blockers[1] | Should -Be ("There is no bridge '$bridgeName' on this host yet: the piped bridge is in $root, not in this host's running system. " +
                'A real run is refused with GuestBridgeNotFound until it is there.')
            # Typed by name, the same missing bridge is bad input, preview or not.
            (Get-Refusal { New-KvmGuest @parameters -Bridge $bridgeName -WhatIf }).FullyQualifiedErrorId | Should -Be 'GuestBridgeNotFound,KvmHost.Commands.NewKvmGuestCommand'
        } finally { Remove-ScratchRoot $root }
        Assert-NothingMade
    }
}

Describe "New-KvmGuest on real virt-install, libvirtd and QEMU (TCG)$(if ($noLab) { " (skipped: $noLab)" })" -Tag 'Root', 'GuestLab' -Skip:([bool] $noLab) {
    BeforeAll {
        $lab = Start-GuestLab
        $uri = $lab.Uri
        $media = Get-GuestLabMedia $lab
        $module = Get-KvmHostModulePath
        # virt-install writes its log to $XDG_CACHE_HOME/virt-manager: here, not in root's home.
        $savedCache = $env:XDG_CACHE_HOME
        $env:XDG_CACHE_HOME = Join-Path $lab.Directory 'cache'
        $kernel = @{ Kernel = $media.Kernel; Initrd = $media.Initrd; MemoryBytes = 256MB; AllowEmulation = $true; Network = 'none' }
        function Kernel([string] $Name) { $kernel + @{ Name = $Name; KernelArguments = "console=ttyS0 panic=-1 kvmhost.name=$Name" } }
    }
    AfterAll {
        $env:XDG_CACHE_HOME = $savedCache
        if ($lab) { Stop-GuestLab $lab }
    }

    Context 'creating' {
        It 'boots the tiny guest from its kernel with a new pool volume, and returns it running as Get-KvmGuest would' {
            $before = Get-GuestLabInventory $lab
            $description = "web <tier> & 'db' `"2`""
            $k = Kernel new-kernel
            $guest = New-KvmGuest -Uri $uri @k -DiskSizeBytes 16MB -Description $description -WarningVariable warned 3>$null
            $guest | Should -BeOfType ([KvmHost.Core.Guests.KvmGuest])
            ($guest.Name, $guest.State, $guest.ProcessorCount, $guest.MemoryBytes) | Should -Be @('new-kernel', 'Running', 1, 256MB)
            $guest.OsVariant | Should -Match '^linux20\d\d$' -Because 'without -OsVariant a kernel boot gets the newest generic Linux'
            $guest.Description | Should -Be $description
            $disk = $guest.Disks | Where-Object Device -eq 'disk'
            ($disk.Source, $disk.Format, $disk.CapacityBytes) | Should -Be @('/var/lib/libvirt/images/new-kernel.qcow2', 'qcow2', 16MB)
            Wait-LabGuestConsole -Lab $lab -Name new-kernel -Pattern $ready | Should -Be 'KVMHOST-GUEST-READY new-kernel'

            $xml = [xml] (Invoke-GuestLabVirsh $lab 'dumpxml', 'new-kernel', '--inactive').StdOut
            $xml.domain.type | Should -Be 'qemu' -Because 'this machine cannot run an ordinary guest with KVM'
            $xml.domain.description | Should -Be $description
            $raw = (Invoke-GuestLabVirsh $lab 'dumpxml', 'new-kernel').StdOut
            $raw | Should -Match '<description>web &lt;tier&gt; &amp; ' -Because 'the description is escaped, not injected'
            $raw | Should -Not -Match '<tier>'
            @($warned.Message) -match 'runs under TCG' | Should -Not -BeNullOrEmpty
            $after = Get-GuestLabInventory $lab
            @($after.Pools) | Should -Be @($before.Pools) -Because 'the pool virt-install made for the kernel''s folder is gone again'
            @($after.Volumes) | Should -Be (@($before.Volumes) + 'new-kernel.qcow2' | Sort-Object)
            Test-Path -LiteralPath $media.Kernel | Should -BeTrue -Because 'the kernel file itself stays'
        }

        It 'defines an imported disk without starting it, with autostart, and leaves the disk''s folder out of any pool' {
            $folder = Join-Path $lab.Directory 'brought'
            $null = New-Item -ItemType Directory -Path $folder
            $disk = Join-Path $folder 'golden.qcow2'
            $null = Invoke-HarnessProcess qemu-img 'create', '-f', 'qcow2', $disk, '32M'
            $poolsBefore = (Get-GuestLabInventory $lab).Pools
            $guest = New-KvmGuest -Uri $uri -Name new-import -ImportDisk $disk -NoStart -Autostart -MemoryBytes 256MB -Network none -AllowEmulation 3>$null
            ($guest.State, $guest.Autostart) | Should -Be @('ShutOff', $true)
            ($guest.Disks | Where-Object Device -eq 'disk').Source | Should -Be $disk
            (Get-GuestLabInventory $lab).Pools | Should -Be $poolsBefore
            (Invoke-GuestLabVirsh $lab 'vol-path', $disk -AllowFailure).ExitCode | Should -Not -Be 0 -Because 'the disk is in no storage pool'
        }

        It 'takes a relative path from PowerShell''s current folder, not the process''s' {
            Push-Location $media.Folder
            try {
                $guest = New-KvmGuest -Uri $uri -Name new-relative -Kernel ./vmlinuz -NoStart -MemoryBytes 256MB -Network none -AllowEmulation 3>$null
            } finally { Pop-Location }
            ([xml] (Invoke-GuestLabVirsh $lab 'dumpxml', 'new-relative').StdOut).domain.os.kernel | Should -Be $media.Kernel
            $guest.State | Should -Be 'ShutOff'
        }

        It 'shows the exact virt-install command and the domain XML with -WhatIf, and creates nothing' {
            $before = Get-GuestLabInventory $lab
            $text = Get-KvmHostWhatIfText "New-KvmGuest -Uri '$uri' -Name new-whatif -Kernel '$($media.Kernel)' -DiskSizeBytes 16MB -MemoryBytes 256MB -Network none -AllowEmulation -WhatIf -WarningAction SilentlyContinue"
            $text | Should -Match ([regex]::Escape("What if: Create guest 'new-whatif' on $uri with: virt-install --connect '$uri' --name new-whatif --uuid "))
            $text | Should -Match '--virt-type qemu --import --boot ''kernel="[^"]+/vmlinuz"'' --disk size=0\.015625,format=qcow2 --network none --graphics none'
            $text | Should -Match 'Domain XML \(virt-install --print-xml --dry-run\): <domain type="qemu"> <name>new-whatif</name>'
            $text | Should -Match '<source file="/var/lib/libvirt/images/new-whatif\.qcow2"/>'
            Assert-NothingLeft $before 'a preview allocates no disk and defines nothing'
        }

        It 'puts the guest on a bridge piped in from Get-HostBridge, inside the lab where the bridge is' {
            $null = Invoke-InGuestLab $lab -Command ip, link, add, brlab0, type, bridge
            $null = Invoke-InGuestLab $lab -Command ip, link, set, brlab0, up
            $k = Kernel new-bridged
            $run = Invoke-GuestLabPwsh $lab -ModulePath $module -Script @"
Get-HostBridge brlab0 | New-KvmGuest -Name new-bridged -Kernel '$($k.Kernel)' -Initrd '$($k.Initrd)' -KernelArguments '$($k.KernelArguments)' -MemoryBytes 256MB -AllowEmulation |
    ForEach-Object { [pscustomobject]@{ Name = `$_.Name; State = "`$(`$_.State)"; Bridge = `$_.NetworkAdapters[0].Bridge; Device = `$_.NetworkAdapters[0].Device } }
"@
            $run.ErrorIds | Should -BeNullOrEmpty
            ($run.Output[0].Name, $run.Output[0].State, $run.Output[0].Bridge) | Should -Be @('new-bridged', 'Running', 'brlab0')
            (Invoke-InGuestLab $lab -Command ip, -o, link, show, master, brlab0).StdOut | Should -Match ([regex]::Escape($run.Output[0].Device)) -Because 'QEMU''s tap is a port of the bridge'
        }
    }

    Context 'cloud-init' {
        BeforeAll {
            $image = Join-Path $lab.Directory 'cloud.qcow2'
            $null = Invoke-HarnessProcess qemu-img 'create', '-f', 'qcow2', $image, '64M'
            $key = Join-Path $lab.Directory 'id_ed25519'
            $null = Invoke-HarnessProcess ssh-keygen '-q', '-t', 'ed25519', '-N', '', '-C', 'admin@kvmhost-test', '-f', $key

            function Read-CloudInitIso([string] $Guest, [string] $File) {
                # virt-install deletes the ISO once QEMU has it open: read it through QEMU's file descriptor.
                $qemu = Get-ChildItem /proc -Directory | Where-Object Name -match '^\d+$' | Where-Object {
                    $(try { [IO.File]::ReadAllText("$($_.FullName)/cmdline") } catch { '' }) -match "guest=$Guest,"
                } | Select-Object -First 1
                $qemu | Should -Not -BeNullOrEmpty -Because "QEMU runs $Guest"
                $fd = Get-ChildItem "$($qemu.FullName)/fd" | Where-Object { $_.LinkTarget -match 'virtinst-.*cloudinit\.iso \(deleted\)$' } | Select-Object -First 1
                $fd | Should -Not -BeNullOrEmpty -Because 'QEMU holds the NoCloud ISO virt-install made'
                $copy = Join-Path $lab.Directory "$Guest.iso"
                [IO.File]::Copy($fd.FullName, $copy, $true)
                $out = Join-Path $lab.Directory "$Guest-$File"
                $null = Invoke-HarnessProcess xorriso '-osirrox', 'on', '-indev', $copy, '-extract', "/$File", $out
                [pscustomobject]@{
                    Text     = [IO.File]::ReadAllText($out)
                    VolumeId = ((Invoke-HarnessProcess xorriso '-indev', $copy, '-pvd_info').StdOut -split "`n" | Where-Object { $_ -match '^Volume Id\s*:' }) -replace '^Volume Id\s*:\s*', ''
                }
            }
        }

        It 'comes up with your key: the NoCloud ISO''s user-data names it for the default user, and nothing of the ISO stays' {
            $run = Invoke-GuestLabPwsh $lab -ModulePath $module -Script "New-KvmGuest -Name new-cloud -CloudImage '$image' -SshPublicKey '$key.pub' -DiskSizeBytes 128MB -MemoryBytes 256MB -Network none -AllowEmulation | ForEach-Object { `"`$(`$_.State)`" }"
            $run.ErrorIds | Should -BeNullOrEmpty
            $run.Output | Should -Be 'Running'
            $iso = Read-CloudInitIso new-cloud 'user-data'
            $iso.VolumeId | Should -Be 'cidata'
            $iso.Text | Should -Match '^#cloud-config'
            $iso.Text | Should -Match ([regex]::Escape("ssh-authorized-keys: $((Get-Content "$key.pub" -Raw).Trim())"))
            $backing = ([xml] (Invoke-GuestLabVirsh $lab 'dumpxml', 'new-cloud', '--inactive').StdOut).domain.devices.disk | Where-Object device -eq 'disk'
            $backing.source.file | Should -Be '/var/lib/libvirt/images/new-cloud.qcow2'
            (Invoke-GuestLabVirsh $lab 'vol-dumpxml', '--pool', 'default', 'new-cloud.qcow2').StdOut | Should -Match ([regex]::Escape("<path>$image</path>")) -Because 'the cloud image is the new disk''s backing file'
            $inventory = Get-GuestLabInventory $lab
            $inventory.Files | Where-Object { $_ -like '/var/lib/libvirt/boot/virtinst-*' } | Should -BeNullOrEmpty
            $inventory.Pools | Should -Be 'default' -Because 'the pools virt-install made for the image''s folder and its scratch folder are gone again'
        }

        It 'passes your own user-data as it is' {
            $userData = Join-Path $lab.Directory 'user-data'
            [IO.File]::WriteAllText($userData, "#cloud-config`nhostname: from-test`nruncmd:`n  - [ sh, -c, 'echo KVMHOST & <done>' ]`n")
            $run = Invoke-GuestLabPwsh $lab -ModulePath $module -Script "New-KvmGuest -Name new-userdata -CloudImage '$image' -UserData '$userData' -DiskSizeBytes 128MB -MemoryBytes 256MB -Network none -AllowEmulation | ForEach-Object Name"
            $run.ErrorIds | Should -BeNullOrEmpty
            (Read-CloudInitIso new-userdata 'user-data').Text | Should -BeExactly ([IO.File]::ReadAllText($userData))
        }

        It 'refuses a private key with GuestSshKeyInvalid, before anything is made' {
            $before = Get-GuestLabInventory $lab
            $failure = Get-Refusal { New-KvmGuest -Uri $uri -Name new-private -CloudImage $image -SshPublicKey $key -MemoryBytes 256MB -Network none -AllowEmulation }
            $failure.FullyQualifiedErrorId | Should -Be 'GuestSshKeyInvalid,KvmHost.Commands.NewKvmGuestCommand'
            $failure.Exception.Message | Should -Match 'PRIVATE key'
            $failure.Exception.Message | Should -Not -Match 'BEGIN' -Because 'the key itself is never repeated'
            Assert-NothingLeft $before 'a refused key creates nothing'
        }
    }

    Context 'refusals: a stable id, nothing defined, no volume left' {
        It 'refuses the hostile name <Shown> with GuestNameInvalid' -ForEach @(
            @{ Shown = '../escape'; Name = '../escape' }
            @{ Shown = 'slash'; Name = 'a/b' }
            @{ Shown = 'newline'; Name = "vm`nroot" }
            @{ Shown = 'leading dash'; Name = '-vm' }
            @{ Shown = '<xml>'; Name = '<vm>' }
            @{ Shown = 'ampersand'; Name = 'a&b' }
            @{ Shown = 'quote'; Name = "a'b" }
            @{ Shown = 'double quote'; Name = 'a"b' }
            @{ Shown = '..'; Name = '..' }
            @{ Shown = '201 bytes'; Name = 'v' * 201 }
        ) {
            $before = Get-GuestLabInventory $lab
            $failure = Get-Refusal { New-KvmGuest -Uri $uri -Name $Name -Kernel $media.Kernel -DiskSizeBytes 16MB -MemoryBytes 256MB -Network none -AllowEmulation }
            $failure.FullyQualifiedErrorId | Should -Be 'GuestNameInvalid,KvmHost.Commands.NewKvmGuestCommand'
            $failure.CategoryInfo.Category | Should -Be 'InvalidArgument'
            $failure.ErrorDetails.RecommendedAction | Should -Not -BeNullOrEmpty
            Assert-NothingLeft $before "'$Shown' was refused"
        }

        It 'refuses <Case> with <Id>' -ForEach @(
            @{ Case = 'memory 0'; Id = 'GuestMemoryInvalid'; Arguments = @{ MemoryBytes = 0 } }
            @{ Case = 'more memory than the host has'; Id = 'GuestMemoryInvalid'; Arguments = @{ MemoryBytes = 64TB } }
            @{ Case = '0 vCPUs'; Id = 'GuestProcessorCountInvalid'; Arguments = @{ ProcessorCount = 0 } }
            @{ Case = 'a disk of 5 bytes'; Id = 'GuestDiskSizeInvalid'; Arguments = @{ DiskSizeBytes = 5 } }
            @{ Case = 'a kernel that does not exist'; Id = 'GuestMediaNotFound'; Arguments = @{ Kernel = '/nonexistent/vmlinuz' } }
            @{ Case = 'an unknown OS variant'; Id = 'GuestOsVariantUnknown'; Arguments = @{ OsVariant = 'rhel99.9' } }
            @{ Case = 'a bridge that does not exist'; Id = 'GuestBridgeNotFound'; Arguments = @{ Network = $null; Bridge = 'brnowhere0' } }
            @{ Case = 'a network that does not exist'; Id = 'GuestNetworkUnavailable'; Arguments = @{ Network = 'nowhere' } }
            @{ Case = 'no network and no default network'; Id = 'GuestNetworkUnavailable'; Arguments = @{ Network = $null } }
            @{ Case = 'a storage pool that does not exist'; Id = 'StoragePoolUnavailable'; Arguments = @{ StoragePool = 'nowhere' } }
            @{ Case = 'a description with a control character'; Id = 'GuestDescriptionInvalid'; Arguments = @{ Description = "bell`a" } }
            @{ Case = 'a bridge and a network at once'; Id = 'GuestParametersConflict'; Arguments = @{ Bridge = 'br0'; Network = 'default' } }
        ) {
            $before = Get-GuestLabInventory $lab
            $parameters = (Kernel new-refused) + @{ DiskSizeBytes = 16MB }
            foreach ($entry in $Arguments.GetEnumerator()) {
                if ($null -eq $entry.Value) { $parameters.Remove($entry.Key) } else { $parameters[$entry.Key] = $entry.Value }
            }
            $failure = Get-Refusal { New-KvmGuest -Uri $uri @parameters }
            $failure.FullyQualifiedErrorId | Should -Be "$Id,KvmHost.Commands.NewKvmGuestCommand"
            $failure.ErrorDetails.RecommendedAction | Should -Not -BeNullOrEmpty
            Assert-NothingLeft $before "$Case was refused"
        }

        It 'refuses an install ISO or tree that does not exist with GuestMediaNotFound' {
            $before = Get-GuestLabInventory $lab
            (Get-Refusal { New-KvmGuest -Uri $uri -Name new-iso -IsoPath /nonexistent/rhel.iso -OsVariant rhel9.0 -Network none -AllowEmulation }).FullyQualifiedErrorId |
                Should -Be 'GuestMediaNotFound,KvmHost.Commands.NewKvmGuestCommand'
            $failure = Get-Refusal { New-KvmGuest -Uri $uri -Name new-tree -Location /nonexistent/tree -OsVariant rhel9.0 -Network none -AllowEmulation }
            $failure.FullyQualifiedErrorId | Should -Be 'GuestMediaNotFound,KvmHost.Commands.NewKvmGuestCommand'
            $failure.TargetObject | Should -Be '/nonexistent/tree'
            Assert-NothingLeft $before 'missing media were refused'
        }

        It 'refuses a name in use with GuestExists and leaves that guest as it was' {
            $existing = Get-KvmGuest -Uri $uri new-kernel
            $before = Get-GuestLabInventory $lab
            $k = Kernel new-kernel
            $failure = Get-Refusal { New-KvmGuest -Uri $uri @k -DiskSizeBytes 16MB }
            $failure.FullyQualifiedErrorId | Should -Be 'GuestExists,KvmHost.Commands.NewKvmGuestCommand'
            $failure.TargetObject | Should -Be 'new-kernel'
            $still = Get-KvmGuest -Uri $uri new-kernel
            ($still.Uuid, $still.Id, $still.State) | Should -Be @($existing.Uuid, $existing.Id, $existing.State)
            Assert-NothingLeft $before 'a name in use was refused'
        }

        It 'refuses to run an ordinary guest without KVM unless -AllowEmulation, saying why' {
            $before = Get-GuestLabInventory $lab
            $k = Kernel new-kvm
            $k.Remove('AllowEmulation')
            $failure = Get-Refusal { New-KvmGuest -Uri $uri @k }
            $failure.FullyQualifiedErrorId | Should -Be 'KvmAccelerationUnavailable,KvmHost.Commands.NewKvmGuestCommand'
            $failure.ErrorDetails.RecommendedAction | Should -Match '-AllowEmulation'
            if ((Test-KvmCpuSupport).Acceleration -eq 'Kvm') {
                $failure.Exception.Message | Should -Match 'offers no KVM guests' -Because 'this machine could, but the lab''s libvirt cannot use /dev/kvm'
            } else {
                $failure.Exception.Message | Should -Match 'Test-KvmCpuSupport says'
            }
            Assert-NothingLeft $before 'a guest without acceleration was refused'
        }

        It 'removes what virt-install made when it fails after allocating the disk (QEMU cannot load the kernel)' {
            $before = Get-GuestLabInventory $lab
            $garbage = Join-Path $media.Folder 'not-a-kernel'
            [IO.File]::WriteAllText($garbage, 'this is not a kernel')
            $failure = Get-Refusal { New-KvmGuest -Uri $uri -Name new-broken -Kernel $garbage -DiskSizeBytes 16MB -MemoryBytes 256MB -Network none -AllowEmulation -WarningAction SilentlyContinue }
            $failure.FullyQualifiedErrorId | Should -Be 'GuestCreateFailed,KvmHost.Commands.NewKvmGuestCommand'
            $failure.Exception.Message | Should -Match 'virt-install could not create guest ''new-broken'''
            Assert-NothingLeft $before 'a failed virt-install is undone'
        }
    }

    Context 'binding and completion' {
        BeforeAll {
            # A real bridge object, as New-HostBridge returns it, from a scratch RHEL 9 image.
            $nic = "[connection]`nid=enp1s0`nuuid=9342d47a-1bab-5709-9869-c840b2eac501`ntype=ethernet`ninterface-name=enp1s0`n`n[ipv4]`naddress1=192.0.2.10/24`nmethod=manual`n"
            $root = New-ScratchRoot -Fixtures @{ 'etc/os-release' = 'os-release/rhel-9.6.os-release' } `
                -Files @{ 'etc/NetworkManager/system-connections/enp1s0.nmconnection' = $nic } -Directories 'run/lock'
            [IO.File]::SetUnixFileMode((Join-Path $root 'etc/NetworkManager/system-connections/enp1s0.nmconnection'), 'UserRead, UserWrite')
            $bridge = New-HostBridge brpipe0 -Interface enp1s0 -Root $root
        }
        AfterAll { Remove-ScratchRoot $root }

        It 'binds a piped bridge to -Bridge, never its Name to -Name' {
            $bridge.Name | Should -Be 'brpipe0'
            $failure = Get-Refusal { $bridge | New-KvmGuest -Uri $uri -Name new-piped -Kernel $media.Kernel -MemoryBytes 256MB -AllowEmulation }
            # The bridge exists only in the scratch image: the refusal names it as the bridge, the guest keeps its own name.
            $failure.FullyQualifiedErrorId | Should -Be 'GuestBridgeNotFound,KvmHost.Commands.NewKvmGuestCommand'
            $failure.TargetObject | Should -Be 'brpipe0'
            (Get-KvmGuest -Uri $uri -Name brpipe0 -ErrorAction SilentlyContinue) | Should -BeNullOrEmpty

            $shell = [powershell]::Create()
            try {
                $null = $shell.AddScript("Import-Module '$module'; `$args[0] | New-KvmGuest -Uri '$uri' -Kernel '$($media.Kernel)' -AllowEmulation").AddArgument($bridge)
                $null = $shell.Invoke()
                $shell.HadErrors | Should -BeTrue -Because 'without -Name nothing else may supply it'
                $shell.Streams.Error[0].FullyQualifiedErrorId | Should -Be 'MissingMandatoryParameter,KvmHost.Commands.NewKvmGuestCommand'
            } finally { $shell.Dispose() }
            (Get-GuestLabInventory $lab).Guests | Should -Not -Contain 'brpipe0'
        }

        It 'refuses a guest object or a number as -Bridge' {
            $guest = Get-KvmGuest -Uri $uri new-kernel
            { $guest | New-KvmGuest -Uri $uri -Name new-x -Kernel $media.Kernel -AllowEmulation -ErrorAction Stop } |
                Should -Throw -ErrorId 'InputObjectNotBound,KvmHost.Commands.NewKvmGuestCommand'
        }

        It 'completes -OsVariant from this host''s osinfo-db, with the OS''s name' {
            $completion = TabExpansion2 -inputScript 'New-KvmGuest -OsVariant rhel9.' -cursorColumn 'New-KvmGuest -OsVariant rhel9.'.Length
            $completion.CompletionMatches.CompletionText | Should -Contain 'rhel9.0'
            ($completion.CompletionMatches | Where-Object CompletionText -eq 'rhel9.0').ToolTip | Should -Be 'Red Hat Enterprise Linux 9.0'
            $completion.CompletionMatches.CompletionText | Where-Object { $_ -notlike 'rhel9.*' } | Should -BeNullOrEmpty
        }
    }

    # The procedure's guest steps in the lab, on a bridge the lab made (Get-HostBridge, no NetworkManager here). The
    # whole procedure, host steps and New-HostBridge on a real NetworkManager included, runs in one RHEL 9 systemd box
    # in Procedure.Tests.ps1 (a box without systemd-machined and with cgroup_controllers = [ ], so its guests stay out
    # of this machine's cgroups).
    Context 'the procedure''s guest steps in the lab, on a bridge the lab made (the host steps: Pipeline.Tests.ps1, in a systemd box)' {
        It 'New-KvmGuest on the piped bridge (TCG), Get-KvmGuest shows it there, Stop-KvmGuest, Remove-KvmGuest -DeleteStorage: nothing left' {
            $bridgeName = 'brproc' + [guid]::NewGuid().ToString('N').Substring(0, 4)
            $null = Invoke-InGuestLab $lab -Command ip, link, add, $bridgeName, type, bridge
            $null = Invoke-InGuestLab $lab -Command ip, link, set, $bridgeName, up
            $before = Get-GuestLabInventory $lab
            $k = Kernel proc-vm01
            $run = Invoke-GuestLabPwsh $lab -ModulePath $module -Script @"
`$guest = Get-HostBridge $bridgeName | New-KvmGuest -Name proc-vm01 -Kernel '$($k.Kernel)' -Initrd '$($k.Initrd)' -KernelArguments '$($k.KernelArguments)' -MemoryBytes 256MB -DiskSizeBytes 16MB -AllowEmulation
Get-KvmGuest proc-vm01 | ForEach-Object { [pscustomobject]@{ Name = `$_.Name; State = "`$(`$_.State)"; Bridge = `$_.NetworkAdapters[0].Bridge } }
"@
            $run.ErrorIds | Should -BeNullOrEmpty
            ($run.Warnings -join "`n") | Should -Match 'TCG' -Because 'the lab has no usable KVM: the guest runs emulated, and says so'
            ($run.Output[0].Name, $run.Output[0].State, $run.Output[0].Bridge) | Should -Be @('proc-vm01', 'Running', $bridgeName)
            $during = Get-GuestLabInventory $lab
            $during.Volumes | Should -Contain 'proc-vm01.qcow2'
            $during.Processes | Should -Contain 'proc-vm01'

            $null = Wait-LabGuestConsole -Lab $lab -Name proc-vm01 -Pattern '^KVMHOST-GUEST-READY'
            $stopped = Stop-KvmGuest -Uri $uri proc-vm01 -PassThru
            $stopped.State | Should -Be 'ShutOff' -Because 'the ACPI power button, and a real wait'
            $removed = $stopped | Remove-KvmGuest -DeleteStorage -Confirm:$false -PassThru
            $removed.DeletedVolumes | Should -Be 'default/proc-vm01.qcow2 (/var/lib/libvirt/images/proc-vm01.qcow2)'

            # Nothing left: no definition, no volume, no file, no QEMU process, no pool, no cgroup directory anywhere.
            Assert-NothingLeft $before 'the procedure ran to its end'
            $cgroups = Invoke-HarnessProcess find '/sys/fs/cgroup', '-mindepth', '1', '-maxdepth', '12', '-type', 'd', '-name', '*qemu*proc*vm01*' -AllowFailure
            $cgroups.StdOut.Trim() | Should -BeNullOrEmpty
            $null = Invoke-InGuestLab $lab -Command ip, link, del, $bridgeName
        }
    }

    Context 'Ctrl+C' {
        It 'stops virt-install and removes what it had made, whenever the stop comes' {
            $before = Get-GuestLabInventory $lab
            $volume = Join-Path $lab.ImagesPath 'new-stopped.qcow2'
            $shell = [powershell]::Create()
            try {
                $k = Kernel new-stopped
                $null = $shell.AddScript("`$env:XDG_CACHE_HOME = '$env:XDG_CACHE_HOME'; Import-Module '$module'; `$p = `$args[0]; New-KvmGuest -Uri '$uri' @p -DiskSizeBytes 16MB -WarningAction SilentlyContinue").AddArgument($k)
                $handle = $shell.BeginInvoke()
                # Press Ctrl+C once virt-install has allocated the disk: the guest is half made.
                $deadline = [DateTime]::UtcNow.AddSeconds(120)
                while (-not (Test-Path -LiteralPath $volume) -and -not $handle.IsCompleted -and [DateTime]::UtcNow -lt $deadline) { Start-Sleep -Milliseconds 10 }
                $handle.IsCompleted | Should -BeFalse -Because 'the stop must come while New-KvmGuest is still at work (else this test proves nothing)'
                $stopped = $shell.BeginStop($null, $null)
                $stopped.AsyncWaitHandle.WaitOne([TimeSpan]::FromSeconds(90)) | Should -BeTrue
                $shell.InvocationStateInfo.State | Should -Be 'Stopped'
            } finally { $shell.Dispose() }
            Assert-NothingLeft $before 'a stopped New-KvmGuest leaves nothing'
            Get-Process -Name virt-install -ErrorAction Ignore | Where-Object { $_.CommandLine -match 'new-stopped' } | Should -BeNullOrEmpty
        }
    }
}
