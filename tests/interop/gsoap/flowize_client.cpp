// Flowize SOAP round trip with gSOAP stubs (wsdl2h -Nflowize, soapcpp2 -j -C), driven by
// tests/interop/test_interop_codegen.py.
//
//   flowize_client ENDPOINT 1.1|1.2 BASE64_DATA UUID
//
// insertRecord -> getRecord -> getRecord of an unknown Uuid (fault) -> insertRecord with a wrong Apikey
// (fault), through the generated FlowizeSoap11Binding or FlowizeSoap12Binding proxy. Prints one JSON
// object with the values as gSOAP read them. The WSDL declares no fault element (docs/soap-decisions.md,
// F4), so gSOAP keeps the detail as literal XML in its one SOAP_ENV__Detail::__any string: that holds
// the first <item> only, which the gateway makes the "code" one; the message is the faultstring.
#include <cstdio>
#include <string>

#include "soapFlowizeSoap11BindingProxy.h"
#include "soapFlowizeSoap12BindingProxy.h"
#include "FlowizeSoap11Binding.nsmap"

// soapcpp2 writes one namespace table for all bindings of a header (SOAP 1.2's envelope when any binding
// is 1.2): the SOAP 1.1 proxy gets the same table with the 1.1 envelope and encoding namespaces.
static struct Namespace soap11_namespaces[sizeof namespaces / sizeof namespaces[0]];
static void make_soap11_namespaces() {
    for (size_t i = 0; i < sizeof namespaces / sizeof namespaces[0]; ++i) soap11_namespaces[i] = namespaces[i];
    soap11_namespaces[0].ns = "http://schemas.xmlsoap.org/soap/envelope/";
    soap11_namespaces[0].in = "http://www.w3.org/2003/05/soap-envelope";
    soap11_namespaces[1].ns = "http://schemas.xmlsoap.org/soap/encoding/";
    soap11_namespaces[1].in = "http://www.w3.org/2003/05/soap-encoding";
}

static std::string q(const char *s) {
    if (!s) return "null";
    std::string out = "\"";
    for (const unsigned char *p = reinterpret_cast<const unsigned char *>(s); *p; ++p) {
        char buf[8];
        switch (*p) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            default:
                if (*p < 0x20) { std::snprintf(buf, sizeof buf, "\\u%04x", *p); out += buf; }
                else out += static_cast<char>(*p);
        }
    }
    return out + "\"";
}
static std::string q(const std::string *s) { return s ? q(s->c_str()) : "null"; }

static std::string result_json(const flowize__Response *r) {
    if (!r) return "null";
    return "{\"Id\": " + q(r->Id) + ", \"Code\": " + q(r->Code) + ", \"RequestIP\": " + q(r->RequestIP) +
           ", \"Resource\": " + q(r->Resource) + ", \"Message\": " + q(r->Message) + ", \"Error\": " + q(r->Error) + "}";
}

static std::string fault_json(struct soap *soap) {
    const SOAP_ENV__Fault *f = soap->fault;
    if (!f) return "{\"unparsed\": " + q(std::to_string(soap->error).c_str()) + "}";
    const char *code = f->faultcode, *actor = f->faultactor;
    const SOAP_ENV__Detail *detail = f->detail;
    if (soap->version == 2) {
        code = f->SOAP_ENV__Code ? f->SOAP_ENV__Code->SOAP_ENV__Value : nullptr;
        actor = f->SOAP_ENV__Role;
        detail = f->SOAP_ENV__Detail;
    }
    return "{\"faultcode\": " + q(code) + ", \"faultstring\": " + q(soap_fault_string(soap)) +
           ", \"faultactor\": " + q(actor) + ", \"detail_xml\": " + q(detail ? detail->__any : nullptr) + "}";
}

template <class Proxy>
static int run(Proxy &proxy, const char *version, const std::string &data, const std::string &uuid) {
    std::string apikey = "demo-api-key", wrong = "wrong-api-key", app = "demo-app", one = "1", flow = "demo-flow";
    std::string unknown = "no-such-record-" + uuid;
    flowize__AuthenticationObject good, bad;
    good.Apikey = &apikey; good.Appkey = &app; good.Version = &one;
    bad.Apikey = &wrong; bad.Appkey = &app; bad.Version = &one;
    flowize__FlowDiagramObject diagram;
    diagram.Flow = &flow;

    std::string out = "{\"stack\": \"gsoap\", \"gsoap\": " + q(std::to_string(GSOAP_VERSION).c_str()) +
                      ", \"soap_version\": " + q(version) + ", \"steps\": {";
    auto step = [&](const char *name, int rc, const std::string &ok) {
        out += std::string(out.back() == '{' ? "" : ", ") + q(name) + ": {";
        out += rc == SOAP_OK ? "\"result\": " + ok : "\"fault\": " + fault_json(proxy.soap);
        out += ", \"envelope_version\": " + std::to_string(proxy.soap->version) + "}";
    };

    flowize__DataRecordObject record;
    record.Uuid = const_cast<std::string *>(&uuid);
    record.Data = const_cast<std::string *>(&data);
    flowize__InsertRecordRequest insert;
    insert.AuthenticationObject = &good; insert.DataRecordObject = &record; insert.FlowDiagramObject = &diagram;
    _flowize__insertRecord insert_call; insert_call.input = &insert;
    _flowize__insertRecordResponse inserted;
    int rc = proxy.insertRecord(&insert_call, inserted);
    step("insert", rc, rc == SOAP_OK ? result_json(inserted.insertRecordResult) : "");

    flowize__DataRecordObject wanted;
    wanted.Uuid = const_cast<std::string *>(&uuid);
    flowize__GetRecordRequest get;
    get.AuthenticationObject = &good; get.DataRecordObject = &wanted;
    _flowize__getRecord get_call; get_call.input = &get;
    _flowize__getRecordResponse got;
    rc = proxy.getRecord(&get_call, got);
    step("get", rc, rc == SOAP_OK ? result_json(got.getRecordResult) : "");

    flowize__DataRecordObject missing;
    missing.Uuid = &unknown;
    get.DataRecordObject = &missing;
    _flowize__getRecordResponse none;
    rc = proxy.getRecord(&get_call, none);
    step("get_unknown", rc, rc == SOAP_OK ? result_json(none.getRecordResult) : "");

    insert.AuthenticationObject = &bad;
    record.Uuid = nullptr;
    _flowize__insertRecordResponse refused;
    rc = proxy.insertRecord(&insert_call, refused);
    step("wrong_apikey", rc, rc == SOAP_OK ? result_json(refused.insertRecordResult) : "");

    std::printf("%s}}\n", out.c_str());
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 5) {
        std::fprintf(stderr, "usage: %s ENDPOINT 1.1|1.2 BASE64_DATA UUID\n", argv[0]);
        return 2;
    }
    std::string version = argv[2], data = argv[3], uuid = argv[4];
    if (version == "1.2") {
        FlowizeSoap12BindingProxy proxy(argv[1]);
        proxy.soap->send_timeout = proxy.soap->recv_timeout = proxy.soap->connect_timeout = 10;
        return run(proxy, argv[2], data, uuid);
    }
    FlowizeSoap11BindingProxy proxy(argv[1]);
    // One soapcpp2 run serves both bindings with one namespace table (SOAP 1.2's, since one binding is
    // 1.2); the 1.1 proxy must say its version itself.
    make_soap11_namespaces();
    soap_set_namespaces(proxy.soap, soap11_namespaces);
    proxy.soap->send_timeout = proxy.soap->recv_timeout = proxy.soap->connect_timeout = 10;
    return run(proxy, argv[2], data, uuid);
}
