<?php
/*
 * Flowize SOAP round trip with PHP's own SoapClient (ext/soap), driven by tests/interop/test_interop_clients.py.
 *
 *   php flowize_client.php WSDL_URL [1.1|1.2]
 *
 * Loads the WSDL from the running gateway (no cache), then: insertRecord -> getRecord -> getRecord of an
 * unknown Uuid (fault) -> insertRecord with a wrong Apikey (fault). Prints one JSON object; the test
 * asserts on it. Values are printed as the stack read them, nothing is patched up here: an empty field
 * or an unparsed fault must show in the output.
 */

ini_set('default_socket_timeout', '15');

$wsdl = $argv[1] ?? 'http://127.0.0.1:8080/v1/soap?wsdl';
$version = $argv[2] ?? '1.1';
$data = json_decode($argv[3] ?? '{"client":[{"name":"PHP SoapClient"}]}', true);

$out = ['stack' => 'php-soapclient', 'php' => PHP_VERSION, 'soap_version' => $version, 'steps' => []];

function auth(string $apikey = 'demo-api-key'): array
{
    return ['Apikey' => $apikey, 'Appkey' => 'demo-app', 'Version' => '1'];
}

function result_fields($result, string $operation): array
{
    $wrapper = $operation . 'Result';
    $r = $result->$wrapper ?? null;
    $fields = [];
    foreach (['Id', 'Code', 'RequestIP', 'Resource', 'Message', 'Error'] as $name) {
        $fields[$name] = is_object($r) && property_exists($r, $name) ? $r->$name : null;
    }
    return $fields;
}

function fault_fields(SoapFault $f): array
{
    // The detail as ext/soap decoded it against the WSDL's FlowizeFault part (<item><key/><value/></item>).
    $items = [];
    $detail = $f->detail ?? null;
    if (is_object($detail) && isset($detail->item)) {
        foreach (is_array($detail->item) ? $detail->item : [$detail->item] as $item) {
            if (is_object($item) && isset($item->key)) {
                $items[(string)$item->key] = isset($item->value) ? (string)$item->value : null;
            }
        }
    }
    return [
        'faultcode' => $f->faultcode ?? null,
        'faultstring' => $f->faultstring ?? null,
        'faultactor' => $f->faultactor ?? null,
        'detail' => $items,
        'detail_raw_type' => gettype($detail),
    ];
}

try {
    $client = new SoapClient($wsdl, [
        'soap_version' => $version === '1.2' ? SOAP_1_2 : SOAP_1_1,
        'cache_wsdl' => WSDL_CACHE_NONE,
        'exceptions' => true,
        'trace' => true,
        'connection_timeout' => 10,
        'features' => SOAP_SINGLE_ELEMENT_ARRAYS,
    ]);
} catch (Throwable $e) {
    $out['error'] = 'WSDL rejected: ' . $e->getMessage();
    echo json_encode($out, JSON_PRETTY_PRINT | JSON_UNESCAPED_SLASHES), "\n";
    exit(0);
}

$functions = [];
foreach ($client->__getFunctions() as $sig) {
    if (preg_match('/^\S+\s+(\w+)\(/', $sig, $m)) {
        $functions[] = $m[1];
    }
}
$out['operations'] = array_values(array_unique($functions));

function step(array &$out, SoapClient $client, string $name, string $operation, array $input): ?array
{
    $entry = ['operation' => $operation];
    try {
        $result = $client->__soapCall($operation, [['input' => $input]]);
        $entry['result'] = result_fields($result, $operation);
    } catch (SoapFault $f) {
        $entry['fault'] = fault_fields($f);
    }
    $headers = $client->__getLastResponseHeaders() ?? '';
    $entry['content_type'] = preg_match('/^Content-Type:\s*(.+)$/mi', $headers, $m) ? trim($m[1]) : null;
    $entry['request_content_type'] = preg_match('/^Content-Type:\s*(.+)$/mi', $client->__getLastRequestHeaders() ?? '', $m)
        ? trim($m[1]) : null;
    $out['steps'][$name] = $entry;
    return $entry['result'] ?? null;
}

$inserted = step($out, $client, 'insert', 'insertRecord', [
    'AuthenticationObject' => auth(),
    'DataRecordObject' => ['Data' => base64_encode(json_encode($data))],
    'FlowDiagramObject' => ['Flow' => 'demo-flow'],
]);
$resource = $inserted['Resource'] ?? null;
$out['inserted_resource_decoded'] = $resource !== null ? json_decode(base64_decode($resource, true) ?: 'null', true) : null;

// insertRecord's Id is "created"; the record's uuid comes back from the upstream in the REST answer only,
// so insert again with our own Uuid and read that one back.
$uuid = sprintf('php-%s-%s', str_replace('.', '', $version), bin2hex(random_bytes(6)));
step($out, $client, 'insert_with_uuid', 'insertRecord', [
    'AuthenticationObject' => auth(),
    'DataRecordObject' => ['Uuid' => $uuid, 'Data' => base64_encode(json_encode($data))],
    'FlowDiagramObject' => ['Flow' => 'demo-flow'],
]);
$out['uuid'] = $uuid;
$got = step($out, $client, 'get', 'getRecord', [
    'AuthenticationObject' => auth(),
    'DataRecordObject' => ['Uuid' => $uuid],
]);
$out['got_resource_decoded'] = isset($got['Resource']) ? json_decode($got['Resource'], true) : null;

step($out, $client, 'get_unknown', 'getRecord', [
    'AuthenticationObject' => auth(),
    'DataRecordObject' => ['Uuid' => 'no-such-record-' . bin2hex(random_bytes(4))],
]);
step($out, $client, 'wrong_apikey', 'insertRecord', [
    'AuthenticationObject' => auth('wrong-api-key'),
    'DataRecordObject' => ['Data' => base64_encode(json_encode($data))],
    'FlowDiagramObject' => ['Flow' => 'demo-flow'],
]);

echo json_encode($out, JSON_PRETTY_PRINT | JSON_UNESCAPED_SLASHES), "\n";
