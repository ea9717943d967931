import Foundation

/// How a process takes part in a store: the node id its leases and attempts carry, and how long
/// its leases run.
public struct StoreOptions: Sendable, Hashable {
    /// The lease length when none is configured: long enough that a busy node renews in time,
    /// short enough that a dead node's deliveries move on within a minute.
    public static let defaultLeaseMs: Int64 = 60_000

    /// The node's id, recorded with each claim and attempt (`--node-id`, `LOYALI_HOOKS_NODE_ID`,
    /// else ``defaultNodeID()``).
    public var nodeID: String
    /// How long a claim's lease runs before other nodes may take the delivery, in ms.
    public var leaseMs: Int64

    /// Options for `nodeID` (``defaultNodeID()`` when `nil`) with leases of `leaseMs`.
    public init(nodeID: String? = nil, leaseMs: Int64 = StoreOptions.defaultLeaseMs) {
        self.nodeID = nodeID ?? Self.defaultNodeID()
        self.leaseMs = leaseMs
    }

    /// `HOSTNAME:PID`: unique among live processes, and a restarted process is a new node (its
    /// predecessor's leases expire and are reclaimed).
    public static func defaultNodeID() -> String {
        // gethostname, not ProcessInfo.hostName, which may ask DNS for a canonical name.
        var buffer = [CChar](repeating: 0, count: 256)
        let named = gethostname(&buffer, buffer.count - 1) == 0
        let host = named ? String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) : ""
        return "\(host.isEmpty ? "localhost" : host):\(getpid())"
    }

    /// Checks a node id given by the user: 1 to 128 printable ASCII characters without spaces,
    /// so it reads back unchanged in logs, `deliveries show` and the attempt log. Returns why not.
    public static func problem(withNodeID id: String) -> String? {
        guard !id.isEmpty, id.utf8.count <= 128 else { return "a node id has 1 to 128 characters" }
        guard id.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
            return "a node id is printable ASCII without spaces"
        }
        return nil
    }
}
