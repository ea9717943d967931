/// A sink's `ordering:`: deliveries whose events share a key are attempted one at a time, in the
/// order the store took them in; a later one waits until the one before it succeeded or finally
/// failed. Deliveries with different keys do not wait for each other.
///
/// ```yaml
/// ordering: { key: data.customer_id }
/// ```
///
/// The key is a path into the event as received (before transform steps), in `filter.where`'s
/// syntax: `data.…`, `event_type` or `created_at`. An event where the path is missing or `null`
/// has no key: its delivery is sent in no particular order, as without `ordering`.
///
/// The order lives in the store (see ``DeliveryStore/claimDue(sinkKey:nowMs:limit:window:)``):
/// a delivery is claimed only while no earlier delivery of the same sink and key is pending,
/// retrying or in flight, on any node. It holds across retries, restarts and nodes.
public struct DeliveryOrdering: Sendable {
    /// The key's path as written.
    public let keyPath: String
    let path: WherePath

    /// Longest key stored as is; longer ones are stored as their SHA-256 digest, so index
    /// entries stay small whatever the events hold.
    static let maximumKeyBytes = 128

    /// The delivery key of `envelope`, or `nil` when the path is missing or `null` there.
    /// Strings are the key as they are; numbers, booleans, objects and arrays their compact JSON.
    public func key(for envelope: EventEnvelope) -> String? {
        guard let value = path.value(in: envelope) else { return nil }
        let text: String
        switch value {
        case .null: return nil
        case .string(let string): text = string
        default: text = value.serializedString
        }
        guard text.utf8.count > Self.maximumKeyBytes else { return text }
        return "sha256:" + Hex.encode(SHA256Digest.hash(Array(text.utf8)))
    }

    /// Compiles `keyPath`, or says why it is not a path into the envelope. It is read as the
    /// argument of `exists(…)`, so the key takes exactly the paths `filter.where` does.
    static func compile(_ keyPath: String) -> Result<DeliveryOrdering, WhereExpression.Problem> {
        let prefix = "exists("
        let notAPath = WhereExpression.Problem(
            offset: 0, message: "ordering.key must be a path into the event, e.g. data.customer_id, not an expression")
        guard !keyPath.contains(")") else { return .failure(notAPath) }
        switch WhereExpression.compile(prefix + keyPath + ")") {
        case .success(let expression):
            guard case .exists(let path) = expression.root else { return .failure(notAPath) }
            return .success(DeliveryOrdering(keyPath: keyPath, path: path))
        case .failure(let failure):
            guard let problem = failure.problems.first, problem.offset >= prefix.count, problem.offset < prefix.count + keyPath.count,
                !problem.message.hasPrefix("expected")
            else { return .failure(notAPath) }
            return .failure(WhereExpression.Problem(offset: problem.offset - prefix.count, message: problem.message))
        }
    }
}

extension ConfigReader {
    /// Reads a sink's `ordering:` mapping, reporting problems where they are written.
    func ordering(_ node: YAMLNode) -> DeliveryOrdering? {
        guard let mapping = mapping(node, allowedKeys: PipelineKeys.ordering.names, in: "ordering"),
            require(["key"], in: mapping, context: "ordering"),
            let text = literal(mapping["key"]!, what: "ordering.key")
        else { return nil }
        switch DeliveryOrdering.compile(text) {
        case .success(let ordering):
            return ordering
        case .failure(let problem):
            error("ordering.key: \(problem.message)", at: location(ofCharacter: problem.offset, in: mapping["key"]!))
            return nil
        }
    }
}
