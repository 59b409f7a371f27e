<#
    A real terminal for tests of interactive commands (Connect-KvmGuest): a tmux server of the test's own (its
    socket in the session's own folder, so no other tmux on the machine is seen or touched, and nothing is left in
    tmux's /tmp/tmux-UID once the folder is removed), one session running a bash script,
    keys typed with send-keys, the screen read with capture-pane. See Harness.md.

        $term = Start-TerminalSession -Script 'stty -a > before.txt; pwsh -c "..."; stty -a > after.txt; sleep 600'
        Wait-TerminalScreen $term -Pattern 'Escape character is'
        Send-TerminalKeys $term -Text 'echo hi' -Key Enter
        Send-TerminalKeys $term -Key 'C-]'
        Stop-TerminalSession $term                      # kills its tmux server, removes its folder
#>
Set-StrictMode -Version Latest

Import-Module (Join-Path $PSScriptRoot 'Harness.psm1')

# Sessions this module started, stopped if the module is removed before the tests stop them.
$script:Started = [System.Collections.Generic.Dictionary[string, string]]::new()

function Test-TerminalLabSupported {
    <#
    .SYNOPSIS
        $null when terminal sessions can run here; otherwise why not, for Set-ItResult -Skipped -Because.
    #>
    [OutputType([string])]
    param()
    if (-not $IsLinux) { return 'terminal sessions need Linux' }
    $missing = Get-HarnessMissingCommand tmux, bash, stty
    if ($missing) { return "terminal sessions need '$missing' (Debian packages tmux, bash, coreutils), which is not on PATH" }
    $null
}

function Start-TerminalSession {
    <#
    .SYNOPSIS
        Starts a tmux server with one session (Width x Height) whose only window runs Script with bash in
        Directory, and returns Socket, Directory (a new folder for the script's files), Script and PanePid.
    .PARAMETER Script
        Bash source; it runs in the session's terminal with the caller's environment plus -Environment. End it
        with a long sleep if the screen must still be read after the interesting part.
    .PARAMETER Files
        File name -> text, written into the session's folder first (a script for the program the bash runs).
    #>
    [OutputType([pscustomobject])]
    param(
        [Parameter(Mandatory)] [string] $Script,
        [hashtable] $Files = @{},
        [hashtable] $Environment = @{},
        [ValidateRange(40, 400)] [int] $Width = 160,
        [ValidateRange(10, 200)] [int] $Height = 50
    )
    $directory = Join-Path ([IO.Path]::GetTempPath()) "kvmhost-term-$([guid]::NewGuid().ToString('N').Substring(0, 10))"
    $null = New-Item -ItemType Directory -Path $directory
    $socket = Join-Path $directory 'tmux.sock'
    $scriptPath = Join-Path $directory 'session.sh'
    foreach ($file in $Files.GetEnumerator()) { [IO.File]::WriteAllText((Join-Path $directory $file.Key), $file.Value) }
    [IO.File]::WriteAllText($scriptPath, "cd '$directory'`n$Script`n")
    $script:Started[$socket] = $directory
    # -f /dev/null: none of the machine's tmux configuration; TERM inside is tmux's own (screen or tmux-256color).
    $null = Invoke-HarnessProcess tmux '-S', $socket, '-f', '/dev/null', 'new-session', '-d', '-s', 'main', '-x', "$Width", '-y', "$Height",
        'bash', $scriptPath -Environment $Environment -TimeoutSec 30
    $panePid = (Invoke-HarnessProcess tmux '-S', $socket, 'display-message', '-p', '-t', 'main', '#{pane_pid}').StdOut.Trim()
    [pscustomobject]@{
        PSTypeName = 'KvmHost.Harness.TerminalSession'
        Socket     = $socket
        Directory  = $directory
        Script     = $scriptPath
        PanePid    = [int] $panePid
    }
}

function Send-TerminalKeys {
    <#
    .SYNOPSIS
        Types Text literally (no key names are interpreted in it), then each Key by tmux's key name (Enter, C-c, C-]).
    #>
    param(
        [Parameter(Mandatory, Position = 0)] [pscustomobject] $Session,
        [string] $Text,
        [string[]] $Key = @()
    )
    if ($Text) { $null = Invoke-HarnessProcess tmux '-S', $Session.Socket, 'send-keys', '-t', 'main', '-l', $Text }
    foreach ($name in $Key) { $null = Invoke-HarnessProcess tmux '-S', $Session.Socket, 'send-keys', '-t', 'main', $name }
}

function Get-TerminalScreen {
    <#
    .SYNOPSIS
        The session's screen and scrollback as lines (wrapped lines joined), trailing blanks removed.
    #>
    [OutputType([string[]])]
    param([Parameter(Mandatory, Position = 0)] [pscustomobject] $Session)
    $screen = Invoke-HarnessProcess tmux '-S', $Session.Socket, 'capture-pane', '-p', '-J', '-t', 'main', '-S', '-' -AllowFailure
    if ($screen.ExitCode -ne 0) { return }
    @($screen.StdOut -split "`n" | ForEach-Object TrimEnd)
}

function Wait-TerminalScreen {
    <#
    .SYNOPSIS
        Waits until a line of the screen matches Pattern (a regex) for the Occurrence-th time and returns
        that line; throws at the timeout with the screen's last lines.
    #>
    [OutputType([string])]
    param(
        [Parameter(Mandatory, Position = 0)] [pscustomobject] $Session,
        [Parameter(Mandatory)] [string] $Pattern,
        [ValidateRange(1, 1000)] [int] $Occurrence = 1,
        [ValidateRange(1, 3600)] [int] $TimeoutSec = 60
    )
    $deadline = [DateTime]::UtcNow.AddSeconds($TimeoutSec)
    while ($true) {
        $lines = @(Get-TerminalScreen $Session)
        $found = @($lines | Where-Object { $_ -match $Pattern })
        if ($found.Count -ge $Occurrence) { return $found[$Occurrence - 1] }
        if ([DateTime]::UtcNow -ge $deadline) { break }
        Start-Sleep -Milliseconds 100
    }
    throw "the terminal showed /$Pattern/ $($found.Count) time(s), not $Occurrence, within $TimeoutSec s; it ends with:`n$(($lines | Where-Object { $_ } | Select-Object -Last 25) -join "`n")"
}

function Wait-TerminalFile {
    <#
    .SYNOPSIS
        Waits until the session's script has written a file (relative to its Directory) and returns its text.
    #>
    [OutputType([string])]
    param(
        [Parameter(Mandatory, Position = 0)] [pscustomobject] $Session,
        [Parameter(Mandatory)] [string] $Name,
        [ValidateRange(1, 3600)] [int] $TimeoutSec = 60
    )
    $path = Join-Path $Session.Directory $Name
    $deadline = [DateTime]::UtcNow.AddSeconds($TimeoutSec)
    while (-not (Test-Path -LiteralPath $path)) {
        if ([DateTime]::UtcNow -ge $deadline) {
            throw "the terminal's script did not write $Name within $TimeoutSec s; it shows:`n$((Get-TerminalScreen $Session | Where-Object { $_ } | Select-Object -Last 25) -join "`n")"
        }
        Start-Sleep -Milliseconds 100
    }
    Start-Sleep -Milliseconds 200 # written by a redirection: give the writer time to finish
    [IO.File]::ReadAllText($path)
}

function Stop-TerminalSession {
    <#
    .SYNOPSIS
        Kills the session's tmux server (and so what runs in it) and removes its folder. Not there: no error.
    #>
    param([Parameter(Mandatory, Position = 0, ValueFromPipeline)] [pscustomobject] $Session)
    process {
        $null = Invoke-HarnessProcess tmux '-S', $Session.Socket, 'kill-server' -AllowFailure
        if (Test-Path -LiteralPath $Session.Directory) { Remove-Item -LiteralPath $Session.Directory -Recurse -Force }
        $null = $script:Started.Remove($Session.Socket)
    }
}

$ExecutionContext.SessionState.Module.OnRemove = {
    foreach ($entry in @($script:Started.GetEnumerator())) {
        try { Stop-TerminalSession ([pscustomobject]@{ Socket = $entry.Key; Directory = $entry.Value }) } catch { Write-Warning "$_" }
    }
}

Export-ModuleMember -Function Test-TerminalLabSupported, Start-TerminalSession, Send-TerminalKeys, Get-TerminalScreen, Wait-TerminalScreen,
    Wait-TerminalFile, Stop-TerminalSession
