BeforeDiscovery {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot 'harness/NetLab.psm1') -Force
    $script:labSkip = Test-NetLabSupported
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot 'harness/NetLab.psm1') -Force
    $script:labSkip = Test-NetLabSupported
}

# The running network is read in-process from rtnetlink; iproute2's JSON stays the fallback. Both must describe a busy
# namespace the same way, field by field, or a bridge planned from one would differ from a bridge planned from the other.
Describe 'Reading the running network: rtnetlink and iproute2 agree' -Tag Network {
    BeforeAll {
        if ($script:labSkip) { return }
        $script:lab = New-NetLab
        $nic = $script:lab.NIC
        # A bridge with a port and a MAC of its own, policy routing tables (by number and by a name iproute2 knows),
        # IPv6 with and without noprefixroute, a host route, a route with a source, a blackhole (not unicast: left out).
        $setup = @"
set -e
ip link add kvmtbr0 type bridge
ip link add kvmtd0 type veth peer name kvmtd1
ip link set kvmtd0 master kvmtbr0
ip link set kvmtbr0 address 52:54:00:12:34:56
ip link set kvmtd0 up; ip link set kvmtd1 up; ip link set kvmtbr0 up
ip addr add 198.51.100.7/24 dev kvmtbr0 noprefixroute
ip addr add 2001:db8:5::7/64 dev kvmtbr0 noprefixroute nodad
ip addr add 203.0.113.5/32 dev $nic
ip route add 198.51.100.0/24 dev kvmtbr0 metric 425 proto static
ip route add 10.9.0.0/16 via 192.0.2.1 dev $nic table 100
ip route add default via 192.0.2.1 dev $nic table 253
ip route add 203.0.113.99 dev $nic src 203.0.113.5 scope link
ip route add blackhole 10.66.0.0/16
ip -6 route add 2001:db8:77::/48 via 2001:db8::1 dev $nic metric 512 table 100
ip rule add from 198.51.100.0/24 lookup 100 priority 1000
"@
        $script:setup = Invoke-InNetLab -Name $script:lab.LAB -Command @('sh', '-c', $setup)
        $compare = @"
Import-Module '$(Get-KvmHostModulePath)'
`$core = [KvmHost.Core.Platform.HostSystem].Assembly
`$readerType = `$core.GetType('KvmHost.Core.Bridge.LiveNetworkReader')
`$kernel = [Activator]::CreateInstance(`$core.GetType('KvmHost.Core.Sysctl.KernelParameters'), `$true)
`$reader = [Activator]::CreateInstance(`$readerType, [Reflection.BindingFlags] 'Instance,Public,NonPublic', `$null, @([KvmHost.Core.Platform.CommandRunner]::new(`$null), `$kernel), `$null)
`$netlink = `$readerType.GetMethod('TryNetlink', [Reflection.BindingFlags] 'Static,NonPublic').Invoke(`$null, @())
`$ip = `$readerType.GetMethod('ReadWithIp', [Reflection.BindingFlags] 'Instance,NonPublic').Invoke(`$reader, @([Threading.CancellationToken]::None))
function Describe(`$state) {
    foreach (`$l in `$state.Links) { "link `$(`$l.Name) kind=`$(`$l.Kind) mac=`$(`$l.MacAddress) perm=`$(`$l.PermanentMacAddress) mtu=`$(`$l.Mtu) up=`$(`$l.Up) master=`$(`$l.Master) " + ((`$l.Addresses | ForEach-Object { "`$(`$_.Cidr)/`$(`$_.Scope)/dynamic=`$(`$_.Dynamic)/noprefixroute=`$(`$_.NoPrefixRoute)" }) -join ' ') }
    foreach (`$r in `$state.Routes) { "route v6=`$(`$r.IPv6) `$(`$r.Destination) via=`$(`$r.Gateway) dev=`$(`$r.Device) proto=`$(`$r.Protocol) metric=`$(`$r.Metric) scope=`$(`$r.Scope) src=`$(`$r.PreferredSource) table=`$(`$r.Table)" }
}
'@@JSON@@' + (@{ Netlink = @(Describe `$netlink); Ip = @(Describe `$ip) } | ConvertTo-Json -Compress)
"@
        $file = Join-Path ([IO.Path]::GetTempPath()) ("kvmhost-readers-" + [guid]::NewGuid().ToString('N') + '.ps1')
        Set-Content -LiteralPath $file -Value $compare
        try {
            $run = Invoke-InNetLab -Name $script:lab.LAB -Command (@(Get-PwshInvocation) + @('-NoProfile', '-NonInteractive', '-File', $file)) -TimeoutSec 120
            $line = $run.Output | Where-Object { $_.StartsWith('@@JSON@@') } | Select-Object -Last 1
            if (-not $line) { throw "no result from the child pwsh (exit $($run.ExitCode)): $($run.StdOut) $($run.StdErr)" }
            $script:seen = $line.Substring(8) | ConvertFrom-Json
        } finally { Remove-Item -LiteralPath $file -ErrorAction Ignore }
    }
    AfterAll { if ($script:lab) { Remove-NetLab -Name $script:lab.LAB } }

    It 'describes every link, address and route of a busy namespace as iproute2 does' {
        if ($script:labSkip) { Set-ItResult -Skipped -Because $script:labSkip; return }
        $script:setup.ExitCode | Should -Be 0 -Because $script:setup.StdErr
        @($script:seen.Netlink) | Should -Be @($script:seen.Ip)
    }

    It 'sees what the namespace was given: the bridge and its port, noprefixroute, the policy tables, no blackhole' {
        if ($script:labSkip) { Set-ItResult -Skipped -Because $script:labSkip; return }
        $lines = @($script:seen.Netlink)
        @($lines -match '^link kvmtbr0 kind=bridge mac=52:54:00:12:34:56 ').Count | Should -Be 1
        @($lines -match '^link kvmtbr0 .*198\.51\.100\.7/24/global/dynamic=False/noprefixroute=True').Count | Should -Be 1
        @($lines -match '^link kvmtbr0 .*2001:db8:5::7/64/global/dynamic=False/noprefixroute=True').Count | Should -Be 1
        @($lines -match '^link kvmtd0 kind=veth .* master=kvmtbr0 ').Count | Should -Be 1
        @($lines -match '^route v6=False 10\.9\.0\.0/16 via=192\.0\.2\.1 .* table=100$').Count | Should -Be 1
        @($lines -match '^route v6=False default via=192\.0\.2\.1 .* table=default$').Count | Should -Be 1
        @($lines -match '^route v6=False 203\.0\.113\.99 via= .* scope=link src=203\.0\.113\.5 ').Count | Should -Be 1
        @($lines -match '^route v6=False 198\.51\.100\.0/24 .* proto=static metric=425 ').Count | Should -Be 1
        @($lines -match '^route v6=True 2001:db8:77::/48 via=2001:db8::1 .* metric=512 .* table=100$').Count | Should -Be 1
        @($lines -match '10\.66\.0\.0') | Should -BeNullOrEmpty -Because 'a blackhole route is not unicast'
    }
}
