import Synchronization

/// The dashboard's login sessions: what a browser gets for the admin token.
///
/// Kept in memory only, so a restart logs everyone out. A session is a random 256-bit id (the
/// cookie) with its own CSRF token and an expiry; the map is keyed by the id's SHA-256, so a
/// lookup's timing says nothing about a stored id, and the CSRF token is compared in constant time.
public final class AdminSessions: Sendable {
    /// One logged-in browser.
    public struct Session: Sendable, Equatable {
        /// The token every state-changing request of this session must carry
        /// (`X-CSRF-Token`, or a `csrf` form field).
        public var csrf: String
        /// When it ends, ms since the Unix epoch.
        public var expiresAtMs: Int64
    }

    /// How long a session lasts after logging in.
    public let lifetimeMs: Int64
    /// The most sessions kept; logging in beyond it ends the one closest to expiry.
    public let capacity: Int
    private let sessions = Mutex<[String: Session]>([:])

    /// Sessions lasting `lifetimeMs` (default 12 hours), at most `capacity` at once.
    public init(lifetimeMs: Int64 = 12 * 3_600_000, capacity: Int = 1_000) {
        self.lifetimeMs = lifetimeMs
        self.capacity = max(1, capacity)
    }

    /// Starts a session at `nowMs`; returns its cookie value and the session.
    public func create(nowMs: Int64) -> (id: String, session: Session) {
        let id = Self.randomToken()
        let session = Session(csrf: Self.randomToken(), expiresAtMs: nowMs + lifetimeMs)
        let key = Self.key(id)
        sessions.withLock { map in
            map = map.filter { $0.value.expiresAtMs > nowMs }
            if map.count >= capacity, let oldest = map.min(by: { $0.value.expiresAtMs < $1.value.expiresAtMs })?.key {
                map[oldest] = nil
            }
            map[key] = session
        }
        return (id, session)
    }

    /// The live session whose cookie value is `id`, if any.
    public func session(_ id: String?, nowMs: Int64) -> Session? {
        guard let id, !id.isEmpty, id.utf8.count <= 128 else { return nil }
        let key = Self.key(id)
        return sessions.withLock { map in
            guard let found = map[key] else { return nil }
            guard found.expiresAtMs > nowMs else {
                map[key] = nil
                return nil
            }
            return found
        }
    }

    /// Ends the session whose cookie value is `id` (logging out).
    public func end(_ id: String?) {
        guard let id else { return }
        let key = Self.key(id)
        _ = sessions.withLock { $0.removeValue(forKey: key) }
    }

    /// Whether `presented` is `session`'s CSRF token, in constant time.
    public static func csrfMatches(_ presented: String?, _ session: Session) -> Bool {
        guard let presented else { return false }
        return ConstantTime.equals(Array(presented.utf8), Array(session.csrf.utf8))
    }

    /// 32 random bytes in lowercase hex: safe in a cookie, a header and an HTML attribute.
    static func randomToken() -> String {
        Hex.encode(SecureRandom.bytes(32))
    }

    private static func key(_ id: String) -> String {
        Hex.encode(SHA256Digest.hash(Array(id.utf8)))
    }
}
