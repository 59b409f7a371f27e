<#
    A throw-away fleet for remoting tests: N systemd boxes (SystemdBox.psm1) on a bridge in a network
    namespace of their own, each running the box's real sshd (ssh.service) with the PowerShell subsystem,
    reached with the caller's own pwsh remoting: New-PSSession / Invoke-Command -HostName.

    The caller's process stays on the machine's network. New-TestFleet puts a directory at the front of
    $env:PATH whose `ssh` enters the fleet's namespace (nsenter --net) before it runs the real ssh;
    PowerShell's SSH remoting starts the `ssh` it finds on PATH, so the whole client side of remoting
    runs in the namespace and nothing is added to the machine's network. Remove-TestFleet takes it
    out again. One fleet per process at a time.

        $fleet = New-TestFleet -Count 3
        $connect = $fleet.SessionParameters          # HostName, UserName, KeyFilePath, Options
        Invoke-Command @connect { hostname }
        Remove-TestFleet $fleet

    fleet.sh does the namespace, the keys, the sshd configuration and the links; see Fleet.md.
#>
Set-StrictMode -Version Latest

Import-Module (Join-Path $PSScriptRoot 'Harness.psm1')
Import-Module (Join-Path $PSScriptRoot 'SystemdBox.psm1')

$script:FleetScript = Join-Path $PSScriptRoot 'fleet.sh'
$script:Active = $null   # the fleet this session made and has not removed yet

function Invoke-FleetScript {
    # fleet.sh's stdout, or a throw with its stderr.
    param([Parameter(Mandatory)] [string[]] $ArgumentList, [int] $TimeoutSec = 60)
    (Invoke-HarnessProcess bash (@($script:FleetScript) + $ArgumentList) -TimeoutSec $TimeoutSec).StdOut
}

function Test-TestFleetSupported {
    <#
    .SYNOPSIS
        $null when a fleet can run here; otherwise why not, for Pester's -Skip and its message.
    #>
    [OutputType([string])]
    param()
    $reason = Test-TestBoxSupported
    if ($reason) { return $reason }
    $missing = Get-HarnessMissingCommand ssh, ssh-keygen, nsenter
    if ($missing) { return "a test fleet needs '$missing' (package openssh-client / util-linux), which is not on PATH" }
    if (-not (Test-Path /usr/sbin/sshd) -or -not (Test-Path /lib/systemd/system/ssh.service)) {
        return 'a test fleet needs sshd and its ssh.service (package openssh-server)'
    }
    $null
}

function New-TestFleet {
    <#
    .SYNOPSIS
        Boots Count boxes on a namespace bridge, each with sshd and the PowerShell subsystem, and returns
        the fleet: Name, Hosts (Index, HostName, BoxName, Pid), KeyFilePath, KnownHostsPath, Options,
        SessionParameters (splat into New-PSSession / Invoke-Command) and BootTime.
    .PARAMETER Options
        ssh options on top of the defaults (known hosts checked against the fleet's own file, connect and
        keep-alive timeouts short enough that a dead host fails a call instead of hanging it).
    .PARAMETER Mask
        Units to mask in every box, on top of the ones box.sh always masks.
    #>
    [OutputType([pscustomobject])]
    param(
        [ValidateRange(1, 20)] [int] $Count = 3,
        [ValidatePattern('^[A-Za-z0-9]{1,12}$')] [string] $Name = ('kvmf' + [guid]::NewGuid().ToString('N').Substring(0, 6)),
        [hashtable] $Options = @{},
        [string[]] $Mask = @()
    )
    if ($script:Active) { throw "fleet '$($script:Active.Name)' is still up: Remove-TestFleet it first (one fleet per process)" }
    $clock = [System.Diagnostics.Stopwatch]::StartNew()
    $boxNames = @(foreach ($index in 1..$Count) { "$Name-$index" })
    # prepare cleans up after itself when it fails (and never touches a fleet that already exists).
    $prepared = @{}
    $output = Invoke-FleetScript -ArgumentList (@('prepare', $Name, $Count, '--') + @(Get-HarnessPwshCommand))
    foreach ($line in $output -split "`n" | Where-Object { $_ }) {
        $key, $value = $line -split '=', 2
        $prepared[$key] = $value
    }
    try {
        $hosts = foreach ($index in 1..$Count) {
            $files = @{}
            foreach ($spec in $prepared["FILES_$index"] -split ',') {
                $source, $destination = $spec -split ':', 2
                $files[$destination] = $source
            }
            [pscustomobject]@{ Index = $index; HostName = $prepared["HOST_$index"]; BoxName = $boxNames[$index - 1]; Pid = 0; Files = $files }
        }
        $boxModule = Join-Path $PSScriptRoot 'SystemdBox.psm1'
        # Boots overlap: each box spends most of its start waiting for its own systemd.
        $booted = $hosts | ForEach-Object -ThrottleLimit $Count -Parallel {
            Import-Module $using:boxModule
            Start-TestBox -Name $_.BoxName -File $_.Files -Mask $using:Mask
        } 2>&1
        $bootErrors = @($booted | Where-Object { $_ -is [System.Management.Automation.ErrorRecord] })
        if ($bootErrors) { throw "the fleet did not boot: $($bootErrors -join '; ')" }
        foreach ($box in $booted) { ($hosts | Where-Object BoxName -eq $box.Name).Pid = $box.Pid }
        foreach ($fleetHost in $hosts) {
            if (-not $fleetHost.Pid) { throw "box '$($fleetHost.BoxName)' did not start" }
            $null = Invoke-FleetScript -ArgumentList @('attach', $Name, $fleetHost.Index, $fleetHost.BoxName)
        }
    }
    catch {
        Remove-FleetParts -Name $Name -BoxNames $boxNames
        throw
    }

    $sshOptions = @{
        StrictHostKeyChecking = 'yes'
        UserKnownHostsFile    = $prepared.KNOWN_HOSTS
        GlobalKnownHostsFile  = '/dev/null'
        IdentitiesOnly        = 'yes'
        BatchMode             = 'yes'
        ConnectTimeout        = '5'
        ServerAliveInterval   = '2'
        ServerAliveCountMax   = '3'
        LogLevel              = 'ERROR'
    }
    foreach ($entry in $Options.GetEnumerator()) { $sshOptions[$entry.Key] = [string] $entry.Value }
    $env:PATH = $prepared.CLIENT_PATH + [IO.Path]::PathSeparator + $env:PATH

    $script:Active = [pscustomobject]@{
        PSTypeName        = 'KvmHost.TestFleet'
        Name              = $Name
        Hosts             = @($hosts | Select-Object Index, HostName, BoxName, Pid)
        UserName          = 'root'
        KeyFilePath       = $prepared.KEY_FILE
        KnownHostsPath    = $prepared.KNOWN_HOSTS
        ClientPath        = $prepared.CLIENT_PATH
        Options           = $sshOptions
        SessionParameters = @{
            HostName    = [string[]] $hosts.HostName
            UserName    = 'root'
            KeyFilePath = $prepared.KEY_FILE
            Options     = $sshOptions
        }
        BootTime          = $clock.Elapsed
    }
    $script:Active
}

function Remove-FleetParts([string] $Name, [string[]] $BoxNames) {
    $failures = @()
    foreach ($box in $BoxNames) {
        try { Stop-TestBox -Name $box } catch { $failures += $_ }
    }
    try { $null = Invoke-FleetScript -ArgumentList @('destroy', $Name) } catch { $failures += $_ }
    if ($failures) { throw "removing fleet '$Name': $($failures -join '; ')" }
}

function Remove-TestFleet {
    <#
    .SYNOPSIS
        Stops the fleet's boxes, removes its namespace and state, and takes its ssh off PATH. Close the
        sessions to it first (Remove-PSSession), or they end with their hosts.
    #>
    param([Parameter(Mandatory, Position = 0, ValueFromPipeline)] [pscustomobject] $Fleet)
    process {
        $env:PATH = (($env:PATH -split [IO.Path]::PathSeparator) | Where-Object { $_ -ne $Fleet.ClientPath }) -join [IO.Path]::PathSeparator
        try {
            Remove-FleetParts -Name $Fleet.Name -BoxNames $Fleet.Hosts.BoxName
        }
        finally {
            if ($script:Active -and $script:Active.Name -eq $Fleet.Name) { $script:Active = $null }
        }
    }
}

function Set-TestFleetLink {
    <#
    .SYNOPSIS
        Takes host Index off the fleet's bridge (Down: its packets vanish, as on a dead link) or back (Up).
    #>
    param(
        [Parameter(Mandatory, Position = 0)] [pscustomobject] $Fleet,
        [Parameter(Mandatory)] [int] $Index,
        [Parameter(Mandatory)] [ValidateSet('Up', 'Down')] [string] $State
    )
    $null = Invoke-FleetScript -ArgumentList @('link', $Fleet.Name, $Index, $State.ToLowerInvariant())
}

$ExecutionContext.SessionState.Module.OnRemove = {
    if ($script:Active) { Remove-TestFleet $script:Active }
}

Export-ModuleMember -Function Test-TestFleetSupported, New-TestFleet, Remove-TestFleet, Set-TestFleetLink
