<#
    Throw-away systemd boxes for Pester tests: a thin wrapper over box.sh, which does the work.
    A box is real systemd as PID 1 in its own namespaces over an overlay of this machine's /, so it runs
    Debian's systemd, dbus, NetworkManager, libvirtd, dnf and rpm, dressed as a RHEL release by the
    files written into it before boot. Its network namespace is named after it (`ip netns exec NAME`).

    Hashtable parameters are keyed by the path INSIDE the box, as New-ScratchRoot keys by the path in
    the root: -File @{ '/etc/yum.repos.d/x.repo' = $hostFile }.
#>
Set-StrictMode -Version Latest

Import-Module (Join-Path $PSScriptRoot 'Harness.psm1')

$script:BoxScript = Join-Path $PSScriptRoot 'box.sh'
# Boxes this session started, stopped if the module is removed before the tests stop them.
$script:Started = [System.Collections.Generic.HashSet[string]]::new()
$script:SupportReason = $null
$script:SupportChecked = $false

function Test-TestBoxSupported {
    <#
    .SYNOPSIS
        $null when systemd boxes can run here; otherwise why not, for Pester's -Skip and its message.
    #>
    [OutputType([string])]
    param()
    if ($script:SupportChecked) { return $script:SupportReason }
    $script:SupportReason = & {
        if (-not $IsLinux) { return 'systemd boxes need Linux' }
        if (-not (Test-HarnessRoot)) { return 'systemd boxes need root (namespaces, mounts, pivot_root)' }
        $missing = Get-HarnessMissingCommand bash, unshare, nsenter, setpriv, mount, pivot_root, ip
        if ($missing) { return "systemd boxes need '$missing', which is not on PATH" }
        if (-not (Test-Path /lib/systemd/systemd)) { return 'systemd boxes need /lib/systemd/systemd (package systemd)' }
        if (-not (Select-String -Path /proc/filesystems -Pattern '\soverlay$' -Quiet)) {
            return 'systemd boxes need overlayfs, which this kernel does not list (and module loading may be off)'
        }
        # Privileged-looking containers can still refuse new namespaces (seccomp, no CAP_SYS_ADMIN).
        $probe = Invoke-HarnessProcess unshare -TimeoutSec 10 -AllowFailure -ArgumentList @(
            '--fork', '--pid', '--mount', '--net', '--uts', '--ipc', '--cgroup', '--propagation', 'private', 'true')
        if ($probe.ExitCode -ne 0) { return "unshare cannot create namespaces here: $($probe.StdErr.Trim())" }
        $null
    }
    $script:SupportChecked = $true
    $script:SupportReason
}

function Start-TestBox {
    <#
    .SYNOPSIS
        Boots a box and returns it (Name, Pid, BootTime) once systemd says running or degraded.
    .PARAMETER OsRelease
        A host file that becomes the box's /etc/os-release.
    .PARAMETER File
        Box path -> host file, copied in before boot (mode kept: NetworkManager ignores keyfiles not 0600).
    .PARAMETER Content
        Box path -> text, written in before boot.
    .PARAMETER Remove
        Box paths deleted before boot (the machine keeps its files; the box sees none), such as a D-Bus
        service file that would let a daemon be activated in the box.
    .PARAMETER Mask
        Units to mask before boot, on top of the ones box.sh always masks.
    .PARAMETER Device
        Device nodes of the machine's /dev (kvm, net/tun...) bound into the box's /dev.
    .PARAMETER Bind
        Box path -> host directory, bind-mounted read-write. The repository is always bound at its own path.
        The box's /tmp is its own: a host directory under /tmp is visible inside only through -Bind.
    #>
    [OutputType([pscustomobject])]
    param(
        [Parameter(Mandatory)] [ValidatePattern('^[A-Za-z0-9][A-Za-z0-9_.-]{0,30}$')] [string] $Name,
        [string] $OsRelease,
        [hashtable] $File = @{},
        [hashtable] $Content = @{},
        [string[]] $Remove = @(),
        [string[]] $Mask = @(),
        [hashtable] $Bind = @{},
        [string[]] $Device = @(),
        [ValidateRange(1, 3600)] [int] $TimeoutSec = 120
    )
    $arguments = [System.Collections.Generic.List[string]]::new()
    $arguments.AddRange([string[]] @($script:BoxScript, 'start', $Name))
    if ($OsRelease) { $arguments.AddRange([string[]] @('--os-release', (Resolve-Path -LiteralPath $OsRelease).ProviderPath)) }
    foreach ($entry in $File.GetEnumerator()) {
        $arguments.AddRange([string[]] @('--file', "$((Resolve-Path -LiteralPath $entry.Value).ProviderPath):$($entry.Key)"))
    }
    $staging = $null
    if ($Content.Count) {
        $staging = Join-Path ([IO.Path]::GetTempPath()) "kvmhost-box-content-$([guid]::NewGuid().ToString('N'))"
        $null = New-Item -ItemType Directory -Path $staging
        $index = 0
        foreach ($entry in $Content.GetEnumerator()) {
            $source = Join-Path $staging ($index++)
            [IO.File]::WriteAllText($source, [string] $entry.Value)
            $arguments.AddRange([string[]] @('--file', "${source}:$($entry.Key)"))
        }
    }
    foreach ($path in $Remove) { $arguments.AddRange([string[]] @('--remove', $path)) }
    foreach ($unit in $Mask) { $arguments.AddRange([string[]] @('--mask', $unit)) }
    foreach ($node in $Device) { $arguments.AddRange([string[]] @('--device', $node)) }
    foreach ($entry in $Bind.GetEnumerator()) {
        $arguments.AddRange([string[]] @('--bind', "$((Resolve-Path -LiteralPath $entry.Value).ProviderPath):$($entry.Key)"))
    }

    $clock = [System.Diagnostics.Stopwatch]::StartNew()
    try {
        $null = $script:Started.Add($Name)
        $result = Invoke-HarnessProcess bash $arguments -TimeoutSec $TimeoutSec -AllowFailure
    }
    catch {
        Stop-TestBox -Name $Name
        throw
    }
    finally {
        if ($staging) { Remove-Item -LiteralPath $staging -Recurse -Force }
    }
    if ($result.ExitCode -ne 0) {
        $null = $script:Started.Remove($Name)
        throw "box '$Name' did not start (exit $($result.ExitCode)): $($result.StdErr.Trim())"
    }
    if ($result.StdErr) { Write-Warning $result.StdErr.Trim() }   # a degraded boot names its failed units
    [pscustomobject]@{
        PSTypeName = 'KvmHost.TestBox'
        Name       = $Name
        Pid        = [int] $result.StdOut.Trim()
        BootTime   = $clock.Elapsed
    }
}

function Invoke-TestBox {
    <#
    .SYNOPSIS
        Runs a command inside a box (nsenter into all its namespaces, clean environment, HOME=/root) and
        returns the harness's process result (ExitCode, Output lines, StdOut, StdErr, Command). Throws
        on a non-zero exit unless -AllowFailure.
    .EXAMPLE
        (Invoke-TestBox -Name b1 -Command systemctl, is-active, libvirtd -AllowFailure).ExitCode
    #>
    [OutputType([pscustomobject])]
    param(
        [Parameter(Mandatory, ValueFromPipelineByPropertyName)] [string] $Name,
        [Parameter(Mandatory, Position = 0)] [string[]] $Command,
        [switch] $AllowFailure,
        [ValidateRange(1, 3600)] [int] $TimeoutSec = 300
    )
    process {
        $result = Invoke-HarnessProcess bash (@($script:BoxScript, 'exec', $Name, '--') + $Command) -TimeoutSec $TimeoutSec -AllowFailure
        if ($result.ExitCode -ne 0 -and -not $AllowFailure) {
            throw "in box '$Name': '$($Command -join ' ')' exited $($result.ExitCode): $($result.StdErr.Trim())"
        }
        $result
    }
}

function Stop-TestBox {
    <#
    .SYNOPSIS
        Stops a box and removes every trace of it; a box that is not there is no error. -All stops
        every box box.sh knows of, this session's or not.
    #>
    [CmdletBinding(DefaultParameterSetName = 'Name')]
    param(
        [Parameter(Mandatory, ParameterSetName = 'Name', ValueFromPipelineByPropertyName)] [string] $Name,
        [Parameter(Mandatory, ParameterSetName = 'All')] [switch] $All
    )
    process {
        $arguments = if ($All) { @($script:BoxScript, 'stop-all') } else { @($script:BoxScript, 'stop', $Name) }
        $result = Invoke-HarnessProcess bash $arguments -TimeoutSec 60 -AllowFailure
        if ($All) { $script:Started.Clear() } else { $null = $script:Started.Remove($Name) }
        if ($result.ExitCode -ne 0) { throw "stopping box(es) failed (exit $($result.ExitCode)): $($result.StdErr.Trim())" }
    }
}

$ExecutionContext.SessionState.Module.OnRemove = {
    foreach ($name in @($script:Started)) { Stop-TestBox -Name $name }
}

Export-ModuleMember -Function Test-TestBoxSupported, Start-TestBox, Invoke-TestBox, Stop-TestBox
