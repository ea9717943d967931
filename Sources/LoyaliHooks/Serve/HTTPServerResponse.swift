/// What a handler answers: status, headers and body. `Content-Length` is added by the server.
public struct HTTPServerResponse: Sendable, Equatable {
    /// The status code.
    public var status: Int
    /// Header fields, in order.
    public var headers: [HTTPHeader]
    /// The body bytes.
    public var body: [UInt8]
    /// Close the connection after this response instead of keeping it alive.
    public var closesConnection: Bool

    /// Makes a response from its parts.
    public init(status: Int, headers: [HTTPHeader] = [], body: [UInt8] = [], closesConnection: Bool = false) {
        self.status = status
        self.headers = headers
        self.body = body
        self.closesConnection = closesConnection
    }

    /// A JSON body, serialized compactly with a trailing newline.
    public static func json(_ status: Int, _ value: JSONValue, headers: [HTTPHeader] = []) -> HTTPServerResponse {
        var body = value.serializedBytes
        body.append(0x0A)
        return HTTPServerResponse(
            status: status, headers: [HTTPHeader(name: "Content-Type", value: "application/json")] + headers, body: body)
    }

    /// A JSON object body.
    public static func json(_ status: Int, _ object: JSONObject, headers: [HTTPHeader] = []) -> HTTPServerResponse {
        json(status, .object(object), headers: headers)
    }

    /// A plain-text body with `contentType`.
    public static func text(_ status: Int, _ text: String, contentType: String = "text/plain; charset=utf-8") -> HTTPServerResponse {
        HTTPServerResponse(status: status, headers: [HTTPHeader(name: "Content-Type", value: contentType)], body: Array(text.utf8))
    }

    /// The JSON error body every listener uses: `{"error":"<code>","message":"<sentence>"}` plus
    /// `extra` members.
    public static func error(
        _ status: Int, _ code: String, _ message: String, extra: [JSONObject.Member] = [], headers: [HTTPHeader] = []
    ) -> HTTPServerResponse {
        var object = JSONObject()
        object["error"] = .string(code)
        object["message"] = .string(message)
        object.members += extra
        return json(status, object, headers: headers)
    }
}
