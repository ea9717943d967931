/// The dashboard's files, compiled into the binary: no build step, nothing fetched at run time
/// (no CDN, no web fonts). Plain HTML, CSS and JavaScript; every script is a file of its own, so
/// the Content-Security-Policy can forbid inline script, and scripts build the page with
/// `textContent` and `createElement` only, so event data is always shown as text.
enum DashboardAssets {
    /// A file: its media type and text.
    struct File: Sendable {
        var type: String
        var text: String
    }

    /// `/assets/<name>`.
    static let files: [String: File] = [
        "app.css": File(type: "text/css; charset=utf-8", text: style),
        "core.js": File(type: "text/javascript; charset=utf-8", text: coreScript),
        "overview.js": File(type: "text/javascript; charset=utf-8", text: overviewScript),
        "log.js": File(type: "text/javascript; charset=utf-8", text: logScript),
        "detail.js": File(type: "text/javascript; charset=utf-8", text: detailScript),
        "routes.js": File(type: "text/javascript; charset=utf-8", text: routesScript),
        "subscribe.js": File(type: "text/javascript; charset=utf-8", text: subscribeScript),
        "login.js": File(type: "text/javascript; charset=utf-8", text: loginScript),
    ]

    /// Scripts in load order; `core.js` starts the router once the others have registered.
    static let scripts = ["overview.js", "log.js", "detail.js", "routes.js", "subscribe.js", "core.js"]

    /// Escapes text for an HTML text node or a quoted attribute.
    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for character in text {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(character)
            }
        }
        return out
    }

    /// The page every view renders into, carrying the session's CSRF token for the scripts.
    static func shell(csrf: String) -> String {
        let tags = scripts.map { "<script src=\"/assets/\($0)\" defer></script>" }.joined(separator: "\n")
        return """
            <!doctype html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <meta name="csrf-token" content="\(escape(csrf))">
            <title>loyali-hooks dashboard</title>
            <link rel="stylesheet" href="/assets/app.css">
            \(tags)
            </head>
            <body>
            <a class="skip" href="#main">Skip to content</a>
            <header class="top">
            <span class="brand" aria-hidden="true">⚡</span><span class="brand-name">loyali-hooks</span>
            <nav aria-label="Main">
            <ul>
            <li><a href="#/overview" data-nav="overview">Overview</a></li>
            <li><a href="#/log" data-nav="log">Delivery log</a></li>
            <li><a href="#/failed" data-nav="failed">Failed</a></li>
            <li><a href="#/routes" data-nav="routes">Routes</a></li>
            <li><a href="#/new" data-nav="new">New subscription</a></li>
            </ul>
            </nav>
            <button type="button" id="logout" class="quiet">Log out</button>
            </header>
            <main id="main" tabindex="-1"><p class="muted">Loading…</p></main>
            <div id="toast" role="status" aria-live="polite"></div>
            </body>
            </html>

            """
    }

    /// The login form: a plain form POST (no script needed), with the double-submit CSRF token.
    static func login(csrf: String, message: String?) -> String {
        let error = message.map { "<p class=\"error\" role=\"alert\">\(escape($0))</p>" } ?? ""
        return """
            <!doctype html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>Log in · loyali-hooks</title>
            <link rel="stylesheet" href="/assets/app.css">
            <script src="/assets/login.js" defer></script>
            </head>
            <body class="login">
            <main id="main">
            <form method="post" action="/login" class="card login-card">
            <h1><span aria-hidden="true">⚡</span> loyali-hooks</h1>
            <p class="muted">Paste the admin token: the contents of <code>--admin-token-file</code> or
            <code>$LOYALI_HOOKS_ADMIN_TOKEN</code>, or, when neither is set, of the
            <code>admin-token</code> file <code>serve</code> wrote in its state directory.</p>
            \(error)
            <label for="token">Admin token</label>
            <input id="token" name="token" type="password" autocomplete="current-password" required autofocus>
            <input type="hidden" name="csrf" value="\(escape(csrf))">
            <button type="submit">Log in</button>
            </form>
            </main>
            </body>
            </html>

            """
    }
}
