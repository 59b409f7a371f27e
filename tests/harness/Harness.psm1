<#
    What every harness module shares: the one process runner, and the facts every harness checks first
    (Linux, root, tools on PATH). NetLab, SystemdBox, Fleet, StubRepo and GuestLab import this module
    and start every program through Invoke-HarnessProcess, so a timeout, a closed stdin and the shape of
    a result mean the same everywhere.
#>
Set-StrictMode -Version Latest

function Invoke-HarnessProcess {
    <#
    .SYNOPSIS
        Runs a program with an exact argument vector and a time limit; returns ExitCode, Output (stdout
        as non-empty lines), StdOut, StdErr and Command. Throws on a non-zero exit unless -AllowFailure.
    .DESCRIPTION
        No shell in between: each ArgumentList element is one argv entry. Stdin is empty and closed (nothing
        in a harness may wait for a keyboard). Stdout and stderr are drained concurrently (reading one to
        the end first can deadlock). At the timeout the whole process tree is killed (nsenter and unshare
        fork the real command, so killing the direct child alone would leave it running) and the call throws.
    .EXAMPLE
        (Invoke-HarnessProcess -FilePath ip -ArgumentList netns, list).Output
    #>
    [CmdletBinding()]
    [OutputType([pscustomobject])]
    param(
        [Parameter(Mandatory, Position = 0)] [string] $FilePath,
        [Parameter(Position = 1)] [string[]] $ArgumentList = @(),
        [ValidateRange(1, 3600)] [int] $TimeoutSec = 300,
        [string] $WorkingDirectory = (Get-Location -PSProvider FileSystem).ProviderPath,
        # Variables set (or, with a $null value, removed) for the child on top of this process's environment.
        [hashtable] $Environment = @{},
        [switch] $AllowFailure
    )
    $info = [System.Diagnostics.ProcessStartInfo]::new($FilePath)
    foreach ($argument in $ArgumentList) { $info.ArgumentList.Add($argument) }
    $info.UseShellExecute = $false
    $info.RedirectStandardOutput = $true
    $info.RedirectStandardError = $true
    $info.RedirectStandardInput = $true
    $info.WorkingDirectory = $WorkingDirectory
    foreach ($entry in $Environment.GetEnumerator()) {
        if ($null -eq $entry.Value) { $null = $info.Environment.Remove($entry.Key) }
        else { $info.Environment[$entry.Key] = [string] $entry.Value }
    }
    $commandLine = (@($FilePath) + $ArgumentList) -join ' '
    Write-Verbose $commandLine
    $process = [System.Diagnostics.Process]::Start($info)
    try {
        $process.StandardInput.Close()
        $stdoutTask = $process.StandardOutput.ReadToEndAsync()
        $stderrTask = $process.StandardError.ReadToEndAsync()
        if (-not $process.WaitForExit($TimeoutSec * 1000)) {
            $process.Kill($true)
            $null = $process.WaitForExit(5000)
            throw "Timed out after $TimeoutSec s: $commandLine"
        }
        $process.WaitForExit()   # the parameterless wait also drains the output readers
        $stdout = $stdoutTask.GetAwaiter().GetResult()
        $result = [pscustomobject]@{
            PSTypeName = 'KvmHost.Harness.ProcessResult'
            ExitCode   = $process.ExitCode
            Output     = [string[]] @($stdout -split "`n" | Where-Object { $_ -ne '' })
            StdOut     = $stdout
            StdErr     = $stderrTask.GetAwaiter().GetResult()
            Command    = [string[]] (@($FilePath) + $ArgumentList)
        }
    }
    finally {
        $process.Dispose()
    }
    if ($result.ExitCode -ne 0 -and -not $AllowFailure) {
        throw "'$commandLine' exited $($result.ExitCode): $($result.StdErr.Trim())"
    }
    $result
}

function ConvertFrom-HarnessKeyValue {
    <#
    .SYNOPSIS
        KEY=VALUE lines (what the harness scripts print) as one object; lines without '=' are ignored.
    #>
    [OutputType([pscustomobject])]
    param([string[]] $Line, [string] $TypeName)
    $properties = [ordered]@{}
    if ($TypeName) { $properties.PSTypeName = $TypeName }
    foreach ($entry in $Line) {
        $index = $entry.IndexOf('=')
        if ($index -gt 0) { $properties[$entry.Substring(0, $index)] = $entry.Substring($index + 1) }
    }
    [pscustomobject] $properties
}

function Test-HarnessRoot {
    <#
    .SYNOPSIS
        $true when this process runs as root (uid 0), read from /proc so it needs no external program.
    #>
    [OutputType([bool])]
    param()
    if (-not $IsLinux) { return $false }
    $uid = (Get-Content /proc/self/status | Where-Object { $_ -like 'Uid:*' }) -split '\s+' | Select-Object -Index 2
    $uid -eq '0'
}

function Get-HarnessMissingCommand {
    <#
    .SYNOPSIS
        The first of the given programs that is not on PATH, or $null when all are there.
    #>
    [OutputType([string])]
    param([Parameter(Mandatory)] [string[]] $Name)
    foreach ($command in $Name) {
        if (-not (Get-Command $command -CommandType Application -ErrorAction Ignore)) { return $command }
    }
    $null
}

function Get-HarnessPwshCommand {
    <#
    .SYNOPSIS
        The argv that starts this same pwsh: a .NET local tool is `dotnet <PSHOME>/pwsh.dll`, a native
        install is its own executable. Wrap it in @() before adding pwsh's own arguments: a native
        install's one element comes out as a plain string.
    .EXAMPLE
        $command = @(Get-HarnessPwshCommand) + '-NoProfile', '-Command', '$PID'
    #>
    [OutputType([string[]])]
    param()
    $process = [Environment]::ProcessPath
    if ([IO.Path]::GetFileNameWithoutExtension($process) -eq 'dotnet') { return [string[]] @($process, (Join-Path $PSHOME 'pwsh.dll')) }
    [string[]] @($process)
}

Export-ModuleMember -Function Invoke-HarnessProcess, ConvertFrom-HarnessKeyValue, Test-HarnessRoot,
    Get-HarnessMissingCommand, Get-HarnessPwshCommand
