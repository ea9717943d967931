import Foundation
import CLibPQ

/// Where a PostgreSQL store lives: a `postgres://` (or `postgresql://`) URL, checked by libpq's
/// own parser, and the form of it that may be shown.
///
/// The password should come from the environment (`PGPASSWORD`) or a `.pgpass`-style file
/// (`PGPASSFILE`, `~/.pgpass`, or `passfile=` in the URL), which libpq reads itself. A password
/// written into the URL still works, but is never shown: ``description`` and every
/// ``PostgresError`` a connection raises replace it (and `PGPASSWORD`'s value) with `********`.
public struct PostgresTarget: Sendable, Equatable, CustomStringConvertible {
    /// The URL as given. May hold a password: never print it; print ``redacted``.
    let url: String
    /// The URL with any password replaced by `********`.
    public let redacted: String
    /// Hides the password of the URL and of `PGPASSWORD` in any text.
    let redaction: TextRedaction

    /// Whether `text` names a PostgreSQL store rather than a directory.
    public static func isPostgresURL(_ text: String) -> Bool {
        let lowered = text.lowercased()
        return lowered.hasPrefix("postgres://") || lowered.hasPrefix("postgresql://")
    }

    /// Checks `url` with libpq's parser. `environment` is searched for `PGPASSWORD`, only so its
    /// value is redacted too. Throws a ``PostgresError`` naming what is wrong, without the URL's
    /// password.
    public init(url: String, environment: [String: String] = [:]) throws(PostgresError) {
        var redaction = TextRedaction()
        let shown = Self.redact(url)
        guard Self.isPostgresURL(url) else {
            throw PostgresError(sqlState: nil, message: "not a PostgreSQL URL (postgres://…): \(shown.text)")
        }
        var failure: UnsafeMutablePointer<CChar>?
        guard let options = PQconninfoParse(url, &failure) else {
            let reason = failure.map { String(cString: $0) } ?? "out of memory"
            PQfreemem(failure)
            for secret in shown.secrets { redaction.add(.init(hidden: secret, shownAs: "********")) }
            throw PostgresError(
                sqlState: nil,
                message: redaction.apply("invalid PostgreSQL URL \(shown.text): \(PostgresError.oneLine(reason))"))
        }
        defer { PQconninfoFree(options) }
        var option = options
        var secrets = shown.secrets
        while let keyword = option.pointee.keyword {
            if String(cString: keyword) == "password", let value = option.pointee.val {
                secrets.append(String(cString: value))
            }
            option += 1
        }
        if let fromEnvironment = environment["PGPASSWORD"], !fromEnvironment.isEmpty { secrets.append(fromEnvironment) }
        for secret in secrets { redaction.add(.init(hidden: secret, shownAs: "********")) }
        self.url = url
        self.redacted = redaction.apply(shown.text)
        self.redaction = redaction
    }

    /// The redacted URL.
    public var description: String { redacted }

    /// `url` with the password of its user-info (`user:secret@`) and any `password=` query
    /// parameter replaced by `********`, and the raw texts replaced. Works on text libpq would
    /// reject, so even an error about a malformed URL shows no password.
    static func redact(_ url: String) -> (text: String, secrets: [String]) {
        var text = url
        var secrets: [String] = []
        if let schemeEnd = text.range(of: "://") {
            let rest = text[schemeEnd.upperBound...]
            let authorityEnd = rest.firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" }) ?? rest.endIndex
            let authority = rest[..<authorityEnd]
            if let at = authority.lastIndex(of: "@"), let colon = authority[..<at].firstIndex(of: ":") {
                let secret = String(text[text.index(after: colon)..<at])
                if !secret.isEmpty {
                    secrets.append(secret)
                    if let decoded = secret.removingPercentEncoding, decoded != secret { secrets.append(decoded) }
                    text.replaceSubrange(text.index(after: colon)..<at, with: "********")
                }
            }
        }
        // `password=` in the query string (or a key=value connection string).
        var searchFrom = text.startIndex
        while let found = text.range(of: "password=", options: [.caseInsensitive], range: searchFrom..<text.endIndex) {
            let valueEnd = text[found.upperBound...].firstIndex(where: { $0 == "&" || $0 == " " || $0 == "#" }) ?? text.endIndex
            let secret = String(text[found.upperBound..<valueEnd])
            if !secret.isEmpty {
                secrets.append(secret)
                if let decoded = secret.removingPercentEncoding, decoded != secret { secrets.append(decoded) }
            }
            text.replaceSubrange(found.upperBound..<valueEnd, with: "********")
            searchFrom = text.index(found.upperBound, offsetBy: 8)
        }
        return (text, secrets)
    }
}
