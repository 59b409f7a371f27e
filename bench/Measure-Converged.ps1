<#
.SYNOPSIS
    The converged host: KvmHost's setup pipeline run again on a box it already set up, against the
    same steps as an Ansible playbook on the same box. Returns benchmark rows.
.DESCRIPTION
    One RHEL-9-dressed systemd box with the stub repository. KvmHost converges it first, then Ansible
    (so the playbook's first run does whatever small differences it wants); after that each round times
    a converged KvmHost run from a new pwsh and a converged ansible-playbook run, back to back, both
    started the same way (box.sh exec). Inside one long-lived pwsh the pipeline is also timed warm.
    Child processes are counted twice: CommandRunner's "Running:" lines, and execve calls under strace.
    Files written are those under / (one filesystem) newer than a marker touched just before the run.
#>
param(
    [Parameter(Mandatory)] [string] $Module,
    [Parameter(Mandatory)] [string[]] $Pwsh,
    [Parameter(Mandatory)] [string] $StubRepo,
    [int] $Rounds = 3
)
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest
$repo = Split-Path $PSScriptRoot -Parent
Import-Module (Join-Path $repo 'tests/harness/SystemdBox.psm1') -Force
Import-Module (Join-Path $repo 'tests/harness/StubRepo.psm1') -Force
. (Join-Path $PSScriptRoot 'BenchCommon.ps1')

$reason = Test-TestBoxSupported
if ($reason) { Write-Warning "Converged suite skipped: $reason"; return }

# Four steps; New-HostBridge joins as the fifth once it is on main (the nmcli task likewise).
$setup = 'Test-KvmCpuSupport | Install-KvmPackages -Force | Enable-Libvirtd; Set-IpForwarding'
$prelude = "`$ErrorActionPreference = 'Stop'; `$ProgressPreference = 'SilentlyContinue'; Import-Module '$Module'; "
$name = "kvmh-bench-$([guid]::NewGuid().ToString('N').Substring(0, 6))"
$work = Join-Path ([IO.Path]::GetTempPath()) $name
$null = New-Item -ItemType Directory -Path $work
$pwshInBox = @('env', 'NO_COLOR=1', 'TERM=dumb') + $Pwsh + @('-NoProfile', '-NonInteractive', '-Command')

function Invoke-Box([string[]] $Command, [int] $Timeout = 600) {
    $result = Invoke-TestBox -Name $name -Command $Command -AllowFailure -TimeoutSec $Timeout
    if ($result.ExitCode -ne 0) { throw "in box: $($Command[-1]) exited $($result.ExitCode): $($result.StdErr)$($result.StdOut)" }
    $result.StdOut
}

function Get-WrittenFile([double] $Since) {
    # Regular files under the box's / (one filesystem: its overlay) modified since the given time. The
    # overlay's lower layer is this machine's live /, where others keep writing: a path that is new on
    # the machine too is theirs, not the box's. The journal is systemd's while the box runs, and
    # StartupProfileData is what every pwsh start writes, KvmHost or not.
    $stamp = '@' + $Since.ToString('F3', [Globalization.CultureInfo]::InvariantCulture)
    @((Invoke-Box @('find', '/', '-xdev', '-newermt', $stamp, '-type', 'f', '-not', '-path', '/var/log/journal/*',
        '-not', '-path', '/root/.cache/powershell/*')) -split "`n" | Where-Object {
        $_ -and -not ((Test-Path -LiteralPath $_) -and ([DateTimeOffset] (Get-Item -LiteralPath $_).LastWriteTimeUtc).ToUnixTimeMilliseconds() / 1000 -ge $Since)
    })
}

function Get-Now { (Invoke-Box @('date', '+%s.%N')).Trim() -as [double] }

function Get-ChildProcess([string] $Script) {
    # The processes a pwsh running Script starts, from strace: every successful execve after pwsh's own.
    $null = Invoke-Box (@('strace', '-f', '-qq', '-s', '80', '-e', 'trace=execve', '-e', 'signal=none', '-o', '/run/kvmhost-bench-strace') +
        $pwshInBox + $Script)
    $execs = @((Invoke-Box @('cat', '/run/kvmhost-bench-strace')) -split "`n" | Where-Object { $_ -match 'execve\(' -and $_ -notmatch '= -1 ' } |
        ForEach-Object { if ($_ -match 'execve\("([^"]+)", \[([^\]]*)\]') { ($Matches[2] -replace '", "', ' ').Trim('"') } })
    $self = [array]::FindIndex([string[]] $execs, [Predicate[string]] { param($line) $line.StartsWith($Pwsh[0]) -or $line.StartsWith((Split-Path $Pwsh[0] -Leaf)) })
    @($execs | Select-Object -Skip ($self + 1))
}

try {
    $box = Start-TestBox -Name $name -OsRelease (Join-Path $repo 'tests/fixtures/os-release/rhel-9.6.os-release') `
        -Bind @{ '/srv/kvmhost-stub' = $StubRepo; '/srv/kvmhost-bench' = $work } `
        -Content @{ '/etc/yum.repos.d/kvmhost-stub.repo' = (Get-StubRepoDefinition '/srv/kvmhost-stub') }
    Write-Host "Converged: box $name up in $([int]$box.BootTime.TotalSeconds) s; first (converging) KvmHost run"

    # First run converges the box and says which packages and units the playbook must hold as well.
    $first = Invoke-Box ($pwshInBox + ($prelude + @"
`$packages = @(Test-KvmCpuSupport | Install-KvmPackages -Force)
`$state = `$packages | Enable-Libvirtd
`$null = Set-IpForwarding
[pscustomobject]@{
    Packages = @(`$packages | ForEach-Object Name)
    Units = @(`$state.Units | Where-Object { `$_.UnitFileState -eq 'enabled' } | ForEach-Object Name)
} | ConvertTo-Json -Compress
"@)) | ConvertFrom-Json
    @{ kvm_packages = @($first.Packages); libvirt_units = @($first.Units) } | ConvertTo-Json |
        Set-Content (Join-Path $work 'vars.json')
    $playbook = @('env', 'ANSIBLE_NOCOLOR=1', 'ansible-playbook', '-i', 'localhost,', '-c', 'local',
        '-e', '@/srv/kvmhost-bench/vars.json', (Join-Path $PSScriptRoot 'ansible/converge.yml'))
    Write-Host "Converged: first (converging) Ansible run: $($first.Packages.Count) packages, units $($first.Units -join ' ')"
    $null = Invoke-Box $playbook

    # Counting on a converged box: CommandRunner's lines and the files, in a pwsh already started.
    $countScript = $prelude + @"
`$null = & { $setup }   # warm: the first call pays for JIT, not for the host
Start-Sleep -Seconds 1   # a second apart from anything the warm-up or pwsh's start wrote
`$since = [DateTimeOffset]::UtcNow.ToUnixTimeMilliseconds() / 1000
`$VerbosePreference = 'Continue'
`$running = @(& { $setup } 4>&1 | Where-Object { `$_ -is [System.Management.Automation.VerboseRecord] -and `$_.Message -like 'Running: *' } | ForEach-Object Message)
`$VerbosePreference = 'SilentlyContinue'
`$times = foreach (`$i in 1..$([math]::Max(5, $Rounds * 3))) { `$clock = [Diagnostics.Stopwatch]::StartNew(); `$null = & { $setup }; `$clock.Elapsed.TotalMilliseconds }
[pscustomobject]@{ Running = `$running; Times = @(`$times); Since = `$since } | ConvertTo-Json -Compress
"@
    $inSession = Invoke-Box ($pwshInBox + $countScript) | ConvertFrom-Json
    $kvmFiles = @(Get-WrittenFile ([double] $inSession.Since))

    # The same in a new pwsh under strace, against the same pwsh importing the module and doing nothing:
    # what pwsh starts by itself is not the pipeline's.
    $children = @(Get-ChildProcess ($prelude + "`$null = & { $setup }"))
    $pwshOwn = @(Get-ChildProcess $prelude)

    $since = Get-Now
    $ansibleRecap = Invoke-Box $playbook
    $ansibleFiles = @(Get-WrittenFile $since)

    # Interleaved rounds: new pwsh + module + pipeline, then ansible-playbook, on the same box.
    $kvmCold = [Collections.Generic.List[double]]::new()
    $ansible = [Collections.Generic.List[double]]::new()
    for ($i = 0; $i -lt $Rounds; $i++) {
        $clock = [Diagnostics.Stopwatch]::StartNew()
        $null = Invoke-Box ($pwshInBox + ($prelude + "`$null = & { $setup }"))
        $kvmCold.Add($clock.Elapsed.TotalMilliseconds)
        $clock.Restart()
        $null = Invoke-Box $playbook
        $ansible.Add($clock.Elapsed.TotalMilliseconds)
        Write-Host ("Converged round {0}: KvmHost new pwsh {1:N0} ms, ansible-playbook {2:N0} ms" -f ($i + 1), $kvmCold[$i], $ansible[$i])
    }
    $a = Get-Median $ansible; $c = Get-Median $kvmCold; $w = Get-Median ([double[]] $inSession.Times)
    $recapLine = (($ansibleRecap -split "`n") | Where-Object { $_ -match 'ok=\d+' } | Select-Object -First 1) -replace '\s+', ' '
    $steps = 'four steps (CPU check, packages, libvirt units, IPv4 forwarding; the bridge step is not measured yet)'

    [pscustomobject]@{
        Benchmark = "Converged host, $steps`: child processes started by a second run"
        Baseline = "pwsh + Import-Module alone: $($pwshOwn.Count)"; KvmHost = "$(@($inSession.Running).Count) (CommandRunner) / $($children.Count - $pwshOwn.Count) (strace execve beyond pwsh's own)"
        Ratio = ''; Target = '<= 3'; Met = ($children.Count - $pwshOwn.Count) -le 3 -and @($inSession.Running).Count -le 3
        Note = 'CommandRunner: ' + (($inSession.Running | ForEach-Object { $_ -replace '^Running: ' }) -join '; ') + '. strace, pipeline: ' + ($children -join '; ') + '. strace, pwsh alone: ' + ($(if ($pwshOwn) { $pwshOwn -join '; ' } else { 'none' }))
    }
    [pscustomobject]@{
        Benchmark = "Converged host: files written by a second run (find / -xdev -newermt, the machine's own changes taken out)"
        Baseline = "Ansible: $($ansibleFiles.Count)"; KvmHost = "$($kvmFiles.Count)"
        Ratio = ''; Target = '0'; Met = $kvmFiles.Count -eq 0
        Note = 'KvmHost: ' + $(if ($kvmFiles.Count) { $kvmFiles -join ' ' } else { 'none' }) + '; Ansible: ' + $(if ($ansibleFiles.Count) { ($ansibleFiles | Select-Object -First 6) -join ' ' } else { 'none' })
    }
    [pscustomobject]@{
        Benchmark = 'Converged host: KvmHost from a new pwsh (start, import, pipeline) vs ansible-playbook'
        Baseline = '{0:N0} ms' -f $a; KvmHost = '{0:N0} ms' -f $c
        Ratio = '{0:N3}' -f ($c / $a); Target = '<= 0.25 of Ansible'; TargetRatio = 0.25; Label = 'Converged: new pwsh + pipeline vs ansible-playbook'; Met = ($c / $a) -le 0.25
        Note = "median of $Rounds interleaved rounds, both started through box.sh exec; Ansible recap: $recapLine"
    }
    [pscustomobject]@{
        Benchmark = 'Converged host: KvmHost pipeline inside a running pwsh vs ansible-playbook'
        Baseline = '{0:N0} ms' -f $a; KvmHost = '{0:N1} ms' -f $w
        Ratio = '{0:N4}' -f ($w / $a); Target = '<= 0.05 of Ansible'; TargetRatio = 0.05; Label = 'Converged: pipeline in running pwsh vs ansible-playbook'; Met = ($w / $a) -le 0.05
        Note = "median of $(@($inSession.Times).Count) runs in one pwsh after a warm-up run"
    }
}
finally {
    Stop-TestBox -Name $name
    Remove-Item $work -Recurse -Force -ErrorAction SilentlyContinue
}
