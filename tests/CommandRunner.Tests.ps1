BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force

    function Invoke-WithSigintIgnored([string] $Script) {
        # How CI may start the suite: a background job, whose shell hands SIGINT down as ignored. bash's
        # trap "" does the same on purpose, and exec keeps it for pwsh, which .NET leaves ignored.
        $file = Join-Path ([IO.Path]::GetTempPath()) "kvmhost-pester-runner-$([guid]::NewGuid().ToString('N').Substring(0, 8)).ps1"
        Set-Content -Path $file -Value $Script
        $pwsh = @(Get-PwshInvocation) + @('-NoProfile', '-NonInteractive', '-File', $file) | ForEach-Object { "'$_'" }
        try {
            $output = & bash -c "trap '' INT; exec $($pwsh -join ' ')" 2>&1
            $LASTEXITCODE | Should -Be 0 -Because ($output -join "`n")
            ($output -join "`n") | ConvertFrom-Json
        } finally { Remove-Item $file }
    }
}

Describe 'The process runner started from a pwsh that ignores SIGINT (a background job)' {
    BeforeAll {
        $scratch = New-ScratchRoot
        $marker = Join-Path $scratch 'cleaned'
        $run = Invoke-WithSigintIgnored @"
Import-Module '$(Get-KvmHostModulePath)'
`$runner = [KvmHost.Core.Platform.CommandRunner]::new()
`$none = [Threading.CancellationToken]::None
`$child = `$runner.Run([KvmHost.Core.Platform.CommandRequest]::new('grep', [string[]] @('^SigIgn', '/proc/self/status')), `$none)
# Like rpm under dnf: on SIGINT it finishes what it does, then exits by itself.
`$script = "trap 'echo cleaned > $marker; exit 130' INT; while :; do sleep 0.05; done"
`$request = [KvmHost.Core.Platform.CommandRequest]::new('sh', [string[]] @('-c', `$script))
`$request.InterruptGracePeriod = [TimeSpan]::FromSeconds(20)
`$cancel = [Threading.CancellationTokenSource]::new([TimeSpan]::FromMilliseconds(500))
`$outcome = try { `$null = `$runner.Run(`$request, `$cancel.Token); 'finished' } catch [OperationCanceledException] { 'cancelled' }
[pscustomobject]@{
    Parent  = (Select-String -Path /proc/`$PID/status -Pattern '^SigIgn').Line
    Child   = `$child.StandardOutput.Trim()
    Outcome = `$outcome
} | ConvertTo-Json
"@
    }
    AfterAll { Remove-ScratchRoot $scratch }

    It 'really runs with SIGINT ignored (else this test proves nothing)' {
        $ignored = [Convert]::ToUInt64(($run.Parent -split '\s+')[1], 16)
        $ignored -band 0x2 | Should -Be 0x2 -Because "SIGINT is signal 2, bit 1 of SigIgn ($($run.Parent))"
    }

    It 'starts programs with no signal ignored' {
        $run.Child | Should -Be "SigIgn:`t0000000000000000"
    }

    It 'interrupts a cancelled program that traps SIGINT, so it cleans up before it is killed' {
        $run.Outcome | Should -Be 'cancelled'
        Get-Content $marker | Should -Be 'cleaned'
    }
}
