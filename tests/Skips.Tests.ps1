<#
    A skipped test must say why in Pester's output. Pester 5 prints only "[!] name" for -Skip on an It, so an
    It skips with Set-ItResult -Skipped -Because '...' (printed as "is skipped, because ..."), and a Describe
    or Context that skips as a whole (so its BeforeAll does not run) carries the reason in its name:
    Describe "boxes$(if ($reason) { " (skipped: $reason)" })" -Skip:([bool] $reason).
#>
BeforeDiscovery {
    # The suite, and the compliance suite the module ships (auditors read its skips too).
    $repo = Split-Path $PSScriptRoot -Parent
    $files = @(@(Get-ChildItem $PSScriptRoot -Recurse -Filter '*.Tests.ps1') + @(Get-ChildItem (Join-Path $repo 'src') -Recurse -Filter '*.Tests.ps1') |
        Where-Object { $_.FullName -notlike "*$([IO.Path]::DirectorySeparatorChar).packages$([IO.Path]::DirectorySeparatorChar)*" } |
        ForEach-Object { @{ Name = [IO.Path]::GetRelativePath($repo, $_.FullName); Path = $_.FullName } })
}

Describe 'Every skip in the suite says why' {
    It '<Name>' -ForEach $files {
        $tokens = $errors = $null
        $ast = [System.Management.Automation.Language.Parser]::ParseFile($Path, [ref] $tokens, [ref] $errors)
        $errors | Should -BeNullOrEmpty
        $problems = foreach ($command in $ast.FindAll({ $args[0] -is [System.Management.Automation.Language.CommandAst] }, $true)) {
            $name = $command.GetCommandName()
            $parameters = @($command.CommandElements | Where-Object { $_ -is [System.Management.Automation.Language.CommandParameterAst] } |
                ForEach-Object ParameterName)
            $line = $command.Extent.StartLineNumber
            if ($name -eq 'It' -and $parameters -contains 'Skip') {
                "line $line`: It -Skip prints only '[!]'; skip inside the It with Set-ItResult -Skipped -Because"
            }
            elseif ($name -in 'Describe', 'Context' -and $parameters -contains 'Skip') {
                $title = $command.CommandElements[1]
                if (-not ($title -is [System.Management.Automation.Language.ExpandableStringExpressionAst] -and $title.Value -match '\(skipped: ')) {
                    "line $line`: $name -Skip needs the reason in its name, like `"...`$(if (`$reason) { `" (skipped: `$reason)`" })`""
                }
            }
            elseif ($name -eq 'Set-ItResult' -and $parameters -contains 'Skipped' -and $parameters -notcontains 'Because') {
                "line $line`: Set-ItResult -Skipped without -Because"
            }
        }
        $problems | Should -BeNullOrEmpty
    }
}
