# The benchmark's own inputs and outputs (bench/), not its timings: no test here asserts on time.
BeforeDiscovery {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    Import-Module (Get-KvmHostModulePath) -Force
    $script:bench = Join-Path (Split-Path $PSScriptRoot -Parent) 'bench'
}

Describe 'bench inputs and outputs' {
    It 'New-LargeCpuInfo writes a RHEL 9 style cpuinfo that Test-KvmCpuSupport reads as 384 VMX CPUs on two sockets' {
        $root = New-ScratchRoot
        try {
            $file = & (Join-Path $bench 'New-LargeCpuInfo.ps1') -Root $root -Count 384
            $file.Length | Should -BeGreaterThan 500KB
            @(Select-String -Path $file.FullName -Pattern '^vmx flags\t: ').Count | Should -Be 384
            $result = Test-KvmCpuSupport -Root $root
            $result.LogicalProcessorCount | Should -Be 384
            $result.VirtualizationFeature | Should -Be 'vmx'
            @(Select-String -Path $file.FullName -Pattern '^physical id\t: (\d+)' | ForEach-Object { $_.Matches[0].Groups[1].Value } | Sort-Object -Unique) |
                Should -Be @('0', '1', '2', '3')
        } finally { Remove-ScratchRoot $root }
    }

    It 'New-LargeCpuInfo scales to 4096 CPUs, and Test-KvmCpuSupport counts every one of them' {
        $root = New-ScratchRoot
        try {
            $file = & (Join-Path $bench 'New-LargeCpuInfo.ps1') -Root $root -Count 4096
            $file.Length | Should -BeGreaterThan 5MB
            @(Select-String -Path $file.FullName -Pattern '^processor\t: ').Count | Should -Be 4096
            (Test-KvmCpuSupport -Root $root).LogicalProcessorCount | Should -Be 4096
        } finally { Remove-ScratchRoot $root }
    }

    It 'Invoke-Benchmark finds every Measure-*.ps1 suite and can give each the values it requires' {
        # The runner hands a suite only these values; a suite that requires anything else would never run.
        $supplied = 'Module', 'Pwsh', 'WorkDirectory', 'StubRepo', 'ReadyToRunPwsh'
        $suites = @(Get-ChildItem (Join-Path $bench 'Measure-*.ps1'))
        $suites.BaseName | Should -Contain 'Measure-ColdStart'
        $suites.BaseName | Should -Contain 'Measure-Scale'
        foreach ($suite in $suites) {
            $required = @((Get-Command $suite.FullName).Parameters.Values | Where-Object {
                    $_.Attributes | Where-Object { $_ -is [System.Management.Automation.ParameterAttribute] -and $_.Mandatory } } | ForEach-Object Name)
            @($required | Where-Object { $_ -notin $supplied }) | Should -BeNullOrEmpty -Because "$($suite.Name) must run from Invoke-Benchmark"
        }
    }

    It 'Invoke-Benchmark takes the README''s -Suite A,B from pwsh -File, where it arrives as one string' {
        # An unknown name stops the run before any suite starts, so this runs nothing and measures nothing.
        $pwsh = @(Get-PwshInvocation)
        $output = & $pwsh[0] @($pwsh | Select-Object -Skip 1) -NoProfile -NonInteractive -File (Join-Path $bench 'Invoke-Benchmark.ps1') `
            -Suite 'NoSuchSuite,CpuParse' *>&1 | Out-String
        $LASTEXITCODE | Should -Not -Be 0
        $output | Should -Match 'Unknown suite\(s\) NoSuchSuite;' -Because 'the names are split at the comma, and CpuParse is known'
    }

    It 'New-RatioChart draws one bar per row, red for a missed target, as well-formed SVG' {
        $rows = @(
            [pscustomobject]@{ Benchmark = 'met'; Label = 'met'; Ratio = '0.500'; TargetRatio = 1.08; Met = $true }
            [pscustomobject]@{ Benchmark = 'missed'; Label = 'missed'; Ratio = '0.0974'; TargetRatio = 0.05; Met = $false }
        )
        [xml] $svg = & (Join-Path $bench 'New-RatioChart.ps1') -Row $rows
        $bars = @($svg.svg.rect | Where-Object { $_.height -eq '22' })
        $bars.Count | Should -Be 2
        $bars[0].fill | Should -Be '#4a4'
        $bars[1].fill | Should -Be '#c44'
        [double] $bars[1].width | Should -BeLessThan ([double] $bars[0].width) -Because 'bars are the ratio on a log scale'
    }
}
