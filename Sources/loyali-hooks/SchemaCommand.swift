import Foundation
import LoyaliHooks

/// `loyali-hooks schema [--plugins DIR | --no-plugins]`: the JSON Schema of pipeline files.
enum SchemaCommand {
    static let usage = """
        USAGE: loyali-hooks schema [--plugins DIR | --no-plugins]

        Prints the JSON Schema (2020-12) of pipeline files, generated from the definitions the
        loader checks files with: every key with its type and description, the event types of the
        catalogue, the sink and source types, the step names and the duration grammar. With a
        plugins folder (--plugins DIR, else $LOYALI_HOOKS_PLUGINS, else plugins/ when present) the
        plugin names and each plugin's config from its manifest are included. docs/pipeline.schema.json
        is this output for the shipped plugins.

        Editors that speak yaml-language-server pick it up from a first line such as:
          # yaml-language-server: $schema=../docs/pipeline.schema.json

        OPTIONS:
          --plugins DIR      describe the plugins in DIR
          --no-plugins       describe no plugin (plugin names and config are then not checked)
        EXAMPLE:
          loyali-hooks schema > docs/pipeline.schema.json
        """

    static func run(_ raw: [String]) throws(CLIError) {
        let args = try Arguments(raw, options: ["--plugins"], flags: ["--no-plugins"])
        guard args.positionals.isEmpty else { throw .usage("schema takes no arguments") }
        if args.has("--no-plugins"), args.value("--plugins") != nil { throw .usage("choose one of --plugins and --no-plugins") }
        var plugins: [PluginManifest] = []
        if !args.has("--no-plugins") {
            var environment = ProcessInfo.processInfo.environment
            if let directory = args.value("--plugins") {
                var isDirectory: ObjCBool = false
                guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
                    throw .usage("--plugins: '\(directory)' is not a folder")
                }
                environment[PluginCatalog.environmentVariable] = directory
            }
            let (manifests, problems) = PluginCatalog(environment: environment).manifests()
            Reports.diagnostics(problems, json: false)
            guard problems.filter({ $0.severity == .error }).isEmpty else { throw .config }
            plugins = manifests
        }
        Terminal.out(PipelineSchema.make(plugins: plugins).prettyPrinted())
    }
}
