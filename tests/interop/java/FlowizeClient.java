// Flowize SOAP round trip with the JAX-WS client `wsimport` generates (package flowize), driven by
// tests/interop/test_interop_codegen.py.
//
//   java -cp classes:/usr/share/java/jaxws-rt.jar FlowizeClient WSDL_URL 1.1|1.2 BASE64_DATA UUID
//
// Loads the WSDL from the running gateway, takes the FlowizeSoap11 or FlowizeSoap12 port, then:
// insertRecord -> getRecord -> getRecord of an unknown Uuid (fault) -> insertRecord with a wrong Apikey
// (fault). The WSDL declares no wsdl:fault (docs/soap-decisions.md, F4), so a fault is JAX-WS's
// SOAPFaultException: code, string, actor/role and the detail's <item> pairs are read through SAAJ.
// Prints one JSON object with the values as JAX-WS read them.
import flowize.*;

import java.net.URL;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;
import javax.xml.bind.JAXBElement;
import javax.xml.soap.Detail;
import javax.xml.soap.DetailEntry;
import javax.xml.soap.SOAPFault;
import javax.xml.ws.BindingProvider;
import javax.xml.ws.soap.SOAPFaultException;

public final class FlowizeClient {
    static String q(String s) {
        if (s == null) return "null";
        StringBuilder b = new StringBuilder("\"");
        for (char c : s.toCharArray()) {
            if (c == '"' || c == '\\') b.append('\\').append(c);
            else if (c < ' ') b.append(String.format("\\u%04x", (int) c));
            else b.append(c);
        }
        return b.append('"').toString();
    }

    static final ObjectFactory F = new ObjectFactory();

    static String q(JAXBElement<String> e) {
        return q(e == null ? null : e.getValue());
    }

    static String result(Response r) {
        if (r == null) return "null";
        return "{\"Id\": " + q(r.getId()) + ", \"Code\": " + q(r.getCode()) + ", \"RequestIP\": " + q(r.getRequestIP())
            + ", \"Resource\": " + q(r.getResource()) + ", \"Message\": " + q(r.getMessage()) + ", \"Error\": " + q(r.getError()) + "}";
    }

    static String fault(SOAPFaultException e) {
        SOAPFault f = e.getFault();
        List<String> items = new ArrayList<>();
        Detail detail = f.getDetail();
        if (detail != null) {
            for (Iterator<?> it = detail.getDetailEntries(); it.hasNext();) {
                DetailEntry item = (DetailEntry) it.next();
                String key = null, value = null;
                for (org.w3c.dom.Node n = item.getFirstChild(); n != null; n = n.getNextSibling()) {
                    if ("key".equals(n.getLocalName())) key = n.getTextContent();
                    if ("value".equals(n.getLocalName())) value = n.getTextContent();
                }
                items.add(q(key) + ": " + q(value));
            }
        }
        // SAAJ's getFaultActor is faultactor in SOAP 1.1 and Role in SOAP 1.2.
        String actor = f.getFaultActor();
        return "{\"faultcode\": " + q(f.getFaultCode()) + ", \"faultstring\": " + q(f.getFaultString())
            + ", \"faultactor\": " + q(actor) + ", \"detail\": {" + String.join(", ", items) + "}}";
    }

    static String step(String name, Supplier<Response> call) {
        try {
            return q(name) + ": {\"result\": " + result(call.get()) + "}";
        } catch (SOAPFaultException e) {
            return q(name) + ": {\"fault\": " + fault(e) + "}";
        }
    }

    static AuthenticationObject auth(String key) {
        AuthenticationObject a = new AuthenticationObject();
        a.setApikey(F.createAuthenticationObjectApikey(key));
        a.setAppkey(F.createAuthenticationObjectAppkey("demo-app"));
        a.setVersion(F.createAuthenticationObjectVersion("1"));
        return a;
    }

    public static void main(String[] args) throws Exception {
        String wsdl = args[0], version = args[1], data = args[2], uuid = args[3];
        FlowizeService service = new FlowizeService(new URL(wsdl));
        FlowizePortType port = "1.2".equals(version) ? service.getFlowizeSoap12() : service.getFlowizeSoap11();
        Map<String, Object> ctx = ((BindingProvider) port).getRequestContext();
        ctx.put("com.sun.xml.ws.connect.timeout", 10000);
        ctx.put("com.sun.xml.ws.request.timeout", 15000);

        DataRecordObject record = new DataRecordObject();
        record.setUuid(F.createDataRecordObjectUuid(uuid));
        record.setData(F.createDataRecordObjectData(data));
        FlowDiagramObject flow = new FlowDiagramObject();
        flow.setFlow(F.createFlowDiagramObjectFlow("demo-flow"));
        InsertRecordRequest insert = new InsertRecordRequest();
        insert.setAuthenticationObject(auth("demo-api-key"));
        insert.setDataRecordObject(record);
        insert.setFlowDiagramObject(flow);

        DataRecordObject wanted = new DataRecordObject();
        wanted.setUuid(F.createDataRecordObjectUuid(uuid));
        GetRecordRequest get = new GetRecordRequest();
        get.setAuthenticationObject(auth("demo-api-key"));
        get.setDataRecordObject(wanted);

        DataRecordObject missing = new DataRecordObject();
        missing.setUuid(F.createDataRecordObjectUuid("no-such-record-" + uuid));
        GetRecordRequest getMissing = new GetRecordRequest();
        getMissing.setAuthenticationObject(auth("demo-api-key"));
        getMissing.setDataRecordObject(missing);

        DataRecordObject anonymous = new DataRecordObject();
        anonymous.setData(F.createDataRecordObjectData(data));
        InsertRecordRequest refused = new InsertRecordRequest();
        refused.setAuthenticationObject(auth("wrong-api-key"));
        refused.setDataRecordObject(anonymous);
        refused.setFlowDiagramObject(flow);

        List<String> steps = new ArrayList<>();
        steps.add(step("insert", () -> port.insertRecord(insert)));
        steps.add(step("get", () -> port.getRecord(get)));
        steps.add(step("get_unknown", () -> port.getRecord(getMissing)));
        steps.add(step("wrong_apikey", () -> port.insertRecord(refused)));
        System.out.println("{\"stack\": \"jaxws-wsimport\", \"soap_version\": " + q(version) + ", \"steps\": {"
            + String.join(", ", steps) + "}}");
    }
}
