BeforeDiscovery {
    # -Skip conditions are evaluated during discovery, before BeforeAll runs.
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    Import-Module (Get-KvmHostModulePath) -Force
}

Describe 'Test-KvmCpuSupport' {
    Context 'on captured files through -Root' {
        It 'reports a bare-metal Intel host with kvm_intel and /dev/kvm as Ready' {
            $root = New-ScratchRoot -Fixtures @{ 'proc/cpuinfo' = 'cpuinfo/intel-xeon-e5-2650v3-2s-vmx.txt' } `
                -Files @{ 'dev/kvm' = ''; 'sys/module/kvm_intel/parameters/nested' = "Y`n" }
            try {
                $result = Test-KvmCpuSupport -Root $root
                $result.Supported | Should -BeTrue
                $result.Status | Should -Be 'Ready'
                $result.VirtualizationFeature | Should -Be 'vmx'
                $result.LogicalProcessorCount | Should -Be 40
                $result.NestedVirtualization | Should -BeTrue
                $result.PSObject.TypeNames[0] | Should -Be 'KvmHost.Core.Cpu.KvmCpuSupport'
            } finally { Remove-ScratchRoot $root }
        }

        It 'says a guest without vmx needs nested virtualization, with a hint' {
            $root = New-ScratchRoot -Fixtures @{ 'proc/cpuinfo' = 'cpuinfo/x86-kvm-guest-sandybridge-hypervisor-novmx.txt' }
            try {
                $result = Test-KvmCpuSupport -Root $root
                $result.Supported | Should -BeFalse
                $result.Status | Should -Be 'NestedVirtualizationUnavailable'
                $result.HypervisorPresent | Should -BeTrue
                $result.Hint | Should -Match 'nested'
                ($result.Checks | Where-Object Name -eq 'Hardware virtualization').Result | Should -Be 'Fail'
            } finally { Remove-ScratchRoot $root }
        }

        It 'finds sie on s390x and counts its processors from the header' {
            $root = New-ScratchRoot -Fixtures @{ 'proc/cpuinfo' = 'cpuinfo/s390x-z13-lpar-sie.txt' } -Directories 'sys/module/kvm' -Files @{ 'dev/kvm' = '' }
            try {
                $result = Test-KvmCpuSupport -Root $root
                $result.Architecture | Should -Be 's390x'
                $result.VirtualizationFeature | Should -Be 'sie'
                $result.LogicalProcessorCount | Should -Be 8
                $result.Supported | Should -BeTrue
            } finally { Remove-ScratchRoot $root }
        }

        It '-Quiet returns only a Boolean' {
            $root = New-ScratchRoot -Fixtures @{ 'proc/cpuinfo' = 'cpuinfo/amd-epyc-7451-2s-svm.txt' }
            try {
                $answer = Test-KvmCpuSupport -Root $root -Quiet
                $answer | Should -BeOfType [bool]
                $answer | Should -BeFalse
            } finally { Remove-ScratchRoot $root }
        }

        It 'resolves a relative -Root against the current PowerShell location' {
            $root = New-ScratchRoot -Fixtures @{ 'proc/cpuinfo' = 'cpuinfo/amd-epyc-7451-2s-svm.txt' }
            try {
                Push-Location (Split-Path $root)
                (Test-KvmCpuSupport -Root (Split-Path $root -Leaf)).Vendor | Should -Be 'AMD'
            } finally { Pop-Location; Remove-ScratchRoot $root }
        }
    }

    Context 'the two kinds of build machine, simulated through -Root' {
        It 'on a PVM host (kvm and kvm_pvm, /dev/kvm, no vmx/svm) names the modules and says only PVM guests get KVM' {
            $root = New-ScratchRoot -Fixtures @{ 'proc/cpuinfo' = 'cpuinfo/x86-kvm-guest-sandybridge-hypervisor-novmx.txt' } `
                -Files @{ 'dev/kvm' = '' } -Directories 'sys/module/kvm/parameters', 'sys/module/kvm_pvm/parameters'
            try {
                $result = Test-KvmCpuSupport -Root $root
                $result.Supported | Should -BeFalse
                $result.Status | Should -Be 'PvmGuestsOnly'
                $result.Acceleration | Should -Be 'PvmGuestsOnly'
                @($result.KvmModules) | Should -Be 'kvm', 'kvm_pvm'
                $text = $result | Out-String -Width 120
                $text | Should -Match 'KvmModules\s+: kvm, kvm_pvm'
                $text | Should -Not -Match 'no KVM module is loaded'
                @($result.Checks.Hint) + $result.Hint | Should -Not -Match 'modprobe'
                $result.Hint | Should -Match 'TCG'
            } finally { Remove-ScratchRoot $root }
        }

        It 'on a host with neither /dev/kvm nor a KVM module says guests need nested virtualization and run with TCG' {
            $root = New-ScratchRoot -Fixtures @{ 'proc/cpuinfo' = 'cpuinfo/x86-kvm-guest-sandybridge-hypervisor-novmx.txt' } -Directories 'sys/module/tun'
            try {
                $result = Test-KvmCpuSupport -Root $root
                $result.Status | Should -Be 'NestedVirtualizationUnavailable'
                $result.Acceleration | Should -Be 'Tcg'
                @($result.KvmModules) | Should -BeNullOrEmpty
                ($result.Checks | Where-Object Name -eq 'KVM kernel module').Detail | Should -Be 'no KVM module is loaded'
                ($result.Checks | Where-Object Name -eq '/dev/kvm exists').Result | Should -Be 'Fail'
            } finally { Remove-ScratchRoot $root }
        }
    }

    Context 'bad input' {
        It 'fails with RootNotFound for a root that does not exist' {
            { Test-KvmCpuSupport -Root '/nonexistent/kvmhost' } |
                Should -Throw -ErrorId 'RootNotFound,KvmHost.Commands.TestKvmCpuSupportCommand'
        }

        It 'fails with RootNotDirectory for a root that is a file' {
            $root = New-ScratchRoot -Files @{ 'file' = 'x' }
            try {
                { Test-KvmCpuSupport -Root (Join-Path $root 'file') } |
                    Should -Throw -ErrorId 'RootNotDirectory,KvmHost.Commands.TestKvmCpuSupportCommand'
            } finally { Remove-ScratchRoot $root }
        }

        It 'fails with CpuInfoNotFound when the root has no /proc/cpuinfo' {
            $root = New-ScratchRoot
            try {
                $thrown = $null
                try { Test-KvmCpuSupport -Root $root } catch { $thrown = $_ }
                $thrown.FullyQualifiedErrorId | Should -Be 'CpuInfoNotFound,KvmHost.Commands.TestKvmCpuSupportCommand'
                $thrown.CategoryInfo.Category | Should -Be 'ObjectNotFound'
                $thrown.ErrorDetails.RecommendedAction | Should -Not -BeNullOrEmpty
            } finally { Remove-ScratchRoot $root }
        }

        It 'fails with CpuInfoUnreadable when cpuinfo cannot be read as text' {
            $root = New-ScratchRoot -Directories 'proc/cpuinfo'
            try {
                { Test-KvmCpuSupport -Root $root } | Should -Throw -ErrorId 'CpuInfoUnreadable,KvmHost.Commands.TestKvmCpuSupportCommand'
            } finally { Remove-ScratchRoot $root }
        }
    }

    Context 'on this machine (with or without /dev/kvm and KVM modules)' {
        BeforeAll {
            $result = Test-KvmCpuSupport
            $loaded = @('kvm', 'kvm_intel', 'kvm_amd', 'kvm_pvm', 'kvm_hv', 'kvm_pr' | Where-Object { Test-Path "/sys/module/$_" })
        }

        It 'answers for the live host with a reason whenever it is not supported' {
            $result.Root | Should -Be '/'
            $result.LogicalProcessorCount | Should -BeGreaterThan 0
            if (-not $result.Supported) {
                $result.Reason | Should -Not -BeNullOrEmpty
                $result.Hint | Should -Not -BeNullOrEmpty
            }
            $result.Supported | Should -Be ((Test-Path /dev/kvm) -and $result.Status -eq 'Ready')
            $result.Supported | Should -Be ($result.Acceleration -eq 'Kvm')
        }

        It 'reports the KVM modules the kernel has, and never calls them missing' {
            @($result.KvmModules) | Should -Be $loaded
            if ($loaded) {
                $result.Checks.Detail | Should -Not -Contain 'no KVM module is loaded'
                $result.Reason | Should -Not -Match 'No KVM kernel module is loaded'
            }
        }

        It 'knows PVM when kvm_pvm stands in for kvm_intel/kvm_amd' {
            $pvm = 'kvm_pvm' -in $loaded -and -not ($loaded -match '^kvm_(intel|amd)$')
            ($result.Status -eq 'PvmGuestsOnly') | Should -Be $pvm
        }
    }

    Context 'help' {
        It 'has a synopsis and examples in Get-Help' {
            $help = Get-Help Test-KvmCpuSupport -Full
            $help.Synopsis | Should -Match 'hardware-accelerated'
            @($help.Examples.Example).Count | Should -BeGreaterOrEqual 2
        }
    }
}
