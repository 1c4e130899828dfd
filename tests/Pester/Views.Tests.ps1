#Requires -Version 7.4

# The tables and lists a user sees, at 80 columns (most terminals, and non-interactive pwsh) and 160.
# Every exported cmdlet needs an entry in $producers below: a loopback command that writes its objects.

BeforeDiscovery {
    Import-Module (Join-Path $PSScriptRoot 'TestSupport.psm1') -Force
    $cmdlets = @((Import-PowerShellDataFile (Get-IcmpToolsManifest)).CmdletsToExport)
    $views = @(
        @{ Cmdlet = 'Test-IcmpEcho'; Kind = 'Host'; Produce = 'Test-IcmpEcho localhost, ::1 -Count 3 -IntervalSeconds 0.05'
            Columns = @('Address', 'Status', 'Loss', 'Avg'); Shows = @('127.0.0.1', '::1', 'Success'); ShowsWide = @('localhost') }
        @{ Cmdlet = 'Test-IcmpEcho'; Kind = 'Reply'; Produce = 'Test-IcmpEcho 127.0.0.1, ::1 -Count 2 -IntervalSeconds 0.05 -PerReply'
            Columns = @('Destination', 'Source', 'Seq', 'Ttl', 'Rtt', 'Status'); Shows = @('127.0.0.1', '::1', 'Success'); ShowsWide = @() }
        @{ Cmdlet = 'Invoke-IcmpMultiPing'; Kind = 'Host'; Produce = 'Invoke-IcmpMultiPing 127.0.0.0/29, localhost -Count 2 -IntervalSeconds 0.05'
            Columns = @('Address', 'Status', 'Loss', 'Avg'); Shows = @('127.0.0.6', 'Success'); ShowsWide = @('localhost') }
        @{ Cmdlet = 'Trace-IcmpRoute'; Kind = 'Hop'; Produce = 'Trace-IcmpRoute 127.0.0.1'
            Columns = @('Hop', 'Address', 'Status'); Shows = @('127.0.0.1'); ShowsWide = @() }
        @{ Cmdlet = 'New-IcmpSocket'; Kind = 'IcmpSocket'; Produce = 'New-IcmpSocket -Source 127.0.0.1'
            Columns = @('Family', 'Kind', 'Source', 'Interface', 'Broadcast', 'IsClosed'); Shows = @('IPv4', '127.0.0.1'); ShowsWide = @() }
        @{ Cmdlet = 'New-IcmpRequest'; Kind = 'Request'; Produce = 'New-IcmpRequest 127.0.0.1 -Identifier 4321 -Sequence 7'
            Columns = @('Seq', 'Identifier', 'Ttl', 'Destination'); Shows = @('127.0.0.1', '4321'); ShowsWide = @() }
    )
    $covered = @($views | ForEach-Object { $_.Cmdlet } | Sort-Object -Unique)
    $views = @($views | Where-Object { $_.Cmdlet -in $cmdlets })
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestSupport.psm1') -Force
    Import-Module (Get-IcmpToolsManifest) -Force
    $PSStyle.OutputRendering = 'PlainText'

    function Get-Table {
        param([object[]]$InputObject, [int]$Width)
        # Blank lines and a grouped view's group header ("Target: ..." above each trace's hops) are not the table.
        @(($InputObject | Out-String -Width $Width) -split '\r?\n' | Where-Object { $_.Trim() -and $_ -notmatch '^\s*Target: ' })
    }
}

Describe 'The view of every exported cmdlet' {
    It 'has a loopback producer in this file for <Cmdlet>' -ForEach @($cmdlets | ForEach-Object { @{ Cmdlet = $_; Covered = $covered } }) {
        # A new cmdlet's objects must be checked here too: add it to $views above.
        $Cmdlet | Should -BeIn $Covered
    }
}

Describe 'The <Kind> table of <Cmdlet>' -ForEach $views {
    BeforeAll {
        $objects = @(Invoke-Expression $Produce)
        $objects | Should -Not -BeNullOrEmpty
        $narrow = Get-Table $objects 80
        $wide = Get-Table $objects 160
    }

    It 'fits 80 columns with every column header on one line' {
        $narrow | Where-Object Length -GT 80 | Should -BeNullOrEmpty
        # A header that does not fit is printed one letter a line: the first line then holds only parts.
        foreach ($column in $Columns) {
            $narrow[0] | Should -Match "\b$column" -Because "the header line at 80 columns was '$($narrow[0])'"
        }
        $narrow[1] | Should -Match '^[- ]+$' -Because 'the second line is the ruler under a one-line header'
    }

    It 'shows addresses and status in full at 80 columns, and names too when wider' {
        $text = $narrow -join "`n"
        foreach ($value in $Shows) {
            # Whole, not cut ('local…'): neither a letter, digit, dot nor colon may touch it.
            $text | Should -Match "(?<![\w.:])$([regex]::Escape($value))(?![\w.:…])" -Because "the table at 80 columns was:`n$text"
        }
        $wideText = $wide -join "`n"
        foreach ($value in @($Shows) + @($ShowsWide)) {
            $wideText | Should -Match "(?<![\w.:])$([regex]::Escape($value))(?![\w.:…])" -Because "the table at 160 columns was:`n$wideText"
        }
    }

    It 'keeps every column at 160 and no column pads itself out of all proportion' {
        foreach ($column in $Columns) {
            $wide[0] | Should -Match "\b$column"
        }
        $wide | Where-Object Length -GT 160 | Should -BeNullOrEmpty
        # The spare width goes to the address columns (long IPv6 addresses and names), not to a column in
        # the middle of the numbers: no long run of spaces before the first address column.
        $numbers = ($wide[0] -split '\b(Address|Destination)\b')[0]
        $numbers.Trim() | Should -Not -Match '\S {25,}\S' -Because "the header at 160 columns was '$($wide[0])'"
    }

    It 'lists every property in the list view' {
        $list = $objects[0] | Format-List | Out-String -Width 160
        foreach ($property in $objects[0].PSObject.Properties | Where-Object MemberType -EQ 'Property') {
            $list | Should -Match "(?m)^$($property.Name)\s*:" -Because "Format-List showed:`n$list"
        }
    }
}

Describe 'The trace table marks a router that refused to forward as traceroute does' {
    BeforeAll {
        function New-RefusingHop([string]$Family, [string]$Status, [int]$Code) {
            $address = if ($Family -eq 'IPv4') { '198.18.2.2' } else { '2001:db8:2::2' }
            [IcmpTools.Engine.Models.Hop]::new('198.18.9.9', $Family, 2, [string[]]@($address), $null, [double[]]@(0.5), 1,
                $Status, $Code, 63, 1, $false, 0, [IcmpTools.Engine.Models.HopLink[]]@())
        }
    }

    It 'shows <Mark> for <Family> <Status> code <Code>, not the bare code' -ForEach @(
        @{ Family = 'IPv4'; Status = 'DestinationUnreachable'; Code = 1; Mark = '!H' }
        @{ Family = 'IPv4'; Status = 'DestinationUnreachable'; Code = 0; Mark = '!N' }
        @{ Family = 'IPv4'; Status = 'DestinationUnreachable'; Code = 2; Mark = '!P' }
        @{ Family = 'IPv4'; Status = 'DestinationUnreachable'; Code = 13; Mark = '!X' }
        @{ Family = 'IPv4'; Status = 'DestinationUnreachable'; Code = 4; Mark = '!F' }
        @{ Family = 'IPv6'; Status = 'DestinationUnreachable'; Code = 3; Mark = '!H' }
        @{ Family = 'IPv6'; Status = 'DestinationUnreachable'; Code = 1; Mark = '!X' }
        @{ Family = 'IPv6'; Status = 'DestinationUnreachable'; Code = 0; Mark = '!N' }
        @{ Family = 'IPv6'; Status = 'PacketTooBig'; Code = 0; Mark = '!F' }
    ) {
        $hop = New-RefusingHop $Family $Status $Code
        $hop.Annotation | Should -BeExactly $Mark
        $address = $hop.Address
        $row = @(($hop | Out-String -Width 80) -split '\r?\n' | Where-Object { $_ -match '^\s*2 ' })
        $row | Should -HaveCount 1
        $row[0] | Should -Match "(?<!\S)$([regex]::Escape($Mark))(?!\S)"
        $row[0] | Should -Match "(?<!\S)$([regex]::Escape($address)) $([regex]::Escape($Mark))(?!\S)" -Because 'the mark follows the address, as traceroute prints it'
        $row[0] | Should -Match "(?<!\S)$Status(?!\S)" -Because 'the status is the enum''s own name in full'
    }

    It 'marks nothing on a router that forwarded or on the destination' {
        (New-RefusingHop 'IPv4' 'TimeExceeded' 0).Annotation | Should -BeNullOrEmpty
        (New-RefusingHop 'IPv4' 'Success' 0).Annotation | Should -BeNullOrEmpty
    }
}

Describe 'Every table shows Status by the enum''s own name, so the text shown is the text to filter by' {
    BeforeAll {
        $statuses = [enum]::GetNames([IcmpTools.Engine.Models.IcmpStatus])
        $router = '198.18.2.2'
        function Assert-StatusShown {
            <# Each object alone at 80 columns: its row holds its Status whole, and filtering by that word finds it. #>
            param([object[]]$InputObject)
            foreach ($object in $InputObject) {
                $lines = Get-Table @($object) 80
                $lines | Should -HaveCount 3
                $name = "$($object.Status)"
                $lines[2] | Should -Match "(?<!\S)$name(?!\S)" -Because "the row of a $name result was '$($lines[2])'"
                @($InputObject | Where-Object Status -EQ $name) | Should -HaveCount 1
            }
        }
    }

    It 'in the Host table' {
        Assert-StatusShown @(foreach ($status in $statuses) {
            [IcmpTools.Engine.Models.Host]::new('127.0.0.1', $null, 'IPv4', 1, [double[]]@(), 0, $status, $router)
        })
    }

    It 'in the Reply table' {
        Assert-StatusShown @(for ($i = 0; $i -lt $statuses.Count; $i++) {
            [IcmpTools.Engine.Models.Reply]::new('127.0.0.1', $router, 'IPv4', 7, $i, 3, 1, 36, $null, 64, [datetime]::UtcNow, $statuses[$i])
        })
    }

    It 'in the Hop table, a rate-limited router still TimeExceeded' {
        $hops = @(foreach ($status in $statuses) {
            [IcmpTools.Engine.Models.Hop]::new('198.18.9.9', 'IPv4', 2, [string[]]@($router), $null, [double[]]@(0.5), 1,
                $status, 0, 63, 1, ($status -eq 'TimeExceeded'), 0, [IcmpTools.Engine.Models.HopLink[]]@())
        })
        Assert-StatusShown $hops
        (Get-Table @($hops | Where-Object Status -EQ TimeExceeded) 80)[2] | Should -Match '(?<!\S)TimeExceeded \(ratelimit\)$'
    }
}

Describe 'The Host table keeps an IPv6 address whole at 80 columns' {
    It 'shows <Address> whole beside the longest status' -ForEach @(
        @{ Address = '::1' }
        @{ Address = 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff' }
        @{ Address = '2001:db8:aaaa:bbbb:cccc:dddd:eeee:ffff' }
    ) {
        $hostObject = [IcmpTools.Engine.Models.Host]::new($Address, $null, 'IPv6', 3, [double[]]@(), 0, 'DestinationUnreachable', '2001:db8::1')
        $lines = Get-Table @($hostObject) 80
        $lines | Where-Object Length -GT 80 | Should -BeNullOrEmpty
        $lines[2] | Should -Match "(?<![\w:])DestinationUnreachable\s.*(?<![\w:])$([regex]::Escape($Address))$" -Because "the row at 80 columns was '$($lines[2])'"
    }

    It 'shows the real ::1 whole from Test-IcmpEcho' {
        $lines = Get-Table @(Test-IcmpEcho ::1 -Count 1) 80
        $lines[2] | Should -Match '^Success\s.*\s::1$'
    }
}

Describe 'The -Mtu -ResolveAsn trace table keeps an IPv6 address whole at 80 columns' {
    BeforeAll {
        # Hops as a -Mtu -ResolveAsn trace writes them: an origin AS, a path MTU and the cmdlet's type name first.
        function New-MtuAsnHop([int]$Distance, [string[]]$Addresses, [string]$Status, [int]$Code, $Asn, [int]$Mtu) {
            $internal = [Reflection.BindingFlags]'NonPublic,Instance'
            [double[]]$rtts = @()
            if ($Addresses) { $rtts = 12.5, 12.5, 12.5 }
            $hop = [IcmpTools.Engine.Models.Hop]::new('2001:db8:aaaa:bbbb:cccc:dddd:eeee:ffff', 'IPv6', $Distance, $Addresses, $null,
                $rtts, 3, $Status, $Code, 63, 1, $false, 0, [IcmpTools.Engine.Models.HopLink[]]@())
            if ($Asn) {
                $origin = [IcmpTools.Engine.Models.AsnInfo]::new($Asn, '2001:db8::/32', 'ZZ', 'arin', '2011-01-01')
                $hop = [IcmpTools.Engine.Models.Hop].GetMethod('WithAsn', $internal).Invoke($hop, @($origin))
            }
            $hop = [IcmpTools.Engine.Models.Hop].GetMethod('WithMtu', $internal).Invoke($hop, @($Mtu))
            $shown = [psobject]::AsPSObject($hop)
            $shown.PSObject.TypeNames.Insert(0, 'IcmpTools.Engine.Models.Hop#MtuAsn')
            $shown
        }
        $lines = Get-Table @(
            New-MtuAsnHop 1 @('2001:db8:1111:2222:3333:4444:5555:6666') 'TimeExceeded' 0 64511 1500
            New-MtuAsnHop 2 @('ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', '2001:db8::2') 'DestinationUnreachable' 3 396982 1280
            New-MtuAsnHop 3 @() 'TimedOut' 0 $null 1280
        ) 80
        $text = $lines -join "`n"
    }

    It 'shows the AS, the Mtu, Loss, Sent and Avg beside it, Min, Max and Status giving way' {
        $lines[0] | Should -Match '^Hop\s+AS Address\s+Mtu\s+Loss\s+Sent\s+Avg\(ms\)$' -Because $text
        $lines | Where-Object Length -GT 80 | Should -BeNullOrEmpty
    }

    It 'keeps each address whole, with the other responder and the mark after it' {
        $lines[2] | Should -Match '^\s+1\s+64511 2001:db8:1111:2222:3333:4444:5555:6666\s+1500\s+0%\s+3\s+12\.500$' -Because $text
        $lines[3] | Should -Match '^\s+2\s+396982 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff \+1 !H\s+1280\s+0%\s+3\s+12\.500$' -Because $text
        $lines[4] | Should -Match '^\s+3\s+\*\s+1280\s+100%\s+3\s*$' -Because $text
    }
}
