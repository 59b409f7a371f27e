<#
    Shared helpers for the Pester suite: where the built module is, scratch roots built from the
    fixtures, and how to start a child pwsh (pwsh runs as a .NET tool, so the process is dotnet).
#>
$script:repo = Split-Path $PSScriptRoot -Parent
# The harness's module owns what harness and tests share (how to start a child pwsh).
Import-Module (Join-Path $PSScriptRoot 'harness/Harness.psm1')

function Get-KvmHostModulePath {
    if ($env:KVMHOST_MODULE_PATH) { return $env:KVMHOST_MODULE_PATH }
    Join-Path $script:repo 'out/KvmHost/KvmHost.psd1'
}

function Get-FixturePath([Parameter(Mandatory)] [string] $Relative) {
    Join-Path $script:repo "tests/fixtures/$Relative"
}

function New-ScratchRoot {
    <#
    .SYNOPSIS
        A throw-away root folder. -Files maps paths inside the root to content; -Fixtures maps them to fixture files.
    #>
    param([hashtable] $Files = @{}, [hashtable] $Fixtures = @{}, [string[]] $Directories = @())
    $root = Join-Path ([IO.Path]::GetTempPath()) ("kvmhost-pester-" + [guid]::NewGuid().ToString('N').Substring(0, 12))
    $null = New-Item -ItemType Directory -Path $root
    foreach ($dir in $Directories) { $null = New-Item -ItemType Directory -Path (Join-Path $root $dir) -Force }
    foreach ($entry in $Fixtures.GetEnumerator()) {
        $target = Join-Path $root $entry.Key
        $null = New-Item -ItemType Directory -Path (Split-Path $target) -Force
        Copy-Item (Get-FixturePath $entry.Value) $target
    }
    foreach ($entry in $Files.GetEnumerator()) {
        $target = Join-Path $root $entry.Key
        $null = New-Item -ItemType Directory -Path (Split-Path $target) -Force
        [IO.File]::WriteAllText($target, $entry.Value)
    }
    $root
}

function Remove-ScratchRoot([string] $Path) {
    if ($Path -and $Path.StartsWith([IO.Path]::GetTempPath()) -and (Test-Path $Path)) { Remove-Item $Path -Recurse -Force }
}

function Get-TreeHash {
    <# A hash over every path, mode and content under a root: equal before and after means nothing changed. #>
    param([Parameter(Mandatory)] [string] $Path)
    $sha = [Security.Cryptography.SHA256]::Create()
    $lines = Get-ChildItem -LiteralPath $Path -Recurse -Force | Sort-Object FullName | ForEach-Object {
        $relative = $_.FullName.Substring($Path.Length)
        # A link's own mode is always 0777; following it would fail on a loop.
        $mode = if ($_.LinkTarget) { 'link' } else { [IO.File]::GetUnixFileMode($_.FullName) }
        $content = if ($_.PSIsContainer -or $_.LinkTarget) { "$($_.LinkTarget)" } else {
            [Convert]::ToHexString($sha.ComputeHash([IO.File]::ReadAllBytes($_.FullName)))
        }
        "$relative|$mode|$content"
    }
    [Convert]::ToHexString($sha.ComputeHash([Text.Encoding]::UTF8.GetBytes(($lines -join "`n"))))
}

function Get-PwshInvocation {
    <# The program and first arguments that start a child pwsh like this one (dotnet + pwsh.dll, or pwsh). #>
    Get-HarnessPwshCommand
}

function Test-IsRoot { (& id -u) -eq '0' }

function Invoke-KvmHostInLab {
    <#
    .SYNOPSIS
        Runs $Script with the built module in ONE child pwsh inside a network lab (its host namespace, or next to
        the lab's NetworkManager) and returns what the script returns, through JSON. In the child, Step {} gives
        { Results; Errors; Hints } of a block, Links the namespace's 'ip -j' view, Answers a ping. -EtcOverlay gives
        the child a private, writable /etc (and /run/lock) whose writes land in that scratch folder (harness/private-etc.sh).
    #>
    param([string] $Lab, [string] $Script, [string] $EtcOverlay, [switch] $NetworkManager, [int] $TimeoutSec = 400)
    Import-Module (Join-Path $PSScriptRoot 'harness/NetLab.psm1')
    $file = Join-Path ([IO.Path]::GetTempPath()) ("kvmhost-bridge-" + [guid]::NewGuid().ToString('N') + '.ps1')
    Set-Content -LiteralPath $file -Value @"
Import-Module '$(Get-KvmHostModulePath)'
function Step([scriptblock] `$Block) {
    try { `$all = @(& `$Block 2>&1) } catch { `$all = @(`$_) }
    `$records = @(`$all | Where-Object { `$_ -is [System.Management.Automation.ErrorRecord] })
    @{ Results = @(`$all | Where-Object { `$_ -isnot [System.Management.Automation.ErrorRecord] })
       Errors = @(`$records | ForEach-Object FullyQualifiedErrorId)
       Hints = @(`$records | ForEach-Object { `$_.ErrorDetails.RecommendedAction }) }
}
function Links { ip -j -d address show | ConvertFrom-Json }
function Answers([string] `$Address) {
    `$ping = [System.Net.NetworkInformation.Ping]::new()
    foreach (`$try in 1..5) { try { if (`$ping.Send(`$Address, 1000).Status -eq 'Success') { return `$true } } catch { }; Start-Sleep -Milliseconds 300 }
    `$false
}
`$out = & { $Script }
'@@JSON@@' + (`$out | ConvertTo-Json -Depth 8 -Compress)
"@
    try {
        $command = @(Get-PwshInvocation) + @('-NoProfile', '-NonInteractive', '-File', $file)
        if ($EtcOverlay) { $command = @('bash', (Join-Path $PSScriptRoot 'harness/private-etc.sh'), '--upper', $EtcOverlay, '--') + $command }
        $run = if ($NetworkManager) { Invoke-InNetLab -Name $Lab -NetworkManager -Command $command -TimeoutSec $TimeoutSec }
               else { Invoke-InNetLab -Name $Lab -Command $command -TimeoutSec $TimeoutSec }
        $line = $run.Output | Where-Object { $_.StartsWith('@@JSON@@') } | Select-Object -Last 1
        if (-not $line) { throw "no result from the child pwsh (exit $($run.ExitCode)): $($run.StdOut) $($run.StdErr)" }
        $line.Substring(8) | ConvertFrom-Json
    } finally { Remove-Item -LiteralPath $file -ErrorAction Ignore }
}

function New-UnprivilegedPwsh {
    <#
    .SYNOPSIS
        Copies pwsh and the built module to a world-readable scratch folder (pwsh runs from root's NuGet folder,
        which another user cannot enter) and returns how to start it as uid 65534: Command (program and
        arguments up to -Command), Module (the copied manifest) and Path (remove it with Remove-ScratchRoot).
    #>
    $copy = New-ScratchRoot -Directories 'home'
    Copy-Item -Recurse $PSHOME "$copy/pwsh"
    Copy-Item -Recurse (Split-Path (Get-KvmHostModulePath)) "$copy/KvmHost"
    & chmod -R a+rX $copy
    & chmod 1777 "$copy/home"
    [pscustomobject]@{
        Path    = $copy
        Module  = "$copy/KvmHost/KvmHost.psd1"
        Command = @('setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', 'env', "HOME=$copy/home", "DOTNET_CLI_HOME=$copy/home",
            'POWERSHELL_TELEMETRY_OPTOUT=1', [Environment]::ProcessPath, "$copy/pwsh/pwsh.dll", '-NoProfile', '-NonInteractive', '-Command')
    }
}

function Get-KvmHostWhatIfText {
    <#
    .SYNOPSIS
        What a command prints with -WhatIf, as one line of text: "What if:" goes to the host, not to a stream, so
        the command runs in a child pwsh and its standard output is read (plain text, white space collapsed).
    #>
    param([Parameter(Mandatory)] [string] $Command)
    $pwsh = @(Get-PwshInvocation)
    $script = "`$PSStyle.OutputRendering = 'PlainText'; Import-Module '$(Get-KvmHostModulePath)'; $Command"
    (& $pwsh[0] @($pwsh | Select-Object -Skip 1) -NoProfile -NonInteractive -Command $script 2>&1 | Out-String) -replace '\s+', ' '
}

Export-ModuleMember -Function *
