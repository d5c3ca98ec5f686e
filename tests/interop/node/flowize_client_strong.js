#!/usr/bin/env node
/*
 * Flowize SOAP round trip with the npm `strong-soap` client, driven by tests/interop/test_interop_clients.py.
 *
 *   node flowize_client_strong.js WSDL_URL [1.1|1.2] [DATA_JSON]
 *
 * Loads the WSDL from the running gateway and calls through the FlowizeSoap11 or FlowizeSoap12 port of
 * FlowizeService; strong-soap takes the SOAP version from the port's binding. (Its client-level
 * shortcuts, client.insertRecord(...), are bound to the *last* port of the service, FlowizeSoap12: name
 * the port, as here, to choose.) Then: insertRecord -> insertRecord with our own Uuid -> getRecord ->
 * getRecord of an unknown Uuid (fault) -> insertRecord with a wrong Apikey (fault). Prints one JSON
 * object; what strong-soap warned about while loading the WSDL is in "warnings" (it prints WS-I
 * violations with console.warn). Values are printed as the stack read them: nothing is patched up here.
 */
'use strict';

const crypto = require('node:crypto');

const warnings = [];
for (const method of ['warn', 'error']) {
  const original = console[method].bind(console);
  console[method] = (...args) => { warnings.push(args.map(String).join(' ')); original(...args); };
}
const soap = require('strong-soap').soap;

const wsdlUrl = process.argv[2] || 'http://127.0.0.1:8080/v1/soap?wsdl';
const version = process.argv[3] || '1.1';
const data = JSON.parse(process.argv[4] || '{"client":[{"name":"strong-soap"}]}');
const FIELDS = ['Id', 'Code', 'RequestIP', 'Resource', 'Message', 'Error'];

const auth = (apikey = 'demo-api-key') => ({ Apikey: apikey, Appkey: 'demo-app', Version: '1' });
const b64 = (value) => Buffer.from(JSON.stringify(value)).toString('base64');

function resultFields(result, operation) {
  const r = result && result[`${operation}Result`];
  const fields = {};
  for (const name of FIELDS) fields[name] = r && name in r ? r[name] : null;
  return fields;
}

function text(node) {
  // Parsed nodes are strings, or objects with $value when the element carries attributes (xml:lang).
  if (node === undefined || node === null) return null;
  if (typeof node === 'object') return '$value' in node ? String(node.$value) : JSON.stringify(node);
  return String(node);
}

function faultFields(err) {
  const fault = err && err.root && err.root.Envelope && err.root.Envelope.Body && err.root.Envelope.Body.Fault;
  if (!fault) return { unparsed: String(err && err.message) };
  const detail = fault.detail || fault.Detail || {};
  const items = {};
  for (const item of [].concat(detail.item || [])) {
    if (item && item.key !== undefined) items[text(item.key)] = text(item.value);
  }
  return {
    faultcode: fault.faultcode !== undefined ? text(fault.faultcode) : text(fault.Code && fault.Code.Value),
    faultstring: fault.faultstring !== undefined ? text(fault.faultstring) : text(fault.Reason && fault.Reason.Text),
    faultactor: fault.faultactor !== undefined ? text(fault.faultactor) : text(fault.Role),
    detail: items,
  };
}

function createClient() {
  return new Promise((resolve, reject) => {
    soap.createClient(wsdlUrl, { wsdl_options: { timeout: 10000 } },
      (err, client) => (err ? reject(err) : resolve(client)));
  });
}

async function main() {
  const out = { stack: 'strong-soap', soap_package: require('strong-soap/package.json').version,
                node: process.version, soap_version: version, steps: {} };
  let client;
  try {
    client = await createClient();
  } catch (err) {
    out.error = `WSDL rejected: ${err.message}`;
    out.warnings = warnings;
    console.log(JSON.stringify(out, null, 2));
    return;
  }
  out.warnings = warnings.slice();
  const description = client.describe();
  out.services = Object.keys(description);
  out.ports = Object.keys(description.FlowizeService || {});
  out.operations = Object.keys((description.FlowizeService || {}).FlowizeSoap11 || {});
  const port = client.FlowizeService[version === '1.2' ? 'FlowizeSoap12' : 'FlowizeSoap11'];

  async function step(name, operation, input) {
    const entry = { operation };
    try {
      const result = await new Promise((resolve, reject) => {
        port[operation]({ input }, (err, res) => (err ? reject(err) : resolve(res)), { timeout: 10000 });
      });
      entry.result = resultFields(result, operation);
    } catch (err) {
      entry.fault = faultFields(err);
    }
    const headers = client.lastResponseHeaders || {};
    entry.content_type = headers['content-type'] || null;
    entry.request_content_type = client.lastRequestHeaders ? client.lastRequestHeaders['Content-Type'] : null;
    out.steps[name] = entry;
    return entry.result || null;
  }

  const inserted = await step('insert', 'insertRecord', {
    AuthenticationObject: auth(),
    DataRecordObject: { Data: b64(data) },
    FlowDiagramObject: { Flow: 'demo-flow' },
  });
  out.inserted_resource_decoded = inserted && inserted.Resource
    ? JSON.parse(Buffer.from(inserted.Resource, 'base64').toString('utf8')) : null;

  const uuid = `strong-${version.replace('.', '')}-${crypto.randomBytes(6).toString('hex')}`;
  out.uuid = uuid;
  await step('insert_with_uuid', 'insertRecord', {
    AuthenticationObject: auth(),
    DataRecordObject: { Uuid: uuid, Data: b64(data) },
    FlowDiagramObject: { Flow: 'demo-flow' },
  });
  const got = await step('get', 'getRecord', { AuthenticationObject: auth(), DataRecordObject: { Uuid: uuid } });
  out.got_resource_decoded = got && got.Resource ? JSON.parse(got.Resource) : null;

  await step('get_unknown', 'getRecord', {
    AuthenticationObject: auth(),
    DataRecordObject: { Uuid: `no-such-record-${crypto.randomBytes(4).toString('hex')}` },
  });
  await step('wrong_apikey', 'insertRecord', {
    AuthenticationObject: auth('wrong-api-key'),
    DataRecordObject: { Data: b64(data) },
    FlowDiagramObject: { Flow: 'demo-flow' },
  });
  console.log(JSON.stringify(out, null, 2));
}

main().catch((err) => {
  console.log(JSON.stringify({ stack: 'strong-soap', error: `crashed: ${err && err.stack}` }));
  process.exitCode = 1;
});
