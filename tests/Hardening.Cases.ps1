<#
    The hostile-input table of tests/Hardening.Tests.ps1: one row per case, each a cmdlet, its parameters and the
    ErrorId it must stop with. '{root}' and '{world}' in a string stand for the hostile root and the folder around
    it (Hardening.Tests.ps1 builds both); Root defaults to '{root}'. Kept apart so the report table comes from the
    same data the tests run.
#>
$sysctl = 'Set-IpForwarding'
@(
    # -Path of Set-IpForwarding: the one parameter that names a file the module writes as root.
    @{ Cmdlet = $sysctl; Case = 'Path with a newline in the name'; Parameters = @{ Path = "/etc/sysctl.d/90-a`nb.conf" }; ErrorId = 'SysctlPathInvalid' }
    @{ Cmdlet = $sysctl; Case = "Path with '=' in the name"; Parameters = @{ Path = '/etc/sysctl.d/90-a=b.conf' }; ErrorId = 'SysctlPathInvalid' }
    @{ Cmdlet = $sysctl; Case = "Path with ';' in the name"; Parameters = @{ Path = '/etc/sysctl.d/90;reboot.conf' }; ErrorId = 'SysctlPathInvalid' }
    @{ Cmdlet = $sysctl; Case = 'Path with $( ) in the name'; Parameters = @{ Path = '/etc/sysctl.d/$(reboot).conf' }; ErrorId = 'SysctlPathInvalid' }
    @{ Cmdlet = $sysctl; Case = 'Path with quotes in the name'; Parameters = @{ Path = "/etc/sysctl.d/90-`"x'.conf" }; ErrorId = 'SysctlPathInvalid' }
    @{ Cmdlet = $sysctl; Case = 'Path with a non-ASCII name'; Parameters = @{ Path = '/etc/sysctl.d/90-weiterleitung-ä.conf' }; ErrorId = 'SysctlPathInvalid' }
    @{ Cmdlet = $sysctl; Case = 'Path with a NUL'; Parameters = @{ Path = "/etc/sysctl.d/90-x`0.conf" }; ErrorId = 'PathEscapesRoot' }
    @{ Cmdlet = $sysctl; Case = "Path climbing out with '..'"; Parameters = @{ Path = '/etc/../../outside/victim.conf' }; ErrorId = 'PathEscapesRoot' }
    @{ Cmdlet = $sysctl; Case = "Path with '..' to another file in the root"; Parameters = @{ Path = '/etc/sysctl.d/../passwd' }; ErrorId = 'SysctlPathInvalid' }
    @{ Cmdlet = $sysctl; Case = 'Path /etc/passwd'; Parameters = @{ Path = '/etc/passwd' }; ErrorId = 'SysctlPathInvalid' }
    @{ Cmdlet = $sysctl; Case = 'Path /etc/resolv.conf (a .conf outside sysctl.d)'; Parameters = @{ Path = '/etc/resolv.conf' }; ErrorId = 'SysctlPathInvalid' }
    @{ Cmdlet = $sysctl; Case = 'Path not *.conf in sysctl.d'; Parameters = @{ Path = '/etc/sysctl.d/90-forwarding.txt' }; ErrorId = 'SysctlPathInvalid' }
    @{ Cmdlet = $sysctl; Case = 'Path relative'; Parameters = @{ Path = 'etc/sysctl.d/90-x.conf' }; ErrorId = 'SysctlPathInvalid' }
    @{ Cmdlet = $sysctl; Case = 'Path a directory'; Parameters = @{ Path = '/etc/sysctl.d' }; ErrorId = 'NotADirectory' }
    @{ Cmdlet = $sysctl; Case = 'Path through a symlink inside the root that escapes it'; Parameters = @{ Path = '/etc/sysctl.d/escape/victim.conf' }; ErrorId = 'PathEscapesRoot' }
    @{ Cmdlet = $sysctl; Case = 'Path a symlink loop inside the root'; Parameters = @{ Path = '/etc/sysctl.d/70-loop.conf' }; ErrorId = 'SymlinkLoop' }
    @{ Cmdlet = $sysctl; Case = 'existing config file binary'; Parameters = @{ Path = '/etc/sysctl.d/80-binary.conf' }; ErrorId = 'FileNotText' }
    @{ Cmdlet = $sysctl; Case = 'existing config file huge (1.5 MiB)'; Parameters = @{ Path = '/etc/sysctl.d/85-huge.conf' }; ErrorId = 'FileTooLarge' }
    # -Uplink becomes part of a /proc/sys path.
    @{ Cmdlet = $sysctl; Case = 'Uplink with a newline'; Parameters = @{ AddressFamily = 'IPv6'; Uplink = "eth0`n" }; ErrorId = 'ForwardingUplinkInvalid' }
    @{ Cmdlet = $sysctl; Case = "Uplink with '/' and '..'"; Parameters = @{ AddressFamily = 'IPv6'; Uplink = '../../all' }; ErrorId = 'ForwardingUplinkInvalid' }
    @{ Cmdlet = $sysctl; Case = "Uplink '..'"; Parameters = @{ AddressFamily = 'IPv6'; Uplink = '..' }; ErrorId = 'ForwardingUplinkInvalid' }
    @{ Cmdlet = $sysctl; Case = 'Uplink over 15 bytes'; Parameters = @{ AddressFamily = 'IPv6'; Uplink = 'enp0s31f6abcdefg' }; ErrorId = 'ForwardingUplinkInvalid' }
    @{ Cmdlet = $sysctl; Case = 'Uplink non-ASCII, 14 chars but over 15 bytes'; Parameters = @{ AddressFamily = 'IPv6'; Uplink = 'brücke-äöü-123' }; ErrorId = 'ForwardingUplinkInvalid' }
    @{ Cmdlet = $sysctl; Case = 'Uplink with a NUL'; Parameters = @{ AddressFamily = 'IPv6'; Uplink = "eth0`0" }; ErrorId = 'ForwardingUplinkInvalid' }
    @{ Cmdlet = $sysctl; Case = 'Uplink with a space'; Parameters = @{ AddressFamily = 'IPv6'; Uplink = 'eth 0' }; ErrorId = 'ForwardingUplinkInvalid' }
    # -Root, shared by every cmdlet.
    @{ Cmdlet = $sysctl; Case = 'Root pointing at a file'; Parameters = @{ Root = '{world}/a-file' }; ErrorId = 'RootNotDirectory' }
    @{ Cmdlet = $sysctl; Case = 'Root a symlink loop'; Parameters = @{ Root = '{world}/loop' }; ErrorId = 'SymlinkLoop' }
    @{ Cmdlet = $sysctl; Case = 'Root missing'; Parameters = @{ Root = '{world}/missing' }; ErrorId = 'RootNotFound' }
    @{ Cmdlet = $sysctl; Case = 'Root with a NUL'; Parameters = @{ Root = "{world}/ro`0ot" }; ErrorId = 'RootNotFound' }
    @{ Cmdlet = 'Get-IpForwarding'; Case = 'Root a symlink loop'; Parameters = @{ Root = '{world}/loop' }; ErrorId = 'SymlinkLoop' }
    @{ Cmdlet = 'Enable-Libvirtd'; Case = 'Root pointing at a file'; Parameters = @{ Root = '{world}/a-file' }; ErrorId = 'RootNotDirectory' }
    @{ Cmdlet = 'Get-Libvirtd'; Case = 'Root a symlink loop'; Parameters = @{ Root = '{world}/loop' }; ErrorId = 'SymlinkLoop' }
    @{ Cmdlet = 'Test-KvmCpuSupport'; Case = 'Root missing'; Parameters = @{ Root = '{world}/missing' }; ErrorId = 'RootNotFound' }
    @{ Cmdlet = 'Test-KvmHost'; Case = 'Root pointing at a file'; Parameters = @{ Root = '{world}/a-file' }; ErrorId = 'RootNotDirectory' }
    # Package names and repository ids become package manager arguments.
    @{ Cmdlet = 'Install-KvmPackages'; Case = "Name starting with '-'"; Parameters = @{ Name = '-y'; WhatIf = $true }; ErrorId = 'PackageNameInvalid' }
    @{ Cmdlet = 'Install-KvmPackages'; Case = 'Name that is an option with a value'; Parameters = @{ Name = '--installroot=/'; WhatIf = $true }; ErrorId = 'PackageNameInvalid' }
    @{ Cmdlet = 'Install-KvmPackages'; Case = 'Name with a space'; Parameters = @{ Name = 'qemu-kvm libvirt'; WhatIf = $true }; ErrorId = 'PackageNameInvalid' }
    @{ Cmdlet = 'Install-KvmPackages'; Case = 'Name with a newline'; Parameters = @{ Name = "qemu-kvm`nlibvirt"; WhatIf = $true }; ErrorId = 'PackageNameInvalid' }
    @{ Cmdlet = 'Install-KvmPackages'; Case = 'Name with $( )'; Parameters = @{ Name = '$(reboot)'; WhatIf = $true }; ErrorId = 'PackageNameInvalid' }
    @{ Cmdlet = 'Install-KvmPackages'; Case = "Name with ';'"; Parameters = @{ Name = 'qemu-kvm;reboot'; WhatIf = $true }; ErrorId = 'PackageNameInvalid' }
    @{ Cmdlet = 'Install-KvmPackages'; Case = 'Name with quotes'; Parameters = @{ Name = "qemu'kvm`""; WhatIf = $true }; ErrorId = 'PackageNameInvalid' }
    @{ Cmdlet = 'Install-KvmPackages'; Case = 'Name with a NUL'; Parameters = @{ Name = "qemu-kvm`0"; WhatIf = $true }; ErrorId = 'PackageNameInvalid' }
    @{ Cmdlet = 'Install-KvmPackages'; Case = "Name with '/' and '..'"; Parameters = @{ Name = '../../x.rpm'; WhatIf = $true }; ErrorId = 'PackageNameInvalid' }
    @{ Cmdlet = 'Install-KvmPackages'; Case = 'Name non-ASCII'; Parameters = @{ Name = 'qemü-kvm'; WhatIf = $true }; ErrorId = 'PackageNameInvalid' }
    @{ Cmdlet = 'Install-KvmPackages'; Case = "EnableRepository starting with '-'"; Parameters = @{ EnableRepository = '--setopt=gpgcheck=0'; WhatIf = $true }; ErrorId = 'PackageNameInvalid' }
    @{ Cmdlet = 'Install-KvmPackages'; Case = 'EnableRepository with a newline'; Parameters = @{ EnableRepository = "epel`n"; WhatIf = $true }; ErrorId = 'PackageNameInvalid' }
    @{ Cmdlet = 'Install-KvmPackages'; Case = 'os-release binary'; Parameters = @{ Root = '{world}/os-binary'; WhatIf = $true }; ErrorId = 'FileNotText' }
    @{ Cmdlet = 'Install-KvmPackages'; Case = 'os-release huge (100 KiB)'; Parameters = @{ Root = '{world}/os-huge'; WhatIf = $true }; ErrorId = 'FileTooLarge' }
    @{ Cmdlet = 'Install-KvmPackages'; Case = 'os-release malformed (no ID)'; Parameters = @{ Root = '{world}/os-garbage'; WhatIf = $true }; ErrorId = 'UnsupportedRelease' }
    @{ Cmdlet = 'Get-KvmPackages'; Case = "Name starting with '-'"; Parameters = @{ Name = '-qa' }; ErrorId = 'PackageNameInvalid' }
    @{ Cmdlet = 'Get-KvmPackages'; Case = 'Name with a space'; Parameters = @{ Name = 'a b' }; ErrorId = 'PackageNameInvalid' }
    @{ Cmdlet = 'Get-KvmPackages'; Case = 'Name with $( )'; Parameters = @{ Name = '$(id)' }; ErrorId = 'PackageNameInvalid' }
    # New-HostBridge: names and addresses end up in keyfiles, shell-sourced ifcfg files and file names.
    @{ Cmdlet = 'New-HostBridge'; Case = 'Name with a newline (keyfile line injection)'; Parameters = @{ Name = "br0`nid=evil"; Interface = 'eth9'; IPAddress = '10.0.0.2/24' }; ErrorId = 'InvalidInterfaceName' }
    @{ Cmdlet = 'New-HostBridge'; Case = "Name with '='"; Parameters = @{ Name = 'br=0'; Interface = 'eth9'; IPAddress = '10.0.0.2/24' }; ErrorId = 'InvalidInterfaceName' }
    @{ Cmdlet = 'New-HostBridge'; Case = "Name with ';' (ifcfg is sourced by bash)"; Parameters = @{ Name = 'br0;reboot'; Interface = 'eth9'; IPAddress = '10.0.0.2/24' }; ErrorId = 'InvalidInterfaceName' }
    @{ Cmdlet = 'New-HostBridge'; Case = 'Name with $( )'; Parameters = @{ Name = '$(reboot)'; Interface = 'eth9'; IPAddress = '10.0.0.2/24' }; ErrorId = 'InvalidInterfaceName' }
    @{ Cmdlet = 'New-HostBridge'; Case = 'Name with quotes'; Parameters = @{ Name = "br'0`""; Interface = 'eth9'; IPAddress = '10.0.0.2/24' }; ErrorId = 'InvalidInterfaceName' }
    @{ Cmdlet = 'New-HostBridge'; Case = "Name with '/' and '..' (file name)"; Parameters = @{ Name = '../br0'; Interface = 'eth9'; IPAddress = '10.0.0.2/24' }; ErrorId = 'InvalidInterfaceName' }
    @{ Cmdlet = 'New-HostBridge'; Case = 'Name with a NUL'; Parameters = @{ Name = "br0`0"; Interface = 'eth9'; IPAddress = '10.0.0.2/24' }; ErrorId = 'InvalidInterfaceName' }
    @{ Cmdlet = 'New-HostBridge'; Case = 'Name over 15 bytes (non-ASCII, 15 chars)'; Parameters = @{ Name = 'brückenkopf-123'; Interface = 'eth9'; IPAddress = '10.0.0.2/24' }; ErrorId = 'InvalidInterfaceName' }
    @{ Cmdlet = 'New-HostBridge'; Case = 'Interface with a newline (ifcfg line injection)'; Parameters = @{ Name = 'br0'; Interface = "eth0`nIPADDR=6.6.6.6"; IPAddress = '10.0.0.2/24' }; ErrorId = 'InvalidInterfaceName' }
    @{ Cmdlet = 'New-HostBridge'; Case = 'IPAddress octet out of range'; Parameters = @{ Name = 'br0'; Interface = 'eth9'; IPAddress = '10.0.0.256/24' }; ErrorId = 'InvalidIPAddress' }
    @{ Cmdlet = 'New-HostBridge'; Case = 'IPv4 prefix 33'; Parameters = @{ Name = 'br0'; Interface = 'eth9'; IPAddress = '10.0.0.2/33' }; ErrorId = 'InvalidIPAddress' }
    @{ Cmdlet = 'New-HostBridge'; Case = 'prefix -1'; Parameters = @{ Name = 'br0'; Interface = 'eth9'; IPAddress = '10.0.0.2/-1' }; ErrorId = 'InvalidIPAddress' }
    @{ Cmdlet = 'New-HostBridge'; Case = 'IPv6 prefix 129'; Parameters = @{ Name = 'br0'; Interface = 'eth9'; IPAddress = '2001:db8::2/129' }; ErrorId = 'InvalidIPAddress' }
    @{ Cmdlet = 'New-HostBridge'; Case = "Gateway with ';'"; Parameters = @{ Name = 'br0'; Interface = 'eth9'; IPAddress = '10.0.0.2/24'; Gateway = '10.0.0.1;reboot' }; ErrorId = 'InvalidIPAddress' }
    @{ Cmdlet = 'New-HostBridge'; Case = 'DnsServer with a newline (ifcfg DNS2 injection)'; Parameters = @{ Name = 'br0'; Interface = 'eth9'; IPAddress = '10.0.0.2/24'; DnsServer = "1.1.1.1`nDNS2=6.6.6.6" }; ErrorId = 'InvalidIPAddress' }
    @{ Cmdlet = 'New-HostBridge'; Case = "Probe starting with '-' (ping option)"; Parameters = @{ Name = 'br0'; Interface = 'eth9'; IPAddress = '10.0.0.2/24'; Probe = '-c1' }; ErrorId = 'InvalidIPAddress' }
    @{ Cmdlet = 'New-HostBridge'; Case = 'existing ifcfg with a quoted newline'; Parameters = @{ Root = '{world}/ifcfg'; Name = 'br0'; Interface = 'eth0' }; ErrorId = 'IfcfgFileMalformed' }
    @{ Cmdlet = 'New-HostBridge'; Case = 'existing keyfile without sections'; Parameters = @{ Name = 'br0'; Interface = 'enp7s0' }; ErrorId = 'KeyfileMalformed' }
    @{ Cmdlet = 'Remove-HostBridge'; Case = "Name with '/' and '..'"; Parameters = @{ Name = '../br0'; Confirm = $false }; ErrorId = 'InvalidInterfaceName' }
    @{ Cmdlet = 'Remove-HostBridge'; Case = 'Name with $( )'; Parameters = @{ Name = '$(reboot)'; Confirm = $false }; ErrorId = 'InvalidInterfaceName' }
)
