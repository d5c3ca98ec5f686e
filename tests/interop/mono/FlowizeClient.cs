// Flowize SOAP round trip with the proxy class Mono's `wsdl` generates (System.Web.Services), driven by
// tests/interop/test_interop_codegen.py. Compiled once per SOAP version against the proxy generated for it:
//
//   mcs -define:SOAP12 ... ; mono FlowizeClient.exe ENDPOINT BASE64_DATA UUID
//
// insertRecord -> getRecord -> getRecord of an unknown Uuid (fault) -> insertRecord with a wrong Apikey
// (fault). Prints one JSON object with the values as the proxy read them; faults are SoapException
// (Code, Message, Actor/Role, Detail).
using System;
using System.Collections.Generic;
using System.Text;
using System.Web.Services.Protocols;
using System.Xml;
#if SOAP12
using Flowize12;
#else
using Flowize11;
#endif

public static class FlowizeClient
{
    static string Q(string s)
    {
        if (s == null) return "null";
        var b = new StringBuilder("\"");
        foreach (char c in s)
        {
            if (c == '"' || c == '\\') b.Append('\\').Append(c);
            else if (c < ' ') b.AppendFormat("\\u{0:x4}", (int)c);
            else b.Append(c);
        }
        return b.Append('"').ToString();
    }

    static string ResultJson(Response r)
    {
        if (r == null) return "null";
        return "{\"Id\": " + Q(r.Id) + ", \"Code\": " + Q(r.Code) + ", \"RequestIP\": " + Q(r.RequestIP) +
               ", \"Resource\": " + Q(r.Resource) + ", \"Message\": " + Q(r.Message) + ", \"Error\": " + Q(r.Error) + "}";
    }

    static string FaultJson(SoapException e)
    {
        var items = new List<string>();
        if (e.Detail != null)
            foreach (XmlNode item in e.Detail.SelectNodes("item"))
                items.Add(Q(item.SelectSingleNode("key")?.InnerText) + ": " + Q(item.SelectSingleNode("value")?.InnerText));
        return "{\"faultcode\": " + Q(e.Code == null ? null : e.Code.Name) + ", \"faultcode_ns\": " + Q(e.Code?.Namespace) +
               ", \"faultstring\": " + Q(e.Message) + ", \"faultactor\": " + Q(string.IsNullOrEmpty(e.Actor) ? e.Role : e.Actor) +
               ", \"detail\": {" + string.Join(", ", items) + "}}";
    }

    delegate Response Call();

    static string Step(string name, Call call)
    {
        try { return Q(name) + ": {\"result\": " + ResultJson(call()) + "}"; }
        catch (SoapException e) { return Q(name) + ": {\"fault\": " + FaultJson(e) + "}"; }
    }

    public static int Main(string[] args)
    {
        var service = new FlowizeService { Url = args[0], Timeout = 15000 };
        string data = args[1], uuid = args[2];
        Func<string, AuthenticationObject> auth = key => new AuthenticationObject { Apikey = key, Appkey = "demo-app", Version = "1" };
        var steps = new List<string>();
        steps.Add(Step("insert", () => service.insertRecord(new InsertRecordRequest {
            AuthenticationObject = auth("demo-api-key"),
            DataRecordObject = new DataRecordObject { Uuid = uuid, Data = data },
            FlowDiagramObject = new FlowDiagramObject { Flow = "demo-flow" } })));
        steps.Add(Step("get", () => service.getRecord(new GetRecordRequest {
            AuthenticationObject = auth("demo-api-key"), DataRecordObject = new DataRecordObject { Uuid = uuid } })));
        steps.Add(Step("get_unknown", () => service.getRecord(new GetRecordRequest {
            AuthenticationObject = auth("demo-api-key"), DataRecordObject = new DataRecordObject { Uuid = "no-such-record-" + uuid } })));
        steps.Add(Step("wrong_apikey", () => service.insertRecord(new InsertRecordRequest {
            AuthenticationObject = auth("wrong-api-key"),
            DataRecordObject = new DataRecordObject { Data = data },
            FlowDiagramObject = new FlowDiagramObject { Flow = "demo-flow" } })));
        Console.WriteLine("{\"stack\": \"mono-wsdl\", \"soap_version\": " + Q(service.SoapVersion == SoapProtocolVersion.Soap12 ? "1.2" : "1.1") +
                          ", \"steps\": {" + string.Join(", ", steps) + "}}");
        return 0;
    }
}
