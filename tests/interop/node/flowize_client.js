#!/usr/bin/env node
/*
 * Flowize SOAP round trip with the npm `soap` client, driven by tests/interop/test_interop_clients.py.
 *
 *   node flowize_client.js WSDL_URL [1.1|1.2]
 *
 * Loads the WSDL from the running gateway, picks the FlowizeSoap11 or FlowizeSoap12 port of
 * FlowizeService, then: insertRecord -> insertRecord with our own Uuid -> getRecord -> getRecord of an
 * unknown Uuid (fault) -> insertRecord with a wrong Apikey (fault). Prints one JSON object; the test
 * asserts on it. Values are printed as the stack read them: nothing is patched up here.
 */
'use strict';

const crypto = require('node:crypto');
const soap = require('soap');

const wsdlUrl = process.argv[2] || 'http://127.0.0.1:8080/v1/soap?wsdl';
const version = process.argv[3] || '1.1';
const data = JSON.parse(process.argv[4] || '{"client":[{"name":"Node soap"}]}');
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
  // sax nodes are strings, or objects with $value when they carry attributes.
  if (node === undefined || node === null) return null;
  if (typeof node === 'object') return '$value' in node ? String(node.$value) : JSON.stringify(node);
  return String(node);
}

function faultFields(err) {
  const fault = err && err.root && err.root.Envelope && err.root.Envelope.Body && err.root.Envelope.Body.Fault;
  if (!fault) return { unparsed: String(err && err.message), http_status: err && err.response && err.response.status };
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
    http_status: err.response && err.response.status,
  };
}

async function main() {
  const out = { stack: 'node-soap', soap_package: require('soap/package.json').version, node: process.version,
                soap_version: version, steps: {} };
  let client;
  try {
    client = await soap.createClientAsync(wsdlUrl, {
      forceSoap12Headers: version === '1.2',
      disableCache: true,
      wsdl_options: { timeout: 10000 },
    });
  } catch (err) {
    out.error = `WSDL rejected: ${err.message}`;
    console.log(JSON.stringify(out, null, 2));
    return;
  }
  const description = client.describe();
  out.services = Object.keys(description);
  const service = description.FlowizeService || {};
  out.ports = Object.keys(service);
  out.operations = Object.keys(service.FlowizeSoap11 || {});
  const port = client.FlowizeService[version === '1.2' ? 'FlowizeSoap12' : 'FlowizeSoap11'];

  async function step(name, operation, input) {
    const entry = { operation };
    try {
      const [result, , , rawRequest] = await new Promise((resolve, reject) => {
        port[operation]({ input }, (err, result, raw, header, rawRequest) =>
          (err ? reject(err) : resolve([result, raw, header, rawRequest])), { timeout: 10000 });
      });
      entry.result = resultFields(result, operation);
      entry.request_envelope_ns = (rawRequest.match(/Envelope[^>]*xmlns:\w+="(http[^"]+envelope[^"]*)"/) || [])[1] || null;
    } catch (err) {
      entry.fault = faultFields(err);
    }
    entry.content_type = client.lastResponseHeaders ? client.lastResponseHeaders['content-type'] : null;
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

  const uuid = `node-${version.replace('.', '')}-${crypto.randomBytes(6).toString('hex')}`;
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
  console.log(JSON.stringify({ stack: 'node-soap', error: `crashed: ${err && err.stack}` }));
  process.exitCode = 1;
});
