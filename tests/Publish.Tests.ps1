<#
    The built module as a package: Publish-PSResource (PSResourceGet ships with pwsh 7.4+) packs out/KvmHost
    into a throw-away local file repository, Install-PSResource installs it from there, and it imports.
    All of it runs in a child pwsh whose HOME is a scratch folder, so the repository registration and the
    CurrentUser install land there and this machine's PowerShell configuration is never touched.
#>
BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
}

Describe 'Publishing the built module through a local PSResourceGet repository' -Tag Publish {
    BeforeAll {
        # .config and .local/share must exist: .NET returns no folder for a missing one, and NuGet's settings
        # (used by Publish-PSResource) would then land in the current directory.
        $scratch = New-ScratchRoot -Directories 'home/.config', 'home/.local/share', 'repository'
        $moduleDirectory = Split-Path (Get-KvmHostModulePath)
        $repositoryName = "kvmhost-test-$([guid]::NewGuid().ToString('N').Substring(0, 8))"
        $script = @"
`$ErrorActionPreference = 'Stop'
Register-PSResourceRepository -Name '$repositoryName' -Uri '$scratch/repository' -Trusted
try {
    Publish-PSResource -Path '$moduleDirectory' -Repository '$repositoryName'
    `$packages = @(Get-ChildItem '$scratch/repository' -Filter *.nupkg | ForEach-Object Name)
    Install-PSResource -Name KvmHost -Repository '$repositoryName' -Scope CurrentUser -TrustRepository
    `$installed = @(Get-Module -ListAvailable KvmHost)
    Import-Module KvmHost
    `$loaded = Get-Module KvmHost
    [pscustomobject]@{
        Packages     = `$packages
        Installed    = @(`$installed.ModuleBase)
        Loaded       = `$loaded.ModuleBase
        Version      = "`$(`$loaded.Version)"
        Cmdlets      = @(Get-Command -Module KvmHost | ForEach-Object Name)
        Files        = @(Get-ChildItem `$loaded.ModuleBase -Name)
        ReleaseNotes = `$loaded.PrivateData.PSData.ReleaseNotes
        Answer       = (Test-KvmCpuSupport).GetType().FullName
    } | ConvertTo-Json -Depth 3
} finally {
    Unregister-PSResourceRepository -Name '$repositoryName'
    '---'
    @(Get-PSResourceRepository | ForEach-Object Name) -join ','
}
"@
        $file = Join-Path $scratch 'publish.ps1'
        Set-Content -Path $file -Value $script
        $pwsh = @(Get-PwshInvocation)
        $output = & env -u XDG_DATA_HOME -u XDG_CONFIG_HOME "HOME=$scratch/home" $pwsh -NoProfile -NonInteractive -File $file 2>&1
        $exitCode = $LASTEXITCODE
        $text = ($output | ForEach-Object { "$_" }) -join "`n"
        $split = $text.LastIndexOf('---')
        $result = if ($exitCode -eq 0 -and $split -gt 0) { $text.Substring(0, $split) | ConvertFrom-Json }
        $repositoriesAfter = if ($split -gt 0) { $text.Substring($split + 3).Trim() }
        $version = (Import-PowerShellDataFile (Get-KvmHostModulePath)).ModuleVersion
    }
    AfterAll { Remove-ScratchRoot $scratch }

    It 'packs out/KvmHost into KvmHost.<version>.nupkg' {
        $exitCode | Should -Be 0 -Because $text
        $result.Packages | Should -Be "KvmHost.$version.nupkg"
    }

    It 'installs it from the repository into the scratch user''s module path, and it imports from there' {
        $expected = "$scratch/home/.local/share/powershell/Modules/KvmHost/$version"
        $result.Installed | Should -Be $expected
        $result.Loaded | Should -Be $expected
        $result.Version | Should -Be $version
        $result.Cmdlets | Should -Contain 'Test-KvmHost'
        $result.Cmdlets.Count | Should -Be @((Import-PowerShellDataFile (Get-KvmHostModulePath)).CmdletsToExport).Count
        $result.Answer | Should -Be 'KvmHost.Core.Cpu.KvmCpuSupport' -Because 'the installed copy runs'
    }

    It 'ships the license, the change log, the help and the compliance suite, and says what changed' {
        foreach ($file in 'LICENSE', 'CHANGELOG.md', 'KvmHost.psd1', 'KvmHost.dll', 'KvmHost.Core.dll', 'en-US', 'Compliance') {
            $result.Files | Should -Contain $file
        }
        $result.ReleaseNotes | Should -Not -BeNullOrEmpty
    }

    It 'has no empty value in the manifest''s PSData (an empty ProjectUri makes Publish-PSResource refuse to pack)' {
        $psData = (Import-PowerShellDataFile (Get-KvmHostModulePath)).PrivateData.PSData
        foreach ($entry in $psData.GetEnumerator()) {
            "$($entry.Value)".Trim() | Should -Not -BeNullOrEmpty -Because "PSData.$($entry.Key) is either real or absent"
        }
    }

    It 'leaves no repository registered behind, and nothing outside its scratch folder' {
        $repositoriesAfter -split ',' | Should -Not -Contain $repositoryName
        Join-Path $scratch 'home/.config/NuGet/NuGet.Config' | Should -Exist -Because 'NuGet kept its settings in the scratch HOME'
        Join-Path (Get-Location) 'NuGet' | Should -Not -Exist
    }
}
