import Foundation
import Synchronization

/// The plugins a pipeline can use: one folder per plugin, each with a `plugin.yaml`, under
/// `plugins/` in the working directory, or under `$LOYALI_HOOKS_PLUGINS`.
///
/// One catalog serves one load of pipeline files: each manifest is read once, and the loader
/// reports its problems once however many pipelines use it.
public final class PluginCatalog: Sendable {
    /// The variable that moves the plugins folder.
    public static let environmentVariable = "LOYALI_HOOKS_PLUGINS"
    /// The plugins folder when the variable is unset.
    public static let defaultDirectory = "plugins"

    /// The plugins folder as the user gave it, for messages.
    public let directory: String
    /// The same folder, absolute.
    public let absoluteDirectory: String
    /// Variables visible to `${VAR}` in manifests, and handed to plugin processes.
    public let environment: [String: String]

    private enum Entry: Sendable {
        case loaded(PluginManifest)
        case broken
        case missing
    }
    /// Each manifest read, with its own problems.
    private let entries = Mutex<[String: (entry: Entry, diagnostics: [Diagnostic])]>([:])

    /// A catalog of `environment[LOYALI_HOOKS_PLUGINS]`, else `plugins/`.
    public init(environment: [String: String]) {
        let given = environment[Self.environmentVariable].flatMap { $0.isEmpty ? nil : $0 } ?? Self.defaultDirectory
        self.directory = given
        self.absoluteDirectory = given.hasPrefix("/")
            ? given
            : (FileManager.default.currentDirectoryPath as NSString).appendingPathComponent(given)
        self.environment = environment
    }

    /// The names of the plugins present (folders holding a manifest), sorted.
    public func names() -> [String] {
        let folders = (try? FileManager.default.contentsOfDirectory(atPath: absoluteDirectory)) ?? []
        return folders.filter {
            FileManager.default.fileExists(atPath: "\(absoluteDirectory)/\($0)/\(PluginManifest.fileName)")
        }.sorted()
    }

    /// The manifests of every plugin present that loads without errors, by name, and the
    /// problems of those that do not: what `loyali-hooks schema` describes.
    public func manifests() -> ([PluginManifest], [Diagnostic]) {
        var manifests: [PluginManifest] = []
        var problems: [Diagnostic] = []
        for name in names() {
            let (entry, diagnostics) = load(name)
            problems += diagnostics
            if case .loaded(let manifest) = entry { manifests.append(manifest) }
        }
        return (manifests, problems)
    }

    /// The manifest of plugin `name`, which a pipeline refers to at `node`. Problems go to
    /// `reader`: an unknown plugin (with a "did you mean"), a plugin of the wrong kind, and the
    /// manifest's own errors (once per catalog, at their place in the manifest).
    public func manifest(named name: String, kind: PluginManifest.Kind, at node: YAMLNode, reader: ConfigReader) -> PluginManifest? {
        reader.noteReadsOtherFiles()
        let (entry, diagnostics) = load(name)
        for diagnostic in diagnostics { reader.report(diagnostic) }
        switch entry {
        case .missing:
            let hint = Suggestion.didYouMean(name, in: names())
            let place = "\(directory)/\(name)/\(PluginManifest.fileName)"
            let moved = environment[Self.environmentVariable] == nil ? "; set \(Self.environmentVariable) to use another plugins folder" : ""
            reader.error("unknown plugin '\(name)'\(hint) (no \(place)\(moved))", at: node)
            return nil
        case .broken:
            reader.error("plugin '\(name)' cannot be used: its manifest \(directory)/\(name)/\(PluginManifest.fileName) has errors", at: node)
            return nil
        case .loaded(let manifest):
            guard manifest.kind == kind else {
                let usage = manifest.kind == .sink
                    ? "use it under sinks: with 'type: plugin, plugin: \(name)'"
                    : "use it as a transform step: '- plugin: \(name)'"
                reader.error("plugin '\(name)' is a \(manifest.kind.rawValue) plugin; \(usage)", at: node)
                return nil
            }
            return manifest
        }
    }

    /// A supervisor for plugin `name`, referenced at `node` with its `config` node, or `nil` when
    /// ``manifest(named:kind:at:reader:)`` or the config check reported a problem to `reader`.
    /// The plugin's processes see this process's environment with the pipeline's on top.
    func supervisor(
        named name: String, kind: PluginManifest.Kind, at node: YAMLNode, config: YAMLNode?, reader: ConfigReader
    ) -> PluginSupervisor? {
        guard let manifest = manifest(named: name, kind: kind, at: node, reader: reader),
            let checked = manifest.checkConfig(config, reference: node, reader: reader)
        else { return nil }
        let environment = ProcessInfo.processInfo.environment.merging(self.environment) { $1 }
        return PluginSupervisor(manifest: manifest, config: checked, environment: environment)
    }

    /// Reads plugin `name`'s manifest the first time it is asked for. Its problems come with
    /// every answer: files may be loaded in any order, and the loader keeps the first file's copy.
    private func load(_ name: String) -> (Entry, [Diagnostic]) {
        if let known = entries.withLock({ $0[name] }) { return known }
        // A name with a slash would reach outside the plugins folder.
        guard !name.isEmpty, !name.contains("/"), name != ".", name != ".." else { return (.missing, []) }
        let folder = (absoluteDirectory as NSString).appendingPathComponent(name)
        let shown = "\(directory)/\(name)/\(PluginManifest.fileName)"
        let entry: Entry
        var diagnostics: [Diagnostic] = []
        if FileManager.default.fileExists(atPath: "\(folder)/\(PluginManifest.fileName)") {
            let (manifest, problems) = PluginManifest.load(file: shown, directory: folder, environment: environment)
            diagnostics = problems
            entry = manifest.map(Entry.loaded) ?? .broken
        } else {
            entry = .missing
        }
        return entries.withLock { entries in
            if let known = entries[name] { return known }
            entries[name] = (entry, diagnostics)
            return (entry, diagnostics)
        }
    }

}
