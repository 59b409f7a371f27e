<#
    Shared helpers for the Pester suite: where the built module is, scratch roots built from the
    fixtures, and how to start a child pwsh (pwsh runs as a .NET tool, so the process is dotnet).
#>
$script:repo = Split-Path $PSScriptRoot -Parent

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
    $process = [Environment]::ProcessPath
    if ([IO.Path]::GetFileNameWithoutExtension($process) -eq 'dotnet') { return @($process, (Join-Path $PSHOME 'pwsh.dll')) }
    @($process)
}

function Test-IsRoot { (& id -u) -eq '0' }

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

Export-ModuleMember -Function *
