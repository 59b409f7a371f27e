<#
    The bridge carries the NIC's whole layer 3 identity (issue 18), proven against the real components: a
    NetworkManager 1.42 in a network namespace lab with an admin's keyfiles, and network-scripts' ifcfg files
    applied with iproute2 in a lab. Each story bridges a NIC whose profile sets non-default values, compares
    the kernel's view (addresses, routes with metrics and tables, rules, IPv6 sysctls, MTU) and NetworkManager's
    (nmcli -g per property) of the NIC before with the bridge after, removes the bridge and compares again, with
    the NIC's own files byte for byte. One lab per backend, many assertions.
#>
BeforeDiscovery {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot 'harness/NetLab.psm1') -Force
    $script:labSkip = Test-NetLabSupported
    $script:nmSkip = Test-NetLabSupported -NetworkManager
    $script:dnsmasqSkip = if ($script:nmSkip) { $script:nmSkip } elseif (-not (Get-Command dnsmasq -ErrorAction Ignore)) { 'no dnsmasq on PATH (Debian package dnsmasq-base)' }
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot 'harness/NetLab.psm1') -Force
    # Discovery's variables do not reach the run: the lab checks are made again for BeforeAll and the Its.
    $script:labSkip = Test-NetLabSupported
    $script:nmSkip = Test-NetLabSupported -NetworkManager
    $script:dnsmasqSkip = if ($script:nmSkip) { $script:nmSkip } elseif (-not (Get-Command dnsmasq -ErrorAction Ignore)) { 'no dnsmasq on PATH (Debian package dnsmasq-base)' }
    Import-Module (Get-KvmHostModulePath) -Force

    # Child-side helpers: the kernel's view of one device, the policy rules, NetworkManager's view of one profile.
    $script:viewFunctions = @'
function View([string] $Dev) {
    $link = @(ip -j -d address show dev $Dev | ConvertFrom-Json)[0]
    $routes = @(@(ip -j -4 route show table all dev $Dev | ConvertFrom-Json) + @(ip -j -6 route show table all dev $Dev | ConvertFrom-Json) |
        Where-Object { $_ -and $_.type -notin 'local', 'broadcast', 'multicast', 'anycast' -and $_.table -ne 'local' -and "$($_.dst)" -notmatch '^(fe80|ff00)' } |
        ForEach-Object { '{0} via {1} metric {2} table {3}' -f $_.dst, $_.gateway, $_.metric, $(if ($_.table) { $_.table } else { 'main' }) } | Sort-Object)
    $sysctl = [ordered]@{}
    foreach ($key in 'disable_ipv6', 'accept_ra', 'autoconf', 'use_tempaddr', 'addr_gen_mode') { $sysctl[$key] = (Get-Content "/proc/sys/net/ipv6/conf/$Dev/$key").Trim() }
    [ordered]@{
        Addresses = @($link.addr_info | Where-Object scope -eq 'global' | ForEach-Object { "$($_.local)/$($_.prefixlen)" } | Sort-Object)
        LinkLocal = @($link.addr_info | Where-Object scope -eq 'link' | ForEach-Object { "$($_.local)/$($_.prefixlen)" } | Sort-Object)
        Routes = $routes; Mtu = $link.mtu; Mac = $link.address; Master = $link.master; Sysctl = $sysctl
    }
}
function Rules { @(@(ip -4 rule show) + @(ip -6 rule show) | ForEach-Object { ($_ -replace '\s+', ' ').Trim() } | Sort-Object) }
function Nm([string] $Id, [string[]] $Properties) {
    $values = @(nmcli -g ($Properties -join ',') connection show $Id)
    $map = [ordered]@{}
    for ($i = 0; $i -lt $Properties.Count; $i++) { $map[$Properties[$i]] = if ($i -lt $values.Count) { $values[$i] } }
    $map
}
function WaitFor([scriptblock] $Condition, [int] $Seconds = 30) {
    $deadline = [DateTime]::UtcNow.AddSeconds($Seconds)
    while ([DateTime]::UtcNow -lt $deadline) { if (& $Condition) { return $true }; Start-Sleep -Milliseconds 300 }
    $false
}
function Bytes([string] $Path) { if (Test-Path $Path) { [Convert]::ToBase64String([IO.File]::ReadAllBytes($Path)) } }
'@
}

Describe 'The bridge carries the NIC''s layer 3 identity: NetworkManager keyfiles' -Tag 'Bridge' {
    BeforeAll {
        if ($script:nmSkip) { return }
        $script:lab = New-NetLab
        $script:nm = Start-NetLabNetworkManager -Name $script:lab.LAB
        $script:scratch = New-ScratchRoot -Directories 'dnsmasq'
        # A DHCP server on the gateway's side: the NIC's lease must be the bridge's lease (same client id, same address).
        $dnsmasq = Invoke-InNetLab -Name $script:lab.LAB -Gateway -Command @('dnsmasq', '--conf-file=/dev/null', '--port=0', '--user=root',
            '--interface=kvmg0', '--bind-interfaces', '--dhcp-range=192.0.2.100,192.0.2.150,255.255.255.0,1h', '--dhcp-authoritative',
            "--dhcp-leasefile=$($script:scratch)/dnsmasq/leases", "--pid-file=$($script:scratch)/dnsmasq/pid", '--log-dhcp',
            "--log-facility=$($script:scratch)/dnsmasq/log")
        if ($dnsmasq.ExitCode -ne 0) { throw "dnsmasq did not start: $($dnsmasq.StdErr)" }

        $connectionProperties = 'connection.zone', 'connection.autoconnect-priority', 'connection.autoconnect-retries', 'connection.stable-id',
            'connection.metered', 'connection.mdns', 'connection.llmnr', 'connection.permissions', '802-3-ethernet.mtu'
        $ipProperties = 'ipv4.method', 'ipv4.addresses', 'ipv4.gateway', 'ipv4.routes', 'ipv4.routing-rules', 'ipv4.route-table', 'ipv4.never-default',
            'ipv4.may-fail', 'ipv4.dns', 'ipv4.dns-search', 'ipv4.dns-options', 'ipv4.dns-priority', 'ipv4.ignore-auto-dns', 'ipv4.ignore-auto-routes',
            'ipv4.dhcp-client-id', 'ipv4.dhcp-hostname', 'ipv4.dhcp-send-hostname', 'ipv4.dad-timeout', 'ipv4.required-timeout',
            'ipv6.method', 'ipv6.addresses', 'ipv6.gateway', 'ipv6.routes', 'ipv6.never-default', 'ipv6.may-fail', 'ipv6.addr-gen-mode', 'ipv6.token',
            'ipv6.ip6-privacy', 'ipv6.dns', 'ipv6.dns-search', 'ipv6.mtu'
        $script:carriedProperties = $connectionProperties + $ipProperties
        $portProperties = 'connection.lldp', 'connection.autoconnect-priority', 'connection.permissions', '802-3-ethernet.mtu', '802-3-ethernet.cloned-mac-address'

        # An admin's profile that sets every property to a value other than the default.
        $rich = @"
[connection]
id=admin-nic
uuid=9b2f4c1e-7d3a-4e8b-a1c5-0f6e2d9b8a71
type=ethernet
autoconnect-priority=5
autoconnect-retries=3
interface-name=kvmt0
lldp=1
llmnr=0
mdns=0
metered=1
permissions=user:root;
stable-id=kvm-host-1
zone=internal

[ethernet]
cloned-mac-address=52:54:00:AA:BB:CC
mtu=1400

[ipv4]
address1=192.0.2.10/24,192.0.2.1
address2=198.51.100.7/25
dad-timeout=0
dhcp-client-id=stable
dhcp-hostname=kvm1
dhcp-send-hostname=false
dns=192.0.2.53;192.0.2.54;
dns-options=rotate;timeout:2;
dns-priority=40
dns-search=lab.example;corp.example;
ignore-auto-dns=true
ignore-auto-routes=true
may-fail=false
method=manual
required-timeout=2000
route-metric=77
route1=203.0.113.0/24,192.0.2.254,33
route2=10.99.0.0/16,192.0.2.253
route2_options=table=100
routing-rule1=priority 1000 from 198.51.100.0/25 table 100

[ipv6]
addr-gen-mode=eui64
address1=2001:db8::10/64,2001:db8::1
dns=2001:db8::53;
dns-search=v6.example;
ip6-privacy=2
may-fail=false
method=manual
mtu=1380
route-metric=78
route1=2001:db8:99::/48,2001:db8::fe,44
token=::abcd
"@
        # The three defects of the issue in one profile: DHCP with a cloned MAC (the lease must come back), IPv6 disabled,
        # a zone, no route-metric.
        $dhcp = "[connection]`nid=dhcp-nic`nuuid=4f0a2b7c-1d2e-4c3b-9a8f-6e5d4c3b2a19`ntype=ethernet`ninterface-name=kvmt0`nzone=internal`n`n[ethernet]`ncloned-mac-address=52:54:00:DD:EE:01`n`n[ipv4]`ndhcp-hostname=kvm-dhcp`nmethod=auto`n`n[ipv6]`nmethod=disabled`n"
        # Jumbo frames and an IPv6-only link: no IPv4, link-local IPv6 from the MAC (the bridge must end up with the same address).
        $jumbo = "[connection]`nid=jumbo-nic`nuuid=0c9d8e7f-6a5b-4c3d-8e2f-1a0b9c8d7e6f`ntype=ethernet`ninterface-name=kvmt0`n`n[ethernet]`nmtu=9000`n`n[ipv4]`nmethod=disabled`n`n[ipv6]`naddr-gen-mode=eui64`nmethod=link-local`n"
        # Refused: DHCPv6 whose IAID NetworkManager derives from the interface name.
        $refused = "[connection]`nid=dhcp6-nic`nuuid=5e4d3c2b-1a09-4f8e-b7d6-c5b4a3928170`ntype=ethernet`ninterface-name=kvmt0`nautoconnect=false`n`n[ipv4]`nmethod=disabled`n`n[ipv6]`nmethod=dhcp`n"

        $stories = foreach ($variant in @(@{ Name = 'Rich'; Id = 'admin-nic'; Text = $rich; Wait = '192.0.2.10' }, @{ Name = 'Dhcp'; Id = 'dhcp-nic'; Text = $dhcp; Wait = '192.0.2.1' },
                @{ Name = 'Jumbo'; Id = 'jumbo-nic'; Text = $jumbo; Wait = 'fe80' })) {
            $file = "$($variant.Id).nmconnection"
            @"
`$v = [ordered]@{}
Set-Content -NoNewline -LiteralPath "`$dir/$file" -Value @'
$($variant.Text)
'@
[IO.File]::SetUnixFileMode("`$dir/$file", 'UserRead, UserWrite')
`$v.Original = Bytes "`$dir/$file"
`$null = nmcli connection load "`$dir/$file"; `$null = nmcli connection up '$($variant.Id)' 2>&1
`$v.Ready = WaitFor { (ip -j address show dev kvmt0 | ConvertFrom-Json).addr_info.local -match '^$([regex]::Escape($variant.Wait))' }
`$v.Before = View kvmt0; `$v.RulesBefore = Rules; `$v.NmBefore = Nm '$($variant.Id)' `$carried; `$v.GatewayBefore = Answers '192.0.2.1'
`$v.New = Step { New-HostBridge br0 -Interface kvmt0 -Force -RollbackTimeout 40 }
`$null = WaitFor { (View br0).Addresses.Count -ge `$v.Before.Addresses.Count -and (View br0).LinkLocal.Count -ge `$v.Before.LinkLocal.Count } 20
`$v.Bridge = View br0; `$v.Port = View kvmt0; `$v.RulesBridge = Rules; `$v.GatewayBridge = Answers '192.0.2.1'
`$v.NmBridge = Nm br0 `$carried; `$v.NmPort = Nm br0-port-kvmt0 `$portProperties
`$v.Remove = Step { Remove-HostBridge br0 -Force -RollbackTimeout 40 }
`$null = WaitFor { (View kvmt0).Addresses.Count -ge `$v.Before.Addresses.Count -and (View kvmt0).LinkLocal.Count -ge `$v.Before.LinkLocal.Count } 20
`$v.After = View kvmt0; `$v.RulesAfter = Rules; `$v.NmAfter = Nm '$($variant.Id)' `$carried; `$v.GatewayAfter = Answers '192.0.2.1'
`$v.FileAfter = Bytes "`$dir/$file"
`$v.Files = @(Get-ChildItem -Force `$dir | Where-Object { `$_.Name -notlike '.*.bak' } | ForEach-Object Name | Sort-Object)
`$null = nmcli connection delete '$($variant.Id)' 2>&1
`$r.$($variant.Name) = `$v
"@
        }
        # Every other method value of both families, DHCP identities, 802.1X: compared as NetworkManager loads them.
        $script:viewVariants = [ordered]@{
            Shared = "[connection]`nid=view-nic`nuuid=1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d`ntype=ethernet`ninterface-name=kvmt0`n`n[ipv4]`naddress1=10.42.7.1/24`nmethod=shared`n`n[ipv6]`nmethod=shared`n"
            LinkLocalAuto = "[connection]`nid=view-nic`nuuid=1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d`ntype=ethernet`ninterface-name=kvmt0`n`n[ipv4]`nmethod=link-local`n`n[ipv6]`naddr-gen-mode=stable-privacy`ndhcp-duid=ll`ndhcp-iaid=mac`nip6-privacy=1`nmethod=auto`nra-timeout=30`n"
            DhcpBoth = "[connection]`nid=view-nic`nuuid=1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d`ntype=ethernet`ninterface-name=kvmt0`n`n[ipv4]`ndhcp-client-id=mac`ndhcp-fqdn=kvm1.lab.example`ndhcp-iaid=mac`ndhcp-timeout=90`ndhcp-vendor-class-identifier=kvmhost`nmethod=auto`n`n[ipv6]`ndhcp-duid=llt`ndhcp-iaid=mac`nmethod=dhcp`n"
            Dot1xIgnore = "[connection]`nid=view-nic`nuuid=1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d`ntype=ethernet`ninterface-name=kvmt0`nlldp=1`n`n[802-1x]`neap=peap;`nidentity=host-kvm1`npassword=Hx7-not-for-output`nphase2-auth=mschapv2`n`n[hostname]`nfrom-dhcp=0`n`n[ipv4]`naddress1=192.0.2.10/24`nmethod=manual`nnever-default=true`n`n[ipv6]`nmethod=ignore`n"
        }
        $script:viewProperties = $script:carriedProperties + 'ipv4.dhcp-iaid', 'ipv4.dhcp-fqdn', 'ipv4.dhcp-timeout', 'ipv4.dhcp-vendor-class-identifier',
            'ipv6.dhcp-duid', 'ipv6.dhcp-iaid', 'ipv6.ra-timeout', 'hostname.from-dhcp'
        $script:story = Invoke-KvmHostInLab -Lab $script:lab.LAB -NetworkManager -TimeoutSec 900 -Script @"
$($script:viewFunctions)
`$dir = '/etc/NetworkManager/system-connections'
`$carried = @('$($script:carriedProperties -join "', '")')
`$viewProperties = @('$($script:viewProperties -join "', '")')
`$portProperties = @('$($portProperties -join "', '")')
`$r = [ordered]@{}
$($stories -join "`n")
# Refused: nothing may change, not a file, not a link, not a profile.
Set-Content -NoNewline -LiteralPath "`$dir/dhcp6-nic.nmconnection" -Value @'
$refused
'@
[IO.File]::SetUnixFileMode("`$dir/dhcp6-nic.nmconnection", 'UserRead, UserWrite')
`$null = nmcli connection load "`$dir/dhcp6-nic.nmconnection"
`$r.RefusedBefore = [ordered]@{ Files = @(Get-ChildItem -Force `$dir | ForEach-Object { "`$(`$_.Name) `$(Bytes `$_.FullName)" }); Profiles = @(nmcli -t -f NAME connection show); Links = (Links | ForEach-Object { "`$(`$_.ifname) `$(`$_.master) `$(`$_.addr_info.local -join ',')" }) }
`$r.Refused = Step { New-HostBridge br0 -Interface kvmt0 -Force }
`$r.RefusedAfter = [ordered]@{ Files = @(Get-ChildItem -Force `$dir | ForEach-Object { "`$(`$_.Name) `$(Bytes `$_.FullName)" }); Profiles = @(nmcli -t -f NAME connection show); Links = (Links | ForEach-Object { "`$(`$_.ifname) `$(`$_.master) `$(`$_.addr_info.local -join ',')" }) }
`$null = nmcli connection delete dhcp6-nic 2>&1

# NetworkManager's view of the other method values: the NIC profile, and the bridge and port profiles made from it
# offline, loaded side by side (activating them needs a DHCPv6 server, an 802.1X switch, a router for shared).
`$r.Views = [ordered]@{}
`$views = @{
$(($script:viewVariants.GetEnumerator() | ForEach-Object { "    '$($_.Key)' = @'`n$($_.Value)`n'@" }) -join "`n")
}
foreach (`$name in `$views.Keys) {
    `$image = Join-Path ([IO.Path]::GetTempPath()) ('kvmhost-view-' + [guid]::NewGuid().ToString('N'))
    `$null = New-Item -ItemType Directory -Force "`$image/etc/NetworkManager/system-connections"
    Set-Content -NoNewline "`$image/etc/NetworkManager/system-connections/view-nic.nmconnection" -Value `$views[`$name]
    `$made = Step { New-HostBridge br0 -Interface kvmt0 -Root `$image -Backend NetworkManager }
    foreach (`$f in 'view-nic.nmconnection', 'br0.nmconnection', 'br0-port-kvmt0.nmconnection') {
        Copy-Item "`$image/etc/NetworkManager/system-connections/`$f" "`$dir/`$f"; [IO.File]::SetUnixFileMode("`$dir/`$f", 'UserRead, UserWrite')
        `$null = nmcli connection load "`$dir/`$f"
    }
    `$r.Views[`$name] = [ordered]@{
        Made = `$made; Nic = Nm view-nic `$viewProperties; Bridge = Nm br0 `$viewProperties
        Port = Nm br0-port-kvmt0 @('802-1x.eap', '802-1x.identity', '802-1x.phase2-auth', 'connection.lldp')
    }
    `$null = nmcli connection delete view-nic br0 br0-port-kvmt0 2>&1
    Remove-Item -Recurse -Force `$image
}
`$r
"@
        $script:leases = Get-Content "$($script:scratch)/dnsmasq/log" -ErrorAction Ignore
    }
    AfterAll {
        if ($script:lab) { Remove-NetLab -Name $script:lab.LAB }
        if ($script:scratch) { Remove-ScratchRoot $script:scratch }
    }

    Context 'a profile that sets every property (<_>)' -ForEach 'Rich', 'Dhcp', 'Jumbo' {
        BeforeAll { if (-not $script:nmSkip) { $script:v = $script:story.$_ } }

        It 'is active on the NIC before, and the bridge comes up with the NIC as its port' {
            if ($script:nmSkip) { Set-ItResult -Skipped -Because $script:nmSkip; return }
            $script:v.Ready | Should -BeTrue
            $script:v.New.Errors | Should -BeNullOrEmpty
            $script:v.New.Results[0].Active | Should -BeTrue
            $script:v.Port.Master | Should -Be 'br0'
        }

        It 'the kernel sees on the bridge what it saw on the NIC: addresses, routes with metrics and tables, IPv6 sysctls, MTU, MAC' {
            if ($script:nmSkip) { Set-ItResult -Skipped -Because $script:nmSkip; return }
            $script:v.Bridge.Addresses | Should -Be $script:v.Before.Addresses
            $script:v.Bridge.Routes | Should -Be $script:v.Before.Routes
            foreach ($key in $script:v.Before.Sysctl.PSObject.Properties.Name) { $script:v.Bridge.Sysctl.$key | Should -Be $script:v.Before.Sysctl.$key -Because "net.ipv6.conf.*.$key" }
            $script:v.Bridge.Mtu | Should -Be $script:v.Before.Mtu
            $script:v.Port.Mtu | Should -Be $script:v.Before.Mtu -Because 'jumbo frames need the port''s MTU too'
            $script:v.Bridge.Mac | Should -Be $script:v.Before.Mac
            $script:v.RulesBridge | Should -Be $script:v.RulesBefore
        }

        It 'NetworkManager sees on the bridge profile every value the NIC profile had' {
            if ($script:nmSkip) { Set-ItResult -Skipped -Because $script:nmSkip; return }
            foreach ($property in $script:carriedProperties) {
                $script:v.NmBridge.$property | Should -Be $script:v.NmBefore.$property -Because $property
            }
        }

        It 'removing the bridge gives the kernel and NetworkManager the NIC as it was, and its keyfile byte for byte' {
            if ($script:nmSkip) { Set-ItResult -Skipped -Because $script:nmSkip; return }
            $script:v.Remove.Errors | Should -BeNullOrEmpty
            $script:v.After.Addresses | Should -Be $script:v.Before.Addresses
            $script:v.After.Routes | Should -Be $script:v.Before.Routes
            foreach ($key in $script:v.Before.Sysctl.PSObject.Properties.Name) { $script:v.After.Sysctl.$key | Should -Be $script:v.Before.Sysctl.$key -Because "net.ipv6.conf.*.$key" }
            $script:v.After.Mtu | Should -Be $script:v.Before.Mtu
            $script:v.RulesAfter | Should -Be $script:v.RulesBefore
            foreach ($property in $script:carriedProperties) { $script:v.NmAfter.$property | Should -Be $script:v.NmBefore.$property -Because $property }
            $script:v.FileAfter | Should -Be $script:v.Original
            $script:v.Files | Should -Not -Contain 'br0.nmconnection'
            @($script:v.Files -like '*.orig') | Should -BeNullOrEmpty -Because 'the saved original goes once it is back'
            $script:v.GatewayAfter | Should -Be $script:v.GatewayBefore
        }
    }

    It 'the rich profile: the port keeps LLDP, the cloned MAC and the MTU; priority and permissions are on both' {
        if ($script:nmSkip) { Set-ItResult -Skipped -Because $script:nmSkip; return }
        $port = $script:story.Rich.NmPort
        $port.'connection.lldp' | Should -Be 'enable-rx'
        # nmcli -g escapes ':' in values.
        $port.'802-3-ethernet.cloned-mac-address' | Should -Be '52\:54\:00\:AA\:BB\:CC'
        $port.'802-3-ethernet.mtu' | Should -Be '1400'
        $port.'connection.autoconnect-priority' | Should -Be '5'
        $port.'connection.permissions' | Should -Be 'user\:root'
        $script:story.Rich.GatewayBridge | Should -BeTrue
        $script:story.Rich.Bridge.Routes | Should -Contain '10.99.0.0/16 via 192.0.2.253 metric 77 table 100'
    }

    It 'the issue''s three defects are gone: IPv6 stays disabled, the zone comes along, the metric stays 100' {
        if ($script:nmSkip) { Set-ItResult -Skipped -Because $script:nmSkip; return }
        $dhcp = $script:story.Dhcp
        $dhcp.NmBridge.'ipv6.method' | Should -Be 'disabled'
        $dhcp.Bridge.Sysctl.disable_ipv6 | Should -Be '1'
        $dhcp.Bridge.LinkLocal | Should -BeNullOrEmpty
        $dhcp.NmBridge.'connection.zone' | Should -Be 'internal'
        $dhcp.Bridge.Routes -match '^default via 192\.0\.2\.1 ' | Should -Be 'default via 192.0.2.1 metric 100 table main'
        $dhcp.New.Results[0].PlannedChanges -match 'route-metric=100' | Should -Not -BeNullOrEmpty
    }

    It 'DHCP hands the bridge the NIC''s lease: one address acknowledged, to one client with the cloned MAC' {
        if ($script:dnsmasqSkip) { Set-ItResult -Skipped -Because $script:dnsmasqSkip; return }
        $acks = @($script:leases -match 'DHCPACK\(kvmg0\) (\S+)' | ForEach-Object { ($_ -split 'DHCPACK\(kvmg0\) ')[1].Split(' ')[0] } | Sort-Object -Unique)
        $acks.Count | Should -Be 1 -Because "the log says: $($script:leases -match 'DHCP' -join ' | ')"
        @($script:leases -match 'DHCPACK\(kvmg0\) \S+ (\S+)' | ForEach-Object { ($_ -split 'DHCPACK\(kvmg0\) ')[1].Split(' ')[1] } | Sort-Object -Unique) |
            Should -Be @('52:54:00:dd:ee:01')
        $script:story.Dhcp.Bridge.Mac | Should -Be '52:54:00:dd:ee:01'
        $script:story.Dhcp.Port.Mac | Should -Be '52:54:00:dd:ee:01' -Because 'the port keeps presenting the cloned MAC to the switch'
        $script:story.Dhcp.Bridge.Addresses | Should -Be @("$($acks[0])/24")
        @($script:leases -match 'client provides name: kvm-dhcp').Count | Should -BeGreaterOrEqual 2 -Because 'dhcp-hostname went with the bridge'
    }

    It 'the IPv6-only jumbo link: the bridge has the NIC''s link-local address and MTU 9000' {
        if ($script:nmSkip) { Set-ItResult -Skipped -Because $script:nmSkip; return }
        $jumbo = $script:story.Jumbo
        $jumbo.Bridge.LinkLocal | Should -Be $jumbo.Before.LinkLocal
        $jumbo.Bridge.Mtu | Should -Be 9000
        $jumbo.Bridge.Addresses | Should -BeNullOrEmpty
    }

    It 'NetworkManager reads the bridge made from a <_> profile with the NIC profile''s values' -ForEach 'Shared', 'LinkLocalAuto', 'DhcpBoth', 'Dot1xIgnore' {
        if ($script:nmSkip) { Set-ItResult -Skipped -Because $script:nmSkip; return }
        $view = $script:story.Views.$_
        $view.Made.Errors | Should -BeNullOrEmpty
        $view.Nic.'ipv4.method' | Should -Not -BeNullOrEmpty -Because 'NetworkManager loaded the NIC profile'
        foreach ($property in $script:viewProperties) { $view.Bridge.$property | Should -Be $view.Nic.$property -Because $property }
    }

    It 'an 802.1X profile: authentication stays on the port, and its password is never shown' {
        if ($script:nmSkip) { Set-ItResult -Skipped -Because $script:nmSkip; return }
        $view = $script:story.Views.Dot1xIgnore
        $view.Port.'802-1x.eap' | Should -Be 'peap'
        $view.Port.'802-1x.identity' | Should -Be 'host-kvm1'
        $view.Port.'802-1x.phase2-auth' | Should -Be 'mschapv2'
        $view.Port.'connection.lldp' | Should -Be 'enable-rx'
        $planned = $view.Made.Results[0].PlannedChanges
        $planned | Should -Contain 'Carry: 802-1x.password=(secret, not shown) stays on the port'
        ($planned -join "`n") | Should -Not -Match 'Hx7-not-for-output'
    }

    It 'a setting it cannot carry is refused with its id, and nothing changes' {
        if ($script:nmSkip) { Set-ItResult -Skipped -Because $script:nmSkip; return }
        $script:story.Refused.Errors | Should -Be @('InterfaceSettingNotCarried,KvmHost.Commands.NewHostBridgeCommand')
        $script:story.Refused.Hints[0] | Should -Match 'dhcp-iaid'
        $script:story.RefusedAfter.Files | Should -Be $script:story.RefusedBefore.Files
        $script:story.RefusedAfter.Profiles | Should -Be $script:story.RefusedBefore.Profiles
        $script:story.RefusedAfter.Links | Should -Be $script:story.RefusedBefore.Links
    }
}

Describe 'The bridge carries the NIC''s layer 3 identity: network-scripts ifcfg files, applied with iproute2' -Tag 'Bridge' {
    BeforeAll {
        if ($script:labSkip) { return }
        $script:lab = New-NetLab
        $script:etc = Join-Path ([IO.Path]::GetTempPath()) ('kvmhost-etc-' + [guid]::NewGuid().ToString('N'))
        # The admin's RHEL 7 files: every layer 3 key set, routes in the main table and table 100, two policy rules.
        $ifcfg = @'
# eth0 as the admin wrote it
DEVICE=kvmt0
TYPE=Ethernet
BOOTPROTO=none
ONBOOT=yes
IPADDR=192.0.2.10
PREFIX=24
IPADDR1=198.51.100.7
NETMASK1=255.255.255.128
GATEWAY=192.0.2.1
METRIC=77
IPV4_ROUTE_METRIC=77
DEFROUTE=yes
DNS1=192.0.2.53
DNS2=192.0.2.54
DOMAIN="lab.example corp.example"
PEERDNS=no
PEERROUTES=no
DHCP_HOSTNAME=kvm1
ZONE=internal
MTU=1400
IPV6INIT=yes
IPV6_AUTOCONF=no
IPV6ADDR=2001:db8::10/64
IPV6_DEFAULTGW=2001:db8::1
IPV6_PRIVACY=rfc3041
ETHTOOL_OPTS="-K kvmt0 gro off"
'@
        $routes = "203.0.113.0/24 via 192.0.2.254 dev kvmt0 metric 33`n10.99.0.0/16 via 192.0.2.253 dev kvmt0 table 100`n"
        $routes6 = "2001:db8:99::/48 via 2001:db8::fe dev kvmt0 metric 44`n"
        $rules = "from 198.51.100.0/25 table 100 priority 1000`niif kvmt0 table 100 priority 1001`n"
        # The same NIC with IPv6 turned off, network-scripts' way (IPV6INIT=no, IPV6_DISABLED=yes and the sysctl).
        $noIpv6 = "DEVICE=kvmt0`nTYPE=Ethernet`nBOOTPROTO=none`nONBOOT=yes`nIPADDR=192.0.2.10`nPREFIX=24`nGATEWAY=192.0.2.1`nIPV6INIT=no`nIPV6_DISABLED=yes`n"
        $script:story = Invoke-KvmHostInLab -Lab $script:lab.LAB -EtcOverlay $script:etc -TimeoutSec 600 -Script @"
$($script:viewFunctions)
function Sysctl([string] `$Key, [string] `$Value) { [IO.File]::WriteAllText("/proc/sys/net/ipv6/conf/kvmt0/`$Key", `$Value) }
`$dir = '/etc/sysconfig/network-scripts'
`$null = New-Item -ItemType Directory -Force `$dir
Set-Content -NoNewline "`$dir/ifcfg-kvmt0" -Value @'
$ifcfg
'@
Set-Content -NoNewline "`$dir/route-kvmt0" -Value '$routes'
Set-Content -NoNewline "`$dir/route6-kvmt0" -Value '$routes6'
Set-Content -NoNewline "`$dir/rule-kvmt0" -Value '$rules'
# What ifup would have made of them (the lab NIC has 192.0.2.10/24, 2001:db8::10/64 and default routes already).
ip link set dev kvmt0 mtu 1400
ip address add 198.51.100.7/25 dev kvmt0
ip route del default via 192.0.2.1 dev kvmt0
ip route replace default via 192.0.2.1 dev kvmt0 metric 77
ip route add 203.0.113.0/24 via 192.0.2.254 dev kvmt0 metric 33
ip route add 10.99.0.0/16 via 192.0.2.253 dev kvmt0 table 100
ip -6 route add 2001:db8:99::/48 via 2001:db8::fe dev kvmt0 metric 44
ip rule add from 198.51.100.0/25 table 100 priority 1000
ip rule add iif kvmt0 table 100 priority 1001
Sysctl accept_ra 0; Sysctl autoconf 0; Sysctl use_tempaddr 2
`$r = [ordered]@{}
`$r.Original = [ordered]@{}; foreach (`$f in 'ifcfg-kvmt0', 'route-kvmt0', 'route6-kvmt0', 'rule-kvmt0') { `$r.Original[`$f] = Bytes "`$dir/`$f" }
`$r.Before = View kvmt0; `$r.RulesBefore = Rules; `$r.GatewayBefore = Answers '192.0.2.1'
`$r.Preview = Step { New-HostBridge br0 -Interface kvmt0 -Backend NetworkScripts -WhatIf }
`$r.New = Step { New-HostBridge br0 -Interface kvmt0 -Backend NetworkScripts -Force -RollbackTimeout 20 }
`$r.Bridge = View br0; `$r.Port = View kvmt0; `$r.RulesBridge = Rules; `$r.GatewayBridge = Answers '192.0.2.1'
`$r.BridgeFile = Get-Content "`$dir/ifcfg-br0"; `$r.PortFile = Get-Content "`$dir/ifcfg-kvmt0"
`$r.BridgeRoutes = [ordered]@{}; foreach (`$f in 'route-br0', 'route6-br0', 'rule-br0') { `$r.BridgeRoutes[`$f] = Get-Content -Raw "`$dir/`$f" }
`$r.FilesBridged = @(Get-ChildItem -Force `$dir | Where-Object Name -notlike '*.bak' | ForEach-Object Name | Sort-Object)
`$r.Again = Step { New-HostBridge br0 -Interface kvmt0 -Backend NetworkScripts -Force }
`$r.Remove = Step { Remove-HostBridge br0 -Backend NetworkScripts -Force -RollbackTimeout 20 }
`$r.After = View kvmt0; `$r.RulesAfter = Rules; `$r.GatewayAfter = Answers '192.0.2.1'
`$r.FilesAfter = [ordered]@{}; foreach (`$f in 'ifcfg-kvmt0', 'route-kvmt0', 'route6-kvmt0', 'rule-kvmt0') { `$r.FilesAfter[`$f] = Bytes "`$dir/`$f" }
`$r.FilesRemoved = @(Get-ChildItem -Force `$dir | Where-Object Name -notlike '*.bak' | ForEach-Object Name | Sort-Object)

# Second round: IPv6 off on the NIC.
Remove-Item "`$dir/route-kvmt0", "`$dir/route6-kvmt0", "`$dir/rule-kvmt0"
ip rule del priority 1001; ip rule del priority 1000
Set-Content -NoNewline "`$dir/ifcfg-kvmt0" -Value "$($noIpv6.Replace("`n", '`n'))"
Sysctl disable_ipv6 1
`$r.NoIpv6Original = Bytes "`$dir/ifcfg-kvmt0"
`$r.NoIpv6Before = View kvmt0
`$r.NoIpv6New = Step { New-HostBridge br0 -Interface kvmt0 -Backend NetworkScripts -Force -RollbackTimeout 20 }
`$r.NoIpv6Bridge = View br0; `$r.NoIpv6BridgeFile = Get-Content "`$dir/ifcfg-br0"
`$r.NoIpv6Remove = Step { Remove-HostBridge br0 -Backend NetworkScripts -Force -RollbackTimeout 20 }
`$r.NoIpv6After = View kvmt0; `$r.NoIpv6FileAfter = Bytes "`$dir/ifcfg-kvmt0"
`$r
"@
    }
    AfterAll {
        if ($script:lab) { Remove-NetLab -Name $script:lab.LAB }
        if ($script:etc) { Remove-Item -Recurse -Force $script:etc -ErrorAction Ignore }
    }

    It 'previews every carried key, the route and rule files it moves, and the sysctls it copies' {
        if ($script:labSkip) { Set-ItResult -Skipped -Because $script:labSkip; return }
        $planned = $script:story.Preview.Results[0].PlannedChanges
        foreach ($key in 'IPADDR=192.0.2.10', 'NETMASK1=255.255.255.128', 'METRIC=77', 'DEFROUTE=yes', 'DOMAIN=lab.example corp.example', 'PEERDNS=no',
            'PEERROUTES=no', 'DHCP_HOSTNAME=kvm1', 'ZONE=internal', 'IPV6INIT=yes', 'IPV6_DEFAULTGW=2001:db8::1', 'IPV6_PRIVACY=rfc3041', 'IPV4_ROUTE_METRIC=77') {
            $planned | Should -Contain "Carry: $key to the bridge"
        }
        $planned | Should -Contain 'Carry: MTU=1400 on the bridge and the port'
        $planned | Should -Contain 'Carry: ETHTOOL_OPTS=-K kvmt0 gro off stays on the port'
        @($planned -match '^Carry: route-kvmt0=2 line\(s\) to the bridge \(moved to route-br0, naming br0\)$').Count | Should -Be 1
        @($planned -match '^Run: sysctl -w net/ipv6/conf/br0/accept_ra=0$').Count | Should -Be 1
        @($planned -match '^Run: ip rule add priority 1001 from all iif br0 lookup 100$').Count | Should -Be 1
    }

    It 'the kernel sees on the bridge what it saw on the NIC: addresses, routes with metrics and tables, rules, IPv6 sysctls, MTU, MAC' {
        if ($script:labSkip) { Set-ItResult -Skipped -Because $script:labSkip; return }
        $script:story.New.Errors | Should -BeNullOrEmpty
        $script:story.Port.Master | Should -Be 'br0'
        $script:story.Bridge.Addresses | Should -Be $script:story.Before.Addresses
        $script:story.Bridge.Routes | Should -Be $script:story.Before.Routes
        foreach ($key in $script:story.Before.Sysctl.PSObject.Properties.Name) { $script:story.Bridge.Sysctl.$key | Should -Be $script:story.Before.Sysctl.$key -Because "net.ipv6.conf.*.$key" }
        $script:story.Bridge.Mtu | Should -Be 1400
        $script:story.Port.Mtu | Should -Be 1400
        $script:story.Bridge.Mac | Should -Be $script:story.Before.Mac
        $script:story.RulesBridge | Should -Be ($script:story.RulesBefore -replace 'iif kvmt0', 'iif br0' | Sort-Object)
        $script:story.GatewayBridge | Should -BeTrue
    }

    It 'ifcfg-br0 holds the NIC''s layer 3 lines as they were, the port keeps its link, the route and rule files name br0' {
        if ($script:labSkip) { Set-ItResult -Skipped -Because $script:labSkip; return }
        foreach ($line in 'IPADDR=192.0.2.10', 'PREFIX=24', 'IPADDR1=198.51.100.7', 'NETMASK1=255.255.255.128', 'GATEWAY=192.0.2.1', 'METRIC=77',
            'DNS1=192.0.2.53', 'DNS2=192.0.2.54', 'DOMAIN="lab.example corp.example"', 'PEERDNS=no', 'ZONE=internal', 'IPV6INIT=yes', 'IPV6ADDR=2001:db8::10/64',
            'IPV6_DEFAULTGW=2001:db8::1', 'IPV6_PRIVACY=rfc3041', 'MTU=1400', 'NM_CONTROLLED=no') {
            $script:story.BridgeFile | Should -Contain $line
        }
        $script:story.PortFile | Should -Contain 'BRIDGE=br0'
        $script:story.PortFile | Should -Contain 'ETHTOOL_OPTS="-K kvmt0 gro off"'
        $script:story.PortFile | Should -Contain 'MTU=1400'
        $script:story.PortFile -match '^(IPADDR|GATEWAY|ZONE|DOMAIN|IPV6)' | Should -BeNullOrEmpty
        $script:story.BridgeRoutes.'route-br0' | Should -Be "203.0.113.0/24 via 192.0.2.254 dev br0 metric 33`n10.99.0.0/16 via 192.0.2.253 dev br0 table 100`n"
        $script:story.BridgeRoutes.'route6-br0' | Should -Be "2001:db8:99::/48 via 2001:db8::fe dev br0 metric 44`n"
        $script:story.BridgeRoutes.'rule-br0' | Should -Be "from 198.51.100.0/25 table 100 priority 1000`niif br0 table 100 priority 1001`n"
        $script:story.FilesBridged | Should -Not -Contain 'route-kvmt0' -Because 'the routes moved to route-br0'
        $script:story.FilesBridged | Should -Contain '.ifcfg-kvmt0.kvmhost-br0.orig'
        $script:story.Again.Results[0].Changed | Should -BeFalse
    }

    It 'removing the bridge gives the kernel the NIC as it was, and its four files byte for byte' {
        if ($script:labSkip) { Set-ItResult -Skipped -Because $script:labSkip; return }
        $script:story.Remove.Errors | Should -BeNullOrEmpty
        $script:story.After.Addresses | Should -Be $script:story.Before.Addresses
        $script:story.After.Routes | Should -Be $script:story.Before.Routes
        foreach ($key in $script:story.Before.Sysctl.PSObject.Properties.Name) { $script:story.After.Sysctl.$key | Should -Be $script:story.Before.Sysctl.$key }
        $script:story.After.Mtu | Should -Be $script:story.Before.Mtu
        $script:story.RulesAfter | Should -Be $script:story.RulesBefore
        $script:story.GatewayAfter | Should -BeTrue
        foreach ($file in 'ifcfg-kvmt0', 'route-kvmt0', 'route6-kvmt0', 'rule-kvmt0') { $script:story.FilesAfter.$file | Should -Be $script:story.Original.$file -Because $file }
        $script:story.FilesRemoved | Should -Be @('ifcfg-kvmt0', 'route-kvmt0', 'route6-kvmt0', 'rule-kvmt0')
    }

    It 'a NIC with IPv6 off gives a bridge with IPv6 off (IPV6_DISABLED=yes, disable_ipv6=1, no link-local address), and back' {
        if ($script:labSkip) { Set-ItResult -Skipped -Because $script:labSkip; return }
        $script:story.NoIpv6New.Errors | Should -BeNullOrEmpty
        $script:story.NoIpv6Bridge.Sysctl.disable_ipv6 | Should -Be '1'
        $script:story.NoIpv6Bridge.LinkLocal | Should -BeNullOrEmpty
        $script:story.NoIpv6Bridge.Addresses | Should -Be $script:story.NoIpv6Before.Addresses
        $script:story.NoIpv6BridgeFile | Should -Contain 'IPV6_DISABLED=yes'
        $script:story.NoIpv6BridgeFile | Should -Contain 'IPV6INIT=no'
        $script:story.NoIpv6Remove.Errors | Should -BeNullOrEmpty
        $script:story.NoIpv6After.Sysctl.disable_ipv6 | Should -Be '1'
        $script:story.NoIpv6After.Addresses | Should -Be $script:story.NoIpv6Before.Addresses
        $script:story.NoIpv6FileAfter | Should -Be $script:story.NoIpv6Original
    }
}
