BeforeDiscovery {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    # Discovery runs in this process before BeforeAll: load the module here to build one test per cmdlet.
    $module = Import-Module (Get-KvmHostModulePath) -Force -PassThru
    $cmdlets = @(Get-Command -Module $module.Name -CommandType Cmdlet | ForEach-Object { @{ Name = $_.Name } })
    $common = [System.Management.Automation.Internal.CommonParameters].GetProperties().Name +
              [System.Management.Automation.Internal.ShouldProcessParameters].GetProperties().Name
    $parameters = @(foreach ($command in Get-Command -Module $module.Name -CommandType Cmdlet) {
        foreach ($name in $command.Parameters.Keys | Where-Object { $_ -notin $common }) { @{ Cmdlet = $command.Name; Parameter = $name } }
    })
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    Import-Module (Get-KvmHostModulePath) -Force
}

Describe 'Help for <Name>' -ForEach $cmdlets {
    BeforeAll { $help = Get-Help $Name -Full }

    It 'has a synopsis written for it (not the generated syntax line)' {
        $help.Synopsis | Should -Not -BeNullOrEmpty
        $help.Synopsis | Should -Not -Match ([regex]::Escape("$Name ["))
    }

    It 'has a description' {
        ($help.Description | Out-String).Trim() | Should -Not -BeNullOrEmpty
    }

    It 'has at least two examples with code' {
        @($help.Examples.Example).Count | Should -BeGreaterOrEqual 2
        foreach ($example in $help.Examples.Example) { $example.Code | Should -Not -BeNullOrEmpty }
    }

    It 'names its outputs and links to about_KvmHost' {
        ($help.ReturnValues | Out-String).Trim() | Should -Not -BeNullOrEmpty
        ($help.RelatedLinks | Out-String) | Should -Match 'about_KvmHost'
    }

    It 'has a default view for every type it outputs (and for its deserialized form)' {
        $types = (Get-Command $Name).OutputType.Type | Where-Object { $_ -and -not $_.IsPrimitive -and $_ -ne [string] }
        foreach ($type in $types) {
            Get-FormatData -TypeName $type.FullName | Should -Not -BeNullOrEmpty -Because "$($type.FullName) needs a view"
            Get-FormatData -TypeName "Deserialized.$($type.FullName)" | Should -Not -BeNullOrEmpty -Because 'remote results should look the same'
        }
    }
}

Describe 'Parameter help' {
    It '<Cmdlet> -<Parameter> has a description' -ForEach $parameters {
        $text = (Get-Help $Cmdlet -Parameter $Parameter).Description | Out-String
        $text.Trim() | Should -Not -BeNullOrEmpty
    }
}

Describe 'About topics' {
    It 'about_KvmHost is installed with the module and found by Get-Help' {
        (Get-Help about_KvmHost | Out-String) | Should -Match 'Test-KvmCpuSupport'
    }
}
