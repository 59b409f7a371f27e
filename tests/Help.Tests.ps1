BeforeDiscovery {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    # Discovery runs in this process before BeforeAll: load the module here to build one test per cmdlet.
    $module = Import-Module (Get-KvmHostModulePath) -Force -PassThru
    $cmdlets = @(Get-Command -Module $module.Name -CommandType Cmdlet | ForEach-Object { @{ Name = $_.Name } })
    $common = [System.Management.Automation.Internal.CommonParameters].GetProperties().Name +
              [System.Management.Automation.Internal.ShouldProcessParameters].GetProperties().Name
    $parameters = @(foreach ($command in Get-Command -Module $module.Name -CommandType Cmdlet) {
        foreach ($name in $command.Parameters.Keys | Where-Object { $_ -notin $common }) {
            # The value an unbound parameter keeps, read from a fresh cmdlet object: what help must show.
            $value = $command.ImplementingType.GetProperty($name).GetValue([Activator]::CreateInstance($command.ImplementingType))
            $default = if ($value -is [switch]) { $value.IsPresent.ToString() }
                elseif ($null -eq $value -or "$value" -eq '' -or ($value -is [array] -and $value.Count -eq 0)) { 'None' }
                elseif ($value -is [array]) { $value -join ', ' } else { "$value" }
            @{ Cmdlet = $command.Name; Parameter = $name; Default = $default }
        }
    })
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    Import-Module (Get-KvmHostModulePath) -Force
    # Every error id the core can raise: a help's NOTES must name the ones its cmdlet raises.
    $errorIds = @([KvmHost.Core.Platform.ErrorIds].Assembly.GetTypes() | Where-Object Name -like '*ErrorIds' |
        ForEach-Object { $_.GetFields() | Where-Object IsLiteral | ForEach-Object GetRawConstantValue })
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

    It 'lists its error ids in its notes' {
        $notes = ($help.alertSet | Out-String)
        $notes | Should -Match '(?i)\bids:' -Because 'every cmdlet''s NOTES say "Errors have stable ids: ..." or "Error ids: ..."'
        $named = @($errorIds | Where-Object { $notes -match "\b$_\b" })
        $named | Should -Not -BeNullOrEmpty -Because 'the notes name real error ids'
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

    It '<Cmdlet> -<Parameter> shows its real default (<Default>)' -ForEach $parameters {
        (Get-Help $Cmdlet -Parameter $Parameter).defaultValue | Should -Be $Default
    }

    It 'shows the defaults an admin looks for: -Root /, Test-KvmHost -TimeoutSec 10 and -BridgeName br0' {
        (Get-Help Test-KvmCpuSupport -Parameter Root).defaultValue | Should -Be '/'
        (Get-Help Test-KvmHost -Parameter TimeoutSec).defaultValue | Should -Be '10'
        (Get-Help Test-KvmHost -Parameter BridgeName).defaultValue | Should -Be 'br0'
        (Get-Help Set-IpForwarding -Parameter Path).defaultValue | Should -Be '/etc/sysctl.d/90-kvmhost-forwarding.conf'
        (Get-Help Get-IpForwarding -Parameter AddressFamily).defaultValue | Should -Be 'Both'
        (Get-Help Test-KvmHost -Full | Out-String -Width 120) | Should -Match '(?s)-TimeoutSec <Int32>.*?Default value\s+10'
    }
}

Describe 'About topics' {
    It 'about_KvmHost is installed with the module and found by Get-Help' {
        (Get-Help about_KvmHost | Out-String) | Should -Match 'Test-KvmCpuSupport'
    }
}
