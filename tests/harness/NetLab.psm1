<#
    PowerShell face of the network test harness: throw-away network namespaces (netns.sh) and a
    private NetworkManager inside them (nm-netns.sh), for Pester tests that run as root.

    Every command goes through the two scripts next to this file, so a test and an engineer at a
    shell see the same behaviour. Results of commands run in a lab are the harness's process results
    (Invoke-HarnessProcess: ExitCode, Output, StdOut, StdErr, Command): tests assert on them instead
    of catching exceptions. Harness failures (a lab
    that cannot be made, NetworkManager that does not start) throw.
#>
Set-StrictMode -Version 3.0

Import-Module (Join-Path $PSScriptRoot 'Harness.psm1')

$script:NetnsScript = Join-Path $PSScriptRoot 'netns.sh'
$script:NmScript = Join-Path $PSScriptRoot 'nm-netns.sh'

function Invoke-NetLabScript {
    # Runs one of the two scripts; throws with its stderr unless -AllowFailure.
    param([string] $Script, [string[]] $ArgumentList, [int] $TimeoutSec = 120, [switch] $AllowFailure)
    Invoke-HarnessProcess bash (@($Script) + $ArgumentList) -TimeoutSec $TimeoutSec -AllowFailure:$AllowFailure
}

function Test-NetLabSupported {
    <#
    .SYNOPSIS
        $null when labs can be made here, else the reason (for Set-ItResult -Skipped -Because).
    .PARAMETER NetworkManager
        Also require what Start-NetLabNetworkManager needs (NetworkManager, nmcli, dbus-daemon...).
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param([switch] $NetworkManager)

    if (-not $IsLinux) { return 'network namespaces need Linux' }
    $uid = (& id -u 2>$null)
    if ("$uid".Trim() -ne '0') { return "not root (uid $("$uid".Trim())): network namespaces need CAP_SYS_ADMIN" }
    foreach ($tool in 'bash', 'ip', 'unshare', 'nsenter', 'mount', 'timeout') {
        if (-not (Get-Command $tool -CommandType Application -ErrorAction Ignore)) {
            return "no '$tool' on PATH$(if ($tool -eq 'ip') { ' (Debian/RHEL package iproute2)' })"
        }
    }
    # Being root is not enough in a container without CAP_SYS_ADMIN, or with veth missing from the
    # kernel: try both in a namespace that vanishes as soon as the probe exits.
    $probe = Invoke-HarnessProcess 'unshare' -TimeoutSec 20 -AllowFailure -ArgumentList @(
        '--net', '--', 'ip', 'link', 'add', 'kvmprobe0', 'type', 'veth', 'peer', 'name', 'kvmprobe1')
    if ($probe.ExitCode -ne 0) { return "cannot create a network namespace with a veth pair: $($probe.StdErr.Trim())" }

    if ($NetworkManager) {
        foreach ($tool in 'NetworkManager', 'nmcli', 'nm-online', 'dbus-daemon') {
            if (-not (Get-Command $tool -CommandType Application -ErrorAction Ignore)) {
                return "no '$tool' on PATH (Debian package $(if ($tool -like 'dbus*') { 'dbus' } else { 'network-manager' }))"
            }
        }
        if (-not (Get-Command busctl, dbus-send -CommandType Application -ErrorAction Ignore)) {
            return 'neither busctl nor dbus-send on PATH (needed for NetworkManager checkpoints)'
        }
        foreach ($directory in '/etc/NetworkManager', '/var/lib/NetworkManager') {
            # They are bind-mount points for the scratch copies; the harness will not create them.
            if (-not (Test-Path $directory -PathType Container)) { return "no $directory to shadow with a scratch copy" }
        }
    }
    $null
}

function New-NetLab {
    <#
    .SYNOPSIS
        Creates namespaces NAME-host and NAME-gw joined by a veth (kvmt0 / kvmg0), 192.0.2.10/24 and
        2001:db8::10/64 on the host side, .1 on the gateway, default routes via the gateway.
    .OUTPUTS
        An object with the KEY=VALUE fields of "netns.sh lab": LAB, HOST_NS, GW_NS, NIC, NIC_MAC, GW_NIC,
        HOST_IP, GW_IP, PREFIX, HOST_CIDR, HOST_IP6, GW_IP6, PREFIX6, HOST_CIDR6, STATE_DIR.
    #>
    [CmdletBinding()]
    param(
        # Default: a fresh random name, so parallel runs and leftovers never collide.
        [ValidatePattern('^[A-Za-z0-9][A-Za-z0-9_.]{0,19}$')]
        [string] $Name = ('kvmt' + [guid]::NewGuid().ToString('N').Substring(0, 8))
    )
    $result = Invoke-NetLabScript -Script $script:NetnsScript -ArgumentList @('lab', $Name) -TimeoutSec 60
    ConvertFrom-HarnessKeyValue -Line $result.Output -TypeName 'NetLab.Lab'
}

function Remove-NetLab {
    <#
    .SYNOPSIS
        Stops the lab's NetworkManager (if any), kills every process left in its namespaces, deletes
        them and the lab's state directory. Idempotent.
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory, ValueFromPipelineByPropertyName)] [Alias('LAB')]
        [ValidatePattern('^[A-Za-z0-9][A-Za-z0-9_.]{0,19}$')] [string] $Name
    )
    process { $null = Invoke-NetLabScript -Script $script:NetnsScript -ArgumentList @('destroy', $Name) -TimeoutSec 60 }
}

function Get-NetLabBindArgument {
    param([string] $PrivateSysctlDir, [hashtable] $Bind)
    $arguments = @()
    if ($PrivateSysctlDir) { $arguments += @('--private-etc', (Resolve-Path -LiteralPath $PrivateSysctlDir).ProviderPath) }
    if ($Bind) {
        foreach ($entry in $Bind.GetEnumerator()) {
            $arguments += @('--bind', ('{0}:{1}' -f (Resolve-Path -LiteralPath $entry.Key).ProviderPath, $entry.Value))
        }
    }
    $arguments
}

function Invoke-InNetLab {
    <#
    .SYNOPSIS
        Runs a command inside a lab: in NAME-host (default), NAME-gw (-Gateway), or next to the
        lab's NetworkManager (-NetworkManager: same mount namespace, so /etc/NetworkManager is the
        scratch copy, and DBUS_SYSTEM_BUS_ADDRESS points at the lab's bus).
    .PARAMETER Command
        Program and arguments, one element each (no shell unless you call one).
    .PARAMETER PrivateSysctlDir
        A scratch directory the command sees at /etc/sysctl.d (private mount namespace).
    .PARAMETER Bind
        More binds: keys are the scratch sources, values the paths the command sees them at, like
        "--bind SRC:DEST". Both must exist and be of the same kind (file or directory).
    .OUTPUTS
        ExitCode, Output (non-empty stdout lines), StdOut, StdErr, Command.
    #>
    [CmdletBinding(DefaultParameterSetName = 'Host')]
    param(
        [Parameter(Mandatory, ValueFromPipelineByPropertyName)] [Alias('LAB')]
        [ValidatePattern('^[A-Za-z0-9][A-Za-z0-9_.]{0,19}$')] [string] $Name,
        [Parameter(Mandatory)] [ValidateNotNullOrEmpty()] [string[]] $Command,
        [string] $PrivateSysctlDir,
        [hashtable] $Bind,
        [Parameter(ParameterSetName = 'Gateway')] [switch] $Gateway,
        [Parameter(ParameterSetName = 'NetworkManager')] [switch] $NetworkManager,
        [ValidateRange(1, 3600)] [int] $TimeoutSec = 300
    )
    process {
        $binds = @(Get-NetLabBindArgument -PrivateSysctlDir $PrivateSysctlDir -Bind $Bind)
        if ($NetworkManager) {
            $arguments = @('run', $Name) + $binds + @('--') + $Command
            Invoke-NetLabScript -Script $script:NmScript -ArgumentList $arguments -TimeoutSec $TimeoutSec -AllowFailure
        }
        else {
            $namespace = if ($Gateway) { "$Name-gw" } else { "$Name-host" }
            $arguments = @('run', $namespace) + $binds + @('--') + $Command
            Invoke-NetLabScript -Script $script:NetnsScript -ArgumentList $arguments -TimeoutSec $TimeoutSec -AllowFailure
        }
    }
}

function Test-NetLabPing {
    <#
    .SYNOPSIS
        $true when Address answers from inside the lab's host namespace (default: the gateway).
        Uses ping when installed, else a TCP probe whose RST proves the peer answered.
    #>
    [CmdletBinding()]
    [OutputType([bool])]
    param(
        [Parameter(Mandatory, ValueFromPipelineByPropertyName)] [Alias('LAB')]
        [ValidatePattern('^[A-Za-z0-9][A-Za-z0-9_.]{0,19}$')] [string] $Name,
        [string] $Address = '192.0.2.1',
        [switch] $FromGateway,
        [ValidateRange(1, 99)] [int] $Tries = 5
    )
    $namespace = if ($FromGateway) { "$Name-gw" } else { "$Name-host" }
    $result = Invoke-NetLabScript -Script $script:NetnsScript -TimeoutSec 60 -AllowFailure `
        -ArgumentList @('ping', $namespace, $Address, "$Tries")
    Write-Verbose "$($result.StdOut.Trim()) $($result.StdErr.Trim())"
    $result.ExitCode -eq 0
}

function Start-NetLabNetworkManager {
    <#
    .SYNOPSIS
        Starts a private dbus-daemon and NetworkManager in the lab's host namespace and waits until
        NM has finished starting and manages kvmt0.
    .OUTPUTS
        KEY=VALUE fields of "nm-netns.sh start": NM_STATE_DIR, DBUS_SOCKET, DBUS_SYSTEM_BUS_ADDRESS
        (usable from outside), INNER_DBUS_SYSTEM_BUS_ADDRESS, SYSTEM_CONNECTIONS_DIR, NM_LOG,
        NM_VERSION, NM_PID, DBUS_PID, INIT_PID, HOLDER_PID, NIC, NIC_STATE, START_MS, NMCLI, RUN.
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory, ValueFromPipelineByPropertyName)] [Alias('LAB')]
        [ValidatePattern('^[A-Za-z0-9][A-Za-z0-9_.]{0,19}$')] [string] $Name,
        [ValidateRange(1, 600)] [int] $TimeoutSec = 30
    )
    $result = Invoke-NetLabScript -Script $script:NmScript -ArgumentList @('start', $Name, '--timeout', "$TimeoutSec") `
        -TimeoutSec ($TimeoutSec + 30)
    ConvertFrom-HarnessKeyValue -Line $result.Output -TypeName 'NetLab.NetworkManager'
}

function Stop-NetLabNetworkManager {
    <#
    .SYNOPSIS
        Kills the lab's NetworkManager, its dbus-daemon and everything started next to them
        (they share a pid namespace), and removes the scratch state. Idempotent.
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory, ValueFromPipelineByPropertyName)] [Alias('LAB')]
        [ValidatePattern('^[A-Za-z0-9][A-Za-z0-9_.]{0,19}$')] [string] $Name
    )
    process { $null = Invoke-NetLabScript -Script $script:NmScript -ArgumentList @('stop', $Name) -TimeoutSec 60 }
}

function Invoke-NetLabNmcli {
    <#
    .SYNOPSIS
        nmcli against the lab's NetworkManager. Returns ExitCode, Output, StdOut, StdErr.
    .EXAMPLE
        Invoke-NetLabNmcli -Name $lab.LAB -Arguments '-t', '-f', 'DEVICE,STATE', 'device'
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory, ValueFromPipelineByPropertyName)] [Alias('LAB')]
        [ValidatePattern('^[A-Za-z0-9][A-Za-z0-9_.]{0,19}$')] [string] $Name,
        [Parameter(Mandatory)] [string[]] $Arguments,
        [ValidateRange(1, 3600)] [int] $TimeoutSec = 120
    )
    Invoke-NetLabScript -Script $script:NmScript -ArgumentList (@('nmcli', $Name, '--') + $Arguments) `
        -TimeoutSec $TimeoutSec -AllowFailure
}

function New-NetLabNmCheckpoint {
    <#
    .SYNOPSIS
        org.freedesktop.NetworkManager.CheckpointCreate; returns the checkpoint's object path.
    .PARAMETER Interface
        Devices to include; none = all devices.
    .PARAMETER RollbackTimeoutSec
        NM rolls back by itself after this many seconds unless the checkpoint is destroyed; 0 = never.
    .PARAMETER Flags
        0x1 DESTROY_ALL, 0x2 DELETE_NEW_CONNECTIONS, 0x4 DISCONNECT_NEW_DEVICES (all devices only),
        0x8 ALLOW_OVERLAPPING, 0x10 NO_PRESERVE_EXTERNAL_PORTS. Default 6 for all devices, 2 otherwise.
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param(
        [Parameter(Mandatory, ValueFromPipelineByPropertyName)] [Alias('LAB')]
        [ValidatePattern('^[A-Za-z0-9][A-Za-z0-9_.]{0,19}$')] [string] $Name,
        [string[]] $Interface = @(),
        [ValidateRange(0, 86400)] [int] $RollbackTimeoutSec = 0,
        [ValidateRange(-1, 255)] [int] $Flags = -1
    )
    if ($Flags -lt 0) { $Flags = if ($Interface.Count) { 2 } else { 6 } }
    $arguments = @('checkpoint', $Name, 'create', '--timeout', "$RollbackTimeoutSec", '--flags', "$Flags") + $Interface
    (Invoke-NetLabScript -Script $script:NmScript -ArgumentList $arguments).Output | Select-Object -First 1
}

function Undo-NetLabNmCheckpoint {
    <#
    .SYNOPSIS
        org.freedesktop.NetworkManager.CheckpointRollback; returns one object per device
        (Device = D-Bus path, Result: 0 ok, 1 no device, 2 unmanaged, 3 failed). Throws on D-Bus errors.
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory, ValueFromPipelineByPropertyName)] [Alias('LAB')]
        [ValidatePattern('^[A-Za-z0-9][A-Za-z0-9_.]{0,19}$')] [string] $Name,
        [Parameter(Mandatory)] [string] $Checkpoint
    )
    # Exit code 1 with output means some device failed; that is data for the caller, not an error.
    $result = Invoke-NetLabScript -Script $script:NmScript -ArgumentList @('checkpoint', $Name, 'rollback', $Checkpoint) -AllowFailure
    if ($result.ExitCode -ne 0 -and -not $result.Output) { throw "CheckpointRollback failed: $($result.StdErr.Trim())" }
    foreach ($line in $result.Output) {
        $device, $code = $line -split ' ', 2
        [pscustomobject]@{ PSTypeName = 'NetLab.RollbackResult'; Device = $device; Result = [int]$code }
    }
}

function Remove-NetLabNmCheckpoint {
    <#
    .SYNOPSIS
        org.freedesktop.NetworkManager.CheckpointDestroy: keep the current state, cancel the automatic rollback.
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory, ValueFromPipelineByPropertyName)] [Alias('LAB')]
        [ValidatePattern('^[A-Za-z0-9][A-Za-z0-9_.]{0,19}$')] [string] $Name,
        [Parameter(Mandatory)] [string] $Checkpoint
    )
    $null = Invoke-NetLabScript -Script $script:NmScript -ArgumentList @('checkpoint', $Name, 'destroy', $Checkpoint)
}

function Set-NetLabNmCheckpointTimeout {
    <#
    .SYNOPSIS
        org.freedesktop.NetworkManager.CheckpointAdjustRollbackTimeout: roll back Seconds from now (0 = never).
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory, ValueFromPipelineByPropertyName)] [Alias('LAB')]
        [ValidatePattern('^[A-Za-z0-9][A-Za-z0-9_.]{0,19}$')] [string] $Name,
        [Parameter(Mandatory)] [string] $Checkpoint,
        [Parameter(Mandatory)] [ValidateRange(0, 86400)] [int] $Seconds
    )
    $null = Invoke-NetLabScript -Script $script:NmScript -ArgumentList @('checkpoint', $Name, 'adjust', $Checkpoint, "$Seconds")
}

function Get-NetLabNmCheckpoint {
    <#
    .SYNOPSIS
        Object paths of the lab NetworkManager's existing checkpoints (its Checkpoints property).
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param(
        [Parameter(Mandatory, ValueFromPipelineByPropertyName)] [Alias('LAB')]
        [ValidatePattern('^[A-Za-z0-9][A-Za-z0-9_.]{0,19}$')] [string] $Name
    )
    (Invoke-NetLabScript -Script $script:NmScript -ArgumentList @('checkpoint', $Name, 'list')).Output
}

Export-ModuleMember -Function @(
    'Test-NetLabSupported', 'New-NetLab', 'Remove-NetLab', 'Invoke-InNetLab', 'Test-NetLabPing',
    'Start-NetLabNetworkManager', 'Stop-NetLabNetworkManager', 'Invoke-NetLabNmcli',
    'New-NetLabNmCheckpoint', 'Undo-NetLabNmCheckpoint', 'Remove-NetLabNmCheckpoint', 'Get-NetLabNmCheckpoint',
    'Set-NetLabNmCheckpointTimeout'
)
