# Extra typemap for wsdl2perl (-mi): how SOAP::WSDL's deserializer treats the fault detail.
# The WSDL declares no fault element (docs/soap-decisions.md, F4), and SOAP::WSDL's generated typemaps
# know Fault/detail only as a string: with strict parsing, the first <item> inside <detail> would
# make the whole answer "Error deserializing message". Skipping the items keeps strict parsing for
# everything else; faultcode (the vendor's code) and faultstring (its message) are read as usual.
(
    'Fault/detail/item' => '__SKIP__',
);
