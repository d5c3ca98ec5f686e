#!/usr/bin/env perl
# Flowize SOAP round trip with Perl SOAP::Lite, driven by tests/interop/test_interop_clients.py.
#
#   perl flowize_client.pl WSDL_URL [1.1|1.2]
#
# SOAP::Lite's WSDL stubs (->service) are an rpc/encoded-era feature: for a document/literal wrapped
# WSDL they send <input xsi:nil="true"/> whatever you pass (a SOAP::Lite limitation, not the gateway's).
# So, as Perl users of doc/literal services do, this script reads the WSDL from the running gateway
# (endpoint of the FlowizeSoap11/FlowizeSoap12 port, target namespace, soapAction, operation names)
# and builds the calls with SOAP::Data. Then: insertRecord -> insertRecord with our own Uuid ->
# getRecord -> getRecord of an unknown Uuid (fault) -> insertRecord with a wrong Apikey (fault).
# Prints one JSON object; values are printed as SOAP::Lite read them, nothing is patched up here.
use strict;
use warnings;
use JSON::PP;
use LWP::UserAgent;
use MIME::Base64 qw(encode_base64 decode_base64);
use SOAP::Lite;
use XML::Parser;

my $wsdl_url = $ARGV[0] // 'http://127.0.0.1:8080/v1/soap?wsdl';
my $version = $ARGV[1] // '1.1';
my $data = decode_json($ARGV[2] // '{"client":[{"name":"Perl SOAP::Lite"}]}');
my $json = JSON::PP->new->utf8->canonical->pretty;
my %out = (stack => 'perl-soaplite', soap_lite => $SOAP::Lite::VERSION, soap_version => $version, steps => {});

# -- the WSDL ----------------------------------------------------------------------------------------
my $ua = LWP::UserAgent->new(timeout => 10);
my $wsdl_response = $ua->get($wsdl_url);
unless ($wsdl_response->is_success) {
    $out{error} = 'WSDL not served: ' . $wsdl_response->status_line;
    print $json->encode(\%out);
    exit 0;
}
my (%wsdl, @operations, %actions, %address, $binding_op);
my $want_port = $version eq '1.2' ? 'FlowizeSoap12' : 'FlowizeSoap11';
my ($in_port, $in_binding, $in_porttype) = ('', '', 0);
my $parser = XML::Parser->new(Handlers => {
    Start => sub {
        my ($p, $tag, %attr) = @_;
        (my $local = $tag) =~ s/^.*://;
        $wsdl{tns} //= $attr{targetNamespace} if $local eq 'definitions';
        $in_porttype = 1 if $local eq 'portType';
        push @operations, $attr{name} if $in_porttype && $local eq 'operation' && $p->depth == 2;
        $in_binding = $attr{name} if $local eq 'binding' && $p->depth == 1;
        $binding_op = $attr{name} if $in_binding && $local eq 'operation' && $p->depth == 2;
        $actions{$in_binding}{$binding_op} = $attr{soapAction} if $in_binding && $local eq 'operation' && $p->depth == 3;
        $in_port = $attr{name} if $local eq 'port';
        $address{$in_port} = $attr{location} if $in_port && $local eq 'address';
    },
    End => sub {
        my ($p, $tag) = @_;
        (my $local = $tag) =~ s/^.*://;
        $in_porttype = 0 if $local eq 'portType';
        $in_binding = '' if $local eq 'binding' && $p->depth == 1;
        $in_port = '' if $local eq 'port';
    },
});
eval { $parser->parse($wsdl_response->decoded_content); 1 } or do {
    $out{error} = "WSDL rejected: $@";
    print $json->encode(\%out);
    exit 0;
};
$out{operations} = \@operations;
$out{ports} = [sort keys %address];
my $endpoint = $address{$want_port};
my $binding = $version eq '1.2' ? 'FlowizeSoap12Binding' : 'FlowizeSoap11Binding';
$out{endpoint} = $endpoint;

# -- the calls ---------------------------------------------------------------------------------------
# SOAP::Lite quirk: soapversion() must be set on the class before the object exists; set on the object
# afterwards it sends an unqualified <Envelope> (a SOAP::Lite bug, nothing to do with the gateway).
SOAP::Lite->soapversion($version);
my $soap = SOAP::Lite->new(proxy => [$endpoint, timeout => 10]);
$soap->autotype(0);
$soap->ns($wsdl{tns}, 'tns');                      # operation element qualified, everything below it not
$soap->on_action(sub { $actions{$binding}{$_[1]} // "$wsdl{tns}#$_[1]" });
$soap->on_fault(sub { my ($s, $res) = @_; ref $res ? $res : die "transport error: " . $s->transport->status });

sub D { SOAP::Data->name(@_) }
sub S { my ($name, @pairs) = @_; D($name => \SOAP::Data->value(map { D($pairs[2 * $_] => $pairs[2 * $_ + 1]) } 0 .. $#pairs / 2)) }
sub auth { S('AuthenticationObject', Apikey => $_[0] // 'demo-api-key', Appkey => 'demo-app', Version => '1') }

sub step {
    my ($name, $operation, @parts) = @_;
    my %entry = (operation => $operation);
    my $som = $soap->call(D("tns:$operation") => D(input => \SOAP::Data->value(@parts)));
    if ($som->fault) {
        my %items = map { ($_->{key} // '') => $_->{value} } grep { ref $_ eq 'HASH' }
            $som->valueof($version eq '1.2' ? '//Fault/Detail/item' : '//Fault/detail/item');
        # SOM's faultcode/faultstring/faultactor accessors read SOAP 1.1 names only; in 1.2 the same
        # facts are Code/Value, Reason/Text and Role.
        $entry{fault} = $version eq '1.2' ? {
            faultcode => scalar $som->valueof('//Fault/Code/Value'),
            faultstring => scalar $som->valueof('//Fault/Reason/Text'),
            faultactor => scalar $som->valueof('//Fault/Role'),
            detail => \%items,
        } : {
            faultcode => scalar $som->faultcode,
            faultstring => scalar $som->faultstring,
            faultactor => scalar $som->faultactor,
            detail => \%items,
        };
    } else {
        my $r = $som->valueof("//${operation}Response/${operation}Result");
        $entry{result} = { map { ($_ => ref $r eq 'HASH' ? $r->{$_} : undef) } qw(Id Code RequestIP Resource Message Error) };
    }
    my $http = $soap->transport->http_response;
    $entry{content_type} = $http ? scalar $http->header('Content-Type') : undef;
    $entry{request_content_type} = $http && $http->request ? scalar $http->request->header('Content-Type') : undef;
    $out{steps}{$name} = \%entry;
    return $entry{result};
}

my $b64 = encode_base64(encode_json($data), '');
my $inserted = step('insert', 'insertRecord', auth(), S('DataRecordObject', Data => $b64), S('FlowDiagramObject', Flow => 'demo-flow'));
$out{inserted_resource_decoded} = $inserted && $inserted->{Resource} ? decode_json(decode_base64($inserted->{Resource})) : undef;

my $uuid = sprintf('perl-%s-%06x%06x', $version =~ s/\.//r, int(rand(0xffffff)), $$ & 0xffffff);
$out{uuid} = $uuid;
step('insert_with_uuid', 'insertRecord', auth(), S('DataRecordObject', Uuid => $uuid, Data => $b64), S('FlowDiagramObject', Flow => 'demo-flow'));
my $got = step('get', 'getRecord', auth(), S('DataRecordObject', Uuid => $uuid));
$out{got_resource_decoded} = $got && $got->{Resource} ? decode_json($got->{Resource}) : undef;

step('get_unknown', 'getRecord', auth(), S('DataRecordObject', Uuid => sprintf('no-such-record-%08x', int(rand(0xffffffff)))));
step('wrong_apikey', 'insertRecord', auth('wrong-api-key'), S('DataRecordObject', Data => $b64), S('FlowDiagramObject', Flow => 'demo-flow'));

print $json->encode(\%out);
