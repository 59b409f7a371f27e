<#
.SYNOPSIS
    An SVG bar chart of benchmark ratios (KvmHost / baseline) on a log scale, each bar with its
    target marked: green where the target is met, red where it is missed. Returns the SVG text.
.DESCRIPTION
    Log scale because the ratios span from a few thousandths (a converged run inside a session
    against Ansible) to a few (parsing against reading the bytes).
#>
param(
    [Parameter(Mandatory)] [object[]] $Row,
    [string] $Title = 'KvmHost against its baselines'
)
$ErrorActionPreference = 'Stop'
$culture = [Globalization.CultureInfo]::InvariantCulture
$labelWidth = 430; $plotWidth = 420; $barHeight = 22; $gap = 12; $top = 48
$low = -3; $high = 1   # 10^-3 .. 10^1
$x = { param([double] $ratio) $labelWidth + $plotWidth * ([math]::Log10([math]::Max($ratio, 0.001)) - $low) / ($high - $low) }
$height = $top + $Row.Count * ($barHeight + $gap) + 40
$width = $labelWidth + $plotWidth + 30
$escape = { param([string] $text) [Security.SecurityElement]::Escape($text) }
$svg = [Text.StringBuilder]::new()
$null = $svg.AppendLine("<svg xmlns='http://www.w3.org/2000/svg' width='$width' height='$height' font-family='sans-serif' font-size='12'>")
$null = $svg.AppendLine("<rect width='100%' height='100%' fill='white'/>")
$null = $svg.AppendLine("<text x='10' y='20' font-size='15' font-weight='bold'>$(& $escape $Title)</text>")
$null = $svg.AppendLine("<text x='10' y='36' fill='#555'>ratio KvmHost / baseline (log scale); black tick = target; green = met, red = missed</text>")
foreach ($power in $low..$high) {
    $gx = (& $x ([math]::Pow(10, $power))).ToString('F1', $culture)
    $null = $svg.AppendLine("<line x1='$gx' y1='$top' x2='$gx' y2='$($height - 30)' stroke='#ddd'/>")
    $null = $svg.AppendLine("<text x='$gx' y='$($height - 14)' text-anchor='middle' fill='#555'>$([math]::Pow(10, $power).ToString($culture))</text>")
}
$y = $top
foreach ($entry in $Row) {
    $ratio = [double]::Parse(($entry.Ratio -replace ',', ''), $culture)
    $target = [double] $entry.TargetRatio
    $met = "$($entry.Met)" -eq 'True'
    $label = if ($entry.PSObject.Properties['Label']) { $entry.Label } else { $entry.Benchmark }
    if ($label.Length -gt 68) { $label = $label.Substring(0, 65) + '...' }
    $barEnd = & $x $ratio
    $null = $svg.AppendLine("<text x='10' y='$($y + 15)'>$(& $escape $label)</text>")
    $null = $svg.AppendLine("<rect x='$labelWidth' y='$y' width='$(($barEnd - $labelWidth).ToString('F1', $culture))' height='$barHeight' fill='$(if ($met) { '#4a4' } else { '#c44' })'/>")
    $null = $svg.AppendLine("<text x='$(($barEnd + 4).ToString('F1', $culture))' y='$($y + 15)'>$($ratio.ToString('G3', $culture))</text>")
    $tx = (& $x $target).ToString('F1', $culture)
    $null = $svg.AppendLine("<line x1='$tx' y1='$($y - 3)' x2='$tx' y2='$($y + $barHeight + 3)' stroke='black' stroke-width='3'/>")
    $y += $barHeight + $gap
}
$null = $svg.AppendLine('</svg>')
$svg.ToString()
