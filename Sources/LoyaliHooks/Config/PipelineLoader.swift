import Foundation
import Synchronization

/// Loads pipeline files (or folders of them) into ``PipelineDefinition``s, reporting every
/// problem in every file rather than stopping at the first.
public struct PipelineLoader: Sendable {
    /// Variables visible to `${VAR}`.
    public var environment: [String: String]
    /// Stages that `type:` and step names resolve to.
    public var registry: StageRegistry
    /// What an undefined variable in a secret, token, header or sink URL does: an error (the
    /// default, for everything that runs) or, for `validate`, a warning.
    public var undefinedSensitiveVariables: ConfigReader.UndefinedVariables = .error

    public init(environment: [String: String] = ProcessInfo.processInfo.environment, registry: StageRegistry = .builtIn) {
        self.environment = environment
        self.registry = registry
    }

    /// The result of loading: what loaded, and every problem found.
    public struct Result: Sendable {
        /// Pipelines in file order; empty when any error was found.
        public var pipelines: [PipelineDefinition]
        /// Errors and warnings, in file order.
        public var diagnostics: [Diagnostic]
        /// The files read.
        public var files: [String]
        /// The files parsed by this load; with a cache, the others' pipelines are the
        /// definitions an earlier load made, unchanged.
        public var parsedFiles: Set<String> = []
        /// Whether any diagnostic is an error.
        public var hasErrors: Bool { diagnostics.contains { $0.severity == .error } }
    }

    /// The pipeline files `paths` name: each file as given, each folder searched recursively. A
    /// path that does not exist (and, when asked, a folder without pipeline files) is reported.
    static func pipelineFiles(in paths: [String], reportingEmptyFolders: Bool, into diagnostics: inout [Diagnostic]) -> [String] {
        var files: [String] = []
        for path in paths {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
                diagnostics.append(Diagnostic(.error, at: nil, "\(path): no such file or directory"))
                continue
            }
            guard isDirectory.boolValue else {
                files.append(path)
                continue
            }
            let found = pipelineFiles(in: path)
            if found.isEmpty, reportingEmptyFolders {
                diagnostics.append(Diagnostic(.error, at: nil, "\(path): no pipeline files (*.yaml, *.yml) found"))
            }
            files += found
        }
        return files
    }

    static let topLevelKeys = PipelineKeys.topLevel.names

    /// Loads every `*.yaml`/`*.yml` file in `paths` (files, or folders searched recursively).
    /// With a `cache`, files it shows unchanged since the last load through it are not parsed
    /// again: their pipelines are the very definitions loaded then (see ``Result/parsedFiles``).
    ///
    /// Files are parsed on every core (thousands of pipeline files are normal); the result is
    /// the same as one file after another: pipelines and diagnostics in file order, a plugin
    /// manifest's own problems reported once, where the first file using it is.
    public func load(paths: [String], cache: PipelineFileCache? = nil) -> Result {
        var diagnostics: [Diagnostic] = []
        let files = Self.pipelineFiles(in: paths, reportingEmptyFolders: true, into: &diagnostics)
        var pipelines: [PipelineDefinition] = []
        var parsedFiles = Set<String>()
        var firstDefinition: [String: SourceLocation] = [:]
        // One catalog for the whole load: each plugin manifest is read once.
        let plugins = PluginCatalog(environment: environment)
        cache?.keep(only: files)
        let outcomes = Self.concurrentMap(files) { file in loadFile(file, plugins: plugins, cache: cache) }
        var reportedElsewhere = Set<Diagnostic>()
        for (file, outcome) in zip(files, outcomes) {
            let loaded: PipelineFileCache.Entry
            switch outcome {
            case .unreadable(let problem):
                diagnostics.append(problem)
                continue
            case .parsed(let entry):
                parsedFiles.insert(file)
                loaded = entry
            case .unchanged(let entry):
                loaded = entry
            }
            // Problems of another file (a plugin's manifest) come with every file using it.
            diagnostics += loaded.diagnostics.filter { $0.location.map { $0.path == file } ?? true || reportedElsewhere.insert($0).inserted }
            guard let (definition, nameLocation) = loaded.pipeline else { continue }
            if let first = firstDefinition[definition.name] {
                diagnostics.append(Diagnostic(
                    .error, at: nameLocation,
                    "duplicate pipeline name '\(definition.name)'; already defined in \(first.path):\(first.line)",
                    sourceLine: SourceText(loaded.text).line(nameLocation.line)))
                continue
            }
            firstDefinition[definition.name] = nameLocation
            pipelines.append(definition)
        }
        // Across files: operational pipelines must not feed each other's failures in a circle.
        diagnostics += OperationalRouting.loops(in: pipelines)
        let hasErrors = diagnostics.contains { $0.severity == .error }
        return Result(pipelines: hasErrors ? [] : pipelines, diagnostics: diagnostics, files: files, parsedFiles: parsedFiles)
    }

    /// What loading one file gave.
    private enum FileOutcome: Sendable {
        case unreadable(Diagnostic)
        case parsed(PipelineFileCache.Entry)
        case unchanged(PipelineFileCache.Entry)
    }

    /// Reads and parses `file`, or takes it from `cache` when its stamp or contents show it
    /// unchanged (see ``PipelineFileCache``).
    private func loadFile(_ file: String, plugins: PluginCatalog, cache: PipelineFileCache?) -> FileOutcome {
        // Taken before reading, so a write racing the read is seen at the next load.
        let stamp = cache == nil ? nil : PipelineFileCache.Stamp(path: file)
        if let stamp, let entry = cache?.entry(for: file, stamp: stamp) { return .unchanged(entry) }
        guard let data = FileManager.default.contents(atPath: file) else {
            cache?.remove(file)
            return .unreadable(Diagnostic(.error, at: nil, "\(file): cannot be read"))
        }
        let bytes = Array(data)
        let digest = stamp == nil ? [] : SHA256Digest.hash(bytes)
        if let stamp, let entry = cache?.entry(for: file, digest: digest, stamp: stamp) { return .unchanged(entry) }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            cache?.remove(file)
            return .unreadable(Diagnostic(.error, at: nil, "\(file): is not valid UTF-8"))
        }
        let (pipeline, diagnostics, readsOtherFiles) = load(file: file, text: text, plugins: plugins)
        let entry = PipelineFileCache.Entry(stamp: stamp, digest: digest, text: text, pipeline: pipeline, diagnostics: diagnostics)
        if stamp != nil, !readsOtherFiles { cache?.store(entry, for: file) } else { cache?.remove(file) }
        return .parsed(entry)
    }

    /// `transform` over `items` on every active core, results in order. Few items run inline.
    static func concurrentMap<T: Sendable>(_ items: [String], _ transform: @Sendable (String) -> T) -> [T] {
        let workers = min(ProcessInfo.processInfo.activeProcessorCount, items.count / 16)
        guard workers > 1 else { return items.map(transform) }
        let next = Atomic<Int>(0)
        let results = Mutex<[T?]>(Array(repeating: nil, count: items.count))
        DispatchQueue.concurrentPerform(iterations: workers) { _ in
            while true {
                let index = next.add(1, ordering: .relaxed).oldValue
                guard index < items.count else { return }
                let result = transform(items[index])
                results.withLock { $0[index] = result }
            }
        }
        return results.withLock { $0.map { $0! } }
    }

    /// Pipeline files under `directory`, sorted so runs are reproducible. Hidden files and
    /// folders are included; symbolic links to files are listed, links to folders not followed.
    /// Files in a `tests` folder are pipeline tests (`loyali-hooks check`), not pipelines.
    static func pipelineFiles(in directory: String) -> [String] {
        var relative: [String] = []
        // readdir rather than FileManager's enumerator, which cost more than parsing with
        // thousands of files.
        func walk(_ folder: String, prefix: String) {
            guard let handle = opendir(folder) else { return }
            defer { closedir(handle) }
            while let entry = readdir(handle) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                    String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
                }
                guard name != ".", name != ".." else { continue }
                var isFolder = entry.pointee.d_type == UInt8(DT_DIR)
                if entry.pointee.d_type == UInt8(DT_UNKNOWN) {
                    var info = stat()
                    isFolder = lstat(folder + "/" + name, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
                }
                if isFolder {
                    // What PipelineTestFile.isTestFile says of every file below it.
                    if name != "tests" { walk(folder + "/" + name, prefix: prefix + name + "/") }
                } else if name.hasSuffix(".yaml") || name.hasSuffix(".yml") {
                    relative.append(prefix + name)
                }
            }
        }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else { return [] }
        walk(directory, prefix: "")
        let separator = directory.hasSuffix("/") ? "" : "/"
        return relative.map { directory + separator + $0 }.sorted()
    }

    /// `pipelines/fulfillment.yaml` is named `fulfillment`.
    static func defaultName(for file: String) -> String {
        // Without NSString, which costs more per call than the rest of a small file's load.
        let base = file.split(separator: "/", omittingEmptySubsequences: true).last.map(String.init) ?? file
        guard let dot = base.lastIndex(of: "."), dot != base.startIndex else { return base }
        return String(base[..<dot])
    }

    /// Loads one file's text. Returns the pipeline and where its name was given (for duplicate
    /// reports), plus the file's diagnostics.
    public func load(file: String, text: String) -> ((PipelineDefinition, SourceLocation)?, [Diagnostic]) {
        let (pipeline, diagnostics, _) = load(file: file, text: text, plugins: PluginCatalog(environment: environment))
        return (pipeline, diagnostics)
    }

    /// Loads one file's text, looking plugins up in `plugins`; also says whether the pipeline
    /// read other files (see ``ConfigReader/readsOtherFiles``).
    func load(file: String, text: String, plugins: PluginCatalog) -> ((PipelineDefinition, SourceLocation)?, [Diagnostic], Bool) {
        let documents: [YAMLNode]
        do {
            documents = try YAMLDocument.parse(text, path: file)
        } catch {
            return (nil, [error], false)
        }
        let reader = ConfigReader(
            path: file, text: text, interpolator: VariableInterpolator(environment: environment), registry: registry,
            plugins: plugins)
        reader.undefinedSensitiveVariables = undefinedSensitiveVariables
        guard let root = documents.first else {
            return (nil, [Diagnostic(.error, at: SourceLocation(path: file, line: 1, column: 1), "the file is empty; expected a pipeline mapping")], false)
        }
        if documents.count > 1 {
            reader.error("a pipeline file holds one pipeline; found \(documents.count) YAML documents", at: documents[1])
        }
        let definition = pipeline(root, file: file, reader: reader)
        // Checks run stage by stage; report in file order, as a compiler would.
        let ordered = reader.diagnostics.enumerated().sorted {
            ($0.element.location ?? root.location, $0.offset) < ($1.element.location ?? root.location, $1.offset)
        }.map(\.element)
        return (reader.hasErrors ? nil : definition, ordered, reader.readsOtherFiles)
    }

    private func pipeline(_ root: YAMLNode, file: String, reader: ConfigReader) -> (PipelineDefinition, SourceLocation)? {
        guard let top = reader.mapping(root, allowedKeys: Self.topLevelKeys, in: "a pipeline file") else { return nil }
        reader.require(["source", "sinks"], in: top, context: "the pipeline")

        var name = Self.defaultName(for: file)
        var nameLocation = root.location
        if let node = top["pipeline"], let text = reader.literal(node, what: "pipeline") {
            name = text
            nameLocation = node.location
            Self.checkName(text, what: "pipeline name", at: node, reader: reader)
        }
        let description = top["description"].flatMap { reader.string($0, what: "description") }
        let source = top["source"].flatMap { self.source($0, nameNode: root.key(named: "source"), reader: reader) }
        let filter = reader.eventFilter(top["filter"])
        let steps = transformSteps(top["transform"], reader: reader)
        let sinks = top["sinks"].flatMap { self.sinks($0, reader: reader) }
        let signing = top["sign"].flatMap { self.signing($0, reader: reader) }
        if signing == nil, top["sign"] == nil, let sinks, let sinksNode = top["sinks"] {
            for sink in sinks where sink.sink.requiresSignature {
                // At the sink's own name: the sinks mapping starts at its first sink, maybe another.
                reader.error(
                    "sink '\(sink.name)' sends webhooks, which must be signed; add sign: { secrets: [\"${YOUR_SECRET}\"] }",
                    at: sinksNode.key(named: sink.name) ?? sinksNode)
            }
        }
        guard let source, let filter, let steps, let sinks, !reader.hasErrors else { return nil }
        let definition = PipelineDefinition(
            name: name, description: description, file: file, source: source, filter: filter, steps: steps,
            signing: signing, sinks: sinks)
        return (definition, nameLocation)
    }

    /// What ``checkName(_:what:at:reader:)`` accepts, as a regular expression for the schema.
    public static let namePattern = "^[A-Za-z0-9._-]{1,64}$"

    /// Names show up in delivery ids, metrics labels and URLs, so they stay simple.
    static func checkName(_ name: String, what: String, at node: YAMLNode, reader: ConfigReader) {
        let allowed = name.unicodeScalars.allSatisfy {
            $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || $0 == "-" || $0 == "_" || $0 == ".")
        }
        if name.isEmpty || !allowed || name.count > 64 {
            reader.error("\(what) '\(name)' must be 1–64 characters of letters, digits, '-', '_' or '.'", at: node)
        }
    }

    private func source(_ node: YAMLNode, nameNode: YAMLNode?, reader: ConfigReader) -> (any EventSource)? {
        guard let mapping = reader.mapping(node, allowedKeys: nil, in: "source", nameNode: nameNode) else { return nil }
        let kind = reader.require(["type"], in: mapping, context: "source") ? reader.literal(mapping["type"]!, what: "source.type") : nil
        guard let kind, let factory = registry.sources[kind] else {
            if let kind {
                reader.error("unknown source type '\(kind)'\(Suggestion.didYouMean(kind, in: registry.sources.keys.sorted()))", at: mapping["type"]!)
            }
            // Whatever type was meant, a key that no source type accepts is a mistake too.
            let known = ["type"] + Set(registry.sources.values.flatMap(\.keys)).sorted()
            reader.checkKeys(of: mapping, allowedKeys: known, in: "source")
            return nil
        }
        guard let checked = reader.mapping(node, allowedKeys: ["type"] + factory.keys, in: "a \(kind) source", nameNode: nameNode) else { return nil }
        return factory.make(checked, reader)
    }

    private func transformSteps(_ node: YAMLNode?, reader: ConfigReader) -> [any TransformStep]? {
        guard let node else { return [] }
        guard case .sequence(let items) = node.content else {
            reader.error("transform must be a list of steps, e.g. '- redact: [data.customer_email]'", at: node)
            return nil
        }
        var steps: [any TransformStep] = []
        for item in items {
            if let (factory, make) = optionStep(item) {
                guard let options = reader.mapping(item, allowedKeys: [factory.name] + factory.optionKeys, in: "a \(factory.name) step"),
                    let value = options[factory.name]
                else { continue }
                if let step = make(value, options, reader) { steps.append(step) }
                continue
            }
            guard let (name, keyNode, value) = reader.singleKey(item, what: "a transform step") else { continue }
            guard let factory = registry.transforms[name] else {
                reader.error("unknown transform step '\(name)'\(Suggestion.didYouMean(name, in: registry.transforms.keys.sorted()))", at: keyNode)
                continue
            }
            if let step = factory.make(value, reader) { steps.append(step) }
        }
        return steps.count == items.count ? steps : nil
    }

    /// The factory of a step that takes options beside its own key (`- plugin: x` plus
    /// `config:`), when `item` names one.
    private func optionStep(_ item: YAMLNode) -> (TransformStepFactory, @Sendable (YAMLNode, ConfigMapping, ConfigReader) -> (any TransformStep)?)? {
        guard case .mapping(let pairs) = item.content else { return nil }
        for pair in pairs {
            if let key = pair.key.scalar, let factory = registry.transforms[key], let make = factory.makeWithOptions {
                return (factory, make)
            }
        }
        return nil
    }

    private func sinks(_ node: YAMLNode, reader: ConfigReader) -> [SinkDefinition]? {
        guard let mapping = reader.mapping(node, allowedKeys: nil, in: "sinks") else { return nil }
        if mapping.entries.isEmpty { reader.error("sinks is empty; a pipeline needs at least one sink", at: node) }
        var sinks: [SinkDefinition] = []
        for entry in mapping.entries {
            Self.checkName(entry.key, what: "sink name", at: entry.keyNode, reader: reader)
            guard let options = reader.mapping(entry.value, allowedKeys: nil, in: "sink '\(entry.key)'", nameNode: entry.keyNode)
            else { continue }
            let kind = reader.require(["type"], in: options, context: "sink '\(entry.key)'") ? reader.literal(options["type"]!, what: "sink type") : nil
            guard let kind, let factory = registry.sinks[kind] else {
                if let kind {
                    reader.error("unknown sink type '\(kind)'\(Suggestion.didYouMean(kind, in: registry.sinks.keys.sorted()))", at: options["type"]!)
                }
                // Whatever type was meant (`htp`), a key that no sink type accepts (`retyr`) is a
                // mistake too, and `retry` reads the same for every type.
                let known = PipelineKeys.sinkCommon.names + Set(registry.sinks.values.flatMap(\.keys)).sorted()
                reader.checkKeys(of: options, allowedKeys: known, in: "sink '\(entry.key)'")
                _ = reader.retryPolicy(options["retry"])
                _ = reader.pausePolicy(options["pause"])
                continue
            }
            guard let checked = reader.mapping(entry.value, allowedKeys: PipelineKeys.sinkCommon.names + factory.keys, in: "\(kind) sink '\(entry.key)'", nameNode: entry.keyNode)
            else { continue }
            // All are read even when one fails, so every mistake in the sink is reported.
            let retry = reader.retryPolicy(checked["retry"])
            let pause = reader.pausePolicy(checked["pause"])
            let rateLimit = checked["rate_limit"].map { reader.rateLimit($0) }
            let ordering = checked["ordering"].map { reader.ordering($0) }
            let sink = factory.make(entry.key, checked, reader)
            guard let retry, let pause, let sink, rateLimit != .some(nil), ordering.map({ $0 != nil }) ?? true else { continue }
            sinks.append(SinkDefinition(
                name: entry.key, sink: sink, retry: retry, pause: pause, rateLimit: rateLimit ?? nil, ordering: ordering ?? nil))
        }
        return sinks.count == mapping.entries.count ? sinks : nil
    }

    private func signing(_ node: YAMLNode, reader: ConfigReader) -> PipelineSigning? {
        guard let mapping = reader.mapping(node, allowedKeys: PipelineKeys.sign.names, in: "sign") else { return nil }
        let schemeName = mapping["scheme"].flatMap { reader.literal($0, what: "sign.scheme") } ?? "loyali"
        if let schemeNode = mapping["scheme"], !SignatureSchemes.names.contains(schemeName) {
            reader.error("unknown signature scheme '\(schemeName)'\(Suggestion.didYouMean(schemeName, in: SignatureSchemes.names)); expected one of: \(SignatureSchemes.names.joined(separator: ", "))", at: schemeNode)
            return nil
        }
        let problemsBefore = reader.problemCount
        // Each secret keeps the node it came from, so a bad one is reported where it is written,
        // and whether it is there: a stand-in for an undefined variable (validate) is not checked.
        var secrets: [(secret: WebhookSecret, node: YAMLNode, present: Bool)] = []
        if let secretsNode = mapping["secrets"] {
            let items: [YAMLNode]
            if case .sequence(let nodes) = secretsNode.content { items = nodes } else { items = [secretsNode] }
            for item in items {
                guard let expansion = reader.sensitiveExpansion(item, what: "sign.secrets", kind: .signingSecret) else { continue }
                reader.hideValues(of: expansion)
                if expansion.hasLiteralText {
                    reader.secretError(
                        "literal secret in a pipeline file; version-controlled config must not hold secrets: reference it as \"${VAR}\" or use sign.secret_file",
                        at: item, secret: item.scalar ?? "")
                    continue
                }
                if !expansion.value.isEmpty { secrets.append((WebhookSecret(expansion.value), item, expansion.missing.isEmpty)) }
            }
        }
        if let fileNode = mapping["secret_file"], let path = reader.string(fileNode, what: "sign.secret_file") {
            reader.noteReadsOtherFiles()
            if let contents = FileManager.default.contents(atPath: path) {
                let lines = String(decoding: contents, as: UTF8.self).split(whereSeparator: \.isNewline)
                let fileSecrets = lines.map { $0.trimmingSpaces() }.filter { !$0.isEmpty && !$0.hasPrefix("#") }
                if fileSecrets.isEmpty { reader.error("sign.secret_file \(reader.quoted(fileNode, path)) holds no secret", at: fileNode) }
                secrets += fileSecrets.map { (WebhookSecret($0), fileNode, true) }
            } else {
                reader.error("sign.secret_file \(reader.quoted(fileNode, path)) cannot be read", at: fileNode)
            }
        }
        guard reader.problemCount == problemsBefore else { return nil }
        if secrets.isEmpty {
            reader.error("sign has no active secret: every referenced variable is empty or unset", at: mapping["secrets"] ?? mapping["secret_file"] ?? node)
            return nil
        }
        if schemeName == StandardWebhooksScheme.name {
            for (index, entry) in secrets.enumerated() where entry.present {
                do throws(SigningError) {
                    _ = try entry.secret.standardWebhooksKey()
                } catch {
                    reader.error("sign: \(schemeName) secret #\(index + 1): \(error.message)", at: entry.node)
                }
            }
            guard reader.problemCount == problemsBefore else { return nil }
        }
        do {
            let scheme = try SignatureSchemes.make(name: schemeName, secrets: secrets.map(\.secret))
            return PipelineSigning(schemeName: schemeName, scheme: scheme, secretCount: secrets.count)
        } catch {
            reader.error("sign: \(error)", at: node)
            return nil
        }
    }
}
