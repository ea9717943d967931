/// `rename`: moves a field to a new path; a missing source field is left alone.
///
/// ```yaml
/// - rename: { data.customer_id: data.user_id }
/// ```
public struct RenameStep: TransformStep {
    public let name = "rename"
    /// Moves, in file order.
    public let moves: [(from: FieldPath, to: FieldPath)]

    public func apply(to envelope: inout EventEnvelope) throws(TransformFailure) -> TransformOutcome {
        for (from, to) in moves {
            if from.segments.dropLast() == to.segments.dropLast() {
                // A sibling rename keeps the field where it was, as receivers reading the JSON expect.
                envelope.data.updateValue(at: from.segments.dropLast()) { parent in
                    guard case .object(let object) = parent, let i = object.index(of: from.segments.last!) else { return parent }
                    let newKey = to.segments.last!
                    var members: [JSONObject.Member] = []
                    members.reserveCapacity(object.count)
                    for (j, member) in object.members.enumerated() {
                        if j == i {
                            members.append(JSONObject.Member(key: newKey, value: member.value))
                        } else if member.key != newKey {
                            members.append(member)
                        }
                    }
                    return .object(JSONObject(members))
                }
                continue
            }
            guard let value = envelope.data.removeValue(at: from.segments[...]) else { continue }
            guard envelope.data.setValue(value, at: to.segments[...]) else {
                throw TransformFailure(step: name, reason: "cannot move \(from) to \(to): a non-object value is in the way")
            }
        }
        return .keep
    }

    /// Registry entry.
    public static let factory = TransformStepFactory(
        name: "rename", summary: "move fields: { data.customer_id: data.user_id }", value: .pathMap
    ) { value, reader in
        guard let mapping = reader.mapping(value, allowedKeys: nil, in: "rename") else { return nil }
        var moves: [(FieldPath, FieldPath)] = []
        for entry in mapping.entries {
            guard let from = reader.fieldPath(entry.keyNode, what: "rename"),
                let to = reader.fieldPath(entry.value, what: "rename target")
            else { continue }
            moves.append((from, to))
        }
        return moves.count == mapping.entries.count ? RenameStep(moves: moves) : nil
    }
}
